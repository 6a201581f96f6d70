"""Segmentation → 3D-CNN stem.

The flow is ``Input → Segmentation → Conv3d(3→1, kernel (1,7,7), stride (1,2,2),
padding (0,3,3)) → BatchNorm3d → MaxPool3d(kernel (1,3,3), stride (1,2,2), padding (0,1,1))``.

Segmentation multiplies the RGB frames by a person mask, so that the convolution sees a
clean body edge instead of background texture. The mask comes from an explicit input
(ground truth, background subtraction) or from any Keras segmenter given to the layer
(e.g. the U-Net in :mod:`gait_tf.segmentation`).

Padding follows PyTorch: zero padding before the convolution, ``-inf`` padding before
the max pool, so output sizes follow the Conv3d output-size formula
``out = floor((in + 2*pad - kernel) / stride) + 1`` (see :func:`stem_output_size`).
"""
from __future__ import annotations

import keras
from keras import layers, ops

from gait_tf.errors import ModelError


def conv_output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """PyTorch's Conv/Pool output size: ``floor((size + 2*pad - kernel) / stride) + 1``."""
    out = (size + 2 * pad - kernel) // stride + 1
    if out < 1:
        raise ModelError(f"input size {size} too small for kernel {kernel}, stride {stride}, pad {pad}")
    return out


def stem_output_size(height: int, width: int) -> tuple[int, int]:
    """Spatial output ``(H', W')`` of :class:`SegmentationStem3D` for an ``H × W`` input."""
    h = conv_output_size(conv_output_size(height, 7, 2, 3), 3, 2, 1)
    w = conv_output_size(conv_output_size(width, 7, 2, 3), 3, 2, 1)
    return h, w


@keras.saving.register_keras_serializable(package="gait_tf")
class SegmentationStem3D(layers.Layer):
    """Masked-RGB 3D stem.

    Call with ``frames`` ``[B, T, H, W, 3]`` float32 and optionally ``mask``
    ``[B, T, H, W, 1]`` (or ``[B, T, H, W]``) in [0, 1]. Without a mask the layer's
    ``segmenter`` (a Keras model mapping ``[N, H, W, 3]`` frames to ``[N, H, W, 1]``
    foreground probabilities) is applied per frame; with neither, frames pass unmasked
    (the "without segmentation" baseline).

    Returns ``[B, T, H', W', filters]`` with ``(H', W') = stem_output_size(H, W)``.
    """

    def __init__(self, filters=1, segmenter=None, use_segmentation=True, bn_epsilon=1e-5,
                 bn_momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.use_segmentation = bool(use_segmentation)
        self.segmenter = segmenter
        self.bn_epsilon = bn_epsilon
        self.bn_momentum = bn_momentum
        self.pad_conv = layers.ZeroPadding3D(padding=(0, 3, 3))
        self.conv = layers.Conv3D(self.filters, (1, 7, 7), strides=(1, 2, 2), padding="valid", use_bias=False,
                                  name="conv")
        # PyTorch BatchNorm3d defaults: eps 1e-5, momentum 0.1 (== Keras momentum 0.9)
        self.bn = layers.BatchNormalization(epsilon=bn_epsilon, momentum=bn_momentum, name="bn")
        self.pool = layers.MaxPooling3D(pool_size=(1, 3, 3), strides=(1, 2, 2), padding="valid")

    def build(self, frames_shape, mask_shape=None):
        if frames_shape[-1] != 3:
            raise ModelError(f"SegmentationStem3D expects RGB frames [B, T, H, W, 3], got shape {frames_shape}")
        b, t, h, w, c = frames_shape
        self.conv.build((b, t, h + 6 if h else None, w + 6 if w else None, c))
        self.bn.build((b, t, None, None, self.filters))
        self.built = True

    def segment(self, frames, mask=None):
        """The masked frames ``[B, T, H, W, 3]``."""
        if not self.use_segmentation:
            return frames
        if mask is None:
            if self.segmenter is None:
                return frames
            shape = ops.shape(frames)
            flat = ops.reshape(frames, (-1, shape[2], shape[3], 3))
            mask = ops.reshape(self.segmenter(flat), (shape[0], shape[1], shape[2], shape[3], 1))
        elif len(mask.shape) == 4:
            mask = ops.expand_dims(mask, -1)
        return frames * ops.cast(mask, frames.dtype)

    def call(self, frames, mask=None, training=None):
        x = self.segment(frames, mask)
        x = self.conv(self.pad_conv(x))
        x = self.bn(x, training=training)
        # PyTorch MaxPool3d pads with -inf, not zeros
        x = ops.pad(x, [[0, 0], [0, 0], [1, 1], [1, 1], [0, 0]], constant_values=float("-inf"))
        return self.pool(x)

    def compute_output_shape(self, frames_shape, mask_shape=None):
        b, t, h, w, _ = frames_shape
        if h is None or w is None:
            return (b, t, None, None, self.filters)
        return (b, t, *stem_output_size(h, w), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            use_segmentation=self.use_segmentation,
            bn_epsilon=self.bn_epsilon,
            bn_momentum=self.bn_momentum,
            segmenter=keras.saving.serialize_keras_object(self.segmenter) if self.segmenter is not None else None,
        )
        return config

    @classmethod
    def from_config(cls, config):
        seg = config.pop("segmenter", None)
        if seg is not None:
            seg = keras.saving.deserialize_keras_object(seg)
        return cls(segmenter=seg, **config)
