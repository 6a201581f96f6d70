"""Figures that make a front-end result checkable at a glance.

* :func:`people_overlay_frames` - the video with every person track drawn: its mask
  tinted in the track's colour, its box, ``id`` and person score, and its COCO-17
  skeleton;
* :func:`contact_sheet` - one row per track: evenly spaced RGB crops with the mask's
  outline, each followed by the pretreated 64x64 silhouette the model will see.
"""
from __future__ import annotations

import cv2
import numpy as np

from gait_tf.pose.keypoints import COCO_BONES, blazepose_to_coco
from gait_tf.video.readers import open_video

#: track colours (RGB), cycled by track id
PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40), (128, 0, 0))


def track_colour(track_id):
    return PALETTE[(int(track_id) - 1) % len(PALETTE)]


def draw_person(out, crop, box, keypoints, label, colour, alpha=0.45, kp_score=0.5):
    """Draw one person (mask crop ``((x0, y0, x1, y1), bool mask)`` or None, box, BlazePose
    keypoints ``[33, 3]``, label) on ``out`` ``uint8 [H, W, 3]`` in place."""
    if crop is not None:
        (x0, y0, x1, y1), m = crop
        region = out[y0:y1, x0:x1]
        region[m] = np.clip(region[m] * (1 - alpha) + np.asarray(colour) * alpha, 0, 255).astype(np.uint8)
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(region, contours, -1, colour, 1)
    if keypoints is not None:
        coco = blazepose_to_coco(keypoints)
        for a, b in COCO_BONES:
            if coco[a, 2] >= kp_score and coco[b, 2] >= kp_score:
                cv2.line(out, tuple(int(v) for v in coco[a, :2]), tuple(int(v) for v in coco[b, :2]),
                         (255, 255, 255), 1, cv2.LINE_AA)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    cv2.rectangle(out, (x0, y0), (x1, y1), colour, 2)
    cv2.putText(out, label, (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, label, (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)


def people_overlay_frames(source, result, *, max_frames=None, step=1, names=None):
    """Re-read ``source`` and yield frames ``uint8 [H, W, 3]`` with every track of
    ``result`` (a :class:`~gait_tf.video.frontend.PeopleResult`) drawn. ``names`` maps a
    track id to a label (e.g. its identity)."""
    where: dict[int, list] = {}
    for p in result.people:
        for k, f in enumerate(p.frames):
            where.setdefault(int(f), []).append((p, k))
    for index, frame in open_video(source, max_frames=max_frames, step=step).iter_indexed():
        out = frame.copy()
        for p, k in where.get(index, ()):
            label = f"{p.track_id} {p.scores[k]:.2f}"
            if names and p.track_id in names:
                label = f"{p.track_id}: {names[p.track_id]}"
            draw_person(out, p.crops[k], p.boxes[k], p.keypoints[k], label, track_colour(p.track_id))
        yield out


def contact_sheet(source, result, *, columns=8, cell_height=128, max_frames=None, step=1) -> np.ndarray:
    """One row per track of ``result``: ``columns`` evenly spaced observations, each an
    RGB crop (mask outlined) and the pretreated silhouette. Returns ``uint8 [H, W, 3]``."""
    from gait_tf.data.pretreat import pretreat_frame

    want: dict[int, list] = {}
    rows = []
    for p in result.people:
        good = np.flatnonzero(p.shape_ok) if p.shape_ok.any() else np.arange(len(p))
        picks = good[np.unique(np.linspace(0, len(good) - 1, min(columns, len(good))).round().astype(int))]
        rows.append((p, picks))
        for k in picks:
            want.setdefault(int(p.frames[k]), []).append((p.track_id, int(k)))
    cells: dict[tuple, np.ndarray] = {}
    if want:
        last = max(want)
        for index, frame in open_video(source, max_frames=max_frames, step=step).iter_indexed():
            for tid, k in want.get(index, ()):
                p = result.by_id(tid)
                cells[(tid, k)] = _cell(frame, p, k, cell_height, pretreat_frame)
            if index >= last:
                break
    label_w = 150
    cell_w = int(cell_height * 0.75) + cell_height
    sheet = np.full((max(1, len(rows)) * (cell_height + 8) + 8, label_w + columns * (cell_w + 6) + 6, 3), 255,
                    np.uint8)
    for r, (p, picks) in enumerate(rows):
        y = 8 + r * (cell_height + 8)
        colour = track_colour(p.track_id)
        cv2.rectangle(sheet, (4, y), (label_w - 8, y + cell_height), colour, 3)
        for j, text in enumerate((f"track {p.track_id}", f"{len(p)} frames", f"{int(p.frames[0])}-{int(p.frames[-1])}",
                                  f"score {p.score:.2f}")):
            cv2.putText(sheet, text, (12, y + 24 + 24 * j), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        for c, k in enumerate(picks):
            cell = cells.get((p.track_id, int(k)))
            if cell is not None:
                x = label_w + c * (cell_w + 6)
                sheet[y:y + cell_height, x:x + cell.shape[1]] = cell
    return sheet


def _cell(frame, p, k, height, pretreat_frame):
    """RGB crop around observation ``k`` of ``p`` (mask outlined, frame index written)
    next to its pretreated silhouette, ``uint8 [height, 1.75 * height, 3]``."""
    x0, y0, x1, y1 = (float(v) for v in p.boxes[k])
    h = max(y1 - y0, 8.0) * 1.15
    w = h * 0.75
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    out = frame.copy()
    if p.crops[k] is not None:
        (bx0, by0, bx1, by1), m = p.crops[k]
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out[by0:by1, bx0:bx1], contours, -1, track_colour(p.track_id), 1)
    src = np.float32([[cx - w / 2, cy - h / 2], [cx + w / 2, cy - h / 2], [cx - w / 2, cy + h / 2]])
    cw = int(height * 0.75)
    dst = np.float32([[0, 0], [cw, 0], [0, height]])
    crop = cv2.warpAffine(out, cv2.getAffineTransform(src, dst), (cw, height), flags=cv2.INTER_AREA,
                          borderValue=(127, 127, 127))
    cv2.putText(crop, str(int(p.frames[k])), (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 0), 1, cv2.LINE_AA)
    sil = np.zeros((height, height), np.uint8)
    if p.crops[k] is not None:
        res, _ = pretreat_frame(p._crop_frame(k))
        if res is not None:
            sil = cv2.resize(res, (height, height), interpolation=cv2.INTER_NEAREST)
    return np.concatenate([crop, np.repeat(sil[:, :, None], 3, 2)], 1)
