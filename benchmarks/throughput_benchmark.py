"""Throughput benchmark (issue 3): training and scoring pairs/s of our TF cross-encoder against the
sentence-transformers CrossEncoder reference (PyTorch) on the same all-MiniLM-L6-v2 weights, in one run.

    TF_USE_LEGACY_KERAS=1 .venv/bin/python -m benchmarks.throughput_benchmark --output benchmarks/results \\
        [--rounds 3] [--steps 120] [--score-pairs 2560] [--torch-threads 2,1] [--seed 42]

Alternating rounds: in each, ours, then the reference at each of --torch-threads (2 is the matched setting:
TF at its defaults uses both cores; 1 is torch's best on a shared machine), each a fresh subprocess in its own
venv (ours: .venv, this module's --worker; reference: .venv-torch, benchmarks/torch_cross_encoder.py), one
after another, never concurrently. Same inputs on both sides: encoder_benchmark's few-label training pairs
(PROTOCOL.md's budget_400 queries) and the first --score-pairs dev pairs, read from
../shared/benchmarks/homedepot at run time (never copied).

Training: the first --steps optimizer steps of encoder_benchmark's few-label run (its hyper-parameters and
learning-rate schedule: batch 16, max_length 128, AdamW, warm-up 10% of the whole run, clipping), pairs/s
after the first step (encoder_benchmark.run_ours / torch_cross_encoder step timing). Scoring: batch 64 after
one warm-up batch; ours with encoder_benchmark.score_in_batches (batches sorted by token count, the counting
timed), the reference with one CrossEncoder.predict call over all pairs (it sorts by characters inside).
The ratios are ours / reference per round; the targets use the median over rounds at the matched setting.

Writes OUTPUT/throughput_benchmark.json and .md after every measurement (an interrupted run keeps the
rounds done so far).
"""
import argparse
import json
import math
import os
import pathlib
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

from benchmarks import encoder_benchmark as eb
from benchmarks import homedepot

REPO = pathlib.Path(__file__).resolve().parents[1]
OURS_PYTHON = REPO / ".venv" / "bin" / "python"
RESULT_NAME = "throughput_benchmark"
MATCHED_THREADS = 2  # torch threads matching TF's defaults on the 2-core machine
METRICS = (("train_pairs_per_s", "Training"), ("score_pairs_per_s", "Scoring"))
# Per-measurement timings kept from a side's result (the scores and the full versions are dropped).
KEPT = ("train_pairs_per_s", "train_pairs_per_s_overall", "steps", "train_seconds", "score_pairs_per_s",
        "score_seconds", "dev_pairs", "wall_seconds", "subprocess_seconds", "load_average", "tf_threads")


# ---------------------------------------------------------------------------------------- aggregation

def ratio(ours: Optional[float], reference: Optional[float]) -> float:
    """ours / reference, NaN when either is missing or not a positive number."""
    if not ours or not reference or math.isnan(ours) or math.isnan(reference) or reference <= 0:
        return math.nan
    return ours / reference


def median(values: Sequence[float]) -> float:
    """Median of the finite values (NaN when none)."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan


def summarise(rounds: Sequence[Dict[str, Any]], threads: Sequence[int]) -> Dict[str, Dict[str, Any]]:
    """metric -> threads (str) -> per-round ratios ours / reference, their median, and the median rates.
    A round's "reference" maps str(threads) to that reference run's figures."""
    out: Dict[str, Dict[str, Any]] = {}
    for metric, _ in METRICS:
        per_threads = {}
        ours_rates = [r.get("ours", {}).get(metric, math.nan) for r in rounds]
        for t in threads:
            ref_rates = [r.get("reference", {}).get(str(t), {}).get(metric, math.nan) for r in rounds]
            ratios = [ratio(o, f) for o, f in zip(ours_rates, ref_rates)]
            per_threads[str(t)] = {"ratios": ratios, "median_ratio": median(ratios),
                                   "median_ours": median(ours_rates), "median_reference": median(ref_rates)}
        out[metric] = per_threads
    return out


def evaluate_targets(summary: Dict[str, Dict[str, Any]], matched: int = MATCHED_THREADS) -> List[dict]:
    """Issue 3's throughput targets: median ratio >= 1 against the reference at the matched thread count."""
    out = []
    for metric, label in METRICS:
        row = summary.get(metric, {}).get(str(matched))
        if row is None:
            continue
        value, ratios = row["median_ratio"], row["ratios"]
        out.append({"what": f"{label.lower()} throughput", "metric": metric, "torch_threads": matched,
                    "median_ratio": value, "met": not math.isnan(value) and value >= 1.0,
                    "detail": f"median x{_x(value)} over {sum(not math.isnan(r) for r in ratios)} rounds "
                              f"(per round {', '.join('x' + _x(r) for r in ratios)})"})
    return out


# ------------------------------------------------------------------------------------------ rendering

def _x(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.2f}"


def _rate(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def _load(side: Optional[dict], phase: str) -> str:
    """'before -> after' 1-minute load of one measurement ('train' or 'score')."""
    loads = (side or {}).get("load_average") or {}
    before, after = loads.get(f"{phase}_before"), loads.get(f"{phase}_after")
    return f"{before[0]:.2f} → {after[0]:.2f}" if before and after else "–"


def _threads_label(t: int, matched: int) -> str:
    return f"{t} thread{'s' if t != 1 else ''}" + (" (matched)" if t == matched else "")


def render_markdown(report: Dict[str, Any]) -> str:
    threads = [int(t) for t in report.get("torch_threads", [MATCHED_THREADS])]
    matched = report.get("matched_threads", MATCHED_THREADS)
    rounds = report.get("rounds", [])
    summary = report.get("summary") or summarise(rounds, threads)
    refs = ", ".join(f"the reference at torch {_threads_label(t, matched)}" for t in threads)
    lines = ["# Throughput benchmark: our TF cross-encoder vs sentence-transformers CrossEncoder (PyTorch)", "",
             f"{len(rounds)} of {report.get('planned_rounds', len(rounds))} alternating rounds; in each: ours, then "
             f"{refs}, each a fresh subprocess in its own venv, one after another. TF at its defaults (all "
             f"cores); \"matched\" = torch threads equal to the cores TF uses. Generated "
             f"{report.get('finished') or report.get('started')}.", ""]
    for metric, label in METRICS:
        what = (f"pairs/s after the first of {report.get('steps', '?')} optimizer steps (batch "
                f"{report.get('batch_size', '?')}, few-label pairs)" if metric == "train_pairs_per_s" else
                f"pairs/s over {report.get('score_pairs', '?')} dev pairs, batch {report.get('score_batch', '?')}")
        phase = "train" if metric == "train_pairs_per_s" else "score"
        header = ["round", "ours"]
        for t in threads:
            header += [f"reference, {_threads_label(t, matched)}", f"ours / reference ({t})"]
        header += ["load 1-min ours"] + [f"load 1-min ref ({t})" for t in threads]
        lines += [f"## {label} ({what})", "", "| " + " | ".join(header) + " |",
                  "| --- | " + " | ".join("---:" for _ in header[1:]) + " |"]
        for i, r in enumerate(rounds):
            cells = [str(r.get("round", i + 1)), _rate(r.get("ours", {}).get(metric))]
            for t in threads:
                ref = r.get("reference", {}).get(str(t), {})
                cells += [_rate(ref.get(metric)), "x" + _x(summary[metric][str(t)]["ratios"][i])]
            cells += [_load(r.get("ours"), phase)] + [_load(r.get("reference", {}).get(str(t)), phase)
                                                      for t in threads]
            lines.append("| " + " | ".join(cells) + " |")
        first = summary[metric][str(threads[0])]
        cells = ["**median**", _rate(first["median_ours"])]
        for t in threads:
            row = summary[metric][str(t)]
            cells += [_rate(row["median_reference"]), f"**x{_x(row['median_ratio'])}**"]
        cells += [""] * (1 + len(threads))
        lines += ["| " + " | ".join(cells) + " |", ""]
    targets = report.get("targets") or evaluate_targets(summary, matched)
    lines += [f"Targets of issue 3 (ours / reference >= 1, median over rounds, reference at torch "
              f"{matched} threads):"]
    lines += [f"- {t['what']}: **{'met' if t['met'] else 'NOT met'}** ({t['detail']})" for t in targets]
    others = [t for t in threads if t != matched]
    for t in others:
        lines.append(f"- against torch at {_threads_label(t, matched)} (not the matched setting; for reference): "
                     + ", ".join(f"{label.lower()} x{_x(summary[m][str(t)]['median_ratio'])}"
                                 f" ({'>= 1' if summary[m][str(t)]['median_ratio'] >= 1 else '< 1'})"
                                 for m, label in METRICS))
    if len(rounds) < report.get("planned_rounds", len(rounds)):
        lines += ["", f"**Incomplete**: {len(rounds)} of {report['planned_rounds']} rounds."]
    for note in report.get("notes", []):
        lines += ["", note]
    if report.get("settings"):
        lines += ["", "## Settings", ""] + [f"- {k}: {v}" for k, v in report["settings"].items()]
    machine = dict(report.get("machine") or {})
    if report.get("reference_versions"):
        machine["reference side (.venv-torch)"] = ", ".join(
            f"{k} {v}" for k, v in report["reference_versions"].items() if k != "torch_threads")
    if machine:
        lines += ["", "## Machine and versions", ""] + [f"- {k}: {v}" for k, v in machine.items()]
    lines += ["", "Load average (1, 5, 15 min) before / after each measurement (the 2 cores are shared with "
                  "other work):", ""]
    for r in rounds:
        sides = [("ours", r.get("ours"))] + [(f"reference, {t} thread{'s' if t != 1 else ''}",
                                              r.get("reference", {}).get(str(t))) for t in threads]
        for name, side in sides:
            loads = (side or {}).get("load_average") or {}
            if loads:
                lines.append(f"- round {r.get('round')}, {name}: training {loads.get('train_before')} / "
                             f"{loads.get('train_after')}; scoring {loads.get('score_before')} / "
                             f"{loads.get('score_after')}")
    if report.get("command"):
        lines += ["", "## Command", "", "```", report["command"], "```"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- measuring

def inputs(data: homedepot.HomeDepot, seed: int, score_pairs: int):
    """(query ids of encoder_benchmark's splits, few-label training pairs, the first score_pairs dev pairs)."""
    ids = eb.splits(data, quick=False, seed=seed)
    return ids, eb.select(data.pairs, ids["few_label"]), eb.select(data.pairs, ids["dev"])[:score_pairs]


def _load_stamps():
    """Keras callback stamping the load average when training begins and ends."""
    import tf_keras

    class LoadStamps(tf_keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.loads: Dict[str, List[float]] = {}

        def on_train_begin(self, logs=None):
            self.loads["train_before"] = eb._load_average()

        def on_train_end(self, logs=None):
            self.loads["train_after"] = self.loads["score_before"] = eb._load_average()
    return LoadStamps()


def ours_worker(job: Dict[str, Any]) -> Dict[str, Any]:
    """In .venv, a fresh process: encoder_benchmark.run_ours for job["steps"] steps on the few-label pairs,
    then scoring the first job["score_pairs"] dev pairs. Scoring starts right after training: its "before"
    load is training's "after"."""
    data = homedepot.load(job["data_dir"])
    _, train, dev = inputs(data, job["seed"], job["score_pairs"])
    hp = eb.our_hparams({"seed": job["seed"]})
    encoder_dir = eb._export_dir()  # returns at once when the cached export is current
    stamps = _load_stamps()
    result = eb.run_ours(train, dev, hp, job["seed"], {}, encoder_dir, steps=job["steps"], callbacks=[stamps])
    result.pop("scores")
    result["load_average"] = {**stamps.loads, "score_after": eb._load_average()}
    return {**result, "dev_pairs": len(dev), "hparams": hp, "encoder": encoder_dir, "machine": eb.machine_info()}


def run_ours_subprocess(job: Dict[str, Any], workdir: str, name: str) -> Dict[str, Any]:
    return eb.run_job(OURS_PYTHON, "benchmarks.throughput_benchmark", job, workdir, name,
                      flags=("--worker", "--result"), env={"TF_USE_LEGACY_KERAS": "1"})


def _kept(result: Dict[str, Any]) -> Dict[str, Any]:
    return {k: result[k] for k in KEPT if k in result}


def _write(report: Dict[str, Any], output: str) -> None:
    threads = [int(t) for t in report["torch_threads"]]
    report["summary"] = summarise(report["rounds"], threads)
    report["targets"] = evaluate_targets(report["summary"], report["matched_threads"])
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, f"{RESULT_NAME}.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(output, f"{RESULT_NAME}.md"), "w", encoding="utf-8") as f:
        f.write(render_markdown(report))


def run(args) -> Dict[str, Any]:
    data = homedepot.load(args.data)
    ids, train, dev = inputs(data, args.seed, args.score_pairs)
    report: Dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"), "planned_rounds": args.rounds, "steps": args.steps,
        "score_pairs": len(dev), "score_batch": eb.SCORE_BATCH, "seed": args.seed,
        "torch_threads": args.torch_threads, "matched_threads": MATCHED_THREADS,
        "train_pairs_available": len(train), "few_label_queries": len(ids["few_label"]),
        "command": "TF_USE_LEGACY_KERAS=1 .venv/bin/python -m benchmarks.throughput_benchmark "
                   + " ".join(sys.argv[1:] if args.argv is None else args.argv),
        "rounds": [], "notes": [],
    }
    job = {"data_dir": str(args.data), "seed": args.seed, "steps": args.steps, "score_pairs": args.score_pairs}
    with tempfile.TemporaryDirectory(prefix="throughput_benchmark_") as workdir:
        for number in range(1, args.rounds + 1):
            entry: Dict[str, Any] = {"round": number, "reference": {}}
            report["rounds"].append(entry)
            print(f"[throughput_benchmark] round {number}: ours ...", flush=True)
            ours = run_ours_subprocess(job, workdir, f"ours_round{number}")
            hp = ours["hparams"]
            report.setdefault("machine", ours["machine"])
            report.setdefault("batch_size", int(hp["batch_size"]))
            report.setdefault("settings", _settings(hp, len(train), args))
            entry["ours"] = _kept(ours)
            _write(report, args.output)
            print(f"[throughput_benchmark]   ours: train {ours['train_pairs_per_s']:.1f}, "
                  f"score {ours['score_pairs_per_s']:.1f} pairs/s", flush=True)
            for threads in args.torch_threads:
                name = f"reference_round{number}_threads{threads}"
                print(f"[throughput_benchmark] round {number}: reference, {threads} thread(s) ...", flush=True)
                ref = eb.run_reference(ids["few_label"], ids["dev"], len(train), hp, args.seed, str(args.data),
                                       name, workdir, job_extra={"threads": threads, "train_steps": args.steps,
                                                                 "max_dev_pairs": args.score_pairs})
                report.setdefault("reference_versions", ref.get("versions"))
                report.setdefault("reference_old_fit_args", ref.get("old_fit_args"))
                entry["reference"][str(threads)] = {**_kept(ref),
                                                    "torch_threads": ref["versions"]["torch_threads"]}
                _write(report, args.output)
                print(f"[throughput_benchmark]   reference ({threads}): train {ref['train_pairs_per_s']:.1f}, "
                      f"score {ref['score_pairs_per_s']:.1f} pairs/s", flush=True)
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    _write(report, args.output)
    return report


def _settings(hp: Dict[str, Any], train_pairs: int, args) -> Dict[str, str]:
    return {
        "training": f"the first {args.steps} optimizer steps of encoder_benchmark's few-label run "
                    f"({train_pairs} pairs of the budget_400 queries, batch {hp['batch_size']}, "
                    f"{hp['epochs']} epochs planned: the learning-rate schedule and warm-up are the whole run's); "
                    "pairs/s from the end of step 1 to the end of the last step (ours: keras fit, step ends "
                    "stamped by encoder_benchmark's callback; reference: CrossEncoder.old_fit, stamped after "
                    "each AdamW step); each side shuffles with its own generator (seed "
                    f"{args.seed}), so the batches differ between the sides but not between rounds",
        "scoring": f"the first {args.score_pairs} dev pairs (file order), batch {eb.SCORE_BATCH}, after one "
                   "warm-up batch, tokenisation included; ours: encoder_benchmark.score_in_batches (sorted by "
                   "token count, the counting timed); reference: one CrossEncoder.predict call (sorts by "
                   "characters inside)",
        "our hparams": json.dumps(hp, sort_keys=True),
        "our encoder": "the project's export (models.encoder.export.export_encoder(), the .cache one)",
        "threads": "TF defaults (intra/inter 0 = all cores); reference: torch.set_num_threads(N) per column",
        "order": "per round: ours, then the reference at each thread count, fresh subprocesses, never "
                 "concurrently",
    }


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput_benchmark",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="folder for throughput_benchmark.json and .md")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=120, help="optimizer steps timed per training run")
    parser.add_argument("--score-pairs", type=int, default=2560, help="dev pairs scored per run")
    parser.add_argument("--torch-threads", default="2,1",
                        help=f"comma-separated torch thread counts, one reference run each per round "
                             f"({MATCHED_THREADS} is the matched setting the targets use)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", default=str(homedepot.DEFAULT_DIR), help="the homedepot folder")
    parser.add_argument("--render-only", action="store_true", help="only re-render the md from the JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: our side's job file
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.torch_threads = [int(t) for t in args.torch_threads.split(",") if t.strip()]
    if not args.worker and not args.output:
        parser.error("--output is required")
    if MATCHED_THREADS not in args.torch_threads and not args.worker:
        parser.error(f"--torch-threads must include {MATCHED_THREADS} (the matched setting of the targets)")
    return args


def main(argv=None) -> int:
    args = _parse(argv)
    args.argv = argv
    if args.worker:
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        with open(args.worker, encoding="utf-8") as f:
            result = ours_worker(json.load(f))
        with open(args.result, "w", encoding="utf-8") as f:
            json.dump(result, f)
        return 0
    if args.render_only:
        with open(os.path.join(args.output, f"{RESULT_NAME}.json"), encoding="utf-8") as f:
            report = json.load(f)
        _write(report, args.output)
        print(render_markdown(report))
        return 0
    report = run(args)
    print(render_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
