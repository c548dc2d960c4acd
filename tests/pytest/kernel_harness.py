"""Helpers shared by the ctypes kernel tests (test_fqt_kernels*.py): deterministic random
streams, bit-exact comparison, guarded output buffers, 8-bit test data, and C literals for
the standalone C drivers (host, sanitizers, Cortex-M under QEMU)."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
from numpy.typing import NDArray

S8, U8 = 0, 1  # runtime/c storage codes (ODTC_S8, ODTC_U8)
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
    return {np.dtype(np.int8): S8, np.dtype(np.uint8): U8}[np.dtype(dtype)]


def qrange(dtype: Any) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def zero_point(rng: np.random.Generator, dtype: Any) -> int:
    return int(rng.integers(0, 256)) if dtype == np.uint8 else int(rng.integers(-128, 128))


def name(dtype: Any) -> str:
    return np.dtype(dtype).name


def c_array(cname: str, a: NDArray[Any]) -> str:
    ctype = {"int8": "int8_t", "uint8": "uint8_t", "int32": "int32_t", "float32": "uint32_t"}[a.dtype.name]
    flat = a.reshape(-1).view(np.uint32) if a.dtype == np.float32 else a.reshape(-1)
    vals = ", ".join(f"{int(v)}u" if ctype == "uint32_t" else str(int(v)) for v in flat)
    return f"static const {ctype} {cname}[{max(1, flat.size)}] = {{{vals}}};"

def cf(v: float) -> str:
    """The f32 value of v as an exact C literal (finite values only)."""
    return float(np.float32(v)).hex() + "f"
