"""The Kubeflow V2 compile: `python -m kubeflow compile` writes a job whose pipelineSpec parses into kfp's
PipelineSpec, with every component in order, one image, the Trainer's GPU request and no uploaded module."""
import json
import os

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from kubeflow import __main__ as cli
from kubeflow import config, runner, submit
from models import encoder
from models.encoder import atomic_export
from pipeline import configs
from pipeline import pipeline as search_pipeline

IMAGE = "registry.example/search-relevance:test"
PIPELINE_ROOT = "gs://test-bucket/root"
BEAM_ARGS = ["--runner=DataflowRunner", "--project=test-project", "--region=europe-west4",
             "--temp_location=gs://test-bucket/tmp"]
MODEL_RESOLVER = "latest_blessed_model_resolver-model-resolver"
BLESSING_RESOLVER = "latest_blessed_model_resolver-model-blessing-resolver"


@pytest.fixture(scope="module")
def job_path(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("kfp") / "spec.json")
    argv = ["compile", "--image", IMAGE, "--pipeline-root", PIPELINE_ROOT, "--output", path,
            "--gpu-type", "NVIDIA_TESLA_T4", "--gpu-count", "2", "--trainer-cpu", "4", "--trainer-memory", "16Gi"]
    argv += [f"--beam-arg={arg}" for arg in BEAM_ARGS]
    assert cli.main(argv) == 0
    return path


@pytest.fixture(scope="module")
def job(job_path):
    with open(job_path, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def spec(job):
    return json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())


@pytest.fixture(scope="module")
def deployment(spec):
    """The executors: PipelineSpec keeps them as a Struct, in kfp's PipelineDeploymentConfig form."""
    return json_format.ParseDict(json_format.MessageToDict(spec.deployment_spec),
                                 pipeline_spec_pb2.PipelineDeploymentConfig())


def _upstream(task) -> set:
    """Explicit dependencies and the producers of the task's input artifacts."""
    producers = {a.task_output_artifact.producer_task for a in task.inputs.artifacts.values()}
    return set(task.dependent_tasks) | (producers - {""})


def _ancestors(tasks, name) -> set:
    seen, todo = set(), [name]
    while todo:
        for parent in _upstream(tasks[todo.pop()]) - seen:
            seen.add(parent)
            todo.append(parent)
    return seen


def _param(task, name) -> str:
    return task.inputs.parameters[name].runtime_value.constant_value.string_value


def test_every_component_is_a_task(spec):
    assert set(spec.root.dag.tasks) == {
        "SearchLogExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "AnomaliesGate",
        "TeacherTrainer", "TeacherEvaluator", "CatalogExampleGen", "TrafficExampleGen", "QueryGeneration",
        "Retrieval", "TeacherLabeling", "TrainingSchemaGen", "Transform",
        "Trainer", MODEL_RESOLVER, BLESSING_RESOLVER, "Evaluator", "ZeroShotFloor", "Pusher"}
    assert spec.pipeline_info.name == configs.PIPELINE_NAME


def test_dependencies_follow_the_pipeline(spec):
    tasks = spec.root.dag.tasks
    assert {"ExampleValidator"} <= _upstream(tasks["AnomaliesGate"])
    assert {"AnomaliesGate"} <= _upstream(tasks["Transform"])
    assert {"SearchLogExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator"} <= _ancestors(tasks, "Transform")
    assert {"SearchLogExampleGen", "TeacherTrainer", "Retrieval"} <= _upstream(tasks["TeacherLabeling"])
    assert {"QueryGeneration", "CatalogExampleGen"} <= _upstream(tasks["Retrieval"])
    assert {"TeacherLabeling", "TrainingSchemaGen"} <= _upstream(tasks["Transform"])
    assert {"Transform"} <= _upstream(tasks["Trainer"])
    assert {"Trainer", MODEL_RESOLVER} <= _upstream(tasks["Evaluator"])
    assert BLESSING_RESOLVER in _ancestors(tasks, "Evaluator")
    assert {"Evaluator", "Trainer"} <= _upstream(tasks["ZeroShotFloor"])
    assert {"ZeroShotFloor", "Trainer"} <= _upstream(tasks["Pusher"])  # the floor's blessing gates the push


def test_every_step_runs_the_given_image_with_tfx_entrypoint(deployment):
    assert "Trainer_executor" in deployment.executors
    for label, executor in deployment.executors.items():
        if executor.WhichOneof("spec") != "container":
            continue  # resolvers run in the orchestrator
        assert executor.container.image == IMAGE, label
        assert tuple(executor.container.command) == kubeflow_v2_dag_runner.KUBEFLOW_TFX_CMD, label


@pytest.mark.parametrize("trainer", ["Trainer", "TeacherTrainer"])
def test_trainers_request_the_gpu_cpu_and_memory(deployment, trainer):
    resources = deployment.executors[f"{trainer}_executor"].container.resources
    assert (resources.accelerator.type, resources.accelerator.count) == ("NVIDIA_TESLA_T4", 2)
    assert (resources.accelerator.resource_type, resources.accelerator.resource_count) == ("NVIDIA_TESLA_T4", "2")
    assert (resources.cpu_request, resources.cpu_limit, resources.resource_cpu_request) == (4.0, 4.0, "4")
    assert resources.resource_memory_request == "16Gi"
    assert resources.memory_request == pytest.approx(16 * 2**30 / 1e9)
    transform = deployment.executors["Transform_executor"].container
    assert not transform.HasField("resources")  # only the Trainers asked for an accelerator


def test_pipeline_root_data_and_beam_args(job, spec, deployment):
    assert job["runtimeConfig"]["gcsOutputDirectory"] == PIPELINE_ROOT
    tasks = spec.root.dag.tasks
    assert _param(tasks["SearchLogExampleGen"], "input_base") == config.DEFAULT_DATA_ROOT
    assert _param(tasks["CatalogExampleGen"], "input_base") == config.DEFAULT_DATA_ROOT
    push = json.loads(_param(tasks["Pusher"], "push_destination"))
    assert push["filesystem"]["base_directory"] == f"{PIPELINE_ROOT}/serving/{configs.MODEL_NAME}"
    args = list(deployment.executors["Transform_executor"].container.args)
    assert args[-len(BEAM_ARGS):] == BEAM_ARGS


def test_module_code_by_import_path_and_nothing_uploaded(job, spec):
    tasks = spec.root.dag.tasks
    assert _param(tasks["Transform"], "preprocessing_fn") == configs.PREPROCESSING_FN
    assert _param(tasks["Trainer"], "run_fn") == configs.RUN_FN
    for name, task in tasks.items():
        for param in ("module_file", "module_path"):
            if param in task.inputs.parameters:
                assert not _param(task, param), (name, param)
    text = json.dumps(job)
    assert "_wheels" not in text and ".whl" not in text


def test_no_path_of_the_compiling_checkout(job, spec):
    assert str(configs.REPO_ROOT) not in json.dumps(job)
    schema_file = _param(spec.root.dag.tasks["ImportSchemaGen"], "schema_file")
    assert schema_file == f"{config.APP_DIR}/schemas/schema.pbtxt"
    assert os.path.isfile(os.path.join(configs.REPO_ROOT, os.path.relpath(schema_file, config.APP_DIR)))
    # The encoder the augmentation steps load: where the image's `python -m models.encoder export` puts it.
    assert _param(spec.root.dag.tasks["Retrieval"], "encoder_handle") == f"{config.APP_DIR}/.cache/encoders/all-minilm-l6-v2"
    assert _param(spec.root.dag.tasks["ZeroShotFloor"], "encoder_handle") == _param(spec.root.dag.tasks["Retrieval"],
                                                                                   "encoder_handle")
    # The teacher's extra views, a comma-separated list of exports, are rebased path by path.
    assert _param(spec.root.dag.tasks["TeacherLabeling"], "view_encoder_handles") == \
        f"{config.APP_DIR}/.cache/encoders/all-mpnet-base-v2"


def _encoder_fingerprints(spec) -> dict:
    tasks = spec.root.dag.tasks
    return {**{name: _param(tasks[name], "encoder_fingerprint")
               for name in ("Retrieval", "TeacherLabeling", "ZeroShotFloor")},
            **{name: json.loads(_param(tasks[name], "custom_config"))["encoder_fingerprint"]
               for name in ("Trainer", "TeacherTrainer")}}


def test_the_encoder_components_carry_the_fingerprint_of_this_checkouts_export(spec):
    """The image exports the same locked weights with the same code: its stamp is this checkout's, if current."""
    expected = encoder.fingerprint(configs.ENCODER)
    assert expected == encoder.fingerprint(str(configs.ENCODER_DIR))
    assert set(_encoder_fingerprints(spec).values()) == {expected}


def test_compiling_needs_no_encoder_export(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic_export, "STAMP_FILE", "absent_stamp.json")  # as where set-up never exported
    job = runner.compile_job(runner.build_pipeline(PIPELINE_ROOT), IMAGE, str(tmp_path / "spec.json"))
    spec = json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    assert set(_encoder_fingerprints(spec).values()) == {""}


def test_a_module_file_is_refused():
    pipeline = search_pipeline.create_pipeline(data_root="d", pipeline_root=PIPELINE_ROOT, serving_model_dir="s")
    transform = runner.find_component(pipeline, tfx.components.Transform)
    transform.exec_properties["module_file"] = "models/preprocessing.py"
    with pytest.raises(ValueError, match="import path"):
        runner._refuse_module_files(pipeline)


@pytest.mark.parametrize("flags, message", [
    (["--gpu-count", "1"], "--gpu-count needs --gpu-type"),
    (["--gpu-type", "NVIDIA_TESLA_T4", "--gpu-count", "0"], "at least 1"),
    (["--gpu-type", "a gpu"], "accelerator name"),
    (["--trainer-memory", "16GB"], "--trainer-memory"),
    (["--trainer-cpu", "-1"], "--trainer-cpu"),
    (["--beam-arg", "runner=DataflowRunner"], "--name=value"),
    (["--output", "spec.yaml"], ".json"),
])
def test_bad_flags_fail_before_compiling(flags, message, capsys):
    base = {"--image": IMAGE, "--pipeline-root": PIPELINE_ROOT, "--output": "unused.json"}
    for flag, value in zip(flags[::2], flags[1::2]):
        base[flag] = value
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compile"] + [item for pair in base.items() for item in pair])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not os.path.exists("unused.json")


def test_submit_sends_the_spec_root_and_experiment(job_path, monkeypatch):
    """kfp.Client replaced by a recorder: no endpoint is contacted."""
    import kfp

    calls = {}

    class FakeClient:
        def __init__(self, host, **kwargs):
            calls["host"], calls["client_kwargs"] = host, kwargs

        def create_run_from_pipeline_package(self, package, **kwargs):
            with open(package, encoding="utf-8") as f:
                calls["spec"] = json_format.ParseDict(yaml.safe_load(f), pipeline_spec_pb2.PipelineSpec())
            calls.update(kwargs)
            return type("Result", (), {"run_id": "run-1"})()

    monkeypatch.setattr(kfp, "Client", FakeClient)
    run_id = submit.submit("http://kfp.invalid", submit.load_job(job_path), "exp", run_name="r1")
    assert run_id == "run-1"
    assert calls["host"] == "http://kfp.invalid" and calls["client_kwargs"] == {}
    assert calls["experiment_name"] == "exp" and calls["run_name"] == "r1"
    assert calls["pipeline_root"] == PIPELINE_ROOT
    assert "Trainer" in calls["spec"].root.dag.tasks


def test_submit_rejects_a_file_that_is_no_job(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(SystemExit):
        cli.main(["submit", "--host", "http://kfp.invalid", "--spec", str(bad)])
    assert "no pipelineSpec" in capsys.readouterr().err


def test_training_waits_for_the_catalogue_and_the_traffic_checks(spec):
    for trainer in ("TeacherTrainer", "Transform"):
        assert {"AnomaliesGate", "CatalogExampleGen", "TrafficExampleGen"} <= _ancestors(spec.root.dag.tasks, trainer)


def test_no_traffic_compiles_without_the_traffic_node(tmp_path):
    from kubeflow import runner

    pipeline = runner.build_pipeline(PIPELINE_ROOT, traffic=False)
    assert "TrafficExampleGen" not in {c.id for c in pipeline.components}
    assert "CatalogExampleGen" in {c.id for c in pipeline.components}


def test_a_config_file_reaches_the_compiled_job(tmp_path, capsys):
    config_file = tmp_path / "run.yaml"
    config_file.write_text("grade_scale: '1:3'\naugmentation: {max_products: 7}\n", encoding="utf-8")
    path = str(tmp_path / "spec.json")
    assert cli.main(["compile", "--image", IMAGE, "--pipeline-root", PIPELINE_ROOT, "--output", path,
                     "--config", str(config_file)]) == 0
    with open(path, encoding="utf-8") as f:
        tasks = json_format.ParseDict(json.load(f)["pipelineSpec"], pipeline_spec_pb2.PipelineSpec()).root.dag.tasks
    assert _param(tasks["SearchLogExampleGen"], "grade_scale") == "1:3"
    assert tasks["QueryGeneration"].inputs.parameters["max_products"].runtime_value.constant_value.int_value == 7
    assert json.loads(_param(tasks["Pusher"], "custom_config"))["run_config"]["values"]["grade_scale"] == "1:3"
    bad = tmp_path / "bad.yaml"
    bad.write_text("sead: 1\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        cli.main(["compile", "--image", IMAGE, "--pipeline-root", PIPELINE_ROOT, "--output", path,
                  "--config", str(bad)])
    assert "--config: " in capsys.readouterr().err
