"""The serving latency benchmark's arithmetic and flags (timing itself is not a test: benchmarks/serving_latency)."""
import pytest

from benchmarks import serving_latency


def _result(model, mode, signature, p50, mean):
    return {"model": model, "mode": mode, "signature": signature, "p50_ms": p50, "p99_ms": p50, "mean_ms": mean,
            "repeats": 10}


def test_ratios_pair_each_case_of_the_model_with_the_same_case_of_the_reference():
    results = [_result("model", "http", "score_text", 120.0, 130.0),
               _result("reference", "http", "score_text", 100.0, 100.0),
               _result("model", "in-process", "score_text", 90.0, 90.0),
               _result("reference", "in-process", "score_text", 60.0, 45.0)]
    assert serving_latency.ratios(results) == [
        {"mode": "http", "signature": "score_text", "p50": 1.2, "mean": 1.3},
        {"mode": "in-process", "signature": "score_text", "p50": 1.5, "mean": 2.0}]


def test_without_a_reference_there_are_no_ratios():
    assert serving_latency.ratios([_result("model", "http", "score_text", 1.0, 1.0)]) == []


def test_render_names_the_models_and_the_ratios():
    report = {"candidates": 100, "machine": {"cpus": 2},
              "results": [_result("model", "http", "score_text", 120.0, 130.0),
                          _result("reference", "http", "score_text", 100.0, 100.0)]}
    report["ratios"] = serving_latency.ratios(report["results"])
    text = serving_latency.render(report)
    assert "reference  http" in text
    assert "model / reference, http score_text: p50 x1.20, mean x1.30" in text


@pytest.mark.parametrize("flags, message", [
    (["--url", "http://127.0.0.1:1", "--reference-model-base-path", "r"], "--url names one server"),
    (["--rounds", "0"], "--rounds must be between 1 and --repeats"),
    (["--rounds", "20", "--repeats", "10"], "--rounds must be between 1 and --repeats")])
def test_bad_flags_are_refused(flags, message, capsys):
    with pytest.raises(SystemExit):
        serving_latency._parse(["--model-base-path", "m", "--output", "o", *flags])
    assert message in capsys.readouterr().err
