"""GaitNet: shapes, serialization, the disentangling losses, RGB training loop, swap grid."""
import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from gait_tf import models
from gait_tf.errors import ConfigError, ModelError
from gait_tf.models.gaitnet import GaitNet
from gait_tf.models import gaitnet as gt
from gait_tf.train.config import load_config
from gait_tf.train import rgb as rgb_train

REPO = Path(__file__).resolve().parents[1]
TINY = {"nf": 4, "fa_dim": 12, "fg_dim": 6, "lstm_units": 8, "lstm_layers": 2, "class_num": 3}


@pytest.fixture(scope="module")
def tiny():
    return models.create("gaitnet", **TINY)


@pytest.fixture(scope="module")
def walkers():
    return rgb_train.RGBWalkers(subjects="1-3", conditions="nm-01,cl-01", views="090", image_size=(96, 128),
                         n_frames=6, out_hw=(64, 32))


def test_spec_and_shapes_for_several_lengths(tiny):
    spec = models.get_spec("gaitnet")
    assert (spec.input_kind, spec.input_hw, spec.channels) == ("rgb_sequence", (64, 32), 3)
    rng = np.random.default_rng(0)
    for t in (1, 3, 5):
        x = rng.random((2, t, 64, 32, 3), dtype=np.float32)
        out = tiny(x)
        assert tuple(out["embeddings"].shape) == (2, 1, 8)
        assert tuple(out["logits"].shape) == (2, 1, 3)
    fa, fg = tiny.encode_frames(x)
    assert tuple(fa.shape) == (2, 5, 12) and tuple(fg.shape) == (2, 5, 6)
    rec = np.asarray(tiny.decode(fa, fg))
    assert rec.shape == (2, 5, 64, 32, 3) and rec.min() >= 0 and rec.max() <= 1  # sigmoid RGB


def test_embedding_is_time_average_of_lstm_outputs(tiny):
    x = np.random.default_rng(1).random((1, 4, 64, 32, 3), dtype=np.float32)
    _, fg = tiny.encode_frames(x, training=False)
    h = np.asarray(tiny.lstm_outputs(fg))
    np.testing.assert_allclose(np.asarray(tiny(x)["embeddings"])[:, 0], h.mean(axis=1), rtol=1e-5, atol=1e-6)
    # appearance code does not reach the identity feature: it depends on f_g only
    assert h.shape == (1, 4, 8)


def test_keras_round_trip(tiny, tmp_path):
    x = np.random.default_rng(2).random((2, 3, 64, 32, 3), dtype=np.float32)
    path = tmp_path / "gaitnet.keras"
    tiny.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, GaitNet) and loaded.fa_dim == 12
    for key in ("embeddings", "logits"):
        np.testing.assert_allclose(np.asarray(loaded(x)[key]), np.asarray(tiny(x)[key]), atol=1e-6)
    fa, fg = tiny.encode_frames(x)
    np.testing.assert_allclose(np.asarray(loaded.decode(fa, fg)), np.asarray(tiny.decode(fa, fg)), atol=1e-6)


def test_bad_input_names_model(tiny):
    with pytest.raises(ModelError, match="gaitnet"):
        models.create("gaitnet", **TINY)(np.zeros((1, 2, 64, 44, 3), np.float32))
    with pytest.raises(ModelError, match="divisible by 16"):
        models.create("gaitnet", input_hw=(60, 32), **TINY)


def test_crop_person_centres_and_fills_height():
    rgb = np.zeros((2, 100, 120, 3), np.uint8)
    mask = np.zeros((2, 100, 120), bool)
    mask[0, 20:80, 30:45] = True  # a 60 x 15 box, centre column 37
    rgb[0][mask[0]] = 200
    out_rgb, out_mask = rgb_train.crop_person(rgb, mask, (64, 32))
    rows = np.flatnonzero(out_mask[0].any(axis=1))
    cols = np.flatnonzero(out_mask[0].any(axis=0))
    assert rows[0] <= 1 and rows[-1] >= 62  # person spans the full height
    assert abs((cols[0] + cols[-1]) / 2 - 15.5) <= 1.0  # centred
    assert out_rgb[0][out_mask[0] > 0].mean() > 150
    assert out_mask[1].sum() == 0 and out_rgb[1].sum() == 0  # empty frame stays empty


def test_losses_follow_definitions(tiny):
    import tensorflow as tf

    rng = np.random.default_rng(3)
    xa = rng.random((2, 4, 64, 32, 3), dtype=np.float32)
    xb = rng.random((2, 4, 64, 32, 3), dtype=np.float32)
    labels = np.array([0, 2], np.int32)
    t1 = np.array([1, 3], np.int32)
    terms = {k: float(v) for k, v in gt.gaitnet_losses(tiny, xa, xb, labels, t1, training=False).items()}
    fa, fg = (np.asarray(v) for v in tiny.encode_frames(xa, training=False))
    _, fgb = (np.asarray(v) for v in tiny.encode_frames(xb, training=False))
    fa_ref = np.repeat(fa[np.arange(2), t1][:, None], 4, axis=1)
    rec = np.asarray(tiny.decode(fa_ref, fg, training=False))
    assert terms["reconstruction"] == pytest.approx(np.mean((rec - xa) ** 2), rel=1e-4)
    assert terms["similarity"] == pytest.approx(np.mean((fg.mean(1) - fgb.mean(1)) ** 2), rel=1e-4)
    h = np.asarray(tiny.lstm_outputs(fg))
    running = np.cumsum(h, axis=1) / np.arange(1, 5)[None, :, None]
    logits = np.asarray(tiny.classify(running))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -logp[np.arange(2)[:, None], np.arange(4)[None], labels[:, None]]  # [B, T]
    w = np.arange(1, 5) ** 2 / np.sum(np.arange(1, 5) ** 2)
    assert terms["identity"] == pytest.approx(float((ce.mean(0) * w).sum()), rel=1e-4)
    assert tf.is_tensor(gt.gaitnet_losses(tiny, xa, xb, labels, t1)["identity"])


def test_config_section_is_validated():
    raw = {"model": {"name": "gaitnet"}, "data": {"synthetic": {}}, "gaitnet": {"similarity": 5}}
    assert load_config(raw=raw)["gaitnet"] == {"reconstruction": 1.0, "similarity": 5.0, "identity": 1.0}
    with pytest.raises(ConfigError, match="gaitnet.smoothness"):
        load_config(raw={**raw, "gaitnet": {"smoothness": 1}})
    with pytest.raises(ConfigError, match="data.synthetic.colour"):
        rgb_train.RGBWalkers.from_config({"colour": 1}, (64, 32))
    # the shipped recipe parses
    cfg = load_config(REPO / "training/configs/gaitnet_synthetic.yaml")
    assert cfg["name"] == "gaitnet_synthetic" and cfg["model"]["name"] == "gaitnet"


def test_training_smoke_resume_and_swap_grid(tmp_path, walkers, capsys):
    from gait_tf.train.trainer import Trainer

    raw = {"seed": 1, "model": {"name": "gaitnet", "overrides": {k: v for k, v in TINY.items() if k != "class_num"}},
           "data": {"synthetic": {}, "p": 3, "k": 1, "frames": 4}, "optimizer": {"lr": 1e-3},
           "schedule": {"type": "constant"}, "train": {"iterations": 3, "log_every": 1, "checkpoint_every": 1,
                                                        "progress": False}}
    cfg = load_config(raw=raw)

    def source():
        return rgb_train.RGBSource(walkers, p=3, k=1, frames=4, seed=1, kind="pairs")

    # batch i is a pure function of (seed, i): what makes resuming exact
    xa, ya = source().batch(5)
    xb, yb = source().batch(5)
    assert set(xa) == {"xa", "xb", "t1"} and xa["xa"].shape == (3, 4, 64, 32, 3)
    np.testing.assert_array_equal(xa["xa"], xb["xa"])
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(source().batch(6)[0]["xa"], xa["xa"])

    run = tmp_path / "run"
    first = Trainer(cfg, run, source=source(), max_steps=2, log=lambda *_: None).fit()
    assert first["step"] == 2 and not first["finished"]
    second = Trainer(cfg, run, source=source(), log=lambda *_: None)
    assert second.start_step == 2
    summary = second.fit()
    assert summary["finished"] and summary["step"] == 3 and second.source.num_classes == 3
    lines = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [1, 2, 3]
    assert all(np.isfinite(m[k]) for m in lines for k in ("reconstruction", "similarity", "identity"))
    model_path = run / "model.keras"
    acc, n = rgb_train.rank1(keras.saving.load_model(model_path), walkers, ["nm-01"])
    assert n == 3 and 0.0 <= acc <= 1.0
    emb = rgb_train.walker_embeddings(keras.saving.load_model(model_path), walkers)
    assert emb["embeddings"].shape == (6, 1, 8) and sorted(set(emb["conditions"])) == ["cl-01", "nm-01"]

    sys.path.insert(0, str(REPO / "scripts"))
    import gaitnet_swap_grid

    out = tmp_path / "grid.png"
    rc = gaitnet_swap_grid.main(["--model", str(model_path), "--subjects", "1", "2", "--frames", "3",
                                 "--image-size", "96", "128", "--cache", str(tmp_path / "cache"),
                                 "--out", str(out)])
    assert rc == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    from PIL import Image

    img = Image.open(out)
    assert img.size == (150 + 3 * 32 * 3, 6 * 64 * 3) and result["reconstruction_mse"] > 0
    # swapping the pose code changes the decoded frames, swapping appearance too (float check)
    model = keras.saving.load_model(model_path)
    xa = walkers.frames_of(("001", "nm-01", "090"))[0][None, :3]
    xb = walkers.frames_of(("002", "nm-01", "090"))[0][None, :3]
    fa_a, fg_a = model.encode_frames(xa)
    fa_b, fg_b = model.encode_frames(xb)
    own = np.asarray(model.decode(fa_a, fg_a))
    assert np.abs(np.asarray(model.decode(fa_a, fg_b)) - own).max() > 1e-6
    assert np.abs(np.asarray(model.decode(fa_b, fg_a)) - own).max() > 1e-6


def test_export_serves_frames(tiny, tmp_path):
    import tensorflow as tf

    from gait_tf.serving.export import export_model

    export_model(tiny, tmp_path / "gaitnet", model_name="gaitnet", warmup=False, write_configs=False)
    sig = tf.saved_model.load(str(tmp_path / "gaitnet" / "1")).signatures["serving_default"]
    x = np.random.default_rng(5).integers(0, 256, (1, 5, 64, 32, 3)).astype(np.uint8)
    out = sig(frames=tf.constant(x))
    np.testing.assert_allclose(out["embeddings"].numpy(),
                               np.asarray(tiny(x.astype(np.float32) / 255.0)["embeddings"]), atol=1e-5)
    assert out["embedding"].shape == (1, 8)
    np.testing.assert_allclose(np.linalg.norm(out["embedding"].numpy(), axis=1), 1.0, rtol=1e-5)


def test_cli_evaluates_rgb_model_on_synthetic_walkers(tiny, tmp_path, capsys):
    """`gait-tf evaluate --synthetic-rgb`: the CASIA-B protocol for RGB-sequence models."""
    from gait_tf.cli import main

    path = tmp_path / "gaitnet.keras"
    tiny.save(path)
    out = tmp_path / "report"
    rc = main(["evaluate", "--model", str(path), "--synthetic-rgb", "1-3", "--synthetic-views", "000,090",
               "--synthetic-frames", "6", "--out", str(out), "--no-plots"])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert report["num_sequences"] == 3 * 10 * 2 and report["embedding_shape"] == [1, 8]
    assert set(report["summary"]) >= {"NM", "BG", "CL"}
    assert all(0.0 <= v <= 100.0 for k, v in report["summary"].items() if k in ("NM", "BG", "CL"))
    capsys.readouterr()
    sil = tmp_path / "gaitset.keras"
    models.create("gaitset", in_channels=[1, 4, 4, 8], out_channels=8, bin_num=[2, 1]).save(sil)
    assert main(["evaluate", "--model", str(sil), "--synthetic-rgb", "1-2"]) == 2
    assert "1-channel frames" in capsys.readouterr().err
