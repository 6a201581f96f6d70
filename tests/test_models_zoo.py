"""Silhouette model zoo I: GaitSet, GaitPart, GLN, GaitGL and the shared blocks."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from gait_tf import models  # noqa: E402
from gait_tf.errors import ModelError  # noqa: E402
from gait_tf.models import blocks  # noqa: E402

from torch_reference.counts import EXPECTED_PARAMS  # noqa: E402

# tiny configurations for fast behavioural tests
TINY = {
    "gaitset": dict(in_channels=(1, 4, 8, 8), out_channels=16),
    "gaitpart": dict(layers_cfg=("BC-4", "BC-4", "M", "FC-8-2", "FC-8-2", "M", "FC-8-3", "FC-8-3"), out_channels=8),
    "gln": dict(in_channels=(1, 4, 8, 8), lateral_dim=8, hidden_dim=8, class_num=5),
    "gaitgl": dict(channels=(4, 8, 8), class_num=5),
}
TINY_SHAPES = {
    "gaitset": {"embeddings": (62, 16)},
    "gaitpart": {"embeddings": (16, 8)},
    "gln": {"embeddings": (93, 8), "logits": (1, 5)},
    "gaitgl": {"embeddings": (64, 8), "logits": (64, 5)},
}


def _sils(b, t, h=64, w=44, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((b, t, h, w, 1)) > 0.5).astype("float32")


def test_registry_lists_zoo_models_with_presets():
    names = models.list_models()
    for name in ("gaitset", "gaitpart", "gln", "gaitgl"):
        assert name in names
        spec = models.get_spec(name)
        assert spec.input_kind == "silhouette" and spec.input_hw == (64, 44)
        assert {"casia_b", "oumvlp"} <= set(spec.presets)
        assert spec.default_preset == "casia_b"
    with pytest.raises(ModelError, match="nope"):
        models.create("gaitset", preset="nope")
    with pytest.raises(ModelError, match="variant"):
        models.create("gaitgl", variant="grew")
    with pytest.raises(ModelError, match="XX-3"):
        models.create("gaitpart", layers_cfg=("BC-4", "XX-3"))


@pytest.mark.parametrize("name,preset", sorted(EXPECTED_PARAMS))
def test_parameter_counts_match_opengait(name, preset):
    keras.backend.clear_session()
    model = models.create(name, preset=preset)
    assert blocks.count_parameters(model) == EXPECTED_PARAMS[(name, preset)]


@pytest.mark.parametrize("name", sorted(TINY))
def test_outputs_for_any_number_of_frames(name):
    model = models.create(name, **TINY[name])
    for t in (1, 2, 4, 9):
        out = model(_sils(2, t, seed=t), training=False)
        assert set(out) == set(TINY_SHAPES[name])
        for key, shape in TINY_SHAPES[name].items():
            arr = np.asarray(out[key])
            assert arr.shape == (2,) + shape
            assert np.isfinite(arr).all()
    # set models are order-free: shuffling frames leaves the embedding unchanged
    if name in ("gaitset", "gln"):
        x = _sils(1, 6, seed=3)
        a = np.asarray(model(x, training=False)["embeddings"])
        b = np.asarray(model(x[:, ::-1], training=False)["embeddings"])
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_gln_128x88_option():
    model = models.create("gln", input_hw=(128, 88), **TINY["gln"])
    out = model(_sils(1, 3, 128, 88), training=False)
    assert np.asarray(out["embeddings"]).shape == (1, 93, 8)


@pytest.mark.parametrize("name", sorted(TINY))
def test_keras_file_round_trip(name, tmp_path):
    model = models.create(name, **TINY[name])
    x = _sils(2, 5, seed=1)
    ref = model(x, training=False)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    out = loaded(x, training=False)
    for key in ref:
        np.testing.assert_array_equal(np.asarray(ref[key]), np.asarray(out[key]))
    assert blocks.count_parameters(loaded) == blocks.count_parameters(model)


def test_gaitgl_repeats_short_sequences_like_opengait():
    # T=1 is tiled to 3 frames, T=2 to 4 frames: same output as feeding the tiled sequence
    model = models.create("gaitgl", **TINY["gaitgl"])
    x1 = _sils(1, 1, seed=5)
    np.testing.assert_allclose(
        np.asarray(model(x1, training=False)["embeddings"]),
        np.asarray(model(np.concatenate([x1] * 3, axis=1), training=False)["embeddings"]),
        atol=1e-5,
    )
    x2 = _sils(1, 2, seed=6)
    np.testing.assert_allclose(
        np.asarray(model(x2, training=False)["embeddings"]),
        np.asarray(model(np.concatenate([x2] * 2, axis=1), training=False)["embeddings"]),
        atol=1e-5,
    )


# ------------------------------------------------------------------ blocks


def test_hpp_mean_plus_max_per_bin():
    x = np.random.default_rng(0).normal(size=(2, 8, 6, 3)).astype("float32")
    out = np.asarray(blocks.HorizontalPoolingPyramid((4, 2, 1))(x))
    assert out.shape == (2, 7, 3)
    flat = x.reshape(2, 48, 3)
    expect = []
    for b in (4, 2, 1):
        z = flat.reshape(2, b, 48 // b, 3)
        expect.append(z.mean(2) + z.max(2))
    np.testing.assert_allclose(out, np.concatenate(expect, 1), rtol=1e-6, atol=1e-6)


def test_gem_learnable_p_and_clamp():
    layer = blocks.GeMHPP((2,), p_init=3.0)
    x = np.random.default_rng(0).normal(size=(1, 4, 2, 5)).astype("float32")
    out = np.asarray(layer(x))
    z = np.maximum(x.reshape(1, 2, 4, 5), 1e-6)
    np.testing.assert_allclose(out, np.mean(z**3, axis=2) ** (1 / 3), rtol=1e-5)
    assert [w.path.split("/")[-1] for w in layer.trainable_weights] == ["p"]


def test_focal_conv_does_not_cross_strips():
    layer = blocks.FocalConv2D(4, 3, halving=2)  # 4 strips of 2 rows on an 8-row map
    x = np.random.default_rng(0).random((1, 8, 5, 3)).astype("float32")
    y0 = np.asarray(layer(x))
    x2 = x.copy()
    x2[:, 2:4] += 1.0  # change strip 1 only
    y1 = np.asarray(layer(x2))
    np.testing.assert_array_equal(y0[:, :2], y1[:, :2])
    np.testing.assert_array_equal(y0[:, 4:], y1[:, 4:])
    assert np.abs(y0[:, 2:4] - y1[:, 2:4]).max() > 0
    plain = blocks.FocalConv2D(4, 3, halving=0)
    plain.build(x.shape)
    plain.kernel.assign(layer.kernel)
    yp = np.asarray(plain(x2))
    assert np.abs(yp[:, 1] - y1[:, 1]).max() > 1e-4  # a plain conv does see the next strip


def test_tfa_average_counts_padding_zeros():
    # with zero conv weights the scores are sigmoid(0) = 1/2 and the TFA output is
    # max_t 0.5 * (avg3 + max3 + avg5 + max5) with averages dividing by the full window
    layer = blocks.TemporalFeatureAggregator(parts_num=1, in_channels=4)
    x = np.ones((1, 1, 1, 4), "float32")  # a single frame
    layer.build(x.shape)
    for w in layer.weights:
        w.assign(np.zeros(w.shape, "float32"))
    out = np.asarray(layer(x))
    np.testing.assert_allclose(out, 0.5 * (1 / 3 + 1 + 1 / 5 + 1) * np.ones((1, 1, 4)), rtol=1e-6)


def test_leaky_relu_and_batchnorm_follow_pytorch_defaults():
    act = blocks.leaky_relu()
    np.testing.assert_allclose(np.asarray(act(np.array([-1.0, 2.0], "float32"))), [-0.01, 2.0], rtol=1e-6)
    bn = blocks.batch_norm()
    assert bn.epsilon == 1e-5 and abs(bn.momentum - 0.9) < 1e-9


@pytest.mark.parametrize(
    "layer",
    [
        blocks.HorizontalPoolingPyramid((4, 1)),
        blocks.GeMHPP((4,), p_init=2.0, eps=1e-5),
        blocks.SeparateFCs(3, 4, 5, norm=True),
        blocks.SeparateBNNecks(3, 4, 6, norm=False),
        blocks.FocalConv2D(7, 3, halving=1),
        blocks.GLConv(6, halving=1, fm_sign=True),
        blocks.TemporalFeatureAggregator(3, 8, squeeze=2),
        blocks.RepeatShortSequence(4),
        blocks.FrameConv3D(5, (3, 1, 1), temporal_stride=3),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_block_configs_round_trip(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_separate_bnnecks_cosine_logits():
    neck = blocks.SeparateBNNecks(3, 4, 6)
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    feat, logits = neck(x, training=False)
    feat, logits = np.asarray(feat), np.asarray(logits)
    assert feat.shape == (2, 3, 4) and logits.shape == (2, 3, 6)
    np.testing.assert_allclose(np.linalg.norm(feat, axis=-1), 1.0, rtol=1e-5)
    assert np.abs(logits).max() <= 1.0 + 1e-5


@pytest.mark.parametrize("kernel,stride,frames", [((3, 3, 3), 1, 5), ((3, 3, 3), 1, 1), ((3, 1, 1), 3, 7)])
def test_frame_conv3d_equals_keras_conv3d(kernel, stride, frames):
    x = np.random.default_rng(0).normal(size=(2, frames, 8, 6, 3)).astype("float32")
    ours = blocks.FrameConv3D(4, kernel, temporal_stride=stride)
    ours.build(x.shape)
    ref = keras.layers.Conv3D(
        4, kernel, strides=(stride, 1, 1), padding="same" if stride == 1 else "valid", use_bias=False
    )
    ref.build(x.shape)
    ref.kernel.assign(ours.kernel)
    expect = np.asarray(ref(x))  # stride 3: 'valid' in time, 1x1 in space
    got = np.asarray(ours(x))
    assert got.shape == expect.shape
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-5)


def test_xla_compiles_for_short_and_long_sequences():
    import tensorflow as tf

    model = models.create("gaitgl", **TINY["gaitgl"])
    fn = tf.function(lambda x: model(x, training=False), jit_compile=True)
    for t in (1, 4):
        x = _sils(1, t, seed=t)
        np.testing.assert_allclose(
            np.asarray(fn(x)["embeddings"]), np.asarray(model(x, training=False)["embeddings"]), atol=1e-5
        )
