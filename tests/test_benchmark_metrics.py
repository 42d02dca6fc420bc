"""PROTOCOL.md's metrics on hand-checked examples."""
import math

import pytest

from models.ranking_metrics import Judged, evaluate, ndcg_at, pairwise_counts


def test_ndcg_of_the_ideal_order_is_one_and_of_the_reverse_is_known():
    items = [Judged("a", 2.0, 0.9), Judged("b", 1.0, 0.5), Judged("c", 0.0, 0.1)]
    assert ndcg_at(items) == pytest.approx(1.0)
    reverse = [Judged("a", 2.0, 0.1), Judged("b", 1.0, 0.5), Judged("c", 0.0, 0.9)]
    ideal = 2 + 1 / math.log2(3)
    assert ndcg_at(reverse) == pytest.approx((0 + 1 / math.log2(3) + 2 / 2) / ideal)


def test_ties_in_score_are_broken_by_product_id_ascending():
    tied = [Judged("b", 2.0, 0.5), Judged("a", 0.0, 0.5)]  # "a" ranks first although it has no gain
    assert ndcg_at(tied) == pytest.approx((0 + 2 / math.log2(3)) / 2)


def test_pairwise_accuracy_counts_score_ties_as_half_and_skips_equal_gains():
    items = [Judged("a", 2.0, 0.9), Judged("b", 1.0, 0.9), Judged("c", 1.0, 0.1)]
    assert pairwise_counts(items) == (1.5, 2)


def test_headline_excludes_single_product_and_single_grade_queries():
    queries = {
        "q1": [Judged("a", 2.0, 0.9), Judged("b", 0.0, 0.1)],  # headline, perfect
        "q2": [Judged("c", 1.0, 0.3)],  # one product: all-query only
        "q3": [Judged("d", 0.0, 0.3), Judged("e", 0.0, 0.2)],  # ideal DCG 0: neither
    }
    figures = evaluate(queries)
    assert figures["ndcg@10"] == pytest.approx(1.0) and figures["headline_queries"] == 1
    assert figures["ndcg@10_all"] == pytest.approx(1.0)
    assert figures["pairwise_accuracy"] == pytest.approx(1.0)
