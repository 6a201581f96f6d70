"""Model registry, in the spirit of timm's ``create_model``.

A model family registers a builder with :func:`register_model`; users call
``gait_tf.models.create(name, preset=None, **config)``. Model modules in
``gait_tf/models/`` are discovered and imported on first use, so adding a family is
adding a module — no central list to edit.

Input kinds (``ModelSpec.input_kind``) and the input each takes:

- ``"silhouette"``: ``[B, T, H, W, 1]`` float32 in [0, 1] (``input_hw`` = (H, W))
- ``"rgb_sequence"``: ``[B, T, H, W, 3]`` float32 in [0, 1]
- ``"rgb_crops"``: ``{"frames": [B, T, H, W, 3] in [0, 1], "ratios": [B, T]}`` (person boxes
  resized to H x W and their width / height; GaitEdge)
- ``"skeleton_maps"``: ``[B, T, 64, 44, 2]`` float32 in [0, 1], limb and joint maps drawn from
  COCO-17 keypoints (:mod:`gait_tf.data.heatmaps`; SkeletonGait)
- ``"skeleton_silhouette"``: ``[B, T, 64, 44, 3]``: the two maps + the silhouette (SkeletonGait++)
- ``"pose_features"``: ``[B, T, 17, 17, 32]`` float32 (HumanPoseNN features)
- ``"image"``: ``[B, H, W, 3]`` float32 in [-1, 1]

A model that trains with its own objective (not the generic ``losses:`` list) names it in
``loss``: a class living next to the model (e.g. :class:`gait_tf.models.gaitnet.GaitNetLoss`),
built by the trainer as ``loss(section, losses)`` and called as
``loss(model, x, labels, training=True) -> (loss, metrics)``. Its class attributes:
``section`` (a top-level config section holding its settings, or None), ``defaults`` (the
section's keys and default numbers), ``batch`` (``"pk"`` or ``"pairs"``, what the batch
source feeds it).
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any, Callable

from gait_tf.errors import ModelError

_SKIP_MODULES = {"registry", "blocks"}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., Any]
    input_kind: str = "silhouette"
    input_hw: tuple = (64, 44)
    channels: int = 1
    presets: dict = dataclasses.field(default_factory=dict)
    default_preset: str | None = None
    description: str = ""
    loss: Any = None  # model-specific training objective (see the module docstring)

    def config_for(self, preset: str | None = None, **overrides) -> dict:
        """The builder kwargs for ``preset`` (or the default preset) updated by ``overrides``."""
        preset = preset if preset is not None else self.default_preset
        config: dict = {}
        if preset is not None:
            if preset not in self.presets:
                raise ModelError(
                    f"unknown preset {preset!r} for model {self.name!r}; "
                    f"known presets: {sorted(self.presets) or 'none'}"
                )
            config.update(self.presets[preset])
        config.update(overrides)
        return config


_REGISTRY: dict[str, ModelSpec] = {}
_DISCOVERED = False


def register_model(
    name: str,
    *,
    input_kind: str = "silhouette",
    input_hw: tuple = (64, 44),
    channels: int = 1,
    presets: dict | None = None,
    default_preset: str | None = None,
    description: str = "",
    loss=None,
):
    """Decorator registering a builder (a function or a ``keras.Model`` subclass).

    ``presets`` maps a preset name (e.g. ``"casia_b"``, ``"oumvlp"``) to builder kwargs;
    ``loss`` is the model's own training objective (see the module docstring).
    """
    key = name.lower()

    def decorator(builder):
        if key in _REGISTRY and _REGISTRY[key].builder is not builder:
            raise ModelError(f"model name {name!r} is registered twice")
        _REGISTRY[key] = ModelSpec(
            name=key,
            builder=builder,
            input_kind=input_kind,
            input_hw=tuple(input_hw),
            channels=channels,
            presets=dict(presets or {}),
            default_preset=default_preset,
            description=description or (builder.__doc__ or "").strip().split("\n")[0],
            loss=loss,
        )
        return builder

    return decorator


def _discover():
    global _DISCOVERED
    if _DISCOVERED:
        return
    import gait_tf.models as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_") or info.name in _SKIP_MODULES:
            continue
        importlib.import_module(f"gait_tf.models.{info.name}")
    _DISCOVERED = True


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    _discover()
    return sorted(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; raises :class:`ModelError` for unknown names."""
    _discover()
    key = str(name).lower()
    if key not in _REGISTRY:
        raise ModelError(f"unknown model {name!r}; registered models: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[key]


def create(name: str, preset: str | None = None, **config):
    """Build model ``name`` with ``preset`` (default preset if None) and overrides ``config``."""
    spec = get_spec(name)
    kwargs = spec.config_for(preset, **config)
    try:
        return spec.builder(**kwargs)
    except TypeError as exc:
        raise ModelError(f"bad config for model {name!r}: {exc}") from exc
