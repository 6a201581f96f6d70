"""Video -> person silhouettes -> pretreated sequence -> embedding -> gallery identity.

:func:`extract_silhouettes` streams a video (:class:`~gait_tf.video.readers.VideoReader`),
segments every frame (background subtraction or the learned U-Net), groups the
foreground into person detections, tracks them (:class:`~gait_tf.segmentation.tracking.BoxTracker`)
and keeps the silhouettes of the person chosen by the track rule (largest total area, or
a given track id). Only each detection's cropped mask is kept in memory, never the
frames. :func:`identify_video` adds pretreatment, embedding with a silhouette model and
open-set matching against a :class:`~gait_tf.gallery.Gallery`.

Bad input raises :class:`~gait_tf.errors.VideoError`: unreadable/empty video, no person,
or fewer than :data:`MIN_FRAMES` usable silhouettes.
"""
from __future__ import annotations

import dataclasses
from typing import Iterator

import numpy as np

from gait_tf.errors import ConfigError, VideoError
from gait_tf.video.readers import open_video

#: minimum number of pretreated silhouette frames needed to embed a walker (about a
#: third of a gait cycle at 25 fps; models are trained on 30-frame clips)
MIN_FRAMES = 10
#: segmentation methods of :func:`extract_silhouettes`: the real front end (BlazePose
#: people detection + instance masks + tracking, :mod:`gait_tf.video.frontend`), background
#: subtraction, and the U-Net trained on synthetic walkers
METHODS = ("blazepose", "bgsub", "unet")
#: default minimum person size, as a fraction of the frame area
MIN_AREA_FRAC = 0.003


@dataclasses.dataclass
class SilhouetteTrack:
    """The silhouettes of one tracked person in a video.

    Attributes:
        source: name of the video.
        frame_shape: ``(H, W)`` of the video frames.
        fps: frames per second of the video (None if unknown).
        n_frames: frames read from the video.
        method: segmentation method used.
        track_id: id of the followed track; ``tracks`` summarises all tracks.
        frame_indices: ``int64 [T]`` video frame index of each silhouette.
        boxes: ``float32 [T, 4]`` smoothed boxes ``(x0, y0, x1, y1)`` (px).
        crops: list of ``(box, mask bool [h, w])``: the person's mask inside its detection box.
        other_boxes: ``{frame index: [(box, label), ...]}`` smoothed boxes of the other tracks.
    """

    source: str
    frame_shape: tuple
    fps: float | None
    n_frames: int
    method: str
    track_id: int
    tracks: list
    frame_indices: np.ndarray
    boxes: np.ndarray
    crops: list
    other_boxes: dict = dataclasses.field(default_factory=dict)

    def __len__(self):
        return len(self.crops)

    def frame(self, i) -> np.ndarray:
        """Silhouette ``i`` as a full frame ``uint8 [H, W]`` (0 / 255)."""
        out = np.zeros(self.frame_shape, np.uint8)
        (x0, y0, x1, y1), mask = self.crops[i]
        out[y0:y1, x0:x1][mask] = 255
        return out

    def iter_frames(self) -> Iterator[np.ndarray]:
        """The silhouettes as ``uint8 [H, W]`` frames, one at a time."""
        for i in range(len(self.crops)):
            yield self.frame(i)

    @property
    def silhouettes(self) -> np.ndarray:
        """All silhouettes ``uint8 [T, H, W]`` (0 / 255) - CASIA-B style; uses T*H*W bytes."""
        return np.stack(list(self.iter_frames())) if self.crops else np.zeros((0,) + tuple(self.frame_shape), np.uint8)

    def pretreated(self, min_frames=MIN_FRAMES) -> np.ndarray:
        """OpenGait-pretreated sequence ``uint8 [T', 64, 64]``.

        Raises:
            VideoError: fewer than ``min_frames`` frames survive pretreatment.
        """
        from gait_tf.data.pretreat import pretreat_frame

        out = []
        for frame in self.iter_frames():
            res, _ = pretreat_frame(frame)
            if res is not None:
                out.append(res)
        if len(out) < min_frames:
            raise VideoError(
                f"{self.source}: the person (track {self.track_id}) is visible in only {len(out)} usable "
                f"frames; at least {min_frames} are needed to embed a walk (MIN_FRAMES)")
        return np.stack(out)

    def summary(self) -> dict:
        return {"source": self.source, "method": self.method, "n_frames": self.n_frames,
                "frame_shape": list(self.frame_shape), "fps": self.fps, "track_id": self.track_id,
                "n_silhouettes": len(self), "tracks": self.tracks}


#: ``progress="auto"`` shows a bar for videos of at least this many frames (or of unknown length)
PROGRESS_MIN_FRAMES = 100


def _progress(iterable, total, desc, enabled):
    """Wrap ``iterable`` in a tqdm bar on stderr: ``enabled`` True, False or ``"auto"``."""
    if enabled == "auto":
        enabled = total is None or total >= PROGRESS_MIN_FRAMES
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="frame", leave=False, dynamic_ncols=True)


def make_segmenter(method="bgsub", *, segmenter=None, bg_method="median", **bg_kwargs):
    """The frame segmenter of ``method``: a fitted-later
    :class:`~gait_tf.segmentation.background.BackgroundSubtractor` (``"bgsub"``) or a
    :class:`~gait_tf.segmentation.unet.UNetSegmenter` (``"unet"``; ``segmenter`` may be
    an instance or a ``.keras`` path; default: the shipped weights)."""
    if method == "bgsub":
        from gait_tf.segmentation.background import BackgroundSubtractor

        return BackgroundSubtractor(bg_method, **bg_kwargs)
    if method == "unet":
        from gait_tf.segmentation.unet import UNetSegmenter

        if isinstance(segmenter, UNetSegmenter):
            return segmenter
        return UNetSegmenter.load(segmenter)
    raise ConfigError(f"unknown segmentation method {method!r}; choose one of {', '.join(METHODS)}")


def iter_masks(reader, method="bgsub", *, segmenter=None, background=None, progress=False, **bg_kwargs):
    """Yield the cleaned foreground ``bool [H, W]`` of every frame of ``reader``.

    ``"bgsub"`` makes two passes (fit the background, then segment) unless ``background``
    - a video, image folder, array or single image of the *empty* scene - is given to fit
    on instead; ``"unet"`` makes one.
    """
    seg = make_segmenter(method, segmenter=segmenter, **bg_kwargs)
    if method == "bgsub":
        if background is not None:
            arr = np.asarray(background) if isinstance(background, np.ndarray) else None
            if arr is not None and arr.ndim == 3 and arr.shape[-1] in (3, 4):
                background = arr[None]  # one RGB image
            seg.fit(open_video(background))
        else:
            seg.fit(_progress(reader, reader.frame_count, "background", progress))
        for frame in _progress(reader, reader.frame_count, "segmenting", progress):
            yield seg.apply(frame)
    else:
        for mask, _ in seg.segment(_progress(reader, reader.frame_count, "segmenting", progress)):
            yield mask


def extract_silhouettes(source, method="blazepose", *, segmenter=None, background=None, track="largest",
                        min_area=None, max_frames=None, step=1, progress=False, tracker_kwargs=None,
                        **bg_kwargs) -> SilhouetteTrack:
    """Segment and track the people of a video; return the followed person's silhouettes.

    Args:
        source: video file, GIF, image folder, ``.npy`` or array (see ``VideoReader``).
        method: ``"blazepose"`` (default: the real front end, every person detected,
            segmented and tracked), ``"bgsub"`` (static camera) or ``"unet"`` (trained on
            synthetic walkers).
        segmenter: for ``"unet"``, a ``UNetSegmenter`` or ``.keras`` path (default weights).
        background: for ``"bgsub"``, footage of the empty scene to fit the background on
            (video path, image folder, array; needed when the walker does not cross the
            picture, e.g. walks towards the camera). Default: the video itself.
        track: ``"largest"`` or a track id (see :func:`~gait_tf.segmentation.tracking.select_track`).
        min_area: minimum person size in pixels (default ``MIN_AREA_FRAC`` of the frame).
        max_frames, step: passed to the reader.
        progress: tqdm progress bars on stderr: True, False or ``"auto"`` (videos of at
            least :data:`PROGRESS_MIN_FRAMES` frames or of unknown length).
        tracker_kwargs: kwargs of ``BoxTracker``.
        **bg_kwargs: ``bg_method`` and ``BackgroundSubtractor`` settings for ``"bgsub"``.

    Raises:
        VideoError: unreadable/empty video, no person found, unknown track id.
    """
    from gait_tf.segmentation.background import detect_people
    from gait_tf.segmentation.tracking import BoxTracker, select_track

    if method not in METHODS:
        raise ConfigError(f"unknown segmentation method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "blazepose":
        return _follow_person(source, track=track, max_frames=max_frames, step=step, progress=progress,
                              **(tracker_kwargs or {}), **bg_kwargs)
    reader = open_video(source, max_frames=max_frames, step=step)
    tracker = BoxTracker(**(tracker_kwargs or {}))
    per_track: dict[int, list] = {}
    shape, n = None, 0
    for i, mask in enumerate(iter_masks(reader, method, segmenter=segmenter, background=background,
                                               progress=progress, **bg_kwargs)):
        if shape is None:
            shape = mask.shape
            if min_area is None:
                min_area = max(20, int(MIN_AREA_FRAC * shape[0] * shape[1]))
        dets = detect_people(mask, min_area=min_area)
        ids = tracker.update(i, [d.box for d in dets], [d.area for d in dets])
        for det, tid in zip(dets, ids):
            per_track.setdefault(tid, []).append((i, det.box, det.mask))
        n = i + 1
    tracks = tracker.tracks
    if not tracks:
        raise VideoError(f"{reader.name}: no person found in the video ({n} frames, method {method}; "
                         f"nothing larger than {min_area} px moved or was segmented)")
    chosen = select_track(tracks, track)
    items = per_track[chosen.track_id]
    other_boxes: dict[int, list] = {}
    for t in tracks:
        if t.track_id != chosen.track_id:
            for f, b in zip(t.frames, t.boxes):
                other_boxes.setdefault(int(f), []).append((tuple(float(v) for v in b), f"track {t.track_id}"))
    return SilhouetteTrack(
        source=reader.name, frame_shape=tuple(shape), fps=reader.fps, n_frames=n, method=method,
        track_id=chosen.track_id, tracks=[t.summary() for t in tracks],
        frame_indices=np.array([it[0] for it in items], np.int64),
        boxes=np.array([np.asarray(b) for b in chosen.boxes], np.float32).reshape(-1, 4),
        crops=[(it[1], it[2]) for it in items], other_boxes=other_boxes)


def _follow_person(source, *, track="largest", max_frames=None, step=1, progress=False, **kwargs) -> SilhouetteTrack:
    """``extract_silhouettes(method="blazepose")``: the real front end's person ``track``
    (``"largest"`` or an id) as a :class:`SilhouetteTrack` (person-shaped frames only)."""
    from gait_tf.video.frontend import track_people

    res = track_people(source, max_frames=max_frames, step=step, progress=progress, **kwargs)
    if track in (None, "largest"):
        person = res.largest()
    else:
        try:
            person = res.by_id(int(track))
        except (TypeError, ValueError):
            raise VideoError(f"track must be 'largest' or a track id, got {track!r}") from None
    keep = np.flatnonzero(person.shape_ok)
    other_boxes: dict[int, list] = {}
    for p in res.people:
        if p.track_id != person.track_id:
            for f, b in zip(p.frames, p.boxes):
                other_boxes.setdefault(int(f) // step, []).append((tuple(float(v) for v in b), f"track {p.track_id}"))
    return SilhouetteTrack(
        source=res.source, frame_shape=tuple(res.frame_shape), fps=res.fps, n_frames=res.n_frames, method="blazepose",
        track_id=person.track_id, tracks=[p.summary() for p in res.people],
        frame_indices=person.frames[keep] // step, boxes=person.boxes[keep],
        crops=[person.crops[k] for k in keep], other_boxes=other_boxes)


def overlay_frames(source, result: SilhouetteTrack, *, max_frames=None, step=1) -> Iterator[np.ndarray]:
    """Re-read ``source`` and yield frames ``uint8 [H, W, 3]`` with the followed person's
    mask and smoothed box drawn (other tracks: thin yellow boxes)."""
    from gait_tf.video.writers import draw_overlay

    where = {int(f): k for k, f in enumerate(result.frame_indices)}
    others = result.other_boxes
    for i, frame in enumerate(open_video(source, max_frames=max_frames, step=step)):
        k = where.get(i)
        if k is None:
            yield draw_overlay(frame, other_boxes=others.get(i, ()))
        else:
            yield draw_overlay(frame, result.frame(k) > 0, result.boxes[k], label=f"track {result.track_id}",
                               other_boxes=others.get(i, ()))


def write_overlay(path, source, result: SilhouetteTrack, *, fps=None, max_frames=None, step=1) -> int:
    """Write the overlay of :func:`overlay_frames` to ``path`` (``.gif``, ``.mp4``, ``.avi``)."""
    from gait_tf.video.writers import write_video

    return write_video(path, overlay_frames(source, result, max_frames=max_frames, step=step),
                       fps=fps or result.fps or 25.0)


@dataclasses.dataclass
class VideoIdentification:
    """Answer of :func:`identify_video`: the gallery's ``identification`` (ranked
    ``matches``, ``identity`` or ``"unknown"``), the silhouette ``track`` that was
    embedded, the pretreated frame count and the embedding ``[P, D]``."""

    identification: object
    track: SilhouetteTrack
    n_pretreated: int
    embedding: np.ndarray

    @property
    def identity(self) -> str:
        return self.identification.identity

    def to_dict(self) -> dict:
        out = self.identification.to_dict()
        out.update({"track": self.track.summary(), "n_pretreated": self.n_pretreated})
        return out


def model_name_of(model) -> str:
    """The model's identity (:func:`gait_tf.evaluation.embed.model_identity`, e.g. ``"gaitset"``)."""
    from gait_tf.evaluation.embed import model_identity

    return model_identity(model)


def check_gallery_model(gallery, model_name, gallery_source="gallery"):
    """Raise :class:`~gait_tf.errors.GalleryError` if ``gallery`` was made by another model."""
    from gait_tf.errors import GalleryError

    if model_name != gallery.model_name:
        raise GalleryError(f"{gallery_source} holds embeddings of model {gallery.model_name!r}, but the "
                           f"model given is {model_name!r}; use the model the gallery was enrolled with")


def identify_video(source, gallery, model, *, model_name=None, method="blazepose", segmenter=None, track="largest",
                   top_k=5, threshold=..., min_frames=MIN_FRAMES, gallery_source="gallery",
                   progress=False, **extract_kwargs) -> VideoIdentification:
    """Identify the walker of a video against a gallery.

    Segments and tracks the video (:func:`extract_silhouettes`), pretreats the followed
    person's silhouettes to ``uint8 [T, 64, 64]``, embeds them with ``model`` (all frames,
    central 44 columns, ``[1, T, 64, 44, 1]``) and ranks the gallery's subjects.

    Args:
        gallery: a :class:`~gait_tf.gallery.Gallery`.
        model: a silhouette ``keras.Model`` returning ``{"embeddings": [1, P, D]}``.
        model_name: name checked against ``gallery.model_name`` (default ``model.name``);
            checked *before* the video is read.
        threshold: open-set threshold override (``...`` = the gallery's own, None = closed set).
        min_frames: minimum usable silhouettes (:data:`MIN_FRAMES`).

    Raises:
        GalleryError: the gallery was made by another model or embedding shape.
        VideoError: unreadable/empty video, no person, too few frames.
    """
    from gait_tf.evaluation.embed import model_embed_fn

    name = model_name or model_name_of(model)
    check_gallery_model(gallery, name, gallery_source)
    result = extract_silhouettes(source, method, segmenter=segmenter, track=track, progress=progress,
                                 **extract_kwargs)
    seq = result.pretreated(min_frames=min_frames)
    emb = model_embed_fn(model)(seq)
    ident = gallery.identify(emb, top_k=top_k, threshold=threshold, model_name=name)
    return VideoIdentification(identification=ident, track=result, n_pretreated=len(seq), embedding=emb)


@dataclasses.dataclass
class PersonIdentification:
    """One person track of a video and who it is: ``track`` (a
    :class:`~gait_tf.video.frontend.PersonSequence`), the gallery's ``identification``
    (None when the track has fewer than ``min_frames`` usable silhouettes: ``reason``
    says so), the pretreated frame count and the embedding ``[P, D]``."""

    track: object
    identification: object
    n_pretreated: int
    embedding: np.ndarray | None = None
    reason: str | None = None

    @property
    def identity(self) -> str | None:
        return None if self.identification is None else self.identification.identity

    def to_dict(self) -> dict:
        out = {"track": self.track.summary(), "n_pretreated": self.n_pretreated}
        if self.identification is not None:
            out.update(self.identification.to_dict())
        else:
            out["identity"] = None
            out["reason"] = self.reason
        return out


def identify_people(source, gallery, model, *, model_name=None, track=None, top_k=5, threshold=...,
                    min_frames=MIN_FRAMES, gallery_source="gallery", progress=False, people=None,
                    **track_kwargs) -> tuple:
    """Identify **every** walker of a video against a gallery.

    Runs the real front end (:func:`~gait_tf.video.frontend.track_people`, or uses
    ``people``, a result of it), pretreats each person track's silhouettes, embeds each
    track with ``model`` and ranks the gallery's subjects (open set: ``"unknown"`` above
    the threshold). ``track`` restricts the answer to one track id.

    Returns ``(people_result, [PersonIdentification, ...])`` in track order.

    Raises:
        GalleryError: the gallery was made by another model.
        VideoError: unreadable/empty video, nobody in it, unknown ``track``, or no track
            with ``min_frames`` usable silhouettes.
    """
    from gait_tf.evaluation.embed import model_embed_fn
    from gait_tf.video.frontend import track_people

    name = model_name or model_name_of(model)
    check_gallery_model(gallery, name, gallery_source)
    res = people if people is not None else track_people(source, progress=progress, **track_kwargs)
    persons = [res.by_id(int(track))] if track not in (None, "all") else res.people
    embed = model_embed_fn(model)
    answers = []
    for p in persons:
        seq, _ = p.pretreated()
        if len(seq) < min_frames:
            answers.append(PersonIdentification(p, None, len(seq), reason=(
                f"only {len(seq)} usable silhouettes; at least {min_frames} are needed (MIN_FRAMES)")))
            continue
        emb = embed(seq)
        ident = gallery.identify(emb, top_k=top_k, threshold=threshold, model_name=name)
        answers.append(PersonIdentification(p, ident, len(seq), emb))
    if not any(a.identification is not None for a in answers):
        raise VideoError(f"{res.source}: no person track has {min_frames} usable silhouettes (MIN_FRAMES); "
                         + "; ".join(f"track {a.track.track_id}: {a.n_pretreated}" for a in answers))
    return res, answers
