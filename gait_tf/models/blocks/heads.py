"""Part heads: one fully-connected map per part, BNNecks."""
from __future__ import annotations

import keras
from keras import ops

from gait_tf.models.blocks.common import _serializable, batch_norm


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
