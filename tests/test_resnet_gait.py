"""GaitBase and DeepGaitV2 (2D / P3D / 3D): residual blocks, presets, parameter counts,
checkpoint conversion at parity with the OpenGait modules, .keras round trip."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from gait_tf import models  # noqa: E402
from gait_tf.errors import ModelError  # noqa: E402
from gait_tf.models import blocks  # noqa: E402
from torch_reference.counts import EXPECTED_PARAMS_ZOO3  # noqa: E402

TOL = 1e-4
TINY_BASE = dict(channels=(4, 8, 8, 16), layers=(1, 2, 1, 1), class_num=5, out_channels=8)
TINY_DGV2 = dict(channels=(4, 8, 8, 16), layers=(1, 2, 1, 1), class_num=5)


def _sils(b, t, seed=0, h=64, w=44):
    rng = np.random.default_rng(seed)
    return (rng.random((b, t, h, w)) > 0.5).astype("float32")


def _reference(cls, cfg, seed=0):
    torch = pytest.importorskip("torch")
    from torch_reference import opengait as R

    torch.manual_seed(seed)
    ref = cls(**cfg)
    R.kaiming_(ref, seed)
    R.randomize_bn(ref, seed)
    return ref.eval()


def _compare(ref, model, frames, seed=0):
    import torch

    diffs, scales = {}, {}
    for t in frames:
        x = _sils(2, t, seed + t)
        with torch.no_grad():
            r = ref(torch.from_numpy(x))
        out = model(x[..., None], training=False)
        for key, value in r.items():
            value = np.transpose(value.numpy(), (0, 2, 1))  # [n, c, p] -> [n, p, c]
            got = np.asarray(out[key])
            assert got.shape == value.shape, key
            diffs[(key, t)] = float(np.abs(got - value).max())
            scales[(key, t)] = float(np.abs(value).max())
    return diffs, scales


def _convert(ref, name, cfg, tmp_path):
    import torch

    from gait_tf.convert import convert_checkpoint

    ckpt = tmp_path / f"{name}.pt"
    torch.save({"model": ref.state_dict(), "iteration": 1}, str(ckpt))
    return convert_checkpoint(ckpt, model=name, **cfg)


def test_presets_and_outputs():
    for name in ("gaitbase", "deepgaitv2"):
        spec = models.get_spec(name)
        assert spec.input_kind == "silhouette" and spec.input_hw == (64, 44) and spec.default_preset == "casia_b"
        assert {"casia_b", "oumvlp", "gait3d", "grew"} <= set(spec.presets)
    assert models.get_spec("deepgaitv2").presets["gait3d"]["layers"] == (1, 4, 4, 1)
    for mode in ("2d", "p3d", "3d"):
        model = models.create("deepgaitv2", mode=mode, **TINY_DGV2)
        for t in (1, 3):
            out = model(_sils(2, t)[..., None], training=False)
            assert np.asarray(out["embeddings"]).shape == (2, 16, 8)
            assert np.asarray(out["logits"]).shape == (2, 16, 5)
    with pytest.raises(ModelError, match="mode"):
        models.create("deepgaitv2", mode="4d")
    with pytest.raises(ModelError, match="4 entries"):
        models.create("gaitbase", channels=(8, 16, 32))


def test_full_size_parameter_counts():
    """The CASIA-B presets at full size: the Keras count equals OpenGait's."""
    keras.backend.clear_session()
    assert blocks.count_parameters(models.create("gaitbase")) == EXPECTED_PARAMS_ZOO3[("gaitbase", "casia_b")]
    keras.backend.clear_session()
    assert blocks.count_parameters(models.create("deepgaitv2")) == EXPECTED_PARAMS_ZOO3[("deepgaitv2", "casia_b")]


def test_reference_parameter_counts():
    torch = pytest.importorskip("torch")
    from torch_reference import resnet_gait as G

    with torch.device("meta"):
        for key, count in EXPECTED_PARAMS_ZOO3.items():
            if key[0] not in ("gaitbase", "deepgaitv2"):
                continue
            cfg = dict(models.get_spec(key[0]).presets[key[1]])
            if len(key) == 3:
                cfg["mode"] = key[2]
            if key[0] == "gaitbase":
                ref = G.Baseline(channels=cfg["channels"], layers=cfg["layers"], strides=cfg["strides"],
                                 maxpool=cfg["maxpool"], out_channels=cfg["out_channels"], class_num=cfg["class_num"])
            else:
                ref = G.DeepGaitV2(**cfg)
            assert sum(p.numel() for p in ref.parameters()) == count, key


@pytest.mark.parametrize("maxpool", [False, True])
def test_gaitbase_conversion_parity(maxpool, tmp_path):
    from torch_reference import resnet_gait as G

    cfg = dict(TINY_BASE, maxpool=maxpool)
    ref = _reference(G.Baseline, cfg)
    model = _convert(ref, "gaitbase", cfg, tmp_path)
    diffs, scales = _compare(ref, model, frames=(1, 4))
    assert max(diffs.values()) < TOL, diffs
    assert min(v for k, v in scales.items() if k[0] == "embeddings") > 1.0, scales  # not vacuous
    assert blocks.count_parameters(model) == sum(p.numel() for p in ref.parameters())


@pytest.mark.parametrize("mode", ["2d", "p3d", "3d"])
def test_deepgaitv2_conversion_parity(mode, tmp_path):
    from torch_reference import resnet_gait as G

    cfg = dict(TINY_DGV2, mode=mode)
    ref = _reference(G.DeepGaitV2, cfg)
    model = _convert(ref, "deepgaitv2", cfg, tmp_path)
    diffs, scales = _compare(ref, model, frames=(1, 2, 5))
    assert max(diffs.values()) < TOL, diffs
    assert min(v for k, v in scales.items() if k[0] == "embeddings") > 1.0, scales
    assert blocks.count_parameters(model) == sum(p.numel() for p in ref.parameters())
    # BNNeck features as embeddings (OpenGait's use_emb2)
    ref.use_emb2 = True
    model2 = _convert(ref, "deepgaitv2", dict(cfg, use_emb2=True), tmp_path)
    diffs, _ = _compare(ref, model2, frames=(3,))
    assert max(diffs.values()) < TOL, diffs


def test_p3d_and_3d_see_frame_order_2d_does_not():
    x = _sils(1, 6, seed=3)[..., None]
    for mode, order_free in (("2d", True), ("p3d", False), ("3d", False)):
        model = models.create("deepgaitv2", mode=mode, **TINY_DGV2)
        a = np.asarray(model(x, training=False)["embeddings"])
        b = np.asarray(model(x[:, ::-1].copy(), training=False)["embeddings"])
        same = np.allclose(a, b, atol=1e-5)
        assert same == order_free, mode


def test_strided_convolution_pads_like_pytorch():
    """Keras 'same' with stride 2 pads bottom/right only; TorchConv2D pads both sides."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 10, 7, 3)).astype("float32")
    layer = blocks.TorchConv2D(4, 3, stride=2, use_bias=True)
    y = np.asarray(layer(x))
    conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.transpose(np.asarray(layer.kernel), (3, 2, 0, 1))))
        conv.bias.copy_(torch.from_numpy(np.asarray(layer.bias)))
        expect = conv(torch.from_numpy(np.transpose(x, (0, 3, 1, 2)))).numpy().transpose(0, 2, 3, 1)
    assert y.shape == expect.shape == (2, 5, 4, 4)
    np.testing.assert_allclose(y, expect, atol=1e-5)
    same = np.asarray(keras.ops.conv(x, layer.kernel, strides=2, padding="same")) + np.asarray(layer.bias)
    assert np.abs(same - expect).max() > 1e-2  # Keras' 'same' would not be at parity


@pytest.mark.parametrize("name,cfg", [("gaitbase", TINY_BASE), ("deepgaitv2", dict(TINY_DGV2, mode="p3d")),
                                      ("deepgaitv2", dict(TINY_DGV2, mode="3d"))])
def test_keras_file_round_trip(name, cfg, tmp_path):
    model = models.create(name, **cfg)
    x = _sils(2, 4, seed=1)[..., None]
    ref = model(x, training=False)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    out = loaded(x, training=False)
    for key in ref:
        np.testing.assert_array_equal(np.asarray(ref[key]), np.asarray(out[key]))
