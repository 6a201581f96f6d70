"""Benchmark of the silhouette model zoo: latency, throughput, FLOPs and matmul efficiency.

For every registered sequence model (silhouettes and masked-RGB, default preset): batch-1 latency and batch-32
throughput on ``--frames``-frame sequences at the model's input size in eager, ``tf.function`` and XLA
(``jit_compile=True``) modes; FLOPs per sequence (TF profiler on the frozen concrete
function, plus Einsum ops counted from their equations, which the profiler skips); and the
fraction of this machine's float32 matmul FLOP/s (measured in the same run, same thread
settings) that each mode achieves at batch 32.

    python benchmarks/models.py [--models gaitset gaitgl] [--json out.json]
    python benchmarks/models.py --models local3d --disable-grappler remapping   # A/B a grappler pass
    python benchmarks/models.py --models deepgaitv2 deepgaitv2@mode=2d deepgaitv2@mode=3d   # variants

``NAME@key=value,key=value`` benchmarks a variant (builder overrides, values in YAML).
Skeleton-map models get random maps, GaitEdge random RGB crops and aspect ratios.

Prints a table; ``--json PATH`` writes all figures (atomically).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402


# sequence models share one input layout [B, T, H, W, C]: silhouettes (C=1), masked RGB (C=3),
# skeleton maps (C=2, +1 silhouette); RGB crops add per-frame box aspect ratios
SEQUENCE_KINDS = ("silhouette", "rgb_sequence", "skeleton_maps", "skeleton_silhouette", "rgb_crops")


def parse_variant(text):
    """``"deepgaitv2@mode=3d,layers=[1,4,4,1]"`` -> ``("deepgaitv2", {"mode": "3d", "layers": [1, 4, 4, 1]})``."""
    import yaml

    name, _, rest = text.partition("@")
    overrides = {}
    for item in filter(None, rest.split(";") if ";" in rest else _split_top(rest)):
        key, _, value = item.partition("=")
        overrides[key.strip()] = yaml.safe_load(value)
    return name, overrides


def _split_top(text):
    """Split on commas outside brackets."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[("
        depth -= ch in "])"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return out + ([cur] if cur else [])


def _sequence_input(spec, hw, batch, frames, rng):
    """A random model input of ``batch`` sequences (binary silhouettes / maps, RGB + ratios)."""
    import tensorflow as tf

    if spec.input_kind == "rgb_crops":
        return {"frames": tf.constant(rng.random((batch, frames, *hw, 3)).astype("float32")),
                "ratios": tf.constant(rng.uniform(0.3, 0.6, (batch, frames)).astype("float32"))}
    return tf.constant((rng.random((batch, frames, *hw, spec.channels)) > 0.5).astype("float32"))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="*", default=None,
                   help="model names (default: every silhouette and RGB-sequence model)")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--batch", type=int, default=32, help="throughput batch size")
    p.add_argument("--modes", nargs="*", default=["eager", "function", "xla"])
    p.add_argument("--iters", type=int, default=3, help="timed calls per (model, mode, batch) after 1 warm-up")
    p.add_argument("--latency-iters", type=int, default=10, help="timed batch-1 calls")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = TF default, all cores)")
    p.add_argument("--matmul-size", type=int, default=3072)
    p.add_argument("--json", default=None, help="write results as JSON to this path")
    p.add_argument("--disable-grappler", nargs="*", default=[], metavar="OPTIMIZER",
                   help="grappler optimizers to switch off (tf.config.optimizer.set_experimental_options), "
                   "e.g. remapping")
    return p.parse_args(argv)


def setup_threads(n):
    import tensorflow as tf

    if n:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def _timed(fn, x, iters):
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        out = fn(x)
        for v in (out.values() if isinstance(out, dict) else [out]):
            np.asarray(v)  # force completion
        times.append(time.perf_counter() - t0)
    return times


def matmul_flops(n, iters=5):
    """Best float32 matmul FLOP/s for an n x n x n product (tf.function and XLA; max of both)."""
    import tensorflow as tf

    a = tf.random.uniform((n, n), dtype=tf.float32)
    b = tf.random.uniform((n, n), dtype=tf.float32)
    best = {}
    for label, jit in (("function", False), ("xla", True)):
        f = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)[:1, :1]), jit_compile=jit)
        f(a, b).numpy()
        ts = []
        for _ in range(iters):
            t0 = time.perf_counter()
            f(a, b).numpy()
            ts.append(time.perf_counter() - t0)
        best[label] = 2.0 * n**3 / min(ts)
    return best


def count_flops(model, frames, hw, channels=1, ratios=False):
    """FLOPs of one sequence ``[1, frames, H, W, channels]`` (with ``ratios``: a dict input with
    per-frame ratios, GaitEdge): TF profiler + Einsum equations."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    from tensorflow.python.profiler import model_analyzer, option_builder

    f = tf.function(lambda x: model(x, training=False))
    spec = tf.TensorSpec([1, frames, hw[0], hw[1], channels], tf.float32)
    if ratios:
        spec = {"frames": spec, "ratios": tf.TensorSpec([1, frames], tf.float32)}
    cf = f.get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(cf)
    opts = option_builder.ProfileOptionBuilder(
        option_builder.ProfileOptionBuilder.float_operation()
    ).with_empty_output().build()
    prof = model_analyzer.profile(graph=frozen.graph, options=opts)
    einsum = 0
    for op in frozen.graph.get_operations():
        if op.type != "Einsum":
            continue
        eq = op.get_attr("equation").decode()
        lhs = eq.split("->")[0].split(",")
        dims = {}
        for term, tensor in zip(lhs, op.inputs):
            for ch, d in zip(term, tensor.shape.as_list()):
                dims[ch] = d
        einsum += 2 * int(np.prod([dims[c] for c in dims]))
    return int(prof.total_float_ops) + einsum


def bench_model(name, args, log):
    import keras
    import tensorflow as tf

    from gait_tf import models
    from gait_tf.models.blocks import count_parameters

    label = name
    name, overrides = parse_variant(name)
    spec = models.get_spec(name)
    cfg = spec.config_for(None, **overrides)
    hw = tuple(cfg.get("input_hw", spec.input_hw))
    keras.backend.clear_session()
    model = models.create(name, **overrides)
    rng = np.random.default_rng(0)
    ch = spec.channels
    x1 = _sequence_input(spec, hw, 1, args.frames, rng)
    xb = _sequence_input(spec, hw, args.batch, args.frames, rng)
    res = {
        "model": label,
        "preset": spec.default_preset,
        "overrides": overrides,
        "input_hw": list(hw),
        "input_kind": spec.input_kind,
        "parameters": count_parameters(model),
        "flops_per_sequence": count_flops(model, args.frames, hw, ch, ratios=spec.input_kind == "rgb_crops"),
        "modes": {},
    }
    for mode in args.modes:
        if mode == "eager":
            fn = lambda x: model(x, training=False)  # noqa: E731
        elif mode == "function":
            fn = tf.function(lambda x: model(x, training=False))
        elif mode == "xla":
            fn = tf.function(lambda x: model(x, training=False), jit_compile=True)
        else:
            raise SystemExit(f"unknown mode {mode!r}")
        _timed(fn, x1, 1)
        lat = _timed(fn, x1, args.latency_iters)
        _timed(fn, xb, 1)
        thr = _timed(fn, xb, args.iters)
        med = statistics.median(thr)
        seq_s = args.batch / med
        res["modes"][mode] = {
            "latency_b1_ms": 1e3 * statistics.median(lat),
            "latency_b1_ms_min": 1e3 * min(lat),
            "batch_time_s": med,
            "throughput_seq_s": seq_s,
            "gflop_s": seq_s * res["flops_per_sequence"] / 1e9,
        }
        log(f"  {name} {mode}: b1 {1e3 * statistics.median(lat):.1f} ms, b{args.batch} {seq_s:.2f} seq/s")
    return res


def main(argv=None):
    args = parse_args(argv)
    setup_threads(args.threads)
    import tensorflow as tf

    if args.disable_grappler:
        tf.config.optimizer.set_experimental_options({opt: False for opt in args.disable_grappler})

    from gait_tf import models

    names = args.models or [n for n in models.list_models() if models.get_spec(n).input_kind in SEQUENCE_KINDS]
    for n in names:
        models.get_spec(parse_variant(n)[0])  # unknown names fail before the long run

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    load_before = os.getloadavg()
    mm = matmul_flops(args.matmul_size)
    peak = max(mm.values())
    log(f"matmul {args.matmul_size}^3 float32: " + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in mm.items()))
    results = []
    for name in names:
        try:
            results.append(bench_model(name, args, log))
        except Exception as exc:  # keep benchmarking the others
            log(f"  {name}: FAILED {type(exc).__name__}: {exc}")
            results.append({"model": name, "error": f"{type(exc).__name__}: {exc}"})
        if args.json:  # partial results survive an interrupted run
            _write_json(args.json, {"partial": True, "matmul_flop_s": {"before": mm}, "results": results})
    mm_after = matmul_flops(args.matmul_size)
    peak = max(peak, max(mm_after.values()))  # the best of both measurements (conservative)
    for r in results:
        for m in r.get("modes", {}).values():
            m["fraction_of_matmul"] = m["gflop_s"] * 1e9 / peak

    header = f"{'model':<22} {'params':>11} {'GFLOP/seq':>9} {'mode':<9} {'b1 ms':>8} {'b' + str(args.batch) + ' seq/s':>10} {'GFLOP/s':>8} {'%matmul':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        if "error" in r:
            print(f"{r['model']:<22} ERROR {r['error']}")
            continue
        for mode, m in r["modes"].items():
            print(
                f"{r['model']:<22} {r['parameters']:>11,} {r['flops_per_sequence'] / 1e9:>9.2f} {mode:<9} "
                f"{m['latency_b1_ms']:>8.1f} {m['throughput_seq_s']:>10.2f} {m['gflop_s']:>8.1f} "
                f"{100 * m['fraction_of_matmul']:>7.1f}%"
            )
    print(f"matmul (same run): {max(mm.values()) / 1e9:.1f} GFLOP/s before, "
          f"{max(mm_after.values()) / 1e9:.1f} GFLOP/s after, %matmul uses the best ({peak / 1e9:.1f}); "
          f"load average before {load_before}, "
          f"after {os.getloadavg()}")
    report = {
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "tensorflow": tf.__version__,
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "matmul_flop_s": {"before": mm, "after": mm_after, "peak_used": peak},
        "results": results,
    }
    if args.json:
        _write_json(args.json, report)
    return report


def _write_json(path, obj):
    from gait_tf.utils.atomic import write_json

    write_json(path, obj)


if __name__ == "__main__":
    main()
