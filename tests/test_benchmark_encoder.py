"""The encoder benchmark's pure parts on tiny synthetic data (no Home Depot data, no torch, no training)."""
import math

import pytest

from benchmarks import encoder_benchmark as eb
from benchmarks import torch_cross_encoder as ref
from benchmarks.homedepot import HomeDepot, Pair


def _data() -> HomeDepot:
    pairs = [Pair("q1", "red shoes", "p1", "Red running shoes", 3.0),
             Pair("q1", "red shoes", "p2", "Blue sandals", 1.0),
             Pair("q2", "tea", "p3", "Green tea 100 bags", 2.5),
             Pair("q2", "tea", "p4", "Teapot", 2.0),
             Pair("q3", "lamp", "p5", "Desk lamp", 3.0),
             Pair("q4", "drill", "p6", "Cordless drill", 1.5)]
    return HomeDepot(pairs, {p.product_id: p.product_title for p in pairs}, dev_queries={"q1", "q2"},
                     few_label_queries={"q3"})


def test_target_is_the_normalised_gain_on_both_sides():
    for relevance, expected in ((1.0, 0.0), (2.0, 0.5), (3.0, 1.0), (2.33, 0.665)):
        assert eb.target(relevance) == pytest.approx(expected)
        assert ref.target(relevance) == pytest.approx(expected)


def test_splits_keep_dev_out_of_training_and_quick_subsets_are_reproducible():
    data = _data()
    ids = eb.splits(data, quick=False, seed=1)
    assert ids == {"dev": ["q1", "q2"], "few_label": ["q3"], "full_label": ["q3", "q4"]}
    assert eb.sample_query_ids([f"q{i}" for i in range(50)], 5, seed=3) == \
        eb.sample_query_ids([f"q{i}" for i in reversed(range(50))], 5, seed=3)
    assert len(eb.sample_query_ids([f"q{i}" for i in range(50)], 5, seed=3)) == 5


def test_select_keeps_file_order_like_the_reference():
    data = _data()
    assert [p.product_id for p in eb.select(data.pairs, ["q2", "q1"])] == ["p1", "p2", "p3", "p4"]
    assert eb.select(data.pairs, {"q2", "q1"}) == ref.select(data, ["q2", "q1"])


def test_make_dataset_yields_raw_string_batches_and_targets():
    import tensorflow as tf

    pairs = _data().pairs
    batches = list(eb.make_dataset(pairs, batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 2]  # last batch kept
    inputs, targets = batches[0]
    assert set(inputs) == {"query", "product_title"}
    assert inputs["query"].dtype == tf.string and inputs["query"].shape.rank == 1
    assert inputs["product_title"].numpy()[0].decode() == "Red running shoes"
    assert targets.numpy().tolist() == pytest.approx([1.0, 0.0, 0.75, 0.5])
    shuffled = [t for _, ts in eb.make_dataset(pairs, 4, shuffle_seed=7) for t in ts.numpy().tolist()]
    assert sorted(shuffled) == pytest.approx(sorted(eb.target(p.relevance) for p in pairs))


def test_judged_and_metrics_of_a_perfect_and_a_reversed_scorer():
    from models import ranking_metrics as metrics

    dev = eb.select(_data().pairs, ["q1", "q2"])
    perfect = metrics.evaluate(eb.judged(dev, [p.relevance for p in dev]))
    assert perfect["ndcg@10"] == pytest.approx(1.0) and perfect["pairwise_accuracy"] == pytest.approx(1.0)
    reverse = metrics.evaluate(eb.judged(dev, [-p.relevance for p in dev]))
    assert reverse["pairwise_accuracy"] == pytest.approx(0.0)
    with pytest.raises(ValueError):
        eb.judged(dev, [0.0])


def test_paired_difference_and_steady_rate():
    diff = eb.paired_difference({"a": 0.9, "b": 0.8, "c": 1.0}, {"a": 0.8, "b": 0.8, "d": 0.1})
    assert diff["queries"] == 2 and diff["mean"] == pytest.approx(0.05) and diff["ci95"] > 0
    # 4 steps of 10 pairs, stamped 1 s apart: the first step's (tracing) time is left out.
    assert eb.steady_rate([5.0, 6.0, 7.0, 8.0], 40, 10) == pytest.approx(10.0)
    assert ref.steady_rate([5.0, 6.0, 7.0, 8.0], 40, 10) == pytest.approx(10.0)
    assert math.isnan(eb.steady_rate([5.0], 10, 10))


def test_reference_hparams_match_our_schedule():
    hp = {"batch_size": 16, "epochs": 4, "learning_rate": 5e-5, "warmup_fraction": 0.1, "weight_decay": 0.01,
          "clip_norm": 1.0, "decay": "linear", "end_learning_rate_fraction": 0.0, "loss": "pointwise",
          "pointwise_loss": "sigmoid_cross_entropy"}
    out = eb.reference_hparams(hp, train_pairs=2557)
    assert eb.total_steps(2557, hp) == 160 * 4
    assert out == {"batch_size": 16, "epochs": 4, "learning_rate": 5e-5, "warmup_steps": 64,
                   "weight_decay": 0.01, "max_grad_norm": 1.0, "max_length": 128}
    with pytest.raises(ValueError):
        eb.reference_hparams({**hp, "decay": "cosine"}, 100)
    with pytest.raises(ValueError):
        eb.reference_hparams({**hp, "pointwise_loss": "mse"}, 100)


def _system(ndcg, train_rate, score_rate):
    return {"train_set": "few-label (3 queries)", "train_pairs": 10, "epochs": 1, "ndcg@10": ndcg,
            "ndcg@10_all": ndcg, "pairwise_accuracy": 0.6, "train_pairs_per_s": train_rate,
            "score_pairs_per_s": score_rate, "wall_seconds": 130.0}


def test_ratios_targets_and_markdown_table_with_a_missing_system():
    systems = {"bm25": {"train_set": "–", "train_pairs": 0, "epochs": None, "ndcg@10": 0.92, "ndcg@10_all": 0.93,
                        "pairwise_accuracy": 0.55, "wall_seconds": 3.0},
               "ours_few": _system(0.918, 60.0, 300.0), "reference_few": _system(0.920, 50.0, 400.0)}
    report = {"seed": 5, "dev_queries": 2, "dev_pairs": 4, "headline_queries": 2,
              "planned": ["bm25", "ours_few", "reference_few", "ours_full"], "systems": systems,
              "command": "python -m benchmarks.encoder_benchmark --output x", "machine": {"cpus": 2}}
    report["ratios"] = eb.ratios(systems)
    assert report["ratios"]["few"]["train_pairs_per_s"] == pytest.approx(1.2)
    assert report["ratios"]["few"]["score_pairs_per_s"] == pytest.approx(0.75)
    assert report["ratios"]["few"]["ndcg@10_minus_reference"] == pytest.approx(-0.002)
    report["targets"] = eb.evaluate_targets(report)
    assert [t["met"] for t in report["targets"]] == [True, True, False]

    text = eb.render_markdown(report)
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| system | train set | pairs | epochs | NDCG@10 headline")
    assert len(table) == 2 + 4  # header, rule, one row per planned system
    assert "| BM25 (catalogue statistics) | – | 0 | – | 0.9200 | 0.9300 | 0.5500 | – | – | 3 s |" in table
    assert any("0.9180" in row and "60.0" in row and "2.2 min" in row for row in table)
    assert "missing" in table[-1] and "**Missing**" in text and "ours_full" in text
    assert "x1.20" in text and "x0.75" in text and "-0.0020" in text
    assert "python -m benchmarks.encoder_benchmark --output x" in text and "Seed 5" in text
