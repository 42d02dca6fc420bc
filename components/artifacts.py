"""Artifact types of our components beyond TFX's standard ones."""
from tfx.types.artifact import Artifact


class AugmentationReport(Artifact):
    """What an augmentation step took in, made, kept and rejected (and why): report.json (+ report.html)."""
    TYPE_NAME = "AugmentationReport"


REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
