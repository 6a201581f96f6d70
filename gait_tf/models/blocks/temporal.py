"""Temporal blocks: shifted windows, per-part 1D convolutions, GaitPart's micro-motion capture (TFA)."""
from __future__ import annotations

import keras
from keras import ops

from gait_tf.models.blocks.common import LEAKY_SLOPE, _serializable


def shifted_windows(x, k, pad_value=0.0, axis=1):
    """``x`` shifted by ``-k//2 ... +k//2`` along ``axis`` (padded with ``pad_value``): a list
    of ``k`` tensors of ``x``'s shape (``k`` odd). For ``[B, T, P, C]`` and ``axis=1``:
    frames ``t-k//2 ... t+k//2``."""
    r = k // 2
    if r == 0:
        return [x]
    pad = [(0, 0)] * len(x.shape)
    pad[axis] = (r, r)
    xp = ops.pad(x, pad, constant_values=pad_value)
    n = ops.shape(x)[axis]
    index = [slice(None)] * len(x.shape)
    out = []
    for i in range(k):
        index[axis] = slice(i, i + n)
        out.append(xp[tuple(index)])
    return out


def partwise_conv1d(x, kernel):
    """Per-part temporal convolution: ``x`` [B, T, P, Cin], ``kernel`` [P, k, Cin, Cout]
    -> [B, T, P, Cout] (zero padding k//2, stride 1, no bias; PyTorch ``Conv1d`` per part)."""
    k = kernel.shape[1]
    if k == 1:
        return ops.einsum("btpi,pio->btpo", x, kernel[:, 0])
    win = ops.stack(shifted_windows(x, k), axis=3)  # [B, T, P, k, Cin]
    return ops.einsum("btpki,pkio->btpo", win, kernel)


@_serializable
class TemporalFeatureAggregator(keras.layers.Layer):
    """GaitPart's micro-motion capture module (TFA / MCM): ``[B, T, P, C] -> [B, P, C]``.

    Two micro-motion template builders (MTB) per part: template
    ``avgpool_k(x) + maxpool_k(x)`` over time (k = 3 and 5, stride 1, 'same'; the average
    counts padded zeros like PyTorch's ``AvgPool1d``, the max ignores padding) weighted by
    ``sigmoid(conv1d_b(act(conv1d_a(x))))`` with per-part weights; the two are summed and
    max-pooled over T. Weights ``conv3x1_a`` [P, 3, C, C/s], ``conv3x1_b`` [P, 1, C/s, C],
    ``conv3x3_a`` [P, 3, C, C/s], ``conv3x3_b`` [P, 3, C/s, C] (``s = squeeze``), each
    followed by its ``*_bias`` [P, Cout] when ``use_bias``.

    GaitPart (OpenGait): ``use_bias=False``, ``activation="leaky_relu"`` (slope 0.01).
    3D Local CNN's official ``utils.MCM``: ``use_bias=True``, ``activation="relu"``.
    """

    ACTIVATIONS = ("leaky_relu", "relu")

    def __init__(self, parts_num, in_channels, squeeze=4, use_bias=False, activation="leaky_relu", **kwargs):
        super().__init__(**kwargs)
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"TemporalFeatureAggregator {self.name}: activation {activation!r} not in "
                             f"{self.ACTIVATIONS}")
        self.parts_num = int(parts_num)
        self.in_channels = int(in_channels)
        self.squeeze = int(squeeze)
        self.use_bias = bool(use_bias)
        self.activation = activation

    def build(self, input_shape):
        p, c = self.parts_num, self.in_channels
        hid = c // self.squeeze
        shapes = {"conv3x1_a": (p, 3, c, hid), "conv3x1_b": (p, 1, hid, c),
                  "conv3x3_a": (p, 3, c, hid), "conv3x3_b": (p, 3, hid, c)}
        for name, shape in shapes.items():
            setattr(self, name, self.add_weight(name=name, shape=shape, initializer="glorot_uniform"))
            if self.use_bias:
                setattr(self, f"{name}_bias",
                        self.add_weight(name=f"{name}_bias", shape=(p, shape[-1]), initializer="zeros"))

    @staticmethod
    def _template(x, k):
        avg = sum(shifted_windows(x, k, 0.0)) / float(k)
        wins = shifted_windows(x, k, float("-inf"))
        mx = wins[0]
        for w in wins[1:]:
            mx = ops.maximum(mx, w)
        return avg + mx

    def _conv(self, x, name):
        y = partwise_conv1d(x, getattr(self, name))
        return y + getattr(self, f"{name}_bias") if self.use_bias else y

    def _mtb(self, x, mtb, k):
        a = self._conv(x, f"conv{mtb}_a")
        a = ops.relu(a) if self.activation == "relu" else ops.leaky_relu(a, negative_slope=LEAKY_SLOPE)
        return self._template(x, k) * ops.sigmoid(self._conv(a, f"conv{mtb}_b"))

    def call(self, x):
        return ops.max(self._mtb(x, "3x1", 3) + self._mtb(x, "3x3", 5), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2], input_shape[3])

    def get_config(self):
        return {
            **super().get_config(),
            "parts_num": self.parts_num,
            "in_channels": self.in_channels,
            "squeeze": self.squeeze,
            "use_bias": self.use_bias,
            "activation": self.activation,
        }
