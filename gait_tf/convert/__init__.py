"""PyTorch (OpenGait) checkpoint -> Keras model converters.

``convert_checkpoint(path, model="gaitset", preset="casia_b", **overrides)`` builds the Keras
model and loads the checkpoint's ``'model'`` state_dict into it (validated in full before
anything is assigned). torch is imported lazily (``pip install gait_tf[convert]``).
Per-family name/layout mappings live in one module each (``gaitset``, ``gaitpart``, ``gln``,
``gaitgl``); :mod:`gait_tf.convert.common` has the loading/validation/assignment machinery.
"""
from gait_tf.convert.common import (
    CONVERTERS,
    Entry,
    assign_state_dict,
    convert_checkpoint,
    load_state_dict,
    plan_for,
)

__all__ = ["CONVERTERS", "Entry", "assign_state_dict", "convert_checkpoint", "load_state_dict", "plan_for"]
