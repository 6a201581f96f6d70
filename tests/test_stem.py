"""Segmentation → 3D-CNN stem: output sizes, masking, parity with PyTorch, serialization."""
import numpy as np
import pytest

import keras

from gait_tf.errors import ModelError
from gait_tf.models.stems import SegmentationStem3D, conv_output_size, stem_output_size


@pytest.mark.parametrize("h,w", [(64, 44), (240, 320), (97, 33), (10, 10), (128, 88)])
def test_output_size_follows_conv3d_formula(h, w):
    layer = SegmentationStem3D()
    out = layer(np.zeros((1, 2, h, w, 3), np.float32))
    # Conv3d formula by hand: floor((n + 2p - k) / s) + 1, then the pool's
    exp_h = ((h + 6 - 7) // 2 + 1 + 2 - 3) // 2 + 1
    exp_w = ((w + 6 - 7) // 2 + 1 + 2 - 3) // 2 + 1
    assert tuple(out.shape) == (1, 2, exp_h, exp_w, 1)
    assert stem_output_size(h, w) == (exp_h, exp_w)


def test_too_small_input_is_refused():
    with pytest.raises(ModelError, match="too small"):
        conv_output_size(1, 7, 2, 0)


def test_rejects_non_rgb():
    with pytest.raises(ModelError, match="RGB"):
        SegmentationStem3D()(np.zeros((1, 2, 16, 16, 1), np.float32))


def test_mask_removes_background():
    rng = np.random.default_rng(0)
    frames = rng.random((1, 3, 32, 32, 3)).astype(np.float32)
    mask = np.zeros((1, 3, 32, 32, 1), np.float32)
    layer = SegmentationStem3D()
    masked = keras.ops.convert_to_numpy(layer(frames, mask))
    unmasked = keras.ops.convert_to_numpy(layer(frames))
    # all-zero mask: the conv sees zeros, so every output equals BN(0) (no bias)
    assert np.allclose(masked, masked.flat[0])
    assert unmasked.std() > 1e-3
    # a 4-D mask works as well as a 5-D one
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(frames, mask[..., 0])), masked)


def test_matches_pytorch_reference():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    frames = rng.standard_normal((2, 3, 37, 29, 3)).astype(np.float32)
    mask = (rng.random((2, 3, 37, 29, 1)) > 0.3).astype(np.float32)

    conv = torch.nn.Conv3d(3, 1, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False)
    bn = torch.nn.BatchNorm3d(1)
    pool = torch.nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
    with torch.no_grad():
        bn.running_mean.fill_(0.3)
        bn.running_var.fill_(2.0)
        bn.weight.fill_(1.5)
        bn.bias.fill_(-0.7)
    for m in (conv, bn, pool):
        m.eval()
    x_t = torch.from_numpy((frames * mask).transpose(0, 4, 1, 2, 3).copy())
    with torch.no_grad():
        ref = pool(bn(conv(x_t))).numpy().transpose(0, 2, 3, 4, 1)

    layer = SegmentationStem3D()
    layer(frames, mask)
    # PyTorch [out, in, T, H, W] -> Keras [T, H, W, in, out]
    layer.conv.kernel.assign(conv.weight.detach().numpy().transpose(2, 3, 4, 1, 0))
    layer.bn.set_weights([bn.weight.detach().numpy(), bn.bias.detach().numpy(),
                          bn.running_mean.numpy(), bn.running_var.numpy()])
    out = keras.ops.convert_to_numpy(layer(frames, mask, training=False))
    assert out.shape == ref.shape
    # BN output is negative in places: zero padding before the max pool would differ
    assert (ref < 0).any()
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_segmenter_is_applied_and_serializes(tmp_path):
    inp = keras.Input((None, None, 3))
    seg = keras.Model(inp, keras.layers.Conv2D(1, 1, activation="sigmoid")(inp))
    stem_in = keras.Input((None, 24, 20, 3))
    model = keras.Model(stem_in, SegmentationStem3D(filters=2, segmenter=seg)(stem_in))
    x = np.random.default_rng(2).random((1, 2, 24, 20, 3)).astype(np.float32)
    path = tmp_path / "stem.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)),
                               atol=1e-6)
