"""Small shared utilities (atomic file writes, ...)."""
from gait_tf.utils.atomic import atomic_path, atomic_write

__all__ = ["atomic_path", "atomic_write"]
