"""Exception hierarchy. Every error the package raises on bad input derives from
:class:`GaitTFError`; the CLI prints its message (no traceback) and exits with code 2.

Messages must name the culprit: the file path, the argument, the key or the model.
"""


class GaitTFError(Exception):
    """Base class of all gait_tf errors that are the user's input, not a bug."""


class DataError(GaitTFError, ValueError):
    """Bad data on disk or in memory: missing root, empty/corrupt sequence, wrong shape/dtype, NaN."""


class ConfigError(GaitTFError, ValueError):
    """Bad configuration or argument: unknown partition, bad YAML, invalid option."""


class ModelError(GaitTFError, ValueError):
    """Unknown model name, bad model config, or an input the model cannot take."""


class CheckpointError(GaitTFError):
    """A checkpoint that is missing, has missing/unexpected/mis-shaped keys, or is corrupt."""


class GalleryError(GaitTFError):
    """Gallery misuse: embeddings of another model or shape, corrupt gallery file."""


class VideoError(DataError):
    """Unreadable or empty video, no person found, too few frames."""


class ServingError(GaitTFError):
    """Export/serving problems: signature mismatch, server unreachable, bad request."""


class AssetError(GaitTFError):
    """A third-party pretrained part that is not cached, fails its checksum, or cannot be fetched."""
