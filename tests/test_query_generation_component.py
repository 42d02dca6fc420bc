"""QueryGeneration's spec and channels, and its wiring in a real (tiny) pipeline: the catalogue's own
checked ExampleGen and the labelled ExampleGen feed it under LocalDagRunner, as in pipeline/pipeline.py."""
import glob
import json
import os

import pytest
from tfx import v1 as tfx
from tfx.types import artifact_utils, standard_artifacts

from components import examples_io
from components.augmentation.report import REPORT_FILE, AugmentationReport
from components.query_generation.component import CATALOG_SPLIT, QueryGeneration
from pipeline import configs, runners
from pipeline import pipeline as search_pipeline


def _example_gen(data_root):
    return tfx.components.CsvExampleGen(
        input_base=data_root,
        input_config=tfx.proto.Input(splits=[
            tfx.proto.Input.Split(name="search_log", pattern=configs.SEARCH_LOG_PATTERN)]),
        output_config=search_pipeline.example_gen_output_config())


def test_spec_and_channels(sample_data_dir):
    example_gen = _example_gen(sample_data_dir)
    catalog_gen = search_pipeline.catalog_example_gen(sample_data_dir)
    component = QueryGeneration(examples=example_gen.outputs["examples"], catalog=catalog_gen.outputs["examples"],
                                queries_per_product=4, backend_config={"n_threads": 1, "model_path": "/m.gguf"})
    assert catalog_gen.id == "CatalogExampleGen"
    assert component.outputs["generated_examples"].type == standard_artifacts.Examples
    assert component.outputs["report"].type == AugmentationReport
    properties = component.exec_properties
    assert properties["queries_per_product"] == 4 and properties["backend"] == "llama_cpp"
    assert json.loads(properties["backend_config"]) == {"model_path": "/m.gguf", "n_threads": 1}
    assert json.loads(QueryGeneration(examples=example_gen.outputs["examples"],
                                      catalog=catalog_gen.outputs["examples"]).exec_properties["backend_config"]) \
        == {"n_ctx": 1024, "n_threads": 1}


@pytest.mark.slow  # a LocalDagRunner pipeline with the real LLM
def test_in_a_local_pipeline(tmp_path, sample_data_dir):
    example_gen = _example_gen(sample_data_dir)
    catalog_gen = search_pipeline.catalog_example_gen(sample_data_dir)
    query_generation = QueryGeneration(
        examples=example_gen.outputs["examples"], catalog=catalog_gen.outputs["examples"], queries_per_product=2,
        max_products=3, max_rounds=1, seed=configs.QG_SEED, backend_config=configs.QG_BACKEND_CONFIG)
    root = str(tmp_path / "tfx")
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="query-generation-test", pipeline_root=root,
        components=[example_gen, catalog_gen, query_generation],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(tmp_path / "metadata.sqlite")),
        beam_pipeline_args=runners.beam_args(workers=1)))

    # The catalogue is one split with every catalogue row.
    catalog_dirs = glob.glob(os.path.join(root, "CatalogExampleGen", "examples", "*"))
    catalog = standard_artifacts.Examples()
    catalog.uri = catalog_dirs[0]
    catalog.split_names = artifact_utils.encode_split_names([CATALOG_SPLIT])
    with open(configs.SAMPLE_DATA_DIR / configs.CATALOG_FILE, encoding="utf-8") as f:
        catalog_rows = sum(1 for _ in f) - 1
    assert len(list(examples_io.read_rows(examples_io.split_pattern(catalog, CATALOG_SPLIT)))) == catalog_rows

    [report_dir] = glob.glob(os.path.join(root, "QueryGeneration", "report", "*"))
    with open(os.path.join(report_dir, REPORT_FILE), encoding="utf-8") as f:
        report = json.load(f)
    assert report["products_in"] == catalog_rows and report["products_selected"] == 3
    assert report["products"]["over_cap"] == catalog_rows - 3
    [generated_dir] = glob.glob(os.path.join(root, "QueryGeneration", "generated_examples", "*"))
    rows = list(examples_io.read_rows(os.path.join(generated_dir, "Split-train", "*")))
    assert len(rows) == report["candidates"]["kept"] > 0
