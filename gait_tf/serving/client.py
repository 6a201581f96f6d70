"""Client for exported gait models served by TF Serving (or the development server).

>>> client = GaitServingClient("127.0.0.1:8500", "gaitset")          # gRPC
>>> out = client.predict({"silhouettes": batch_uint8})               # {"embeddings", "embedding"}
>>> client = GaitServingClient("http://127.0.0.1:8501", "gaitset")   # REST

- gRPC: ``PredictionService.Predict`` / ``GetModelMetadata`` and
  ``ModelService.GetModelStatus``; REST: ``/v1/models/NAME:predict``,
  ``/v1/models/NAME`` and ``/v1/models/NAME/metadata``.
- Before the first request the client fetches the model's signature metadata and
  checks it against what it expects (:data:`gait_tf.serving.signatures.EXPECTED` for the
  given ``kind``, or an explicit ``expected`` dict); a mismatch raises a readable
  :class:`~gait_tf.errors.ServingError`.
- Each call has a deadline (``timeout`` seconds); ``UNAVAILABLE`` (server starting,
  overloaded, restarting) is retried ``retries`` times with exponential backoff.
- Message sizes: gRPC defaults to 4 MiB, too small for long sequences (1000 frames of
  64x44 uint8 are 2.8 MB, of float32 11 MB); the channel allows ``max_message_bytes``
  (64 MiB by default) both ways. A request whose inputs would exceed the send limit is
  split along the batch axis into chunks and the outputs concatenated.
- ``max_batch``: split requests into chunks of at most this many items too (the server's
  maximum batch, e.g. ``max_batch_size`` of ``batching.config``; the development server
  refuses larger batches with INVALID_ARGUMENT, as TF Serving does).
"""
from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request

import numpy as np

from gait_tf.errors import ServingError
from gait_tf.serving.signatures import EXPECTED

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
#: Room left in a message for the proto framing, names and shapes.
_MESSAGE_OVERHEAD = 64 * 1024

_NP_TO_DT = {np.dtype(np.uint8): "DT_UINT8", np.dtype(np.float32): "DT_FLOAT", np.dtype(np.float16): "DT_HALF",
             np.dtype(np.int32): "DT_INT32", np.dtype(np.int64): "DT_INT64", np.dtype(np.float64): "DT_DOUBLE"}


class GaitServingClient:
    """Client of one served model.

    ``target``: ``"host:port"`` (gRPC) or ``"http://host:port"`` (REST).
    ``kind``: the model's input kind (``"silhouette"``, ``"image"``, ``"pose_features"``,
    ``"rgb_sequence"``) whose documented signatures are expected; or pass ``expected``
    (``{signature: {"inputs": {name: "DT_*"}, "outputs": {name: "DT_*"}}}``), or
    ``check_signature=False``. ``version``: pin a model version (default: the server's
    latest). ``max_batch``: largest batch per request (larger inputs are split).
    """

    def __init__(self, target: str, model_name: str, *, kind: str | None = "silhouette",
                 expected: dict | None = None, version: int | None = None, timeout: float = 30.0,
                 retries: int = 3, backoff: float = 0.1, max_backoff: float = 2.0,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, check_signature: bool = True,
                 max_batch: int | None = None):
        if max_batch is not None and (isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1):
            raise ServingError(f"max_batch must be an integer >= 1 or None, got {max_batch!r}")
        self.max_batch = max_batch
        self.target = target
        self.model_name = model_name
        self.version = version
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_message_bytes = int(max_message_bytes)
        self.transport = "rest" if target.startswith(("http://", "https://")) else "grpc"
        if expected is None and check_signature and kind is not None:
            expected = EXPECTED.get(kind)
            if expected is None:
                raise ServingError(f"unknown model kind {kind!r}; known: {sorted(EXPECTED)}")
        self.expected = expected if check_signature else None
        self._checked = not check_signature or self.expected is None
        self._metadata = None
        self._channel = None
        self._predict_stub = None
        self._model_stub = None
        if self.transport == "grpc":
            import grpc
            from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

            options = [("grpc.max_send_message_length", self.max_message_bytes),
                       ("grpc.max_receive_message_length", self.max_message_bytes)]
            self._channel = grpc.insecure_channel(target, options=options)
            self._predict_stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
            self._model_stub = model_service_pb2_grpc.ModelServiceStub(self._channel)
        else:
            self.base_url = target.rstrip("/")

    # ----------------------------------------------------------------- plumbing

    def close(self):
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _model_spec(self, spec, signature_name=None):
        spec.name = self.model_name
        if self.version is not None:
            spec.version.value = int(self.version)
        if signature_name:
            spec.signature_name = signature_name
        return spec

    def _sleep(self, attempt: int):
        delay = min(self.max_backoff, self.backoff * (2 ** attempt))
        time.sleep(delay * (0.5 + random.random() / 2))

    def _grpc_call(self, method, request, what: str):
        import grpc

        for attempt in range(self.retries + 1):
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as exc:
                code = exc.code()
                if code == grpc.StatusCode.UNAVAILABLE and attempt < self.retries:
                    self._sleep(attempt)
                    continue
                raise ServingError(
                    f"{what} of model {self.model_name!r} at {self.target} failed: "
                    f"{code.name}: {exc.details()}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _http(self, method: str, path: str, payload=None, what: str = "request"):
        url = f"{self.base_url}{path}"
        data = None if payload is None else json.dumps(payload).encode()
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                body = exc.read().decode(errors="replace")
                try:
                    message = json.loads(body).get("error", body)
                except json.JSONDecodeError:
                    message = body
                if exc.code == 503 and attempt < self.retries:
                    self._sleep(attempt)
                    continue
                raise ServingError(f"{what} of model {self.model_name!r} at {url} failed: "
                                   f"HTTP {exc.code}: {message}") from None
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if attempt < self.retries:
                    self._sleep(attempt)
                    continue
                raise ServingError(f"{what} of model {self.model_name!r}: server {self.base_url} "
                                   f"unreachable: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _rest_model_path(self):
        path = f"/v1/models/{self.model_name}"
        if self.version is not None:
            path += f"/versions/{int(self.version)}"
        return path

    # ----------------------------------------------------------------- status / metadata

    def status(self) -> list[dict]:
        """``[{"version": int, "state": "AVAILABLE" | ...}]`` (GetModelStatus / GET /v1/models/NAME)."""
        if self.transport == "rest":
            data = self._http("GET", self._rest_model_path(), what="GetModelStatus")
            return [{"version": int(s["version"]), "state": s["state"]} for s in data["model_version_status"]]
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest()
        self._model_spec(request.model_spec)
        response = self._grpc_call(self._model_stub.GetModelStatus, request, "GetModelStatus")
        return [{"version": int(s.version),
                 "state": get_model_status_pb2.ModelVersionStatus.State.Name(s.state)}
                for s in response.model_version_status]

    def wait_until_available(self, timeout: float = 60.0, poll: float = 0.2):
        """Poll the model status until a version is AVAILABLE (ServingError after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                if any(s["state"] == "AVAILABLE" for s in self.status()):
                    return self
            except ServingError as exc:
                last = exc
            time.sleep(poll)
        raise ServingError(f"model {self.model_name!r} at {self.target} not available after {timeout:.0f} s"
                           + (f": {last}" if last else ""))

    def metadata(self) -> dict:
        """``{signature: {"inputs": {name: {"dtype": "DT_*", "shape": [..] | None}}, "outputs": ...}}``."""
        if self._metadata is not None:
            return self._metadata
        if self.transport == "rest":
            data = self._http("GET", self._rest_model_path() + "/metadata", what="GetModelMetadata")
            sigs = data["metadata"]["signature_def"].get("signatureDef", data["metadata"]["signature_def"].get(
                "signature_def", {}))

            def conv(infos):
                out = {}
                for k, v in infos.items():
                    shape = v.get("tensorShape", v.get("tensor_shape", {}))
                    dims = None if (shape.get("unknownRank") or shape.get("unknown_rank")) else [int(d.get("size", -1)) for d in shape.get("dim", [])]
                    out[k] = {"dtype": v.get("dtype"), "shape": dims}
                return out

            meta = {k: {"inputs": conv(s.get("inputs", {})), "outputs": conv(s.get("outputs", {}))}
                    for k, s in sigs.items() if not k.startswith("__")}
        else:
            from tensorflow.core.framework import types_pb2
            from tensorflow_serving.apis import get_model_metadata_pb2

            request = get_model_metadata_pb2.GetModelMetadataRequest()
            self._model_spec(request.model_spec)
            request.metadata_field.append("signature_def")
            response = self._grpc_call(self._predict_stub.GetModelMetadata, request, "GetModelMetadata")
            sig_map = get_model_metadata_pb2.SignatureDefMap()
            response.metadata["signature_def"].Unpack(sig_map)

            def conv(infos):
                return {k: {"dtype": types_pb2.DataType.Name(v.dtype),
                            "shape": None if v.tensor_shape.unknown_rank else [d.size for d in v.tensor_shape.dim]}
                        for k, v in infos.items()}

            meta = {k: {"inputs": conv(s.inputs), "outputs": conv(s.outputs)}
                    for k, s in sig_map.signature_def.items() if not k.startswith("__")}
        self._metadata = meta
        return meta

    def check_signature(self, expected: dict | None = None) -> dict:
        """Compare the server's signatures with ``expected`` (default: this client's);
        raise :class:`ServingError` listing every difference. Returns the metadata."""
        expected = expected if expected is not None else self.expected
        meta = self.metadata()
        problems = []
        for sig_name, want in (expected or {}).items():
            have = meta.get(sig_name)
            if have is None:
                problems.append(f"signature {sig_name!r} missing (server has {sorted(meta)})")
                continue
            for side in ("inputs", "outputs"):
                for tensor, dtype in want.get(side, {}).items():
                    got = have[side].get(tensor)
                    if got is None:
                        problems.append(f"{sig_name}: {side[:-1]} {tensor!r} missing (server has {sorted(have[side])})")
                    elif dtype and got["dtype"] != dtype:
                        problems.append(f"{sig_name}: {side[:-1]} {tensor!r} is {got['dtype']}, expected {dtype}")
            extra = sorted(set(have["inputs"]) - set(want.get("inputs", {})))
            if extra:
                problems.append(f"{sig_name}: unexpected extra inputs {extra}")
        if problems:
            raise ServingError(f"model {self.model_name!r} at {self.target} does not have the expected "
                               "signature: " + "; ".join(problems))
        self._checked = True
        return meta

    # ----------------------------------------------------------------- predict

    def _predict_once(self, inputs: dict, signature_name: str) -> dict:
        if self.transport == "rest":
            payload = {"signature_name": signature_name, "inputs": {k: v.tolist() for k, v in inputs.items()}}
            path = self._rest_model_path() + ":predict"
            data = self._http("POST", path, payload, what="Predict")
            outs = data["outputs"]
            if not isinstance(outs, dict):
                outs = {"output": outs}
            return {k: np.asarray(v, dtype=np.float32) for k, v in outs.items()}
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._model_spec(request.model_spec, signature_name)
        for key, value in inputs.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        response = self._grpc_call(self._predict_stub.Predict, request, "Predict")
        return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}

    def _chunk_size(self, inputs: dict) -> int:
        """Largest batch chunk whose request fits in the send limit (≥ 1)."""
        batch = {len(v) for v in inputs.values()}
        if len(batch) != 1:
            raise ServingError(f"inputs of {self.model_name!r} have different batch sizes: "
                               f"{ {k: v.shape for k, v in inputs.items()} }")
        n = batch.pop()
        per_item = sum(v.nbytes // max(1, len(v)) for v in inputs.values())
        if self.transport == "rest":
            per_item *= 4  # JSON text: up to ~4 characters per uint8/float digit group
        budget = self.max_message_bytes - _MESSAGE_OVERHEAD
        if per_item > budget:
            raise ServingError(
                f"one item of the request to {self.model_name!r} is {per_item / 2**20:.1f} MiB, over the "
                f"{self.max_message_bytes / 2**20:.0f} MiB message limit: raise max_message_bytes "
                "(and the server's limit) or send fewer frames")
        chunk = max(1, min(n, budget // max(1, per_item)))
        return chunk if self.max_batch is None else min(chunk, self.max_batch)

    def predict(self, inputs: dict, signature_name: str = "serving_default") -> dict:
        """Run ``signature_name`` on ``inputs`` (``{name: ndarray}``, batch-first).

        Checks the signature before the first request; splits the batch when the request
        would exceed the message limit; returns ``{output: ndarray}``.
        """
        if not self._checked:
            self.check_signature()
        arrays = {k: np.ascontiguousarray(v) for k, v in inputs.items()}
        if self.expected and signature_name in self.expected:
            for key, dtype in self.expected[signature_name]["inputs"].items():
                if key in arrays and _NP_TO_DT.get(arrays[key].dtype) != dtype:
                    raise ServingError(f"input {key!r} of {self.model_name!r}/{signature_name} must be {dtype}, "
                                       f"got numpy {arrays[key].dtype}")
        chunk = self._chunk_size(arrays)
        n = len(next(iter(arrays.values())))
        if chunk >= n:
            return self._predict_once(arrays, signature_name)
        parts = [self._predict_once({k: v[i:i + chunk] for k, v in arrays.items()}, signature_name)
                 for i in range(0, n, chunk)]
        return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}

    def embed(self, silhouettes) -> np.ndarray:
        """Embeddings ``[B, parts, dim]`` of uint8 silhouettes ``[B, T, 64, 44]`` (or one
        sequence ``[T, 64, 44]``); float input in [0, 1] uses the ``serving_float`` signature."""
        x = np.asarray(silhouettes)
        single = x.ndim == 3
        if single:
            x = x[None]
        if x.dtype == np.uint8:
            out = self.predict({"silhouettes": x})
        else:
            out = self.predict({"silhouettes": x.astype(np.float32)}, "serving_float")
        emb = out["embeddings"]
        return emb[0] if single else emb
