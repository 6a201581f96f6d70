"""Minimal PyTorch reference modules that follow OpenGait's architectures and parameter names.

Written for the parity tests of :mod:`gait_tf.convert` (re-implemented, not copied).
"""
