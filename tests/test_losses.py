"""Losses against brute-force numpy references."""
import itertools

import numpy as np
import pytest
import tensorflow as tf

from gait_tf.errors import ConfigError
from gait_tf.losses import (
    batch_all_triplet_loss,
    build_loss,
    cross_entropy_loss,
    pairwise_euclidean,
)


def _np_triplet(emb, labels, margin):
    """Loop over every (part, anchor, positive, negative): OpenGait's definition."""
    b, parts, _ = emb.shape
    per_part, nonzero, valid, mean_dist = [], 0, 0, []
    for p in range(parts):
        x = emb[:, p, :].astype(np.float64)
        d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
        mean_dist.append(d.mean())
        terms = []
        for a, pos, neg in itertools.product(range(b), repeat=3):
            if labels[a] == labels[pos] and labels[a] != labels[neg]:
                terms.append(max(d[a, pos] - d[a, neg] + margin, 0.0))
        terms = np.array(terms)
        nz = (terms > 0).sum()
        per_part.append(terms.sum() / nz if nz else 0.0)
        nonzero += nz
        valid += len(terms)
    return np.mean(per_part), nonzero / valid, np.mean(mean_dist)


@pytest.mark.parametrize(
    "labels",
    [
        [0, 0, 1, 1, 2, 2, 3, 3],  # balanced P x K (compact path)
        [5, 5, 5, 1, 1, 2, 7, 7],  # unbalanced (dense path)
    ],
)
def test_triplet_matches_bruteforce(labels):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(len(labels), 3, 5)).astype(np.float32) * 0.3
    labels = np.array(labels, np.int32)
    loss, metrics = batch_all_triplet_loss(emb, labels, margin=0.2)
    ref_loss, ref_frac, ref_dist = _np_triplet(emb, labels, 0.2)
    assert 0.0 < ref_frac < 1.0  # the case exercises partial activity
    np.testing.assert_allclose(loss.numpy(), ref_loss, rtol=1e-5)
    np.testing.assert_allclose(metrics["nonzero_fraction"].numpy(), ref_frac, rtol=1e-5)
    np.testing.assert_allclose(metrics["mean_dist"].numpy(), ref_dist, rtol=1e-5)


def test_triplet_graph_mode_and_gradient_finite():
    rng = np.random.default_rng(1)
    emb = tf.Variable(rng.normal(size=(6, 2, 4)).astype(np.float32))
    labels = tf.constant([0, 0, 1, 1, 2, 2])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss, _ = batch_all_triplet_loss(emb, labels, 0.2)
        return loss, tape.gradient(loss, emb)

    loss, grad = step()
    ref, _, _ = _np_triplet(emb.numpy(), labels.numpy(), 0.2)
    np.testing.assert_allclose(loss.numpy(), ref, rtol=1e-5)
    assert np.all(np.isfinite(grad.numpy())) and np.abs(grad.numpy()).sum() > 0


def test_triplet_zero_when_separated():
    # identities far apart -> every term zero -> loss 0, no NaN (divide by zero count)
    emb = np.zeros((4, 1, 2), np.float32)
    emb[2:, 0, 0] = 10.0
    loss, metrics = batch_all_triplet_loss(emb, np.array([0, 0, 1, 1]), 0.2)
    assert loss.numpy() == 0.0
    assert metrics["nonzero_fraction"].numpy() == 0.0


def test_pairwise_distance_diagonal_gradient_is_zero():
    x = tf.Variable([[[1.0, 2.0], [1.0, 2.0], [4.0, 6.0]]])
    with tf.GradientTape() as tape:
        d = pairwise_euclidean(x)
        s = tf.reduce_sum(d)
    g = tape.gradient(s, x).numpy()
    np.testing.assert_allclose(d.numpy()[0, 0, 2], 5.0, rtol=1e-6)
    assert np.all(np.isfinite(g))


@pytest.mark.parametrize("eps,scale", [(0.0, 1.0), (0.1, 16.0)])
def test_cross_entropy_matches_numpy(eps, scale):
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(5, 3, 7)).astype(np.float32)
    labels = np.array([0, 6, 2, 2, 3], np.int32)
    loss, metrics = cross_entropy_loss(logits, labels, label_smoothing=eps, scale=scale)
    z = logits.astype(np.float64) * scale
    logp = z - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)) - z.max(-1, keepdims=True)
    target = np.full(z.shape, eps / 7)
    for i, y in enumerate(labels):
        target[i, :, y] += 1 - eps
    ref = -(target * logp).sum(-1).mean()
    np.testing.assert_allclose(loss.numpy(), ref, rtol=1e-5)
    acc = (logits.argmax(-1) == labels[:, None]).mean()
    np.testing.assert_allclose(metrics["accuracy"].numpy(), acc)


def test_combined_weighted_sum_and_mixed_precision_inputs():
    rng = np.random.default_rng(3)
    outputs = {
        "embeddings": tf.constant(rng.normal(size=(8, 2, 4)), tf.float16),
        "logits": tf.constant(rng.normal(size=(8, 2, 4)), tf.float16),
    }
    labels = tf.constant([0, 0, 1, 1, 2, 2, 3, 3])
    combined = build_loss(
        [{"type": "triplet", "weight": 1.0, "margin": 0.3}, {"type": "ce", "weight": 0.1, "label_smoothing": 0.1}]
    )
    total, metrics = combined(outputs, labels)
    t, _ = batch_all_triplet_loss(outputs["embeddings"], labels, 0.3)
    c, _ = cross_entropy_loss(outputs["logits"], labels, 0.1)
    assert total.dtype == tf.float32
    np.testing.assert_allclose(total.numpy(), t.numpy() + 0.1 * c.numpy(), rtol=1e-6)
    assert set(metrics) >= {"loss", "triplet/nonzero_fraction", "triplet/mean_dist", "ce/accuracy"}
    with pytest.raises(ConfigError, match="logits"):
        combined.check_outputs({"embeddings": outputs["embeddings"]})


@pytest.mark.parametrize(
    "spec,culprit",
    [
        ([{"type": "arcface"}], r"losses\[0\]\.type"),
        ([{"type": "triplet", "margn": 0.2}], r"losses\[0\]\.margn"),
        ([{"type": "ce", "weight": -1}], r"losses\[0\]\.weight"),
        ([{"type": "triplet"}, {"type": "ce", "label_smoothing": 1.5}], "label_smoothing"),
        ([], "losses"),
    ],
)
def test_build_loss_errors_name_the_key(spec, culprit):
    with pytest.raises(ConfigError, match=culprit):
        build_loss(spec)
