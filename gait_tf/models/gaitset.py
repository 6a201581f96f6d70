"""GaitSet (Chao et al., AAAI 2019): gait as a set of frames, with set pooling.

Keras 3 port following OpenGait's ``GaitSet`` (configs ``gaitset.yaml`` and
``gaitset_OUMVLP.yaml``). Input ``[B, T, 64, 44, 1]``; output
``{"embeddings": [B, 62, 256]}`` (62 = 2 x (16+8+4+2+1) horizontal bins).
"""
from __future__ import annotations

import keras

from gait_tf.models import blocks
from gait_tf.models.registry import register_model

PRESETS = {
    "casia_b": {"in_channels": (1, 32, 64, 128), "out_channels": 256},
    "oumvlp": {"in_channels": (1, 64, 128, 256), "out_channels": 256},
}


def _conv(filters, kernel, name):
    return keras.layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=name)


def _block(x, prefix, c_out, first_kernel=3, pool=True):
    """conv-leaky-conv-leaky(-maxpool2), layer names ``{prefix}_conv0/1`` (OpenGait indices 0/2)."""
    x = _conv(c_out, first_kernel, f"{prefix}_conv0")(x)
    x = blocks.leaky_relu(f"{prefix}_act0")(x)
    x = _conv(c_out, 3, f"{prefix}_conv1")(x)
    x = blocks.leaky_relu(f"{prefix}_act1")(x)
    if pool:
        x = keras.layers.MaxPooling2D(2, name=f"{prefix}_pool")(x)
    return x


@register_model("gaitset", presets=PRESETS, default_preset="casia_b", input_hw=(64, 44))
def gaitset(
    in_channels=(1, 32, 64, 128),
    out_channels=256,
    bin_num=(16, 8, 4, 2, 1),
    input_hw=(64, 44),
    name="gaitset",
):
    """GaitSet: per-frame CNN + set pooling + multilayer global pipeline + HPM.

    ``in_channels`` = (input, block1, block2, block3) channels; ``out_channels`` = embedding
    dim per part. Returns a functional ``keras.Model``: ``[B, T, H, W, 1]`` ->
    ``{"embeddings": [B, 2*sum(bin_num), out_channels]}``.
    """
    c = [int(v) for v in in_channels]
    h, w = (int(v) for v in input_hw)
    inp = keras.Input(shape=(None, h, w, c[0]), name="silhouettes")
    frames = blocks.FoldFrames(name="fold")(inp)

    x1 = _block(frames, "set_block1", c[1], first_kernel=5)
    x1_seq = blocks.UnfoldFrames(name="unfold1")([x1, inp])
    gl = blocks.SetPooling(name="set_pool1")(x1_seq)
    gl = _block(gl, "gl_block2", c[2])

    x2 = _block(x1, "set_block2", c[2])
    x2_seq = blocks.UnfoldFrames(name="unfold2")([x2, inp])
    gl = keras.layers.Add(name="gl_add2")([gl, blocks.SetPooling(name="set_pool2")(x2_seq)])
    gl = _block(gl, "gl_block3", c[3], pool=False)

    x3 = _block(x2, "set_block3", c[3], pool=False)
    x3_seq = blocks.UnfoldFrames(name="unfold3")([x3, inp])
    outs = blocks.SetPooling(name="set_pool3")(x3_seq)
    gl = keras.layers.Add(name="gl_add3")([gl, outs])

    f1 = blocks.HorizontalPoolingPyramid(bin_num, name="hpp_set")(outs)
    f2 = blocks.HorizontalPoolingPyramid(bin_num, name="hpp_gl")(gl)
    feat = keras.layers.Concatenate(axis=1, name="hpp_concat")([f1, f2])
    parts = 2 * sum(int(b) for b in bin_num)
    emb = blocks.SeparateFCs(parts, c[3], int(out_channels), name="head")(feat)
    return keras.Model(inp, {"embeddings": emb}, name=name)
