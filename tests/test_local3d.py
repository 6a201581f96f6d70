"""3D Local CNN: local-volume sampling, presets, parameter count, conversion at parity, .keras,
training and export."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from gait_tf import models  # noqa: E402
from gait_tf.errors import ModelError  # noqa: E402
from gait_tf.models import blocks  # noqa: E402
from gait_tf.models.local3d_ops import PART_NAMES, PART_PRIORS, sample_volume  # noqa: E402

TOL = 1e-4
TINY = dict(channels=(4, 8, 8), local_channels=4, out_features=8)
#: official default configuration (sum of torch parameters, BN statistics excluded),
#: reproduced by tests/torch_reference/local3d.py (test_reference_parameter_count)
EXPECTED_PARAMS = 4_264_862


def _sils(b, t, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((b, t, 64, 44, 1)) > 0.5).astype("float32")


def test_part_priors_are_the_official_defaults():
    assert PART_NAMES == ("head", "torso", "armL", "armR", "legL", "legR")
    assert [PART_PRIORS[p].glimpse_h for p in PART_NAMES] == [6, 9, 11, 11, 13, 13]
    assert PART_PRIORS["armL"].dx == 0.3 and PART_PRIORS["armR"].dx == 0.7
    assert PART_PRIORS["legL"].dy == 0.8 and PART_PRIORS["head"].dy == 1.0 / 16


def test_gaussian_sampler_centres_and_normalisation():
    """A constant map is reproduced (kernels sum to 1) inside the glimpse, zero in the padding;
    a single bright pixel is picked up at the predicted centre."""
    prior = PART_PRIORS["torso"]
    t, h, w = 4, 16, 11
    x = np.ones((1, t, h, w, 1), "float32")
    params = np.zeros((1, 7), "float32")
    params[0, 6] = 50.0  # gamma = sigmoid(50) = 1
    out = np.asarray(sample_volume(x, params, prior, "gaussian"))
    assert out.shape == (1, t, 16, 11, 1)
    top = (16 - prior.glimpse_h) // 2
    np.testing.assert_allclose(out[0, :, top:top + prior.glimpse_h], 1.0, atol=1e-5)
    assert np.abs(out[0, :, :top]).max() == 0 and np.abs(out[0, :, top + prior.glimpse_h:]).max() == 0
    # mix: same spatial kernels; linear interpolation in time scaled by the official 0.5
    mix = np.asarray(sample_volume(x, params, prior, "mix"))
    assert 0.0 < mix.max() <= 0.5 + 1e-6
    # a bright pixel at the torso anchor (x = 0.5 W, y = 3/8 H) dominates the central sample
    x = np.zeros((1, 1, h, w, 1), "float32")
    x[0, 0, 6, 5] = 1.0
    params[0, 3] = np.log(0.05 / prior.sigma)  # narrow kernels (sigma2 = 0.05)
    out = np.asarray(sample_volume(np.repeat(x, 3, axis=1), params, prior, "trilinear"))
    centre = out[0, 1, :, :, 0]
    iy, ix = np.unravel_index(np.argmax(centre), centre.shape)
    assert abs(ix - prior.out_w // 2) <= 1 and abs(iy - (top + prior.glimpse_h // 2)) <= 1


@pytest.mark.parametrize("mode", ["mix", "trilinear", "gaussian"])
def test_sampler_is_differentiable_in_all_seven_parameters(mode):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((2, 6, 16, 11, 3)).astype("float32"))
    params = tf.Variable(rng.normal(scale=0.3, size=(2, 7)).astype("float32"))
    with tf.GradientTape() as tape:
        out = sample_volume(x, params, PART_PRIORS["legL"], mode)
        loss = tf.reduce_sum(out * tf.random.stateless_normal(tf.shape(out), seed=(1, 2)))
    grad = tape.gradient(loss, params).numpy()
    assert np.isfinite(grad).all()
    used = [i for i in range(7) if not (mode == "trilinear" and i == 3)]  # trilinear has no sigma
    assert (np.abs(grad[:, used]) > 1e-7).all(), grad


def test_preset_parameter_count_and_outputs():
    spec = models.get_spec("local3d")
    assert spec.input_kind == "silhouette" and spec.input_hw == (64, 44) and spec.default_preset == "casia_b"
    keras.backend.clear_session()
    model = models.create("local3d")
    assert blocks.count_parameters(model) == EXPECTED_PARAMS
    assert model.output["embeddings"].shape[1:] == (16, 256)
    tiny = models.create("local3d", return_params=True, **TINY)
    for t in (1, 2, 5):
        out = tiny(_sils(2, t, seed=t), training=False)
        assert np.asarray(out["embeddings"]).shape == (2, 16, 8)
        assert np.asarray(out["local_params"]).shape == (2, 6, 7)
        assert np.isfinite(np.asarray(out["embeddings"])).all()
    with pytest.raises(ModelError, match="sampler"):
        models.create("local3d", sampler="bicubic", **TINY)
    with pytest.raises(ModelError, match="backbone 'resnet'"):
        models.create("local3d", backbone="resnet", **TINY)
    with pytest.raises(ModelError, match="'trilinear' has no inverse"):
        models.create("local3d", sampler="trilinear", inverse=True, **TINY)


def test_reference_parameter_count():
    torch = pytest.importorskip("torch")
    from torch_reference import local3d as L
    from torch_reference.opengait import n_parameters

    with torch.device("meta"):
        assert n_parameters(L.LocalCNN3D()) == EXPECTED_PARAMS


def _reference(cfg, seed=0):
    torch = pytest.importorskip("torch")
    from torch_reference import local3d as L
    from torch_reference import opengait as R

    torch.manual_seed(seed)
    ref = L.LocalCNN3D(**cfg)
    R.kaiming_(ref, seed)
    R.randomize_bn(ref, seed)
    L.randomize_loc_fc(ref, seed)
    return ref.eval()


def _compare(ref, model, frames, b=1, seed=0):
    import torch

    rng = np.random.default_rng(seed)
    diffs, scales, pdiffs = {}, {}, {}
    for t in frames:
        x = (rng.random((b, t, 64, 44)) > 0.5).astype("float32")
        with torch.no_grad():
            r = ref(torch.from_numpy(x))["embeddings"].numpy()
        k = model(x[..., None], training=False)
        diffs[t] = float(np.abs(np.asarray(k["embeddings"]) - r).max())
        scales[t] = float(np.abs(r).max())
        if "local_params" in k:
            pdiffs[t] = float(np.abs(np.asarray(k["local_params"]) - ref.last_params.numpy()).max())
    return diffs, scales, pdiffs


@pytest.mark.parametrize("sampler,frames,batch,backbone,inverse", [
    ("mix", (1, 2, 7), 1, "basic", False), ("mix", (6,), 2, "basic", False), ("trilinear", (5,), 1, "basic", False),
    ("gaussian", (5,), 1, "basic", False), ("mix", (3, 6), 2, "fconv", False), ("mix", (4,), 2, "basic", True),
    ("gaussian", (4,), 1, "fconv", True)])
def test_checkpoint_conversion_parity(sampler, frames, batch, backbone, inverse, tmp_path):
    """Official variants: samplers, the ``fconv`` backbone and the ``inverse`` projection."""
    torch = pytest.importorskip("torch")
    from gait_tf.convert import convert_checkpoint

    cfg = dict(TINY, sampler=sampler, backbone=backbone, inverse=inverse)
    ref = _reference(cfg)
    ckpt = tmp_path / "local3d.pt"
    torch.save({"model": ref.state_dict(), "iteration": 1}, str(ckpt))
    model = convert_checkpoint(ckpt, model="local3d", return_params=True, **cfg)
    diffs, scales, pdiffs = _compare(ref, model, frames, b=batch)
    assert max(diffs.values()) < TOL, diffs
    assert max(pdiffs.values()) < TOL, pdiffs  # the localisation outputs agree too
    assert min(scales.values()) > 0.5, scales
    assert blocks.count_parameters(model) == sum(p.numel() for p in ref.parameters())


def test_cli_convert_keras_round_trip_train_and_export(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    import tensorflow as tf

    from gait_tf.cli import main as cli_main
    from gait_tf.serving.export import export_model
    from gait_tf.train import load_config, train

    ref = _reference(TINY, seed=1)
    ckpt = tmp_path / "local3d.pt"
    torch.save({"model": ref.state_dict()}, str(ckpt))
    out = tmp_path / "local3d.keras"
    code = cli_main(["convert", "--model", "local3d", "--checkpoint", str(ckpt), "--out", str(out),
                     "--set", "channels=[4, 8, 8]", "--set", "local_channels=4", "--set", "out_features=8"])
    assert code == 0 and out.is_file()
    capsys.readouterr()
    loaded = keras.saving.load_model(out)
    diffs, _, _ = _compare(ref, loaded, frames=(4,), seed=3)
    assert max(diffs.values()) < TOL, diffs

    result = export_model(loaded, tmp_path / "serving" / "local3d", model_name="local3d", warmup=False,
                          write_configs=False)
    served = tf.saved_model.load(str(result.path))
    x = _sils(1, 5, seed=4)
    got = served.signatures["serving_float"](silhouettes=tf.constant(x))
    np.testing.assert_allclose(np.asarray(got["embeddings"]), np.asarray(loaded(x)["embeddings"]), atol=1e-4)

    cfg = load_config(raw={
        "seed": 0,
        "model": {"name": "local3d", "overrides": {"channels": [4, 8, 8], "local_channels": 4, "out_features": 8}},
        "data": {"random": {"num_classes": 4}, "p": 2, "k": 2, "frames": 6},
        "losses": [{"type": "triplet", "margin": 0.2}],
        "optimizer": {"type": "adam", "lr": 1e-4},
        "train": {"iterations": 1, "checkpoint_every": 1, "log_every": 1, "progress": False, "export": False},
    })
    summary = train(cfg, tmp_path / "run", log=lambda *a: None)
    assert summary["step"] == 1 and np.isfinite(summary["last_metrics"]["loss"])


def test_plot_local3d_volumes_script(tmp_path, repo_root):
    import importlib.util

    spec = importlib.util.spec_from_file_location("plot_local3d_volumes", repo_root / "scripts" / "plot_local3d_volumes.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    x = script.walker_sequence(subject=2, image_size=(120, 160))
    assert x.shape[2:] == (64, 44, 1) and x.shape[1] > 10 and 0.02 < x.mean() < 0.5
    model = models.create("local3d", **TINY)
    volumes = script.part_volumes(model, x[:, :12])
    assert set(volumes) == set(PART_NAMES)
    # with untrained weights the boxes sit near the priors: head above torso above legs
    centre_y = {p: (v["box"][1] + v["box"][3]) / 2 for p, v in volumes.items()}
    assert centre_y["head"] < centre_y["torso"] < centre_y["legL"]
    assert all(len(v["t"]) == 12 and 0 < v["gamma"] < 1 for v in volumes.values())
    out = tmp_path / "fig" / "volumes.png"
    script.draw(x[:, :12], volumes, 4, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("sampler,inverse", [("mix", False), ("trilinear", False), ("gaussian", True)])
def test_static_batch1_graph_trace_equals_eager(sampler, inverse):
    """A ``tf.function`` traced for a static batch of 1 (grappler's remapper on, as by default)
    equals the eager call. TF 2.21's remapper used to fold the sampler's row padding into the
    part's 'same' Conv3D and drop that convolution's own padding (ConcatOp shape mismatch)."""
    import tensorflow as tf

    keras.backend.clear_session()
    model = models.create("local3d", sampler=sampler, inverse=inverse, **TINY)
    x = _sils(1, 6, seed=3)
    fn = tf.function(lambda a: model(a, training=False)["embeddings"],
                     input_signature=[tf.TensorSpec((1, 6, 64, 44, 1), tf.float32)])
    eager = np.asarray(model(x, training=False)["embeddings"])
    assert np.abs(eager).max() > 0
    np.testing.assert_allclose(np.asarray(fn(x)), eager, atol=1e-5, rtol=0)
