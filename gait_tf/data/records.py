"""``SequenceRecord`` (one sequence's identity + location) and ``GaitDataset``
(a list of records plus a cached loader returning pretreated ``uint8 [T, 64, 64]``)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from gait_tf.errors import DataError


@dataclass(frozen=True, order=True)
class SequenceRecord:
    """One silhouette sequence: subject ``"001"``, condition ``"nm-01"``, view ``"090"``.

    ``path`` is the file or folder holding it (a pickle, a folder of frames, a GIF).
    """

    subject: str
    condition: str
    view: str
    path: Path

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.subject, self.condition, self.view)


class GaitDataset:
    """Records of a dataset and a loader with an in-memory cache.

    Args:
        records: the sequences (sorted by subject, condition, view on construction).
        loader: ``loader(record) -> uint8 [T, 64, 64]``; raises :class:`DataError`.
        root: dataset root (for messages), layout: layout name.
        cache: keep decoded sequences in memory (thread-safe LRU).
        cache_bytes: LRU bound on the cached bytes (None: unbounded, as OpenGait's
            ``cache: true``; CASIA-B pretreated is about 5.5 GB).

    ``load(record)`` returns the cached array itself: do not modify it in place.
    """

    def __init__(self, records: Iterable[SequenceRecord], loader: Callable, root=None,
                 layout: str | None = None, cache: bool = True, cache_bytes: int | None = None,
                 _shared_cache=None):
        self.records: list[SequenceRecord] = sorted(records)
        self._loader = loader
        self.root = Path(root) if root is not None else None
        self.layout = layout
        self.cache = cache
        self.cache_bytes = cache_bytes
        self._cache = _shared_cache if _shared_cache is not None else _LRU(cache_bytes)

    # ----------------------------------------------------------------- records
    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __repr__(self):
        return (f"GaitDataset(layout={self.layout!r}, root={str(self.root)!r}, "
                f"sequences={len(self.records)}, subjects={len(self.subjects)})")

    @property
    def subjects(self) -> list[str]:
        """Sorted unique subject ids."""
        return sorted({r.subject for r in self.records})

    @property
    def conditions(self) -> list[str]:
        return sorted({r.condition for r in self.records})

    @property
    def views(self) -> list[str]:
        return sorted({r.view for r in self.records})

    def by_subject(self) -> dict[str, list[SequenceRecord]]:
        """``{subject: [records]}`` in sorted order."""
        out: dict[str, list[SequenceRecord]] = {}
        for r in self.records:
            out.setdefault(r.subject, []).append(r)
        return out

    def filter(self, subjects=None, conditions=None, views=None, predicate=None) -> "GaitDataset":
        """A view of this dataset restricted to some subjects/conditions/views (shares the cache).

        ``conditions`` match exactly (``"nm-01"``) or by type prefix (``"nm"``).
        """
        subj = None if subjects is None else set(subjects)
        cond = None if conditions is None else set(conditions)
        view = None if views is None else {str(v).zfill(3) if str(v).isdigit() else str(v) for v in views}

        def keep(r):
            return ((subj is None or r.subject in subj)
                    and (cond is None or r.condition in cond or r.condition.split("-")[0] in cond)
                    and (view is None or r.view in view)
                    and (predicate is None or predicate(r)))

        return GaitDataset([r for r in self.records if keep(r)], self._loader, self.root,
                           self.layout, self.cache, self.cache_bytes, _shared_cache=self._cache)

    # ----------------------------------------------------------------- loading
    def load(self, record: SequenceRecord) -> np.ndarray:
        """Pretreated sequence ``uint8 [T, 64, 64]`` (cached). Raises :class:`DataError`."""
        if not isinstance(record, SequenceRecord):
            raise DataError(f"GaitDataset.load expects a SequenceRecord, got {type(record).__name__}")
        if self.cache:
            hit = self._cache.get(record)
            if hit is not None:
                return hit
        seq = self._loader(record)
        if not (isinstance(seq, np.ndarray) and seq.dtype == np.uint8 and seq.ndim == 3
                and seq.shape[1:] == (64, 64) and seq.shape[0] > 0):
            raise DataError(
                f"{record.path}: loader returned {getattr(seq, 'dtype', type(seq).__name__)} "
                f"{getattr(seq, 'shape', '')}, expected uint8 [T, 64, 64]"
            )
        seq = seq.view()  # a read-only view: the loader's own array keeps its flags
        seq.setflags(write=False)
        if self.cache:
            self._cache.put(record, seq)
        return seq

    def preload(self, records=None, progress=False) -> int:
        """Load (and cache) ``records`` (default all), validating each; returns total frames."""
        records = self.records if records is None else list(records)
        it = records
        if progress:
            from tqdm import tqdm
            it = tqdm(records, desc="loading", unit="seq")
        return sum(len(self.load(r)) for r in it)

    def clear_cache(self):
        self._cache.clear()

    @property
    def cached_bytes(self) -> int:
        return self._cache.nbytes


class _LRU:
    """Thread-safe LRU of numpy arrays bounded by total bytes (None: unbounded)."""

    def __init__(self, max_bytes=None):
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._d: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._d.get(key)
            if value is not None:
                self._d.move_to_end(key)
            return value

    def put(self, key, value):
        with self._lock:
            if key in self._d:
                return
            self._d[key] = value
            self.nbytes += value.nbytes
            while self.max_bytes is not None and self.nbytes > self.max_bytes and len(self._d) > 1:
                _, old = self._d.popitem(last=False)
                self.nbytes -= old.nbytes

    def clear(self):
        with self._lock:
            self._d.clear()
            self.nbytes = 0
