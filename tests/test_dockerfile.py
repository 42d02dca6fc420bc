"""kubeflow/Dockerfile stays consistent with the repository, the set-up script and the compiled spec (no Docker
engine here: these are the checks that can run without building)."""
import fnmatch
import importlib
import json
import re
import shlex

import pytest
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from kubeflow import config
from pipeline import configs

DOCKERFILE = configs.REPO_ROOT / "kubeflow" / "Dockerfile"


def _instructions():
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            yield keyword.upper(), rest.strip()


def _stages():
    """[(stage name or None, [(INSTRUCTION, arguments), ...]), ...] in file order."""
    stages = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            words = rest.split()
            stages.append((words[2] if len(words) == 3 and words[1].upper() == "AS" else None, []))
        stages[-1][1].append((keyword, rest))
    return stages


def _copy_sources():
    """Sources of COPY instructions that read the build context (not --from another stage or image)."""
    for keyword, rest in _instructions():
        words = shlex.split(rest)
        if keyword == "COPY" and not any(w.startswith("--from=") for w in words):
            yield from [w for w in words[:-1] if not w.startswith("--")]


def _dockerignore_patterns():
    path = configs.REPO_ROOT / ".dockerignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def test_every_copied_path_exists_and_is_not_ignored():
    sources = list(_copy_sources())
    assert "requirements.lock" in sources and "setup.py" in sources
    ignored = _dockerignore_patterns()
    for source in sources:
        assert (configs.REPO_ROOT / source).exists(), f"COPY {source}: no such path in the repository"
        assert not any(fnmatch.fnmatch(source.rstrip("/"), pattern) for pattern in ignored), \
            f"COPY {source} is excluded by .dockerignore"


def test_lock_is_installed_as_setup_env_does():
    setup = (configs.REPO_ROOT / "scripts" / "setup_env.sh").read_text(encoding="utf-8")
    runs = [rest for keyword, rest in _instructions() if keyword == "RUN"]
    for flags in ("--no-deps --ignore-requires-python -r", "--no-deps --no-build-isolation -e ."):
        assert flags in setup, f"scripts/setup_env.sh no longer installs with {flags!r}: update the Dockerfile"
        assert any(f"pip install {flags}" in run for run in runs), f"no `pip install {flags}` in the Dockerfile"


def test_base_image_workdir_and_environment_of_the_default_target():
    name, instructions = _stages()[-1]
    assert name is None or name not in ("build", "beam-worker")
    runtime = dict(_stages())["runtime"]
    assert ("FROM", "python:3.11-slim AS runtime") in runtime
    assert ("WORKDIR", config.APP_DIR) in runtime
    env = " ".join(rest for keyword, rest in runtime if keyword == "ENV")
    assert "TF_USE_LEGACY_KERAS=1" in env.split()


def test_entrypoint_is_the_command_the_compiled_spec_runs():
    entrypoints = [rest for keyword, rest in _stages()[-1][1] if keyword == "ENTRYPOINT"]
    assert entrypoints, "the default target has no ENTRYPOINT"
    assert tuple(json.loads(entrypoints[-1])) == kubeflow_v2_dag_runner.KUBEFLOW_TFX_CMD


@pytest.mark.parametrize("module", [
    kubeflow_v2_dag_runner.KUBEFLOW_TFX_CMD[2],
    "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver",  # ExampleGen's pre-cache-check hook
])
def test_entrypoint_modules_import_in_our_venv(module):
    importlib.import_module(module)
