"""GaitNet training (Zhang et al., CVPR 2019): its losses and config section.

GaitNet trains with the standard trainer (:class:`gait_tf.train.trainer.Trainer`, with
checkpoints, resume and ``tf.distribute``) on pairs of RGB clips from
:class:`gait_tf.train.rgb.RGBSource` (``kind="pairs"``); the trainer calls
:class:`GaitNetLoss` instead of the ``losses:`` list. An extra top-level ``gaitnet:``
config section holds the loss weights (:func:`load_rgb_config`).

GaitNet losses (:func:`gaitnet_losses`), per batch of pairs ``x_a``, ``x_b`` (same subject
and view, two conditions), frames ``[B, T, H, W, 3]``:

- cross reconstruction: ``D(f_a(x_a[t1]), f_g(x_a[t])) ~ x_a[t]`` for every t, one random
  ``t1`` per sample (mean squared error);
- gait similarity: ``|| mean_t f_g(x_a) - mean_t f_g(x_b) ||^2`` (mean over units);
- incremental identity: cross-entropy of the classifier on the running average of the LSTM
  outputs after t frames, weighted by ``t^2`` (weights normalised to sum to 1).

Other RGB models (seg3d) train with the ``losses:`` list (triplet / ce) on P x K batches.

CLI: ``gait-tf train --config training/configs/gaitnet_synthetic.yaml``, or, with a quick
same-view rank-1 test on held-out subjects after training::

    python -m gait_tf.train.gaitnet --config training/configs/gaitnet_synthetic.yaml --eval-subjects 17-24
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gait_tf.errors import ConfigError
from gait_tf.utils import write_json

#: ``gaitnet:`` config section (loss weights; the reference code weights similarity x10)
GAITNET_DEFAULTS = {"reconstruction": 1.0, "similarity": 10.0, "identity": 1.0}


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


class GaitNetLoss:
    """The trainer's loss for GaitNet: ``(model, x, labels) -> (loss, metrics)`` on a
    ``"pairs"`` batch ``x = {"xa", "xb", "t1"}``; ``loss`` is the weighted sum of the three
    terms (``weights``: :data:`GAITNET_DEFAULTS` keys)."""

    def __init__(self, weights=None):
        self.weights = dict(GAITNET_DEFAULTS, **(weights or {}))

    def __call__(self, model, x, labels, training=True):
        terms = gaitnet_losses(model, x["xa"], x["xb"], labels, x["t1"], training=training)
        w = self.weights
        loss = (w["reconstruction"] * terms["reconstruction"] + w["similarity"] * terms["similarity"]
                + w["identity"] * terms["identity"])
        return loss, {"loss": loss, **terms}


def main(argv=None):
    """``python -m gait_tf.train.gaitnet --config CONFIG [--set k=v ...] [--workdir DIR] [--eval-subjects S]``."""
    from gait_tf import models
    from gait_tf.errors import GaitTFError
    from gait_tf.train.rgb import SYNTH_DEFAULTS, RGBWalkers, rank1
    from gait_tf.train.trainer import Trainer

    ap = argparse.ArgumentParser(prog="python -m gait_tf.train.gaitnet", description=__doc__.split("\n")[0])
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
        cfg = load_rgb_config(args.config, args.overrides)
        workdir = Path(args.workdir) if args.workdir else Path("runs") / cfg["name"]
        trainer = Trainer(cfg, workdir, resume=args.resume, max_steps=args.max_steps)
        summary = trainer.fit()
        if args.eval_subjects:
            opts = dict(SYNTH_DEFAULTS, **(cfg["data"]["synthetic"] or {}))
            opts["subjects"] = args.eval_subjects
            root = opts.pop("root")
            test = RGBWalkers(out_hw=models.get_spec(cfg["model"]["name"]).input_hw,
                              cache_dir=root or workdir / "synthetic", **opts)
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
