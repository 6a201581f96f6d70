"""Render the segmentation -> 3D-CNN stem's feature maps with and without segmentation.

    python scripts/stem_feature_maps.py --out docs/figures/stem_feature_maps.png [--json out.json]
    python scripts/stem_feature_maps.py --model runs/seg3d_synthetic/model.keras --out ...  # trained stem

One synthetic walker on a moving, textured background (``gait_tf.synth``, background
"moving"), person-centred crops of ``--crop`` pixels. Rows: frames; columns: RGB input,
person mask, stem output (channel 0 of ``|feature|``) without segmentation, and with
segmentation (RGB x mask). The same stem weights are used in both cases (seeded random
init, or the ``stem`` layer of a trained seg3d model), BatchNorm in inference mode.

Prints (and writes with ``--json``) the mean feature energy ``mean(f^2)`` over stem
cells outside the person (cells whose whole receptive field is background: the mask
dilated by the stem's receptive field, downsampled) and inside the person, with and
without segmentation, plus the share of the total energy that lies outside.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

RECEPTIVE_FIELD = 11  # conv 7x7 stride 2, then pool 3x3 stride 2: 7 + 2 * (3 - 1) = 11 input pixels


def walker_clip(subject=1, condition="nm-01", view=90, frames=4, image_size=(240, 320), crop=(128, 88), seed=0):
    """``(rgb float32 [1, T, h, w, 3] in [0, 1], mask float32 [1, T, h, w, 1])``: person-centred
    crops of one walker on the moving textured background."""
    import numpy as np

    from gait_tf.synth import WalkerGenerator
    from gait_tf.train.rgb import crop_person

    gen = WalkerGenerator(seed=seed, image_size=tuple(image_size), background="moving")
    seq = gen.sequence(subject=subject, condition=condition, view=view, n_frames=max(frames * 3, 6))
    idx = np.linspace(0, len(seq.rgb) - 1, frames).round().astype(int)
    rgb, mask = crop_person(seq.rgb[idx], seq.masks[idx], crop)
    return rgb[None].astype(np.float32) / 255.0, mask[None, ..., None].astype(np.float32)


def outside_cells(mask, out_hw):
    """``bool [B, T, h', w']``: stem cells whose receptive field holds no person pixel."""
    import cv2
    import numpy as np

    kernel = np.ones((RECEPTIVE_FIELD, RECEPTIVE_FIELD), np.uint8)
    m = mask[..., 0]
    out = np.zeros(m.shape[:2] + tuple(out_hw), bool)
    for b in range(m.shape[0]):
        for t in range(m.shape[1]):
            grown = cv2.dilate((m[b, t] > 0).astype(np.uint8), kernel)
            small = cv2.resize(grown, (out_hw[1], out_hw[0]), interpolation=cv2.INTER_AREA)
            out[b, t] = small == 0
    return out


def stem_energy(stem, rgb, mask):
    """Feature maps and energies with / without segmentation (same stem weights).

    Returns ``(maps, stats)``: ``maps = {"without": [B, T, h', w', F], "with": ...}`` and
    ``stats[mode] = {"outside": mean f^2 outside, "inside": mean f^2 inside the person,
    "outside_share": outside energy / total}``.
    """
    import numpy as np

    maps = {"without": np.asarray(stem(rgb, training=False)),
            "with": np.asarray(stem(rgb, mask, training=False))}
    outside = outside_cells(mask, maps["with"].shape[2:4])
    import cv2

    inside = np.zeros_like(outside)
    for b in range(mask.shape[0]):
        for t in range(mask.shape[1]):
            inside[b, t] = cv2.resize(mask[b, t, :, :, 0], (outside.shape[3], outside.shape[2]),
                                      interpolation=cv2.INTER_AREA) > 0.5
    stats = {}
    for mode, f in maps.items():
        e = (f ** 2).mean(axis=-1)
        stats[mode] = {"outside": float(e[outside].mean()), "inside": float(e[inside].mean()),
                       "outside_share": float(e[outside].sum() / max(e.sum(), 1e-12))}
    return maps, stats


def render(rgb, mask, maps, stats, path, dpi=110):
    """A PNG: rows = frames; columns = RGB, mask, |stem| without / with segmentation (atomic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from gait_tf.utils import atomic_write

    t = rgb.shape[1]
    fig, axes = plt.subplots(t, 4, figsize=(7.2, 2.3 * t), squeeze=False)
    vmax = max(float(np.abs(maps[m][0, ..., 0]).max()) for m in maps) or 1.0
    titles = ["RGB (moving background)", "person mask",
              f"stem, no segmentation\noutside energy {stats['without']['outside']:.3g}",
              f"stem, with segmentation\noutside energy {stats['with']['outside']:.3g}"]
    for i in range(t):
        panels = [rgb[0, i], mask[0, i, :, :, 0], np.abs(maps["without"][0, i, :, :, 0]),
                  np.abs(maps["with"][0, i, :, :, 0])]
        for j, img in enumerate(panels):
            ax = axes[i, j]
            if j == 0:
                ax.imshow(img)
            elif j == 1:
                ax.imshow(img, cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(img, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())


def make_stem(model_path=None, filters=1, seed=0, input_hw=(128, 88)):
    """A built :class:`SegmentationStem3D`: the ``stem`` layer of a trained seg3d model, or a
    seeded random one (BatchNorm statistics at their init: mean 0, variance 1)."""
    import keras

    from gait_tf import models
    from gait_tf.errors import ModelError
    from gait_tf.models.stems import SegmentationStem3D

    if model_path:
        models.list_models()
        if not Path(model_path).is_file():
            raise ModelError(f"--model: file not found: {model_path}")
        model = keras.saving.load_model(model_path, compile=False)
        try:
            trained = model.get_layer("stem")
        except ValueError:
            raise ModelError(f"--model {model_path}: no layer named 'stem' (not a seg3d model)") from None
        stem = SegmentationStem3D(filters=trained.filters, use_segmentation=True)
        stem.build((None, None, *input_hw, 3))
        stem.set_weights(trained.get_weights())
        return stem
    keras.utils.set_random_seed(seed)
    stem = SegmentationStem3D(filters=filters, use_segmentation=True)
    stem.build((None, None, *input_hw, 3))
    return stem


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output PNG")
    ap.add_argument("--json", default=None, help="also write the energies as JSON")
    ap.add_argument("--model", default=None, help="trained seg3d .keras (default: seeded random stem)")
    ap.add_argument("--filters", type=int, default=1, help="stem filters for the random stem (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--subject", type=int, default=1)
    ap.add_argument("--view", type=int, default=90)
    ap.add_argument("--frames", type=int, default=3, help="rows")
    ap.add_argument("--image-size", type=int, nargs=2, default=[240, 320], metavar=("H", "W"))
    ap.add_argument("--crop", type=int, nargs=2, default=[128, 88], metavar=("H", "W"))
    args = ap.parse_args(argv)

    from gait_tf.errors import GaitTFError
    from gait_tf.utils import write_json

    try:
        rgb, mask = walker_clip(args.subject, "nm-01", args.view, args.frames, args.image_size, args.crop, args.seed)
        stem = make_stem(args.model, args.filters, args.seed, tuple(args.crop))
        maps, stats = stem_energy(stem, rgb, mask)
        render(rgb, mask, maps, stats, args.out)
    except GaitTFError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = {"out": str(args.out), "crop": args.crop, "frames": args.frames, "stem": args.model or "random",
              **{f"{mode}_segmentation": v for mode, v in (("without", stats["without"]), ("with", stats["with"]))}}
    print(f"{'':22s}{'outside energy':>16s}{'inside energy':>16s}{'outside share':>15s}")
    for mode in ("without", "with"):
        s = stats[mode]
        print(f"{mode + ' segmentation':22s}{s['outside']:16.5g}{s['inside']:16.5g}{s['outside_share']:15.3f}")
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
