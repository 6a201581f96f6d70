"""Training config schema, overrides, schedules and optimizers (no training)."""
import numpy as np
import pytest
import yaml

from gait_tf import cli
from gait_tf.errors import ConfigError
from gait_tf.train.config import apply_overrides, load_config

BASE = {
    "model": {"name": "gaitset"},
    "data": {"random": {"num_classes": 6}, "p": 2, "k": 2, "frames": 4},
}


def test_defaults_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(BASE))
    cfg = load_config(path, ["optimizer.lr=3e-3", "losses.0.margin=0.3", "schedule.milestones=[10, 20]",
                             "data.synthetic.root=/x", "data.random=null"])
    assert cfg["name"] == "run"
    assert cfg["optimizer"]["lr"] == pytest.approx(3e-3)
    assert cfg["losses"][0]["margin"] == 0.3
    assert cfg["schedule"]["milestones"] == [10, 20]
    assert cfg["data"]["synthetic"] == {"root": "/x"}
    assert cfg["train"]["iterations"] == 1000 and cfg["optimizer"]["type"] == "adam"


@pytest.mark.parametrize(
    "override,culprit",
    [
        ("optimizer.lrr=1", "optimizer.lrr"),
        ("optimizer.type=rmsprop", "optimizer.type"),
        ("optimizer.lr=-1", "optimizer.lr"),
        ("data.p=0", "data.p"),
        ("data.k=2.5", "data.k"),
        ("train.mixed_precision=int8", "train.mixed_precision"),
        ("train.strategy=tpu", "train.strategy"),
        ("schedule.milestones=[20, 10]", "schedule.milestones"),
        ("losses.0.type=arcface", r"losses\[0\]\.type"),
        ("bogus=1", "bogus"),
        ("data.root=/somewhere", "exactly one data source"),
        ("train.deterministic=maybe", "train.deterministic"),
    ],
)
def test_bad_values_name_the_key(override, culprit):
    with pytest.raises(ConfigError, match=culprit):
        load_config(raw=BASE, overrides=[override])


def test_missing_model_name_and_bad_set_syntax():
    with pytest.raises(ConfigError, match="model.name"):
        load_config(raw={"data": BASE["data"]})
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(raw=BASE, overrides=["optimizer.lr"])
    with pytest.raises(ConfigError, match="not an index"):
        apply_overrides(BASE | {"losses": [{"type": "triplet"}]}, ["losses.3.weight=1"])


def test_cli_reports_config_error_without_traceback(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(BASE | {"optimizer": {"momentun": 0.9}}))
    code = cli.main(["train", "--config", str(path), "--workdir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 2
    assert "optimizer.momentun" in err and "Traceback" not in err
    assert cli.main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2


def test_print_config(tmp_path, capsys):
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(BASE))
    assert cli.main(["train", "--config", str(path), "--print-config", "--set", "train.iterations=7"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["train"]["iterations"] == 7 and printed["model"]["name"] == "gaitset"


def test_shipped_configs_are_valid(repo_root):
    paths = sorted((repo_root / "training" / "configs").glob("*.yaml"))
    assert len(paths) >= 13
    for path in paths:
        cfg = load_config(path)
        assert cfg["name"] == path.stem


def test_multistep_schedule_matches_torch_semantics():
    from gait_tf.train.schedules import CosineSchedule, MultiStepSchedule

    sched = MultiStepSchedule(0.1, [3, 5], gamma=0.1)
    # torch MultiStepLR stepped after every update: update i (0-based) uses 0.1 * 0.1**#(m <= i)
    expected = [0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    np.testing.assert_allclose([float(sched(i)) for i in range(7)], expected, rtol=1e-6)
    warm = MultiStepSchedule(1.0, [], warmup_steps=4)
    np.testing.assert_allclose([float(warm(i)) for i in range(6)], [0.25, 0.5, 0.75, 1, 1, 1], rtol=1e-6)
    cos = CosineSchedule(1.0, total_steps=10, min_lr=0.0)
    np.testing.assert_allclose([float(cos(0)), float(cos(5)), float(cos(10))], [1.0, 0.5, 0.0], atol=1e-6)
    assert MultiStepSchedule.from_config(sched.get_config()).get_config() == sched.get_config()


def test_optimizer_weight_decay_modes():
    import keras
    import tensorflow as tf

    from gait_tf.train.config import SCHEMA
    from gait_tf.train.schedules import build_optimizer

    base = dict(SCHEMA["optimizer"])
    sgd, l2 = build_optimizer(base | {"type": "sgd", "weight_decay": 5e-4}, 0.1)
    assert isinstance(sgd, keras.optimizers.SGD) and l2 == pytest.approx(5e-4)
    adamw, l2 = build_optimizer(base | {"type": "adamw", "weight_decay": 0.01}, 1e-3)
    assert isinstance(adamw, keras.optimizers.AdamW) and l2 == 0.0
    assert adamw.weight_decay == pytest.approx(0.01)
    # decoupled decay on Adam: one step with a zero gradient shrinks w by lr * wd
    adam, l2 = build_optimizer(base | {"weight_decay": 0.5, "weight_decay_mode": "decoupled"}, 0.1)
    v = tf.Variable([2.0])
    adam.apply([tf.zeros([1])], [v])
    assert l2 == 0.0 and float(v[0]) == pytest.approx(2.0 * (1 - 0.1 * 0.5), rel=1e-5)


def test_init_weights_copies_matching_layers(tmp_path):
    import numpy as np

    from gait_tf import models
    from gait_tf.errors import CheckpointError
    from gait_tf.train.checkpoints import export_keras
    from gait_tf.train.trainer import init_weights_from

    small = {"in_channels": (1, 4, 4, 8), "bin_num": (2, 1)}
    src = models.create("gaitset", out_channels=8, **small)
    dst = models.create("gaitset", out_channels=6, **small)  # same backbone, other head width
    path = export_keras(src, tmp_path / "phase1.keras")
    copied = init_weights_from(dst, path)
    assert "set_block1_conv0" in copied
    head = [layer.name for layer in dst.layers if layer.weights and layer.name not in copied]
    assert head  # the mismatched head kept its own initialisation
    np.testing.assert_array_equal(dst.get_layer("set_block1_conv0").get_weights()[0],
                                  src.get_layer("set_block1_conv0").get_weights()[0])
    with pytest.raises(CheckpointError, match="not found"):
        init_weights_from(dst, tmp_path / "missing.keras")


def test_divergence_is_reported_not_checkpointed(tmp_path):
    from gait_tf.errors import ModelError
    from gait_tf.train import load_config, train

    cfg = load_config(raw={
        "model": {"name": "gaitset", "overrides": {"in_channels": [1, 2, 2, 4], "out_channels": 4,
                                                   "bin_num": [1]}},
        "data": {"random": {"num_classes": 4}, "p": 2, "k": 2, "frames": 2},
        "optimizer": {"type": "sgd", "lr": 1.0e+30},
        "train": {"iterations": 6, "checkpoint_every": 1, "log_every": 1, "progress": False},
    })
    with pytest.raises(ModelError, match="diverged at step"):
        train(cfg, tmp_path, log=lambda *a: None)
    # no checkpoint with non-finite weights was written
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    if latest is not None:
        for name, _ in tf.train.list_variables(latest):
            value = tf.train.load_variable(latest, name)
            if getattr(value, "dtype", None) is not None and value.dtype.kind == "f":
                assert np.all(np.isfinite(value)), name


def test_trainer_and_model_losses_do_not_import_each_other(repo_root):
    """The generic trainer takes a model's own objective from its registry spec; it imports no
    model-specific module, and the loss lives next to its model."""
    import ast

    from gait_tf import models
    from gait_tf.models.gaitnet import GaitNetLoss

    src = (repo_root / "gait_tf" / "train" / "trainer.py").read_text()
    imported = {node.module for node in ast.walk(ast.parse(src)) if isinstance(node, ast.ImportFrom)}
    assert not any(m and (m.startswith("gait_tf.models.") or m.endswith("gaitnet")) for m in imported), imported
    assert models.get_spec("gaitnet").loss is GaitNetLoss
    assert GaitNetLoss.__module__ == "gait_tf.models.gaitnet"
    assert not (repo_root / "gait_tf" / "train" / "gaitnet.py").exists()
    # its config section is validated by the generic loader
    raw = {"model": {"name": "gaitnet"}, "data": {"synthetic": {}}, "gaitnet": {"identity": 2}}
    assert load_config(raw=raw)["gaitnet"]["identity"] == 2.0
    with pytest.raises(ConfigError, match="gaitnet"):
        load_config(raw={"model": {"name": "gaitset"}, "data": {"synthetic": {}}, "gaitnet": {}})
