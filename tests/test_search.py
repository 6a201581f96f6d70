"""gait_tf.search: exact and FAISS indexes, the gallery's automatic choice, index
persistence (verified or rebuilt on load), clustered synthetic embeddings."""
import logging

import numpy as np
import pytest

from gait_tf.errors import GalleryError
from gait_tf.evaluation.distance import pairwise_distance
from gait_tf.gallery import Gallery
from gait_tf.search import ExactIndex, choose_kind, make_index
from gait_tf.search.synthetic import ClusteredEmbeddings

pytest.importorskip("faiss")

PARTS, DIM = 4, 32


@pytest.fixture(scope="module")
def data():
    gen = ClusteredEmbeddings(1000, 4, PARTS, DIM, identity_dims=16, nuisance_dims=4, seed=3)
    emb = gen.fill(np.empty((len(gen), PARTS, DIM), np.float32))
    labels = np.char.zfill(gen.subjects(np.arange(len(gen))).astype(str), 4)
    probes, truth = gen.probes(100, seed=5)
    return emb, labels, probes, np.char.zfill(truth.astype(str), 4)


def brute_force(emb, labels, probes, k):
    d = pairwise_distance(probes, emb)
    ids = np.unique(labels)
    per = np.stack([d[:, labels == s].min(axis=1) for s in ids], axis=1)
    order = np.argsort(per, axis=1, kind="stable")[:, :k]
    return ids[order], np.take_along_axis(per, order, axis=1)


def test_synthetic_embeddings_are_clustered(data):
    emb, labels, probes, truth = data
    d = pairwise_distance(probes[:20], emb)
    own = labels[None, :] == truth[:20, None]
    # a probe is nearer its own subject's sequences than the typical other subject's
    assert np.median(d[own]) < 0.8 * np.median(d[~own])
    gen = ClusteredEmbeddings(10, 4, PARTS, DIM)
    np.testing.assert_array_equal(gen.rows(0, 8), gen.rows(0, 8))  # deterministic


def test_exact_index_is_brute_force(data):
    emb, labels, probes, _ = data
    index = ExactIndex("euc").build(emb[:2000], labels[:2000])
    ids, dist = brute_force(emb[:2000], labels[:2000], probes[:10], 3)
    for (got_ids, got_d), want_ids, want_d in zip(index.nearest_subjects(probes[:10], 3), ids, dist):
        np.testing.assert_array_equal(got_ids, want_ids)
        np.testing.assert_allclose(got_d, want_d, rtol=1e-5)


@pytest.mark.parametrize("structure", ["flat", "hnsw"])
def test_ann_recall_and_exact_distances(data, structure):
    emb, labels, probes, _ = data
    exact = ExactIndex("euc").build(emb, labels).nearest_subjects(probes, 1)
    ann = make_index("ann", "euc", dims=32, structure=structure).build(emb, labels)
    got = ann.nearest_subjects(probes, 1)
    same = np.array([g[0][0] == e[0][0] for g, e in zip(got, exact)])
    assert same.mean() >= 0.95
    # re-ranked with the exact distance: when the subject agrees, so does the distance
    for g, e, s in zip(got, exact, same):
        if s:
            assert abs(g[1][0] - e[1][0]) <= 1e-4 * max(1.0, e[1][0])
    desc = ann.describe()
    assert desc["kind"] == "ann" and desc["structure"] == structure and desc["size"] == len(emb)
    assert 0 < desc["memory_bytes"] < emb.nbytes


def test_choose_kind_and_bad_options():
    assert choose_kind(10, "auto", 100) == "exact" and choose_kind(100, "auto", 100) == "ann"
    assert choose_kind(10**7, "exact") == "exact"
    for kwargs, msg in [({"search": "fast"}, "unknown search 'fast'"),
                        ({"ann_options": {"bogus": 1}}, "unknown ANN option"),
                        ({"ann_options": {"candidates": 0}}, "positive integers"),
                        ({"ann_options": {"structure": "ivf"}}, "unknown ANN structure"),
                        ({"ann_options": {"dims": "many"}}, "bad ANN option")]:
        with pytest.raises(GalleryError, match=msg):
            Gallery("m", (PARTS, DIM), **kwargs)


def test_gallery_switches_to_ann_and_extends(data):
    emb, labels, probes, _ = data
    small = Gallery("m", (PARTS, DIM), ann_min_size=5000)
    small.enroll_many(emb, labels)
    assert small.search_index().kind == "exact"
    big = Gallery("m", (PARTS, DIM), ann_min_size=2000, ann_options={"dims": 32})
    big.enroll_many(emb, labels)
    index = big.search_index()
    assert index.kind == "ann"
    ref = [r.identity for r in small.identify_batch(probes)]
    got = [r.identity for r in big.identify_batch(probes)]
    assert np.mean(np.array(ref) == np.array(got)) >= 0.95
    # appending keeps the trained index and adds the new rows
    new = emb[:2] * 0.5 + 3.0
    big.enroll("zed", new)
    assert big.search_index() is index and index.size == len(emb) + 2
    hit = big.identify(new[1])
    assert hit.identity == "zed" and hit.distance < 1e-2  # itself (float32 cancellation)
    big.remove("zed")
    assert big.search_index() is not index and big.search_index().size == len(emb)


def test_saved_index_is_verified_or_rebuilt(data, tmp_path, caplog):
    emb, labels, probes, _ = data
    g = Gallery("m", (PARTS, DIM), ann_min_size=1000, ann_options={"dims": 32}, threshold=5.0)
    g.enroll_many(emb, labels)
    before = [(r.identity, r.distance) for r in g.identify_batch(probes[:20])]
    path = g.save(tmp_path / "people.gallery")
    with np.load(path) as npz:
        assert "search_faiss" in npz.files
        arrays = {k: npz[k] for k in npz.files}
    loaded = Gallery.load(path)
    assert loaded._search is not None and loaded._search.kind == "ann"  # restored, not rebuilt
    assert loaded.file_metadata["ann_index"]["fingerprint"]
    assert [(r.identity, r.distance) for r in loaded.identify_batch(probes[:20])] == before

    # the same index next to other embeddings: rejected on load (warning), rebuilt on demand
    tampered = dict(arrays)
    tampered["embeddings"] = arrays["embeddings"].copy()
    tampered["embeddings"][0] += 1.0
    np.savez(tmp_path / "tampered.gallery.npz", **tampered)
    with caplog.at_level(logging.WARNING):
        bad = Gallery.load(tmp_path / "tampered.gallery.npz")
    assert bad._search is None and "does not match the embeddings" in caplog.text
    assert bad.identify(emb[5]).identity == labels[5]
    # a damaged index blob: also rebuilt, never an error
    broken = dict(arrays)
    broken["search_faiss"] = arrays["search_faiss"][:100]
    np.savez(tmp_path / "broken.gallery.npz", **broken)
    assert Gallery.load(tmp_path / "broken.gallery.npz")._search is None


def test_small_gallery_saves_no_index_and_cos_ann(data, tmp_path):
    emb, labels, probes, _ = data
    g = Gallery("m", (PARTS, DIM))
    g.enroll_many(emb[:400], labels[:400])
    g.identify(probes[0])
    with np.load(g.save(tmp_path / "s.gallery")) as npz:
        assert not [k for k in npz.files if k.startswith("search_")]
    exact = Gallery("m", (PARTS, DIM), metric="cos", search="exact")
    ann = Gallery("m", (PARTS, DIM), metric="cos", search="ann", ann_options={"dims": 32})
    for gal in (exact, ann):
        gal.enroll_many(emb, labels)
    ref = exact.identify_batch(probes)
    got = ann.identify_batch(probes)
    agree = [a.identity == b.identity for a, b in zip(ref, got)]
    assert np.mean(agree) >= 0.95
    assert all(abs(a.distance - b.distance) < 1e-5 for a, b, s in zip(ref, got, agree) if s)
