"""Approximate search for large galleries: PCA → FAISS 8-bit codes (or an HNSW graph) →
exact re-ranking.

How a part-based embedding ``[P, D]`` (GaitSet: 62 × 256 = 15,872 numbers) is represented:

1. **PCA to ``dims`` numbers** (default 128), fitted on a sample of the gallery. Parts are
   correlated (one person, one walk), so a global PCA keeps far more of what separates
   people than a few axes per part. A PCA of 15,872 inputs is costly to fit and to apply,
   so it runs in two steps: each part is first projected on its own top
   ``round(part_dims / P)`` axes (``part_dims`` 2048: GaitSet 62 × 33; skipped when
   ``P × D <= part_dims``, e.g. GaitPart's 16 × 128), then FAISS's ``PCAMatrix`` maps the
   concatenation to ``dims``. For ``metric="cos"`` the parts are L2-normalised first. The L2
   distance of the PCA vectors approximates ``sqrt(sum_p |x_p - y_p|^2)``, which ranks like
   the package's mean of per-part distances when parts contribute comparably.
2. **FAISS**, ``structure="flat"`` (default): ``SQ8``, the PCA vectors as 8-bit codes
   (128 bytes per embedding instead of 31,744 for a float16 GaitSet embedding), scanned in
   full per query — no partition or graph that could miss the nearest subject, so recall is
   decided by the PCA alone; the scan is linear in the gallery size but ~16× cheaper than
   the exact distance on 16 × 128 embeddings (~124× on 62 × 256).
   ``structure="hnsw"``: ``HNSW{hnsw_m}``, a graph over float32 PCA vectors, explored
   ``ef_search`` nodes deep: sub-linear queries, but a build of minutes per 100k embeddings
   here and a graph that misses some nearest subjects on clustered gait embeddings
   (recall@1 1.000 at 20k; with ``HNSW16_SQ8``: 0.98 at 20k, 0.895 at 100k). An inverted
   file (IVF) fits gait galleries badly: a subject's sequences under other views or
   clothes lie far apart, the k-means cells split along condition, and the probe's nearest
   sequence is often in a cell not scanned (IVF-SQ8 scanning 1/8 of its lists: 62–82 %
   recall at 8k–20k).
3. **Exact re-ranking.** The ``candidates`` nearest codes (default 256) are re-scored with
   the exact distance on the stored embeddings, so every distance returned is the
   package's own (open-set thresholds keep their meaning); only *which* embeddings are
   considered is approximate. Recall is lost only when the true nearest embedding is not
   among the candidates: benchmarks/matching.py measures it (docs/evaluation.md).
"""
from __future__ import annotations

import numpy as np

from gait_tf.errors import GalleryError
from gait_tf.evaluation.distance import pairwise_distance
from gait_tf.search.base import SearchIndex, fingerprint

BUILD_CHUNK = 8192
STRUCTURES = ("flat", "hnsw")


class FaissIndex(SearchIndex):
    """See the module docstring. ``dims``: PCA output; ``part_dims``: the per-part PCA's
    total output (the first step); ``structure``: "flat" | "hnsw"; ``hnsw_m``: graph links per node; ``ef_search`` /
    ``ef_construction``: graph search breadth at query / build time; ``candidates``:
    re-ranking depth; ``pca_sample`` / ``train_size``: rows used to fit the PCA / the 8-bit
    quantiser; ``seed``: their sampling."""

    kind = "ann"

    def __init__(self, metric: str = "euc", dims: int = 128, part_dims: int = 2048, structure: str = "flat",
                 hnsw_m: int = 32,
                 ef_search: int = 512, ef_construction: int = 64, candidates: int = 256, pca_sample: int = 20000,
                 train_size: int = 20_000, seed: int = 0):
        super().__init__(metric)
        if structure not in STRUCTURES:
            raise GalleryError(f"unknown ANN structure {structure!r}; choose one of {', '.join(STRUCTURES)}")
        self.structure = structure
        try:
            self.dims, self.part_dims, self.candidates = int(dims), int(part_dims), int(candidates)
            self.hnsw_m, self.ef_search, self.ef_construction = int(hnsw_m), int(ef_search), int(ef_construction)
            self.pca_sample, self.train_size, self.seed = int(pca_sample), int(train_size), int(seed)
        except (TypeError, ValueError) as exc:
            raise GalleryError(f"bad ANN option: {exc}") from exc
        if min(self.dims, self.part_dims, self.candidates, self.hnsw_m, self.ef_search, self.ef_construction,
               self.pca_sample, self.train_size) < 1:
            raise GalleryError("ANN options dims, part_dims, hnsw_m, ef_search, ef_construction, candidates, "
                               "pca_sample and train_size must be positive integers")
        self.index = None  # faiss IndexPreTransform(PCAMatrix, IndexHNSWSQ)
        self.mean = None  # [P, D]: the per-part step (None: no per-part step)
        self.components = None  # [P, D, k]
        self._fingerprint = None

    # ------------------------------------------------------------------ representation
    def _parts(self, x) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if x.ndim == 2:
            x = x[:, None, :]
        if self.metric == "cos":
            x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
        return x

    def encode(self, x) -> np.ndarray:
        """Embeddings ``[n, P, D]`` → the input of the FAISS index, float32 ``[n, P*k]``
        (the per-part step; FAISS applies the global PCA itself)."""
        p = self._parts(x)
        if self.mean is not None:
            p = np.einsum("npd,pdk->npk", p - self.mean, self.components, optimize=True)
        return np.ascontiguousarray(p.reshape(len(p), -1), dtype=np.float32)

    def _fit_part_pca(self, sample):
        p = self._parts(sample)
        n, parts, dim = p.shape
        k = max(1, min(dim, int(round(self.part_dims / parts))))
        if k >= dim:  # small embeddings: no per-part step
            self.mean = self.components = None
            return
        self.mean = p.mean(axis=0)
        centred = p - self.mean
        comps = np.empty((parts, dim, k), np.float32)
        for j in range(parts):
            cov = centred[:, j].T @ centred[:, j] / max(1, n - 1)
            _, vecs = np.linalg.eigh(cov.astype(np.float64))
            comps[j] = vecs[:, ::-1][:, :k]
        self.components = comps

    def _sample_rows(self, size, n):
        rng = np.random.default_rng(self.seed)
        return np.sort(rng.choice(size, size=min(size, n), replace=False))

    # ------------------------------------------------------------------ building
    def build(self, embeddings, labels):
        import faiss

        super().build(embeddings, labels)
        m = len(embeddings)
        if m == 0:
            raise GalleryError("cannot build an ANN index over an empty gallery")
        self._fit_part_pca(embeddings[self._sample_rows(m, self.pca_sample)])
        train = self.encode(embeddings[self._sample_rows(m, self.train_size)])
        dims = min(self.dims, train.shape[1], len(train))
        spec = f"PCA{dims},SQ8" if self.structure == "flat" else f"PCA{dims},HNSW{self.hnsw_m}"
        index = faiss.index_factory(train.shape[1], spec)
        index.train(train)
        if self.structure == "hnsw":
            self._graph(index).hnsw.efConstruction = self.ef_construction
        self.index = index
        self._set_ef()
        self._add(0, m)
        self._fingerprint = None
        return self

    @staticmethod
    def _graph(index):
        import faiss

        return faiss.downcast_index(faiss.downcast_index(index).index)

    def _set_ef(self):
        if self.structure == "hnsw":
            self._graph(self.index).hnsw.efSearch = max(self.ef_search, self.candidates)

    def _add(self, start, stop):
        for i in range(start, stop, BUILD_CHUNK):
            self.index.add(self.encode(self.embeddings[i : min(stop, i + BUILD_CHUNK)]))

    def extend(self, embeddings, labels):
        old = self.size
        if self.index is None or len(embeddings) < old:
            return self.build(embeddings, labels)
        super().build(embeddings, labels)
        self._add(old, len(embeddings))  # the PCA and the lists stay as trained
        self._fingerprint = None
        return self

    # ------------------------------------------------------------------ search
    def candidate_rows(self, probes, n: int | None = None) -> np.ndarray:
        """Approximate nearest rows ``int64 [N, n]`` (-1 where fewer exist)."""
        n = min(int(n or self.candidates), self.size)
        _, rows = self.index.search(self.encode(probes), n)
        return rows

    def nearest_subjects(self, probes, k: int):
        """Per probe ``(subject ids, exact distances)`` of up to ``k`` subjects among the
        candidates (fewer if the candidates hold fewer subjects)."""
        probes = np.asarray(probes, np.float32)
        rows = self.candidate_rows(probes)
        out = []
        for i, cand in enumerate(rows):
            cand = np.unique(cand[cand >= 0])  # sorted: sequential reads of a memmap
            dist = pairwise_distance(probes[i : i + 1], self.embeddings[cand], self.metric)[0]
            labels = self.labels[cand]
            order = np.lexsort((dist, labels))  # by subject, then distance
            first = np.unique(labels[order], return_index=True)[1]
            best = order[first]  # each subject's nearest candidate
            rank = np.lexsort((labels[best], dist[best]))[: int(k)]
            out.append((labels[best][rank], dist[best][rank].astype(np.float32)))
        return out

    # ------------------------------------------------------------------ persistence
    def describe(self) -> dict:
        d = {"kind": self.kind, "size": self.size, "metric": self.metric, "dims": self.dims,
             "part_dims": self.part_dims, "structure": self.structure, "hnsw_m": self.hnsw_m, "ef_search": self.ef_search,
             "ef_construction": self.ef_construction, "candidates": self.candidates,
             "pca_sample": self.pca_sample, "train_size": self.train_size, "seed": self.seed}
        if self.index is not None:
            graph = self._graph(self.index)
            d.update(vector_dims=int(graph.d), input_dims=int(self.index.d), memory_bytes=self.memory_bytes())
        return d

    def memory_bytes(self) -> int:
        """Bytes held by the index itself: codes or vectors (+ graph links) + the PCAs (not the embeddings)."""
        if self.index is None:
            return 0
        inner = self._graph(self.index)
        per_part = 0 if self.mean is None else self.mean.nbytes + self.components.nbytes
        pca = 4 * self.index.d * (inner.d + 1)
        if self.structure == "flat":
            return int(inner.ntotal * inner.code_size + pca + per_part)
        hnsw = inner.hnsw
        links = hnsw.neighbors.size() * 4 + hnsw.offsets.size() * 8 + hnsw.levels.size() * 4
        return int(inner.ntotal * inner.d * 4 + links + pca + per_part)

    def state(self):
        import faiss

        if self.index is None:
            return {}, None
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.embeddings)
        arrays = {"search_faiss": faiss.serialize_index(self.index)}
        if self.mean is not None:
            arrays.update(search_pca_mean=self.mean, search_pca_components=self.components)
        meta = {**self.describe(), "fingerprint": self._fingerprint, "faiss_version": faiss.__version__}
        meta.pop("memory_bytes", None)
        return arrays, meta

    def restore(self, arrays, meta, embeddings, labels) -> bool:
        """Adopt the stored FAISS index if it has one vector per embedding, fits their shape
        and the embeddings' fingerprint matches the one recorded at save time."""
        import faiss

        try:
            index = faiss.deserialize_index(np.asarray(arrays["search_faiss"], np.uint8))
            mean = comps = None
            if "search_pca_mean" in arrays:
                mean = np.asarray(arrays["search_pca_mean"], np.float32)
                comps = np.asarray(arrays["search_pca_components"], np.float32)
        except Exception:  # noqa: BLE001 - a damaged index is rebuilt, not fatal
            return False
        parts, dim = embeddings.shape[1:] if embeddings.ndim == 3 else (1, embeddings.shape[-1])
        d_in = parts * (dim if mean is None else comps.shape[2])
        if index.ntotal != len(embeddings) or index.d != d_in or meta.get("metric") != self.metric or (
                mean is not None and (mean.shape != (parts, dim) or comps.shape[:2] != (parts, dim))):
            return False
        if meta.get("fingerprint") != fingerprint(embeddings):
            return False
        SearchIndex.build(self, embeddings, labels)
        self.index, self.mean, self.components = index, mean, comps
        self._set_ef()
        self._fingerprint = meta["fingerprint"]
        return True
