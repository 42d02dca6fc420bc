"""TeacherLabeling: the teacher labels every candidate pair; only trustworthy ones join the training data.

Output `augmented_examples`: split train = labelled train rows + kept candidates (soft label = teacher
score on the relevance scale, `origin`, `sample_weight`); split eval = the labelled eval rows, untouched.
Output `report`: report.json and report.html, in = kept + rejected by reason (see filtering.py).
"""
import dataclasses
import json
from typing import Any, Mapping, Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import channel, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.augmentation.report import AugmentationReport
from components.retrieval.embedding_cache import EMBEDDING_CACHE_KEY
from components.teacher_labeling import executor, filtering
from components.teacher_labeling import llm_judge as judge_module
from models import encoder as encoder_exports

_SETTINGS = {name: ExecutionParameter(type=type(value))
             for name, value in vars(filtering.Settings()).items()}


class TeacherLabelingSpec(ComponentSpec):
    PARAMETERS = {
        "encoder_handle": ExecutionParameter(type=str),
        # For the cache key only, never read by the executor: changes when the export at encoder_handle
        # is rewritten (models.encoder.fingerprint; "" for a handle with no export stamp).
        "encoder_fingerprint": ExecutionParameter(type=str, optional=True),
        # The other encoders whose zero-shot cosines are teacher views (views.py), comma-separated; and their
        # fingerprints, for the cache key only.
        "view_encoder_handles": ExecutionParameter(type=str, optional=True),
        "view_encoder_fingerprints": ExecutionParameter(type=str, optional=True),
        # The LLM-judge view (llm_judge.py): a JSON object of llm_judge.Settings (endpoint, model); "" = none.
        executor.LLM_JUDGE_KEY: ExecutionParameter(type=str, optional=True),
        # Where the encoders' embeddings are kept by fingerprint (retrieval/embedding_cache.py); "" = not kept.
        EMBEDDING_CACHE_KEY: ExecutionParameter(type=str, optional=True),
        **_SETTINGS}
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "candidates": ChannelParameter(type=standard_artifacts.Examples),
        # Impressions (SearchLogExampleGen, input_kind impressions, split train): logged queries and the products
        # shown for them; each pair is a candidate of origin "traffic".
        "traffic": ChannelParameter(type=standard_artifacts.Examples, optional=True),
        "teacher_model": ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {
        "augmented_examples": ChannelParameter(type=standard_artifacts.Examples),
        "report": ChannelParameter(type=AugmentationReport),
    }


class TeacherLabeling(base_beam_component.BaseBeamComponent):
    """Scores candidates with the teacher, filters them, writes the student's training data and a report.

    Usage:
        labeling = TeacherLabeling(examples=example_gen.outputs["examples"],
                                   candidates=retrieval.outputs["candidates"],
                                   teacher_model=teacher.outputs["model"],
                                   traffic=traffic_example_gen.outputs["examples"],  # optional
                                   encoder_handle="/path/to/encoder", min_confidence=0.2)
    """

    SPEC_CLASS = TeacherLabelingSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, candidates: types.BaseChannel,
                 teacher_model: types.BaseChannel, encoder_handle: str, encoder_fingerprint: str = "",
                 traffic: Optional[types.BaseChannel] = None, view_encoder_handles: Sequence[str] = (),
                 llm_judge: Optional[Mapping[str, Any]] = None, embedding_cache: str = "", **settings):
        """Args:
          examples: labelled Examples (train and eval splits); eval rows pass through untouched and guard
            against eval queries leaking into training.
          candidates: Retrieval's candidate pairs.
          teacher_model: a Trainer's model whose SavedModel has a `score_text` signature.
          encoder_handle: text encoder for the eval near-duplicate guard and the first zero-shot view.
          encoder_fingerprint: models.encoder.fingerprint(encoder_handle), so that a cached run is not
            reused after the export at that path is rewritten.
          traffic: optional Examples of impressions (query_id, query, product_id, product_title; split
            train): every pair becomes a candidate of origin "traffic" (filtering.py says which rules apply).
          view_encoder_handles: more encoders (SavedModels with `embed`) whose zero-shot cosines are views of
            the teacher (views.py), e.g. configs.encoder_dir("all-mpnet-base-v2").
          llm_judge: the LLM-judge view's endpoint, llm_judge.Settings' fields (base_url, model, ...); None:
            no such view. Checked here, so that a bad one fails when the pipeline is defined.
          embedding_cache: a folder where the encoders' embeddings are kept by fingerprint, shared with
            Retrieval (components/retrieval/embedding_cache.py); "": none.
          **settings: overrides of filtering.Settings (thresholds, caps, weights; documented there).
        """
        unknown = set(settings) - set(_SETTINGS)
        if unknown:
            raise ValueError(f"TeacherLabeling: unknown settings {sorted(unknown)}; known: {sorted(_SETTINGS)}")
        values = vars(filtering.Settings(**settings))
        if any("," in handle for handle in view_encoder_handles):
            raise ValueError(f"TeacherLabeling: an encoder handle may not contain ',': {list(view_encoder_handles)}")
        super().__init__(spec=TeacherLabelingSpec(
            examples=examples, candidates=candidates, teacher_model=teacher_model, traffic=traffic,
            encoder_handle=encoder_handle, encoder_fingerprint=encoder_fingerprint,
            view_encoder_handles=",".join(view_encoder_handles),
            view_encoder_fingerprints=",".join(encoder_exports.fingerprint(h) for h in view_encoder_handles),
            llm_judge=json.dumps(dataclasses.asdict(judge_module.Settings.from_config(llm_judge)), sort_keys=True)
            if llm_judge else "",
            embedding_cache=embedding_cache,
            **values,
            augmented_examples=channel.Channel(type=standard_artifacts.Examples),
            report=channel.Channel(type=AugmentationReport)))
