"""Learning-rate schedules (Keras ``LearningRateSchedule``s, serialisable).

``step`` is the optimizer's ``iterations``: the number of updates already applied, so
the first update uses ``lr(0)``.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from gait_tf.errors import ConfigError


def _warmup(lr, step, warmup_steps):
    if not warmup_steps:
        return lr
    frac = tf.minimum((step + 1.0) / float(warmup_steps), 1.0)
    return lr * frac


@keras.saving.register_keras_serializable(package="gait_tf")
class MultiStepSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``lr * gamma ** (number of milestones <= step)``, like PyTorch's ``MultiStepLR``
    stepped once per iteration (OpenGait). Optional linear warm-up over ``warmup_steps``.
    """

    def __init__(self, lr, milestones=(), gamma=0.1, warmup_steps=0):
        self.lr = float(lr)
        self.milestones = [int(m) for m in milestones]
        self.gamma = float(gamma)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        if self.milestones:
            passed = tf.reduce_sum(
                tf.cast(step >= tf.constant(self.milestones, tf.float32), tf.float32)
            )
        else:
            passed = tf.constant(0.0)
        lr = self.lr * tf.pow(self.gamma, passed)
        return _warmup(lr, step, self.warmup_steps)

    def get_config(self):
        return {"lr": self.lr, "milestones": self.milestones, "gamma": self.gamma,
                "warmup_steps": self.warmup_steps}


@keras.saving.register_keras_serializable(package="gait_tf")
class CosineSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Cosine decay from ``lr`` to ``min_lr`` over ``total_steps`` after a linear warm-up."""

    def __init__(self, lr, total_steps, min_lr=0.0, warmup_steps=0):
        self.lr = float(lr)
        self.total_steps = int(total_steps)
        self.min_lr = float(min_lr)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        span = max(self.total_steps - self.warmup_steps, 1)
        t = tf.clip_by_value((step - self.warmup_steps) / span, 0.0, 1.0)
        lr = self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + tf.cos(3.141592653589793 * t))
        return _warmup(lr, step, self.warmup_steps)

    def get_config(self):
        return {"lr": self.lr, "total_steps": self.total_steps, "min_lr": self.min_lr,
                "warmup_steps": self.warmup_steps}


def build_schedule(schedule_cfg, lr, iterations):
    """A schedule from the ``schedule`` config section (see ``docs/training.md``)."""
    kind = schedule_cfg["type"]
    if kind == "multistep":
        return MultiStepSchedule(lr, schedule_cfg["milestones"], schedule_cfg["gamma"],
                                 schedule_cfg["warmup_steps"])
    if kind == "constant":
        return MultiStepSchedule(lr, (), 1.0, schedule_cfg["warmup_steps"])
    if kind == "cosine":
        return CosineSchedule(lr, iterations, schedule_cfg["min_lr"], schedule_cfg["warmup_steps"])
    raise ConfigError(f"schedule.type: unknown schedule {kind!r}")


def build_optimizer(opt_cfg, schedule):
    """A Keras optimizer from the ``optimizer`` section.

    Returns ``(optimizer, l2)``: ``l2`` is the coupled weight-decay coefficient the trainer
    adds to the gradients (``grad += l2 * w``, PyTorch semantics), 0 when the decay is
    decoupled (handled by the Keras optimizer's ``weight_decay``).
    """
    kind = opt_cfg["type"]
    wd = float(opt_cfg["weight_decay"])
    mode = opt_cfg["weight_decay_mode"] or ("decoupled" if kind == "adamw" else "l2")
    common = {"learning_rate": schedule}
    if opt_cfg["clipnorm"] is not None:
        common["global_clipnorm"] = float(opt_cfg["clipnorm"])
    if mode == "decoupled" and wd:
        common["weight_decay"] = wd
    if kind == "sgd":
        opt = keras.optimizers.SGD(momentum=float(opt_cfg["momentum"]), nesterov=bool(opt_cfg["nesterov"]), **common)
    elif kind in ("adam", "adamw"):
        cls = keras.optimizers.AdamW if kind == "adamw" else keras.optimizers.Adam
        if kind == "adamw":
            common.setdefault("weight_decay", 0.0)
        opt = cls(beta_1=float(opt_cfg["beta_1"]), beta_2=float(opt_cfg["beta_2"]),
                  epsilon=float(opt_cfg["epsilon"]), **common)
    else:
        raise ConfigError(f"optimizer.type: unknown optimizer {kind!r}")
    return opt, (wd if mode == "l2" else 0.0)
