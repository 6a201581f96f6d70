"""Official HSTL (OpenGait v1 names) state_dict -> :func:`gait_tf.models.hstl.hstl` layers.

``arme1.{0,2}.conv3d.weight`` -> ``arme1_{0,2}``;
``arme{k}.{j}.conv3d.{i}.conv3d.weight`` (region ``i``) -> ``arme{k}_{j}.kernel[i]``;
``astp{k}.proj.conv.weight`` ``[Cout, Cin, 1, 1]`` -> ``astp{k}.proj`` ``[Cin, Cout]``,
``astp{k}.hpp.{i}.p`` -> ``astp{k}.p[i]`` (same for ``astp2_fta``);
``fta.mma.{i}.fcs.{j}.{weight,bias}`` (``Conv1d(C, C, 1)``) -> ``fta.kernel[i, j]`` ``[C, C]``
(transposed) / ``fta.bias[i, j]``; ``HPP.p`` -> ``hpp.p``; ``Head0.fc_bin`` -> ``head0``;
``Bn.*`` -> ``bn``; ``Head1.fc_bin`` -> ``head1``.
"""
import numpy as np

from gait_tf.convert.common import Entry, bn_entries, conv_entry, conv_kernel
from gait_tf.models.hstl import FrameTemporalAggregation, RegionConv3D, RegionGeMPooling


def _stack_conv(arrays):
    return np.stack([conv_kernel([a]) for a in arrays])


def _proj(arrays):
    return arrays[0][:, :, 0, 0].T


def _stack_scalars(arrays):
    return np.concatenate([a.reshape(-1) for a in arrays])


def _fta_kernel(m):
    def fn(arrays):
        return np.stack([a[:, :, 0].T for a in arrays]).reshape((m, 2) + arrays[0].shape[:2][::-1])

    return fn


def _fta_bias(m):
    def fn(arrays):
        return np.stack(arrays).reshape(m, 2, -1)

    return fn


def plan(model):
    entries = []
    for layer in model.layers:
        name = layer.name
        if name.startswith("arme1_") and hasattr(layer, "kernel"):
            entries.append(conv_entry(f"arme1.{name.split('_')[1]}.conv3d.weight", layer))
        elif isinstance(layer, RegionConv3D):
            stage, j = name[len("arme"):].split("_")
            keys = [f"arme{stage}.{j}.conv3d.{i}.conv3d.weight" for i in range(len(layer.regions))]
            entries.append(Entry(keys, layer.kernel, _stack_conv))
        elif isinstance(layer, RegionGeMPooling):
            if layer.project:
                entries.append(Entry([f"{name}.proj.conv.weight"], layer.proj, _proj))
            keys = [f"{name}.hpp.{i}.p" for i in range(len(layer.regions))]
            entries.append(Entry(keys, layer.p, _stack_scalars))
        elif isinstance(layer, FrameTemporalAggregation):
            m = len(layer.regions)
            keys = [f"fta.mma.{i}.fcs.{j}.weight" for i in range(m) for j in range(2)]
            entries.append(Entry(keys, layer.kernel, _fta_kernel(m)))
            keys = [f"fta.mma.{i}.fcs.{j}.bias" for i in range(m) for j in range(2)]
            entries.append(Entry(keys, layer.bias, _fta_bias(m)))
    entries.append(Entry(["HPP.p"], model.get_layer("hpp").p))
    entries.append(Entry(["Head0.fc_bin"], model.get_layer("head0").kernel))
    entries += bn_entries("Bn", model.get_layer("bn"))
    entries.append(Entry(["Head1.fc_bin"], model.get_layer("head1").kernel))
    return entries
