"""Integration: synthetic walkers (gait_tf.synth) -> CASIA-B tree -> `gait-tf pretreat`
-> OpenGait pickles -> readers -> P x K training batch / evaluation sequences."""
import numpy as np
import pytest

from gait_tf.cli import main
from gait_tf.data import load_dataset, pretreat_sequence
from gait_tf.data.io import read_frames_dir

synth = pytest.importorskip("gait_tf.synth.dataset")


def test_synth_casia_b_to_training_batch(tmp_path, capsys):
    synth.write_casia_b(tmp_path / "raw", subjects=3, conditions=["nm-01", "bg-01"], views=["090", "018"],
                        n_frames=8, image_size=(120, 160))
    raw = load_dataset(tmp_path / "raw", layout="casia_b")
    assert raw.subjects == ["001", "002", "003"] and len(raw) == 12
    rec = raw.records[0]
    frames = read_frames_dir(rec.path)
    assert frames.shape == (8, 120, 160) and set(np.unique(frames)) <= {0, 255}
    assert np.array_equal(raw.load(rec), pretreat_sequence(frames))

    assert main(["pretreat", str(tmp_path / "raw"), "--out", str(tmp_path / "pkl"), "--quiet"]) == 0
    assert "written 12" in capsys.readouterr().out
    ds = load_dataset(tmp_path / "pkl", layout="opengait")
    assert [r.key for r in ds.records] == [r.key for r in raw.records]
    for a, b in zip(raw.records, ds.records):
        assert np.array_equal(raw.load(a), ds.load(b))

    from gait_tf.data import build_train_pipeline, make_eval_dataset

    pipe = build_train_pipeline(ds, subjects=["001", "002", "003"], p=3, k=2, frames=8, seed=0, num_batches=1)
    x, y = next(iter(pipe.dataset))
    assert x.shape == (6, 8, 64, 44, 1) and sorted(set(y.numpy())) == [0, 1, 2]
    assert 0.02 < float(x.numpy().mean()) < 0.5  # a person, not an empty or full frame
    x, meta = next(iter(make_eval_dataset(ds, ds.records[:1])))
    assert x.shape[1] == len(ds.load(ds.records[0])) and meta["subject"].numpy() == b"001"
