"""Pose training targets/losses, synthetic data preparation, fast backbone, end-to-end training."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from gait_tf.errors import ConfigError, DataError  # noqa: E402
from gait_tf.pose import training  # noqa: E402
from gait_tf.pose.gait_network import GaitNetwork  # noqa: E402
from gait_tf.pose.human_pose import HumanPoseIRNetwork  # noqa: E402


def _joints(x, y, visible=1.0):
    j = np.zeros((1, 16, 3), np.float32)
    j[0, :, 0], j[0, :, 1], j[0, :, 2] = x, y, visible
    return j


def test_binary_disk_and_gaussian_targets():
    j = _joints(150.0, 100.0)
    j[0, 5, 2] = 0.0  # left ankle invisible
    sce = training.heatmap_targets(j, "SCE")
    assert sce.shape == (1, 289, 289, 16) and set(np.unique(sce)) == {0.0, 1.0}
    area = sce[0, :, :, 0].sum()
    assert abs(area - np.pi * 7.5 ** 2) < 12  # diameter 15 disk
    ys, xs = np.nonzero(sce[0, :, :, 0])
    assert abs(xs.mean() - 150 * 289 / 299) < 0.6 and abs(ys.mean() - 100 * 289 / 299) < 0.6
    assert sce[0, :, :, 5].sum() == 0
    mse = training.heatmap_targets(j, "MSE")
    cy, cx = 100 * 289 / 299, 150 * 289 / 299
    iy, ix = int(round(cy)), int(round(cx))
    d2 = (iy - cy) ** 2 + (ix + 5 - cx) ** 2
    assert abs(mse[0, iy, ix + 5, 0] - np.exp(-d2 / 50.0)) < 1e-5
    with pytest.raises(ConfigError, match="kind"):
        training.heatmap_targets(j, "L1")


def test_pose_loss_masks_invisible_joints():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2, 20, 20, 16)).astype(np.float32)
    targets = (rng.random((2, 20, 20, 16)) > 0.9).astype(np.float32)
    vis = np.ones((2, 16), np.float32)
    vis[1, 3] = 0
    loss = float(training.pose_loss(logits, targets, vis, "SCE"))
    ce = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    expected = (ce.sum(axis=(1, 2)) * vis).sum() / vis.sum()
    assert abs(loss - expected) < 1e-3 * abs(expected)
    logits2 = logits.copy()
    logits2[1, :, :, 3] += 10.0  # the invisible joint does not matter
    assert abs(float(training.pose_loss(logits2, targets, vis, "SCE")) - loss) < 1e-4
    mse = float(training.pose_loss(logits, targets, vis, "MSE"))
    sq = (1 / (1 + np.exp(-logits)) - targets) ** 2
    assert abs(mse - (sq.sum(axis=(1, 2)) * vis).sum() / vis.sum()) < 1e-3


def test_crop_centres_the_person_in_every_frame():
    from gait_tf.synth import WalkerGenerator

    seq = WalkerGenerator(seed=0).sequence(subject=1, condition="nm-01", view=90)  # walks across 320 px
    rgb, j = training.crop_person(seq.rgb, seq.joints)
    t = len(seq.rgb)
    assert rgb.shape == (t, 299, 299, 3) and rgb.dtype == np.uint8
    # every frame: the joints' box is centred and its extent is 299 / 1.3 (median over frames)
    lo, hi = j[..., :2].min(1), j[..., :2].max(1)
    np.testing.assert_allclose((lo + hi) / 2, 149.5, atol=2.0)
    assert abs(np.median((hi - lo).max(1)) - 299 / training.CROP_MARGIN) < 2.0
    assert (j[..., 2] == seq.joints[..., 2]).all()  # nothing cut off
    # the transform of the joints is the one applied to the pixels: the pelvis lies on the
    # person's mask, cropped the same way (first and last frames, at both image borders)
    mask = np.repeat(seq.masks[..., None].astype(np.uint8) * 255, 3, axis=-1)
    mrgb, _ = training.crop_person(mask, seq.joints)
    for f in (0, t - 1):
        x, y = np.round(j[f, 6, :2]).astype(int)
        assert mrgb[f, y - 2:y + 3, x - 2:x + 3, 0].min() > 128
        assert mrgb[f, :3, :, 0].max() < 128 and mrgb[f, :, :3, 0].max() < 128  # background around
    with pytest.raises(DataError, match="joints"):
        training.crop_person(seq.rgb, seq.joints[:, :5])


def test_flip_swaps_left_and_right():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (2, 299, 299, 3), dtype=np.uint8)
    j = np.concatenate([rng.uniform(0, 298, (2, 16, 2)), np.ones((2, 16, 1))], -1).astype(np.float32)
    fx, fj = training.flip_lr(rgb, j)
    assert np.allclose(fj[:, 0, 0], 298 - j[:, 5, 0]) and np.allclose(fj[:, 0, 1], j[:, 5, 1])
    assert np.allclose(fj[:, 6, 0], 298 - j[:, 6, 0]) and np.array_equal(fx[:, :, ::-1], rgb)
    bx, bj = training.flip_lr(fx, fj)
    assert np.array_equal(bx, rgb) and np.allclose(bj, j)


def test_targets_decode_back_to_the_joints():
    """targets (image px) -> confident logits -> the network's smoothing -> arg-max -> image px."""
    from gait_tf.pose.human_pose import _heads
    from gait_tf.pose.layers import GaussianSmoothing

    rng = np.random.default_rng(1)
    j = np.concatenate([rng.uniform(10, 289, (2, 16, 2)), np.ones((2, 16, 1))], -1).astype(np.float32)
    targets = training.heatmap_targets(j, "SCE")
    logits = GaussianSmoothing(21, 1.0, 0.2)(tf.constant(50.0 * (2 * targets - 1)))
    hm = GaussianSmoothing(15, 0.7, 1.0)(tf.sigmoid(logits))
    out = _heads({"logits": logits, "heatmaps": hm})
    ys, xs = out["y"].numpy() * 299 / 289, out["x"].numpy() * 299 / 289
    err = np.hypot(ys - j[..., 1], xs - j[..., 0])
    assert err.max() < 1.5, err.max()


def test_joint_positions_are_in_input_pixels(monkeypatch):
    import keras

    from gait_tf.pose.human_pose import _heads

    inp = keras.Input((299, 299, 3))
    feats = keras.layers.Conv2D(32, 17, strides=17, padding="valid")(inp)
    up = keras.layers.Conv2DTranspose(16, 17, strides=17)(feats)
    tiny = keras.Model(inp, {"features": feats, "logits": up, "heatmaps": up})
    net = HumanPoseIRNetwork(model=tiny)
    hm = np.zeros((1, 289, 289, 16), np.float32)
    hm[0, 200, 40, 0] = 1.0  # right ankle at heat-map (y 200, x 40)
    hm[0, 10, 280, 9] = 1.0  # head top
    monkeypatch.setattr(net, "_heads_fn", lambda x: _heads({"logits": tf.constant(hm), "heatmaps": tf.constant(hm)}))
    ys, xs, _ = net.joint_positions(np.zeros((240, 320, 3), np.uint8))  # resized to 299 inside
    assert abs(ys[0, 0] - 200 * 240 / 289) < 1e-3 and abs(xs[0, 0] - 40 * 320 / 289) < 1e-3
    assert abs(ys[0, 9] - 10 * 240 / 289) < 1e-3 and abs(xs[0, 9] - 280 * 320 / 289) < 1e-3


def test_pos_weight_and_batchnorm_momentum():
    import keras

    t = np.zeros((1, 8, 8, 16), np.float32)
    t[0, 2, 3] = 1.0
    logits = np.zeros_like(t)
    vis = np.ones((1, 16), np.float32)
    base = float(training.pose_loss(logits, t, vis))
    w = float(training.pose_loss(logits, t, vis, pos_weight=10.0))
    assert abs(base - 64 * np.log(2)) < 1e-3 and abs(w - 73 * np.log(2)) < 1e-3  # 63 bg + 10 x 1 joint px
    net = HumanPoseIRNetwork(backbone="mobilenet_v2", resolution=136, aux_channels=16)
    trainer = training.PoseTrainer(net, bn_momentum=0.9)
    bns = [layer for layer in net.model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) > 10 and all(b.momentum == 0.9 for b in bns) and trainer.pos_weight == 1.0
    assert net.feed_forward_features(np.zeros((1, 299, 299, 3), np.uint8)).shape == (1, 17, 17, 32)
    with pytest.raises(Exception, match="resolution"):
        HumanPoseIRNetwork(backbone="mobilenet_v2", resolution=200)


def test_tiny_network_overfits_one_image():
    """A small fast-backbone network learns one synthetic frame's 16 joints to a few pixels."""
    import keras

    from gait_tf.synth import WalkerGenerator

    keras.utils.set_random_seed(0)
    seq = WalkerGenerator(seed=0).sequence(subject=1, condition="nm-01", view=90, n_frames=1)
    images, joints = training.crop_person(seq.rgb, seq.joints)
    net = HumanPoseIRNetwork(backbone="mobilenet_v2", resolution=136, aux_channels=64, dropout=0.0)
    trainer = training.PoseTrainer(net, learning_rate=3e-3, optimizer="adam", pos_weight=20.0, bn_momentum=0.5)
    vis = joints[0, :, 2] > 0
    ys, xs, _ = net.joint_positions(images)
    before = np.hypot(ys[0] - joints[0, :, 1], xs[0] - joints[0, :, 0])[vis]
    losses = [trainer.train_step(images, joints) for _ in range(110)]
    ys, xs, probs = net.joint_positions(images)
    err = np.hypot(ys[0] - joints[0, :, 1], xs[0] - joints[0, :, 0])[vis]
    assert np.median(before) > 30 and losses[-1] < 0.2 * losses[0]
    assert np.median(err) < 3.0 and err.max() < 8.0, err
    assert probs[0][vis].min() > 0.5


def test_end_to_end_gradients_reach_both_networks():
    from gait_tf.synth import WalkerGenerator

    fast_net = HumanPoseIRNetwork(num_block35=1, num_block17=1)  # tiny Inception-ResNet-v2

    gen = WalkerGenerator(seed=0)
    seqs = [gen.sequence(subject=s, condition="nm-01", view=90, n_frames=2) for s in (1, 2)]
    frames = np.stack([training.crop_person(q.rgb, q.joints)[0] for q in seqs])  # [2, 2, 299, 299, 3]
    gait = GaitNetwork(num_of_persons=2)
    pose_w = fast_net.model.get_layer("AuxiliaryScoring.Scoring_layer").kernel
    before_pose, before_fc = pose_w.numpy().copy(), gait.model.fc.kernel.numpy().copy()
    trainer = training.EndToEndTrainer(fast_net, gait, loss="softmax", learning_rate=1e-3)
    loss = trainer.train_step(frames, [0, 1])
    assert np.isfinite(loss) and loss > 0
    assert not np.allclose(pose_w.numpy(), before_pose) and not np.allclose(gait.model.fc.kernel.numpy(), before_fc)
    with pytest.raises(ConfigError, match="num_of_persons"):
        training.EndToEndTrainer(fast_net, GaitNetwork(), loss="softmax")
