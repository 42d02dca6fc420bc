"""The throughput benchmark's aggregation and rendering on fixed numbers (no model, no data, no subprocess)."""
import math

import pytest

from benchmarks import throughput_benchmark as tb


def _side(train, score, load=1.0):
    loads = {k: [load, 2.0, 3.0] for k in ("train_before", "train_after", "score_before", "score_after")}
    return {"train_pairs_per_s": train, "score_pairs_per_s": score, "load_average": loads}


def _rounds():
    # ours vs the reference at 2 threads: training x0.9, x1.2, x1.1 (median 1.1); scoring x2, x3, x0.5 (median 2)
    # at 1 thread: training x0.5 each round, scoring x1.0, x1.5, x0.8 (median 1.0)
    ours = [(18.0, 100.0), (24.0, 150.0), (22.0, 50.0)]
    ref2 = [(20.0, 50.0), (20.0, 50.0), (20.0, 100.0)]
    ref1 = [(36.0, 100.0), (48.0, 100.0), (44.0, 62.5)]
    return [{"round": i + 1, "ours": _side(*o), "reference": {"2": _side(*r2, load=4.5), "1": _side(*r1)}}
            for i, (o, r2, r1) in enumerate(zip(ours, ref2, ref1))]


def test_median_ratios_per_metric_and_thread_count():
    summary = tb.summarise(_rounds(), [2, 1])
    assert summary["train_pairs_per_s"]["2"]["ratios"] == pytest.approx([0.9, 1.2, 1.1])
    assert summary["train_pairs_per_s"]["2"]["median_ratio"] == pytest.approx(1.1)
    assert summary["score_pairs_per_s"]["2"]["median_ratio"] == pytest.approx(2.0)
    assert summary["train_pairs_per_s"]["1"]["median_ratio"] == pytest.approx(0.5)
    assert summary["score_pairs_per_s"]["1"]["median_ratio"] == pytest.approx(1.0)
    assert summary["train_pairs_per_s"]["2"]["median_ours"] == pytest.approx(22.0)
    assert summary["score_pairs_per_s"]["2"]["median_reference"] == pytest.approx(50.0)


def test_missing_or_failed_measurements_are_left_out_of_the_median():
    rounds = _rounds()
    del rounds[2]["reference"]["2"]  # interrupted round
    rounds[1]["ours"]["train_pairs_per_s"] = math.nan  # fewer than two steps
    summary = tb.summarise(rounds, [2])
    assert math.isnan(summary["train_pairs_per_s"]["2"]["ratios"][1])
    assert math.isnan(summary["train_pairs_per_s"]["2"]["ratios"][2])
    assert summary["train_pairs_per_s"]["2"]["median_ratio"] == pytest.approx(0.9)
    assert summary["score_pairs_per_s"]["2"]["median_ratio"] == pytest.approx(2.5)  # even count: mean of middle
    assert math.isnan(tb.median([math.nan]))


def test_targets_use_the_matched_thread_count_and_need_a_ratio_of_at_least_one():
    summary = tb.summarise(_rounds(), [2, 1])
    targets = {t["metric"]: t for t in tb.evaluate_targets(summary, matched=2)}
    assert targets["train_pairs_per_s"]["met"] and targets["score_pairs_per_s"]["met"]
    assert targets["train_pairs_per_s"]["detail"] == "median x1.10 over 3 rounds (per round x0.90, x1.20, x1.10)"
    against_one = {t["metric"]: t["met"] for t in tb.evaluate_targets(summary, matched=1)}
    assert against_one == {"train_pairs_per_s": False, "score_pairs_per_s": True}  # x0.5 fails, x1.0 is met
    assert not tb.evaluate_targets(tb.summarise([], [2]), matched=2)[0]["met"]  # no rounds: NaN is not met


def test_markdown_has_per_round_and_median_ratios_loads_and_verdicts():
    rounds = _rounds()
    rounds[0]["ours"]["train_pairs_per_s"] = 10.0
    rounds[2]["ours"]["train_pairs_per_s"] = 10.0  # training at 2 threads: x0.5, x1.2, x0.5, median x0.50
    report = {"rounds": rounds, "planned_rounds": 4, "torch_threads": [2, 1], "matched_threads": 2, "steps": 120,
              "batch_size": 16, "score_pairs": 2560, "score_batch": 64, "command": "python -m x"}
    md = tb.render_markdown(report)
    assert "- training throughput: **NOT met** (median x0.50 over 3 rounds (per round x0.50, x1.20, x0.50))" in md
    assert "- scoring throughput: **met** (median x2.00" in md
    assert "training x0.28 (< 1), scoring x1.00 (>= 1)" in md  # against 1 thread, reported apart
    assert "| 1 | 10.0 | 20.0 | x0.50 | 36.0 | x0.28 | 1.00 → 1.00 | 4.50 → 4.50 | 1.00 → 1.00 |" in md
    assert "| **median** | 10.0 | 20.0 | **x0.50** | 44.0 | **x0.28** |" in md
    assert "| **median** | 100.0 | 50.0 | **x2.00** | 100.0 | **x1.00** |" in md
    assert "reference, 2 threads (matched)" in md and "reference, 1 thread |" in md
    assert "**Incomplete**: 3 of 4 rounds." in md
    assert "- round 1, reference, 2 threads: training [4.5, 2.0, 3.0] / [4.5, 2.0, 3.0]" in md
