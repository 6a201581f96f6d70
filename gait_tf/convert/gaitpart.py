"""OpenGait ``GaitPart`` state_dict names -> :func:`gait_tf.models.gaitpart.gaitpart` layers.

``Backbone.forward_block.feature.{i}.conv.weight`` -> ``backbone_conv{i}`` (same index),
``TFA.pooling_func.conv1d3x{1,3}.{p}.{0,2}.conv.weight`` (one Conv1d per part) -> the stacked
``tfa`` kernels ``conv3x{1,3}_{a,b}`` ``[P, k, Cin, Cout]``, ``Head.fc_bin`` -> ``head``.
"""
from gait_tf.convert.common import Entry, conv_entry, stacked_conv1d


def plan(model):
    entries = []
    for layer in model.layers:
        if layer.name.startswith("backbone_conv"):
            idx = int(layer.name[len("backbone_conv"):])
            entries.append(conv_entry(f"Backbone.forward_block.feature.{idx}.conv.weight", layer))
    tfa = model.get_layer("tfa")
    for mtb in ("3x1", "3x3"):
        for sub, idx in (("a", 0), ("b", 2)):
            keys = [f"TFA.pooling_func.conv1d{mtb}.{p}.{idx}.conv.weight" for p in range(tfa.parts_num)]
            entries.append(Entry(keys, getattr(tfa, f"conv{mtb}_{sub}"), stacked_conv1d))
    entries.append(Entry(["Head.fc_bin"], model.get_layer("head").kernel))
    return entries
