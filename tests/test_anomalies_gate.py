"""AnomaliesGate executor on real ExampleAnomalies artifacts made by TFDV from tiny data."""
import os

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tfx.types import artifact_utils, standard_artifacts

from components.anomalies_gate import executor
from pipeline import configs


def _anomalies_artifact(tmp_path, frames):
    """An ExampleAnomalies artifact with one SchemaDiff.pb per split, validated against our schema."""
    schema = tfdv.load_schema_text(str(configs.SCHEMA_DIR / "schema.pbtxt"))
    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = str(tmp_path)
    artifact.split_names = artifact_utils.encode_split_names(list(frames))
    for split, frame in frames.items():
        anomalies = tfdv.validate_statistics(tfdv.generate_statistics_from_dataframe(frame), schema)
        split_dir = os.path.join(str(tmp_path), f"Split-{split}")
        os.makedirs(split_dir)
        with open(os.path.join(split_dir, executor.ANOMALIES_FILE), "wb") as f:
            f.write(anomalies.SerializeToString())
    return artifact


def _rows(relevance):
    return pd.DataFrame({"query_id": ["q1", "q2"], "query": ["running shoes", "T恤"],
                         "product_id": ["p1", "p2"], "product_title": ["Running shoes", "纯棉T恤"],
                         "relevance": relevance})


def test_clean_splits_pass(tmp_path):
    artifact = _anomalies_artifact(tmp_path, {"train": _rows([3.0, 1.0]), "eval": _rows([0.0, 2.0])})
    executor.Executor().Do({"anomalies": [artifact]}, {}, {})


def test_out_of_scale_label_stops_the_run_naming_split_and_feature(tmp_path):
    artifact = _anomalies_artifact(tmp_path, {"train": _rows([3.0, 1.0]), "eval": _rows([0.0, 7.0])})
    with pytest.raises(executor.DataAnomaliesError, match=r"split 'eval', feature 'relevance'") as error:
        executor.Executor().Do({"anomalies": [artifact]}, {}, {})
    assert "split 'train'" not in str(error.value)


def _statistics_artifact(tmp_path, frames):
    """An ExampleStatistics artifact laid out as StatisticsGen writes it (Split-<name>/FeatureStats.pb)."""
    artifact = standard_artifacts.ExampleStatistics()
    artifact.uri = str(tmp_path / "statistics")
    artifact.split_names = artifact_utils.encode_split_names(list(frames))
    for split, frame in frames.items():
        split_dir = os.path.join(artifact.uri, f"Split-{split}")
        os.makedirs(split_dir)
        with open(os.path.join(split_dir, "FeatureStats.pb"), "wb") as f:
            f.write(tfdv.generate_statistics_from_dataframe(frame).SerializeToString())
    return artifact


def test_with_statistics_the_error_shows_the_observed_figures(tmp_path):
    frames = {"train": _rows([3.0, 1.0]), "eval": _rows([0.0, 7.0])}
    anomalies = _anomalies_artifact(tmp_path / "anomalies", frames)
    statistics = _statistics_artifact(tmp_path, frames)
    with pytest.raises(executor.DataAnomaliesError) as error:
        executor.Executor().Do({"anomalies": [anomalies], "statistics": [statistics]}, {}, {})
    assert "split 'eval', feature 'relevance': Out-of-range values [observed: min 0, max 7, mean 3.5]" in str(
        error.value)


def test_the_gate_runs_the_drift_checks_itself_and_writes_their_anomalies(tmp_path):
    from pipeline import pipeline as search_pipeline
    from tfx.utils import proto_utils

    # Every row within the schema (no schema anomaly) and shop-like titles, but the train split's grades
    # never reach the top of the scale.
    def rows(relevance):
        return _rows(relevance).assign(product_title=["Running shoes, breathable mesh", "纯棉圆领T恤 白色 男款"])

    frames = {"train": rows([0.0, 1.0]), "eval": rows([0.0, 3.0])}
    anomalies = _anomalies_artifact(tmp_path / "anomalies", frames)
    statistics = _statistics_artifact(tmp_path, frames)
    drift = standard_artifacts.ExampleAnomalies()
    drift.uri = str(tmp_path / "drift")
    checks = proto_utils.proto_to_json(search_pipeline.custom_validation_config())
    with pytest.raises(executor.DataAnomaliesError) as error:
        executor.Executor().Do({"anomalies": [anomalies], "statistics": [statistics]},
                               {executor.DRIFT_ANOMALIES_KEY: [drift]}, {executor.DRIFT_CHECKS_KEY: checks})
    message = str(error.value)
    assert "split 'train', feature 'relevance': relevance does not span the 0-3 grading scale" in message
    assert "[observed: min 0, max 1, mean 0.5]" in message and "split 'eval'" not in message
    written = {split: executor.read_anomalies(artifact_utils.get_split_uri([drift], split)) for split in frames}
    assert list(written["train"].anomaly_info) == ["relevance"] and not written["eval"].anomaly_info
    # Without statistics the checks cannot run: refused, not skipped.
    with pytest.raises(ValueError, match="statistics"):
        executor.Executor().Do({"anomalies": [anomalies]}, {}, {executor.DRIFT_CHECKS_KEY: checks})
