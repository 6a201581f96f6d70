"""Silhouette data: pretreatment, dataset readers, partitions and ``tf.data`` pipelines.

``import gait_tf.data`` is light (numpy/cv2 only); the TensorFlow pipelines are
resolved lazily on first access of ``make_train_dataset`` / ``make_eval_dataset``.
See ``docs/data.md``.
"""
import importlib

from gait_tf.data.pretreat import check_frames, cut_width, pretreat_frame, pretreat_sequence

# public name -> "module:attribute", resolved on first access
_LAZY = {
    "SequenceRecord": "gait_tf.data.records:SequenceRecord",
    "GaitDataset": "gait_tf.data.records:GaitDataset",
    "load_dataset": "gait_tf.data.readers:load_dataset",
    "dataset_from_arrays": "gait_tf.data.readers:dataset_from_arrays",
    "read_sequence": "gait_tf.data.io:read_sequence",
    "read_pickle": "gait_tf.data.io:read_pickle",
    "write_pickle": "gait_tf.data.io:write_pickle",
    "get_partition": "gait_tf.data.partitions:get_partition",
    "list_partitions": "gait_tf.data.partitions:list_partitions",
    "split_records": "gait_tf.data.partitions:split_records",
    "PKSampler": "gait_tf.data.sampler:PKSampler",
    "make_train_dataset": "gait_tf.data.pipeline:make_train_dataset",
    "make_eval_dataset": "gait_tf.data.pipeline:make_eval_dataset",
    "TrainPipeline": "gait_tf.data.pipeline:TrainPipeline",
    "build_train_pipeline": "gait_tf.data.pipeline:build_train_pipeline",
    "label_map": "gait_tf.data.pipeline:label_map",
    "AugmentConfig": "gait_tf.data.augment:AugmentConfig",
}


def __getattr__(name):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'gait_tf.data' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


__all__ = ["check_frames", "cut_width", "pretreat_frame", "pretreat_sequence", *_LAZY]
