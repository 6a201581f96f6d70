"""Shared Keras layers of the model zoo (GaitSet, GaitPart, GLN, GaitGL, GaitBase, DeepGaitV2, ...).

Split by kind, as KerasHub does: :mod:`~gait_tf.models.blocks.common` (PyTorch-parity
LeakyReLU/BatchNorm, parameter counts), :mod:`~gait_tf.models.blocks.frames` (frame folding,
set pooling), :mod:`~gait_tf.models.blocks.pooling` (HPP, GeM), :mod:`~gait_tf.models.blocks.heads`
(separate FCs, BNNecks), :mod:`~gait_tf.models.blocks.convolution` (focal, 3D-as-2D, GLConv,
PyTorch-padded strided convolutions), :mod:`~gait_tf.models.blocks.temporal` (TFA) and
:mod:`~gait_tf.models.blocks.residual` (2D / pseudo-3D / 3D residual blocks). Everything is
re-exported here: ``from gait_tf.models import blocks; blocks.SeparateFCs(...)``.

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
TorchConv2D            kernel [k, k, Cin, Cout], bias   weight [Cout, Cin, k, k] -> (2,3,1,0)
FrameConv3D            kernel [kt, kh, kw, Cin, Cout]   Conv3d.weight -> (2,3,4,1,0)
Residual blocks        conv1/conv2/down_conv, bn1/...   see :mod:`gait_tf.models.blocks.residual`
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
separately, GeM clamps at ``eps=1e-6`` before the power, strided convolutions pad
symmetrically (PyTorch) rather than Keras' bottom/right ``'same'``.
"""

from gait_tf.models.blocks.common import (
    BN_EPSILON,
    BN_MOMENTUM,
    LEAKY_SLOPE,
    batch_norm,
    count_parameters,
    leaky_relu,
)
from gait_tf.models.blocks.convolution import (
    FocalConv2D,
    FrameConv3D,
    GLConv,
    TorchConv2D,
    UpsampleAdd,
    conv3d_by_frames,
    torch_conv2d,
)
from gait_tf.models.blocks.frames import ChannelSlice, FoldFrames, RepeatShortSequence, SetPooling, UnfoldFrames
from gait_tf.models.blocks.heads import SeparateBNNecks, SeparateFCs
from gait_tf.models.blocks.pooling import GeMHPP, HorizontalPoolingPyramid, gem
from gait_tf.models.blocks.residual import (
    ResidualBlock2D,
    ResidualBlock3D,
    ResidualBlockP3D,
    needs_downsample,
)
from gait_tf.models.blocks.temporal import TemporalFeatureAggregator, partwise_conv1d, shifted_windows

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
    "ChannelSlice",
    "HorizontalPoolingPyramid",
    "GeMHPP",
    "gem",
    "SeparateFCs",
    "SeparateBNNecks",
    "FocalConv2D",
    "GLConv",
    "TorchConv2D",
    "torch_conv2d",
    "TemporalFeatureAggregator",
    "partwise_conv1d",
    "shifted_windows",
    "conv3d_by_frames",
    "FrameConv3D",
    "UpsampleAdd",
    "ResidualBlock2D",
    "ResidualBlockP3D",
    "ResidualBlock3D",
    "needs_downsample",
]
