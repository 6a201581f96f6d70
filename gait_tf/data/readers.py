"""Dataset layouts -> :class:`GaitDataset`.

=========== ============================================== ==========================
layout      folder tree                                    sequence
=========== ============================================== ==========================
``opengait`` ``root/<subject>/<type>/<view>/*.pkl``         pickle, uint8 [T, 64, 64]
``casia_b``  ``root/<subject>/<type>/<view>/*.png``         raw frames, pretreated on load
``oumvlp``   ``root/Silhouette_<view>-<seq>/<subject>/*.png`` raw frames, pretreated on load
             (original OU-MVLP), or the OpenGait-rearranged
             ``root/<subject>/<seq>/<view>/*.png``
=========== ============================================== ==========================

``layout="auto"`` picks one from what is on disk. Frame images may be .png, .jpg,
.jpeg or .bmp; ``*gei.png`` files are ignored (as OpenGait does).
"""
from __future__ import annotations

import os
import re
import warnings
from functools import partial
from pathlib import Path

import numpy as np

from gait_tf.data.io import IMAGE_SUFFIXES, has_frames, read_frames_dir, read_pickle
from gait_tf.data.pretreat import IMG_SIZE, pretreat_sequence
from gait_tf.data.records import GaitDataset, SequenceRecord
from gait_tf.errors import ConfigError, DataError

LAYOUTS = ("opengait", "casia_b", "oumvlp")
_OUMVLP_DIR = re.compile(r"^Silhouette_(\d{3})-(\d{2})$")


class EmptySequenceWarning(UserWarning):
    """Sequence folders without any frame/pickle were skipped while listing a dataset."""


def _subdirs(path: Path) -> list[Path]:
    try:
        with os.scandir(path) as it:
            return sorted(Path(e.path) for e in it if e.is_dir() and not e.name.startswith("."))
    except OSError as exc:
        raise DataError(f"{path}: cannot list folder ({exc})") from None


def _check_root(root) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(f"{root}: dataset root does not exist")
    if not root.is_dir():
        raise DataError(f"{root}: dataset root is not a folder")
    return root


def _walk3(root: Path):
    """Yield ``(subject, type, view, folder)`` for ``root/<subject>/<type>/<view>/``."""
    for s in _subdirs(root):
        for c in _subdirs(s):
            for v in _subdirs(c):
                yield s.name, c.name, v.name, v


def _finish(records, empty, root, layout, on_empty, loader, cache, cache_bytes, expected):
    if not records:
        hint = _guess_layout(root)
        raise DataError(
            f"{root}: no sequences found for layout {layout!r} (expected {expected} in "
            + ("Silhouette_<view>-<seq>/<subject>/ or <subject>/<seq>/<view>/"
               if layout == "oumvlp" else "<subject>/<type>/<view>/")
            + ")" + (f"; the folder looks like layout {hint!r}" if hint and hint != layout else "")
        )
    if empty:
        msg = (f"{root}: {len(empty)} empty sequence folder(s) (no {expected}), e.g. "
               + ", ".join(str(p) for p in empty[:3]))
        if on_empty == "error":
            raise DataError(msg)
        if on_empty == "warn":
            warnings.warn(msg + "; skipped", EmptySequenceWarning, stacklevel=3)
    ds = GaitDataset(records, loader, root=root, layout=layout, cache=cache, cache_bytes=cache_bytes)
    ds.skipped = list(empty)
    subjects_seen = {r.subject for r in records}
    ds.empty_subjects = sorted({p.relative_to(root).parts[0] for p in empty} - subjects_seen)
    return ds


def _load_pickle(record):
    return read_pickle(record.path, expect_hw=(IMG_SIZE, IMG_SIZE))


def _load_frames(record, pretreat=True):
    frames = read_frames_dir(record.path)
    if pretreat:
        return pretreat_sequence(frames, source=str(record.path))
    if frames.shape[1:] != (IMG_SIZE, IMG_SIZE):
        raise DataError(
            f"{record.path}: frames are {frames.shape[2]}x{frames.shape[1]} (WxH) but "
            f"pretreat=False needs pretreated {IMG_SIZE}x{IMG_SIZE} frames"
        )
    if not frames.any():
        raise DataError(f"{record.path}: empty sequence: all {len(frames)} frames are black")
    return frames


def read_opengait(root, pkl_index=0, on_empty="warn", cache=True, cache_bytes=None) -> GaitDataset:
    """OpenGait pickles ``root/<subject>/<type>/<view>/*.pkl``.

    A folder with several pickles (OpenGait multi-modal data) uses the ``pkl_index``-th
    in sorted order (OpenGait's ``data_in_use``).
    """
    root = _check_root(root)
    records, empty = [], []
    for s, c, v, folder in _walk3(root):
        with os.scandir(folder) as it:
            pkls = sorted(Path(e.path) for e in it if e.name.endswith(".pkl") and not e.name.startswith(".")
                          and e.is_file())
        if len(pkls) <= pkl_index:
            empty.append(folder)
            continue
        records.append(SequenceRecord(s, c, v, pkls[pkl_index]))
    return _finish(records, empty, root, "opengait", on_empty, _load_pickle, cache, cache_bytes, "*.pkl")


def read_casia_b(root, pretreat=True, on_empty="warn", cache=True, cache_bytes=None) -> GaitDataset:
    """CASIA-B silhouette frames ``root/<subject>/<type>-<idx>/<view>/*.png``.

    ``pretreat=True`` (default): raw frames (e.g. 320x240) are pretreated on load;
    ``pretreat=False``: frames must already be pretreated 64x64.
    """
    root = _check_root(root)
    records, empty = _collect_frame_folders(_walk3(root))
    loader = partial(_load_frames, pretreat=pretreat)
    return _finish(records, empty, root, "casia_b", on_empty, loader, cache, cache_bytes, "frame images")


def _collect_frame_folders(entries):
    """``(subject, condition, view, folder)`` entries -> (records of folders with frames, empty folders)."""
    records, empty = [], []
    for s, c, v, folder in entries:
        if _has_frames(folder):
            records.append(SequenceRecord(s, c, v, folder))
        else:
            empty.append(folder)
    return records, empty


def read_oumvlp(root, pretreat=True, on_empty="warn", cache=True, cache_bytes=None) -> GaitDataset:
    """OU-MVLP silhouettes.

    * original: ``root/Silhouette_<view>-<seq>/<subject>/0001.png`` -> subject ``"00001"``,
      condition ``"00"`` or ``"01"`` (the sequence index), view ``"000"``..``"270"``;
    * OpenGait-rearranged (``rearrange_OUMVLP.py``): ``root/<subject>/<seq>/<view>/*.png``.

    Frames (1280x980 binary) are pretreated on load unless ``pretreat=False``.
    Already pickled OU-MVLP data is read with ``layout="opengait"``.
    """
    root = _check_root(root)
    original = [d for d in _subdirs(root) if _OUMVLP_DIR.match(d.name)]
    if original:
        entries = ((subj.name, seq, view, subj) for d in original
                   for view, seq in [_OUMVLP_DIR.match(d.name).groups()] for subj in _subdirs(d))
    else:
        entries = _walk3(root)
    records, empty = _collect_frame_folders(entries)
    loader = partial(_load_frames, pretreat=pretreat)
    return _finish(records, empty, root, "oumvlp", on_empty, loader, cache, cache_bytes, "frame images")


def _has_frames(folder: Path) -> bool:
    try:
        return has_frames(folder)
    except OSError as exc:
        raise DataError(f"{folder}: cannot list folder ({exc})") from None


def _guess_layout(root: Path):
    top = _subdirs(root)
    if any(_OUMVLP_DIR.match(d.name) for d in top):
        return "oumvlp"
    for s, c, v, folder in _walk3(root):
        names = [p.suffix.lower() for p in folder.iterdir()]
        if ".pkl" in names:
            return "opengait"
        if any(n in IMAGE_SUFFIXES for n in names):
            return "casia_b"
    return None


def load_dataset(root, layout="auto", *, pretreat=True, on_empty="warn", cache=True,
                 cache_bytes=None, pkl_index=0) -> GaitDataset:
    """Read a dataset folder.

    Args:
        root: dataset root folder.
        layout: ``"opengait"``, ``"casia_b"``, ``"oumvlp"`` or ``"auto"`` (detect).
        pretreat: pretreat raw frames on load (``casia_b`` / ``oumvlp``).
        on_empty: what to do with sequence folders holding no frames while listing:
            ``"warn"`` (skip with an :class:`EmptySequenceWarning`), ``"error"``, ``"ignore"``.
        cache, cache_bytes: in-memory cache of decoded sequences (see :class:`GaitDataset`).
        pkl_index: which pickle of a multi-pickle OpenGait folder to use.

    Returns:
        :class:`GaitDataset`; ``ds.skipped`` lists the skipped empty folders and
        ``ds.empty_subjects`` the subjects that had folders but no usable sequence.
    """
    if on_empty not in ("warn", "error", "ignore"):
        raise ConfigError(f"on_empty={on_empty!r}: expected 'warn', 'error' or 'ignore'")
    root = _check_root(root)
    if layout == "auto":
        layout = _guess_layout(root)
        if layout is None:
            raise DataError(
                f"{root}: cannot detect the dataset layout: no <subject>/<type>/<view>/ folders "
                "with .pkl or frame images and no OU-MVLP Silhouette_<view>-<seq> folders"
            )
    if layout == "opengait":
        return read_opengait(root, pkl_index=pkl_index, on_empty=on_empty, cache=cache, cache_bytes=cache_bytes)
    if layout == "casia_b":
        return read_casia_b(root, pretreat=pretreat, on_empty=on_empty, cache=cache, cache_bytes=cache_bytes)
    if layout == "oumvlp":
        return read_oumvlp(root, pretreat=pretreat, on_empty=on_empty, cache=cache, cache_bytes=cache_bytes)
    raise ConfigError(f"unknown dataset layout {layout!r}; known: {', '.join(LAYOUTS)} (or 'auto')")


def dataset_from_arrays(sequences: dict, root="<memory>") -> GaitDataset:
    """An in-memory dataset: ``{(subject, condition, view): uint8 [T, 64, 64]}``.

    Handy for tests and for data generated on the fly (e.g. ``gait_tf.synth``).
    """
    arrays = {}
    for key, seq in sequences.items():
        subject, condition, view = (str(k) for k in key)
        arr = np.asarray(seq)
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[1:] != (IMG_SIZE, IMG_SIZE) or not len(arr):
            raise DataError(f"sequence {key}: expected uint8 [T, 64, 64], got {arr.dtype} {arr.shape}")
        rec = SequenceRecord(subject, condition, view, Path(root) / subject / condition / view)
        arrays[rec] = arr
    if not arrays:
        raise DataError(f"{root}: no sequences given")
    return GaitDataset(arrays, arrays.__getitem__, root=root, layout="memory")
