"""Multi-person tracking by landmark propagation, with detection for new and lost people.

This is MediaPipe's single-person pose tracking made multi-person:

* every active track carries the ROI that its last landmarks give (the alignment points
  of BlazePose); each frame the landmark model runs in that ROI, moved by the track's
  velocity - so a track follows its person through camera drift, scale change and
  turning, without a detector;
* when two tracks land on the same body (one person walks in front of another), the
  track whose previous keypoints are nearer keeps it and the other is *occluded*: it
  coasts on its velocity and keeps trying its ROI;
* the person finder (:class:`~gait_tf.detection.people.PersonFinder`) runs every
  ``detect_every`` frames (and every ``lost_detect_every`` frames while a track is
  occluded or a person is missing); each new person is given back to a recently lost
  track when it appears where that track was predicted (box IoU or centre distance) and
  looks like it (colour histogram of the mask), else it starts a new track;
* a track unseen for more than ``max_missed`` frames ends.

Each observation stores the keypoints, the person score, the instance mask and the box.
A track's person score is the mean of its observations'; tracks that are not people
(mean score under ``min_track_score``) or too short are dropped by :meth:`PersonTracker.finish`.
"""
from __future__ import annotations

import dataclasses
import time

import cv2
import numpy as np

from gait_tf.detection.blazepose import Landmarks
from gait_tf.detection.people import TORSO, keypoint_distance, person_score, same_person, torso_score

#: BlazePose indices of the knees and ankles
LEGS = (25, 26, 27, 28)
from gait_tf.detection.roi import ROI
from gait_tf.segmentation.instances import MIN_KEYPOINT_COVER, InstanceMask, instance_masks, keypoint_cover
from gait_tf.segmentation.tracking import box_iou


def colour_histogram(image, inst: InstanceMask | None, bins=(12, 4)) -> np.ndarray | None:
    """L1-normalised hue x saturation histogram ``float32 [12 * 4]`` of the masked pixels."""
    if inst is None or inst.area < 30:
        return None
    x0, y0, x1, y1 = inst.box
    hsv = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], inst.mask.astype(np.uint8), list(bins), [0, 180, 0, 256]).ravel()
    s = hist.sum()
    return (hist / s).astype(np.float32) if s > 0 else None


def histogram_similarity(a, b) -> float:
    """Bhattacharyya coefficient of two normalised histograms in [0, 1] (0.5 when unknown)."""
    if a is None or b is None:
        return 0.5
    return float(np.sqrt(a * b).sum())


@dataclasses.dataclass
class Observation:
    """One tracked person in one frame."""

    frame: int
    landmarks: Landmarks
    score: float
    mask: InstanceMask | None
    box: np.ndarray  # (x0, y0, x1, y1): the mask's box, or the keypoints' box without a mask
    shape_ok: bool = False  # person-shaped mask that covers the keypoints (segmentation.instances)


@dataclasses.dataclass
class PersonTrack:
    """A person over time: ``observations`` in frame order, ``track_id`` 1, 2, ..."""

    track_id: int
    observations: list = dataclasses.field(default_factory=list)
    roi: ROI | None = None
    velocity: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(2))
    missed: int = 0
    hist: np.ndarray | None = None

    @property
    def last(self) -> Observation:
        return self.observations[-1]

    @property
    def frames(self) -> list:
        return [o.frame for o in self.observations]

    @property
    def score(self) -> float:
        """Mean person score over the observations, in [0, 1]."""
        return float(np.mean([o.score for o in self.observations])) if self.observations else 0.0

    def _steps(self, index) -> int:
        """Video frames from the last observation to frame ``index`` (the velocity is per
        video frame, so a reader's ``step`` > 1 moves the prediction as far as the person)."""
        if index is None or not self.observations:
            return self.missed + 1
        return max(int(index) - self.last.frame, 1)

    def predicted_roi(self, index=None) -> ROI:
        """The ROI expected in frame ``index`` (default: the next update)."""
        r = self.roi
        k = self._steps(index)
        return ROI(r.cx + k * self.velocity[0], r.cy + k * self.velocity[1], r.size, r.up)

    def predicted_box(self, index=None) -> np.ndarray:
        """The box ``(x0, y0, x1, y1)`` expected in frame ``index`` (default: the next update)."""
        b = np.asarray(self.last.box, np.float64)
        k = self._steps(index)
        return b + np.array([*self.velocity, *self.velocity]) * k

    @property
    def shape_fraction(self) -> float:
        """Fraction of observations whose mask is person-shaped."""
        return float(np.mean([o.shape_ok for o in self.observations])) if self.observations else 0.0

    @property
    def height(self) -> float:
        """Median height of the person's box over the observations (px)."""
        return float(np.median([o.box[3] - o.box[1] for o in self.observations])) if self.observations else 0.0

    @property
    def leg_score(self) -> float:
        """Median over observations of the mean knee and ankle keypoint score."""
        if not self.observations:
            return 0.0
        return float(np.median([o.landmarks.keypoints[list(LEGS), 2].mean() for o in self.observations]))

    def summary(self) -> dict:
        areas = [o.mask.area for o in self.observations if o.mask is not None]
        return {"track_id": self.track_id, "first_frame": self.observations[0].frame,
                "last_frame": self.observations[-1].frame, "n_frames": len(self.observations),
                "person_score": round(self.score, 4), "person_shaped": round(self.shape_fraction, 3),
                "leg_score": round(self.leg_score, 3),
                "median_height": round(self.height, 1), "mean_area": float(np.mean(areas)) if areas else 0.0}


class PersonTracker:
    """Track every person of a frame sequence.

    Args:
        finder: a :class:`~gait_tf.detection.people.PersonFinder` (its landmarker is shared).
        detect_every: run the finder every this many video frames (and on the first; with a
            reader ``step`` > 1, on the first processed frame at least this far on).
        lost_detect_every: ... and every this many while a track is occluded.
        max_missed: video frames a track may go unseen before it ends.
        min_presence, min_torso: what a propagated ROI must give to count as seen.
        min_track_frames, min_track_score: tracks kept by :meth:`finish`.
        mask_threshold: probability over which a pixel is the person's.
    """

    def __init__(self, finder, detect_every=10, lost_detect_every=5, max_missed=30, min_presence=0.5,
                 min_torso=0.5, min_track_frames=5, min_track_score=0.5, min_shape_fraction=0.5,
                 min_leg_score=0.4, min_track_height=None, mask_threshold=0.5):
        self.finder = finder
        self.landmarker = finder.landmarker
        self.detect_every, self.lost_detect_every = int(detect_every), int(lost_detect_every)
        self.max_missed = int(max_missed)
        self.min_presence, self.min_torso = float(min_presence), float(min_torso)
        self.min_track_frames, self.min_track_score = int(min_track_frames), float(min_track_score)
        self.min_shape_fraction, self.min_leg_score = float(min_shape_fraction), float(min_leg_score)
        # walkers much smaller than the detector's smallest person give no usable silhouette
        self.min_track_height = float(0.75 * getattr(finder, "min_height", 80.0) if min_track_height is None
                                      else min_track_height)
        self.mask_threshold = float(mask_threshold)
        self.active: list[PersonTrack] = []
        self.ended: list[PersonTrack] = []
        self._next_id = 1
        self._last_detect = None
        self.stats = {"landmark_runs": 0, "detections": 0}
        #: seconds spent per stage: "pose" (landmark model on the tracks' ROIs), "detection"
        #: (proposals + their verification), "segmentation" (instance masks), "tracking" (the rest)
        self.timings = {"pose": 0.0, "detection": 0.0, "segmentation": 0.0, "tracking": 0.0}

    # --- one frame -------------------------------------------------------------------------
    def update(self, index, image) -> list:
        """Process frame ``index`` (``uint8 [H, W, 3]`` RGB); returns the tracks seen in it."""
        t_start = time.perf_counter()
        seen: dict[int, Landmarks] = {}
        for t in self.active:
            # an unseen track retries its predicted ROI on the next 2 frames, then every 3rd
            if t.missed > 2 and t.missed % 3:
                continue
            lm = self.landmarker.run(image, t.predicted_roi(index))
            self.stats["landmark_runs"] += 1
            if lm.presence >= self.min_presence and torso_score(lm) >= self.min_torso:
                seen[t.track_id] = lm
        t_pose = time.perf_counter()
        self._resolve_duplicates(seen)
        # look for people more often while a track has just been lost
        lost = any(1 <= t.missed <= 10 for t in self.active if t.track_id not in seen)
        every = self.lost_detect_every if lost else self.detect_every
        due = self._last_detect is None or index - self._last_detect >= every
        new_people = []
        t_det0 = time.perf_counter()
        if due:
            self._last_detect = index
            self.stats["detections"] += 1
            new_people = self.finder.find(image, known=list(seen.values()))
        t_det1 = time.perf_counter()
        by_id = {t.track_id: t for t in self.active}
        order = list(seen.items())
        for lm in new_people:
            track = self._reacquire(lm, image, exclude=seen, index=index)
            if track is None:
                track = PersonTrack(self._next_id)
                self._next_id += 1
                self.active.append(track)
                by_id[track.track_id] = track
            seen[track.track_id] = lm
            order.append((track.track_id, lm))
        t_seg0 = time.perf_counter()
        masks = instance_masks([lm for _, lm in order], image.shape, threshold=self.mask_threshold)
        t_seg1 = time.perf_counter()
        for (tid, lm), inst in zip(order, masks):
            self._observe(by_id[tid], index, image, lm, inst)
        for t in list(self.active):
            if t.track_id not in seen:
                t.missed += 1
                if index - t.last.frame > self.max_missed:
                    self.active.remove(t)
                    self.ended.append(t)
        t_end = time.perf_counter()
        self.timings["pose"] += t_pose - t_start
        self.timings["detection"] += t_det1 - t_det0
        self.timings["segmentation"] += t_seg1 - t_seg0
        self.timings["tracking"] += (t_det0 - t_pose) + (t_seg0 - t_det1) + (t_end - t_seg1)
        return [by_id[tid] for tid, _ in order]

    def _observe(self, track, index, image, lm, inst):
        box = np.asarray(inst.box, np.float32) if inst is not None else lm.box()
        next_roi = lm.next_roi
        if track.roi is not None:  # a ROI may not jump in size (it would zoom onto a part)
            next_roi.size = float(np.clip(next_roi.size, 0.75 * track.roi.size, 1.33 * track.roi.size))
        if track.observations:
            prev = track.last
            gap = max(index - prev.frame, 1)
            move = (np.array([lm.next_roi.cx, lm.next_roi.cy]) - np.array([track.roi.cx, track.roi.cy])) / gap
            track.velocity = 0.5 * track.velocity + 0.5 * move
        shape_ok = (inst is not None and inst.shape_check() is None
                    and keypoint_cover(inst, lm.keypoints) >= MIN_KEYPOINT_COVER)
        track.observations.append(Observation(index, lm, person_score(lm), inst, box, shape_ok))
        track.roi = next_roi
        track.missed = 0
        h = colour_histogram(image, inst)
        if h is not None:
            track.hist = h if track.hist is None else 0.8 * track.hist + 0.2 * h

    def _resolve_duplicates(self, seen):
        """Two tracks on the same body: the one whose last keypoints are nearer keeps it."""
        ids = list(seen)
        tracks = {t.track_id: t for t in self.active}
        for a_i, a in enumerate(ids):
            for b in ids[a_i + 1:]:
                if a not in seen or b not in seen or not same_person(seen[a], seen[b]):
                    continue
                da = keypoint_distance(seen[a], tracks[a].last.landmarks) + 0.05 * tracks[a].missed
                db = keypoint_distance(seen[b], tracks[b].last.landmarks) + 0.05 * tracks[b].missed
                del seen[b if da <= db else a]

    def _reacquire(self, lm, image, exclude, index=None):
        """A recently lost track that ``lm`` continues, or None."""
        best, best_cost = None, None
        box = lm.box()
        h = None
        for t in self.active:
            if t.track_id in exclude or t.missed == 0:
                continue
            pred = t.predicted_box(index)
            iou = float(box_iou(box[None], pred[None])[0, 0])
            c1 = (box[:2] + box[2:]) / 2
            c2 = (pred[:2] + pred[2:]) / 2
            height = max(pred[3] - pred[1], 1.0)
            dist = float(np.linalg.norm(c1 - c2) / height)
            if iou < 0.2 and dist > 0.75:
                continue
            if h is None:
                h = colour_histogram(image, _rough_mask(lm, self.mask_threshold))
            sim = histogram_similarity(h, t.hist)
            if sim < 0.5:
                continue
            cost = dist - iou - sim
            if best_cost is None or cost < best_cost:
                best, best_cost = t, cost
        return best

    # --- end -------------------------------------------------------------------------------
    def rejection(self, track) -> str | None:
        """Why ``track`` is not kept as a walking person, or None."""
        if len(track.observations) < self.min_track_frames:
            return f"seen in only {len(track.observations)} frames"
        if track.score < self.min_track_score:
            return f"person score {track.score:.2f}"
        if track.shape_fraction < self.min_shape_fraction:
            return f"mask person-shaped in only {track.shape_fraction:.0%} of frames"
        if track.leg_score < self.min_leg_score:
            return f"legs not visible (leg score {track.leg_score:.2f})"
        if track.height < self.min_track_height:
            return f"too small (median height {track.height:.0f} px < {self.min_track_height:.0f})"
        return None

    # --- endless streams -------------------------------------------------------------------
    def prune(self, keep_last) -> list:
        """Bound the memory of an endless stream: keep only the last ``keep_last``
        observations of each active track (what :meth:`update` and :meth:`rejection` look
        at then), and hand back - and forget - the tracks that have ended."""
        keep_last = int(keep_last)
        if keep_last < max(1, self.min_track_frames):
            raise ValueError(f"keep_last must be >= min_track_frames ({self.min_track_frames}), got {keep_last}")
        for t in self.active:
            del t.observations[:-keep_last]
        ended, self.ended = self.ended, []
        return ended

    def end_all(self):
        """End every active track (the video broke off: nobody can be followed across the
        gap); the next :meth:`update` runs the finder."""
        self.ended.extend(self.active)
        self.active = []
        self._last_detect = None

    def finish(self) -> list:
        """All tracks (ended and active) that are walking people, by id (see :meth:`rejection`):
        at least ``min_track_frames`` observations, a mean person score of at least
        ``min_track_score``, a person-shaped mask in at least ``min_shape_fraction`` of its
        frames, visible legs (median knee/ankle score >= ``min_leg_score``) and a median
        height of ``min_track_height`` px (default 3/4 of the finder's ``min_height``)."""
        tracks = sorted(self.ended + self.active, key=lambda t: t.track_id)
        return [t for t in tracks if self.rejection(t) is None]


def _rough_mask(lm, threshold):
    if lm.mask_prob is None:
        return None
    return InstanceMask(tuple(lm.mask_box), lm.mask_prob > threshold).tight()


__all__ = ["Observation", "PersonTrack", "PersonTracker", "TORSO", "colour_histogram", "histogram_similarity"]
