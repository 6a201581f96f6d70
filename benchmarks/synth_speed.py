"""Rendering speed of the synthetic walker generator (single process).

For each image size, renders ``--sequences`` sequences (nm/bg/cl over several views)
silhouettes-only (``rgb=False``) and with RGB (``static`` and ``moving+flicker``
backgrounds), and reports frames per second of wall time and of process CPU time (the
latter is what an idle core gives; wall time depends on the machine's load); plus the
pretreatment (64x64) rate.

Usage::

    python benchmarks/synth_speed.py --sizes 240x320 120x160 --json synth_speed.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from gait_tf.data.pretreat import pretreat_sequence  # noqa: E402
from gait_tf.synth import WalkerGenerator  # noqa: E402
from gait_tf.synth.dataset import parse_image_size  # noqa: E402
from gait_tf.utils.atomic import atomic_write  # noqa: E402

CASES = [("silhouettes", False, "static"), ("rgb static", True, "static"),
         ("rgb moving+flicker", True, "moving+flicker")]


def _jobs(n):
    conds = ["nm-01", "bg-01", "cl-01"]
    views = [0, 36, 90, 144, 180]
    return [(1 + i % 7, conds[i % 3], views[i % 5]) for i in range(n)]


def bench(size, n_seq):
    gen = WalkerGenerator(seed=0, image_size=size)
    gen.sequence(1, "nm-01", 90, n_frames=4)  # warm up caches
    rows = []
    for name, rgb, bg in CASES:
        frames, start, cpu = 0, time.perf_counter(), time.process_time()
        for s, c, v in _jobs(n_seq):
            frames += len(gen.sequence(s, c, v, rgb=rgb, background=bg))
        dt, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows.append({"size": f"{size[0]}x{size[1]}", "case": name, "frames": frames, "seconds": round(dt, 3),
                     "fps": round(frames / dt, 1), "cpu_fps": round(frames / cpu, 1)})
    seqs = [gen.sequence(s, c, v, rgb=False).silhouettes for s, c, v in _jobs(n_seq)]
    start, cpu = time.perf_counter(), time.process_time()
    frames = sum(len(pretreat_sequence(x)) for x in seqs)
    dt, cpu = time.perf_counter() - start, time.process_time() - cpu
    rows.append({"size": f"{size[0]}x{size[1]}", "case": "pretreat 64x64", "frames": frames,
                 "seconds": round(dt, 3), "fps": round(frames / dt, 1), "cpu_fps": round(frames / cpu, 1)})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["240x320", "120x160"])
    ap.add_argument("--sequences", type=int, default=15)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rows = []
    for s in args.sizes:
        rows += bench(parse_image_size(s), args.sequences)
    print(f"{'size':>8} | {'case':<20} | {'frames':>6} | {'s':>6} | {'frames/s':>8} | {'frames/CPU-s':>12}")
    for r in rows:
        print(f"{r['size']:>8} | {r['case']:<20} | {r['frames']:>6} | {r['seconds']:>6.2f} | {r['fps']:>8.0f} | "
              f"{r['cpu_fps']:>12.0f}")
    if args.json:
        with atomic_write(args.json, "w", encoding="utf-8") as fh:
            json.dump({"results": rows, "cpu_count": os.cpu_count(), "platform": platform.platform(),
                       "processes": 1}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
