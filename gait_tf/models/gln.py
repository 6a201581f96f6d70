"""GLN — Gait Lateral Network (Hou et al., ECCV 2020).

Keras 3 port following OpenGait's ``GLN`` (configs ``gln_phase1.yaml`` /
``gln_phase2.yaml``). Phase 1 (``pretrain=True``) trains the lateral network with a
triplet loss; phase 2 adds the compact block (BN -> dropout -> ReLU -> FC -> BN -> classifier).
Input ``[B, T, 64, 44, 1]`` (or ``128x88`` with ``input_hw=(128, 88)``); output
``{"embeddings": [B, 93, 256]}`` (+ ``"logits": [B, 1, class_num]`` in phase 2).
"""
from __future__ import annotations

import keras
from keras import ops

from gait_tf.models import blocks
from gait_tf.models.registry import register_model

_CASIA = {"in_channels": (1, 32, 64, 128), "lateral_dim": 256, "hidden_dim": 256, "class_num": 74, "dropout": 0.9}
PRESETS = {
    # OpenGait gln_phase2.yaml (compact block; the final model)
    "casia_b": {**_CASIA, "pretrain": False},
    # OpenGait gln_phase1.yaml (lateral pre-training, no compact block)
    "casia_b_phase1": {**_CASIA, "pretrain": True},
    # the paper's 128x88 input option (same weights shapes: HPP and SeparateFCs are size-free)
    "casia_b_128": {**_CASIA, "pretrain": False, "input_hw": (128, 88)},
    # OU-MVLP: no OpenGait config; backbone widths doubled as in GaitSet's OU-MVLP setting
    "oumvlp": {**_CASIA, "in_channels": (1, 64, 128, 256), "class_num": 5153, "pretrain": False},
}


@keras.saving.register_keras_serializable(package="gait_tf")
class FlattenParts(keras.layers.Layer):
    """``[B, P, C] -> [B, P*C]`` (index ``p*C + c``)."""

    def call(self, x):
        return ops.reshape(x, (-1, x.shape[1] * x.shape[2]))

    def compute_output_shape(self, s):
        return (s[0], s[1] * s[2])


def _conv(filters, kernel, name):
    return keras.layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=name)


def _stage(x, prefix, c_out, first_kernel=3):
    x = _conv(c_out, first_kernel, f"{prefix}_conv0")(x)
    x = blocks.leaky_relu(f"{prefix}_act0")(x)
    x = _conv(c_out, 3, f"{prefix}_conv1")(x)
    return blocks.leaky_relu(f"{prefix}_act1")(x)


@register_model("gln", presets=PRESETS, default_preset="casia_b", input_hw=(64, 44))
def gln(
    in_channels=(1, 32, 64, 128),
    lateral_dim=256,
    hidden_dim=256,
    bin_num=(16, 8, 4, 2, 1),
    class_num=74,
    dropout=0.9,
    pretrain=False,
    input_hw=(64, 44),
    name="gln",
):
    """GLN: silhouette- and set-level stages fused by a lateral (FPN-like) path, HPP, separate FCs.

    ``[B, T, H, W, 1] -> {"embeddings": [B, 3*sum(bin_num), hidden_dim]}``; with
    ``pretrain=False`` also ``"logits": [B, 1, class_num]`` from the compact block.
    """
    c = [int(v) for v in in_channels]
    h, w = (int(v) for v in input_hw)
    inp = keras.Input(shape=(None, h, w, c[0]), name="silhouettes")
    fold = blocks.FoldFrames(name="fold")(inp)

    def unfold_pool(t, i):
        return blocks.SetPooling(name=f"set_pool_{i}")(blocks.UnfoldFrames(name=f"unfold_{i}")([t, inp]))

    sil0 = _stage(fold, "sil_stage_0", c[1], first_kernel=5)
    set0 = unfold_pool(sil0, "sil0")
    sil1_in = keras.layers.MaxPooling2D(2, name="maxp_sil1")(sil0)
    sil1 = _stage(sil1_in, "sil_stage_1", c[2])
    sil2_in = keras.layers.MaxPooling2D(2, name="maxp_sil2")(sil1)
    sil2 = _stage(sil2_in, "sil_stage_2", c[3])

    set1_in = unfold_pool(sil1_in, "sil1_in")
    set1_sil = unfold_pool(sil1, "sil1")
    set1 = keras.layers.Add(name="set_add1")([_stage(set1_in, "set_stage_1", c[2]), set1_sil])
    set2_in = keras.layers.MaxPooling2D(2, name="maxp_set2")(set1)
    set2_sil = unfold_pool(sil2, "sil2")
    set2 = keras.layers.Add(name="set_add2")([_stage(set2_in, "set_stage_2", c[3]), set2_sil])

    cat1 = keras.layers.Concatenate(name="cat1")([set0, set0])
    cat2 = keras.layers.Concatenate(name="cat2")([set1_sil, set1])
    cat3 = keras.layers.Concatenate(name="cat3")([set2_sil, set2])

    lat3 = keras.layers.Conv2D(lateral_dim, 1, use_bias=False, name="lateral_layer3")(cat3)
    lat2 = blocks.UpsampleAdd(name="upsample_add2")(
        [lat3, keras.layers.Conv2D(lateral_dim, 1, use_bias=False, name="lateral_layer2")(cat2)]
    )
    lat1 = blocks.UpsampleAdd(name="upsample_add1")(
        [lat2, keras.layers.Conv2D(lateral_dim, 1, use_bias=False, name="lateral_layer1")(cat1)]
    )
    s3 = _conv(lateral_dim, 3, "smooth_layer3")(lat3)
    s2 = _conv(lateral_dim, 3, "smooth_layer2")(lat2)
    s1 = _conv(lateral_dim, 3, "smooth_layer1")(lat1)
    feats = [blocks.HorizontalPoolingPyramid(bin_num, name=f"hpp{i}")(s) for i, s in ((1, s1), (2, s2), (3, s3))]
    feat = keras.layers.Concatenate(axis=1, name="hpp_concat")(feats)
    parts = 3 * sum(int(b) for b in bin_num)
    emb = blocks.SeparateFCs(parts, lateral_dim, hidden_dim, name="head")(feat)
    outputs = {"embeddings": emb}
    if not pretrain:
        z = FlattenParts(name="flatten_parts")(emb)
        z = blocks.batch_norm("encoder_bn")(z)
        z = keras.layers.Dropout(float(dropout), name="reduce_dp")(z)
        z = keras.layers.ReLU(name="reduce_ac")(z)
        z = keras.layers.Dense(hidden_dim, use_bias=False, name="reduce_fc")(z)
        z = blocks.batch_norm("reduce_bn")(z)
        logits = keras.layers.Dense(int(class_num), use_bias=False, name="reduce_cls")(z)
        outputs["logits"] = keras.layers.Reshape((1, int(class_num)), name="logits")(logits)
    return keras.Model(inp, outputs, name=name)
