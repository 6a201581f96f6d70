"""Throughput of the silhouette data path on this machine.

Generates its own data (procedural box-and-limb walkers, raw 240x320 frames), then
measures:

* ``pretreat``: ``pretreat_sequence`` on raw frames (frames/s);
* ``load``: reading + validating OpenGait pickles into the cache (sequences/s);
* ``train[...]``: the P x K ``tf.data`` training pipeline on cached sequences
  (sequences/s = batches x P x K / s), with and without augmentation; the best and
  the median of ``--repeats`` windows of ``--batches`` batches;
* ``eval``: the one-sequence evaluation pipeline (sequences/s).

Usage::

    python benchmarks/pipeline_throughput.py [--subjects 16] [--seqs 6] [--p 8] [--k 4]
        [--frames 30] [--batches 20] [--json out.json]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def walker(n, rng, h=240, w=320):
    """uint8 [n, h, w]: a crude walking figure (head, torso, swinging legs and arms)."""
    out = np.zeros((n, h, w), np.uint8)
    x0, speed = int(rng.integers(40, 120)), float(rng.uniform(1.5, 3.0))
    height = float(rng.uniform(150, 200))
    phase0 = rng.uniform(0, 2 * np.pi)
    for t in range(n):
        cx, top = int(x0 + speed * t), int(h - 20 - height)
        frame = out[t]
        hip = (cx, int(top + 0.55 * height))
        neck = (cx, int(top + 0.18 * height))
        cv2.circle(frame, (cx, int(top + 0.08 * height)), int(0.07 * height), 255, -1)
        cv2.line(frame, neck, hip, 255, int(0.12 * height))
        swing = np.sin(phase0 + 2 * np.pi * t / 25)
        for sign in (1, -1):
            foot = (int(cx + sign * swing * 0.25 * height), h - 20)
            hand = (int(cx - sign * swing * 0.18 * height), int(top + 0.5 * height))
            cv2.line(frame, hip, foot, 255, int(0.06 * height))
            cv2.line(frame, neck, hand, 255, int(0.04 * height))
    return cv2.GaussianBlur(out.reshape(-1, w), (3, 3), 0).reshape(n, h, w)  # grey edges


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=16)
    ap.add_argument("--seqs", type=int, default=6, help="sequences per subject")
    ap.add_argument("--seq-frames", type=int, default=80, help="raw frames per sequence")
    ap.add_argument("--p", type=int, default=8)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--batches", type=int, default=20, help="timed batches per configuration")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3, help="timed windows per configuration (best is reported)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    import tensorflow as tf

    from gait_tf.data import build_train_pipeline, load_dataset, make_eval_dataset, pretreat_sequence
    from gait_tf.data.io import write_pickle

    rng = np.random.default_rng(0)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        raw_frames, t_pre = 0, 0.0
        for s in range(args.subjects):
            for q in range(args.seqs):
                raw = walker(args.seq_frames, rng)
                seq, dt = timed(lambda: pretreat_sequence(raw))
                raw_frames, t_pre = raw_frames + len(raw), t_pre + dt
                write_pickle(Path(tmp) / f"{s + 1:03d}" / f"nm-{q + 1:02d}" / "090" / "090.pkl", seq)
        results.append({"stage": "pretreat 240x320 -> 64x64", "unit": "frames/s",
                        "value": raw_frames / t_pre, "count": raw_frames})

        ds = load_dataset(tmp, layout="opengait")
        n_seq, dt = timed(lambda: (ds.preload(), len(ds))[1])
        results.append({"stage": "load+validate pickles", "unit": "seq/s", "value": n_seq / dt, "count": n_seq})

        for mode, augment in (("fixed_unordered", False), ("fixed_unordered", True), ("fixed_ordered", True)):
            pipe = build_train_pipeline(ds, p=args.p, k=args.k, frames=args.frames, mode=mode, augment=augment,
                                        seed=0, num_batches=args.warmup + args.repeats * args.batches)
            it = iter(pipe.dataset)
            for _ in range(args.warmup):
                next(it)
            rates = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                for _ in range(args.batches):
                    next(it)
                rates.append(args.batches * args.p * args.k / (time.perf_counter() - t0))
            results.append({"stage": f"train {mode}, augment={'on' if augment else 'off'}",
                            "unit": "seq/s", "value": max(rates), "median": float(np.median(rates)),
                            "count": args.repeats * args.batches * args.p * args.k,
                            "batches_per_s": max(rates) / (args.p * args.k)})

        eval_ds = make_eval_dataset(ds)
        evals, dt = timed(lambda: sum(1 for _ in eval_ds))
        results.append({"stage": "eval (whole sequences)", "unit": "seq/s", "value": evals / dt, "count": evals})

    info = {
        "settings": vars(args) | {"json": str(args.json) if args.json else None},
        "batch_shape": [args.p * args.k, args.frames, 64, 44, 1],
        "machine": {"cpus": os.cpu_count(), "load_average_1min": os.getloadavg()[0],
                    "platform": platform.platform(), "python": sys.version.split()[0],
                    "tensorflow": tf.__version__},
        "results": results,
    }
    print(f"pipeline throughput (P={args.p}, K={args.k}, frames={args.frames}, "
          f"{args.subjects} subjects x {args.seqs} seqs, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f})")
    print(f"{'stage':42s} {'best':>10s} {'median':>10s}  unit")
    for r in results:
        median = f"{r['median']:10.1f}" if "median" in r else f"{'':10s}"
        print(f"{r['stage']:42s} {r['value']:10.1f} {median}  {r['unit']}")
    if args.json:
        from gait_tf.utils.atomic import write_json
        write_json(args.json, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
