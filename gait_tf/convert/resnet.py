"""OpenGait names of the residual blocks and the BNNeck head shared by GaitBase, DeepGaitV2,
SkeletonGait and SkeletonGait++ (see :mod:`gait_tf.models.blocks.residual`).

=========================  ===============================================  ==========================
Keras (block sub-layer)    torch ``BasicBlock`` / ``BasicBlock2D``           ``BasicBlockP3D``
=========================  ===============================================  ==========================
``conv1.kernel``           ``conv1.weight``                                 ``conv1.forward_block.0.weight``
``bn1``                    ``bn1.*``                                        ``conv1.forward_block.1.*``
``conv2.kernel``           ``conv2.weight``                                 ``conv2.forward_block.0.weight``
``bn2``                    ``bn2.*``                                        ``conv2.forward_block.1.*``
``shortcut3d``, ``sbn``    --                                               ``shortcut3d.weight``, ``sbn.*``
``down_conv``, ``down_bn`` ``downsample.0.weight``, ``downsample.1.*``      (same)
=========================  ===============================================  ==========================

``BasicBlock3D`` uses the ``BasicBlock`` names with 3D kernels. The head: ``FCs.fc_bin`` ->
``fcs``, ``BNNecks.fc_bin`` / ``BNNecks.bn1d.*`` (``[C*P]``, permuted) -> ``bnnecks``.
"""
from __future__ import annotations

from gait_tf.convert.common import Entry, bn_entries, conv_entry, parts_channels_vector
from gait_tf.models.blocks import ResidualBlockP3D


def residual_entries(prefix, block):
    """Entries of one residual block layer ``block`` whose torch module is at ``prefix``."""
    if isinstance(block, ResidualBlockP3D):
        names = {"conv1": "conv1.forward_block.0.weight", "bn1": "conv1.forward_block.1",
                 "conv2": "conv2.forward_block.0.weight", "bn2": "conv2.forward_block.1"}
    else:
        names = {"conv1": "conv1.weight", "bn1": "bn1", "conv2": "conv2.weight", "bn2": "bn2"}
    entries = [conv_entry(f"{prefix}.{names['conv1']}", block.conv1),
               conv_entry(f"{prefix}.{names['conv2']}", block.conv2)]
    entries += bn_entries(f"{prefix}.{names['bn1']}", block.bn1)
    entries += bn_entries(f"{prefix}.{names['bn2']}", block.bn2)
    if isinstance(block, ResidualBlockP3D):
        entries.append(conv_entry(f"{prefix}.shortcut3d.weight", block.shortcut3d))
        entries += bn_entries(f"{prefix}.sbn", block.sbn)
    if block.downsample:
        entries.append(conv_entry(f"{prefix}.downsample.0.weight", block.down_conv))
        entries += bn_entries(f"{prefix}.downsample.1", block.down_bn)
    return entries


def stage_entries(model, keras_prefix, torch_prefix):
    """Entries of every block ``{keras_prefix}_{j}`` -> ``{torch_prefix}.{j}``."""
    entries = []
    j = 0
    names = {layer.name for layer in model.layers}
    while f"{keras_prefix}_{j}" in names:
        entries += residual_entries(f"{torch_prefix}.{j}", model.get_layer(f"{keras_prefix}_{j}"))
        j += 1
    return entries


def bnneck_head_entries(model, fcs="FCs", bnnecks="BNNecks"):
    neck = model.get_layer("bnnecks")
    entries = [Entry([f"{fcs}.fc_bin"], model.get_layer("fcs").kernel),
               Entry([f"{bnnecks}.fc_bin"], neck.kernel)]
    entries += bn_entries(f"{bnnecks}.bn1d", neck.bn, parts_channels_vector(neck.parts_num, neck.in_channels))
    return entries


def stem_entries(model, keras_name, torch_prefix):
    """A ``Sequential(conv3x3, BatchNorm2d, ReLU)`` stem (``{keras_name}_conv``/``_bn``)."""
    return [conv_entry(f"{torch_prefix}.0.weight", model.get_layer(f"{keras_name}_conv"))] + bn_entries(
        f"{torch_prefix}.1", model.get_layer(f"{keras_name}_bn"))
