"""GaitEdge (Liang et al., ECCV 2022, "GaitEdge: Beyond Plain End-to-end Gait Recognition for
Better Practicality"): RGB person crops in, gait embeddings out.

OpenGait's ``GaitEdge``, end to end and differentiable: a U-Net (OpenGait ``U_Net``)
segments every RGB crop; *gait synthesis* keeps the body's interior from a mask and lets
only a thin band around its edge come from the segmentation (``edge``: dilation XOR erosion of
the mask with a ``kernel_size`` square, kornia semantics); :class:`GaitAlign` crops and
rescales the synthesised silhouette to ``64 x 44`` like silhouette pretreatment, from the
mask's rows and centre of mass and the original box's aspect ratio (RoIAlign, so the
gradient flows into the segmentation); the zoo's GaitGL (:func:`gait_tf.models.gaitgl.gaitgl`,
nested as layer ``gaitgl``) gives the embeddings.

Inputs (a dict): ``frames`` ``[B, T, H, W, 3]`` float32 RGB in [0, 1] (the person's box,
resized to ``H x W``; OpenGait's CASIA-B* crops are 128 x 128; ImageNet normalisation is
applied inside), ``ratios`` ``[B, T]`` float32 width / height of each original box, and with
``mask_input=True`` ``mask`` ``[B, T, H, W, 1]``: the silhouettes OpenGait feeds alongside
(``sils``). Without a mask input (the default) the model uses its own segmentation,
``sigmoid(logits) > 0.5``, in that role, so RGB crops alone suffice.

Outputs: ``embeddings`` ``[B, 64, C]`` and ``logits`` ``[B, 64, class_num]`` (GaitGL's),
``segmentation`` ``[B, T, H, W, 1]`` (person probability, for the segmentation loss) and
``aligned`` ``[B, T, 64, 44, 1]`` (GaitGL's input). The registered loss
(:class:`GaitEdgeLoss`) adds OpenGait's binary cross-entropy of ``segmentation`` against the
mask (weight 10) to the triplet + cross-entropy terms of the ``losses:`` list.

``edge=False, align=True`` is OpenGait's "GaitGL-E2E" (``phase2_e2e.yaml``); ``align=False``
resizes to 64 x 44 (bilinear, anti-aliased, as torchvision's ``Resize``) instead of aligning.
"""
from __future__ import annotations

import math

import keras
from keras import ops

from gait_tf.errors import ModelError
from gait_tf.models import blocks
from gait_tf.models.gaitgl import gaitgl
from gait_tf.models.registry import register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_BASE = {"channels": (32, 64, 128), "class_num": 74, "align": True, "kernel_size": 3, "input_hw": (128, 128)}
PRESETS = {
    # OpenGait configs/gaitedge/phase2_gaitedge.yaml
    "casia_b": {**_BASE, "edge": True},
    # OpenGait configs/gaitedge/phase2_e2e.yaml (GaitGL-E2E: no gait synthesis)
    "casia_b_e2e": {**_BASE, "edge": False},
}


@keras.saving.register_keras_serializable(package="gait_tf")
class Standardize(keras.layers.Layer):
    """``(x - mean) / std`` per channel with constant ``mean``/``std`` (no weights)."""

    def __init__(self, mean, std, **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)

    def call(self, x):
        return (x - ops.convert_to_tensor(self.mean, x.dtype)) / ops.convert_to_tensor(self.std, x.dtype)

    def get_config(self):
        return {**super().get_config(), "mean": list(self.mean), "std": list(self.std)}


@keras.saving.register_keras_serializable(package="gait_tf")
class BinaryMask(keras.layers.Layer):
    """``p > threshold`` as float (the model's own mask from its segmentation probabilities)."""

    def __init__(self, threshold=0.5, **kwargs):
        super().__init__(**kwargs)
        self.threshold = float(threshold)

    def call(self, p):
        return ops.stop_gradient(ops.cast(p > self.threshold, p.dtype))

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


@keras.saving.register_keras_serializable(package="gait_tf")
class EdgeSynthesis(keras.layers.Layer):
    """GaitEdge's gait synthesis: ``(prob, sils) [N, H, W, 1] -> edge * prob + eroded * sils``.

    ``dilated = maxpool_k(sils) > 0.5`` and ``eroded = minpool_k(sils) > 0.5`` (``k x k``
    square, 'geodesic' borders: padding never wins, as kornia's morphology); ``edge = dilated
    XOR eroded``. Gradients flow into ``prob`` on the edge band only."""

    def __init__(self, kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = int(kernel_size)
        if self.kernel_size % 2 == 0:
            raise ModelError(f"EdgeSynthesis: kernel_size must be odd, got {kernel_size}")

    def call(self, prob, sils):
        k = self.kernel_size
        sils = ops.stop_gradient(sils)
        dilated = ops.max_pool(sils, k, strides=1, padding="same") > 0.5
        eroded = -ops.max_pool(-sils, k, strides=1, padding="same") > 0.5
        edge = ops.cast(ops.logical_xor(dilated, eroded), prob.dtype)
        return edge * prob + ops.cast(eroded, prob.dtype) * sils

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size}


def _roi_axis_weights(start, end, out, size):
    """Sampling weights of one RoIAlign axis (torchvision, ``aligned=False``, adaptive grid):
    ``start``/``end`` ``[N]`` box edges in pixels -> ``[N, out, size]``: output bin ``p`` is the
    mean over ``g = ceil(length / out)`` samples at ``start + p b + (i + 0.5) b / g``
    (``b = length / out``, ``length = max(end - start, 1)``) of the bilinear weights of the
    input pixels; samples beyond ``[-1, size]`` count as 0."""
    length = ops.maximum(end - start, 1.0)
    b = length / float(out)
    g = ops.ceil(length / float(out))
    g_max = max(1, math.ceil((size + 1.0) / out))  # the longest box spans the whole axis
    p = ops.cast(ops.arange(out), "float32")[None, :, None]
    i = ops.cast(ops.arange(g_max), "float32")[None, None, :]
    e = lambda v: v[:, None, None]  # noqa: E731
    coord = e(start) + p * e(b) + (i + 0.5) * e(b) / e(g)  # [N, out, g_max]
    use = ops.cast((i < e(g)) & (coord >= -1.0) & (coord <= float(size)), "float32") / e(g)
    c = ops.maximum(coord, 0.0)
    low = ops.floor(c)
    edge = low >= size - 1
    low = ops.where(edge, float(size - 1), low)
    c = ops.where(edge, low, c)
    high = ops.where(edge, low, low + 1.0)
    frac = c - low
    pix = ops.cast(ops.arange(size), "float32")[None, None, None, :]
    w = (ops.cast(pix == low[..., None], "float32") * (1.0 - frac)[..., None]
         + ops.cast(pix == high[..., None], "float32") * frac[..., None])  # [N, out, g_max, size]
    return ops.sum(w * use[..., None], axis=2)


@keras.saving.register_keras_serializable(package="gait_tf")
class GaitAlign(keras.layers.Layer):
    """GaitEdge's differentiable alignment: ``(feature [N, h, w, C], binary_mask [N, h, w, 1],
    ratios [N]) -> [N, H, W, C]`` (OpenGait ``modules.GaitAlign``, ``H x W`` = 64 x 44).

    From the mask: the top and bottom rows with at least ``eps`` foreground pixels, and the
    column where the mask's cumulative column mass reaches half; the box is that height, as
    wide as the map is (relative to its height), widened on each side by the padding that
    restores the original box's ``ratios`` (width / height) at the output aspect; the feature
    map is zero-padded by ``W/2`` columns on both sides and the box resampled by RoIAlign
    (torchvision semantics: ``aligned=False``, sampling grid ``ceil(box / bin)``). The box is
    not differentiable; the sampled values are (bilinear weights)."""

    def __init__(self, out_hw=(64, 44), eps=1.0, **kwargs):
        super().__init__(**kwargs)
        self.out_hw = tuple(int(v) for v in out_hw)
        self.eps = float(eps)

    def boxes(self, binary_mask, ratios):
        """``(left, top, right, bottom)`` ``[N]`` each, in padded-map pixels."""
        out_h, out_w = self.out_hw
        h, w = binary_mask.shape[1], binary_mask.shape[2]
        m = ops.stop_gradient(ops.cast(binary_mask[..., 0], "float32"))
        rows = ops.sum(m, axis=2)
        q = ops.cumsum(ops.cast(rows >= self.eps, "float32"), axis=1)
        top = ops.sum(ops.cast(q == 0.0, "float32"), axis=1)
        bottom = ops.sum(ops.cast(q != ops.max(q, axis=1, keepdims=True), "float32"), axis=1) + 1.0
        cols = ops.sum(m, axis=1)
        centre = ops.sum(ops.cast(ops.cumsum(cols, axis=1) < ops.sum(cols, axis=1, keepdims=True) / 2.0, "float32"),
                         axis=1)
        ratio = ops.reshape(ops.stop_gradient(ops.cast(ratios, "float32")), (-1,))
        p1 = ops.maximum((out_w - out_h * ratio) / 2.0, 0.0)
        p2 = p1 / (ratio * out_h / w)
        height = bottom - top
        width = height * w / h
        pad = out_w // 2
        centre = centre + pad
        left = ops.clip(centre - width / 2.0 - p2, 0.0, float(w + 2 * pad))
        right = ops.clip(centre + width / 2.0 + p2, 0.0, float(w + 2 * pad))
        return left, top, right, bottom

    def call(self, feature, binary_mask, ratios):
        out_h, out_w = self.out_hw
        h, w = feature.shape[1], feature.shape[2]
        pad = out_w // 2
        left, top, right, bottom = self.boxes(binary_mask, ratios)
        ay = _roi_axis_weights(top, bottom, out_h, h)  # [N, H, h]
        ax = _roi_axis_weights(left, right, out_w, w + 2 * pad)[:, :, pad:pad + w]  # padding samples are 0
        x = ops.cast(feature, "float32")
        out = ops.einsum("nyr,nrsc,nxs->nyxc", ay, x, ax)
        return ops.cast(out, feature.dtype)

    def compute_output_shape(self, feature_shape, binary_mask_shape=None, ratios_shape=None):
        return (feature_shape[0],) + self.out_hw + (feature_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "out_hw": list(self.out_hw), "eps": self.eps}


@keras.saving.register_keras_serializable(package="gait_tf")
class ResizeFrames(keras.layers.Layer):
    """``[N, h, w, C] -> [N, H, W, C]`` bilinear with anti-aliasing (torchvision ``Resize`` on
    tensors)."""

    def __init__(self, out_hw=(64, 44), **kwargs):
        super().__init__(**kwargs)
        self.out_hw = tuple(int(v) for v in out_hw)

    def call(self, x):
        import tensorflow as tf

        return tf.image.resize(x, self.out_hw, method="bilinear", antialias=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.out_hw + (input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "out_hw": list(self.out_hw)}


def _unet(x, widths):
    """OpenGait's ``U_Net`` on frames ``[N, H, W, 3] -> logits [N, H, W, 1]`` (layer names
    ``seg_conv{1..4}_*``, ``seg_up{4,3,2}_*``, ``seg_up_conv{4,3,2}_*``, ``seg_conv_1x1``)."""

    def conv_block(t, ch, name):
        for j in range(2):
            t = blocks.TorchConv2D(ch, 3, use_bias=True, name=f"{name}_conv{j}")(t)
            t = blocks.batch_norm(f"{name}_bn{j}")(t)
            t = keras.layers.ReLU(name=f"{name}_relu{j}")(t)
        return t

    def up_conv(t, ch, name):
        t = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_up")(t)
        t = blocks.TorchConv2D(ch, 3, use_bias=True, name=f"{name}_conv")(t)
        t = blocks.batch_norm(f"{name}_bn")(t)
        return keras.layers.ReLU(name=f"{name}_relu")(t)

    w = [int(v) for v in widths]
    x1 = conv_block(x, w[0], "seg_conv1")
    x2 = conv_block(keras.layers.MaxPooling2D(2, name="seg_pool1")(x1), w[1], "seg_conv2")
    x3 = conv_block(keras.layers.MaxPooling2D(2, name="seg_pool2")(x2), w[2], "seg_conv3")
    x4 = conv_block(keras.layers.MaxPooling2D(2, name="seg_pool3")(x3), w[3], "seg_conv4")
    d4 = conv_block(keras.layers.Concatenate(name="seg_cat4")([x3, up_conv(x4, w[2], "seg_up4")]), w[2], "seg_up_conv4")
    d3 = conv_block(keras.layers.Concatenate(name="seg_cat3")([x2, up_conv(d4, w[1], "seg_up3")]), w[1], "seg_up_conv3")
    d2 = conv_block(keras.layers.Concatenate(name="seg_cat2")([x1, up_conv(d3, w[0], "seg_up2")]), w[0], "seg_up_conv2")
    return blocks.TorchConv2D(1, 1, use_bias=True, name="seg_conv_1x1")(d2)


ENCODER_PREFIXES = ("seg_conv1_", "seg_conv2_", "seg_conv3_", "seg_conv4_")


class GaitEdgeLoss:
    """GaitEdge's objective (the model's registered ``loss``): the ``losses:`` list (triplet +
    cross-entropy) on the recognition outputs plus ``segmentation`` weight x binary
    cross-entropy of the ``segmentation`` output against the mask (OpenGait's
    ``BinaryCrossEntropyLoss``, ``loss_term_weight: 10``). Batches are ``x = {"frames",
    "ratios", "mask"}``; the mask is passed to the model only when it takes one."""

    section = "gaitedge"
    defaults = {"segmentation": 10.0}
    batch = "pk"
    needs_mask = True

    def __init__(self, settings=None, losses=None):
        from gait_tf.losses import build_loss

        self.weight = float(dict(self.defaults, **(settings or {}))["segmentation"])
        self.recognition = build_loss(losses or [{"type": "triplet", "margin": 0.2}])

    def __call__(self, model, x, labels, training=True):
        import tensorflow as tf

        names = set(model.input) if isinstance(model.input, dict) else {"frames"}
        outputs = model({k: v for k, v in x.items() if k in names}, training=training)
        loss, metrics = self.recognition(outputs, labels)
        p = tf.clip_by_value(tf.cast(outputs["segmentation"], tf.float32), 1e-7, 1.0 - 1e-7)
        m = tf.cast(x["mask"], tf.float32)
        bce = -tf.reduce_mean(m * tf.math.log(p) + (1.0 - m) * tf.math.log(1.0 - p))
        total = loss + self.weight * bce
        return total, {**metrics, "bce/loss": bce, "loss": total}


@register_model("gaitedge", input_kind="rgb_crops", input_hw=(128, 128), channels=3, presets=PRESETS,
                default_preset="casia_b", loss=GaitEdgeLoss)
def gaitedge(channels=(32, 64, 128), class_num=74, edge=True, align=True, kernel_size=3, input_hw=(128, 128),
             unet_widths=(16, 32, 64, 128), freeze_encoder=True, mask_input=False, name="gaitedge"):
    """GaitEdge: ``{"frames": [B, T, H, W, 3], "ratios": [B, T]}`` (+ ``"mask"`` with
    ``mask_input``) -> ``{"embeddings": [B, 64, channels[-1]], "logits", "segmentation",
    "aligned"}``. ``freeze_encoder``: the U-Net's encoder is not trained (OpenGait's
    ``freeze_half``; Keras semantics, so its BatchNorms also keep their statistics)."""
    h, w = (int(v) for v in input_hw)
    if h % 8 or w % 8:
        raise ModelError(f"model 'gaitedge': input_hw {h}x{w} must be multiples of 8 (U-Net with 3 pooling steps)")
    frames = keras.Input(shape=(None, h, w, 3), name="frames")
    ratios = keras.Input(shape=(None,), name="ratios")
    inputs = {"frames": frames, "ratios": ratios}
    x = blocks.FoldFrames(name="fold")(frames)
    x = Standardize(IMAGENET_MEAN, IMAGENET_STD, name="imagenet_norm")(x)
    prob = keras.layers.Activation("sigmoid", name="seg_prob")(_unet(x, unet_widths))
    if mask_input and not edge:
        raise ModelError("model 'gaitedge': mask_input=True needs edge=True (without gait synthesis OpenGait "
                         "aligns on the segmentation's own mask)")
    if mask_input:
        inputs["mask"] = keras.Input(shape=(None, h, w, 1), name="mask")
        sils = blocks.FoldFrames(name="fold_mask")(inputs["mask"])
    else:
        sils = BinaryMask(name="seg_mask")(prob)
    gait_in = EdgeSynthesis(kernel_size, name="edge_synthesis")(prob, sils) if edge else prob
    if align:
        r = blocks.FoldFrames(name="fold_ratios")(ratios)
        aligned = GaitAlign((64, 44), name="gait_align")(gait_in, sils, r)
    else:
        aligned = ResizeFrames((64, 44), name="resize")(gait_in)
    aligned = blocks.UnfoldFrames(name="unfold")([aligned, frames])
    recognition = gaitgl(channels=channels, class_num=class_num, variant="casia_b", input_hw=(64, 44), name="gaitgl")
    out = recognition(aligned)
    seg = blocks.UnfoldFrames(name="segmentation")([prob, frames])
    model = keras.Model(inputs, {"embeddings": out["embeddings"], "logits": out["logits"], "segmentation": seg,
                                 "aligned": aligned}, name=name)
    if freeze_encoder:
        for layer in model.layers:
            if layer.name.startswith(ENCODER_PREFIXES):
                layer.trainable = False
    return model
