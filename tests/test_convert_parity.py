"""PyTorch (OpenGait-format) checkpoints -> Keras: numerical parity, validation, CLI."""
import json

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
    # GLN checkpoints do not fix the input size (the converter defaults to OpenGait's 128 x 88)
    model = convert_checkpoint(ckpt, model=name, **cfg, **({"input_hw": (64, 44)} if name == "gln" else {}))
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
    with pytest.raises(CheckpointError, match="missing keys: .*encoder_bn") as err:
        convert_checkpoint(ckpt, model="gln", preset="casia_b", **CASES["gln-phase2"])
    # the error names the flags that fit
    assert "--preset casia_b_phase1 --set input_hw=[128,88]" in str(err.value)
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


# ------------------------------------------------------------------ GLN inference, OpenGait configs


def test_gln_phase_and_widths_are_read_from_the_checkpoint(tmp_path, capsys):
    """A new user converting gln_phase1.yaml's checkpoint needs no flag: the phase and widths
    come from the checkpoint, the input size is OpenGait's 128 x 88 (reported)."""
    for case, phase in (("gln-phase1", 1), ("gln-phase2", 2)):
        cfg = CASES[case]
        ref = _reference("gln", cfg)
        ckpt = _save(ref, tmp_path / f"{case}.pt")
        model, info = convert_checkpoint(ckpt, model="gln", return_info=True)
        notes = info["notes"]
        assert model.input_shape[2:4] == (128, 88)
        assert ("logits" in model.output) == (phase == 2)
        assert any(f"phase {phase}" in n for n in notes) and any("input_hw=[64,44]" in n for n in notes)
        diffs = _compare(ref, model, frames=(3,), h=128, w=88)
        assert max(diffs.values()) < TOL, diffs
    out = tmp_path / "gln.keras"
    assert cli_main(["convert", "--model", "gln", "--checkpoint", str(tmp_path / "gln-phase1.pt"), "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["config"]["pretrain"] is True and printed["config"]["input_hw"] == [128, 88]
    assert any("phase 1" in n for n in printed["notes"])


OPENGAIT_GLN_PHASE1 = """
data_cfg: {dataset_name: CASIA-B, dataset_root: your_path}
evaluator_cfg:
  transform:
    - img_w: 64
      type: BaseSilCuttingTransform
model_cfg:
  model: GLN
  class_num: 5
  lateral_dim: 8
  hidden_dim: 8
  dropout: 0.9
  in_channels: [1, 4, 8, 8]
  SeparateFCs: {in_channels: 8, out_channels: 8, parts_num: 93}
  bin_num: [16, 8, 4, 2, 1]
  Lateral_pretraining: true
"""


def test_cli_convert_with_opengait_config(tmp_path, capsys):
    ref = _reference("gln", CASES["gln-phase1"])
    ckpt = _save(ref, tmp_path / "gln.pt")
    yml = tmp_path / "gln_phase1.yaml"
    yml.write_text(OPENGAIT_GLN_PHASE1)
    out = tmp_path / "gln.keras"
    code = cli_main(["convert", "--model", "gln", "--opengait-config", str(yml), "--checkpoint", str(ckpt),
                     "--out", str(out)])
    assert code == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["config"]["input_hw"] == [64, 44] and printed["config"]["pretrain"] is True
    loaded = keras.saving.load_model(out)
    assert max(_compare(ref, loaded, frames=(2,)).values()) < TOL
    # a config of another model, an unknown key, a mismatched size: one line naming the culprit
    bad = tmp_path / "bad.yaml"
    bad.write_text(OPENGAIT_GLN_PHASE1.replace("model: GLN", "model: GaitSet"))
    assert cli_main(["convert", "--model", "gln", "--opengait-config", str(bad), "--checkpoint", str(ckpt),
                     "--out", str(out)]) == 2
    assert "--model gaitset" in capsys.readouterr().err
    bad.write_text(OPENGAIT_GLN_PHASE1.replace("dropout: 0.9", "dropout: 0.9\n  wings: 2"))
    assert cli_main(["convert", "--model", "gln", "--opengait-config", str(bad), "--checkpoint", str(ckpt),
                     "--out", str(out)]) == 2
    assert "model_cfg.wings" in capsys.readouterr().err
    bad.write_text(OPENGAIT_GLN_PHASE1.replace("parts_num: 93", "parts_num: 62"))
    assert cli_main(["convert", "--model", "gln", "--opengait-config", str(bad), "--checkpoint", str(ckpt),
                     "--out", str(out)]) == 2
    assert "SeparateFCs.parts_num" in capsys.readouterr().err
    assert cli_main(["convert", "--model", "gln", "--opengait-config", str(yml), "--preset", "casia_b",
                     "--checkpoint", str(ckpt), "--out", str(out)]) == 2
    assert "--preset" in capsys.readouterr().err


def _opengait_cfg(model_cfg, dataset="CASIA-B", img_w=None):
    cfg = {"data_cfg": {"dataset_name": dataset}, "model_cfg": model_cfg}
    if img_w:
        cfg["evaluator_cfg"] = {"transform": [{"type": "BaseSilCuttingTransform", "img_w": img_w}]}
    return cfg


# OpenGait model_cfg sections (written out in OpenGait's schema) and the preset they describe
OPENGAIT_MODEL_CFGS = {
    ("gaitset", "casia_b"): _opengait_cfg({"model": "GaitSet", "in_channels": [1, 32, 64, 128],
                                           "SeparateFCs": {"in_channels": 128, "out_channels": 256, "parts_num": 62},
                                           "bin_num": [16, 8, 4, 2, 1]}),
    ("gaitpart", "casia_b"): _opengait_cfg({"model": "GaitPart", "backbone_cfg": {
        "in_channels": 1, "type": "Plain", "layers_cfg": list(CASIA_B_LAYERS)},
        "SeparateFCs": {"in_channels": 128, "out_channels": 128, "parts_num": 16}, "bin_num": [16]}),
    ("gln", "casia_b_128"): _opengait_cfg({"model": "GLN", "class_num": 74, "lateral_dim": 256, "hidden_dim": 256,
                                           "dropout": 0.9, "in_channels": [1, 32, 64, 128],
                                           "SeparateFCs": {"in_channels": 256, "out_channels": 256, "parts_num": 93},
                                           "bin_num": [16, 8, 4, 2, 1], "Lateral_pretraining": False}, img_w=128),
    ("gaitgl", "oumvlp"): _opengait_cfg({"model": "GaitGL", "channels": [32, 64, 128, 256], "class_num": 5153},
                                        dataset="OUMVLP"),
    ("hstl", "gait3d"): _opengait_cfg({"model": "HSTL_Gait3D", "channels": [32, 64, 128, 256], "class_num": 3000}),
    ("gaitbase", "gait3d"): _opengait_cfg({"model": "Baseline", "backbone_cfg": {
        "type": "ResNet9", "block": "BasicBlock", "channels": [64, 128, 256, 512], "layers": [1, 1, 1, 1],
        "strides": [1, 2, 2, 1], "maxpool": False},
        "SeparateFCs": {"in_channels": 512, "out_channels": 256, "parts_num": 16},
        "SeparateBNNecks": {"class_num": 3000, "in_channels": 256, "parts_num": 16}, "bin_num": [16]}),
    ("deepgaitv2", "gait3d"): _opengait_cfg({"model": "DeepGaitV2", "Backbone": {
        "in_channels": 1, "mode": "p3d", "layers": [1, 4, 4, 1], "channels": [64, 128, 256, 512]},
        "SeparateBNNecks": {"class_num": 3000}}),
    ("skeletongait", "ccpg"): _opengait_cfg({"model": "DeepGaitV2", "Backbone": {
        "in_channels": 2, "mode": "p3d", "layers": [1, 1, 1, 1], "channels": [64, 128, 256, 512]},
        "SeparateBNNecks": {"class_num": 100}, "use_emb2": True}),
    ("skeletongait_pp", "gait3d"): _opengait_cfg({"model": "SkeletonGaitPP", "Backbone": {
        "in_channels": 3, "blocks": [1, 4, 4, 1], "C": 2}, "SeparateBNNecks": {"class_num": 3000}}),
    ("gaitedge", "casia_b"): _opengait_cfg({"model": "GaitEdge", "GaitGL": {"channels": [32, 64, 128], "class_num": 74},
                                            "Segmentation": {"type": "U_Net", "in_channels": 3, "freeze_half": True},
                                            "edge": True, "align": True, "seg_lr": 1e-5, "kernel_size": 3},
                                           dataset="CASIA-B*"),
}


@pytest.mark.parametrize("name,preset", sorted(OPENGAIT_MODEL_CFGS))
def test_opengait_model_cfg_gives_the_preset_architecture(name, preset):
    from gait_tf.convert.opengait_config import builder_config

    cfg, notes = builder_config(OPENGAIT_MODEL_CFGS[(name, preset)], name)
    want = models.get_spec(name).config_for(preset)
    for key, value in cfg.items():
        expect = want.get(key, models.get_spec(name).config_for(None).get(key))
        if key == "input_hw" or expect is None:
            continue
        norm = lambda v: tuple(tuple(x) if isinstance(x, (list, tuple)) else x for x in v) if isinstance(v, (list, tuple)) else v  # noqa: E731
        assert norm(value) == norm(expect), (key, value, expect)
    assert ("gaitedge" != name) or any("seg_lr" in n for n in notes)
    # the DeepGaitV2 family refuses a config of the other input
    if name in ("deepgaitv2", "skeletongait"):
        other = "skeletongait" if name == "deepgaitv2" else "deepgaitv2"
        from gait_tf.errors import ConfigError

        with pytest.raises(ConfigError, match=f"--model {name}"):
            builder_config(OPENGAIT_MODEL_CFGS[(name, preset)], other)
