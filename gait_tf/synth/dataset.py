"""Writers of synthetic data sets (CASIA-B frames, OpenGait pickles, RGB + joints + masks).

Layouts (``<subject>`` = ``001``, ``<type>`` = ``nm-01``, ``<view>`` = ``090``)::

    casia_b   root/<subject>/<type>/<view>/<subject>-<type>-<view>-<frame:03d>.png   binary 0/255 PNGs
    opengait  root/<subject>/<type>/<view>/<view>.pkl     uint8 [T, 64, 64] pretreated (pickle)
    rgb       root/<subject>/<type>/<view>/<view>.npz     rgb uint8 [T, H, W, 3], masks bool [T, H, W],
                                                          joints float32 [T, 16, 3] (x, y, visible),
                                                          joint_names str [16]

With realism options (``realism="realistic"``, :mod:`gait_tf.synth.realism`) the
``casia_b`` and ``opengait`` formats hold the silhouettes *as our real front end would
deliver them* when the options include ``frontend_errors`` (the ``realistic`` preset
does), the clean ones otherwise; ``rgb`` files also hold ``frontend``, ``others`` (the
other walkers' pixels) and ``face`` (COCO face points).

Every root also gets ``synth.json`` (generator settings, realism options, format,
subjects, conditions, views, sequences, frames, and the sequences skipped because the
front end lost every frame of them). Sequences are rendered in parallel with ``workers``
processes; the output does not depend on ``workers`` (each sequence has its own seed).
Each sequence folder / file is written atomically.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import sys
from pathlib import Path

import cv2
import numpy as np

from gait_tf.errors import ConfigError, DataError
from gait_tf.synth.body import JOINT_NAMES
from gait_tf.synth.generator import (
    CONDITIONS,
    VIEWS,
    WalkerGenerator,
    check_background,
    check_condition,
    check_image_size,
    check_subject,
    check_view,
)
from gait_tf.synth.realism import get_realism
from gait_tf.utils.atomic import atomic_path, atomic_write

FORMATS = ("casia_b", "opengait", "rgb")
META_FILE = "synth.json"


# ----------------------------------------------------------------------------- argument parsing

def parse_subjects(spec) -> list:
    """Subjects from ``"1-20"``, ``"20"`` (= 1..20), ``"1,3,5-7"``, an int or a list.

    Raises ConfigError naming ``subjects`` for empty, reversed or non-numeric ranges.
    """
    if isinstance(spec, int) and not isinstance(spec, bool):
        if spec < 1:
            raise ConfigError(f"subjects: expected a positive count or a range like 1-20, got {spec!r}")
        return list(range(1, spec + 1))
    if isinstance(spec, (list, tuple, range)):
        out = [check_subject(s) for s in spec]
        if not out:
            raise ConfigError("subjects: empty list")
        return sorted(set(out))
    text = str(spec).strip()
    if not text:
        raise ConfigError("subjects: empty; expected a count (20) or a range (1-20, 1,3,5-7)")
    if text.isdigit() and "," not in text:
        return parse_subjects(int(text))
    out = set()
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise ConfigError(f"subjects: bad range {part!r} in {spec!r}; expected e.g. 1-20 or 1,3,5-7") from None
        if a < 1 or b < a:
            raise ConfigError(f"subjects: bad range {part!r} in {spec!r} (need 1 <= start <= end)")
        out.update(range(a, b + 1))
    return sorted(out)


def parse_conditions(spec) -> list:
    """``None``/``"all"`` -> all; ``"nm,bg"`` -> every nm-* and bg-*; ``"nm-01,cl-02"``.

    Raises ConfigError naming ``conditions`` for unknown names."""
    if spec is None or spec == "all":
        return list(CONDITIONS)
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        item = str(item).strip().lower()
        if not item:
            continue
        if item in ("nm", "bg", "cl"):
            out += [c for c in CONDITIONS if c.startswith(item + "-")]
        else:
            try:
                out.append(check_condition(item))
            except ConfigError as exc:
                raise ConfigError(f"conditions: {exc}") from None
    if not out:
        raise ConfigError(f"conditions: no condition in {spec!r}")
    return sorted(set(out), key=CONDITIONS.index)


def parse_views(spec) -> list:
    """``None``/``"all"`` -> the 11 views; ``"0,90,180"`` or ``["090"]``. ConfigError names ``views``."""
    if spec is None or spec == "all":
        return list(VIEWS)
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        if str(item).strip() == "":
            continue
        try:
            out.append(check_view(item))
        except ConfigError as exc:
            raise ConfigError(f"views: {exc}") from None
    if not out:
        raise ConfigError(f"views: no view in {spec!r}")
    return sorted(set(out))


def parse_image_size(spec) -> tuple:
    """``"240x320"`` (H x W) or ``(240, 320)`` -> ``(240, 320)``; ConfigError names ``image_size``."""
    if isinstance(spec, str):
        parts = spec.lower().replace("×", "x").split("x")
        if len(parts) != 2:
            raise ConfigError(f"image_size: expected HxW such as 240x320, got {spec!r}")
        try:
            spec = (int(parts[0]), int(parts[1]))
        except ValueError:
            raise ConfigError(f"image_size: expected HxW such as 240x320, got {spec!r}") from None
    return check_image_size(spec)


# ----------------------------------------------------------------------------- workers

def pool_context():
    """``fork`` when TensorFlow is not loaded (cheap, needs no ``__main__`` guard), else ``spawn``."""
    if "tensorflow" in sys.modules or "fork" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    return mp.get_context("fork")


def run_tasks(fn, tasks, workers=1, progress=False, desc="synth"):
    """``[fn(t) for t in tasks]`` on ``workers`` processes, in order, with a tqdm bar."""
    workers = int(workers)
    if workers < 1:
        raise ConfigError(f"workers: must be >= 1, got {workers}")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), desc=desc, unit="seq")
    results = []
    try:
        if workers == 1 or len(tasks) <= 1:
            for t in tasks:
                results.append(fn(t))
                if bar:
                    bar.update(1)
        else:
            chunk = max(1, min(8, len(tasks) // (4 * workers)))
            with pool_context().Pool(workers) as pool:
                for r in pool.imap(fn, tasks, chunksize=chunk):
                    results.append(r)
                    if bar:
                        bar.update(1)
    finally:
        if bar:
            bar.close()
    return results


# ----------------------------------------------------------------------------- writers

def sequence_dir(root, subject, condition, view) -> Path:
    return Path(root) / f"{int(subject):03d}" / condition / view


def _write_one(task):
    fmt, root, seed, image_size, background, subject, condition, view, n_frames, realism = task
    gen = WalkerGenerator(seed=seed, image_size=image_size, background=background, realism=realism)
    seq = gen.sequence(subject, condition, view, n_frames=n_frames, rgb=(fmt == "rgb"))
    folder = sequence_dir(root, subject, condition, view)
    folder.parent.mkdir(parents=True, exist_ok=True)
    sils = seq.frontend if seq.frontend is not None else seq.silhouettes
    if fmt != "rgb" and not sils.reshape(len(sils), -1).any(1).any():
        return seq.subject, condition, view, 0  # the front end lost every frame: skipped
    if fmt == "casia_b":
        with atomic_path(folder) as tmp:
            tmp.mkdir()
            for i, frame in enumerate(sils, 1):
                name = f"{seq.subject}-{condition}-{view}-{i:03d}.png"
                if not cv2.imwrite(str(tmp / name), frame):
                    raise DataError(f"{tmp / name}: could not write PNG")
        frames = len(seq)
    elif fmt == "opengait":
        from gait_tf.data.io import write_pickle
        from gait_tf.data.pretreat import pretreat_sequence

        try:
            pre = pretreat_sequence(sils, source=str(folder))
        except DataError:
            if seq.frontend is None:
                raise
            return seq.subject, condition, view, 0  # every frame the front end kept is too small: skipped
        folder.mkdir(parents=True, exist_ok=True)
        write_pickle(folder / f"{view}.pkl", pre)
        frames = len(pre)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        extra = {k: getattr(seq, k) for k in ("frontend", "others", "face") if getattr(seq, k) is not None}
        with atomic_write(folder / f"{view}.npz", "wb") as fh:
            np.savez_compressed(fh, rgb=seq.rgb, masks=seq.masks, joints=seq.joints,
                                joint_names=np.asarray(JOINT_NAMES), **extra)
        frames = len(seq)
    return seq.subject, condition, view, frames


def write_dataset(root, fmt="casia_b", subjects=10, conditions=None, views=None, seed=0, image_size=(240, 320),
                  n_frames=None, workers=1, background="static", progress=False, realism=None) -> dict:
    """Render ``subjects x conditions x views`` sequences into ``root`` in format ``fmt``.

    Args:
        fmt: ``"casia_b"`` | ``"opengait"`` | ``"rgb"`` (see the module docstring).
        subjects: count, range string (``"1-20"``) or list; conditions / views: lists or
            comma strings (``None`` = all). n_frames: frames per sequence (None: the
            generator's default, the time to cross the view). background: RGB mode.
        workers: processes; the output is identical for any value.
        realism: preset name, dict of options or ``Realism`` (:mod:`gait_tf.synth.realism`;
            None = ``casia_b``). With ``frontend_errors`` the silhouette formats hold the
            front end's view of the walker; a sequence of which it loses every frame is
            skipped (listed in ``synth.json``).

    Returns the metadata written to ``root/synth.json``.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"format: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    subjects = parse_subjects(subjects)
    conditions = parse_conditions(conditions)
    views = parse_views(views)
    image_size = parse_image_size(image_size)
    background = check_background(background)
    realism = get_realism(realism)
    if n_frames is not None and int(n_frames) < 1:
        raise ConfigError(f"n_frames: must be >= 1, got {n_frames!r}")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"out: {root} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    tasks = [(fmt, str(root), int(seed), image_size, background, s, c, v, n_frames, realism)
             for s in subjects for c in conditions for v in views]
    results = run_tasks(_write_one, tasks, workers=workers, progress=progress, desc=f"synth {fmt}")
    skipped = ["/".join(r[:3]) for r in results if r[3] == 0]
    results = [r for r in results if r[3] > 0]
    frames = [r[3] for r in results]
    meta = {
        "generator": "gait_tf.synth.WalkerGenerator",
        "format": fmt,
        "seed": int(seed),
        "image_size": list(image_size),
        "stored_size": [64, 64] if fmt == "opengait" else list(image_size),
        "background": background,
        "realism": realism.to_dict(),
        "n_frames": n_frames,
        "subjects": [f"{s:03d}" for s in subjects],
        "conditions": conditions,
        "views": views,
        "sequences": len(results),
        "skipped": skipped,
        "frames": int(sum(frames)),
        "joint_names": list(JOINT_NAMES),
    }
    with atomic_write(root / META_FILE, "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=2)
    return meta


def write_casia_b(root, subjects=10, **kw) -> dict:
    """CASIA-B folder layout of binary PNGs; see :func:`write_dataset`."""
    return write_dataset(root, "casia_b", subjects, **kw)


def write_opengait(root, subjects=10, **kw) -> dict:
    """OpenGait pickles of pretreated ``uint8 [T, 64, 64]`` silhouettes; see :func:`write_dataset`."""
    return write_dataset(root, "opengait", subjects, **kw)


def write_rgb(root, subjects=10, **kw) -> dict:
    """RGB frames + masks + 2D joints per sequence (``.npz``); see :func:`write_dataset`."""
    return write_dataset(root, "rgb", subjects, **kw)


def read_rgb_sequence(path) -> dict:
    """Load an ``rgb``-format sequence (``.npz`` file or its folder) ->
    ``{"rgb": uint8 [T,H,W,3], "masks": bool [T,H,W], "joints": float32 [T,16,3]}``."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.npz"))
        if not files:
            raise DataError(f"{path}: no .npz sequence in this folder")
        path = files[0]
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {"rgb": z["rgb"], "masks": z["masks"], "joints": z["joints"]}
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: not a synthetic RGB sequence ({exc})") from None
