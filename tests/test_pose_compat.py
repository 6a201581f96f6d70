"""Migration from the original TF1 project: its module names, constructor keywords and
README snippets; and the pose API's refusal of NaN inputs and images too small to hold a
person."""
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from gait_tf.errors import ModelError

# one block per stage: the snippets' API is what is tested here; test_pose.py covers the
# full-depth network (same code path, 10 + 20 blocks)
TINY = {"num_block35": 1, "num_block17": 1}


@pytest.fixture
def tiny_default_network(monkeypatch):
    """``HumanPoseIRNetwork()`` builds a 1-block-per-stage Inception-ResNet-v2 in this test."""
    from gait_tf.pose import human_pose

    full = human_pose.build_pose_model

    def tiny(backbone="inception_resnet_v2", **kwargs):
        return full(backbone, **{**TINY, **kwargs})

    monkeypatch.setattr(human_pose, "build_pose_model", tiny)


def _readme_snippets():
    text = (Path(__file__).resolve().parents[1] / "docs" / "pose.md").read_text()
    blocks = re.findall(r"<!-- original-readme-snippet -->\n```python\n(.*?)```", text, re.S)
    assert len(blocks) == 3, "docs/pose.md must hold the three snippets of the original README"
    return blocks


def test_original_readme_snippets_run_unchanged(tmp_path, monkeypatch, tiny_default_network, recwarn,
                                                real_images_dir):
    from PIL import Image

    import gait_tf.compat

    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "human_pose_nn", raising=False)
    monkeypatch.delitem(sys.modules, "gait_nn", raising=False)
    assert sorted(gait_tf.compat.install_aliases()) == ["gait_nn", "human_pose_nn"]
    from gait_nn import GaitNetwork
    from human_pose_nn import HumanPoseIRNetwork

    # checkpoints (TF1 format, the original's variable names) at the paths the snippets name
    pose = HumanPoseIRNetwork(backend="keras")  # the reference: its weights, as the snippets restore them
    pose.save("path/to/pose_checkpoint.ckpt")
    pose.save("./Human3.6m.ckpt")
    gait2 = GaitNetwork(recurrent_unit="GRU", rnn_layers=2)
    gait2.save("path/to/gait_checkpoint.ckpt")
    GaitNetwork(recurrent_unit="GRU", rnn_layers=1).save("./H3.6m-GRU-1.ckpt")

    photo = real_images_dir / "COCO_val2014_000000000192.jpg"
    image = np.asarray(Image.open(photo).convert("RGB").resize((299, 299)))
    video_frames = np.stack([image, image[:, ::-1]])  # (TIME, HEIGHT, WIDTH, CHANNELS)
    first, second, third = _readme_snippets()

    ns = {"HumanPoseIRNetwork": HumanPoseIRNetwork, "GaitNetwork": GaitNetwork, "video_frames": video_frames}
    exec(compile(first, "README snippet 1", "exec"), ns)
    vector, states = ns["identification_vector"]  # (vector, states) as in the original
    ref_features = pose.feed_forward_features(video_frames)
    np.testing.assert_allclose(ns["spatial_features"], ref_features, atol=1e-4)
    np.testing.assert_allclose(vector, gait2.feed_forward(ref_features)[0], atol=1e-4)
    assert vector.shape == (512,) and len(states) == 2 and np.all(np.isfinite(vector))

    ns = {"HumanPoseIRNetwork": HumanPoseIRNetwork, "input_images": image[None]}
    exec(compile(second, "README snippet 2", "exec"), ns)
    ys, xs, probs = pose.joint_positions(image[None])
    np.testing.assert_array_equal(ns["coords_y"], ys)
    np.testing.assert_array_equal(ns["coords_x"], xs)
    assert ns["probabilities"].shape == (1, 16)

    ns = {"HumanPoseIRNetwork": HumanPoseIRNetwork, "GaitNetwork": GaitNetwork}
    exec(compile(third, "README snippet 3", "exec"), ns)
    assert ns["net_gait"].rnn_layers == 1
    for a, b in zip(ns["net_pose"].model.get_weights(), pose.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not [w for w in recwarn if "TF1" in type(w.message).__name__]  # defaults: nothing to note


def test_original_constructor_keywords(tiny_default_network):
    from gait_tf import compat
    from gait_tf.compat.gait_nn import GaitNetwork
    from gait_tf.compat.human_pose_nn import HumanPoseIRNetwork

    compat._NOTED.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = HumanPoseIRNetwork(log_name=None, loss_type="MSE", is_training=False)
        assert net.loss_type == "MSE" and net.log_name is None and not caught
        logged = HumanPoseIRNetwork("my_log")  # positional: the original's log_name, not a backbone
        assert logged.log_name == "my_log" and logged.backbone == "inception_resnet_v2"
        HumanPoseIRNetwork("other_log", "SCE", True)
        HumanPoseIRNetwork("third_log", is_training=True)  # each note once per process
        gait = GaitNetwork(recurrent_unit="GRU", rnn_layers=2, reuse=False, is_training=False, input_net=None)
        assert gait.rnn_layers == 2 and gait.num_of_persons == 0
        GaitNetwork(num_of_persons=3, recurrent_unit="LSTM", reuse=True, is_training=True, input_net=object())
    notes = [str(w.message) for w in caught if isinstance(w.message, compat.TF1CompatibilityWarning)]
    assert len(notes) == 5, notes
    assert sum("log_name" in n for n in notes) == 1 and sum("HumanPoseIRNetwork(is_training" in n for n in notes) == 1
    assert any("reuse" in n for n in notes) and any("input_net" in n for n in notes)
    with pytest.raises(ModelError, match="num_of_persons > 0"):
        GaitNetwork(is_training=True)  # the original refused this too
    with pytest.raises(ModelError, match="backbone='mobilenet_v2'"):
        HumanPoseIRNetwork("mobilenet_v2")
    with pytest.raises(ModelError, match="loss_type"):
        HumanPoseIRNetwork(loss_type="L1")


def test_aliases_in_a_fresh_process():
    code = ("import gait_tf.compat; gait_tf.compat.install_aliases()\n"
            "from human_pose_nn import HumanPoseIRNetwork, HumanPoseNN\n"
            "from gait_nn import GaitNetwork, GaitNN\n"
            "import gait_tf\n"
            "assert HumanPoseIRNetwork is gait_tf.HumanPoseIRNetwork and GaitNetwork is gait_tf.GaitNetwork\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_nan_inputs_and_tiny_images_are_refused(tiny_default_network):
    from gait_tf.pose import GaitNetwork, HumanPoseIRNetwork

    net = HumanPoseIRNetwork()
    images = np.zeros((2, 64, 64, 3), np.float32)
    images[1, 5, 5, 0] = np.nan
    with pytest.raises(ModelError, match=r"image\(s\) \[1\] of the batch contain NaN"):
        net.joint_positions(images)
    with pytest.raises(ModelError, match="NaN or infinite"):
        net.feed_forward_features(np.full((1, 64, 64, 3), np.inf, np.float32))
    with pytest.raises(ModelError, match=r"1x1 pixels .* too small to hold a person: the minimum is 32x32"):
        net.joint_positions(np.zeros((1, 1, 1, 3), np.uint8))
    with pytest.raises(ModelError, match="too small"):
        net.heat_maps(np.zeros((1, 300, 20, 3), np.uint8))
    ys, xs, probs = net.joint_positions(np.zeros((1, 32, 40, 3), np.uint8))  # the minimum is accepted
    assert ys.shape == (1, 16) and float(ys.max()) < 32 and float(xs.max()) < 40

    gait = GaitNetwork()
    feats = np.zeros((4, 17, 17, 32), np.float32)
    feats[2, 0, 0, 0] = np.nan
    with pytest.raises(ModelError, match=r"NaN or infinite values \(frame\(s\) \[2\]\)"):
        gait.feed_forward(feats)
    with pytest.raises(ModelError, match=r"sequence\(s\) \[1\]"):
        gait.feed_forward_batch(np.stack([np.zeros_like(feats), feats]))
    vector, _ = gait.feed_forward(np.nan_to_num(feats))
    assert np.all(np.isfinite(vector))


def test_pose_command_refuses_a_1x1_image_before_building_the_network(tmp_path, capsys):
    from PIL import Image

    from gait_tf.cli import main

    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    assert main(["pose", str(tmp_path / "dot.png"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"gait-tf pose: error: image '{tmp_path / 'dot.png'}': image of 1x1 pixels (WxH) is too small "
                   "to hold a person: the minimum is 32x32"]
    assert not (tmp_path / "out").exists()
