"""``gait-tf demo``: the end-to-end demo on built-in synthetic walkers.

One command, seven stages, progress bars throughout (about 5-8 minutes on 2 CPU cores):

1. generate synthetic walkers (OpenGait pickles of CASIA-B-like subjects: all 10
   conditions × 11 views) and a montage PNG of RGB walkers;
2. train a small GaitSet briefly (triplet loss, P×K batches) on the training subjects;
3. evaluate it with the CASIA-B protocol on the held-out subjects, print the NM/BG/CL
   table and write the report (Markdown + JSON) and plots (view heatmaps, per-view
   curves, embedding scatter);
4. export it as a versioned SavedModel with TF Serving signatures;
5. start the development gRPC server (TF Serving's PredictionService protos);
6. enroll a gallery through gRPC (open-set threshold calibrated on held-out subjects);
7. identify probes (NM, BG, CL and one person never enrolled) through gRPC and print
   who was recognised.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from gait_tf.argtypes import non_negative_int, positive_float, positive_int

DEMO_MODEL = {"name": "gaitset", "preset": "casia_b",
              "overrides": {"in_channels": [1, 16, 32, 64], "out_channels": 128}}


def register(subparsers):
    p = subparsers.add_parser("demo", help="run the end-to-end demo on built-in synthetic walkers",
                              description=__doc__, formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--subjects", type=positive_int, default=16,
                   help="synthetic subjects (default 16: the first 10 train, the rest are held out)")
    p.add_argument("--train-subjects", type=positive_int, default=10, help="how many of them train (default 10)")
    p.add_argument("--steps", type=positive_int, default=400, help="training iterations (default 400)")
    p.add_argument("--train-seconds", type=positive_float, default=240.0,
                   help="wall-clock budget for training; stops early (checkpointed) when reached")
    p.add_argument("--workers", type=positive_int, default=2, help="processes for data generation")
    p.add_argument("--seed", type=non_negative_int, default=0, help="population and training seed (default 0)")
    p.set_defaults(func=run)


def _stage(n, title):
    print(f"\n=== [{n}/7] {title}", flush=True)


def _subject_ids(first, last):
    return [f"{i:03d}" for i in range(first, last + 1)]


def run(args):
    from gait_tf.errors import ConfigError

    if args.subjects < 4 or not 2 <= args.train_subjects <= args.subjects - 2:
        raise ConfigError(f"--subjects {args.subjects} / --train-subjects {args.train_subjects}: need at least "
                          "2 training and 2 held-out subjects")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    timings = {}

    # 1. data -----------------------------------------------------------------------
    _stage(1, "synthetic walkers")
    t0 = time.time()
    from gait_tf.synth import VIEWS
    from gait_tf.synth.dataset import write_dataset
    from gait_tf.synth.preview import format_summary, make_montage, summarize

    data_root = out / "synthetic"
    if (data_root / "synth.json").is_file() and json.loads((data_root / "synth.json").read_text()).get(
            "subjects") == _subject_ids(1, args.subjects) and json.loads(
            (data_root / "synth.json").read_text()).get("seed") == args.seed:
        print(f"reusing {data_root}")
    else:
        write_dataset(data_root, fmt="opengait", subjects=args.subjects, views=list(VIEWS), seed=args.seed,
                      image_size=(120, 160), n_frames=40, workers=args.workers, progress=True)
    print(format_summary(summarize(data_root)))
    rgb_root = out / "synthetic_rgb"
    write_dataset(rgb_root, fmt="rgb", subjects=3, conditions=["nm-01", "bg-01", "cl-01"],
                  views=["018", "090", "144"], seed=args.seed, image_size=(240, 320), n_frames=12,
                  workers=args.workers, background="moving", progress=True)
    montage = make_montage(rgb_root, out / "montage.png", subjects=3)
    print(f"montage of RGB walkers: {montage}")
    timings["data"] = round(time.time() - t0, 1)

    # 2. training -------------------------------------------------------------------
    _stage(2, "training a small GaitSet (triplet loss)")
    t0 = time.time()
    from gait_tf.train import load_config
    from gait_tf.train.checkpoints import export_keras
    from gait_tf.train.trainer import Trainer

    train_ids = _subject_ids(1, args.train_subjects)
    test_ids = _subject_ids(args.train_subjects + 1, args.subjects)
    partition = out / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": train_ids, "TEST_SET": test_ids}, indent=1))
    cfg = load_config(raw={
        "name": "demo_gaitset",
        "seed": args.seed,
        "model": DEMO_MODEL,
        "data": {"root": str(data_root), "layout": "opengait", "partition": str(partition),
                 "p": min(8, len(train_ids)), "k": 4, "frames": 20, "sampler": "fixed_unordered"},
        "losses": [{"type": "triplet", "weight": 1.0, "margin": 0.2}],
        "optimizer": {"type": "adam", "lr": 1e-3},
        "schedule": {"type": "multistep", "milestones": [int(args.steps * 0.8)], "gamma": 0.1},
        "train": {"iterations": args.steps, "checkpoint_every": 100, "log_every": 20},
    })
    trainer = Trainer(cfg, out / "train", resume=False, max_seconds=args.train_seconds)
    summary = trainer.fit()
    model_path = out / "train" / "model.keras"
    if not summary["export"]:
        export_keras(trainer.model, model_path)
    print(f"trained {summary['step']} steps in {summary['seconds']:.0f} s "
          f"(loss {summary['last_metrics'].get('loss', float('nan')):.4f}) -> {model_path}")
    timings["train"] = round(time.time() - t0, 1)

    # 3. evaluation -----------------------------------------------------------------
    _stage(3, "CASIA-B protocol on held-out subjects")
    t0 = time.time()
    from gait_tf.data import load_dataset
    from gait_tf.evaluation import casia_b, summary_line, to_markdown, write_report
    from gait_tf.evaluation.embed import embed_dataset
    from gait_tf.evaluation.plots import plot_result

    ds = load_dataset(data_root, layout="opengait")
    test_records = [r for r in ds.records if r.subject in set(test_ids)]
    model = trainer.model
    emb = embed_dataset(model, ds, test_records, progress=True)
    result = casia_b(emb["embeddings"], emb["subjects"], emb["conditions"], emb["views"])
    table = to_markdown(result, title=f"Demo GaitSet on {len(test_ids)} held-out synthetic subjects")
    print(table.split("\n### ")[0].rstrip())  # the headline table; the 11x11 matrices are in the report
    report = write_report(result, out / "evaluation", title="Demo GaitSet, synthetic CASIA-B protocol")
    plots = plot_result(result, out / "evaluation", embeddings=emb["embeddings"], subjects=emb["subjects"])
    print(f"report: {report['markdown']}; plots: {', '.join(str(p) for p in plots)}")
    timings["evaluate"] = round(time.time() - t0, 1)

    # 4-7. export, serve, enroll, identify over gRPC -----------------------------------
    _stage(4, "export → [5] dev server → [6] enroll via gRPC → [7] identify via gRPC")
    t0 = time.time()
    from gait_tf.gallery import Gallery
    from gait_tf.serving.demo_flow import run_serving_demo

    enrolled, unknown = test_ids[:-1], test_ids[-1]
    view = "090"

    def seq(subject, condition, v=view):
        return ds.load(next(r for r in ds.records if (r.subject, r.condition, r.view) == (subject, condition, v)))

    enroll = {s: [seq(s, c) for c in ("nm-01", "nm-02", "nm-03", "nm-04")] for s in enrolled}
    probes = [(s, seq(s, c), f"subject {s} {c} view {view}") for s in enrolled for c in ("nm-05", "bg-01", "cl-01")]
    probes.append((None, seq(unknown, "nm-05"), f"subject {unknown} nm-05 view {view} (never enrolled)"))
    # open-set threshold for 5% false accepts, calibrated on held-out impostor pairs: sequences of
    # the held-out subjects that are neither enrolled nor probed (nm-06, bg-02, cl-02, all views).
    # Training subjects would be the wrong population: the model separates them too well.
    held = [i for i, r in enumerate(test_records) if r.condition in ("nm-06", "bg-02", "cl-02")]
    calib = {"embeddings": emb["embeddings"][held], "subjects": emb["subjects"][held]}
    calibration = Gallery("gaitset", calib["embeddings"].shape[1:]).calibrate(
        calib["embeddings"], calib["subjects"], far=0.05)
    print(f"open-set threshold {calibration['threshold']:.4f}: FAR {calibration['achieved_far']:.3f} on "
          f"{calibration['num_impostor']} held-out impostor pairs, TAR {calibration['tar']:.3f}")
    served = run_serving_demo(model_path, enroll, probes, out / "serving", model_name="gaitset",
                              threshold=calibration["threshold"])
    last = served["probes"][-1]
    verdict = "rejected as unknown, as it should be" if last["predicted"] == "unknown" else "falsely accepted"
    print(f"subject {unknown}, the person never enrolled (nm-05, view {view}) → {last['predicted']!r}: {verdict}")
    timings["serving"] = round(time.time() - t0, 1)

    total = round(time.time() - t_start, 1)
    record = {
        "seconds": {**timings, "total": total},
        "casia_b_rank1": result.get("summary"),
        "training": {k: summary[k] for k in ("step", "seconds", "last_metrics")},
        "serving": {k: served[k] for k in ("server", "enrolled", "rank1_accuracy", "probes")},
        "calibration": calibration,
        "outputs": {"montage": str(montage), "report": str(report["markdown"]),
                    "plots": [str(p) for p in plots], "saved_model": served["export"]["path"]},
    }
    (out / "demo_summary.json").write_text(json.dumps(record, indent=2, default=str))
    print(f"\nCASIA-B rank-1 (held-out synthetic subjects): {summary_line(result)}")
    print(f"identification through gRPC: {served['rank1_accuracy']:.0%} of {len(probes) - 1} labelled probes")
    print(f"demo finished in {total:.0f} s; outputs in {out}/ (demo_summary.json)")
    return 0
