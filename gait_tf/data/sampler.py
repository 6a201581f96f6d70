"""P x K identity sampler with explicit, saveable state.

Batch ``i`` is a **pure function of (seed, i)** (and of the sorted records): there is
no hidden RNG state. Resuming therefore only needs the batch counter:
``get_state()`` returns ``{"seed", "batch", "p", "k", "fingerprint"}`` (JSON-able) and
``set_state(state)`` continues at ``state["batch"]``; the fingerprint (a hash of the
training subjects and their sequence counts) makes resuming on different data an error.
"""
from __future__ import annotations

import hashlib

import numpy as np

from gait_tf.errors import ConfigError, DataError

#: independent random streams derived from (seed, stream, batch)
STREAM_IDENTITY, STREAM_FRAMES, STREAM_AUGMENT = 0, 1, 2


def batch_rng(seed: int, stream: int, batch: int) -> np.random.Generator:
    """The numpy generator of ``stream`` for batch ``batch`` (counter-based, no shared state)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(stream), int(batch)])


class PKSampler:
    """Sample ``p`` subjects x ``k`` sequences per batch.

    Args:
        groups: ``{subject: [record indices]}``; every subject needs >= 1 sequence.
        p: subjects per batch (<= number of subjects; drawn without replacement).
        k: sequences per subject (without replacement when the subject has >= k
            sequences, with replacement otherwise, as OpenGait's TripletSampler).
        seed: integer seed.

    ``sample(i)`` -> ``(record_indices int64 [p*k], labels int32 [p*k])``, subject-major
    (``k`` consecutive samples per subject); labels index the sorted subject list.
    """

    def __init__(self, groups: dict, p: int, k: int, seed: int = 0):
        for name, value in (("p", p), ("k", k)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name}={value!r}: must be a positive integer")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise ConfigError(f"seed={seed!r}: must be an integer")
        self.subjects = sorted(groups)
        if not self.subjects:
            raise DataError("PKSampler: no training subjects")
        for s in self.subjects:
            if len(groups[s]) == 0:
                raise DataError(f"subject {s!r} has no sequences: cannot sample it")
        if p > len(self.subjects):
            raise ConfigError(f"p={p}: more subjects per batch than training subjects ({len(self.subjects)})")
        self._groups = [np.asarray(groups[s], np.int64) for s in self.subjects]
        self.p, self.k, self.seed = int(p), int(k), int(seed)
        self.batch = 0
        h = hashlib.sha1()
        for s, g in zip(self.subjects, self._groups):
            h.update(f"{s}:{len(g)};".encode())
        self.fingerprint = h.hexdigest()[:16]

    @property
    def batch_size(self) -> int:
        return self.p * self.k

    def sample(self, i: int):
        """Record indices and labels of batch ``i`` (pure: same (seed, i) -> same batch)."""
        rng = batch_rng(self.seed, STREAM_IDENTITY, i)
        chosen = rng.choice(len(self.subjects), self.p, replace=False)
        idx = np.empty(self.p * self.k, np.int64)
        for j, s in enumerate(chosen):
            group = self._groups[s]
            pick = rng.choice(len(group), self.k, replace=len(group) < self.k)
            idx[j * self.k:(j + 1) * self.k] = group[pick]
        labels = np.repeat(chosen.astype(np.int32), self.k)
        return idx, labels

    # -------------------------------------------------------------- iteration
    def __iter__(self):
        return self

    def __next__(self):
        out = self.sample(self.batch)
        self.batch += 1
        return out

    def get_state(self) -> dict:
        """JSON-able state: the next batch index plus what it depends on."""
        return {"seed": self.seed, "batch": self.batch, "p": self.p, "k": self.k,
                "fingerprint": self.fingerprint}

    def set_state(self, state: dict) -> None:
        """Continue from a state of :meth:`get_state` (same data and settings required)."""
        try:
            seed, batch = int(state["seed"]), int(state["batch"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"sampler state {state!r}: missing/invalid 'seed' or 'batch' ({exc})") from None
        for key, mine in (("p", self.p), ("k", self.k), ("fingerprint", self.fingerprint)):
            if key in state and state[key] != mine:
                raise ConfigError(
                    f"sampler state: {key}={state[key]!r} but this sampler has {key}={mine!r} "
                    "(different batch shape or training data)"
                )
        if batch < 0:
            raise ConfigError(f"sampler state: batch={batch} must be >= 0")
        self.seed, self.batch = seed, batch
