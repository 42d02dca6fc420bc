"""Shared test set-up: Keras 2 before TensorFlow loads, quiet TF logs, and the bundled sample."""
import dataclasses
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from pipeline import configs, runners  # noqa: E402


@pytest.fixture(scope="session")
def sample_data_dir() -> str:
    return str(configs.SAMPLE_DATA_DIR)


# The end-to-end run's settings: the demo's (the zero-shot floor reported, not enforced: on the sample the
# trained model ranks below the zero-shot encoder, and the serving tests need a pushed model; the enforced floor
# is run by test_pipeline_e2e.py's last test), but the LLM writes for half as many catalogue products (it is
# the slowest augmentation step, ~2 s a product on a busy core) to keep the suite inside CI's budget.
PIPELINE_TEST_OVERRIDES = {"augmentation": dataclasses.replace(configs.AUGMENTATION, max_products=15),
                           "zero_shot_floor": "report"}


def _run_test_pipeline(data_dir: str, output_dir: str) -> None:
    runners.run("local", data_dir, output_dir, runners.beam_args(workers=1), overrides=PIPELINE_TEST_OVERRIDES)


@pytest.fixture(scope="session")
def run_test_pipeline():
    """run(data_dir, output_dir): the end-to-end run (LocalDagRunner, one Beam worker, PIPELINE_TEST_OVERRIDES);
    the same call on the same folders hits the cache."""
    return _run_test_pipeline


@pytest.fixture(scope="session")
def pipeline_output_dir(tmp_path_factory, sample_data_dir) -> str:
    """One real LocalDagRunner run of the whole pipeline on the sample, shared by the tests that read
    its artifacts or its pushed model (about 6 minutes on 2 busy cores, ~3 of them fine-tuning the
    teacher and the student: pipeline/configs.py TRAIN_STEPS)."""
    output = str(tmp_path_factory.mktemp("pipeline_run"))
    _run_test_pipeline(sample_data_dir, output)
    return output
