"""The pipeline benchmark's data drops (benchmarks/pipeline_benchmark.py) on a tiny hand-made Home Depot folder:
the grades and their scale, the traffic pool (never a dev or budget query, never a grade), the full-label drop, and
what it scores (the newest complete version, each output of score_parts). No pipeline run: that is the
benchmark's own job, too long for a test."""
import csv
import os

import pytest

from benchmarks import homedepot
from benchmarks import pipeline_benchmark as pb
from components.search_log_example_gen import rules
from models import features


def _homedepot(folder):
    rows = [("q1", "drill", "p1", "Cordless drill", 3.0), ("q1", "drill", "p2", "Hammer", 1.0),
            ("q2", "saw", "p3", "Hand saw", 2.33), ("q2", "saw", "p1", "Cordless drill", 1.67),
            ("q3", "paint", "p4", "Deck paint", 2.67), ("q4", "tile", "p5", "Floor tile", 2.0)]
    with open(folder / "labeled.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("query_id", "query", "product_id", "product_title", "relevance"))
        writer.writerows(rows)
    with open(folder / "catalog.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("product_id", "product_title"))
        writer.writerows([("p1", "Cordless drill"), ("p2", "Hammer"), ("p3", "Hand saw"), ("p4", "Deck paint"),
                          ("p5", "Floor tile"), ("p6", "Garden hose")])
    (folder / "dev_queries.txt").write_text("q4\n", encoding="utf-8")
    (folder / "budget_400_queries.txt").write_text("q1\n", encoding="utf-8")
    return homedepot.load(folder)


def _read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_every_run_states_home_depots_grade_scale_which_maps_linearly_onto_the_pipelines():
    assert all(spec["flags"][:2] == ["--grade-scale", "1:3"] for spec in pb.RUNS.values())
    scale = features.GradeScale.parse(homedepot.GRADE_SCALE)
    assert scale.to_pipeline(1.0) == features.RELEVANCE_MIN and scale.to_pipeline(3.0) == features.RELEVANCE_MAX
    assert scale.to_pipeline(2.0) == pytest.approx(1.5)
    assert scale.to_pipeline(2.33) == pytest.approx(1.995)


def test_the_few_label_drop_has_the_budget_judged_and_the_rest_as_ungraded_traffic(tmp_path):
    data = _homedepot(tmp_path)
    drop = tmp_path / "drop"
    counts = pb.build_drop(data, "few_label", True, str(drop))
    assert counts == {"judged_queries": 1, "judged_pairs": 2, "catalog_products": 6, "traffic_queries": 2,
                      "traffic_pairs": 3}
    log = _read(drop / "search_log.csv")
    assert [(r["query_id"], r["product_id"], float(r["relevance"])) for r in log] == [("q1", "p1", 3.0),
                                                                                       ("q1", "p2", 1.0)]
    scale = features.GradeScale.parse(homedepot.GRADE_SCALE)  # the grades as Home Depot gives them, in scale
    assert all(rules.parse_relevance(r["relevance"], scale)[1] is None for r in log)
    impressions = _read(drop / "impressions.csv")
    assert list(impressions[0]) == list(features.IMPRESSION_COLUMNS)  # no grade column
    assert sorted((r["query_id"], r["product_id"]) for r in impressions) == [("q2", "p1"), ("q2", "p3"), ("q3", "p4")]
    # The pipeline's own rule table accepts both files as they are.
    for name, kind in (("search_log.csv", rules.JUDGEMENTS), ("impressions.csv", rules.IMPRESSIONS),
                       ("catalog.csv", rules.CATALOG)):
        with open(drop / name, encoding="utf-8") as f:
            header = next(csv.reader(f))
        rules.check_header(name, header, rules.columns_of(kind))
    assert len(_read(drop / "catalog.csv")) == 6


def test_the_full_label_drop_has_every_non_dev_query_and_no_traffic(tmp_path):
    data = _homedepot(tmp_path)
    drop = tmp_path / "full"
    counts = pb.build_drop(data, "full_label", False, str(drop))
    assert counts["judged_queries"] == 3 and counts["judged_pairs"] == 5
    assert {r["query_id"] for r in _read(drop / "search_log.csv")} == {"q1", "q2", "q3"}
    assert not os.path.exists(drop / "impressions.csv")


def test_the_scored_version_is_the_newest_complete_one(tmp_path):
    assert pb.latest_version(str(tmp_path)) is None
    for version, complete in (("5", True), ("9", True), ("12", False), ("tmp", True)):
        (tmp_path / version).mkdir()
        if complete:
            (tmp_path / version / "saved_model.pb").write_bytes(b"")
    assert pb.latest_version(str(tmp_path)) == str(tmp_path / "9")


def test_the_workdir_must_be_outside_the_repository():
    with pytest.raises(SystemExit, match="outside the repository"):
        pb.main(["--workdir", str(pb.REPO_ROOT / "build" / "bench")])


def test_a_finished_run_is_recognised_by_its_wall_time_line(tmp_path):
    log = tmp_path / "run.log"
    assert pb._wall_seconds_of(str(log)) is None  # no log: never ran
    log.write_text("INFO step 10/100\n", encoding="utf-8")
    assert pb._wall_seconds_of(str(log)) is None  # still running, or killed
    log.write_text("INFO step 100/100\nBlessed: yes\nWall time: 2412 s\n", encoding="utf-8")
    assert pb._wall_seconds_of(str(log)) == 2412.0
