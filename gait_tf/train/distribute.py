"""tf.distribute helpers: strategy selection, chief/worker roles, per-replica input.

Strategies (``train.strategy`` / ``--strategy``):

- ``auto``: ``MirroredStrategy`` over all GPUs when there are two or more, else the
  default (single-device) strategy;
- ``default`` / ``one_device``: one device (the first GPU, else the CPU);
- ``mirrored``: ``MirroredStrategy`` over all local GPUs, or over all logical CPU devices
  when there is no GPU (see :func:`configure_logical_cpus`);
- ``multi_worker``: ``MultiWorkerMirroredStrategy`` configured from ``TF_CONFIG``.

Batches: the input pipeline yields *global* P x K batches (identical on every worker,
same seed). Each replica trains on a contiguous slice of ``P / replicas`` whole
identities (the batch is sorted by label first), so the batch-all triplet loss of every
replica sees complete positive sets. Replica losses are divided by the replica count and
gradients summed (all-reduce), i.e. averaged.
"""
from __future__ import annotations

import json
import os

from gait_tf.errors import ConfigError

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker")


def configure_logical_cpus(n):
    """Split the CPU into ``n`` logical devices (must run before TensorFlow initialises
    its devices, i.e. first thing in a fresh process). Returns the device names."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(n))
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def parse_tf_config(text=None):
    """Validate a ``TF_CONFIG`` JSON string (default: the environment variable).

    Returns ``(cluster, task_type, task_index)``; raises ConfigError naming what is wrong.
    """
    text = os.environ.get("TF_CONFIG") if text is None else text
    if not text:
        raise ConfigError("TF_CONFIG: environment variable not set (needed by --strategy multi_worker)")
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG: invalid JSON: {exc}") from None
    if not isinstance(conf, dict):
        raise ConfigError("TF_CONFIG: expected a JSON object with 'cluster' and 'task'")
    cluster, task = conf.get("cluster"), conf.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise ConfigError("TF_CONFIG.cluster: expected a mapping like {'worker': ['host:port', ...]}")
    for job, addrs in cluster.items():
        if job not in ("chief", "worker", "evaluator"):
            raise ConfigError(f"TF_CONFIG.cluster.{job}: unknown job (chief, worker)")
        if not isinstance(addrs, list) or not addrs or not all(
            isinstance(a, str) and ":" in a for a in addrs
        ):
            raise ConfigError(f"TF_CONFIG.cluster.{job}: expected a list of 'host:port' strings")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ConfigError("TF_CONFIG.task: expected {'type': 'worker', 'index': N}")
    if task["type"] not in cluster:
        raise ConfigError(f"TF_CONFIG.task.type: {task['type']!r} is not a job of the cluster")
    if not isinstance(task["index"], int) or not 0 <= task["index"] < len(cluster[task["type"]]):
        raise ConfigError(f"TF_CONFIG.task.index: {task['index']!r} out of range for job {task['type']!r}")
    return cluster, task["type"], task["index"]


def make_strategy(name="auto"):
    """The ``tf.distribute.Strategy`` called ``name`` (see the module docstring)."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ConfigError(f"train.strategy: unknown strategy {name!r}; choose from {list(STRATEGIES)}")
    if name == "multi_worker":
        # before anything else touches the runtime (listing devices initialises it)
        parse_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus)


def worker_role(strategy):
    """``(is_chief, task_type, task_id)`` of this process under ``strategy``."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True, None, 0
    task_type, task_id = resolver.task_type, resolver.task_id
    is_chief = task_type == "chief" or (
        task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()
    )
    return is_chief, task_type, task_id


def distribute_batches(strategy, make_dataset):
    """Distribute a dataset of global batches ``(x [N, ...], labels [N])`` (``x`` may be a
    dict of such tensors, e.g. RGB frames and masks).

    ``make_dataset()`` must return the same global batches on every worker. With one
    replica the dataset is returned as is. Otherwise each global batch is sorted by
    label and cut into ``replicas`` contiguous slices; worker ``w`` feeds the slices of its
    local replicas (replica ``r`` gets slice ``r``).
    """
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return make_dataset()

    def dataset_fn(ctx):
        local = ctx.num_replicas_in_sync // ctx.num_input_pipelines
        first = ctx.input_pipeline_id * local

        def split(x, y):
            order = tf.argsort(y, stable=True)
            n = tf.shape(y)[0] // replicas

            def cut(t):
                t = tf.gather(t, order)
                return tf.reshape(t, tf.concat([[replicas, n], tf.shape(t)[1:]], 0))[first:first + local]

            return tf.nest.map_structure(cut, x), cut(y)

        ds = make_dataset().map(split).unbatch()
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return ds.with_options(options)

    return strategy.distribute_datasets_from_function(dataset_fn)
