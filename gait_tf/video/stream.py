"""Live video sources: a webcam, a network stream (RTSP, HTTP MJPEG, ...) or a file played as a stream.

:func:`parse_source` tells the three apart (``"0"`` is camera 0, ``rtsp://...`` a network
stream, anything else a file) and :class:`FrameStream` reads one on a background thread,
handing :class:`Frame` objects (and :class:`StreamEvent` notices) to the consumer through
a small buffer:

* **files** are read with :class:`~gait_tf.video.readers.VideoReader` (corrupt frames
  skipped and counted); every frame is delivered (the reader waits for the consumer),
  unless ``realtime=True``: then the file is played at its own frame rate, as a camera
  would deliver it, and frames the consumer cannot keep up with are dropped. A file that
  ends is the end of the stream.
* **cameras and network streams** are live: the reader never waits for the consumer;
  when the buffer is full the oldest frame is dropped (counted in ``stats["dropped"]``), so
  the consumer always works on recent frames and memory stays bounded. OpenCV's FFmpeg
  backend reads network streams, with an open/read timeout. When a live stream fails to
  open, drops or stalls, the reader reconnects with exponential backoff (``backoff``,
  ``2 * backoff``, ... capped at ``max_backoff`` seconds), up to ``max_retries`` attempts
  in a row; a frame read successfully resets the count. When the attempts run out,
  iterating raises :class:`StreamLost` (or :class:`~gait_tf.errors.VideoError` if the
  stream never opened).

Frame indices count every frame the source delivered (dropped ones too, so that a gap in
the indices is a gap in time); they continue across reconnections.
"""
from __future__ import annotations

import collections
import dataclasses
import os
import re
import threading
import time
from pathlib import Path

import numpy as np

from gait_tf.errors import ConfigError, VideoError

#: URL schemes read as live network streams (by OpenCV's FFmpeg backend)
LIVE_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt", "rtp", "mmsh")
#: default reconnection settings: attempts in a row, first delay and largest delay (s)
MAX_RETRIES, BACKOFF_S, MAX_BACKOFF_S = 10, 1.0, 30.0
#: default open/read timeout of network streams (s)
TIMEOUT_S = 10.0
#: default number of frames buffered between the reader and the consumer
BUFFER = 4


class StreamLost(VideoError):
    """A live stream dropped and did not come back within the allowed reconnection attempts."""


@dataclasses.dataclass
class StreamSpec:
    """What :func:`parse_source` made of a SOURCE: ``kind`` ``"camera"`` (``target``: the
    device index), ``"network"`` (the URL) or ``"file"`` (a path); ``name``: printable (a
    URL's password is masked)."""

    kind: str
    target: object
    name: str

    @property
    def live(self) -> bool:
        return self.kind != "file"


@dataclasses.dataclass
class Frame:
    """One frame of a stream: ``index`` (0-based, counts dropped frames), ``image``
    ``uint8 [H, W, 3]`` RGB, and ``arrival``: ``time.monotonic()`` when the reader got it."""

    index: int
    image: np.ndarray
    arrival: float


@dataclasses.dataclass
class StreamEvent:
    """A notice from the reader: ``kind`` ``"retry"`` (the stream failed to open or dropped;
    ``info``: ``attempt``, ``max_retries``, ``delay_s``, ``reason``) or ``"reconnected"``
    (``info``: ``attempts``, ``down_s``)."""

    kind: str
    info: dict


def mask_url(url: str) -> str:
    """``url`` with its password (``scheme://user:PASSWORD@host``) replaced by ``***``."""
    return re.sub(r"^([a-zA-Z][\w+.-]*://[^/:@]+):[^/@]*@", r"\1:***@", url)


def parse_source(source) -> StreamSpec:
    """A webcam index (``0`` or ``"0"``), a network URL (``rtsp://``, ``http://``, ... see
    :data:`LIVE_SCHEMES`) or a video file path -> :class:`StreamSpec`.

    Raises:
        ConfigError: a URL of another scheme, a negative camera index.
        VideoError: a file that does not exist.
    """
    if isinstance(source, (int, np.integer)) and not isinstance(source, bool):
        source = str(int(source))
    text = os.fspath(source) if not isinstance(source, str) else source
    text = str(text).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        index = int(text)
        if index < 0:
            raise ConfigError(f"camera index must be >= 0, got {text}")
        return StreamSpec("camera", index, f"camera {index}")
    m = re.match(r"^([a-zA-Z][\w+.-]*)://", text)
    if m:
        scheme = m.group(1).lower()
        if scheme == "file":
            text = text[len("file://"):]
        elif scheme in LIVE_SCHEMES:
            return StreamSpec("network", text, mask_url(text))
        else:
            raise ConfigError(f"{mask_url(text)}: unsupported stream URL scheme {scheme!r}; use "
                              f"{', '.join(LIVE_SCHEMES)}, a camera index or a video file")
    path = Path(text)
    if not path.exists():
        raise VideoError(f"{path}: no such video file (and not a camera index or a stream URL)")
    return StreamSpec("file", path, str(path))


def backoff_delay(attempt, backoff=BACKOFF_S, max_backoff=MAX_BACKOFF_S) -> float:
    """Seconds to wait before reconnection attempt ``attempt`` (1, 2, ...):
    ``backoff * 2 ** (attempt - 1)``, at most ``max_backoff``."""
    return float(min(backoff * 2.0 ** (attempt - 1), max_backoff))


def quiet_video_logs():
    """Hide OpenCV's and FFmpeg's own log lines (``[ WARN:0@...]``, ``[http @ 0x...] ...``):
    the stream reports failures itself, in one line each."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when FFmpeg is first used
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def open_capture(spec: StreamSpec, timeout=TIMEOUT_S):
    """An opened ``cv2.VideoCapture`` for a camera or network ``spec``, or None."""
    import cv2

    if spec.kind == "camera":
        cap = cv2.VideoCapture(spec.target)
    else:
        ms = int(round(1000 * timeout))
        cap = cv2.VideoCapture(spec.target, cv2.CAP_FFMPEG,
                               [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
    if not cap.isOpened():
        cap.release()
        return None
    return cap


class _End:
    pass


class FrameStream:
    """Read ``source`` on a background thread; iterate :meth:`items` for frames and events.

    Args:
        source: a :class:`StreamSpec` or anything :func:`parse_source` takes.
        max_retries: reconnection attempts in a row for a live source (0: none).
        backoff, max_backoff: first and largest wait before an attempt (s); doubles each time.
        timeout: open/read timeout of network streams (s).
        buffer: frames held between reader and consumer; for live sources (and
            ``realtime`` files) the oldest is dropped when it is full.
        realtime: play a file at its frame rate (25 fps if unknown), dropping frames the
            consumer cannot keep up with.
        opener: ``spec -> capture or None`` (default :func:`open_capture`; tests use others).

    Attributes:
        stats: ``read`` (frames taken from the source: delivered + ``dropped`` + still
            buffered), ``dropped`` (pushed out of the full buffer, never delivered),
            ``reconnects`` (successful), ``retries`` (attempts), ``corrupt`` (files:
            undecodable frames skipped).
        fps: the source's frame rate when it says (None otherwise).
    """

    def __init__(self, source, *, max_retries=MAX_RETRIES, backoff=BACKOFF_S, max_backoff=MAX_BACKOFF_S,
                 timeout=TIMEOUT_S, buffer=BUFFER, realtime=False, opener=None):
        self.spec = source if isinstance(source, StreamSpec) else parse_source(source)
        if int(max_retries) < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
        for name, value in (("backoff", backoff), ("max_backoff", max_backoff), ("timeout", timeout)):
            if not (np.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a number of seconds > 0, got {value}")
        if max_backoff < backoff:
            raise ConfigError(f"max_backoff ({max_backoff} s) must be >= backoff ({backoff} s)")
        if int(buffer) < 1:
            raise ConfigError(f"buffer must be >= 1 frame, got {buffer}")
        self.max_retries, self.backoff, self.max_backoff = int(max_retries), float(backoff), float(max_backoff)
        self.timeout, self.buffer, self.realtime = float(timeout), int(buffer), bool(realtime)
        self.opener = opener or (lambda spec: open_capture(spec, self.timeout))
        self.name = self.spec.name
        self.fps = None
        self.stats = {"read": 0, "dropped": 0, "reconnects": 0, "retries": 0, "corrupt": 0}
        self._items = collections.deque()
        self._frames_queued = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = None
        self._reader = None
        if self.spec.kind == "file":  # open now: a bad file is refused before anything starts
            from gait_tf.video.readers import VideoReader

            self._reader = VideoReader(self.spec.target)
            self.fps = self._reader.fps

    # -- consumer side -------------------------------------------------------------------
    def start(self) -> "FrameStream":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"FrameStream({self.name})", daemon=True)
            self._thread.start()
        return self

    def items(self, stop: threading.Event | None = None):
        """Yield :class:`Frame` and :class:`StreamEvent` objects until the stream ends (or
        ``stop`` is set); re-raises the reader's error (:class:`StreamLost`, :class:`VideoError`)."""
        self.start()
        while True:
            with self._cond:
                while not self._items and not (stop is not None and stop.is_set()):
                    self._cond.wait(0.1)
                if stop is not None and stop.is_set():
                    return
                item = self._items.popleft()
                if isinstance(item, Frame):
                    self._frames_queued -= 1
                self._cond.notify_all()
            if isinstance(item, _End):
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def __iter__(self):
        return self.items()

    def close(self, wait=2.0):
        """Stop the reader (it finishes its current read: at most ``timeout`` s for a network stream)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(wait)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    @property
    def queued(self) -> int:
        """Frames waiting in the buffer (at most ``buffer``)."""
        return self._frames_queued

    # -- reader side ---------------------------------------------------------------------
    def _put(self, item, drop_oldest):
        with self._cond:
            if isinstance(item, Frame):
                if self._stop.is_set():  # read after the stop: nobody will take it
                    return
                while self._frames_queued >= self.buffer:
                    if drop_oldest:
                        for k, old in enumerate(self._items):
                            if isinstance(old, Frame):
                                del self._items[k]
                                break
                        self._frames_queued -= 1
                        self.stats["dropped"] += 1
                    else:
                        self._cond.wait(0.1)
                        if self._stop.is_set():
                            return
                self.stats["read"] += 1
                self._frames_queued += 1
            self._items.append(item)
            self._cond.notify_all()

    def _run(self):
        try:
            if self.spec.kind == "file":
                self._run_file()
            else:
                self._run_live()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put(exc, drop_oldest=False)
        finally:
            self._put(_End(), drop_oldest=False)

    def _run_file(self):
        reader = self._reader
        fps = reader.fps or 25.0
        t0 = time.monotonic()
        for index, image in reader.iter_indexed():
            if self._stop.is_set():
                return
            if self.realtime:  # deliver frame `index` at its time in the clip
                due = t0 + index / fps
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    return
            self.stats["corrupt"] = reader.corrupt_frames
            self._put(Frame(index, image, time.monotonic()), drop_oldest=self.realtime)

    def _run_live(self):
        import cv2

        from gait_tf.video.readers import to_rgb

        index, failures, down_since = 0, 0, None
        reason = "cannot open"
        while not self._stop.is_set():
            cap = self.opener(self.spec)
            if cap is not None:
                reason = "no frame (stream ended, stalled or broken)"
                try:
                    if self.fps is None:
                        fps = cap.get(cv2.CAP_PROP_FPS) if hasattr(cap, "get") else 0
                        self.fps = float(fps) if fps and 0 < fps < 1000 else None
                    while not self._stop.is_set():
                        ok, bgr = cap.read()
                        if not ok or bgr is None:
                            break
                        if down_since is not None:
                            self._put(StreamEvent("reconnected", {
                                "attempts": failures, "down_s": round(time.monotonic() - down_since, 3)}), False)
                            self.stats["reconnects"] += 1
                            down_since = None
                        failures = 0
                        image = (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if bgr.ndim == 3 and bgr.shape[2] == 3
                                 else to_rgb(bgr, self.name, index))
                        self._put(Frame(index, image, time.monotonic()), drop_oldest=True)
                        index += 1
                finally:
                    cap.release()
            else:
                reason = "cannot open (unreachable, refused or not a video)" if self.spec.kind == "network" else \
                    "cannot open the camera (no such device, or busy)"
            if self._stop.is_set():
                return
            if failures >= self.max_retries:
                tries = f"after {failures} reconnection attempt(s)" if failures else "(reconnection off: --max-retries 0)"
                if self.stats["read"] == 0:
                    raise VideoError(f"{self.name}: {reason} {tries}")
                raise StreamLost(f"{self.name}: stream lost at frame {index}: {reason} {tries}")
            failures += 1
            self.stats["retries"] += 1
            if down_since is None:
                down_since = time.monotonic()
            delay = backoff_delay(failures, self.backoff, self.max_backoff)
            self._put(StreamEvent("retry", {"attempt": failures, "max_retries": self.max_retries,
                                            "delay_s": delay, "reason": reason}), False)
            if self._stop.wait(delay):
                return


__all__ = ["BACKOFF_S", "BUFFER", "Frame", "FrameStream", "LIVE_SCHEMES", "MAX_BACKOFF_S", "MAX_RETRIES",
           "StreamEvent", "StreamLost", "StreamSpec", "TIMEOUT_S", "backoff_delay", "mask_url", "open_capture",
           "parse_source", "quiet_video_logs"]
