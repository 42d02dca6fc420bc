"""Trainer's run_fn (the `run_fn=` import path): reads transformed examples, fits, exports with signatures."""
import logging
from typing import Any, Dict

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from models import features, model as ranker, signatures

DEFAULT_BATCH_SIZE = 32


def _dataset(file_pattern, data_accessor, tf_transform_output, batch_size: int) -> tf.data.Dataset:
    """(features, label) batches of transformed examples, repeated (the step counts bound training)."""
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=features.LABEL),
        tf_transform_output.transformed_metadata.schema,
    )


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Trains the ranker on the transformed train split and exports it to fn_args.serving_model_dir."""
    hparams: Dict[str, Any] = dict(fn_args.custom_config or {})
    batch_size = int(hparams.pop("batch_size", DEFAULT_BATCH_SIZE))
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)

    train = _dataset(fn_args.train_files, fn_args.data_accessor, tf_transform_output, batch_size)
    evaluation = _dataset(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, batch_size)

    # Token ids run 1..vocabulary size, then one OOV id; 0 is padding.
    vocab_size = tf_transform_output.vocabulary_size_by_name(features.VOCAB_NAME) + 2
    model = ranker.build_ranker(vocab_size, hparams)
    logging.info("Training %s for %d steps (batch %d, vocabulary %d)", model.name, fn_args.train_steps,
                 batch_size, vocab_size)
    model.fit(train, steps_per_epoch=fn_args.train_steps, epochs=1,
              validation_data=evaluation, validation_steps=fn_args.eval_steps,
              callbacks=[keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)])

    model.save(fn_args.serving_model_dir, save_format="tf",
               signatures=signatures.make_signatures(model, tf_transform_output))
