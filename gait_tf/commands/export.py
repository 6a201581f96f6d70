"""``gait-tf export``: a trained model -> versioned TF Serving SavedModel, ONNX or LiteRT.

``--format savedmodel`` (default): the TF Serving layout below. ``--format onnx`` /
``--format litert`` (``--quantize float32|int8``): one verified file at ``--out``
(docs/serving.md, "ONNX and LiteRT").

Writes ``OUT/<version>/`` (next integer version by default, written atomically), its
warm-up requests, and updates ``<OUT parent>/models.config`` (+ ``batching.config`` if
missing). Signatures and their input/output names are documented in docs/serving.md.

Without ``--weights`` the command refuses to export (an untrained model gives
meaningless embeddings) unless ``--random-init`` is given (for testing the serving path).
"""
from __future__ import annotations

import json

from gait_tf.argtypes import non_negative_int


def _parse_overrides(items):
    from gait_tf.errors import ConfigError

    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def register(subparsers):
    p = subparsers.add_parser(
        "export",
        help="export a model as a versioned TF Serving SavedModel (+ warm-up, models.config, batching.config)",
        description=__doc__,
    )
    p.add_argument("model", metavar="MODEL", nargs="?", default="default",
                   help="registered model name (gait_tf.models.list_models()), or 'default' (the default when "
                        "left out): the shipped default model (gait_tf.pretrained)")
    p.add_argument("--weights", default=None, help="a .keras model file or a .weights.h5 weights file")
    p.add_argument("--random-init", action="store_true", help="export untrained weights (testing only)")
    p.add_argument("--preset", default=None, help="model preset when building from the registry (with .weights.h5)")
    p.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE",
                   help="model config override when building from the registry (repeatable; JSON values)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="saved_models/NAME: NAME is the served model name; versions go in DIR/<N> "
                   "(--format onnx/litert: the .onnx/.tflite file)")
    p.add_argument("--version", type=non_negative_int, default=None, help="version number (default: next integer)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --version (or --out file)")
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu",
                   help="cpu (default): portable graph, no cuDNN-only ops; gpu: cuDNN RNN kernels, GPU-only")
    p.add_argument("--mixed-precision", action="store_true", help="float16 compute (float32 outputs); for GPU")
    p.add_argument("--xla", action="store_true", help="compile the model call with XLA (jit_compile=True)")
    p.add_argument("--no-warmup", action="store_true", help="do not write assets.extra/tf_serving_warmup_requests")
    p.add_argument("--no-config", action="store_true", help="do not touch models.config / batching.config")
    p.add_argument("--serving-root", default="/models",
                   help="directory of the models inside the serving container, for models.config (default /models)")
    p.add_argument("--version-policy", default="latest:1",
                   help="models.config model_version_policy: latest:N | all | specific:V1,V2 (default latest:1)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the export summary as JSON")
    from gait_tf.commands._export_formats import add_format_arguments

    add_format_arguments(p)
    p.set_defaults(func=run)


def run(args):
    if args.format != "savedmodel":
        from gait_tf.commands._export_formats import run_format

        return run_format(args, _parse_overrides(args.overrides))
    from gait_tf.serving.export import export_model, load_model_for_export
    from gait_tf.serving.model_config import version_policy_text
    from gait_tf.utils.atomic import atomic_write

    version_policy_text(args.version_policy)  # validate before the (slow) model load
    from gait_tf import pretrained

    if pretrained.is_default(args.model):
        from gait_tf.errors import ConfigError

        if args.weights or args.random_init or args.preset or args.overrides:
            raise ConfigError(f"model {args.model!r} is the shipped default model: --weights, --random-init, "
                              "--preset and --set are for registry models")
        model, spec_name = pretrained.load(args.model), pretrained.card(args.model)["family"]
    else:
        model = load_model_for_export(args.model, args.weights, preset=args.preset, random_init=args.random_init,
                                      mixed_precision=args.mixed_precision,
                                      overrides=_parse_overrides(args.overrides))
        spec_name = args.model
    result = export_model(
        model, args.out, model_name=spec_name, version=args.version, device=args.device,
        mixed_precision=args.mixed_precision, xla=args.xla, warmup=not args.no_warmup,
        write_configs=not args.no_config, serving_root=args.serving_root,
        version_policy=args.version_policy, overwrite=args.overwrite)
    print(f"exported {result.served_name!r} version {result.version} -> {result.path}")
    print(f"  input kind {result.input_kind}, device {result.device}, mixed precision {result.mixed_precision}, "
          f"XLA {result.xla}, cuDNN ops {result.cudnn_ops or 'none'}, warm-up requests {result.warmup_requests}")
    for name, sig in sorted(result.signatures.items()):
        ins = ", ".join(f"{k}:{v}" for k, v in sig["inputs"].items())
        outs = ", ".join(f"{k}:{v}" for k, v in sig["outputs"].items())
        print(f"  signature {name}: ({ins}) -> ({outs})")
    if result.models_config:
        print(f"  updated {result.models_config}; batching parameters in {result.batching_config}")
    if args.json:
        with atomic_write(args.json, "w", encoding="utf-8") as fh:
            json.dump(result.to_dict(), fh, indent=2)
    return 0
