"""3D Local CNN (Huang et al., ICCV 2021): localized 3D convolutions per body part.

Keras 3 port following the official implementation (aliyun/3D-Local-CNN-for-Gait-
Recognition, ``models/localcnn3d.py`` with its defaults: ``backbone='basic'``,
``locator='3d'``, ``sampler='mix'``, ``extractor='c3d'``; parameter names in
:mod:`gait_tf.convert.local3d`). Input ``[B, T, 64, 44, 1]`` (any T >= 1; a single frame is
repeated once, the official sampler divides by ``T - 1``); output
``{"embeddings": [B, 16, out_features]}`` (the official model is trained with a triplet loss
only and has no classifier).

Pipeline (channels-last):

1. per-frame 2D backbone (six 3x3/5x5 convolutions + LeakyReLU, two 2x2 max-pools) giving
   ``feat4`` ``[B, T, 16, 11, c2]`` and ``feat6`` ``[B, T, 16, 11, c3]``;
2. for each of the six parts (:data:`~gait_tf.models.local3d_ops.PART_PRIORS`): a
   localization network on ``stop_gradient(feat6)`` predicting seven numbers (temporal and
   spatial offset, Gaussian width, temporal and spatial stride, confidence),
   :class:`LocalVolumeSampler` sampling a ``[B, T, 16, 11, c2]`` volume of ``feat4``, two 3x3x3
   convolutions + ReLU (``local_channels``);
3. a 1x1x1 fusion convolution + ReLU of ``[feat6, head, torso, armL, armR, legL, legR]``;
4. the temporal aggregation head: horizontal pooling into 16 strips (mean + max),
   :class:`~gait_tf.models.blocks.TemporalFeatureAggregator` (GaitPart's MCM, here with
   biases and ReLU as the official ``utils.MCM``) and a separate FC
   per strip.
"""
from __future__ import annotations

import keras
from keras import ops

from gait_tf.errors import ModelError
from gait_tf.models import blocks
from gait_tf.models.local3d_ops import PART_NAMES, PART_PRIORS, SAMPLERS, sample_volume
from gait_tf.models.registry import register_model

_serializable = keras.saving.register_keras_serializable(package="gait_tf")

PRESETS = {
    # the official defaults (CASIA-B and OU-MVLP use the same architecture)
    "casia_b": {"channels": (32, 64, 128), "local_channels": 64, "out_features": 256, "sampler": "mix"},
    "oumvlp": {"channels": (32, 64, 128), "local_channels": 64, "out_features": 256, "sampler": "mix"},
}


#: backbone variants of the official ``LocalCNN3D._backbones``
BACKBONES = ("basic", "fconv")
#: ``fconv``: strips per layer 1, 1, 4, 4, 8, 8 as ``2**halving``
FCONV_HALVING = (0, 0, 2, 2, 3, 3)


@_serializable
class LocalVolumeSampler(keras.layers.Layer):
    """``(x [B, T, H, W, C], params [B, 7]) -> [B, T, out_h, out_w, C]`` for one body part.

    ``part`` names the prior in :data:`~gait_tf.models.local3d_ops.PART_PRIORS`; ``mode`` is
    ``"mix"`` (Gaussian in space, linear in time; official default), ``"trilinear"`` or
    ``"gaussian"``. See :func:`gait_tf.models.local3d_ops.sample_volume`. No weights.
    """

    def __init__(self, part, mode="mix", inverse=False, **kwargs):
        super().__init__(**kwargs)
        if part not in PART_PRIORS:
            raise ModelError(f"unknown body part {part!r}; known: {', '.join(PART_NAMES)}")
        if mode not in SAMPLERS:
            raise ModelError(f"unknown local-volume sampler {mode!r}; known: {', '.join(SAMPLERS)}")
        if inverse and mode == "trilinear":
            raise ModelError("local-volume sampler 'trilinear' has no inverse projection; use 'mix' or 'gaussian'")
        self.part = part
        self.mode = mode
        self.inverse = bool(inverse)

    def call(self, inputs):
        x, params = inputs
        return sample_volume(x, params, PART_PRIORS[self.part], self.mode, self.inverse)

    def compute_output_shape(self, input_shapes):
        x = input_shapes[0]
        prior = PART_PRIORS[self.part]
        return (x[0], x[1], prior.out_h, prior.out_w, x[4])

    def get_config(self):
        return {**super().get_config(), "part": self.part, "mode": self.mode, "inverse": self.inverse}


@_serializable
class AdaptiveMaxPool3D(keras.layers.Layer):
    """PyTorch ``AdaptiveMaxPool3d(2)``: ``[B, T, H, W, C] -> [B, 2, 2, 2, C]``.

    Along each axis of length ``L`` the two bins are ``[0, ceil(L/2))`` and
    ``[floor(L/2), L)`` (they overlap when L is odd). T may be dynamic.
    """

    def call(self, x):
        for axis in (1, 2, 3):
            n = ops.shape(x)[axis] if x.shape[axis] is None else x.shape[axis]
            lo = [slice(None)] * 5
            hi = [slice(None)] * 5
            lo[axis] = slice(0, (n + 1) // 2)
            hi[axis] = slice(n // 2, None)
            x = ops.concatenate(
                [ops.max(x[tuple(lo)], axis=axis, keepdims=True), ops.max(x[tuple(hi)], axis=axis, keepdims=True)],
                axis=axis,
            )
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2, 2, 2, input_shape[-1])


@_serializable
class StopGradient(keras.layers.Layer):
    """Identity forward, no gradient (the official ``param_x.detach()``)."""

    def call(self, x):
        return ops.stop_gradient(x)


@_serializable
class StackParts(keras.layers.Layer):
    """``list of [B, F] -> [B, len(list), F]``."""

    def call(self, inputs):
        return ops.stack(list(inputs), axis=1)

    def compute_output_shape(self, input_shapes):
        return (input_shapes[0][0], len(input_shapes)) + tuple(input_shapes[0][1:])


def _bn(name):
    return blocks.batch_norm(name)


def _localization(x, part, hidden):
    """Official ``Localization3D(in, in // 2, 7)`` on ``x`` ``[B, T, 16, 11, in]`` -> ``[B, 7]``.

    Layer names carry the index in the official ``convs`` Sequential (``bn0``, ``conv3``,
    ``bn4``, ``conv6``, ``bn7``, ``conv10``) and ``fc`` / ``fc_bn``.
    """
    pre = f"{part}_loc"
    z = _bn(f"{pre}_bn0")(x)
    z = keras.layers.ReLU(name=f"{pre}_relu1")(z)
    # MaxPool3d(3, 2, padding=1) after a ReLU: zero padding is equivalent to PyTorch's -inf
    z = keras.layers.ZeroPadding3D(1, name=f"{pre}_pad2")(z)
    # float32 pools: TF has no float16 MaxPool3D kernel on CPU (mixed precision on CPU)
    z = keras.layers.MaxPooling3D(3, 2, name=f"{pre}_pool2", dtype="float32")(z)
    z = keras.layers.Conv3D(hidden, 1, use_bias=False, name=f"{pre}_conv3")(z)
    z = keras.layers.ReLU(name=f"{pre}_relu5")(_bn(f"{pre}_bn4")(z))
    z = keras.layers.Conv3D(hidden, 3, padding="same", use_bias=False, name=f"{pre}_conv6")(z)
    z = keras.layers.ReLU(name=f"{pre}_relu8")(_bn(f"{pre}_bn7")(z))
    z = keras.layers.ZeroPadding3D(1, name=f"{pre}_pad9")(z)
    z = keras.layers.MaxPooling3D(3, 2, name=f"{pre}_pool9", dtype="float32")(z)
    z = keras.layers.Conv3D(hidden, 3, padding="same", use_bias=False, name=f"{pre}_conv10")(z)
    z = keras.layers.ReLU(name=f"{pre}_relu11")(z)
    z = AdaptiveMaxPool3D(name=f"{pre}_amax12")(z)
    z = keras.layers.Flatten(name=f"{pre}_flatten")(z)  # (t, h, w, c) order; converter permutes
    z = keras.layers.Dense(7, name=f"{pre}_fc")(z)
    return _bn(f"{pre}_fc_bn")(z)


def _conv2d(filters, k, name):
    return keras.layers.Conv2D(filters, k, padding="same", use_bias=False, name=name)


@register_model("local3d", presets=PRESETS, default_preset="casia_b", input_hw=(64, 44))
def local3d(
    channels=(32, 64, 128),
    local_channels=64,
    out_features=256,
    sampler="mix",
    bin_num=16,
    squeeze=4,
    input_hw=(64, 44),
    return_params=False,
    backbone="basic",
    inverse=False,
    name="local3d",
):
    """3D Local CNN. ``channels``: backbone widths (layers 1-2, 3-4, 5-6); the localization
    networks use ``channels[2] // 2`` channels; ``local_channels``: width of each part's 3D
    convolutions; ``out_features``: embedding size; ``sampler``: ``"mix"`` | ``"trilinear"`` |
    ``"gaussian"``; ``backbone``: ``"basic"`` (official default: plain convolutions + leaky
    ReLU) or ``"fconv"`` (official ``FBackbone``: focal convolutions over 1, 1, 4, 4, 8, 8
    horizontal strips, each followed by two leaky ReLUs as in the official ``FConv``; same
    weights); ``inverse``: the official samplers' ``inverse`` option (each part's glimpse is
    projected back onto the 16 x 11 grid; ``"mix"`` / ``"gaussian"`` only).
    ``return_params=True`` adds ``"local_params"`` ``[B, 6, 7]`` (the raw localisation outputs, parts in :data:`PART_NAMES` order) to the outputs (for plotting).
    """
    c1, c2, c3 = (int(v) for v in channels)
    h, w = (int(v) for v in input_hw)
    if sampler not in SAMPLERS:
        raise ModelError(f"unknown local-volume sampler {sampler!r}; known: {', '.join(SAMPLERS)}")
    if backbone not in BACKBONES:
        raise ModelError(f"unknown 3D Local CNN backbone {backbone!r}; known: {', '.join(BACKBONES)}")
    inp = keras.Input(shape=(None, h, w, 1), name="silhouettes")
    x = blocks.RepeatShortSequence(2, name="repeat_short")(inp)
    z = blocks.FoldFrames(name="fold")(x)
    for i, (f, k) in enumerate(((c1, 5), (c1, 3), (c2, 3), (c2, 3), (c3, 3), (c3, 3)), start=1):
        if backbone == "fconv":
            halving = FCONV_HALVING[i - 1]
            z = blocks.FocalConv2D(f, k, halving, name=f"backbone_layer{i}")(z)
            z = blocks.leaky_relu(f"backbone_act{i}b")(blocks.leaky_relu(f"backbone_act{i}")(z))
        else:
            z = blocks.leaky_relu(f"backbone_act{i}")(_conv2d(f, k, f"backbone_layer{i}")(z))
        if i == 2:
            z = keras.layers.MaxPooling2D(2, name="backbone_pool2")(z)
        elif i == 4:
            z = keras.layers.MaxPooling2D(2, name="backbone_pool4")(z)
            feat4 = z
    feat4 = blocks.UnfoldFrames(name="unfold4")([feat4, x])  # [B, T, 16, 11, c2]
    feat6 = blocks.UnfoldFrames(name="unfold6")([z, x])  # [B, T, 16, 11, c3]
    param_x = StopGradient(name="detach")(feat6)
    branches, params = [feat6], []
    for part in PART_NAMES:
        loc = _localization(param_x, part, c3 // 2)
        params.append(loc)
        # sampling maths in float32 also under mixed precision (exp / normalisation)
        v = LocalVolumeSampler(part, sampler, inverse, name=f"{part}_sampler", dtype="float32")([feat4, loc])
        v = keras.layers.Conv3D(local_channels, 3, padding="same", use_bias=False, name=f"{part}_conv1")(v)
        v = keras.layers.ReLU(name=f"{part}_relu1")(v)
        v = keras.layers.Conv3D(local_channels, 3, padding="same", use_bias=False, name=f"{part}_conv2")(v)
        branches.append(keras.layers.ReLU(name=f"{part}_relu2")(v))
    g = keras.layers.Concatenate(axis=-1, name="local_concat")(branches)
    g = keras.layers.Conv3D(c3, 1, use_bias=False, name="fusion")(g)
    g = keras.layers.ReLU(name="fusion_relu")(g)
    g = blocks.HorizontalPoolingPyramid((int(bin_num),), name="spatial_pool")(g)  # [B, T, P, c3]
    # the official MCM: GaitPart's TFA with conv biases and ReLU
    g = blocks.TemporalFeatureAggregator(int(bin_num), c3, squeeze, use_bias=True, activation="relu",
                                         name="temporal_pool")(g)  # [B, P, c3]
    emb = blocks.SeparateFCs(int(bin_num), c3, int(out_features), name="hpm")(g)
    outputs = {"embeddings": emb}
    if return_params:
        outputs["local_params"] = StackParts(name="local_params")(params)
    return keras.Model(inp, outputs, name=name)


__all__ = [
    "PRESETS",
    "LocalVolumeSampler",
    "AdaptiveMaxPool3D",
    "StopGradient",
    "StackParts",
    "local3d",
]
