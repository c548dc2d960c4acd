#!/usr/bin/env bash
# The main job: set up odtc in .venv (first run only), compile the demo CNN and its training
# step to C for a Cortex-M4, run 20 training steps of the Cortex-M4 build under QEMU (when
# arm-none-eabi-gcc and qemu-system-arm are installed) to show the instructions per step,
# then train the host build for one epoch of the embedded MNIST subset; its weights end up
# in build/demo/trained.npz.
# Usage: bash tools/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.odtc-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e .
  touch "$stamp"
fi
.venv/bin/odtc compile examples/mnist_cnn.py:model --config examples/train.toml --target cortex-m4 -o build/demo
if command -v arm-none-eabi-gcc >/dev/null && command -v qemu-system-arm >/dev/null; then
  .venv/bin/odtc train build/demo --data mnist --limit 20 --emulate
else
  echo "(skipping the emulated Cortex-M4 run: install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"
fi
.venv/bin/odtc train build/demo --data mnist --epochs 1
