"""Multi-person box tracking across frames and the rule that picks the person to follow.

Association: each frame, detections are matched to existing tracks by maximising the IoU
between the detection box and the track's *predicted* box (Hungarian assignment,
``scipy.optimize.linear_sum_assignment``); pairs under ``iou_threshold`` are not matched.
Unmatched detections start new tracks (ids 1, 2, ... in order of appearance); a track
unmatched for more than ``max_missed`` frames ends.

Smoothing: each track runs a constant-velocity alpha-beta filter (the steady-state form
of a Kalman filter) on the box centre and size ``(cx, cy, w, h)``: the prediction
``x + v`` is corrected by ``alpha`` times the innovation, the velocity by ``beta``. The
smoothed box is what the overlay draws; the silhouette itself is the detection's mask.

Which person to follow (:func:`select_track`):

- ``"largest"`` (default): the track with the largest **total foreground area** summed
  over all its frames - the person who is both the biggest in the picture and visible
  the longest (a passer-by crossing briefly, or a small far-away person, loses);
  ties go to the lower id.
- an ``int``: that track id (as listed by ``gait-tf silhouettes``).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from gait_tf.errors import VideoError


def box_iou(a, b) -> np.ndarray:
    """IoU matrix ``float [len(a), len(b)]`` of boxes ``(x0, y0, x1, y1)``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def _to_state(box):
    x0, y0, x1, y1 = box
    return np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0, x1 - x0, y1 - y0], np.float64)


def _to_box(state):
    cx, cy, w, h = state
    return np.array([cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0], np.float64)


@dataclasses.dataclass
class Track:
    """One tracked person.

    Attributes:
        track_id: 1, 2, ... in order of appearance.
        state: smoothed ``(cx, cy, w, h)`` in pixels; ``velocity`` its per-frame change.
        frames: indices of the frames where the track was matched to a detection.
        boxes: smoothed boxes ``(x0, y0, x1, y1)`` at those frames.
        areas: foreground pixels of the matched detection at those frames.
        missed: consecutive frames without a match.
    """

    track_id: int
    state: np.ndarray
    velocity: np.ndarray
    frames: list = dataclasses.field(default_factory=list)
    boxes: list = dataclasses.field(default_factory=list)
    areas: list = dataclasses.field(default_factory=list)
    missed: int = 0

    @property
    def box(self) -> np.ndarray:
        """Current smoothed box ``(x0, y0, x1, y1)``."""
        return _to_box(self.state)

    def predicted_box(self) -> np.ndarray:
        return _to_box(self.state + self.velocity)

    @property
    def total_area(self) -> int:
        return int(np.sum(self.areas))

    def summary(self) -> dict:
        """JSON-able description: id, first/last frame, frames seen, mean area."""
        return {"track_id": self.track_id, "first_frame": int(self.frames[0]), "last_frame": int(self.frames[-1]),
                "n_frames": len(self.frames), "mean_area": float(np.mean(self.areas)),
                "total_area": self.total_area}


class BoxTracker:
    """IoU-associating multi-person tracker with alpha-beta box smoothing.

    Args:
        iou_threshold: minimum IoU between a predicted track box and a detection to match.
        alpha: position/size correction gain in (0, 1]; 1 = no smoothing.
        beta: velocity correction gain in [0, 1).
        max_missed: frames a track survives without a match.

    ``update(frame_index, boxes, areas)`` returns, for each input box, the id of the
    track it was assigned to.
    """

    def __init__(self, iou_threshold=0.2, alpha=0.6, beta=0.2, max_missed=8):
        self.iou_threshold = float(iou_threshold)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.max_missed = int(max_missed)
        self.active: list[Track] = []
        self.finished: list[Track] = []
        self._next_id = 1

    @property
    def tracks(self) -> list[Track]:
        """All tracks seen so far (finished and active), by id."""
        return sorted(self.finished + self.active, key=lambda t: t.track_id)

    def update(self, frame_index: int, boxes, areas=None) -> list[int]:
        from scipy.optimize import linear_sum_assignment

        boxes = [np.asarray(b, np.float64) for b in boxes]
        areas = list(areas) if areas is not None else [float((b[2] - b[0]) * (b[3] - b[1])) for b in boxes]
        assigned = [-1] * len(boxes)
        matched_tracks = set()
        if self.active and boxes:
            pred = np.stack([t.predicted_box() for t in self.active])
            iou = box_iou(pred, np.stack(boxes))
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= self.iou_threshold:
                    self._correct(self.active[r], boxes[c], areas[c], frame_index)
                    assigned[c] = self.active[r].track_id
                    matched_tracks.add(r)
        for c, box in enumerate(boxes):
            if assigned[c] < 0:
                track = Track(self._next_id, _to_state(box), np.zeros(4))
                self._next_id += 1
                track.frames.append(frame_index)
                track.boxes.append(track.box)
                track.areas.append(areas[c])
                self.active.append(track)
                assigned[c] = track.track_id
                matched_tracks.add(len(self.active) - 1)
        still = []
        for i, track in enumerate(self.active):
            if i not in matched_tracks:
                track.missed += 1
                track.state = track.state + track.velocity  # coast on the prediction
            (still if track.missed <= self.max_missed else self.finished).append(track)
        self.active = still
        return assigned

    def _correct(self, track, box, area, frame_index):
        # unmatched frames already coasted the state, so one step ahead is the prediction
        pred = track.state + track.velocity
        resid = _to_state(box) - pred
        track.state = pred + self.alpha * resid
        track.velocity = track.velocity + self.beta * resid
        track.missed = 0
        track.frames.append(frame_index)
        track.boxes.append(track.box)
        track.areas.append(area)


def select_track(tracks, rule="largest") -> Track:
    """Pick the track to follow: ``"largest"`` (largest total foreground area over its
    frames; ties -> lower id) or an ``int`` track id. See the module doc.

    Raises:
        VideoError: no tracks (no person in the video), or an unknown track id.
    """
    tracks = list(tracks)
    if not tracks:
        raise VideoError("no person found in the video")
    if rule is None or rule == "largest":
        return max(tracks, key=lambda t: (t.total_area, -t.track_id))
    try:
        tid = int(rule)
    except (TypeError, ValueError):
        raise VideoError(f"track rule must be 'largest' or a track id, got {rule!r}") from None
    for t in tracks:
        if t.track_id == tid:
            return t
    raise VideoError(f"no track with id {tid}; tracks found: {', '.join(str(t.track_id) for t in tracks)}")
