"""The Home Depot judgements and the splits of ../shared/benchmarks/PROTOCOL.md.

Research-use data: read from ../shared at benchmark time, never copied into the project.
"""
import csv
import os
import pathlib
from dataclasses import dataclass
from typing import Dict, List

DEFAULT_DIR = pathlib.Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "homedepot"
RELEVANCE_MIN = 1.0  # Home Depot grades are means of raters from 1.0 to 3.0; gain = relevance - 1
GRADE_SCALE = "1:3"  # the same, as the pipeline's --grade-scale says it


@dataclass(frozen=True)
class Pair:
    query_id: str
    query: str
    product_id: str
    product_title: str
    relevance: float

    @property
    def gain(self) -> float:
        return self.relevance - RELEVANCE_MIN


@dataclass
class HomeDepot:
    pairs: List[Pair]
    catalog: Dict[str, str]  # product_id -> title
    dev_queries: set
    few_label_queries: set

    def split(self, query_ids: set) -> List[Pair]:
        return [p for p in self.pairs if p.query_id in query_ids]

    @property
    def dev(self) -> List[Pair]:
        return self.split(self.dev_queries)

    @property
    def few_label(self) -> List[Pair]:
        return self.split(self.few_label_queries)

    @property
    def full_label(self) -> List[Pair]:
        """Every judged query that is not a dev query."""
        return [p for p in self.pairs if p.query_id not in self.dev_queries]


def _ids(path: pathlib.Path) -> set:
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def load(directory: os.PathLike = DEFAULT_DIR) -> HomeDepot:
    directory = pathlib.Path(directory)
    if not (directory / "labeled.csv").is_file():
        raise FileNotFoundError(f"Home Depot benchmark data not found in {directory} (see PROTOCOL.md)")
    with open(directory / "labeled.csv", encoding="utf-8", newline="") as f:
        pairs = [Pair(r["query_id"], r["query"], r["product_id"], r["product_title"], float(r["relevance"]))
                 for r in csv.DictReader(f)]
    with open(directory / "catalog.csv", encoding="utf-8", newline="") as f:
        catalog = {r["product_id"]: r["product_title"] for r in csv.DictReader(f)}
    data = HomeDepot(pairs, catalog, _ids(directory / "dev_queries.txt"),
                     _ids(directory / "budget_400_queries.txt"))
    leaked = data.dev_queries & data.few_label_queries
    if leaked:
        raise ValueError(f"{len(leaked)} few-label queries are also dev queries, e.g. {sorted(leaked)[:3]}")
    return data
