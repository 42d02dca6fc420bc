"""AnomaliesGate: stops the run before training when ExampleValidator found anomalies.

ExampleValidator records anomalies but lets the pipeline go on; a ranker trained on data that breaks
the schema is worse than no new model, so downstream components are made to depend on this gate.
"""
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec

from components.anomalies_gate import executor


class AnomaliesGateSpec(ComponentSpec):
    PARAMETERS = {}
    INPUTS = {"anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies),
              # Optional: the statistics the anomalies were found in, so the error shows the observed figures.
              "statistics": ChannelParameter(type=standard_artifacts.ExampleStatistics, optional=True)}
    OUTPUTS = {}


class AnomaliesGate(base_component.BaseComponent):
    """Fails the run, naming each split and feature, if the anomalies artifact is not clean.

    Usage:
        gate = AnomaliesGate(anomalies=example_validator.outputs["anomalies"],
                             statistics=statistics_gen.outputs["statistics"])
        transform.add_upstream_node(gate)
    """

    SPEC_CLASS = AnomaliesGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel, statistics: Optional[types.BaseChannel] = None):
        """Args:
          anomalies: ExampleAnomalies channel, usually ExampleValidator's `anomalies` output.
          statistics: optional ExampleStatistics channel the anomalies were found in (StatisticsGen's
            `statistics`); the error then shows each anomalous feature's observed figures (min, max, mean;
            average length), which is what a drift check compares.
        """
        super().__init__(spec=AnomaliesGateSpec(anomalies=anomalies, statistics=statistics))
