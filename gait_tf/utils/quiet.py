"""Keep the command line's output to what the user asked for.

TensorFlow prints lines of its own on a machine without a GPU: the C++ runtime's
``absl`` lines while it is imported (``WARNING: All log messages before
absl::InitializeLog() ...``, ``cudart_stub.cc ... Could not find cuda drivers``), the
``failed call to cuInit: INTERNAL: CUDA error`` line at the first device query, and
Python-side ``absl`` / ``tensorflow`` logger warnings. They read as failures to a
newcomer. :func:`quiet_tensorflow` (called by ``gait-tf`` before anything imports
TensorFlow, unless ``--verbose``):

* sets ``TF_CPP_MIN_LOG_LEVEL=3`` (errors of the C++ runtime are raised as Python
  exceptions anyway), unless the user set it, and ``GRPC_VERBOSITY=NONE`` (gRPC's core
  logs the failures it also returns), unless the user set it;
* installs an import hook that, while ``tensorflow`` is being imported, sends file
  descriptor 2 to a temporary file and then replays to stderr every line that is not a
  C++ log line (so a real import error is still shown);
* raises the ``tensorflow`` / ``absl`` / ``h5py`` Python loggers to ERROR and ignores the
  Python warnings those libraries raise.

``--verbose`` (:func:`verbose_tensorflow`) shows everything (``TF_CPP_MIN_LOG_LEVEL=0``).
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import warnings

#: a C++ log line of absl / TF: ``I0000 00:00:1712345678.123 1234 file.cc:31] message``
CPP_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\]]+\] ")
ABSL_PREINIT_LINE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
NOISY_LOGGERS = ("tensorflow", "absl", "h5py", "jax")
NOISY_WARNING_MODULES = r"(tensorflow|keras|absl|google\.protobuf|h5py|tf_keras|ml_dtypes|torch)(\.|$)"


def is_noise(line: str) -> bool:
    """Whether ``line`` is a C++ runtime log line (or absl's pre-init notice)."""
    line = line.rstrip("\n")
    return not line.strip() or line.startswith(ABSL_PREINIT_LINE) or bool(CPP_LOG_LINE.match(line))


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with silenced_fd2():
            self.loader.exec_module(module)

    def __getattr__(self, name):  # get_resource_reader, is_package, ...
        return getattr(self.loader, name)


class _QuietImportFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of the top-level ``tensorflow`` package (once)."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class silenced_fd2:
    """Context manager: file descriptor 2 goes to a temporary file; on exit the lines that
    are not C++ log lines are written back to stderr."""

    def __enter__(self):
        try:
            sys.stderr.flush()
        except (AttributeError, ValueError, OSError):
            pass
        try:
            self._saved = os.dup(2)
        except OSError:  # no fd 2 (e.g. a daemon): nothing to silence
            self._saved = None
            return self
        self._tmp = tempfile.TemporaryFile(mode="w+b")
        os.dup2(self._tmp.fileno(), 2)
        return self

    def __exit__(self, *exc):
        if self._saved is None:
            return False
        try:
            sys.stderr.flush()
        except (AttributeError, ValueError, OSError):
            pass
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.seek(0)
        text = self._tmp.read().decode("utf-8", "replace")
        self._tmp.close()
        kept = [line for line in text.splitlines(keepends=True) if not is_noise(line)]
        if kept:
            sys.stderr.write("".join(kept))
            sys.stderr.flush()
        return False


def quiet_tensorflow() -> None:
    """Hide TensorFlow's C++ lines and library warnings (see the module docstring)."""
    from gait_tf import TF_LOG_LEVEL_FROM_USER

    if not TF_LOG_LEVEL_FROM_USER:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    # gRPC's C core logs failures it also returns (e.g. a port in use) as "E... add_port.cc" lines
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImportFinder())
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=NOISY_WARNING_MODULES)


def verbose_tensorflow() -> None:
    """Show TensorFlow's own log lines (``--verbose``)."""
    from gait_tf import TF_LOG_LEVEL_FROM_USER

    if not TF_LOG_LEVEL_FROM_USER:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)


__all__ = ["is_noise", "quiet_tensorflow", "silenced_fd2", "verbose_tensorflow"]
