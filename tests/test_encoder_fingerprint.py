"""A re-exported encoder at the same path changes the cache key (the exec properties) of every component that
uses it: both Trainers, Retrieval and TeacherLabeling. The exports here are fake: a stamp and nothing else,
which is all building the pipeline reads."""
import json

import pytest

from models import encoder
from models.encoder import atomic_export
from pipeline import configs

# The shape of a real stamp (models/encoder/hub_module.py export_stamp).
STAMP = {"format": 1, "source_sha256": "ab" * 32, "code_sha256": "cd" * 32, "max_seq_length": 256,
         "max_seq_length_pair": 128, "tensorflow": "2.16.2", "tensorflow_text": "2.16.1"}
ENCODER_COMPONENTS = ("Trainer", "TeacherTrainer", "Retrieval", "TeacherLabeling")


def _write_stamp(directory, stamp: dict, indent=2) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / atomic_export.STAMP_FILE).write_text(json.dumps(stamp, indent=indent), encoding="utf-8")


def test_same_stamp_same_fingerprint_whatever_its_layout(tmp_path):
    _write_stamp(tmp_path / "a", STAMP)
    _write_stamp(tmp_path / "b", dict(reversed(STAMP.items())), indent=None)
    fingerprint = atomic_export.stamp_fingerprint(tmp_path / "a")
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert atomic_export.stamp_fingerprint(tmp_path / "b") == fingerprint


@pytest.mark.parametrize("change", [{"source_sha256": "ef" * 32}, {"code_sha256": "01" * 32},
                                    {"max_seq_length_pair": 256}], ids=["weights", "code", "pair_length"])
def test_a_changed_stamp_changes_the_fingerprint(tmp_path, change):
    _write_stamp(tmp_path, STAMP)
    before = atomic_export.stamp_fingerprint(tmp_path)
    _write_stamp(tmp_path, {**STAMP, **change})
    assert atomic_export.stamp_fingerprint(tmp_path) != before


def test_no_stamp_no_fingerprint(tmp_path):
    """Keyed by the handle alone: a missing export, a SavedModel without our stamp, a broken stamp, TF Hub."""
    assert atomic_export.stamp_fingerprint(tmp_path / "missing") == ""
    (tmp_path / "saved_model.pb").write_bytes(b"")
    assert atomic_export.stamp_fingerprint(tmp_path) == ""
    (tmp_path / atomic_export.STAMP_FILE).write_text("{not json", encoding="utf-8")
    assert atomic_export.stamp_fingerprint(tmp_path) == ""
    assert encoder.fingerprint("https://tfhub.dev/google/universal-sentence-encoder/4") == ""


def test_an_encoder_name_stands_for_its_export_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(encoder, "_CACHE", tmp_path)
    export = encoder.export_dir(configs.ENCODER)
    _write_stamp(export, STAMP)
    expected = atomic_export.stamp_fingerprint(export)
    assert expected
    assert encoder.fingerprint(configs.ENCODER) == encoder.fingerprint(str(export)) == expected


def _encoder_exec_properties(encoder_name: str) -> dict:
    from pipeline import pipeline as search_pipeline

    pipeline = search_pipeline.create_pipeline(data_root="d", pipeline_root="r", serving_model_dir="s",
                                               encoder=encoder_name)
    return {node.id: dict(node.exec_properties) for node in pipeline.components if node.id in ENCODER_COMPONENTS}


@pytest.mark.parametrize("change", [{"source_sha256": "ef" * 32}, {"max_seq_length_pair": 256}],
                         ids=["weights", "pair_length"])
def test_a_re_export_at_the_same_path_changes_the_cache_key_of_every_encoder_component(tmp_path, monkeypatch,
                                                                                       change):
    monkeypatch.setattr(encoder, "_CACHE", tmp_path)  # the exports of this test, not set-up's
    export = encoder.export_dir(configs.ENCODER)
    _write_stamp(export, STAMP)
    before = _encoder_exec_properties(configs.ENCODER)
    assert before == _encoder_exec_properties(configs.ENCODER)  # the same export: served from the cache
    _write_stamp(export, {**STAMP, **change})
    after = _encoder_exec_properties(configs.ENCODER)

    assert set(before) == set(ENCODER_COMPONENTS)
    for component in ENCODER_COMPONENTS:
        assert before[component] != after[component], component
    for component in ("Retrieval", "TeacherLabeling"):
        assert before[component]["encoder_handle"] == after[component]["encoder_handle"] == str(export)
        assert after[component]["encoder_fingerprint"] == encoder.fingerprint(str(export))
    for trainer in ("Trainer", "TeacherTrainer"):
        hparams = json.loads(after[trainer]["custom_config"])
        assert hparams["encoder_handle"] == configs.ENCODER  # still by name: no path of this machine
        assert hparams["encoder_fingerprint"] == encoder.fingerprint(str(export))
