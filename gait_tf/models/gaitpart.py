"""GaitPart (Fan et al., CVPR 2020): focal convolutions + per-part micro-motion capture.

Keras 3 port following OpenGait's ``GaitPart`` (configs ``gaitpart.yaml`` and
``gaitpart_OUMVLP.yaml``). Input ``[B, T, 64, 44, 1]``; output
``{"embeddings": [B, 16, C]}``.
"""
from __future__ import annotations

import keras

from gait_tf.errors import ModelError
from gait_tf.models import blocks
from gait_tf.models.registry import register_model

CASIA_B_LAYERS = ("BC-32", "BC-32", "M", "FC-64-2", "FC-64-2", "M", "FC-128-3", "FC-128-3")
OUMVLP_LAYERS = ("BC-32", "BC-32", "M", "BC-64", "BC-64", "M", "FC-128-3", "FC-128-3", "FC-256-3", "FC-256-3")

PRESETS = {
    "casia_b": {"layers_cfg": CASIA_B_LAYERS, "out_channels": 128},
    "oumvlp": {"layers_cfg": OUMVLP_LAYERS, "out_channels": 256},
}


def backbone_layout(layers_cfg):
    """``[(torch_index, kind, out_channels, halving, kernel)]`` of OpenGait's ``Plain`` backbone.

    ``kind`` is ``"BC"`` (basic conv), ``"FC"`` (focal conv) or ``"M"`` (max-pool 2x2);
    ``torch_index`` is the layer's position in ``Plain.feature`` (LeakyReLUs take a slot).
    """
    out, idx = [], 0
    for i, cfg in enumerate(layers_cfg):
        parts = str(cfg).split("-")
        if parts[0] == "M":
            out.append((idx, "M", None, 0, None))
            idx += 1
            continue
        if parts[0] not in ("BC", "FC"):
            raise ModelError(f"model 'gaitpart': layers_cfg entry {cfg!r}: expected BC-<c>, FC-<c>-<halving> or M")
        halving = int(parts[2]) if parts[0] == "FC" else 0
        out.append((idx, parts[0], int(parts[1]), halving, 5 if i == 0 else 3))
        idx += 2
    return out


@register_model("gaitpart", presets=PRESETS, default_preset="casia_b", input_hw=(64, 44))
def gaitpart(
    layers_cfg=CASIA_B_LAYERS,
    out_channels=128,
    bin_num=(16,),
    squeeze=4,
    input_hw=(64, 44),
    in_channels=1,
    name="gaitpart",
):
    """GaitPart: frame-level part representation (FConv) + TFA + separate FCs.

    ``layers_cfg`` follows OpenGait's Plain backbone (``BC-32``, ``FC-64-2``, ``M``).
    ``[B, T, H, W, 1] -> {"embeddings": [B, sum(bin_num), out_channels]}``.
    """
    h, w = (int(v) for v in input_hw)
    inp = keras.Input(shape=(None, h, w, int(in_channels)), name="silhouettes")
    x = blocks.FoldFrames(name="fold")(inp)
    c = int(in_channels)
    for idx, kind, filters, halving, kernel in backbone_layout(layers_cfg):
        if kind == "M":
            x = keras.layers.MaxPooling2D(2, name=f"backbone_pool{idx}")(x)
            continue
        if kind == "BC":
            x = keras.layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=f"backbone_conv{idx}")(x)
        else:
            x = blocks.FocalConv2D(filters, kernel, halving=halving, name=f"backbone_conv{idx}")(x)
        x = blocks.leaky_relu(f"backbone_act{idx + 1}")(x)
        c = filters
    x = blocks.HorizontalPoolingPyramid(bin_num, name="hpp")(x)  # [B*T, P, C]
    x = blocks.UnfoldFrames(name="unfold")([x, inp])  # [B, T, P, C]
    parts = sum(int(b) for b in bin_num)
    x = blocks.TemporalFeatureAggregator(parts, c, squeeze=squeeze, name="tfa")(x)  # [B, P, C]
    emb = blocks.SeparateFCs(parts, c, int(out_channels), name="head")(x)
    return keras.Model(inp, {"embeddings": emb}, name=name)
