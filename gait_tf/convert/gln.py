"""OpenGait ``GLN`` state_dict names -> :func:`gait_tf.models.gln.gln` layers.

``sil_stage_{0,1,2}.forward_block.{0,2}.conv.weight``, ``set_stage_{1,2}.{0,2}.conv.weight``,
``lateral_layer{1,2,3}.weight``, ``smooth_layer{1,2,3}.weight``, ``Head.fc_bin``; phase 2 adds
``encoder_bn.*`` (``[C*P]``, permuted to our ``[P*C]`` order), ``reduce_fc.weight``
(``[D, C*P]`` -> ``[P*C, D]``), ``reduce_bn.*`` and ``reduce_cls.weight``.
"""
from gait_tf.convert.common import Entry, bn_entries, conv_entry, linear_kernel, parts_channels_vector


def plan(model):
    entries = []
    for s in (0, 1, 2):
        for j, idx in enumerate((0, 2)):
            entries.append(conv_entry(f"sil_stage_{s}.forward_block.{idx}.conv.weight", model.get_layer(f"sil_stage_{s}_conv{j}")))
    for s in (1, 2):
        for j, idx in enumerate((0, 2)):
            entries.append(conv_entry(f"set_stage_{s}.{idx}.conv.weight", model.get_layer(f"set_stage_{s}_conv{j}")))
    for i in (1, 2, 3):
        entries.append(conv_entry(f"lateral_layer{i}.weight", model.get_layer(f"lateral_layer{i}")))
        entries.append(conv_entry(f"smooth_layer{i}.weight", model.get_layer(f"smooth_layer{i}")))
    head = model.get_layer("head")
    entries.append(Entry(["Head.fc_bin"], head.kernel))
    names = {layer.name for layer in model.layers}
    if "encoder_bn" in names:
        parts, dim = head.parts_num, head.out_channels
        entries += bn_entries("encoder_bn", model.get_layer("encoder_bn"), parts_channels_vector(parts, dim))
        fc = model.get_layer("reduce_fc")

        def reduce_fc(arrays, parts=parts, dim=dim):
            w = arrays[0]  # [D_out, C*P], input index c*P + p
            return w.reshape(w.shape[0], dim, parts).transpose(2, 1, 0).reshape(parts * dim, w.shape[0])

        entries.append(Entry(["reduce_fc.weight"], fc.kernel, reduce_fc))
        entries += bn_entries("reduce_bn", model.get_layer("reduce_bn"))
        entries.append(Entry(["reduce_cls.weight"], model.get_layer("reduce_cls").kernel, linear_kernel))
    return entries
