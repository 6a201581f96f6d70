"""Learned person segmenter: a small Keras U-Net over single RGB frames.

Network (:func:`build_unet`): input ``uint8``-valued RGB ``[B, H, W, 3]`` (rescaled to
[0, 1] inside the model), ``depth`` encoder stages of two 3x3 conv + batch-norm + ReLU
with ``filters * 2**i`` channels and 2x2 max-pooling, a bottleneck, and a mirrored
decoder (2x bilinear up-sampling, skip concatenation, two convs); a 1x1 conv + sigmoid
gives the person probability ``[B, H, W, 1]``. Only stock Keras layers, so the ``.keras``
file loads anywhere. ``H`` and ``W`` must be multiples of ``2**depth``; ``(None, None)``
builds a fully convolutional model (trained on crops, run on whole frames).

:class:`UNetSegmenter` wraps a trained model for whole frames of any size: frames are
resized to the model's input size, the probability map is resized back (bilinear),
thresholded and cleaned (:func:`~gait_tf.segmentation.background.clean_mask`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from gait_tf.errors import CheckpointError, ConfigError

#: weights shipped with the package (trained by ``scripts/segmentation_eval.py --train``)
DEFAULT_WEIGHTS = Path(__file__).with_name("weights") / "unet_synth.keras"
#: default working size (H, W) frames are resized to (the scale the shipped model is
#: trained at: a walker about 55 px tall)
DEFAULT_INPUT_HW = (120, 160)


def build_unet(input_hw=DEFAULT_INPUT_HW, filters=8, depth=3, name="unet_segmenter"):
    """Build the U-Net (see module doc).

    Args:
        input_hw: ``(H, W)`` input size, multiples of ``2**depth``.
        filters: channels of the first stage (doubled each stage).
        depth: number of down-sampling stages.

    Returns:
        ``keras.Model``: ``float [B, H, W, 3]`` (0..255) -> ``float [B, H, W, 1]`` probability.
    """
    import keras
    from keras import layers

    h, w = (None if v is None else int(v) for v in input_hw)
    if (h is not None and h % (2 ** depth)) or (w is not None and w % (2 ** depth)):
        raise ConfigError(f"U-Net input {h}x{w} must be a multiple of {2 ** depth} (depth {depth})")

    def block(x, ch, prefix):
        for j in range(2):
            x = layers.Conv2D(ch, 3, padding="same", use_bias=False, name=f"{prefix}_conv{j}")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"{prefix}_bn{j}")(x)
            x = layers.ReLU(name=f"{prefix}_relu{j}")(x)
        return x

    inp = keras.Input((h, w, 3), name="rgb")
    x = layers.Rescaling(1.0 / 255.0, name="scale")(inp)
    skips = []
    for i in range(depth):
        x = block(x, filters * 2 ** i, f"enc{i}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = block(x, filters * 2 ** depth, "mid")
    for i in reversed(range(depth)):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{i}")(x)
        x = layers.Concatenate(name=f"skip{i}")([x, skips[i]])
        x = block(x, filters * 2 ** i, f"dec{i}")
    out = layers.Conv2D(1, 1, activation="sigmoid", name="person")(x)
    return keras.Model(inp, out, name=name)


class UNetSegmenter:
    """Frame-size-agnostic wrapper of a trained U-Net.

    Args:
        model: a ``keras.Model`` from :func:`build_unet`.
        input_hw: ``(H, W)`` frames are resized to; default: the model's fixed input
            size, or :data:`DEFAULT_INPUT_HW` for a fully convolutional model.
        threshold: probability above which a pixel is the person.
        batch_size: frames per forward pass in :meth:`segment`.
        clean: kwargs of :func:`clean_mask` (``None`` = defaults).
    """

    method = "unet"

    def __init__(self, model, *, input_hw=None, threshold=0.5, batch_size=16, clean=None):
        self.model = model
        fixed = tuple(model.input_shape[1:3])
        if input_hw is None:
            input_hw = DEFAULT_INPUT_HW if None in fixed else fixed
        elif None not in fixed and tuple(input_hw) != fixed:
            raise ConfigError(f"input_hw {tuple(input_hw)} differs from the model's fixed input {fixed}")
        self.input_hw = tuple(int(v) for v in input_hw)
        self.threshold = float(threshold)
        self.batch_size = int(batch_size)
        self.clean = dict(open_size=0, close_size=3, min_blob=6, max_hole_frac=0.002) if clean is None else dict(clean)

    # -- persistence -------------------------------------------------------------------
    @classmethod
    def load(cls, path=None, **kwargs) -> "UNetSegmenter":
        """Load a ``.keras`` U-Net (default: the shipped :data:`DEFAULT_WEIGHTS`)."""
        import keras

        from gait_tf.utils.keras_files import keras_file_problem

        path = Path(os.fspath(path)) if path is not None else DEFAULT_WEIGHTS
        if not path.is_file():
            hint = (" (the shipped weights are missing: train them with "
                    "`python scripts/segmentation_eval.py --train`)" if path == DEFAULT_WEIGHTS else "")
            raise CheckpointError(f"{path}: no segmenter weights file{hint}")
        problem = keras_file_problem(path)  # empty / truncated / junk: say so (Keras says "File not found")
        if problem:
            raise CheckpointError(f"{path}: not a loadable Keras segmenter: {problem}")
        try:
            model = keras.models.load_model(path, compile=False)
        except Exception as exc:  # keras raises ValueError/OSError/zipfile errors for bad files
            raise CheckpointError(f"{path}: not a loadable Keras segmenter ({exc})") from exc
        if len(model.input_shape) != 4 or model.input_shape[-1] != 3 or model.output_shape[-1] != 1:
            raise CheckpointError(f"{path}: expected a [B, H, W, 3] -> [B, H, W, 1] segmenter, got "
                                  f"{model.input_shape} -> {model.output_shape}")
        return cls(model, **kwargs)

    def save(self, path):
        """Save the model to ``path`` (``.keras``) atomically."""
        from gait_tf.utils.atomic import atomic_path

        path = Path(os.fspath(path))
        with atomic_path(path) as tmp:
            work = tmp.with_name(tmp.name + ".keras")  # Keras insists on the extension
            self.model.save(work)
            os.replace(work, tmp)

    # -- inference ---------------------------------------------------------------------
    def _resize_in(self, frames):
        import cv2

        h, w = self.input_hw
        return np.stack([f if f.shape[:2] == (h, w) else cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)
                         for f in frames]).astype(np.float32)

    def predict_proba(self, frames) -> np.ndarray:
        """Person probability ``float32 [N, H, W]`` of ``uint8 [N, H, W, 3]`` RGB frames
        (at the frames' own size)."""
        import cv2

        frames = np.asarray(frames, np.uint8)
        if frames.ndim == 3:
            frames = frames[None]
        out = []
        for i in range(0, len(frames), self.batch_size):
            chunk = frames[i:i + self.batch_size]
            prob = np.asarray(self.model(self._resize_in(chunk), training=False))[..., 0]
            fh, fw = chunk.shape[1:3]
            if (fh, fw) != self.input_hw:
                prob = np.stack([cv2.resize(p, (fw, fh), interpolation=cv2.INTER_LINEAR) for p in prob])
            out.append(prob.astype(np.float32))
        return np.concatenate(out)

    def masks_from_proba(self, prob) -> np.ndarray:
        """Threshold + clean-up: ``float [N, H, W]`` -> ``bool [N, H, W]``."""
        from gait_tf.segmentation.background import clean_mask

        return np.stack([clean_mask(p > self.threshold, **self.clean) for p in np.asarray(prob).reshape(
            (-1,) + np.shape(prob)[-2:])])

    def apply(self, frame) -> np.ndarray:
        """Cleaned person mask ``bool [H, W]`` of one ``uint8 [H, W, 3]`` RGB frame."""
        return self.masks_from_proba(self.predict_proba(frame[None]))[0]

    def segment(self, frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Stream ``(mask bool [H, W], prob float32 [H, W])`` per frame, batching internally."""
        batch = []
        for frame in frames:
            batch.append(np.asarray(frame, np.uint8))
            if len(batch) == self.batch_size:
                yield from self._flush(batch)
                batch = []
        if batch:
            yield from self._flush(batch)

    def _flush(self, batch):
        prob = self.predict_proba(np.stack(batch))
        masks = self.masks_from_proba(prob)
        yield from zip(masks, prob)
