"""The threshold-free verification figures of scripts/real_eval.py (AUC, equal error rate)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "real_eval.py"


@pytest.fixture(scope="module")
def real_eval():
    spec = importlib.util.spec_from_file_location("real_eval_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_auc_counts_ordered_pairs_and_ties_half(real_eval):
    v = real_eval.verification([0.1, 0.2, 0.3], [0.3, 0.15, 0.5])
    # genuine 0.1 < all 3; 0.2 < 0.3, 0.5; 0.3 < 0.5 and ties 0.3 -> (3 + 2 + 1 + 0.5) / 9
    assert v["auc"] == pytest.approx(6.5 / 9)


def test_separated_distances_give_zero_eer_and_reversed_ones_full_error(real_eval):
    rng = np.random.default_rng(0)
    g, i = rng.uniform(0.1, 0.4, 20), rng.uniform(0.5, 0.9, 200)
    v = real_eval.verification(g, i)
    assert v["auc"] == 1.0 and v["eer"] == 0.0
    assert g.max() <= v["eer_threshold"] < i.min()
    w = real_eval.verification(i[:20], g)
    assert w["auc"] == 0.0 and w["eer"] >= 0.9


def test_overlapping_distances_give_an_eer_where_the_two_errors_meet(real_eval):
    rng = np.random.default_rng(1)
    g, i = rng.normal(0.4, 0.1, 4000), rng.normal(0.6, 0.1, 4000)
    v = real_eval.verification(g, i)
    # two equal-variance normals one sigma*2 apart: EER = Phi(-1) = 0.159, AUC = Phi(2/sqrt2) = 0.921
    assert v["eer"] == pytest.approx(0.159, abs=0.015)
    assert v["auc"] == pytest.approx(0.921, abs=0.01)
    assert 0.45 < v["eer_threshold"] < 0.55


def test_wilson_interval_covers_the_proportion_and_narrows_with_n(real_eval):
    lo, hi = real_eval.wilson(9, 19)
    assert lo == pytest.approx(0.273, abs=0.002) and hi == pytest.approx(0.683, abs=0.002)
    lo2, hi2 = real_eval.wilson(90, 190)
    assert lo < lo2 < 9 / 19 < hi2 < hi
    assert real_eval.wilson(0, 4)[0] == 0.0 and real_eval.wilson(4, 4)[1] == 1.0


def test_auc_interval_contains_the_auc_and_is_wide_for_few_pairs(real_eval):
    rng = np.random.default_rng(2)
    g, i = rng.normal(0.4, 0.1, 19), rng.normal(0.6, 0.1, 342)
    v = real_eval.verification(g, i)
    lo, hi = v["auc_ci95"]
    assert lo < v["auc"] < hi and hi - lo > 0.05



def test_evaluate_and_markdown_with_and_without_a_threshold(real_eval):
    # four tracks on a line, 1-D embeddings: halves of tracks 0-2 coincide, track 3's second
    # half lies nearer track 2's first half, so rank-1 is 3 of 4 over both clips
    first = [np.array([0.0]), np.array([1.0]), np.array([2.0]), np.array([3.0])]
    second = [np.array([0.0]), np.array([1.0]), np.array([2.0]), np.array([2.4])]
    tracks = [(f"t{k}", first[k], second[k]) for k in range(4)]
    clips = ["a.mp4", "a.mp4", "b.avi", "b.avi"]
    casia = {"nm-bg": {"distance": 0.3, "accepted": None}, "nm-cl": {"distance": 0.4, "accepted": None}}
    results = {"models": {}}
    for name, thr in (("with", 0.5), ("without", None)):
        r, _, _ = real_eval.evaluate(lambda x: x, tracks, clips, thr)
        r["casia_real"] = casia
        results["models"][name] = r
    r = results["models"]["with"]
    assert r["clips"]["all"]["rank1"] == 0.75 and r["clips"]["all"]["rank1_ci95"] == real_eval.wilson(3, 4)
    assert r["clips"]["b.avi"]["rank1"] == 0.5 and r["clips"]["a.mp4"]["rank1"] == 1.0
    assert r["open_set"]["tar"] == 0.75 and r["open_set"]["far"] == pytest.approx(1 / 12)  # probe 3 vs gallery 2: 0.4
    assert "open_set" not in results["models"]["without"]
    text = real_eval.markdown(results)
    assert "| with | all | 4 | 75.0 % [30-95] |" in text
    assert "| 0.5 | 75.0 % | 25.0 % | 8.3 % (12 pairs) | 0.300 | 0.400 |" in text
    without = [line for line in text.splitlines() if line.startswith("| without |") and "none" in line]
    assert len(without) == 1 and without[0].endswith("| none | - | - | - | 0.300 | 0.400 |")
