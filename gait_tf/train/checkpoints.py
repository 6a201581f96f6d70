"""Training checkpoints (``tf.train.CheckpointManager``) and the final ``.keras`` export.

A checkpoint holds the model (weights and BN statistics), the optimizer (slots,
iteration count, loss scale), the training ``step`` and the data ``state`` (a JSON string
from the batch source, so the sampler resumes at the same position).

Atomicity: TensorFlow writes ``ckpt-N.data-*`` / ``ckpt-N.index`` through temporary
files that are renamed when complete, *then* rewrites the ``checkpoint`` index file
(itself via write-to-temp + rename). A process killed at any moment therefore leaves
the index pointing at the previous complete checkpoint. :meth:`TrainingCheckpoint.restore`
additionally falls back to older checkpoints if the newest cannot be read, however its files
are damaged (missing, empty, truncated, junk, checksum mismatch); the trainer logs which
checkpoint was skipped and which one it resumed from.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from gait_tf.errors import CheckpointError
from gait_tf.utils.atomic import make_temp_dir


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
        self.restored, self.skipped = None, []
        # a damaged `checkpoint` state file would make the manager forget every checkpoint
        # (junk) or fail (empty): rebuild it from the checkpoint files present
        self.state_note = _repair_state_file(self.directory)
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
        """Restore the newest readable checkpoint, falling back to older ones.

        Returns ``(step, data_state)`` or ``(0, None)`` when there is none. A checkpoint
        that cannot be read - its ``.index`` or ``.data`` file missing, empty, truncated or
        overwritten with junk, a checksum mismatch, an unreadable data state - is skipped
        and the next older one is tried: :attr:`skipped` lists ``(prefix, reason)`` of the
        skipped ones and :attr:`restored` is the prefix actually restored. Raises
        :class:`CheckpointError` (naming the directory and every reason) when checkpoints
        exist but none can be restored (e.g. the model or optimizer changed).
        """
        if self.restore_directory == self.directory:
            candidates = list(reversed(self.manager.checkpoints))
        else:
            candidates = list(reversed(_listed_checkpoints(self.restore_directory)))
        self.restored, self.skipped = None, []
        if not candidates:
            return 0, None
        for path in candidates:
            reason = _damaged_files(path)
            if reason is None:
                try:
                    status = self.checkpoint.restore(path)
                    status.assert_existing_objects_matched()
                    state = json.loads(self.data_state.numpy().decode("utf-8"))
                    if not isinstance(state, dict):
                        raise ValueError(f"data state is {type(state).__name__}, not a JSON object")
                    self.restored = path
                    return int(self.step.numpy()), state
                except Exception as exc:  # noqa: BLE001 - any damage: IndexError, DataLossError, ...
                    first = (str(exc).strip().splitlines() or [""])[0][:300]
                    reason = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
            self.skipped.append((path, reason))
        raise CheckpointError(
            "cannot restore any checkpoint in "
            f"{self.restore_directory} (damaged, or the model or optimizer changed?): "
            + "; ".join(f"{Path(p).name}: {r}" for p, r in self.skipped)
        )


STATE_FILE = "checkpoint"


def _scan_checkpoints(directory) -> list:
    """Prefixes of the ``ckpt-N`` checkpoints whose ``.index`` exists, oldest first."""
    found = []
    for index in Path(directory).glob("ckpt-*.index"):
        number = index.name[len("ckpt-"):-len(".index")]
        if number.isdigit():
            found.append((int(number), str(index.with_name(index.name[:-len(".index")]))))
    return [p for _, p in sorted(found)]


def _read_state_file(directory):
    """``(prefixes oldest first, problem)`` of ``directory/checkpoint``: problem is None when
    it parses and names a checkpoint, else a phrase saying what is wrong."""
    from google.protobuf import text_format
    from tensorflow.python.training.checkpoint_state_pb2 import CheckpointState

    path = Path(directory) / STATE_FILE
    if not path.exists():
        return [], None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], f"unreadable ({exc})"
    if not text.strip():
        return [], "empty"
    state = CheckpointState()
    try:
        text_format.Parse(text, state)
    except text_format.ParseError as exc:
        return [], f"not a checkpoint state ({str(exc).splitlines()[0][:120]})"
    if not state.model_checkpoint_path:
        return [], "names no checkpoint"
    paths = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
    return [p if os.path.isabs(p) else str(Path(directory) / p) for p in paths], None


def _listed_checkpoints(directory) -> list:
    """The checkpoints of ``directory``, oldest first: from its state file, or from the files
    present when the state file is damaged."""
    listed, problem = _read_state_file(directory)
    return _scan_checkpoints(directory) if problem else listed


def _repair_state_file(directory) -> str | None:
    """Rewrite a damaged ``directory/checkpoint`` from the checkpoint files present (or remove
    it when there are none). Returns a note saying what was done, or None."""
    from gait_tf.utils.atomic import atomic_write

    directory = Path(directory)
    _, problem = _read_state_file(directory)
    if problem is None:
        return None
    found = _scan_checkpoints(directory)
    state = directory / STATE_FILE
    if not found:
        state.unlink(missing_ok=True)
        return f"checkpoint state file {state} was {problem} and no checkpoint is left: removed it"
    names = [Path(p).name for p in found]
    # the manager keeps (and lists) only checkpoints younger than last_preserved_timestamp
    stamps = [Path(p + ".index").stat().st_mtime for p in found]
    with atomic_write(state, "w", encoding="utf-8") as fh:
        fh.write(f'model_checkpoint_path: "{names[-1]}"\n')
        fh.writelines(f'all_model_checkpoint_paths: "{n}"\n' for n in names)
        fh.writelines(f"all_model_checkpoint_timestamps: {t!r}\n" for t in stamps)
        fh.write(f"last_preserved_timestamp: {min(stamps) - 1.0!r}\n")
    return f"checkpoint state file {state} was {problem}: rebuilt it from {', '.join(names)}"


def _damaged_files(prefix) -> str | None:
    """Why the files of checkpoint ``prefix`` cannot be a complete checkpoint, or None."""
    prefix = Path(prefix)
    index = prefix.with_name(prefix.name + ".index")
    if not index.is_file():
        return f"{index.name} is missing"
    if index.stat().st_size == 0:
        return f"{index.name} is empty"
    shards = sorted(prefix.parent.glob(prefix.name + ".data-*-of-*"))
    if not shards:
        return f"{prefix.name}.data-* is missing"
    try:
        expected = int(shards[0].name.rsplit("-of-", 1)[1])
    except ValueError:
        expected = len(shards)
    if len(shards) < expected:
        return f"{expected - len(shards)} of its {expected} .data shards are missing"
    return None


def export_keras(model, path):
    """Save ``model`` as a ``.keras`` file at ``path`` atomically (temp dir + rename)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise CheckpointError(f"export path must end with .keras: {path}")
    tmpdir = make_temp_dir(path)  # owner-tagged; stale ones of killed exports are removed first
    try:
        tmp = tmpdir / path.name
        model.save(str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path
