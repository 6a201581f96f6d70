"""The search interface, the automatic choice of an implementation, and what every
implementation shares: the exact per-subject distances (grouping by subject label)."""
from __future__ import annotations

import hashlib
import logging

import numpy as np

from gait_tf.errors import GalleryError
from gait_tf.evaluation.distance import iter_distance_rows

log = logging.getLogger(__name__)

KINDS = ("auto", "exact", "ann")
#: galleries with at least this many embeddings use the ANN index when ``kind="auto"``
ANN_MIN_SIZE = 100_000


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:  # pragma: no cover - faiss-cpu is a dependency
        return False
    return True


def choose_kind(size: int, kind: str = "auto", min_size: int = ANN_MIN_SIZE) -> str:
    """``"exact"`` or ``"ann"`` for a gallery of ``size`` embeddings."""
    if kind not in KINDS:
        raise GalleryError(f"unknown search {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "ann" and not faiss_available():  # pragma: no cover - faiss-cpu is a dependency
        raise GalleryError("search 'ann' needs the faiss-cpu package (pip install faiss-cpu)")
    if kind == "auto":
        return "ann" if size >= int(min_size) and faiss_available() else "exact"
    return kind


def make_index(kind: str, metric: str = "euc", **options) -> "SearchIndex":
    """A new, empty index of ``kind`` ("exact" | "ann"); ``options`` go to the ANN index."""
    if kind == "exact":
        from gait_tf.search.exact import ExactIndex

        return ExactIndex(metric)
    if kind == "ann":
        from gait_tf.search.ann import FaissIndex

        try:
            return FaissIndex(metric, **options)
        except TypeError as exc:
            raise GalleryError(f"unknown ANN option ({exc})") from exc
    raise GalleryError(f"unknown search kind {kind!r}; choose exact or ann")


def restore_index(kind: str, metric: str, meta: dict | None, arrays: dict, embeddings, labels, source="gallery"):
    """The index stored with a gallery (``meta`` and ``arrays`` from :meth:`SearchIndex.state`)
    if it is of ``kind`` and verifiably built over ``embeddings``; else None (and a warning
    when a stored index is rejected): the gallery then rebuilds it at its first search."""
    if not meta or not arrays or meta.get("kind") != kind:
        return None
    options = {k: meta[k] for k in ("dims", "part_dims", "hnsw_m", "ef_search", "ef_construction", "candidates",
                                    "pca_sample", "train_size", "seed") if k in meta}
    index = make_index(kind, metric, **options)
    if index.restore(arrays, meta, embeddings, labels):
        return index
    log.warning("%s: the stored %s index does not match the embeddings; it will be rebuilt", source, kind)
    return None


def fingerprint(embeddings, chunk: int = 1 << 14) -> str:
    """A digest of the embeddings' shape, dtype and bytes (read in chunks: works on memmaps)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((tuple(embeddings.shape), str(embeddings.dtype))).encode())
    for i in range(0, len(embeddings), chunk):
        h.update(np.ascontiguousarray(embeddings[i : i + chunk]).tobytes())
    return h.hexdigest()


class SearchIndex:
    """Nearest subjects among embeddings ``[M, P, D]`` labelled by subject ``[M]``.

    The index keeps references to the arrays it is given (no copy; a ``numpy.memmap``
    works) and the caller must not change rows in place. Methods:

    - :meth:`build` (everything) / :meth:`extend` (the same rows plus appended ones);
    - :meth:`nearest_subjects`: per probe, up to ``k`` ``(subject ids, best distances)``,
      ascending, ties by subject id;
    - :meth:`subject_distances`: the exact best distance of every probe to every subject;
    - :meth:`state` / :meth:`restore`: what a gallery file stores to avoid a rebuild, and
      its verification against the stored embeddings.
    """

    kind = "base"

    def __init__(self, metric: str = "euc"):
        self.metric = metric
        self.embeddings = None
        self.labels = None
        self._groups = None

    @property
    def size(self) -> int:
        return 0 if self.embeddings is None else len(self.embeddings)

    # -- building
    def build(self, embeddings, labels) -> "SearchIndex":
        self.embeddings, self.labels, self._groups = embeddings, np.asarray(labels), None
        return self

    def extend(self, embeddings, labels) -> "SearchIndex":
        """``embeddings`` / ``labels`` are the indexed ones plus rows appended at the end."""
        return self.build(embeddings, labels)

    # -- exact per-subject distances (shared)
    def groups(self):
        """``(subject_ids [S], order [M] or None, starts [S])``: rows grouped by subject."""
        if self._groups is None:
            labels = self.labels
            order = np.argsort(labels, kind="stable")
            if np.all(order == np.arange(len(order))):
                order = None
            ids, starts = np.unique(labels if order is None else labels[order], return_index=True)
            self._groups = (ids, order, starts)
        return self._groups

    def subject_distances(self, probes, chunk: int = 256):
        """Exact per-subject best distances: ``(subject_ids [S], float32 [N, S])``."""
        ids, order, starts = self.groups()
        probes = np.asarray(probes, np.float32)
        out = np.empty((len(probes), len(ids)), np.float32)
        for i, block in iter_distance_rows(probes, self.embeddings, self.metric, probe_chunk=chunk):
            grouped = block if order is None else block[:, order]
            out[i : i + len(block)] = np.minimum.reduceat(grouped, starts, axis=1)
        return ids, out

    # -- search
    def nearest_subjects(self, probes, k: int):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- persistence
    def describe(self) -> dict:
        return {"kind": self.kind, "size": self.size}

    def state(self):
        """``(arrays {name: ndarray}, meta dict)`` to store with the gallery ({} / None: nothing)."""
        return {}, None

    def restore(self, arrays: dict, meta: dict, embeddings, labels) -> bool:
        """Adopt a stored index for ``embeddings`` if it verifiably belongs to them."""
        return False


def top_subjects(ids, dist, k: int):
    """The ``k`` smallest of per-subject distances ``dist`` [S] (ties by subject id order)."""
    k = min(int(k), len(ids))
    top = np.argsort(dist, kind="stable")[:k]
    return ids[top], dist[top]
