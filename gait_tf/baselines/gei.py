"""Gait Energy Image (GEI) + nearest-neighbour baseline (Han & Bhanu, 2006).

GEI = the per-pixel mean of the pretreated, height-normalised and centred silhouettes
of a sequence (``[T, 64, 44]`` in [0, 1] -> ``[64, 44]``). Identification: Euclidean
nearest neighbour between flattened GEIs, evaluated with the CASIA-B single-view
protocol of :func:`gait_tf.evaluation.casia_b` (gallery nm-01..04; probes NM, BG, CL;
rank-1 per probe view x gallery view, mean excluding identical views).
"""
from __future__ import annotations

import numpy as np

from gait_tf.data.pretreat import cut_width, pretreat_sequence
from gait_tf.errors import DataError
from gait_tf.synth.dataset import run_tasks


def gait_energy_image(pretreated) -> np.ndarray:
    """``uint8 [T, 64, 64]`` pretreated sequence -> ``float32 [64, 44]`` GEI in [0, 1]."""
    seq = np.asarray(pretreated)
    if seq.ndim != 3 or len(seq) == 0:
        raise DataError(f"gait_energy_image: expected a pretreated sequence [T, 64, 64], got {seq.shape}")
    return cut_width(seq).astype(np.float32).mean(0) / 255.0


def gei_features(sequences) -> np.ndarray:
    """Iterable of pretreated sequences -> ``float32 [N, 64*44]`` flattened GEIs."""
    return np.stack([gait_energy_image(s).ravel() for s in sequences])


def _gei_task(args):
    seed, image_size, subject, condition, view, n_frames = args
    from gait_tf.synth import WalkerGenerator

    seq = WalkerGenerator(seed=seed, image_size=image_size).sequence(subject, condition, view,
                                                                    n_frames=n_frames, rgb=False)
    return gait_energy_image(pretreat_sequence(seq.silhouettes)).ravel(), len(seq)


def synth_gei_dataset(subjects, conditions=None, views=None, seed=0, image_size=(120, 160), n_frames=None,
                      workers=1, progress=False):
    """Generate synthetic walkers and return their GEIs and labels.

    Returns ``(geis float32 [N, 2816], subjects [N] str, conditions [N] str, views [N] str,
    frames int [N])``. Deterministic regardless of ``workers``.
    """
    from gait_tf.synth import CONDITIONS, VIEWS

    conditions = list(conditions or CONDITIONS)
    views = list(views or VIEWS)
    tasks = [(seed, tuple(image_size), int(s), c, v, n_frames) for s in subjects for c in conditions for v in views]
    results = run_tasks(_gei_task, tasks, workers=workers, progress=progress, desc="GEI")
    geis = np.stack([r[0] for r in results]).astype(np.float32)
    frames = np.asarray([r[1] for r in results])
    return (geis, np.asarray([f"{t[2]:03d}" for t in tasks]), np.asarray([t[3] for t in tasks]),
            np.asarray([f"{int(t[4]):03d}" for t in tasks]), frames)


def run_gei_baseline(subjects, seed=0, image_size=(120, 160), n_frames=None, workers=1, progress=False,
                     views=None) -> dict:
    """Synthesise ``subjects``, compute GEIs, evaluate the CASIA-B protocol (Euclidean NN).

    Returns the :func:`gait_tf.evaluation.casia_b` result dict plus ``settings``.
    """
    from gait_tf.evaluation import casia_b

    geis, subj, cond, view, frames = synth_gei_dataset(subjects, seed=seed, image_size=image_size,
                                                       n_frames=n_frames, workers=workers, progress=progress,
                                                       views=views)
    result = casia_b(geis, subj, cond, view, metric="euc")
    result["settings"] = {
        "subjects": [int(s) for s in subjects], "seed": seed, "image_size": list(image_size),
        "n_frames": n_frames, "sequences": int(len(geis)), "frames": int(frames.sum()),
        "mean_frames": float(frames.mean()), "feature": "GEI 64x44, Euclidean nearest neighbour",
    }
    return result
