"""OpenGait ``GaitEdge`` state_dict names -> :func:`gait_tf.models.gaitedge.gaitedge` layers.

The U-Net (``Backbone.*``): ``Backbone.Conv{1..4}.conv.{0,3}.{weight,bias}`` /
``.conv.{1,4}.*`` -> ``seg_conv{i}_conv{0,1}`` / ``seg_conv{i}_bn{0,1}``;
``Backbone.Up{4,3,2}.up.1.*`` / ``.up.2.*`` -> ``seg_up{i}_conv`` / ``seg_up{i}_bn``;
``Backbone.Up_conv{4,3,2}.conv.*`` -> ``seg_up_conv{i}_*``; ``Backbone.Conv_1x1.*`` ->
``seg_conv_1x1``. GaitGL's parameters (``conv3d.*``, ``GLConv*``, ``Head0``, ``Bn``,
``Head1``, ...) sit at the top level, as GaitEdge subclasses GaitGL: they map onto the nested
``gaitgl`` model with :func:`gait_tf.convert.gaitgl.plan`.
"""
from gait_tf.convert import gaitgl
from gait_tf.convert.common import Entry, bn_entries, conv_entry


def _conv(key, layer):
    return [conv_entry(f"{key}.weight", layer), Entry([f"{key}.bias"], layer.bias)]


def _conv_block(model, keras_name, torch_name):
    g = model.get_layer
    out = []
    for j, (ci, bi) in enumerate(((0, 1), (3, 4))):
        out += _conv(f"{torch_name}.conv.{ci}", g(f"{keras_name}_conv{j}"))
        out += bn_entries(f"{torch_name}.conv.{bi}", g(f"{keras_name}_bn{j}"))
    return out


def plan(model):
    g = model.get_layer
    entries = []
    for i in (1, 2, 3, 4):
        entries += _conv_block(model, f"seg_conv{i}", f"Backbone.Conv{i}")
    for i in (4, 3, 2):
        entries += _conv(f"Backbone.Up{i}.up.1", g(f"seg_up{i}_conv"))
        entries += bn_entries(f"Backbone.Up{i}.up.2", g(f"seg_up{i}_bn"))
        entries += _conv_block(model, f"seg_up_conv{i}", f"Backbone.Up_conv{i}")
    entries += _conv("Backbone.Conv_1x1", g("seg_conv_1x1"))
    return entries + gaitgl.plan(g("gaitgl"))
