"""Third-party pretrained parts: cache, checksums, and the one-line errors of the fetch step."""
import shutil

import pytest

from gait_tf.assets import ASSETS, asset_path, cache_dir, cached_status
from gait_tf.assets.fetch import fetch_assets
from gait_tf.cli import main as cli
from gait_tf.errors import AssetError


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty cache folder instead of ~/.cache/gait_tf."""
    real = {name: asset_path(name) for name in ASSETS}  # fetched by `make test`
    monkeypatch.setenv("GAIT_TF_CACHE", str(tmp_path / "cache"))
    return real


def test_the_catalogue_is_cached_and_verified():
    for name, asset in ASSETS.items():
        path = asset_path(name)
        assert path.is_file() and path.stat().st_size == asset.size
        assert cached_status(name) == "ok"
        assert asset.licence == "Apache-2.0" and asset.wheel.requirement == "mediapipe==0.10.21"


def test_missing_part_names_the_fix(tmp_cache, capsys, real_images_dir, tmp_path):
    with pytest.raises(AssetError, match=r"blazepose_detector .* is not cached .*gait-tf models fetch"):
        asset_path("blazepose_detector")
    assert cli(["pose", str(real_images_dir / "COCO_val2014_000000000192.jpg"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not cached" in err
    assert cli(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "missing" in out and "Apache-2.0" in out and str(cache_dir()) in out


def test_corrupt_part_fails_its_checksum(tmp_cache, capsys, real_video_dir):
    for name, src in tmp_cache.items():
        dst = cache_dir() / name / src.name
        dst.parent.mkdir(parents=True)
        shutil.copy(src, dst)
    target = cache_dir() / "blazepose_landmark_full" / tmp_cache["blazepose_landmark_full"].name
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    assert cached_status("blazepose_landmark_full") == "corrupt"
    with pytest.raises(AssetError, match="fails its checksum"):
        asset_path("blazepose_landmark_full")
    code = cli(["silhouettes", str(real_video_dir / "four_walkers.mp4"), "-o", str(target.parent / "o"),
                "--all-tracks", "--max-frames", "2"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "fails its checksum" in err


def test_offline_fetch_is_one_clear_line(tmp_cache, capsys, monkeypatch):
    # a registry that cannot be reached: nothing listens on port 9 of the loopback
    with pytest.raises(AssetError, match=r"cannot download mediapipe==0.10.21 from the package registry \(offline\?\)"):
        fetch_assets(pip_args=("--index-url", "http://127.0.0.1:9/simple", "--retries", "0", "--timeout", "2"),
                     log=lambda *_: None)
    assert not list(cache_dir().rglob("*.tflite"))  # nothing half-written
