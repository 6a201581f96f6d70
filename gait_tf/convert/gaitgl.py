"""OpenGait ``GaitGL`` state_dict names -> :func:`gait_tf.models.gaitgl.gaitgl` layers.

``conv3d.{0,2}.conv3d.weight`` -> ``conv3d_{0,2}``, ``LTA.0.conv3d.weight`` -> ``lta``,
``GLConvA0[.i].{global,local}_conv3d.conv3d.weight`` -> ``glconv_a0[_i].{global,local}_kernel``
(same for A1, B2), ``HPP.p`` -> ``hpp.p``, ``Head0.fc_bin`` -> ``head0``; head: ``Bn.*`` ->
``bn`` and ``Head1.fc_bin`` -> ``head1``, or ``BNNecks.bn1d.*`` (permuted) / ``BNNecks.fc_bin``
-> ``bnnecks``.
"""
from gait_tf.convert.common import Entry, bn_entries, conv_entry, parts_channels_vector
from gait_tf.models.blocks import GLConv


def _torch_glconv_name(keras_name):
    # glconv_a0 -> GLConvA0 ; glconv_b2_1 -> GLConvB2.1
    parts = keras_name.split("_")
    base = "GLConv" + parts[1].upper()
    return base if len(parts) == 2 else f"{base}.{parts[2]}"


def plan(model):
    entries = []
    for layer in model.layers:
        if layer.name.startswith("conv3d_") and hasattr(layer, "kernel"):
            entries.append(conv_entry(f"conv3d.{layer.name.split('_')[1]}.conv3d.weight", layer))
        elif isinstance(layer, GLConv):
            base = _torch_glconv_name(layer.name)
            entries.append(conv_entry(f"{base}.global_conv3d.conv3d.weight", layer, "global_kernel"))
            entries.append(conv_entry(f"{base}.local_conv3d.conv3d.weight", layer, "local_kernel"))
    entries.append(conv_entry("LTA.0.conv3d.weight", model.get_layer("lta")))
    entries.append(Entry(["HPP.p"], model.get_layer("hpp").p))
    entries.append(Entry(["Head0.fc_bin"], model.get_layer("head0").kernel))
    names = {layer.name for layer in model.layers}
    if "bnnecks" in names:
        neck = model.get_layer("bnnecks")
        entries += bn_entries("BNNecks.bn1d", neck.bn, parts_channels_vector(neck.parts_num, neck.in_channels))
        entries.append(Entry(["BNNecks.fc_bin"], neck.kernel))
    else:
        entries += bn_entries("Bn", model.get_layer("bn"))
        entries.append(Entry(["Head1.fc_bin"], model.get_layer("head1").kernel))
    return entries
