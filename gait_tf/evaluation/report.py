"""Markdown + JSON reports of protocol results, laid out like the papers' tables.

- single-view protocols (``casia_b``, ``oumvlp``): rows NM/BG/CL, columns the probe views
  (rank-1 averaged over the other gallery views) and the mean; then, per probe set, the
  full probe-view × gallery-view matrix.
- cross-view protocol (``casia_b_mAP``): one table per measure (rank-1, mAP, mINP), rows
  NM/BG/CL, columns the probe views and the mean.
- probe-vs-gallery protocols (``gait3d``, ``grew``): one row: rank-1/5/10, mAP, mINP.

Numbers are percentages printed with one decimal; empty cells (no probe) are ``-`` in
Markdown and ``null`` in JSON. Files are written atomically.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from gait_tf.utils.atomic import atomic_write


def _fmt(v, digits=1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{float(v):.{digits}f}"


def _table(header, rows) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def to_jsonable(obj):
    """Result dict → JSON-safe (NaN/inf → None, numpy scalars/arrays → Python)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def to_markdown(result: dict, title: str | None = None, digits: int = 1) -> str:
    """The result of a protocol as Markdown tables (see module doc)."""
    proto = result.get("protocol", "?")
    lines = [f"# {title or 'Evaluation: ' + proto}", ""]
    meta = [f"protocol `{proto}`", f"metric `{result.get('metric', '?')}`"]
    if "gallery_conditions" in result:
        meta.append("gallery " + ", ".join(result["gallery_conditions"]))
    if result.get("source"):
        meta.append(f"source `{result['source']}`")
    lines += ["; ".join(meta), ""]
    sets = result.get("probe_sets", {})
    views = result.get("views", [])
    if sets and sets and "matrix" in next(iter(sets.values())):
        lines += ["## Rank-1 accuracy (%), identical views excluded", ""]
        rows = [[name] + [_fmt(v, digits) for v in e["per_view"]] + [_fmt(e["mean"], digits)] for name, e in sets.items()]
        lines += _table(["Probe"] + list(views) + ["Mean"], rows) + [""]
        for name, e in sets.items():
            if not e.get("num_probes"):
                continue
            lines += [f"### {name} ({', '.join(e['conditions'])}): probe view × gallery view rank-1 (%)", ""]
            rows = [[pv] + [_fmt(v, digits) for v in row] for pv, row in zip(views, e["matrix"])]
            lines += _table(["probe \\ gallery"] + list(views), rows) + [""]
    elif sets:
        measures = [k for k in next(iter(sets.values()))["mean"]]
        for measure in measures:
            lines += [f"## {measure} (%), same subject+view gallery items excluded", ""]
            rows = [[name] + [_fmt(v, digits) for v in e[measure]] + [_fmt(e["mean"][measure], digits)] for name, e in sets.items()]
            lines += _table(["Probe"] + list(views) + ["Mean"], rows) + [""]
    else:
        keys = list(result.get("summary", {}))
        lines += _table(keys + ["#probes", "#gallery"], [[_fmt(result["summary"][k], digits) for k in keys]
                                                         + [str(result.get("num_probes", "-")), str(result.get("num_gallery", "-"))]])
        lines += [""]
    return "\n".join(lines)


def summary_line(result: dict, digits: int = 1) -> str:
    """One line: ``NM 95.1 | BG 88.0 | CL 70.3`` (the headline numbers)."""
    return " | ".join(f"{k} {_fmt(v, digits)}" for k, v in result.get("summary", {}).items())


def write_report(result: dict, out_dir, name: str = "report", title: str | None = None) -> dict:
    """Write ``<out_dir>/<name>.md`` and ``<out_dir>/<name>.json`` atomically.

    Returns ``{"markdown": Path, "json": Path}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out_dir / f"{name}.md", out_dir / f"{name}.json"
    with atomic_write(md_path, "w", encoding="utf-8") as fh:
        fh.write(to_markdown(result, title) + "\n")
    with atomic_write(json_path, "w", encoding="utf-8") as fh:
        json.dump(to_jsonable(result), fh, indent=2, allow_nan=False)
        fh.write("\n")
    return {"markdown": md_path, "json": json_path}
