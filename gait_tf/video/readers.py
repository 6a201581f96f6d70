"""Streaming video readers: files (mp4, avi, mov, mkv, GIF), image folders, numpy arrays.

Every source is read through a well-kept library - OpenCV (``cv2.VideoCapture``, FFmpeg
backend) for video containers, ``imageio`` (Pillow plugin) for GIF, OpenCV ``imread`` for
image folders - and frames are *streamed*: a :class:`VideoReader` is an iterable whose
iterator decodes one frame at a time, so a long video is never held in memory. A reader
can be iterated several times (each iteration re-opens the source); the pipeline uses
this to fit a background model in a first pass and segment in a second.

Frames are always ``uint8 [H, W, 3]`` **RGB** (grey and RGBA sources are converted).

Errors (missing file, unknown format, a file no decoder can open, a video with no frames,
a frame whose size changes mid-stream, a bad array) raise :class:`~gait_tf.errors.VideoError`
naming the source.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np

from gait_tf.errors import VideoError

#: container extensions decoded with OpenCV / FFmpeg
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
#: animated image extensions decoded with imageio
GIF_EXTENSIONS = (".gif",)
#: still-image extensions accepted in image folders
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: consecutive undecodable frames after which a video is taken to end
MAX_CORRUPT_RUN = 25
#: numpy files holding a whole clip ``[T, H, W(, C)]`` (memory-mapped, not loaded)
ARRAY_EXTENSIONS = (".npy",)


def _natural_key(name: str):
    """Sort key so that ``frame2.png`` comes before ``frame10.png``."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def to_rgb(frame, source="<array>", index=0) -> np.ndarray:
    """Convert one frame to ``uint8 [H, W, 3]`` RGB.

    Accepts ``[H, W]`` grey, ``[H, W, 1]``, ``[H, W, 3]`` RGB or ``[H, W, 4]`` RGBA, as
    ``uint8``, ``bool`` (0/255) or floats in ``[0, 1]`` (scaled by 255). Anything else
    (NaN, other ranks or channel counts) raises :class:`VideoError`.
    """
    arr = np.asarray(frame)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if arr.size and not np.isfinite(arr).all():
            raise VideoError(f"{source}: frame {index} contains NaN or infinite values")
        if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
            raise VideoError(
                f"{source}: float frames must lie in [0, 1], frame {index} spans "
                f"[{arr.min():.3g}, {arr.max():.3g}]; pass uint8 0..255 instead")
        arr = np.round(arr * 255.0).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise VideoError(f"{source}: frames must be uint8, bool or float in [0, 1], got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise VideoError(f"{source}: frame {index} has shape {arr.shape}; expected [H, W], [H, W, 3] or [H, W, 4]")
    return np.ascontiguousarray(arr)


class VideoReader:
    """Iterable over the frames of one source, decoded one at a time.

    Args:
        source: a video file (``.mp4``, ``.avi``, ...), a ``.gif``, a ``.npy`` clip, a
            folder of images (read in natural sort order), a single image (one frame),
            or a numpy array
            ``[T, H, W]`` / ``[T, H, W, C]``.
        max_frames: stop after this many frames (after ``step``); None = all.
        step: keep every ``step``-th frame (1 = all).

    Attributes:
        name: printable name of the source (used in error messages).
        fps: frames per second from the container (None when unknown, e.g. folders;
            divided by ``step``).
        frame_count: number of frames the reader will yield if the container says so
            (an estimate for compressed video), else None.

    Iterating yields ``uint8 [H, W, 3]`` RGB frames. An iteration that yields nothing
    raises :class:`VideoError` ("no frames"); a frame whose size differs from the first
    one raises too.
    """

    def __init__(self, source, *, max_frames: int | None = None, step: int = 1):
        if step < 1:
            raise VideoError(f"step must be >= 1, got {step}")
        if max_frames is not None and max_frames < 1:
            raise VideoError(f"max_frames must be >= 1, got {max_frames}")
        self.step = int(step)
        self.max_frames = max_frames
        self._array = None
        self._files: list[Path] | None = None
        self.fps: float | None = None
        self.corrupt_frames, self.corrupt_indices = 0, []
        raw_count: int | None = None
        if isinstance(source, np.ndarray):
            if source.ndim not in (3, 4):
                raise VideoError(f"video array must be [T, H, W] or [T, H, W, C], got shape {source.shape}")
            self.name = f"<array {source.shape}>"
            self.kind = "array"
            self._array = source
            raw_count = len(source)
        else:
            path = Path(os.fspath(source))
            self.name = str(path)
            self.path = path
            if not path.exists():
                raise VideoError(f"{path}: no such video file or folder")
            if path.is_dir():
                self.kind = "folder"
                self._files = sorted(
                    (p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
                    key=lambda p: _natural_key(p.name))
                if not self._files:
                    raise VideoError(f"{path}: folder contains no images ({', '.join(IMAGE_EXTENSIONS)})")
                raw_count = len(self._files)
            else:
                ext = path.suffix.lower()
                if ext in GIF_EXTENSIONS:
                    self.kind = "gif"
                    self._probe_gif()
                    raw_count = self._gif_count
                elif ext in ARRAY_EXTENSIONS:
                    self.kind = "npy"
                    try:
                        self._array = np.load(path, mmap_mode="r", allow_pickle=False)
                    except (ValueError, OSError) as exc:
                        raise VideoError(f"{path}: unreadable .npy clip ({exc})") from exc
                    if self._array.ndim not in (3, 4):
                        raise VideoError(f"{path}: clip must be [T, H, W] or [T, H, W, C], got {self._array.shape}")
                    raw_count = len(self._array)
                elif ext in IMAGE_EXTENSIONS:  # a single picture: a one-frame clip
                    self.kind = "folder"
                    self._files = [path]
                    raw_count = 1
                elif ext in VIDEO_EXTENSIONS:
                    self.kind = "video"
                    raw_count = self._probe_video()
                else:
                    raise VideoError(
                        f"{path}: unknown video format {ext or '(no extension)'!r}; expected one of "
                        f"{', '.join(VIDEO_EXTENSIONS + GIF_EXTENSIONS + ARRAY_EXTENSIONS)}, an image or an "
                        "image folder")
        self.frame_count = None
        if raw_count is not None:
            n = (raw_count + self.step - 1) // self.step
            self.frame_count = min(n, max_frames) if max_frames else n
        if self.fps is not None:
            self.fps = self.fps / self.step

    # -- probing ---------------------------------------------------------------------
    def _probe_video(self) -> int | None:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened():
                raise VideoError(f"{self.path}: unreadable video (no decoder could open it; corrupt or not a video?)")
            fps = cap.get(cv2.CAP_PROP_FPS)
            self.fps = float(fps) if fps and fps > 0 and np.isfinite(fps) else None
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            return count if count > 0 else None
        finally:
            cap.release()

    def _probe_gif(self):
        from PIL import Image

        try:
            with Image.open(self.path) as im:
                self._gif_count = int(getattr(im, "n_frames", 1))
                duration = im.info.get("duration")
        except Exception as exc:  # Pillow raises several types for bad files
            raise VideoError(f"{self.path}: unreadable GIF ({exc})") from exc
        self.fps = 1000.0 / duration if duration else None

    # -- iteration -------------------------------------------------------------------
    def _raw_frames(self) -> Iterator[np.ndarray]:
        if self._array is not None:
            for frame in self._array:
                yield frame
        elif self.kind == "folder":
            import cv2

            for path in self._files:
                img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
                if img is None:
                    if len(self._files) == 1:
                        raise VideoError(f"{path}: unreadable image")
                    yield None  # skipped and counted by iter_indexed
                    continue
                if img.dtype == np.uint16:
                    img = (img >> 8).astype(np.uint8)
                if img.ndim == 3 and img.shape[2] == 3:
                    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
                elif img.ndim == 3 and img.shape[2] == 4:
                    img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
                yield img
        elif self.kind == "gif":
            import imageio.v3 as iio

            try:
                for frame in iio.imiter(self.path, plugin="pillow", mode="RGB"):
                    yield frame
            except VideoError:
                raise
            except Exception as exc:
                raise VideoError(f"{self.path}: GIF decoding failed ({exc})") from exc
        else:
            import cv2

            cap = cv2.VideoCapture(str(self.path))
            if not cap.isOpened():
                raise VideoError(f"{self.path}: unreadable video (no decoder could open it)")
            try:
                total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
                index, pending = 0, 0
                while True:
                    ok, frame = cap.read()
                    if ok and frame is not None:
                        # undecodable frames *between* good ones are skipped and counted;
                        # failures at the end are just the end (frame counts are estimates)
                        for _ in range(pending):
                            yield None
                        pending = 0
                        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                    elif index < total - 1 and pending < MAX_CORRUPT_RUN:
                        pending += 1
                    else:
                        break
                    index += 1
            finally:
                cap.release()

    def __iter__(self) -> Iterator[np.ndarray]:
        for _, frame in self.iter_indexed():
            yield frame

    def iter_indexed(self) -> Iterator[tuple]:
        """Yield ``(index, frame)``: ``index`` is the 0-based position of the frame in the
        source (counting frames skipped by ``step`` and corrupt ones), ``frame`` as
        ``__iter__``. Undecodable frames in the middle of a video or folder are skipped and
        counted in :attr:`corrupt_frames` (their indices in :attr:`corrupt_indices`)."""
        n_out = 0
        shape = None
        self.corrupt_frames, self.corrupt_indices = 0, []
        for i, frame in enumerate(self._raw_frames()):
            if frame is None:
                self.corrupt_frames += 1
                self.corrupt_indices.append(i)
                continue
            if i % self.step:
                continue
            rgb = to_rgb(frame, self.name, i)
            if shape is None:
                shape = rgb.shape
            elif rgb.shape != shape:
                raise VideoError(f"{self.name}: frame {i} has size {rgb.shape[:2]}, earlier frames {shape[:2]}")
            yield i, rgb
            n_out += 1
            if self.max_frames is not None and n_out >= self.max_frames:
                return
        if n_out == 0:
            what = f" ({self.corrupt_frames} corrupt)" if self.corrupt_frames else ""
            raise VideoError(f"{self.name}: empty video (no frames could be decoded{what})")

    def __repr__(self):
        return f"VideoReader({self.name!r}, kind={self.kind!r}, frames={self.frame_count}, fps={self.fps})"


def open_video(source, **kwargs) -> VideoReader:
    """``VideoReader(source, **kwargs)``; a reader passed in is returned as is."""
    if isinstance(source, VideoReader):
        return source
    return VideoReader(source, **kwargs)


def iter_frames(source, **kwargs) -> Iterator[np.ndarray]:
    """Generator of ``uint8 [H, W, 3]`` RGB frames of ``source`` (see :class:`VideoReader`)."""
    yield from open_video(source, **kwargs)


def read_video(source, **kwargs) -> np.ndarray:
    """Read a whole (short) clip into memory: ``uint8 [T, H, W, 3]`` RGB."""
    return np.stack(list(iter_frames(source, **kwargs)))
