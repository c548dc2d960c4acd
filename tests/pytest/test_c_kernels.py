"""The C kernel library (runtime/c) against odtc.runtime.reference.

* fp32 reductions (conv, dense, pooling, batchnorm, losses and their gradients) sum in
  float in a fixed order while the reference sums in double: rtol 1e-5, atol 1e-6.
* Element-wise fp32 ops, max pooling, the optimizer updates and every integer/quantized
  kernel are compared BIT-EXACTLY.
* The Arm DSP code path (SXTB16/SMLAD) is compiled on the host against C models of the
  intrinsics (-DODTC_EMULATE_DSP) and must give results identical to the portable path;
  under QEMU (marker `arm`) the real Cortex-M4 build must agree with the host.
* The same tests run again in a subprocess against an ASan/UBSan build
  (test_sanitized_build), and all sources must compile warning-free for Cortex-M4/M7/M55.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import zlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from odtc.runtime import emulator
from odtc.runtime import kernels as K
from odtc.runtime import reference as ref

SANITIZED = os.environ.get("ODTC_KERNELS_SANITIZE") == "1"
RTOL, ATOL = 1e-5, 1e-6
S8, U8, S16, S32 = 0, 1, 2, 3
QRANGE = {S8: (-128, 127), U8: (0, 255), S16: (-32768, 32767), S32: (-(2**31), 2**31 - 1)}
QDTYPE = {S8: np.int8, U8: np.uint8, S16: np.int16, S32: np.int32}
ACT = {"none": 0, "relu": 1, "relu6": 2}


# ---------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lib(portable: K.Kernels) -> K.Kernels:
    """The portable build (conftest.py; sanitized when this file runs inside
    test_sanitized_build). `dsp`: the Arm DSP code path compiled on the host against C
    models of the intrinsics (conftest.py)."""
    return portable


def rng_for(*key: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def f32(rng: np.random.Generator, *shape: int) -> NDArray[np.float32]:
    return rng.standard_normal(shape).astype(np.float32)


def close(actual: NDArray, expected: NDArray, magnitude: NDArray | None = None) -> None:
    """|actual - expected| <= RTOL |expected| + ATOL max(1, magnitude).

    `magnitude` is the same reduction evaluated on absolute values (the sum of |terms|
    per element): the rounding error of a float sum grows with it, not with |result|, so
    cancelling sums get the absolute tolerance in proportion."""
    assert actual.shape == expected.shape
    atol = ATOL if magnitude is None else ATOL * np.maximum(1.0, np.asarray(magnitude, np.float64))
    err = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    bad = ~(err <= RTOL * np.abs(expected.astype(np.float64)) + atol)
    assert not bad.any(), (
        f"{bad.sum()}/{bad.size} elements differ beyond tolerance, first at {np.argwhere(bad)[0]}: "
        f"{actual[bad][:4]} vs {expected[bad][:4]}"
    )


def same_bits(actual: NDArray, expected: NDArray) -> None:
    """Bit-identical float arrays (NaN payloads aside, -0.0 != +0.0)."""
    a = np.asarray(actual, dtype=np.float32)
    e = np.asarray(expected, dtype=np.float32)
    assert a.shape == e.shape
    both_nan = np.isnan(a) & np.isnan(e)
    diff = (a.view(np.uint32) != e.view(np.uint32)) & ~both_nan
    assert not diff.any(), f"{diff.sum()} elements differ, first at {np.argwhere(diff)[0]}: {a[diff][:4]} vs {e[diff][:4]}"


def i32(v: int) -> NDArray[np.int32]:
    return np.array([v], dtype=np.int32)


def fl(v: float) -> NDArray[np.float32]:
    return np.array([v], dtype=np.float32)


# (N, C, H, W, O, KH, KW, stride, padding [t, l, b, r], groups)
CONV_CASES = [
    (2, 3, 8, 8, 4, 3, 3, (1, 1), (1, 1, 1, 1), 1),
    (1, 4, 7, 9, 6, 3, 2, (2, 1), (0, 1, 2, 0), 2),  # asymmetric, grouped
    (1, 6, 10, 10, 6, 3, 3, (2, 2), (1, 0, 1, 2), 6),  # depthwise, stride 2, asymmetric
    (2, 8, 5, 5, 4, 1, 1, (1, 1), (0, 0, 0, 0), 1),  # pointwise
    (1, 4, 6, 6, 8, 5, 5, (1, 2), (2, 2, 2, 2), 4),  # depthwise, channel multiplier 2
    (3, 5, 9, 4, 7, 2, 3, (3, 1), (0, 2, 1, 0), 1),  # stride 3, unread input rows
    (1, 3, 7, 7, 5, 3, 3, (2, 2), (0, 0, 0, 0), 1),  # stride 2, no padding
    (1, 16, 6, 6, 12, 3, 3, (1, 1), (1, 1, 1, 1), 1),  # longer reductions (K = 144)
    (1, 2, 4, 5, 3, 2, 2, (1, 1), (3, 2, 0, 3), 1),  # padding wider than the kernel
]


def geometry(case: tuple) -> tuple[int, ...]:
    n, c, h, w, o, kh, kw, stride, pad, groups = case
    return (n, c, h, w, o, kh, kw, stride[0], stride[1], *pad, groups)


def out_hw(case: tuple) -> tuple[int, int]:
    n, c, h, w, o, kh, kw, stride, pad, groups = case
    return ref.conv_output_hw((h, w), (kh, kw), stride, pad)


# ---------------------------------------------------------------------------------------
# fp32 conv2d and dense
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_f32(lib: K.Kernels, case: tuple) -> None:
    n, c, h, w, o, kh, kw, stride, pad, groups = case
    rng = rng_for("conv2d_f32", case)
    oh, ow = out_hw(case)
    x, wt, b = f32(rng, n, c, h, w), f32(rng, o, c // groups, kh, kw), f32(rng, o)
    g = geometry(case)

    for bias in (b, None):
        y = np.empty((n, o, oh, ow), np.float32)
        lib.odtc_conv2d_f32(x, wt, bias, y, *g)
        mag = ref.conv2d(abs(x), abs(wt), None if bias is None else abs(bias), stride, pad, groups)
        close(y, ref.conv2d(x, wt, bias, stride, pad, groups), mag)

    dy = f32(rng, n, o, oh, ow)
    dx = np.full((n, c, h, w), np.nan, np.float32)  # every element must be written
    lib.odtc_conv2d_f32_grad_input(dy, wt, dx, *g)
    close(dx, ref.conv2d_grad_input(dy, wt, (n, c, h, w), stride, pad, groups),
          ref.conv2d_grad_input(abs(dy), abs(wt), (n, c, h, w), stride, pad, groups))

    dw = np.empty_like(wt)
    lib.odtc_conv2d_f32_grad_weight(x, dy, dw, None, 0, *g)
    mag_w = ref.conv2d_grad_weight(abs(x), abs(dy), (kh, kw), stride, pad, groups)
    close(dw, ref.conv2d_grad_weight(x, dy, (kh, kw), stride, pad, groups), mag_w)

    chans = np.sort(rng.choice(o, size=max(1, o // 2), replace=False)).astype(np.int32)
    dws = np.empty((chans.size, c // groups, kh, kw), np.float32)
    lib.odtc_conv2d_f32_grad_weight(x, dy, dws, chans, chans.size, *g)
    close(dws, ref.conv2d_grad_weight(x, dy, (kh, kw), stride, pad, groups, channels=chans), mag_w[chans])

    db = np.empty(o, np.float32)
    lib.odtc_conv2d_f32_grad_bias(dy, db, n, o, oh * ow)
    close(db, ref.conv2d_grad_bias(dy), ref.conv2d_grad_bias(abs(dy)))


@pytest.mark.parametrize("shape", [(1, 5, 3), (4, 16, 10), (3, 7, 1), (2, 300, 9)])
def test_dense_f32(lib: K.Kernels, shape: tuple[int, int, int]) -> None:
    n, k, o = shape
    rng = rng_for("dense_f32", shape)
    x, w, b, dy = f32(rng, n, k), f32(rng, o, k), f32(rng, o), f32(rng, n, o)
    for bias in (b, None):
        y = np.empty((n, o), np.float32)
        lib.odtc_dense_f32(x, w, bias, y, n, k, o)
        close(y, ref.dense(x, w, bias), ref.dense(abs(x), abs(w), None if bias is None else abs(bias)))
    dx = np.empty((n, k), np.float32)
    lib.odtc_dense_f32_grad_input(dy, w, dx, n, k, o)
    close(dx, ref.dense_grad_input(dy, w), ref.dense_grad_input(abs(dy), abs(w)))
    dw = np.empty((o, k), np.float32)
    lib.odtc_dense_f32_grad_weight(x, dy, dw, None, 0, n, k, o)
    mag_w = ref.dense_grad_weight(abs(x), abs(dy))
    close(dw, ref.dense_grad_weight(x, dy), mag_w)
    chans = np.array([0] if o == 1 else [0, o - 1], np.int32)
    dws = np.empty((chans.size, k), np.float32)
    lib.odtc_dense_f32_grad_weight(x, dy, dws, chans, chans.size, n, k, o)
    close(dws, ref.dense_grad_weight(x, dy, channels=chans), mag_w[chans])
    db = np.empty(o, np.float32)
    lib.odtc_dense_f32_grad_bias(dy, db, n, o)
    close(db, ref.dense_grad_bias(dy), ref.dense_grad_bias(abs(dy)))


# ---------------------------------------------------------------------------------------
# fp32 element-wise (bit-exact)
# ---------------------------------------------------------------------------------------


def test_elementwise_f32_bit_exact(lib: K.Kernels) -> None:
    rng = rng_for("elementwise")
    special = np.array([0.0, -0.0, 6.0, -6.0, 5.999999, 6.000001, 1e-45, -1e-45, np.inf, -np.inf, np.nan], np.float32)
    x = np.concatenate([special, f32(rng, 200) * 4])
    y = np.concatenate([special[::-1], f32(rng, 200) * 4])
    m = x.size
    out = np.empty(m, np.float32)
    lib.odtc_relu_f32(x, out, m)
    same_bits(out, ref.relu(x))
    lib.odtc_relu6_f32(x, out, m)
    same_bits(out, ref.relu6(x))
    lib.odtc_add_f32(x, y, out, m)
    same_bits(out, ref.add(x, y))
    fwd = ref.relu6(x)
    lib.odtc_relu_f32_grad(y, fwd, out, m)
    same_bits(out, ref.relu_grad(y, fwd))
    lib.odtc_relu6_f32_grad(y, fwd, out, m)
    same_bits(out, ref.relu6_grad(y, fwd))
    inplace = x.copy()
    lib.odtc_relu_f32(inplace, inplace, m)
    same_bits(inplace, ref.relu(x))


# ---------------------------------------------------------------------------------------
# fp32 pooling
# ---------------------------------------------------------------------------------------

# (N, C, H, W, kernel, stride, padding)
POOL_CASES = [
    (2, 3, 8, 8, (2, 2), (2, 2), (0, 0, 0, 0)),
    (1, 4, 7, 9, (3, 3), (2, 2), (1, 1, 1, 1)),  # overlapping windows
    (1, 2, 6, 7, (3, 2), (1, 2), (1, 0, 0, 1)),  # asymmetric padding
    (2, 1, 5, 5, (2, 3), (3, 1), (0, 1, 1, 0)),
]


def pool_geometry(case: tuple) -> tuple[int, ...]:
    n, c, h, w, k, s, p = case
    return (n, c, h, w, k[0], k[1], s[0], s[1], *p)


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("ties", [False, True])
def test_maxpool2d_f32(lib: K.Kernels, case: tuple, ties: bool) -> None:
    n, c, h, w, k, s, p = case
    rng = rng_for("maxpool", case, ties)
    # integer values make many ties (the first maximum wins); all-negative windows check
    # that padding never wins
    x = (rng.integers(-3, 2, (n, c, h, w)) if ties else rng.standard_normal((n, c, h, w)) - 2).astype(np.float32)
    oh, ow = ref.conv_output_hw((h, w), k, s, p)
    y = np.empty((n, c, oh, ow), np.float32)
    lib.odtc_maxpool2d_f32(x, y, *pool_geometry(case))
    same_bits(y, ref.maxpool2d(x, k, s, p))
    dy = f32(rng, n, c, oh, ow)
    dx = np.empty_like(x)
    lib.odtc_maxpool2d_f32_grad(dy, x, dx, *pool_geometry(case))
    expected = ref.maxpool2d_grad(dy, x, k, s, p)
    if s[0] >= k[0] and s[1] >= k[1]:
        same_bits(dx, expected)  # no overlap: pure routing
    else:
        close(dx, expected)


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [False, True])
def test_avgpool2d_f32(lib: K.Kernels, case: tuple, count_include_pad: bool) -> None:
    n, c, h, w, k, s, p = case
    rng = rng_for("avgpool", case, count_include_pad)
    x = f32(rng, n, c, h, w)
    oh, ow = ref.conv_output_hw((h, w), k, s, p)
    y = np.empty((n, c, oh, ow), np.float32)
    lib.odtc_avgpool2d_f32(x, y, *pool_geometry(case), int(count_include_pad))
    close(y, ref.avgpool2d(x, k, s, p, count_include_pad))
    dy = f32(rng, n, c, oh, ow)
    dx = np.empty_like(x)
    lib.odtc_avgpool2d_f32_grad(dy, dx, *pool_geometry(case), int(count_include_pad))
    close(dx, ref.avgpool2d_grad(dy, x.shape, k, s, p, count_include_pad))


def test_global_avgpool_f32(lib: K.Kernels) -> None:
    rng = rng_for("gap")
    n, c, h, w = 2, 5, 7, 6
    x = f32(rng, n, c, h, w)
    y = np.empty((n, c, 1, 1), np.float32)
    lib.odtc_global_avgpool_f32(x, y, n, c, h * w)
    close(y, ref.global_avgpool(x))
    dy = f32(rng, n, c, 1, 1)
    dx = np.empty_like(x)
    lib.odtc_global_avgpool_f32_grad(dy, dx, n, c, h * w)
    close(dx, ref.global_avgpool_grad(dy, x.shape))


# ---------------------------------------------------------------------------------------
# fp32 batchnorm and losses
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 4), (2, 5, 3, 4)])
def test_batchnorm_f32(lib: K.Kernels, shape: tuple[int, ...]) -> None:
    rng = rng_for("bn", shape)
    n, c = shape[:2]
    hw = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    x, dy = f32(rng, *shape), f32(rng, *shape)
    gamma, beta, mean = f32(rng, c), f32(rng, c), f32(rng, c)
    var = (rng.random(c) + 0.1).astype(np.float32)
    eps = 1e-5
    y = np.empty_like(x)
    lib.odtc_batchnorm_f32(x, gamma, beta, mean, var, y, n, c, hw, eps)
    close(y, ref.batchnorm(x, gamma, beta, mean, var, eps))
    dx = np.empty_like(x)
    lib.odtc_batchnorm_f32_grad_input(dy, gamma, var, dx, n, c, hw, eps)
    close(dx, ref.batchnorm_grad_input(dy, gamma, var, eps))
    dg, db = np.empty(c, np.float32), np.empty(c, np.float32)
    lib.odtc_batchnorm_f32_grad_gamma(dy, x, mean, var, dg, n, c, hw, eps)
    close(dg, ref.batchnorm_grad_gamma(dy, x, mean, var, eps))
    lib.odtc_batchnorm_f32_grad_beta(dy, db, n, c, hw)
    close(db, ref.batchnorm_grad_beta(dy))


@pytest.mark.parametrize("scale", [1.0, 30.0, 1000.0])
def test_softmax_cross_entropy_f32(lib: K.Kernels, scale: float) -> None:
    rng = rng_for("sce", scale)
    n, classes = 4, 10
    logits = (f32(rng, n, classes) * scale).astype(np.float32)  # 1000: exp would overflow unshifted
    labels = rng.integers(0, classes, n).astype(np.int32)
    loss = lib.odtc_softmax_cross_entropy_f32(logits, labels, n, classes)
    np.testing.assert_allclose(loss, ref.softmax_cross_entropy(logits, labels), rtol=RTOL, atol=ATOL)
    d = np.empty_like(logits)
    lib.odtc_softmax_cross_entropy_f32_grad(logits, labels, d, n, classes)
    close(d, ref.softmax_cross_entropy_grad(logits, labels))


def test_mse_f32(lib: K.Kernels) -> None:
    rng = rng_for("mse")
    p, t = f32(rng, 3, 7), f32(rng, 3, 7)
    loss = lib.odtc_mse_f32(p, t, p.size)
    np.testing.assert_allclose(loss, ref.mse(p, t), rtol=RTOL, atol=ATOL)
    d = np.empty_like(p)
    lib.odtc_mse_f32_grad(p, t, d, p.size)
    close(d, ref.mse_grad(p, t))


# ---------------------------------------------------------------------------------------
# Portable transcendental functions (mathf.c)
# ---------------------------------------------------------------------------------------

FLT_MAX = float(np.finfo(np.float32).max)


def _sweep_values() -> NDArray[np.float32]:
    """Every 21473rd bit pattern (both signs, every exponent, subnormals, inf/NaN) plus
    edge cases: signed zeros, the subnormal and normal extremes, the overflow and
    underflow thresholds of exp, values around 1 for log."""
    bits = (np.arange(200_003, dtype=np.uint64) * 21473 % 2**32).astype(np.uint32)
    edges = np.array([0.0, -0.0, 1e-45, -1e-45, 1.1754942e-38, 1.17549435e-38, FLT_MAX, -FLT_MAX, np.inf, -np.inf,
                      np.nan, 1.0, -1.0, 0.5, 2.0, 88.72283, 88.722839, 88.7228394, 89.0, -87.33654, -87.3365479,
                      -103.972076, -103.97208, -103.972084, -104.0, -200.0, 1e-30, -1e-30, 0.34657359, -0.34657359],
                     np.float32)
    near_one = (np.float32(1.0) + np.arange(-40, 41, dtype=np.float32) * np.float32(2.0**-24)).astype(np.float32)
    return np.concatenate([bits.view(np.float32), edges, near_one])


def _ulp(t: NDArray[np.float64]) -> NDArray[np.float64]:
    """ulp of float32 at |t| (2^-149 in the subnormal range)."""
    mant, exp = np.frexp(np.abs(t))
    return np.where(np.abs(t) < 2.0**-126, 2.0**-149, np.ldexp(1.0, exp - 24))


def _call_each(lib: K.Kernels, name: str, xs: NDArray[np.float32]) -> NDArray[np.float32]:
    fn = getattr(lib.lib, name)
    return np.array([fn(float(v)) for v in xs], np.float32)


def test_expf_accuracy(lib: K.Kernels) -> None:
    xs = _sweep_values()
    y = _call_each(lib, "odtc_expf", xs)
    with np.errstate(over="ignore", invalid="ignore"):
        t = np.exp(xs.astype(np.float64))
    nan = np.isnan(xs)
    assert np.isnan(y[nan]).all()
    over = ~nan & (t > FLT_MAX * (1 + 2.0**-25))  # rounds to inf in float
    assert (y[over] == np.inf).all(), xs[over][y[over] != np.inf][:5]
    ok = ~nan & ~over
    err = np.abs(y[ok].astype(np.float64) - t[ok]) / _ulp(t[ok])
    worst = int(np.argmax(err))
    assert err.max() <= 1.0, f"{err.max():.3f} ulp at x = {xs[ok][worst]!r}"
    assert odtc_bits(lib.lib.odtc_expf(float("-inf"))) == 0 and lib.lib.odtc_expf(0.0) == 1.0
    assert lib.lib.odtc_expf(-1e-45) == 1.0 and lib.lib.odtc_expf(1e-45) == 1.0


def odtc_bits(v: float) -> int:
    return int(np.array([v], np.float32).view(np.uint32)[0])


def test_logf_accuracy(lib: K.Kernels) -> None:
    xs = _sweep_values()
    y = _call_each(lib, "odtc_logf", xs)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(xs.astype(np.float64))
    nan = np.isnan(xs) | (xs < 0)
    assert np.isnan(y[nan]).all(), xs[nan][~np.isnan(y[nan])][:5]
    zero = xs == 0
    assert (y[zero] == -np.inf).all()
    inf = xs == np.inf
    assert (y[inf] == np.inf).all()
    ok = ~nan & ~zero & ~inf
    err = np.abs(y[ok].astype(np.float64) - t[ok]) / _ulp(t[ok])
    worst = int(np.argmax(err))
    assert err.max() <= 1.25, f"{err.max():.3f} ulp at x = {xs[ok][worst]!r}"
    assert lib.lib.odtc_logf(1.0) == 0.0


def test_powi_correctly_rounded(lib: K.Kernels) -> None:
    """odtc_powi(b, t) is the correctly rounded b^t. It equals the reference's Python
    b ** t (glibc pow) except where glibc misrounds a value lying within ~0.01 ulp of a
    rounding boundary (rare); even then Adam's f32 scalars f32(lr / (1 - b^t)) and
    f32(sqrt(1 - b^t)) are the same."""
    rng = rng_for("powi")
    bases = [0.9, 0.999, 0.99, 0.8, 0.95, 0.9999, 0.5, 1.0, 0.0, *rng.uniform(0.0, 1.0, 20).tolist()]
    steps = [0, 1, 2, 3, 7, 10, 100, 1000, 4097, 65536, 10**6, 2**31 - 1, *rng.integers(1, 200_000, 60).tolist()]
    cases = [(b, int(t)) for b in bases for t in steps] + [(b, t) for t in range(1, 3000) for b in (0.9, 0.999)]
    mismatches = 0
    for b, t in cases:
        got, want = lib.odtc_powi(b, t), b**t
        if got == want:
            continue
        mismatches += 1
        exact = Fraction(b) ** t
        assert abs((Fraction(got) - exact) / Fraction(math.ulp(got))) <= Fraction(1, 2), (b, t, got)
        assert abs(abs((Fraction(want) - exact) / Fraction(math.ulp(want))) - Fraction(1, 2)) < Fraction(1, 100), (b, t)
        for lr in (1e-3, 0.05):
            assert np.float32(lr / (1.0 - got)) == np.float32(lr / (1.0 - want))
        assert np.float32(math.sqrt(1.0 - got)) == np.float32(math.sqrt(1.0 - want))
    assert mismatches <= len(cases) // 1000


# ---------------------------------------------------------------------------------------
# Optimizers (bit-exact, several steps, sparse rows, mini-batch accumulation)
# ---------------------------------------------------------------------------------------

OPT_CASES = [
    ((6, 3, 2), None, 1),
    ((6, 3, 2), [1, 4, 5], 1),
    ((5, 4), None, 3),
    ((8,), [0, 7], 2),
]


def _rows_and_len(shape: tuple[int, ...], channels: list[int] | None) -> tuple[int, int]:
    rows = shape[0] if channels is None else len(channels)
    return rows, int(np.prod(shape[1:], dtype=np.int64))


def _grad_shape(shape: tuple[int, ...], channels: list[int] | None) -> tuple[int, ...]:
    return shape if channels is None else (len(channels), *shape[1:])


def _steps(every: int) -> Iterator[tuple[int, int]]:
    """(step index, batch position) for three mini-batches."""
    for i in range(3 * every):
        yield i, i % every


@pytest.mark.parametrize("shape,channels,every", OPT_CASES)
def test_sgd_and_momentum_bit_exact(lib: K.Kernels, shape: tuple, channels: list[int] | None, every: int) -> None:
    rng = rng_for("sgd", shape, channels, every)
    rows, row_len = _rows_and_len(shape, channels)
    chans = None if channels is None else np.array(channels, np.int32)
    lr, mu = 0.0123, 0.9
    w_c, w_r = f32(rng, *shape), None
    w_r = w_c.copy()
    wm_c, v_c = f32(rng, *shape), np.zeros(shape, np.float32)
    wm_r, v_r = wm_c.copy(), v_c.copy()
    acc_c = np.zeros(_grad_shape(shape, channels), np.float32) if every > 1 else None
    acc_m = None if acc_c is None else acc_c.copy()
    acc_r = None if acc_c is None else acc_c.copy()
    acc_rm = None if acc_c is None else acc_c.copy()
    for _, pos in _steps(every):
        g = f32(rng, *_grad_shape(shape, channels))
        lib.odtc_sgd_update_f32(w_c, g, acc_c, chans, rows, row_len, pos, every, lr)
        lib.odtc_momentum_update_f32(wm_c, v_c, g, acc_m, chans, rows, row_len, pos, every, lr, mu)
        if acc_r is None:
            gs: NDArray | None = g
            gm: NDArray | None = g
        else:
            assert acc_rm is not None
            acc_r, gs = ref.accumulate_gradient(acc_r, g, pos, every)
            acc_rm, gm = ref.accumulate_gradient(acc_rm, g, pos, every)
        if gs is not None:
            w_r = ref.sgd_update(w_r, gs, lr, channels)
        if gm is not None:
            wm_r, v_r = ref.momentum_update(wm_r, v_r, gm, lr, mu, channels)
        same_bits(w_c, w_r)
        same_bits(wm_c, wm_r)
        same_bits(v_c, v_r)
        if acc_c is not None:
            assert acc_r is not None and acc_m is not None and acc_rm is not None
            same_bits(acc_c, acc_r)
            same_bits(acc_m, acc_rm)


@pytest.mark.parametrize("shape,channels,every", OPT_CASES)
@pytest.mark.parametrize("hyper", [(1e-3, 0.9, 0.999, 1e-8), (0.05, 0.8, 0.99, 1e-6)])
def test_adam_bit_exact(lib: K.Kernels, shape: tuple, channels: list[int] | None, every: int, hyper: tuple) -> None:
    lr, b1, b2, eps = hyper
    rng = rng_for("adam", shape, channels, every, hyper)
    rows, row_len = _rows_and_len(shape, channels)
    chans = None if channels is None else np.array(channels, np.int32)
    w_c = f32(rng, *shape)
    m_c, v_c = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    step_c = np.zeros(1, np.int32)
    w_r, m_r, v_r, step_r = w_c.copy(), m_c.copy(), v_c.copy(), np.asarray(0, np.int32)
    acc_c = np.zeros(_grad_shape(shape, channels), np.float32) if every > 1 else None
    acc_r = None if acc_c is None else acc_c.copy()
    for _, pos in _steps(every):
        g = f32(rng, *_grad_shape(shape, channels)) * np.float32(rng.uniform(0.01, 10))
        lib.odtc_adam_update_f32(w_c, m_c, v_c, step_c, g, acc_c, chans, rows, row_len, pos, every, lr, b1, b2, eps)
        gr: NDArray | None = g
        if acc_r is not None:
            acc_r, gr = ref.accumulate_gradient(acc_r, g, pos, every)
        if gr is not None:
            w_r, m_r, v_r, step_r = ref.adam_update(w_r, m_r, v_r, step_r, gr, lr, b1, b2, eps, channels)
        same_bits(w_c, w_r)
        same_bits(m_c, m_r)
        same_bits(v_c, v_r)
        assert step_c[0] == int(step_r)
        if acc_c is not None:
            assert acc_r is not None
            same_bits(acc_c, acc_r)


@pytest.mark.parametrize("start", [99, 999, 12_345, 2**20])
def test_adam_bit_exact_late_steps(lib: K.Kernels, start: int) -> None:
    """Bias corrections far into training (odtc_powi against the reference's pow)."""
    rng = rng_for("adam late", start)
    shape = (7, 5)
    w_c = f32(rng, *shape)
    m_c, v_c = f32(rng, *shape) * np.float32(0.1), np.abs(f32(rng, *shape)) * np.float32(0.01)
    step_c = np.array([start], np.int32)
    w_r, m_r, v_r, step_r = w_c.copy(), m_c.copy(), v_c.copy(), np.asarray(start, np.int32)
    for hyper in [(1e-3, 0.9, 0.999, 1e-8), (0.05, 0.8, 0.99, 1e-6)] * 3:
        lr, b1, b2, eps = hyper
        g = f32(rng, *shape)
        lib.odtc_adam_update_f32(w_c, m_c, v_c, step_c, g, None, None, shape[0], shape[1], 0, 1, lr, b1, b2, eps)
        w_r, m_r, v_r, step_r = ref.adam_update(w_r, m_r, v_r, step_r, g, lr, b1, b2, eps)
        same_bits(w_c, w_r)
        same_bits(m_c, m_r)
        same_bits(v_c, v_r)


def test_counter_step(lib: K.Kernels) -> None:
    c = np.zeros(1, np.int32)
    seen = []
    for _ in range(7):
        lib.odtc_counter_step(c, 3)
        seen.append(int(c[0]))
    assert seen == [int(ref.counter_step(v, 3)) for v in [0, 1, 2, 0, 1, 2, 0]]


# ---------------------------------------------------------------------------------------
# Fixed-point arithmetic (bit-exact)
# ---------------------------------------------------------------------------------------


def _multiplier_inputs() -> NDArray[np.float32]:
    rng = rng_for("multipliers")
    exps = rng.uniform(-45, 10, 400)
    vals = (rng.uniform(0.5, 1.0, 400) * 2.0**exps).astype(np.float32)
    edges = np.array(
        [0.0, 1.0, 0.5, 2.0**-31, 2.0**-32, 2.0**-31 * 0.75, 1e-45, 1.17e-38, 3.0e38, 0.9999999, 1.0000001, 0.1, 1 / 3],
        np.float32,
    )
    near_one = (np.float32(1.0) - np.arange(1, 30, dtype=np.float32) * np.float32(2.0**-24)).astype(np.float32)
    return np.concatenate([edges, near_one, vals]).astype(np.float32)


def test_quantize_multiplier_bit_exact(lib: K.Kernels) -> None:
    m, s = np.zeros(1, np.int32), np.zeros(1, np.int32)
    for real in _multiplier_inputs():
        lib.odtc_quantize_multiplier(float(real), m, s)
        assert (int(m[0]), int(s[0])) == ref.quantize_multiplier(real), real


def test_fixed_point_primitives_bit_exact(lib: K.Kernels) -> None:
    rng = rng_for("fixed point")
    imin, imax = -(2**31), 2**31 - 1
    edge = [imin, imin + 1, -(2**30), -1, 0, 1, 2**30, imax - 1, imax]
    xs = np.concatenate([edge, rng.integers(imin, imax, 300, endpoint=True), rng.integers(-5000, 5000, 100)])
    ms = np.concatenate([edge, [2**30, 2**31 - 1, 1518500250], rng.integers(2**30, 2**31, 50)])
    for a in xs[::7]:
        for b in ms:
            assert lib.odtc_saturating_rounding_doubling_high_mul(int(a), int(b)) == int(
                ref.saturating_rounding_doubling_high_mul(a, b)
            )
    for x in xs:
        for e in (0, 1, 2, 5, 17, 30, 31):
            assert lib.odtc_rounding_divide_by_pot(int(x), e) == int(ref.rounding_divide_by_pot(x, e)), (x, e)
    shifts = [-31, -20, -7, -1, 0, 1, 3, 12, 30, 31, 40, 128]
    for x in xs[::3]:
        for mult in (2**30, 1518500250, 2**31 - 1, int(rng.integers(2**30, 2**31))):
            for sh in shifts:
                got = lib.odtc_multiply_by_quantized_multiplier(int(x), mult, sh)
                assert got == int(ref.multiply_by_quantized_multiplier(x, mult, sh)), (x, mult, sh)


@pytest.mark.parametrize("storage", [S8, U8])
def test_activation_range_bit_exact(lib: K.Kernels, storage: int) -> None:
    qmin, qmax = QRANGE[storage]
    lo, hi = np.zeros(1, np.int32), np.zeros(1, np.int32)
    for act in ACT:
        for zy in (qmin, qmin + 3, 0 if storage == S8 else 128, qmax - 2, qmax):
            for sy in (1e-3, 0.0235294, 6.0 / 255, 6.0 / 250.5, 0.05, 0.1, 1.0, 7.0, 1e30):
                lib.odtc_activation_range(ACT[act], sy, zy, qmin, qmax, lo, hi)
                assert (int(lo[0]), int(hi[0])) == ref.activation_range(act, np.float32(sy), zy, qmin, qmax)


# ---------------------------------------------------------------------------------------
# quantize / dequantize / requantize (bit-exact)
# ---------------------------------------------------------------------------------------


def _quant_input(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> NDArray[np.float32]:
    x = (rng.standard_normal(shape) * 60 * scale).astype(np.float32)
    flat = x.reshape(-1)
    # exact ties (k + 0.5) * scale, huge values, infinities, NaN and signed zeros
    k = rng.integers(-300, 300, flat.size // 4)
    flat[: k.size] = ((k + 0.5) * np.float32(scale)).astype(np.float32)
    flat[-6:] = [np.inf, -np.inf, np.nan, 3.0e38, -0.0, -3.0e38]
    flat[-9:-6] = [2.0**31 * scale, -(2.0**31) * scale, 2.0**41 * scale]
    return x


@pytest.mark.parametrize("storage", [S8, U8, S16, S32])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_quantize_dequantize_bit_exact(lib: K.Kernels, storage: int, axis: int | None) -> None:
    rng = rng_for("quantize", storage, axis)
    qmin, qmax = QRANGE[storage]
    shape = (4, 5, 6)
    if axis is None:
        scale = np.array([0.037], np.float32)
        zp = np.array([{S8: -3, U8: 131, S16: 100, S32: -7}[storage]], np.int32)
        outer, ch, inner = 1, 1, int(np.prod(shape))
    else:
        nch = shape[axis]
        scale = rng.uniform(0.001, 0.1, nch).astype(np.float32)
        lo_z, hi_z = (qmin, qmax) if storage in (S8, U8) else (-1000, 1000)
        zp = rng.integers(lo_z, hi_z, nch, endpoint=True).astype(np.int32)
        outer = int(np.prod(shape[:axis], dtype=np.int64))
        ch, inner = nch, int(np.prod(shape[axis + 1 :], dtype=np.int64))
    x = _quant_input(rng, shape, float(scale[0]))
    q = np.empty(shape, QDTYPE[storage])
    lib.odtc_quantize(x, q, storage, outer, ch, inner, scale, zp, int(axis is not None))
    sc = scale[0] if axis is None else scale
    z = zp[0] if axis is None else zp
    expected = ref.quantize(x, sc, z, qmin, qmax, axis)
    np.testing.assert_array_equal(q.astype(np.int64), expected.astype(np.int64))
    back = np.empty(shape, np.float32)
    lib.odtc_dequantize(q, storage, back, outer, ch, inner, scale, zp, int(axis is not None))
    same_bits(back, ref.dequantize(q.astype(np.int64), sc, z, axis))


def test_quantize_zero_scale(lib: K.Kernels) -> None:
    """x / 0 is +-inf (saturates) or NaN for x = 0 (gives the zero-point), as in numpy."""
    x = np.array([1.0, -1.0, 0.0, -0.0, 1e-30], np.float32)
    q = np.empty(x.shape, np.int8)
    lib.odtc_quantize(x, q, S8, 1, 1, x.size, np.zeros(1, np.float32), i32(7), 0)
    np.testing.assert_array_equal(q.astype(np.int32), ref.quantize(x, np.float32(0), 7, -128, 127))


@pytest.mark.parametrize("in_storage,out_storage", [(S8, S8), (U8, S8), (S8, U8), (S32, S8), (S16, U8), (S32, S32)])
def test_requantize_bit_exact(lib: K.Kernels, in_storage: int, out_storage: int) -> None:
    rng = rng_for("requantize", in_storage, out_storage)
    imin, imax = QRANGE[in_storage]
    if in_storage == S32:
        imin, imax = -(2**30), 2**30
    q = rng.integers(imin, imax, 500, endpoint=True).astype(QDTYPE[in_storage])
    q[:2] = [imin, imax]
    for s_in, s_out in [(0.02, 0.05), (0.05, 0.02), (1e-6, 0.7), (3.0, 1e-3), (0.1, 0.1), (1e-12, 1.0)]:
        for z_in, z_out in [(0, 0), (5, -3), (-128 if in_storage == S8 else 7, 100)]:
            y = np.empty(q.shape, QDTYPE[out_storage])
            lib.odtc_requantize(q, in_storage, y, out_storage, q.size, fl(s_in), i32(z_in), fl(s_out), i32(z_out))
            expected = ref.requantize(q.astype(np.int64), np.float32(s_in), z_in, np.float32(s_out), z_out, *QRANGE[out_storage])
            np.testing.assert_array_equal(y.astype(np.int64), expected.astype(np.int64))


# ---------------------------------------------------------------------------------------
# Quantized conv2d / dense (bit-exact, portable and DSP paths)
# ---------------------------------------------------------------------------------------

QLAYER_VARIANTS = [
    # (activation storage, per-channel weights, activation, weight zero-points nonzero, saturating)
    (S8, False, "none", False, False),
    (S8, True, "relu", False, False),
    (U8, True, "relu6", True, False),
    (U8, False, "none", True, True),
    (S8, True, "relu6", True, True),
]


def _qparams(rng: np.random.Generator, o: int, klen: int, variant: tuple) -> dict:
    storage, per_channel, act, wz_nonzero, saturating = variant
    qmin, qmax = QRANGE[storage]
    zx = int(rng.integers(qmin, qmax + 1)) if storage == U8 else int(rng.integers(-20, 21))
    nw = o if per_channel else 1
    zw = rng.integers(-10, 11, nw).astype(np.int32) if wz_nonzero else np.zeros(nw, np.int32)
    # Scales such that the layer multiplier M = sx sw / sy maps a typical accumulator
    # (std ~ 75 * 75 * sqrt(K) for full-range data) to a quarter of the output range
    # (saturating variants: twice the range), and sy in [0.03, 0.08] so that relu6's
    # upper bound zy + rint(6 / sy) falls inside the range.
    target_m = (qmax - qmin) / 4 / (75.0 * 75.0 * np.sqrt(klen)) * (8 if saturating else 1)
    sy = np.float32(rng.uniform(0.03, 0.08))
    sx = np.float32(rng.uniform(0.005, 0.05))
    sw = (target_m * float(sy) / float(sx) * rng.uniform(0.7, 1.4, nw)).astype(np.float32)
    zy = int(rng.integers(qmin + 20, qmax - 20)) if storage == U8 else int(rng.integers(-10, 11))
    return {"storage": storage, "sx": sx, "zx": zx, "sw": sw, "zw": zw, "sy": sy, "zy": zy, "act": act,
            "per_channel": per_channel, "qmin": qmin, "qmax": qmax}


def _qdata(rng: np.random.Generator, shape: tuple[int, ...], storage: int) -> NDArray:
    qmin, qmax = QRANGE[storage]
    return rng.integers(qmin, qmax + 1, shape).astype(QDTYPE[storage])


def _ref_qargs(p: dict) -> tuple:
    sw = p["sw"] if p["per_channel"] else p["sw"][0]
    zw = p["zw"] if p["per_channel"] else p["zw"][0]
    return p["sx"], p["zx"], sw, zw


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("variant", QLAYER_VARIANTS)
def test_qconv2d_bit_exact(lib: K.Kernels, dsp: K.Kernels, case: tuple, variant: tuple) -> None:
    n, c, h, w, o, kh, kw, stride, pad, groups = case
    rng = rng_for("qconv", case, variant)
    klen = (c // groups) * kh * kw
    p = _qparams(rng, o, klen, variant)
    x = _qdata(rng, (n, c, h, w), p["storage"])
    wt = rng.integers(-128, 128, (o, c // groups, kh, kw)).astype(np.int8)
    bias = rng.integers(-3000, 3000, o).astype(np.int32)
    oh, ow = out_hw(case)
    sx, zx, sw, zw = _ref_qargs(p)
    fn = "odtc_conv2d_u8" if p["storage"] == U8 else "odtc_conv2d_s8"
    scratch = np.empty(lib.odtc_conv2d_q8_scratch_bytes(c, groups, kh, kw, o), np.uint8)
    for b in (bias, None):
        expected = ref.qconv2d(x, sx, zx, wt, sw, zw, b, p["sy"], p["zy"], stride, pad, groups, p["act"], p["qmin"], p["qmax"])
        for impl in (lib, dsp):
            y = np.empty((n, o, oh, ow), QDTYPE[p["storage"]])
            getattr(impl, fn)(x, fl(p["sx"]), i32(p["zx"]), wt, p["sw"], p["zw"], int(p["per_channel"]), b,
                              fl(p["sy"]), i32(p["zy"]), ACT[p["act"]], y, scratch, *geometry(case))
            np.testing.assert_array_equal(y.astype(np.int32), expected)
    lo, hi = ref.activation_range(p["act"], p["sy"], p["zy"], p["qmin"], p["qmax"])
    assert np.unique(expected).size >= 3  # the data exercises the requantization
    if variant[4]:  # saturating variant: both clamp bounds are hit
        assert (expected == lo).any() and (expected == hi).any()


@pytest.mark.parametrize("shape", [(1, 16, 10), (3, 37, 5), (2, 5, 1), (1, 200, 7)])
@pytest.mark.parametrize("variant", QLAYER_VARIANTS)
def test_qdense_bit_exact(lib: K.Kernels, dsp: K.Kernels, shape: tuple[int, int, int], variant: tuple) -> None:
    n, k, o = shape
    rng = rng_for("qdense", shape, variant)
    p = _qparams(rng, o, k, variant)
    x = _qdata(rng, (n, k), p["storage"])
    wt = rng.integers(-128, 128, (o, k)).astype(np.int8)
    bias = rng.integers(-3000, 3000, o).astype(np.int32)
    sx, zx, sw, zw = _ref_qargs(p)
    fn = "odtc_dense_u8" if p["storage"] == U8 else "odtc_dense_s8"
    scratch = np.empty(8 * o + 2 * k, np.uint8)
    for b in (bias, None):
        expected = ref.qdense(x, sx, zx, wt, sw, zw, b, p["sy"], p["zy"], p["act"], p["qmin"], p["qmax"])
        for impl in (lib, dsp):
            y = np.empty((n, o), QDTYPE[p["storage"]])
            getattr(impl, fn)(x, fl(p["sx"]), i32(p["zx"]), wt, p["sw"], p["zw"], int(p["per_channel"]), b,
                              fl(p["sy"]), i32(p["zy"]), ACT[p["act"]], y, scratch, n, k, o)
            np.testing.assert_array_equal(y.astype(np.int32), expected)


def test_qdense_extreme_scales(lib: K.Kernels, dsp: K.Kernels) -> None:
    """Multipliers > 1 (left shifts that saturate), tiny ones (flushed to 0), extreme
    zero-points and the int8 range corners."""
    rng = rng_for("qdense extreme")
    n, k, o = 2, 24, 6
    x = rng.integers(-128, 128, (n, k)).astype(np.int8)
    x[0] = -128
    x[1, :12] = 127
    wt = rng.integers(-128, 128, (o, k)).astype(np.int8)
    wt[0] = -128
    scratch = np.empty(8 * o + 2 * k, np.uint8)
    for sx, sw, sy in [(1.0, 1.0, 1e-3), (0.5, 0.25, 3.0e-9), (1e-3, 1e-3, 1e6), (1e-20, 1e-20, 1.0), (0.02, 0.01, 2e-4)]:
        for zx, zy, act in [(-128, 127, "none"), (127, -128, "relu"), (0, 0, "relu6"), (-128, -128, "relu6")]:
            swa = np.full(o, sw, np.float32)
            zw = np.zeros(o, np.int32)
            expected = ref.qdense(x, np.float32(sx), zx, wt, swa, zw, None, np.float32(sy), zy, act)
            for impl in (lib, dsp):
                y = np.empty((n, o), np.int8)
                impl.odtc_dense_s8(x, fl(sx), i32(zx), wt, swa, zw, 1, None, fl(sy), i32(zy), ACT[act], y, scratch, n, k, o)
                np.testing.assert_array_equal(y.astype(np.int32), expected)


# ---------------------------------------------------------------------------------------
# Int32-accumulating backward primitives (exact integer oracle written here)
# ---------------------------------------------------------------------------------------


def _int_conv_grad_input(ed: NDArray[np.int64], wd_: NDArray[np.int64], case: tuple) -> NDArray[np.int64]:
    n, c, h, wd, o, kh, kw, stride, pad, groups = case
    oh, ow = out_hw(case)
    ci, og = c // groups, o // groups
    hp, wp = h + pad[0] + pad[2], wd + pad[1] + pad[3]
    dxp = np.zeros((n, c, hp, wp), np.int64)
    for oc in range(o):
        g = oc // og
        for ky in range(kh):
            for kx in range(kw):
                contrib = ed[:, oc, :, :, None] * wd_[oc, :, ky, kx][None, None, None, :]  # n, oh, ow, ci
                dxp[:, g * ci : (g + 1) * ci, ky : ky + stride[0] * (oh - 1) + 1 : stride[0],
                    kx : kx + stride[1] * (ow - 1) + 1 : stride[1]] += contrib.transpose(0, 3, 1, 2)
    return dxp[:, :, pad[0] : pad[0] + h, pad[1] : pad[1] + wd]


def _int_conv_grad_weight(xd: NDArray[np.int64], ed: NDArray[np.int64], case: tuple) -> NDArray[np.int64]:
    n, c, h, wd, o, kh, kw, stride, pad, groups = case
    oh, ow = out_hw(case)
    ci, og = c // groups, o // groups
    xp = np.pad(xd, ((0, 0), (0, 0), (pad[0], pad[2]), (pad[1], pad[3])))
    dw = np.zeros((o, ci, kh, kw), np.int64)
    for oc in range(o):
        g = oc // og
        for ky in range(kh):
            for kx in range(kw):
                win = xp[:, g * ci : (g + 1) * ci, ky : ky + stride[0] * (oh - 1) + 1 : stride[0],
                         kx : kx + stride[1] * (ow - 1) + 1 : stride[1]]
                dw[oc, :, ky, kx] = np.einsum("nchw,nhw->c", win, ed[:, oc])
    return dw


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_int32_backward_primitives(lib: K.Kernels, dsp: K.Kernels, case: tuple) -> None:
    n, c, h, w, o, kh, kw, stride, pad, groups = case
    rng = rng_for("qconv grads", case)
    oh, ow = out_hw(case)
    e = rng.integers(-128, 128, (n, o, oh, ow)).astype(np.int8)
    ze = int(rng.integers(-5, 6))
    wt = rng.integers(-128, 128, (o, c // groups, kh, kw)).astype(np.int8)
    zw = rng.integers(-4, 5, o).astype(np.int32)
    g = geometry(case)
    ed = e.astype(np.int64) - ze
    for per_channel in (True, False):
        zwa = zw if per_channel else np.full(o, zw[0], np.int32)
        expected = _int_conv_grad_input(ed, wt.astype(np.int64) - zwa.reshape(-1, 1, 1, 1).astype(np.int64), case)
        for impl in (lib, dsp):
            acc = np.empty((n, c, h, w), np.int32)
            impl.odtc_conv2d_s8_grad_input(e, i32(ze), wt, zw if per_channel else zw[:1], int(per_channel), acc, *g)
            np.testing.assert_array_equal(acc, expected)
    for storage in (S8, U8):
        x = _qdata(rng, (n, c, h, w), storage)
        zx = int(rng.integers(*QRANGE[storage]))
        expected = _int_conv_grad_weight(x.astype(np.int64) - zx, ed, case)
        fn = "odtc_conv2d_u8_grad_weight" if storage == U8 else "odtc_conv2d_s8_grad_weight"
        acc = np.empty((o, c // groups, kh, kw), np.int32)
        getattr(lib, fn)(x, i32(zx), e, i32(ze), acc, None, 0, *g)
        np.testing.assert_array_equal(acc, expected)
        chans = np.array(sorted({0, o - 1, o // 2}), np.int32)
        acc = np.empty((chans.size, c // groups, kh, kw), np.int32)
        getattr(lib, fn)(x, i32(zx), e, i32(ze), acc, chans, chans.size, *g)
        np.testing.assert_array_equal(acc, expected[chans])


@pytest.mark.parametrize("shape", [(1, 16, 10), (3, 37, 5), (2, 5, 1), (1, 203, 8)])
def test_dense_int32_backward_primitives(lib: K.Kernels, dsp: K.Kernels, shape: tuple[int, int, int]) -> None:
    n, k, o = shape
    rng = rng_for("qdense grads", shape)
    e = rng.integers(-128, 128, (n, o)).astype(np.int8)
    e[0, 0] = -128
    ze = int(rng.integers(-5, 6))
    wt = rng.integers(-128, 128, (o, k)).astype(np.int8)
    zw = rng.integers(-128, 128, o).astype(np.int32)
    ed = e.astype(np.int64) - ze
    for per_channel in (True, False):
        zwa = zw if per_channel else np.full(o, zw[0], np.int32)
        expected = ed @ (wt.astype(np.int64) - zwa[:, None])
        for impl in (lib, dsp):
            acc = np.empty((n, k), np.int32)
            impl.odtc_dense_s8_grad_input(e, i32(ze), wt, zw if per_channel else zw[:1], int(per_channel), acc, n, k, o)
            np.testing.assert_array_equal(acc, expected)
    for storage in (S8, U8):
        x = _qdata(rng, (n, k), storage)
        zx = int(rng.integers(*QRANGE[storage]))
        expected = ed.T @ (x.astype(np.int64) - zx)
        fn = "odtc_dense_u8_grad_weight" if storage == U8 else "odtc_dense_s8_grad_weight"
        acc = np.empty((o, k), np.int32)
        getattr(lib, fn)(x, i32(zx), e, i32(ze), acc, None, 0, n, k, o)
        np.testing.assert_array_equal(acc, expected)
        chans = np.array(sorted({0, o - 1}), np.int32)
        acc = np.empty((chans.size, k), np.int32)
        getattr(lib, fn)(x, i32(zx), e, i32(ze), acc, chans, chans.size, n, k, o)
        np.testing.assert_array_equal(acc, expected[chans])


# ---------------------------------------------------------------------------------------
# The Arm DSP code paths (band engine, grad_weight rows, dense loops) on more shapes: every
# case runs on the portable build and on the emulated-DSP build against the oracles
# ---------------------------------------------------------------------------------------

# (N, C, H, W, O, KH, KW, stride, padding [t, l, b, r], groups)
ENGINE_CASES = [
    (1, 16, 16, 16, 16, 3, 3, (1, 1), (1, 1, 1, 1), 1),  # the benchmark layer (24 pair rows)
    (2, 5, 7, 11, 7, 3, 3, (1, 1), (1, 1, 1, 1), 1),  # odd rows per pair, odd channel count, odd width
    (1, 32, 8, 8, 32, 1, 1, (1, 1), (0, 0, 0, 0), 1),  # pointwise, pair rows a multiple of 4
    (1, 6, 5, 9, 5, 1, 1, (1, 1), (0, 0, 0, 0), 1),  # pointwise, 3 pair rows, lone channel
    (1, 16, 9, 13, 16, 3, 3, (1, 1), (1, 1, 1, 1), 16),  # depthwise stride 1 (1 channel x 4 columns)
    (1, 8, 12, 12, 16, 3, 3, (1, 1), (0, 2, 1, 0), 8),  # depthwise, multiplier 2, asymmetric padding
    (1, 64, 6, 40, 10, 3, 3, (1, 1), (1, 1, 1, 1), 1),  # workspace split into channel blocks / bands
    (1, 3, 10, 10, 4, 5, 5, (1, 1), (2, 2, 2, 2), 1),  # 5x5 (generic tiles)
    (1, 4, 9, 9, 4, 3, 3, (2, 2), (1, 1, 1, 1), 1),  # stride 2
    (2, 4, 9, 10, 6, 3, 3, (2, 1), (1, 0, 1, 2), 2),  # row stride 2, grouped
    (3, 2, 6, 6, 3, 3, 2, (1, 1), (3, 2, 0, 3), 1),  # padding wider than the kernel
    (1, 2, 3, 2, 2, 3, 3, (1, 1), (1, 1, 1, 1), 1),  # image narrower than a 4-column group
]


def _zero_points_and_weights(rng: np.random.Generator, case: tuple) -> tuple[NDArray[np.int8], NDArray[np.int32]]:
    n, c, h, w, o, kh, kw, stride, pad, groups = case
    wt = rng.integers(-128, 128, (o, c // groups, kh, kw)).astype(np.int8)
    wt.reshape(-1)[:3] = [-128, 127, -128]
    zw = rng.integers(-6, 7, o).astype(np.int32)
    return wt, zw


@pytest.mark.parametrize("case", ENGINE_CASES)
@pytest.mark.parametrize("variant", QLAYER_VARIANTS)
def test_qconv2d_engine_shapes(lib: K.Kernels, dsp: K.Kernels, case: tuple, variant: tuple) -> None:
    n, c, h, w, o, kh, kw, stride, pad, groups = case
    rng = rng_for("qconv engine", case, variant)
    klen = (c // groups) * kh * kw
    p = _qparams(rng, o, klen, variant)
    x = _qdata(rng, (n, c, h, w), p["storage"])
    wt = rng.integers(-128, 128, (o, c // groups, kh, kw)).astype(np.int8)
    bias = rng.integers(-3000, 3000, o).astype(np.int32)
    oh, ow = out_hw(case)
    sx, zx, sw, zw = _ref_qargs(p)
    fn = "odtc_conv2d_u8" if p["storage"] == U8 else "odtc_conv2d_s8"
    scratch = np.empty(lib.odtc_conv2d_q8_scratch_bytes(c, groups, kh, kw, o), np.uint8)
    expected = ref.qconv2d(x, sx, zx, wt, sw, zw, bias, p["sy"], p["zy"], stride, pad, groups, p["act"], p["qmin"], p["qmax"])
    for impl in (lib, dsp):
        y = np.empty((n, o, oh, ow), QDTYPE[p["storage"]])
        getattr(impl, fn)(x, fl(p["sx"]), i32(p["zx"]), wt, p["sw"], p["zw"], int(p["per_channel"]), bias,
                          fl(p["sy"]), i32(p["zy"]), ACT[p["act"]], y, scratch, *geometry(case))
        np.testing.assert_array_equal(y.astype(np.int32), expected)


@pytest.mark.parametrize("case", ENGINE_CASES[:3])
def test_qconv2d_requantization_edges(lib: K.Kernels, dsp: K.Kernels, case: tuple) -> None:
    """Multipliers >= 1/2 (the general MBQM form), a zero-point outside the storage range
    (padding rows packed column by column), an accumulator range beyond the fast
    requantization (whole call on the portable path) and zero multipliers."""
    n, c, h, w, o, kh, kw, stride, pad, groups = case
    rng = rng_for("qconv edges", case)
    oh, ow = out_hw(case)
    x = rng.integers(-128, 128, (n, c, h, w)).astype(np.int8)
    wt = rng.integers(-128, 128, (o, c // groups, kh, kw)).astype(np.int8)
    scratch = np.empty(lib.odtc_conv2d_q8_scratch_bytes(c, groups, kh, kw, o), np.uint8)
    klen = (c // groups) * kh * kw
    sw_big = np.full(o, 0.05, np.float32)
    sw_big[1::2] = 1e-6
    sw_big[2] = 0.0
    cases = [
        (np.float32(0.02), 3, sw_big, np.zeros(o, np.int32), None, np.float32(0.001), -3, "none"),  # M >= 1/2
        (np.float32(0.02), -300, np.full(o, 1e-4, np.float32), np.zeros(o, np.int32), None, np.float32(0.3), 5, "relu"),
        (np.float32(0.02), 3, np.full(o, 1e-4, np.float32), np.zeros(o, np.int32),
         np.full(o, 2**29 - 1000, np.int32), np.float32(0.3), 0, "none"),  # |acc| beyond 2^29
        (np.float32(0.01), -128, np.full(o, 3e-4, np.float32), np.full(o, 127, np.int32),
         rng.integers(-99, 99, o).astype(np.int32), np.float32(0.05), 7, "relu6"),
    ]
    assert klen * 255 * 255 < 2**29  # the third case exceeds 2^29 only through its bias
    for sx, zx, sw, zw, bias, sy, zy, act in cases:
        expected = ref.qconv2d(x, sx, zx, wt, sw, zw, bias, sy, zy, stride, pad, groups, act)
        for impl in (lib, dsp):
            y = np.empty((n, o, oh, ow), np.int8)
            impl.odtc_conv2d_s8(x, fl(sx), i32(zx), wt, sw, zw, 1, bias, fl(sy), i32(zy), ACT[act], y, scratch,
                                *geometry(case))
            np.testing.assert_array_equal(y.astype(np.int32), expected)


@pytest.mark.parametrize("case", CONV_CASES + ENGINE_CASES)
def test_conv2d_int32_backward_dsp(lib: K.Kernels, dsp: K.Kernels, case: tuple) -> None:
    """grad_input and grad_weight (s8 and u8 inputs, all and a subset of the channels,
    per-channel and per-tensor weight zero-points) on both builds."""
    n, c, h, w, o, kh, kw, stride, pad, groups = case
    rng = rng_for("qconv grads dsp", case)
    oh, ow = out_hw(case)
    e = rng.integers(-128, 128, (n, o, oh, ow)).astype(np.int8)
    e.reshape(-1)[:2] = [-128, 127]
    ze = int(rng.integers(-5, 6))
    wt, zw = _zero_points_and_weights(rng, case)
    ed = e.astype(np.int64) - ze
    g = geometry(case)
    for per_channel in (True, False):
        zwa = zw if per_channel else np.full(o, zw[0], np.int32)
        expected = _int_conv_grad_input(ed, wt.astype(np.int64) - zwa.reshape(-1, 1, 1, 1).astype(np.int64), case)
        for impl in (lib, dsp):
            acc = np.full((n, c, h, w), 0x5A5A5A5A, np.int32)
            impl.odtc_conv2d_s8_grad_input(e, i32(ze), wt, zw if per_channel else zw[:1], int(per_channel), acc, *g)
            np.testing.assert_array_equal(acc, expected)
    for storage in (S8, U8):
        x = _qdata(rng, (n, c, h, w), storage)
        zx = int(rng.integers(*QRANGE[storage]))
        expected = _int_conv_grad_weight(x.astype(np.int64) - zx, ed, case)
        fn = "odtc_conv2d_u8_grad_weight" if storage == U8 else "odtc_conv2d_s8_grad_weight"
        chans = np.array(sorted({0, o - 1, o // 2, o // 3}), np.int32)
        for impl in (lib, dsp):
            acc = np.full((o, c // groups, kh, kw), 0x5A5A5A5A, np.int32)
            getattr(impl, fn)(x, i32(zx), e, i32(ze), acc, None, 0, *g)
            np.testing.assert_array_equal(acc, expected)
            acc = np.full((chans.size, c // groups, kh, kw), 0x5A5A5A5A, np.int32)
            getattr(impl, fn)(x, i32(zx), e, i32(ze), acc, chans, chans.size, *g)
            np.testing.assert_array_equal(acc, expected[chans])


DENSE_DSP_SHAPES = [(1, 256, 64), (1, 255, 7), (2, 37, 5), (4, 64, 9), (1, 8, 4), (3, 1024 + 13, 6), (1, 3, 1)]


@pytest.mark.parametrize("shape", DENSE_DSP_SHAPES)
@pytest.mark.parametrize("variant", QLAYER_VARIANTS)
def test_qdense_dsp_shapes(lib: K.Kernels, dsp: K.Kernels, shape: tuple[int, int, int], variant: tuple) -> None:
    """Aligned and unaligned weight rows, 8-input blocks plus quad and scalar tails."""
    n, k, o = shape
    rng = rng_for("qdense dsp", shape, variant)
    p = _qparams(rng, o, k, variant)
    x = _qdata(rng, (n, k), p["storage"])
    wt = rng.integers(-128, 128, (o, k)).astype(np.int8)
    bias = rng.integers(-3000, 3000, o).astype(np.int32)
    sx, zx, sw, zw = _ref_qargs(p)
    fn = "odtc_dense_u8" if p["storage"] == U8 else "odtc_dense_s8"
    scratch = np.empty(lib.odtc_dense_q8_scratch_bytes(k, o), np.uint8)
    expected = ref.qdense(x, sx, zx, wt, sw, zw, bias, p["sy"], p["zy"], p["act"], p["qmin"], p["qmax"])
    for impl in (lib, dsp):
        y = np.empty((n, o), QDTYPE[p["storage"]])
        getattr(impl, fn)(x, fl(p["sx"]), i32(p["zx"]), wt, p["sw"], p["zw"], int(p["per_channel"]), bias,
                          fl(p["sy"]), i32(p["zy"]), ACT[p["act"]], y, scratch, n, k, o)
        np.testing.assert_array_equal(y.astype(np.int32), expected)


@pytest.mark.parametrize("shape", DENSE_DSP_SHAPES)
def test_dense_int32_backward_dsp(lib: K.Kernels, dsp: K.Kernels, shape: tuple[int, int, int]) -> None:
    n, k, o = shape
    rng = rng_for("qdense grads dsp", shape)
    e = rng.integers(-128, 128, (n, o)).astype(np.int8)
    ze = int(rng.integers(-5, 6))
    wt = rng.integers(-128, 128, (o, k)).astype(np.int8)
    zw = rng.integers(-128, 128, o).astype(np.int32)
    ed = e.astype(np.int64) - ze
    for per_channel in (True, False):
        zwa = zw if per_channel else np.full(o, zw[0], np.int32)
        expected = ed @ (wt.astype(np.int64) - zwa[:, None])
        for impl in (lib, dsp):
            acc = np.full((n, k), 0x5A5A5A5A, np.int32)
            impl.odtc_dense_s8_grad_input(e, i32(ze), wt, zw if per_channel else zw[:1], int(per_channel), acc, n, k, o)
            np.testing.assert_array_equal(acc, expected)
    for storage in (S8, U8):
        x = _qdata(rng, (n, k), storage)
        zx = int(rng.integers(*QRANGE[storage]))
        expected = ed.T @ (x.astype(np.int64) - zx)
        fn = "odtc_dense_u8_grad_weight" if storage == U8 else "odtc_dense_s8_grad_weight"
        chans = np.array(sorted({0, o - 1, o // 2}), np.int32)
        for impl in (lib, dsp):
            acc = np.full((o, k), 0x5A5A5A5A, np.int32)
            getattr(impl, fn)(x, i32(zx), e, i32(ze), acc, None, 0, n, k, o)
            np.testing.assert_array_equal(acc, expected)
            acc = np.full((chans.size, k), 0x5A5A5A5A, np.int32)
            getattr(impl, fn)(x, i32(zx), e, i32(ze), acc, chans, chans.size, n, k, o)
            np.testing.assert_array_equal(acc, expected[chans])


def test_scratch_sizes(lib: K.Kernels) -> None:
    """The scratch functions return the header macros' values: the documented 8 KiB
    workspace, or more when one band column of a huge layer needs it."""
    for c, groups, kh, kw, o in [(16, 1, 3, 3, 16), (3, 1, 3, 3, 8), (16, 16, 3, 3, 16), (512, 1, 3, 3, 64)]:
        ci, og = c // groups, o // groups
        pairs = (ci * kh + 1) // 2
        expected = 8 * o + max(8192, 2 * ci * kh * kw, 4 * (4 * og + kw + 16 + pairs * (3 * kw + 8)))
        assert lib.odtc_conv2d_q8_scratch_bytes(c, groups, kh, kw, o) == expected
    assert lib.odtc_dense_q8_scratch_bytes(256, 64) == 8 * 64 + 2 * 256


def test_dsp_building_blocks_match_portable(lib: K.Kernels, dsp: K.Kernels) -> None:
    """Every length 0..13 (full 4-lane blocks plus each tail) and unaligned starts; the
    DSP build's activation lane order is the documented permutation."""
    rng = rng_for("dot blocks")
    for length in range(14):
        for off in (0, 1, 3):
            b = rng.integers(-128, 128, length + off).astype(np.int8)
            bu = rng.integers(0, 256, length + off).astype(np.uint8)
            b[off:][: min(length, 2)] = -128
            sub_b, sub_bu = b[off:].copy(), bu[off:].copy()
            for z in (0, -128, 127, 255, -3):
                exp_s = (sub_b.astype(np.int64) - z).astype(np.int16)
                exp_u = (sub_bu.astype(np.int64) - z).astype(np.int16)
                for impl in (lib, dsp):
                    a = np.empty(length, np.int16)
                    impl.odtc_offset_s8_to_s16(sub_b, z, a, length)
                    np.testing.assert_array_equal(a, exp_s)
                    impl.odtc_offset_u8_to_s16(sub_bu, z, a, length)
                    np.testing.assert_array_equal(a, exp_u)
                a16 = rng.integers(-255, 256, length).astype(np.int16)
                b1 = rng.integers(-128, 128, length).astype(np.int8)
                z1 = int(rng.integers(-128, 128)) if z else 0
                expected = int((a16.astype(np.int64) * (sub_b.astype(np.int64) - z)).sum())
                expected1 = int((a16.astype(np.int64) * (b1.astype(np.int64) - z1)).sum())
                for impl, permuted in ((lib, False), (dsp, True)):
                    a_l = a16.copy()
                    impl.odtc_dot_layout_s16(a_l, length)
                    perm = a16.copy()
                    if permuted:
                        quads = perm[: length // 4 * 4].reshape(-1, 4)
                        quads[:] = quads[:, [0, 2, 1, 3]]
                    np.testing.assert_array_equal(a_l, perm)
                    assert impl.odtc_dot_s16_s8(a_l, sub_b, z, length) == expected
                    out = np.zeros(2, np.int32)
                    impl.odtc_dot2_s16_s8(a_l, sub_b, z, b1, z1, length, out)
                    assert out.tolist() == [expected, expected1]
                w1 = rng.integers(-128, 128, length).astype(np.int8)
                acc0 = rng.integers(-(10**6), 10**6, length).astype(np.int32)
                e0, e1 = -255, 255  # z1 is 0 with z = 0: the DSP path without lane subtraction
                exp_acc = acc0 + e0 * (sub_b.astype(np.int64) - z) + e1 * (w1.astype(np.int64) - z1)
                for impl in (lib, dsp):
                    acc = acc0.copy()
                    impl.odtc_mac2_s8(acc, sub_b, z, e0, w1, z1, e1, length)
                    np.testing.assert_array_equal(acc, exp_acc)


# ---------------------------------------------------------------------------------------
# Sanitizers and cross compilation
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(SANITIZED, reason="already running under the sanitizers")
def test_sanitized_build() -> None:
    """Run this file's host tests again against an ASan/UBSan build of the library (in a
    subprocess: ctypes needs the ASan runtime preloaded); any report fails the run."""
    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not libasan or not Path(libasan).is_file():
        pytest.fail("gcc has no libasan.so: the ASan/UBSan run is required (install gcc's libasan)")
    env = dict(os.environ)
    env.update(
        ODTC_KERNELS_SANITIZE="1",
        LD_PRELOAD=libasan,
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:exitcode=97",
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=98",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__,
         "-m", "not arm", "-k", "not sanitized"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "runtime error" not in out and "AddressSanitizer" not in out, out[-6000:]


ARM_TARGETS = {
    "cortex-m4": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m7": ["-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"],
    "cortex-m55": ["-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"],
}


@pytest.mark.arm
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_arm_cross_compile(target: str, tmp_path: Path) -> None:
    """All sources compile warning-free (-Werror) for the target (Cortex-M7 is compiled,
    linked and run by the QEMU test below)."""
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    cmd = [cc, *ARM_TARGETS[target], *K.CFLAGS, "-I", str(K.INCLUDE_DIR), "-c", *map(str, K.sources())]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    # the DSP path is really taken on these cores: the dot product uses SMLAD
    objdump = shutil.which("arm-none-eabi-objdump")
    if objdump is not None:
        dis = subprocess.run([objdump, "-d", str(tmp_path / "dot_s8.o")], capture_output=True, text=True).stdout
        assert "smlad" in dis and "sxtb16" in dis


# ---------------------------------------------------------------------------------------
# Real Cortex-M cores under QEMU: the DSP path (and the FPU) must reproduce the host
# ---------------------------------------------------------------------------------------

# A C program that runs kernels on deterministic data and prints one FNV-1a hash per
# output buffer; the host build (portable path, SSE floats) and the Cortex-M builds (DSP
# intrinsics, single-precision FPU, newlib) must print identical lines -- including the
# softmax loss and its gradient and a sweep of odtc_expf/odtc_logf/odtc_powi, which use no
# libm transcendental. Built and run with odtc.runtime.emulator (the project's startup
# code and linker scripts).
DRIVER_C = r"""/* Runs kernels on deterministic data and prints one FNV-1a hash per output buffer. */
#include <stdio.h>
#include <string.h>
#include "odtc_kernels.h"

static uint32_t seed = 12345u;
static uint32_t rnd(void) { seed = seed * 1664525u + 1013904223u; return seed >> 8; }
static void fill_s8(int8_t *p, int n) { for (int i = 0; i < n; ++i) p[i] = (int8_t)((int)(rnd() & 0xFF) - 128); }
static void fill_u8(uint8_t *p, int n) { for (int i = 0; i < n; ++i) p[i] = (uint8_t)(rnd() & 0xFF); }
static void fill_f32(float *p, int n) { for (int i = 0; i < n; ++i) p[i] = (float)((int)(rnd() % 2001u) - 1000) / 256.0f; }
static void report(const char *name, const void *p, size_t bytes)
{
    const unsigned char *b = (const unsigned char *)p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < bytes; ++i) { h ^= b[i]; h *= 16777619u; }
    printf("%s %08lx\n", name, (unsigned long)h);
}

static int8_t xs8[2 * 6 * 9 * 10], ws8[12 * 6 * 3 * 3], ys8[2 * 12 * 9 * 10];
static uint8_t xu8[2 * 6 * 9 * 10], yu8[2 * 12 * 9 * 10];
static int32_t bias[64], acc[4096];
static float xf[2 * 6 * 9 * 10], wf[12 * 6 * 3 * 3], yf[2 * 12 * 9 * 10], gf[2 * 12 * 9 * 10], df[4096];
static float mf[4096], vf[4096], af[4096];
static uint32_t scratch_words[4096];
static int8_t xb8[8192] __attribute__((aligned(4))), wb8[8192] __attribute__((aligned(4))), eb8[4096], yb8[4096];
static uint8_t xbu8[8192];
static int32_t accb[8192];

int main(void)
{
    fill_s8(xs8, sizeof xs8); fill_u8(xu8, sizeof xu8); fill_s8(ws8, sizeof ws8);
    for (int i = 0; i < 64; ++i) bias[i] = (int32_t)(rnd() % 6001u) - 3000;
    fill_f32(xf, sizeof xf / 4); fill_f32(wf, sizeof wf / 4); fill_f32(gf, sizeof gf / 4);
    const float sx = 0.02f, sy = 0.05f, sy6 = 0.04f;
    float sw[12]; int32_t zw[12], zw0[12] = {0};
    for (int i = 0; i < 12; ++i) { sw[i] = 0.0004f + 0.00003f * (float)i; zw[i] = (int32_t)(i % 5) - 2; }
    const int32_t zx = 3, zxu = 131, zy = -5, zyu = 40;
    /* geometries: n c h w o kh kw sh sw pt pl pb pr groups */
    const int32_t geo[4][14] = {
        {2, 6, 9, 10, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {1, 6, 9, 10, 12, 3, 3, 2, 2, 0, 1, 2, 0, 2},
        {2, 6, 9, 10, 6, 3, 3, 2, 1, 1, 0, 1, 2, 6},
        {1, 6, 9, 10, 12, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    };
    char name[64];
    for (int g = 0; g < 4; ++g) {
        const int32_t *q = geo[g];
        const int32_t oh = odtc_conv_out_size(q[2], q[5], q[7], q[9], q[11]);
        const int32_t ow = odtc_conv_out_size(q[3], q[6], q[8], q[10], q[12]);
        const size_t ny = (size_t)q[0] * q[4] * oh * ow;
        for (int act = 0; act < 3; ++act) {
            odtc_conv2d_s8(xs8, &sx, &zx, ws8, sw, zw, 1, bias, act == 2 ? &sy6 : &sy, &zy, act, ys8, scratch_words,
                           q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13]);
            sprintf(name, "conv2d_s8/%d/%d", g, act); report(name, ys8, ny);
            odtc_conv2d_u8(xu8, &sx, &zxu, ws8, sw, zw0, act & 1, act ? bias : NULL, act == 2 ? &sy6 : &sy, &zyu, act, yu8, scratch_words,
                           q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13]);
            sprintf(name, "conv2d_u8/%d/%d", g, act); report(name, yu8, ny);
        }
        odtc_conv2d_s8_grad_input(ys8, &zy, ws8, zw, 1, acc, q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13]);
        sprintf(name, "conv2d_s8_grad_input/%d", g); report(name, acc, (size_t)q[0] * q[1] * q[2] * q[3] * 4);
        odtc_conv2d_u8_grad_weight(xu8, &zxu, ys8, &zy, acc, NULL, 0, q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13]);
        sprintf(name, "conv2d_u8_grad_weight/%d", g); report(name, acc, (size_t)q[4] * (q[1] / q[13]) * q[5] * q[6] * 4);
        odtc_conv2d_f32(xf, wf, xf, yf, q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13]);
        sprintf(name, "conv2d_f32/%d", g); report(name, yf, ny * 4);
        odtc_conv2d_f32_grad_input(gf, wf, df, q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13]);
        sprintf(name, "conv2d_f32_grad_input/%d", g); report(name, df, (size_t)q[0] * q[1] * q[2] * q[3] * 4);
        odtc_conv2d_f32_grad_weight(xf, gf, df, NULL, 0, q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13]);
        sprintf(name, "conv2d_f32_grad_weight/%d", g); report(name, df, (size_t)q[4] * (q[1] / q[13]) * q[5] * q[6] * 4);
    }
    /* dense: n = 3, k = 37 (odd tails), o = 11 (odd row count) */
    for (int act = 0; act < 3; ++act) {
        odtc_dense_s8(xs8, &sx, &zx, ws8, sw, zw, 1, bias, &sy, &zy, act, ys8, scratch_words, 3, 37, 11);
        sprintf(name, "dense_s8/%d", act); report(name, ys8, 33);
        odtc_dense_u8(xu8, &sx, &zxu, ws8, sw, zw, act != 1, bias, &sy6, &zyu, act, yu8, scratch_words, 3, 37, 11);
        sprintf(name, "dense_u8/%d", act); report(name, yu8, 33);
    }
    odtc_dense_s8_grad_input(ys8, &zy, ws8, zw, 1, acc, 3, 37, 11); report("dense_s8_grad_input", acc, 3 * 37 * 4);
    odtc_dense_s8_grad_input(ys8, &zy, ws8, zw0, 0, acc, 3, 37, 11); report("dense_s8_grad_input/sym", acc, 3 * 37 * 4);
    odtc_dense_s8_grad_weight(xs8, &zx, ys8, &zy, acc, NULL, 0, 3, 37, 11); report("dense_s8_grad_weight", acc, 11 * 37 * 4);
    odtc_dense_f32(xf, wf, wf, yf, 3, 37, 11); report("dense_f32", yf, 33 * 4);
    for (int len = 0; len < 14; ++len) {
        int16_t a[16];
        odtc_offset_s8_to_s16(xs8 + 1, -7, a, len);
        odtc_dot_layout_s16(a, len);
        int32_t d = odtc_dot_s16_s8(a, ws8 + 3, 2, len);
        odtc_offset_u8_to_s16(xu8 + 2, 200, a, len);
        odtc_dot_layout_s16(a, len);
        int32_t d2 = odtc_dot_s16_s8(a, ws8 + 1, 0, len);
        int32_t m[16] = {0};
        odtc_mac2_s8(m, ws8 + 5, 3, -255, ws8 + 6, -4, 255, len);
        sprintf(name, "blocks/%d", len);
        int32_t all[18]; all[0] = d; all[1] = d2; memcpy(all + 2, m, sizeof m);
        report(name, all, sizeof all);
    }
    /* quantization and element-wise fp32 */
    int32_t zq[1] = {-3};
    float sq[1] = {0.01f};
    odtc_quantize(xf, ys8, ODTC_S8, 1, 1, 1080, sq, zq, 0); report("quantize_s8", ys8, 1080);
    odtc_requantize(ys8, ODTC_S8, yu8, ODTC_U8, 1080, &sx, &zy, &sy6, &zyu); report("requantize", yu8, 1080);
    odtc_dequantize(yu8, ODTC_U8, yf, 1, 1, 1080, &sy6, &zyu, 0); report("dequantize", yf, 1080 * 4);
    odtc_maxpool2d_f32(xf, yf, 2, 6, 9, 10, 3, 3, 2, 2, 1, 1, 1, 1); report("maxpool", yf, 2 * 6 * 5 * 5 * 4);
    odtc_avgpool2d_f32(xf, yf, 2, 6, 9, 10, 3, 3, 2, 2, 1, 1, 1, 1, 0); report("avgpool", yf, 2 * 6 * 5 * 5 * 4);
    const float var6[6] = {0.5f, 1.0f, 2.0f, 0.25f, 3.0f, 0.125f};
    odtc_batchnorm_f32(xf, wf, wf + 6, wf + 12, var6, yf, 2, 6, 90, 1e-5f); report("batchnorm", yf, 1080 * 4);
    memcpy(af, xf, 1080 * 4); memset(mf, 0, sizeof mf); memset(vf, 0, sizeof vf);
    int32_t step = 0;
    for (int i = 0; i < 3; ++i) {
        odtc_adam_update_f32(af, mf, vf, &step, gf + i * 100, NULL, NULL, 100, 1, 0, 0, 1e-3, 0.9, 0.999, 1e-8);
        odtc_momentum_update_f32(af + 200, vf + 200, gf + i * 50, NULL, NULL, 50, 1, 0, 0, 0.01f, 0.9f);
    }
    report("optimizers", af, 1080 * 4);
    float loss = odtc_mse_f32(xf, wf, 100);
    report("mse", &loss, 4);
    /* softmax cross-entropy: 12 rows of 10 classes at three logit scales */
    int32_t labels[12];
    for (int i = 0; i < 12; ++i) labels[i] = (int32_t)(rnd() % 10u);
    for (int sc = 0; sc < 3; ++sc) {
        const float scale = sc == 0 ? 1.0f : (sc == 1 ? 30.0f : 1000.0f);
        for (int i = 0; i < 120; ++i) yf[i] = xf[i] * scale;
        loss = odtc_softmax_cross_entropy_f32(yf, labels, 12, 10);
        sprintf(name, "softmax_cross_entropy/%d", sc); report(name, &loss, 4);
        odtc_softmax_cross_entropy_f32_grad(yf, labels, df, 12, 10);
        sprintf(name, "softmax_cross_entropy_grad/%d", sc); report(name, df, 120 * 4);
    }
    /* the transcendental functions themselves, over their whole range */
    for (int f = 0; f < 2; ++f) {
        uint32_t h = 2166136261u;
        for (uint32_t i = 0; i < 40000u; ++i) {
            const uint32_t bits = i * 107377u + (uint32_t)f * 12345u; /* spread over all patterns */
            float x, r;
            memcpy(&x, &bits, 4);
            r = f == 0 ? odtc_expf(x) : odtc_logf(x);
            uint32_t rb;
            memcpy(&rb, &r, 4);
            if (r != r) rb = 0x7FC00000u; /* NaN payloads may differ */
            for (int b = 0; b < 4; ++b) { h ^= (rb >> (8 * b)) & 0xFFu; h *= 16777619u; }
        }
        printf("%s %08lx\n", f == 0 ? "expf_sweep" : "logf_sweep", (unsigned long)h);
    }
    double pw[8];
    for (int i = 0; i < 8; ++i) pw[i] = odtc_powi(i & 1 ? 0.999 : 0.9, 1 + i * 7919);
    report("powi", pw, sizeof pw);
    /* the shapes of the DSP assembly loops: band engine tiles (3x3 stride 1 pairs, 1x1 with
       pair rows a multiple of 4, the lone-channel 1x4 tile), channel blocks, row-stride 2,
       grad_weight's 2x3 tile; dense with word-aligned and unaligned weight rows */
    fill_s8(xb8, sizeof xb8); fill_u8(xbu8, sizeof xbu8); fill_s8(wb8, sizeof wb8); fill_s8(eb8, sizeof eb8);
    const int32_t geo2[7][14] = {
        {1, 16, 10, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {2, 5, 7, 11, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {1, 32, 6, 6, 32, 1, 1, 1, 1, 0, 0, 0, 0, 1},
        {1, 16, 9, 13, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16},
        {1, 8, 12, 12, 16, 3, 3, 1, 1, 0, 2, 1, 0, 8},
        {1, 64, 5, 20, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {2, 4, 9, 10, 6, 3, 3, 2, 1, 1, 0, 1, 2, 2},
    };
    float sw2[64]; int32_t zw2[64], zw20[64] = {0}, bias2[64];
    for (int i = 0; i < 64; ++i) { sw2[i] = 0.0002f + 0.00001f * (float)i; zw2[i] = (int32_t)(i % 7) - 3; bias2[i] = (int32_t)(rnd() % 4001u) - 2000; }
    const int32_t chans2[3] = {0, 3, 5};
    for (int gI = 0; gI < 7; ++gI) {
        const int32_t *q = geo2[gI];
        const int32_t oh = odtc_conv_out_size(q[2], q[5], q[7], q[9], q[11]);
        const int32_t ow = odtc_conv_out_size(q[3], q[6], q[8], q[10], q[12]);
        const size_t ny = (size_t)q[0] * q[4] * oh * ow;
        if (ODTC_CONV2D_Q8_SCRATCH_BYTES(q[1], q[13], q[5], q[6], q[4]) > sizeof scratch_words) return 5;
        odtc_conv2d_s8(xb8, &sx, &zx, wb8, sw2, zw2, 1, bias2, &sy, &zy, ODTC_ACT_RELU, yb8, scratch_words,
                       q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13]);
        sprintf(name, "dsp/conv2d_s8/%d", gI); report(name, yb8, ny);
        odtc_conv2d_u8(xbu8, &sx, &zxu, wb8, sw2, zw20, 0, NULL, &sy6, &zyu, ODTC_ACT_RELU6, (uint8_t *)yb8, scratch_words,
                       q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13]);
        sprintf(name, "dsp/conv2d_u8/%d", gI); report(name, yb8, ny);
        odtc_conv2d_s8_grad_input(eb8, &zy, wb8, zw2, 1, accb, q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13]);
        sprintf(name, "dsp/conv2d_s8_grad_input/%d", gI); report(name, accb, (size_t)q[0] * q[1] * q[2] * q[3] * 4);
        odtc_conv2d_s8_grad_weight(xb8, &zx, eb8, &zy, accb, NULL, 0, q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13]);
        sprintf(name, "dsp/conv2d_s8_grad_weight/%d", gI); report(name, accb, (size_t)q[4] * (q[1] / q[13]) * q[5] * q[6] * 4);
        odtc_conv2d_u8_grad_weight(xbu8, &zxu, eb8, &zy, accb, chans2, 3, q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13]);
        sprintf(name, "dsp/conv2d_u8_grad_weight/%d", gI); report(name, accb, (size_t)3 * (q[1] / q[13]) * q[5] * q[6] * 4);
    }
    /* dense: aligned rows (k = 256), unaligned rows (w + 1, k = 255), batch 2 */
    odtc_dense_s8(xb8, &sx, &zx, wb8, sw2, zw2, 1, bias2, &sy, &zy, ODTC_ACT_NONE, yb8, scratch_words, 1, 256, 16);
    report("dsp/dense_s8/aligned", yb8, 16);
    odtc_dense_u8(xbu8, &sx, &zxu, wb8 + 1, sw2, zw2, 0, bias2, &sy6, &zyu, ODTC_ACT_RELU6, (uint8_t *)yb8, scratch_words, 2, 255, 7);
    report("dsp/dense_u8/unaligned", yb8, 14);
    odtc_dense_s8_grad_input(eb8, &zy, wb8, zw2, 1, accb, 1, 256, 18); report("dsp/dense_grad_input/256", accb, 256 * 4);
    odtc_dense_s8_grad_input(eb8, &zy, wb8 + 3, zw2, 0, accb, 2, 101, 7); report("dsp/dense_grad_input/101", accb, 202 * 4);
    odtc_dense_s8_grad_weight(xb8, &zx, eb8, &zy, accb, NULL, 0, 1, 256, 16); report("dsp/dense_grad_weight/256", accb, 16 * 256 * 4);
    odtc_dense_u8_grad_weight(xbu8, &zxu, eb8, &zy, accb, chans2, 3, 1, 203, 9); report("dsp/dense_grad_weight/203", accb, 3 * 203 * 4);
    return 0;
}
"""

@pytest.fixture(scope="session")
def host_driver_output(build_dir: Path) -> str:
    (build_dir / "driver.c").write_text(DRIVER_C)
    exe = emulator.build_host_executable(
        [build_dir / "driver.c", *K.sources()], build_dir / "driver_host", include_dirs=[K.INCLUDE_DIR]
    )
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True, timeout=60).stdout


@pytest.mark.arm
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m7", "cortex-m55"])
def test_qemu_matches_host_bit_exactly(target: str, tmp_path: Path, host_driver_output: str) -> None:
    if not emulator.toolchain_available():
        pytest.skip("needs arm-none-eabi-gcc (newlib) and qemu-system-arm")
    (tmp_path / "driver.c").write_text(DRIVER_C)
    elf = emulator.build_elf([tmp_path / "driver.c", *K.sources()], target, tmp_path / "driver.elf",
                             include_dirs=[K.INCLUDE_DIR])
    run = emulator.run_elf(elf, target)
    assert run.exit_code == 0, run.stdout + run.stderr
    got, want = run.stdout.splitlines(), host_driver_output.splitlines()
    assert len(want) > 60
    diff = [f"{g}  (host: {w})" for g, w in zip(got, want) if g != w]
    assert len(got) == len(want) and not diff, "\n".join(diff)
