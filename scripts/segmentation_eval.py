#!/usr/bin/env python
"""Person segmentation on held-out synthetic walkers: learned U-Net vs background subtraction.

Trains the U-Net (``--train``, or when no weights exist) on synthetic RGB walkers of
generator seeds 0..``--train-seeds``-1 (4 subjects each, 7 views, static / moving /
flickering / moving+flickering backgrounds; 64x64 crops of 120x160 frames), then
evaluates on walkers of seeds 1000 and 1001 - other subjects *and* other background
scenes - rendered at 120x160 over whole walks across the picture (and, second table, at
240x320 through an mp4 encode/decode, as a camera video). Each sequence is segmented by

- ``unet``: the learned segmenter (frame by frame),
- ``bgsub-median`` / ``bgsub-mog2``: background subtraction fitted on the sequence,

and scored by the mean per-frame IoU with the generator's exact person masks. Prints a
table and writes JSON (``--json``). Exit code 1 if the U-Net misses mean IoU 0.90 or does
not beat background subtraction on moving backgrounds.

    python scripts/segmentation_eval.py --train --save gait_tf/segmentation/weights/unet_synth.keras \\
        --json results/segmentation.json
    python scripts/segmentation_eval.py --quick     # tiny smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gait_tf.segmentation.background import BackgroundSubtractor  # noqa: E402
from gait_tf.segmentation.train import per_frame_iou  # noqa: E402
from gait_tf.segmentation.unet import DEFAULT_INPUT_HW, DEFAULT_WEIGHTS, UNetSegmenter  # noqa: E402
from gait_tf.utils.atomic import atomic_write  # noqa: E402

BACKGROUNDS = ("static", "moving", "flicker", "moving+flicker")
TRAIN_VIEWS = (0, 36, 72, 90, 108, 144, 180)
EVAL_VIEWS = (18, 54, 90, 126, 162)
EVAL_SEEDS = (1000, 1001)
TARGET_IOU = 0.90


def training_data(n_seeds, subjects, n_frames, frame_step, image_size):
    """Odd seeds are rendered at twice the size and downscaled (area), like a camera's
    frames resized for the network; even seeds at the working size."""
    from gait_tf.segmentation.train import synthetic_frames

    parts = [synthetic_frames(range(1, subjects + 1), seed=s, image_size=image_size, views=TRAIN_VIEWS,
                              backgrounds=BACKGROUNDS, n_frames=n_frames, frame_step=frame_step,
                              render_size=(2 * image_size[0], 2 * image_size[1]) if s % 2 else None)
             for s in range(n_seeds)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def eval_sequences(subjects, image_size, max_frames):
    from gait_tf.synth import WalkerGenerator

    for seed in EVAL_SEEDS:
        gen = WalkerGenerator(seed=seed, image_size=image_size)
        for s in range(1, subjects + 1):
            for view in EVAL_VIEWS:
                for bg in BACKGROUNDS:
                    seq = gen.sequence(s, "nm-01", view, background=bg)
                    n = min(len(seq.rgb), max_frames) if max_frames else len(seq.rgb)
                    yield {"seed": seed, "subject": s, "view": view, "background": bg}, seq.rgb[:n], seq.masks[:n]


def evaluate(segmenter, subjects, image_size, max_frames):
    rows = []
    for meta, rgb, masks in eval_sequences(subjects, image_size, max_frames):
        row = dict(meta, frames=len(rgb))
        row["unet"] = float(per_frame_iou(segmenter.masks_from_proba(segmenter.predict_proba(rgb)), masks).mean())
        for method in ("median", "mog2"):
            bg = BackgroundSubtractor(method).fit(rgb)
            pred = np.stack([bg.apply(f) for f in rgb])
            row[f"bgsub-{method}"] = float(per_frame_iou(pred, masks).mean())
        rows.append(row)
    return rows


def evaluate_video(segmenter, subjects, image_size, max_frames, workdir):
    """Held-out walks rendered at twice the working size, written to mp4 (OpenCV mp4v),
    decoded back and segmented through the video pipeline's path (U-Net: resized to the
    working size and back); IoU scored at the full 2x size."""
    from gait_tf.synth import WalkerGenerator
    from gait_tf.video import read_video, write_video

    big = (2 * image_size[0], 2 * image_size[1])
    rows = []
    for seed in EVAL_SEEDS:
        gen = WalkerGenerator(seed=seed, image_size=big)
        for s in range(1, subjects + 1):
            for view in EVAL_VIEWS[1:4]:
                for bg in ("static", "moving+flicker"):
                    seq = gen.sequence(s, "nm-01", view, background=bg)
                    n = min(len(seq.rgb), max_frames) if max_frames else len(seq.rgb)
                    path = Path(workdir) / f"{seed}_{s}_{view}_{bg}.mp4"
                    write_video(path, seq.rgb[:n], fps=25)
                    rgb, masks = read_video(path), seq.masks[:n]
                    row = {"seed": seed, "subject": s, "view": view, "background": bg, "frames": n}
                    row["unet"] = float(per_frame_iou(segmenter.masks_from_proba(segmenter.predict_proba(rgb)),
                                                      masks).mean())
                    bgs = BackgroundSubtractor("median").fit(rgb)
                    row["bgsub-median"] = float(per_frame_iou(np.stack([bgs.apply(f) for f in rgb]), masks).mean())
                    rows.append(row)
    return rows


def summarise(rows):
    methods = [m for m in ("unet", "bgsub-median", "bgsub-mog2") if m in rows[0]]
    table = {}
    for bg in [b for b in BACKGROUNDS if any(r["background"] == b for r in rows)] + ["all"]:
        sel = [r for r in rows if bg == "all" or r["background"] == bg]
        frames = np.array([r["frames"] for r in sel], float)
        table[bg] = {m: float(np.average([r[m] for r in sel], weights=frames)) for m in methods}
        table[bg]["sequences"] = len(sel)
        table[bg]["frames"] = int(frames.sum())
    return table


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", type=Path, help="evaluate these U-Net weights (default: the shipped ones)")
    ap.add_argument("--train", action="store_true", help="train the U-Net first (also done if no weights exist)")
    ap.add_argument("--save", type=Path, help="where to save trained weights (default: the --weights path, "
                                               "or a temporary file)")
    ap.add_argument("--json", type=Path, help="write the results as JSON")
    ap.add_argument("--epochs", type=int, default=24)
    ap.add_argument("--steps", type=int, default=100, help="batches per epoch")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--filters", type=int, default=8, help="U-Net first-stage channels")
    ap.add_argument("--augment", type=float, default=0.5, help="blur/noise/JPEG augmentation strength 0..1")
    ap.add_argument("--train-seeds", type=int, default=10, help="generator seeds of the training walkers")
    ap.add_argument("--eval-subjects", type=int, default=3, help="subjects per held-out seed")
    ap.add_argument("--max-frames", type=int, default=0, help="frames per held-out sequence (0 = whole walk)")
    ap.add_argument("--no-video", action="store_true", help="skip the mp4 round-trip evaluation")
    ap.add_argument("--quick", action="store_true", help="tiny smoke settings (numbers meaningless)")
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs, args.steps, args.train_seeds, args.eval_subjects, args.max_frames = 1, 5, 1, 1, 20
        args.train = True
    image_size = DEFAULT_INPUT_HW
    weights = args.weights or DEFAULT_WEIGHTS
    info = {"image_size": list(image_size), "eval_seeds": list(EVAL_SEEDS), "eval_views": list(EVAL_VIEWS),
            "eval_subjects_per_seed": args.eval_subjects, "backgrounds": list(BACKGROUNDS)}
    if args.train or not weights.is_file():
        from gait_tf.segmentation.train import train_segmenter

        t0 = time.perf_counter()
        x, y = training_data(args.train_seeds, 4, 8, 4, image_size)
        t_data = time.perf_counter() - t0
        print(f"training data: {len(x)} frames {image_size[0]}x{image_size[1]} from {args.train_seeds} seeds "
              f"({t_data:.0f} s)", flush=True)
        res = train_segmenter(x, y, filters=args.filters, epochs=args.epochs, steps_per_epoch=args.steps,
                              batch_size=args.batch_size, crop=(64, 64), augment=args.augment, verbose=1)
        segmenter = UNetSegmenter(res.model)
        save = args.save or (args.weights if args.weights else None)
        if save is None:
            import tempfile

            save = Path(tempfile.mkdtemp()) / "unet_synth.keras"
        save.parent.mkdir(parents=True, exist_ok=True)
        segmenter.save(save)
        weights = save
        info["training"] = {"frames": int(len(x)), "seeds": args.train_seeds, "epochs": args.epochs,
                            "steps_per_epoch": args.steps, "batch_size": args.batch_size, "crop": [64, 64],
                            "filters": args.filters, "augment": args.augment, "seconds": round(res.seconds, 1),
                            "data_seconds": round(t_data, 1), "final_loss": res.history["loss"][-1],
                            "cpu_threads": os.cpu_count()}
        print(f"trained in {res.seconds:.0f} s, saved {save}", flush=True)
    else:
        segmenter = UNetSegmenter.load(weights)
    info["weights"] = str(weights)
    info["weights_bytes"] = weights.stat().st_size
    info["parameters"] = int(segmenter.model.count_params())
    t0 = time.perf_counter()
    rows = evaluate(segmenter, args.eval_subjects, image_size, args.max_frames)
    info["eval_seconds"] = round(time.perf_counter() - t0, 1)
    table = summarise(rows)
    video_rows, video_table = [], {}
    if not args.no_video:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            video_rows = evaluate_video(segmenter, args.eval_subjects, image_size, args.max_frames, tmp)
        video_table = summarise(video_rows)
    print(f"\nmean per-frame IoU on held-out synthetic walkers (seeds {EVAL_SEEDS}, "
          f"{image_size[0]}x{image_size[1]})")
    print(f"{'background':<16} {'U-Net':>7} {'bgsub-median':>13} {'bgsub-mog2':>11} {'seqs':>5} {'frames':>7}")
    for bg, r in table.items():
        print(f"{bg:<16} {r['unet']:>7.3f} {r['bgsub-median']:>13.3f} {r['bgsub-mog2']:>11.3f} "
              f"{r['sequences']:>5} {r['frames']:>7}")
    if video_table:
        print(f"\nthe same through mp4 video at {2 * image_size[0]}x{2 * image_size[1]} "
              f"(views {EVAL_VIEWS[1:4]}; U-Net runs at {image_size[0]}x{image_size[1]} and is resized back)")
        print(f"{'background':<16} {'U-Net':>7} {'bgsub-median':>13} {'seqs':>5} {'frames':>7}")
        for bg, r in video_table.items():
            print(f"{bg:<16} {r['unet']:>7.3f} {r['bgsub-median']:>13.3f} {r['sequences']:>5} {r['frames']:>7}")
    ok_iou = table["all"]["unet"] >= TARGET_IOU
    moving = [bg for bg in BACKGROUNDS if "moving" in bg]
    ok_moving = all(table[bg]["unet"] > max(table[bg]["bgsub-median"], table[bg]["bgsub-mog2"]) for bg in moving)
    print(f"\nU-Net mean IoU >= {TARGET_IOU}: {'yes' if ok_iou else 'NO'}; "
          f"U-Net beats background subtraction on moving backgrounds: {'yes' if ok_moving else 'NO'}")
    print(f"weights {weights} ({info['weights_bytes'] / 1024:.0f} KiB, {info['parameters']} parameters)")
    if args.json:
        with atomic_write(args.json, "w") as fh:
            json.dump({"settings": info, "summary": table, "sequences": rows, "video_summary": video_table,
                       "video_sequences": video_rows,
                       "passed": {"mean_iou": ok_iou, "beats_bgsub_moving": ok_moving}}, fh, indent=2)
        print(f"wrote {args.json}")
    return 0 if (ok_iou and ok_moving) or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
