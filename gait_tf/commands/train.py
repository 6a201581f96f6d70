"""``gait-tf train --config training/configs/NAME.yaml [--set key=value ...] [--workdir DIR]``."""
from __future__ import annotations

from gait_tf.argtypes import positive_float, positive_int


def register(subparsers):
    p = subparsers.add_parser(
        "train",
        help="train a model from a YAML recipe (resumes from the last checkpoint)",
        description="Train a model from a YAML config (see docs/training.md). The run resumes "
        "from the newest checkpoint in WORKDIR/checkpoints unless --no-resume.",
    )
    p.add_argument("--config", required=True, help="YAML config (training/configs/*.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set optimizer.lr=0.001 --set data.p=4 "
                   "(value parsed as YAML; repeatable)")
    p.add_argument("--workdir", default=None, help="output directory (default: runs/<config name>)")
    p.add_argument("--resume", dest="resume", action="store_true", default=True,
                   help="resume from the newest checkpoint (default)")
    p.add_argument("--no-resume", dest="resume", action="store_false",
                   help="start from scratch: the work directory's checkpoints and metrics.jsonl are deleted")
    p.add_argument("--strategy", default=None,
                   choices=["auto", "default", "one_device", "mirrored", "multi_worker"],
                   help="tf.distribute strategy (overrides train.strategy); multi_worker reads TF_CONFIG")
    p.add_argument("--cpu-replicas", type=positive_int, default=None, metavar="N",
                   help="split the CPU into N logical devices (for --strategy mirrored without GPUs)")
    p.add_argument("--max-steps", type=positive_int, default=None,
                   help="stop after N steps in this process (checkpointed and exported; rerun to continue)")
    p.add_argument("--max-minutes", type=positive_float, default=None,
                   help="stop after this wall time (checkpointed and exported; rerun to continue)")
    p.add_argument("--max-cpu-minutes", type=positive_float, default=None,
                   help="stop after this much CPU time of the process, all threads (30 = 15 min on 2 "
                   "cores; checkpointed and exported; rerun to continue)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.set_defaults(func=run)


def run(args):
    import json
    import sys
    from pathlib import Path

    from gait_tf.train.config import dump_config, load_config

    overrides = list(args.overrides)
    if args.strategy:
        overrides.append(f"train.strategy={args.strategy}")
    # every model trains with the same trainer; a model with its own objective (GaitNet) may
    # have its own config section (gaitnet:), which load_config validates
    cfg = load_config(args.config, overrides)
    if args.print_config:
        print(dump_config(cfg), end="")
        return 0
    if args.cpu_replicas is not None:
        from gait_tf.train.distribute import configure_logical_cpus

        configure_logical_cpus(args.cpu_replicas)
    from gait_tf.train.trainer import train

    workdir = Path(args.workdir) if args.workdir else Path("runs") / cfg["name"]
    summary = train(cfg, workdir, resume=args.resume, max_steps=args.max_steps,
                    max_seconds=None if args.max_minutes is None else args.max_minutes * 60,
                    max_cpu_seconds=None if args.max_cpu_minutes is None else args.max_cpu_minutes * 60)
    if summary["stopped_by"]:
        flag = {"max_steps": f"--max-steps {args.max_steps}", "max_seconds": f"--max-minutes {args.max_minutes}",
                "max_cpu_seconds": f"--max-cpu-minutes {args.max_cpu_minutes}"}[summary["stopped_by"]]
        print(f"stopped by the budget {flag} at step {summary['step']} of {summary['iterations']} "
              f"(checkpointed{', model exported' if summary['export'] else ''}; rerun to continue)",
              file=sys.stderr)
    print(json.dumps({k: summary[k] for k in ("name", "step", "finished", "stopped_by", "steps_per_s",
                                              "checkpoint", "export")}
                     | {"loss": summary["last_metrics"].get("loss")}))
    return 0

