"""Executor of QueryGeneration: one Beam pipeline from catalogue products to generated query examples.

Catalogue rows -> one title per product id -> a seeded choice of at most `max_products` -> batches ->
an LLM (loaded once per worker) writes candidate queries per product -> sanitize.QueryFilter keeps up to k
-> Examples (split `train`) + report.json. Of the labelled examples only the `train` split is read (for its
queries, which are not generated again); the eval split is never opened.

Backend faults (`on_backend_failure`):
- one malformed answer (not JSON, no choices[0].text) or empty completion is a failed completion, counted
  by reason (`completions_failed`) with examples; the product may get its next round;
- a backend that fails (llm_backends.BackendError: not loadable, down or silent after its retries, request
  refused), or whose completions are all failed ones, is a backend failure. A worker stops calling it at
  its first failure. Then "fail" (default) fails the component with the backend's error, and "skip"
  writes an empty `generated_examples` (retrieval-only augmentation downstream) and a report with
  `backend_failed`, `backend_error` and `generation_skipped`. Both drop every generated row, even those
  made before the failure: what a run keeps must not depend on when the endpoint went down.
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
from tfx.dsl.components.base import base_beam_executor
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
_STATS, _REJECTED, _FAILURES = "stats", "rejected", "failures"

# What a backend failure does: fail the component, or skip generation (retrieval-only augmentation).
FAIL, SKIP = "fail", "skip"
ON_BACKEND_FAILURE = (FAIL, SKIP)
# Reasons of failed completions (no candidates come from them), and the fate of products and kept
# candidates when the backend failed.
MALFORMED_RESPONSE = "malformed_response"
EMPTY_COMPLETION = "empty_completion"
COMPLETION_FAILURES = (MALFORMED_RESPONSE, EMPTY_COMPLETION)
BACKEND_FAILURE = "backend_failure"
TIME_BUDGET = "time_budget"  # the fate of selected products not asked about once a worker's time ran out


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
    on_backend_failure: str = FAIL
    max_seconds: float = 0.0  # each worker's generation time budget, checked between batches; 0: none

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
            require_title_overlap=bool(int(exec_properties.get("require_title_overlap", 1))),
            on_backend_failure=str(exec_properties.get("on_backend_failure") or FAIL),
            max_seconds=float(exec_properties.get("max_seconds") or 0.0))
        for name in ("queries_per_product", "max_tokens", "max_query_chars", "max_rounds", "batch_size"):
            if getattr(settings, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(settings, name)}")
        if settings.max_products < 0:
            raise ValueError(f"max_products must be >= 0 (0: no cap), got {settings.max_products}")
        if settings.max_seconds < 0:
            raise ValueError(f"max_seconds must be >= 0 (0: no time budget), got {settings.max_seconds}")
        if settings.on_backend_failure not in ON_BACKEND_FAILURE:
            raise ValueError(f"on_backend_failure must be one of {ON_BACKEND_FAILURE}, "
                             f"got {settings.on_backend_failure!r}")
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
    rejected: List[Tuple[str, str]]  # (reason, candidate), and (reason, detail) of failed completions


def _prepare(product: Product, settings: Settings, labelled_queries: Collection[str]):
    """(the product's result, its (result, filter, prompt, language) to generate for, or None when its title
    is nothing but an instruction)."""
    result = ProductResult(product, [], collections.Counter(products_selected=1), [])
    prompt_title = sanitize.clean_title(product.title)
    if not prompt_title:  # the whole title is an instruction: nothing to ask about
        result.stats["injected_title"] = 1
        return result, None
    if prompt_title != product.title:
        result.stats["titles_cut_at_injection"] = 1
    lang = prompts.language(prompt_title)
    result.stats[f"prompts_{lang}"] = 1
    query_filter = sanitize.QueryFilter(product.title, settings.queries_per_product, settings.max_query_chars,
                                        labelled_queries, settings.require_title_overlap)
    return result, (result, query_filter, prompts.build_prompt(prompt_title, settings.queries_per_product, lang),
                    lang)


def not_generated(products: Sequence[Product], settings: Settings, fate: str = BACKEND_FAILURE) -> List[ProductResult]:
    """Results of products the backend was not (or no longer) asked about: `fate` (BACKEND_FAILURE after it
    failed, TIME_BUDGET once the worker's time ran out), or `injected_title` for a title that would never have
    been sent."""
    results = []
    for product in products:
        result, item = _prepare(product, settings, ())
        if item is not None:
            result.stats[fate] = 1
        results.append(result)
    return results


def _complete(backend: llm_backends.CompletionBackend, prompt: str, seed: int, settings: Settings,
              result: ProductResult) -> str:
    """One completion of a product's prompt ("" when it failed). One call per prompt, so that a malformed
    answer costs its own completion only; a malformed or empty one is counted with its reason."""
    start = time.monotonic()
    failure = None
    try:
        [[completion]] = backend.generate([prompt], n=1, max_tokens=settings.max_tokens,
                                          temperature=settings.temperature, seed=[seed], stop=prompts.STOP)
    except llm_backends.MalformedResponse as error:
        completion, failure = "", (MALFORMED_RESPONSE, str(error))
    if failure is None and not completion.strip():
        completion, failure = "", (EMPTY_COMPLETION, repr(completion))
    result.stats["completions"] += 1
    result.stats["generation_seconds"] += time.monotonic() - start
    if failure:
        result.stats[f"failed_{failure[0]}"] += 1
        result.rejected.append(failure)
    return completion


def generate_for_products(backend: llm_backends.CompletionBackend, products: Sequence[Product],
                          settings: Settings, labelled_queries: Collection[str] = ()) -> List[ProductResult]:
    """Queries for a batch of products: up to `max_rounds` completions each, until k are kept. Raises
    llm_backends.BackendError (but not MalformedResponse, which is counted) when the backend fails."""
    prepared = [_prepare(product, settings, labelled_queries) for product in products]
    results = [result for result, _ in prepared]
    active = [item for _, item in prepared if item is not None]
    active.sort(key=lambda item: item[3])  # same-language prompts in a row share their few-shot prefix
    for round_ in range(settings.max_rounds):
        for result, query_filter, prompt, _ in [item for item in active if not item[1].full]:
            seed = product_seed(settings.seed, result.product.product_id) + round_
            completion = _complete(backend, prompt, seed, settings, result)
            for candidate in prompts.parse_completion(completion) if completion else []:
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
    """Batches of products -> generated rows (main output), counts, rejected candidates and backend failures
    (tagged). After the backend's first failure on this worker it is not called again (each call would only
    wait out its retries); the worker's remaining products are counted as `backend_failure`."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._backend: Optional[llm_backends.CompletionBackend] = None

    def setup(self):
        self._failure: Optional[str] = None
        self._failure_sent = False
        try:
            self._backend = llm_backends.create(self._settings.backend, self._settings.backend_config)
        except llm_backends.BackendError as error:  # e.g. no model file: reported like an endpoint that is down
            self._fail(f"could not start: {error}")
        self._progress = collections.Counter()
        self._start = time.monotonic()
        self._first_batch, self._budget_logged = None, False

    def _fail(self, error: str) -> None:
        name = self._backend.describe() if self._backend else self._settings.backend
        self._failure = f"{name}: {error}"
        logging.warning("QueryGeneration: LLM backend failed on this worker; its remaining products are not "
                        "sent to it. %s", self._failure)

    def _results(self, batch: List[Product], labelled_queries: Collection[str]) -> List[ProductResult]:
        budget = self._settings.max_seconds
        # The budget counts from the worker's first batch (not from set-up: Beam may start it early).
        self._first_batch = self._first_batch or time.monotonic()
        if budget and time.monotonic() - self._first_batch >= budget:
            if not self._budget_logged:
                self._budget_logged = True
                logging.info("QueryGeneration: this worker's time budget (%g s) is spent; its remaining products "
                             "are counted as %s", budget, TIME_BUDGET)
            return not_generated(batch, self._settings, TIME_BUDGET)
        if self._failure is None:
            try:
                return generate_for_products(self._backend, batch, self._settings, labelled_queries)
            except llm_backends.BackendError as error:
                self._fail(str(error))
        return not_generated(batch, self._settings)

    def process(self, batch: List[Product], labelled_queries: Collection[str]):
        for result in self._results(batch, labelled_queries):
            yield from result.rows
            yield beam.pvalue.TaggedOutput(_STATS, result.stats)
            for reason, candidate in result.rejected:
                yield beam.pvalue.TaggedOutput(_REJECTED, (reason, (result.product.product_id, candidate)))
            self._log_progress(result.stats)
        if self._failure is not None and not self._failure_sent:
            self._failure_sent = True
            yield beam.pvalue.TaggedOutput(_FAILURES, self._failure)

    def _log_progress(self, stats: Mapping[str, float]) -> None:
        before = self._progress["products"]
        self._progress.update(products=1, kept=stats.get("kept", 0), candidates=stats.get("candidates", 0),
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


def backend_failure(counts: Mapping[str, float], failures: Sequence[str]) -> Optional[str]:
    """What made the backend unusable, or None: a worker's BackendError, or not one usable completion."""
    if failures:
        more = f" (and {len(failures) - 1} more failed worker(s))" if len(failures) > 1 else ""
        return failures[0] + more
    completions = int(counts.get("completions", 0))
    failed = {reason: int(counts.get(f"failed_{reason}", 0)) for reason in COMPLETION_FAILURES}
    if completions and sum(failed.values()) == completions:
        return f"none of the {completions} completions was usable ({failed}; see failed_completion_examples)"
    return None


def _products(count, selected: int, failed: bool) -> Dict[str, int]:
    """The fate of every catalogue row. After a backend failure no product keeps generated queries: each one
    selected is `backend_failure`, except titles that are only an instruction (never sent to any backend)."""
    products = {
        "missing_product_id": count("missing_product_id"),
        "duplicate_product_id": count("duplicate_product_id"),
        "empty_title": count("empty_title"),
        "over_cap": count("unique_products") - selected,
        "injected_title": count("injected_title"),
        "with_queries": count("with_queries"),
        "without_queries": count("without_queries"),
        TIME_BUDGET: count(TIME_BUDGET),
    }
    if failed:
        products.update(with_queries=0, without_queries=0, **{TIME_BUDGET: 0},
                        **{BACKEND_FAILURE: selected - products["injected_title"]})
    return products


def build_report(settings: Settings, counts: Mapping[str, float], samples: List[Dict[str, str]],
                 rejected_samples: Mapping[str, List[Tuple[str, str]]], labelled_queries: int,
                 wall_seconds: float, failure: Optional[str] = None) -> Dict[str, Any]:
    """The report: every catalogue row and every candidate accounted for, examples, speed, and whether the
    backend failed (then the kept candidates count as rejected for `backend_failure`: none is written)."""
    count = lambda name: int(counts.get(name, 0))  # noqa: E731
    selected = count("products_selected")
    failed = failure is not None
    products = _products(count, selected, failed)
    rejected = {reason: count(f"rejected_{reason}") for reason in sanitize.REASONS if count(f"rejected_{reason}")}
    kept = count("kept")
    if failed and kept:
        rejected[BACKEND_FAILURE], kept = kept, 0
    completions_failed = {reason: count(f"failed_{reason}") for reason in COMPLETION_FAILURES
                          if count(f"failed_{reason}")}
    generation_seconds = float(counts.get("generation_seconds", 0.0))
    examples = lambda reasons: {reason: [{"product_id": pid, "candidate": text} for pid, text in items]  # noqa: E731
                                for reason, items in sorted(rejected_samples.items()) if reason in reasons}
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
        "completions_failed": {"total": sum(completions_failed.values()), "by_reason": completions_failed},
        "candidates": {"made": count("candidates"), "kept": kept,
                       "rejected": sum(rejected.values()), "rejected_by_reason": rejected},
        "backend_failed": failed,
        "backend_error": failure,
        "on_backend_failure": settings.on_backend_failure,
        "generation_skipped": failed and settings.on_backend_failure == SKIP,
        "example_rows": [] if failed else samples,
        "rejected_examples": examples(sanitize.REASONS),
        "failed_completion_examples": examples(COMPLETION_FAILURES),
        "wall_seconds": round(wall_seconds, 3),
        "generation_seconds": round(generation_seconds, 3),
        "queries_per_second": round(kept / wall_seconds, 3) if wall_seconds else 0.0,
        "queries_per_generation_second": round(kept / generation_seconds, 3) if generation_seconds else 0.0,
    }


def check_accounting(report: Mapping[str, Any]) -> None:
    """Every catalogue row and every candidate has exactly one fate; a mismatch is a bug, not bad data."""
    rows = report["products_in"]
    fates = sum(report["products"].values())
    candidates = report["candidates"]
    if rows != fates or candidates["made"] != candidates["kept"] + candidates["rejected"]:
        raise RuntimeError(f"QueryGeneration lost track: {rows} catalogue rows but {fates} product fates "
                           f"{report['products']}, or candidates {candidates} do not add up")


def _empty_output(output_dir: str) -> None:
    """Replaces the split's files with one empty (valid, readable) TFRecord file: retrieval-only downstream."""
    for name in tf.io.gfile.listdir(output_dir):
        tf.io.gfile.remove(os.path.join(output_dir, name))
    examples_io.write_rows_locally([], output_dir)


def _handle_backend_failure(report: Mapping[str, Any], path: str) -> None:
    """Fails the component with the backend's error (on_backend_failure="fail"), or logs that generation was
    skipped. Raised here, outside Beam, so that the message is the first thing a reader sees."""
    products = report["products"][BACKEND_FAILURE]
    settings = report["settings"]
    url = settings["backend_config"].get("base_url")
    backend = settings["backend"] + (f" at {url}" if url else "")
    if report["generation_skipped"]:
        logging.warning("QueryGeneration: LLM backend %s failed; generation skipped (on_backend_failure='skip'): "
                        "%d products get no generated queries, augmentation is retrieval-only. Error: %s. "
                        "Report: %s", backend, products, report["backend_error"], path)
        return
    raise llm_backends.BackendError(
        f"QueryGeneration failed: the LLM backend {backend} failed, so {products} selected "
        f"products got no queries. {report['backend_error']}. Set on_backend_failure='skip' (pipeline/configs.py "
        f"Augmentation.on_backend_failure) to continue with retrieval-only augmentation instead. Report: {path}")


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
        # Before any worker starts: a wrong setting is a configuration error, not a backend fault to skip.
        llm_backends.check_config(settings.backend, settings.backend_config)
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        catalog = artifact_utils.get_single_instance(input_dict[CATALOG_KEY])
        generated = artifact_utils.get_single_instance(output_dict[GENERATED_EXAMPLES_KEY])
        report_artifact = artifact_utils.get_single_instance(output_dict[REPORT_KEY])

        labelled_pattern = examples_io.split_pattern(examples, LABELLED_SPLIT)
        catalog_patterns = {split: examples_io.split_pattern(catalog, split)
                            for split in examples_io.split_names(catalog)}
        output_dir = examples_io.prepare_output(generated, [OUTPUT_SPLIT])[OUTPUT_SPLIT]
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
                .with_outputs(_STATS, _REJECTED, _FAILURES, main="rows"))
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
            _ = (generated_parts[_FAILURES]
                 | "FailuresList" >> beam.combiners.ToList()
                 | "WriteFailures" >> _WriteJson(os.path.join(parts_dir, "failures.json")))
        wall_seconds = time.monotonic() - start

        counts = _read_json(os.path.join(parts_dir, "counts.json"))
        failure = backend_failure(counts, sorted(_read_json(os.path.join(parts_dir, "failures.json"))))
        if failure is not None:
            _empty_output(output_dir)
        report = build_report(
            settings, counts,
            sorted(_read_json(os.path.join(parts_dir, "samples.json")), key=lambda row: row[QUERY_ID]),
            _read_json(os.path.join(parts_dir, "rejected.json")),
            _read_json(os.path.join(parts_dir, "labelled.json")), wall_seconds, failure)
        tf.io.gfile.rmtree(parts_dir)
        path = report_lib.write_report(report_artifact, report, headline={
            "products_in": report["products_in"], "queries_kept": report["candidates"]["kept"],
            "candidates_made": report["candidates"]["made"],
            "candidates_rejected": report["candidates"]["rejected"],
            "backend_failed": int(report["backend_failed"])})
        check_accounting(report)
        if failure is not None:
            _handle_backend_failure(report, path)
        candidates = report["candidates"]
        logging.info(
            "QueryGeneration done in %.1f s: %d catalogue rows -> %d products chosen, %d with queries; "
            "%d queries kept of %d candidates (rejected: %s); %.2f queries/s. Report: %s",
            wall_seconds, report["products_in"], report["products_selected"], report["products"]["with_queries"],
            candidates["kept"], candidates["made"], candidates["rejected_by_reason"] or "none",
            report["queries_per_second"], path)
