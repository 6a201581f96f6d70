"""Instance masks: one separate, person-shaped mask per person in a frame.

The landmark model gives each person a probability map over its ROI. ROIs of people
walking side by side overlap, and a map can spill onto a neighbour, so
:func:`instance_masks` (1) gives every contested pixel to the person with the highest
probability there, (2) keeps the pixels over ``threshold``, and (3) keeps only the
connected parts that touch the person's own confident keypoints (or, without any, the
largest part), so a neighbour's leg never ends up in this person's silhouette.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np


@dataclasses.dataclass
class InstanceMask:
    """A person's mask: ``box (x0, y0, x1, y1)`` (int px, exclusive end) and ``mask bool [y1-y0, x1-x0]``."""

    box: tuple
    mask: np.ndarray

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    def tight(self) -> "InstanceMask | None":
        """The same mask cropped to its non-zero pixels (None if empty)."""
        ys, xs = np.nonzero(self.mask)
        if len(ys) == 0:
            return None
        x0, y0 = self.box[0], self.box[1]
        m = self.mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        return InstanceMask((x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1), m)

    def shape_check(self) -> str | None:
        """Why this mask is not person-shaped, or None if it is (see :func:`person_shape_problem`)."""
        return person_shape_problem(self.mask)

    def full(self, frame_shape) -> np.ndarray:
        """The mask as a full frame ``bool [H, W]``."""
        out = np.zeros(frame_shape[:2], bool)
        x0, y0, x1, y1 = self.box
        out[y0:y1, x0:x1] = self.mask
        return out


#: a person-shaped mask: box height / width at least this (walkers, side or front view)
MIN_ASPECT = 1.3
#: ... at most this (a sliver is a pole or an edge, not a body)
MAX_ASPECT = 6.0
#: ... filling at least this fraction of its box
MIN_FILL = 0.25
#: ... with its largest connected part holding at least this fraction of its pixels
MIN_MAIN_PART = 0.85
#: ... and at least this many pixels
MIN_PERSON_AREA = 150


def person_shape_problem(mask) -> str | None:
    """None when ``mask`` (``bool [h, w]``, tight) looks like one standing/walking body:
    aspect ratio (height / width) in [:data:`MIN_ASPECT`, :data:`MAX_ASPECT`], at least
    :data:`MIN_FILL` of its box filled, one connected body (largest part >=
    :data:`MIN_MAIN_PART` of the pixels), >= :data:`MIN_PERSON_AREA` pixels. Otherwise a
    short reason."""
    area = int(mask.sum())
    if area < MIN_PERSON_AREA:
        return f"too small ({area} px)"
    ys, xs = np.nonzero(mask)
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    aspect = h / w
    if aspect < MIN_ASPECT or aspect > MAX_ASPECT:
        return f"aspect ratio {aspect:.2f}"
    if area < MIN_FILL * h * w:
        return f"fills {area / (h * w):.0%} of its box"
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n > 2 and stats[1:, cv2.CC_STAT_AREA].max() < MIN_MAIN_PART * area:
        return "not one connected body"
    return None


#: fraction of a person's confident keypoints that must lie on (or within 3 px of) its mask
MIN_KEYPOINT_COVER = 0.6


def keypoint_cover(inst: InstanceMask, keypoints, min_score=0.5) -> float:
    """Fraction of the keypoints ``[K, 3]`` with score >= ``min_score`` that fall on the
    mask dilated by 3 px (1.0 when there are none): is the mask the body they describe?"""
    kp = np.asarray(keypoints)[np.asarray(keypoints)[:, 2] >= min_score, :2]
    if len(kp) == 0:
        return 1.0
    m = cv2.dilate(inst.mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    x = np.round(kp[:, 0] - inst.box[0]).astype(int)
    y = np.round(kp[:, 1] - inst.box[1]).astype(int)
    ok = (x >= 0) & (y >= 0) & (x < m.shape[1]) & (y < m.shape[0])
    hit = np.zeros(len(kp), bool)
    hit[ok] = m[y[ok], x[ok]]
    return float(hit.mean())


def instance_masks(people, frame_shape, threshold=0.5, keypoint_score=0.5, min_area=20):
    """Separate masks of ``people`` (a list of :class:`~gait_tf.detection.blazepose.Landmarks`
    with ``mask_box``/``mask_prob``) in a frame of ``frame_shape`` ``(H, W)``.

    Returns a list aligned with ``people``: an :class:`InstanceMask` cropped to the
    person's pixels, or None (no map, or fewer than ``min_area`` pixels).
    """
    out: list = [None] * len(people)
    items = [(i, p) for i, p in enumerate(people) if p.mask_prob is not None]
    for k, (i, p) in enumerate(items):
        x0, y0, x1, y1 = p.mask_box
        sub = p.mask_prob > threshold
        # contested pixels go to the person with the higher probability (ties: the earlier one)
        for k2, (_, q) in enumerate(items):
            if k2 == k:
                continue
            ix0, iy0 = max(x0, q.mask_box[0]), max(y0, q.mask_box[1])
            ix1, iy1 = min(x1, q.mask_box[2]), min(y1, q.mask_box[3])
            if ix1 <= ix0 or iy1 <= iy0:
                continue
            mine = p.mask_prob[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
            theirs = q.mask_prob[iy0 - q.mask_box[1]:iy1 - q.mask_box[1], ix0 - q.mask_box[0]:ix1 - q.mask_box[0]]
            lose = (theirs > mine) if k2 > k else (theirs >= mine)
            sub[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] &= ~lose
        sub = _keep_body(sub, p.keypoints, (x0, y0), keypoint_score)
        if sub is None or sub.sum() < min_area:
            continue
        out[i] = InstanceMask((x0, y0, x1, y1), sub).tight()
    return out


def _keep_body(mask, keypoints, origin, keypoint_score):
    """Connected components of ``mask`` that contain a confident keypoint (else the largest)."""
    if not mask.any():
        return None
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    h, w = mask.shape
    kp = keypoints[keypoints[:, 2] >= keypoint_score, :2] - np.asarray(origin, np.float32)
    xs = np.clip(np.round(kp[:, 0]).astype(int), 0, w - 1)
    ys = np.clip(np.round(kp[:, 1]).astype(int), 0, h - 1)
    inside = (kp[:, 0] >= 0) & (kp[:, 0] < w) & (kp[:, 1] >= 0) & (kp[:, 1] < h)
    hit = np.unique(labels[ys[inside], xs[inside]])
    hit = hit[hit > 0]
    if len(hit) == 0:
        hit = [1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))]
    return np.isin(labels, hit)
