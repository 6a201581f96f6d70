"""The front-end error model: determinism, bad input, each error kind, and that it moves
synthetic silhouettes' statistics towards those of our real front end's output."""
import json

import cv2
import numpy as np
import pytest

from gait_tf.data.pretreat import pretreat_sequence
from gait_tf.errors import ConfigError, DataError
from gait_tf.synth import WalkerGenerator
from gait_tf.synth import silhouette_stats as st
from gait_tf.synth.frontend_errors import PROFILES, FrontendErrors, apply_frontend_errors, get_profile, reference_stats

SIZE = (96, 128)
NONE = PROFILES["none"]


@pytest.fixture(scope="module")
def clean():
    gen = WalkerGenerator(seed=0, image_size=SIZE, realism={"preset": "realistic", "frontend_errors": None,
                                                            "crowd": [0, 0], "occluder_prob": 0.0})
    return [gen.sequence(s, "nm-01", v, n_frames=20, rgb=False) for s in (1, 2) for v in ("000", "090")]


def _areas(x):
    return (np.asarray(x) > 0).sum((1, 2))


def test_deterministic_and_seeded(clean):
    sil = clean[0].silhouettes
    a = apply_frontend_errors(sil, "fitted", np.random.default_rng(5))
    b = apply_frontend_errors(sil, "fitted", np.random.default_rng(5))
    c = apply_frontend_errors(sil, "fitted", np.random.default_rng(6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == sil.shape and a.dtype == np.uint8 and set(np.unique(a)) <= {0, 255}
    assert np.array_equal(apply_frontend_errors(sil, "fitted", 5), a)          # an int seed works too
    assert np.array_equal(apply_frontend_errors(sil > 0, "fitted", 5), a)      # bool masks too


def test_bad_input_names_the_culprit(clean):
    sil = clean[0].silhouettes
    with pytest.raises(DataError, match="uint8 or bool"):
        apply_frontend_errors(sil.astype(np.float32), "fitted", 0)
    with pytest.raises(DataError, match="others has shape"):
        apply_frontend_errors(sil, "fitted", 0, others=np.zeros((2, 3, 4), bool))
    with pytest.raises(ConfigError, match="unknown profile 'ideal'"):
        get_profile("ideal")
    with pytest.raises(ConfigError, match="unknown parameter"):
        get_profile({"wobble": 1})
    with pytest.raises(ConfigError, match="frontend_errors.lost"):
        FrontendErrors(lost=2.0)
    with pytest.raises(ConfigError, match="frontend_errors.map_res"):
        FrontendErrors(map_res=2)
    with pytest.raises(ConfigError, match="frontend_errors.noise"):
        FrontendErrors(noise=float("nan"))


def test_no_errors_profile_keeps_the_masks(clean):
    for seq in clean:
        out = apply_frontend_errors(seq.silhouettes, NONE, 0) > 0
        inter = (out & seq.masks).sum((1, 2))
        union = (out | seq.masks).sum((1, 2))
        assert (inter / np.maximum(union, 1)).mean() > 0.95


def _prof(**kw):
    return get_profile({"profile": "none", **kw})


def test_lost_frames_come_in_runs(clean):
    sil = np.concatenate([s.silhouettes for s in clean])
    out = apply_frontend_errors(sil, _prof(lost=0.3, burst=5.0), 1)
    lost = _areas(out) == 0
    assert 0.15 < lost.mean() < 0.45
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, lost.astype(int), 0])))[::2]
    assert runs.mean() > 2.5
    assert (_areas(apply_frontend_errors(sil, _prof(lost=1.0), 1)) == 0).all()


def test_coarse_map_and_bias_merge_arms_and_legs(clean):
    for seq in clean:
        base = apply_frontend_errors(seq.silhouettes, NONE, 0)
        fat = apply_frontend_errors(seq.silhouettes, _prof(map_res=24, blur=0.02, bias=0.15), 0)
        keep = (_areas(base) > 0) & (_areas(fat) > 0)
        assert _areas(fat)[keep].sum() > 1.05 * _areas(base)[keep].sum()
    # fewer rows with an arm apart from the torso / the legs apart
    pre = lambda x: pretreat_sequence(x[_areas(x) > 0])  # noqa: E731
    b = st.summarize([pre(apply_frontend_errors(s.silhouettes, NONE, 0)) for s in clean])
    f = st.summarize([pre(apply_frontend_errors(s.silhouettes, _prof(map_res=24, blur=0.02, bias=0.15), 0))
                      for s in clean])
    assert f["arm_gap"] < b["arm_gap"] and f["leg_gap"] < b["leg_gap"] and f["fill"] > b["fill"]


def test_noise_makes_ragged_edges(clean):
    pre = lambda x: pretreat_sequence(x[_areas(x) > 0])  # noqa: E731
    smooth = st.summarize([pre(apply_frontend_errors(s.silhouettes, _prof(map_res=40, blur=0.01), 0))
                           for s in clean])
    noisy = st.summarize([pre(apply_frontend_errors(s.silhouettes, _prof(map_res=40, blur=0.01, noise=0.4), 0))
                          for s in clean])
    assert noisy["rough"] > smooth["rough"] and noisy["iou"] < smooth["iou"]


def test_feet_holes_blobs_and_box_jitter(clean):
    seq = clean[1]  # side view
    sil = seq.silhouettes

    def bottom_width(x):
        w = []
        for m in x > 0:
            ys = np.flatnonzero(m.any(1))
            if len(ys):
                w.append(m[ys[-1] - 2:ys[-1] + 1].sum())
        return np.mean(w)

    def bottom_row(x):
        return np.mean([np.flatnonzero(m.any(1))[-1] for m in x > 0 if m.any()])

    base = apply_frontend_errors(sil, NONE, 0)
    feet = apply_frontend_errors(sil, _prof(feet_loss=1.0, feet_band=0.08), 0)
    assert bottom_row(feet) < bottom_row(base) - 1.0 or bottom_width(feet) < 0.8 * bottom_width(base)
    holes = apply_frontend_errors(sil, _prof(holes=1.0), 0)
    assert _areas(holes).sum() < _areas(base).sum()
    n_holes = lambda x: sum(  # noqa: E731
        int((cv2.findContours(m.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)[1][0][:, 3] >= 0).any())
        for m in x > 0 if m.any())
    assert n_holes(holes) > n_holes(base)
    blob = apply_frontend_errors(sil, _prof(blob_prob=1.0), 3)
    assert _areas(blob).max() > 0 and (_areas(blob) > 1.05 * _areas(base)).any()
    jit = apply_frontend_errors(sil, _prof(box_jitter=0.03), 0)
    h = lambda x: np.array([np.ptp(np.flatnonzero(m.any(1))) for m in x > 0 if m.any()], float)  # noqa: E731
    assert np.std(np.diff(h(jit))) > np.std(np.diff(h(base)))


def test_other_people_get_merged_in():
    sil = np.zeros((3, 96, 96), np.uint8)
    sil[:, 10:90, 30:50] = 255                     # the walker
    others = np.zeros((3, 96, 96), bool)
    others[:, 40:70, 50:58] = True                  # a neighbour's arm touching it
    others[:, 10:90, 80:90] = True                  # someone far away
    out = apply_frontend_errors(sil, _prof(attach=0.05, attach_gain=0.8), 0, others=others) > 0
    assert out[:, 40:70, 50:53].mean() > 0.8        # the touching part is merged in
    assert not out[:, :, 75:].any()                 # the far one is not
    alone = apply_frontend_errors(sil, _prof(attach=0.05, attach_gain=0.8), 0) > 0
    assert not alone[:, :, 52:].any()


def test_error_model_moves_statistics_towards_the_real_front_end():
    """On synthetic walkers not used for fitting, the fitted profile brings the shape
    statistics closer to the real front end's (measured on four_walkers.mp4 and
    street_crowd.avi, see docs/synth.md) than the clean silhouettes are."""
    ref = reference_stats()
    real, scale, stats = ref["real"], ref["scales"], tuple(ref["fit_stats"])
    gen = WalkerGenerator(seed=11, image_size=(120, 160), realism={"preset": "realistic", "frontend_errors": None})
    clean, degraded = [], []
    for i, (s, v) in enumerate([(s, v) for s in (1, 2, 3, 4) for v in ("000", "036", "072", "108", "144", "180")]):
        seq = gen.sequence(s, "nm-01", v, n_frames=24, rgb=False)
        clean.append(pretreat_sequence(seq.silhouettes[_areas(seq.silhouettes) > 0]))
        d = apply_frontend_errors(seq.silhouettes, "fitted", np.random.default_rng([11, i]), others=seq.others)
        if (_areas(d) > 0).sum() >= 2:
            degraded.append(pretreat_sequence(d[_areas(d) > 0]))
    c, d = st.summarize(clean), st.summarize(degraded)
    dc, dd = st.distance(c, real, scale, stats), st.distance(d, real, scale, stats)
    detail = json.dumps({k: (round(c[k], 3), round(d[k], 3), round(real[k], 3)) for k in stats})
    assert dd < dc, (dc, dd, detail)
    # fuller shapes with the arms merged into the torso, smoother outlines, no loose bits
    for k in ("fill", "rough", "arm_gap", "parts"):
        assert abs(d[k] - real[k]) < abs(c[k] - real[k]), (k, detail)
