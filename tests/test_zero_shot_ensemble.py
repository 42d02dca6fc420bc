"""The served zero-shot ensemble: the fine-tuned cross-encoder's gain and the frozen encoder's calibrated cosine
as one model; the Trainer that builds it (calibrated on labelled rows only, exported with both signatures,
refused for a listwise loss before any training). Real encoder export, tiny data."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import test_cross_encoder as cross_encoder_tests
from components.retrieval.embedding import TextEncoder
from models import cross_encoder as ce
from models import features, trainer, zero_shot, zero_shot_ensemble
from pipeline import configs

QUERIES = ["running shoes", "saucepan", "t-shirt", "运动鞋"]
TITLES = ["Stride Lite men's running shoes, breathable mesh", "Wireless earbuds, bluetooth 5.3",
          "Cotton crew-neck T-shirt, white", "轻风 男士透气网面运动鞋 黑色"]
CALIBRATION = zero_shot.Calibration(slope=1.5, intercept=-0.2, pairs=4)


def _pairs():
    return cross_encoder_tests._pairs(QUERIES, TITLES)


@pytest.fixture(scope="module")
def scorer():
    keras.utils.set_random_seed(0)
    return ce.build_cross_encoder(hparams={"dropout": 0.0})


@pytest.fixture(scope="module")
def cosine(scorer):
    return zero_shot_ensemble.ZeroShotCosine(scorer.encoder_handle, name="zero_shot_cosine")


def test_cosine_is_the_retrieval_encoders_cosine(scorer, cosine):
    encoder = TextEncoder(scorer.encoder_handle)
    expected = np.sum(encoder.embed(QUERIES) * encoder.embed_passages(TITLES), axis=1)
    np.testing.assert_allclose(cosine.cosines(QUERIES, TITLES, batch_size=3), expected, atol=1e-5)
    assert not cosine.trainable_weights  # frozen: the fine-tuned copy is the scorer's


class _CountingEncoder:
    """The export's embed functions, recording how many texts each call embeds."""

    def __init__(self, encoder):
        self._encoder, self.batch_sizes = encoder, []

    def embed(self, texts):
        self.batch_sizes.append(int(tf.size(texts)))
        return self._encoder.embed(texts)


def test_one_query_over_many_candidates_is_embedded_once(scorer, cosine):
    """A serving request is one query and its candidates: the query passes the frozen encoder once."""
    queries, titles = [QUERIES[0]] * 3 + [QUERIES[3]], TITLES[:3] + [TITLES[0]]
    layer = zero_shot_ensemble.ZeroShotCosine(scorer.encoder_handle)
    layer.encoder = counting = _CountingEncoder(layer.encoder)
    cosines = layer([tf.constant(queries), tf.constant(titles)]).numpy()
    assert counting.batch_sizes == [2, 3]  # 2 distinct queries, 3 distinct titles (MiniLM: no embed_passage)
    np.testing.assert_allclose(cosines, cosine.cosines(queries, titles, batch_size=1), atol=1e-5)


def test_ensemble_scores_the_weighted_gains(scorer, cosine):
    model = zero_shot_ensemble.build_ensemble(scorer, cosine, CALIBRATION, 0.3, "logit")
    fine_tuned = tf.sigmoid(scorer(_pairs())).numpy()
    cosines = cosine.cosines(QUERIES, TITLES)
    expected = [zero_shot.ensemble_gain(g, c, CALIBRATION, 0.3) for g, c in zip(fine_tuned, cosines)]
    np.testing.assert_allclose(model(_pairs()).numpy(), expected, atol=1e-5)
    assert not np.allclose(model(_pairs()).numpy(), fine_tuned, atol=1e-3)  # the zero-shot part counts
    assert model.output_names == [features.SCORE] and sorted(model.input_names) == sorted(ce.INPUT_NAMES)


def test_ensemble_needs_a_score_on_the_gain_scale_and_a_weight_in_range(scorer, cosine):
    with pytest.raises(ValueError, match="pointwise"):
        zero_shot_ensemble.build_ensemble(scorer, cosine, CALIBRATION, 0.5, "order")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        zero_shot_ensemble.build_ensemble(scorer, cosine, CALIBRATION, 1.5, "logit")


# ---------------------------------------------------------------------------------------------- run_fn

def _rows(origin_of_augmented):
    """Labelled rows whose grades follow the zero-shot cosine, and augmented rows whose soft labels say the
    opposite: a calibration fitted on all rows would have a slope of the other sign."""
    labelled = [{"query": q, "product_title": t, "relevance": r}
                for q, t, r in (("running shoes", TITLES[0], 3.0), ("running shoes", TITLES[1], 0.0),
                                ("t-shirt", TITLES[2], 3.0), ("t-shirt", TITLES[1], 0.0))]
    augmented = [{"query": q, "product_title": t, "relevance": r}
                 for q, t, r in (("saucepan", TITLES[1], 3.0), ("headphones", TITLES[1], 0.0),
                                 ("white t-shirt", TITLES[2], 0.0), ("trail shoes", TITLES[0], 0.0))] * 3
    rows = [dict(row, origin=features.ORIGIN_LABELLED, sample_weight=1.0) for row in labelled]
    rows += [dict(row, origin=origin_of_augmented, sample_weight=0.5) for row in augmented]
    return [dict(row, query_id=f"q{i}", product_id=f"p{i}") for i, row in enumerate(rows)]


def _fn_args(tmp_path, rows, hparams):
    from tfx.components.trainer.fn_args_utils import FnArgs

    cross_encoder_tests._write_examples(str(tmp_path / "train.tfrecord"), rows)
    cross_encoder_tests._write_examples(str(tmp_path / "eval.tfrecord"), rows[:4])
    return FnArgs(
        train_files=[str(tmp_path / "train.tfrecord")], eval_files=[str(tmp_path / "eval.tfrecord")],
        train_steps=2, eval_steps=1, schema_path=str(configs.SCHEMA_DIR / configs.TRAINING_SCHEMA_FILE),
        transform_output=None, data_accessor=cross_encoder_tests._DataAccessor(),
        serving_model_dir=str(tmp_path / "serving"),
        model_run_dir=str(tmp_path / "logs"),
        custom_config={"model": "cross_encoder", "batch_size": 4, "epochs": 1, "early_stopping_patience": 0,
                       **hparams})


@pytest.mark.slow  # trains a model
def test_trainer_serves_the_ensemble_calibrated_on_labelled_rows_only(tmp_path, caplog):
    fn_args = _fn_args(tmp_path, _rows(features.ORIGIN_RETRIEVED), {"zero_shot_weight": 0.5})
    with caplog.at_level("INFO", logger=trainer.logger.name):
        trainer.run_fn(fn_args)
    served = [r.getMessage() for r in caplog.records if "Serving an ensemble" in r.getMessage()]
    assert len(served) == 1 and "on 4 labelled train rows" in served[0], served
    slope = float(served[0].split("gain = ")[1].split(" *")[0])
    assert slope > 0  # the 12 augmented rows, whose labels run against the cosine, were left out

    size = sum(f.stat().st_size for f in (tmp_path / "serving").rglob("*") if f.is_file())
    assert size < 2 * 120e6  # two encoders' weights, no optimizer slots
    scores, default = cross_encoder_tests.score_with_both_signatures(
        fn_args.serving_model_dir, "running shoes", TITLES[:2])
    assert np.all((scores >= 0) & (scores <= 1))  # gains, not logits
    np.testing.assert_allclose(default, scores, atol=1e-5)
    # score_parts: the same score, and the two gains it mixes (the student alone is the fine-tuned gain).
    import tensorflow as tf
    from models import signatures, zero_shot_ensemble
    parts = tf.saved_model.load(fn_args.serving_model_dir).signatures[signatures.SCORE_PARTS](
        query=tf.constant(["running shoes"] * 2), product_title=tf.constant(TITLES[:2]))
    parts = {name: value.numpy() for name, value in parts.items()}
    np.testing.assert_allclose(parts[features.SCORE], scores, atol=1e-5)
    np.testing.assert_allclose(0.5 * parts[zero_shot_ensemble.FINE_TUNED_GAIN]
                               + 0.5 * parts[zero_shot_ensemble.ZERO_SHOT_GAIN], scores, atol=1e-5)


@pytest.mark.slow  # trains a model
def test_trainer_refuses_a_listwise_ensemble_before_training(tmp_path):
    fn_args = _fn_args(tmp_path, _rows(features.ORIGIN_GENERATED), {"zero_shot_weight": 0.5, "loss": "listwise"})
    with pytest.raises(ValueError, match="pointwise"):
        trainer.run_fn(fn_args)
    assert not (tmp_path / "logs").exists()
