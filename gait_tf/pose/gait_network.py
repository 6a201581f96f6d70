"""GaitNN: pose features ``[T, 17, 17, 32]`` -> 512-d gait identification vector.

Keras 3 re-implementation of ``GaitNetwork`` of marian-margeta/gait-recognition
(``gait_nn.py``). The network that the original *actually computes* (its
``slim.repeat(...)`` calls are not assigned, so those blocks are dead code) is:

1. input ``[T, 17, 17, 32]`` / 100
2. ``DownSampling/17x17/Conv``: 1x1 conv to 256 + BN (no scale, eps 1e-4) + ELU
3. ``DownSampling/8x8/ResidualBlock``: pre-activation bottleneck, stride 2, 512 out, inner 64
   -> ``[9, 9, 512]``
4. ``DownSampling/4x4/ResidualBlock``: same, inner 128 -> ``[5, 5, 512]``
5. ``DownSampling/4x4/Conv`` 1x1 -> 256, ``Conv_1`` 3x3 -> 256 (BN + ELU each)
6. ``FullyConnected``: flatten (6400) -> dense 512, linear: the per-frame *pose descriptor*
7. ``Recurrent``: ``rnn_layers`` stacked GRU/LSTM cells of 512 units
8. temporal average pooling of the last layer's outputs -> identification vector ``[512]``
9. (training) dropout (keep 0.7) + ``Logits`` dense to the training identities.

The GRU is Keras' ``GRU(reset_after=False)``: that is TF1 ``GRUCell``'s equation
(the reset gate multiplies the state *before* the recurrent matmul), so TF1 weights
reproduce TF1 outputs exactly.
"""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from gait_tf.errors import ModelError

GAIT_FEATURES = 512
BN_EPSILON = 1e-4
BN_MOMENTUM = 0.999


@keras.saving.register_keras_serializable(package="gait_tf")
class ConvBNAct(layers.Layer):
    """slim conv with ``normalizer_fn=batch_norm``: conv (no bias) -> BN (no scale) -> activation.

    ``[N, H, W, Cin]`` -> ``[N, H', W', filters]``.
    """

    def __init__(self, filters, kernel_size, strides=1, activation="elu", epsilon=BN_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = int(filters), kernel_size, strides
        self.activation_name, self.epsilon = activation, float(epsilon)
        self.conv = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                                  kernel_initializer="he_normal", name="conv")
        self.bn = layers.BatchNormalization(scale=False, epsilon=epsilon, momentum=BN_MOMENTUM, name="bn")
        self.act = layers.Activation(activation)

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.bn.build(self.conv.compute_output_shape(input_shape))
        self.built = True

    def call(self, x, training=None):
        return self.act(self.bn(self.conv(x), training=training))

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "activation": self.activation_name, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="gait_tf")
class PreActBottleneck(layers.Layer):
    """The original's ``residual_block`` ("Bottleneck v2"), ``[N, H, W, C]`` -> ``[N, H/s, W/s, channels]``.

    ``shortcut = conv1x1(x, channels, stride)`` (with bias; identity when stride 1);
    ``r = conv1x1(relu(bn(x)), inner)``, ``r = conv3x3(relu(bn(r)), inner, stride)``,
    ``r = conv1x1(relu(bn(r)), channels)``; output ``relu(r + shortcut)``. Convs have biases,
    BN has no scale (eps 1e-4).
    """

    def __init__(self, channels, inner, strides=1, epsilon=BN_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.inner, self.strides, self.epsilon = int(channels), int(inner), int(strides), float(epsilon)

        def conv(f, k, s, name):
            return layers.Conv2D(f, k, strides=s, padding="same", kernel_initializer="he_normal", name=name)

        def bn(name):
            return layers.BatchNormalization(scale=False, epsilon=epsilon, momentum=BN_MOMENTUM, name=name)

        self.shortcut = conv(channels, 1, strides, "shortcut") if strides > 1 else None
        self.bn1, self.conv1 = bn("bn1"), conv(inner, 1, 1, "conv1")
        self.bn2, self.conv2 = bn("bn2"), conv(inner, 3, strides, "conv2")
        self.bn3, self.conv3 = bn("bn3"), conv(channels, 1, 1, "conv3")

    def build(self, input_shape):
        if self.shortcut is not None:
            self.shortcut.build(input_shape)
        elif input_shape[-1] != self.channels:
            raise ModelError(f"PreActBottleneck {self.name!r}: stride 1 needs {self.channels} input channels")
        self.bn1.build(input_shape)
        self.conv1.build(input_shape)
        s1 = self.conv1.compute_output_shape(input_shape)
        self.bn2.build(s1)
        self.conv2.build(s1)
        s2 = self.conv2.compute_output_shape(s1)
        self.bn3.build(s2)
        self.conv3.build(s2)
        self.built = True

    def call(self, x, training=None):
        short = self.shortcut(x) if self.shortcut is not None else x
        r = self.conv1(ops.relu(self.bn1(x, training=training)))
        r = self.conv2(ops.relu(self.bn2(r, training=training)))
        r = self.conv3(ops.relu(self.bn3(r, training=training)))
        return ops.relu(r + short)

    def compute_output_shape(self, input_shape):
        s = self.conv2.compute_output_shape(input_shape)
        return (*s[:-1], self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "inner": self.inner,
                "strides": self.strides, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="gait_tf")
class GaitNNModel(keras.Model):
    """GaitNN as a Keras model.

    ``call(x)`` with ``x`` either ``[B, T, 17, 17, 32]`` float32 (all steps valid) or a dict
    ``{"features": [B, T, 17, 17, 32], "lengths": int32 [B]}`` (padded batch; steps ``>=
    lengths`` are masked and excluded from the average pooling). Returns a dict:
    ``"embeddings"`` ``[B, 1, 512]`` (identification vectors; ``parts = 1``) and, when
    ``num_classes > 0``, ``"logits"`` ``[B, 1, num_classes]``.
    """

    def __init__(self, recurrent_unit="GRU", rnn_layers=1, num_classes=0, units=GAIT_FEATURES,
                 dropout=0.3, **kwargs):
        super().__init__(**kwargs)
        unit = str(recurrent_unit).upper()
        if unit not in ("GRU", "LSTM"):
            raise ModelError(f"GaitNetwork: recurrent_unit must be 'GRU' or 'LSTM', got {recurrent_unit!r}")
        if int(rnn_layers) < 1:
            raise ModelError(f"GaitNetwork: rnn_layers must be >= 1, got {rnn_layers!r}")
        self.recurrent_unit, self.rnn_layers = unit, int(rnn_layers)
        self.num_classes, self.units, self.dropout_rate = int(num_classes), int(units), float(dropout)
        self.conv_in = ConvBNAct(256, 1, name="DownSampling.17x17.Conv")
        self.block_8x8 = PreActBottleneck(512, 64, strides=2, name="DownSampling.8x8.ResidualBlock")
        self.block_4x4 = PreActBottleneck(512, 128, strides=2, name="DownSampling.4x4.ResidualBlock")
        self.conv_a = ConvBNAct(256, 1, name="DownSampling.4x4.Conv")
        self.conv_b = ConvBNAct(256, 3, name="DownSampling.4x4.Conv_1")
        self.fc = layers.Dense(self.units, name="FullyConnected.fully_connected")
        rnn_cls = layers.GRU if unit == "GRU" else layers.LSTM
        extra = {"reset_after": False} if unit == "GRU" else {}
        self.rnns = [
            rnn_cls(self.units, return_sequences=True, return_state=True, name=f"Recurrent.cell_{i}", **extra)
            for i in range(self.rnn_layers)
        ]
        self.drop = layers.Dropout(self.dropout_rate)
        self.logits_layer = (
            layers.Dense(self.num_classes, name="Logits.fully_connected") if self.num_classes > 0 else None
        )

    def build(self, input_shape=None):
        # build every sublayer with a dummy pass (shapes are fixed: 17x17x32 per frame)
        self.encode(ops.zeros((1, 2, 17, 17, 32)))
        if self.logits_layer is not None:
            self.logits_layer.build((None, self.units))
        self.built = True

    # --- pieces -------------------------------------------------------------------------
    def pose_descriptors(self, frames, training=False):
        """Per-frame pose descriptors: ``[N, 17, 17, 32]`` -> ``[N, 512]``."""
        x = ops.cast(frames, "float32") / 100.0
        x = self.conv_in(x, training=training)
        x = self.block_8x8(x, training=training)
        x = self.block_4x4(x, training=training)
        x = self.conv_a(x, training=training)
        x = self.conv_b(x, training=training)
        x = ops.reshape(x, (ops.shape(x)[0], -1))
        return self.fc(x)

    def encode(self, features, lengths=None, training=False):
        """``[B, T, 17, 17, 32]`` (+ lengths ``[B]``) -> (identification ``[B, 512]``, states).

        ``states``: one entry per RNN layer, the final state(s) at each sequence's last
        valid step - ``h`` ``[B, 512]`` for GRU, ``(c, h)`` for LSTM (TF1's state order).
        """
        shape = ops.shape(features)
        b, t = shape[0], shape[1]
        x = ops.reshape(features, (b * t, 17, 17, 32))
        x = self.pose_descriptors(x, training=training)
        x = ops.reshape(x, (b, t, self.units))
        mask = None
        if lengths is not None:
            mask = ops.arange(t)[None, :] < ops.cast(lengths, "int32")[:, None]
        states = []
        for rnn in self.rnns:
            out = rnn(x, mask=mask, training=training)
            x = out[0]
            if self.recurrent_unit == "GRU":
                states.append(out[1])
            else:  # Keras returns (h, c); TF1 LSTMStateTuple is (c, h)
                states.append((out[2], out[1]))
        if mask is None:
            pooled = ops.mean(x, axis=1)
        else:
            m = ops.cast(mask, x.dtype)[:, :, None]
            pooled = ops.sum(x * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1.0)
        return pooled, states

    def call(self, inputs, training=False):
        if isinstance(inputs, dict):
            pooled, _ = self.encode(inputs["features"], inputs.get("lengths"), training=training)
        else:
            pooled, _ = self.encode(inputs, training=training)
        out = {"embeddings": pooled[:, None, :]}
        if self.logits_layer is not None:
            out["logits"] = self.logits_layer(self.drop(pooled, training=training))[:, None, :]
        return out

    def get_config(self):
        return {**super().get_config(), "recurrent_unit": self.recurrent_unit, "rnn_layers": self.rnn_layers,
                "num_classes": self.num_classes, "units": self.units, "dropout": self.dropout_rate}


def _check_features(x, what="spatial_features"):
    x = np.asarray(x)
    if x.ndim != 4 or tuple(x.shape[1:]) != (17, 17, 32):
        raise ModelError(f"GaitNetwork: {what} must be [T, 17, 17, 32], got shape {list(x.shape)}")
    if x.shape[0] == 0:
        raise ModelError(f"GaitNetwork: {what} has no frames")
    if x.dtype.kind not in "uif":
        raise ModelError(f"GaitNetwork: {what} must be numeric (float32 pose features), got dtype {x.dtype}")
    x = x.astype(np.float32)
    _check_finite(x, what)
    return x


def _check_finite(x, what):
    """ModelError naming the frames of ``x`` ``[T, ...]`` (or ``[B, T, ...]``) holding NaN/inf:
    they would silently become an all-zero (or NaN) identification vector."""
    finite = np.isfinite(x).reshape(x.shape[0], -1).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)[:10].tolist()
        unit = "frame(s)" if x.ndim == 4 else "sequence(s)"
        raise ModelError(f"GaitNetwork: {what} contains NaN or infinite values ({unit} {bad})")


class GaitNetwork:
    """The original project's ``GaitNetwork`` API on Keras 3.

    >>> net = GaitNetwork(recurrent_unit="GRU", rnn_layers=2)
    >>> net.restore("M+L-GRU-2.ckpt")                 # TF1 checkpoint of the original project
    >>> vector, states = net.feed_forward(features)   # features [T, 17, 17, 32] from HumanPoseIRNetwork

    ``num_of_persons > 0`` adds the training head (softmax over identities).
    ``self.model`` is the :class:`GaitNNModel` (a ``keras.Model``).

    The original constructor keywords are accepted: ``GaitNetwork(name=None, num_of_persons=0,
    recurrent_unit='GRU', rnn_layers=1, reuse=False, is_training=False, input_net=None)``.
    ``is_training=True`` keeps the original's check (it needs ``num_of_persons > 0``); the
    training mode itself is chosen per call in Keras (``GaitTrainer``). ``reuse`` (TF1
    variable-scope sharing: in Keras, share weights by sharing ``model``) and ``input_net``
    (a TF1 tensor to build on: feed ``HumanPoseIRNetwork.feed_forward_features`` output, or
    train both with ``EndToEndTrainer``) are ignored; each is reported once
    (:class:`gait_tf.compat.TF1CompatibilityWarning`). NaN or infinite features raise
    :class:`~gait_tf.errors.ModelError`.
    """

    FEATURES = GAIT_FEATURES

    def __init__(self, name=None, num_of_persons=0, recurrent_unit="GRU", rnn_layers=1, reuse=False,
                 is_training=False, input_net=None, *, model=None):
        from gait_tf.compat import note_once

        if is_training and int(num_of_persons) <= 0:
            raise ModelError("GaitNetwork(is_training=True) needs num_of_persons > 0 (the training head's "
                             f"identities), got {num_of_persons!r}")
        if is_training:
            note_once("GaitNetwork.is_training",
                      "GaitNetwork(is_training=True): the training head is built (num_of_persons > 0); the "
                      "training mode is chosen per call in Keras (gait_tf.pose.training.GaitTrainer)")
        if reuse:
            note_once("GaitNetwork.reuse",
                      "GaitNetwork(reuse=True) has no effect: Keras shares weights by sharing the model "
                      "object (GaitNetwork(model=other.model))")
        if input_net is not None:
            note_once("GaitNetwork.input_net",
                      "GaitNetwork(input_net=...) is ignored: the Keras port takes arrays, not a TF1 tensor; "
                      "feed HumanPoseIRNetwork.feed_forward_features(frames) to feed_forward, or train both "
                      "networks with gait_tf.pose.training.EndToEndTrainer")
        self.is_training, self.reuse, self.input_net = bool(is_training), bool(reuse), input_net
        self.name = name
        self.model = model if model is not None else GaitNNModel(
            recurrent_unit=recurrent_unit, rnn_layers=rnn_layers, num_classes=num_of_persons)
        self.model.build()
        self.recurrent_unit, self.rnn_layers = self.model.recurrent_unit, self.model.rnn_layers
        self.num_of_persons = self.model.num_classes
        import tensorflow as tf

        self._encode = tf.function(self._encode_impl, reduce_retracing=True)

    def _encode_impl(self, features, lengths):
        return self.model.encode(features, lengths, training=False)

    def feed_forward(self, spatial_features):
        """``[T, 17, 17, 32]`` -> (identification vector ``[512]``, states) as in the original.

        ``states`` is a tuple with one entry per RNN layer: ``h`` ``[1, 512]`` (GRU) or
        ``(c, h)`` each ``[1, 512]`` (LSTM).
        """
        x = _check_features(spatial_features)
        vec, states = self._encode(x[None], np.array([x.shape[0]], np.int32))
        return np.asarray(vec)[0], tuple(_to_numpy(s) for s in states)

    def feed_forward_batch(self, features, lengths=None):
        """Padded batch ``[B, T, 17, 17, 32]`` + ``lengths`` ``[B]`` -> vectors ``[B, 512]``.

        Steps at or beyond a sequence's length are masked: they affect neither the RNN
        state nor the average pooling. ``features`` may also be a list of ``[T_i, 17, 17, 32]``
        arrays (padded here).
        """
        if isinstance(features, (list, tuple)):
            seqs = [_check_features(f, f"features[{i}]") for i, f in enumerate(features)]
            lengths = np.array([len(s) for s in seqs], np.int32)
            batch = np.zeros((len(seqs), lengths.max(), 17, 17, 32), np.float32)
            for i, s in enumerate(seqs):
                batch[i, : len(s)] = s
            features = batch
        features = np.asarray(features, np.float32)
        if features.ndim != 5 or tuple(features.shape[2:]) != (17, 17, 32):
            raise ModelError(f"GaitNetwork: features must be [B, T, 17, 17, 32], got {list(features.shape)}")
        _check_finite(features, "features")
        if lengths is None:
            lengths = np.full((features.shape[0],), features.shape[1], np.int32)
        lengths = np.asarray(lengths, np.int32)
        if lengths.shape != (features.shape[0],) or lengths.min() < 1 or lengths.max() > features.shape[1]:
            raise ModelError(f"GaitNetwork: lengths must be [B] in 1..T, got {lengths.tolist()}")
        vec, _ = self._encode(features, lengths)
        return np.asarray(vec)

    # --- checkpoints ----------------------------------------------------------------------
    def save(self, checkpoint_path, name=None):
        """Save the weights. ``*.weights.h5`` -> Keras weights; otherwise a TF1 checkpoint
        (prefix ``checkpoint_path`` or ``checkpoint_path/name.ckpt`` as in the original) with
        the original ``GaitNN/...`` variable names. Returns the path written."""
        from gait_tf.pose import tf1_names

        path = Path(checkpoint_path) / f"{name}.ckpt" if name else Path(checkpoint_path)
        if str(path).endswith(".weights.h5"):
            return tf1_names.save_keras_weights(self.model, path)
        return tf1_names.save_tf1(tf1_names.gaitnn_name_map(self.model), path)

    def restore(self, checkpoint_path, strict=True):
        """Load ``*.weights.h5`` (Keras) or a TF1 checkpoint (original names, gate orders
        converted). With ``strict=False`` missing RNN variables (the original saved only
        ``MODEL_VARIABLES``, which can leave out the RNN) keep their current values."""
        from gait_tf.pose import tf1_names

        path = str(checkpoint_path)
        if path.endswith(".weights.h5"):
            return tf1_names.load_keras_weights(self.model, path)
        return tf1_names.restore_tf1(tf1_names.gaitnn_name_map(self.model), path, strict=strict)


def _to_numpy(s):
    if isinstance(s, (tuple, list)):
        return tuple(np.asarray(v) for v in s)
    return np.asarray(s)
