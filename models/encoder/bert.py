"""BERT encoder forward pass in plain TensorFlow, initialised from Hugging Face BertModel tensors.

Matches transformers' BertModel numerically: exact (erf) GELU, LayerNorm eps from the config (1e-12),
additive attention mask, dropout only when training=True. Variable names read like bert/layer_0/query/kernel.
"""
import math
import zlib
from typing import Dict

import numpy as np
import tensorflow as tf


class Dense(tf.Module):
    def __init__(self, tensors: Dict[str, np.ndarray], prefix: str, name: str):
        super().__init__(name=name)
        with self.name_scope:
            # torch Linear keeps weight as [out, in]; TF multiplies by [in, out].
            self.kernel = tf.Variable(tensors[f"{prefix}.weight"].T, name="kernel")
            self.bias = tf.Variable(tensors[f"{prefix}.bias"], name="bias")

    def __call__(self, x):
        # tensordot (reshape + one matmul), not einsum("...i,io->...o"): TF's einsum gradient materialises
        # the broadcast [..., in, out] product, which made one fine-tuning step ~100x slower on CPU.
        return tf.tensordot(x, self.kernel, axes=1) + self.bias


class LayerNorm(tf.Module):
    def __init__(self, tensors: Dict[str, np.ndarray], prefix: str, epsilon: float, name: str):
        super().__init__(name=name)
        self.epsilon = epsilon
        with self.name_scope:
            self.gamma = tf.Variable(tensors[f"{prefix}.weight"], name="gamma")
            self.beta = tf.Variable(tensors[f"{prefix}.bias"], name="beta")

    def __call__(self, x):
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + self.epsilon) * self.gamma + self.beta


def _dropout(x, rate: float, training: bool, site: str):
    """Dropout with a fixed op seed per call site: the exported SavedModel's random ops would otherwise carry
    seed 0, and fine-tuning could not repeat itself (keras' set_random_seed does not reach inside it)."""
    if not training or rate <= 0:
        return x
    return tf.nn.dropout(x, rate=rate, seed=zlib.crc32(site.encode()) & 0x7FFFFFFF)


# Each sub-module of a transformer layer -> its tensors' name under the layer's prefix, in BertModel.
BERT_LAYER_TENSORS = {
    "query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
    "attention_output": "attention.output.dense", "attention_norm": "attention.output.LayerNorm",
    "intermediate": "intermediate.dense", "output": "output.dense", "output_norm": "output.LayerNorm",
}


class TransformerLayer(tf.Module):
    """Post-LN block: self-attention + residual + LayerNorm, GELU feed-forward + residual + LayerNorm.
    tensor_names: BERT_LAYER_TENSORS, or another model's names for the same block (MPNet's)."""

    def __init__(self, tensors, prefix: str, config: dict, name: str, tensor_names: Dict[str, str] = None):
        super().__init__(name=name)
        names = {role: f"{prefix}.{suffix}" for role, suffix in (tensor_names or BERT_LAYER_TENSORS).items()}
        eps = config["layer_norm_eps"]
        self.num_heads = config["num_attention_heads"]
        self.head_size = config["hidden_size"] // self.num_heads
        self.hidden_dropout = config["hidden_dropout_prob"]
        self.attention_dropout = config["attention_probs_dropout_prob"]
        with self.name_scope:
            for role in ("query", "key", "value", "attention_output", "intermediate", "output"):
                setattr(self, role, Dense(tensors, names[role], role))
            for role in ("attention_norm", "output_norm"):
                setattr(self, role, LayerNorm(tensors, names[role], eps, role))

    def _heads(self, x):
        """[B, T, H*D] -> [B, H, T, D]."""
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, [batch, length, self.num_heads, self.head_size])
        return tf.transpose(x, [0, 2, 1, 3])

    def __call__(self, x, attention_bias, training: bool):
        """attention_bias: added to the attention scores, broadcast to [B, heads, T, T] (mask, positions)."""
        q, k, v = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(self.head_size) + attention_bias
        probs = _dropout(tf.nn.softmax(scores, axis=-1), self.attention_dropout, training, f"{self.name}/probs")
        context = tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3])
        context = tf.reshape(context, tf.shape(x))
        attended = _dropout(self.attention_output(context), self.hidden_dropout, training, f"{self.name}/attended")
        x = self.attention_norm(x + attended)
        hidden = tf.nn.gelu(self.intermediate(x), approximate=False)
        return self.output_norm(x + _dropout(self.output(hidden), self.hidden_dropout, training, f"{self.name}/output"))


class BertEncoder(tf.Module):
    """input_word_ids, input_mask, input_type_ids [B, T] -> sequence_output [B, T, hidden]."""

    def __init__(self, tensors: Dict[str, np.ndarray], config: dict, name: str = "bert"):
        super().__init__(name=name)
        self.hidden_dropout = config["hidden_dropout_prob"]
        with self.name_scope:
            self.word_embeddings = tf.Variable(tensors["embeddings.word_embeddings.weight"],
                                               name="word_embeddings")
            self.position_embeddings = tf.Variable(tensors["embeddings.position_embeddings.weight"],
                                                   name="position_embeddings")
            self.token_type_embeddings = tf.Variable(tensors["embeddings.token_type_embeddings.weight"],
                                                     name="token_type_embeddings")
            self.embedding_norm = LayerNorm(tensors, "embeddings.LayerNorm", config["layer_norm_eps"],
                                            "embedding_norm")
            self.layers = [TransformerLayer(tensors, f"encoder.layer.{i}", config, f"layer_{i}")
                           for i in range(config["num_hidden_layers"])]

    def __call__(self, input_word_ids, input_mask, input_type_ids, training: bool = False):
        length = tf.shape(input_word_ids)[1]
        x = (tf.gather(self.word_embeddings, input_word_ids)
             + tf.gather(self.token_type_embeddings, input_type_ids)
             + self.position_embeddings[tf.newaxis, :length])
        x = _dropout(self.embedding_norm(x), self.hidden_dropout, training, f"{self.name}/embeddings")
        # Padded keys get a large negative score, as HF's extended attention mask does.
        mask = tf.cast(input_mask, x.dtype)[:, tf.newaxis, tf.newaxis, :]
        attention_bias = (1.0 - mask) * x.dtype.min
        for layer in self.layers:
            x = layer(x, attention_bias, training)
        return x


def mean_pool(sequence_output, input_mask):
    """Mask-aware mean over tokens, as sentence-transformers' Pooling(mean) (clamped denominator)."""
    mask = tf.cast(input_mask, sequence_output.dtype)[:, :, tf.newaxis]
    total = tf.reduce_sum(sequence_output * mask, axis=1)
    return total / tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)


def l2_normalize(x):
    """torch.nn.functional.normalize(p=2, eps=1e-12), the sentence-transformers Normalize module."""
    return x / tf.maximum(tf.norm(x, axis=-1, keepdims=True), 1e-12)
