"""Training checkpoints (``tf.train.CheckpointManager``) and the final ``.keras`` export.

A checkpoint holds the model (weights and BN statistics), the optimizer (slots,
iteration count, loss scale), the training ``step`` and the data ``state`` (a JSON string
from the batch source, so the sampler resumes at the same position).

Atomicity: TensorFlow writes ``ckpt-N.data-*`` / ``ckpt-N.index`` through temporary
files that are renamed when complete, *then* rewrites the ``checkpoint`` index file
(itself via write-to-temp + rename). A process killed at any moment therefore leaves
the index pointing at the previous complete checkpoint. :meth:`TrainingCheckpoint.restore`
additionally falls back to older checkpoints if the newest cannot be read.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from gait_tf.errors import CheckpointError


class TrainingCheckpoint:
    """Model + optimizer + step + data state, managed in ``directory``.

    Args:
        directory: checkpoint directory (``<workdir>/checkpoints``).
        model, optimizer: built Keras objects (variables must exist before restoring).
        max_to_keep: number of checkpoints kept.
    """

    def __init__(self, directory, model, optimizer, max_to_keep=3, restore_directory=None):
        import tensorflow as tf

        self.directory = Path(directory)
        # non-chief workers save to a scratch directory but restore the chief's checkpoints
        self.restore_directory = Path(restore_directory) if restore_directory else self.directory
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="train_step")
        self.data_state = tf.Variable("{}", dtype=tf.string, trainable=False, name="data_state")
        self.checkpoint = tf.train.Checkpoint(
            model=model, optimizer=optimizer, step=self.step, data_state=self.data_state
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(self.directory), max_to_keep=max_to_keep, checkpoint_name="ckpt"
        )

    @property
    def latest(self):
        return self.manager.latest_checkpoint

    def save(self, step, data_state):
        """Write checkpoint number ``step``; returns its path prefix."""
        self.step.assign(int(step))
        self.data_state.assign(json.dumps(data_state, sort_keys=True))
        return self.manager.save(checkpoint_number=int(step))

    def restore(self):
        """Restore the newest readable checkpoint.

        Returns ``(step, data_state)`` or ``(0, None)`` when there is none. Raises
        :class:`CheckpointError` (naming the file) when checkpoints exist but none matches
        the model.
        """
        import tensorflow as tf

        if self.restore_directory == self.directory:
            candidates = list(reversed(self.manager.checkpoints))
        else:
            state = tf.train.get_checkpoint_state(str(self.restore_directory))
            candidates = list(reversed(state.all_model_checkpoint_paths)) if state else []
        if not candidates:
            return 0, None
        errors = []
        for path in candidates:
            try:
                status = self.checkpoint.restore(path)
                status.assert_existing_objects_matched()
                state = json.loads(self.data_state.numpy().decode("utf-8"))
                return int(self.step.numpy()), state
            except (tf.errors.OpError, AssertionError, ValueError) as exc:
                errors.append(f"{path}: {str(exc).splitlines()[0][:300]}")
        raise CheckpointError(
            "cannot restore any checkpoint in "
            f"{self.directory} (model or optimizer changed?): " + "; ".join(errors)
        )


def export_keras(model, path):
    """Save ``model`` as a ``.keras`` file at ``path`` atomically (temp dir + rename)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise CheckpointError(f"export path must end with .keras: {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        tmp = tmpdir / path.name
        model.save(str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path
