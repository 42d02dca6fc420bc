"""Submits a compiled job spec (kubeflow/runner.py's JSON) to a Kubeflow Pipelines v2 endpoint.

kfp.Client.create_run_from_pipeline_package reads a pipeline spec YAML, not TFX's PipelineJob JSON: the
`pipelineSpec` is written to a temporary YAML file and the pipeline root and parameter values of the job's
`runtimeConfig` are passed alongside.
"""
import dataclasses
import json
import os
import tempfile
from typing import Any, Dict, Optional

import yaml


@dataclasses.dataclass
class Job:
    pipeline_spec: Dict[str, Any]
    pipeline_root: str
    parameter_values: Dict[str, Any]


def load_job(spec_path: str) -> Job:
    """Reads a PipelineJob JSON written by `python -m kubeflow compile`."""
    try:
        with open(spec_path, encoding="utf-8") as f:
            job = json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read the job spec {spec_path}: {error}") from error
    if not isinstance(job, dict) or "pipelineSpec" not in job:
        raise ValueError(f"{spec_path} has no pipelineSpec: compile it with `python -m kubeflow compile`")
    runtime = job.get("runtimeConfig", {})
    pipeline_root = runtime.get("gcsOutputDirectory") or job["pipelineSpec"].get("defaultPipelineRoot")
    if not pipeline_root:
        raise ValueError(f"{spec_path} names no pipeline root (runtimeConfig.gcsOutputDirectory)")
    return Job(job["pipelineSpec"], pipeline_root, runtime.get("parameterValues", {}))


def submit(host: str, job: Job, experiment: str, run_name: Optional[str] = None,
           namespace: Optional[str] = None) -> str:
    """Creates a run of the job in the experiment (created if missing); returns the run id."""
    import kfp  # imported here so that --help and a bad --spec answer without loading it
    # Multi-user deployments need the namespace; kfp.Client's own default ('kubeflow') otherwise.
    client = kfp.Client(host=host, **({"namespace": namespace} if namespace else {}))
    with tempfile.TemporaryDirectory() as tmp:
        package = os.path.join(tmp, "pipeline.yaml")
        with open(package, "w", encoding="utf-8") as f:
            yaml.safe_dump(job.pipeline_spec, f, sort_keys=True)
        result = client.create_run_from_pipeline_package(
            package, arguments=job.parameter_values, run_name=run_name, experiment_name=experiment,
            namespace=namespace, pipeline_root=job.pipeline_root)
    return result.run_id
