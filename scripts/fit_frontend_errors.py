"""Compare real front-end silhouettes with synthetic ones, and fit the front-end error model.

    python scripts/fit_frontend_errors.py --real /tmp/look/fw_out /tmp/sc_out \
        --casia ../shared/data/real_silhouettes --figure docs/figures/synth_frontend_errors.png \
        --json frontend_errors_fit.json [--fit]

``--real`` folders are outputs of ``gait-tf silhouettes VIDEO -o DIR --all-tracks``
(``DIR/tracks.json`` and ``DIR/tracks/<id>/silhouettes.pkl``). The script

1. measures the statistics of :mod:`gait_tf.synth.silhouette_stats` on the real tracks
   (pretreated 64x64), plus two track-level ones from ``tracks.json``: ``h_jit``, the
   frame-to-frame jitter of the mask box height (sd of height / its 9-frame running
   median - 1), and ``lost``, the fraction of a track's frame span without a silhouette;
2. renders a synthetic set with the ``realistic`` preset (``--subjects`` x ``--views`` of
   ``nm-01``) and measures it clean and through the error model (``--profile``);
3. with ``--fit``: sets ``lost`` and ``burst`` to the real tracks' share of lost frames
   and mean gap length, picks ``box_jitter`` to match ``h_jit``, then searches the shape
   parameters (coordinate descent over a grid, two passes) to minimise the RMS of
   (synthetic - real) / scale over the shape statistics, and prints the best parameters
   (paste them into ``PROFILES["fitted"]`` of gait_tf/synth/frontend_errors.py);
4. prints a Markdown table (real clips, CASIA-B, synthetic clean, synthetic degraded)
   and writes the side-by-side figure (rows: real clip 1, real clip 2, real CASIA-B,
   synthetic clean, the same frames through the error model).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gait_tf.data.pretreat import pretreat_sequence  # noqa: E402
from gait_tf.synth import WalkerGenerator  # noqa: E402
from gait_tf.synth import silhouette_stats as st  # noqa: E402
from gait_tf.synth.frontend_errors import FrontendErrors, apply_frontend_errors, get_profile  # noqa: E402

#: shape statistics the error model controls (the widths and the head are the body's and
#: the view's); ``h_jit`` and ``lost`` are matched on their own
FIT_STATS = ("fill", "rough", "torso", "thigh", "shank", "feet", "arm_gap", "leg_gap", "holes", "parts", "iou")
ALL_STATS = st.STATS + ("h_jit", "lost")
GRID = {
    "map_res": (20.0, 28.0, 40.0, 56.0, 80.0),
    "blur": (0.0, 0.008, 0.016, 0.025, 0.035),
    "bias": (-0.05, 0.0, 0.05, 0.1, 0.15, 0.2),
    "noise": (0.0, 0.06, 0.12, 0.2, 0.3, 0.4),
    "noise_rho": (0.4, 0.6, 0.8, 0.9, 0.95),
    "noise_scale": (0.05, 0.08, 0.12, 0.2),
    "feet_loss": (0.0, 0.1, 0.25, 0.4),
    "holes": (0.0, 0.03, 0.1),
    "blob_prob": (0.0, 0.15, 0.3),
    "attach": (0.0, 0.03, 0.06),
}
JITTER_GRID = (0.0, 0.004, 0.008, 0.012, 0.016, 0.024, 0.032)


def _jitter(heights_per_track):
    """sd of height / running median (9 frames) - 1, over runs of consecutive frames."""
    res = []
    for h in heights_per_track:
        h = np.asarray(h, np.float64)
        if len(h) < 9:
            continue
        med = np.array([np.median(h[max(0, i - 4):i + 5]) for i in range(len(h))])
        res.append(h / med - 1.0)
    return float(np.std(np.concatenate(res))) if res else float("nan")


def _runs(frames):
    """Split sorted frame indices into runs of consecutive frames."""
    frames = np.asarray(frames)
    cut = np.flatnonzero(np.diff(frames) != 1) + 1
    return np.split(np.arange(len(frames)), cut)


def load_real(folder, min_frames=10):
    """``(pretreated sequences, h_jit, lost, gaps)`` of the tracks in a ``gait-tf
    silhouettes`` output (``gaps``: lengths of the runs of lost frames inside tracks)."""
    folder = Path(folder)
    meta = json.loads((folder / "tracks.json").read_text())
    seqs, heights, seen, span, gaps = [], [], 0, 0, []
    for tid, tr in meta["tracks"].items():
        path = folder / "tracks" / tid / "silhouettes.pkl"
        with open(path, "rb") as fh:
            seq = pickle.load(fh)
        if len(seq) < min_frames:
            continue
        seqs.append(seq)
        frames = np.asarray(tr["frames"])
        boxes = np.asarray(tr["boxes"], np.float64)
        for run in _runs(frames):
            heights.append(boxes[run, 3] - boxes[run, 1])
        gaps += [int(g) - 1 for g in np.diff(frames) if g > 1]
        seen += tr["n_silhouettes"]
        span += int(frames[-1] - frames[0] + 1)
    return seqs, _jitter(heights), 1.0 - seen / max(span, 1), gaps


def load_casia(folder):
    from PIL import Image

    out = []
    for gif in sorted(Path(folder).glob("*.gif")):
        im = Image.open(gif)
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append((np.asarray(im.convert("L")) > 127).astype(np.uint8) * 255)
        out.append(pretreat_sequence(np.stack(frames), source=str(gif)))
    return out


def render_set(subjects, views, seed, image_size, n_frames):
    """Clean realistic sequences: ``[(silhouettes [T, H, W], others or None)]``."""
    gen = WalkerGenerator(seed=seed, image_size=image_size, realism={"preset": "realistic", "frontend_errors": None})
    return [(lambda q: (q.silhouettes, q.others))(gen.sequence(s, "nm-01", v, n_frames=n_frames, rgb=False))
            for s in subjects for v in views]


def raw_stats(raw_seqs):
    """``(h_jit, lost)`` of raw ``[T, H, W]`` mask sequences (empty frames are lost)."""
    heights, seen, span = [], 0, 0
    for seq in raw_seqs:
        rows = seq.any(2)
        ok = np.flatnonzero(rows.any(1))
        if len(ok) == 0:
            continue
        h = np.array([np.flatnonzero(rows[t])[-1] - np.flatnonzero(rows[t])[0] + 1 for t in ok], np.float64)
        for run in _runs(ok):
            heights.append(h[run])
        seen += len(ok)
        span += int(ok[-1] - ok[0] + 1)
    return _jitter(heights), 1.0 - seen / max(span, 1)


def _pretreat_all(raw_seqs):
    out = []
    for seq in raw_seqs:
        keep = seq.reshape(len(seq), -1).any(1)
        if keep.sum() >= 2:
            out.append(pretreat_sequence(seq[keep]))
    return out


def measure(raw_seqs) -> dict:
    d = st.summarize(_pretreat_all(raw_seqs))
    d["h_jit"], d["lost"] = raw_stats(raw_seqs)
    return d


def degrade(clean, profile, seed=0):
    return [apply_frontend_errors(s, profile, np.random.default_rng([seed, i]), others=o)
            for i, (s, o) in enumerate(clean)]


def scales(real: dict) -> dict:
    out = {}
    for k in ALL_STATS:
        sd = real.get(f"{k}_sd", 0.0)
        out[k] = max(sd if np.isfinite(sd) else 0.0, 0.1 * abs(real[k]) + 0.01)
    return out


def fit(clean, real, start: FrontendErrors, passes=3, log=print):
    sc = scales(real)
    best = dataclasses.replace(start, lost=round(real["lost"], 3), burst=round(max(1.0, real["burst"]), 2))
    log(f"lost={best.lost}, burst={best.burst} (measured)")
    # box jitter: match the frame-to-frame jitter of the box height
    errs = []
    for v in JITTER_GRID:
        d = measure(degrade(clean, dataclasses.replace(best, box_jitter=v)))
        errs.append(abs(d["h_jit"] - real["h_jit"]))
        log(f"  box_jitter={v}: h_jit {d['h_jit']:.4f} (real {real['h_jit']:.4f})")
    best = dataclasses.replace(best, box_jitter=JITTER_GRID[int(np.argmin(errs))])
    best_d = st.distance(measure(degrade(clean, best)), real, sc, FIT_STATS)
    log(f"start: distance {best_d:.3f}")
    for p in range(passes):
        for name, values in GRID.items():
            for v in values:
                if v == getattr(best, name):
                    continue
                cand = dataclasses.replace(best, **{name: v})
                d = st.distance(measure(degrade(clean, cand)), real, sc, FIT_STATS)
                if d < best_d:
                    best, best_d = cand, d
                    log(f"  pass {p + 1}: {name}={v} -> distance {d:.3f}")
    return best, best_d


def table(rows: dict) -> str:
    head = "| | " + " | ".join(ALL_STATS) + " | frames |"
    sep = "|---" * (len(ALL_STATS) + 2) + "|"
    lines = [head, sep]
    for name, d in rows.items():
        vals = " | ".join("" if not np.isfinite(d.get(k, np.nan)) else f"{d[k]:.3f}" for k in ALL_STATS)
        lines.append(f"| {name} | {vals} | {d['frames']} |")
    return "\n".join(lines)


def figure(path, real_sets, casia, clean, degraded, n=12, labels=None):
    """Rows: each real set, CASIA-B, synthetic clean, the same frames degraded (64x64 each, x2)."""
    def spread(seqs):
        seqs = [s for s in seqs if len(s)]
        return [seqs[i % len(seqs)][(7 + 29 * i) % len(seqs[i % len(seqs)])] for i in range(n)]

    rows = [spread(s) for s in real_sets] + [spread(casia)]
    c_row, d_row = [], []
    for i in range(len(clean)):
        if len(c_row) == n:
            break
        s, d = clean[i][0], degraded[i]
        both = np.flatnonzero(s.reshape(len(s), -1).any(1) & d.reshape(len(d), -1).any(1))
        if len(both) == 0:
            continue
        t = both[len(both) // 2]
        c_row.append(pretreat_sequence(s[t:t + 1])[0])
        d_row.append(pretreat_sequence(d[t:t + 1])[0])
    rows += [c_row, d_row]
    img = np.concatenate([np.concatenate(r, 1) for r in rows], 0)
    img = cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    for k in range(1, len(rows)):
        img[k * 128 - 1] = (0, 0, 200)
    if labels:
        side = np.full((img.shape[0], 190, 3), 255, np.uint8)
        for k, text in enumerate(labels):
            for j, line in enumerate(text.split("\n")):
                cv2.putText(side, line, (6, k * 128 + 56 + 22 * j), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1,
                            cv2.LINE_AA)
        img = np.concatenate([side, img], 1)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", nargs="+", required=True, help="gait-tf silhouettes --all-tracks output folders")
    ap.add_argument("--casia", default=str(REPO.parent / "shared/data/real_silhouettes"),
                    help="folder of real CASIA-B silhouette GIFs")
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--views", default="000,036,072,108,144,180")
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--image-size", default="120x160")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="fitted", help="error profile to compare (default fitted)")
    ap.add_argument("--fit", action="store_true", help="search the parameters (minutes)")
    ap.add_argument("--figure", default=None, help="write the side-by-side PNG here")
    ap.add_argument("--json", default=None, help="write every number here")
    ap.add_argument("--write-reference", action="store_true",
                    help="store the real statistics as gait_tf/synth/frontend_reference.json (the tests' target)")
    args = ap.parse_args(argv)
    t0 = time.time()
    real_sets, real_rows, pooled, h_jits, losts, gaps = [], {}, [], [], [], []
    for folder in args.real:
        seqs, h_jit, lost, g = load_real(folder)
        gaps += g
        d = st.summarize(seqs)
        d["h_jit"], d["lost"] = h_jit, lost
        clip = Path(json.loads((Path(folder) / "tracks.json").read_text()).get("source", folder)).name
        real_rows[f"real front end: {clip}"] = d
        real_sets.append(seqs)
        pooled += seqs
        h_jits.append((h_jit, d["frames"]))
        losts.append((lost, d["frames"]))
    real = st.summarize(pooled)
    w = np.array([f for _, f in h_jits], np.float64)
    real["h_jit"] = float(np.average([h for h, _ in h_jits], weights=w))
    real["lost"] = float(np.average([x for x, _ in losts], weights=w))
    real["burst"] = float(np.mean(gaps)) if gaps else 1.0
    rows = dict(real_rows)
    rows["real: pooled"] = real
    casia = load_casia(args.casia) if args.casia and Path(args.casia).is_dir() else []
    if casia:
        rows["real CASIA-B (3 GIFs)"] = st.summarize(casia)
    h, wd = (int(x) for x in args.image_size.split("x"))
    views = [v.strip() for v in args.views.split(",")]
    clean = render_set(range(1, args.subjects + 1), views, args.seed, (h, wd), args.frames)
    rows["synthetic realistic, clean"] = measure([s for s, _ in clean])
    profile = get_profile(args.profile)
    if args.fit:
        profile, d = fit(clean, real, profile, log=lambda m: print(m, flush=True))
        print("fitted:", dataclasses.asdict(profile))
    degraded = degrade(clean, profile)
    rows[f"synthetic realistic, error model ({args.profile if not args.fit else 'fit'})"] = measure(degraded)
    sc = scales(real)
    for name, d in rows.items():
        d["distance"] = st.distance(d, real, sc, FIT_STATS)
    print(table(rows))
    print("distance to the pooled real statistics (RMS of differences / scale over "
          + ", ".join(FIT_STATS) + "): "
          + "; ".join(f"{k}: {v['distance']:.2f}" for k, v in rows.items()))
    if args.figure:
        names = [k.replace("real front end: ", "real front end:\n") for k in real_rows]
        figure(args.figure, real_sets, casia, clean, degraded,
               labels=names + ["real CASIA-B\n(bg subtraction)", "synthetic realistic\nclean",
                               "synthetic realistic\n+ error model"])
        print(f"figure: {args.figure}")
    if args.write_reference:
        from gait_tf.synth.frontend_errors import REFERENCE_FILE

        keep = lambda d: {k: round(float(v), 5) for k, v in d.items() if k in ALL_STATS  # noqa: E731
                          or k.endswith("_sd") or k in ("frames", "sequences", "burst")}
        REFERENCE_FILE.write_text(json.dumps({
            "source": "gait-tf silhouettes --all-tracks on " + ", ".join(Path(f).name for f in args.real)
                      + " (tracks with >= 10 silhouettes); scripts/fit_frontend_errors.py",
            "real": keep(real), "clips": {k: keep(v) for k, v in real_rows.items()},
            "scales": {k: round(v, 5) for k, v in sc.items()}, "fit_stats": list(FIT_STATS)}, indent=1) + "\n")
        print(f"reference: {REFERENCE_FILE}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "profile": dataclasses.asdict(profile),
                                               "scales": sc, "fit_stats": FIT_STATS}, indent=2))
    print(f"{time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
