"""P x K sampler, frame sampling, augmentation and tf.data pipelines (gait_tf.data)."""
import numpy as np
import pytest

from gait_tf.data import (PKSampler, build_train_pipeline, dataset_from_arrays, load_dataset,
                          make_eval_dataset, make_train_dataset)
from gait_tf.data.io import write_pickle
from gait_tf.errors import ConfigError, DataError

N_SUBJECTS = 6


def coded_sequence(n, subject):
    """uint8 [n, 64, 64]: a body, row 0 column 20 holds frame index + 1, row 1 the subject."""
    seq = np.zeros((n, 64, 64), np.uint8)
    seq[:, 8:60, 26:38] = 255
    seq[:, 0, 20] = np.arange(1, n + 1)
    seq[:, 1, 20] = subject + 1
    return seq


@pytest.fixture(scope="module")
def ds():
    seqs = {}
    for s in range(N_SUBJECTS):
        conds = ["nm-01"] if s == 0 else ["nm-01", "nm-02", "bg-01"]  # subject 000 has only 1 sequence
        for c_i, c in enumerate(conds):
            seqs[(f"{s:03d}", c, "090")] = coded_sequence(12 + 5 * c_i + s, s)
    return dataset_from_arrays(seqs)


def frame_codes(batch_u8):
    """[B, F] frame index codes and [B] subject codes of a numpy batch [B, F, 64, 44]."""
    return batch_u8[:, :, 0, 10].astype(int) - 1, batch_u8[:, 0, 1, 10].astype(int) - 1


# --------------------------------------------------------------------------- sampler
def test_pk_sampler_structure_and_purity():
    groups = {"a": [0, 1, 2, 3, 4], "b": [5], "c": [6, 7, 8, 9], "d": [10, 11]}
    sampler = PKSampler(groups, p=3, k=4, seed=7)
    seen_b = False
    for i in range(30):
        idx, labels = sampler.sample(i)
        assert idx.shape == (12,) and labels.dtype == np.int32
        blocks = labels.reshape(3, 4)
        assert (blocks == blocks[:, :1]).all() and len(set(blocks[:, 0])) == 3  # P distinct x K
        for lab, rec in zip(labels, idx):
            subject = sampler.subjects[lab]
            assert rec in groups[subject]
        for block, recs in zip(blocks[:, 0], idx.reshape(3, 4)):
            n = len(groups[sampler.subjects[block]])
            if n >= 4:
                assert len(set(recs)) == 4  # without replacement when possible
            if sampler.subjects[block] == "b":
                seen_b = True
                assert (recs == 5).all()  # with replacement when fewer than K
        assert np.array_equal(PKSampler(groups, 3, 4, seed=7).sample(i)[0], idx)
    assert seen_b
    other = PKSampler(groups, 3, 4, seed=8)
    assert any(not np.array_equal(other.sample(i)[0], sampler.sample(i)[0]) for i in range(3))


def test_pk_sampler_state_roundtrip_and_errors():
    groups = {"a": [0, 1], "b": [2, 3], "c": [4]}
    s1 = PKSampler(groups, p=2, k=2, seed=3)
    first = [next(s1)[0] for _ in range(5)]
    state = s1.get_state()
    assert state["batch"] == 5 and state["seed"] == 3
    s2 = PKSampler(groups, p=2, k=2, seed=0)
    s2.set_state(state)
    assert np.array_equal(next(s2)[0], PKSampler(groups, 2, 2, seed=3).sample(5)[0])
    assert s2.get_state()["batch"] == 6
    s3 = PKSampler(groups, p=2, k=2, seed=0)
    s3.set_state({**state, "batch": 2})
    assert np.array_equal(next(s3)[0], first[2])
    with pytest.raises(ConfigError, match="fingerprint"):
        PKSampler({"a": [0, 1], "b": [2]}, p=2, k=2).set_state(state)
    with pytest.raises(ConfigError, match="p=4: more subjects per batch than training subjects \\(3\\)"):
        PKSampler(groups, p=4, k=2)
    with pytest.raises(ConfigError, match="k=0: must be a positive integer"):
        PKSampler(groups, p=2, k=0)
    with pytest.raises(DataError, match="subject 'c' has no sequences"):
        PKSampler({"a": [0], "c": []}, p=1, k=1)


# --------------------------------------------------------------------------- train pipeline
def test_train_batches_shapes_labels_and_frames(ds):
    pipe = build_train_pipeline(ds, p=4, k=3, frames=10, augment=False, seed=1, num_batches=2)
    assert pipe.subjects == ds.subjects and pipe.label_map["003"] == 3 and pipe.num_classes == N_SUBJECTS
    batches = list(pipe.dataset)
    assert len(batches) == 2
    for i, (x, y) in enumerate(batches):
        x, y = x.numpy(), y.numpy()
        assert x.shape == (12, 10, 64, 44, 1) and x.dtype == np.float32 and y.dtype == np.int32
        assert 0.0 <= x.min() and x.max() == 1.0
        raw, labels = pipe.numpy_batch(i)
        assert np.array_equal(labels, y)
        assert np.allclose(x[..., 0], raw / 255.0)
        frames, subj = frame_codes(raw)
        assert np.array_equal(subj, y)  # label == index of the sequence's subject
        for row, rec_i in zip(frames, pipe.sampler.sample(i)[0]):
            n = len(ds.load(pipe.records[rec_i]))
            assert row.min() >= 0 and row.max() < n
            assert len(set(row)) == 10  # fixed_unordered: no repeats when n >= frames
        assert any((np.diff(r) != 1).any() for r in frames)  # unordered


def test_frame_modes(ds):
    ordered = build_train_pipeline(ds, p=6, k=2, frames=20, mode="fixed_ordered", augment=False, num_batches=1)
    raw, _ = ordered.numpy_batch(0)
    frames, _ = frame_codes(raw)
    for row, rec_i in zip(frames, ordered.sampler.sample(0)[0]):
        n = len(ds.load(ordered.records[rec_i]))
        assert np.array_equal(row, (row[0] + np.arange(20)) % n)  # contiguous window (wraps if short)
    unordered = build_train_pipeline(ds, p=6, k=2, frames=40, augment=False, num_batches=1)
    frames, _ = frame_codes(unordered.numpy_batch(0)[0])
    assert all(len(set(r)) < 40 for r in frames)  # shorter than 40 frames: with replacement
    whole = build_train_pipeline(ds, p=1, k=1, mode="all_ordered", augment=False, num_batches=2)
    for i, (x, y) in enumerate(whole.dataset):
        rec = whole.records[whole.sampler.sample(i)[0][0]]
        assert x.shape == (1, len(ds.load(rec)), 64, 44, 1)
        assert np.array_equal(frame_codes(np.round(x.numpy()[..., 0] * 255).astype(np.uint8))[0][0],
                              np.arange(len(ds.load(rec))))


def test_deterministic_and_resumable(ds):
    kw = dict(p=3, k=2, frames=6, augment=True, seed=5)
    pipe = build_train_pipeline(ds, num_batches=4, num_parallel_calls=1, **kw)
    full = [x.numpy() for x, _ in pipe.dataset]
    again = [x.numpy() for x, _ in make_train_dataset(ds, num_batches=4, num_parallel_calls=3, **kw)]
    for a, b in zip(full, again):
        assert np.array_equal(a, b)
    state = pipe.sampler_state(consumed=2)
    assert state["batch"] == 2
    resumed = [x.numpy() for x, _ in make_train_dataset(ds, num_batches=2, sampler_state=state, **kw)]
    assert np.array_equal(resumed[0], full[2]) and np.array_equal(resumed[1], full[3])
    other = build_train_pipeline(ds, num_batches=1, **{**kw, "seed": 6})
    assert not np.array_equal(other.numpy_batch(0)[0], pipe.numpy_batch(0)[0])


def test_augmentation_is_sequence_consistent(ds):
    # identical frames in -> identical frames out, whatever transforms were drawn
    same = dataset_from_arrays({(f"{s:03d}", "nm-01", "000"): np.repeat(coded_sequence(1, s), 8, axis=0)
                                for s in range(4)})
    x, _ = next(iter(make_train_dataset(same, p=4, k=2, frames=8, seed=2, num_batches=1)))
    x = x.numpy()
    assert np.allclose(x, x[:, :1])
    plain, _ = build_train_pipeline(same, p=4, k=2, frames=8, seed=2, augment=False).numpy_batch(0)
    changed = [not np.allclose(x[b, 0, ..., 0], plain[b, 0] / 255.0) for b in range(8)]
    assert 0 < sum(changed) < 8  # each transform has probability 0.5

    flip = build_train_pipeline(same, p=4, k=2, frames=8, seed=2, num_batches=1,
                                augment={"flip_prob": 1.0, "rotate_prob": 0.0, "erase_prob": 0.0})
    x, _ = next(iter(flip.dataset))
    assert np.allclose(x.numpy()[..., 0], plain[:, :, :, ::-1] / 255.0)

    erase = build_train_pipeline(same, p=4, k=2, frames=8, seed=2, num_batches=1,
                                 augment={"flip_prob": 0.0, "rotate_prob": 0.0, "erase_prob": 1.0})
    x = next(iter(erase.dataset))[0].numpy()[..., 0]
    removed = ((plain / 255.0) - x).reshape(8, 8, -1).sum(-1)  # [B, T] erased foreground mass
    assert (removed > 0).any() and np.allclose(removed, removed[:, :1])

    rot = build_train_pipeline(same, p=4, k=2, frames=8, seed=2, num_batches=1,
                               augment={"flip_prob": 0.0, "rotate_prob": 1.0, "max_degrees": 10.0,
                                        "erase_prob": 0.0})
    x = next(iter(rot.dataset))[0].numpy()[..., 0]
    body = plain[:, 0] / 255.0
    assert all(abs(x[b, 0].sum() - body[b].sum()) / body[b].sum() < 0.1 for b in range(8))  # mass kept
    assert sum(not np.allclose(x[b, 0], body[b], atol=1e-3) for b in range(8)) >= 6  # rotated


def test_train_pipeline_argument_errors(ds):
    with pytest.raises(ConfigError, match="mode='random': expected one of fixed_unordered"):
        make_train_dataset(ds, mode="random")
    with pytest.raises(ConfigError, match="all_ordered.*needs p=k=1, got p=2, k=2"):
        make_train_dataset(ds, p=2, k=2, mode="all_ordered")
    with pytest.raises(ConfigError, match="frames=0"):
        make_train_dataset(ds, frames=0)
    with pytest.raises(ConfigError, match="p=7: more subjects per batch than training subjects \\(6\\)"):
        make_train_dataset(ds, p=7, k=2)
    with pytest.raises(DataError, match="training subject\\(s\\) with no sequences in the dataset: 042"):
        make_train_dataset(ds, subjects=["001", "042"], p=1, k=1)
    with pytest.raises(ConfigError, match=r"augment: unknown option\(s\) \['flip'\]"):
        make_train_dataset(ds, augment={"flip": 0.5})
    with pytest.raises(ConfigError, match="augment.flip_prob=2"):
        make_train_dataset(ds, augment={"flip_prob": 2})


def test_bad_file_is_reported_before_the_graph(tmp_path):
    for s in ("001", "002"):
        write_pickle(tmp_path / s / "nm-01" / "090" / "090.pkl", coded_sequence(5, int(s)))
    bad = tmp_path / "002" / "nm-01" / "090" / "090.pkl"
    bad.write_bytes(bad.read_bytes()[:40])
    data = load_dataset(tmp_path, layout="opengait")
    with pytest.raises(DataError, match="002/nm-01/090/090.pkl: corrupt or truncated pickle"):
        make_train_dataset(data, p=2, k=1)
    with pytest.raises(DataError, match="090.pkl: corrupt or truncated pickle"):
        make_eval_dataset(data)


# --------------------------------------------------------------------------- eval pipeline
def test_eval_dataset(ds):
    records = ds.records[::2]
    out = list(make_eval_dataset(ds, records))
    assert len(out) == len(records)
    for (x, meta), rec in zip(out, records):
        seq = ds.load(rec)
        assert x.shape == (1, len(seq), 64, 44, 1) and x.dtype.name == "float32"
        assert np.allclose(x.numpy()[0, ..., 0], seq[:, :, 10:54] / 255.0)
        assert (meta["subject"].numpy().decode(), meta["condition"].numpy().decode(),
                meta["view"].numpy().decode()) == rec.key
    with pytest.raises(DataError, match="no sequences to evaluate"):
        make_eval_dataset(ds, [])


def test_warp_matches_tf_projective_transform():
    import tensorflow as tf

    from gait_tf.data.augment import warp_sequences

    rng = np.random.default_rng(3)
    x = rng.random((3, 4, 64, 44)).astype(np.float32)
    theta = rng.uniform(-0.3, 0.3, 3).astype(np.float32)
    c, s = np.cos(theta), np.sin(theta)
    cx, cy = 21.5, 31.5
    tr = np.stack([c, -s, cx - c * cx + s * cy + 1.3, s, c, cy - s * cx - c * cy - 0.7,
                   0 * c, 0 * c], 1).astype(np.float32)
    ours = warp_sequences(tf.constant(x), tf.constant(tr)).numpy()
    ref = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.constant(x.reshape(12, 64, 44, 1)), transforms=tf.constant(np.repeat(tr, 4, 0)),
        output_shape=[64, 44], fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT").numpy()
    assert np.abs(ours - ref.reshape(3, 4, 64, 44)).max() < 1e-4
    assert np.abs(ours - x).mean() > 0.05  # it did move pixels
