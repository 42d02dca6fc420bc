"""AnomaliesGate: stops the run before training when ExampleValidator found schema anomalies or a drift check
of its own fails.

ExampleValidator records anomalies but lets the pipeline go on; a ranker trained on data that breaks
the schema is worse than no new model, so downstream components are made to depend on this gate. The drift
checks (SQL on each split's statistics, TFDV custom validation) run here rather than through ExampleValidator's
custom_validation_config, which TFX's main branch removed: on an upgrade they keep running.
"""
from typing import Optional

from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter
from tfx.utils import proto_utils

from components.anomalies_gate import executor


class AnomaliesGateSpec(ComponentSpec):
    # The drift checks: a TFDV CustomValidationConfig as JSON (SQL on each split's statistics).
    PARAMETERS = {executor.DRIFT_CHECKS_KEY: ExecutionParameter(type=str, optional=True)}
    INPUTS = {"anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies),
              # The statistics the anomalies were found in: the drift checks read them, and the error shows
              # the observed figures. Optional without drift checks.
              "statistics": ChannelParameter(type=standard_artifacts.ExampleStatistics, optional=True)}
    # Each split's drift-check anomalies, as ExampleValidator writes its schema anomalies (SchemaDiff.pb).
    OUTPUTS = {executor.DRIFT_ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies)}


class AnomaliesGate(base_component.BaseComponent):
    """Fails the run, naming each split and feature, if the anomalies artifact is not clean.

    Usage:
        gate = AnomaliesGate(anomalies=example_validator.outputs["anomalies"],
                             statistics=statistics_gen.outputs["statistics"],
                             drift_checks=text_format.Parse(text, CustomValidationConfig()))
        transform.add_upstream_node(gate)
    """

    SPEC_CLASS = AnomaliesGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel, statistics: Optional[types.BaseChannel] = None,
                 drift_checks: Optional[custom_validation_config_pb2.CustomValidationConfig] = None):
        """Args:
          anomalies: ExampleAnomalies channel, usually ExampleValidator's `anomalies` output.
          statistics: ExampleStatistics channel the anomalies were found in (StatisticsGen's `statistics`):
            the drift checks read it, and the error shows each anomalous feature's observed figures (min,
            max, mean; average length), which is what a drift check compares. Required with drift_checks.
          drift_checks: SQL checks on each split's statistics (TFDV custom validation); a failed check is an
            anomaly of the feature with the check's description, in `drift_anomalies` and in the error.
        """
        if drift_checks is not None and statistics is None:
            raise ValueError("AnomaliesGate: drift_checks need the statistics channel")
        super().__init__(spec=AnomaliesGateSpec(
            anomalies=anomalies, statistics=statistics,
            drift_checks=proto_utils.proto_to_json(drift_checks) if drift_checks is not None else "",
            drift_anomalies=types.Channel(type=standard_artifacts.ExampleAnomalies)))
