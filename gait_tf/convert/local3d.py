"""Official 3D Local CNN state_dict -> :func:`gait_tf.models.local3d.local3d` layers.

``backbone.layer{i}.conv.weight`` -> ``backbone_layer{i}`` (``backbone.layer{i}.conv.conv.weight``
for the ``fconv`` backbone, whose ``FConv`` wraps a ``BasicConv2d``);
``local.{part}.localization.convs.{0,4,7}.*`` (BatchNorm3d) -> ``{part}_loc_bn{0,4,7}``,
``local.{part}.localization.convs.{3,6,10}.weight`` -> ``{part}_loc_conv{3,6,10}``,
``local.{part}.localization.fc.0.{weight,bias}`` -> ``{part}_loc_fc`` (the input index
``c*8 + t*4 + h*2 + w`` of the flattened ``[C, 2, 2, 2]`` map is permuted to our
``(t, h, w, c)`` order), ``local.{part}.localization.fc.1.*`` -> ``{part}_loc_fc_bn``;
``local.{part}.feature_extraction.conv{1,2}.weight`` -> ``{part}_conv{1,2}``;
``local.feature_fusion.0.weight`` -> ``fusion``;
``temporal_pool.layer{1,2}.conv{1,2}.{weight,bias}`` (grouped ``Conv1d``, one group per strip)
-> ``temporal_pool.conv3x{1,3}_{a,b}`` ``[P, k, Cin, Cout]`` / ``*_bias`` ``[P, Cout]``
(``layer1`` is the k=3 template builder ``3x1``, ``layer2`` the k=5 one ``3x3``);
``hpm.fc.weight`` (grouped 1x1 ``Conv2d`` ``[P*D, C, 1, 1]``) -> ``hpm`` ``[P, C, D]``.
"""
from gait_tf.convert.common import Entry, bn_entries, conv_entry
from gait_tf.models.blocks import FocalConv2D
from gait_tf.models.local3d_ops import PART_NAMES


def _grouped_conv1d(parts):
    def fn(arrays):
        w = arrays[0]  # [P*Cout, Cin, k]
        cout = w.shape[0] // parts
        return w.reshape(parts, cout, w.shape[1], w.shape[2]).transpose(0, 3, 2, 1)

    return fn


def _grouped_bias(parts):
    def fn(arrays):
        return arrays[0].reshape(parts, -1)

    return fn


def _grouped_fc(parts):
    def fn(arrays):
        w = arrays[0][:, :, 0, 0]  # [P*D, C]
        return w.reshape(parts, w.shape[0] // parts, w.shape[1]).transpose(0, 2, 1)

    return fn


def _loc_fc(arrays):
    w = arrays[0]  # [7, C*8], input index c*8 + t*4 + h*2 + w
    n = w.shape[0]
    c = w.shape[1] // 8
    return w.reshape(n, c, 2, 2, 2).transpose(2, 3, 4, 1, 0).reshape(8 * c, n)


def plan(model):
    g = model.get_layer
    fconv = isinstance(g("backbone_layer1"), FocalConv2D)
    key = "backbone.layer{}.conv.conv.weight" if fconv else "backbone.layer{}.conv.weight"
    entries = [conv_entry(key.format(i), g(f"backbone_layer{i}")) for i in range(1, 7)]
    for part in PART_NAMES:
        tp = f"local.{part}"
        for i in (0, 4, 7):
            entries += bn_entries(f"{tp}.localization.convs.{i}", g(f"{part}_loc_bn{i}"))
        for i in (3, 6, 10):
            entries.append(conv_entry(f"{tp}.localization.convs.{i}.weight", g(f"{part}_loc_conv{i}")))
        fc = g(f"{part}_loc_fc")
        entries.append(Entry([f"{tp}.localization.fc.0.weight"], fc.kernel, _loc_fc))
        entries.append(Entry([f"{tp}.localization.fc.0.bias"], fc.bias))
        entries += bn_entries(f"{tp}.localization.fc.1", g(f"{part}_loc_fc_bn"))
        for i in (1, 2):
            entries.append(conv_entry(f"{tp}.feature_extraction.conv{i}.weight", g(f"{part}_conv{i}")))
    entries.append(conv_entry("local.feature_fusion.0.weight", g("fusion")))
    mcm = g("temporal_pool")
    for layer in (1, 2):
        for conv, sub in ((1, "a"), (2, "b")):
            key = f"temporal_pool.layer{layer}.conv{conv}"
            name = f"conv{('3x1', '3x3')[layer - 1]}_{sub}"
            entries.append(Entry([f"{key}.weight"], getattr(mcm, name), _grouped_conv1d(mcm.parts_num)))
            entries.append(Entry([f"{key}.bias"], getattr(mcm, f"{name}_bias"), _grouped_bias(mcm.parts_num)))
    hpm = g("hpm")
    entries.append(Entry(["hpm.fc.weight"], hpm.kernel, _grouped_fc(hpm.parts_num)))
    return entries
