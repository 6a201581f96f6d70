"""Training data of the skeleton-map models (``input_kind`` ``"skeleton_maps"``: SkeletonGait,
``"skeleton_silhouette"``: SkeletonGait++) and their evaluation.

- :class:`SkeletonWalkers`: synthetic walkers from :mod:`gait_tf.synth` as the COCO-17
  keypoints a pose estimator would report (:attr:`WalkerSequence.keypoints`), their skeleton
  maps (:mod:`gait_tf.data.heatmaps`, rendered once and cached as ``.npz``) and the
  pretreated silhouettes of the same frames.
- :class:`PickleSkeletons`: an OpenGait-layout data set on disk
  (``root/<subject>/<type>/<view>/*.pkl``) holding OpenGait's heatmap pickles
  (``uint8 [T, 2, 64, 64]``, ``datasets/pretreatment_heatmap.py`` or
  :func:`gait_tf.data.heatmaps.skeleton_maps_uint8`) and, for SkeletonGait++, the silhouette
  pickles (``uint8 [T, 64, 64]``) next to them (OpenGait's ``ln_sil_heatmap.py`` layout).
- :class:`SkeletonSource`: the trainer's batch source over either (the
  :mod:`gait_tf.train.sources` protocol): P x K clips of ``frames`` consecutive frames,
  ``(float32 [P*K, frames, 64, 44, C], int32 [P*K])`` with ``C`` = 2 (limb, joint maps) or
  3 (+ silhouette); batch ``i`` is a pure function of ``(seed, i)``.
- :func:`skeleton_embeddings`: embeddings of whole sequences in the layout of
  :func:`gait_tf.evaluation.embed.embed_dataset`, for the CASIA-B protocols.

The synthetic maps are rendered with the XLA-compiled renderer (about 5x faster on CPU than
the graph; one-level differences on ~0.1% of the pixels, where XLA's ``exp`` rounds a value
across a quantisation step).
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from gait_tf.errors import ConfigError, DataError
from gait_tf.utils import atomic_write

#: ``data.synthetic`` keys understood by :class:`SkeletonWalkers`
SYNTH_DEFAULTS = {"subjects": "1-8", "conditions": "all", "views": "all", "seed": 0, "image_size": [120, 160],
                  "n_frames": 30, "workers": 2, "root": None}
INPUT_KINDS = {"skeleton_maps": 2, "skeleton_silhouette": 3}
_CHUNK = 256  # frames per XLA rendering call


def _render_sequence(task):
    """Worker: ``(key, keypoints float32 [T, 17, 3], silhouettes uint8 [T, 64, 64])`` of one
    synthetic sequence (frames dropped by silhouette pretreatment are dropped from both)."""
    from gait_tf.data.pretreat import pretreat_sequence
    from gait_tf.synth import WalkerGenerator

    seed, image_size, s, c, v, n_frames = task
    seq = WalkerGenerator(seed=seed, image_size=image_size).sequence(s, c, v, n_frames=n_frames, rgb=False)
    sils, kept = pretreat_sequence(seq.silhouettes, source=f"{s:03d}/{c}/{v}", return_kept=True)
    return (f"{s:03d}", c, f"{int(v):03d}"), seq.keypoints[kept].astype(np.float32), sils


def render_levels(keypoint_sequences, log=None):
    """Skeleton-map uint8 levels ``[T, 64, 64, 2]`` of each ``[T, 17, 3]`` keypoint sequence
    (per-sequence padding/normalisation in the graph, drawing in XLA-compiled chunks)."""
    import tensorflow as tf

    from gait_tf.data import heatmaps

    to_canvas = tf.function(lambda k: heatmaps.canvas_keypoints(k), reduce_retracing=True)
    draw = tf.function(lambda p: heatmaps.render_canvas_keypoints(p), jit_compile=True)
    points = [to_canvas(tf.constant(kp[None], tf.float32)).numpy()[0].astype(np.float32) for kp in keypoint_sequences]
    flat = np.concatenate(points) if points else np.zeros((0, 17, 3), np.float32)
    out = np.zeros((len(flat), 64, 64, 2), np.uint8)
    for i in range(0, len(flat), _CHUNK):
        chunk = flat[i:i + _CHUNK]
        pad = np.zeros((_CHUNK, 17, 3), np.float32)
        pad[:len(chunk)] = chunk
        out[i:i + len(chunk)] = draw(tf.constant(pad)).numpy()[:len(chunk)].astype(np.uint8)
        if log and (i // _CHUNK) % 50 == 0:
            log(f"skeleton maps: {i + len(chunk)}/{len(flat)} frames")
    splits = np.cumsum([len(p) for p in points])[:-1]
    return np.split(out, splits)


class SkeletonWalkers:
    """Synthetic walkers as skeleton maps (+ silhouettes), in memory, cached in ``cache_dir``.

    ``sequences[(subject, condition, view)] = (maps uint8 [T, 64, 44, 2], silhouettes uint8
    [T, 64, 44])``; ``keypoints[key]`` = the COCO-17 keypoints ``float32 [T, 17, 3]``.
    """

    def __init__(self, subjects="1-8", conditions="all", views="all", seed=0, image_size=(120, 160), n_frames=30,
                 workers=2, cache_dir=None, log=None):
        from gait_tf.data.pretreat import cut_width
        from gait_tf.synth.dataset import (parse_conditions, parse_image_size, parse_subjects, parse_views,
                                           run_tasks)

        subj = parse_subjects(subjects)
        conds = parse_conditions(None if conditions == "all" else conditions)
        views = parse_views(None if views == "all" else views)
        opts = {"subjects": [int(s) for s in subj], "conditions": list(conds), "views": [str(v) for v in views],
                "seed": int(seed), "image_size": list(parse_image_size(image_size)), "n_frames": n_frames,
                "version": 1}
        self.options = opts
        key = hashlib.sha1(json.dumps(opts, sort_keys=True).encode()).hexdigest()[:10]
        path = Path(cache_dir) / f"skeleton-walkers-{key}.npz" if cache_dir else None
        self.sequences, self.keypoints = {}, {}
        if path is not None and path.is_file():
            with np.load(path, allow_pickle=False) as z:
                for i, name in enumerate(json.loads(str(z["index"]))):
                    k = tuple(name)
                    self.sequences[k] = (z[f"maps{i}"], z[f"sils{i}"])
                    self.keypoints[k] = z[f"kp{i}"]
        else:
            tasks = [(int(seed), tuple(opts["image_size"]), s, c, v, n_frames) for s in opts["subjects"]
                     for c in conds for v in views]
            rendered = run_tasks(_render_sequence, tasks, workers=int(workers))
            levels = render_levels([kp for _, kp, _ in rendered], log=log)
            for (k, kp, sils), lv in zip(rendered, levels):
                self.sequences[k] = (np.ascontiguousarray(lv[:, :, 10:54]), cut_width(sils))
                self.keypoints[k] = kp
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                keys = sorted(self.sequences)
                arrays = {"index": json.dumps([list(k) for k in keys])}
                for i, k in enumerate(keys):
                    arrays[f"maps{i}"], arrays[f"sils{i}"] = self.sequences[k]
                    arrays[f"kp{i}"] = self.keypoints[k]
                with atomic_write(path, "wb") as fh:
                    np.savez_compressed(fh, **arrays)
        if not self.sequences:
            raise DataError("SkeletonWalkers: no sequence rendered (empty subjects/conditions/views)")
        self.subjects = sorted({k[0] for k in self.sequences})

    @classmethod
    def from_config(cls, synthetic, cache_dir=None, log=None):
        """From a ``data.synthetic`` mapping (keys: :data:`SYNTH_DEFAULTS`)."""
        opts = dict(SYNTH_DEFAULTS)
        for key in synthetic or {}:
            if key not in SYNTH_DEFAULTS:
                raise ConfigError(f"unknown config key 'data.synthetic.{key}'; known: {sorted(SYNTH_DEFAULTS)}")
        opts.update(synthetic or {})
        root = opts.pop("root")
        return cls(cache_dir=root or cache_dir, log=log, **opts)

    def keys(self):
        return sorted(self.sequences)

    def load(self, key):
        return self.sequences[key]


class PickleSkeletons:
    """OpenGait-layout heatmap (+ silhouette) pickles under ``root`` (see the module docstring),
    read on demand."""

    def __init__(self, root, subjects=None, need_silhouettes=False):
        root = Path(root).expanduser()
        if not root.is_dir():
            raise DataError(f"{root}: dataset root does not exist or is not a folder")
        self.root = root
        self.need_silhouettes = bool(need_silhouettes)
        wanted = None if subjects is None else {str(s) for s in subjects}
        self.folders = {}
        for s in sorted(p for p in root.iterdir() if p.is_dir()):
            if wanted is not None and s.name not in wanted:
                continue
            for c in sorted(p for p in s.iterdir() if p.is_dir()):
                for v in sorted(p for p in c.iterdir() if p.is_dir()):
                    if any(v.glob("*.pkl")):
                        self.folders[(s.name, c.name, v.name)] = v
        if not self.folders:
            raise DataError(f"{root}: no sequences (expected <subject>/<type>/<view>/*.pkl heatmap pickles)")
        self.subjects = sorted({k[0] for k in self.folders})

    def keys(self):
        return sorted(self.folders)

    def load(self, key):
        """``(maps uint8 [T, 64, 44, 2], silhouettes uint8 [T, 64, 44] or None)``."""
        from gait_tf.data.io import _ArrayUnpickler
        from gait_tf.data.pretreat import cut_width

        folder = self.folders[key]
        maps = sils = None
        for path in sorted(folder.glob("*.pkl")):
            try:
                with open(path, "rb") as fh:
                    arr = np.asarray(_ArrayUnpickler(fh).load())
            except Exception as exc:  # noqa: BLE001 - any unreadable pickle is a data error naming the file
                raise DataError(f"{path}: cannot read pickle ({type(exc).__name__}: {exc})") from None
            if arr.ndim == 4 and arr.shape[1] == 2:
                maps = np.transpose(arr, (0, 2, 3, 1))
                if maps.shape[2] == 64:
                    maps = maps[:, :, 10:54]
            elif arr.ndim == 3:
                sils = cut_width(arr) if arr.shape[2] == 64 else arr
        if maps is None:
            raise DataError(f"{folder}: no heatmap pickle (uint8 [T, 2, 64, 64])")
        if maps.dtype != np.uint8 or maps.shape[1:] != (64, 44, 2):
            raise DataError(f"{folder}: heatmaps must be uint8 [T, 2, 64, 64] or [T, 2, 64, 44], got "
                            f"{maps.dtype} {np.transpose(maps, (0, 3, 1, 2)).shape}")
        if self.need_silhouettes:
            if sils is None:
                raise DataError(f"{folder}: no silhouette pickle (uint8 [T, 64, 64]) next to the heatmaps")
            t = min(len(maps), len(sils))
            return maps[:t], sils[:t]
        return maps, sils


def model_input(maps, sils, channels):
    """``float32 [..., 64, 44, channels]`` in [0, 1] from uint8 maps (and silhouettes)."""
    x = maps.astype(np.float32) / 255.0
    if channels == 3:
        x = np.concatenate([x, sils[..., None].astype(np.float32) / 255.0], axis=-1)
    return x


class SkeletonSource:
    """Trainer batch source over :class:`SkeletonWalkers` or :class:`PickleSkeletons`."""

    def __init__(self, store, p, k, frames, seed=0, channels=2, subjects=None):
        if channels not in (2, 3):
            raise ConfigError(f"SkeletonSource: channels must be 2 or 3, got {channels}")
        self.store = store
        self.channels = int(channels)
        self.p, self.k, self.frames, self.seed = int(p), int(k), int(frames), int(seed)
        self.train_subjects = sorted(subjects if subjects is not None else store.subjects)
        if self.p > len(self.train_subjects):
            raise ConfigError(f"data.p={p}: larger than the number of training subjects ({len(self.train_subjects)})")
        self.label_of = {s: i for i, s in enumerate(self.train_subjects)}
        self.num_classes = len(self.train_subjects)
        self.by_subject = {s: [key for key in store.keys() if key[0] == s] for s in self.train_subjects}
        missing = [s for s, keys in self.by_subject.items() if not keys]
        if missing:
            raise DataError(f"training subject(s) without sequences: {', '.join(missing[:8])}")
        opts = getattr(store, "options", {"root": str(getattr(store, "root", ""))})
        self.fingerprint = hashlib.sha1(json.dumps([opts, self.train_subjects], sort_keys=True,
                                                   default=str).encode()).hexdigest()[:12]

    @classmethod
    def from_config(cls, data_cfg, seed, workdir, spec, log=None):
        channels = INPUT_KINDS[spec.input_kind]
        if data_cfg["synthetic"] is not None:
            store = SkeletonWalkers.from_config(data_cfg["synthetic"], cache_dir=Path(workdir) / "synthetic", log=log)
            subjects = None
        else:
            subjects = None
            if data_cfg["partition"] is not None:
                from gait_tf.data import get_partition

                subjects = get_partition(data_cfg["partition"])["train"]
            store = PickleSkeletons(data_cfg["root"], subjects, need_silhouettes=channels == 3)
            subjects = store.subjects
        return cls(store, data_cfg["p"], data_cfg["k"], data_cfg["frames"], seed, channels, subjects)

    def example(self):
        return np.zeros((1, self.frames, 64, 44, self.channels), np.float32)

    def state(self, batch):
        return {"source": "skeleton", "seed": self.seed, "batch": int(batch), "p": self.p, "k": self.k,
                "data": self.fingerprint}

    def _check(self, state):
        if state is None:
            return 0
        mine = self.state(0)
        for key in ("source", "seed", "p", "k", "data"):
            if state.get(key) != mine[key]:
                raise ConfigError(f"checkpoint data state {key}={state.get(key)!r} does not match "
                                  f"this run ({mine[key]!r})")
        return int(state["batch"])

    def _clip(self, n, rng):
        """``frames`` consecutive frame indices from a random start (tiled when shorter)."""
        idx = np.arange(n)
        if n < self.frames:
            idx = np.concatenate([idx] * math.ceil(self.frames / n))
        start = int(rng.integers(0, len(idx) - self.frames + 1))
        return idx[start:start + self.frames]

    def batch(self, i):
        """Global batch ``i`` (numpy), a pure function of ``(seed, i)``."""
        rng = np.random.default_rng([self.seed, int(i)])
        xs, ys = [], []
        for s in rng.choice(self.train_subjects, size=self.p, replace=False):
            keys = self.by_subject[s]
            for j in rng.choice(len(keys), size=self.k, replace=len(keys) < self.k):
                maps, sils = self.store.load(keys[j])
                idx = self._clip(len(maps), rng)
                xs.append(model_input(maps[idx], None if sils is None else sils[idx], self.channels))
                ys.append(self.label_of[s])
        return np.stack(xs), np.asarray(ys, np.int32)

    def dataset(self, state=None):
        import tensorflow as tf

        start = self._check(state)

        def gen():
            i = start
            while True:
                yield self.batch(i)
                i += 1

        spec = (tf.TensorSpec([None, self.frames, 64, 44, self.channels], tf.float32), tf.TensorSpec([None], tf.int32))
        return tf.data.Dataset.from_generator(gen, output_signature=spec).prefetch(2)


def skeleton_embeddings(model, store, keys=None, channels=2, batch=8):
    """Embeddings of whole sequences for the evaluation protocols: ``{"embeddings": float32
    [N, 1, D], "subjects", "conditions", "views": str [N]}`` (the layout of
    :func:`gait_tf.evaluation.embed.embed_dataset`; sequences of a batch are cut to the
    shortest one)."""
    keys = store.keys() if keys is None else list(keys)
    if not keys:
        raise DataError("skeleton_embeddings: no sequence to embed")
    out = []
    for i in range(0, len(keys), batch):
        chunk = keys[i:i + batch]
        loaded = [store.load(k) for k in chunk]
        t = min(len(m) for m, _ in loaded)
        x = np.stack([model_input(m[:t], None if s is None else s[:t], channels) for m, s in loaded])
        emb = np.asarray(model(x, training=False)["embeddings"])
        out.append(emb.reshape(len(chunk), -1))
    emb = np.concatenate(out)
    return {"embeddings": emb[:, None, :].astype(np.float32), "subjects": np.array([k[0] for k in keys]),
            "conditions": np.array([k[1] for k in keys]), "views": np.array([k[2] for k in keys])}
