"""Serving signatures of the exported ranker, both through the Transform graph.

- `serving_default`: serialized tf.Example (TF Serving's default, and what TFMA's Evaluator feeds);
- `score_text`: raw `query` and `product_title` strings, for JSON clients.
Both return {"score": [batch] float32}. A zero-shot ensemble also has `score_parts` (raw strings, like
`score_text`): the score and its two parts, the fine-tuned gain and the calibrated zero-shot gain. Each model reads the Transform outputs named by its inputs: token ids
and the overlap feature for the bag-of-words ranker, the passed-through `query` / `product_title` strings for
the cross-encoder (which tokenises in its own graph: load its SavedModel after `import tensorflow_text`).
"""
from typing import Optional

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from models import features

SERVING_DEFAULT = "serving_default"
SCORE_TEXT = "score_text"
SCORE_PARTS = "score_parts"


def serving_feature_spec(raw_schema) -> dict:
    """Feature spec of the raw columns sent at serving time: the schema's features in its SERVING environment
    (augmentation's origin and sample_weight are not), less the label."""
    from tensorflow_transform.tf_metadata import schema_utils

    spec = schema_utils.schema_as_feature_spec(raw_schema).feature_spec
    for feature in raw_schema.feature:
        if "SERVING" in feature.not_in_environment or (
                feature.in_environment and "SERVING" not in feature.in_environment):
            spec.pop(feature.name, None)
    spec.pop(features.RELEVANCE, None)  # the label is not sent at serving time
    return spec


def make_signatures(model: keras.Model, tf_transform_output: Optional[tft.TFTransformOutput],
                    raw_schema=None):
    """Returns {signature name: concrete function} for tf.saved_model.save / model.save.

    With a Transform output the raw features go through its graph; without one (a model trained on raw
    examples, whose inputs are raw columns such as the cross-encoder's query and product_title) they reach
    the model directly, parsed with raw_schema.
    """
    if tf_transform_output is not None:
        # Tracked on the model so the Transform graph's assets (the vocabulary) are saved with it.
        model.tft_layer = tf_transform_output.transform_features_layer()
        raw_spec = serving_feature_spec(tf_transform_output.raw_metadata.schema)

        def model_features(raw_features):
            transformed = model.tft_layer(raw_features)
            return {name: transformed[name] for name in model.input_names}
    else:
        if raw_schema is None:
            raise ValueError("without a Transform output, make_signatures needs the raw schema")
        raw_spec = serving_feature_spec(raw_schema)

        def model_features(raw_features):
            return {name: tf.reshape(raw_features[name], [-1]) for name in model.input_names}

    def score(raw_features):
        return {features.SCORE: model(model_features(raw_features))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(serialized):
        return score(tf.io.parse_example(serialized, raw_spec))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.QUERY),
                                  tf.TensorSpec([None], tf.string, name=features.PRODUCT_TITLE)])
    def serve_text(query, product_title):
        # Shaped as the raw schema's columns ([batch, 1] in schemas/schema.pbtxt); only the text columns
        # reach the Transform graph (its outputs that need other columns are dropped).
        return score({name: tf.reshape(text, [-1] + list(raw_spec[name].shape))
                      for name, text in ((features.QUERY, query), (features.PRODUCT_TITLE, product_title))})

    signatures = {SERVING_DEFAULT: serve_examples.get_concrete_function(),
                  SCORE_TEXT: serve_text.get_concrete_function()}
    parts = getattr(model, "parts", None)  # models.zero_shot_ensemble: raw strings in, no Transform needed
    if parts is not None:
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.QUERY),
                                      tf.TensorSpec([None], tf.string, name=features.PRODUCT_TITLE)])
        def serve_parts(query, product_title):
            inputs = {features.QUERY: query, features.PRODUCT_TITLE: product_title}
            return {features.SCORE: model(inputs), **parts(inputs)}
        signatures[SCORE_PARTS] = serve_parts.get_concrete_function()
    return signatures
