"""SearchLogExampleGen's executor on real Examples artifacts, one tiny CSV per bad-input case.

Each test writes CSV files into a temp folder, runs `Executor.Do` as the pipeline would (FileBasedExampleGen's
exec properties, the pipeline's output config), and checks either the error message (file, line, column,
rule) or the quarantined rows and the ledger.
"""
import glob
import json
import os
import random
import shutil

import apache_beam as beam
import pytest
import tensorflow as tf
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.search_log_example_gen import component, executor, rules
from components.search_log_example_gen.rules import InvalidSearchLogError
from models import features
from pipeline import configs
from pipeline.pipeline import example_gen_output_config

HEADER = ",".join(features.RAW_COLUMNS)
GOOD = ["q1,running shoes,p1,Stride Lite running shoes,3.0",
        "q1,running shoes,p2,Bamboo shoe shelf,0.0",
        "q2,保温杯,p3,不锈钢保温杯 500ml,2.0",
        "q3,laptop bag,p4,Canvas laptop bag 15 inch,1.0"]


def _write(folder, name, lines, header=HEADER):
    """A CSV file from raw lines (str joined with newlines, or bytes as they are)."""
    path = os.path.join(str(folder), name)
    data = lines if isinstance(lines, bytes) else "\n".join([header] + list(lines)).encode("utf-8") + b"\n"
    with open(path, "wb") as f:
        f.write(data)
    return path


def _run(folder, pattern="search_log*.csv", max_quarantine_fraction=1.0, max_text_chars=None, grade_scale=None):
    """Runs the executor on the files of `folder`; returns (Examples artifact, ledger, quarantined rows)."""
    examples = standard_artifacts.Examples()
    examples.uri = os.path.join(str(folder), "examples")
    exec_properties = {
        standard_component_specs.INPUT_BASE_KEY: str(folder),
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="search_log", pattern=pattern)])),
        standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(example_gen_output_config()),
        executor.MAX_QUARANTINE_FRACTION_KEY: max_quarantine_fraction,
        executor.MAX_TEXT_CHARS_KEY: max_text_chars,
        executor.GRADE_SCALE_KEY: grade_scale,
    }
    # FnApiRunner, as pipeline/runners.py uses (DirectRunner would try to download Prism first).
    context = base_beam_executor.BaseBeamExecutor.Context(
        make_beam_pipeline_fn=lambda: beam.Pipeline(argv=["--runner=FnApiRunner"]))
    executor.Executor(context).Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties)
    return examples, _ledger(examples), _quarantined(examples)


def _ledger(examples):
    with open(os.path.join(examples.uri, executor.QUARANTINE_DIR, executor.LEDGER_FILE), encoding="utf-8") as f:
        ledger = json.load(f)
    assert ledger["rows_read"] == ledger["rows_kept"] + ledger["rows_quarantined"]
    assert ledger["rows_kept"] == sum(ledger["kept_per_split"].values())
    return ledger


def _quarantined(examples):
    with open(os.path.join(examples.uri, executor.QUARANTINE_DIR, executor.QUARANTINE_FILE),
              encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _examples(examples, split):
    """The tf.Examples of one split as dicts {feature: first value}, decoded."""
    files = glob.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*.gz"))
    rows = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
        feature = tf.train.Example.FromString(record).features.feature
        row = {name: feature[name].bytes_list.value[0].decode("utf-8") for name in features.RAW_COLUMNS
               if name != features.RELEVANCE}
        row[features.RELEVANCE] = feature[features.RELEVANCE].float_list.value[0]
        rows.append(row)
    return rows


def _all_examples(examples):
    return [row for split in configs.SPLIT_BUCKETS for row in _examples(examples, split)]


def _reasons(quarantined):
    return [(row["reason"], row["line"], row["column"]) for row in quarantined]


# The bundled sample: everything kept, split as the pipeline splits it.

@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, sample_data_dir):
    folder = tmp_path_factory.mktemp("sample")
    shutil.copy(os.path.join(sample_data_dir, "search_log.csv"), str(folder))
    return _run(folder, max_quarantine_fraction=rules.DEFAULT_MAX_QUARANTINE_FRACTION)


def test_clean_sample_keeps_all_888_rows(sample_run):
    examples, ledger, quarantined = sample_run
    assert ledger["rows_read"] == ledger["rows_kept"] == 888 and ledger["rows_quarantined"] == 0
    assert quarantined == []
    assert ledger["kept_per_split"] == {"train": 711, "eval": 177}  # 78 and 20 queries
    assert examples.get_int_custom_property(executor.ROWS_KEPT_PROPERTY) == 888
    assert examples.get_int_custom_property(executor.ROWS_QUARANTINED_PROPERTY) == 0
    assert artifact_utils.decode_split_names(examples.split_names) == list(configs.SPLIT_BUCKETS)


def test_no_query_id_in_both_splits(sample_run):
    examples = sample_run[0]
    train, eval_ = (_examples(examples, split) for split in configs.SPLIT_BUCKETS)
    assert len(train) + len(eval_) == 888
    assert not {r[features.QUERY_ID] for r in train} & {r[features.QUERY_ID] for r in eval_}


# FAIL rules: the error names the file, the line, the column and the rule.

def test_missing_and_unexpected_header_columns_fail_naming_them(tmp_path):
    path = _write(tmp_path, "search_log.csv", ["q1,shoes,p1,Shoes,3.0"],
                  header="query_id,query,product_id,title,relevance")
    with pytest.raises(InvalidSearchLogError) as error:
        _run(tmp_path)
    message = str(error.value)
    assert f"{path}, line 1 (header): rule 'header'" in message
    assert "missing columns ['product_title']" in message and "unexpected columns ['title']" in message


def test_extra_header_column_fails(tmp_path):
    _write(tmp_path, "search_log_a.csv", GOOD)
    path = _write(tmp_path, "search_log_b.csv", [g + ",x" for g in GOOD], header=HEADER + ",grade")
    with pytest.raises(InvalidSearchLogError, match=rf"{path}, line 1 \(header\).*unexpected columns \['grade'\]"):
        _run(tmp_path)


def test_non_utf8_byte_fails_naming_line_byte_offset_and_column(tmp_path):
    good = "\n".join([HEADER] + GOOD).encode("utf-8") + b"\n"
    data = good + "q9,caf\xe9 mug,p9,Mug,1.0\n".encode("latin-1")  # a Latin-1 export
    path = _write(tmp_path, "search_log.csv", data)
    with pytest.raises(InvalidSearchLogError) as error:
        _run(tmp_path)
    assert (f"{path}, line 6, column 'query', byte offset {len(good) + len('q9,caf')}: rule 'encoding': "
            "not valid UTF-8 (byte e9") in str(error.value)


def test_excel_style_bom_and_crlf_are_accepted(tmp_path):
    _write(tmp_path, "search_log.csv", b"\xef\xbb\xbf" + "\r\n".join([HEADER] + GOOD).encode("utf-8") + b"\r\n")
    examples, ledger, _ = _run(tmp_path)
    assert ledger["rows_kept"] == len(GOOD)
    assert {r[features.PRODUCT_TITLE] for r in _all_examples(examples)} == {g.split(",")[3] for g in GOOD}


def test_header_only_file_fails(tmp_path):
    _write(tmp_path, "search_log.csv", [])
    with pytest.raises(InvalidSearchLogError, match=r"rule 'no_input': no row kept out of 0 read"):
        _run(tmp_path)


def test_quote_never_closed_fails_naming_line_and_column(tmp_path):
    path = _write(tmp_path, "search_log.csv", GOOD[:2] + ['q2,mug,p3,"Travel mug, 500ml,2.0'] + GOOD[3:])
    with pytest.raises(InvalidSearchLogError, match=rf"{path}, line 4, column 'product_title': "
                                                    "rule 'unterminated_quote'"):
        _run(tmp_path)


def test_no_matching_file_fails(tmp_path):
    with pytest.raises(InvalidSearchLogError, match=r"search_log\*\.csv: rule 'no_input'"):
        _run(tmp_path)


def test_more_quarantined_than_the_threshold_fails_with_a_summary(tmp_path):
    rows = [f"q{i},query {i},p{i},Title {i},1.0" for i in range(18)] + ["q90,,p90,Title,1.0", "q91,x,p91,T,9.0"]
    _write(tmp_path, "search_log.csv", rows)
    with pytest.raises(InvalidSearchLogError) as error:
        _run(tmp_path, max_quarantine_fraction=0.05)
    assert ("rule 'quarantine_threshold': 2 of 20 rows quarantined (10.0%, limit 5.0%): empty_value 1, "
            "relevance_out_of_range 1; see ") in str(error.value)
    # The ledger and the quarantined rows are written before the run fails, for the diagnosis.
    examples_dir = os.path.join(str(tmp_path), "examples")
    assert os.path.isfile(os.path.join(examples_dir, executor.QUARANTINE_DIR, executor.QUARANTINE_FILE))


def test_quarantined_fraction_at_the_threshold_passes(tmp_path):
    rows = [f"q{i},query {i},p{i},Title {i},1.0" for i in range(19)] + ["q90,,p90,Title,1.0"]
    _write(tmp_path, "search_log.csv", rows)
    _, ledger, _ = _run(tmp_path, max_quarantine_fraction=0.05)
    assert (ledger["rows_kept"], ledger["rows_quarantined"]) == (19, 1)


# QUARANTINE rules: the row goes to rows.jsonl with its reason, file and line; the ledger counts it.

def test_wrong_field_count_is_quarantined(tmp_path):
    path = _write(tmp_path, "search_log.csv", GOOD[:2] + ["q2,mug,p3,Travel mug,500ml,2.0", "q3,bag,p4"]
                  + GOOD[3:])
    _, ledger, quarantined = _run(tmp_path)
    assert _reasons(quarantined) == [("field_count", 4, None), ("field_count", 5, None)]
    assert quarantined[0]["file"] == path and quarantined[0]["fields"][4] == "500ml"
    assert quarantined[0]["detail"] == "5 fields expected, found 6"
    assert ledger["quarantined_per_reason"]["field_count"] == 2
    assert ledger["files"][path] == {"rows_read": 5, "rows_kept": 3, "rows_quarantined": 2, "blank_lines": 0}


def test_text_after_a_closing_quote_or_a_nul_byte_is_quarantined(tmp_path):
    _write(tmp_path, "search_log.csv", GOOD + ['q5,mug,p5,"Travel mug" 500ml,2.0', "q6,mug,p6,Mug\x00\x00,1.0"])
    _, ledger, quarantined = _run(tmp_path)
    assert _reasons(quarantined) == [("csv_syntax", 6, None), ("csv_syntax", 7, "product_title")]
    assert ledger["rows_kept"] == len(GOOD)


def test_empty_query_or_title_is_quarantined(tmp_path):
    _write(tmp_path, "search_log.csv", GOOD + ["q5,,p5,Travel mug,2.0", "q6,mug,p6,   ,1.0", "q7,mug,p7,,1.0"])
    _, ledger, quarantined = _run(tmp_path)
    assert _reasons(quarantined) == [("empty_value", 6, "query"), ("empty_value", 7, "product_title"),
                                     ("empty_value", 8, "product_title")]
    assert quarantined[0]["row"][features.PRODUCT_TITLE] == "Travel mug"
    assert ledger["quarantined_per_reason"]["empty_value"] == 3 and ledger["rows_kept"] == len(GOOD)


def test_relevance_not_a_number_or_off_the_scale_is_quarantined(tmp_path):
    _write(tmp_path, "search_log.csv", GOOD + [
        "q5,mug,p5,Mug,high", "q5,mug,p6,Mug,nan", "q5,mug,p7,Mug,4.5", "q5,mug,p8,Mug,-1",
        "q5,mug,p9,Mug,3", "q5,mug,p10,Mug,2.5", "q5,mug,p11,Mug,", "q5,mug,p12,Mug,inf"])
    examples, ledger, quarantined = _run(tmp_path)
    assert _reasons(quarantined) == [
        ("relevance_not_a_number", 6, "relevance"), ("relevance_not_a_number", 7, "relevance"),
        ("relevance_out_of_range", 8, "relevance"), ("relevance_out_of_range", 9, "relevance"),
        ("empty_value", 12, "relevance"), ("relevance_not_a_number", 13, "relevance")]
    assert quarantined[2]["detail"] == f"'4.5' is outside [{features.RELEVANCE_MIN}, {features.RELEVANCE_MAX}]"
    assert ledger["quarantined_per_reason"]["relevance_not_a_number"] == 3
    kept = {r[features.PRODUCT_ID]: r[features.RELEVANCE] for r in _all_examples(examples)}
    assert kept["p9"] == 3.0 and kept["p10"] == 2.5  # integers and fractional grades are fine


def test_grades_on_a_declared_scale_are_checked_against_it_and_mapped_onto_the_pipelines(tmp_path):
    # Home Depot's means of raters' grades, 1..3: 1 is irrelevant (0 on the pipeline's scale), 3 exact (3).
    _write(tmp_path, "search_log.csv", [
        "q1,drill,p1,Cordless drill,3", "q1,drill,p2,Hammer,1", "q1,drill,p3,Drill bits,2.33",
        "q2,saw,p4,Hand saw,0", "q2,saw,p5,Saw blade,3.5", "q2,saw,p6,Mitre saw,2"])
    examples, ledger, quarantined = _run(tmp_path, grade_scale="1:3")
    assert _reasons(quarantined) == [("relevance_out_of_range", 5, "relevance"),
                                     ("relevance_out_of_range", 6, "relevance")]
    assert quarantined[0]["detail"] == "'0' is outside [1.0, 3.0]"
    assert quarantined[0]["row"][features.RELEVANCE] == "0"  # the quarantine keeps the row as written
    kept = {r[features.PRODUCT_ID]: r[features.RELEVANCE] for r in _all_examples(examples)}
    assert kept == pytest.approx({"p1": 3.0, "p2": 0.0, "p3": 1.995, "p6": 1.5})
    assert ledger["grade_scale"] == "1:3" and ledger["rows_kept"] == 4


def test_binary_clicks_become_the_two_ends_of_the_scale(tmp_path):
    _write(tmp_path, "search_log.csv", ["q1,drill,p1,Cordless drill,1", "q1,drill,p2,Hammer,0",
                                        "q1,drill,p3,Drill bits,2"])
    examples, ledger, quarantined = _run(tmp_path, grade_scale="0:1")
    assert _reasons(quarantined) == [("relevance_out_of_range", 4, "relevance")]
    kept = {r[features.PRODUCT_ID]: r[features.RELEVANCE] for r in _all_examples(examples)}
    assert kept == {"p1": features.RELEVANCE_MAX, "p2": features.RELEVANCE_MIN}


def test_without_a_scale_the_grades_are_the_pipelines_own(tmp_path):
    _write(tmp_path, "search_log.csv", GOOD)
    examples, ledger, _ = _run(tmp_path)
    assert ledger["grade_scale"] == str(features.PIPELINE_SCALE) == "0:3"
    assert sorted(r[features.RELEVANCE] for r in _all_examples(examples)) == [0.0, 1.0, 2.0, 3.0]


def test_a_bad_grade_scale_is_refused_when_the_component_is_built(tmp_path):
    gen = component.SearchLogExampleGen(input_base=str(tmp_path), grade_scale=features.GradeScale(1, 5))
    assert gen.exec_properties[executor.GRADE_SCALE_KEY] == "1:5"
    for bad in ("3:1", "1-3", "a:b", "1:1", "0:inf"):
        with pytest.raises(ValueError, match="grade scale"):
            component.SearchLogExampleGen(input_base=str(tmp_path), grade_scale=bad)


def test_duplicates_keep_the_first_by_file_and_line(tmp_path):
    a = _write(tmp_path, "search_log_a.csv", GOOD + ["q1,running shoes,p1,Stride Lite running shoes,3.0"])
    b = _write(tmp_path, "search_log_b.csv", ["q1,running shoes,p1,Stride Lite running shoes,1.0",
                                              "q9,mug,p9,Mug,1.0"])
    examples, ledger, quarantined = _run(tmp_path)
    assert [(r["file"], r["line"], r["reason"]) for r in quarantined] == [(a, 6, "duplicate"), (b, 2, "duplicate")]
    assert f"already kept from {a}, line 2; an exact copy" in quarantined[0]["detail"]
    assert "differing values" in quarantined[1]["detail"]
    kept = [r for r in _all_examples(examples) if (r[features.QUERY_ID], r[features.PRODUCT_ID]) == ("q1", "p1")]
    assert [r[features.RELEVANCE] for r in kept] == [3.0]
    assert ledger["quarantined_per_reason"]["duplicate"] == 2
    assert ledger["files"][b] == {"rows_read": 2, "rows_kept": 1, "rows_quarantined": 1, "blank_lines": 0}


def test_duplicate_resolution_does_not_depend_on_row_order():
    rows = [{"file": f, "line": n, "values": {features.QUERY: "mug", features.PRODUCT_ID: "p1", "n": n}}
            for f in ("a.csv", "b.csv") for n in (2, 3, 10)]
    outcomes = set()
    for seed in range(5):
        shuffled = list(rows)
        random.Random(seed).shuffle(shuffled)
        kept, quarantined = rules.resolve_query(shuffled)
        outcomes.add((tuple((r["file"], r["line"]) for r in kept),
                      tuple((r["file"], r["line"]) for r, *_ in quarantined)))
    assert outcomes == {((("a.csv", 2),), (("a.csv", 3), ("a.csv", 10), ("b.csv", 2), ("b.csv", 3),
                                           ("b.csv", 10)))}


def test_a_query_id_in_two_files_lands_in_one_split(tmp_path):
    # Data that arrives pre-split (a train and an eval file) with each query in both: the files are one input
    # split and the output splits are by hash of the query text, so every query lands wholly in one split.
    queries = range(40)
    _write(tmp_path, "search_log_train.csv", [f"q{i},query {i},p{i}a,Title {i} a,3.0" for i in queries])
    _write(tmp_path, "search_log_eval.csv", [f"q{i},query {i},p{i}b,Title {i} b,0.0" for i in queries])
    examples, ledger, quarantined = _run(tmp_path)
    assert quarantined == [] and ledger["rows_kept"] == 80
    splits_of = {}
    for split in configs.SPLIT_BUCKETS:
        for row in _examples(examples, split):
            splits_of.setdefault(row[features.QUERY_ID], []).append(split)
    assert len(splits_of) == 40 and all(splits == [splits[0]] * 2 for splits in splits_of.values())
    assert all(ledger["kept_per_split"].values())  # both splits are used


def test_a_query_text_under_two_query_ids_lands_in_one_split(tmp_path):
    # Two logs that number their queries apart: 40 texts, each under two query ids. Hashed by query_id, some
    # pair would straddle train and eval (each does with probability 3/8), and the eval query would train.
    rows = [f"{log}-{i},query {i},p{i}{log},Title {i} {log},{grade}"
            for i in range(40) for log, grade in (("web", 3.0), ("app", 0.0))]
    rows += ["web-0,query 0,p0web,Title 0 web,3.0", "web-90,,p90,Title 90,1.0"]  # a duplicate, an empty query
    _write(tmp_path, "search_log.csv", rows)
    examples, _, quarantined = _run(tmp_path)
    train, eval_ = (_examples(examples, split) for split in configs.SPLIT_BUCKETS)
    assert len(train) + len(eval_) + len(quarantined) == len(rows) and len(quarantined) == 2
    assert train and eval_
    assert not {r[features.QUERY] for r in train} & {r[features.QUERY] for r in eval_}


def test_query_id_with_two_texts_quarantines_all_its_rows(tmp_path):
    _write(tmp_path, "search_log.csv", GOOD + ["q2,thermos,p5,Steel thermos,3.0"])
    _, ledger, quarantined = _run(tmp_path)
    assert _reasons(quarantined) == [("query_id_conflict", 4, "query"), ("query_id_conflict", 6, "query")]
    assert quarantined[0]["detail"] == "2 query texts for one query_id: ['thermos', '保温杯']"
    assert ledger["quarantined_per_reason"]["query_id_conflict"] == 2 and ledger["rows_kept"] == 3


# Rows that are kept.

def test_very_long_title_is_truncated_and_counted(tmp_path):
    _write(tmp_path, "search_log.csv", GOOD + ["q5,mug,p5," + "Travel mug " * 1000 + ",2.0"])
    examples, ledger, quarantined = _run(tmp_path, max_text_chars=200)
    assert quarantined == []
    assert ledger["truncated_per_column"] == {"query": 0, "product_title": 1}
    title = {r[features.PRODUCT_ID]: r[features.PRODUCT_TITLE] for r in _all_examples(examples)}["p5"]
    assert title == ("Travel mug " * 1000)[:200]


def test_ids_that_differ_only_by_surrounding_spaces_are_one_id(tmp_path):
    _write(tmp_path, "search_log.csv", GOOD + ['"q1 ",running shoes," p1",Stride Lite running shoes,0.0'])
    examples, ledger, quarantined = _run(tmp_path)
    # The conflicting grade for (q1, p1) is a duplicate, not a new pair of ids.
    assert _reasons(quarantined) == [("duplicate", 6, "product_id")]
    assert {(r[features.QUERY_ID], r[features.PRODUCT_ID]) for r in _all_examples(examples)} == {
        ("q1", "p1"), ("q1", "p2"), ("q2", "p3"), ("q3", "p4")}


def test_a_one_megabyte_title_is_cut_and_kept_not_quarantined(tmp_path):
    # Above Python csv's default field limit (131,072 characters), which made it a csv_syntax row.
    title = "Insulated travel mug " * 50_000  # 1.05 million characters
    _write(tmp_path, "search_log.csv", GOOD + [f"q5,mug,p5,{title},2.0"])
    examples, ledger, quarantined = _run(tmp_path)
    assert quarantined == [] and ledger["truncated_per_column"]["product_title"] == 1
    kept = {r[features.PRODUCT_ID]: r[features.PRODUCT_TITLE] for r in _all_examples(examples)}
    assert kept["p5"] == title[:rules.DEFAULT_MAX_TEXT_CHARS]


def test_mixed_scripts_multiline_titles_and_blank_lines_pass(tmp_path):
    path = _write(tmp_path, "search_log.csv", GOOD + ["", "q5,iphone 15 手机壳,p5,Lumora X5 手机壳 透明,3.0",
                                                      'q5,iphone 15 手机壳,p6,"Phone case,\nclear",2.0', ""])
    examples, ledger, quarantined = _run(tmp_path)
    assert quarantined == [] and ledger["files"][path]["blank_lines"] == 2
    kept = {r[features.PRODUCT_ID]: r for r in _all_examples(examples)}
    assert kept["p5"][features.QUERY] == "iphone 15 手机壳"
    assert kept["p5"][features.PRODUCT_TITLE] == "Lumora X5 手机壳 透明"
    assert kept["p6"][features.PRODUCT_TITLE] == "Phone case,\nclear"


def test_columns_in_any_order(tmp_path):
    _write(tmp_path, "search_log.csv", ["3.0,Stride Lite running shoes,p1,running shoes,q1"],
           header=",".join(reversed(features.RAW_COLUMNS)))
    examples, _, _ = _run(tmp_path)
    assert _all_examples(examples) == [{"query_id": "q1", "query": "running shoes", "product_id": "p1",
                                        "product_title": "Stride Lite running shoes", "relevance": 3.0}]


# The component.

def test_component_is_a_file_based_example_gen_with_the_two_knobs(tmp_path):
    from tfx.components.example_gen.component import FileBasedExampleGen
    gen = component.SearchLogExampleGen(input_base=str(tmp_path), max_quarantine_fraction=0.1)
    assert isinstance(gen, FileBasedExampleGen)  # Kubeflow V2 gives it ExampleGen's driver
    assert gen.exec_properties[executor.MAX_QUARANTINE_FRACTION_KEY] == 0.1
    assert gen.exec_properties[executor.MAX_TEXT_CHARS_KEY] == rules.DEFAULT_MAX_TEXT_CHARS
    assert gen.executor_spec.executor_class is executor.Executor
    assert gen.outputs["examples"].type_name == "Examples"
    with pytest.raises(ValueError, match="max_quarantine_fraction"):
        component.SearchLogExampleGen(input_base=str(tmp_path), max_quarantine_fraction=5)
