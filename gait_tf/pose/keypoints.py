"""Keypoint layouts and conversions: BlazePose-33 -> MPII-16 (HumanPoseNN order) and COCO-17.

All arrays are ``float32 [..., K, 3]`` with ``(x, y, score)`` per keypoint (pixels,
score in [0, 1]).

* ``"coco17"``: COCO's 17 keypoints (nose, eyes, ears, shoulders, elbows, wrists, hips,
  knees, ankles) - the input of the skeleton models; BlazePose has all 17 directly.
* ``"mpii16"``: the 16 MPII joints in the original HumanPoseNN order
  (:data:`MPII_NAMES`). Limbs map directly; pelvis and thorax are the hip and shoulder
  midpoints; upper neck and head top are placed on the line from the shoulder midpoint
  ``S`` to the ear midpoint ``E`` (nose when the ears are not seen) at ``S + 0.55 (E - S)``
  and ``S + 1.35 (E - S)`` (average adult proportions: chin, crown). A derived joint's
  score is the smallest score of the points it is made of.
"""
from __future__ import annotations

import numpy as np

from gait_tf.errors import ConfigError

MPII_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "pelvis", "thorax", "upper_neck", "head_top",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
)
COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
#: BlazePose index of each COCO-17 keypoint
COCO_FROM_BLAZEPOSE = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
#: COCO-17 skeleton (pairs of indices)
COCO_BONES = ((0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11), (6, 12),
              (11, 12), (11, 13), (13, 15), (12, 14), (14, 16))
LAYOUTS = ("blazepose33", "coco17", "mpii16")
UPPER_NECK, HEAD_TOP = 0.55, 1.35


def _mid(kp, a, b):
    xy = (kp[..., a, :2] + kp[..., b, :2]) / 2.0
    s = np.minimum(kp[..., a, 2], kp[..., b, 2])
    return np.concatenate([xy, s[..., None]], -1)


def blazepose_to_mpii(kp) -> np.ndarray:
    """``[..., 33, 3]`` BlazePose -> ``[..., 16, 3]`` MPII (HumanPoseNN order)."""
    kp = np.asarray(kp, np.float32)
    direct = {0: 28, 1: 26, 2: 24, 3: 23, 4: 25, 5: 27, 10: 16, 11: 14, 12: 12, 13: 11, 14: 13, 15: 15}
    out = np.zeros(kp.shape[:-2] + (16, 3), np.float32)
    for j, b in direct.items():
        out[..., j, :] = kp[..., b, :]
    out[..., 6, :] = _mid(kp, 23, 24)
    shoulders = _mid(kp, 11, 12)
    out[..., 7, :] = shoulders
    ears = _mid(kp, 7, 8)
    nose = kp[..., 0, :]
    use_ears = (ears[..., 2] >= nose[..., 2] * 0.8)[..., None]
    head = np.where(use_ears, ears, nose)
    v = head[..., :2] - shoulders[..., :2]
    s = np.minimum(head[..., 2], shoulders[..., 2])[..., None]
    out[..., 8, :] = np.concatenate([shoulders[..., :2] + UPPER_NECK * v, s], -1)
    out[..., 9, :] = np.concatenate([shoulders[..., :2] + HEAD_TOP * v, s], -1)
    return out


def blazepose_to_coco(kp) -> np.ndarray:
    """``[..., 33, 3]`` BlazePose -> ``[..., 17, 3]`` COCO-17."""
    return np.asarray(kp, np.float32)[..., list(COCO_FROM_BLAZEPOSE), :]


def convert_keypoints(kp, layout) -> np.ndarray:
    """BlazePose ``[..., 33, 3]`` keypoints in ``layout`` (one of :data:`LAYOUTS`)."""
    if layout == "blazepose33":
        return np.asarray(kp, np.float32)
    if layout == "coco17":
        return blazepose_to_coco(kp)
    if layout == "mpii16":
        return blazepose_to_mpii(kp)
    raise ConfigError(f"unknown keypoint layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
