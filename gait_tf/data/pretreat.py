"""Silhouette pretreatment: raw frames ``uint8 [T, H, W]`` -> ``uint8 [T, 64, 64]``.

This is the standard GaitSet / OpenGait normalisation (OpenGait
``datasets/pretreatment.py::imgs2pickle``), re-implemented from its description:

1. drop frames with almost no foreground (sum of grey levels <= ``min_foreground``,
   10000 by default, i.e. about 40 fully white pixels);
2. crop to the rows between the first and the last row that contain foreground;
3. resize to height ``img_size`` keeping the aspect ratio, new width
   ``int(img_size * w / h)``, bicubic (``cv2.INTER_CUBIC``, saturated to uint8);
4. find the person's horizontal centre: the first column at which the cumulative
   foreground mass (column sums) exceeds half of the total; a frame whose centre
   falls on column 0 is dropped, as OpenGait does;
5. take the ``img_size``-wide window centred there, zero-padding left/right as needed.

Models use the central 44 of the 64 columns: :func:`cut_width`.
"""
from __future__ import annotations

import logging
import warnings

import cv2
import numpy as np

from gait_tf.errors import DataError

log = logging.getLogger(__name__)

#: default "almost empty frame" threshold: sum of grey levels (OpenGait uses 10000)
MIN_FOREGROUND = 10000
#: pretreated frame size (height = width)
IMG_SIZE = 64
#: columns cut off each side of a 64-wide frame by :func:`cut_width`
CUT = 10


def check_frames(frames, source="<array>"):
    """Validate a raw silhouette sequence; return it as ``uint8 [T, H, W]``.

    Accepts ``uint8`` (0..255) or ``bool`` (converted to 0/255) arrays of rank 3,
    or a single rank-2 frame (treated as ``T = 1``). ``uint8`` 0/1 masks are scaled
    to 0/255 with a warning. Anything else - floats (and
    NaN), other integer types, colour channels, empty arrays - raises
    :class:`DataError` naming ``source``.
    """
    arr = np.asarray(frames)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype != np.uint8:
        detail = ""
        if np.issubdtype(arr.dtype, np.floating) and arr.size and np.isnan(arr).any():
            detail = " and contains NaN"
        raise DataError(
            f"{source}: silhouette frames must be uint8 0..255 (or bool), got dtype "
            f"{arr.dtype}{detail}; convert with np.clip(x, 0, 255).astype(np.uint8) first"
        )
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise DataError(
            f"{source}: silhouette frames must have shape [T, H, W] (grey), got {arr.shape}"
            + ("; colour frames must be converted to grey silhouettes first" if arr.ndim == 4 else "")
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise DataError(f"{source}: empty sequence, shape {arr.shape}")
    if arr.max() == 1:  # 0/1 masks stored as uint8: every frame would look empty
        warnings.warn(f"{source}: uint8 0/1 masks scaled to 0/255", UserWarning, stacklevel=3)
        arr = arr * np.uint8(255)
    return arr


def pretreat_frame(img, img_size=IMG_SIZE, min_foreground=MIN_FOREGROUND):
    """Pretreat one grey frame ``uint8 [H, W]`` -> ``uint8 [img_size, img_size]``.

    Returns ``(frame, None)`` or ``(None, reason)`` when the frame is dropped
    (``reason`` is ``"empty"``, ``"too thin"`` or ``"no centre"``).
    """
    if int(img.sum(dtype=np.int64)) <= min_foreground:
        return None, "empty"
    rows = np.flatnonzero(img.any(axis=1))
    img = img[rows[0]: rows[-1] + 1]
    height, width = img.shape
    new_w = int(img_size * (width / height))
    if new_w < 1:
        return None, "too thin"
    img = cv2.resize(img, (new_w, img_size), interpolation=cv2.INTER_CUBIC)
    col_mass = img.sum(axis=0, dtype=np.int64)
    total = int(col_mass.sum())
    over = np.cumsum(col_mass) > total / 2
    center = int(np.argmax(over)) if total > 0 else 0
    if center == 0:  # OpenGait drops frames whose centre is column 0 (or that are empty)
        return None, "no centre"
    half = img_size // 2
    padded = np.zeros((img_size, new_w + 2 * half), np.uint8)
    padded[:, half: half + new_w] = img
    return padded[:, center: center + img_size], None


def pretreat_sequence(frames, *, img_size=IMG_SIZE, min_foreground=MIN_FOREGROUND,
                      source="<array>", return_kept=False):
    """Pretreat a raw silhouette sequence.

    Args:
        frames: ``uint8 [T, H, W]`` grey silhouettes (0 background, 255 person; grey
            edges allowed), or ``bool``. A single ``[H, W]`` frame is accepted.
        img_size: output height and width in pixels (64).
        min_foreground: frames whose grey-level sum is <= this are dropped (10000).
        source: name of the sequence (file or folder) used in error messages.
        return_kept: also return ``kept``, ``bool [T]``: which input frames survived.

    Returns:
        ``uint8 [T', img_size, img_size]`` with ``1 <= T' <= T`` (and ``kept``).

    Raises:
        DataError: wrong dtype / rank / NaN, or every frame was dropped.
    """
    arr = check_frames(frames, source)
    out, kept, reasons = [], np.zeros(len(arr), bool), {}
    for i, img in enumerate(arr):
        res, why = pretreat_frame(img, img_size, min_foreground)
        if res is None:
            reasons[why] = reasons.get(why, 0) + 1
        else:
            out.append(res)
            kept[i] = True
    if not out:
        summary = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items()))
        raise DataError(
            f"{source}: empty sequence after pretreatment: all {len(arr)} frames dropped "
            f"({summary}; a frame needs a grey-level sum > {min_foreground})"
        )
    if reasons:
        log.debug("%s: dropped %d of %d frames (%s)", source, len(arr) - len(out), len(arr), reasons)
    seq = np.stack(out)
    return (seq, kept) if return_kept else seq


def cut_width(seq, cut=CUT):
    """Keep the central columns of pretreated frames: ``[..., H, 64] -> [..., H, 44]``.

    Removes ``cut`` (10) columns on each side, as OpenGait's ``BaseSilCuttingTransform``.
    Works on numpy arrays of any leading shape (``[T, 64, 64]``, ``[B, T, 64, 64]``).
    """
    arr = np.asarray(seq)
    if arr.ndim < 2 or arr.shape[-1] <= 2 * cut:
        raise DataError(f"cut_width: expected frames [..., H, W] with W > {2 * cut}, got shape {arr.shape}")
    return arr[..., cut: arr.shape[-1] - cut]
