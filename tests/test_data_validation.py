"""The data validation of a run on copies of the bundled sample with a defect (issue 6, items 1 and 2).

Each test writes a copy of the sample with one defect or drift and runs the data validation alone
(runners.validate: SearchLogExampleGen -> StatisticsGen -> ImportSchemaGen -> ExampleValidator ->
AnomaliesGate, on LocalDagRunner and Beam's FnApiRunner, as a full run does; ~10 s each). The rules of
SearchLogExampleGen one by one, on tiny files: tests/test_csv_example_gen.py.

What reaches ExampleValidator at all: SearchLogExampleGen writes every column with its schema type (text as
bytes, relevance as a float) and quarantines the rows whose relevance is not a number or off the 0-3 scale,
so a type change or out-of-domain labels stop the run there. The validator sees rows that are each valid and
catches the drift of the drop as a whole with the checks of schemas/custom_validations.pbtxt.
"""
import csv
import glob
import json
import os
import re
import shutil

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx

from components.anomalies_gate import executor as gate_executor
from components.anomalies_gate.executor import ANOMALIES_FILE, DataAnomaliesError
from components.search_log_example_gen import executor as example_gen_executor
from components.search_log_example_gen.rules import InvalidSearchLogError
from models import features
from pipeline import configs, runners
from pipeline import pipeline as search_pipeline

pytestmark = pytest.mark.slow  # whole pipeline runs, training or a real server

SPLITS = tuple(configs.SPLIT_BUCKETS)
SAMPLE_ROWS = 888


def _sample_rows():
    """The sample's search log as dicts, in file order (row i is on line i + 2)."""
    with open(configs.SAMPLE_DATA_DIR / "search_log.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _drop(folder, rows):
    """A data folder with these rows as its search log and the sample's catalogue; returns the path of the
    search log."""
    data_dir = os.path.join(str(folder), "data")
    os.makedirs(data_dir)
    shutil.copy(configs.SAMPLE_DATA_DIR / configs.CATALOG_FILE, data_dir)
    path = os.path.join(data_dir, "search_log.csv")
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=features.RAW_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _validate(folder, path):
    """Runs the validation sub-pipeline on the data folder of `path`; returns the output folder."""
    output_dir = os.path.join(str(folder), "output")
    runners.validate("local", os.path.dirname(path), output_dir, runners.beam_args(workers=1))
    return output_dir


def _changed(change):
    """The sample's rows with `change(row)` applied to each."""
    return [change(dict(row)) for row in _sample_rows()]


def _outputs(folder, component, output):
    return glob.glob(os.path.join(str(folder), "output", "tfx", component, output, "*"))


def _anomalies(folder):
    """The anomalies per split: ExampleValidator's (schema) and AnomaliesGate's (drift checks), merged."""
    result = {split: anomalies_pb2.Anomalies() for split in SPLITS}
    for component, output in (("ExampleValidator", "anomalies"), ("AnomaliesGate", gate_executor.DRIFT_ANOMALIES_KEY)):
        [uri] = _outputs(folder, component, output)
        for split in SPLITS:
            with open(os.path.join(uri, f"Split-{split}", ANOMALIES_FILE), "rb") as f:
                result[split].MergeFrom(anomalies_pb2.Anomalies.FromString(f.read()))
    return result


def _ledger(folder):
    [uri] = _outputs(folder, "SearchLogExampleGen", "examples")
    with open(os.path.join(uri, example_gen_executor.QUARANTINE_DIR, example_gen_executor.LEDGER_FILE),
              encoding="utf-8") as f:
        return json.load(f)


def _quarantined(folder):
    [uri] = _outputs(folder, "SearchLogExampleGen", "examples")
    with open(os.path.join(uri, example_gen_executor.QUARANTINE_DIR, example_gen_executor.QUARANTINE_FILE),
              encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _anomalous_features(folder):
    """{split: anomalous features} of a drop the gate let through (its drift_anomalies exist only then)."""
    return {split: sorted(anomalies.anomaly_info) for split, anomalies in _anomalies(folder).items()}


def _stopped_on(message):
    """{split: features} an AnomaliesGate error names (a stopped run publishes no gate output)."""
    named = {split: set() for split in SPLITS}
    for split, feature in re.findall(r"split '(\w+)', feature '(\w+)'", message):
        named[split].add(feature)
    return {split: sorted(names) for split, names in named.items()}


# Schema drift (item 2): the sample passes, a drifted drop stops at the validator.

def test_the_drift_checks_travel_as_json_with_the_gate_not_the_validator():
    validation = search_pipeline.data_validation("data")
    stored = validation.anomalies_gate.exec_properties[gate_executor.DRIFT_CHECKS_KEY]
    assert isinstance(stored, str)  # a proto placeholder here would not compile for Kubeflow V2
    assert gate_executor.drift_checks({gate_executor.DRIFT_CHECKS_KEY: stored}) == \
        search_pipeline.custom_validation_config()
    assert len(search_pipeline.custom_validation_config().feature_validations) == 3
    # TFX's own ExampleValidator, without custom_validation_config (gone on TFX's main branch).
    assert type(validation.example_validator) is tfx.components.ExampleValidator
    assert validation.example_validator.exec_properties.get("custom_validation_config") is None


def test_the_sample_passes_every_check(tmp_path):
    _validate(tmp_path, _drop(tmp_path, _sample_rows()))
    assert _anomalous_features(tmp_path) == {split: [] for split in SPLITS}
    assert not any(a.HasField("dataset_anomaly_info") for a in _anomalies(tmp_path).values())
    assert _ledger(tmp_path)["rows_kept"] == SAMPLE_ROWS


def test_labels_on_another_scale_stop_the_run_at_the_validator(tmp_path):
    # Domain drift: grades rescaled to [0, 1] (e.g. an export of normalised scores). Every value parses and
    # lies within the schema's float_domain [0, 3], so no row rule can see it; the scale check does.
    def rescale(row):
        row[features.RELEVANCE] = f"{float(row[features.RELEVANCE]) / features.RELEVANCE_MAX:.4f}"
        return row

    with pytest.raises(DataAnomaliesError) as error:
        _validate(tmp_path, _drop(tmp_path, _changed(rescale)))
    ledger = _ledger(tmp_path)
    assert (ledger["rows_kept"], ledger["rows_quarantined"]) == (SAMPLE_ROWS, 0)  # it reached the validator
    message = str(error.value)
    assert _stopped_on(message) == {split: [features.RELEVANCE] for split in SPLITS}
    for split in SPLITS:
        assert (f"split '{split}', feature 'relevance': relevance does not span the 0-3 grading scale "
                "(expected grades from <= 0.5 up to >= 2.5)") in message
    assert message.count("[observed: min 0, max 1, mean 0.3") == len(SPLITS)  # the figures, from StatisticsGen
    assert "product_title" not in message and "feature 'query'" not in message


def test_the_drift_check_follows_the_declared_grade_scale(tmp_path):
    # The sample's grades on a 1..3 scale (a mean of raters, as Home Depot's): every grade lies within 0..3,
    # so undeclared the rows pass and the scale check stops the drop (no grade at the bottom of the scale);
    # declared with --grade-scale 1:3 they are mapped onto 0..3 and the same drop is valid.
    def one_to_three(row):
        row[features.RELEVANCE] = f"{1.0 + float(row[features.RELEVANCE]) * 2.0 / features.RELEVANCE_MAX:.4f}"
        return row

    path = _drop(tmp_path / "undeclared", _changed(one_to_three))
    with pytest.raises(DataAnomaliesError, match="relevance does not span the 0-3 grading scale"):
        _validate(tmp_path / "undeclared", path)
    output_dir = str(tmp_path / "declared" / "output")
    runners.validate("local", os.path.dirname(path), output_dir, runners.beam_args(workers=1),
                     overrides={"grade_scale": "1:3"})
    [uri] = glob.glob(os.path.join(output_dir, "tfx", "SearchLogExampleGen", "examples", "*"))
    with open(os.path.join(uri, example_gen_executor.QUARANTINE_DIR, example_gen_executor.LEDGER_FILE),
              encoding="utf-8") as f:
        ledger = json.load(f)
    assert (ledger["rows_kept"], ledger["grade_scale"]) == (SAMPLE_ROWS, "1:3")


def test_titles_with_descriptions_stop_the_run_at_the_validator(tmp_path):
    # Distribution drift: a new export appends the product description to every title (320 more bytes,
    # still under the 1,000-character cut, so every row is kept as it is).
    description = (" | Product details: durable materials, tested for everyday use, easy to clean, backed by "
                   "a two-year warranty; ships in recyclable packaging; see the size guide before ordering; "
                   "colours may differ slightly from the photos; returns accepted within 30 days of delivery "
                   "when the item is unused and in its original packaging.")

    def describe(row):
        row[features.PRODUCT_TITLE] += description
        return row

    with pytest.raises(DataAnomaliesError) as error:
        _validate(tmp_path, _drop(tmp_path, _changed(describe)))
    assert _ledger(tmp_path)["rows_quarantined"] == 0
    assert sum(_ledger(tmp_path)["truncated_per_column"].values()) == 0
    message = str(error.value)
    assert _stopped_on(message) == {split: [features.PRODUCT_TITLE] for split in SPLITS}
    for split in SPLITS:
        assert re.search(rf"split '{split}', feature 'product_title': average product_title length outside "
                         r"15\.\.250 UTF-8 bytes \(sample: 49\).* \[observed: average length 3\d\d\.\d bytes",
                         message)
    assert "custom_validations.pbtxt" in message  # the error says where the expectations live


def test_labels_as_words_stop_the_run_at_example_gen_before_the_validator(tmp_path):
    # Type drift: relevance exported as grade names. No row parses, so SearchLogExampleGen quarantines all
    # of them and fails on its threshold; StatisticsGen and ExampleValidator never run.
    names = {0.0: "irrelevant", 1.0: "related", 2.0: "substitute", 3.0: "exact"}

    def as_words(row):
        row[features.RELEVANCE] = names[float(row[features.RELEVANCE])]
        return row

    with pytest.raises(InvalidSearchLogError) as error:
        _validate(tmp_path, _drop(tmp_path, _changed(as_words)))
    assert (f"rule 'quarantine_threshold': {SAMPLE_ROWS} of {SAMPLE_ROWS} rows quarantined (100.0%, limit 5.0%): "
            f"relevance_not_a_number {SAMPLE_ROWS}") in str(error.value)
    assert _outputs(tmp_path, "StatisticsGen", "statistics") == []
    assert _outputs(tmp_path, "ExampleValidator", "anomalies") == []


# Bad input (item 1) on a copy of the sample: quarantined with a reason and counted, or a clear failure.

def test_broken_rows_are_quarantined_and_the_rest_of_the_sample_validates(tmp_path):
    # A few broken rows (under the 5% limit), a 10,000-character title and a mixed-script query appended to the
    # sample: each broken row is quarantined with file, line and reason, the long title is cut to
    # MAX_TEXT_CHARS and counted, and the rows kept pass every schema and drift check.
    rows = _sample_rows()
    first = rows[0]
    appended = [
        {**first, features.PRODUCT_ID: "P90001", features.QUERY: ""},  # line 890
        {**first, features.PRODUCT_ID: "P90002", features.PRODUCT_TITLE: "   "},
        {**first, features.PRODUCT_ID: "P90003", features.RELEVANCE: "high"},
        {**first, features.PRODUCT_ID: "P90004", features.RELEVANCE: "4.5"},
        dict(rows[1]),  # line 894: a copy of line 3
        {**first, features.PRODUCT_ID: "P90005", features.PRODUCT_TITLE: "Zephlin portable speaker " * 400},
        {features.QUERY_ID: "q9001", features.QUERY: "Lumora X5 手机壳 clear", features.PRODUCT_ID: "P90006",
         features.PRODUCT_TITLE: "Kestova 透明手机壳 for Lumora X5, clear", features.RELEVANCE: "3.0"},
    ]
    path = _drop(tmp_path, rows + appended)
    _validate(tmp_path, path)  # no anomaly: the gate passes

    ledger = _ledger(tmp_path)
    assert (ledger["rows_read"], ledger["rows_kept"], ledger["rows_quarantined"]) == (SAMPLE_ROWS + 7,
                                                                                      SAMPLE_ROWS + 2, 5)
    assert ledger["rows_read"] == ledger["rows_kept"] + ledger["rows_quarantined"]  # in = out + rejected
    assert ledger["rows_kept"] == sum(ledger["kept_per_split"].values())
    assert {reason: n for reason, n in ledger["quarantined_per_reason"].items() if n} == {
        "empty_value": 2, "relevance_not_a_number": 1, "relevance_out_of_range": 1, "duplicate": 1}
    assert ledger["truncated_per_column"] == {"query": 0, "product_title": 1}
    assert [(r["file"], r["line"], r["reason"], r["column"]) for r in _quarantined(tmp_path)] == [
        (path, 890, "empty_value", "query"), (path, 891, "empty_value", "product_title"),
        (path, 892, "relevance_not_a_number", "relevance"), (path, 893, "relevance_out_of_range", "relevance"),
        (path, 894, "duplicate", "product_id")]
    assert _anomalous_features(tmp_path) == {split: [] for split in SPLITS}


def test_a_latin1_row_in_the_sample_fails_the_run_naming_line_byte_and_column(tmp_path):
    path = _drop(tmp_path, _sample_rows())
    size = os.path.getsize(path)
    with open(path, "ab") as f:  # a row saved by an editor in Windows-1252 / Latin-1
        f.write("q9002,caf\xe9 mug,P90009,Caf\xe9 mug 350 ml,2.0\r\n".encode("latin-1"))
    with pytest.raises(InvalidSearchLogError) as error:
        _validate(tmp_path, path)
    assert (f"{path}, line {SAMPLE_ROWS + 2}, column 'query', byte offset {size + len('q9002,caf')}: "
            "rule 'encoding': not valid UTF-8 (byte e9") in str(error.value)
    assert _outputs(tmp_path, "StatisticsGen", "statistics") == []


def test_validate_command_rejects_a_drifted_drop_and_accepts_the_sample(tmp_path, capsys):
    from pipeline.__main__ import main

    def binary(row):  # clicks instead of grades
        row[features.RELEVANCE] = "1" if float(row[features.RELEVANCE]) >= 2 else "0"
        return row

    drifted = _drop(tmp_path / "drifted", _changed(binary))
    assert main(["validate", "--data", os.path.dirname(drifted), "--output", str(tmp_path / "out1")]) == 1
    assert "Data drop REJECTED" in capsys.readouterr().out
    clean = _drop(tmp_path / "clean", _sample_rows())
    assert main(["validate", "--data", os.path.dirname(clean), "--output", str(tmp_path / "out2")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "valid" in last and "quarantined 0 of 1,333 rows read: search log 0 of 888, catalogue 0 of 445" in last


def test_validate_names_the_quarantined_rows_on_its_last_line(tmp_path, capsys):
    from pipeline.__main__ import main

    rows = _sample_rows()
    rows[5][features.RELEVANCE] = "7.0"  # off the scale: one row quarantined, far below the limit
    path = _drop(tmp_path, rows)
    assert main(["validate", "--data", os.path.dirname(path), "--output", str(tmp_path / "out")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "quarantined 1 of 1,333 rows read: search log 1 of 888 (" in last and "rows.jsonl)" in last, last


# --- the catalogue is validated like the log, before any training ---------------------------------------

def _write_catalog(data_dir, lines):
    with open(os.path.join(data_dir, configs.CATALOG_FILE), "w", encoding="utf-8") as f:
        f.write("\n".join(["product_id,product_title"] + lines) + "\n")


def test_a_missing_catalogue_is_refused_by_validate(tmp_path, capsys):
    from pipeline.__main__ import main

    path = _drop(tmp_path, _sample_rows())
    os.remove(os.path.join(os.path.dirname(path), configs.CATALOG_FILE))
    assert main(["validate", "--data", os.path.dirname(path), "--output", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "Data drop REJECTED" in out and "catalog.csv: rule 'no_input'" in out, out


def test_catalogue_rows_are_quarantined_with_file_line_and_reason(tmp_path):
    path = _drop(tmp_path, _sample_rows())
    with open(configs.SAMPLE_DATA_DIR / configs.CATALOG_FILE, encoding="utf-8") as f:
        lines = f.read().splitlines()[1:]
    first_id = lines[0].split(",")[0]
    _write_catalog(os.path.dirname(path), lines + [f"{first_id},Another title for the first product",
                                                   "P99998,", "P99999,   "])
    _validate(tmp_path, path)
    [uri] = _outputs(tmp_path, "CatalogExampleGen", "examples")
    with open(os.path.join(uri, example_gen_executor.QUARANTINE_DIR, example_gen_executor.LEDGER_FILE),
              encoding="utf-8") as f:
        ledger = json.load(f)
    assert ledger["rows_read"] == len(lines) + 3 and ledger["rows_kept"] == len(lines)
    assert {k: v for k, v in ledger["quarantined_per_reason"].items() if v} == {"empty_value": 2, "duplicate": 1}
    with open(os.path.join(uri, example_gen_executor.QUARANTINE_DIR, example_gen_executor.QUARANTINE_FILE),
              encoding="utf-8") as f:
        quarantined = sorted((r["line"], r["reason"], r["column"]) for r in map(json.loads, f))
    n = len(lines) + 1  # the header is line 1
    assert quarantined == [(n + 1, "duplicate", "product_id"), (n + 2, "empty_value", "product_title"),
                           (n + 3, "empty_value", "product_title")]


def test_a_catalogue_of_empty_titles_stops_the_run_before_the_teacher_trains(tmp_path, run_test_pipeline):
    path = _drop(tmp_path, _sample_rows())
    _write_catalog(os.path.dirname(path), [f"P{i:05d}," for i in range(1, 40)] + ["P00040,Cotton tee"])
    output = str(tmp_path / "out")
    with pytest.raises(InvalidSearchLogError, match=r"(?s)The catalogue cannot be used .*quarantine_threshold"):
        run_test_pipeline(os.path.dirname(path), output)
    assert not glob.glob(os.path.join(output, "tfx", "TeacherTrainer", "model", "*"))
