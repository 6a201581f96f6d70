"""The real front end: video -> every person detected, segmented, tracked -> silhouettes.

:func:`track_people` streams a video through

    detection (:class:`~gait_tf.detection.people.PersonFinder`: HOG + BlazePose proposals,
    verified by the BlazePose landmark model)
    -> instance segmentation (:func:`~gait_tf.segmentation.instances.instance_masks`)
    -> tracking (:class:`~gait_tf.tracking.people.PersonTracker`, landmark propagation)

and returns a :class:`PeopleResult`: one :class:`PersonSequence` per person track, with
its masks (cropped, so memory grows with the people's size, not the frame's), boxes,
person scores and keypoints per frame. :meth:`PersonSequence.pretreated` gives the
OpenGait ``uint8 [T, 64, 64]`` sequence and the video frame index of each of its rows.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from gait_tf.errors import VideoError
from gait_tf.video.readers import open_video


@dataclasses.dataclass
class PersonSequence:
    """One person track of a video.

    Attributes:
        track_id: 1, 2, ... in order of appearance.
        frame_shape: ``(H, W)`` of the video.
        frames: ``int64 [T]`` 0-based video frame index of each observation.
        boxes: ``float32 [T, 4]`` ``(x0, y0, x1, y1)`` px: the mask's box.
        scores: ``float32 [T]`` person scores in [0, 1].
        areas: ``int64 [T]`` mask areas (px).
        keypoints: ``float32 [T, 33, 3]`` BlazePose ``(x, y, score)`` in px.
        crops: ``[(box, bool mask)]`` per observation.
        shape_ok: ``bool [T]`` the mask is person-shaped; only those frames are pretreated.
    """

    track_id: int
    frame_shape: tuple
    frames: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    areas: np.ndarray
    keypoints: np.ndarray
    crops: list
    shape_ok: np.ndarray

    def __len__(self):
        return len(self.frames)

    @property
    def score(self) -> float:
        return float(self.scores.mean()) if len(self.scores) else 0.0

    def mask(self, i) -> np.ndarray:
        """Observation ``i``'s mask as a full frame ``uint8 [H, W]`` (0 / 255)."""
        out = np.zeros(self.frame_shape, np.uint8)
        if self.crops[i] is not None:
            (x0, y0, x1, y1), m = self.crops[i]
            out[y0:y1, x0:x1][m] = 255
        return out

    def keypoints_as(self, layout) -> np.ndarray:
        """Keypoints ``float32 [T, K, 3]`` in ``"coco17"``, ``"mpii16"`` or ``"blazepose33"`` order."""
        from gait_tf.pose.keypoints import convert_keypoints

        return convert_keypoints(self.keypoints, layout)

    def pretreated(self):
        """``(seq uint8 [T', 64, 64], frames int64 [T'])``: OpenGait pretreatment of the
        person-shaped masks, and the video frame index of each row (frames whose mask is
        not person-shaped, and those pretreatment drops, are left out)."""
        from gait_tf.data.pretreat import pretreat_frame

        rows, kept = [], []
        for i in range(len(self)):
            if not self.shape_ok[i]:
                continue
            res, _ = pretreat_frame(self._crop_frame(i))
            if res is not None:
                rows.append(res)
                kept.append(int(self.frames[i]))
        seq = np.stack(rows) if rows else np.zeros((0, 64, 64), np.uint8)
        return seq, np.asarray(kept, np.int64)

    def _crop_frame(self, i, pad=4) -> np.ndarray:
        return mask_canvas(self.crops[i][1], pad)

    def summary(self) -> dict:
        return {"track_id": self.track_id, "first_frame": int(self.frames[0]), "last_frame": int(self.frames[-1]),
                "n_frames": len(self), "person_score": round(self.score, 4),
                "mean_area": float(self.areas.mean()) if len(self.areas) else 0.0}


@dataclasses.dataclass
class PeopleResult:
    """What :func:`track_people` found in a video."""

    source: str
    frame_shape: tuple
    fps: float | None
    n_frames: int
    people: list
    dropped: list
    corrupt_frames: int = 0
    timings: dict = dataclasses.field(default_factory=dict)
    stats: dict = dataclasses.field(default_factory=dict)

    def by_id(self, track_id) -> PersonSequence:
        for p in self.people:
            if p.track_id == track_id:
                return p
        known = ", ".join(str(p.track_id) for p in self.people) or "none"
        raise VideoError(f"{self.source}: no person track {track_id} (tracks: {known})")

    def largest(self) -> PersonSequence:
        """The track with the largest total mask area (biggest and longest visible)."""
        return max(self.people, key=lambda p: (float(p.areas.sum()), -p.track_id))


def mask_canvas(mask, pad=4) -> np.ndarray:
    """A person's cropped ``bool [h, w]`` mask on a small ``uint8`` canvas (0 / 255) for
    pretreatment (it crops rows and re-centres columns itself: the full frame is not needed)."""
    out = np.zeros((mask.shape[0] + 2 * pad, mask.shape[1] + 2 * pad), np.uint8)
    out[pad:pad + mask.shape[0], pad:pad + mask.shape[1]][mask] = 255
    return out


def default_tracker(detector="hog+blazepose", min_height=80.0, num_threads=2, **tracker_kwargs):
    from gait_tf.detection.people import PersonFinder
    from gait_tf.tracking.people import PersonTracker

    finder = PersonFinder(detector, min_height=min_height, num_threads=num_threads)
    return PersonTracker(finder, **tracker_kwargs)


def track_people(source, *, tracker=None, detector="hog+blazepose", min_height=80.0, max_frames=None, step=1,
                 progress=False, require_person=True, num_threads=2, **tracker_kwargs) -> PeopleResult:
    """Detect, segment and track every person of a video.

    Args:
        source: video file, GIF, image folder, ``.npy`` or array (see ``VideoReader``).
        tracker: a :class:`~gait_tf.tracking.people.PersonTracker` (default: built from
            ``detector``, ``min_height`` and ``tracker_kwargs``).
        detector: person proposals: ``"hog"``, ``"blazepose"`` or ``"hog+blazepose"``.
        min_height: smallest person to detect (px).
        max_frames, step: passed to the reader.
        progress: tqdm bar on stderr: True, False or ``"auto"``.
        require_person: raise :class:`VideoError` when no person track is found.

    Raises:
        VideoError: unreadable/empty video, or (``require_person``) nobody in it.
        AssetError: the BlazePose models are not fetched.
    """
    from gait_tf.video.pipeline import _progress

    reader = open_video(source, max_frames=max_frames, step=step)
    tracker = tracker or default_tracker(detector, min_height, num_threads, **tracker_kwargs)
    shape, n = None, 0
    t0 = time.perf_counter()
    update = 0.0
    for index, frame in _progress(reader.iter_indexed(), reader.frame_count, "tracking people", progress):
        shape = frame.shape[:2]
        t1 = time.perf_counter()
        tracker.update(index, frame)
        update += time.perf_counter() - t1
        n += 1
    elapsed = time.perf_counter() - t0
    tracks = tracker.finish()
    kept_ids = {t.track_id for t in tracks}
    dropped = [dict(t.summary(), reason=tracker.rejection(t))
               for t in sorted(tracker.ended + tracker.active, key=lambda t: t.track_id) if t.track_id not in kept_ids]
    people = [_sequence(t, shape) for t in tracks]
    people = [p for p in people if len(p)]
    result = PeopleResult(source=reader.name, frame_shape=tuple(shape), fps=reader.fps, n_frames=n, people=people,
                          dropped=dropped, corrupt_frames=reader.corrupt_frames,
                          timings={"total_s": elapsed, "frames_per_s": n / elapsed if elapsed else 0.0,
                                   "decode_s": elapsed - update, **{f"{k}_s": v for k, v in tracker.timings.items()}},
                          stats=dict(tracker.stats))
    if require_person and not people:
        extra = f"; {len(dropped)} candidate track(s) rejected as not people" if dropped else ""
        raise VideoError(f"{reader.name}: no person found in the video ({n} frames, detector {detector}{extra})")
    return result


def _sequence(track, shape) -> PersonSequence:
    obs = [o for o in track.observations if o.mask is not None]
    return PersonSequence(
        track_id=track.track_id, frame_shape=tuple(shape),
        frames=np.array([o.frame for o in obs], np.int64),
        boxes=np.array([o.box for o in obs], np.float32).reshape(-1, 4),
        scores=np.array([o.score for o in obs], np.float32),
        areas=np.array([o.mask.area for o in obs], np.int64),
        keypoints=np.array([o.landmarks.keypoints for o in obs], np.float32).reshape(-1, 33, 3),
        crops=[(tuple(int(v) for v in o.mask.box), o.mask.mask) for o in obs],
        shape_ok=np.array([o.shape_ok for o in obs], bool))
