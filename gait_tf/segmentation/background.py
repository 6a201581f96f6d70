"""Background subtraction for static cameras, mask clean-up and person detection.

Two background models:

- ``"median"`` (default): the background is the per-pixel temporal **median** of up to
  ``samples`` frames spread over the whole clip (a walking person covers any pixel only
  for a few frames, so the median is the empty scene). Each frame's global brightness
  gain against it is estimated (median brightness ratio) and the background scaled by
  it, so illumination flicker is not motion. A pixel is foreground when its colour
  distance to the background exceeds ``max(threshold, k_mad * noise)``, where ``noise``
  is the per-pixel median absolute deviation of the samples (so noisy pixels need a
  larger change). Needs a first pass over the clip (:meth:`fit`).
- ``"mog2"``: OpenCV's adaptive mixture of Gaussians (``cv2.createBackgroundSubtractorMOG2``),
  warmed up on the sampled frames by :meth:`fit`, then updated online.

Shadow suppression: a foreground pixel that is a darker copy of the background - value
ratio ``V/V_bg`` in ``shadow_ratio`` with small hue and saturation changes (Cucchiara et
al., HSV shadow model) - is removed (MOG2's own shadow label, 127, is removed too).

Clean-up (:func:`clean_mask`): morphological opening (removes speckle) then closing
(bridges small gaps), then filling of small holes. :func:`detect_people` groups the
remaining blobs into person detections (blobs that a dilation joins belong together, so
a head split from the torso stays one person); :func:`largest_component` keeps only the
largest.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable

import numpy as np

from gait_tf.errors import ConfigError, VideoError

METHODS = ("median", "mog2")


@dataclasses.dataclass
class Detection:
    """One person candidate in one frame.

    Attributes:
        box: ``(x0, y0, x1, y1)`` int pixels, x1/y1 exclusive.
        area: foreground pixels inside the detection.
        mask: ``bool [y1-y0, x1-x0]`` foreground of this detection inside ``box``.
        score: mean foreground probability (learned segmenter) or 1.0.
    """

    box: tuple
    area: int
    mask: np.ndarray
    score: float = 1.0

    def full_mask(self, shape) -> np.ndarray:
        """``bool [H, W]`` frame-sized mask of this detection."""
        out = np.zeros(shape[:2], bool)
        x0, y0, x1, y1 = self.box
        out[y0:y1, x0:x1] = self.mask
        return out


def _kernel(size):
    import cv2

    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(size), int(size)))


def clean_mask(mask, *, open_size=0, close_size=3, min_blob=6, max_hole_frac=0.002) -> np.ndarray:
    """Morphological clean-up of a binary mask.

    The defaults keep thin limbs: an opening erases anything narrower than its element,
    which at CASIA-B-like scales (a walker 50-100 px tall) means arms and feet, so specks
    are removed by area (``min_blob``) instead.

    Args:
        mask: ``bool``/``uint8 [H, W]`` (non-zero = foreground).
        open_size: diameter (px) of an opening element (0 = none).
        close_size: diameter (px) of the closing element (0 = none): bridges small gaps.
        min_blob: 8-connected blobs with fewer pixels are removed (0 = keep all).
        max_hole_frac: background holes enclosed by foreground and smaller than this
            fraction of the frame area are filled.

    Returns:
        ``bool [H, W]``.
    """
    import cv2

    m = (np.asarray(mask) > 0).astype(np.uint8)
    if open_size and open_size > 1:
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, _kernel(open_size))
    if close_size and close_size > 1:
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, _kernel(close_size))
    if min_blob and min_blob > 1 and m.any():
        n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < min_blob)
        small = small[small > 0]
        if small.size:
            m[np.isin(labels, small)] = 0
    if max_hole_frac and m.any():
        inv = (1 - m).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
        h, w = m.shape
        limit = max_hole_frac * h * w
        for lab in range(1, n):
            x, y, bw, bh, area = stats[lab]
            touches = x == 0 or y == 0 or x + bw == w or y + bh == h
            if not touches and area <= limit:
                m[labels == lab] = 1
    return m.astype(bool)


def largest_component(mask, min_area=0) -> np.ndarray:
    """Keep the largest 8-connected component of ``mask`` (``bool [H, W]``); all-False if
    none has at least ``min_area`` pixels."""
    import cv2

    m = (np.asarray(mask) > 0).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return np.zeros(m.shape, bool)
    lab = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[lab, cv2.CC_STAT_AREA] < min_area:
        return np.zeros(m.shape, bool)
    return labels == lab


def detect_people(mask, *, min_area=150, group_size=9, prob=None) -> list[Detection]:
    """Group the foreground of ``mask`` into person detections, largest first.

    Blobs that touch after a dilation by ``group_size`` px are one detection (a head or a
    foot split from the body stays with it); groups with fewer than ``min_area``
    foreground pixels are dropped.

    Args:
        mask: ``bool [H, W]`` cleaned foreground.
        min_area: minimum foreground pixels of a person.
        group_size: dilation diameter (px) used to group blobs (0 = plain components).
        prob: optional ``float [H, W]`` foreground probability, averaged into ``score``.
    """
    import cv2

    m = (np.asarray(mask) > 0).astype(np.uint8)
    if not m.any():
        return []
    grouped = cv2.dilate(m, _kernel(group_size)) if group_size and group_size > 1 else m
    n, labels, stats, _ = cv2.connectedComponentsWithStats(grouped, connectivity=8)
    dets = []
    for lab in range(1, n):
        x, y, w, h, _ = stats[lab]
        region = labels[y:y + h, x:x + w] == lab
        sub = m[y:y + h, x:x + w].astype(bool) & region
        area = int(sub.sum())
        if area < min_area:
            continue
        ys, xs = np.nonzero(sub)  # tighten the box to the real foreground
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        score = 1.0
        if prob is not None:
            score = float(np.asarray(prob)[y + y0:y + y1, x + x0:x + x1][sub[y0:y1, x0:x1]].mean())
        dets.append(Detection(box=(int(x + x0), int(y + y0), int(x + x1), int(y + y1)), area=area,
                              mask=sub[y0:y1, x0:x1].copy(), score=score))
    dets.sort(key=lambda d: -d.area)
    return dets


def shadow_mask(frame, background, *, ratio=(0.45, 0.92), max_sat_diff=40, max_hue_diff=20) -> np.ndarray:
    """``bool [H, W]``: pixels of ``frame`` that look like a cast shadow on ``background``.

    HSV model: a shadow keeps hue and saturation and darkens the value by a factor in
    ``ratio``. Both inputs are ``uint8 [H, W, 3]`` RGB; hue is OpenCV's 0..179 scale.
    """
    import cv2

    f = cv2.cvtColor(np.asarray(frame, np.uint8), cv2.COLOR_RGB2HSV).astype(np.int16)
    b = cv2.cvtColor(np.asarray(background, np.uint8), cv2.COLOR_RGB2HSV).astype(np.int16)
    v_ratio = f[..., 2] / np.maximum(b[..., 2], 1)
    dh = np.abs(f[..., 0] - b[..., 0])
    dh = np.minimum(dh, 180 - dh)
    return ((v_ratio >= ratio[0]) & (v_ratio <= ratio[1]) & (np.abs(f[..., 1] - b[..., 1]) <= max_sat_diff)
            & (dh <= max_hue_diff))


class BackgroundSubtractor:
    """Static-camera foreground segmentation.

    Args:
        method: ``"median"`` or ``"mog2"`` (see module doc).
        samples: frames sampled over the clip by :meth:`fit` (median background / MOG2 warm-up).
        threshold: minimum colour distance (max over RGB channels, 0..255) of foreground.
        k_mad: per-pixel noise multiplier of the adaptive threshold (median method).
        var_threshold: MOG2 squared Mahalanobis threshold.
        mog_history: MOG2 history (frames) while segmenting (learning rate ``1 / history``).
        shadows: suppress cast shadows.
        illumination: compensate global brightness changes (flicker, auto-exposure) by
            scaling the background with :meth:`gain` (median method).
        open_size, close_size, min_blob, max_hole_frac: :func:`clean_mask` settings.

    Use: ``bg.fit(frames)`` (an iterable; a :class:`~gait_tf.video.VideoReader` is
    iterated once), then ``bg.apply(frame) -> bool [H, W]`` for each frame.
    """

    def __init__(self, method="median", *, samples=60, threshold=30, k_mad=4.0, var_threshold=25.0,
                 mog_history=500, shadows=True, illumination=True, open_size=0, close_size=3, min_blob=6, max_hole_frac=0.002):
        if method not in METHODS:
            raise ConfigError(f"unknown background method {method!r}; choose one of {', '.join(METHODS)}")
        self.method = method
        self.samples = int(samples)
        self.threshold = float(threshold)
        self.k_mad = float(k_mad)
        self.var_threshold = float(var_threshold)
        self.mog_history = int(mog_history)
        self.shadows = bool(shadows)
        self.illumination = bool(illumination)
        self.clean = dict(open_size=open_size, close_size=close_size, min_blob=min_blob,
                          max_hole_frac=max_hole_frac)
        self.background = None  # uint8 [H, W, 3]
        self.noise = None       # float32 [H, W]
        self._mog = None

    def fit(self, frames: Iterable[np.ndarray]) -> "BackgroundSubtractor":
        """Estimate the background from frames sampled uniformly over ``frames``.

        Streams: keeps at most ``2 * samples`` frames, halving the sampling rate whenever
        the buffer is full, so any clip length fits in bounded memory.
        """
        buf, stride = [], 1
        for i, frame in enumerate(frames):
            if i % stride:
                continue
            buf.append(np.asarray(frame, np.uint8))
            if len(buf) >= 2 * self.samples:
                buf, stride = buf[::2], stride * 2
        if not buf:
            raise VideoError("background model: no frames to fit")
        stack = np.stack(buf)
        self.background = np.median(stack, axis=0).astype(np.uint8)
        bg = self.background.astype(np.float32)
        dev = np.empty(stack.shape[:3], np.float32)
        for i, frame in enumerate(stack):  # noise after illumination compensation
            ref = bg * self.gain(frame) if self.illumination else bg
            dev[i] = np.abs(frame.astype(np.float32) - ref).max(axis=2)
        self.noise = np.median(dev, axis=0).astype(np.float32)
        if self.method == "mog2":
            import cv2

            self._mog = cv2.createBackgroundSubtractorMOG2(history=self.mog_history,
                                                           varThreshold=self.var_threshold,
                                                           detectShadows=self.shadows)
            # a walker covers a pixel in a minority of the sampled frames: a mode needs 70 %
            # of the weight to be background, so the walker's colours never are
            self._mog.setBackgroundRatio(0.7)
            for _ in range(2):
                for frame in buf:
                    self._mog.apply(frame, learningRate=1.0 / len(buf))
        return self

    def gain(self, frame) -> float:
        """Global illumination gain of ``frame`` relative to the background: the median
        over pixels of the brightness ratio (robust: the walker is a small minority)."""
        f = np.asarray(frame, np.float32).sum(axis=2)
        b = self.background.astype(np.float32).sum(axis=2)
        ok = b > 30
        return float(np.median(f[ok] / b[ok])) if ok.any() else 1.0

    def raw_foreground(self, frame) -> np.ndarray:
        """``bool [H, W]`` foreground before clean-up (shadows already removed)."""
        frame = np.asarray(frame, np.uint8)
        if self.background is None:
            raise VideoError("background model used before fit()")
        if frame.shape != self.background.shape:
            raise VideoError(f"frame shape {frame.shape} differs from the background model {self.background.shape}")
        if self.method == "mog2":
            fg = self._mog.apply(frame) == 255  # 127 = shadow
        else:
            bg = self.background.astype(np.float32)
            if self.illumination:
                bg = np.clip(bg * self.gain(frame), 0, 255)
            diff = np.abs(frame.astype(np.float32) - bg).max(axis=2)
            fg = diff > np.maximum(self.threshold, self.k_mad * self.noise)
            if self.shadows:
                fg &= ~shadow_mask(frame, bg.astype(np.uint8))
        return fg

    def apply(self, frame) -> np.ndarray:
        """Cleaned foreground ``bool [H, W]`` of one ``uint8 [H, W, 3]`` RGB frame."""
        return clean_mask(self.raw_foreground(frame), **self.clean)
