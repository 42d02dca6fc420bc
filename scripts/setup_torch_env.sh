#!/usr/bin/env bash
# Idempotent set-up of .venv-torch: the PyTorch / sentence-transformers side used only to write the
# encoder parity fixture (scripts/make_encoder_parity_fixture.py). The project and its tests never need it.
# Re-runs are no-ops until requirements-torch.lock changes (tracked by a stamp file).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
VENV=".venv-torch"
STAMP="$VENV/.setup-stamp"
want="$(cat requirements-torch.lock | sha256sum | cut -d' ' -f1)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi

start=$(date +%s)
echo "[setup-torch] creating $VENV with $($PYTHON --version) and installing requirements-torch.lock"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
pip_install() {
  # This machine's pip config names local index folders that may be absent: drop those warnings only.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@" 2> >(grep -v "^WARNING: Location" >&2)
}
# Everything is pinned (torch is the +cpu build, found through pip's configured find-links): no resolver.
pip_install --no-deps -r requirements-torch.lock
"$VENV/bin/python" -c "import torch, sentence_transformers, transformers, tokenizers"
echo "$want" > "$STAMP"
echo "[setup-torch] done in $(( $(date +%s) - start )) s"
