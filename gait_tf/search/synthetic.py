"""Synthetic part-based gait embeddings with identity structure, for search benchmarks and tests.

Uniform random vectors are a poor stand-in for a gallery: they have no neighbours worth the
name and no low-dimensional structure (which real embeddings have and which PCA / IVF
exploit). :class:`ClusteredEmbeddings` makes, for subject ``s`` and sequence ``j``::

    e[s, j, p] = scale_p * (z_s @ A_p + u_sj @ B_p + noise_sj[p])        (p = 1..P parts)

- ``z_s`` (``identity_dims``-d, N(0, 1)) is the subject's identity, seen by every part
  through its own fixed random map ``A_p`` ``[identity_dims, D]`` (normalised: unit variance
  per number);
- ``u_sj`` (``nuisance_dims``-d, std ``nuisance``) is the sequence's condition (view,
  clothing, carrying) through ``B_p``: strong, low-rank, shared by all subjects;
- ``noise_sj`` is isotropic per-number noise (std ``noise``; uniform, cheap to draw);
- ``scale_p`` in [0.7, 1.3] makes parts contribute unequally, as real strips do.

Row ``i`` is subject ``i // per_subject``. Everything is a pure function of ``(seed, i)``,
generated in chunks (no full-size temporary), so a 1M × 62 × 256 gallery can be streamed into
a memory-mapped file. :meth:`probes` draws new sequences (fresh condition and noise) of
given subjects, i.e. another walk of an enrolled person.
"""
from __future__ import annotations

import numpy as np


class ClusteredEmbeddings:
    def __init__(self, num_subjects: int, per_subject: int = 4, parts: int = 62, dim: int = 256, *,
                 identity_dims: int = 48, nuisance_dims: int = 8, nuisance: float = 0.7, noise: float = 0.8,
                 seed: int = 0):
        self.num_subjects, self.per_subject = int(num_subjects), int(per_subject)
        self.parts, self.dim = int(parts), int(dim)
        self.identity_dims, self.nuisance_dims = int(identity_dims), int(nuisance_dims)
        self.nuisance, self.noise, self.seed = nuisance, noise, int(seed)
        rng = np.random.default_rng([self.seed, 0])
        a = rng.standard_normal((self.identity_dims, parts, dim), dtype=np.float32) / np.sqrt(self.identity_dims)
        b = rng.standard_normal((self.nuisance_dims, parts, dim), dtype=np.float32) / np.sqrt(self.nuisance_dims)
        self.maps = np.concatenate([a, b]).reshape(self.identity_dims + self.nuisance_dims, parts * dim)
        self.part_scale = rng.uniform(0.7, 1.3, (parts, 1)).astype(np.float32)

    def __len__(self):
        return self.num_subjects * self.per_subject

    def subjects(self, rows) -> np.ndarray:
        return np.asarray(rows) // self.per_subject

    def _identity(self, subjects):
        """The subjects' identity latents ``z [n, identity_dims]``."""
        z = np.empty((len(subjects), self.identity_dims), np.float32)
        for i, s in enumerate(subjects):
            z[i] = np.random.default_rng([self.seed, 1, int(s)]).standard_normal(self.identity_dims, np.float32)
        return z

    def _make(self, subjects, stream: int, keys, dtype):
        n = len(subjects)
        rng = np.random.default_rng([self.seed, stream, int(keys[0]), n])
        lat = np.concatenate([self._identity(subjects),
                              self.nuisance * rng.standard_normal((n, self.nuisance_dims), np.float32)], axis=1)
        out = lat @ self.maps  # [n, P*D]
        noise = rng.integers(-127, 128, (n, self.parts * self.dim), dtype=np.int8).astype(np.float32)
        out += noise * np.float32(self.noise / 73.6)  # uniform on [-127, 127]: std 73.6
        out = out.reshape(n, self.parts, self.dim) * self.part_scale
        return out.astype(dtype, copy=False)

    def rows(self, start: int, stop: int, dtype=np.float16) -> np.ndarray:
        """Gallery rows ``start:stop`` ``[n, P, D]`` (deterministic for a given ``(start, stop)``)."""
        return self._make(self.subjects(np.arange(start, stop)), 3, [start], dtype)

    def fill(self, out, chunk: int = 2048, progress=None):
        """Write all gallery rows into ``out`` ``[len(self), P, D]`` (e.g. a ``numpy.memmap``)."""
        for i in range(0, len(self), chunk):
            out[i : min(len(self), i + chunk)] = self.rows(i, min(len(self), i + chunk), out.dtype)
            if progress:
                progress(min(len(self), i + chunk))
        return out

    def probes(self, n: int, seed: int = 1, dtype=np.float32):
        """``(probes [n, P, D], subjects [n])``: new sequences of random enrolled subjects."""
        subjects = np.random.default_rng([self.seed, 4, seed]).choice(self.num_subjects, n, replace=False)
        return self._make(subjects, 5, [seed], dtype), subjects
