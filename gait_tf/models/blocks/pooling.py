"""Horizontal pooling: HPP (mean + max per strip) and generalised-mean HPP."""
from __future__ import annotations

import keras
from keras import ops

from gait_tf.models.blocks.common import _serializable


def _strip_split(x, bins):
    """``[L, H, W, C] -> [L, bins, H*W/bins, C]`` (row-major, like ``x.view(n, c, b, -1)``)."""
    h, w, c = x.shape[-3], x.shape[-2], x.shape[-1]
    if (h * w) % bins:
        raise ValueError(f"feature map {h}x{w} cannot be split into {bins} bins")
    return ops.reshape(x, (-1, bins, (h * w) // bins, c))


def _restore_leading(z, x):
    """Reshape ``[L, P, C]`` back to ``x``'s leading dims (``[B, P, C]`` or ``[B, T, P, C]``)."""
    if len(x.shape) == 5:
        return ops.reshape(z, (-1, ops.shape(x)[1]) + tuple(z.shape[1:]))
    return z


@_serializable
class HorizontalPoolingPyramid(keras.layers.Layer):
    """Horizontal pooling pyramid (HPP/HPM): ``[..., H, W, C] -> [..., P, C]``, P = sum(bins).

    For each ``b`` in ``bin_num`` the map is split row-major into ``b`` equal chunks of
    ``H*W/b`` positions and each chunk is pooled with ``mean + max`` (OpenGait's HPP).
    Accepts ``[B, H, W, C]`` or ``[B, T, H, W, C]``. No weights.
    """

    def __init__(self, bin_num=(16, 8, 4, 2, 1), **kwargs):
        super().__init__(**kwargs)
        self.bin_num = tuple(int(b) for b in bin_num)

    def call(self, x):
        feats = []
        for b in self.bin_num:
            z = _strip_split(x, b)
            feats.append(ops.mean(z, axis=2) + ops.max(z, axis=2))
        return _restore_leading(ops.concatenate(feats, axis=1), x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-3]) + (sum(self.bin_num), input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "bin_num": list(self.bin_num)}


def gem(x, p, eps, axis):
    """Generalised mean ``mean(max(x, eps)^p)^(1/p)`` over ``axis`` (int or tuple).

    Computed as ``m * mean((x/m)^p)^(1/p)`` with ``m`` the (gradient-free) maximum: the same
    value for any ``m > 0``, but the powers stay in (0, 1] and the mean never underflows. The
    naive form turns a bin that is all ``eps`` into ``eps^6.5 ~ 1e-39``, which float32 flushes
    to 0, and the gradient of ``0^(1/p)`` is infinite (NaN weights after one step).
    """
    x = ops.maximum(x, eps)
    m = ops.stop_gradient(ops.max(x, axis=axis, keepdims=True))
    g = ops.power(ops.mean(ops.power(x / m, p), axis=axis, keepdims=True), 1.0 / p) * m
    return ops.squeeze(g, axis=axis)


@_serializable
class GeMHPP(keras.layers.Layer):
    """Generalised-mean horizontal pooling: ``[..., H, W, C] -> [..., P, C]``, P = sum(bins).

    Each chunk (as in :class:`HorizontalPoolingPyramid`) is pooled as
    ``mean(clamp(x, eps)^p)^(1/p)`` with one learnable exponent ``p`` (weight ``p`` [1],
    initialised to ``p_init`` = 6.5, OpenGait's GaitGL value).
    """

    def __init__(self, bin_num=(64,), p_init=6.5, eps=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.bin_num = tuple(int(b) for b in bin_num)
        self.p_init = float(p_init)
        self.eps = float(eps)

    def build(self, input_shape):
        self.p = self.add_weight(
            name="p", shape=(1,), initializer=keras.initializers.Constant(self.p_init), trainable=True
        )

    def call(self, x):
        p = self.p[0]
        feats = []
        for b in self.bin_num:
            feats.append(gem(_strip_split(x, b), p, self.eps, axis=2))
        return _restore_leading(ops.concatenate(feats, axis=1), x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-3]) + (sum(self.bin_num), input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "bin_num": list(self.bin_num), "p_init": self.p_init, "eps": self.eps}
