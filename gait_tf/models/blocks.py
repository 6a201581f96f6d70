"""Shared Keras layers of the silhouette model zoo (GaitSet, GaitPart, GLN, GaitGL, ...).

All layers are channels-last. Shapes use ``B`` batch, ``T`` frames (dynamic, any T >= 1),
``N`` = B*T when frames are folded into the batch, ``H, W`` feature-map height/width,
``C`` channels, ``P`` parts (horizontal strips / bins).

Weight layouts are documented per layer so that :mod:`gait_tf.convert` can map
PyTorch (OpenGait) tensors onto them; layout changes happen at the converter boundary,
never inside the models:

=====================  ===============================  =====================================
layer                  Keras weight (shape)              OpenGait tensor (shape) -> transform
=====================  ===============================  =====================================
keras Conv2D           kernel [kh, kw, Cin, Cout]       conv.weight [Cout, Cin, kh, kw] -> (2,3,1,0)
FocalConv2D            kernel [kh, kw, Cin, Cout]       conv.weight (same as Conv2D)
GLConv                 global_kernel/local_kernel       *_conv3d.conv3d.weight [Cout,Cin,kt,kh,kw]
                       [kt, kh, kw, Cin, Cout]          -> (2,3,4,1,0)
SeparateFCs            kernel [P, Cin, Cout]            fc_bin [P, Cin, Cout] (identity)
GeMHPP                 p [1]                            p [1]
TemporalFeatureAgg.    conv3x1_a [P, 3, C, C/4]         conv1d3x1.{p}.0.conv.weight [C/4, C, 3]
                       conv3x1_b [P, 1, C/4, C]         conv1d3x1.{p}.2.conv.weight [C, C/4, 1]
                       conv3x3_a [P, 3, C, C/4]         conv1d3x3.{p}.0.conv.weight
                       conv3x3_b [P, 3, C/4, C]         conv1d3x3.{p}.2.conv.weight
                                                        -> per part (2,1,0), stacked over p
SeparateBNNecks        bn (BatchNormalization over      bn1d.{weight,bias,running_*} [C*P]
                       the flattened [P*C] features),   (index c*P+p -> p*C+c);
                       kernel [P, C, classes]           fc_bin [P, C, classes]
=====================  ===============================  =====================================

PyTorch parity notes: LeakyReLU slope is 0.01 (:data:`LEAKY_SLOPE`), BatchNorm epsilon is
1e-5 and momentum 0.9 in Keras terms (0.1 in PyTorch terms), average pooling counts the
padded zeros (PyTorch's ``count_include_pad=True``), focal convolutions pad each strip
separately, GeM clamps at ``eps=1e-6`` before the power.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

LEAKY_SLOPE = 0.01  # PyTorch nn.LeakyReLU default (Keras' default is 0.3)
BN_EPSILON = 1e-5  # PyTorch BatchNorm default
BN_MOMENTUM = 0.9  # = 1 - PyTorch momentum 0.1

_serializable = keras.saving.register_keras_serializable(package="gait_tf")


def leaky_relu(name=None):
    """A ``LeakyReLU`` with PyTorch's default slope 0.01."""
    return keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=name)


def batch_norm(name=None, axis=-1):
    """A ``BatchNormalization`` with PyTorch's epsilon (1e-5) and momentum (0.1)."""
    return keras.layers.BatchNormalization(axis=axis, epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


def count_parameters(model) -> int:
    """Number of *parameters* in PyTorch's sense: all weights except BatchNorm moving statistics.

    Keras' ``count_params`` also counts ``moving_mean``/``moving_variance`` (PyTorch buffers);
    this is the figure comparable with ``sum(p.numel() for p in torch_model.parameters())``.
    """
    total = 0
    for var in model.weights:
        if var.path.endswith(("moving_mean", "moving_variance")):
            continue
        total += int(np.prod(var.shape))
    return total


# --------------------------------------------------------------------------- frames


@_serializable
class FoldFrames(keras.layers.Layer):
    """``[B, T, *F] -> [B*T, *F]``: fold frames into the batch so 2D layers run per frame.

    The trailing feature shape ``F`` must be static. Undo with :class:`UnfoldFrames`.
    """

    def call(self, x):
        return ops.reshape(x, (-1,) + tuple(x.shape[2:]))

    def compute_output_shape(self, input_shape):
        b, t = input_shape[0], input_shape[1]
        n = b * t if (b is not None and t is not None) else None
        return (n,) + tuple(input_shape[2:])


@_serializable
class UnfoldFrames(keras.layers.Layer):
    """``([B*T, *F], reference [B, T, ...]) -> [B, T, *F]``: inverse of :class:`FoldFrames`.

    ``T`` is read from the reference tensor at run time (dynamic sequence length).
    """

    def call(self, inputs):
        x, ref = inputs
        t = ops.shape(ref)[1]
        return ops.reshape(x, (-1, t) + tuple(x.shape[1:]))

    def compute_output_shape(self, input_shapes):
        x, ref = input_shapes
        return (ref[0], ref[1]) + tuple(x[1:])


@_serializable
class SetPooling(keras.layers.Layer):
    """Set pooling: ``[B, T, *F] -> [B, *F]``, maximum over the frame axis (order-free).

    Equivalent to OpenGait's ``PackSequenceWrapper(torch.max)`` for one sequence per sample.
    """

    def call(self, x):
        return ops.max(x, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])


@_serializable
class RepeatShortSequence(keras.layers.Layer):
    """Tile a sequence whose length is below ``min_frames`` (GaitGL, OpenGait's rule).

    ``[B, T, *F] -> [B, T', *F]`` where ``T' = 3T`` if T == 1, ``2T`` if T == 2, else ``T``
    (for the default ``min_frames=3``; in general the sequence is repeated
    ``ceil(min_frames / T)`` times). Whole-sequence repetition, as ``Tensor.repeat`` does.
    """

    def __init__(self, min_frames=3, **kwargs):
        super().__init__(**kwargs)
        self.min_frames = int(min_frames)

    def call(self, x):
        import tensorflow as tf  # dynamic multiples: tf.tile takes a tensor

        t = tf.shape(x)[1]
        reps = tf.maximum((self.min_frames + t - 1) // t, 1)
        multiples = tf.concat([[1], [reps], tf.ones([len(x.shape) - 2], tf.int32)], axis=0)
        return tf.tile(x, multiples)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "min_frames": self.min_frames}


# --------------------------------------------------------------------------- pooling


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


# --------------------------------------------------------------------------- heads


@_serializable
class SeparateFCs(keras.layers.Layer):
    """One fully-connected map per part: ``[B, P, Cin] -> [B, P, Cout]``.

    Weight ``kernel`` ``[P, Cin, Cout]`` (OpenGait ``fc_bin``, same layout). With
    ``norm=True`` each column of the kernel is L2-normalised over ``Cin`` first.
    """

    def __init__(self, parts_num, in_channels, out_channels, norm=False, **kwargs):
        super().__init__(**kwargs)
        self.parts_num = int(parts_num)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.norm = bool(norm)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.parts_num, self.in_channels, self.out_channels),
            initializer="glorot_uniform",
        )

    def call(self, x):
        w = self.kernel
        if self.norm:
            w = w / ops.maximum(ops.norm(w, axis=1, keepdims=True), 1e-12)
        return ops.einsum("bpi,pio->bpo", x, w)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.parts_num, self.out_channels)

    def get_config(self):
        return {
            **super().get_config(),
            "parts_num": self.parts_num,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "norm": self.norm,
        }


@_serializable
class SeparateBNNecks(keras.layers.Layer):
    """BNNeck per part: ``[B, P, C] -> (features [B, P, C], logits [B, P, classes])``.

    A BatchNorm over all ``P*C`` features (sub-layer ``bn`` on the flattened ``[B, P*C]``,
    index ``p*C + c``; OpenGait's ``bn1d`` uses index ``c*P + p`` — the converter permutes),
    then, with ``norm=True``, features and the class kernel (``kernel`` ``[P, C, classes]``,
    OpenGait ``fc_bin``) are L2-normalised (cosine logits).
    """

    def __init__(self, parts_num, in_channels, class_num, norm=True, **kwargs):
        super().__init__(**kwargs)
        self.parts_num = int(parts_num)
        self.in_channels = int(in_channels)
        self.class_num = int(class_num)
        self.norm = bool(norm)
        self.bn = batch_norm(name="bn")

    def build(self, input_shape):
        self.bn.build((None, self.parts_num * self.in_channels))
        self.kernel = self.add_weight(
            name="kernel", shape=(self.parts_num, self.in_channels, self.class_num), initializer="glorot_uniform"
        )

    def call(self, x, training=None):
        z = ops.reshape(x, (-1, self.parts_num * self.in_channels))
        z = ops.reshape(self.bn(z, training=training), (-1, self.parts_num, self.in_channels))
        w = self.kernel
        if self.norm:
            z = z / ops.maximum(ops.norm(z, axis=-1, keepdims=True), 1e-12)
            w = w / ops.maximum(ops.norm(w, axis=1, keepdims=True), 1e-12)
        return z, ops.einsum("bpi,pio->bpo", z, w)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.parts_num, self.in_channels), (input_shape[0], self.parts_num, self.class_num)

    def get_config(self):
        return {
            **super().get_config(),
            "parts_num": self.parts_num,
            "in_channels": self.in_channels,
            "class_num": self.class_num,
            "norm": self.norm,
        }


# --------------------------------------------------------------------------- convolutions


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


def conv3d_by_frames(x, kernel, temporal_stride=1):
    """3D convolution ``[B, T, H, W, Cin] * [kt, kh, kw, Cin, Cout] -> [B, T', H, W, Cout]``
    computed as ONE 2D convolution over temporally stacked channels.

    ``temporal_stride=1``: 'same' zero padding in time (T' = T), the ``kt`` neighbouring frames
    of every frame are concatenated on the channel axis; ``temporal_stride=kt``: no temporal
    padding, non-overlapping groups of ``kt`` frames (T' = floor(T / kt), the remainder is
    dropped like PyTorch's 'valid' Conv3d). Space is always 'same', stride 1. Exactly the
    maths of ``Conv3D``; it exists because XLA on CPU runs 3D convolutions 2-10x slower than
    2D ones, while the TF kernels run both alike.
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
    if kh == 1 and kw == 1:
        y = ops.matmul(z, k2[0, 0])
    else:
        y = ops.conv(z, k2, strides=1, padding="same")
    return ops.reshape(y, (-1, t_out, h, w, cout))


@_serializable
class FrameConv3D(keras.layers.Layer):
    """A bias-free 3D convolution ``[B, T, H, W, Cin] -> [B, T', H, W, Cout]`` run by
    :func:`conv3d_by_frames` (spatial 'same', stride 1; temporal 'same' with stride 1, or
    'valid' with stride = kt). Weight ``kernel`` ``[kt, kh, kw, Cin, Cout]`` as ``Conv3D``.
    """

    def __init__(self, filters, kernel_size=(3, 3, 3), temporal_stride=1, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        ks = (kernel_size,) * 3 if isinstance(kernel_size, int) else kernel_size
        self.kernel_size = tuple(int(k) for k in ks)
        self.temporal_stride = int(temporal_stride)

    def build(self, input_shape):
        shape = self.kernel_size + (int(input_shape[-1]), self.filters)
        self.kernel = self.add_weight(name="kernel", shape=shape, initializer="glorot_uniform")

    def call(self, x):
        return conv3d_by_frames(x, self.kernel, self.temporal_stride)

    def compute_output_shape(self, input_shape):
        b, t, h, w, _ = input_shape
        if t is not None and self.temporal_stride > 1:
            t = t // self.temporal_stride
        return (b, t, h, w, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "temporal_stride": self.temporal_stride,
        }


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


# --------------------------------------------------------------------------- temporal


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


@_serializable
class UpsampleAdd(keras.layers.Layer):
    """``(x [B, h, w, C], y [B, 2h, 2w, C]) -> nearest_upsample_x2(x) + y`` (GLN's lateral path)."""

    def call(self, inputs):
        x, y = inputs
        x = ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)
        return x + y

    def compute_output_shape(self, input_shapes):
        return input_shapes[1]


__all__ = [
    "LEAKY_SLOPE",
    "BN_EPSILON",
    "BN_MOMENTUM",
    "leaky_relu",
    "batch_norm",
    "count_parameters",
    "FoldFrames",
    "UnfoldFrames",
    "SetPooling",
    "RepeatShortSequence",
    "HorizontalPoolingPyramid",
    "GeMHPP",
    "SeparateFCs",
    "SeparateBNNecks",
    "FocalConv2D",
    "GLConv",
    "TemporalFeatureAggregator",
    "partwise_conv1d",
    "shifted_windows",
    "conv3d_by_frames",
    "FrameConv3D",
    "UpsampleAdd",
]
