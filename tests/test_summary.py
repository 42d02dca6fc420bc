"""The run summary's text for outcomes the e2e run does not produce (a skipped generation)."""
from pipeline import summary


def _outcome(generation):
    return {"splits": {"train": {"rows": 10, "queries": 2}}, "metrics": {"candidate": {"ndcg@10": 0.9}},
            "augmentation": None, "generation": generation, "blessed": False, "validation_failures": ["x"],
            "pushed": False, "pushed_destination": None, "serving_model_dir": "/tmp/serving"}


def test_summary_says_when_generation_was_skipped_and_why():
    text = summary.render(_outcome({"generation_skipped": True, "backend_failed": True,
                                    "backend_error": "openai_http at http://127.0.0.1:9: connection refused"}))
    assert "Query generation SKIPPED" in text and "connection refused" in text


def test_summary_counts_generated_queries():
    text = summary.render(_outcome({"generation_skipped": False, "candidates": {"kept": 42},
                                    "products_selected": 30, "completions": 35, "queries_per_second": 1.5}))
    assert "Query generation: 42 queries for 30 products (35 completions, 1.50 queries/s)" in text
    assert "SKIPPED" not in text
