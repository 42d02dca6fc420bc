"""The teacher's views of a (query, product) pair and their combination into its label, fitted on labels.

Views (each a number per pair):
  cross_encoder        the fine-tuned teacher's gain (filtering.gain_of of its score);
  zero_shot:<encoder>  the cosine of a pretrained encoder's query and title embeddings: the pipeline's encoder
                       and the extra teacher encoders (configs.TEACHER_VIEW_ENCODERS: all-mpnet-base-v2,
                       whose errors differ from MiniLM's);
  llm_judge            (where configured) an LLM's expected grade from its next-token probabilities
                       (llm_judge.py), combined like a cosine.
The label is (1 - w) * cross_encoder + w * zero_shot, clipped to [0, 1], where
  zero_shot = least squares of the labelled train rows' gains on the zero-shot cosines (one slope per encoder
      and an intercept): the encoders never saw those labels, so the fit is honest there;
  w = the share in WEIGHT_GRID whose label ranks the labelled eval rows best (NDCG@10), rows the
      cross-encoder did not train on (it fits its own train rows too well to be weighed on them); or
      Settings.zero_shot_weight when fit_zero_shot_weight is off or the eval rows cannot decide (fewer than
      MIN_WEIGHT_ROWS, or no query to rank).
Each view's NDCG@10 on the labelled eval rows goes into the report beside the label's.

Pure Python and numpy: the executor, the benchmarks and the tests compute labels with the same code.
"""
import collections
import dataclasses
import math
import os
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from models import features, ranking_metrics

CROSS_ENCODER, TEACHER_LABEL, ZERO_SHOT = "cross_encoder", "teacher_label", "zero_shot"
LLM_JUDGE = "llm_judge"  # the LLM-judge view's handle and name (llm_judge.VIEW)
MIN_WEIGHT_ROWS = 20  # fewer labelled eval rows than this: the zero-shot share stays the configured one
WEIGHT_GRID = tuple(i / 20 for i in range(21))  # the zero-shot shares tried on the eval rows


def view_name(encoder_handle: str) -> str:
    """The report's name of an encoder's zero-shot view: zero_shot:<export folder name>; the LLM judge's
    (llm_judge.py) is its own name."""
    if encoder_handle == LLM_JUDGE:
        return LLM_JUDGE
    return f"{ZERO_SHOT}:{os.path.basename(os.path.normpath(encoder_handle))}"


@dataclasses.dataclass(frozen=True)
class ViewsFit:
    """How the teacher's views make its label; see the module docstring."""
    encoders: List[str]        # encoder handles, in the order of slopes
    slopes: List[float]
    intercept: float
    pairs: int                 # labelled train rows the zero-shot fit saw
    zero_shot_weight: float    # w: the zero-shot combination's share in the label
    weight_fitted_on: int      # labelled eval rows that fitted w; 0: the configured weight
    eval_ndcg: Dict[str, float] = dataclasses.field(default_factory=dict)  # view -> NDCG@10 on the eval rows

    def zero_shot_gain(self, cosines: Sequence[float]) -> float:
        """The zero-shot views' combination on the gain scale, from one cosine per encoder. Not clipped: a
        clip at 0 would tie every pair below the line's zero and lose their order; the label is clipped."""
        return self.intercept + sum(slope * cosine for slope, cosine in zip(self.slopes, cosines))

    def label(self, cross_encoder_gain: float, cosines: Sequence[float]) -> float:
        """The teacher's label, a normalised gain in [0, 1]."""
        weight = self.zero_shot_weight
        return min(max((1.0 - weight) * cross_encoder_gain + weight * self.zero_shot_gain(cosines), 0.0), 1.0)

    @classmethod
    def from_dict(cls, document: Mapping) -> "ViewsFit":
        return cls(**{field.name: document[field.name] for field in dataclasses.fields(cls)
                      if field.name in document})


def fit_zero_shot(encoders: Sequence[str], cosines: np.ndarray, gains: Sequence[float]) -> tuple:
    """(slopes, intercept) of the least squares of gains on the [rows, encoders] cosines."""
    cosines = np.asarray(cosines, dtype=np.float64).reshape(len(gains), len(encoders))
    if len(gains) < 2:  # with fewer rows than weights the least squares is the smallest solution that fits
        raise ValueError(f"fitting the zero-shot views needs at least 2 labelled train rows, got {len(gains)}")
    design = np.c_[cosines, np.ones(len(gains))]
    solution, *_ = np.linalg.lstsq(design, np.asarray(gains, dtype=np.float64), rcond=None)
    return [float(s) for s in solution[:-1]], float(solution[-1])


def fit_weight(rows: Sequence[Mapping], cross_encoder_gains: Sequence[float], zero_shot_gains: Sequence[float],
               configured: float) -> Optional[float]:
    """The w of WEIGHT_GRID whose label (1 - w) c + w z ranks the labelled rows best (mean NDCG@10 of their
    queries); ties go to the w nearest the configured one. None when no query can be ranked. Ranking, not
    squared error: the cross-encoder's gain is the better calibrated of the two, the zero-shot views often
    the better ordered, and the order is what the student learns and NDCG@10 measures."""
    c, z = (np.asarray(x, dtype=np.float64) for x in (cross_encoder_gains, zero_shot_gains))
    scored = [(eval_ndcg(rows, np.clip((1.0 - w) * c + w * z, 0.0, 1.0)), w) for w in WEIGHT_GRID]
    scored = [(ndcg, w) for ndcg, w in scored if not math.isnan(ndcg)]
    if not scored:
        return None
    best = max(ndcg for ndcg, _ in scored)
    return min((w for ndcg, w in scored if ndcg >= best - 1e-12), key=lambda w: abs(w - configured))


def eval_ndcg(rows: Sequence[Mapping], scores: Sequence[float], k: int = 10) -> float:
    """Mean NDCG@k over the rows' queries that can be ranked (ranking_metrics' headline rule); NaN if none."""
    queries = collections.defaultdict(list)
    for row, score in zip(rows, scores):
        queries[row[features.QUERY_ID]].append(ranking_metrics.Judged(
            row[features.PRODUCT_ID], float(features.normalised_gain(row[features.RELEVANCE])), float(score)))
    return ranking_metrics.evaluate(queries, k)[f"ndcg@{k}"]


def fit(encoders: Sequence[str], train_rows: Sequence[Mapping], train_cosines: np.ndarray,
        eval_rows: Sequence[Mapping], eval_cross_encoder_gains: Sequence[float], eval_cosines: np.ndarray,
        zero_shot_weight: float, fit_weight_on_eval: bool) -> ViewsFit:
    """The fit of the module docstring. *_cosines: [rows, encoders], in the order of encoders."""
    train_gains = [float(features.normalised_gain(r[features.RELEVANCE])) for r in train_rows]
    slopes, intercept = fit_zero_shot(encoders, train_cosines, train_gains)
    partial = ViewsFit(list(encoders), slopes, intercept, len(train_rows), zero_shot_weight, 0)
    eval_cosines = np.asarray(eval_cosines, dtype=np.float64).reshape(len(eval_rows), len(encoders))
    eval_zero_shot = [partial.zero_shot_gain(row) for row in eval_cosines]
    weight, fitted_on = zero_shot_weight, 0
    if fit_weight_on_eval and len(eval_rows) >= MIN_WEIGHT_ROWS:
        fitted = fit_weight(eval_rows, eval_cross_encoder_gains, eval_zero_shot, zero_shot_weight)
        if fitted is not None:
            weight, fitted_on = fitted, len(eval_rows)
    result = dataclasses.replace(partial, zero_shot_weight=weight, weight_fitted_on=fitted_on)
    views = {CROSS_ENCODER: list(eval_cross_encoder_gains)}
    views.update({view_name(encoder): eval_cosines[:, i].tolist() for i, encoder in enumerate(encoders)})
    views[ZERO_SHOT] = eval_zero_shot
    views[TEACHER_LABEL] = [result.label(c, row) for c, row in zip(eval_cross_encoder_gains, eval_cosines)]
    ndcg = {name: eval_ndcg(eval_rows, scores) for name, scores in views.items()}
    return dataclasses.replace(result, eval_ndcg={name: (None if math.isnan(v) else round(v, 4))
                                                  for name, v in ndcg.items()})


def describe(views_fit: ViewsFit) -> List[str]:
    """Lines for the log and the report's text: the fitted weights and each view's eval NDCG@10."""
    zero_shot = " + ".join(f"{slope:.3f} * " + (LLM_JUDGE if encoder == LLM_JUDGE else
                                                 f"cos[{view_name(encoder)[len(ZERO_SHOT) + 1:]}]")
                           for slope, encoder in zip(views_fit.slopes, views_fit.encoders))
    weight = (f"fitted on {views_fit.weight_fitted_on} labelled eval rows" if views_fit.weight_fitted_on
              else "configured")
    lines = [f"teacher label = {1 - views_fit.zero_shot_weight:.3f} * cross_encoder + "
             f"{views_fit.zero_shot_weight:.3f} * zero_shot ({weight}); zero_shot = {zero_shot} + "
             f"{views_fit.intercept:.3f} (least squares on {views_fit.pairs} labelled train rows)"]
    if views_fit.eval_ndcg:
        lines.append("NDCG@10 on the eval split: " + ", ".join(
            f"{name} {'n/a' if value is None else f'{value:.4f}'}" for name, value in views_fit.eval_ndcg.items()))
    return lines
