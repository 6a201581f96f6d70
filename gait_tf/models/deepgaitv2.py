"""DeepGaitV2 (Fan et al., "Exploring Deep Models for Practical Gait Recognition", 2023).

OpenGait's ``DeepGaitV2``: a per-frame 3x3 stem (conv + BN + ReLU) and a first stage of 2D
residual blocks, then three stages of 2D, pseudo-3D (P3D) or 3D residual blocks
(:mod:`gait_tf.models.blocks.residual`), temporal max pooling, horizontal pooling (16 strips,
mean + max), separate FCs (``channels[3] -> channels[2]``) and BNNecks. Input
``[B, T, 64, 44, 1]`` in [0, 1]; output ``{"embeddings": [B, 16, channels[2]], "logits":
[B, 16, class_num]}`` (embeddings: the separate-FC features, or the BNNeck features with
``use_emb2=True``, as OpenGait's ``use_emb2``).

Presets follow configs/deepgaitv2/DeepGaitV2_*.yaml (all P3D; ``layers`` [1, 1, 1, 1] on
CASIA-B / OU-MVLP / CCPG / SUSTech1K, [1, 4, 4, 1] on Gait3D / GREW); ``mode`` and the
``channels``/``layers`` (width/depth) options apply to every preset, e.g.
``create("deepgaitv2", preset="oumvlp", mode="3d")`` for the published OU-MVLP 3D model.
"""
from __future__ import annotations

import keras

from gait_tf.errors import ModelError
from gait_tf.models import blocks
from gait_tf.models.registry import register_model

MODES = ("2d", "p3d", "3d")
_BLOCKS = {"2d": blocks.ResidualBlock2D, "p3d": blocks.ResidualBlockP3D, "3d": blocks.ResidualBlock3D}
_SHALLOW = {"mode": "p3d", "layers": (1, 1, 1, 1), "channels": (64, 128, 256, 512)}
_DEEP = {"mode": "p3d", "layers": (1, 4, 4, 1), "channels": (64, 128, 256, 512)}
PRESETS = {
    "casia_b": {**_SHALLOW, "class_num": 74},
    "oumvlp": {**_SHALLOW, "class_num": 5153},
    "ccpg": {**_SHALLOW, "class_num": 100},
    "sustech1k": {**_SHALLOW, "class_num": 250},
    "gait3d": {**_DEEP, "class_num": 3000},
    "grew": {**_DEEP, "class_num": 20000},
}


def residual_stage(x, mode, in_channels, filters, n_blocks, stride, prefix):
    """``n_blocks`` residual blocks of ``mode`` (``2d`` on frames ``[N, H, W, C]``, ``p3d``/``3d``
    on sequences ``[B, T, H, W, C]``) named ``{prefix}_{j}``; the first one strides and, by
    OpenGait's rule, gets a projection shortcut when it strides or changes the width."""
    block = _BLOCKS[mode]
    cin = int(in_channels)
    for j in range(int(n_blocks)):
        s = int(stride) if j == 0 else 1
        down = j == 0 and blocks.needs_downsample(cin, filters, s)
        x = block(int(filters), s, down, name=f"{prefix}_{j}")(x)
        cin = int(filters)
    return x


def stem(x, filters, name):
    """Per-frame 3x3 conv + BN + ReLU (OpenGait ``layer0``): ``[N, H, W, C] -> [N, H, W, filters]``."""
    x = blocks.TorchConv2D(int(filters), 3, 1, name=f"{name}_conv")(x)
    x = blocks.batch_norm(f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def gait_head(x, parts_in, parts_out, class_num, use_emb2):
    """Temporal max, HPP(16), separate FCs, BNNecks: ``[B, T, h, w, C] -> (embeddings, logits)``."""
    x = blocks.SetPooling(name="temporal_pool")(x)
    x = blocks.HorizontalPoolingPyramid((16,), name="hpp")(x)
    e1 = blocks.SeparateFCs(16, int(parts_in), int(parts_out), name="fcs")(x)
    e2, logits = blocks.SeparateBNNecks(16, int(parts_out), int(class_num), name="bnnecks")(e1)
    return (e2 if use_emb2 else e1), logits


def check_widths(model_name, layers, channels):
    if len(layers) != 4 or len(channels) != 4:
        raise ModelError(f"model {model_name!r}: layers and channels need 4 entries each "
                         f"(got {list(layers)}, {list(channels)})")
    if any(int(n) < 1 for n in layers):
        raise ModelError(f"model {model_name!r}: every stage needs at least one block, got layers={list(layers)}")


def build_deepgaitv2(mode="p3d", in_channels=1, layers=(1, 1, 1, 1), channels=(64, 128, 256, 512), class_num=74,
                     use_emb2=False, input_hw=(64, 44), name="deepgaitv2", input_name="silhouettes"):
    """DeepGaitV2 as a functional model ``[B, T, H, W, in_channels] -> {embeddings, logits}``."""
    if mode not in MODES:
        raise ModelError(f"model {name!r}: mode must be one of {MODES}, got {mode!r}")
    check_widths(name, layers, channels)
    c = [int(v) for v in channels]
    h, w = (int(v) for v in input_hw)
    inp = keras.Input(shape=(None, h, w, int(in_channels)), name=input_name)
    x = blocks.FoldFrames(name="fold")(inp)
    x = stem(x, c[0], "layer0")
    x = residual_stage(x, "2d", c[0], c[0], layers[0], 1, "layer1")
    if mode == "2d":
        for i, s in ((1, 2), (2, 2), (3, 1)):
            x = residual_stage(x, "2d", c[i - 1], c[i], layers[i], s, f"layer{i + 1}")
        x = blocks.UnfoldFrames(name="unfold")([x, inp])
    else:
        x = blocks.UnfoldFrames(name="unfold")([x, inp])
        for i, s in ((1, 2), (2, 2), (3, 1)):
            x = residual_stage(x, mode, c[i - 1], c[i], layers[i], s, f"layer{i + 1}")
    emb, logits = gait_head(x, c[3], c[2], class_num, use_emb2)
    return keras.Model(inp, {"embeddings": emb, "logits": logits}, name=name)


@register_model("deepgaitv2", presets=PRESETS, default_preset="casia_b", input_hw=(64, 44))
def deepgaitv2(mode="p3d", in_channels=1, layers=(1, 1, 1, 1), channels=(64, 128, 256, 512), class_num=74,
               use_emb2=False, input_hw=(64, 44), name="deepgaitv2"):
    """DeepGaitV2 (2D / P3D / 3D): ``[B, T, H, W, 1] -> {"embeddings": [B, 16, channels[2]],
    "logits": [B, 16, class_num]}``."""
    return build_deepgaitv2(mode, in_channels, layers, channels, class_num, use_emb2, input_hw, name)
