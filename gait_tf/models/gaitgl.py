"""GaitGL (Lin et al., ICCV 2021): global-local 3D convolutions + local temporal aggregation.

Keras 3 port following OpenGait's ``GaitGL`` (configs ``gaitgl.yaml``, ``gaitgl_OUMVLP.yaml``;
``bnneck=True`` gives the ``gaitgl_GREW_BNNeck.yaml`` head). Input ``[B, T, 64, 44, 1]``;
output ``{"embeddings": [B, 64, C], "logits": [B, 64, class_num]}``. Sequences shorter
than 3 frames are tiled to 3+ frames (OpenGait's rule) so any T >= 1 works.
"""
from __future__ import annotations

import keras

from gait_tf.errors import ModelError
from gait_tf.models import blocks
from gait_tf.models.registry import register_model

PRESETS = {
    "casia_b": {"channels": (32, 64, 128), "class_num": 74, "variant": "casia_b"},
    "oumvlp": {"channels": (32, 64, 128, 256), "class_num": 5153, "variant": "oumvlp"},
}


def _conv3d(filters, kernel, strides, padding, name):
    # FrameConv3D == Conv3D (same kernel layout) but XLA-friendly on CPU
    return blocks.FrameConv3D(filters, kernel, temporal_stride=strides if padding == "valid" else 1, name=name)


@register_model("gaitgl", presets=PRESETS, default_preset="casia_b", input_hw=(64, 44))
def gaitgl(
    channels=(32, 64, 128),
    class_num=74,
    variant="casia_b",
    bin_num=(64,),
    bnneck=False,
    input_hw=(64, 44),
    name="gaitgl",
):
    """GaitGL. ``variant="casia_b"``: 1 stem conv, single GLConvs with halving 3;
    ``variant="oumvlp"`` (OpenGait's OUMVLP/GREW branch): 2 stem convs, pairs of GLConvs with
    halving 1 and a 4th channel width. ``bnneck=False``: BN + separate-FC classifier head
    (embeddings = BN features); ``bnneck=True``: SeparateBNNecks (embeddings = pre-BN features).
    """
    if variant not in ("casia_b", "oumvlp"):
        raise ModelError(f"model 'gaitgl': variant must be 'casia_b' or 'oumvlp', got {variant!r}")
    c = [int(v) for v in channels]
    h, w = (int(v) for v in input_hw)
    inp = keras.Input(shape=(None, h, w, 1), name="silhouettes")
    x = blocks.RepeatShortSequence(3, name="repeat_short")(inp)
    x = _conv3d(c[0], (3, 3, 3), 1, "same", "conv3d_0")(x)
    x = blocks.leaky_relu("conv3d_act0")(x)
    if variant == "oumvlp":
        x = _conv3d(c[0], (3, 3, 3), 1, "same", "conv3d_2")(x)
        x = blocks.leaky_relu("conv3d_act2")(x)
    x = _conv3d(c[0], (3, 1, 1), 3, "valid", "lta")(x)
    x = blocks.leaky_relu("lta_act")(x)
    if variant == "casia_b":
        x = blocks.GLConv(c[1], halving=3, name="glconv_a0")(x)
        x = keras.layers.MaxPooling3D((1, 2, 2), name="maxpool0")(x)
        x = blocks.GLConv(c[2], halving=3, name="glconv_a1")(x)
        x = blocks.GLConv(c[2], halving=3, fm_sign=True, name="glconv_b2")(x)
    else:
        x = blocks.GLConv(c[1], halving=1, name="glconv_a0_0")(x)
        x = blocks.GLConv(c[1], halving=1, name="glconv_a0_1")(x)
        x = keras.layers.MaxPooling3D((1, 2, 2), name="maxpool0")(x)
        x = blocks.GLConv(c[2], halving=1, name="glconv_a1_0")(x)
        x = blocks.GLConv(c[2], halving=1, name="glconv_a1_1")(x)
        x = blocks.GLConv(c[3], halving=1, name="glconv_b2_0")(x)
        x = blocks.GLConv(c[3], halving=1, fm_sign=True, name="glconv_b2_1")(x)
    x = blocks.SetPooling(name="temporal_pool")(x)  # [B, H, W, C]
    x = blocks.GeMHPP(bin_num, name="hpp")(x)  # [B, P, C]
    parts = sum(int(b) for b in bin_num)
    gait = blocks.SeparateFCs(parts, c[-1], c[-1], name="head0")(x)
    if bnneck:
        _, logits = blocks.SeparateBNNecks(parts, c[-1], int(class_num), name="bnnecks")(gait)
        emb = gait
    else:
        emb = blocks.batch_norm("bn")(gait)
        logits = blocks.SeparateFCs(parts, c[-1], int(class_num), name="head1")(emb)
    return keras.Model(inp, {"embeddings": emb, "logits": logits}, name=name)
