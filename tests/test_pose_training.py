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


def test_crop_and_flip_synthetic_walker():
    from gait_tf.synth import WalkerGenerator

    seq = WalkerGenerator(seed=0).sequence(subject=1, condition="nm-01", view=90, n_frames=3)
    rgb, j = training.crop_person(seq.rgb, seq.joints)
    assert rgb.shape == (3, 299, 299, 3) and rgb.dtype == np.uint8
    vis = j[..., 2] > 0
    assert vis.sum() > 30 and (j[..., :2][vis] >= 0).all() and (j[..., :2][vis] < 299).all()
    # the pelvis lands on the person (its mask), mapped with the same transform
    side = 240
    x0 = int(np.clip(round(seq.joints[..., 0][seq.joints[..., 2] > 0].mean() - side / 2), 0, 320 - side))
    px, py = seq.joints[0, 6, :2]
    assert abs(j[0, 6, 0] - (px - x0) * 299 / side) < 1e-3 and abs(j[0, 6, 1] - py * 299 / side) < 1e-3
    fx, fj = training.flip_lr(rgb, j)
    assert np.allclose(fj[:, 0, 0], 298 - j[:, 5, 0]) and np.array_equal(fx[:, :, ::-1], rgb)
    bx, bj = training.flip_lr(fx, fj)
    assert np.array_equal(bx, rgb) and np.allclose(bj, j)
    with pytest.raises(DataError, match="joints"):
        training.crop_person(seq.rgb, seq.joints[:, :5])


@pytest.fixture(scope="module")
def fast_net():
    return HumanPoseIRNetwork(backbone="mobilenet_v2")


def test_fast_backbone_trains(fast_net):
    from gait_tf.synth import WalkerGenerator

    gen = WalkerGenerator(seed=0)
    images, joints = training.synthetic_pose_samples(gen, [1], frames_per_seq=2, seed=0)
    assert images.shape == (2, 299, 299, 3) and joints.shape == (2, 16, 3)
    assert fast_net.feed_forward_features(images).shape == (2, 17, 17, 32)
    trainer = training.PoseTrainer(fast_net, learning_rate=1e-3, optimizer="adam")
    losses = [trainer.train_step(images, joints) for _ in range(3)]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    ys, xs, p = fast_net.joint_positions(images)
    assert ys.shape == (2, 16)


def test_end_to_end_gradients_reach_both_networks():
    from gait_tf.synth import WalkerGenerator

    fast_net = HumanPoseIRNetwork(num_block35=1, num_block17=1)  # tiny Inception-ResNet-v2

    gen = WalkerGenerator(seed=0)
    frames = np.stack([training.crop_person(gen.sequence(subject=s, condition="nm-01", view=90, n_frames=2).rgb,
                                            gen.sequence(subject=s, condition="nm-01", view=90, n_frames=2).joints)[0]
                       for s in (1, 2)])  # [2, 2, 299, 299, 3]
    gait = GaitNetwork(num_of_persons=2)
    pose_w = fast_net.model.get_layer("AuxiliaryScoring.Scoring_layer").kernel
    before_pose, before_fc = pose_w.numpy().copy(), gait.model.fc.kernel.numpy().copy()
    trainer = training.EndToEndTrainer(fast_net, gait, loss="softmax", learning_rate=1e-3)
    loss = trainer.train_step(frames, [0, 1])
    assert np.isfinite(loss) and loss > 0
    assert not np.allclose(pose_w.numpy(), before_pose) and not np.allclose(gait.model.fc.kernel.numpy(), before_fc)
    with pytest.raises(ConfigError, match="num_of_persons"):
        training.EndToEndTrainer(fast_net, GaitNetwork(), loss="softmax")
