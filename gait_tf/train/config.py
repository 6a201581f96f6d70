"""Training configuration: YAML schema, defaults, ``--set`` overrides and validation.

A config is a YAML mapping with the sections below (all keys optional except
``model.name`` and one data source). Unknown keys and bad values raise
:class:`~gait_tf.errors.ConfigError` naming the dotted key (``optimizer.lr``,
``losses[1].label_smoothing``). See ``docs/training.md`` for the reference.
"""
from __future__ import annotations

import copy
import math
from pathlib import Path

from gait_tf.errors import ConfigError

REQUIRED = object()
ANY_MAPPING = object()  # a free-form mapping (validated by the consumer)

#: Default values; ``REQUIRED`` marks mandatory keys, ``ANY_MAPPING`` free-form mappings.
SCHEMA = {
    "name": None,  # run name (default: the config file's stem)
    "seed": 0,
    "model": {
        "name": REQUIRED,  # a gait_tf.models registry name
        "preset": None,  # registry preset (None: the model's default)
        "overrides": ANY_MAPPING,  # builder kwargs over the preset
        "init_weights": None,  # .keras file: copy weights of same-named layers (fresh runs only)
    },
    "data": {
        "root": None,  # dataset root on disk (layout below)
        "layout": "opengait",  # opengait | casia_b | oumvlp | auto
        "synthetic": None,  # mapping: generate the built-in synthetic set (gait_tf.synth)
        "random": None,  # mapping: random tensors (smoke tests / benchmarks only)
        "partition": None,  # partition name or JSON path (gait_tf.data.get_partition)
        "p": 8,  # identities per batch
        "k": 16,  # sequences per identity
        "frames": 30,  # frames per training sequence
        "sampler": "fixed_unordered",  # fixed_unordered | fixed_ordered | all_ordered
        "augment": False,
        "cache": True,  # keep pretreated sequences in memory
    },
    "losses": [{"type": "triplet", "weight": 1.0, "margin": 0.2}],
    "optimizer": {
        "type": "adam",  # sgd | adam | adamw
        "lr": 1e-4,
        "weight_decay": 0.0,
        # l2: grad += wd * w (PyTorch/OpenGait semantics for SGD and Adam);
        # decoupled: w -= lr * wd * w (AdamW / Keras `weight_decay`). None: l2 except adamw.
        "weight_decay_mode": None,
        "momentum": 0.9,  # sgd
        "nesterov": False,  # sgd
        "beta_1": 0.9,  # adam/adamw
        "beta_2": 0.999,
        "epsilon": 1e-8,
        "clipnorm": None,
    },
    "schedule": {
        "type": "multistep",  # multistep | constant | cosine
        "milestones": [],  # steps at which lr *= gamma (multistep)
        "gamma": 0.1,
        "warmup_steps": 0,  # linear warm-up from 0
        "min_lr": 0.0,  # cosine floor
    },
    "train": {
        "iterations": 1000,
        "checkpoint_every": 1000,
        "keep_checkpoints": 3,
        "log_every": 100,
        "mixed_precision": False,  # false | true (= float16) | float16 | bfloat16
        "deterministic": False,  # tf.config.experimental.enable_op_determinism()
        "strategy": "auto",  # auto | default | one_device | mirrored | multi_worker
        "progress": True,  # progress bar on stderr
        "export": True,  # write <workdir>/model.keras at the end
    },
}

CHOICES = {
    "data.layout": {"auto", "opengait", "casia_b", "oumvlp"},
    "data.sampler": {"fixed_unordered", "fixed_ordered", "all_ordered"},
    "optimizer.type": {"sgd", "adam", "adamw"},
    "optimizer.weight_decay_mode": {None, "l2", "decoupled"},
    "schedule.type": {"multistep", "constant", "cosine"},
    "train.mixed_precision": {False, True, "float16", "bfloat16"},
    "train.strategy": {"auto", "default", "one_device", "mirrored", "multi_worker"},
}

POSITIVE_INTS = {"data.p", "data.k", "data.frames", "train.iterations", "train.checkpoint_every",
                 "train.keep_checkpoints", "train.log_every"}
NON_NEGATIVE_INTS = {"seed", "schedule.warmup_steps"}
POSITIVE_FLOATS = {"optimizer.lr", "schedule.gamma", "optimizer.epsilon"}
NON_NEGATIVE_FLOATS = {"optimizer.weight_decay", "optimizer.momentum", "schedule.min_lr"}
BOOLS = {"data.cache", "optimizer.nesterov", "train.deterministic", "train.progress",
         "train.export"}


def _merge(defaults, given, where):
    """Defaults updated by ``given``; unknown keys raise ConfigError(where.key)."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {given!r}")
    out = {}
    for key in given:
        if not isinstance(key, str) or key not in defaults:
            name = f"{where}.{key}" if where else str(key)
            raise ConfigError(f"unknown config key {name!r}; known keys here: {sorted(defaults)}")
    for key, default in defaults.items():
        name = f"{where}.{key}" if where else key
        if default is ANY_MAPPING:
            value = given.get(key) or {}
            if not isinstance(value, dict):
                raise ConfigError(f"{name}: expected a mapping, got {value!r}")
            out[key] = copy.deepcopy(value)
        elif isinstance(default, dict):
            out[key] = _merge(default, given.get(key), name)
        elif key in given:
            out[key] = copy.deepcopy(given[key])
        elif default is REQUIRED:
            raise ConfigError(f"missing required config key {name!r}")
        else:
            out[key] = copy.deepcopy(default)
    return out


def _flat(cfg):
    """``(dotted key, value)`` of the top-level scalars and the section keys (one level)."""
    for key, value in cfg.items():
        if isinstance(SCHEMA.get(key), dict):
            for sub, sub_value in value.items():
                yield f"{key}.{sub}", sub_value
        else:
            yield key, value


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _to_float(value):
    """PyYAML reads ``1e-4`` (no dot) as a string: accept numeric strings for float keys."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def validate(cfg):
    """Check types and ranges of a merged config; raise ConfigError naming the key.

    Numeric strings such as ``1e-4`` (a string for YAML 1.1) are converted for float keys.
    """
    for name in (*POSITIVE_FLOATS, *NON_NEGATIVE_FLOATS, "optimizer.clipnorm", "optimizer.beta_1",
                 "optimizer.beta_2"):
        section, key = name.split(".")
        cfg[section][key] = _to_float(cfg[section][key])
    for entry in cfg["losses"] if isinstance(cfg["losses"], list) else ():
        if isinstance(entry, dict):
            for key, value in entry.items():
                if key not in ("type", "name"):
                    entry[key] = _to_float(value)
    for name, value in _flat(cfg):
        if name in CHOICES and value not in CHOICES[name]:
            raise ConfigError(f"{name}: invalid value {value!r}; choose from "
                              f"{sorted(map(str, CHOICES[name]))}")
        if name in POSITIVE_INTS and not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
        if name in NON_NEGATIVE_INTS and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            raise ConfigError(f"{name}: expected an integer >= 0, got {value!r}")
        if name in POSITIVE_FLOATS and not (_is_number(value) and value > 0):
            raise ConfigError(f"{name}: expected a number > 0, got {value!r}")
        if name in NON_NEGATIVE_FLOATS and not (_is_number(value) and value >= 0):
            raise ConfigError(f"{name}: expected a number >= 0, got {value!r}")
        if name in BOOLS and not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
    augment = cfg["data"]["augment"]
    if not isinstance(augment, (bool, dict)):
        raise ConfigError(f"data.augment: expected true, false or a mapping of augmentation options, got {augment!r}")
    if isinstance(augment, dict):
        from gait_tf.data.augment import AugmentConfig

        try:
            AugmentConfig.from_value(augment)
        except ConfigError as exc:
            raise ConfigError(f"data.{exc}") from None
        except TypeError as exc:
            raise ConfigError(f"data.augment: {exc}") from None
    if not isinstance(cfg["model"]["name"], str):
        raise ConfigError(f"model.name: expected a model name, got {cfg['model']['name']!r}")
    if cfg["model"]["preset"] is not None and not isinstance(cfg["model"]["preset"], str):
        raise ConfigError(f"model.preset: expected a preset name, got {cfg['model']['preset']!r}")
    data = cfg["data"]
    sources = [key for key in ("root", "synthetic", "random") if data[key] is not None]
    if len(sources) != 1:
        raise ConfigError(
            "data: give exactly one data source among data.root, data.synthetic, data.random "
            f"(got {sources or 'none'})"
        )
    for key in ("synthetic", "random"):
        if data[key] is not None and not isinstance(data[key], dict):
            raise ConfigError(f"data.{key}: expected a mapping, got {data[key]!r}")
    if data["root"] is not None and not isinstance(data["root"], (str, Path)):
        raise ConfigError(f"data.root: expected a path, got {data['root']!r}")
    milestones = cfg["schedule"]["milestones"]
    if not isinstance(milestones, list) or not all(
        isinstance(m, int) and not isinstance(m, bool) and m > 0 for m in milestones
    ) or milestones != sorted(set(milestones)):
        raise ConfigError(
            f"schedule.milestones: expected increasing positive integers, got {milestones!r}"
        )
    clip = cfg["optimizer"]["clipnorm"]
    if clip is not None and not (_is_number(clip) and clip > 0):
        raise ConfigError(f"optimizer.clipnorm: expected a number > 0 or null, got {clip!r}")
    # the loss list is validated by building it (names losses[i].key)
    from gait_tf.losses import build_loss

    build_loss(cfg["losses"])
    return cfg


def parse_override(text):
    """``"optimizer.lr=1e-3"`` -> ``("optimizer.lr", 0.001)`` (the value is parsed as YAML)."""
    import yaml

    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE (e.g. optimizer.lr=0.001)")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: cannot parse value {raw!r}: {exc}") from None
    return key, value


def _schema_default(parts):
    node = SCHEMA
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def apply_overrides(raw, overrides):
    """Set dotted keys in the raw (unmerged) config dict. ``losses.1.weight`` indexes lists."""
    raw = copy.deepcopy(raw)
    for item in overrides or ():
        key, value = parse_override(item) if isinstance(item, str) else item
        parts = key.split(".")
        node = raw
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                try:
                    idx = int(part)
                    node[idx]
                except (ValueError, IndexError):
                    raise ConfigError(f"--set {key}: {part!r} is not an index of the list "
                                      f"{'.'.join(parts[:i])}") from None
                if last:
                    node[idx] = value
                else:
                    node = node[idx]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    if node.get(part) is None:
                        # start from the schema default when it is a list (e.g. ``losses``)
                        default = _schema_default(parts[: i + 1])
                        node[part] = copy.deepcopy(default) if isinstance(default, list) else {}
                    node = node[part]
            else:
                raise ConfigError(f"--set {key}: {'.'.join(parts[:i])} is not a mapping")
    return raw


def read_yaml(path) -> dict:
    """The top-level mapping of the YAML config file ``path``; :class:`ConfigError` names the file
    when it is missing, not YAML, or not a mapping."""
    import yaml

    if path is None:
        raise ConfigError("no config given: pass --config PATH")
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a YAML mapping at the top level")
    return raw


def model_loss(model_name):
    """The registered training objective of model ``model_name`` (``ModelSpec.loss``), or None
    (also for names that are not models: :func:`validate` and the trainer report those)."""
    if not isinstance(model_name, str):
        return None
    from gait_tf import models
    from gait_tf.errors import ModelError

    try:
        return models.get_spec(model_name).loss
    except ModelError:
        return None


def _loss_section(raw):
    """Pop and validate the model loss' own top-level section (e.g. ``gaitnet:``) from ``raw``:
    ``(section name, settings)`` or ``(None, None)``. Keys are the loss' ``defaults``; values
    numbers >= 0."""
    model = raw.get("model")
    loss = model_loss(model.get("name")) if isinstance(model, dict) else None
    section = getattr(loss, "section", None)
    if section is None:
        return None, None
    given = raw.pop(section, None) or {}
    if not isinstance(given, dict):
        raise ConfigError(f"{section}: expected a mapping, got {given!r}")
    settings = dict(loss.defaults)
    for key, value in given.items():
        if key not in loss.defaults:
            raise ConfigError(f"unknown config key '{section}.{key}'; known: {sorted(loss.defaults)}")
        value = _to_float(value)
        if not _is_number(value) or value < 0:
            raise ConfigError(f"{section}.{key}: expected a number >= 0, got {given[key]!r}")
        settings[key] = float(value)
    return section, settings


def load_config(path=None, overrides=(), raw=None):
    """Read YAML ``path`` (or take ``raw`` dict), apply ``--set`` overrides, merge defaults, validate.

    Returns a plain nested dict (all sections present). ``name`` defaults to the file stem.
    A model with its own training objective may have one more top-level section (e.g.
    ``gaitnet:`` loss weights, see :func:`model_loss`); it is validated and kept.
    """
    if raw is None:
        path = Path(path) if path is not None else None
        raw = read_yaml(path)
    raw = apply_overrides(raw, overrides)  # a deep copy
    try:
        section, settings = _loss_section(raw)
        cfg = _merge(SCHEMA, raw, "")
        validate(cfg)
        if section is not None:
            cfg[section] = settings
    except ConfigError as exc:
        if path is not None:
            raise ConfigError(f"{path}: {exc}") from None
        raise
    if cfg["name"] is None:
        cfg["name"] = Path(path).stem if path is not None else cfg["model"]["name"]
    return cfg


def dump_config(cfg):
    """YAML text of a config (as saved in the work directory)."""
    import yaml

    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None)
