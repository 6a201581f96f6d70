"""PyTorch (OpenGait-format) checkpoints -> Keras: numerical parity, validation, CLI."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

from gait_tf import models  # noqa: E402
from gait_tf.cli import main as cli_main  # noqa: E402
from gait_tf.convert import convert_checkpoint, load_state_dict  # noqa: E402
from gait_tf.errors import CheckpointError  # noqa: E402
from gait_tf.models.gaitpart import CASIA_B_LAYERS, OUMVLP_LAYERS  # noqa: E402
from torch_reference import opengait as R  # noqa: E402
from torch_reference.counts import EXPECTED_PARAMS  # noqa: E402

TOL = 1e-4

CASES = {
    "gaitset": dict(in_channels=(1, 4, 8, 8), out_channels=16),
    "gaitpart": dict(layers_cfg=("BC-4", "BC-4", "M", "FC-8-2", "FC-8-2", "M", "FC-8-3", "FC-8-3"), out_channels=8),
    "gln-phase2": dict(in_channels=(1, 4, 8, 8), lateral_dim=8, hidden_dim=8, class_num=5),
    "gln-phase1": dict(in_channels=(1, 4, 8, 8), lateral_dim=8, hidden_dim=8, class_num=5, pretrain=True),
    "gaitgl-casia_b": dict(channels=(4, 8, 8), class_num=5),
    "gaitgl-oumvlp": dict(channels=(4, 8, 8, 8), class_num=5, variant="oumvlp"),
    "gaitgl-bnneck": dict(channels=(4, 8, 8), class_num=5, bnneck=True),
}


def _reference(name, cfg, seed=0):
    torch.manual_seed(seed)
    ref = R.build(name, **{k: (list(v) if k == "layers_cfg" else v) for k, v in cfg.items()})
    R.kaiming_(ref, seed)
    R.randomize_bn(ref, seed)
    return ref.eval()


def _save(ref, path, **extra):
    torch.save({"model": ref.state_dict(), "optimizer": {}, "iteration": 1, **extra}, str(path))
    return path


def _compare(ref, keras_model, frames, h=64, w=44, seed=0, scales=None):
    """Max abs difference per (output, T); ``scales`` collects the outputs' max abs value."""
    rng = np.random.default_rng(seed)
    diffs = {}
    for t in frames:
        x = (rng.random((2, t, h, w)) > 0.5).astype("float32")
        with torch.no_grad():
            r = ref(torch.from_numpy(x))
        k = keras_model(x[..., None], training=False)
        for key, value in r.items():
            value = value.numpy()
            if value.shape[1] != 1:  # OpenGait [n, c, p] -> ours [n, p, c]
                value = np.transpose(value, (0, 2, 1))
            got = np.asarray(k[key])
            assert got.shape == value.shape, key
            diffs[(key, t)] = float(np.abs(got - value).max())
            if scales is not None:
                scales[(key, t)] = float(np.abs(value).max())
    return diffs


@pytest.mark.parametrize("case", sorted(CASES))
def test_parity_tiny(case, tmp_path):
    name = case.split("-")[0]
    cfg = CASES[case]
    ref = _reference(name, cfg)
    ckpt = _save(ref, tmp_path / "ckpt.pt")
    model = convert_checkpoint(ckpt, model=name, **cfg)
    scales = {}
    diffs = _compare(ref, model, frames=(1, 2, 7) if name in ("gaitgl", "gaitpart") else (1, 5), scales=scales)
    assert max(diffs.values()) < TOL, diffs
    # not vacuous: the outputs are O(1) (He-initialised weights), far above the tolerance
    assert min(scales.values()) > 0.5, scales


def test_parity_gaitset_casia_b_full_size(tmp_path):
    ref = _reference("gaitset", {})
    ckpt = _save(ref, tmp_path / "gaitset.pt")
    model = convert_checkpoint(ckpt, model="gaitset", preset="casia_b")
    diffs = _compare(ref, model, frames=(10,))
    assert max(diffs.values()) < TOL, diffs


def test_reference_parameter_counts():
    """The torch reference (OpenGait architecture) reproduces EXPECTED_PARAMS for every preset."""
    cfgs = {
        ("gaitset", "casia_b"): dict(),
        ("gaitset", "oumvlp"): dict(in_channels=(1, 64, 128, 256)),
        ("gaitpart", "casia_b"): dict(layers_cfg=list(CASIA_B_LAYERS), out_channels=128),
        ("gaitpart", "oumvlp"): dict(layers_cfg=list(OUMVLP_LAYERS), out_channels=256),
        ("gln", "casia_b"): dict(),
        ("gln", "casia_b_128"): dict(),
        ("gln", "casia_b_phase1"): dict(pretrain=True),
        ("gln", "oumvlp"): dict(in_channels=(1, 64, 128, 256), class_num=5153),
        ("gaitgl", "casia_b"): dict(),
        ("gaitgl", "oumvlp"): dict(channels=(32, 64, 128, 256), class_num=5153, variant="oumvlp"),
    }
    assert set(cfgs) == set(EXPECTED_PARAMS)
    with torch.device("meta"):
        for key, cfg in cfgs.items():
            assert R.n_parameters(R.build(key[0], **cfg)) == EXPECTED_PARAMS[key], key


# ------------------------------------------------------------------ validation


def _weights(model):
    return [np.array(w) for w in model.weights]


def test_bad_checkpoints_are_reported_by_name_and_nothing_is_loaded(tmp_path):
    from gait_tf.convert import assign_state_dict

    cfg = CASES["gaitset"]
    state = load_state_dict(_save(_reference("gaitset", cfg), tmp_path / "ok.pt"))
    model = models.create("gaitset", **cfg)
    before = _weights(model)

    bad = dict(state)
    del bad["gl_block3.2.conv.weight"]
    bad["Head.extra"] = np.zeros(3, "float32")
    bad["set_block1.forward_block.0.conv.weight"] = np.zeros((4, 1, 3, 3), "float32")
    with pytest.raises(CheckpointError) as err:
        assign_state_dict(model, "gaitset", bad)
    assert "gl_block3.2.conv.weight" in str(err.value) and "Head.extra" in str(err.value)

    misshaped = dict(state)
    misshaped["set_block1.forward_block.0.conv.weight"] = np.zeros((4, 1, 3, 3), "float32")
    with pytest.raises(CheckpointError, match=r"set_block1\.forward_block\.0\.conv\.weight"):
        assign_state_dict(model, "gaitset", misshaped)
    for a, b in zip(before, _weights(model)):
        np.testing.assert_array_equal(a, b)

    # DDP prefixes and num_batches_tracked / loss buffers are accepted
    ddp = {f"module.{k}": torch.from_numpy(v) for k, v in state.items()}
    ddp["module.loss_aggregator.losses.triplet.margin"] = torch.tensor(0.2)
    torch.save({"model": ddp}, str(tmp_path / "ddp.pt"))
    assert assign_state_dict(model, "gaitset", load_state_dict(tmp_path / "ddp.pt")) == 11


def test_wrong_preset_is_a_checkpoint_error(tmp_path):
    ckpt = _save(_reference("gln", CASES["gln-phase1"]), tmp_path / "phase1.pt")
    with pytest.raises(CheckpointError, match="missing keys: .*encoder_bn"):
        convert_checkpoint(ckpt, model="gln", **CASES["gln-phase2"])
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        convert_checkpoint(tmp_path / "junk.pt", model="gln")


def test_cli_convert_writes_loadable_keras_file(tmp_path, capsys):
    cfg = CASES["gaitgl-casia_b"]
    ref = _reference("gaitgl", cfg)
    ckpt = _save(ref, tmp_path / "gaitgl.pt")
    out = tmp_path / "out" / "gaitgl.keras"
    code = cli_main([
        "convert", "--model", "gaitgl", "--checkpoint", str(ckpt), "--out", str(out),
        "--set", "channels=[4, 8, 8]", "--set", "class_num=5",
    ])
    assert code == 0 and out.is_file()
    assert '"parameters"' in capsys.readouterr().out
    loaded = keras.saving.load_model(out)
    assert max(_compare(ref, loaded, frames=(4,)).values()) < TOL

    code = cli_main(["convert", "--model", "gaitgl", "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(out)])
    assert code == 2
    assert "missing.pt" in capsys.readouterr().err
