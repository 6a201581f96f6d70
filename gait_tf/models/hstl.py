"""HSTL (Wang et al., ICCV 2023): hierarchical spatio-temporal representation learning.

Keras 3 port following the official implementation (gudaochangsheng/HSTL, models
``HSTL-CB.py``, ``HSTL-OU.py``, ``HSTL-Gait3D.py``; OpenGait v1 parameter names, see
:mod:`gait_tf.convert.hstl`). Input ``[B, T, 64, 44, 1]`` (any T >= 1; sequences shorter than
3 frames are tiled to 3+ frames as in the official code); output
``{"embeddings": [B, P, C], "logits": [B, P, class_num]}`` with ``P`` = 73 (CASIA-B),
50 (OU-MVLP) or 46 (Gait3D) and ``C = channels[-1]``.

Building blocks (all channels-last ``[B, T, H, W, C]``):

- :class:`RegionConv3D` (ARME, adaptive region-based motion extractor): the map is cut along
  the height into the configured regions, each region gets its own 3x3x3 convolution with its
  own zero padding, the results are concatenated back (then LeakyReLU 0.01).
- :class:`RegionGeMPooling` (ASTP, adaptive spatio-temporal pooling): temporal max, an
  optional 1x1 projection, then GeM (learnable ``p`` per region) over each region -> one
  part per region.
- :class:`FrameTemporalAggregation` (FTA): per region, two temporal max-pools (kernel 3 pad 0
  and kernel 5 pad 1, both stride 3) fused by a softmax over two per-branch 1x1 projections
  of their spatially averaged sum. ``T -> (T - 3) // 3 + 1``.
- GeM-HPP (learnable ``p``) of the last stage, a separate FC per part (``head0``), BatchNorm
  over channels (``bn``; the embeddings) and a separate FC classifier (``head1``; the logits).
"""
from __future__ import annotations

import keras
from keras import ops

from gait_tf.errors import ModelError
from gait_tf.models import blocks
from gait_tf.models.registry import register_model

_serializable = keras.saving.register_keras_serializable(package="gait_tf")

#: Official configurations. ``regions`` lists the row heights of the ARME/ASTP/FTA regions of
#: each stage (stage 1 = ``arme2``; they must sum to the stage's feature-map height).
PRESETS = {
    "casia_b": {
        "channels": (32, 64, 128),
        "class_num": 74,
        "variant": "casia_b",
        "regions": ((40, 24), (8, 32, 16, 8)),
        "hpp_bins": (64,),
    },
    "oumvlp": {
        "channels": (32, 64, 128, 256),
        "class_num": 5153,
        "variant": "oumvlp",
        "regions": ((4, 24, 4), (4, 4, 12, 8, 4), (4, 4, 12, 4, 4, 4)),
        "hpp_bins": (32,),
    },
    "gait3d": {
        "channels": (32, 64, 128, 256),
        "class_num": 3000,
        "variant": "oumvlp",
        "regions": ((20, 12), (4, 16, 8, 4), (4, 4, 12, 8, 4)),
        "hpp_bins": (32,),
    },
}


def _check_regions(layer, regions, h):
    if h is not None and sum(regions) != h:
        raise ModelError(f"{layer}: regions {list(regions)} sum to {sum(regions)}, feature-map height is {h}")


def _split_rows(x, regions, axis):
    out, start = [], 0
    for r in regions:
        idx = [slice(None)] * len(x.shape)
        idx[axis] = slice(start, start + r)
        out.append(x[tuple(idx)])
        start += r
    return out


@_serializable
class RegionConv3D(keras.layers.Layer):
    """ARME convolution: ``[B, T, H, W, Cin] -> [B, T, H, W, Cout]``.

    The rows are split into ``regions`` (heights summing to ``H``); region ``i`` is convolved
    with its own kernel (``kernel[i]``, ``kernel`` ``[m, 3, 3, 3, Cin, Cout]``, stride 1, no
    bias) and its own 'same' zero padding, so nothing crosses region borders. LeakyReLU(0.01)
    follows when ``activation=True`` (the official ``ARME_Conv``).
    """

    def __init__(self, filters, regions, kernel_size=(3, 3, 3), activation=True, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.regions = tuple(int(r) for r in regions)
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.activation = bool(activation)

    def build(self, input_shape):
        _check_regions(f"RegionConv3D {self.name}", self.regions, input_shape[2])
        shape = (len(self.regions),) + self.kernel_size + (int(input_shape[-1]), self.filters)
        self.kernel = self.add_weight(name="kernel", shape=shape, initializer="glorot_uniform")

    def call(self, x):
        parts = [
            ops.conv(z, self.kernel[i], strides=1, padding="same")
            for i, z in enumerate(_split_rows(x, self.regions, axis=2))
        ]
        y = ops.concatenate(parts, axis=2) if len(parts) > 1 else parts[0]
        return ops.leaky_relu(y, negative_slope=blocks.LEAKY_SLOPE) if self.activation else y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "regions": list(self.regions),
            "kernel_size": list(self.kernel_size),
            "activation": self.activation,
        }


@_serializable
class RegionGeMPooling(keras.layers.Layer):
    """ASTP: ``[B, T, H, W, Cin] -> [B, m, Cout]``, one part per region.

    Max over frames, then (``project=True``) a 1x1 projection (``proj`` ``[Cin, Cout]``, no
    bias; official ``BasicConv2d(Cin, Cout, 1)``), then per region ``i`` GeM pooling over all
    its positions: ``mean(max(x, eps)^p_i)^(1/p_i)`` with a learnable ``p`` ``[m]``
    (initialised to 6.5).
    """

    def __init__(self, regions, out_channels=None, project=True, p_init=6.5, eps=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.regions = tuple(int(r) for r in regions)
        self.project = bool(project)
        self.out_channels = None if out_channels is None else int(out_channels)
        self.p_init = float(p_init)
        self.eps = float(eps)

    def build(self, input_shape):
        _check_regions(f"RegionGeMPooling {self.name}", self.regions, input_shape[2])
        cin = int(input_shape[-1])
        if self.project:
            if self.out_channels is None:
                raise ModelError(f"RegionGeMPooling {self.name}: project=True needs out_channels")
            self.proj = self.add_weight(name="proj", shape=(cin, self.out_channels), initializer="glorot_uniform")
        self.p = self.add_weight(
            name="p", shape=(len(self.regions),), initializer=keras.initializers.Constant(self.p_init)
        )

    def call(self, x):
        z = ops.max(x, axis=1)  # [B, H, W, C]
        if self.project:
            z = ops.matmul(z, self.proj)
        feats = [blocks.gem(r, self.p[i], self.eps, axis=(1, 2)) for i, r in enumerate(_split_rows(z, self.regions, axis=1))]
        return ops.stack(feats, axis=1)

    def compute_output_shape(self, input_shape):
        c = self.out_channels if self.project else input_shape[-1]
        return (input_shape[0], len(self.regions), c)

    def get_config(self):
        return {
            **super().get_config(),
            "regions": list(self.regions),
            "out_channels": self.out_channels,
            "project": self.project,
            "p_init": self.p_init,
            "eps": self.eps,
        }


def temporal_max_pool_k3_k5(x):
    """The two FTA pools over frames of ``x`` ``[B, T, *F]`` (T >= 3), both stride 3:
    kernel 3 / no padding and kernel 5 / padding 1 (padding ignored by the max, as PyTorch's
    ``MaxPool3d``). Returns two ``[B, T', *F]`` tensors, ``T' = (T - 3) // 3 + 1``."""
    feat = tuple(x.shape[2:])
    t = ops.shape(x)[1]
    tq = (t - 3) // 3 + 1

    def windows(z, start):
        w = z[:, start : start + 3 * tq]
        return ops.reshape(w, (-1, tq, 3) + feat)

    out3 = ops.max(windows(x, 0), axis=2)
    pads = ((0, 0), (1, 2)) + ((0, 0),) * len(feat)
    xp = ops.pad(x, pads, constant_values=float("-inf"))  # x[-1], x[0], ..., x[T-1], pad, pad
    first = ops.max(windows(xp, 0), axis=2)  # x[3j-1 .. 3j+1]
    second = ops.max(windows(xp, 3)[:, :, :2], axis=2)  # x[3j+2 .. 3j+3]
    return out3, ops.maximum(first, second)


@_serializable
class FrameTemporalAggregation(keras.layers.Layer):
    """FTA block: ``[B, T, H, W, C] -> [B, T', H, W, C]``, ``T' = (T - 3) // 3 + 1`` (T >= 3).

    For each region ``i`` (row heights ``regions``): the two pools ``a, b`` of
    :func:`temporal_max_pool_k3_k5`; ``s = mean_{h,w}(a + b)`` ``[B, T', C]``; branch weights
    ``softmax_k(s @ kernel[i, k] + bias[i, k])`` (official ``Conv1d(C, C, 1)`` per branch,
    ``kernel`` ``[m, 2, C, C]``, ``bias`` ``[m, 2, C]``) blend ``a`` and ``b``.
    """

    def __init__(self, regions, **kwargs):
        super().__init__(**kwargs)
        self.regions = tuple(int(r) for r in regions)

    def build(self, input_shape):
        _check_regions(f"FrameTemporalAggregation {self.name}", self.regions, input_shape[2])
        c, m = int(input_shape[-1]), len(self.regions)
        self.kernel = self.add_weight(name="kernel", shape=(m, 2, c, c), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(m, 2, c), initializer="zeros")

    def call(self, x):
        outs = []
        for i, z in enumerate(_split_rows(x, self.regions, axis=2)):
            a, b = temporal_max_pool_k3_k5(z)
            s = ops.mean(a + b, axis=(2, 3))  # [B, T', C]
            logits = ops.stack([ops.matmul(s, self.kernel[i, k]) + self.bias[i, k] for k in range(2)], axis=0)
            w = ops.softmax(logits, axis=0)[:, :, :, None, None, :]  # [2, B, T', 1, 1, C]
            outs.append(w[0] * a + w[1] * b)
        return ops.concatenate(outs, axis=2) if len(outs) > 1 else outs[0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "regions": list(self.regions)}


@_serializable
class ConcatParts(keras.layers.Layer):
    """``list of [B, P_i, C] -> [B, sum(P_i), C]``."""

    def call(self, inputs):
        return ops.concatenate(list(inputs), axis=1)

    def compute_output_shape(self, input_shapes):
        p = sum(int(s[1]) for s in input_shapes)
        return (input_shapes[0][0], p, input_shapes[0][2])


def _conv3d(filters, name):
    return keras.layers.Conv3D(filters, 3, padding="same", use_bias=False, name=name)


def stage_widths(channels, variant):
    """Output widths of the two ARME convolutions of each stage (after the stem)."""
    c = [int(v) for v in channels]
    if variant == "casia_b":
        return [(c[0], c[1]), (c[2], c[2])]
    return [(c[k], c[k]) for k in range(1, len(c))]


@register_model("hstl", presets=PRESETS, default_preset="casia_b", input_hw=(64, 44))
def hstl(
    channels=(32, 64, 128),
    class_num=74,
    variant="casia_b",
    regions=((40, 24), (8, 32, 16, 8)),
    hpp_bins=(64,),
    input_hw=(64, 44),
    name="hstl",
):
    """HSTL. ``variant="casia_b"`` (``HSTL-CB``): one stem conv at full resolution, two ARME
    stages (widths ``(c0, c1)`` then ``(c2, c2)``); ``variant="oumvlp"`` (``HSTL-OU`` /
    ``HSTL-Gait3D``): two stem convs, a 2x2 spatial max-pool, three ARME stages of widths
    ``c1, c2, c3``. ``regions`` gives each stage's region heights; the FTA follows stage 1.
    Parts: 1 (stem ASTP) + 2 x len(regions[0]) + sum of the other stages' regions + sum(hpp_bins).
    """
    if variant not in ("casia_b", "oumvlp"):
        raise ModelError(f"HSTL variant must be 'casia_b' or 'oumvlp', got {variant!r}")
    c = [int(v) for v in channels]
    regions = [tuple(int(r) for r in reg) for reg in regions]
    widths = stage_widths(c, variant)
    if len(regions) != len(widths):
        raise ModelError(f"HSTL {variant}: needs {len(widths)} region lists (one per stage), got {len(regions)}")
    if widths[-1][1] != c[-1]:
        raise ModelError(f"HSTL: last stage width {widths[-1][1]} must equal channels[-1] = {c[-1]}")
    h, w = (int(v) for v in input_hw)
    emb = c[-1]

    inp = keras.Input(shape=(None, h, w, 1), name="silhouettes")
    x = blocks.RepeatShortSequence(3, name="repeat_short")(inp)
    x = _conv3d(c[0], "arme1_0")(x)
    x = blocks.leaky_relu("arme1_act0")(x)
    if variant == "oumvlp":
        x = _conv3d(c[0], "arme1_2")(x)
        x = blocks.leaky_relu("arme1_act2")(x)
    parts = [RegionGeMPooling((h,), emb, name="astp1")(x)]
    if variant == "oumvlp":
        x = keras.layers.MaxPooling3D((1, 2, 2), name="maxpool0")(x)
    last = len(widths) - 1
    for s, ((w0, w1), reg) in enumerate(zip(widths, regions)):
        k = s + 2  # official numbering: arme2, arme3, ...
        x = RegionConv3D(w0, reg, name=f"arme{k}_0")(x)
        x = RegionConv3D(w1, reg, name=f"arme{k}_1")(x)
        parts.append(RegionGeMPooling(reg, emb, project=s != last, name=f"astp{k}")(x))
        if s == 0:
            x = FrameTemporalAggregation(reg, name="fta")(x)
            parts.append(RegionGeMPooling(reg, emb, name="astp2_fta")(x))
    pooled = blocks.SetPooling(name="temporal_pool")(x)
    parts.append(blocks.GeMHPP(hpp_bins, name="hpp")(pooled))
    feat = ConcatParts(name="parts")(parts)
    p = int(feat.shape[1])
    gait = blocks.SeparateFCs(p, emb, emb, name="head0")(feat)
    bnft = blocks.batch_norm("bn")(gait)
    logits = blocks.SeparateFCs(p, emb, int(class_num), name="head1")(bnft)
    return keras.Model(inp, {"embeddings": bnft, "logits": logits}, name=name)


__all__ = [
    "PRESETS",
    "RegionConv3D",
    "RegionGeMPooling",
    "FrameTemporalAggregation",
    "ConcatParts",
    "temporal_max_pool_k3_k5",
    "stage_widths",
    "hstl",
]
