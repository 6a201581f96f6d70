"""Readers and writers of silhouette frames: PNG/JPEG/BMP images, GIFs, OpenGait pickles.

Every reader validates what it returns and raises :class:`DataError` naming the file
or folder. Silhouette frames come back as grey ``uint8 [H, W]`` / ``[T, H, W]``.

Colour handling (a silhouette is expected, a frame that is not one is rejected):

* grey (``L``), binary (``1``) and grey+alpha (``LA``) images: used as they are;
* colour images whose channels are equal (``R == G == B``): converted to grey, with a
  :class:`SilhouetteConversionWarning`;
* palette-quantised grey images (e.g. CASIA-B-style GIFs whose 8-bit palette encodes
  the grey edge levels as near-grey colours; mean chroma ``max(RGB) - min(RGB)`` over
  the non-black pixels <= :data:`MAX_GREY_CHROMA`): converted with ITU-R 601 luma
  (Pillow ``convert("L")``), with a warning (none for GIFs, where this is the normal
  decoding);
* real colour images (more chroma than that): rejected;
* grey frames that are not silhouettes (more than :data:`MAX_MID_FRACTION` of the
  non-zero pixels at intermediate grey levels 32..223, e.g. a grey photograph):
  rejected. Grey edges, as CASIA-B has them (about 12 % of the foreground), are fine.
"""
from __future__ import annotations

import io
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from gait_tf.errors import DataError
from gait_tf.utils.atomic import atomic_write

#: file suffixes read as single frames
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
#: colour frames with a larger mean chroma over non-black pixels are rejected
MAX_GREY_CHROMA = 24.0
#: grey frames with a larger fraction of mid-grey (32..223) non-zero pixels are rejected
MAX_MID_FRACTION = 0.5

_READ_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


class SilhouetteConversionWarning(UserWarning):
    """A colour frame was accepted as a silhouette after conversion to grey."""


def to_grey(image: Image.Image, source, palette_ok=False) -> tuple[np.ndarray, str | None]:
    """Convert one Pillow frame to a grey silhouette ``uint8 [H, W]``.

    Returns ``(grey, note)``; ``note`` says which conversion happened (None when the
    frame was already grey). Raises :class:`DataError` for colour or non-silhouette
    frames. See the module docstring for the rules.
    """
    mode, note = image.mode, None
    if mode == "L":
        grey = np.asarray(image)
    elif mode in ("1", "LA", "La"):
        grey = np.asarray(image.convert("L"))
    elif mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image)
        if values.size and (np.isnan(values).any() if values.dtype.kind == "f" else False):
            raise DataError(f"{source}: image contains NaN")
        if values.min(initial=0) < 0 or values.max(initial=0) > 255:
            raise DataError(
                f"{source}: {mode} image with values {values.min()}..{values.max()} outside "
                "0..255; a silhouette must be an 8-bit grey image"
            )
        grey = values.astype(np.uint8)
    else:
        rgb = np.asarray(image.convert("RGB"))
        chroma = rgb.max(axis=-1).astype(np.int16) - rgb.min(axis=-1)
        if not chroma.any():
            grey, note = rgb[..., 0].copy(), f"{mode} frames with equal channels converted to grey"
        else:
            lit = rgb.max(axis=-1) > 0
            mean_chroma = float(chroma[lit].mean())
            if mean_chroma > MAX_GREY_CHROMA:
                raise DataError(
                    f"{source}: colour image ({mode}, mean chroma {mean_chroma:.1f} > "
                    f"{MAX_GREY_CHROMA:g}) where a silhouette is expected: rejected; segment "
                    "the person first (gait-tf silhouettes VIDEO) or pass binary/grey masks"
                )
            grey = np.asarray(Image.fromarray(rgb).convert("L"))
            if not palette_ok:
                note = f"near-grey {mode} frames (palette-quantised) converted to grey by luma"
    grey = np.ascontiguousarray(grey, dtype=np.uint8)
    check_silhouette(grey, source)
    return grey, note


def check_silhouette(grey: np.ndarray, source) -> None:
    """Reject a grey frame ``uint8 [H, W]`` that does not look like a silhouette."""
    lit = grey > 0
    n_lit = int(lit.sum())
    if n_lit == 0:
        return
    mid = int(((grey >= 32) & (grey <= 223)).sum())
    if mid / n_lit > MAX_MID_FRACTION:
        raise DataError(
            f"{source}: not a silhouette: {100 * mid / n_lit:.0f}% of the non-black pixels are "
            f"mid-grey (32..223; at most {100 * MAX_MID_FRACTION:.0f}% allowed): rejected; a "
            "silhouette is black background with a white (0/255, grey-edged) person"
        )


def _warn(note, source):
    if note:
        warnings.warn(f"{source}: {note}", SilhouetteConversionWarning, stacklevel=3)


def _open(path):
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        data = path.read_bytes()
        image = Image.open(io.BytesIO(data))
        image.load()
    except UnidentifiedImageError:
        raise DataError(f"{path}: not a readable image (unknown format or truncated header)") from None
    except _READ_ERRORS as exc:
        raise DataError(f"{path}: corrupt or truncated image ({exc})") from None
    return image


def read_image(path, warn=True) -> np.ndarray:
    """Read one silhouette frame -> ``uint8 [H, W]`` (see module docstring for colour rules)."""
    grey, note = to_grey(_open(path), path)
    if warn:
        _warn(note, path)
    return grey


def read_gif(path) -> np.ndarray:
    """Read every frame of a (silhouette) GIF -> ``uint8 [T, H, W]``."""
    image = _open(path)
    frames, notes = [], set()
    try:
        for i, frame in enumerate(ImageSequence.Iterator(image)):
            grey, note = to_grey(frame.copy(), f"{path} (frame {i})", palette_ok=True)
            frames.append(grey)
            notes.add(note)
    except DataError:
        raise  # a colour or non-silhouette frame: to_grey says what is wrong (DataError is a ValueError)
    except _READ_ERRORS as exc:
        raise DataError(f"{path}: corrupt or truncated GIF after {len(frames)} frames ({exc})") from None
    _warn(next((n for n in notes if n), None), path)
    return _stack(frames, [f"frame {i}" for i in range(len(frames))], path)


def _is_frame_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and not name.endswith("gei.png") and not name.startswith(".")


def list_frames(folder) -> list[Path]:
    """Sorted frame images of a sequence folder (OpenGait skips ``*gei.png``)."""
    with os.scandir(folder) as it:  # d_type: no stat per file (CASIA-B has ~1M frames)
        return sorted(Path(e.path) for e in it if _is_frame_name(e.name) and e.is_file())


def has_frames(folder) -> bool:
    """Whether a folder holds at least one frame image (stops at the first)."""
    with os.scandir(folder) as it:
        return any(_is_frame_name(e.name) and e.is_file() for e in it)


def read_frames_dir(folder, files=None, skipped=None) -> np.ndarray:
    """Read a folder of frame images (sorted by name) -> ``uint8 [T, H, W]``.

    ``skipped``: a list; when given, frames that cannot be read (empty, truncated or
    corrupt files) are left out and ``(path, reason)`` is appended to it for each, instead
    of failing the whole sequence. A folder with no readable frame is still an error.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such sequence folder")
    files = list_frames(folder) if files is None else files
    if not files:
        raise DataError(f"{folder}: empty sequence: no frame images ({'/'.join(IMAGE_SUFFIXES)})")
    frames, names, notes, bad = [], [], set(), []
    for path in files:
        try:
            image = _open(path)
        except DataError as exc:
            if skipped is None:
                raise
            bad.append((path, str(exc)))
            continue
        grey, note = to_grey(image, path)
        frames.append(grey)
        names.append(path.name)
        notes.add(note)
    if bad and not frames:
        raise DataError(f"{folder}: none of its {len(files)} frame images can be read (first: {bad[0][1]})")
    if skipped is not None:
        skipped.extend(bad)
    _warn(next((n for n in notes if n), None), folder)
    return _stack(frames, names, folder)


def _stack(frames, names, source):
    if not frames:
        raise DataError(f"{source}: empty sequence: no frames")
    shape = frames[0].shape
    for frame, name in zip(frames, names):
        if frame.shape != shape:
            raise DataError(
                f"{source}: frames of different sizes in one sequence: {names[0]} is "
                f"{shape[1]}x{shape[0]} but {name} is {frame.shape[1]}x{frame.shape[0]} (WxH)"
            )
    return np.stack(frames)


class _Refused(pickle.UnpicklingError):
    pass


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays (and lists/tuples of them) only: no arbitrary code."""

    _ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise _Refused(f"refusing to load {module}.{name} (only numpy arrays)")


def read_pickle(path, expect_hw=(64, 64)) -> np.ndarray:
    """Read an OpenGait silhouette pickle -> ``uint8 [T, H, W]`` (``[T, 64, 64]``).

    Only numpy arrays are unpickled. A list of frames is stacked. ``expect_hw``
    (None to skip) is the required frame size.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with open(path, "rb") as fh:
            obj = _ArrayUnpickler(fh).load()
    except _Refused as exc:
        raise DataError(f"{path}: not a silhouette pickle ({exc})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, OSError, MemoryError) as exc:
        raise DataError(f"{path}: corrupt or truncated pickle ({type(exc).__name__}: {exc})") from None
    if isinstance(obj, (list, tuple)):
        if not obj:
            raise DataError(f"{path}: empty sequence (empty list)")
        try:
            obj = np.stack([np.asarray(o) for o in obj])
        except ValueError:
            raise DataError(f"{path}: frames of different sizes in one sequence") from None
    if not isinstance(obj, np.ndarray):
        raise DataError(f"{path}: expected a numpy array, got {type(obj).__name__}")
    arr = obj
    if arr.dtype.kind == "f" and arr.size and np.isnan(arr).any():
        raise DataError(f"{path}: array contains NaN")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype != np.uint8:
        raise DataError(f"{path}: expected uint8 silhouettes (OpenGait pickle), got dtype {arr.dtype}")
    if arr.ndim != 3:
        raise DataError(f"{path}: expected shape [T, H, W], got {arr.shape}")
    if arr.shape[0] == 0:
        raise DataError(f"{path}: empty sequence (0 frames)")
    if expect_hw is not None and tuple(arr.shape[1:]) != tuple(expect_hw):
        raise DataError(
            f"{path}: expected frames of {expect_hw[0]}x{expect_hw[1]} (HxW), got "
            f"{arr.shape[1]}x{arr.shape[2]}; pretreat raw frames with `gait-tf pretreat`"
        )
    if not arr.any():
        raise DataError(f"{path}: empty sequence: all {arr.shape[0]} frames are black")
    return np.ascontiguousarray(arr)


def write_pickle(path, seq) -> Path:
    """Write ``uint8 [T, H, W]`` as an OpenGait pickle, atomically."""
    arr = np.asarray(seq)
    if arr.dtype != np.uint8 or arr.ndim != 3:
        raise DataError(f"{path}: can only write uint8 [T, H, W] silhouettes, got {arr.dtype} {arr.shape}")
    with atomic_write(path, "wb") as fh:
        pickle.dump(arr, fh, protocol=4)
    return Path(path)


def read_sequence(path, skipped=None) -> np.ndarray:
    """Read raw frames of one sequence: a folder of images, a GIF or a single image.

    Returns ``uint8 [T, H, W]``. Pickles are already pretreated: use :func:`read_pickle`.
    ``skipped``: see :func:`read_frames_dir` (folders only: unreadable frames are skipped
    and listed instead of failing the sequence).
    """
    path = Path(path)
    if path.is_dir():
        return read_frames_dir(path, skipped=skipped)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return read_gif(path)
    if suffix in IMAGE_SUFFIXES:
        return read_image(path)[None]
    if suffix == ".pkl":
        return read_pickle(path, expect_hw=None)
    raise DataError(f"{path}: unsupported sequence file (expected a folder, .gif, .png/.jpg/.bmp or .pkl)")
