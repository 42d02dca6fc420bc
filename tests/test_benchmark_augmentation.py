"""The augmentation benchmark's bookkeeping: soft labels back to Home Depot pairs, gap closed, the spread
over seeds, the issue's targets, and the rendered report (Markdown and PNG) on a hand-made result."""
import math

import pytest
from PIL import Image

from benchmarks import augmentation_benchmark as ab
from benchmarks import encoder_benchmark as eb
from benchmarks import homedepot
from models import features


def test_kept_rows_keep_the_teachers_gain_as_training_target():
    pairs = [homedepot.Pair("q1", "drill", "p1", "cordless drill", 2.5)]
    row = ab.labelled_rows(pairs)[0]
    assert row[features.RELEVANCE] == pytest.approx(2.25)  # gain 0.75 on the project's 0..3 scale
    back = ab.augmented_pair(row)
    assert back.relevance == pytest.approx(2.5) and eb.target(back.relevance) == pytest.approx(0.75)


def test_distillation_moves_a_judged_target_towards_the_labeller():
    pair = homedepot.Pair("q1", "drill", "p1", "cordless drill", 3.0)  # gain 1.0
    moved = ab.relabelled(pair, 0.5, share=0.5)
    assert eb.target(moved.relevance) == pytest.approx(0.75) and moved.product_id == "p1"
    assert ab.relabelled(pair, 0.2, share=0.0) == pair


def test_gap_closed_and_spread():
    assert ab.gap_closed(0.93, 0.92, 0.94) == pytest.approx(0.5)
    assert ab.gap_closed(0.91, 0.92, 0.94) == pytest.approx(-0.5)
    assert math.isnan(ab.gap_closed(0.93, 0.94, 0.94))
    s = ab.spread([0.1, 0.3, float("nan")])
    assert s["n"] == 2 and s["mean"] == pytest.approx(0.2) and s["min"] == 0.1 and s["max"] == 0.3
    assert ab.spread([])["n"] == 0


def _report():
    def system(ndcg, kept=0):
        return {"ndcg@10": ndcg, "ndcg@10_all": ndcg + 0.01, "pairwise_accuracy": 0.55, "augmented_kept": kept}
    seeds = {}
    for seed, shift in (("1", 0.0), ("2", 0.002)):
        seeds[seed] = {"systems": {"few_label": system(0.920 + shift), "generation": system(0.925 + shift, 300),
                                   "retrieval": system(0.9295 + shift, 900), "both": system(0.932 + shift, 1200),
                                   "full_label": system(0.934 + shift)},
                       "stages": {"train both": {"train_pairs": 3757, "train_pairs_per_s": 25.0, "seconds": 600.0}},
                       "ledgers": {"both": {"candidates": 3000, "kept": 1200, "rejected": {"round_trip": 1800}}},
                       "paired": {"few_label": {"mean": 0.012, "ci95": 0.003, "queries": 1696}}}
    return {"seeds": seeds, "baselines": {"bm25": system(0.921), "zero_shot": system(0.928)},
            "dev_queries": 2000, "dev_pairs": 12443, "headline_queries": 1696}


def test_aggregate_reports_means_gaps_and_targets():
    agg = ab.aggregate(_report())
    both = agg["systems"]["both"]
    assert both["ndcg@10"]["mean"] == pytest.approx(0.933) and both["ndcg@10"]["n"] == 2
    assert both["gap_closed"]["mean"] == pytest.approx(12 / 14)
    # best few-label system: zero-shot 0.928; ceiling 0.935 (mean of the full-label seeds)
    assert both["gap_closed_from_best_few"] == pytest.approx((0.933 - 0.928) / (0.935 - 0.928))
    targets = {t["what"]: t["met"] for t in agg["targets"]}
    assert targets["both - few_label >= +0.01"] and targets["both - zero_shot >= +0.005"]
    assert not targets["both - retrieval >= +0.005"]  # +0.0035
    assert agg["ceiling_source"] == "full_label in this run"


def test_distilled_systems_are_checked_against_the_same_targets():
    report = _report()
    for entry in report["seeds"].values():
        entry["systems"]["labeller"] = {**entry["systems"]["few_label"], "ndcg@10": 0.930}
        entry["systems"]["distil"] = {**entry["systems"]["both"], "ndcg@10": 0.929}
        entry["systems"]["distil_ensemble"] = {**entry["systems"]["both"], "ndcg@10": 0.9355}
    agg = ab.aggregate(report)
    targets = {t["what"]: t["met"] for t in agg["targets"]}
    assert not targets["both - labeller >= +0.005"] and not targets["distil - labeller >= +0.005"]
    assert targets["distil_ensemble - labeller >= +0.005"] and targets["distil_ensemble - few_label >= +0.01"]
    # best few-label system: the labeller 0.930; ceiling 0.935
    assert agg["systems"]["distil_ensemble"]["gap_closed_from_best_few"] == pytest.approx(0.0055 / 0.005)
    assert targets["distil_ensemble closes >= half of the gap from the best few-label system to full-label"]
    assert not targets["distil closes >= half of the gap from the best few-label system to full-label"]


def test_a_served_ensemble_needs_its_student_and_distil_its_teacher():
    with pytest.raises(SystemExit):
        ab._parse(["--output", "x", "--systems", "few_label,distil_ensemble"])
    with pytest.raises(SystemExit):
        ab._parse(["--output", "x", "--systems", "few_label,both_ensemble"])
    with pytest.raises(SystemExit):
        ab._parse(["--output", "x", "--systems", "distil"])
    args = ab._parse(["--output", "x", "--systems", "few_label,distil,distil_ensemble"])
    assert args.systems == ["few_label", "distil", "distil_ensemble"]


def test_ceiling_from_another_run_when_full_label_was_not_trained():
    report = _report()
    for entry in report["seeds"].values():
        del entry["systems"]["full_label"]
    report["ceiling"] = {"ndcg@10": 0.9304, "source": "encoder_benchmark.json: ours_full (seed 42)"}
    agg = ab.aggregate(report)
    assert agg["systems"]["both"]["gap_closed"]["mean"] == pytest.approx(((0.932 - 0.920) / (0.9304 - 0.920)
                                                                         + (0.934 - 0.922) / (0.9304 - 0.922)) / 2)
    assert agg["ceiling_source"].startswith("encoder_benchmark.json")
    report["aggregate"] = agg
    assert ("| full-label (ceiling) | 0.9304 (not run here: encoder_benchmark.json: ours_full (seed 42)) |"
            in ab.render_markdown(report))


def test_report_renders_markdown_and_png(tmp_path):
    report = _report()
    ab.write(report, str(tmp_path), "augmentation_benchmark")
    text = (tmp_path / "augmentation_benchmark.md").read_text(encoding="utf-8")
    assert "| few-label + generation + retrieval | 0.9330 ± 0.0014" in text
    assert "round_trip 1800" in text and "both - few_label, paired over 1696" in text
    report["seeds"]["1"]["paired"]["distil - labeller"] = {"mean": -0.001, "ci95": 0.002, "queries": 1696}
    ab.write(report, str(tmp_path), "augmentation_benchmark")
    text = (tmp_path / "augmentation_benchmark.md").read_text(encoding="utf-8")
    assert "- distil - labeller, paired over 1696" in text
    with Image.open(tmp_path / "augmentation_benchmark.png") as image:
        assert image.size == (900, 560)


def test_paired_differences_are_found_under_old_and_new_keys():
    old = {"paired": {"few_label": {"mean": 0.001}}}
    new = {"paired": {"both - few_label": {"mean": 0.002}, "distil - labeller": {"mean": 0.003}}}
    assert ab.paired_of(old, "both", "few_label")["mean"] == 0.001
    assert ab.paired_of(new, "both", "few_label")["mean"] == 0.002
    assert ab.paired_of(new, "distil", "labeller")["mean"] == 0.003
    assert ab.paired_of(old, "distil", "few_label") is None
