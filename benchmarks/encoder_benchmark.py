"""Encoder benchmark (issue 3, item 5): BM25, the MiniLM encoder zero-shot, our fine-tuned TF cross-encoder and
the sentence-transformers CrossEncoder reference (PyTorch), on the few-label and the full-label training sets,
side by side in one run, on PROTOCOL.md's dev split.

    TF_USE_LEGACY_KERAS=1 .venv/bin/python -m benchmarks.encoder_benchmark --output benchmarks/results \\
        [--seed N] [--quick] [--systems bm25,zero_shot,ours_few,reference_few,ours_full,reference_full]

Writes OUTPUT/encoder_benchmark.json and OUTPUT/encoder_benchmark.md (only aggregate figures: the Home Depot
data is read from ../shared/benchmarks/homedepot at run time and never copied). Both files are rewritten
after every system, so an interrupted run leaves the systems done so far (the rest listed as missing).

Ours is trained with keras `fit` on a tf.data pipeline of raw strings (the TFX Trainer's path minus TFX);
the reference runs in .venv-torch (benchmarks/torch_cross_encoder.py) as a subprocess, after ours, never
concurrently. Both: target = normalised gain (relevance - 1) / 2 in [0, 1], a sigmoid cross-entropy loss on
the logit (BCEWithLogits), the same epochs / learning rate / warm-up / batch size, max_length 128, 2 threads.
Throughput: training pairs/s after the first step (steady state; the first step carries tracing or
start-up), scoring pairs/s over the whole dev split at batch 64 after one warm-up batch, tokenisation
included on both sides.
"""
import argparse
import json
import math
import os
import pathlib
import platform
import random
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence

from benchmarks import homedepot
from benchmarks.bm25 import BM25
from models import ranking_metrics as metrics

REPO = pathlib.Path(__file__).resolve().parents[1]
TORCH_PYTHON = REPO / ".venv-torch" / "bin" / "python"
RESULT_NAME = "encoder_benchmark"
SCORE_BATCH = 64
GAIN_SCALE = 2.0  # Home Depot relevance 1.0 .. 3.0: gain 0 .. 2
MAX_LENGTH = 128  # tokens per (query, title) pair on both sides
QUICK_DEV_QUERIES, QUICK_FEW_QUERIES, QUICK_FULL_QUERIES = 100, 50, 100
ALL_SYSTEMS = ("bm25", "zero_shot", "ours_few", "reference_few", "ours_full", "reference_full")
SYSTEM_LABELS = {
    "bm25": "BM25 (catalogue statistics)",
    "zero_shot": "MiniLM zero-shot (cosine of `embed`)",
    "ours_few": "ours: TF cross-encoder",
    "reference_few": "reference: sentence-transformers CrossEncoder (PyTorch)",
    "ours_full": "ours: TF cross-encoder",
    "reference_full": "reference: sentence-transformers CrossEncoder (PyTorch)",
}
# Full-label run as in PROTOCOL.md's scale: 1 epoch at lr 5e-5 (few-label: the model's DEFAULT_HPARAMS).
FULL_LABEL_OVERRIDES = {"epochs": 1, "learning_rate": 5e-5}


# ----------------------------------------------------------------------------------------------- data

def target(relevance: float) -> float:
    """Training target of both cross-encoders: the normalised gain (relevance - 1) / 2 in [0, 1]."""
    return (relevance - homedepot.RELEVANCE_MIN) / GAIN_SCALE


def sample_query_ids(query_ids: Iterable[str], count: Optional[int], seed: int) -> List[str]:
    """`count` ids drawn reproducibly (sorted), or all of them sorted when count is None."""
    ids = sorted(set(query_ids))
    if count is None or count >= len(ids):
        return ids
    return sorted(random.Random(seed).sample(ids, count))


def select(pairs: Sequence[homedepot.Pair], query_ids: Iterable[str]) -> List[homedepot.Pair]:
    """The pairs of these queries in their original order (the reference selects them the same way)."""
    wanted = set(query_ids)
    return [p for p in pairs if p.query_id in wanted]


def splits(data: homedepot.HomeDepot, quick: bool, seed: int) -> Dict[str, List[str]]:
    """Query ids of dev, few_label and full_label (full: every non-dev query); small subsets if quick."""
    full = {p.query_id for p in data.pairs} - data.dev_queries
    return {
        "dev": sample_query_ids(data.dev_queries, QUICK_DEV_QUERIES if quick else None, seed),
        "few_label": sample_query_ids(data.few_label_queries, QUICK_FEW_QUERIES if quick else None, seed),
        "full_label": sample_query_ids(full, QUICK_FULL_QUERIES if quick else None, seed),
    }


def columns(pairs: Sequence[homedepot.Pair]) -> Dict[str, list]:
    """Pairs -> the model's string inputs and the target, as parallel lists."""
    return {"query": [p.query for p in pairs], "product_title": [p.product_title for p in pairs],
            "target": [target(p.relevance) for p in pairs]}


def make_dataset(pairs: Sequence[homedepot.Pair], batch_size: int, shuffle_seed: Optional[int] = None,
                 weights: Optional[Sequence[float]] = None):
    """tf.data of ({"query": [B] string, "product_title": [B] string}, target [B] float32[, weight [B]]), raw
    strings as the TFX Trainer would read them; reshuffled each epoch when shuffle_seed is given; last batch
    kept. With `weights` (one per pair), keras fit weighs each pair's loss (augmented samples count less)."""
    import tensorflow as tf

    cols = columns(pairs)
    elements = ({"query": tf.constant(cols["query"], tf.string),
                 "product_title": tf.constant(cols["product_title"], tf.string)},
                tf.constant(cols["target"], tf.float32))
    if weights is not None:
        if len(weights) != len(pairs):
            raise ValueError(f"{len(weights)} weights for {len(pairs)} pairs")
        elements += (tf.constant(list(weights), tf.float32),)
    dataset = tf.data.Dataset.from_tensor_slices(elements)
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(pairs), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def judged(pairs: Sequence[homedepot.Pair], scores: Sequence[float]) -> Dict[str, List[metrics.Judged]]:
    """Scores (in the pairs' order) -> query id -> judged products, for models.ranking_metrics."""
    if len(pairs) != len(scores):
        raise ValueError(f"{len(scores)} scores for {len(pairs)} pairs")
    queries: Dict[str, List[metrics.Judged]] = {}
    for pair, score in zip(pairs, scores):
        queries.setdefault(pair.query_id, []).append(metrics.Judged(pair.product_id, pair.gain, float(score)))
    return queries


def paired_difference(a: Dict[str, float], b: Dict[str, float]) -> Dict[str, float]:
    """Mean of a - b over the queries both have, with the half-width of its 95% interval (normal)."""
    common = sorted(set(a) & set(b))
    if not common:
        return {"mean": math.nan, "ci95": math.nan, "queries": 0}
    diffs = [a[q] - b[q] for q in common]
    mean = sum(diffs) / len(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) if len(diffs) > 1 else math.nan
    return {"mean": mean, "ci95": 1.96 * math.sqrt(var / len(diffs)), "queries": len(diffs)}


def steady_rate(step_ends: Sequence[float], pairs_total: int, first_batch: int) -> float:
    """Pairs per second after the first step (the first one carries tracing / start-up)."""
    if len(step_ends) < 2 or step_ends[-1] <= step_ends[0]:
        return math.nan
    return (pairs_total - first_batch) / (step_ends[-1] - step_ends[0])


def total_steps(train_pairs: int, hp: Dict[str, Any]) -> int:
    """Optimizer steps of a run: ceil(pairs / batch) per epoch (last batch kept), as on both sides."""
    return math.ceil(train_pairs / int(hp["batch_size"])) * int(hp["epochs"])


def reference_hparams(hp: Dict[str, Any], train_pairs: int) -> Dict[str, Any]:
    """Our hyper-parameters (models.cross_encoder.DEFAULT_HPARAMS keys) in CrossEncoder.old_fit's terms:
    warm-up steps = round(warmup_fraction * total steps) as in models.cross_encoder.learning_rate_schedule,
    then linear decay to 0 (WarmupLinear); gradient clipping clip_norm; max_length 128 (our export's pair
    length, models.encoder.export's default max_seq_length_pair)."""
    if hp.get("decay", "linear") != "linear" or hp.get("end_learning_rate_fraction", 0.0) != 0.0:
        raise ValueError("the reference's WarmupLinear schedule needs decay='linear' to 0")
    if hp.get("loss", "pointwise") != "pointwise" or hp.get("pointwise_loss") != "sigmoid_cross_entropy":
        raise ValueError("the reference's loss is BCEWithLogits: use loss='pointwise', "
                         "pointwise_loss='sigmoid_cross_entropy'")
    steps = total_steps(train_pairs, hp)
    return {"batch_size": int(hp["batch_size"]), "epochs": int(hp["epochs"]),
            "learning_rate": float(hp["learning_rate"]),
            "warmup_steps": int(round(float(hp["warmup_fraction"]) * steps)),
            "weight_decay": float(hp["weight_decay"]),
            "max_grad_norm": float(hp["clip_norm"]) if hp.get("clip_norm") else 1e9,
            "max_length": MAX_LENGTH}


def ratios(systems: Dict[str, dict]) -> Dict[str, Dict[str, float]]:
    """ours / reference for training and scoring pairs/s, and the NDCG@10 gap, per train set."""
    out = {}
    for train_set in ("few", "full"):
        ours, ref = systems.get(f"ours_{train_set}"), systems.get(f"reference_{train_set}")
        if not ours or not ref:
            continue
        out[train_set] = {
            "train_pairs_per_s": ours["train_pairs_per_s"] / ref["train_pairs_per_s"],
            "score_pairs_per_s": ours["score_pairs_per_s"] / ref["score_pairs_per_s"],
            "ndcg@10_minus_reference": ours["ndcg@10"] - ref["ndcg@10"],
        }
    return out


# ------------------------------------------------------------------------------------------ rendering

def _fmt(value, digits: int = 4, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def _duration(seconds) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def render_markdown(report: Dict[str, Any]) -> str:
    """The results table, ratio lines, settings, machine and command, as Markdown."""
    systems = report.get("systems", {})
    lines = [f"# Encoder benchmark{' (QUICK smoke run: subsets, not comparable)' if report.get('quick') else ''}",
             "",
             f"PROTOCOL.md dev split: {report.get('dev_queries', '?')} queries, {report.get('dev_pairs', '?')} "
             f"pairs ({report.get('headline_queries', '?')} headline queries). Seed {report.get('seed')}. "
             f"Generated {report.get('finished') or report.get('started')}.",
             "",
             "| system | train set | pairs | epochs | NDCG@10 headline | NDCG@10 all | pairwise acc | "
             "train pairs/s | score pairs/s | wall time |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in report.get("planned", list(systems)):
        row = systems.get(name)
        if row is None:
            lines.append(f"| {SYSTEM_LABELS.get(name, name)} | {_train_set_label(name)} | – | – | "
                         f"missing | – | – | – | – | – |")
            continue
        lines.append(
            f"| {SYSTEM_LABELS.get(name, name)} | {row.get('train_set', '–')} | {_fmt(row.get('train_pairs'))} | "
            f"{_fmt(row.get('epochs'))} | {_fmt(row.get('ndcg@10'))} | {_fmt(row.get('ndcg@10_all'))} | "
            f"{_fmt(row.get('pairwise_accuracy'))} | {_fmt(row.get('train_pairs_per_s'), 1)} | "
            f"{_fmt(row.get('score_pairs_per_s'), 1)} | {_duration(row.get('wall_seconds'))} |")
    lines.append("")
    for train_set, r in report.get("ratios", {}).items():
        diff = report.get("paired", {}).get(train_set, {})
        lines.append(
            f"- **{train_set}-label, ours / reference**: training pairs/s x{r['train_pairs_per_s']:.2f}, "
            f"scoring pairs/s x{r['score_pairs_per_s']:.2f}; NDCG@10 ours - reference "
            f"{r['ndcg@10_minus_reference']:+.4f} (paired over {diff.get('queries', '?')} headline queries: "
            f"{_fmt(diff.get('mean'), 4)} +- {_fmt(diff.get('ci95'), 4)}, 95%)")
    targets = report.get("targets")
    if targets:
        lines += ["", "Targets of the issue (NDCG@10 within 0.005 of the reference or better; throughput ratios "
                      ">= 1):"]
        lines += [f"- {t['what']}: {'met' if t['met'] else 'NOT met'} ({t['detail']})" for t in targets]
    missing = [n for n in report.get("planned", []) if n not in systems]
    if missing:
        lines += ["", f"**Missing** (not run or not finished in this run): {', '.join(missing)}."]
        if report.get("missing_note"):
            lines.append(report["missing_note"])
    for note in report.get("notes", []):
        lines += ["", note]
    settings = report.get("settings")
    if settings:
        lines += ["", "## Settings", ""]
        lines += [f"- {k}: {v}" for k, v in settings.items()]
    machine = dict(report.get("machine") or {})
    torch_versions = next((row["versions"] for row in systems.values() if row.get("versions")), None)
    if torch_versions:
        machine["reference side (.venv-torch)"] = ", ".join(f"{k} {v}" for k, v in torch_versions.items())
    if machine:
        lines += ["", "## Machine and versions", ""]
        lines += [f"- {k}: {v}" for k, v in machine.items()]
    loads = [(name, row["load_average_before"], row["load_average_after"]) for name, row in systems.items()
             if row.get("load_average_before")]
    if loads:
        lines += ["", "Load average (1, 5, 15 min) before / after each system (the 2 cores are shared with "
                      "other work; throughput is comparable only between systems run under similar load):", ""]
        lines += [f"- {name}: {before} / {after}" for name, before, after in loads]
    if report.get("command"):
        lines += ["", "## Command", "", "```", report["command"], "```"]
    return "\n".join(lines) + "\n"


def _train_set_label(name: str) -> str:
    return "few-label" if name.endswith("_few") else "full-label" if name.endswith("_full") else "–"


def evaluate_targets(report: Dict[str, Any]) -> List[dict]:
    out = []
    for train_set, r in report.get("ratios", {}).items():
        gap = r["ndcg@10_minus_reference"]
        out.append({"what": f"{train_set}-label NDCG@10", "met": gap >= -0.005, "detail": f"{gap:+.4f}"})
        out.append({"what": f"{train_set}-label training throughput", "met": r["train_pairs_per_s"] >= 1.0,
                    "detail": f"x{r['train_pairs_per_s']:.2f}"})
        out.append({"what": f"{train_set}-label scoring throughput", "met": r["score_pairs_per_s"] >= 1.0,
                    "detail": f"x{r['score_pairs_per_s']:.2f}"})
    return out


# ------------------------------------------------------------------------------------------- systems

def _load_average() -> List[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def run_bm25(data, dev_pairs) -> dict:
    start = time.perf_counter()
    bm25 = BM25(data.catalog.values())
    scores = [bm25.score(p.query, p.product_title) for p in dev_pairs]
    return {"scores": scores, "train_set": "–", "train_pairs": 0, "epochs": None,
            "wall_seconds": time.perf_counter() - start}


def _export_dir() -> str:
    from models.encoder.export import export_encoder
    return export_encoder()  # returns at once when the cached export is current


def zero_shot_scores(encoder, pairs) -> List[float]:
    """Cosine of query and title embeddings: queries through `embed`, titles through the export's
    `embed_passage` when it has one (E5's "passage: " side), else `embed` too (MiniLM: symmetric). Each
    distinct text is embedded once, in batches of SCORE_BATCH in sorted order."""
    import numpy as np
    import tensorflow as tf

    def embed(function, texts: List[str]) -> Dict[str, np.ndarray]:
        unique = sorted(set(texts))
        vectors = [function(tf.constant(unique[i:i + SCORE_BATCH])).numpy()
                   for i in range(0, len(unique), SCORE_BATCH)]
        return dict(zip(unique, np.concatenate(vectors)))

    queries = embed(encoder.embed, [p.query for p in pairs])
    titles = embed(getattr(encoder, "embed_passage", encoder.embed), [p.product_title for p in pairs])
    return [float(np.dot(queries[p.query], titles[p.product_title])) for p in pairs]


def run_zero_shot(dev_pairs, encoder_name: Optional[str] = None) -> dict:
    """The encoder export `encoder_name` (models.encoder.EXPORTERS; None: our MiniLM export) zero-shot."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  registers the SavedModel's ops

    start = time.perf_counter()
    if encoder_name is None:
        encoder = tf.saved_model.load(_export_dir())
    else:
        from models import cross_encoder
        encoder = tf.saved_model.load(cross_encoder.resolve_encoder_handle(encoder_name))
    score_start = time.perf_counter()
    scores = zero_shot_scores(encoder, dev_pairs)
    score_seconds = time.perf_counter() - score_start
    return {"scores": scores, "train_set": "–", "train_pairs": 0, "epochs": None,
            "score_seconds": score_seconds, "wall_seconds": time.perf_counter() - start,
            "note": "embeds each distinct query and title once (batch 64), cosine of the L2-normalised means"
                    + ("; titles with the passage form (embed_passage)" if hasattr(encoder, "embed_passage")
                       else "")}


def our_hparams(overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    from models import cross_encoder

    return {**cross_encoder.DEFAULT_HPARAMS, **(overrides or {})}


class _StepTimer:
    """Keras callback stamping the clock at the end of every training step."""

    def __new__(cls):
        import tf_keras

        class StepTimer(tf_keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.step_ends: List[float] = []

            def on_train_batch_end(self, batch, logs=None):
                self.step_ends.append(time.perf_counter())
        return StepTimer()


def make_scorer(model, options: Dict[str, Any]):
    """A tf.function scoring raw string batches (fixed [None] signature: one trace for every batch)."""
    import tensorflow as tf

    spec = tf.TensorSpec([None], tf.string)

    @tf.function(input_signature=[spec, spec], jit_compile=options.get("score_jit_compile") or None)
    def score(query, title):
        return model({"query": query, "product_title": title}, training=False)
    return score


def score_in_batches(score_fn, pairs: Sequence[homedepot.Pair], batch: int = SCORE_BATCH, model=None):
    """(scores in the pairs' order, seconds) after one warm-up batch. Batches of similar length
    (cross_encoder.score_length_sorted: each batch is padded to its longest pair, and CrossEncoder.predict
    sorts its input too): by token count when the model is given (the counting is timed too), else by
    characters."""
    import tensorflow as tf

    from models import cross_encoder

    queries = [p.query for p in pairs]
    titles = [p.product_title for p in pairs]
    score_fn(tf.constant(queries[:batch]), tf.constant(titles[:batch]))  # warm-up (trace, first allocations)
    start = time.perf_counter()
    lengths = cross_encoder.pair_token_lengths(model, queries, titles) if model is not None else None
    scores = cross_encoder.score_length_sorted(score_fn, queries, titles, batch, lengths)
    return scores.tolist(), time.perf_counter() - start


def run_ours(train_pairs, dev_pairs, hp: Dict[str, Any], seed: int, options: Dict[str, Any],
             encoder_dir: str, weights: Optional[Sequence[float]] = None, keep_model: bool = False,
             steps: Optional[int] = None, callbacks: Sequence = ()) -> dict:
    """Fine-tunes our cross-encoder on train_pairs (weighted if given) and scores dev_pairs; the result's
    "model" is the trained keras model when keep_model. With `steps`, only the first `steps` optimizer steps
    of the run (full batches of the first epoch; the learning-rate schedule stays the whole run's). Extra
    keras `callbacks` go to fit."""
    import tensorflow as tf
    import tf_keras

    from models import cross_encoder

    start = time.perf_counter()
    tf_keras.utils.set_random_seed(seed)
    model = cross_encoder.build_cross_encoder(encoder_dir, hparams=hp)
    batch, epochs = int(hp["batch_size"]), int(hp["epochs"])
    if steps is not None and not 0 < steps <= len(train_pairs) // batch:
        raise ValueError(f"steps must be 1..{len(train_pairs) // batch} (full batches of one epoch), not {steps}")
    trained = steps * batch if steps else len(train_pairs) * epochs
    cross_encoder.compile_cross_encoder(model, hp, total_steps(len(train_pairs), hp))
    if options.get("train_jit_compile"):
        model.jit_compile = True
    dataset = make_dataset(train_pairs, batch, shuffle_seed=seed, weights=weights)
    timer = _StepTimer()
    train_start = time.perf_counter()
    history = model.fit(dataset, epochs=1 if steps else epochs, steps_per_epoch=steps, verbose=0,
                        callbacks=[timer, *callbacks])
    train_seconds = time.perf_counter() - train_start

    scores, score_seconds = score_in_batches(make_scorer(model, options), dev_pairs, model=model)
    kept = {"model": model} if keep_model else {}
    return {**kept,
        "scores": scores, "train_pairs": len(train_pairs), "epochs": epochs, "steps": len(timer.step_ends),
        "train_seconds": train_seconds,
        "train_pairs_per_s": steady_rate(timer.step_ends, trained, min(batch, len(train_pairs))),
        "train_pairs_per_s_overall": trained / train_seconds,
        "score_seconds": score_seconds, "score_pairs_per_s": len(dev_pairs) / score_seconds,
        "final_loss": float(history.history["loss"][-1]),
        "wall_seconds": time.perf_counter() - start,
        "tf_threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                       "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
    }


def run_reference(train_ids, dev_ids, train_pairs: int, hp: Dict[str, Any], seed: int, data_dir: str,
                  system: str, workdir: str, job_extra: Optional[Dict[str, Any]] = None) -> dict:
    """benchmarks/torch_cross_encoder.py in .venv-torch on these ids; `job_extra` adds or overrides job keys
    (threads, train_steps, max_dev_pairs: see that module)."""
    if not TORCH_PYTHON.exists():
        raise RuntimeError(f"{TORCH_PYTHON} missing: run `bash scripts/setup_torch_env.sh`")
    job = {"system": system, "data_dir": data_dir, "train_query_ids": list(train_ids),
           "dev_query_ids": list(dev_ids), "hparams": reference_hparams(hp, train_pairs), "seed": seed, "threads": 2,
           "score_batch_size": SCORE_BATCH, **(job_extra or {})}
    result = run_job(TORCH_PYTHON, "benchmarks.torch_cross_encoder", job, workdir, system)
    result["old_fit_args"] = job["hparams"]
    return result


def run_job(python: pathlib.Path, module: str, job: Dict[str, Any], workdir: str, name: str,
            flags: Sequence[str] = ("--job", "--output"), env: Optional[Dict[str, str]] = None) -> dict:
    """`python -m module <flags[0]> job.json <flags[1]> out.json` in a fresh process, from the repository, with
    this process's TF_* variables and PYTHONPATH dropped (each side runs at its library's defaults), Hugging
    Face offline, plus `env`; returns the JSON it wrote, with subprocess_seconds."""
    job_path, out_path = os.path.join(workdir, f"{name}.job.json"), os.path.join(workdir, f"{name}.out.json")
    with open(job_path, "w", encoding="utf-8") as f:
        json.dump(job, f)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PYTHONPATH"))}
    child_env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(REPO), **(env or {}))
    start = time.perf_counter()
    done = subprocess.run([str(python), "-m", module, flags[0], job_path, flags[1], out_path], cwd=str(REPO),
                          env=child_env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    with open(out_path, encoding="utf-8") as f:
        result = json.load(f)
    result["subprocess_seconds"] = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------------------------- driver

def machine_info() -> Dict[str, Any]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    except OSError:
        pass
    info = {"cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}
    try:
        import tensorflow as tf
        import tf_keras
        info.update(tensorflow=tf.__version__, tf_keras=tf_keras.__version__)
    except ImportError:
        pass
    return info


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.encoder_benchmark",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="folder for encoder_benchmark.json and .md")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: {QUICK_DEV_QUERIES} dev queries, {QUICK_FEW_QUERIES} few-label and "
                             f"{QUICK_FULL_QUERIES} full-label training queries")
    parser.add_argument("--systems", default=",".join(ALL_SYSTEMS),
                        help=f"comma-separated subset of {','.join(ALL_SYSTEMS)}")
    parser.add_argument("--data", default=str(homedepot.DEFAULT_DIR), help="the homedepot folder")
    parser.add_argument("--few-hparams", default="{}", help="JSON overrides of our DEFAULT_HPARAMS, few-label")
    parser.add_argument("--full-hparams", default="{}", help="JSON overrides for full-label (after "
                        f"{FULL_LABEL_OVERRIDES})")
    parser.add_argument("--render-only", action="store_true",
                        help="only re-render OUTPUT/encoder_benchmark[_quick].md from its JSON")
    parser.add_argument("--torch-threads", type=int, default=2,
                        help="the reference's torch threads (2 = the cores TF uses; on a machine shared with other "
                        "work torch is much faster at 1: benchmarks/results/throughput_benchmark.md)")
    parser.add_argument("--train-jit-compile", action="store_true", help="XLA for our training step")
    parser.add_argument("--score-jit-compile", action="store_true", help="XLA for our scoring function")
    args = parser.parse_args(argv)
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(args.systems) - set(ALL_SYSTEMS)
    if unknown:
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")
    return args


def _write(report: Dict[str, Any], output: str, name: str) -> None:
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(output, f"{name}.md"), "w", encoding="utf-8") as f:
        f.write(render_markdown(report))


def run(args) -> Dict[str, Any]:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    name = RESULT_NAME + ("_quick" if args.quick else "")
    data = homedepot.load(args.data)
    ids = splits(data, args.quick, args.seed)
    dev = select(data.pairs, ids["dev"])
    train = {"few": select(data.pairs, ids["few_label"]), "full": select(data.pairs, ids["full_label"])}
    options = {"train_jit_compile": args.train_jit_compile, "score_jit_compile": args.score_jit_compile}
    headline = metrics.evaluate(judged(dev, [0.0] * len(dev)))["headline_queries"]
    report: Dict[str, Any] = {
        "quick": args.quick, "seed": args.seed, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": "TF_USE_LEGACY_KERAS=1 .venv/bin/python -m benchmarks.encoder_benchmark "
                   + " ".join(sys.argv[1:] if args.argv is None else args.argv),
        "dev_queries": len(ids["dev"]), "dev_pairs": len(dev), "headline_queries": headline,
        "planned": list(args.systems), "systems": {}, "machine": machine_info(), "notes": [],
    }
    hparams = {}
    if any(s.startswith("ours") or s.startswith("reference") for s in args.systems):
        seed = {"seed": args.seed}
        hparams["few"] = our_hparams({**seed, **json.loads(args.few_hparams)})
        hparams["full"] = our_hparams({**seed, **FULL_LABEL_OVERRIDES, **json.loads(args.full_hparams)})
        report["settings"] = {
            "few-label hparams": json.dumps(hparams["few"], sort_keys=True),
            "full-label hparams": json.dumps(hparams["full"], sort_keys=True),
            "target / loss": "normalised gain (relevance - 1) / 2 in [0, 1]; sigmoid cross-entropy on the "
                             "logit (ours: compile_cross_encoder's loss; reference: BCEWithLogitsLoss, the "
                             "CrossEncoder default for num_labels=1)",
            "throughput": "training: pairs/s after the first step (steady state); scoring: whole dev split, "
                          f"batch {SCORE_BATCH}, after one warm-up batch, tokenisation included; "
                          "ours then reference, sequentially, never concurrently",
            "threads": f"TF defaults (intra/inter 0 = all cores); torch.set_num_threads({args.torch_threads})",
            "our options": json.dumps(options),
        }
    if "settings" in report:
        report["notes"].append(
            "**Known differences between ours and the reference** (everything else is matched): the head "
            "(ours: dropout 0.1 + Dense(1) on the [CLS] state; the reference's BertForSequenceClassification: "
            "the pretrained BERT pooler dense+tanh on [CLS], dropout 0.1, Linear(1)); AdamW epsilon (ours "
            "1e-6, torch default 1e-8); warm-up (ours lr*(step+1)/warmup, HF lr*step/warmup); the reference "
            "strips texts before tokenising; random initialisation of the head and shuffling differ.")
    per_query: Dict[str, Dict[str, float]] = {}
    encoder_dir = None
    with tempfile.TemporaryDirectory(prefix="encoder_benchmark_") as workdir:
        for system in args.systems:
            print(f"[encoder_benchmark] {system} ...", flush=True)
            load_before = _load_average()
            train_set = "few" if system.endswith("_few") else "full" if system.endswith("_full") else None
            if system == "bm25":
                result = run_bm25(data, dev)
            elif system == "zero_shot":
                result = run_zero_shot(dev)
            elif system.startswith("ours"):
                if encoder_dir is None:
                    encoder_dir = _export_dir()
                    report["settings"]["our encoder"] = f"the project's export ({encoder_dir})"
                result = run_ours(train[train_set], dev, hparams[train_set], args.seed, options, encoder_dir)
            else:
                result = run_reference(ids[f"{train_set}_label"], ids["dev"], len(train[train_set]),
                                       hparams[train_set], args.seed,
                                       args.data, system, workdir, {"threads": args.torch_threads})
            scores = result.pop("scores")
            queries = judged(dev, scores)
            figures = metrics.evaluate(queries)
            per_query[system] = metrics.per_query_ndcg(queries)
            if train_set:
                result["train_set"] = f"{train_set}-label ({len(ids[train_set + '_label'])} queries)"
            result.update({k: v for k, v in figures.items() if k not in ("queries",)})
            result["load_average_before"], result["load_average_after"] = load_before, _load_average()
            report["systems"][system] = result
            report["ratios"] = ratios(report["systems"])
            report["paired"] = {s: paired_difference(per_query[f"ours_{s}"], per_query[f"reference_{s}"])
                                for s in report["ratios"]}
            report["targets"] = evaluate_targets(report)
            _write(report, args.output, name)
            print(f"[encoder_benchmark] {system}: NDCG@10 {figures['ndcg@10']:.4f} "
                  f"all {figures['ndcg@10_all']:.4f} pairwise {figures['pairwise_accuracy']:.4f} "
                  f"({result.get('wall_seconds', 0):.0f} s)", flush=True)
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    _write(report, args.output, name)
    return report


def main(argv=None) -> int:
    args = _parse(argv)
    args.argv = argv
    if args.render_only:
        name = RESULT_NAME + ("_quick" if args.quick else "")
        with open(os.path.join(args.output, f"{name}.json"), encoding="utf-8") as f:
            report = json.load(f)
        _write(report, args.output, name)
        print(render_markdown(report))
        return 0
    report = run(args)
    print(render_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
