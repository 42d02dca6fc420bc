"""The object every encoder export saves: in-graph tokeniser + BERT, in the TF Hub reusable SavedModel shape.

  __call__({"text_a": [B] string, "text_b": [B] string}, training)  pair, cross-encoder inputs
  __call__({"text_a": [B] string}, training)                        single texts
      -> {"pooled_output": [B, H] (first token's state), "mean_pooled": [B, H], "sequence_output": [B, T, H]}
  embed(texts) and signatures serving_default / embed: mask-aware mean, L2-normalised [B, H]
  tokenize(texts), tokenize_pair(text_a, text_b) -> input_word_ids, input_mask, input_type_ids
  variables, trainable_variables, regularization_losses: what hub.KerasLayer(trainable=True) needs.
The tokenizer needs tokenize(texts) and tokenize_pair(text_a, text_b) returning those three [B, T] tensors.
"""
import pathlib
from typing import Callable, Sequence

import tensorflow as tf
import tensorflow_text as tf_text

from models.encoder import atomic_export, bert

TEXTS = tf.TensorSpec([None], tf.string)


def export_stamp(export_format: int, source_sha256: str, code_files: Sequence[str], max_seq_length: int,
                 max_seq_length_pair: int) -> dict:
    """Everything that decides an export's content (atomic_export's stamp): a change of any re-exports."""
    here = pathlib.Path(__file__).parent
    return {"format": export_format, "source_sha256": source_sha256,
            "code_sha256": atomic_export.code_sha256(here / name for name in code_files),
            "max_seq_length": max_seq_length, "max_seq_length_pair": max_seq_length_pair,
            "tensorflow": tf.__version__, "tensorflow_text": tf_text.__version__}


def save_atomically(output_dir, stamp: dict, required_files: Sequence[str], build: Callable[[], "HubEncoder"],
                    overwrite: bool = False) -> str:
    """Saves build() with its trace() signatures as a stamped export (atomic_export.export_atomically: returns
    at once when output_dir holds one with this stamp, never leaves a half-written one); returns its path."""
    def write(directory: pathlib.Path) -> None:
        module = build()
        tf.saved_model.save(module, str(directory), signatures=module.trace())

    return atomic_export.export_atomically(output_dir, stamp, required_files, write, overwrite)


def embedding_signature(embed) -> tf.types.experimental.ConcreteFunction:
    """A serving signature {"embedding": embed(texts)} taking a named `texts` input."""
    return tf.function(lambda texts: {"embedding": embed(texts)}).get_concrete_function(
        tf.TensorSpec([None], tf.string, name="texts"))


class HubEncoder(tf.Module):
    """The exported object: tokeniser + BERT, with the attributes reusable SavedModels carry."""

    # tf.Module computes these as properties, which a SavedModel does not keep; hub.KerasLayer reads them
    # as saved attributes. Plain class attributes shadow the properties so __init__ can set real lists.
    variables = ()
    trainable_variables = ()
    regularization_losses = ()

    def __init__(self, tokenizer: tf.Module, encoder: bert.BertEncoder, name: str):
        super().__init__(name=name)
        self.tokenizer = tokenizer
        self.bert = encoder
        self.variables = list(self.bert.variables)
        self.trainable_variables = list(self.bert.trainable_variables)
        self.regularization_losses = []

    def _encode(self, tokens: dict, training: bool) -> dict:
        sequence = self.bert(tokens["input_word_ids"], tokens["input_mask"], tokens["input_type_ids"],
                             training=training)
        return {"pooled_output": sequence[:, 0],
                "mean_pooled": bert.mean_pool(sequence, tokens["input_mask"]),
                "sequence_output": sequence}

    def _embed(self, tokens: dict):
        return bert.l2_normalize(self._encode(tokens, training=False)["mean_pooled"])

    @tf.function
    def __call__(self, inputs, training=False):
        if "text_b" in inputs:
            tokens = self.tokenizer.tokenize_pair(inputs["text_a"], inputs["text_b"])
        else:
            tokens = self.tokenizer.tokenize(inputs["text_a"])
        return self._encode(tokens, training)

    @tf.function(input_signature=[TEXTS])
    def embed(self, texts):
        return self._embed(self.tokenizer.tokenize(texts))

    @tf.function(input_signature=[TEXTS])
    def tokenize(self, texts):
        return self.tokenizer.tokenize(texts)

    @tf.function(input_signature=[TEXTS, TEXTS])
    def tokenize_pair(self, text_a, text_b):
        return self.tokenizer.tokenize_pair(text_a, text_b)

    def trace(self) -> dict:
        """Traces every __call__ form hub.KerasLayer may use; returns the serving signatures."""
        for training in (False, True):
            self.__call__.get_concrete_function({"text_a": TEXTS, "text_b": TEXTS}, training=training)
            self.__call__.get_concrete_function({"text_a": TEXTS}, training=training)
        embedding = embedding_signature(self.embed)
        return {"serving_default": embedding, "embed": embedding}
