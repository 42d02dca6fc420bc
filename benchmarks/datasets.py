"""The benchmarks' data: the Home Depot folder of ../shared/benchmarks/PROTOCOL.md, or a folder in the pipeline's
own sample format (`search_log*.csv` + `catalog.csv`, relevance 0-3, as data/sample and data/sample_zh).

Either comes out as a homedepot.HomeDepot (pairs, catalogue, dev and few-label query ids), so the benchmarks
run on both unchanged:

- Home Depot: PROTOCOL.md's dev and 400-query few-label splits; full-label = every other judged query.
- A sample: the rows SearchLogExampleGen keeps (its own reader and rule table, minus Beam), split as the
  pipeline splits them: TFX ExampleGen's partition function on the pipeline's output config
  (pipeline.example_gen_output_config: sha256 of the partition feature, modulo configs.SPLIT_BUCKETS).
  dev = the eval split, few-label = the train split, and there is no full-label set: every labelled query
  outside the eval split already trains the few-label model, so a sample has no ceiling.
  A grade r in 0..3 becomes the benchmark's relevance 1 + 2 r / 3: the training target (relevance - 1) / 2 is
  then the pipeline's label features.normalised_gain(r) = r / 3, and the gain r * 2/3 ranks as the
  pipeline's gain r does (NDCG and pairwise accuracy do not change when every gain is scaled).
"""
import collections
import csv
import dataclasses
import glob
import os
import pathlib
from typing import Dict, List

from benchmarks import homedepot
from benchmarks.encoder_benchmark import GAIN_SCALE
from pipeline import configs

HOMEDEPOT, SAMPLE = "homedepot", "sample"


@dataclasses.dataclass
class Dataset:
    name: str  # "homedepot", or a sample folder's name ("sample_zh"): names the result files
    kind: str  # HOMEDEPOT or SAMPLE
    data: homedepot.HomeDepot
    rows_dropped: int = 0  # sample rows SearchLogExampleGen would quarantine (not in any split)

    @property
    def has_full_label(self) -> bool:
        return self.kind == HOMEDEPOT

    def split_ids(self) -> Dict[str, List[str]]:
        """Sorted query ids of dev, few_label and full_label (empty for a sample: no ceiling)."""
        dev = sorted(self.data.dev_queries)
        few = sorted(self.data.few_label_queries)
        if not self.has_full_label:
            return {"dev": dev, "few_label": few, "full_label": []}
        full = sorted({p.query_id for p in self.data.pairs} - self.data.dev_queries)
        return {"dev": dev, "few_label": few, "full_label": full}

    def describe_split(self) -> str:
        if self.kind == HOMEDEPOT:
            return "PROTOCOL.md dev split"
        return f"{self.name}'s eval split (the pipeline's: hash of the query text)"


def is_sample_dir(directory: os.PathLike) -> bool:
    directory = pathlib.Path(directory)
    search_logs = glob.glob(str(directory / configs.SEARCH_LOG_PATTERN))
    return (directory / configs.CATALOG_FILE).is_file() and bool(search_logs)


def dataset_name(directory: os.PathLike) -> str:
    """The name result files carry: "homedepot" for a Home Depot folder, else the sample folder's name."""
    if (pathlib.Path(directory) / "labeled.csv").is_file() or not is_sample_dir(directory):
        return HOMEDEPOT
    return pathlib.Path(directory).resolve().name


def load(directory: os.PathLike = homedepot.DEFAULT_DIR) -> Dataset:
    """A Home Depot folder (labeled.csv, ...) or a sample folder (search_log*.csv + catalog.csv)."""
    name = dataset_name(directory)
    if name == HOMEDEPOT:
        return Dataset(HOMEDEPOT, HOMEDEPOT, homedepot.load(directory))
    return load_sample(directory)


# ----------------------------------------------------------------------------------------- our samples

def benchmark_relevance(grade: float) -> float:
    """A grade of the pipeline's scale as the benchmark's relevance: target = the pipeline's label."""
    from models import features
    return homedepot.RELEVANCE_MIN + GAIN_SCALE * features.normalised_gain(grade)


def read_search_log(directory: os.PathLike) -> tuple:
    """(rows kept, rows dropped): the value dicts of the valid rows of every search_log*.csv, by
    SearchLogExampleGen's reader and rules (row rules, truncation, then per query id the conflict and
    duplicate rules), in file and line order."""
    from components.search_log_example_gen import reader, rules

    valid, dropped = [], 0
    for path in sorted(glob.glob(os.path.join(str(directory), configs.SEARCH_LOG_PATTERN))):
        with open(path, "rb") as binary:
            header = reader.read_header(path, binary)
        rules.check_header(path, header)
        with open(path, "rb") as binary:
            for record in reader.read_records(path, binary, header):
                if record.fields == []:  # a blank line: neither read nor quarantined by ExampleGen
                    continue
                problem, values = (rules.CSV_SYNTAX, None, record.error), None
                if record.fields is not None:
                    problem, values = rules.check_row(header, record.fields)
                if problem:
                    dropped += 1
                    continue
                values, _ = rules.truncate(values, configs.MAX_TEXT_CHARS)
                valid.append({"file": path, "line": record.line, "values": values})
    by_query = collections.defaultdict(list)
    for row in valid:
        by_query[row["values"]["query_id"]].append(row)
    kept = []
    for rows in by_query.values():
        resolved, quarantined = rules.resolve_query(rows)
        kept += resolved
        dropped += len(quarantined)
    kept.sort(key=lambda row: (row["file"], row["line"]))
    return [row["values"] for row in kept], dropped


def pipeline_splits(rows: List[Dict[str, str]]) -> Dict[str, str]:
    """query_id -> the split SearchLogExampleGen writes its rows to: TFX's own partition function (its
    base executor's _PartitionFn) on each row's tf.Example and the pipeline's output config."""
    from tfx.components.example_gen import base_example_gen_executor as base

    from components.search_log_example_gen.executor import to_example
    from pipeline.pipeline import example_gen_output_config

    split_config = example_gen_output_config().split_config
    names = [split.name for split in split_config.splits]
    buckets = [sum(split.hash_buckets for split in split_config.splits[:i + 1]) for i in range(len(names))]
    out: Dict[str, str] = {}
    for values in rows:
        index = base._PartitionFn(to_example(values), len(names), buckets, split_config)
        previous = out.setdefault(values["query_id"], names[index])
        if previous != names[index]:  # cannot happen: a query_id has one text, the partition feature
            raise ValueError(f"query {values['query_id']} is in {previous} and {names[index]}")
    return out


def load_sample(directory: os.PathLike) -> Dataset:
    """A folder in our sample format as the benchmark's structure (see the module docstring)."""
    from components.search_log_example_gen import rules

    directory = pathlib.Path(directory)
    rows, dropped = read_search_log(directory)
    split_of = pipeline_splits(rows)
    pairs = [homedepot.Pair(r["query_id"], r["query"], r["product_id"], r["product_title"],
                            benchmark_relevance(rules.parse_relevance(r["relevance"])[0])) for r in rows]
    catalog = _catalog(directory / configs.CATALOG_FILE)
    for pair in pairs:  # a judged product missing from catalog.csv is still a product
        catalog.setdefault(pair.product_id, pair.product_title)
    data = homedepot.HomeDepot(
        pairs, catalog,
        dev_queries={q for q, split in split_of.items() if split == configs.EVAL_SPLIT},
        few_label_queries={q for q, split in split_of.items() if split == configs.TRAIN_SPLIT})
    return Dataset(directory.resolve().name, SAMPLE, data, dropped)


def _catalog(path: pathlib.Path) -> Dict[str, str]:
    with open(path, encoding="utf-8", newline="") as f:
        return {r["product_id"]: r["product_title"] for r in csv.DictReader(f)}
