"""``WalkerGenerator``: deterministic synthetic CASIA-B-like walking sequences.

Randomness is layered like a real recording session:

- ``(seed, "subject", subject)``: the subject's body, gait, clothes, bag and coat;
- ``(seed, "walk", subject, condition)``: this walk's small variation of the gait, its
  start phase, heading and walking line (shared by all 11 views, which in CASIA-B
  film the same walk at the same time);
- ``(seed, "view", subject, condition, view)``: camera jitter, texture and background
  motion of this recording;
- ``(seed, "scene", view)``: the background scene of a camera.

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
from gait_tf.synth.render import (
    BACKGROUNDS,
    build_primitives,
    compose_rgb,
    make_background,
    make_camera,
    primitive_colours,
    rasterize,
)

VIEWS = tuple(f"{v:03d}" for v in range(0, 181, 18))
CONDITIONS = tuple([f"nm-{i:02d}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"])
MIN_FRAMES, MAX_FRAMES = 30, 120


@dataclass
class SubjectParams:
    """Everything that makes a subject: body, gait, colours, bag, coat."""

    subject: int
    body: BodyShape
    gait: GaitParams
    appearance: Appearance
    bag: BagParams
    coat: CoatParams


@dataclass
class WalkerSequence:
    """One rendered sequence.

    silhouettes: ``uint8 [T, H, W]`` 0/255; rgb: ``uint8 [T, H, W, 3]`` (None when
    rendered with ``rgb=False``); masks: ``bool [T, H, W]`` (== silhouettes > 0);
    joints: ``float32 [T, 16, 3]`` (x, y in pixels, visible 0/1) in MPII order;
    keypoints: ``float32 [T, 17, 3]`` COCO-17 (x, y in pixels, score: 0.95 visible, 0.45 hidden),
    what a COCO pose estimator reports (SkeletonGait's input).
    """

    subject: str
    condition: str
    view: str
    silhouettes: np.ndarray
    masks: np.ndarray
    joints: np.ndarray
    rgb: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    fps: float = FPS
    meta: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.silhouettes)


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
    """

    def __init__(self, seed: int = 0, image_size=(240, 320), background: str = "static"):
        self.seed = int(seed)
        self.image_size = check_image_size(image_size)
        self.background = check_background(background)

    def __repr__(self):
        return f"WalkerGenerator(seed={self.seed}, image_size={self.image_size}, background={self.background!r})"

    @functools.lru_cache(maxsize=64)  # noqa: B019 - params are small and immutable per generator
    def subject_params(self, subject) -> SubjectParams:
        """The subject's body, gait, appearance, bag and coat."""
        s = check_subject(subject)
        rng = stable_rng(self.seed, "subject", s)
        body = sample_body(rng)
        gait = sample_gait(rng, body)
        return SubjectParams(subject=s, body=body, gait=gait, appearance=sample_appearance(rng),
                             bag=sample_bag(rng, body), coat=sample_coat(rng))

    def default_frames(self, subject, condition) -> int:
        """Frames needed to cross the field of view (about 1.8-2.5 gait cycles)."""
        return self._walk(check_subject(subject), check_condition(condition))[2]

    def _walk(self, s: int, condition: str):
        p = self.subject_params(s)
        rng = stable_rng(self.seed, "walk", s, condition)
        gait = condition_gait(vary_gait(p.gait, rng), condition, p.bag, p.coat)
        phase0 = float(rng.uniform(0, 1))
        heading = float(np.radians(rng.normal(0, 1.5)))
        offset = float(rng.normal(0, 0.12))
        speed = gait.stride * p.body.height * gait.cadence / 120.0
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
            n = int(n_frames)
        p = self.subject_params(s)
        gait, (phase0, heading, offset), n_default = self._walk(s, condition)
        n = n_default if n_frames is None else n
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
                "cadence": gait.cadence, "background": mode, "joint_names": list(JOINT_NAMES)}
        return WalkerSequence(subject=f"{s:03d}", condition=condition, view=view, silhouettes=sil, masks=masks,
                              joints=res.joints, rgb=frames, keypoints=res.keypoints, meta=meta)


@functools.lru_cache(maxsize=32)
def _scene(seed, view, image_size, margin):
    bg = make_background(stable_rng(seed, "scene", view), image_size, margin)
    bg.setflags(write=False)
    return bg
