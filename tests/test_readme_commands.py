"""Every `python -m MODULE` of the README answers `--help` (so it exists and parses its arguments), and every
`--flag` the README gives a `python -m pipeline` command is one that command takes. Docs that drift from the
code fail here."""
import re
import subprocess
import sys

import pytest

from pipeline import configs

README = (configs.REPO_ROOT / "README.md").read_text(encoding="utf-8")
# Modules of other projects the README mentions (an LLM server for the OpenAI-compatible backend).
NOT_OURS = {"llama_cpp.server"}
MODULES = sorted({m for m in re.findall(r"python -m ([A-Za-z_][\w.]*)", README) if m not in NOT_OURS})


def _help(*args):
    result = subprocess.run([sys.executable, "-m", *args, "--help"], cwd=configs.REPO_ROOT, capture_output=True,
                            text=True, timeout=300, env={"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
                                                         "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, f"python -m {' '.join(args)} --help: {result.stderr[-2000:]}"
    return result.stdout


def test_the_readme_names_our_entry_points():
    assert {"pipeline", "serving", "kubeflow", "benchmarks.pipeline_benchmark", "benchmarks.bm25"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_each_readme_module_answers_help(module):
    assert "usage:" in _help(module)


@pytest.mark.parametrize("command", ["run", "validate", "summary", "score"])
def test_each_readme_flag_of_a_pipeline_command_exists(command):
    # Every line (joined across backslash continuations) that runs `python -m pipeline COMMAND`.
    text = README.replace("\\\n", " ")
    flags = {flag for line in text.splitlines() if f"python -m pipeline {command}" in line
             for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line.split(f"python -m pipeline {command}", 1)[1])}
    accepted = _help("pipeline", command)
    missing = sorted(flag for flag in flags if flag not in accepted)
    assert not missing, f"the README gives `pipeline {command}` flags it does not take: {missing}"
