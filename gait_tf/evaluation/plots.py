"""PNG plots of evaluation results (matplotlib, Agg backend; written atomically).

- :func:`plot_view_heatmap`: probe-view × gallery-view rank-1 matrix of one probe set.
- :func:`plot_view_curves`: per-probe-view accuracy (identical views excluded) of
  NM/BG/CL (or the per-view rank-1 / mAP of the cross-view protocol).
- :func:`plot_embedding_scatter`: 2-D t-SNE (scikit-learn) or PCA of embeddings,
  coloured by subject.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from gait_tf.errors import ConfigError, DataError
from gait_tf.utils.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    plt = _pyplot()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_view_heatmap(result: dict, probe_set: str, path) -> Path:
    """Heatmap of ``result["probe_sets"][probe_set]["matrix"]`` (single-view protocols)."""
    entry = result.get("probe_sets", {}).get(probe_set)
    if entry is None or "matrix" not in entry:
        raise ConfigError(f"result has no probe-view × gallery-view matrix for probe set {probe_set!r}")
    plt = _pyplot()
    views = result["views"]
    m = np.array(entry["matrix"], dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(views), 0.8 + 0.5 * len(views)))
    im = ax.imshow(np.ma.masked_invalid(m), vmin=0, vmax=100, cmap="viridis")
    ax.set_xticks(range(len(views)), views, rotation=90)
    ax.set_yticks(range(len(views)), views)
    ax.set_xlabel("gallery view")
    ax.set_ylabel("probe view")
    ax.set_title(f"{result.get('protocol', '')} {probe_set}: rank-1 (%)")
    if len(views) <= 14:
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                if np.isfinite(m[i, j]):
                    ax.text(j, i, f"{m[i, j]:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if m[i, j] < 60 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _save(fig, path)


def plot_view_curves(result: dict, path, measure: str = "rank-1") -> Path:
    """Accuracy per probe view, one line per probe set (NM/BG/CL); for the cross-view
    protocol ``measure`` (solid) and mAP (dashed)."""
    sets = result.get("probe_sets")
    if not sets:
        raise ConfigError(f"protocol {result.get('protocol')!r} has no per-view results to plot")
    plt = _pyplot()
    views = result["views"]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    x = np.arange(len(views))
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, e) in enumerate(sets.items()):
        color = cycle[i % len(cycle)]
        y = np.array(e["per_view"] if "per_view" in e else e[measure], dtype=float)
        if np.isfinite(y).any():
            ax.plot(x, y, marker="o", color=color, label=name if "per_view" in e else f"{name} {measure}")
        if "per_view" not in e and "mAP" in e and measure != "mAP":
            y = np.array(e["mAP"], dtype=float)
            if np.isfinite(y).any():
                ax.plot(x, y, marker="s", linestyle="--", color=color, label=f"{name} mAP")
    ax.set_xticks(x, views)
    ax.set_xlabel("probe view (degrees)")
    ylabel = "rank-1 (%), identical views excluded" if "per_view" in next(iter(sets.values())) else "accuracy (%)"
    ax.set_ylabel(ylabel)
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(result.get("protocol", ""))
    return _save(fig, path)


def project_2d(embeddings, method: str = "auto", seed: int = 0) -> np.ndarray:
    """Project ``[N, P, D]`` / ``[N, D]`` embeddings to ``[N, 2]`` with t-SNE or PCA.

    method: ``"tsne"``, ``"pca"`` or ``"auto"`` (t-SNE for 5..3000 points, else PCA).
    The embeddings are flattened and L2-normalised first.
    """
    x = np.asarray(embeddings, np.float32).reshape(len(embeddings), -1)
    if len(x) < 2:
        raise DataError(f"need at least 2 embeddings to project, got {len(x)}")
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    if method == "auto":
        method = "tsne" if 5 <= len(x) <= 3000 else "pca"
    if method == "pca":
        from sklearn.decomposition import PCA

        y = PCA(n_components=min(2, x.shape[1]), random_state=seed).fit_transform(x)
        return np.pad(y, ((0, 0), (0, 2 - y.shape[1])))
    if method == "tsne":
        from sklearn.manifold import TSNE

        if x.shape[1] > 50:  # usual practice: PCA to 50 dims first
            from sklearn.decomposition import PCA

            x = PCA(n_components=min(50, len(x)), random_state=seed).fit_transform(x)
        perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3.0)))
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    raise ConfigError(f"unknown projection method {method!r}; choose tsne, pca or auto")


def plot_embedding_scatter(embeddings, subjects, path, method: str = "auto", max_subjects: int = 20,
                           seed: int = 0, title: str | None = None) -> Path:
    """Scatter of embeddings in 2-D coloured by subject (first ``max_subjects`` subjects)."""
    subjects = np.asarray(subjects).astype(str)
    keep_ids = sorted(set(subjects.tolist()))[:max_subjects]
    keep = np.isin(subjects, keep_ids)
    if method == "auto":
        method = "tsne" if 5 <= int(keep.sum()) <= 3000 else "pca"
    y = project_2d(np.asarray(embeddings)[keep], method, seed)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    cmap = plt.get_cmap("tab20")
    palette = [cmap(j) for j in (*range(0, 20, 2), *range(1, 20, 2))]  # dark shades first: neighbours differ
    for i, sid in enumerate(keep_ids):
        sel = subjects[keep] == sid
        ax.scatter(y[sel, 0], y[sel, 1], s=12, color=palette[i % 20], label=sid)
    if len(keep_ids) <= 20:
        ax.legend(fontsize=6, markerscale=1.2, ncol=2, loc="best", title="subject")
    ax.set_title(title or f"embeddings ({'t-SNE' if method == 'tsne' else 'PCA'}), coloured by subject")
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path)


def plot_result(result: dict, out_dir, embeddings=None, subjects=None, method: str = "auto") -> list[Path]:
    """All plots that apply to ``result`` into ``out_dir``; returns the written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    sets = result.get("probe_sets", {})
    for name, e in sets.items():
        if "matrix" in e and e.get("num_probes"):
            paths.append(plot_view_heatmap(result, name, out_dir / f"heatmap_{name}.png"))
    if sets:
        paths.append(plot_view_curves(result, out_dir / "per_view.png"))
    if embeddings is not None and subjects is not None and len(embeddings) >= 2:
        paths.append(plot_embedding_scatter(embeddings, subjects, out_dir / "embeddings.png", method=method))
    return paths
