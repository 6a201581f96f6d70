"""Cameras and crowds of the realistic preset (:mod:`gait_tf.synth.realism`).

World frame: metres, ``z`` up, the target walker's walk centred on the origin and going
along ``+x`` (before its small heading / line jitter). A :class:`Shot` says how a
sequence is filmed; :func:`shot_camera` turns it into a :class:`~gait_tf.synth.render.Camera`
(tripod) or :class:`~gait_tf.synth.render.MovingCamera` (hand-held: it follows the
walker with a lag, shakes, drifts and zooms) that keeps the walker in the picture;
:func:`place_crowd` decides where the other walkers go.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from gait_tf.synth.render import Camera, MovingCamera

UP = np.array([0.0, 0.0, 1.0])
#: the walker's body (joints and head / feet) stays inside this fraction of the half-frame
FIT = 0.9
#: the walker is rendered at least this fraction of the image height tall (a longer lens
#: for far walkers; pixels, not the geometry, are what the renderer must not run out of)
MIN_HEIGHT_FRAC = 0.5
#: nearest horizontal distance between the camera and the walker (m)
MIN_RANGE = 2.0
#: the walker's farthest depth over its nearest within a sequence (the camera backs off
#: until it holds; real tracks of walkers approaching a camera grow about 3x)
MAX_DEPTH_RATIO = 2.5


@dataclass
class Shot:
    """How one sequence is filmed.

    view_deg: walking direction relative to the camera, CASIA-B convention (0 towards,
    90 side view to the image right, 180 away), negative when ``mirrored`` (walking to
    the image left). pass_offset_m: signed distance of the camera from the walking line's
    axis through the walk's middle, sideways to the walk (walks towards / away from the
    camera pass it obliquely). zoom: relative focal-length change from the first to the
    last frame (hand-held only). panned: a tripod that pans to follow the walker (set by
    :func:`shot_camera` when the walk does not fit the picture otherwise).
    """

    view_deg: float
    mirrored: bool
    elevation_deg: float
    distance_m: float
    fov_deg: float | None
    pass_offset_m: float
    handheld: bool
    zoom: float
    lag_s: float
    panned: bool = False

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def sample_shot(realism, rng: np.random.Generator, view: str) -> Shot:
    """Draw the shot of one sequence of nominal CASIA-B ``view`` (``"090"``)."""
    u = lambda r: float(rng.uniform(r[0], r[1]))  # noqa: E731
    jitter = float(rng.uniform(-1, 1)) * realism.view_jitter_deg
    theta = float(np.clip(float(view) + jitter, 0.0, 180.0))
    mirrored = bool(rng.uniform() < realism.mirror_prob)
    elevation = u(realism.elevation_deg)
    distance = u(realism.distance_m)
    fov = u(realism.fov_deg) if realism.fov_deg is not None else None
    offset = u(realism.pass_offset_m) * float(rng.choice([-1.0, 1.0]))
    handheld = bool(rng.uniform() < realism.handheld_prob)
    zoom = float(rng.uniform(-1, 1)) * realism.zoom if handheld else 0.0
    lag = float(rng.uniform(0.3, 0.9))
    return Shot(view_deg=-theta if mirrored else theta, mirrored=mirrored, elevation_deg=elevation,
                distance_m=distance, fov_deg=fov, pass_offset_m=offset, handheld=handheld, zoom=zoom, lag_s=lag)


def look_axes(fwd, roll=0.0):
    """Camera axes ``[..., 3, 3]`` (rows: image right, image down, viewing direction)
    looking along ``fwd [..., 3]`` with the horizon level, then rolled by ``roll`` radians."""
    fwd = np.asarray(fwd, np.float64)
    fwd = fwd / np.linalg.norm(fwd, axis=-1, keepdims=True)
    # right = fwd x up, down = fwd x right (written out: np.cross is slow on small arrays)
    right = np.stack([fwd[..., 1], -fwd[..., 0], np.zeros_like(fwd[..., 0])], -1)
    right = right / np.linalg.norm(right, axis=-1, keepdims=True)
    down = np.stack([fwd[..., 1] * right[..., 2] - fwd[..., 2] * right[..., 1],
                     fwd[..., 2] * right[..., 0] - fwd[..., 0] * right[..., 2],
                     fwd[..., 0] * right[..., 1] - fwd[..., 1] * right[..., 0]], -1)
    roll = np.asarray(roll, np.float64)[..., None]
    if np.any(roll):
        c, s = np.cos(roll), np.sin(roll)
        right, down = c * right + s * down, -s * right + c * down
    return np.stack([right, down, fwd], -2)


def _smooth_noise(rng, n, rho, rms, dims=1):
    """AR(1) noise ``[n, dims]`` with correlation ``rho`` per frame, scaled to ``rms``."""
    e = rng.standard_normal((n, dims))
    out = np.empty_like(e)
    out[0] = e[0]
    k = np.sqrt(1 - rho ** 2)
    for t in range(1, n):
        out[t] = rho * out[t - 1] + k * e[t]
    return out * rms


def _fit(cam, points, gain, image_size, body_height):
    """``(f_fit, f_min)``: the largest focal length that keeps ``points`` inside
    :data:`FIT` of the frame, and the one that makes the walker :data:`MIN_HEIGHT_FRAC`
    of the image height at its median depth (the camera's own ``f`` is ignored)."""
    h, w = image_size
    pc = cam.to_camera(points)
    z = np.maximum(pc[..., 2], 0.3)
    g = gain.reshape(len(gain), *([1] * (pc.ndim - 2)))
    umax = float(np.max(np.abs(g * pc[..., 0] / z)))
    vmax = float(np.max(np.abs(g * pc[..., 1] / z)))
    f_fit = min(FIT * (w / 2.0) / max(umax, 1e-6), FIT * (h / 2.0) / max(vmax, 1e-6))
    return f_fit, MIN_HEIGHT_FRAC * h * float(np.median(z)) / body_height


def shot_camera(shot: Shot, image_size, pelvis, points, body_height, rng: np.random.Generator,
                drift_m=0.0, shake_deg=0.0, fps=25.0):
    """The camera of ``shot`` for a walker whose pelvis is at ``pelvis [T, 3]`` (world)
    and whose body points ``points [T, K, 3]`` must stay in the picture.

    The camera looks at the middle of the walk from ``shot.distance_m`` (backing off until
    the walker never comes closer than :data:`MIN_RANGE` and its depth changes at most
    :data:`MAX_DEPTH_RATIO` times), standing ``shot.pass_offset_m`` to the side of the
    walking line. A tripod camera whose walk does not fit the picture with the walker at
    least :data:`MIN_HEIGHT_FRAC` of the image height pans smoothly to follow it
    (``shot.panned``); a hand-held one follows with a lag, drifts, shakes and zooms.

    Returns ``(camera, offsets)``: a :class:`Camera` (tripod) or :class:`MovingCamera`
    (panning or hand-held), and ``offsets float [T, 2]``, the apparent motion (px) of the
    far background caused by the camera's rotation (for :func:`~gait_tf.synth.render.compose_rgb`).
    """
    h, w = image_size
    n = len(pelvis)
    theta = np.radians(shot.view_deg)
    fwd_h = np.array([-np.cos(theta), np.sin(theta), 0.0])
    z_aim = 0.55 * body_height
    mid = pelvis[(n - 1) // 2]
    walk = pelvis[-1, :2] - pelvis[0, :2]
    norm = float(np.linalg.norm(walk))
    side = np.array([-walk[1], walk[0]]) / norm if norm > 1e-6 else np.array([0.0, 1.0])
    aim = np.array([mid[0], mid[1], z_aim])
    d = float(shot.distance_m)
    for _ in range(40):  # back off until the walk never comes closer than MIN_RANGE and
        # its apparent size changes at most MAX_DEPTH_RATIO times
        cam_xy = aim[:2] - d * fwd_h[:2] + shot.pass_offset_m * side
        sight = aim[:2] - cam_xy
        sight = sight / np.linalg.norm(sight)
        rng_xy = np.linalg.norm(pelvis[:, :2] - cam_xy, axis=1)
        depth = (pelvis[:, :2] - cam_xy) @ sight
        if rng_xy.min() >= MIN_RANGE and depth.min() >= 0.8 * MIN_RANGE \
                and depth.max() <= MAX_DEPTH_RATIO * depth.min():
            break
        d *= 1.12
    dist = float(np.linalg.norm(aim[:2] - cam_xy))
    cam_h = z_aim + dist * np.tan(np.radians(shot.elevation_deg))
    position = np.array([cam_xy[0], cam_xy[1], cam_h])
    if shot.fov_deg is None:
        f0 = 0.58 * h * dist / 1.7
    else:
        f0 = (w / 2.0) / np.tan(np.radians(shot.fov_deg) / 2.0)
    targets = np.concatenate([pelvis[:, :2], np.full((n, 1), z_aim)], 1)  # [T, 3] what a follower aims at
    if not shot.handheld:
        axes = look_axes(aim - position)
        cam = Camera(view=float(shot.view_deg), f=1.0, cx=w / 2.0, cy=h / 2.0, position=position, axes=axes,
                     distance=dist)
        gain = np.ones(n)
        f_fit, f_min = _fit(cam, points, gain, image_size, body_height)
        if f_fit < f_min and n > 1:
            # pan (smoothly, no lag): a 0.5 s running mean of the walker's position
            k = max(1, int(round(0.25 * fps)))
            pad = np.concatenate([np.repeat(targets[:1], k, 0), targets, np.repeat(targets[-1:], k, 0)])
            kernel = np.ones(2 * k + 1) / (2 * k + 1)
            follow = np.stack([np.convolve(pad[:, i], kernel, mode="valid") for i in range(3)], -1)
            axes = look_axes(follow - position)
            cam = MovingCamera(view=float(shot.view_deg), f=np.ones(n), cx=w / 2.0, cy=h / 2.0,
                               position=np.repeat(position[None], n, 0), axes=axes, distance=dist)
            shot.panned = True
            f_fit, f_min = _fit(cam, points, gain, image_size, body_height)
    else:
        # the operator follows the walker (exponential lag), drifts, shakes and zooms
        alpha = 1.0 - np.exp(-1.0 / (shot.lag_s * fps))
        follow = np.empty((n, 3))
        follow[0] = 0.5 * (aim + targets[0])
        for t in range(1, n):
            follow[t] = follow[t - 1] + alpha * (targets[t] - follow[t - 1])
        pos = position[None] + _smooth_noise(rng, n, 0.97, drift_m, 3) * np.array([1.0, 1.0, 0.3])
        shake = np.radians(shake_deg) * (0.7 * _smooth_noise(rng, n, 0.6, 1.0, 3)
                                         + 0.7 * _smooth_noise(rng, n, 0.95, 1.0, 3))
        base = look_axes(follow - pos, roll=shake[:, 2])                   # [T, 3, 3]
        fwd = base[:, 2] + shake[:, :1] * base[:, 0] + shake[:, 1:2] * base[:, 1]
        axes = look_axes(fwd, roll=shake[:, 2])
        gain = 1.0 + shot.zoom * np.linspace(0.0, 1.0, n)
        cam = MovingCamera(view=float(shot.view_deg), f=gain.copy(), cx=w / 2.0, cy=h / 2.0, position=pos,
                           axes=axes, distance=dist)
        f_fit, f_min = _fit(cam, points, gain, image_size, body_height)
    f = min(max(f0, f_min), f_fit)
    moving = isinstance(cam, MovingCamera)
    cam.f = f * gain if moving else float(f)
    # apparent motion of the far background: a point far along the first view direction
    far = position + 1e3 * (axes[0][2] if moving else axes[2])
    uv, _ = cam.project(np.broadcast_to(far, (n, 3)) if moving else far[None])
    offsets = np.stack([w / 2.0 - uv[..., 0], h / 2.0 - uv[..., 1]], -1).reshape(-1, 2)
    offsets = np.broadcast_to(offsets, (n, 2)) - offsets[:1]
    return cam, np.ascontiguousarray(offsets)


# ----------------------------------------------------------------------------- crowd

ROLES = ("occluder", "companion", "passer_by")


@dataclass
class Extra:
    """Where another walker goes: it is at ``anchor`` (world, ground) at frame
    ``anchor_frame``, walking along ``heading`` (radians, world)."""

    role: str
    anchor: np.ndarray
    anchor_frame: int
    heading: float


def place_crowd(realism, rng: np.random.Generator, pelvis, camera_xy, n_frames) -> list:
    """The other walkers of a sequence: ``realism.crowd`` of them, the first one an
    ``occluder`` with probability ``realism.occluder_prob`` (it crosses the line of sight
    between the camera and the walker around a random frame), the others ``companion``
    (walking alongside, 0.6-1.8 m to one side) or ``passer_by`` (further from the camera,
    any direction). ``pelvis [T, 3]`` is the target's path."""
    lo, hi = realism.crowd
    k = int(rng.integers(lo, hi + 1)) if hi > 0 else 0
    occluder = bool(rng.uniform() < realism.occluder_prob)
    k = max(k, 1) if occluder else k
    walk_dir = pelvis[-1, :2] - pelvis[0, :2]
    walk_heading = float(np.arctan2(walk_dir[1], walk_dir[0])) if np.linalg.norm(walk_dir) > 1e-6 else 0.0
    out = []
    for i in range(k):
        role = "occluder" if (i == 0 and occluder) else str(rng.choice(ROLES[1:]))
        if role == "occluder":
            t = int(rng.integers(int(0.15 * n_frames), max(int(0.15 * n_frames) + 1, int(0.85 * n_frames))))
            p = pelvis[t, :2]
            sight = camera_xy - p
            anchor = p + float(rng.uniform(0.2, 0.55)) * sight
            across = np.arctan2(sight[1], sight[0]) + np.pi / 2
            heading = float(across + rng.uniform(-0.5, 0.5) + (np.pi if rng.uniform() < 0.5 else 0.0))
        elif role == "companion":
            t = int(rng.integers(0, n_frames))
            side = np.array([-np.sin(walk_heading), np.cos(walk_heading)])
            along = np.array([np.cos(walk_heading), np.sin(walk_heading)])
            anchor = pelvis[t, :2] + side * float(rng.choice([-1, 1]) * rng.uniform(0.6, 1.8)) \
                + along * float(rng.uniform(-1.0, 1.0))
            heading = walk_heading + float(rng.normal(0, 0.08))
        else:
            t = int(rng.integers(0, n_frames))
            p = pelvis[t, :2]
            away = p - camera_xy
            dist = np.linalg.norm(away)
            away = away / max(dist, 1e-6)
            lateral = np.array([-away[1], away[0]])
            anchor = p + away * float(rng.uniform(1.0, 6.0)) + lateral * float(rng.uniform(-0.4, 0.4)) * dist
            heading = float(rng.uniform(-np.pi, np.pi))
        out.append(Extra(role=role, anchor=np.asarray(anchor, np.float64), anchor_frame=t, heading=heading))
    return out


def rigid(heading: float, shift):
    """``to_world(x, rotation=False)``: rotate walk-frame points ``[..., 3]`` by ``heading``
    about ``z`` and add ``shift`` (or rotate rotation matrices ``[T, 3, 3]``)."""
    c, s = np.cos(heading), np.sin(heading)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    shift = np.asarray(shift, np.float64)

    def to_world(x, rotation=False):
        if rotation:
            return np.einsum("ij,tjk->tik", rot, x)
        return x @ rot.T + shift

    return to_world
