"""Training: configs (:mod:`.config`), loop (:mod:`.trainer`), checkpoints, tf.distribute.

``import gait_tf.train`` is light; TensorFlow is imported by :func:`train` / :class:`Trainer`.
"""
from gait_tf.train.config import SCHEMA, apply_overrides, dump_config, load_config, parse_override


def train(cfg, workdir, **kwargs):
    """Train from a resolved config (see :func:`load_config`); returns the summary dict."""
    from gait_tf.train.trainer import train as _train

    return _train(cfg, workdir, **kwargs)


def __getattr__(name):
    if name == "Trainer":
        from gait_tf.train.trainer import Trainer

        return Trainer
    raise AttributeError(f"module 'gait_tf.train' has no attribute {name!r}")


__all__ = ["SCHEMA", "Trainer", "apply_overrides", "dump_config", "load_config", "parse_override", "train"]
