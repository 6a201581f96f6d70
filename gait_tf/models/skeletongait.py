"""SkeletonGait and SkeletonGait++ (Fan et al., AAAI 2024, "SkeletonGait: Gait Recognition
Using Skeleton Maps").

The input is a pose sequence drawn as *skeleton maps*: per frame a limb map and a joint map
rendered from COCO-17 keypoints (:mod:`gait_tf.data.heatmaps`, OpenGait's heatmap
pretreatment), ``[B, T, 64, 44, 2]`` float32 in [0, 1] (channel 0 limbs, 1 joints).

- ``skeletongait``: OpenGait runs SkeletonGait as ``DeepGaitV2`` with two input channels;
  so does this port (:func:`gait_tf.models.deepgaitv2.build_deepgaitv2`, P3D blocks).
  Input kind ``"skeleton_maps"``.
- ``skeletongait_pp``: OpenGait's ``SkeletonGaitPP``: a silhouette branch and a skeleton-map
  branch (3x3 stem + 2D residual stage each, ``32 C`` channels) fused by
  :class:`AttentionFusion` (a per-position softmax over the two branches), then three
  P3D stages (``64 C, 128 C, 256 C``), temporal max, HPP(16), separate FCs and BNNecks. Input
  ``[B, T, 64, 44, 3]``: limb map, joint map, silhouette (input kind ``"skeleton_silhouette"``).

Outputs: ``{"embeddings": [B, 16, D], "logits": [B, 16, class_num]}`` (embeddings: the
separate-FC features; the BNNeck features with ``use_emb2=True``, as OpenGait's ``use_emb2``).
:class:`SkeletonMaps` renders the maps from keypoints ``[B, T, 17, 3]`` inside a graph (used
by the serving signatures, so a served skeleton model takes keypoints).
"""
from __future__ import annotations

import keras
from keras import ops

from gait_tf.models import blocks
from gait_tf.models.deepgaitv2 import build_deepgaitv2, check_widths, gait_head, residual_stage, stem
from gait_tf.models.registry import register_model

_P3D = {"mode": "p3d", "channels": (64, 128, 256, 512)}
#: OpenGait configs/skeletongait/skeletongait_*.yaml (DeepGaitV2, 2 input channels)
PRESETS = {
    "gait3d": {**_P3D, "layers": (1, 4, 4, 1), "class_num": 3000},
    "grew": {**_P3D, "layers": (1, 4, 4, 1), "class_num": 20000},
    "oumvlp": {**_P3D, "layers": (1, 1, 1, 1), "class_num": 5153},
    "ccpg": {**_P3D, "layers": (1, 1, 1, 1), "class_num": 100, "use_emb2": True},
    "sustech1k": {**_P3D, "layers": (1, 1, 1, 1), "class_num": 250},
}
#: OpenGait configs/skeletongait/skeletongait++_*.yaml
PRESETS_PP = {
    "gait3d": {"layers": (1, 4, 4, 1), "width": 2, "class_num": 3000},
    "grew": {"layers": (1, 4, 4, 1), "width": 2, "class_num": 20000},
    "ccpg": {"layers": (1, 1, 1, 1), "width": 2, "class_num": 100},
    "sustech1k": {"layers": (1, 1, 1, 1), "width": 2, "class_num": 250},
}


@keras.saving.register_keras_serializable(package="gait_tf")
class SkeletonMaps(keras.layers.Layer):
    """Keypoints ``[B, T, 17, 3]`` (x, y in pixels, score) -> skeleton maps
    ``[B, T, size, size - 2 cut, 2]`` float32 in [0, 1] (limb map, joint map), rendered in the
    graph by :func:`gait_tf.data.heatmaps.skeleton_maps_batch` (OpenGait's pretreatment, see
    there). No weights; the maps are quantised like the reference, so not differentiable."""

    def __init__(self, sigma=8.0, canvas=128, size=64, cut=10, pad_missing=True, use_score=True, **kwargs):
        super().__init__(**kwargs)
        self.sigma, self.canvas, self.size, self.cut = float(sigma), int(canvas), int(size), int(cut)
        self.pad_missing, self.use_score = bool(pad_missing), bool(use_score)

    def call(self, keypoints):
        from gait_tf.data.heatmaps import skeleton_maps_batch

        return skeleton_maps_batch(keypoints, self.sigma, self.canvas, self.size, self.cut, self.pad_missing,
                                   self.use_score)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.size, self.size - 2 * self.cut, 2)

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma, "canvas": self.canvas, "size": self.size,
                "cut": self.cut, "pad_missing": self.pad_missing, "use_score": self.use_score}


@keras.saving.register_keras_serializable(package="gait_tf")
class AttentionFusion(keras.layers.Layer):
    """SkeletonGait++'s fusion of two per-frame feature maps ``[N, H, W, C]`` (silhouette,
    skeleton map) -> ``[N, H, W, C]``.

    A score network on the concatenation (1x1 conv ``2C -> C/r``, BN, ReLU, 3x3 conv, BN,
    ReLU, 1x1 conv ``-> 2C``; no biases; ``r = squeeze_ratio``) gives two scores per channel
    and position; a softmax over the pair weights the silhouette (first ``C`` score channels)
    and the skeleton-map features (last ``C``). Sub-layers ``conv0``, ``bn0``, ``conv1``,
    ``bn1``, ``conv2`` (OpenGait ``conv.forward_block.{0,1,3,4,6}``).
    """

    def __init__(self, channels, squeeze_ratio=16, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.squeeze_ratio = int(squeeze_ratio)
        hidden = int(self.channels / self.squeeze_ratio)
        self.conv0 = blocks.TorchConv2D(hidden, 1, name="conv0")
        self.bn0 = blocks.batch_norm("bn0")
        self.conv1 = blocks.TorchConv2D(hidden, 3, name="conv1")
        self.bn1 = blocks.batch_norm("bn1")
        self.conv2 = blocks.TorchConv2D(2 * self.channels, 1, name="conv2")

    def build(self, sil_shape, heat_shape=None):
        pair = tuple(sil_shape[:-1]) + (2 * self.channels,)
        hid = tuple(sil_shape[:-1]) + (self.conv0.filters,)
        for layer, shape in ((self.conv0, pair), (self.bn0, hid), (self.conv1, hid), (self.bn1, hid),
                             (self.conv2, hid)):
            layer.build(shape)

    def call(self, sil, heat, training=None):
        z = ops.concatenate([sil, heat], axis=-1)
        z = ops.relu(self.bn0(self.conv0(z), training=training))
        z = ops.relu(self.bn1(self.conv1(z), training=training))
        score = self.conv2(z)
        a, b = score[..., : self.channels], score[..., self.channels:]
        m = ops.maximum(a, b)
        ea, eb = ops.exp(a - m), ops.exp(b - m)
        return (sil * ea + heat * eb) / (ea + eb)

    def compute_output_shape(self, sil_shape, heat_shape=None):
        return tuple(sil_shape)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "squeeze_ratio": self.squeeze_ratio}


@register_model("skeletongait", input_kind="skeleton_maps", input_hw=(64, 44), channels=2, presets=PRESETS,
                default_preset="gait3d")
def skeletongait(mode="p3d", layers=(1, 4, 4, 1), channels=(64, 128, 256, 512), class_num=3000, use_emb2=False,
                 input_hw=(64, 44), name="skeletongait"):
    """SkeletonGait: DeepGaitV2 on skeleton maps ``[B, T, 64, 44, 2]`` -> ``{"embeddings":
    [B, 16, channels[2]], "logits": [B, 16, class_num]}``."""
    return build_deepgaitv2(mode, 2, layers, channels, class_num, use_emb2, input_hw, name, input_name="skeleton_maps")


@register_model("skeletongait_pp", input_kind="skeleton_silhouette", input_hw=(64, 44), channels=3,
                presets=PRESETS_PP, default_preset="gait3d")
def skeletongait_pp(layers=(1, 4, 4, 1), width=2, class_num=3000, use_emb2=False, squeeze_ratio=16,
                    input_hw=(64, 44), name="skeletongait_pp"):
    """SkeletonGait++: ``[B, T, 64, 44, 3]`` (limb map, joint map, silhouette) ->
    ``{"embeddings": [B, 16, 128 width], "logits": [B, 16, class_num]}``. ``layers`` and
    ``width`` are OpenGait's ``Backbone.blocks`` and ``Backbone.C`` (stage widths
    ``32, 64, 128, 256`` times ``width``; a fraction gives a narrower model). The fusion's
    hidden width is ``int(32 width / squeeze_ratio)``, as OpenGait."""
    layers = tuple(int(b) for b in layers)
    c = [int(32 * width), int(64 * width), int(128 * width), int(256 * width)]
    check_widths(name, layers, c)
    h, w = (int(v) for v in input_hw)
    inp = keras.Input(shape=(None, h, w, 3), name="skeleton_silhouette")
    frames = blocks.FoldFrames(name="fold")(inp)
    maps = blocks.ChannelSlice(0, 2, name="maps")(frames)
    sils = blocks.ChannelSlice(2, 3, name="sils")(frames)
    m = residual_stage(stem(maps, c[0], "map_layer0"), "2d", c[0], c[0], layers[0], 1, "map_layer1")
    s = residual_stage(stem(sils, c[0], "sil_layer0"), "2d", c[0], c[0], layers[0], 1, "sil_layer1")
    x = AttentionFusion(c[0], squeeze_ratio, name="fusion")(s, m)
    x = blocks.UnfoldFrames(name="unfold")([x, inp])
    for i, st in ((1, 2), (2, 2), (3, 1)):
        x = residual_stage(x, "p3d", c[i - 1], c[i], layers[i], st, f"layer{i + 1}")
    emb, logits = gait_head(x, c[3], c[2], class_num, use_emb2)
    return keras.Model(inp, {"embeddings": emb, "logits": logits}, name=name)
