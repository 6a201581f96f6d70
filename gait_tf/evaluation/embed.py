"""Running a model over sequences: batch-1, all-frames inference → embeddings.

``embed_dataset(model, ds)`` loads each record's pretreated ``uint8 [T, 64, 64]`` with
``ds.load(record)``, keeps the central 44 columns (:func:`gait_tf.data.cut_width`),
scales to ``float32 [1, T, 64, 44, 1]`` in [0, 1] and calls the model on *all* frames
(as OpenGait's test phase). The model may return a dict with ``"embeddings"``
``[1, P, D]`` (the gait_tf convention) or a tensor ``[1, P, D]`` / ``[1, D]``.

TensorFlow/Keras are imported only when a model is loaded or called.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from gait_tf.errors import DataError, ModelError
from gait_tf.utils.atomic import atomic_write


def load_model(path):
    """Load a ``.keras`` model, registering gait_tf's custom layers first. ``"default"`` (or
    None) is the shipped default model (:mod:`gait_tf.pretrained`).

    Raises :class:`ModelError` naming ``path`` if it is missing, empty, truncated, not a
    ``.keras`` archive or otherwise unreadable (:func:`gait_tf.utils.keras_files.load_keras_model`).
    """
    from gait_tf import pretrained
    from gait_tf.utils.keras_files import load_keras_model

    if pretrained.is_default(path):  # "default" (or a shipped model's name): the package's own weights
        path = pretrained.path(pretrained.DEFAULT if path is None else path)
    return load_keras_model(path, "model file", ModelError)


#: Keras model names of registry models whose Keras name is not the registry name
_KERAS_NAME_ALIASES = {"gait_nn_model": "gaitnn"}


def model_identity(model) -> str:
    """The one name of a model used everywhere (embeddings files, galleries, exports).

    It is the registry name the model was built as (``gaitset``, ``gaitgl``, ...: the Keras
    model's ``name`` for the silhouette zoo; ``gaitnn`` for GaitNN, ``humanpose`` for the
    pose networks), or the Keras model's name for a model built outside the registry.
    It does not depend on the file the model was loaded from (a trainer's ``model.keras``
    is ``gaitset`` like any other GaitSet).
    """
    name = str(getattr(model, "name", "") or "").strip()
    key = name.lower()
    if key in _KERAS_NAME_ALIASES:
        return _KERAS_NAME_ALIASES[key]
    if key.startswith("humanpose_"):
        return "humanpose"
    try:
        from gait_tf import models

        if key in models.list_models():
            return key
    except Exception:  # noqa: BLE001 - the registry is optional here
        pass
    return name


def prepare_sequence(seq, cut: bool = True) -> np.ndarray:
    """Pretreated ``uint8 [T, 64, 64]`` (or float ``[T, 64, 44]``) → float32 ``[1, T, H, W, 1]``."""
    from gait_tf.data import cut_width

    arr = np.asarray(seq)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3 or len(arr) == 0:
        raise DataError(f"expected a silhouette sequence [T, H, W], got shape {arr.shape}")
    if cut and arr.shape[-1] == 64:
        arr = cut_width(arr)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    else:
        arr = arr.astype(np.float32)
    return arr[None, ..., None]


def model_embed_fn(model):
    """A function ``seq -> float32 [P, D]`` embedding one sequence with ``model``.

    ``seq``: pretreated ``uint8 [T, 64, 64]`` or a model-ready ``[T, 64, 44]``.
    """

    def embed(seq):
        # eager call: a tf.function with a dynamic-T input signature can trace differently
        # from eager for some layers (seen with keras TimeDistributed), so stay eager
        out = model(prepare_sequence(seq), training=False)
        if isinstance(out, dict):
            if "embeddings" not in out:
                raise ModelError(f"model output has no 'embeddings' key (keys: {sorted(out)})")
            out = out["embeddings"]
        emb = np.asarray(out)
        if emb.ndim == 2:
            emb = emb[:, None, :]
        if emb.ndim != 3 or emb.shape[0] != 1:
            raise ModelError(f"model returned embeddings of shape {emb.shape}; expected [1, parts, dim]")
        return emb[0].astype(np.float32)

    return embed


def embed_dataset(model_or_fn, ds, records=None, progress: bool = False) -> dict:
    """Embeddings of ``records`` (default: all of ``ds.records``).

    model_or_fn: a Keras model (called on ``[1, T, 64, 44, 1]``) or a function
    ``uint8 [T, 64, 64] -> [P, D]``. Returns ``{"embeddings": float32 [N, P, D],
    "subjects", "conditions", "views": str [N]}``.
    """
    records = list(ds.records if records is None else records)
    if not records:
        raise DataError(f"no sequences to embed in {getattr(ds, 'root', None) or 'dataset'}")
    fn = model_or_fn if _is_plain_function(model_or_fn) else model_embed_fn(model_or_fn)
    iterator = records
    if progress:
        from tqdm import tqdm

        iterator = tqdm(records, desc="embedding", unit="seq", file=sys.stderr)
    embs = [fn(ds.load(rec)) for rec in iterator]
    shapes = {e.shape for e in embs}
    if len(shapes) != 1:
        raise ModelError(f"model returned embeddings of varying shapes {sorted(shapes)}")
    return {
        "embeddings": np.stack(embs).astype(np.float32),
        "subjects": np.array([r.subject for r in records]),
        "conditions": np.array([r.condition for r in records]),
        "views": np.array([r.view for r in records]),
    }


def _is_plain_function(obj) -> bool:
    try:
        import keras

        if isinstance(obj, keras.Model) or isinstance(obj, keras.layers.Layer):
            return False
    except ImportError:  # pragma: no cover
        pass
    return callable(obj)


EMBEDDING_KEYS = ("embeddings", "subjects", "conditions", "views")


def save_embeddings(path, data: dict, **extra) -> Path:
    """Write embeddings + metadata arrays to an ``.npz`` file atomically.

    ``extra``: additional string metadata (e.g. ``model="gaitset"``), stored as 0-d arrays.
    """
    arrays = {k: np.asarray(data[k]) for k in EMBEDDING_KEYS if k in data}
    arrays.update({k: np.asarray(str(v)) for k, v in extra.items() if v is not None})
    with atomic_write(path, "wb") as fh:
        np.savez(fh, **arrays)
    return Path(path)


def load_embeddings(path, require=EMBEDDING_KEYS) -> dict:
    """Read an ``.npz`` of embeddings (``embeddings`` [N, P, D] or [N, D]; string arrays
    ``subjects``, ``conditions``, ``views`` of length N). Raises :class:`DataError` naming
    the file and key when something is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such embeddings file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except Exception as exc:
        raise DataError(f"{path}: not a readable .npz embeddings file ({exc})") from exc
    missing = [k for k in require if k not in data]
    if missing:
        raise DataError(f"{path}: missing array(s) {missing}; found {sorted(data)}")
    emb = data.get("embeddings")
    if emb is not None:
        if emb.ndim not in (2, 3) or emb.dtype.kind != "f":
            raise DataError(f"{path}: 'embeddings' must be float [N, D] or [N, P, D], got {emb.dtype} {emb.shape}")
        for k in ("subjects", "conditions", "views"):
            if k in data:
                data[k] = data[k].astype(str)
                if data[k].shape != (len(emb),):
                    raise DataError(f"{path}: '{k}' has shape {data[k].shape}, expected ({len(emb)},)")
    return data


def read_probe_sequence(path) -> np.ndarray:
    """A sequence file/folder → pretreated ``uint8 [T, 64, 64]``.

    ``.pkl`` files are taken as already pretreated (OpenGait pickles); folders of frames,
    GIFs and single images are raw silhouettes and are pretreated
    (:func:`gait_tf.data.pretreat_sequence`).
    """
    from gait_tf.data import pretreat_sequence, read_pickle, read_sequence

    path = Path(path)
    if path.suffix.lower() == ".pkl":
        return read_pickle(path)
    return pretreat_sequence(read_sequence(path), source=str(path))
