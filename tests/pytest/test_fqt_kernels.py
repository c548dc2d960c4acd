"""The fully-quantized-training kernels (runtime/c/src/fqt.c) against runtime/fqt.py, and
their lowering by convert-qtrain-to-c.

Every comparison is BIT-EXACT (floats via their uint32 bit patterns):

* kernel tests call the host-built kernel library through ctypes, once for the portable
  build and once for the Arm DSP code path compiled against C models of the intrinsics
  (-DODTC_EMULATE_DSP; the integer layers and grad kernels use SMLAD building blocks),
  on random inputs over several seeds plus edge cases (empty initial ranges, all-zero /
  constant gradient rows, selections with k < O, stochastic rounding, qas / none
  normalisation, ui8 and si8 activations, padded and strided convolutions);
* lowering tests compile a small module per op (or chain of ops) through
  qtrain-bufferize, qtrain-plan-buffers and convert-qtrain-to-c into a BUILD directory
  (write_build + make, so the BUILD Makefile must pick up fqt.c), call odtc_infer /
  odtc_train_step through ctypes and compare with the reference interpreter; the
  quantized parameter's float view (odtc_param_read / odtc_param_write) is checked too;
* the file runs again against an ASan/UBSan build (test_sanitized_build), and under QEMU
  (marker `arm`) a driver runs the kernels on Cortex-M4/M7/M55 and must print the bits
  fqt.py computes (newlib's rintf/floorf/sqrtf, the FPU and the real DSP instructions).
"""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, IntegerType, Signedness, TensorType, f32

from conftest import KERNELS_SANITIZED, rerun_under_sanitizers
from kernel_harness import check_driver_output, driver_source, fl, i32, Out, qdata, rng_for, same, selection, storage_of, zero_point
from odtc.compiler.api import parse_module, run_pipeline
from odtc.compiler.build import write_build
from odtc.compiler.emit_c import NUMPY
from odtc.dialects import qtrain
from odtc.passes.bufferize import scratch_bytes
from odtc.passes.convert_qtrain_to_c import ctype_of
from odtc.runtime import emulator
from odtc.runtime import fqt
from odtc.runtime import kernels as K
from odtc.runtime import reference as ref
from odtc.runtime.host import make
from odtc.runtime.interpreter import init_state, run_function

# The edge cases make numpy warn (x / 0, inf * 0, overflow): expected, not a problem.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SANITIZED = KERNELS_SANITIZED
S8, U8, S16, S32, F32 = 0, 1, 2, 3, 4
NORM = {"standardize": 0, "qas": 1, "none": 2}
ROUND = {"nearest": 0, "stochastic": 1}
SEEDS = (0, 1, 2, 3)


# ---------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------
# Scalars and ranges
# ---------------------------------------------------------------------------------------


def scalar_values(rng: np.random.Generator) -> NDArray[np.float32]:
    special = [0.0, -0.0, 1.0, -1.0, 3.4e38, -3.4e38, 1e-38, 1e-45, np.inf, -np.inf, 0.1, 2.5]
    return np.concatenate([np.array(special, np.float32),
                           (rng.standard_normal(40) * 10.0 ** rng.integers(-6, 6, 40)).astype(np.float32)])


def test_scale_mul_and_running_max(portable: K.Kernels) -> None:
    vals = scalar_values(rng_for("scalars"))
    for a in vals:
        for b in vals[::3]:
            same(portable.odtc_scale_mul(fl(a), fl(b)), fqt.scale_mul(a, b))
            same(portable.odtc_running_max(fl(a), fl(b)), fqt.running_max(a, b))  # -0.0 vs 0.0 included


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("numel", [1, 2, 7, 100, 1001])
def test_minmax_f32(portable: K.Kernels, seed: int, numel: int) -> None:
    rng = rng_for("minmax", seed, numel)
    x = (rng.standard_normal(numel) * 10.0 ** rng.integers(-3, 4)).astype(np.float32)
    if seed == 1 and numel > 2:
        x[rng.integers(numel)] = np.inf
        x[rng.integers(numel)] = -np.inf
    if seed == 2:
        x[:] = np.abs(x)  # all positive
    out = Out((2,), np.float32)
    portable.odtc_minmax_f32(x, out.ptr, numel)
    same(out.value(), fqt.minmax(x))


def test_minmax_f32_nan_and_empty(portable: K.Kernels) -> None:
    x = np.array([1.0, np.nan, -5.0, 7.0], np.float32)
    out = Out((2,), np.float32)
    portable.odtc_minmax_f32(x, out.ptr, 4)
    assert np.isnan(out.value()).all() and np.isnan(fqt.minmax(x)).all()
    portable.odtc_minmax_f32(x, out.ptr, 0)
    same(out.value(), np.array([1.0, -1.0], np.float32))  # nothing observed: the empty range


@pytest.mark.parametrize("seed", SEEDS)
def test_minmax_acc(portable: K.Kernels, seed: int) -> None:
    rng = rng_for("minmax_acc", seed)
    for numel, span in ((1, 100), (50, 2**20), (333, 2**31 - 1)):
        acc = rng.integers(-span, span, size=numel, endpoint=True).astype(np.int32)
        s = np.float32(rng.uniform(1e-6, 1e-2))
        out = Out((2,), np.float32)
        portable.odtc_minmax_acc(acc, fl(s), out.ptr, numel)
        same(out.value(), fqt.minmax(acc, s))


@pytest.mark.parametrize("alpha", [1.0, 0.1, 0.01, 0.3, 1e-4])
def test_ema(portable: K.Kernels, alpha: float) -> None:
    rng = rng_for("ema", alpha)
    olds = [np.array([1.0, -1.0], np.float32), np.array([0.0, 0.0], np.float32),
            np.array([-3.0, -3.0], np.float32)] + [np.sort(rng.standard_normal(2) * 5).astype(np.float32)
                                                     for _ in range(20)]
    for old in olds:
        obs = np.sort(rng.standard_normal(2) * 7).astype(np.float32)
        out = Out((2,), np.float32)
        portable.odtc_ema_range(old, obs, out.ptr, alpha)
        same(out.value(), fqt.ema(old, obs, alpha))
        inplace = old.copy()  # range may alias old
        portable.odtc_ema_range(inplace, obs, inplace, alpha)
        same(inplace, fqt.ema(old, obs, alpha))


QTYPES = [(-128, 127, True), (-128, 127, False), (0, 255, False), (0, 255, True)]


@pytest.mark.parametrize("qmin, qmax, symmetric", QTYPES)
def test_range_qparams(portable: K.Kernels, qmin: int, qmax: int, symmetric: bool) -> None:
    rng = rng_for("qparams", qmin, symmetric)
    ranges = [[1.0, -1.0], [0.0, 0.0], [2.0, 5.0], [-5.0, -2.0], [-1e-40, 1e-40], [-1e-38, 2e-38],
              [-3e38, 3e38], [-0.5, 0.5], [-1.0, 254.0], [-0.0, 0.0], [1e30, 2e30]]
    ranges += [sorted(rng.standard_normal(2) * 10.0 ** rng.integers(-4, 4)) for _ in range(200)]
    for r in ranges:
        ra = np.array(r, np.float32)
        s, z = fqt.qparams(ra, qmin, qmax, symmetric)
        same(portable.odtc_range_scale(ra, qmin, qmax, int(symmetric)), s)
        same(portable.odtc_range_zero_point(ra, qmin, qmax, int(symmetric)), z)


# ---------------------------------------------------------------------------------------
# Forward layers with int32 accumulators
# ---------------------------------------------------------------------------------------

# (N, C, H, W, O, KH, KW, stride, padding [t, l, b, r], groups)
CONV_CASES = [
    (2, 3, 8, 8, 4, 3, 3, (1, 1), (1, 1, 1, 1), 1),
    (1, 4, 7, 9, 6, 3, 2, (2, 1), (0, 1, 2, 0), 2),  # asymmetric padding, grouped
    (1, 6, 10, 10, 6, 3, 3, (2, 2), (1, 0, 1, 2), 6),  # depthwise, stride 2
    (2, 8, 5, 5, 5, 1, 1, (1, 1), (0, 0, 0, 0), 1),  # pointwise, odd O
    (3, 5, 9, 4, 7, 2, 3, (3, 1), (0, 2, 1, 0), 1),  # stride 3
    (1, 2, 4, 5, 3, 2, 2, (1, 1), (3, 2, 0, 3), 1),  # padding wider than the kernel
    (1, 16, 6, 6, 12, 3, 3, (1, 1), (1, 1, 1, 1), 1),  # K = 144
]


def c_qconv2d_acc(lib: K.Kernels, x: NDArray[Any], zx: int, w: NDArray[np.int8], zw: int,
                  bias: NDArray[np.float32] | None, s: float | None, stride: tuple[int, int],
                  padding: tuple[int, ...], groups: int) -> NDArray[np.int32]:
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    out = Out((n, o, oh, ow), np.int32)
    size = lib.odtc_qconv2d_acc_scratch_bytes(c, groups, kh, kw, o)
    scratch = Out((size // 4,), np.int32)
    fn = lib.odtc_qconv2d_acc_u8 if x.dtype == np.uint8 else lib.odtc_qconv2d_acc_s8
    fn(x, i32(zx), w, i32(zw), 0, bias, None if s is None else fl(s), out.ptr, scratch.ptr,
       n, c, h, wd, o, kh, kw, *stride, *padding, groups)
    scratch.value()
    return out.value()


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("seed", SEEDS[:2])
def test_qconv2d_acc(lib: K.Kernels, case: tuple, xdtype: Any, seed: int) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    rng = rng_for("qconv2d_acc", case, np.dtype(xdtype).name, seed)
    x = qdata(rng, (n, c, h, wd), xdtype)
    w = qdata(rng, (o, c // groups, kh, kw), np.int8)
    zx, zw = zero_point(rng, xdtype), int(rng.integers(-20, 21))
    s = np.float32(rng.uniform(1e-5, 1e-3))
    bias = (rng.standard_normal(o) * 0.5).astype(np.float32) if seed == 0 else None
    got = c_qconv2d_acc(lib, x, zx, w, zw, bias, None if bias is None else s, stride, padding, groups)
    same(got, fqt.qconv2d_acc(x, zx, w, zw, bias, s, stride, padding, groups))


def c_qdense_acc(lib: K.Kernels, x: NDArray[Any], zx: int, w: NDArray[np.int8], zw: int,
                 bias: NDArray[np.float32] | None, s: float | None) -> NDArray[np.int32]:
    n, k = x.shape
    o = w.shape[0]
    out = Out((n, o), np.int32)
    scratch = Out((lib.odtc_qdense_acc_scratch_bytes(k, o) // 4,), np.int32)
    fn = lib.odtc_qdense_acc_u8 if x.dtype == np.uint8 else lib.odtc_qdense_acc_s8
    fn(x, i32(zx), w, i32(zw), 0, bias, None if s is None else fl(s), out.ptr, scratch.ptr, n, k, o)
    scratch.value()
    return out.value()


@pytest.mark.parametrize("shape", [(1, 16, 10), (3, 37, 7), (2, 256, 5), (1, 3, 1), (4, 101, 2)])
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("seed", SEEDS)
def test_qdense_acc(lib: K.Kernels, shape: tuple[int, int, int], xdtype: Any, seed: int) -> None:
    n, k, o = shape
    rng = rng_for("qdense_acc", shape, np.dtype(xdtype).name, seed)
    x, w = qdata(rng, (n, k), xdtype), qdata(rng, (o, k), np.int8)
    zx, zw = zero_point(rng, xdtype), int(rng.integers(-128, 128))
    s = np.float32(rng.uniform(1e-5, 1e-3))
    bias = (rng.standard_normal(o) * 0.5).astype(np.float32) if seed % 2 == 0 else None
    got = c_qdense_acc(lib, x, zx, w, zw, bias, None if bias is None else s)
    same(got, fqt.qdense_acc(x, zx, w, zw, bias, s))


def test_bias_quantization_edges(lib: K.Kernels) -> None:
    """x == zx makes the dot products 0, so acc is the quantized bias: ties to even, NaN -> 0,
    +-inf and out-of-range values clamp to the int32 bounds."""
    bias = np.array([0.5, 1.5, 2.5, -0.5, -2.5, np.nan, np.inf, -np.inf, 3e9, -3e9, 1e-30, 7.0], np.float32)
    o, k = bias.size, 5
    x = np.full((2, k), 17, np.uint8)
    w = qdata(rng_for("bias edges"), (o, k), np.int8)
    for s in (1.0, 0.25, 0.0):
        same(c_qdense_acc(lib, x, 17, w, 3, bias, s), fqt.qdense_acc(x, 17, w, 3, bias, s))
    xc = np.full((1, 2, 3, 3), -4, np.int8)
    wc = qdata(rng_for("bias edges conv"), (o, 2, 2, 2), np.int8)
    same(c_qconv2d_acc(lib, xc, -4, wc, 0, bias, 1.0, (1, 1), (0, 0, 0, 0), 1),
         fqt.qconv2d_acc(xc, -4, wc, 0, bias, 1.0, (1, 1), (0, 0, 0, 0), 1))


@pytest.mark.parametrize("seed", SEEDS)
def test_acc_relu_and_requantize_acc(portable: K.Kernels, seed: int) -> None:
    rng = rng_for("requantize_acc", seed)
    acc = rng.integers(-(2**24), 2**24, size=300).astype(np.int32)
    acc[:4] = [0, -1, 2**31 - 1, -(2**31)]
    y = Out((300,), np.int32)
    portable.odtc_acc_relu(acc, y.ptr, 300)
    same(y.value(), fqt.relu_acc(acc))
    inplace = acc.copy()
    portable.odtc_acc_relu(inplace, inplace, 300)
    same(inplace, fqt.relu_acc(acc))
    for dtype, (qmin, qmax) in ((np.int8, (-128, 127)), (np.uint8, (0, 255))):
        sacc = np.float32(rng.uniform(1e-7, 1e-4))
        sy = np.float32(rng.uniform(0.01, 0.5))
        zy = zero_point(rng, dtype)
        out = Out((300,), dtype)
        portable.odtc_requantize_acc(acc, out.ptr, storage_of(dtype), 300, fl(sacc), fl(sy), i32(zy))
        same(out.value(), fqt.requantize_acc(acc, sacc, sy, zy, qmin, qmax))


def _stream_scales(rng: np.random.Generator, acc: NDArray[np.int32], sacc: np.float32, relu: bool | str,
                   dtype: Any) -> tuple[np.float32, int]:
    """An output grid from the accumulator's own range (as the step derives it), so the
    requantized values spread over the storage range instead of all clamping."""
    info = np.iinfo(dtype)
    rng_obs = fqt.acc_stream(acc, relu, sacc)
    s, z = fqt.qparams(rng_obs, int(info.min), int(info.max), False)
    return np.float32(s * np.float32(rng.choice([0.5, 1.0, 2.0]))), int(z)


# grouped / depthwise layers of the streamed accumulator beyond CONV_CASES: MobileNetV2's
# depthwise 3x3 (stride 1 and 2, several samples) and groups with several filters each
STREAM_CASES = CONV_CASES + [
    (2, 8, 6, 6, 8, 3, 3, (1, 1), (1, 1, 1, 1), 8),  # depthwise, n = 2
    (1, 5, 7, 7, 5, 3, 3, (2, 2), (0, 0, 1, 1), 5),  # depthwise, odd C, TF "same" stride 2
    (2, 6, 5, 6, 9, 2, 3, (1, 2), (1, 0, 0, 1), 3),  # 3 groups of 2 -> 3 channels
    (1, 4, 6, 6, 8, 1, 1, (1, 1), (0, 0, 0, 0), 4),  # depthwise multiplier 2 (o = 2c)
]


@pytest.mark.parametrize("case", STREAM_CASES)
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("relu", [False, True, "relu6"])
def test_qconv2d_acc_stream(lib: K.Kernels, case: tuple, xdtype: Any, relu: bool | str) -> None:
    """The channel-by-channel accumulator: its range pass gives fqt.minmax of the whole
    (relu'd / relu6'd) accumulator, its requantize pass fqt.requantize_acc of it, bit for
    bit; grouped and depthwise layers (groups == c == o) included, with the documented
    scratch size (its `c` is c / groups). relu6 (sink code 2) clamps at floorf(6 / s_acc):
    the scale is chosen so that real values pass 6 and the clamp is exercised."""
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    rng = rng_for("qconv2d_acc_stream", case, np.dtype(xdtype).name, relu)
    x = qdata(rng, (n, c, h, wd), xdtype)
    w = qdata(rng, (o, c // groups, kh, kw), np.int8)
    zx, zw = zero_point(rng, xdtype), int(rng.integers(-20, 21))
    sacc = np.float32(rng.uniform(1e-5, 1e-3))
    bias = (rng.standard_normal(o) * 0.5).astype(np.float32) if relu else None
    acc = fqt.qconv2d_acc(x, zx, w, zw, bias, sacc, stride, padding, groups)
    code = {False: 0, True: 1, "relu6": 2}[relu]
    if relu == "relu6":  # 6 at the accumulator's 75th percentile: some values clamp, most not
        sacc = np.float32(6.0 / max(float(np.percentile(acc, 75)), 1.0))
        acc = fqt.qconv2d_acc(x, zx, w, zw, bias, sacc, stride, padding, groups)
        assert (acc > fqt.relu6_bound(sacc)).any() and (acc > 0).any()
    oh, ow = acc.shape[2:]
    # ODTC_QCONV2D_ACC_STREAM_SCRATCH_BYTES(c / groups, kh, kw, oh, ow)
    scratch = Out(((4 * oh * ow + lib.odtc_qconv2d_acc_scratch_bytes(c // groups, 1, kh, kw, 1)) // 4,), np.int32)
    fn = lib.odtc_qconv2d_acc_stream_u8 if xdtype == np.uint8 else lib.odtc_qconv2d_acc_stream_s8
    geo = (n, c, h, wd, o, kh, kw, *stride, *padding, groups)
    rng_out = Out((2,), np.float32)
    fn(x, i32(zx), w, i32(zw), bias, fl(sacc), None, None, None, 0, rng_out.ptr, code, scratch.ptr, *geo)
    same(rng_out.value(), fqt.acc_stream(acc, relu, sacc))
    for ydtype in (np.uint8, np.int8):
        sy, zy = _stream_scales(rng, acc, sacc, relu, ydtype)
        info = np.iinfo(ydtype)
        y = Out(acc.shape, ydtype)
        fn(x, i32(zx), w, i32(zw), bias, fl(sacc), fl(sy), i32(zy), y.ptr, storage_of(ydtype), None, code,
           scratch.ptr, *geo)
        same(y.value(), fqt.acc_stream(acc, relu, sacc, sy, zy, int(info.min), int(info.max)))
    scratch.value()


@pytest.mark.parametrize("case", [c for c in CONV_CASES if c[-1] == 1])
def test_qconv2d_grad_input_stream(lib: K.Kernels, case: tuple) -> None:
    """The input gradient one input-channel plane at a time: range and requantized error
    equal fqt.acc_stream of the whole fqt.qconv2d_grad_input, bit for bit."""
    n, c, h, wd, o, kh, kw, stride, padding, _ = case
    rng = rng_for("qconv2d_grad_input_stream", case)
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    e = qdata(rng, (n, o, oh, ow), np.int8)
    w = qdata(rng, (o, c, kh, kw), np.int8)
    ze, zw = zero_point(rng, np.int8), int(rng.integers(-20, 21))
    sacc = np.float32(rng.uniform(1e-5, 1e-3))
    acc = fqt.qconv2d_grad_input(e, ze, w, zw, (n, c, h, wd), stride, padding, 1)
    scratch = Out(((4 * h * wd + 4 * ((o * kh * kw + 3) // 4)) // 4,), np.int32)
    geo = (n, c, h, wd, o, kh, kw, *stride, *padding)
    r = Out((2,), np.float32)
    lib.odtc_qconv2d_grad_input_stream(e, i32(ze), w, i32(zw), fl(sacc), None, None, None, 0, r.ptr, scratch.ptr,
                                       *geo)
    same(r.value(), fqt.acc_stream(acc, False, sacc))
    sy, zy = _stream_scales(rng, acc, sacc, False, np.int8)
    y = Out(acc.shape, np.int8)
    lib.odtc_qconv2d_grad_input_stream(e, i32(ze), w, i32(zw), fl(sacc), fl(sy), i32(zy), y.ptr, S8, None,
                                       scratch.ptr, *geo)
    same(y.value(), fqt.acc_stream(acc, False, sacc, sy, zy, -128, 127))
    scratch.value()


@pytest.mark.parametrize("shape", [(1, 5), (3, 7), (1, 4, 3, 3), (2, 3, 5, 2), (1, 16, 14, 14)])
@pytest.mark.parametrize("edtype", [np.int8, np.uint8])
def test_qgrad_bias(portable: K.Kernels, shape: tuple[int, ...], edtype: Any) -> None:
    """The bias gradient from the 8-bit error: odtc_dequantize + f32 grad-bias, bit for bit."""
    rng = rng_for("qgrad_bias", shape, np.dtype(edtype).name)
    e = qdata(rng, shape, edtype)
    s, z = np.float32(rng.uniform(1e-4, 1e-1)), zero_point(rng, edtype)
    o = shape[1]
    out = Out((o,), np.float32)
    portable.odtc_qgrad_bias(e, storage_of(edtype), fl(s), i32(z), out.ptr, shape[0], o,
                             int(np.prod(shape[2:], dtype=np.int64)))
    same(out.value(), fqt.qgrad_bias(e, s, z))
    same(out.value(), fqt.grad_bias_c(ref.dequantize(e, s, z)))


# ---------------------------------------------------------------------------------------
# Backward
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("edtype", [np.int8, np.uint8])
@pytest.mark.parametrize("ydtype", [np.int8, np.uint8])
def test_qrelu_grad(portable: K.Kernels, edtype: Any, ydtype: Any) -> None:
    rng = rng_for("qrelu_grad", np.dtype(edtype).name, np.dtype(ydtype).name)
    e, y = qdata(rng, (3, 4, 5, 5), edtype), qdata(rng, (3, 4, 5, 5), ydtype)
    ze, zy = zero_point(rng, edtype), zero_point(rng, ydtype)
    y.reshape(-1)[:10] = zy  # real 0: no gradient
    expected = fqt.qrelu_grad(e, ze, y, zy).astype(edtype)
    out = Out(e.shape, edtype)
    portable.odtc_qrelu_grad(e, storage_of(edtype), i32(ze), y, storage_of(ydtype), i32(zy), out.ptr, e.size)
    same(out.value(), expected)
    inplace = e.copy()
    portable.odtc_qrelu_grad(inplace, storage_of(edtype), i32(ze), y, storage_of(ydtype), i32(zy), inplace, e.size)
    same(inplace, expected)


@pytest.mark.parametrize("case", CONV_CASES)
def test_qconv2d_grad_input(lib: K.Kernels, case: tuple) -> None:
    """qtrain.qconv2d_grad_input lowers to odtc_conv2d_s8_grad_input (w_per_channel 0)."""
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    rng = rng_for("qconv2d_grad_input", case)
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    e, w = qdata(rng, (n, o, oh, ow), np.int8), qdata(rng, (o, c // groups, kh, kw), np.int8)
    ze, zw = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    out = Out((n, c, h, wd), np.int32)
    lib.odtc_conv2d_s8_grad_input(e, i32(ze), w, i32(zw), 0, out.ptr, n, c, h, wd, o, kh, kw, *stride, *padding, groups)
    same(out.value(), fqt.qconv2d_grad_input(e, ze, w, zw, (n, c, h, wd), stride, padding, groups))


@pytest.mark.parametrize("shape", [(1, 16, 10), (3, 37, 7), (2, 256, 5)])
def test_qdense_grad_input(lib: K.Kernels, shape: tuple[int, int, int]) -> None:
    n, k, o = shape
    rng = rng_for("qdense_grad_input", shape)
    e, w = qdata(rng, (n, o), np.int8), qdata(rng, (o, k), np.int8)
    ze, zw = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    out = Out((n, k), np.int32)
    lib.odtc_dense_s8_grad_input(e, i32(ze), w, i32(zw), 0, out.ptr, n, k, o)
    same(out.value(), fqt.qdense_grad_input(e, ze, w, zw))


def _selections(rng: np.random.Generator, o: int) -> list[tuple[NDArray[np.int32], NDArray[np.int32]] | None]:
    out: list[tuple[NDArray[np.int32], NDArray[np.int32]] | None] = [None, selection(rng, o, o), selection(rng, o, 1)]
    if o > 2:
        out.append(selection(rng, o, o // 2))
    return out


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
def test_qconv2d_grad_weight(lib: K.Kernels, case: tuple, xdtype: Any) -> None:
    n, c, h, wd, o, kh, kw, stride, padding, groups = case
    rng = rng_for("qconv2d_grad_weight", case, np.dtype(xdtype).name)
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), stride, padding)
    x, e = qdata(rng, (n, c, h, wd), xdtype), qdata(rng, (n, o, oh, ow), np.int8)
    zx, ze = zero_point(rng, xdtype), int(rng.integers(-128, 128))
    fn = lib.odtc_qconv2d_grad_weight_u8 if xdtype == np.uint8 else lib.odtc_qconv2d_grad_weight_s8
    wshape = (o, c // groups, kh, kw)
    for sel in _selections(rng, o):
        idx, k = sel if sel is not None else (None, None)
        out = Out(wshape, np.int32)
        fn(x, i32(zx), e, i32(ze), out.ptr, idx, k, n, c, h, wd, o, kh, kw, *stride, *padding, groups)
        same(out.value(), fqt.qconv2d_grad_weight(x, zx, e, ze, wshape, stride, padding, groups, idx, k))


@pytest.mark.parametrize("shape", [(1, 16, 10), (3, 37, 7), (1, 203, 9), (2, 5, 1)])
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
def test_qdense_grad_weight(lib: K.Kernels, shape: tuple[int, int, int], xdtype: Any) -> None:
    n, k, o = shape
    rng = rng_for("qdense_grad_weight", shape, np.dtype(xdtype).name)
    x, e = qdata(rng, (n, k), xdtype), qdata(rng, (n, o), np.int8)
    zx, ze = zero_point(rng, xdtype), int(rng.integers(-128, 128))
    fn = lib.odtc_qdense_grad_weight_u8 if xdtype == np.uint8 else lib.odtc_qdense_grad_weight_s8
    for sel in _selections(rng, o):
        idx, kk = sel if sel is not None else (None, None)
        out = Out((o, k), np.int32)
        fn(x, i32(zx), e, i32(ze), out.ptr, idx, kk, n, k, o)
        same(out.value(), fqt.qdense_grad_weight(x, zx, e, ze, idx, kk))


# ---------------------------------------------------------------------------------------
# Update of quantized weights
# ---------------------------------------------------------------------------------------


def _gradient(rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> NDArray[Any]:
    """An int32 accumulator or f32 gradient with the awkward rows: all zero (var 0), constant
    (var 0, mean != 0), one huge value, and (f32) all -0.0."""
    if kind == "acc":
        g = rng.integers(-(2**20), 2**20, size=shape).astype(np.int32)
    else:
        g = (rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 2)).astype(np.float32)
    flat = g.reshape(shape[0], -1)
    if shape[0] >= 4:
        flat[0] = 0
        flat[1] = flat[1, 0]
        flat[2, 0] = 2**29 if kind == "acc" else 1e30
        if kind == "f32":
            flat[3] = -0.0
    return g


def c_grad_stats(lib: K.Kernels, g: NDArray[Any], mode: str, gs: float | None, ws: float | None,
                 idx: NDArray[np.int32] | None, k: NDArray[np.int32] | None) -> NDArray[np.float32]:
    rows = g.shape[0]
    out = Out((rows, 2), np.float32)
    lib.odtc_grad_stats(g, F32 if g.dtype == np.float32 else S32, None if gs is None else fl(gs),
                        None if ws is None else fl(ws), out.ptr, idx, k, rows, g.size // rows, NORM[mode])
    return out.value()


WEIGHT_SHAPES = [(8, 3, 3, 3), (10, 32), (5, 7), (6,), (4, 1, 1, 1)]


@pytest.mark.parametrize("shape", WEIGHT_SHAPES)
@pytest.mark.parametrize("kind", ["acc", "f32"])
@pytest.mark.parametrize("mode", ["standardize", "qas", "none"])
def test_grad_stats(portable: K.Kernels, shape: tuple[int, ...], kind: str, mode: str) -> None:
    rng = rng_for("grad_stats", shape, kind, mode)
    for seed in SEEDS:
        g = _gradient(rng, shape, kind)
        gs, ws = np.float32(rng.uniform(1e-6, 1e-2)), np.float32(rng.uniform(1e-3, 0.1))
        for sel in _selections(rng, shape[0]):
            idx, k = sel if sel is not None else (None, None)
            got = c_grad_stats(portable, g, mode, gs, ws, idx, k)
            same(got, fqt.grad_stats(g, mode, gs, ws, idx, k))
        if seed == 0 and mode == "standardize":  # standardize reads no scales
            same(c_grad_stats(portable, g, mode, None, None, None, None), fqt.grad_stats(g, mode))
        if kind == "f32" and mode != "standardize":  # an f32 gradient without a scale: scale 1
            same(c_grad_stats(portable, g, mode, None, ws, None, None), fqt.grad_stats(g, mode, None, ws))


def _qsgd_case(rng: np.random.Generator, shape: tuple[int, ...], wdtype: Any, kind: str, mode: str, sel: bool):
    w = qdata(rng, shape, wdtype)
    zw = zero_point(rng, wdtype)
    sw = np.float32(rng.uniform(0.005, 0.05))
    g = _gradient(rng, shape, kind)
    idx, k = selection(rng, shape[0], max(1, shape[0] // 2)) if sel else (None, None)
    stats = fqt.grad_stats(g, mode, np.float32(1e-5), sw, idx, k)
    return w, sw, zw, g, stats, idx, k


@pytest.mark.parametrize("shape", WEIGHT_SHAPES)
@pytest.mark.parametrize("wdtype", [np.int8, np.uint8])
@pytest.mark.parametrize("kind", ["acc", "f32"])
@pytest.mark.parametrize("mode", ["standardize", "qas", "none"])
def test_qsgd_range_and_update(portable: K.Kernels, shape: tuple[int, ...], wdtype: Any, kind: str,
                               mode: str) -> None:
    rng = rng_for("qsgd", shape, np.dtype(wdtype).name, kind, mode)
    qmin, qmax = (-128, 127) if wdtype == np.int8 else (0, 255)
    rows, row_len = shape[0], int(np.prod(shape[1:], dtype=np.int64))
    for seed in SEEDS:
        sel = seed % 2 == 1
        w, sw, zw, g, stats, idx, k = _qsgd_case(rng, shape, wdtype, kind, mode, sel)
        lr = float(rng.choice([0.1, 0.01, 1e-3, 0.5]))
        gt = F32 if kind == "f32" else S32
        rng_out = Out((2,), np.float32)
        portable.odtc_qsgd_range(w, storage_of(wdtype), fl(sw), i32(zw), g, gt, stats, rng_out.ptr, idx, k,
                                 rows, row_len, lr)
        r = fqt.qsgd_range(w, sw, zw, g, stats, lr, idx, k)
        same(rng_out.value(), r)
        for rounding in ("nearest", "stochastic"):
            # new parameters from the updated range, and a too-small scale (clamping)
            for s2, z2 in (fqt.qparams(r, qmin, qmax, False), (np.float32(sw * 0.25), zw)):
                step = int(rng.integers(-1000, 100000))
                qseed = int(rng.choice([0, 7, -3, 2**31 + 5]))
                c_seed = qseed - 2**32 if qseed >= 2**31 else qseed
                upd = w.copy()
                portable.odtc_qsgd_update(upd, storage_of(wdtype), fl(sw), i32(zw), g, gt, stats, fl(s2), i32(z2),
                                          idx, k, i32(step), rows, row_len, lr, ROUND[rounding], c_seed)
                expected = fqt.qsgd_update(w, sw, zw, g, stats, s2, z2, lr, qmin, qmax, rounding, qseed, step, idx, k)
                same(upd, expected)


def test_qsgd_update_step_null_and_nan(portable: K.Kernels) -> None:
    """No step operand counts as step 0; a NaN direction (NaN b) rounds to the zero-point."""
    rng = rng_for("qsgd null step")
    w, sw, zw, g, stats, _, _ = _qsgd_case(rng, (6, 5), np.int8, "f32", "none", False)
    upd = w.copy()
    portable.odtc_qsgd_update(upd, S8, fl(sw), i32(zw), g, F32, stats, fl(sw), i32(zw), None, None, None, 6, 5,
                              0.1, ROUND["stochastic"], 11)
    same(upd, fqt.qsgd_update(w, sw, zw, g, stats, sw, zw, 0.1, -128, 127, "stochastic", 11, 0))
    stats = stats.copy()
    stats[2, 1] = np.nan
    upd = w.copy()
    portable.odtc_qsgd_update(upd, S8, fl(sw), i32(zw), g, F32, stats, fl(sw), i32(3), None, None, None, 6, 5,
                              0.1, ROUND["nearest"], 0)
    same(upd, fqt.qsgd_update(w, sw, zw, g, stats, sw, 3, 0.1, -128, 127, "nearest"))
    assert (upd[2] == 3).all()


@pytest.mark.parametrize("layer", ["dense", "conv"])
@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_qgrad_weight_sgd_fused(lib: K.Kernels, layer: str, xdtype: Any, rounding: str) -> None:
    """The fused grad-weight + step against the reference (compact gradient + apply): all
    rows and selections; unselected rows and their row ranges stay byte for byte; a large
    lr clamps (row ranges then reach past the grid)."""
    rng = rng_for("fused", layer, np.dtype(xdtype).name, rounding)
    for seed in SEEDS:
        if layer == "dense":
            n, kdim, o = int(rng.integers(1, 3)), int(rng.integers(1, 40)), int(rng.integers(1, 9))
            x = qdata(rng, (n, kdim), xdtype)
            e = qdata(rng, (n, o), np.int8)
            wshape: tuple[int, ...] = (o, kdim)
        else:
            n, c, h, o = 1, 2, 7, int(rng.integers(1, 6))
            x = qdata(rng, (n, c, h, h), xdtype)
            e = qdata(rng, (n, o, 4, 4), np.int8)  # 3x3, stride 2, padding 1 on 7x7
            wshape = (o, c, 3, 3)
        w = qdata(rng, wshape, np.int8)
        zx, ze, zw = zero_point(rng, xdtype), zero_point(rng, np.int8), int(rng.integers(-20, 20))
        rr = fqt.row_range_of(w, zw)
        sg, sw = np.float32(rng.uniform(1e-6, 1e-4)), np.float32(rng.uniform(1e-3, 1e-2))
        lr = float(rng.choice([0.01, 0.1, 50.0]))
        idx, k = selection(rng, o, int(rng.integers(1, o + 1))) if seed % 2 else (None, None)
        step = int(rng.integers(0, 10**6))
        if layer == "dense":
            g = fqt.qdense_grad_weight(x, zx, e, ze, idx, k)
        else:
            g = fqt.qconv2d_grad_weight(x, zx, e, ze, wshape, (2, 2), (1, 1, 1, 1), 1, idx, k)
        ew, err = fqt.qgrad_weight_sgd_apply(w, sw, zw, g, sg, rr, lr, -128, 127, rounding, seed, step, idx, k)
        cw, crr = w.copy(), rr.copy()
        row_len = int(np.prod(wshape[1:]))
        scratch = np.zeros(row_len, np.int32)
        common = (fl(sg), fl(sw), i32(zw), 0, cw, crr, idx, k, i32(step), scratch)
        sfx = "u8" if xdtype == np.uint8 else "s8"
        if layer == "dense":
            getattr(lib, f"odtc_qdense_grad_weight_sgd_{sfx}")(x, i32(zx), e, i32(ze), *common, n, wshape[1], o, lr,
                                                               ROUND[rounding], seed)
        else:
            getattr(lib, f"odtc_qconv2d_grad_weight_sgd_{sfx}")(x, i32(zx), e, i32(ze), *common, n, 2, 7, 7, o, 3, 3,
                                                                2, 2, 1, 1, 1, 1, 1, lr, ROUND[rounding], seed)
        same(cw, ew)
        same(crr, err)
        rows = set(range(o)) if idx is None else {int(v) for v in idx[: int(k[0])]}
        for r in set(range(o)) - rows:
            same(cw[r], w[r])
            same(crr[r], rr[r])


def test_qweight_regrid_keeps_and_regrids(portable: K.Kernels) -> None:
    """Kept grid (no element written), expansion (a row range past the grid), shrink (the
    values need less than half of it), symmetric and asymmetric, against the reference."""
    rng = rng_for("regrid")
    for symmetric in (False, True):
        for case in ("keep", "expand", "shrink"):
            w = rng.integers(-100, 100, size=(5, 7)).astype(np.int8)
            z = 0 if symmetric else int(rng.integers(-10, 10))
            s = np.float32(0.01)
            rr = fqt.row_range_of(w, z)
            if case == "expand":
                rr[3, 1] = 140 - z
            elif case == "shrink":
                w = (w // 4).astype(np.int8)
                rr = fqt.row_range_of(w, z)
            regrid, _, _ = fqt.regrid_target(s, z, rr, -128, 127, symmetric, 0.125)
            assert regrid == (case != "keep"), case
            for rounding in ("nearest", "stochastic"):
                ew, err, es, ez = fqt.qweight_regrid(w, s, z, rr, -128, 127, symmetric, 0.125, rounding, 9, 123)
                cw, crr, cs, cz = w.copy(), rr.copy(), fl(s), i32(z)
                portable.odtc_qweight_regrid(cw, crr, cs, cz, cs, cz, 0, 5, 7, -128, 127, int(symmetric), 0.125,
                                             i32(123), ROUND[rounding], 9)
                same(cw, ew)
                same(crr, err)
                same(cs[0], es)
                same(cz[0], ez)
                if case == "keep":
                    same(cw, w)


def test_hash_and_uniform_stream(portable: K.Kernels) -> None:
    rng = rng_for("hash")
    xs = rng.integers(0, 2**32, size=500, dtype=np.uint64).astype(np.uint32)
    xs[:3] = [0, 0xFFFFFFFF, 0x80000000]
    same([portable.odtc_hash32(int(x)) for x in xs], fqt.hash32(xs))
    for seed, step in ((0, 0), (1, 0), (0, 1), (-5, 123456), (2**31 - 1, -7)):
        u = fqt.uniform01(seed, step, 300)
        same([portable.odtc_uniform01(seed, step, i) for i in range(300)], u)
        assert (u >= 0).all() and (u < 1).all()


# ---------------------------------------------------------------------------------------
# Dynamic partial updates
# ---------------------------------------------------------------------------------------


def test_topk_count(portable: K.Kernels) -> None:
    rng = rng_for("topk_count")
    lambdas = [(0.5, 1.0), (0.0, 1.0), (0.1, 0.3), (1.0, 1.0), (0.0, 0.0), (0.3, 0.7)]
    losses = [0.0, -0.0, 1.0, -2.0, 1e-30, 1e30, np.inf] + list(rng.exponential(2.0, 30))
    maxes = [0.0, -1.0, 1.0, 3.0, 1e-20, np.inf] + list(rng.exponential(2.0, 10))
    for lmin, lmax in lambdas:
        for n in (1, 7, 32, 1000):
            for loss in losses:
                for lm in maxes:
                    got = portable.odtc_topk_count(fl(loss), fl(lm), lmin, lmax, n)
                    try:
                        want = fqt.topk_count(loss, lm, lmin, lmax, n)
                    except ValueError:  # a NaN fraction (inf/inf, inf * 0): fqt.py fails in int(NaN)
                        want = np.array(n, np.int32)  # the kernel's documented choice: every structure
                    same(got, want)


@pytest.mark.parametrize("shape", [(4, 10), (1, 32), (2, 6, 3, 3), (3, 1), (1, 9, 2, 5), (1, 1568), (2, 64, 4)])
@pytest.mark.parametrize("edtype", [np.int8, np.uint8])
def test_topk_structures(portable: K.Kernels, shape: tuple[int, ...], edtype: Any) -> None:
    rng = rng_for("topk_structures", shape, np.dtype(edtype).name)
    o = shape[1]
    spatial = int(np.prod(shape[2:], dtype=np.int64))
    for trial in range(6):
        e = qdata(rng, shape, edtype)
        ze = zero_point(rng, edtype)
        if trial % 2 == 1:  # ties: several structures with the same magnitude
            e = np.full(shape, ze, dtype=edtype)
            e[:, ::2] = np.clip(ze + 3, 0 if edtype == np.uint8 else -128, 255 if edtype == np.uint8 else 127)
        for k in (0, 1, max(1, o // 3), o, o + 5):
            out = Out((o,), np.int32)
            scratch = Out((portable.odtc_topk_structures_scratch_bytes(o) // 4,), np.int32)
            portable.odtc_topk_structures(e, storage_of(edtype), i32(ze), i32(k), out.ptr, scratch.ptr, shape[0], o,
                                          spatial)
            scratch.value()
            same(out.value(), fqt.topk_structures(e, ze, k))


# ---------------------------------------------------------------------------------------
# bufferize.scratch_bytes == the C sizes
# ---------------------------------------------------------------------------------------


def _first_op(src: str, cls: type) -> Any:
    fn = next(iter(parse_module(src).ops))
    return next(o for o in fn.body.block.ops if isinstance(o, cls))


@pytest.mark.parametrize("c, groups, kh, kw, o", [(3, 1, 3, 3, 6), (16, 16, 3, 3, 16), (5, 1, 1, 1, 7),
                                                  (64, 2, 1, 7, 128)])
def test_qconv2d_acc_scratch_bytes(portable: K.Kernels, c: int, groups: int, kh: int, kw: int, o: int) -> None:
    i = c // groups
    xt = f"tensor<1x{c}x8x8x!qtrain.q<ui8, asym>>"
    wt = f"tensor<{o}x{i}x{kh}x{kw}x!qtrain.q<si8, sym>>"
    yt = f"tensor<1x{o}x{9 - kh}x{9 - kw}x!qtrain.q<si32, sym>>"
    src = f"""
builtin.module {{
  func.func @f(%x: {xt}, %zx: tensor<i32>, %w: {wt}, %zw: tensor<i32>) -> {yt} {{
    %y = "qtrain.qconv2d_acc"(%x, %zx, %w, %zw) <{{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = {groups} : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}}> : ({xt}, tensor<i32>, {wt}, tensor<i32>) -> {yt}
    func.return %y : {yt}
  }}
}}
"""
    assert scratch_bytes(_first_op(src, qtrain.QConv2dAccOp)) == portable.odtc_qconv2d_acc_scratch_bytes(c, groups, kh, kw, o)


@pytest.mark.parametrize("k, o", [(20, 7), (1, 1), (1023, 10)])
def test_qdense_acc_and_topk_scratch_bytes(portable: K.Kernels, k: int, o: int) -> None:
    xt, wt, yt = f"tensor<2x{k}x!qtrain.q<si8, sym>>", f"tensor<{o}x{k}x!qtrain.q<si8, sym>>", f"tensor<2x{o}x!qtrain.q<si32, sym>>"
    src = f"""
builtin.module {{
  func.func @f(%x: {xt}, %zx: tensor<i32>, %w: {wt}, %zw: tensor<i32>) -> {yt} {{
    %y = "qtrain.qdense_acc"(%x, %zx, %w, %zw) <{{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}}> : ({xt}, tensor<i32>, {wt}, tensor<i32>) -> {yt}
    func.return %y : {yt}
  }}
}}
"""
    assert scratch_bytes(_first_op(src, qtrain.QDenseAccOp)) == portable.odtc_qdense_acc_scratch_bytes(k, o)
    et = f"tensor<2x{o}x!qtrain.q<si8, asym>>"
    src = f"""
builtin.module {{
  func.func @f(%e: {et}, %ze: tensor<i32>, %k: tensor<i32>) -> tensor<{o}xi32> {{
    %i = qtrain.topk_structures %e[%ze], %k : ({et}, tensor<i32>, tensor<i32>) -> tensor<{o}xi32>
    func.return %i : tensor<{o}xi32>
  }}
}}
"""
    assert scratch_bytes(_first_op(src, qtrain.TopkStructuresOp)) == portable.odtc_topk_structures_scratch_bytes(o)


# ---------------------------------------------------------------------------------------
# Lowering: generated C (write_build + make) against the interpreter
# ---------------------------------------------------------------------------------------

PIPELINE = "qtrain-bufferize,qtrain-plan-buffers,convert-qtrain-to-c"


def dense_attr(a: NDArray[Any], elt: str) -> str:
    """`dense<...> : tensor<...x{elt}>` of an array (elt f32, i32 or i8: bit patterns for ui8)."""
    shape = list(a.shape)
    if elt == "f32":
        ty = TensorType(f32, shape)
        vals: list[Any] = [float(v) for v in np.asarray(a, np.float32).ravel()]
    else:
        ty = TensorType(IntegerType(int(elt[1:]), Signedness.SIGNLESS), shape)
        vals = [int(v) for v in np.asarray(a).ravel()]
    return str(DenseIntOrFPElementsAttr.from_list(ty, vals))


def tensor_type(shape: tuple[int, ...], elt: str) -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + elt + ">"


class Model:
    """A module's host build (BUILD/libmodel.so), called with numpy arrays of any dtype."""

    def __init__(self, src: str, build: Path) -> None:
        self.src = src
        lowered = run_pipeline(parse_module(src), PIPELINE)
        write_build(lowered, build, "host", build)
        self.lib = ctypes.CDLL(str(make(build, "host").resolve()))
        self.lib.odtc_init.restype = None
        self.lib.odtc_train_step.restype = ctypes.c_float
        self.lib.odtc_param_read.argtypes = [ctypes.c_size_t, ctypes.c_void_p]
        self.lib.odtc_param_write.argtypes = [ctypes.c_size_t, ctypes.c_void_p]
        self.lib.odtc_param_numel.restype = ctypes.c_size_t
        self.lib.odtc_param_numel.argtypes = [ctypes.c_size_t]
        self.lib.odtc_init()

    def infer(self, x: NDArray[Any], out_shape: tuple[int, ...], out_dtype: Any) -> NDArray[Any]:
        xa = np.ascontiguousarray(x)
        out = np.zeros(out_shape, dtype=out_dtype)
        self.lib.odtc_infer(ctypes.c_void_p(xa.ctypes.data), ctypes.c_void_p(out.ctypes.data))
        return out

    def train_step(self, x: NDArray[Any], t: NDArray[Any]) -> np.float32:
        xa, ta = np.ascontiguousarray(x), np.ascontiguousarray(t)
        return np.float32(self.lib.odtc_train_step(ctypes.c_void_p(xa.ctypes.data), ctypes.c_void_p(ta.ctypes.data)))

    def param(self, i: int) -> NDArray[np.float32]:
        buf = np.zeros(self.lib.odtc_param_numel(i), dtype=np.float32)
        self.lib.odtc_param_read(i, buf.ctypes.data)
        return buf


def op_module(arg: tuple[str, tuple[int, ...], str], states: dict[str, tuple[NDArray[Any], str, str]],
              body: str, result: str, result_type: str) -> str:
    """@forward(%x: arg) with every state loaded as %<name> first, then `body`, returning
    `result`. states: name -> (value, type element string, init element string)."""
    name, shape, elt = arg
    decls, loads = [], []
    for sname, (val, telt, ielt) in states.items():
        t = tensor_type(val.shape, telt)
        decls.append(f"  qtrain.state @{sname} : {t} = {dense_attr(val, ielt)}")
        loads.append(f"    %{sname} = qtrain.load @{sname} : {t}")
    return (
        "builtin.module {\n" + "\n".join(decls) + "\n"
        f"  func.func @forward(%{name}: {tensor_type(shape, elt)}) -> {result_type} {{\n"
        + "\n".join(loads) + "\n" + body + "\n"
        f"    func.return {result} : {result_type}\n  }}\n}}\n"
    )


def c_dtype(module: Any, fn: str, which: str, i: int = 0) -> Any:
    """numpy dtype of the C buffer of a function's argument / result (the interpreter's
    canonical dtypes are wider: int32 for 8-bit quantized tensors)."""
    f = next(o for o in module.ops if getattr(o, "sym_name", None) is not None and o.sym_name.data == fn)
    types = f.function_type.inputs.data if which == "arg" else f.function_type.outputs.data
    return NUMPY[ctype_of(types[i])]


def check_forward(src: str, build: Path, inputs: list[NDArray[Any]]) -> None:
    reference = parse_module(src)
    model = Model(src, build)
    in_dt, out_dt = c_dtype(reference, "forward", "arg"), c_dtype(reference, "forward", "result")
    for x in inputs:
        (expected,) = run_function(reference, "forward", [x])
        got = model.infer(x.astype(in_dt), expected.shape, out_dt)
        same(got, expected)


QU8, QS8, ACC = "!qtrain.q<ui8, asym>", "!qtrain.q<si8, asym>", "!qtrain.q<si32, sym>"


def test_lowered_forward_layer_chain(tmp_path: Path) -> None:
    """qconv2d_acc (ui8 input, bias, stride 2, padding) -> acc_relu -> minmax -> ema (empty
    initial range) -> range_scale / range_zero_point -> requantize_acc, with the scale from
    scale_mul; the ui8 output pins every step."""
    rng = rng_for("lowered chain")
    w = qdata(rng, (4, 3, 3, 3), np.int8)
    states = {
        "zx": (np.array(100, np.int32), "i32", "i32"),
        "sx": (np.array(0.02, np.float32), "f32", "f32"),
        "w": (w, QS8, "i8"),
        "zw": (np.array(-3, np.int32), "i32", "i32"),
        "sw": (np.array(0.011, np.float32), "f32", "f32"),
        "b": ((rng.standard_normal(4) * 0.3).astype(np.float32), "f32", "f32"),
        "r": (np.array([1.0, -1.0], np.float32), "f32", "f32"),
    }
    xt, yt, at = tensor_type((2, 3, 7, 7), QU8), tensor_type((2, 4, 4, 4), QU8), tensor_type((2, 4, 4, 4), ACC)
    body = f"""
    %s = qtrain.scale_mul %sx, %sw : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %acc = "qtrain.qconv2d_acc"(%x, %zx, %w, %zw, %b, %s) <{{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}}> : ({xt}, tensor<i32>, {tensor_type((4, 3, 3, 3), QS8)}, tensor<i32>, tensor<4xf32>, tensor<f32>) -> {at}
    %a = qtrain.acc_relu %acc : ({at}) -> {at}
    %m = qtrain.minmax %a scale %s : ({at}, tensor<f32>) -> tensor<2xf32>
    %r2 = qtrain.ema %r, %m alpha 1.000000e-01 : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    %sy = qtrain.range_scale %r2 for <ui8, asym> : (tensor<2xf32>) -> tensor<f32>
    %zy = qtrain.range_zero_point %r2 for <ui8, asym> : (tensor<2xf32>) -> tensor<i32>
    %y = qtrain.requantize_acc %a[%s] -> [%sy, %zy] : ({at}, tensor<f32>, tensor<f32>, tensor<i32>) -> {yt}"""
    src = op_module(("x", (2, 3, 7, 7), QU8), states, body, "%y", yt)
    check_forward(src, tmp_path / "b", [qdata(rng, (2, 3, 7, 7), np.uint8) for _ in range(3)])


RANGE_OPS = [
    ("scale_mul", "%o = qtrain.scale_mul %x, %a : (tensor<f32>, tensor<f32>) -> tensor<f32>", "tensor<f32>"),
    ("running_max", "%o = qtrain.running_max %a, %x : (tensor<f32>, tensor<f32>) -> tensor<f32>", "tensor<f32>"),
    ("range_scale_s8_sym", "%o = qtrain.range_scale %r for <si8, sym> : (tensor<2xf32>) -> tensor<f32>",
     "tensor<f32>"),
    ("range_zp_u8", "%o = qtrain.range_zero_point %r for <ui8, asym> : (tensor<2xf32>) -> tensor<i32>",
     "tensor<i32>"),
    ("topk_count", "%o = qtrain.topk_count %x, %a lambda_min 2.000000e-01 lambda_max 9.000000e-01 structures 13 "
     ": (tensor<f32>, tensor<f32>) -> tensor<i32>", "tensor<i32>"),
]


@pytest.mark.parametrize("name, op, rtype", RANGE_OPS, ids=[r[0] for r in RANGE_OPS])
def test_lowered_scalar_ops(tmp_path: Path, name: str, op: str, rtype: str) -> None:
    states = {"a": (np.array(2.75, np.float32), "f32", "f32"),
              "r0": (np.array([-0.3, 4.1], np.float32), "f32", "f32")}
    body = ("    %m = qtrain.minmax %x : (tensor<f32>) -> tensor<2xf32>\n"
            "    %r = qtrain.ema %r0, %m alpha 5.000000e-01 : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>\n"
            f"    {op}")
    src = op_module(("x", (), "f32"), states, body, "%o", rtype)
    check_forward(src, tmp_path / "b", [np.array(v, np.float32) for v in (0.5, -3.0, 7.25, 0.0, 100.0)])


def test_lowered_minmax_f32_and_ema(tmp_path: Path) -> None:
    states = {"r": (np.array([-1.0, 2.0], np.float32), "f32", "f32")}
    body = """    %m = qtrain.minmax %x : (tensor<3x5xf32>) -> tensor<2xf32>
    %o = qtrain.ema %r, %m alpha 2.500000e-01 : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>"""
    src = op_module(("x", (3, 5), "f32"), states, body, "%o", "tensor<2xf32>")
    rng = rng_for("minmax f32 lowering")
    check_forward(src, tmp_path / "b", [rng.standard_normal((3, 5)).astype(np.float32) * 3 for _ in range(3)])


def test_lowered_qdense_acc_and_backward(tmp_path: Path) -> None:
    """qdense_acc (si8 input, no bias) -> qdense_grad_input with the error from qrelu_grad
    and requantize_acc to si8 -- the lowering of both dense int32 kernels' arguments."""
    rng = rng_for("lowered dense")
    n, k, o = 2, 9, 5
    xt, wt = tensor_type((n, k), QS8), tensor_type((o, k), QS8)
    at, et = tensor_type((n, o), ACC), tensor_type((n, o), QS8)
    states = {
        "zx": (np.array(-7, np.int32), "i32", "i32"), "w": (qdata(rng, (o, k), np.int8), QS8, "i8"),
        "zw": (np.array(4, np.int32), "i32", "i32"), "e": (qdata(rng, (n, o), np.int8), QS8, "i8"),
        "ze": (np.array(2, np.int32), "i32", "i32"), "sa": (np.array(1e-3, np.float32), "f32", "f32"),
        "sy": (np.array(0.05, np.float32), "f32", "f32"), "zy": (np.array(-9, np.int32), "i32", "i32"),
        "s2": (np.array(0.7, np.float32), "f32", "f32"),
    }
    body = f"""
    %acc = "qtrain.qdense_acc"(%x, %zx, %w, %zw) <{{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}}> : ({xt}, tensor<i32>, {wt}, tensor<i32>) -> {at}
    %y = qtrain.requantize_acc %acc[%sa] -> [%sy, %zy] : ({at}, tensor<f32>, tensor<f32>, tensor<i32>) -> {et}
    %d = qtrain.qrelu_grad %e[%ze], %y[%zy] : ({et}, tensor<i32>, {et}, tensor<i32>) -> {et}
    %gi = qtrain.qdense_grad_input %d[%ze], %w[%zw] : ({et}, tensor<i32>, {wt}, tensor<i32>) -> {tensor_type((n, k), ACC)}
    %o = qtrain.requantize_acc %gi[%s2] -> [%sy, %zy] : ({tensor_type((n, k), ACC)}, tensor<f32>, tensor<f32>, tensor<i32>) -> {xt}"""
    src = op_module(("x", (n, k), QS8), states, body, "%o", xt)
    check_forward(src, tmp_path / "b", [qdata(rng, (n, k), np.int8) for _ in range(4)])


def test_lowered_conv_backward_with_selection(tmp_path: Path) -> None:
    """topk_count -> topk_structures on the conv error -> qconv2d_grad_weight (ui8 input,
    selection) and qconv2d_grad_input (stride 2, padding), returned through their sum."""
    rng = rng_for("lowered conv backward")
    n, c, h, wd, o = 1, 3, 6, 6, 6
    xt, et = tensor_type((n, c, h, wd), QU8), tensor_type((n, o, 3, 3), QS8)
    wt, gt = tensor_type((o, c, 3, 3), QS8), tensor_type((o, c, 3, 3), ACC)
    states = {
        "zx": (np.array(128, np.int32), "i32", "i32"), "e": (qdata(rng, (n, o, 3, 3), np.int8), QS8, "i8"),
        "ze": (np.array(-1, np.int32), "i32", "i32"), "w": (qdata(rng, (o, c, 3, 3), np.int8), QS8, "i8"),
        "zw": (np.array(0, np.int32), "i32", "i32"), "loss": (np.array(0.8, np.float32), "f32", "f32"),
        "lmax": (np.array(2.0, np.float32), "f32", "f32"), "sg": (np.array(1.0, np.float32), "f32", "f32"),
        "zg": (np.array(0, np.int32), "i32", "i32"), "sx": (np.array(64.0, np.float32), "f32", "f32"),
    }
    conv = "stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 1 : i64"
    it = tensor_type((n, c, h, wd), ACC)
    body = f"""
    %k = qtrain.topk_count %loss, %lmax lambda_min 2.000000e-01 lambda_max 1.000000e+00 structures 6 : (tensor<f32>, tensor<f32>) -> tensor<i32>
    %idx = qtrain.topk_structures %e[%ze], %k : ({et}, tensor<i32>, tensor<i32>) -> tensor<6xi32>
    %g = "qtrain.qconv2d_grad_weight"(%x, %zx, %e, %ze, %idx, %k) <{{{conv}, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}}> : ({xt}, tensor<i32>, {et}, tensor<i32>, tensor<6xi32>, tensor<i32>) -> {gt}
    %gq = qtrain.requantize_acc %g[%sg] -> [%sx, %zg] : ({gt}, tensor<f32>, tensor<f32>, tensor<i32>) -> {wt}
    %gi = qtrain.qconv2d_grad_input %e[%ze], %gq[%zw] stride [2, 2] padding [1, 1, 0, 0] groups 1 : ({et}, tensor<i32>, {wt}, tensor<i32>) -> {it}"""
    src = op_module(("x", (n, c, h, wd), QU8), states, body, "%gi", it)
    check_forward(src, tmp_path / "b", [qdata(rng, (n, c, h, wd), np.uint8) for _ in range(3)])


UPDATE_SRC = """
builtin.module {{
  qtrain.param @w trainable : tensor<6x4x!qtrain.q<{wq}, asym>> = {w} {{qtrain.scale = @ws, qtrain.zero_point = @wz}}
  qtrain.state @ws : tensor<f32> = {ws}
  qtrain.state @wz : tensor<i32> = {wz}
  qtrain.state @wr : tensor<2xf32> = dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32>
  qtrain.state @e : tensor<3x6x!qtrain.q<si8, asym>> = {e}
  qtrain.state @ze : tensor<i32> = dense<-2> : tensor<i32>
  qtrain.state @zx : tensor<i32> = {zx}
  qtrain.state @gs : tensor<f32> = dense<1.000000e-04> : tensor<f32>
  qtrain.state @step : tensor<i32> = dense<{step}> : tensor<i32>
  qtrain.state @lmax : tensor<f32> = dense<0.000000e+00> : tensor<f32>
  func.func @train_step(%x: tensor<3x4x!qtrain.q<{xq}, asym>>, %t: tensor<f32>) -> tensor<f32> {{
    %ws = qtrain.load @ws : tensor<f32>
    %wz = qtrain.load @wz : tensor<i32>
    %wr = qtrain.load @wr : tensor<2xf32>
    %e = qtrain.load @e : tensor<3x6x!qtrain.q<si8, asym>>
    %ze = qtrain.load @ze : tensor<i32>
    %zx = qtrain.load @zx : tensor<i32>
    %gs = qtrain.load @gs : tensor<f32>
    %step = qtrain.load @step : tensor<i32>
    %lmax = qtrain.load @lmax : tensor<f32>
    %lm2 = qtrain.running_max %lmax, %t : (tensor<f32>, tensor<f32>) -> tensor<f32>
    qtrain.store %lm2, @lmax : tensor<f32>
    %k = qtrain.topk_count %t, %lm2 lambda_min 3.000000e-01 lambda_max 1.000000e+00 structures 6 : (tensor<f32>, tensor<f32>) -> tensor<i32>
    %idx = qtrain.topk_structures %e[%ze], %k : (tensor<3x6x!qtrain.q<si8, asym>>, tensor<i32>, tensor<i32>) -> tensor<6xi32>
    %g = "qtrain.qdense_grad_weight"(%x, %zx, %e, %ze, %idx, %k) <{{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}}> : (tensor<3x4x!qtrain.q<{xq}, asym>>, tensor<i32>, tensor<3x6x!qtrain.q<si8, asym>>, tensor<i32>, tensor<6xi32>, tensor<i32>) -> tensor<6x4x!qtrain.q<si32, sym>>
    %st = "qtrain.grad_stats"(%g, %gs, %ws, %idx, %k) <{{mode = "{mode}", operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>}}> : (tensor<6x4x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<6xi32>, tensor<i32>) -> tensor<6x2xf32>
    %w = qtrain.load @w : tensor<6x4x!qtrain.q<{wq}, asym>>
    %r = "qtrain.qsgd_range"(%w, %ws, %wz, %g, %st, %idx, %k) <{{lr = 5.000000e-02 : f64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1>}}> : (tensor<6x4x!qtrain.q<{wq}, asym>>, tensor<f32>, tensor<i32>, tensor<6x4x!qtrain.q<si32, sym>>, tensor<6x2xf32>, tensor<6xi32>, tensor<i32>) -> tensor<2xf32>
    %r2 = qtrain.ema %wr, %r alpha 5.000000e-01 : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    qtrain.store %r2, @wr : tensor<2xf32>
    %s2 = qtrain.range_scale %r2 for <{wq}, asym> : (tensor<2xf32>) -> tensor<f32>
    %z2 = qtrain.range_zero_point %r2 for <{wq}, asym> : (tensor<2xf32>) -> tensor<i32>
    "qtrain.qsgd_update"(%g, %st, %ws, %wz, %s2, %z2, %idx, %k, %step) <{{param = @w, lr = 5.000000e-02 : f64, rounding = "{rounding}", seed = {seed} : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1>}}> : (tensor<6x4x!qtrain.q<si32, sym>>, tensor<6x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>, tensor<6xi32>, tensor<i32>, tensor<i32>) -> ()
    qtrain.store %s2, @ws : tensor<f32>
    qtrain.store %z2, @wz : tensor<i32>
    func.return %s2 : tensor<f32>
  }}
  func.func @forward(%x: tensor<3x4x!qtrain.q<{xq}, asym>>) -> tensor<6x4x!qtrain.q<{wq}, asym>> {{
    %zx = qtrain.load @zx : tensor<i32>
    %unused = qtrain.qrelu_grad %x[%zx], %x[%zx] : (tensor<3x4x!qtrain.q<{xq}, asym>>, tensor<i32>, tensor<3x4x!qtrain.q<{xq}, asym>>, tensor<i32>) -> tensor<3x4x!qtrain.q<{xq}, asym>>
    %w = qtrain.load @w : tensor<6x4x!qtrain.q<{wq}, asym>>
    func.return %w : tensor<6x4x!qtrain.q<{wq}, asym>>
  }}
}}
"""


@pytest.mark.parametrize("wq, xq, mode, rounding, seed",
                         [("si8", "ui8", "standardize", "stochastic", 3), ("ui8", "si8", "qas", "nearest", 0),
                          ("si8", "si8", "none", "stochastic", 2**31 + 17)])
def test_lowered_quantized_update(tmp_path: Path, wq: str, xq: str, mode: str, rounding: str, seed: int) -> None:
    """A training step of selection + grad_weight + grad_stats + qsgd_range + ema +
    range_scale/zero_point + qsgd_update (the parameter global written in place, its scale
    and zero-point states stored), over several steps with a varying loss; then the float
    view of the quantized parameter through odtc_param_read / odtc_param_write."""
    rng = rng_for("lowered update", wq, mode)
    wdt = np.int8 if wq == "si8" else np.uint8
    xdt = np.int8 if xq == "si8" else np.uint8
    w0 = qdata(rng, (6, 4), wdt)
    src = UPDATE_SRC.format(
        wq=wq, xq=xq, mode=mode, rounding=rounding, seed=seed, step=17,
        w=dense_attr(w0, "i8"), ws=dense_attr(np.array(0.02, np.float32), "f32"),
        wz=dense_attr(np.array(3 if wq == "si8" else 120, np.int32), "i32"),
        e=dense_attr(qdata(rng, (3, 6), np.int8), "i8"), zx=dense_attr(np.array(5, np.int32), "i32"),
    )
    reference = parse_module(src)
    state = init_state(reference)
    model = Model(src, tmp_path / "b")
    for loss in (0.9, 2.5, 0.1, 1.7):
        x = qdata(rng, (3, 4), xdt)
        t = np.array(loss, np.float32)
        (s_ref,) = run_function(reference, "train_step", [x, t], state)
        same(model.train_step(x, t), s_ref)  # the new weight scale
        (w_ref,) = run_function(reference, "forward", [x], state)
        same(model.infer(x, w_ref.shape, wdt), w_ref)
    # float view: scale * (q - zero_point) with the current states
    s, z = np.float32(state["ws"]), int(state["wz"])
    view = (s * (state["w"].astype(np.int64) - z).astype(np.float32)).astype(np.float32).reshape(-1)
    same(model.param(0), view)
    # write: clamp(rintf(x / s) + z)
    new = (rng.standard_normal(24) * 3).astype(np.float32)
    new[:4] = [np.float32(0.5) * s, np.float32(1.5) * s, 1e9, -1e9]
    model.lib.odtc_param_write(0, new.ctypes.data)
    q = np.clip(np.rint((new / s).astype(np.float32)) + z, np.iinfo(wdt).min, np.iinfo(wdt).max).astype(wdt)
    same(model.infer(x, w_ref.shape, wdt).reshape(-1), q)
    same(model.param(0), (s * (q.astype(np.int64) - z).astype(np.float32)).astype(np.float32))


def test_lowered_qsgd_update_f32_gradient(tmp_path: Path) -> None:
    """The mixed variant: an f32 weight gradient (grad_stats standardize, qsgd_update nearest,
    no selection and no step)."""
    rng = rng_for("lowered f32 update")
    g = (rng.standard_normal((5, 3)) * 0.1).astype(np.float32)
    g[1] = 0.0
    src = f"""
builtin.module {{
  qtrain.param @w trainable : tensor<5x3x!qtrain.q<si8, sym>> = {dense_attr(qdata(rng, (5, 3), np.int8), "i8")}
  qtrain.state @ws : tensor<f32> = dense<0.03125> : tensor<f32>
  qtrain.state @wz : tensor<i32> = dense<0> : tensor<i32>
  qtrain.state @g : tensor<5x3xf32> = {dense_attr(g, "f32")}
  func.func @train_step(%x: tensor<1xf32>, %t: tensor<f32>) -> tensor<f32> {{
    %ws = qtrain.load @ws : tensor<f32>
    %wz = qtrain.load @wz : tensor<i32>
    %g = qtrain.load @g : tensor<5x3xf32>
    %st = "qtrain.grad_stats"(%g) <{{mode = "standardize", operandSegmentSizes = array<i32: 1, 0, 0, 0, 0>}}> : (tensor<5x3xf32>) -> tensor<5x2xf32>
    "qtrain.qsgd_update"(%g, %st, %ws, %wz, %ws, %wz) <{{param = @w, lr = 1.000000e-01 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 0>}}> : (tensor<5x3xf32>, tensor<5x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> ()
    %m = qtrain.minmax %x : (tensor<1xf32>) -> tensor<2xf32>
    %l = qtrain.running_max %t, %t : (tensor<f32>, tensor<f32>) -> tensor<f32>
    func.return %l : tensor<f32>
  }}
  func.func @forward(%x: tensor<1xf32>) -> tensor<5x3x!qtrain.q<si8, sym>> {{
    %m = qtrain.minmax %x : (tensor<1xf32>) -> tensor<2xf32>
    %w = qtrain.load @w : tensor<5x3x!qtrain.q<si8, sym>>
    func.return %w : tensor<5x3x!qtrain.q<si8, sym>>
  }}
}}
"""
    reference = parse_module(src)
    state = init_state(reference)
    model = Model(src, tmp_path / "b")
    x, t = np.zeros(1, np.float32), np.array(0.0, np.float32)
    for _ in range(3):
        run_function(reference, "train_step", [x, t], state)
        model.train_step(x, t)
        (w_ref,) = run_function(reference, "forward", [x], state)
        same(model.infer(x, w_ref.shape, np.int8), w_ref)
    # an integer parameter without qtrain.scale / qtrain.zero_point reads as (float)q
    same(model.param(0), state["w"].reshape(-1).astype(np.float32))


def test_convert_rejects_bad_scale_reference() -> None:
    src = """
builtin.module {
  qtrain.param @w trainable : tensor<2x!qtrain.q<si8, sym>> = dense<[1, 2]> : tensor<2xi8> {qtrain.scale = @nope, qtrain.zero_point = @z}
  qtrain.state @z : tensor<i32> = dense<0> : tensor<i32>
  func.func @forward(%x: tensor<1xf32>) -> tensor<1xf32> {
    func.return %x : tensor<1xf32>
  }
}
"""
    with pytest.raises(Exception, match="qtrain.scale must name a qtrain.state of type tensor<f32>"):
        run_pipeline(parse_module(src), PIPELINE)


def test_convert_rejects_unsupported_storage() -> None:
    """The grad-input kernels take si8 errors only: a ui8 error fails with the op named."""
    et = tensor_type((1, 3), QU8)
    states = {"z": (np.array(0, np.int32), "i32", "i32"), "w": (np.zeros((3, 2), np.int8), QS8, "i8")}
    body = (f"    %g = qtrain.qdense_grad_input %e[%z], %w[%z] : ({et}, tensor<i32>, {tensor_type((3, 2), QS8)}, "
            f"tensor<i32>) -> {tensor_type((1, 2), ACC)}")
    mod = op_module(("e", (1, 3), QU8), states, body, "%g", tensor_type((1, 2), ACC))
    with pytest.raises(Exception, match=r"qtrain.qdense_grad_input: the C kernels take the output error as si8 only"):
        run_pipeline(parse_module(mod), PIPELINE)


# ---------------------------------------------------------------------------------------
# Sanitizers and Cortex-M
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(SANITIZED, reason="already running under the sanitizers")
def test_sanitized_build() -> None:
    """This file's kernel tests again against an ASan/UBSan build (in a subprocess: ctypes
    needs the ASan runtime preloaded); any report fails."""
    rerun_under_sanitizers(__file__, "not sanitized and not lowered and not convert")


def _c_array(name: str, a: NDArray[Any]) -> str:
    ctype = {"int8": "int8_t", "uint8": "uint8_t", "int32": "int32_t", "float32": "uint32_t"}[a.dtype.name]
    flat = a.reshape(-1).view(np.uint32) if a.dtype == np.float32 else a.reshape(-1)
    vals = ", ".join(f"{int(v)}u" if ctype == "uint32_t" else str(int(v)) for v in flat)
    return f"static const {ctype} {name}[{max(1, flat.size)}] = {{{vals}}};"


def cf(v: float) -> str:
    """The f32 value of v as an exact C literal (no decimal double rounding)."""
    return float(np.float32(v)).hex() + "f"


DRIVER_BUFFERS = """static int32_t acc[4096];
static uint32_t scratch[1024];
static float fbuf[64];
static int32_t ibuf[64];
static int8_t bbuf[1024];"""


def _driver_cases() -> tuple[str, dict[str, NDArray[Any]]]:
    """A C driver running FQT kernels on embedded inputs and printing each output's bytes as
    `name hex`, and the outputs fqt.py computes for the same inputs (name -> array, in the
    dtype the driver prints)."""
    rng = rng_for("driver")
    arrays: dict[str, NDArray[Any]] = {}
    expected: dict[str, NDArray[Any]] = {}
    calls: list[str] = []

    def add(name: str, a: NDArray[Any]) -> str:
        arrays[name] = np.ascontiguousarray(a)
        return name

    def out(name: str, buf: str, value: Any, dtype: Any) -> str:
        v = np.asarray(value).astype(dtype)
        expected[name] = v
        return f'report("{name}", {buf}, {v.size * v.itemsize}u);'

    # conv acc: ui8 input, groups 2, stride 2, asymmetric padding (DSP dot products on M4+)
    stride, pads, geo = (2, 2), (1, 0, 1, 2), "1, 4, 9, 9, 6, 3, 3, 2, 2, 1, 0, 1, 2, 2"
    oh, ow = ref.conv_output_hw((9, 9), (3, 3), stride, pads)
    add("cx", qdata(rng, (1, 4, 9, 9), np.uint8))
    add("cw", qdata(rng, (6, 2, 3, 3), np.int8))
    add("cb", (rng.standard_normal(6) * 0.2).astype(np.float32))
    sb = np.float32(1e-4)
    acc = fqt.qconv2d_acc(arrays["cx"], 131, arrays["cw"], -5, arrays["cb"], sb, stride, pads, 2)
    calls.append(f"{{ float s = {cf(sb)}; int32_t zx = 131, zw = -5; odtc_qconv2d_acc_u8(cx, &zx, cw, &zw, 0, "
                 f"(const float *)cb, &s, acc, scratch, {geo}); {out('qconv2d_acc', 'acc', acc, np.int32)} }}")
    sa, sy = np.float32(3.1e-5), np.float32(0.01)
    calls.append(f"{{ float sa = {cf(sa)}, sy = {cf(sy)}; int32_t zy = 7; "
                 f"odtc_minmax_acc(acc, &sa, fbuf, {acc.size}u); {out('minmax_acc', 'fbuf', fqt.minmax(acc, sa), np.float32)} "
                 f"odtc_requantize_acc(acc, bbuf, ODTC_U8, {acc.size}u, &sa, &sy, &zy); "
                 f"{out('requantize_acc', 'bbuf', fqt.requantize_acc(acc, sa, sy, 7, 0, 255), np.uint8)} }}")
    add("dx", qdata(rng, (2, 37), np.int8))
    add("dw", qdata(rng, (5, 37), np.int8))
    calls.append("{ int32_t zx = 3, zw = 1; odtc_qdense_acc_s8(dx, &zx, dw, &zw, 0, NULL, NULL, acc, scratch, 2, 37, 5); "
                 + out("qdense_acc", "acc", fqt.qdense_acc(arrays["dx"], 3, arrays["dw"], 1, None, 1.0), np.int32) + " }")
    # grad weights under a selection: conv (ui8 input), dense (one sample: the DSP outer product)
    add("ce", qdata(rng, (1, 6, oh, ow), np.int8))
    add("sel", np.array([1, 2, 4, -1, -1, -1], np.int32))
    gw = fqt.qconv2d_grad_weight(arrays["cx"], 131, arrays["ce"], -2, (6, 2, 3, 3), stride, pads, 2, arrays["sel"], 3)
    calls.append(f"{{ int32_t zx = 131, ze = -2, k = 3; odtc_qconv2d_grad_weight_u8(cx, &zx, ce, &ze, acc, sel, &k, "
                 f"{geo}); {out('qconv2d_grad_weight', 'acc', gw, np.int32)} }}")
    add("de", qdata(rng, (1, 6), np.int8))
    g = fqt.qdense_grad_weight(arrays["dx"][:1], 3, arrays["de"], 7, arrays["sel"], 3)
    calls.append("{ int32_t zx = 3, ze = 7, k = 3; odtc_qdense_grad_weight_s8(dx, &zx, de, &ze, acc, sel, &k, 1, 37, 6); "
                 + out("qdense_grad_weight", "acc", g, np.int32) + " }")
    # stats (sqrtf), range, qparams, update with both roundings (rintf, floorf)
    add("g", g)
    gs, ws, lr = np.float32(1e-4), np.float32(0.02), np.float32(0.05)
    for mode in ("standardize", "qas"):
        st = fqt.grad_stats(g, mode, gs, ws, arrays["sel"], 3)
        calls.append(f"{{ float gs = {cf(gs)}, ws = {cf(ws)}; int32_t k = 3; odtc_grad_stats(g, ODTC_S32, &gs, &ws, "
                     f"fbuf, sel, &k, 6, 37u, {NORM[mode]}); {out(f'grad_stats_{mode}', 'fbuf', st, np.float32)} }}")
    st = fqt.grad_stats(g, "standardize", gs, ws, arrays["sel"], 3)
    add("st", st)
    add("wq", qdata(rng, (6, 37), np.int8))
    r = fqt.qsgd_range(arrays["wq"], ws, 4, g, st, float(lr), arrays["sel"], 3)
    add("rr", r)
    calls.append(f"{{ float sw = {cf(ws)}; int32_t zw = 4, k = 3; odtc_qsgd_range(wq, ODTC_S8, &sw, &zw, g, "
                 f"ODTC_S32, (const float *)st, fbuf, sel, &k, 6, 37u, {cf(lr)}); "
                 f"{out('qsgd_range', 'fbuf', r, np.float32)} }}")
    s2, z2 = fqt.qparams(r, -128, 127, False)
    calls.append("{ fbuf[0] = odtc_range_scale((const float *)rr, -128, 127, 0); "
                 "ibuf[0] = odtc_range_zero_point((const float *)rr, -128, 127, 0); "
                 + out("range_scale", "fbuf", s2.reshape(1), np.float32) + " "
                 + out("range_zero_point", "ibuf", z2.reshape(1), np.int32) + " }")
    for rounding in ("nearest", "stochastic"):
        upd = fqt.qsgd_update(arrays["wq"], ws, 4, g, st, s2, z2, float(lr), -128, 127, rounding, 9, 1234,
                              arrays["sel"], 3)
        calls.append(f"{{ float sw = {cf(ws)}, s2 = {cf(s2)}; int32_t zw = 4, z2 = {int(z2)}, k = 3, step = 1234; "
                     f"memcpy(bbuf, wq, sizeof wq); odtc_qsgd_update(bbuf, ODTC_S8, &sw, &zw, g, ODTC_S32, "
                     f"(const float *)st, &s2, &z2, sel, &k, &step, 6, 37u, {cf(lr)}, {ROUND[rounding]}, 9); "
                     f"{out(f'qsgd_update_{rounding}', 'bbuf', upd, np.int8)} }}")
    # partial-update scalars and the EMA
    loss, lmax = np.float32(0.7), np.float32(2.3)
    calls.append(f"{{ float l = {cf(loss)}, m = {cf(lmax)}; ibuf[0] = odtc_topk_count(&l, &m, {cf(0.25)}, {cf(0.9)}, 37); "
                 + out("topk_count", "ibuf", fqt.topk_count(loss, lmax, 0.25, 0.9, 37).reshape(1), np.int32) + " }")
    calls.append(f"{{ int32_t ze = -2, k = 4; odtc_topk_structures(ce, ODTC_S8, &ze, &k, ibuf, scratch, 1, 6, "
                 f"{oh * ow}u); {out('topk_structures', 'ibuf', fqt.topk_structures(arrays['ce'], -2, 4), np.int32)} }}")
    obs = np.array([-0.3, 0.77], np.float32)
    calls.append(f"{{ float obs[2] = {{{cf(obs[0])}, {cf(obs[1])}}}; odtc_ema_range((const float *)rr, obs, fbuf, "
                 f"{cf(0.1)}); {out('ema', 'fbuf', fqt.ema(r, obs, 0.1), np.float32)} }}")
    decls = "\n".join(_c_array(k, v) for k, v in arrays.items())
    src = driver_source("Generated by test_fqt_kernels.py: runs FQT kernels and prints the output bytes.", decls,
                        DRIVER_BUFFERS, calls)
    return src, expected


def test_driver_on_host(build_dir: Path) -> None:
    src, expected = _driver_cases()
    (build_dir / "fqt_driver.c").write_text(src)
    exe = emulator.build_host_executable([build_dir / "fqt_driver.c", *K.sources()], build_dir / "fqt_driver",
                                         include_dirs=[K.INCLUDE_DIR])
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True, timeout=60).stdout
    check_driver_output(out, expected)


@pytest.mark.arm
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m7", "cortex-m55"])
def test_driver_on_cortex_m(target: str, tmp_path: Path) -> None:
    if not emulator.toolchain_available():
        pytest.skip("needs arm-none-eabi-gcc (newlib) and qemu-system-arm")
    src, expected = _driver_cases()
    (tmp_path / "fqt_driver.c").write_text(src)
    elf = emulator.build_elf([tmp_path / "fqt_driver.c", *K.sources()], target, tmp_path / "fqt_driver.elf",
                             include_dirs=[K.INCLUDE_DIR])
    run = emulator.run_elf(elf, target)
    assert run.exit_code == 0, run.stdout + run.stderr
    check_driver_output(run.stdout, expected)

