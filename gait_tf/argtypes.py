"""Argument types of the ``gait-tf`` command line: one place for every numeric check.

Each function is an ``argparse`` ``type=``: it converts the text and raises
:class:`argparse.ArgumentTypeError` when the value is out of range, so a bad value is
refused before the command runs, with one line naming the option::

    gait-tf identify: error: argument --top-k: must be an integer >= 1, got '0'

Every command uses these instead of bare ``int`` / ``float`` (a bare ``float`` accepts
``nan`` and ``inf``; a bare ``int`` accepts 0 and negative counts). Light module: no
TensorFlow, no numpy.
"""
from __future__ import annotations

import argparse
import math

MAX_PORT = 65535


def _int(text) -> int:
    try:
        return int(str(text).strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _float(text) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def int_at_least(minimum: int, what: str = "an integer"):
    """A type: an integer ``>= minimum``."""

    def parse(text):
        value = _int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what} >= {minimum}, got {text!r}")
        return value

    parse.__name__ = f"int>={minimum}"
    return parse


#: an integer >= 1 (counts, sizes, steps, workers, top-k)
positive_int = int_at_least(1)
#: an integer >= 0 (seeds, thresholds on counts)
non_negative_int = int_at_least(0)


def finite_float(text) -> float:
    """A finite number (``nan`` and ``inf`` refused)."""
    return _float(text)


def positive_float(text) -> float:
    """A finite number > 0 (durations, budgets)."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def non_negative_float(text) -> float:
    """A finite number >= 0 (distances, thresholds)."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def probability(text) -> float:
    """A number in [0, 1]."""
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}")
    return value


def rate_below_one(text) -> float:
    """A rate in [0, 1) (a false-accept rate: 1 would accept everyone)."""
    value = _float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}")
    return value


def port(text) -> int:
    """A TCP port 0..65535 (0: any free port)."""
    value = _int(text)
    if not 0 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be a TCP port in 0..{MAX_PORT} (0 = any free port), got {text!r}")
    return value


def port_or_off(text) -> int:
    """A TCP port 0..65535, or -1 for "off"."""
    value = _int(text)
    if value != -1 and not 0 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(
            f"must be a TCP port in 0..{MAX_PORT} (0 = any free port) or -1 (off), got {text!r}")
    return value


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (``PROG: error: MESSAGE``) and exit
    code 2: no usage block before it. ``--help`` still prints the usage."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


__all__ = ["finite_float", "int_at_least", "non_negative_float", "non_negative_int", "OneLineParser",
           "port", "port_or_off", "positive_float", "positive_int", "probability", "rate_below_one"]
