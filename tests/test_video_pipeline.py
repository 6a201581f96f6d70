"""Video -> silhouettes -> identity: the pipeline API and the ``silhouettes`` /
``identify-video`` commands, including every bad-input path (exit code 2, no traceback)."""
import json

import cv2
import numpy as np
import pytest

from gait_tf.cli import main as cli
from gait_tf.errors import VideoError
from gait_tf.segmentation.train import per_frame_iou, toy_scene
from gait_tf.video import MIN_FRAMES, extract_silhouettes, read_video, write_video

SIZE = (96, 128)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    out = {}
    specs = {
        "alice": dict(seed=11, speed=2.5, person_height=0.6),
        "bob": dict(seed=12, speed=3.5, person_height=0.75, start=[100.0]),
        "carol": dict(seed=13, speed=2.0, person_height=0.5),
    }
    for name, kw in specs.items():
        rgb, masks, _ = toy_scene(32, SIZE, background="static", **kw)
        write_video(root / f"{name}.avi", rgb, fps=25)
        out[name] = root / f"{name}.avi"
        out[name + "_masks"] = masks
    # walks out of the picture after a few frames
    rgb, _, _ = toy_scene(30, SIZE, seed=14, speed=9.0, start=[75.0])
    write_video(root / "brief.avi", rgb, fps=25)
    out["brief"] = root / "brief.avi"
    # nobody there: the same empty scene in every frame
    rgb, _, _ = toy_scene(20, SIZE, seed=15, people=1, start=[-500.0])
    write_video(root / "empty_scene.avi", rgb, fps=25)
    out["empty_scene"] = root / "empty_scene.avi"
    (root / "garbage.mp4").write_bytes(b"\x00\x01not a video" * 64)
    out["garbage"] = root / "garbage.mp4"
    np.save(root / "zero.npy", np.zeros((0, 96, 128, 3), np.uint8))
    out["zero"] = root / "zero.npy"
    return out


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny random GaitSet saved as .keras (the identify path, not recognition quality)."""
    from gait_tf import models

    model = models.create("gaitset", in_channels=(1, 4, 8, 8), out_channels=8, bin_num=(2, 1))
    path = tmp_path_factory.mktemp("model") / "tiny_gaitset.keras"
    model.save(path)
    return path, model


@pytest.fixture(scope="module")
def gallery_file(videos, tiny_model, tmp_path_factory):
    from gait_tf.evaluation.embed import model_embed_fn
    from gait_tf.gallery import Gallery

    _, model = tiny_model
    embed = model_embed_fn(model)
    gallery = Gallery("gaitset", (6, 8))
    for name in ("alice", "bob"):
        seq = extract_silhouettes(videos[name], "bgsub").pretreated()
        gallery.enroll(name, embed(seq), model_name="gaitset")
    path = tmp_path_factory.mktemp("gallery") / "people.npz"
    gallery.save(path)
    other = Gallery("gaitpart", (6, 8))
    other.enroll("alice", np.ones((6, 8), np.float32))
    other_path = path.with_name("gaitpart.npz")
    other.save(other_path)
    return path, other_path


def test_extract_silhouettes_matches_ground_truth(videos):
    res = extract_silhouettes(videos["alice"], "bgsub")
    truth = videos["alice_masks"]
    assert res.n_frames == len(truth) and res.frame_shape == SIZE
    sil = res.silhouettes
    assert sil.dtype == np.uint8 and set(np.unique(sil)) <= {0, 255}
    iou = per_frame_iou(sil > 0, truth[res.frame_indices]).mean()
    assert iou > 0.85, iou
    assert len(res) >= 30
    # smoothed boxes follow the walker: box centre within a few px of the mask centre
    cx = np.array([np.flatnonzero(truth[i].any(0)).mean() for i in res.frame_indices])
    assert np.abs((res.boxes[:, 0] + res.boxes[:, 2]) / 2 - cx)[5:].mean() < 3
    seq = res.pretreated()
    assert seq.shape[1:] == (64, 64) and len(seq) >= MIN_FRAMES


def test_two_people_largest_rule_and_track_id():
    rgb, _, ids = toy_scene(30, SIZE, seed=21, people=2, start=[20.0, 110.0], speed=2.0)
    res = extract_silhouettes(rgb, "bgsub", bg_method="mog2")
    assert res.track_id == 1 and len(res.tracks) >= 2
    clean = [k for k, f in enumerate(res.frame_indices) if f < 10]  # before the two walkers meet
    assert per_frame_iou(np.stack([res.frame(k) > 0 for k in clean]),
                         ids[res.frame_indices[clean]] == 1).mean() > 0.8
    other = extract_silhouettes(rgb, "bgsub", track=2)
    assert other.track_id == 2
    first = int(other.frame_indices[0])
    assert ((other.frame(0) > 0) & (ids[first] == 2)).sum() > 0.8 * (other.frame(0) > 0).sum()
    with pytest.raises(VideoError, match="no track with id 9"):
        extract_silhouettes(rgb, "bgsub", track=9)


def test_background_footage_for_a_walker_who_does_not_cross(tmp_path):
    """Someone walking on the spot stays in the temporal median; footage of the empty scene fixes it."""
    rgb, masks, _ = toy_scene(24, SIZE, seed=31, speed=0.0, start=[60.0])
    empty, _, _ = toy_scene(24, SIZE, seed=31, start=[-500.0])  # same scene, nobody in it
    cv2.imwrite(str(tmp_path / "empty.png"), cv2.cvtColor(empty[0], cv2.COLOR_RGB2BGR))
    with_bg = extract_silhouettes(rgb, "bgsub", background=tmp_path / "empty.png")
    assert per_frame_iou(with_bg.silhouettes > 0, masks[with_bg.frame_indices]).mean() > 0.9
    try:
        without = extract_silhouettes(rgb, "bgsub")
        iou = per_frame_iou(without.silhouettes > 0, masks[without.frame_indices]).mean() * len(without) / len(rgb)
    except VideoError:  # nothing found at all
        iou = 0.0
    assert iou < 0.6


def test_unet_method_path_with_a_tiny_segmenter():
    """The learned path end to end, with a 1x1-conv 'segmenter' that knows magenta = person."""
    import keras

    from gait_tf.segmentation import UNetSegmenter

    inp = keras.Input((48, 64, 3))
    conv = keras.layers.Conv2D(1, 1, activation="sigmoid")
    model = keras.Model(inp, conv(inp))
    conv.set_weights([np.array([0.05, -0.05, 0.05], np.float32).reshape(1, 1, 3, 1), np.array([-15.0], np.float32)])
    rgb, masks, _ = toy_scene(20, SIZE, seed=2, background="moving", colors=[(255, 0, 255)])
    seg = UNetSegmenter(model, batch_size=7)
    res = extract_silhouettes(rgb, "unet", segmenter=seg)
    assert res.method == "unet" and len(res) == 20
    assert per_frame_iou(res.silhouettes > 0, masks).mean() > 0.8


def test_cli_silhouettes_writes_pngs_pickle_overlay(videos, tmp_path, capsys):
    out = tmp_path / "sil"
    code = cli(["silhouettes", "--method", "bgsub", str(videos["alice"]), "-o", str(out), "--pickle",
                "--overlay", str(tmp_path / "check.gif"), "--no-progress"])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "* track 1" in stdout
    pngs = sorted(out.glob("alice-*.png"))
    summary = json.loads((out / "silhouettes.json").read_text())
    assert len(pngs) == summary["n_silhouettes"] == len(summary["frame_indices"]) >= 30
    img = cv2.imread(str(pngs[3]), cv2.IMREAD_UNCHANGED)
    assert img.shape == SIZE and img.dtype == np.uint8 and set(np.unique(img)) == {0, 255}
    from gait_tf.data.io import read_pickle

    seq = read_pickle(out / "alice.pkl")
    assert seq.shape[1:] == (64, 64) and len(seq) == summary["pickle"]["frames"]
    overlay = read_video(tmp_path / "check.gif")
    assert overlay.shape == (32,) + SIZE + (3,)
    video = read_video(videos["alice"])
    k = summary["frame_indices"][5]
    sil = cv2.imread(str(pngs[5]), cv2.IMREAD_UNCHANGED) > 0
    diff = np.abs(overlay[k].astype(int) - video[k].astype(int)).mean(-1)
    assert diff[:20].mean() < 12  # sky untouched (up to GIF palette quantisation)
    assert diff[sil].mean() > diff[:20].mean() + 25  # the person is tinted


def test_cli_identify_video_ranks_the_enrolled_walker(videos, tiny_model, gallery_file, capsys):
    model_path, _ = tiny_model
    gallery, _ = gallery_file
    for name in ("alice", "bob"):
        code = cli(["identify-video", "--method", "bgsub", str(videos[name]), "--gallery", str(gallery), "--model", str(model_path),
                    "--json", "--no-progress"])
        assert code == 0
        res = json.loads(capsys.readouterr().out)
        assert res["identity"] == name
        assert res["matches"][0]["distance"] < 1e-3 < res["matches"][1]["distance"]
    code = cli(["identify-video", "--method", "bgsub", str(videos["carol"]), "--gallery", str(gallery), "--model", str(model_path),
                "--threshold", "1e-6", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "identity: unknown" in out and "rank" in out


@pytest.mark.parametrize("case,pattern", [
    ("garbage", "garbage.mp4: unreadable video"),
    ("zero", "zero.npy: empty video"),
    ("missing", "missing.mp4: no such video"),
    ("empty_scene", "no person found"),
])
def test_cli_bad_videos_exit_2(videos, tmp_path, capsys, case, pattern):
    path = videos.get(case, tmp_path / "missing.mp4")
    code = cli(["silhouettes", "--method", "bgsub", str(path), "-o", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert pattern in err and "Traceback" not in err
    assert err.startswith("gait-tf silhouettes: error:")


def test_cli_too_few_frames_and_wrong_gallery(videos, tiny_model, gallery_file, capsys):
    model_path, _ = tiny_model
    gallery, other = gallery_file
    code = cli(["identify-video", "--method", "bgsub", str(videos["brief"]), "--gallery", str(gallery), "--model", str(model_path),
                "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and f"at least {MIN_FRAMES} are needed" in err and "Traceback" not in err
    code = cli(["identify-video", "--method", "bgsub", str(videos["alice"]), "--gallery", str(other), "--model", str(model_path)])
    err = capsys.readouterr().err
    assert code == 2 and "'gaitpart'" in err and "'gaitset'" in err and "Traceback" not in err
    (gallery.parent / "broken.npz").write_bytes(b"PK\x03\x04 truncated")
    code = cli(["identify-video", "--method", "bgsub", str(videos["alice"]), "--gallery", str(gallery.parent / "broken.npz"),
                "--model", str(model_path)])
    err = capsys.readouterr().err
    assert code == 2 and "broken.npz" in err
    code = cli(["identify-video", "--method", "bgsub", str(videos["alice"]), "--gallery", str(gallery), "--model",
                str(gallery.parent / "nope.keras")])
    assert code == 2 and "nope.keras" in capsys.readouterr().err


def test_progress_bar_on_long_videos_only(tmp_path, capsys):
    rgb, _, _ = toy_scene(110, (48, 64), seed=41, speed=0.5, start=[5.0], person_height=0.8)
    np.save(tmp_path / "long.npy", rgb)
    np.save(tmp_path / "short.npy", rgb[:40])
    assert cli(["silhouettes", "--method", "bgsub", str(tmp_path / "long.npy"), "-o", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "segmenting" in err and "/110 [" in err
    assert cli(["silhouettes", "--method", "bgsub", str(tmp_path / "long.npy"), "-o", str(tmp_path / "b"), "--no-progress"]) == 0
    assert "segmenting" not in capsys.readouterr().err
    assert cli(["silhouettes", "--method", "bgsub", str(tmp_path / "short.npy"), "-o", str(tmp_path / "c")]) == 0
    assert "segmenting" not in capsys.readouterr().err


def test_cli_bad_arguments_exit_2(videos, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert cli(["silhouettes", "--method", "bgsub", str(videos["alice"]), "-o", str(tmp_path / "file")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert cli(["silhouettes", "--method", "bgsub", str(videos["alice"]), "-o", str(tmp_path / "o"), "--overlay", "x.png"]) == 2
    assert "use a .gif, .mp4 or .avi" in capsys.readouterr().err
    assert cli(["silhouettes", str(videos["alice"]), "-o", str(tmp_path / "o"), "--track", "tall"]) == 2
    assert "--track must be 'largest' or a track id" in capsys.readouterr().err
    assert cli(["silhouettes", str(videos["alice"]), "-o", str(tmp_path / "o"), "--method", "unet",
                "--segmenter", str(tmp_path / "none.keras")]) == 2
    assert "none.keras: no segmenter weights" in capsys.readouterr().err
