"""Draw the 3D Local CNN's localized part volumes over a silhouette sequence (PNG).

    python scripts/plot_local3d_volumes.py --out docs/figures/local3d_volumes.png
    python scripts/plot_local3d_volumes.py --weights runs/local3d_synthetic/model.keras --out v.png
    python scripts/plot_local3d_volumes.py --checkpoint official.pt --out v.png   # official weights

One synthetic walker (``gait_tf.synth.WalkerGenerator``), pretreated with
``gait_tf.data.pretreat.pretreat_sequence`` (64 x 64, central 44 columns), is fed to a
``local3d`` model (seeded random init unless ``--weights`` / ``--checkpoint``; BatchNorm in
inference mode). For each of the six parts (head, torso, left/right arm, left/right leg) the
localization network's outputs give the sampled box (centre, stride, size; feature pixels
x 4 = input pixels) and the sampled frames; the figure shows ``--frames`` input frames with
one coloured rectangle per part, solid on the frames inside the part's temporal window and
dashed outside it, its opacity the part's confidence gamma (like the paper's figure of
coloured patches per part). ``--json`` writes the boxes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

COLOURS = {"head": "#e41a1c", "torso": "#377eb8", "armL": "#4daf4a", "armR": "#984ea3",
           "legL": "#ff7f00", "legR": "#a65628"}
STRIDE = 4  # input pixels per feature pixel (64 x 44 -> 16 x 11)


def walker_sequence(subject=1, condition="nm-01", view=90, seed=0, image_size=(240, 320)):
    """``float32 [1, T, 64, 44, 1]`` in [0, 1]: one pretreated synthetic walker."""
    import numpy as np

    from gait_tf.data.pretreat import pretreat_sequence
    from gait_tf.synth import WalkerGenerator

    seq = WalkerGenerator(seed=seed, image_size=tuple(image_size)).sequence(subject, condition, view)
    sils = pretreat_sequence(seq.silhouettes)[:, :, 10:54]
    return (sils.astype(np.float32) / 255.0)[None, ..., None]


def load_model(weights=None, checkpoint=None, sampler="mix", seed=0):
    import keras

    from gait_tf import models

    if weights:
        models.list_models()  # registers the custom layers
        return keras.saving.load_model(weights)
    if checkpoint:
        from gait_tf.convert import convert_checkpoint

        return convert_checkpoint(checkpoint, model="local3d", sampler=sampler)
    keras.utils.set_random_seed(seed)
    return models.create("local3d", sampler=sampler)


def part_volumes(model, x):
    """Per part: ``{"box": [x0, y0, x1, y1] input pixels, "t": [T] sampled frame positions,
    "gamma": float}`` for the sequence ``x`` ``[1, T, 64, 44, 1]``."""
    import keras
    import numpy as np

    from gait_tf.models.local3d_ops import PART_NAMES, PART_PRIORS, locate

    sampler = model.get_layer(f"{PART_NAMES[0]}_sampler")
    mode = sampler.mode
    probe = keras.Model(model.input, [model.get_layer(f"{p}_loc_fc_bn").output for p in PART_NAMES])
    params = [np.asarray(p) for p in probe(x, training=False)]
    t = x.shape[1] if x.shape[1] >= 2 else 2  # the model repeats a single frame
    h, w = x.shape[2] // STRIDE, x.shape[3] // STRIDE
    out = {}
    for part, prm in zip(PART_NAMES, params):
        mu_t, mu_y, mu_x, _, gamma = (np.asarray(v) for v in locate(prm, PART_PRIORS[part], t, h, w, mode))
        step_y = (mu_y[0, -1] - mu_y[0, 0]) / max(mu_y.shape[1] - 1, 1)
        step_x = (mu_x[0, -1] - mu_x[0, 0]) / max(mu_x.shape[1] - 1, 1)
        box = [(mu_x[0, 0] - step_x / 2 + 0.5) * STRIDE, (mu_y[0, 0] - step_y / 2 + 0.5) * STRIDE,
               (mu_x[0, -1] + step_x / 2 + 0.5) * STRIDE, (mu_y[0, -1] + step_y / 2 + 0.5) * STRIDE]
        out[part] = {"box": [float(v) for v in box], "t": [float(v) for v in mu_t[0]], "gamma": float(gamma[0])}
    return out


def draw(x, volumes, frames, out_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Rectangle

    from gait_tf.utils.atomic import atomic_path

    seq = x[0, ..., 0]
    idx = np.unique(np.linspace(0, len(seq) - 1, frames).round().astype(int))
    fig, axes = plt.subplots(1, len(idx), figsize=(1.3 * len(idx), 2.6), squeeze=False)
    for ax, t in zip(axes[0], idx):
        ax.imshow(seq[t], cmap="gray", vmin=0, vmax=1)
        for part, v in volumes.items():
            x0, y0, x1, y1 = v["box"]
            ts = np.asarray(v["t"])
            inside = bool(np.any(np.abs(ts - t) < 1.0))
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.4, color=COLOURS[part],
                                   alpha=0.35 + 0.65 * v["gamma"], ls="-" if inside else "--"))
        ax.set_title(f"t={t}", fontsize=7)
        ax.axis("off")
    handles = [Rectangle((0, 0), 1, 1, color=c, fill=False) for c in COLOURS.values()]
    fig.legend(handles, list(COLOURS), loc="lower center", ncol=6, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output PNG")
    ap.add_argument("--weights", help="a local3d .keras model (default: seeded random init)")
    ap.add_argument("--checkpoint", help="an official PyTorch checkpoint (converted on the fly)")
    ap.add_argument("--sampler", default="mix", choices=("mix", "trilinear", "gaussian"))
    ap.add_argument("--frames", type=int, default=8, help="frames shown (evenly spaced)")
    ap.add_argument("--subject", type=int, default=1)
    ap.add_argument("--condition", default="nm-01")
    ap.add_argument("--view", type=int, default=90)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the part boxes as JSON")
    args = ap.parse_args(argv)

    x = walker_sequence(args.subject, args.condition, args.view, seed=args.seed)
    model = load_model(args.weights, args.checkpoint, args.sampler, args.seed)
    volumes = part_volumes(model, x)
    draw(x, volumes, args.frames, args.out)
    for part, v in volumes.items():
        print(f"{part:6s} box(x0,y0,x1,y1)=({', '.join(f'{c:.1f}' for c in v['box'])}) "
              f"frames {min(v['t']):.1f}..{max(v['t']):.1f} gamma={v['gamma']:.2f}")
    if args.json:
        from gait_tf.utils.atomic import atomic_write

        with atomic_write(args.json, "w") as fh:
            json.dump({"frames": int(x.shape[1]), "volumes": volumes}, fh, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
