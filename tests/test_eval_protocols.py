"""Protocols, metrics and distances on tiny cases worked out by hand.

Most cases use 1-D embeddings ``[N, 1]`` so that the Euclidean distance is ``|x - y|``
and the nearest neighbours can be read off a number line.
"""
import math

import numpy as np
import pytest

from gait_tf.errors import ConfigError, DataError
from gait_tf.evaluation import (
    casia_b,
    casia_b_map,
    de_diag,
    evaluate,
    gait3d,
    oumvlp,
    pairwise_distance,
    rank_k_accuracy,
    ranking_metrics,
    topk,
)


def _arrays(rows):
    """rows: (subject, condition, view, value) → embeddings [N, 1] + string arrays."""
    emb = np.array([[r[3]] for r in rows], np.float32)
    subj, cond, view = (np.array([r[i] for r in rows]) for i in range(3))
    return emb, subj, cond, view


# ---------------------------------------------------------------- distances


def test_euclidean_is_per_part_mean_and_chunking_does_not_change_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3, 5)).astype(np.float32)
    y = rng.normal(size=(11, 3, 5)).astype(np.float32)
    ref = np.sqrt(((x[:, None] - y[None]) ** 2).sum(-1)).mean(-1)  # per part, then mean
    whole = pairwise_distance(x, y)
    chunked = pairwise_distance(x, y, probe_chunk=2, gallery_chunk=3)
    np.testing.assert_allclose(whole, ref, atol=1e-5)
    np.testing.assert_allclose(chunked, ref, atol=1e-5)
    # the per-part mean differs from the distance of the flattened vectors
    flat = np.sqrt(((x.reshape(7, -1)[:, None] - y.reshape(11, -1)[None]) ** 2).sum(-1))
    assert np.abs(flat - whole).max() > 0.5
    # float16 storage is promoted per block; [N, D] is one part
    np.testing.assert_allclose(pairwise_distance(x.astype(np.float16), y.astype(np.float16)), ref, atol=2e-2)
    np.testing.assert_allclose(pairwise_distance(x[:, 0], y[:, 0]), np.linalg.norm(x[:, None, 0] - y[None, :, 0], axis=-1), atol=1e-5)


def test_cosine_distance_by_hand():
    # part 0: x=(1,0) vs y=(0,2) -> cos 0; part 1: x=(3,4) vs y=(6,8) -> cos 1
    x = np.array([[[1, 0], [3, 4]]], np.float32)
    y = np.array([[[0, 2], [6, 8]]], np.float32)
    # 1 - mean(0, 1) = 0.5
    assert pairwise_distance(x, y, metric="cos")[0, 0] == pytest.approx(0.5, abs=1e-6)
    # Euclidean: part 0 sqrt(1+4)=2.236, part 1 sqrt(9+16)=5 -> mean 3.618
    assert pairwise_distance(x, y)[0, 0] == pytest.approx((math.sqrt(5) + 5) / 2, abs=1e-5)
    # inputs are never modified (a [1, P, D] transpose is a view of the caller's array)
    np.testing.assert_array_equal(x, [[[1, 0], [3, 4]]])
    with pytest.raises(ConfigError, match="manhattan"):
        pairwise_distance(x, y, metric="manhattan")
    with pytest.raises(DataError, match="parts, dim"):
        pairwise_distance(x, y[:, :1])


def test_rows_come_in_probe_chunks_over_the_whole_gallery():
    from gait_tf.evaluation import iter_distance_rows

    rng = np.random.default_rng(2)
    x = rng.normal(size=(10, 2, 4)).astype(np.float32)
    y = rng.normal(size=(25, 2, 4)).astype(np.float16)
    blocks = list(iter_distance_rows(x, y, probe_chunk=4, gallery_chunk=6))
    assert [(i, b.shape) for i, b in blocks] == [(0, (4, 25)), (4, (4, 25)), (8, (2, 25))]
    np.testing.assert_allclose(np.concatenate([b for _, b in blocks]), pairwise_distance(x, y), atol=1e-6)


def test_topk_matches_full_sort():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(9, 2, 4)).astype(np.float32)
    y = rng.normal(size=(30, 2, 4)).astype(np.float32)
    idx, dist = topk(x, y, k=4, probe_chunk=4, gallery_chunk=7)
    full = pairwise_distance(x, y)
    np.testing.assert_array_equal(idx, np.argsort(full, axis=1)[:, :4])
    np.testing.assert_allclose(dist, np.sort(full, axis=1)[:, :4], atol=1e-6)
    idx, _ = topk(x, y[:3], k=10)
    assert idx.shape == (9, 3)


# ---------------------------------------------------------------- metrics


def test_rank_map_minp_by_hand():
    dist = np.array([[0.1, 0.5, 0.3, 0.9], [0.2, 0.1, 0.4, 0.3]])
    gallery = np.array(["a", "a", "b", "c"])
    probe = np.array(["a", "c"])
    # probe 0 (a): order a(.1) b(.3) a(.5) c(.9): correct at ranks 1, 3
    #   AP = (1/1 + 2/3) / 2 = 5/6, INP = 2/3
    # probe 1 (c): order a(.1) a(.2) c(.3) b(.4): correct at rank 3
    #   AP = 1/3, INP = 1/3
    r = ranking_metrics(dist, probe, gallery, ranks=(1, 2, 3))
    assert r["rank-1"] == pytest.approx(50.0)
    assert r["rank-2"] == pytest.approx(50.0)
    assert r["rank-3"] == pytest.approx(100.0)
    assert r["mAP"] == pytest.approx(100 * (5 / 6 + 1 / 3) / 2)
    assert r["mINP"] == pytest.approx(100 * (2 / 3 + 1 / 3) / 2)
    assert rank_k_accuracy(dist, probe, gallery, k=3) == pytest.approx(100.0)
    # excluding gallery item 0 for probe 0: order b(.3) a(.5) c(.9): AP 1/2, INP 1/2
    exclude = np.zeros_like(dist, bool)
    exclude[0, 0] = True
    r = ranking_metrics(dist, probe, gallery, ranks=(1,), exclude=exclude)
    assert r["mAP"] == pytest.approx(100 * (1 / 2 + 1 / 3) / 2)
    assert r["rank-1"] == pytest.approx(0.0)
    # a probe whose identity is absent from the gallery is skipped, not counted wrong
    r = ranking_metrics(dist, np.array(["a", "z"]), gallery, ranks=(1,))
    assert r["num_probes"] == 1 and r["num_skipped"] == 1 and r["rank-1"] == 100.0


# ---------------------------------------------------------------- protocols


def _casia_single_view_case():
    rows = [
        # gallery nm-01: A at 0 / 10, B at 1 / 11 (views 000 / 090)
        ("A", "nm-01", "000", 0.0), ("A", "nm-01", "090", 10.0),
        ("B", "nm-01", "000", 1.0), ("B", "nm-01", "090", 11.0),
        # NM probes
        ("A", "nm-05", "000", 0.2),   # g000: A(.2) ok;  g090: A(9.8) < B(10.8) ok
        ("B", "nm-06", "000", 0.9),   # g000: B(.1) ok;  g090: A(9.1) < B(10.1) wrong
        ("A", "nm-05", "090", 10.6),  # g000: B(9.6) wrong; g090: B(.4) wrong
        ("B", "nm-05", "090", 11.2),  # g000: B(10.2) ok;   g090: B(.2) ok
        # BG probes, view 000 only
        ("A", "bg-01", "000", 5.0),   # g000: B(4) wrong;  g090: A(5) < B(6) ok
        ("B", "bg-02", "000", -3.0),  # g000: A(3) wrong;  g090: A(13) wrong
    ]
    return _arrays(rows)


def test_casia_b_single_view_by_hand():
    r = casia_b(*_casia_single_view_case())
    assert r["views"] == ["000", "090"]
    nm = r["probe_sets"]["NM"]
    # rows: probe view; columns: gallery view
    np.testing.assert_allclose(nm["matrix"], [[100, 50], [50, 50]])
    np.testing.assert_allclose(nm["per_view"], [50, 50])  # off-diagonal entries only
    assert nm["mean"] == pytest.approx(50.0)
    assert nm["mean_with_identical"] == pytest.approx(62.5)
    assert nm["num_probes"] == 4
    bg = r["probe_sets"]["BG"]
    assert bg["matrix"][0] == [0.0, 50.0]
    assert all(math.isnan(v) for v in bg["matrix"][1])  # no BG probe at 090
    assert bg["mean"] == pytest.approx(50.0)
    assert r["probe_sets"]["CL"]["num_probes"] == 0 and math.isnan(r["summary"]["CL"])
    assert r["summary"]["NM"] == pytest.approx(50.0)
    # the dispatcher gives the same thing
    assert evaluate("CASIA_B", *_casia_single_view_case())["summary"]["BG"] == pytest.approx(50.0)


def test_de_diag_excludes_identical_views():
    acc = np.array([[100.0, 80, 60], [70, 100, 50], [40, 20, 100]])
    # rows without the diagonal: (80+60)/2, (70+50)/2, (40+20)/2
    np.testing.assert_allclose(de_diag(acc), [70, 60, 30])


def test_oumvlp_by_hand():
    views = ["000", "015", "030"]
    rows = []
    for s in range(3):
        for v, view in enumerate(views):
            rows.append((f"{s:05d}", "01", view, 10.0 * s + 0.1 * v))
            # subject 0's probe at 030 sits among subject 2's gallery -> wrong for every gallery view
            value = 20.0 if (s == 0 and view == "030") else 10.0 * s + 0.1 * v + 0.01
            rows.append((f"{s:05d}", "00", view, value))
    r = oumvlp(*_arrays(rows))
    nm = r["probe_sets"]["NM"]
    # rows 000 and 015: every probe right; row 030: 2 of 3 right in each gallery view
    np.testing.assert_allclose(nm["matrix"], [[100, 100, 100], [100, 100, 100], [200 / 3] * 3])
    np.testing.assert_allclose(nm["per_view"], [100, 100, 200 / 3])
    assert nm["mean"] == pytest.approx((100 + 100 + 200 / 3) / 3)
    assert r["views"] == views  # only the OU-MVLP views present, in protocol order


def test_casia_b_map_cross_view_by_hand():
    rows = [
        # gallery (nm-02 / bg-02 / cl-02, any view)
        ("A", "nm-02", "000", 0.0), ("A", "nm-02", "090", 3.0), ("A", "cl-02", "090", 4.0),
        ("B", "nm-02", "000", 1.0), ("B", "bg-02", "090", 2.0),
        # NM probe A@000 (0.1): A@000 gallery dropped; order B000(.9) B090(1.9) A090(2.9) A090cl(3.9)
        #   correct at 3, 4 -> AP (1/3 + 2/4)/2 = 5/12, INP 2/4, rank-1 miss
        ("A", "nm-01", "000", 0.1),
        # NM probe B@090 (2.4): B090 dropped; order A090(.6) B000(1.4) A090cl(1.6) A000(2.4)
        #   correct at 2 -> AP 1/2, INP 1/2, rank-1 miss
        ("B", "nm-01", "090", 2.4),
        # BG probe A@000 (2.6): A000 dropped; order A090(.4) B090(.6) A090cl(1.4) B000(1.6)
        #   correct at 1, 3 -> AP (1 + 2/3)/2 = 5/6, INP 2/3, rank-1 hit
        ("A", "bg-01", "000", 2.6),
        # not part of the protocol (nm-05): ignored
        ("A", "nm-05", "000", 1.0),
    ]
    r = casia_b_map(*_arrays(rows))
    nm = r["probe_sets"]["NM"]
    np.testing.assert_allclose(nm["rank-1"], [0, 0])
    np.testing.assert_allclose(nm["mAP"], [100 * 5 / 12, 50])
    np.testing.assert_allclose(nm["mINP"], [50, 50])
    assert nm["mean"]["mAP"] == pytest.approx((100 * 5 / 12 + 50) / 2)
    bg = r["probe_sets"]["BG"]
    assert bg["rank-1"][0] == 100 and math.isnan(bg["rank-1"][1])
    assert r["summary"]["BG-mAP"] == pytest.approx(100 * 5 / 6)
    assert r["summary"]["BG-mINP"] == pytest.approx(100 * 2 / 3)
    assert math.isnan(r["summary"]["CL-mAP"])


def test_gait3d_probe_vs_gallery_by_hand():
    rows = [
        ("a", "gallery", "c1", 0.0), ("a", "gallery", "c2", 5.0),
        ("b", "gallery", "c1", 2.0), ("c", "gallery", "c1", 3.5),
        # probe a at 1.0: order a(1) b(1) ... ties broken by gallery order -> a first,
        # then b(1), c(2.5), a(4): correct at 1, 4 -> AP (1 + 2/4)/2 = 3/4, INP 2/4
        ("a", "probe", "c1", 1.0),
        # probe c at 2.2: order b(.2) a(2.2) ... b(.2), c(1.3), a(2.2), a(2.8): correct at 2
        #   -> AP 1/2, INP 1/2
        ("c", "probe", "c3", 2.2),
    ]
    r = gait3d(*_arrays(rows))
    assert r["rank-1"] == pytest.approx(50.0)
    assert r["rank-5"] == pytest.approx(100.0)
    assert r["mAP"] == pytest.approx(100 * (3 / 4 + 1 / 2) / 2)
    assert r["mINP"] == pytest.approx(100 * (2 / 4 + 1 / 2) / 2)
    assert r["num_probes"] == 2 and r["num_gallery"] == 4
    mask = np.array([False] * 4 + [True, True])
    emb, s, c, v = _arrays(rows)
    assert gait3d(emb, s, np.array(["x"] * 6), v, probe_mask=mask)["mAP"] == pytest.approx(r["mAP"])


def test_protocol_input_errors():
    emb, s, c, v = _casia_single_view_case()
    with pytest.raises(ConfigError, match="unknown protocol 'casia'"):
        evaluate("casia", emb, s, c, v)
    with pytest.raises(DataError, match="views"):
        casia_b(emb, s, c, v[:-1])
    bad = emb.copy()
    bad[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        casia_b(bad, s, c, v)
    with pytest.raises(DataError, match="no probe"):
        casia_b(emb[:4], s[:4], c[:4], v[:4])
