"""The runners' argument handling and the command line (BeamDagRunner's whole run: tests/test_resume.py)."""
import json
import subprocess
import sys

import pytest

from pipeline import configs, runners


def test_beam_args_select_the_local_engine_and_multiprocessing():
    assert runners.beam_args(workers=1) == ["--runner=FnApiRunner"]
    assert runners.beam_args(workers=2, extra=["--foo=1"]) == [
        "--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2", "--foo=1"]


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
    for component in ("Retrieval", "TeacherLabeling"):
        assert _node(pipeline, component).exec_properties["encoder_handle"] == export


def test_an_unknown_encoder_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown encoder 'bert-base'.*multilingual-e5-small"):
        configs.encoder_dir("bert-base")
