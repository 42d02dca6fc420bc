"""Exports all-MiniLM-L6-v2 as a TensorFlow Hub style SavedModel (tokeniser in-graph, fine-tunable).

The SavedModel offers:
  __call__({"text_a": [B] string, "text_b": [B] string}, training)  pair, cross-encoder inputs
  __call__({"text_a": [B] string}, training)                        single texts
      -> {"pooled_output": [B, 384] ([CLS] state), "mean_pooled": [B, 384], "sequence_output": [B, T, 384]}
  embed(texts) and signatures serving_default / embed: the sentence-transformers embedding
      (mask-aware mean, L2-normalised) [B, 384]
  tokenize(texts), tokenize_pair(text_a, text_b) -> input_word_ids, input_mask, input_type_ids
  variables, trainable_variables, regularization_losses: what hub.KerasLayer(trainable=True) needs.
Load it after `import tensorflow_text` (its ops are not core TF).
"""
import hashlib
import json
import logging
import os
import pathlib
import re
import shutil
from typing import Optional

import tensorflow as tf
import tensorflow_text as tf_text

from models.encoder import bert
from models.encoder.tokenizer import BertTokenizer
from models.encoder.weights import load_weights, model_dir, source_sha256

EXPORT_FORMAT = 1  # bump when the exported graph changes, so cached exports are rebuilt
MAX_SEQ_LENGTH = 256  # sentence-transformers' max_seq_length for this model
STAMP_FILE = "export_stamp.json"
_TEXTS = tf.TensorSpec([None], tf.string)


def default_export_dir() -> str:
    """<repo>/.cache/encoders/all-minilm-l6-v2 (git-ignored)."""
    return str(pathlib.Path(__file__).resolve().parents[2] / ".cache" / "encoders" / "all-minilm-l6-v2")


class HubEncoder(tf.Module):
    """The exported object: tokeniser + BERT, with the attributes reusable SavedModels carry."""

    # tf.Module computes these as properties, which a SavedModel does not keep; hub.KerasLayer reads them
    # as saved attributes. Plain class attributes shadow the properties so __init__ can set real lists.
    variables = ()
    trainable_variables = ()
    regularization_losses = ()

    def __init__(self, weights, max_seq_length: int, max_seq_length_pair: int):
        super().__init__(name="all_minilm_l6_v2")
        self.tokenizer = BertTokenizer(weights.vocab_path, max_seq_length, max_seq_length_pair)
        self.bert = bert.BertEncoder(weights.tensors, weights.config)
        self.variables = list(self.bert.variables)
        self.trainable_variables = list(self.bert.trainable_variables)
        self.regularization_losses = []

    def _encode(self, tokens: dict, training: bool) -> dict:
        sequence = self.bert(tokens["input_word_ids"], tokens["input_mask"], tokens["input_type_ids"],
                             training=training)
        return {"pooled_output": sequence[:, 0],
                "mean_pooled": bert.mean_pool(sequence, tokens["input_mask"]),
                "sequence_output": sequence}

    @tf.function
    def __call__(self, inputs, training=False):
        if "text_b" in inputs:
            tokens = self.tokenizer.tokenize_pair(inputs["text_a"], inputs["text_b"])
        else:
            tokens = self.tokenizer.tokenize(inputs["text_a"])
        return self._encode(tokens, training)

    @tf.function(input_signature=[_TEXTS])
    def embed(self, texts):
        tokens = self.tokenizer.tokenize(texts)
        return bert.l2_normalize(self._encode(tokens, training=False)["mean_pooled"])

    @tf.function(input_signature=[_TEXTS])
    def tokenize(self, texts):
        return self.tokenizer.tokenize(texts)

    @tf.function(input_signature=[_TEXTS, _TEXTS])
    def tokenize_pair(self, text_a, text_b):
        return self.tokenizer.tokenize_pair(text_a, text_b)

    def trace(self) -> dict:
        """Traces every __call__ form hub.KerasLayer may use; returns the serving signatures."""
        for training in (False, True):
            self.__call__.get_concrete_function({"text_a": _TEXTS, "text_b": _TEXTS}, training=training)
            self.__call__.get_concrete_function({"text_a": _TEXTS}, training=training)
        embedding = tf.function(lambda texts: {"embedding": self.embed(texts)}).get_concrete_function(
            tf.TensorSpec([None], tf.string, name="texts"))
        return {"serving_default": embedding, "embed": embedding}


def _code_sha256() -> str:
    """Hash of the modules that build the graph, so a code change invalidates cached exports."""
    digest = hashlib.sha256()
    for name in ("bert.py", "tokenizer.py", "export.py"):
        digest.update((pathlib.Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


def _wanted_stamp(max_seq_length_pair: int) -> dict:
    return {"format": EXPORT_FORMAT, "source_sha256": source_sha256(model_dir()),
            "code_sha256": _code_sha256(),
            "max_seq_length": MAX_SEQ_LENGTH, "max_seq_length_pair": max_seq_length_pair,
            "tensorflow": tf.__version__, "tensorflow_text": tf_text.__version__}


def _read_stamp(directory: pathlib.Path) -> Optional[dict]:
    """The stamp of a complete export (written last), or None."""
    required = ("saved_model.pb", "variables/variables.index", "assets/vocab.txt", STAMP_FILE)
    if not all((directory / name).is_file() for name in required):
        return None
    try:
        return json.loads((directory / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def export_is_current(output_dir=None, max_seq_length_pair: int = 128) -> bool:
    """Whether output_dir holds a complete export of the installed weights with these parameters."""
    directory = pathlib.Path(output_dir or default_export_dir())
    return _read_stamp(directory) == _wanted_stamp(max_seq_length_pair)


def _remove_stale_temps(output: pathlib.Path) -> None:
    """Deletes temp dirs of exports whose process is gone (an interrupted export leaves only these)."""
    pattern = re.compile(re.escape(f".{output.name}.") + r"(?:tmp|old)-(\d+)$")
    for path in output.parent.glob(f".{output.name}.*"):
        match = pattern.match(path.name)
        if match and not _pid_alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists but belongs to another user
    return True


def export_encoder(output_dir=None, max_seq_length_pair: int = 128, overwrite: bool = False) -> str:
    """Writes the SavedModel to output_dir (default: default_export_dir()) and returns its path.

    Returns at once if output_dir already holds a complete export stamped with the same weights' sha256,
    code, parameters and TF versions (unless overwrite). Exports into a temp dir beside it and renames, so an
    interrupted export never leaves a half-written output_dir. A stale export is replaced; a non-empty
    directory that is not an export is only replaced with overwrite=True.
    """
    output = pathlib.Path(output_dir or default_export_dir()).resolve()
    stamp = _wanted_stamp(max_seq_length_pair)
    existing = _read_stamp(output)
    if existing == stamp and not overwrite:
        return str(output)
    if output.exists() and existing is None and any(output.iterdir()) and not overwrite:
        raise FileExistsError(f"{output} exists and is not an encoder export; pass overwrite=True")

    output.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(output)
    temp = output.parent / f".{output.name}.tmp-{os.getpid()}"
    old = output.parent / f".{output.name}.old-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    try:
        module = HubEncoder(load_weights(), MAX_SEQ_LENGTH, max_seq_length_pair)
        tf.saved_model.save(module, str(temp), signatures=module.trace())
        (temp / STAMP_FILE).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
        if output.exists():
            output.rename(old)
        temp.rename(output)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    logging.info("Exported the encoder to %s", output)
    return str(output)
