"""The bag-of-words ranker (MODEL_KIND = "bag_of_words" in pipeline/configs.py; the default ranker is the
fine-tuned cross-encoder of models/cross_encoder.py), trained from scratch.

Input: the transformed features of one (query, product) pair; output: one relevance score per pair (higher
ranks first): shared token embeddings, mean-pooled per side, their interaction and the lexical overlap
feature, then a small MLP.
"""
from typing import Any, Dict

import tf_keras as keras

from models import features

DEFAULT_HPARAMS: Dict[str, Any] = {
    "embedding_dim": 32,
    "hidden_units": 32,
    "learning_rate": 0.01,
}


def model_inputs() -> Dict[str, keras.Input]:
    """Keras inputs named after the transformed features the ranker reads."""
    return {
        features.QUERY_TOKEN_IDS: keras.Input([features.MAX_QUERY_TOKENS], dtype="int64",
                                              name=features.QUERY_TOKEN_IDS),
        features.TITLE_TOKEN_IDS: keras.Input([features.MAX_TITLE_TOKENS], dtype="int64",
                                              name=features.TITLE_TOKEN_IDS),
        features.TOKEN_OVERLAP: keras.Input([], dtype="float32", name=features.TOKEN_OVERLAP),
    }


def build_ranker(vocab_size: int, hparams: Dict[str, Any] = None) -> keras.Model:
    """Builds and compiles the pointwise ranker.

    Args:
      vocab_size: number of token ids, padding (0) and OOV included.
      hparams: overrides of DEFAULT_HPARAMS.
    """
    hp = {**DEFAULT_HPARAMS, **(hparams or {})}
    inputs = model_inputs()
    embed = keras.layers.Embedding(vocab_size, hp["embedding_dim"], mask_zero=True, name="token_embedding")
    pool = keras.layers.GlobalAveragePooling1D(name="mean_pool")
    query = pool(embed(inputs[features.QUERY_TOKEN_IDS]))
    title = pool(embed(inputs[features.TITLE_TOKEN_IDS]))
    overlap = keras.layers.Reshape([1], name="overlap")(inputs[features.TOKEN_OVERLAP])

    interaction = keras.layers.Multiply(name="query_x_title")([query, title])
    joined = keras.layers.Concatenate(name="pair")([query, title, interaction, overlap])
    hidden = keras.layers.Dense(hp["hidden_units"], activation="relu", name="hidden")(joined)
    score = keras.layers.Dense(1, name=features.SCORE)(hidden)
    score = keras.layers.Reshape([], name="score_flat")(score)

    model = keras.Model(inputs=inputs, outputs=score, name="ranker")
    # Pointwise regression on the normalised gain: the score keeps the grade order.
    model.compile(optimizer=keras.optimizers.Adam(hp["learning_rate"]),
                  loss=keras.losses.MeanSquaredError(),
                  metrics=[keras.metrics.RootMeanSquaredError(name="rmse")])
    return model
