"""Small shared utilities (atomic file writes, ...)."""
from gait_tf.utils.atomic import atomic_path, atomic_write, write_json

__all__ = ["atomic_path", "atomic_write", "write_json"]
