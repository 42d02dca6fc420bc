"""Executor of QueryGeneration: one Beam pipeline from catalogue products to generated query examples.

Catalogue rows -> one title per product id -> a seeded choice of at most `max_products` -> batches ->
an LLM (loaded once per worker) writes candidate queries per product -> sanitize.QueryFilter keeps up to k
-> Examples (split `train`) + report.json. Of the labelled examples only the `train` split is read (for its
queries, which are not generated again); the eval split is never opened.
"""
import collections
import dataclasses
import hashlib
import json
import os
import time
from typing import Any, Collection, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import apache_beam as beam
import tensorflow as tf
from absl import logging
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils

from components import examples_io
from components.augmentation import llm_backends, report as report_lib
from components.query_generation import prompts, sanitize

# Keys of the component's inputs, outputs and execution properties.
EXAMPLES_KEY = "examples"
CATALOG_KEY = "catalog"
GENERATED_EXAMPLES_KEY = "generated_examples"
REPORT_KEY = "report"

# The only split of the labelled examples that is read, and the split of the output.
LABELLED_SPLIT = "train"
OUTPUT_SPLIT = "train"
# Columns read from the inputs and written to the output.
QUERY_ID, QUERY, PRODUCT_ID, PRODUCT_TITLE, ORIGIN = "query_id", "query", "product_id", "product_title", "origin"
ORIGIN_GENERATED = "generated"

PROGRESS_EVERY = 25  # products per worker between progress lines
SAMPLE_ROWS = 12  # generated rows shown in the report
SAMPLE_REJECTED = 3  # rejected candidates shown per reason
_STATS, _REJECTED = "stats", "rejected"


@dataclasses.dataclass(frozen=True)
class Settings:
    queries_per_product: int
    max_products: int  # 0: every product
    backend: str
    backend_config: Mapping[str, Any]
    seed: int
    temperature: float
    max_tokens: int
    max_query_chars: int
    max_rounds: int  # completions per product at most, while it has fewer than k queries
    batch_size: int
    require_title_overlap: bool = True

    @classmethod
    def from_exec_properties(cls, exec_properties: Mapping[str, Any]) -> "Settings":
        config = exec_properties.get("backend_config") or "{}"
        settings = cls(
            queries_per_product=int(exec_properties["queries_per_product"]),
            max_products=int(exec_properties["max_products"]),
            backend=str(exec_properties["backend"]),
            backend_config=json.loads(config) if isinstance(config, str) else dict(config),
            seed=int(exec_properties["seed"]),
            temperature=float(exec_properties["temperature"]),
            max_tokens=int(exec_properties["max_tokens"]),
            max_query_chars=int(exec_properties["max_query_chars"]),
            max_rounds=int(exec_properties["max_rounds"]),
            batch_size=int(exec_properties["batch_size"]),
            require_title_overlap=bool(int(exec_properties.get("require_title_overlap", 1))))
        for name in ("queries_per_product", "max_tokens", "max_query_chars", "max_rounds", "batch_size"):
            if getattr(settings, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(settings, name)}")
        if settings.max_products < 0:
            raise ValueError(f"max_products must be >= 0 (0: no cap), got {settings.max_products}")
        if settings.backend not in llm_backends.BACKENDS:
            raise ValueError(f"unknown backend {settings.backend!r}; choose one of {sorted(llm_backends.BACKENDS)}")
        return settings


@dataclasses.dataclass(frozen=True)
class Product:
    product_id: str
    title: str


def text_features(serialized: bytes, names: Sequence[str]) -> Dict[str, str]:
    """The first value of each named feature as text ("" when missing or empty; numbers as written)."""
    features = tf.train.Example.FromString(serialized).features.feature
    row = {}
    for name in names:
        values = []
        if name in features:
            kind = features[name].WhichOneof("kind")
            values = list(getattr(features[name], kind).value) if kind else []
        value = values[0] if values else ""
        row[name] = value.decode("utf-8").strip() if isinstance(value, bytes) else str(value)
    return row


def product_row(serialized: bytes) -> Tuple[str, str]:
    """(product id, title) of a catalogue example."""
    row = text_features(serialized, [PRODUCT_ID, PRODUCT_TITLE])
    return row[PRODUCT_ID], row[PRODUCT_TITLE]


def one_title_per_product(item: Tuple[str, Iterable[str]]):
    """(product id, its catalogue titles) -> the product (the first non-empty title in sorted order), and
    the product's rows as counts: rows, duplicate ids, a missing id or an empty title."""
    product_id, titles = item
    titles = sorted(titles)
    counts = collections.Counter(catalog_rows=len(titles))
    if not product_id:
        counts["missing_product_id"] = len(titles)
    else:
        counts["duplicate_product_id"] = len(titles) - 1
        non_empty = [title for title in titles if title]
        if non_empty:
            counts["unique_products"] = 1
            yield Product(product_id, non_empty[0])
        else:
            counts["empty_title"] = 1
    yield beam.pvalue.TaggedOutput(_STATS, counts)


def product_rank(seed: int, product_id: str) -> int:
    """A seeded, worker-independent pseudo-random order of products (for the `max_products` choice)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{product_id}".encode()).digest()[:8], "big")


def product_seed(seed: int, product_id: str) -> int:
    """The sampling seed of a product: the same however products are batched or distributed."""
    return product_rank(seed, product_id) % (2 ** 31 - 1000)


@dataclasses.dataclass
class ProductResult:
    product: Product
    rows: List[Dict[str, str]]
    stats: collections.Counter
    rejected: List[Tuple[str, str]]  # (reason, candidate)


def generate_for_products(backend: llm_backends.CompletionBackend, products: Sequence[Product],
                          settings: Settings, labelled_queries: Collection[str] = ()) -> List[ProductResult]:
    """Queries for a batch of products: up to `max_rounds` completions each, until k are kept."""
    results, active = [], []
    for product in products:
        result = ProductResult(product, [], collections.Counter(products_selected=1), [])
        results.append(result)
        prompt_title = sanitize.clean_title(product.title)
        if not prompt_title:  # the whole title is an instruction: nothing to ask about
            result.stats["injected_title"] = 1
            continue
        if prompt_title != product.title:
            result.stats["titles_cut_at_injection"] = 1
        lang = prompts.language(prompt_title)
        result.stats[f"prompts_{lang}"] = 1
        query_filter = sanitize.QueryFilter(product.title, settings.queries_per_product, settings.max_query_chars,
                                            labelled_queries, settings.require_title_overlap)
        active.append((result, query_filter, prompts.build_prompt(prompt_title, settings.queries_per_product, lang),
                       lang))
    active.sort(key=lambda item: item[3])  # same-language prompts in a row share their few-shot prefix
    for round_ in range(settings.max_rounds):
        pending = [item for item in active if not item[1].full]
        if not pending:
            break
        start = time.monotonic()
        completions = backend.generate(
            [prompt for _, _, prompt, _ in pending], n=1, max_tokens=settings.max_tokens,
            temperature=settings.temperature, seed=[product_seed(settings.seed, result.product.product_id) + round_
                                                    for result, _, _, _ in pending],
            stop=prompts.STOP)
        seconds = (time.monotonic() - start) / len(pending)
        for (result, query_filter, _, _), (completion,) in zip(pending, completions):
            result.stats["completions"] += 1
            result.stats["generation_seconds"] += seconds
            for candidate in prompts.parse_completion(completion):
                result.stats["candidates"] += 1
                reason = query_filter.offer(candidate)
                if reason:
                    result.rejected.append((reason, candidate))
    for result, query_filter, _, _ in active:
        product = result.product
        result.rows = [{QUERY_ID: f"gen-{product.product_id}-{n}", QUERY: query, PRODUCT_ID: product.product_id,
                        PRODUCT_TITLE: product.title, ORIGIN: ORIGIN_GENERATED}
                       for n, query in enumerate(query_filter.kept, start=1)]
        result.stats["kept"] = len(result.rows)
        result.stats.update({f"rejected_{reason}": count for reason, count in query_filter.rejected.items()})
        result.stats["with_queries" if result.rows else "without_queries"] = 1
    return results


class _GenerateQueries(beam.DoFn):
    """Batches of products -> generated rows (main output), counts and rejected candidates (tagged)."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._backend: Optional[llm_backends.CompletionBackend] = None

    def setup(self):
        self._backend = llm_backends.create(self._settings.backend, self._settings.backend_config)
        self._progress = collections.Counter()
        self._start = time.monotonic()

    def process(self, batch: List[Product], labelled_queries: Collection[str]):
        for result in generate_for_products(self._backend, batch, self._settings, labelled_queries):
            yield from result.rows
            yield beam.pvalue.TaggedOutput(_STATS, result.stats)
            for reason, candidate in result.rejected:
                yield beam.pvalue.TaggedOutput(_REJECTED, (reason, (result.product.product_id, candidate)))
            self._log_progress(result.stats)

    def _log_progress(self, stats: Mapping[str, float]) -> None:
        before = self._progress["products"]
        self._progress.update(products=1, kept=stats["kept"], candidates=stats.get("candidates", 0),
                              with_queries=stats.get("with_queries", 0))
        if before // PROGRESS_EVERY != self._progress["products"] // PROGRESS_EVERY:
            p, seconds = self._progress, time.monotonic() - self._start
            logging.info("QueryGeneration (this worker): %d products done, %d with queries; %d queries kept of %d "
                         "candidates; %.2f products/s, %.2f queries/s", p["products"], p["with_queries"], p["kept"],
                         p["candidates"], p["products"] / seconds, p["kept"] / seconds)

    def teardown(self):
        if self._backend is not None:
            self._backend.close()


def _sum_counts(counts: Iterable[Mapping[str, float]]) -> Dict[str, float]:
    total = collections.Counter()
    for count in counts:
        total.update(count)
    return dict(total)


class _WriteJson(beam.PTransform):
    """Writes the one element of a PCollection as JSON to `path` (a single file, no shard suffix)."""

    def __init__(self, path: str):
        super().__init__()
        self._path = path

    def expand(self, pcoll):
        return (pcoll
                | "ToJson" >> beam.Map(lambda value: json.dumps(value, ensure_ascii=False, sort_keys=True))
                | "Write" >> beam.io.WriteToText(self._path, shard_name_template=""))


def _read_json(path: str) -> Any:
    with tf.io.gfile.GFile(path) as f:
        return json.loads(f.read())


def build_report(settings: Settings, counts: Mapping[str, float], samples: List[Dict[str, str]],
                 rejected_samples: Mapping[str, List[Tuple[str, str]]], labelled_queries: int,
                 wall_seconds: float) -> Dict[str, Any]:
    """The report: every catalogue row and every candidate accounted for, examples, speed."""
    count = lambda name: int(counts.get(name, 0))  # noqa: E731
    selected = count("products_selected")
    products = {
        "missing_product_id": count("missing_product_id"),
        "duplicate_product_id": count("duplicate_product_id"),
        "empty_title": count("empty_title"),
        "over_cap": count("unique_products") - selected,
        "injected_title": count("injected_title"),
        "with_queries": count("with_queries"),
        "without_queries": count("without_queries"),
    }
    rejected = {reason: count(f"rejected_{reason}") for reason in sanitize.REASONS if count(f"rejected_{reason}")}
    generation_seconds = float(counts.get("generation_seconds", 0.0))
    return {
        "component": "QueryGeneration",
        "settings": {**dataclasses.asdict(settings), "backend_config": dict(settings.backend_config)},
        "inputs": {"labelled_split_read": LABELLED_SPLIT, "labelled_queries": labelled_queries,
                   "catalog_rows": count("catalog_rows")},
        "products_in": count("catalog_rows"),
        "products": products,
        "products_selected": selected,
        "titles_cut_at_injection": count("titles_cut_at_injection"),
        "prompts_by_language": {lang: count(f"prompts_{lang}") for lang in prompts.TEMPLATES},
        "completions": count("completions"),
        "candidates": {"made": count("candidates"), "kept": count("kept"),
                       "rejected": sum(rejected.values()), "rejected_by_reason": rejected},
        "example_rows": samples,
        "rejected_examples": {reason: [{"product_id": pid, "candidate": text} for pid, text in items]
                              for reason, items in sorted(rejected_samples.items())},
        "wall_seconds": round(wall_seconds, 3),
        "generation_seconds": round(generation_seconds, 3),
        "queries_per_second": round(count("kept") / wall_seconds, 3) if wall_seconds else 0.0,
        "queries_per_generation_second": round(count("kept") / generation_seconds, 3) if generation_seconds else 0.0,
    }


def check_accounting(report: Mapping[str, Any]) -> None:
    """Every catalogue row and every candidate has exactly one fate; a mismatch is a bug, not bad data."""
    rows = report["products_in"]
    fates = sum(report["products"].values())
    candidates = report["candidates"]
    if rows != fates or candidates["made"] != candidates["kept"] + candidates["rejected"]:
        raise RuntimeError(f"QueryGeneration lost track: {rows} catalogue rows but {fates} product fates "
                           f"{report['products']}, or candidates {candidates} do not add up")


class Executor(base_beam_executor.BaseBeamExecutor):
    """Generates shopper queries for catalogue products with an LLM (see the module docstring)."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        """Args:
          input_dict: `examples` (labelled; only its `train` split is read) and `catalog` (every split read;
            columns product_id, product_title).
          output_dict: `generated_examples` (split `train`: query_id, query, product_id, product_title,
            origin) and `report` (report.json).
          exec_properties: see component.QueryGenerationSpec.PARAMETERS.
        """
        self._log_startup(input_dict, output_dict, exec_properties)
        settings = Settings.from_exec_properties(exec_properties)
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        catalog = artifact_utils.get_single_instance(input_dict[CATALOG_KEY])
        generated = artifact_utils.get_single_instance(output_dict[GENERATED_EXAMPLES_KEY])
        report_artifact = artifact_utils.get_single_instance(output_dict[REPORT_KEY])

        labelled_pattern = examples_io.split_pattern(examples, LABELLED_SPLIT)
        catalog_patterns = {split: examples_io.split_pattern(catalog, split)
                            for split in examples_io.split_names(catalog)}
        output_dir = examples_io.prepare_output(generated, [OUTPUT_SPLIT])[OUTPUT_SPLIT]
        examples_utils.set_payload_format(generated, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        parts_dir = os.path.join(report_artifact.uri, "_parts")
        logging.info("QueryGeneration: %d queries per product with %s %s, from catalogue splits %s (at most %s "
                     "products); labelled queries from the '%s' split only", settings.queries_per_product,
                     settings.backend, json.dumps(settings.backend_config), sorted(catalog_patterns),
                     settings.max_products or "all", LABELLED_SPLIT)

        start = time.monotonic()
        with self._make_beam_pipeline() as pipeline:
            labelled_queries = (
                pipeline
                | "ReadLabelledTrain" >> beam.io.ReadFromTFRecord(labelled_pattern)
                | "LabelledQuery" >> beam.Map(lambda record: sanitize.normalise(text_features(record, [QUERY])[QUERY]))
                | "NonEmpty" >> beam.Filter(bool)
                | "LabelledQuerySet" >> beam.combiners.ToSet())
            catalog_rows = [pipeline | f"ReadCatalog[{split}]" >> beam.io.ReadFromTFRecord(pattern)
                            for split, pattern in sorted(catalog_patterns.items())]
            deduplicated = (
                catalog_rows | "FlattenCatalog" >> beam.Flatten()
                | "ProductRow" >> beam.Map(product_row)
                | "GroupById" >> beam.GroupByKey()
                | "OneTitlePerId" >> beam.FlatMap(one_title_per_product).with_outputs(_STATS, main="products"))
            products = deduplicated.products
            if settings.max_products:
                products = (products
                            | "ChooseProducts" >> beam.combiners.Top.Of(
                                settings.max_products, key=lambda p: product_rank(settings.seed, p.product_id),
                                reverse=True)
                            | "Unlist" >> beam.FlatMap(lambda chosen: chosen))
            generated_parts = (
                products
                | "Spread" >> beam.Reshuffle()
                | "Batch" >> beam.BatchElements(min_batch_size=settings.batch_size, max_batch_size=settings.batch_size)
                | "Generate" >> beam.ParDo(_GenerateQueries(settings),
                                           labelled_queries=beam.pvalue.AsSingleton(labelled_queries))
                .with_outputs(_STATS, _REJECTED, main="rows"))
            rows = generated_parts.rows
            _ = rows | "WriteExamples" >> examples_io.WriteRows(output_dir)
            _ = ((deduplicated[_STATS], generated_parts[_STATS])
                 | "FlattenCounts" >> beam.Flatten()
                 | "SumCounts" >> beam.CombineGlobally(_sum_counts)
                 | "WriteCounts" >> _WriteJson(os.path.join(parts_dir, "counts.json")))
            _ = (labelled_queries
                 | "CountLabelled" >> beam.Map(len)
                 | "WriteLabelledCount" >> _WriteJson(os.path.join(parts_dir, "labelled.json")))
            _ = (rows
                 | "SampleRows" >> beam.combiners.Top.Of(
                     SAMPLE_ROWS, key=lambda row: product_rank(settings.seed, row[QUERY_ID]), reverse=True)
                 | "WriteSamples" >> _WriteJson(os.path.join(parts_dir, "samples.json")))
            _ = (generated_parts[_REJECTED]
                 | "SampleRejected" >> beam.combiners.Top.PerKey(
                     SAMPLE_REJECTED, key=lambda item: product_rank(settings.seed, "".join(item)), reverse=True)
                 | "RejectedByReason" >> beam.combiners.ToDict()
                 | "WriteRejected" >> _WriteJson(os.path.join(parts_dir, "rejected.json")))
        wall_seconds = time.monotonic() - start

        report = build_report(
            settings, _read_json(os.path.join(parts_dir, "counts.json")),
            sorted(_read_json(os.path.join(parts_dir, "samples.json")), key=lambda row: row[QUERY_ID]),
            _read_json(os.path.join(parts_dir, "rejected.json")),
            _read_json(os.path.join(parts_dir, "labelled.json")), wall_seconds)
        tf.io.gfile.rmtree(parts_dir)
        path = report_lib.write_report(report_artifact, report, headline={
            "products_in": report["products_in"], "queries_kept": report["candidates"]["kept"],
            "candidates_made": report["candidates"]["made"],
            "candidates_rejected": report["candidates"]["rejected"]})
        check_accounting(report)
        candidates = report["candidates"]
        logging.info(
            "QueryGeneration done in %.1f s: %d catalogue rows -> %d products chosen, %d with queries; "
            "%d queries kept of %d candidates (rejected: %s); %.2f queries/s. Report: %s",
            wall_seconds, report["products_in"], report["products_selected"], report["products"]["with_queries"],
            candidates["kept"], candidates["made"], candidates["rejected_by_reason"] or "none",
            report["queries_per_second"], path)
