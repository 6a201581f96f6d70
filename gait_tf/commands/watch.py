"""``gait-tf watch SOURCE --gallery G``: who is walking past the camera, live.

SOURCE is a webcam index (``0``), a network stream (``rtsp://...``, ``http://...`` MJPEG,
...) or a video file played as a stream. The real front end runs on every frame; once a
tracked person has enough usable silhouettes (MIN_FRAMES) their last --window silhouettes
are embedded and ranked against gallery G, and the answer is printed (or emitted as a JSON
line with --json); it is updated every --update-every new silhouettes and once more when
the person leaves. Memory stays bounded on an endless stream; a network stream that drops
is reconnected with exponential backoff. Ctrl-C (or the end of a file) stops cleanly with a
summary line, exit code 0.
"""
from __future__ import annotations

import json
import sys

from gait_tf.argtypes import non_negative_int, positive_float, positive_int
from gait_tf.commands.silhouettes import add_gallery_arguments


def register(subparsers):
    from gait_tf.video import stream, watch

    p = subparsers.add_parser("watch", help="live identification of every walker of a camera, stream or file",
                              description=__doc__.split("\n\n")[1].replace("``", ""))
    p.add_argument("source", metavar="SOURCE",
                   help="webcam index (0), stream URL (rtsp://, http://, https://, rtmp://, udp://, ...) or video file")
    add_gallery_arguments(p, top_k_help="ranked identities per answer (default 5)")
    p.add_argument("--window", type=positive_int, default=watch.WINDOW, metavar="N",
                   help=f"recent frames kept per person and embedded (default {watch.WINDOW}; at least MIN_FRAMES)")
    p.add_argument("--update-every", type=positive_int, default=watch.UPDATE_EVERY, metavar="K",
                   help=f"answer again after K new silhouettes of a person (default {watch.UPDATE_EVERY})")
    p.add_argument("--detector", choices=("hog+blazepose", "hog", "blazepose"), default="hog+blazepose",
                   help="person proposals (default hog+blazepose)")
    p.add_argument("--min-height", type=positive_float, default=80.0, metavar="PX",
                   help="smallest person to detect, in pixels (default 80)")
    p.add_argument("--threads", type=positive_int, default=2, help="threads of the BlazePose models (default 2)")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames (default: never)")
    p.add_argument("--max-retries", type=non_negative_int, default=stream.MAX_RETRIES, metavar="N",
                   help=f"reconnection attempts in a row when a camera or network stream fails or drops "
                        f"(default {stream.MAX_RETRIES}; 0: none)")
    p.add_argument("--backoff", type=positive_float, default=stream.BACKOFF_S, metavar="S",
                   help=f"wait before the first reconnection attempt, doubled at each (default {stream.BACKOFF_S:g} s)")
    p.add_argument("--max-backoff", type=positive_float, default=stream.MAX_BACKOFF_S, metavar="S",
                   help=f"longest wait between attempts (default {stream.MAX_BACKOFF_S:g} s)")
    p.add_argument("--timeout", type=positive_float, default=stream.TIMEOUT_S, metavar="S",
                   help=f"open/read timeout of network streams (default {stream.TIMEOUT_S:g} s)")
    p.add_argument("--buffer", type=positive_int, default=stream.BUFFER, metavar="N",
                   help=f"frames buffered from a live source; when the front end falls behind the oldest is "
                        f"dropped (default {stream.BUFFER})")
    p.add_argument("--realtime", action="store_true",
                   help="play a file at its own frame rate, as a camera would deliver it (frames the front end "
                        "cannot keep up with are dropped); default: every frame, as fast as it goes")
    p.add_argument("--json", action="store_true", help="one JSON object per line (start, identity, ended, retry, "
                                                       "reconnected, summary)")
    p.set_defaults(func=main)


def main(args):
    import numpy as np

    from gait_tf.errors import ConfigError, GalleryError
    from gait_tf.video.stream import FrameStream, parse_source, quiet_video_logs

    if args.closed_set and args.threshold is not None:
        raise ConfigError("--closed-set and --threshold exclude each other")
    if args.max_backoff < args.backoff:
        raise ConfigError(f"--max-backoff ({args.max_backoff:g} s) must be >= --backoff ({args.backoff:g} s)")
    from gait_tf.video.pipeline import MIN_FRAMES

    if args.window < MIN_FRAMES:
        raise ConfigError(f"--window {args.window}: must be at least MIN_FRAMES ({MIN_FRAMES}) frames, the "
                          "usable silhouettes an answer needs")
    if not getattr(args, "verbose", False):
        quiet_video_logs()
    spec = parse_source(args.source)  # refuse a bad SOURCE before loading anything
    from gait_tf.evaluation.embed import load_model, model_embed_fn
    from gait_tf.gallery import Gallery
    from gait_tf.video.frontend import default_tracker
    from gait_tf.video.pipeline import check_gallery_model, model_name_of
    from gait_tf.video.watch import Watcher

    gallery = Gallery.load(args.gallery)
    model = load_model(args.model)
    name = args.model_name or model_name_of(model)
    check_gallery_model(gallery, name, f"gallery {args.gallery}")
    if gallery.num_subjects == 0:
        raise GalleryError(f"gallery {args.gallery} has no subjects; enroll people first (gait-tf gallery enroll-video)")
    threshold = None if args.closed_set else (args.threshold if args.threshold is not None else ...)
    tracker = default_tracker(args.detector, args.min_height, args.threads)
    embed = model_embed_fn(model)
    embed(np.zeros((MIN_FRAMES, 64, 64), np.uint8))  # warm-up (first call builds the model): answers come on time
    source = FrameStream(spec, max_retries=args.max_retries, backoff=args.backoff, max_backoff=args.max_backoff,
                         timeout=args.timeout, buffer=args.buffer, realtime=args.realtime)
    watcher = Watcher(gallery, embed, tracker=tracker, model_name=name, window=args.window,
                      update_every=args.update_every, top_k=args.top_k, threshold=threshold)
    out = Printer(args, source, gallery, name, threshold)
    return run(source, watcher, out, max_frames=args.max_frames)


def run(source, watcher, out, max_frames=None) -> int:
    """Feed ``source`` (a :class:`~gait_tf.video.stream.FrameStream`) to ``watcher`` until
    the stream ends, ``max_frames`` frames are done, or SIGINT/SIGTERM; print with ``out``."""
    import threading
    import time

    from gait_tf.video.stream import StreamEvent, StreamLost

    stop = threading.Event()
    restore = _catch_signals(stop)
    stopped, lost = "end of stream", None
    t0 = time.monotonic()
    out.start()
    try:
        for item in source.items(stop):
            if isinstance(item, StreamEvent):
                out.stream_event(item)
                if item.kind == "retry":  # the video broke off: its tracks end
                    out.events(watcher.interrupt())
                continue
            out.events(watcher.process(item))
            if max_frames and watcher.stats["frames"] >= max_frames:
                stopped = "max frames"
                break
        if stop.is_set():
            stopped = "interrupted"
    except StreamLost as exc:
        stopped, lost = "stream lost", exc
    finally:
        source.close()
        restore()
    out.events(watcher.finish())
    out.summary(stopped, watcher, source, time.monotonic() - t0)
    if lost is not None:
        print(f"gait-tf watch: error: {lost}", file=sys.stderr, flush=True)
        return 2
    return 0


def _catch_signals(stop):
    """First SIGINT / SIGTERM: set ``stop`` (a clean stop after the current frame); a second
    one acts as usual. Returns a function restoring the previous handlers."""
    import signal

    previous = {}

    def handler(signum, _frame):
        stop.set()
        signal.signal(signum, previous.get(signum, signal.SIG_DFL))

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread: no handlers (the caller stops us)
            pass

    def restore():
        for sig, h in previous.items():
            signal.signal(sig, h)

    return restore


class Printer:
    """Writes the watcher's events: text lines, or JSON lines with ``--json``."""

    def __init__(self, args, source, gallery, model_name, threshold):
        self.json = args.json
        self.source, self.gallery, self.gallery_path = source, gallery, args.gallery
        self.model_name = model_name
        self.threshold = gallery.threshold if threshold is ... else threshold
        self.settings = {"window": args.window, "update_every": args.update_every}

    def _emit(self, obj):
        print(json.dumps(obj), flush=True)

    def start(self):
        spec = self.source.spec
        if self.json:
            self._emit({"event": "start", "source": spec.name, "kind": spec.kind, "fps": self.source.fps,
                        "model": self.model_name, "gallery": str(self.gallery_path),
                        "subjects": self.gallery.num_subjects, "threshold": self.threshold, **self.settings})
            return
        fps = f", {self.source.fps:g} fps" if self.source.fps else ""
        thr = "none (closed set)" if self.threshold is None else f"{self.threshold:.4g}"
        print(f"watching {spec.name} ({spec.kind}{fps}) with model {self.model_name}; gallery {self.gallery_path}: "
              f"{self.gallery.num_subjects} subjects, threshold {thr}; Ctrl-C stops", flush=True)

    def events(self, events):
        for e in events:
            if self.json:
                self._emit(e)
            elif e["event"] == "identity":
                print(format_identity(e), flush=True)
            elif e["event"] == "ended":
                print(f"track {e['track_id']} ended (frames {e['first_frame']}-{e['last_frame']}, "
                      f"{e['answers']} answer(s)): {e['identity']}", flush=True)

    def stream_event(self, ev):
        if self.json:
            self._emit({"event": ev.kind, **ev.info})
            return
        name = self.source.spec.name
        if ev.kind == "retry":
            i = ev.info
            print(f"gait-tf watch: {name}: {i['reason']}; retrying in {i['delay_s']:g} s "
                  f"(attempt {i['attempt']}/{i['max_retries']})", file=sys.stderr, flush=True)
        else:
            print(f"gait-tf watch: {name}: reconnected after {ev.info['attempts']} attempt(s), "
                  f"{ev.info['down_s']:.1f} s without video; tracking starts afresh", file=sys.stderr, flush=True)

    def summary(self, stopped, watcher, source, elapsed):
        st = source.stats
        n = watcher.stats["frames"]
        people = dict(watcher.identities.most_common())
        doc = {"event": "summary", "stopped": stopped, "frames": n, "read": st["read"], "dropped": st["dropped"],
               "corrupt": st["corrupt"], "reconnects": st["reconnects"], "elapsed_s": round(elapsed, 3),
               "frames_per_s": round(n / elapsed, 3) if elapsed > 0 else None, "tracks": watcher.stats["tracks"],
               "people": sum(people.values()), "answers": watcher.stats["answers"], "identities": people}
        if self.json:
            self._emit(doc)
            return
        who = ", ".join(f"{k} {v}" for k, v in people.items()) or "none"
        extra = f", {st['corrupt']} corrupt" if st["corrupt"] else ""
        print(f"stopped ({stopped}): {n} frames in {elapsed:.1f} s, {doc['frames_per_s'] or 0:.2f} frames/s "
              f"({st['dropped']} dropped{extra}, {st['reconnects']} reconnection(s)); {doc['people']} "
              f"people answered: {who}", flush=True)


def format_identity(e) -> str:
    """One text line of an ``identity`` event."""
    thr = e["threshold"]
    if e["identity"] == "unknown":
        best = e["matches"][0]
        why = f"nearest {best['subject_id']} at {best['distance']:.4f} > {thr:.4g}"
    elif thr is None:
        why = f"distance {e['distance']:.4f}, closed set"
    else:
        why = f"distance {e['distance']:.4f} <= {thr:.4g}"
    lo, hi = e["window_frames"]
    head = f"frame {e['frame']:>5}  track {e['track_id']}: {e['identity']}"
    tail = f"  ({why}; {e['n_silhouettes']} silhouettes, frames {lo}-{hi})"
    if "latency_frames" in e:
        tail += f"  first answer, {e['latency_frames']} frames / {e['latency_s']:.2f} s after the track's first frame"
    elif e["final"]:
        tail += "  last answer"
    elif e["changed"]:
        tail += "  changed"
    return head + tail
