"""Loading ``.keras`` files with a message that says what is wrong with a bad one.

Keras reports an empty, truncated or junk ``.keras`` file as ``File not found`` (it is not
a zip archive, so Keras falls through to its "not found" branch) even though the file
exists. :func:`check_keras_file` looks at the file first - missing, a folder, empty,
not a zip archive (truncated or another format), a damaged archive, or a zip without a
Keras model config - and raises the caller's error class with one line naming the file.
:func:`load_keras_model` then loads it (gait_tf's custom layers registered first).

Every command that reads a ``.keras`` file goes through here (``identify``,
``evaluate``, ``export``, ``gallery enroll``, ``silhouettes``/``identify-video`` (the
segmenter and the model), ``model.init_weights`` of training, the demo).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

from gait_tf.errors import ModelError

#: members every ``.keras`` archive written by Keras 3 holds
KERAS_CONFIG_MEMBER = "config.json"


def keras_file_problem(path) -> str | None:
    """What is wrong with ``path`` as a ``.keras`` file, in words, or None if it looks like
    a readable Keras archive (it exists, is not empty, is a complete zip archive whose
    members pass their CRC checks and that holds ``config.json``)."""
    path = Path(path)
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "is a folder, not a .keras file"
    size = path.stat().st_size
    if size == 0:
        return "the file is empty (0 bytes)"
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        return f"cannot read the file ({exc.strerror or exc})"
    if not zipfile.is_zipfile(path):
        if head.startswith(b"PK"):
            return f"a truncated or damaged .keras archive (its zip directory is missing; {size} bytes)"
        if head.startswith(b"\x89HDF"):
            return "an HDF5 file (a legacy .h5 model or .weights.h5), not a .keras archive"
        return f"not a .keras file (not a zip archive; {size} bytes)"
    try:
        with zipfile.ZipFile(path) as zf:
            if KERAS_CONFIG_MEMBER not in set(zf.namelist()):
                return f"a zip archive but not a Keras model (no {KERAS_CONFIG_MEMBER} inside)"
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f"a damaged .keras archive ({exc})"
    if bad is not None:
        return f"a damaged .keras archive (member {bad!r} fails its CRC check)"
    return None


def check_keras_file(path, what: str = "model file", error=ModelError) -> Path:
    """Raise ``error`` (``"<what> <path>: <problem>"``) unless ``path`` looks like a
    readable ``.keras`` archive (:func:`keras_file_problem`). Returns ``Path(path)``."""
    problem = keras_file_problem(path)
    if problem is not None:
        raise error(f"{what} {path}: {problem}")
    return Path(path)


def load_keras_model(path, what: str = "model file", error=ModelError):
    """``keras.saving.load_model(path, compile=False)`` after :func:`check_keras_file`.

    Any other load failure (unknown layer, config of another Keras version) becomes
    ``error`` with its first line.
    """
    path = check_keras_file(path, what, error)
    import keras

    from gait_tf import models

    try:
        models.list_models()  # import the model modules so their layers are registered
    except Exception:  # noqa: BLE001 - a broken model module must not hide the file's own error
        pass
    try:
        return keras.saving.load_model(str(path), compile=False)
    except Exception as exc:  # noqa: BLE001 - any load failure is a bad file for the user
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise error(f"{what} {path}: cannot load the model: {first[:400]}") from None


__all__ = ["check_keras_file", "keras_file_problem", "load_keras_model"]
