"""``gait-tf export --format onnx|litert``: the options and the handler (used by
:mod:`gait_tf.commands.export`)."""
from __future__ import annotations

import math

from gait_tf.argtypes import positive_float, positive_int, probability

#: SavedModel-only options and their defaults: refused with another format
_SAVEDMODEL_ONLY = {"version": None, "device": "cpu", "mixed_precision": False, "xla": False, "no_warmup": False,
                    "no_config": False}


def add_format_arguments(p):
    from gait_tf.serving.formats import FORMATS, QUANTIZATIONS

    p.add_argument("--format", choices=FORMATS, default="savedmodel",
                   help="savedmodel (TF Serving, default) | onnx (verified with onnxruntime) | "
                   "litert (.tflite, verified with the LiteRT interpreter)")
    p.add_argument("--quantize", choices=QUANTIZATIONS, default="float32",
                   help="litert: float32 (default) or int8 (post-training, calibrated on representative inputs)")
    p.add_argument("--calibration-data", default=None, metavar="FILE",
                   help="int8: .npy/.npz of model inputs [N, frames, H, W, C] (default: synthetic walkers)")
    p.add_argument("--calibration-sequences", type=positive_int, default=32,
                   help="int8: synthetic calibration sequences when no --calibration-data (default 32)")
    p.add_argument("--atol", type=positive_float, default=1e-4,
                   help="onnx / litert float32: largest accepted |difference| to TensorFlow (default 1e-4)")
    p.add_argument("--min-cosine", type=probability, default=0.99,
                   help="litert int8: smallest accepted cosine similarity of the embeddings to TensorFlow's")


def run_format(args, overrides):
    from gait_tf.errors import ConfigError
    from gait_tf.serving import formats, portable
    from gait_tf.serving.export import load_model_for_export
    from gait_tf.utils.atomic import write_json

    for key, default in _SAVEDMODEL_ONLY.items():
        if getattr(args, key, default) != default:
            raise ConfigError(f"--{key.replace('_', '-')} applies to --format savedmodel only")
    if args.quantize != "float32" and args.format != "litert":
        raise ConfigError(f"--quantize {args.quantize} applies to --format litert only")
    if not (math.isfinite(args.atol) and args.atol > 0):
        raise ConfigError(f"--atol must be a positive number, got {args.atol}")
    if not -1.0 <= args.min_cosine <= 1.0:
        raise ConfigError(f"--min-cosine must be in [-1, 1], got {args.min_cosine}")
    if args.calibration_sequences < 1:
        raise ConfigError(f"--calibration-sequences must be >= 1, got {args.calibration_sequences}")
    from pathlib import Path

    out = Path(args.out)
    if out.suffix != formats.SUFFIX[args.format]:
        raise ConfigError(f"--out {out}: a --format {args.format} file must end in {formats.SUFFIX[args.format]}")
    if out.exists() and not args.overwrite:
        raise ConfigError(f"--out {out} already exists (pass --overwrite to replace it)")
    from gait_tf import models

    spec = models.get_spec(args.model)  # unknown names fail here, before the slow parts
    calibration = None
    if args.quantize == "int8" and args.calibration_data:
        calibration = portable.load_calibration_data(args.calibration_data, spec.input_kind, spec.input_hw,
                                                     spec.channels)
    model = load_model_for_export(args.model, args.weights, preset=args.preset, random_init=args.random_init,
                                  overrides=overrides)
    result = formats.export_format(model, args.format, out, model_name=spec.name, quantize=args.quantize,
                                   calibration=calibration, calibration_sequences=args.calibration_sequences,
                                   atol=args.atol, min_cosine=args.min_cosine,
                                   overwrite=args.overwrite)
    shape = "[" + ", ".join("?" if d is None else str(d) for d in result.input_shape) + "]"
    print(f"exported {spec.name!r} as {args.format} ({result.quantize}) -> {result.path} "
          f"({result.size_bytes / 2**20:.2f} MiB)")
    print(f"  input {result.input_name} float32 {shape}; outputs {', '.join(result.outputs)}")
    if result.scheme:
        print(f"  quantization: {result.scheme}")
    print(f"  verified on inputs {result.verified_shapes}: max |diff| vs TensorFlow {result.max_abs_diff:.2e}, "
          f"embedding cosine >= {result.min_cosine:.5f}")
    if args.json:
        write_json(args.json, {"model_name": spec.name, **result.to_dict()})
    return 0
