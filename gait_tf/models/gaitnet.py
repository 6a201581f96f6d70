"""GaitNet (Zhang et al., CVPR 2019, "Gait Recognition via Disentangled Representation Learning").

An auto-encoder splits every masked-RGB frame into an *appearance* code ``f_a`` (clothes,
body shape; should not change over a walk) and a *pose/gait* code ``f_g`` (what changes
from frame to frame). A 3-layer LSTM runs over the ``f_g`` sequence; the time average of
its outputs is the identity feature. Re-implemented in Keras 3 from the paper and the
authors' public PyTorch code (no code copied). The training losses live here too
(:func:`gaitnet_losses`, :class:`GaitNetLoss`, the model's registered ``loss``); the
standard trainer calls them on pairs of clips.

Shapes (defaults): frames ``[B, T, 64, 32, 3]`` float32 in [0, 1] (``input_kind
"rgb_sequence"``), ``f_a [N, 256]``, ``f_g [N, 64]``, LSTM outputs ``[B, T, 256]``.
``model(x)`` returns ``{"embeddings": [B, 1, 256], "logits": [B, 1, class_num]}``.

Encoder: 4 x (conv 4x4 stride 2 + BN + LeakyReLU(0.2), conv 3x3 + BN + LeakyReLU(0.2))
with ``nf, 2nf, 4nf, 8nf`` channels (64x32 -> 4x2), flatten, Dense(fa+fg) + BN, split.
Decoder: Dense(8nf*4*2) + BN -> LeakyReLU -> mirror of the encoder with transposed
4x4/stride-2 convolutions -> sigmoid RGB.
"""
from __future__ import annotations

import keras
from keras import layers, ops

from gait_tf.errors import ModelError
from gait_tf.models.registry import register_model

DCGAN_SLOPE = 0.2  # LeakyReLU slope of the DCGAN-style blocks (reference code)
BN = dict(epsilon=1e-5, momentum=0.9)  # PyTorch BatchNorm defaults in Keras terms

PRESETS = {
    # the paper's CASIA-B setting: 74 training subjects, 64x32 frames
    "casia_b": {"nf": 64, "fa_dim": 256, "fg_dim": 64, "lstm_units": 256, "lstm_layers": 3, "class_num": 74},
    # a CPU-friendly size for the synthetic walkers
    "small": {"nf": 16, "fa_dim": 128, "fg_dim": 32, "lstm_units": 128, "lstm_layers": 3, "class_num": 20},
}


@keras.saving.register_keras_serializable(package="gait_tf")
class SplitCode(layers.Layer):
    """``[N, fa_dim + fg_dim] -> (f_a [N, fa_dim], f_g [N, fg_dim])`` (the first ``fa_dim`` units)."""

    def __init__(self, fa_dim, **kwargs):
        super().__init__(**kwargs)
        self.fa_dim = int(fa_dim)

    def call(self, x):
        return x[:, : self.fa_dim], x[:, self.fa_dim :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.fa_dim), (input_shape[0], input_shape[-1] - self.fa_dim)

    def get_config(self):
        return {**super().get_config(), "fa_dim": self.fa_dim}


def _conv_block(x, filters, kernel, strides, name):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn", **BN)(x)
    return layers.LeakyReLU(DCGAN_SLOPE, name=f"{name}_act")(x)


def _upconv_block(x, filters, name):
    x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn", **BN)(x)
    return layers.LeakyReLU(DCGAN_SLOPE, name=f"{name}_act")(x)


def build_encoder(input_hw=(64, 32), nf=64, fa_dim=256, fg_dim=64, name="encoder"):
    """Frame encoder: ``[N, H, W, 3] -> (f_a [N, fa_dim], f_g [N, fg_dim])``.

    ``H`` and ``W`` must be divisible by 16 (four stride-2 stages).
    """
    h, w = (int(v) for v in input_hw)
    if h % 16 or w % 16:
        raise ModelError(f"gaitnet: input_hw {input_hw} must be divisible by 16 (4 stride-2 stages)")
    inp = keras.Input((h, w, 3), name="frame")
    x = inp
    for i, mult in enumerate((1, 2, 4, 8)):
        x = _conv_block(x, nf * mult, 4, 2, f"down{i}")
        x = _conv_block(x, nf * mult, 3, 1, f"vgg{i}")
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(fa_dim + fg_dim, name="embed")(x)
    x = layers.BatchNormalization(name="embed_bn", **BN)(x)
    fa, fg = SplitCode(fa_dim, name="split")(x)
    return keras.Model(inp, [fa, fg], name=name)


def build_decoder(input_hw=(64, 32), nf=64, fa_dim=256, fg_dim=64, name="decoder"):
    """Frame decoder: ``(f_a [N, fa_dim], f_g [N, fg_dim]) -> [N, H, W, 3]`` in [0, 1]."""
    h, w = (int(v) for v in input_hw)
    fa = keras.Input((fa_dim,), name="f_a")
    fg = keras.Input((fg_dim,), name="f_g")
    x = layers.Concatenate(name="code")([fa, fg])
    x = layers.Dense(nf * 8 * (h // 16) * (w // 16), name="project")(x)
    x = layers.BatchNormalization(name="project_bn", **BN)(x)
    x = layers.Reshape((h // 16, w // 16, nf * 8), name="to_map")(x)
    x = layers.LeakyReLU(DCGAN_SLOPE, name="project_act")(x)
    x = _conv_block(x, nf * 8, 3, 1, "vgg3")
    for i, mult in zip((2, 1, 0), (4, 2, 1)):
        x = _upconv_block(x, nf * mult, f"up{i}")
        x = _conv_block(x, nf * mult, 3, 1, f"vgg{i}")
    x = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="sigmoid", name="to_rgb")(x)
    return keras.Model([fa, fg], x, name=name)


@keras.saving.register_keras_serializable(package="gait_tf")
class GaitNet(keras.Model):
    """GaitNet: disentangling encoder/decoder + LSTM identity aggregator.

    Call with frames ``[B, T, H, W, 3]`` float32 in [0, 1] (masked RGB, T >= 1, dynamic).
    Returns ``{"embeddings": [B, 1, lstm_units], "logits": [B, 1, class_num]}``; the
    embedding is the time average of the last LSTM layer's outputs.

    Training helpers (used by :func:`gaitnet_losses`):
    :meth:`encode_frames`, :meth:`decode`, :meth:`lstm_outputs`, :meth:`classify`.
    """

    def __init__(self, input_hw=(64, 32), nf=64, fa_dim=256, fg_dim=64, lstm_units=256, lstm_layers=3,
                 class_num=74, **kwargs):
        super().__init__(**kwargs)
        self.input_hw = tuple(int(v) for v in input_hw)
        self.nf, self.fa_dim, self.fg_dim = int(nf), int(fa_dim), int(fg_dim)
        self.lstm_units, self.lstm_layers, self.class_num = int(lstm_units), int(lstm_layers), int(class_num)
        if self.lstm_layers < 1:
            raise ModelError(f"gaitnet: lstm_layers must be >= 1, got {lstm_layers}")
        self.encoder = build_encoder(self.input_hw, self.nf, self.fa_dim, self.fg_dim)
        self.decoder = build_decoder(self.input_hw, self.nf, self.fa_dim, self.fg_dim)
        self.lstms = [layers.LSTM(self.lstm_units, return_sequences=True, name=f"lstm{i}")
                      for i in range(self.lstm_layers)]
        self.classifier = layers.Dense(self.class_num, name="classifier")

    def _check_shape(self, shape):
        h, w = self.input_hw
        if len(shape) != 5 or tuple(shape[2:]) != (h, w, 3):
            raise ModelError(f"gaitnet expects frames [B, T, {h}, {w}, 3], got shape {tuple(shape)}")

    def build(self, input_shape):
        h, w = self.input_hw
        self._check_shape(input_shape)
        self.encoder.build((None, h, w, 3))
        self.decoder.build([(None, self.fa_dim), (None, self.fg_dim)])
        shape = (None, None, self.fg_dim)
        for lstm in self.lstms:
            lstm.build(shape)
            shape = (None, None, self.lstm_units)
        self.classifier.build((None, self.lstm_units))
        self.built = True

    # -------------------------------------------------------------- parts
    def encode_frames(self, frames, training=None):
        """``[B, T, H, W, 3] -> (f_a [B, T, fa_dim], f_g [B, T, fg_dim])``."""
        h, w = self.input_hw
        self._check_shape(frames.shape)
        t = ops.shape(frames)[1]
        fa, fg = self.encoder(ops.reshape(frames, (-1, h, w, 3)), training=training)
        return ops.reshape(fa, (-1, t, self.fa_dim)), ops.reshape(fg, (-1, t, self.fg_dim))

    def decode(self, fa, fg, training=None):
        """``(f_a [..., fa_dim], f_g [..., fg_dim]) -> frames [..., H, W, 3]`` (leading dims kept)."""
        lead = ops.shape(fa)[:-1]
        out = self.decoder([ops.reshape(fa, (-1, self.fa_dim)), ops.reshape(fg, (-1, self.fg_dim))],
                           training=training)
        return ops.reshape(out, tuple(lead) + (*self.input_hw, 3))

    def lstm_outputs(self, fg, training=None):
        """``f_g [B, T, fg_dim] -> [B, T, lstm_units]`` (last LSTM layer, every step)."""
        h = fg
        for lstm in self.lstms:
            h = lstm(h, training=training)
        return h

    def classify(self, feature):
        """``[..., lstm_units] -> [..., class_num]`` identity logits."""
        return self.classifier(feature)

    def call(self, frames, training=None):
        _, fg = self.encode_frames(frames, training=training)
        emb = ops.mean(self.lstm_outputs(fg, training=training), axis=1)  # [B, units]
        logits = self.classify(emb)
        return {"embeddings": emb[:, None, :], "logits": logits[:, None, :]}

    def compute_output_shape(self, input_shape):
        b = input_shape[0]
        return {"embeddings": (b, 1, self.lstm_units), "logits": (b, 1, self.class_num)}

    def get_config(self):
        return {
            "name": self.name,
            "input_hw": list(self.input_hw),
            "nf": self.nf,
            "fa_dim": self.fa_dim,
            "fg_dim": self.fg_dim,
            "lstm_units": self.lstm_units,
            "lstm_layers": self.lstm_layers,
            "class_num": self.class_num,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        config.pop("dtype", None)
        return cls(**config)


# --------------------------------------------------------------------------- losses

#: ``gaitnet:`` config section (loss weights; the reference code weights similarity x10)
GAITNET_DEFAULTS = {"reconstruction": 1.0, "similarity": 10.0, "identity": 1.0}


def gaitnet_losses(model, xa, xb, labels, t1, training=True):
    """GaitNet's three losses, per batch of pairs ``x_a``, ``x_b`` (same subject and view, two
    conditions), frames ``[B, T, H, W, 3]``:

    - cross reconstruction: ``D(f_a(x_a[t1]), f_g(x_a[t])) ~ x_a[t]`` for every t, one random
      ``t1`` per sample (mean squared error);
    - gait similarity: ``|| mean_t f_g(x_a) - mean_t f_g(x_b) ||^2`` (mean over units);
    - incremental identity: cross-entropy of the classifier on the running average of the LSTM
      outputs after t frames, weighted by ``t^2`` (weights normalised to sum to 1).

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


class GaitNetLoss:
    """GaitNet's training objective (the model's registered ``loss``): ``(model, x, labels) ->
    (loss, metrics)`` on a ``"pairs"`` batch ``x = {"xa", "xb", "t1"}``; ``loss`` is the
    weighted sum of the three terms of :func:`gaitnet_losses`. The weights come from the
    ``gaitnet:`` config section (:data:`GAITNET_DEFAULTS`); the ``losses:`` list is unused."""

    section = "gaitnet"
    defaults = GAITNET_DEFAULTS
    batch = "pairs"

    def __init__(self, weights=None, losses=None):
        self.weights = dict(GAITNET_DEFAULTS, **(weights or {}))

    def __call__(self, model, x, labels, training=True):
        terms = gaitnet_losses(model, x["xa"], x["xb"], labels, x["t1"], training=training)
        w = self.weights
        loss = (w["reconstruction"] * terms["reconstruction"] + w["similarity"] * terms["similarity"]
                + w["identity"] * terms["identity"])
        return loss, {"loss": loss, **terms}


@register_model("gaitnet", input_kind="rgb_sequence", input_hw=(64, 32), channels=3, presets=PRESETS,
                default_preset="casia_b", loss=GaitNetLoss)
def gaitnet(input_hw=(64, 32), nf=64, fa_dim=256, fg_dim=64, lstm_units=256, lstm_layers=3, class_num=74,
            name="gaitnet"):
    """GaitNet (CVPR 2019): disentangled appearance/pose auto-encoder + LSTM over pose codes (masked RGB)."""
    model = GaitNet(input_hw=input_hw, nf=nf, fa_dim=fa_dim, fg_dim=fg_dim, lstm_units=lstm_units,
                    lstm_layers=lstm_layers, class_num=class_num, name=name)
    h, w = model.input_hw
    model(ops.zeros((1, 2, h, w, 3)))  # build all variables
    return model
