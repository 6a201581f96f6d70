"""``gait-tf demo``: the end-to-end demo on built-in synthetic walkers.

Stages run in order (each one prints a header and shows progress):

1. generate synthetic walkers (OpenGait pickles for training/evaluation, a few RGB
   sequences for the montage) and write a montage PNG + a summary.
"""
from __future__ import annotations

import json
import time
from pathlib import Path


def register(subparsers):
    p = subparsers.add_parser("demo", help="run the end-to-end demo on built-in synthetic walkers",
                              description=__doc__)
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--subjects", type=int, default=12, help="synthetic subjects to generate")
    p.add_argument("--workers", type=int, default=2, help="processes for data generation")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def _stage(n, title):
    print(f"\n=== [{n}] {title}", flush=True)


def run(args):
    from gait_tf.synth import VIEWS
    from gait_tf.synth.dataset import write_dataset
    from gait_tf.synth.preview import format_summary, make_montage, summarize

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    _stage(1, "synthetic walkers")
    data_root = out / "synthetic"
    write_dataset(data_root, fmt="opengait", subjects=args.subjects, views=list(VIEWS), seed=args.seed,
                  image_size=(120, 160), workers=args.workers, progress=True)
    rgb_root = out / "synthetic_rgb"
    write_dataset(rgb_root, fmt="rgb", subjects=4, conditions=["nm-01", "bg-01", "cl-01"],
                  views=["000", "054", "090", "144"], seed=args.seed, image_size=(240, 320),
                  workers=args.workers, background="moving", progress=True)
    summary = summarize(data_root)
    print(format_summary(summary))
    montage = make_montage(rgb_root, out / "montage.png", subjects=4)
    print(f"montage: {montage}")

    report = {"synthetic": summary, "montage": str(montage), "seconds": round(time.time() - t0, 1)}
    (out / "demo_summary.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"\ndemo finished in {report['seconds']} s; outputs in {out}/")
    return 0
