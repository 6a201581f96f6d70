"""``gait-tf watch`` on a stream: latency to a person's first answer, and sustained frames/s.

``four_walkers.mp4`` (480x854, 235 frames at 30 fps, four men walking towards the camera)
is played as a stream through :class:`gait_tf.video.stream.FrameStream` into
:class:`gait_tf.video.watch.Watcher` - the code ``gait-tf watch`` runs - in two modes:

* ``every frame``: the file is read as fast as the front end takes it (no frame dropped):
  the front end's sustained throughput;
* ``real time``: the file is delivered at its own 30 fps, as a camera would (``--realtime``):
  frames the front end cannot keep up with are dropped from the 4-frame buffer, so this
  is what a live camera gets on this machine.

Per person track: the latency from the track's first frame (the first frame the front end
saw the person in) to its first answer, in video frames and in wall seconds (from the
moment that first frame came out of the decoder to the moment the answer was made; it
includes waiting in the buffer, the front end on every frame since, and the embedding).
Sustained frames/s = frames processed / wall time from the first frame to the end (the
model is loaded and warmed up before). The gallery holds 100 random subjects (the cost of
an answer does not depend on who is in it). The model is the shipped default if there is
one, else a full-size GaitSet with random weights (the same cost).

Usage::

    python benchmarks/watch.py [--frames 235] [--window 60] [--update-every 30] \\
        [--modes every,realtime] [--json benchmarks/results/watch.json]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
MODES = {"every": ("every frame", False), "realtime": ("real time", True)}


def shared_video() -> Path:
    for base in (os.environ.get("GAIT_TF_SHARED_DIR"), REPO.parent / "shared", REPO / "shared"):
        if base and (Path(base) / "data" / "real_video" / "four_walkers.mp4").is_file():
            return Path(base) / "data" / "real_video" / "four_walkers.mp4"
    sys.exit("benchmarks/watch.py: ../shared/data/real_video/four_walkers.mp4 not found")


def embed_model():
    """``(name, model)``: the shipped default silhouette model, or a full-size GaitSet (random weights)."""
    try:
        from gait_tf import pretrained

        return "default", pretrained.load()
    except Exception:  # noqa: BLE001 - no shipped model yet
        from gait_tf import models

        return "gaitset (random weights)", models.create("gaitset")


def run_mode(mode, video, embed, gallery, args):
    from gait_tf.video.frontend import default_tracker
    from gait_tf.video.stream import Frame, FrameStream
    from gait_tf.video.watch import Watcher

    label, realtime = MODES[mode]
    stream = FrameStream(video, realtime=realtime, buffer=4)
    watcher = Watcher(gallery, embed, tracker=default_tracker(num_threads=args.threads), window=args.window,
                      update_every=args.update_every)
    events = []
    t0 = None
    for item in stream.items():
        if not isinstance(item, Frame):
            continue
        if t0 is None:
            t0 = item.arrival
        events += watcher.process(item)
        if watcher.stats["frames"] >= args.frames:
            break
    stream.close()
    events += watcher.finish()
    wall = time.monotonic() - t0
    n = watcher.stats["frames"]
    firsts = [e for e in events if e["event"] == "identity" and "latency_frames" in e]
    tracks = [{"track_id": e["track_id"], "first_frame": e["first_frame"], "answer_frame": e["frame"],
               "latency_frames": e["latency_frames"], "latency_s": e["latency_s"],
               "n_silhouettes": e["n_silhouettes"]} for e in sorted(firsts, key=lambda e: e["track_id"])]
    lat_f = [t["latency_frames"] for t in tracks]
    lat_s = [t["latency_s"] for t in tracks]
    return {"mode": label, "realtime": realtime, "frames_processed": n, "frames_read": stream.stats["read"],
            "frames_dropped": stream.stats["dropped"], "wall_s": wall, "sustained_fps": n / wall,
            "frontend_ms_per_frame": 1000 * watcher.stats["frontend_s"] / n,
            "embed_ms_per_answer": 1000 * watcher.stats["embed_s"] / max(watcher.stats["answers"], 1),
            "embed_share": watcher.stats["embed_s"] / wall,
            "answers": watcher.stats["answers"], "people_answered": len(tracks), "tracks": tracks,
            "track_ids": watcher.stats["tracks"],
            "detections_per_frame": watcher.tracker.stats["detections"] / n,
            "landmark_runs_per_frame": watcher.tracker.stats["landmark_runs"] / n,
            "latency_frames_median": float(np.median(lat_f)) if lat_f else None,
            "latency_s_median": float(np.median(lat_s)) if lat_s else None,
            "latency_s_max": max(lat_s) if lat_s else None}


def main(argv=None):
    from gait_tf.argtypes import positive_int
    from gait_tf.video.watch import UPDATE_EVERY, WINDOW

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=positive_int, default=235, help="frames to watch (default 235: the whole clip)")
    p.add_argument("--window", type=positive_int, default=WINDOW, help=f"silhouettes per answer (default {WINDOW})")
    p.add_argument("--update-every", type=positive_int, default=UPDATE_EVERY,
                   help=f"new silhouettes between answers (default {UPDATE_EVERY}, as gait-tf watch)")
    p.add_argument("--threads", type=positive_int, default=2, help="LiteRT threads (default 2)")
    p.add_argument("--modes", default="every,realtime", help="comma-separated: every, realtime")
    p.add_argument("--json", metavar="PATH", default=str(REPO / "benchmarks" / "results" / "watch.json"),
                   help="write the results as JSON (default benchmarks/results/watch.json)")
    args = p.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        p.error(f"--modes: unknown {bad}; choose from {', '.join(MODES)}")

    from gait_tf.utils.quiet import quiet_tensorflow

    quiet_tensorflow()
    from gait_tf.evaluation.embed import model_embed_fn, model_identity
    from gait_tf.gallery import Gallery

    video = shared_video()
    model_name, model = embed_model()
    embed = model_embed_fn(model)
    shape = embed(np.zeros((10, 64, 64), np.uint8)).shape  # also the warm-up
    embed(np.zeros((args.window, 64, 64), np.uint8))
    rng = np.random.default_rng(0)
    gallery = Gallery(model_identity(model), shape)
    gallery.enroll_many(rng.standard_normal((100, *shape)).astype(np.float32), [f"s{i:03d}" for i in range(100)])
    load_start = os.getloadavg()
    rows = []
    for mode in modes:
        print(f"  {MODES[mode][0]}: running", file=sys.stderr, flush=True)
        rows.append(run_mode(mode, video, embed, gallery, args))
    load_end = os.getloadavg()

    print(f"gait-tf watch on {video.name} played as a stream ({args.frames} frames at 30 fps), model {model_name}, "
          f"window {args.window}, update every {args.update_every}; {os.cpu_count()} CPUs, load average "
          f"{load_start[0]:.1f} at start, {load_end[0]:.1f} at end")
    print(f"{'mode':<12} {'processed':>9} {'dropped':>7} {'sustained':>10} {'front end':>10} {'embed':>9} "
          f"{'answers':>7} {'people':>6} {'latency to first answer (median, max)':>40}")
    for r in rows:
        lat = (f"{r['latency_frames_median']:.0f} frames, {r['latency_s_median']:.2f} s (max {r['latency_s_max']:.2f} s)"
               if r["latency_s_median"] is not None else "no answer")
        print(f"{r['mode']:<12} {r['frames_processed']:>9} {r['frames_dropped']:>7} {r['sustained_fps']:>6.2f} fps "
              f"{r['frontend_ms_per_frame']:>7.0f} ms {r['embed_ms_per_answer']:>6.0f} ms {r['answers']:>7} "
              f"{r['people_answered']:>6} "
              f"{lat:>40}")
    print("front end: ms per processed frame; embed: ms per answer (the window through the model); "
          + "; ".join(f"{r['mode']}: {100 * r['embed_share']:.0f} % of the time embedding" for r in rows))
    print("tracker: " + "; ".join(f"{r['mode']}: {r['track_ids']} track ids, detector on {100 * r['detections_per_frame']:.0f} % "
                                  f"of the frames, {r['landmark_runs_per_frame']:.1f} landmark runs per frame" for r in rows))
    print("per person (track: first frame -> first answer frame, latency frames / s):")
    for r in rows:
        cells = ", ".join(f"{t['track_id']}: {t['first_frame']}->{t['answer_frame']} {t['latency_frames']} / "
                          f"{t['latency_s']:.2f} s" for t in r["tracks"])
        print(f"  {r['mode']:<11} {cells}")
    result = {"benchmark": "watch", "video": video.name, "frames": args.frames, "window": args.window,
              "update_every": args.update_every, "threads": args.threads, "model": model_name,
              "gallery_subjects": 100,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                          "load_average_start": list(load_start), "load_average_end": list(load_end)},
              "rows": rows}
    if args.json:
        from gait_tf.utils import write_json

        write_json(args.json, result)
        print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
