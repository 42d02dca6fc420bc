"""pipeline/logs.py: a run's log keeps a start and an end line per component, with its time, and the components'
own lines; TFX's proto dumps and type-check noise go only with --verbose; warnings pass but two harmless ones of
TFX's, errors always."""
import logging

import pytest

from pipeline import logs


def _record(message, level=logging.INFO):
    return logging.LogRecord("absl", level, __file__, 1, message, None, None)


def test_tfx_dumps_are_dropped_and_component_lines_get_their_time():
    now = [100.0]
    run_filter = logs.RunLogFilter(clock=lambda: now[0])
    kept = []
    for message in ["Component Trainer is running.", "Running launcher for node_info {\n  type {\n  }\n}",
                    "Going to run a new execution 7", "Using Any for unsupported type: typing.Mapping",
                    "Feature query has a shape dim {\n  size: 1\n}\n. Setting to DenseTensor.",
                    "TeacherLabeling: 8192 candidates scored by this worker (150 pairs/s)",
                    "step 10/351  loss 0.61  lr 9e-05"]:
        record = _record(message)
        if run_filter.filter(record):
            kept.append(record.getMessage())
    now[0] = 161.25
    finished = _record("Component Trainer is finished.")
    assert run_filter.filter(finished)
    kept.append(finished.getMessage())
    assert kept == ["Trainer started", "TeacherLabeling: 8192 candidates scored by this worker (150 pairs/s)",
                    "step 10/351  loss 0.61  lr 9e-05", "Trainer finished in 61.2 s"]


def test_warnings_and_errors_always_pass():
    run_filter = logs.RunLogFilter()
    assert run_filter.filter(_record("Using Any for unsupported type: x", logging.WARNING))
    assert not run_filter.filter(_record("ArtifactQuery.property_predicate is not supported.", logging.WARNING))
    assert run_filter.filter(_record("ArtifactQuery.property_predicate is not supported.", logging.ERROR))
    assert not run_filter.filter(_record("[Trainer] Resolved inputs: ({'examples': [Artifact(\n...)]},)"))
    assert run_filter.filter(_record("Execution 6 failed.", logging.ERROR))
    assert not run_filter.filter(_record("Execution 6 succeeded."))


def test_configure_installs_the_filter_once_and_verbose_installs_none():
    root = logging.getLogger()
    handler = logging.StreamHandler()
    saved = root.handlers[:]
    root.handlers[:] = [handler]
    try:
        logs.configure(verbose=True)
        assert not handler.filters
        logs.configure()
        logs.configure()
        assert sum(isinstance(f, logs.RunLogFilter) for f in handler.filters) == 1
    finally:
        root.handlers[:] = saved


@pytest.mark.slow  # a real validation run of the sample (~30 s)
def test_a_real_run_logs_a_few_lines_a_person_can_read(tmp_path):
    import subprocess
    import sys

    def lines(*flags):
        result = subprocess.run([sys.executable, "-m", "pipeline", "validate", "--output", str(tmp_path / flags[0]),
                                 *flags[1:]], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        return (result.stdout + result.stderr).splitlines()

    quiet, verbose = lines("quiet"), lines("verbose", "--verbose")
    assert len(quiet) < 150 < len(verbose)  # 60 against 3,123 when measured
    for component in ("SearchLogExampleGen", "StatisticsGen", "ExampleValidator", "AnomaliesGate"):
        assert any(f"{component} started" in line for line in quiet)
        assert any(f"{component} finished in " in line for line in quiet)
    assert not any("Running launcher for node_info" in line for line in quiet)
    assert any("Running launcher for node_info" in line for line in verbose)
