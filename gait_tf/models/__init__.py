"""The model zoo. ``create(name, preset=None, **config)`` builds any registered model.

See :mod:`gait_tf.models.registry`. Shared layers are in :mod:`gait_tf.models.blocks`.
"""
from gait_tf.models.registry import ModelSpec, create, get_spec, list_models, register_model

__all__ = ["ModelSpec", "create", "get_spec", "list_models", "register_model"]
