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
        kh = np.tile(k.reshape(1, self.size, 1, 1), (1, 1, self.channels, 1))
        kv = np.tile(k.reshape(self.size, 1, 1, 1), (1, 1, self.channels, 1))
        x = ops.depthwise_conv(x, ops.convert_to_tensor(kh, dtype=x.dtype), padding="same")
        return ops.depthwise_conv(x, ops.convert_to_tensor(kv, dtype=x.dtype), padding="same")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "std": self.std, "kernel_sum": self.kernel_sum}
