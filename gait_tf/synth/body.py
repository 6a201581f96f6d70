"""Skeleton, subject parameters and seeding of the synthetic walkers.

Units: metres, seconds, radians internally (degrees where a name says ``_deg``).
Body frame: ``x`` forward (walking direction), ``y`` to the subject's left, ``z`` up,
origin on the ground below the pelvis.

A subject is a :class:`SubjectParams`: body proportions and limb widths
(:class:`BodyShape`), gait dynamics (:class:`GaitParams`, in ``kinematics``), clothing
colours (:class:`Appearance`), the bag they carry in ``bg-*`` and the coat they wear in
``cl-*``. Everything is drawn from numpy Generators seeded with a stable hash
(:func:`stable_rng`), never Python's ``hash()``.
"""
from __future__ import annotations

import colorsys
import hashlib
from dataclasses import dataclass

import numpy as np

#: the 16 MPII joints in the original HumanPoseNN order
JOINT_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "pelvis", "thorax", "upper_neck", "head_top",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
)
J = {name: i for i, name in enumerate(JOINT_NAMES)}

#: bones between MPII joints (for drawing skeletons)
SKELETON = (
    (0, 1), (1, 2), (2, 6), (3, 6), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9),
    (10, 11), (11, 12), (12, 7), (13, 7), (13, 14), (14, 15),
)


def stable_seed(*parts) -> int:
    """64-bit seed from a blake2b hash of ``parts`` (stable across runs and machines)."""
    text = "|".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def stable_rng(*parts) -> np.random.Generator:
    """``np.random.Generator`` seeded from :func:`stable_seed` of ``parts``."""
    return np.random.default_rng(stable_seed(*parts))


def _lognormal(rng, sigma):
    return float(np.exp(rng.normal(0.0, sigma)))


@dataclass
class BodyShape:
    """Body proportions (metres) and limb radii (metres) of one subject.

    Lengths follow Winter's anthropometric fractions of the standing height, each
    scaled by a subject-specific factor; radii scale with ``build`` (slim..heavy).
    """

    height: float
    hip_height: float      # hip joint centre above the ground (standing)
    thigh: float           # hip -> knee
    shank: float           # knee -> ankle
    ankle_height: float    # ankle joint above the sole
    foot: float            # heel -> toe
    hip_width: float       # between the hip joint centres
    shoulder_width: float  # between the shoulder joints
    torso: float           # hip centre -> thorax
    neck: float            # thorax -> upper neck
    head: float            # upper neck -> head top
    upper_arm: float
    forearm: float
    hand: float
    # radii
    r_thigh: float
    r_knee: float
    r_ankle: float
    r_upper_arm: float
    r_elbow: float
    r_wrist: float
    r_foot: float
    r_neck: float
    # torso / head ellipsoid semi-axes (x depth, y half-width, z half-height)
    chest: tuple
    belly: tuple
    hips: tuple
    head_axes: tuple
    long_hair: float       # 0 = short hair, else length of a hair volume behind the head (m)


def sample_body(rng: np.random.Generator, variety: float = 1.0) -> BodyShape:
    """Draw a body. Heights ~ N(1.70, 0.08) m clipped to [1.50, 1.95]; segment
    fractions jitter by ~4 %, widths by ~6-10 %, the overall build by ~12 %.

    ``variety`` scales every spread (1.0: CASIA-B-like; the draws are then exactly those
    of the original generator); the height range widens to 1.70 -0.20/+0.25 x variety m.
    """
    v = float(variety)
    lo, hi = (1.50, 1.95) if v == 1.0 else (1.70 - 0.20 * v, 1.70 + 0.25 * v)
    h = float(np.clip(rng.normal(1.70, 0.08 * v), lo, hi))
    leg = 0.53 * _lognormal(rng, 0.03 * v)               # hip height fraction
    thigh_share = 0.49 * _lognormal(rng, 0.03 * v)       # thigh / (thigh + shank)
    ankle_h = 0.039 * h
    leg_len = leg * h - ankle_h
    build = _lognormal(rng, 0.12 * v)                    # girth, slim (<1) .. heavy (>1)
    limbs = build * _lognormal(rng, 0.06 * v)
    torso = (0.80 - leg) * h * _lognormal(rng, 0.02 * v)  # hip -> thorax
    neck = 0.065 * h * _lognormal(rng, 0.06 * v)
    head = h - (leg * h + torso + neck)                  # remainder: upper neck -> top
    sh_w = 0.235 * h * _lognormal(rng, 0.05 * v) * (0.85 + 0.15 * build)
    hip_w = 0.105 * h * _lognormal(rng, 0.06 * v) * (0.85 + 0.15 * build)
    belly = _lognormal(rng, 0.15 * v) * build
    return BodyShape(
        height=h,
        hip_height=leg * h,
        thigh=leg_len * thigh_share,
        shank=leg_len * (1 - thigh_share),
        ankle_height=ankle_h,
        foot=0.14 * h * _lognormal(rng, 0.04 * v),
        hip_width=hip_w,
        shoulder_width=sh_w,
        torso=torso,
        neck=neck,
        head=head,
        upper_arm=0.186 * h * _lognormal(rng, 0.04 * v),
        forearm=0.146 * h * _lognormal(rng, 0.04 * v),
        hand=0.09 * h * _lognormal(rng, 0.04 * v),
        r_thigh=0.050 * h * limbs,
        r_knee=0.032 * h * limbs,
        r_ankle=0.021 * h * limbs,
        r_upper_arm=0.028 * h * limbs,
        r_elbow=0.022 * h * limbs,
        r_wrist=0.018 * h * limbs,
        r_foot=0.019 * h * _lognormal(rng, 0.05 * v),
        r_neck=0.030 * h * limbs,
        chest=(0.070 * h * build, 0.5 * sh_w * 0.92, 0.125 * h),
        belly=(0.062 * h * belly, 0.082 * h * build, 0.10 * h),
        hips=(0.062 * h * build, 0.5 * hip_w + 0.045 * h * build, 0.075 * h),
        head_axes=(0.058 * h * _lognormal(rng, 0.05 * v), 0.050 * h * _lognormal(rng, 0.05 * v),
                   0.5 * head * 0.95),
        long_hair=float(rng.choice([0.0, 0.0, 0.0, rng.uniform(0.08, 0.22) * h])),
    )


@dataclass
class Appearance:
    """Clothing and skin colours (RGB uint8 triples) of one subject."""

    skin: tuple
    hair: tuple
    top: tuple
    trousers: tuple
    shoes: tuple
    coat: tuple
    bag: tuple


def _hsv(h, s, v):
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return (int(r * 255), int(g * 255), int(b * 255))


def sample_appearance(rng: np.random.Generator) -> Appearance:
    skin_v = rng.uniform(0.35, 0.95)
    return Appearance(
        skin=_hsv(rng.uniform(0.03, 0.09), rng.uniform(0.3, 0.6), skin_v),
        hair=_hsv(rng.uniform(0.02, 0.12), rng.uniform(0.2, 0.7), rng.uniform(0.05, 0.6)),
        top=_hsv(rng.uniform(), rng.uniform(0.0, 0.9), rng.uniform(0.15, 0.95)),
        trousers=_hsv(rng.uniform(), rng.uniform(0.0, 0.6), rng.uniform(0.1, 0.7)),
        shoes=_hsv(rng.uniform(), rng.uniform(0.0, 0.4), rng.uniform(0.05, 0.9)),
        coat=_hsv(rng.uniform(), rng.uniform(0.1, 0.8), rng.uniform(0.1, 0.8)),
        bag=_hsv(rng.uniform(), rng.uniform(0.2, 0.9), rng.uniform(0.1, 0.8)),
    )


BAG_KINDS = ("backpack", "shoulder_bag", "handbag")


@dataclass
class BagParams:
    """The bag a subject carries in ``bg-*`` sequences.

    kind: ``backpack`` (box on the back), ``shoulder_bag`` (box at the hip hanging
    from a strap, swinging) or ``handbag`` (box held in one hand; that arm barely swings).
    size: (depth, width, height) in metres. side: +1 left, -1 right.
    """

    kind: str
    size: tuple
    side: int
    hang: float  # how low a shoulder bag / handbag hangs (fraction of the arm length)


def sample_bag(rng: np.random.Generator, body: BodyShape) -> BagParams:
    kind = str(rng.choice(BAG_KINDS, p=[0.45, 0.35, 0.20]))
    h = body.height
    if kind == "backpack":
        size = (rng.uniform(0.12, 0.20) * h / 1.7, rng.uniform(0.26, 0.34) * h / 1.7,
                rng.uniform(0.34, 0.46) * h / 1.7)
    elif kind == "shoulder_bag":
        size = (rng.uniform(0.08, 0.15), rng.uniform(0.28, 0.42), rng.uniform(0.22, 0.34))
    else:
        size = (rng.uniform(0.08, 0.14), rng.uniform(0.26, 0.40), rng.uniform(0.20, 0.32))
    return BagParams(kind=kind, size=tuple(float(s) for s in size),
                     side=int(rng.choice([-1, 1])), hang=float(rng.uniform(0.85, 1.1)))


@dataclass
class CoatParams:
    """The coat a subject wears in ``cl-*`` sequences.

    looseness: torso inflation factor; sleeve: arm radius factor; hem: how far down the
    thigh the coat reaches (0 = hip, 1 = knee, >1 below the knee); flare: hem radius
    relative to the thigh radius; collar: extra neck volume (m).
    """

    looseness: float
    sleeve: float
    hem: float
    flare: float
    collar: float


def sample_coat(rng: np.random.Generator) -> CoatParams:
    return CoatParams(
        looseness=float(rng.uniform(1.2, 1.55)),
        sleeve=float(rng.uniform(1.25, 1.6)),
        hem=float(rng.uniform(0.45, 1.25)),
        flare=float(rng.uniform(1.4, 2.3)),
        collar=float(rng.uniform(0.0, 0.05)),
    )
