"""seg3d: the segmentation -> 3D-CNN stem as a model; mask semantics, serialization, RGB
training loop, export, and the stem feature-map figure."""
import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from gait_tf import models
from gait_tf.errors import ModelError
from gait_tf.models.stems import SegmentationStem3D

REPO = Path(__file__).resolve().parents[1]
TINY = {"channels": (4, 8, 8), "class_num": 5}


@pytest.fixture(scope="module")
def masked_model():
    return models.create("seg3d", mask_input=True, **TINY)


def test_shapes_for_several_lengths():
    model = models.create("seg3d", **TINY)
    spec = models.get_spec("seg3d")
    assert (spec.input_kind, spec.input_hw, spec.channels) == ("rgb_sequence", (64, 44), 3)
    assert isinstance(model.get_layer("stem"), SegmentationStem3D)
    rng = np.random.default_rng(0)
    for t in (1, 2, 5):
        out = model(rng.random((2, t, 64, 44, 3), dtype=np.float32))
        assert tuple(out["embeddings"].shape) == (2, 31, 8)
        assert tuple(out["logits"].shape) == (2, 31, 5)


def test_other_input_sizes_and_bad_bins():
    model = models.create("seg3d", input_hw=(128, 88), **TINY)  # stem -> 32 x 22
    assert tuple(model(np.zeros((1, 2, 128, 88, 3), np.float32))["embeddings"].shape) == (1, 31, 8)
    with pytest.raises(ModelError, match="bins"):
        models.create("seg3d", input_hw=(64, 44), bin_num=(7,), **TINY)


def test_mask_input_hides_background(masked_model):
    rng = np.random.default_rng(1)
    frames = rng.random((1, 4, 64, 44, 3), dtype=np.float32)
    mask = np.zeros((1, 4, 64, 44, 1), np.float32)
    mask[:, :, 10:54, 14:30] = 1.0
    other = np.where(mask > 0, frames, rng.random(frames.shape, dtype=np.float32))
    a = np.asarray(masked_model({"frames": frames, "mask": mask})["embeddings"])
    b = np.asarray(masked_model({"frames": other, "mask": mask})["embeddings"])
    np.testing.assert_allclose(a, b, atol=1e-6)  # background changed, embeddings did not
    c = np.asarray(masked_model({"frames": other, "mask": np.ones_like(mask)})["embeddings"])
    assert np.abs(c - b).max() > 1e-4  # without the mask the background does matter


def test_segmenter_inside_the_stem_and_round_trip(tmp_path):
    inp = keras.Input((64, 44, 3))
    seg = keras.Model(inp, keras.layers.Conv2D(1, 1, activation="sigmoid", name="fg")(inp), name="toy_segmenter")
    model = models.create("seg3d", segmenter=seg, **TINY)
    x = np.random.default_rng(2).random((2, 3, 64, 44, 3), dtype=np.float32)
    ref = np.asarray(model(x)["embeddings"])
    path = tmp_path / "seg3d.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)["embeddings"]), ref, atol=1e-5)
    assert loaded.get_layer("stem").segmenter is not None


def test_masked_round_trip(masked_model, tmp_path):
    rng = np.random.default_rng(3)
    feed = {"frames": rng.random((1, 3, 64, 44, 3), dtype=np.float32),
            "mask": (rng.random((1, 3, 64, 44, 1)) > 0.5).astype(np.float32)}
    path = tmp_path / "m.keras"
    masked_model.save(path)
    np.testing.assert_allclose(np.asarray(keras.saving.load_model(path)(feed)["logits"]),
                               np.asarray(masked_model(feed)["logits"]), atol=1e-5)


def test_rgb_training_smoke(tmp_path):
    from gait_tf.train.config import load_config
    from gait_tf.train import rgb
    from gait_tf.train.trainer import Trainer

    walkers = rgb.RGBWalkers(subjects="1-3", conditions="nm-01,cl-01", views="090", image_size=(96, 128),
                             n_frames=6, out_hw=(64, 44))
    cfg = load_config(raw={
        "model": {"name": "seg3d", "overrides": {"channels": [4, 4, 8], "mask_input": True}},
        "data": {"synthetic": {}, "p": 3, "k": 2, "frames": 4},
        "losses": [{"type": "triplet", "margin": 0.2}, {"type": "ce"}],
        "optimizer": {"lr": 1e-3}, "schedule": {"type": "constant"},
        "train": {"iterations": 2, "log_every": 1, "progress": False}})
    source = rgb.RGBSource(walkers, p=3, k=2, frames=4)
    trainer = Trainer(cfg, tmp_path / "run", source=source, log=lambda *_: None)
    assert source.mask_input  # bound to the model's {"frames", "mask"} input
    x, y = source.batch(0)
    assert x["frames"].shape == (6, 4, 64, 44, 3) and x["mask"].shape == (6, 4, 64, 44, 1)
    assert x["frames"][x["mask"][..., 0] == 0].max() > 0  # unmasked frames: the model masks them
    summary = trainer.fit()
    assert summary["finished"] and np.isfinite(summary["last_metrics"]["loss"])
    model = keras.saving.load_model(tmp_path / "run/model.keras")
    assert tuple(model.get_layer("bnnecks").kernel.shape) == (31, 8, 3)  # class_num = 3 walkers
    acc, n = rgb.rank1(model, walkers, ["nm-01"])
    assert n == 3 and 0 <= acc <= 1
    # the shipped recipe parses
    assert load_config(REPO / "training/configs/seg3d_synthetic.yaml")["model"]["name"] == "seg3d"


def test_export_single_input_model(tmp_path):
    import tensorflow as tf

    from gait_tf.serving.export import export_model

    model = models.create("seg3d", **TINY)
    export_model(model, tmp_path / "seg3d", model_name="seg3d", warmup=False, write_configs=False)
    sig = tf.saved_model.load(str(tmp_path / "seg3d" / "1")).signatures["serving_default"]
    x = np.random.default_rng(4).integers(0, 256, (1, 3, 64, 44, 3)).astype(np.uint8)
    out = sig(frames=tf.constant(x))
    np.testing.assert_allclose(out["embeddings"].numpy(), np.asarray(model(x.astype(np.float32) / 255.0)["embeddings"]),
                               atol=1e-4)


def test_stem_feature_map_figure(tmp_path, capsys):
    sys.path.insert(0, str(REPO / "scripts"))
    import stem_feature_maps

    out, js = tmp_path / "maps.png", tmp_path / "maps.json"
    assert stem_feature_maps.main(["--out", str(out), "--json", str(js), "--frames", "2",
                                   "--image-size", "120", "160", "--crop", "64", "44"]) == 0
    result = json.loads(js.read_text())
    without, with_seg = result["without_segmentation"], result["with_segmentation"]
    # segmentation removes the background response: far less energy outside the person
    assert with_seg["outside"] < 0.1 * without["outside"]
    assert with_seg["outside_share"] < without["outside_share"]
    assert with_seg["inside"] > 0
    from PIL import Image

    assert Image.open(out).size[0] > 300
    assert "with segmentation" in capsys.readouterr().out
