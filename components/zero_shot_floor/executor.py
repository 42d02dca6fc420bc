"""ZeroShotFloor executor: blesses the candidate only if the Evaluator blessed it and it ranks the eval split
better than the pretrained encoder's zero-shot cosine does (enforce = 1); with enforce = 0 the check is
reported but the Evaluator's blessing passes through unchanged.

Both rankings are scored with the same rule (models/ranking_metrics.py: mean NDCG@10 over the eval queries
that can be ranked, those with at least 2 products and 2 distinct grades), on the rows of the labelled eval
split: the candidate through its serving signature (score_text, the score a client gets), the zero-shot
encoder through the cosine of its query and title embeddings. A model that does not beat "no training at
all" is not worth serving, whatever the value and change thresholds said.
The output blessing is what the Pusher and the next run's baseline resolver read; it carries the figures as
custom properties (candidate_ndcg, zero_shot_ndcg, floor_margin, floor_passed, floor_enforced, floor_reason,
blessed) and a BLESSED / NOT_BLESSED file, as the Evaluator's does.
"""
import json
import logging
import os
import time
from typing import Any, Dict, List

from tfx import types
from tfx.components.evaluator import constants
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components import examples_io

CANDIDATE_NDCG, ZERO_SHOT_NDCG, FLOOR_MARGIN = "candidate_ndcg", "zero_shot_ndcg", "floor_margin"
REASON = "floor_reason"  # why the candidate fails the floor, in words ("" when it passes)
PASSED, ENFORCED = "floor_passed", "floor_enforced"
REPORT_FILE = "floor.json"


def candidate_scores(model_dir: str, rows: List[dict]) -> List[float]:
    """The served score of each row, through the SavedModel's score_text signature."""
    from components.teacher_labeling.executor import load_scorer
    return [float(s) for s in load_scorer(model_dir)(rows)]


def zero_shot_scores(encoder_handle: str, rows: List[dict]) -> List[float]:
    from components.retrieval.embedding import TextEncoder
    from components.teacher_labeling.executor import pair_cosines
    return pair_cosines(TextEncoder(encoder_handle), rows).tolist()


def floor_failure(candidate_ndcg: float, zero_shot_ndcg: float, margin: float) -> str:
    """"" when the candidate beats the zero-shot figure by more than the margin, else why not, in words."""
    if candidate_ndcg != candidate_ndcg or zero_shot_ndcg != zero_shot_ndcg:  # NaN: no rankable eval query
        return "no eval query with 2 products and 2 distinct grades: the floor cannot be checked"
    if not candidate_ndcg > zero_shot_ndcg + margin:
        return (f"NDCG@10 {candidate_ndcg:.4f} does not beat the zero-shot encoder's {zero_shot_ndcg:.4f}"
                + (f" by more than {margin}" if margin else ""))
    return ""


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        from components.teacher_labeling import views
        start = time.perf_counter()
        model = artifact_utils.get_single_instance(input_dict["model"])
        evaluator_blessing = artifact_utils.get_single_instance(input_dict["evaluator_blessing"])
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        blessing = artifact_utils.get_single_instance(output_dict["blessing"])
        margin = float(exec_properties["margin"])
        evaluator_blessed = evaluator_blessing.get_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY) == 1

        rows = list(examples_io.read_rows(examples_io.split_pattern(examples, exec_properties["split"])))
        if not rows:
            raise ValueError(f"ZeroShotFloor: the {exec_properties['split']!r} split of {examples.uri} has no rows")
        candidate = views.eval_ndcg(rows, candidate_scores(path_utils.serving_model_path(model.uri), rows))
        zero_shot = views.eval_ndcg(rows, zero_shot_scores(exec_properties["encoder_handle"], rows))
        reason = floor_failure(candidate, zero_shot, margin)
        enforced = bool(int(exec_properties["enforce"]))
        blessed = evaluator_blessed and (not reason or not enforced)

        # What the Evaluator's blessing says of the model, so that the resolver and the Pusher read it alike.
        blessing.set_string_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY, model.uri)
        blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model.id)
        blessing.set_float_custom_property(CANDIDATE_NDCG, candidate)
        blessing.set_float_custom_property(ZERO_SHOT_NDCG, zero_shot)
        blessing.set_float_custom_property(FLOOR_MARGIN, margin)
        blessing.set_string_custom_property(REASON, reason)
        blessing.set_int_custom_property(PASSED, int(not reason))
        blessing.set_int_custom_property(ENFORCED, int(enforced))
        blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY,
                                         constants.BLESSED_VALUE if blessed else constants.NOT_BLESSED_VALUE)
        io_utils.write_string_file(os.path.join(
            blessing.uri, constants.BLESSED_FILE_NAME if blessed else constants.NOT_BLESSED_FILE_NAME), "")
        io_utils.write_string_file(os.path.join(blessing.uri, REPORT_FILE), json.dumps(
            {"evaluator_blessed": evaluator_blessed, CANDIDATE_NDCG: candidate, ZERO_SHOT_NDCG: zero_shot,
             FLOOR_MARGIN: margin, PASSED: not reason, ENFORCED: enforced, "blessed": blessed, "reason": reason,
             "eval_rows": len(rows)}, indent=1))
        logging.info("ZeroShotFloor: candidate NDCG@10 %.4f, zero-shot %.4f on %d eval rows: %s%s; Evaluator %s "
                     "-> %s (%.1f s)", candidate, zero_shot, len(rows), "passes" if not reason else reason,
                     "" if enforced else " (report only)", "blessed" if evaluator_blessed else "did not bless",
                     "blessed" if blessed else "NOT blessed", time.perf_counter() - start)
