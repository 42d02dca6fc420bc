"""Retrieval executor: embeds labelled queries, generated queries and products; writes candidate pairs.

Reads only the `train` split of the labelled examples: eval queries never reach augmentation.
"""
import dataclasses
import json
import logging
import os
import time
from typing import Any, Dict, Iterable, List, Tuple

import apache_beam as beam
import numpy as np
import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from components import examples_io
from components.augmentation import report as report_lib
from components.retrieval import candidates as candidates_lib
from components.retrieval.embedding_cache import EMBEDDING_CACHE_KEY
from models import features

TRAIN_SPLIT = "train"
# Keys of the texts to embed: one namespace each, so a query id and a product id may coincide.
_LABELLED, _GENERATED, _PRODUCT = "labelled", "generated", "product"


class _Embed(beam.DoFn):
    """Embeds batches of (key, text); the encoder is loaded once per worker."""

    def __init__(self, encoder_handle: str, batch_size: int, cache_root: str = ""):
        super().__init__()
        self._handle = encoder_handle
        self._batch_size = batch_size
        self._cache_root = cache_root
        self._encoder = None

    def setup(self):
        from components.retrieval.embedding import TextEncoder  # loads TensorFlow Text on the worker
        self._encoder = TextEncoder(self._handle, self._batch_size, self._cache_root or None)

    def teardown(self):
        for form, cache in (self._encoder.caches if self._encoder else {}).items():
            logging.info("Retrieval: embedding cache (%s): %d read, %d embedded", form, cache.hits, cache.misses)

    def process(self, batch: List[Tuple[Tuple[str, str], str]]):
        for namespace in sorted({key[0] for key, _ in batch}):
            keys, texts = zip(*[(key, text) for key, text in batch if key[0] == namespace])
            embed = self._encoder.embed_passages if namespace == _PRODUCT else self._encoder.embed
            yield from zip(keys, embed(list(texts)))


# Which title of a product is searched (and embedded) when sources disagree: the catalogue's, then the
# labelled log's, then the generator's input; among titles of one source, the smallest (deterministic
# whatever order Beam delivers rows in).
_CATALOG_FIRST = {"catalog": 0, "labelled": 1, "generated": 2}


def _product_titles(labelled: Iterable[dict], catalog: Iterable[dict], generated: Iterable[dict]) -> Dict[str, str]:
    """{product id: title} by the _CATALOG_FIRST rule."""
    best: Dict[str, Tuple[int, str]] = {}
    for source, rows in (("catalog", catalog), ("labelled", labelled), ("generated", generated)):
        for row in rows:
            choice = (_CATALOG_FIRST[source], row[features.PRODUCT_TITLE])
            best[row[features.PRODUCT_ID]] = min(best.get(row[features.PRODUCT_ID], choice), choice)
    return {product_id: title for product_id, (_, title) in best.items()}


def _search(_, labelled, catalog, generated, vectors, settings: candidates_lib.Settings):
    """One element: (candidate rows, stats dict). Runs on one worker: exact search over everything."""
    from components.retrieval.index import ExactIndex

    start = time.perf_counter()
    vectors = dict(vectors)
    query_texts, judged = candidates_lib.labelled_queries(sorted(
        labelled, key=lambda r: (r[features.QUERY_ID], r[features.PRODUCT_ID])))
    titles = _product_titles(labelled, catalog, generated)
    product_ids = sorted(titles)
    dimension = len(next(iter(vectors.values()))) if vectors else 0

    def stack(namespace, ids):
        return np.stack([vectors[(namespace, i)] for i in ids]) if ids else np.zeros((0, dimension), np.float32)

    generated = sorted(generated, key=lambda r: r[features.QUERY_ID])
    index = ExactIndex(product_ids, stack(_PRODUCT, product_ids))
    rows, stats = candidates_lib.find_candidates(
        query_texts, judged, stack(_LABELLED, list(query_texts)), generated,
        stack(_GENERATED, [g[features.QUERY_ID] for g in generated]), index, titles, settings)
    report = {**stats.as_dict(), "labelled_train_rows": len(labelled), "catalog_rows": len(catalog),
              "search_seconds": round(time.perf_counter() - start, 3)}
    yield rows, report


def _texts_to_embed(labelled, catalog, generated):
    """((namespace, id), text) for every distinct labelled query, generated query and product."""
    labelled_queries = (labelled | "LabelledQueries" >> beam.Map(
        lambda r: ((_LABELLED, r[features.QUERY_ID]), r[features.QUERY])))
    generated_queries = (generated | "GeneratedQueries" >> beam.Map(
        lambda r: ((_GENERATED, r[features.QUERY_ID]), r[features.QUERY])))

    def product_texts(rows, source):
        return rows | f"{source}Titles" >> beam.Map(
            lambda r: ((_PRODUCT, r[features.PRODUCT_ID]), (_CATALOG_FIRST[source], r[features.PRODUCT_TITLE])))

    # One title per product, the one _product_titles picks (the one searched is the one embedded).
    products = ((product_texts(catalog, "catalog"), product_texts(labelled, "labelled"),
                 product_texts(generated, "generated")) | "AllProducts" >> beam.Flatten()
                | "OneTitlePerProduct" >> beam.CombinePerKey(min) | "Title" >> beam.MapTuple(lambda k, v: (k, v[1])))
    # A query id has one text (ExampleGen's rule; generated ids are unique): min only makes it deterministic.
    queries = ((labelled_queries, generated_queries) | "AllQueries" >> beam.Flatten()
               | "OnePerQuery" >> beam.CombinePerKey(min))
    return (queries, products) | "AllTexts" >> beam.Flatten()


class Executor(base_beam_executor.BaseBeamExecutor):
    """Writes `candidates` (Examples, split train) and `report` (AugmentationReport)."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        catalog = artifact_utils.get_single_instance(input_dict["catalog"])
        generated = input_dict.get("generated_queries") or []
        output = artifact_utils.get_single_instance(output_dict["candidates"])
        report_artifact = artifact_utils.get_single_instance(output_dict["report"])
        settings = candidates_lib.Settings(**{field.name: field.type(exec_properties[field.name])
                                              for field in dataclasses.fields(candidates_lib.Settings)})
        encoder_handle = exec_properties["encoder_handle"]
        split_dir = examples_io.prepare_output(output, [TRAIN_SPLIT])[TRAIN_SPLIT]
        report_path = os.path.join(report_artifact.uri, report_lib.REPORT_FILE)

        start = time.perf_counter()
        with self._make_beam_pipeline() as pipeline:
            labelled_rows = pipeline | "ReadLabelled" >> examples_io.ReadRows(
                examples_io.split_pattern(examples, TRAIN_SPLIT))
            catalog_rows = ([pipeline | f"ReadCatalog[{split}]" >> examples_io.ReadRows(
                examples_io.split_pattern(catalog, split)) for split in examples_io.split_names(catalog)]
                | "Catalog" >> beam.Flatten())
            if generated:
                generated_artifact = artifact_utils.get_single_instance(generated)
                generated_rows = pipeline | "ReadGenerated" >> examples_io.ReadRows(
                    examples_io.split_pattern(generated_artifact, TRAIN_SPLIT))
            else:
                generated_rows = pipeline | "NoGenerated" >> beam.Create([])

            vectors = (_texts_to_embed(labelled_rows, catalog_rows, generated_rows)
                       | "Batch" >> beam.BatchElements(min_batch_size=64, max_batch_size=256)
                       | "Embed" >> beam.ParDo(_Embed(encoder_handle, batch_size=64,
                                                     cache_root=exec_properties.get(EMBEDDING_CACHE_KEY) or "")))
            found = (pipeline | "Start" >> beam.Create([None])
                     | "Search" >> beam.FlatMap(
                         _search, beam.pvalue.AsList(labelled_rows), beam.pvalue.AsList(catalog_rows),
                         beam.pvalue.AsList(generated_rows), beam.pvalue.AsList(vectors), settings))
            _ = (found | "Rows" >> beam.FlatMap(lambda result: result[0])
                 | "Write" >> examples_io.WriteRows(split_dir))
            _ = found | "Report" >> beam.Map(lambda result: _write_report(result[1], report_path, settings))

        report = report_lib.read_report(report_artifact)
        for name in ("labelled_queries", "generated_queries", "candidates"):
            report_artifact.set_int_custom_property(name, int(report[name]))
        logging.info("Retrieval: %d labelled train queries, %d generated queries, %d products indexed -> "
                     "%d candidates %s (skipped: %s) in %.1f s", report["labelled_queries"],
                     report["generated_queries"], report["products_indexed"], report["candidates"],
                     report["candidates_by_method"], report["skipped_by_reason"], time.perf_counter() - start)


def _write_report(report: dict, path: str, settings: candidates_lib.Settings) -> None:
    report = {"stage": "retrieval", "settings": dataclasses.asdict(settings), **report}
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
