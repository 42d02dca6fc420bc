"""The run summary's text for outcomes the e2e run does not produce (a skipped generation)."""
from pipeline import summary


def _outcome(generation):
    return {"splits": {"train": {"rows": 10, "queries": 2}}, "metrics": {"candidate": {"ndcg@10": 0.9}},
            "augmentation": None, "generation": generation, "blessed": False, "validation_failures": ["x"],
            "pushed": False, "pushed_destination": None, "serving_model_dir": "/tmp/serving"}


def test_summary_says_when_generation_was_skipped_and_why():
    text = summary.render(_outcome({"generation_skipped": True, "backend_failed": True,
                                    "backend_error": "openai_http at http://127.0.0.1:9: connection refused"}))
    assert "Query generation SKIPPED" in text and "connection refused" in text


def test_summary_counts_generated_queries():
    text = summary.render(_outcome({"generation_skipped": False, "candidates": {"kept": 42},
                                    "products_selected": 30, "completions": 35, "queries_per_second": 1.5}))
    assert "Query generation: 42 queries for 30 products (35 completions, 1.50 queries/s)" in text
    assert "SKIPPED" not in text


def _failure(name, value, threshold, top_k=None, is_diff=False):
    from tensorflow_model_analysis.proto import config_pb2, metrics_for_slice_pb2, validation_result_pb2

    key = metrics_for_slice_pb2.MetricKey(name=name, is_diff=is_diff)
    if top_k:
        key.sub_key.top_k.value = top_k
    return validation_result_pb2.ValidationFailure(
        metric_key=key, metric_threshold=config_pb2.MetricThreshold(**threshold),
        metric_value=metrics_for_slice_pb2.MetricValue(double_value={"value": value}))


def test_a_failed_blessing_check_says_metric_value_and_bound():
    """TFMA leaves the failure's message empty for thresholds: the summary says what failed."""
    import tensorflow_model_analysis as tfma

    drop = _failure("ndcg", -0.0289, {"change_threshold": tfma.GenericChangeThreshold(
        absolute={"value": -1e-10}, direction=tfma.MetricDirection.HIGHER_IS_BETTER)}, top_k=10, is_diff=True)
    low = _failure("ndcg", 0.8123, {"value_threshold": tfma.GenericValueThreshold(lower_bound={"value": 0.85})},
                   top_k=10)
    few = _failure("example_count", 40, {"value_threshold": tfma.GenericValueThreshold(lower_bound={"value": 50})})
    assert summary.describe_failure(drop) == "ndcg@10 change against the baseline -0.0289, must be at least -1e-10"
    assert summary.describe_failure(low) == "ndcg@10 0.8123, must be at least 0.85"
    assert summary.describe_failure(few) == "example_count 40.0000, must be at least 50"
