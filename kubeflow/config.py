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

# TF Serving for the pushed ranker (kubeflow/serving/*.yaml): the stock image of the TensorFlow release the
# model is trained with. Its model server links tensorflow-text's ops: TF Serving 2.16.1's
# tensorflow_serving/model_servers/BUILD depends on @org_tensorflow_text//tensorflow_text:ops_lib, which its
# workspace.bzl pins at tensorflow-text 2.12.1. The ops below are what that library registers and our exported
# encoders' tokenisers use (MiniLM and mpnet: BERT's wordpiece; E5: SentencePiece), with the same op
# definitions in tensorflow-text 2.12.1 and 2.16.1 (their core/ops sources differ only in the copyright line).
# Checked from the sources, not by running the image: there is no Docker here.
TF_SERVING_IMAGE = "tensorflow/serving:2.16.1"
TF_SERVING_TEXT_OPS = frozenset({
    "NormalizeUTF8", "RegexSplitWithOffsets", "WordpieceTokenizeWithOffsets", "CaseFoldUTF8",
    "SentencepieceOp", "SentencepieceTokenizeOp", "SentencepieceTokenizeWithOffsetsOp",
})
