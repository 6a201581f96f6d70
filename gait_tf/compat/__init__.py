"""Compatibility with the original TensorFlow 1 project (marian-margeta/gait-recognition).

Code written for the original imports ``human_pose_nn`` and ``gait_nn``. This package
provides those modules under ``gait_tf.compat``:

- :mod:`gait_tf.compat.human_pose_nn`: ``HumanPoseIRNetwork`` (and ``HumanPoseNN``);
- :mod:`gait_tf.compat.gait_nn`: ``GaitNetwork`` (and ``GaitNN``).

so ``from gait_tf.compat.human_pose_nn import HumanPoseIRNetwork`` works, and the one line
``import gait_tf.compat; gait_tf.compat.install_aliases()`` (or ``python -c`` / a
``sitecustomize``) makes the original ``from human_pose_nn import HumanPoseIRNetwork`` and
``from gait_nn import GaitNetwork`` work unchanged.

The classes accept the original constructor keywords. Those that mean something in Keras
are mapped; those that do not (TF1 graph plumbing: ``is_training``, ``reuse``,
``input_net``, ``log_name``'s summaries) are accepted and ignored, with a one-time
:class:`TF1CompatibilityWarning` saying so. See docs/pose.md, "Migrating from the original
TF1 code".
"""
from __future__ import annotations

import importlib
import sys
import warnings

#: original module name -> gait_tf module providing it
ALIASES = {"human_pose_nn": "gait_tf.compat.human_pose_nn", "gait_nn": "gait_tf.compat.gait_nn"}

_NOTED: set = set()


class TF1CompatibilityWarning(UserWarning):
    """An argument of the original TF1 API was accepted but has no effect in Keras."""


def note_once(key: str, message: str, stacklevel: int = 3) -> None:
    """Warn ``message`` (a :class:`TF1CompatibilityWarning`) the first time ``key`` is seen
    in this process."""
    if key in _NOTED:
        return
    _NOTED.add(key)
    warnings.warn(message, TF1CompatibilityWarning, stacklevel=stacklevel)


def install_aliases() -> list[str]:
    """Make ``import human_pose_nn`` / ``import gait_nn`` (the original module names) import
    the gait_tf compatibility modules. Returns the names installed. An existing module of
    the same name (e.g. the original code on ``sys.path``) is left alone."""
    installed = []
    for old, new in ALIASES.items():
        if old in sys.modules and sys.modules[old].__name__ != new:
            continue
        sys.modules[old] = importlib.import_module(new)
        installed.append(old)
    return installed


__all__ = ["ALIASES", "TF1CompatibilityWarning", "install_aliases", "note_once"]
