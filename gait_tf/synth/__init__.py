"""Procedural synthetic walkers: a 3D articulated body with subject-specific proportions
and gait dynamics, rendered as CASIA-B-like silhouettes, RGB frames, masks and 2D joints.

See docs/synth.md. ``from gait_tf.synth import WalkerGenerator, CONDITIONS, VIEWS, JOINT_NAMES``;
``WalkerGenerator(realism="realistic")`` for street / CCTV-like footage through our front end.
"""
from gait_tf.synth.body import JOINT_NAMES, SKELETON, stable_rng, stable_seed
from gait_tf.synth.generator import (
    CONDITIONS,
    VIEWS,
    SubjectParams,
    WalkerGenerator,
    WalkerSequence,
    check_condition,
    check_subject,
    check_view,
)
from gait_tf.synth.dataset import FORMATS, read_rgb_sequence, write_casia_b, write_dataset, write_opengait, write_rgb
from gait_tf.synth.frontend_errors import FrontendErrors, apply_frontend_errors
from gait_tf.synth.realism import PRESETS, Realism, get_realism
from gait_tf.synth.preview import make_montage, summarize
from gait_tf.synth.render import BACKGROUNDS

__all__ = [
    "JOINT_NAMES", "SKELETON", "CONDITIONS", "VIEWS", "BACKGROUNDS", "WalkerGenerator", "WalkerSequence",
    "SubjectParams", "check_condition", "check_subject", "check_view", "stable_rng", "stable_seed",
    "FORMATS", "write_dataset", "write_casia_b", "write_opengait", "write_rgb", "read_rgb_sequence",
    "make_montage", "summarize", "Realism", "PRESETS", "get_realism", "FrontendErrors", "apply_frontend_errors",
]
