"""Training for the RGB-sequence models (``input_kind="rgb_sequence"``): GaitNet and seg3d.

The silhouette trainer (:mod:`gait_tf.train.trainer`) feeds ``[B, T, 64, 44, 1]``
silhouettes; the models here take RGB frames, so this module brings its own batch source
(:class:`RGBWalkers`: synthetic walkers from :mod:`gait_tf.synth`, person-centred crops
of RGB and mask) and loop (:func:`train_rgb`). It reuses the trainer's config schema
(``load_config``), optimizer/schedule builders and loss builder, so YAML recipes look the
same; an extra top-level ``gaitnet:`` section holds GaitNet's loss weights.

GaitNet losses (:func:`gaitnet_losses`; Zhang et al., CVPR 2019), per batch of pairs
``x_a``, ``x_b`` (same subject and view, two conditions), frames ``[B, T, H, W, 3]``:

- cross reconstruction: ``D(f_a(x_a[t1]), f_g(x_a[t])) ~ x_a[t]`` for every t, one random
  ``t1`` per sample (mean squared error);
- gait similarity: ``|| mean_t f_g(x_a) - mean_t f_g(x_b) ||^2`` (mean over units);
- incremental identity: cross-entropy of the classifier on the running average of the LSTM
  outputs after t frames, weighted by ``t^2`` (weights normalised to sum to 1).

Other RGB models (seg3d) train with the ``losses:`` list (triplet / ce) on P x K batches;
a model with a ``mask`` input receives the unmasked crops plus masks, a single-input model
receives masked crops.

CLI (until ``gait-tf train`` dispatches RGB models here)::

    python -m gait_tf.train.gaitnet --config training/configs/gaitnet_synthetic.yaml [--workdir DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from gait_tf.errors import ConfigError, DataError, ModelError
from gait_tf.utils import atomic_write, write_json

#: ``gaitnet:`` config section (loss weights; the reference code weights similarity x10)
GAITNET_DEFAULTS = {"reconstruction": 1.0, "similarity": 10.0, "identity": 1.0}
#: ``data.synthetic`` keys understood by :class:`RGBWalkers`
SYNTH_DEFAULTS = {"subjects": "1-8", "conditions": "nm-01,nm-02,bg-01,cl-01", "views": "090", "seed": 0,
                  "image_size": [120, 160], "n_frames": 30, "background": "moving", "root": None}


# --------------------------------------------------------------------------- data


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


class RGBWalkers:
    """Synthetic RGB walkers (``gait_tf.synth``) as person-centred crops, kept in memory.

    ``sequences[(subject, condition, view)] = (rgb uint8 [T, h, w, 3], mask uint8 [T, h, w])``.
    Rendering is cached in ``cache_dir`` (an ``.npz`` per option set) when given.
    """

    def __init__(self, subjects="1-8", conditions="nm-01,nm-02,bg-01,cl-01", views="090", seed=0,
                 image_size=(120, 160), n_frames=30, background="moving", out_hw=(64, 32), cache_dir=None):
        from gait_tf.synth.dataset import parse_conditions, parse_image_size, parse_subjects, parse_views

        self.out_hw = tuple(int(v) for v in out_hw)
        subj = parse_subjects(subjects)
        conds = parse_conditions(conditions)
        views = parse_views(views)
        opts = {"subjects": [int(s) for s in subj], "conditions": list(conds), "views": [str(v) for v in views],
                "seed": int(seed), "image_size": list(parse_image_size(image_size)), "n_frames": n_frames,
                "background": background, "out_hw": list(self.out_hw)}
        self.options = opts
        key = hashlib.sha1(json.dumps(opts, sort_keys=True).encode()).hexdigest()[:10]
        path = Path(cache_dir) / f"rgb-walkers-{key}.npz" if cache_dir else None
        self.sequences = {}
        if path is not None and path.is_file():
            with np.load(path, allow_pickle=False) as z:
                names = json.loads(str(z["index"]))
                for i, name in enumerate(names):
                    self.sequences[tuple(name)] = (z[f"rgb{i}"], z[f"mask{i}"])
        else:
            from gait_tf.synth import WalkerGenerator

            gen = WalkerGenerator(seed=int(seed), image_size=opts["image_size"], background=background)
            for s in opts["subjects"]:
                for c in conds:
                    for v in views:
                        seq = gen.sequence(subject=s, condition=c, view=v, n_frames=n_frames)
                        self.sequences[(f"{s:03d}", c, f"{int(v):03d}")] = crop_person(seq.rgb, seq.masks,
                                                                                       self.out_hw)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                keys = sorted(self.sequences)
                arrays = {"index": json.dumps([list(k) for k in keys])}
                for i, k in enumerate(keys):
                    arrays[f"rgb{i}"], arrays[f"mask{i}"] = self.sequences[k]
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
    def from_config(cls, synthetic, out_hw, cache_dir=None):
        """From a ``data.synthetic`` mapping (keys: :data:`SYNTH_DEFAULTS`)."""
        opts = dict(SYNTH_DEFAULTS)
        for key in synthetic or {}:
            if key not in SYNTH_DEFAULTS:
                raise ConfigError(f"unknown config key 'data.synthetic.{key}'; known: {sorted(SYNTH_DEFAULTS)}")
        opts.update(synthetic or {})
        root = opts.pop("root")
        return cls(out_hw=out_hw, cache_dir=root or cache_dir, **opts)

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

    def pk_batch(self, rng, p, k, frames, masked=True):
        """``(frames float32 [P*K, frames, h, w, 3], masks [P*K, frames, h, w, 1], labels int32 [P*K])``."""
        if p > len(self.subjects):
            raise ConfigError(f"data.p={p}: larger than the number of training subjects ({len(self.subjects)})")
        xs, ms, ys = [], [], []
        for s in rng.choice(self.subjects, size=p, replace=False):
            keys = [key for key in self.sequences if key[0] == s]
            for j in rng.choice(len(keys), size=k, replace=len(keys) < k):
                idx = self._clip(np.arange(len(self.sequences[keys[j]][0])), frames, rng)
                x, m = self.frames_of(keys[j], masked)
                xs.append(x[idx])
                ms.append(m[idx])
                ys.append(self.label_of[s])
        return np.stack(xs), np.stack(ms), np.asarray(ys, np.int32)

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


# --------------------------------------------------------------------------- losses


def gaitnet_losses(model, xa, xb, labels, t1, training=True):
    """GaitNet's three losses (see the module docstring).

    Args:
        xa, xb: ``[B, T, H, W, 3]`` float32; labels: ``int32 [B]``; t1: ``int32 [B]`` index of
        the frame whose appearance code reconstructs every frame of ``xa``.
    Returns:
        dict of float32 scalars ``reconstruction``, ``similarity``, ``identity``, ``accuracy``
        (classifier accuracy on the full-sequence average).
    """
    import tensorflow as tf

    fa_a, fg_a = model.encode_frames(xa, training=training)
    _, fg_b = model.encode_frames(xb, training=training)
    t = tf.shape(xa)[1]
    fa_ref = tf.gather(fa_a, t1, batch_dims=1)  # [B, fa]
    fa_rep = tf.broadcast_to(fa_ref[:, None, :], tf.shape(fa_a))
    recon = model.decode(fa_rep, fg_a, training=training)
    rec = tf.reduce_mean(tf.square(tf.cast(recon, tf.float32) - xa))
    sim = tf.reduce_mean(tf.square(tf.reduce_mean(fg_a, axis=1) - tf.reduce_mean(fg_b, axis=1)))
    h = tf.cast(model.lstm_outputs(fg_a, training=training), tf.float32)  # [B, T, U]
    steps = tf.cast(tf.range(1, t + 1), tf.float32)
    running = tf.cumsum(h, axis=1) / steps[None, :, None]
    logits = tf.cast(model.classify(running), tf.float32)  # [B, T, C]
    ce = tf.keras.losses.sparse_categorical_crossentropy(
        tf.broadcast_to(labels[:, None], tf.shape(logits)[:2]), logits, from_logits=True)  # [B, T]
    weights = tf.square(steps) / tf.reduce_sum(tf.square(steps))
    ident = tf.reduce_sum(tf.reduce_mean(ce, axis=0) * weights)
    acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits[:, -1], -1, output_type=tf.int32), labels), tf.float32))
    return {"reconstruction": rec, "similarity": sim, "identity": ident, "accuracy": acc}


# --------------------------------------------------------------------------- config


def load_rgb_config(path=None, overrides=(), raw=None):
    """A trainer config (:func:`gait_tf.train.config.load_config`) plus the ``gaitnet:``
    section (loss weights, :data:`GAITNET_DEFAULTS`). ``data.synthetic`` keys are those of
    :data:`SYNTH_DEFAULTS`."""
    from gait_tf.train.config import apply_overrides, load_config, read_yaml

    if raw is None:
        raw = read_yaml(path)
    raw = apply_overrides(raw, overrides)  # returns a deep copy
    section = raw.pop("gaitnet", None) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"gaitnet: expected a mapping, got {section!r}")
    weights = dict(GAITNET_DEFAULTS)
    for key, value in section.items():
        if key not in GAITNET_DEFAULTS:
            raise ConfigError(f"unknown config key 'gaitnet.{key}'; known: {sorted(GAITNET_DEFAULTS)}")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"gaitnet.{key}: expected a number >= 0, got {value!r}")
        weights[key] = float(value)
    cfg = load_config(raw=raw)
    if path is not None and cfg["name"] == cfg["model"]["name"] and "name" not in raw:
        cfg["name"] = Path(path).stem
    cfg["gaitnet"] = weights
    return cfg


# --------------------------------------------------------------------------- evaluation


def embed_sequences(model, walkers, keys, masked=True, batch=8):
    """``float32 [N, P*D]`` embeddings of the whole sequences ``keys`` (batches of equal length)."""
    mask_input = _is_functional(model) and isinstance(model.input, dict)
    out = []
    for i in range(0, len(keys), batch):
        chunk = keys[i:i + batch]
        t = min(len(walkers.sequences[k][0]) for k in chunk)
        xs, ms = zip(*(walkers.frames_of(k, masked=masked and not mask_input) for k in chunk))
        x = np.stack([v[:t] for v in xs])
        feed = {"frames": x, "mask": np.stack([v[:t] for v in ms])} if mask_input else x
        emb = np.asarray(model(feed, training=False)["embeddings"])
        out.append(emb.reshape(len(chunk), -1))
    return np.concatenate(out)


def _is_functional(model):
    try:
        model.input  # noqa: B018 - functional models have symbolic inputs
        return True
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


# --------------------------------------------------------------------------- loop


def train_rgb(cfg, workdir, walkers=None, max_steps=None, log=print, run_eagerly=False):
    """Train the RGB model of ``cfg`` (from :func:`load_rgb_config`) in ``workdir``.

    Writes ``config.yaml``, ``model.keras`` (when ``train.export``) and ``summary.json``
    atomically, and appends one JSON line per logged step to ``metrics.jsonl``. ``walkers``: an
    :class:`RGBWalkers` (default: from ``data.synthetic``). ``run_eagerly``: skip the
    ``tf.function`` compilation of the step (tiny smoke runs, debugging). Returns the
    summary dict (plus the trained Keras model under ``"model_object"``).
    """
    import keras
    import tensorflow as tf

    from gait_tf import models
    from gait_tf.losses import build_loss
    from gait_tf.train.checkpoints import export_keras
    from gait_tf.train.config import dump_config
    from gait_tf.train.schedules import build_optimizer, build_schedule
    from gait_tf.train.trainer import build_model

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    spec = models.get_spec(cfg["model"]["name"])
    if spec.input_kind != "rgb_sequence":
        raise ModelError(f"model {spec.name!r} takes {spec.input_kind!r} input; train it with `gait-tf train`")
    is_gaitnet = spec.name == "gaitnet"
    seed = int(cfg["seed"])
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    data = cfg["data"]
    if walkers is None:
        if data["synthetic"] is None:
            raise ConfigError("data.synthetic: RGB models train on the synthetic RGB walkers only")
        walkers = RGBWalkers.from_config(data["synthetic"], spec.input_hw, cache_dir=workdir / "synthetic")
    model = build_model(cfg["model"], walkers.num_classes)
    h, w = spec.input_hw
    mask_input = _is_functional(model) and isinstance(model.input, dict)
    schedule = build_schedule(cfg["schedule"], cfg["optimizer"]["lr"], cfg["train"]["iterations"])
    optimizer, l2 = build_optimizer(cfg["optimizer"], schedule)
    optimizer.build(model.trainable_variables)
    weights = cfg.get("gaitnet", GAITNET_DEFAULTS)
    loss_fn = None if is_gaitnet else build_loss(cfg["losses"])
    variables = model.trainable_variables

    compile_step = (lambda f: f) if run_eagerly else tf.function

    def l2_penalty():
        """Coupled weight decay (PyTorch semantics), as the silhouette trainer adds it."""
        if not l2:
            return 0.0
        return 0.5 * l2 * tf.add_n([tf.reduce_sum(tf.square(v)) for v in variables])

    if is_gaitnet:
        @compile_step
        def step(xa, xb, labels, t1):
            with tf.GradientTape() as tape:
                terms = gaitnet_losses(model, xa, xb, labels, t1, training=True)
                loss = (weights["reconstruction"] * terms["reconstruction"]
                        + weights["similarity"] * terms["similarity"] + weights["identity"] * terms["identity"])
                objective = loss + l2_penalty()
            optimizer.apply(tape.gradient(objective, variables), variables)
            return {"loss": loss, **terms}
    else:
        @compile_step
        def step(x, m, labels):
            with tf.GradientTape() as tape:
                outputs = model({"frames": x, "mask": m} if mask_input else x, training=True)
                loss, metrics = loss_fn(outputs, labels)
                objective = loss + l2_penalty()
            optimizer.apply(tape.gradient(objective, variables), variables)
            return metrics

    with atomic_write(workdir / "config.yaml", "w") as fh:
        fh.write(dump_config(cfg))
    metrics_path = workdir / "metrics.jsonl"
    total = int(cfg["train"]["iterations"])
    log_every = int(cfg["train"]["log_every"])
    frames = int(data["frames"])
    t0 = time.time()
    last = {}
    n = 0
    for it in range(1, total + 1):
        if is_gaitnet:
            xa, xb, y = walkers.pair_batch(rng, data["p"] * data["k"], frames)
            t1 = rng.integers(0, frames, size=len(y)).astype(np.int32)
            metrics = step(xa, xb, y, t1)
        else:
            x, m, y = walkers.pk_batch(rng, data["p"], data["k"], frames, masked=not mask_input)
            metrics = step(x, m, y)
        n += 1
        if it % log_every == 0 or it == total or it == 1:
            last = {k: float(v) for k, v in metrics.items()}
            if not all(math.isfinite(v) for v in last.values()):
                raise ConfigError(f"training diverged at step {it} (loss {last.get('loss')}); lower optimizer.lr")
            last["lr"] = float(schedule(optimizer.iterations))
            with open(metrics_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"step": it, **last}) + "\n")
            log(f"[{cfg['name']}] step {it}/{total} " + " ".join(f"{k}={v:.4g}" for k, v in last.items()))
        if max_steps is not None and n >= max_steps:
            break
    elapsed = time.time() - t0
    export = None
    if cfg["train"]["export"]:
        export = export_keras(model, workdir / "model.keras")
    summary = {"name": cfg["name"], "model": spec.name, "step": n, "iterations": total, "finished": n >= total,
               "seconds": elapsed, "steps_per_s": n / elapsed if elapsed > 0 else None, "last_metrics": last,
               "num_classes": walkers.num_classes, "export": str(export) if export else None}
    write_json(workdir / "summary.json", summary)
    summary["model_object"] = model
    return summary


def main(argv=None):
    """``python -m gait_tf.train.gaitnet --config CONFIG [--set k=v ...] [--workdir DIR] [--eval-walkers SPEC]``."""
    from gait_tf.errors import GaitTFError

    ap = argparse.ArgumentParser(prog="python -m gait_tf.train.gaitnet", description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--eval-subjects", default=None,
                    help="held-out subjects (e.g. '9-12') for a rank-1 test after training "
                    "(same conditions/views/render settings as data.synthetic; gallery = first nm condition)")
    args = ap.parse_args(argv)
    try:
        cfg = load_rgb_config(args.config, args.overrides)
        workdir = Path(args.workdir) if args.workdir else Path("runs") / cfg["name"]
        summary = train_rgb(cfg, workdir, max_steps=args.max_steps)
        model = summary.pop("model_object")
        if args.eval_subjects:
            from gait_tf import models

            opts = dict(SYNTH_DEFAULTS, **(cfg["data"]["synthetic"] or {}))
            opts["subjects"] = args.eval_subjects
            root = opts.pop("root")
            test = RGBWalkers(out_hw=models.get_spec(cfg["model"]["name"]).input_hw,
                              cache_dir=root or workdir / "synthetic", **opts)
            gallery = min(test.conditions, key=lambda c: (not c.startswith("nm"), c))
            acc, n = rank1(model, test, gallery_conditions=[gallery])
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
