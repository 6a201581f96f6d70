"""OpenGait ``SkeletonGaitPP`` state_dict names -> :func:`gait_tf.models.skeletongait.skeletongait_pp` layers.

``{sil,map}_layer0.forward_block.{0,1}.*`` -> ``{sil,map}_layer0_conv`` / ``_bn``;
``{sil,map}_layer1.forward_block.{j}.*`` -> ``{sil,map}_layer1_{j}``;
``fusion.conv.forward_block.{0,1,3,4,6}.*`` -> ``fusion`` ``conv0, bn0, conv1, bn1, conv2``;
``layer{2,3,4}.{j}.*`` (P3D) -> ``layer{i}_{j}`` (:mod:`gait_tf.convert.resnet`);
``FCs`` / ``BNNecks`` -> ``fcs`` / ``bnnecks``.
"""
from gait_tf.convert.common import bn_entries, conv_entry
from gait_tf.convert.resnet import bnneck_head_entries, stage_entries, stem_entries


def plan(model):
    entries = []
    for branch in ("sil", "map"):
        entries += stem_entries(model, f"{branch}_layer0", f"{branch}_layer0.forward_block")
        entries += stage_entries(model, f"{branch}_layer1", f"{branch}_layer1.forward_block")
    fusion = model.get_layer("fusion")
    prefix = "fusion.conv.forward_block"
    entries += [conv_entry(f"{prefix}.0.weight", fusion.conv0), conv_entry(f"{prefix}.3.weight", fusion.conv1),
                conv_entry(f"{prefix}.6.weight", fusion.conv2)]
    entries += bn_entries(f"{prefix}.1", fusion.bn0) + bn_entries(f"{prefix}.4", fusion.bn1)
    for i in (2, 3, 4):
        entries += stage_entries(model, f"layer{i}", f"layer{i}")
    return entries + bnneck_head_entries(model)
