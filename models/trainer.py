"""Trainer's run_fn (the `run_fn=` import path): reads transformed examples, fits, exports with signatures.

custom_config (pipeline/configs.py TRAINER_HPARAMS) picks the model with "model":
  "cross_encoder" (default): the pretrained encoder fine-tuned on the raw (query, title) strings
      (models/cross_encoder.py; every other key overrides its DEFAULT_HPARAMS), served alone or, with
      zero_shot_weight > 0, in an ensemble with the frozen encoder's zero-shot cosine (models/zero_shot.py);
  "bag_of_words": the small text model trained from scratch on Transform's token ids (models/model.py).
Either way the SavedModel has the serving signatures of models/signatures.py (through the Transform graph).
"""
import logging
import math
import os
import time
from typing import Any, Callable, Dict, Union

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from models import cross_encoder, features, model as bag_of_words, signatures, zero_shot

DEFAULT_BATCH_SIZE = 32
# Which train rows a stage reads (_Examples.dataset): all, the gold labelled ones, or the teacher-labelled ones.
ALL_ROWS, GOLD_ROWS, TEACHER_ROWS = "all", "gold", "teacher"
logger = logging.getLogger(__name__)


class _Examples:
    """The Trainer's examples: Transform's output, or (no transform graph, e.g. a teacher Trainer fed
    ExampleGen's output) the raw examples read with the schema; only the cross-encoder can use raw ones."""

    def __init__(self, fn_args):
        self.fn_args = fn_args
        self.tf_transform_output = (tft.TFTransformOutput(fn_args.transform_output)
                                    if fn_args.transform_output else None)
        if self.tf_transform_output is not None:
            self.schema = self.tf_transform_output.transformed_metadata.schema
            self.label_key = features.LABEL
        else:
            from tensorflow_metadata.proto.v0 import schema_pb2
            from tfx.utils import io_utils
            self.schema = io_utils.parse_pbtxt_file(fn_args.schema_path, schema_pb2.Schema())
            self.label_key = features.RELEVANCE
        self.has_sample_weight = any(f.name == features.WEIGHT for f in self.schema.feature)

    @property
    def transformed(self) -> bool:
        return self.tf_transform_output is not None

    @property
    def has_origin(self) -> bool:
        return any(f.name == features.ORIGIN for f in self.schema.feature)

    def dataset(self, file_pattern, batch_size: int, feature_names, num_epochs=None, shuffle: bool = True,
                seed=None, sample_weight: bool = False, rows: str = ALL_ROWS) -> tf.data.Dataset:
        """(features, label[, sample weight]) batches, repeated unless num_epochs (the step counts bound
        training); features: only feature_names, each [batch]; label: the normalised gain. rows: ALL_ROWS, or
        only the GOLD_ROWS (origin labelled) or TEACHER_ROWS (any other origin) of examples with an origin."""
        dataset = self.fn_args.data_accessor.tf_dataset_factory(
            file_pattern,
            tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=self.label_key,
                                           num_epochs=num_epochs, shuffle=shuffle, shuffle_seed=seed),
            self.schema)
        names, transformed = tuple(feature_names), self.transformed
        weighted = sample_weight and self.has_sample_weight
        if rows != ALL_ROWS:
            if rows not in (GOLD_ROWS, TEACHER_ROWS):
                raise ValueError(f"rows must be {ALL_ROWS!r}, {GOLD_ROWS!r} or {TEACHER_ROWS!r}, not {rows!r}")
            gold = rows == GOLD_ROWS
            # Whole batches are read, then filtered row by row and re-batched.
            dataset = dataset.unbatch().filter(lambda x, y: tf.equal(
                tf.equal(tf.reshape(x[features.ORIGIN], [-1])[0], features.ORIGIN_LABELLED), gold)).batch(batch_size)

        def select(x, y):
            if transformed:
                inputs, label = {name: x[name] for name in names}, y
            else:  # raw columns are [batch, 1]
                inputs = {name: tf.reshape(x[name], [-1]) for name in names}
                label = features.normalised_gain(tf.cast(tf.reshape(y, [-1]), tf.float32))
            if weighted:
                return inputs, label, tf.reshape(tf.cast(x[features.WEIGHT], tf.float32), [-1])
            return inputs, label
        return dataset.map(select)

    def read_rows(self, file_pattern) -> Dict[str, np.ndarray]:
        """One pass over a split: query_id, query, product_title, origin where the examples have one
        (strings) and label, as numpy arrays."""
        names = (features.QUERY_ID, features.QUERY, features.PRODUCT_TITLE)
        names += (features.ORIGIN,) if self.has_origin else ()
        columns = {name: [] for name in names + (features.LABEL,)}
        for batch, label in self.dataset(file_pattern, 256, names, num_epochs=1, shuffle=False):
            for name in names:
                columns[name].extend(v.decode("utf-8") for v in batch[name].numpy())
            columns[features.LABEL].extend(label.numpy().tolist())
        return {name: np.asarray(values, dtype=np.float32 if name == features.LABEL else object)
                for name, values in columns.items()}


def count_rows(examples: "_Examples", file_pattern, rows: str = ALL_ROWS) -> int:
    """Rows in one pass over a split (read once; a few seconds for tens of thousands of rows)."""
    dataset = examples.dataset(file_pattern, 1024, (features.QUERY_ID,), num_epochs=1, shuffle=False, rows=rows)
    return int(sum(int(tf.shape(label)[0]) for _, label in dataset))


def training_steps(fn_args_steps, hp: Dict[str, Any], units: Union[int, Callable[[], int]], unit_name: str) -> int:
    """The Trainer's train steps where set, else ceil(train_epochs x units / units per step) (hparams
    train_epochs; units: train rows, or lists for a list loss; or a function counting them, called only
    when the Trainer's steps do not decide)."""
    if fn_args_steps:
        logger.info("Training length: %d steps (the Trainer's train_args)", int(fn_args_steps))
        return int(fn_args_steps)
    units = units() if callable(units) else units
    epochs = float(hp["train_epochs"])
    per_step = int(hp["lists_per_batch"] if hp["loss"] in cross_encoder.LIST_LOSSES else hp["batch_size"])
    if epochs <= 0 or units <= 0:
        raise ValueError(f"training length: train_epochs {epochs} over {units} train {unit_name}: set "
                         "train_epochs above 0, or the Trainer's train steps (--train-steps)")
    steps = max(math.ceil(epochs * units / per_step), 1)
    logger.info("Training length: %g epochs of %d train %s at %d per step = %d steps", epochs, units, unit_name,
                per_step, steps)
    return steps


def _lists(rows: Dict[str, np.ndarray], hp: Dict[str, Any], seed) -> Dict[str, np.ndarray]:
    # ListNet needs a positive gain in a list; margins do not.
    return cross_encoder.build_lists(rows[features.QUERY_ID], rows[features.QUERY], rows[features.PRODUCT_TITLE],
                                     rows[features.LABEL], list_size=int(hp["list_size"]), seed=seed,
                                     drop_lists_without_gain=hp["loss"] == cross_encoder.LISTWISE)


def _only(rows: Dict[str, np.ndarray], which: str) -> Dict[str, np.ndarray]:
    """The in-memory rows (read_rows) of ALL_ROWS, GOLD_ROWS or TEACHER_ROWS; rows without an origin are
    all gold (labelled examples that never went through augmentation)."""
    if which == ALL_ROWS:
        return rows
    gold = (rows[features.ORIGIN] == features.ORIGIN_LABELLED if features.ORIGIN in rows
            else np.ones(len(rows[features.LABEL]), bool))
    keep = gold if which == GOLD_ROWS else ~gold
    return {name: values[keep] for name, values in rows.items()}


def training_stages(examples: "_Examples", fn_args, hp: Dict[str, Any]) -> list:
    """[(rows, epochs)]: one stage over all rows, or (gold_stage_epochs > 0 and the train split has both) the
    teacher-labelled rows for train_epochs, then the gold rows for gold_stage_epochs."""
    gold_epochs = float(hp["gold_stage_epochs"])
    if gold_epochs < 0:
        raise ValueError(f"gold_stage_epochs must be >= 0, not {gold_epochs}")
    if not gold_epochs or fn_args.train_steps or not examples.has_origin:
        return [(ALL_ROWS, float(hp["train_epochs"]))]
    counts = {which: count_rows(examples, fn_args.train_files, which) for which in (GOLD_ROWS, TEACHER_ROWS)}
    if not counts[TEACHER_ROWS] or not counts[GOLD_ROWS]:
        logger.info("Two stages asked for, but the train split has %d teacher-labelled and %d gold rows: one stage",
                    counts[TEACHER_ROWS], counts[GOLD_ROWS])
        return [(ALL_ROWS, float(hp["train_epochs"]))]
    logger.info("Two stages: %d teacher-labelled rows (%g epochs), then %d gold rows (%g epochs)",
                counts[TEACHER_ROWS], float(hp["train_epochs"]), counts[GOLD_ROWS], gold_epochs)
    return [(TEACHER_ROWS, float(hp["train_epochs"])), (GOLD_ROWS, gold_epochs)]


def _train_bag_of_words(fn_args, examples: _Examples, hparams: Dict[str, Any]) -> keras.Model:
    if not examples.transformed:
        raise ValueError("the bag-of-words ranker reads Transform's token ids: give its Trainer a transform graph")
    tf_transform_output = examples.tf_transform_output
    batch_size = int(hparams.pop("batch_size", DEFAULT_BATCH_SIZE))
    names = tuple(bag_of_words.model_inputs())
    train = examples.dataset(fn_args.train_files, batch_size, names, sample_weight=True)
    evaluation = examples.dataset(fn_args.eval_files, batch_size, names, shuffle=False)

    # Token ids run 1..vocabulary size, then one OOV id; 0 is padding.
    vocab_size = tf_transform_output.vocabulary_size_by_name(features.VOCAB_NAME) + 2
    epochs = hparams.pop("train_epochs", cross_encoder.DEFAULT_HPARAMS["train_epochs"])
    steps = training_steps(fn_args.train_steps, {"train_epochs": epochs, "batch_size": batch_size, "loss": ""},
                           lambda: count_rows(examples, fn_args.train_files), "rows")
    model = bag_of_words.build_ranker(vocab_size, hparams)
    logger.info("Training %s for %d steps (batch %d, vocabulary %d)", model.name, steps, batch_size, vocab_size)
    model.fit(train, steps_per_epoch=steps, epochs=1,
              validation_data=evaluation, validation_steps=fn_args.eval_steps or 1,
              callbacks=[keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)])
    return model


def _stage_data(fn_args, examples: _Examples, hp: Dict[str, Any], rows: str, epochs: float) -> dict:
    """One stage's train and eval datasets, its train steps and a description of a step."""
    seed = int(hp["seed"])
    stage_hp = {**hp, "train_epochs": epochs}
    if hp["loss"] in cross_encoder.LIST_LOSSES:
        # Lists need every row of a query together: the splits are read into memory once (sample-sized and
        # augmented data fit; a larger corpus would group by query upstream, e.g. in Transform).
        train_rows = _only(examples.read_rows(fn_args.train_files), rows)
        eval_rows = examples.read_rows(fn_args.eval_files)
        train_lists, eval_lists = _lists(train_rows, hp, seed), _lists(eval_rows, hp, None)
        per_batch = int(hp["lists_per_batch"])
        logger.info("Lists: %d train lists from %d rows, %d eval lists from %d rows",
                    len(train_lists[features.LABEL]), len(train_rows[features.LABEL]),
                    len(eval_lists[features.LABEL]), len(eval_rows[features.LABEL]))
        return {"train": cross_encoder.lists_dataset(train_lists, per_batch, shuffle=True, seed=seed),
                "evaluation": cross_encoder.lists_dataset(eval_lists, per_batch, shuffle=False),
                "validation_steps": max(math.ceil(len(eval_lists[features.LABEL]) / per_batch), 1),  # one pass
                "train_steps": training_steps(fn_args.train_steps, stage_hp, len(train_lists[features.LABEL]),
                                              "lists"),
                "unit": f"{per_batch} lists of up to {hp['list_size']} titles"}
    batch_size = int(hp["batch_size"])
    return {"train": examples.dataset(fn_args.train_files, batch_size, cross_encoder.INPUT_NAMES, seed=seed,
                                      sample_weight=True, rows=rows),
            # The eval steps where set; else one pass over the eval split (a finite dataset, steps None).
            "evaluation": examples.dataset(fn_args.eval_files, batch_size, cross_encoder.INPUT_NAMES, shuffle=False,
                                           num_epochs=None if fn_args.eval_steps else 1),
            "validation_steps": int(fn_args.eval_steps) if fn_args.eval_steps else None,
            "train_steps": training_steps(fn_args.train_steps, stage_hp,
                                          lambda: count_rows(examples, fn_args.train_files, rows), "rows"),
            "unit": f"{batch_size} pairs" + (" (weighted by sample_weight)" if examples.has_sample_weight else "")}


def _train_cross_encoder(fn_args, examples: _Examples, hparams: Dict[str, Any]) -> keras.Model:
    """Fine-tunes the cross-encoder, in one stage or two (training_stages); returns the pair scorer (restored
    to its best eval round of the last stage)."""
    hp = cross_encoder.hparams_with_defaults(hparams)
    if hp["zero_shot_weight"]:  # refused before training, not after
        zero_shot.check_ensemble(float(hp["zero_shot_weight"]), cross_encoder.score_meaning(hp))
    keras.utils.set_random_seed(int(hp["seed"]))
    strategy = cross_encoder.strategy_for_devices()  # sets the dtype policy too: build after it
    stages = training_stages(examples, fn_args, hp)

    start = time.perf_counter()
    with strategy.scope():
        scorer = cross_encoder.build_cross_encoder(hp.get("encoder_handle"), hp)
        trained = cross_encoder.ListwiseRanker(scorer) if hp["loss"] in cross_encoder.LIST_LOSSES else scorer
    logger.info("Built the cross-encoder from %s in %.1f s: %d trainable weights (%d parameters)",
                scorer.encoder_handle, time.perf_counter() - start, len(scorer.trainable_weights),
                sum(int(np.prod(w.shape)) for w in scorer.trainable_weights))
    rounds = max(int(hp["epochs"]), 1)
    for index, (rows, epochs) in enumerate(stages):
        data = _stage_data(fn_args, examples, hp, rows, epochs)
        steps_per_round = max(math.ceil(data["train_steps"] / rounds), 1)
        total_steps = rounds * steps_per_round
        with strategy.scope():  # a fresh optimizer and schedule per stage
            cross_encoder.compile_cross_encoder(trained, hp, total_steps)
        logger.info("Fine-tuning%s: %s loss, %d steps of %s in %d rounds of %d steps (eval: %s steps after each), "
                    "peak lr %g after %d warm-up steps, %s decay, early stopping patience %s",
                    f" (stage {index + 1} of {len(stages)}: {rows} rows)" if len(stages) > 1 else "",
                    hp["loss"], total_steps, data["unit"], rounds, steps_per_round,
                    data["validation_steps"] or "all", hp["learning_rate"],
                    int(round(hp["warmup_fraction"] * total_steps)), hp["decay"], hp["early_stopping_patience"])
        callbacks = [cross_encoder.TrainingLogger(hp["log_every_n_steps"], total_steps),
                     keras.callbacks.TensorBoard(write_graph=False, log_dir=fn_args.model_run_dir if len(stages) == 1
                                                 else os.path.join(fn_args.model_run_dir, f"stage_{index + 1}"))]
        if hp["early_stopping_patience"]:
            callbacks.append(cross_encoder.early_stopping(int(hp["early_stopping_patience"])))
        start = time.perf_counter()
        history = trained.fit(data["train"], steps_per_epoch=steps_per_round, epochs=rounds,
                              validation_data=data["evaluation"], validation_steps=data["validation_steps"],
                              callbacks=callbacks, verbose=0)
        elapsed = time.perf_counter() - start
        steps_done = steps_per_round * len(history.history.get("loss", []))
        logger.info("Fine-tuned for %d steps in %.1f s (%.2f steps/s, evaluation included); eval loss per round: %s",
                    steps_done, elapsed, steps_done / max(elapsed, 1e-9),
                    ", ".join(f"{v:.5f}" for v in history.history.get("val_loss", [])))
    return scorer


def _with_zero_shot(fn_args, examples: _Examples, scorer: keras.Model, hp: Dict[str, Any]) -> keras.Model:
    """The served model: the fine-tuned scorer in an ensemble with the pretrained encoder's zero-shot cosine
    (models/zero_shot.py), calibrated on the train split's labelled rows (all rows without an origin)."""
    from models import zero_shot_ensemble

    start = time.perf_counter()
    labelled = _only(examples.read_rows(fn_args.train_files), GOLD_ROWS)
    # The save's include_optimizer=False only covers the saved model's own optimizer: untrack the scorer's,
    # or its AdamW slots (twice the encoder's size) would be served inside the ensemble.
    scorer._delete_tracking("optimizer")  # pylint: disable=protected-access
    scorer.optimizer = None
    cosine = zero_shot_ensemble.ZeroShotCosine(scorer.encoder_handle, name="zero_shot_cosine")
    calibration = zero_shot.fit_calibration(
        cosine.cosines(list(labelled[features.QUERY]), list(labelled[features.PRODUCT_TITLE])),
        labelled[features.LABEL].tolist())
    weight = float(hp["zero_shot_weight"])
    logger.info("Serving an ensemble: %.2f x the fine-tuned gain + %.2f x the zero-shot cosine of %s on the gain "
                "scale (gain = %.3f * cosine + %.3f, least squares on %d labelled train rows; %.1f s)",
                1 - weight, weight, scorer.encoder_handle, calibration.slope, calibration.intercept,
                calibration.pairs, time.perf_counter() - start)
    return zero_shot_ensemble.build_ensemble(scorer, cosine, calibration, weight, cross_encoder.score_meaning(hp))


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Trains the ranker named by custom_config["model"] on the transformed train split and exports it to
    fn_args.serving_model_dir with both serving signatures."""
    hparams: Dict[str, Any] = dict(fn_args.custom_config or {})
    kind = hparams.pop("model", cross_encoder.CROSS_ENCODER)
    examples = _Examples(fn_args)
    if kind == cross_encoder.CROSS_ENCODER:
        model = _train_cross_encoder(fn_args, examples, hparams)
        hp = cross_encoder.hparams_with_defaults(hparams)
        if hp["zero_shot_weight"]:
            model = _with_zero_shot(fn_args, examples, model, hp)
    elif kind == cross_encoder.BAG_OF_WORDS:
        model = _train_bag_of_words(fn_args, examples, hparams)
    else:
        raise ValueError(f"custom_config['model'] must be {cross_encoder.CROSS_ENCODER!r} or "
                         f"{cross_encoder.BAG_OF_WORDS!r}, not {kind!r}")

    start = time.perf_counter()
    # No optimizer state in the served model (AdamW's slots would triple the cross-encoder's size).
    model.save(fn_args.serving_model_dir, save_format="tf", include_optimizer=False,
               signatures=signatures.make_signatures(model, examples.tf_transform_output, examples.schema))
    size = sum(tf.io.gfile.stat(os.path.join(root, name)).length
               for root, _, names in tf.io.gfile.walk(fn_args.serving_model_dir) for name in names)
    logger.info("Exported %s to %s (%.0f MB) in %.1f s", model.name, fn_args.serving_model_dir, size / 1e6,
                time.perf_counter() - start)
