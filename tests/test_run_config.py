"""Config files (pipeline/run_config.py) and how the command line merges them: every key validated against the
dataclasses and hparams it sets, unknown keys refused by name, flags over the file over configs.py."""
import json

import pytest

from components.retrieval import candidates
from components.teacher_labeling import filtering
from pipeline import __main__ as cli
from pipeline import configs, run_config
from pipeline.run_config import ConfigError

FULL = """
grade_scale: "1:3"
encoder: all-MiniLM-L6-v2
seed: 7
train_steps: null
serve_zero_shot_weight: 0.25
zero_shot_floor: report
augmentation:
  max_products: 200
  max_seconds: 600
  traffic: true
  teacher_view_encoders: []
  backend: openai_http
  backend_config: {base_url: "http://127.0.0.1:8000/v1", model: smollm2}
  labeling: {min_confidence: 0.3, weight_traffic: 2}
  retrieval: {products_per_query: 8}
trainer: {train_epochs: 1, loss: pointwise_margin_mse, gold_stage_epochs: 1.0}
teacher: {train_epochs: 4, clip_norm: null}
"""


def _file(tmp_path, text, name="run.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_full_yaml_file_becomes_create_pipeline_arguments(tmp_path):
    loaded = run_config.load(_file(tmp_path, FULL))
    o = loaded.overrides
    assert (o["grade_scale"], o["encoder"], o["seed"], o["train_steps"]) == ("1:3", "all-MiniLM-L6-v2", 7, None)
    assert (o["serve_zero_shot_weight"], o["zero_shot_floor"]) == (0.25, "report")
    augmentation = o["augmentation"]
    assert (augmentation.max_products, augmentation.max_seconds, augmentation.traffic) == (200, 600.0, True)
    assert augmentation.teacher_view_encoders == ()
    assert augmentation.generation_args["backend"] == "openai_http"
    assert augmentation.generation_args["backend_config"]["model"] == "smollm2"
    # Nested settings keep the configured defaults of what the file does not name.
    assert augmentation.labeling == filtering.Settings(
        **{**vars(configs.AUGMENTATION.labeling), "min_confidence": 0.3, "weight_traffic": 2.0})
    assert augmentation.retrieval == candidates.Settings(products_per_query=8)
    assert o["trainer_hparams"] == {"train_epochs": 1.0, "loss": "pointwise_margin_mse", "gold_stage_epochs": 1.0}
    assert o["teacher_hparams"] == {"train_epochs": 4.0, "clip_norm": None}
    assert loaded.record()["values"]["seed"] == 7 and len(loaded.record()["sha256"]) == 64


def test_json_reads_the_same_as_yaml(tmp_path):
    import yaml
    values = yaml.safe_load(FULL)
    assert run_config.load(_file(tmp_path, json.dumps(values), "run.json")).overrides == \
        run_config.load(_file(tmp_path, FULL)).overrides


@pytest.mark.parametrize("text, message", [
    ("sead: 7", "run.yaml: sead: unknown key; known: grade_scale"),
    ("augmentation: {max_product: 3}", "run.yaml: augmentation.max_product: unknown key; known: enabled"),
    ("augmentation: {labeling: {min_confidnce: 0.3}}",
     "run.yaml: augmentation.labeling.min_confidnce: unknown key; known: min_confidence"),
    ("trainer: {learning_rat: 0.1}", "run.yaml: trainer.learning_rat: unknown key; known: batch_size"),
    ("seed: seven", "run.yaml: seed: expected an integer, got 'seven'"),
    ("seed: true", "run.yaml: seed: expected an integer, got True"),
    ("augmentation: {max_products: 2.5}", "augmentation.max_products: expected an integer, got 2.5"),
    ("augmentation: {traffic: maybe}", "augmentation.traffic: expected true or false, got 'maybe'"),
    ("augmentation: {teacher_view_encoders: bert}", "augmentation.teacher_view_encoders: expected a list"),
    ("augmentation: {teacher_view_encoders: [bert]}", "augmentation.teacher_view_encoders: 'bert' is not one of"),
    ("augmentation: {labeling: {zero_shot_weight: 2}}", "augmentation.labeling: zero_shot_weight must be in [0, 1]"),
    ("augmentation: {labeling: {teacher_score: gain}}", "augmentation.labeling.teacher_score: not settable"),
    ("augmentation: 3", "augmentation: expected a mapping of Augmentation's fields"),
    ("augmentation: {llm_judge: {base_url: 'http://h/v1'}}", "augmentation.llm_judge: llm_judge: "),
    ("augmentation: {llm_judge: {base_url: u, model: m, top_k: 3}}",
     "augmentation.llm_judge: llm_judge: unknown settings ['top_k']"),
    ("augmentation: {backend: gpt}", "augmentation.backend_config: unknown LLM backend 'gpt'"),
    ("augmentation: {backend: openai_http, backend_config: {url: x}}",
     "augmentation.backend_config: bad config for LLM backend 'openai_http'"),
    ("grade_scale: 1-3", "grade_scale: a grade scale is LOWEST:HIGHEST"),
    ("grade_scale: '3:1'", "grade_scale: a grade scale needs finite lowest < highest"),
    ("encoder: bert", "encoder: 'bert' is not one of all-MiniLM-L6-v2"),
    ("zero_shot_floor: maybe", "zero_shot_floor: 'maybe' is not one of enforce, report"),
    ("serve_zero_shot_weight: 1.5", "serve_zero_shot_weight:"),
    ("trainer: {train_epochs: two}", "trainer.train_epochs: expected a number, got 'two'"),
    ("- a\n- list", "the config is a mapping of keys, got list"),
    ("seed: [unclosed", "not readable as YAML"),
])
def test_a_bad_file_is_refused_naming_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        run_config.load(_file(tmp_path, text))
    assert message in str(error.value)
    assert str(tmp_path) in str(error.value)


def test_a_missing_file_or_another_format_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config file"):
        run_config.load(str(tmp_path / "nothing.yaml"))
    with pytest.raises(ConfigError, match=r"\.yaml, \.yml or \.json"):
        run_config.load(_file(tmp_path, "seed: 1", "run.toml"))
    assert run_config.load(_file(tmp_path, "")).overrides == {}  # an empty file: the defaults


def test_flags_win_over_the_file_which_wins_over_the_defaults(tmp_path):
    path = _file(tmp_path, FULL)
    args = cli._parse(["run", "--output", str(tmp_path / "out"), "--config", path, "--seed", "9",
                       "--generation-products", "5", "--no-traffic", "--grade-scale", "0:1"])
    settings = cli._settings(args)
    assert (settings["seed"], settings["grade_scale"], settings["encoder"]) == (9, "0:1", "all-MiniLM-L6-v2")
    augmentation = settings["augmentation"]
    assert (augmentation.max_products, augmentation.max_seconds, augmentation.traffic) == (5, 600.0, False)
    assert augmentation.labeling.min_confidence == 0.3  # from the file: no flag names it
    assert settings["run_config"]["path"] == path and settings["trainer_hparams"]["train_epochs"] == 1.0
    # Without a file, only the flags given change anything.
    plain = cli._settings(cli._parse(["run", "--output", str(tmp_path / "out")]))
    assert plain == {"augmentation": configs.AUGMENTATION}
    assert cli._settings(cli._parse(["run", "--output", "o", "--no-augmentation"]))["augmentation"].enabled is False


def test_validate_takes_the_scale_and_the_augmentation_only(tmp_path):
    args = cli._parse(["validate", "--output", str(tmp_path / "out"), "--config", _file(tmp_path, FULL)])
    assert set(cli._settings(args)) == {"grade_scale", "augmentation"}


def test_the_command_line_refuses_a_bad_file_in_one_line_with_exit_2(tmp_path, capsys):
    assert cli.main(["run", "--output", str(tmp_path / "out"), "--config", _file(tmp_path, "sead: 7")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "sead: unknown key" in err
    with pytest.raises(SystemExit):
        cli._parse(["run", "--output", "o", "--grade-scale", "high"])
    assert "a grade scale is LOWEST:HIGHEST" in capsys.readouterr().err
