"""The pipeline, benchmarked as a user runs it (../shared/benchmarks/PROTOCOL.md, "The pipeline is what is
measured"): Home Depot data drops built at run time in a work folder, `python -m pipeline run` on each with
the defaults (plus `--seed`), and the pushed SavedModel scored on the PROTOCOL dev split.

Runs (each with every seed):
  few_label        the 400 budget queries' judgements + the search traffic (impressions.csv: the 5,856
                   training queries outside the budget and the dev split, with their judged products and the
                   grades withheld) + the catalogue;
  no_augmentation  the same drop, `--no-augmentation`;
  full_label       every non-dev judged query (6,256), `--no-augmentation`: the ceiling.
Each pushed model is scored as served and, from its `score_parts` signature, as the fine-tuned student
alone (the zero-shot weight 0). Also: the zero-shot encoder, and the teacher of each augmented run (its
cross-encoder alone and the label TeacherLabeling gave: its views combined as its report's teacher_views
say). A run whose candidate the pipeline did not push (the Evaluator or the zero-shot floor refused it) is
scored too, as its Trainer's model, and marked pushed = no.

The drops keep Home Depot's grades (1..3); each run says so with `--grade-scale 1:3`, and the pipeline maps
them linearly onto its 0..3 (gain x 1.5: the same NDCG).
The dev queries never enter a drop; the drops and the pipeline outputs stay in --workdir (research-use data:
never under the repository).

    .venv/bin/python -m benchmarks.pipeline_benchmark --workdir /tmp/pipeline_benchmark --seeds 42 \
        --runs few_label,no_augmentation,full_label --output benchmarks/results
"""
import argparse
import csv
import glob
import json
import os
import pathlib
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from benchmarks import homedepot
from benchmarks.encoder_benchmark import judged, machine_info, paired_difference, run_zero_shot
from components.augmentation import report as report_lib
from models import features
from models import ranking_metrics as metrics
from pipeline import configs

# Every drop keeps Home Depot's grades as they are, so every run says their scale (the README's flag).
GRADE_FLAGS = ["--grade-scale", homedepot.GRADE_SCALE]
RUNS = {
    "few_label": {"labels": "few_label", "traffic": True, "flags": GRADE_FLAGS},
    "no_augmentation": {"labels": "few_label", "traffic": True, "flags": GRADE_FLAGS + ["--no-augmentation"]},
    "full_label": {"labels": "full_label", "traffic": False, "flags": GRADE_FLAGS + ["--no-augmentation"]},
}
REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SCORE_BATCH = 64


def traffic_query_ids(data: homedepot.HomeDepot) -> set:
    """PROTOCOL's unlabelled traffic: judged queries outside the budget and the dev split."""
    return {p.query_id for p in data.pairs} - data.dev_queries - data.few_label_queries


def build_drop(data: homedepot.HomeDepot, labels: str, traffic: bool, folder: str) -> Dict[str, int]:
    """Writes a data drop (search_log.csv, catalog.csv[, impressions.csv]) into folder; returns its counts.
    labels: "few_label" (the budget queries) or "full_label" (every non-dev query)."""
    os.makedirs(folder, exist_ok=True)
    judged_ids = data.few_label_queries if labels == "few_label" else (
        {p.query_id for p in data.pairs} - data.dev_queries)
    log = [p for p in data.pairs if p.query_id in judged_ids]
    with open(os.path.join(folder, "search_log.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(features.RAW_COLUMNS)
        writer.writerows((p.query_id, p.query, p.product_id, p.product_title, f"{p.relevance:g}")
                         for p in log)
    with open(os.path.join(folder, configs.CATALOG_FILE), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow((features.PRODUCT_ID, features.PRODUCT_TITLE))
        writer.writerows(sorted(data.catalog.items()))
    counts = {"judged_queries": len(judged_ids), "judged_pairs": len(log), "catalog_products": len(data.catalog)}
    traffic_ids = traffic_query_ids(data) if traffic else set()
    if traffic:
        shown = [p for p in data.pairs if p.query_id in traffic_ids]
        with open(os.path.join(folder, "impressions.csv"), "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(features.IMPRESSION_COLUMNS)
            writer.writerows((p.query_id, p.query, p.product_id, p.product_title) for p in shown)
        counts.update(traffic_queries=len(traffic_ids), traffic_pairs=len(shown))
    if (judged_ids | traffic_ids) & data.dev_queries:
        raise AssertionError("a dev query in a data drop")  # never: both sets exclude the dev split
    return counts


def latest_version(serving_dir: str) -> Optional[str]:
    """The newest pushed version (the server's rule, serving/versions.py), or None when nothing was pushed."""
    from serving import versions
    try:
        return versions.latest_version_dir(serving_dir)
    except FileNotFoundError:
        return None


def latest_model(output: str, component: str) -> Optional[str]:
    """The newest model of a Trainer node (its Format-Serving folder) under the pipeline root."""
    folders = glob.glob(os.path.join(configs.pipeline_root(output), component, "model", "*", "Format-Serving"))
    return max(folders, key=lambda d: int(pathlib.Path(d).parent.name)) if folders else None


def score_model(model_dir: str, pairs: Sequence[homedepot.Pair]) -> Dict[str, List[float]]:
    """{output name: scores in the pairs' order} from score_parts where the model has it, else score_text."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the tokeniser ops)

    from models import cross_encoder, signatures

    loaded = tf.saved_model.load(model_dir)
    name = signatures.SCORE_PARTS if signatures.SCORE_PARTS in loaded.signatures else signatures.SCORE_TEXT
    signature = loaded.signatures[name]
    outputs = sorted(signature.structured_outputs)

    def score(query, title):
        scored = signature(**{features.QUERY: query, features.PRODUCT_TITLE: title})
        return tf.stack([tf.reshape(scored[output], [-1]) for output in outputs], axis=1)
    scores = cross_encoder.score_length_sorted(score, [p.query for p in pairs], [p.product_title for p in pairs],
                                               SCORE_BATCH, columns=len(outputs))
    return {output: scores[:, i].tolist() for i, output in enumerate(outputs)}


def teacher_label_scores(teacher_gain: Sequence[float], dev: Sequence[homedepot.Pair], report: dict,
                         dev_cosines: Dict[str, List[float]]) -> List[float]:
    """The label TeacherLabeling gives each dev pair: views.ViewsFit.label of the report's teacher_views, from
    the teacher's gains and each view encoder's cosines (dev_cosines: handle -> cosines, filled as needed).
    A report written before the teacher had views has one calibrated cosine (zero_shot.ensemble_gain)."""
    from components.teacher_labeling import views
    from models import zero_shot
    settings = report["settings"]
    if "teacher_views" not in report:
        calibration = (zero_shot.Calibration(**settings["zero_shot_calibration"])
                       if settings.get("zero_shot_calibration") else None)
        cosines = dev_cosines[str(configs.ENCODER_DIR)]
        return [gain if calibration is None else
                zero_shot.ensemble_gain(gain, cosine, calibration, float(settings["zero_shot_weight"]))
                for gain, cosine in zip(teacher_gain, cosines)]
    fitted = views.ViewsFit.from_dict(report["teacher_views"])
    for handle in fitted.encoders:
        if handle not in dev_cosines:
            from components.retrieval.embedding import TextEncoder
            from components.teacher_labeling.executor import pair_cosines
            rows = [{features.QUERY: p.query, features.PRODUCT_TITLE: p.product_title} for p in dev]
            dev_cosines[handle] = pair_cosines(TextEncoder(handle), rows).tolist()
    columns = [dev_cosines[handle] for handle in fitted.encoders]
    return [fitted.label(gain, row) for gain, row in zip(teacher_gain, zip(*columns))]


def _figures(dev: Sequence[homedepot.Pair], scores: Sequence[float]) -> dict:
    queries = judged(dev, scores)
    return {**metrics.evaluate(queries), "per_query": metrics.per_query_ndcg(queries)}


def run_pipeline(drop: str, output: str, flags: List[str], seed: int, log_path: str) -> dict:
    """`python -m pipeline run` in a child process, its log in log_path; returns wall time and exit code."""
    command = [sys.executable, "-m", "pipeline", "run", "--data", drop, "--output", output, "--seed", str(seed),
               *flags]
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    start = time.time()
    with open(log_path, "w", encoding="utf-8") as log:
        code = subprocess.call(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    return {"command": " ".join(command[1:]), "exit_code": code, "wall_seconds": round(time.time() - start, 1)}


def measure(run: str, seed: int, data: homedepot.HomeDepot, workdir: str, dev_cosines: Dict[str, List[float]],
            reuse: bool = False) -> dict:
    """Runs the pipeline on the run's drop (unless reuse and that run finished already) and scores it."""
    spec = RUNS[run]
    drop = os.path.join(workdir, f"drop_{spec['labels']}{'_traffic' if spec['traffic'] else ''}")
    counts = build_drop(data, spec["labels"], spec["traffic"], drop)
    output = os.path.join(workdir, f"{run}_seed{seed}")
    log_path = os.path.join(workdir, f"{run}_seed{seed}.log")
    if reuse and _wall_seconds_of(log_path) is not None:  # that run finished: score what it made
        print(f"[pipeline_benchmark] {run} seed {seed}: scoring the finished run under {output}", flush=True)
        result = {"run": run, "seed": seed, "drop": counts, "exit_code": 0, "reused": True,
                  "command": f"(reused) pipeline run --data {drop} --output {output} --seed {seed} "
                             + " ".join(spec["flags"]),
                  "wall_seconds": _wall_seconds_of(log_path)}
    else:
        print(f"[pipeline_benchmark] {run} seed {seed}: running the pipeline on {drop} ({counts})", flush=True)
        result = {"run": run, "seed": seed, "drop": counts,
                  **run_pipeline(drop, output, spec["flags"], seed, log_path)}
    if result["exit_code"]:
        print(f"[pipeline_benchmark] {run} seed {seed}: the pipeline failed (exit {result['exit_code']}), see "
              f"{workdir}/{run}_seed{seed}.log", flush=True)
        return result
    from pipeline import summary
    result["summary"] = summary.render(summary.collect(output))
    pushed = latest_version(configs.serving_model_dir(output))
    result["pushed"] = pushed is not None
    model = pushed or latest_model(output, "Trainer")  # not blessed: the candidate, for information
    dev = data.dev
    scores = score_model(model, dev)
    result["served"] = _figures(dev, scores[features.SCORE])
    from models import zero_shot_ensemble
    if zero_shot_ensemble.FINE_TUNED_GAIN in scores:
        result["student_alone"] = _figures(dev, scores[zero_shot_ensemble.FINE_TUNED_GAIN])
    teacher = latest_model(output, "TeacherTrainer")
    if teacher:
        teacher_logits = score_model(teacher, dev)[features.SCORE]
        result["teacher_cross_encoder"] = _figures(dev, teacher_logits)
        reports = glob.glob(os.path.join(configs.pipeline_root(output), "TeacherLabeling", "report", "*",
                                         report_lib.REPORT_FILE))
        if reports:
            with open(max(reports, key=lambda p: int(pathlib.Path(p).parent.name)), encoding="utf-8") as f:
                report = json.load(f)
            from components.teacher_labeling import filtering
            gains = [filtering.gain_of(s, report["settings"]["teacher_score"]) for s in teacher_logits]
            result["teacher_label"] = _figures(dev, teacher_label_scores(gains, dev, report, dev_cosines))
            result["teacher_views"] = report.get("teacher_views")
            result["augmentation"] = {k: report.get(k) for k in ("candidates_in", "kept", "rejected",
                                                                 "kept_by_origin", "rejected_by_reason")}
    print(f"[pipeline_benchmark] {run} seed {seed}: pushed={result['pushed']} served NDCG@10 "
          f"{result['served']['ndcg@10']:.4f}" + (f", student alone {result['student_alone']['ndcg@10']:.4f}"
                                                  if "student_alone" in result else ""), flush=True)
    return result


def _wall_seconds_of(log_path: str) -> Optional[float]:
    """The 'Wall time: N s' line `python -m pipeline run` ends with, where its log has one."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            lines = [line for line in f if line.startswith("Wall time: ")]
    except OSError:
        return None
    return float(lines[-1].split()[2]) if lines else None


def compare(results: List[dict], zero_shot: dict) -> Dict[str, dict]:
    """Paired per-query differences (headline NDCG@10) of the issue's bars, per seed."""
    by = {(r["run"], r["seed"]): r for r in results if "served" in r}
    out = {}
    for (run, seed), r in by.items():
        if run != "few_label":
            continue
        pairs = {"served - zero_shot": (r["served"], zero_shot)}
        for other in ("no_augmentation", "full_label"):
            if (other, seed) in by:
                pairs[f"served - {other} served"] = (r["served"], by[(other, seed)]["served"])
        for name, (a, b) in pairs.items():
            out[f"seed {seed}: {name}"] = paired_difference(a["per_query"], b["per_query"])
    return out


def render_markdown(report: dict) -> str:
    lines = ["# The pipeline on Home Depot (PROTOCOL dev split, pushed models)", "",
             f"Command: `{report['command']}`", "",
             "| run | seed | pushed | served NDCG@10 | student alone | teacher label | teacher CE | pairwise "
             "(served) | kept augmented | wall |", "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def fmt(r, key, metric="ndcg@10"):
        return f"{r[key][metric]:.4f}" if key in r else "–"
    for r in report["results"]:
        if "served" not in r:
            lines.append(f"| {r['run']} | {r['seed']} | failed (exit {r['exit_code']}) | | | | | | | |")
            continue
        kept = r.get("augmentation", {}).get("kept", "–")
        lines.append(f"| {r['run']} | {r['seed']} | {'yes' if r['pushed'] else 'no'} | {fmt(r, 'served')} | "
                     f"{fmt(r, 'student_alone')} | {fmt(r, 'teacher_label')} | {fmt(r, 'teacher_cross_encoder')} | "
                     f"{fmt(r, 'served', 'pairwise_accuracy')} | {kept} | "
                     f"{(r['wall_seconds'] or 0) / 60:.0f} min |")
    z = report["zero_shot"]
    lines += ["", f"Zero-shot {configs.ENCODER} cosine: NDCG@10 {z['ndcg@10']:.4f}, pairwise "
              f"{z['pairwise_accuracy']:.4f}.", "", "Paired differences (headline NDCG@10, 95% interval):", ""]
    for name, d in report["differences"].items():
        lines.append(f"- {name}: {d['mean']:+.4f} ± {d['ci95']:.4f} ({d['queries']} queries)")
    return "\n".join(lines) + "\n"


def _strip_per_query(result: dict) -> dict:
    return {k: ({kk: vv for kk, vv in v.items() if kk != "per_query"} if isinstance(v, dict) else v)
            for k, v in result.items()}


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline_benchmark", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(homedepot.DEFAULT_DIR), help="the Home Depot folder of PROTOCOL.md")
    parser.add_argument("--workdir", required=True, help="data drops and pipeline outputs (outside the repository)")
    parser.add_argument("--output", default=str(REPO_ROOT / "benchmarks" / "results"))
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, of {', '.join(RUNS)}")
    parser.add_argument("--seeds", default="42", help="comma-separated seeds")
    parser.add_argument("--reuse", action="store_true",
                        help="score a run that finished already (its log ends with the wall time) without running "
                             "it again")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(argv)
    runs = [r for r in args.runs.split(",") if r]
    unknown = sorted(set(runs) - set(RUNS))
    if unknown:
        raise SystemExit(f"unknown runs {unknown}; known: {sorted(RUNS)}")
    if pathlib.Path(args.workdir).resolve().is_relative_to(REPO_ROOT):
        raise SystemExit("--workdir must be outside the repository: the drops hold research-use data")
    data = homedepot.load(args.data)
    dev = data.dev
    zero_shot = run_zero_shot(dev)
    dev_cosines = {str(configs.ENCODER_DIR): zero_shot["scores"]}  # encoder handle -> cosines of the dev pairs
    zero_shot_figures = _figures(dev, zero_shot["scores"])
    results = []
    for seed in args.seeds.split(","):
        for run in runs:
            results.append(measure(run, int(seed), data, args.workdir, dev_cosines, args.reuse))
            report = {"command": "python -m benchmarks.pipeline_benchmark " + " ".join(argv or sys.argv[1:]),
                      "machine": machine_info(),
                      "zero_shot": {k: v for k, v in zero_shot_figures.items() if k != "per_query"},
                      "differences": compare(results, zero_shot_figures),
                      "results": [_strip_per_query(r) for r in results]}
            _write(report, args.output)  # after every run: a long benchmark stopped midway keeps its results
    print(render_markdown(report))
    return 0


def _write(report: dict, output: str) -> None:
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "pipeline_benchmark.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    with open(os.path.join(output, "pipeline_benchmark.md"), "w", encoding="utf-8") as f:
        f.write(render_markdown(report))


if __name__ == "__main__":
    sys.exit(main())
