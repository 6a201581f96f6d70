"""Rolling identification of every walker of an endless video stream.

:class:`Watcher` takes frames one at a time (:meth:`Watcher.process`), runs the real
front end on each (:class:`~gait_tf.tracking.people.PersonTracker`: detection, instance
masks, tracking), pretreats each person's new silhouette as it comes (OpenGait
``uint8 [64, 64]``, the same pretreatment as :meth:`PersonSequence.pretreated
<gait_tf.video.frontend.PersonSequence.pretreated>`) and, per track,

* answers once the track is a walking person (:meth:`PersonTracker.rejection
  <gait_tf.tracking.people.PersonTracker.rejection>` over its recent observations) with
  at least ``min_frames`` (:data:`~gait_tf.video.pipeline.MIN_FRAMES`) usable silhouettes:
  the last ``window`` silhouettes are embedded and ranked against the gallery (open set:
  ``"unknown"`` above the threshold);
* answers again every ``update_every`` new silhouettes, as the track grows;
* answers a last time when the track ends (if new silhouettes came since its last answer).

Memory is bounded whatever the stream's length: a track keeps at most ``window``
silhouettes (``uint8 [64, 64]`` each) and the tracker at most ``window`` observations per
track (:meth:`PersonTracker.prune <gait_tf.tracking.people.PersonTracker.prune>`); ended
tracks are forgotten once reported; the totals kept are counters (per gallery identity).

Every answer is an *event*, a plain dict (JSON-ready):

* ``{"event": "identity", "track_id", "frame", "first_frame", "n_silhouettes",
  "window_frames": [first, last], "update", "changed", "final", "latency_frames",
  "latency_s", "identity", "distance", "threshold", "matches": [...]}``; ``latency_*``
  (from the track's first frame to this answer, in frames and wall seconds from the first
  frame's arrival) only on a track's first answer;
* ``{"event": "ended", "track_id", "frame", "first_frame", "last_frame", "answers",
  "identity"}``: a person track ended (``identity``: its last answer, None if never answered).
"""
from __future__ import annotations

import collections
import dataclasses
import time

import numpy as np

from gait_tf.errors import ConfigError
from gait_tf.video.pipeline import MIN_FRAMES

#: default number of recent frames kept per track (and embedded): 2 s at 30 fps
WINDOW = 60
#: default number of new silhouettes between two answers for a track (1 s at 30 fps: an answer
#: embeds the whole window, the costliest step after the front end)
UPDATE_EVERY = 30


@dataclasses.dataclass
class TrackState:
    """What the watcher keeps of one active track (bounded by ``window``)."""

    track_id: int
    first_frame: int
    first_arrival: float
    window: int
    last_frame: int = -1
    seen: int = 0
    silhouettes: collections.deque = None
    frames: collections.deque = None
    since_answer: int = 0
    answers: int = 0
    identity: str | None = None

    def __post_init__(self):
        self.silhouettes = collections.deque(maxlen=self.window)
        self.frames = collections.deque(maxlen=self.window)


class Watcher:
    """Rolling gallery identification of the people of a stream (see the module doc).

    Args:
        gallery: a :class:`~gait_tf.gallery.Gallery`.
        embed: ``uint8 [T, 64, 64] -> float32 [P, D]`` (:func:`~gait_tf.evaluation.embed.model_embed_fn`).
        tracker: a :class:`~gait_tf.tracking.people.PersonTracker` (default: the front end's).
        model_name: checked against the gallery at each answer.
        window: silhouettes (and tracker observations) kept per track; >= ``min_frames``.
        update_every: new silhouettes between two answers.
        min_frames: usable silhouettes before the first answer.
        top_k, threshold: as :meth:`Gallery.identify <gait_tf.gallery.Gallery.identify>`
            (``...``: the gallery's threshold; None: closed set).
        clock: ``time.monotonic`` (the clock of :attr:`Frame.arrival <gait_tf.video.stream.Frame.arrival>`).
    """

    def __init__(self, gallery, embed, *, tracker=None, model_name=None, window=WINDOW, update_every=UPDATE_EVERY,
                 min_frames=MIN_FRAMES, top_k=5, threshold=..., clock=time.monotonic):
        if int(min_frames) < 1:
            raise ConfigError(f"min_frames must be >= 1, got {min_frames}")
        if int(window) < int(min_frames):
            raise ConfigError(f"window must be at least {min_frames} frames (MIN_FRAMES usable silhouettes are "
                              f"needed for an answer), got {window}")
        if int(update_every) < 1:
            raise ConfigError(f"update_every must be >= 1, got {update_every}")
        if tracker is None:
            from gait_tf.video.frontend import default_tracker

            tracker = default_tracker()
        if int(window) < tracker.min_track_frames:
            raise ConfigError(f"window must be >= the tracker's min_track_frames ({tracker.min_track_frames})")
        self.gallery, self.embed, self.tracker = gallery, embed, tracker
        self.model_name = model_name or gallery.model_name
        self.window, self.update_every, self.min_frames = int(window), int(update_every), int(min_frames)
        self.top_k, self.threshold, self.clock = int(top_k), threshold, clock
        self.tracks: dict[int, TrackState] = {}
        self.frame_shape = None
        self.last_index = -1
        #: counters (bounded: one entry per gallery identity + "unknown")
        self.stats = {"frames": 0, "tracks": 0, "people": 0, "answers": 0, "embed_s": 0.0, "frontend_s": 0.0}
        self.identities = collections.Counter()

    # -- one frame -------------------------------------------------------------------------
    def process(self, frame) -> list:
        """Run the front end on one :class:`~gait_tf.video.stream.Frame`; returns the events."""
        from gait_tf.data.pretreat import pretreat_frame
        from gait_tf.video.frontend import mask_canvas

        events = []
        image = frame.image
        if self.frame_shape is not None and image.shape != self.frame_shape:
            events += self.interrupt()  # the picture changed size: nobody can be followed across
        self.frame_shape = image.shape
        t0 = self.clock()
        seen = self.tracker.update(frame.index, image)
        for track in seen:
            st = self.tracks.get(track.track_id)
            if st is None:
                st = self.tracks[track.track_id] = TrackState(track.track_id, frame.index, frame.arrival, self.window)
                self.stats["tracks"] += 1
            st.last_frame, st.seen = frame.index, st.seen + 1
            obs = track.last
            if obs.shape_ok and obs.mask is not None:
                sil, _ = pretreat_frame(mask_canvas(obs.mask.mask))
                if sil is not None:
                    st.silhouettes.append(sil)
                    st.frames.append(frame.index)
                    st.since_answer += 1
        self.stats["frontend_s"] += self.clock() - t0
        self.stats["frames"] += 1
        self.last_index = frame.index
        events += self._end(self.tracker.prune(self.window), frame.index)
        for track in seen:
            st = self.tracks[track.track_id]
            due = st.answers == 0 or st.since_answer >= self.update_every
            if st.since_answer and due and len(st.silhouettes) >= self.min_frames \
                    and self.tracker.rejection(track) is None:
                events.append(self._answer(st, frame.index))
        return events

    def interrupt(self) -> list:
        """The video broke off (a reconnection, a change of picture size): end every track."""
        self.tracker.end_all()
        return self._end(self.tracker.prune(self.window), self.last_index)

    def finish(self) -> list:
        """The stream is over: end every track (last answers)."""
        return self.interrupt()

    # -- answers ---------------------------------------------------------------------------
    def _answer(self, st, index, final=False) -> dict:
        t0 = self.clock()
        emb = self.embed(np.stack(st.silhouettes))
        ident = self.gallery.identify(emb, top_k=self.top_k, threshold=self.threshold, model_name=self.model_name)
        now = self.clock()
        self.stats["embed_s"] += now - t0
        self.stats["answers"] += 1
        st.answers += 1
        st.since_answer = 0
        out = {"event": "identity", "track_id": st.track_id, "frame": int(index), "first_frame": st.first_frame,
               "n_silhouettes": len(st.silhouettes), "window_frames": [int(st.frames[0]), int(st.frames[-1])],
               "update": st.answers, "changed": ident.identity != st.identity, "final": final}
        if st.answers == 1:
            out["latency_frames"] = int(index - st.first_frame)
            out["latency_s"] = round(now - st.first_arrival, 4)
            self.stats["people"] += 1
        st.identity = ident.identity
        out.update(ident.to_dict())
        return out

    def _end(self, ended_tracks, index) -> list:
        events = []
        for track in ended_tracks:
            st = self.tracks.pop(track.track_id, None)
            if st is None:
                continue
            # a last answer with the silhouettes that came since the previous one
            if (st.since_answer and len(st.silhouettes) >= self.min_frames
                    and self.tracker.rejection(track) is None):
                events.append(self._answer(st, st.last_frame, final=True))
            if st.answers:
                self.identities[st.identity] += 1
                events.append({"event": "ended", "track_id": st.track_id, "frame": int(index),
                               "first_frame": st.first_frame, "last_frame": st.last_frame, "answers": st.answers,
                               "identity": st.identity})
        return events

    # -- state -----------------------------------------------------------------------------
    def memory(self) -> dict:
        """What the watcher and its tracker hold now: tracks, and the most silhouettes and
        observations of any track (each at most ``window``)."""
        active = self.tracker.active
        return {"tracks": len(self.tracks), "tracker_active": len(active), "tracker_ended": len(self.tracker.ended),
                "max_silhouettes": max((len(s.silhouettes) for s in self.tracks.values()), default=0),
                "max_observations": max((len(t.observations) for t in active), default=0)}


__all__ = ["TrackState", "UPDATE_EVERY", "WINDOW", "Watcher"]
