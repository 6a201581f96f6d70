"""Preview of synthetic data: a montage PNG and a summary of a generated root.

``make_montage(root, "montage.png")`` tiles one (middle) frame per subject x condition
(rows) x view (columns) of a data set written by :mod:`gait_tf.synth.dataset` (any of the
three formats, detected from ``synth.json`` or the files). ``make_montage(sequences,
...)`` tiles evenly spaced frames of in-memory :class:`WalkerSequence` objects (RGB
with the 2D joints drawn when available: green visible, red occluded) or arrays.
``summarize(root)`` counts subjects, sequences and frames and reads sizes.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from gait_tf.errors import ConfigError, DataError
from gait_tf.synth.body import SKELETON
from gait_tf.synth.dataset import META_FILE
from gait_tf.utils.atomic import atomic_path


# ----------------------------------------------------------------------------- summary

def _sequence_dirs(root: Path):
    for s in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for c in sorted(p for p in s.iterdir() if p.is_dir()):
            for v in sorted(p for p in c.iterdir() if p.is_dir()):
                yield s.name, c.name, v.name, v


def detect_format(root) -> str:
    """``casia_b`` | ``opengait`` | ``rgb`` from ``synth.json`` or the files of the first sequence."""
    root = Path(root)
    meta = root / META_FILE
    if meta.is_file():
        try:
            return json.loads(meta.read_text(encoding="utf-8"))["format"]
        except (ValueError, KeyError):
            pass
    for *_, folder in _sequence_dirs(root):
        names = [p.suffix for p in folder.iterdir()]
        if ".pkl" in names:
            return "opengait"
        if ".npz" in names:
            return "rgb"
        if ".png" in names:
            return "casia_b"
    raise DataError(f"{root}: no <subject>/<type>/<view>/ sequences found")


def _frame_count(fmt, folder: Path) -> int:
    if fmt == "casia_b":
        return sum(1 for p in folder.iterdir() if p.suffix == ".png")
    if fmt == "opengait":
        from gait_tf.data.io import read_pickle

        return sum(len(read_pickle(p)) for p in folder.glob("*.pkl"))
    n = 0
    for p in folder.glob("*.npz"):
        with np.load(p) as z:
            n += len(z["joints"])
    return n


def summarize(root) -> dict:
    """Counts and sizes of a synthetic data set root.

    Returns ``{"root", "format", "subjects", "conditions", "views", "sequences", "frames",
    "frames_per_sequence" (min, mean, max), "frame_size" [H, W], "bytes", "settings"}``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    fmt = detect_format(root)
    subjects, conditions, views, counts, size, nbytes = set(), set(), set(), [], None, 0
    for s, c, v, folder in _sequence_dirs(root):
        subjects.add(s)
        conditions.add(c)
        views.add(v)
        counts.append(_frame_count(fmt, folder))
        nbytes += sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        if size is None:
            frame = _middle_frame(fmt, folder)
            size = list(frame.shape[:2]) if frame is not None else None
    settings = {}
    if (root / META_FILE).is_file():
        settings = json.loads((root / META_FILE).read_text(encoding="utf-8"))
    counts = np.asarray(counts or [0])
    return {
        "root": str(root),
        "format": fmt,
        "subjects": len(subjects),
        "conditions": sorted(conditions),
        "views": sorted(views),
        "sequences": int((counts > 0).sum()) if len(counts) else 0,
        "frames": int(counts.sum()),
        "frames_per_sequence": [int(counts.min()), float(round(counts.mean(), 1)), int(counts.max())],
        "frame_size": size,
        "bytes": int(nbytes),
        "settings": {k: settings[k] for k in ("seed", "image_size", "background", "n_frames") if k in settings},
    }


def format_summary(summary: dict) -> str:
    """A few human-readable lines for :func:`summarize`'s dict."""
    lo, mean, hi = summary["frames_per_sequence"]
    size = "x".join(str(x) for x in summary["frame_size"] or [])
    return (f"{summary['root']}: {summary['format']} | {summary['subjects']} subjects, "
            f"{len(summary['conditions'])} conditions, {len(summary['views'])} views | "
            f"{summary['sequences']} sequences, {summary['frames']} frames ({lo}..{hi}, mean {mean}) | "
            f"frames {size} | {summary['bytes'] / 1e6:.1f} MB")


# ----------------------------------------------------------------------------- montage

def _middle_frame(fmt, folder: Path):
    if fmt == "casia_b":
        pngs = sorted(p for p in folder.iterdir() if p.suffix == ".png")
        if not pngs:
            return None
        return cv2.imread(str(pngs[len(pngs) // 2]), cv2.IMREAD_GRAYSCALE)
    if fmt == "opengait":
        from gait_tf.data.io import read_pickle

        pkls = sorted(folder.glob("*.pkl"))
        if not pkls:
            return None
        seq = read_pickle(pkls[0])
        return seq[len(seq) // 2]
    npz = sorted(folder.glob("*.npz"))
    if not npz:
        return None
    with np.load(npz[0]) as z:
        rgb = z["rgb"]
        return rgb[len(rgb) // 2]


def _to_rgb(frame):
    frame = np.asarray(frame)
    if frame.dtype == bool:
        frame = frame.astype(np.uint8) * 255
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, -1)
    return np.ascontiguousarray(frame.astype(np.uint8))


def _draw_joints(img, joints):
    for a, b in SKELETON:
        pa, pb = joints[a], joints[b]
        cv2.line(img, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), (255, 255, 0), 1, cv2.LINE_AA)
    for x, y, vis in joints:
        cv2.circle(img, (int(round(x)), int(round(y))), 2, (0, 220, 0) if vis > 0.5 else (230, 0, 0), -1)
    return img


def _fit(img, height):
    h, w = img.shape[:2]
    width = max(1, int(round(w * height / h)))
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if h > height else cv2.INTER_NEAREST)


def _label(img, text):
    cv2.putText(img, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 80, 80), 1, cv2.LINE_AA)
    return img


def _grid(rows, cell_h, pad=2):
    width = max(sum(c.shape[1] for c in row) + pad * (len(row) + 1) for row in rows)
    out = np.full((len(rows) * (cell_h + pad) + pad, width, 3), 40, np.uint8)
    y = pad
    for row in rows:
        x = pad
        for cell in row:
            out[y:y + cell_h, x:x + cell.shape[1]] = cell
            x += cell.shape[1] + pad
        y += cell_h + pad
    return out


def make_montage(root_or_sequences, out_png, subjects=4, conditions=("nm-01", "bg-01", "cl-01"),
                 views=None, frames=6, cell_height=128,
                 joints=True) -> Path:
    """Write a montage PNG and return its path.

    root_or_sequences: a data-set root (rows = first ``subjects`` subjects x
        ``conditions``, columns = ``views`` (default: up to 6 of the views present), the
        middle frame of each sequence), or a list
        of :class:`WalkerSequence` / arrays ``[T, H, W]`` / ``[T, H, W, 3]`` (rows =
        sequences, columns = ``frames`` evenly spaced frames; RGB with joints if present).
    """
    if isinstance(root_or_sequences, (str, Path)):
        root = Path(root_or_sequences)
        if not root.is_dir():
            raise DataError(f"{root}: no such folder")
        fmt = detect_format(root)
        subj = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        subj = subj[:subjects] if isinstance(subjects, int) else [f"{int(s):03d}" for s in subjects]
        if views is None:  # up to 6 of the views present, evenly spread
            present = sorted({p.name for s in subj[:1] for c in (root / s).iterdir() if c.is_dir()
                              for p in c.iterdir() if p.is_dir()})
            views = [present[i] for i in np.unique(np.linspace(0, len(present) - 1, 6).round().astype(int))] \
                if present else []
        rows = []
        for s in subj:
            for c in conditions:
                row = []
                for v in views:
                    folder = root / s / c / v
                    frame = _middle_frame(fmt, folder) if folder.is_dir() else None
                    if frame is None:
                        cell = np.zeros((cell_height, int(cell_height * 0.75), 3), np.uint8)
                    else:
                        cell = _fit(_to_rgb(frame), cell_height)
                    row.append(_label(cell, f"{s} {c} {v}"))
                rows.append(row)
        if not rows or not any(r for r in rows):
            raise DataError(f"{root}: nothing to show for subjects {subj} / conditions {list(conditions)}")
    else:
        seqs = list(root_or_sequences)
        if not seqs:
            raise ConfigError("make_montage: no sequences given")
        rows = []
        for seq in seqs:
            data = getattr(seq, "rgb", None)
            if data is None:
                data = getattr(seq, "silhouettes", seq)
            data = np.asarray(data)
            if data.ndim not in (3, 4):
                raise DataError(f"make_montage: expected frames [T, H, W(, 3)], got {data.shape}")
            idx = np.linspace(0, len(data) - 1, min(frames, len(data))).round().astype(int)
            row = []
            for i in idx:
                img = _to_rgb(data[i])
                if joints and getattr(seq, "joints", None) is not None and img.shape[0] >= 64:
                    img = _draw_joints(img.copy(), seq.joints[i])
                row.append(_fit(img, cell_height))
            if hasattr(seq, "subject"):
                row[0] = _label(row[0], f"{seq.subject} {seq.condition} {seq.view}")
            rows.append(row)
    out_png = Path(out_png)
    with atomic_path(out_png, suffix=".png") as tmp:
        Image.fromarray(_grid(rows, cell_height)).save(tmp, format="PNG")
    return out_png
