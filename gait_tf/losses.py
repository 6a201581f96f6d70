"""Training losses for gait embeddings: batch-all triplet and cross-entropy, per part.

Models return ``embeddings [B, P, D]`` (P horizontal parts / bins) and, with a BNNeck
head, ``logits [B, P, C]``. Both losses are computed independently for every part and
averaged over parts, the way OpenGait trains part-based models:

- :func:`batch_all_triplet_loss` - for every part, every anchor ``a``, every positive
  ``p`` (same label, *including the anchor itself*, as OpenGait does) and every negative
  ``n``: ``relu(d(a, p) - d(a, n) + margin)`` with Euclidean distances. Each part's loss is
  the mean over its non-zero terms (0 when all terms are zero); the loss is the mean over
  parts.
- :func:`cross_entropy_loss` - softmax cross-entropy of ``scale * logits`` per part with
  optional label smoothing, averaged over samples and parts.
- :class:`CombinedLoss` - a weighted sum of loss terms built from the YAML list
  ``losses: [{type: triplet, weight: 1.0, margin: 0.2}, {type: ce, weight: 0.1, label_smoothing: 0.1}]``.

All losses take float16/bfloat16 inputs (mixed precision) and compute in float32.
Every call returns ``(loss, metrics)``: a float32 scalar and a dict of float32 scalars
for logging.
"""
from __future__ import annotations

import tensorflow as tf

from gait_tf.errors import ConfigError

__all__ = [
    "pairwise_euclidean",
    "batch_all_triplet_loss",
    "cross_entropy_loss",
    "TripletLoss",
    "CrossEntropyLoss",
    "CombinedLoss",
    "build_loss",
    "LOSS_TYPES",
]


def pairwise_euclidean(x):
    """Euclidean distances between all rows, per part.

    Args:
        x: ``[P, N, D]`` float.
    Returns:
        ``[P, N, N]`` float32, ``d[p, i, j] = ||x[p, i] - x[p, j]||_2``. The square root
        has a zero (not NaN) gradient where the distance is 0 (e.g. the diagonal).
    """
    x = tf.cast(x, tf.float32)
    sq = tf.reduce_sum(tf.square(x), axis=-1)  # [P, N]
    inner = tf.matmul(x, x, transpose_b=True)  # [P, N, N]
    d2 = tf.nn.relu(sq[:, :, None] + sq[:, None, :] - 2.0 * inner)
    positive = d2 > 0.0
    safe = tf.where(positive, d2, tf.ones_like(d2))
    return tf.where(positive, tf.sqrt(safe), tf.zeros_like(d2))


def _triplet_terms(dist, matches, margin):
    """All (anchor, positive, negative) terms per part, padded to a rectangle.

    Columns of every anchor row are reordered so its positives come first; with
    ``k_max`` / ``k_min`` the largest / smallest number of positives of an anchor the
    terms tensor is ``[P, N, k_max, N - k_min]`` (exactly ``[P, N, K, N - K]`` for a
    P x K batch) with a mask for the padding.

    Returns:
        ``terms [P, T]`` (masked entries 0) and ``num_valid`` (valid triplets per part).
    """
    p = tf.shape(dist)[0]
    n = tf.shape(dist)[1]
    is_pos = tf.cast(matches, tf.int32)
    counts = tf.reduce_sum(is_pos, axis=1)  # [N] positives per anchor (self included)
    k_max = tf.reduce_max(counts)
    k_min = tf.reduce_min(counts)
    order = tf.argsort(-is_pos, axis=1, stable=True)  # positives first, [N, N]
    ordered = tf.gather(dist, tf.broadcast_to(order[None], tf.shape(dist)), axis=2, batch_dims=2)
    ap = ordered[:, :, :k_max]  # [P, N, k_max]
    an = ordered[:, :, k_min:]  # [P, N, N - k_min]
    pos_ok = tf.range(k_max)[None, :] < counts[:, None]  # [N, k_max]
    neg_ok = (k_min + tf.range(n - k_min))[None, :] >= counts[:, None]  # [N, N - k_min]
    valid = tf.cast(tf.logical_and(pos_ok[:, :, None], neg_ok[:, None, :]), tf.float32)
    terms = tf.nn.relu(ap[:, :, :, None] - an[:, :, None, :] + margin) * valid[None]
    return tf.reshape(terms, [p, -1]), tf.reduce_sum(valid)


def batch_all_triplet_loss(embeddings, labels, margin=0.2):
    """Batch-all triplet loss per part, averaged over the non-zero terms (OpenGait).

    Args:
        embeddings: ``[B, P, D]`` (or ``[B, D]``, treated as one part) float.
        labels: ``[B]`` integer identities.
        margin: triplet margin (Euclidean distance units).
    Returns:
        ``(loss, metrics)``: ``loss`` float32 scalar = mean over parts of
        ``sum(terms) / count(terms > 0)``; ``metrics`` = ``loss``, ``nonzero_fraction``
        (non-zero terms / valid triplets, over all parts), ``num_nonzero`` (per part,
        averaged over parts), ``mean_dist`` (mean pairwise distance, diagonal included,
        averaged over parts), ``hard_loss`` (largest term, averaged over parts).

    Memory: one ``[P, N, K, N-K]`` float32 tensor for a P x K batch of N = P*K samples
    (unbalanced batches are padded to the largest K).
    """
    emb = tf.cast(embeddings, tf.float32)
    if emb.shape.rank == 2:
        emb = emb[:, None, :]
    labels = tf.reshape(labels, [-1])
    emb = tf.transpose(emb, [1, 0, 2])  # [P, B, D]
    dist = pairwise_euclidean(emb)  # [P, B, B]
    matches = tf.equal(labels[:, None], labels[None, :])  # [B, B]
    margin = tf.constant(margin, tf.float32)
    n = tf.cast(tf.shape(dist)[1], tf.float32)
    terms, num_valid = _triplet_terms(dist, matches, margin)  # [P, T], scalar
    loss_sum = tf.reduce_sum(terms, axis=1)  # [P]
    num_nonzero = tf.reduce_sum(tf.cast(terms > 0.0, tf.float32), axis=1)  # [P]
    per_part = tf.math.divide_no_nan(loss_sum, num_nonzero)
    loss = tf.reduce_mean(per_part)
    metrics = {
        "loss": loss,
        "nonzero_fraction": tf.math.divide_no_nan(
            tf.reduce_mean(num_nonzero), num_valid
        ),
        "num_nonzero": tf.reduce_mean(num_nonzero),
        "mean_dist": tf.reduce_mean(tf.reduce_sum(dist, axis=[1, 2]) / (n * n)),
        "hard_loss": tf.reduce_mean(tf.reduce_max(tf.pad(terms, [[0, 0], [0, 1]]), axis=1)),
    }
    return loss, metrics


def cross_entropy_loss(logits, labels, label_smoothing=0.0, scale=1.0):
    """Softmax cross-entropy per part, averaged over samples and parts.

    Args:
        logits: ``[B, P, C]`` (or ``[B, C]``) float.
        labels: ``[B]`` integer class indices in ``[0, C)``.
        label_smoothing: ``eps``; the target is ``(1 - eps) * onehot + eps / C``.
        scale: logits are multiplied by ``scale`` first (OpenGait's ``scale``, 16 for GLN).
    Returns:
        ``(loss, metrics)`` with metrics ``loss`` and ``accuracy`` (per-part top-1 accuracy,
        averaged over samples and parts).
    """
    logits = tf.cast(logits, tf.float32) * scale
    if logits.shape.rank == 2:
        logits = logits[:, None, :]
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    num_classes = tf.shape(logits)[-1]
    target = tf.one_hot(labels, num_classes, dtype=tf.float32)[:, None, :]  # [B, 1, C]
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / tf.cast(num_classes, tf.float32)
    target = tf.broadcast_to(target, tf.shape(logits))
    per = tf.nn.softmax_cross_entropy_with_logits(labels=target, logits=logits)  # [B, P]
    loss = tf.reduce_mean(per)
    pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(pred, labels[:, None]), tf.float32))
    return loss, {"loss": loss, "accuracy": accuracy}


class TripletLoss:
    """Batch-all triplet loss term on ``outputs["embeddings"]`` (see :func:`batch_all_triplet_loss`)."""

    input_key = "embeddings"

    def __init__(self, margin=0.2):
        if not margin >= 0:
            raise ConfigError(f"triplet loss: margin must be >= 0, got {margin!r}")
        self.margin = float(margin)

    def __call__(self, outputs, labels):
        return batch_all_triplet_loss(outputs[self.input_key], labels, self.margin)

    def get_config(self):
        return {"type": "triplet", "margin": self.margin}


class CrossEntropyLoss:
    """Per-part cross-entropy term on ``outputs["logits"]`` (see :func:`cross_entropy_loss`)."""

    input_key = "logits"

    def __init__(self, label_smoothing=0.0, scale=1.0):
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"ce loss: label_smoothing must be in [0, 1), got {label_smoothing!r}")
        if not scale > 0:
            raise ConfigError(f"ce loss: scale must be > 0, got {scale!r}")
        self.label_smoothing = float(label_smoothing)
        self.scale = float(scale)

    def __call__(self, outputs, labels):
        return cross_entropy_loss(outputs[self.input_key], labels, self.label_smoothing, self.scale)

    def get_config(self):
        return {"type": "ce", "label_smoothing": self.label_smoothing, "scale": self.scale}


LOSS_TYPES = {
    "triplet": TripletLoss,
    "ce": CrossEntropyLoss,
    "cross_entropy": CrossEntropyLoss,
}


class CombinedLoss:
    """Weighted sum of loss terms: ``total = sum_i weight_i * loss_i``.

    ``terms`` is a list of ``(name, weight, loss)``. Calling it with the model's output
    dict and ``labels [B]`` returns ``(total, metrics)`` where metrics holds ``loss``
    (the total) and ``<name>/<metric>`` for every term's metrics.
    """

    def __init__(self, terms):
        if not terms:
            raise ConfigError("losses: at least one loss term is required")
        self.terms = list(terms)

    @property
    def required_outputs(self):
        return sorted({loss.input_key for _, _, loss in self.terms})

    def check_outputs(self, outputs):
        """Raise ConfigError if the model does not return what a loss term needs."""
        for name, _, loss in self.terms:
            if loss.input_key not in outputs:
                raise ConfigError(
                    f"losses: term {name!r} needs model output {loss.input_key!r}, "
                    f"but the model returns only {sorted(outputs)}"
                )

    def __call__(self, outputs, labels):
        total = tf.constant(0.0, tf.float32)
        metrics = {}
        for name, weight, loss in self.terms:
            value, term_metrics = loss(outputs, labels)
            total = total + weight * value
            for key, metric in term_metrics.items():
                metrics[f"{name}/{key}"] = metric
        metrics["loss"] = total
        return total, metrics

    def get_config(self):
        return [dict(loss.get_config(), weight=weight, name=name) for name, weight, loss in self.terms]


def build_loss(spec):
    """A :class:`CombinedLoss` from a list of dicts ``{type, weight, name?, **params}``.

    Raises :class:`ConfigError` naming the entry (``losses[i].key``) on unknown types or
    parameters.
    """
    if isinstance(spec, dict):
        spec = [spec]
    if not isinstance(spec, (list, tuple)) or not spec:
        raise ConfigError(f"losses: expected a non-empty list of loss terms, got {spec!r}")
    terms = []
    names = set()
    for i, entry in enumerate(spec):
        where = f"losses[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping, got {entry!r}")
        entry = dict(entry)
        kind = entry.pop("type", None)
        if kind not in LOSS_TYPES:
            raise ConfigError(f"{where}.type: unknown loss type {kind!r}; known: {sorted(LOSS_TYPES)}")
        weight = entry.pop("weight", 1.0)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0:
            raise ConfigError(f"{where}.weight: expected a number >= 0, got {weight!r}")
        cls = LOSS_TYPES[kind]
        name = entry.pop("name", None) or ("triplet" if cls is TripletLoss else "ce")
        if name in names:
            name = f"{name}{i}"
        names.add(name)
        allowed = set(cls.__init__.__code__.co_varnames[1 : cls.__init__.__code__.co_argcount])
        for key, value in entry.items():
            if key not in allowed:
                raise ConfigError(f"{where}.{key}: unknown parameter for {kind} loss; known: {sorted(allowed)}")
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
        terms.append((name, float(weight), cls(**entry)))
    return CombinedLoss(terms)
