"""Atomic file writes: write to a temporary file in the same directory, fsync, rename.

A reader never sees a half-written checkpoint, gallery or config, and a crash in the
middle of a write leaves the previous file intact.
"""
import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    Works for files and directories (e.g. SavedModels). On error the temporary
    path is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.is_dir() and path.is_dir():
            backup = path.with_name(f".{path.name}.old")
            if backup.exists():
                shutil.rmtree(backup)
            os.replace(path, backup)
            os.replace(tmp, path)
            shutil.rmtree(backup)
        else:
            if tmp.is_file():
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink()


@contextlib.contextmanager
def atomic_write(path, mode="wb", **open_kwargs):
    """``with atomic_write(p, 'w') as fh: fh.write(...)`` - all or nothing."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def write_json(path, obj, indent=2, default=None):
    """Write ``obj`` as JSON to ``path`` atomically; returns ``path``. ``default``: as for
    ``json.dump`` (e.g. ``str`` for values JSON cannot encode)."""
    with atomic_write(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=indent, default=default)
    return path
