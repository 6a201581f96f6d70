"""DEVELOPMENT server speaking TF Serving's gRPC and REST APIs — for development and tests only.

The real ``tensorflow_model_server`` (see ``deploy/``) cannot be installed here; this
server lets the client, the demo and the tests run against exported SavedModels with
the *same* protocol:

- gRPC ``tensorflow.serving.PredictionService``: ``Predict``, ``GetModelMetadata``
  (``signature_def`` metadata); ``tensorflow.serving.ModelService``: ``GetModelStatus``.
- REST on 127.0.0.1: ``POST /v1/models/NAME[/versions/N]:predict`` (``{"inputs": ...}``
  → ``{"outputs": ...}``, or ``{"instances": [...]}`` → ``{"predictions": [...]}``),
  ``GET /v1/models/NAME[/versions/N]`` (status) and ``GET /v1/models/NAME/metadata``.

Models come from a ``models.config`` (ModelServerConfig text proto). Versions follow
each entry's ``model_version_policy`` (``latest {num_versions}``, ``all``,
``specific``); a request without a version gets the highest served version. Each loaded
version replays its ``assets.extra/tf_serving_warmup_requests`` (like
``--enable_model_warmup``) before it is marked AVAILABLE.

Errors map to gRPC status codes like TF Serving's: unknown model / version →
``NOT_FOUND``; failed input validation (the graph's ``tf.debugging`` asserts), missing
inputs, wrong dtypes, unknown signature → ``INVALID_ARGUMENT``.

Start-up checks (each a one-line :class:`ServingError`, before anything listens): every
model's ``base_path`` exists and holds at least one servable version that its version
policy selects; the ports are valid and free (``SO_REUSEPORT`` is off, so a second server
cannot share a port the first one holds).

Request limits, checked on the request's shapes *before* its tensors are decoded:

- **maximum batch per model**: a request with more items than the model's maximum batch is
  answered ``INVALID_ARGUMENT`` naming the limit (as TF Serving does for a task larger than
  ``max_batch_size``). The limit is, in order: ``max_batch`` given to the server (``--max-batch
  N`` or ``--max-batch NAME=N``), the ``max_batch_size`` of the version's
  ``batching_params.pbtxt`` (TF Serving's per-model batching file), the ``max_batch_size`` of
  the ``batching.config`` beside ``models.config``, or :data:`DEFAULT_MAX_BATCH`;
- **decoded request size**: a request whose inputs decode to more than ``max_request_bytes``
  (``--max-request-mb``, default 256 MiB) is answered ``RESOURCE_EXHAUSTED`` naming the limit.
  A TensorProto of a few bytes can declare a huge shape filled with one value; its size is
  computed from the shape, so such a request is refused without allocating it.

It listens on 127.0.0.1 only, runs requests on a thread pool with no batching, and
prints a banner saying it is not a production server.
"""
from __future__ import annotations

import json
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from gait_tf.errors import ServingError

BANNER = (
    "gait-tf DEVELOPMENT model server (gRPC {grpc} / REST {rest}) - for development and tests "
    "only, NOT for production: serve exports with tensorflow/serving (see deploy/ and docs/serving.md)."
)
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024
#: decoded size of a request's inputs above which it is refused (RESOURCE_EXHAUSTED)
DEFAULT_MAX_REQUEST_BYTES = 256 * 1024 * 1024
#: maximum batch of a model when neither the server, the model nor batching.config sets one
#: (the max_batch_size `gait-tf export` writes into batching.config)
DEFAULT_MAX_BATCH = 32
MAX_PORT = 65535


class RequestError(Exception):
    """A request the server rejects; ``code`` is a ``grpc.StatusCode`` name."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def readable_tf_error(exc) -> str:
    """The useful line of a TF runtime error (the failed assertion's message)."""
    text = getattr(exc, "message", None) or str(exc)
    for line in text.splitlines():
        if "assertion failed:" in line:
            line = line.strip()
            # "assertion failed: [msg] [Condition ...] [x = ] [3] ..." -> "msg (Condition ...: x = 3 ...)"
            body = line.split("assertion failed:", 1)[1].strip()
            marker = "] [Condition"
            if body.startswith("[") and marker in body:
                head, rest = body[1:body.index(marker)], body[body.index(marker) + 2:]
                rest = " ".join(p.strip() for p in rest.strip("[] ").split("] [") if p.strip())
                return f"{head.strip().rstrip('.').strip()} ({rest})"
            return body
    first = [ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("[[")]
    return first[0].strip() if first else text.strip()


@dataclass
class ServedVersion:
    version: int
    path: Path
    loaded: object
    signature_defs: dict
    functions: dict
    warmup_replayed: int = 0


@dataclass
class ServedModel:
    name: str
    base_path: Path
    policy: str
    versions: dict = field(default_factory=dict)  # version -> ServedVersion
    max_batch: int = DEFAULT_MAX_BATCH
    max_batch_source: str = "default"

    def get(self, version: int | None) -> ServedVersion:
        if not self.versions:
            raise RequestError("NOT_FOUND", f"model {self.name!r} has no servable version under {self.base_path}")
        if version is None:
            return self.versions[max(self.versions)]
        if version not in self.versions:
            raise RequestError("NOT_FOUND", f"version {version} of model {self.name!r} is not served "
                                            f"(served: {sorted(self.versions)})")
        return self.versions[version]


def _select_versions(available: list[int], policy_proto) -> list[int]:
    which = policy_proto.WhichOneof("policy_choice")
    if which == "all":
        return list(available)
    if which == "specific":
        return [v for v in policy_proto.specific.versions if v in available]
    n = policy_proto.latest.num_versions if which == "latest" else 1
    return sorted(available)[-max(1, n):]


def _to_tensor_proto(array):
    import tensorflow as tf

    return tf.make_tensor_proto(np.ascontiguousarray(array))


def _read_max_batch(path) -> int | None:
    """``max_batch_size`` of a batching.config / batching_params.pbtxt; None if it sets none."""
    from gait_tf.serving.model_config import parse_batching_config

    try:
        value = parse_batching_config(path).get("max_batch_size")
    except (OSError, ValueError, IndexError) as exc:
        raise ServingError(f"{path}: not a readable batching parameters file ({exc})") from None
    if value is not None and int(value) < 1:
        raise ServingError(f"{path}: max_batch_size must be >= 1, got {value}")
    return None if value is None else int(value)


def _check_max_batch(max_batch):
    """``max_batch``: None, an int >= 1 (every model) or ``{model name: int >= 1}``."""
    if max_batch is None:
        return None
    items = max_batch.items() if isinstance(max_batch, dict) else [("*", max_batch)]
    for name, value in items:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ServingError(f"max_batch for {'every model' if name == '*' else repr(name)} must be an "
                               f"integer >= 1, got {value!r}")
    return dict(max_batch) if isinstance(max_batch, dict) else {"*": int(max_batch)}


class ModelRepository:
    """The models of a ``models.config``, loaded with ``tf.saved_model.load``.

    ``max_batch``: None, an int or ``{name: int}`` (see the module docstring);
    ``batching_config``: the batching parameters file (default: ``batching.config`` beside
    ``models.config``, if present); ``max_request_bytes``: bound on a request's decoded size.
    """

    def __init__(self, model_config_path, *, warmup: bool = True, max_batch=None, batching_config=None,
                 max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES):
        self.config_path = Path(model_config_path)
        if not self.config_path.is_file():
            raise ServingError(f"model config not found: {self.config_path} (run `gait-tf export` first)")
        self.warmup = warmup
        self.max_batch = _check_max_batch(max_batch)
        if isinstance(max_request_bytes, bool) or not isinstance(max_request_bytes, int) or max_request_bytes < 1:
            raise ServingError(f"max_request_bytes must be an integer >= 1, got {max_request_bytes!r}")
        self.max_request_bytes = max_request_bytes
        if batching_config is not None:
            self.batching_config = Path(batching_config)
            if not self.batching_config.is_file():
                raise ServingError(f"batching config not found: {self.batching_config}")
        else:
            beside = self.config_path.resolve().parent / "batching.config"
            self.batching_config = beside if beside.is_file() else None
        self.models: dict[str, ServedModel] = {}
        self.load()

    def _max_batch_for(self, name, version_paths) -> tuple[int, str]:
        """``(limit, where it comes from)`` of model ``name``."""
        if self.max_batch is not None and (name in self.max_batch or "*" in self.max_batch):
            return self.max_batch.get(name, self.max_batch.get("*")), "--max-batch"
        for path in version_paths:  # TF Serving's per-model batching parameters
            params = Path(path) / "batching_params.pbtxt"
            if params.is_file():
                value = _read_max_batch(params)
                if value is not None:
                    return value, str(params)
        if self.batching_config is not None:
            value = _read_max_batch(self.batching_config)
            if value is not None:
                return value, str(self.batching_config)
        return DEFAULT_MAX_BATCH, "default"

    def load(self):
        from gait_tf.serving.export import list_versions, signature_defs
        from gait_tf.serving.model_config import read_models_config, resolve_base_path

        config = read_models_config(self.config_path)
        entries = list(config.model_config_list.config)
        if not entries:
            raise ServingError(f"{self.config_path} lists no model")
        if self.max_batch:
            unknown = sorted(set(self.max_batch) - {"*"} - {e.name for e in entries})
            if unknown:
                raise ServingError(f"--max-batch names model(s) {unknown} that {self.config_path} does not list "
                                   f"(it lists {sorted(e.name for e in entries)})")
        # check every model before loading any (loading takes seconds per version)
        plan = []
        for entry in entries:
            if not entry.name:
                raise ServingError(f"{self.config_path}: a model entry has no name")
            base = resolve_base_path(entry.base_path, self.config_path)
            if not base.is_dir():
                raise ServingError(
                    f"model {entry.name!r}: base_path {entry.base_path!r} of {self.config_path} does not exist "
                    f"(nor does {base}); export the model there (gait-tf export) or fix the path")
            available = list_versions(base)
            if not available:
                raise ServingError(
                    f"model {entry.name!r}: no servable version under {base} (expected numbered folders "
                    f"holding saved_model.pb, e.g. {base / '1'}; run gait-tf export)")
            chosen = _select_versions(available, entry.model_version_policy)
            if not chosen:
                raise ServingError(
                    f"model {entry.name!r}: its model_version_policy selects none of the versions "
                    f"{available} under {base}")
            plan.append((entry, base, chosen))
        import tensorflow as tf

        models = {}
        for entry, base, chosen in plan:
            limit, source = self._max_batch_for(entry.name, [base / str(v) for v in chosen])
            served = ServedModel(entry.name, base, entry.model_version_policy.WhichOneof("policy_choice") or "latest",
                                 max_batch=limit, max_batch_source=source)
            for v in chosen:
                path = base / str(v)
                try:
                    loaded = tf.saved_model.load(str(path))
                except Exception as exc:
                    raise ServingError(f"cannot load SavedModel {path} of model {entry.name!r}: {exc}") from exc
                sv = ServedVersion(v, path, loaded, signature_defs(path),
                                   {k: loaded.signatures[k] for k in loaded.signatures.keys()})
                if self.warmup:
                    sv.warmup_replayed = self._replay_warmup(entry.name, sv)
                served.versions[v] = sv
            models[entry.name] = served
        self.models = models

    def check_request(self, name: str, version: int | None, inputs: dict) -> None:
        """Refuse a request over the limits, from its inputs' ``{key: (shape, itemsize)}``:
        INVALID_ARGUMENT above the model's maximum batch, RESOURCE_EXHAUSTED above the
        decoded-size bound. Called before the tensors are decoded."""
        model = self.model(name)
        model.get(version)  # NOT_FOUND first, as TF Serving
        total = 0
        for key, (shape, itemsize) in inputs.items():
            if any(d < 0 for d in shape):
                raise RequestError("INVALID_ARGUMENT", f"input {key!r} has a negative dimension {list(shape)}")
            n = 1
            for d in shape:
                n *= int(d)
            total += n * int(itemsize)
            if total > self.max_request_bytes:
                raise RequestError(
                    "RESOURCE_EXHAUSTED",
                    f"request to model {name!r} decodes to at least {_mib(total)} of inputs (input {key!r} "
                    f"{list(shape)}), over the server's limit of {_mib(self.max_request_bytes)} per request "
                    "(--max-request-mb); send fewer or shorter sequences per request")
            if shape and int(shape[0]) > model.max_batch:
                where = {"default": "the default", "--max-batch": "--max-batch"}.get(
                    model.max_batch_source, f"max_batch_size in {model.max_batch_source}")
                raise RequestError(
                    "INVALID_ARGUMENT",
                    f"batch of {int(shape[0])} in input {key!r} is larger than model {name!r}'s maximum batch "
                    f"{model.max_batch} ({where}); split the request into batches of at most {model.max_batch}")

    def _replay_warmup(self, name, sv: ServedVersion) -> int:
        from gait_tf.serving.warmup import read_warmup_requests

        requests = read_warmup_requests(sv.path)
        for req in requests:
            try:
                self.run_version(name, sv, req.model_spec.signature_name or "serving_default",
                                 {k: _proto_to_ndarray(v) for k, v in req.inputs.items()})
            except RequestError as exc:
                raise ServingError(f"warm-up request of {name!r} v{sv.version} failed: {exc.message}") from exc
        return len(requests)

    def model(self, name: str) -> ServedModel:
        if name not in self.models:
            raise RequestError("NOT_FOUND", f"model {name!r} is not served (served: {sorted(self.models)})")
        return self.models[name]

    def run(self, name: str, version: int | None, signature_name: str, inputs: dict,
            output_filter=None) -> tuple[int, dict]:
        """Run ``signature_name`` of ``name``; returns ``(version, {output: ndarray})``."""
        return self.run_version(name, self.model(name).get(version), signature_name, inputs, output_filter)

    def run_version(self, name: str, sv: ServedVersion, signature_name: str, inputs: dict,
                    output_filter=None) -> tuple[int, dict]:
        import tensorflow as tf

        signature_name = signature_name or "serving_default"
        if signature_name not in sv.functions:
            raise RequestError("INVALID_ARGUMENT", f"Serving signature key {signature_name!r} not found "
                                                   f"(model {name!r} has {sorted(sv.functions)})")
        sig = sv.signature_defs[signature_name]
        expected = set(sig.inputs)
        if set(inputs) != expected:
            raise RequestError("INVALID_ARGUMENT",
                               f"signature {signature_name!r} of model {name!r} takes inputs {sorted(expected)}, "
                               f"request has {sorted(inputs)}")
        fn = sv.functions[signature_name]
        kwargs = {}
        for key, value in inputs.items():
            want = tf.dtypes.as_dtype(sig.inputs[key].dtype)
            value = np.asarray(value)
            if value.dtype != want.as_numpy_dtype:
                raise RequestError("INVALID_ARGUMENT",
                                   f"input {key!r} of signature {signature_name!r} must be {want.name}, "
                                   f"got {value.dtype}")
            kwargs[key] = tf.constant(value)
        try:
            out = fn(**kwargs)
        except tf.errors.InvalidArgumentError as exc:
            raise RequestError("INVALID_ARGUMENT", f"model {name!r}: {readable_tf_error(exc)}") from None
        except (TypeError, ValueError) as exc:
            raise RequestError("INVALID_ARGUMENT", f"model {name!r}: {exc}") from None
        except tf.errors.OpError as exc:
            raise RequestError("INTERNAL", f"model {name!r}: {readable_tf_error(exc)}") from None
        outputs = {k: v.numpy() for k, v in out.items()}
        if output_filter:
            missing = [k for k in output_filter if k not in outputs]
            if missing:
                raise RequestError("INVALID_ARGUMENT", f"output_filter names unknown outputs {missing}")
            outputs = {k: outputs[k] for k in output_filter}
        return sv.version, outputs


def _proto_to_ndarray(proto):
    import tensorflow as tf

    return tf.make_ndarray(proto)


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n < 2**30 else f"{n / 2**30:.2f} GiB"


def _proto_shape_itemsize(key, proto) -> tuple[list, int]:
    """``(shape, bytes per element)`` of a TensorProto without decoding it."""
    import tensorflow as tf

    if proto.tensor_shape.unknown_rank:
        raise RequestError("INVALID_ARGUMENT", f"input {key!r} has an unknown rank")
    try:
        dtype = tf.dtypes.as_dtype(proto.dtype)
    except TypeError:
        raise RequestError("INVALID_ARGUMENT", f"input {key!r} has an unknown dtype {proto.dtype}") from None
    # strings: count their actual bytes (no fixed size); others: the dtype's size
    itemsize = 1 if dtype == tf.string else max(1, dtype.size)
    return [int(d.size) for d in proto.tensor_shape.dim], itemsize


# --------------------------------------------------------------------------- gRPC

def _grpc_servicers(repo: ModelRepository):
    import grpc
    from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                         predict_pb2, prediction_service_pb2_grpc)

    def abort(context, exc: RequestError):
        context.abort(getattr(grpc.StatusCode, exc.code), exc.message)

    def version_of(spec):
        if spec.HasField("version"):
            return int(spec.version.value)
        if spec.version_label:
            raise RequestError("INVALID_ARGUMENT", "version labels are not supported by the dev server")
        return None

    class Prediction(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            try:
                repo.check_request(request.model_spec.name, version_of(request.model_spec),
                                   {k: _proto_shape_itemsize(k, p) for k, p in request.inputs.items()})
                inputs = {}
                for key, proto in request.inputs.items():
                    try:
                        inputs[key] = _proto_to_ndarray(proto)
                    except Exception as exc:
                        raise RequestError("INVALID_ARGUMENT", f"cannot decode input {key!r}: {exc}") from None
                version, outputs = repo.run(request.model_spec.name, version_of(request.model_spec),
                                            request.model_spec.signature_name, inputs,
                                            list(request.output_filter))
            except RequestError as exc:
                abort(context, exc)
            response = predict_pb2.PredictResponse()
            response.model_spec.name = request.model_spec.name
            response.model_spec.version.value = version
            response.model_spec.signature_name = request.model_spec.signature_name or "serving_default"
            for key, value in outputs.items():
                response.outputs[key].CopyFrom(_to_tensor_proto(value))
            return response

        def GetModelMetadata(self, request, context):
            try:
                if list(request.metadata_field) not in ([], ["signature_def"]):
                    raise RequestError("INVALID_ARGUMENT",
                                       f"metadata_field must be ['signature_def'], got {list(request.metadata_field)}")
                sv = repo.model(request.model_spec.name).get(version_of(request.model_spec))
            except RequestError as exc:
                abort(context, exc)
            sig_map = get_model_metadata_pb2.SignatureDefMap()
            for key, sig in sv.signature_defs.items():
                sig_map.signature_def[key].CopyFrom(sig)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = request.model_spec.name
            response.model_spec.version.value = sv.version
            response.metadata["signature_def"].Pack(sig_map)
            return response

    class ModelStatus(model_service_pb2_grpc.ModelServiceServicer):
        def GetModelStatus(self, request, context):
            try:
                model = repo.model(request.model_spec.name)
                version = version_of(request.model_spec)
                versions = [model.get(version)] if version is not None else [
                    model.versions[v] for v in sorted(model.versions)]
            except RequestError as exc:
                abort(context, exc)
            response = get_model_status_pb2.GetModelStatusResponse()
            for sv in versions:
                status = response.model_version_status.add()
                status.version = sv.version
                status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
            return response

    return Prediction(), ModelStatus()


# --------------------------------------------------------------------------- REST

def _rest_handler(repo: ModelRepository):
    from google.protobuf import json_format
    from tensorflow_serving.apis import get_model_metadata_pb2

    class Handler(BaseHTTPRequestHandler):
        server_version = "gait-tf-devserver"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet
            pass

        def _send(self, code: int, payload: dict):
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, exc: RequestError):
            http = {"NOT_FOUND": 404, "INVALID_ARGUMENT": 400, "UNIMPLEMENTED": 501,
                    "RESOURCE_EXHAUSTED": 413}.get(exc.code, 500)
            self._send(http, {"error": exc.message})

        def _route(self):
            path = self.path.split("?", 1)[0]
            if not path.startswith("/v1/models/"):
                raise RequestError("NOT_FOUND", f"unknown path {path!r}")
            rest = path[len("/v1/models/"):]
            verb = None
            if ":" in rest:
                rest, verb = rest.rsplit(":", 1)
            parts = rest.split("/")
            name, version, tail = parts[0], None, parts[1:]
            if len(tail) >= 2 and tail[0] == "versions":
                try:
                    version = int(tail[1])
                except ValueError:
                    raise RequestError("INVALID_ARGUMENT", f"bad version {tail[1]!r}") from None
                tail = tail[2:]
            return name, version, verb, tail

        def do_GET(self):
            try:
                name, version, verb, tail = self._route()
                model = repo.model(name)
                if verb is None and tail == []:
                    versions = [model.get(version)] if version is not None else [
                        model.versions[v] for v in sorted(model.versions, reverse=True)]
                    self._send(200, {"model_version_status": [
                        {"version": str(sv.version), "state": "AVAILABLE",
                         "status": {"error_code": "OK", "error_message": ""}} for sv in versions]})
                elif verb is None and tail == ["metadata"]:
                    sv = model.get(version)
                    sig_map = get_model_metadata_pb2.SignatureDefMap()
                    for key, sig in sv.signature_defs.items():
                        sig_map.signature_def[key].CopyFrom(sig)
                    self._send(200, {"model_spec": {"name": name, "signature_name": "", "version": str(sv.version)},
                                     "metadata": {"signature_def": json_format.MessageToDict(sig_map, preserving_proto_field_name=True)}})
                else:
                    raise RequestError("NOT_FOUND", f"unknown path {self.path!r}")
            except RequestError as exc:
                self._error(exc)

        def do_POST(self):
            try:
                name, version, verb, tail = self._route()
                if verb != "predict" or tail:
                    raise RequestError("NOT_FOUND", f"unknown path {self.path!r} (only :predict is served)")
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    raise RequestError("INVALID_ARGUMENT", "bad Content-Length header") from None
                if length > repo.max_request_bytes:  # JSON text: parsed values take more memory than that
                    self.close_connection = True
                    raise RequestError("RESOURCE_EXHAUSTED",
                                       f"request body of {_mib(length)} is over the server's limit of "
                                       f"{_mib(repo.max_request_bytes)} per request (--max-request-mb); send "
                                       "fewer or shorter sequences per request, or use gRPC")
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError as exc:
                    raise RequestError("INVALID_ARGUMENT", f"request body is not JSON: {exc}") from None
                signature = body.get("signature_name", "serving_default")
                sv = repo.model(name).get(version)
                if signature not in sv.signature_defs:
                    raise RequestError("INVALID_ARGUMENT", f"Serving signature key {signature!r} not found")
                sig = sv.signature_defs[signature]
                import tensorflow as tf

                def as_array(key, value):
                    if key not in sig.inputs:
                        raise RequestError("INVALID_ARGUMENT", f"unknown input {key!r}; signature "
                                                               f"{signature!r} takes {sorted(sig.inputs)}")
                    try:
                        return np.asarray(value, dtype=tf.dtypes.as_dtype(sig.inputs[key].dtype).as_numpy_dtype)
                    except (ValueError, TypeError, OverflowError) as exc:
                        raise RequestError("INVALID_ARGUMENT", f"input {key!r}: {exc}") from None

                if "inputs" in body:
                    raw = body["inputs"]
                    if not isinstance(raw, dict):
                        (only,) = list(sig.inputs) if len(sig.inputs) == 1 else (None,)
                        if only is None:
                            raise RequestError("INVALID_ARGUMENT", "'inputs' must be an object for multi-input signatures")
                        raw = {only: raw}
                    inputs = {k: as_array(k, v) for k, v in raw.items()}
                    columnar = True
                elif "instances" in body:
                    instances = body["instances"]
                    if instances and isinstance(instances[0], dict):
                        keys = list(instances[0])
                        inputs = {k: as_array(k, [inst[k] for inst in instances]) for k in keys}
                    else:
                        if len(sig.inputs) != 1:
                            raise RequestError("INVALID_ARGUMENT", "instances must be objects for multi-input signatures")
                        key = next(iter(sig.inputs))
                        inputs = {key: as_array(key, instances)}
                    columnar = False
                else:
                    raise RequestError("INVALID_ARGUMENT", "request body needs 'inputs' or 'instances'")
                repo.check_request(name, version, {k: (list(v.shape), v.itemsize) for k, v in inputs.items()})
                used, outputs = repo.run(name, version, signature, inputs)
                if columnar:
                    self._send(200, {"outputs": {k: v.tolist() for k, v in outputs.items()}})
                else:
                    n = len(next(iter(outputs.values())))
                    if len(outputs) == 1:
                        preds = next(iter(outputs.values())).tolist()
                    else:
                        preds = [{k: v[i].tolist() for k, v in outputs.items()} for i in range(n)]
                    self._send(200, {"predictions": preds})
            except RequestError as exc:
                self._error(exc)

    return Handler


# --------------------------------------------------------------------------- server

def _check_port(value, what, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PORT:
        raise ServingError(f"{what} must be a TCP port in 0..{MAX_PORT} (0 = any free port), got {value!r}")
    return value


def _check_port_free(host: str, port: int, what: str, flag: str):
    """ServingError if ``host:port`` cannot be bound now (in use, or not allowed)."""
    import errno
    import socket

    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            reason = ("already in use (another server is listening there)" if exc.errno == errno.EADDRINUSE
                      else exc.strerror or str(exc))
            raise ServingError(f"{what} port {host}:{port}: {reason}; choose another with {flag}") from None


class DevServer:
    """In-process development server: ``with DevServer("saved_models/models.config") as s:``.

    ``port=0`` / ``rest_port=0`` pick free ports (``s.port``, ``s.rest_port``);
    ``rest_port=None`` disables REST. Binds ``host`` (127.0.0.1 by default; loopback only).
    ``max_batch`` (an int for every model, or ``{name: int}``), ``batching_config`` and
    ``max_request_bytes``: request limits (see the module docstring). Everything is checked
    in the constructor - arguments, free ports, model folders and versions - so a server
    that cannot serve never starts.
    """

    def __init__(self, model_config, *, port: int = 0, rest_port: int | None = 0, host: str = "127.0.0.1",
                 max_workers: int = 16, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 warmup: bool = True, banner: bool = True, max_batch=None, batching_config=None,
                 max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ServingError(f"the development server binds loopback only, not {host!r}")
        _check_port(port, "port")
        _check_port(rest_port, "rest_port", allow_none=True)
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ServingError(f"max_workers (--workers) must be an integer >= 1, got {max_workers!r}")
        if port and rest_port and port == rest_port:
            raise ServingError(f"the gRPC and REST ports are the same ({port}); give them different ports")
        self.host = host
        self.requested_port = port
        self.requested_rest_port = rest_port
        self.max_workers = max_workers
        self.max_message_bytes = max_message_bytes
        self.banner = banner
        # the ports before the models: loading takes seconds, a busy port is known at once
        _check_port_free(host, port, "gRPC", "--port")
        if rest_port is not None:
            _check_port_free(host, rest_port, "REST", "--rest-port")
        self.repo = ModelRepository(model_config, warmup=warmup, max_batch=max_batch,
                                    batching_config=batching_config, max_request_bytes=max_request_bytes)
        self.port = None
        self.rest_port = None
        self._grpc = None
        self._http = None
        self._http_thread = None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def rest_url(self) -> str | None:
        return f"http://{self.host}:{self.rest_port}" if self.rest_port else None

    def start(self):
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        options = [("grpc.max_send_message_length", self.max_message_bytes),
                   ("grpc.max_receive_message_length", self.max_message_bytes),
                   # gRPC sets SO_REUSEPORT by default: a second server would share the port
                   ("grpc.so_reuseport", 0)]
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=self.max_workers), options=options)
        prediction, status = _grpc_servicers(self.repo)
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(prediction, server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(status, server)
        address = f"{self.host}:{self.requested_port}"
        try:
            port = server.add_insecure_port(address)
        except RuntimeError as exc:  # grpcio >= 1.60 raises instead of returning 0
            raise ServingError(f"cannot bind gRPC port {address}: {exc} (in use? choose another with --port)") from None
        if port == 0:
            raise ServingError(f"cannot bind gRPC port {address} (in use? choose another with --port)")
        server.start()
        self._grpc, self.port = server, port
        if self.requested_rest_port is not None:
            try:
                self._http = ThreadingHTTPServer((self.host, self.requested_rest_port), _rest_handler(self.repo))
            except OSError as exc:
                self.stop()
                raise ServingError(f"cannot bind REST port {self.host}:{self.requested_rest_port}: {exc}") from exc
            self._http.daemon_threads = True
            self.rest_port = self._http.server_address[1]
            self._http_thread = threading.Thread(target=self._http.serve_forever, name="devserver-rest", daemon=True)
            self._http_thread.start()
        if self.banner:
            print(BANNER.format(grpc=self.target, rest=self.rest_url or "off"), file=sys.stderr, flush=True)
            for name, model in sorted(self.repo.models.items()):
                print(f"  serving {name!r} versions {sorted(model.versions)} from {model.base_path} (max batch "
                      f"{model.max_batch}, max request {_mib(self.repo.max_request_bytes)})",
                      file=sys.stderr, flush=True)
        return self

    def stop(self, grace: float = 0.5):
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._grpc is not None:
            self._grpc.stop(grace).wait()
            self._grpc = None

    def wait(self):
        """Block until interrupted (Ctrl-C)."""
        try:
            while True:
                time.sleep(3600)
        finally:
            self.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
