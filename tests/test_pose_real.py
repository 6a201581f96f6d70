"""Real 2D pose out of the box: BlazePose behind HumanPoseNN's API, on real COCO photos."""
import json

import numpy as np
import pytest
from PIL import Image

from gait_tf.cli import main as cli
from gait_tf.errors import ModelError
from gait_tf.pose.keypoints import MPII_NAMES, blazepose_to_coco, blazepose_to_mpii

J = {n: i for i, n in enumerate(MPII_NAMES)}


def _load(path):
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def net():
    from gait_tf.pose.blazepose_backend import BlazePoseNetwork

    return BlazePoseNetwork()


def test_keypoint_layouts():
    kp = np.zeros((33, 3), np.float32)
    kp[:, 2] = 1.0
    kp[11, :2], kp[12, :2] = (60, 100), (40, 100)   # left / right shoulder
    kp[23, :2], kp[24, :2] = (56, 160), (44, 160)   # hips
    kp[7, :2], kp[8, :2] = (55, 70), (45, 70)       # ears
    m = blazepose_to_mpii(kp)
    assert m.shape == (16, 3)
    assert m[J["thorax"], :2] == pytest.approx((50, 100)) and m[J["pelvis"], :2] == pytest.approx((50, 160))
    assert m[J["head_top"], 1] < 70 < m[J["upper_neck"], 1] < 100   # crown above the ears, neck below
    assert m[J["right_shoulder"], 0] == 40 and m[J["left_hip"], 0] == 56
    assert blazepose_to_coco(kp)[[5, 6, 11, 12], 0].tolist() == [60, 40, 56, 44]


def test_standing_man_skeleton_is_anatomical(net, real_images_dir):
    img = _load(real_images_dir / "COCO_val2014_000000000459.jpg")  # a man in a suit, facing the camera
    people = net.estimate_people(img)
    assert len(people) >= 1
    p = net.main_person(people).mpii
    y = p[:, 1]
    assert y[J["head_top"]] < y[J["upper_neck"]] < y[J["thorax"]] < y[J["pelvis"]]
    # facing the camera: his right side is on the image's left
    assert p[J["right_shoulder"], 0] < p[J["left_shoulder"], 0]
    assert p[J["right_hip"], 0] < p[J["left_hip"], 0]
    assert p[[J["right_shoulder"], J["left_shoulder"], J["thorax"]], 2].min() > 0.8
    h, w = img.shape[:2]
    assert (p[:, 0] > -0.1 * w).all() and (p[:, 0] < 1.1 * w).all()


def test_several_people_are_all_found(net, real_images_dir):
    img = _load(real_images_dir / "COCO_val2014_000000000488.jpg")  # a ball game, several players
    people = net.estimate_people(img)
    assert len(people) >= 4
    boxes = np.stack([p.box for p in people])
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    d = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(len(people)) * 1e9
    assert d.min() > 5  # distinct people, not one person found twice


def test_human_pose_network_defaults_to_the_real_backend(real_images_dir):
    from gait_tf.pose.human_pose import HumanPoseIRNetwork

    net = HumanPoseIRNetwork(num_block35=1, num_block17=1)
    assert net.backend == "blazepose"
    img = _load(real_images_dir / "COCO_val2014_000000000459.jpg")
    ys, xs, probs = net.joint_positions(img[None])
    assert ys.shape == xs.shape == probs.shape == (1, 16) and probs[0, J["thorax"]] > 0.8
    hm = net.heat_maps(img[None])
    assert hm.shape == (1, 289, 289, 16)
    j = J["thorax"]
    iy, ix = np.unravel_index(hm[0, :, :, j].argmax(), (289, 289))
    assert iy == pytest.approx(ys[0, j] * 289 / img.shape[0], abs=1)
    assert ix == pytest.approx(xs[0, j] * 289 / img.shape[1], abs=1)
    assert hm[0, :, :, j].max() == pytest.approx(probs[0, j], abs=1e-5)
    assert HumanPoseIRNetwork(num_block35=1, num_block17=1, backend="keras").backend == "keras"
    net.has_weights = True  # what restore() and the trainer set
    assert net.backend == "keras"


def test_bad_images_are_refused(net):
    with pytest.raises(ModelError, match="NaN"):
        net.joint_positions(np.full((1, 64, 64, 3), np.nan, np.float32))
    with pytest.raises(ModelError, match="too small to hold a person"):
        net.joint_positions(np.zeros((1, 1, 1, 3), np.uint8))
    with pytest.raises(ModelError, match=r"\[B, H, W, 3\]"):
        net.joint_positions(np.zeros((1, 64, 64), np.uint8))


def test_cli_pose_draws_every_person(real_images_dir, tmp_path, capsys):
    assert cli(["pose", str(real_images_dir / "COCO_val2014_000000000488.jpg"),
                str(real_images_dir / "COCO_val2014_000000000459.jpg"), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "person(s)" in out and "head_top" in out
    doc = json.loads((tmp_path / "COCO_val2014_000000000488_pose.json").read_text())
    assert doc["backend"] == "blazepose" and len(doc["people"]) >= 4
    assert set(doc["people"][0]["joints"]) == set(MPII_NAMES)
    drawn = np.asarray(Image.open(tmp_path / "COCO_val2014_000000000488_pose.png"))
    original = _load(real_images_dir / "COCO_val2014_000000000488.jpg")
    assert drawn.shape == original.shape and (drawn != original).any(axis=-1).mean() > 0.002


def test_cli_pose_no_person_and_tiny_image_exit_2(real_images_dir, tmp_path, capsys):
    sky = _load(real_images_dir / "COCO_val2014_000000000257.jpg")[:120, :200]  # blue sky and a lamp post
    Image.fromarray(np.ascontiguousarray(sky)).save(tmp_path / "sky.png")
    assert cli(["pose", str(tmp_path / "sky.png"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no person found in" in err and "sky.png" in err
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / "dot.png")
    assert cli(["pose", str(tmp_path / "dot.png"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "too small to hold a person" in err and "32x32" in err
