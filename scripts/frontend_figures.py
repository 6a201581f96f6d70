#!/usr/bin/env python
"""The figures of docs/video.md: the real front end on the real clips and photos.

Writes into ``--out`` (default ``docs/figures``):

* ``frontend_four_walkers.png`` / ``frontend_street_crowd.png``: frames of the overlay
  (every track's mask, box, id and score, skeleton);
* ``frontend_four_walkers_tracks.png`` / ``frontend_street_crowd_tracks.png``: the
  contact sheets (one row per track: RGB crops with the mask outline, pretreated
  silhouettes);
* ``pose_coco.png``: ``gait-tf pose``'s skeletons on the 20 COCO photos, and
  ``pose_coco_labels.png``: one photo at full size with joint names and probabilities.

Usage::

    python scripts/frontend_figures.py [--out docs/figures]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def shared():
    for base in (os.environ.get("GAIT_TF_SHARED_DIR"), REPO.parent / "shared", REPO / "shared"):
        if base and (Path(base) / "data" / "real_video").is_dir():
            return Path(base) / "data"
    sys.exit("../shared/data not found")


def save(path, rgb, max_width=1800):
    """A 256-colour PNG (a quarter of the bytes of a true-colour one; fine for these figures)."""
    from PIL import Image

    h, w = rgb.shape[:2]
    if w > max_width:
        rgb = cv2.resize(rgb, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_AREA)
    Image.fromarray(np.ascontiguousarray(rgb)).quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


def overlay_grid(src, res, n, cols, height):
    from gait_tf.video.people_figures import people_overlay_frames

    picks = set(np.linspace(0, res.n_frames - 1, n).round().astype(int).tolist())
    tiles = []
    for i, frame in enumerate(people_overlay_frames(src, res)):
        if i in picks:
            h, w = frame.shape[:2]
            tile = cv2.resize(frame, (round(w * height / h), height), interpolation=cv2.INTER_AREA)
            cv2.putText(tile, f"frame {i}", (6, height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                        cv2.LINE_AA)
            tiles.append(tile)
    rows = [np.hstack(tiles[r:r + cols]) for r in range(0, len(tiles), cols)]
    return np.vstack([np.pad(r, ((0, 0), (0, rows[0].shape[1] - r.shape[1]), (0, 0))) for r in rows])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(REPO / "docs" / "figures"))
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from gait_tf.pose.blazepose_backend import BlazePoseNetwork
    from gait_tf.pose.drawing import draw_people
    from gait_tf.video.frontend import track_people
    from gait_tf.video.people_figures import contact_sheet

    data = shared()
    for clip, stem, n, cols, height in (("four_walkers.mp4", "frontend_four_walkers", 6, 6, 480),
                                        ("street_crowd.avi", "frontend_street_crowd", 6, 3, 300)):
        src = data / "real_video" / clip
        res = track_people(src)
        print(f"{clip}: {len(res.people)} tracks, {res.timings['frames_per_s']:.1f} frames/s")
        save(out / f"{stem}.png", overlay_grid(src, res, n, cols, height))
        save(out / f"{stem}_tracks.png", contact_sheet(src, res, columns=8, cell_height=96))

    from PIL import Image

    net = BlazePoseNetwork()
    cells = []
    for path in sorted((data / "real_images").glob("*.jpg")):
        img = np.asarray(Image.open(path).convert("RGB"))
        drawn = draw_people(img, net.estimate_people(img), labels=False)
        h, w = drawn.shape[:2]
        s = 300 / max(h, w)
        small = cv2.resize(drawn, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        cell = np.full((300, 300, 3), 255, np.uint8)
        cell[:small.shape[0], :small.shape[1]] = small
        cells.append(cell)
    grid = np.vstack([np.hstack(cells[r:r + 5]) for r in range(0, len(cells), 5)])
    save(out / "pose_coco.png", grid)
    img = np.asarray(Image.open(data / "real_images" / "COCO_val2014_000000000459.jpg").convert("RGB"))
    save(out / "pose_coco_labels.png", draw_people(img, net.estimate_people(img)))


if __name__ == "__main__":
    main()
