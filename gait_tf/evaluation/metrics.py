"""Retrieval metrics from a probe × gallery distance matrix: rank-k (CMC), mAP, mINP.

Definitions (as in OpenGait / the Re-ID literature, in percent):

- rank-k accuracy: share of probes whose ``k`` nearest gallery items contain a correct
  identity (the CMC curve at ``k``).
- AP of a probe: mean over its correct gallery items of precision at each one's rank;
  mAP: mean AP over probes.
- INP of a probe: ``(#correct) / (rank of the last correct item)`` (1-based); mINP: mean
  INP over probes — how deep one must search to find *all* matches.

Gallery items can be excluded per probe (OpenGait's cross-view protocol drops gallery
items of the same subject *and* view as the probe). Probes left without any correct
gallery item are skipped (and counted in ``num_skipped``), as in OpenGait.
"""
from __future__ import annotations

import numpy as np

from gait_tf.evaluation.distance import DEFAULT_GALLERY_CHUNK, DEFAULT_PROBE_CHUNK, iter_distance_rows


class RankingAccumulator:
    """Accumulates CMC hits, AP and INP over distance blocks ``[n, M]``.

    ``ranks``: the k of the rank-k accuracies to report (CMC is kept up to ``max(ranks)``).
    """

    def __init__(self, ranks=(1, 5, 10)):
        self.ranks = tuple(int(r) for r in ranks)
        self.max_rank = max(self.ranks) if self.ranks else 1
        self.cmc_hits = np.zeros(self.max_rank, np.int64)
        self.ap_sum = 0.0
        self.inp_sum = 0.0
        self.num_valid = 0
        self.num_skipped = 0

    def update(self, dist, probe_labels, gallery_labels, exclude=None):
        """Add probes with distances ``dist`` float ``[n, M]``.

        probe_labels ``[n]``, gallery_labels ``[M]``; ``exclude`` optional bool ``[n, M]``,
        True where a gallery item must be ignored for that probe.
        """
        dist = np.asarray(dist, np.float32)
        gallery_labels = np.asarray(gallery_labels)
        probe_labels = np.asarray(probe_labels)
        if dist.shape[1] == 0:
            self.num_skipped += len(dist)
            return
        order = np.argsort(dist, axis=1, kind="stable")
        matches = gallery_labels[order] == probe_labels[:, None]  # [n, M] in rank order
        if exclude is not None:
            keep = ~np.take_along_axis(np.asarray(exclude, bool), order, axis=1)
        else:
            keep = None
        for row in range(len(dist)):
            m = matches[row] if keep is None else matches[row][keep[row]]
            num_rel = int(m.sum())
            if num_rel == 0:
                self.num_skipped += 1
                continue
            self.num_valid += 1
            pos = np.flatnonzero(m)  # 0-based ranks of the correct items
            first = pos[0]
            if first < self.max_rank:
                self.cmc_hits[first:] += 1
            precision = np.arange(1, num_rel + 1) / (pos + 1.0)
            self.ap_sum += float(precision.mean())
            self.inp_sum += num_rel / (pos[-1] + 1.0)

    def result(self) -> dict:
        """``{"rank-1": %, "rank-5": %, ..., "mAP": %, "mINP": %, "num_probes", "num_skipped"}``."""
        n = max(self.num_valid, 1)
        out = {f"rank-{k}": 100.0 * self.cmc_hits[k - 1] / n if self.num_valid else float("nan") for k in self.ranks}
        out["mAP"] = 100.0 * self.ap_sum / n if self.num_valid else float("nan")
        out["mINP"] = 100.0 * self.inp_sum / n if self.num_valid else float("nan")
        out["num_probes"] = int(self.num_valid)
        out["num_skipped"] = int(self.num_skipped)
        return out


def ranking_metrics(dist, probe_labels, gallery_labels, ranks=(1, 5, 10), exclude=None) -> dict:
    """Rank-k accuracies, mAP and mINP (percent) from a full distance matrix ``[N, M]``."""
    acc = RankingAccumulator(ranks)
    acc.update(dist, probe_labels, gallery_labels, exclude)
    return acc.result()


def rank_k_accuracy(dist, probe_labels, gallery_labels, k: int = 1) -> float:
    """Rank-k accuracy (percent) from a full distance matrix ``[N, M]``."""
    return ranking_metrics(dist, probe_labels, gallery_labels, ranks=(k,))[f"rank-{k}"]


def mean_average_precision(dist, probe_labels, gallery_labels, exclude=None) -> float:
    """mAP (percent) from a full distance matrix ``[N, M]``."""
    return ranking_metrics(dist, probe_labels, gallery_labels, ranks=(1,), exclude=exclude)["mAP"]


def mean_inverse_negative_penalty(dist, probe_labels, gallery_labels, exclude=None) -> float:
    """mINP (percent) from a full distance matrix ``[N, M]``."""
    return ranking_metrics(dist, probe_labels, gallery_labels, ranks=(1,), exclude=exclude)["mINP"]


def evaluate_retrieval(
    probe,
    gallery,
    probe_labels,
    gallery_labels,
    metric: str = "euc",
    ranks=(1, 5, 10),
    probe_views=None,
    gallery_views=None,
    probe_chunk: int = DEFAULT_PROBE_CHUNK,
    gallery_chunk: int = DEFAULT_GALLERY_CHUNK,
) -> dict:
    """Rank-k, mAP, mINP of probe embeddings against gallery embeddings, chunked.

    probe ``[N, P, D]``/``[N, D]``, gallery ``[M, P, D]``/``[M, D]``. When both
    ``probe_views`` and ``gallery_views`` are given, gallery items with the same label
    *and* the same view as the probe are excluded (OpenGait's cross-view rule).
    Memory: one ``[probe_chunk, M]`` distance block at a time.
    """
    probe_labels = np.asarray(probe_labels)
    gallery_labels = np.asarray(gallery_labels)
    use_views = probe_views is not None and gallery_views is not None
    if use_views:
        probe_views = np.asarray(probe_views)
        gallery_views = np.asarray(gallery_views)
    acc = RankingAccumulator(ranks)
    for i, block in iter_distance_rows(probe, gallery, metric, probe_chunk, gallery_chunk):
        sl = slice(i, i + len(block))
        exclude = None
        if use_views:
            exclude = (probe_labels[sl, None] == gallery_labels[None, :]) & (
                probe_views[sl, None] == gallery_views[None, :]
            )
        acc.update(block, probe_labels[sl], gallery_labels, exclude)
    return acc.result()
