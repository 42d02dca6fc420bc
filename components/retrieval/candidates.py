"""Candidate (query, product) pairs found by embedding similarity; the teacher labels them later.

Three methods, each can be switched off (its count set to 0):
- catalog_neighbour: for each labelled train query, the nearest products it has no judgement for;
- label_transfer: for each labelled train query, the products judged for its nearest labelled train queries
  (similarity >= a threshold), which it has no judgement for;
- generated: each generated query with its source product (origin "generated"), plus hard negatives: the
  nearest other products, and the source product's retrieval rank (for round-trip consistency checks).
Every input query is accounted for in the Stats: its candidates, or the reason it has none.
"""
import collections
import dataclasses
from typing import Dict, Iterable, List, Mapping, Sequence, Set, Tuple

import numpy as np

from components.retrieval.index import VectorIndex
from models import features

# Columns of every candidate row (uniform, so the Examples have one schema).
METHOD = "method"
SOURCE = "source"  # label_transfer: the neighbour query's id; generated rows: the source product's id
SIMILARITY = "similarity"  # cosine of query and product (or of the two queries, for label_transfer)
SOURCE_RANK = "source_rank"  # generated_source rows: 1-based retrieval rank of the source product; else 0
CATALOG_NEIGHBOUR, LABEL_TRANSFER, GENERATED_SOURCE, HARD_NEGATIVE = (
    "catalog_neighbour", "label_transfer", "generated_source", "hard_negative")
IMPRESSION = "impression"  # not made here: TeacherLabeling's traffic candidates carry it (similarity 0)


@dataclasses.dataclass(frozen=True)
class Settings:
    products_per_query: int = 5  # catalog_neighbour candidates per labelled query
    neighbour_queries: int = 3  # label_transfer: labelled neighbours looked at per labelled query
    min_query_similarity: float = 0.75  # label_transfer: a neighbour must be at least this similar
    hard_negatives: int = 3  # per generated query


@dataclasses.dataclass
class Stats:
    labelled_queries: int = 0
    generated_queries: int = 0
    products_indexed: int = 0
    made: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def as_dict(self) -> dict:
        return {"labelled_queries": self.labelled_queries, "generated_queries": self.generated_queries,
                "products_indexed": self.products_indexed, "candidates_by_method": dict(self.made),
                "candidates": sum(self.made.values()), "skipped_by_reason": dict(self.skipped)}


def _row(query_id, query, product_id, title, origin, method, source, similarity, source_rank=0) -> dict:
    return {features.QUERY_ID: query_id, features.QUERY: query, features.PRODUCT_ID: product_id,
            features.PRODUCT_TITLE: title, features.ORIGIN: origin, METHOD: method, SOURCE: source,
            SIMILARITY: float(similarity), SOURCE_RANK: float(source_rank)}


def labelled_queries(rows: Iterable[Mapping]) -> Tuple[Dict[str, str], Dict[str, Set[str]]]:
    """({query id: query text}, {query id: judged product ids}) of labelled rows."""
    texts, judged = {}, collections.defaultdict(set)
    for row in rows:
        texts[row[features.QUERY_ID]] = row[features.QUERY]
        judged[row[features.QUERY_ID]].add(row[features.PRODUCT_ID])
    return texts, dict(judged)


def find_candidates(query_texts: Mapping[str, str], judged: Mapping[str, Set[str]],
                    query_vectors: np.ndarray, generated: Sequence[Mapping], generated_vectors: np.ndarray,
                    product_index: VectorIndex, product_titles: Mapping[str, str],
                    settings: Settings) -> Tuple[List[dict], Stats]:
    """All candidates, de-duplicated per (query id, product id); query_vectors follow query_texts' order."""
    stats = Stats(labelled_queries=len(query_texts), generated_queries=len(generated),
                  products_indexed=len(product_index.ids))
    rows: List[dict] = []
    seen: Set[Tuple[str, str]] = {(q, p) for q, products in judged.items() for p in products}

    def add(row: dict) -> None:
        key = (row[features.QUERY_ID], row[features.PRODUCT_ID])
        if key in seen:
            stats.skipped[f"{row[METHOD]}:already_judged_or_found"] += 1
            return
        seen.add(key)
        rows.append(row)
        stats.made[row[METHOD]] += 1

    query_ids = list(query_texts)
    if settings.products_per_query > 0 and query_ids:
        # Ask for extra neighbours: some are products the query already has judgements for.
        depth = settings.products_per_query + max(len(p) for p in judged.values())
        indices, scores = product_index.search(query_vectors, depth)
        for query_id, row_indices, row_scores in zip(query_ids, indices, scores):
            kept = 0
            for index, score in zip(row_indices, row_scores):
                product_id = product_index.ids[index]
                if product_id in judged.get(query_id, ()):
                    continue
                add(_row(query_id, query_texts[query_id], product_id, product_titles[product_id],
                         features.ORIGIN_RETRIEVED, CATALOG_NEIGHBOUR, "", score))
                kept += 1
                if kept == settings.products_per_query:
                    break

    if settings.neighbour_queries > 0 and len(query_ids) > 1:
        similarities = query_vectors @ query_vectors.T
        np.fill_diagonal(similarities, -np.inf)
        order = np.argsort(-similarities, axis=1, kind="stable")[:, :settings.neighbour_queries]
        for i, query_id in enumerate(query_ids):
            for j in order[i]:
                if similarities[i, j] < settings.min_query_similarity:
                    stats.skipped["label_transfer:neighbour_below_similarity"] += 1
                    continue
                neighbour = query_ids[j]
                for product_id in sorted(judged[neighbour]):
                    add(_row(query_id, query_texts[query_id], product_id, product_titles[product_id],
                             features.ORIGIN_RETRIEVED, LABEL_TRANSFER, neighbour, similarities[i, j]))

    if generated:
        row_of = {product_id: i for i, product_id in enumerate(product_index.ids)}
        missing = sorted({g[features.PRODUCT_ID] for g in generated} - set(row_of))
        if missing:  # the executor indexes every source product; anything else is a wiring bug
            raise ValueError(f"source products of generated queries missing from the index: {missing[:5]}")
        ranks, source_similarities = product_index.rank_of(
            generated_vectors, np.array([row_of[g[features.PRODUCT_ID]] for g in generated]))
        depth = settings.hard_negatives + 1
        indices, scores = (product_index.search(generated_vectors, depth) if settings.hard_negatives > 0
                           else (np.zeros((len(generated), 0), int), np.zeros((len(generated), 0))))
        for g, rank, similarity, row_indices, row_scores in zip(
                generated, ranks, source_similarities, indices, scores):
            add(_row(g[features.QUERY_ID], g[features.QUERY], g[features.PRODUCT_ID], g[features.PRODUCT_TITLE],
                     features.ORIGIN_GENERATED, GENERATED_SOURCE, g[features.PRODUCT_ID], similarity, rank))
            negatives = 0
            for index, score in zip(row_indices, row_scores):
                product_id = product_index.ids[index]
                if product_id == g[features.PRODUCT_ID] or negatives == settings.hard_negatives:
                    continue
                add(_row(g[features.QUERY_ID], g[features.QUERY], product_id, product_titles[product_id],
                         features.ORIGIN_GENERATED, HARD_NEGATIVE, g[features.PRODUCT_ID], score))
                negatives += 1
    return rows, stats
