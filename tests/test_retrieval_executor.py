"""Retrieval executor on real artifacts: a few labelled rows, a tiny catalogue, two generated queries, and the
real exported MiniLM encoder. Plus the exact index on hand-made vectors."""
import os

import numpy as np
import pytest
from tfx.types import standard_artifacts

from components import examples_io
from components.augmentation import report as report_lib
from components.retrieval import candidates, executor
from components.retrieval.index import ExactIndex
from models import features
from models.encoder.export import default_export_dir, export_encoder


def _labelled(query_id, query, product_id, title, relevance):
    return {features.QUERY_ID: query_id, features.QUERY: query, features.PRODUCT_ID: product_id,
            features.PRODUCT_TITLE: title, features.RELEVANCE: relevance}


LABELLED_TRAIN = [
    _labelled("q1", "running shoes", "p1", "Men's running shoes, breathable mesh", 3.0),
    _labelled("q1", "running shoes", "p2", "Stainless steel cooking pot 5 l", 0.0),
    _labelled("q2", "jogging shoes", "p3", "Women's trail running shoes", 3.0),
    _labelled("q3", "cooking pot", "p2", "Stainless steel cooking pot 5 l", 3.0),
]
LABELLED_EVAL = [_labelled("q9", "running sneakers", "p4", "Lightweight running sneakers", 3.0)]
CATALOG = [{features.PRODUCT_ID: pid, features.PRODUCT_TITLE: title} for pid, title in [
    ("p4", "Lightweight running sneakers"),
    ("p5", "Non-stick frying pan 28 cm"),
    ("p6", "Cotton T-shirt, white"),
    ("p7", "Kids' running shoes with velcro"),
]]
GENERATED = [
    {features.QUERY_ID: "gen-p6-0", features.QUERY: "white cotton tee", features.PRODUCT_ID: "p6",
     features.PRODUCT_TITLE: "Cotton T-shirt, white", features.ORIGIN: features.ORIGIN_GENERATED},
    {features.QUERY_ID: "gen-p5-0", features.QUERY: "frying pan", features.PRODUCT_ID: "p5",
     features.PRODUCT_TITLE: "Non-stick frying pan 28 cm", features.ORIGIN: features.ORIGIN_GENERATED},
]


@pytest.fixture(scope="module")
def encoder_handle():
    return export_encoder(default_export_dir())


def run_retrieval(tmp_path, encoder_handle, embedding_cache=""):
    """Runs the executor on the rows above under tmp_path: (candidate rows, report, candidates artifact)."""
    inputs = {
        "examples": [examples_io.examples_artifact(str(tmp_path / "labelled"),
                                                   {"train": LABELLED_TRAIN, "eval": LABELLED_EVAL})],
        "catalog": [examples_io.examples_artifact(str(tmp_path / "catalog"), {"train": CATALOG})],
        "generated_queries": [examples_io.examples_artifact(str(tmp_path / "generated"), {"train": GENERATED})],
    }
    candidates_artifact = standard_artifacts.Examples()
    candidates_artifact.uri = str(tmp_path / "candidates")
    report = report_lib.AugmentationReport()
    report.uri = str(tmp_path / "report")
    os.makedirs(report.uri)
    properties = {"encoder_handle": encoder_handle, "products_per_query": 2, "neighbour_queries": 1,
                  "min_query_similarity": 0.5, "hard_negatives": 2, "embedding_cache": embedding_cache}
    executor.Executor().Do(inputs, {"candidates": [candidates_artifact], "report": [report]}, properties)
    rows = list(examples_io.read_rows(examples_io.split_pattern(candidates_artifact, "train")))
    return rows, report_lib.read_report(report), candidates_artifact


@pytest.fixture(scope="module")
def run(tmp_path_factory, encoder_handle):
    return run_retrieval(tmp_path_factory.mktemp("retrieval"), encoder_handle)


def test_catalog_neighbours_are_unjudged_and_relevant(run):
    rows, _, _ = run
    neighbours = {(r[features.QUERY_ID], r[features.PRODUCT_ID]) for r in rows
                  if r[candidates.METHOD] == candidates.CATALOG_NEIGHBOUR}
    assert ("q1", "p1") not in neighbours and ("q1", "p2") not in neighbours  # already judged
    # The nearest unjudged products of "running shoes" are running shoes, not the frying pan.
    running = {p for q, p in neighbours if q == "q1"}
    assert len(running) == 2 and running <= {"p3", "p4", "p7"}
    assert all(r[features.ORIGIN] == features.ORIGIN_RETRIEVED for r in rows
               if r[candidates.METHOD] != candidates.GENERATED_SOURCE and r[candidates.METHOD] != candidates.HARD_NEGATIVE)


def test_label_transfer_between_similar_queries(run):
    rows, _, _ = run
    transferred = {(r[features.QUERY_ID], r[features.PRODUCT_ID], r[candidates.SOURCE]) for r in rows
                   if r[candidates.METHOD] == candidates.LABEL_TRANSFER}
    # "jogging shoes" takes the products judged for its nearest labelled query, "running shoes" (p1, p2),
    # unless catalog_neighbour found the pair first (each pair is a candidate once).
    assert ("q2", "p2", "q1") in transferred
    q2_pairs = {r[features.PRODUCT_ID] for r in rows if r[features.QUERY_ID] == "q2"}
    assert {"p1", "p2"} <= q2_pairs and "p3" not in q2_pairs  # p3 is already judged for q2
    assert len({(r[features.QUERY_ID], r[features.PRODUCT_ID]) for r in rows}) == len(rows)


def test_generated_queries_keep_their_source_and_get_hard_negatives(run):
    rows, _, _ = run
    by_query = {}
    for r in rows:
        if r[features.ORIGIN] == features.ORIGIN_GENERATED:
            by_query.setdefault(r[features.QUERY_ID], []).append(r)
    assert set(by_query) == {"gen-p6-0", "gen-p5-0"}
    for query_id, source in (("gen-p6-0", "p6"), ("gen-p5-0", "p5")):
        methods = sorted(r[candidates.METHOD] for r in by_query[query_id])
        assert methods == [candidates.GENERATED_SOURCE] + [candidates.HARD_NEGATIVE] * 2
        source_row = next(r for r in by_query[query_id] if r[candidates.METHOD] == candidates.GENERATED_SOURCE)
        assert source_row[features.PRODUCT_ID] == source and source_row[candidates.SOURCE_RANK] == 1.0


def test_eval_split_is_never_read_and_report_adds_up(run):
    rows, report, artifact = run
    assert "q9" not in {r[features.QUERY_ID] for r in rows}
    assert "running sneakers" not in {r[features.QUERY] for r in rows}
    assert report["labelled_queries"] == 3 and report["generated_queries"] == 2
    assert report["products_indexed"] == 7
    assert report["candidates"] == len(rows) == sum(report["candidates_by_method"].values())
    assert examples_io.split_names(artifact) == ["train"]


def test_exact_index_search_and_rank_agree():
    vectors = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0]]  # rows 0 and 4 tie
    index = ExactIndex(["a", "b", "c", "d", "e"], vectors)
    query = np.array([[0.9, 0.1, 0.0, 0.0]], dtype=np.float32)
    rows, scores = index.search(query, 3)
    assert rows.tolist() == [[0, 4, 1]] and scores[0, 0] == scores[0, 1]
    ranks, similarity = index.rank_of(query, np.array([4]))
    assert ranks.tolist() == [2] and similarity[0] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="one vector per id"):
        ExactIndex(["a"], vectors)


def test_text_encoder_keeps_the_callers_order_while_batching_by_length():
    from components.retrieval.embedding import TextEncoder
    texts = ["a very long product title about cordless drills with two batteries and a case", "drill", "",
             "running shoes", "不锈钢保温杯 500ml", "shoes"]
    encoder = TextEncoder(export_encoder(default_export_dir()), batch_size=2)
    together = encoder.embed(texts)
    alone = np.concatenate([encoder.embed([text]) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert together.shape[0] == len(texts) and not np.allclose(together[1], together[3])


def test_the_searched_title_is_the_embedded_one_catalogue_first():
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    def row(product_id, title):
        return {features.PRODUCT_ID: product_id, features.PRODUCT_TITLE: title, features.QUERY_ID: "q",
                features.QUERY: "q text"}
    catalog = [row("p1", "Catalogue title"), row("p2", "b title"), row("p2", "a title")]
    labelled = [row("p1", "Log title"), row("p3", "Only in the log")]
    generated = [row("p1", "Generator input")]
    titles = executor._product_titles(labelled, catalog, generated)
    assert titles == {"p1": "Catalogue title", "p2": "a title", "p3": "Only in the log"}
    with beam.Pipeline() as pipeline:
        def create(name, rows):
            return pipeline | name >> beam.Create(rows)
        texts = executor._texts_to_embed(create("L", labelled), create("C", catalog), create("G", generated))
        products = texts | beam.Filter(lambda kv: kv[0][0] == executor._PRODUCT) | beam.Map(
            lambda kv: (kv[0][1], kv[1]))
        assert_that(products, equal_to(sorted(titles.items())))


@pytest.mark.parametrize("k", [1, 3, 20, 60])
def test_partial_top_k_gives_the_stable_sorts_order_ties_included(k):
    from components.retrieval.index import top_k

    rng = np.random.default_rng(7)
    # Coarse values, so that many ties straddle the k-th place; a few rows are all equal.
    similarities = np.round(rng.uniform(-1, 1, size=(50, 200)), 1).astype(np.float32)
    similarities[:3] = 0.5
    expected = np.argsort(-similarities, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(top_k(similarities, k), expected)
    assert top_k(similarities[:, :2], 5).shape == (50, 2)  # k above the columns: all of them
