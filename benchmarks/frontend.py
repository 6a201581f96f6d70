"""Frames per second of the real front end, per stage and end to end, at 720p.

Scenes (all 1280x720, written to MJPG .avi first so that decoding is real):

* ``4 people``  - ``four_walkers.mp4`` (portrait 480x854) cropped to the 16:9 band that
  holds the four walkers over the clip (480x270) and scaled to 1280x720, as a landscape
  720p recording of them would look (people 150-500 px tall);
* ``1 person``  - the same, with every column outside one walker's box greyed out;
* ``street``    - ``street_crowd.avi`` as it is (1280x720, 10-20 people at once).

Stages: decode (reading the video), detection (HOG + BlazePose proposals and their
verification by the landmark model, run every 10 frames and while a track is lost),
pose (the landmark model on every track's ROI: keypoints + mask), segmentation (instance
masks), tracking (association, duplicates, bookkeeping), pretreatment (OpenGait
``[T, 64, 64]`` of every track) and embedding (every track through a silhouette model:
the shipped default model if there is one, else a GaitSet). Each stage is reported in
ms per video frame and as the frames/s it alone would allow; end to end = video frames /
the sum of all stages.

Usage::

    python benchmarks/frontend.py [--frames 150] [--threads 2] [--json benchmarks/results/frontend.json]
    python benchmarks/frontend.py --step 2 --detect-every 10 --lost-detect-every 6   # every 2nd frame
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

REPO = Path(__file__).resolve().parents[1]
STAGES = ("decode", "detection", "pose", "segmentation", "tracking", "pretreatment", "embedding")


def shared_video_dir() -> Path:
    for base in (os.environ.get("GAIT_TF_SHARED_DIR"), REPO.parent / "shared", REPO / "shared"):
        if base and (Path(base) / "data" / "real_video" / "four_walkers.mp4").is_file():
            return Path(base) / "data" / "real_video"
    sys.exit("benchmarks/frontend.py: ../shared/data/real_video/four_walkers.mp4 not found")


def band_clip(src, frames, band, keep_box=None):
    """Rows ``band = (y0, y1)`` of ``src``'s frames (full width), scaled to 1280x720; with
    ``keep_box`` (frame index -> box in source px) the columns outside it are greyed."""
    from gait_tf.video.readers import open_video

    out = []
    y0, y1 = band
    for i, frame in open_video(src, max_frames=frames).iter_indexed():
        crop = frame[y0:y1].copy()
        if keep_box is not None:
            x0, _, x1, _ = keep_box(i)
            pad = 0.3 * (x1 - x0)
            crop[:, :int(max(0, x0 - pad))] = 127
            crop[:, int(min(crop.shape[1], x1 + pad)):] = 127
        out.append(cv2.resize(crop, (1280, 720), interpolation=cv2.INTER_LINEAR))
    return out


def embed_model():
    """``(name, model)``: the shipped default silhouette model, or a GaitSet (random weights:
    the cost is the same)."""
    try:
        from gait_tf import pretrained

        return "default", pretrained.load()
    except Exception:
        from gait_tf import models

        return "gaitset (random)", models.create("gaitset")


def run_scene(name, path, model, threads, step=1, **tracker_kwargs):
    from gait_tf.evaluation.embed import model_embed_fn
    from gait_tf.video.frontend import track_people
    from gait_tf.video.readers import open_video

    res = track_people(path, num_threads=threads, step=step, **tracker_kwargs)
    t = {k.removesuffix("_s"): v for k, v in res.timings.items() if k.endswith("_s") and k != "total_s"}
    t0 = time.perf_counter()
    seqs = [p.pretreated()[0] for p in res.people]
    t["pretreatment"] = time.perf_counter() - t0
    embed = model_embed_fn(model)
    embed(np.zeros((30, 64, 64), np.uint8))  # warm-up (graph building), not counted
    t0 = time.perf_counter()
    for seq in seqs:
        if len(seq):
            embed(seq)
    t["embedding"] = time.perf_counter() - t0
    # per *video* frame: with step K the tracker sees every K-th frame, the video is still
    # decoded (and played) whole
    n = open_video(path).frame_count or res.n_frames * step
    row = {"scene": name, "frames": n, "processed_frames": res.n_frames, "step": step, "tracks": len(res.people),
           "max_people_per_frame": int(max(np.bincount(np.concatenate([p.frames for p in res.people]))))
           if res.people else 0,
           "ms_per_frame": {k: 1000 * t[k] / n for k in STAGES},
           "stage_fps": {k: (n / t[k] if t[k] > 0 else float("inf")) for k in STAGES},
           "end_to_end_fps": n / sum(t[k] for k in STAGES),
           "landmark_runs_per_frame": res.stats["landmark_runs"] / n,
           "detections": res.stats["detections"]}
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=150, help="frames per scene (default 150)")
    p.add_argument("--threads", type=int, default=2, help="LiteRT threads (default 2)")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--detect-every", type=int, default=None,
                   help="tracker: run the person finder every N frames (default: the tracker's)")
    p.add_argument("--lost-detect-every", type=int, default=None,
                   help="tracker: ... and every N frames while a track is lost (default: the tracker's)")
    p.add_argument("--scenes", default="1 person,4 people,street", help="comma-separated scenes to run")
    p.add_argument("--step", type=int, default=1,
                   help="track on every K-th video frame (gait-tf silhouettes --step K); figures stay per video frame")
    args = p.parse_args(argv)
    tracker_kwargs = {k: v for k, v in (("detect_every", args.detect_every),
                                        ("lost_detect_every", args.lost_detect_every)) if v is not None}
    wanted = set(args.scenes.split(","))

    from gait_tf.video.frontend import track_people
    from gait_tf.video.writers import write_video

    videos = shared_video_dir()
    model_name, model = embed_model()
    # one walker's box per frame, from a front-end run over the source
    ref = track_people(videos / "four_walkers.mp4", max_frames=args.frames)
    walker = max(ref.people, key=lambda q: len(q))
    boxes = {int(f): b for f, b in zip(walker.frames, walker.boxes)}
    first = walker.boxes[0]

    def keep_box(i):
        return boxes.get(i, first)

    # the 16:9 band (full width) centred on the walkers over the clip
    allb = np.concatenate([q.boxes for q in ref.people])
    width = ref.frame_shape[1]
    band_h = round(width * 9 / 16)
    centre = (allb[:, 1].min() + allb[:, 3].max()) / 2
    y0 = int(np.clip(centre - band_h / 2, 0, ref.frame_shape[0] - band_h))
    band = (y0, y0 + band_h)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        scenes = [("1 person", band_clip(videos / "four_walkers.mp4", args.frames, band, keep_box)),
                  ("4 people", band_clip(videos / "four_walkers.mp4", args.frames, band)), ("street", None)]
        for name, clip in scenes:
            if name not in wanted:
                continue
            if clip is None:
                path = videos / "street_crowd.avi"
            else:
                path = Path(tmp) / f"{name.replace(' ', '_')}.avi"
                write_video(path, clip, fps=30)
            if clip is None:
                from gait_tf.video.readers import open_video

                clip_path = Path(tmp) / "street.avi"
                write_video(clip_path, (f for _, f in zip(range(args.frames), open_video(path))), fps=50)
                path = clip_path
            rows.append(run_scene(name, path, model, args.threads, step=args.step, **tracker_kwargs))
            print(f"  {name}: done", file=sys.stderr)

    head = f"{'scene (720p)':<12} {'tracks':>6} {'max/frame':>9} " + " ".join(f"{s[:8]:>8}" for s in STAGES) + \
        f" {'end-to-end':>10}"
    print(f"front end, ms per video frame (stage alone: frames/s), {args.frames} frames, step {args.step}, "
          f"{args.threads} LiteRT threads, embedding: {model_name}, tracker {tracker_kwargs or 'defaults'}")
    print(head)
    for r in rows:
        cells = " ".join(f"{r['ms_per_frame'][s]:8.1f}" for s in STAGES)
        print(f"{r['scene']:<12} {r['tracks']:>6} {r['max_people_per_frame']:>9} {cells} {r['end_to_end_fps']:7.1f} fps")
    print(f"{'':<12} {'':>6} {'':>9} " + " ".join(
        f"{min(r['stage_fps'][s], 9999):8.0f}" for r in rows if r["scene"] == "4 people" for s in STAGES)
        + "  (4 people: stage alone, fps)")
    result = {"benchmark": "frontend", "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                   "python": platform.python_version()},
              "frames": args.frames, "step": args.step, "threads": args.threads, "tracker": tracker_kwargs, "embedding_model": model_name, "rows": rows}
    if args.json:
        sys.path.insert(0, str(REPO))
        from gait_tf.utils import write_json

        write_json(args.json, result)
        print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
