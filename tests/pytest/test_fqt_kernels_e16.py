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

Errors are random over the full int16 range, the shapes small enough that no int32
accumulator can overflow (asserted per case: max|e - ze| * max|other - z| * K < 2^31,
K the reduction length; with zero zero-points that is 32768 * 128 * K < 2^31 for the
weights). Every output buffer carries a guard tail (kernel_harness.Out). Both the portable
build and the emulated-DSP build (-DODTC_EMULATE_DSP: the int8 paths next to the new code)
run the layer kernels, and the file runs again against an ASan/UBSan build."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from conftest import KERNELS_SANITIZED, rerun_under_sanitizers
from kernel_harness import (I16_MAX, I16_MIN, INT32_LIMIT, ROUND, S16, SEEDS, U8, fl, i32, Out, qdata, rng_for,
                            same, selection, storage_of, zero_point)
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


def e16(rng: np.random.Generator, shape: tuple[int, ...]) -> NDArray[np.int16]:
    """int16 errors over the full range, the extremes included."""
    e = qdata(rng, shape, np.int16)
    flat = e.reshape(-1)
    if flat.size >= 2:
        flat[0], flat[-1] = I16_MIN, I16_MAX
    return e


def ze16(rng: np.random.Generator, seed: int) -> int:
    """The error zero-point: 0 (symmetric errors, the compiler's usual choice) or small."""
    return 0 if seed % 2 == 0 else int(rng.integers(-300, 300))


def max_diff(lo: int, hi: int, z: int) -> int:
    return max(hi - z, z - lo)


def assert_no_overflow(ze: int, other_lo: int, other_hi: int, zo: int, k: int) -> None:
    """The compiler's guarantee, checked for the test data: every partial sum of K products
    (e - ze) * (v - zv) stays inside int32."""
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
# Sanitizers
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(SANITIZED, reason="already running under the sanitizers")
def test_sanitized_build() -> None:
    """This file's kernel tests again against an ASan/UBSan build (in a subprocess)."""
    rerun_under_sanitizers(__file__, "not sanitized")
