"""The MobileNetV2 FQT kernels of runtime/c/src/fqt.c against runtime/fqt.py, BIT FOR BIT:
relu6 on an accumulator (odtc_relu6_bound, odtc_acc_relu6) and its backward
(odtc_qrelu6_grad), the residual add without an f32 tensor (odtc_qadd_range, odtc_qadd),
and the global average pool (odtc_scale_div, odtc_qavgpool_acc, odtc_qbroadcast_hw).
(The grouped / depthwise streamed accumulators are tested in test_fqt_kernels.py.)

* kernel tests call the host-built library through ctypes (the portable build: none of
  these kernels has a DSP path) on random inputs over several seeds, both 8-bit storages
  and the edge cases: relu6 bounds of huge / tiny / zero / negative / NaN scales and of
  quotients at an integer, values exactly at the 6 boundary, rounding ties, saturation at
  qmin / qmax, NaN and inf sums, block boundaries of odtc_qadd, in-place calls; floats are
  compared by their bit patterns, a NaN range by NaN-ness;
* the file runs again against an ASan/UBSan build (test_sanitized_build);
* a C driver runs the kernels (and a depthwise / grouped streamed accumulator) on the host
  and, under QEMU (marker `arm`), on Cortex-M4/M7/M55 (newlib's rintf/floorf, the FPU, the
  DSP dot products) and must print the bits fqt.py computes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from conftest import KERNELS_SANITIZED, rerun_under_sanitizers
from kernel_harness import c_array, cf, fl, i32, name, Out, qdata, qrange, rng_for, same, storage_of, zero_point
from odtc.runtime import emulator
from odtc.runtime import fqt
from odtc.runtime import kernels as K

# The edge cases make numpy warn (x / 0, inf * 0, overflow): expected, not a problem.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SANITIZED = KERNELS_SANITIZED
S8, U8 = 0, 1
SEEDS = (0, 1, 2, 3)
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
DTYPES = [np.int8, np.uint8]


# ---------------------------------------------------------------------------------------
# Fixtures and helpers (as test_fqt_kernels.py)
# ---------------------------------------------------------------------------------------


def same_range(actual: Any, expected: Any) -> None:
    """A range: bit for bit, except that a NaN range (NaN payloads differ) is [NaN, NaN] in both."""
    e = np.asarray(expected, np.float32)
    if np.isnan(e).any():
        assert np.isnan(e).all() and np.isnan(np.asarray(actual, np.float32)).all(), (actual, expected)
        return
    same(actual, e)


# ---------------------------------------------------------------------------------------
# relu6 on an accumulator
# ---------------------------------------------------------------------------------------


def relu6_scales(rng: np.random.Generator) -> NDArray[np.float32]:
    """Scales whose 6 / s is exactly (or one ulp either side of) an integer, up to and past
    2^31, special values (0, -0, subnormal, huge, inf, NaN, negative) and random ones."""
    k = np.array([1, 2, 3, 5, 6, 7, 12, 16, 127, 255, 1000, 2**20, 2**24, 2**24 + 2, 2**30, 2**31 - 128,
                  2**31, 2**31 + 256, 2**32], np.float64).astype(np.float32)
    exact = (np.float32(6.0) / k).astype(np.float32)
    up = np.nextafter(exact, np.float32(np.inf)).astype(np.float32)
    down = np.nextafter(exact, np.float32(0.0)).astype(np.float32)
    special = np.array([0.0, -0.0, 1.0, -1.0, 6.0, 7.0, 12.0, -6.0, -1e-3, 1e-45, 1e-40, 1.17549435e-38,
                        3.4028235e38, np.inf, -np.inf, np.nan, 0.1, 0.01, 2.5e-9, 3e-9], np.float32)
    rand = (10.0 ** rng.uniform(-10.0, 1.5, 60)).astype(np.float32)
    return np.concatenate([exact, up, down, special, rand])


def test_relu6_bound(portable: K.Kernels) -> None:
    scales = relu6_scales(rng_for("relu6_bound"))
    got = [int(portable.odtc_relu6_bound(fl(s))) for s in scales]
    want = [fqt.relu6_bound(s) for s in scales]
    assert got == want, [(float(s), g, w) for s, g, w in zip(scales, got, want) if g != w]
    # the intent: 6 / s on the accumulator grid, the whole int32 range for tiny scales
    assert fqt.relu6_bound(np.float32(0.5)) == 12 and fqt.relu6_bound(np.float32(1e-12)) == INT32_MAX
    assert fqt.relu6_bound(np.float32(0.0)) == INT32_MAX and fqt.relu6_bound(np.float32(-0.5)) == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_acc_relu6(portable: K.Kernels, seed: int) -> None:
    """clamp(acc, 0, bound) out of place and in place, values at bound - 1, bound, bound + 1."""
    rng = rng_for("acc_relu6", seed)
    scales = relu6_scales(rng)
    for s in scales[seed::4]:
        b = fqt.relu6_bound(s)
        span = min(2 * b + 10, INT32_MAX)
        acc = rng.integers(-span, span, size=257, endpoint=True).astype(np.int64)
        edges = [b - 1, b, b + 1, 0, -1, 1, INT32_MIN, INT32_MAX, INT32_MAX - 1]
        acc[: len(edges)] = edges
        acc = np.clip(acc, INT32_MIN, INT32_MAX).astype(np.int32)
        want = fqt.relu6_acc(acc, s)
        y = Out(acc.shape, np.int32)
        portable.odtc_acc_relu6(acc, fl(s), y.ptr, acc.size)
        same(y.value(), want)
        inplace = acc.copy()
        portable.odtc_acc_relu6(inplace, fl(s), inplace, acc.size)
        same(inplace, want)
    portable.odtc_acc_relu6(None, fl(1.0), None, 0)  # empty: touches nothing


# ---------------------------------------------------------------------------------------
# relu6 backward
# ---------------------------------------------------------------------------------------


def relu6_grad_scales(rng: np.random.Generator) -> list[np.float32]:
    """y scales: typical relu6 outputs (6 / 255, 6 / 127 and around), 6 / sy at a rounding
    tie (sy = 4: 1.5, sy = 12: 0.5, sy = 0.8, 2.4, 12 / 255), coarse grids (6 within a
    few steps), grids narrower than 6 (the clamp lands outside the storage), 0, -0,
    negative, huge, tiny, inf, NaN."""
    ties = [np.float32(12.0) / np.float32(2 * k + 1) for k in (0, 1, 2, 7, 127)]
    fixed = [6 / 255, 6 / 127, 6 / 256, 6 / 128, 6 / 254, 0.02, 0.05, 4.0, 0.8, 2.4, 1.0, 3.0, 6.0, 7.0, 0.001,
             1e-6, 0.0, -0.0, -0.05, 3.4e38, 1e-45, np.inf, -np.inf, np.nan]
    return [np.float32(v) for v in [*ties, *fixed, *(10.0 ** rng.uniform(-3, 0.5, 8))]]


@pytest.mark.parametrize("edtype", DTYPES)
@pytest.mark.parametrize("ydtype", DTYPES)
def test_qrelu6_grad(portable: K.Kernels, edtype: Any, ydtype: Any) -> None:
    rng = rng_for("qrelu6_grad", name(edtype), name(ydtype))
    ylo, yhi = qrange(ydtype)
    for sy in relu6_grad_scales(rng):
        shape = (2, 3, 5, 7)
        e, y = qdata(rng, shape, edtype), qdata(rng, shape, ydtype)
        ze, zy = zero_point(rng, edtype), zero_point(rng, ydtype)
        with np.errstate(all="ignore"):
            t = np.rint(np.float32(6.0) / sy)
        flat = y.reshape(-1)
        marks = [zy, zy + 1, zy - 1]
        if np.isfinite(t):
            marks += [zy + int(t), zy + int(t) - 1, zy + int(t) + 1]  # 6 exactly, just inside, beyond
        for i, v in enumerate(m for m in marks if ylo <= m <= yhi):
            flat[3 * i: 3 * i + 3] = v
        want = fqt.qrelu6_grad(e, ze, y, zy, sy).astype(edtype)
        out = Out(shape, edtype)
        portable.odtc_qrelu6_grad(e, storage_of(edtype), i32(ze), y, storage_of(ydtype), i32(zy), fl(sy), out.ptr,
                                  e.size)
        same(out.value(), want)
        inplace = e.copy()
        portable.odtc_qrelu6_grad(inplace, storage_of(edtype), i32(ze), y, storage_of(ydtype), i32(zy), fl(sy),
                                  inplace, e.size)
        same(inplace, want)


def test_qrelu6_grad_boundary_semantics(portable: K.Kernels) -> None:
    """The documented cut, on a u8 relu6 output with zy = 0, sy = 6 / 255: y = 0 and y = 255
    (relu6's 0 and 6) pass ze, 1..254 pass e; with sy = 4 (6 / 4 = 1.5 rounds to 2) only
    y = 1 passes."""
    y = np.arange(256, dtype=np.uint8)
    e = np.full(256, 9, np.int8)
    for sy, keep in ((np.float32(6.0) / np.float32(255.0), (y > 0) & (y < 255)), (np.float32(4.0), y == 1)):
        want = np.where(keep, np.int8(9), np.int8(-3)).astype(np.int8)
        same(fqt.qrelu6_grad(e, -3, y, 0, sy).astype(np.int8), want)
        out = Out((256,), np.int8)
        portable.odtc_qrelu6_grad(e, S8, i32(-3), y, U8, i32(0), fl(sy), out.ptr, 256)
        same(out.value(), want)


# ---------------------------------------------------------------------------------------
# residual add
# ---------------------------------------------------------------------------------------


def c_qadd_range(lib: K.Kernels, a: NDArray[Any], sa: float, za: int, b: NDArray[Any], sb: float,
                 zb: int) -> NDArray[np.float32]:
    r = Out((2,), np.float32)
    lib.odtc_qadd_range(a, storage_of(a.dtype), fl(sa), i32(za), b, storage_of(b.dtype), fl(sb), i32(zb), r.ptr,
                        a.size)
    return r.value()


def c_qadd(lib: K.Kernels, a: NDArray[Any], sa: float, za: int, b: NDArray[Any], sb: float, zb: int,
           sy: float, zy: int, ydtype: Any) -> NDArray[Any]:
    y = Out(a.shape, ydtype)
    lib.odtc_qadd(a, storage_of(a.dtype), fl(sa), i32(za), b, storage_of(b.dtype), fl(sb), i32(zb), y.ptr,
                  storage_of(ydtype), fl(sy), i32(zy), a.size)
    return y.value()


def check_qadd(lib: K.Kernels, a: NDArray[Any], sa: Any, za: int, b: NDArray[Any], sb: Any, zb: int, sy: Any,
               zy: int, ydtype: Any) -> NDArray[Any]:
    """odtc_qadd (out of place, and in place into a and into b, whatever their 8-bit
    storages) and odtc_qadd_range against fqt, bit for bit; returns the expected output."""
    qmin, qmax = qrange(ydtype)
    want = fqt.qadd(a, sa, za, b, sb, zb, sy, zy, qmin, qmax).astype(ydtype)
    same(c_qadd(lib, a, sa, za, b, sb, zb, sy, zy, ydtype), want)
    ia = a.copy()
    lib.odtc_qadd(ia, storage_of(a.dtype), fl(sa), i32(za), b, storage_of(b.dtype), fl(sb), i32(zb), ia,
                  storage_of(ydtype), fl(sy), i32(zy), a.size)
    same(ia.view(ydtype), want)
    ib = b.copy()
    lib.odtc_qadd(a, storage_of(a.dtype), fl(sa), i32(za), ib, storage_of(b.dtype), fl(sb), i32(zb), ib,
                  storage_of(ydtype), fl(sy), i32(zy), a.size)
    same(ib.view(ydtype), want)
    if a.size:
        same_range(c_qadd_range(lib, a, sa, za, b, sb, zb), fqt.qadd_range(a, sa, za, b, sb, zb))
    return want


@pytest.mark.parametrize("adtype", DTYPES)
@pytest.mark.parametrize("bdtype", DTYPES)
@pytest.mark.parametrize("ydtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_qadd_random(portable: K.Kernels, adtype: Any, bdtype: Any, ydtype: Any, seed: int) -> None:
    """Random tensors whose output grid is derived from the sum's own range (as the step
    does), halved (saturating about half) or doubled; sizes across the 32-element blocks."""
    rng = rng_for("qadd", name(adtype), name(bdtype), name(ydtype), seed)
    numel = (800, 33, 1001, 32)[seed]
    a, b = qdata(rng, (numel,), adtype), qdata(rng, (numel,), bdtype)
    za, zb = zero_point(rng, adtype), zero_point(rng, bdtype)
    sa, sb = np.float32(10.0 ** rng.uniform(-3, 0)), np.float32(10.0 ** rng.uniform(-3, 0))
    qmin, qmax = qrange(ydtype)
    s, z = fqt.qparams(fqt.qadd_range(a, sa, za, b, sb, zb), qmin, qmax, False)
    for mult in (1.0, 0.5, 2.0):
        check_qadd(portable, a, sa, za, b, sb, zb, np.float32(s * np.float32(mult)), int(z), ydtype)


def test_qadd_ties_and_saturation(portable: K.Kernels) -> None:
    """Power-of-two scales make the sums exact quarters, so r / sy hits x.5 (ties to even,
    both signs) and every integer; a tiny sy saturates everything but the zeros at qmin /
    qmax; asserts that the cases really occur."""
    a = np.arange(-128, 128, dtype=np.int8)
    b = np.roll(a, 37).astype(np.int8)
    for ydtype, zy in ((np.int8, 0), (np.int8, -7), (np.uint8, 128), (np.uint8, 3)):
        qmin, qmax = qrange(ydtype)
        real = fqt.qadd_real(a, 0.5, 0, b, 0.25, 1)
        assert (np.abs(real - np.floor(real)) == 0.5).sum() > 50  # ties
        check_qadd(portable, a, np.float32(0.5), 0, b, np.float32(0.25), 1, np.float32(1.0), zy, ydtype)
        check_qadd(portable, a, np.float32(0.5), 0, b, np.float32(0.25), 1, np.float32(2.0), zy, ydtype)
        want = check_qadd(portable, a, np.float32(0.5), 0, b, np.float32(0.25), 1, np.float32(1e-6), zy, ydtype)
        assert (want == qmin).any() and (want == qmax).any()
        assert set(np.unique(want)) <= {qmin, qmax, zy}


def test_qadd_special_values(portable: K.Kernels) -> None:
    """NaN sums (inf * 0, inf - inf, a NaN scale) quantize to the zero-point and make the
    range NaN; overflowing sums (huge scales) saturate; sy = 0 (x / 0 = +-inf, 0 / 0 = NaN),
    sy = inf (everything 0) and negative scales (-0.0 terms); zero-points at the storage
    ends and beyond."""
    rng = rng_for("qadd special")
    a8 = qdata(rng, (67,), np.int8)
    a8[:5] = [0, 0, 5, -5, 127]
    b8 = qdata(rng, (67,), np.uint8)
    b8[:5] = [10, 11, 10, 10, 0]
    cases = [
        (np.inf, 0, 1.0, 10),  # inf * 0 = NaN where a == 0
        (np.inf, 0, -np.inf, 10),  # inf - inf
        (np.nan, 3, 0.5, 0),
        (3.0e38, -128, 3.0e38, 0),  # +inf sums
        (-3.0e38, -128, 3.0e38, 255),  # -inf + finite, and inf - inf
        (-0.5, 0, -0.25, 10),  # negative scales: -0.0 terms where a == za
        (0.01, 127, 0.02, 0),
        (0.01, -128, 0.02, 255),
        (0.01, 200, 0.02, -300),  # zero-points outside the storage
    ]
    for sa, za, sb, zb in cases:
        for sy, zy in ((0.05, 0), (0.0, 4), (-0.0, 4), (np.inf, -9), (1e-30, 1), (-0.1, 2)):
            for ydtype in DTYPES:
                zyy = zy + 128 if ydtype == np.uint8 else zy
                check_qadd(portable, a8, np.float32(sa), za, b8, np.float32(sb), zb, np.float32(sy), zyy, ydtype)
    # numel 0: the empty range, no output
    r = Out((2,), np.float32)
    portable.odtc_qadd_range(a8, S8, fl(1.0), i32(0), b8, U8, fl(1.0), i32(0), r.ptr, 0)
    same(r.value(), np.array([1.0, -1.0], np.float32))
    y = Out((0,), np.int8)
    portable.odtc_qadd(a8, S8, fl(1.0), i32(0), b8, U8, fl(1.0), i32(0), y.ptr, S8, fl(1.0), i32(0), 0)
    y.value()


def test_qadd_range_is_minmax_of_the_sum(portable: K.Kernels) -> None:
    """odtc_qadd_range folds the sum exactly as odtc_minmax_f32 folds the stored sum."""
    rng = rng_for("qadd range fold")
    for numel in (1, 2, 3, 64, 999):
        a, b = qdata(rng, (numel,), np.uint8), qdata(rng, (numel,), np.int8)
        sa, sb = np.float32(rng.uniform(1e-3, 1)), np.float32(rng.uniform(1e-3, 1))
        real = fqt.qadd_real(a, sa, 100, b, sb, -3)
        via = Out((2,), np.float32)
        portable.odtc_minmax_f32(np.ascontiguousarray(real, np.float32), via.ptr, numel)
        same(c_qadd_range(portable, a, sa, 100, b, sb, -3), via.value())


# ---------------------------------------------------------------------------------------
# global average pool
# ---------------------------------------------------------------------------------------


def test_scale_div(portable: K.Kernels) -> None:
    rng = rng_for("scale_div")
    special = [0.0, -0.0, 1.0, -1.0, 3.4e38, -3.4e38, 1e-38, 1e-45, np.inf, -np.inf, np.nan, 0.1, 2.5]
    values = np.concatenate([np.array(special, np.float32),
                             (rng.standard_normal(30) * 10.0 ** rng.integers(-6, 6, 30)).astype(np.float32)])
    divisors = [1, 2, 3, 7, 49, 196, 3136, 0, -1, -49, 2**24 + 1, 2**25 + 3, INT32_MAX, INT32_MIN]
    for s in values:
        for d in divisors:
            same(portable.odtc_scale_div(fl(s), d), fqt.scale_div(s, d))


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 4, 4), (1, 32, 7, 7), (3, 5, 1, 9), (1, 4, 56, 56),
                                   (2, 1280, 1, 3)])
@pytest.mark.parametrize("xdtype", DTYPES)
def test_qavgpool_acc(portable: K.Kernels, shape: tuple[int, int, int, int], xdtype: Any) -> None:
    rng = rng_for("qavgpool_acc", shape, name(xdtype))
    n, c, h, w = shape
    x = qdata(rng, shape, xdtype)
    lo, hi = qrange(xdtype)
    for zx in (zero_point(rng, xdtype), lo, hi, -40000, 2**17):
        want = fqt.qavgpool_acc(x, zx)
        acc = Out((n, c), np.int32)
        portable.odtc_qavgpool_acc(x, storage_of(xdtype), i32(zx), acc.ptr, n, c, h * w)
        same(acc.value().reshape(n, c, 1, 1), want)


def test_qavgpool_acc_extremes(portable: K.Kernels) -> None:
    """Sums at the int32 limits: the wrapping 32-bit arithmetic is exact whenever the result fits."""
    spatial = 3
    x = np.array([[[-128, -128, -128], [127, 127, 127]]], np.int8)
    for zx in (INT32_MAX // 3 - 200, -(INT32_MAX // 3) + 200):
        want = fqt.qavgpool_acc(x.reshape(1, 2, 1, spatial), zx)
        acc = Out((1, 2), np.int32)
        portable.odtc_qavgpool_acc(x, S8, i32(zx), acc.ptr, 1, 2, spatial)
        same(acc.value().reshape(1, 2, 1, 1), want)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 4, 4), (1, 16, 7, 7), (3, 5, 1, 9), (1, 7, 1, 1)])
@pytest.mark.parametrize("edtype", DTYPES)
def test_qbroadcast_hw(portable: K.Kernels, shape: tuple[int, int, int, int], edtype: Any) -> None:
    """Byte copy of e [n, c] over each plane, out of place and in place (dx == e)."""
    rng = rng_for("qbroadcast_hw", shape, name(edtype))
    n, c, h, w = shape
    e = qdata(rng, (n, c, 1, 1), edtype)
    want = fqt.qbroadcast_hw(e, h, w).astype(edtype)
    dx = Out((n, c, h, w), edtype)
    portable.odtc_qbroadcast_hw(e, dx.ptr, n, c, h * w)
    same(dx.value(), want)
    inplace = Out((n, c, h, w), edtype)
    inplace.buf[: e.size] = e.reshape(-1)
    portable.odtc_qbroadcast_hw(inplace.ptr, inplace.ptr, n, c, h * w)
    same(inplace.value(), want)


# ---------------------------------------------------------------------------------------
# Sanitizers, and a driver on the host and on Cortex-M
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(SANITIZED, reason="already running under the sanitizers")
def test_sanitized_build() -> None:
    """This file's kernel tests again against an ASan/UBSan build (in a subprocess)."""
    rerun_under_sanitizers(__file__, "not sanitized and not driver")


def _driver_cases() -> tuple[str, dict[str, NDArray[Any]]]:
    """A C driver running the MobileNetV2 kernels on embedded inputs and printing each
    output's bytes as `name hex`, and what fqt.py computes for the same inputs."""
    rng = rng_for("mbv2 driver")
    arrays: dict[str, NDArray[Any]] = {}
    expected: dict[str, NDArray[Any]] = {}
    calls: list[str] = []

    def add(cname: str, a: NDArray[Any]) -> str:
        arrays[cname] = np.ascontiguousarray(a)
        return cname

    def out(oname: str, buf: str, value: Any, dtype: Any) -> str:
        v = np.asarray(value).astype(dtype)
        expected[oname] = v
        return f'report("{oname}", {buf}, {v.size * v.itemsize}u);'

    # relu6 bounds and scale_div of special and random scales (floorf, the FPU's division)
    sc = relu6_scales(rng)
    add("sc", sc)
    calls.append(f"for (unsigned i = 0; i < {sc.size}u; ++i) {{ ibuf[i] = odtc_relu6_bound((const float *)sc + i); }} "
                 + out("relu6_bound", "ibuf", np.array([fqt.relu6_bound(s) for s in sc]), np.int32))
    divs = [1, 3, 49, 2**24 + 1, -7]
    sd = np.array([[fqt.scale_div(s, d) for d in divs] for s in sc], np.float32)
    calls.append(f"for (unsigned i = 0; i < {sc.size}u; ++i) {{ static const int32_t d[5] = {{{', '.join(map(str, divs))}}}; "
                 "for (unsigned j = 0; j < 5u; ++j) fbuf[5 * i + j] = odtc_scale_div((const float *)sc + i, d[j]); } "
                 + out("scale_div", "fbuf", sd, np.float32))
    # acc_relu6 in place
    acc = rng.integers(-3000, 3000, 200).astype(np.int32)
    acc[:3] = [255, 256, 254]
    add("acc", acc)
    s6 = np.float32(6.0) / np.float32(255.0)
    calls.append(f"{{ float s = {cf(s6)}; memcpy(ibuf, acc, sizeof acc); odtc_acc_relu6(ibuf, &s, ibuf, 200u); "
                 + out("acc_relu6", "ibuf", fqt.relu6_acc(acc, s6), np.int32) + " }")
    # relu6 backward, u8 output with 6 at zy + 255 and a tie grid (sy = 4)
    add("e8", qdata(rng, (300,), np.int8))
    add("yu8", np.arange(300).astype(np.uint8))
    for tag, sy, zy in (("a", s6, 0), ("b", np.float32(4.0), 3), ("c", np.float32(0.05), 17)):
        want = fqt.qrelu6_grad(arrays["e8"], -2, arrays["yu8"], zy, sy)
        calls.append(f"{{ float sy = {cf(sy)}; int32_t ze = -2, zy = {zy}; odtc_qrelu6_grad(e8, ODTC_S8, &ze, yu8, "
                     f"ODTC_U8, &zy, &sy, bbuf, 300u); {out(f'qrelu6_grad_{tag}', 'bbuf', want, np.int8)} }}")
    # residual add: range, quantized sum with ties (power-of-two scales) and saturation, in place
    add("qa", qdata(rng, (97,), np.int8))
    add("qb", qdata(rng, (97,), np.uint8))
    for tag, sa, sb, sy, zy, ydtype in (("ties", 0.5, 0.25, 1.0, 5, np.int8), ("sat", 0.1, 0.05, 0.01, 100, np.uint8),
                                        ("rand", 0.013, 0.021, 0.04, -3, np.int8)):
        sa, sb, sy = np.float32(sa), np.float32(sb), np.float32(sy)
        qmin, qmax = qrange(ydtype)
        st = "ODTC_S8" if ydtype == np.int8 else "ODTC_U8"
        r = fqt.qadd_range(arrays["qa"], sa, -1, arrays["qb"], sb, 130)
        y = fqt.qadd(arrays["qa"], sa, -1, arrays["qb"], sb, 130, sy, zy, qmin, qmax)
        calls.append(f"{{ float sa = {cf(sa)}, sb = {cf(sb)}, sy = {cf(sy)}; int32_t za = -1, zb = 130, zy = {zy}; "
                     f"odtc_qadd_range(qa, ODTC_S8, &sa, &za, qb, ODTC_U8, &sb, &zb, fbuf, 97u); "
                     f"{out(f'qadd_range_{tag}', 'fbuf', r, np.float32)} "
                     f"odtc_qadd(qa, ODTC_S8, &sa, &za, qb, ODTC_U8, &sb, &zb, bbuf, {st}, &sy, &zy, 97u); "
                     f"{out(f'qadd_{tag}', 'bbuf', y, ydtype)} }}")
    sy = np.float32(0.03)
    y = fqt.qadd(arrays["qa"], np.float32(0.02), 4, arrays["qa"], np.float32(0.01), -4, sy, 0, -128, 127)
    calls.append(f"{{ float sa = {cf(0.02)}, sb = {cf(0.01)}, sy = {cf(sy)}; int32_t za = 4, zb = -4, zy = 0; "
                 "memcpy(bbuf, qa, sizeof qa); odtc_qadd(bbuf, ODTC_S8, &sa, &za, qa, ODTC_S8, &sb, &zb, bbuf, ODTC_S8, "
                 f"&sy, &zy, 97u); {out('qadd_inplace', 'bbuf', y, np.int8)} }}")
    # global average pool: the sum and the broadcast error
    add("px", qdata(rng, (2, 5, 7, 7), np.uint8))
    calls.append("{ int32_t zx = 121; odtc_qavgpool_acc(px, ODTC_U8, &zx, ibuf, 2, 5, 49); "
                 + out("qavgpool_acc", "ibuf", fqt.qavgpool_acc(arrays["px"], 121), np.int32) + " }")
    add("pe", qdata(rng, (2, 5, 1, 1), np.int8))
    calls.append("{ odtc_qbroadcast_hw(pe, bbuf, 2, 5, 49); "
                 + out("qbroadcast_hw", "bbuf", fqt.qbroadcast_hw(arrays["pe"], 7, 7), np.int8) + " }")
    # streamed accumulators: depthwise (u8, stride 2, relu, range and requantized) and grouped (s8)
    for tag, xdtype, (n, c, h, w, o, kh, kw, st2, pads, g), relu in (
            ("dw", np.uint8, (2, 6, 9, 9, 6, 3, 3, (2, 2), (0, 0, 1, 1), 6), 1),
            ("grouped", np.int8, (1, 4, 7, 6, 6, 3, 3, (1, 1), (1, 1, 1, 1), 2), 0)):
        x = add(f"sx_{tag}", qdata(rng, (n, c, h, w), xdtype))
        wt = add(f"sw_{tag}", qdata(rng, (o, c // g, kh, kw), np.int8))
        b = add(f"sb_{tag}", (rng.standard_normal(o) * 0.2).astype(np.float32))
        sacc = np.float32(2e-4)
        accv = fqt.qconv2d_acc(arrays[x], 77, arrays[wt], -3, arrays[b], sacc, st2, pads, g)
        r = fqt.acc_stream(accv, bool(relu), sacc)
        s, z = fqt.qparams(r, 0, 255, False)
        yv = fqt.acc_stream(accv, bool(relu), sacc, s, z, 0, 255)
        sfx = "u8" if xdtype == np.uint8 else "s8"
        geo = f"{n}, {c}, {h}, {w}, {o}, {kh}, {kw}, {st2[0]}, {st2[1]}, {', '.join(map(str, pads))}, {g}"
        calls.append(f"{{ float sa = {cf(sacc)}, sy = {cf(s)}; int32_t zx = 77, zw = -3, zy = {int(z)}; "
                     f"odtc_qconv2d_acc_stream_{sfx}({x}, &zx, {wt}, &zw, (const float *){b}, &sa, NULL, NULL, NULL, 0, "
                     f"fbuf, {relu}, (int32_t *)scratch, {geo}); {out(f'stream_range_{tag}', 'fbuf', r, np.float32)} "
                     f"odtc_qconv2d_acc_stream_{sfx}({x}, &zx, {wt}, &zw, (const float *){b}, &sa, &sy, &zy, bbuf, "
                     f"ODTC_U8, NULL, {relu}, (int32_t *)scratch, {geo}); "
                     f"{out(f'stream_y_{tag}', 'bbuf', yv, np.uint8)} }}")
    decls = "\n".join(c_array(k, v) for k, v in arrays.items())
    body = "\n    ".join(calls)
    src = f"""/* Generated by test_fqt_kernels_mbv2.py: runs the MobileNetV2 FQT kernels, prints the bytes. */
#include <stdio.h>
#include <string.h>
#include "odtc_kernels.h"

{decls}
static uint32_t scratch[1024];
static float fbuf[1024];
static int32_t ibuf[1024];
static int8_t bbuf[1024];

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
    return src, expected


def _check_driver_output(stdout: str, expected: dict[str, NDArray[Any]]) -> None:
    got = dict(line.split(" ", 1) for line in stdout.strip().splitlines())
    assert set(got) == set(expected), sorted(set(expected) ^ set(got))
    for oname, want in expected.items():
        raw = np.frombuffer(bytes.fromhex(got[oname].strip()), dtype=want.dtype)
        try:
            if want.dtype == np.float32 and oname.startswith(("qadd_range", "stream_range")):
                same_range(raw.reshape(want.shape), want)
            else:
                same(raw.reshape(want.shape), want)
        except AssertionError as exc:
            raise AssertionError(f"driver output {oname}: {exc}") from None


def test_driver_on_host(build_dir: Path) -> None:
    src, expected = _driver_cases()
    (build_dir / "fqt_mbv2_driver.c").write_text(src)
    exe = emulator.build_host_executable([build_dir / "fqt_mbv2_driver.c", *K.sources()], build_dir / "fqt_mbv2_driver",
                                         include_dirs=[K.INCLUDE_DIR])
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True, timeout=60).stdout
    _check_driver_output(out, expected)


@pytest.mark.arm
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m7", "cortex-m55"])
def test_driver_on_cortex_m(target: str, tmp_path: Path) -> None:
    if not emulator.toolchain_available():
        pytest.skip("needs arm-none-eabi-gcc (newlib) and qemu-system-arm")
    src, expected = _driver_cases()
    (tmp_path / "fqt_mbv2_driver.c").write_text(src)
    elf = emulator.build_elf([tmp_path / "fqt_mbv2_driver.c", *K.sources()], target, tmp_path / "fqt_mbv2_driver.elf",
                             include_dirs=[K.INCLUDE_DIR])
    run = emulator.run_elf(elf, target)
    assert run.exit_code == 0, run.stdout + run.stderr
    _check_driver_output(run.stdout, expected)
