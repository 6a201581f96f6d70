"""Camera, body primitives and the rasterizer of the synthetic walkers.

The body is a set of convex volumes: tapered capsules (the convex hull of two
spheres), ellipsoids (torso, hips, head, hair) and boxes (bags). Under a pinhole
camera with the weak-perspective approximation *per primitive* these project exactly
to simple 2D convex shapes: a sphere to a circle of radius ``f r / z``, a hull of
spheres to the hull of their circles, an ellipsoid to an ellipse (``P Σ Pᵀ``), a box
to the hull of its 8 projected corners. Each shape is sampled as a polygon, its convex
hull filled with OpenCV (``cv2.fillConvexPoly``, 1/16-pixel precision) into a *label
image* in painter's order (far to near by camera depth). The label image gives the
silhouette (label > 0), the RGB frame (a per-primitive colour palette over the
background) and the joint visibility (a joint is hidden when the nearest primitive at
its pixel is not one of the parts it belongs to).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from gait_tf.synth.body import J, Appearance, BagParams, BodyShape, CoatParams
from gait_tf.synth.kinematics import Pose

_SHIFT = 4
_SCALE = float(1 << _SHIFT)
_K = 16  # polygon vertices per circle / ellipse
_NEAR = 0.5  # metres: primitives closer to the camera than this are not drawn
_UNIT = np.stack([np.cos(np.linspace(0, 2 * np.pi, _K, endpoint=False)),
                  np.sin(np.linspace(0, 2 * np.pi, _K, endpoint=False))], -1)  # [K, 2]


@dataclass
class Camera:
    """Pinhole camera looking horizontally at the walking line.

    view: degrees, CASIA-B convention: 0 = the subject walks towards the camera,
    90 = side view (walking to the image right), 180 = walking away.
    axes: ``[3, 3]`` rows = image right, image down, viewing direction (world).
    """

    view: float
    f: float
    cx: float
    cy: float
    position: np.ndarray
    axes: np.ndarray
    distance: float

    def to_camera(self, points):
        """World points ``[..., 3]`` -> camera coordinates ``[..., 3]`` (x right, y down, z depth)."""
        return (np.asarray(points) - self.position) @ self.axes.T

    def project(self, points):
        """World points ``[..., 3]`` -> (pixels ``[..., 2]``, depth ``[...]`` in metres)."""
        pc = self.to_camera(points)
        z = np.maximum(pc[..., 2], 1e-3)
        uv = np.stack([self.cx + self.f * pc[..., 0] / z, self.cy + self.f * pc[..., 1] / z], -1)
        return uv, z


def make_camera(view_deg: float, image_size, distance: float = 7.0, height: float = 0.95,
                fill: float = 0.58, ref_height: float = 1.7) -> Camera:
    """Camera for a CASIA-B view. ``fill``: fraction of the image height taken by a
    ``ref_height`` person standing on the walking line at ``distance`` metres."""
    h, w = image_size
    th = np.radians(view_deg)
    fwd = np.array([-np.cos(th), np.sin(th), 0.0])
    up = np.array([0.0, 0.0, 1.0])
    right = np.cross(fwd, up)
    down = np.cross(fwd, right)
    f = fill * h * distance / ref_height
    position = -distance * fwd + height * up
    return Camera(view=float(view_deg), f=float(f), cx=w / 2.0, cy=h / 2.0 - 0.02 * h,
                  position=position, axes=np.stack([right, down, fwd]), distance=distance)


# ----------------------------------------------------------------------------- primitives

@dataclass
class Primitive:
    """One convex volume over ``T`` frames.

    kind: ``"spheres"`` (hull of spheres: ``centres`` list of ``[T, 3]``, ``radii`` list of
    floats), ``"ellipsoid"`` (``centres[0]`` ``[T, 3]``, ``rot`` ``[T, 3, 3]``, ``axes`` 3
    semi-axes) or ``"box"`` (same, half sizes). colour: key of :class:`Appearance`.
    depth_bias: metres subtracted from the depth for painter's order (outer clothing).
    """

    name: str
    kind: str
    centres: list
    radii: list = None
    rot: np.ndarray = None
    axes: tuple = None
    colour: str = "top"
    depth_bias: float = 0.0


def _lerp(a, b, s):
    return a + s * (b - a)


def _rot_apply(rot, v):
    return np.einsum("tij,j->ti", rot, np.asarray(v, dtype=np.float64))


def build_primitives(body: BodyShape, pose: Pose, bag: BagParams | None = None,
                     coat: CoatParams | None = None) -> list:
    """The body volumes (walk frame) for a pose; ``bag`` / ``coat`` add the carried bag or coat."""
    jt = pose.joints
    ex = pose.extra
    P = lambda name: jt[:, J[name]]  # noqa: E731
    b = body
    rt, rp, rh = pose.frames["torso"], pose.frames["pelvis"], pose.frames["head"]
    pelvis = P("pelvis")
    loose = coat.looseness if coat else 1.0
    sleeve = coat.sleeve if coat else 1.0
    torso_col = "coat" if coat else "top"
    prims = []
    for s, side in (("r", "right"), ("l", "left")):
        hip, knee, ankle = P(f"{side}_hip"), P(f"{side}_knee"), P(f"{side}_ankle")
        prims += [
            Primitive(f"thigh_{s}", "spheres", [hip, knee], [b.r_thigh, b.r_knee], colour="trousers"),
            Primitive(f"shank_{s}", "spheres", [knee, ankle], [b.r_knee * 0.95, b.r_ankle], colour="trousers"),
            Primitive(f"foot_{s}", "spheres", [ex[f"heel_{s}"], ex[f"toe_{s}"]], [b.r_foot, b.r_foot * 0.75],
                      colour="shoes"),
        ]
        sh, el, wr = P(f"{side}_shoulder"), P(f"{side}_elbow"), P(f"{side}_wrist")
        prims += [
            Primitive(f"upper_arm_{s}", "spheres", [sh, el], [b.r_upper_arm * sleeve, b.r_elbow * sleeve],
                      colour=torso_col),
            Primitive(f"forearm_{s}", "spheres", [el, wr], [b.r_elbow * 0.95 * sleeve, b.r_wrist * sleeve],
                      colour=torso_col),
            Primitive(f"hand_{s}", "spheres", [wr, ex[f"hand_{s}"]], [b.r_wrist * 0.9, b.r_wrist * 0.75],
                      colour="skin"),
        ]
    thorax = P("thorax")
    prims += [
        Primitive("hips", "ellipsoid", [pelvis + _rot_apply(rp, [0, 0, 0.01 * b.height])], rot=rp,
                  axes=tuple(a * loose ** 0.5 for a in b.hips), colour="coat" if coat else "trousers"),
        Primitive("belly", "ellipsoid", [pelvis + _rot_apply(rt, [0.004 * b.height, 0, 0.36 * b.torso])], rot=rt,
                  axes=(b.belly[0] * loose, b.belly[1] * loose, b.belly[2]), colour=torso_col),
        Primitive("chest", "ellipsoid", [pelvis + _rot_apply(rt, [0, 0, 0.74 * b.torso])], rot=rt,
                  axes=(b.chest[0] * loose, b.chest[1] * loose ** 0.5, b.chest[2]), colour=torso_col),
        Primitive("shoulders", "spheres", [P("right_shoulder"), thorax, P("left_shoulder")],
                  [b.r_upper_arm * 1.15 * sleeve, b.r_neck * 1.2, b.r_upper_arm * 1.15 * sleeve], colour=torso_col),
        Primitive("neck", "spheres", [thorax, P("upper_neck")],
                  [b.r_neck + (coat.collar if coat else 0.0), b.r_neck * 0.9], colour="skin"),
        Primitive("head", "ellipsoid", [ex["head_centre"]], rot=rh, axes=b.head_axes, colour="skin"),
    ]
    hx, hy, hz = b.head_axes
    if b.long_hair > 0:
        hair_c = ex["head_centre"] + _rot_apply(rh, [-0.45 * hx, 0, 0.35 * hz - 0.5 * b.long_hair])
        prims.append(Primitive("hair", "ellipsoid", [hair_c], rot=rh,
                               axes=(0.6 * hx, 0.95 * hy, 0.5 * b.long_hair + 0.6 * hz), colour="hair",
                               depth_bias=-0.02))
    else:
        hair_c = ex["head_centre"] + _rot_apply(rh, [-0.12 * hx, 0, 0.18 * hz])
        prims.append(Primitive("hair", "ellipsoid", [hair_c], rot=rh, axes=(0.95 * hx, 1.02 * hy, 0.85 * hz),
                               colour="hair", depth_bias=-0.01))
    if coat is not None:
        hems = []
        for side in ("right", "left"):
            hip, knee, ankle = P(f"{side}_hip"), P(f"{side}_knee"), P(f"{side}_ankle")
            hems.append(_lerp(hip, knee, coat.hem) if coat.hem <= 1 else _lerp(knee, ankle, coat.hem - 1))
        r_top = b.hips[1] * loose * 0.55
        r_hem = b.r_thigh * coat.flare * 0.6
        prims.append(Primitive("coat", "spheres",
                               [P("right_hip") + _rot_apply(rt, [0, 0, 0.15 * b.torso]),
                                P("left_hip") + _rot_apply(rt, [0, 0, 0.15 * b.torso]), hems[0], hems[1]],
                               [r_top, r_top, r_hem, r_hem], colour="coat", depth_bias=0.12))
    if bag is not None:
        prims += _bag_primitives(b, pose, bag)
    return prims


def _bag_primitives(b: BodyShape, pose: Pose, bag: BagParams) -> list:
    jt, ex = pose.joints, pose.extra
    rt, rp = pose.frames["torso"], pose.frames["pelvis"]
    pelvis = jt[:, J["pelvis"]]
    d, w, h = bag.size
    side = "left" if bag.side > 0 else "right"
    other = "right" if bag.side > 0 else "left"
    swing = np.sin(2 * np.pi * ex["phase_r"])
    if bag.kind == "backpack":
        centre = pelvis + _rot_apply(rt, [-(b.chest[0] + 0.5 * d) * 0.95, 0, 0.62 * b.torso])
        out = [Primitive("bag", "box", [centre], rot=rt, axes=(0.5 * d, 0.5 * w, 0.5 * h), colour="bag")]
        for s in ("right", "left"):  # shoulder straps
            sh = jt[:, J[f"{s}_shoulder"]]
            lo = pelvis + _rot_apply(rt, [b.chest[0] * 0.6, (0.3 if s == "left" else -0.3) * b.shoulder_width,
                                          0.35 * b.torso])
            out.append(Primitive(f"strap_{s}", "spheres", [sh, lo], [0.015, 0.015], colour="bag", depth_bias=0.02))
        return out
    if bag.kind == "shoulder_bag":
        lateral = bag.side * (b.hips[1] + 0.5 * d + 0.01)
        centre = pelvis + _rot_apply(rp, [0.0, lateral, 0.02 * b.height * bag.hang])
        centre = centre + np.stack([0.04 * swing, np.zeros_like(swing), 0.01 * swing ** 2], -1)
        strap_top = jt[:, J[f"{other}_shoulder"]]
        return [Primitive("bag", "box", [centre], rot=rp, axes=(0.5 * w, 0.5 * d, 0.5 * h), colour="bag"),
                Primitive("strap", "spheres", [strap_top, centre + np.array([0, 0, 0.5 * h])], [0.016, 0.016],
                          colour="bag", depth_bias=0.02)]
    # handbag hanging from the hand
    hand = ex[f"hand_{'l' if side == 'left' else 'r'}"]
    centre = hand - np.array([0.0, 0.0, 0.05 + 0.5 * h * bag.hang])
    rot = np.broadcast_to(np.eye(3), (len(pelvis), 3, 3))
    return [Primitive("bag", "box", [centre], rot=rot, axes=(0.5 * w, 0.5 * d, 0.5 * h), colour="bag"),
            Primitive("handle", "spheres", [hand, centre + np.array([0, 0, 0.5 * h])], [0.012, 0.012],
                      colour="bag")]


#: which primitives a joint belongs to (visible when one of them is frontmost at its pixel)
_JOINT_PARTS = {
    "right_ankle": ("shank_r", "foot_r"), "right_knee": ("thigh_r", "shank_r"),
    "right_hip": ("thigh_r", "hips", "belly", "coat"), "left_hip": ("thigh_l", "hips", "belly", "coat"),
    "left_knee": ("thigh_l", "shank_l"), "left_ankle": ("shank_l", "foot_l"),
    "pelvis": ("hips", "belly", "thigh_r", "thigh_l", "coat"),
    "thorax": ("chest", "shoulders", "neck", "belly", "strap_right", "strap_left", "strap"),
    "upper_neck": ("neck", "head", "chest", "hair", "shoulders"), "head_top": ("head", "hair"),
    "right_wrist": ("forearm_r", "hand_r", "handle"), "right_elbow": ("upper_arm_r", "forearm_r"),
    "right_shoulder": ("upper_arm_r", "chest", "shoulders", "strap_right", "strap"),
    "left_shoulder": ("upper_arm_l", "chest", "shoulders", "strap_left", "strap"),
    "left_elbow": ("upper_arm_l", "forearm_l"), "left_wrist": ("forearm_l", "hand_l", "handle"),
}


def _project_primitive(prim: Primitive, cam: Camera, to_world):
    """-> (polygon points ``[T, M, 2]`` in pixels, depth ``[T]``)."""
    if prim.kind == "spheres":
        cs = np.stack([to_world(c) for c in prim.centres], 1)              # [T, n, 3]
        uv, z = cam.project(cs)                                            # [T, n, 2], [T, n]
        r = cam.f * np.asarray(prim.radii)[None, :] / z                    # [T, n]
        pts = uv[:, :, None, :] + r[:, :, None, None] * _UNIT[None, None]  # [T, n, K, 2]
        return pts.reshape(len(pts), -1, 2), z.mean(1)
    centre = to_world(prim.centres[0])
    rot = to_world(prim.rot, rotation=True)                                # [T, 3, 3]
    a = np.asarray(prim.axes, dtype=np.float64)
    uv, z = cam.project(centre)
    if prim.kind == "ellipsoid":
        m = np.einsum("ij,tjk->tik", cam.axes, rot) * a[None, None, :]     # camera-frame axes, scaled
        cov = np.einsum("tik,tjk->tij", m, m)[:, :2, :2]                   # projected shape matrix
        chol = np.linalg.cholesky(cov + 1e-12 * np.eye(2))
        s = cam.f / z
        pts = uv[:, None, :] + s[:, None, None] * np.einsum("tij,kj->tki", chol, _UNIT)
        return pts, z
    # box: the hull of its 8 projected corners
    signs = np.array([[x, y, zz] for x in (-1, 1) for y in (-1, 1) for zz in (-1, 1)], np.float64)
    corners = centre[:, None, :] + np.einsum("tij,kj->tki", rot, signs * a)
    pts, _ = cam.project(corners)
    return pts, z


@dataclass
class RenderResult:
    labels: np.ndarray       # uint8 [T, H, W], 0 = background, i + 1 = primitive i
    joints: np.ndarray       # float32 [T, 16, 3] (x, y, visible)
    depth: np.ndarray        # float32 [T, P] camera depth of each primitive (m)
    names: list              # primitive names, index i <-> label i + 1
    keypoints: np.ndarray | None = None  # float32 [T, 17, 3] COCO-17 (x, y, score)


def rasterize(prims: list, pose: Pose, cam: Camera, image_size, to_world) -> RenderResult:
    """Draw the primitives of every frame into label images; project and test joints."""
    h, w = image_size
    n = len(pose.joints)
    polys, depths = [], []
    for p in prims:
        pts, z = _project_primitive(p, cam, to_world)
        polys.append(np.round(np.clip(pts, -4 * (w + h), 4 * (w + h)) * _SCALE).astype(np.int32))
        depths.append(z - p.depth_bias)
    depth = np.stack(depths, 1)                                            # [T, P]
    order = np.argsort(-depth, axis=1)                                     # far to near
    labels = np.zeros((n, h, w), np.uint8)
    for t in range(n):
        img = labels[t]
        for i in order[t]:
            if depth[t, i] < _NEAR:  # at or behind the camera (very long walks towards it)
                continue
            hull = cv2.convexHull(polys[i][t])
            cv2.fillConvexPoly(img, hull, int(i) + 1, cv2.LINE_8, _SHIFT)

    uv, _ = cam.project(to_world(pose.joints))                             # [T, 16, 2]
    names = [p.name for p in prims]
    xi = np.round(uv[..., 0]).astype(np.int64)
    yi = np.round(uv[..., 1]).astype(np.int64)
    _, jz = cam.project(to_world(pose.joints))
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h) & (jz >= _NEAR)
    lab = labels[np.arange(n)[:, None], np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]  # [T, 16]
    own = np.zeros((16, len(prims) + 1), bool)
    own[:, 0] = True                                                        # on no part: nothing hides it
    for j, parts in _JOINT_PARTS.items():
        for k, name in enumerate(names):
            if name in parts:
                own[J[j], k + 1] = True
    visible = inside & own[np.arange(16)[None, :], lab]
    joints = np.concatenate([uv, visible[..., None]], -1).astype(np.float32)
    keypoints = coco17_keypoints(pose, cam, to_world, labels, names, joints)
    return RenderResult(labels=labels, joints=joints, depth=depth.astype(np.float32), names=names,
                        keypoints=keypoints)


#: COCO-17 body keypoints taken from the MPII joints (COCO index -> MPII name)
_COCO_FROM_MPII = {5: "left_shoulder", 6: "right_shoulder", 7: "left_elbow", 8: "right_elbow", 9: "left_wrist",
                   10: "right_wrist", 11: "left_hip", 12: "right_hip", 13: "left_knee", 14: "right_knee",
                   15: "left_ankle", 16: "right_ankle"}
#: the face keypoints in the head frame (x forward, y left, z up), in units of the head size
#: (upper neck -> head top) from the head centre: nose, left/right eye, left/right ear
_FACE = ((0.42, 0.0, -0.08), (0.36, 0.14, 0.06), (0.36, -0.14, 0.06), (0.02, 0.3, 0.0), (0.02, -0.3, 0.0))
#: scores of the synthetic "detector": visible / hidden (occluded or facing away) keypoints
SCORE_VISIBLE, SCORE_HIDDEN = 0.95, 0.45


def coco17_keypoints(pose: Pose, cam: Camera, to_world, labels, names, joints) -> np.ndarray:
    """COCO-17 keypoints ``float32 [T, 17, 3]`` (x, y pixels, score), as a pose estimator would
    report them: the 12 limb joints are the MPII ones (score :data:`SCORE_VISIBLE` when visible,
    :data:`SCORE_HIDDEN` when occluded); nose, eyes and ears are placed on the head
    (:data:`_FACE`) and count as visible when they face the camera and are not covered."""
    n = len(pose.joints)
    h, w = labels.shape[1:]
    out = np.zeros((n, 17, 3), np.float32)
    for c, name in _COCO_FROM_MPII.items():
        j = joints[:, J[name]]
        out[:, c, :2] = j[:, :2]
        out[:, c, 2] = np.where(j[:, 2] > 0, SCORE_VISIBLE, SCORE_HIDDEN)
    head = pose.frames["head"]                                              # [T, 3, 3]
    size = np.linalg.norm(pose.joints[:, J["head_top"]] - pose.joints[:, J["upper_neck"]], axis=-1)[:, None]
    centre = pose.extra["head_centre"]
    own = np.array([name in ("head", "hair") for name in names])
    rot = to_world(np.eye(3)[None], rotation=True)[0]                      # walk -> world rotation
    for c, offset in enumerate(_FACE):
        local = np.einsum("tij,j->ti", head, np.asarray(offset)) * size        # [T, 3]
        point = centre + local
        uv, z = cam.project(to_world(point))
        normal = local @ rot.T                                               # outward, world frame
        towards = cam.position - to_world(point)
        facing = np.einsum("ti,ti->t", normal, towards) > 0
        xi, yi = np.round(uv[:, 0]).astype(np.int64), np.round(uv[:, 1]).astype(np.int64)
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h) & (z >= _NEAR)
        lab = labels[np.arange(n), np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
        on_head = np.where(lab > 0, own[np.maximum(lab, 1) - 1], False)
        out[:, c, :2] = uv
        out[:, c, 2] = np.where(inside & facing & on_head, SCORE_VISIBLE, SCORE_HIDDEN)
    return out



# ----------------------------------------------------------------------------- colour

def _smooth_noise(rng, h, w, cells, octaves=3):
    out = np.zeros((h, w), np.float32)
    amp = 1.0
    for o in range(octaves):
        gh, gw = max(2, cells * 2 ** o * h // max(h, w)), max(2, cells * 2 ** o * w // max(h, w))
        grid = rng.standard_normal((gh, gw)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        amp *= 0.5
    return out


def make_background(rng: np.random.Generator, image_size, margin: int) -> np.ndarray:
    """A textured scene (wall with panels and a tiled floor), ``uint8 [H+2m, W+2m, 3]``."""
    h, w = image_size
    H, W = h + 2 * margin, w + 2 * margin
    horizon = int(H * rng.uniform(0.55, 0.72))
    wall = np.asarray(rng.uniform(60, 200, 3), np.float32)
    floor = np.asarray(rng.uniform(40, 160, 3), np.float32)
    img = np.empty((H, W, 3), np.float32)
    img[:horizon] = wall
    img[horizon:] = floor
    for _ in range(int(rng.integers(3, 8))):  # panels, doors, posters
        x0, y0 = int(rng.integers(0, W)), int(rng.integers(0, max(1, horizon - 10)))
        pw, ph = int(rng.integers(W // 20 + 2, W // 4 + 3)), int(rng.integers(H // 12 + 2, H // 2.5 + 3))
        img[y0:min(horizon, y0 + ph), x0:x0 + pw] = rng.uniform(30, 230, 3)
    ys = np.arange(H - horizon, dtype=np.float32)[:, None]
    xs = np.arange(W, dtype=np.float32)[None, :]
    period = max(4.0, W / rng.uniform(6, 14))
    tiles = ((((xs - W / 2) * (H * 0.4) / (ys + H * 0.15)) // period + (ys ** 0.8 // 6)) % 2)
    img[horizon:] *= (0.85 + 0.15 * tiles)[..., None]
    tex = _smooth_noise(rng, H, W, cells=8)
    img *= (1.0 + 0.12 * tex)[..., None]
    img += rng.normal(0, 2.5, (H, W, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


BACKGROUNDS = ("static", "moving", "flicker", "moving+flicker")


def compose_rgb(labels: np.ndarray, depth: np.ndarray, prim_colours: np.ndarray, background: np.ndarray,
                margin: int, mode: str, rng: np.random.Generator) -> np.ndarray:
    """RGB frames ``uint8 [T, H, W, 3]``: primitive colours (shaded by depth, textured)
    over the background, which pans (``moving``) and/or flickers (``flicker``: global
    illumination gain + sensor noise on the whole frame)."""
    n, h, w = labels.shape
    moving = "moving" in mode
    flicker = "flicker" in mode
    texture = (1.0 + 0.07 * _smooth_noise(rng, h, w, cells=max(4, w // 10), octaves=2)).astype(np.float32)
    out = np.empty((n, h, w, 3), np.uint8)
    ph = rng.uniform(0, 2 * np.pi, 4)
    rel = depth - np.median(depth, axis=1, keepdims=True)
    shade = np.clip(1.0 - 0.35 * np.clip(rel / 0.3, -1, 1), 0.5, 1.2)    # far parts darker
    pad = 8
    noise = rng.normal(0, 4.0, (3, h + pad, w + pad, 1)).astype(np.float32) if flicker else None
    offsets = rng.integers(0, pad + 1, (n, 2)) if flicker else None
    for t in range(n):
        if moving:
            dx = int(round(margin * (0.6 * np.sin(0.21 * t + ph[0]) + 0.4 * np.sin(0.67 * t + ph[1]))))
            dy = int(round(0.5 * margin * np.sin(0.33 * t + ph[2])))
        else:
            dx = dy = 0
        frame = out[t]
        frame[...] = background[margin + dy: margin + dy + h, margin + dx: margin + dx + w]
        lab = labels[t]
        ys, xs = np.nonzero(lab)
        pal = prim_colours * shade[t][:, None]                               # [P, 3]
        person = pal[lab[ys, xs].astype(np.intp) - 1] * texture[ys, xs, None]
        frame[ys, xs] = np.clip(person, 0, 255).astype(np.uint8)
        if flicker:
            gain = 1.0 + 0.12 * np.sin(1.3 * t + ph[3]) + rng.normal(0, 0.04)
            oy, ox = offsets[t]
            nz = noise[t % 3, oy: oy + h, ox: ox + w]
            frame[...] = np.clip(frame * np.float32(gain) + nz, 0, 255).astype(np.uint8)
    return out


def primitive_colours(prims: list, appearance: Appearance) -> np.ndarray:
    """``float32 [P, 3]`` colour of each primitive from its ``colour`` key."""
    return np.asarray([getattr(appearance, p.colour) for p in prims], np.float32)
