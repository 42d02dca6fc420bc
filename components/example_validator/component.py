"""ExampleValidator: TFX's stock component and executor, with `custom_validation_config` kept as JSON.

TFX 1.16's ExampleValidator stores `custom_validation_config` as a proto placeholder (`use_proto=True`),
which its own Kubeflow V2 compiler refuses ("Invalid placeholder for exec prop custom_validation_config").
This spec stores the same proto as a JSON string, as the Evaluator's eval_config is stored, and the executor
turns it back into the proto before TFX's executor runs: the validation itself is TFX's, unchanged.
"""
from typing import Optional

from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils

from components.example_validator import executor


class ExampleValidatorSpec(standard_component_specs.ExampleValidatorSpec):
    PARAMETERS = {
        **standard_component_specs.ExampleValidatorSpec.PARAMETERS,
        standard_component_specs.CUSTOM_VALIDATION_CONFIG_KEY: ExecutionParameter(
            type=custom_validation_config_pb2.CustomValidationConfig, optional=True),
    }


class ExampleValidator(base_component.BaseComponent):
    """Validates each split's statistics against the schema and the SQL checks of a CustomValidationConfig.

    Usage:
        validator = ExampleValidator(statistics=statistics_gen.outputs["statistics"],
                                     schema=schema_gen.outputs["schema"],
                                     custom_validation_config=text_format.Parse(text, CustomValidationConfig()))
    """

    SPEC_CLASS = ExampleValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, statistics: types.BaseChannel, schema: types.BaseChannel,
                 custom_validation_config: Optional[custom_validation_config_pb2.CustomValidationConfig] = None):
        """Args:
          statistics: ExampleStatistics channel (StatisticsGen's `statistics`); every split is validated.
          schema: Schema channel (ImportSchemaGen's `schema`).
          custom_validation_config: optional SQL checks on each split's statistics (TFDV custom validation);
            a failed check is an anomaly of the feature, with the check's description.
        """
        super().__init__(spec=ExampleValidatorSpec(
            statistics=statistics, schema=schema, exclude_splits=json_utils.dumps([]),
            custom_validation_config=custom_validation_config,
            anomalies=types.Channel(type=standard_artifacts.ExampleAnomalies)))
