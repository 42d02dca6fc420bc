"""The runners' argument handling and the command line (BeamDagRunner's whole run: tests/test_resume.py)."""
import glob
import json
import os
import subprocess
import sys
import tempfile

import apache_beam as beam
import pytest
from apache_beam.runners.portability import stager
from apache_beam.testing.util import assert_that, equal_to
from tfx.dsl.components.base import base_beam_executor
from tfx.utils import dependency_utils

from kubeflow import config as kubeflow_config
from pipeline import configs, runners


def test_beam_args_select_the_local_engine_and_multiprocessing():
    setup_file = f"--setup_file={configs.REPO_ROOT}/setup.py"
    assert runners.beam_args(workers=1) == ["--runner=FnApiRunner", setup_file]
    assert runners.beam_args(workers=2, extra=["--foo=1"]) == [
        "--runner=FnApiRunner", setup_file, "--direct_running_mode=multi_processing", "--direct_num_workers=2",
        "--foo=1"]


@pytest.mark.parametrize("args", [
    runners.beam_args(workers=1), runners.beam_args(workers=2), list(kubeflow_config.DEFAULT_BEAM_ARGS)],
    ids=["in_memory", "processes", "kubeflow"])
def test_default_beam_args_name_the_dependencies(args, monkeypatch):
    """Else TFX's Beam executors build a ~52 MB tfx_ephemeral sdist per run, in a /tmp dir never deleted."""
    def build():
        raise AssertionError("TFX built a tfx_ephemeral sdist")
    monkeypatch.setattr(dependency_utils, "build_ephemeral_package", build)
    assert dependency_utils.make_beam_dependency_flags(args) == args


class _SquareExecutor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        with self._make_beam_pipeline() as pipeline:
            assert_that(pipeline | beam.Create([1, 2, 3]) | beam.Map(lambda x: x * x), equal_to([1, 4, 9]))


def test_a_beam_executor_on_the_local_engine_builds_and_stages_nothing(monkeypatch, tmp_path):
    """No tfx_ephemeral package (TFX writes it under tempfile.mkdtemp(): here, tmp_path), and the setup.py
    named for TFX is never staged by FnApiRunner."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    def stage(*args, **kwargs):
        raise AssertionError("Beam staged the dependencies")
    monkeypatch.setattr(stager.Stager, "create_job_resources", stage)
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=runners.beam_args(workers=1))
    _SquareExecutor(context).Do({}, {}, {})
    assert not glob.glob(str(tmp_path / "*" / "build"))


def test_unknown_runner_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="unknown runner 'spark'"):
        runners.run("spark", str(configs.SAMPLE_DATA_DIR), str(tmp_path), [])


def test_command_line_help_lists_the_runners():
    result = subprocess.run([sys.executable, "-m", "pipeline", "run", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--runner {local,beam}" in result.stdout


def _node(pipeline, node_id):
    return next(node for node in pipeline.components if node.id == node_id)


@pytest.mark.parametrize("encoder", configs.ENCODERS)
def test_one_encoder_setting_reaches_every_component_that_embeds(encoder):
    from pipeline import pipeline as search_pipeline

    pipeline = search_pipeline.create_pipeline(data_root="d", pipeline_root="r", serving_model_dir="s",
                                               encoder=encoder)
    export = str(configs.encoder_dir(encoder))
    assert export.endswith(encoder.lower())
    for trainer in ("Trainer", "TeacherTrainer"):
        # By name, resolved where the Trainer runs (a compiled pipeline carries no path of this machine).
        assert json.loads(_node(pipeline, trainer).exec_properties["custom_config"])["encoder_handle"] == encoder
    for component in ("Retrieval", "TeacherLabeling", "ZeroShotFloor"):
        assert _node(pipeline, component).exec_properties["encoder_handle"] == export
    # The teacher's extra views never repeat the pipeline's own encoder.
    assert export not in _node(pipeline, "TeacherLabeling").exec_properties["view_encoder_handles"].split(",")


def test_an_unknown_encoder_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown encoder 'bert-base'.*multilingual-e5-small"):
        configs.encoder_dir("bert-base")


@pytest.mark.parametrize("weight", [None, 0.0, 1.0])
def test_the_served_zero_shot_weight_reaches_the_trainer_only(weight):
    from pipeline import pipeline as search_pipeline

    pipeline = search_pipeline.create_pipeline(data_root="d", pipeline_root="r", serving_model_dir="s",
                                               serve_zero_shot_weight=weight)
    hparams = {node: json.loads(_node(pipeline, node).exec_properties["custom_config"])
               for node in ("Trainer", "TeacherTrainer")}
    assert hparams["Trainer"]["zero_shot_weight"] == (configs.SERVE_ZERO_SHOT_WEIGHT if weight is None else weight)
    assert "zero_shot_weight" not in hparams["TeacherTrainer"]  # the teacher is never an ensemble


def test_the_pipeline_definition_refuses_a_bad_served_weight():
    from pipeline import pipeline as search_pipeline

    with pytest.raises(ValueError, match=r"zero_shot_weight must be in \[0, 1\], not -0.1"):
        search_pipeline.create_pipeline(data_root="d", pipeline_root="r", serving_model_dir="s",
                                        serve_zero_shot_weight=-0.1)


def test_a_served_zero_shot_weight_outside_0_1_is_refused_before_anything_runs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pipeline", "run", "--output", str(tmp_path),
                             "--serve-zero-shot-weight", "1.5"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "--serve-zero-shot-weight: zero_shot_weight must be in [0, 1], not 1.5" in result.stderr
    assert not (tmp_path / "metadata.sqlite").exists()


def test_a_config_files_settings_reach_the_components_that_use_them(tmp_path):
    from pipeline import pipeline as search_pipeline
    from pipeline import run_config

    path = tmp_path / "run.yaml"
    path.write_text("grade_scale: '1:3'\n"
                    "augmentation: {backend: openai_http,\n"
                    "               backend_config: {base_url: 'http://127.0.0.1:1/v1', model: m}}\n"
                    "trainer: {loss: pointwise_margin_mse, gold_stage_epochs: 1.0}\n"
                    "teacher: {pointwise_loss: mse, train_epochs: 5}\n", encoding="utf-8")
    loaded = run_config.load(str(path))
    pipeline = search_pipeline.create_pipeline(data_root="d", pipeline_root="r", serving_model_dir="s",
                                               **loaded.overrides, run_config=loaded.record())
    assert _node(pipeline, "SearchLogExampleGen").exec_properties["grade_scale"] == "1:3"
    student = json.loads(_node(pipeline, "Trainer").exec_properties["custom_config"])
    assert (student["loss"], student["gold_stage_epochs"]) == ("pointwise_margin_mse", 1.0)
    assert student["zero_shot_weight"] == configs.SERVE_ZERO_SHOT_WEIGHT  # the rest as configured
    teacher = json.loads(_node(pipeline, "TeacherTrainer").exec_properties["custom_config"])
    assert (teacher["pointwise_loss"], teacher["train_epochs"]) == ("mse", 5.0)
    # TeacherLabeling reads the teacher's score as the teacher's own loss defines it: a regressed gain.
    assert _node(pipeline, "TeacherLabeling").exec_properties["teacher_score"] == "gain"
    assert _node(pipeline, "QueryGeneration").exec_properties["backend"] == "openai_http"
    pusher = json.loads(_node(pipeline, "Pusher").exec_properties["custom_config"])
    assert pusher["run_config"]["path"] == str(path) and pusher["run_config"]["values"]["grade_scale"] == "1:3"
    validation = search_pipeline.create_validation_pipeline(data_root="d", pipeline_root="r", grade_scale="1:3")
    assert _node(validation, "SearchLogExampleGen").exec_properties["grade_scale"] == "1:3"
    # Without a file: the pipeline's own scale, and nothing recorded with the push.
    plain = search_pipeline.create_pipeline(data_root="d", pipeline_root="r", serving_model_dir="s")
    assert _node(plain, "SearchLogExampleGen").exec_properties["grade_scale"] == configs.GRADE_SCALE
    assert json.loads(_node(plain, "Pusher").exec_properties["custom_config"]) is None


def test_retrieval_and_labelling_share_one_embedding_cache_under_the_pipeline_root():
    from pipeline import pipeline as search_pipeline

    pipeline = search_pipeline.create_pipeline(data_root="d", pipeline_root="root", serving_model_dir="s")
    expected = os.path.join("root", configs.EMBEDDING_CACHE_DIR)
    for component in ("Retrieval", "TeacherLabeling"):
        assert _node(pipeline, component).exec_properties["embedding_cache"] == expected
