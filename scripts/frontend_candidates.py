#!/usr/bin/env python
"""Compare person detectors on the real clips (the measurement behind docs/video.md).

For every ``--every``-th frame of ``four_walkers.mp4`` and ``street_crowd.avi`` each
candidate proposes people; every proposal is verified by the BlazePose landmark model
(presence >= 0.5, torso keypoints >= 0.5, as the front end does). Reported per candidate:

* ``found``: reference walkers matched by a verified person (keypoint-box IoU >= 0.3);
* ``stray``: raw proposals that overlap no reference walker (before verification);
* ``false``: verified people that match no reference walker;
* ``ms``: proposal time per frame (verification not included).

References: ``four_walkers`` - the four tracks of the full front end (checked by eye in
the contact sheet of docs/video.md); ``street_crowd`` - the front end's tracks taller
than 100 px in that frame ("clearly visible walkers").

Usage::

    python scripts/frontend_candidates.py [--every 10] [--json results/frontend_candidates.json]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402


def video_dir():
    for base in (os.environ.get("GAIT_TF_SHARED_DIR"), REPO.parent / "shared", REPO / "shared"):
        if base and (Path(base) / "data" / "real_video" / "four_walkers.mp4").is_file():
            return Path(base) / "data" / "real_video"
    sys.exit("../shared/data/real_video not found")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--every", type=int, default=10)
    p.add_argument("--json")
    args = p.parse_args(argv)

    from gait_tf.detection.blazepose import PoseDetector, PoseLandmarker
    from gait_tf.detection.hog import HOGPeopleDetector, person_box_of
    from gait_tf.detection.people import PersonFinder
    from gait_tf.detection.roi import ROI
    from gait_tf.segmentation.tracking import box_iou
    from gait_tf.video.frontend import track_people
    from gait_tf.video.readers import open_video

    lm = PoseLandmarker()
    det = PoseDetector()
    hog = HOGPeopleDetector(min_height=80)
    verifier = PersonFinder("hog", landmarker=lm)

    candidates = {
        "BlazePose detector, whole frame": lambda img: [d.roi() for d in det.detect(img)],
        "BlazePose detector, tiles 1+2x2+3x3": lambda img: [d.roi() for d in det.detect_tiled(img)],
        "OpenCV HOG (up-sampled for 80 px)": lambda img: [ROI.from_box(person_box_of(b), 1.4)
                                                          for b in hog.detect(img)[0]],
        "HOG + BlazePose whole frame (default)": lambda img: (
            [ROI.from_box(person_box_of(b), 1.4) for b in hog.detect(img)[0]] + [d.roi() for d in det.detect(img)]),
    }
    rows = []
    for clip in ("four_walkers.mp4", "street_crowd.avi"):
        path = video_dir() / clip
        ref = track_people(path)
        refs = {}
        for q in ref.people:
            for f, b in zip(q.frames, q.boxes):
                if clip.startswith("four") or b[3] - b[1] >= 100:
                    refs.setdefault(int(f), []).append(b)
        frames = [(i, f) for i, f in open_video(path).iter_indexed() if i % args.every == 0]
        for name, propose in candidates.items():
            found = total = stray = false = 0
            ms = []
            for i, img in frames:
                gt = np.array(refs.get(i, []), np.float32).reshape(-1, 4)
                t0 = time.perf_counter()
                rois = propose(img)
                ms.append(1000 * (time.perf_counter() - t0))
                inner = np.array([r.bounds() for r in rois], np.float32).reshape(-1, 4)
                if len(gt) and len(inner):
                    stray += int((box_iou(inner, gt).max(1) < 0.1).sum())
                else:
                    stray += len(inner)
                people = []
                for r in rois:
                    v = verifier.verify(img, r)
                    if v is not None:
                        people.append(v.box())
                pb = np.array(people, np.float32).reshape(-1, 4)
                total += len(gt)
                if len(gt) and len(pb):
                    iou = box_iou(gt, pb)
                    found += int((iou.max(1) >= 0.3).sum())
                    false += int((iou.max(0) < 0.3).sum())
                else:
                    false += len(pb)
            rows.append({"clip": clip, "candidate": name, "frames": len(frames), "walkers": total, "found": found,
                         "stray_proposals": stray, "false_people": false, "ms_per_frame": float(np.mean(ms))})
            print(f"{clip:<17} {name:<40} found {found:>3}/{total:<3} stray {stray:>4} false {false:>3} "
                  f"{np.mean(ms):7.1f} ms", flush=True)
    if args.json:
        from gait_tf.utils import write_json

        write_json(args.json, {"every": args.every, "rows": rows})
    return rows


if __name__ == "__main__":
    main()
