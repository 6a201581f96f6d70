"""Gait dynamics: per-subject :class:`GaitParams` and the 3D pose over time.

Each leg follows periodic joint-angle curves of the gait cycle (phase 0 = heel
strike of that leg): hip flexion (one harmonic), knee flexion (a small stance bump
at ~15 % and the swing peak at ~72 % of the cycle), foot pitch (toe-off
plantar-flexion). Arms swing in opposition to the ipsilateral leg with elbow
flexion; the pelvis yaws, the thorax counter-rotates; the torso leans forward; the
body sways sideways. The pelvis height keeps the lowest foot point on the ground,
which gives the natural vertical bounce, scaled by a subject ``bounce`` gain.
The left side runs half a cycle later plus a subject phase offset, with its own
amplitude (left/right asymmetry).

Positions are in metres in the *walk frame*: ``x`` along the walking direction
(the subject progresses ``speed * t``), ``y`` left, ``z`` up.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from gait_tf.synth.body import BagParams, BodyShape, CoatParams, J

TWO_PI = 2.0 * np.pi
FPS = 25.0  # CASIA-B frame rate


@dataclass
class GaitParams:
    """Gait dynamics of one subject (angles in degrees, see docs/synth.md for ranges)."""

    cadence: float        # steps per minute
    stride: float         # stride length (two steps) / body height
    hip_amp: float        # hip flexion amplitude (deg), +- around hip_offset
    hip_offset: float     # mean hip flexion (deg)
    knee_swing: float     # peak knee flexion in swing (deg)
    knee_stance: float    # knee flexion bump in loading response (deg)
    arm_swing: float      # shoulder flexion amplitude (deg)
    arm_abduction: float  # arms held away from the torso (deg)
    elbow_base: float     # mean elbow flexion (deg)
    elbow_amp: float      # extra elbow flexion when the arm swings forward (deg)
    torso_lean: float     # forward lean of the trunk (deg)
    head_pitch: float     # head tilt (deg, + looks down)
    bounce: float         # gain on the natural vertical oscillation of the pelvis
    sway: float           # lateral sway amplitude (m)
    pelvis_yaw: float     # pelvis rotation amplitude (deg)
    step_width: float     # lateral distance of the feet from the midline (m)
    asym_amp: float       # left leg/arm amplitude = right * (1 + asym_amp)
    asym_phase: float     # extra left-side phase lag (rad)
    arm_asym: float       # left arm swing = right * (1 + arm_asym)
    toe_out: float        # foot progression angle (deg)
    arm_swing_r: float = 1.0  # extra per-side arm-swing multipliers (bags)
    arm_swing_l: float = 1.0
    elbow_fix_r: float = -1.0  # >= 0: the elbow is held at this flexion (handbag)
    elbow_fix_l: float = -1.0


def _uniform(rng, low, high, variety):
    """U(low, high), its half-width scaled by ``variety`` about the centre (exactly
    ``rng.uniform(low, high)`` at variety 1)."""
    if variety == 1.0:
        return rng.uniform(low, high)
    c, h = 0.5 * (low + high), 0.5 * (high - low) * variety
    return rng.uniform(c - h, c + h)


def sample_gait(rng: np.random.Generator, body: BodyShape, variety: float = 1.0) -> GaitParams:
    """Subject-specific dynamics (ranges in docs/synth.md). ``variety`` scales every
    spread (1.0: CASIA-B-like, the original draws); amplitudes stay non-negative."""
    v = float(variety)
    u = lambda lo, hi: _uniform(rng, lo, hi, v)  # noqa: E731
    if v == 1.0:
        stride = float(np.clip(rng.normal(0.80, 0.05), 0.68, 0.94))
    else:
        stride = float(np.clip(rng.normal(0.80, 0.05 * v), 0.80 - 0.12 * v, 0.80 + 0.14 * v))
    leg = body.thigh + body.shank
    # hip amplitude consistent with the stride (step ~ 2 leg sin(amp)), +-10 % subject factor
    hip_amp = np.degrees(np.arcsin(np.clip(stride * body.height / (4.0 * leg), 0.1, 0.8)))
    cadence = np.clip(rng.normal(110, 7), 92, 128) if v == 1.0 else \
        np.clip(rng.normal(110, 7 * v), 110 - 18 * v, 110 + 18 * v)
    return GaitParams(
        cadence=float(cadence),
        stride=stride,
        hip_amp=float(hip_amp * u(0.9, 1.1)),
        hip_offset=float(u(4, 12)),
        knee_swing=float(u(50, 68)),
        knee_stance=float(max(0.0, u(6, 22))),
        arm_swing=float(max(0.0, u(8, 32))),
        arm_abduction=float(max(0.0, u(4, 14))),
        elbow_base=float(max(0.0, u(8, 28))),
        elbow_amp=float(max(0.0, u(4, 22))),
        torso_lean=float(u(-1, 9)),
        head_pitch=float(u(-6, 12)),
        bounce=float(max(0.2, u(0.6, 1.3))),
        sway=float(max(0.0, u(0.01, 0.035))),
        pelvis_yaw=float(max(0.0, u(2, 9))),
        step_width=float(max(0.0, u(0.03, 0.09))),
        asym_amp=float(rng.normal(0, 0.06 * v)),
        asym_phase=float(rng.normal(0, 0.08 * v)),
        arm_asym=float(rng.normal(0, 0.2 * v)),
        toe_out=float(u(0, 14)),
    )


#: relative standard deviation of the per-sequence variation of each parameter
_JITTER = {
    "cadence": 0.025, "stride": 0.03, "hip_amp": 0.04, "knee_swing": 0.04, "knee_stance": 0.1,
    "arm_swing": 0.1, "elbow_base": 0.1, "elbow_amp": 0.1, "bounce": 0.06, "sway": 0.1,
    "pelvis_yaw": 0.1,
}
_JITTER_ABS = {"torso_lean": 1.0, "head_pitch": 2.0, "hip_offset": 1.0, "arm_abduction": 1.5}


def vary_gait(gait: GaitParams, rng: np.random.Generator, scale: float = 1.0) -> GaitParams:
    """Small random within-subject variation of a subject's gait (one sequence)."""
    changes = {}
    for f in fields(gait):
        v = getattr(gait, f.name)
        if f.name in _JITTER:
            changes[f.name] = float(v * (1.0 + scale * rng.normal(0, _JITTER[f.name])))
        elif f.name in _JITTER_ABS:
            changes[f.name] = float(v + scale * rng.normal(0, _JITTER_ABS[f.name]))
    return replace(gait, **changes)


def condition_gait(gait: GaitParams, condition: str, bag: BagParams | None, coat: CoatParams | None) -> GaitParams:
    """How carrying a bag or wearing a coat changes the gait."""
    kind = condition.split("-")[0]
    if kind == "bg" and bag is not None:
        side = "l" if bag.side > 0 else "r"
        if bag.kind in ("handbag", "shopping_bag"):
            gait = replace(gait, **{f"arm_swing_{side}": 0.25, f"elbow_fix_{side}": 8.0})
        elif bag.kind == "tote":  # the hand holds the strap in front of the shoulder
            gait = replace(gait, **{f"arm_swing_{side}": 0.1, f"elbow_fix_{side}": 125.0})
        elif bag.kind == "shoulder_bag":
            gait = replace(gait, **{f"arm_swing_{side}": 0.5})
        else:
            gait = replace(gait, torso_lean=gait.torso_lean + 2.5, arm_swing=gait.arm_swing * 0.9)
        gait = replace(gait, stride=gait.stride * 0.985, cadence=gait.cadence * 0.99)
    elif kind == "cl" and coat is not None:
        gait = replace(gait, arm_swing=gait.arm_swing * 0.8, arm_abduction=gait.arm_abduction + 4.0,
                       stride=gait.stride * 0.97)
    return gait


def _pgauss(phase, centre, width):
    """Periodic Gaussian bump on the cycle (phase, centre, width in cycles)."""
    d = (phase - centre + 0.5) % 1.0 - 0.5
    return np.exp(-0.5 * (d / width) ** 2)


def _rot_z(a):
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _rot_y(a):
    """Rotation about y; positive tilts +z towards +x (forward lean)."""
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


@dataclass
class Pose:
    """3D pose over ``T`` frames in the walk frame (metres).

    joints: ``[T, 16, 3]`` MPII joints; extra: named points ``[T, 3]`` (toes, heels,
    hand tips, head centre, ...); frames: named rotation matrices ``[T, 3, 3]``
    (torso, pelvis, head); speed in m/s.
    """

    joints: np.ndarray
    extra: dict
    frames: dict
    speed: float


def walk_pose(body: BodyShape, gait: GaitParams, n_frames: int, phase0: float = 0.0,
              fps: float = FPS, t0: float = 0.0) -> Pose:
    """Joint positions for ``n_frames`` frames starting at time ``t0`` (s)."""
    t = t0 + np.arange(n_frames) / fps
    f_stride = gait.cadence / 120.0                       # strides per second
    speed = gait.stride * body.height * f_stride          # m/s
    ph_r = (phase0 + f_stride * t) % 1.0                  # cycles, 0 = right heel strike
    ph_l = (ph_r + 0.5 + gait.asym_phase / TWO_PI) % 1.0
    deg = np.radians

    pelvis_yaw = deg(gait.pelvis_yaw) * np.cos(TWO_PI * ph_r)   # right hip forward at heel strike
    thorax_yaw = -0.6 * pelvis_yaw
    lean = deg(gait.torso_lean) + deg(1.5) * np.cos(2 * TWO_PI * ph_r)
    r_pelvis = _rot_z(pelvis_yaw)
    r_torso = _rot_z(thorax_yaw) @ _rot_y(lean)
    r_head = r_torso @ _rot_y(np.full_like(t, deg(gait.head_pitch)) - 0.5 * lean)

    out = {}
    legs = {}
    for side, ph, sgn, amp in (("r", ph_r, -1.0, 1.0), ("l", ph_l, 1.0, 1.0 + gait.asym_amp)):
        hip_flex = deg(gait.hip_offset + amp * gait.hip_amp * np.cos(TWO_PI * (ph - 0.95)))
        knee = deg(3.0 + amp * gait.knee_stance * _pgauss(ph, 0.15, 0.07)
                   + amp * gait.knee_swing * _pgauss(ph, 0.72, 0.11))
        foot_pitch = deg(12 * _pgauss(ph, 0.0, 0.06) - 28 * _pgauss(ph, 0.62, 0.06)
                         + 8 * _pgauss(ph, 0.9, 0.07))
        hip = np.einsum("tij,j->ti", r_pelvis, np.array([0.0, sgn * 0.5 * body.hip_width, 0.0]))
        lat = sgn * gait.step_width * 0.5
        spread = np.arcsin(np.clip((lat - sgn * 0.5 * body.hip_width) / (body.thigh + body.shank), -0.5, 0.5))
        cs = np.cos(spread)
        thigh_dir = np.stack([np.sin(hip_flex) * cs, np.full_like(t, np.sin(spread)), -np.cos(hip_flex) * cs], -1)
        shank_ang = hip_flex - knee
        shank_dir = np.stack([np.sin(shank_ang) * cs, np.full_like(t, np.sin(spread)), -np.cos(shank_ang) * cs], -1)
        knee_p = hip + body.thigh * thigh_dir
        ankle = knee_p + body.shank * shank_dir
        toe_out = deg(gait.toe_out) * sgn
        fdir = np.stack([np.cos(foot_pitch) * np.cos(toe_out), np.cos(foot_pitch) * np.sin(toe_out),
                         np.sin(foot_pitch)], -1)
        down = np.array([0.0, 0.0, -0.7 * body.ankle_height])
        heel = ankle + down - 0.22 * body.foot * fdir
        toe = ankle + down + 0.78 * body.foot * fdir
        legs[side] = dict(hip=hip, knee=knee_p, ankle=ankle, heel=heel, toe=toe)

    # pelvis height: lowest foot point on the ground, then the subject's bounce gain
    sole = np.minimum.reduce([legs[s][k][:, 2] for s in "rl" for k in ("heel", "toe")]) - body.r_foot
    z = -sole
    z = z.mean() + gait.bounce * (z - z.mean())
    sway = -gait.sway * np.sin(TWO_PI * ph_r)
    pelvis = np.stack([speed * t, sway, z], -1)
    for side in "rl":
        for k, v in legs[side].items():
            legs[side][k] = v + pelvis

    up = np.array([0.0, 0.0, 1.0])
    thorax = pelvis + np.einsum("tij,j->ti", r_torso, body.torso * up)
    upper_neck = thorax + np.einsum("tij,j->ti", r_torso, body.neck * up) \
        + np.einsum("tij,j->ti", r_head, np.array([0.01 * body.height, 0, 0]))
    head_top = upper_neck + np.einsum("tij,j->ti", r_head, body.head * up)
    head_centre = upper_neck + np.einsum("tij,j->ti", r_head, np.array([0.012 * body.height, 0, 0.5 * body.head]))

    arms = {}
    for side, ph, sgn, amp, amp_side, efix in (
            ("r", ph_r, -1.0, 1.0, gait.arm_swing_r, gait.elbow_fix_r),
            ("l", ph_l, 1.0, 1.0 + gait.arm_asym, gait.arm_swing_l, gait.elbow_fix_l)):
        swing = np.cos(TWO_PI * (ph - 0.95))                # +1 when the same-side leg is forward
        flex = deg(-gait.arm_swing * amp * amp_side * swing + 3.0)
        if efix >= 0:
            elbow = np.full_like(t, deg(efix))
        else:
            elbow = deg(gait.elbow_base + gait.elbow_amp * amp * amp_side * 0.5 * (1 - swing))
        abd = deg(gait.arm_abduction)
        shoulder = thorax + np.einsum("tij,j->ti", r_torso,
                                      np.array([0.0, sgn * 0.5 * body.shoulder_width, -0.02 * body.height]))
        ca = np.cos(abd)
        ua = np.stack([np.sin(flex) * ca, np.full_like(t, sgn * np.sin(abd)), -np.cos(flex) * ca], -1)
        fa = np.stack([np.sin(flex + elbow) * ca, np.full_like(t, sgn * np.sin(abd) * 0.7),
                       -np.cos(flex + elbow) * ca], -1)
        ua = np.einsum("tij,tj->ti", _rot_z(thorax_yaw), ua)
        fa = np.einsum("tij,tj->ti", _rot_z(thorax_yaw), fa)
        fa /= np.linalg.norm(fa, axis=-1, keepdims=True)
        elbow_p = shoulder + body.upper_arm * ua
        wrist = elbow_p + body.forearm * fa
        hand_tip = wrist + body.hand * fa
        arms[side] = dict(shoulder=shoulder, elbow=elbow_p, wrist=wrist, hand=hand_tip)

    joints = np.zeros((n_frames, 16, 3))
    joints[:, J["right_ankle"]] = legs["r"]["ankle"]
    joints[:, J["right_knee"]] = legs["r"]["knee"]
    joints[:, J["right_hip"]] = legs["r"]["hip"]
    joints[:, J["left_hip"]] = legs["l"]["hip"]
    joints[:, J["left_knee"]] = legs["l"]["knee"]
    joints[:, J["left_ankle"]] = legs["l"]["ankle"]
    joints[:, J["pelvis"]] = pelvis
    joints[:, J["thorax"]] = thorax
    joints[:, J["upper_neck"]] = upper_neck
    joints[:, J["head_top"]] = head_top
    joints[:, J["right_wrist"]] = arms["r"]["wrist"]
    joints[:, J["right_elbow"]] = arms["r"]["elbow"]
    joints[:, J["right_shoulder"]] = arms["r"]["shoulder"]
    joints[:, J["left_shoulder"]] = arms["l"]["shoulder"]
    joints[:, J["left_elbow"]] = arms["l"]["elbow"]
    joints[:, J["left_wrist"]] = arms["l"]["wrist"]
    for side in "rl":
        out[f"toe_{side}"] = legs[side]["toe"]
        out[f"heel_{side}"] = legs[side]["heel"]
        out[f"hand_{side}"] = arms[side]["hand"]
    out["head_centre"] = head_centre
    out["phase_r"] = ph_r
    return Pose(joints=joints, extra=out, frames={"torso": r_torso, "pelvis": r_pelvis, "head": r_head},
                speed=float(speed))
