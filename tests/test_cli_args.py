"""Argument validation of every ``gait-tf`` command, in one place (gait_tf.argtypes): an
out-of-range or non-finite number is refused before the command runs, with one line naming
the option and exit code 2."""
import argparse

import pytest

from gait_tf import argtypes
from gait_tf.cli import build_parser, main

# (argv, option named in the error): each was accepted before (silently, or with a traceback)
BAD = [
    (["embed-video", "v.mp4", "--batch-size", "0"], "--batch-size"),
    (["embed-video", "v.mp4", "--max-frames", "-1"], "--max-frames"),
    (["embed-video", "v.mp4", "--rnn-layers", "0"], "--rnn-layers"),
    (["identify", "--gallery", "g", "--embeddings", "e", "--top-k", "0"], "--top-k"),
    (["identify", "--gallery", "g", "--embeddings", "e", "--top-k", "-3"], "--top-k"),
    (["identify", "--gallery", "g", "--embeddings", "e", "--threshold", "-1"], "--threshold"),
    (["identify", "--gallery", "g", "--embeddings", "e", "--threshold", "nan"], "--threshold"),
    (["identify", "--gallery", "g", "--embeddings", "e", "--threshold", "inf"], "--threshold"),
    (["identify-video", "v.mp4", "--gallery", "g", "--model", "m", "--top-k", "0"], "--top-k"),
    (["identify-video", "v.mp4", "--gallery", "g", "--model", "m", "--threshold", "nan"], "--threshold"),
    (["silhouettes", "v.mp4", "-o", "o", "--step", "0"], "--step"),
    (["train", "--config", "c.yaml", "--max-steps", "-3"], "--max-steps"),
    (["train", "--config", "c.yaml", "--max-minutes", "-1"], "--max-minutes"),
    (["train", "--config", "c.yaml", "--max-cpu-minutes", "nan"], "--max-cpu-minutes"),
    (["train", "--config", "c.yaml", "--cpu-replicas", "0"], "--cpu-replicas"),
    (["demo", "--train-seconds", "-5"], "--train-seconds"),
    (["demo", "--steps", "0"], "--steps"),
    (["demo", "--workers", "0"], "--workers"),
    (["serve", "--dev", "--workers", "0"], "--workers"),
    (["serve", "--dev", "--rest-port", "70000"], "--rest-port"),
    (["serve", "--dev", "--port", "-5"], "--port"),
    (["serve", "--dev", "--max-batch", "0"], "--max-batch"),
    (["serve", "--dev", "--max-request-mb", "0"], "--max-request-mb"),
    (["gallery", "calibrate", "g", "--embeddings", "e", "--far", "1.5"], "--far"),
    (["gallery", "calibrate", "g", "--embeddings", "e", "--far", "nan"], "--far"),
    (["pretreat", "in", "--out", "o", "--img-size", "0"], "--img-size"),
    (["pretreat", "in", "--out", "o", "--min-foreground", "-1"], "--min-foreground"),
    (["synth", "--out", "o", "--frames", "0"], "--frames"),
    (["synth", "--out", "o", "--seed", "-1"], "--seed"),
    (["evaluate", "--embeddings", "e", "--synthetic-frames", "0"], "--synthetic-frames"),
    (["export", "gaitset", "--out", "o", "--version", "-2"], "--version"),
    (["pose", "i.png", "--out", "o", "--threshold", "1.5"], "--threshold"),
    (["pose", "i.png", "--out", "o", "--resolution", "200"], "--resolution"),
    (["identify", "--gallery", "g", "--embeddings", "e", "--top-k", "two"], "--top-k"),
]


@pytest.mark.parametrize("argv,option", BAD, ids=[" ".join(a[:1] + a[-2:]) for a, _ in BAD])
def test_bad_numbers_are_refused_with_one_line(argv, option, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    prog = "gait-tf " + (" ".join(argv[:2]) if argv[0] == "gallery" else argv[0])
    assert len(err) == 1, err  # no usage block, no traceback
    assert err[0].startswith(f"{prog}: error: argument {option}"), err[0]
    assert repr(argv[-1]) in err[0] or "invalid choice" in err[0]  # the value is quoted back


def test_no_command_takes_a_bare_int_or_float():
    """Every numeric option goes through gait_tf.argtypes (a bare float accepts nan)."""
    bare = []

    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, path + [name])
            elif action.type in (int, float):
                bare.append(" ".join(path + action.option_strings[-1:]))

    walk(build_parser(), ["gait-tf"])
    assert not bare, f"use gait_tf.argtypes instead of int/float: {bare}"


def test_types():
    assert argtypes.positive_int("3") == 3 and argtypes.non_negative_int("0") == 0
    assert argtypes.port("0") == 0 and argtypes.port("65535") == 65535 and argtypes.port_or_off("-1") == -1
    assert argtypes.non_negative_float("0") == 0.0 and argtypes.probability("1") == 1.0
    assert argtypes.rate_below_one("0.01") == 0.01 and argtypes.positive_float("1e-3") == 1e-3
    for fn, text in [(argtypes.positive_int, "0"), (argtypes.positive_int, "1.5"), (argtypes.port, "65536"),
                     (argtypes.port_or_off, "-2"), (argtypes.finite_float, "nan"), (argtypes.finite_float, "-inf"),
                     (argtypes.positive_float, "0"), (argtypes.non_negative_float, "-0.5"),
                     (argtypes.rate_below_one, "1"), (argtypes.probability, "-0.1")]:
        with pytest.raises(argparse.ArgumentTypeError, match=repr(text).replace(".", r"\.")):
            fn(text)


def test_verbose_before_or_after_the_command():
    parser = build_parser()
    assert parser.parse_args(["--verbose", "gallery", "info", "g"]).verbose
    assert parser.parse_args(["gallery", "info", "g", "--verbose"]).verbose
    assert not parser.parse_args(["gallery", "info", "g"]).verbose


def test_python_api_refuses_the_same_values():
    import numpy as np

    from gait_tf.errors import GalleryError
    from gait_tf.gallery import Gallery

    g = Gallery("toy", (2,))
    g.enroll_many(np.eye(2, dtype=np.float32), ["a", "b"])
    for bad in (0, -3, 1.5, True):
        with pytest.raises(GalleryError, match="top_k must be an integer >= 1"):
            g.identify(np.array([1, 0], np.float32), top_k=bad)
    for bad in (float("nan"), float("inf"), -1.0, "x"):
        with pytest.raises(GalleryError, match="threshold"):
            g.identify_batch(np.eye(2, dtype=np.float32), threshold=bad)
        with pytest.raises(GalleryError, match="threshold"):
            g.threshold = bad
    # an exact match is found with the threshold 0 (not "unknown")
    assert g.identify(np.array([1, 0], np.float32), threshold=0.0).identity == "a"
