"""Shared test set-up: Keras 2 before TensorFlow loads, quiet TF logs, and the bundled sample."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from pipeline import configs  # noqa: E402


@pytest.fixture(scope="session")
def sample_data_dir() -> str:
    return str(configs.SAMPLE_DATA_DIR)
