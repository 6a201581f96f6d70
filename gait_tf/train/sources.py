"""Batch sources for the trainer: where the global P x K batches come from.

A source yields global batches ``(silhouettes float32 [P*K, frames, 64, 44, 1],
labels int32 [P*K])`` where batch ``i`` is a pure function of ``(seed, i)``; its state
is therefore the next batch index (plus what makes it valid). The trainer stores
``source.state(batches_consumed)`` in every checkpoint and restarts the pipeline with
``source.dataset(state)`` on resume, so prefetching never skews the saved position.
``source.example()`` is a zero model input of the training clip shape (the trainer builds the
model's variables with it); ``source.num_classes`` sizes the classifier. RGB models use
:class:`gait_tf.train.rgb.RGBSource`, which also has ``bind(model)``.

- :class:`DatasetSource`: a silhouette dataset on disk (``data.root``) or the built-in
  synthetic set (``data.synthetic``), through ``gait_tf.data`` (PKSampler + tf.data).
- :class:`RandomSource`: class-dependent random silhouettes generated in-graph
  (``data.random``), for smoke tests and benchmarks without data.
"""
from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path

from gait_tf.errors import ConfigError

HW = (64, 44)


def silhouette_example(frames):
    """``float32 [1, frames, 64, 44, 1]`` zeros: one training-shaped silhouette clip."""
    import numpy as np

    return np.zeros((1, int(frames), *HW, 1), np.float32)


class RandomSource:
    """Random silhouettes with learnable identity: each class has a fixed random blob
    pattern; samples are that pattern with per-frame pixel dropout and shifts.

    ``data.random`` keys: ``num_classes`` (default 8), ``noise`` (pixel flip rate, 0.1).
    """

    def __init__(self, p, k, frames, seed=0, num_classes=8, noise=0.1):
        if p > num_classes:
            raise ConfigError(f"data.p={p}: larger than data.random.num_classes={num_classes}")
        self.p, self.k, self.frames, self.seed = int(p), int(k), int(frames), int(seed)
        self.num_classes = int(num_classes)
        self.noise = float(noise)
        self.train_subjects = [f"{i:03d}" for i in range(self.num_classes)]

    @classmethod
    def from_config(cls, data_cfg, seed):
        opts = dict(data_cfg["random"])
        allowed = {"num_classes", "noise"}
        for key in opts:
            if key not in allowed:
                raise ConfigError(f"unknown config key 'data.random.{key}'; known: {sorted(allowed)}")
        return cls(data_cfg["p"], data_cfg["k"], data_cfg["frames"], seed, **opts)

    def example(self):
        return silhouette_example(self.frames)

    def state(self, batch):
        return {"source": "random", "seed": self.seed, "batch": int(batch), "p": self.p, "k": self.k}

    def _check(self, state):
        if state is None:
            return 0
        for key in ("source", "seed", "p", "k"):
            if state.get(key) != self.state(0)[key]:
                raise ConfigError(f"checkpoint data state {key}={state.get(key)!r} does not match "
                                  f"this run ({self.state(0)[key]!r})")
        return int(state["batch"])

    def dataset(self, state=None):
        import tensorflow as tf

        start = self._check(state)
        c, p, k, t = self.num_classes, self.p, self.k, self.frames
        seed = self.seed
        proto = tf.random.stateless_uniform([c, 16, 11], seed=[seed, 7919])
        proto = tf.image.resize(proto[..., None], HW, method="bilinear")[..., 0]  # [C, 64, 44]
        proto = tf.cast(proto > 0.5, tf.float32)

        def make(i):
            s = tf.stack([tf.cast(seed, tf.int64), i])
            order = tf.argsort(tf.random.stateless_uniform([c], seed=s))
            chosen = order[:p]
            labels = tf.repeat(tf.cast(chosen, tf.int32), k)
            base = tf.gather(proto, labels)[:, None]  # [N, 1, 64, 44]
            flip = tf.random.stateless_uniform([p * k, t, *HW], seed=s + 1) < self.noise
            x = tf.where(flip, 1.0 - base, base)
            shift = tf.random.stateless_uniform([], seed=s + 2, minval=-2, maxval=3, dtype=tf.int32)
            x = tf.roll(x, shift, axis=3)
            return x[..., None], labels

        return tf.data.Dataset.counter(start, dtype=tf.int64).map(make).prefetch(2)


def _synthetic_root(opts, workdir):
    """Where the synthetic set for ``opts`` is cached (content-addressed by its options)."""
    opts = dict(opts)
    root = opts.pop("root", None)
    key = hashlib.sha1(json.dumps(opts, sort_keys=True, default=str).encode()).hexdigest()[:10]
    base = Path(root) if root else Path(workdir) / "synthetic"
    return base / f"synthetic-{key}", opts


def generate_synthetic(opts, workdir):
    """Write the synthetic set described by ``data.synthetic`` (once; cached) and return its root.

    Keys are passed to ``gait_tf.synth.dataset.write_dataset(fmt="opengait")`` (``subjects``,
    ``conditions``, ``views``, ``seed``, ``image_size``, ``n_frames``, ``workers``,
    ``background``, ``realism``: ``casia_b`` / ``realistic`` or a mapping of options, see
    :mod:`gait_tf.synth.realism`) except ``root``, the cache directory (default ``<workdir>/synthetic``).
    The set is content-addressed by these keys, so runs with the same keys share it.
    """
    from gait_tf.synth.dataset import write_dataset
    from gait_tf.utils import atomic_path

    root, kwargs = _synthetic_root(opts, workdir)
    params = set(inspect.signature(write_dataset).parameters) - {"root", "fmt", "progress"}
    for key in kwargs:
        if key not in params:
            raise ConfigError(f"unknown config key 'data.synthetic.{key}'; known: "
                              f"{sorted(params | {'root'})}")
    if not (root / ".complete").is_file():
        with atomic_path(root) as tmp:
            write_dataset(tmp, "opengait", progress=False, **kwargs)
            (tmp / ".complete").write_text(json.dumps(kwargs, sort_keys=True, default=str))
    return root


class DatasetSource:
    """P x K batches from a silhouette dataset through ``gait_tf.data.build_train_pipeline``.

    The pipeline's :class:`~gait_tf.data.PKSampler` state (seed, next batch, p, k and a
    fingerprint of the training data) is what checkpoints store; resuming on other data
    or another batch shape is an error.
    """

    def __init__(self, dataset, subjects, p, k, frames, mode, augment, seed):
        from gait_tf.data.pipeline import build_train_pipeline

        self._build = build_train_pipeline
        self.ds = dataset
        self.kwargs = dict(subjects=list(subjects), p=p, k=k, frames=frames, mode=mode,
                           augment=augment, seed=seed)
        self._pipe = self._build(self.ds, **self.kwargs)
        self.train_subjects = list(self._pipe.subjects)
        self.num_classes = self._pipe.num_classes

    @classmethod
    def from_config(cls, data_cfg, seed, workdir):
        from gait_tf import data

        if data_cfg["synthetic"] is not None:
            root = generate_synthetic(data_cfg["synthetic"], workdir)
            layout = "opengait"
        else:
            root, layout = data_cfg["root"], data_cfg["layout"]
        ds = data.load_dataset(root, layout=layout, cache=data_cfg["cache"])
        if data_cfg["partition"] is not None:
            part = data.get_partition(data_cfg["partition"])
            present = set(ds.subjects)
            subjects = [s for s in part["train"] if s in present]
            if not subjects:
                raise ConfigError(f"data.partition={data_cfg['partition']!r}: none of its training "
                                  f"subjects is in {root}")
        else:
            subjects = ds.subjects
        return cls(ds, subjects, data_cfg["p"], data_cfg["k"], data_cfg["frames"],
                   data_cfg["sampler"], data_cfg["augment"], seed)

    def example(self):
        return silhouette_example(self.kwargs["frames"])

    def state(self, batch):
        return self._pipe.sampler_state(int(batch) - self._pipe.start_batch)

    def dataset(self, state=None):
        if state is None:
            return self._pipe.dataset
        return self._build(self.ds, sampler_state=state, **self.kwargs).dataset


def build_source(data_cfg, seed, workdir, spec=None, pairs=False, log=None, input_hw=None):
    """The batch source described by the ``data`` config section, for the model ``spec``
    (:func:`gait_tf.models.get_spec`; ``None``: silhouettes). RGB-sequence models get an
    :class:`gait_tf.train.rgb.RGBSource` over the synthetic RGB walkers, of pairs of clips
    when ``pairs`` (GaitNet's losses) and of P x K clips otherwise; RGB-crop models
    (GaitEdge) P x K clips of person boxes with their aspect ratios and masks; skeleton-map
    models a :class:`gait_tf.train.skeleton.SkeletonSource`. ``input_hw``: the model's
    configured input size (default: the registry's)."""
    if spec is not None and spec.input_kind in ("skeleton_maps", "skeleton_silhouette"):
        from gait_tf.train.skeleton import SkeletonSource

        return SkeletonSource.from_config(data_cfg, seed, workdir, spec, log=log)
    if spec is not None and spec.input_kind in ("rgb_sequence", "rgb_crops"):
        from gait_tf.train.rgb import RGBSource

        if data_cfg["synthetic"] is None and spec.input_kind != "rgb_crops":
            raise ConfigError(f"model {spec.name!r}: RGB-sequence models train on the synthetic RGB walkers "
                              "only (data.synthetic); RGB-crop models also read CASIA-B* (data.root)")
        crop = "box" if spec.input_kind == "rgb_crops" else "centred"
        return RGBSource.from_config(data_cfg, seed, workdir, tuple(input_hw or spec.input_hw),
                                     kind="pairs" if pairs else "pk", crop=crop)
    if data_cfg["random"] is not None:
        return RandomSource.from_config(data_cfg, seed)
    return DatasetSource.from_config(data_cfg, seed, workdir)
