"""Shared test configuration and fixtures."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root():
    return REPO_ROOT


def _shared_data(sub, probe):
    candidates = [os.environ.get("GAIT_TF_SHARED_DIR"), REPO_ROOT.parent / "shared", REPO_ROOT / "shared"]
    for base in candidates:
        if base and (Path(base) / "data" / sub / probe).is_file():
            return Path(base) / "data" / sub
    pytest.fail(f"real material not found: expected ../shared/data/{sub}/{probe}")


@pytest.fixture(scope="session")
def real_video_dir():
    """``../shared/data/real_video`` (four_walkers.mp4, street_crowd.avi)."""
    return _shared_data("real_video", "four_walkers.mp4")


@pytest.fixture(scope="session")
def real_images_dir():
    """``../shared/data/real_images`` (20 COCO photos with people)."""
    return _shared_data("real_images", "COCO_val2014_000000000192.jpg")


@pytest.fixture(scope="session")
def real_silhouettes_dir():
    """``../shared/data/real_silhouettes`` beside the checkout (nm.gif, bg.gif, cl.gif)."""
    candidates = [
        os.environ.get("GAIT_TF_SHARED_DIR"),
        REPO_ROOT.parent / "shared",
        REPO_ROOT / "shared",
    ]
    for base in candidates:
        if base and (Path(base) / "data" / "real_silhouettes" / "nm.gif").is_file():
            return Path(base) / "data" / "real_silhouettes"
    pytest.fail("real silhouettes not found: expected ../shared/data/real_silhouettes/nm.gif")
