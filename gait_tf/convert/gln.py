"""OpenGait ``GLN`` state_dict names -> :func:`gait_tf.models.gln.gln` layers.

``sil_stage_{0,1,2}.forward_block.{0,2}.conv.weight``, ``set_stage_{1,2}.{0,2}.conv.weight``,
``lateral_layer{1,2,3}.weight``, ``smooth_layer{1,2,3}.weight``, ``Head.fc_bin``; phase 2 adds
``encoder_bn.*`` (``[C*P]``, permuted to our ``[P*C]`` order), ``reduce_fc.weight``
(``[D, C*P]`` -> ``[P*C, D]``), ``reduce_bn.*`` and ``reduce_cls.weight``.
"""
from gait_tf.convert.common import Entry, bn_entries, conv_entry, linear_kernel, parts_channels_vector

#: OpenGait's GLN configs (configs/gln/gln_phase{1,2}.yaml) read 128-pixel pickles cut to 128 x 88
OPENGAIT_INPUT_HW = (128, 88)
_ARCH_KEYS = ("pretrain", "in_channels", "lateral_dim", "hidden_dim", "class_num", "input_hw")


def _phase2(state):
    return any(k.startswith(("encoder_bn.", "reduce_fc.", "reduce_cls.")) for k in state)


def infer(state, preset, overrides):
    """What a GLN checkpoint tells about the model: phase (phase 2 has the compact block:
    ``encoder_bn``/``reduce_*`` keys), widths, classes. The input size is not stored in the
    weights (HPP and separate FCs do not depend on it): without a preset or ``input_hw`` it is
    OpenGait's 128 x 88. Only what the caller did not fix (no ``preset``, no override) is filled."""
    if preset is not None:
        return preset, {}, []
    notes, out = [], {}
    phase2 = _phase2(state)
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    guesses = {"pretrain": not phase2}
    try:
        guesses["in_channels"] = (shapes["sil_stage_0.forward_block.0.conv.weight"][1],
                                  shapes["sil_stage_0.forward_block.0.conv.weight"][0],
                                  shapes["sil_stage_1.forward_block.0.conv.weight"][0],
                                  shapes["sil_stage_2.forward_block.0.conv.weight"][0])
        guesses["lateral_dim"] = shapes["lateral_layer1.weight"][0]
        guesses["hidden_dim"] = shapes["Head.fc_bin"][2]
    except KeyError:
        pass  # not a GLN checkpoint: the plan names the missing keys
    if phase2 and "reduce_cls.weight" in shapes:
        guesses["class_num"] = shapes["reduce_cls.weight"][0]
    for key, value in guesses.items():
        if key not in overrides:
            out[key] = value
    if "pretrain" in out:
        notes.append(f"GLN phase {2 if phase2 else 1} from the checkpoint's keys "
                     f"({'with' if phase2 else 'no'} compact block encoder_bn/reduce_*)")
    if "input_hw" not in overrides:
        out["input_hw"] = OPENGAIT_INPUT_HW
        notes.append("input_hw [128, 88]: OpenGait's GLN configs (img_w 128); the weights do not fix it, "
                     "use --set input_hw=[64,44] for 64 x 44 silhouettes")
    return None, out, notes


def hint(state):
    """The flags that fit a GLN checkpoint (appended to a conversion error)."""
    if _phase2(state):
        return ("the checkpoint is GLN phase 2 (compact block present): use --preset casia_b "
                "(64 x 44) or --preset casia_b_128 (OpenGait's 128 x 88), or no --preset")
    return ("the checkpoint is GLN phase 1 (no encoder_bn/reduce_* keys, Lateral_pretraining): use "
            "--preset casia_b_phase1 --set input_hw=[128,88] (OpenGait's gln_phase1.yaml), or no --preset")


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
