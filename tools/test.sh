#!/usr/bin/env bash
# Set up odtc with its test extras in .venv (first run only) and run every test:
# lit/FileCheck (tests/filecheck) then pytest (tests/pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/lit ] || ! .venv/bin/python -c "import torch, odtc.dialects" 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e '.[test]'
fi
.venv/bin/lit -sv tests/filecheck
.venv/bin/pytest -q tests/pytest "$@"
