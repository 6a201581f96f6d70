"""Evaluation protocols of the gait papers, on precomputed embeddings.

Every protocol takes ``embeddings`` ``[N, P, D]`` or ``[N, D]`` and numpy string arrays
``subjects`` (``"001"``), ``conditions`` (``"nm-01"``) and ``views`` (``"090"``) of
length ``N``, and returns a JSON-serialisable result dict (accuracies in percent).

Protocols (see docs/evaluation.md):

- ``casia_b`` — single-view gallery (GaitSet/OpenGait): gallery ``nm-01..04``; probe sets
  NM (``nm-05/06``), BG (``bg-01/02``), CL (``cl-01/02``). For each probe view × gallery
  view the gallery holds only that view; rank-1 accuracy fills a ``V × V`` matrix. The
  reported per-view accuracy is a row's mean over the *other* ``V-1`` gallery views, the
  probe set's mean is the mean of those over probe views.
- ``casia_b_mAP`` — cross-view gallery (OpenGait, "A Comprehensive Study on the Evaluation
  of Silhouette-based Gait Recognition"): probes ``nm-01`` / ``bg-01`` / ``cl-01``; gallery
  ``nm-02``, ``bg-02``, ``cl-02`` of all views; for each probe, gallery items of the same
  subject *and* view are dropped. Rank-1, mAP and mINP per probe view and their mean.
- ``oumvlp`` — single-view gallery, probe sequence ``00``, gallery ``01``, 14 views.
- ``gait3d`` / ``grew`` — a probe set against a gallery set: rank-1/5/10, mAP, mINP.
"""
from __future__ import annotations

import numpy as np

from gait_tf.errors import ConfigError, DataError
from gait_tf.evaluation.distance import DEFAULT_GALLERY_CHUNK, DEFAULT_PROBE_CHUNK, as_parts, check_metric, topk
from gait_tf.evaluation.metrics import evaluate_retrieval

CASIA_B_VIEWS = tuple(f"{v:03d}" for v in range(0, 181, 18))
OUMVLP_VIEWS = tuple(f"{v:03d}" for v in (0, 15, 30, 45, 60, 75, 90, 180, 195, 210, 225, 240, 255, 270))

CASIA_B_PROBE_SETS = {"NM": ("nm-05", "nm-06"), "BG": ("bg-01", "bg-02"), "CL": ("cl-01", "cl-02")}
CASIA_B_GALLERY = ("nm-01", "nm-02", "nm-03", "nm-04")
CASIA_B_MAP_PROBE_SETS = {"NM": ("nm-01",), "BG": ("bg-01",), "CL": ("cl-01",)}
CASIA_B_MAP_GALLERY = ("nm-02", "bg-02", "cl-02")
OUMVLP_PROBE_SETS = {"NM": ("00",)}
OUMVLP_GALLERY = ("01",)


def _validate(embeddings, subjects, conditions, views):
    emb = as_parts(embeddings)
    n = len(emb)
    arrays = []
    for name, arr in (("subjects", subjects), ("conditions", conditions), ("views", views)):
        arr = np.asarray(arr).astype(str)
        if arr.shape != (n,):
            raise DataError(f"{name}: expected shape ({n},) to match embeddings {emb.shape}, got {arr.shape}")
        arrays.append(arr)
    if not np.all(np.isfinite(emb)):
        raise DataError("embeddings contain NaN or infinite values")
    return (emb, *arrays)


def _normalise_views(views):
    """'90' / '090' / 90 → '090' so that datasets and protocols agree."""
    out = []
    for v in views:
        s = str(v)
        out.append(f"{int(s):03d}" if s.isdigit() else s)
    return np.asarray(out)


def _view_list(views, view_list):
    present = sorted(set(views.tolist()))
    if view_list is None:
        return present
    view_list = [str(v) for v in view_list]
    return [v for v in view_list if v in present] or present


def de_diag(matrix) -> np.ndarray:
    """Per-row mean of a ``[V, V]`` accuracy matrix excluding the diagonal (identical views).

    NaN cells (no probe or no gallery for that view pair) are ignored.
    """
    m = np.array(matrix, dtype=np.float64, copy=True)
    np.fill_diagonal(m, np.nan)
    with np.errstate(invalid="ignore"):
        counts = np.sum(~np.isnan(m), axis=1)
        sums = np.nansum(m, axis=1)
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _nanmean(x) -> float:
    x = np.asarray(x, np.float64)
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else float("nan")


def _new_result(protocol, metric, views, gallery_conditions) -> dict:
    """The result skeleton shared by the view-matrix protocols; ``probe_sets`` and ``summary``
    are filled by the caller."""
    return {
        "protocol": protocol,
        "metric": metric,
        "views": list(views),
        "gallery_conditions": list(gallery_conditions),
        "probe_sets": {},
        "summary": {},
    }


def single_view_gallery(
    embeddings,
    subjects,
    conditions,
    views,
    probe_sets: dict,
    gallery_conditions,
    metric: str = "euc",
    view_list=None,
    protocol: str = "single_view",
    probe_chunk: int = DEFAULT_PROBE_CHUNK,
    gallery_chunk: int = DEFAULT_GALLERY_CHUNK,
) -> dict:
    """Single-view-gallery rank-1 protocol (generic form of ``casia_b`` / ``oumvlp``).

    probe_sets: ``{"NM": ("nm-05", "nm-06"), ...}``; gallery_conditions: e.g.
    ``("nm-01", ..., "nm-04")``. view_list: the views (columns) in order; defaults to the
    sorted views present. Returns::

        {"protocol", "metric", "views": [V], "gallery_conditions": [...],
         "probe_sets": {"NM": {"conditions": [...], "matrix": [V][V] (probe view × gallery
                               view, rank-1 %, NaN where empty), "per_view": [V] (row mean
                               excluding the identical view), "mean": float,
                               "mean_with_identical": float, "num_probes": int}, ...},
         "summary": {"NM": mean, ...}}
    """
    metric = check_metric(metric)
    emb, subjects, conditions, views = _validate(embeddings, subjects, conditions, views)
    views = _normalise_views(views)
    vlist = _view_list(views, view_list)
    V = len(vlist)
    gallery_mask = np.isin(conditions, list(gallery_conditions))
    all_probe_conditions = sorted({c for conds in probe_sets.values() for c in conds})
    probe_mask = np.isin(conditions, all_probe_conditions)
    probe_idx = np.flatnonzero(probe_mask)
    if probe_idx.size == 0:
        raise DataError(f"{protocol}: no probe sequences with conditions {all_probe_conditions}")
    if not gallery_mask.any():
        raise DataError(f"{protocol}: no gallery sequences with conditions {list(gallery_conditions)}")

    # nearest gallery label of every probe, for each gallery view: [num_probes, V]
    nearest = np.full((probe_idx.size, V), None, dtype=object)
    has_gallery = np.zeros(V, bool)
    probe_emb = emb[probe_idx]
    for g, gview in enumerate(vlist):
        gidx = np.flatnonzero(gallery_mask & (views == gview))
        if gidx.size == 0:
            continue
        has_gallery[g] = True
        idx, _ = topk(probe_emb, emb[gidx], 1, metric, probe_chunk, gallery_chunk)
        nearest[:, g] = subjects[gidx][idx[:, 0]]
    correct = nearest == subjects[probe_idx][:, None]  # [num_probes, V]

    result = _new_result(protocol, metric, vlist, gallery_conditions)
    p_views = views[probe_idx]
    p_conds = conditions[probe_idx]
    for name, conds in probe_sets.items():
        matrix = np.full((V, V), np.nan)
        in_set = np.isin(p_conds, list(conds))
        for pv, pview in enumerate(vlist):
            rows = in_set & (p_views == pview)
            if not rows.any():
                continue
            for g in range(V):
                if has_gallery[g]:
                    matrix[pv, g] = 100.0 * correct[rows, g].mean()
        per_view = de_diag(matrix)
        entry = {
            "conditions": list(conds),
            "matrix": matrix.tolist(),
            "per_view": per_view.tolist(),
            "mean": _nanmean(per_view),
            "mean_with_identical": _nanmean(matrix),
            "num_probes": int(in_set.sum()),
        }
        result["probe_sets"][name] = entry
        result["summary"][name] = entry["mean"]
    return result


def casia_b(embeddings, subjects, conditions, views, metric="euc", view_list=CASIA_B_VIEWS, **kw) -> dict:
    """CASIA-B single-view gallery protocol (gallery nm-01..04; probes NM/BG/CL).

    See :func:`single_view_gallery` for the result layout; ``summary`` holds the
    NM/BG/CL rank-1 means excluding identical views, the numbers the papers print.
    """
    return single_view_gallery(
        embeddings, subjects, conditions, views, CASIA_B_PROBE_SETS, CASIA_B_GALLERY,
        metric=metric, view_list=view_list, protocol="casia_b", **kw,
    )


def oumvlp(embeddings, subjects, conditions, views, metric="euc", view_list=OUMVLP_VIEWS, **kw) -> dict:
    """OU-MVLP single-view gallery protocol: probe sequence ``00``, gallery ``01``, 14 views.

    Conditions may be ``"00"`` / ``"01"`` or end in ``-00`` / ``-01`` (e.g. ``"nm-00"``).
    """
    conditions = np.asarray(conditions).astype(str)
    conditions = np.asarray([c.rsplit("-", 1)[-1] for c in conditions])
    return single_view_gallery(
        embeddings, subjects, conditions, views, OUMVLP_PROBE_SETS, OUMVLP_GALLERY,
        metric=metric, view_list=view_list, protocol="oumvlp", **kw,
    )


def cross_view_gallery(
    embeddings,
    subjects,
    conditions,
    views,
    probe_sets: dict = None,
    gallery_conditions=CASIA_B_MAP_GALLERY,
    metric: str = "euc",
    view_list=CASIA_B_VIEWS,
    protocol: str = "casia_b_mAP",
    ranks=(1,),
    probe_chunk: int = DEFAULT_PROBE_CHUNK,
    gallery_chunk: int = DEFAULT_GALLERY_CHUNK,
) -> dict:
    """Cross-view-gallery protocol (default: CASIA-B mAP protocol of OpenGait).

    For each probe set and probe view: probes of those conditions and view against the
    whole gallery (``gallery_conditions``, all views) with the gallery items of the same
    subject and view as the probe removed. Returns::

        {"protocol", "metric", "views", "gallery_conditions",
         "probe_sets": {"NM": {"conditions", "rank-1": [V], "mAP": [V], "mINP": [V],
                               "mean": {"rank-1", "mAP", "mINP"}, "num_probes"}, ...},
         "summary": {"NM-rank-1": .., "NM-mAP": .., ...}}

    Per-view values are over probes with at least one valid gallery match; the means
    are over views.
    """
    metric = check_metric(metric)
    probe_sets = probe_sets or CASIA_B_MAP_PROBE_SETS
    emb, subjects, conditions, views = _validate(embeddings, subjects, conditions, views)
    views = _normalise_views(views)
    vlist = _view_list(views, view_list)
    gidx = np.flatnonzero(np.isin(conditions, list(gallery_conditions)))
    if gidx.size == 0:
        raise DataError(f"{protocol}: no gallery sequences with conditions {list(gallery_conditions)}")
    keys = [f"rank-{k}" for k in ranks] + ["mAP", "mINP"]
    result = _new_result(protocol, metric, vlist, gallery_conditions)
    any_probe = False
    for name, conds in probe_sets.items():
        per = {k: [] for k in keys}
        total = 0
        for pview in vlist:
            pidx = np.flatnonzero(np.isin(conditions, list(conds)) & (views == pview))
            if pidx.size == 0:
                for k in keys:
                    per[k].append(float("nan"))
                continue
            r = evaluate_retrieval(
                emb[pidx], emb[gidx], subjects[pidx], subjects[gidx], metric, ranks,
                views[pidx], views[gidx], probe_chunk, gallery_chunk,
            )
            total += r["num_probes"]
            for k in keys:
                per[k].append(r[k])
        any_probe = any_probe or total > 0
        entry = {"conditions": list(conds), **per, "mean": {k: _nanmean(per[k]) for k in keys}, "num_probes": total}
        result["probe_sets"][name] = entry
        for k in keys:
            result["summary"][f"{name}-{k}"] = entry["mean"][k]
    if not any_probe:
        raise DataError(f"{protocol}: no probe sequence has a valid gallery match")
    return result


def casia_b_map(embeddings, subjects, conditions, views, metric="euc", **kw) -> dict:
    """CASIA-B cross-view-gallery mAP protocol (probes nm-01/bg-01/cl-01; gallery
    nm-02, bg-02, cl-02 of all views; same subject+view gallery items dropped)."""
    return cross_view_gallery(embeddings, subjects, conditions, views, metric=metric, **kw)


def probe_gallery(
    embeddings,
    subjects,
    conditions,
    views,
    probe_mask=None,
    probe_conditions=("probe",),
    gallery_conditions=None,
    metric: str = "euc",
    ranks=(1, 5, 10),
    exclude_same_view: bool = False,
    protocol: str = "gait3d",
    probe_chunk: int = DEFAULT_PROBE_CHUNK,
    gallery_chunk: int = DEFAULT_GALLERY_CHUNK,
) -> dict:
    """Probe set vs gallery set (Gait3D / GREW style): rank-1/5/10, mAP, mINP (percent).

    The probe set is ``probe_mask`` (bool ``[N]``) if given, else the sequences whose
    condition is in ``probe_conditions``. The gallery is the rest, or the sequences whose
    condition is in ``gallery_conditions`` when given. ``exclude_same_view`` drops, per
    probe, gallery items of the same subject and view (camera).

    Returns ``{"protocol", "metric", "rank-1", "rank-5", "rank-10", "mAP", "mINP",
    "num_probes", "num_gallery", "num_skipped", "summary": {...}}``.
    """
    metric = check_metric(metric)
    emb, subjects, conditions, views = _validate(embeddings, subjects, conditions, views)
    if probe_mask is None:
        probe_mask = np.isin(conditions, list(probe_conditions))
    probe_mask = np.asarray(probe_mask, bool)
    if probe_mask.shape != (len(emb),):
        raise DataError(f"probe_mask: expected shape ({len(emb)},), got {probe_mask.shape}")
    if gallery_conditions is None:
        gallery_mask = ~probe_mask
    else:
        gallery_mask = np.isin(conditions, list(gallery_conditions)) & ~probe_mask
    if not probe_mask.any():
        raise DataError(f"{protocol}: no probe sequences (probe conditions {list(probe_conditions)})")
    if not gallery_mask.any():
        raise DataError(f"{protocol}: no gallery sequences")
    pv = views[probe_mask] if exclude_same_view else None
    gv = views[gallery_mask] if exclude_same_view else None
    r = evaluate_retrieval(
        emb[probe_mask], emb[gallery_mask], subjects[probe_mask], subjects[gallery_mask],
        metric, ranks, pv, gv, probe_chunk, gallery_chunk,
    )
    keys = [f"rank-{k}" for k in ranks] + ["mAP", "mINP"]
    return {
        "protocol": protocol,
        "metric": metric,
        **r,
        "num_gallery": int(gallery_mask.sum()),
        "summary": {k: r[k] for k in keys},
    }


def gait3d(embeddings, subjects, conditions, views, metric="euc", **kw) -> dict:
    """Gait3D-style probe vs gallery (probes: condition ``"probe"`` or ``probe_mask``)."""
    kw.setdefault("protocol", "gait3d")
    return probe_gallery(embeddings, subjects, conditions, views, metric=metric, **kw)


def grew(embeddings, subjects, conditions, views, metric="euc", **kw) -> dict:
    """GREW-style probe vs gallery: gallery condition ``01``, probes ``02`` (OpenGait's split)."""
    kw.setdefault("probe_conditions", ("02",))
    kw.setdefault("gallery_conditions", ("01",))
    kw.setdefault("protocol", "grew")
    return probe_gallery(embeddings, subjects, conditions, views, metric=metric, **kw)


PROTOCOLS = {
    "casia_b": casia_b,
    "casia_b_mAP": casia_b_map,
    "oumvlp": oumvlp,
    "gait3d": gait3d,
    "grew": grew,
}


def evaluate(protocol: str, embeddings, subjects, conditions, views, metric: str = "euc", **kwargs) -> dict:
    """Run protocol ``protocol`` (one of :data:`PROTOCOLS`) and return its result dict."""
    key = {k.lower(): k for k in PROTOCOLS}.get(str(protocol).lower())
    if key is None:
        raise ConfigError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[key](embeddings, subjects, conditions, views, metric=metric, **kwargs)
