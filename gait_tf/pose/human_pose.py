"""HumanPoseIRNetwork: RGB image -> 16 MPII joint heat maps and 17x17x32 pose features.

Keras 3 re-implementation of ``HumanPoseIRNetwork`` of marian-margeta/gait-recognition
(``human_pose_nn.py``):

* input ``[B, 299, 299, 3]`` RGB, mapped to [-1, 1] by ``(x / 255 - 0.5) * 2``;
* backbone (:mod:`gait_tf.pose.backbones`) -> ``[B, 17, 17, 768]``;
* ``AuxiliaryScoring/Dropout`` (keep 0.7, training only), ``Scoring_layer``: 1x1 conv to 32
  (linear, bias) -> the *features* ``[B, 17, 17, 32]``;
* ``Upsampling_layer``: transposed conv, kernel 17, stride 17, VALID -> ``[B, 289, 289, 16]``;
* fixed Gaussian smoothing of those logits (21 taps, sigma 5 px, 2-D sum 0.2) -> ``logits``;
* ``sigmoid(logits)`` is the *unsmoothed* probability map (its peak is a joint's
  probability); smoothing it again (15 taps, sigma 2.45 px, sum 1) gives ``heat_maps``,
  whose arg-max is the joint's position.
"""
from __future__ import annotations

import numpy as np

import keras
from keras import layers

from gait_tf.errors import ModelError
from gait_tf.pose.backbones import BACKBONES, inception_resnet_v2_17x17, mobilenet_v2_17x17
from gait_tf.pose.checks import MIN_IMAGE_SIZE, check_image_size, validate_images  # noqa: F401 - re-exported
from gait_tf.pose.layers import GaussianSmoothing, PatchUpsampling

try:  # the synthetic-walker helper defines the canonical list; re-export it
    from gait_tf.synth import JOINT_NAMES  # noqa: F401
except Exception:  # pragma: no cover - synth package not importable
    try:
        from gait_tf.synth.body import JOINT_NAMES  # noqa: F401
    except Exception:
        JOINT_NAMES = (
            "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
            "pelvis", "thorax", "upper_neck", "head_top",
            "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
        )

IMAGE_SIZE = 299
HEATMAP_SIZE = 289
FEATURES = 32
NUM_JOINTS = 16
#: prior probability of a joint pixel at initialisation (a disk of diameter 15 is ~0.2 % of the
#: 289x289 map): the upsampling bias starts at logit(prior) / 0.2 (the smoothing's kernel sum),
#: so training does not spend its first thousands of steps learning the background (the
#: "prior" initialisation of RetinaNet); irrelevant once weights are restored.
JOINT_PRIOR = 0.002
UPSAMPLING_BIAS_INIT = float(np.log(JOINT_PRIOR / (1.0 - JOINT_PRIOR)) / 0.2)


def build_pose_model(backbone="inception_resnet_v2", num_block35=10, num_block17=20, dropout=0.3,
                     resolution=272, aux_channels=768):
    """Keras model: image ``[B, 299, 299, 3]`` in [-1, 1] -> dict

    ``features`` ``[B, 17, 17, 32]``, ``logits`` ``[B, 289, 289, 16]`` (smoothed upsampled
    logits: the training target of the loss), ``heatmaps`` ``[B, 289, 289, 16]``
    (smoothed sigmoid, in [0, 1]).

    ``num_block35``/``num_block17``: Inception-ResNet-v2 depth (tiny test configs);
    ``resolution`` (272 or 136) and ``aux_channels``: the ``mobilenet_v2`` backbone's
    internal resolution and aux-tower width (the input stays 299x299 either way).
    """
    if backbone not in BACKBONES:
        raise ModelError(f"HumanPoseIRNetwork: unknown backbone {backbone!r}; choose from {BACKBONES}")
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    if backbone == "inception_resnet_v2":
        x = inception_resnet_v2_17x17(inputs, num_block35=num_block35, num_block17=num_block17)
    else:
        x = mobilenet_v2_17x17(inputs, resolution=resolution, aux_channels=aux_channels)
    x = layers.Dropout(dropout, name="AuxiliaryScoring.Dropout")(x)
    features = layers.Conv2D(FEATURES, 1, name="AuxiliaryScoring.Scoring_layer")(x)
    up = PatchUpsampling(NUM_JOINTS, 17, strides=17, padding="valid",
                         bias_initializer=keras.initializers.Constant(UPSAMPLING_BIAS_INIT),
                         name="AuxiliaryScoring.Upsampling_layer")(features)
    logits = GaussianSmoothing(21, 1.0, 0.2, name="Smoothing")(up)
    probs = layers.Activation("sigmoid", name="sigmoid")(logits)
    heatmaps = GaussianSmoothing(15, 0.7, 1.0, name="HeatmapSmoothing")(probs)
    return keras.Model(inputs, {"features": features, "logits": logits, "heatmaps": heatmaps},
                       name=f"humanpose_{backbone}")


def preprocess(images, input_scale=255.0):
    """``[B, H, W, 3]`` (or ``[H, W, 3]``) uint8 0..255 or float 0..``input_scale`` ->
    float32 ``[B, 299, 299, 3]`` in [-1, 1] (bilinear resize when not 299x299), plus the
    original ``(H, W)``."""
    x = validate_images(images)
    scale = 255.0 if x.dtype == np.uint8 else float(input_scale)
    x = (x.astype(np.float32) / scale - 0.5) * 2.0
    hw = x.shape[1:3]
    if tuple(hw) != (IMAGE_SIZE, IMAGE_SIZE):
        import tensorflow as tf

        x = tf.image.resize(x, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear").numpy()
    return x, tuple(int(v) for v in hw)


class HumanPoseIRNetwork:
    """The original project's ``HumanPoseIRNetwork`` API on Keras 3.

    Images are ``[B, H, W, 3]`` RGB: uint8 0..255, or float 0..255 like the original
    (``input_scale=1.0`` for float images in [0, 1]). Images that are not 299x299 are
    resized to it; coordinates are always returned in the *input's* pixels.

    >>> net = HumanPoseIRNetwork()
    >>> net.restore("MPII+LSP.ckpt")                  # TF1 checkpoint of the original project
    >>> ys, xs, probs = net.joint_positions(images)   # each [B, 16]
    >>> feats = net.feed_forward_features(frames)     # [B, 17, 17, 32] for GaitNetwork

    ``backbone="mobilenet_v2"`` is the faster option (same API, own weights only).
    ``self.model`` is the Keras model of :func:`build_pose_model`.

    The original constructor ``HumanPoseIRNetwork(log_name=None, loss_type='SCE',
    is_training=False)`` works as it did (positionally too): ``loss_type`` selects the
    training loss (:mod:`gait_tf.pose.training`); ``log_name`` is kept as ``self.log_name``
    (the original named its TensorBoard summaries with it; the Keras port writes none);
    ``is_training`` has no effect (in Keras the training mode is chosen per call, e.g. by
    ``PoseTrainer``). Ignored values are reported once (:class:`gait_tf.compat.TF1CompatibilityWarning`).
    Images are checked: NaN or infinite pixels and images smaller than
    :data:`MIN_IMAGE_SIZE` on a side raise :class:`~gait_tf.errors.ModelError`.

    **Which backend answers** (``backend``): ``"auto"`` (default) uses the real-pose
    backend, :class:`~gait_tf.pose.blazepose_backend.BlazePoseNetwork` (BlazePose, all
    persons, fetched by ``gait-tf models fetch``), for ``joint_positions`` /
    ``estimate_joints`` / ``heat_maps`` / ``feed_forward`` *while the network has no
    weights*; once weights are restored (:meth:`restore`), given (``model=``) or trained
    (:class:`~gait_tf.pose.training.PoseTrainer`), the Keras network answers, as before.
    ``"keras"`` always uses the Keras network (untrained if no weights), ``"blazepose"``
    always the real backend. ``feed_forward_features`` always comes from the Keras network.
    ``self.backend`` says which one answers now.
    """

    FEATURES = FEATURES
    IMAGE_SIZE = IMAGE_SIZE
    HEATMAP_SIZE = HEATMAP_SIZE
    POINT_DIAMETER = 15
    SMOOTH_SIZE = 21
    JOINT_NAMES = tuple(JOINT_NAMES)

    def __init__(self, log_name=None, loss_type="SCE", is_training=False, *, backbone="inception_resnet_v2",
                 input_scale=255.0, jit_compile=False, model=None, backend="auto", **model_kwargs):
        import tensorflow as tf

        from gait_tf.compat import note_once

        if log_name is not None and not isinstance(log_name, str):
            raise ModelError(f"HumanPoseIRNetwork: log_name (the original's summary name) must be a string or "
                             f"None, got {log_name!r}")
        if log_name in BACKBONES:
            raise ModelError(f"HumanPoseIRNetwork({log_name!r}): the first argument is the original API's "
                             f"log_name; choose a backbone with backbone={log_name!r}")
        if backend not in ("auto", "keras", "blazepose"):
            raise ModelError(f"HumanPoseIRNetwork: backend must be 'auto', 'keras' or 'blazepose', got {backend!r}")
        self._backend_choice = backend
        self.has_weights = model is not None
        self._real = None
        if loss_type not in ("SCE", "MSE"):
            raise ModelError(f"HumanPoseIRNetwork: loss_type must be 'SCE' or 'MSE', got {loss_type!r}")
        if log_name is not None:
            note_once("HumanPoseIRNetwork.log_name",
                      f"HumanPoseIRNetwork(log_name={log_name!r}): kept as .log_name only; the original named its "
                      "TF1 summaries with it, the Keras port writes no summaries (use tf.summary / Keras callbacks)")
        if is_training:
            note_once("HumanPoseIRNetwork.is_training",
                      "HumanPoseIRNetwork(is_training=True) has no effect: in Keras the training mode is chosen "
                      "per call (gait_tf.pose.training.PoseTrainer trains with training=True)")
        self.log_name, self.is_training = log_name, bool(is_training)
        self.backbone, self.loss_type, self.input_scale = backbone, loss_type, float(input_scale)
        self.model = model if model is not None else build_pose_model(backbone, **model_kwargs)
        self.features_model = keras.Model(self.model.input, self.model.output["features"])
        kw = dict(reduce_retracing=True, jit_compile=jit_compile)
        self._features_fn = tf.function(self._features_impl, **kw)
        self._heads_fn = tf.function(self._heads_impl, **kw)

    def _features_impl(self, x):
        return self.features_model(x, training=False)

    def _heads_impl(self, x):
        return _heads(self.model(x, training=False))

    # --- inference ------------------------------------------------------------------------
    def _prep(self, x):
        return preprocess(x, self.input_scale)

    def feed_forward_features(self, x):
        """Pose features ``[B, 17, 17, 32]`` (the input of :class:`GaitNetwork`)."""
        x, _ = self._prep(x)
        return np.asarray(self._features_fn(x))

    @property
    def backend(self) -> str:
        """``"keras"`` or ``"blazepose"``: who answers ``joint_positions`` / ``heat_maps`` now."""
        if self._backend_choice == "auto":
            return "keras" if self.has_weights else "blazepose"
        return self._backend_choice

    def _real_backend(self):
        if self.backend != "blazepose":
            return None
        if self._real is None:
            from gait_tf.pose.blazepose_backend import BlazePoseNetwork

            self._real = BlazePoseNetwork()
        return self._real

    def _real_images(self, x) -> np.ndarray:
        """Checked images as uint8 0..255 for the real backend (floats are 0..``input_scale``)."""
        x = validate_images(x)
        if x.dtype != np.uint8:
            x = np.clip(np.round(x.astype(np.float32) * (255.0 / self.input_scale)), 0, 255).astype(np.uint8)
        return x

    def feed_forward(self, x):
        """Unsmoothed probability maps ``sigmoid(logits)`` ``[B, 289, 289, 16]``."""
        if self._real_backend() is not None:
            return self._real.feed_forward(self._real_images(x))
        x, _ = self._prep(x)
        return np.asarray(self._heads_fn(x)["probs"])

    def heat_maps(self, x):
        """Smoothed heat maps ``[B, 289, 289, 16]`` in [0, 1]."""
        if self._real_backend() is not None:
            return self._real.heat_maps(self._real_images(x))
        x, _ = self._prep(x)
        return np.asarray(self._heads_fn(x)["heatmaps"])

    def joint_positions(self, x):
        """``(coords_y, coords_x, probabilities)``, each ``[B, 16]`` float32.

        Coordinates are in the input image's pixels (arg-max of the smoothed heat map,
        scaled by ``H / 289`` and ``W / 289``); a probability is the peak of the
        unsmoothed map ``sigmoid(logits)``. Joint order: :data:`JOINT_NAMES`. (With the
        real-pose backend: the most prominent person's joints, see ``backend``.)
        """
        if self._real_backend() is not None:
            return self._real.joint_positions(self._real_images(x))
        x, (h, w) = self._prep(x)
        out = self._heads_fn(x)
        ys = np.asarray(out["y"], np.float32) * (h / HEATMAP_SIZE)
        xs = np.asarray(out["x"], np.float32) * (w / HEATMAP_SIZE)
        return ys, xs, np.asarray(out["prob"], np.float32)

    estimate_joints = joint_positions

    # --- checkpoints ----------------------------------------------------------------------
    def save(self, checkpoint_path, name=None):
        """Save the weights. ``*.weights.h5`` -> Keras weights; otherwise (Inception-ResNet-v2
        only) a TF1 checkpoint with the original names at prefix ``checkpoint_path`` (or
        ``checkpoint_path/name.ckpt`` as in the original). Returns the path written."""
        from pathlib import Path

        from gait_tf.pose import tf1_names

        path = Path(checkpoint_path) / f"{name}.ckpt" if name else Path(checkpoint_path)
        if str(path).endswith(".weights.h5"):
            return tf1_names.save_keras_weights(self.model, path)
        return tf1_names.save_tf1(tf1_names.pose_name_map(self.model), path)

    def restore(self, checkpoint_path, is_pre_trained_imagenet_checkpoint=False):
        """Load ``*.weights.h5`` or a TF1 checkpoint (slim ``InceptionResnetV2/...`` +
        ``NewInceptionResnetV2/AuxiliaryScoring/...``). With
        ``is_pre_trained_imagenet_checkpoint`` only the backbone is loaded (as the original),
        and slim's ImageNet variables our trunk lacks (``Mixed_7a``, ``block8``, ...) are
        ignored. Returns ``{"loaded", "missing", "unused"}``."""
        from gait_tf.pose import tf1_names

        path = str(checkpoint_path)
        if path.endswith(".weights.h5"):
            out = tf1_names.load_keras_weights(self.model, path)
        else:
            entries = tf1_names.pose_name_map(self.model)
            if is_pre_trained_imagenet_checkpoint:
                entries = [e for e in entries if e.names[0].startswith("InceptionResnetV2/")]
            out = tf1_names.restore_tf1(entries, path)
        self.has_weights = True
        return out


def _heads(out):
    import tensorflow as tf

    hm = out["heatmaps"]
    probs = tf.sigmoid(out["logits"])
    return {
        "probs": probs,
        "heatmaps": hm,
        "prob": tf.reduce_max(probs, axis=[1, 2]),
        "x": tf.cast(tf.argmax(tf.reduce_max(hm, axis=1), axis=1), tf.float32),
        "y": tf.cast(tf.argmax(tf.reduce_max(hm, axis=2), axis=1), tf.float32),
    }
