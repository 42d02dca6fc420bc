"""Kubeflow Pipelines v2: compile pipeline/pipeline.py's one pipeline to a job spec, and submit it.

`python -m kubeflow compile|submit --help`; the container image is kubeflow/Dockerfile, the TF Serving
manifests are in kubeflow/serving/.
"""
