"""OpenGait ``Baseline`` (GaitBase) state_dict names -> :func:`gait_tf.models.gaitbase.gaitbase` layers.

``Backbone.forward_block.conv1.conv.weight`` -> ``conv1``, ``Backbone.forward_block.bn1.*`` ->
``bn1``, ``Backbone.forward_block.layer{i}.{j}.*`` -> ``layer{i}_{j}`` (torchvision
``BasicBlock`` names, :mod:`gait_tf.convert.resnet`), ``FCs.fc_bin`` -> ``fcs``,
``BNNecks.*`` -> ``bnnecks``.
"""
from gait_tf.convert.common import bn_entries, conv_entry
from gait_tf.convert.resnet import bnneck_head_entries, stage_entries


def plan(model):
    prefix = "Backbone.forward_block"
    entries = [conv_entry(f"{prefix}.conv1.conv.weight", model.get_layer("conv1"))]
    entries += bn_entries(f"{prefix}.bn1", model.get_layer("bn1"))
    for i in range(1, 5):
        entries += stage_entries(model, f"layer{i}", f"{prefix}.layer{i}")
    return entries + bnneck_head_entries(model)
