"""preprocessing_fn: the tokenizer on English and Chinese, the overlap feature, and tf.Transform on rows."""
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from models import features, preprocessing


def _tokens(text):
    return [t.decode() for t in preprocessing.tokenize(tf.constant([text]))[0].numpy()]


def test_tokenize_lowercases_english_and_drops_punctuation():
    assert _tokens("Men's Running-Shoes, BLACK!") == ["men", "s", "running", "shoes", "black"]


def test_tokenize_splits_chinese_into_characters_next_to_latin_words():
    assert _tokens("男士T恤 cotton") == ["男", "士", "t", "恤", "cotton"]


def test_token_overlap_is_share_of_distinct_query_tokens_in_title():
    query = preprocessing.tokenize(tf.constant(["red shoes", "运动鞋", "", "mug mug"]))
    title = preprocessing.tokenize(tf.constant(["Red running shoes", "男士运动T恤", "anything", "tea cup"]))
    overlap = preprocessing.token_overlap(query, title).numpy()
    np.testing.assert_allclose(overlap, [1.0, 2 / 3, 0.0, 0.0], rtol=1e-6)


RAW_ROWS = [
    {"query_id": "q1", "query": "running shoes", "product_id": "p1",
     "product_title": "Running shoes, mesh", "relevance": 3.0},
    {"query_id": "q1", "query": "running shoes", "product_id": "p2",
     "product_title": "Coffee mug", "relevance": 0.0},
    {"query_id": "q2", "query": "T恤", "product_id": "p3", "product_title": "纯棉T恤 白色", "relevance": 1.5},
]


def _raw_metadata():
    spec = {name: tf.io.FixedLenFeature([], tf.string) for name in
            (features.QUERY_ID, features.QUERY, features.PRODUCT_ID, features.PRODUCT_TITLE)}
    spec[features.RELEVANCE] = tf.io.FixedLenFeature([], tf.float32)
    return dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))


@pytest.fixture(scope="module")
def transformed():
    with tft_beam.Context(temp_dir=tempfile.mkdtemp()):
        (rows, _), _ = ((RAW_ROWS, _raw_metadata())
                        | tft_beam.AnalyzeAndTransformDataset(preprocessing.preprocessing_fn,
                                                              output_record_batches=False))
    return rows


def test_transform_scales_the_label_to_normalised_gain(transformed):
    np.testing.assert_allclose([row[features.LABEL] for row in transformed], [1.0, 0.0, 0.5])


def test_transform_pads_token_ids_and_shares_ids_between_query_and_title(transformed):
    first = transformed[0]
    query_ids = first[features.QUERY_TOKEN_IDS]
    title_ids = first[features.TITLE_TOKEN_IDS]
    assert len(query_ids) == features.MAX_QUERY_TOKENS and len(title_ids) == features.MAX_TITLE_TOKENS
    assert list(query_ids[2:]) == [0] * (features.MAX_QUERY_TOKENS - 2)  # two tokens, then padding
    assert list(query_ids[:2]) == list(title_ids[:2])  # "running shoes" starts the title too
    assert min(query_ids[:2]) >= 1  # 0 is reserved for padding


def test_transform_overlap_feature(transformed):
    np.testing.assert_allclose([row[features.TOKEN_OVERLAP] for row in transformed], [1.0, 0.0, 1.0])


def test_transform_passes_the_raw_texts_and_query_id_through_for_the_cross_encoder(transformed):
    assert [row[features.QUERY] for row in transformed] == [b"running shoes", b"running shoes", "T恤".encode()]
    assert [row[features.PRODUCT_TITLE] for row in transformed] == [
        r["product_title"].encode() for r in RAW_ROWS]
    assert [row[features.QUERY_ID] for row in transformed] == [b"q1", b"q1", b"q2"]
