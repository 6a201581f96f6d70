"""Backbones of :class:`~gait_tf.pose.human_pose.HumanPoseIRNetwork`.

Both map an image ``[B, 299, 299, 3]`` in [-1, 1] to a feature map ``[B, 17, 17, C]``.

``inception_resnet_v2_17x17``
    slim's Inception-ResNet-v2 as the original project used it: stem, ``Mixed_5b``,
    10x ``block35`` (scale 0.17), ``Mixed_6a``, 20x ``block17`` (scale 0.10) and the
    *modified* auxiliary tower (5x5 average pool, stride 1, SAME; 1x1 conv to 128; 5x5
    conv to 768, SAME) -> ``[B, 17, 17, 768]``. Every conv is conv (no bias) + BatchNorm
    (no scale, eps 1e-3, momentum 0.999) + ReLU except the blocks' linear ``Conv2d_1x1``
    projection (bias, no BN). Padding is SAME everywhere except the stem's stride-2 and
    ``Conv2d_2a``/``Conv2d_3b``/``Conv2d_4a`` convs and the stride-2 reductions (VALID),
    exactly as the original ``inception_resnet_v2.py``.

    Keras layer names are the TF1 variable scopes below ``InceptionResnetV2/`` with ``/``
    written as ``.`` (``Repeat.block35_1.Branch_1.Conv2d_0b_3x3``; the BatchNorm of a conv
    is ``<conv name>.BatchNorm``), so the TF1 name map (:mod:`gait_tf.pose.tf1_names`) is
    a string substitution.

``mobilenet_v2_17x17``
    the faster option: the input is resized to 272x272 and run through
    ``keras.applications.MobileNetV2`` (``weights=None``) up to ``block_12_add``
    (stride 16 -> 17x17x96), followed by the same auxiliary tower (-> 768 channels).
"""
from __future__ import annotations

import keras
from keras import layers

BN_EPSILON = 1e-3
BN_MOMENTUM = 0.999
BACKBONES = ("inception_resnet_v2", "mobilenet_v2")


def conv_bn_relu(x, filters, kernel, name, strides=1, padding="same"):
    """slim ``conv2d`` with ``normalizer_fn=batch_norm``: conv (no bias) -> BN (no scale) -> ReLU."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)(x)
    x = layers.BatchNormalization(
        scale=False, epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}.BatchNorm"
    )(x)
    return layers.Activation("relu", name=f"{name}.relu")(x)


def _block35(x, name):
    b0 = conv_bn_relu(x, 32, 1, f"{name}.Branch_0.Conv2d_1x1")
    b1 = conv_bn_relu(x, 32, 1, f"{name}.Branch_1.Conv2d_0a_1x1")
    b1 = conv_bn_relu(b1, 32, 3, f"{name}.Branch_1.Conv2d_0b_3x3")
    b2 = conv_bn_relu(x, 32, 1, f"{name}.Branch_2.Conv2d_0a_1x1")
    b2 = conv_bn_relu(b2, 48, 3, f"{name}.Branch_2.Conv2d_0b_3x3")
    b2 = conv_bn_relu(b2, 64, 3, f"{name}.Branch_2.Conv2d_0c_3x3")
    return _residual(x, [b0, b1, b2], 0.17, name)


def _block17(x, name):
    b0 = conv_bn_relu(x, 192, 1, f"{name}.Branch_0.Conv2d_1x1")
    b1 = conv_bn_relu(x, 128, 1, f"{name}.Branch_1.Conv2d_0a_1x1")
    b1 = conv_bn_relu(b1, 160, (1, 7), f"{name}.Branch_1.Conv2d_0b_1x7")
    b1 = conv_bn_relu(b1, 192, (7, 1), f"{name}.Branch_1.Conv2d_0c_7x1")
    return _residual(x, [b0, b1], 0.10, name)


def _residual(x, branches, scale, name):
    mixed = layers.Concatenate(axis=-1, name=f"{name}.concat")(branches)
    up = layers.Conv2D(x.shape[-1], 1, use_bias=True, name=f"{name}.Conv2d_1x1")(mixed)
    up = layers.Rescaling(scale, name=f"{name}.scale")(up)
    x = layers.Add(name=f"{name}.add")([x, up])
    return layers.Activation("relu", name=f"{name}.relu")(x)


def aux_tower(x, prefix="AuxLogits", channels=768):
    """The modified auxiliary tower: ``[B, 17, 17, C]`` -> ``[B, 17, 17, channels]`` (768 in the original)."""
    x = layers.AveragePooling2D(5, strides=1, padding="same", name=f"{prefix}.Conv2d_1a_3x3")(x)
    x = conv_bn_relu(x, 128, 1, f"{prefix}.Conv2d_1b_1x1")
    return conv_bn_relu(x, channels, 5, f"{prefix}.Conv2d_2a_5x5")


def inception_resnet_v2_17x17(inputs, num_block35=10, num_block17=20):
    """Inception-ResNet-v2 trunk + modified aux tower: ``[B, 299, 299, 3]`` -> ``[B, 17, 17, 768]``.

    ``num_block35``/``num_block17`` exist for tiny test configs; the original uses 10/20.
    """
    x = conv_bn_relu(inputs, 32, 3, "Conv2d_1a_3x3", strides=2, padding="valid")  # 149
    x = conv_bn_relu(x, 32, 3, "Conv2d_2a_3x3", padding="valid")  # 147
    x = conv_bn_relu(x, 64, 3, "Conv2d_2b_3x3")  # 147
    x = layers.MaxPooling2D(3, strides=2, padding="valid", name="MaxPool_3a_3x3")(x)  # 73
    x = conv_bn_relu(x, 80, 1, "Conv2d_3b_1x1", padding="valid")
    x = conv_bn_relu(x, 192, 3, "Conv2d_4a_3x3", padding="valid")  # 71
    x = layers.MaxPooling2D(3, strides=2, padding="valid", name="MaxPool_5a_3x3")(x)  # 35

    b0 = conv_bn_relu(x, 96, 1, "Mixed_5b.Branch_0.Conv2d_1x1")
    b1 = conv_bn_relu(x, 48, 1, "Mixed_5b.Branch_1.Conv2d_0a_1x1")
    b1 = conv_bn_relu(b1, 64, 5, "Mixed_5b.Branch_1.Conv2d_0b_5x5")
    b2 = conv_bn_relu(x, 64, 1, "Mixed_5b.Branch_2.Conv2d_0a_1x1")
    b2 = conv_bn_relu(b2, 96, 3, "Mixed_5b.Branch_2.Conv2d_0b_3x3")
    b2 = conv_bn_relu(b2, 96, 3, "Mixed_5b.Branch_2.Conv2d_0c_3x3")
    b3 = layers.AveragePooling2D(3, strides=1, padding="same", name="Mixed_5b.Branch_3.AvgPool_0a_3x3")(x)
    b3 = conv_bn_relu(b3, 64, 1, "Mixed_5b.Branch_3.Conv2d_0b_1x1")
    x = layers.Concatenate(axis=-1, name="Mixed_5b.concat")([b0, b1, b2, b3])  # 35x35x320

    for i in range(num_block35):
        x = _block35(x, f"Repeat.block35_{i + 1}")

    b0 = conv_bn_relu(x, 384, 3, "Mixed_6a.Branch_0.Conv2d_1a_3x3", strides=2, padding="valid")
    b1 = conv_bn_relu(x, 256, 1, "Mixed_6a.Branch_1.Conv2d_0a_1x1")
    b1 = conv_bn_relu(b1, 256, 3, "Mixed_6a.Branch_1.Conv2d_0b_3x3")
    b1 = conv_bn_relu(b1, 384, 3, "Mixed_6a.Branch_1.Conv2d_1a_3x3", strides=2, padding="valid")
    b2 = layers.MaxPooling2D(3, strides=2, padding="valid", name="Mixed_6a.Branch_2.MaxPool_1a_3x3")(x)
    x = layers.Concatenate(axis=-1, name="Mixed_6a.concat")([b0, b1, b2])  # 17x17x1088

    for i in range(num_block17):
        x = _block17(x, f"Repeat_1.block17_{i + 1}")
    return aux_tower(x)


#: fast backbone: input resolution -> (MobileNetV2 cut, its stride); both give 17x17
FAST_RESOLUTIONS = {272: ("block_12_add", 16), 136: ("block_5_add", 8)}


def mobilenet_v2_17x17(inputs, resolution=272, aux_channels=768):
    """Faster backbone: resize to ``resolution`` and run MobileNetV2 to a 17x17 map, then the aux tower.

    ``resolution=272``: cut at ``block_12_add`` (stride 16, 17x17x96), the default;
    ``resolution=136``: cut at ``block_5_add`` (stride 8, 17x17x32), ~8x cheaper trunk for
    quick CPU training. ``aux_channels`` is the aux tower's width (768 as the original).
    """
    from gait_tf.errors import ModelError

    if int(resolution) not in FAST_RESOLUTIONS:
        raise ModelError(f"mobilenet_v2 backbone: resolution must be one of {sorted(FAST_RESOLUTIONS)}, "
                         f"got {resolution!r}")
    resolution = int(resolution)
    cut, _ = FAST_RESOLUTIONS[resolution]
    x = layers.Resizing(resolution, resolution, interpolation="bilinear", name="fast.resize")(inputs)
    trunk = keras.applications.MobileNetV2(
        input_shape=(resolution, resolution, 3), include_top=False, weights=None, alpha=1.0
    )
    trunk = keras.Model(trunk.input, trunk.get_layer(cut).output, name="fast.mobilenet_v2")
    x = trunk(x)
    return aux_tower(x, prefix="fast.AuxLogits", channels=int(aux_channels))
