"""MiniLM vs multilingual-e5-small, few-label with and without augmentation (issue 7 item 3): one table of every
augmentation benchmark report under a results folder, one row per data set x encoder.

    .venv/bin/python -m benchmarks.encoder_comparison [--results benchmarks/results]

Reads RESULTS/augmentation_benchmark*.json (quick smoke runs are left out: subsets, not comparable) and writes
RESULTS/encoder_comparison.md. Figures are the reports' own aggregates: NDCG@10 over headline queries (mean
over the seeds run), and for `both` (generation + retrieval) its pairwise accuracy and augmented samples kept.
Reports written before the benchmark took --data / --encoder are Home Depot with MiniLM.
"""
import argparse
import glob
import json
import math
import os
import sys
from typing import Any, Dict, List, Optional

from benchmarks import augmentation_benchmark as ab

DEFAULT_RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
OUTPUT_NAME = "encoder_comparison.md"
NDCG_COLUMNS = (("bm25", "BM25"), ("zero_shot", "zero-shot"), ("few_label", "few-label"),
                ("labeller", "labeller"), ("generation", "+generation"), ("retrieval", "+retrieval"),
                ("both", "+both"))
DATASET_ORDER = ("homedepot", "sample_zh", "sample")  # the rest after these, by name


def dataset_and_encoder(report: Dict[str, Any]) -> tuple:
    return report.get("dataset", "homedepot"), report.get("encoder", ab.DEFAULT_ENCODER)


def collect(results_dir: str) -> List[Dict[str, Any]]:
    """The full (not quick) augmentation benchmark reports of the folder, each with its file name."""
    reports = []
    for path in sorted(glob.glob(os.path.join(results_dir, f"{ab.RESULT_NAME}*.json"))):
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
        if report.get("quick"):
            continue
        report["_file"] = os.path.basename(path)
        reports.append(report)
    return reports


def _mean(systems: Dict[str, Any], name: str, metric: str) -> Optional[float]:
    figure = systems.get(name, {}).get(metric)
    return figure["mean"] if figure and figure.get("n") else None


def _cell(value: Optional[float], digits: int = 4) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def row(report: Dict[str, Any]) -> Dict[str, Any]:
    """The table's figures of one report (None where a system was not run)."""
    systems = (report.get("aggregate") or ab.aggregate(report))["systems"]
    dataset, encoder = dataset_and_encoder(report)
    return {"dataset": dataset, "encoder": encoder, "file": report.get("_file", ""),
            "ndcg@10": {name: _mean(systems, name, "ndcg@10") for name, _ in NDCG_COLUMNS},
            "both_pairwise": _mean(systems, "both", "pairwise_accuracy"),
            "both_kept": _mean(systems, "both", "augmented_kept"),
            "seeds": sorted(report.get("seeds", {}), key=int),
            "both_minus_few": {seed: ab.paired_of(entry, "both", "few_label")
                               for seed, entry in report.get("seeds", {}).items()
                               if ab.paired_of(entry, "both", "few_label")},
            "dev": f"{report.get('dev_queries', '?')} q / {report.get('dev_pairs', '?')} pairs"}


def _order(r: Dict[str, Any]) -> tuple:
    known = r["dataset"] in DATASET_ORDER
    encoders = ("all-MiniLM-L6-v2", "multilingual-e5-small")
    return (DATASET_ORDER.index(r["dataset"]) if known else len(DATASET_ORDER), r["dataset"],
            encoders.index(r["encoder"]) if r["encoder"] in encoders else len(encoders), r["encoder"])


def render(rows: List[Dict[str, Any]]) -> str:
    header = (["data set", "encoder"] + [label for _, label in NDCG_COLUMNS]
              + ["pairwise acc (+both)", "samples kept (+both)", "seeds", "eval split", "report"])
    lines = ["# Encoder comparison: MiniLM vs multilingual-e5-small, few-label with and without augmentation",
             "",
             "NDCG@10 over headline queries (mean over the seeds run) of each system of the augmentation "
             "benchmark (`benchmarks/augmentation_benchmark.py`); rows: data set x encoder. Home Depot: "
             "PROTOCOL.md's dev split, 400 few-label queries; a sample (data/sample_zh, data/sample): the "
             "pipeline's eval split, few-label = its train split, no full-label ceiling. labeller = the "
             "teacher's label (few-label cross-encoder + calibrated zero-shot cosine); +generation / "
             "+retrieval / +both = students trained on the few labels plus that method's kept samples. "
             "– = not run.",
             "",
             "| " + " | ".join(header) + " |",
             "| --- | --- | " + " | ".join("---:" for _ in header[2:-2]) + " | --- | --- |"]
    for r in sorted(rows, key=_order):
        cells = [r["dataset"], r["encoder"]] + [_cell(r["ndcg@10"][name]) for name, _ in NDCG_COLUMNS]
        cells += [_cell(r["both_pairwise"]), _cell(r["both_kept"], 0), ", ".join(r["seeds"]) or "–", r["dev"],
                  f"[{r['file']}]({os.path.splitext(r['file'])[0]}.md)" if r["file"] else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "+both - few-label, paired over the headline queries of the eval split (per seed, mean ± 95% "
                  "half-width): how much of a difference the split can tell from noise.", ""]
    for r in sorted(rows, key=_order):
        for seed, paired in sorted(r["both_minus_few"].items()):
            lines.append(f"- {r['dataset']}, {r['encoder']}, seed {seed}: {_cell(paired['mean'])} ± "
                         f"{_cell(paired['ci95'])} over {paired['queries']} queries")
    lines += ["", "Written by `python -m benchmarks.encoder_comparison` from the JSON reports beside it; each "
                  "report's Markdown has the settings, per-seed stages, ledgers and paired differences."]
    return "\n".join(lines) + "\n"


def write(results_dir: str, output: Optional[str] = None) -> str:
    """Renders every report of results_dir into output (default: results_dir/encoder_comparison.md)."""
    text = render([row(r) for r in collect(results_dir)])
    with open(output or os.path.join(results_dir, OUTPUT_NAME), "w", encoding="utf-8") as f:
        f.write(text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.encoder_comparison",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=DEFAULT_RESULTS, help="folder of the augmentation benchmark JSONs")
    parser.add_argument("--output", default=None, help=f"default: RESULTS/{OUTPUT_NAME}")
    args = parser.parse_args(argv)
    print(write(args.results, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
