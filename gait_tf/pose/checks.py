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


def validate_images(images, who="HumanPoseIRNetwork"):
    """``[B, H, W, 3]`` (or ``[H, W, 3]``) numeric images -> ``numpy [B, H, W, 3]``;
    :class:`ModelError` (prefixed ``who``) for another shape, an empty batch, a non-numeric
    dtype, images too small to hold a person, or NaN / infinite pixels (naming the images
    of the batch)."""
    import numpy as np

    x = np.asarray(images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ModelError(f"{who}: images must be [B, H, W, 3] RGB, got shape {list(x.shape)}")
    if x.shape[0] == 0:
        raise ModelError(f"{who}: empty image batch")
    if x.dtype.kind not in "uif":
        raise ModelError(f"{who}: images must be numeric (uint8 or float), got dtype {x.dtype}")
    check_image_size(x.shape[1:3], who if who != "HumanPoseIRNetwork" else None)
    if x.dtype.kind == "f":
        finite = np.isfinite(x).reshape(len(x), -1).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise ModelError(f"{who}: image(s) {bad[:10].tolist()} of the batch contain NaN or infinite values")
    return x


__all__ = ["MIN_IMAGE_SIZE", "check_image_size", "validate_images"]
