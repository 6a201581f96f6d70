"""Synthetic data set writers, ``gait-tf synth`` CLI and the preview montage/summary."""
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from gait_tf.cli import main
from gait_tf.errors import ConfigError
from gait_tf.synth import WalkerGenerator
from gait_tf.synth.dataset import (
    parse_conditions,
    parse_image_size,
    parse_subjects,
    parse_views,
    read_rgb_sequence,
    write_casia_b,
    write_opengait,
    write_rgb,
)
from gait_tf.synth.preview import make_montage, summarize

SMALL = dict(conditions="nm-01,cl-01", views="0,90", image_size=(64, 88), n_frames=6)


def test_parse_arguments():
    assert parse_subjects("1-3") == [1, 2, 3]
    assert parse_subjects("4") == [1, 2, 3, 4]
    assert parse_subjects("1,5-6") == [1, 5, 6]
    assert parse_subjects(2) == [1, 2]
    assert parse_conditions("nm") == [f"nm-{i:02d}" for i in range(1, 7)]
    assert parse_conditions("cl-02,bg-01") == ["bg-01", "cl-02"]
    assert parse_views("0, 90,180") == ["000", "090", "180"]
    assert parse_image_size("120x160") == (120, 160)
    for fn, bad, culprit in [(parse_subjects, "5-2", "subjects"), (parse_subjects, "a-b", "subjects"),
                             (parse_subjects, 0, "subjects"), (parse_conditions, "xx-01", "conditions"),
                             (parse_views, "45", "views"), (parse_image_size, "120", "image_size")]:
        with pytest.raises(ConfigError, match=culprit):
            fn(bad)


def test_casia_b_layout(tmp_path):
    meta = write_casia_b(tmp_path, subjects=1, **SMALL)
    folder = tmp_path / "001" / "nm-01" / "090"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"001-nm-01-090-{i:03d}.png" for i in range(1, 7)]
    img = cv2.imread(str(folder / names[0]), cv2.IMREAD_UNCHANGED)
    assert img.shape == (64, 88) and img.dtype == np.uint8 and set(np.unique(img)) == {0, 255}
    ref = WalkerGenerator(seed=0, image_size=(64, 88)).sequence(1, "nm-01", 90, n_frames=6, rgb=False)
    assert np.array_equal(img, ref.silhouettes[0])
    assert meta["sequences"] == 4 and meta["frames"] == 24
    assert json.loads((tmp_path / "synth.json").read_text())["format"] == "casia_b"


def test_opengait_layout_and_workers_do_not_matter(tmp_path):
    from gait_tf.data.io import read_pickle

    write_opengait(tmp_path / "w1", subjects="1-2", workers=1, **SMALL)
    write_opengait(tmp_path / "w2", subjects="1-2", workers=2, **SMALL)
    files = sorted(p.relative_to(tmp_path / "w1") for p in (tmp_path / "w1").rglob("*.pkl"))
    assert len(files) == 8 and str(files[0]) == "001/cl-01/000/000.pkl"
    for rel in files:
        a, b = read_pickle(tmp_path / "w1" / rel), read_pickle(tmp_path / "w2" / rel)
        assert a.dtype == np.uint8 and a.shape[1:] == (64, 64) and 1 <= len(a) <= 6
        assert np.array_equal(a, b)


def test_rgb_layout(tmp_path):
    write_rgb(tmp_path, subjects=1, conditions="bg-01", views="90", image_size=(64, 88), n_frames=4,
              background="moving+flicker")
    seq = read_rgb_sequence(tmp_path / "001" / "bg-01" / "090")
    assert seq["rgb"].shape == (4, 64, 88, 3) and seq["rgb"].dtype == np.uint8
    assert seq["masks"].shape == (4, 64, 88) and seq["masks"].dtype == bool
    assert seq["joints"].shape == (4, 16, 3) and seq["joints"].dtype == np.float32


def test_cli_and_preview(tmp_path, capsys):
    out = tmp_path / "ds"
    code = main(["synth", "--out", str(out), "--format", "casia_b", "--subjects", "2", "--conditions", "nm-01,bg-01",
                 "--views", "90,180", "--frames", "5", "--image-size", "64x88", "--quiet",
                 "--montage", str(tmp_path / "m.png")])
    assert code == 0
    text = capsys.readouterr().out
    assert "2 subjects" in text and "8 sequences" in text and "40 frames" in text
    s = summarize(out)
    assert (s["format"], s["subjects"], s["sequences"], s["frames"]) == ("casia_b", 2, 8, 40)
    assert s["frame_size"] == [64, 88] and s["views"] == ["090", "180"]
    montage = np.asarray(Image.open(tmp_path / "m.png"))
    assert montage.ndim == 3 and montage.shape[0] > 128 and montage.max() == 255
    seqs = [WalkerGenerator(image_size=(96, 128)).sequence(1, c, 90, n_frames=4) for c in ("nm-01", "cl-01")]
    path = make_montage(seqs, tmp_path / "seq.png", frames=3, cell_height=64)
    assert np.asarray(Image.open(path)).shape[0] == 2 * 64 + 3 * 2


@pytest.mark.parametrize("args, culprit", [
    (["--subjects", "9-3"], "subjects"),
    (["--conditions", "nm-09"], "conditions"),
    (["--views", "100"], "views"),
    (["--image-size", "big"], "image_size"),
])
def test_cli_bad_arguments(tmp_path, capsys, args, culprit):
    assert main(["synth", "--out", str(tmp_path / "x"), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert culprit in err and "Traceback" not in err


def test_realistic_opengait_holds_the_front_ends_view_and_workers_do_not_matter(tmp_path):
    from gait_tf.data.io import read_pickle
    from gait_tf.data.pretreat import pretreat_sequence

    opts = dict(subjects="1-2", conditions="nm-01,bg-01", views="0,90", image_size=(72, 96), n_frames=8,
                realism="realistic")
    m1 = write_opengait(tmp_path / "w1", workers=1, **opts)
    write_opengait(tmp_path / "w2", workers=2, **opts)
    assert m1["realism"]["frontend_errors"] == "fitted" and m1["realism"]["crowd"] == [0, 3]
    assert m1["sequences"] + len(m1["skipped"]) == 8
    files = sorted(p.relative_to(tmp_path / "w1") for p in (tmp_path / "w1").rglob("*.pkl"))
    assert len(files) == m1["sequences"] >= 6
    for rel in files:
        assert np.array_equal(read_pickle(tmp_path / "w1" / rel), read_pickle(tmp_path / "w2" / rel))
    # the pickles are the degraded silhouettes, not the clean ones
    gen = WalkerGenerator(seed=0, image_size=(72, 96), realism="realistic")
    seq = gen.sequence(1, "nm-01", 90, n_frames=8, rgb=False)
    stored = read_pickle(tmp_path / "w1" / "001" / "nm-01" / "090" / "090.pkl")
    kept = seq.frontend[seq.frontend.reshape(8, -1).any(1)]
    assert np.array_equal(stored, pretreat_sequence(kept))
    assert not np.array_equal(stored, pretreat_sequence(seq.silhouettes))


def test_realistic_rgb_files_hold_the_extras(tmp_path):
    write_rgb(tmp_path, subjects=1, conditions="nm-01", views="90", image_size=(64, 88), n_frames=3,
              realism={"preset": "realistic", "crowd": [1, 1]})
    with np.load(tmp_path / "001" / "nm-01" / "090" / "090.npz") as z:
        assert z["frontend"].shape == (3, 64, 88) and z["others"].shape == (3, 64, 88)
        assert z["face"].shape == (3, 5, 3)


def test_cli_realistic_preset(tmp_path, capsys):
    out = tmp_path / "r"
    code = main(["synth", "--out", str(out), "--preset", "realistic", "--realism", '{"crowd": [0, 0]}',
                 "--subjects", "1001-1002", "--conditions", "nm-01", "--views", "0", "--frames", "6",
                 "--image-size", "64x88", "--quiet"])
    assert code == 0
    meta = json.loads((out / "synth.json").read_text())
    assert meta["subjects"] == ["1001", "1002"] and meta["realism"]["crowd"] == [0, 0]
    assert meta["realism"]["elevation_deg"] == [0.0, 30.0]
    for bad, culprit in (("{crowd", "--realism: not valid JSON"), ('{"tilt": 1}', "unknown option(s) tilt"),
                         ("[1, 2]", "--realism: expected a JSON object")):
        assert main(["synth", "--out", str(tmp_path / "x"), "--preset", "realistic", "--realism", bad,
                     "--quiet"]) == 2
        err = capsys.readouterr().err
        assert culprit in err and "Traceback" not in err


def test_training_config_renders_realistic_data(tmp_path, repo_root):
    """The default_realistic recipe's data section renders through the trainer's
    synthetic-data path (small here) into a loadable OpenGait set."""
    import yaml

    from gait_tf import data
    from gait_tf.synth.realism import REALISTIC, get_realism
    from gait_tf.train.sources import _synthetic_root, generate_synthetic

    # (test_train_config validates every shipped config; reading the YAML keeps TensorFlow out)
    cfg = yaml.safe_load((repo_root / "training" / "configs" / "default_realistic.yaml").read_text())
    synthetic = cfg["data"]["synthetic"]
    assert get_realism(synthetic["realism"]) == REALISTIC and cfg["model"]["name"] == "gaitset"
    small = {**synthetic, "subjects": "1-2", "conditions": "nm-01,bg-01", "views": "0,90", "image_size": [64, 88],
             "n_frames": 8, "workers": 1, "root": str(tmp_path)}
    root = generate_synthetic(small, tmp_path)
    ds = data.load_dataset(root, layout="opengait")
    assert ds.subjects == ["001", "002"] and len(ds.records) >= 6
    seq = ds.load(ds.records[0])
    assert seq.dtype == np.uint8 and seq.shape[1:] == (64, 64)
    assert json.loads((root / "synth.json").read_text())["realism"]["frontend_errors"] == "fitted"
    # another realism is another cache entry
    assert _synthetic_root({**small, "realism": "casia_b"}, tmp_path)[0] != root
