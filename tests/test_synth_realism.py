"""Realism options of the synthetic walkers: the casia_b preset is unchanged, the options
are deterministic, and each one visibly does what it says."""
import dataclasses
import hashlib

import numpy as np
import pytest

from gait_tf.errors import ConfigError
from gait_tf.synth import WalkerGenerator
from gait_tf.synth import scene
from gait_tf.synth.body import sample_body, stable_rng
from gait_tf.synth.kinematics import sample_gait, walk_pose
from gait_tf.synth.realism import CASIA_B, OPTIONS, PRESETS, REALISTIC, Realism, get_realism
from gait_tf.synth.render import build_primitives, make_camera, rasterize
from gait_tf.synth.wardrobe import CARRY_KINDS, Outfit, sample_carried

SIZE = (96, 128)
#: every option off except these (the realistic code path, CASIA-B-like otherwise)
BASE = {"preset": "casia_b", "fov_deg": [60, 60], "distance_m": [7, 7]}


def _digest(seq):
    h = hashlib.sha256()
    for a in (seq.silhouettes, seq.joints, seq.rgb):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


# Digests of sequences rendered by the generator before the realism options existed
# (commit 4c87018): the casia_b preset must reproduce them bit for bit.
GOLDEN = [
    ((0, (96, 128), "static", 1, "nm-01", "090", 12), "1399701fcd00049b"),
    ((3, (96, 128), "moving+flicker", 2, "bg-01", "036", 10), "e67f6785b503e791"),
    ((7, (64, 88), "flicker", 5, "cl-02", "180", None), "dbd08aa893919872"),
]


@pytest.mark.parametrize("realism", [None, "casia_b", {"preset": "casia_b"}])
def test_casia_b_preset_is_byte_identical_to_the_original_generator(realism):
    for (seed, size, bg, s, c, v, n), digest in GOLDEN:
        gen = WalkerGenerator(seed=seed, image_size=size, background=bg, realism=realism)
        seq = gen.sequence(s, c, v, n_frames=n)
        assert _digest(seq) == digest, (seed, s, c, v)
        assert seq.others is None and seq.frontend is None and seq.meta["realism"] == "casia_b"


def test_presets_and_options():
    assert get_realism(None) is CASIA_B and get_realism("realistic") is REALISTIC
    assert CASIA_B.is_casia_b and not REALISTIC.is_casia_b
    assert set(PRESETS) == {"casia_b", "realistic"}
    r = get_realism({"preset": "realistic", "crowd": [0, 1], "frontend_errors": None})
    assert r.crowd == (0, 1) and r.frontend_errors is None and r.elevation_deg == REALISTIC.elevation_deg
    # every option of the realistic preset departs from casia_b (each is on)
    for name in OPTIONS:
        assert getattr(REALISTIC, name) != getattr(CASIA_B, name), name
    assert REALISTIC.to_dict()["crowd"] == [0, 3]


@pytest.mark.parametrize("spec,culprit", [
    ("studio", "unknown preset 'studio'"),
    ({"tilt": 3}, "unknown option(s) tilt"),
    ({"elevation_deg": [10, 80]}, "realism.elevation_deg"),
    ({"mirror_prob": 1.5}, "realism.mirror_prob"),
    ({"crowd": [0, 2.5]}, "realism.crowd"),
    ({"distance_m": [5, 2]}, "low > high"),
    ({"shake_deg": float("nan")}, "realism.shake_deg"),
    ({"frontend_errors": "perfect"}, "unknown profile 'perfect'"),
    ({"clothing": "yes"}, "realism.clothing"),
])
def test_bad_options_name_the_culprit(spec, culprit):
    with pytest.raises(ConfigError, match=None) as err:
        get_realism(spec)
    assert culprit in str(err.value)


@pytest.fixture(scope="module")
def realistic():
    return WalkerGenerator(seed=0, image_size=SIZE, realism="realistic")


def test_realistic_is_deterministic_and_complete(realistic):
    a = realistic.sequence(3, "nm-02", 54, n_frames=12)
    b = WalkerGenerator(seed=0, image_size=SIZE, realism="realistic").sequence(3, "nm-02", 54, n_frames=12)
    for key in ("silhouettes", "masks", "joints", "rgb", "frontend", "face"):
        assert np.array_equal(getattr(a, key), getattr(b, key)), key
    assert (a.others is None) == (b.others is None)
    if a.others is not None:
        assert np.array_equal(a.others, b.others)
    assert a.meta["shot"] == b.meta["shot"] and a.meta["crowd"] == b.meta["crowd"]
    # shapes and contents: the walker's masks, MPII-16 joints, COCO-17, RGB, the front end's view
    h, w = SIZE
    assert a.silhouettes.shape == (12, h, w) and a.rgb.shape == (12, h, w, 3) and a.joints.shape == (12, 16, 3)
    assert a.frontend.shape == (12, h, w) and a.frontend.dtype == np.uint8
    assert set(np.unique(a.frontend)) <= {0, 255}
    assert a.coco17().shape == (12, 17, 3)
    other_view = realistic.sequence(3, "nm-02", 72, n_frames=12)
    other_seed = WalkerGenerator(seed=1, image_size=SIZE, realism="realistic").sequence(3, "nm-02", 54, n_frames=12)
    assert not np.array_equal(a.silhouettes, other_view.silhouettes)
    assert not np.array_equal(a.silhouettes, other_seed.silhouettes)


def test_realistic_default_lengths_and_joints_on_the_walker(realistic):
    for s, v in ((1, 0), (2, 90), (4, 162)):
        seq = realistic.sequence(s, "nm-01", v, rgb=False)
        assert 30 <= len(seq) <= 120 and len(seq) == realistic.default_frames(s, "nm-01")
        vis = seq.joints[..., 2] > 0
        assert vis.mean() > 0.4
        t, j = np.nonzero(vis)
        x = np.round(seq.joints[t, j, 0]).astype(int)
        y = np.round(seq.joints[t, j, 1]).astype(int)
        assert seq.masks[t, np.clip(y, 0, SIZE[0] - 1), np.clip(x, 0, SIZE[1] - 1)].mean() > 0.9


def _gen(**opts):
    return WalkerGenerator(seed=2, image_size=SIZE, realism={**BASE, **opts})


def _aspect(masks):
    out = []
    for m in masks:
        ys, xs = np.nonzero(m)
        if len(ys):
            out.append((ys.max() - ys.min() + 1) / (xs.max() - xs.min() + 1))
    return float(np.mean(out))


def _heights(masks):
    return np.array([np.ptp(np.nonzero(m)[0]) + 1 if m.any() else 0 for m in masks], np.float64)


@pytest.mark.parametrize("view", [0, 90])
def test_elevation_foreshortens_the_walker(view):
    aspects = [_aspect(_gen(elevation_deg=[e, e]).sequence(1, "nm-01", view, n_frames=10, rgb=False).masks)
               for e in (0, 15, 30)]
    assert aspects[0] > aspects[1] > aspects[2]          # height / width falls as the camera rises
    assert aspects[2] < 0.95 * aspects[0]


def test_perspective_distance_changes_within_a_walk_towards_the_camera():
    near = _gen(distance_m=[3, 3], fov_deg=[70, 70]).sequence(1, "nm-01", 0, n_frames=60, rgb=False)
    far = _gen(distance_m=[14, 14], fov_deg=[20, 20]).sequence(1, "nm-01", 0, n_frames=60, rgb=False)
    grow_near = _heights(near.masks[-5:]).mean() / _heights(near.masks[:5]).mean()
    grow_far = _heights(far.masks[-5:]).mean() / _heights(far.masks[:5]).mean()
    assert grow_near > 1.3 and grow_near > grow_far + 0.2
    # walking away shrinks the walker
    away = _gen(distance_m=[3, 3], fov_deg=[70, 70]).sequence(1, "nm-01", 180, n_frames=60, rgb=False)
    assert _heights(away.masks[-5:]).mean() < 0.8 * _heights(away.masks[:5]).mean()


def test_mirroring_and_view_jitter():
    right = _gen().sequence(1, "nm-01", 90, n_frames=30, rgb=False)
    left = _gen(mirror_prob=1.0).sequence(1, "nm-01", 90, n_frames=30, rgb=False)
    cx = lambda seq: [np.nonzero(m)[1].mean() for m in seq.masks[[0, -1]]]  # noqa: E731
    assert cx(right)[1] > cx(right)[0] and cx(left)[1] < cx(left)[0]
    assert left.meta["shot"]["view_deg"] == -90.0 and left.meta["shot"]["mirrored"]
    views = {_gen(view_jitter_deg=9.0).sequence(s, "nm-01", 90, n_frames=2, rgb=False).meta["shot"]["view_deg"]
             for s in range(1, 6)}
    assert len(views) == 5 and all(81 <= v <= 99 for v in views)


def test_pass_offset_makes_walks_towards_the_camera_pass_it_obliquely():
    opts = dict(distance_m=[3, 3], fov_deg=[70, 70])
    straight = _gen(**opts).sequence(1, "nm-01", 0, n_frames=50, rgb=False)
    oblique = _gen(pass_offset_m=[1.5, 1.5], **opts).sequence(1, "nm-01", 0, n_frames=50, rgb=False)
    xs = lambda seq: np.array([np.nonzero(m)[1].mean() for m in seq.masks])  # noqa: E731
    assert np.ptp(xs(straight)) < 0.05 * SIZE[1]           # straight at the camera: stays in the middle
    assert np.ptp(xs(oblique)) > 0.15 * SIZE[1]            # past it: drifts sideways as it comes closer
    assert abs(xs(oblique)[25] - SIZE[1] / 2) < 0.08 * SIZE[1]   # the camera looks at the middle of the walk


def test_tripod_pans_when_a_long_walk_would_not_fit():
    near = _gen(distance_m=[3, 3], fov_deg=[50, 50]).sequence(1, "nm-01", 90, n_frames=100)
    assert near.meta["shot"]["panned"] and not near.meta["shot"]["handheld"]
    h = _heights(near.masks)
    assert h.min() > 0.4 * SIZE[0]                          # the walker stays big enough to render
    still = ~(near.masks[0] | near.masks[-1])
    assert np.abs(near.rgb[0].astype(int) - near.rgb[-1].astype(int))[still].mean() > 3.0  # the scene pans
    far = _gen(distance_m=[12, 12], fov_deg=[50, 50]).sequence(1, "nm-01", 90, n_frames=30, rgb=False)
    assert not far.meta["shot"]["panned"]


def test_handheld_camera_shakes_pans_and_zooms():
    tripod = _gen().sequence(1, "nm-01", 90, n_frames=20)
    hand = _gen(handheld_prob=1.0, shake_deg=1.5, drift_m=0.3, zoom=0.3).sequence(1, "nm-01", 90, n_frames=20)
    assert hand.meta["shot"]["handheld"] and not tripod.meta["shot"]["handheld"]

    def background_motion(seq):
        still = ~(seq.masks[0] | seq.masks[-1])
        return np.abs(seq.rgb[0].astype(int) - seq.rgb[-1].astype(int))[still].mean()

    assert background_motion(tripod) == 0.0          # static background, tripod
    assert background_motion(hand) > 3.0              # the background pans with the camera
    # the focal length ramps by the drawn zoom
    shot = dataclasses.replace(scene.sample_shot(get_realism({**BASE, "handheld_prob": 1.0, "zoom": 0.3}),
                                                 np.random.default_rng(0), "090"), zoom=0.25)
    pelvis = np.stack([np.linspace(-1, 1, 10), np.zeros(10), np.full(10, 0.95)], -1)
    cam, _ = scene.shot_camera(shot, SIZE, pelvis, pelvis[:, None], 1.7, np.random.default_rng(1), 0.1, 1.0)
    assert cam.f[-1] / cam.f[0] == pytest.approx(1.25)
    assert np.ptp(cam.position[:, 0]) > 0 and not np.allclose(cam.axes[0], cam.axes[-1])


def test_occluders_hide_part_of_the_walker():
    clear = _gen(crowd=[0, 0], occluder_prob=0.0).sequence(1, "nm-01", 90, n_frames=40, rgb=False)
    hidden = _gen(crowd=[1, 1], occluder_prob=1.0).sequence(1, "nm-01", 90, n_frames=40, rgb=False)
    assert hidden.meta["crowd"] == ["occluder"] and hidden.others is not None and hidden.others.any()
    a, b = clear.masks.sum((1, 2)), hidden.masks.sum((1, 2))
    assert (b <= a).all() and (b < 0.8 * a).any()
    # where the occluder covers the walker, the walker's joints are hidden
    assert hidden.joints[..., 2].sum() < clear.joints[..., 2].sum()


def test_crowd_walkers_appear():
    seq = _gen(crowd=[3, 3]).sequence(2, "nm-01", 36, n_frames=10, rgb=False)
    assert len(seq.meta["crowd"]) == 3 and set(seq.meta["crowd"]) <= set(scene.ROLES)
    assert seq.others is not None and seq.others.any()
    assert not (seq.others & seq.masks).any()


def test_body_and_gait_variety_widen_the_population():
    def spread(body_v, gait_v):
        h, hip, cad = [], [], []
        for s in range(1, 41):
            p = WalkerGenerator(seed=0, realism={**BASE, "body_variety": body_v, "gait_variety": gait_v}) \
                .subject_params(s)
            h.append(p.body.height)
            hip.append(p.body.hip_width / p.body.height)
            cad.append(p.gait.cadence)
        return np.std(h), np.std(hip), np.std(cad)

    base, wide = spread(1.0, 1.0), spread(1.6, 1.6)
    assert wide[0] > 1.3 * base[0] and wide[1] > 1.3 * base[1] and wide[2] > 1.3 * base[2]


def _render(body, pose, view, **kw):
    cam = make_camera(view, SIZE)
    res = rasterize(build_primitives(body, pose, **kw), pose, cam, SIZE, lambda x, rotation=False: x if rotation
                    else x - np.array([pose.joints[len(pose.joints) // 2, 6, 0], 0, 0]))
    return res.labels > 0


@pytest.fixture(scope="module")
def walker():
    rng = stable_rng(0, "test-walker")
    body = sample_body(rng)
    return body, walk_pose(body, sample_gait(rng, body), 8)


@pytest.mark.parametrize("outfit,gain", [
    (Outfit(lower="dress", skirt_hem=1.6, skirt_flare=2.2), 1.05),
    (Outfit(lower="skirt", skirt_hem=0.9, skirt_flare=2.0), 1.03),
    (Outfit(lower="wide_trousers", leg_scale=1.45), 1.05),
    (Outfit(upper_loose=1.3, sleeve=1.3), 1.03),
    (Outfit(hair="volume", hair_size=1.3), 1.01),
    (Outfit(hair="bun", hair_size=1.3), 1.005),
])
def test_clothes_change_the_silhouette(walker, outfit, gain):
    body, pose = walker
    plain = _render(body, pose, 90)
    dressed = _render(body, pose, 90, outfit=outfit)
    assert dressed.sum() > gain * plain.sum() and (dressed | plain).sum() == dressed.sum()


def test_hats_ponytails_and_shorts(walker):
    body, pose = walker
    plain = _render(body, pose, 90)
    hat = _render(body, pose, 90, outfit=Outfit(hair="hat", hair_size=1.2))
    tail = _render(body, pose, 90, outfit=Outfit(hair="ponytail", hair_size=1.3))
    top = lambda m: np.nonzero(m.any(2).any(0))[0][0]  # noqa: E731
    assert top(hat) < top(plain) and tail.sum() > plain.sum()
    thin = _render(body, pose, 90, outfit=Outfit(lower="tight_trousers", leg_scale=0.85))
    assert thin.sum() < plain.sum()


@pytest.mark.parametrize("kind", CARRY_KINDS)
def test_carried_objects_add_mask_area(walker, kind):
    body, pose = walker
    rng = np.random.default_rng(0)
    bag = sample_carried(rng, body)
    while bag.kind != kind:
        bag = sample_carried(rng, body)
    gains = [_render(body, pose, v, bag=bag).sum() / _render(body, pose, v).sum() for v in (0, 90)]
    assert max(gains) > 1.015, gains


def test_realistic_walks_carry_things_and_wear_clothes():
    gen = WalkerGenerator(seed=0, image_size=SIZE, realism={**BASE, "carry_prob": 1.0, "clothing": True})
    metas = [gen.sequence(s, "nm-01", 90, n_frames=2, rgb=False).meta for s in range(1, 9)]
    assert all(m["carried"] in CARRY_KINDS for m in metas)
    lowers = {m["outfit"][0] for m in metas}
    assert len(lowers) >= 2
    assert gen.sequence(1, "cl-01", 90, n_frames=2, rgb=False).meta["coat_hem"] is not None


def test_heldout_subjects_are_new_people():
    gen = WalkerGenerator(seed=0, realism="realistic")
    train = {round(gen.subject_params(s).body.height, 6) for s in range(1, 61)}
    held = [gen.subject_params(s) for s in range(1001, 1011)]
    assert not {round(p.body.height, 6) for p in held} & train
    other_seed = WalkerGenerator(seed=1, realism="realistic").subject_params(1)
    assert other_seed.body.height != gen.subject_params(1).body.height
    seq = WalkerGenerator(seed=0, image_size=SIZE, realism="realistic").sequence(1001, "nm-01", 90, n_frames=6,
                                                                                  rgb=False)
    assert seq.subject == "1001" and seq.masks.any()


def test_realism_options_object_is_accepted():
    r = Realism(elevation_deg=(10, 10), fov_deg=(50, 50))
    seq = WalkerGenerator(seed=0, image_size=SIZE, realism=r).sequence(1, "nm-01", 90, n_frames=3, rgb=False)
    assert seq.meta["shot"]["elevation_deg"] == 10.0


def test_rgb_training_walkers_take_realism(tmp_path):
    from gait_tf.train.rgb import RGBWalkers

    casia = RGBWalkers(subjects="1", conditions="nm-01", views="090", image_size=(72, 96), n_frames=4)
    real = RGBWalkers(subjects="1", conditions="nm-01", views="090", image_size=(72, 96), n_frames=4,
                      realism="realistic", cache_dir=tmp_path)
    assert "realism" not in casia.options and real.options["realism"]["crowd"] == [0, 3]
    rgb, mask = real.sequences[("001", "nm-01", "090")]
    assert rgb.shape == (4, 64, 32, 3) and mask.any()
    assert not np.array_equal(rgb, casia.sequences[("001", "nm-01", "090")][0])
    again = RGBWalkers(subjects="1", conditions="nm-01", views="090", image_size=(72, 96), n_frames=4,
                       realism="realistic", cache_dir=tmp_path)          # from the cache
    assert np.array_equal(again.sequences[("001", "nm-01", "090")][0], rgb)
