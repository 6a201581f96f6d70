"""Residual blocks of the ResNet-like gait backbones (GaitBase, DeepGaitV2, SkeletonGait).

Three blocks with the same contract ``relu(F(x) + shortcut(x))``, where the shortcut is the
identity or, with ``downsample=True``, a strided 1x1(x1) convolution + BatchNorm:

- :class:`ResidualBlock2D` on frames ``[N, H, W, Cin] -> [N, H', W', C]``: torchvision's
  ``BasicBlock`` / OpenGait's ``BasicBlock2D`` (3x3 conv, BN, ReLU, 3x3 conv, BN).
- :class:`ResidualBlockP3D` on sequences ``[B, T, H, W, Cin] -> [B, T, H', W', C]``: OpenGait's
  ``BasicBlockP3D``: a per-frame 3x3 conv + BN + ReLU, then a temporal (3,1,1) convolution
  added back (``relu(y + BN(conv_t(y)))``), a per-frame 3x3 conv + BN, the shortcut, ReLU.
- :class:`ResidualBlock3D` on sequences: OpenGait's ``BasicBlock3D`` (3x3x3 convolutions).

``H' = floor((H + 2 - 3) / stride) + 1`` (PyTorch padding, see
:func:`~gait_tf.models.blocks.convolution.torch_conv2d`); temporal stride is always 1.
Whether a block has the downsample shortcut is an explicit argument: the builders apply the
reference rule (``stride > 1`` or ``Cin != C``) because they know ``Cin``.

Sub-layers and weights (Keras -> PyTorch):

==========================  ==========================================  =========================
block                       Keras sub-layer (weight shape)              PyTorch module
==========================  ==========================================  =========================
all                         ``conv1``, ``conv2`` kernels                 ``conv1``, ``conv2``
                            ``bn1``, ``bn2`` BatchNormalization          ``bn1``, ``bn2``
                            ``down_conv`` kernel, ``down_bn``           ``downsample.0``, ``.1``
ResidualBlock2D             ``TorchConv2D`` ``[3, 3, Cin, C]``           ``Conv2d [C, Cin, 3, 3]``
ResidualBlockP3D            ``conv1``/``conv2`` ``TorchConv2D``          ``conv1.forward_block.0``
                            ``bn1``/``bn2``                              ``conv1.forward_block.1``
                            ``shortcut3d`` ``[3, 1, 1, C, C]``, ``sbn``  ``shortcut3d``, ``sbn``
                            ``down_conv`` ``[1, 1, 1, Cin, C]``          ``Conv3d [C, Cin, 1,1,1]``
ResidualBlock3D             ``FrameConv3D`` ``[3, 3, 3, Cin, C]``        ``Conv3d [C, Cin, 3,3,3]``
==========================  ==========================================  =========================
"""
from __future__ import annotations

import keras
from keras import ops

from gait_tf.models.blocks.common import _serializable, batch_norm
from gait_tf.models.blocks.convolution import FrameConv3D, TorchConv2D


class _ResidualBase(keras.layers.Layer):
    """Shared config, building and shortcut logic of the three blocks."""

    def __init__(self, filters, stride=1, downsample=False, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.stride = int(stride)
        self.downsample = bool(downsample)
        self.bn1 = batch_norm("bn1")
        self.bn2 = batch_norm("bn2")
        if self.downsample:
            self.down_bn = batch_norm("down_bn")

    def _build_sublayers(self, pairs):
        for layer, shape in pairs:
            layer.build(shape)

    def _shortcut(self, x, training):
        if not self.downsample:
            return x
        return self.down_bn(self.down_conv(x), training=training)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stride": self.stride,
                "downsample": self.downsample}


class _TwoConvResidual(_ResidualBase):
    """conv1 -> BN -> ReLU -> conv2 -> BN, plus the shortcut, then ReLU: the body shared by
    the 2D and the 3D block (their subclasses make ``conv1``, ``conv2`` and ``down_conv``)."""

    def build(self, input_shape):
        out = self.conv1.compute_output_shape(input_shape)
        pairs = [(self.conv1, input_shape), (self.bn1, out), (self.conv2, out), (self.bn2, out)]
        if self.downsample:
            pairs += [(self.down_conv, input_shape), (self.down_bn, out)]
        self._build_sublayers(pairs)

    def call(self, x, training=None):
        y = ops.relu(self.bn1(self.conv1(x), training=training))
        y = self.bn2(self.conv2(y), training=training)
        return ops.relu(y + self._shortcut(x, training))

    def compute_output_shape(self, input_shape):
        return self.conv1.compute_output_shape(input_shape)


@_serializable
class ResidualBlock2D(_TwoConvResidual):
    """Per-frame basic block: ``[N, H, W, Cin] -> [N, H', W', filters]`` (see module doc)."""

    def __init__(self, filters, stride=1, downsample=False, **kwargs):
        super().__init__(filters, stride, downsample, **kwargs)
        self.conv1 = TorchConv2D(self.filters, 3, self.stride, name="conv1")
        self.conv2 = TorchConv2D(self.filters, 3, 1, name="conv2")
        if self.downsample:
            self.down_conv = TorchConv2D(self.filters, 1, self.stride, name="down_conv")



@_serializable
class ResidualBlockP3D(_ResidualBase):
    """Pseudo-3D block: ``[B, T, H, W, Cin] -> [B, T, H', W', filters]`` (see module doc).

    The 2D convolutions run on frames folded into the batch; the temporal (3,1,1)
    convolution (zero padding 1 in time) is a matmul over 3 stacked neighbouring frames.
    """

    def __init__(self, filters, stride=1, downsample=False, **kwargs):
        super().__init__(filters, stride, downsample, **kwargs)
        self.conv1 = TorchConv2D(self.filters, 3, self.stride, name="conv1")
        self.conv2 = TorchConv2D(self.filters, 3, 1, name="conv2")
        self.shortcut3d = FrameConv3D(self.filters, (3, 1, 1), name="shortcut3d")
        self.sbn = batch_norm("sbn")
        if self.downsample:
            self.down_conv = FrameConv3D(self.filters, (1, 1, 1), spatial_stride=self.stride, name="down_conv")

    def build(self, input_shape):
        frame = (None,) + tuple(input_shape[2:])
        out2d = self.conv1.compute_output_shape(frame)
        out5d = (input_shape[0], input_shape[1]) + tuple(out2d[1:])
        pairs = [(self.conv1, frame), (self.bn1, out2d), (self.shortcut3d, out5d), (self.sbn, out5d),
                 (self.conv2, out2d), (self.bn2, out2d)]
        if self.downsample:
            pairs += [(self.down_conv, input_shape), (self.down_bn, out5d)]
        self._build_sublayers(pairs)

    def call(self, x, training=None):
        t = ops.shape(x)[1]
        frames = ops.reshape(x, (-1,) + tuple(x.shape[2:]))
        y = ops.relu(self.bn1(self.conv1(frames), training=training))
        y = ops.reshape(y, (-1, t) + tuple(y.shape[1:]))
        y = ops.relu(y + self.sbn(self.shortcut3d(y), training=training))
        h, w = y.shape[2], y.shape[3]
        y = self.bn2(self.conv2(ops.reshape(y, (-1, h, w, self.filters))), training=training)
        y = ops.reshape(y, (-1, t, h, w, self.filters))
        return ops.relu(y + self._shortcut(x, training))

    def compute_output_shape(self, input_shape):
        out2d = self.conv1.compute_output_shape((None,) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(out2d[1:])


@_serializable
class ResidualBlock3D(_TwoConvResidual):
    """3D block: ``[B, T, H, W, Cin] -> [B, T, H', W', filters]`` with 3x3x3 convolutions
    (spatial stride ``stride`` in the first one; temporal stride 1, zero padding 1)."""

    def __init__(self, filters, stride=1, downsample=False, **kwargs):
        super().__init__(filters, stride, downsample, **kwargs)
        self.conv1 = FrameConv3D(self.filters, (3, 3, 3), spatial_stride=self.stride, name="conv1")
        self.conv2 = FrameConv3D(self.filters, (3, 3, 3), name="conv2")
        if self.downsample:
            self.down_conv = FrameConv3D(self.filters, (1, 1, 1), spatial_stride=self.stride, name="down_conv")



def needs_downsample(in_channels, filters, stride):
    """The reference rule for a projection shortcut: ``stride > 1`` or a change of width."""
    return int(stride) > 1 or int(in_channels) != int(filters)
