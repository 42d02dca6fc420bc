"""Exports all-MiniLM-L6-v2 as a TensorFlow Hub style SavedModel (tokeniser in-graph, fine-tunable).

The SavedModel offers hub_module.HubEncoder's interface (hidden size 384):
  __call__({"text_a", "text_b"} or {"text_a"}, training) -> pooled_output ([CLS] state), mean_pooled,
      sequence_output; embed(texts) and signatures serving_default / embed: the sentence-transformers
      embedding (mask-aware mean, L2-normalised); tokenize, tokenize_pair ([CLS] a [SEP] b [SEP]);
  variables, trainable_variables, regularization_losses: what hub.KerasLayer(trainable=True) needs.
Load it after `import tensorflow_text` (its ops are not core TF).
"""
import pathlib

from models.encoder import atomic_export, bert, export_dir
from models.encoder.hub_module import HubEncoder, export_stamp, save_atomically
from models.encoder.tokenizer import BertTokenizer
from models.encoder.weights import load_weights, model_dir, source_sha256

NAME = "all-MiniLM-L6-v2"
EXPORT_FORMAT = 1  # bump when the exported graph changes, so cached exports are rebuilt
MAX_SEQ_LENGTH = 256  # sentence-transformers' max_seq_length for this model
REQUIRED_FILES = ("saved_model.pb", "variables/variables.index", "assets/vocab.txt")
_CODE = ("bert.py", "tokenizer.py", "hub_module.py", "export.py")  # the modules that build the graph


def default_export_dir() -> str:
    """<repo>/.cache/encoders/all-minilm-l6-v2 (git-ignored)."""
    return str(export_dir(NAME))


def build_module(weights, max_seq_length: int, max_seq_length_pair: int) -> HubEncoder:
    tokenizer = BertTokenizer(weights.vocab_path, max_seq_length, max_seq_length_pair)
    return HubEncoder(tokenizer, bert.BertEncoder(weights.tensors, weights.config), name="all_minilm_l6_v2")


def _wanted_stamp(max_seq_length_pair: int) -> dict:
    return export_stamp(EXPORT_FORMAT, source_sha256(model_dir()), _CODE, MAX_SEQ_LENGTH, max_seq_length_pair)


def export_is_current(output_dir=None, max_seq_length_pair: int = 128) -> bool:
    """Whether output_dir holds a complete export of the installed weights with these parameters."""
    directory = pathlib.Path(output_dir or default_export_dir())
    return atomic_export.read_stamp(directory, REQUIRED_FILES) == _wanted_stamp(max_seq_length_pair)


def export_encoder(output_dir=None, max_seq_length_pair: int = 128, overwrite: bool = False) -> str:
    """Writes the SavedModel to output_dir (default: default_export_dir()) and returns its path.

    Returns at once if output_dir already holds a complete export stamped with the same weights' sha256,
    code, parameters and TF versions (unless overwrite). Exports into a temp dir beside it and renames, so an
    interrupted export never leaves a half-written output_dir. A stale export is replaced; a non-empty
    directory that is not an export is only replaced with overwrite=True.
    """
    return save_atomically(output_dir or default_export_dir(), _wanted_stamp(max_seq_length_pair), REQUIRED_FILES,
                           lambda: build_module(load_weights(), MAX_SEQ_LENGTH, max_seq_length_pair), overwrite)
