#!/usr/bin/env bash
# Idempotent set-up of .venv-torch: the PyTorch / sentence-transformers side used only to write the
# encoder parity fixture (scripts/make_encoder_parity_fixture.py). The project and its tests never need it.
# Re-runs are no-ops until requirements-torch.lock changes (tracked by a stamp file).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv_lib.sh

PYTHON="${PYTHON:-python3.11}"
VENV=".venv-torch"
want="$(lock_stamp requirements-torch.lock)"

if venv_is_current "$VENV" "$want"; then
  exit 0
fi

start=$(date +%s)
echo "[setup-torch] creating $VENV with $($PYTHON --version) and installing requirements-torch.lock"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
# Everything is pinned (torch is the +cpu build, found through pip's configured find-links): no resolver.
pip_install "$VENV" --no-deps -r requirements-torch.lock
"$VENV/bin/python" -c "import torch, sentence_transformers, transformers, tokenizers"
echo "$want" > "$VENV/.setup-stamp"
echo "[setup-torch] done in $(( $(date +%s) - start )) s"
