"""Realism options of the synthetic walkers, and their presets.

:class:`Realism` names every way in which a sequence may depart from CASIA-B's studio
recordings (a level camera 7 m from a straight walking line, one walker, 11 side-on
views). All options "off" is the ``casia_b`` preset: the generator then renders exactly
what it rendered before these options existed (byte-identical for every seed). The
``realistic`` preset turns them on with ranges that cover street and CCTV footage.

Ranges are ``(low, high)`` pairs drawn uniformly per sequence; probabilities are per
sequence. Angles in degrees, distances in metres.

Camera:

- ``elevation_deg``: camera pitch, looking down at the walker (0 = level, CASIA-B).
- ``distance_m``: horizontal distance from the camera to the middle of the walk. With a
  ``fov_deg`` this is a real perspective camera: near walkers are foreshortened, and
  walkers who pass close by are seen from a changing angle.
- ``fov_deg``: horizontal field of view; ``None``: CASIA-B framing (a 1.70 m person at
  7 m fills 58 % of the image height).
- ``view_jitter_deg``: the walking direction is the nominal view ± this, so views are
  continuous rather than CASIA-B's 18° steps.
- ``mirror_prob``: probability that the walker goes the other way (towards the image
  left; CASIA-B always walks to the right).
- ``pass_offset_m``: lateral distance between the walking line and the point the camera
  aims at: people walk obliquely past the camera instead of through its axis.
- ``handheld_prob``: probability of a hand-held camera that follows the walker (with
  lag), shakes (``shake_deg``, rms of yaw/pitch/roll), drifts (``drift_m``, the
  operator's position) and slowly zooms (``zoom``: the focal length changes by up to
  this fraction over the sequence).

People:

- ``crowd``: number of other walkers in the scene (companions walking alongside,
  people crossing, passers-by in the background).
- ``occluder_prob``: probability that one of them passes between the camera and the
  walker (partial occlusion for part of the sequence).
- ``body_variety``: spread of the body proportions relative to CASIA-B's (1.0), plus
  (when > 1) independent hip / shoulder / belly variation.
- ``gait_variety``: spread of the gait parameters relative to CASIA-B's (1.0).
- ``clothing``: everyday outfits (wide / tight trousers, shorts, skirts, dresses, long
  coats, jackets) and hair styles (ponytail / bun, big hair, hats) on top of the
  CASIA-B coat of ``cl-*``.
- ``carry_prob``: probability that a walk of any condition carries something: a
  handbag or shopping bag in hand, a bag on one shoulder, a cross-body bag or a
  backpack (``bg-*`` always carry the subject's bag).

Front end:

- ``frontend_errors``: an error profile of :mod:`gait_tf.synth.frontend_errors`
  (``"fitted"``: estimated from our real front end's output) applied to give
  ``WalkerSequence.frontend`` — the silhouettes as the real front end would deliver
  them. ``None``: no errors.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from gait_tf.errors import ConfigError

_RANGES = ("elevation_deg", "distance_m", "fov_deg", "pass_offset_m")
_PROBS = ("mirror_prob", "handheld_prob", "occluder_prob", "carry_prob")


@dataclass(frozen=True)
class Realism:
    """Named realism options of :class:`~gait_tf.synth.WalkerGenerator` (see the module doc)."""

    # camera
    elevation_deg: tuple = (0.0, 0.0)
    distance_m: tuple = (7.0, 7.0)
    fov_deg: tuple | None = None
    view_jitter_deg: float = 0.0
    mirror_prob: float = 0.0
    pass_offset_m: tuple = (0.0, 0.0)
    handheld_prob: float = 0.0
    shake_deg: float = 0.0
    drift_m: float = 0.0
    zoom: float = 0.0
    # people
    crowd: tuple = (0, 0)
    occluder_prob: float = 0.0
    body_variety: float = 1.0
    gait_variety: float = 1.0
    clothing: bool = False
    carry_prob: float = 0.0
    # front end
    frontend_errors: str | None = None

    def __post_init__(self):
        for name in _RANGES:
            value = getattr(self, name)
            if name == "fov_deg" and value is None:
                continue
            object.__setattr__(self, name, _pair(name, value))
        lo, hi = self.elevation_deg
        if lo < 0 or hi > 60:
            raise ConfigError(f"realism.elevation_deg: must lie in 0..60 degrees, got {self.elevation_deg}")
        if self.distance_m[0] < 1.5 or self.distance_m[1] > 60:
            raise ConfigError(f"realism.distance_m: must lie in 1.5..60 m, got {self.distance_m}")
        if self.fov_deg is not None and (self.fov_deg[0] < 5 or self.fov_deg[1] > 120):
            raise ConfigError(f"realism.fov_deg: must lie in 5..120 degrees, got {self.fov_deg}")
        if self.pass_offset_m[0] < 0 or self.pass_offset_m[1] > 20:
            raise ConfigError(f"realism.pass_offset_m: must lie in 0..20 m, got {self.pass_offset_m}")
        for name in _PROBS:
            v = _number(name, getattr(self, name))
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"realism.{name}: a probability in 0..1, got {v!r}")
            object.__setattr__(self, name, v)
        for name, hi in (("view_jitter_deg", 90.0), ("shake_deg", 10.0), ("drift_m", 2.0), ("zoom", 0.5)):
            v = _number(name, getattr(self, name))
            if not 0.0 <= v <= hi:
                raise ConfigError(f"realism.{name}: must lie in 0..{hi:g}, got {v!r}")
            object.__setattr__(self, name, v)
        for name in ("body_variety", "gait_variety"):
            v = _number(name, getattr(self, name))
            if not 0.0 < v <= 3.0:
                raise ConfigError(f"realism.{name}: must lie in (0, 3], got {v!r}")
            object.__setattr__(self, name, v)
        crowd = _pair("crowd", self.crowd)
        if crowd[0] != int(crowd[0]) or crowd[1] != int(crowd[1]) or crowd[0] < 0 or crowd[1] > 8:
            raise ConfigError(f"realism.crowd: whole numbers of other walkers in 0..8, got {self.crowd}")
        object.__setattr__(self, "crowd", (int(crowd[0]), int(crowd[1])))
        if not isinstance(self.clothing, bool):
            raise ConfigError(f"realism.clothing: true or false, got {self.clothing!r}")
        if self.frontend_errors is not None:
            from gait_tf.synth.frontend_errors import PROFILES

            if self.frontend_errors not in PROFILES:
                raise ConfigError(f"realism.frontend_errors: unknown profile {self.frontend_errors!r}; "
                                  f"expected one of {', '.join(PROFILES)} or null")

    @property
    def is_casia_b(self) -> bool:
        """True when every option is off (the generator renders CASIA-B-like data)."""
        return dataclasses.replace(self, frontend_errors=None) == CASIA_B

    def to_dict(self) -> dict:
        """JSON-friendly options (tuples as lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def _number(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"realism.{name}: expected a finite number, got {value!r}")
    return float(value)


def _pair(name, value) -> tuple:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ConfigError(f"realism.{name}: expected a number or a (low, high) pair, got {value!r}") from None
    lo, hi = _number(name, lo), _number(name, hi)
    if hi < lo:
        raise ConfigError(f"realism.{name}: low > high in {value!r}")
    return (lo, hi)


CASIA_B = Realism()

#: street / CCTV footage through our own front end
REALISTIC = Realism(
    elevation_deg=(0.0, 30.0),
    distance_m=(3.0, 14.0),
    fov_deg=(45.0, 75.0),
    view_jitter_deg=9.0,
    mirror_prob=0.5,
    pass_offset_m=(0.0, 2.5),
    handheld_prob=0.5,
    shake_deg=0.8,
    drift_m=0.25,
    zoom=0.2,
    crowd=(0, 3),
    occluder_prob=0.3,
    body_variety=1.5,
    gait_variety=1.5,
    clothing=True,
    carry_prob=0.35,
    frontend_errors="fitted",
)

PRESETS = {"casia_b": CASIA_B, "realistic": REALISTIC}
OPTIONS = tuple(f.name for f in dataclasses.fields(Realism))


def get_realism(spec=None) -> Realism:
    """A :class:`Realism` from a preset name (``"casia_b"``, ``"realistic"``), a dict of
    options (``{"preset": "realistic", "crowd": [0, 1], ...}``: the preset, default
    ``casia_b``, with some options changed), a :class:`Realism`, or None (``casia_b``).
    Unknown presets or option names raise :class:`ConfigError` naming them."""
    if spec is None:
        return CASIA_B
    if isinstance(spec, Realism):
        return spec
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise ConfigError(f"realism: unknown preset {spec!r}; expected one of {', '.join(PRESETS)}")
        return PRESETS[spec]
    if isinstance(spec, dict):
        opts = dict(spec)
        base = get_realism(opts.pop("preset", "casia_b"))
        unknown = sorted(set(opts) - set(OPTIONS))
        if unknown:
            raise ConfigError(f"realism: unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
        for key, value in opts.items():
            if isinstance(value, list):
                opts[key] = tuple(value)
        return dataclasses.replace(base, **opts)
    raise ConfigError(f"realism: expected a preset name, a dict of options or a Realism, got {spec!r}")
