"""The portable inference graph shared by the ONNX and LiteRT exports.

A SavedModel for TF Serving takes the *wire* format (uint8 pixels) and validates it with
``tf.debugging.assert_*`` ops (see :mod:`gait_tf.serving.signatures`). ONNX and LiteRT have
no such ops, so their graph is the model's own computation on its float32 input, with the
batch and frame axes left dynamic:

=================  ===========================================  =============================================
input kind         input (float32)                              outputs (float32)
=================  ===========================================  =============================================
``silhouette``     ``silhouettes [batch, frames, H, W, 1]``     ``embeddings [batch, parts, dim]``,
                   in [0, 1]                                    ``embedding [batch, parts*dim]`` (L2-normalised)
``rgb_sequence``   ``frames [batch, frames, H, W, 3]`` in [0,1] same
``pose_features``  ``pose_features [batch, frames, 17, 17, 32]`` ``identification [batch, dim]``, ``embedding``
``image``          ``images [batch, 299, 299, 3]`` in [-1, 1]   the model's outputs (``heatmaps``, ...)
=================  ===========================================  =============================================

The caller scales uint8 silhouettes by 1/255 (the SavedModel's ``serving_float``
signature takes the same input). Image models keep a fixed 299×299 input (resizing is the
caller's job); only their batch axis is dynamic.
"""
from __future__ import annotations

import numpy as np

from gait_tf.errors import GaitTFError, ServingError

SEQUENCE_KINDS = ("silhouette", "rgb_sequence")
INPUT_NAMES = {"silhouette": "silhouettes", "rgb_sequence": "frames", "pose_features": "pose_features",
               "image": "images"}
IMAGE_SIZE = 299


def input_shape(input_kind: str, input_hw=(64, 44), channels: int = 1, batch: int | None = None) -> list:
    """The portable input shape, ``None`` for the dynamic axes (``batch``: a fixed batch size)."""
    h, w = (int(v) for v in input_hw)
    if input_kind == "silhouette":
        return [batch, None, h, w, 1]
    if input_kind == "rgb_sequence":
        return [batch, None, h, w, 3]
    if input_kind == "pose_features":
        return [batch, None, 17, 17, 32]
    if input_kind == "image":
        return [batch, IMAGE_SIZE, IMAGE_SIZE, 3]
    raise ServingError(f"no portable graph for input kind {input_kind!r}; known: {sorted(INPUT_NAMES)}")


def dynamic_axes(input_kind: str) -> dict:
    """``{axis: name}`` of the input's dynamic axes."""
    return {0: "batch"} if input_kind == "image" else {0: "batch", 1: "frames"}


def portable_function(model, input_kind: str, input_hw=(64, 44), channels: int = 1, batch: int | None = None):
    """A ``tf.function`` (one float32 input, dict of float32 outputs) computing ``model``
    in inference mode; see the module docstring for names and shapes. ``batch``: fix the
    batch axis (LiteRT exports of recurrent models)."""
    import tensorflow as tf

    shape = input_shape(input_kind, input_hw, channels, batch)
    name = INPUT_NAMES[input_kind]

    def _l2(x):
        return tf.math.l2_normalize(x, axis=-1, epsilon=1e-12)

    def _pick(out, keys):
        if isinstance(out, dict):
            for key in keys:
                if key in out:
                    return tf.cast(out[key], tf.float32)
            raise ServingError(f"model outputs {sorted(out)} contain none of {list(keys)}")
        if isinstance(out, (list, tuple)):
            out = out[0]
        return tf.cast(out, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name=name)], autograph=False)
    def portable(x):
        out = model(x, training=False)
        if input_kind in SEQUENCE_KINDS:
            emb = _pick(out, ("embeddings", "embedding"))
            if emb.shape.rank == 2:
                emb = emb[:, None, :]
            p, d = emb.shape[1], emb.shape[2]
            flat = tf.reshape(emb, [-1, p * d])
            return {"embeddings": emb, "embedding": _l2(flat)}
        if input_kind == "pose_features":
            ident = _pick(out, ("identification", "embedding", "embeddings"))
            ident = tf.reshape(ident, [-1, int(np.prod(ident.shape[1:]))])
            return {"identification": ident, "embedding": _l2(ident)}
        if not isinstance(out, dict):
            out = {"output": out}
        return {k: tf.cast(v, tf.float32) for k, v in out.items()}

    return portable


def example_inputs(input_kind: str, input_hw=(64, 44), channels: int = 1, shapes=((1, 30), (3, 9)), seed: int = 0):
    """Deterministic test inputs at several ``(batch, frames)`` (``frames`` ignored for
    images): blob-like silhouettes, non-negative pose features, images in [-1, 1]."""
    rng = np.random.default_rng(seed)
    full = input_shape(input_kind, input_hw, channels)
    out = []
    for batch, frames in shapes:
        if input_kind == "image":
            x = rng.uniform(-1, 1, (batch, *full[1:])).astype(np.float32)
        else:
            size = (batch, frames, *full[2:])
            if input_kind == "silhouette":
                # a filled ellipse per frame, jittered: closer to real silhouettes than noise
                h, w = full[2], full[3]
                yy, xx = np.mgrid[:h, :w]
                x = np.zeros(size, np.float32)
                for b in range(batch):
                    for t in range(frames):
                        cy, cx = h / 2 + rng.normal(0, 2), w / 2 + rng.normal(0, 2)
                        ry, rx = h * rng.uniform(0.35, 0.48), w * rng.uniform(0.12, 0.3)
                        x[b, t, ..., 0] = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1).astype(np.float32)
            elif input_kind == "pose_features":
                x = np.maximum(rng.normal(0, 1, size), 0).astype(np.float32)
            else:
                x = rng.random(size, dtype=np.float32)
        out.append(x)
    return out


def synthetic_calibration(input_kind: str, input_hw=(64, 44), channels: int = 1, sequences: int = 16,
                          frames: int = 30, seed: int = 1234) -> list:
    """Representative model inputs for int8 calibration, made from the synthetic walkers
    (:mod:`gait_tf.synth`): pretreated silhouettes, person-centred RGB crops or whole RGB
    frames, over several subjects, conditions and views. Returns a list of float32 arrays
    ``[1, frames, H, W, C]`` (``[1, 299, 299, 3]`` per frame for images).

    ``pose_features`` models have no built-in source (their input is another network's
    features): pass calibration data explicitly.
    """
    import cv2

    from gait_tf.data.pretreat import cut_width, pretreat_sequence
    from gait_tf.synth import CONDITIONS, VIEWS, WalkerGenerator

    if input_kind == "pose_features":
        raise ServingError("int8 calibration of a pose_features model needs representative pose features "
                           "[N, frames, 17, 17, 32]: pass --calibration-data FILE.npy")
    input_shape(input_kind, input_hw, channels)  # validates the kind
    h, w = (int(v) for v in input_hw)
    gen = WalkerGenerator(seed=seed, image_size=(120, 160))
    out = []
    for i in range(int(sequences)):
        subject = 1 + i % 8
        condition = CONDITIONS[(i * 3) % len(CONDITIONS)]
        view = VIEWS[(i * 5) % len(VIEWS)]
        seq = gen.sequence(subject, condition, view, n_frames=frames, rgb=input_kind != "silhouette")
        if input_kind == "silhouette":
            sil = cut_width(pretreat_sequence(seq.silhouettes, source=f"synthetic {subject}/{condition}/{view}"))
            if sil.shape[1:] != (h, w):
                sil = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in sil])
            out.append((sil.astype(np.float32) / 255.0)[None, ..., None])
        elif input_kind == "rgb_sequence":
            from gait_tf.train.rgb import crop_person

            rgb, mask = crop_person(seq.rgb, seq.masks, (h, w))  # masked crops, as the RGB models train on
            out.append((rgb.astype(np.float32) / 255.0 * mask[..., None])[None])
        else:  # image: one frame of the walk, resized like the serving signature does
            frame = seq.rgb[len(seq.rgb) // 2]
            img = cv2.resize(frame, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_LINEAR)
            out.append((img.astype(np.float32) / 127.5 - 1.0)[None])
    return out


def load_calibration_data(path, input_kind: str, input_hw=(64, 44), channels: int = 1) -> list:
    """Calibration inputs from a ``.npy`` / ``.npz`` file of model inputs (first array of an
    ``.npz``): ``[N, frames, H, W, C]`` (``[N, 299, 299, 3]`` for images), float in the
    model's input range or uint8 silhouettes/frames (scaled by 1/255). One array per sample."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise ServingError(f"calibration data not found: {path}")
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                if not data.files:
                    raise ServingError(f"{path}: the .npz archive is empty")
                arr = data[data.files[0]]
        else:
            arr = np.asarray(data)
    except GaitTFError:
        raise
    except Exception as exc:
        raise ServingError(f"{path}: cannot read calibration data ({type(exc).__name__}: {exc})") from exc
    full = input_shape(input_kind, input_hw, channels)
    given = arr.shape
    if input_kind == "silhouette" and arr.ndim == 4:
        arr = arr[..., None]
    if arr.ndim != len(full) or any(f is not None and f != a for f, a in zip(full, arr.shape)) or len(arr) == 0:
        want = "[N, " + ", ".join("frames" if f is None else str(f) for f in full[1:]) + "]"
        raise ServingError(f"{path}: calibration data of shape {given}; model input is {want}")
    if arr.dtype == np.uint8 and input_kind in SEQUENCE_KINDS:
        arr = arr.astype(np.float32) / 255.0
    if arr.dtype.kind != "f":
        raise ServingError(f"{path}: calibration data must be float (or uint8 silhouettes/frames), got {arr.dtype}")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ServingError(f"{path}: calibration data contains NaN or infinite values")
    return [arr[i : i + 1] for i in range(len(arr))]


__all__ = ["SEQUENCE_KINDS", "INPUT_NAMES", "input_shape", "dynamic_axes", "portable_function", "example_inputs",
           "synthetic_calibration", "load_calibration_data"]
