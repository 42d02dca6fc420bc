"""BM25's tokens (English as before, Chinese as character n-grams, full width folded) and what the n-grams
buy on the Chinese sample (data/sample_zh) by NDCG@10."""
import csv
import pathlib
import re

import pytest

from models import ranking_metrics as metrics
from benchmarks.bm25 import BM25, tokens

SAMPLE_ZH = pathlib.Path(__file__).resolve().parents[1] / "data" / "sample_zh"


def word_tokens(text):
    """The tokens before Chinese support: `\\w+` sees a whole run of Han characters as one word."""
    return re.findall(r"\w+", text.lower())


ENGLISH = [
    "Stride Lite men's running shoes, breathable mesh, black",
    "65W fast charger | GaN | 2 ports",
    "Insulated water-bottle 500ml (leak_proof lid) x2",
    "  KING size duvet cover set / with pillowcases  ",
    "Zephlin wireless earbuds - 30h battery; charging case: white",
]


@pytest.mark.parametrize("text", ENGLISH)
def test_english_tokens_are_unchanged(text):
    assert tokens(text) == word_tokens(text)


def test_english_tokens_by_example():
    assert tokens("Men's T-Shirt, 2-pack (500ml)") == ["men", "s", "t", "shirt", "2", "pack", "500ml"]


def test_han_runs_become_unigrams_and_bigrams():
    assert tokens("男士运动鞋") == ["男", "士", "运", "动", "鞋", "男士", "士运", "运动", "动鞋"]
    assert tokens("鞋") == ["鞋"]


def test_no_bigram_across_a_space_or_a_latin_word():
    assert tokens("白色 T恤") == ["白", "色", "白色", "t", "恤"]
    assert tokens("纯棉T恤") == ["纯", "棉", "纯棉", "t", "恤"]
    assert tokens("Lumora X6 手机壳") == ["lumora", "x6", "手", "机", "壳", "手机", "机壳"]
    assert tokens("保温杯500ml") == ["保", "温", "杯", "保温", "温杯", "500ml"]


def test_full_width_letters_digits_and_spaces_fold_to_ascii():
    assert tokens("ＴＰＥ瑜伽垫\u3000６ｍｍ") == tokens("TPE瑜伽垫 6mm") == ["tpe", "瑜", "伽", "垫", "瑜伽", "伽垫", "6mm"]
    assert tokens("ＳＰＦ５０") == ["spf50"]


def test_a_chinese_query_matches_inside_a_longer_han_run():
    titles = ["男士运动鞋 黑色", "多层鞋柜 白色", "不锈钢保温杯 500ml"]
    bm25 = BM25(titles)
    shoe, cabinet, cup = (bm25.score("运动鞋", title) for title in titles)
    assert shoe > cabinet > cup == 0.0  # the cabinet shares only 鞋
    assert BM25(titles, tokenize=word_tokens).score("运动鞋", titles[0]) == 0.0  # "男士运动鞋" != "运动鞋"


def _rows(name):
    with open(SAMPLE_ZH / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def mean_ndcg_at_10(bm25):
    """Headline NDCG@10 over the sample's queries, each ranking its judged products by BM25 (gain = grade)."""
    queries = {}
    for row in _rows("search_log.csv"):
        score = bm25.score(row["query"], row["product_title"])
        queries.setdefault(row["query_id"], []).append(
            metrics.Judged(row["product_id"], float(row["relevance"]), score))
    return metrics.evaluate(queries)["ndcg@10"]


def test_char_ngrams_rank_the_chinese_sample_far_better_than_whole_han_runs():
    titles = [row["product_title"] for row in _rows("catalog.csv")]
    char_ngrams = mean_ndcg_at_10(BM25(titles))
    whole_runs = mean_ndcg_at_10(BM25(titles, tokenize=word_tokens))
    # Measured: 0.967 with character n-grams, 0.762 with `\w+` words.
    assert char_ngrams > whole_runs + 0.1, (char_ngrams, whole_runs)
