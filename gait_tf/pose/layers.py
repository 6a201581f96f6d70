"""Custom Keras layers of the pose pipeline (registered, serialisable)."""
from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops


def gauss_kernel_1d(size: int, std: float, kernel_sum: float = 1.0) -> np.ndarray:
    """The original's separable smoothing filter.

    Samples a N(0, std) density at ``linspace(-2, 2, size)`` (so ``std`` is in units of
    ``4 / (size - 1)`` pixels), normalises it to sum 1, and multiplies by
    ``sqrt(kernel_sum)`` so the 2-D (horizontal x vertical) filter sums to ``kernel_sum``.
    Returns float32 ``[size]``.
    """
    xs = np.linspace(-2.0, 2.0, size)
    w = np.exp(-0.5 * (xs / std) ** 2) / (std * math.sqrt(2.0 * math.pi))
    w = w / w.sum() * math.sqrt(kernel_sum)
    return w.astype(np.float32)


def in_xla_context() -> bool:
    """True while TensorFlow traces a function for XLA (``jit_compile=True``).

    XLA:CPU compiles depthwise (feature-grouped) convolutions and strided transposed
    convolutions into slow loops (50x and 2x slower than TensorFlow's kernels for the
    pose head), so the layers below switch to XLA-friendly formulations of the *same*
    maths there. Uses a private TensorFlow helper; False when it is unavailable.
    """
    try:
        from tensorflow.python.framework import ops as tf_ops
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - other backends / TF layouts
        return False
    try:
        return bool(control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph()))
    except Exception:  # noqa: BLE001 - eager or an unexpected graph: the default kernels
        return False


def _shifted_sum_1d(x, taps, axis):
    """``sum_i taps[i] * x`` shifted by ``i - len(taps) // 2`` along ``axis`` with zero padding
    (SAME correlation with an odd-length 1-D kernel); XLA fuses it into one loop."""
    from gait_tf.models.blocks import shifted_windows

    return sum(w * float(tap) for w, tap in zip(shifted_windows(x, len(taps), 0.0, axis=axis), taps))


@keras.saving.register_keras_serializable(package="gait_tf")
class GaussianSmoothing(keras.layers.Layer):
    """Fixed separable Gaussian smoothing of every channel (depthwise, SAME padding).

    ``[B, H, W, C]`` -> ``[B, H, W, C]``. No trainable weights.
    The original uses ``size=21, std=1.0, kernel_sum=0.2`` on the upsampled logits
    (sigma = 5 px) and ``size=15, std=0.7, kernel_sum=1.0`` on the sigmoid heat maps
    (sigma = 2.45 px).
    """

    def __init__(self, size=21, std=1.0, kernel_sum=1.0, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        self.std = float(std)
        self.kernel_sum = float(kernel_sum)

    def build(self, input_shape):
        self.channels = int(input_shape[-1])
        self.built = True

    def call(self, x):
        k = gauss_kernel_1d(self.size, self.std, self.kernel_sum)
        if in_xla_context() and self.size % 2 == 1:
            # same result (within float rounding) as the depthwise convolutions below
            return _shifted_sum_1d(_shifted_sum_1d(x, k, 2), k, 1)
        kh = np.tile(k.reshape(1, self.size, 1, 1), (1, 1, self.channels, 1))
        kv = np.tile(k.reshape(self.size, 1, 1, 1), (1, 1, self.channels, 1))
        x = ops.depthwise_conv(x, ops.convert_to_tensor(kh, dtype=x.dtype), padding="same")
        return ops.depthwise_conv(x, ops.convert_to_tensor(kv, dtype=x.dtype), padding="same")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "std": self.std, "kernel_sum": self.kernel_sum}


@keras.saving.register_keras_serializable(package="gait_tf")
class PatchUpsampling(keras.layers.Conv2DTranspose):
    """``Conv2DTranspose`` whose kernel equals its stride (``padding="valid"``): every input
    pixel writes its own non-overlapping ``k x k`` output patch (the pose head's 17x17 ->
    289x289 upsampling). Same weights and results as ``Conv2DTranspose``; under XLA it runs
    as one matmul plus a reshape (7x faster on CPU than XLA's dilated convolution).

    ``[B, H, W, C_in]`` -> ``[B, H*k, W*k, filters]``.
    """

    def call(self, inputs):
        k = tuple(self.kernel_size)
        if not (in_xla_context() and tuple(self.strides) == k and self.padding == "valid"
                and self.data_format == "channels_last" and tuple(self.dilation_rate) == (1, 1)):
            return super().call(inputs)
        kernel = ops.cast(self.kernel, inputs.dtype)  # [kh, kw, out, in]
        y = ops.einsum("bhwi,pqoi->bhpwqo", inputs, kernel)
        shape = ops.shape(inputs)
        y = ops.reshape(y, (shape[0], shape[1] * k[0], shape[2] * k[1], self.filters))
        if self.use_bias:
            y = y + ops.cast(self.bias, y.dtype)
        if self.activation is not None:
            y = self.activation(y)
        return y
