"""Constants and helpers shared by all blocks: PyTorch-parity LeakyReLU/BatchNorm, parameter counts."""
from __future__ import annotations

import keras
import numpy as np


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
