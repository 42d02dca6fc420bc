"""Each custom component built on its own, as tfx-addons' component_test.py files do: its input and output
channels have the artifact types its spec names, its execution properties hold what it was given, and a bad
setting is refused at construction (before any pipeline runs). No executor runs here: the executor tests do
that on real artifacts."""
import json

import pytest
from tfx.types import channel_utils, standard_artifacts

from components.anomalies_gate import executor as gate_executor
from components.anomalies_gate.component import AnomaliesGate
from components.atomic_pusher.component import RUN_CONFIG_KEY, Pusher
from components.augmentation.report import AugmentationReport
from components.query_generation.component import QueryGeneration
from components.retrieval.component import Retrieval
from components.teacher_labeling.component import TeacherLabeling
from components.zero_shot_floor.component import ZeroShotFloor
from pipeline import pipeline as search_pipeline


def _channel(artifact_type):
    return channel_utils.as_channel([artifact_type()])


EXAMPLES, MODEL = _channel(standard_artifacts.Examples), _channel(standard_artifacts.Model)
BLESSING = _channel(standard_artifacts.ModelBlessing)


def _types(component, kind):
    return {key: channel.type_name for key, channel in getattr(component, kind).items()}


def test_query_generation():
    component = QueryGeneration(examples=EXAMPLES, catalog=EXAMPLES, queries_per_product=2, max_products=5)
    assert _types(component, "outputs") == {"generated_examples": "Examples", "report": AugmentationReport.TYPE_NAME}
    assert (component.exec_properties["queries_per_product"], component.exec_properties["max_products"]) == (2, 5)
    with pytest.raises(ValueError, match="unknown LLM backend 'gpt'"):
        QueryGeneration(examples=EXAMPLES, catalog=EXAMPLES, backend="gpt")
    with pytest.raises(ValueError, match="bad config for LLM backend 'openai_http'"):
        QueryGeneration(examples=EXAMPLES, catalog=EXAMPLES, backend="openai_http")  # no base_url, no model


def test_retrieval():
    component = Retrieval(examples=EXAMPLES, catalog=EXAMPLES, encoder_handle="/enc", products_per_query=4,
                          embedding_cache="/cache")
    assert set(component.inputs) == {"examples", "catalog"}  # generated_queries is optional
    assert _types(component, "outputs") == {"candidates": "Examples", "report": AugmentationReport.TYPE_NAME}
    assert component.exec_properties["products_per_query"] == 4
    assert component.exec_properties["embedding_cache"] == "/cache"
    with pytest.raises(ValueError, match="unknown settings"):
        Retrieval(examples=EXAMPLES, catalog=EXAMPLES, encoder_handle="/enc", products=4)


def test_teacher_labeling():
    component = TeacherLabeling(examples=EXAMPLES, candidates=EXAMPLES, teacher_model=MODEL, traffic=EXAMPLES,
                                encoder_handle="/enc", min_confidence=0.3,
                                llm_judge={"base_url": "http://judge/v1", "model": "m"})
    assert _types(component, "inputs") == {"examples": "Examples", "candidates": "Examples", "traffic": "Examples",
                                           "teacher_model": "Model"}
    assert _types(component, "outputs") == {"augmented_examples": "Examples",
                                            "report": AugmentationReport.TYPE_NAME}
    assert component.exec_properties["min_confidence"] == 0.3
    assert json.loads(component.exec_properties["llm_judge"])["model"] == "m"
    with pytest.raises(ValueError, match="unknown settings"):
        TeacherLabeling(examples=EXAMPLES, candidates=EXAMPLES, teacher_model=MODEL, encoder_handle="/e", k=1)
    with pytest.raises(ValueError, match="zero_shot_weight"):
        TeacherLabeling(examples=EXAMPLES, candidates=EXAMPLES, teacher_model=MODEL, encoder_handle="/e",
                        zero_shot_weight=1.5)


def test_zero_shot_floor():
    component = ZeroShotFloor(model=MODEL, evaluator_blessing=BLESSING, examples=EXAMPLES, encoder_handle="/enc",
                              margin=0.01, enforce=False)
    assert _types(component, "outputs") == {"blessing": "ModelBlessing"}
    assert (component.exec_properties["margin"], component.exec_properties["enforce"]) == (0.01, 0)


def test_anomalies_gate():
    statistics = _channel(standard_artifacts.ExampleStatistics)
    component = AnomaliesGate(anomalies=_channel(standard_artifacts.ExampleAnomalies), statistics=statistics,
                              drift_checks=search_pipeline.custom_validation_config())
    assert _types(component, "outputs") == {gate_executor.DRIFT_ANOMALIES_KEY: "ExampleAnomalies"}
    assert gate_executor.drift_checks(component.exec_properties) == search_pipeline.custom_validation_config()
    with pytest.raises(ValueError, match="statistics"):
        AnomaliesGate(anomalies=_channel(standard_artifacts.ExampleAnomalies),
                      drift_checks=search_pipeline.custom_validation_config())


def test_pusher_keeps_the_run_config_with_the_push():
    from tfx.proto import pusher_pb2

    destination = pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(base_directory="/s"))
    component = Pusher(model=MODEL, model_blessing=BLESSING, push_destination=destination,
                       run_config={"path": "/run.yaml", "sha256": "0" * 64, "values": {"seed": 1}})
    assert _types(component, "outputs") == {"pushed_model": "PushedModel"}
    assert json.loads(component.exec_properties["custom_config"])[RUN_CONFIG_KEY]["values"] == {"seed": 1}
