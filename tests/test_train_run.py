"""End-to-end training runs: kill/resume equality, MirroredStrategy on 2 logical CPUs,
the gait_tf.data source, .keras export. Subprocesses keep global TF state
(determinism, logical devices) out of the test process."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

TINY = {
    "seed": 3,
    "model": {"name": "gaitset",
              "overrides": {"in_channels": [1, 4, 4, 8], "out_channels": 8, "bin_num": [2, 1]}},
    "data": {"random": {"num_classes": 6}, "p": 4, "k": 2, "frames": 6},
    "losses": [{"type": "triplet", "margin": 0.2}],
    "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4},
    "schedule": {"milestones": [12]},
    "train": {"iterations": 24, "checkpoint_every": 4, "log_every": 4, "deterministic": True,
              "progress": False},
}


def _env():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    env.pop("TF_CONFIG", None)
    return env


def _train_cmd(config, workdir, *extra):
    return [sys.executable, "-m", "gait_tf", "train", "--config", str(config), "--workdir", str(workdir), *extra]


def _weights(path):
    import keras

    from gait_tf import models

    models.list_models()  # import the model modules (registers their custom layers)
    model = keras.saving.load_model(path)
    return [np.asarray(w) for w in model.get_weights()]


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path, tiny_config):
    ref = subprocess.Popen(_train_cmd(tiny_config, tmp_path / "ref"), env=_env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killed_dir = tmp_path / "killed"
    victim = subprocess.Popen(_train_cmd(tiny_config, killed_dir), env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    index = killed_dir / "checkpoints" / "checkpoint"
    deadline = time.time() + 120
    while not index.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (killed_dir / "model.keras").exists()

    resumed = subprocess.run(_train_cmd(tiny_config, killed_dir), env=_env(), capture_output=True,
                             text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    out, err = ref.communicate(timeout=180)
    assert ref.returncode == 0, err[-2000:]

    summary = json.loads((killed_dir / "summary.json").read_text())
    assert summary["step"] == 24 and summary["finished"]
    assert 4 <= summary["start_step"] < 24 and summary["start_step"] % 4 == 0
    assert "resumed from" in resumed.stdout
    ref_summary = json.loads((tmp_path / "ref" / "summary.json").read_text())
    assert ref_summary["start_step"] == 0
    # same batches, same optimizer state -> the same model, bit for bit (deterministic ops)
    assert summary["last_metrics"]["loss"] == ref_summary["last_metrics"]["loss"]
    for a, b in zip(_weights(tmp_path / "ref" / "model.keras"), _weights(killed_dir / "model.keras")):
        np.testing.assert_array_equal(a, b)
    # the logged loss went down and the lr followed the multi-step schedule
    logged = [json.loads(line) for line in (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1]["loss"] < logged[0]["loss"]
    lrs = {m["step"]: m["lr"] for m in logged}
    assert lrs[8] == pytest.approx(0.05) and lrs[24] == pytest.approx(0.005)


MIRRORED_SCRIPT = r"""
import json, sys
import numpy as np
from gait_tf.train.distribute import configure_logical_cpus, distribute_batches, make_strategy
devices = configure_logical_cpus(2)
import tensorflow as tf
strategy = make_strategy("mirrored")
assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
# a P x K batch with shuffled rows: every replica must get whole identities
labels = tf.constant([2, 0, 1, 2, 0, 3, 1, 3], tf.int32)
x = tf.cast(labels, tf.float32)[:, None] * tf.ones([8, 3])
dist = distribute_batches(strategy, lambda: tf.data.Dataset.from_tensors((x, labels)).repeat(2))
bx, by = next(iter(dist))
parts = [sorted(t.numpy().tolist()) for t in strategy.experimental_local_results(by)]
xs = [t.numpy()[:, 0].tolist() for t in strategy.experimental_local_results(bx)]
# one mirrored SGD step == mean of the two halves' gradients (each half = whole identities)
from gait_tf.losses import build_loss
from gait_tf.train import load_config
from gait_tf.train.trainer import Trainer, build_model
cfg = load_config(raw={
    "model": {"name": "gaitset", "overrides": {"in_channels": [1, 4, 4, 8], "out_channels": 8,
                                               "bin_num": [2, 1]}},
    "data": {"random": {"num_classes": 6}, "p": 4, "k": 2, "frames": 4},
    "optimizer": {"type": "sgd", "lr": 0.5, "momentum": 0.0},
    "train": {"iterations": 1, "progress": False}})
import tempfile
tr = Trainer(cfg, tempfile.mkdtemp(), resume=False, strategy=strategy, log=lambda *a: None)
w0 = [np.array(w) for w in tr.model.get_weights()]
xg, yg = next(iter(tr.source.dataset()))
tr._train_step(next(iter(distribute_batches(strategy, tr.source.dataset))))
w1 = tr.model.get_weights()
ref = build_model(cfg["model"], 6)
ref.set_weights(w0)
order = np.argsort(yg.numpy(), kind="stable")
xs_, ys_ = tf.gather(xg, order), tf.gather(yg, order)
loss_fn = build_loss(cfg["losses"])
grads = None
for half in (slice(0, 4), slice(4, 8)):
    with tf.GradientTape() as tape:
        loss, _ = loss_fn(ref(xs_[half], training=True), ys_[half])
    g = tape.gradient(loss, ref.trainable_variables)
    grads = g if grads is None else [a + b for a, b in zip(grads, g)]
expected = {v.path: v.numpy() - 0.5 * g.numpy() / 2 for v, g in zip(ref.trainable_variables, grads)}
got = {v.path: v.numpy() for v in tr.model.trainable_variables}
max_err = max(float(np.abs(got[k] - expected[k]).max()) for k in expected)
moved = max(float(np.abs(got[k] - w).max()) for k, w in zip(expected, [v.numpy() for v in ref.trainable_variables]))
from gait_tf import cli
code = cli.main(sys.argv[1:])
print(json.dumps({"parts": parts, "xs": xs, "code": code, "max_err": max_err, "moved": moved}))
"""


def test_mirrored_strategy_on_two_logical_cpus_and_portable_checkpoint(tmp_path, tiny_config):
    workdir = tmp_path / "mirrored"
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, "train", "--config", str(tiny_config), "--workdir",
         str(workdir), "--strategy", "mirrored", "--set", "train.iterations=6",
         "--set", "train.deterministic=false"],
        env=_env(), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    assert result["parts"] == [[0, 0, 1, 1], [2, 2, 3, 3]]
    assert result["xs"] == [[0, 0, 1, 1], [2, 2, 3, 3]]  # rows travel with their labels
    # the update is the mean of the replicas' gradients
    assert result["moved"] > 1e-3 and result["max_err"] < 1e-6
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["replicas"] == 2 and summary["step"] == 6
    assert np.isfinite(summary["last_metrics"]["loss"])

    # the mirrored checkpoint resumes on a single device
    from gait_tf.train import load_config, train

    cfg = load_config(tiny_config, ["train.iterations=8", "train.deterministic=false", "train.export=false"])
    resumed = train(cfg, workdir, log=lambda *a: None)
    assert resumed["start_step"] == 6 and resumed["step"] == 8 and resumed["replicas"] == 1


def _write_opengait(root, subjects=4, seqs=3, frames=8):
    from gait_tf.data import write_pickle

    rng = np.random.default_rng(0)
    for s in range(1, subjects + 1):
        for c in range(seqs):
            seq = (rng.random((frames, 64, 64)) > 0.7).astype(np.uint8) * 255
            write_pickle(root / f"{s:03d}" / f"nm-{c + 1:02d}" / "090" / "seq.pkl", seq)


def test_dataset_source_resumes_at_the_same_batch(tmp_path):
    from gait_tf.train.config import load_config
    from gait_tf.train.sources import build_source

    _write_opengait(tmp_path / "data")
    cfg = load_config(raw={"model": {"name": "gaitset"},
                           "data": {"root": str(tmp_path / "data"), "p": 2, "k": 2, "frames": 4,
                                    "augment": True}})
    source = build_source(cfg["data"], 7, tmp_path)
    assert source.num_classes == 4
    fresh = list(source.dataset().take(5).as_numpy_iterator())
    state = json.loads(json.dumps(source.state(3)))  # as stored in a checkpoint
    resumed = list(source.dataset(state).take(2).as_numpy_iterator())
    for (xa, ya), (xb, yb) in zip(fresh[3:], resumed):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)
    assert fresh[0][0].shape == (4, 4, 64, 44, 1)
    # another seed -> another batch order; a state from other data is refused
    other = build_source(cfg["data"] | {"p": 2, "k": 1}, 7, tmp_path)
    from gait_tf.errors import ConfigError

    with pytest.raises(ConfigError, match="k="):
        other.dataset(state)


def test_cpu_budget_stops_after_checkpointing(tmp_path, tiny_config):
    """--max-cpu-minutes: the run stops once the process has used that much CPU time, with a
    checkpoint at the step it reached; the summary reports CPU and wall seconds."""
    out = subprocess.run(_train_cmd(tiny_config, tmp_path / "run", "--max-cpu-minutes", "0.0001"),
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    printed = json.loads(out.stdout.strip().splitlines()[-1])
    assert printed["step"] == 1 and not printed["finished"] and printed["checkpoint"].endswith("-1")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["stopped_early"] and 0 < summary["cpu_seconds"] and summary["steps_this_run"] == 1
    # a budget stop is a normal end: the weights reached are exported, and the summary says why
    assert printed["stopped_by"] == summary["stopped_by"] == "max_cpu_seconds"
    assert printed["export"] == str(tmp_path / "run" / "model.keras") and (tmp_path / "run" / "model.keras").is_file()
    assert "stopped by the budget --max-cpu-minutes 0.0001 at step 1 of 24" in out.stderr
