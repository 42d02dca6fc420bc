"""The search traffic as an augmentation source: impressions (a logged query and a product shown for it, no
grade) read by the pipeline's TrafficExampleGen with the log's row rules, graded by the teacher in
TeacherLabeling (origin traffic), and accounted for: in = kept + rejected, everywhere."""
import csv
import json
import os
import shutil

import apache_beam as beam
import pytest
from tfx.dsl.components.base import base_beam_executor
from tfx.types import standard_artifacts, standard_component_specs

from components import examples_io
from components.augmentation import report as report_lib
from components.query_generation.sanitize import normalise
from components.search_log_example_gen import executor as example_gen_executor
from components.search_log_example_gen.rules import InvalidSearchLogError
from components.teacher_labeling import filtering
from models import features
from pipeline import configs, pipeline
from test_teacher_labeling import LABELLED, SETTINGS, _candidate, _raw, _reasons, run_labeling

IMPRESSIONS_HEADER = ",".join(features.IMPRESSION_COLUMNS)


def _run_traffic_example_gen(folder):
    """The pipeline's TrafficExampleGen (its own exec properties) run on `folder`: (Examples, ledger, rows)."""
    component = pipeline.traffic_example_gen(str(folder))
    examples = standard_artifacts.Examples()
    examples.uri = os.path.join(str(folder), "examples")
    context = base_beam_executor.BaseBeamExecutor.Context(
        make_beam_pipeline_fn=lambda: beam.Pipeline(argv=["--runner=FnApiRunner"]))
    example_gen_executor.Executor(context).Do(
        {}, {standard_component_specs.EXAMPLES_KEY: [examples]}, dict(component.exec_properties))
    with open(os.path.join(examples.uri, example_gen_executor.QUARANTINE_DIR, example_gen_executor.LEDGER_FILE),
              encoding="utf-8") as f:
        ledger = json.load(f)
    rows = list(examples_io.read_rows(examples_io.split_pattern(examples, configs.TRAIN_SPLIT)))
    return examples, ledger, rows


def _write(folder, lines, header=IMPRESSIONS_HEADER, name="impressions.csv"):
    with open(os.path.join(str(folder), name), "w", encoding="utf-8") as f:
        f.write("\n".join([header] + lines) + "\n")


def test_the_sample_traffic_is_read_whole_into_one_train_split(tmp_path, sample_data_dir):
    shutil.copy(os.path.join(sample_data_dir, "impressions.csv"), tmp_path)
    with open(os.path.join(sample_data_dir, "impressions.csv"), encoding="utf-8") as f:
        expected = {(r[features.QUERY_ID], r[features.PRODUCT_ID]): r for r in csv.DictReader(f)}
    examples, ledger, rows = _run_traffic_example_gen(tmp_path)
    assert ledger["rows_read"] == ledger["rows_kept"] == len(expected) == 224
    assert ledger["kept_per_split"] == {configs.TRAIN_SPLIT: 224}  # never split for eval
    assert {(r[features.QUERY_ID], r[features.PRODUCT_ID]): {k: r[k] for k in features.IMPRESSION_COLUMNS}
            for r in rows} == expected
    assert all(features.RELEVANCE not in r for r in rows)  # no grade is invented
    assert examples.get_int_custom_property(example_gen_executor.ROWS_KEPT_PROPERTY) == 224


def test_bad_impressions_are_quarantined_with_a_reason_and_counted(tmp_path):
    _write(tmp_path, ["t1,drill,p1,Cordless drill 18V", "t1,drill,p2,", "t2,,p3,Hammer",
                      "t1,drill,p1,Cordless drill 18V"] + [f"t{i},saw {i},p{i},Hand saw" for i in range(3, 80)])
    _, ledger, rows = _run_traffic_example_gen(tmp_path)
    assert ledger["rows_read"] == 81 and ledger["rows_kept"] == 78 and ledger["rows_quarantined"] == 3
    assert {k: v for k, v in ledger["quarantined_per_reason"].items() if v} == {"empty_value": 2, "duplicate": 1}
    assert len(rows) == 78


def test_impressions_with_a_grade_column_are_refused_naming_the_columns(tmp_path):
    _write(tmp_path, ["t1,drill,p1,Cordless drill,3.0"], header=",".join(features.RAW_COLUMNS))
    with pytest.raises(InvalidSearchLogError, match=r"impressions.csv, line 1 .*unexpected columns \['relevance'\]"):
        _run_traffic_example_gen(tmp_path)


def test_the_pipeline_reads_traffic_only_where_the_data_has_it(tmp_path, sample_data_dir):
    without = tmp_path / "without"
    without.mkdir()
    for name in ("search_log.csv", "catalog.csv"):
        shutil.copy(os.path.join(sample_data_dir, name), without)

    def ids(data_root, augmentation=configs.AUGMENTATION):
        built = pipeline.create_pipeline(data_root, str(tmp_path / "root"), str(tmp_path / "serving"),
                                         augmentation=augmentation)
        return {node.id for node in built.components}
    assert "TrafficExampleGen" in ids(sample_data_dir)
    assert "TrafficExampleGen" not in ids(str(without))
    assert "TrafficExampleGen" not in ids(sample_data_dir, configs.dataclasses.replace(
        configs.AUGMENTATION, traffic=False))
    assert "TrafficExampleGen" not in ids(sample_data_dir, configs.NO_AUGMENTATION)


# --- the filtering rules on traffic rows ----------------------------------------------------------------

def _traffic(query_id, query, product_id, title, score, eval_similarity=0.1):
    return _candidate(query_id, query, product_id, title, score, origin=features.ORIGIN_TRAFFIC,
                      method="impression", eval_similarity=eval_similarity)


def test_traffic_skips_the_confidence_band_and_the_caps_but_not_the_guards():
    rows = [_traffic("t1", "trail shoes", f"p{i}", f"shoe {i}", 0.5) for i in range(2, 6)]  # unsure, > caps
    rows += [_traffic("t2", "Sneakers", "p2", "shoe 2", 0.9),  # eval_query
             _traffic("t3", "sneaker shoes", "p2", "shoe 2", 0.9, eval_similarity=0.97),  # eval_near_duplicate
             _traffic("t4", "running shoes", "p1", "running shoes", 0.9),  # duplicate_of_labelled
             _traffic("t5", "", "p7", "x", 0.9)]  # invalid_text
    outcome = filtering.select(rows, LABELLED, ["sneakers"], SETTINGS, normalise)
    assert _reasons(outcome) == {("t2", "p2"): "eval_query", ("t3", "p2"): "eval_near_duplicate",
                                 ("t4", "p1"): "duplicate_of_labelled", ("t5", "p7"): "invalid_text"}
    # All four unsure pairs of t1 are kept, above max_per_query (2) and with p2 above max_per_product.
    assert sorted(r[features.PRODUCT_ID] for r in outcome.kept) == ["p2", "p3", "p4", "p5"]
    assert {r[features.ORIGIN] for r in outcome.kept} == {features.ORIGIN_TRAFFIC}
    assert {r[features.WEIGHT] for r in outcome.kept} == {SETTINGS.weight_traffic}
    assert len(outcome.kept) + len(outcome.rejected) == len(rows)
    # Caps still count retrieved rows only: traffic takes none of a retrieved candidate's room.
    retrieved = [_candidate("q8", "trail shoes", f"p{i}", f"shoe {i}", 0.95) for i in (8, 9)]
    both = filtering.select(rows + retrieved, LABELLED, ["sneakers"], SETTINGS, normalise)
    assert {("q8", "p8"), ("q8", "p9")} <= {(r[features.QUERY_ID], r[features.PRODUCT_ID]) for r in both.kept}


def test_the_accounting_check_is_an_error_not_an_assert(monkeypatch):
    class LeakyOutcome(filtering.Outcome):  # loses what is kept: the bug the check is there to catch
        def __init__(self, kept, rejected):
            super().__init__(kept=_Leaky(), rejected=rejected)
    monkeypatch.setattr(filtering, "Outcome", LeakyOutcome)
    with pytest.raises(RuntimeError, match="accounting: 1 candidates in, 0 kept"):
        filtering.select([_traffic("t1", "drill", "p1", "drill", 0.9)], [], [], SETTINGS, normalise)


class _Leaky(list):
    def append(self, item):
        pass


# --- the executor with a traffic input ------------------------------------------------------------------

def test_executor_grades_every_impression_and_accounts_for_it(tmp_path):
    traffic = [{**_raw("t1", "running shoes", "p6", "trail running shoes", 0.0)},  # teacher 1.0: kept
               {**_raw("t2", "steel pot", "p5", "steel frying pan", 0.0)},  # teacher 0.5: kept (traffic)
               {**_raw("t3", "white t-shirt", "p3", "white t-shirt cotton", 0.0)},  # an eval query
               {**_raw("t4", "running shoes", "p1", "running shoes for men", 0.0)}]  # labelled pair
    for row in traffic:
        del row[features.RELEVANCE]  # impressions have no grade
    train, evaluation, report = run_labeling(tmp_path, traffic=traffic)
    by_key = {(r[features.QUERY_ID], r[features.PRODUCT_ID]): r for r in train}
    assert by_key[("t1", "p6")][features.ORIGIN] == features.ORIGIN_TRAFFIC
    assert by_key[("t1", "p6")][features.RELEVANCE] == pytest.approx(features.RELEVANCE_MAX, abs=1e-3)
    assert by_key[("t2", "p5")][features.RELEVANCE] == pytest.approx(features.RELEVANCE_MAX / 2, abs=1e-3)
    assert by_key[("t2", "p5")][features.WEIGHT] == SETTINGS.weight_traffic
    assert ("t3", "p3") not in by_key and ("t4", "p1") not in by_key
    document = report_lib.read_report(report)
    # The four candidates of run_labeling (two kept) and the four impressions (two kept).
    assert document["candidates_in"] == 8 and document["kept"] == 4
    assert document["rejected_by_reason"] == {"low_confidence": 1, "eval_query": 2, "duplicate_of_labelled": 1}
    assert document["kept"] + document["rejected"] == document["candidates_in"]
    assert [r[features.QUERY_ID] for r in evaluation] == ["q9"]
