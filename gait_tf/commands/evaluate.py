"""``gait-tf evaluate``: run a protocol (CASIA-B, CASIA-B mAP, OU-MVLP, Gait3D/GREW) on a
model over a dataset, or on precomputed embeddings; print the table and write a report.

Examples::

    gait-tf evaluate --model runs/gaitset.keras --data data/casia_b_pkl --protocol casia_b \\
        --partition LT --out reports/gaitset
    gait-tf evaluate --embeddings emb.npz --protocol casia_b_mAP --out reports/x
    gait-tf evaluate --model runs/gaitnet/model.keras --synthetic-rgb 75-90 --out reports/gaitnet

``--synthetic-rgb SUBJECTS`` evaluates an RGB-sequence model (GaitNet, seg3d) on synthetic RGB
walkers of those subjects (every condition, ``--synthetic-views``; person-centred crops over
a moving textured background, as the RGB models train), with the same protocols.

``--out`` receives ``report.md``, ``report.json``, PNG plots and (with a model)
``embeddings.npz``. The embeddings file holds ``embeddings`` [N, P, D] (or [N, D]) and string
arrays ``subjects``, ``conditions``, ``views``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from gait_tf.argtypes import positive_int

PROTOCOL_CHOICES = ("casia_b", "casia_b_mAP", "oumvlp", "gait3d", "grew")


def register(subparsers):
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a model or embeddings with a paper protocol (rank-1 per view, mAP, mINP)",
        description=__doc__,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", metavar="M.keras", help="a saved Keras model (output dict with 'embeddings')")
    src.add_argument("--embeddings", metavar="FILE.npz", help="precomputed embeddings instead of a model")
    p.add_argument("--data", metavar="ROOT", help="dataset root (with --model, unless --synthetic-rgb)")
    p.add_argument("--synthetic-rgb", metavar="SUBJECTS", default=None,
                   help="RGB models: evaluate on synthetic RGB walkers of these subjects (e.g. 75-90)")
    p.add_argument("--synthetic-views", default="all", help="views of --synthetic-rgb (default all 11)")
    p.add_argument("--synthetic-frames", type=positive_int, default=30, help="frames per --synthetic-rgb sequence")
    p.add_argument("--synthetic-cache", default=None, metavar="DIR",
                   help="cache the rendered --synthetic-rgb walkers here (.npz)")
    p.add_argument("--layout", default="auto", choices=["auto", "opengait", "casia_b", "oumvlp"],
                   help="dataset layout (default: detect)")
    p.add_argument("--partition", default=None,
                   help="evaluate only the test subjects of this partition (LT/MT/ST or a JSON path)")
    p.add_argument("--protocol", default="casia_b", choices=PROTOCOL_CHOICES, help="protocol (default casia_b)")
    p.add_argument("--metric", default="euc", choices=["euc", "cos"], help="distance (default euc)")
    p.add_argument("--out", metavar="DIR", default=None, help="write report.md/.json and plots here")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--scatter", default="auto", choices=["auto", "tsne", "pca", "none"],
                   help="2-D projection of the embeddings scatter (default: t-SNE up to 3000 points)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _embeddings_from_model(args):
    """-> (embeddings dict, model identity)"""
    from gait_tf.data import get_partition, load_dataset
    from gait_tf.errors import ConfigError, DataError, ModelError
    from gait_tf.evaluation.embed import embed_dataset, load_model, model_identity
    from gait_tf.utils.keras_files import check_keras_file

    check_keras_file(args.model, "model file", ModelError)  # a bad file is named before the data are read
    if args.synthetic_rgb:
        if args.data or args.partition:
            raise ConfigError("--synthetic-rgb renders its own test set; drop --data/--partition")
        model = load_model(args.model)
        return _embeddings_from_rgb_walkers(args, model), model_identity(model)
    if not args.data:
        raise ConfigError("--data ROOT is required with --model (or --synthetic-rgb SUBJECTS for RGB models)")
    ds = load_dataset(args.data, layout=args.layout)
    records = ds.records
    if args.partition:
        test = set(get_partition(args.partition)["test"])
        records = [r for r in records if r.subject in test]
        if not records:
            raise DataError(f"{args.data}: no sequence of the test subjects of partition {args.partition!r}")
    model = load_model(args.model)
    return embed_dataset(model, ds, records, progress=not args.quiet), model_identity(model)


def _rgb_input_hw(model, path):
    """``(h, w)`` of an RGB-sequence model's frames; ModelError for other models."""
    from gait_tf.errors import ModelError

    hw = getattr(model, "input_hw", None)
    channels = getattr(model, "channels", None)
    if hw is None:
        try:
            inp = model.input
        except (AttributeError, ValueError):
            inp = None
        inp = inp.get("frames") if isinstance(inp, dict) else inp
        if inp is None or len(inp.shape) != 5:
            raise ModelError(f"{path}: --synthetic-rgb needs a sequence model with [B, T, H, W, 3] frames")
        hw, channels = tuple(inp.shape[2:4]), inp.shape[-1]
    if channels is not None and int(channels) != 3:
        raise ModelError(f"{path}: --synthetic-rgb is for RGB-sequence models (GaitNet, seg3d); this model "
                         f"takes {channels}-channel frames (use --data)")
    return tuple(int(v) for v in hw)


def _embeddings_from_rgb_walkers(args, model):
    from gait_tf.train.rgb import RGBWalkers, walker_embeddings

    walkers = RGBWalkers(subjects=args.synthetic_rgb, conditions="all", views=args.synthetic_views,
                         n_frames=args.synthetic_frames, background="moving",
                         out_hw=_rgb_input_hw(model, args.model), cache_dir=args.synthetic_cache)
    return walker_embeddings(model, walkers)


def run(args):
    from gait_tf.errors import ConfigError
    from gait_tf.evaluation import evaluate
    from gait_tf.evaluation.embed import load_embeddings, save_embeddings
    from gait_tf.evaluation.report import summary_line, to_markdown, write_report

    if args.model:
        data, identity = _embeddings_from_model(args)
        source = str(args.model)
    else:
        if args.data or args.partition or args.synthetic_rgb:
            raise ConfigError("--data/--partition/--synthetic-rgb are for --model; --embeddings already "
                              "holds the sequences")
        data = load_embeddings(args.embeddings)
        source = str(args.embeddings)
    kwargs = {}
    if args.protocol.startswith("casia_b") and args.synthetic_rgb:
        kwargs["view_list"] = sorted(set(data["views"]))  # the rendered views (default: all 11)
    result = evaluate(args.protocol, data["embeddings"], data["subjects"], data["conditions"], data["views"],
                      metric=args.metric, **kwargs)
    result["source"] = source
    result["num_sequences"] = int(len(data["embeddings"]))
    result["embedding_shape"] = list(data["embeddings"].shape[1:])
    print(to_markdown(result))
    print(f"summary: {summary_line(result)}")
    if args.out:
        out = Path(args.out)
        paths = write_report(result, out)
        written = [paths["markdown"], paths["json"]]
        if args.model:
            # tagged with the model's identity (as galleries are), not the file's name
            written.append(save_embeddings(out / "embeddings.npz", data, model=identity))
        if not args.no_plots:
            from gait_tf.evaluation.plots import plot_result

            scatter = args.scatter != "none"
            written += plot_result(result, out, data["embeddings"] if scatter else None,
                                   data["subjects"] if scatter else None, method=args.scatter)
        print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0
