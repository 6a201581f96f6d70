"""The ``gait-tf`` command line.

Each subcommand lives in its own module under :mod:`gait_tf.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` via
``parser.set_defaults(func=handler)``. Handlers take the parsed ``args`` and return
an exit code (or None for 0). Modules must import TensorFlow lazily inside the handler
so that ``gait-tf --help`` stays fast.

Errors deriving from :class:`gait_tf.errors.GaitTFError` are printed as
``gait-tf <command>: error: <message>`` and exit with code 2, without a traceback.
"""
import argparse
import importlib
import pkgutil
import sys

import gait_tf
from gait_tf.errors import GaitTFError


def _command_modules():
    import gait_tf.commands as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"gait_tf.commands.{info.name}")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="gait-tf",
        description="Gait recognition with Keras 3 / TensorFlow: synthesize, pretreat, "
        "train, evaluate, export and serve.",
    )
    parser.add_argument("--version", action="version", version=f"gait_tf {gait_tf.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        module.register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        code = args.func(args)
    except GaitTFError as exc:
        print(f"gait-tf {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gait-tf {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
