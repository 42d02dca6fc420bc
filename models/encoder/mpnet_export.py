"""Exports all-mpnet-base-v2 as a TensorFlow Hub style SavedModel, as export.py does all-MiniLM-L6-v2.

The same interface (hub_module.HubEncoder, hidden size 768): embed(texts) is the sentence-transformers
embedding (mask-aware mean, L2-normalised, 384 tokens at most); pairs are <s> a </s></s> b </s>. English;
about 4x slower than MiniLM. Its zero-shot ranking is level with MiniLM's on Home Depot but its errors
differ (../shared/notes/models.md): the pipeline uses it as one of the teacher's views.
"""
import pathlib

from models.encoder import atomic_export, export_dir, mpnet, mpnet_weights
from models.encoder.hub_module import HubEncoder, export_stamp, save_atomically
from models.encoder.tokenizer import MPNetTokenizer
from models.encoder.weights import load_weights, source_sha256

NAME = "all-mpnet-base-v2"
EXPORT_FORMAT = 1  # bump when the exported graph changes, so cached exports are rebuilt
MAX_SEQ_LENGTH = 384  # sentence-transformers' max_seq_length for this model
REQUIRED_FILES = ("saved_model.pb", "variables/variables.index", "assets/vocab.txt")
_CODE = ("bert.py", "mpnet.py", "tokenizer.py", "hub_module.py", "mpnet_export.py")


def default_export_dir() -> str:
    """<repo>/.cache/encoders/all-mpnet-base-v2 (git-ignored)."""
    return str(export_dir(NAME))


def build_module(weights, max_seq_length: int, max_seq_length_pair: int) -> HubEncoder:
    tokenizer = MPNetTokenizer(weights.vocab_path, max_seq_length, max_seq_length_pair)
    return HubEncoder(tokenizer, mpnet.MPNetEncoder(weights.tensors, weights.config), name="all_mpnet_base_v2")


def _wanted_stamp(max_seq_length_pair: int) -> dict:
    return export_stamp(EXPORT_FORMAT, source_sha256(mpnet_weights.model_dir()), _CODE, MAX_SEQ_LENGTH,
                        max_seq_length_pair)


def export_is_current(output_dir=None, max_seq_length_pair: int = 128) -> bool:
    """Whether output_dir holds a complete export of the installed weights with these parameters."""
    directory = pathlib.Path(output_dir or default_export_dir())
    return atomic_export.read_stamp(directory, REQUIRED_FILES) == _wanted_stamp(max_seq_length_pair)


def export_encoder(output_dir=None, max_seq_length_pair: int = 128, overwrite: bool = False) -> str:
    """Writes the SavedModel to output_dir (default: default_export_dir()) and returns its path; as
    export.export_encoder (atomic, a no-op when the stamped export is current)."""
    return save_atomically(output_dir or default_export_dir(), _wanted_stamp(max_seq_length_pair), REQUIRED_FILES,
                           lambda: build_module(load_weights(mpnet_weights.model_dir()), MAX_SEQ_LENGTH,
                                                max_seq_length_pair), overwrite)
