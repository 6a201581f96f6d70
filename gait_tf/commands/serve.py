"""``gait-tf serve --dev``: DEVELOPMENT gRPC/REST server for exported models (127.0.0.1 only).

Serves TF Serving's PredictionService (Predict, GetModelMetadata) and ModelService
(GetModelStatus) over gRPC, plus the REST API, for the models of a ``models.config``.
It is for development and tests only; production serving uses tensorflow/serving
(deploy/, docs/serving.md) — the command prints the matching ``docker run`` line.
"""
from __future__ import annotations

from gait_tf.argtypes import port, port_or_off, positive_float, positive_int


def register(subparsers):
    p = subparsers.add_parser(
        "serve",
        help="serve exported models: --dev runs the development gRPC/REST server (loopback only)",
        description=__doc__,
    )
    p.add_argument("--dev", action="store_true", help="run the in-process development server (required)")
    p.add_argument("--model-config", default="saved_models/models.config", help="models.config (default %(default)s)")
    p.add_argument("--port", type=port, default=8500, help="gRPC port on 127.0.0.1 (default 8500; 0 = any free)")
    p.add_argument("--rest-port", type=port_or_off, default=8501, help="REST port on 127.0.0.1 (default 8501; -1 = off)")
    p.add_argument("--no-warmup", action="store_true", help="skip replaying the warm-up requests")
    p.add_argument("--workers", type=positive_int, default=16, help="gRPC worker threads (default 16)")
    p.add_argument("--max-batch", action="append", type=max_batch_arg, default=[], metavar="N|NAME=N",
                   help="largest batch a request may carry, for every model (N) or one model (NAME=N; "
                   "repeatable). Default: max_batch_size of the version's batching_params.pbtxt, else of "
                   "batching.config beside models.config, else 32")
    p.add_argument("--batching-config", metavar="PATH", default=None,
                   help="batching parameters file (default: batching.config beside --model-config)")
    p.add_argument("--max-request-mb", type=positive_float, default=256.0,
                   help="largest decoded size of a request's inputs in MiB (default 256); larger requests "
                   "are answered RESOURCE_EXHAUSTED")
    p.set_defaults(func=run)


def max_batch_arg(text):
    """``N`` or ``NAME=N`` (N >= 1) -> ``(name or "*", N)``."""
    import argparse

    name, sep, value = str(text).rpartition("=")
    if sep and not name:
        raise argparse.ArgumentTypeError(f"expected N or NAME=N, got {text!r}")
    return (name if sep else "*"), positive_int(value)


def run(args):
    from pathlib import Path

    from gait_tf.errors import ConfigError

    if not args.dev:
        root = Path(args.model_config).resolve().parent
        print("Production serving uses TensorFlow Serving (see deploy/ and docs/serving.md):\n"
              f"  docker run --gpus all -p 8500:8500 -p 8501:8501 -v {root}:/models "
              "tensorflow/serving:latest-gpu --model_config_file=/models/models.config "
              "--enable_batching --batching_parameters_file=/models/batching.config "
              "--enable_model_warmup=true")
        raise ConfigError("gait-tf serve only runs the development server: pass --dev")
    from gait_tf.serving.devserver import DevServer

    max_batch = dict(args.max_batch) or None
    server = DevServer(args.model_config, port=args.port, rest_port=None if args.rest_port < 0 else args.rest_port,
                       max_workers=args.workers, warmup=not args.no_warmup, max_batch=max_batch,
                       batching_config=args.batching_config,
                       max_request_bytes=int(args.max_request_mb * 2**20))
    server.start()
    print(f"gRPC on {server.target}" + (f", REST on {server.rest_url}" if server.rest_url else "")
          + " - Ctrl-C to stop", flush=True)
    server.wait()
    return 0
