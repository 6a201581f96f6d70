"""Enrollment and open-set identification: :class:`Gallery`.

A gallery holds embeddings (``[P, D]`` each, or ``[D]``) of enrolled subjects, all made
by one model (``model_name``) with one ``embedding_shape``. A probe is compared with every
enrolled embedding (chunked distances of :mod:`gait_tf.evaluation.distance`, Euclidean
per part averaged over parts, or cosine); each subject's score is its *best* (smallest)
distance; ``identify`` ranks subjects by it and answers ``"unknown"`` when the best
distance exceeds the open-set threshold.

The threshold is calibrated for a target false-accept rate (FAR) on held-out embeddings
(:meth:`Gallery.calibrate`), and saved with the gallery. Files are ``.npz`` archives
written atomically, recording the model name, embedding shape, metric, calibration and
format version; a corrupt or truncated file raises :class:`GalleryError` naming it.

Example::

    gallery = Gallery("gaitset", (62, 256), embed_fn=model_embed_fn(model))
    gallery.enroll("alice", silhouettes_uint8)          # a sequence: embedded via embed_fn
    gallery.enroll("bob", bob_embedding)                # or an embedding [62, 256]
    gallery.calibrate(heldout_embeddings, heldout_subjects, far=0.01)
    result = gallery.identify(probe_embedding, top_k=5)
    result.identity            # "alice" / "bob" / "unknown"
    list(result)               # [("alice", 0.41), ("bob", 1.73)]  per-subject best distance
    gallery.save("people.gallery"); Gallery.load("people.gallery")
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import math
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from gait_tf.errors import GaitTFError, GalleryError
from gait_tf.evaluation.distance import METRICS, pairwise_distance
from gait_tf.search import ANN_MIN_SIZE, KINDS, choose_kind, make_index, restore_index
from gait_tf.utils.atomic import atomic_write

UNKNOWN = "unknown"
FORMAT = "gait_tf.gallery"
FORMAT_VERSION = 1
CALIBRATION_MODES = ("pairs", "identification")


class Match(NamedTuple):
    """One ranked candidate: a subject and its best distance to the probe."""

    subject_id: str
    distance: float


@dataclasses.dataclass(frozen=True)
class Identification:
    """Answer of :meth:`Gallery.identify`.

    ``matches``: ranked :class:`Match` pairs (per-subject best distance, ascending);
    ``identity``: the best subject, or ``"unknown"`` when its distance is above
    ``threshold`` (open set); ``distance``: the best distance (inf for an empty gallery).
    Iterating / indexing goes over ``matches``.
    """

    matches: tuple
    identity: str
    distance: float
    threshold: float | None

    @property
    def is_unknown(self) -> bool:
        return self.identity == UNKNOWN

    def __iter__(self):
        return iter(self.matches)

    def __len__(self):
        return len(self.matches)

    def __getitem__(self, i):
        return self.matches[i]

    def to_dict(self) -> dict:
        return {
            "identity": self.identity,
            "distance": None if math.isinf(self.distance) else float(self.distance),
            "threshold": self.threshold,
            "matches": [{"subject_id": m.subject_id, "distance": float(m.distance)} for m in self.matches],
        }


def threshold_for_far(impostor_distances, far: float) -> float:
    """Largest threshold ``t`` (accept iff ``distance <= t``) whose false-accept rate on
    ``impostor_distances`` is at most ``far``.

    With ``n`` sorted impostor distances ``s`` and ``k = floor(far * n)``, ``t`` is just
    below ``s[k]``: at most ``k`` impostors are accepted.
    """
    # float32 like every distance here, so that the threshold is exactly representable
    # and "distance <= threshold" means the same in float32 and float64 comparisons
    d = np.sort(np.asarray(impostor_distances, np.float32).ravel())
    if d.size == 0:
        raise GalleryError("calibration needs at least one impostor distance")
    if not 0.0 <= far < 1.0:
        raise GalleryError(f"far must be in [0, 1), got {far}")
    k = int(math.floor(far * d.size + 1e-9))
    return float(np.nextafter(d[k], np.float32(-np.inf)))


def _check_top_k(top_k) -> int:
    """``top_k`` as an int >= 1; GalleryError otherwise (0 or -3 must not mean "default")."""
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise GalleryError(f"top_k must be an integer >= 1, got {top_k!r}")
    return int(top_k)


def _check_threshold(threshold):
    """An open-set threshold: None (closed set) or a finite distance >= 0."""
    if threshold is None:
        return None
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise GalleryError(f"threshold must be a number (a distance) or None, got {threshold!r}") from None
    if not math.isfinite(value) or value < 0:
        raise GalleryError(f"threshold must be a finite distance >= 0 (or None for a closed set), got {threshold!r}")
    return value


class Gallery:
    """Enrolled subjects' embeddings for identification by one model.

    Args:
        model_name: the model that makes the embeddings (e.g. ``"gaitset"``); embeddings
            declared as another model's are refused.
        embedding_shape: shape of one embedding, ``(parts, dim)`` or ``(dim,)``.
        metric: ``"euc"`` (per-part Euclidean, averaged) or ``"cos"``.
        embed_fn: optional ``fn(sequence) -> [*embedding_shape]`` used to enroll or identify
            silhouette sequences (e.g. :func:`gait_tf.evaluation.embed.model_embed_fn`).
        storage_dtype: ``"float32"`` or ``"float16"`` (halves memory; distances are
            computed in float32).
        threshold: fixed open-set threshold (distance); normally set by :meth:`calibrate`.
        search: ``"auto"`` (exact below ``ann_min_size`` embeddings, the FAISS ANN index
            above), ``"exact"`` or ``"ann"`` (:mod:`gait_tf.search`).
        ann_options: options of :class:`gait_tf.search.ann.FaissIndex` (``dims``,
            ``nlist``, ``nprobe``, ``candidates``, ...).
    """

    def __init__(self, model_name: str, embedding_shape, metric: str = "euc", embed_fn: Callable | None = None,
                 storage_dtype: str = "float32", threshold: float | None = None, search: str = "auto",
                 ann_min_size: int = ANN_MIN_SIZE, ann_options: dict | None = None):
        if not model_name or not isinstance(model_name, str):
            raise GalleryError(f"model_name must be a non-empty string, got {model_name!r}")
        try:
            shape = tuple(int(s) for s in (embedding_shape if np.ndim(embedding_shape) else (embedding_shape,)))
        except (TypeError, ValueError) as exc:
            raise GalleryError(f"embedding_shape must be a tuple of ints, got {embedding_shape!r}") from exc
        if len(shape) not in (1, 2) or min(shape) < 1:
            raise GalleryError(f"embedding_shape must be (parts, dim) or (dim,), got {shape}")
        if metric not in METRICS:
            raise GalleryError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        if np.dtype(storage_dtype) not in (np.float16, np.float32):
            raise GalleryError(f"storage_dtype must be float16 or float32, got {storage_dtype!r}")
        if search not in KINDS:
            raise GalleryError(f"unknown search {search!r}; choose one of {', '.join(KINDS)}")
        choose_kind(0, search)  # "ann" without faiss fails here
        if ann_options:
            make_index("ann", metric, **ann_options)  # fails now on a bad option, not at the first search
        self.search = search
        self.ann_min_size = int(ann_min_size)
        self.ann_options = dict(ann_options or {})
        self.model_name = model_name
        self.embedding_shape = shape
        self.metric = metric
        self.embed_fn = embed_fn
        self.storage_dtype = np.dtype(storage_dtype)
        self.calibration: dict | None = None
        self._threshold = _check_threshold(threshold)
        self._chunks: list[np.ndarray] = []
        self._chunk_labels: list[np.ndarray] = []
        self._emb = np.zeros((0, *shape), self.storage_dtype)
        self._labels = np.zeros((0,), dtype="<U1")
        self._search = None  # a gait_tf.search index over (embeddings, labels), built on first use
        self.file_metadata: dict | None = None  # what load() read

    # ------------------------------------------------------------------ state
    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self):
        return (f"Gallery(model_name={self.model_name!r}, embedding_shape={self.embedding_shape}, "
                f"metric={self.metric!r}, subjects={self.num_subjects}, embeddings={len(self)}, "
                f"threshold={self.threshold})")

    def _consolidate(self):
        if self._chunks:
            parts = ([self._emb] if len(self._emb) else []) + self._chunks
            self._emb = parts[0] if len(parts) == 1 else np.concatenate(parts)
            self._labels = np.concatenate([self._labels, *self._chunk_labels])
            self._chunks, self._chunk_labels = [], []

    @property
    def embeddings(self) -> np.ndarray:
        """All enrolled embeddings ``[M, *embedding_shape]`` (storage dtype)."""
        self._consolidate()
        return self._emb

    @property
    def labels(self) -> np.ndarray:
        """Subject id of each enrolled embedding, str ``[M]``."""
        self._consolidate()
        return self._labels

    @property
    def subjects(self) -> list[str]:
        """Sorted enrolled subject ids."""
        return sorted(set(self.labels.tolist()))

    @property
    def num_subjects(self) -> int:
        return len(set(self.labels.tolist()))

    @property
    def threshold(self) -> float | None:
        """Open-set threshold (accept iff best distance <= threshold), or None (closed set)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value):
        self._threshold = _check_threshold(value)

    # ------------------------------------------------------------------ inputs
    def _check_model(self, model_name):
        if model_name is not None and model_name != self.model_name:
            raise GalleryError(
                f"embedding from model {model_name!r} refused: this gallery holds embeddings of "
                f"model {self.model_name!r}"
            )

    def embed(self, sequence) -> np.ndarray:
        """Embed one silhouette sequence with ``embed_fn`` → ``[*embedding_shape]`` float32."""
        if self.embed_fn is None:
            raise GalleryError(
                f"got a silhouette sequence of shape {np.shape(sequence)} but this gallery has no embed_fn; "
                "create it with Gallery(..., embed_fn=fn) or pass an embedding of shape "
                f"{self.embedding_shape}"
            )
        try:
            emb = np.asarray(self.embed_fn(sequence), np.float32)
        except GaitTFError:
            raise
        except Exception as exc:
            raise GalleryError(f"embed_fn failed on a sequence of shape {np.shape(sequence)}: {exc}") from exc
        if emb.shape != self.embedding_shape and emb.shape[1:] == self.embedding_shape and len(emb) == 1:
            emb = emb[0]
        if emb.shape != self.embedding_shape:
            raise GalleryError(
                f"embed_fn returned an embedding of shape {emb.shape}; gallery of model "
                f"{self.model_name!r} expects {self.embedding_shape}"
            )
        return emb

    def _as_embeddings(self, x, what="embedding") -> np.ndarray:
        """An embedding, a batch of embeddings or a sequence → float16/float32 ``[k, *shape]``
        (float16/float32 inputs are not copied)."""
        if isinstance(x, (list, tuple)) and x and not np.isscalar(x[0]) and np.ndim(x[0]) >= 2:
            return np.concatenate([self._as_embeddings(item, what) for item in x])
        arr = np.asarray(x)
        if arr.dtype.kind not in "fiub":
            raise GalleryError(f"{what}: expected a numeric array, got dtype {arr.dtype}")
        shape = self.embedding_shape
        is_sequence = arr.dtype in (np.uint8, np.bool_) and arr.ndim >= 3
        if not is_sequence and arr.shape == shape:
            out = arr[None]
        elif not is_sequence and arr.ndim == len(shape) + 1 and arr.shape[1:] == shape:
            out = arr
        elif arr.ndim in (3, 4) and (is_sequence or self.embed_fn is not None):
            out = self.embed(arr)[None]
        else:
            raise GalleryError(
                f"{what} of shape {arr.shape} does not match the gallery's embedding shape {shape} "
                f"(model {self.model_name!r}); embeddings of another model or shape are refused"
            )
        if out.dtype not in (np.float16, np.float32):
            out = out.astype(np.float32)
        for i in range(0, len(out), 4096):  # chunked: no full-size temporary for big batches
            if not np.all(np.isfinite(out[i : i + 4096])):
                raise GalleryError(f"{what} contains NaN or infinite values")
        return out

    # ------------------------------------------------------------------ enrollment
    def enroll(self, subject_id, embedding_or_sequence, model_name: str | None = None) -> int:
        """Enroll ``subject_id`` with an embedding ``[*shape]``, a batch ``[k, *shape]``, a
        silhouette sequence (uint8 ``[T, H, W]``, embedded with ``embed_fn``) or a list of
        those. ``model_name``: the model that made the embedding, checked against the
        gallery's. Returns the number of embeddings added."""
        self._check_model(model_name)
        sid = str(subject_id)
        if not sid or sid == UNKNOWN:
            raise GalleryError(f"invalid subject id {subject_id!r} ({UNKNOWN!r} is reserved)")
        emb = self._as_embeddings(embedding_or_sequence, f"embedding for subject {sid!r}")
        self._chunks.append(np.array(emb, dtype=self.storage_dtype))  # a copy: the caller may reuse emb
        self._chunk_labels.append(np.full(len(emb), sid))
        return len(emb)

    def enroll_many(self, embeddings, subject_ids, model_name: str | None = None) -> int:
        """Enroll ``embeddings`` ``[M, *shape]`` with their ``subject_ids`` ``[M]``."""
        self._check_model(model_name)
        emb = self._as_embeddings(embeddings, "embeddings")
        ids = np.asarray(subject_ids).astype(str)
        if ids.shape != (len(emb),):
            raise GalleryError(f"subject_ids: expected {len(emb)} ids, got shape {ids.shape}")
        if np.any(ids == UNKNOWN) or np.any(ids == ""):
            raise GalleryError(f"invalid subject id in subject_ids ({UNKNOWN!r} and '' are reserved)")
        self._chunks.append(np.array(emb, dtype=self.storage_dtype))
        self._chunk_labels.append(ids)
        return len(emb)

    def remove(self, subject_id) -> int:
        """Remove every embedding of ``subject_id``; returns how many were removed."""
        keep = self.labels != str(subject_id)
        removed = int((~keep).sum())
        if removed == 0:
            raise GalleryError(f"subject {subject_id!r} is not enrolled")
        self._emb, self._labels, self._search = self._emb[keep], self._labels[keep], None
        return removed

    # ------------------------------------------------------------------ matching
    def search_index(self):
        """The search index over the enrolled embeddings (:mod:`gait_tf.search`), built or
        extended on demand; exact or ANN per ``search`` and the gallery's size."""
        if len(self) == 0:
            raise GalleryError("the gallery is empty: enroll subjects first")
        emb, labels = self.embeddings, self.labels
        kind = choose_kind(len(emb), self.search, self.ann_min_size)
        if self._search is None or self._search.kind != kind:
            self._search = make_index(kind, self.metric, **(self.ann_options if kind == "ann" else {}))
            self._search.build(emb, labels)
        elif self._search.embeddings is not emb:  # rows were appended
            self._search.extend(emb, labels)
        return self._search

    def subject_distances(self, probes, chunk: int = 256):
        """Exact per-subject best distances of probes ``[N, *shape]`` (with any index).

        Returns ``(subject_ids str [S], distances float32 [N, S])``.
        """
        return self.search_index().subject_distances(probes, chunk)

    def identify(self, probe, top_k: int = 5, threshold: float | None = ..., model_name: str | None = None
                 ) -> Identification:
        """Rank enrolled subjects for one probe (an embedding ``[*shape]`` or a sequence).

        threshold: override the gallery's threshold (``None`` = closed set).
        """
        self._check_model(model_name)
        _check_top_k(top_k)
        if threshold is not ...:
            _check_threshold(threshold)
        emb = self._as_embeddings(probe, "probe embedding")
        if len(emb) != 1:
            raise GalleryError(f"identify takes one probe, got {len(emb)}; use identify_batch")
        return self.identify_batch(emb, top_k, threshold)[0]

    def identify_batch(self, probes, top_k: int = 5, threshold: float | None = ..., model_name: str | None = None
                       ) -> list[Identification]:
        """:meth:`identify` for probes ``[N, *shape]``; returns N :class:`Identification`."""
        self._check_model(model_name)
        top_k = _check_top_k(top_k)
        thr = self.threshold if threshold is ... else _check_threshold(threshold)
        emb = self._as_embeddings(probes, "probe embeddings")
        results = []
        for ids, dist in self.search_index().nearest_subjects(emb, max(1, int(top_k))):
            matches = tuple(Match(str(i), float(d)) for i, d in zip(ids, dist))
            best = matches[0].distance
            identity = matches[0].subject_id if thr is None or best <= thr else UNKNOWN
            results.append(Identification(matches, identity, best, thr))
        return results

    # ------------------------------------------------------------------ calibration
    def calibrate(self, embeddings, subject_ids, far: float = 0.01, mode: str = "pairs") -> dict:
        """Set the open-set threshold for a target false-accept rate ``far``.

        embeddings ``[N, *shape]`` (or sequences) with subject ids ``[N]``, held out from
        training (typically not enrolled). ``mode``:

        - ``"pairs"``: distances of all held-out pairs; pairs of different subjects are
          impostor pairs, same-subject pairs genuine. The threshold accepts at most ``far``
          of the impostor pairs (verification FAR).
        - ``"identification"``: each held-out embedding is matched against this gallery;
          its best distance to any *other* subject than its own is an impostor score (an
          unenrolled person falsely accepted), the distance to its own subject (if
          enrolled) a genuine score. The threshold accepts at most ``far`` impostor probes
          (open-set identification FAR; depends on the gallery's size).

        Returns and stores ``calibration``: ``{"far", "mode", "threshold", "achieved_far",
        "tar", "num_impostor", "num_genuine", "metric"}`` (``tar``: genuine accept rate,
        None without genuine scores).
        """
        if mode not in CALIBRATION_MODES:
            raise GalleryError(f"unknown calibration mode {mode!r}; choose one of {', '.join(CALIBRATION_MODES)}")
        emb = self._as_embeddings(embeddings, "calibration embeddings")
        ids = np.asarray(subject_ids).astype(str)
        if ids.shape != (len(emb),):
            raise GalleryError(f"calibration subject ids: expected {len(emb)}, got shape {ids.shape}")
        if mode == "pairs":
            d = pairwise_distance(emb, emb, self.metric)
            iu = np.triu_indices(len(emb), 1)
            same = ids[iu[0]] == ids[iu[1]]
            pair_d = d[iu]
            impostor, genuine = pair_d[~same], pair_d[same]
        else:
            gids, dist = self.subject_distances(emb)
            own = gids[None, :] == ids[:, None]  # [N, S]
            impostor = np.where(own, np.inf, dist).min(axis=1)
            impostor = impostor[np.isfinite(impostor)]
            genuine = dist[own]
        if impostor.size == 0:
            raise GalleryError("calibration: no impostor pairs (all held-out embeddings are of one subject)")
        thr = threshold_for_far(impostor, far)
        self.calibration = {
            "far": float(far),
            "mode": mode,
            "threshold": thr,
            "achieved_far": float(np.mean(impostor <= thr)),
            "tar": float(np.mean(genuine <= thr)) if genuine.size else None,
            "num_impostor": int(impostor.size),
            "num_genuine": int(genuine.size),
            "metric": self.metric,
        }
        self._threshold = thr
        return dict(self.calibration)

    # ------------------------------------------------------------------ persistence
    def metadata(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_name": self.model_name,
            "embedding_shape": list(self.embedding_shape),
            "metric": self.metric,
            "storage_dtype": self.storage_dtype.name,
            "threshold": self.threshold,
            "calibration": self.calibration,
            "num_embeddings": len(self),
            "num_subjects": self.num_subjects,
            "search": self.search,
            "ann_min_size": self.ann_min_size,
            "ann_options": self.ann_options,
            "saved_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }

    def save(self, path) -> Path:
        """Write the gallery to ``path`` (an ``.npz`` archive) atomically, with its ANN index
        when one is built (verified against the embeddings on load, else rebuilt)."""
        path = Path(path)
        index_arrays, index_meta = ({}, None) if self._search is None or self._search.embeddings is not \
            self.embeddings else self._search.state()
        meta = {**self.metadata(), "ann_index": index_meta}
        with atomic_write(path, "wb") as fh:
            np.savez(fh, embeddings=self.embeddings, subjects=self.labels.astype(str),
                     meta=np.asarray(json.dumps(meta)), **index_arrays)
        return path

    @classmethod
    def load(cls, path, embed_fn: Callable | None = None) -> "Gallery":
        """Read a gallery written by :meth:`save`.

        Raises :class:`GalleryError` naming ``path`` if it is missing, truncated, corrupt,
        of another format version, or inconsistent with its recorded shape.
        """
        path = Path(path)
        if not path.is_file():
            raise GalleryError(f"{path}: no such gallery file")
        try:
            with np.load(path, allow_pickle=False) as npz:
                meta = json.loads(str(npz["meta"][()]))
                emb = npz["embeddings"]
                labels = npz["subjects"].astype(str)
                index_arrays = {k: npz[k] for k in npz.files if k.startswith("search_")}
        except Exception as exc:  # zipfile.BadZipFile, EOFError, KeyError, ValueError, OSError...
            raise GalleryError(f"{path}: corrupt or truncated gallery file ({type(exc).__name__}: {exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise GalleryError(f"{path}: not a gait_tf gallery file")
        if meta.get("format_version") != FORMAT_VERSION:
            raise GalleryError(
                f"{path}: gallery format version {meta.get('format_version')} is not supported "
                f"(this gait_tf reads version {FORMAT_VERSION})"
            )
        try:
            gallery = cls(meta["model_name"], tuple(meta["embedding_shape"]), meta["metric"], embed_fn=embed_fn,
                          storage_dtype=meta.get("storage_dtype", "float32"),
                          search=meta.get("search", "auto"), ann_min_size=meta.get("ann_min_size", ANN_MIN_SIZE),
                          ann_options=meta.get("ann_options"))
            threshold = meta.get("threshold")
            # a calibrated threshold may sit just below 0 (impostors at distance 0: accept nothing)
            if threshold is not None and not (isinstance(threshold, (int, float)) and math.isfinite(threshold)):
                raise GalleryError(f"threshold {threshold!r} is not a finite number")
        except (KeyError, TypeError, GalleryError) as exc:
            raise GalleryError(f"{path}: bad gallery metadata ({exc})") from exc
        gallery._threshold = None if threshold is None else float(threshold)
        if emb.shape[1:] != gallery.embedding_shape or labels.shape != (len(emb),):
            raise GalleryError(
                f"{path}: stored embeddings {emb.shape} / subjects {labels.shape} do not match the recorded "
                f"embedding shape {gallery.embedding_shape}"
            )
        if emb.size and not np.all(np.isfinite(emb)):
            raise GalleryError(f"{path}: stored embeddings contain NaN or infinite values")
        gallery._emb = emb.astype(gallery.storage_dtype, copy=False)
        gallery._labels = labels
        gallery.calibration = meta.get("calibration")
        gallery.file_metadata = meta
        if len(gallery):
            kind = choose_kind(len(gallery), gallery.search, gallery.ann_min_size)
            gallery._search = restore_index(kind, gallery.metric, meta.get("ann_index"), index_arrays,
                                            gallery.embeddings, gallery.labels, source=path)
        return gallery


    @staticmethod
    def read_metadata(path) -> dict:
        """The metadata recorded in a gallery file (model, shape, metric, calibration, counts,
        format version, save time)."""
        return dict(Gallery.load(path).file_metadata)


def load_gallery(path, embed_fn=None) -> Gallery:
    """Shorthand for :meth:`Gallery.load`."""
    return Gallery.load(path, embed_fn=embed_fn)


__all__ = ["Gallery", "Identification", "Match", "UNKNOWN", "threshold_for_far", "load_gallery"]
