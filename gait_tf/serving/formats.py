"""ONNX and LiteRT (``.tflite``) export of any registry model, verified before it is kept.

``export_onnx(model, "gaitset.onnx", model_name="gaitset")`` converts the portable graph
(:mod:`gait_tf.serving.portable`: float32 input, dynamic batch and frame axes) with
tf2onnx, writes it to a hidden temporary file next to the target, runs it with
onnxruntime on inputs of two shapes (batch 1 × 30 frames, batch 3 × 9 frames), compares
every output with TensorFlow (max abs difference <= ``atol``, 1e-4 by default) and checks
that the batch and frame axes are symbolic (``batch``, ``frames``); only then is the file
renamed into place. ``export_litert`` does the same with the TFLite converter and the
LiteRT interpreter (``ai_edge_litert``): ``quantize="float32"`` (same 1e-4 check) or
``"int8"`` (post-training quantization of weights and activations, calibrated on
representative inputs — synthetic walkers by default; inputs and outputs stay float32;
checked by the cosine similarity of the embeddings to TensorFlow's, >= ``min_cosine``).

A model or format that cannot be exported raises :class:`ServingError` with one line
saying why (e.g. an op LiteRT's built-in op set lacks); no file is left behind.
"""
from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from gait_tf.errors import GaitTFError, ServingError
from gait_tf.serving import portable

FORMATS = ("savedmodel", "onnx", "litert")
QUANTIZATIONS = ("float32", "int8")
SUFFIX = {"onnx": ".onnx", "litert": ".tflite"}
DEFAULT_ATOL = 1e-4
DEFAULT_MIN_COSINE = 0.99
ONNX_OPSET = 17


@dataclasses.dataclass
class FormatExport:
    """What :func:`export_onnx` / :func:`export_litert` wrote and how it was verified."""

    format: str
    quantize: str
    path: Path
    size_bytes: int
    input_name: str
    input_shape: list  # None = dynamic
    outputs: list
    max_abs_diff: float  # over all outputs and verification inputs, vs TensorFlow
    min_cosine: float  # of the embedding outputs, vs TensorFlow
    verified_shapes: list
    seconds: float
    scheme: str = ""  # how it was quantized ("" for float32)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["path"] = str(self.path)
        return d


def _first_line(exc) -> str:
    """The most telling line of a converter error (they are pages long)."""
    text = str(exc)
    ops = sorted(set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", text)))
    if ops:
        return f"ops not in LiteRT's built-in op set: {', '.join(ops)} (they would need the TF Select/Flex delegate)"
    op_error = re.search(r"('tf\.\w+' op [^\n]*)", text)
    if op_error:
        hint = " (a recurrent layer whose step shape is not static)" if "TensorList" in op_error.group(1) else ""
        return op_error.group(1)[:300] + hint
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("<unknown>", "^", "note:", "loc(")):
            return f"{type(exc).__name__}: {line[:300]}"
    return type(exc).__name__


def _resolve(model, model_name, input_kind, input_hw, channels):
    from gait_tf import models as registry
    from gait_tf.serving.export import load_model_for_export

    if isinstance(model, str):
        model_name = model_name or model
        model = load_model_for_export(model, random_init=True)
    spec = registry.get_spec(model_name) if model_name else None
    input_kind = input_kind or (spec.input_kind if spec else None)
    if input_kind is None:
        raise ServingError("export needs model_name (a registry name) or input_kind")
    input_hw = tuple(input_hw or (spec.input_hw if spec else (64, 44)))
    channels = channels or (spec.channels if spec else 1)
    return model, model_name or getattr(model, "name", "model"), input_kind, input_hw, channels


def _check_target(path: Path, fmt: str, overwrite: bool) -> Path:
    path = Path(path)
    if path.is_dir():
        raise ServingError(f"--out {path} is a directory; give the {SUFFIX[fmt]} file to write")
    if path.exists() and not overwrite:
        raise ServingError(f"{path} already exists (pass --overwrite to replace it)")
    return path


def _compare(got: dict, ref: dict, what: str):
    """(max abs diff, min cosine of the embedding outputs — of all outputs for models
    without one, such as pose heat maps) of ``got`` vs ``ref``."""
    worst, cos = 0.0, 1.0
    keys = [k for k in ref if k in ("embedding", "embeddings", "identification")] or list(ref)  # e.g. heat maps
    for key, r in ref.items():
        if key not in got:
            raise ServingError(f"{what}: output {key!r} missing (has {sorted(got)})")
        g = np.asarray(got[key], np.float32)
        if g.shape != r.shape:
            raise ServingError(f"{what}: output {key!r} has shape {g.shape}, TensorFlow gives {r.shape}")
        if not np.all(np.isfinite(g)):
            raise ServingError(f"{what}: output {key!r} contains NaN or infinite values")
        worst = max(worst, float(np.abs(g - r).max()) if r.size else 0.0)
        if key in keys:
            a, b = g.reshape(len(g), -1), r.reshape(len(r), -1)
            num = (a * b).sum(1)
            den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
            cos = min(cos, float(np.min(num / np.maximum(den, 1e-12))))
    return worst, cos


def _reference(fn, inputs):
    return [{k: v.numpy() for k, v in fn(x).items()} for x in inputs]


# ----------------------------------------------------------------------------- ONNX

def export_onnx(model, path, *, model_name: str | None = None, input_kind: str | None = None, input_hw=None,
                channels: int | None = None, opset: int = ONNX_OPSET, atol: float = DEFAULT_ATOL,
                overwrite: bool = False) -> FormatExport:
    """Export ``model`` (a ``keras.Model`` or a registry name → random init) to ONNX at
    ``path``, verified with onnxruntime (see the module docstring)."""
    t0 = time.time()
    path = _check_target(path, "onnx", overwrite)
    model, name, input_kind, input_hw, channels = _resolve(model, model_name, input_kind, input_hw, channels)
    try:
        import onnx
        import tf2onnx
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise ServingError(f"ONNX export needs tf2onnx and onnx ({exc})") from exc
    from gait_tf.serving.export import _rnn_device_mode
    from gait_tf.utils.atomic import atomic_path

    with _rnn_device_mode(model, "cpu"):
        fn = portable.portable_function(model, input_kind, input_hw, channels)
        try:
            proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=opset)
        except GaitTFError:
            raise
        except Exception as exc:
            raise ServingError(f"ONNX: cannot convert {name!r}: {_first_line(exc)}") from exc
    axes = portable.dynamic_axes(input_kind)
    for dim_i, dim in enumerate(proto.graph.input[0].type.tensor_type.shape.dim):
        if dim_i in axes:
            dim.dim_param = axes[dim_i]
    for out in proto.graph.output:
        dims = out.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"
    inputs = portable.example_inputs(input_kind, input_hw, channels)
    refs = _reference(fn, inputs)
    with atomic_path(path, suffix=".onnx") as tmp:
        tmp.write_bytes(proto.SerializeToString())
        try:
            onnx.checker.check_model(str(tmp))
        except Exception as exc:
            raise ServingError(f"ONNX: {name!r} fails the ONNX checker: {_first_line(exc)}") from exc
        worst, cos, info = verify_onnx(tmp, inputs, refs, name=name, input_kind=input_kind)
        if worst > atol:
            raise ServingError(f"ONNX: {name!r} differs from TensorFlow by {worst:.2e} > {atol:g} (not written)")
    return FormatExport(format="onnx", quantize="float32", path=path, size_bytes=path.stat().st_size,
                        input_name=info["input_name"], input_shape=info["input_shape"], outputs=info["outputs"],
                        max_abs_diff=worst, min_cosine=cos, verified_shapes=[list(x.shape) for x in inputs],
                        seconds=round(time.time() - t0, 2))


def onnx_session(path, threads: int = 0):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def verify_onnx(path, inputs, refs, *, name="model", input_kind="silhouette"):
    """Run the ONNX file on ``inputs``; returns ``(max abs diff, min cosine, info)``."""
    try:
        sess = onnx_session(path)
    except Exception as exc:
        raise ServingError(f"ONNX: onnxruntime cannot load {name!r}: {_first_line(exc)}") from exc
    inp = sess.get_inputs()[0]
    for axis, axis_name in portable.dynamic_axes(input_kind).items():
        if not isinstance(inp.shape[axis], str):
            raise ServingError(f"ONNX: input axis {axis} ({axis_name}) of {name!r} is fixed to {inp.shape[axis]}")
    outs = [o.name for o in sess.get_outputs()]
    worst, cos = 0.0, 1.0
    for x, ref in zip(inputs, refs):
        try:
            got = dict(zip(outs, sess.run(None, {inp.name: x})))
        except Exception as exc:
            raise ServingError(f"ONNX: onnxruntime fails on {name!r} input {x.shape}: {_first_line(exc)}") from exc
        w, c = _compare(got, ref, f"ONNX {name!r} input {x.shape}")
        worst, cos = max(worst, w), min(cos, c)
    return worst, cos, {"input_name": inp.name, "input_shape": [d if isinstance(d, int) else None for d in inp.shape],
                        "outputs": outs}


# ----------------------------------------------------------------------------- LiteRT

def _litert_converter(fn, workdir: Path):
    """A TFLite converter for ``fn`` with its variables folded into constants.

    (Keras 3 variables would otherwise stay resource variables — ``VAR_HANDLE`` ops with
    no values in the flatbuffer.) The frozen graph goes through a variable-free SavedModel
    in ``workdir`` so that the ``serving_default`` signature keeps its output names.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    concrete = fn.get_concrete_function()
    keys = list(tf.nest.flatten({k: k for k in concrete.structured_outputs}))  # the outputs' flat order
    frozen = convert_variables_to_constants_v2(concrete)

    @tf.function(input_signature=fn.input_signature, autograph=False)
    def serving_default(x):
        out = frozen(x)
        return out if isinstance(out, dict) else dict(zip(keys, tf.nest.flatten(out)))

    module = tf.Module()
    module.serving_default = serving_default
    tf.saved_model.save(module, str(workdir), signatures={"serving_default": serving_default})
    return tf.lite.TFLiteConverter.from_saved_model(str(workdir), signature_keys=["serving_default"])


@contextlib.contextmanager
def _separable_max_pool3d(model):
    """Trace ``MaxPooling3D`` layers (channels-last) as two 2-D max pools, which LiteRT has
    built in (it has no 3-D pooling): a box maximum is separable, so pooling each frame over
    ``(kh, kw)`` and then the frames over ``kt`` (a 2-D pool of kernel ``(kt, 1)`` on
    ``[B, T, H'*W', C]``) gives exactly ``max_pool3d`` for "valid" and "same" padding."""
    import keras
    import tensorflow as tf

    from gait_tf.serving.export import _all_layers

    def pool(layer):
        (kt, kh, kw), (st, sh, sw) = tuple(layer.pool_size), tuple(layer.strides)
        pad = layer.padding.upper()

        def call(x):
            shape = tf.shape(x)
            b, t, c = shape[0], shape[1], x.shape[-1]
            y = tf.reshape(x, tf.concat([[-1], shape[2:]], 0))
            if (kh, kw, sh, sw) != (1, 1, 1, 1):
                y = tf.nn.max_pool2d(y, (kh, kw), (sh, sw), pad)
            h2, w2 = y.shape[1], y.shape[2]
            y = tf.reshape(y, [b, t, h2 * w2, c])
            if (kt, st) != (1, 1):
                y = tf.nn.max_pool2d(y, (kt, 1), (st, 1), pad)
            return tf.reshape(y, [b, tf.shape(y)[1], h2, w2, c])

        return call

    patched = []
    for layer in _all_layers(model):
        if (isinstance(layer, keras.layers.MaxPooling3D) and layer.data_format == "channels_last"
                and "call" not in vars(layer)):
            layer.call = pool(layer)
            patched.append(layer)
    try:
        yield len(patched)
    finally:
        for layer in patched:
            del layer.call


#: ops left in float32 in int8 models: an int8 DIV fails when its divisor rounds to the zero
#: point (GeM pooling divides by a running maximum) and fractional POWs lose the precision
#: that GeM's p-th root needs; both are cheap next to the convolutions.
INT8_FLOAT_OPS = ("DIV", "POW")


def _quantize_int8(calibrated: bytes) -> bytes:
    """int8 weights and activations (per-channel weights), float32 inputs/outputs, with
    :data:`INT8_FLOAT_OPS` kept in float."""
    from tensorflow.lite.python.convert import mlir_quantize

    return mlir_quantize(calibrated, denylisted_ops=list(INT8_FLOAT_OPS))


def _is_batch_static_failure(exc) -> bool:
    """Converter errors that a fixed batch size avoids (e.g. a Keras LSTM's TensorList
    needs a static element shape ``[batch, units]``)."""
    return "element_shape to be static" in str(exc)


def export_litert(model, path, *, model_name: str | None = None, input_kind: str | None = None, input_hw=None,
                  channels: int | None = None, quantize: str = "float32", calibration=None,
                  calibration_sequences: int = 32, atol: float = DEFAULT_ATOL,
                  min_cosine: float = DEFAULT_MIN_COSINE, overwrite: bool = False) -> FormatExport:
    """Export ``model`` to a LiteRT flatbuffer at ``path``, verified with the LiteRT
    interpreter. ``quantize="int8"``: ``calibration`` is a list of representative inputs
    (default: ``calibration_sequences`` of :func:`gait_tf.serving.portable.synthetic_calibration`;
    not needed for recurrent models, which get dynamic-range quantization)."""
    import tensorflow as tf

    from gait_tf.serving.export import _rnn_device_mode
    from gait_tf.utils.atomic import atomic_path

    t0 = time.time()
    if quantize not in QUANTIZATIONS:
        raise ServingError(f"unknown LiteRT quantization {quantize!r}; choose one of {', '.join(QUANTIZATIONS)}")
    path = _check_target(path, "litert", overwrite)
    model, name, input_kind, input_hw, channels = _resolve(model, model_name, input_kind, input_hw, channels)
    import keras

    from gait_tf.serving.export import _all_layers

    # TF's int8 calibrator crashes (segfault) on the While loop of a recurrent layer: such
    # models get dynamic-range quantization instead (int8 weights, activations quantized on
    # the fly per inference), which needs no calibration.
    recurrent = any(isinstance(layer, keras.layers.RNN) for layer in _all_layers(model))
    samples = None
    if quantize == "int8" and not recurrent:
        if calibration is None:
            calibration = portable.synthetic_calibration(input_kind, input_hw, channels,
                                                         sequences=calibration_sequences)
        samples = [np.asarray(s, np.float32) for s in calibration]
        if not samples:
            raise ServingError("int8 calibration needs at least one representative input")
    scheme = "" if quantize == "float32" else (
        "dynamic range: int8 weights (recurrent layers cannot be calibrated)" if recurrent
        else f"int8 weights and activations, calibrated on {len(samples)} inputs; {'/'.join(INT8_FLOAT_OPS)} in float")

    def convert(batch):
        fn = portable.portable_function(model, input_kind, input_hw, channels, batch=batch)
        workdir = Path(tempfile.mkdtemp(prefix=".gait_tf_litert_", dir=path.parent if path.parent.is_dir() else None))
        try:
            converter = _litert_converter(fn, workdir)
            if quantize == "float32":
                return fn, converter.convert()
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            if recurrent:
                return fn, converter.convert()
            converter.representative_dataset = lambda: ([s[:1] if batch else s] for s in samples)
            converter._experimental_calibrate_only = True  # calibrate, then quantize with a denylist
            return fn, _quantize_int8(converter.convert())
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    batch = None
    with _rnn_device_mode(model, "cpu"), _separable_max_pool3d(model):
        try:
            try:
                fn, flatbuffer = convert(None)
            except Exception as exc:
                if not _is_batch_static_failure(exc):
                    raise
                batch = 1  # dynamic frames, batch fixed to 1 (the usual on-device case)
                fn, flatbuffer = convert(batch)
        except GaitTFError:
            raise
        except Exception as exc:
            raise ServingError(f"LiteRT: cannot convert {name!r}: {_first_line(exc)}") from exc
    shapes = ((1, 30), (1, 9)) if batch else ((1, 30), (3, 9))
    inputs = portable.example_inputs(input_kind, input_hw, channels, shapes=shapes)
    # the reference is the unmodified model (the layers are traced again without the rewrite)
    refs = _reference(portable.portable_function(model, input_kind, input_hw, channels), inputs)
    with atomic_path(path, suffix=".tflite") as tmp:
        tmp.write_bytes(flatbuffer)
        worst, cos, info = verify_litert(tmp, inputs, refs, name=name)
        if quantize == "float32" and worst > atol:
            raise ServingError(f"LiteRT: {name!r} differs from TensorFlow by {worst:.2e} > {atol:g} (not written)")
        if quantize == "int8" and cos < min_cosine:
            raise ServingError(f"LiteRT int8: {name!r} embeddings have cosine similarity {cos:.4f} < {min_cosine} "
                               "to TensorFlow's (not written; calibrate on more representative data)")
    return FormatExport(format="litert", quantize=quantize, path=path, size_bytes=path.stat().st_size,
                        input_name=info["input_name"], input_shape=info["input_shape"], outputs=info["outputs"],
                        max_abs_diff=worst, min_cosine=cos, verified_shapes=[list(x.shape) for x in inputs],
                        seconds=round(time.time() - t0, 2), scheme=scheme)


class LiteRTRunner:
    """Calls a ``.tflite`` file's ``serving_default`` signature: ``runner(x) -> {name: array}``.

    Resizes the (dynamic) input for each new shape, as the signature runner needs.
    """

    def __init__(self, path, threads: int = 0):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=int(threads) if threads else None)
        sigs = self.interpreter.get_signature_list()
        if "serving_default" not in sigs:
            raise ServingError(f"{path}: no serving_default signature (has {sorted(sigs)})")
        self.input_name = sigs["serving_default"]["inputs"][0]
        self.outputs = list(sigs["serving_default"]["outputs"])
        self.runner = self.interpreter.get_signature_runner("serving_default")
        self.input_details = self.runner.get_input_details()[self.input_name]

    def __call__(self, x):
        return self.runner(**{self.input_name: np.asarray(x, np.float32)})


def verify_litert(path, inputs, refs, *, name="model"):
    """Run the ``.tflite`` file on ``inputs``; returns ``(max abs diff, min cosine, info)``."""
    try:
        runner = LiteRTRunner(path)
    except GaitTFError:
        raise
    except Exception as exc:
        raise ServingError(f"LiteRT: the interpreter cannot load {name!r}: {_first_line(exc)}") from exc
    worst, cos = 0.0, 1.0
    for x, ref in zip(inputs, refs):
        try:
            got = runner(x)
        except Exception as exc:
            raise ServingError(f"LiteRT: the interpreter fails on {name!r} input {x.shape}: {_first_line(exc)}") from exc
        w, c = _compare(got, ref, f"LiteRT {name!r} input {x.shape}")
        worst, cos = max(worst, w), min(cos, c)
    sig = [int(d) for d in runner.input_details["shape_signature"]]
    return worst, cos, {"input_name": runner.input_name, "input_shape": [None if d < 0 else d for d in sig],
                        "outputs": runner.outputs}


def export_format(model, fmt: str, path, *, quantize: str = "float32", **kwargs) -> FormatExport:
    """Dispatch to :func:`export_onnx` / :func:`export_litert` (``fmt`` "onnx" | "litert")."""
    if fmt == "onnx":
        if quantize != "float32":
            raise ServingError(f"--quantize {quantize} applies to --format litert only")
        for key in ("calibration", "calibration_sequences", "min_cosine"):
            kwargs.pop(key, None)
        return export_onnx(model, path, **kwargs)
    if fmt == "litert":
        return export_litert(model, path, quantize=quantize, **kwargs)
    raise ServingError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "QUANTIZATIONS", "FormatExport", "export_onnx", "export_litert", "export_format",
           "verify_onnx", "verify_litert", "onnx_session", "LiteRTRunner"]
