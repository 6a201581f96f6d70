"""Training data and training loop of the learned segmenter; IoU metrics.

Training data are synthetic RGB walkers (:class:`gait_tf.synth.WalkerGenerator`) over
textured backgrounds that are static, moving (panning texture) or flickering, with the
generator's exact person masks as targets (:func:`synthetic_frames`). Subjects and
background seeds used for training are disjoint from the held-out ones used by
``scripts/segmentation_eval.py``.

:func:`toy_scene` draws a much cheaper stick-figure walker over a numpy texture; it is
used by the tests and as a quick demo input, never for the reported figures.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from gait_tf.errors import ConfigError

#: backgrounds of the synthetic training/eval sets
BACKGROUNDS = ("static", "moving", "flicker")


# ---------------------------------------------------------------------------------------
# metrics
def mask_iou(pred, true) -> float:
    """IoU of two ``bool [..., H, W]`` masks (over all pixels). Both empty -> 1.0."""
    pred = np.asarray(pred) > 0
    true = np.asarray(true) > 0
    union = np.logical_or(pred, true).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, true).sum() / union)


def per_frame_iou(pred, true) -> np.ndarray:
    """IoU of each frame: ``bool [T, H, W]`` x2 -> ``float [T]`` (frames where both are
    empty count 1.0)."""
    pred = np.asarray(pred) > 0
    true = np.asarray(true) > 0
    inter = np.logical_and(pred, true).reshape(len(pred), -1).sum(1)
    union = np.logical_or(pred, true).reshape(len(pred), -1).sum(1)
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


# ---------------------------------------------------------------------------------------
# toy scenes (tests / demos)
def _texture(rng, h, w, scale=8):
    """Smooth random colour texture ``uint8 [h, w, 3]``."""
    import cv2

    small = rng.uniform(40, 215, size=(max(2, h // scale), max(2, w // scale), 3)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    big += rng.normal(0, 6, size=big.shape).astype(np.float32)
    return np.clip(big, 0, 255).astype(np.uint8)


def toy_scene(n_frames=30, size=(96, 128), *, seed=0, background="static", people=1, speed=2.5,
              person_height=0.6, start=None, colors=None):
    """A cheap synthetic walking scene (stick-figure walkers over a texture).

    Args:
        n_frames: frames T.
        size: ``(H, W)``.
        seed: RNG seed (texture, clothing colours).
        background: ``"static"``, ``"moving"`` (texture pans 2 px/frame), ``"flicker"``
            (global brightness jitter), or ``"plain"`` (uniform grey).
        people: number of walkers (the first is the largest).
        speed: walking speed (px/frame); walkers alternate direction.
        person_height: height of the first walker as a fraction of H (others 60 %).
        start: x position of each walker at frame 0 (default: spread over the frame).
        colors: RGB colour per walker (default: random saturated colours).

    Returns:
        ``(rgb uint8 [T, H, W, 3], masks bool [T, H, W], ids int8 [T, H, W])`` where
        ``ids`` is the walker index + 1 at each pixel (0 = background).
    """
    import cv2

    if background not in BACKGROUNDS + ("plain",):
        raise ConfigError(f"unknown toy background {background!r}")
    rng = np.random.default_rng(seed)
    h, w = size
    pad = 2 * n_frames + 8
    tex = _texture(rng, h, w + pad) if background != "plain" else np.full((h, w + pad, 3), 128, np.uint8)
    rgb = np.zeros((n_frames, h, w, 3), np.uint8)
    ids = np.zeros((n_frames, h, w), np.int8)
    if start is None:
        start = [w * (0.15 + 0.6 * k / max(1, people)) for k in range(people)]
    if colors is None:
        colors = [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(people)]
    for t in range(n_frames):
        off = 2 * t if background == "moving" else 0
        frame = tex[:, off:off + w].astype(np.float32)
        if background == "flicker":
            frame *= 1.0 + 0.15 * np.sin(1.7 * t) * rng.uniform(0.5, 1.0)
        frame = np.clip(frame, 0, 255).astype(np.uint8)
        for k in range(people):
            ph = person_height * h * (1.0 if k == 0 else 0.6)
            direction = 1 if k % 2 == 0 else -1
            cx = start[k] + direction * speed * t
            foot = h * 0.92 if k == 0 else h * 0.75
            layer = np.zeros((h, w), np.uint8)
            head_r = max(2, int(ph * 0.08))
            hip = (int(cx), int(foot - ph * 0.48))
            neck = (int(cx), int(foot - ph * 0.82))
            cv2.circle(layer, (int(cx), int(foot - ph * 0.9)), head_r, 1, -1)
            cv2.line(layer, neck, hip, 1, max(2, int(ph * 0.14)))
            swing = 0.35 * np.sin(0.5 * t + k)
            thick = max(2, int(ph * 0.07))
            for sgn in (1, -1):
                foot_pt = (int(cx + sgn * swing * ph * 0.5), int(foot))
                arm_pt = (int(cx - sgn * swing * ph * 0.35), int(foot - ph * 0.5))
                cv2.line(layer, hip, foot_pt, 1, thick)
                cv2.line(layer, (neck[0], neck[1] + 2), arm_pt, 1, max(1, thick - 1))
            m = layer > 0
            frame[m] = colors[k]
            ids[t][m] = k + 1
        rgb[t] = frame
    return rgb, ids > 0, ids


# ---------------------------------------------------------------------------------------
# synthetic walker data
def synthetic_frames(subjects, *, seed=0, image_size=(96, 128), views=(0, 54, 90, 126, 180),
                     conditions=("nm-01",), backgrounds=BACKGROUNDS, n_frames=16, frame_step=1,
                     render_size=None):
    """Frames and person masks of synthetic walkers, for training or evaluating a segmenter.

    Args:
        subjects: subject numbers (ints) of :class:`gait_tf.synth.WalkerGenerator`.
        seed: generator seed (a different seed gives different bodies/backgrounds).
        image_size: ``(H, W)`` of the returned frames.
        views: view angles (degrees); one sequence per subject is rendered for each
            ``(view, background)`` pair, cycling through ``conditions``.
        backgrounds: background kinds passed to ``WalkerGenerator.sequence``.
        n_frames: frames per sequence.
        frame_step: keep every ``frame_step``-th frame of a sequence.
        render_size: ``(H, W)`` the generator renders at (default ``image_size``); frames
            are resized to ``image_size`` (area) and masks (area coverage >= 50 %).

    Returns:
        ``(rgb uint8 [N, H, W, 3], masks bool [N, H, W], meta list[dict])``.
    """
    import cv2

    from gait_tf.synth import WalkerGenerator

    render_size = tuple(render_size or image_size)
    gen = WalkerGenerator(seed=seed, image_size=render_size)
    h, w = image_size
    xs, ys, meta = [], [], []
    k = 0
    for s in subjects:
        for view in views:
            for bg in backgrounds:
                cond = conditions[k % len(conditions)]
                k += 1
                seq = gen.sequence(int(s), cond, int(view), n_frames=n_frames, background=bg)
                for t in range(0, len(seq.rgb), frame_step):
                    img, m = seq.rgb[t], np.asarray(seq.masks[t], bool)
                    if render_size != tuple(image_size):
                        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
                        m = cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) >= 0.5
                    xs.append(img)
                    ys.append(m)
                    meta.append({"subject": int(s), "view": int(view), "background": bg, "condition": cond,
                                 "t": t})
    return np.stack(xs), np.stack(ys), meta


# ---------------------------------------------------------------------------------------
# training
@dataclasses.dataclass
class TrainResult:
    model: object
    history: dict
    seconds: float


def _augment(x, y, rng, strength=0.5):
    """Photometric and codec augmentation of a batch (numpy): horizontal flip, brightness /
    contrast jitter, and - so that the network does not learn the renderer's crisp look -
    Gaussian blur, sensor noise and JPEG re-encoding at quality 25-90, like frames decoded
    from a compressed video, each applied to ``0.6 * strength`` / ``0.6 * strength`` /
    ``0.8 * strength`` of the samples."""
    import cv2

    flip = rng.random(len(x)) < 0.5
    x = x.copy()
    y = y.copy()
    x[flip] = x[flip, :, ::-1]
    y[flip] = y[flip, :, ::-1]
    for i in range(len(x)):
        img = x[i]
        if rng.random() < 0.6 * strength:
            img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.4, 1.2)))
        if rng.random() < 0.6 * strength:
            img = np.clip(img + rng.normal(0, rng.uniform(2, 8), img.shape), 0, 255).astype(np.uint8)
        if rng.random() < 0.8 * strength:
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 91))])
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        x[i] = img
    gain = rng.uniform(0.8, 1.2, size=(len(x), 1, 1, 1)).astype(np.float32)
    bias = rng.uniform(-20, 20, size=(len(x), 1, 1, 1)).astype(np.float32)
    x = np.clip(x.astype(np.float32) * gain + bias, 0, 255)
    return x, y


def _crops(rgb, masks, idx, crop, rng, person_frac=0.8, jitter=0.25):
    """Random ``crop = (h, w)`` windows of frames ``idx``; with probability ``person_frac``
    the window is centred on the person (± ``jitter`` of the window size), else anywhere."""
    ch, cw = crop
    n, h, w = masks.shape
    xs = np.empty((len(idx), ch, cw, 3), np.uint8)
    ys = np.empty((len(idx), ch, cw), bool)
    for k, i in enumerate(idx):
        m = masks[i]
        if rng.random() < person_frac and m.any():
            yy, xx = np.nonzero(m)
            cy = yy.mean() + rng.uniform(-jitter, jitter) * ch
            cx = xx.mean() + rng.uniform(-jitter, jitter) * cw
        else:
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        y0 = int(np.clip(round(cy - ch / 2), 0, h - ch))
        x0 = int(np.clip(round(cx - cw / 2), 0, w - cw))
        xs[k] = rgb[i, y0:y0 + ch, x0:x0 + cw]
        ys[k] = m[y0:y0 + ch, x0:x0 + cw]
    return xs, ys


def train_segmenter(rgb, masks, *, model=None, filters=8, depth=3, epochs=10, batch_size=16, crop=None,
                    steps_per_epoch=None, learning_rate=3e-3, seed=0, augment=0.5, val=None,
                    verbose=0) -> TrainResult:
    """Train a U-Net on ``rgb uint8 [N, H, W, 3]`` / ``masks bool [N, H, W]``.

    Loss: binary cross-entropy + soft Dice (``1 - 2|P.Y| / (|P| + |Y|)``), Adam with a
    cosine-decayed learning rate.

    Args:
        model: continue training this model (default: a new fully convolutional
            ``build_unet((None, None), filters, depth)``).
        crop: train on ``(h, w)`` windows (multiples of ``2**depth``), 80 % of them
            around the person: far cheaper than whole frames, where the person is a few
            percent of the pixels. None = whole frames.
        steps_per_epoch: batches per epoch (default ``N // batch_size``).
        augment: strength of the blur / noise / JPEG augmentation in [0, 1] (flips and
            brightness jitter always on); False = no augmentation at all.
        val: optional ``(rgb, masks)`` of whole frames whose mean IoU is recorded after
            every epoch.

    Returns:
        :class:`TrainResult` with the model, ``history`` (loss per epoch, val IoU) and
        the wall time in seconds.
    """
    import keras
    import tensorflow as tf

    from gait_tf.segmentation.unet import build_unet

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    rgb = np.asarray(rgb, np.uint8)
    y_all = np.asarray(masks, bool)
    n = len(rgb)
    if model is None:
        model = build_unet((None, None), filters=filters, depth=depth)
    steps = int(steps_per_epoch or max(1, n // batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps, alpha=0.05)
    opt = keras.optimizers.Adam(schedule)
    bce = keras.losses.BinaryCrossentropy()

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            p = model(x, training=True)
            inter = tf.reduce_sum(p * y, axis=[1, 2, 3])
            dice = 1.0 - (2.0 * inter + 1.0) / (tf.reduce_sum(p, axis=[1, 2, 3]) + tf.reduce_sum(y, axis=[1, 2, 3]) + 1.0)
            loss = bce(y, p) + tf.reduce_mean(dice)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    history = {"loss": [], "val_iou": []}
    t0 = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(max(n, steps * batch_size)) % n
        losses = []
        for b in range(steps):
            idx = order[b * batch_size:(b + 1) * batch_size]
            x, y = _crops(rgb, y_all, idx, crop, rng) if crop else (rgb[idx], y_all[idx])
            if augment:
                x, y = _augment(x, y, rng, float(augment))
            losses.append(float(step(tf.constant(x, tf.float32), tf.constant(y[..., None], tf.float32))))
        history["loss"].append(float(np.mean(losses)))
        if val is not None:
            from gait_tf.segmentation.unet import UNetSegmenter

            seg = UNetSegmenter(model, input_hw=val[0].shape[1:3],
                                clean={"open_size": 0, "close_size": 0, "min_blob": 0, "max_hole_frac": 0})
            pred = seg.predict_proba(val[0]) > 0.5
            history["val_iou"].append(float(per_frame_iou(pred, val[1]).mean()))
        if verbose:
            msg = f"epoch {epoch + 1}/{epochs} loss {history['loss'][-1]:.4f}"
            if history["val_iou"]:
                msg += f" val IoU {history['val_iou'][-1]:.4f}"
            print(msg, flush=True)
    return TrainResult(model=model, history=history, seconds=time.perf_counter() - t0)
