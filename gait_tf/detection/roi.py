"""Rotated square regions of interest (ROIs) around a person, and the crops they define.

An :class:`ROI` is a square of side ``size`` pixels centred on ``(cx, cy)`` whose "up"
direction in the image is ``up`` (a unit vector; ``(0, -1)`` for an upright person). It
maps normalised crop coordinates ``(u, v)`` in ``[0, 1]^2`` (``u`` right, ``v`` down) to
image pixels::

    image = centre + (u - 0.5) * size * right + (v - 0.5) * size * down

with ``down = -up`` and ``right = (down_y, -down_x)``. BlazePose's ROIs come from two
alignment points - the hip centre and a point whose distance from it is the radius of a
circle holding the whole body - as ``size = 2 * |p1 - p0| * scale`` (scale 1.25) with ``up``
along ``p1 - p0`` (MediaPipe's ``AlignmentPointsRectsCalculator`` + ``RectTransformation``).
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np


@dataclasses.dataclass
class ROI:
    """Rotated square crop. ``cx, cy, size`` in pixels; ``up`` unit vector (image coords)."""

    cx: float
    cy: float
    size: float
    up: tuple = (0.0, -1.0)

    @classmethod
    def from_alignment(cls, p0, p1, scale=1.25, upright=False) -> "ROI":
        """ROI of BlazePose's alignment points ``p0`` (hip centre) and ``p1`` (body-circle point), px."""
        p0 = np.asarray(p0, np.float64)
        d = np.asarray(p1, np.float64) - p0
        radius = float(np.hypot(*d))
        up = (0.0, -1.0) if upright or radius < 1e-6 else (float(d[0] / radius), float(d[1] / radius))
        return cls(float(p0[0]), float(p0[1]), max(2.0 * radius * scale, 1.0), up)

    @classmethod
    def from_box(cls, box, scale=1.25) -> "ROI":
        """Upright square ROI around box ``(x0, y0, x1, y1)``: side = ``scale`` x the longer side."""
        x0, y0, x1, y1 = (float(v) for v in box)
        return cls((x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0, 1.0) * scale)

    # --- geometry ------------------------------------------------------------------------
    def axes(self):
        down = -np.asarray(self.up, np.float64)
        right = np.array([down[1], -down[0]])
        return right, down

    def crop_to_image(self, n) -> np.ndarray:
        """Affine ``float64 [2, 3]`` mapping crop pixels of an ``n x n`` crop to image pixels."""
        right, down = self.axes()
        s = self.size / n
        origin = np.array([self.cx, self.cy]) - 0.5 * self.size * (right + down)
        return np.column_stack([right * s, down * s, origin])

    def image_to_crop(self, n) -> np.ndarray:
        """Inverse of :meth:`crop_to_image`: image pixels -> crop pixels, ``[2, 3]``."""
        return cv2.invertAffineTransform(self.crop_to_image(n))

    def to_image(self, uv) -> np.ndarray:
        """Normalised crop coordinates ``[..., 2]`` in [0, 1] -> image pixels ``[..., 2]``."""
        right, down = self.axes()
        uv = np.asarray(uv, np.float64)
        c = np.array([self.cx, self.cy])
        return c + (uv[..., :1] - 0.5) * self.size * right + (uv[..., 1:2] - 0.5) * self.size * down

    def corners(self) -> np.ndarray:
        """The four corners ``[4, 2]`` (px)."""
        return self.to_image(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64))

    def bounds(self) -> np.ndarray:
        """Axis-aligned bounding box ``(x0, y0, x1, y1)`` of the ROI (px)."""
        c = self.corners()
        return np.concatenate([c.min(0), c.max(0)])

    def crop(self, image, n) -> np.ndarray:
        """The ROI of ``image`` ``[H, W, C]`` resampled to ``[n, n, C]`` (bilinear, zero border)."""
        return cv2.warpAffine(image, self.image_to_crop(n), (n, n), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def paste(self, crop_map, frame_shape, threshold=None):
        """Warp a ``[n, n]`` float map of the crop back into the image.

        Returns ``(box, patch)``: the integer box ``(x0, y0, x1, y1)`` of the ROI clipped to
        the frame ``(H, W)`` and the map resampled over it ``[y1 - y0, x1 - x0]``
        (``bool`` if ``threshold`` is given). ``None`` if the ROI lies outside the frame.
        """
        h, w = frame_shape[:2]
        b = self.bounds()
        x0, y0 = max(int(np.floor(b[0])), 0), max(int(np.floor(b[1])), 0)
        x1, y1 = min(int(np.ceil(b[2])), w), min(int(np.ceil(b[3])), h)
        if x1 - x0 < 1 or y1 - y0 < 1:
            return None
        n = crop_map.shape[0]
        m = self.image_to_crop(n).copy()
        m[:, 2] += m[:, 0] * x0 + m[:, 1] * y0  # output pixel (0, 0) is image pixel (x0, y0)
        patch = cv2.warpAffine(np.ascontiguousarray(crop_map, np.float32), m, (x1 - x0, y1 - y0),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if threshold is not None:
            patch = patch > threshold
        return (x0, y0, x1, y1), patch
