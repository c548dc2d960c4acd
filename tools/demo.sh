#!/usr/bin/env bash
# Set up odtc in .venv (first run only), compile the demo CNN and train it on the embedded
# MNIST subset. Usage: bash tools/demo.sh [extra args for odtc train]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/odtc ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e .
fi
.venv/bin/odtc compile examples/mnist_cnn.py:model --config examples/train.toml -o build/demo
.venv/bin/odtc train build/demo --data mnist --epochs 1 "$@"
