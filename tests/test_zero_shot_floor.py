"""ZeroShotFloor's executor on real artifacts: labelled eval Examples, candidate SavedModels with the served
`score_text` signature, the real exported encoder and an Evaluator blessing. A candidate is blessed only when
the Evaluator blessed it and it ranks the eval split better than the encoder's zero-shot cosine."""
import json
import os

import pytest
import tensorflow as tf
from tfx.components.evaluator import constants
from tfx.types import standard_artifacts

from components import examples_io
from components.teacher_labeling import views
from components.zero_shot_floor import executor
from models import features
from models.encoder.export import default_export_dir, export_encoder

# Grades a zero-shot encoder gets wrong: the literal match is the poor one (a shopper asking for running shoes
# was shown trail shoes for jogging as the best answer, and a shoe-shaped ornament as the worst).
EVAL = [("q1", "running shoes", "p1", "running shoes christmas ornament", 1.0),
        ("q1", "running shoes", "p2", "trail sneakers for jogging, mesh", 3.0),
        ("q1", "running shoes", "p3", "stainless steel saucepan", 0.0),
        ("q2", "steel pot", "p4", "steel pot keychain", 0.0),
        ("q2", "steel pot", "p5", "5 quart stainless stockpot with lid", 3.0),
        ("q2", "steel pot", "p6", "cotton t-shirt", 1.0)]


def _rows():
    return [{features.QUERY_ID: q, features.QUERY: query, features.PRODUCT_ID: p, features.PRODUCT_TITLE: title,
             features.RELEVANCE: grade} for q, query, p, title, grade in EVAL]


class _LookupRanker(tf.Module):
    """A SavedModel whose score_text is a fixed score per (query, title): sign * the grade (an oracle for
    +1, its reverse for -1)."""

    def __init__(self, sign: float):
        super().__init__()
        keys = tf.constant([f"{query}\t{title}" for _, query, _, title, _ in EVAL])
        values = tf.constant([sign * grade for *_, grade in EVAL], tf.float32)
        self.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), 0.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.string)])
    def score_text(self, query, product_title):
        return {features.SCORE: self.table.lookup(tf.strings.join([query, product_title], "\t"))}


def _model(tmp_path, name, sign):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / name)
    model.id = 7
    module = _LookupRanker(sign)
    tf.saved_model.save(module, os.path.join(model.uri, "Format-Serving"), signatures={"score_text": module.score_text})
    return model


def _evaluator_blessing(tmp_path, blessed: bool):
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "evaluator_blessing")
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY, int(blessed))
    return blessing


def _run(tmp_path, model, evaluator_blessed=True, margin=0.0, enforce=1):
    examples = examples_io.examples_artifact(str(tmp_path / "examples"), {"train": _rows()[:1], "eval": _rows()})
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    executor.Executor().Do(
        {"model": [model], "evaluator_blessing": [_evaluator_blessing(tmp_path, evaluator_blessed)],
         "examples": [examples]},
        {"blessing": [blessing]},
        {"encoder_handle": export_encoder(default_export_dir()), "split": "eval", "margin": margin,
         "enforce": enforce})
    return blessing


@pytest.fixture(scope="module")
def zero_shot_ndcg():
    from components.retrieval.embedding import TextEncoder
    from components.teacher_labeling.executor import pair_cosines
    rows = _rows()
    return views.eval_ndcg(rows, pair_cosines(TextEncoder(export_encoder(default_export_dir())), rows).tolist())


def test_a_candidate_above_the_zero_shot_ranking_is_blessed(tmp_path, zero_shot_ndcg):
    assert zero_shot_ndcg < 1.0  # the data is made so that the encoder alone gets it wrong
    blessing = _run(tmp_path, _model(tmp_path, "oracle", 1.0))
    assert blessing.get_int_custom_property("blessed") == 1
    assert blessing.get_float_custom_property(executor.CANDIDATE_NDCG) == pytest.approx(1.0)
    assert blessing.get_float_custom_property(executor.ZERO_SHOT_NDCG) == pytest.approx(zero_shot_ndcg)
    assert blessing.get_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY) == 7
    assert os.path.exists(os.path.join(blessing.uri, constants.BLESSED_FILE_NAME))
    report = json.load(open(os.path.join(blessing.uri, executor.REPORT_FILE)))
    assert report["blessed"] and report["eval_rows"] == len(EVAL) and report["reason"] == ""
    assert blessing.get_int_custom_property(executor.PASSED) == 1


def test_a_candidate_below_the_zero_shot_ranking_is_refused_with_the_figures(tmp_path, zero_shot_ndcg):
    blessing = _run(tmp_path, _model(tmp_path, "reversed", -1.0))
    assert blessing.get_int_custom_property("blessed") == 0
    assert os.path.exists(os.path.join(blessing.uri, constants.NOT_BLESSED_FILE_NAME))
    reason = blessing.get_string_custom_property(executor.REASON)
    assert f"{zero_shot_ndcg:.4f}" in reason and "does not beat the zero-shot" in reason


def test_the_margin_and_the_evaluator_can_each_refuse_a_good_candidate(tmp_path, zero_shot_ndcg):
    oracle = _model(tmp_path, "oracle", 1.0)
    assert _run(tmp_path / "margin", oracle, margin=1.0 - zero_shot_ndcg).get_int_custom_property("blessed") == 0
    refused = _run(tmp_path / "evaluator", oracle, evaluator_blessed=False)
    assert refused.get_int_custom_property("blessed") == 0
    assert refused.get_int_custom_property(executor.PASSED) == 1  # the floor itself passed


def test_reported_not_enforced_the_evaluator_decides_and_the_failure_is_recorded(tmp_path):
    reversed_model = _model(tmp_path, "reversed", -1.0)
    reported = _run(tmp_path / "report", reversed_model, enforce=0)
    assert reported.get_int_custom_property("blessed") == 1  # the Evaluator blessed it
    assert reported.get_int_custom_property(executor.PASSED) == 0
    assert reported.get_int_custom_property(executor.ENFORCED) == 0
    assert "does not beat the zero-shot" in reported.get_string_custom_property(executor.REASON)
    assert _run(tmp_path / "report_refused", reversed_model, evaluator_blessed=False,
                enforce=0).get_int_custom_property("blessed") == 0


def test_floor_failure_reads_a_nan_figure_as_uncheckable():
    assert "cannot be checked" in executor.floor_failure(float("nan"), 0.9, 0.0)
    assert executor.floor_failure(0.95, 0.9, 0.0) == ""
    assert executor.floor_failure(0.9, 0.9, 0.0)  # a tie does not beat it


@pytest.mark.parametrize("mode", ["enforce", "report"])
def test_the_pusher_and_the_baseline_follow_the_floors_blessing(mode):
    """The Pusher obeys the floor's blessing and the next run's baseline is the latest model it blessed (a
    model the Evaluator blessed but the floor refused was never served); the mode reaches the executor."""
    from components.atomic_pusher.component import Pusher
    from pipeline import pipeline as search_pipeline
    built = search_pipeline.create_pipeline(data_root="d", pipeline_root="r", serving_model_dir="s",
                                            zero_shot_floor=mode)
    floor = next(c for c in built.components if c.id == search_pipeline.ZERO_SHOT_FLOOR_ID)
    assert floor.exec_properties["enforce"] == int(mode == "enforce")
    pusher = next(c for c in built.components if isinstance(c, Pusher))
    assert pusher.inputs["model_blessing"].producer_component_id == search_pipeline.ZERO_SHOT_FLOOR_ID
    resolver = next(c for c in built.components if c.id == "latest_blessed_model_resolver")
    channel = resolver.raw_inputs["model_blessing"]
    assert (channel.producer_component_id, channel.output_key) == (search_pipeline.ZERO_SHOT_FLOOR_ID, "blessing")
    with pytest.raises(ValueError, match="zero_shot_floor"):
        search_pipeline.create_pipeline(data_root="d", pipeline_root="r", serving_model_dir="s",
                                        zero_shot_floor="off")
