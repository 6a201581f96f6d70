"""Find every person in a frame: box proposals, verified and refined by the landmark model.

Proposals come from OpenCV's HOG pedestrian detector (small, upright walkers) and from
BlazePose's own detector (large, near or non-upright people; over tiles for still
images). Each proposal becomes an upright or aligned ROI; the BlazePose landmark model
runs on it and on the ROI its own alignment landmarks give (one refinement pass). A
proposal is a person when the model's presence score and the confidence of its torso
keypoints pass thresholds - this is what rejects HOG's stray boxes (trees, facades,
boxes drawn on the video). Persons whose keypoints coincide are merged
(:func:`same_person`).
"""
from __future__ import annotations

import numpy as np

from gait_tf.detection.blazepose import Landmarks, PoseDetector, PoseLandmarker
from gait_tf.detection.hog import HOGPeopleDetector, person_box_of
from gait_tf.detection.roi import ROI
from gait_tf.errors import ConfigError

#: BlazePose indices of the shoulders and hips
TORSO = (11, 12, 23, 24)
#: proposal sources of :class:`PersonFinder`
DETECTORS = ("hog", "blazepose", "hog+blazepose")


def torso_score(lm: Landmarks) -> float:
    """Mean keypoint score of the shoulders and hips, in [0, 1]."""
    return float(lm.keypoints[list(TORSO), 2].mean())


def person_score(lm: Landmarks) -> float:
    """Person score in [0, 1]: the landmark model's presence x the torso keypoints' mean score."""
    return float(lm.presence * torso_score(lm))


def body_height(lm: Landmarks) -> float:
    """Height of the keypoint box (px), at least 1."""
    b = lm.box()
    return float(max(b[3] - b[1], 1.0))


def keypoint_distance(a: Landmarks, b: Landmarks, min_score=0.3) -> float:
    """Mean distance of the keypoints both persons see with ``min_score``, divided by the
    larger body height (``inf`` when they share fewer than 4 such keypoints)."""
    sel = (a.keypoints[:, 2] >= min_score) & (b.keypoints[:, 2] >= min_score)
    if sel.sum() < 4:
        return float("inf")
    d = np.linalg.norm(a.keypoints[sel, :2] - b.keypoints[sel, :2], axis=1).mean()
    return float(d / max(body_height(a), body_height(b)))


def part_of(a: Landmarks, b: Landmarks, inside=0.7, smaller=0.6) -> bool:
    """True when ``a``'s keypoint box lies mostly (``inside``) within ``b``'s and ``a`` is
    less than ``smaller`` times ``b``'s height: ``a`` is a part of ``b`` read as a body."""
    ba, bb = a.box(), b.box()
    w = max(0.0, min(ba[2], bb[2]) - max(ba[0], bb[0]))
    h = max(0.0, min(ba[3], bb[3]) - max(ba[1], bb[1]))
    area = max((ba[2] - ba[0]) * (ba[3] - ba[1]), 1e-6)
    return w * h / area >= inside and body_height(a) < smaller * body_height(b)


def same_person(a: Landmarks, b: Landmarks, tol=0.15) -> bool:
    """True when two landmark results describe the same body (mean keypoint distance
    under ``tol`` body heights)."""
    return keypoint_distance(a, b) < tol


class PersonFinder:
    """Detect and verify people in a frame.

    Args:
        detector: proposal source: ``"hog"``, ``"blazepose"`` or ``"hog+blazepose"``.
        min_height: smallest person to look for (px, HOG).
        min_presence: the landmark model's presence score a proposal needs.
        min_torso: mean score of the shoulder and hip keypoints a proposal needs.
        landmarker: a shared :class:`PoseLandmarker` (default: a new one).
        num_threads: LiteRT threads.
    """

    def __init__(self, detector="hog+blazepose", min_height=80.0, min_presence=0.5, min_torso=0.5,
                 landmarker=None, num_threads=2):
        if detector not in DETECTORS:
            raise ConfigError(f"unknown person detector {detector!r}; choose one of {', '.join(DETECTORS)}")
        self.detector = detector
        self.min_height = float(min_height)
        self.min_presence, self.min_torso = float(min_presence), float(min_torso)
        self.landmarker = landmarker or PoseLandmarker(num_threads=num_threads)
        self.hog = HOGPeopleDetector(min_height=min_height) if "hog" in detector else None
        self.blazepose = PoseDetector(num_threads=num_threads) if "blazepose" in detector else None

    def proposals(self, image, tiled=False) -> list:
        """Candidate ROIs in ``image`` (``uint8 [H, W, 3]`` RGB)."""
        rois = []
        if self.hog is not None:
            boxes, _ = self.hog.detect(image)
            rois += [ROI.from_box(person_box_of(b), scale=1.4) for b in boxes]
        if self.blazepose is not None:
            dets = self.blazepose.detect_tiled(image) if tiled else self.blazepose.detect(image)
            rois += [d.roi() for d in dets]
        return rois

    def verify(self, image, roi: ROI, refine=1) -> Landmarks | None:
        """Run the landmark model on ``roi`` (and ``refine`` times on the ROI it proposes);
        the result if it is a person, else None."""
        lm = self.landmarker.run(image, roi)
        for _ in range(refine):
            if lm.presence < self.min_presence:
                return None
            lm = self.landmarker.run(image, lm.next_roi)
        if lm.presence < self.min_presence or torso_score(lm) < self.min_torso:
            return None
        return lm

    def find(self, image, known=(), tiled=False, skip_iou=0.5) -> list:
        """People in ``image`` that are not in ``known`` (a list of :class:`Landmarks`):
        new, verified, de-duplicated :class:`Landmarks`, best person score first.

        A proposal whose ROI covers a known person's keypoint box (IoU > ``skip_iou``)
        is not run at all.
        """
        from gait_tf.segmentation.tracking import box_iou

        known = list(known)
        known_boxes = np.stack([k.box() for k in known]) if known else np.zeros((0, 4))
        found: list = []
        for roi in self.proposals(image, tiled=tiled):
            if len(known_boxes):
                inner = _inner_box(roi)
                if box_iou(inner[None], known_boxes).max() > skip_iou:
                    continue
            lm = self.verify(image, roi)
            if lm is None or any(same_person(lm, k) for k in known + found):
                continue
            found.append(lm)
        # a small "person" inside a bigger one is a body part read as a body (a tie, an arm)
        found = [a for a in found if not any(part_of(a, b) for b in known + found if b is not a)]
        return sorted(found, key=person_score, reverse=True)


def _inner_box(roi: ROI) -> np.ndarray:
    """The part of a proposal ROI a person occupies (ROI side / 1.4 tall, half as wide)."""
    h = roi.size / 1.4
    return np.array([roi.cx - h / 4, roi.cy - h / 2, roi.cx + h / 4, roi.cy + h / 2], np.float32)
