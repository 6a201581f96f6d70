"""``WalkerGenerator``: deterministic synthetic CASIA-B-like walking sequences.

Randomness is layered like a real recording session:

- ``(seed, "subject", subject)``: the subject's body, gait, clothes, bag and coat;
- ``(seed, "walk", subject, condition)``: this walk's small variation of the gait, its
  start phase, heading and walking line (shared by all 11 views, which in CASIA-B
  film the same walk at the same time);
- ``(seed, "view", subject, condition, view)``: camera jitter, texture and background
  motion of this recording;
- ``(seed, "scene", view)``: the background scene of a camera.

With realism options on (:mod:`gait_tf.synth.realism`, e.g. ``realism="realistic"``)
four more streams decide what CASIA-B lacks, so the ones above draw exactly what they
drew before:

- ``(seed, "subject+", subject)``: extra body-shape variety, the everyday outfit, a more
  varied coat and the subject's bag;
- ``(seed, "walk+", subject, condition)``: the walk's length and what it carries;
- ``(seed, "shot", subject, condition, view)``: the camera (elevation, distance, field of
  view, direction jitter, mirroring, hand-held motion) and the other walkers;
- ``(seed, "frontend", subject, condition, view)``: the front-end errors.

All seeds come from a blake2b hash of those tuples (``body.stable_rng``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from gait_tf.errors import ConfigError
from gait_tf.synth.body import (
    JOINT_NAMES,
    Appearance,
    BagParams,
    BodyShape,
    CoatParams,
    sample_appearance,
    sample_bag,
    sample_body,
    sample_coat,
    stable_rng,
)
from gait_tf.synth.kinematics import FPS, GaitParams, condition_gait, sample_gait, vary_gait, walk_pose
from gait_tf.synth.realism import Realism, get_realism
from gait_tf.synth.render import (
    BACKGROUNDS,
    build_primitives,
    compose_rgb,
    make_background,
    make_camera,
    primitive_colours,
    rasterize,
    rasterize_scene,
)

VIEWS = tuple(f"{v:03d}" for v in range(0, 181, 18))
CONDITIONS = tuple([f"nm-{i:02d}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"])
MIN_FRAMES, MAX_FRAMES = 30, 120


@dataclass
class SubjectParams:
    """Everything that makes a subject: body, gait, colours, bag, coat (and, with
    ``realism.clothing``, the everyday outfit)."""

    subject: int
    body: BodyShape
    gait: GaitParams
    appearance: Appearance
    bag: BagParams
    coat: CoatParams
    outfit: object = None


@dataclass
class WalkerSequence:
    """One rendered sequence.

    silhouettes: ``uint8 [T, H, W]`` 0/255; rgb: ``uint8 [T, H, W, 3]`` (None when
    rendered with ``rgb=False``); masks: ``bool [T, H, W]`` (== silhouettes > 0);
    joints: ``float32 [T, 16, 3]`` (x, y in pixels, visible 0/1) in MPII order.
    With other walkers in the scene the silhouettes are the walker's *visible* pixels
    and ``others`` (``bool [T, H, W]``) the other people's; ``frontend`` (``uint8
    [T, H, W]`` 0/255, None without ``realism.frontend_errors``) is the walker's
    silhouette as our real front end would deliver it (lost frames are empty).
    ``face``: ``float32 [T, 5, 3]`` nose, left eye, right eye, left ear, right ear
    (x, y, visible), which with ``joints`` gives COCO-17 (:meth:`coco17`).
    ``keypoints`` (property): COCO-17 ``float32 [T, 17, 3]`` (x, y, score 0.95 visible / 0.45
    hidden) as a COCO pose estimator reports them (SkeletonGait's input), from :meth:`coco17`.
    """

    subject: str
    condition: str
    view: str
    silhouettes: np.ndarray
    masks: np.ndarray
    joints: np.ndarray
    rgb: np.ndarray | None = None
    fps: float = FPS
    meta: dict = field(default_factory=dict)
    others: np.ndarray | None = None
    frontend: np.ndarray | None = None
    face: np.ndarray | None = None

    def __len__(self):
        return len(self.silhouettes)

    @property
    def keypoints(self) -> np.ndarray:
        """``float32 [T, 17, 3]`` COCO-17 (x, y, score): what a COCO pose estimator reports -
        score 0.95 for a visible point, 0.45 for a hidden one (SkeletonGait's input)."""
        kp = self.coco17()
        return np.concatenate([kp[..., :2], np.where(kp[..., 2:] > 0, 0.95, 0.45)], -1).astype(np.float32)

    def coco17(self) -> np.ndarray:
        """``float32 [T, 17, 3]`` COCO-17 keypoints (x, y, visible): the five face points
        of ``face`` then shoulders, elbows, wrists, hips, knees, ankles from ``joints``."""
        if self.face is None:
            raise ConfigError("coco17: this sequence has no face points")
        from gait_tf.synth.body import J

        body = [J[f"{side}_{part}"] for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
                for side in ("left", "right")]
        return np.concatenate([self.face, self.joints[:, body]], 1).astype(np.float32)


# ----------------------------------------------------------------------------- argument checks

def check_subject(subject) -> int:
    """``1`` / ``"001"`` -> 1; ConfigError naming ``subject`` otherwise."""
    try:
        value = int(str(subject).strip())
    except (TypeError, ValueError):
        raise ConfigError(f"subject: expected a positive integer such as 1 or '001', got {subject!r}") from None
    if value < 1:
        raise ConfigError(f"subject: must be >= 1, got {subject!r}")
    return value


def check_condition(condition) -> str:
    c = str(condition).strip().lower()
    if c not in CONDITIONS:
        raise ConfigError(f"condition: unknown condition {condition!r}; expected one of {', '.join(CONDITIONS)}")
    return c


def check_view(view) -> str:
    s = str(view).strip()
    v = f"{int(s):03d}" if s.isdigit() else s
    if v not in VIEWS:
        raise ConfigError(f"view: unknown view {view!r}; expected one of {', '.join(VIEWS)} (degrees)")
    return v


def check_image_size(image_size) -> tuple:
    try:
        h, w = (int(x) for x in image_size)
    except (TypeError, ValueError):
        raise ConfigError(f"image_size: expected (height, width), got {image_size!r}") from None
    if h < 32 or w < 32 or h > 2048 or w > 2048:
        raise ConfigError(f"image_size: height and width must be in 32..2048, got {image_size!r}")
    return h, w


def check_background(background) -> str:
    if background not in BACKGROUNDS:
        raise ConfigError(f"background: unknown mode {background!r}; expected one of {', '.join(BACKGROUNDS)}")
    return background


# ----------------------------------------------------------------------------- generator

class WalkerGenerator:
    """Procedural walkers, deterministic for ``(seed, subject, condition, view)``.

    Args:
        seed: population seed: another seed gives other subjects.
        image_size: ``(H, W)`` of the frames; (240, 320) like CASIA-B. Smaller sizes
            render proportionally (the camera scales with H).
        background: RGB background mode: ``static`` | ``moving`` (camera shake / pan)
            | ``flicker`` (illumination flicker + sensor noise) | ``moving+flicker``.
        realism: a preset name (``"casia_b"``, the default: CASIA-B-like studio data,
            exactly as before realism options existed; ``"realistic"``: street / CCTV
            footage through our front end), a dict of :class:`~gait_tf.synth.realism.Realism`
            options (``{"preset": "realistic", "crowd": [0, 1]}``) or a ``Realism``.
    """

    def __init__(self, seed: int = 0, image_size=(240, 320), background: str = "static", realism=None):
        self.seed = int(seed)
        self.image_size = check_image_size(image_size)
        self.background = check_background(background)
        self.realism: Realism = get_realism(realism)

    def __repr__(self):
        extra = "" if self.realism.is_casia_b and self.realism.frontend_errors is None else ", realism=..."
        return (f"WalkerGenerator(seed={self.seed}, image_size={self.image_size}, "
                f"background={self.background!r}{extra})")

    @functools.lru_cache(maxsize=64)  # noqa: B019 - params are small and immutable per generator
    def subject_params(self, subject) -> SubjectParams:
        """The subject's body, gait, appearance, bag and coat."""
        s = check_subject(subject)
        r = self.realism
        rng = stable_rng(self.seed, "subject", s)
        body = sample_body(rng, r.body_variety)
        gait = sample_gait(rng, body, r.gait_variety)
        params = SubjectParams(subject=s, body=body, gait=gait, appearance=sample_appearance(rng),
                               bag=sample_bag(rng, body), coat=sample_coat(rng))
        if r.is_casia_b:
            return params
        from gait_tf.synth import wardrobe

        prng = stable_rng(self.seed, "subject+", s)
        params.body = wardrobe.vary_proportions(params.body, prng, r.body_variety)
        if r.clothing:
            params.outfit = wardrobe.sample_outfit(prng)
            params.coat = wardrobe.realistic_coat(params.coat, prng)
        if r.carry_prob > 0:
            params.bag = wardrobe.sample_carried(prng, params.body)
        return params

    def default_frames(self, subject, condition) -> int:
        """Frames needed to cross the field of view (about 1.8-2.5 gait cycles); with
        realism options, the walk's drawn length (1.6-4 s)."""
        return self._walk(check_subject(subject), check_condition(condition))[2]

    def _walk(self, s: int, condition: str):
        p = self.subject_params(s)
        rng = stable_rng(self.seed, "walk", s, condition)
        gait = condition_gait(vary_gait(p.gait, rng), condition, p.bag, p.coat)
        phase0 = float(rng.uniform(0, 1))
        heading = float(np.radians(rng.normal(0, 1.5)))
        offset = float(rng.normal(0, 0.12))
        speed = gait.stride * p.body.height * gait.cadence / 120.0
        if not self.realism.is_casia_b:
            # a real track: 1.6-4 s of walking; the walk may carry something
            wrng = stable_rng(self.seed, "walk+", s, condition)
            n = int(np.clip(round(wrng.uniform(1.6, 4.0) * FPS), MIN_FRAMES, MAX_FRAMES))
            carried = None
            if condition.startswith("bg"):
                carried = p.bag
            elif wrng.uniform() < self.realism.carry_prob:
                from gait_tf.synth.wardrobe import sample_carried

                carried = sample_carried(wrng, p.body)
                gait = condition_gait(gait, "bg-01", carried, None)
            return gait, (phase0, heading, offset), n, carried
        h, w = self.image_size
        cam = make_camera(90, self.image_size)
        path = 0.62 * (w / cam.f) * cam.distance                          # metres crossing the view
        n = int(np.clip(round(path / speed * FPS), MIN_FRAMES, MAX_FRAMES))
        return gait, (phase0, heading, offset), n

    def sequence(self, subject, condition, view, n_frames: int | None = None, rgb: bool = True,
                 background: str | None = None) -> WalkerSequence:
        """Render one sequence.

        Args:
            subject: ``1`` or ``"001"``; condition: one of :data:`CONDITIONS`; view:
                one of :data:`VIEWS` (``90`` or ``"090"``).
            n_frames: frames to render; default: the time the subject needs to cross
                the field of view (30..120 frames at 25 fps). The walk is centred on the
                middle of the field of view.
            rgb: also render RGB frames (slower); masks/joints are always computed.
            background: override the generator's background mode.
        """
        s = check_subject(subject)
        condition = check_condition(condition)
        view = check_view(view)
        mode = check_background(background or self.background)
        if n_frames is not None:
            if int(n_frames) < 1:
                raise ConfigError(f"n_frames: must be >= 1, got {n_frames!r}")
        if not self.realism.is_casia_b:
            seq = self._sequence_realistic(s, condition, view, n_frames, rgb, mode)
        else:
            seq = self._sequence_casia_b(s, condition, view, n_frames, rgb, mode)
        if self.realism.frontend_errors is not None:
            from gait_tf.synth.frontend_errors import apply_frontend_errors

            seq.frontend = apply_frontend_errors(
                seq.silhouettes, self.realism.frontend_errors,
                stable_rng(self.seed, "frontend", s, condition, view), others=seq.others)
            seq.meta["frontend_errors"] = self.realism.frontend_errors
        return seq

    def _sequence_casia_b(self, s, condition, view, n_frames, rgb, mode) -> WalkerSequence:
        n = n_frames
        p = self.subject_params(s)
        gait, (phase0, heading, offset), n_default = self._walk(s, condition)
        n = n_default if n_frames is None else int(n)
        kind = condition.split("-")[0]
        bag = p.bag if kind == "bg" else None
        coat = p.coat if kind == "cl" else None
        vrng = stable_rng(self.seed, "view", s, condition, view)

        pose = walk_pose(p.body, gait, n, phase0=phase0)
        mid = pose.joints[(n - 1) // 2 if n > 1 else 0, 6, 0] if n % 2 else \
            0.5 * (pose.joints[n // 2 - 1, 6, 0] + pose.joints[n // 2, 6, 0])
        c, sn = np.cos(heading), np.sin(heading)
        rot = np.array([[c, -sn, 0.0], [sn, c, 0.0], [0.0, 0.0, 1.0]])
        shift = np.array([-mid, offset, 0.0]) @ rot.T

        def to_world(x, rotation=False):
            if rotation:
                return np.einsum("ij,tjk->tik", rot, x)
            return x @ rot.T + shift

        cam = make_camera(float(view), self.image_size, distance=7.0 * (1 + vrng.normal(0, 0.015)),
                          height=0.95 + vrng.normal(0, 0.02))
        prims = build_primitives(p.body, pose, bag=bag, coat=coat)
        res = rasterize(prims, pose, cam, self.image_size, to_world)
        masks = res.labels > 0
        sil = masks.astype(np.uint8) * 255
        frames = None
        if rgb:
            margin = max(4, self.image_size[1] // 24)
            bg = _scene(self.seed, view, self.image_size, margin)
            frames = compose_rgb(res.labels, res.depth, primitive_colours(prims, p.appearance), bg, margin,
                                 mode, vrng)
        meta = {"seed": self.seed, "image_size": list(self.image_size), "speed_mps": pose.speed,
                "cadence": gait.cadence, "background": mode, "joint_names": list(JOINT_NAMES),
                "realism": "casia_b"}
        face = face_keypoints(pose, p.body, cam, to_world, res, self.image_size)
        return WalkerSequence(subject=f"{s:03d}", condition=condition, view=view, silhouettes=sil, masks=masks,
                              joints=res.joints, rgb=frames, meta=meta, face=face)

    def _sequence_realistic(self, s, condition, view, n_frames, rgb, mode) -> WalkerSequence:
        from gait_tf.synth import scene
        from gait_tf.synth.wardrobe import sample_carried, sample_outfit

        r = self.realism
        p = self.subject_params(s)
        gait, (phase0, heading, offset), n_default, carried = self._walk(s, condition)
        n = n_default if n_frames is None else int(n_frames)
        coat = p.coat if condition.startswith("cl") else None
        outfit = p.outfit
        if outfit is not None and coat is not None:
            import dataclasses

            outfit = dataclasses.replace(outfit, upper_loose=1.0, sleeve=1.0)
        vrng = stable_rng(self.seed, "view", s, condition, view)
        srng = stable_rng(self.seed, "shot", s, condition, view)

        pose = walk_pose(p.body, gait, n, phase0=phase0)
        mid = pose.joints[(n - 1) // 2, 6, 0]
        to_world = scene.rigid(heading, np.array([-mid, offset, 0.0]) @ _rot_z(heading).T)
        pelvis = to_world(pose.joints[:, 6])
        must_see = to_world(np.concatenate([pose.joints, pose.extra["toe_r"][:, None], pose.extra["toe_l"][:, None],
                                            pose.extra["heel_r"][:, None], pose.extra["heel_l"][:, None]], 1))
        shot = scene.sample_shot(r, srng, view)
        cam, pan = scene.shot_camera(shot, self.image_size, pelvis, must_see, p.body.height, srng,
                                     drift_m=r.drift_m, shake_deg=r.shake_deg, fps=FPS)
        prims = build_primitives(p.body, pose, bag=carried, coat=coat, outfit=outfit)
        people = [(prims, pose.joints, to_world)]
        colours = [primitive_colours(prims, p.appearance)]
        cam_xy = np.asarray(cam.position)[0, :2] if np.ndim(cam.position) == 2 else np.asarray(cam.position)[:2]
        extras = scene.place_crowd(r, srng, pelvis, cam_xy, n)
        roles = []
        for i, extra in enumerate(extras):
            xrng = stable_rng(self.seed, "extra", s, condition, view, i)
            xbody = sample_body(xrng, r.body_variety)
            xgait = vary_gait(sample_gait(xrng, xbody, r.gait_variety), xrng)
            xlook = sample_appearance(xrng)
            xoutfit = sample_outfit(xrng) if r.clothing else None
            xbag = sample_carried(xrng, xbody) if xrng.uniform() < r.carry_prob else None
            if xbag is not None:
                xgait = condition_gait(xgait, "bg-01", xbag, None)
            xpose = walk_pose(xbody, xgait, n, phase0=float(xrng.uniform()))
            start = xpose.joints[extra.anchor_frame, 6]
            shift = np.array([extra.anchor[0], extra.anchor[1], 0.0]) - \
                np.array([start[0], start[1], 0.0]) @ _rot_z(extra.heading).T
            xworld = scene.rigid(extra.heading, shift)
            xprims = build_primitives(xbody, xpose, bag=xbag, outfit=xoutfit)
            people.append((xprims, xpose.joints, xworld))
            colours.append(primitive_colours(xprims, xlook))
            roles.append(extra.role)
        res = rasterize_scene(people, cam, self.image_size)
        person = (res.owner + 1).astype(np.uint8)[res.labels]              # [T, H, W] 0 = background, 1 = walker
        masks = person == 1
        others = person > 1 if len(people) > 1 else None
        sil = masks.astype(np.uint8) * 255
        frames = None
        if rgb:
            margin = max(4, self.image_size[1] // 8)
            bg = _scene(self.seed, view, self.image_size, margin)
            frames = compose_rgb(res.labels, res.depth, np.concatenate(colours, 0), bg, margin, mode, vrng,
                                 pan=pan if shot.handheld or shot.panned else None)
        meta = {"seed": self.seed, "image_size": list(self.image_size), "speed_mps": pose.speed,
                "cadence": gait.cadence, "background": mode, "joint_names": list(JOINT_NAMES),
                "realism": r.to_dict(), "shot": shot.to_dict(), "crowd": roles,
                "carried": carried.kind if carried is not None else None,
                "outfit": (outfit.lower, outfit.hair) if outfit is not None else None,
                "coat_hem": round(coat.hem, 3) if coat is not None else None}
        face = face_keypoints(pose, p.body, cam, to_world, res, self.image_size)
        return WalkerSequence(subject=f"{s:03d}", condition=condition, view=view, silhouettes=sil, masks=masks,
                              joints=res.joints, rgb=frames, meta=meta, others=others, face=face)


@functools.lru_cache(maxsize=32)
def _scene(seed, view, image_size, margin):
    bg = make_background(stable_rng(seed, "scene", view), image_size, margin)
    bg.setflags(write=False)
    return bg


def _rot_z(a):
    c, sn = np.cos(a), np.sin(a)
    return np.array([[c, -sn, 0.0], [sn, c, 0.0], [0.0, 0.0, 1.0]])


#: face points in the head frame, as fractions of the head's semi-axes (x forward, y left, z up)
_FACE = {"nose": (1.05, 0.0, -0.05), "left_eye": (0.85, 0.35, 0.2), "right_eye": (0.85, -0.35, 0.2),
         "left_ear": (0.0, 1.0, 0.05), "right_ear": (0.0, -1.0, 0.05)}


def face_keypoints(pose, body, cam, to_world, res, image_size) -> np.ndarray:
    """``float32 [T, 5, 3]``: nose, eyes, ears (COCO order) projected (x, y, visible).
    A point is visible when it is in the frame, on the walker's head / hair and on the
    side of the head that faces the camera."""
    h, w = image_size
    rh = pose.frames["head"]
    centre = pose.extra["head_centre"]
    ax = np.asarray(body.head_axes)
    local = np.array(list(_FACE.values())) * ax                             # [5, 3]
    pts = centre[:, None] + np.einsum("tij,kj->tki", rh, local)            # [T, 5, 3] walk frame
    normals = np.einsum("tij,kj->tki", rh, np.array(list(_FACE.values())) / np.array([1.0, 1.0, 1.0]))
    world = to_world(pts)
    uv, z = cam.project(world)
    cam_c = np.asarray(cam.position)
    cam_c = cam_c[:, None] if cam_c.ndim == 2 else cam_c
    wn = to_world(normals.reshape(-1, 3)).reshape(normals.shape) - to_world(np.zeros((1, 3)))
    facing = np.einsum("tki,tki->tk", wn, cam_c - world) > 0
    xi = np.round(uv[..., 0]).astype(np.int64)
    yi = np.round(uv[..., 1]).astype(np.int64)
    n = len(pts)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h) & (z >= 0.5)
    lab = res.labels[np.arange(n)[:, None], np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
    head_parts = np.zeros(len(res.names) + 1, bool)
    for i, name in enumerate(res.names):
        if name in ("head", "hair", "big_hair", "neck") and (res.owner is None or res.owner[i + 1] == 0):
            head_parts[i + 1] = True
    visible = inside & facing & head_parts[lab]
    return np.concatenate([uv, visible[..., None]], -1).astype(np.float32)
