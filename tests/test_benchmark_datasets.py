"""The benchmarks on our own sample format and on either encoder (issue 7 item 3): the sample loader (rows and
splits as the pipeline makes them, relevance mapping), the result names, the zero-shot's passage form and the
encoder comparison table on hand-made reports. No training."""
import glob
import json
import os

import numpy as np
import pytest

from benchmarks import augmentation_benchmark as ab
from benchmarks import datasets, encoder_comparison, homedepot
from benchmarks import encoder_benchmark as eb
from models import features
from pipeline import configs

HEADER = ",".join(features.RAW_COLUMNS)


def _sample_dir(folder, log_lines, catalog_lines):
    (folder / "search_log.csv").write_text("\n".join([HEADER] + log_lines) + "\n", encoding="utf-8")
    (folder / "catalog.csv").write_text("\n".join(["product_id,product_title"] + catalog_lines) + "\n",
                                        encoding="utf-8")
    return folder


# ------------------------------------------------------------------------------------------ the loader

def test_a_grade_becomes_a_relevance_whose_training_target_is_the_pipelines_label():
    for grade in (0.0, 1.0, 1.5, 2.0, 3.0):
        relevance = datasets.benchmark_relevance(grade)
        assert eb.target(relevance) == pytest.approx(features.normalised_gain(grade))
        # the benchmark's gain is the grade scaled by 2/3: NDCG and pairwise accuracy as with gain = grade
        assert homedepot.Pair("q", "q", "p", "t", relevance).gain == pytest.approx(grade * 2 / 3)


def test_sample_loader_keeps_the_rows_example_gen_keeps(tmp_path):
    folder = _sample_dir(tmp_path, [
        "q1,running shoes,p1,Stride Lite running shoes,3.0",
        "q1,running shoes,p2,Bamboo shoe shelf,0.0",
        "q1,running shoes,p2,Bamboo shoe shelf,1.0",  # duplicate (query_id, product_id): quarantined
        "q2,保温杯,p3,不锈钢保温杯 500ml,2.0",
        "q3,laptop bag,p4,Canvas laptop bag 15 inch,7.0",  # relevance out of range: quarantined
        "q4,laptop bag,p9,Judged but not in the catalogue,1.0",
    ], ["p1,Stride Lite running shoes", "p2,Bamboo shoe shelf", "p3,不锈钢保温杯 500ml", "p5,Unjudged kettle"])
    dataset = datasets.load(folder)
    assert dataset.kind == datasets.SAMPLE and dataset.name == tmp_path.name and dataset.rows_dropped == 2
    assert [(p.query_id, p.product_id, round(eb.target(p.relevance), 4)) for p in dataset.data.pairs] == [
        ("q1", "p1", 1.0), ("q1", "p2", 0.0), ("q2", "p3", 0.6667), ("q4", "p9", 0.3333)]
    assert dataset.data.catalog["p5"] == "Unjudged kettle"  # unlabelled products are retrieval's to find
    assert dataset.data.catalog["p9"] == "Judged but not in the catalogue"
    ids = dataset.split_ids()
    assert ids["full_label"] == [] and not dataset.has_full_label  # no ceiling on a sample
    assert sorted(ids["dev"] + ids["few_label"]) == ["q1", "q2", "q4"]


def _example_gen_splits(folder, output):
    """query_id -> split of the rows SearchLogExampleGen's executor writes, run as the pipeline runs it."""
    import apache_beam as beam
    import tensorflow as tf
    from tfx.dsl.components.base import base_beam_executor
    from tfx.proto import example_gen_pb2
    from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
    from tfx.utils import proto_utils

    from components.search_log_example_gen import executor
    from pipeline.pipeline import example_gen_output_config

    examples = standard_artifacts.Examples()
    examples.uri = str(output)
    exec_properties = {
        standard_component_specs.INPUT_BASE_KEY: str(folder),
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="search_log", pattern=configs.SEARCH_LOG_PATTERN)])),
        standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(example_gen_output_config()),
        executor.MAX_QUARANTINE_FRACTION_KEY: configs.MAX_QUARANTINE_FRACTION,
        executor.MAX_TEXT_CHARS_KEY: configs.MAX_TEXT_CHARS,
    }
    context = base_beam_executor.BaseBeamExecutor.Context(
        make_beam_pipeline_fn=lambda: beam.Pipeline(argv=["--runner=FnApiRunner"]))
    executor.Executor(context).Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties)
    splits = {}
    for split in configs.SPLIT_BUCKETS:
        files = glob.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*.gz"))
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
            query_id = tf.train.Example.FromString(record).features.feature[features.QUERY_ID].bytes_list.value[0]
            splits.setdefault(split, set()).add(query_id.decode("utf-8"))
    return splits


def test_sample_splits_are_the_pipelines(tmp_path):
    """dev = the eval split and few-label = the train split that SearchLogExampleGen writes for
    data/sample_zh (90 queries), and no query is in both."""
    dataset = datasets.load(configs.REPO_ROOT / "data" / "sample_zh")
    written = _example_gen_splits(configs.REPO_ROOT / "data" / "sample_zh", tmp_path / "examples")
    ids = dataset.split_ids()
    assert set(ids["dev"]) == written[configs.EVAL_SPLIT] and len(ids["dev"]) > 0
    assert set(ids["few_label"]) == written[configs.TRAIN_SPLIT]
    assert not set(ids["dev"]) & set(ids["few_label"])
    assert len(ids["dev"]) + len(ids["few_label"]) == len({p.query_id for p in dataset.data.pairs}) == 90


# --------------------------------------------------------------------------------- names and options

def test_result_names_keep_the_home_depot_minilm_report_and_separate_the_rest():
    assert ab.result_name("homedepot", "all-MiniLM-L6-v2") == "augmentation_benchmark"
    assert ab.result_name("homedepot", "all-MiniLM-L6-v2", quick=True) == "augmentation_benchmark_quick"
    assert (ab.result_name("homedepot", "multilingual-e5-small")
            == "augmentation_benchmark_homedepot_multilingual-e5-small")
    names = {ab.result_name(d, e) for d in ("sample_zh", "sample") for e in configs.ENCODERS}
    assert "augmentation_benchmark_sample_zh_multilingual-e5-small" in names and len(names) == 2 * len(configs.ENCODERS)


def test_sample_options_name_the_report_and_leave_out_the_ceiling():
    args = ab._parse(["--output", "x", "--data", str(configs.REPO_ROOT / "data" / "sample_zh"),
                      "--encoder", "multilingual-e5-small"])
    assert args.name == "augmentation_benchmark_sample_zh_multilingual-e5-small"
    assert "full_label" not in args.systems and "both" in args.systems
    assert args.generate_products == configs.QG_MAX_PRODUCTS
    with pytest.raises(SystemExit):
        ab._parse(["--output", "x", "--data", str(configs.REPO_ROOT / "data" / "sample"),
                   "--systems", "few_label,full_label"])
    home_depot = ab._parse(["--output", "x", "--data", "/elsewhere/homedepot"])  # not a sample folder
    assert (home_depot.name, home_depot.encoder, home_depot.generate_products) == (
        "augmentation_benchmark", "all-MiniLM-L6-v2", 400)
    assert "full_label" in home_depot.systems


def test_sample_training_length_is_the_pipelines():
    sample = datasets.Dataset("sample_zh", datasets.SAMPLE, homedepot.HomeDepot([], {}, set(), set()))
    hp = ab.training_hparams(sample, "multilingual-e5-small", quick=False)
    assert {k: hp[k] for k in ab.SAMPLE_HPARAMS_FROM_CONFIGS} == {
        k: configs.CROSS_ENCODER_HPARAMS[k] for k in ab.SAMPLE_HPARAMS_FROM_CONFIGS}
    assert hp["encoder_handle"] == "multilingual-e5-small"
    home_depot = datasets.Dataset("homedepot", datasets.HOMEDEPOT, sample.data)
    assert ab.training_hparams(home_depot, "all-MiniLM-L6-v2", quick=False)["learning_rate"] == 5e-5


# -------------------------------------------------------------------------------------------- zero-shot

class _FakeTensor:
    def __init__(self, value):
        self._value = value

    def numpy(self):
        return self._value


class _SymmetricEncoder:
    """Like MiniLM's export: `embed` only (every text on the same vector here)."""

    def embed(self, texts):
        return _FakeTensor(np.tile([1.0, 0.0], (len(texts.numpy()), 1)))


class _AsymmetricEncoder(_SymmetricEncoder):
    """Like E5's export: a passage form, here scoring titles with "good" higher."""

    def embed_passage(self, texts):
        return _FakeTensor(np.array([[1.0 if b"good" in t else 0.5, 0.0] for t in texts.numpy()]))


def test_zero_shot_embeds_titles_with_the_passage_form_when_the_export_has_one():
    pairs = [homedepot.Pair("q", "drill", "p1", "good drill", 3.0), homedepot.Pair("q", "drill", "p2", "bad", 1.0)]
    assert eb.zero_shot_scores(_AsymmetricEncoder(), pairs) == [1.0, 0.5]
    assert eb.zero_shot_scores(_SymmetricEncoder(), pairs) == [1.0, 1.0]  # titles through `embed`


# ------------------------------------------------------------------------------------ comparison table

def _report(ndcg, dataset=None, encoder=None, quick=False, seeds=("42",)):
    def system(value, kept=0):
        return {"ndcg@10": value, "ndcg@10_all": value, "pairwise_accuracy": value - 0.1, "augmented_kept": kept}
    report = {"quick": quick, "baselines": {"bm25": system(ndcg["bm25"]), "zero_shot": system(ndcg["zero_shot"])},
              "seeds": {s: {"systems": {"few_label": system(ndcg["few_label"]), "both": system(ndcg["both"], 120)},
                            "paired": {"few_label": {"mean": ndcg["both"] - ndcg["few_label"], "ci95": 0.04,
                                                     "queries": 14}}} for s in seeds},
              "dev_queries": 14, "dev_pairs": 143}
    if dataset:
        report.update(dataset=dataset, encoder=encoder)
    report["aggregate"] = ab.aggregate(report)
    return report


def test_comparison_table_has_one_row_per_dataset_and_encoder(tmp_path):
    reports = {
        "augmentation_benchmark_sample_zh_multilingual-e5-small": _report(
            {"bm25": 0.96, "zero_shot": 0.93, "few_label": 0.94, "both": 0.95}, "sample_zh",
            "multilingual-e5-small"),
        "augmentation_benchmark_sample_zh_all-MiniLM-L6-v2": _report(
            {"bm25": 0.96, "zero_shot": 0.85, "few_label": 0.90, "both": 0.91}, "sample_zh", "all-MiniLM-L6-v2",
            seeds=("42", "43")),
        "augmentation_benchmark": _report({"bm25": 0.92, "zero_shot": 0.928, "few_label": 0.927, "both": 0.925}),
        "augmentation_benchmark_sample_zh_multilingual-e5-small_quick": _report(
            {"bm25": 0.1, "zero_shot": 0.1, "few_label": 0.1, "both": 0.1}, "sample_zh", "multilingual-e5-small",
            quick=True),
        "encoder_benchmark": {"systems": {}},  # another benchmark's report: not collected
    }
    for name, report in reports.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(report), encoding="utf-8")
    text = encoder_comparison.write(str(tmp_path))
    assert text == (tmp_path / "encoder_comparison.md").read_text(encoding="utf-8")
    table = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in table[1:]]
    assert len(rows) == 3  # the quick run and the encoder benchmark are left out
    # Home Depot first (a report from before --data/--encoder: MiniLM), then sample_zh MiniLM, then E5;
    # columns: BM25, zero-shot, few-label, labeller, +generation, +retrieval, +both, pairwise, kept, seeds
    assert rows[0][:12] == ["homedepot", "all-MiniLM-L6-v2", "0.9200", "0.9280", "0.9270", "–", "–", "–",
                            "0.9250", "0.8250", "120", "42"]
    assert rows[1][:12] == ["sample_zh", "all-MiniLM-L6-v2", "0.9600", "0.8500", "0.9000", "–", "–", "–",
                            "0.9100", "0.8100", "120", "42, 43"]
    assert rows[2][:5] == ["sample_zh", "multilingual-e5-small", "0.9600", "0.9300", "0.9400"]
    assert rows[2][-1] == ("[augmentation_benchmark_sample_zh_multilingual-e5-small.json]"
                           "(augmentation_benchmark_sample_zh_multilingual-e5-small.md)")
    assert "- sample_zh, all-MiniLM-L6-v2, seed 43: 0.0100 ± 0.0400 over 14 queries" in text
