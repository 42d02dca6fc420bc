"""Transform's preprocessing_fn: tokens for the from-scratch ranker, a lexical-overlap feature, the label,
and the raw texts (and query id) passed through for the cross-encoder, which tokenises in its own graph.

Tokens are lower-cased words for Latin text and single characters for Chinese (no spaces to split on),
so English and Chinese queries go through the same graph, at training and at serving time.
"""
import tensorflow as tf
import tensorflow_transform as tft

from models import features
from models.text import HAN_CLASS

# Han characters (models/text.py) stand alone as tokens; punctuation becomes space.
_HAN = f"([{HAN_CLASS}])"
_PUNCTUATION = r"[\p{P}\p{S}]"


def tokenize(texts: tf.Tensor) -> tf.RaggedTensor:
    """[batch] strings -> ragged [batch, tokens] of lower-case words and Chinese characters."""
    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, _PUNCTUATION, " ")
    texts = tf.strings.regex_replace(texts, _HAN, r" \1 ")
    return tf.strings.split(texts)


def _pad_ids(ids: tf.RaggedTensor, length: int) -> tf.Tensor:
    """Ragged token ids -> [batch, length] int64, truncated or padded with 0."""
    dense = ids.to_tensor(default_value=0, shape=[None, length])
    return tf.cast(dense, tf.int64)


def token_overlap(query_tokens: tf.RaggedTensor, title_tokens: tf.RaggedTensor) -> tf.Tensor:
    """Share of distinct query tokens that also occur in the title: [batch] float32 in [0, 1]."""
    query_sparse = query_tokens.to_sparse()
    common = tf.sets.size(tf.sets.intersection(query_sparse, title_tokens.to_sparse()))
    distinct = tf.sets.size(query_sparse)
    overlap = tf.math.divide_no_nan(tf.cast(common, tf.float32), tf.cast(distinct, tf.float32))
    return tf.reshape(overlap, [-1])  # tf.sets loses the static rank


def preprocessing_fn(inputs):
    """tf.Transform entry point (Transform's `preprocessing_fn=` import path)."""
    # The schema makes every raw column required, so each arrives dense: [batch] or [batch, 1].
    query = tf.reshape(inputs[features.QUERY], [-1])
    title = tf.reshape(inputs[features.PRODUCT_TITLE], [-1])
    query_tokens = tokenize(query)
    title_tokens = tokenize(title)

    # One vocabulary over query and title tokens, so equal words get equal ids on both sides.
    vocabulary = tft.vocabulary(
        tf.concat([query_tokens, title_tokens], axis=1), vocab_filename=features.VOCAB_NAME)

    def to_ids(tokens):
        # +1 keeps 0 free for padding; unseen tokens share the one OOV id after the vocabulary.
        return tft.apply_vocabulary(tokens, vocabulary, num_oov_buckets=1) + 1

    outputs = {
        features.QUERY_TOKEN_IDS: _pad_ids(to_ids(query_tokens), features.MAX_QUERY_TOKENS),
        features.TITLE_TOKEN_IDS: _pad_ids(to_ids(title_tokens), features.MAX_TITLE_TOKENS),
        features.TOKEN_OVERLAP: token_overlap(query_tokens, title_tokens),
        # Raw strings, [batch] each, for the cross-encoder (models/cross_encoder.py).
        features.QUERY: query,
        features.PRODUCT_TITLE: title,
    }
    if features.QUERY_ID in inputs:  # groups rows into per-query lists for listwise training; not served
        outputs[features.QUERY_ID] = tf.reshape(inputs[features.QUERY_ID], [-1])
    if features.ORIGIN in inputs:  # augmented training data: the Trainer calibrates on the labelled rows
        outputs[features.ORIGIN] = tf.reshape(inputs[features.ORIGIN], [-1])
    if features.WEIGHT in inputs:  # augmented training data: how much each row counts in the loss
        outputs[features.WEIGHT] = tf.cast(tf.reshape(inputs[features.WEIGHT], [-1]), tf.float32)
    if features.RELEVANCE in inputs:  # absent at serving time
        relevance = tf.cast(tf.reshape(inputs[features.RELEVANCE], [-1]), tf.float32)
        outputs[features.LABEL] = features.normalised_gain(relevance)
    return outputs

