"""Per-channel weights in the fully-quantized-training kernels (runtime/c/src/fqt.c,
conv2d_s8.c, dense_s8.c) against runtime/fqt.py, BIT FOR BIT.

Per channel: the weight [O, ...] has one scale and one zero-point per output channel / row
o (axis 0), and the accumulator of such a layer one scale per channel on axis 1. Covered:

* the scale and range kernels: odtc_scale_mul_channels = fqt.scale_mul with a vector b,
  odtc_scale_max = fqt.scale_max, odtc_minmax_acc_channels = fqt.minmax with a vector scale;
* the accumulator sinks: odtc_acc_relu6_channels = fqt.relu6_acc and
  odtc_requantize_acc_channels = fqt.requantize_acc with a vector acc_scale (8- and 16-bit
  outputs), odtc_qrescale_channels = fqt.qrescale_channels (int8 / uint8 / int16 errors);
* the layers with w_per_channel = 1: odtc_q{conv2d,dense}_acc_{s8,u8} (groups > 1,
  depthwise, padded, strided, the bias table at the per-channel scales and its edge
  values), odtc_{dense,conv2d}_s16_grad_input (and the int8 grad_input, which had the
  flag already), against fqt.q*_acc / fqt.q*_grad_input with vector zero-points;
* the fused grad-weight + SGD step odtc_q{dense,conv2d}_grad_weight_sgd_{s8,u8}[_e16] with
  per-row scales and zero-points = the compact fqt gradient + fqt.qgrad_weight_sgd_apply:
  int8 and int16 errors, both roundings, selections (none, all, one, random k), a large
  lr that clamps, unselected rows untouched;
* odtc_qweight_regrid with per_channel = 1 = fqt.qweight_regrid with vector scale /
  zero-point: rows that expand, shrink and keep their grid in one tensor, symmetric and
  asymmetric, both roundings, separate and aliased outputs;
* per-channel vectors of length 1, and vectors whose values are all equal give exactly the
  per-tensor kernels (flag 0);

The expected values come from fqt.py alone (nothing computed by the C code feeds them).
Layer kernels run on the portable build and on the DSP code path compiled against C models
of the instructions (-DODTC_EMULATE_DSP). The file runs again against an ASan/UBSan build,
a C driver runs the kernels on the host (plain and under ASan/UBSan) and, under QEMU
(marker `arm`), on Cortex-M4 / M7 / M55 (newlib, the FPU, the real DSP instructions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from conftest import KERNELS_SANITIZED, rerun_under_sanitizers
from kernel_harness import (e16, I16_MAX, I16_MIN, INT32_LIMIT, ROUND, S8, SEEDS, CDriver, cf, driver_tests, fl, i32, Out,
                            qdata, qrange, rng_for, same, selection, storage_of, zero_point)
from odtc.runtime import fqt
from odtc.runtime import kernels as K
from odtc.runtime import reference as ref

# The edge cases make numpy warn (x / 0, inf * 0, overflow): expected, not a problem.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SANITIZED = KERNELS_SANITIZED


# ---------------------------------------------------------------------------------------
# Fixtures and data
# ---------------------------------------------------------------------------------------


def sfx(dtype: Any) -> str:
    return "u8" if np.dtype(dtype) == np.uint8 else "s8"


def chan_scales(rng: np.random.Generator, o: int, lo: float = 1e-3, hi: float = 1e-2) -> NDArray[np.float32]:
    """Per-channel scales spread over a few octaves (so the per-channel factors differ)."""
    return (rng.uniform(lo, hi, o) * 2.0 ** rng.integers(-3, 3, o)).astype(np.float32)


def chan_zero_points(rng: np.random.Generator, o: int, span: int = 20) -> NDArray[np.int32]:
    return rng.integers(-span, span + 1, o).astype(np.int32)


def e_zero_point(rng: np.random.Generator, dtype: Any) -> int:
    return int(rng.integers(-300, 300)) if np.dtype(dtype) == np.int16 else zero_point(rng, dtype)


def max_diff(dtype: Any, z: int) -> int:
    lo, hi = qrange(dtype)
    return max(hi - z, z - lo)


def check_no_overflow(*terms: int) -> None:
    """The compiler's guarantee for the test data: the product of the bounds of one term's
    factors and the reduction length stays inside int32."""
    bound = int(np.prod(np.array(terms, dtype=object)))
    assert bound < INT32_LIMIT, f"test case could overflow int32: bound {bound}"


# (n, c, h, w, o, kh, kw, stride, padding [top, left, bottom, right], groups)
CONV_CASES = [
    (2, 3, 8, 8, 4, 3, 3, (1, 1), (1, 1, 1, 1), 1),
    (1, 4, 7, 9, 6, 3, 2, (2, 1), (0, 1, 2, 0), 2),  # grouped, asymmetric padding
    (1, 6, 10, 10, 6, 3, 3, (2, 2), (1, 0, 1, 2), 6),  # depthwise, stride 2
    (2, 8, 6, 6, 8, 3, 3, (1, 1), (1, 1, 1, 1), 8),  # depthwise, n = 2
    (2, 8, 5, 5, 5, 1, 1, (1, 1), (0, 0, 0, 0), 1),  # pointwise, odd O
    (2, 6, 5, 6, 9, 2, 3, (1, 2), (1, 0, 0, 1), 3),  # 3 groups of 2 -> 3 channels
    (1, 16, 6, 6, 12, 3, 3, (1, 1), (1, 1, 1, 1), 1),  # K = 144
]
DENSE_SHAPES = [(1, 16, 10), (3, 37, 7), (2, 256, 5), (1, 3, 1), (4, 101, 2)]  # (n, k, o)


# ---------------------------------------------------------------------------------------
# Scales and ranges
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 17, 100])
def test_scale_mul_channels_and_scale_max(portable: K.Kernels, n: int) -> None:
    rng = rng_for("scale_mul_channels", n)
    for trial in range(8):
        a = np.float32(rng.uniform(1e-4, 1.0) * 10.0 ** rng.integers(-3, 3))
        b = chan_scales(rng, n, 1e-6, 1.0)
        if trial == 1:
            b[:] = b[0]  # all equal: the max is the first
        if trial == 2:
            b[-1] = np.float32(3.4e38)  # the product overflows to inf
        y = Out((n,), np.float32)
        portable.odtc_scale_mul_channels(fl(a), b, y.ptr, n)
        same(y.value(), fqt.scale_mul(a, b))
        same(portable.odtc_scale_max(b, n), fqt.scale_max(b))
        same(portable.odtc_scale_max(y.value(), n), fqt.scale_max(fqt.scale_mul(a, b)))


def test_scale_max_nan_and_empty(portable: K.Kernels) -> None:
    s = np.array([0.5, np.nan, 2.0], np.float32)
    assert np.isnan(portable.odtc_scale_max(s, 3)) and np.isnan(fqt.scale_max(s))
    assert portable.odtc_scale_max(s, 1) == 0.5
    assert portable.odtc_scale_max(None, 0) == 1.0


# the accumulator shapes of per-channel layers: dense [N, O] and conv [N, O, H, W]
ACC_SHAPES = [(3, 5), (1, 1), (2, 4, 3, 3), (4, 1, 2, 2), (2, 7, 1, 1), (1, 16, 5, 5), (5, 33)]


def acc_data(rng: np.random.Generator, shape: tuple[int, ...], span: int) -> NDArray[np.int32]:
    acc = rng.integers(-span, span, size=shape, endpoint=True).astype(np.int32)
    if acc.ndim > 1 and acc.shape[1] > 2:  # one channel all positive, one all negative
        acc[:, 0] = np.abs(acc[:, 0]) + 1
        acc[:, 1] = -np.abs(acc[:, 1]) - 1
    return acc


def spatial_of(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape[2:], dtype=np.int64))


@pytest.mark.parametrize("shape", ACC_SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_minmax_acc_channels(portable: K.Kernels, shape: tuple[int, ...], seed: int) -> None:
    rng = rng_for("minmax_acc_channels", shape, seed)
    span = (100, 2**20, 2**31 - 1, 5)[seed]
    acc = acc_data(rng, shape, span)
    s = chan_scales(rng, shape[1], 1e-6, 1e-2)
    out = Out((2,), np.float32)
    portable.odtc_minmax_acc_channels(acc, s, out.ptr, shape[0], shape[1], spatial_of(shape))
    want = fqt.minmax(acc, s)
    same(out.value(), want)
    if shape[1] > 1:  # the per-channel scales matter: not the per-tensor range of any one scale
        assert not any(np.array_equal(want, fqt.minmax(acc, v)) for v in np.unique(s)) or span == 5


def test_minmax_acc_channels_edges(portable: K.Kernels) -> None:
    acc = np.array([[[0, 5]], [[-3, 0]]], np.int32).reshape(2, 1, 2)  # one channel: lo -3, hi 5
    out = Out((2,), np.float32)
    portable.odtc_minmax_acc_channels(acc, fl(0.5), out.ptr, 2, 1, 2)
    same(out.value(), fqt.minmax(acc, np.array([0.5], np.float32)))
    # an infinite scale on a channel whose min is 0: that end is NaN (inf * 0), the other inf
    for acc, s in ((np.array([[0, 7], [3, 9]], np.int32), np.array([np.inf, 0.25], np.float32)),
                   (np.array([[7, 0, 8], [9, 3, -2]], np.int32), np.array([0.25, np.inf, 1.0], np.float32))):
        portable.odtc_minmax_acc_channels(acc, s, out.ptr, acc.shape[0], acc.shape[1], 1)
        got, want = out.value(), fqt.minmax(acc, s)
        assert np.isnan(got[0]) and np.isnan(want[0]), (got, want)
        same(got[1], want[1])
    for n, c, spatial in ((0, 3, 4), (2, 0, 4), (2, 3, 0)):  # nothing observed: the empty range
        portable.odtc_minmax_acc_channels(None, s, out.ptr, n, c, spatial)
        same(out.value(), np.array([1.0, -1.0], np.float32))


def relu6_chan_scales(rng: np.random.Generator, c: int) -> NDArray[np.float32]:
    """Scales whose relu6 bound lands inside the data (6 / s exactly an integer or one ulp
    off), tiny ones (bound INT32_MAX) and a few past 6 (bound 0)."""
    k = rng.integers(1, 3000, c).astype(np.float32)
    s = (np.float32(6.0) / k).astype(np.float32)
    nudge = rng.integers(-1, 2, c)
    s = np.where(nudge < 0, np.nextafter(s, np.float32(0)), np.where(nudge > 0, np.nextafter(s, np.float32(1)), s))
    s = s.astype(np.float32)
    if c > 3:
        s[1], s[2] = np.float32(1e-12), np.float32(7.0)
    return s


@pytest.mark.parametrize("shape", ACC_SHAPES)
def test_acc_relu6_channels(portable: K.Kernels, shape: tuple[int, ...]) -> None:
    rng = rng_for("acc_relu6_channels", shape)
    for _ in SEEDS:
        acc = acc_data(rng, shape, 4000)
        if acc.size >= 2:
            acc.reshape(-1)[:2] = (np.iinfo(np.int32).max, np.iinfo(np.int32).min)
        s = relu6_chan_scales(rng, shape[1])
        want = fqt.relu6_acc(acc, s)
        y = Out(shape, np.int32)
        portable.odtc_acc_relu6_channels(acc, s, y.ptr, shape[0], shape[1], spatial_of(shape))
        same(y.value(), want)
        inplace = acc.copy()
        portable.odtc_acc_relu6_channels(inplace, s, inplace, shape[0], shape[1], spatial_of(shape))
        same(inplace, want)
        if shape[1] == 1:
            same(want, fqt.relu6_acc(acc, s[0]))  # a vector of one is the per-tensor op


@pytest.mark.parametrize("shape", ACC_SHAPES)
@pytest.mark.parametrize("ydtype", [np.int8, np.uint8, np.int16])
def test_requantize_acc_channels(portable: K.Kernels, shape: tuple[int, ...], ydtype: Any) -> None:
    rng = rng_for("requantize_acc_channels", shape, np.dtype(ydtype).name)
    qmin, qmax = qrange(ydtype)
    for seed in SEEDS:
        acc = acc_data(rng, shape, 2**20 if seed else 2**31 - 1)
        sacc = chan_scales(rng, shape[1], 1e-7, 1e-4)
        # the output grid from the real range, so values spread over the storage range
        r = fqt.minmax(acc, sacc)
        sy, _ = fqt.qparams(r, qmin, qmax, False)
        sy = np.float32(sy * np.float32(rng.choice([0.5, 1.0, 2.0])))
        zy = e_zero_point(rng, ydtype)
        want = fqt.requantize_acc(acc, sacc, sy, zy, qmin, qmax)
        out = Out(shape, ydtype)
        portable.odtc_requantize_acc_channels(acc, out.ptr, storage_of(ydtype), shape[0], shape[1], spatial_of(shape),
                                              sacc, fl(sy), i32(zy))
        same(out.value(), want)


@pytest.mark.parametrize("shape", ACC_SHAPES)
@pytest.mark.parametrize("edtype", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("shift", [0, 4, 15])
def test_qrescale_channels(portable: K.Kernels, shape: tuple[int, ...], edtype: Any, shift: int) -> None:
    rng = rng_for("qrescale_channels", shape, np.dtype(edtype).name, shift)
    c = shape[1]
    saturated = False
    for seed in SEEDS:
        e = e16(rng, shape) if edtype == np.int16 else qdata(rng, shape, edtype)
        ze = e_zero_point(rng, edtype)
        sw = chan_scales(rng, c, 1e-4, 1e-1)
        if seed == 1:
            sw[:] = sw[0]  # all factors 2^shift
        want = fqt.qrescale_channels(e, ze, sw, shift)
        y = Out(shape, np.int16)
        portable.odtc_qrescale_channels(e, storage_of(edtype), i32(ze), sw, y.ptr, shape[0], c, spatial_of(shape), shift)
        same(y.value(), want)
        saturated |= bool((want == I16_MAX).any() or (want == I16_MIN).any())
    if edtype == np.int16 and shift == 15:
        assert saturated  # the clamp was exercised


def test_qrescale_then_s16_grad_input_is_the_per_channel_gradient(portable: K.Kernels) -> None:
    """The rescaled error's input gradient (odtc_qrescale_channels -> odtc_dense_s16_grad_input
    with per-row zero-points) approximates the real sum_o se (e - ze) sw[o] (w - zw[o]) at
    the single scale se * max(sw) / 2^shift, and equals fqt's chain bit for bit."""
    rng = rng_for("rescale chain")
    n, k, o, shift = 3, 20, 9, 7  # 131 * 2^7 < 32767: no saturation
    e, w = qdata(rng, (n, o), np.int8), qdata(rng, (o, k), np.int8)
    ze, zw, sw, se = -3, chan_zero_points(rng, o), chan_scales(rng, o), np.float32(0.02)
    y = Out((n, o), np.int16)
    portable.odtc_qrescale_channels(e, S8, i32(ze), sw, y.ptr, n, o, 1, shift)
    er = y.value()
    same(er, fqt.qrescale_channels(e, ze, sw, shift))
    acc = Out((n, k), np.int32)
    portable.odtc_dense_s16_grad_input(er, i32(0), w, zw, 1, acc.ptr, n, k, o)
    same(acc.value(), fqt.qdense_grad_input(er, 0, w, zw))
    real = (se * (e.astype(np.float64) - ze) * sw) @ (w.astype(np.float64) - zw.reshape(-1, 1))
    approx = acc.value() * (float(se) * float(sw.max()) / 2.0**shift)
    np.testing.assert_allclose(approx, real, rtol=0, atol=o * float(se) * float(sw.max()) * 256 / 2.0**shift)


# ---------------------------------------------------------------------------------------
# Layers: forward accumulators and input gradients
# ---------------------------------------------------------------------------------------


def c_qconv2d_acc(lib: K.Kernels, x: NDArray[Any], zx: int, w: NDArray[np.int8], zw: NDArray[np.int32],
                  bias: NDArray[np.float32] | None, s: NDArray[np.float32] | None, stride: tuple[int, int],
                  padding: tuple[int, ...], groups: int, per_channel: int = 1) -> NDArray[np.int32]:
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    out = Out((n, o, oh, ow), np.int32)
    scratch = Out((lib.odtc_qconv2d_acc_scratch_bytes(c, groups, kh, kw, o) // 4,), np.int32)
    getattr(lib, f"odtc_qconv2d_acc_{sfx(x.dtype)}")(x, i32(zx), w, zw, per_channel, bias, s, out.ptr, scratch.ptr,
                                                     n, c, h, wd, o, kh, kw, *stride, *padding, groups)
    scratch.value()
    return out.value()


def c_qdense_acc(lib: K.Kernels, x: NDArray[Any], zx: int, w: NDArray[np.int8], zw: NDArray[np.int32],
                 bias: NDArray[np.float32] | None, s: NDArray[np.float32] | None,
                 per_channel: int = 1) -> NDArray[np.int32]:
    n, k = x.shape
    o = w.shape[0]
    out = Out((n, o), np.int32)
    scratch = Out((lib.odtc_qdense_acc_scratch_bytes(k, o) // 4,), np.int32)
    getattr(lib, f"odtc_qdense_acc_{sfx(x.dtype)}")(x, i32(zx), w, zw, per_channel, bias, s, out.ptr, scratch.ptr,
                                                    n, k, o)
    scratch.value()
    return out.value()


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("seed", SEEDS[:2])
def test_qconv2d_acc_per_channel(lib: K.Kernels, case: tuple, xdtype: Any, seed: int) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    rng = rng_for("qconv2d_acc_pc", case, np.dtype(xdtype).name, seed)
    x, w = qdata(rng, (n, c, h, wd), xdtype), qdata(rng, (o, c // groups, kh, kw), np.int8)
    zx, zw = zero_point(rng, xdtype), chan_zero_points(rng, o)
    sacc = fqt.scale_mul(np.float32(rng.uniform(0.005, 0.05)), chan_scales(rng, o))
    bias = (rng.standard_normal(o) * 0.5).astype(np.float32) if seed == 0 else None
    want = fqt.qconv2d_acc(x, zx, w, zw, bias, sacc, stride, padding, groups)
    same(c_qconv2d_acc(lib, x, zx, w, zw, bias, None if bias is None else sacc, stride, padding, groups), want)


@pytest.mark.parametrize("shape", DENSE_SHAPES)
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("seed", SEEDS)
def test_qdense_acc_per_channel(lib: K.Kernels, shape: tuple[int, int, int], xdtype: Any, seed: int) -> None:
    n, k, o = shape
    rng = rng_for("qdense_acc_pc", shape, np.dtype(xdtype).name, seed)
    x, w = qdata(rng, (n, k), xdtype), qdata(rng, (o, k), np.int8)
    zx, zw = zero_point(rng, xdtype), chan_zero_points(rng, o, 128 if seed == 3 else 20)
    sacc = fqt.scale_mul(np.float32(rng.uniform(0.005, 0.05)), chan_scales(rng, o))
    bias = (rng.standard_normal(o) * 0.5).astype(np.float32) if seed % 2 == 0 else None
    want = fqt.qdense_acc(x, zx, w, zw, bias, sacc)
    same(c_qdense_acc(lib, x, zx, w, zw, bias, None if bias is None else sacc), want)


def test_per_channel_bias_edges(lib: K.Kernels) -> None:
    """x == zx makes the dot products 0, so acc is the bias at each channel's own scale: ties
    to even, NaN -> 0, +-inf and out-of-range quotients clamp, a 0 scale gives +-inf / NaN."""
    bias = np.array([0.5, 1.5, 2.5, -0.5, -2.5, np.nan, np.inf, -np.inf, 3e9, -3e9, 1e-30, 7.0, 1.0, -1.0, 0.0],
                    np.float32)
    o, k = bias.size, 5
    s = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 1.0, 0.25, 0.0, 0.0, 0.0], np.float32)
    x = np.full((2, k), 17, np.uint8)
    w = qdata(rng_for("pc bias edges"), (o, k), np.int8)
    zw = chan_zero_points(rng_for("pc bias zw"), o)
    want = fqt.qdense_acc(x, 17, w, zw, bias, s)
    same(c_qdense_acc(lib, x, 17, w, zw, bias, s), want)
    assert want[0, 1] == 2 and want[0, 11] == 28 and want[0, 12] == 2**31 - 1 and want[0, 14] == 0
    xc = np.full((1, o, 3, 3), -4, np.int8)
    wc = qdata(rng_for("pc bias edges conv"), (o, 1, 2, 2), np.int8)
    same(c_qconv2d_acc(lib, xc, -4, wc, zw, bias, s, (1, 1), (0, 0, 0, 0), o),
         fqt.qconv2d_acc(xc, -4, wc, zw, bias, s, (1, 1), (0, 0, 0, 0), o))


def test_per_channel_flag_with_equal_values_is_per_tensor(lib: K.Kernels) -> None:
    """A per-channel vector whose values are all equal, and one of length 1 on a single
    channel, give exactly the per-tensor kernels (flag 0, one value)."""
    rng = rng_for("pc equals pt")
    x, w = qdata(rng, (2, 3, 7, 7), np.uint8), qdata(rng, (5, 3, 3, 3), np.int8)
    b = (rng.standard_normal(5) * 0.3).astype(np.float32)
    s = np.float32(2.5e-4)
    pt = c_qconv2d_acc(lib, x, 100, w, i32(-7), b, fl(s), (2, 2), (1, 1, 1, 1), 1, per_channel=0)
    pc = c_qconv2d_acc(lib, x, 100, w, np.full(5, -7, np.int32), b, np.full(5, s, np.float32), (2, 2),
                       (1, 1, 1, 1), 1)
    same(pc, pt)
    same(pt, fqt.qconv2d_acc(x, 100, w, -7, b, s, (2, 2), (1, 1, 1, 1), 1))
    xd, wd = qdata(rng, (3, 40), np.int8), qdata(rng, (1, 40), np.int8)
    one = c_qdense_acc(lib, xd, 5, wd, i32(9), b[:1], fl(s))  # flag 1, vectors of length 1
    same(one, c_qdense_acc(lib, xd, 5, wd, i32(9), b[:1], fl(s), per_channel=0))
    same(one, fqt.qdense_acc(xd, 5, wd, np.array([9], np.int32), b[:1], np.array([s], np.float32)))


@pytest.mark.parametrize("shape", [(1, 16, 10), (3, 37, 7), (2, 5, 1), (4, 1, 33), (2, 64, 200)])
@pytest.mark.parametrize("edtype", [np.int8, np.int16])
def test_dense_grad_input_per_channel(lib: K.Kernels, shape: tuple[int, int, int], edtype: Any) -> None:
    n, k, o = shape
    rng = rng_for("dense_grad_input_pc", shape, np.dtype(edtype).name)
    for seed in SEEDS[:2]:
        w, zw = qdata(rng, (o, k), np.int8), chan_zero_points(rng, o)
        if edtype == np.int16:
            e, ze = e16(rng, (n, o)), (0 if seed == 0 else int(rng.integers(-300, 300)))
            check_no_overflow(max_diff(np.int16, ze), 128 + 20, o)
        else:
            e, ze = qdata(rng, (n, o), np.int8), zero_point(rng, np.int8)
        out = Out((n, k), np.int32)
        fn = lib.odtc_dense_s16_grad_input if edtype == np.int16 else lib.odtc_dense_s8_grad_input
        fn(e, i32(ze), w, zw, 1, out.ptr, n, k, o)
        same(out.value(), fqt.qdense_grad_input(e, ze, w, zw))


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("edtype", [np.int8, np.int16])
def test_conv2d_grad_input_per_channel(lib: K.Kernels, case: tuple, edtype: Any) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    rng = rng_for("conv2d_grad_input_pc", case, np.dtype(edtype).name)
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    w, zw = qdata(rng, (o, c // groups, kh, kw), np.int8), chan_zero_points(rng, o)
    if edtype == np.int16:
        e, ze = e16(rng, (n, o, oh, ow)), int(rng.integers(-300, 300))
        check_no_overflow(max_diff(np.int16, ze), 128 + 20, (o // groups) * kh * kw)
    else:
        e, ze = qdata(rng, (n, o, oh, ow), np.int8), zero_point(rng, np.int8)
    out = Out((n, c, h, wd), np.int32)
    fn = lib.odtc_conv2d_s16_grad_input if edtype == np.int16 else lib.odtc_conv2d_s8_grad_input
    fn(e, i32(ze), w, zw, 1, out.ptr, n, c, h, wd, o, kh, kw, *stride, *padding, groups)
    same(out.value(), fqt.qconv2d_grad_input(e, ze, w, zw, (n, c, h, wd), stride, padding, groups))


# ---------------------------------------------------------------------------------------
# The fused grad-weight + SGD step with per-row grids
# ---------------------------------------------------------------------------------------


FUSED_CONV_CASES = [
    (1, 2, 7, 7, 4, 3, 3, (2, 2), (1, 1, 1, 1), 1),
    (2, 4, 6, 6, 6, 3, 3, (1, 1), (1, 1, 1, 1), 2),  # grouped, stride 1 (DSP grad weight)
    (1, 6, 8, 8, 6, 3, 3, (2, 2), (1, 1, 1, 1), 6),  # depthwise
    (1, 5, 6, 6, 5, 3, 3, (1, 1), (1, 1, 1, 1), 5),  # depthwise, stride 1, odd O
    (1, 3, 5, 6, 5, 2, 3, (2, 1), (1, 0, 2, 1), 1),  # mixed strides
]


def fused_case(rng: np.random.Generator, seed: int, o: int, wshape: tuple[int, ...], e16_errors: bool):
    w = qdata(rng, wshape, np.int8)
    zw = chan_zero_points(rng, o)
    sw = chan_scales(rng, o)
    rr = fqt.row_range_of(w, zw)
    sg = np.float32(rng.uniform(1e-9, 1e-7) if e16_errors else rng.uniform(1e-6, 1e-4))
    lr = float(rng.choice([0.01, 0.1, 1.0, 50.0]))
    sel = (None, selection(rng, o, o), selection(rng, o, 1), selection(rng, o, int(rng.integers(1, o + 1))))[seed]
    idx, k = sel if sel is not None else (None, None)
    return w, zw, sw, rr, sg, lr, idx, k, int(rng.integers(0, 10**6))


def check_fused(cw: NDArray[Any], crr: NDArray[Any], w: NDArray[Any], rr: NDArray[Any], ew: NDArray[Any],
                err: NDArray[Any], idx: NDArray[np.int32] | None, k: NDArray[np.int32] | None) -> None:
    same(cw, ew)
    same(crr, err)
    o = w.shape[0]
    rows = set(range(o)) if idx is None else {int(v) for v in idx[: int(k[0])]}  # type: ignore[index]
    for r in set(range(o)) - rows:
        same(cw[r], w[r])
        same(crr[r], rr[r])


@pytest.mark.parametrize("shape", [(1, 16, 10), (3, 37, 7), (2, 5, 1), (4, 200, 3)])
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("edtype", [np.int8, np.int16])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_qdense_grad_weight_sgd_per_channel(lib: K.Kernels, shape: tuple[int, int, int], xdtype: Any, edtype: Any,
                                            rounding: str) -> None:
    n, kdim, o = shape
    big = edtype == np.int16
    fn = getattr(lib, f"odtc_qdense_grad_weight_sgd_{sfx(xdtype)}{'_e16' if big else ''}")
    for seed in SEEDS:
        rng = rng_for("qdense_sgd_pc", shape, sfx(xdtype), np.dtype(edtype).name, rounding, seed)
        x = qdata(rng, (n, kdim), xdtype)
        e = e16(rng, (n, o)) if big else qdata(rng, (n, o), np.int8)
        zx, ze = zero_point(rng, xdtype), e_zero_point(rng, edtype)
        check_no_overflow(max_diff(edtype, ze), max_diff(xdtype, zx), n)
        w, zw, sw, rr, sg, lr, idx, k, step = fused_case(rng, seed, o, (o, kdim), big)
        g = fqt.qdense_grad_weight(x, zx, e, ze, idx, k)
        ew, err = fqt.qgrad_weight_sgd_apply(w, sw, zw, g, sg, rr, lr, -128, 127, rounding, seed, step, idx, k)
        cw, crr = w.copy(), rr.copy()
        scratch = Out((kdim,), np.int32)  # ODTC_QGRAD_WEIGHT_SGD_SCRATCH_BYTES(row_len) / 4
        fn(x, i32(zx), e, i32(ze), fl(sg), sw, zw, 1, cw, crr, idx, k, i32(step), scratch.ptr, n, kdim, o, lr,
           ROUND[rounding], seed)
        scratch.value()
        check_fused(cw, crr, w, rr, ew, err, idx, k)


@pytest.mark.parametrize("case", FUSED_CONV_CASES)
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("edtype", [np.int8, np.int16])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_qconv2d_grad_weight_sgd_per_channel(lib: K.Kernels, case: tuple, xdtype: Any, edtype: Any,
                                             rounding: str) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    big = edtype == np.int16
    fn = getattr(lib, f"odtc_qconv2d_grad_weight_sgd_{sfx(xdtype)}{'_e16' if big else ''}")
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    wshape = (o, c // groups, kh, kw)
    row_len = int(np.prod(wshape[1:]))
    for seed in SEEDS:
        rng = rng_for("qconv2d_sgd_pc", case, sfx(xdtype), np.dtype(edtype).name, rounding, seed)
        x = qdata(rng, (n, c, h, wd), xdtype)
        e = e16(rng, (n, o, oh, ow)) if big else qdata(rng, (n, o, oh, ow), np.int8)
        zx, ze = zero_point(rng, xdtype), e_zero_point(rng, edtype)
        check_no_overflow(max_diff(edtype, ze), max_diff(xdtype, zx), n * oh * ow)
        w, zw, sw, rr, sg, lr, idx, k, step = fused_case(rng, seed, o, wshape, big)
        g = fqt.qconv2d_grad_weight(x, zx, e, ze, wshape, stride, padding, groups, idx, k)
        ew, err = fqt.qgrad_weight_sgd_apply(w, sw, zw, g, sg, rr, lr, -128, 127, rounding, seed, step, idx, k)
        cw, crr = w.copy(), rr.copy()
        scratch = Out((row_len,), np.int32)
        fn(x, i32(zx), e, i32(ze), fl(sg), sw, zw, 1, cw, crr, idx, k, i32(step), scratch.ptr,
           n, c, h, wd, o, kh, kw, *stride, *padding, groups, lr, ROUND[rounding], seed)
        scratch.value()
        check_fused(cw, crr, w, rr, ew, err, idx, k)


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_fused_per_channel_rows_use_their_own_grid(lib: K.Kernels, rounding: str) -> None:
    """Equal per-row values step the weights exactly as the per-tensor kernel; different ones
    do not (so the per-row scale and zero-point are really read); one row with a vector of
    length 1 is the per-tensor step."""
    rng = rng_for("fused pc vs pt", rounding)
    n, kdim, o = 2, 23, 6
    x, e = qdata(rng, (n, kdim), np.uint8), qdata(rng, (n, o), np.int8)
    w = qdata(rng, (o, kdim), np.int8)
    sg, sw, zw, lr = np.float32(3e-5), np.float32(4e-3), -6, 0.01
    rr = fqt.row_range_of(w, zw)

    def run(w_scale: NDArray[np.float32], w_zp: NDArray[np.int32], flag: int, rows: int = o):
        cw, crr, scratch = w[:rows].copy(), rr[:rows].copy(), np.zeros(kdim, np.int32)
        lib.odtc_qdense_grad_weight_sgd_u8(x, i32(120), e[:, :rows].copy(), i32(3), fl(sg), w_scale, w_zp, flag, cw,
                                           crr, None, None, i32(77), scratch, n, kdim, rows, lr, ROUND[rounding], 5)
        return cw, crr

    pt = run(fl(sw), i32(zw), 0)
    pc = run(np.full(o, sw, np.float32), np.full(o, zw, np.int32), 1)
    same(pc[0], pt[0])
    same(pc[1], pt[1])
    sws = np.full(o, sw, np.float32)
    sws[2] *= np.float32(0.25)
    zws = np.full(o, zw, np.int32)
    zws[4] = 11
    differ = run(sws, zws, 1)
    assert not np.array_equal(differ[0][2], pt[0][2]) and not np.array_equal(differ[1][4], pt[1][4])
    same(run(fl(sw), i32(zw), 1, rows=1)[0], run(fl(sw), i32(zw), 0, rows=1)[0])


# ---------------------------------------------------------------------------------------
# Regrid of per-channel weights
# ---------------------------------------------------------------------------------------


def regrid_case(rng: np.random.Generator, o: int, row_shape: tuple[int, ...], symmetric: bool):
    """Weights whose rows, each on its own grid, keep it (values over most of the grid),
    expand (a row range past the grid) or shrink (values in less than half of it)."""
    w = rng.integers(-100, 100, size=(o, *row_shape)).astype(np.int8)
    z = np.zeros(o, np.int32) if symmetric else chan_zero_points(rng, o, 10)
    s = chan_scales(rng, o, 5e-3, 2e-2)
    kinds = np.array(["keep", "expand", "shrink"])[np.arange(o) % 3]
    rng.shuffle(kinds)
    for r in np.nonzero(kinds == "keep")[0]:  # spans most of the grid
        w[r].reshape(-1)[0], w[r].reshape(-1)[-1] = -100, 99
    for r in np.nonzero(kinds == "shrink")[0]:
        w[r] = (w[r] // 4).astype(np.int8)
    rr = fqt.row_range_of(w, z)
    for r in np.nonzero(kinds == "expand")[0]:
        if rng.integers(2):
            rr[r, 1] = 140 - z[r]
        else:
            rr[r, 0] = -150 - z[r]
    return w, s, z, rr, kinds


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
@pytest.mark.parametrize("row_shape", [(7,), (2, 3, 3), (1,)])
def test_qweight_regrid_per_channel(portable: K.Kernels, symmetric: bool, rounding: str,
                                    row_shape: tuple[int, ...]) -> None:
    rng = rng_for("regrid_pc", symmetric, rounding, row_shape)
    row_len = int(np.prod(row_shape))
    for trial, o in enumerate((9, 5, 1, 12)):
        w, s, z, rr, kinds = regrid_case(rng, o, row_shape, symmetric)
        flags = [fqt.regrid_target(s[r], z[r], rr[r], -128, 127, symmetric, 0.125)[0] for r in range(o)]
        if row_len > 1:
            assert flags == [kind != "keep" for kind in kinds], (kinds, flags)
        step, seed = int(rng.integers(0, 10**6)), trial
        ew, err, es, ez = fqt.qweight_regrid(w, s, z, rr, -128, 127, symmetric, 0.125, rounding, seed, step)
        # separate outputs
        cw, crr, ns, nz = w.copy(), rr.copy(), Out((o,), np.float32), Out((o,), np.int32)
        portable.odtc_qweight_regrid(cw, crr, s, z, ns.ptr, nz.ptr, 1, o, row_len, -128, 127, int(symmetric),
                                     0.125, i32(step), ROUND[rounding], seed)
        same(cw, ew)
        same(crr, err)
        same(ns.value(), es)
        same(nz.value(), ez)
        for r in range(o):
            if not flags[r]:  # a row that keeps its grid is not touched
                same(cw[r], w[r])
                same(crr[r], rr[r])
                same(ns.value()[r], s[r])
                same(nz.value()[r], z[r])
        # in place: the new grid over the old one
        cw, crr, cs, cz = w.copy(), rr.copy(), s.copy(), z.copy()
        portable.odtc_qweight_regrid(cw, crr, cs, cz, cs, cz, 1, o, row_len, -128, 127, int(symmetric), 0.125,
                                     i32(step), ROUND[rounding], seed)
        same(cw, ew)
        same(crr, err)
        same(cs, es)
        same(cz, ez)


def test_qweight_regrid_per_channel_length_one_is_per_tensor(portable: K.Kernels) -> None:
    """One row, a vector of length 1: the per-channel and per-tensor regrids agree (and fqt's
    vector and scalar branches)."""
    rng = rng_for("regrid one row")
    for case in ("keep", "expand", "shrink"):
        for rounding in ("nearest", "stochastic"):
            w = rng.integers(-100, 100, size=(1, 11)).astype(np.int8)
            if case == "shrink":
                w = (w // 4).astype(np.int8)
            s, z = np.float32(0.01), 3
            rr = fqt.row_range_of(w, z)
            if case == "expand":
                rr[0, 1] = 140 - z
            ew, err, es, ez = fqt.qweight_regrid(w, s, z, rr, -128, 127, False, 0.125, rounding, 4, 99)
            ev = fqt.qweight_regrid(w, np.array([s]), np.array([z]), rr, -128, 127, False, 0.125, rounding, 4, 99)
            for got, want in zip(ev, (ew, err, es, ez)):
                same(np.asarray(got).reshape(-1), np.asarray(want).reshape(-1))
            for flag in (0, 1):
                cw, crr, cs, cz = w.copy(), rr.copy(), fl(s), i32(z)
                portable.odtc_qweight_regrid(cw, crr, cs, cz, cs, cz, flag, 1, 11, -128, 127, 0, 0.125, i32(99),
                                             ROUND[rounding], 4)
                same(cw, ew)
                same(crr, err)
                same(cs[0], es)
                same(cz[0], ez)


# ---------------------------------------------------------------------------------------
# Sanitizers, and a C driver on the host and on Cortex-M
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(SANITIZED, reason="already running under the sanitizers")
def test_sanitized_build() -> None:
    """This file's kernel tests again against an ASan/UBSan build (in a subprocess)."""
    rerun_under_sanitizers(__file__, "not sanitized and not driver")


def _driver() -> CDriver:
    """A C driver running the per-channel kernels on embedded inputs; expected outputs from
    fqt.py."""
    rng = rng_for("per-channel driver")
    d = CDriver()
    # conv acc: uint8 x, groups 2, stride 2, asymmetric padding, per-channel bias table
    stride, pads, geo = (2, 2), (1, 0, 1, 2), "1, 4, 9, 9, 6, 3, 3, 2, 2, 1, 0, 1, 2, 2"
    oh, ow = ref.conv_output_hw((9, 9), (3, 3), stride, pads)
    cx, cw = d.add("cx", qdata(rng, (1, 4, 9, 9), np.uint8)), d.add("cw", qdata(rng, (6, 2, 3, 3), np.int8))
    czw, csw = d.add("czw", chan_zero_points(rng, 6)), d.add("csw", chan_scales(rng, 6))
    cb = d.add("cb", (rng.standard_normal(6) * 0.2).astype(np.float32))
    sx = np.float32(0.021)
    sacc = fqt.scale_mul(sx, d.arrays[csw])
    acc = fqt.qconv2d_acc(d.arrays[cx], 131, d.arrays[cw], d.arrays[czw], d.arrays[cb], sacc, stride, pads, 2)
    d.calls.append(f"{{ float sx = {cf(sx)}; int32_t zx = 131; odtc_scale_mul_channels(&sx, (const float *){csw}, "
                   f"sacc, 6); {d.report('scale_mul_channels', 'sacc', sacc, np.float32)} "
                   f"odtc_qconv2d_acc_u8({cx}, &zx, {cw}, {czw}, 1, (const float *){cb}, sacc, acc, scratch, {geo}); "
                   f"{d.report('qconv2d_acc', 'acc', acc, np.int32)} }}")
    d.calls.append("fbuf[0] = odtc_scale_max(sacc, 6); " + d.report("scale_max", "fbuf", fqt.scale_max(sacc).reshape(1),
                                                                    np.float32))
    d.calls.append(f"odtc_minmax_acc_channels(acc, sacc, fbuf, 1, 6, {oh * ow}); "
                   + d.report("minmax_acc_channels", "fbuf", fqt.minmax(acc, sacc), np.float32))
    s6 = relu6_chan_scales(rng, 6)
    s6a = d.add("s6", s6)
    a6 = fqt.relu6_acc(acc, s6)
    d.calls.append(f"memcpy(ibuf, acc, {acc.size * 4}u); odtc_acc_relu6_channels(ibuf, (const float *){s6a}, ibuf, 1, "
                   f"6, {oh * ow}); " + d.report("acc_relu6_channels", "ibuf", a6, np.int32))
    sy, zy = fqt.qparams(fqt.minmax(acc, sacc), 0, 255, False)
    d.calls.append(f"{{ float sy = {cf(sy)}; int32_t zy = {int(zy)}; odtc_requantize_acc_channels(acc, bbuf, ODTC_U8, "
                   f"1, 6, {oh * ow}, sacc, &sy, &zy); "
                   + d.report("requantize_acc_channels", "bbuf", fqt.requantize_acc(acc, sacc, sy, zy, 0, 255), np.uint8)
                   + " }")
    # dense acc s8, per-channel, no bias
    dx, dw = d.add("dx", qdata(rng, (2, 37), np.int8)), d.add("dw", qdata(rng, (5, 37), np.int8))
    dzw = d.add("dzw", chan_zero_points(rng, 5, 100))
    d.calls.append(f"{{ int32_t zx = 3; odtc_qdense_acc_s8({dx}, &zx, {dw}, {dzw}, 1, NULL, NULL, acc, scratch, 2, 37, "
                   f"5); " + d.report("qdense_acc", "acc", fqt.qdense_acc(d.arrays[dx], 3, d.arrays[dw], d.arrays[dzw],
                                                                          None, 1.0), np.int32) + " }")
    # backward: the int8 error rescaled to one scale, then the int16 input gradients
    ce = d.add("ce", qdata(rng, (1, 6, oh, ow), np.int8))
    er = fqt.qrescale_channels(d.arrays[ce], -2, d.arrays[csw], 11)
    d.calls.append(f"{{ int32_t ze = -2; odtc_qrescale_channels({ce}, ODTC_S8, &ze, (const float *){csw}, hbuf, 1, 6, "
                   f"{oh * ow}, 11); " + d.report("qrescale_channels", "hbuf", er, np.int16) + " }")
    gi = fqt.qconv2d_grad_input(er, 0, d.arrays[cw], d.arrays[czw], (1, 4, 9, 9), stride, pads, 2)
    d.calls.append(f"{{ int32_t z0 = 0; odtc_conv2d_s16_grad_input(hbuf, &z0, {cw}, {czw}, 1, acc, {geo}); "
                   + d.report("conv2d_s16_grad_input", "acc", gi, np.int32) + " }")
    de = d.add("de", e16(rng, (2, 5)))
    gd = fqt.qdense_grad_input(d.arrays[de], 7, d.arrays[dw], d.arrays[dzw])
    d.calls.append(f"{{ int32_t ze = 7; odtc_dense_s16_grad_input({de}, &ze, {dw}, {dzw}, 1, acc, 2, 37, 5); "
                   + d.report("dense_s16_grad_input", "acc", gd, np.int32) + " }")
    # fused updates: dense int8 errors (stochastic, a selection), conv int16 errors (nearest)
    fe = d.add("fe", qdata(rng, (2, 5), np.int8))
    sel = d.add("sel", np.array([0, 2, 3, -1, -1], np.int32))
    fsw = d.add("fsw", chan_scales(rng, 5))
    w0 = d.arrays[dw]
    rr0 = d.add("rr0", fqt.row_range_of(w0, d.arrays[dzw]))
    ew, err = fqt.qgrad_weight_sgd_apply(w0, d.arrays[fsw], d.arrays[dzw],
                                         fqt.qdense_grad_weight(d.arrays[dx], 3, d.arrays[fe], -9, d.arrays[sel], 3),
                                         np.float32(4e-5), d.arrays[rr0], 2.0, -128, 127, "stochastic", 13, 4242,
                                         d.arrays[sel], 3)
    d.calls.append(f"{{ float sg = {cf(4e-5)}; int32_t zx = 3, ze = -9, k = 3, step = 4242; "
                   f"memcpy(bbuf, {dw}, sizeof {dw}); memcpy(ibuf, {rr0}, sizeof {rr0}); "
                   f"odtc_qdense_grad_weight_sgd_s8({dx}, &zx, {fe}, &ze, &sg, (const float *){fsw}, {dzw}, 1, bbuf, "
                   f"ibuf, {sel}, &k, &step, (int32_t *)scratch, 2, 37, 5, {cf(2.0)}, ODTC_ROUND_STOCHASTIC, 13); "
                   + d.report("fused_dense_w", "bbuf", ew, np.int8) + " "
                   + d.report("fused_dense_rr", "ibuf", err, np.int32) + " }")
    rr1 = d.add("rr1", fqt.row_range_of(d.arrays[cw], d.arrays[czw]))
    ge = fqt.qconv2d_grad_weight(d.arrays[cx], 131, er, 0, (6, 2, 3, 3), stride, pads, 2)
    ew1, err1 = fqt.qgrad_weight_sgd_apply(d.arrays[cw], d.arrays[csw], d.arrays[czw], ge, np.float32(2e-8),
                                           d.arrays[rr1], 0.5, -128, 127, "nearest", 0, 5)
    d.calls.append(f"{{ float sg = {cf(2e-8)}; int32_t zx = 131, ze = 0, step = 5; int8_t w1[108]; "
                   f"memcpy(w1, {cw}, sizeof w1); memcpy(ibuf, {rr1}, sizeof {rr1}); "
                   f"odtc_qconv2d_grad_weight_sgd_u8_e16({cx}, &zx, hbuf, &ze, &sg, (const float *){csw}, {czw}, 1, "
                   f"w1, ibuf, NULL, NULL, &step, (int32_t *)scratch, {geo}, {cf(0.5)}, ODTC_ROUND_NEAREST, 0); "
                   + d.report("fused_conv_e16_w", "w1", ew1, np.int8) + " "
                   + d.report("fused_conv_e16_rr", "ibuf", err1, np.int32) + " }")
    # per-channel regrid with rows that expand, shrink and keep, stochastic
    rw, rs, rz, rrr, _ = regrid_case(rng, 9, (7,), False)
    rwa, rsa, rza, rra = d.add("rw", rw), d.add("rs", rs), d.add("rz", rz), d.add("rrr", rrr)
    gw, grr, gs, gz = fqt.qweight_regrid(rw, rs, rz, rrr, -128, 127, False, 0.125, "stochastic", 21, 808)
    d.calls.append(f"{{ int32_t step = 808; memcpy(bbuf, {rwa}, sizeof {rwa}); memcpy(ibuf, {rra}, sizeof {rra}); "
                   f"odtc_qweight_regrid(bbuf, ibuf, (const float *){rsa}, {rza}, fbuf, ibuf + 64, 1, 9, 7u, -128, "
                   f"127, 0, {cf(0.125)}, &step, ODTC_ROUND_STOCHASTIC, 21); "
                   + d.report("regrid_w", "bbuf", gw, np.int8) + " " + d.report("regrid_rr", "ibuf", grr, np.int32)
                   + " " + d.report("regrid_scale", "fbuf", gs, np.float32) + " "
                   + d.report("regrid_zero_point", "(ibuf + 64)", gz, np.int32) + " }")
    return d


DRIVER_BUFFERS = """static int32_t acc[4096];
static uint32_t scratch[1024];
static float sacc[64];
static float fbuf[64];
static int32_t ibuf[1024];
static int16_t hbuf[1024];
static int8_t bbuf[1024];"""


test_driver_on_host, test_driver_on_host_sanitized, test_driver_on_cortex_m = driver_tests(
    _driver, "Generated by test_fqt_kernels_per_channel.py: per-channel FQT kernels, output bytes.", DRIVER_BUFFERS, "fqt_pc_driver")
