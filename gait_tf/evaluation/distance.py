"""Chunked probe-vs-gallery distances between part-based gait embeddings.

Embeddings are ``[N, P, D]`` (``P`` horizontal parts of ``D`` dims) or ``[N, D]``
(treated as one part). Distances follow OpenGait's evaluator:

- ``"euc"``: Euclidean distance computed *per part*, then averaged over parts:
  ``d(x, y) = mean_p sqrt(max(0, |x_p|^2 + |y_p|^2 - 2 x_p . y_p))``.
- ``"cos"``: cosine distance of the per-part L2-normalised vectors, averaged over
  parts: ``d(x, y) = 1 - mean_p <x_p/|x_p|, y_p/|y_p|>`` (in ``[0, 2]``).

Everything is computed in blocks of ``probe_chunk`` probes × ``gallery_chunk`` gallery
items (default: as many as fit in 32 MiB of float32), so the largest temporary is
``[P, probe_chunk, gallery_chunk]`` float32 plus one block of each input converted to
float32 — never an ``N × M × P`` tensor. Inputs may be
stored as float16 (halving gallery memory); blocks are promoted to float32 before the
matrix products.
"""
from __future__ import annotations

import numpy as np

from gait_tf.errors import ConfigError, DataError

METRICS = ("euc", "cos")
DEFAULT_PROBE_CHUNK = 256
DEFAULT_GALLERY_CHUNK = None  # auto: about BLOCK_BYTES of float32 gallery per block
BLOCK_BYTES = 32 * 2**20


def as_parts(embeddings, name="embeddings") -> np.ndarray:
    """Return ``embeddings`` as a ``[N, P, D]`` floating array (``[N, D]`` → ``[N, 1, D]``).

    float16/float32/float64 arrays are kept in their dtype (no copy); other numeric
    dtypes are converted to float32. Raises :class:`DataError` naming ``name`` for a
    wrong rank or a non-numeric array.
    """
    arr = np.asarray(embeddings)
    if arr.dtype.kind not in "fiu":
        raise DataError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    if arr.ndim == 2:
        arr = arr[:, None, :]
    if arr.ndim != 3:
        raise DataError(f"{name}: expected shape [N, D] or [N, parts, dim], got {arr.shape}")
    return arr


def check_metric(metric: str) -> str:
    metric = str(metric).lower()
    if metric not in METRICS:
        raise ConfigError(f"unknown distance metric {metric!r}; choose one of {', '.join(METRICS)}")
    return metric


def _block(x: np.ndarray, metric: str):
    """``[n, P, D]`` → float32 ``[P, n, D]`` (+ squared norms ``[P, n, 1]`` for euc)."""
    xp = np.ascontiguousarray(np.transpose(x, (1, 0, 2)), dtype=np.float32)
    if metric == "cos":
        norm = np.sqrt(np.einsum("pnd,pnd->pn", xp, xp))[..., None]
        xp = xp / np.maximum(norm, 1e-12)  # new array: never modify the caller's embeddings
        return xp, None
    return xp, np.einsum("pnd,pnd->pn", xp, xp)[..., None]


def _block_distance(xp, xsq, yp, ysq, metric, out):
    """Distance of prepared blocks ``[P, n, D]`` and ``[P, m, D]`` into ``out`` ``[n, m]``."""
    prod = np.einsum("pnd,pmd->pnm", xp, yp, optimize=True)  # [P, n, m], BLAS-backed
    if metric == "cos":
        np.mean(prod, axis=0, out=out)
        np.subtract(1.0, out, out=out)
        return out
    prod *= -2.0
    prod += xsq
    prod += np.transpose(ysq, (0, 2, 1))
    np.maximum(prod, 0.0, out=prod)
    np.sqrt(prod, out=prod)
    np.mean(prod, axis=0, out=out)
    return out


def _check_pair(probe, gallery):
    x = as_parts(probe, "probe embeddings")
    y = as_parts(gallery, "gallery embeddings")
    if x.shape[1:] != y.shape[1:]:
        raise DataError(
            f"probe embeddings {x.shape[1:]} and gallery embeddings {y.shape[1:]} "
            "have different [parts, dim]"
        )
    return x, y


def iter_distance_rows(
    probe,
    gallery,
    metric: str = "euc",
    probe_chunk: int = DEFAULT_PROBE_CHUNK,
    gallery_chunk: int = DEFAULT_GALLERY_CHUNK,
):
    """Yield ``(start, block)`` with ``block`` float32 ``[n, M]``: the distances of probes
    ``start:start+n`` to the whole gallery, one probe chunk at a time.

    Peak extra memory is ``probe_chunk × M`` floats for the block plus
    ``P × probe_chunk × gallery_chunk`` floats of scratch.
    """
    metric = check_metric(metric)
    x, y = _check_pair(probe, gallery)
    n, m = len(x), len(y)
    probe_chunk = max(1, int(probe_chunk))
    if gallery_chunk is None:
        gallery_chunk = max(64, BLOCK_BYTES // (4 * x.shape[1] * x.shape[2]))
    gallery_chunk = max(1, int(gallery_chunk))
    # prepare gallery blocks once when there are several probe chunks and they are small
    gallery_blocks = None
    if n > probe_chunk and y.nbytes <= 256 * 2**20:
        gallery_blocks = [(j, *_block(y[j : j + gallery_chunk], metric)) for j in range(0, m, gallery_chunk)]
    for i in range(0, n, probe_chunk):
        xp, xsq = _block(x[i : i + probe_chunk], metric)
        out = np.empty((xp.shape[1], m), np.float32)
        blocks = gallery_blocks
        if blocks is None:
            blocks = ((j, *_block(y[j : j + gallery_chunk], metric)) for j in range(0, m, gallery_chunk))
        for j, yp, ysq in blocks:
            _block_distance(xp, xsq, yp, ysq, metric, out[:, j : j + yp.shape[1]])
        yield i, out


def pairwise_distance(
    probe,
    gallery,
    metric: str = "euc",
    probe_chunk: int = DEFAULT_PROBE_CHUNK,
    gallery_chunk: int = DEFAULT_GALLERY_CHUNK,
) -> np.ndarray:
    """Full distance matrix float32 ``[N, M]`` (see module doc for the metrics).

    probe: ``[N, P, D]`` or ``[N, D]``; gallery: ``[M, P, D]`` or ``[M, D]``.
    Holds the ``N × M`` result; use :func:`iter_distance_rows` or :func:`topk` when even
    that is too big.
    """
    x, y = _check_pair(probe, gallery)
    out = np.empty((len(x), len(y)), np.float32)
    for i, block in iter_distance_rows(x, y, metric, probe_chunk, gallery_chunk):
        out[i : i + len(block)] = block
    return out


def topk(
    probe,
    gallery,
    k: int = 1,
    metric: str = "euc",
    probe_chunk: int = DEFAULT_PROBE_CHUNK,
    gallery_chunk: int = DEFAULT_GALLERY_CHUNK,
):
    """The ``k`` nearest gallery items of each probe, without the full ``N × M`` matrix.

    Returns ``(indices int64 [N, k], distances float32 [N, k])`` sorted by increasing
    distance (ties broken by gallery index). ``k`` is clipped to the gallery size.
    """
    x, y = _check_pair(probe, gallery)
    k = max(0, min(int(k), len(y)))
    idx = np.zeros((len(x), k), np.int64)
    dist = np.zeros((len(x), k), np.float32)
    if k == 0:
        return idx, dist
    for i, block in iter_distance_rows(x, y, metric, probe_chunk, gallery_chunk):
        if k < block.shape[1]:
            part = np.argpartition(block, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(block.shape[1]), block.shape).copy()
        vals = np.take_along_axis(block, part, axis=1)
        order = np.lexsort((part, vals), axis=1)
        idx[i : i + len(block)] = np.take_along_axis(part, order, axis=1)
        dist[i : i + len(block)] = np.take_along_axis(vals, order, axis=1)
    return idx, dist
