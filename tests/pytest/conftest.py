"""Shared fixtures of the pytest suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from odtc.runtime import kernels as _kernels

KERNELS_SANITIZED = os.environ.get("ODTC_KERNELS_SANITIZE") == "1"
"""Set in the subprocess of `rerun_under_sanitizers`: the kernel libraries are built with ASan/UBSan."""


# The runtime library the ctypes kernel tests (test_fqt_kernels*.py) load: built once per
# session, portable and with the DSP algorithms on C models of the instructions.


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("odtc_fqt_kernels")


@pytest.fixture(scope="session")
def portable(build_dir: Path) -> _kernels.Kernels:
    return _kernels.load(_kernels.build_shared(build_dir / "libodtc_fqt.so", sanitize=KERNELS_SANITIZED))


@pytest.fixture(scope="session")
def dsp(build_dir: Path) -> _kernels.Kernels:
    return _kernels.load(_kernels.build_shared(build_dir / "libodtc_fqt_dsp.so", sanitize=KERNELS_SANITIZED,
                                               defines=["ODTC_EMULATE_DSP"]))


@pytest.fixture(params=["portable", "dsp"])
def lib(request: pytest.FixtureRequest) -> _kernels.Kernels:
    return request.getfixturevalue(request.param)


def rerun_under_sanitizers(test_file: str, select: str) -> None:
    """Run the tests of `test_file` matching `-k select` again against an ASan/UBSan build of
    the kernels (ODTC_KERNELS_SANITIZE=1; in a subprocess because ctypes needs the ASan
    runtime preloaded). Any sanitizer report, or no test run at all, fails the caller."""
    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not libasan or not Path(libasan).is_file():
        pytest.fail("gcc has no libasan.so: the ASan/UBSan run is required (install gcc's libasan)")
    env = dict(os.environ)
    env.update(ODTC_KERNELS_SANITIZE="1", LD_PRELOAD=libasan,
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:exitcode=97",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=98")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", test_file, "-m", "not arm",
         "-k", select],
        env=env, capture_output=True, text=True, timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert " passed" in out and "runtime error" not in out and "AddressSanitizer" not in out, out[-6000:]


def write_random_npz(path: Path, sample_shape: tuple[int, ...], n_train: int = 20, n_test: int = 5,
                     seed: int = 0) -> Path:
    """A small dataset in the .npz layout `odtc train --data x.npz` reads: float32 images in
    [0, 1) of `sample_shape`, int32 labels in 0..9."""
    rng = np.random.default_rng(seed)
    np.savez(
        path,
        x_train=rng.random((n_train, *sample_shape), dtype=np.float32),
        y_train=rng.integers(0, 10, n_train).astype(np.int32),
        x_test=rng.random((n_test, *sample_shape), dtype=np.float32),
        y_test=rng.integers(0, 10, n_test).astype(np.int32),
    )
    return path


@pytest.fixture(scope="session")
def random_npz(tmp_path_factory: pytest.TempPathFactory):
    """`random_npz((16, 16))` -> path of a cached 20-sample random dataset of that shape."""
    root = tmp_path_factory.mktemp("datasets")
    cache: dict[tuple[int, ...], Path] = {}

    def get(sample_shape: tuple[int, ...]) -> Path:
        key = tuple(sample_shape)
        if key not in cache:
            cache[key] = write_random_npz(root / f"rand_{'x'.join(map(str, key))}.npz", key)
        return cache[key]

    return get
