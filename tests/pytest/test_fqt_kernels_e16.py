"""Fully quantized training with 16-bit error tensors (si16, ODTC_S16): the int16-error
kernels of runtime/c against runtime/fqt.py, BIT-EXACT.

* odtc_dense_s16_grad_input / odtc_conv2d_s16_grad_input = fqt.qdense_grad_input /
  fqt.qconv2d_grad_input with int16 e;
* odtc_q{dense,conv2d}_grad_weight_sgd_{s8,u8}_e16 = the compact gradient of
  fqt.q{dense,conv2d}_grad_weight followed by fqt.qgrad_weight_sgd_apply (as
  test_fqt_kernels.py checks the int8-error kernels), with and without a selection, both
  roundings, updated weights and row_range state, unselected rows untouched;
* the storage-generic kernels with e_storage / y_storage ODTC_S16: odtc_qrelu_grad,
  odtc_qrelu6_grad, odtc_qmask_grad, odtc_qgrad_bias, odtc_topk_structures,
  odtc_requantize_acc, odtc_quantize, odtc_qadd / odtc_qadd_range.

The random cases draw errors over the full int16 range, on shapes small enough that no
int32 accumulator can overflow (asserted per case: max|e - ze| * max|other - z| * K < 2^31,
K the reduction length; with zero zero-points that is 32768 * 128 * K < 2^31 for the
weights). The saturation cases go past int32: the int16-error kernels sum exactly (int64)
and store the sum saturated to int32, as fqt.py. With asymmetric int16 errors at the
extremes (e = 32767, ze = -32768: |e - ze| = 65535) and 8-bit operands at theirs
(|v - zv| = 255) one product is 16711425 and 129 of them exceed int32: those cases have
sums that saturate next to sums that just fit (so a wrapping int32 kernel fails), and sums
whose partial sums in the kernel's order leave int32 while the final sum does not (so an
int32 accumulator overflows: UBSan reports it; a saturating one gives the wrong value).
The exact sums they are checked against come from fqt.py itself, by linearity in e
(`exact_by_digits`). A C driver runs the saturation cases on the host, under ASan/UBSan
and on Cortex-M (QEMU).

Every output buffer carries a guard tail (kernel_harness.Out). Both the portable build and
the emulated-DSP build (-DODTC_EMULATE_DSP: the int8 paths next to the new code) run the
layer kernels, and the file runs again against an ASan/UBSan build."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from conftest import KERNELS_SANITIZED, rerun_under_sanitizers
from kernel_harness import (e16, I16_MAX, I16_MIN, INT32_LIMIT, ROUND, S16, SEEDS, U8, CDriver, cf, driver_tests, fl, i32,
                            Out, qdata, rng_for, same, selection, storage_of, zero_point)
from odtc.runtime import fqt
from odtc.runtime import kernels as K
from odtc.runtime import reference as ref

# The edge cases make numpy warn (x / 0, inf * 0, overflow): expected, not a problem.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SANITIZED = KERNELS_SANITIZED
S32, F32 = 3, 4


# ---------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------


def ze16(rng: np.random.Generator, seed: int) -> int:
    """The error zero-point: 0 (symmetric errors, the compiler's usual choice) or small."""
    return 0 if seed % 2 == 0 else int(rng.integers(-300, 300))


def max_diff(lo: int, hi: int, z: int) -> int:
    return max(hi - z, z - lo)


def assert_no_overflow(ze: int, other_lo: int, other_hi: int, zo: int, k: int) -> None:
    """For the cases that compare with in-range sums: every partial sum of K products
    (e - ze) * (v - zv) of the test data stays inside int32 (the saturating and
    int32-crossing cases are separate tests)."""
    bound = max_diff(I16_MIN, I16_MAX, ze) * max_diff(other_lo, other_hi, zo) * k
    assert bound < INT32_LIMIT, f"test case could overflow int32: bound {bound}, K {k}"


def xrange_of(dtype: Any) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


# (n, c, h, w, o, kh, kw, stride, padding [top, left, bottom, right], groups)
CONV_CASES = [
    (2, 3, 6, 6, 4, 3, 3, (1, 1), (0, 0, 0, 0), 1),  # stride 1, no padding
    (2, 4, 7, 7, 6, 3, 3, (2, 2), (1, 1, 1, 1), 1),  # stride 2, padding
    (1, 6, 8, 8, 6, 3, 3, (1, 1), (1, 1, 1, 1), 6),  # depthwise
    (2, 4, 9, 7, 4, 3, 3, (2, 2), (0, 1, 1, 0), 4),  # depthwise, stride 2, asymmetric padding
    (1, 4, 5, 6, 6, 1, 1, (1, 1), (0, 0, 0, 0), 2),  # pointwise, grouped
    (1, 3, 5, 6, 5, 2, 3, (2, 1), (1, 0, 2, 1), 1),  # mixed strides, odd O
    (1, 2, 4, 5, 3, 2, 2, (1, 1), (3, 2, 0, 3), 1),  # padding wider than the kernel
]


# ---------------------------------------------------------------------------------------
# grad_input with int16 errors
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 16, 10), (3, 37, 7), (2, 5, 1), (4, 1, 33), (2, 64, 200)])
@pytest.mark.parametrize("seed", SEEDS[:2])
def test_dense_s16_grad_input(lib: K.Kernels, shape: tuple[int, int, int], seed: int) -> None:
    n, k, o = shape
    rng = rng_for("dense_s16_grad_input", shape, seed)
    e, w = e16(rng, (n, o)), qdata(rng, (o, k), np.int8)
    ze, zw = ze16(rng, seed), (0 if seed == 0 else int(rng.integers(-20, 20)))
    assert 32768 * 128 * o < INT32_LIMIT
    assert_no_overflow(ze, -128, 127, zw, o)
    out = Out((n, k), np.int32)
    lib.odtc_dense_s16_grad_input(e, i32(ze), w, i32(zw), 0, out.ptr, n, k, o)
    same(out.value(), fqt.qdense_grad_input(e, ze, w, zw))


def test_dense_s16_grad_input_extremes(lib: K.Kernels) -> None:
    """The largest sums the bound admits: K = 511, every product 32768 * 128 (and the
    negative extreme), so acc = +-2143289344, just inside int32."""
    n, k, o = 2, 3, 511
    assert 32768 * 128 * o < INT32_LIMIT
    e = np.full((n, o), I16_MIN, np.int16)
    w = np.full((o, k), -128, np.int8)
    w[:, 1] = 127
    out = Out((n, k), np.int32)
    lib.odtc_dense_s16_grad_input(e, i32(0), w, i32(0), 0, out.ptr, n, k, o)
    expected = fqt.qdense_grad_input(e, 0, w, 0)
    assert int(expected[0, 0]) == 32768 * 128 * o
    same(out.value(), expected)


@pytest.mark.parametrize("shape", [(1, 16, 10), (3, 37, 7)])
def test_dense_s16_grad_input_matches_s8(lib: K.Kernels, shape: tuple[int, int, int]) -> None:
    """int16 errors inside the int8 range give exactly odtc_dense_s8_grad_input."""
    n, k, o = shape
    rng = rng_for("dense_s16_vs_s8", shape)
    e8, w = qdata(rng, (n, o), np.int8), qdata(rng, (o, k), np.int8)
    ze, zw = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    a, b = Out((n, k), np.int32), Out((n, k), np.int32)
    lib.odtc_dense_s8_grad_input(e8, i32(ze), w, i32(zw), 0, a.ptr, n, k, o)
    lib.odtc_dense_s16_grad_input(e8.astype(np.int16), i32(ze), w, i32(zw), 0, b.ptr, n, k, o)
    same(b.value(), a.value())


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("seed", SEEDS[:2])
def test_conv2d_s16_grad_input(lib: K.Kernels, case: tuple, seed: int) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    rng = rng_for("conv2d_s16_grad_input", case, seed)
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    e, w = e16(rng, (n, o, oh, ow)), qdata(rng, (o, c // groups, kh, kw), np.int8)
    ze, zw = ze16(rng, seed), (0 if seed == 0 else int(rng.integers(-20, 20)))
    taps = (o // groups) * kh * kw  # the most products summed into one input position
    assert 32768 * 128 * taps < INT32_LIMIT
    assert_no_overflow(ze, -128, 127, zw, taps)
    out = Out((n, c, h, wd), np.int32)
    lib.odtc_conv2d_s16_grad_input(e, i32(ze), w, i32(zw), 0, out.ptr, n, c, h, wd, o, kh, kw, *stride, *padding,
                                   groups)
    same(out.value(), fqt.qconv2d_grad_input(e, ze, w, zw, (n, c, h, wd), stride, padding, groups))


@pytest.mark.parametrize("case", CONV_CASES[:4])
def test_conv2d_s16_grad_input_matches_s8(lib: K.Kernels, case: tuple) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    rng = rng_for("conv2d_s16_vs_s8", case)
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    e8, w = qdata(rng, (n, o, oh, ow), np.int8), qdata(rng, (o, c // groups, kh, kw), np.int8)
    ze, zw = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    a, b = Out((n, c, h, wd), np.int32), Out((n, c, h, wd), np.int32)
    geo = (n, c, h, wd, o, kh, kw, *stride, *padding, groups)
    lib.odtc_conv2d_s8_grad_input(e8, i32(ze), w, i32(zw), 0, a.ptr, *geo)
    lib.odtc_conv2d_s16_grad_input(e8.astype(np.int16), i32(ze), w, i32(zw), 0, b.ptr, *geo)
    same(b.value(), a.value())


# ---------------------------------------------------------------------------------------
# Fused grad-weight + SGD with int16 errors
# ---------------------------------------------------------------------------------------


def _fused_case(rng: np.random.Generator, seed: int, xdtype: Any, o: int, wshape: tuple[int, ...]):
    w = qdata(rng, wshape, np.int8)
    zx = zero_point(rng, xdtype)
    ze = ze16(rng, seed)
    zw = int(rng.integers(-20, 20))
    rr = fqt.row_range_of(w, zw)
    # gradients of int16 errors are ~2^8 larger than those of int8 ones: smaller g_scale
    sg, sw = np.float32(rng.uniform(1e-9, 1e-7)), np.float32(rng.uniform(1e-3, 1e-2))
    lr = float(rng.choice([0.01, 0.1, 1.0, 50.0]))
    if seed == 0:
        sel = None
    elif seed == 1:
        sel = selection(rng, o, o)
    elif seed == 2:
        sel = selection(rng, o, 1)
    else:
        sel = selection(rng, o, int(rng.integers(1, o + 1)))
    idx, k = sel if sel is not None else (None, None)
    step = int(rng.integers(0, 10**6))
    return w, zx, ze, zw, rr, sg, sw, lr, idx, k, step


def _check_fused(cw: NDArray[Any], crr: NDArray[Any], w: NDArray[Any], rr: NDArray[Any], ew: NDArray[Any],
                 err: NDArray[Any], idx: NDArray[np.int32] | None, k: NDArray[np.int32] | None, o: int) -> None:
    same(cw, ew)
    same(crr, err)
    rows = set(range(o)) if idx is None else {int(v) for v in idx[: int(k[0])]}  # type: ignore[index]
    for r in set(range(o)) - rows:
        same(cw[r], w[r])
        same(crr[r], rr[r])


@pytest.mark.parametrize("shape", [(1, 16, 10), (3, 37, 7), (2, 5, 1), (4, 200, 3)])
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_qdense_grad_weight_sgd_e16(lib: K.Kernels, shape: tuple[int, int, int], xdtype: Any,
                                    rounding: str) -> None:
    n, kdim, o = shape
    sfx = "u8" if xdtype == np.uint8 else "s8"
    fn = getattr(lib, f"odtc_qdense_grad_weight_sgd_{sfx}_e16")
    for seed in SEEDS:
        rng = rng_for("qdense_sgd_e16", shape, sfx, rounding, seed)
        x, e = qdata(rng, (n, kdim), xdtype), e16(rng, (n, o))
        w, zx, ze, zw, rr, sg, sw, lr, idx, k, step = _fused_case(rng, seed, xdtype, o, (o, kdim))
        assert_no_overflow(ze, *xrange_of(xdtype), zx, n)
        g = fqt.qdense_grad_weight(x, zx, e, ze, idx, k)
        ew, err = fqt.qgrad_weight_sgd_apply(w, sw, zw, g, sg, rr, lr, -128, 127, rounding, seed, step, idx, k)
        cw, crr = w.copy(), rr.copy()
        scratch = Out((kdim,), np.int32)  # ODTC_QGRAD_WEIGHT_SGD_SCRATCH_BYTES(row_len) / 4
        fn(x, i32(zx), e, i32(ze), fl(sg), fl(sw), i32(zw), 0, cw, crr, idx, k, i32(step), scratch.ptr, n, kdim, o, lr,
           ROUND[rounding], seed)
        scratch.value()
        _check_fused(cw, crr, w, rr, ew, err, idx, k, o)


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_qconv2d_grad_weight_sgd_e16(lib: K.Kernels, case: tuple, xdtype: Any, rounding: str) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    sfx = "u8" if xdtype == np.uint8 else "s8"
    fn = getattr(lib, f"odtc_qconv2d_grad_weight_sgd_{sfx}_e16")
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    wshape = (o, c // groups, kh, kw)
    row_len = int(np.prod(wshape[1:]))
    for seed in SEEDS:
        rng = rng_for("qconv2d_sgd_e16", case, sfx, rounding, seed)
        x, e = qdata(rng, (n, c, h, wd), xdtype), e16(rng, (n, o, oh, ow))
        w, zx, ze, zw, rr, sg, sw, lr, idx, k, step = _fused_case(rng, seed, xdtype, o, wshape)
        assert_no_overflow(ze, *xrange_of(xdtype), zx, n * oh * ow)
        g = fqt.qconv2d_grad_weight(x, zx, e, ze, wshape, stride, padding, groups, idx, k)
        ew, err = fqt.qgrad_weight_sgd_apply(w, sw, zw, g, sg, rr, lr, -128, 127, rounding, seed, step, idx, k)
        cw, crr = w.copy(), rr.copy()
        scratch = Out((row_len,), np.int32)
        fn(x, i32(zx), e, i32(ze), fl(sg), fl(sw), i32(zw), 0, cw, crr, idx, k, i32(step), scratch.ptr,
           n, c, h, wd, o, kh, kw, *stride, *padding, groups, lr, ROUND[rounding], seed)
        scratch.value()
        _check_fused(cw, crr, w, rr, ew, err, idx, k, o)


@pytest.mark.parametrize("layer", ["dense", "conv"])
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_fused_e16_matches_int8_kernels(lib: K.Kernels, layer: str, xdtype: Any, rounding: str) -> None:
    """int16 errors inside the int8 range step the weights exactly as the int8-error kernels."""
    sfx = "u8" if xdtype == np.uint8 else "s8"
    for seed in SEEDS:
        rng = rng_for("fused_e16_vs_e8", layer, sfx, rounding, seed)
        if layer == "dense":
            n, kdim, o = 2, 23, 5
            x, e8 = qdata(rng, (n, kdim), xdtype), qdata(rng, (n, o), np.int8)
            wshape: tuple[int, ...] = (o, kdim)
            geo: tuple[Any, ...] = (n, kdim, o)
        else:
            n, c, h, o = 1, 2, 7, 4
            x, e8 = qdata(rng, (n, c, h, h), xdtype), qdata(rng, (n, o, 4, 4), np.int8)
            wshape = (o, c, 3, 3)
            geo = (n, c, h, h, o, 3, 3, 2, 2, 1, 1, 1, 1, 1)
        w, zx, _, zw, rr, _, sw, lr, idx, k, step = _fused_case(rng, seed, xdtype, o, wshape)
        ze = zero_point(rng, np.int8)
        sg = np.float32(rng.uniform(1e-6, 1e-4))
        row_len = int(np.prod(wshape[1:]))
        results = []
        for suffix, e in ((sfx, e8), (f"{sfx}_e16", e8.astype(np.int16))):
            cw, crr, scratch = w.copy(), rr.copy(), np.zeros(row_len, np.int32)
            fn = getattr(lib, f"odtc_q{layer if layer == 'dense' else 'conv2d'}_grad_weight_sgd_{suffix}")
            fn(x, i32(zx), e, i32(ze), fl(sg), fl(sw), i32(zw), 0, cw, crr, idx, k, i32(step), scratch, *geo, lr,
               ROUND[rounding], seed)
            results.append((cw, crr))
        same(results[1][0], results[0][0])
        same(results[1][1], results[0][1])


# ---------------------------------------------------------------------------------------
# Saturation: int16 errors at the asymmetric extremes, sums past int32
# ---------------------------------------------------------------------------------------

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
P_MAX = 65535 * 255  # the largest |(e - ze)(v - zv)|: 129 of them exceed INT32_MAX


def extremes(sign: int) -> tuple[int, int]:
    """(e, ze) with e - ze = sign * 65535."""
    return (I16_MAX, I16_MIN) if sign > 0 else (I16_MIN, I16_MAX)


def x_extremes(xdtype: Any) -> tuple[int, int]:
    """(x, zx) with x - zx = 255 for the 8-bit input storage."""
    return (255, 0) if xdtype == np.uint8 else (127, -128)


def mostly(rng: np.random.Generator, value: int, shape: tuple[int, ...], dtype: Any, p: float) -> NDArray[Any]:
    """`value` with probability p, else uniform over dtype's range."""
    return np.where(rng.random(shape) < p, value, qdata(rng, shape, dtype)).astype(dtype)


def exact_by_digits(fn: Callable[[NDArray[np.int8]], NDArray[Any]], d: NDArray[Any]) -> NDArray[np.int64]:
    """The exact (unsaturated) value of an fqt.py sum that is linear in the error d = e - ze:
    d = sum_i 256^i * t_i with balanced int8 digits t_i, and fn(t_i) (the op with the int8
    error t_i, zero-point 0: int32 arithmetic that raises on overflow) is far inside int32."""
    d = np.asarray(d, dtype=np.int64)
    total = np.zeros((), dtype=np.int64)
    place = 1
    while True:
        t = (d + 128) % 256 - 128
        total = total + np.asarray(fn(t.astype(np.int8)), dtype=np.int64) * place
        d = (d - t) // 256
        place *= 256
        if not d.any():
            return total


def check_saturated(expected: NDArray[Any], exact: NDArray[np.int64]) -> None:
    """fqt.py's result is the exact sum clamped to int32, and the case discriminates: sums
    past int32 (a wrapping kernel gets them wrong) next to sums inside it."""
    same(expected, np.clip(exact, INT32_MIN, INT32_MAX))
    assert (np.abs(exact) > INT32_MAX).any(), "no sum leaves int32"
    assert ((exact > INT32_MIN) & (exact < INT32_MAX)).any(), "every sum saturates"


def check_partial(partial: NDArray[np.int64], exact: NDArray[np.int64]) -> None:
    """Partial sums in the kernel's order leave int32, the final sums do not: an int32
    accumulator overflows (UB: UBSan reports it) and a saturating one gets them wrong."""
    assert np.abs(partial).max() > INT32_MAX, "no partial sum leaves int32"
    assert np.abs(exact).max() <= INT32_MAX, "a final sum leaves int32"


def dense_gi_saturating(rng: np.random.Generator, n: int, k: int, o: int,
                        sign: int) -> tuple[NDArray[np.int16], int, NDArray[np.int8], int]:
    """Row 0 of e all e - ze = sign * 65535, the others mostly; w mostly 127 with zw = -128
    (w - zw = 255), and columns 0..3 of row 0 sum o * P_MAX (saturates), 0, 128 * P_MAX (the
    largest sum that fits) and 129 * P_MAX (the smallest past it). o >= 129."""
    ev, ze = extremes(sign)
    e = np.full((n, o), ev, np.int16)
    e[1:] = mostly(rng, ev, (n - 1, o), np.int16, 0.7)
    e[1:][rng.random((n - 1, o)) < 0.15] = ze
    w = mostly(rng, 127, (o, k), np.int8, 0.85)
    w[:, 0] = 127
    w[:, 1:4] = -128
    w[:128, 2] = 127
    w[:129, 3] = 127
    return e, ze, w, -128


def dense_gi_partial(rng: np.random.Generator, n: int, k: int, o: int,
                     per_channel: bool) -> tuple[NDArray[np.int16], int, NDArray[np.int8], NDArray[np.int32]]:
    """Rows o of the first half add about (o / 2) * P, those of the second half take it back
    (deltas in [0, 30] keep the final sums inside int32). per_channel: e - ze = 65535 and
    w - zw[o] = +255, then -255 + delta (zw[o] = -128, then 127); else ze = 0, e = 32767,
    then -32768, and w - zw = 255, then 255 - delta (zw = -128). Row 1 of e: random."""
    half = o // 2
    delta = rng.integers(0, 31, size=(o - half, k))
    w = np.full((o, k), 127, np.int8)
    if per_channel:
        ze = I16_MIN
        e = np.full((n, o), I16_MAX, np.int16)
        zw = np.where(np.arange(o) < half, -128, 127).astype(np.int32)
        w[half:] = -128 + delta
    else:
        ze = 0
        e = np.full((n, o), I16_MIN, np.int16)
        e[:, :half] = I16_MAX
        zw = np.full(1, -128, np.int32)
        w[half:] = 127 - delta
    e[1:] = qdata(rng, (n - 1, o), np.int16)
    return e, ze, w, zw


@pytest.mark.parametrize("shape", [(2, 69, 129), (3, 40, 300)])
@pytest.mark.parametrize("sign", [1, -1])
def test_dense_s16_grad_input_saturates(lib: K.Kernels, shape: tuple[int, int, int], sign: int) -> None:
    n, k, o = shape
    e, ze, w, zw = dense_gi_saturating(rng_for("dense_s16_gi_sat", shape, sign), n, k, o, sign)
    expected = fqt.qdense_grad_input(e, ze, w, zw)
    check_saturated(expected, exact_by_digits(lambda t: fqt.qdense_grad_input(t, 0, w, zw), e.astype(np.int64) - ze))
    sat = INT32_MAX if sign > 0 else INT32_MIN
    assert expected[0, :4].tolist() == [sat, 0, sign * 128 * P_MAX, sat]
    out = Out((n, k), np.int32)
    lib.odtc_dense_s16_grad_input(e, i32(ze), w, i32(zw), 0, out.ptr, n, k, o)
    same(out.value(), expected)


@pytest.mark.parametrize("per_channel", [False, True])
def test_dense_s16_grad_input_partial_sums_past_int32(lib: K.Kernels, per_channel: bool) -> None:
    n, k, o = (2, 37, 300) if per_channel else (2, 37, 600)
    e, ze, w, zw = dense_gi_partial(rng_for("dense_s16_gi_partial", per_channel), n, k, o, per_channel)
    zwc = np.broadcast_to(zw, (o,)).astype(np.int64).reshape(-1, 1)
    row0 = (e[0].astype(np.int64) - ze).reshape(-1, 1) * (w.astype(np.int64) - zwc)  # the kernel sums over o in order
    exact = exact_by_digits(lambda t: fqt.qdense_grad_input(t, 0, w, zw), e.astype(np.int64) - ze)
    check_partial(np.cumsum(row0, axis=0), exact)
    expected = fqt.qdense_grad_input(e, ze, w, zw)
    same(expected, exact)
    out = Out((n, k), np.int32)
    lib.odtc_dense_s16_grad_input(e, i32(ze), w, zw, int(per_channel), out.ptr, n, k, o)
    same(out.value(), expected)


# (n, c, h, w, o, kh, kw, stride, padding, groups); products per input position in brackets
CONV_GI_SAT_CASES = [
    (2, 2, 6, 6, 16, 3, 3, (1, 1), (1, 1, 1, 1), 1),  # 16 x {4, 6, 9}
    (2, 4, 9, 9, 64, 5, 5, (2, 2), (2, 2, 2, 2), 2),  # groups 2, stride 2: 32 x {4, 6, 9}
    (2, 6, 7, 8, 96, 3, 3, (2, 1), (1, 1, 1, 1), 3),  # groups 3, mixed strides: 32 x {2, 3, 4, 6}
]
CONV_GI_PARTIAL_CASES = [
    (1, 2, 6, 6, 64, 3, 3, (1, 1), (1, 1, 1, 1), 1),
    (1, 4, 6, 6, 128, 3, 3, (1, 1), (1, 1, 1, 1), 2),  # groups 2
    (1, 2, 9, 9, 128, 5, 5, (2, 2), (2, 2, 2, 2), 1),  # stride 2
]


def conv_gi_saturating(rng: np.random.Generator, case: tuple,
                       sign: int) -> tuple[NDArray[np.int16], int, NDArray[np.int8], int]:
    """Image 0 of e all e - ze = sign * 65535, image 1 mostly; w mostly 127 (zw = -128)."""
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    ev, ze = extremes(sign)
    e = mostly(rng, ev, (n, o, oh, ow), np.int16, 0.8)
    e[0] = ev
    return e, ze, mostly(rng, 127, (o, c // groups, kh, kw), np.int8, 0.9), -128


def conv_gi_partial(rng: np.random.Generator, case: tuple, per_channel: bool
                    ) -> tuple[NDArray[np.int16], int, NDArray[np.int8], NDArray[np.int32], NDArray[np.bool_]]:
    """As dense_gi_partial per group: its first half of output channels adds, the second
    takes it back (the kernel sums over the channels of the group, then the taps). Also
    returns the first-half channel mask."""
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    og = o // groups
    first = (np.arange(o) % og) < og // 2
    delta = rng.integers(0, 31, size=(o, c // groups, kh, kw))
    w = np.full((o, c // groups, kh, kw), 127, np.int8)
    if per_channel:
        ze = I16_MIN
        e = np.full((n, o, oh, ow), I16_MAX, np.int16)
        zw = np.where(first, -128, 127).astype(np.int32)
        w[~first] = -128 + delta[~first]
    else:
        ze = 0
        e = np.full((n, o, oh, ow), I16_MIN, np.int16)
        e[:, first] = I16_MAX
        zw = np.full(1, -128, np.int32)
        w[~first] = 127 - delta[~first]
    return e, ze, w, zw, first


@pytest.mark.parametrize("case", CONV_GI_SAT_CASES)
@pytest.mark.parametrize("sign", [1, -1])
def test_conv2d_s16_grad_input_saturates(lib: K.Kernels, case: tuple, sign: int) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    e, ze, w, zw = conv_gi_saturating(rng_for("conv2d_s16_gi_sat", case, sign), case, sign)
    geo = ((n, c, h, wd), stride, padding, groups)
    expected = fqt.qconv2d_grad_input(e, ze, w, zw, *geo)
    check_saturated(expected, exact_by_digits(lambda t: fqt.qconv2d_grad_input(t, 0, w, zw, *geo),
                                              e.astype(np.int64) - ze))
    out = Out((n, c, h, wd), np.int32)
    lib.odtc_conv2d_s16_grad_input(e, i32(ze), w, i32(zw), 0, out.ptr, n, c, h, wd, o, kh, kw, *stride, *padding,
                                   groups)
    same(out.value(), expected)


@pytest.mark.parametrize("case", CONV_GI_PARTIAL_CASES)
@pytest.mark.parametrize("per_channel", [False, True])
def test_conv2d_s16_grad_input_partial_sums_past_int32(lib: K.Kernels, case: tuple, per_channel: bool) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    e, ze, w, zw, first = conv_gi_partial(rng_for("conv2d_s16_gi_partial", case, per_channel), case, per_channel)
    geo = ((n, c, h, wd), stride, padding, groups)
    d = e.astype(np.int64) - ze
    exact = exact_by_digits(lambda t: fqt.qconv2d_grad_input(t, 0, w, zw, *geo), d)
    # the partial sums after the first half of each group's channels
    check_partial(exact_by_digits(lambda t: fqt.qconv2d_grad_input(t, 0, w, zw, *geo), d * first.reshape(1, -1, 1, 1)),
                  exact)
    expected = fqt.qconv2d_grad_input(e, ze, w, zw, *geo)
    same(expected, exact)
    out = Out((n, c, h, wd), np.int32)
    lib.odtc_conv2d_s16_grad_input(e, i32(ze), w, zw, int(per_channel), out.ptr, n, c, h, wd, o, kh, kw, *stride,
                                   *padding, groups)
    same(out.value(), expected)


# Weight gradients: products per tap (n * outputs that read it) in brackets
CONV_GW_SAT_CASES = [
    (1, 2, 12, 12, 4, 3, 3, (1, 1), (1, 1, 1, 1), 1),  # {121, 132, 144}
    (3, 4, 13, 13, 4, 3, 3, (2, 2), (1, 1, 1, 1), 2),  # groups 2, stride 2: {108, 126, 147}
    (1, 3, 14, 14, 3, 3, 3, (1, 1), (0, 0, 0, 0), 3),  # depthwise: 144
]
CONV_GW_PARTIAL_CASES = [
    (1, 1, 24, 24, 2, 3, 3, (1, 1), (1, 1, 1, 1), 1),
    (1, 2, 48, 24, 2, 3, 3, (2, 1), (1, 1, 1, 1), 2),  # groups 2, stride (2, 1)
]


def conv_gw_saturating(rng: np.random.Generator, case: tuple, xdtype: Any,
                       sign: int) -> tuple[NDArray[Any], int, NDArray[np.int16], int]:
    """x mostly x - zx = 255 (input channel 0 of every group all), e mostly e - ze =
    sign * 65535 (output channel 0 all, the last one 30 %): row 0's taps read by > 128
    outputs saturate, the others (fewer outputs, or the random values) need not."""
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    xv, zx = x_extremes(xdtype)
    x = mostly(rng, xv, (n, c, h, wd), xdtype, 0.9)
    x[:, :: c // groups] = xv
    ev, ze = extremes(sign)
    e = mostly(rng, ev, (n, o, oh, ow), np.int16, 0.9)
    e[:, 0] = ev
    e[:, -1] = mostly(rng, ev, (n, oh, ow), np.int16, 0.3)  # sums inside int32
    return x, zx, e, ze


def conv_gw_partial(rng: np.random.Generator, case: tuple,
                    xdtype: Any) -> tuple[NDArray[Any], int, NDArray[np.int16], int, NDArray[np.int16]]:
    """e - ze = 65535 for output channel 0 (channel 1 random), x - zx = 127 in the top half of
    the rows, -128 in the bottom half: the sums over the output rows (the kernel's order)
    rise past int32 and come back. Also returns e with the bottom half of the output rows at
    ze (the partial sums after the top half)."""
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    zx = 128 if xdtype == np.uint8 else 0
    x = np.full((n, c, h, wd), zx - 128, xdtype)
    x[:, :, : h // 2] = zx + 127
    ze = I16_MIN
    e = np.full((n, o, oh, ow), I16_MAX, np.int16)
    e[:, 1:] = qdata(rng, (n, o - 1, oh, ow), np.int16)
    top = e.copy()
    top[:, :, oh // 2:] = ze
    return x, zx, e, ze, top


def conv_gw_rows(o: int, with_selection: bool) -> tuple[NDArray[np.int32] | None, NDArray[np.int32] | None]:
    """No selection, or rows {0, o - 1} (row 0 holds the saturating sums)."""
    if not with_selection:
        return None, None
    idx = np.full(o, -1, np.int32)
    idx[:2] = (0, o - 1)
    return idx, i32(2)


@pytest.mark.parametrize("case", CONV_GW_SAT_CASES)
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("with_selection", [False, True])
def test_conv2d_q8_s16_grad_weight_saturates(lib: K.Kernels, case: tuple, xdtype: Any, sign: int,
                                             with_selection: bool) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    rng = rng_for("conv2d_s16_gw_sat", case, np.dtype(xdtype).name, sign)
    x, zx, e, ze = conv_gw_saturating(rng, case, xdtype, sign)
    idx, k = conv_gw_rows(o, with_selection)
    wshape = (o, c // groups, kh, kw)
    geo = (wshape, stride, padding, groups, idx, k)
    expected = fqt.qconv2d_grad_weight(x, zx, e, ze, *geo)
    check_saturated(expected, exact_by_digits(lambda t: fqt.qconv2d_grad_weight(x, zx, t, 0, *geo),
                                              e.astype(np.int64) - ze))
    rows = o if k is None else int(k[0])
    out = Out((rows, *wshape[1:]), np.int32)
    lib.odtc_conv2d_q8_s16_grad_weight(x, int(xdtype == np.uint8), i32(zx), e, i32(ze), out.ptr, idx,
                                       rows if idx is not None else 0, n, c, h, wd, o, kh, kw, *stride, *padding,
                                       groups)
    same(out.value(), expected[:rows])


@pytest.mark.parametrize("case", CONV_GW_PARTIAL_CASES)
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
def test_conv2d_q8_s16_grad_weight_partial_sums_past_int32(lib: K.Kernels, case: tuple, xdtype: Any) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    x, zx, e, ze, top = conv_gw_partial(rng_for("conv2d_s16_gw_partial", case, np.dtype(xdtype).name), case, xdtype)
    wshape = (o, c // groups, kh, kw)
    geo = (wshape, stride, padding, groups)
    exact = exact_by_digits(lambda t: fqt.qconv2d_grad_weight(x, zx, t, 0, *geo), e.astype(np.int64) - ze)
    check_partial(exact_by_digits(lambda t: fqt.qconv2d_grad_weight(x, zx, t, 0, *geo), top.astype(np.int64) - ze),
                  exact)
    expected = fqt.qconv2d_grad_weight(x, zx, e, ze, *geo)
    same(expected, exact)
    out = Out(wshape, np.int32)
    lib.odtc_conv2d_q8_s16_grad_weight(x, int(xdtype == np.uint8), i32(zx), e, i32(ze), out.ptr, None, 0, n, c, h, wd,
                                       o, kh, kw, *stride, *padding, groups)
    same(out.value(), expected)


# The fused steps: lr * sg / sw puts a gradient of 2^31 at 40 grid steps, so the saturated
# sums move the weights (and the unclamped row_range) differently from the exact or wrapped
# ones (asserted per case).
SAT_LR, SAT_SW, SAT_SG = 1.0, 0.01, 0.4 / 2**31


def fused_sat_expected(w: NDArray[np.int8], zw: int, g: NDArray[Any], exact: NDArray[np.int64] | None,
                       rounding: str, seed: int, step: int, idx: NDArray[np.int32] | None,
                       k: NDArray[np.int32] | None) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """(row_range before, w after, row_range after) of fqt.qgrad_weight_sgd_apply of the
    saturated gradient g; with `exact`, asserts that the exact and the int32-wrapped
    gradients would update differently."""
    rr = fqt.row_range_of(w, zw)

    def apply(grad: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
        return fqt.qgrad_weight_sgd_apply(w, SAT_SW, zw, grad, SAT_SG, rr, SAT_LR, -128, 127, rounding, seed, step,
                                          idx, k)

    ew, err = apply(g)
    if exact is not None:
        for other in (exact, exact.astype(np.int32)):  # astype wraps
            ow_, orr = apply(other)
            assert not (np.array_equal(ow_, ew) and np.array_equal(orr, err)), "the update hides the saturation"
    return rr, ew, err


def dense_gw_saturating(rng: np.random.Generator, n: int, kdim: int, o: int, xdtype: Any,
                        sign: int) -> tuple[NDArray[Any], int, NDArray[np.int16], int]:
    """x mostly x - zx = 255 (column 0 all; column 1: the first 128 rows, then x = zx), e
    mostly e - ze = sign * 65535 (column 0 all): g[0, 0] = n * P_MAX saturates (n >= 129),
    g[0, 1] = 128 * P_MAX just fits."""
    xv, zx = x_extremes(xdtype)
    x = mostly(rng, xv, (n, kdim), xdtype, 0.9)
    x[:, 0] = xv
    x[:, 1] = zx
    x[:128, 1] = xv
    ev, ze = extremes(sign)
    e = mostly(rng, ev, (n, o), np.int16, 0.9)
    e[:, 0] = ev
    return x, zx, e, ze


@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
@pytest.mark.parametrize("sign", [1, -1])
def test_qdense_grad_weight_sgd_e16_saturates(lib: K.Kernels, xdtype: Any, rounding: str, sign: int) -> None:
    n, kdim, o = 200, 40, 5
    fn = getattr(lib, f"odtc_qdense_grad_weight_sgd_{'u8' if xdtype == np.uint8 else 's8'}_e16")
    rng = rng_for("qdense_sgd_e16_sat", np.dtype(xdtype).name, rounding, sign)
    x, zx, e, ze = dense_gw_saturating(rng, n, kdim, o, xdtype, sign)
    for seed, (idx, k) in enumerate([(None, None), conv_gw_rows(o, True)]):
        w, zw, step = qdata(rng, (o, kdim), np.int8), int(rng.integers(-20, 20)), int(rng.integers(0, 10**6))
        g = fqt.qdense_grad_weight(x, zx, e, ze, idx, k)
        exact = exact_by_digits(lambda t: fqt.qdense_grad_weight(x, zx, t, 0, idx, k), e.astype(np.int64) - ze)
        check_saturated(g, exact)
        assert g[0, :2].tolist() == [INT32_MAX if sign > 0 else INT32_MIN, sign * 128 * P_MAX]
        rr, ew, err = fused_sat_expected(w, zw, g, exact, rounding, seed, step, idx, k)
        cw, crr = w.copy(), rr.copy()
        scratch = Out((kdim,), np.int32)
        fn(x, i32(zx), e, i32(ze), fl(SAT_SG), fl(SAT_SW), i32(zw), 0, cw, crr, idx, k, i32(step), scratch.ptr, n, kdim,
           o, SAT_LR, ROUND[rounding], seed)
        scratch.value()
        _check_fused(cw, crr, w, rr, ew, err, idx, k, o)


@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_qdense_grad_weight_sgd_e16_partial_sums_past_int32(lib: K.Kernels, xdtype: Any, rounding: str) -> None:
    """e - ze = 65535 (column 0; the others random), x - zx = 127 in the first half of the
    batch and -128 in the second (the columns from 20 on random): the kernel's sums over the
    batch rise past int32 and come back."""
    n, kdim, o = 600, 37, 3
    fn = getattr(lib, f"odtc_qdense_grad_weight_sgd_{'u8' if xdtype == np.uint8 else 's8'}_e16")
    rng = rng_for("qdense_sgd_e16_partial", np.dtype(xdtype).name, rounding)
    zx = 128 if xdtype == np.uint8 else 0
    x = np.full((n, kdim), zx - 128, xdtype)
    x[: n // 2] = zx + 127
    x[:, 20:] = qdata(rng, (n, kdim - 20), xdtype)
    ze = I16_MIN
    e = qdata(rng, (n, o), np.int16)
    e[:, 0] = I16_MAX
    row0 = (e[:, :1].astype(np.int64) - ze) * (x.astype(np.int64) - zx)  # the kernel sums over n in order
    exact = exact_by_digits(lambda t: fqt.qdense_grad_weight(x, zx, t, 0), e.astype(np.int64) - ze)
    check_partial(np.cumsum(row0, axis=0), exact)
    g = fqt.qdense_grad_weight(x, zx, e, ze)
    same(g, exact)
    w, zw, step = qdata(rng, (o, kdim), np.int8), int(rng.integers(-20, 20)), int(rng.integers(0, 10**6))
    rr, ew, err = fused_sat_expected(w, zw, g, None, rounding, 3, step, None, None)
    cw, crr = w.copy(), rr.copy()
    scratch = Out((kdim,), np.int32)
    fn(x, i32(zx), e, i32(ze), fl(SAT_SG), fl(SAT_SW), i32(zw), 0, cw, crr, None, None, i32(step), scratch.ptr, n, kdim,
       o, SAT_LR, ROUND[rounding], 3)
    scratch.value()
    _check_fused(cw, crr, w, rr, ew, err, None, None, o)


@pytest.mark.parametrize("case", CONV_GW_SAT_CASES)
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_qconv2d_grad_weight_sgd_e16_saturates(lib: K.Kernels, case: tuple, xdtype: Any, rounding: str) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    sign = 1 if xdtype == np.uint8 else -1
    fn = getattr(lib, f"odtc_qconv2d_grad_weight_sgd_{'u8' if xdtype == np.uint8 else 's8'}_e16")
    rng = rng_for("qconv2d_sgd_e16_sat", case, np.dtype(xdtype).name, rounding)
    x, zx, e, ze = conv_gw_saturating(rng, case, xdtype, sign)
    wshape = (o, c // groups, kh, kw)
    row_len = int(np.prod(wshape[1:]))
    for seed, (idx, k) in enumerate([(None, None), conv_gw_rows(o, True)]):
        w, zw, step = qdata(rng, wshape, np.int8), int(rng.integers(-20, 20)), int(rng.integers(0, 10**6))
        geo = (wshape, stride, padding, groups, idx, k)
        g = fqt.qconv2d_grad_weight(x, zx, e, ze, *geo)
        exact = exact_by_digits(lambda t: fqt.qconv2d_grad_weight(x, zx, t, 0, *geo), e.astype(np.int64) - ze)
        check_saturated(g, exact)
        rr, ew, err = fused_sat_expected(w, zw, g, exact, rounding, seed, step, idx, k)
        cw, crr = w.copy(), rr.copy()
        scratch = Out((row_len,), np.int32)
        fn(x, i32(zx), e, i32(ze), fl(SAT_SG), fl(SAT_SW), i32(zw), 0, cw, crr, idx, k, i32(step), scratch.ptr,
           n, c, h, wd, o, kh, kw, *stride, *padding, groups, SAT_LR, ROUND[rounding], seed)
        scratch.value()
        _check_fused(cw, crr, w, rr, ew, err, idx, k, o)


@pytest.mark.parametrize("case", CONV_GW_PARTIAL_CASES)
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
def test_qconv2d_grad_weight_sgd_e16_partial_sums_past_int32(lib: K.Kernels, case: tuple, xdtype: Any) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    fn = getattr(lib, f"odtc_qconv2d_grad_weight_sgd_{'u8' if xdtype == np.uint8 else 's8'}_e16")
    rng = rng_for("qconv2d_sgd_e16_partial", case, np.dtype(xdtype).name)
    x, zx, e, ze, top = conv_gw_partial(rng, case, xdtype)
    wshape = (o, c // groups, kh, kw)
    geo = (wshape, stride, padding, groups)
    exact = exact_by_digits(lambda t: fqt.qconv2d_grad_weight(x, zx, t, 0, *geo), e.astype(np.int64) - ze)
    check_partial(exact_by_digits(lambda t: fqt.qconv2d_grad_weight(x, zx, t, 0, *geo), top.astype(np.int64) - ze),
                  exact)
    g = fqt.qconv2d_grad_weight(x, zx, e, ze, *geo)
    same(g, exact)
    w, zw, step = qdata(rng, wshape, np.int8), int(rng.integers(-20, 20)), int(rng.integers(0, 10**6))
    rr, ew, err = fused_sat_expected(w, zw, g, None, "stochastic", 5, step, None, None)
    cw, crr = w.copy(), rr.copy()
    scratch = Out((int(np.prod(wshape[1:])),), np.int32)
    fn(x, i32(zx), e, i32(ze), fl(SAT_SG), fl(SAT_SW), i32(zw), 0, cw, crr, None, None, i32(step), scratch.ptr,
       n, c, h, wd, o, kh, kw, *stride, *padding, groups, SAT_LR, ROUND["stochastic"], 5)
    scratch.value()
    _check_fused(cw, crr, w, rr, ew, err, None, None, o)


# ---------------------------------------------------------------------------------------
# The storage-generic kernels with ODTC_S16
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ydtype", [np.int8, np.uint8])
def test_qrelu_and_relu6_grad_s16(portable: K.Kernels, ydtype: Any) -> None:
    rng = rng_for("qrelu_grad_s16", np.dtype(ydtype).name)
    shape = (3, 4, 5, 5)
    for seed in SEEDS:
        e, y = e16(rng, shape), qdata(rng, shape, ydtype)
        ze, zy = int(rng.integers(I16_MIN, I16_MAX + 1)) if seed else 0, zero_point(rng, ydtype)
        y.reshape(-1)[:10] = zy  # real 0: no gradient
        sy = np.float32(rng.uniform(0.01, 0.1))
        # relu
        expected = fqt.qrelu_grad(e, ze, y, zy).astype(np.int16)
        out = Out(shape, np.int16)
        portable.odtc_qrelu_grad(e, S16, i32(ze), y, storage_of(ydtype), i32(zy), out.ptr, e.size)
        same(out.value(), expected)
        inplace = e.copy()
        portable.odtc_qrelu_grad(inplace, S16, i32(ze), y, storage_of(ydtype), i32(zy), inplace, e.size)
        same(inplace, expected)
        # relu6
        expected6 = fqt.qrelu6_grad(e, ze, y, zy, sy).astype(np.int16)
        out6 = Out(shape, np.int16)
        portable.odtc_qrelu6_grad(e, S16, i32(ze), y, storage_of(ydtype), i32(zy), fl(sy), out6.ptr, e.size)
        same(out6.value(), expected6)
        inplace6 = e.copy()
        portable.odtc_qrelu6_grad(inplace6, S16, i32(ze), y, storage_of(ydtype), i32(zy), fl(sy), inplace6, e.size)
        same(inplace6, expected6)


@pytest.mark.parametrize("numel", [1, 7, 8, 100, 1001])
@pytest.mark.parametrize("relu6", [False, True])
def test_qmask_grad_s16(portable: K.Kernels, numel: int, relu6: bool) -> None:
    rng = rng_for("qmask_grad_s16", numel, relu6)
    e, y = e16(rng, (numel,)), qdata(rng, (numel,), np.uint8)
    ze, zy = int(rng.integers(-1000, 1000)), zero_point(rng, np.uint8)
    sy = np.float32(rng.uniform(0.01, 0.1)) if relu6 else None
    mask = fqt.relu_mask(y, zy, sy)
    cmask = Out(((numel + 7) // 8,), np.uint8)
    portable.odtc_qrelu_mask(y, U8, i32(zy), None if sy is None else fl(sy), cmask.ptr, numel)
    same(cmask.value(), mask)
    expected = fqt.qmask_grad(e, ze, mask).astype(np.int16)
    out = Out((numel,), np.int16)
    portable.odtc_qmask_grad(e, S16, i32(ze), mask, out.ptr, numel)
    same(out.value(), expected)
    inplace = e.copy()
    portable.odtc_qmask_grad(inplace, S16, i32(ze), mask, inplace, numel)
    same(inplace, expected)


@pytest.mark.parametrize("shape", [(1, 5), (3, 7), (1, 4, 3, 3), (2, 3, 5, 2), (1, 16, 14, 14)])
def test_qgrad_bias_s16(portable: K.Kernels, shape: tuple[int, ...]) -> None:
    rng = rng_for("qgrad_bias_s16", shape)
    for seed in SEEDS[:2]:
        e = e16(rng, shape)
        s, z = np.float32(rng.uniform(1e-6, 1e-3)), ze16(rng, seed)
        o = shape[1]
        out = Out((o,), np.float32)
        portable.odtc_qgrad_bias(e, S16, fl(s), i32(z), out.ptr, shape[0], o, int(np.prod(shape[2:], dtype=np.int64)))
        same(out.value(), fqt.qgrad_bias(e, s, z))
        same(out.value(), fqt.grad_bias_c(ref.dequantize(e, s, z)))


@pytest.mark.parametrize("shape", [(4, 10), (1, 32), (2, 6, 3, 3), (3, 1), (1, 9, 2, 5), (1, 1568), (2, 64, 4)])
def test_topk_structures_s16(portable: K.Kernels, shape: tuple[int, ...]) -> None:
    rng = rng_for("topk_structures_s16", shape)
    o = shape[1]
    spatial = int(np.prod(shape[2:], dtype=np.int64))
    for trial in range(6):
        e = e16(rng, shape)
        ze = int(rng.integers(I16_MIN, I16_MAX + 1)) if trial % 3 == 2 else ze16(rng, trial)
        if trial % 2 == 1:  # ties: several structures with the same magnitude
            e = np.full(shape, ze, dtype=np.int16)
            e[:, ::2] = np.clip(ze + 3000, I16_MIN, I16_MAX)
        for k in (0, 1, max(1, o // 3), o, o + 5):
            out = Out((o,), np.int32)
            scratch = Out((portable.odtc_topk_structures_scratch_bytes(o) // 4,), np.int32)
            portable.odtc_topk_structures(e, S16, i32(ze), i32(k), out.ptr, scratch.ptr, shape[0], o, spatial)
            scratch.value()
            same(out.value(), fqt.topk_structures(e, ze, k))


@pytest.mark.parametrize("seed", SEEDS)
def test_requantize_acc_s16(portable: K.Kernels, seed: int) -> None:
    rng = rng_for("requantize_acc_s16", seed)
    acc = rng.integers(-(2**31), 2**31, size=300).astype(np.int32)
    acc[:4] = (np.iinfo(np.int32).min, np.iinfo(np.int32).max, 0, -1)
    acc[4:100] = rng.integers(-(2**20), 2**20, size=96)
    sacc = np.float32(rng.uniform(1e-6, 1e-3))
    sy = np.float32(sacc * 2.0 ** rng.integers(2, 18) * rng.uniform(0.5, 2.0))
    zy = ze16(rng, seed)
    out = Out((300,), np.int16)
    portable.odtc_requantize_acc(acc, out.ptr, S16, 300, fl(sacc), fl(sy), i32(zy))
    expected = fqt.requantize_acc(acc, sacc, sy, zy, I16_MIN, I16_MAX)
    same(out.value(), expected)
    assert ((expected > I16_MIN) & (expected < I16_MAX)).sum() >= 10  # not all clamped


@pytest.mark.parametrize("seed", SEEDS)
def test_quantize_s16(portable: K.Kernels, seed: int) -> None:
    rng = rng_for("quantize_s16", seed)
    x = (rng.standard_normal(257) * 10.0 ** rng.integers(-2, 3)).astype(np.float32)
    x[:6] = (np.nan, np.inf, -np.inf, 0.5, -0.5, 1e30)
    s, z = np.float32(rng.uniform(1e-4, 1e-2)), ze16(rng, seed)
    out = Out((257,), np.int16)
    portable.odtc_quantize(x, out.ptr, S16, 1, 1, 257, fl(s), i32(z), 0)
    same(out.value(), ref.quantize(x, s, z, I16_MIN, I16_MAX))


@pytest.mark.parametrize("adtype", [np.int16, np.int8])
@pytest.mark.parametrize("bdtype", [np.int16, np.uint8])
@pytest.mark.parametrize("numel", [1, 31, 32, 33, 257])
def test_qadd_s16(portable: K.Kernels, adtype: Any, bdtype: Any, numel: int) -> None:
    """The sum of two errors (int16 and/or 8-bit operands) into an int16 result, and its
    range; in place into an int16 operand."""
    rng = rng_for("qadd_s16", np.dtype(adtype).name, np.dtype(bdtype).name, numel)
    for seed in SEEDS[:2]:
        def operand(dtype: Any) -> tuple[NDArray[Any], np.float32, int]:
            if dtype == np.int16:
                return e16(rng, (numel,)), np.float32(rng.uniform(1e-5, 1e-4)), ze16(rng, seed)
            return qdata(rng, (numel,), dtype), np.float32(rng.uniform(1e-3, 1e-2)), zero_point(rng, dtype)
        a, sa, za = operand(adtype)
        b, sb, zb = operand(bdtype)
        sy, zy = np.float32(rng.uniform(5e-5, 2e-4)), ze16(rng, seed + 1)
        r = Out((2,), np.float32)
        portable.odtc_qadd_range(a, storage_of(adtype), fl(sa), i32(za), b, storage_of(bdtype), fl(sb), i32(zb), r.ptr,
                                 numel)
        same(r.value(), fqt.qadd_range(a, sa, za, b, sb, zb))
        expected = fqt.qadd(a, sa, za, b, sb, zb, sy, zy, I16_MIN, I16_MAX).astype(np.int16)
        out = Out((numel,), np.int16)
        portable.odtc_qadd(a, storage_of(adtype), fl(sa), i32(za), b, storage_of(bdtype), fl(sb), i32(zb), out.ptr, S16,
                           fl(sy), i32(zy), numel)
        same(out.value(), expected)
        if adtype == np.int16:
            inplace = a.copy()
            portable.odtc_qadd(inplace, S16, fl(sa), i32(za), b, storage_of(bdtype), fl(sb), i32(zb), inplace, S16,
                               fl(sy), i32(zy), numel)
            same(inplace, expected)
        if bdtype == np.int16:
            inplace = b.copy()
            portable.odtc_qadd(a, storage_of(adtype), fl(sa), i32(za), inplace, S16, fl(sb), i32(zb), inplace, S16,
                               fl(sy), i32(zy), numel)
            same(inplace, expected)


# ---------------------------------------------------------------------------------------
# C driver: the saturation cases on the host, under the sanitizers and on Cortex-M
# ---------------------------------------------------------------------------------------


def _conv_geo(case: tuple) -> str:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    return ", ".join(str(v) for v in (n, c, h, wd, o, kh, kw, *stride, *padding, groups))


def _driver() -> CDriver:
    """A C driver running the int16-error kernels on sums past int32 (the cases of the
    saturation tests above); expected outputs from fqt.py."""
    d = CDriver()
    # dense grad_input: saturating sums next to 128 * P_MAX; partial sums past int32 (per channel)
    e, ze, w, zw = dense_gi_saturating(rng_for("driver dense_gi_sat"), 2, 69, 129, 1)
    de, dw = d.add("dgs_e", e), d.add("dgs_w", w)
    d.calls.append(f"{{ int32_t ze = {ze}, zw = {zw}; odtc_dense_s16_grad_input({de}, &ze, {dw}, &zw, 0, acc, 2, 69, "
                   f"129); " + d.report("dense_gi_sat", "acc", fqt.qdense_grad_input(e, ze, w, zw), np.int32) + " }")
    e, ze, w, zpc = dense_gi_partial(rng_for("driver dense_gi_partial"), 2, 37, 300, True)
    de, dw, dz = d.add("dgp_e", e), d.add("dgp_w", w), d.add("dgp_zw", zpc)
    d.calls.append(f"{{ int32_t ze = {ze}; odtc_dense_s16_grad_input({de}, &ze, {dw}, {dz}, 1, acc, 2, 37, 300); "
                   + d.report("dense_gi_partial", "acc", fqt.qdense_grad_input(e, ze, w, zpc), np.int32) + " }")
    # conv grad_input: groups 2, stride 2, saturating (negative); partial sums past int32
    case = CONV_GI_SAT_CASES[1]
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    e, ze, w, zw = conv_gi_saturating(rng_for("driver conv_gi_sat"), case, -1)
    ce, cw = d.add("cgs_e", e), d.add("cgs_w", w)
    gi = fqt.qconv2d_grad_input(e, ze, w, zw, (n, c, h, wd), stride, padding, groups)
    d.calls.append(f"{{ int32_t ze = {ze}, zw = {zw}; odtc_conv2d_s16_grad_input({ce}, &ze, {cw}, &zw, 0, acc, "
                   f"{_conv_geo(case)}); " + d.report("conv_gi_sat", "acc", gi, np.int32) + " }")
    case = CONV_GI_PARTIAL_CASES[0]
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    e, ze, w, zpt, _ = conv_gi_partial(rng_for("driver conv_gi_partial"), case, False)
    ce, cw = d.add("cgp_e", e), d.add("cgp_w", w)
    gi = fqt.qconv2d_grad_input(e, ze, w, zpt, (n, c, h, wd), stride, padding, groups)
    d.calls.append(f"{{ int32_t ze = {ze}, zw = {int(zpt[0])}; odtc_conv2d_s16_grad_input({ce}, &ze, {cw}, &zw, 0, "
                   f"acc, {_conv_geo(case)}); " + d.report("conv_gi_partial", "acc", gi, np.int32) + " }")
    # conv grad_weight: u8, groups 2, stride 2, rows {0, o - 1}, saturating; s8 partial sums
    case = CONV_GW_SAT_CASES[1]
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    x, zx, e, ze = conv_gw_saturating(rng_for("driver conv_gw_sat"), case, np.uint8, 1)
    idx, k = conv_gw_rows(o, True)
    cx, ce, cs = d.add("cws_x", x), d.add("cws_e", e), d.add("cws_sel", idx)
    gw = fqt.qconv2d_grad_weight(x, zx, e, ze, (o, c // groups, kh, kw), stride, padding, groups, idx, k)[:2]
    d.calls.append(f"{{ int32_t zx = {zx}, ze = {ze}; odtc_conv2d_q8_s16_grad_weight({cx}, 1, &zx, {ce}, &ze, acc, "
                   f"{cs}, 2, {_conv_geo(case)}); " + d.report("conv_gw_sat", "acc", gw, np.int32) + " }")
    case = CONV_GW_PARTIAL_CASES[1]
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    x, zx, e, ze, _ = conv_gw_partial(rng_for("driver conv_gw_partial"), case, np.int8)
    cx, ce = d.add("cwp_x", x), d.add("cwp_e", e)
    gw = fqt.qconv2d_grad_weight(x, zx, e, ze, (o, c // groups, kh, kw), stride, padding, groups)
    d.calls.append(f"{{ int32_t zx = {zx}, ze = {ze}; odtc_conv2d_q8_s16_grad_weight({cx}, 0, &zx, {ce}, &ze, acc, "
                   f"NULL, 0, {_conv_geo(case)}); " + d.report("conv_gw_partial", "acc", gw, np.int32) + " }")
    # fused steps: dense u8 (stochastic, rows {0, o - 1}), conv s8 (nearest), saturating
    rng = rng_for("driver fused")
    n, kdim, o = 200, 40, 5
    x, zx, e, ze = dense_gw_saturating(rng, n, kdim, o, np.uint8, 1)
    idx, k = conv_gw_rows(o, True)
    w, zw, step = qdata(rng, (o, kdim), np.int8), 7, 31337
    g = fqt.qdense_grad_weight(x, zx, e, ze, idx, k)
    rr, ew, err = fused_sat_expected(w, zw, g, None, "stochastic", 11, step, idx, k)
    fx, fe, fw, frr, fs = d.add("fd_x", x), d.add("fd_e", e), d.add("fd_w", w), d.add("fd_rr", rr), d.add("fd_sel", idx)
    d.calls.append(f"{{ float sg = {cf(SAT_SG)}, sw = {cf(SAT_SW)}; int32_t zx = {zx}, ze = {ze}, zw = {zw}, k = 2, "
                   f"step = {step}; memcpy(wbuf, {fw}, sizeof {fw}); memcpy(ibuf, {frr}, sizeof {frr}); "
                   f"odtc_qdense_grad_weight_sgd_u8_e16({fx}, &zx, {fe}, &ze, &sg, &sw, &zw, 0, wbuf, ibuf, {fs}, &k, "
                   f"&step, scratch, {n}, {kdim}, {o}, {cf(SAT_LR)}, ODTC_ROUND_STOCHASTIC, 11); "
                   + d.report("fused_dense_w", "wbuf", ew, np.int8) + " "
                   + d.report("fused_dense_rr", "ibuf", err, np.int32) + " }")
    case = CONV_GW_SAT_CASES[0]
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    x, zx, e, ze = conv_gw_saturating(rng, case, np.int8, -1)
    wshape = (o, c // groups, kh, kw)
    w, zw, step = qdata(rng, wshape, np.int8), -5, 4242
    g = fqt.qconv2d_grad_weight(x, zx, e, ze, wshape, stride, padding, groups)
    rr, ew, err = fused_sat_expected(w, zw, g, None, "nearest", 0, step, None, None)
    fx, fe, fw, frr = d.add("fc_x", x), d.add("fc_e", e), d.add("fc_w", w), d.add("fc_rr", rr)
    d.calls.append(f"{{ float sg = {cf(SAT_SG)}, sw = {cf(SAT_SW)}; int32_t zx = {zx}, ze = {ze}, zw = {zw}, "
                   f"step = {step}; memcpy(wbuf, {fw}, sizeof {fw}); memcpy(ibuf, {frr}, sizeof {frr}); "
                   f"odtc_qconv2d_grad_weight_sgd_s8_e16({fx}, &zx, {fe}, &ze, &sg, &sw, &zw, 0, wbuf, ibuf, NULL, "
                   f"NULL, &step, scratch, {_conv_geo(case)}, {cf(SAT_LR)}, ODTC_ROUND_NEAREST, 0); "
                   + d.report("fused_conv_w", "wbuf", ew, np.int8) + " "
                   + d.report("fused_conv_rr", "ibuf", err, np.int32) + " }")
    return d


DRIVER_BUFFERS = """static int32_t acc[1024];
static int32_t scratch[64];
static int32_t ibuf[64];
static int8_t wbuf[1024];"""


test_driver_on_host, test_driver_on_host_sanitized, test_driver_on_cortex_m = driver_tests(
    _driver, "Generated by test_fqt_kernels_e16.py: int16-error kernels past int32, output bytes.", DRIVER_BUFFERS, "fqt_e16_driver")


# ---------------------------------------------------------------------------------------
# Sanitizers
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(SANITIZED, reason="already running under the sanitizers")
def test_sanitized_build() -> None:
    """This file's kernel tests again against an ASan/UBSan build (in a subprocess); the C
    driver has its own sanitized run (test_driver_on_host_sanitized)."""
    rerun_under_sanitizers(__file__, "not sanitized and not driver")
