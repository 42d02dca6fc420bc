"""Executor of SearchLogExampleGen: reads the search-log CSVs, applies the rule table, writes the quarantine.

Stock ExampleGen does the rest: the base executor partitions the kept rows into the output splits (by hash
of the partition feature, see pipeline.example_gen_output_config) and writes them as GZIP TFRecords of
tf.Examples. Beside the splits, `<examples uri>/quarantine/` receives `rows.jsonl` (one quarantined row per
line, with file, line, reason, column and detail) and `ledger.json` (rows read per file, kept per split,
quarantined per reason). After the Beam pipeline, `Do` checks that the ledger adds up, logs it and fails the
run on a FAIL rule.
"""
import json
import os
from typing import Any, Dict, Iterable, List, Optional

import apache_beam as beam
import tensorflow as tf
from absl import logging
from apache_beam.io.filesystems import FileSystems
from tfx import types
from tfx.components.example_gen import base_example_gen_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs

from components.search_log_example_gen import reader, rules
from models import features

# Execution parameters (the component's spec; defaults in rules.py when absent).
MAX_QUARANTINE_FRACTION_KEY = "max_quarantine_fraction"
MAX_TEXT_CHARS_KEY = "max_text_chars"
# What the files hold (rules.KINDS): judgements (default), impressions (the search traffic) or the catalogue.
INPUT_KIND_KEY = "input_kind"
# The judgements' grade scale, "LOWEST:HIGHEST" (models/features.GradeScale; default rules.DEFAULT_GRADE_SCALE).
GRADE_SCALE_KEY = "grade_scale"

# What the executor writes into the Examples artifact's folder, beside the Split-* folders.
QUARANTINE_DIR = "quarantine"
QUARANTINE_FILE = "rows.jsonl"
LEDGER_FILE = "ledger.json"

# Custom properties of the Examples artifact (so MLMD shows the counts without opening the ledger).
ROWS_READ_PROPERTY, ROWS_KEPT_PROPERTY = "rows_read", "rows_kept"
ROWS_QUARANTINED_PROPERTY, QUARANTINE_URI_PROPERTY = "rows_quarantined", "quarantine_uri"

# Keys of the tally, a PCollection of ((kind, name), count) summed into the ledger.
_READ, _BLANK, _KEPT_IN_FILE, _QUARANTINED_IN_FILE = "read", "blank", "kept_in_file", "quarantined_in_file"
_REASON, _TRUNCATED, _KEPT_IN_SPLIT, _FATAL = "reason", "truncated", "kept_in_split", "fatal"
_VALID, _QUARANTINED, _TALLY = "valid", "quarantined", "tally"


def max_quarantine_fraction(exec_properties: Dict[str, Any]) -> float:
    value = exec_properties.get(MAX_QUARANTINE_FRACTION_KEY)
    value = rules.DEFAULT_MAX_QUARANTINE_FRACTION if value is None else float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{MAX_QUARANTINE_FRACTION_KEY} must be within [0, 1], got {value}")
    return value


def max_text_chars(exec_properties: Dict[str, Any]) -> int:
    value = exec_properties.get(MAX_TEXT_CHARS_KEY)
    value = rules.DEFAULT_MAX_TEXT_CHARS if value is None else int(value)
    if value < 1:
        raise ValueError(f"{MAX_TEXT_CHARS_KEY} must be at least 1, got {value}")
    return value


def input_kind(exec_properties: Dict[str, Any]) -> str:
    kind = exec_properties.get(INPUT_KIND_KEY) or rules.JUDGEMENTS
    rules.columns_of(kind)  # refuses an unknown kind
    return kind


def grade_scale(exec_properties: Dict[str, Any]) -> features.GradeScale:
    value = exec_properties.get(GRADE_SCALE_KEY)
    return features.GradeScale.parse(value) if value else rules.DEFAULT_GRADE_SCALE


def quarantine_record(record: reader.Record, path: str, reason: str, column, detail: str,
                      header: List[str]) -> Dict[str, Any]:
    """One line of rows.jsonl: where the row is, why it is out, and its raw values."""
    result = {"file": path, "line": record.line, "last_line": record.last_line, "reason": reason,
              "column": column, "detail": detail}
    if record.fields is not None and len(record.fields) == len(header):
        result["row"] = dict(zip(header, record.fields))
    else:
        result["fields"] = record.fields
    return result


def to_example(values: Dict[str, str], scale: features.GradeScale = rules.DEFAULT_GRADE_SCALE
               ) -> tf.train.Example:
    """A valid row as a tf.Example: text columns as bytes, relevance (where the row has one) as a float on the
    pipeline's scale (mapped from `scale`, the file's)."""
    feature = {name: tf.train.Feature(bytes_list=tf.train.BytesList(value=[values[name].encode("utf-8")]))
               for name in features.IMPRESSION_COLUMNS if name in values}
    if features.RELEVANCE in values:
        grade, _ = rules.parse_relevance(values[features.RELEVANCE], scale)
        feature[features.RELEVANCE] = tf.train.Feature(float_list=tf.train.FloatList(
            value=[scale.to_pipeline(grade)]))
    return tf.train.Example(features=tf.train.Features(feature=feature))


class _ReadRows(beam.DoFn):
    """Reads one CSV file: valid rows (main output), quarantined rows and the tally (tagged outputs)."""

    def __init__(self, headers: Dict[str, List[str]], max_chars: int, columns=rules.REQUIRED_COLUMNS,
                 scale: features.GradeScale = rules.DEFAULT_GRADE_SCALE):
        self._headers, self._max_chars, self._columns, self._scale = headers, max_chars, tuple(columns), scale

    def process(self, path: str):
        header = self._headers[path]
        read = blank = 0
        try:
            with FileSystems.open(path) as binary:
                for record in reader.read_records(path, binary, header):
                    if record.fields == []:  # a blank line
                        blank += 1
                        continue
                    read += 1
                    if record.fields is None:
                        problem, values = (rules.CSV_SYNTAX, None, record.error), None
                    else:
                        problem, values = rules.check_row(header, record.fields, self._columns, self._scale)
                    if problem:
                        yield beam.pvalue.TaggedOutput(_QUARANTINED,
                                                       quarantine_record(record, path, *problem, header))
                        continue
                    values, cut = rules.truncate(values, self._max_chars)
                    yield {"file": path, "line": record.line, "last_line": record.last_line, "values": values,
                           "truncated": cut}
        except rules.InvalidSearchLogError as error:
            yield beam.pvalue.TaggedOutput(_TALLY, ((_FATAL, str(error)), 1))
        yield beam.pvalue.TaggedOutput(_TALLY, ((_READ, path), read))
        yield beam.pvalue.TaggedOutput(_TALLY, ((_BLANK, path), blank))


class _ResolveQuery(beam.DoFn):
    """The dataset rules on all valid rows of one key (rules.resolve; deterministic: sorted inside)."""

    def __init__(self, kind: str):
        self._kind = kind

    def process(self, keyed_rows):
        _, rows = keyed_rows
        kept, quarantined = rules.resolve(self._kind, list(rows))
        for row, reason, column, detail in quarantined:
            yield beam.pvalue.TaggedOutput(_QUARANTINED, {
                "file": row["file"], "line": row["line"], "last_line": row["last_line"], "reason": reason,
                "column": column, "detail": detail, "row": row["values"]})
        yield from kept


def _tally_quarantined(record: Dict[str, Any]) -> Iterable:
    yield (_REASON, record["reason"]), 1
    yield (_QUARANTINED_IN_FILE, record["file"]), 1


def _tally_kept(row: Dict[str, Any]) -> Iterable:
    yield (_KEPT_IN_FILE, row["file"]), 1
    for column in row["truncated"]:
        yield (_TRUNCATED, column), 1


class _SearchLogToExample(beam.PTransform):
    """Reads the CSV files of one input split pattern into tf.Examples of the rows kept.

    Also exposes `quarantined` (dicts, one per quarantined row) and `tally` (((kind, name), count) pairs),
    which the executor writes into the quarantine folder.
    """

    def __init__(self, exec_properties: Dict[str, Any], split_pattern: str):
        super().__init__()
        self._pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
        self._max_chars = max_text_chars(exec_properties)
        self._kind = input_kind(exec_properties)
        self._columns = rules.columns_of(self._kind)
        self._scale = grade_scale(exec_properties)
        self.files: List[str] = []
        self.quarantined = self.tally = None

    def expand(self, pipeline):
        self.files = sorted(fileio.glob(self._pattern))
        if not self.files:
            raise rules.InvalidSearchLogError(
                f"{self._pattern}: rule '{rules.NO_INPUT}': the split pattern matches no file")
        headers = {}
        for path in self.files:  # header and encoding of line 1: fail before any data is read
            with FileSystems.open(path) as binary:
                headers[path] = reader.read_header(path, binary)
            rules.check_header(path, headers[path], self._columns)

        rows = (pipeline
                | "ListFiles" >> beam.Create(self.files)
                | "ReadRows" >> beam.ParDo(
                    _ReadRows(headers, self._max_chars, self._columns, self._scale)).with_outputs(
                    _QUARANTINED, _TALLY, main=_VALID))
        resolved = (rows[_VALID]
                    | "KeyByQueryId" >> beam.Map(lambda row, key: (row["values"][key], row), rules.KEY_COLUMN[self._kind])
                    | "GroupByQueryId" >> beam.GroupByKey()
                    | "ResolveQueries" >> beam.ParDo(_ResolveQuery(self._kind)).with_outputs(_QUARANTINED, main=_VALID))
        kept = resolved[_VALID]
        self.quarantined = ((rows[_QUARANTINED], resolved[_QUARANTINED])
                            | "FlattenQuarantined" >> beam.Flatten())
        self.tally = ((rows[_TALLY],
                       self.quarantined | "TallyQuarantined" >> beam.FlatMap(_tally_quarantined),
                       kept | "TallyKept" >> beam.FlatMap(_tally_kept))
                      | "FlattenTally" >> beam.Flatten())
        return (kept
                | "ToTFExample" >> beam.Map(lambda row, scale: to_example(row["values"], scale), self._scale).with_output_types(
                    tf.train.Example))


def build_ledger(tally: List, files: List[str], split_names: List[str], max_fraction: float,
                 max_chars: int, scale: Optional[str] = None) -> Dict[str, Any]:
    """The ledger from the summed tally: counts per file, split, reason and truncated column."""
    counts: Dict[str, Dict[str, int]] = {}
    for (kind, name), count in tally:
        counts.setdefault(kind, {})[name] = count
    per_file = {path: {"rows_read": counts.get(_READ, {}).get(path, 0),
                       "rows_kept": counts.get(_KEPT_IN_FILE, {}).get(path, 0),
                       "rows_quarantined": counts.get(_QUARANTINED_IN_FILE, {}).get(path, 0),
                       "blank_lines": counts.get(_BLANK, {}).get(path, 0)} for path in files}
    read = sum(entry["rows_read"] for entry in per_file.values())
    quarantined = sum(entry["rows_quarantined"] for entry in per_file.values())
    return {
        "files": per_file,
        "rows_read": read,
        "rows_kept": sum(counts.get(_KEPT_IN_SPLIT, {}).values()),
        "rows_quarantined": quarantined,
        "kept_per_split": {name: counts.get(_KEPT_IN_SPLIT, {}).get(name, 0) for name in split_names},
        "quarantined_per_reason": {reason: counts.get(_REASON, {}).get(reason, 0)
                                   for reason in rules.ROW_REASONS},
        "truncated_per_column": {column: counts.get(_TRUNCATED, {}).get(column, 0)
                                 for column in rules.TEXT_COLUMNS},
        "quarantined_fraction": quarantined / read if read else 0.0,
        "max_quarantine_fraction": max_fraction,
        "max_text_chars": max_chars,
        # The judgements' grade scale, mapped onto the pipeline's (None: the input has no grades).
        "grade_scale": scale,
        "fatal_errors": sorted(counts.get(_FATAL, {})),
        "quarantine_file": QUARANTINE_FILE,
    }


def ledger_problems(ledger: Dict[str, Any]) -> List[str]:
    """Where the ledger does not add up (rows read = kept + quarantined, per file and in total)."""
    problems = []
    for path, entry in ledger["files"].items():
        if entry["rows_read"] != entry["rows_kept"] + entry["rows_quarantined"]:
            problems.append(f"{path}: {entry}")
    if ledger["rows_read"] != ledger["rows_kept"] + ledger["rows_quarantined"]:
        problems.append(f"total: read {ledger['rows_read']} != kept {ledger['rows_kept']} + quarantined "
                        f"{ledger['rows_quarantined']}")
    if sum(ledger["quarantined_per_reason"].values()) != ledger["rows_quarantined"]:
        problems.append(f"quarantined per reason {ledger['quarantined_per_reason']} != "
                        f"{ledger['rows_quarantined']}")
    return problems


def _counts(mapping: Dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in mapping.items() if count) or "none"


def _scale_line(scale: str) -> str:
    pipeline_scale = str(features.PIPELINE_SCALE)
    return (f"on {pipeline_scale}, the pipeline's scale" if scale == pipeline_scale
            else f"on {scale}, mapped linearly onto the pipeline's {pipeline_scale}")


def render_ledger(ledger: Dict[str, Any], report_dir: str, kind: str = rules.JUDGEMENTS) -> str:
    """The ledger as a small table for the log."""
    width = max([len("total")] + [len(path) for path in ledger["files"]])
    lines = [f"{rules.DESCRIPTION[kind].capitalize()} ledger ({os.path.join(report_dir, LEDGER_FILE)}):",
             f"  {'file':<{width}}  {'read':>7}  {'kept':>7}  {'quarantined':>11}  {'blank lines':>11}"]
    for path, entry in ledger["files"].items():
        lines.append(f"  {path:<{width}}  {entry['rows_read']:>7}  {entry['rows_kept']:>7}  "
                     f"{entry['rows_quarantined']:>11}  {entry['blank_lines']:>11}")
    lines += [
        f"  {'total':<{width}}  {ledger['rows_read']:>7}  {ledger['rows_kept']:>7}  {ledger['rows_quarantined']:>11}",
        f"  kept per split: {', '.join(f'{n} {c}' for n, c in ledger['kept_per_split'].items())}",
        *([f"  grades: {_scale_line(ledger['grade_scale'])}"] if ledger.get("grade_scale") else []),
        f"  quarantined per reason: {_counts(ledger['quarantined_per_reason'])}",
        f"  truncated to {ledger['max_text_chars']} characters (rows kept): "
        f"{_counts(ledger['truncated_per_column'])}",
        f"  quarantined {ledger['quarantined_fraction']:.1%} of the rows read (limit "
        f"{ledger['max_quarantine_fraction']:.1%}); rows: {os.path.join(report_dir, QUARANTINE_FILE)}",
    ]
    return "\n".join(lines)


def failures(ledger: Dict[str, Any], report_dir: str) -> List[str]:
    """The FAIL rules broken by the input as a whole (fatal file errors, no rows, too many quarantined)."""
    problems = list(ledger["fatal_errors"])
    if not problems and ledger["rows_kept"] == 0:
        problems.append(f"rule '{rules.NO_INPUT}': no row kept out of {ledger['rows_read']} read")
    if ledger["quarantined_fraction"] > ledger["max_quarantine_fraction"]:
        problems.append(
            f"rule '{rules.QUARANTINE_THRESHOLD}': {ledger['rows_quarantined']} of {ledger['rows_read']} rows "
            f"quarantined ({ledger['quarantined_fraction']:.1%}, limit {ledger['max_quarantine_fraction']:.1%}): "
            f"{_counts(ledger['quarantined_per_reason'])}; see {os.path.join(report_dir, QUARANTINE_FILE)}")
    return problems


def _write_json_lines(records: List[Dict[str, Any]], path: str) -> None:
    records = sorted(records, key=lambda r: (r["file"], r["line"], r["reason"]))
    with FileSystems.create(path) as f:
        for record in records:
            f.write((json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))


def _write_ledger(tally: List, path: str, **kwargs) -> None:
    with FileSystems.create(path) as f:
        f.write(json.dumps(build_ledger(tally, **kwargs), ensure_ascii=False, indent=2).encode("utf-8"))


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """ExampleGen executor for the search log: validates every row, keeps the valid, quarantines the rest."""

    def __init__(self, context=None):
        super().__init__(context)
        self._report_dir = None  # <examples uri>/quarantine, set by Do
        self._readers: List[_SearchLogToExample] = []  # one per input split pattern

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        """Returns a factory of _SearchLogToExample that remembers each transform for the report."""
        def make(exec_properties: Dict[str, Any], split_pattern: str) -> beam.PTransform:
            transform = _SearchLogToExample(exec_properties, split_pattern)
            self._readers.append(transform)
            return transform
        return make

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                               exec_properties: Dict[str, Any]) -> Dict[str, beam.pvalue.PCollection]:
        """The base executor's splits, plus the quarantine file and the ledger written to the report folder."""
        if self._report_dir is None:
            raise RuntimeError("GenerateExamplesByBeam runs inside Do, which names the quarantine folder")
        self._readers = []
        splits = super().GenerateExamplesByBeam(pipeline, exec_properties)
        kept = [examples | f"TallyKept[{name}]" >> beam.Map(lambda _, name=name: ((_KEPT_IN_SPLIT, name), 1))
                for name, examples in splits.items()]
        _ = ([reader_.quarantined for reader_ in self._readers]
             | "FlattenQuarantined" >> beam.Flatten()
             | "CollectQuarantined" >> beam.combiners.ToList()
             | "WriteQuarantined" >> beam.Map(_write_json_lines,
                                              os.path.join(self._report_dir, QUARANTINE_FILE)))
        _ = ([reader_.tally for reader_ in self._readers] + kept
             | "FlattenTally" >> beam.Flatten()
             | "SumTally" >> beam.CombinePerKey(sum)
             | "CollectTally" >> beam.combiners.ToList()
             | "WriteLedger" >> beam.Map(
                 _write_ledger, os.path.join(self._report_dir, LEDGER_FILE),
                 files=[path for reader_ in self._readers for path in reader_.files],
                 split_names=list(splits), max_fraction=max_quarantine_fraction(exec_properties),
                 max_chars=max_text_chars(exec_properties),
                 scale=(str(grade_scale(exec_properties))
                        if features.RELEVANCE in rules.columns_of(input_kind(exec_properties)) else None)))
        return splits

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        self._report_dir = os.path.join(examples.uri, QUARANTINE_DIR)
        fileio.makedirs(self._report_dir)
        super().Do(input_dict, output_dict, exec_properties)

        with fileio.open(os.path.join(self._report_dir, LEDGER_FILE)) as f:
            ledger = json.loads(f.read())
        # A warning when rows were quarantined, so that it shows at the default log level.
        (logging.warning if ledger["rows_quarantined"] else logging.info)(
            "%s", render_ledger(ledger, self._report_dir, input_kind(exec_properties)))
        problems = ledger_problems(ledger)
        if problems:
            raise RuntimeError("SearchLogExampleGen's ledger does not add up (a bug): " + "; ".join(problems))
        problems = failures(ledger, self._report_dir)
        if problems:
            raise rules.InvalidSearchLogError(
                f"The {rules.DESCRIPTION[input_kind(exec_properties)]} cannot be used for training; fix the data "
                "and rerun:\n  " + "\n  ".join(problems))
        examples.set_int_custom_property(ROWS_READ_PROPERTY, ledger["rows_read"])
        examples.set_int_custom_property(ROWS_KEPT_PROPERTY, ledger["rows_kept"])
        examples.set_int_custom_property(ROWS_QUARANTINED_PROPERTY, ledger["rows_quarantined"])
        examples.set_string_custom_property(QUARANTINE_URI_PROPERTY, self._report_dir)
