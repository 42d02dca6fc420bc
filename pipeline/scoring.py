"""Scores (query, title) pairs with a pushed SavedModel through its raw-text signature."""
import os
from typing import List

import tensorflow as tf
import tensorflow_text  # noqa: F401  registers the tokeniser ops of cross-encoder SavedModels

from models import features, signatures


def latest_version_dir(model_dir: str) -> str:
    """<model_dir>/<largest numeric version>, or model_dir itself if it is a SavedModel."""
    if tf.io.gfile.exists(os.path.join(model_dir, "saved_model.pb")):
        return model_dir
    versions = [v for v in tf.io.gfile.listdir(model_dir) if v.strip("/").isdigit()]
    if not versions:
        raise FileNotFoundError(f"no SavedModel version under {model_dir}")
    return os.path.join(model_dir, max(versions, key=lambda v: int(v.strip("/"))).strip("/"))


def score_pairs(model_dir: str, query: str, titles: List[str]) -> List[float]:
    loaded = tf.saved_model.load(latest_version_dir(model_dir))
    score_text = loaded.signatures[signatures.SCORE_TEXT]
    outputs = score_text(query=tf.constant([query] * len(titles)), product_title=tf.constant(titles))
    return outputs[features.SCORE].numpy().tolist()
