"""Export to TF Serving, the development gRPC/REST server and the client.

- :func:`export_model` / :func:`load_model_for_export` (:mod:`.export`): versioned
  SavedModels with stable signatures (:mod:`.signatures`), warm-up requests
  (:mod:`.warmup`), ``models.config`` / ``batching.config`` (:mod:`.model_config`).
- :class:`DevServer` (:mod:`.devserver`): TF Serving's PredictionService/ModelService
  over gRPC (+ REST) for development and tests only.
- :class:`GaitServingClient` (:mod:`.client`): gRPC/REST client with signature check,
  retries and request chunking.

Submodules import TensorFlow lazily; attributes here resolve on first access.
"""
import importlib

_EXPORTS = {
    "export_model": "export", "load_model_for_export": "export", "ExportResult": "export",
    "DevServer": "devserver", "GaitServingClient": "client", "EXPECTED": "signatures",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"gait_tf.serving.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'gait_tf.serving' has no attribute {name!r}")
