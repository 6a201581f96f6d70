"""Background subtraction, mask clean-up, person grouping and tracking."""
import numpy as np
import pytest

from gait_tf.errors import ConfigError, VideoError
from gait_tf.segmentation import (BackgroundSubtractor, BoxTracker, box_iou, clean_mask, detect_people,
                                  largest_component, select_track, shadow_mask)
from gait_tf.segmentation.train import mask_iou, per_frame_iou, toy_scene


@pytest.mark.parametrize("method,background,min_iou", [
    ("median", "static", 0.9), ("mog2", "static", 0.9), ("median", "flicker", 0.95), ("mog2", "flicker", 0.65)])
def test_background_subtraction_finds_the_walker(method, background, min_iou):
    rgb, masks, _ = toy_scene(30, (96, 128), seed=3, background=background)
    bg = BackgroundSubtractor(method).fit(iter(rgb))  # any iterable, streamed
    pred = np.stack([bg.apply(f) for f in rgb])
    assert pred.dtype == bool and pred.shape == masks.shape
    iou = per_frame_iou(pred, masks).mean()
    assert iou >= min_iou, iou
    # the median background is the empty scene: no walker pixel left in it
    diff = np.abs(bg.background.astype(int) - rgb[0].astype(int)).max(-1)
    assert np.mean(diff[~masks[0]] < 10) > 0.99


def test_background_subtraction_fails_on_a_panning_camera():
    """The reason for the learned segmenter: a moving background breaks a static model."""
    rgb, masks, _ = toy_scene(30, (96, 128), seed=3, background="moving")
    bg = BackgroundSubtractor("median").fit(rgb)
    pred = np.stack([bg.apply(f) for f in rgb])
    assert per_frame_iou(pred, masks).mean() < 0.5


def test_shadow_suppression():
    rgb, masks, _ = toy_scene(24, (96, 128), seed=5, background="plain", speed=4.0, start=[10])
    rgb = rgb.copy()
    shadow = np.zeros_like(masks)
    for t in range(len(rgb)):  # a cast shadow on the ground right of the feet
        xs = np.flatnonzero(masks[t].any(0))
        shadow[t, 82:90, xs.max() + 1:xs.max() + 13] = True
        rgb[t][shadow[t]] = (rgb[t][shadow[t]] * 0.6).astype(np.uint8)
    with_s = BackgroundSubtractor("median", shadows=True).fit(rgb)
    without = BackgroundSubtractor("median", shadows=False).fit(rgb)
    kept_with = np.mean([with_s.apply(f)[s].mean() for f, s in zip(rgb, shadow)])
    kept_without = np.mean([without.apply(f)[s].mean() for f, s in zip(rgb, shadow)])
    assert kept_without > 0.9 and kept_with < 0.1, (kept_without, kept_with)
    assert per_frame_iou(np.stack([with_s.apply(f) for f in rgb]), masks).mean() > 0.9
    # the HSV model itself: a darker copy of a colour is a shadow, another colour is not
    bgr = np.full((1, 2, 3), (120, 160, 90), np.uint8)
    frame = bgr.copy()
    frame[0, 0] = (72, 96, 54)
    frame[0, 1] = (200, 40, 40)
    assert shadow_mask(frame, bgr).tolist() == [[True, False]]


def test_bad_background_use():
    with pytest.raises(ConfigError, match="unknown background method"):
        BackgroundSubtractor("knn")
    bg = BackgroundSubtractor()
    with pytest.raises(VideoError, match="before fit"):
        bg.apply(np.zeros((8, 8, 3), np.uint8))
    bg.fit([np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(VideoError, match="differs"):
        bg.apply(np.zeros((9, 8, 3), np.uint8))


def test_clean_mask_and_components():
    m = np.zeros((60, 60), bool)
    m[10:50, 20:35] = True          # body
    m[25:28, 26:29] = False         # small hole: filled
    m[3, 3] = m[55, 50] = True      # specks: removed
    m[40:44, 50:54] = True          # a separate blob
    c = clean_mask(m)
    assert c[26, 27] and not c[3, 3] and not c[55, 50]
    assert c[10:50, 20:35].mean() > 0.97
    big = largest_component(c)
    assert big[30, 30] and not big[42, 52]
    assert not largest_component(c, min_area=10_000).any()


def test_detect_people_groups_split_parts():
    m = np.zeros((80, 100), bool)
    m[10:18, 20:28] = True     # head, 3 px above the torso
    m[21:60, 18:30] = True     # torso + legs
    m[30:70, 70:80] = True     # a second person far away
    m[2, 90] = True            # speck below min_area
    dets = detect_people(m, min_area=50)
    assert len(dets) == 2
    first = dets[0]
    assert first.box == (18, 10, 30, 60) and first.area == 64 + 39 * 12
    assert first.full_mask(m.shape).sum() == first.area
    assert dets[1].box == (70, 30, 80, 70)
    assert detect_people(np.zeros((5, 5), bool)) == []


def test_box_iou():
    iou = box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]])
    np.testing.assert_allclose(iou, [[1 / 3, 0.0, 1.0]])


def test_tracker_keeps_ids_and_smooths():
    rng = np.random.default_rng(0)
    tracker = BoxTracker()
    ids_a, ids_b, raw, smooth = [], [], [], []
    for t in range(40):
        a = np.array([10 + 2 * t, 20, 30 + 2 * t, 80], float) + rng.normal(0, 2.0, 4)   # walks right, noisy
        b = np.array([200 - 1.5 * t, 40, 215 - 1.5 * t, 70], float)                   # walks left, smaller
        if t in (15, 16):  # a missed detection of A: the track coasts and keeps its id
            got = tracker.update(t, [b], [400])
            ids_b.append(got[0])
        else:
            got = tracker.update(t, [a, b], [1200, 400])
            ids_a.append(got[0])
            ids_b.append(got[1])
            raw.append(a)
            smooth.append(next(tr for tr in tracker.active if tr.track_id == got[0]).box)
    assert set(ids_a) == {1} and set(ids_b) == {2}
    truth = np.array([[10 + 2 * t, 20, 30 + 2 * t, 80] for t in range(40) if t not in (15, 16)], float)
    err_raw = np.abs(np.array(raw) - truth)[10:].mean()
    err_smooth = np.abs(np.array(smooth) - truth)[10:].mean()
    assert err_smooth < 0.8 * err_raw, (err_smooth, err_raw)
    tracks = tracker.tracks
    assert [t.track_id for t in tracks] == [1, 2]
    assert select_track(tracks).track_id == 1           # largest total area
    assert select_track(tracks, 2).track_id == 2
    assert select_track(tracks, "2").track_id == 2
    with pytest.raises(VideoError, match="no track with id 7; tracks found: 1, 2"):
        select_track(tracks, 7)
    with pytest.raises(VideoError, match="no person"):
        select_track([])


def test_tracker_ends_lost_tracks_and_starts_new_ones():
    tracker = BoxTracker(max_missed=2)
    assert tracker.update(0, [(0, 0, 10, 10)]) == [1]
    for t in range(1, 5):
        assert tracker.update(t, []) == []
    assert tracker.update(5, [(0, 0, 10, 10)]) == [2]   # too long gone: a new person
    assert [t.track_id for t in tracker.finished] == [1]


def test_largest_rule_prefers_long_visible_person():
    """Total area = size x time: a big passer-by seen briefly loses to a smaller walker seen throughout."""
    tracker = BoxTracker()
    for t in range(30):
        boxes, areas = [(10 + t, 10, 30 + t, 60)], [600]
        if t < 5:
            boxes.append((100, 0, 160, 90))
            areas.append(3000)
        tracker.update(t, boxes, areas)
    assert select_track(tracker.tracks).track_id == 1


def test_iou_metrics():
    a = np.zeros((2, 4, 4), bool)
    b = np.zeros((2, 4, 4), bool)
    a[0, :2] = True
    b[0, 1:3] = True
    np.testing.assert_allclose(per_frame_iou(a, b), [4 / 12, 1.0])
    assert mask_iou(a[0], b[0]) == pytest.approx(1 / 3)
