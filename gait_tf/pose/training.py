"""Training of HumanPoseIRNetwork and GaitNetwork (synthetic walkers or your own data).

Pose (as the original ``HumanPoseNN``):

* targets on the 289x289 heat-map grid: binary disks of diameter 15 around each visible
  joint (``SCE``, default) or peak-1 Gaussians (``MSE``, sigma 5 px);
* ``SCE``: sigmoid cross-entropy of the smoothed logits, summed over the map per joint,
  masked by visibility and averaged over the visible joints; ``MSE``: the same reduction of
  ``(sigmoid(logits) - target)^2``;
* RMSProp with global-norm gradient clipping 2.0 (the original's ``optimize_loss``).

Gait (as the original ``GaitNN``): softmax cross-entropy over the training identities on
the (dropout 0.3) identification vector; ``loss="triplet"`` uses batch-all triplet loss on
the identification vectors instead (``gait_tf.losses``); ``EndToEndTrainer`` back-propagates
through the pose network too (RGB frames -> identity).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from gait_tf.errors import ConfigError, DataError
from gait_tf.pose.human_pose import HEATMAP_SIZE, IMAGE_SIZE, NUM_JOINTS

POINT_DIAMETER = 15
GAUSS_SIGMA = 5.0


# --- data ----------------------------------------------------------------------------------
CROP_MARGIN = 1.3


def crop_person(rgb, joints, out_size=IMAGE_SIZE, margin=CROP_MARGIN):
    """Square crops centred on the person in every frame, resized to ``out_size``.

    ``rgb`` uint8 ``[T, H, W, 3]``, ``joints`` float32 ``[T, 16, 3]`` (x, y, visible) in
    pixels. As the original expected its input (a tracked person, centred, filling the
    frame vertically): frame ``t``'s crop is centred on the centre of the bounding box of
    its 16 joints (occluded joints included: their positions are known), and its side is
    ``margin`` x the sequence's median joint extent (max of the box's height and width),
    so the person keeps one scale within a sequence. Parts of a crop outside the image are
    filled with the nearest edge pixels. Returns uint8 ``[T, out, out, 3]`` and joints
    ``[T, 16, 3]`` in the output's pixels (a joint outside the crop becomes invisible).
    """
    rgb = np.asarray(rgb)
    joints = np.asarray(joints, np.float32)
    if rgb.ndim != 4 or joints.shape != (rgb.shape[0], NUM_JOINTS, 3):
        raise DataError(f"crop_person: rgb [T, H, W, 3] and joints [T, 16, 3] expected, "
                        f"got {list(rgb.shape)} and {list(joints.shape)}")
    t, h, w, _ = rgb.shape
    xy = joints[..., :2]
    lo, hi = xy.min(axis=1), xy.max(axis=1)  # [T, 2]
    extent = float(np.median((hi - lo).max(axis=1)))
    side = int(np.clip(round(margin * extent), 16, 4 * max(h, w))) if np.isfinite(extent) and extent > 0 \
        else min(h, w)
    centre = (lo + hi) / 2.0  # [T, 2] (x, y)
    x0 = np.round(centre[:, 0] - side / 2.0).astype(int)
    y0 = np.round(centre[:, 1] - side / 2.0).astype(int)
    pad = int(max(0, -x0.min(), -y0.min(), (x0 + side - w).max(), (y0 + side - h).max()))
    src = np.pad(rgb, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge") if pad else rgb
    crop = np.stack([src[i, y0[i] + pad:y0[i] + pad + side, x0[i] + pad:x0[i] + pad + side] for i in range(t)])
    out = tf.image.resize(crop, (out_size, out_size), method="bilinear", antialias=True)
    out = np.clip(np.round(out.numpy()), 0, 255).astype(np.uint8)
    j = joints.copy()
    s = out_size / side
    j[..., 0] = (j[..., 0] - x0[:, None]) * s
    j[..., 1] = (j[..., 1] - y0[:, None]) * s
    inside = (j[..., 0] >= 0) & (j[..., 0] < out_size) & (j[..., 1] >= 0) & (j[..., 1] < out_size)
    j[..., 2] = j[..., 2] * inside
    return out, j


def heatmap_targets(joints, kind="SCE", size=HEATMAP_SIZE, image_size=IMAGE_SIZE,
                    diameter=POINT_DIAMETER, sigma=GAUSS_SIGMA):
    """Training targets ``[B, size, size, 16]`` float32 from joints ``[B, 16, 3]`` (x, y,
    visible) in image pixels (``image_size`` square). ``SCE``: 1 inside a disk of
    ``diameter`` px (heat-map pixels) around each visible joint; ``MSE``: ``exp(-d^2 / 2
    sigma^2)``. Invisible joints get an all-zero map (and are masked in the loss)."""
    joints = np.asarray(joints, np.float32)
    scale = size / image_size
    cx = joints[..., 0] * scale  # [B, 16]
    cy = joints[..., 1] * scale
    grid = np.arange(size, dtype=np.float32)
    dx2 = (grid[None, :, None] - cx[:, None, :]) ** 2  # [B, W, 16]
    dy2 = (grid[None, :, None] - cy[:, None, :]) ** 2  # [B, H, 16]
    d2 = dy2[:, :, None, :] + dx2[:, None, :, :]  # [B, H, W, 16]
    if kind == "SCE":
        maps = (d2 <= (diameter / 2.0) ** 2).astype(np.float32)
    elif kind == "MSE":
        maps = np.exp(-d2 / (2.0 * sigma ** 2)).astype(np.float32)
    else:
        raise ConfigError(f"heatmap_targets: kind must be 'SCE' or 'MSE', got {kind!r}")
    return maps * (joints[..., 2] > 0)[:, None, None, :].astype(np.float32)


def pose_loss(logits, targets, visible, kind="SCE", pos_weight=1.0):
    """Scalar loss: per-joint map sums, masked by ``visible`` ``[B, 16]``, averaged over visible joints.

    ``logits``/``targets`` ``[B, H, W, 16]``. ``SCE``: sigmoid cross-entropy; ``MSE``:
    ``(sigmoid(logits) - targets)^2``. ``pos_weight`` multiplies the error of the target
    pixels (``1 + (pos_weight - 1) * target``): 1 is the original's loss, where a joint's
    disk is ~0.2 % of the map, so "all background" is a strong early optimum; ~10-50
    makes the joints learnable in a short training run.
    """
    targets = tf.cast(targets, tf.float32)
    logits = tf.cast(logits, tf.float32)
    if kind == "SCE":
        err = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    else:
        err = tf.square(tf.sigmoid(logits) - targets)
    if pos_weight != 1.0:
        err = err * (1.0 + (float(pos_weight) - 1.0) * targets)
    per_joint = tf.reduce_sum(err, axis=[1, 2]) * tf.cast(visible, tf.float32)
    return tf.reduce_sum(per_joint) / tf.maximum(tf.reduce_sum(tf.cast(visible, tf.float32)), 1.0)


def synthetic_pose_samples(generator, subjects, conditions=("nm-01",), views=(90,), frames_per_seq=None,
                           seed=0):
    """Frames of synthetic walkers: uint8 ``[N, 299, 299, 3]`` and joints ``[N, 16, 3]``.

    ``generator`` is a ``gait_tf.synth.WalkerGenerator``; each sequence is cropped with
    :func:`crop_person` and ``frames_per_seq`` of its frames are drawn at random (``seed``;
    all frames if None).
    """
    rng = np.random.default_rng(seed)
    images, joints = [], []
    for s in subjects:
        for c in conditions:
            for v in views:
                seq = generator.sequence(subject=s, condition=c, view=v)
                rgb, j = crop_person(seq.rgb, seq.joints)
                idx = np.arange(len(rgb))
                if frames_per_seq is not None and frames_per_seq < len(rgb):
                    idx = np.sort(rng.choice(len(rgb), frames_per_seq, replace=False))
                images.append(rgb[idx])
                joints.append(j[idx])
    if not images:
        raise DataError("synthetic_pose_samples: no sequences (empty subjects/conditions/views)")
    return np.concatenate(images), np.concatenate(joints)


# --- pose trainer --------------------------------------------------------------------------
class PoseTrainer:
    """Train a :class:`~gait_tf.pose.human_pose.HumanPoseIRNetwork` on images + joints.

    ``train_step(images, joints)`` takes uint8 ``[B, 299, 299, 3]`` and ``[B, 16, 3]`` (x, y,
    visible in image pixels) and returns the loss. ``pos_weight``: see :func:`pose_loss`
    (1 = the original's loss). RMSProp/Adam with global-norm clipping ``clipnorm``.
    ``bn_momentum`` overrides the BatchNorm layers' moving-average momentum (slim's 0.999
    leaves the inference statistics at their initial values for the first thousands of
    steps, so a short run predicts garbage in inference mode; use ~0.9 for short runs).
    """

    def __init__(self, net, learning_rate=1e-3, optimizer="rmsprop", clipnorm=2.0, jit_compile=False,
                 pos_weight=1.0, bn_momentum=None):
        import keras

        self.net = net
        net.has_weights = True  # trained weights: the Keras network answers (HumanPoseIRNetwork.backend)
        self.kind = net.loss_type
        self.pos_weight = float(pos_weight)
        if bn_momentum is not None:  # slim's 0.999 needs thousands of steps for usable inference statistics
            set_batchnorm_momentum(net.model, bn_momentum)
        opt = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam}.get(optimizer)
        if opt is None:
            raise ConfigError(f"PoseTrainer: optimizer must be 'rmsprop' or 'adam', got {optimizer!r}")
        self.optimizer = opt(learning_rate=learning_rate, global_clipnorm=clipnorm)
        self._step = tf.function(self._train_step, jit_compile=jit_compile, reduce_retracing=True)

    def _train_step(self, x, targets, visible):
        model = self.net.model
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = pose_loss(out["logits"], targets, visible, self.kind, self.pos_weight)
        grads = tape.gradient(loss, model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def train_step(self, images, joints):
        x, _ = self.net._prep(images)
        joints = np.asarray(joints, np.float32)
        targets = heatmap_targets(joints, self.kind)
        return float(self._step(x, targets, (joints[..., 2] > 0).astype(np.float32)))

    def fit(self, images, joints, steps, batch_size=8, seed=0, flip=True, log_every=0):
        """``steps`` random mini-batches from ``images``/``joints``; returns the loss history.

        ``flip`` mirrors half of the batches horizontally (swapping left/right joints).
        """
        rng = np.random.default_rng(seed)
        history = []
        for step in range(steps):
            idx = rng.choice(len(images), min(batch_size, len(images)), replace=False)
            x, j = images[idx], joints[idx].copy()
            if flip and rng.random() < 0.5:
                x, j = flip_lr(x, j)
            history.append(self.train_step(x, j))
            if log_every and (step + 1) % log_every == 0:
                print(f"pose step {step + 1}/{steps} loss {np.mean(history[-log_every:]):.4f}", flush=True)
        return history


def set_batchnorm_momentum(model, momentum):
    """Set the moving-average momentum of every ``BatchNormalization`` layer inside ``model``
    (nested models included); returns how many were changed. Call before the first training step."""
    import keras

    n = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
            n += 1
    return n


_FLIP = [5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10]


def flip_lr(images, joints):
    """Mirror ``[B, H, W, 3]`` images and ``[B, 16, 3]`` joints (left/right joints swapped)."""
    w = images.shape[2]
    j = joints[:, _FLIP].copy()
    j[..., 0] = (w - 1) - j[..., 0]
    return images[:, :, ::-1].copy(), j


# --- gait trainers --------------------------------------------------------------------------
def _gait_loss(out, labels, loss, margin):
    from gait_tf.losses import batch_all_triplet_loss

    if loss == "softmax":
        logits = out["logits"][:, 0]
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    value, _ = batch_all_triplet_loss(out["embeddings"], labels, margin=margin)
    return value


class GaitTrainer:
    """Train a :class:`~gait_tf.pose.gait_network.GaitNetwork` on pose-feature sequences.

    ``loss="softmax"`` (the original; needs ``num_of_persons > 0``) or ``"triplet"``
    (batch-all, margin 0.2). ``train_step(features [B, T, 17, 17, 32], lengths [B],
    labels int [B])`` returns the loss. RMSProp, global-norm clipping 0.1 as the original.
    """

    def __init__(self, net, loss="softmax", learning_rate=1e-4, clipnorm=0.1, margin=0.2):
        import keras

        if loss not in ("softmax", "triplet"):
            raise ConfigError(f"GaitTrainer: loss must be 'softmax' or 'triplet', got {loss!r}")
        if loss == "softmax" and net.model.logits_layer is None:
            raise ConfigError("GaitTrainer: loss='softmax' needs GaitNetwork(num_of_persons > 0)")
        self.net, self.loss, self.margin = net, loss, margin
        self.optimizer = keras.optimizers.RMSprop(learning_rate=learning_rate, global_clipnorm=clipnorm)
        self._step = tf.function(self._train_step, reduce_retracing=True)

    def _train_step(self, features, lengths, labels):
        model = self.net.model
        with tf.GradientTape() as tape:
            out = model({"features": features, "lengths": lengths}, training=True)
            value = _gait_loss(out, labels, self.loss, self.margin)
        grads = tape.gradient(value, model.trainable_variables)
        self.optimizer.apply_gradients(
            [(g, v) for g, v in zip(grads, model.trainable_variables) if g is not None])
        return value

    def train_step(self, features, lengths, labels):
        return float(self._step(np.asarray(features, np.float32), np.asarray(lengths, np.int32),
                                np.asarray(labels, np.int32)))


class EndToEndTrainer:
    """RGB frames -> HumanPoseIRNetwork features -> GaitNetwork, trained jointly.

    ``train_step(frames uint8 [B, T, 299, 299, 3], labels [B])``; gradients reach both
    networks (``train_pose=False`` freezes the pose network).
    """

    def __init__(self, pose_net, gait_net, loss="softmax", learning_rate=1e-4, clipnorm=0.1,
                 train_pose=True, margin=0.2):
        import keras

        if loss == "softmax" and gait_net.model.logits_layer is None:
            raise ConfigError("EndToEndTrainer: loss='softmax' needs GaitNetwork(num_of_persons > 0)")
        self.pose, self.gait, self.loss, self.margin, self.train_pose = pose_net, gait_net, loss, margin, train_pose
        self.optimizer = keras.optimizers.RMSprop(learning_rate=learning_rate, global_clipnorm=clipnorm)
        self._step = tf.function(self._train_step, reduce_retracing=True)

    def _variables(self):
        v = list(self.gait.model.trainable_variables)
        if self.train_pose:
            v += list(self.pose.features_model.trainable_variables)
        return v

    def _train_step(self, frames, labels):
        shape = tf.shape(frames)
        b, t = shape[0], shape[1]
        variables = self._variables()
        with tf.GradientTape() as tape:
            flat = tf.reshape(frames, tf.concat([[b * t], shape[2:]], 0))
            feats = self.pose.features_model(flat, training=self.train_pose)
            feats = tf.reshape(feats, [b, t, 17, 17, 32])
            out = self.gait.model(feats, training=True)
            value = _gait_loss(out, labels, self.loss, self.margin)
        grads = tape.gradient(value, variables)
        self.optimizer.apply_gradients([(g, v) for g, v in zip(grads, variables) if g is not None])
        return value

    def train_step(self, frames, labels):
        frames = np.asarray(frames)
        b, t = frames.shape[:2]
        x, _ = self.pose._prep(frames.reshape((b * t,) + frames.shape[2:]))
        x = x.reshape((b, t) + x.shape[1:])
        return float(self._step(x, np.asarray(labels, np.int32)))
