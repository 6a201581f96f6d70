"""``gait-tf silhouettes VIDEO -o DIR``: detect, segment and track the people of a video.

With ``--all-tracks`` every person gets a folder ``DIR/tracks/<id>/`` with the pretreated
``silhouettes.pkl`` (uint8 [T, 64, 64], OpenGait's layout) and its raw masks, plus
``DIR/tracks.json`` (frames, boxes, person scores, mask areas and keypoints per track),
an overlay video and a contact sheet. Without it, one person is followed (``--track``)
and written as CASIA-B-style silhouettes (one grey PNG per frame, 0 / 255, named
``<video stem>-<frame number>.png``), ``silhouettes.json``, optionally the pickle
(``--pickle``) and an overlay (``--overlay``). The default method, ``blazepose``, is the
real front end (HOG + BlazePose detection, BlazePose instance masks, landmark tracking);
``bgsub`` and ``unet`` are the background-subtraction and synthetic-trained segmenters.
"""
from __future__ import annotations

import sys
from pathlib import Path

from gait_tf.argtypes import non_negative_float, positive_float, positive_int


def add_gallery_arguments(p, top_k_help):
    """The options of the commands that match walkers against a gallery (``identify-video``,
    ``watch``): ``--gallery``, ``--model`` (default: the shipped default model),
    ``--model-name``, ``--top-k``, ``--threshold``, ``--closed-set``."""
    p.add_argument("--gallery", required=True, metavar="G", help="gallery file (.npz, from Gallery.save)")
    p.add_argument("--model", default="default", metavar="M",
                   help="silhouette model (.keras) that made the gallery (default: the shipped default model)")
    p.add_argument("--model-name", metavar="NAME",
                   help="model name to check against the gallery (default: the Keras model's name)")
    p.add_argument("--top-k", type=positive_int, default=5, help=top_k_help)
    p.add_argument("--threshold", type=non_negative_float,
                   help="open-set distance threshold (default: the gallery's calibrated one)")
    p.add_argument("--closed-set", action="store_true", help="never answer unknown (ignore any threshold)")


def add_video_arguments(p):
    """Segmentation/tracking options shared with ``identify-video``."""
    p.add_argument("video", help="video file (.mp4, .avi, .gif, ...), image folder or .npy clip")
    p.add_argument("--method", choices=("blazepose", "bgsub", "unet"), default="blazepose",
                   help="blazepose (default): real people detection, instance masks and tracking; "
                        "bgsub: background subtraction (static camera, synthetic-like scenes); unet: "
                        "segmenter trained on synthetic walkers")
    p.add_argument("--detector", choices=("hog+blazepose", "hog", "blazepose"), default="hog+blazepose",
                   help="--method blazepose: person proposals (default hog+blazepose)")
    p.add_argument("--min-height", type=positive_float, default=80.0, metavar="PX",
                   help="--method blazepose: smallest person to detect, in pixels (default 80)")
    p.add_argument("--bg-method", choices=("median", "mog2"), default="median",
                   help="background model of --method bgsub (default: median)")
    p.add_argument("--background", metavar="PATH",
                   help="--method bgsub: video, GIF, image folder or .npy of the empty scene to fit the "
                        "background on (default: the video itself; needed when the walker does not cross "
                        "the picture)")
    p.add_argument("--segmenter", metavar="KERAS",
                   help="U-Net weights for --method unet (default: the shipped weights)")
    p.add_argument("--track", default="largest",
                   help="person to follow: 'largest' (largest total area over the video) or a track id")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="read at most N frames")
    p.add_argument("--step", type=positive_int, default=1, metavar="K", help="use every K-th frame (default 1)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (by default one is shown on stderr for videos of 100+ frames)")


def parse_track(value):
    from gait_tf.errors import ConfigError

    if value in (None, "largest"):
        return "largest"
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"--track must be 'largest' or a track id (int), got {value!r}") from None


def run_extraction(args):
    from gait_tf.errors import ConfigError
    from gait_tf.video.pipeline import extract_silhouettes

    if args.step < 1:
        raise ConfigError(f"--step must be >= 1, got {args.step}")
    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError(f"--max-frames must be >= 1, got {args.max_frames}")
    kwargs = {"bg_method": args.bg_method, "background": args.background} if args.method == "bgsub" else {}
    if args.method == "blazepose":
        kwargs = {"detector": args.detector, "min_height": args.min_height}
    return extract_silhouettes(args.video, args.method, segmenter=args.segmenter, track=parse_track(args.track),
                               max_frames=args.max_frames, step=args.step,
                               progress=False if args.no_progress else "auto", **kwargs)


def print_tracks(result, file=None):
    file = file or sys.stdout
    print(f"{result.source}: {result.n_frames} frames, {len(result.tracks)} track(s) "
          f"(method {result.method})", file=file)
    for t in result.tracks:
        mark = "*" if t["track_id"] == result.track_id else " "
        print(f" {mark} track {t['track_id']}: frames {t['first_frame']}-{t['last_frame']} "
              f"({t['n_frames']} seen), mean area {t['mean_area']:.0f} px", file=file)


def register(subparsers):
    p = subparsers.add_parser(
        "silhouettes", help="video -> binary silhouettes (PNG per frame), pretreated pickle, overlay",
        description=__doc__.split("\n\n")[1].replace("``", ""))
    add_video_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument("--pickle", action="store_true",
                   help="also write the pretreated uint8 [T, 64, 64] OpenGait pickle <stem>.pkl")
    p.add_argument("--overlay", metavar="PATH", help="write an overlay .gif/.mp4/.avi (mask + box on the frames); "
                   "with --all-tracks the default is DIR/overlay.mp4")
    p.add_argument("--all-tracks", action="store_true",
                   help="--method blazepose: write every person track (DIR/tracks/<id>/, DIR/tracks.json, "
                        "overlay, contact sheet)")
    p.add_argument("--no-figures", action="store_true", help="with --all-tracks: no overlay and contact sheet")
    p.set_defaults(func=main)


def main(args):
    import cv2
    import numpy as np

    from gait_tf.errors import ConfigError, VideoError
    from gait_tf.utils.atomic import atomic_write, write_json

    if args.overlay and Path(args.overlay).suffix.lower() not in (".gif", ".mp4", ".avi"):
        raise VideoError(f"--overlay {args.overlay}: use a .gif, .mp4 or .avi file name")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"-o {out}: exists and is not a folder")
    if args.all_tracks:
        return all_tracks(args, out)
    result = run_extraction(args)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(result.source).stem if not result.source.startswith("<") else "video"
    for k, frame in enumerate(result.iter_frames()):
        ok, buf = cv2.imencode(".png", frame)
        if not ok:  # pragma: no cover - cv2 encodes any uint8 grey image
            raise VideoError(f"could not encode silhouette {k} as PNG")
        # file numbers are 1-based frame numbers of the original video (also with --step)
        with atomic_write(out / f"{stem}-{int(result.frame_indices[k]) * args.step + 1:04d}.png") as fh:
            fh.write(buf.tobytes())
    summary = result.summary()
    summary["frame_indices"] = [int(i) for i in result.frame_indices]
    summary["boxes"] = np.round(result.boxes, 2).tolist()
    if args.pickle:
        from gait_tf.data.io import write_pickle

        seq = result.pretreated(min_frames=1)
        write_pickle(out / f"{stem}.pkl", seq)
        summary["pickle"] = {"path": str(out / f"{stem}.pkl"), "frames": int(len(seq))}
    write_json(out / "silhouettes.json", summary)
    print_tracks(result)
    print(f"wrote {len(result)} silhouettes of track {result.track_id} to {out}")
    if args.pickle:
        print(f"wrote pretreated {summary['pickle']['frames']}x64x64 pickle {summary['pickle']['path']}")
    if args.overlay:
        from gait_tf.video.pipeline import write_overlay

        n = write_overlay(args.overlay, args.video, result, max_frames=args.max_frames, step=args.step)
        print(f"wrote overlay ({n} frames) {args.overlay}")
    return 0


def run_people(args):
    """The real front end over ``args.video`` -> :class:`~gait_tf.video.frontend.PeopleResult`."""
    from gait_tf.errors import ConfigError
    from gait_tf.video.frontend import track_people

    if args.method != "blazepose":
        raise ConfigError(f"--all-tracks needs --method blazepose (got {args.method}): background subtraction and "
                          "the U-Net give one foreground, not separate people")
    return track_people(args.video, detector=args.detector, min_height=args.min_height, max_frames=args.max_frames,
                        step=args.step, progress=False if args.no_progress else "auto")


def print_people(result, file=None):
    file = file or sys.stdout
    extra = f", {result.corrupt_frames} corrupt frame(s) skipped" if result.corrupt_frames else ""
    print(f"{result.source}: {result.n_frames} frames, {len(result.people)} person track(s){extra}", file=file)
    for p in result.people:
        print(f"  track {p.track_id}: frames {int(p.frames[0])}-{int(p.frames[-1])} ({len(p)} seen), "
              f"person score {p.score:.2f}, mean mask {p.areas.mean():.0f} px", file=file)
    for d in result.dropped:
        print(f"  (dropped track {d['track_id']}: {d['reason']})", file=file)


def all_tracks(args, out):
    from gait_tf.video.people_outputs import write_people

    if args.overlay and Path(args.overlay).suffix.lower() not in (".gif", ".mp4", ".avi"):
        from gait_tf.errors import VideoError

        raise VideoError(f"--overlay {args.overlay}: use a .gif, .mp4 or .avi file name")
    result = run_people(args)
    print_people(result)
    overlay = None if args.no_figures else (args.overlay or "overlay.mp4")
    write_people(result, out, args.video, overlay=overlay, sheet=None if args.no_figures else "contact_sheet.png",
                 max_frames=args.max_frames, step=args.step,
                 extra={"method": "blazepose", "detector": args.detector, "min_height": args.min_height})
    return 0
