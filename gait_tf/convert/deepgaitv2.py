"""OpenGait ``DeepGaitV2`` state_dict names -> :func:`gait_tf.models.deepgaitv2.deepgaitv2` layers
(also SkeletonGait, which is ``DeepGaitV2`` on 2-channel heatmaps).

``layer0.forward_block.{0,1}.*`` -> ``layer0_conv`` / ``layer0_bn``;
``layer1.forward_block.{j}.*`` -> ``layer1_{j}``; ``layer{2,3,4}.{j}.*`` (P3D / 3D) or
``layer{2,3,4}.forward_block.{j}.*`` (2D, wrapped per frame) -> ``layer{i}_{j}``
(:mod:`gait_tf.convert.resnet`); ``FCs`` / ``BNNecks`` -> ``fcs`` / ``bnnecks``.
"""
from gait_tf.convert.resnet import bnneck_head_entries, stage_entries, stem_entries
from gait_tf.models.blocks import ResidualBlock2D


def plan(model):
    entries = stem_entries(model, "layer0", "layer0.forward_block")
    entries += stage_entries(model, "layer1", "layer1.forward_block")
    per_frame = isinstance(model.get_layer("layer2_0"), ResidualBlock2D)
    for i in (2, 3, 4):
        entries += stage_entries(model, f"layer{i}", f"layer{i}.forward_block" if per_frame else f"layer{i}")
    return entries + bnneck_head_entries(model)
