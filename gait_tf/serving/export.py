"""Export a gait model as a versioned TF Serving SavedModel.

``export_model(model, "saved_models/gaitset")`` writes ``saved_models/gaitset/<N>/``
(``N`` = next integer version), atomically: the SavedModel, its warm-up requests
(``assets.extra/tf_serving_warmup_requests``) and an export manifest
(``assets.extra/gait_tf_export.json``) are written into a hidden temporary directory
that is renamed to ``<N>`` at the end, so TF Serving's version poller never sees a
half-written version. Then ``saved_models/models.config`` gets (or updates) the
model's entry and ``saved_models/batching.config`` is created if missing.

Device (``device="cpu"`` | ``"gpu"``): Keras 3's GRU/LSTM choose the cuDNN kernel
(``CudnnRNNV3``) *at trace time* whenever a GPU is visible; a SavedModel traced that way
cannot run on a CPU-only server. A CPU export (the default, portable everywhere) traces
with ``use_cudnn=False`` on every recurrent layer and then checks that no ``CudnnRNN*``
op is in the graph. A GPU export forces the cuDNN path (even when exporting on a machine
without a GPU) — faster on GPU, GPU-only.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from pathlib import Path

from gait_tf.errors import CheckpointError, ModelError, ServingError

MANIFEST_RELPATH = Path("assets.extra") / "gait_tf_export.json"
CUDNN_OP_PREFIX = "CudnnRNN"
#: registry models that also load TF1 checkpoints of the original project: (name map, strict)
_TF1_NAME_MAPS = {"humanpose": ("pose_name_map", True), "gaitnn": ("gaitnn_name_map", False)}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclasses.dataclass
class ExportResult:
    """What :func:`export_model` wrote."""

    served_name: str
    input_kind: str
    version: int
    path: Path
    signatures: dict
    device: str
    mixed_precision: bool
    xla: bool
    cudnn_ops: list
    warmup_requests: int
    models_config: Path | None
    batching_config: Path | None

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


# --------------------------------------------------------------------------- loading

def _dummy_input(input_kind: str, input_hw, channels: int):
    import numpy as np

    h, w = input_hw
    if input_kind == "silhouette":
        return np.zeros((1, 2, h, w, channels), np.float32)
    if input_kind == "rgb_sequence":
        return np.zeros((1, 2, h, w, 3), np.float32)
    if input_kind == "pose_features":
        return np.zeros((1, 2, 17, 17, 32), np.float32)
    if input_kind == "image":
        return np.zeros((1, 299, 299, 3), np.float32)
    if input_kind in ("skeleton_maps", "skeleton_silhouette"):
        return np.zeros((1, 2, h, w, channels), np.float32)
    if input_kind == "rgb_crops":
        return {"frames": np.zeros((1, 2, h, w, 3), np.float32), "ratios": np.full((1, 2), 0.5, np.float32)}
    raise ServingError(f"unknown input kind {input_kind!r}")


def _replace_dtype_policies(obj, policy: str):
    """Copy of a serialized Keras config with float32 dtype policies set to ``policy``."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "DTypePolicy" and isinstance(obj.get("config"), dict):
            if obj["config"].get("name") == "float32":
                return {**obj, "config": {**obj["config"], "name": policy}}
            return obj
        return {k: _replace_dtype_policies(v, policy) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_replace_dtype_policies(v, policy) for v in obj]
    return obj


@contextlib.contextmanager
def _global_policy(policy: str | None):
    import keras

    if policy is None:
        yield
        return
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


def to_mixed_precision(model, input_kind: str, input_hw=(64, 44), channels: int = 1):
    """A ``mixed_float16`` copy of ``model`` (same weights): float16 compute, float32 variables."""
    import keras

    config = _replace_dtype_policies(keras.saving.serialize_keras_object(model), "mixed_float16")
    with _global_policy("mixed_float16"):
        clone = keras.saving.deserialize_keras_object(config)
        clone(_dummy_input(input_kind, input_hw, channels), training=False)
    clone.set_weights(model.get_weights())
    return clone


def load_model_for_export(name: str, weights=None, *, preset=None, random_init: bool = False,
                          mixed_precision: bool = False, overrides: dict | None = None):
    """The Keras model to export for registry model ``name``.

    ``weights``: a ``.keras`` file (architecture + weights; ``preset``/``overrides`` are
    ignored) or a weights file (``.weights.h5``) loaded into ``create(name, preset,
    **overrides)``; for ``humanpose`` / ``gaitnn`` also a TF1 checkpoint of the original
    project (prefix with ``.index``, or a directory). Without ``weights``, ``random_init=True`` is required (testing only:
    an untrained model gives meaningless embeddings) — otherwise a :class:`ModelError`. A
    ``.keras`` file of another registry model than ``name`` is refused (:class:`ModelError`).
    """
    from gait_tf import models

    spec = models.get_spec(name)
    models.list_models()  # import every model module: registers custom Keras objects
    dummy = _dummy_input(spec.input_kind, spec.input_hw, spec.channels)
    if weights is None:
        if not random_init:
            raise ModelError(
                f"no --weights given for model {name!r}; pass a .keras / .weights.h5 file, "
                "or --random-init to export an untrained model (for testing only)")
        with _global_policy("mixed_float16" if mixed_precision else None):
            model = models.create(name, preset, **(overrides or {}))
            model(dummy, training=False)
        return model
    path = Path(weights)
    if spec.name in _TF1_NAME_MAPS and (Path(str(path) + ".index").is_file() or path.is_dir()):
        # a checkpoint of the original TF1 project (marian-margeta/gait-recognition)
        from gait_tf.pose import tf1_names

        with _global_policy("mixed_float16" if mixed_precision else None):
            model = models.create(name, preset, **(overrides or {}))
            model(dummy, training=False)
        map_fn, strict = _TF1_NAME_MAPS[spec.name]
        tf1_names.restore_tf1(getattr(tf1_names, map_fn)(model), str(path), strict=strict)
        return model
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    if path.suffix == ".keras":
        from gait_tf.evaluation.embed import model_identity
        from gait_tf.utils.keras_files import load_keras_model

        model = load_keras_model(path, "--weights", CheckpointError)  # empty / truncated / junk: named
        identity = model_identity(model)
        if identity != spec.name and identity in models.list_models():
            # the weights of another registry model exported under this name would serve wrong
            # embeddings (a model built outside the registry is exported with this name's signature)
            raise ModelError(f"--weights {path} holds a {identity!r} model, not {spec.name!r}: export it as "
                             f"`gait-tf export {identity} --weights {path}`, or pass the {spec.name} model's file")
        if mixed_precision:
            model = to_mixed_precision(model, spec.input_kind, spec.input_hw, spec.channels)
        return model
    with _global_policy("mixed_float16" if mixed_precision else None):
        model = models.create(name, preset, **(overrides or {}))
        model(dummy, training=False)
    try:
        model.load_weights(str(path))
    except Exception as exc:
        raise CheckpointError(f"cannot load weights {path} into model {name!r}: {exc}") from exc
    return model


def _model_input_hw(model):
    """``(H, W)`` of a functional model's (first) sequence input when static, e.g. a GLN built at
    128 x 88 or a GaitEdge at 64 x 64; None otherwise (subclassed models, images)."""
    try:
        inp = model.input
    except (AttributeError, ValueError):
        return None
    if isinstance(inp, dict):
        inp = inp.get("frames", next(iter(inp.values())))
    shape = getattr(inp, "shape", None)
    if shape is None or len(shape) != 5 or shape[2] is None or shape[3] is None:
        return None
    return int(shape[2]), int(shape[3])


# --------------------------------------------------------------------------- inspection

def next_version(base_dir) -> int:
    """1 + the largest integer-named subdirectory of ``base_dir`` (1 if none)."""
    base = Path(base_dir)
    versions = [int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit()] if base.is_dir() else []
    return max(versions, default=0) + 1


def list_versions(base_dir) -> list[int]:
    base = Path(base_dir)
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir()
                  if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").is_file())


def read_saved_model_proto(saved_model_dir):
    from tensorflow.core.protobuf import saved_model_pb2

    path = Path(saved_model_dir) / "saved_model.pb"
    if not path.is_file():
        raise ServingError(f"not a SavedModel directory (no saved_model.pb): {saved_model_dir}")
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(path.read_bytes())
    return proto


def saved_model_ops(saved_model_dir) -> set:
    """Every op type in a SavedModel's graph and function library."""
    ops = set()
    for mg in read_saved_model_proto(saved_model_dir).meta_graphs:
        ops.update(n.op for n in mg.graph_def.node)
        for fn in mg.graph_def.library.function:
            ops.update(n.op for n in fn.node_def)
    return ops


def cudnn_ops(saved_model_dir) -> list:
    """The cuDNN-only (``CudnnRNN*``) op types in a SavedModel, sorted."""
    return sorted(op for op in saved_model_ops(saved_model_dir) if op.startswith(CUDNN_OP_PREFIX))


def signature_defs(saved_model_dir) -> dict:
    """``{name: SignatureDef}`` of the ``serve`` meta-graph (``__saved_model_init_op`` excluded)."""
    for mg in read_saved_model_proto(saved_model_dir).meta_graphs:
        if "serve" in mg.meta_info_def.tags:
            return {k: v for k, v in mg.signature_def.items() if not k.startswith("__")}
    raise ServingError(f"SavedModel {saved_model_dir} has no 'serve' meta-graph")


def xla_functions(saved_model_dir) -> list:
    """Names of library functions marked ``_XlaMustCompile`` (exports made with ``xla=True``)."""
    names = []
    for mg in read_saved_model_proto(saved_model_dir).meta_graphs:
        for fn in mg.graph_def.library.function:
            attr = fn.attr.get("_XlaMustCompile")
            if attr is not None and attr.b:
                names.append(fn.signature.name)
    return names


def summarize_signatures(defs: dict) -> dict:
    """``{sig: {"inputs": {name: dtype}, "outputs": {name: dtype}}}`` with DT_* dtype names."""
    from tensorflow.core.framework import types_pb2

    out = {}
    for key, sig in defs.items():
        out[key] = {
            "inputs": {k: types_pb2.DataType.Name(v.dtype) for k, v in sig.inputs.items()},
            "outputs": {k: types_pb2.DataType.Name(v.dtype) for k, v in sig.outputs.items()},
        }
    return out


# --------------------------------------------------------------------------- export

def _all_layers(model):
    """``model`` and all its nested layers (wrappers such as Bidirectional included)."""
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is not None:
        return list(flatten(include_self=True, recursive=True))
    seen, stack = [], [model]  # pragma: no cover - fallback for other Keras versions
    while stack:
        layer = stack.pop()
        if any(layer is s for s in seen):
            continue
        seen.append(layer)
        stack.extend(getattr(layer, "layers", []) or [])
        for attr in ("layer", "forward_layer", "backward_layer"):
            if getattr(layer, attr, None) is not None:
                stack.append(getattr(layer, attr))
    return seen


@contextlib.contextmanager
def _rnn_device_mode(model, device: str):
    """Trace recurrent layers for ``device``: no cuDNN for "cpu", forced cuDNN for "gpu"."""
    layers = [l for l in _all_layers(model) if hasattr(l, "use_cudnn")]
    saved = [(l, l.use_cudnn) for l in layers]
    patched = None
    try:
        if device == "cpu":
            for layer in layers:
                layer.use_cudnn = False
        else:
            # Keras emits CudnnRNNV3 only if a GPU is visible at trace time; claim one so a
            # GPU export can be made on a CPU-only machine (private Keras hook, guarded).
            try:
                import importlib

                # (``keras.src.backend.tensorflow.rnn`` is shadowed by the function of that
                # name in the package namespace: import the module by its full name)
                tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
                patched = (tf_rnn, tf_rnn._is_gpu_available)
                tf_rnn._is_gpu_available = lambda: True
            except (ImportError, AttributeError):  # pragma: no cover - other Keras layout
                patched = None
        yield
    finally:
        for layer, value in saved:
            layer.use_cudnn = value
        if patched is not None:
            patched[0]._is_gpu_available = patched[1]


def export_model(model, out_dir, *, model_name: str | None = None, input_kind: str | None = None,
                 input_hw=None, version: int | None = None, device: str = "cpu",
                 mixed_precision: bool = False, xla: bool = False, warmup: bool = True,
                 write_configs: bool = True, serving_root: str = "/models",
                 version_policy: str = "latest:1", overwrite: bool = False) -> ExportResult:
    """Export ``model`` (a ``keras.Model``, or a registry name → random init, testing only)
    to ``out_dir/<version>`` for TF Serving. The served model name is ``out_dir``'s basename.

    ``model_name`` (registry name) gives the input kind and size unless ``input_kind`` /
    ``input_hw`` are given. ``mixed_precision=True`` converts a float32 model to
    ``mixed_float16`` (outputs stay float32). ``xla=True`` compiles the model call with
    XLA (``jit_compile=True``). Returns an :class:`ExportResult`.
    """
    import tensorflow as tf

    from gait_tf import __version__
    from gait_tf import models as registry
    from gait_tf.serving import model_config, warmup as warmup_mod
    from gait_tf.serving.signatures import build_serving_module
    from gait_tf.utils.atomic import atomic_path

    if device not in ("cpu", "gpu"):
        raise ServingError(f"--device must be 'cpu' or 'gpu', got {device!r}")
    out_dir = Path(out_dir)
    served_name = out_dir.name
    if not _NAME_RE.match(served_name):
        raise ServingError(f"bad served model name {served_name!r} (from --out {out_dir}): use letters, digits, _.-")
    if isinstance(model, str):
        model_name = model_name or model
        model = load_model_for_export(model, random_init=True, mixed_precision=mixed_precision)
    spec = registry.get_spec(model_name) if model_name else None
    input_kind = input_kind or (spec.input_kind if spec else None)
    if input_kind is None:
        raise ServingError("export_model needs model_name (a registry name) or input_kind")
    input_hw = tuple(input_hw or _model_input_hw(model) or (spec.input_hw if spec else (64, 44)))
    channels = spec.channels if spec else 1
    if mixed_precision and getattr(getattr(model, "dtype_policy", None), "name", "") != "mixed_float16":
        model = to_mixed_precision(model, input_kind, input_hw, channels)

    if version is None:
        version = next_version(out_dir)
    version = int(version)
    if version < 1:
        raise ServingError(f"--version must be a positive integer, got {version}")
    target = out_dir / str(version)
    if target.exists() and not overwrite:
        raise ServingError(f"version {version} of {served_name!r} already exists: {target} "
                           "(omit --version for the next one)")

    with _rnn_device_mode(model, device):
        module, signatures = build_serving_module(model, input_kind, input_hw=input_hw, xla=xla)
        # trace now, inside the device mode
        concrete = {k: f.get_concrete_function() for k, f in signatures.items()}
        requests = warmup_mod.example_inputs(input_kind, input_hw=input_hw) if warmup else []
        with atomic_path(target) as tmp:
            try:
                tf.saved_model.save(module, str(tmp), signatures=concrete)
            except Exception as exc:
                raise ServingError(f"cannot export {served_name!r} ({input_kind} model): {exc}") from exc
            found = cudnn_ops(tmp)
            if device == "cpu" and found:
                raise ServingError(f"CPU export of {served_name!r} contains cuDNN-only ops {found}")
            if xla and found:
                raise ServingError(f"--xla cannot be combined with cuDNN RNN kernels ({found}) in {served_name!r}: "
                                   "XLA cannot compile them; use --device cpu --xla, or --device gpu without --xla")
            if requests:
                warmup_mod.write_warmup_requests(tmp, served_name, requests)
            defs = summarize_signatures(signature_defs(tmp))
            manifest = {
                "served_name": served_name, "model_name": model_name, "input_kind": input_kind,
                "input_hw": list(input_hw), "version": version, "device": device,
                "mixed_precision": bool(mixed_precision), "xla": bool(xla), "signatures": defs,
                "gait_tf_version": __version__,
            }
            (tmp / MANIFEST_RELPATH).parent.mkdir(parents=True, exist_ok=True)
            (tmp / MANIFEST_RELPATH).write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    config_path = batching_path = None
    if write_configs:
        config_path = out_dir.parent / "models.config"
        model_config.update_models_config(config_path, served_name, f"{serving_root.rstrip('/')}/{served_name}",
                                          version_policy=version_policy)
        batching_path = out_dir.parent / "batching.config"
        model_config.write_batching_config(batching_path)
    return ExportResult(
        served_name=served_name, input_kind=input_kind, version=version, path=target, signatures=defs,
        device=device, mixed_precision=bool(mixed_precision), xla=bool(xla), cudnn_ops=found,
        warmup_requests=len(requests), models_config=config_path, batching_config=batching_path)


def read_manifest(saved_model_dir) -> dict:
    """The export manifest of a SavedModel written by :func:`export_model` ({} if none)."""
    path = Path(saved_model_dir) / MANIFEST_RELPATH
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


__all__ = [
    "ExportResult", "export_model", "load_model_for_export", "to_mixed_precision", "next_version",
    "list_versions", "saved_model_ops", "cudnn_ops", "signature_defs", "summarize_signatures",
    "xla_functions", "read_manifest",
]
