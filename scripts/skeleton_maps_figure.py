#!/usr/bin/env python
"""Figure of SkeletonGait's input on synthetic walkers: per row one sequence (subject 1,
views 000 and 090, nm-01 and cl-01), per frame the RGB frame with its COCO-17 keypoints
(green: visible, red: hidden), the limb map, the joint map (gait_tf.data.heatmaps, model
input 64 x 44) and the pretreated silhouette.

    python scripts/skeleton_maps_figure.py --out docs/figures/skeleton_maps.png
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    import cv2
    import numpy as np

    from gait_tf.data.heatmaps import skeleton_maps
    from gait_tf.data.pretreat import cut_width, pretreat_sequence
    from gait_tf.synth import WalkerGenerator
    from gait_tf.utils.atomic import atomic_write

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--frames", type=int, nargs="*", default=[0, 6, 12])
    args = ap.parse_args(argv)
    gen = WalkerGenerator(seed=0, image_size=(240, 320))
    rows = []
    for cond, view in (("nm-01", "000"), ("nm-01", "090"), ("cl-01", "090")):
        seq = gen.sequence(1, cond, view, n_frames=max(args.frames) + 1)
        maps = (skeleton_maps(seq.keypoints).numpy() * 255).astype(np.uint8)
        sils = cut_width(pretreat_sequence(seq.silhouettes))
        tiles = []
        for t in args.frames:
            img = seq.rgb[t].copy()
            for x, y, score in seq.keypoints[t]:
                cv2.circle(img, (int(round(x)), int(round(y))), 3, (0, 200, 0) if score > 0.9 else (230, 0, 0), -1)
            ys, xs = np.nonzero(seq.masks[t])
            y0, y1 = max(ys.min() - 10, 0), min(ys.max() + 10, img.shape[0])
            xc = int(xs.mean())
            half = (y1 - y0) * 44 // 128
            crop = img[y0:y1, max(xc - half, 0):xc + half]
            crop = cv2.resize(crop, (88, 128))
            grey = [cv2.cvtColor(cv2.resize(m, (88, 128), interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2RGB)
                    for m in (maps[t, ..., 0], maps[t, ..., 1], sils[t])]
            tiles += [crop] + grey
        rows.append(np.concatenate([np.pad(tile, ((2, 2), (2, 2), (0, 0)), constant_values=128) for tile in tiles], 1))
    fig = np.concatenate(rows, 0)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(fig, cv2.COLOR_RGB2BGR))
    with atomic_write(args.out, "wb") as fh:
        fh.write(buf.tobytes())
    print(args.out, fig.shape)
    return 0


if __name__ == "__main__":
    sys.exit(main())
