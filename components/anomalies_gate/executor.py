"""Executor of AnomaliesGate: reads each split's anomalies and raises if any feature has one."""
import os
from typing import Any, Dict, List

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

# File that ExampleValidator writes in each split's folder.
ANOMALIES_FILE = "SchemaDiff.pb"


class DataAnomaliesError(RuntimeError):
    """The examples do not match the schema; the message names every split and feature."""


def read_anomalies(split_uri: str) -> anomalies_pb2.Anomalies:
    anomalies = anomalies_pb2.Anomalies()
    anomalies.ParseFromString(tf.io.gfile.GFile(os.path.join(split_uri, ANOMALIES_FILE), "rb").read())
    return anomalies


def describe(split: str, anomalies: anomalies_pb2.Anomalies) -> List[str]:
    """One readable line per anomalous feature (and one for dataset-level anomalies)."""
    lines = [f"split '{split}', feature '{name}': {info.short_description} ({info.description})"
             for name, info in sorted(anomalies.anomaly_info.items())]
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        lines.append(f"split '{split}', dataset: {info.short_description} ({info.description})")
    return lines


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        artifact = artifact_utils.get_single_instance(input_dict["anomalies"])
        problems = []
        for split in artifact_utils.decode_split_names(artifact.split_names):
            problems += describe(split, read_anomalies(artifact_utils.get_split_uri([artifact], split)))
        if problems:
            raise DataAnomaliesError(
                "The examples do not match schemas/schema.pbtxt; fix the data (or the schema) and rerun:\n  "
                + "\n  ".join(problems))
