#!/usr/bin/env bash
# Idempotent set-up: a Python 3.11 venv in .venv with the full lock and the project installed, and the
# pretrained encoders (all-MiniLM-L6-v2, multilingual-e5-small, all-mpnet-base-v2) converted to SavedModels
# in .cache/encoders/ (models/encoder). Re-runs are no-ops until requirements.lock or setup.py changes (tracked
# by a stamp file), or an encoder's export is missing or stale (its own stamp, checked by
# `python -m models.encoder export`).
# First exports: about 10 s (94 MB), 45 s (490 MB) and 35 s (444 MB, after unpacking 440 MB) on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv_lib.sh

PYTHON="${PYTHON:-python3.11}"
VENV=".venv"
# llama-cpp-python compiles llama.cpp at install. A native build uses every instruction set the CPU lists, and
# on a VM that lists AMX, ggml's AMX path crashed in decode (SIGSEGV in QueryGeneration): build for any x86-64
# with AVX2 instead (the same flags as kubeflow/Dockerfile). Without pip's wheel cache, so that a native wheel
# cached by an earlier set-up on this machine is never reused.
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF"
LLAMA_PIN="$(grep '^llama-cpp-python==' requirements.lock)"
want="$(lock_stamp requirements.lock setup.py)-$(echo "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)"

export_encoders() {
  # One process for all (TensorFlow loads once). SentencePiece logs its identity normaliser at load: noise.
  TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2 "$VENV/bin/python" -W ignore -m models.encoder export \
    --encoder all-MiniLM-L6-v2 --encoder multilingual-e5-small --encoder all-mpnet-base-v2 \
    2> >(grep -v -e "^WARNING" -e "^I0000" -e "cpu_feature_guard" -e "rebuild TensorFlow" -e "Unable to register" \
                 -e "precompiled_charsmap is empty" >&2)
}

if venv_is_current "$VENV" "$want"; then
  export_encoders >/dev/null
  exit 0
fi

start=$(date +%s)
echo "[setup] creating $VENV with $($PYTHON --version) and installing requirements.lock"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
# Every package is pinned, so no resolver runs: --no-deps. tfx and ml-pipelines-sdk declare
# Requires-Python <3.11 although they run on 3.11 (see ../shared/notes/stack.md).
pip_install "$VENV" --no-deps --ignore-requires-python -r <(grep -v '^llama-cpp-python==' requirements.lock)
CMAKE_ARGS="$LLAMA_CMAKE_ARGS" pip_install "$VENV" --no-deps --no-cache-dir "$LLAMA_PIN"
pip_install "$VENV" --no-deps --no-build-isolation -e .
echo "$want" > "$VENV/.setup-stamp"
echo "[setup] encoders:"
export_encoders | sed 's/^/[setup]   /'
echo "[setup] done in $(( $(date +%s) - start )) s"
