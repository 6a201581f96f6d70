"""Drawing estimated skeletons over images (Pillow)."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# the original's bones (i, i+1) for i < 15 except 5 and 9, plus pelvis-hips and thorax-shoulders
BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (10, 11), (11, 12), (12, 13),
         (13, 14), (14, 15), (2, 6), (3, 6), (7, 12), (7, 13))
# right side red, left side magenta, trunk green, head cyan (as the original's colours)
_COLORS = {"right": (230, 40, 40), "left": (220, 40, 220), "trunk": (40, 200, 40), "head": (40, 200, 220)}
_SIDE = ["right"] * 3 + ["left"] * 3 + ["trunk"] * 2 + ["head"] * 2 + ["right"] * 3 + ["left"] * 3


def draw_skeleton(image, ys, xs, probs=None, threshold=0.0, width=None) -> np.ndarray:
    """Draw joints ``(ys, xs)`` (``[16]`` pixels) over ``image`` (uint8 ``[H, W, 3]``).

    Bones whose two joints have ``probs >= threshold`` are drawn. Returns a new uint8 image.
    """
    img = Image.fromarray(np.asarray(image, np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(img)
    w = width or max(2, round(min(img.size) / 80))
    probs = np.ones(16) if probs is None else np.asarray(probs)
    for a, b in BONES:
        if probs[a] >= threshold and probs[b] >= threshold:
            color = _COLORS[_SIDE[a] if _SIDE[a] == _SIDE[b] else "trunk"]
            draw.line([(float(xs[a]), float(ys[a])), (float(xs[b]), float(ys[b]))], fill=color, width=w)
    r = w
    for j in range(16):
        if probs[j] >= threshold:
            x, y = float(xs[j]), float(ys[j])
            draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 0), outline=(0, 0, 0))
    return np.asarray(img)


def draw_people(image, people, threshold=0.5, labels=True) -> np.ndarray:
    """Draw every person of :meth:`BlazePoseNetwork.estimate_people` over ``image``: the
    16-joint skeleton (as :func:`draw_skeleton`), and with ``labels`` each drawn joint's
    name and probability, and the person's number and score. Returns a new uint8 image."""
    from gait_tf.pose.keypoints import MPII_NAMES

    out = np.asarray(image, np.uint8)
    for k, p in enumerate(people, 1):
        out = draw_skeleton(out, p.mpii[:, 1], p.mpii[:, 0], p.mpii[:, 2], threshold=threshold)
    if not labels:
        return out
    img = Image.fromarray(out)
    draw = ImageDraw.Draw(img)
    size = max(9, round(min(img.size) / 60))
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow < 10.1
        font = ImageFont.load_default()
    for k, p in enumerate(people, 1):
        x0, y0 = float(p.box[0]), float(p.box[1])
        draw.text((x0, max(0.0, y0 - 2.2 * size)), f"person {k} ({p.score:.2f})", fill=(255, 255, 255), font=font,
                  stroke_width=2, stroke_fill=(0, 0, 0))
        for name, (x, y, prob) in zip(MPII_NAMES, p.mpii):
            if prob >= threshold:
                draw.text((float(x) + 4, float(y) - size / 2), f"{name} {prob:.2f}", fill=(255, 255, 0), font=font,
                          stroke_width=1, stroke_fill=(0, 0, 0))
    return np.asarray(img)
