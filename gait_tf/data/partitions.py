"""Train/test partitions of subjects.

Built-in CASIA-B settings (``gait_tf/data/partitions/casia_b_*.json``):

====  ================  =================
name  train subjects    test subjects
====  ================  =================
LT    001-074 (74)      075-124 (50)
MT    001-062 (62)      063-124 (62)
ST    001-024 (24)      025-124 (100)
====  ================  =================

Any JSON file in OpenGait's format ``{"TRAIN_SET": [...], "TEST_SET": [...]}`` (or
``{"train": [...], "test": [...]}``) can be given by path instead of a name.
"""
from __future__ import annotations

import json
from pathlib import Path

from gait_tf.errors import ConfigError, DataError

_DIR = Path(__file__).with_name("partitions")
BUILTIN = {"LT": "casia_b_lt.json", "MT": "casia_b_mt.json", "ST": "casia_b_st.json"}
_ALIASES = {f"CASIA-B-{k}": k for k in BUILTIN} | {f"CASIA_B_{k}": k for k in BUILTIN}


def list_partitions() -> list[str]:
    """Names of the built-in partitions."""
    return sorted(BUILTIN)


def get_partition(name_or_path) -> dict[str, list[str]]:
    """``{"train": [subjects], "test": [subjects]}`` (sorted) for a built-in name or a JSON path.

    Raises :class:`ConfigError` for an unknown name (listing the known ones), an
    unreadable/invalid JSON file, non-string ids or subjects in both sets.
    """
    text = str(name_or_path)
    key = _ALIASES.get(text.upper(), text.upper())
    if key in BUILTIN and not Path(text).is_file():
        return _parse(_DIR / BUILTIN[key])
    path = Path(text).expanduser()
    if path.is_file():
        return _parse(path)
    if text.lower().endswith(".json"):
        raise ConfigError(f"partition file {text!r} does not exist")
    raise ConfigError(
        f"unknown partition {text!r}; known partitions: {', '.join(list_partitions())} "
        "(or the path of a JSON file with TRAIN_SET/TEST_SET)"
    )


def _parse(path: Path) -> dict[str, list[str]]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"partition file {path}: cannot read JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"partition file {path}: expected an object with TRAIN_SET and TEST_SET")
    out = {}
    for key, names in (("train", ("TRAIN_SET", "train")), ("test", ("TEST_SET", "test"))):
        found = next((obj[n] for n in names if n in obj), None)
        if found is None:
            raise ConfigError(f"partition file {path}: missing key {names[0]!r} (keys: {sorted(obj)})")
        if not isinstance(found, list) or not all(isinstance(s, str) for s in found):
            raise ConfigError(f"partition file {path}: {names[0]} must be a list of subject id strings")
        out[key] = sorted(set(found))
    both = sorted(set(out["train"]) & set(out["test"]))
    if both:
        raise ConfigError(f"partition file {path}: subjects in both TRAIN_SET and TEST_SET: {both[:5]}")
    return out


def split_records(dataset, partition, missing="error"):
    """Split a :class:`GaitDataset` into ``(train, test)`` datasets by a partition.

    ``partition`` is a name, a path or a dict from :func:`get_partition`. Subjects of
    the partition absent from the dataset raise :class:`DataError` (``missing="error"``)
    or are ignored (``missing="ignore"``, e.g. a subset of CASIA-B).
    """
    part = partition if isinstance(partition, dict) else get_partition(partition)
    have = set(dataset.subjects)
    if missing == "error":
        for key in ("train", "test"):
            absent = [s for s in part[key] if s not in have]
            if absent:
                raise DataError(
                    f"{dataset.root}: {len(absent)} {key} subject(s) of the partition have no "
                    f"sequences in the dataset: {', '.join(absent[:5])}"
                    + (" ..." if len(absent) > 5 else "") + " (pass missing='ignore' to use the rest)"
                )
    elif missing != "ignore":
        raise ConfigError(f"missing={missing!r}: expected 'error' or 'ignore'")
    return dataset.filter(subjects=part["train"]), dataset.filter(subjects=part["test"])
