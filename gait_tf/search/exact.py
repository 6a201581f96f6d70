"""Exact search: every probe against every stored embedding (chunked, constant memory;
:mod:`gait_tf.evaluation.distance`). The default below the ANN size and the reference."""
from __future__ import annotations

from gait_tf.search.base import SearchIndex, top_subjects


class ExactIndex(SearchIndex):
    kind = "exact"

    def nearest_subjects(self, probes, k: int, chunk: int = 256):
        """Per probe ``(subject ids [k'], distances float32 [k'])``, ``k' = min(k, S)``."""
        out = []
        for i in range(0, len(probes), chunk):
            ids, dist = self.subject_distances(probes[i : i + chunk], chunk)
            out.extend(top_subjects(ids, row, k) for row in dist)
        return out
