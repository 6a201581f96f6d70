#!/usr/bin/env python
"""Benchmark of the pose pipeline: HumanPoseIRNetwork frames/s (eager, tf.function, XLA;
batch 1 and 16) and GaitNetwork sequences/s, with the achieved fraction of this machine's
measured matmul FLOP/s (a big float32 matmul timed in the same run).

Model FLOPs are counted analytically (2 x multiply-adds of every conv, transposed conv,
depthwise conv, dense layer, the Gaussian smoothing and the RNN matmuls; BN/activations
are not counted).

    python benchmarks/pose.py                      # table
    python benchmarks/pose.py --json pose_bench.json --repeats 3
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backbone", default="inception_resnet_v2", choices=["inception_resnet_v2", "mobilenet_v2"])
    p.add_argument("--batch-sizes", default="1,16")
    p.add_argument("--modes", default="eager,function,xla")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per setting (median reported)")
    p.add_argument("--matmul-n", type=int, default=0, help="matmul size (default 2048 CPU / 8192 GPU)")
    p.add_argument("--gait-batch", type=int, default=8)
    p.add_argument("--gait-frames", type=int, default=30)
    p.add_argument("--precision", default="float32", choices=["float32", "mixed_bfloat16", "mixed_float16"])
    p.add_argument("--json", help="write the results as JSON here")
    return p.parse_args(argv)


def conv_flops(model) -> float:
    """Analytic FLOPs (2 x MACs) of one forward pass of a built functional ``keras.Model``."""
    import keras

    from gait_tf.pose.layers import GaussianSmoothing

    total = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += conv_flops(layer)
            continue
        try:
            out_shape = layer.output.shape
            in_shape = layer.input.shape
        except (AttributeError, ValueError):
            continue
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            total += 2.0 * np.prod(out_shape[1:3]) * kh * kw * out_shape[-1]
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            kh, kw = layer.kernel_size
            total += 2.0 * np.prod(in_shape[1:3]) * kh * kw * in_shape[-1] * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            total += 2.0 * np.prod(out_shape[1:3]) * kh * kw * in_shape[-1] * layer.filters
        elif isinstance(layer, keras.layers.Dense):
            total += 2.0 * in_shape[-1] * layer.units
        elif isinstance(layer, GaussianSmoothing):
            total += 2.0 * np.prod(out_shape[1:]) * layer.size * 2
    return float(total)


def gait_flops(model, frames) -> float:
    """FLOPs of GaitNN for one sequence of ``frames`` frames."""
    per_frame = 2.0 * 17 * 17 * 32 * 256  # 17x17 1x1 conv
    for hin, cin, inner in ((17, 256, 64), (9, 512, 128)):
        hout = (hin + 1) // 2
        per_frame += 2 * hout * hout * cin * 512  # shortcut 1x1 stride 2
        per_frame += 2 * hin * hin * cin * inner + 2 * hout * hout * 9 * inner * inner + 2 * hout * hout * inner * 512
    per_frame += 2 * 25 * 512 * 256 + 2 * 25 * 9 * 256 * 256 + 2 * 6400 * 512
    gates = 3 if model.recurrent_unit == "GRU" else 4
    per_frame += model.rnn_layers * 2 * (512 + 512) * 512 * gates
    return per_frame * frames


def timeit(fn, repeats):
    fn()  # warm-up / compile
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        _ = np.asarray(out if not isinstance(out, dict) else next(iter(out.values())))
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main(argv=None):
    args = parse_args(argv)
    import keras
    import tensorflow as tf

    if args.precision != "float32":
        keras.mixed_precision.set_global_policy(args.precision)
    from gait_tf.pose.gait_network import GaitNNModel
    from gait_tf.pose.human_pose import build_pose_model

    gpu = bool(tf.config.list_physical_devices("GPU"))
    device = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0]).get(
        "device_name", "GPU") if gpu else f"CPU ({os.cpu_count()} cores)"
    load = os.getloadavg()

    # matmul roofline of this machine, same dtype as the model's compute
    n = args.matmul_n or (8192 if gpu else 2048)
    dtype = {"float32": tf.float32, "mixed_bfloat16": tf.bfloat16, "mixed_float16": tf.float16}[args.precision]
    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)
    mm = tf.function(lambda: tf.matmul(a, a))
    reps = 10 if gpu else 3
    t_mm = timeit(lambda: [mm() for _ in range(reps)][-1], max(2, args.repeats)) / reps
    matmul_flops = 2.0 * n ** 3 / t_mm

    model = build_pose_model(args.backbone)
    flops = conv_flops(model)
    rows = []
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        x = tf.random.uniform((bs, 299, 299, 3), -1, 1)
        fns = {"eager": lambda: model(x, training=False)["heatmaps"],
               "function": tf.function(lambda: model(x, training=False)["heatmaps"]),
               "xla": tf.function(lambda: model(x, training=False)["heatmaps"], jit_compile=True)}
        for mode in args.modes.split(","):
            t = timeit(fns[mode], args.repeats)
            rows.append({"model": f"humanpose/{args.backbone}", "mode": mode, "batch": bs,
                         "seconds_per_batch": t, "items_per_s": bs / t, "unit": "frames/s",
                         "gflops_per_item": flops / 1e9, "tflops_per_s": flops * bs / t / 1e12,
                         "fraction_of_matmul": flops * bs / t / matmul_flops})
            print(f"  {rows[-1]['model']} {mode} batch {bs}: {bs / t:.2f} frames/s", flush=True)

    gait = GaitNNModel(recurrent_unit="GRU", rnn_layers=1)
    gait.build()
    gx = tf.random.normal((args.gait_batch, args.gait_frames, 17, 17, 32)) * 50
    gflops = gait_flops(gait, args.gait_frames)
    for mode, fn in (("function", tf.function(lambda: gait(gx)["embeddings"])),
                     ("xla", tf.function(lambda: gait(gx)["embeddings"], jit_compile=True))):
        t = timeit(fn, args.repeats)
        rows.append({"model": "gaitnn/GRU-1", "mode": mode, "batch": args.gait_batch, "seconds_per_batch": t,
                     "items_per_s": args.gait_batch / t, "unit": f"sequences/s (T={args.gait_frames})",
                     "gflops_per_item": gflops / 1e9, "tflops_per_s": gflops * args.gait_batch / t / 1e12,
                     "fraction_of_matmul": gflops * args.gait_batch / t / matmul_flops})
        print(f"  gaitnn {mode}: {args.gait_batch / t:.2f} sequences/s", flush=True)

    print(f"\ndevice: {device}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; precision {args.precision}")
    print(f"matmul {n}x{n}: {matmul_flops / 1e12:.3f} TFLOP/s; humanpose {flops / 1e9:.2f} GFLOPs/frame\n")
    print(f"{'model':28s} {'mode':9s} {'batch':>5s} {'items/s':>10s} {'TFLOP/s':>8s} {'of matmul':>9s}")
    for r in rows:
        print(f"{r['model']:28s} {r['mode']:9s} {r['batch']:5d} {r['items_per_s']:10.2f} "
              f"{r['tflops_per_s']:8.3f} {100 * r['fraction_of_matmul']:8.1f}%")
    result = {"device": device, "load_average": load, "precision": args.precision, "matmul_n": n,
              "matmul_tflops_per_s": matmul_flops / 1e12, "humanpose_gflops_per_frame": flops / 1e9,
              "repeats": args.repeats, "rows": rows}
    if args.json:
        from gait_tf.utils.atomic import write_json

        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
