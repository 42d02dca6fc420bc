"""Pipeline definition, configuration and runners (entry point: `python -m pipeline`)."""
import os

# tensorflow_hub.KerasLayer and tf.Transform need Keras 2 (tf-keras); set before TensorFlow loads.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
