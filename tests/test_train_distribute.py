"""MultiWorkerMirroredStrategy: TF_CONFIG parsing and a 2-worker run on localhost ports."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import yaml

from gait_tf.errors import ConfigError
from gait_tf.train.distribute import parse_tf_config

GOOD = {"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}, "task": {"type": "worker", "index": 1}}


def test_parse_tf_config():
    cluster, task_type, index = parse_tf_config(json.dumps(GOOD))
    assert cluster["worker"][1] == "127.0.0.1:2223" and task_type == "worker" and index == 1


@pytest.mark.parametrize(
    "conf,culprit",
    [
        ("{not json", "invalid JSON"),
        (GOOD | {"task": {"type": "worker", "index": 2}}, "task.index"),
        (GOOD | {"task": {"type": "ps", "index": 0}}, "task.type"),
        (GOOD | {"cluster": {"worker": ["localhost"]}}, "cluster.worker"),
        ({"task": GOOD["task"]}, "TF_CONFIG.cluster"),
    ],
)
def test_parse_tf_config_errors(conf, culprit):
    with pytest.raises(ConfigError, match=culprit):
        parse_tf_config(conf if isinstance(conf, str) else json.dumps(conf))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_workers_on_localhost(tmp_path):
    config = tmp_path / "mw.yaml"
    config.write_text(yaml.safe_dump({
        "seed": 1,
        "model": {"name": "gaitset",
                  "overrides": {"in_channels": [1, 4, 4, 8], "out_channels": 8, "bin_num": [2, 1]}},
        "data": {"random": {"num_classes": 6}, "p": 4, "k": 2, "frames": 6},
        "train": {"iterations": 4, "checkpoint_every": 2, "log_every": 2, "progress": False},
    }))
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    procs = []
    for i in range(2):
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3",
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "gait_tf", "train", "--config", str(config), "--workdir",
             str(tmp_path / "run"), "--strategy", "multi_worker"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=240)
            assert p.returncode == 0, err[-3000:]
            outs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    # both workers computed the same (all-reduced) loss; only the chief kept files
    assert outs[0]["loss"] == outs[1]["loss"] and np.isfinite(outs[0]["loss"])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["replicas"] == 2 and summary["step"] == 4
    assert (tmp_path / "run" / "model.keras").is_file()
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".worker")) == []
