"""SavedModel warm-up requests (``assets.extra/tf_serving_warmup_requests``).

TF Serving, started with ``--enable_model_warmup=true``, replays the ``PredictionLog``
records of this TFRecord file against a newly loaded model version before it marks the
version AVAILABLE, so the first real request does not pay for graph optimisation,
cuDNN autotuning or XLA compilation (see tensorflow/serving's
``docs/saved_model_warmup.md``; at most 1000 records are read).

We write one request per (signature, typical input shape), with deterministic
pseudo-random content.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

WARMUP_RELPATH = Path("assets.extra") / "tf_serving_warmup_requests"


def example_inputs(input_kind: str, *, input_hw=(64, 44), batch_sizes=(1, 4), frames: int = 30, seed: int = 0):
    """Typical requests for ``input_kind``: list of ``(signature_name, {input: ndarray})``."""
    rng = np.random.default_rng(seed)
    h, w = input_hw
    out = []
    for b in batch_sizes:
        if input_kind == "silhouette":
            sil = (rng.random((b, frames, h, w)) > 0.5).astype(np.uint8) * 255
            out.append(("serving_default", {"silhouettes": sil}))
        elif input_kind == "rgb_sequence":
            out.append(("serving_default", {"frames": rng.integers(0, 256, (b, frames, h, w, 3), dtype=np.uint8)}))
        elif input_kind == "pose_features":
            out.append(("serving_default",
                        {"pose_features": rng.random((b, frames, 17, 17, 32), dtype=np.float32)}))
        elif input_kind in ("skeleton_maps", "skeleton_silhouette"):
            kp = example_keypoints(b, frames, rng)
            maps = rng.integers(0, 256, (b, frames, 64, 44, 2), dtype=np.uint8)
            sils = {"silhouettes": (rng.random((b, frames, 64, 44)) > 0.6).astype(np.uint8) * 255} \
                if input_kind == "skeleton_silhouette" else {}
            out.append(("serving_default", {"keypoints": kp, **sils}))
            out.append(("heatmaps", {"skeleton_maps": maps, **sils}))
        elif input_kind == "rgb_crops":
            out.append(("serving_default", {"frames": rng.integers(0, 256, (b, frames, h, w, 3), dtype=np.uint8),
                                            "ratios": rng.uniform(0.3, 0.6, (b, frames)).astype(np.float32)}))
        elif input_kind == "image":
            img = rng.integers(0, 256, (b, 299, 299, 3), dtype=np.uint8)
            out.append(("serving_default", {"images": img}))
            out.append(("heatmaps", {"images": img}))
        else:
            raise ValueError(f"no warm-up inputs for input kind {input_kind!r}")
    return out


def example_keypoints(batch, frames, rng):
    """Plausible COCO-17 keypoints ``float32 [batch, frames, 17, 3]``: a standing figure about
    180 pixels tall with jitter, scores in [0.3, 1]."""
    base = np.array([[0, -90], [-5, -95], [5, -95], [-10, -92], [10, -92], [-20, -60], [20, -60], [-25, -30],
                     [25, -30], [-25, 0], [25, 0], [-12, 0], [12, 0], [-12, 45], [12, 45], [-12, 90], [12, 90]],
                    np.float32)
    xy = base[None, None] + rng.normal(0, 3, (batch, frames, 17, 2)).astype(np.float32) + np.float32([160, 120])
    score = rng.uniform(0.3, 1.0, (batch, frames, 17, 1)).astype(np.float32)
    return np.concatenate([xy, score], axis=-1)


def write_warmup_requests(saved_model_dir, model_name: str, requests) -> Path:
    """Write ``requests`` (``[(signature_name, {name: ndarray})]``) as PredictionLog
    records into ``<saved_model_dir>/assets.extra/tf_serving_warmup_requests``."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = Path(saved_model_dir) / WARMUP_RELPATH
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature_name, inputs in requests:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name))
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(saved_model_dir):
    """The ``PredictRequest`` protos of a SavedModel's warm-up file ([] if none)."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = Path(saved_model_dir) / WARMUP_RELPATH
    if not path.is_file():
        return []
    requests = []
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        requests.append(log.predict_log.request)
    return requests
