"""Input checks of the pose networks (light: no TensorFlow), shared by the Python API and
the ``gait-tf pose`` / ``embed-video`` commands, which check before building a network."""
from __future__ import annotations

from gait_tf.errors import ModelError

#: smallest image side (pixels) accepted: below it an image cannot hold a person whose joints
#: mean anything (the network resizes everything to 299x299, so a 1x1 image would "work")
MIN_IMAGE_SIZE = 32


def check_image_size(hw, source=None) -> None:
    """ModelError if an image of ``(H, W)`` pixels is too small to hold a person (either
    side under :data:`MIN_IMAGE_SIZE`). ``source`` names the image in the message."""
    h, w = (int(v) for v in hw)
    if min(h, w) < MIN_IMAGE_SIZE:
        where = f"{source}: " if source else "HumanPoseIRNetwork: "
        raise ModelError(f"{where}image of {w}x{h} pixels (WxH) is too small to hold a person: the minimum is "
                         f"{MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE}")


__all__ = ["MIN_IMAGE_SIZE", "check_image_size"]
