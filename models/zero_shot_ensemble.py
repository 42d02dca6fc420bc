"""The served zero-shot ensemble (models/zero_shot.py): the fine-tuned cross-encoder's gain and the frozen
pretrained encoder's calibrated cosine in one Keras model, saved with both encoders inside."""
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras as keras

from models import features
from models.zero_shot import Calibration, check_ensemble

ZERO_SHOT_ENSEMBLE = "zero_shot_ensemble"  # the served model's name
# The ensemble's two parts, each a gain in [0, 1] (signatures.SCORE_PARTS serves them beside the score).
FINE_TUNED_GAIN, ZERO_SHOT_GAIN = "fine_tuned_gain", "zero_shot_gain"


def _embed_each_text_once(embed, texts):
    """L2-normalised embeddings of texts [B], each distinct text embedded once: a serving request is one query
    and its candidates, so without this the query would pass through the encoder once per candidate."""
    distinct, index = tf.unique(texts)
    return tf.gather(tf.math.l2_normalize(embed(distinct), axis=-1), index)


@keras.utils.register_keras_serializable(package="search_relevance")
class ZeroShotCosine(keras.layers.Layer):
    """[query [B], title [B]] strings -> [B] cosine of the frozen pretrained encoder's embeddings (queries
    through `embed`, titles through `embed_passage` where the export has one: E5's prefixes)."""

    def __init__(self, encoder_handle: str, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.encoder_handle = encoder_handle
        self.encoder = hub.load(encoder_handle)  # tracked: saved inside the model that holds this layer
        if not hasattr(self.encoder, "embed"):
            raise ValueError(f"a zero-shot ensemble needs an encoder with an `embed` function (models/encoder's "
                             f"exports have one); {encoder_handle} has none")

    def call(self, inputs):
        query, title = inputs
        embed_passage = getattr(self.encoder, "embed_passage", self.encoder.embed)
        query_vectors = _embed_each_text_once(self.encoder.embed, query)
        title_vectors = _embed_each_text_once(embed_passage, title)
        return tf.reduce_sum(query_vectors * title_vectors, axis=-1)

    def get_config(self):
        return {**super().get_config(), "encoder_handle": self.encoder_handle}

    def cosines(self, queries, titles, batch_size: int = 64) -> list:
        """The cosine of each (query, title) pair, as Python floats (the calibration's input)."""
        return [float(c) for start in range(0, len(queries), batch_size)
                for c in self([tf.constant(queries[start:start + batch_size]),
                               tf.constant(titles[start:start + batch_size])]).numpy()]


def build_ensemble(scorer: keras.Model, cosine: ZeroShotCosine, calibration: Calibration, zero_shot_weight: float,
                   score_meaning: str) -> keras.Model:
    """The served ranker: {"query", "product_title"} -> "score" [B] = ensemble_gain of the fine-tuned scorer's
    gain (its score through sigmoid for "logit", clipped for "gain") and the calibrated zero-shot cosine.
    Its `parts` attribute is a model of the same layers returning both gains (FINE_TUNED_GAIN, ZERO_SHOT_GAIN):
    the fine-tuned student alone can be scored from the served SavedModel."""
    check_ensemble(zero_shot_weight, score_meaning)
    query = keras.Input(shape=(), dtype=tf.string, name=features.QUERY)
    title = keras.Input(shape=(), dtype=tf.string, name=features.PRODUCT_TITLE)
    score = scorer({features.QUERY: query, features.PRODUCT_TITLE: title})
    fine_tuned = tf.sigmoid(score) if score_meaning == "logit" else tf.clip_by_value(score, 0.0, 1.0)
    zero_shot = tf.clip_by_value(calibration.slope * cosine([query, title]) + calibration.intercept, 0.0, 1.0)
    ensemble = (1.0 - zero_shot_weight) * fine_tuned + zero_shot_weight * zero_shot
    ensemble = keras.layers.Activation("linear", dtype="float32", name=features.SCORE)(ensemble)
    inputs = {features.QUERY: query, features.PRODUCT_TITLE: title}
    model = keras.Model(inputs=inputs, outputs=ensemble, name=ZERO_SHOT_ENSEMBLE)
    model.parts = keras.Model(inputs=inputs, outputs={FINE_TUNED_GAIN: tf.cast(fine_tuned, tf.float32),
                                                      ZERO_SHOT_GAIN: tf.cast(zero_shot, tf.float32)},
                              name=f"{ZERO_SHOT_ENSEMBLE}_parts")  # the same layers and weights
    return model
