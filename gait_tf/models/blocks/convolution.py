"""Convolutions: focal (per-strip) 2D, 3D-as-2D (``conv3d_by_frames``), GaitGL's GLConv, GLN's lateral up-sampling."""
from __future__ import annotations

import keras
from keras import ops

from gait_tf.models.blocks.common import LEAKY_SLOPE, _serializable


def _fold_strips_2d(x, halving):
    """``[N, H, W, C] -> [N*k, H/k, W, C]`` with ``k = 2**halving`` (free reshape)."""
    k = 2**halving
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    return ops.reshape(x, (-1, h // k, w, c))


@_serializable
class FocalConv2D(keras.layers.Layer):
    """GaitPart's focal convolution: ``[N, H, W, Cin] -> [N, H, W, Cout]``.

    The map is cut into ``2**halving`` horizontal strips and the same ``kh x kw`` kernel
    (``kernel`` ``[kh, kw, Cin, Cout]``, stride 1, no bias) is applied to each strip with its
    own zero padding ('same'), so no information crosses strip borders. ``H`` must be
    divisible by ``2**halving``. ``halving=0`` is a plain convolution.
    """

    def __init__(self, filters, kernel_size=3, halving=0, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.halving = int(halving)

    def build(self, input_shape):
        h = input_shape[1]
        if h is not None and h % (2**self.halving):
            raise ValueError(f"FocalConv2D {self.name}: height {h} is not divisible by 2**{self.halving}")
        k = self.kernel_size
        self.kernel = self.add_weight(
            name="kernel", shape=(k, k, int(input_shape[-1]), self.filters), initializer="glorot_uniform"
        )

    def call(self, x):
        h, w = x.shape[1], x.shape[2]
        z = _fold_strips_2d(x, self.halving) if self.halving else x
        z = ops.conv(z, self.kernel, strides=1, padding="same")
        if self.halving:
            z = ops.reshape(z, (-1, h, w, self.filters))
        return z

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "halving": self.halving,
        }


def torch_conv2d(x, kernel, stride=1):
    """PyTorch ``Conv2d(padding=k//2)`` semantics: ``[N, H, W, Cin] * [kh, kw, Cin, Cout]`` ->
    ``[N, H', W', Cout]`` with ``H' = floor((H + 2*(kh//2) - kh) / stride) + 1`` (odd kernels).

    Zero padding is symmetric (``kh//2`` on both sides). Keras' ``'same'`` agrees for stride 1
    only: with stride 2 on an even size it pads the bottom/right only, shifting the sampling
    grid by one pixel (a parity breaker for every strided ResNet block). Strided 3x3 kernels
    run as ``tf.nn.conv2d`` with explicit padding, strided 1x1 kernels as a subsampled matmul.
    """
    kh, kw = kernel.shape[0], kernel.shape[1]
    if stride == 1:
        if kh == 1 and kw == 1:
            return ops.matmul(x, kernel[0, 0])
        return ops.conv(x, kernel, strides=1, padding="same")
    if kh == 1 and kw == 1:
        return ops.matmul(x[:, ::stride, ::stride], kernel[0, 0])
    import tensorflow as tf  # explicit padding is a TF-only Conv2D feature

    pad = [[0, 0], [kh // 2, kh // 2], [kw // 2, kw // 2], [0, 0]]
    return tf.nn.conv2d(x, kernel, strides=stride, padding=pad)


def conv3d_by_frames(x, kernel, temporal_stride=1, spatial_stride=1):
    """3D convolution ``[B, T, H, W, Cin] * [kt, kh, kw, Cin, Cout] -> [B, T', H', W', Cout]``
    computed as ONE 2D convolution over temporally stacked channels.

    ``temporal_stride=1``: 'same' zero padding in time (T' = T), the ``kt`` neighbouring frames
    of every frame are concatenated on the channel axis; ``temporal_stride=kt``: no temporal
    padding, non-overlapping groups of ``kt`` frames (T' = floor(T / kt), the remainder is
    dropped like PyTorch's 'valid' Conv3d). Space: zero padding ``kh//2``, ``kw//2`` on both
    sides and ``spatial_stride`` (PyTorch ``Conv3d(stride=(st, s, s), padding=(., kh//2, kw//2))``,
    see :func:`torch_conv2d`); stride 1 is 'same'. Exactly the maths of ``Conv3D``; it exists
    because XLA on CPU runs 3D convolutions 2-10x slower than 2D ones, while the TF kernels run
    both alike.
    """
    kt, kh, kw, cin, cout = kernel.shape
    h, w = x.shape[2], x.shape[3]
    t = ops.shape(x)[1]
    if temporal_stride == 1:
        r = kt // 2
        xp = ops.pad(x, ((0, 0), (r, r), (0, 0), (0, 0), (0, 0)))
        z = ops.concatenate([xp[:, i : i + t] for i in range(kt)], axis=-1) if kt > 1 else x
        t_out = t
    elif temporal_stride == kt:
        t_out = t // kt
        z = ops.reshape(x[:, : t_out * kt], (-1, t_out, kt, h, w, cin))
        z = ops.reshape(ops.transpose(z, (0, 1, 3, 4, 2, 5)), (-1, t_out, h, w, kt * cin))
    else:
        raise ValueError(f"temporal_stride must be 1 or kt={kt}, got {temporal_stride}")
    k2 = ops.reshape(ops.transpose(kernel, (1, 2, 0, 3, 4)), (kh, kw, kt * cin, cout))
    z = ops.reshape(z, (-1, h, w, kt * cin))
    y = torch_conv2d(z, k2, spatial_stride)
    return ops.reshape(y, (-1, t_out, y.shape[1], y.shape[2], cout))


def _strided(size, kernel, stride):
    """PyTorch output size with padding ``kernel//2``."""
    return None if size is None else (size + 2 * (kernel // 2) - kernel) // stride + 1


@_serializable
class FrameConv3D(keras.layers.Layer):
    """A bias-free 3D convolution ``[B, T, H, W, Cin] -> [B, T', H', W', Cout]`` run by
    :func:`conv3d_by_frames` (spatial zero padding ``k//2`` with ``spatial_stride``, 'same' for
    stride 1; temporal 'same' with stride 1, or 'valid' with stride = kt). Weight ``kernel``
    ``[kt, kh, kw, Cin, Cout]`` as ``Conv3D`` (PyTorch ``Conv3d.weight`` ``[Cout, Cin, kt, kh, kw]``).
    """

    def __init__(self, filters, kernel_size=(3, 3, 3), temporal_stride=1, spatial_stride=1, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        ks = (kernel_size,) * 3 if isinstance(kernel_size, int) else kernel_size
        self.kernel_size = tuple(int(k) for k in ks)
        self.temporal_stride = int(temporal_stride)
        self.spatial_stride = int(spatial_stride)

    def build(self, input_shape):
        shape = self.kernel_size + (int(input_shape[-1]), self.filters)
        self.kernel = self.add_weight(name="kernel", shape=shape, initializer="glorot_uniform")

    def call(self, x):
        return conv3d_by_frames(x, self.kernel, self.temporal_stride, self.spatial_stride)

    def compute_output_shape(self, input_shape):
        b, t, h, w, _ = input_shape
        if t is not None and self.temporal_stride > 1:
            t = t // self.temporal_stride
        _, kh, kw = self.kernel_size
        return (b, t, _strided(h, kh, self.spatial_stride), _strided(w, kw, self.spatial_stride), self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "temporal_stride": self.temporal_stride,
            "spatial_stride": self.spatial_stride,
        }


@_serializable
class TorchConv2D(keras.layers.Layer):
    """A 2D convolution with PyTorch ``Conv2d(k, stride, padding=k//2, bias=use_bias)``
    semantics (:func:`torch_conv2d`): ``[N, H, W, Cin] -> [N, H', W', Cout]``,
    ``H' = floor((H + 2*(k//2) - k) / stride) + 1``. Weights ``kernel`` ``[k, k, Cin, Cout]``
    (PyTorch ``weight`` ``[Cout, Cin, k, k]``) and ``bias`` ``[Cout]`` when ``use_bias``.
    """

    def __init__(self, filters, kernel_size=3, stride=1, use_bias=False, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.stride = int(stride)
        self.use_bias = bool(use_bias)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"TorchConv2D {self.name}: kernel_size must be odd, got {kernel_size}")

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(k, k, int(input_shape[-1]), self.filters),
                                      initializer="glorot_uniform")
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, x):
        y = torch_conv2d(x, self.kernel, self.stride)
        return y + self.bias if self.use_bias else y

    def compute_output_shape(self, input_shape):
        k, s = self.kernel_size, self.stride
        return (input_shape[0], _strided(input_shape[1], k, s), _strided(input_shape[2], k, s), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "stride": self.stride, "use_bias": self.use_bias}


@_serializable
class GLConv(keras.layers.Layer):
    """GaitGL's global-local 3D convolution: ``[B, T, H, W, Cin] -> [B, T, H', W, Cout]``.

    A global 3x3x3 convolution over the whole map and a local one applied to each of
    ``2**halving`` horizontal strips separately (own zero padding per strip), both stride 1,
    'same' padding, no bias (``global_kernel``/``local_kernel`` ``[kt, kh, kw, Cin, Cout]``).
    ``fm_sign=False``: ``leaky(global) + leaky(local)`` (H' = H); ``fm_sign=True``:
    ``leaky(concat([global, local], axis=H))`` (H' = 2H). LeakyReLU slope 0.01.
    """

    def __init__(self, filters, halving, fm_sign=False, kernel_size=(3, 3, 3), **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.halving = int(halving)
        self.fm_sign = bool(fm_sign)
        self.kernel_size = tuple(int(k) for k in kernel_size)

    def build(self, input_shape):
        h = input_shape[2]
        if h is not None and h % (2**self.halving):
            raise ValueError(f"GLConv {self.name}: height {h} is not divisible by 2**{self.halving}")
        shape = self.kernel_size + (int(input_shape[-1]), self.filters)
        self.global_kernel = self.add_weight(name="global_kernel", shape=shape, initializer="glorot_uniform")
        self.local_kernel = self.add_weight(name="local_kernel", shape=shape, initializer="glorot_uniform")

    def call(self, x):
        g = conv3d_by_frames(x, self.global_kernel)
        if self.halving == 0:
            lcl = conv3d_by_frames(x, self.local_kernel)
        else:
            k = 2**self.halving
            h, w, c = x.shape[2], x.shape[3], x.shape[4]
            t = ops.shape(x)[1]
            z = ops.reshape(x, (-1, t, k, h // k, w, c))
            z = ops.transpose(z, (0, 2, 1, 3, 4, 5))
            z = ops.reshape(z, (-1, t, h // k, w, c))
            z = conv3d_by_frames(z, self.local_kernel)
            z = ops.reshape(z, (-1, k, t, h // k, w, self.filters))
            z = ops.transpose(z, (0, 2, 1, 3, 4, 5))
            lcl = ops.reshape(z, (-1, t, h, w, self.filters))
        if self.fm_sign:
            return ops.leaky_relu(ops.concatenate([g, lcl], axis=2), negative_slope=LEAKY_SLOPE)
        return ops.leaky_relu(g, negative_slope=LEAKY_SLOPE) + ops.leaky_relu(lcl, negative_slope=LEAKY_SLOPE)

    def compute_output_shape(self, input_shape):
        b, t, h, w, _ = input_shape
        if self.fm_sign and h is not None:
            h = 2 * h
        return (b, t, h, w, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "halving": self.halving,
            "fm_sign": self.fm_sign,
            "kernel_size": list(self.kernel_size),
        }



@_serializable
class UpsampleAdd(keras.layers.Layer):
    """``(x [B, h, w, C], y [B, 2h, 2w, C]) -> nearest_upsample_x2(x) + y`` (GLN's lateral path)."""

    def call(self, inputs):
        x, y = inputs
        x = ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)
        return x + y

    def compute_output_shape(self, input_shapes):
        return input_shapes[1]
