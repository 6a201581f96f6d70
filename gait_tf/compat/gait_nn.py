"""The original ``gait_nn`` module's names, on gait_tf's Keras 3 port.

``from gait_tf.compat.gait_nn import GaitNetwork``, then
``GaitNetwork(recurrent_unit='GRU', rnn_layers=2, reuse=False, is_training=False,
input_net=None)`` as in the original. See :mod:`gait_tf.compat`.
"""
from gait_tf.pose.gait_network import GAIT_FEATURES, GaitNetwork  # noqa: F401

#: the original's abstract base class; its only concrete network is GaitNetwork
GaitNN = GaitNetwork

__all__ = ["GAIT_FEATURES", "GaitNN", "GaitNetwork"]
