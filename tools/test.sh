#!/usr/bin/env bash
# Set up odtc with its test extras in .venv (again whenever pyproject.toml changed) and run
# every test: lit/FileCheck (tests/filecheck) then pytest (tests/pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.odtc-test-extras
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e '.[test]'
  touch "$stamp"
fi
.venv/bin/lit -sv tests/filecheck
.venv/bin/pytest -q tests/pytest "$@"
