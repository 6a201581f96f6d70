"""Load test of the serving path: N concurrent gRPC (or REST) clients against a model server.

By default it exports a model (random weights unless --weights) into a temporary
``saved_models/``, starts the development server in-process on 127.0.0.1 (ephemeral
ports) and runs ``--clients`` client threads, each with its own channel, sending
requests of ``--batch`` sequences of ``--frames`` frames until ``--duration`` seconds
have passed OR ``--max-requests`` requests were sent (whichever comes first). Every
response is compared with in-process inference of the same Keras model; the run fails
(exit 1) on any error or any difference above ``--atol``.

``--target host:port --model-name NAME`` measures an already running server instead
(e.g. tensorflow/serving from deploy/); the reference check then needs ``--weights``.

Prints a table (requests, errors, req/s, p50/p90/p99 latency, max |diff|) and writes
JSON with ``--json PATH``.

    python benchmarks/serving_load.py --clients 8 --duration 30 --json serving_load.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="gaitset", help="registry model to export (silhouette kind; default gaitset)")
    p.add_argument("--preset", default=None)
    p.add_argument("--set", dest="overrides", action="append", metavar="KEY=JSON", default=[],
                   help="model config override (repeatable)")
    p.add_argument("--weights", default=None, help=".keras / .weights.h5 (default: random init)")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--duration", type=float, default=30.0, help="seconds (stop condition 1)")
    p.add_argument("--max-requests", type=int, default=20000, help="total requests (stop condition 2)")
    p.add_argument("--batch", type=int, default=1, help="sequences per request")
    p.add_argument("--frames", type=int, default=30, help="frames per sequence")
    p.add_argument("--distinct", type=int, default=16, help="distinct request payloads (cycled)")
    p.add_argument("--transport", choices=["grpc", "rest"], default="grpc")
    p.add_argument("--target", default=None, help="existing server host:port (default: start the dev server)")
    p.add_argument("--model-name", default="bench", help="served model name")
    p.add_argument("--atol", type=float, default=1e-5)
    p.add_argument("--json", default=None, metavar="PATH")
    return p.parse_args(argv)


def _keras_model(args):
    from gait_tf.serving.export import load_model_for_export

    overrides = {}
    for item in args.overrides:
        k, _, v = item.partition("=")
        overrides[k] = json.loads(v)
    return load_model_for_export(args.model, args.weights, preset=args.preset, random_init=args.weights is None,
                                 overrides=overrides)


def _worker(idx, client_factory, payloads, refs, deadline, budget, lock, results, atol):
    client = client_factory()
    lat, errors, worst = [], [], 0.0
    i = idx
    try:
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            k = i % len(payloads)
            i += 1
            t0 = time.perf_counter()
            try:
                out = client.predict({"silhouettes": payloads[k]})
            except Exception as exc:  # counted, reported
                errors.append(repr(exc)[:300])
                continue
            lat.append(time.perf_counter() - t0)
            diff = float(np.abs(out["embeddings"] - refs[k]).max())
            worst = max(worst, diff)
            if diff > atol:
                errors.append(f"result differs from in-process inference by {diff:.3g}")
    finally:
        client.close()
    results[idx] = (lat, errors, worst)


def main(argv=None):
    args = parse_args(argv)
    if args.duration <= 0 or args.max_requests <= 0 or args.clients <= 0:
        sys.exit("--duration, --max-requests and --clients must be positive")
    import tensorflow as tf  # noqa: F401

    from gait_tf.serving import DevServer, GaitServingClient
    from gait_tf.serving.export import export_model

    model = _keras_model(args)
    rng = np.random.default_rng(0)
    payloads = [(rng.random((args.batch, args.frames, 64, 44)) > 0.6).astype(np.uint8) * 255
                for _ in range(args.distinct)]
    refs = [np.asarray(model(p[..., None].astype(np.float32) / 255.0, training=False)["embeddings"])
            for p in payloads]

    server = None
    tmp = tempfile.TemporaryDirectory(prefix="serving_load_")
    try:
        if args.target is None:
            t0 = time.perf_counter()
            export_model(model, Path(tmp.name) / args.model_name, model_name=args.model)
            export_s = time.perf_counter() - t0
            server = DevServer(Path(tmp.name) / "models.config", port=0, rest_port=0).start()
            target = server.target if args.transport == "grpc" else server.rest_url
        else:
            export_s = None
            target = args.target
        factory = lambda: GaitServingClient(target, args.model_name, timeout=60)  # noqa: E731
        factory().wait_until_available(60).check_signature()

        results = [None] * args.clients
        budget, lock = [args.max_requests], threading.Lock()
        start = time.monotonic()
        deadline = start + args.duration
        threads = [threading.Thread(target=_worker, args=(i, factory, payloads, refs, deadline, budget, lock,
                                                          results, args.atol)) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
    finally:
        if server is not None:
            server.stop()
        tmp.cleanup()

    lat = np.array([x for r in results for x in r[0]])
    errors = [e for r in results for e in r[1]]
    report = {
        "model": args.model, "preset": args.preset, "overrides": args.overrides,
        "weights": args.weights or "random-init", "transport": args.transport,
        "server": "external " + args.target if args.target else "gait-tf dev server (in-process, 127.0.0.1)",
        "clients": args.clients, "batch": args.batch, "frames": args.frames,
        "duration_limit_s": args.duration, "max_requests": args.max_requests, "elapsed_s": round(elapsed, 2),
        "requests": int(len(lat)), "errors": len(errors), "error_samples": errors[:5],
        "requests_per_s": round(len(lat) / elapsed, 2) if elapsed else 0.0,
        "sequences_per_s": round(len(lat) * args.batch / elapsed, 2) if elapsed else 0.0,
        "latency_ms": {q: round(float(np.percentile(lat, int(q[1:]))) * 1e3, 2) if len(lat) else None
                       for q in ("p50", "p90", "p99")},
        "max_abs_diff_vs_inprocess": max((r[2] for r in results), default=0.0),
        "export_s": round(export_s, 2) if export_s else None,
        "cpu_count": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    rows = [("clients", report["clients"]), ("requests", report["requests"]), ("errors", report["errors"]),
            ("elapsed s", report["elapsed_s"]), ("requests/s", report["requests_per_s"]),
            ("sequences/s", report["sequences_per_s"]),
            ("p50 ms", report["latency_ms"]["p50"]), ("p90 ms", report["latency_ms"]["p90"]),
            ("p99 ms", report["latency_ms"]["p99"]),
            ("max |diff| vs in-process", f"{report['max_abs_diff_vs_inprocess']:.2e}")]
    print(f"\nserving load test: {args.model} ({report['weights']}), {args.transport}, batch {args.batch} x "
          f"{args.frames} frames, {report['server']}")
    print("-" * 44)
    for k, v in rows:
        print(f"{k:<28}{v:>16}")
    if args.json:
        from gait_tf.utils.atomic import atomic_write

        with atomic_write(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    return 1 if errors or not len(lat) else 0


if __name__ == "__main__":
    sys.exit(main())
