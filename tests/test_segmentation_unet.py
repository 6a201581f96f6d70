"""The learned segmenter: U-Net construction, a few training steps, save/load, shipped weights."""
import numpy as np
import pytest

from gait_tf.errors import CheckpointError, ConfigError
from gait_tf.segmentation.train import per_frame_iou, toy_scene, train_segmenter
from gait_tf.segmentation.unet import DEFAULT_WEIGHTS, UNetSegmenter, build_unet


def test_build_unet_shapes_and_size():
    model = build_unet((48, 64), filters=4, depth=2)
    out = model(np.zeros((2, 48, 64, 3), np.float32))
    assert tuple(out.shape) == (2, 48, 64, 1)
    assert float(np.min(out)) >= 0.0 and float(np.max(out)) <= 1.0
    fcn = build_unet((None, None), filters=4, depth=2)
    assert tuple(fcn(np.zeros((1, 32, 40, 3), np.float32)).shape) == (1, 32, 40, 1)
    assert build_unet(filters=8, depth=3).count_params() < 200_000  # < 1 MB of float32 weights
    with pytest.raises(ConfigError, match="multiple of 4"):
        build_unet((50, 64), depth=2)


def test_few_training_steps_reduce_loss_and_roundtrip(tmp_path):
    frames, masks = [], []
    for seed in range(3):
        rgb, m, _ = toy_scene(8, (48, 64), seed=seed, background="moving", person_height=0.7)
        frames.append(rgb)
        masks.append(m)
    x, y = np.concatenate(frames), np.concatenate(masks)
    res = train_segmenter(x, y, filters=4, depth=2, epochs=4, steps_per_epoch=6, batch_size=8, crop=(32, 32),
                          learning_rate=1e-2, val=(x[:6], y[:6]))
    assert len(res.history["loss"]) == 4 and len(res.history["val_iou"]) == 4
    assert res.history["loss"][-1] < res.history["loss"][0]
    seg = UNetSegmenter(res.model, input_hw=(48, 64), batch_size=5)
    path = tmp_path / "seg.keras"
    seg.save(path)
    back = UNetSegmenter.load(path, input_hw=(48, 64))
    # frames of another size are resized in and out
    big = np.repeat(np.repeat(x[:7], 2, axis=1), 2, axis=2)
    p1, p2 = seg.predict_proba(big), back.predict_proba(big)
    assert p1.shape == (7, 96, 128) and p1.dtype == np.float32
    np.testing.assert_allclose(p1, p2, atol=1e-5)
    masks_stream = [m for m, _ in back.segment(iter(big))]
    assert len(masks_stream) == 7 and masks_stream[0].shape == (96, 128) and masks_stream[0].dtype == bool


def test_load_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no segmenter weights"):
        UNetSegmenter.load(tmp_path / "none.keras")
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="bad.keras: not a loadable"):
        UNetSegmenter.load(tmp_path / "bad.keras")
    with pytest.raises(ConfigError, match="differs from the model's fixed input"):
        UNetSegmenter(build_unet((48, 64), filters=2, depth=2), input_hw=(96, 128))


@pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="shipped segmenter weights not trained yet")
def test_shipped_weights_segment_held_out_walkers():
    """The shipped U-Net on walkers and scenes it never saw (generator seed 1000), moving camera."""
    from gait_tf.synth import WalkerGenerator

    assert DEFAULT_WEIGHTS.stat().st_size < 2 * 1024 * 1024
    seg = UNetSegmenter.load()
    gen = WalkerGenerator(seed=1000, image_size=(120, 160))
    ious = []
    for subject, view, bg in [(1, 90, "moving+flicker"), (2, 36, "moving"), (3, 144, "static")]:
        seq = gen.sequence(subject, "nm-01", view, n_frames=12, background=bg)
        pred = seg.masks_from_proba(seg.predict_proba(seq.rgb))
        ious.append(per_frame_iou(pred, seq.masks).mean())
    assert np.mean(ious) > 0.85, ious
