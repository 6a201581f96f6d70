"""``tf.data`` input pipelines for training (P x K batches) and evaluation (one sequence).

Training batch ``i`` is a pure function of ``(seed, i)``: identities
(:class:`~gait_tf.data.sampler.PKSampler`), frame indices and augmentation all use
counter-based randomness keyed by ``(seed, stream, i)``. To resume, rebuild the pipeline
with ``start_batch=`` the number of batches already consumed (or
``sampler_state=pipeline.sampler_state(consumed)``) and it continues with exactly the
batches an uninterrupted run would have seen, whatever ``num_parallel_calls``.

Everything that can be wrong with the input is checked in Python before the graph is
built (arguments, subjects, and - with ``preload=True`` - every sequence is read,
validated and cached), so a bad file raises :class:`DataError` naming it instead of
failing deep inside TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from gait_tf.data.augment import AugmentConfig, augment_sequences
from gait_tf.data.pretreat import CUT, IMG_SIZE
from gait_tf.data.records import GaitDataset, SequenceRecord
from gait_tf.data.sampler import STREAM_AUGMENT, STREAM_FRAMES, PKSampler, batch_rng
from gait_tf.errors import ConfigError, DataError

MODES = ("fixed_unordered", "fixed_ordered", "all_ordered")
WIDTH = IMG_SIZE - 2 * CUT  # 44


def label_map(subjects) -> dict[str, int]:
    """``{subject: label}``: labels index the sorted unique training subjects."""
    return {s: i for i, s in enumerate(sorted(set(subjects)))}


def sample_frame_indices(n: int, frames: int, mode: str, rng: np.random.Generator) -> np.ndarray:
    """Frame indices (int64) drawn from a sequence of ``n`` frames.

    * ``fixed_unordered``: ``frames`` random indices in random order, with replacement
      only if ``n < frames`` (OpenGait ``fixed_unordered``);
    * ``fixed_ordered``: a contiguous window of ``frames`` (the sequence is repeated
      when shorter, as OpenGait's ``fixed_ordered`` with ``frames_skip_num=0``);
    * ``all_ordered``: ``0..n-1``.
    """
    if mode == "fixed_unordered":
        return rng.choice(n, frames, replace=n < frames)
    if mode == "fixed_ordered":
        reps = -(-frames // n)
        start = rng.integers(0, n * reps - frames + 1)
        return np.arange(start, start + frames) % n
    if mode == "all_ordered":
        return np.arange(n)
    raise ConfigError(f"mode={mode!r}: expected one of {MODES}")


@dataclass
class TrainPipeline:
    """A training input pipeline and what a trainer needs to know about it.

    Attributes:
        dataset: ``tf.data.Dataset`` of ``(float32 [P*K, F, 64, 44, 1] in [0, 1],
            int32 [P*K])`` (``F = frames``; ``None`` for ``all_ordered``).
        subjects: sorted training subjects; ``labels[i]`` indexes this list.
        label_map: ``{subject: label}``.
        sampler: the :class:`PKSampler` (its ``sample(i)`` gives batch i's records).
        records: the training records; sampler indices point into this list.
    """

    dataset: tf.data.Dataset
    subjects: list
    label_map: dict
    sampler: PKSampler
    records: list
    source: GaitDataset
    frames: int
    mode: str
    augment: AugmentConfig | None
    seed: int
    start_batch: int = 0
    options: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.subjects)

    def numpy_batch(self, i: int):
        """Batch ``i`` before augmentation: ``(uint8 [P*K, F, 64, 44], int32 [P*K])``."""
        return _build_batch(self, int(i))

    def sampler_state(self, consumed: int) -> dict:
        """Sampler state after ``consumed`` batches of this pipeline (for checkpoints)."""
        state = self.sampler.get_state()
        state["batch"] = self.start_batch + int(consumed)
        return state


def _build_batch(pipe: TrainPipeline, i: int):
    idx, labels = pipe.sampler.sample(i)
    rng = batch_rng(pipe.seed, STREAM_FRAMES, i)
    out = []
    for j in idx:
        seq = pipe.source.load(pipe.records[j])
        take = sample_frame_indices(len(seq), pipe.frames, pipe.mode, rng)
        out.append(seq[take, :, CUT:IMG_SIZE - CUT])
    return np.stack(out), labels


def _check_positive(name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name}={value!r}: must be a positive integer")


def build_train_pipeline(ds: GaitDataset, subjects=None, p=8, k=4, frames=30, mode="fixed_unordered",
                         augment=True, seed=0, start_batch=0, num_batches=None, sampler_state=None,
                         preload=True, num_parallel_calls=None, prefetch=None) -> TrainPipeline:
    """Build the P x K training pipeline (see :func:`make_train_dataset` for arguments)."""
    if not isinstance(ds, GaitDataset):
        raise ConfigError(f"expected a GaitDataset (gait_tf.data.load_dataset), got {type(ds).__name__}")
    _check_positive("p", p)
    _check_positive("k", k)
    _check_positive("frames", frames)
    if mode not in MODES:
        raise ConfigError(f"mode={mode!r}: expected one of {', '.join(MODES)}")
    if mode == "all_ordered" and p * k != 1:
        raise ConfigError(
            f"mode='all_ordered' gives sequences of different lengths: it needs p=k=1, got p={p}, k={k} "
            "(use make_eval_dataset for whole sequences)")
    if not isinstance(start_batch, (int, np.integer)) or start_batch < 0:
        raise ConfigError(f"start_batch={start_batch!r}: must be an integer >= 0")
    if num_batches is not None:
        _check_positive("num_batches", num_batches)
    for name, value in (("num_parallel_calls", num_parallel_calls), ("prefetch", prefetch)):
        if value is not None and (not isinstance(value, (int, np.integer)) or (value < 1 and value != -1)):
            raise ConfigError(f"{name}={value!r}: must be a positive integer, -1 (AUTOTUNE) or None")
    aug = AugmentConfig.from_value(augment)

    groups_all = ds.by_subject()
    if subjects is None:
        subjects = sorted(groups_all)
    else:
        if isinstance(subjects, str):
            raise ConfigError(f"subjects={subjects!r}: expected a list of subject ids, not a string")
        if isinstance(subjects, dict):
            raise ConfigError("subjects: got a partition dict; pass get_partition(...)['train']")
        subjects = sorted({str(s) for s in subjects})
        missing = [s for s in subjects if s not in groups_all]
        if missing:
            raise DataError(
                f"{ds.root}: training subject(s) with no sequences in the dataset: "
                f"{', '.join(missing[:8])}" + (" ..." if len(missing) > 8 else "")
                + f" ({len(missing)} of {len(subjects)}); e.g. partition subjects absent from this data"
            )
    if not subjects:
        raise DataError(f"{ds.root}: no training subjects")
    records: list[SequenceRecord] = []
    groups = {}
    for s in subjects:
        groups[s] = list(range(len(records), len(records) + len(groups_all[s])))
        records.extend(groups_all[s])
    sampler = PKSampler(groups, p, k, seed=seed)
    if sampler_state is not None:
        sampler.set_state(sampler_state)
        start_batch, seed = sampler.batch, sampler.seed
    if preload:
        ds.preload(records)
    pipe = TrainPipeline(dataset=None, subjects=list(subjects), label_map=label_map(subjects),
                         sampler=sampler, records=records, source=ds, frames=int(frames), mode=mode,
                         augment=aug, seed=int(seed), start_batch=int(start_batch),
                         options={"p": p, "k": k, "num_batches": num_batches})
    pipe.dataset = _graph(pipe, p * k, num_batches, num_parallel_calls, prefetch)
    return pipe


def _graph(pipe: TrainPipeline, batch, num_batches, num_parallel_calls, prefetch):
    autotune = tf.data.AUTOTUNE
    nf = None if pipe.mode == "all_ordered" else pipe.frames
    stop = None if num_batches is None else pipe.start_batch + num_batches
    index = (tf.data.Dataset.range(pipe.start_batch, stop) if stop is not None
             else tf.data.Dataset.counter(pipe.start_batch))

    def load(i):
        x, y = tf.numpy_function(lambda j: _build_batch(pipe, int(j)), [i], [tf.uint8, tf.int32],
                                 stateful=False, name="gait_pk_batch")
        x.set_shape([batch, nf, IMG_SIZE, WIDTH])
        y.set_shape([batch])
        return i, x, y

    def to_float(i, x, y):
        x = x[..., None]
        if pipe.augment is not None:  # on uint8: 4x fewer bytes than on float32
            seed = tf.stack([tf.constant(pipe.seed & 0xFFFFFFFF, tf.int64) * 4 + STREAM_AUGMENT, i])
            x = augment_sequences(x, seed, pipe.augment)
        return tf.cast(x, tf.float32) * (1.0 / 255.0), y

    calls = autotune if num_parallel_calls is None else num_parallel_calls
    out = index.map(load, num_parallel_calls=calls, deterministic=True)
    out = out.map(to_float, num_parallel_calls=calls, deterministic=True)
    return out.prefetch(autotune if prefetch is None else prefetch)


def make_train_dataset(ds: GaitDataset, subjects=None, p=8, k=4, frames=30, mode="fixed_unordered",
                       augment=True, seed=0, start_batch=0, num_batches=None, sampler_state=None,
                       preload=True, num_parallel_calls=None, prefetch=None) -> tf.data.Dataset:
    """P x K training batches.

    Args:
        ds: a :class:`GaitDataset`.
        subjects: training subjects (default: all of ``ds``); each needs >= 1 sequence.
        p, k: subjects per batch, sequences per subject.
        frames: frames per sequence (``fixed_*`` modes).
        mode: ``"fixed_unordered"`` (OpenGait default), ``"fixed_ordered"`` or
            ``"all_ordered"`` (p = k = 1 only).
        augment: True (defaults), False, or a dict of :class:`AugmentConfig` options.
        seed: integer; batch i is a pure function of (seed, i).
        start_batch: index of the first batch (resume); or ``sampler_state``.
        num_batches: finite length (default: infinite).
        preload: read, validate and cache every training sequence now.
        num_parallel_calls, prefetch: tf.data parallelism (default AUTOTUNE).

    Returns:
        ``tf.data.Dataset`` of ``(float32 [P*K, frames, 64, 44, 1] in [0, 1], int32 [P*K])``;
        labels index ``sorted(subjects)`` (use :func:`build_train_pipeline` to get the
        mapping and the sampler, or :func:`label_map`).
    """
    return build_train_pipeline(ds, subjects, p, k, frames, mode, augment, seed, start_batch,
                                num_batches, sampler_state, preload, num_parallel_calls, prefetch).dataset


def make_eval_dataset(ds: GaitDataset, records=None, preload=True) -> tf.data.Dataset:
    """One whole sequence per element, in the order of ``records`` (default: all of ``ds``).

    Yields ``(float32 [1, T, 64, 44, 1] in [0, 1], {"subject", "condition", "view"})``
    with scalar string tensors. ``preload=True`` reads and validates every sequence
    before the graph is built (and caches it).
    """
    if not isinstance(ds, GaitDataset):
        raise ConfigError(f"expected a GaitDataset (gait_tf.data.load_dataset), got {type(ds).__name__}")
    records = list(ds.records if records is None else records)
    if not records:
        raise DataError(f"{ds.root}: no sequences to evaluate")
    for r in records:
        if not isinstance(r, SequenceRecord):
            raise ConfigError(f"records must be SequenceRecord objects, got {type(r).__name__}")
    if preload:
        ds.preload(records)

    def load(i):
        seq = ds.load(records[int(i)])
        return seq[None, :, :, CUT:IMG_SIZE - CUT]

    def fetch(i):
        x = tf.numpy_function(load, [i], tf.uint8, stateful=False, name="gait_eval_sequence")
        x.set_shape([1, None, IMG_SIZE, WIDTH])
        return tf.cast(x, tf.float32)[..., None] * (1.0 / 255.0)

    meta = tf.data.Dataset.from_tensor_slices({
        "subject": [r.subject for r in records],
        "condition": [r.condition for r in records],
        "view": [r.view for r in records],
    })
    frames = tf.data.Dataset.range(len(records)).map(fetch, num_parallel_calls=tf.data.AUTOTUNE,
                                                     deterministic=True)
    return tf.data.Dataset.zip((frames, meta)).prefetch(tf.data.AUTOTUNE)
