"""Augmentation benchmark (issue 4): how much LLM query generation and embedding retrieval, labelled by the
few-label teacher and filtered, improve the fine-tuned cross-encoder, on PROTOCOL.md's dev split (Home Depot) or
on the eval split of one of our samples, with either pretrained encoder (issue 7 item 3).

    TF_USE_LEGACY_KERAS=1 .venv/bin/python -m benchmarks.augmentation_benchmark --output benchmarks/results \\
        [--data DIR] [--encoder all-MiniLM-L6-v2|multilingual-e5-small] [--seeds 42,43,44] \\
        [--generate-products N] [--systems ...] [--quick]

Systems: BM25 and the encoder zero-shot (no training, once); per seed: `few_label` (the cross-encoder
fine-tuned on the 400 few-label queries), `labeller` (TeacherLabeling's label on the dev pairs: the
few-label cross-encoder in an ensemble with the calibrated zero-shot cosine; a few-label system itself, and
the teacher of the students), `generation`, `retrieval` and `both` (students
fine-tuned on the few labels plus that method's kept samples), `distil` (a student distilling the labeller:
every candidate at full weight, the judged pairs relabelled halfway to the labeller; DISTIL_* below),
`both_ensemble` / `distil_ensemble` (those students served as the pipeline serves its model: in an ensemble
with the zero-shot cosine, ENSEMBLES), and `full_label` (the ceiling). Each of HEADLINE_SYSTEMS is checked
against the issue's targets.

The augmentation runs the components' own code, minus TFX plumbing: QueryGeneration's
`generate_for_products` with the pipeline's QG_* settings (SmolLM2 through llama-cpp-python) on a seeded
choice of catalogue products, Retrieval's `find_candidates` over the whole catalogue with the encoder
export, the teacher's labels through TeacherLabeling's `calibrate` and `annotate`, and `filtering.select` with the dev
queries as the eval split (no dev query or near duplicate reaches training). The settings are
pipeline/configs.py's AUGMENTATION; training hyper-parameters are models.cross_encoder's DEFAULT_HPARAMS
(as the encoder benchmark's `ours_few`), the same for teacher and students.

--encoder picks the pretrained encoder of every part: the zero-shot system (queries through `embed`, titles
through the passage form where the export has one: E5), the cross-encoders (encoder_handle = the name,
resolved by models.cross_encoder) and the TextEncoder of retrieval, the eval guard and the labeller's cosine.

--data takes the Home Depot folder (default) or a folder in our sample format (benchmarks/datasets.py: the
pipeline's own rows and train/eval split; dev = the eval split, few-label = the train split, relevance 0..3
mapped so that the training target is the pipeline's label). A sample is trained as the pipeline trains
(SAMPLE_HPARAMS_FROM_CONFIGS taken from configs.CROSS_ENCODER_HPARAMS: batch 16, lr 1e-4, 3 epochs, i.e.
about the Trainer's 150 steps on the ~700 train rows; no early stopping, which would need the eval split),
generates for configs.QG_MAX_PRODUCTS products by default, and has no full-label ceiling (every labelled
query outside the eval split already trains the few-label model).

Writes OUTPUT/<result_name>.{json,md,png} (aggregates only: the Home Depot data stays in ../shared):
augmentation_benchmark for Home Depot with MiniLM (the issue-4 report), else
augmentation_benchmark_<data set>_<encoder>; rewritten after every system; a second run with other --seeds
adds them to the same report. benchmarks/encoder_comparison.py tabulates every such report.
"""
import argparse
import collections
import dataclasses
import json
import math
import os
import statistics
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from benchmarks import datasets, homedepot
from benchmarks import encoder_benchmark as eb
from models import ranking_metrics as metrics
from pipeline import configs

RESULT_NAME = "augmentation_benchmark"
BASELINES = ("bm25", "zero_shot")
TRAINED = ("few_label", "labeller", "generation", "retrieval", "both", "both_ensemble", "distil", "distil_ensemble",
           "full_label")
FEW_LABEL_SYSTEMS = ("bm25", "zero_shot", "few_label", "labeller")  # what augmentation has to beat
HEADLINE_SYSTEMS = ("both", "both_ensemble", "distil", "distil_ensemble")  # checked against the targets
# A student as the pipeline serves it (configs.SERVE_ZERO_SHOT_WEIGHT): in an ensemble with the zero-shot cosine
# calibrated on the few labels, as the Trainer exports it (models/zero_shot_ensemble.py).
ENSEMBLES = {"both_ensemble": "both", "distil_ensemble": "distil"}
ALL_SYSTEMS = BASELINES + TRAINED
VARIANTS = {"generation": ("generated",), "retrieval": ("retrieved",), "both": ("generated", "retrieved")}
PLOTTED = ("few_label",) + tuple(VARIANTS) + HEADLINE_SYSTEMS[1:]  # points of the PNG
LABELS = {"bm25": "BM25", "zero_shot": "encoder zero-shot", "few_label": "few-label cross-encoder, no augmentation",
          "labeller": "few-label cross-encoder + zero-shot ensemble (the teacher's label), no augmentation",
          "generation": "few-label + generation", "retrieval": "few-label + retrieval",
          "both": "few-label + generation + retrieval",
          "both_ensemble": "few-label + generation + retrieval, served with the zero-shot ensemble (the pipeline)",
          "distil": "few-label + distillation of the labeller (every candidate, judged pairs relabelled)",
          "distil_ensemble": "few-label + distillation, served with the zero-shot ensemble",
          "full_label": "full-label (ceiling)"}
QUICK = {"dev": 60, "few": 30, "full": 60, "catalog": 3000, "products": 6, "epochs": 1}
LLM_THREADS = 2  # the benchmark has the machine to itself; the pipeline's default is 1 per Beam worker
DEFAULT_ENCODER = "all-MiniLM-L6-v2"  # the issue-4 report's encoder (models.encoder.DEFAULT_ENCODER)
HOMEDEPOT_GENERATE_PRODUCTS = 400
# The pipeline's training length on a sample: these keys of configs.CROSS_ENCODER_HPARAMS (its `epochs` are
# rounds of TRAIN_STEPS = 150 steps; here 3 passes over the ~700 train rows of a sample, ~130 steps).
SAMPLE_HPARAMS_FROM_CONFIGS = ("batch_size", "learning_rate", "warmup_fraction", "decay", "loss", "epochs")
# `distil`: knowledge distillation of the labeller instead of filtering for confident samples. The student
# learns the labeller's soft label on every candidate it can get (more catalogue neighbours; no confidence or
# round-trip filter, the soft label carries the doubt; the eval guards stay), at full weight, and on the judged
# few-label pairs a target halfway between the human grade and the labeller's label; fewer epochs over the
# larger set.
DISTIL_RETRIEVAL = {"products_per_query": 20}
DISTIL_LABELING = {"min_confidence": 0.0, "round_trip_top_k": 1_000_000, "retrieval_top_k": 0,
                   "max_per_query": 40, "max_per_product": 40, "weight_generated": 1.0, "weight_retrieved": 1.0}
DISTIL_RELABEL = 0.5  # share of the labeller's label in a judged pair's target
DISTIL_EPOCHS = 2
NO_CEILING_NOTE = ("**No full-label ceiling on a sample**: every labelled query outside the eval split is "
                   "already the few-label training set (the pipeline's train split), so there is no larger "
                   "labelled set to train an upper bound on; gap closed is not computed.")


def system_label(name: str, encoder: str = DEFAULT_ENCODER) -> str:
    """The system's label in the reports; the zero-shot one names its encoder."""
    return f"{encoder} zero-shot" if name == "zero_shot" else LABELS[name]


def result_name(dataset: str, encoder: str = DEFAULT_ENCODER, quick: bool = False) -> str:
    """File name (no extension) of a run's report: augmentation_benchmark for Home Depot with MiniLM (the
    issue-4 report keeps its name), else augmentation_benchmark_<dataset>_<encoder>; _quick for a smoke run."""
    name = RESULT_NAME if (dataset, encoder) == ("homedepot", DEFAULT_ENCODER) else f"{RESULT_NAME}_{dataset}_{encoder}"
    return name + ("_quick" if quick else "")


# ------------------------------------------------------------------------------------------------ data

def augmented_pair(row: Dict[str, Any]) -> homedepot.Pair:
    """A kept training row (soft relevance on the project's scale) as a Home Depot pair with the same
    normalised gain, so that the encoder benchmark's `target` maps it back to the teacher's gain."""
    from models import features
    gain = (row[features.RELEVANCE] - features.RELEVANCE_MIN) / (features.RELEVANCE_MAX - features.RELEVANCE_MIN)
    return homedepot.Pair(row[features.QUERY_ID], row[features.QUERY], row[features.PRODUCT_ID],
                          row[features.PRODUCT_TITLE], homedepot.RELEVANCE_MIN + eb.GAIN_SCALE * gain)


def labelled_rows(pairs: Sequence[homedepot.Pair]) -> List[dict]:
    """Few-label pairs as the components' row dicts (relevance on the project's scale, for the filters)."""
    from models import features
    scale = (features.RELEVANCE_MAX - features.RELEVANCE_MIN) / eb.GAIN_SCALE
    return [{features.QUERY_ID: p.query_id, features.QUERY: p.query, features.PRODUCT_ID: p.product_id,
             features.PRODUCT_TITLE: p.product_title, features.RELEVANCE: features.RELEVANCE_MIN + p.gain * scale}
            for p in pairs]


def relabelled(pair: homedepot.Pair, labeller_gain: float, share: float = DISTIL_RELABEL) -> homedepot.Pair:
    """A judged pair whose target moved `share` of the way from its grade to the labeller's gain."""
    gain = (1 - share) * eb.target(pair.relevance) + share * labeller_gain
    return dataclasses.replace(pair, relevance=homedepot.RELEVANCE_MIN + eb.GAIN_SCALE * gain)


def paired_of(entry: Dict[str, Any], system: str, other: str) -> Optional[Dict[str, Any]]:
    """A seed's paired difference `system - other`, if measured (reports from before the distil systems keyed
    `both`'s differences by the other system alone)."""
    found = entry.get("paired", {})
    return found.get(f"{system} - {other}") or (found.get(other) if system == "both" else None)


def gap_closed(value: float, few: float, ceiling: float) -> float:
    """Share of the few -> ceiling gap that `value` closes (NaN when there is no gap)."""
    return (value - few) / (ceiling - few) if ceiling - few > 1e-12 else math.nan


def spread(values: Sequence[float]) -> Dict[str, float]:
    """Mean, min, max and sample standard deviation of per-seed figures."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return {"mean": math.nan, "min": math.nan, "max": math.nan, "std": math.nan, "n": 0}
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


# ------------------------------------------------------------------------------------------ augmentation

class Augmenter:
    """The components' augmentation steps on the benchmark's data; catalogue embeddings are made once."""

    def __init__(self, data: homedepot.HomeDepot, catalog_ids: Sequence[str], dev_queries: Sequence[str],
                 encoder_dir: str, log):
        from components.retrieval.embedding import TextEncoder
        from components.retrieval.index import ExactIndex

        self.log, self.timings, self._dev_cosines = log, {}, None
        self.encoder_handle = encoder_dir
        self.encoder = TextEncoder(encoder_dir, batch_size=eb.SCORE_BATCH)
        self.titles = {pid: data.catalog[pid] for pid in catalog_ids}
        start = time.perf_counter()
        self.index = ExactIndex(list(catalog_ids),
                                 self.encoder.embed_passages([self.titles[p] for p in catalog_ids]))
        self.dev_queries = sorted(set(dev_queries))
        self.dev_vectors = self.encoder.embed(self.dev_queries)
        seconds = time.perf_counter() - start
        texts = len(catalog_ids) + len(self.dev_queries)
        self.timings["embed_catalog"] = {"texts": texts, "seconds": seconds, "texts_per_s": texts / seconds}
        log(f"embedded {len(catalog_ids)} catalogue titles and {len(self.dev_queries)} dev queries in {seconds:.0f} s")

    def generate(self, seed: int, products: int, labelled_queries: Sequence[str],
                 threads: int = LLM_THREADS) -> Dict[str, Any]:
        """Generated query rows for `products` catalogue products (the component's seeded choice)."""
        from components.augmentation import llm_backends
        from components.query_generation import executor as qg

        args = configs.AUGMENTATION.generation_args
        settings = qg.Settings.from_exec_properties({
            **args, "seed": seed, "max_products": products,
            "backend_config": json.dumps({**args["backend_config"], "n_threads": threads})})
        chosen = sorted(self.index.ids, key=lambda pid: qg.product_rank(seed, pid))[:products]
        backend = llm_backends.create(settings.backend, settings.backend_config)
        rows, stats = [], collections.Counter()
        start = time.perf_counter()
        try:
            for first in range(0, len(chosen), settings.batch_size):
                batch = [qg.Product(pid, self.titles[pid]) for pid in chosen[first:first + settings.batch_size]]
                for result in qg.generate_for_products(backend, batch, settings, labelled_queries):
                    rows += result.rows
                    stats.update(result.stats)
                done = min(first + settings.batch_size, len(chosen))
                if done % (settings.batch_size * 5) == 0 or done == len(chosen):
                    rate = done / (time.perf_counter() - start)
                    self.log(f"generation: {done}/{len(chosen)} products, {len(rows)} queries kept "
                             f"({rate:.2f} products/s)")
        finally:
            backend.close()
        seconds = time.perf_counter() - start
        return {"rows": rows, "stats": {k: round(v, 2) for k, v in sorted(stats.items())},
                "products": len(chosen), "seconds": seconds, "products_per_s": len(chosen) / seconds,
                "queries_per_s": len(rows) / seconds, "backend": backend.describe()}

    def candidates(self, labelled: Sequence[dict], generated: Sequence[dict],
                   overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Retrieval's candidates of every method (generated rows and labelled queries as in the component),
        with the pipeline's retrieval settings but for `overrides`."""
        from components.retrieval import candidates as retrieval
        from models import features

        start = time.perf_counter()
        texts, judged = retrieval.labelled_queries(labelled)
        titles = {**self.titles, **{r[features.PRODUCT_ID]: r[features.PRODUCT_TITLE] for r in labelled}}
        rows, stats = retrieval.find_candidates(
            texts, judged, self.encoder.embed(list(texts.values())), generated,
            self.encoder.embed([g[features.QUERY] for g in generated]), self.index, titles,
            retrieval.Settings(**{**configs.AUGMENTATION.retrieval_args, **(overrides or {})}))
        return {"rows": rows, "stats": stats.as_dict(), "seconds": time.perf_counter() - start}

    def label(self, rows: List[dict], teacher_score, settings, views_fit) -> Dict[str, Any]:
        """The candidates with the teacher's label and their query's nearest dev query (TeacherLabeling's
        `annotate`), and the stage's timings."""
        import tensorflow as tf

        from components.teacher_labeling.executor import annotate
        from models import features

        start = time.perf_counter()
        scores = []
        for first in range(0, len(rows), eb.SCORE_BATCH):
            batch = rows[first:first + eb.SCORE_BATCH]
            batch_scores = teacher_score(tf.constant([r[features.QUERY] for r in batch]),
                                         tf.constant([r[features.PRODUCT_TITLE] for r in batch]))
            scores += batch_scores.numpy().reshape(-1).tolist()
        score_seconds = time.perf_counter() - start
        labelled = annotate(rows, scores, settings, [self.encoder], self.dev_vectors, views_fit)
        return {"rows": labelled, "pairs": len(rows), "score_seconds": score_seconds,
                "scored_pairs_per_s": len(rows) / score_seconds if score_seconds else math.nan,
                "seconds": time.perf_counter() - start}

    def select(self, rows: Sequence[dict], origins: Sequence[str], labelled: Sequence[dict], settings):
        from components.query_generation.sanitize import normalise
        from models import features

        from components.teacher_labeling import filtering

        chosen = [r for r in rows if r[features.ORIGIN] in origins]
        return filtering.select(chosen, labelled, self.dev_queries, settings, normalise)

    def labeller_scores(self, dev: Sequence[homedepot.Pair], cross_encoder_dev_scores: Sequence[float], settings,
                        views_fit) -> List[float]:
        """TeacherLabeling's label of each dev pair with this cross-encoder's scores: with the teacher's, what
        the students learn from, scored on the dev split; with a student's, that student served likewise."""
        from components.teacher_labeling import filtering
        from components.teacher_labeling.executor import pair_cosines

        if self._dev_cosines is None or len(self._dev_cosines) != len(dev):
            self._dev_cosines = pair_cosines(self.encoder, labelled_rows(dev))
        views_fit = dataclasses.replace(views_fit, zero_shot_weight=settings.zero_shot_weight)
        return [views_fit.label(filtering.gain_of(float(t), settings.teacher_score), [float(c)])
                for t, c in zip(cross_encoder_dev_scores, self._dev_cosines)]


# ------------------------------------------------------------------------------------------------ report

def aggregate(report: Dict[str, Any]) -> Dict[str, Any]:
    """Per system: mean / spread over seeds of the metrics, gap closed and augmented samples; paired
    differences of `both`; the issue's targets."""
    seeds = report["seeds"]
    out: Dict[str, Any] = {"systems": {}, "targets": []}
    for name in ALL_SYSTEMS:
        rows = [seeds[s]["systems"][name] for s in seeds if name in seeds[s]["systems"]]
        if name in BASELINES and name in report.get("baselines", {}):
            rows = [report["baselines"][name]]
        if not rows:
            continue
        out["systems"][name] = {k: spread([r.get(k, math.nan) for r in rows])
                                for k in ("ndcg@10", "ndcg@10_all", "pairwise_accuracy", "augmented_kept")}
    means = {n: s["ndcg@10"]["mean"] for n, s in out["systems"].items()}
    ceiling = means.get("full_label", report.get("ceiling", {}).get("ndcg@10", math.nan))
    best_few = max((means[n] for n in FEW_LABEL_SYSTEMS if n in means), default=math.nan)
    for name in tuple(VARIANTS) + HEADLINE_SYSTEMS[1:]:
        per_seed = [gap_closed(seeds[s]["systems"][name]["ndcg@10"], seeds[s]["systems"]["few_label"]["ndcg@10"],
                               seeds[s]["systems"].get("full_label", {}).get("ndcg@10", ceiling))
                    for s in seeds if name in seeds[s]["systems"] and "few_label" in seeds[s]["systems"]]
        if name in out["systems"]:
            out["systems"][name]["gap_closed"] = spread(per_seed)
            out["systems"][name]["gap_closed_from_best_few"] = gap_closed(means[name], best_few, ceiling)
    for system in HEADLINE_SYSTEMS:
        if system not in means:
            continue
        for other in FEW_LABEL_SYSTEMS + ("generation", "retrieval"):
            if other in means:
                need = 0.01 if other == "few_label" else 0.005
                diff = means[system] - means[other]
                out["targets"].append({"what": f"{system} - {other} >= +{need}", "met": diff >= need,
                                       "detail": f"{diff:+.4f}"})
        half = out["systems"][system].get("gap_closed_from_best_few", math.nan)
        if not math.isnan(ceiling):  # a sample has no ceiling: no gap to close
            out["targets"].append({"what": f"{system} closes >= half of the gap from the best few-label system "
                                           "to full-label", "met": half >= 0.5,
                                   "detail": f"{half:.2f}" if not math.isnan(half) else "–"})
    out["ceiling_source"] = ("full_label in this run" if "full_label" in means
                             else report.get("ceiling", {}).get("source", "none"))
    return out


def _f(value, digits=4) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _ms(s: Optional[Dict[str, float]], digits=4) -> str:
    if not s or not s.get("n"):
        return "–"
    text = _f(s["mean"], digits)
    return text + (f" ± {_f(s['std'], digits)} [{_f(s['min'], digits)}, {_f(s['max'], digits)}]"
                   if s["n"] > 1 else "")


def render_markdown(report: Dict[str, Any]) -> str:
    agg = report.get("aggregate", {})
    seeds = sorted(report.get("seeds", {}), key=int)
    encoder = report.get("encoder", DEFAULT_ENCODER)
    lines = [f"# Augmentation benchmark: {report.get('dataset', 'homedepot')}, {encoder}"
             f"{' (QUICK smoke run: subsets, not comparable)' if report.get('quick') else ''}",
             "", f"{report.get('split', 'PROTOCOL.md dev split')}: {report.get('dev_queries')} queries, "
             f"{report.get('dev_pairs')} pairs "
             f"({report.get('headline_queries')} headline queries). Seeds: {', '.join(seeds) or '–'} "
             "(mean ± std [min, max] over seeds where more than one). Updated "
             f"{report.get('updated')}.", "",
             "| system | NDCG@10 headline | NDCG@10 all | pairwise acc | augmented samples kept | gap closed |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name in ALL_SYSTEMS:
        s = agg.get("systems", {}).get(name)
        if s is None and name == "full_label" and "ndcg@10" in report.get("ceiling", {}):
            lines.append(f"| {system_label(name, encoder)} | {_f(report['ceiling']['ndcg@10'])} (not run here: "
                         f"{report['ceiling'].get('source', '–')}) | | | | |")
            continue
        if s is None:
            lines.append(f"| {system_label(name, encoder)} | not run | | | | |")
            continue
        lines.append(f"| {system_label(name, encoder)} | {_ms(s['ndcg@10'])} | {_ms(s['ndcg@10_all'])} | "
                     f"{_ms(s['pairwise_accuracy'])} | {_ms(s['augmented_kept'], 0)} | "
                     f"{_ms(s.get('gap_closed'), 2)} |")
    lines += ["", f"Gap closed = (NDCG[method] - NDCG[few-label]) / (NDCG[full-label] - NDCG[few-label]) per seed "
                  f"(PROTOCOL.md); ceiling: {agg.get('ceiling_source', '–')}."]
    if agg.get("targets"):
        lines += ["", "Targets of the issue (means over seeds):", ""]
        lines += [f"- {t['what']}: {'met' if t['met'] else 'NOT met'} ({t['detail']})" for t in agg["targets"]]
    for seed in seeds:
        entry = report["seeds"][seed]
        lines += ["", f"## Seed {seed}", "", "| stage | figures | wall time |", "| --- | --- | ---: |"]
        for stage, figures in entry.get("stages", {}).items():
            shown = ", ".join(f"{k} {_f(v, 2) if isinstance(v, float) else v}" for k, v in figures.items()
                              if k != "seconds" and not isinstance(v, (dict, list)))
            lines.append(f"| {stage} | {shown} | {eb._duration(figures.get('seconds'))} |")
        lines.append("")
        for name, paired in entry.get("paired", {}).items():
            shown = name if " - " in name else f"both - {name}"  # reports before distil: keys are the other system
            lines.append(f"- {shown}, paired over {paired['queries']} headline queries: "
                         f"{_f(paired['mean'])} ± {_f(paired['ci95'])} (95%)")
        for variant, ledger in entry.get("ledgers", {}).items():
            lines.append(f"- {variant}: {ledger['candidates']} candidates -> {ledger['kept']} kept; rejected "
                         + ", ".join(f"{k} {v}" for k, v in sorted(ledger["rejected"].items(), key=lambda kv: -kv[1])))
    for note in report.get("notes", []):
        lines += ["", note]
    lines += ["", "## Settings", ""] + [f"- {k}: {v}" for k, v in report.get("settings", {}).items()]
    lines += ["", "## Machine", ""] + [f"- {k}: {v}" for k, v in report.get("machine", {}).items()]
    lines += ["", "## Commands", "", "```"] + report.get("commands", []) + ["```"]
    return "\n".join(lines) + "\n"


def render_plot(report: Dict[str, Any], path: str) -> None:
    """PNG: NDCG@10 (headline) against the number of augmented samples kept, one point per seed and
    method, with the baselines and the ceiling as horizontal lines (Pillow: no plotting library needed)."""
    from PIL import Image, ImageDraw

    points = [(entry["systems"][n].get("augmented_kept", 0), entry["systems"][n]["ndcg@10"], n)
              for entry in report.get("seeds", {}).values() for n in PLOTTED
              if n in entry["systems"]]
    lines = {n: s["ndcg@10"]["mean"] for n, s in report.get("aggregate", {}).get("systems", {}).items()
             if n in BASELINES + ("full_label",)}
    if "full_label" not in lines and report.get("ceiling"):  # the ceiling of another run (--ceiling-from)
        lines["full_label"] = report["ceiling"]["ndcg@10"]
    if not points:
        return
    width, height, left, right, top, bottom = 900, 560, 80, 230, 40, 60  # pixels: canvas and margins
    ys = [p[1] for p in points] + list(lines.values())
    y_lo, y_hi = min(ys) - 0.002, max(ys) + 0.002
    x_hi = max(p[0] for p in points) * 1.08 or 1
    sx = lambda x: left + (width - left - right) * x / x_hi  # noqa: E731
    sy = lambda y: top + (height - top - bottom) * (y_hi - y) / (y_hi - y_lo)  # noqa: E731
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for i in range(6):
        y = y_lo + (y_hi - y_lo) * i / 5
        draw.line([left - 4, sy(y), left, sy(y)], fill="black")
        draw.text((8, sy(y) - 6), f"{y:.4f}", fill="black")
        x = x_hi * i / 5
        draw.line([sx(x), height - bottom, sx(x), height - bottom + 4], fill="black")
        draw.text((sx(x) - 10, height - bottom + 8), f"{x:.0f}", fill="black")
    draw.text((left, 12), "NDCG@10 (headline, dev split) vs augmented samples kept", fill="black")
    labelled = report.get("few_label_pairs")
    draw.text((left + 200, height - 24), "augmented training samples kept (labelled: "
              f"{f'{labelled:,}' if isinstance(labelled, int) else '?'} pairs)", fill="black")
    encoder = report.get("encoder", DEFAULT_ENCODER)
    colours = {"few_label": "black", "generation": "darkorange", "retrieval": "royalblue", "both": "forestgreen",
               "both_ensemble": "limegreen", "distil": "darkcyan", "distil_ensemble": "magenta",
               "bm25": "gray", "zero_shot": "purple", "full_label": "firebrick"}
    for name, y in lines.items():
        draw.line([left, sy(y), width - right, sy(y)], fill=colours[name], width=1)
        draw.text((width - right + 6, sy(y) - 6), f"{system_label(name, encoder)} {y:.4f}", fill=colours[name])
    for x, y, name in points:
        draw.ellipse([sx(x) - 5, sy(y) - 5, sx(x) + 5, sy(y) + 5], fill=colours[name])
    # Legend by system name (the Markdown table has the long labels), in the plot's bottom-right corner, which
    # points rarely reach (few augmented samples sit left, and the baselines' lines lie above it).
    legend_x, legend_y = width - right - 120, height - bottom - 8 - 16 * len(PLOTTED)
    for i, name in enumerate(PLOTTED):
        y = legend_y + 16 * i
        draw.ellipse([legend_x, y + 2, legend_x + 8, y + 10], fill=colours[name])
        draw.text((legend_x + 14, y), name, fill=colours[name])
    image.save(path)


def write(report: Dict[str, Any], output: str, name: str) -> None:
    report["aggregate"] = aggregate(report)
    report["updated"] = time.strftime("%Y-%m-%d %H:%M:%S")
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(output, f"{name}.md"), "w", encoding="utf-8") as f:
        f.write(render_markdown(report))
    render_plot(report, os.path.join(output, f"{name}.png"))


# ------------------------------------------------------------------------------------------------ driver

def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.augmentation_benchmark",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="folder of the reports (<result name>.{json,md,png})")
    parser.add_argument("--seeds", default="42,43,44", help="comma-separated training / generation seeds")
    parser.add_argument("--systems", default=None,
                        help=f"subset of {','.join(ALL_SYSTEMS)} (default: all; on a sample all but full_label)")
    parser.add_argument("--generate-products", type=int, default=None,
                        help="catalogue products the LLM writes queries for, per seed (default: "
                             f"{HOMEDEPOT_GENERATE_PRODUCTS} on Home Depot, configs.QG_MAX_PRODUCTS = "
                             f"{configs.QG_MAX_PRODUCTS} on a sample)")
    parser.add_argument("--encoder", choices=configs.ENCODERS, default=DEFAULT_ENCODER,
                        help="the pretrained encoder of the zero-shot system, the cross-encoders and retrieval")
    parser.add_argument("--ceiling-from", default="",
                        help="without full_label in --systems: the encoder benchmark's JSON whose ours_full "
                             "NDCG@10 serves as the ceiling (same model code and hyper-parameters)")
    parser.add_argument("--data", default=str(homedepot.DEFAULT_DIR),
                        help="the homedepot folder, or a folder in our sample format (search_log*.csv + catalog.csv)")
    parser.add_argument("--llm-threads", type=int, default=LLM_THREADS,
                        help="llama.cpp threads of query generation (1 on a machine shared with other work: "
                             "more threads than free cores stall llama.cpp)")
    parser.add_argument("--quick", action="store_true", help=f"smoke test on subsets: {QUICK}")
    parser.add_argument("--render-only", action="store_true", help="re-render the MD and PNG from the JSON")
    args = parser.parse_args(argv)
    args.dataset = datasets.dataset_name(args.data)
    args.name = result_name(args.dataset, args.encoder, args.quick)
    on_sample = args.dataset != datasets.HOMEDEPOT
    if args.generate_products is None:
        args.generate_products = configs.QG_MAX_PRODUCTS if on_sample else HOMEDEPOT_GENERATE_PRODUCTS
    args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    default_systems = [s for s in ALL_SYSTEMS if not (on_sample and s == "full_label")]
    args.systems = ([s.strip() for s in args.systems.split(",") if s.strip()] if args.systems
                    else default_systems)
    unknown = set(args.systems) - set(ALL_SYSTEMS)
    if unknown:
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")
    if on_sample and ("full_label" in args.systems or args.ceiling_from):
        parser.error("a sample has no full-label set (its train split is the few-label set): no full_label, "
                     "no --ceiling-from")
    if any(s in VARIANTS or s in ("labeller", "distil") for s in args.systems) and "few_label" not in args.systems:
        parser.error("labeller and the augmentation systems need few_label (it is their teacher)")
    for served, student in ENSEMBLES.items():
        if served in args.systems and student not in args.systems:
            parser.error(f"{served} serves the {student} student: it needs {student}")
    return args


def _load(path: str) -> Optional[Dict[str, Any]]:
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def training_hparams(dataset: datasets.Dataset, encoder: str, quick: bool) -> Dict[str, Any]:
    """Teacher's and students' hparams: DEFAULT_HPARAMS on Home Depot (as the encoder benchmark), the
    pipeline's training length on a sample; the encoder by name; 1 epoch in a quick run."""
    overrides = {"encoder_handle": encoder}
    if not dataset.has_full_label:
        overrides.update({k: configs.CROSS_ENCODER_HPARAMS[k] for k in SAMPLE_HPARAMS_FROM_CONFIGS})
    if quick:
        overrides["epochs"] = QUICK["epochs"]
    return eb.our_hparams(overrides)


def training_stage(result: Dict[str, Any]) -> Dict[str, Any]:
    """A training run's figures in a seed's stage table."""
    return {"train_pairs": result["train_pairs"], "train_pairs_per_s": result["train_pairs_per_s"],
            "seconds": result["train_seconds"]}


def distil_settings() -> Dict[str, str]:
    """The report's lines for the distil and *_ensemble systems."""
    return {"distil (DISTIL_*: overrides of the pipeline's settings)": json.dumps(
                {"retrieval": DISTIL_RETRIEVAL, "labeling": DISTIL_LABELING, "relabel_judged": DISTIL_RELABEL,
                 "epochs": DISTIL_EPOCHS}, sort_keys=True),
            "*_ensemble (served as the pipeline serves)": f"zero-shot weight configs.SERVE_ZERO_SHOT_WEIGHT = "
                                                          f"{configs.SERVE_ZERO_SHOT_WEIGHT}"}


def eval_guard_text(dataset: datasets.Dataset, dev_queries: int) -> str:
    what = "dev queries play" if dataset.has_full_label else "queries of the pipeline's eval split are"
    return (f"the {dev_queries:,} {what} the eval split: eval_query and eval_near_duplicate reject any "
            "candidate query equal or near to one")


def run_distil(augmenter: Augmenter, entry: Dict[str, Any], few, dev, labelled: Sequence[dict],
               generated: Sequence[dict], teacher_score, settings, views_fit, hp: Dict[str, Any],
               encoder_handle: str, log) -> Dict[str, Any]:
    """The `distil` student (DISTIL_* above): candidates and labels as the components make them with the
    DISTIL overrides, the judged pairs' targets moved DISTIL_RELABEL of the way to the labeller's label."""
    from components.teacher_labeling import filtering
    from models import features

    loose = dataclasses.replace(settings, **DISTIL_LABELING)
    found = augmenter.candidates(labelled, generated, DISTIL_RETRIEVAL)
    entry["stages"]["retrieve candidates (distil)"] = {"candidates": len(found["rows"]), "seconds": found["seconds"]}
    labelling = augmenter.label(found["rows"], teacher_score, loose, views_fit)
    scored = labelling.pop("rows")
    entry["stages"]["teacher labels candidates (distil)"] = labelling
    outcome = augmenter.select(scored, VARIANTS["both"], labelled, loose)
    entry["ledgers"]["distil"] = {"candidates": len(outcome.kept) + len(outcome.rejected),
                                  "kept": len(outcome.kept), "rejected": outcome.counts()}
    relabel = augmenter.label(labelled, teacher_score, loose, views_fit)["rows"]
    judged = [relabelled(p, r[filtering.TEACHER_SCORE]) for p, r in zip(few, relabel)]
    kept = [augmented_pair(r) for r in outcome.kept]
    weights = [1.0] * len(judged) + [r[features.WEIGHT] for r in outcome.kept]
    log(f"distil: training on {len(judged)} relabelled judged + {len(kept)} augmented pairs "
        f"({hp['epochs']} epochs) ...")
    result = eb.run_ours(judged + kept, dev, hp, hp["seed"], {}, encoder_handle, weights=weights)
    result.update(labelled=len(few), augmented_kept=len(kept), relabelled=len(judged))
    entry["stages"]["train distil"] = training_stage(result)
    return result


def run(args, argv: Sequence[str]) -> Dict[str, Any]:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from components.teacher_labeling import executor as labeling
    from components.teacher_labeling import filtering
    from models import cross_encoder, features

    name = args.name
    log = lambda text: print(f"[augmentation_benchmark {time.strftime('%H:%M:%S')}] {text}", flush=True)  # noqa: E731
    dataset = datasets.load(args.data)
    data = dataset.data
    ids = dataset.split_ids()
    if args.quick:
        ids = {k: eb.sample_query_ids(v, QUICK[k.split("_")[0]], 0) for k, v in ids.items()}
    dev = eb.select(data.pairs, ids["dev"])
    few, full = eb.select(data.pairs, ids["few_label"]), eb.select(data.pairs, ids["full_label"])
    catalog_ids = sorted(data.catalog)
    if args.quick:  # the products of the quick subsets, plus a seeded sample of the rest
        judged = {p.product_id for p in few + dev}
        catalog_ids = sorted(judged | set(eb.sample_query_ids(catalog_ids, QUICK["catalog"], 0)))
    command = "TF_USE_LEGACY_KERAS=1 .venv/bin/python -m benchmarks.augmentation_benchmark " + " ".join(argv)
    report = _load(os.path.join(args.output, f"{name}.json")) or {
        "quick": args.quick, "seeds": {}, "baselines": {}, "commands": [], "notes": []}
    report.update(dataset=dataset.name, data_dir=str(args.data), split=dataset.describe_split(),
                  encoder=args.encoder, rows_dropped=dataset.rows_dropped)
    if not dataset.has_full_label and NO_CEILING_NOTE not in report["notes"]:
        report["notes"].append(NO_CEILING_NOTE)
    report.update(dev_queries=len(ids["dev"]), dev_pairs=len(dev), few_label_pairs=len(few),
                  full_label_pairs=len(full), catalog_products=len(catalog_ids), machine=eb.machine_info(),
                  headline_queries=metrics.evaluate(eb.judged(dev, [0.0] * len(dev)))["headline_queries"])
    report["commands"] = report.get("commands", []) + [command]
    hp = training_hparams(dataset, args.encoder, args.quick)
    settings = dataclasses.replace(filtering.Settings(**configs.AUGMENTATION.labeling_args()),
                                   teacher_score=cross_encoder.score_meaning(hp))
    report["settings"] = {
        "hparams (teacher and students; seed: the run's)": json.dumps({**hp, "seed": "per run"}, sort_keys=True),
        "hparams from": ("models.cross_encoder DEFAULT_HPARAMS (as the encoder benchmark's ours_few)"
                         if dataset.has_full_label else "DEFAULT_HPARAMS with configs.CROSS_ENCODER_HPARAMS' "
                         f"{', '.join(SAMPLE_HPARAMS_FROM_CONFIGS)} (the pipeline's training length; no early "
                         "stopping)"),
        **({"full-label hparams": json.dumps({**hp, **eb.FULL_LABEL_OVERRIDES, "seed": "per run"}, sort_keys=True)}
           if dataset.has_full_label else {}),
        "augmentation (pipeline/configs.py AUGMENTATION)": json.dumps(
            {"retrieval": configs.AUGMENTATION.retrieval_args, "labeling": configs.AUGMENTATION.labeling_args(),
             "generation": {**configs.AUGMENTATION.generation_args, "seed": "per run",
                            "max_products": QUICK["products"] if args.quick else args.generate_products,
                            "backend_config": {**configs.AUGMENTATION.generation_args["backend_config"],
                                               "n_threads": args.llm_threads}}}, sort_keys=True, default=str),
        **distil_settings(),
        "eval guard": eval_guard_text(dataset, len(ids["dev"])),
        "catalogue": f"{len(catalog_ids)} products indexed (exact cosine search)",
    }
    if args.ceiling_from and "full_label" not in args.systems:
        encoder_report = _load(args.ceiling_from)
        report["ceiling"] = {"ndcg@10": encoder_report["systems"]["ours_full"]["ndcg@10"],
                             "source": f"{args.ceiling_from}: ours_full (seed {encoder_report['seed']})"}

    def finish(system: str, entry: Dict[str, Any], result: Dict[str, Any], pairs=dev) -> Dict[str, float]:
        queries = eb.judged(pairs, result.pop("scores"))
        figures = metrics.evaluate(queries)
        result.update({k: v for k, v in figures.items() if k != "queries"})
        result["load_average"] = eb._load_average()
        entry["systems"][system] = result
        write(report, args.output, name)
        log(f"{system}: NDCG@10 {figures['ndcg@10']:.4f} all {figures['ndcg@10_all']:.4f} "
            f"pairwise {figures['pairwise_accuracy']:.4f}")
        return metrics.per_query_ndcg(queries)

    def serve_ensemble(student: str, seed: int, entry: Dict[str, Any], student_scores, views_fit) -> None:
        served = f"{student}_ensemble"
        if served not in args.systems:
            return
        serving = dataclasses.replace(settings, zero_shot_weight=configs.SERVE_ZERO_SHOT_WEIGHT)
        result = {"scores": augmenter.labeller_scores(dev, student_scores, serving, views_fit),
                  "train_pairs": 0, "labelled": len(few),
                  "augmented_kept": entry["systems"][student]["augmented_kept"],
                  "note": f"the {student} student's gain x {1 - configs.SERVE_ZERO_SHOT_WEIGHT} + the zero-shot "
                          f"cosine calibrated on the few labels x {configs.SERVE_ZERO_SHOT_WEIGHT}"}
        per_query[f"{served}/{seed}"] = finish(served, entry, result)

    per_query: Dict[str, Dict[str, float]] = {}
    for system in BASELINES:
        if system in args.systems:
            log(f"{system} ...")
            result = eb.run_bm25(data, dev) if system == "bm25" else eb.run_zero_shot(dev, args.encoder)
            holder = {"systems": {}}
            per_query[system] = finish(system, holder, result)
            report["baselines"][system] = holder["systems"][system]
            write(report, args.output, name)
    trained = [s for s in args.systems if s in TRAINED]
    if not trained:
        return report
    encoder_handle = args.encoder  # the cross-encoders resolve the name (models.cross_encoder)
    augmenter = None
    for seed in args.seeds:
        entry = report["seeds"][str(seed)] = {"systems": {}, "stages": {}, "ledgers": {}, "paired": {}}
        teacher_score = teacher_dev_scores = None
        if "few_label" in trained:
            log(f"seed {seed}: few_label (the teacher) on {len(few)} pairs ...")
            result = eb.run_ours(few, dev, {**hp, "seed": seed}, seed, {}, encoder_handle, keep_model=True)
            teacher_score = eb.make_scorer(result.pop("model"), {})
            teacher_dev_scores = list(result["scores"])
            result.update(labelled=len(few), augmented_kept=0)
            entry["stages"]["train few_label"] = training_stage(result)
            per_query[f"few_label/{seed}"] = finish("few_label", entry, result)
        variants = [v for v in VARIANTS if v in trained]
        distil = "distil" in trained
        if variants or distil or "labeller" in trained:
            if augmenter is None:
                augmenter = Augmenter(data, catalog_ids, [p.query for p in dev],
                                      cross_encoder.resolve_encoder_handle(args.encoder), log)
                report["catalog_embedding"] = augmenter.timings["embed_catalog"]
            entry["stages"]["embed catalogue + dev queries (once per run)"] = augmenter.timings["embed_catalog"]
            labelled = labelled_rows(few)
            # The zero-shot view of the harness's one encoder, fitted on the few labels; its share is the
            # configured one (the harness has no labelled eval rows to weigh it on).
            views_fit = labeling.fit_views([augmenter.encoder_handle], [augmenter.encoder], None, labelled, [],
                                           dataclasses.replace(settings, fit_zero_shot_weight=0))
            entry["views_fit"] = dataclasses.asdict(views_fit)
        if "labeller" in trained:
            start = time.perf_counter()
            scores = augmenter.labeller_scores(dev, teacher_dev_scores, settings, views_fit)
            result = {"scores": scores, "train_set": "few-label (the cross-encoder above)", "train_pairs": 0,
                      "labelled": len(few), "augmented_kept": 0, "wall_seconds": time.perf_counter() - start,
                      "note": f"(1 - {settings.zero_shot_weight}) x the cross-encoder's gain + "
                              f"{settings.zero_shot_weight} x the zero-shot cosine calibrated on the few labels"}
            per_query[f"labeller/{seed}"] = finish("labeller", entry, result)
        if variants or distil:
            generated = {"rows": [], "stats": {}}
            if {"generation", "both"} & set(variants) or distil:
                products = QUICK["products"] if args.quick else args.generate_products
                log(f"seed {seed}: generating queries for {products} catalogue products ...")
                generated = augmenter.generate(seed, products, sorted({p.query for p in few}), args.llm_threads)
                entry["stages"]["generate queries (LLM)"] = {
                    k: generated[k] for k in ("products", "seconds", "products_per_s", "queries_per_s")} | {
                    "queries_kept": len(generated["rows"])}
                entry["generation_stats"] = generated["stats"]
                entry["generation_backend"] = generated["backend"]
        if variants:
            found = augmenter.candidates(labelled, generated["rows"])
            entry["stages"]["retrieve candidates"] = {"candidates": len(found["rows"]), "seconds": found["seconds"]}
            entry["candidate_stats"] = found["stats"]
            labelling = augmenter.label(found["rows"], teacher_score, settings, views_fit)
            scored = labelling.pop("rows")
            entry["stages"]["teacher labels candidates"] = labelling
            for variant in variants:
                outcome = augmenter.select(scored, VARIANTS[variant], labelled, settings)
                entry["ledgers"][variant] = {"candidates": len(outcome.kept) + len(outcome.rejected),
                                             "kept": len(outcome.kept), "rejected": outcome.counts()}
                kept = [augmented_pair(r) for r in outcome.kept]
                weights = [1.0] * len(few) + [r[features.WEIGHT] for r in outcome.kept]
                log(f"seed {seed}: {variant}: training on {len(few)} labelled + {len(kept)} augmented pairs ...")
                result = eb.run_ours(few + kept, dev, {**hp, "seed": seed}, seed, {}, encoder_handle,
                                     weights=weights)
                result.update(labelled=len(few), augmented_kept=len(kept))
                entry["stages"][f"train {variant}"] = training_stage(result)
                student_scores = list(result["scores"])
                per_query[f"{variant}/{seed}"] = finish(variant, entry, result)
                serve_ensemble(variant, seed, entry, student_scores, views_fit)
        if distil:
            distil_hp = {**hp, "seed": seed, "epochs": min(DISTIL_EPOCHS, hp["epochs"])}
            result = run_distil(augmenter, entry, few, dev, labelled, generated["rows"], teacher_score, settings,
                                views_fit, distil_hp, encoder_handle, log)
            student_scores = list(result["scores"])
            per_query[f"distil/{seed}"] = finish("distil", entry, result)
            serve_ensemble("distil", seed, entry, student_scores, views_fit)
        for system in HEADLINE_SYSTEMS:
            if f"{system}/{seed}" not in per_query:
                continue
            earlier = HEADLINE_SYSTEMS[:HEADLINE_SYSTEMS.index(system)]
            for other in FEW_LABEL_SYSTEMS + ("generation", "retrieval") + earlier:
                key = other if other in BASELINES else f"{other}/{seed}"
                if key in per_query:
                    entry["paired"][f"{system} - {other}"] = eb.paired_difference(
                        per_query[f"{system}/{seed}"], per_query[key])
        write(report, args.output, name)
        if "full_label" in trained:
            log(f"seed {seed}: full_label on {len(full)} pairs ...")
            result = eb.run_ours(full, dev, {**hp, **eb.FULL_LABEL_OVERRIDES, "seed": seed}, seed, {},
                                 encoder_handle)
            result.update(labelled=len(full), augmented_kept=0)
            finish("full_label", entry, result)
    return report


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse(argv)
    if args.render_only:
        report = _load(os.path.join(args.output, f"{args.name}.json"))
        write(report, args.output, args.name)
    else:
        report = run(args, argv)
    print(render_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
