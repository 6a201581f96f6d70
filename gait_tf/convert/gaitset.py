"""OpenGait ``GaitSet`` state_dict names -> :func:`gait_tf.models.gaitset.gaitset` layers.

``set_block{1,2,3}.forward_block.{0,2}.conv.weight`` -> ``set_block{b}_conv{0,1}``,
``gl_block{2,3}.{0,2}.conv.weight`` -> ``gl_block{b}_conv{0,1}``, ``Head.fc_bin`` -> ``head``.
"""
from gait_tf.convert.common import Entry, conv_entry


def plan(model):
    entries = []
    for b in (1, 2, 3):
        for j, idx in enumerate((0, 2)):
            entries.append(conv_entry(f"set_block{b}.forward_block.{idx}.conv.weight", model.get_layer(f"set_block{b}_conv{j}")))
    for b in (2, 3):
        for j, idx in enumerate((0, 2)):
            entries.append(conv_entry(f"gl_block{b}.{idx}.conv.weight", model.get_layer(f"gl_block{b}_conv{j}")))
    entries.append(Entry(["Head.fc_bin"], model.get_layer("head").kernel))
    return entries
