"""Loading, validating and assigning OpenGait state_dicts onto Keras models.

A *plan* is a list of :class:`Entry`: which torch keys feed which Keras variable and how the
arrays are re-laid-out (``[Cout, Cin, kh, kw] -> [kh, kw, Cin, Cout]`` etc.). Conversion
validates the whole plan (missing, unexpected and mis-shaped keys, all reported by name in
one :class:`~gait_tf.errors.CheckpointError`) before assigning any variable, so a bad
checkpoint never leaves a half-loaded model.
"""
from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from gait_tf.errors import CheckpointError, ModelError

#: keys that OpenGait checkpoints may carry but that hold no model weight
IGNORED_SUFFIXES = ("num_batches_tracked",)
IGNORED_PREFIXES = ("loss_aggregator.",)

#: model name -> module in gait_tf.convert with a ``plan(model) -> list[Entry]`` function
CONVERTERS = {"gaitset": "gaitset", "gaitpart": "gaitpart", "gln": "gln", "gaitgl": "gaitgl", "hstl": "hstl",
              "local3d": "local3d", "gaitbase": "gaitbase", "deepgaitv2": "deepgaitv2",
              "skeletongait": "deepgaitv2", "skeletongait_pp": "skeletongait_pp", "gaitedge": "gaitedge"}


@dataclasses.dataclass
class Entry:
    """``variable <- transform([state[k] for k in torch_keys])``."""

    torch_keys: Sequence[str]
    variable: Any  # keras.Variable
    transform: Callable[[list], np.ndarray] = lambda arrays: arrays[0]


# ---------------------------------------------------------------- layout transforms


def conv_kernel(arrays):
    """PyTorch ``ConvNd`` weight ``[Cout, Cin, *k]`` -> Keras ``[*k, Cin, Cout]`` (N = 1, 2, 3)."""
    a = arrays[0]
    return np.transpose(a, tuple(range(2, a.ndim)) + (1, 0))


def linear_kernel(arrays):
    """PyTorch ``Linear`` weight ``[out, in]`` -> Keras ``Dense`` kernel ``[in, out]``."""
    return arrays[0].T


def stacked_conv1d(arrays):
    """Per-part ``Conv1d`` weights ``P x [Cout, Cin, k]`` -> ``[P, k, Cin, Cout]``."""
    return np.stack([np.transpose(a, (2, 1, 0)) for a in arrays])


def parts_channels_vector(parts, channels):
    """A ``[C*P]`` vector indexed ``c*P + p`` (OpenGait ``x.view(n, -1)`` of ``[n, C, P]``)
    -> ``[P*C]`` indexed ``p*C + c`` (our ``[B, P, C]`` flattened)."""

    def fn(arrays):
        return arrays[0].reshape(channels, parts).T.reshape(-1)

    return fn


def conv_entry(key, layer, attr="kernel"):
    return Entry([key], getattr(layer, attr), conv_kernel)


def bn_entries(prefix, layer, transform=None):
    """The four BatchNorm tensors (``weight, bias, running_mean, running_var``)."""
    tf = transform or (lambda arrays: arrays[0])
    pairs = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"), ("running_var", "moving_variance"))
    return [Entry([f"{prefix}.{t}"], getattr(layer, k), tf) for t, k in pairs]


# ---------------------------------------------------------------- loading


def load_state_dict(path) -> dict:
    """Read an OpenGait checkpoint (``torch.save`` dict with a ``'model'`` state_dict, or a bare
    state_dict) -> ``{name: float32 numpy array}``. DDP's ``module.`` prefix is stripped."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    problem = _torch_file_problem(path)  # empty / junk / truncated: say so before torch does (badly)
    if problem:
        raise CheckpointError(f"checkpoint {str(path)!r}: {problem}")
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CheckpointError(
            f"reading the PyTorch checkpoint {str(path)!r} needs torch: pip install gait_tf[convert]"
        ) from exc
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot read PyTorch checkpoint {str(path)!r}: {_torch_load_reason(exc)}") from None
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(hasattr(v, "shape") for v in state.values()):
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not an OpenGait checkpoint: expected a dict with a 'model' state_dict"
        )
    out = {}
    for key, value in state.items():
        key = key[len("module."):] if key.startswith("module.") else key
        out[key] = value.detach().cpu().float().numpy() if value.is_floating_point() else value.cpu().numpy()
    return out


def _torch_file_problem(path: Path) -> str | None:
    """What is wrong with ``path`` as a ``torch.save`` file, or None if it may be one (a zip
    archive, the format since PyTorch 1.6, or a legacy pickle)."""
    import zipfile

    size = path.stat().st_size
    if size == 0:
        return "the file is empty (0 bytes)"
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK"):
        if not zipfile.is_zipfile(path):
            return f"a truncated or damaged torch.save archive (its zip directory is missing; {size} bytes)"
        return None
    if head[:1] == b"\x80":  # pickle protocol 2+: a legacy (pre-1.6) torch.save file
        return None
    return (f"not a PyTorch checkpoint: neither a torch.save zip archive nor a pickle (starts with {head!r}, "
            f"{size} bytes)")


def _torch_load_reason(exc) -> str:
    """One readable line for a ``torch.load`` failure (some have an empty or numeric message)."""
    text = str(exc).strip()
    if "WeightsUnpickler error" in text:
        detail = text.split("WeightsUnpickler error:", 1)[1].strip().splitlines()
        detail = next((ln.strip() for ln in detail if ln.strip()), "")
        return ("it holds objects other than tensors and plain containers, which are never unpickled "
                f"(weights_only; {detail or 'unsupported content'})")
    first = text.splitlines()[0] if text else ""
    if not first or first.isdigit() or (isinstance(exc, KeyError) and len(first) < 12):
        return f"corrupt or not a torch.save file ({type(exc).__name__}{': ' + first if first else ''})"
    return f"{type(exc).__name__}: {first[:300]}"


# ---------------------------------------------------------------- validation / assignment


def plan_for(model, model_name: str) -> list:
    """The conversion plan of ``model`` (a Keras model built by ``gait_tf.models.create(model_name)``)."""
    return converter_module(model_name).plan(model)


def _ignored(key):
    return key.endswith(IGNORED_SUFFIXES) or key.startswith(IGNORED_PREFIXES)


def _names(items, limit=20):
    items = sorted(items)
    more = f" ... (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def assign_state_dict(model, model_name: str, state: dict, source: str = "checkpoint") -> int:
    """Validate ``state`` against the plan of ``model`` in full, then assign. Returns the number of
    variables assigned. Raises :class:`CheckpointError` naming every missing, unexpected and
    mis-shaped key; nothing is assigned in that case."""
    plan = plan_for(model, model_name)
    expected = {k for e in plan for k in e.torch_keys}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected and not _ignored(k)]
    values, misshaped = [], []
    if not missing:
        for e in plan:
            try:
                arr = np.asarray(e.transform([state[k] for k in e.torch_keys]), dtype=np.float32)
            except ValueError as exc:
                arr, err = None, str(exc)
            else:
                err = None
            want = tuple(e.variable.shape)
            if arr is None or tuple(arr.shape) != want:
                got = " / ".join(f"{k} {tuple(state[k].shape)}" for k in e.torch_keys[:3])
                misshaped.append(f"{got} does not fit {e.variable.path} {want}" + (f" ({err})" if err else ""))
            values.append(arr)
    problems = []
    if missing:
        problems.append(f"missing keys: {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_names(unexpected)}")
    if misshaped:
        problems.append(f"mis-shaped keys: {'; '.join(misshaped[:10])}" + (" ..." if len(misshaped) > 10 else ""))
    if problems:
        raise CheckpointError(f"{source} does not match model {model_name!r}: " + " | ".join(problems))
    for e, arr in zip(plan, values):
        e.variable.assign(arr)
    return len(plan)


def converter_module(model_name: str):
    key = str(model_name).lower()
    if key not in CONVERTERS:
        raise ModelError(f"no PyTorch converter for model {model_name!r}; supported: {', '.join(sorted(CONVERTERS))}")
    return importlib.import_module(f"gait_tf.convert.{CONVERTERS[key]}")


def resolve_config(model: str, state: dict, preset: str | None = None, overrides: dict | None = None):
    """``(preset, overrides, notes)`` for building ``model`` to receive ``state``: families with
    an ``infer(state, preset, overrides)`` hook (GLN: phase, widths, classes, input size) fill
    in what the checkpoint's keys and shapes tell and the caller did not fix."""
    overrides = dict(overrides or {})
    module = converter_module(model)
    if hasattr(module, "infer"):
        preset, inferred, notes = module.infer(state, preset, overrides)
        return preset, {**inferred, **overrides}, notes
    return preset, overrides, []


def convert_checkpoint(checkpoint, model: str = "gaitset", preset: str | None = None, infer: bool = True,
                       return_info: bool = False, **overrides):
    """Build ``gait_tf.models.create(model, preset, **overrides)`` and load the OpenGait
    checkpoint at ``checkpoint`` into it. Returns the Keras model (with ``return_info`` also
    ``{"preset", "config": the builder arguments used, "notes": what was inferred}``). With
    ``infer`` the checkpoint completes the config where
    it can (:func:`resolve_config`); a checkpoint that does not fit raises
    :class:`CheckpointError` naming the keys and, where the family can tell, the flags that fit."""
    from gait_tf import models

    state = load_state_dict(checkpoint)
    notes = []
    if infer:
        preset, overrides, notes = resolve_config(model, state, preset, overrides)
    keras_model = models.create(model, preset=preset, **overrides)
    try:
        assign_state_dict(keras_model, model, state, source=f"checkpoint {str(checkpoint)!r}")
    except CheckpointError as exc:
        module = converter_module(model)
        hint = module.hint(state) if hasattr(module, "hint") else None
        if hint:
            raise CheckpointError(f"{exc} | {hint}") from None
        raise
    if return_info:
        from gait_tf import models

        config = models.get_spec(model).config_for(preset, **overrides)
        return keras_model, {"preset": preset, "config": config, "notes": notes}
    return keras_model
