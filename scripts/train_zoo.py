#!/usr/bin/env python
"""Train every registered silhouette and RGB-sequence model on the synthetic CASIA-B-like set
with a fixed CPU budget, evaluate it with the CASIA-B protocol and tabulate NM/BG/CL rank-1
next to the GEI + nearest-neighbour baseline.

Data: ``gait_tf.synth`` walkers rendered and pretreated to OpenGait pickles. Training
subjects (default 001-074, CASIA-B LT train split) and test subjects (default 075-124, the
LT test split, as ``scripts/gei_baseline.py``) are disjoint; all 10 conditions and 11 views
unless ``--views``. The RGB models (GaitNet, seg3d) see the same walkers rendered as RGB
person crops over a moving textured background (``gait_tf.train.rgb.RGBWalkers``; GaitEdge:
the person's box resized, with its aspect ratio) and are embedded from those; the skeleton
models (SkeletonGait, SkeletonGait++) see the walkers' COCO-17 keypoints drawn as skeleton
maps (+ the silhouettes, ``gait_tf.train.skeleton.SkeletonWalkers``); the protocol is the same.

Each model trains from its ``training/configs/<model>_synthetic.yaml`` recipe with a
constant learning rate for a fixed CPU budget: ``--cpu-minutes`` of process CPU time
(``Trainer``'s ``max_cpu_seconds``; the default 30 CPU-minutes is 15 minutes on 2 cores,
and it does not shrink when other work shares the machine; ``--minutes`` gives a wall-clock
budget instead). It then embeds every test sequence (all frames) and runs
``gait_tf.evaluation.casia_b`` (gallery nm-01..04; probes NM/BG/CL; mean rank-1 over
probe x gallery views excluding identical views). The GEI baseline is evaluated on the
very same test sequences.

Writes ``--markdown`` (default docs/results.md) and ``--json`` (default
results/zoo_synthetic.json), atomically, after every model. The rows of an existing ``--json``
with the same data settings are kept until this run replaces them (each row records its own
budget), so the table can be filled a few models at a time. Exit code 1 if a model does not
beat the GEI baseline on CL.

    python scripts/train_zoo.py --train-subjects 1-30 --test-subjects 75-90 --n-frames 30
                                                      # the README table: 30 CPU-min per model
    python scripts/train_zoo.py --minutes 1 --train-subjects 1-8 --test-subjects 75-80 \\
        --views 000,090,180 --n-frames 30 --markdown /tmp/zoo.md --json /tmp/zoo.json   # smoke
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _synth_opts(subjects, args):
    opts = {"subjects": subjects, "seed": args.seed, "image_size": list(args.image_size),
            "n_frames": args.n_frames, "workers": args.workers, "root": str(args.data_root)}
    if args.views:
        opts["views"] = args.views
    return opts


def _rgb_opts(subjects, args):
    """``RGBWalkers`` options for the RGB models: the same walkers as the silhouette sets
    (same seed and render size), every condition, RGB over the moving textured background."""
    return {"subjects": subjects, "conditions": "all", "views": args.views or "all", "seed": args.seed,
            "image_size": list(args.image_size), "n_frames": args.n_frames or 30, "background": "moving",
            "root": str(args.workdir / "rgb")}


def _skeleton_opts(subjects, args):
    """``SkeletonWalkers`` options: the same walkers (seed, render size, frames), every condition."""
    opts = {"subjects": subjects, "conditions": "all", "views": args.views or "all", "seed": args.seed,
            "image_size": list(args.image_size), "n_frames": args.n_frames or 30, "workers": args.workers,
            "root": str(args.workdir / "skeleton")}
    return opts


SKELETON_KINDS = ("skeleton_maps", "skeleton_silhouette")
RGB_KINDS = ("rgb_sequence", "rgb_crops")


def _embed_fn(model):
    """Compiled ``uint8 [T, 64, 64] -> float32 [P, D]`` (one trace for any T)."""
    import numpy as np
    import tensorflow as tf

    from gait_tf.data import cut_width

    @tf.function(input_signature=[tf.TensorSpec([None, None, 64, 44, 1], tf.float32)])
    def run(x):
        out = model(x, training=False)
        return out["embeddings"] if isinstance(out, dict) else out

    def embed(seq):
        x = cut_width(seq).astype(np.float32)[None, ..., None] / 255.0
        emb = run(tf.constant(x)).numpy()
        return emb.reshape(emb.shape[1], -1) if emb.ndim == 3 else emb.reshape(1, -1)

    return embed


def _row(name, result, extra=None):
    row = {"model": name, **{k: round(float(v), 2) for k, v in result["summary"].items()}}
    row.update(extra or {})
    return row


def _kept_sections(path):
    """What other scripts own in the results page (from the first ``<!-- keep -->`` heading on,
    e.g. ``scripts/real_eval.py``'s real-footage section), kept when the table is rewritten."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""
    i = text.find("<!-- keep -->")
    return "\n\n" + text[i:].rstrip() + "\n" if i >= 0 else ""


def format_markdown(rows, settings):
    lines = [
        "# Results on the synthetic CASIA-B-like set",
        "",
        "Produced by `scripts/train_zoo.py` (see `docs/training.md`). Rank-1 accuracy (%) of the",
        "CASIA-B single-view protocol (gallery nm-01..04; probes NM = nm-05/06, BG = bg-01/02,",
        "CL = cl-01/02; mean over probe x gallery views excluding identical views), on synthetic",
        "walkers from `gait_tf.synth`, never on real CASIA-B. Each model trained for a fixed",
        "budget on CPU from its `training/configs/<model>_synthetic.yaml` recipe (constant lr);",
        "the budget column gives it (\"CPU\": process CPU time, 30 CPU-min = 15 min on 2 cores;",
        "\"wall\": wall-clock time, possibly on a machine shared with other work).",
        "",
        "| model | NM | BG | CL | budget | steps | wall min | steps/s | final loss | beats GEI on CL |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|:---:|",
    ]
    for r in rows:
        fmt = lambda v, spec: "" if v is None else format(v, spec)  # noqa: E731
        lines.append(
            f"| {r['model']} | {r['NM']:.1f} | {r['BG']:.1f} | {r['CL']:.1f} | {r.get('budget', '')} | "
            f"{fmt(r.get('steps'), 'd')} | "
            f"{fmt(r.get('train_minutes'), '.1f')} | {fmt(r.get('steps_per_s'), '.2f')} | "
            f"{fmt(r.get('final_loss'), '.4f')} | {r.get('beats_gei_cl', '')} |"
        )
    s = settings
    lines += [
        "",
        "Settings: " + ", ".join(f"{k}={v}" for k, v in s.items()),
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    from gait_tf.synth.dataset import parse_image_size

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=None, help="models (default: every silhouette model)")
    ap.add_argument("--cpu-minutes", type=float, default=30.0,
                    help="training budget per model in CPU-minutes of this process (30 = 15 min on 2 cores)")
    ap.add_argument("--minutes", type=float, default=None,
                    help="training budget per model in wall-clock minutes instead of --cpu-minutes")
    ap.add_argument("--train-subjects", default="1-74")
    ap.add_argument("--test-subjects", default="75-124")
    ap.add_argument("--views", default=None, help="comma list (default: all 11)")
    ap.add_argument("--image-size", default="120x160", help="render size HxW")
    ap.add_argument("--n-frames", type=int, default=None, help="frames per sequence (default: crossing time)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="processes rendering the synthetic set")
    ap.add_argument("--data-root", type=Path, default=REPO / "data" / "synthetic")
    ap.add_argument("--workdir", type=Path, default=REPO / "runs" / "zoo")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="config override applied to every recipe (e.g. data.p=4)")
    ap.add_argument("--markdown", type=Path, default=REPO / "docs" / "results.md")
    ap.add_argument("--json", type=Path, default=REPO / "results" / "zoo_synthetic.json")
    args = ap.parse_args(argv)
    args.image_size = parse_image_size(args.image_size)

    # render both sets first (before TensorFlow: the renderer forks worker processes)
    from gait_tf.train.sources import generate_synthetic

    t0 = time.time()
    train_root = generate_synthetic(_synth_opts(args.train_subjects, args), args.workdir)
    test_root = generate_synthetic(_synth_opts(args.test_subjects, args), args.workdir)
    render_s = time.time() - t0
    print(f"synthetic data: train {train_root}, test {test_root} ({render_s:.0f} s)", flush=True)

    import keras

    from gait_tf import models
    from gait_tf.baselines.gei import gait_energy_image
    from gait_tf.data import load_dataset
    from gait_tf.evaluation import casia_b
    from gait_tf.errors import GaitTFError
    from gait_tf.evaluation.embed import embed_dataset
    from gait_tf.train.checkpoints import export_keras
    from gait_tf.train.config import load_config
    from gait_tf.train.rgb import RGBWalkers, walker_embeddings
    from gait_tf.train.skeleton import INPUT_KINDS, SkeletonWalkers, skeleton_embeddings
    from gait_tf.train.trainer import TRAINABLE_KINDS, Trainer
    from gait_tf.utils import atomic_write, write_json

    test = load_dataset(test_root, layout="opengait")
    views = test.views
    gei = embed_dataset(lambda seq: gait_energy_image(seq).reshape(1, -1), test)
    gei_result = casia_b(gei["embeddings"], gei["subjects"], gei["conditions"], gei["views"], view_list=views)
    rows = [_row("GEI + NN (baseline)", gei_result)]
    print(f"GEI baseline: {gei_result['summary']}", flush=True)

    names = args.models or [n for n in models.list_models()
                            if models.get_spec(n).input_kind in TRAINABLE_KINDS
                            and (REPO / "training" / "configs" / f"{n}_synthetic.yaml").is_file()]
    budget = (f"{args.minutes:g} wall-min" if args.minutes is not None else f"{args.cpu_minutes:g} CPU-min")
    settings = {
        "train_subjects": args.train_subjects, "test_subjects": args.test_subjects,
        "views": ",".join(views), "image_size": "x".join(map(str, args.image_size)),
        "n_frames": args.n_frames or "crossing time", "seed": args.seed, "test_sequences": len(test),
        "cpu_count": os.cpu_count(), "overrides": " ".join(args.overrides) or "none",
    }
    data_keys = ("train_subjects", "test_subjects", "views", "image_size", "n_frames", "seed", "test_sequences")
    results = {"GEI": gei_result}
    # rows of the existing table stay until this run replaces them (an interrupted run keeps them)
    kept = _kept_rows(args.json, settings, data_keys)
    for row, res in kept:
        results[row["model"]] = res
    done = []

    def publish():
        finished = {r["model"] for r in done}
        ordered = [rows[0]] + _ordered([r for r, _ in kept if r["model"] not in finished] + done)
        markdown = format_markdown(ordered, settings) + _kept_sections(args.markdown)
        with atomic_write(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(markdown)
        write_json(args.json, {"settings": settings, "rows": ordered, "results": results}, default=str)
        return markdown

    failures = []
    for name in names:
        recipe = REPO / "training" / "configs" / f"{name}_synthetic.yaml"
        kind = models.get_spec(name).input_kind
        rgb, skeleton = kind in RGB_KINDS, kind in SKELETON_KINDS
        overrides = [
            *args.overrides,
            "schedule.type=constant",
            "train.iterations=100000000",
            "train.checkpoint_every=100000000",
            "train.export=false",
            "train.progress=false",
        ]
        # RGB models (GaitNet, seg3d, GaitEdge) and skeleton models: the same trainer on RGB
        # crops / skeleton maps of the same walkers
        cfg = load_config(recipe, overrides)
        make_opts = _rgb_opts if rgb else _skeleton_opts if skeleton else _synth_opts
        cfg["data"]["synthetic"] = make_opts(args.train_subjects, args)
        keras.backend.clear_session()
        workdir = args.workdir / name
        try:
            trainer = Trainer(cfg, workdir, resume=False,
                              max_seconds=None if args.minutes is None else args.minutes * 60,
                              max_cpu_seconds=None if args.minutes is not None else args.cpu_minutes * 60,
                              log=lambda *a: print(*a, flush=True))
            summary = trainer.fit()
            export_keras(trainer.model, workdir / "model.keras")
            t1 = time.time()
            if rgb:
                try:
                    inp = trainer.model.input
                except (AttributeError, ValueError):  # subclassed models (GaitNet)
                    inp = None
                hw = inp["frames"].shape[2:4] if isinstance(inp, dict) else None
                test_walkers = RGBWalkers.from_config(_rgb_opts(args.test_subjects, args),
                                                      tuple(hw) if hw else models.get_spec(name).input_hw,
                                                      crop="box" if kind == "rgb_crops" else "centred")
                emb = walker_embeddings(trainer.model, test_walkers)
            elif skeleton:
                test_walkers = SkeletonWalkers.from_config(_skeleton_opts(args.test_subjects, args))
                emb = skeleton_embeddings(trainer.model, test_walkers, channels=INPUT_KINDS[kind])
            else:
                emb = embed_dataset(_embed_fn(trainer.model), test)
            result = casia_b(emb["embeddings"], emb["subjects"], emb["conditions"], emb["views"],
                             view_list=views)
        except GaitTFError as exc:  # e.g. a diverged run (NaN): report it, go on with the others
            print(f"{name}: FAILED: {exc}", file=sys.stderr, flush=True)
            failures.append(name)
            nan = float("nan")
            done.append({"model": name, "NM": nan, "BG": nan, "CL": nan, "budget": budget,
                         "beats_gei_cl": f"failed: {exc}"[:120]})
            results[name] = {"error": str(exc)}
            publish()
            continue
        beats = result["summary"]["CL"] > gei_result["summary"]["CL"]
        if not beats:
            failures.append(name)
        done.append(_row(name, result, {
            "budget": budget, "steps": summary["step"], "train_minutes": round(summary["seconds"] / 60, 2),
            "cpu_minutes": round(summary["cpu_seconds"] / 60, 2),
            "steps_per_s": round(summary["steps_per_s"], 3),
            "final_loss": summary["last_metrics"].get("loss"),
            "beats_gei_cl": "yes" if beats else "NO",
        }))
        results[name] = result | {"training": summary, "eval_seconds": round(time.time() - t1, 1)}
        print(f"{name}: {result['summary']} after {summary['step']} steps "
              f"({summary['cpu_seconds'] / 60:.1f} CPU-min, {summary['seconds'] / 60:.1f} wall-min)", flush=True)
        publish()

    print(publish())
    if failures:
        print(f"models not beating the GEI baseline on CL: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


def _kept_rows(path, settings, data_keys):
    """``[(row, result)]`` of an earlier ``--json``, if its data settings equal ``settings``
    (otherwise none: rows on other data are not comparable)."""
    if not Path(path).is_file():
        return []
    old = json.loads(Path(path).read_text(encoding="utf-8"))
    old_settings = old.get("settings", {})
    if any(str(old_settings.get(k)) != str(settings[k]) for k in data_keys):
        print(f"{path}: other data settings; its rows are not kept", flush=True)
        return []
    kept = []
    for row in old.get("rows", []):
        name = row["model"]
        if name.startswith("GEI"):
            continue
        if "budget" not in row:  # rows of the first runs: a wall budget on a shared machine
            row["budget"] = f"{old_settings.get('minutes_per_model', '?')} wall-min"
        kept.append((row, old.get("results", {}).get(name, {})))
    return kept


def _ordered(rows):
    """Rows in registry order (unregistered names last)."""
    from gait_tf import models

    order = {n: i for i, n in enumerate(models.list_models())}
    return sorted(rows, key=lambda r: order.get(r["model"], len(order)))


if __name__ == "__main__":
    sys.exit(main())
