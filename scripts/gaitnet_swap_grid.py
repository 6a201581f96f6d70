"""Save a PNG grid that swaps appearance and pose between two subjects with a GaitNet decoder.

    python scripts/gaitnet_swap_grid.py --model runs/gaitnet_synthetic/model.keras \
        --subjects 17 18 --out docs/figures/gaitnet_swap_grid.png
    python scripts/gaitnet_swap_grid.py --random-init --out /tmp/grid.png   # untrained, smoke test

Rows (columns = frames t_0 .. t_{n-1} of each walk):
  1. subject A (input)            2. subject B (input)
  3. D(f_a(A[0]), f_g(A[t]))  A reconstructed from its first frame's appearance
  4. D(f_a(B[0]), f_g(B[t]))
  5. D(f_a(A[0]), f_g(B[t]))  A's appearance walking with B's pose
  6. D(f_a(B[0]), f_g(A[t]))  B's appearance walking with A's pose
The walkers are rendered with the options of ``--config`` (``data.synthetic``, default the
gaitnet_synthetic recipe) for the given subjects, condition and view. Prints the mean
squared reconstruction error of rows 3-4 against rows 1-2.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
ROWS = ["A (input)", "B (input)", "A: f_a(A) + f_g(A)", "B: f_a(B) + f_g(B)", "f_a(A) + f_g(B)",
        "f_a(B) + f_g(A)"]


def swap_grid(model, walkers, subject_a, subject_b, condition, view, n_frames=8):
    """``(grid uint8 [6*H, n*W, 3], recon_mse)`` for a :class:`~gait_tf.models.gaitnet.GaitNet`."""
    import numpy as np

    keys = [(f"{int(s):03d}", condition, f"{int(view):03d}") for s in (subject_a, subject_b)]
    for k in keys:
        if k not in walkers.sequences:
            from gait_tf.errors import DataError

            raise DataError(f"no rendered sequence {k}; rendered: {sorted(walkers.sequences)[:4]}...")
    seqs = [walkers.frames_of(k)[0] for k in keys]
    t = min(len(s) for s in seqs)
    idx = np.linspace(0, t - 1, n_frames).round().astype(int)
    xa, xb = (s[idx][None] for s in seqs)  # [1, n, H, W, 3]
    fa_a, fg_a = model.encode_frames(xa, training=False)
    fa_b, fg_b = model.encode_frames(xb, training=False)

    def dec(fa, fg):
        fa0 = np.repeat(np.asarray(fa)[:, :1], n_frames, axis=1)
        return np.asarray(model.decode(fa0, fg, training=False))[0]

    rows = [xa[0], xb[0], dec(fa_a, fg_a), dec(fa_b, fg_b), dec(fa_a, fg_b), dec(fa_b, fg_a)]
    mse = float(np.mean([(rows[2] - rows[0]) ** 2, (rows[3] - rows[1]) ** 2]))
    grid = np.concatenate([np.concatenate(list(r), axis=1) for r in rows], axis=0)
    return (np.clip(grid, 0, 1) * 255).round().astype(np.uint8), mse


def render_png(grid, frame_hw, path, scale=3):
    """Write the grid with row labels as a PNG (atomically)."""
    from PIL import Image, ImageDraw

    from gait_tf.utils import atomic_write

    h = frame_hw[0]
    img = Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    label_w = 150
    canvas = Image.new("RGB", (img.width + label_w, img.height), (255, 255, 255))
    canvas.paste(img, (label_w, 0))
    draw = ImageDraw.Draw(canvas)
    for i, text in enumerate(ROWS):
        draw.text((4, i * h * scale + h * scale // 2 - 6), text, fill=(0, 0, 0))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return canvas.size


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="trained GaitNet .keras file")
    src.add_argument("--random-init", action="store_true", help="an untrained GaitNet (--preset)")
    ap.add_argument("--preset", default="small", help="preset for --random-init (default small)")
    ap.add_argument("--config", default=str(REPO / "training/configs/gaitnet_synthetic.yaml"),
                    help="recipe whose data.synthetic render options are used")
    ap.add_argument("--subjects", nargs=2, type=int, default=[17, 18], metavar=("A", "B"))
    ap.add_argument("--condition", default="nm-01")
    ap.add_argument("--view", default="090")
    ap.add_argument("--frames", type=int, default=8, help="columns (frames sampled evenly)")
    ap.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                    help="override the render size of the recipe")
    ap.add_argument("--cache", default=None, help="render cache folder (default: the recipe's)")
    ap.add_argument("--out", required=True, help="output PNG")
    args = ap.parse_args(argv)

    import keras
    import yaml

    from gait_tf import models
    from gait_tf.errors import GaitTFError, ModelError
    from gait_tf.models.gaitnet import GaitNet
    from gait_tf.train.rgb import SYNTH_DEFAULTS, RGBWalkers

    try:
        models.list_models()
        if args.model:
            if not Path(args.model).is_file():
                raise ModelError(f"--model: file not found: {args.model}")
            model = keras.saving.load_model(args.model, compile=False)
            if not isinstance(model, GaitNet):
                raise ModelError(f"--model {args.model}: not a GaitNet model ({type(model).__name__})")
        else:
            model = models.create("gaitnet", preset=args.preset)
        raw = yaml.safe_load(Path(args.config).read_text()) if args.config else {}
        opts = dict(SYNTH_DEFAULTS, **((raw.get("data") or {}).get("synthetic") or {}))
        opts.update(subjects=list(args.subjects), conditions=args.condition, views=args.view)
        if args.image_size:
            opts["image_size"] = list(args.image_size)
        root = opts.pop("root")
        walkers = RGBWalkers(out_hw=model.input_hw, cache_dir=args.cache or root, **opts)
        grid, mse = swap_grid(model, walkers, *args.subjects, args.condition, args.view, args.frames)
        size = render_png(grid, model.input_hw, args.out)
    except GaitTFError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"out": str(args.out), "size": list(size), "reconstruction_mse": round(mse, 5),
                      "subjects": args.subjects, "condition": args.condition, "view": args.view}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
