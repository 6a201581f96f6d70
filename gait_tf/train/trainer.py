"""The training loop: config -> model, optimizer, batch source -> checkpoints and export.

``train(cfg, workdir)`` runs ``cfg["train"]["iterations"]`` optimizer steps under a
``tf.distribute`` strategy, resuming from the newest checkpoint in ``<workdir>/checkpoints``
(same step, same sampler position). Work-directory layout::

    <workdir>/config.yaml        the resolved config (atomic)
    <workdir>/checkpoints/       tf.train.CheckpointManager (model, optimizer, step, data state)
    <workdir>/tensorboard/       tf.summary scalars (loss terms, lr, steps/s)
    <workdir>/metrics.jsonl      one JSON line per logged step (same scalars)
    <workdir>/model.keras        the model at the end (atomic), when train.export is true: after the
                                 last iteration, or the weights reached when a budget
                                 (max_steps / max_seconds / max_cpu_seconds) stopped the run
    <workdir>/summary.json       final step, loss, timings (atomic)
"""
from __future__ import annotations

import inspect
import json
import math
import shutil
import sys
import time
from pathlib import Path

from gait_tf.errors import ConfigError, ModelError
from gait_tf.train.config import dump_config
from gait_tf.utils import atomic_write, write_json


#: model input kinds the trainer has batch sources for (gait_tf.train.sources.build_source)
TRAINABLE_KINDS = ("silhouette", "rgb_sequence", "rgb_crops", "skeleton_maps", "skeleton_silhouette")


def _set_precision(mode):
    import keras

    policy = {False: "float32", True: "mixed_float16", "float16": "mixed_float16",
              "bfloat16": "mixed_bfloat16"}[mode]
    keras.mixed_precision.set_global_policy(policy)
    return policy


def _scalar_summary(tag, value):
    """``tf.summary.scalar`` without the ``tensorboard`` package: a float32 tensor summary
    tagged for TensorBoard's scalars plugin (what ``tf.summary.scalar`` writes)."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    tf.summary.write(tag, tf.constant(value, tf.float32), metadata=metadata)


def build_model(model_cfg, num_classes):
    """``models.create`` with ``class_num`` set to the number of training identities when
    the builder takes it and the config does not fix it."""
    from gait_tf import models

    spec = models.get_spec(model_cfg["name"])
    overrides = dict(model_cfg["overrides"])
    params = inspect.signature(spec.builder).parameters
    if "class_num" in params and "class_num" not in overrides:
        overrides["class_num"] = int(num_classes)
    return models.create(model_cfg["name"], preset=model_cfg["preset"], **overrides)


def init_weights_from(model, path):
    """Copy weights from the ``.keras`` file ``path`` into ``model`` for every layer with the
    same name and weight shapes (e.g. GLN phase 1 -> phase 2). Returns the copied layer names;
    raises CheckpointError if none matches."""
    from gait_tf.errors import CheckpointError
    from gait_tf.utils.keras_files import load_keras_model

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model.init_weights: file not found: {path}")
    source = load_keras_model(path, "model.init_weights", CheckpointError)  # empty/truncated/junk: named
    by_name = {layer.name: layer for layer in source.layers}
    copied = []
    for layer in model.layers:
        other = by_name.get(layer.name)
        if other is None or not layer.weights:
            continue
        src_w = other.get_weights()
        if [w.shape for w in src_w] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(src_w)
            copied.append(layer.name)
    if not copied:
        raise CheckpointError(f"model.init_weights: no layer of {path} matches the model")
    return copied


class Trainer:
    """Trains one model from a resolved config (see :func:`gait_tf.train.config.load_config`).

    Args:
        cfg: resolved config dict.
        workdir: output directory (created).
        resume: restore the newest checkpoint in ``<workdir>/checkpoints`` (default True).
        strategy: a ``tf.distribute.Strategy`` (default: from ``cfg["train"]["strategy"]``).
        source: a batch source (default: from ``cfg["data"]``; see :mod:`gait_tf.train.sources`).
        max_steps: stop after this many steps in *this* process (the run stays resumable;
            used by tests and time-budgeted scripts). A run stopped by any budget is
            checkpointed and exported like a finished one; ``summary["stopped_by"]`` says
            which budget stopped it.
        max_seconds: stop (after checkpointing) when this much wall time has elapsed.
        max_cpu_seconds: stop (after checkpointing) when this process has used this much CPU
            time (``time.process_time``: all threads, tf.data included). A CPU budget that
            does not shrink when other work shares the machine; 1800 = 15 min on 2 cores.
    """

    def __init__(self, cfg, workdir, resume=True, strategy=None, source=None, max_steps=None,
                 max_seconds=None, max_cpu_seconds=None, log=print):
        import keras
        import tensorflow as tf

        from gait_tf.losses import build_loss
        from gait_tf.train.checkpoints import TrainingCheckpoint
        from gait_tf.train.distribute import make_strategy, worker_role
        from gait_tf.train.schedules import build_optimizer, build_schedule
        from gait_tf.train.sources import build_source

        for name, value in (("max_steps", max_steps), ("max_seconds", max_seconds),
                            ("max_cpu_seconds", max_cpu_seconds)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value <= 0
                                      or (name == "max_steps" and int(value) != value)):
                raise ConfigError(f"{name} must be a {'whole ' if name == 'max_steps' else ''}number > 0 "
                                  f"(or None), got {value!r}")
        self.cfg = cfg
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self.max_cpu_seconds = max_cpu_seconds
        self.log = log
        tcfg = cfg["train"]
        seed = int(cfg["seed"])
        # the strategy first: MultiWorkerMirroredStrategy must configure collective ops
        # before anything initialises the TensorFlow runtime
        self.strategy = strategy or make_strategy(tcfg["strategy"])
        keras.utils.set_random_seed(seed)
        if tcfg["deterministic"]:
            tf.config.experimental.enable_op_determinism()
        self.policy = _set_precision(tcfg["mixed_precision"])

        self.replicas = self.strategy.num_replicas_in_sync
        self.is_chief, task_type, task_id = worker_role(self.strategy)
        if cfg["data"]["p"] % self.replicas:
            raise ConfigError(f"data.p={cfg['data']['p']} must be divisible by the number of "
                              f"replicas ({self.replicas}) so every replica gets whole identities")
        from gait_tf import models

        spec = models.get_spec(cfg["model"]["name"])
        if spec.input_kind not in TRAINABLE_KINDS:
            raise ModelError(f"model {spec.name!r} takes {spec.input_kind!r} input; the trainer feeds "
                             f"{', '.join(TRAINABLE_KINDS)}")
        # a model with its own objective (e.g. GaitNet's losses on pairs of clips) names it in
        # its registry spec; the others train with the generic ``losses:`` list
        self.model_loss = None
        if spec.loss is not None:
            section = getattr(spec.loss, "section", None)
            self.model_loss = spec.loss(cfg.get(section) if section else None, cfg["losses"])
        batch_kind = getattr(self.model_loss, "batch", "pk")
        model_hw = spec.config_for(cfg["model"]["preset"], **cfg["model"]["overrides"]).get("input_hw")
        self.source = source or build_source(cfg["data"], seed, self.workdir, spec, pairs=batch_kind == "pairs",
                                             log=log, input_hw=model_hw)
        self.loss_fn = build_loss(cfg["losses"]) if self.model_loss is None else None

        with self.strategy.scope():
            self.model = build_model(cfg["model"], self.source.num_classes)
            if hasattr(self.source, "bind"):
                self.source.bind(self.model)
            # build the variables with one training-shaped clip
            outputs = self.model(tf.nest.map_structure(tf.constant, self.source.example()), training=False)
            if not isinstance(outputs, dict):
                raise ModelError(f"model {cfg['model']['name']!r} must return a dict with 'embeddings'")
            if self.loss_fn is not None:
                self.loss_fn.check_outputs(outputs)
            schedule = build_schedule(cfg["schedule"], cfg["optimizer"]["lr"], tcfg["iterations"])
            self.optimizer, self.l2 = build_optimizer(cfg["optimizer"], schedule)
            if self.policy == "mixed_float16":
                self.optimizer = keras.optimizers.LossScaleOptimizer(self.optimizer)
            self.optimizer.build(self.model.trainable_variables)
            self.schedule = schedule

        # non-chief workers of a multi-worker run write their (required) checkpoint copies
        # to a scratch directory, as the tf.distribute docs prescribe
        ckpt_dir = self.workdir / "checkpoints"
        if not resume and self.is_chief:
            # a fresh run: drop the old run's checkpoints and log so they cannot be mixed up
            shutil.rmtree(ckpt_dir, ignore_errors=True)
            (self.workdir / "metrics.jsonl").unlink(missing_ok=True)
        self.scratch = None
        if not self.is_chief:
            self.scratch = self.workdir / f".worker-{task_type}-{task_id}"
        self.ckpt = TrainingCheckpoint(self.scratch / "checkpoints" if self.scratch else ckpt_dir,
                                       self.model, self.optimizer, tcfg["keep_checkpoints"],
                                       restore_directory=ckpt_dir)
        if self.ckpt.state_note:
            self.log(self.ckpt.state_note)
        self.start_step, self.data_state = (self.ckpt.restore() if resume else (0, None))
        for path, reason in self.ckpt.skipped:
            self.log(f"checkpoint {path} is unreadable ({reason}); falling back to an older one")
        if self.start_step:
            # name the checkpoint actually restored (after a fall-back it is not the newest)
            self.log(f"resumed from {self.ckpt.restored} at step {self.start_step}")
        if resume and self.is_chief:
            self._truncate_metrics(self.start_step)
        if not self.start_step and cfg["model"]["init_weights"]:
            copied = init_weights_from(self.model, cfg["model"]["init_weights"])
            self.log(f"initialised {len(copied)} layers from {cfg['model']['init_weights']}")
        self._train_step = self._make_train_step()

    def _truncate_metrics(self, step):
        """Drop the ``metrics.jsonl`` rows after ``step`` (the restored step): those steps are
        run again and logged again. Rewritten atomically; unparsable lines (a write cut by a
        kill) are dropped too."""
        path = self.workdir / "metrics.jsonl"
        if not path.is_file():
            return
        lines = path.read_text(encoding="utf-8").splitlines()
        kept = []
        for line in lines:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
                kept.append(line)
        if len(kept) != len(lines):
            with atomic_write(path, "w", encoding="utf-8") as fh:
                fh.writelines(line + "\n" for line in kept)
            self.log(f"metrics.jsonl: dropped {len(lines) - len(kept)} row(s) after step {step} (re-run now)")

    # ------------------------------------------------------------------ step
    def _make_train_step(self):
        import tensorflow as tf

        model, optimizer, loss_fn, strategy = self.model, self.optimizer, self.loss_fn, self.strategy
        model_loss = self.model_loss
        replicas = float(self.replicas)
        l2 = float(self.l2)

        def replica_step(x, y):
            with tf.GradientTape() as tape:
                if model_loss is not None:
                    loss, metrics = model_loss(model, x, y)
                else:
                    outputs = model(x, training=True)
                    loss, metrics = loss_fn(outputs, y)
                objective = loss
                if l2:
                    objective = objective + 0.5 * l2 * tf.add_n(
                        [tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in model.trainable_variables]
                    )
                objective = objective / replicas
                scaled = optimizer.scale_loss(objective) if hasattr(optimizer, "scale_loss") else objective
            grads = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)
            return metrics

        @tf.function
        def train_step(batch):
            x, y = batch
            per_replica = strategy.run(replica_step, args=(x, y))
            return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                    for k, v in per_replica.items()}

        return train_step

    def _weights_finite(self):
        import tensorflow as tf

        return all(bool(tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(v))))
                   for v in self.model.weights if "float" in str(v.dtype))

    def _lr(self):
        opt = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        return float(self.schedule(opt.iterations))

    # ------------------------------------------------------------------ loop
    def fit(self):
        """Run to ``train.iterations`` (or ``max_steps`` / ``max_seconds``); return a summary dict."""
        import tensorflow as tf

        from gait_tf.train.checkpoints import export_keras
        from gait_tf.train.distribute import distribute_batches

        tcfg = self.cfg["train"]
        total = tcfg["iterations"]
        step = self.start_step
        if self.is_chief:
            with atomic_write(self.workdir / "config.yaml", "w") as fh:
                fh.write(dump_config(self.cfg))
        state = self.data_state if self.data_state else None
        if state is None and step:
            state = self.source.state(step)
        batches = distribute_batches(self.strategy, lambda: self.source.dataset(state))
        iterator = iter(batches)
        writer = tf.summary.create_file_writer(str(self.workdir / "tensorboard")) if self.is_chief else None
        bar = None
        if tcfg["progress"] and self.is_chief and step < total:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=step, desc=self.cfg["name"], unit="it", file=sys.stderr,
                       dynamic_ncols=True, mininterval=1.0)
        t0 = time.time()
        c0 = time.process_time()
        t_log, s_log = t0, step
        last = {}
        steps_this_run = 0
        stopped_early = False
        stopped_by = None
        while step < total:
            metrics = self._train_step(next(iterator))
            step += 1
            steps_this_run += 1
            stopped_by = ("max_steps" if self.max_steps is not None and steps_this_run >= self.max_steps
                          else "max_seconds" if self.max_seconds is not None and time.time() - t0 >= self.max_seconds
                          else "max_cpu_seconds" if self.max_cpu_seconds is not None
                          and time.process_time() - c0 >= self.max_cpu_seconds else None)
            out_of_budget = stopped_by is not None
            if step % tcfg["log_every"] == 0 or step == total or step == 1 or out_of_budget:
                last = {k: float(v) for k, v in metrics.items()}
                now = time.time()
                last["lr"] = self._lr()
                last["steps_per_s"] = (step - s_log) / max(now - t_log, 1e-9)
                t_log, s_log = now, step
                if writer is not None:
                    with writer.as_default(step=step):
                        for k, v in last.items():
                            _scalar_summary(k, v)
                    writer.flush()
                    with open(self.workdir / "metrics.jsonl", "a", encoding="utf-8") as fh:
                        fh.write(json.dumps({"step": step, **last}) + "\n")
            if bar is not None:
                bar.update(1)
                if last:
                    bar.set_postfix(loss=f"{last['loss']:.4f}", refresh=False)
            if not math.isfinite(float(metrics["loss"])) or (
                    (step % tcfg["checkpoint_every"] == 0 or step == total or out_of_budget)
                    and not self._weights_finite()):
                raise ModelError(
                    f"model {self.cfg['model']['name']!r}: training diverged at step {step} (non-finite "
                    f"loss or weights); the last good checkpoint is {self.ckpt.latest}. Lower "
                    "optimizer.lr, or check the model for NaN gradients")
            if step % tcfg["checkpoint_every"] == 0 or step == total or out_of_budget:
                self.ckpt.save(step, self.source.state(step))
            if out_of_budget and step < total:
                stopped_early = True
                break
        if bar is not None:
            bar.close()
        elapsed = time.time() - t0
        cpu_elapsed = time.process_time() - c0
        if not stopped_early:
            stopped_by = None
        export = None
        # a budget stop is a normal end: export the weights reached (a rerun continues and
        # exports again when it finishes)
        if (step >= total or stopped_early) and tcfg["export"]:
            export = self.workdir / "model.keras"
            # every worker takes part in saving (collective ops); only the chief's copy stays
            export_keras(self.model, export if self.is_chief else self.scratch / "model.keras")
        if self.scratch is not None and step >= total:
            shutil.rmtree(self.scratch, ignore_errors=True)
        summary = {
            "name": self.cfg["name"],
            "model": self.cfg["model"]["name"],
            "step": step,
            "iterations": total,
            "finished": step >= total,
            "stopped_early": stopped_early,
            # which budget stopped it: max_steps | max_seconds | max_cpu_seconds (None: finished)
            "stopped_by": stopped_by,
            "start_step": self.start_step,
            "steps_this_run": steps_this_run,
            "seconds": elapsed,
            "cpu_seconds": cpu_elapsed,
            "steps_per_s": steps_this_run / elapsed if elapsed > 0 else None,
            "replicas": self.replicas,
            "precision": self.policy,
            "last_metrics": last,
            "checkpoint": self.ckpt.latest,
            "export": str(export) if export else None,
        }
        if self.is_chief:
            write_json(self.workdir / "summary.json", summary)
        return summary


def train(cfg, workdir, **kwargs):
    """Build a :class:`Trainer` and run it; returns the summary dict."""
    return Trainer(cfg, workdir, **kwargs).fit()
