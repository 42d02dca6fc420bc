"""In-graph BERT tokenisation that reproduces the Hugging Face BERT tokenizer of all-MiniLM-L6-v2.

The reference is the `tokenizers` (Rust) BertNormalizer + BertPreTokenizer + WordPiece that
sentence-transformers runs (do_lower_case=True, strip_accents unset so it follows lowercasing).
tensorflow-text's own lowering (FastBertTokenizer(lower_case_nfd_strip_accents=True)) NFKC-casefolds
("ß" -> "ss", full width -> ASCII), which HF does not: normalise here and only look words up in tf-text.

Known differences, measured by a sweep over all code points: about 640 characters, all assigned in
Unicode 9 or later except U+1734 (Mn in old tables, Mc now). `tokenizers` classifies punctuation, nonspacing
marks and format characters with Unicode 8 era tables, RE2 here with current ones (e.g. U+061D is
punctuation here, not there); TF's ICU and Rust disagree on lowercasing a few recent capitals.
"""
import pathlib

import tensorflow as tf
import tensorflow_text as tf_text

# HF matches its special tokens in the raw text (case-sensitive, anywhere) before normalising.
_SPECIAL = r"\[(?:PAD|UNK|CLS|SEP|MASK)\]"
# Characters that HF's clean_text maps to a space: \t \n \r, Unicode Zs, and Rust's other White_Space
# characters that are not control characters (U+2028, U+2029).
_WHITESPACE = r"[\t\n\r\p{Zs}\x{2028}\x{2029}]"
# Dropped by clean_text: NUL, U+FFFD and categories Cc, Cf, Co (after \t\n\r became spaces above).
# Unassigned code points (Cn) are kept, as the Rust normaliser keeps them.
_CONTROL = r"[\x00\x{FFFD}\p{Cc}\p{Cf}\p{Co}]"
# HF's _is_chinese_char ranges (CJK Unified Ideographs, extensions A-E, compatibility ideographs) as
# `tokenizers` spells them: its extension E range starts at 0x2B920, not 0x2B820 as in the Python
# BertTokenizer, so U+2B820..U+2B91F stay inside words there, and here.
_CJK = (r"[\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}"
        r"\x{2B740}-\x{2B81F}\x{2B920}-\x{2CEAF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}]")
# HF's _is_punctuation: the four ASCII ranges 33-47, 58-64, 91-96, 123-126 plus Unicode category P*.
_PUNCT = r"[!-/:-@\[-`{-~\p{P}]"
MAX_CHARS_PER_WORD = 100  # HF WordPiece max_input_chars_per_word: longer words become [UNK]


def normalize(texts: tf.Tensor) -> tf.Tensor:
    """HF BertNormalizer(clean_text, handle_chinese_chars, lowercase, strip_accents) on a string tensor."""
    texts = tf.strings.regex_replace(texts, _WHITESPACE, " ")
    texts = tf.strings.regex_replace(texts, _CONTROL, "")
    texts = tf.strings.regex_replace(texts, _CJK, r" \0 ")
    # HF lowercases code point by code point; ICU's toLower would turn a word-final sigma into "ς".
    texts = tf.strings.regex_replace(texts, "Σ", "σ")
    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf_text.normalize_utf8(texts, "NFD")
    return tf.strings.regex_replace(texts, r"\p{Mn}", "")


class BertTokenizer(tf.Module):
    """Text -> word-piece ids, and the [CLS] a [SEP] (b [SEP]) model inputs, all with TF ops."""

    # What a subclass for another vocabulary's special tokens changes (MPNetTokenizer).
    CLS, SEP = "[CLS]", "[SEP]"
    SPECIAL = _SPECIAL  # the special tokens HF matches in the raw text
    # Tokens between the two texts of a pair: its own [SEP] closes the first ("</s></s>" in RoBERTa style).
    PAIR_SEPARATORS = 1

    def __init__(self, vocab_path: pathlib.Path, max_seq_length: int = 256,
                 max_seq_length_pair: int = 128, name: str = "tokenizer"):
        super().__init__(name=name)
        vocab = pathlib.Path(vocab_path).read_text(encoding="utf-8").split("\n")
        ids = {token: index for index, token in enumerate(vocab)}
        self.cls_id, self.sep_id = ids[self.CLS], ids[self.SEP]
        self.max_seq_length = max_seq_length
        self.max_seq_length_pair = max_seq_length_pair
        # An Asset so the SavedModel carries vocab.txt under assets/ and re-points the table at load.
        self.vocab_file = tf.saved_model.Asset(str(vocab_path))
        self.vocab_table = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(self.vocab_file, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                          tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER),
            default_value=-1)
        # Words are split and length-checked here, so the byte limit only has to admit 100 characters.
        self._wordpiece = tf_text.WordpieceTokenizer(
            self.vocab_table, suffix_indicator="##", max_bytes_per_word=4 * MAX_CHARS_PER_WORD,
            token_out_type=tf.int64, unknown_token="[UNK]")

    def words(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """[B] strings -> [B, (words)] normalised words, HF pre-tokenisation (whitespace, punctuation)."""
        # NUL is dropped by HF's clean_text anyway, and tf-text's split and TF's lower stop at it.
        texts = tf.strings.regex_replace(texts, r"\x00", "")
        special = self.SPECIAL
        pieces = tf_text.regex_split(texts, special, keep_delim_regex_pattern=special)
        flat = pieces.flat_values
        flat = tf.where(tf.strings.regex_full_match(flat, special), flat, normalize(flat))
        # Special tokens end words in HF too, so joining the pieces with spaces changes no split.
        joined = tf.strings.reduce_join(pieces.with_flat_values(flat), axis=-1, separator=" ")
        # Special tokens come first in the alternation so "[SEP]" stays one word.
        words = tf_text.regex_split(joined, f" +|{special}|{_PUNCT}",
                                    keep_delim_regex_pattern=f"{special}|{_PUNCT}")
        too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > MAX_CHARS_PER_WORD
        return words.with_flat_values(tf.where(too_long, "[UNK]", words.flat_values))

    def token_ids(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """[B] strings -> [B, (pieces)] int32 word-piece ids, no special tokens."""
        pieces = self._wordpiece.tokenize(self.words(texts))
        return tf.cast(pieces.merge_dims(1, 2), tf.int32)

    def _wrap(self, segments):
        """[CLS] s0 [SEP] (s1 [SEP]) padded to the batch's longest row, with mask and segment ids."""
        batch = segments[0].nrows()
        cls = tf.fill([batch, 1], self.cls_id)
        sep = tf.fill([batch, 1], self.sep_id)
        parts, types = [cls], [tf.zeros_like(cls)]
        for index, segment in enumerate(segments):
            if index:  # the separators a pair adds beyond the first text's closing one
                parts += [sep] * (self.PAIR_SEPARATORS - 1)
                types += [tf.fill([batch, 1], self.segment_id(index))] * (self.PAIR_SEPARATORS - 1)
            parts += [segment, sep]
            types += [tf.ones_like(segment) * self.segment_id(index), tf.fill([batch, 1], self.segment_id(index))]
        ids = tf.concat(parts, axis=1)
        return {
            "input_word_ids": ids.to_tensor(0),
            "input_mask": tf.ones_like(ids).to_tensor(0),
            "input_type_ids": tf.concat(types, axis=1).to_tensor(0),
        }

    def segment_id(self, index: int) -> int:
        """The token-type id of the index-th text (BERT: 0, then 1)."""
        return index

    def tokenize(self, texts: tf.Tensor) -> dict:
        """Single texts: [CLS] a [SEP], truncated to max_seq_length (256 like sentence-transformers)."""
        return self._wrap([self.token_ids(texts)[:, :self.max_seq_length - 2]])

    def tokenize_pair(self, text_a: tf.Tensor, text_b: tf.Tensor) -> dict:
        """Pairs: [CLS] a [SEP] b [SEP] with segment ids, HF longest-first truncation."""
        a, b = self.token_ids(text_a), self.token_ids(text_b)
        keep_a, keep_b = longest_first_lengths(a.row_lengths(), b.row_lengths(),
                                               self.max_seq_length_pair - 2 - self.PAIR_SEPARATORS)
        return self._wrap([_truncate(a, keep_a), _truncate(b, keep_b)])


def longest_first_lengths(len_a: tf.Tensor, len_b: tf.Tensor, target: int):
    """Kept lengths as in `tokenizers` TruncationStrategy::LongestFirst (not the old one-by-one loop).

    If both exceed half the budget, the shorter keeps target // 2 and the longer the rest (b on a tie);
    otherwise the shorter stays whole and the longer gets what is left.
    """
    short, long_ = tf.minimum(len_a, len_b), tf.maximum(len_a, len_b)
    half = tf.constant(target // 2, len_a.dtype)
    both = short > half
    short_keep = tf.where(both, half, short)
    long_keep = tf.where(both, half + target % 2, target - short)
    a_is_longer = len_a > len_b
    keep_a = tf.where(a_is_longer, long_keep, short_keep)
    keep_b = tf.where(a_is_longer, short_keep, long_keep)
    fits = len_a + len_b <= target
    return tf.where(fits, len_a, keep_a), tf.where(fits, len_b, keep_b)


def _truncate(ids: tf.RaggedTensor, keep: tf.Tensor) -> tf.RaggedTensor:
    positions = tf.ragged.range(ids.row_lengths())
    return tf.ragged.boolean_mask(ids, positions < tf.expand_dims(keep, 1))


class MPNetTokenizer(BertTokenizer):
    """The Hugging Face MPNetTokenizer of all-mpnet-base-v2: BERT's normaliser and word pieces (lower case,
    vocab.txt) with RoBERTa's frame: <s> a </s> and, for pairs, <s> a </s></s> b </s>, all token types 0."""

    CLS, SEP = "<s>", "</s>"
    # The added tokens of its tokenizer.json that match the raw text (not normalised).
    SPECIAL = r"</?s>|<pad>|<mask>|\[UNK\]"
    PAIR_SEPARATORS = 2

    def segment_id(self, index: int) -> int:
        return 0
