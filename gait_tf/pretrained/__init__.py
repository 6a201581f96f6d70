"""Our own shipped gait weights: ``gait_tf.pretrained.load()`` -> the default silhouette model.

The weights are small and ours, so they ship inside the package
(``gait_tf/pretrained/weights/<name>.keras``) with a model card (``<name>.md``: data,
recipe, figures, limits) and metadata (``<name>.json``: family, input, the open-set
threshold calibrated on impostor pairs of realistic data, and what it gives on real
tracks).

>>> from gait_tf import pretrained
>>> model = pretrained.load()                 # keras.Model
>>> out = model(x)                            # x: float32 [B, T, 64, 44, 1] in [0, 1]
>>> out["embeddings"]                         # float32 [B, parts, dim]
>>> pretrained.threshold()                    # open-set distance threshold (accept iff distance <= it)

Everywhere a command takes ``--model M.keras`` it also takes ``--model default`` (and
uses the default when ``--model`` is left out): see :func:`resolve_model`.
"""
from __future__ import annotations

import json
from pathlib import Path

from gait_tf.errors import ModelError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: name of the default shipped model
DEFAULT = "default"


def available() -> list:
    """Names of the shipped models."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.keras"))


def path(name=DEFAULT) -> Path:
    """The ``.keras`` file of a shipped model; :class:`ModelError` if there is none."""
    p = WEIGHTS_DIR / f"{name}.keras"
    if not p.is_file():
        have = ", ".join(available()) or "none"
        raise ModelError(f"no shipped model {name!r} in {WEIGHTS_DIR} (shipped: {have})")
    return p


def card(name=DEFAULT) -> dict:
    """The model's metadata (``<name>.json``): family, model name, input, threshold, figures."""
    p = path(name).with_suffix(".json")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{p}: unreadable model card metadata ({exc})") from None


def threshold(name=DEFAULT) -> float:
    """The shipped open-set threshold (accept iff distance <= it)."""
    return float(card(name)["threshold"])


def threshold_for(model_name):
    """The shipped threshold of the shipped model whose identity is ``model_name`` (the
    ``model_name`` of its card), or None."""
    for name in available():
        try:
            meta = card(name)
        except ModelError:
            continue
        if meta.get("model_name") == model_name:
            return float(meta["threshold"])
    return None


_CACHE: dict = {}


def load(name=DEFAULT):
    """The shipped model ``name`` as a ``keras.Model``: ``[B, T, 64, 44, 1]`` float32 in
    [0, 1] -> ``{"embeddings": float32 [B, parts, dim]}``. Loaded once per process."""
    if name not in _CACHE:
        from gait_tf.evaluation.embed import load_model

        _CACHE[name] = load_model(path(name))
    return _CACHE[name]


def is_default(spec) -> bool:
    """True for ``None``, ``"default"`` or the name of a shipped model (not a file path)."""
    return spec is None or (isinstance(spec, str) and (spec == DEFAULT or (spec in available() and not Path(spec).exists())))


def resolve_model(spec):
    """``--model`` value -> ``keras.Model``: None / ``"default"`` / a shipped name -> the
    shipped model, else a ``.keras`` path."""
    if is_default(spec):
        return load(DEFAULT if spec is None else spec)
    from gait_tf.evaluation.embed import load_model

    return load_model(spec)
