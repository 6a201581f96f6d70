"""Keras learns about gait_tf's layers as soon as both packages are imported.

``keras.saving.load_model("x.keras")`` finds custom classes only in Keras' registry, filled
when the module defining a class is imported (``@register_keras_serializable``). ``import
gait_tf`` must stay cheap (the CLI starts with it; TensorFlow takes seconds to import), so it
does not import Keras itself; instead it arranges for :func:`register_keras_objects` to run:

- at once, when Keras is already imported;
- otherwise right after Keras finishes importing (an import hook on the ``keras`` module);
- and, when that moment falls inside the import of a gait_tf module (the model modules import
  Keras), as soon as the outermost gait_tf import completes, so that no half-initialised
  module is imported.

:func:`register_keras_objects` imports every module defining gait_tf Keras objects
(:data:`MODULES` and every model family). It is idempotent and public
(``gait_tf.register_keras_objects()``) for callers that want it explicitly.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import threading

#: modules (besides the model families of :mod:`gait_tf.models`) defining Keras objects
MODULES = ("gait_tf.models.blocks", "gait_tf.pose.layers", "gait_tf.pose.gait_network", "gait_tf.train.schedules")

_lock = threading.RLock()
_state = {"done": False, "running": False, "pending": False}


def register_keras_objects():
    """Import every module that defines gait_tf Keras layers/models/schedules, so that
    ``keras.saving.load_model`` can rebuild any gait_tf ``.keras`` file. Idempotent."""
    with _lock:
        if _state["done"] or _state["running"]:
            return
        _state["running"] = True
        try:
            from gait_tf.models import registry

            registry._discover()
            for name in MODULES:
                importlib.import_module(name)
            _state["done"] = True
            _state["pending"] = False
        finally:
            _state["running"] = False


def _initializing(prefixes, done):
    """Whether a module under one of ``prefixes`` (other than ``done``, which just finished
    executing) is being imported right now."""
    for name, module in list(sys.modules.items()):
        if name != done and name.split(".", 1)[0] in prefixes:
            spec = getattr(module, "__spec__", None)
            if spec is not None and getattr(spec, "_initializing", False):
                return True
    return False


def _register_when_safe(done):
    """Register unless a gait_tf / TensorFlow / Keras import is still under way (then on the
    completion of the outermost gait_tf import)."""
    if _state["done"]:
        return
    if _initializing({"gait_tf", "tensorflow", "keras"}, done):
        _state["pending"] = True
    else:
        register_keras_objects()


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls ``callback(module_name)`` right after module ``name`` (or any module of the
    package ``prefix``) has executed."""

    def __init__(self, callback, name=None, prefix=None):
        self.callback, self.name, self.prefix = callback, name, prefix

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name and (self.prefix is None or fullname.split(".", 1)[0] != self.prefix):
            return None
        spec = None
        for finder in sys.meta_path:
            if isinstance(finder, _AfterImport) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        execute, callback = loader.exec_module, self.callback

        class _Loader(importlib.abc.Loader):
            """The original loader, plus the callback after ``exec_module`` (every other
            attribute — ``get_source``, ``get_filename``, resource readers — is the original's)."""

            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                execute(module)
                callback(module.__name__)

            def __getattr__(self, name):
                return getattr(loader, name)

        spec.loader = _Loader()
        return spec


def _after_import(name):
    if not _state["done"] and (name == "keras" or _state["pending"]):
        _register_when_safe(name)


def install():
    """Called at the end of ``gait_tf/__init__.py``: register now if Keras is loaded, else when it is."""
    keras = sys.modules.get("keras")
    if keras is not None and not getattr(getattr(keras, "__spec__", None), "_initializing", False):
        register_keras_objects()
        return
    if not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(_after_import, prefix="gait_tf"))
        sys.meta_path.insert(0, _AfterImport(_after_import, name="keras"))
