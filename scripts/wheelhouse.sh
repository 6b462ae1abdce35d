#!/usr/bin/env bash
# Wheels the trainer needs beyond what a GPU box already has (torch, numpy, pyarrow, transformers,
# which brings PyYAML and safetensors): pydantic, for datamill.typed_config, and its dependencies
# (pydantic-core, annotated-types, typing-inspection, typing-extensions). Downloaded here, where
# PyPI is reachable, into wheelhouse/ (git-ignored by the .gitignore this writes in it), for the
# box's Python and platform:
#   bash scripts/wheelhouse.sh                   # CPython 3.11, manylinux x86_64
#   PYTHON_VERSION=3.12 bash scripts/wheelhouse.sh
# Copy wheelhouse/ to the box with the repository, then install from it, with no index:
#   pip install --no-index --find-links wheelhouse pydantic
#   PYTHONPATH=. torchrun --nproc_per_node 8 -m datamill.train configs/train-124m.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PYTHON_VERSION=${PYTHON_VERSION:-3.11}
PLATFORM=${PLATFORM:-manylinux2014_x86_64}
PYDANTIC=${PYDANTIC:-pydantic>=2.6}  # pyproject.toml's range

mkdir -p wheelhouse
echo '*' > wheelhouse/.gitignore
"$PY" -m pip download --only-binary=:all: --python-version "$PYTHON_VERSION" --platform "$PLATFORM" \
    --implementation cp \
    --dest wheelhouse "$PYDANTIC"
ls wheelhouse
