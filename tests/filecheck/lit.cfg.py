"""lit configuration for odtc's FileCheck tests: `lit -v tests/filecheck`.

Tools resolve from the bin/ directory of the Python that runs lit (the venv), so a test
never picks up an `odtc-opt` or `filecheck` installed elsewhere on the machine.
"""
# lit injects `config` into this file's globals.
# pyright: reportUndefinedVariable=false
# ruff: noqa: F821

import os
import shutil
import sys

import lit.formats

config.name = "odtc"
config.test_format = lit.formats.ShTest()
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))
config.excludes = ["lit.cfg.py", "Output", "Inputs", "README.md"]

config.environment["PATH"] = os.pathsep.join(
    [os.path.dirname(sys.executable), os.environ.get("PATH", "")]
)
if "HOME" in os.environ:
    config.environment["HOME"] = os.environ["HOME"]

# Optional toolchains, for `REQUIRES:` lines in tests that build or run on the target.
if shutil.which("arm-none-eabi-gcc"):
    config.available_features.add("arm-toolchain")
if shutil.which("qemu-system-arm"):
    config.available_features.add("qemu")
