"""Atomic file writes: write to a temporary file in the same directory, fsync, rename.

A reader never sees a half-written checkpoint, gallery or config, and a crash in the
middle of a write leaves the previous file intact.

Temporaries are hidden files next to the target, named for the target and for the
process that writes them: ``.<name>.<host>-<pid>.<random>.tmp``. A process killed in the
middle of a write (``kill -9``, OOM killer, power loss) cannot remove its temporary, so
every write first removes the *stale* temporaries of the same target: those whose process
(on this host) no longer exists. Temporaries of live writers and of other hosts are never
touched; temporaries of the old naming (``.<name>.<8 random chars>.tmp``, no owner) are
removed once they are :data:`LEGACY_STALE_SECONDS` old.
"""
import contextlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

#: temporaries without an owner tag (written before owner tags existed) older than this are stale
LEGACY_STALE_SECONDS = 3600.0
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname() or "host")[:40] or "host"
_OWNED = re.compile(r"^(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)\.[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
_LEGACY = re.compile(r"^[a-z0-9_]{8}(\.[A-Za-z0-9_]+)*$")  # tempfile.mkstemp's random part (+ suffix)


def owner_tag() -> str:
    """``<host>-<pid>`` of this process, as written into temporary names."""
    return f"{_HOST}-{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: keep it
    return True


def stale_temporaries(path) -> list:
    """The temporaries of ``path`` (files or folders) left by writers that died."""
    path = Path(path)
    prefix = f".{path.name}."
    stale = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return stale
    now = time.time()
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        middle = name[len(prefix):-len(".tmp")]
        owned = _OWNED.match(middle)
        if owned:
            if owned["host"] == _HOST and not _pid_alive(int(owned["pid"])):
                stale.append(Path(entry.path))
        elif _LEGACY.match(middle):
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if age > LEGACY_STALE_SECONDS:
                stale.append(Path(entry.path))
    return stale


def remove_stale_temporaries(path) -> list:
    """Remove :func:`stale_temporaries` of ``path``; returns what was removed."""
    removed = []
    for tmp in stale_temporaries(path):
        try:
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp)
            else:
                tmp.unlink()
            removed.append(tmp)
        except FileNotFoundError:  # another process cleaned it first
            pass
        except OSError:
            pass  # not ours to remove (permissions): leave it
    return removed


def make_temp_dir(path) -> Path:
    """A new owner-tagged temporary folder next to ``path`` (after removing stale ones),
    for writers that need a folder (Keras ``model.save``, TF checkpoints)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.{owner_tag()}.", suffix=".tmp", dir=path.parent))


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    Works for files and directories (e.g. SavedModels). On error the temporary
    path is removed and ``path`` is untouched. Stale temporaries of ``path`` left by
    killed writers are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{owner_tag()}.", suffix=suffix + ".tmp", dir=path.parent)
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
