"""``gait-tf pretreat``: raw silhouette frames -> OpenGait pickles ``uint8 [T, 64, 64]``.

Input: a CASIA-B-style tree ``<subject>/<type>/<view>/*.png``, an OU-MVLP tree
(``Silhouette_<view>-<seq>/<subject>/*.png``), a single GIF, or a single folder of
frame images. Output: ``OUT/<subject>/<type>/<view>/<view>.pkl`` (OpenGait layout).
"""
from __future__ import annotations

import os
from pathlib import Path

from gait_tf.argtypes import non_negative_int, positive_int


def register(subparsers):
    p = subparsers.add_parser(
        "pretreat",
        help="convert raw silhouettes (CASIA-B/OU-MVLP trees, a GIF, a folder of PNGs) to OpenGait pickles",
        description="Convert raw silhouettes to OpenGait pickles uint8 [T, 64, 64] "
        "(crop, resize to height 64, centre, 64-wide window). INPUT_ROOT is a CASIA-B-style tree "
        "<subject>/<type>/<view>/*.png, an OU-MVLP tree Silhouette_<view>-<seq>/<subject>/*.png, "
        "a single GIF, or a single folder of frame images. Output: OUT/<subject>/<type>/<view>/<view>.pkl.",
    )
    p.add_argument("input", metavar="INPUT_ROOT", help="dataset root, a .gif, or a folder of frame images")
    p.add_argument("--out", required=True, metavar="OUT_ROOT", help="output root (OpenGait pickle layout)")
    p.add_argument("--layout", default="auto", choices=["auto", "casia_b", "oumvlp"],
                   help="layout of a dataset tree (default: detect)")
    p.add_argument("--subject", default=None, help="subject id for a single GIF/folder (default: its name)")
    p.add_argument("--condition", default="nm-01", help="condition for a single GIF/folder (default nm-01)")
    p.add_argument("--view", default="000", help="view for a single GIF/folder (default 000)")
    p.add_argument("--img-size", type=positive_int, default=64, help="output frame size (default 64)")
    p.add_argument("--min-foreground", type=non_negative_int, default=10000,
                   help="drop frames whose grey-level sum is <= this (default 10000, as OpenGait)")
    p.add_argument("--workers", type=positive_int, default=min(4, os.cpu_count() or 1), help="threads (default min(4, CPUs))")
    p.add_argument("--overwrite", action="store_true", help="replace existing pickles (default: skip them)")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first unreadable sequence or frame (default: an unreadable frame is "
                   "skipped and reported, an unreadable sequence is counted as failed)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _jobs(args):
    """[(subject, condition, view, source path)] for the input."""
    from gait_tf.data.io import list_frames
    from gait_tf.data.readers import load_dataset
    from gait_tf.errors import DataError

    src = Path(args.input).expanduser()
    if not src.exists():
        raise DataError(f"{src}: input does not exist")
    single = src.is_file() or (src.is_dir() and bool(list_frames(src)))
    if single:
        if src.is_file() and src.suffix.lower() != ".gif":
            raise DataError(f"{src}: expected a .gif, a folder of frame images, or a dataset root")
        subject = args.subject or src.stem
        return [(subject, args.condition, args.view, src)], [], True
    layout = args.layout
    ds = load_dataset(src, layout=layout, on_empty="ignore", cache=False)
    return [(r.subject, r.condition, r.view, r.path) for r in ds.records], ds.skipped, False


def run(args):
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from tqdm import tqdm

    from gait_tf.data.io import read_sequence, write_pickle
    from gait_tf.data.pretreat import pretreat_sequence
    from gait_tf.errors import DataError

    jobs, empty_folders, single = _jobs(args)
    strict = args.strict or single  # a single GIF/folder: its error is the command's error
    out_root = Path(args.out).expanduser()
    if out_root.exists() and not out_root.is_dir():
        raise DataError(f"--out {out_root}: exists and is not a folder")

    bad_frames = []  # (sequence, frame path, reason) of frames skipped as unreadable

    def work(job):
        subject, condition, view, src = job
        dst = out_root / subject / condition / view / f"{view}.pkl"
        if dst.exists() and not args.overwrite:
            return "skipped", 0, 0, None
        frames = None
        skipped = None if args.strict else []  # --strict: one bad frame fails the sequence
        try:
            frames = read_sequence(src, skipped=skipped)
            bad_frames.extend((src, path, reason) for path, reason in skipped or [])
            seq, kept = pretreat_sequence(frames, img_size=args.img_size, min_foreground=args.min_foreground,
                                          source=str(src), return_kept=True)
        except DataError as exc:
            if strict:
                raise
            empty = "empty sequence" in str(exc)
            return ("dropped" if empty else "failed"), 0 if frames is None else len(frames), 0, str(exc)
        write_pickle(dst, np.ascontiguousarray(seq))
        return "written", int((~kept).sum()), int(kept.sum()), None

    counts = {"written": 0, "skipped": 0, "dropped": 0, "failed": 0}
    frames_kept = frames_dropped = 0
    problems = []
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        bar = tqdm(total=len(jobs), desc="pretreat", unit="seq", disable=args.quiet or len(jobs) <= 1)
        for job, (status, n_drop, n_keep, msg) in zip(jobs, pool.map(work, jobs)):
            counts[status] += 1
            frames_dropped += n_drop
            frames_kept += n_keep
            if msg:
                problems.append((status, msg))
            bar.update(1)
        bar.close()

    print(f"pretreat: {len(jobs)} sequence(s) from {args.input} -> {out_root}")
    print(f"  written {counts['written']}, skipped (exist) {counts['skipped']}, "
          f"dropped (no usable frame) {counts['dropped']}, failed {counts['failed']}"
          + (f", empty folders {len(empty_folders)}" if empty_folders else ""))
    total = frames_kept + frames_dropped
    if total:
        print(f"  frames kept {frames_kept}, dropped {frames_dropped} ({100 * frames_dropped / total:.1f}%)")
    if bad_frames:
        seqs = len({str(seq) for seq, _, _ in bad_frames})
        print(f"  unreadable frames skipped: {len(bad_frames)} in {seqs} sequence(s) (--strict to fail instead)")
        for _, path, reason in sorted(bad_frames, key=lambda b: str(b[1]))[:10]:
            print(f"    {reason}")
        if len(bad_frames) > 10:
            print(f"    ... and {len(bad_frames) - 10} more")
    for status, msg in problems[:10]:
        print(f"  {status}: {msg}")
    if len(problems) > 10:
        print(f"  ... and {len(problems) - 10} more")
    if counts["failed"]:
        raise DataError(f"{counts['failed']} of {len(jobs)} sequence(s) could not be read (see above)")
    if counts["written"] + counts["skipped"] == 0:
        raise DataError(f"{args.input}: no sequence could be pretreated (all {len(jobs)} dropped)")
    return 0
