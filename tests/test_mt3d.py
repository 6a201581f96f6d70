"""MT3D: shapes for several T, two temporal scales, serialization, trainer smoke run, export."""
import json

import keras
import numpy as np
import pytest

from gait_tf import models
from gait_tf.models.blocks import count_parameters

TINY = {"channels": (4, 8, 8), "class_num": 5}


@pytest.fixture(scope="module")
def tiny():
    return models.create("mt3d", **TINY)


def test_shapes_for_several_lengths(tiny):
    rng = np.random.default_rng(0)
    for t in (1, 2, 3, 4, 8):
        out = tiny(rng.random((2, t, 64, 44, 1), dtype=np.float32))
        assert tuple(out["embeddings"].shape) == (2, 62, 8)  # 2 branches x (16+8+4+2+1) parts
        assert tuple(out["logits"].shape) == (2, 62, 5)
    spec = models.get_spec("mt3d")
    assert (spec.input_kind, spec.input_hw, spec.channels) == ("silhouette", (64, 44), 1)


def test_large_scale_branch_sees_clips(tiny):
    """The large-scale branch folds 3 frames per clip (LT, stride 3): T frames -> floor(T/3)
    clips; a 1-frame sequence is tiled to one clip; the 3D convolutions are order-aware."""
    lt = tiny.get_layer("lt_in_conv")
    assert lt.kernel_size == (3, 1, 1) and lt.strides == (3, 1, 1)
    probe = keras.Model(tiny.input, [tiny.get_layer("small2_act").output, tiny.get_layer("fuse2").output])
    rng = np.random.default_rng(1)
    for t, clips in ((9, 3), (10, 3), (4, 1), (1, 1)):
        small, large = probe(rng.random((1, t, 64, 44, 1), dtype=np.float32))
        assert small.shape[1] == max(t, 3) and large.shape[1] == clips
        assert tuple(large.shape[2:]) == (16, 11, 8)
    x = rng.random((1, 1, 64, 44, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(tiny(x)["embeddings"]),
                               np.asarray(tiny(np.repeat(x, 3, axis=1))["embeddings"]), atol=1e-6)
    x = rng.random((1, 6, 64, 44, 1), dtype=np.float32)
    rev = np.asarray(tiny(x[:, ::-1])["embeddings"])
    assert np.abs(rev - np.asarray(tiny(x)["embeddings"])).max() > 1e-4


def test_keras_round_trip(tiny, tmp_path):
    x = np.random.default_rng(2).random((2, 5, 64, 44, 1), dtype=np.float32)
    path = tmp_path / "mt3d.keras"
    tiny.save(path)
    loaded = keras.saving.load_model(path)
    for key in ("embeddings", "logits"):
        np.testing.assert_allclose(np.asarray(loaded(x)[key]), np.asarray(tiny(x)[key]), atol=1e-5)


def test_parameter_counts_scale_with_channels(tiny):
    small = count_parameters(tiny)
    full = count_parameters(models.create("mt3d"))
    assert 0 < small < full
    # hand count for the tiny model: stem 27*1*4, LT in 3*4*4, per stage b3d 27*cin*c + lt 3*c*c
    # (twice b3d: small + large), fcs 62*8*8, bnneck bn 2*62*8 + kernel 62*8*5
    expected = 27 * 4 + 3 * 16
    cin = 4
    for c in (4, 8, 8):
        expected += 2 * 27 * cin * c + 3 * c * c
        cin = c
    expected += 62 * 8 * 8 + 2 * 62 * 8 + 62 * 8 * 5
    assert small == expected


def test_standard_trainer_smoke(tmp_path):
    from gait_tf.train import load_config
    from gait_tf.train.trainer import Trainer

    cfg = load_config(raw={
        "model": {"name": "mt3d", "overrides": {"channels": [4, 4, 8]}},
        "data": {"random": {"num_classes": 4}, "p": 2, "k": 2, "frames": 3},
        "losses": [{"type": "triplet", "margin": 0.2}, {"type": "ce", "weight": 0.1}],
        "optimizer": {"lr": 1e-3}, "train": {"iterations": 2, "log_every": 1, "progress": False,
                                             "checkpoint_every": 2, "strategy": "default"}})
    summary = Trainer(cfg, tmp_path / "run", log=lambda *_: None).fit()
    assert summary["finished"] and np.isfinite(summary["last_metrics"]["loss"])
    model = keras.saving.load_model(tmp_path / "run/model.keras")
    assert tuple(model(np.zeros((1, 4, 64, 44, 1), np.float32))["logits"].shape) == (1, 62, 4)
    assert json.loads((tmp_path / "run/summary.json").read_text())["model"] == "mt3d"


def test_export_saved_model(tiny, tmp_path):
    import tensorflow as tf

    from gait_tf.serving.export import export_model

    result = export_model(tiny, tmp_path / "mt3d", model_name="mt3d", warmup=False, write_configs=False)
    loaded = tf.saved_model.load(str(tmp_path / "mt3d" / "1"))
    x = np.random.default_rng(3).random((1, 4, 64, 44, 1), dtype=np.float32)
    out = loaded.signatures["serving_float"](silhouettes=tf.constant(x))
    np.testing.assert_allclose(out["embeddings"].numpy(), np.asarray(tiny(x)["embeddings"]), atol=1e-4)
    assert out["embedding"].shape == (1, 62 * 8)
    assert result is not None
