"""The report artifact of an augmentation step: one readable JSON file, with headline counts also in MLMD."""
import json
import os
from typing import Any, Dict, Mapping

import tensorflow as tf
from tfx import types
from tfx.types import artifact

REPORT_FILE = "report.json"


class AugmentationReport(artifact.Artifact):
    """A directory holding report.json: what an augmentation step read, made, kept and rejected (and why)."""

    # <namespace>.<Name>: the form KubeflowV2DagRunner requires of custom artifact types.
    TYPE_NAME = "search_relevance.AugmentationReport"


def write_report(report_artifact: types.Artifact, report: Mapping[str, Any],
                 headline: Mapping[str, int] = ()) -> str:
    """Writes report.json into the artifact's directory and the `headline` counts as custom properties
    (so that MLMD and the run summary show them without reading the file). Returns the file's path."""
    tf.io.gfile.makedirs(report_artifact.uri)
    path = os.path.join(report_artifact.uri, REPORT_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    for name, value in dict(headline).items():
        report_artifact.set_int_custom_property(name, int(value))
    return path


def read_report(report_artifact: types.Artifact) -> Dict[str, Any]:
    with tf.io.gfile.GFile(os.path.join(report_artifact.uri, REPORT_FILE)) as f:
        return json.load(f)
