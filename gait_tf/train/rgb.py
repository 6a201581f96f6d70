"""RGB-sequence training data (``input_kind="rgb_sequence"``: GaitNet, seg3d) and its evaluation.

- :class:`RGBWalkers`: synthetic walkers from :mod:`gait_tf.synth` as person-centred crops
  of RGB and mask, kept in memory (cached as ``.npz``).
- :class:`PickleRGBCrops`: CASIA-B* on disk (RGB box crops, silhouettes, box aspect ratios;
  GaitEdge's data), read on demand, with the :class:`RGBWalkers` interface.
- :class:`RGBSource`: the trainer's batch source over them (:mod:`gait_tf.train.sources`
  protocol): batch ``i`` is a pure function of ``(seed, i)``, so checkpoints store the next
  batch index and a resumed run sees the same batches. Two batch kinds:

  - ``"pk"``: P x K clips, ``({"frames": float32 [P*K, T, h, w, 3], "mask": [P*K, T, h, w, 1]}
    or frames alone, labels int32 [P*K])``; frames are masked unless the model takes the
    mask as a second input;
  - ``"pairs"`` (GaitNet): ``({"xa", "xb": [B, T, h, w, 3] masked clips of one subject and
    view under two conditions, "t1": int32 [B]}, labels int32 [B])`` with ``B = P*K``.

- :func:`walker_embeddings`: embeddings of whole sequences, in the layout of
  :func:`gait_tf.evaluation.embed.embed_dataset`, for the CASIA-B protocols;
  :func:`rank1`: the quick same-view rank-1 test.

``python -m gait_tf.train.rgb --config CONFIG [--eval-subjects 17-24]`` (:func:`main`) trains
an RGB model with the standard trainer (as ``gait-tf train``) and then runs that test.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np

from gait_tf.errors import ConfigError, DataError
from gait_tf.utils import atomic_write, write_json

#: ``data.synthetic`` keys understood by :class:`RGBWalkers`
SYNTH_DEFAULTS = {"subjects": "1-8", "conditions": "nm-01,nm-02,bg-01,cl-01", "views": "090", "seed": 0,
                  "image_size": [120, 160], "n_frames": 30, "background": "moving", "root": None,
                  "realism": None}


def crop_person(rgb, mask, out_hw):
    """Person-centred crops: the mask's rows are scaled to the output height and the crop is
    centred on the mask's mean column (like silhouette pretreatment).

    Args:
        rgb: ``uint8 [T, H, W, 3]``; mask: ``bool/uint8 [T, H, W]``; out_hw: ``(h, w)``.
    Returns:
        ``(rgb uint8 [T, h, w, 3], mask uint8 [T, h, w] 0/1)``; frames without a person are
        all zero.
    """
    import cv2

    h, w = (int(v) for v in out_hw)
    t = len(rgb)
    out_rgb = np.zeros((t, h, w, 3), np.uint8)
    out_mask = np.zeros((t, h, w), np.uint8)
    for i in range(t):
        m = np.asarray(mask[i]) > 0
        rows = np.flatnonzero(m.any(axis=1))
        if rows.size == 0:
            continue
        y0, y1 = rows[0], rows[-1] + 1
        s = h / float(y1 - y0)
        xc = float(np.nonzero(m)[1].mean())
        mat = np.array([[s, 0.0, w / 2.0 - s * xc], [0.0, s, -s * y0]], np.float32)
        out_rgb[i] = cv2.warpAffine(rgb[i], mat, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        warped = cv2.warpAffine(m.astype(np.uint8) * 255, mat, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        out_mask[i] = warped >= 128
    return out_rgb, out_mask


def crop_box(rgb, mask, out_hw):
    """Person boxes resized to ``out_hw`` (not aspect-preserving), as CASIA-B*'s crops that
    GaitEdge reads, with each box's width / height ratio.

    Args:
        rgb: ``uint8 [T, H, W, 3]``; mask: ``bool/uint8 [T, H, W]``; out_hw: ``(h, w)``.
    Returns:
        ``(rgb uint8 [T, h, w, 3], mask uint8 [T, h, w] 0/1, ratios float32 [T])``; frames
        without a person are all zero with ratio 0.5.
    """
    import cv2

    h, w = (int(v) for v in out_hw)
    t = len(rgb)
    out_rgb = np.zeros((t, h, w, 3), np.uint8)
    out_mask = np.zeros((t, h, w), np.uint8)
    ratios = np.full(t, 0.5, np.float32)
    for i in range(t):
        m = np.asarray(mask[i]) > 0
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if rows.size == 0:
            continue
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        out_rgb[i] = cv2.resize(rgb[i][y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_LINEAR)
        box = cv2.resize(m[y0:y1, x0:x1].astype(np.uint8) * 255, (w, h), interpolation=cv2.INTER_LINEAR)
        out_mask[i] = box >= 128
        ratios[i] = (x1 - x0) / float(y1 - y0)
    return out_rgb, out_mask, ratios


class RGBWalkers:
    """Synthetic RGB walkers (``gait_tf.synth``) as person crops, kept in memory.

    ``sequences[(subject, condition, view)] = (rgb uint8 [T, h, w, 3], mask uint8 [T, h, w])``.
    Rendering is cached in ``cache_dir`` (an ``.npz`` per option set) when given. ``realism``:
    a :mod:`gait_tf.synth.realism` preset or options (None: ``casia_b``); the crops follow
    the walker's visible mask (other walkers stay in the RGB).
    ``crop="centred"``: the person scaled to the crop height and centred on the mask
    (:func:`crop_person`); ``crop="box"``: the person's box resized to the crop
    (:func:`crop_box`), with ``ratios[key]`` float32 ``[T]`` (box width / height).
    """

    def __init__(self, subjects="1-8", conditions="nm-01,nm-02,bg-01,cl-01", views="090", seed=0,
                 image_size=(120, 160), n_frames=30, background="moving", out_hw=(64, 32), cache_dir=None,
                 realism=None, crop="centred"):
        from gait_tf.synth.dataset import parse_conditions, parse_image_size, parse_subjects, parse_views

        self.out_hw = tuple(int(v) for v in out_hw)
        if crop not in ("centred", "box"):
            raise ConfigError(f"RGBWalkers crop {crop!r}: expected 'centred' or 'box'")
        self.crop = crop
        subj = parse_subjects(subjects)
        conds = parse_conditions(conditions)
        views = parse_views(views)
        opts = {"subjects": [int(s) for s in subj], "conditions": list(conds), "views": [str(v) for v in views],
                "seed": int(seed), "image_size": list(parse_image_size(image_size)), "n_frames": n_frames,
                "background": background, "out_hw": list(self.out_hw)}
        if realism is not None:  # (absent for casia_b data: existing caches keep their keys)
            from gait_tf.synth.realism import get_realism

            opts["realism"] = get_realism(realism).to_dict()
        if crop != "centred":  # the cache key of the centred crops stays what it was
            opts["crop"] = crop
        self.options = opts
        key = hashlib.sha1(json.dumps(opts, sort_keys=True).encode()).hexdigest()[:10]
        path = Path(cache_dir) / f"rgb-walkers-{key}.npz" if cache_dir else None
        self.sequences, self.ratios = {}, {}
        if path is not None and path.is_file():
            with np.load(path, allow_pickle=False) as z:
                names = json.loads(str(z["index"]))
                for i, name in enumerate(names):
                    self.sequences[tuple(name)] = (z[f"rgb{i}"], z[f"mask{i}"])
                    if f"ratios{i}" in z:
                        self.ratios[tuple(name)] = z[f"ratios{i}"]
        else:
            from gait_tf.synth import WalkerGenerator

            gen = WalkerGenerator(seed=int(seed), image_size=opts["image_size"], background=background,
                                  realism=realism)
            for s in opts["subjects"]:
                for c in conds:
                    for v in views:
                        seq = gen.sequence(subject=s, condition=c, view=v, n_frames=n_frames)
                        key = (f"{s:03d}", c, f"{int(v):03d}")
                        if crop == "box":
                            rgb, mask, self.ratios[key] = crop_box(seq.rgb, seq.masks, self.out_hw)
                            self.sequences[key] = (rgb, mask)
                        else:
                            self.sequences[key] = crop_person(seq.rgb, seq.masks, self.out_hw)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                keys = sorted(self.sequences)
                arrays = {"index": json.dumps([list(k) for k in keys])}
                for i, k in enumerate(keys):
                    arrays[f"rgb{i}"], arrays[f"mask{i}"] = self.sequences[k]
                    if k in self.ratios:
                        arrays[f"ratios{i}"] = self.ratios[k]
                with atomic_write(path, "wb") as fh:
                    np.savez_compressed(fh, **arrays)
        if not self.sequences:
            raise DataError("RGBWalkers: no sequence rendered (empty subjects/conditions/views)")
        self.subjects = sorted({k[0] for k in self.sequences})
        self.conditions = sorted({k[1] for k in self.sequences})
        self.views = sorted({k[2] for k in self.sequences})
        self.label_of = {s: i for i, s in enumerate(self.subjects)}

    @property
    def num_classes(self):
        return len(self.subjects)

    @classmethod
    def from_config(cls, synthetic, out_hw, cache_dir=None, crop="centred"):
        """From a ``data.synthetic`` mapping (keys: :data:`SYNTH_DEFAULTS`)."""
        opts = dict(SYNTH_DEFAULTS)
        for key in synthetic or {}:
            if key not in SYNTH_DEFAULTS:
                raise ConfigError(f"unknown config key 'data.synthetic.{key}'; known: {sorted(SYNTH_DEFAULTS)}")
        opts.update(synthetic or {})
        root = opts.pop("root")
        return cls(out_hw=out_hw, cache_dir=root or cache_dir, crop=crop, **opts)

    # ------------------------------------------------------------------ sampling
    @staticmethod
    def _clip(arr, frames, rng):
        """``frames`` consecutive frames from a random start (tiled when the sequence is shorter)."""
        t = len(arr)
        if t < frames:
            arr = np.concatenate([arr] * math.ceil(frames / t))
            t = len(arr)
        start = int(rng.integers(0, t - frames + 1))
        return arr[start:start + frames]

    def frames_of(self, key, masked=True):
        """``float32 [T, h, w, 3]`` in [0, 1] (times the mask when ``masked``) and ``float32 [T, h, w, 1]`` mask."""
        rgb, mask = self.sequences[key]
        m = mask.astype(np.float32)[..., None]
        x = rgb.astype(np.float32) / 255.0
        return (x * m if masked else x), m

    def pk_batch(self, rng, p, k, frames, masked=True, with_ratios=False):
        """``(frames float32 [P*K, frames, h, w, 3], masks [P*K, frames, h, w, 1], labels int32 [P*K])``
        (and ``ratios float32 [P*K, frames]`` with ``with_ratios``, box crops only)."""
        self.check_p(p)
        xs, ms, rs, ys = [], [], [], []
        for s in rng.choice(self.subjects, size=p, replace=False):
            keys = [key for key in self.sequences if key[0] == s]
            for j in rng.choice(len(keys), size=k, replace=len(keys) < k):
                idx = self._clip(np.arange(len(self.sequences[keys[j]][0])), frames, rng)
                x, m = self.frames_of(keys[j], masked)
                xs.append(x[idx])
                ms.append(m[idx])
                if with_ratios:
                    rs.append(self.ratios[keys[j]][idx])
                ys.append(self.label_of[s])
        if with_ratios:
            return np.stack(xs), np.stack(ms), np.asarray(ys, np.int32), np.stack(rs)
        return np.stack(xs), np.stack(ms), np.asarray(ys, np.int32)

    def check_p(self, p):
        """Raise :class:`ConfigError` when ``p`` identities per batch exceed the subjects."""
        if p > len(self.subjects):
            raise ConfigError(f"data.p={p}: larger than the number of training subjects ({len(self.subjects)})")

    def pair_batch(self, rng, batch, frames):
        """GaitNet pairs: ``(x_a, x_b float32 [batch, frames, h, w, 3], labels int32 [batch])`` where
        ``x_a``/``x_b`` are masked clips of one subject and view under two conditions (when it
        has two)."""
        xa, xb, ys = [], [], []
        for _ in range(batch):
            s = self.subjects[int(rng.integers(len(self.subjects)))]
            v = self.views[int(rng.integers(len(self.views)))]
            conds = [c for c in self.conditions if (s, c, v) in self.sequences]
            ca, cb = rng.choice(conds, size=2, replace=len(conds) < 2)
            for out, c in ((xa, ca), (xb, cb)):
                x, _ = self.frames_of((s, c, v))
                out.append(self._clip(x, frames, rng))
            ys.append(self.label_of[s])
        return np.stack(xa), np.stack(xb), np.asarray(ys, np.int32)


class _LazySequences(dict):
    """``{key: (rgb, mask)}`` read from disk on access (a small LRU cache of loaded sequences)."""

    def __init__(self, keys, load, cache=64):
        super().__init__({k: None for k in keys})
        self._load, self._cache, self._order = load, int(cache), []

    def __getitem__(self, key):
        value = dict.__getitem__(self, key)
        if value is None:
            value = self._load(key)
            dict.__setitem__(self, key, value)
            self._order.append(key)
            if len(self._order) > self._cache:
                dict.__setitem__(self, self._order.pop(0), None)
        return value


class PickleRGBCrops(RGBWalkers):
    """CASIA-B* (GaitEdge's data) on disk: ``root/<subject>/<type>/<view>/`` holding
    ``*-rgbs.pkl`` (uint8 ``[T, 3, H, W]``), ``*-sils.pkl`` (uint8 ``[T, H, W]``, 0/1 or 0/255)
    and ``*-ratios.pkl`` (``[T]`` box width / height), read on demand. The crops are resized
    to ``out_hw`` when they differ. Same interface as :class:`RGBWalkers` with ``crop="box"``."""

    def __init__(self, root, subjects=None, out_hw=(128, 128), cache=64):  # noqa: D107 - no RGBWalkers.__init__
        root = Path(root).expanduser()
        if not root.is_dir():
            raise DataError(f"{root}: dataset root does not exist or is not a folder")
        self.root, self.out_hw, self.crop = root, tuple(int(v) for v in out_hw), "box"
        wanted = None if subjects is None else {str(s) for s in subjects}
        folders = {}
        for sub in sorted(q for q in root.iterdir() if q.is_dir()):
            if wanted is not None and sub.name not in wanted:
                continue
            for cond in sorted(q for q in sub.iterdir() if q.is_dir()):
                for view in sorted(q for q in cond.iterdir() if q.is_dir()):
                    if any(view.glob("*rgbs.pkl")):
                        folders[(sub.name, cond.name, view.name)] = view
        if not folders:
            raise DataError(f"{root}: no sequences (expected <subject>/<type>/<view>/*-rgbs.pkl, CASIA-B* layout)")
        self.folders = folders
        self.options = {"root": str(root), "subjects": sorted({k[0] for k in folders}), "out_hw": list(self.out_hw)}
        self.ratios = {}
        self.sequences = _LazySequences(sorted(folders), self._read, cache)
        self.subjects = sorted({k[0] for k in folders})
        self.conditions = sorted({k[1] for k in folders})
        self.views = sorted({k[2] for k in folders})
        self.label_of = {s: i for i, s in enumerate(self.subjects)}

    def _read(self, key):
        import cv2

        from gait_tf.data.io import _ArrayUnpickler

        folder = self.folders[key]

        def one(pattern):
            paths = sorted(q for q in folder.glob(pattern) if "aligned" not in q.name)  # not *-aligned-sils.pkl
            if not paths:
                raise DataError(f"{folder}: no {pattern} file")
            try:
                with open(paths[0], "rb") as fh:
                    return np.asarray(_ArrayUnpickler(fh).load())
            except Exception as exc:  # noqa: BLE001 - an unreadable pickle is a data error naming the file
                raise DataError(f"{paths[0]}: cannot read pickle ({type(exc).__name__}: {exc})") from None

        rgb, sils, ratios = one("*rgbs.pkl"), one("*-sils.pkl"), one("*ratios.pkl").astype(np.float32).reshape(-1)
        if rgb.ndim != 4 or rgb.shape[1] != 3 or sils.ndim != 3 or not (len(rgb) == len(sils) == len(ratios)):
            raise DataError(f"{folder}: expected rgbs [T, 3, H, W], sils [T, H, W], ratios [T] of one length, got "
                            f"{rgb.shape}, {sils.shape}, {ratios.shape}")
        rgb = np.transpose(rgb, (0, 2, 3, 1)).astype(np.uint8)
        mask = (sils > (127 if sils.max() > 1 else 0)).astype(np.uint8)
        h, w = self.out_hw
        if rgb.shape[1:3] != (h, w):
            rgb = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in rgb])
            mask = np.stack([cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST) for m in mask])
        self.ratios[key] = ratios
        return rgb, mask


# --------------------------------------------------------------------------- trainer source


class RGBSource:
    """Trainer batch source over :class:`RGBWalkers` (see the module docstring).

    ``kind``: ``"pk"`` or ``"pairs"``. ``mask_input``: feed ``{"frames", "mask"}`` with
    unmasked frames (models with a mask input, e.g. seg3d) instead of masked frames; set by
    :meth:`bind` from the model. Over box crops (GaitEdge) the batches are always
    ``{"frames" (unmasked), "ratios", "mask"}``: the model's objective needs the mask even when
    the model does not take it.
    """

    def __init__(self, walkers, p, k, frames, seed=0, kind="pk", mask_input=False):
        if kind not in ("pk", "pairs"):
            raise ConfigError(f"RGBSource kind {kind!r}: expected 'pk' or 'pairs'")
        if kind == "pk":
            walkers.check_p(p)
        self.walkers = walkers
        self.p, self.k, self.frames, self.seed = int(p), int(k), int(frames), int(seed)
        self.kind = kind
        self.mask_input = bool(mask_input)
        self.train_subjects = list(walkers.subjects)
        self.num_classes = walkers.num_classes
        self.fingerprint = hashlib.sha1(json.dumps(walkers.options, sort_keys=True).encode()).hexdigest()[:12]

    @classmethod
    def from_config(cls, data_cfg, seed, workdir, input_hw, kind="pk", crop="centred"):
        if data_cfg["synthetic"] is None:  # box crops on disk (CASIA-B*)
            subjects = None
            if data_cfg["partition"] is not None:
                from gait_tf.data import get_partition

                subjects = get_partition(data_cfg["partition"])["train"]
            walkers = PickleRGBCrops(data_cfg["root"], subjects, out_hw=input_hw)
        else:
            walkers = RGBWalkers.from_config(data_cfg["synthetic"], input_hw, cache_dir=Path(workdir) / "synthetic",
                                             crop=crop)
        return cls(walkers, data_cfg["p"], data_cfg["k"], data_cfg["frames"], seed, kind=kind)

    @property
    def boxes(self):
        return self.walkers.crop == "box"

    def bind(self, model):
        """Feed frames + mask when ``model`` takes a dict input with a ``mask``."""
        self.mask_input = self.kind == "pk" and _takes_mask(model)
        self.model_inputs = _input_names(model)

    def example(self, batch=1):
        """A zero model input of the training clip shape (to build the model's variables)."""
        h, w = self.walkers.out_hw
        x = np.zeros((batch, self.frames, h, w, 3), np.float32)
        feed = {"frames": x, "mask": np.zeros((batch, self.frames, h, w, 1), np.float32),
                "ratios": np.full((batch, self.frames), 0.5, np.float32)}
        names = getattr(self, "model_inputs", None)
        if names is not None:
            return {k: v for k, v in feed.items() if k in names}
        return {"frames": x, "mask": feed["mask"]} if self.mask_input else x

    def state(self, batch):
        return {"source": "rgb_walkers", "kind": self.kind, "seed": self.seed, "batch": int(batch),
                "p": self.p, "k": self.k, "data": self.fingerprint}

    def _check(self, state):
        if state is None:
            return 0
        mine = self.state(0)
        for key in ("source", "kind", "seed", "p", "k", "data"):
            if state.get(key) != mine[key]:
                raise ConfigError(f"checkpoint data state {key}={state.get(key)!r} does not match "
                                  f"this run ({mine[key]!r})")
        return int(state["batch"])

    def batch(self, i):
        """Global batch ``i`` (numpy), a pure function of ``(seed, i)``."""
        rng = np.random.default_rng([self.seed, int(i)])
        if self.kind == "pairs":
            xa, xb, y = self.walkers.pair_batch(rng, self.p * self.k, self.frames)
            t1 = rng.integers(0, self.frames, size=len(y)).astype(np.int32)
            return {"xa": xa, "xb": xb, "t1": t1}, y
        if self.boxes:
            x, m, y, r = self.walkers.pk_batch(rng, self.p, self.k, self.frames, masked=False, with_ratios=True)
            return {"frames": x, "ratios": r, "mask": m}, y
        x, m, y = self.walkers.pk_batch(rng, self.p, self.k, self.frames, masked=not self.mask_input)
        return ({"frames": x, "mask": m} if self.mask_input else x), y

    def dataset(self, state=None):
        import tensorflow as tf

        start = self._check(state)
        first = self.batch(start)  # also gives the element spec

        def gen():
            yield first
            i = start + 1
            while True:
                yield self.batch(i)
                i += 1

        x, _ = first
        spec = tf.nest.map_structure(lambda a: tf.TensorSpec((None, *a.shape[1:]), tf.as_dtype(a.dtype)), x)
        return tf.data.Dataset.from_generator(
            gen, output_signature=(spec, tf.TensorSpec([None], tf.int32))).prefetch(2)


# --------------------------------------------------------------------------- evaluation


def embed_sequences(model, walkers, keys, masked=True, batch=8):
    """``float32 [N, P*D]`` embeddings of the whole sequences ``keys`` (batches of equal length)."""
    names = _input_names(model)
    mask_input = names is not None and "mask" in names
    boxes = getattr(walkers, "crop", "centred") == "box"
    out = []
    for i in range(0, len(keys), batch):
        chunk = keys[i:i + batch]
        t = min(len(walkers.sequences[k][0]) for k in chunk)
        xs, ms = zip(*(walkers.frames_of(k, masked=masked and not mask_input and not boxes) for k in chunk))
        x = np.stack([v[:t] for v in xs])
        if names is None:
            feed = x
        else:
            every = {"frames": x, "mask": np.stack([v[:t] for v in ms])}
            if boxes:
                every["ratios"] = np.stack([walkers.ratios[k][:t] for k in chunk])
            feed = {k: v for k, v in every.items() if k in names}
        emb = np.asarray(model(feed, training=False)["embeddings"])
        out.append(emb.reshape(len(chunk), -1))
    return np.concatenate(out)


def _input_names(model):
    """The input names of a functional model with a dict input (None for a single input)."""
    try:
        inp = model.input
    except (AttributeError, ValueError):
        return None
    return set(inp) if isinstance(inp, dict) else None


def _takes_mask(model):
    """Whether ``model`` takes ``{"frames", "mask"}`` (a functional model with a dict input,
    e.g. seg3d with ``mask_input``) rather than masked frames alone."""
    try:
        return isinstance(model.input, dict)  # functional models have symbolic inputs
    except (AttributeError, ValueError):
        return False


def rank1(model, walkers, gallery_conditions, probe_conditions=None):
    """Rank-1 identification accuracy: every probe sequence (``probe_conditions``, default all
    others) against the gallery sequences (``gallery_conditions``) of the same view, Euclidean
    distance on the flattened embeddings. Returns ``(accuracy, n_probes)``."""
    gallery = [k for k in sorted(walkers.sequences) if k[1] in gallery_conditions]
    probes = [k for k in sorted(walkers.sequences)
              if k[1] not in gallery_conditions and (probe_conditions is None or k[1] in probe_conditions)]
    if not gallery or not probes:
        raise DataError(f"rank1: empty gallery ({len(gallery)}) or probe set ({len(probes)})")
    g = embed_sequences(model, walkers, gallery)
    p = embed_sequences(model, walkers, probes)
    d = ((p[:, None, :] - g[None, :, :]) ** 2).sum(-1)
    same_view = np.array([[pk[2] == gk[2] for gk in gallery] for pk in probes])
    d = np.where(same_view, d, np.inf)
    best = d.argmin(axis=1)
    hits = [gallery[j][0] == probes[i][0] for i, j in enumerate(best)]
    return float(np.mean(hits)), len(probes)


def walker_embeddings(model, walkers, keys=None, batch=8):
    """Embeddings of whole sequences for the evaluation protocols: ``{"embeddings": float32
    [N, 1, D], "subjects", "conditions", "views": str [N]}`` (the layout of
    :func:`gait_tf.evaluation.embed.embed_dataset`; ``D`` = the flattened model embedding)."""
    keys = sorted(walkers.sequences) if keys is None else list(keys)
    if not keys:
        raise DataError("walker_embeddings: no sequence to embed")
    emb = embed_sequences(model, walkers, keys, batch=batch)
    return {"embeddings": emb[:, None, :].astype(np.float32),
            "subjects": np.array([k[0] for k in keys]), "conditions": np.array([k[1] for k in keys]),
            "views": np.array([k[2] for k in keys])}


# --------------------------------------------------------------------------- CLI


def main(argv=None):
    """``python -m gait_tf.train.rgb --config CONFIG [--set k=v ...] [--workdir DIR] [--eval-subjects S]``."""
    from gait_tf import models
    from gait_tf.errors import GaitTFError
    from gait_tf.train.config import load_config
    from gait_tf.train.trainer import Trainer

    ap = argparse.ArgumentParser(prog="python -m gait_tf.train.rgb",
                                 description="Train an RGB-sequence model, then a quick rank-1 test.")
    ap.add_argument("--config", required=True)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--no-resume", dest="resume", action="store_false", default=True)
    ap.add_argument("--eval-subjects", default=None,
                    help="held-out subjects (e.g. '9-12') for a rank-1 test after training "
                    "(same conditions/views/render settings as data.synthetic; gallery = first nm condition)")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config, args.overrides)
        workdir = Path(args.workdir) if args.workdir else Path("runs") / cfg["name"]
        trainer = Trainer(cfg, workdir, resume=args.resume, max_steps=args.max_steps)
        summary = trainer.fit()
        if args.eval_subjects:
            opts = dict(SYNTH_DEFAULTS, **(cfg["data"]["synthetic"] or {}))
            opts["subjects"] = args.eval_subjects
            root = opts.pop("root")
            spec = models.get_spec(cfg["model"]["name"])
            test = RGBWalkers(out_hw=spec.input_hw, cache_dir=root or workdir / "synthetic",
                              crop="box" if spec.input_kind == "rgb_crops" else "centred", **opts)
            gallery = min(test.conditions, key=lambda c: (not c.startswith("nm"), c))
            acc, n = rank1(trainer.model, test, gallery_conditions=[gallery])
            summary["rank1"] = {"subjects": args.eval_subjects, "gallery": gallery, "probes": n,
                                "accuracy": acc}
            write_json(workdir / "summary.json", summary)
        print(json.dumps({k: summary[k] for k in ("name", "step", "finished", "steps_per_s", "export")}
                         | {"loss": summary["last_metrics"].get("loss"), "rank1": summary.get("rank1")}))
    except GaitTFError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
