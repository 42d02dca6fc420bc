"""The cross-encoder: builder, fine-tuning, schedule, pointwise and listwise losses, lists, devices, early
stopping, and the exported SavedModel (both signatures) loading in a fresh process. Real encoder, tiny data."""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from models import cross_encoder as ce
from models import features, signatures

QUERIES = ["running shoes", "saucepan", "t-shirt", "headphones"]
TITLES = ["Stride Lite men's running shoes, breathable mesh", "Wireless earbuds, bluetooth 5.3",
          "Cotton crew-neck T-shirt, white", "Garden hose, 20 m"]
GAINS = [1.0, 0.0, 1.0, 0.0]


def _pairs(queries=QUERIES, titles=TITLES):
    return {features.QUERY: tf.constant(queries), features.PRODUCT_TITLE: tf.constant(titles)}


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return ce.build_cross_encoder(hparams={"dropout": 0.0})


def test_builder_scores_one_float32_value_per_pair(model):
    scores = model(_pairs())
    assert scores.shape == (4,) and scores.dtype == tf.float32
    assert sorted(model.input_names) == [features.PRODUCT_TITLE, features.QUERY]
    assert model.output_names == [features.SCORE]
    assert [i.shape.as_list() for i in model.inputs] == [[None], [None]]


def test_length_sorted_scoring_equals_scoring_in_file_order(model):
    # Padding is masked: batches of similar length (less padding, faster) give the same scores, in input order.
    queries = QUERIES * 5 + ["a much longer query about trail running shoes for wide feet"]
    titles = TITLES * 5 + ["Stride Lite men's trail running shoes, wide fit, breathable mesh, size 46"]
    score = lambda q, t: model({features.QUERY: q, features.PRODUCT_TITLE: t}).numpy()  # noqa: E731
    in_file_order = np.concatenate([score(tf.constant(queries[i:i + 4]), tf.constant(titles[i:i + 4]))
                                    for i in range(0, len(queries), 4)])
    lengths = ce.pair_token_lengths(model, queries, titles)
    assert lengths[-1] > lengths[0] > 3  # [CLS] query [SEP] title [SEP]
    for by_tokens in (None, lengths):
        np.testing.assert_allclose(ce.score_length_sorted(score, queries, titles, 4, by_tokens), in_file_order,
                                   atol=1e-5)


def test_fine_tuning_changes_the_encoder_weights(model):
    encoder = model.get_layer("encoder")
    assert encoder.trainable and len(encoder.trainable_weights) == 101
    before = [w.numpy().copy() for w in model.trainable_weights]
    ce.compile_cross_encoder(model, {"learning_rate": 1e-4, "warmup_fraction": 0.0}, total_steps=10)
    history = model.fit(_pairs(), tf.constant(GAINS), batch_size=4, epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    unchanged = [w.name for w, old in zip(model.trainable_weights, before) if np.array_equal(w.numpy(), old)]
    assert not unchanged, unchanged
    assert len(model.trainable_weights) == 103  # encoder + the score Dense's kernel and bias


def test_lexical_overlap_layer_reads_words_and_chinese_characters():
    overlap = ce.TokenOverlap()([tf.constant(["red shoes", "运动鞋"]), tf.constant(["Red running shoes", "男士运动T恤"])])
    np.testing.assert_allclose(overlap.numpy(), [[1.0], [2 / 3]], rtol=1e-6)


def test_warmup_then_linear_or_cosine_decay():
    linear = ce.WarmupDecaySchedule(1e-3, total_steps=110, warmup_steps=10)
    values = {step: float(linear(step)) for step in (0, 4, 9, 10, 35, 60, 110, 500)}
    expected = {0: 1e-4, 4: 5e-4, 9: 1e-3, 10: 1e-3, 35: 0.75e-3, 60: 0.5e-3, 110: 0.0, 500: 0.0}
    for step, value in expected.items():
        assert values[step] == pytest.approx(value, abs=1e-9), step
    cosine = ce.WarmupDecaySchedule(1e-3, total_steps=110, warmup_steps=10, end_learning_rate=1e-4,
                                    decay="cosine")
    assert float(cosine(35)) == pytest.approx(1e-4 + 0.9e-3 * (1 + math.cos(math.pi / 4)) / 2, rel=1e-6)
    assert float(cosine(110)) == pytest.approx(1e-4, rel=1e-6)
    # From hparams: warm-up = round(warmup_fraction * total), end = peak * end_learning_rate_fraction.
    schedule = ce.learning_rate_schedule({"learning_rate": 2e-5, "warmup_fraction": 0.1}, total_steps=150)
    assert schedule.warmup_steps == 15 and schedule.end_learning_rate == 0.0
    restored = ce.WarmupDecaySchedule.from_config(schedule.get_config())
    assert float(restored(40)) == pytest.approx(float(schedule(40)))


def test_optimizer_is_adamw_on_the_schedule():
    model = keras.Sequential([keras.Input([2]), keras.layers.Dense(1)])
    ce.compile_cross_encoder(model, {"learning_rate": 1e-3, "warmup_fraction": 0.5}, total_steps=10)
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert ce.current_learning_rate(model.optimizer) == pytest.approx(2e-4)  # step 0 of 5 warm-up steps


def test_pointwise_loss_on_normalised_gain():
    gain, score = tf.constant([1.0, 0.0, 0.5]), tf.constant([2.0, -1.0, 0.0])
    expected = np.mean([math.log1p(math.exp(-2.0)), math.log1p(math.exp(-1.0)), math.log(2.0)])
    assert float(ce.PointwiseLoss()(gain, score)) == pytest.approx(expected, rel=1e-6)
    assert float(ce.PointwiseLoss("mse")(gain, score)) == pytest.approx((1 + 1 + 0.25) / 3, rel=1e-6)


def test_listwise_softmax_loss_by_hand():
    pad = ce.PAD_LABEL
    y_true = tf.constant([[3.0, 1.0, 0.0, pad], [0.0, 0.0, pad, pad], [2.0, 2.0, pad, pad]])
    y_pred = tf.constant([[2.0, 1.0, 0.0, 5.0], [1.0, 0.0, 0.0, 0.0], [0.3, 0.3, 9.0, 9.0]])
    # List 1: target (3/4, 1/4, 0) over the three valid items; the padded score 5.0 takes no part.
    log_z = math.log(math.exp(2.0) + math.exp(1.0) + math.exp(0.0))
    first = -(0.75 * (2.0 - log_z) + 0.25 * (1.0 - log_z))
    # List 2 has no positive gain: 0. List 3: uniform target, equal scores: log 2.
    per_list = ce.listwise_softmax_loss(y_true, y_pred).numpy()
    np.testing.assert_allclose(per_list, [first, 0.0, math.log(2.0)], rtol=1e-6)
    assert float(ce.ListwiseSoftmaxLoss()(y_true, y_pred)) == pytest.approx((first + math.log(2.0)) / 3, rel=1e-6)


def test_margin_mse_loss_on_logits_by_hand():
    pad, eps = ce.PAD_LABEL, 0.01
    logit = lambda g: math.log(g / (1 - g))  # noqa: E731
    y_true = tf.constant([[0.9, 0.1, pad], [0.5, pad, pad], [0.0, 1.0, 0.5]])
    y_pred = tf.constant([[1.0, -1.0, 7.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    # List 1: the score margin 2 against the teacher's logit margin; both orders of the pair count, alike.
    first = (2.0 - (logit(0.9) - logit(0.1))) ** 2
    # List 2: one valid item, no pair. List 3: gains 0 and 1 are clipped to eps and 1 - eps before the logit.
    t = [logit(eps), logit(1 - eps), 0.0]
    third = np.mean([(t[i] - t[j]) ** 2 for i in range(3) for j in range(3) if i != j])
    per_list = ce.margin_mse_loss(y_true, y_pred, eps).numpy()
    np.testing.assert_allclose(per_list, [first, 0.0, third], rtol=1e-5)
    # Margins only: shifting every score of a list changes nothing.
    np.testing.assert_allclose(ce.margin_mse_loss(y_true, y_pred + 5.0, eps).numpy(), per_list, rtol=1e-5)


def test_margin_distillation_loss_adds_weighted_margins_to_the_pairs_cross_entropy():
    pad = ce.PAD_LABEL
    y_true = tf.constant([[0.9, 0.1, pad]])
    y_pred = tf.constant([[1.0, -1.0, 7.0]])
    near, far = math.log1p(math.exp(-1.0)), 1.0 + math.log1p(math.exp(-1.0))  # -log sigmoid(1), -log sigmoid(-1)
    # Score 1 against gain 0.9, score -1 against gain 0.1 (the padded 7.0 takes no part).
    pointwise = np.mean([0.9 * near + 0.1 * far, 0.1 * far + 0.9 * near])
    assert float(ce.list_pointwise_loss(y_true, y_pred)[0]) == pytest.approx(pointwise, rel=1e-5)
    margin = float(ce.margin_mse_loss(y_true, y_pred)[0])
    assert float(ce.MarginDistillationLoss(0.5)(y_true, y_pred)) == pytest.approx(pointwise + 0.5 * margin, rel=1e-5)
    # Its pointwise term keeps the score a logit: the served ensemble and TeacherLabeling can read it.
    assert ce.score_meaning({"loss": ce.MARGIN_MSE}) == "logit"
    with pytest.raises(ValueError, match="margin_weight"):
        ce.MarginDistillationLoss(-1.0)


def test_build_lists_pads_masks_and_chunks_per_query():
    query_ids = ["q1", "q2", "q1", "q1", "q3", "q2", "q1"]
    queries = ["shoes", "mug", "shoes", "shoes", "lamp", "mug", "shoes"]
    titles = ["s1", "m1", "s2", "s3", "l1", "m2", "s4"]
    labels = [1.0, 0.0, 0.0, 0.5, 0.0, 1.0, 0.0]
    lists = ce.build_lists(query_ids, queries, titles, labels, list_size=3)
    # q1 has 4 rows -> [s1 s2 s3] and [s4] (no gain: dropped); q2 -> [m1 m2 pad]; q3 (no gain) dropped.
    assert lists["query_id"].tolist() == ["q1", "q2"]
    assert lists[features.QUERY].tolist() == ["shoes", "mug"]
    assert lists[features.PRODUCT_TITLE].tolist() == [["s1", "s2", "s3"], ["m1", "m2", ""]]
    np.testing.assert_array_equal(lists[features.LABEL], [[1.0, 0.0, 0.5], [0.0, 1.0, ce.PAD_LABEL]])
    np.testing.assert_array_equal(lists[ce.LIST_MASK], [[True, True, True], [True, True, False]])
    kept = ce.build_lists(query_ids, queries, titles, labels, list_size=3, drop_lists_without_gain=False)
    assert kept["query_id"].tolist() == ["q1", "q1", "q2", "q3"]
    np.testing.assert_array_equal(kept[ce.LIST_MASK].sum(axis=1), [3, 1, 2, 1])
    shuffled = ce.build_lists(query_ids, queries, titles, labels, list_size=4, seed=0)
    assert sorted(shuffled[features.PRODUCT_TITLE][0].tolist()) == ["s1", "s2", "s3", "s4"]


class _LengthScorer(keras.Model):
    """A stand-in pair scorer: len(query) + 10 * len(title)."""

    def call(self, inputs, training=None):
        return tf.cast(tf.strings.length(inputs[features.QUERY]) + 10 * tf.strings.length(
            inputs[features.PRODUCT_TITLE]), tf.float32)


def test_listwise_ranker_scores_valid_items_and_zeroes_padding():
    lists = ce.build_lists(["a", "a", "b"], ["xy", "xy", "z"], ["abc", "a", "ab"], [1.0, 0.0, 1.0], list_size=3)
    ranker = ce.ListwiseRanker(_LengthScorer())
    inputs, _ = next(iter(ce.lists_dataset(lists, lists_per_batch=2, shuffle=False, repeat=False)))
    np.testing.assert_allclose(ranker(inputs).numpy(), [[32.0, 12.0, 0.0], [21.0, 0.0, 0.0]])


def test_listwise_training_steps_with_the_encoder(model):
    rows = ce.build_lists(["q1"] * 2 + ["q2"] * 2, [QUERIES[0]] * 2 + [QUERIES[2]] * 2,
                          [TITLES[0], TITLES[3], TITLES[2], TITLES[1]], [1.0, 0.0, 1.0, 0.0], list_size=3)
    ranker = ce.ListwiseRanker(model)
    ce.compile_cross_encoder(ranker, {"loss": "listwise", "learning_rate": 1e-4}, total_steps=4)
    history = ranker.fit(ce.lists_dataset(rows, 2, seed=0), steps_per_epoch=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and history.history["loss"][0] > 0


def test_strategy_on_cpu_is_the_default_strategy_in_float32():
    strategy = ce.strategy_for_devices()
    assert not tf.config.list_logical_devices("GPU")
    assert strategy is tf.distribute.get_strategy()
    assert not tf.distribute.has_strategy()  # the default strategy, no scope entered
    assert keras.mixed_precision.global_policy().name == "float32"


def test_early_stopping_restores_the_best_eval_weights():
    # y = w x, trained on y = 2x from w = 0 with plain SGD; the eval split says y = x, so the eval loss
    # falls until w passes 1 and rises after: the best round is in the middle.
    model = keras.Sequential([keras.Input([1]), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    x = np.linspace(-1, 1, 32).astype(np.float32)[:, None]
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append((logs["val_loss"], float(model.weights[0].numpy()))))
    stopper = ce.early_stopping(patience=2)
    model.fit(x, 2 * x, validation_data=(x, x), batch_size=8, epochs=30, verbose=0, callbacks=[record, stopper])
    assert stopper.stopped_epoch > 0 and len(seen) < 30  # stopped early
    best_loss, best_w = min(seen)
    assert float(model.weights[0].numpy()) == best_w != seen[-1][1]
    assert stopper.best == pytest.approx(best_loss)


# ------------------------------------------------------------------------------------------- export

RAW_ROWS = [
    {"query_id": "q1", "query": "running shoes", "product_id": "p1", "product_title": TITLES[0], "relevance": 3.0},
    {"query_id": "q1", "query": "running shoes", "product_id": "p2", "product_title": TITLES[3], "relevance": 0.0},
    {"query_id": "q2", "query": "T恤", "product_id": "p3", "product_title": "纯棉T恤 白色", "relevance": 1.5},
]


@pytest.fixture(scope="module")
def transform_output_dir(tmp_path_factory):
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

    from models import preprocessing

    spec = {name: tf.io.FixedLenFeature([], tf.string) for name in
            (features.QUERY_ID, features.QUERY, features.PRODUCT_ID, features.PRODUCT_TITLE)}
    spec[features.RELEVANCE] = tf.io.FixedLenFeature([], tf.float32)
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    output = str(tmp_path_factory.mktemp("transform_output"))
    with tft_beam.Context(temp_dir=tempfile.mkdtemp()):
        _, transform_fn = ((RAW_ROWS, metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing.preprocessing_fn, output_record_batches=False))
        _ = transform_fn | tft_beam.WriteTransformFn(output)
    # The raw schema too (raw_feature_spec, which serving_default parses with), as TFX's Transform writes it.
    metadata_io.write_metadata(metadata, os.path.join(output, tft.TFTransformOutput.RAW_METADATA_DIR))
    return output


_LOAD_AND_SCORE = r"""
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  the encoder's tokeniser ops
loaded = tf.saved_model.load(sys.argv[1])
queries, titles = json.loads(sys.argv[2]), json.loads(sys.argv[3])
examples = []
for query, title in zip(queries, titles):
    example = tf.train.Example()
    example.features.feature["query"].bytes_list.value.append(query.encode())
    example.features.feature["product_title"].bytes_list.value.append(title.encode())
    example.features.feature["query_id"].bytes_list.value.append(b"q")
    example.features.feature["product_id"].bytes_list.value.append(b"p")
    examples.append(example.SerializeToString())
text = loaded.signatures["score_text"](query=tf.constant(queries), product_title=tf.constant(titles))
default = loaded.signatures["serving_default"](examples=tf.constant(examples))
print(json.dumps({"signatures": sorted(loaded.signatures), "score_text": text["score"].numpy().tolist(),
                  "serving_default": default["score"].numpy().tolist()}))
"""


def test_exported_model_loads_in_a_fresh_process_with_both_signatures(model, transform_output_dir, tmp_path):
    import tensorflow_transform as tft

    export_dir = str(tmp_path / "model")
    model.save(export_dir, save_format="tf", include_optimizer=False,
               signatures=signatures.make_signatures(model, tft.TFTransformOutput(transform_output_dir)))
    size = sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(export_dir) for name in names)
    assert size < 120e6  # the encoder's weights once, no optimizer slots

    queries = ["running shoes", "running shoes", "运动鞋"]
    titles = [TITLES[0], TITLES[3], "轻风 男士透气网面运动鞋 黑色"]
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", _LOAD_AND_SCORE, export_dir, json.dumps(queries),
                             json.dumps(titles)], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert {signatures.SERVING_DEFAULT, signatures.SCORE_TEXT} <= set(scores["signatures"])
    np.testing.assert_allclose(scores["serving_default"], scores["score_text"], atol=1e-5)
    in_process = model(_pairs(queries, titles)).numpy()
    np.testing.assert_allclose(scores["score_text"], in_process, atol=1e-5)


# ---------------------------------------------------------------------------------------------- run_fn


class _DataAccessor:
    """What TFX's DataAccessor.tf_dataset_factory does for tf.Example files."""

    @staticmethod
    def tf_dataset_factory(file_pattern, options, schema):
        from tfx_bsl.public import tfxio
        return tfxio.TFExampleRecord(file_pattern, schema=schema).TensorFlowDataset(options)


def _write_examples(path, rows):
    with tf.io.TFRecordWriter(path) as writer:
        for row in rows:
            example = tf.train.Example()
            for name, value in row.items():
                if isinstance(value, float):
                    example.features.feature[name].float_list.value.append(value)
                else:
                    example.features.feature[name].bytes_list.value.append(value.encode())
            writer.write(example.SerializeToString())


@pytest.mark.slow  # trains a model
def test_run_fn_fine_tunes_listwise_on_raw_examples_and_exports(tmp_path):
    """A Trainer without a transform graph (e.g. a teacher fed ExampleGen's output): the cross-encoder reads
    the raw columns; listwise loss, two rounds with early stopping, both signatures exported."""
    from tfx.components.trainer.fn_args_utils import FnArgs

    from models import trainer
    from pipeline import configs

    rows = [dict(row, query_id=f"q{i}") for i in range(3) for row in RAW_ROWS[:2]] + RAW_ROWS[2:]
    _write_examples(str(tmp_path / "train.tfrecord"), rows)
    _write_examples(str(tmp_path / "eval.tfrecord"), RAW_ROWS)
    fn_args = FnArgs(
        train_files=[str(tmp_path / "train.tfrecord")], eval_files=[str(tmp_path / "eval.tfrecord")],
        train_steps=4, eval_steps=1, schema_path=str(configs.SCHEMA_DIR / "schema.pbtxt"),
        transform_output=None, data_accessor=_DataAccessor(), serving_model_dir=str(tmp_path / "serving"),
        model_run_dir=str(tmp_path / "logs"),
        custom_config={"model": "cross_encoder", "loss": "listwise", "list_size": 4, "lists_per_batch": 2,
                       "epochs": 2, "early_stopping_patience": 1, "learning_rate": 1e-4})
    trainer.run_fn(fn_args)

    text, default = score_with_both_signatures(fn_args.serving_model_dir, "running shoes", TITLES[:2])
    assert text.shape == (2,)
    np.testing.assert_allclose(default, text, atol=1e-5)


def score_with_both_signatures(export_dir, query, titles):
    """(score_text, serving_default) scores of one query against titles, from an exported model."""
    loaded = tf.saved_model.load(export_dir)
    text = loaded.signatures[signatures.SCORE_TEXT](query=tf.constant([query] * len(titles)),
                                                    product_title=tf.constant(titles))[features.SCORE]
    examples = []
    for title in titles:
        example = tf.train.Example()
        for name, value in ((features.QUERY, query), (features.PRODUCT_TITLE, title),
                            (features.QUERY_ID, "q"), (features.PRODUCT_ID, "p")):
            example.features.feature[name].bytes_list.value.append(value.encode())
        examples.append(example.SerializeToString())
    default = loaded.signatures[signatures.SERVING_DEFAULT](examples=tf.constant(examples))[features.SCORE]
    return text.numpy(), default.numpy()


@pytest.mark.slow  # trains a model
def test_run_fn_sizes_training_by_epochs_over_the_rows_it_gets(tmp_path, caplog):
    """No train steps from the Trainer (the pipeline's default): train_epochs passes over the train split's
    rows, counted; no eval steps: one whole pass over the eval split after each round."""
    from tfx.components.trainer.fn_args_utils import FnArgs

    from models import trainer
    from pipeline import configs

    rows = RAW_ROWS * 3
    _write_examples(str(tmp_path / "train.tfrecord"), rows)
    _write_examples(str(tmp_path / "eval.tfrecord"), RAW_ROWS)
    fn_args = FnArgs(
        train_files=[str(tmp_path / "train.tfrecord")], eval_files=[str(tmp_path / "eval.tfrecord")],
        train_steps=None, eval_steps=None, schema_path=str(configs.SCHEMA_DIR / "schema.pbtxt"),
        transform_output=None, data_accessor=_DataAccessor(), serving_model_dir=str(tmp_path / "serving"),
        model_run_dir=str(tmp_path / "logs"),
        custom_config={"model": "cross_encoder", "batch_size": 4, "train_epochs": 1.5, "epochs": 1,
                       "early_stopping_patience": 0})
    with caplog.at_level("INFO", logger=trainer.logger.name):
        trainer.run_fn(fn_args)
    expected = math.ceil(1.5 * len(rows) / 4)
    messages = [r.getMessage() for r in caplog.records]
    assert f"Training length: 1.5 epochs of {len(rows)} train rows at 4 per step = {expected} steps" in messages
    assert any(f"Fine-tuned for {expected} steps" in m for m in messages), messages
    assert any("eval: all steps after each" in m for m in messages), messages


def test_training_length_takes_the_trainers_steps_first_and_refuses_nonsense():
    from models import trainer

    hp = ce.hparams_with_defaults({"batch_size": 16, "train_epochs": 2.0})
    assert trainer.training_steps(7, hp, 1000, "rows") == 7  # --train-steps wins
    assert trainer.training_steps(None, hp, 1000, "rows") == 125
    listwise = ce.hparams_with_defaults({"loss": "listwise", "lists_per_batch": 2, "train_epochs": 1.0})
    assert trainer.training_steps(None, listwise, 9, "lists") == 5
    with pytest.raises(ValueError, match="train_epochs 0.0 over 1000 train rows"):
        trainer.training_steps(None, {**hp, "train_epochs": 0.0}, 1000, "rows")


TRAINING_ROWS = [dict(row, origin=origin, sample_weight=1.0) for row, origin in
                 ((RAW_ROWS[0], "labelled"), (RAW_ROWS[1], "labelled"), (RAW_ROWS[2], "traffic"),
                  (dict(RAW_ROWS[0], product_id="p9", relevance=2.0), "traffic"),
                  (dict(RAW_ROWS[1], query_id="q5", product_id="p8"), "retrieved"))]


@pytest.mark.slow  # trains a model
def test_run_fn_distils_in_two_stages_teacher_rows_then_gold(tmp_path, caplog):
    """gold_stage_epochs > 0: the teacher-labelled rows first, then the gold ones, each stage sized by its own
    rows; the margin distillation loss on per-query lists; the export serves a logit."""
    from tfx.components.trainer.fn_args_utils import FnArgs

    from models import trainer
    from pipeline import configs

    _write_examples(str(tmp_path / "train.tfrecord"), TRAINING_ROWS)
    _write_examples(str(tmp_path / "eval.tfrecord"), TRAINING_ROWS[:2])
    fn_args = FnArgs(
        train_files=[str(tmp_path / "train.tfrecord")], eval_files=[str(tmp_path / "eval.tfrecord")],
        train_steps=None, eval_steps=None, schema_path=str(configs.SCHEMA_DIR / configs.TRAINING_SCHEMA_FILE),
        transform_output=None, data_accessor=_DataAccessor(), serving_model_dir=str(tmp_path / "serving"),
        model_run_dir=str(tmp_path / "logs"),
        custom_config={"model": "cross_encoder", "loss": ce.MARGIN_MSE, "list_size": 4, "lists_per_batch": 1,
                       "train_epochs": 1.0, "gold_stage_epochs": 2.0, "epochs": 1, "early_stopping_patience": 0})
    with caplog.at_level("INFO", logger=trainer.logger.name):
        trainer.run_fn(fn_args)
    messages = [r.getMessage() for r in caplog.records]
    assert "Two stages: 3 teacher-labelled rows (1 epochs), then 2 gold rows (2 epochs)" in messages
    # Stage 1: 3 teacher rows in 3 lists (q1, q2, q5); stage 2: the 2 gold rows of q1 in one list, twice.
    assert "Training length: 1 epochs of 3 train lists at 1 per step = 3 steps" in messages
    assert "Training length: 2 epochs of 1 train lists at 1 per step = 2 steps" in messages
    assert sum("(stage 1 of 2: teacher rows)" in m for m in messages) == 1
    assert sum("(stage 2 of 2: gold rows)" in m for m in messages) == 1
    text, _ = score_with_both_signatures(fn_args.serving_model_dir, "running shoes", TITLES[:2])
    assert np.all(np.isfinite(text))


def test_two_stages_fall_back_to_one_without_teacher_rows(tmp_path):
    from tfx.components.trainer.fn_args_utils import FnArgs

    from models import trainer
    from pipeline import configs

    _write_examples(str(tmp_path / "train.tfrecord"), TRAINING_ROWS[:2])
    fn_args = FnArgs(train_files=[str(tmp_path / "train.tfrecord")], train_steps=None,
                     schema_path=str(configs.SCHEMA_DIR / configs.TRAINING_SCHEMA_FILE), transform_output=None,
                     data_accessor=_DataAccessor())
    examples = trainer._Examples(fn_args)
    hp = ce.hparams_with_defaults({"gold_stage_epochs": 1.0, "train_epochs": 2.0})
    assert trainer.training_stages(examples, fn_args, hp) == [(trainer.ALL_ROWS, 2.0)]
    with pytest.raises(ValueError, match="gold_stage_epochs"):
        trainer.training_stages(examples, fn_args, {**hp, "gold_stage_epochs": -1.0})
