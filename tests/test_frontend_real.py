"""The real front end on real footage: detection, instance masks, tracking, outputs.

Runs the BlazePose models fetched by ``gait-tf models fetch`` (``make test`` fetches
them) on ``../shared/data/real_video``; asserts track counts, track lengths and
person-shaped masks, so that a regression in any stage fails here.
"""
import json
import pickle

import cv2
import numpy as np
import pytest

from gait_tf.cli import main as cli
from gait_tf.detection.roi import ROI
from gait_tf.errors import VideoError
from gait_tf.segmentation.instances import person_shape_problem
from gait_tf.video.frontend import track_people


@pytest.fixture(scope="module")
def four(real_video_dir):
    return track_people(real_video_dir / "four_walkers.mp4")


@pytest.fixture(scope="module")
def street(real_video_dir):
    return track_people(real_video_dir / "street_crowd.avi", max_frames=60)


def test_roi_crop_and_paste_round_trip():
    img = np.zeros((200, 300, 3), np.uint8)
    cv2.rectangle(img, (140, 40), (160, 160), (255, 255, 255), -1)  # an upright bar
    roi = ROI.from_alignment((150, 130), (150, 70))  # hip centre below, body point above
    assert roi.size == pytest.approx(2 * 60 * 1.25) and roi.up == pytest.approx((0.0, -1.0))
    crop = roi.crop(img, 64)
    assert crop.shape == (64, 64, 3) and crop[:, 32, 0].max() == 255  # the bar stays vertical, centred
    box, patch = roi.paste(crop[:, :, 0].astype(np.float32) / 255, img.shape, threshold=0.5)
    full = np.zeros(img.shape[:2], bool)
    full[box[1]:box[3], box[0]:box[2]] = patch
    truth = img[:, :, 0] > 0
    iou = (full & truth).sum() / (full | truth).sum()
    assert iou > 0.8
    tilted = ROI.from_alignment((150, 130), (190, 130))  # body lying to the right
    assert tilted.up == pytest.approx((1.0, 0.0))


def test_person_shape_checks():
    body = np.zeros((120, 40), bool)
    body[5:115, 10:30] = True
    assert person_shape_problem(body) is None
    assert "aspect" in person_shape_problem(np.ones((40, 80), bool))
    two = body.copy()
    two[:, 18:22] = False
    two[60:, :] = False
    two[80:115, 2:8] = True
    two[80:115, 32:38] = True
    assert person_shape_problem(two) == "not one connected body"


def test_four_walkers_are_four_separate_tracks(four):
    assert len(four.people) == 4, [p.summary() for p in four.people]
    for p in four.people:
        assert len(p) >= 0.8 * four.n_frames, p.summary()        # most frames of the 235
        assert p.score > 0.9
        assert p.shape_ok.mean() > 0.9                            # person-shaped masks
        heights = p.boxes[:, 3] - p.boxes[:, 1]
        assert np.median(heights / (p.boxes[:, 2] - p.boxes[:, 0])) > 2.0  # standing, walking
    # all four are in the last frame, side by side, and their masks do not overlap
    last = [p for p in four.people if p.frames[-1] == four.n_frames - 1]
    assert len(last) == 4
    masks = [p.mask(len(p) - 1) > 0 for p in last]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not (masks[i] & masks[j]).any()
    centres = sorted((p.boxes[-1, 0] + p.boxes[-1, 2]) / 2 for p in last)
    assert min(np.diff(centres)) > 40


def test_prediction_moves_with_the_video_frames_elapsed():
    """With a reader step K the tracker sees every K-th frame: a track's ROI and box are
    predicted as far as the person walked in the video frames since it was last seen."""
    from gait_tf.tracking.people import Observation, PersonTrack

    t = PersonTrack(1, roi=ROI(100.0, 200.0, 150.0), velocity=np.array([3.0, -1.0]))
    t.observations.append(Observation(10, None, 1.0, None, np.array([50.0, 100.0, 150.0, 300.0])))
    assert t.predicted_roi().cx == pytest.approx(103.0)           # next update: one frame on
    r = t.predicted_roi(14)                                        # step 4: four frames on
    assert (r.cx, r.cy, r.size) == pytest.approx((112.0, 196.0, 150.0))
    np.testing.assert_allclose(t.predicted_box(12), [56.0, 98.0, 156.0, 298.0])


def test_every_second_frame_keeps_the_four_walkers(real_video_dir):
    """``step=2`` (``--step 2``, the faster setting of docs/video.md): the same four tracks,
    on even video frames only."""
    res = track_people(real_video_dir / "four_walkers.mp4", step=2, max_frames=50)
    assert res.n_frames == 50
    assert len(res.people) == 4, [p.summary() for p in res.people]
    for p in res.people:
        assert (p.frames % 2 == 0).all()
        assert p.shape_ok.mean() > 0.9
    assert sorted(len(p) for p in res.people)[-2] >= 45           # the two seen from frame 0


def test_four_walkers_keep_their_identity(four):
    """A track's clothing colour stays its own: the mean hue histogram of a track's first
    and last thirds is closer to itself than to any other track's."""
    from gait_tf.tracking.people import colour_histogram, histogram_similarity
    from gait_tf.segmentation.instances import InstanceMask
    from gait_tf.video.readers import open_video

    want = {}
    for p in four.people:
        n = len(p)
        want[p.track_id] = (set(p.frames[: n // 3].tolist()), set(p.frames[-n // 3:].tolist()))
    hists = {tid: [[], []] for tid in want}
    for index, frame in open_video(four.source).iter_indexed():
        for p in four.people:
            for part in (0, 1):
                if index in want[p.track_id][part]:
                    k = int(np.searchsorted(p.frames, index))
                    (box, m) = p.crops[k]
                    h = colour_histogram(frame, InstanceMask(box, m))
                    if h is not None:
                        hists[p.track_id][part].append(h)
    means = {tid: [np.mean(v[0], 0), np.mean(v[1], 0)] for tid, v in hists.items()}
    for tid, (first, _) in means.items():
        sims = {other: histogram_similarity(first, m[1]) for other, m in means.items()}
        assert max(sims, key=sims.get) == tid, sims


def test_street_crowd_tracks_the_walkers(street):
    assert len(street.people) >= 6, [p.summary() for p in street.people]
    big = street.largest()  # the woman in the foreground
    assert len(big) >= 0.9 * street.n_frames
    assert big.shape_ok.mean() > 0.8 and np.median(big.boxes[:, 3] - big.boxes[:, 1]) > 250
    for p in street.people:
        assert p.shape_ok.mean() >= 0.5
    seq, frames = big.pretreated()
    assert seq.shape[1:] == (64, 64) and len(seq) == len(frames) >= 0.8 * street.n_frames


def test_cli_all_tracks_outputs(real_video_dir, tmp_path, capsys):
    out = tmp_path / "o"
    assert cli(["silhouettes", str(real_video_dir / "four_walkers.mp4"), "-o", str(out), "--all-tracks",
                "--max-frames", "30", "--no-progress"]) == 0
    doc = json.loads((out / "tracks.json").read_text())
    assert doc["n_frames"] == 30 and len(doc["tracks"]) >= 2
    for tid, t in doc["tracks"].items():
        seq = pickle.loads((out / "tracks" / tid / "silhouettes.pkl").read_bytes())
        assert seq.dtype == np.uint8 and seq.shape == (len(t["frames"]), 64, 64)
        assert t["frames"] == sorted(t["frames"]) and max(t["frames"]) < 30
        assert len(t["boxes"]) == len(t["person_scores"]) == len(t["mask_areas"]) == len(t["keypoints"]) == len(seq)
        assert np.asarray(t["keypoints"]).shape[1:] == (17, 3)
        masks = sorted((out / "tracks" / tid / "masks").glob("*.png"))
        assert len(masks) >= len(seq)
        m = cv2.imread(str(masks[0]), cv2.IMREAD_GRAYSCALE)
        assert m.shape == (854, 480) and set(np.unique(m)) <= {0, 255}
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet.shape[0] > 128 * len(doc["tracks"])
    assert (out / "overlay.mp4").stat().st_size > 10000
    assert "person track(s)" in capsys.readouterr().out


def test_video_without_people_exit_2(real_video_dir, tmp_path, capsys):
    # the building facade above the walkers: windows and trees, no person
    clip = np.stack([f[0:300, 0:480] for _, f in zip(range(12), _frames(real_video_dir / "four_walkers.mp4"))])
    np.save(tmp_path / "facade.npy", clip)
    assert cli(["silhouettes", str(tmp_path / "facade.npy"), "-o", str(tmp_path / "o"), "--all-tracks"]) == 2
    assert "no person found" in capsys.readouterr().err
    with pytest.raises(VideoError, match="no person found"):
        track_people(clip)


def _frames(path):
    from gait_tf.video.readers import open_video

    yield from open_video(path)


def test_corrupt_frame_in_the_middle_is_skipped_and_counted(real_video_dir, tmp_path):
    """An MJPG AVI whose 8th frame's JPEG data is destroyed: the reader skips it, counts it,
    and every later frame keeps its true index."""
    from gait_tf.video.readers import VideoReader
    from gait_tf.video.writers import write_video

    frames = [f for _, f in zip(range(16), _frames(real_video_dir / "four_walkers.mp4"))]
    path = tmp_path / "clip.avi"
    write_video(path, frames, fps=30)
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 3) if data[i:i + 3] == b"\xff\xd8\xff"]
    assert len(starts) >= 16
    s = starts[7]
    data[s:s + 4000] = bytes(4000)  # wipe its header and first scan lines
    path.write_bytes(bytes(data))
    reader = VideoReader(path)
    got = list(reader.iter_indexed())
    assert reader.corrupt_frames == 1 and reader.corrupt_indices == [7]
    assert [i for i, _ in got] == [i for i in range(16) if i != 7]


def test_gif_with_palette_and_transparency_is_read(tmp_path):
    from PIL import Image

    from gait_tf.video.readers import read_video

    frames = []
    for k in range(5):
        im = Image.new("P", (40, 60), 0)
        im.putpalette([0, 0, 0, 255, 255, 255, 200, 30, 30] + [0] * (256 * 3 - 9))
        im.paste(1, (10 + k, 5, 30 + k, 55))
        im.paste(2, (0, 0, 5, 5))
        frames.append(im)
    path = tmp_path / "pal.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], transparency=0, duration=40, loop=0, disposal=2)
    clip = read_video(path)
    assert clip.shape == (5, 60, 40, 3)
    assert (clip[2, 30, 20] == 255).all() and (clip[2, 2, 2] == [200, 30, 30]).all()


def test_enroll_video_and_identify_every_walker(real_video_dir, tmp_path, capsys):
    """Two walkers enrolled from the clip; identify-video answers every track: the enrolled
    ones by name (same frames: distance ~0), the others "unknown" at a tight threshold."""
    from gait_tf import models
    from gait_tf.gallery import Gallery

    model = models.create("gaitset", in_channels=(1, 4, 8, 8), out_channels=8, bin_num=(2, 1))
    model_path = tmp_path / "tiny_gaitset.keras"
    model.save(model_path)
    gallery = tmp_path / "people.gallery"
    Gallery("gaitset", (6, 8)).save(gallery)
    video = str(real_video_dir / "four_walkers.mp4")
    for tid, name in ((1, "white_shirt"), (2, "yellow_shirt")):
        assert cli(["gallery", "enroll-video", video, "--gallery", str(gallery), "--model", str(model_path),
                    "--track", str(tid), "--subject", name, "--max-frames", "40", "--no-progress"]) == 0
    assert "enrolled 'white_shirt' from track 1" in capsys.readouterr().out
    assert cli(["identify-video", video, "--gallery", str(gallery), "--model", str(model_path), "--max-frames", "40",
                "--threshold", "0.001", "--json", "--no-progress"]) == 0
    doc = json.loads(capsys.readouterr().out)
    answers = {t["track"]["track_id"]: t for t in doc["tracks"]}
    assert len(answers) >= 3
    assert answers[1]["identity"] == "white_shirt" and answers[2]["identity"] == "yellow_shirt"
    assert answers[1]["matches"][0]["distance"] < 1e-3
    others = [a for tid, a in answers.items() if tid not in (1, 2) and a["identity"] is not None]
    assert others and all(a["identity"] == "unknown" for a in others)
    # one track only, as text
    assert cli(["identify-video", video, "--gallery", str(gallery), "--model", str(model_path), "--max-frames", "40",
                "--track", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "track 2 (frames" in out and "identity yellow_shirt" in out and "track 1 (frames" not in out
    assert cli(["gallery", "enroll-video", video, "--gallery", str(gallery), "--model", str(model_path),
                "--track", "9", "--subject", "x", "--max-frames", "20", "--no-progress"]) == 2
    assert "no person track 9" in capsys.readouterr().err


def test_default_model_tells_real_walkers_apart(four):
    """The shipped model embeds real front-end tracks: each walker's second half is closer to
    its own first half than to any other walker's (four_walkers: 4 men, one clip)."""
    from gait_tf import pretrained
    from gait_tf.evaluation.distance import pairwise_distance
    from gait_tf.evaluation.embed import model_embed_fn

    embed = model_embed_fn(pretrained.load())
    firsts, seconds = [], []
    for p in four.people:
        seq, _ = p.pretreated()
        h = len(seq) // 2
        firsts.append(embed(seq[:h]))
        seconds.append(embed(seq[h:]))
    d = pairwise_distance(np.stack(seconds), np.stack(firsts))
    genuine = np.diag(d)
    impostor = np.where(np.eye(len(d), dtype=bool), np.inf, d)
    assert (genuine < impostor.min(1)).mean() >= 0.75, d
    assert genuine.mean() < d[~np.eye(len(d), dtype=bool)].mean()
