"""Serving half of the end-to-end demo: export → dev server → enroll and identify over gRPC.

:func:`run_serving_demo` (steps 4-7 of ``gait-tf demo``):

4. export a trained ``.keras`` silhouette model to ``out_dir/saved_models/<name>/<version>``;
5. start the development server on 127.0.0.1 (ephemeral port);
6. enroll the gallery: every enrollment sequence is embedded *through gRPC*
   (:class:`GaitServingClient`) into a :class:`gait_tf.gallery.Gallery`;
7. identify the probes through gRPC and print who was recognised.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gait_tf.errors import DataError, ServingError


def _as_model_input(seq, what: str) -> np.ndarray:
    """uint8 ``[T, 64, 44]`` (a pretreated ``[T, 64, 64]`` is cropped to its central 44 columns)."""
    x = np.asarray(seq)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1] != 64 or x.shape[2] not in (44, 64) or len(x) == 0:
        raise DataError(f"{what}: expected a silhouette sequence [T, 64, 64] or [T, 64, 44] with T >= 1, "
                        f"got shape {list(x.shape)}")
    if x.shape[2] == 64:
        x = x[:, :, 10:54]
    if x.dtype != np.uint8:
        x = np.clip(np.asarray(x, np.float32) * (255.0 if x.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(x)


def _pairs(sequences, what):
    """``{subject: seq | [seq, ...]}``, ``[(subject, seq), ...]`` or ``[(subject, seq, label), ...]``
    → ``[(subject, seq, label)]`` (``label``: how to name the sequence in printed lines, e.g.
    ``"subject 011 bg-01 view 090"``; default ``"subject S #i"``)."""
    items = sequences.items() if isinstance(sequences, dict) else sequences
    out = []
    for item in items:
        if len(item) not in (2, 3):
            raise DataError(f"{what} sequences: expected (subject, sequence[, label]) items, got {len(item)} values")
        subject, seqs = item[0], item[1]
        arr = seqs if isinstance(seqs, (list, tuple)) else [seqs]
        for i, s in enumerate(arr):
            default = f"subject {subject} #{i}" if subject is not None else f"unknown person #{i}"
            label = str(item[2]) if len(item) == 3 else default
            out.append((None if subject is None else str(subject), _as_model_input(s, f"{what} {label}"), label))
    if not out:
        raise DataError(f"no {what} sequences given")
    return out


def run_serving_demo(keras_model_path, enroll_sequences, probe_sequences, out_dir, *, model_name: str = "gaitset",
                     served_name: str | None = None, threshold: float | None = None, progress: bool = True,
                     verbose: bool = True) -> dict:
    """Export ``keras_model_path``, serve it, enroll and identify through gRPC.

    ``enroll_sequences``: ``{subject: sequence or [sequences]}`` or ``[(subject, sequence)]``;
    ``probe_sequences``: ``[(true subject, sequence)]`` or ``[(true subject, sequence, label)]``
    with ``None`` as the subject of a person who was never enrolled; ``label`` names the probe
    in the printed lines (e.g. ``"subject 011 bg-01 view 090"``). Sequences are
    uint8 ``[T, 64, 64]`` (pretreated) or ``[T, 64, 44]``. ``model_name``: the registry name
    (input kind). Writes ``out_dir/saved_models/`` and ``out_dir/serving_gallery.npz``.

    Returns ``{"export": {...}, "server": "127.0.0.1:PORT", "enrolled": n, "subjects": [...],
    "probes": [{"probe", "true", "predicted", "distance", "correct"}], "rank1_accuracy": float | None,
    "seconds": {...}}``.
    """
    from tqdm.auto import tqdm

    from gait_tf.gallery import Gallery
    from gait_tf.serving.client import GaitServingClient
    from gait_tf.serving.devserver import DevServer
    from gait_tf.serving.export import export_model

    def say(msg):
        if verbose:
            print(msg, flush=True)

    out_dir = Path(out_dir)
    enroll = _pairs(enroll_sequences, "enrollment")
    probes = _pairs(probe_sequences, "probe")
    path = Path(keras_model_path)
    if not path.is_file():
        raise ServingError(f"trained model not found: {path}")
    timings = {}

    t0 = time.perf_counter()
    from gait_tf.utils.keras_files import load_keras_model

    model = load_keras_model(path, "trained model", ServingError)
    served_name = served_name or model_name
    result = export_model(model, out_dir / "saved_models" / served_name, model_name=model_name)
    timings["export"] = round(time.perf_counter() - t0, 2)
    say(f"[export] {served_name!r} version {result.version} -> {result.path} "
        f"({', '.join(sorted(result.signatures))})")

    t0 = time.perf_counter()
    with DevServer(out_dir / "saved_models" / "models.config", port=0, rest_port=None, banner=verbose) as server:
        client = GaitServingClient(server.target, served_name, kind="silhouette")
        client.wait_until_available(60).check_signature()
        timings["server_start"] = round(time.perf_counter() - t0, 2)
        say(f"[serve] development server on {server.target}")

        t0 = time.perf_counter()
        embed = lambda seq: client.embed(seq)  # noqa: E731 - one gRPC Predict per sequence
        first = embed(enroll[0][1])
        gallery = Gallery(served_name, first.shape, metric="euc", embed_fn=embed, threshold=threshold)
        bar = tqdm(enroll, desc="enroll (gRPC)", unit="seq", disable=not progress)
        for i, (subject, seq, _) in enumerate(bar):
            gallery.enroll(subject, first if i == 0 else embed(seq))
        timings["enroll"] = round(time.perf_counter() - t0, 2)
        say(f"[enroll] {len(enroll)} sequences of {gallery.num_subjects} subjects")

        t0 = time.perf_counter()
        rows = []
        for true, seq, label in tqdm(probes, desc="identify (gRPC)", unit="seq", disable=not progress):
            ident = gallery.identify(embed(seq), top_k=3)
            rows.append({"probe": label, "true": true, "predicted": ident.identity, "distance": float(ident.distance),
                         "correct": None if true is None else ident.identity == true})
        timings["identify"] = round(time.perf_counter() - t0, 2)
        client.close()

    gallery_path = gallery.save(out_dir / "serving_gallery.npz")
    labelled = [r for r in rows if r["correct"] is not None]
    accuracy = sum(r["correct"] for r in labelled) / len(labelled) if labelled else None
    width = max(len(r["probe"]) for r in rows)
    for r in rows:
        if r["true"] is None:  # never enrolled: "unknown" is the right answer
            mark = " ✓ (rejected)" if r["predicted"] == "unknown" else " ✗ (falsely accepted)"
        else:
            mark = " ✓" if r["correct"] else f" ✗ (was {r['true']})"
        say(f"  probe {r['probe']:<{width}} → {r['predicted']!r} (distance {r['distance']:.3f}){mark}")
    if accuracy is not None:
        say(f"[identify] rank-1 accuracy through gRPC: {accuracy:.1%} ({len(labelled)} probes)")
    return {
        "export": result.to_dict(), "server": server.target, "enrolled": len(enroll),
        "subjects": list(gallery.subjects),
        "probes": rows, "rank1_accuracy": accuracy,
        "gallery": str(gallery_path), "seconds": timings,
    }
