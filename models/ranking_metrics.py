"""The ranking metrics of ../shared/benchmarks/PROTOCOL.md (NDCG@10, headline and all-query, and pairwise
accuracy), used by the benchmarks and by the pipeline itself (TeacherLabeling scores its views on the eval split).

Per query, the judged products are ranked by score, ties broken by product_id ascending; gain is the
relevance minus the scale's minimum (linear); DCG@10 = sum of gain_i / log2(i + 2) over the top 10.
"""
import math
from dataclasses import dataclass
from typing import Dict, List, Sequence


@dataclass(frozen=True)
class Judged:
    """One judged product of a query, with the system's score."""
    product_id: str
    gain: float
    score: float


def _dcg(gains: Sequence[float], k: int) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))


def ndcg_at(items: Sequence[Judged], k: int = 10) -> float:
    """NDCG@k of one query; NaN when the ideal DCG is 0 (no gain to find)."""
    ranked = sorted(items, key=lambda j: (-j.score, j.product_id))
    ideal = _dcg(sorted((j.gain for j in items), reverse=True), k)
    return _dcg([j.gain for j in ranked], k) / ideal if ideal > 0 else math.nan


def pairwise_counts(items: Sequence[Judged]) -> tuple:
    """(correctly ordered pairs, pairs with different gains) of one query; ties in score count one half."""
    correct, total = 0.0, 0
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            if a.gain == b.gain:
                continue
            total += 1
            better, worse = (a, b) if a.gain > b.gain else (b, a)
            correct += 1.0 if better.score > worse.score else 0.5 if better.score == worse.score else 0.0
    return correct, total


def is_headline_query(items: Sequence[Judged]) -> bool:
    """At least 2 products and at least 2 distinct relevance values."""
    return len(items) >= 2 and len({j.gain for j in items}) >= 2


def evaluate(queries: Dict[str, List[Judged]], k: int = 10) -> Dict[str, float]:
    """All PROTOCOL figures over a set of queries (query id -> its judged, scored products)."""
    headline, all_queries, correct, total = [], [], 0.0, 0
    for items in queries.values():
        value = ndcg_at(items, k)
        if not math.isnan(value):
            all_queries.append(value)
            if is_headline_query(items):
                headline.append(value)
        c, t = pairwise_counts(items)
        correct, total = correct + c, total + t
    return {
        f"ndcg@{k}": sum(headline) / len(headline) if headline else math.nan,
        f"ndcg@{k}_all": sum(all_queries) / len(all_queries) if all_queries else math.nan,
        "pairwise_accuracy": correct / total if total else math.nan,
        "headline_queries": len(headline),
        "queries": len(queries),
    }


def per_query_ndcg(queries: Dict[str, List[Judged]], k: int = 10) -> Dict[str, float]:
    """Headline queries' NDCG@k, for paired comparisons between systems."""
    return {q: ndcg_at(items, k) for q, items in queries.items() if is_headline_query(items)
            and not math.isnan(ndcg_at(items, k))}
