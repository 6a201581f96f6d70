"""Every zoo model × export format: exports or not (and why), parity, size, CPU batch-1 latency;
plus the rank-1 cost of LiteRT int8 on the synthetic CASIA-B test set.

One run, one process, one thread per runtime (TensorFlow intra-op 1, onnxruntime 1, LiteRT 1)
so the latencies compare like with like on a shared machine:

- ``tf``: the portable graph (:mod:`gait_tf.serving.portable`) as a ``tf.function`` — the
  reference every other column is compared with;
- ``savedmodel``: ``gait-tf export`` (TF Serving layout), reloaded; parity of its float
  signature (uint8 signatures for RGB/image models) with the Keras model;
- ``onnx``: :func:`gait_tf.serving.formats.export_onnx`, run with onnxruntime;
- ``litert`` / ``litert-int8``: :func:`gait_tf.serving.formats.export_litert`, run with the
  LiteRT interpreter (int8 is recorded whatever its cosine, ``min_cosine=-1``).

Models are the registry's default presets with random weights (parity, size and latency do
not depend on training). Latency: batch 1 × ``--frames`` frames (one 299×299 image for image
models), median of ``--iters`` calls after 2 warm-up calls.

Rank-1: a small GaitSet is trained briefly on synthetic walkers (as ``gait-tf demo`` does;
or ``--rank1-weights M.keras``), the held-out synthetic subjects are embedded with
TensorFlow, ONNX, LiteRT float32 and LiteRT int8 (calibrated on synthetic walkers of another
population), and the CASIA-B protocol's NM/BG/CL rank-1 is computed for each.

    python benchmarks/export_formats.py --json benchmarks/results/export_formats.json
    python benchmarks/export_formats.py --models gaitset gaitpart --skip-rank1
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

FORMAT_COLUMNS = ("savedmodel", "onnx", "litert", "litert-int8")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="*", default=None, help="default: every registered model")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--calibration-sequences", type=int, default=16)
    p.add_argument("--workdir", default=None, help="for the exported files and the synthetic data (default: temp)")
    p.add_argument("--skip-rank1", action="store_true")
    p.add_argument("--rank1-weights", default=None, help="a trained GaitSet .keras (default: train one briefly)")
    p.add_argument("--train-seconds", type=float, default=300.0)
    p.add_argument("--subjects", type=int, default=16, help="synthetic subjects: the first 10 train, the rest test")
    p.add_argument("--json", default=None)
    return p.parse_args(argv)


def median_ms(fn, x, iters):
    fn(x)
    fn(x)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def dir_size(path):
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def savedmodel_check(model, name, spec, out_root, x):
    """Export the TF Serving SavedModel, reload it; (size, max |diff|, latency fn)."""
    import tensorflow as tf

    from gait_tf.serving import portable
    from gait_tf.serving.export import export_model

    res = export_model(model, out_root / name, model_name=name, warmup=False, write_configs=False)
    loaded = tf.saved_model.load(str(res.path))
    fn = portable.portable_function(model, spec.input_kind, spec.input_hw, spec.channels)
    kind = spec.input_kind
    if kind == "silhouette":
        sig, key, arg = loaded.signatures["serving_float"], "embeddings", "silhouettes"
        feed = lambda a: tf.constant(a[..., 0])  # noqa: E731
        ref_in = x
    elif kind == "rgb_sequence":
        sig, key, arg = loaded.signatures["serving_default"], "embeddings", "frames"
        u8 = np.round(x * 255).astype(np.uint8)
        feed, ref_in = (lambda a: tf.constant(np.round(a * 255).astype(np.uint8))), u8.astype(np.float32) / 255
    elif kind == "pose_features":
        sig, key, arg = loaded.signatures["serving_default"], "identification", "pose_features"
        feed, ref_in = tf.constant, x
    else:
        sig, key, arg = loaded.signatures["heatmaps"], "heatmaps", "images"
        feed = lambda a: tf.constant(np.round((a + 1) * 127.5).astype(np.uint8))  # noqa: E731
        ref_in = np.round((x + 1) * 127.5).astype(np.float32) / 127.5 - 1
    got = sig(**{arg: feed(x)})[key].numpy()
    ref = fn(ref_in)[key].numpy()
    diff = float(np.abs(got - ref).max())
    return dir_size(res.path), diff, (lambda a: sig(**{arg: feed(a)}))


def bench_model(name, args, work):
    import tensorflow as tf

    from gait_tf import models
    from gait_tf.errors import GaitTFError
    from gait_tf.serving import formats, portable
    from gait_tf.serving.export import load_model_for_export

    spec = models.get_spec(name)
    row = {"model": name, "input_kind": spec.input_kind}
    t0 = time.time()
    model = load_model_for_export(name, random_init=True)
    row["params"] = int(sum(np.prod(w.shape) for w in model.weights))
    fn = portable.portable_function(model, spec.input_kind, spec.input_hw, spec.channels)
    x = portable.example_inputs(spec.input_kind, spec.input_hw, spec.channels, shapes=((1, args.frames),), seed=3)[0]
    row["tf_ms"] = median_ms(lambda a: fn(tf.constant(a)), x, args.iters)
    cells = {}
    try:
        size, diff, call = savedmodel_check(model, name, spec, work / "saved_models", x)
        cells["savedmodel"] = {"ok": True, "size_bytes": size, "max_abs_diff": diff,
                               "latency_ms": median_ms(call, x, args.iters)}
    except GaitTFError as exc:
        cells["savedmodel"] = {"ok": False, "reason": str(exc)}
    for column, fmt, quant in (("onnx", "onnx", "float32"), ("litert", "litert", "float32"),
                               ("litert-int8", "litert", "int8")):
        path = work / "files" / f"{name}{'_int8' if quant == 'int8' else ''}{formats.SUFFIX[fmt]}"
        try:
            kw = {"min_cosine": -1.0, "calibration_sequences": args.calibration_sequences} if quant == "int8" else {}
            res = formats.export_format(model, fmt, path, model_name=name, quantize=quant, overwrite=True, **kw)
        except GaitTFError as exc:
            cells[column] = {"ok": False, "reason": str(exc)}
            print(f"  {name} {column}: {exc}", flush=True)
            continue
        cell = {"ok": True, "size_bytes": res.size_bytes, "max_abs_diff": res.max_abs_diff,
                "min_cosine": res.min_cosine, "input_shape": res.input_shape, "scheme": res.scheme,
                "export_seconds": res.seconds}
        if fmt == "onnx":
            sess = formats.onnx_session(path, threads=args.threads)
            inp = sess.get_inputs()[0].name
            cell["latency_ms"] = median_ms(lambda a: sess.run(None, {inp: a}), x, args.iters)
        else:
            runner = formats.LiteRTRunner(path, threads=args.threads)
            cell["latency_ms"] = median_ms(runner, x, args.iters)
        cells[column] = cell
        print(f"  {name} {column}: {res.size_bytes / 2**20:.1f} MiB, max|diff| {res.max_abs_diff:.1e}, "
              f"cos {res.min_cosine:.4f}, {cell['latency_ms']:.1f} ms", flush=True)
    row["formats"] = cells
    row["seconds"] = round(time.time() - t0, 1)
    del model
    tf.keras.backend.clear_session() if hasattr(tf, "keras") else None
    return row


# ----------------------------------------------------------------------------- rank-1

def trained_gaitset(args, work):
    from gait_tf.commands.demo import DEMO_MODEL
    from gait_tf.synth import VIEWS
    from gait_tf.synth.dataset import write_dataset
    from gait_tf.train import load_config
    from gait_tf.train.checkpoints import export_keras
    from gait_tf.train.trainer import Trainer

    import json

    data_root = work / "synthetic"
    if not (data_root / "synth.json").is_file():
        write_dataset(data_root, fmt="opengait", subjects=args.subjects, views=list(VIEWS), seed=0,
                      image_size=(120, 160), n_frames=40, workers=1, progress=False)
    train_ids = [f"{i:03d}" for i in range(1, 11)]
    test_ids = [f"{i:03d}" for i in range(11, args.subjects + 1)]
    if args.rank1_weights:
        from gait_tf.evaluation.embed import load_model

        return load_model(args.rank1_weights), data_root, test_ids, {"weights": args.rank1_weights}
    partition = work / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": train_ids, "TEST_SET": test_ids}))
    cfg = load_config(raw={
        "name": "bench_gaitset", "seed": 0, "model": DEMO_MODEL,
        "data": {"root": str(data_root), "layout": "opengait", "partition": str(partition),
                 "p": 8, "k": 4, "frames": 20, "sampler": "fixed_unordered"},
        "losses": [{"type": "triplet", "weight": 1.0, "margin": 0.2}],
        "optimizer": {"type": "adam", "lr": 1e-3},
        "schedule": {"type": "multistep", "milestones": [320], "gamma": 0.1},
        "train": {"iterations": 400, "checkpoint_every": 100, "log_every": 50},
    })
    trainer = Trainer(cfg, work / "train", resume=False, max_seconds=args.train_seconds)
    summary = trainer.fit()
    export_keras(trainer.model, work / "gaitset_demo.keras")
    return trainer.model, data_root, test_ids, {"trained_steps": summary["step"],
                                                "train_seconds": round(summary["seconds"], 1),
                                                "model": DEMO_MODEL}


def rank1_drop(args, work):
    from gait_tf.data import load_dataset
    from gait_tf.evaluation import casia_b
    from gait_tf.evaluation.embed import prepare_sequence
    from gait_tf.serving import formats

    model, data_root, test_ids, info = trained_gaitset(args, work)
    ds = load_dataset(data_root, layout="opengait")
    records = [r for r in ds.records if r.subject in set(test_ids)]
    seqs = [prepare_sequence(ds.load(r)) for r in records]
    files = work / "rank1"
    onnx_path = formats.export_onnx(model, files / "gaitset.onnx", model_name="gaitset", overwrite=True).path
    f32 = formats.export_litert(model, files / "gaitset.tflite", model_name="gaitset", overwrite=True)
    q = formats.export_litert(model, files / "gaitset_int8.tflite", model_name="gaitset", quantize="int8",
                              calibration_sequences=args.calibration_sequences, min_cosine=-1.0, overwrite=True)
    sess = formats.onnx_session(onnx_path, threads=args.threads)
    inp = sess.get_inputs()[0].name
    out_names = [o.name for o in sess.get_outputs()]
    runners = {
        "tf": lambda a: np.asarray(model(a, training=False)["embeddings"]),
        "onnx": lambda a: sess.run(None, {inp: a})[out_names.index("embeddings")],
        "litert": (lambda r: lambda a: r(a)["embeddings"])(formats.LiteRTRunner(f32.path, threads=args.threads)),
        "litert-int8": (lambda r: lambda a: r(a)["embeddings"])(formats.LiteRTRunner(q.path, threads=args.threads)),
    }
    subjects = np.array([r.subject for r in records])
    conditions = np.array([r.condition for r in records])
    views = np.array([r.view for r in records])
    result = {"setup": {**info, "test_subjects": test_ids, "test_sequences": len(records),
                        "int8_scheme": q.scheme},
              "sizes_bytes": {"litert": f32.size_bytes, "litert-int8": q.size_bytes}}
    embs = {}
    for key, run in runners.items():
        embs[key] = np.concatenate([run(s) for s in seqs])
        summary = casia_b(embs[key], subjects, conditions, views)["summary"]
        result[key] = {k: float(v) for k, v in summary.items()}
        print(f"  rank-1 {key}: " + " | ".join(f"{k} {v:.2f}" for k, v in summary.items()), flush=True)
    a, b = embs["litert-int8"].reshape(len(seqs), -1), embs["tf"].reshape(len(seqs), -1)
    result["int8_embedding_cosine"] = {
        "mean": float(np.mean((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))),
        "min": float(np.min((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))))}
    result["int8_drop"] = {k: result["tf"][k] - result["litert-int8"][k] for k in result["tf"]}
    return result


def fmt_cell(cell, tf_ms):
    if not cell.get("ok"):
        return "no"
    speed = f"{cell['latency_ms']:.1f} ms ({tf_ms / cell['latency_ms']:.2f}x)"
    parity = f"{cell['max_abs_diff']:.1e}" + (f", cos {cell['min_cosine']:.4f}" if "min_cosine" in cell else "")
    return f"{cell['size_bytes'] / 2**20:.1f} MiB, {parity}, {speed}"


def main(argv=None):
    args = parse_args(argv)
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from gait_tf import models
    from gait_tf.utils.atomic import write_json

    names = args.models or models.list_models()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="gait_tf_export_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    rows = []
    for name in names:
        print(f"== {name}", flush=True)
        rows.append(bench_model(name, args, work))
    rank1 = None
    if not args.skip_rank1:
        print("== rank-1 of int8 (trained small GaitSet, synthetic CASIA-B test subjects)", flush=True)
        rank1 = rank1_drop(args, work)
    print()
    header = "| model | TF batch-1 ms | " + " | ".join(FORMAT_COLUMNS) + " |"
    print(header)
    print("|" + "---|" * (2 + len(FORMAT_COLUMNS)))
    for row in rows:
        cells = [fmt_cell(row["formats"][c], row["tf_ms"]) for c in FORMAT_COLUMNS]
        print(f"| {row['model']} | {row['tf_ms']:.1f} | " + " | ".join(cells) + " |")
    for row in rows:
        for c in FORMAT_COLUMNS:
            if not row["formats"][c].get("ok"):
                print(f"  {row['model']} {c}: {row['formats'][c]['reason']}")
    if rank1:
        print("rank-1 (%):", {k: rank1[k] for k in ("tf", "onnx", "litert", "litert-int8")})
        print("int8 drop (points):", rank1["int8_drop"], "sizes:", rank1["sizes_bytes"])
    payload = {"config": {k: v for k, v in vars(args).items()},
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load": os.getloadavg(),
                           "tensorflow": tf.__version__},
               "seconds": round(time.time() - t_start, 1), "rows": rows, "rank1": rank1}
    if args.json:
        write_json(args.json, payload, default=str)
        print(f"wrote {args.json}")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
