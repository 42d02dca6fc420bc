"""Executor of AnomaliesGate: each split's schema anomalies (ExampleValidator's) and drift-check anomalies (its
own: TFDV custom validation on the split's statistics), written to `drift_anomalies`; raises if any feature
has one. The drift checks run here, not through ExampleValidator's custom_validation_config, which TFX's main
branch removed: an upgrade cannot drop them silently."""
import os
from typing import Any, Dict, List, Optional

import tensorflow as tf
from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tensorflow_data_validation.api import validation_api
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx import types
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import proto_utils

# File that ExampleValidator writes in each split's folder (and this gate into drift_anomalies' folders).
ANOMALIES_FILE = "SchemaDiff.pb"
DRIFT_CHECKS_KEY = "drift_checks"  # a CustomValidationConfig as JSON; "" or absent: no drift checks
DRIFT_ANOMALIES_KEY = "drift_anomalies"


def drift_checks(exec_properties: Dict[str, Any]) -> Optional[custom_validation_config_pb2.CustomValidationConfig]:
    text = exec_properties.get(DRIFT_CHECKS_KEY)
    return proto_utils.json_to_proto(text, custom_validation_config_pb2.CustomValidationConfig()) if text else None


def check_drift(statistics: statistics_pb2.DatasetFeatureStatisticsList,
                checks: custom_validation_config_pb2.CustomValidationConfig) -> anomalies_pb2.Anomalies:
    """The anomalies of the drift checks (SQL on the split's statistics) for one split."""
    return validation_api.custom_validate_statistics(statistics, checks)


def _write_anomalies(artifact: types.Artifact, split: str, anomalies: anomalies_pb2.Anomalies) -> None:
    split_dir = artifact_utils.get_split_uri([artifact], split)
    tf.io.gfile.makedirs(split_dir)
    with tf.io.gfile.GFile(os.path.join(split_dir, ANOMALIES_FILE), "wb") as f:
        f.write(anomalies.SerializeToString())


class DataAnomaliesError(RuntimeError):
    """The examples do not match the schema; the message names every split and feature."""


def read_anomalies(split_uri: str) -> anomalies_pb2.Anomalies:
    anomalies = anomalies_pb2.Anomalies()
    anomalies.ParseFromString(tf.io.gfile.GFile(os.path.join(split_uri, ANOMALIES_FILE), "rb").read())
    return anomalies


def read_statistics(artifact: Optional[types.Artifact], split: str
                    ) -> Optional[statistics_pb2.DatasetFeatureStatisticsList]:
    """The split's statistics (its list of datasets; datasets[0] is the whole split), or None without a
    statistics artifact."""
    if artifact is None:
        return None
    return stats_artifact_utils.load_statistics(artifact, split).proto()


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
        # A drift check's anomaly carries its texts in its reasons only.
        short = info.short_description or "; ".join(reason.short_description for reason in info.reason)
        long = info.description or "; ".join(reason.description for reason in info.reason)
        lines.append(f"split '{split}', feature '{name}': {short}{seen} ({long})")
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        lines.append(f"split '{split}', dataset: {info.short_description} ({info.description})")
    return lines


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        artifact = artifact_utils.get_single_instance(input_dict["anomalies"])
        statistics = (input_dict.get("statistics") or [None])[0]
        checks = drift_checks(exec_properties)
        if checks is not None and statistics is None:
            raise ValueError("AnomaliesGate: drift checks need the statistics input")
        drift_output = (output_dict.get(DRIFT_ANOMALIES_KEY) or [None])[0]
        splits = artifact_utils.decode_split_names(artifact.split_names)
        if drift_output is not None:
            drift_output.split_names = artifact_utils.encode_split_names(splits)
        problems = []
        for split in splits:
            anomalies = read_anomalies(artifact_utils.get_split_uri([artifact], split))
            # The split's statistics, read once: for the drift checks, or only when a feature is anomalous (the
            # figures are for the error).
            listed = read_statistics(statistics, split) if checks is not None else None
            drift = check_drift(listed, checks) if checks is not None else anomalies_pb2.Anomalies()
            if drift_output is not None:
                _write_anomalies(drift_output, split, drift)
            bad = anomalies.anomaly_info or drift.anomaly_info
            if bad and listed is None:
                listed = read_statistics(statistics, split)
            figures = listed.datasets[0] if bad and listed is not None else None
            problems += describe(split, anomalies, figures) + describe(split, drift, figures)
        if problems:
            raise DataAnomaliesError(
                "The examples break the expectations of schemas/ (schema.pbtxt; drift checks: "
                "custom_validations.pbtxt); fix the data (or schemas/) and rerun:\n  " + "\n  ".join(problems))
