"""Safe blessing (issue 6): TFX's Evaluator executor, with the pipeline's eval_config, on the sample's eval split.

Two tiny rankers stand in for trained models, each a SavedModel whose `serving_default` takes serialized
tf.Examples as the real ranker's does:
- word overlap: the share of query tokens found in the title (models/preprocessing.py's tokeniser), a real if
  simple ranker;
- shuffled labels: each eval pair scored with a relevance grade shuffled across all rows, which is what a
  model that fitted shuffled labels can at best output: scores that say nothing about relevance.
The shuffled one is refused by the value threshold alone and, against the word-overlap model as the baseline,
by the change threshold; a good model on too few eval rows is refused too; a refused model is not pushed.
"""
import csv
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from tfx.components.evaluator import executor as evaluator_executor
from tfx.components.example_gen import base_example_gen_executor
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import json_utils, path_utils, proto_utils

from components import examples_io
from components.atomic_pusher import executor as pusher_executor
from models import features, preprocessing
from pipeline import configs, runners
from pipeline.pipeline import eval_config, example_gen_output_config
from serving import model_store

BEAM_ARGS = runners.beam_args(workers=1)
SHUFFLE_SEED = 0


# Data: the sample's eval split, cut as SearchLogExampleGen cuts it (TFX's hash partition, the pipeline's config).

def _eval_rows():
    split_config = example_gen_output_config().split_config
    buckets = np.cumsum([split.hash_buckets for split in split_config.splits]).tolist()
    eval_index = [split.name for split in split_config.splits].index(configs.EVAL_SPLIT)
    with open(configs.SAMPLE_DATA_DIR / "search_log.csv", encoding="utf-8") as f:
        rows = [{**row, features.RELEVANCE: float(row[features.RELEVANCE])} for row in csv.DictReader(f)]
    return [row for row in rows if base_example_gen_executor._PartitionFn(  # pylint: disable=protected-access
        tf.train.Example.FromString(examples_io.to_example(row)), len(buckets), buckets, split_config) == eval_index]


@pytest.fixture(scope="module")
def eval_rows():
    rows = _eval_rows()
    assert len(rows) == 177 and len({row[features.QUERY_ID] for row in rows}) == 20  # as the demo reports
    return rows


def _examples(uri, rows):
    return examples_io.examples_artifact(str(uri), {configs.EVAL_SPLIT: rows})


# Models: serving_default(examples) -> {"score"}, saved where the Evaluator and the Pusher look.

class _WordOverlap(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples):
        parsed = tf.io.parse_example(examples, {name: tf.io.FixedLenFeature([], tf.string)
                                                for name in (features.QUERY, features.PRODUCT_TITLE)})
        return {features.SCORE: preprocessing.token_overlap(preprocessing.tokenize(parsed[features.QUERY]),
                                                            preprocessing.tokenize(parsed[features.PRODUCT_TITLE]))}


class _Memorised(tf.Module):
    """Scores a (query_id, product_id) pair with the grade it memorised (0 for a pair it never saw)."""

    def __init__(self, keys, grades):
        super().__init__()
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant(grades, tf.float32)), 0.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples):
        parsed = tf.io.parse_example(examples, {name: tf.io.FixedLenFeature([], tf.string)
                                                for name in (features.QUERY_ID, features.PRODUCT_ID)})
        return {features.SCORE: self.table.lookup(
            tf.strings.join([parsed[features.QUERY_ID], parsed[features.PRODUCT_ID]], separator="\t"))}


def _shuffled_labels(rows):
    grades = np.random.default_rng(SHUFFLE_SEED).permutation([row[features.RELEVANCE] for row in rows])
    return _Memorised([f"{row[features.QUERY_ID]}\t{row[features.PRODUCT_ID]}" for row in rows], grades.tolist())


def _model_artifact(uri, module):
    model = standard_artifacts.Model()
    model.uri = str(uri)
    tf.saved_model.save(module, path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model)),
                        signatures={"serving_default": module.serve})
    return model


@pytest.fixture(scope="module")
def models(tmp_path_factory, eval_rows):
    folder = tmp_path_factory.mktemp("models")
    return {"overlap": _model_artifact(folder / "overlap", _WordOverlap()),
            "shuffled": _model_artifact(folder / "shuffled", _shuffled_labels(eval_rows))}


# The Evaluator, as the pipeline configures it.

def _evaluate(folder, examples, model, baseline=None):
    """Runs TFX's Evaluator executor; returns (blessed, {metric key: value} of the candidate, validation)."""
    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = str(folder / "evaluation"), str(folder / "blessing")
    inputs = {standard_component_specs.EXAMPLES_KEY: [examples], standard_component_specs.MODEL_KEY: [model]}
    if baseline is not None:
        inputs[standard_component_specs.BASELINE_MODEL_KEY] = [baseline]
    exec_properties = {
        standard_component_specs.EVAL_CONFIG_KEY: proto_utils.proto_to_json(eval_config()),
        standard_component_specs.EXAMPLE_SPLITS_KEY: json_utils.dumps([configs.EVAL_SPLIT]),
    }
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=BEAM_ARGS)
    evaluator_executor.Executor(context).Do(
        inputs, {standard_component_specs.EVALUATION_KEY: [evaluation],
                 standard_component_specs.BLESSING_KEY: [blessing]}, exec_properties)
    blessed = os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    assert blessed != os.path.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    return blessed, blessing, _candidate_metrics(evaluation.uri), tfma.load_validation_result(evaluation.uri)


def _candidate_metrics(uri):
    """{(metric name, top k or None): value} of the candidate (not the baseline, not the difference)."""
    return {(kv.key.name, kv.key.sub_key.top_k.value or None): kv.value.double_value.value
            for per_slice in tfma.load_metrics(uri)  # one slice (overall), none without examples
            for kv in per_slice.metric_keys_and_values
            if kv.key.model_name != "baseline" and not kv.key.is_diff and kv.value.HasField("double_value")}


def _failures(validation):
    """(metric name, top k, "value" or "change") of each failed threshold."""
    return sorted((failure.metric_key.name, failure.metric_key.sub_key.top_k.value or None,
                   "change" if failure.metric_threshold.HasField("change_threshold") else "value")
                  for per_slice in validation.metric_validations_per_slice for failure in per_slice.failures)


@pytest.fixture(scope="module")
def full_split(tmp_path_factory, eval_rows):
    return _examples(tmp_path_factory.mktemp("examples") / "full", eval_rows)


@pytest.fixture(scope="module")
def overlap_alone(tmp_path_factory, full_split, models):
    return _evaluate(tmp_path_factory.mktemp("overlap_alone"), full_split, models["overlap"])


@pytest.fixture(scope="module")
def shuffled_alone(tmp_path_factory, full_split, models):
    return _evaluate(tmp_path_factory.mktemp("shuffled_alone"), full_split, models["shuffled"])


def test_a_real_ranker_is_blessed_on_the_sample(overlap_alone):
    blessed, _, metrics, validation = overlap_alone
    assert blessed and validation.validation_ok
    assert metrics[("example_count", None)] == 177
    assert metrics[("ndcg", configs.BLESSING_METRIC_CUTOFF)] >= configs.MIN_NDCG


def test_shuffled_labels_are_refused_by_the_value_threshold_without_baseline(shuffled_alone):
    blessed, _, metrics, validation = shuffled_alone
    assert not blessed
    assert metrics[("ndcg", configs.BLESSING_METRIC_CUTOFF)] < configs.MIN_NDCG
    assert _failures(validation) == [("ndcg", configs.BLESSING_METRIC_CUTOFF, "value")]


def test_shuffled_labels_are_refused_by_the_change_threshold_against_the_baseline(
        tmp_path, full_split, models, overlap_alone):
    blessed, _, metrics, validation = _evaluate(tmp_path, full_split, models["shuffled"], models["overlap"])
    assert not blessed
    # The drop below the baseline fails on its own, beside the value threshold.
    assert ("ndcg", configs.BLESSING_METRIC_CUTOFF, "change") in _failures(validation)
    baseline_ndcg = overlap_alone[2][("ndcg", configs.BLESSING_METRIC_CUTOFF)]
    assert metrics[("ndcg", configs.BLESSING_METRIC_CUTOFF)] < baseline_ndcg - configs.MAX_NDCG_DROP


def _ndcg_at_10(grades_in_ranked_order):
    """TFMA's NDCG@10 of one query (gain = grade); None for a query with no relevant product (TFMA skips it)."""
    grades = np.asarray(grades_in_ranked_order, dtype=float)
    discounts = 1 / np.log2(np.arange(2, min(10, len(grades)) + 2))
    ideal = np.sort(grades)[::-1][:len(discounts)] @ discounts
    return grades[:len(discounts)] @ discounts / ideal if ideal > 0 else None


def test_min_ndcg_is_above_what_random_orders_reach_on_the_sample(eval_rows):
    by_query = {}
    for row in eval_rows:
        by_query.setdefault(row[features.QUERY_ID], []).append(row[features.RELEVANCE])
    rng = np.random.default_rng(SHUFFLE_SEED)
    means = [np.mean([v for v in (_ndcg_at_10(rng.permutation(g)) for g in by_query.values()) if v is not None])
             for _ in range(2000)]
    assert np.mean(means) == pytest.approx(0.702, abs=0.01)  # the figure in pipeline/configs.py
    assert max(means) < configs.MIN_NDCG


def test_too_few_eval_examples_are_refused_however_good_the_ndcg(tmp_path, eval_rows, models):
    queries = sorted({row[features.QUERY_ID] for row in eval_rows})
    few = [row for row in eval_rows if row[features.QUERY_ID] in queries[:4]]
    assert 0 < len(few) < configs.MIN_EVAL_EXAMPLES
    blessed, _, metrics, validation = _evaluate(tmp_path, _examples(tmp_path / "few", few), models["overlap"])
    assert not blessed
    assert metrics[("example_count", None)] == len(few)
    assert metrics[("ndcg", configs.BLESSING_METRIC_CUTOFF)] >= configs.MIN_NDCG  # the count alone refuses it
    assert _failures(validation) == [("example_count", None, "value")]


def test_an_empty_eval_split_is_refused(tmp_path, models):
    blessed, _, metrics, validation = _evaluate(tmp_path, _examples(tmp_path / "none", []), models["overlap"])
    assert not blessed and metrics == {}
    assert validation.missing_slices  # TFMA: no overall slice to check the thresholds on


def test_a_refused_model_is_not_pushed_and_the_served_version_stays(tmp_path, models, overlap_alone,
                                                                     shuffled_alone):
    base = tmp_path / "serving" / configs.MODEL_NAME
    first = _push(tmp_path / "first", models["overlap"], overlap_alone[1], base)
    assert first.get_int_custom_property("pushed") == 1
    served = model_store.ModelStore(configs.MODEL_NAME, str(base))
    assert served.refresh()
    version = served.current().version

    refused = _push(tmp_path / "refused", models["shuffled"], shuffled_alone[1], base)
    assert refused.get_int_custom_property("pushed") == 0
    assert os.listdir(base) == [str(version)]  # no new version, no staging left
    assert not served.refresh() and served.current().version == version


def _push(folder, model, blessing, base):
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(folder)
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(base)))
    pusher_executor.Executor().Do(
        {standard_component_specs.MODEL_KEY: [model], standard_component_specs.MODEL_BLESSING_KEY: [blessing]},
        {standard_component_specs.PUSHED_MODEL_KEY: [pushed]},
        {standard_component_specs.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)})
    return pushed
