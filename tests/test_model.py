"""The ranker's model builder: shapes, and that a few steps of training order pairs by grade."""
import numpy as np
import tensorflow as tf

from models import features
from models.model import build_ranker


def _batch(overlap, label):
    n = len(label)
    rng = np.random.default_rng(0)
    return ({features.QUERY_TOKEN_IDS: rng.integers(1, 20, (n, features.MAX_QUERY_TOKENS)),
             features.TITLE_TOKEN_IDS: rng.integers(1, 20, (n, features.MAX_TITLE_TOKENS)),
             features.TOKEN_OVERLAP: np.asarray(overlap, np.float32)},
            np.asarray(label, np.float32))


def test_ranker_scores_one_value_per_pair():
    model = build_ranker(vocab_size=21)
    inputs, _ = _batch([0.5, 1.0, 0.0], [0.5, 1.0, 0.0])
    assert model(inputs).shape == (3,)


def test_ranker_learns_to_score_higher_gain_higher():
    tf.keras.utils.set_random_seed(0)
    model = build_ranker(vocab_size=21, hparams={"learning_rate": 0.02})
    overlap = np.linspace(0.0, 1.0, 64)
    inputs, labels = _batch(overlap, overlap)  # the gain follows the overlap feature
    before = model.evaluate(inputs, labels, verbose=0)[0]
    model.fit(inputs, labels, epochs=60, batch_size=16, verbose=0)
    after = model.evaluate(inputs, labels, verbose=0)[0]
    scores = model.predict(inputs, verbose=0)
    assert after < before / 4
    assert scores[-1] > scores[len(scores) // 2] > scores[0]
