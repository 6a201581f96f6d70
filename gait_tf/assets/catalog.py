"""The catalogue of third-party pretrained parts: where each file comes from and its checksum.

Each :class:`Asset` is one file inside one pinned wheel on the package registry. The
wheel is fetched for a fixed platform tag (its data files do not depend on the
platform), so the wheel's own sha256 is pinned too.
"""
from __future__ import annotations

import dataclasses

from gait_tf.errors import AssetError


@dataclasses.dataclass(frozen=True)
class Wheel:
    """A pinned wheel on the package registry."""

    package: str
    version: str
    filename: str
    sha256: str
    python_version: str = "3.11"
    platform: str = "manylinux_2_28_x86_64"
    licence: str = ""

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclasses.dataclass(frozen=True)
class Asset:
    """One pretrained file: ``member`` of ``wheel``, with its size (bytes) and sha256."""

    name: str
    wheel: Wheel
    member: str
    sha256: str
    size: int
    licence: str
    description: str

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


MEDIAPIPE = Wheel(
    package="mediapipe", version="0.10.21",
    filename="mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
    sha256="05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
    licence="Apache-2.0")

ASSETS = {
    "blazepose_detector": Asset(
        name="blazepose_detector", wheel=MEDIAPIPE,
        member="mediapipe/modules/pose_detection/pose_detection.tflite",
        sha256="9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c", size=2959046,
        licence="Apache-2.0",
        description="BlazePose person detector: 224x224 RGB -> person boxes + hip/shoulder alignment points"),
    "blazepose_landmark_full": Asset(
        name="blazepose_landmark_full", wheel=MEDIAPIPE,
        member="mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        sha256="e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f", size=6440512,
        licence="Apache-2.0",
        description="BlazePose GHUM 3D landmarks (full): 256x256 person crop -> 33 keypoints, "
                    "presence score, person segmentation mask"),
}


def get_asset(name) -> Asset:
    try:
        return ASSETS[name]
    except KeyError:
        raise AssetError(f"unknown pretrained part {name!r}; known: {', '.join(sorted(ASSETS))}") from None
