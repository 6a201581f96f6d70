"""Shared helpers of the export/serving tests: a tiny silhouette model with a GRU."""
import numpy as np


def tiny_silhouette_model(parts=2, dim=4, seed=0):
    """``[B, T, 64, 44, 1]`` -> ``{"embeddings": [B, parts, dim]}``: per-frame conv (Conv3D
    with a 1-frame kernel), GRU over frames, max over time. Small and fast, and its GRU
    exercises the cuDNN/CPU export logic."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((None, 64, 44, 1), name="silhouettes")
    x = keras.layers.Conv3D(4, (1, 3, 3), strides=(1, 4, 4), activation="relu")(inp)
    x = keras.layers.Reshape((-1, 16 * 11 * 4))(x)
    x = keras.layers.GRU(parts * dim, return_sequences=True)(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    return keras.Model(inp, {"embeddings": keras.layers.Reshape((parts, dim))(x)}, name="tiny_gru")


def random_silhouettes(batch, frames, seed=0):
    """uint8 ``[batch, frames, 64, 44]`` 0/255."""
    rng = np.random.default_rng(seed)
    return (rng.random((batch, frames, 64, 44)) > 0.6).astype(np.uint8) * 255


def keras_embeddings(model, silhouettes_uint8):
    x = silhouettes_uint8[..., None].astype(np.float32) / 255.0
    return np.asarray(model(x, training=False)["embeddings"])
