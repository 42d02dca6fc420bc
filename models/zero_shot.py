"""The pretrained encoder's zero-shot relevance, calibrated to the gain scale, and its ensemble with a
fine-tuned cross-encoder: TeacherLabeling's label of a candidate and, served, the student's score.

With few labels the two err differently, and together they rank better than either (Home Depot dev, seed
42: few-label cross-encoder 0.9260, zero-shot 0.9282, their ensemble at weight 0.5 0.9300 NDCG@10).
The cosine is put on the gain scale by least squares on labelled pairs (Calibration): the encoder never saw
those labels, so unlike the fine-tuned model its fit on them is not optimistic.

Pure Python (pipeline/configs.py imports it through TeacherLabeling's settings); the served Keras model is
models/zero_shot_ensemble.py.
"""
import dataclasses
from typing import Sequence

SCORE_MEANINGS = ("logit", "gain")  # scores that can be put on the gain scale (cross_encoder.score_meaning)


@dataclasses.dataclass(frozen=True)
class Calibration:
    """gain ~= slope * cosine + intercept: the zero-shot cosine on the gain scale."""
    slope: float
    intercept: float
    pairs: int  # labelled pairs the fit saw

    def gain(self, cosine: float) -> float:
        return min(max(self.slope * cosine + self.intercept, 0.0), 1.0)


def fit_calibration(cosines: Sequence[float], gains: Sequence[float]) -> Calibration:
    """Least squares of labelled pairs' normalised gains on their zero-shot cosines."""
    n = len(cosines)
    if n != len(gains):
        raise ValueError(f"{n} cosines but {len(gains)} gains")
    if n < 2:
        raise ValueError(f"calibrating the zero-shot encoder needs at least 2 labelled train rows, got {n}")
    mean_x, mean_y = sum(cosines) / n, sum(gains) / n
    var_x = sum((x - mean_x) ** 2 for x in cosines)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(cosines, gains)) / var_x if var_x > 0 else 0.0
    return Calibration(slope=slope, intercept=mean_y - slope * mean_x, pairs=n)


def ensemble_gain(fine_tuned_gain: float, cosine: float, calibration: Calibration, zero_shot_weight: float) -> float:
    """(1 - w) * the cross-encoder's gain + w * the calibrated zero-shot cosine."""
    return (1.0 - zero_shot_weight) * fine_tuned_gain + zero_shot_weight * calibration.gain(cosine)


def check_weight(zero_shot_weight: float) -> None:
    if not 0.0 <= zero_shot_weight <= 1.0:
        raise ValueError(f"zero_shot_weight must be in [0, 1], not {zero_shot_weight}")


def check_ensemble(zero_shot_weight: float, score_meaning: str) -> None:
    """Refuses a served ensemble that cannot be built: a weight outside [0, 1], or a fine-tuned score that is
    not on the gain scale (cross_encoder.score_meaning: a listwise score only orders one query's products)."""
    check_weight(zero_shot_weight)
    if score_meaning not in SCORE_MEANINGS:
        raise ValueError(f"a zero-shot ensemble needs a score on the gain scale ({', '.join(SCORE_MEANINGS)}), "
                         f"not {score_meaning!r}: train the cross-encoder pointwise")
