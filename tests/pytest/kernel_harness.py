"""Helpers shared by the ctypes kernel tests (test_fqt_kernels*.py): deterministic random
streams, bit-exact comparison, guarded output buffers, 8-bit test data, and C literals for
the standalone C drivers (host, sanitizers, Cortex-M under QEMU)."""

from __future__ import annotations

import os
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from odtc.runtime import emulator
from odtc.runtime import kernels as K

S8, U8, S16 = 0, 1, 2  # runtime/c storage codes (ODTC_S8, ODTC_U8, ODTC_S16)
ROUND = {"nearest": 0, "stochastic": 1}  # ODTC_ROUND_NEAREST / ODTC_ROUND_STOCHASTIC
SEEDS = (0, 1, 2, 3)
I16_MIN, I16_MAX = -32768, 32767
INT32_LIMIT = 2**31
GUARD = 16  # sentinel elements after every output buffer


def rng_for(*key: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def same(actual: Any, expected: Any) -> None:
    """Bit-identical: floats by their bit patterns (so -0.0 != +0.0), ints by value."""
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.shape == e.shape, f"shape {a.shape} != {e.shape}"
    if e.dtype.kind == "f":
        np.testing.assert_array_equal(a.astype(np.float32).view(np.uint32), e.astype(np.float32).view(np.uint32))
    else:
        np.testing.assert_array_equal(a.astype(np.int64), e.astype(np.int64))


class Out:
    """An output buffer filled with garbage plus a sentinel tail the kernel must not touch."""

    def __init__(self, shape: tuple[int, ...], dtype: Any) -> None:
        self.shape = shape
        self.n = int(np.prod(shape, dtype=np.int64))
        self.buf = np.full((self.n + GUARD) * np.dtype(dtype).itemsize, 0x5A, np.uint8).view(dtype)

    @property
    def ptr(self) -> NDArray[Any]:
        return self.buf

    def value(self) -> NDArray[Any]:
        tail = self.buf[self.n:].view(np.uint8)
        assert (tail == 0x5A).all(), "the kernel wrote past its output"
        return self.buf[: self.n].reshape(self.shape).copy()


def i32(v: int) -> NDArray[np.int32]:
    return np.array([v], dtype=np.int32)


def fl(v: float) -> NDArray[np.float32]:
    return np.array([v], dtype=np.float32)


def qdata(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> NDArray[Any]:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=shape).astype(dtype)


def storage_of(dtype: Any) -> int:
    """The storage code of an int8, uint8 or int16 array's dtype."""
    return {np.dtype(np.int8): S8, np.dtype(np.uint8): U8, np.dtype(np.int16): S16}[np.dtype(dtype)]


def e16(rng: np.random.Generator, shape: tuple[int, ...]) -> NDArray[np.int16]:
    """int16 errors over the full range, the extremes included."""
    e = qdata(rng, shape, np.int16)
    flat = e.reshape(-1)
    if flat.size >= 2:
        flat[0], flat[-1] = I16_MIN, I16_MAX
    return e


def qrange(dtype: Any) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def zero_point(rng: np.random.Generator, dtype: Any) -> int:
    return int(rng.integers(0, 256)) if dtype == np.uint8 else int(rng.integers(-128, 128))


def name(dtype: Any) -> str:
    return np.dtype(dtype).name


def c_array(cname: str, a: NDArray[Any]) -> str:
    ctype = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t",
             "float32": "uint32_t"}[a.dtype.name]
    flat = a.reshape(-1).view(np.uint32) if a.dtype == np.float32 else a.reshape(-1)
    vals = ", ".join(f"{int(v)}u" if ctype == "uint32_t" else str(int(v)) for v in flat)
    return f"static const {ctype} {cname}[{max(1, flat.size)}] = {{{vals}}};"

def cf(v: float) -> str:
    """The f32 value of v as an exact C literal (finite values only)."""
    return float(np.float32(v)).hex() + "f"


def selection(rng: np.random.Generator, o: int, k: int) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """A partial-update selection: k increasing row indices of o, then -1 (and k as int32[1])."""
    idx = np.full(o, -1, dtype=np.int32)
    idx[:k] = np.sort(rng.choice(o, size=k, replace=False))
    return idx, i32(k)


# ---------------------------------------------------------------------------------------
# Standalone C drivers: embedded inputs, kernel calls, each output printed as `name hex`
# ---------------------------------------------------------------------------------------


def driver_source(title: str, decls: str, buffers: str, calls: list[str]) -> str:
    """A standalone C driver: the arrays and buffers, report() printing a buffer's bytes in
    hex after its name, and main() running the calls."""
    body = "\n    ".join(calls)
    return f"""/* {title} */
#include <stdio.h>
#include <string.h>
#include "odtc_kernels.h"

{decls}
{buffers}

static void report(const char *name, const void *p, unsigned bytes)
{{
    const unsigned char *b = (const unsigned char *)p;
    printf("%s ", name);
    for (unsigned i = 0; i < bytes; ++i) printf("%02x", b[i]);
    printf("\\n");
}}

int main(void)
{{
    {body}
    return 0;
}}
"""


def check_driver_output(stdout: str, expected: dict[str, NDArray[Any]]) -> None:
    """What a driver printed (name, hex bytes per line) against the expected arrays, bit for bit."""
    got = dict(line.split(" ", 1) for line in stdout.strip().splitlines())
    assert set(got) == set(expected), sorted(set(expected) ^ set(got))
    for oname, want in expected.items():
        raw = np.frombuffer(bytes.fromhex(got[oname].strip()), dtype=want.dtype)
        try:
            same(raw.reshape(want.shape), want)
        except AssertionError as exc:
            raise AssertionError(f"driver output {oname}: {exc}") from None


class CDriver:
    """Collects a C driver's embedded arrays (add), its calls and the outputs fqt.py expects
    for them (report); source() gives the program, check() compares what it printed."""

    def __init__(self) -> None:
        self.arrays: dict[str, NDArray[Any]] = {}
        self.expected: dict[str, NDArray[Any]] = {}
        self.calls: list[str] = []

    def add(self, cname: str, a: Any) -> str:
        assert cname not in self.arrays, cname
        self.arrays[cname] = np.ascontiguousarray(a)
        return cname

    def report(self, oname: str, buf: str, value: Any, dtype: Any) -> str:
        """The C statement printing the bytes of buf, which must hold `value` as `dtype`."""
        assert oname not in self.expected, oname
        v = np.asarray(value).astype(dtype)
        self.expected[oname] = v
        return f'report("{oname}", {buf}, {v.size * v.itemsize}u);'

    def source(self, title: str, buffers: str) -> str:
        decls = "\n".join(c_array(k, v) for k, v in self.arrays.items())
        return driver_source(title, decls, buffers, self.calls)

    def check(self, stdout: str) -> None:
        check_driver_output(stdout, self.expected)


def run_driver_on_host(src: str, build_dir: Path, stem: str, sanitize: bool = False) -> str:
    """Build the driver with the kernel sources for the host (optionally under ASan/UBSan),
    run it, return what it printed (any sanitizer report fails)."""
    (build_dir / f"{stem}.c").write_text(src)
    exe = emulator.build_host_executable([build_dir / f"{stem}.c", *K.sources()], build_dir / stem,
                                         include_dirs=[K.INCLUDE_DIR], sanitize=sanitize)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(ASAN_OPTIONS="detect_leaks=0", UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0 and "runtime error" not in proc.stderr, proc.stderr[-4000:]
    return proc.stdout


def run_driver_on_cortex_m(src: str, target: str, build_dir: Path, stem: str) -> str:
    """Build the driver with the kernel sources for `target` (arm-none-eabi-gcc, newlib), run
    it under QEMU, return what it printed."""
    (build_dir / f"{stem}.c").write_text(src)
    elf = emulator.build_elf([build_dir / f"{stem}.c", *K.sources()], target, build_dir / f"{stem}.elf",
                             include_dirs=[K.INCLUDE_DIR])
    run = emulator.run_elf(elf, target)
    assert run.exit_code == 0, run.stdout + run.stderr
    return run.stdout


def driver_tests(make: Callable[[], CDriver], title: str, buffers: str, stem: str) -> tuple[Any, Any, Any]:
    """The three C-driver tests of a kernel test file, for `make()`'s driver (its source is
    `make().source(title, buffers)`): on the host, on the host under ASan/UBSan (skipped
    inside the sanitized rerun, which covers it), and on the emulated Cortex-M4/M7/M55.
    Assign them to module-level `test_*` names."""

    def source(d: CDriver) -> str:
        return d.source(title, buffers)

    def test_driver_on_host(build_dir: Path) -> None:
        d = make()
        d.check(run_driver_on_host(source(d), build_dir, stem))

    @pytest.mark.skipif(os.environ.get("ODTC_KERNELS_SANITIZE") == "1",
                        reason="already covered by test_sanitized_build's parent run")
    def test_driver_on_host_sanitized(build_dir: Path) -> None:
        d = make()
        d.check(run_driver_on_host(source(d), build_dir, f"{stem}_san", sanitize=True))

    @pytest.mark.arm
    @pytest.mark.parametrize("target", ["cortex-m4", "cortex-m7", "cortex-m55"])
    def test_driver_on_cortex_m(target: str, tmp_path: Path) -> None:
        if not emulator.toolchain_available():
            pytest.skip("needs arm-none-eabi-gcc (newlib) and qemu-system-arm")
        d = make()
        d.check(run_driver_on_cortex_m(source(d), target, tmp_path, stem))

    return test_driver_on_host, test_driver_on_host_sanitized, test_driver_on_cortex_m
