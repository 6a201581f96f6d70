"""The ``gait-tf`` command line.

Each subcommand lives in its own module under :mod:`gait_tf.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` via
``parser.set_defaults(func=handler)``. Handlers take the parsed ``args`` and return
an exit code (or None for 0). Modules must import TensorFlow lazily inside the handler
so that ``gait-tf --help`` stays fast.

Errors deriving from :class:`gait_tf.errors.GaitTFError` are printed as
``gait-tf <command>: error: <message>`` and exit with code 2, without a traceback.
Bad arguments are refused by argparse with the same one line and code 2: every numeric
option takes a type from :mod:`gait_tf.argtypes` (positive counts, finite thresholds,
ports), never a bare ``int``/``float``.

Output: only what the command is for. TensorFlow's C++ log lines and library warnings are
hidden (:mod:`gait_tf.utils.quiet`) unless ``--verbose`` is given (before or after the
command name).
"""
import argparse
import importlib
import pkgutil
import sys

import gait_tf
from gait_tf.argtypes import OneLineParser
from gait_tf.errors import GaitTFError

VERBOSE_HELP = "show TensorFlow's own log lines and library warnings"


def _command_modules():
    import gait_tf.commands as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"gait_tf.commands.{info.name}")


def build_parser():
    parser = OneLineParser(
        prog="gait-tf",
        description="Gait recognition with Keras 3 / TensorFlow: synthesize, pretreat, "
        "train, evaluate, export and serve.",
    )
    parser.add_argument("--version", action="version", version=f"gait_tf {gait_tf.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        module.register(sub)
    _add_verbose(sub)
    return parser


def _add_verbose(subparsers_action):
    """``--verbose`` after the command name too (``gait-tf train ... --verbose``), in every
    subcommand and sub-subcommand; SUPPRESS keeps a ``--verbose`` given before the command."""
    for p in set(subparsers_action.choices.values()):
        if "--verbose" not in p._option_string_actions:
            p.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_verbose(action)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from gait_tf.utils.quiet import quiet_tensorflow, verbose_tensorflow

    verbose_tensorflow() if args.verbose else quiet_tensorflow()
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
