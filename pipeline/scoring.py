"""Scores (query, title) pairs with a pushed SavedModel through its raw-text signature."""
from typing import List

import tensorflow as tf
import tensorflow_text  # noqa: F401  registers the tokeniser ops of cross-encoder SavedModels

from models import features, signatures
from serving.versions import latest_version_dir  # the server's rule for the newest complete version


def check_texts(query: str, titles: List[str]) -> None:
    """An empty query or title has nothing to rank by: refused (ValueError naming it), never scored."""
    if not query.strip():
        raise ValueError("the query is empty")
    for index, title in enumerate(titles, start=1):
        if not title.strip():
            raise ValueError(f"title {index} is empty")


def score_pairs(model_dir: str, query: str, titles: List[str]) -> List[float]:
    check_texts(query, titles)
    loaded = tf.saved_model.load(latest_version_dir(model_dir))
    score_text = loaded.signatures[signatures.SCORE_TEXT]
    outputs = score_text(query=tf.constant([query] * len(titles)), product_title=tf.constant(titles))
    return outputs[features.SCORE].numpy().tolist()
