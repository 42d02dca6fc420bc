"""Compiles pipeline/pipeline.py's one pipeline into a Kubeflow Pipelines v2 job spec (JSON).

Every step runs in one image (kubeflow/Dockerfile) that holds the project: module code is referenced by
import path, so nothing is built or uploaded at compile time.
"""
import dataclasses
import logging
import os
import posixpath
from typing import Dict, Optional, Sequence

from tfx import v1 as tfx
from tfx.dsl.components.base import base_component

from kubeflow import config, resources
from pipeline import configs
from pipeline import pipeline as search_pipeline

# Exec properties through which TFX packages user code into a wheel under the pipeline root at compile time.
_MODULE_FILE_PROPERTIES = ("module_file", "module_path")


def default_serving_model_dir(pipeline_root: str) -> str:
    """<pipeline root>/serving/<model name>: TF Serving's layout, like a local run's output."""
    return posixpath.join(pipeline_root.rstrip("/"), "serving", configs.MODEL_NAME)


def build_pipeline(pipeline_root: str, data_root: str = config.DEFAULT_DATA_ROOT,
                   serving_model_dir: Optional[str] = None,
                   beam_args: Sequence[str] = config.DEFAULT_BEAM_ARGS,
                   trainer_resources: Optional[resources.ResourceSpec] = None,
                   traffic: bool = True, overrides: Optional[dict] = None) -> tfx.dsl.Pipeline:
    """The shared pipeline, made fit for a container: in-image paths, no uploads, Trainer resources.
    traffic: whether the data root has search traffic (impressions*.csv; the bundled sample has): said, not
    looked for, since the compiling machine does not see the cluster's data (a config file's
    augmentation.traffic, where set, wins). overrides: create_pipeline's settings from a config file
    (pipeline/run_config.py)."""
    overrides = dict(overrides or {})
    augmentation = overrides.pop("augmentation", configs.AUGMENTATION)
    if augmentation.traffic is None:
        augmentation = dataclasses.replace(augmentation, traffic=traffic)
    # Its encoder fingerprints are this checkout's exports' ("" where none: compiling needs no export); the
    # image exports the same locked weights with the same code, so the two match when both are current.
    pipeline = search_pipeline.create_pipeline(
        data_root=data_root,
        pipeline_root=pipeline_root,
        serving_model_dir=serving_model_dir or default_serving_model_dir(pipeline_root),
        metadata_connection_config=None,  # Kubeflow provides ML Metadata
        beam_pipeline_args=list(beam_args),
        augmentation=augmentation, **overrides)
    _refuse_module_files(pipeline)
    _rebase_repo_paths(pipeline, str(configs.REPO_ROOT), config.APP_DIR)
    if trainer_resources is not None:  # the teacher and the student Trainer fine-tune the same encoder
        for trainer in find_components(pipeline, tfx.components.Trainer):
            trainer.with_platform_config(trainer_resources)
    return pipeline


def find_components(pipeline: tfx.dsl.Pipeline, component_type: type) -> list:
    """Every component of that type (found by type, not by id, so renames do not matter)."""
    found = [c for c in pipeline.components if isinstance(c, component_type)]
    if not found:
        raise ValueError(f"no {component_type.__name__} in pipeline {pipeline.pipeline_info.pipeline_name}")
    return found


def find_component(pipeline: tfx.dsl.Pipeline, component_type: type) -> base_component.BaseComponent:
    """The one component of that type (the Trainer is found by type, not by id, so renames do not matter)."""
    found = [c for c in pipeline.components if isinstance(c, component_type)]
    if len(found) != 1:
        raise ValueError(f"expected one {component_type.__name__} in pipeline {pipeline.pipeline_info.pipeline_name}, "
                         f"found {len(found)}")
    return found[0]


def _refuse_module_files(pipeline: tfx.dsl.Pipeline) -> None:
    """A module_file would make KubeflowV2DagRunner build and upload a wheel at compile time (and fail for
    a gs:// root); the image already holds the code, so it must be referenced by import path."""
    for component in pipeline.components:
        if not isinstance(component, base_component.BaseComponent):
            continue  # resolvers and importers carry no user code
        for name in _MODULE_FILE_PROPERTIES:
            if component.exec_properties.get(name):
                raise ValueError(f"{component.id} has {name}={component.exec_properties[name]!r}: refer to "
                                 "module code by import path (e.g. run_fn=, preprocessing_fn=) instead")


def _rebase_repo_paths(pipeline: tfx.dsl.Pipeline, repo_root: str, app_dir: str) -> None:
    """Rewrites exec properties that name files of this checkout (e.g. ImportSchemaGen's schema_file, an
    absolute path on the compiling machine) to the same files inside the image."""
    prefix = repo_root.rstrip(os.sep) + os.sep
    for component in pipeline.components:
        if not isinstance(component, base_component.BaseComponent):
            continue
        for name, value in component.exec_properties.items():
            # A comma-separated list of such paths (TeacherLabeling's view_encoder_handles) is rebased path by path.
            if isinstance(value, str) and value and all(part.startswith(prefix) for part in value.split(",")):
                rebased = ",".join(posixpath.join(app_dir, os.path.relpath(part, repo_root).replace(os.sep, "/"))
                                   for part in value.split(","))
                logging.info("%s.%s: %s -> %s (path inside the image)", component.id, name, value, rebased)
                component.exec_properties[name] = rebased


def compile_job(pipeline: tfx.dsl.Pipeline, image: str, output_path: str) -> Dict:
    """Writes the PipelineJob JSON (`pipelineSpec` + `runtimeConfig`) to output_path and returns it."""
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=os.path.dirname(os.path.abspath(output_path)),
        output_filename=os.path.basename(output_path))
    return runner.run(pipeline, write_out=True)
