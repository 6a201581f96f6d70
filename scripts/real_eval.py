#!/usr/bin/env python
"""Real-footage evaluation: how well does a gait model tell real people apart?

No real gait data set can be downloaded here, so this uses the real clips in
``../shared/data/real_video``: the real front end (``track_people``) finds every person
track, each track long enough (>= 2 x MIN_FRAMES usable silhouettes) is cut into its first
and second half, and every half is embedded with each model. Reported per model:

* **same-person consistency**: second halves (probes) against first halves (gallery),
  per clip and over all clips together: rank-1 and the distance margin (nearest other
  person minus own first half, mean over probes; also relative to the mean distance);
* **separation**: mean distance between halves of the same person and of different people;
* **verification**, threshold-free: the AUC (how often a genuine half pair is closer than an
  impostor pair) and the equal error rate, over all clips; the fairest way to compare
  families, whose distance scales differ;
* **open set** at the model's shipped threshold (the default model's card; ``--threshold``
  for others): genuine pairs accepted (TAR = 1 - false-reject rate) and impostor pairs
  accepted (false-accept rate), over all clips;
* the real CASIA-B-style silhouettes (``real_silhouettes/{nm,bg,cl}.gif``, one person):
  distances nm-bg and nm-cl, and whether they are accepted.

Writes ``results/real_eval.json``, one distance-matrix PNG per model
(``docs/figures/real_eval_<model>.png``) and the Markdown table between the markers
``<!-- real-eval:start -->`` / ``<!-- real-eval:end -->`` of ``docs/results.md``.

Usage::

    python scripts/real_eval.py [--models default runs/gaitset_casia/model.keras] [--names default casia_b]
        [--threshold NAME=D ...] [--cache results/real_tracks]
"""
from __future__ import annotations

import argparse
import os
import pickle
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

START, END = "<!-- real-eval:start -->", "<!-- real-eval:end -->"


def shared():
    for base in (os.environ.get("GAIT_TF_SHARED_DIR"), REPO.parent / "shared", REPO / "shared"):
        if base and (Path(base) / "data" / "real_video").is_dir():
            return Path(base) / "data"
    sys.exit("real_eval.py: ../shared/data not found")


def people_of(clip, cache):
    """The front end's result for ``clip`` (cached as a pickle in ``cache``)."""
    from gait_tf.video.frontend import track_people

    if cache:
        p = Path(cache) / f"{clip.stem}.pkl"
        if p.is_file():
            return pickle.loads(p.read_bytes())
    res = track_people(clip)
    if cache:
        Path(cache).mkdir(parents=True, exist_ok=True)
        (Path(cache) / f"{clip.stem}.pkl").write_bytes(pickle.dumps(res))
    return res


def halves(res, min_frames):
    """``[(track label, first half uint8 [T1,64,64], second half [T2,64,64])]`` of ``res``."""
    out = []
    for p in res.people:
        seq, _ = p.pretreated()
        if len(seq) >= 2 * min_frames:
            h = len(seq) // 2
            out.append((f"{Path(res.source).stem}:{p.track_id}", seq[:h], seq[h:]))
    return out


def evaluate(embed, tracks, clip_of, thr):
    """Metrics of one model over ``tracks`` (from :func:`halves`)."""
    from gait_tf.evaluation.distance import pairwise_distance

    g = np.stack([embed(a) for _, a, _ in tracks])
    q = np.stack([embed(b) for _, _, b in tracks])
    d = pairwise_distance(q, g)  # [probe second half, gallery first half]
    n = len(tracks)
    same = np.eye(n, dtype=bool)
    clips = np.array(clip_of)
    out = {"distance": d.tolist(), "labels": [t[0] for t in tracks]}
    per_clip = {}
    for c in list(dict.fromkeys(clip_of)) + ["all"]:
        sel = np.ones(n, bool) if c == "all" else clips == c
        if sel.sum() < 2:
            continue
        sub = d[np.ix_(sel, sel)]
        eye = np.eye(sel.sum(), dtype=bool)
        genuine = sub[eye]
        imp = np.where(eye, np.inf, sub)
        hits = int((sub.argmin(1) == np.arange(len(sub))).sum())
        rank1 = hits / len(sub)
        margin = imp.min(1) - genuine
        mean_imp = float(sub[~eye].mean())
        per_clip[c] = {"tracks": int(sel.sum()), "rank1": rank1,
                       "rank1_ci95": wilson(hits, len(sub)), "margin": float(margin.mean()),
                       "relative_margin": float(margin.mean() / mean_imp), "same_mean": float(genuine.mean()),
                       "other_mean": mean_imp}
    out["clips"] = per_clip
    genuine, imp = d[same], d[~same]
    out["verification"] = verification(genuine, imp)
    if thr is not None:
        out["open_set"] = {"threshold": thr, "tar": float((genuine <= thr).mean()),
                           "frr": float((genuine > thr).mean()), "far": float((imp <= thr).mean()),
                           "genuine_pairs": int(len(genuine)), "impostor_pairs": int(len(imp))}
    return out, g, q


def wilson(k, n, z=1.96):
    """95 % Wilson score interval ``[lo, hi]`` of a proportion of ``k`` successes in ``n``."""
    if n == 0:
        return [0.0, 1.0]
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [float(max(0.0, centre - half)), float(min(1.0, centre + half))]


def _auc(g, i_sorted):
    """P(genuine < impostor), ties half, from genuine distances and *sorted* impostor ones."""
    right = np.searchsorted(i_sorted, g, "right")
    left = np.searchsorted(i_sorted, g, "left")
    return float(((len(i_sorted) - right) + 0.5 * (right - left)).sum() / (len(g) * len(i_sorted)))


def auc_ci95(genuine, impostor, n_boot=1000, seed=0):
    """Bootstrap 95 % interval of the AUC (genuine and impostor pairs resampled separately)."""
    rng = np.random.default_rng(seed)
    g, i = np.asarray(genuine, np.float64), np.asarray(impostor, np.float64)
    aucs = [_auc(g[rng.integers(0, len(g), len(g))], np.sort(i[rng.integers(0, len(i), len(i))]))
            for _ in range(n_boot)]
    return [float(np.percentile(aucs, 2.5)), float(np.percentile(aucs, 97.5))]


def verification(genuine, impostor):
    """Threshold-free separation of genuine and impostor distances (1-D arrays).

    ``auc``: probability that a genuine pair is closer than an impostor pair (ties count
    half), with its bootstrap 95 % interval ``auc_ci95``; ``eer``: the equal error rate,
    where false rejects equal false accepts (the mean of the two at the threshold where they
    are closest).
    """
    g, i = np.asarray(genuine, np.float64), np.asarray(impostor, np.float64)
    gs, is_ = np.sort(g), np.sort(i)
    thr = np.unique(np.concatenate([g, i]))
    frr = 1.0 - np.searchsorted(gs, thr, "right") / len(g)  # genuine above t
    far = np.searchsorted(is_, thr, "right") / len(i)  # impostors at or below t
    k = int(np.argmin(np.abs(frr - far)))
    return {"auc": _auc(g, is_), "auc_ci95": auc_ci95(g, i), "eer": float((frr[k] + far[k]) / 2),
            "eer_threshold": float(thr[k])}


def casia_real(embed, data, thr):
    from gait_tf.data.io import read_gif
    from gait_tf.data.pretreat import pretreat_sequence
    from gait_tf.evaluation.distance import pairwise_distance

    seqs = {}
    for cond in ("nm", "bg", "cl"):
        raw = read_gif(data / "real_silhouettes" / f"{cond}.gif")
        seqs[cond] = embed(pretreat_sequence(raw))
    out = {}
    for cond in ("bg", "cl"):
        dist = float(pairwise_distance(seqs["nm"][None], seqs[cond][None])[0, 0])
        out[f"nm-{cond}"] = {"distance": dist, "accepted": None if thr is None else bool(dist <= thr)}
    return out


def plot(result, name, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = np.asarray(result["distance"])
    labels = result["labels"]
    fig, ax = plt.subplots(figsize=(1.2 + 0.32 * len(labels), 1.0 + 0.3 * len(labels)))
    im = ax.imshow(d, cmap="viridis")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("first half of track (gallery)")
    ax.set_ylabel("second half of track (probe)")
    ax.set_title(f"{name}: distance between halves of real person tracks", fontsize=9)
    for i in range(len(labels)):
        ax.add_patch(plt.Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=1))
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results) -> str:
    rows = ["| model | clip | tracks | rank-1 (halves) [95 % interval] | margin (relative) | same person | "
            "different people |", "|---|---|---:|---:|---:|---:|---:|"]
    for name, r in results["models"].items():
        for clip, m in r["clips"].items():
            lo, hi = m["rank1_ci95"]
            rows.append(f"| {name} | {clip} | {m['tracks']} | {100 * m['rank1']:.1f} % [{100 * lo:.0f}-{100 * hi:.0f}] | "
                        f"{m['margin']:.3f} ({100 * m['relative_margin']:.1f} %) | {m['same_mean']:.3f} | "
                        f"{m['other_mean']:.3f} |")
    rows += ["", "| model | AUC [95 % interval] | EER | threshold | genuine accepted (TAR) | false rejects | "
             "impostors accepted (FAR) | real CASIA-B nm-bg | nm-cl |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results["models"].items():
        o = r.get("open_set")
        c = r["casia_real"]

        def cell(k):
            v = c[k]
            acc = "" if v["accepted"] is None else (" accepted" if v["accepted"] else " rejected")
            return f"{v['distance']:.3f}{acc}"

        v = r["verification"]
        head = f"| {name} | {v['auc']:.3f} [{v['auc_ci95'][0]:.2f}-{v['auc_ci95'][1]:.2f}] | {100 * v['eer']:.1f} % "
        if o:
            rows.append(head + f"| {o['threshold']:.4g} | {100 * o['tar']:.1f} % | {100 * o['frr']:.1f} % | "
                        f"{100 * o['far']:.1f} % ({o['impostor_pairs']} pairs) | {cell('nm-bg')} | {cell('nm-cl')} |")
        else:
            rows.append(head + f"| none | - | - | - | {cell('nm-bg')} | {cell('nm-cl')} |")
    return "\n".join(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["default"], help="'default' or .keras paths")
    p.add_argument("--names", nargs="+", help="display names of --models (default: file stems)")
    p.add_argument("--threshold", nargs="*", default=[], metavar="NAME=D",
                   help="open-set threshold of a model that ships none")
    p.add_argument("--cache", default=str(REPO / "results" / "real_tracks"),
                   help="folder for the front end's results per clip ('' = no cache)")
    p.add_argument("--json", default=str(REPO / "results" / "real_eval.json"))
    p.add_argument("--results-md", default=str(REPO / "docs" / "results.md"))
    p.add_argument("--figures", default=str(REPO / "docs" / "figures"))
    args = p.parse_args(argv)

    from gait_tf import pretrained
    from gait_tf.evaluation.embed import model_embed_fn
    from gait_tf.utils import write_json
    from gait_tf.video.pipeline import MIN_FRAMES

    names = args.names or [m if pretrained.is_default(m) else Path(m).stem for m in args.models]
    thresholds = dict(kv.split("=", 1) for kv in args.threshold)
    data = shared()
    tracks, clip_of = [], []
    for clip in sorted((data / "real_video").iterdir()):
        res = people_of(clip, args.cache)
        for t in halves(res, MIN_FRAMES):
            tracks.append(t)
            clip_of.append(clip.name)
        print(f"{clip.name}: {len(res.people)} tracks, {sum(c == clip.name for c in clip_of)} long enough",
              flush=True)
    results = {"min_frames_per_half": MIN_FRAMES, "models": {}}
    for spec, name in zip(args.models, names):
        model = pretrained.resolve_model(spec)
        thr = float(thresholds[name]) if name in thresholds else (
            pretrained.threshold(spec if spec != "default" else pretrained.DEFAULT) if pretrained.is_default(spec)
            else None)
        embed = model_embed_fn(model)
        r, _, _ = evaluate(embed, tracks, clip_of, thr)
        r["casia_real"] = casia_real(embed, data, thr)
        results["models"][name] = r
        fig = Path(args.figures) / f"real_eval_{name}.png"
        plot(r, name, fig)
        print(f"{name}: " + ", ".join(f"{c} rank-1 {100 * m['rank1']:.1f} % margin {m['margin']:.3f}"
                                       for c, m in r["clips"].items()), flush=True)
    table = markdown(results)
    print(table)
    write_json(args.json, results)
    md = Path(args.results_md)
    text = md.read_text(encoding="utf-8") if md.is_file() else ""
    figs = " ".join(f"![{n}](figures/real_eval_{n}.png)" for n in names)
    block = f"{START}\n{table}\n\n{figs}\n{END}"
    if START in text and END in text:
        text = text[:text.index(START)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n<!-- keep -->\n## Real footage\n\n" + block + "\n"
    md.write_text(text, encoding="utf-8")
    print(f"wrote {args.json}, {md}")
    return results


if __name__ == "__main__":
    main()
