"""``models.config`` (ModelServerConfig text proto) and ``batching.config`` writers.

TF Serving reads both at start-up (``--model_config_file``, ``--batching_parameters_file``).
``models.config`` lists one ``config { name base_path model_platform
model_version_policy }`` entry per model; :func:`update_models_config` adds or replaces
one entry, keeping the others, and rewrites the file atomically.

``base_path`` is the path *the server* sees. The Docker recipe in ``deploy/`` mounts
``saved_models/`` at ``/models``, so entries default to ``/models/<name>``; the
development server maps a ``base_path`` that does not exist locally to the directory of
the same name next to ``models.config`` (see :func:`resolve_base_path`).
"""
from __future__ import annotations

import os
from pathlib import Path

from gait_tf.errors import ConfigError
from gait_tf.utils.atomic import atomic_write

DEFAULT_SERVING_ROOT = "/models"

#: Batching parameters for GPU serving, with the reason for each value.
BATCHING_PARAMETERS = [
    ("max_batch_size", 32,
     "Largest merged batch. 32 sequences of 30 frames x 64x44 is ~2.7 MB of uint8 input and "
     "fills a modern GPU for GaitSet/GaitGL-sized networks without blowing up latency."),
    ("batch_timeout_micros", 2000,
     "Wait at most 2 ms for more requests before running a partial batch: small next to "
     "the model's own GPU time, so p99 latency grows little while throughput gains."),
    ("max_enqueued_batches", 64,
     "Bounded queue: past 64 pending batches the server answers UNAVAILABLE at once "
     "(clients retry with backoff) instead of letting latency grow without limit."),
    ("num_batch_threads", 4,
     "Parallel batches in flight: enough to overlap host-side work (decode, copy) with "
     "GPU compute for one GPU; more threads only contend for the same device."),
]
#: Padding is off on purpose (see the comment written into the file).
PAD_VARIABLE_LENGTH_INPUTS = False


def version_policy_text(policy: str = "latest:1") -> str:
    """Text-proto body of ``model_version_policy`` for ``latest:N`` | ``all`` | ``specific:1,2``."""
    policy = str(policy).strip()
    if policy == "all":
        return "all {}"
    kind, _, arg = policy.partition(":")
    if kind == "latest":
        n = int(arg or 1)
        if n < 1:
            raise ConfigError(f"--version-policy latest:N needs N >= 1, got {policy!r}")
        return f"latest {{ num_versions: {n} }}"
    if kind == "specific" and arg:
        try:
            versions = [int(v) for v in arg.split(",")]
        except ValueError:
            raise ConfigError(f"bad --version-policy {policy!r}: versions must be integers") from None
        return "specific { " + " ".join(f"versions: {v}" for v in versions) + " }"
    raise ConfigError(f"unknown --version-policy {policy!r}; use latest:N, all or specific:V1,V2")


def read_models_config(path):
    """Parse ``models.config`` into a ``ModelServerConfig`` proto (empty if missing)."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    path = Path(path)
    if path.is_file():
        try:
            text_format.Parse(path.read_text(encoding="utf-8"), config)
        except text_format.ParseError as exc:
            raise ConfigError(f"{path}: not a valid ModelServerConfig text proto: {exc}") from exc
    return config


def update_models_config(path, name: str, base_path: str, *, version_policy: str = "latest:1") -> str:
    """Add or replace model ``name`` in ``models.config`` at ``path`` (atomically).

    Returns the file's new text. Other entries are kept as they were.
    """
    from google.protobuf import text_format

    config = read_models_config(path)
    entries = config.model_config_list.config
    keep = [e for e in entries if e.name != name]
    del entries[:]
    for e in keep:
        entries.add().CopyFrom(e)
    entry = entries.add()
    entry.name = name
    entry.base_path = str(base_path)
    entry.model_platform = "tensorflow"
    text_format.Parse(version_policy_text(version_policy), entry.model_version_policy)
    text = (
        "# TF Serving model config (ModelServerConfig text proto), written by `gait-tf export`.\n"
        "# base_path is the path inside the serving container (deploy/ mounts saved_models/ at\n"
        f"# {DEFAULT_SERVING_ROOT}); `gait-tf serve --dev` maps it back to saved_models/<name>.\n"
        + text_format.MessageToString(config)
    )
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return text


def resolve_base_path(base_path: str, config_path) -> Path:
    """The local directory of a ``models.config`` ``base_path``.

    An existing absolute path is used as is; a relative one is taken relative to the
    config file's directory; a path that does not exist here (e.g. ``/models/gaitset``,
    the container path) falls back to ``<config dir>/<basename>``.
    """
    config_dir = Path(config_path).resolve().parent
    p = Path(base_path)
    if not p.is_absolute():
        p = config_dir / p
    if p.is_dir():
        return p
    fallback = config_dir / Path(base_path).name
    return fallback


def batching_config_text() -> str:
    """The ``batching.config`` text (BatchingParameters text proto) with the reasons."""
    lines = [
        "# TF Serving batching parameters for GPU serving (--enable_batching",
        "# --batching_parameters_file=/models/batching.config), written by `gait-tf export`.",
        "# Edit freely: exports never overwrite an existing batching.config.",
        "#",
        "# Batching merges concurrent requests into one GPU call along the batch axis.",
        "# Requests are merged only if all dimensions but the batch one agree: send",
        "# fixed-length clips (e.g. 30 frames) to benefit. pad_variable_length_inputs stays",
        "# false because zero-padded frames are not neutral for set/temporal pooling",
        "# (GaitSet's max over frames, GaitPart's micro-motion) and would change embeddings.",
        "",
    ]
    for key, value, why in BATCHING_PARAMETERS:
        lines.append(f"# {why}")
        lines.append(f"{key} {{ value: {value} }}")
        lines.append("")
    lines.append("# Batch sizes a merged batch is padded up to: few distinct shapes means few")
    lines.append("# compiled kernels (and XLA programs) to warm up and cache.")
    for size in (1, 2, 4, 8, 16, 32):
        lines.append(f"allowed_batch_sizes: {size}")
    lines.append(f"pad_variable_length_inputs: {'true' if PAD_VARIABLE_LENGTH_INPUTS else 'false'}")
    return "\n".join(lines) + "\n"


def write_batching_config(path, *, overwrite: bool = False) -> bool:
    """Write ``batching.config`` at ``path`` unless it exists (or ``overwrite``). Returns
    whether it was written."""
    path = Path(path)
    if path.exists() and not overwrite:
        return False
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(batching_config_text())
    return True


def parse_batching_config(path) -> dict:
    """``{key: value}`` of a batching.config (for checks; ``allowed_batch_sizes`` a list)."""
    out: dict = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("allowed_batch_sizes:"):
            out.setdefault("allowed_batch_sizes", []).append(int(line.split(":")[1]))
        elif line.startswith("pad_variable_length_inputs:"):
            out["pad_variable_length_inputs"] = line.split(":")[1].strip() == "true"
        elif "{" in line:
            key = line.split("{")[0].strip()
            out[key] = int(line.split("value:")[1].split("}")[0])
    return out


def models_config_path_for(out_dir) -> Path:
    """``models.config`` beside a model's export directory (``saved_models/models.config``)."""
    return Path(os.path.abspath(out_dir)).parent / "models.config"
