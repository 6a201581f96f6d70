"""``gait-tf convert``: import a PyTorch (OpenGait) checkpoint into a Keras ``.keras`` model."""
from __future__ import annotations

import json


def _parse_override(text):
    import yaml

    from gait_tf.errors import ConfigError

    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE (VALUE in YAML, e.g. channels=[32,64,128])")
    key, value = text.split("=", 1)
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: bad value: {exc}") from exc
    if isinstance(parsed, list):
        parsed = tuple(parsed)
    return key.strip(), parsed


def register(subparsers):
    from gait_tf.convert.common import CONVERTERS  # light: numpy only

    p = subparsers.add_parser(
        "convert",
        help="convert an OpenGait PyTorch checkpoint to a Keras .keras model",
        description="Load an OpenGait checkpoint (torch.save dict with a 'model' state_dict) into the "
        "gait_tf Keras port of the same model and save it as a .keras file. Needs torch "
        "(pip install gait_tf[convert]).",
    )
    p.add_argument("--model", required=True, help=f"model name ({', '.join(sorted(CONVERTERS))})")
    p.add_argument("--preset", default=None, help="model preset (default: the model's default, e.g. casia_b)")
    p.add_argument("--opengait-config", default=None, metavar="CONFIG.yaml",
                   help="the OpenGait YAML the checkpoint was trained with: the model is built from its model_cfg "
                   "(and its input size from the transforms); excludes --preset")
    p.add_argument("--checkpoint", required=True, help="OpenGait .pt checkpoint")
    p.add_argument("--out", required=True, help="output .keras file (written atomically)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a model config entry (repeatable), e.g. --set class_num=100",
    )
    p.set_defaults(func=run)


def run(args):
    import os
    import shutil
    from pathlib import Path

    from gait_tf.errors import ConfigError

    out = Path(args.out)
    if out.suffix != ".keras":
        raise ConfigError(f"--out {args.out!r}: the output file must end in .keras")
    overrides = dict(_parse_override(t) for t in args.overrides)
    notes = []
    preset = args.preset
    if args.opengait_config is not None:
        if args.preset is not None:
            raise ConfigError("--opengait-config builds the model from the YAML: drop --preset")
        from gait_tf.convert.opengait_config import builder_config

        from_yaml, notes = builder_config(args.opengait_config, args.model)
        overrides = {**from_yaml, **overrides}
        preset = None  # the model's default preset, every architecture key overridden by the YAML

    from gait_tf import models
    from gait_tf.convert import CONVERTERS, convert_checkpoint
    from gait_tf.errors import ModelError
    from gait_tf.models.blocks import count_parameters
    from gait_tf.utils.atomic import atomic_path, make_temp_dir

    # the model name and preset first: reading a checkpoint (torch) takes seconds
    if args.model.lower() not in CONVERTERS:
        raise ModelError(f"--model {args.model!r}: no PyTorch converter for this model; supported: "
                         f"{', '.join(sorted(CONVERTERS))}")
    models.get_spec(args.model).config_for(preset)  # unknown preset -> ModelError naming it
    model, info = convert_checkpoint(args.checkpoint, model=args.model, preset=preset, return_info=True,
                                     infer=args.opengait_config is None, **overrides)
    notes += info["notes"]
    tmpdir = make_temp_dir(out)  # next to the output (same filesystem); stale ones removed first
    try:
        staged = os.path.join(tmpdir, "model.keras")
        model.save(staged)
        with atomic_path(out) as tmp:
            shutil.move(staged, tmp)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    print(json.dumps({
        "model": args.model,
        "preset": args.preset,
        "opengait_config": args.opengait_config,
        "checkpoint": str(args.checkpoint),
        "out": str(out),
        "parameters": count_parameters(model),
        "outputs": sorted(model.output.keys()) if isinstance(model.output, dict) else None,
        "config": _jsonable(info["config"]),
        "notes": notes,
    }))
    return 0


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
