"""Retrieval: candidate (query, product) pairs found with the encoder's embeddings, for the teacher to label.

For each labelled train query: the nearest catalogue products it has no judgement for, and the products
judged for its nearest labelled queries (label transfer); for each generated query: its source product,
its retrieval rank (round-trip check) and hard negatives. Exact search; see index.py to swap in an
approximate index.
"""
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import channel, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.augmentation.report import AugmentationReport
from components.retrieval import candidates, embedding_cache, executor


# One execution parameter per candidates.Settings field (defaults and meaning documented there).
_SETTINGS = {name: ExecutionParameter(type=type(value)) for name, value in vars(candidates.Settings()).items()}


class RetrievalSpec(ComponentSpec):
    PARAMETERS = {
        "encoder_handle": ExecutionParameter(type=str),
        # For the cache key only, never read by the executor: changes when the export at encoder_handle
        # is rewritten (models.encoder.fingerprint; "" for a handle with no export stamp).
        "encoder_fingerprint": ExecutionParameter(type=str, optional=True),
        # Where embeddings are kept by encoder fingerprint (embedding_cache.py); "" or absent: not kept.
        embedding_cache.EMBEDDING_CACHE_KEY: ExecutionParameter(type=str, optional=True),
        **_SETTINGS}
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "catalog": ChannelParameter(type=standard_artifacts.Examples),
        "generated_queries": ChannelParameter(type=standard_artifacts.Examples, optional=True),
    }
    OUTPUTS = {
        "candidates": ChannelParameter(type=standard_artifacts.Examples),
        "report": ChannelParameter(type=AugmentationReport),
    }


class Retrieval(base_beam_component.BaseBeamComponent):
    """Embeds queries and products and writes candidate pairs with their provenance.

    Usage:
        retrieval = Retrieval(examples=example_gen.outputs["examples"],
                              catalog=catalog_gen.outputs["examples"],
                              generated_queries=query_generation.outputs["generated_examples"],
                              encoder_handle="/path/to/encoder")
    """

    SPEC_CLASS = RetrievalSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, catalog: types.BaseChannel, encoder_handle: str,
                 generated_queries: Optional[types.BaseChannel] = None, encoder_fingerprint: str = "",
                 embedding_cache: str = "", **settings):
        """Args:
          examples: labelled Examples; only the `train` split is read.
          catalog: Examples of the unlabelled catalogue (product_id, product_title), every split.
          encoder_handle: path of a TF Hub style text encoder with an `embed` function.
          generated_queries: optional Examples of generated queries (query_id, query, product_id,
            product_title), split `train`.
          encoder_fingerprint: models.encoder.fingerprint(encoder_handle), so that a cached run is not
            reused after the export at that path is rewritten.
          embedding_cache: a folder (local or gs://) where the embeddings are kept by the encoder's
            fingerprint, so that a rerun on the same catalogue embeds nothing (embedding_cache.py); "": none.
          **settings: overrides of candidates.Settings (products_per_query, neighbour_queries,
            min_query_similarity, hard_negatives; a count of 0 switches that method off).
        """
        unknown = set(settings) - set(_SETTINGS)
        if unknown:
            raise ValueError(f"Retrieval: unknown settings {sorted(unknown)}; known: {sorted(_SETTINGS)}")
        spec = RetrievalSpec(
            examples=examples, catalog=catalog, generated_queries=generated_queries,
            encoder_handle=encoder_handle, encoder_fingerprint=encoder_fingerprint,
            embedding_cache=embedding_cache,
            **vars(candidates.Settings(**settings)),
            candidates=channel.Channel(type=standard_artifacts.Examples),
            report=channel.Channel(type=AugmentationReport))
        super().__init__(spec=spec)
