"""HSTL: blocks, presets, parameter counts, checkpoint conversion at parity, .keras, train/export."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from gait_tf import models  # noqa: E402
from gait_tf.errors import ModelError  # noqa: E402
from gait_tf.models import blocks  # noqa: E402
from gait_tf.models.hstl import RegionConv3D, temporal_max_pool_k3_k5  # noqa: E402

TOL = 1e-4
TINY_CB = dict(channels=(4, 8, 8), class_num=5)
TINY_OU = dict(channels=(4, 8, 8, 8), class_num=5, variant="oumvlp",
               regions=((4, 24, 4), (4, 4, 12, 8, 4), (4, 4, 12, 4, 4, 4)), hpp_bins=(32,))
#: parameters of the official configurations (sum of torch parameters, BN statistics excluded),
#: reproduced by tests/torch_reference/hstl.py (test_reference_parameter_counts)
EXPECTED_PARAMS = {"casia_b": 4_745_834, "oumvlp": 89_103_603, "gait3d": 54_719_087}
PARTS = {"casia_b": 73, "oumvlp": 50, "gait3d": 46}


def _sils(b, t, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((b, t, 64, 44, 1)) > 0.5).astype("float32")


def test_presets_parts_and_parameter_counts():
    spec = models.get_spec("hstl")
    assert spec.input_kind == "silhouette" and spec.input_hw == (64, 44)
    assert set(spec.presets) == set(EXPECTED_PARAMS) and spec.default_preset == "casia_b"
    keras.backend.clear_session()
    model = models.create("hstl", preset="casia_b")  # full size (the OU-MVLP/Gait3D presets: see below)
    assert blocks.count_parameters(model) == EXPECTED_PARAMS["casia_b"]
    assert model.output["embeddings"].shape[1:] == (73, 128)
    assert model.output["logits"].shape[1:] == (73, 74)
    for preset in ("oumvlp", "gait3d"):  # same architecture as the presets at tiny width
        cfg = dict(spec.presets[preset], channels=(2, 4, 4, 4), class_num=3)
        out = models.create("hstl", **cfg).output
        assert out["embeddings"].shape[1:] == (PARTS[preset], 4), preset


def test_reference_parameter_counts():
    torch = pytest.importorskip("torch")
    from torch_reference import hstl as H
    from torch_reference.opengait import n_parameters

    with torch.device("meta"):
        for preset, count in EXPECTED_PARAMS.items():
            assert n_parameters(H.HSTL(**models.get_spec("hstl").presets[preset])) == count, preset


def test_fta_pools_match_a_direct_loop():
    rng = np.random.default_rng(0)
    for t in (3, 4, 5, 6, 7, 10):
        x = rng.normal(size=(2, t, 3, 2, 4)).astype("float32")
        a, b = (np.asarray(v) for v in temporal_max_pool_k3_k5(x))
        tq = (t - 3) // 3 + 1
        assert a.shape == b.shape == (2, tq, 3, 2, 4)
        for j in range(tq):
            np.testing.assert_allclose(a[:, j], x[:, 3 * j:3 * j + 3].max(1))
            np.testing.assert_allclose(b[:, j], x[:, max(3 * j - 1, 0):3 * j + 4].max(1))


def test_region_conv_keeps_regions_apart():
    layer = RegionConv3D(3, (5, 3), activation=False)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 4, 8, 6, 2)).astype("float32")
    y = np.asarray(layer(x))
    x2 = x.copy()
    x2[:, :, 5:] += 10.0  # change the second region only
    y2 = np.asarray(layer(x2))
    np.testing.assert_allclose(y[:, :, :5], y2[:, :, :5], atol=1e-5)  # first region untouched
    assert np.abs(y[:, :, 5:] - y2[:, :, 5:]).max() > 1.0
    # border row 4 of region 1 is computed with zero padding below (not from row 5)
    full = np.asarray(keras.ops.conv(x, layer.kernel[0], padding="same"))
    assert np.abs(full[:, :, 4] - y[:, :, 4]).max() > 1e-3


def test_outputs_for_any_number_of_frames():
    model = models.create("hstl", **TINY_CB)
    for t in (1, 2, 4, 9):
        out = model(_sils(2, t, seed=t), training=False)
        assert np.asarray(out["embeddings"]).shape == (2, 73, 8)
        assert np.asarray(out["logits"]).shape == (2, 73, 5)
        assert np.isfinite(np.asarray(out["embeddings"])).all()
    with pytest.raises(ModelError, match="regions"):
        models.create("hstl", channels=(4, 8, 8), regions=((40, 20), (8, 32, 16, 8)))


def _reference(cfg, seed=0):
    torch = pytest.importorskip("torch")
    from torch_reference import hstl as H
    from torch_reference import opengait as R

    torch.manual_seed(seed)
    ref = H.HSTL(**cfg)
    R.kaiming_(ref, seed)
    R.randomize_bn(ref, seed)
    H.randomize_gem(ref, seed)
    return ref.eval()


def _compare(ref, model, frames, b=2, seed=0):
    import torch

    rng = np.random.default_rng(seed)
    diffs, scales = {}, {}
    for t in frames:
        x = (rng.random((b, t, 64, 44)) > 0.5).astype("float32")
        with torch.no_grad():
            r = ref(torch.from_numpy(x))
        k = model(x[..., None], training=False)
        for key, value in r.items():
            value = np.transpose(value.numpy(), (0, 2, 1))  # [n, c, p] -> [n, p, c]
            diffs[(key, t)] = float(np.abs(np.asarray(k[key]) - value).max())
            scales[(key, t)] = float(np.abs(value).max())
    return diffs, scales


@pytest.mark.parametrize("cfg", [TINY_CB, TINY_OU], ids=["casia_b", "oumvlp"])
def test_checkpoint_conversion_parity(cfg, tmp_path):
    torch = pytest.importorskip("torch")
    from gait_tf.convert import convert_checkpoint

    ref = _reference(cfg)
    ckpt = tmp_path / "hstl.pt"
    torch.save({"model": ref.state_dict(), "optimizer": {}, "iteration": 1}, str(ckpt))
    model = convert_checkpoint(ckpt, model="hstl", **cfg)
    diffs, scales = _compare(ref, model, frames=(2, 7) if cfg is TINY_CB else (7,))
    assert max(diffs.values()) < TOL, diffs
    assert min(scales.values()) > 0.5, scales  # not vacuous
    assert blocks.count_parameters(model) == sum(p.numel() for p in ref.parameters())


def test_cli_convert_and_keras_round_trip(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from gait_tf.cli import main as cli_main

    ref = _reference(TINY_CB, seed=1)
    ckpt = tmp_path / "hstl.pt"
    torch.save({"model": ref.state_dict()}, str(ckpt))
    out = tmp_path / "hstl.keras"
    code = cli_main(["convert", "--model", "hstl", "--checkpoint", str(ckpt), "--out", str(out),
                     "--set", "channels=[4, 8, 8]", "--set", "class_num=5"])
    assert code == 0 and out.is_file()
    capsys.readouterr()
    loaded = keras.saving.load_model(out)
    diffs, _ = _compare(ref, loaded, frames=(5,), b=1, seed=2)
    assert max(diffs.values()) < TOL, diffs
    # a checkpoint of another architecture is refused by name
    code = cli_main(["convert", "--model", "hstl", "--checkpoint", str(ckpt), "--out", str(out),
                     "--set", "channels=[4, 8, 8, 8]", "--set", "class_num=5", "--set", "variant=oumvlp",
                     "--set", "regions=[[4, 24, 4], [4, 4, 12, 8, 4], [4, 4, 12, 4, 4, 4]]",
                     "--set", "hpp_bins=[32]"])
    assert code == 2 and "arme4" in capsys.readouterr().err


def test_trains_with_the_trainer_and_exports(tmp_path):
    from gait_tf.serving.export import export_model
    from gait_tf.train import load_config, train

    cfg = load_config(raw={
        "seed": 0,
        "model": {"name": "hstl", "overrides": {"channels": [4, 8, 8]}},
        "data": {"random": {"num_classes": 4}, "p": 2, "k": 2, "frames": 6},
        "losses": [{"type": "triplet", "margin": 0.2}, {"type": "ce", "weight": 1.0}],
        "optimizer": {"type": "adam", "lr": 1e-3},
        "train": {"iterations": 1, "checkpoint_every": 1, "log_every": 1, "progress": False, "export": False},
    })
    summary = train(cfg, tmp_path / "run", log=lambda *a: None)
    assert summary["step"] == 1 and np.isfinite(summary["last_metrics"]["loss"])

    import tensorflow as tf

    model = models.create("hstl", **TINY_CB)
    result = export_model(model, tmp_path / "serving" / "hstl", model_name="hstl", warmup=False)
    served = tf.saved_model.load(str(result.path))
    x = _sils(1, 5, seed=4)
    got = served.signatures["serving_float"](silhouettes=tf.constant(x))
    np.testing.assert_allclose(np.asarray(got["embeddings"]), np.asarray(model(x)["embeddings"]), atol=1e-4)
