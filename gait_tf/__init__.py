"""gait_tf: people identification by the way they walk.

Keras 3 / TensorFlow 2 models (silhouette model zoo, HumanPoseNN + GaitNN),
synthetic walkers, data pipelines, evaluation protocols, export to TF Serving.

Heavy submodules (TensorFlow) are imported lazily, so ``import gait_tf`` is cheap; still,
every gait_tf Keras layer is registered with Keras as soon as Keras is imported (now, if it
already is), so ``keras.saving.load_model("model.keras")`` works right after
``import gait_tf`` (:mod:`gait_tf._registration`; ``gait_tf.register_keras_objects()`` does
it explicitly).
"""
import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
#: whether the user chose TensorFlow's C++ log level (then ``gait-tf`` leaves it alone)
TF_LOG_LEVEL_FROM_USER = "TF_CPP_MIN_LOG_LEVEL" in os.environ
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

# public name -> "module:attribute", resolved on first access
_LAZY = {
    "Gallery": "gait_tf.gallery:Gallery",
    "GaitNetwork": "gait_tf.pose.gait_network:GaitNetwork",
    "HumanPoseIRNetwork": "gait_tf.pose.human_pose:HumanPoseIRNetwork",
}


def __getattr__(name):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'gait_tf' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


from gait_tf._registration import register_keras_objects  # noqa: E402

__all__ = ["__version__", "register_keras_objects", *_LAZY]

from gait_tf import _registration  # noqa: E402

_registration.install()
