"""TeacherLabeling: the filtering rules on hand-made rows, and the executor on real artifacts with a real (tiny,
rule-based) teacher SavedModel and the real exported encoder."""
import json
import os

import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components import examples_io
from components.augmentation import report as report_lib
from components.query_generation.sanitize import normalise
from components.retrieval import candidates as retrieval
from components.teacher_labeling import executor, filtering, report_page, views
from models import features, zero_shot
from models.encoder.export import default_export_dir, export_encoder

SETTINGS = filtering.Settings(min_confidence=0.2, round_trip_top_k=1, retrieval_top_k=5, max_per_query=2,
                              max_per_product=2, eval_similarity=0.95, zero_shot_weight=0.0)


def _candidate(query_id, query, product_id, title, score, origin=features.ORIGIN_RETRIEVED,
               method=retrieval.CATALOG_NEIGHBOUR, source_rank=0, eval_similarity=0.1):
    return {features.QUERY_ID: query_id, features.QUERY: query, features.PRODUCT_ID: product_id,
            features.PRODUCT_TITLE: title, features.ORIGIN: origin, retrieval.METHOD: method,
            retrieval.SOURCE: "", retrieval.SIMILARITY: 0.5, retrieval.SOURCE_RANK: float(source_rank),
            filtering.TEACHER_SCORE: score, filtering.EVAL_SIMILARITY: eval_similarity}


def _generated(query_id, query, product_id, score, method, source_rank=0):
    return _candidate(query_id, query, product_id, f"title {product_id}", score, features.ORIGIN_GENERATED,
                      method, source_rank)


LABELLED = [{features.QUERY_ID: "q1", features.QUERY: "Running Shoes", features.PRODUCT_ID: "p1",
             features.PRODUCT_TITLE: "running shoes", features.RELEVANCE: 3.0}]


def _reasons(outcome):
    return {(row[features.QUERY_ID], row[features.PRODUCT_ID]): reason for reason, row in outcome.rejected}


def test_each_rule_rejects_with_its_reason_and_the_ledger_adds_up():
    rows = [
        _candidate("q1", "running shoes", "p2", "trail shoes", 0.95),  # kept
        _candidate("q1", "running shoes", "p3", "a pot", 0.02),  # kept: confident irrelevant
        _candidate("q1", "running shoes", "p4", "socks", 0.5),  # low_confidence
        _candidate("q2", "  ", "p2", "trail shoes", 0.9),  # invalid_text
        _candidate("q3", "Sneakers!", "p2", "trail shoes", 0.9),  # eval_query (normalised)
        _candidate("q4", "sneaker shoes", "p2", "trail shoes", 0.9, eval_similarity=0.97),  # eval_near_duplicate
        _candidate("q5", "running  shoes", "p1", "running shoes", 0.99),  # duplicate_of_labelled
        _candidate("q6", "RUNNING SHOES", "p2", "trail shoes", 0.9),  # duplicate (of q1/p2 after normalising)
        _candidate("q7", "running shoes", "p5", "x", 0.9),  # cap_per_query ("running shoes" already has 2)
        _generated("g1", "white tee", "p6", 0.9, retrieval.GENERATED_SOURCE, source_rank=1),  # kept
        _generated("g1", "white tee", "p7", 0.1, retrieval.HARD_NEGATIVE),  # kept (negative)
        _generated("g2", "blue tee", "p8", 0.3, retrieval.GENERATED_SOURCE, source_rank=1),  # round_trip:
        _generated("g2", "blue tee", "p9", 0.8, retrieval.HARD_NEGATIVE),  # teacher prefers the negative
        _generated("g3", "red tee", "p10", 0.9, retrieval.GENERATED_SOURCE, source_rank=9),  # round_trip: rank
    ]
    outcome = filtering.select(rows, LABELLED, ["sneakers"], SETTINGS, normalise)
    assert _reasons(outcome) == {
        ("q1", "p4"): "low_confidence", ("q2", "p2"): "invalid_text", ("q3", "p2"): "eval_query",
        ("q4", "p2"): "eval_near_duplicate", ("q5", "p1"): "duplicate_of_labelled", ("q6", "p2"): "duplicate",
        ("q7", "p5"): "cap_per_query", ("g2", "p8"): "round_trip", ("g2", "p9"): "round_trip",
        ("g3", "p10"): "round_trip"}
    kept = {(r[features.QUERY_ID], r[features.PRODUCT_ID]): r for r in outcome.kept}
    assert set(kept) == {("q1", "p2"), ("q1", "p3"), ("g1", "p6"), ("g1", "p7")}
    assert kept[("q1", "p2")][features.RELEVANCE] == pytest.approx(0.95 * features.RELEVANCE_MAX)
    assert kept[("g1", "p6")][features.ORIGIN] == features.ORIGIN_GENERATED
    assert kept[("g1", "p6")][features.WEIGHT] == SETTINGS.weight_generated
    assert len(outcome.kept) + len(outcome.rejected) == len(rows)
    # Same result whatever the input order.
    again = filtering.select(list(reversed(rows)), LABELLED, ["sneakers"], SETTINGS, normalise)
    assert again.kept == outcome.kept and _reasons(again) == _reasons(outcome)


def test_teacher_scores_become_gains_by_their_meaning():
    assert filtering.gain_of(0.0, "logit") == pytest.approx(0.5)
    assert filtering.gain_of(4.0, "logit") == pytest.approx(0.982, abs=1e-3)
    assert filtering.gain_of(-1e6, "logit") == pytest.approx(0.0)
    assert filtering.gain_of(1.3, "gain") == 1.0 and filtering.gain_of(0.25, "gain") == 0.25
    with pytest.raises(ValueError, match="listwise"):
        filtering.Settings(teacher_score="order")
    # The pipeline passes the meaning its teacher's loss implies.
    from models import cross_encoder
    assert cross_encoder.score_meaning({}) == "logit"
    assert cross_encoder.score_meaning({"pointwise_loss": "mse"}) == "gain"
    assert cross_encoder.score_meaning({"loss": "listwise"}) == "order"
    from pipeline import configs
    assert configs.AUGMENTATION.labeling_args()["teacher_score"] == cross_encoder.score_meaning(configs.TEACHER_HPARAMS)


def test_cap_per_product_keeps_the_most_confident():
    rows = [_candidate(f"q{i}", f"query {i}", "p1", "t", score) for i, score in enumerate([0.7, 0.99, 0.9])]
    outcome = filtering.select(rows, [], [], SETTINGS, normalise)
    assert {r[features.QUERY_ID] for r in outcome.kept} == {"q1", "q2"}
    assert _reasons(outcome) == {("q0", "p1"): "cap_per_product"}


# --- executor on real artifacts -------------------------------------------------------------------------

class _OverlapTeacher(tf.Module):
    """A real SavedModel with the teacher's `score_text` signature: a logit whose sigmoid is the share of
    query words in the title (as the cross-encoder's score is a logit)."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.string)])
    def score_text(self, query, product_title):
        q = tf.strings.split(tf.strings.lower(query)).to_sparse()
        t = tf.strings.split(tf.strings.lower(product_title)).to_sparse()
        common = tf.cast(tf.sets.size(tf.sets.intersection(q, t)), tf.float32)
        share = common / tf.maximum(tf.cast(tf.sets.size(q), tf.float32), 1.0)
        share = tf.clip_by_value(share, 1e-6, 1.0 - 1e-6)
        return {features.SCORE: tf.math.log(share) - tf.math.log1p(-share)}


def _raw(query_id, query, product_id, title, relevance):
    return {features.QUERY_ID: query_id, features.QUERY: query, features.PRODUCT_ID: product_id,
            features.PRODUCT_TITLE: title, features.RELEVANCE: relevance}


def run_labeling(tmp_path, settings=SETTINGS, traffic=None, view_encoder_handles=(), llm_judge=None):
    """Runs the executor (overlap teacher, four candidates; traffic: impression rows for its optional input;
    llm_judge: the LLM-judge view's settings) under tmp_path: (train rows, eval rows, report)."""
    teacher = standard_artifacts.Model()
    teacher.uri = str(tmp_path / "teacher")
    module = _OverlapTeacher()
    tf.saved_model.save(module, os.path.join(teacher.uri, "Format-Serving"),
                        signatures={"score_text": module.score_text})
    train = [_raw("q1", "running shoes", "p1", "running shoes for men", 3.0),
             _raw("q2", "steel pot", "p2", "steel pot 5 l", 3.0)]
    evaluation = [_raw("q9", "white t-shirt", "p3", "white t-shirt cotton", 3.0)]
    candidates = [
        _candidate("q1", "running shoes", "p4", "running shoes for kids", 0.0),  # teacher: 1.0 -> kept
        _candidate("q1", "running shoes", "p2", "steel pot 5 l", 0.0),  # teacher: 0.0 -> kept (negative)
        _candidate("q2", "steel pot", "p5", "steel frying pan", 0.0),  # teacher: 0.5 -> low_confidence
        _generated("g1", "white t-shirt", "p3", 0.0, retrieval.GENERATED_SOURCE, 1),  # an eval query
    ]
    for row in candidates:  # the executor adds these itself
        del row[filtering.TEACHER_SCORE], row[filtering.EVAL_SIMILARITY]
    inputs = {"examples": [examples_io.examples_artifact(str(tmp_path / "labelled"),
                                                         {"train": train, "eval": evaluation})],
              "candidates": [examples_io.examples_artifact(str(tmp_path / "candidates"), {"train": candidates})],
              "teacher_model": [teacher]}
    if traffic is not None:
        inputs["traffic"] = [examples_io.examples_artifact(str(tmp_path / "traffic"), {"train": traffic})]
    output = standard_artifacts.Examples()
    output.uri = str(tmp_path / "augmented")
    report = report_lib.AugmentationReport()
    report.uri = str(tmp_path / "report")
    properties = {"encoder_handle": export_encoder(default_export_dir()),
                  "view_encoder_handles": ",".join(view_encoder_handles), **vars(settings),
                  executor.LLM_JUDGE_KEY: json.dumps(llm_judge) if llm_judge else ""}
    executor.Executor().Do(inputs, {"augmented_examples": [output], "report": [report]}, properties)
    read = lambda split: list(examples_io.read_rows(examples_io.split_pattern(output, split)))  # noqa: E731
    return read("train"), read("eval"), report


@pytest.fixture(scope="module")
def labeled(tmp_path_factory):
    return run_labeling(tmp_path_factory.mktemp("teacher_labeling"))


def test_executor_writes_labelled_plus_kept_and_eval_untouched(labeled):
    train, evaluation, _ = labeled
    by_key = {(r[features.QUERY_ID], r[features.PRODUCT_ID]): r for r in train}
    assert set(by_key) == {("q1", "p1"), ("q2", "p2"), ("q1", "p4"), ("q1", "p2")}
    assert by_key[("q1", "p1")][features.ORIGIN] == features.ORIGIN_LABELLED
    assert by_key[("q1", "p1")][features.WEIGHT] == 1.0
    # The teacher's logits came back through the sigmoid onto the relevance scale.
    assert by_key[("q1", "p4")][features.RELEVANCE] == pytest.approx(features.RELEVANCE_MAX, abs=1e-4)
    assert by_key[("q1", "p2")][features.RELEVANCE] == pytest.approx(features.RELEVANCE_MIN, abs=1e-4)
    assert by_key[("q1", "p4")][features.WEIGHT] == SETTINGS.weight_retrieved
    assert [(r[features.QUERY_ID], r[features.ORIGIN]) for r in evaluation] == [("q9", features.ORIGIN_LABELLED)]


def test_executor_report_accounts_for_every_candidate(labeled):
    _, _, report = labeled
    document = report_lib.read_report(report)
    assert document["candidates_in"] == 4 and document["kept"] == 2
    assert document["rejected_by_reason"] == {"low_confidence": 1, "eval_query": 1}
    assert report.get_int_custom_property("kept") == 2
    page = open(os.path.join(report.uri, report_page.HTML_FILE), encoding="utf-8").read()
    assert "eval_query" in page and "4 candidates in" in page.replace("\n", " ")


def test_calibration_is_the_least_squares_line_of_gain_on_cosine():
    calibration = zero_shot.fit_calibration([0.2, 0.4, 0.6, 0.8], [0.1, 0.3, 0.5, 0.7])
    assert calibration.slope == pytest.approx(1.0) and calibration.intercept == pytest.approx(-0.1)
    assert calibration.gain(0.5) == pytest.approx(0.4)
    assert calibration.gain(2.0) == 1.0 and calibration.gain(-1.0) == 0.0  # clipped to the gain scale
    flat = zero_shot.fit_calibration([0.5, 0.5], [0.2, 0.6])  # no spread in cosine: the mean gain
    assert flat.slope == 0.0 and flat.gain(0.9) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="at least 2 labelled"):
        zero_shot.fit_calibration([0.5], [0.2])


def test_the_label_mixes_the_cross_encoder_and_the_calibrated_zero_shot_cosine():
    calibration = zero_shot.Calibration(slope=1.0, intercept=0.0, pairs=10)
    assert zero_shot.ensemble_gain(0.9, 0.3, calibration, 0.5) == pytest.approx(0.6)
    assert zero_shot.ensemble_gain(0.9, 0.3, calibration, 0.0) == pytest.approx(0.9)
    assert zero_shot.ensemble_gain(0.9, 0.3, calibration, 1.0) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="zero_shot_weight"):
        filtering.Settings(zero_shot_weight=1.5)


@pytest.mark.slow  # loads all-mpnet-base-v2
def test_executor_labels_with_views_fitted_on_the_labelled_rows(tmp_path, monkeypatch):
    from components.retrieval import embedding
    from models.encoder import mpnet_export
    loads = []
    load = embedding.TextEncoder.__init__
    monkeypatch.setattr(embedding.TextEncoder, "__init__", lambda self, *a, **k: loads.append(a) or load(self, *a, **k))
    # A fresh per-process cache: an encoder another test's pipeline left alive would be reused, not loaded.
    import weakref
    monkeypatch.setattr(executor, "_ENCODERS", weakref.WeakValueDictionary())
    settings = filtering.Settings(**{**vars(SETTINGS), "zero_shot_weight": 0.5, "min_confidence": 0.0})
    mpnet = mpnet_export.export_encoder(mpnet_export.default_export_dir())
    train, _, report = run_labeling(tmp_path, settings, view_encoder_handles=[mpnet])
    # The eval guard, the views' fit and the scoring share one copy of each encoder per worker process.
    assert sorted(a[0] for a in loads) == sorted([default_export_dir(), mpnet])
    document = report_lib.read_report(report)
    fitted = views.ViewsFit.from_dict(document["teacher_views"])
    assert fitted.encoders == [default_export_dir(), mpnet] and fitted.pairs == 2  # the two labelled train rows
    # One eval row cannot weigh the views: the configured share stays, and says so.
    assert fitted.zero_shot_weight == 0.5 and fitted.weight_fitted_on == 0
    assert set(fitted.eval_ndcg) == {views.CROSS_ENCODER, views.ZERO_SHOT, views.TEACHER_LABEL,
                                     "zero_shot:all-minilm-l6-v2", "zero_shot:all-mpnet-base-v2"}
    assert "zero_shot:all-mpnet-base-v2" in report_page.render_text(document)
    # Recompute the kept rows' labels from the real encoders' cosines: half the overlap teacher's gain (1 for
    # p4, 0 for the steel pot) and half the fitted zero-shot combination.
    from components.retrieval.embedding import TextEncoder
    encoders = [TextEncoder(handle) for handle in fitted.encoders]
    by_key = {(r[features.QUERY_ID], r[features.PRODUCT_ID]): r for r in train}
    for key, title, teacher_gain in ((("q1", "p4"), "running shoes for kids", 1.0),
                                     (("q1", "p2"), "steel pot 5 l", 0.0)):
        rows = [{features.QUERY: "running shoes", features.PRODUCT_TITLE: title}]
        cosines = executor.view_cosines(encoders, rows)[0]
        expected = min(max(0.5 * teacher_gain + 0.5 * fitted.zero_shot_gain(cosines), 0.0), 1.0)
        assert by_key[key][features.RELEVANCE] == pytest.approx(filtering.soft_relevance(expected), abs=1e-3)
    assert by_key[("q1", "p4")][features.RELEVANCE] > by_key[("q1", "p2")][features.RELEVANCE]
