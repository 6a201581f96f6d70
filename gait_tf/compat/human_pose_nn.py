"""The original ``human_pose_nn`` module's names, on gait_tf's Keras 3 port.

``from gait_tf.compat.human_pose_nn import HumanPoseIRNetwork``, then
``HumanPoseIRNetwork(log_name=None, loss_type='SCE', is_training=False)`` as in the
original. See :mod:`gait_tf.compat`.
"""
from gait_tf.pose.human_pose import (  # noqa: F401
    FEATURES,
    HEATMAP_SIZE,
    IMAGE_SIZE,
    JOINT_NAMES,
    NUM_JOINTS,
    HumanPoseIRNetwork,
)

#: the original's abstract base class; its only concrete network is HumanPoseIRNetwork
HumanPoseNN = HumanPoseIRNetwork

__all__ = ["FEATURES", "HEATMAP_SIZE", "IMAGE_SIZE", "JOINT_NAMES", "NUM_JOINTS", "HumanPoseIRNetwork",
           "HumanPoseNN"]
