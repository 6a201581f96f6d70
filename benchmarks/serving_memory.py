"""Memory of the development server under big requests, with and without its request limits.

Exports ``--model`` (random weights; the full-size preset) into a temporary
``saved_models/`` (``gait-tf export`` also writes ``batching.config``: max_batch_size 32),
starts ``gait-tf serve --dev`` as a subprocess, sends one gRPC Predict per ``--batches``
entry (``B`` sequences of ``--frames`` frames of 64x44 uint8) and reads the server's memory
from ``/proc/<pid>/status`` after each: ``VmRSS`` (resident now) and ``VmHWM`` (peak since
the server started). ``--lift-limits`` starts the server with limits that never bind
(``--max-batch 1000000 --max-request-mb 1000000``), which is how it ran before it had
limits: the comparison of both runs is the effect of the limits.

Prints a table and writes JSON (``--json``). Requests run one after another, largest last,
so each row's peak is that request's (or an earlier one's). Linux only (/proc).

    python benchmarks/serving_memory.py --batches 1 32 128 --lift-limits --json before.json
    python benchmarks/serving_memory.py --batches 1 32 128 512 --json after.json
"""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="gaitset", help="registry silhouette model (default gaitset, full size)")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128, 512], help="batch of each request")
    p.add_argument("--frames", type=int, default=30, help="frames per sequence (default 30)")
    p.add_argument("--lift-limits", action="store_true", help="server limits that never bind (as before them)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per request")
    p.add_argument("--json", default=None, metavar="PATH")
    return p.parse_args(argv)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mib(pid):
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def main(argv=None):
    args = parse_args(argv)
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    from gait_tf.serving.export import export_model, load_model_for_export

    tmp = tempfile.TemporaryDirectory(prefix="serving_memory_")
    root = Path(tmp.name) / "saved_models"
    export_model(load_model_for_export(args.model, random_init=True), root / "bench", model_name=args.model,
                 warmup=False)
    port = _free_port()
    cmd = [sys.executable, "-m", "gait_tf", "serve", "--dev", "--model-config", str(root / "models.config"),
           "--port", str(port), "--rest-port", "-1", "--no-warmup"]
    if args.lift_limits:
        cmd += ["--max-batch", "1000000", "--max-request-mb", "1000000"]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 1 << 30),
                                                                     ("grpc.max_receive_message_length", 1 << 30)])
        grpc.channel_ready_future(channel).result(timeout=600)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        rng = np.random.default_rng(0)
        rows = [{"batch": 0, "request_mb": 0.0, "status": "started", **_memory_mib(server.pid), "seconds": 0.0}]
        for batch in args.batches:
            x = ((rng.random((batch, args.frames, 64, 44)) > 0.6) * 255).astype(np.uint8)
            req = predict_pb2.PredictRequest()
            req.model_spec.name = "bench"
            req.inputs["silhouettes"].CopyFrom(tf.make_tensor_proto(x))
            t0 = time.perf_counter()
            try:
                stub.Predict(req, timeout=args.timeout)
                status, detail = "OK", ""
            except grpc.RpcError as exc:
                status, detail = exc.code().name, exc.details()
            rows.append({"batch": batch, "request_mb": round(x.nbytes / 1e6, 1), "status": status,
                         **_memory_mib(server.pid), "seconds": round(time.perf_counter() - t0, 2),
                         "detail": detail})
        channel.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
        tmp.cleanup()
    print(f"\ndev server memory, {args.model} (random init), {args.frames} frames per sequence, limits "
          f"{'lifted (as before the limits)' if args.lift_limits else 'default (batching.config: 32; 256 MiB)'}")
    print(f"{'batch':>6} {'request MB':>10} {'status':<19} {'RSS MiB':>8} {'peak MiB':>9} {'seconds':>8}")
    for r in rows:
        print(f"{r['batch']:>6} {r['request_mb']:>10.1f} {r['status']:<19} {r['VmRSS']:>8.0f} {r['VmHWM']:>9.0f} "
              f"{r['seconds']:>8.2f}")
    for r in rows:
        if r.get("detail"):
            print(f"  batch {r['batch']}: {r['detail']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "frames": args.frames,
                                               "lifted_limits": args.lift_limits, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    from gait_tf.utils.quiet import quiet_tensorflow

    quiet_tensorflow()  # no TensorFlow C++ lines in the table's output
    sys.exit(main())
