"""Synthetic walkers: determinism, shapes, joints vs masks, views, bag/coat, RGB backgrounds."""
import cv2
import numpy as np
import pytest

from gait_tf.errors import ConfigError
from gait_tf.synth import CONDITIONS, JOINT_NAMES, VIEWS, WalkerGenerator, stable_seed

SIZE = (96, 128)


@pytest.fixture(scope="module")
def gen():
    return WalkerGenerator(seed=0, image_size=SIZE)


def test_constants():
    assert JOINT_NAMES[:6] == ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle")
    assert JOINT_NAMES[6:10] == ("pelvis", "thorax", "upper_neck", "head_top")
    assert JOINT_NAMES[10:] == ("right_wrist", "right_elbow", "right_shoulder", "left_shoulder",
                                "left_elbow", "left_wrist")
    assert VIEWS == tuple(f"{v:03d}" for v in range(0, 181, 18)) and len(VIEWS) == 11
    assert CONDITIONS[:6] == tuple(f"nm-{i:02d}" for i in range(1, 7))
    assert CONDITIONS[6:] == ("bg-01", "bg-02", "cl-01", "cl-02")
    # stable across processes (blake2b, not hash())
    assert stable_seed(0, "subject", 1) == stable_seed(0, "subject", 1) != stable_seed(0, "subject", 2)


def test_shapes_and_dtypes(gen):
    seq = gen.sequence("001", "nm-01", "090", n_frames=7)
    h, w = SIZE
    assert seq.silhouettes.shape == (7, h, w) and seq.silhouettes.dtype == np.uint8
    assert set(np.unique(seq.silhouettes)) == {0, 255}
    assert seq.rgb.shape == (7, h, w, 3) and seq.rgb.dtype == np.uint8
    assert seq.masks.dtype == bool and np.array_equal(seq.masks, seq.silhouettes > 0)
    assert seq.joints.shape == (7, 16, 3) and seq.joints.dtype == np.float32
    assert set(np.unique(seq.joints[..., 2])) <= {0.0, 1.0}
    assert (seq.subject, seq.condition, seq.view) == ("001", "nm-01", "090")
    no_rgb = gen.sequence(1, "nm-01", 90, n_frames=7, rgb=False)
    assert no_rgb.rgb is None and np.array_equal(no_rgb.silhouettes, seq.silhouettes)


def test_default_length_covers_gait_cycles(gen):
    seq = gen.sequence(4, "nm-02", 90, rgb=False)
    assert 30 <= len(seq) <= 120
    assert len(seq) == gen.default_frames(4, "nm-02")
    # the person crosses the frame: the mask centroid moves right at 90 degrees
    xs = [np.nonzero(m)[1].mean() for m in seq.masks[[0, -1]]]
    assert xs[1] - xs[0] > 0.3 * SIZE[1]


def test_deterministic_and_subject_specific():
    a = WalkerGenerator(seed=3, image_size=SIZE).sequence(2, "bg-01", 36, n_frames=6)
    b = WalkerGenerator(seed=3, image_size=SIZE).sequence(2, "bg-01", 36, n_frames=6)
    for key in ("silhouettes", "rgb", "joints", "masks"):
        assert np.array_equal(getattr(a, key), getattr(b, key)), key
    other = WalkerGenerator(seed=3, image_size=SIZE).sequence(3, "bg-01", 36, n_frames=6)
    assert not np.array_equal(a.silhouettes, other.silhouettes)
    reseeded = WalkerGenerator(seed=4, image_size=SIZE).sequence(2, "bg-01", 36, n_frames=6)
    assert not np.array_equal(a.silhouettes, reseeded.silhouettes)
    # two walks of one subject differ slightly, far less than two subjects do
    g = WalkerGenerator(seed=3, image_size=SIZE)
    p1, p2 = g.subject_params(2), g.subject_params(3)
    assert p1.body.height != p2.body.height and p1.gait.cadence != p2.gait.cadence
    assert not np.array_equal(g.sequence(2, "nm-01", 90, n_frames=6).silhouettes,
                              g.sequence(2, "nm-02", 90, n_frames=6).silhouettes)


@pytest.mark.parametrize("view", ["000", "054", "090", "144", "180"])
def test_joints_inside_frame_and_on_mask(gen, view):
    h, w = SIZE
    for cond in ("nm-01", "bg-01", "cl-01"):
        seq = gen.sequence(5, cond, view, rgb=False)
        j = seq.joints
        assert (j[..., 0] >= 0).all() and (j[..., 0] < w).all()
        assert (j[..., 1] >= 0).all() and (j[..., 1] < h).all()
        grown = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)) for m in seq.masks]) > 0
        t = np.arange(len(j))[:, None]
        on = grown[t, np.round(j[..., 1]).astype(int), np.round(j[..., 0]).astype(int)]
        vis = j[..., 2] > 0
        assert on[vis].mean() > 0.97, (cond, on[vis].mean())
        assert vis.mean() > 0.5


def test_self_occlusion_hides_far_side_in_side_view(gen):
    j = gen.sequence(6, "nm-01", 90, rgb=False).joints
    vis = j[..., 2] > 0
    far = [JOINT_NAMES.index(n) for n in ("left_hip", "left_shoulder", "left_elbow")]
    near = [JOINT_NAMES.index(n) for n in ("right_knee", "right_ankle", "head_top")]
    assert vis[:, far].mean() < 0.6
    assert vis[:, near].mean() > 0.95


def test_views_differ(gen):
    from gait_tf.baselines.gei import gait_energy_image
    from gait_tf.data.pretreat import pretreat_sequence

    gei = lambda c, v: gait_energy_image(pretreat_sequence(gen.sequence(7, c, v, rgb=False).silhouettes))  # noqa: E731
    side, side2, front, oblique = gei("nm-01", 90), gei("nm-02", 90), gei("nm-01", 0), gei("nm-01", 54)
    same_view = np.linalg.norm(side - side2)
    assert np.linalg.norm(side - front) > 2 * same_view
    assert np.linalg.norm(side - oblique) > 1.5 * same_view


def test_coat_and_bag_change_the_silhouette():
    g = WalkerGenerator(seed=0, image_size=SIZE)
    coat_ratio, bag_ratio = [], []
    for s in range(1, 7):
        nm = g.sequence(s, "nm-01", 90, rgb=False).masks.mean()
        coat_ratio.append(g.sequence(s, "cl-01", 90, rgb=False).masks.mean() / nm)
        if g.subject_params(s).bag.kind == "backpack":
            bag_ratio.append(g.sequence(s, "bg-01", 90, rgb=False).masks.mean() / nm)
    assert min(coat_ratio) > 1.05, coat_ratio
    assert bag_ratio and min(bag_ratio) > 1.05, bag_ratio


def test_rgb_person_and_backgrounds():
    g = WalkerGenerator(seed=1, image_size=SIZE)
    static = g.sequence(1, "nm-01", 90, n_frames=5, background="static")
    bgmask = ~static.masks[0] & ~static.masks[1]
    assert np.array_equal(static.rgb[0][bgmask], static.rgb[1][bgmask])
    # clothing differs from the background it covers
    moving = g.sequence(1, "nm-01", 90, n_frames=5, background="moving")
    flicker = g.sequence(1, "nm-01", 90, n_frames=5, background="flicker")
    for seq in (moving, flicker):
        assert np.array_equal(seq.silhouettes, static.silhouettes)
        diff = np.abs(seq.rgb[0].astype(int) - seq.rgb[3].astype(int))[~seq.masks[0] & ~seq.masks[3]]
        assert diff.mean() > 1.0
    with pytest.raises(ConfigError, match="background"):
        g.sequence(1, "nm-01", 90, n_frames=2, background="disco")


@pytest.mark.parametrize("kwargs, culprit", [
    (dict(subject=1, condition="nm-07", view=90), "condition"),
    (dict(subject=1, condition="nm-01", view=45), "view"),
    (dict(subject=0, condition="nm-01", view=90), "subject"),
    (dict(subject="abc", condition="nm-01", view=90), "subject"),
    (dict(subject=1, condition="nm-01", view=90, n_frames=0), "n_frames"),
])
def test_bad_arguments(gen, kwargs, culprit):
    with pytest.raises(ConfigError, match=culprit):
        gen.sequence(**kwargs)


def test_bad_image_size():
    with pytest.raises(ConfigError, match="image_size"):
        WalkerGenerator(image_size=(10, 10))
