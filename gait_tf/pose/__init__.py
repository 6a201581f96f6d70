"""Pose-based gait pipeline (the original TF1 project, on Keras 3).

:class:`~gait_tf.pose.human_pose.HumanPoseIRNetwork` turns RGB frames into 17x17x32 pose
features and 16 joint heat maps; :class:`~gait_tf.pose.gait_network.GaitNetwork` turns a
sequence of pose features into a 512-d identification vector. Heavy modules are imported
lazily (``from gait_tf.pose import HumanPoseIRNetwork`` works).
"""
import importlib

_LAZY = {
    "HumanPoseIRNetwork": "gait_tf.pose.human_pose",
    "build_pose_model": "gait_tf.pose.human_pose",
    "JOINT_NAMES": "gait_tf.pose.human_pose",
    "GaitNetwork": "gait_tf.pose.gait_network",
    "GaitNNModel": "gait_tf.pose.gait_network",
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'gait_tf.pose' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = list(_LAZY)
