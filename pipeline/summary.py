"""The end-of-run summary: rows per split, candidate and baseline metrics, blessing, push destination.

Everything is read back from ML Metadata and the artifacts, so it describes what the run really made
(cached components included), not what the runner intended.
"""
import json
import os
from typing import Dict, List, Optional

import ml_metadata as mlmd
import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from components.atomic_pusher.component import RUN_CONFIG_KEY
from components.augmentation.report import read_report
from components.search_log_example_gen import executor as ledger  # the checked inputs' ledger properties
from components.zero_shot_floor import executor as floor_executor
from models import features
from pipeline import configs
from pipeline.pipeline import ZERO_SHOT_FLOOR_ID as FLOOR

# The model names TFMA uses when a baseline is present; without one the candidate is "".
CANDIDATE, BASELINE = "candidate", "baseline"
TEACHER = "teacher"  # the augmentation teacher, evaluated on the same eval split (TeacherEvaluator)


class RunRecord:
    """Reads the outputs of the latest execution of each component from this pipeline's MLMD."""

    def __init__(self, output_dir: str, pipeline_name: str = configs.PIPELINE_NAME):
        self._store = mlmd.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(
            configs.metadata_path(output_dir)))
        self._pipeline = pipeline_name
        if self._store.get_context_by_type_and_name("pipeline", pipeline_name) is None:
            raise FileNotFoundError(f"no run of {pipeline_name} recorded under {output_dir}")

    def ran(self, component_id: str) -> bool:
        node = self._store.get_context_by_type_and_name("node", f"{self._pipeline}.{component_id}")
        return bool(node and self._store.get_executions_by_context(node.id))

    def _latest(self, component_id: str) -> mlmd.proto.Execution:
        node = self._store.get_context_by_type_and_name("node", f"{self._pipeline}.{component_id}")
        executions = self._store.get_executions_by_context(node.id) if node else []
        if not executions:
            raise LookupError(f"{component_id} has not run under this output directory")
        return max(executions, key=lambda e: e.id)

    def exec_property(self, component_id: str, name: str) -> Optional[str]:
        """An execution property of the component's latest execution as MLMD keeps it (text), or None."""
        properties = self._latest(component_id).custom_properties
        return properties[name].string_value if name in properties else None

    def output(self, component_id: str, key: str) -> Optional[mlmd.proto.Artifact]:
        """The artifact under `key` of the component's latest execution (None if it made none)."""
        latest = self._latest(component_id)
        ids = [event.artifact_id for event in self._store.get_events_by_execution_ids([latest.id])
               if event.type == mlmd.proto.Event.OUTPUT and event.path.steps[0].key == key]
        return self._store.get_artifacts_by_id(ids)[0] if ids else None


# The checked inputs of a data drop: (node id, what it reads), in the order a person reads them.
CHECKED_INPUTS = (("SearchLogExampleGen", "search log"), ("CatalogExampleGen", "catalogue"),
                  ("TrafficExampleGen", "search traffic"))


def quarantine_line(record: RunRecord) -> str:
    """'quarantined 3 of 1,560 rows read: search log 0 of 888, catalogue 3 of 448 (<file>)' over the checked
    inputs the run read, from their Examples artifacts' custom properties."""
    parts, read, quarantined = [], 0, 0
    for component, name in CHECKED_INPUTS:
        if not record.ran(component):
            continue
        artifact = record.output(component, "examples")
        rows_read = artifact.custom_properties[ledger.ROWS_READ_PROPERTY].int_value
        rows_quarantined = artifact.custom_properties[ledger.ROWS_QUARANTINED_PROPERTY].int_value
        read, quarantined = read + rows_read, quarantined + rows_quarantined
        where = os.path.join(artifact.custom_properties[ledger.QUARANTINE_URI_PROPERTY].string_value,
                             ledger.QUARANTINE_FILE)
        parts.append(f"{name} {rows_quarantined:,} of {rows_read:,}" + (f" ({where})" if rows_quarantined else ""))
    return f"quarantined {quarantined:,} of {read:,} rows read: " + ", ".join(parts)


def split_sizes(statistics_uri: str) -> Dict[str, Dict[str, int]]:
    """{split: {"rows": n, "queries": distinct query ids}} from StatisticsGen's output."""
    sizes = {}
    for split in (configs.TRAIN_SPLIT, configs.EVAL_SPLIT):
        stats = tfdv.load_stats_binary(os.path.join(statistics_uri, f"Split-{split}", "FeatureStats.pb"))
        dataset = stats.datasets[0]
        queries = next(f.string_stats.unique for f in dataset.features if f.path.step == [features.QUERY_ID])
        sizes[split] = {"rows": dataset.num_examples, "queries": queries}
    return sizes


def overall_metrics(evaluation_uri: str) -> Dict[str, Dict[str, float]]:
    """{model: {metric name: value}} on the whole eval split; "@k" marks a cutoff."""
    result: Dict[str, Dict[str, float]] = {}
    for metrics_for_slice in tfma.load_metrics(evaluation_uri):
        if metrics_for_slice.slice_key.single_slice_keys:
            continue
        for item in metrics_for_slice.metric_keys_and_values:
            key = item.key
            if key.is_diff:  # candidate minus baseline; both sides are shown instead
                continue
            name = key.name + (f"@{key.sub_key.top_k.value}" if key.sub_key.HasField("top_k") else "")
            result.setdefault(key.model_name or CANDIDATE, {})[name] = item.value.double_value.value
    return result


def describe_failure(failure) -> str:
    """One failed blessing check in words. TFMA leaves `message` empty for threshold failures, so the metric,
    the threshold and the value are read from the failure's fields."""
    key = failure.metric_key
    name = key.name + (f"@{key.sub_key.top_k.value}" if key.sub_key.HasField("top_k") else "")
    value = failure.metric_value.double_value.value
    threshold = failure.metric_threshold
    if key.is_diff and threshold.HasField("change_threshold"):
        change = threshold.change_threshold
        bound = (f"at least {change.absolute.value:+.4g}" if change.direction == tfma.MetricDirection.HIGHER_IS_BETTER
                 else f"at most {change.absolute.value:+.4g}")
        text = f"{name} change against the baseline {value:+.4f}, must be {bound}"
    elif threshold.HasField("value_threshold"):
        bounds = threshold.value_threshold
        parts = ([f"at least {bounds.lower_bound.value:.4g}"] if bounds.HasField("lower_bound") else []) + \
                ([f"at most {bounds.upper_bound.value:.4g}"] if bounds.HasField("upper_bound") else [])
        text = f"{name} {value:.4f}, must be {' and '.join(parts)}"
    else:
        text = f"{name} {value:.4f}"
    return f"{text} ({failure.message})" if failure.message else text


def validation_failures(evaluation_uri: str) -> List[str]:
    validation = tfma.load_validation_result(evaluation_uri)
    return [describe_failure(failure)
            for per_slice in validation.metric_validations_per_slice
            for failure in per_slice.failures]


def collect(output_dir: str) -> dict:
    """A plain dict of the run's outcome (also what tests assert on)."""
    record = RunRecord(output_dir)
    evaluation = record.output("Evaluator", "evaluation").uri
    blessing = record.output("Evaluator", "blessing")
    pushed = record.output("Pusher", "pushed_model")
    pushed_props = pushed.custom_properties if pushed else {}
    metrics = overall_metrics(evaluation)
    augmentation = None
    if record.ran("TeacherLabeling"):  # runs with augmentation: the teacher's metrics and the ledger
        metrics[TEACHER] = overall_metrics(record.output("TeacherEvaluator", "evaluation").uri)[CANDIDATE]
        augmentation = read_report(record.output("TeacherLabeling", "report"))
    generation = read_report(record.output("QueryGeneration", "report")) if record.ran("QueryGeneration") else None
    floor = None
    if record.ran(FLOOR):  # the blessing the Pusher obeyed, with the zero-shot figures beside the candidate's
        floor_blessing = record.output(FLOOR, "blessing")
        names = (floor_executor.CANDIDATE_NDCG, floor_executor.ZERO_SHOT_NDCG, floor_executor.FLOOR_MARGIN)
        floor = {name: floor_blessing.custom_properties[name].double_value for name in names}
        floor["reason"] = floor_blessing.custom_properties[floor_executor.REASON].string_value
        for name in (floor_executor.PASSED, floor_executor.ENFORCED, "blessed"):
            floor[name] = floor_blessing.custom_properties[name].int_value == 1
    custom_config = json.loads(record.exec_property("Pusher", "custom_config") or "null") or {}
    return {
        "run_config": custom_config.get(RUN_CONFIG_KEY),
        "grade_scale": record.exec_property("SearchLogExampleGen", ledger.GRADE_SCALE_KEY) or configs.GRADE_SCALE,
        "splits": split_sizes(record.output("StatisticsGen", "statistics").uri),
        "metrics": metrics,
        "augmentation": augmentation,
        "generation": generation,
        "zero_shot_floor": floor,
        "evaluator_blessed": blessing.custom_properties["blessed"].int_value == 1,
        "blessed": floor["blessed"] if floor else blessing.custom_properties["blessed"].int_value == 1,
        "validation_failures": validation_failures(evaluation),
        "pushed": bool(pushed_props) and pushed_props["pushed"].int_value == 1,
        "pushed_destination": pushed_props["pushed_destination"].string_value if "pushed_destination" in pushed_props else None,
        "serving_model_dir": configs.serving_model_dir(output_dir),
    }


def _metrics_lines(metrics: Dict[str, Dict[str, float]]) -> List[str]:
    names = sorted({name for values in metrics.values() for name in values})
    models = [m for m in (CANDIDATE, BASELINE, TEACHER) if m in metrics]
    lines = ["  " + "metric".ljust(24) + "".join(m.rjust(12) for m in models)]
    for name in names:
        lines.append("  " + name.ljust(24) + "".join(
            f"{metrics[m][name]:12.4f}" if name in metrics[m] else "           -" for m in models))
    if BASELINE not in metrics:
        lines.append("  (no baseline yet: the first blessed model becomes the baseline of the next run)")
    return lines


def _floor_lines(floor: Optional[dict], augmentation: Optional[dict]) -> List[str]:
    """The candidate beside the zero-shot encoder and the teacher, all by ranking_metrics' NDCG@10."""
    if not floor:
        return []
    teacher = ((augmentation or {}).get("teacher_views") or {}).get("eval_ndcg") or {}
    line = (f"Zero-shot floor ({'enforced' if floor[floor_executor.ENFORCED] else 'report only'}; NDCG@10 over the "
            f"eval queries with 2+ grades): candidate {floor[floor_executor.CANDIDATE_NDCG]:.4f}, zero-shot "
            f"{floor[floor_executor.ZERO_SHOT_NDCG]:.4f}")
    if teacher.get("teacher_label") is not None:
        line += f", teacher label {teacher['teacher_label']:.4f}"
        if teacher.get("cross_encoder") is not None:
            line += f" (its cross-encoder alone {teacher['cross_encoder']:.4f})"
    verdict = "passes" if floor[floor_executor.PASSED] else f"FAILS: {floor['reason']}"
    return [line, f"  the candidate {verdict}" + ("" if floor[floor_executor.ENFORCED] or floor[floor_executor.PASSED]
                                                   else " (not enforced: the Evaluator's blessing decides)")]


def _generation_lines(report: Optional[dict]) -> List[str]:
    if not report:
        return []
    if report.get("generation_skipped"):
        return [f"Query generation SKIPPED (the LLM backend failed; retrieval-only augmentation): "
                f"{report.get('backend_error')}"]
    return [f"Query generation: {report['candidates']['kept']} queries for {report['products_selected']} "
            f"products ({report['completions']} completions, {report['queries_per_second']:.2f} queries/s)"]


def render(outcome: dict) -> str:
    """The summary a person reads at the end of `python -m pipeline run`."""
    lines = ["", "=" * 72, f"Run summary: {configs.PIPELINE_NAME}", "=" * 72]
    run_config = outcome.get("run_config")
    if run_config:
        lines.append(f"Config file: {run_config['path']} (sha256 {run_config['sha256'][:12]}; "
                     f"keys: {', '.join(sorted(run_config['values'])) or 'none'})")
    scale = outcome.get("grade_scale") or configs.GRADE_SCALE
    if scale != str(features.PIPELINE_SCALE):
        lines.append(f"Grades: on {scale}, mapped linearly onto the pipeline's {features.PIPELINE_SCALE}")
    lines.append("Examples per split:")
    for split, size in outcome["splits"].items():
        lines.append(f"  {split:<6} {size['rows']:6d} rows  {size['queries']:4d} queries")
    report = outcome.get("augmentation")
    if report:
        lines += [f"Augmentation: {report['candidates_in']} candidates -> {report['kept']} kept "
                  f"{report['kept_by_origin']}, {report['rejected']} rejected; training rows "
                  f"{report['labelled_train_rows']} labelled + {report['kept']} augmented"]
        lines += [f"  rejected {reason}: {count}" for reason, count in sorted(
            report["rejected_by_reason"].items(), key=lambda kv: -kv[1])]
    lines += _generation_lines(outcome.get("generation"))
    lines += ["Evaluation on the eval split (per-query ranking metrics; teacher = the augmentation's "
              "teacher):" if report else "Evaluation on the eval split (per-query ranking metrics):"]
    lines += _metrics_lines(outcome["metrics"])
    lines += _floor_lines(outcome.get("zero_shot_floor"), report)
    if outcome["blessed"]:
        lines.append("Blessed: yes")
    else:
        lines.append("Blessed: NO; the serving model stays as it was. Failed checks:")
        lines += [f"  - {failure}" for failure in outcome["validation_failures"]]
        floor = outcome.get("zero_shot_floor")
        if outcome.get("evaluator_blessed", True) and floor and floor["reason"] and floor[floor_executor.ENFORCED]:
            lines.append(f"  - zero-shot floor: {floor['reason']}")
    destination: Optional[str] = outcome["pushed_destination"]
    if outcome["pushed"] and destination:
        lines += [f"Pushed to: {destination}",
                  "Query it:",
                  f"  python -m pipeline score --model {destination} "
                  "--query 'running shoes' --title 'Men running shoes, mesh' --title 'Stainless steel pot'",
                  "Serve it over TF Serving's REST API (then see README, Serving, for curl):",
                  f"  python -m serving --model-base-path {os.path.dirname(destination)} --port 8501"]
    else:
        lines.append("Pushed: no")
    lines.append("=" * 72)
    return "\n".join(lines)
