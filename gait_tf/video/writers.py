"""Video/GIF writers and overlay drawing (mask and box over the frames, for a person to check).

``write_video(path, frames, fps)`` streams frames into an ``.mp4`` (MPEG-4 part 2,
``mp4v``) or ``.avi`` (Motion-JPEG) with OpenCV, or collects them into an animated
``.gif`` with imageio. Files are written atomically (temporary file + rename).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np

from gait_tf.errors import VideoError
from gait_tf.utils.atomic import atomic_path

#: fourcc per container written with OpenCV
FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mov": "mp4v", ".mkv": "MJPG"}
#: colour of the followed person's mask and box (RGB)
TARGET_COLOR = (255, 40, 40)
#: colour of the boxes of other tracked people (RGB)
OTHER_COLOR = (255, 220, 0)


def draw_overlay(frame, mask=None, box=None, *, label=None, color=TARGET_COLOR, alpha=0.45,
                 other_boxes=()) -> np.ndarray:
    """Draw a tinted mask, a box and a label on a copy of ``frame``.

    Args:
        frame: ``uint8 [H, W, 3]`` RGB.
        mask: ``bool``/``uint8 [H, W]`` (non-zero = person) or None.
        box: ``(x0, y0, x1, y1)`` in pixels (x1, y1 exclusive) or None.
        label: text drawn above the box (e.g. ``"track 1"``).
        color: RGB colour of mask and box.
        alpha: opacity of the mask tint, 0..1.
        other_boxes: iterable of ``(box, label)`` drawn thinner in :data:`OTHER_COLOR`.

    Returns:
        ``uint8 [H, W, 3]`` RGB.
    """
    import cv2

    out = np.array(frame, dtype=np.uint8, copy=True)
    if mask is not None:
        m = np.asarray(mask) > 0
        if m.shape != out.shape[:2]:
            raise VideoError(f"overlay mask shape {m.shape} does not match frame {out.shape[:2]}")
        tint = np.asarray(color, np.float32)
        out[m] = np.clip(out[m] * (1.0 - alpha) + tint * alpha, 0, 255).astype(np.uint8)
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, color, 1)
    for obox, olabel in other_boxes:
        _draw_box(out, obox, olabel, OTHER_COLOR, 1)
    if box is not None:
        _draw_box(out, box, label, color, 2)
    return out


def _draw_box(img, box, label, color, thickness):
    import cv2

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    cv2.rectangle(img, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), color, thickness)
    if label:
        cv2.putText(img, str(label), (x0, max(10, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, color, 1,
                    cv2.LINE_AA)


def write_video(path, frames: Iterable[np.ndarray], fps: float = 25.0) -> int:
    """Write ``uint8 [H, W, 3]`` RGB frames to ``path`` (``.mp4``, ``.avi``, ``.gif``).

    Frames are streamed into mp4/avi; a GIF collects them first (keep GIFs short).
    The file appears atomically. Returns the number of frames written.

    Raises:
        VideoError: unknown extension, no frames, frames of changing size, encoder failure.
    """
    path = Path(os.fspath(path))
    ext = path.suffix.lower()
    if ext not in FOURCC and ext != ".gif":
        raise VideoError(f"{path}: cannot write {ext or 'extension-less'} files; use .mp4, .avi or .gif")
    fps = float(fps) if fps and fps > 0 else 25.0
    with atomic_path(path) as tmp:
        # encoders choose the container from the extension, so write "<tmp><ext>" then move
        work = tmp.with_name(tmp.name + ext)
        try:
            n = _write_gif(work, frames, fps) if ext == ".gif" else _write_cv2(work, frames, fps, ext)
            os.replace(work, tmp)
        finally:
            if work.exists():
                work.unlink()
    return n


def _check(frame, shape, i, path):
    arr = np.asarray(frame)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise VideoError(f"{path}: frame {i} must be uint8 [H, W, 3] RGB, got {arr.dtype} {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise VideoError(f"{path}: frame {i} has shape {arr.shape}, earlier frames {shape}")
    return arr


def _write_cv2(work, frames, fps, ext):
    import cv2

    writer, shape, n = None, None, 0
    try:
        for i, frame in enumerate(frames):
            arr = _check(frame, shape, i, work)
            if writer is None:
                shape = arr.shape
                writer = cv2.VideoWriter(str(work), cv2.VideoWriter_fourcc(*FOURCC[ext]), fps,
                                         (shape[1], shape[0]))
                if not writer.isOpened():
                    raise VideoError(f"{work}: OpenCV could not open a {ext} encoder")
            writer.write(cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))
            n += 1
    finally:
        if writer is not None:
            writer.release()
    if n == 0:
        raise VideoError(f"{work}: no frames to write")
    return n


def _write_gif(work, frames, fps):
    import imageio.v3 as iio

    shape, stack = None, []
    for i, frame in enumerate(frames):
        arr = _check(frame, shape, i, work)
        shape = arr.shape
        stack.append(arr)
    if not stack:
        raise VideoError(f"{work}: no frames to write")
    iio.imwrite(work, np.stack(stack), extension=".gif", plugin="pillow",
                duration=int(round(1000.0 / fps)), loop=0)
    return len(stack)
