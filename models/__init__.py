"""Module files of the pipeline: features, preprocessing_fn, the ranker and its run_fn.

TFX executors import these by path, so they are the lowest layer: they never import pipeline/.
"""
import os

# tensorflow_hub.KerasLayer and tf.Transform need Keras 2 (tf-keras); set before TensorFlow loads.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
