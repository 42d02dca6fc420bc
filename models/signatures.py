"""Serving signatures of the exported ranker, both through the Transform graph.

- `serving_default`: serialized tf.Example (TF Serving's default, and what TFMA's Evaluator feeds);
- `score_text`: raw `query` and `product_title` strings, for JSON clients.
Both return {"score": [batch] float32}.
"""
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from models import features

SERVING_DEFAULT = "serving_default"
SCORE_TEXT = "score_text"


def make_signatures(model: keras.Model, tf_transform_output: tft.TFTransformOutput):
    """Returns {signature name: concrete function} for tf.saved_model.save / model.save."""
    # Tracked on the model so the Transform graph's assets (the vocabulary) are saved with it.
    model.tft_layer = tf_transform_output.transform_features_layer()
    raw_spec = tf_transform_output.raw_feature_spec()
    raw_spec.pop(features.RELEVANCE)  # the label is not sent at serving time

    def score(raw_features):
        transformed = model.tft_layer(raw_features)
        model_features = {name: transformed[name] for name in model.input_names}
        return {features.SCORE: model(model_features)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(serialized):
        return score(tf.io.parse_example(serialized, raw_spec))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.QUERY),
                                  tf.TensorSpec([None], tf.string, name=features.PRODUCT_TITLE)])
    def serve_text(query, product_title):
        # The schema's columns are [batch, 1]; only the text columns reach the Transform graph.
        return score({features.QUERY: tf.reshape(query, [-1, 1]),
                      features.PRODUCT_TITLE: tf.reshape(product_title, [-1, 1])})

    return {SERVING_DEFAULT: serve_examples.get_concrete_function(),
            SCORE_TEXT: serve_text.get_concrete_function()}
