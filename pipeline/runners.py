"""One runner per local orchestrator: LocalDagRunner (development) and BeamDagRunner (DirectRunner)."""
from typing import Dict, List, Optional

from apache_beam.options.pipeline_options import StandardOptions
from tfx import v1 as tfx
from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

from pipeline import configs
from pipeline import pipeline as search_pipeline

RUNNERS = ("local", "beam")
LOCAL_BEAM_RUNNER = "FnApiRunner"


def beam_args(workers: int, extra: Optional[List[str]] = None) -> List[str]:
    """Beam options for local runs: in-memory by default, multi-processing with workers > 1.

    FnApiRunner is the engine of Beam's DirectRunner; naming it directly skips DirectRunner's first
    attempt at the Prism runner, which downloads a binary at run time (no network here or in CI). The
    checkout's setup.py stops TFX building a throwaway package per Beam component (configs.beam_dependency_args).
    """
    args = [f"--runner={LOCAL_BEAM_RUNNER}"] + configs.beam_dependency_args()
    if workers > 1:
        args += ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
    return args + list(extra or [])


def run(runner: str, data_root: str, output_dir: str, beam_pipeline_args: List[str],
        enable_cache: bool = True, overrides: Optional[Dict] = None) -> None:
    """Builds the pipeline with MLMD in SQLite under output_dir and runs it with the named runner."""
    _check_runner(runner)
    _orchestrate(runner, search_pipeline.create_pipeline(
        data_root=data_root,
        pipeline_root=configs.pipeline_root(output_dir),
        serving_model_dir=configs.serving_model_dir(output_dir),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            configs.metadata_path(output_dir)),
        beam_pipeline_args=beam_pipeline_args,
        enable_cache=enable_cache,
        **(overrides or {})))


def validate(runner: str, data_root: str, output_dir: str, beam_pipeline_args: List[str],
             enable_cache: bool = True, overrides: Optional[Dict] = None) -> None:
    """Runs only the data validation (ExampleGen .. AnomaliesGate) on a data drop, laid out as run() lays
    out its output; raises as the full run would (InvalidSearchLogError, DataAnomaliesError)."""
    _check_runner(runner)
    _orchestrate(runner, search_pipeline.create_validation_pipeline(
        data_root=data_root,
        pipeline_root=configs.pipeline_root(output_dir),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            configs.metadata_path(output_dir)),
        beam_pipeline_args=beam_pipeline_args,
        enable_cache=enable_cache,
        **(overrides or {})))


def _check_runner(runner: str) -> None:
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}; choose one of {', '.join(RUNNERS)}")


def _orchestrate(runner: str, pipeline: tfx.dsl.Pipeline) -> None:
    # BeamDagRunner's orchestrating pipeline (and any library's bare beam.Pipeline()) takes Beam's
    # default runner: make it the local engine too, for the Prism reason above. Passing
    # beam_orchestrator_args instead would select TFX's legacy, non-IR BeamDagRunner.
    StandardOptions.DEFAULT_RUNNER = LOCAL_BEAM_RUNNER
    if runner == "local":
        tfx.orchestration.LocalDagRunner().run(pipeline)
    else:
        BeamDagRunner().run(pipeline)
