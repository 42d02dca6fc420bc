"""Defaults for the Kubeflow Pipelines v2 compile; names, paths and knobs of the pipeline: pipeline/configs.py."""
from pipeline import configs

# WORKDIR of kubeflow/Dockerfile: the project is installed there (editable), with schemas/ and data/sample/.
APP_DIR = "/app"
# The bundled sample inside the image: a compile with no --data-root runs end to end on any cluster.
DEFAULT_DATA_ROOT = f"{APP_DIR}/data/sample"
# Beam inside each component's container, in memory (FnApiRunner is DirectRunner's engine; naming it skips
# DirectRunner's Prism attempt, which downloads a binary at run time), with the image's setup.py as the
# dependencies (pipeline/configs.py beam_dependency_args). --beam-arg replaces these.
DEFAULT_BEAM_ARGS = ("--runner=FnApiRunner", *configs.beam_dependency_args(APP_DIR))

# Trainer resources: requested and also set as the limit (Vertex AI sizes the machine from the limits).
TRAINER_CPU = "2"
TRAINER_MEMORY = "8G"

DEFAULT_EXPERIMENT = "search-relevance"
