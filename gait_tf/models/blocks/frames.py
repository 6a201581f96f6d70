"""Frame bookkeeping: fold frames into the batch and back, set pooling, short-sequence tiling."""
from __future__ import annotations

import keras
from keras import ops

from gait_tf.models.blocks.common import _serializable


@_serializable
class FoldFrames(keras.layers.Layer):
    """``[B, T, *F] -> [B*T, *F]``: fold frames into the batch so 2D layers run per frame.

    The trailing feature shape ``F`` must be static. Undo with :class:`UnfoldFrames`.
    """

    def call(self, x):
        return ops.reshape(x, (-1,) + tuple(x.shape[2:]))

    def compute_output_shape(self, input_shape):
        b, t = input_shape[0], input_shape[1]
        n = b * t if (b is not None and t is not None) else None
        return (n,) + tuple(input_shape[2:])


@_serializable
class UnfoldFrames(keras.layers.Layer):
    """``([B*T, *F], reference [B, T, ...]) -> [B, T, *F]``: inverse of :class:`FoldFrames`.

    ``T`` is read from the reference tensor at run time (dynamic sequence length).
    """

    def call(self, inputs):
        x, ref = inputs
        t = ops.shape(ref)[1]
        return ops.reshape(x, (-1, t) + tuple(x.shape[1:]))

    def compute_output_shape(self, input_shapes):
        x, ref = input_shapes
        return (ref[0], ref[1]) + tuple(x[1:])


@_serializable
class SetPooling(keras.layers.Layer):
    """Set pooling: ``[B, T, *F] -> [B, *F]``, maximum over the frame axis (order-free).

    Equivalent to OpenGait's ``PackSequenceWrapper(torch.max)`` for one sequence per sample.
    """

    def call(self, x):
        return ops.max(x, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])


@_serializable
class RepeatShortSequence(keras.layers.Layer):
    """Tile a sequence whose length is below ``min_frames`` (GaitGL, OpenGait's rule).

    ``[B, T, *F] -> [B, T', *F]`` where ``T' = 3T`` if T == 1, ``2T`` if T == 2, else ``T``
    (for the default ``min_frames=3``; in general the sequence is repeated
    ``ceil(min_frames / T)`` times). Whole-sequence repetition, as ``Tensor.repeat`` does.
    """

    def __init__(self, min_frames=3, **kwargs):
        super().__init__(**kwargs)
        self.min_frames = int(min_frames)

    def call(self, x):
        import tensorflow as tf  # dynamic multiples: tf.tile takes a tensor

        t = tf.shape(x)[1]
        reps = tf.maximum((self.min_frames + t - 1) // t, 1)
        multiples = tf.concat([[1], [reps], tf.ones([len(x.shape) - 2], tf.int32)], axis=0)
        return tf.tile(x, multiples)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "min_frames": self.min_frames}


@_serializable
class ChannelSlice(keras.layers.Layer):
    """``[..., C] -> [..., stop - start]``: channels ``start:stop`` (e.g. the skeleton maps and the
    silhouette of SkeletonGait++'s 3-channel input)."""

    def __init__(self, start, stop, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, x):
        return x[..., self.start:self.stop]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.stop - self.start,)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}
