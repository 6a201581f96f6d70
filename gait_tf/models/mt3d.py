"""MT3D (Lin, Zhang, Bao, ACM MM 2020): multiple-temporal-scale 3D CNN for gait recognition.

No official code exists; this is a design from the paper's description (see
``docs/models_silhouette_3d.md`` for every choice). Two branches over the silhouette sequence:

- **small temporal scale**: 3D convolutions (3x3x3) over consecutive frames;
- **large temporal scale**: a *local transform* (LT: Conv3D kernel (3,1,1), stride
  (3,1,1)) folds every 3 consecutive frames into one clip; 3D convolutions then run over
  clips (a 3x3x3 kernel spans 9 frames). At every stage the small-scale features are
  folded by their own LT and added into the large-scale branch (the paper integrates the
  small scale into the large one several times).

Frame pooling (max over the frame/clip axis) makes the output independent of the
sequence length; each branch is cut by a horizontal pooling pyramid (mean + max, bins
16/8/4/2/1) and the two branches' parts are concatenated (P = 2 x 31 = 62), mapped by
separate FCs, with a BNNeck head for the cross-entropy loss.

Input ``[B, T, 64, 44, 1]`` float32 in [0, 1], any T >= 1 (sequences shorter than 3
frames are tiled, so at least one clip exists). Output ``{"embeddings": [B, 62, C],
"logits": [B, 62, class_num]}``.
"""
from __future__ import annotations

import keras

from gait_tf.models import blocks
from gait_tf.models.registry import register_model

PRESETS = {
    "casia_b": {"channels": (32, 64, 128), "class_num": 74},
    "oumvlp": {"channels": (64, 128, 256), "class_num": 5153},
}


def _conv3d(filters, kernel, strides, padding, name):
    return keras.layers.Conv3D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)


def _b3d(x, filters, name):
    """BasicBlock3D: 3x3x3 'same' convolution + LeakyReLU(0.01)."""
    x = _conv3d(filters, 3, 1, "same", f"{name}_conv")(x)
    return blocks.leaky_relu(f"{name}_act")(x)


def _local_transform(x, filters, clip, name):
    """LT: ``[B, T, H, W, C] -> [B, floor(T/clip), H, W, filters]`` (Conv3D (clip,1,1)/stride (clip,1,1))."""
    x = _conv3d(filters, (clip, 1, 1), (clip, 1, 1), "valid", f"{name}_conv")(x)
    return blocks.leaky_relu(f"{name}_act")(x)


@register_model("mt3d", presets=PRESETS, default_preset="casia_b", input_hw=(64, 44))
def mt3d(channels=(32, 64, 128), class_num=74, clip=3, bin_num=(16, 8, 4, 2, 1), input_hw=(64, 44),
         name="mt3d"):
    """MT3D (ACM MM 2020): small- and large-temporal-scale 3D CNN branches, frame pooling, HPP."""
    c = [int(v) for v in channels]
    if len(c) != 3:
        raise ValueError(f"mt3d: channels must have 3 entries (one per stage), got {channels!r}")
    clip = int(clip)
    h, w = (int(v) for v in input_hw)
    inp = keras.Input(shape=(None, h, w, 1), name="silhouettes")
    x = blocks.RepeatShortSequence(clip, name="repeat_short")(inp)
    x = _b3d(x, c[0], "stem")
    small = x
    large = _local_transform(x, c[0], clip, "lt_in")
    for i, ch in enumerate(c):
        if i:
            small = keras.layers.MaxPooling3D((1, 2, 2), name=f"small_pool{i}")(small)
            large = keras.layers.MaxPooling3D((1, 2, 2), name=f"large_pool{i}")(large)
        small = _b3d(small, ch, f"small{i}")
        large = _b3d(large, ch, f"large{i}")
        large = keras.layers.Add(name=f"fuse{i}")([large, _local_transform(small, ch, clip, f"lt{i}")])
    small = blocks.SetPooling(name="frame_pool_small")(small)  # [B, H', W', C]
    large = blocks.SetPooling(name="frame_pool_large")(large)
    hpp = blocks.HorizontalPoolingPyramid(bin_num, name="hpp")
    parts = keras.layers.Concatenate(axis=1, name="parts")([hpp(small), hpp(large)])  # [B, 2P, C]
    p = 2 * sum(int(b) for b in bin_num)
    emb = blocks.SeparateFCs(p, c[-1], c[-1], name="fcs")(parts)
    _, logits = blocks.SeparateBNNecks(p, c[-1], int(class_num), name="bnnecks")(emb)
    return keras.Model(inp, {"embeddings": emb, "logits": logits}, name=name)
