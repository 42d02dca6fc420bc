"""Executor of AnomaliesGate: reads each split's anomalies and raises if any feature has one."""
import os
from typing import Any, Dict, List, Optional

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx import types
from tfx.components.statistics_gen import stats_artifact_utils
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


def read_statistics(artifact: Optional[types.Artifact], split: str
                    ) -> Optional[statistics_pb2.DatasetFeatureStatistics]:
    """The split's statistics (the whole-split dataset), or None without a statistics artifact."""
    if artifact is None:
        return None
    return stats_artifact_utils.load_statistics(artifact, split).proto().datasets[0]


def observed(statistics: Optional[statistics_pb2.DatasetFeatureStatistics], feature_name: str) -> str:
    """The figures a check of this feature compares, as the split's statistics give them ('' if unknown)."""
    for feature in statistics.features if statistics else ():
        if ".".join(feature.path.step) != feature_name:
            continue
        if feature.HasField("num_stats"):
            stats = feature.num_stats
            return f"min {stats.min:g}, max {stats.max:g}, mean {stats.mean:.3g}"
        if feature.HasField("string_stats"):
            stats = feature.string_stats
            return f"average length {stats.avg_length:.1f} bytes, {stats.unique} distinct values"
    return ""


def describe(split: str, anomalies: anomalies_pb2.Anomalies,
             statistics: Optional[statistics_pb2.DatasetFeatureStatistics] = None) -> List[str]:
    """One readable line per anomalous feature (and one for dataset-level anomalies)."""
    lines = []
    for name, info in sorted(anomalies.anomaly_info.items()):
        figures = observed(statistics, name)
        seen = f" [observed: {figures}]" if figures else ""
        lines.append(f"split '{split}', feature '{name}': {info.short_description}{seen} ({info.description})")
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        lines.append(f"split '{split}', dataset: {info.short_description} ({info.description})")
    return lines


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        artifact = artifact_utils.get_single_instance(input_dict["anomalies"])
        statistics = (input_dict.get("statistics") or [None])[0]
        problems = []
        for split in artifact_utils.decode_split_names(artifact.split_names):
            anomalies = read_anomalies(artifact_utils.get_split_uri([artifact], split))
            # The statistics are read only when a feature is anomalous: the figures are for the error.
            figures = read_statistics(statistics, split) if anomalies.anomaly_info else None
            problems += describe(split, anomalies, figures)
        if problems:
            raise DataAnomaliesError(
                "The examples break the expectations of schemas/ (schema.pbtxt; drift checks: "
                "custom_validations.pbtxt); fix the data (or schemas/) and rerun:\n  " + "\n  ".join(problems))
