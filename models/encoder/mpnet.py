"""MPNet encoder forward pass in plain TensorFlow, initialised from Hugging Face MPNetModel tensors.

MPNet is BERT's post-LN transformer (bert.TransformerLayer) with three differences, all matched here:
  - no token-type embeddings;
  - absolute positions counted from padding_idx + 1 (RoBERTa's convention: the first token is position 2);
  - a learned relative-position bias added to every layer's attention scores: relative distances put into
    32 log-spaced buckets (half per direction, exact below 8, log-scaled up to 128), one bias per head.
"""
import math
from typing import Dict

import numpy as np
import tensorflow as tf

from models.encoder import bert

PADDING_IDX = 1  # <pad>; MPNet's positions start after it
MPNET_LAYER_TENSORS = {
    "query": "attention.attn.q", "key": "attention.attn.k", "value": "attention.attn.v",
    "attention_output": "attention.attn.o", "attention_norm": "attention.LayerNorm",
    "intermediate": "intermediate.dense", "output": "output.dense", "output_norm": "output.LayerNorm",
}
MAX_DISTANCE = 128


def relative_position_bucket(relative_position: tf.Tensor, num_buckets: int,
                             max_distance: int = MAX_DISTANCE) -> tf.Tensor:
    """MPNet's (T5's bidirectional) bucketing of key position - query position, as int32 bucket ids."""
    half = num_buckets // 2
    n = -relative_position
    bucket = tf.cast(n < 0, tf.int32) * half
    n = tf.abs(n)
    max_exact = half // 2
    # log bucket for the far distances; n is at least max_exact where it is used (tf.where picks the exact one)
    far = max_exact + tf.cast(
        tf.math.log(tf.cast(tf.maximum(n, 1), tf.float32) / max_exact)
        / math.log(max_distance / max_exact) * (half - max_exact), tf.int32)
    far = tf.minimum(far, half - 1)
    return bucket + tf.where(n < max_exact, n, far)


class MPNetEncoder(tf.Module):
    """input_word_ids, input_mask, input_type_ids (ignored: MPNet has no segments) [B, T] -> [B, T, hidden]."""

    def __init__(self, tensors: Dict[str, np.ndarray], config: dict, name: str = "mpnet"):
        super().__init__(name=name)
        self.hidden_dropout = config["hidden_dropout_prob"]
        self.num_buckets = config["relative_attention_num_buckets"]
        with self.name_scope:
            self.word_embeddings = tf.Variable(tensors["embeddings.word_embeddings.weight"],
                                               name="word_embeddings")
            self.position_embeddings = tf.Variable(tensors["embeddings.position_embeddings.weight"],
                                                   name="position_embeddings")
            self.embedding_norm = bert.LayerNorm(tensors, "embeddings.LayerNorm", config["layer_norm_eps"],
                                                 "embedding_norm")
            self.relative_attention_bias = tf.Variable(tensors["encoder.relative_attention_bias.weight"],
                                                       name="relative_attention_bias")  # [buckets, heads]
            self.layers = [bert.TransformerLayer(tensors, f"encoder.layer.{i}", config, f"layer_{i}",
                                                 MPNET_LAYER_TENSORS)
                           for i in range(config["num_hidden_layers"])]

    def position_bias(self, length) -> tf.Tensor:
        """[1, heads, T, T] bias of each query position (rows) for each key position (columns)."""
        positions = tf.range(length)
        buckets = relative_position_bucket(positions[tf.newaxis, :] - positions[:, tf.newaxis], self.num_buckets)
        return tf.transpose(tf.gather(self.relative_attention_bias, buckets), [2, 0, 1])[tf.newaxis]

    def __call__(self, input_word_ids, input_mask, input_type_ids=None, training: bool = False):
        del input_type_ids
        mask = tf.cast(input_mask, tf.int32)
        # HF counts positions over the non-pad tokens; the tokenizer pads on the right, so this is the same.
        positions = tf.cumsum(mask, axis=1) * mask + PADDING_IDX
        x = tf.gather(self.word_embeddings, input_word_ids) + tf.gather(self.position_embeddings, positions)
        x = bert._dropout(self.embedding_norm(x), self.hidden_dropout, training, f"{self.name}/embeddings")
        padding = (1.0 - tf.cast(mask, x.dtype)[:, tf.newaxis, tf.newaxis, :]) * x.dtype.min
        attention_bias = padding + tf.cast(self.position_bias(tf.shape(input_word_ids)[1]), x.dtype)
        for layer in self.layers:
            x = layer(x, attention_bias, training)
        return x
