"""``seg3d``: the segmentation -> 3D-CNN stem (:class:`~gait_tf.models.stems.SegmentationStem3D`)
as a complete gait model.

``RGB frames [B, T, H, W, 3] (+ mask [B, T, H, W, 1]) -> stem (mask x RGB, Conv3d 1x7x7/2,
BN, MaxPool 1x3x3/2) -> 3D CNN trunk (3x3x3 convs + LeakyReLU) -> max over frames -> HPP
(mean + max) -> SeparateFCs (+ BNNeck logits)``.

Where the mask comes from (``mask_input`` / ``segmenter``):

- ``mask_input=True``: the model has two inputs ``{"frames", "mask"}`` (ground truth,
  background subtraction, ...);
- ``segmenter``: a Keras model ``[N, H, W, 3] -> [N, H, W, 1]`` (e.g. the U-Net of
  :func:`gait_tf.segmentation.unet.build_unet`) run inside the stem;
- neither (default): one input, frames pass unmasked (give pre-masked frames, as the
  synthetic RGB pipeline of :mod:`gait_tf.train.rgb` does, or compare
  against the segmented variants).

Default input 64 x 44 (the silhouette crop size) -> stem output 16 x 11 (see
``stem_output_size``); output ``{"embeddings": [B, 31, C], "logits": [B, 31, class_num]}``.
"""
from __future__ import annotations

import keras

from gait_tf.errors import ModelError
from gait_tf.models import blocks
from gait_tf.models.registry import register_model
from gait_tf.models.stems import SegmentationStem3D, stem_output_size

PRESETS = {
    "casia_b": {"stem_filters": 1, "channels": (32, 64, 128), "class_num": 74},
    "wide_stem": {"stem_filters": 16, "channels": (32, 64, 128), "class_num": 74},
}


def _conv3d(x, filters, name):
    x = keras.layers.Conv3D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    return blocks.leaky_relu(f"{name}_act")(x)


@register_model("seg3d", input_kind="rgb_sequence", input_hw=(64, 44), channels=3, presets=PRESETS,
                default_preset="casia_b")
def seg3d(stem_filters=1, channels=(32, 64, 128), class_num=74, bin_num=(16, 8, 4, 2, 1), mask_input=False,
          segmenter=None, use_segmentation=True, input_hw=(64, 44), name="seg3d"):
    """Segmentation -> 3D-CNN stem + 3D CNN trunk, temporal max, HPP, separate FCs (masked RGB)."""
    h, w = (int(v) for v in input_hw)
    sh, sw = stem_output_size(h, w)
    bins = tuple(int(b) for b in bin_num)
    bad = [b for b in bins if (sh * sw) % b]
    if bad:
        raise ModelError(f"seg3d: stem output {sh}x{sw} (input {h}x{w}) cannot be split into bins {bad}")
    c = [int(v) for v in channels]
    frames = keras.Input(shape=(None, h, w, 3), name="frames")
    stem = SegmentationStem3D(filters=stem_filters, segmenter=segmenter, use_segmentation=use_segmentation,
                              name="stem")
    if mask_input:
        mask = keras.Input(shape=(None, h, w, 1), name="mask")
        inputs = {"frames": frames, "mask": mask}
        x = stem(frames, mask)
    else:
        inputs = frames
        x = stem(frames)
    for i, ch in enumerate(c):
        x = _conv3d(x, ch, f"trunk{i}")
    x = blocks.SetPooling(name="temporal_pool")(x)  # [B, sh, sw, C]
    x = blocks.HorizontalPoolingPyramid(bins, name="hpp")(x)  # [B, P, C]
    p = sum(bins)
    emb = blocks.SeparateFCs(p, c[-1], c[-1], name="fcs")(x)
    _, logits = blocks.SeparateBNNecks(p, c[-1], int(class_num), name="bnnecks")(emb)
    return keras.Model(inputs, {"embeddings": emb, "logits": logits}, name=name)
