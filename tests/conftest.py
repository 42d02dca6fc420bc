"""Shared test set-up: Keras 2 before TensorFlow loads, quiet TF logs, and the bundled sample."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from pipeline import configs, run_config, runners  # noqa: E402


@pytest.fixture(scope="session")
def sample_data_dir() -> str:
    return str(configs.SAMPLE_DATA_DIR)


# The end-to-end run's settings come from a config file, as a user's would (why these: the file says).
PIPELINE_TEST_CONFIG = run_config.load(os.path.join(os.path.dirname(__file__), "fixtures", "e2e_run.yaml"))
PIPELINE_TEST_OVERRIDES = {**PIPELINE_TEST_CONFIG.overrides, "run_config": PIPELINE_TEST_CONFIG.record()}


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


# A test that needs one of these is slow (a whole pipeline run, or a real llama.cpp server): marked so, as the
# modules of whole runs, training and real servers mark themselves (pytestmark), for `make test-fast`.
SLOW_FIXTURES = {"pipeline_output_dir", "run_test_pipeline", "llama_server", "judge_server"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
