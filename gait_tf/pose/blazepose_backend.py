"""Real 2D pose out of the box: BlazePose behind HumanPoseNN's API.

:class:`BlazePoseNetwork` finds **every** person in an image (HOG + BlazePose detection
over tiles, verified by the BlazePose landmark model; :mod:`gait_tf.detection.people`)
and maps BlazePose's 33 keypoints to the 16 MPII joints in the original HumanPoseNN order
(:func:`~gait_tf.pose.keypoints.blazepose_to_mpii`) and to COCO-17.

* :meth:`estimate_people` - all persons of one image, each a :class:`PersonPose`;
* :meth:`joint_positions` / :meth:`estimate_joints` - the original contract
  ``(ys, xs, probs)``, each ``float32 [B, 16]`` in the input's pixels, for the most
  prominent person of each image (largest keypoint box x person score; probabilities 0
  where no person is found);
* :meth:`heat_maps` / :meth:`feed_forward` - ``[B, 289, 289, 16]`` maps in the original's
  289x289 grid over the image: a Gaussian (sigma 5 px of that grid) at each joint with the
  joint's probability as its peak, so that their arg-max and peak give back
  :meth:`joint_positions`. They are rendered from the keypoints (BlazePose has no MPII
  heat maps); the network's own heat maps need HumanPoseNN weights.

:class:`~gait_tf.pose.human_pose.HumanPoseIRNetwork` uses this backend while it has no
weights (see its ``backend`` argument).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from gait_tf.errors import ModelError
from gait_tf.pose.checks import validate_images
from gait_tf.pose.keypoints import MPII_NAMES, blazepose_to_coco, blazepose_to_mpii

HEATMAP_SIZE = 289


@dataclasses.dataclass
class PersonPose:
    """One person in an image: keypoints ``float32 [K, 3]`` ``(x, y, probability)`` in
    pixels (``mpii`` 16 in HumanPoseNN order, ``coco`` 17, ``blazepose`` 33), the person
    ``score`` in [0, 1], its keypoint ``box`` ``(x0, y0, x1, y1)`` and instance ``mask``
    (``(box, bool mask)`` or None)."""

    mpii: np.ndarray
    coco: np.ndarray
    blazepose: np.ndarray
    score: float
    box: np.ndarray
    mask: tuple | None = None

    def to_dict(self) -> dict:
        return {"score": round(self.score, 4), "box": np.round(self.box, 1).tolist(),
                "joints": {n: {"x": round(float(x), 1), "y": round(float(y), 1), "probability": round(float(p), 4)}
                           for n, (x, y, p) in zip(MPII_NAMES, self.mpii)}}


def check_images(x, what="images") -> np.ndarray:
    """``[B, H, W, 3]`` (or ``[H, W, 3]``) uint8, or float 0..255 -> uint8 ``[B, H, W, 3]``.

    Raises :class:`ModelError` for other shapes, NaN / infinite values, values outside
    0..255, or images smaller than :data:`~gait_tf.pose.checks.MIN_IMAGE_SIZE` pixels.
    """
    arr = validate_images(x, who=what)
    if arr.dtype != np.uint8:
        if arr.min() < 0 or arr.max() > 255:
            raise ModelError(f"{what} values must lie in 0..255, got [{arr.min():.3g}, {arr.max():.3g}]")
        arr = np.round(arr).astype(np.uint8)
    return arr


class BlazePoseNetwork:
    """Multi-person 2D pose with HumanPoseNN's API (see the module docstring).

    Args:
        min_height: smallest person to detect (px).
        tiled: run the BlazePose detector over image tiles too (finds small people in
            photos; slower). HOG proposals are always used.
        num_threads: LiteRT threads.
    """

    backend = "blazepose"
    JOINT_NAMES = MPII_NAMES
    HEATMAP_SIZE = HEATMAP_SIZE

    def __init__(self, min_height=60.0, tiled=True, num_threads=2):
        from gait_tf.detection.people import PersonFinder

        self.finder = PersonFinder("hog+blazepose", min_height=min_height, num_threads=num_threads)
        self.tiled = bool(tiled)

    def estimate_people(self, image) -> list:
        """All persons in one image (``uint8 [H, W, 3]`` RGB), best score first."""
        from gait_tf.detection.people import person_score
        from gait_tf.segmentation.instances import instance_masks

        img = check_images(image)[0]
        found = self.finder.find(img, tiled=self.tiled)
        masks = instance_masks(found, img.shape)
        out = []
        for lm, m in zip(found, masks):
            out.append(PersonPose(blazepose_to_mpii(lm.keypoints), blazepose_to_coco(lm.keypoints), lm.keypoints,
                                  person_score(lm), lm.box(), None if m is None else (m.box, m.mask)))
        return out

    @staticmethod
    def main_person(people):
        """The most prominent person: largest keypoint-box area x person score (or None)."""
        if not people:
            return None
        return max(people, key=lambda p: float((p.box[2] - p.box[0]) * (p.box[3] - p.box[1])) * p.score)

    def joint_positions(self, images):
        """``(coords_y, coords_x, probabilities)``, each ``float32 [B, 16]``, of the most
        prominent person of each image (pixels of the input; joint order
        :data:`~gait_tf.pose.keypoints.MPII_NAMES`; all zeros where nobody is found)."""
        batch = check_images(images)
        ys = np.zeros((len(batch), 16), np.float32)
        xs, ps = np.zeros_like(ys), np.zeros_like(ys)
        for i, img in enumerate(batch):
            person = self.main_person(self.estimate_people(img))
            if person is not None:
                xs[i], ys[i], ps[i] = person.mpii[:, 0], person.mpii[:, 1], person.mpii[:, 2]
        return ys, xs, ps

    estimate_joints = joint_positions

    def heat_maps(self, images):
        """``float32 [B, 289, 289, 16]``: Gaussians (sigma 5 grid px) at the joints of
        :meth:`joint_positions` in the 289x289 grid over each image, peak = probability."""
        batch = check_images(images)
        ys, xs, ps = self.joint_positions(batch)
        h, w = batch.shape[1:3]
        grid = np.arange(HEATMAP_SIZE, dtype=np.float32)
        gy = ys * (HEATMAP_SIZE / h)
        gx = xs * (HEATMAP_SIZE / w)
        sigma = 5.0
        wy = np.exp(-0.5 * ((grid[None, :, None] - np.round(gy)[:, None, :]) / sigma) ** 2)  # [B, 289, 16]
        wx = np.exp(-0.5 * ((grid[None, :, None] - np.round(gx)[:, None, :]) / sigma) ** 2)
        return (wy[:, :, None, :] * wx[:, None, :, :] * ps[:, None, None, :]).astype(np.float32)

    feed_forward = heat_maps

    def feed_forward_features(self, images):
        raise ModelError("the BlazePose backend gives joints, not HumanPoseNN's 17x17x32 pose features; "
                         "restore HumanPoseNN weights (HumanPoseIRNetwork.restore) to get features for GaitNetwork")
