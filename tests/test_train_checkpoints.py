"""Resuming from damaged checkpoints: fall back to the previous one whatever the damage, log
the checkpoint actually restored, truncate metrics.jsonl to it; a budget stop exports."""
import json
import os

import numpy as np
import pytest

from gait_tf.errors import CheckpointError, ConfigError

TINY = {
    "seed": 3,
    "model": {"name": "gaitset",
              "overrides": {"in_channels": [1, 4, 4, 8], "out_channels": 8, "bin_num": [2, 1]}},
    "data": {"random": {"num_classes": 6}, "p": 4, "k": 2, "frames": 6},
    "losses": [{"type": "triplet", "margin": 0.2}],
    "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
    "train": {"iterations": 12, "checkpoint_every": 4, "log_every": 2, "progress": False},
}


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _junk(path):
    path.write_bytes(os.urandom(path.stat().st_size))


DAMAGES = {
    "data truncated": lambda p: _truncate(next(p.parent.glob(p.name + ".data-*"))),
    "data empty": lambda p: next(p.parent.glob(p.name + ".data-*")).write_bytes(b""),
    "data junk": lambda p: _junk(next(p.parent.glob(p.name + ".data-*"))),
    "data missing": lambda p: next(p.parent.glob(p.name + ".data-*")).unlink(),
    "index truncated": lambda p: _truncate(p.with_name(p.name + ".index")),
    "index empty": lambda p: p.with_name(p.name + ".index").write_bytes(b""),
    "index missing": lambda p: p.with_name(p.name + ".index").unlink(),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Three checkpoints (steps 1, 2, 3) of a small model + optimizer, kept pristine."""
    import keras
    import tensorflow as tf

    from gait_tf.train.checkpoints import TrainingCheckpoint

    root = tmp_path_factory.mktemp("ckpts")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    opt = keras.optimizers.SGD(0.1, momentum=0.9)
    opt.build(model.trainable_variables)
    ckpt = TrainingCheckpoint(root / "pristine", model, opt)
    weights = {}
    for step in (1, 2, 3):
        model.layers[0].kernel.assign(tf.fill((4, 3), float(step)))
        ckpt.save(step, {"batch": step})
        weights[step] = model.get_weights()[0].copy()
    return root, weights


def _fresh(saved, tmp_path, state_file=None):
    """A copy of the pristine checkpoints (optionally with this `checkpoint` state file
    content), opened with a new model + optimizer."""
    import shutil

    import keras

    from gait_tf.train.checkpoints import TrainingCheckpoint

    shutil.copytree(saved[0] / "pristine", tmp_path / "ckpt")
    if state_file is not None:
        (tmp_path / "ckpt" / "checkpoint").write_bytes(state_file)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    opt = keras.optimizers.SGD(0.1, momentum=0.9)
    opt.build(model.trainable_variables)
    return TrainingCheckpoint(tmp_path / "ckpt", model, opt), model


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous(saved, tmp_path, damage):
    ckpt, model = _fresh(saved, tmp_path)
    newest = tmp_path / "ckpt" / "ckpt-3"
    DAMAGES[damage](newest)
    step, state = ckpt.restore()
    assert (step, state) == (2, {"batch": 2})
    assert ckpt.restored.endswith("ckpt-2") and [p for p, _ in ckpt.skipped] == [str(newest)]
    np.testing.assert_array_equal(model.get_weights()[0], saved[1][2])


@pytest.mark.parametrize("content", [b"", b"garbage {{{", b'model_checkpoint_path: "ckpt-3"\nbroken'])
def test_a_damaged_state_file_is_rebuilt_from_the_checkpoint_files(saved, tmp_path, content):
    """TF forgets every checkpoint when the `checkpoint` file is junk (a silent restart from 0)
    and raises when it is empty."""
    ckpt, model = _fresh(saved, tmp_path, state_file=content)
    assert ckpt.state_note and "rebuilt it from ckpt-1, ckpt-2, ckpt-3" in ckpt.state_note
    assert ckpt.restore() == (3, {"batch": 3}) and ckpt.restored.endswith("ckpt-3")
    np.testing.assert_array_equal(model.get_weights()[0], saved[1][3])


def test_every_checkpoint_damaged_is_an_error_naming_each(saved, tmp_path):
    ckpt, _ = _fresh(saved, tmp_path)
    for n in (1, 2, 3):
        DAMAGES["data truncated"](tmp_path / "ckpt" / f"ckpt-{n}")
    with pytest.raises(CheckpointError, match=r"cannot restore any checkpoint .*ckpt-3: .*ckpt-2: .*ckpt-1: "):
        ckpt.restore()


def test_resume_after_fall_back_logs_truncates_metrics_and_budget_stop_exports(tmp_path):
    from gait_tf.train import load_config
    from gait_tf.train.trainer import Trainer

    cfg = load_config(raw=TINY)
    with pytest.raises(ConfigError, match="max_steps must be a whole number > 0"):
        Trainer(cfg, tmp_path / "x", max_steps=-3)
    with pytest.raises(ConfigError, match="max_seconds must be a number > 0"):
        Trainer(cfg, tmp_path / "x", max_seconds=float("nan"))

    run = tmp_path / "run"
    first = Trainer(cfg, run, log=lambda *a: None, max_steps=10).fit()
    # a budget stop is a normal end: checkpointed, exported, and said so in the summary
    assert first["step"] == 10 and not first["finished"] and first["stopped_by"] == "max_steps"
    assert first["export"] == str(run / "model.keras") and (run / "model.keras").is_file()
    assert json.loads((run / "summary.json").read_text())["stopped_by"] == "max_steps"
    logged = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert logged == [1, 2, 4, 6, 8, 10]

    DAMAGES["data truncated"](run / "checkpoints" / "ckpt-10")  # the newest (IndexError before)
    lines = []
    trainer = Trainer(cfg, run, log=lines.append)
    assert trainer.start_step == 8
    assert lines[0].startswith(f"checkpoint {run / 'checkpoints' / 'ckpt-10'} is unreadable (")
    assert lines[0].endswith("); falling back to an older one")
    assert f"resumed from {run / 'checkpoints' / 'ckpt-8'} at step 8" in lines  # not ckpt-10
    assert "metrics.jsonl: dropped 1 row(s) after step 8 (re-run now)" in lines
    logged = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert logged == [1, 2, 4, 6, 8]
    final = trainer.fit()
    assert final["finished"] and final["stopped_by"] is None and final["step"] == 12
    logged = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert logged == [1, 2, 4, 6, 8, 10, 12]  # no duplicate rows for the re-run steps
