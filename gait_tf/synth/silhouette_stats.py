"""Simple shape statistics of pretreated silhouettes, to compare real front-end output,
clean synthetic walkers and synthetic walkers through the front-end error model.

Every statistic is computed on pretreated ``uint8 [T, 64, 64]`` sequences (foreground =
grey level >= 128), per frame, then averaged over all frames of all sequences (``iou``
over consecutive pairs of frames):

=============  ==================================================================
``width``      bounding-box width / height
``fill``       foreground pixels / bounding-box area
``rough``      boundary roughness: contour length over the contour length of the
               mask smoothed by a Gaussian (sd 1.5 px) and re-thresholded, minus 1
``head`` ...   mean row width (foreground px / 64) in height bands of the box:
``feet``       head 0-13 %, torso 13-50 %, thigh 50-75 %, shank 75-92 %, feet 92-100 %
``arm_gap``    rows 20-50 % with more than one run of foreground (an arm apart from
               the torso), fraction
``leg_gap``    rows 60-95 % with more than one run (the legs apart), fraction
``holes``      frames with a hole of >= 2 px inside the mask, fraction
``parts``      frames with more than one connected part (>= 3 px), fraction
``iou``        intersection over union of consecutive frames (temporal stability)
=============  ==================================================================
"""
from __future__ import annotations

import cv2
import numpy as np

STATS = ("width", "fill", "rough", "head", "torso", "thigh", "shank", "feet", "arm_gap", "leg_gap",
         "holes", "parts", "iou")
BANDS = {"head": (0.0, 0.13), "torso": (0.13, 0.50), "thigh": (0.50, 0.75), "shank": (0.75, 0.92),
         "feet": (0.92, 1.0)}


def _runs_per_row(m):
    d = np.diff(m.astype(np.int8), axis=1, prepend=0)
    return (d == 1).sum(1)


def frame_stats(frame) -> dict | None:
    """Statistics of one pretreated frame ``uint8 [64, 64]`` (None when empty)."""
    m = np.asarray(frame) >= 128
    ys, xs = np.nonzero(m)
    if len(ys) < 10:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    h, w = y1 - y0, x1 - x0
    box = m[y0:y1, x0:x1]
    out = {"width": w / h, "fill": float(box.sum()) / (h * w)}
    u8 = m.astype(np.uint8)
    pad = np.pad(u8, 4)
    contours, hier = cv2.findContours(pad, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    per = sum(cv2.arcLength(c, True) for c, hh in zip(contours, hier[0]) if hh[3] < 0)
    smooth = (cv2.GaussianBlur(pad.astype(np.float32), (0, 0), 1.5) >= 0.5).astype(np.uint8)
    cs, _ = cv2.findContours(smooth, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    per_s = sum(cv2.arcLength(c, True) for c in cs)
    out["rough"] = per / max(per_s, 1.0) - 1.0
    rows = box.sum(1) / 64.0
    for name, (a, b) in BANDS.items():
        r0, r1 = int(round(a * h)), max(int(round(a * h)) + 1, int(round(b * h)))
        out[name] = float(rows[r0:r1].mean())
    runs = _runs_per_row(box)
    ra, rb = int(0.2 * h), max(int(0.2 * h) + 1, int(0.5 * h))
    out["arm_gap"] = float((runs[ra:rb] > 1).mean())
    la, lb = int(0.6 * h), max(int(0.6 * h) + 1, int(0.95 * h))
    out["leg_gap"] = float((runs[la:lb] > 1).mean())
    holes = [cv2.contourArea(c) for c, hh in zip(contours, hier[0]) if hh[3] >= 0]
    out["holes"] = float(any(a >= 2 for a in holes))
    n, _, st, _ = cv2.connectedComponentsWithStats(u8, connectivity=8)
    out["parts"] = float((st[1:, cv2.CC_STAT_AREA] >= 3).sum() > 1)
    return out


def sequence_frame_stats(seq) -> tuple:
    """``(list of per-frame dicts, list of consecutive-frame IoUs)`` of one sequence ``[T, 64, 64]``."""
    frames = [s for s in (frame_stats(f) for f in np.asarray(seq)) if s is not None]
    m = np.asarray(seq) >= 128
    ious = []
    for a, b in zip(m[:-1], m[1:]):
        union = np.logical_or(a, b).sum()
        if union and a.any() and b.any():
            ious.append(np.logical_and(a, b).sum() / union)
    return frames, ious


def summarize(sequences) -> dict:
    """Mean of every statistic in :data:`STATS` over all frames of ``sequences``
    (a list of ``uint8 [T, 64, 64]``), plus ``frames`` and ``sequences`` counts and the
    standard deviation across sequences of each statistic (``<name>_sd``)."""
    frames, ious, per_seq = [], [], []
    for seq in sequences:
        f, i = sequence_frame_stats(seq)
        if not f:
            continue
        frames += f
        ious += i
        d = {k: float(np.mean([x[k] for x in f])) for k in STATS if k != "iou"}
        d["iou"] = float(np.mean(i)) if i else float("nan")
        per_seq.append(d)
    out = {k: float(np.mean([x[k] for x in frames])) if frames else float("nan") for k in STATS if k != "iou"}
    out["iou"] = float(np.mean(ious)) if ious else float("nan")
    for k in STATS:
        vals = [d[k] for d in per_seq if np.isfinite(d[k])]
        out[f"{k}_sd"] = float(np.std(vals)) if len(vals) > 1 else 0.0
    out["frames"] = len(frames)
    out["sequences"] = len(per_seq)
    return out


def distance(a: dict, b: dict, scale: dict, stats=STATS) -> float:
    """Root mean square of ``(a[k] - b[k]) / scale[k]`` over the ``stats`` that both
    ``a`` and ``b`` have (finite)."""
    terms = [((a[k] - b[k]) / scale[k]) ** 2 for k in stats
             if np.isfinite(a.get(k, np.nan)) and np.isfinite(b.get(k, np.nan))]
    return float(np.sqrt(np.mean(terms))) if terms else float("nan")
