"""The TF exports of all-MiniLM-L6-v2 and all-mpnet-base-v2 against sentence-transformers' own output (no
torch needed here).

tests/fixtures/encoder_parity*.json were written by scripts/make_encoder_parity_fixture.py in .venv-torch.
"""
import json
import os
import pathlib

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # hub.KerasLayer works only inside tf_keras models

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text  # noqa: E402,F401  registers the ops the SavedModel uses

import fine_tune_step  # noqa: E402
from models.encoder import exporter  # noqa: E402

pytestmark = pytest.mark.slow  # exports and runs whole encoders

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
# Encoder -> the fixture scripts/make_encoder_parity_fixture.py wrote for it.
FIXTURE_FILES = {"all-MiniLM-L6-v2": "encoder_parity.json", "all-mpnet-base-v2": "encoder_parity_all-mpnet-base-v2.json"}
TOLERANCE = 1e-4


@pytest.fixture(scope="module", params=list(FIXTURE_FILES))
def encoder_name(request):
    return request.param


@pytest.fixture(scope="module")
def fixture(encoder_name):
    return json.loads((FIXTURES / FIXTURE_FILES[encoder_name]).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def export_path(encoder_name, fixture):
    # Cached under .cache/ and re-exported only when the weights or export parameters change.
    module = exporter(encoder_name)
    return module.export_encoder(module.default_export_dir(), max_seq_length_pair=fixture["pair_max_length"])


@pytest.fixture(scope="module")
def encoder(export_path):
    return tf.saved_model.load(export_path)


def _unpadded(tokens, row):
    length = int(tokens["input_mask"][row].numpy().sum())
    return {key: tokens[key][row, :length].numpy().tolist() for key in tokens}


def test_token_ids_match_hugging_face(encoder, fixture):
    texts = fixture["texts"]
    tokens = encoder.tokenize(tf.constant([item["text"] for item in texts]))
    mismatched = [item["text"][:40] for row, item in enumerate(texts)
                  if _unpadded(tokens, row)["input_word_ids"] != item["input_ids"]]
    assert not mismatched, f"{len(mismatched)} of {len(texts)} texts tokenised differently: {mismatched}"
    assert max(len(item["input_ids"]) for item in texts) == fixture["max_seq_length"]  # truncation seen


def test_pair_token_ids_and_segments_match_hugging_face(encoder, fixture):
    pairs = fixture["pairs"]
    tokens = encoder.tokenize_pair(tf.constant([pair["text_a"] for pair in pairs]),
                                   tf.constant([pair["text_b"] for pair in pairs]))
    for row, pair in enumerate(pairs):
        got = _unpadded(tokens, row)
        label = (pair["text_a"][:30], pair["text_b"][:30])
        assert got["input_word_ids"] == pair["input_ids"], label
        assert got["input_type_ids"] == pair["token_type_ids"], label


def test_embeddings_match_sentence_transformers(encoder, fixture):
    texts = fixture["texts"]
    assert len(texts) >= 60
    got = encoder.embed(tf.constant([item["text"] for item in texts])).numpy()
    want = np.array([item["embedding"] for item in texts], dtype=np.float32)
    difference = np.abs(got - want).max(axis=1)
    worst = int(difference.argmax())
    assert difference[worst] <= TOLERANCE, (texts[worst]["text"][:60], float(difference[worst]))


def test_export_is_idempotent(encoder_name, export_path, fixture):
    saved_model = pathlib.Path(export_path) / "saved_model.pb"
    before = saved_model.stat().st_mtime_ns
    assert exporter(encoder_name).export_encoder(export_path, max_seq_length_pair=fixture["pair_max_length"]) == export_path
    assert saved_model.stat().st_mtime_ns == before


def test_keras_layer_fine_tunes_as_cross_encoder(export_path):
    step = fine_tune_step.cross_encoder_step(
        export_path, ["running shoes", "saucepan", "t-shirt", "headphones"],
        ["trail running sneakers", "wireless earbuds", "cotton tee", "garden hose"], [1.0, 0.0, 1.0, 0.0])
    assert len(step.layer.trainable_weights) >= 100
    assert np.isfinite(step.loss) and not step.missing_gradients, step.missing_gradients
    assert not step.unchanged, step.unchanged


def test_fresh_load_embeds_semantically(export_path):
    encoder = tf.saved_model.load(export_path)
    query, near, far = encoder.embed(
        tf.constant(["running shoes", "trail running sneakers", "stainless steel saucepan"])).numpy()
    np.testing.assert_allclose(np.linalg.norm([query, near, far], axis=1), 1.0, atol=1e-5)
    assert float(query @ near) > float(query @ far)
    served = encoder.signatures["serving_default"](texts=tf.constant(["running shoes"]))["embedding"]
    np.testing.assert_allclose(served.numpy()[0], query, atol=1e-6)
