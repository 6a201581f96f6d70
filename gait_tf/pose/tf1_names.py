"""TF1 checkpoint name maps of the original project and the TF1 checkpoint reader/writer.

HumanPoseIRNetwork (slim Inception-ResNet-v2, ``InceptionResnetV2/...`` +
``NewInceptionResnetV2/AuxiliaryScoring/...``): a Keras layer named ``A.B.C`` holds the
variables of TF1 scope ``InceptionResnetV2/A/B/C`` (``NewInceptionResnetV2/A/B/C`` for
``AuxiliaryScoring.*``):

==================  ==============================  ==========================
Keras layer         Keras variable                  TF1 variable
==================  ==============================  ==========================
Conv2D (no bias)    ``kernel`` [kh, kw, in, out]    ``<scope>/weights``
Conv2D (bias)       ``kernel``, ``bias``            ``<scope>/weights``, ``<scope>/biases``
BatchNormalization  ``beta``, ``moving_mean``,      ``<conv scope>/BatchNorm/beta``, ...
 (``<conv>.BatchNorm``) ``moving_variance``         (no ``gamma``: slim's ``scale=False``)
Conv2DTranspose     ``kernel`` [kh, kw, out, in]    ``.../Upsampling_layer/weights`` (same layout)
==================  ==============================  ==========================

GaitNN (``GaitNN/...``): see :func:`gaitnn_name_map`. RNN cells are looked up under any of
the TF1 spellings (``rnn``/``RNN``, ``multi_rnn_cell/cell_0``/``MultiRNNCell/Cell0``,
``gru_cell``/``GRUCell``, ``lstm_cell``/``basic_lstm_cell``, ``kernel``/``weights``/
``Linear/Matrix``, ``bias``/``biases``/``Linear/Bias``) and gate orders are converted:

* TF1 ``GRUCell``: ``gates/kernel`` ``[in+u, 2u]`` columns ``[r, u]``, ``candidate/kernel``
  ``[in+u, u]``; rows ``[:in]`` act on the input, ``[in:]`` on the state. Keras
  ``GRU(reset_after=False)``: ``kernel`` ``[in, 3u]`` and ``recurrent_kernel`` ``[u, 3u]``
  columns ``[z, r, h]`` with ``z`` = TF1 ``u``; ``bias`` ``[3u]``.
* TF1 ``LSTMCell``/``BasicLSTMCell``: ``kernel`` ``[in+u, 4u]`` columns ``[i, j, f, o]``
  (``j`` = candidate), ``forget_bias=1.0`` added at run time. Keras ``LSTM``: columns
  ``[i, f, c, o]``; the converter adds 1.0 to the forget-gate bias (and subtracts it on save).
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from gait_tf.errors import CheckpointError
from gait_tf.utils.atomic import atomic_write, make_temp_dir


@dataclasses.dataclass
class Entry:
    """TF1 variables ``names`` <-> Keras ``variables`` (converted by ``to_keras``/``to_tf1``)."""

    names: list
    variables: list
    to_keras: Callable = None   # list[np.ndarray] (TF1) -> list[np.ndarray] (Keras)
    to_tf1: Callable = None     # list[np.ndarray] (Keras) -> list[np.ndarray] (TF1)
    optional: bool = False      # missing from the checkpoint is not an error
    fuzzy: bool = False         # match through normalise_rnn_name
    fallback: list = None       # names tried when ``names`` are absent (shared RNN weights)

    def __post_init__(self):
        self.to_keras = self.to_keras or (lambda arrays: arrays)
        self.to_tf1 = self.to_tf1 or (lambda arrays: arrays)


# --- HumanPoseIRNetwork -------------------------------------------------------------------
def pose_name_map(model) -> list:
    """Entries for the Inception-ResNet-v2 pose model built by :func:`gait_tf.pose.human_pose.build_pose_model`."""
    import keras

    entries = []
    for layer in model.layers:
        name = layer.name
        if name.startswith("fast."):
            raise CheckpointError("TF1 checkpoints exist only for backbone='inception_resnet_v2'; "
                                  "save/restore the fast backbone as *.weights.h5")
        root = "NewInceptionResnetV2" if name.startswith("AuxiliaryScoring.") else "InceptionResnetV2"
        scope = f"{root}/{name.replace('.', '/')}"
        if isinstance(layer, keras.layers.BatchNormalization):
            for attr in ("beta", "moving_mean", "moving_variance"):
                entries.append(Entry([f"{scope}/{attr}"], [getattr(layer, attr)]))
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            entries.append(Entry([f"{scope}/weights"], [layer.kernel]))
            if layer.use_bias:
                entries.append(Entry([f"{scope}/biases"], [layer.bias]))
    return entries


# --- GaitNN -----------------------------------------------------------------------------
def _conv_bn(scope, block):
    return [
        Entry([f"{scope}/weights"], [block.conv.kernel]),
        *[Entry([f"{scope}/BatchNorm/{a}"], [getattr(block.bn, a)]) for a in ("beta", "moving_mean", "moving_variance")],
    ]


def _conv(scope, conv):
    return [Entry([f"{scope}/weights"], [conv.kernel]), Entry([f"{scope}/biases"], [conv.bias])]


def _bn(scope, bn):
    return [Entry([f"{scope}/{a}"], [getattr(bn, a)]) for a in ("beta", "moving_mean", "moving_variance")]


def _residual(scope, blk):
    out = []
    if blk.shortcut is not None:  # the original creates the shortcut conv first: Conv, then Conv_1..3
        out += _conv(f"{scope}/Conv", blk.shortcut)
        convs = ["Conv_1", "Conv_2", "Conv_3"]
    else:
        convs = ["Conv", "Conv_1", "Conv_2"]
    for bn_name, conv_name, bn, conv in zip(["BatchNorm", "BatchNorm_1", "BatchNorm_2"], convs,
                                            [blk.bn1, blk.bn2, blk.bn3], [blk.conv1, blk.conv2, blk.conv3]):
        out += _bn(f"{scope}/{bn_name}", bn) + _conv(f"{scope}/{conv_name}", conv)
    return out


def gru_tf1_to_keras(arrays, units):
    """TF1 ``[gates/kernel, gates/bias, candidate/kernel, candidate/bias]`` -> Keras ``[kernel, recurrent_kernel, bias]``."""
    wg, bg, wc, bc = arrays
    n_in = wg.shape[0] - units
    r, u = slice(0, units), slice(units, 2 * units)
    kernel = np.concatenate([wg[:n_in, u], wg[:n_in, r], wc[:n_in]], axis=1)
    recurrent = np.concatenate([wg[n_in:, u], wg[n_in:, r], wc[n_in:]], axis=1)
    bias = np.concatenate([bg[u], bg[r], bc])
    return [kernel, recurrent, bias]


def gru_keras_to_tf1(arrays, units):
    kernel, recurrent, bias = arrays
    z, r, h = slice(0, units), slice(units, 2 * units), slice(2 * units, 3 * units)
    wg = np.concatenate([np.concatenate([kernel[:, r], kernel[:, z]], 1),
                         np.concatenate([recurrent[:, r], recurrent[:, z]], 1)], 0)
    bg = np.concatenate([bias[r], bias[z]])
    wc = np.concatenate([kernel[:, h], recurrent[:, h]], 0)
    return [wg, bg, wc, bias[h]]


def _lstm_perm(units):
    # TF1 [i, j, f, o] <-> Keras [i, f, c(=j), o]: swapping blocks 1 and 2 both ways
    idx = np.arange(4 * units).reshape(4, units)
    return idx[[0, 2, 1, 3]].reshape(-1)


def lstm_tf1_to_keras(arrays, units, forget_bias=1.0):
    """TF1 ``[kernel [in+u, 4u], bias [4u]]`` -> Keras ``[kernel, recurrent_kernel, bias]``."""
    w, b = arrays
    n_in = w.shape[0] - units
    p = _lstm_perm(units)
    w, b = w[:, p], b[p].copy()
    b[units:2 * units] += forget_bias
    return [w[:n_in], w[n_in:], b]


def lstm_keras_to_tf1(arrays, units, forget_bias=1.0):
    kernel, recurrent, bias = arrays
    b = bias.copy()
    b[units:2 * units] -= forget_bias
    p = _lstm_perm(units)
    return [np.concatenate([kernel, recurrent], 0)[:, p], b[p]]


def gaitnn_name_map(model) -> list:
    """Entries for :class:`gait_tf.pose.gait_network.GaitNNModel` (the layers the original computes).

    ``GaitNN/DownSampling/17x17/Conv`` (+ ``/BatchNorm``), ``GaitNN/DownSampling/8x8/ResidualBlock``
    and ``GaitNN/DownSampling/4x4/ResidualBlock`` (``Conv`` = stride-2 shortcut, then
    ``BatchNorm``/``Conv_1``, ``BatchNorm_1``/``Conv_2``, ``BatchNorm_2``/``Conv_3``),
    ``GaitNN/DownSampling/4x4/Conv`` and ``Conv_1``, ``GaitNN/FullyConnected/fully_connected``,
    ``GaitNN/Recurrent/rnn/multi_rnn_cell/cell_<i>/{gru_cell/{gates,candidate},lstm_cell}/{kernel,bias}``
    and (optional) ``GaitNN/Logits/fully_connected``. Variables of the original's unused
    ``Repeat/residual_block_*`` scopes are ignored.

    The original stacks ``MultiRNNCell([cell] * rnn_layers)``: under TF >= 1.2 that one cell
    object is reused by every layer, so the layers *share* ``cell_0``'s weights and the
    checkpoint has no ``cell_1``. A layer whose ``cell_<i>`` variables are absent therefore
    takes ``cell_0``'s (TF 1.0/1.1 checkpoints have distinct ``cell_<i>``).
    """
    p = "GaitNN/DownSampling"
    entries = _conv_bn(f"{p}/17x17/Conv", model.conv_in)
    entries += _residual(f"{p}/8x8/ResidualBlock", model.block_8x8)
    entries += _residual(f"{p}/4x4/ResidualBlock", model.block_4x4)
    entries += _conv_bn(f"{p}/4x4/Conv", model.conv_a) + _conv_bn(f"{p}/4x4/Conv_1", model.conv_b)
    entries += _conv("GaitNN/FullyConnected/fully_connected", model.fc)
    u = model.units
    for i, rnn in enumerate(model.rnns):
        cell = rnn.cell
        base = f"GaitNN/Recurrent/rnn/multi_rnn_cell/cell_{i}"
        kvars = [cell.kernel, cell.recurrent_kernel, cell.bias]
        if model.recurrent_unit == "GRU":
            names = [f"{base}/gru_cell/gates/kernel", f"{base}/gru_cell/gates/bias",
                     f"{base}/gru_cell/candidate/kernel", f"{base}/gru_cell/candidate/bias"]
            entries.append(Entry(names, kvars, lambda a, u=u: gru_tf1_to_keras(a, u),
                                 lambda a, u=u: gru_keras_to_tf1(a, u), fuzzy=True,
                                 fallback=[n.replace(f"cell_{i}/", "cell_0/") for n in names] if i else None))
        else:
            names = [f"{base}/lstm_cell/kernel", f"{base}/lstm_cell/bias"]
            entries.append(Entry(names, kvars, lambda a, u=u: lstm_tf1_to_keras(a, u),
                                 lambda a, u=u: lstm_keras_to_tf1(a, u), fuzzy=True,
                                 fallback=[n.replace(f"cell_{i}/", "cell_0/") for n in names] if i else None))
    if model.logits_layer is not None:
        for e in _conv("GaitNN/Logits/fully_connected", model.logits_layer):
            e.optional = True
            entries.append(e)
    return entries


_RNN_SYNONYMS = [
    (r"/RNN/", "/rnn/"),
    (r"MultiRNNCell/Cell(\d+)", r"multi_rnn_cell/cell_\1"),
    (r"GRUCell", "gru_cell"),
    (r"BasicLSTMCell|basic_lstm_cell|LSTMCell", "lstm_cell"),
    (r"/Gates/", "/gates/"),
    (r"/Candidate/", "/candidate/"),
    (r"/Linear/Matrix$|/weights$", "/kernel"),
    (r"/Linear/Bias$|/biases$", "/bias"),
]


def normalise_rnn_name(name: str) -> str:
    """Map any TF1 (0.12 ... 1.15) spelling of an RNN cell variable to the TF >= 1.2 one."""
    for pattern, repl in _RNN_SYNONYMS:
        name = re.sub(pattern, repl, name)
    return name


# --- reading / writing -------------------------------------------------------------------
def _resolve_prefix(path) -> str:
    import tensorflow as tf

    path = str(path)
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise CheckpointError(f"no TF checkpoint found in directory {path!r}")
        return latest
    if not (os.path.exists(path + ".index") or os.path.exists(path)):
        raise CheckpointError(f"checkpoint {path!r} not found (expected {path}.index)")
    return path


def read_tf1(path) -> dict:
    """All variables of a TF1 (name-based) checkpoint: ``{name: np.ndarray}``."""
    import tensorflow as tf

    prefix = _resolve_prefix(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
        return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
    except Exception as exc:  # corrupt / not a checkpoint
        raise CheckpointError(f"cannot read TF checkpoint {prefix!r}: {exc}") from exc


def restore_tf1(entries, path, strict=True) -> dict:
    """Assign checkpoint ``path``'s values to the entries' Keras variables.

    Raises :class:`CheckpointError` naming the checkpoint and the first missing or
    mis-shaped variable. Returns ``{"loaded": n, "missing": [...], "unused": [...]}``.
    """
    import tensorflow as tf

    prefix = _resolve_prefix(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
    except Exception as exc:
        raise CheckpointError(f"cannot read TF checkpoint {prefix!r}: {exc}") from exc
    fuzzy = {normalise_rnn_name(k): k for k in shapes}
    used, missing, pending = set(), [], []
    def find(names, is_fuzzy):
        return [n if n in shapes else (fuzzy.get(normalise_rnn_name(n)) if is_fuzzy else None) for n in names]

    for e in entries:
        keys = find(e.names, e.fuzzy)
        if any(k is None for k in keys) and e.fallback:
            alt = find(e.fallback, e.fuzzy)
            keys = alt if all(k is not None for k in alt) else keys
        if any(k is None for k in keys):
            if not e.optional:
                missing += [n for n, k in zip(e.names, keys) if k is None]
            continue
        pending.append((e, keys))
    if missing and strict:
        raise CheckpointError(f"checkpoint {prefix!r} lacks {len(missing)} variable(s), first: "
                              f"{', '.join(missing[:3])}")
    for e, keys in pending:
        arrays = e.to_keras([reader.get_tensor(k) for k in keys])
        for var, arr, key in zip(e.variables, arrays, keys):
            if tuple(var.shape) != tuple(arr.shape):
                raise CheckpointError(f"checkpoint {prefix!r}: variable {key!r} has shape {list(arr.shape)}, "
                                      f"the model expects {list(var.shape)} (converted)")
        for var, arr in zip(e.variables, arrays):
            var.assign(arr.astype(np.float32))
        used.update(keys)
    return {"loaded": len(used), "missing": missing,
            "unused": sorted(k for k in shapes if k not in used and k != "global_step")}


def save_tf1(entries, path) -> str:
    """Write a TF1 name-based checkpoint (``path.index`` + ``path.data-00000-of-00001``),
    readable by ``tf.compat.v1.train.Saver.restore`` of the original project. Atomic per file."""
    import tensorflow as tf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names, tensors = [], []
    for e in entries:
        arrays = e.to_tf1([np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in e.variables])
        names += e.names
        tensors += [tf.constant(a, tf.float32) for a in arrays]
    tmpdir = make_temp_dir(path)
    try:
        tmp_prefix = str(tmpdir / path.name)
        tf.raw_ops.SaveV2(prefix=tmp_prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                          tensors=tensors)
        for f in sorted(tmpdir.iterdir()):
            os.replace(f, path.parent / f.name)
        with atomic_write(path.parent / "checkpoint", "w") as fh:
            fh.write(f'model_checkpoint_path: "{path.name}"\nall_model_checkpoint_paths: "{path.name}"\n')
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return str(path)


def save_keras_weights(model, path) -> str:
    """``model.save_weights`` to ``path`` (``*.weights.h5``), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = make_temp_dir(path)
    try:
        tmp = tmpdir / path.name
        model.save_weights(str(tmp))
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return str(path)


def load_keras_weights(model, path) -> dict:
    if not os.path.isfile(path):
        raise CheckpointError(f"weights file {str(path)!r} not found")
    try:
        model.load_weights(str(path))
    except Exception as exc:
        raise CheckpointError(f"cannot load weights {str(path)!r}: {exc}") from exc
    return {"loaded": len(model.weights), "missing": [], "unused": []}
