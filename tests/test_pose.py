"""HumanPoseIRNetwork: full 299x299 forward, TF1 checkpoint name map, save/restore, CLI."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from gait_tf.errors import CheckpointError, ModelError  # noqa: E402
from gait_tf.pose import human_pose  # noqa: E402
from gait_tf.pose.human_pose import JOINT_NAMES, HumanPoseIRNetwork, _heads  # noqa: E402
from gait_tf.pose.layers import GaussianSmoothing, gauss_kernel_1d  # noqa: E402
from gait_tf.pose.tf1_names import pose_name_map  # noqa: E402


@pytest.fixture(scope="module")
def net():
    return HumanPoseIRNetwork(backend="keras")  # the untrained Keras network, not the real backend


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (1, 299, 299, 3), dtype=np.uint8)


def test_joint_names_are_synth_order():
    from gait_tf.synth import JOINT_NAMES as synth_names

    assert tuple(JOINT_NAMES) == tuple(synth_names) and len(JOINT_NAMES) == 16
    assert JOINT_NAMES[0] == "right_ankle" and JOINT_NAMES[9] == "head_top"


def test_forward_shapes_and_ranges(net, images):
    feats = net.feed_forward_features(images)
    assert feats.shape == (1, 17, 17, 32) and np.isfinite(feats).all()
    hm = net.heat_maps(images)
    assert hm.shape == (1, 289, 289, 16) and hm.min() >= 0.0 and hm.max() <= 1.0
    ys, xs, probs = net.joint_positions(images)
    assert ys.shape == xs.shape == probs.shape == (1, 16)
    assert (ys >= 0).all() and (ys < 299).all() and (xs < 299).all()
    assert ((probs > 0) & (probs < 1)).all()
    # float input in 0..255 is the same as uint8; input_scale handles [0, 1] floats
    np.testing.assert_allclose(net.feed_forward_features(images.astype(np.float32)), feats, atol=1e-4)
    with pytest.raises(ModelError, match="RGB"):
        net.feed_forward_features(images[..., :2])


def test_backbone_geometry(net):
    m = net.model
    assert tuple(m.get_layer("Mixed_6a.concat").output.shape[1:]) == (17, 17, 1088)
    assert tuple(m.get_layer("Mixed_5b.concat").output.shape[1:]) == (35, 35, 320)
    assert tuple(m.get_layer("AuxLogits.Conv2d_2a_5x5.relu").output.shape[1:]) == (17, 17, 768)
    assert sum(1 for layer in m.layers if layer.name.endswith(".add")) == 30  # 10 block35 + 20 block17
    up = m.get_layer("AuxiliaryScoring.Upsampling_layer")
    assert up.kernel.shape == (17, 17, 16, 32) and up.strides == (17, 17)


def test_gaussian_smoothing_and_peak_decoding():
    k = gauss_kernel_1d(21, 1.0, 0.2)
    assert abs(k.sum() ** 2 - 0.2) < 1e-6 and k.argmax() == 10
    # sigma = 1.0 in units of 4/20 px -> 5 px: k[10+5]/k[10] = exp(-1/2)
    assert abs(k[15] / k[10] - np.exp(-0.5)) < 1e-5
    const = np.ones((1, 60, 60, 2), np.float32)
    out = GaussianSmoothing(21, 1.0, 0.2)(const).numpy()
    assert abs(out[0, 30, 30, 0] - 0.2) < 1e-5 and out[0, 0, 0, 0] < 0.1  # SAME zero padding at the border
    logits = np.full((1, 289, 289, 16), -8.0, np.float32)
    logits[0, 100, 50, 3] = 5.0
    hm = GaussianSmoothing(15, 0.7, 1.0)(tf.sigmoid(logits)).numpy()
    out = _heads({"logits": tf.constant(logits), "heatmaps": tf.constant(hm)})
    assert out["y"].numpy()[0, 3] == 100 and out["x"].numpy()[0, 3] == 50
    assert abs(out["prob"].numpy()[0, 3] - 1 / (1 + np.exp(-5.0))) < 1e-6


def test_full_name_map(net):
    entries = pose_name_map(net.model)
    names = [e.names[0] for e in entries]
    for expected in ["InceptionResnetV2/Conv2d_1a_3x3/weights", "InceptionResnetV2/Conv2d_1a_3x3/BatchNorm/moving_mean",
                     "InceptionResnetV2/Mixed_5b/Branch_0/Conv2d_1x1/weights",
                     "InceptionResnetV2/Mixed_5b/Branch_3/Conv2d_0b_1x1/BatchNorm/beta",
                     "InceptionResnetV2/Repeat/block35_10/Branch_2/Conv2d_0c_3x3/BatchNorm/beta",
                     "InceptionResnetV2/Mixed_6a/Branch_1/Conv2d_1a_3x3/weights",
                     "InceptionResnetV2/Repeat_1/block17_20/Conv2d_1x1/biases",
                     "InceptionResnetV2/AuxLogits/Conv2d_2a_5x5/BatchNorm/moving_variance",
                     "NewInceptionResnetV2/AuxiliaryScoring/Scoring_layer/biases",
                     "NewInceptionResnetV2/AuxiliaryScoring/Upsampling_layer/weights"]:
        assert expected in names
    # one TF1 name per Keras weight, no duplicates, no gamma (slim BN has no scale)
    assert len(names) == len(set(names)) == len(net.model.weights)
    assert not any(n.endswith("gamma") for n in names)


@pytest.fixture(scope="module")
def small():
    """Same architecture and names with 2 block35 + 2 block17 (cheap checkpoint I/O)."""
    return HumanPoseIRNetwork(num_block35=2, num_block17=2)


def test_restore_original_tf1_checkpoint(small, tmp_path):
    """Variables written under slim's names with tf.compat.v1 (graph + Saver) land in the
    Keras weights the name map says."""
    net = small
    entries = pose_name_map(net.model)
    rng = np.random.default_rng(5)
    values = {e.names[0]: (rng.standard_normal(tuple(e.variables[0].shape)) * 0.05
                           + (1.0 if e.names[0].endswith("moving_variance") else 0.0)).astype(np.float32)
              for e in entries}
    prefix = str(tmp_path / "MPII+LSP.ckpt")
    with tf.Graph().as_default():
        tvars = [tf.compat.v1.get_variable(n, initializer=v) for n, v in values.items()]
        tvars.append(tf.compat.v1.Variable(7, name="global_step"))
        extra = tf.compat.v1.get_variable("InceptionResnetV2/Mixed_7a/Branch_0/Conv2d_0a_1x1/weights", [1, 1, 4, 4])
        saver = tf.compat.v1.train.Saver(tvars + [extra])
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, prefix)
    report = net.restore(prefix)
    assert report["missing"] == [] and report["loaded"] == len(values)
    assert report["unused"] == ["InceptionResnetV2/Mixed_7a/Branch_0/Conv2d_0a_1x1/weights"]
    for e in entries:
        np.testing.assert_array_equal(e.variables[0].numpy(), values[e.names[0]], err_msg=e.names[0])
    kernel = net.model.get_layer("Repeat_1.block17_2.Branch_1.Conv2d_0c_7x1").kernel.numpy()
    np.testing.assert_array_equal(kernel, values["InceptionResnetV2/Repeat_1/block17_2/Branch_1/Conv2d_0c_7x1/weights"])

    # an ImageNet-style start: only the InceptionResnetV2/ part is read
    trunk_only = net.restore(prefix, is_pre_trained_imagenet_checkpoint=True)
    assert "NewInceptionResnetV2/AuxiliaryScoring/Scoring_layer/weights" in trunk_only["unused"]

    # save() writes the same names back (TF1 format), restore() after clobbering recovers them
    out = net.save(tmp_path, "again")
    assert out.endswith("again.ckpt")
    layer = net.model.get_layer("AuxiliaryScoring.Scoring_layer")
    layer.kernel.assign(np.zeros(layer.kernel.shape, np.float32))
    net.restore(out)
    np.testing.assert_array_equal(layer.kernel.numpy(),
                                  values["NewInceptionResnetV2/AuxiliaryScoring/Scoring_layer/weights"])

    # a checkpoint without the scoring layers: error names the checkpoint and a variable...
    trunk = {n: v for n, v in values.items() if n.startswith("InceptionResnetV2/")}
    with tf.Graph().as_default():
        tv = [tf.compat.v1.get_variable(n, initializer=v) for n, v in list(trunk.items())[:3]]
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver(tv).save(sess, str(tmp_path / "partial.ckpt"))
    with pytest.raises(CheckpointError, match="partial.ckpt.*lacks"):
        net.restore(tmp_path / "partial.ckpt")
    with pytest.raises(CheckpointError, match="missing.ckpt"):
        net.restore(tmp_path / "missing.ckpt")


def test_registry_humanpose():
    from gait_tf import models

    spec = models.get_spec("humanpose")
    assert spec.input_kind == "image" and spec.input_hw == (299, 299) and spec.channels == 3


def test_cli_pose_draws_and_prints(net, tmp_path, monkeypatch, capsys):
    from PIL import Image

    from gait_tf.cli import main

    monkeypatch.setattr(human_pose, "HumanPoseIRNetwork", lambda **kw: net)
    img = np.zeros((240, 320, 3), np.uint8)
    img[60:200, 140:180] = 200
    Image.fromarray(img).save(tmp_path / "walker.png")
    weights = net.save(tmp_path / "net.weights.h5")  # --weights: the Keras network answers, one person
    assert main(["pose", str(tmp_path / "walker.png"), "--out", str(tmp_path / "out"), "--weights", str(weights),
                 "--threshold", "0"]) == 0
    printed = capsys.readouterr().out
    assert "right_ankle" in printed and "left_wrist" in printed and "%" in printed
    drawn = np.asarray(Image.open(tmp_path / "out" / "walker_pose.png"))
    assert drawn.shape == (240, 320, 3) and (drawn != img).any()
    assert main(["pose", str(tmp_path / "nope.png"), "--out", str(tmp_path / "out")]) == 2
    assert "nope.png" in capsys.readouterr().err


def test_cli_embed_video(net, tmp_path, monkeypatch, capsys):
    from gait_tf.cli import main

    monkeypatch.setattr(human_pose, "HumanPoseIRNetwork", lambda **kw: net)
    clip = np.random.default_rng(1).integers(0, 255, (2, 120, 160, 3), dtype=np.uint8)
    np.save(tmp_path / "clip.npy", clip)
    assert main(["embed-video", str(tmp_path / "clip.npy"), "--out", str(tmp_path / "vec.npy"),
                 "--batch-size", "1"]) == 0
    vec = np.load(tmp_path / "vec.npy")
    assert vec.shape == (512,) and vec.dtype == np.float32 and np.isfinite(vec).all() and np.abs(vec).max() > 0
    assert main(["embed-video", str(tmp_path / "missing.mp4")]) == 2
    assert "missing.mp4" in capsys.readouterr().err


def test_keras_file_roundtrip(small, tmp_path):
    import keras

    x = np.random.default_rng(2).uniform(-1, 1, (1, 299, 299, 3)).astype(np.float32)
    small.model.save(tmp_path / "pose.keras")
    loaded = keras.models.load_model(tmp_path / "pose.keras")
    ref = small.model(x)["features"].numpy()
    assert np.isfinite(ref).all() and np.abs(ref).max() > 0
    np.testing.assert_allclose(loaded(x)["features"].numpy(), ref, atol=1e-4)


def test_xla_formulations_of_the_head_equal_the_default_kernels():
    """Under jit_compile the smoothing runs as shifted sums and the 17x17 upsampling as a
    matmul (XLA:CPU is slow on depthwise / strided transposed convolutions): same maths."""
    from gait_tf.pose.layers import PatchUpsampling, in_xla_context

    rng = np.random.default_rng(3)
    up = PatchUpsampling(5, 17, strides=17, padding="valid", bias_initializer="random_normal")
    feats = tf.constant(rng.normal(size=(2, 3, 4, 6)).astype(np.float32))
    ref_up = tf.keras.layers.Conv2DTranspose(5, 17, strides=17, padding="valid")
    ref_up.build(feats.shape)
    up.build(feats.shape)
    ref_up.set_weights(up.get_weights())
    smooth = GaussianSmoothing(21, 1.0, 0.2)
    seen = []

    def head(x):
        seen.append(in_xla_context())
        y = up(x)
        return y, smooth(y)

    eager_up, eager_smooth = head(feats)
    xla_up, xla_smooth = tf.function(head, jit_compile=True)(feats)
    assert seen == [False, True]
    assert tuple(xla_up.shape) == (2, 51, 68, 5)
    np.testing.assert_allclose(eager_up.numpy(), ref_up(feats).numpy(), atol=1e-5)
    np.testing.assert_allclose(xla_up.numpy(), eager_up.numpy(), atol=1e-5)
    np.testing.assert_allclose(xla_smooth.numpy(), eager_smooth.numpy(), atol=1e-5)
    assert np.abs(eager_smooth.numpy()).max() > 1e-3  # not a trivially zero map
