"""Executor of ExampleValidator: TFX's, given the custom validation config as the proto it expects."""
from typing import Any, Dict, List

from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tfx import types
from tfx.components.example_validator import executor as tfx_executor
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

_CONFIG_KEY = standard_component_specs.CUSTOM_VALIDATION_CONFIG_KEY


def custom_validation_config(value: Any):
    """The config as a proto (or None): the spec stores it as JSON, TFX's executor wants the message."""
    if not isinstance(value, str):
        return value
    return proto_utils.json_to_proto(value, custom_validation_config_pb2.CustomValidationConfig()) if value else None


class Executor(tfx_executor.Executor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]):
        exec_properties = {**exec_properties,
                           _CONFIG_KEY: custom_validation_config(exec_properties.get(_CONFIG_KEY))}
        return super().Do(input_dict, output_dict, exec_properties)
