"""ZeroShotFloor: a candidate is pushed only if it beats the pretrained encoder's zero-shot ranking.

The Evaluator's thresholds (a value floor and "no worse than the last blessed model") cannot refuse a model
that ranks below the untrained encoder: on few labels that happens (fine-tuning can unlearn what the
pretrained encoder knew). This component sits between the Evaluator and the Pusher and blesses only what
both pass (or, not enforced, reports the check and passes the Evaluator's blessing on); see executor.py.
"""
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.zero_shot_floor import executor


class ZeroShotFloorSpec(ComponentSpec):
    PARAMETERS = {
        "encoder_handle": ExecutionParameter(type=str),
        # For the cache key only (models.encoder.fingerprint of encoder_handle).
        "encoder_fingerprint": ExecutionParameter(type=str, optional=True),
        "split": ExecutionParameter(type=str),
        "margin": ExecutionParameter(type=float),
        "enforce": ExecutionParameter(type=int),  # 1: refuse below the floor; 0: report it only
    }
    INPUTS = {
        "model": ChannelParameter(type=standard_artifacts.Model),
        "evaluator_blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
        "examples": ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {"blessing": ChannelParameter(type=standard_artifacts.ModelBlessing)}


class ZeroShotFloor(base_component.BaseComponent):
    """Blesses the candidate iff the Evaluator blessed it and its eval NDCG@10 beats the zero-shot encoder's.

    Usage:
        floor = ZeroShotFloor(model=trainer.outputs["model"], evaluator_blessing=evaluator.outputs["blessing"],
                              examples=example_gen.outputs["examples"], encoder_handle="/path/to/encoder")
        pusher = Pusher(model=trainer.outputs["model"], model_blessing=floor.outputs["blessing"], ...)
    """

    SPEC_CLASS = ZeroShotFloorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, evaluator_blessing: types.BaseChannel,
                 examples: types.BaseChannel, encoder_handle: str, encoder_fingerprint: str = "",
                 split: str = "eval", margin: float = 0.0, enforce: bool = True):
        """Args:
          model: the candidate (the Trainer's `model`), scored through its score_text signature.
          evaluator_blessing: the Evaluator's `blessing` of that model.
          examples: labelled Examples with the `split` the Evaluator evaluated on.
          encoder_handle: the pretrained encoder whose zero-shot cosine is the floor.
          encoder_fingerprint: models.encoder.fingerprint(encoder_handle), for the cache key.
          margin: the candidate's NDCG@10 must exceed the zero-shot one by more than this (0: beat it).
          enforce: refuse a candidate below the floor (True), or only record the check and pass the
            Evaluator's blessing through (False).
        """
        super().__init__(spec=ZeroShotFloorSpec(
            model=model, evaluator_blessing=evaluator_blessing, examples=examples, encoder_handle=encoder_handle,
            encoder_fingerprint=encoder_fingerprint, split=split, margin=margin, enforce=int(enforce),
            blessing=channel.Channel(type=standard_artifacts.ModelBlessing)))
