"""The teacher's views (components/teacher_labeling/views.py): the fits recover known weights, the label is
their mix, each view is scored on the eval rows, and too few eval rows keep the configured share."""
import numpy as np
import pytest

from components.teacher_labeling import views
from models import features


def _rows(gains, queries=4):
    """Labelled rows over `queries` queries, the gains (normalised, in [0, 1]) on the relevance scale."""
    return [{features.QUERY_ID: f"q{i % queries}", features.PRODUCT_ID: f"p{i}",
             features.RELEVANCE: features.RELEVANCE_MIN + g * (features.RELEVANCE_MAX - features.RELEVANCE_MIN)}
            for i, g in enumerate(gains)]


def test_zero_shot_fit_recovers_the_slopes_of_two_encoders():
    rng = np.random.default_rng(0)
    cosines = rng.uniform(0.0, 0.8, size=(40, 2))
    gains = 0.6 * cosines[:, 0] + 0.3 * cosines[:, 1] + 0.05
    slopes, intercept = views.fit_zero_shot(["a", "b"], cosines, gains)
    assert slopes == pytest.approx([0.6, 0.3], abs=1e-9) and intercept == pytest.approx(0.05, abs=1e-9)
    with pytest.raises(ValueError, match="at least 2 labelled train rows"):
        views.fit_zero_shot(["a"], [[0.5]], [0.5])


def test_weight_fit_picks_the_share_that_ranks_the_eval_rows_best():
    rows = _rows([1.0, 0.5, 0.0, 1.0, 0.0, 0.5], queries=2)  # q0: rows 0, 2, 4; q1: rows 1, 3, 5
    good = [0.9, 0.4, 0.5, 0.8, 0.1, 0.3]  # orders both queries right
    bad = [0.1, 0.8, 0.5, 0.2, 0.9, 0.6]   # orders both wrong
    # Shares from 0.65 up rank every query right; of those ties the one nearest the configured share wins.
    assert views.fit_weight(rows, bad, good, configured=0.5) == 0.65
    assert views.fit_weight(rows, bad, good, configured=1.0) == 1.0
    assert views.fit_weight(rows, good, bad, configured=0.5) == 0.35
    # Both views order alike: every share ties, and the configured one stays.
    assert views.fit_weight(rows, good, good, configured=0.35) == 0.35
    assert views.fit_weight(_rows([1.0, 1.0]), [0.1, 0.2], [0.2, 0.1], 0.5) is None  # nothing to rank


def test_fit_weighs_the_views_on_eval_rows_and_scores_each_there():
    rng = np.random.default_rng(2)
    train_cos = rng.uniform(0.2, 0.9, size=(30, 2))
    train = _rows(np.clip(0.5 * train_cos[:, 0] + 0.5 * train_cos[:, 1] - 0.2, 0, 1))
    eval_cos = rng.uniform(0.2, 0.9, size=(40, 2))
    eval_zero_shot = np.clip(0.5 * eval_cos[:, 0] + 0.5 * eval_cos[:, 1] - 0.2, 0, 1)
    cross_encoder = rng.uniform(size=40)  # a useless cross-encoder: the fit leans on the zero-shot views
    evaluation = _rows(eval_zero_shot, queries=5)
    fitted = views.fit(["/x/enc-a", "/x/enc-b"], train, train_cos, evaluation, cross_encoder, eval_cos,
                       zero_shot_weight=0.5, fit_weight_on_eval=1)
    assert fitted.slopes == pytest.approx([0.5, 0.5], abs=0.05)
    assert fitted.weight_fitted_on == 40 and fitted.zero_shot_weight > 0.9
    assert set(fitted.eval_ndcg) == {"cross_encoder", "zero_shot:enc-a", "zero_shot:enc-b", "zero_shot",
                                     "teacher_label"}
    assert fitted.eval_ndcg["zero_shot"] > fitted.eval_ndcg["cross_encoder"]
    assert fitted.label(0.2, [0.5, 0.5]) == pytest.approx(
        (1 - fitted.zero_shot_weight) * 0.2 + fitted.zero_shot_weight * fitted.zero_shot_gain([0.5, 0.5]))
    # The zero-shot part keeps its order below the line's zero; only the label is clipped to [0, 1].
    assert fitted.zero_shot_gain([0.0, 0.0]) < fitted.zero_shot_gain([0.1, 0.1]) < 0.0
    assert fitted.label(0.0, [0.0, 0.0]) == 0.0
    assert views.ViewsFit.from_dict(vars(fitted)) == fitted
    lines = views.describe(fitted)
    assert "fitted on 40 labelled eval rows" in lines[0] and "zero_shot:enc-b" in lines[1]


def test_too_few_eval_rows_or_no_fit_keep_the_configured_share():
    train_cos = np.array([[0.1, 0.2], [0.5, 0.4], [0.9, 0.7]])
    train = _rows([0.0, 0.5, 1.0])
    few = _rows([1.0] * (views.MIN_WEIGHT_ROWS - 1))
    fitted = views.fit(["a", "b"], train, train_cos, few, [0.0] * len(few), np.full((len(few), 2), 0.5), 0.3, 1)
    assert fitted.zero_shot_weight == 0.3 and fitted.weight_fitted_on == 0
    many = _rows([1.0, 0.0] * views.MIN_WEIGHT_ROWS)
    unfitted = views.fit(["a", "b"], train, train_cos, many, [0.5] * len(many), np.full((len(many), 2), 0.5),
                         0.3, fit_weight_on_eval=0)
    assert unfitted.zero_shot_weight == 0.3 and "configured" in views.describe(unfitted)[0]
