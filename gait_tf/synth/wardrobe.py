"""Everyday clothes, hair styles, carried objects and body-shape variety of the
``realistic`` preset (:mod:`gait_tf.synth.realism`).

CASIA-B's subjects wear similar clothes in ``nm`` and a coat in ``cl``; real people wear
skirts, dresses, shorts, wide trousers, long coats, have ponytails and hats, and carry
shopping bags in hand or totes on one shoulder in any walk. The functions here draw those
from their own random streams, so the ``casia_b`` preset's draws are never touched.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from gait_tf.synth.body import BagParams, BodyShape, CoatParams

#: lower-body garments of :class:`Outfit` and their probabilities
LOWER = ("trousers", "wide_trousers", "tight_trousers", "shorts", "skirt", "dress")
_LOWER_P = (0.36, 0.14, 0.14, 0.12, 0.12, 0.12)
#: hair styles added on top of the body's (``body`` keeps the body's short / long hair)
HAIR = ("body", "ponytail", "bun", "volume", "hat")
_HAIR_P = (0.55, 0.12, 0.08, 0.12, 0.13)
#: objects a walker may carry: the CASIA-B bags plus a tote on one shoulder and a shopping bag in hand
CARRY_KINDS = ("backpack", "shoulder_bag", "handbag", "tote", "shopping_bag")
_CARRY_P = (0.28, 0.18, 0.18, 0.2, 0.16)


@dataclass
class Outfit:
    """A walker's everyday clothes.

    lower: one of :data:`LOWER`. leg_scale: radius factor of the thighs and shanks
    (wide > 1 > tight). skirt_hem: 0 = no skirt, else how far down it reaches (as
    :attr:`CoatParams.hem`: 1 = the knee, 2 = the ankle); skirt_flare: hem radius over
    the thigh radius. upper_loose / sleeve: torso and sleeve inflation (a jacket or a
    loose top). hair: one of :data:`HAIR`; hair_size: its size factor.
    """

    lower: str = "trousers"
    leg_scale: float = 1.0
    skirt_hem: float = 0.0
    skirt_flare: float = 1.0
    upper_loose: float = 1.0
    sleeve: float = 1.0
    hair: str = "body"
    hair_size: float = 1.0


def sample_outfit(rng: np.random.Generator) -> Outfit:
    """A random everyday outfit (the subject's clothes in ``nm`` / ``bg`` walks)."""
    lower = str(rng.choice(LOWER, p=_LOWER_P))
    leg = {"trousers": rng.uniform(1.0, 1.15), "wide_trousers": rng.uniform(1.25, 1.55),
           "tight_trousers": rng.uniform(0.85, 0.97), "shorts": rng.uniform(1.05, 1.25),
           "skirt": 1.0, "dress": 1.0}[lower]
    hem, flare = 0.0, 1.0
    if lower == "skirt":
        hem, flare = rng.uniform(0.45, 1.7), rng.uniform(1.3, 2.4)
    elif lower == "dress":
        hem, flare = rng.uniform(0.6, 1.8), rng.uniform(1.4, 2.6)
    jacket = rng.uniform() < 0.3
    loose = rng.uniform(1.08, 1.3) if jacket else rng.uniform(0.95, 1.1)
    sleeve = rng.uniform(1.1, 1.35) if jacket else rng.uniform(0.95, 1.12)
    hair = str(rng.choice(HAIR, p=_HAIR_P))
    return Outfit(lower=lower, leg_scale=float(leg), skirt_hem=float(hem), skirt_flare=float(flare),
                  upper_loose=float(loose), sleeve=float(sleeve), hair=hair,
                  hair_size=float(rng.uniform(0.8, 1.3)))


def realistic_coat(coat: CoatParams, rng: np.random.Generator) -> CoatParams:
    """The subject's ``cl`` coat, made more varied: 35 % long coats (below the knee,
    hem 1.3-1.75), 25 % short jackets (hem 0.05-0.35), the rest as drawn."""
    u = rng.uniform()
    if u < 0.35:
        return dataclasses.replace(coat, hem=float(rng.uniform(1.3, 1.75)), flare=float(rng.uniform(1.6, 2.6)))
    if u < 0.6:
        return dataclasses.replace(coat, hem=float(rng.uniform(0.05, 0.35)),
                                   looseness=float(rng.uniform(1.1, 1.35)))
    return coat


def sample_carried(rng: np.random.Generator, body: BodyShape) -> BagParams:
    """An object carried in any walk: backpack, cross-body bag, handbag, tote on one
    shoulder or shopping bag in hand, sizes wider than CASIA-B's bags."""
    kind = str(rng.choice(CARRY_KINDS, p=_CARRY_P))
    s = body.height / 1.7
    if kind == "backpack":
        size = (rng.uniform(0.08, 0.24) * s, rng.uniform(0.22, 0.36) * s, rng.uniform(0.25, 0.5) * s)
    elif kind == "shoulder_bag":
        size = (rng.uniform(0.05, 0.14), rng.uniform(0.18, 0.4), rng.uniform(0.14, 0.32))
    elif kind == "handbag":
        size = (rng.uniform(0.06, 0.14), rng.uniform(0.18, 0.4), rng.uniform(0.12, 0.3))
    elif kind == "tote":
        size = (rng.uniform(0.06, 0.14), rng.uniform(0.3, 0.45), rng.uniform(0.3, 0.45))
    else:  # shopping bag
        size = (rng.uniform(0.1, 0.2), rng.uniform(0.25, 0.45), rng.uniform(0.3, 0.48))
    return BagParams(kind=kind, size=tuple(float(x) for x in size), side=int(rng.choice([-1, 1])),
                     hang=float(rng.uniform(0.85, 1.2)))


def vary_proportions(body: BodyShape, rng: np.random.Generator, variety: float) -> BodyShape:
    """Body-shape variation beyond CASIA-B's for ``variety > 1``: a hip-vs-shoulder
    shape axis (wider hips and narrower shoulders or the reverse), independent belly,
    chest, limb-girth and head-size factors, each spread by ``variety - 1``."""
    k = max(0.0, float(variety) - 1.0)
    if k == 0.0:
        return body
    shape = rng.normal(0.0, 1.0)
    hips = np.exp(0.09 * k * shape + rng.normal(0, 0.05 * k))
    shoulders = np.exp(-0.06 * k * shape + rng.normal(0, 0.04 * k))
    belly = np.exp(rng.normal(0, 0.25 * k))
    chest = np.exp(rng.normal(0, 0.1 * k))
    girth = np.exp(rng.normal(0, 0.12 * k))
    head = np.exp(rng.normal(0, 0.05 * k))
    return dataclasses.replace(
        body,
        hip_width=body.hip_width * hips,
        shoulder_width=body.shoulder_width * shoulders,
        hips=(body.hips[0] * hips, body.hips[1] * hips, body.hips[2]),
        belly=(body.belly[0] * belly, body.belly[1] * belly ** 0.5, body.belly[2]),
        chest=(body.chest[0] * chest, body.chest[1] * shoulders, body.chest[2]),
        r_thigh=body.r_thigh * girth * hips ** 0.5, r_knee=body.r_knee * girth, r_ankle=body.r_ankle * girth,
        r_upper_arm=body.r_upper_arm * girth, r_elbow=body.r_elbow * girth, r_wrist=body.r_wrist * girth,
        head_axes=tuple(a * head for a in body.head_axes),
    )
