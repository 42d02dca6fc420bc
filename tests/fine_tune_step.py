"""One fine-tuning step of an encoder export as a cross-encoder, shared by the encoder parity tests."""
import collections

import numpy as np
import tensorflow as tf

Step = collections.namedtuple("Step", ["layer", "loss", "missing_gradients", "unchanged"])


def cross_encoder_step(export_path: str, queries, titles, labels) -> Step:
    """hub.KerasLayer(export_path, trainable=True) under a Dense(1) head on pooled_output, one SGD step on the
    (query, title, label) pairs: the layer, the loss, the trainable weights that got no gradient, and the
    layer's trainable weights the step left unchanged (names)."""
    import tensorflow_hub as hub
    import tf_keras as keras

    layer = hub.KerasLayer(export_path, trainable=True)
    text_a = keras.Input(shape=(), dtype=tf.string, name="text_a")
    text_b = keras.Input(shape=(), dtype=tf.string, name="text_b")
    encoded = layer({"text_a": text_a, "text_b": text_b})
    model = keras.Model([text_a, text_b], keras.layers.Dense(1)(encoded["pooled_output"]))
    before = [weight.numpy().copy() for weight in layer.trainable_weights]

    with tf.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)(
            tf.constant(labels, tf.float32)[:, None], model([tf.constant(queries), tf.constant(titles)],
                                                            training=True))
    gradients = tape.gradient(loss, model.trainable_weights)
    missing = [weight.name for weight, gradient in zip(model.trainable_weights, gradients) if gradient is None]
    keras.optimizers.SGD(learning_rate=0.1).apply_gradients(
        (gradient, weight) for gradient, weight in zip(gradients, model.trainable_weights) if gradient is not None)
    # A key bias adds the same q.b to every score of a query's softmax, so its true gradient is 0: it may stay.
    unchanged = [weight.name for weight, old in zip(layer.trainable_weights, before)
                 if np.array_equal(weight.numpy(), old) and not weight.name.endswith("/key/bias:0")]
    return Step(layer, float(loss.numpy()), missing, unchanged)
