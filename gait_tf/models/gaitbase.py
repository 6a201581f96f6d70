"""GaitBase (Fan et al., CVPR 2023, "OpenGait: Revisiting Gait Recognition Toward Better
Practicality"): OpenGait's ``Baseline`` model.

A ResNet-9-like backbone applied to every frame (3x3 stem conv + BN + ReLU, optional 3x3/2
max-pool, four stages of :class:`~gait_tf.models.blocks.ResidualBlock2D`), temporal max
pooling, horizontal pooling (16 strips, mean + max), separate FCs and BNNecks. Input
``[B, T, 64, 44, 1]`` in [0, 1]; output ``{"embeddings": [B, 16, 256], "logits":
[B, 16, class_num]}``; the embeddings are the separate-FC features (OpenGait's
``inference_feat``), the logits the BNNecks' cosine logits.
"""
from __future__ import annotations

import keras

from gait_tf.errors import ModelError
from gait_tf.models import blocks
from gait_tf.models.registry import register_model

_BASE = {"channels": (64, 128, 256, 512), "layers": (1, 1, 1, 1), "strides": (1, 2, 2, 1), "maxpool": False,
         "out_channels": 256, "bin_num": (16,)}
#: OpenGait configs/gaitbase/: gaitbase_da_casiab.yaml, gaitbase_oumvlp.yaml, gaitbase_da_grew.yaml,
#: gaitbase_da_gait3d.yaml, gaitbase_ccpg.yaml (same network, class_num per data set)
PRESETS = {
    "casia_b": {**_BASE, "class_num": 74},
    "oumvlp": {**_BASE, "class_num": 5153},
    "grew": {**_BASE, "class_num": 20000},
    "gait3d": {**_BASE, "class_num": 3000},
    "ccpg": {**_BASE, "class_num": 100},
}


def resnet9_backbone(x, channels, layers, strides, maxpool, prefix=""):
    """OpenGait's ``ResNet9`` on frames ``[N, H, W, C] -> [N, H', W', channels[3]]`` (layer names
    ``{prefix}conv1``, ``{prefix}bn1``, ``{prefix}layer{i}_{j}``)."""
    x = blocks.TorchConv2D(channels[0], 3, 1, name=f"{prefix}conv1")(x)
    x = blocks.batch_norm(f"{prefix}bn1")(x)
    x = keras.layers.ReLU(name=f"{prefix}relu")(x)
    if maxpool:  # torchvision's MaxPool2d(3, 2, 1): pads with -inf, i.e. ignores the border
        x = keras.layers.ZeroPadding2D(1, name=f"{prefix}maxpool_pad")(x)  # after ReLU, 0 == -inf here
        x = keras.layers.MaxPooling2D(3, 2, name=f"{prefix}maxpool")(x)
    cin = channels[0]
    for i, (c, n, s) in enumerate(zip(channels, layers, strides), start=1):
        for j in range(int(n)):
            stride = int(s) if j == 0 else 1
            down = j == 0 and blocks.needs_downsample(cin, c, stride)
            x = blocks.ResidualBlock2D(int(c), stride, down, name=f"{prefix}layer{i}_{j}")(x)
            cin = int(c)
    return x


@register_model("gaitbase", presets=PRESETS, default_preset="casia_b", input_hw=(64, 44))
def gaitbase(
    channels=(64, 128, 256, 512),
    layers=(1, 1, 1, 1),
    strides=(1, 2, 2, 1),
    maxpool=False,
    in_channels=1,
    out_channels=256,
    class_num=74,
    bin_num=(16,),
    input_hw=(64, 44),
    name="gaitbase",
):
    """GaitBase: ``[B, T, H, W, in_channels] -> {"embeddings": [B, P, out_channels],
    "logits": [B, P, class_num]}`` with ``P = sum(bin_num)``.

    ``channels``/``layers``/``strides``/``maxpool`` are OpenGait's ``backbone_cfg`` (a stage
    with 0 layers is skipped, as in ``ResNet9``); only the ``BasicBlock`` block exists.
    """
    channels = [int(c) for c in channels]
    if len(channels) != 4 or len(layers) != 4 or len(strides) != 4:
        raise ModelError("model 'gaitbase': channels, layers and strides need 4 entries each "
                         f"(got {len(channels)}, {len(layers)}, {len(strides)})")
    h, w = (int(v) for v in input_hw)
    inp = keras.Input(shape=(None, h, w, int(in_channels)), name="silhouettes")
    x = blocks.FoldFrames(name="fold")(inp)
    x = resnet9_backbone(x, channels, layers, strides, maxpool)
    x = blocks.UnfoldFrames(name="unfold")([x, inp])
    x = blocks.SetPooling(name="temporal_pool")(x)  # [B, h, w, C]
    x = blocks.HorizontalPoolingPyramid(bin_num, name="hpp")(x)  # [B, P, C]
    parts = sum(int(b) for b in bin_num)
    c_last = next((c for c, n in zip(reversed(channels), reversed(layers)) if int(n) > 0), channels[0])
    emb = blocks.SeparateFCs(parts, c_last, int(out_channels), name="fcs")(x)
    _, logits = blocks.SeparateBNNecks(parts, int(out_channels), int(class_num), name="bnnecks")(emb)
    return keras.Model(inp, {"embeddings": emb, "logits": logits}, name=name)
