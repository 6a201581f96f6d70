"""COCO-17 keypoints -> SkeletonGait's skeleton maps (limb map + joint map), in pure TensorFlow.

A re-implementation of SkeletonGait's heatmap pretreatment (OpenGait
``datasets/pretreatment_heatmap.py`` with ``configs/skeletongait/pretreatment_heatmap.yaml``),
usable inside ``tf.data`` pipelines, Keras models and serving graphs (no Python per frame):

1. **Missing joints** (``pad_missing``): a coordinate equal to 0 counts as missing and is
   filled from the 4 nearest frames of the same sequence (nan-Euclidean distance over the
   coordinates both frames have, inverse-distance weights; an exact match takes all the
   weight) — scikit-learn's ``KNNImputer(missing_values=0, n_neighbors=4,
   weights="distance")`` over the ``[T, 34]`` coordinates, as the reference. If some
   coordinate is missing in *every* frame the sequence is left as it is (the reference's
   fallback). Confidence scores are not changed, so filled joints with score 0 are not drawn.
2. **Centring and scale**: per frame, the hip centre (mean of joints 11 and 12) moves to the
   canvas centre and the joints' vertical extent is scaled to ``canvas // 1.5`` pixels
   (85 on the 128-pixel canvas).
3. **Drawing** on a ``canvas x canvas`` grid (pixel centres at integer coordinates), with
   ``sigma`` = 8: the *joint map* is the maximum over the 17 joints of
   ``score * exp(-d^2 / 2 sigma^2)``; the *limb map* the maximum over the 17 COCO limbs of
   ``min(score_a, score_b) * exp(-d^2 / 2 sigma^2)`` with ``d`` the distance to the segment
   (limbs shorter than 1 pixel are drawn as joint ``a`` with its own score). Each Gaussian is
   cut to the reference's window (``[int(lo - 3 sigma), int(hi + 3 sigma)]``, truncation
   towards zero); scores below 1e-3 draw nothing.
4. **Quantisation**: each map goes through matplotlib's 256-level gray colormap to uint8
   (level ``floor(256 v)``, the colormap's lookup table times 255, truncated).
5. **Alignment**: per map and frame, the rows from the first to the last non-zero row
   (``height`` rows) and the ``2 * (height // 2) + 1`` columns around the canvas centre are
   cut out and resized to ``size x size`` with OpenCV's ``INTER_AREA`` weights (area
   averaging when shrinking, its linear rule when enlarging), then truncated to uint8.
6. **Model input**: ``/ 255`` and ``cut`` columns dropped on each side (OpenGait's
   ``BaseSilCuttingTransform``): ``[size, size - 2 * cut]`` = 64 x 44.

Output channel 0 is the limb ("bone") map and channel 1 the joint map, OpenGait's order.
Parity with the reference (scikit-learn + matplotlib + OpenCV): identical uint8 maps except
for rare one-level differences where a value falls on a quantisation boundary
(``tests/test_skeleton.py``). Units: keypoints in pixels of any image; scores in [0, 1].

Functions: :func:`skeleton_maps` (``[T, 17, 3] -> [T, 64, 44, 2]``),
:func:`skeleton_maps_batch` (``[B, T, 17, 3] -> [B, T, 64, 44, 2]``),
:func:`skeleton_maps_uint8` (OpenGait's stored ``uint8 [T, 2, 64, 64]``), and the two halves
:func:`canvas_keypoints` (per sequence) and :func:`render_canvas_keypoints` (per frame) for
bulk rendering; the Keras layer
:class:`gait_tf.models.skeletongait.SkeletonMaps` wraps the batch version for models and
serving signatures.
"""
from __future__ import annotations

import numpy as np

#: COCO-17 keypoints, in order
COCO17_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                "right_knee", "left_ankle", "right_ankle")
#: the 17 limbs of SkeletonGait's limb map (the reference generator's COCO skeleton)
COCO17_LIMBS = ((0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10), (5, 11),
                (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12))
#: matplotlib's gray colormap as uint8 levels: ``uint8(linspace(0, 1, 256) * 255)`` (24 of
#: the 256 levels are one below their index)
GRAY_LUT = (np.linspace(0.0, 1.0, 256) * 255).astype(np.uint8)

DEFAULTS = {"sigma": 8.0, "canvas": 128, "size": 64, "cut": 10, "pad_missing": True, "use_score": True}
_EPS = 1e-3  # scores below this draw nothing
_KNN = 4


def _tf():
    import tensorflow as tf

    return tf


# --------------------------------------------------------------------------- 1. missing joints


def pad_missing_keypoints(xy, n_neighbors=_KNN):
    """KNN imputation of missing (== 0) coordinates, per sequence.

    Args:
        xy: float64 ``[B, T, F]`` coordinates (``F = 34``: x0, y0, x1, y1, ...).
    Returns:
        float64 ``[B, T, F]``: missing entries filled as scikit-learn's
        ``KNNImputer(missing_values=0, n_neighbors, weights="distance")`` fills them; sequences
        with a coordinate missing in every frame unchanged.
    """
    tf = _tf()
    x = tf.convert_to_tensor(xy, tf.float64)
    f = tf.cast(tf.shape(x)[-1], tf.float64)
    missing = tf.equal(x, 0.0)
    present = tf.cast(tf.logical_not(missing), tf.float64)
    # nan-Euclidean distances between frames (X is 0 where missing): [B, T, T]
    sq = x * x
    d2 = (tf.matmul(sq, present, transpose_b=True) + tf.matmul(present, sq, transpose_b=True)
          - 2.0 * tf.matmul(x, x, transpose_b=True))
    d2 = tf.maximum(d2, 0.0)
    common = tf.matmul(present, present, transpose_b=True)
    dist = tf.sqrt(d2 / tf.maximum(common, 1.0) * f)
    defined = common > 0.0
    big = tf.constant(1e300, tf.float64)  # undefined (no common coordinate): sorted after defined
    dist = tf.where(defined, dist, big)
    # per coordinate: donors are the frames where it is present (others excluded with +inf)
    donor = tf.transpose(present, [0, 2, 1])[:, :, None, :] > 0.0  # [B, F, 1, T(s)]
    dist_f = tf.where(donor, dist[:, None, :, :], tf.constant(np.inf, tf.float64))  # [B, F, T(t), T(s)]
    k = tf.minimum(n_neighbors, tf.shape(x)[1])
    neg, idx = tf.math.top_k(-dist_f, k=k)  # the k nearest donors (ties: lowest frame index)
    d = -neg
    chosen = tf.math.is_finite(d) & (d < big)  # a donor with a defined distance
    zero = chosen & tf.equal(d, 0.0)
    any_zero = tf.reduce_any(zero, axis=-1, keepdims=True)
    one = tf.ones_like(d)
    w = tf.where(chosen, one / tf.where(chosen & (d > 0.0), d, one), tf.zeros_like(d))
    w = tf.where(any_zero, tf.cast(zero, tf.float64), w)
    values = tf.gather(tf.transpose(x, [0, 2, 1]), idx, batch_dims=2)  # [B, F, T, k]
    wsum = tf.reduce_sum(w, axis=-1)
    knn = tf.reduce_sum(w * values, axis=-1) / tf.where(wsum > 0.0, wsum, tf.ones_like(wsum))  # [B, F, T]
    # receivers whose donors all have undefined distances get the coordinate's mean
    col_mean = tf.reduce_sum(x, axis=1) / tf.maximum(tf.reduce_sum(present, axis=1), 1.0)  # [B, F]
    fill = tf.where(wsum > 0.0, knn, col_mean[:, :, None])
    fill = tf.transpose(fill, [0, 2, 1])  # [B, T, F]
    every_coordinate_seen = tf.reduce_all(tf.reduce_any(present > 0.0, axis=1), axis=-1)  # [B]
    use = missing & every_coordinate_seen[:, None, None]
    return tf.where(use, fill, x)


# --------------------------------------------------------------------------- 2. centring / scale


def normalise_keypoints(xy, canvas=128):
    """Hip-centred, height-normalised coordinates: ``[..., 17, 2]`` (pixels) -> canvas pixels.

    Frames whose joints have no vertical extent (all at one height) become non-finite and
    draw nothing.
    """
    tf = _tf()
    hip = (xy[..., 11, :] + xy[..., 12, :]) / 2.0
    xy = xy - hip[..., None, :]
    y = xy[..., 1]
    span = tf.reduce_max(y, axis=-1) - tf.reduce_min(y, axis=-1)
    scale = (canvas // 1.5) / span
    return xy * scale[..., None, None] + float(canvas // 2)


# --------------------------------------------------------------------------- 3. drawing


def _trunc(v):
    """``int(v)`` (towards zero) as float, safe for huge or non-finite values."""
    tf = _tf()
    v = tf.where(tf.math.is_finite(v), v, tf.zeros_like(v) - 1e6)
    return tf.cast(tf.cast(tf.clip_by_value(v, -1e6, 1e6), tf.int32), v.dtype)


def _in_window(grid, lo, hi, sigma):
    """Pixels ``grid`` inside ``[int(lo - 3 sigma), int(hi + 3 sigma)]`` (lo, hi: ``[N]``)."""
    return (grid >= _trunc(lo - 3.0 * sigma)[:, None]) & (grid <= _trunc(hi + 3.0 * sigma)[:, None])


def _joint_patch(xs, ys, centre, value, sigma):
    """``value * exp(-d^2 / 2 sigma^2)`` in the joint's window: ``[N, H, W]`` (centre ``[N, 2]``)."""
    tf = _tf()
    cx, cy = centre[:, 0], centre[:, 1]
    gx = tf.exp(-tf.square(xs[None, :] - cx[:, None]) / (2.0 * sigma**2))
    gy = tf.exp(-tf.square(ys[None, :] - cy[:, None]) / (2.0 * sigma**2))
    gx = tf.where(_in_window(xs[None, :], cx, cx, sigma), gx, tf.zeros_like(gx))
    gy = tf.where(_in_window(ys[None, :], cy, cy, sigma), gy, tf.zeros_like(gy))
    patch = gy[:, :, None] * gx[:, None, :] * value[:, None, None]
    return tf.where((value >= _EPS)[:, None, None], patch, tf.zeros_like(patch))


def _limb_patch(xs, ys, a, b, va, vb, sigma):
    """One limb (segment a-b) for every frame: ``[N, H, W]``."""
    tf = _tf()
    value = tf.minimum(va, vb)
    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    X = xs[None, None, :]
    Y = ys[None, :, None]
    e = lambda v: v[:, None, None]  # noqa: E731
    d2a = tf.square(X - e(ax)) + tf.square(Y - e(ay))
    d2b = tf.square(X - e(bx)) + tf.square(Y - e(by))
    d2ab = tf.square(ax - bx) + tf.square(ay - by)
    safe = tf.where(d2ab < 1.0, tf.ones_like(d2ab), d2ab)
    coeff = (d2a - d2b + e(d2ab)) / 2.0 / e(safe)
    px = e(ax) + coeff * e(bx - ax)
    py = e(ay) + coeff * e(by - ay)
    d2line = tf.square(X - px) + tf.square(Y - py)
    d2 = tf.where(coeff <= 0.0, d2a, tf.where(coeff >= 1.0, d2b, d2line))
    patch = tf.exp(-d2 / (2.0 * sigma**2)) * e(value)
    wx = _in_window(xs[None, :], tf.minimum(ax, bx), tf.maximum(ax, bx), sigma)
    wy = _in_window(ys[None, :], tf.minimum(ay, by), tf.maximum(ay, by), sigma)
    patch = tf.where(wy[:, :, None] & wx[:, None, :], patch, tf.zeros_like(patch))
    short = _joint_patch(xs, ys, a, va, sigma)  # limbs shorter than 1 px: joint a, its own score
    patch = tf.where(e(d2ab < 1.0), short, patch)
    return tf.where(e(value >= _EPS), patch, tf.zeros_like(patch))


def draw_maps(xy, score, sigma=8.0, canvas=128):
    """Limb and joint maps on the canvas: ``xy`` ``[N, 17, 2]`` canvas pixels, ``score`` ``[N, 17]``
    -> ``(limbs, joints)`` float32 ``[N, canvas, canvas]`` (maxima over limbs / joints).

    One loop step per joint / limb (a graph ``while`` loop, so the graph stays small)."""
    tf = _tf()
    xy = tf.cast(xy, tf.float32)
    score = tf.cast(score, tf.float32)
    grid = tf.range(canvas, dtype=tf.float32)
    n = tf.shape(xy)[0]
    zeros = tf.zeros([n, canvas, canvas], tf.float32)
    pts = tf.transpose(xy, [1, 0, 2])  # [17, N, 2]
    val = tf.transpose(score)  # [17, N]

    def joint(acc, j):
        return tf.maximum(acc, _joint_patch(grid, grid, pts[j], val[j], sigma))

    ends = tf.constant(np.asarray(COCO17_LIMBS, np.int32))

    def limb(acc, j):
        a, b = ends[j, 0], ends[j, 1]
        return tf.maximum(acc, _limb_patch(grid, grid, pts[a], pts[b], val[a], val[b], sigma))

    joints = tf.foldl(joint, tf.range(17), initializer=zeros)
    limbs = tf.foldl(limb, tf.range(len(COCO17_LIMBS)), initializer=zeros)
    return limbs, joints


# --------------------------------------------------------------------------- 4-5. quantise, align


def quantise(maps):
    """Float maps in [0, 1] -> matplotlib gray-colormap uint8 levels (as float64)."""
    tf = _tf()
    level = tf.clip_by_value(tf.floor(maps * 256.0), 0.0, 255.0)
    lut = tf.constant(GRAY_LUT.astype(np.float64))
    return tf.gather(lut, tf.cast(level, tf.int32))


def _resize_weights(start, length, dst, canvas):
    """OpenCV ``INTER_AREA`` weights mapping the source interval ``[start, start + length)`` of a
    ``canvas``-long axis onto ``dst`` pixels: ``[N, dst, canvas]`` float64 (float32-rounded
    coefficients, as OpenCV stores them)."""
    tf = _tf()
    length = tf.cast(length, tf.float64)[:, None, None]
    start = tf.cast(start, tf.float64)[:, None, None]
    d = tf.range(dst, dtype=tf.float64)[None, :, None]
    u = tf.range(canvas, dtype=tf.float64)[None, None, :] - start  # source pixel, crop coordinates
    inside = (u >= 0.0) & (u < length)
    inv = float(dst) / length
    scale = 1.0 / inv
    # shrinking: area averaging (computeResizeAreaTab)
    fs1 = d * scale
    fs2 = fs1 + scale
    cell = tf.minimum(scale, length - fs1)
    overlap = tf.maximum(tf.minimum(u + 1.0, fs2) - tf.maximum(u, fs1), 0.0)
    zero = tf.zeros_like(overlap)
    area = tf.where(overlap > 1e-3, overlap / cell, zero)
    # enlarging: OpenCV's linear rule for INTER_AREA
    sx = tf.floor(d * scale)
    fx = tf.cast(tf.cast((d + 1.0) - (sx + 1.0) * inv, tf.float32), tf.float64)
    fx = tf.where(fx <= 0.0, tf.zeros_like(fx), fx - tf.floor(fx))
    last = sx >= length - 1.0
    fx = tf.where(last, tf.zeros_like(fx), fx)
    sx = tf.where(last, tf.broadcast_to(length - 1.0, tf.shape(sx)), sx)
    linear = tf.where(tf.equal(u, sx), 1.0 - fx, zero) + tf.where(tf.equal(u, sx + 1.0), fx, zero)
    w = tf.where(length >= float(dst), area, linear)
    w = tf.cast(tf.cast(w, tf.float32), tf.float64)
    return tf.where(inside, w, tf.zeros_like(w))


def align(levels, size=64):
    """OpenGait's ``HeatmapAlignment``: ``[N, canvas, canvas]`` uint8 levels (float) -> uint8
    levels ``[N, size, size]`` (float64)."""
    tf = _tf()
    canvas = levels.shape[-1]
    img = levels / 255.0
    rows = tf.reduce_sum(img, axis=2) != 0.0  # [N, canvas]
    any_row = tf.reduce_any(rows, axis=1)
    top = tf.argmax(tf.cast(rows, tf.int32), axis=1, output_type=tf.int32)
    last = canvas - 1 - tf.argmax(tf.cast(rows[:, ::-1], tf.int32), axis=1, output_type=tf.int32)
    btm = tf.where(any_row, last, tf.zeros_like(last))
    top = tf.where(any_row, top, tf.zeros_like(top))
    height = btm - top + 1
    c0 = canvas // 2 - height // 2
    c1 = tf.minimum(canvas // 2 + height // 2 + 1, canvas)
    ry = _resize_weights(top, height, size, canvas)  # [N, size, canvas]
    rx = _resize_weights(c0, c1 - c0, size, canvas)
    # horizontal pass first, then vertical (OpenCV's order): [N, size(y), size(x)]
    out = tf.matmul(ry, tf.matmul(img, rx, transpose_b=True))
    if canvas == 2 * size:
        # a full-canvas crop is an exact 2x shrink: OpenCV's integer-scale path sums each 2x2
        # block row by row, ((a + b) + c) + d, times 0.25 (the rounding matters on plateaus)
        q = tf.reshape(img, [-1, size, 2, size, 2])
        fast = (((q[:, :, 0, :, 0] + q[:, :, 0, :, 1]) + q[:, :, 1, :, 0]) + q[:, :, 1, :, 1]) * 0.25
        full = (height == canvas) & (c1 - c0 == canvas)
        out = tf.where(full[:, None, None], fast, out)
    return tf.clip_by_value(tf.floor(out * 255.0), 0.0, 255.0)


# --------------------------------------------------------------------------- public API


def _check_keypoints(kp):
    tf = _tf()
    kp = tf.convert_to_tensor(kp)
    if kp.dtype not in (tf.float16, tf.float32, tf.float64):
        kp = tf.cast(kp, tf.float32)
    if kp.shape.rank is not None and (kp.shape.rank != 4 or (kp.shape[-1] is not None and kp.shape[-1] != 3)
                                      or (kp.shape[-2] is not None and kp.shape[-2] != 17)):
        raise ValueError(f"keypoints must be [batch, frames, 17, 3] (x, y, score), got shape {kp.shape}")
    return tf.cast(kp, tf.float64)


def canvas_keypoints(keypoints, canvas=128, pad_missing=True, use_score=True):
    """Steps 1-2 per sequence: ``[B, T, 17, 3]`` keypoints -> ``[B, T, 17, 3]`` (x, y on the
    canvas, drawing amplitude: the score, or 1 without ``use_score``)."""
    tf = _tf()
    kp = _check_keypoints(keypoints)
    shape = tf.shape(kp)
    b, t = shape[0], shape[1]
    xy = tf.reshape(kp[..., :2], [b, t, 34])
    if pad_missing:
        xy = pad_missing_keypoints(xy)
    xy = normalise_keypoints(tf.reshape(xy, [b, t, 17, 2]), canvas)
    score = kp[..., 2] if use_score else tf.ones_like(kp[..., 2])
    return tf.concat([xy, score[..., None]], axis=-1)


def render_canvas_keypoints(points, sigma=8.0, canvas=128, size=64):
    """Steps 3-5 per frame: ``[N, 17, 3]`` canvas keypoints (x, y, amplitude) -> uint8 levels
    (float64) ``[N, size, size, 2]`` (limb map, joint map). Frames are independent, so any
    batch of frames works (e.g. fixed-size chunks under XLA)."""
    tf = _tf()
    limbs, joints = draw_maps(points[..., :2], points[..., 2], sigma, canvas)
    return tf.stack([align(quantise(m), size) for m in (limbs, joints)], axis=-1)


def skeleton_maps_levels(keypoints, sigma=8.0, canvas=128, size=64, pad_missing=True, use_score=True):
    """``[B, T, 17, 3]`` keypoints -> uint8 levels (float64) ``[B, T, size, size, 2]`` (limbs, joints)."""
    tf = _tf()
    pts = canvas_keypoints(keypoints, canvas, pad_missing, use_score)
    shape = tf.shape(pts)
    out = render_canvas_keypoints(tf.reshape(pts, [-1, 17, 3]), sigma, canvas, size)
    return tf.reshape(out, [shape[0], shape[1], size, size, 2])


def skeleton_maps_batch(keypoints, sigma=8.0, canvas=128, size=64, cut=10, pad_missing=True, use_score=True):
    """The model input: ``[B, T, 17, 3]`` keypoints (x, y pixels, score) -> float32
    ``[B, T, size, size - 2 * cut, 2]`` in [0, 1] (limb map, joint map)."""
    tf = _tf()
    levels = skeleton_maps_levels(keypoints, sigma, canvas, size, pad_missing, use_score)
    if cut:
        levels = levels[:, :, :, cut:size - cut]
    return tf.cast(levels / 255.0, tf.float32)


def skeleton_maps(keypoints, **kwargs):
    """One sequence: ``[T, 17, 3]`` -> float32 ``[T, 64, 44, 2]`` (see :func:`skeleton_maps_batch`)."""
    tf = _tf()
    return skeleton_maps_batch(tf.convert_to_tensor(keypoints)[None], **kwargs)[0]


def skeleton_maps_uint8(keypoints, **kwargs):
    """OpenGait's stored format of one sequence: ``[T, 17, 3]`` -> uint8 ``[T, 2, 64, 64]`` (numpy)."""
    tf = _tf()
    levels = skeleton_maps_levels(tf.convert_to_tensor(keypoints)[None], **kwargs)[0]
    return np.transpose(levels.numpy().astype(np.uint8), (0, 3, 1, 2))
