"""gait_tf.Gallery: enrollment, identification, open-set calibration, persistence, SVM."""
import numpy as np
import pytest

import gait_tf
from gait_tf.errors import GalleryError
from gait_tf.gallery import UNKNOWN, Gallery, threshold_for_far


def _line_gallery():
    # 1 part x 2 dims; subjects on the x axis: alice at x=0 and x=1, bob at x=10
    g = Gallery("toy", (1, 2))
    g.enroll("alice", np.array([[[0.0, 0.0]], [[1.0, 0.0]]], np.float32))  # a batch of 2
    g.enroll("bob", np.array([[10.0, 0.0]], np.float32))
    return g


def test_identify_ranks_subjects_by_best_distance():
    g = _line_gallery()
    assert gait_tf.Gallery is Gallery
    assert len(g) == 3 and g.subjects == ["alice", "bob"]
    # probe at x=3: alice's best is |3-1| = 2 (not |3-0| = 3), bob's is 7
    r = g.identify(np.array([[3.0, 0.0]]), top_k=5)
    assert [m.subject_id for m in r] == ["alice", "bob"]
    np.testing.assert_allclose([m.distance for m in r], [2.0, 7.0], atol=1e-5)
    assert r.identity == "alice" and not r.is_unknown
    # probe at x=8: bob (2) before alice (7); top_k=1 keeps one
    r = g.identify(np.array([[8.0, 0.0]]), top_k=1)
    assert list(r) == [("bob", pytest.approx(2.0, abs=1e-5))]
    # open set: with threshold 1.5, x=3 (best 2) is unknown, x=0.5 (best 0.5) is alice
    g.threshold = 1.5
    assert g.identify(np.array([[3.0, 0.0]])).identity == UNKNOWN
    res = g.identify_batch(np.array([[[3.0, 0.0]], [[0.5, 0.0]]]))
    assert [x.identity for x in res] == [UNKNOWN, "alice"]
    assert res[0][0].subject_id == "alice"  # candidates are still ranked when unknown
    # a per-call threshold overrides; None = closed set
    assert g.identify(np.array([[3.0, 0.0]]), threshold=None).identity == "alice"
    assert g.remove("alice") == 2 and g.subjects == ["bob"]


def test_refuses_other_models_shapes_and_nan():
    g = _line_gallery()
    with pytest.raises(GalleryError, match=r"model 'other'.*model 'toy'"):
        g.enroll("carol", np.zeros((1, 2)), model_name="other")
    with pytest.raises(GalleryError, match=r"\(1, 3\).*\(1, 2\)"):
        g.enroll("carol", np.zeros((1, 3), np.float32))
    with pytest.raises(GalleryError, match=r"\(2,\)"):
        g.identify(np.zeros(2, np.float32))
    with pytest.raises(GalleryError, match="NaN"):
        g.enroll("carol", np.array([[np.nan, 0.0]]))
    with pytest.raises(GalleryError, match="NaN"):
        g.identify(np.array([[np.inf, 0.0]]))
    with pytest.raises(GalleryError, match="no embed_fn"):
        g.enroll("carol", np.zeros((5, 64, 64), np.uint8))
    with pytest.raises(GalleryError, match="reserved"):
        g.enroll(UNKNOWN, np.zeros((1, 2)))
    with pytest.raises(GalleryError, match="empty"):
        Gallery("toy", (1, 2)).identify(np.zeros((1, 2)))


def test_enroll_and_identify_sequences_through_embed_fn():
    # embed_fn: mean foreground fraction of the upper / lower half -> [1, 2]
    def embed_fn(seq):
        s = np.asarray(seq, np.float32) / 255.0
        h = s.shape[1] // 2
        return np.array([[s[:, :h].mean(), s[:, h:].mean()]], np.float32)

    top = np.zeros((4, 8, 8), np.uint8)
    top[:, :4] = 255  # upper half on -> (1, 0)
    bottom = np.zeros((4, 8, 8), np.uint8)
    bottom[:, 4:] = 255  # -> (0, 1)
    g = Gallery("toy", (1, 2), embed_fn=embed_fn)
    g.enroll("top", top)
    g.enroll("bottom", bottom)
    assert g.identify(top).identity == "top"
    assert g.identify(bottom).matches[0].distance == pytest.approx(0.0)
    bad = Gallery("toy", (1, 3), embed_fn=embed_fn)
    with pytest.raises(GalleryError, match=r"embed_fn returned an embedding of shape \(1, 2\)"):
        bad.enroll("x", top)


def test_threshold_for_far_by_hand():
    impostor = np.array([5.0, 1.0, 4.0, 2.0, 3.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    # far 0.2 of 10 -> at most 2 impostors accepted: threshold just below the 3rd smallest (3.0)
    t = threshold_for_far(impostor, 0.2)
    assert 2.0 < t < 3.0 and np.sum(impostor <= t) == 2
    # far 0 -> nothing accepted, threshold below the smallest
    assert threshold_for_far(impostor, 0.0) < 1.0
    with pytest.raises(GalleryError):
        threshold_for_far(impostor, 1.5)


def test_calibrate_pairs_and_identification():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(12, 2, 8)).astype(np.float32) * 3
    g = Gallery("toy", (2, 8))
    for s in range(6):
        g.enroll(f"s{s}", centres[s] + 0.1 * rng.normal(size=(2, 2, 8)))
    # held out: 6 unenrolled people x 3 samples
    held = (centres[6:, None] + 0.1 * rng.normal(size=(6, 3, 2, 8))).reshape(18, 2, 8).astype(np.float32)
    held_ids = np.repeat([f"h{i}" for i in range(6)], 3)
    cal = g.calibrate(held, held_ids, far=0.05)
    # 18*17/2 = 153 pairs, 6*3 = 18 genuine, 135 impostor; at most floor(0.05*135) = 6 accepted
    assert cal["num_impostor"] == 135 and cal["num_genuine"] == 18
    assert cal["achieved_far"] <= 0.05 and cal["achieved_far"] == pytest.approx(6 / 135)
    assert cal["tar"] == 1.0  # same-person samples are 0.1-noise apart: all accepted
    assert g.threshold == cal["threshold"]
    # pair FAR is not identification FAR: a probe is compared with 6 subjects, so an
    # unenrolled person is accepted more often than 5% -> calibrate for identification
    cal = g.calibrate(held, held_ids, far=0.2, mode="identification")
    # 18 impostor probes (none enrolled): at most floor(0.2*18) = 3 accepted
    assert cal["num_impostor"] == 18 and cal["num_genuine"] == 0
    assert cal["achieved_far"] == pytest.approx(3 / 18)
    # on those probes, "accepted" is exactly "not answered unknown"
    accepted = sum(not r.is_unknown for r in g.identify_batch(held))
    assert accepted == 3
    enrolled_probe = centres[:6] + 0.1 * rng.normal(size=(6, 2, 8))
    assert [r.identity for r in g.identify_batch(enrolled_probe)] == [f"s{i}" for i in range(6)]
    assert cal["mode"] == "identification"


def test_save_load_roundtrip_and_corrupt_files(tmp_path):
    g = _line_gallery()
    g.calibrate(np.array([[[0.0, 0.0]], [[5.0, 0.0]], [[9.0, 0.0]]]), ["a", "b", "c"], far=0.4)
    path = g.save(tmp_path / "people.gallery")
    h = Gallery.load(path)
    assert h.model_name == "toy" and h.embedding_shape == (1, 2) and h.metric == "euc"
    assert h.calibration == g.calibration and h.threshold == g.threshold
    np.testing.assert_array_equal(h.embeddings, g.embeddings)
    assert list(h.identify(np.array([[0.4, 0.0]]))) == list(g.identify(np.array([[0.4, 0.0]])))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.gallery"]  # no temp file left
    raw = path.read_bytes()
    (tmp_path / "trunc.gallery").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(GalleryError, match="trunc.gallery"):
        Gallery.load(tmp_path / "trunc.gallery")
    (tmp_path / "junk.gallery").write_bytes(b"not a gallery")
    with pytest.raises(GalleryError, match="junk.gallery"):
        Gallery.load(tmp_path / "junk.gallery")
    with pytest.raises(GalleryError, match="missing.gallery"):
        Gallery.load(tmp_path / "missing.gallery")
    np.savez(tmp_path / "other.npz", embeddings=np.zeros((1, 2)))
    with pytest.raises(GalleryError, match="other.npz"):
        Gallery.load(tmp_path / "other.npz")


def test_float16_storage_and_cosine():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20, 4, 16)).astype(np.float32)
    g = Gallery("toy", (4, 16), metric="cos", storage_dtype="float16")
    g.enroll_many(x, [f"p{i}" for i in range(20)])
    assert g.embeddings.dtype == np.float16
    ids = [r.identity for r in g.identify_batch(x * 2.0)]  # cosine ignores the scale
    assert ids == [f"p{i}" for i in range(20)]


def test_linear_svm_identifier():
    from gait_tf.evaluation.svm import LinearSVMIdentifier

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 3, 8))
    train = (centres[:, None] + 0.3 * rng.normal(size=(4, 5, 3, 8))).reshape(20, 3, 8)
    labels = np.repeat(["a", "b", "c", "d"], 5)
    test = (centres[:, None] + 0.3 * rng.normal(size=(4, 2, 3, 8))).reshape(8, 3, 8)
    svm = LinearSVMIdentifier().fit(train, labels)
    assert svm.score(test, np.repeat(["a", "b", "c", "d"], 2)) == 100.0
    ranked = svm.rank(test[:1], top_k=2)[0]
    assert ranked[0][0] == "a" and ranked[0][1] > ranked[1][1]
    with pytest.raises(GalleryError, match="fitted on"):
        svm.predict(test[:, :2])


def test_per_subject_best_with_interleaved_enrollment():
    from gait_tf.evaluation import pairwise_distance

    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 3, 4)).astype(np.float32)
    ids = rng.choice(list("gfedcba"), 50)  # interleaved, not in subject order
    g = Gallery("toy", (3, 4))
    for sid, e in zip(ids, x):
        g.enroll(sid, e)
    probes = rng.normal(size=(7, 3, 4)).astype(np.float32)
    subjects, dist = g.subject_distances(probes)
    full = pairwise_distance(probes, x)
    expected = np.stack([full[:, ids == s].min(axis=1) for s in subjects], axis=1)
    np.testing.assert_allclose(dist, expected, atol=1e-6)
    assert list(subjects) == sorted(set(ids))
    np.testing.assert_array_equal(g.labels, ids)  # storage keeps enrollment order
    np.testing.assert_array_equal(g.embeddings, x)
    best = g.identify(probes[0], top_k=3)
    assert [m.subject_id for m in best] == [subjects[j] for j in np.argsort(expected[0])[:3]]


def test_temporaries_of_killed_saves_are_removed_by_the_next_save(tmp_path):
    """kill -9 during a save leaves its hidden temporary (the original file stays intact);
    the next save of the same target removes the temporaries of dead writers, never those of
    a writer still running."""
    import os
    import subprocess
    import sys
    import time

    target = tmp_path / "people.gallery"
    g = _line_gallery()
    g.save(target)
    writer = ("import sys, time\n"
              "from gait_tf.utils.atomic import atomic_write\n"
              f"with atomic_write({str(target)!r}) as fh:\n"
              "    fh.write(b'x' * 1_000_000)\n"
              "    fh.flush()\n"
              "    print('writing', flush=True)\n"
              "    time.sleep(120)\n")

    def start_writer():
        proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "writing"
        return proc

    def temporaries():
        return sorted(p.name for p in tmp_path.glob(".people.gallery.*.tmp"))

    victim = start_writer()
    victim.kill()
    victim.wait()
    assert len(temporaries()) == 1  # nobody can clean up after a SIGKILL ...
    assert len(Gallery.load(target)) == 3  # ... and the original is intact
    for _ in range(3):  # they do not pile up: each save removes its dead predecessors' temporaries
        victim = start_writer()
        victim.kill()
        victim.wait()
    assert len(temporaries()) == 1
    live = start_writer()  # a save in progress in another process: its temporary must survive
    try:
        victim = start_writer()
        victim.kill()
        victim.wait()
        # a temporary of the old naming (no owner), 2 hours old, and a fresh one
        old, fresh = tmp_path / ".people.gallery.abcd1234.tmp", tmp_path / ".people.gallery.wxyz9876.tmp"
        old.write_bytes(b"x")
        fresh.write_bytes(b"x")
        os.utime(old, (time.time() - 7200, time.time() - 7200))
        assert len(temporaries()) == 4  # old, fresh, the live writer's, the victim's
        g.enroll("carol", np.array([[5.0, 5.0]], np.float32))
        g.save(target)
        left = set(temporaries())
        assert fresh.name in left and old.name not in left and len(left) == 2  # + the live writer's
        assert Gallery.load(target).num_subjects == 3
    finally:
        live.kill()
        live.wait()
    g.save(target)
    assert temporaries() == [fresh.name]
    # files of other targets are never touched
    (tmp_path / ".other.gallery.abcd1234.tmp").write_bytes(b"x")
    os.utime(tmp_path / ".other.gallery.abcd1234.tmp", (0, 0))
    g.save(target)
    assert (tmp_path / ".other.gallery.abcd1234.tmp").exists()
