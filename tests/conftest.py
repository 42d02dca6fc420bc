"""Shared test set-up: Keras 2 before TensorFlow loads, quiet TF logs, and the bundled sample."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from pipeline import configs, runners  # noqa: E402


@pytest.fixture(scope="session")
def sample_data_dir() -> str:
    return str(configs.SAMPLE_DATA_DIR)


@pytest.fixture(scope="session")
def pipeline_output_dir(tmp_path_factory, sample_data_dir) -> str:
    """One real LocalDagRunner run of the whole pipeline on the sample, shared by the tests that read
    its artifacts or its pushed model (about 4 minutes on 2 busy cores, ~2 of them fine-tuning the
    cross-encoder: pipeline/configs.py TRAIN_STEPS)."""
    output = str(tmp_path_factory.mktemp("pipeline_run"))
    runners.run("local", sample_data_dir, output, runners.beam_args(workers=1))
    return output
