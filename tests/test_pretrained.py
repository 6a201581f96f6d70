"""The shipped default model: loads, embeds, carries its threshold, and `--model default`
(or no --model) works in embed, gallery, identify and export."""
import json

import numpy as np
import pytest

from gait_tf import pretrained
from gait_tf.cli import main as cli


def test_default_model_loads_and_embeds():
    model = pretrained.load()
    card = pretrained.card()
    assert card["model_name"] == model.name and card["family"] in ("gaitset", "gaitpart", "gaitbase", "gaitgl")
    x = np.random.default_rng(0).random((2, 12, 64, 44, 1)).astype(np.float32)
    emb = np.asarray(model(x, training=False)["embeddings"])
    assert emb.ndim == 3 and emb.shape[0] == 2 and np.isfinite(emb).all()
    assert list(emb.shape[1:]) == card["embedding_shape"]
    assert 0 < pretrained.threshold() < 10 and pretrained.threshold_for(model.name) == pretrained.threshold()
    assert (pretrained.WEIGHTS_DIR / "default.md").is_file()
    assert pretrained.path().stat().st_size < 8 * 2**20  # small enough to ship in the package


def test_default_model_in_a_fresh_process(tmp_path):
    import subprocess
    import sys

    code = ("import numpy as np; from gait_tf import pretrained; m = pretrained.load(); "
            "print(m(np.zeros((1, 5, 64, 44, 1), np.float32))['embeddings'].shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().startswith("(1, ")


def test_cli_default_model_everywhere(real_silhouettes_dir, tmp_path, capsys):
    nm, bg, cl = (str(real_silhouettes_dir / f"{c}.gif") for c in ("nm", "bg", "cl"))
    emb = tmp_path / "enroll.npz"
    assert cli(["embed", nm, "--subject", "walker", "--out", str(emb)]) == 0  # no --model: the default
    with np.load(emb) as npz:
        assert str(npz["model"]) == pretrained.card()["model_name"] and npz["embeddings"].shape[0] == 1
    gallery = tmp_path / "people.gallery"
    assert cli(["gallery", "create", str(gallery), "--embeddings", str(emb)]) == 0
    capsys.readouterr()
    assert cli(["gallery", "info", str(gallery)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["threshold"] == pytest.approx(pretrained.threshold())  # the shipped threshold, not none
    assert cli(["identify", "--gallery", str(gallery), "--sequence", bg, cl, "--model", "default"]) == 0
    assert "walker" in capsys.readouterr().out
    out = tmp_path / "saved_models" / "gait_default"
    assert cli(["export", "--out", str(out), "--no-config"]) == 0  # MODEL left out: the default
    assert (out / "1" / "saved_model.pb").is_file()
