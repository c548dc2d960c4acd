"""The fused / bit-mask FQT kernels of runtime/c/src/fqt.c against runtime/fqt.py, BIT FOR BIT:

* odtc_qconv2d_pw_dw_stream_{s8,u8} (fqt.qconv2d_pw_dw_stream): a groups-1 conv (1x1
  expansion or a 3x3 stride-2 stem) whose 8-bit output feeds a depthwise conv, fused
  channel by channel; both x storages, both storages of the intermediate h, act codes
  0 / 1 / 2 on both convs (relu6 scales chosen so that the clamp engages), with and
  without biases, n = 1 and 2, range mode and requantize mode (both y storages, a grid
  from the output's own range and a halved one that saturates); the scratch is sized by
  ODTC_QCONV2D_PW_DW_STREAM_SCRATCH_BYTES (checked against the formula the Python side
  uses) and followed by a canary the kernel must not touch;
* odtc_qrelu_mask (fqt.relu_mask) and odtc_qmask_grad (fqt.qmask_grad): both storages,
  relu and relu6 (values at zy, at 6 = zy + rintf(6 / sy) and either side, rounding ties,
  special scales), numel not a multiple of 8 (the last byte's unused bits 0, no byte
  written past (numel + 7) / 8), mask -> grad equal to odtc_qrelu_grad /
  odtc_qrelu6_grad, in place;
* the existing depthwise stream odtc_qconv2d_acc_stream_{s8,u8} in place (y == x,
  groups == c == o, oh * ow <= h * w): equal to the out-of-place call and to fqt.

The ctypes tests run against the portable build and the Arm DSP path compiled against C
models of the intrinsics (-DODTC_EMULATE_DSP), and again against an ASan/UBSan build
(test_sanitized_build); a C driver runs the kernels on the host and, under QEMU (marker
`arm`), on Cortex-M4/M7/M55 (real DSP instructions, the FPU, newlib's rintf/floorf) and
must print the bytes fqt.py computes.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from conftest import KERNELS_SANITIZED, rerun_under_sanitizers
from kernel_harness import c_array, check_driver_output, cf, fl, i32, name, Out, qdata, qrange, rng_for, same, storage_of, zero_point
from odtc.runtime import emulator
from odtc.runtime import fqt
from odtc.runtime import kernels as K
from odtc.runtime import reference as ref

# The edge-case scales make numpy warn (x / 0, overflow): expected, not a problem.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SANITIZED = KERNELS_SANITIZED
S8, U8 = 0, 1
DTYPES = [np.int8, np.uint8]
ACT = {0: False, 1: True, 2: "relu6"}  # sink codes -> fqt.acc_stream's `relu`


# ---------------------------------------------------------------------------------------
# Fixtures and helpers (as test_fqt_kernels.py)
# ---------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------
# The fused conv -> depthwise stream
# ---------------------------------------------------------------------------------------


def pw_dw_scratch_formula(c: int, kh1: int, kw1: int, h1: int, w1: int, kh2: int, kw2: int, oh: int,
                          ow: int) -> int:
    """The scratch size the Python side (bufferize) computes for qconv2d_pw_dw_stream."""
    return (4 * h1 * w1 + (4 + 4 * ((c * kh1 * kw1 + 1) // 2)) + 4 * ((h1 * w1 + 3) // 4) + 4 * oh * ow
            + (4 + 4 * ((kh2 * kw2 + 1) // 2)))


def relu6_scale_for(acc: NDArray[np.int32]) -> np.float32:
    """An accumulator scale putting 6 at the accumulator's 75th percentile: some values
    clamp, most do not."""
    return np.float32(6.0 / max(float(np.percentile(acc, 75)), 1.0))


# n, c, h, w, e, (kh1, kw1), stride1, pads1, (kh2, kw2), stride2, pads2 (pads: top, left, bottom, right)
FUSED_CASES = [
    (1, 8, 7, 7, 12, (1, 1), (1, 1), (0, 0, 0, 0), (3, 3), (1, 1), (1, 1, 1, 1)),  # MobileNetV2 expand + dw s1
    (2, 6, 9, 8, 10, (1, 1), (1, 1), (0, 0, 0, 0), (3, 3), (2, 2), (1, 1, 1, 1)),  # expand + dw s2, n = 2
    (2, 3, 12, 11, 8, (3, 3), (2, 2), (0, 0, 1, 1), (3, 3), (1, 1), (1, 1, 1, 1)),  # stem 3x3 / 2 -> dw
    (1, 5, 6, 5, 3, (3, 3), (1, 1), (1, 1, 1, 1), (5, 3), (2, 1), (2, 1, 1, 0)),  # odd geometry
]


class Fused:
    """One random fused layer: inputs, the scales a training step would derive, and calls
    of the C kernel and of fqt.qconv2d_pw_dw_stream."""

    def __init__(self, rng: np.random.Generator, case: tuple, xdtype: Any, hdtype: Any, act1: int, act2: int,
                 bias1: bool, bias2: bool, h_widen: float = 1.0) -> None:
        n, c, h, w, e, k1, self.stride1, self.pads1, k2, self.stride2, self.pads2 = case
        self.xdtype, self.hdtype, self.act1, self.act2 = xdtype, hdtype, act1, act2
        self.x = qdata(rng, (n, c, h, w), xdtype)
        self.w1 = qdata(rng, (e, c, *k1), np.int8)
        self.w2 = qdata(rng, (e, 1, *k2), np.int8)
        self.zx = zero_point(rng, xdtype)
        self.zw1, self.zw2 = int(rng.integers(-20, 21)), int(rng.integers(-20, 21))
        self.b1 = (rng.standard_normal(e) * 0.5).astype(np.float32) if bias1 else None
        self.b2 = (rng.standard_normal(e) * 0.5).astype(np.float32) if bias2 else None
        self.s1 = np.float32(rng.uniform(1e-4, 1e-3))
        acc1 = fqt.qconv2d_acc(self.x, self.zx, self.w1, self.zw1, self.b1, self.s1, self.stride1, self.pads1, 1)
        if act1 == 2:
            self.s1 = relu6_scale_for(acc1)
            acc1 = fqt.qconv2d_acc(self.x, self.zx, self.w1, self.zw1, self.b1, self.s1, self.stride1, self.pads1, 1)
            assert (acc1 > fqt.relu6_bound(self.s1)).any() and (acc1 > 0).any()
        self.hmin, self.hmax = qrange(hdtype)
        # h's grid from the range of its accumulator (as the step derives it), optionally
        # widened on both sides (as an EMA range lagging behind): relu's 0 and relu6's 6 then
        # land inside h's grid, so act1 is not mere saturation of the requantization
        r1 = fqt.acc_stream(acc1, ACT[act1], self.s1)
        m = np.float32(h_widen - 1.0) * (r1[1] - r1[0])
        r1 = np.array([r1[0] - np.float32(0.5) * m, r1[1] + m], np.float32)
        sh, zh = fqt.qparams(r1, self.hmin, self.hmax, False)
        self.sh, self.zh = np.float32(sh), int(zh)
        hq = fqt.acc_stream(acc1, ACT[act1], self.s1, self.sh, self.zh, self.hmin, self.hmax)
        self.s2 = np.float32(rng.uniform(1e-4, 1e-3))
        acc2 = fqt.qconv2d_acc(hq, self.zh, self.w2, self.zw2, self.b2, self.s2, self.stride2, self.pads2, e)
        if act2 == 2:
            self.s2 = relu6_scale_for(acc2)
            acc2 = fqt.qconv2d_acc(hq, self.zh, self.w2, self.zw2, self.b2, self.s2, self.stride2, self.pads2, e)
            assert (acc2 > fqt.relu6_bound(self.s2)).any() and (acc2 > 0).any()
        self.out_shape = acc2.shape

    def expected(self, sy: Any = None, zy: Any = None, ydtype: Any = np.int8) -> NDArray[Any]:
        qmin, qmax = qrange(ydtype)
        got = fqt.qconv2d_pw_dw_stream(self.x, self.zx, self.w1, self.zw1, self.b1, self.s1, ACT[self.act1], self.sh,
                                       self.zh, self.hmin, self.hmax, self.stride1, self.pads1, self.w2, self.zw2,
                                       self.b2, self.s2, ACT[self.act2], self.stride2, self.pads2, sy, zy, qmin, qmax)
        return got if sy is None else got.astype(ydtype)

    def run(self, lib: K.Kernels, sy: Any = None, zy: Any = None, ydtype: Any = np.int8) -> NDArray[Any]:
        """The C kernel: the range (sy None) or y requantized to (sy, zy) in ydtype."""
        n, c, h, w = self.x.shape
        e, _, kh1, kw1 = self.w1.shape
        _, _, kh2, kw2 = self.w2.shape
        h1, w1 = ref.conv_output_hw((h, w), (kh1, kw1), self.stride1, self.pads1)
        oh, ow = ref.conv_output_hw((h1, w1), (kh2, kw2), self.stride2, self.pads2)
        assert (n, e, oh, ow) == self.out_shape
        size = int(lib.odtc_qconv2d_pw_dw_stream_scratch_bytes(c, kh1, kw1, h1, w1, kh2, kw2, oh, ow))
        assert size == pw_dw_scratch_formula(c, kh1, kw1, h1, w1, kh2, kw2, oh, ow)
        assert size % 4 == 0
        scratch = Out((size // 4,), np.int32)  # garbage-filled, GUARD canary words after it
        fn = lib.odtc_qconv2d_pw_dw_stream_u8 if self.xdtype == np.uint8 else lib.odtc_qconv2d_pw_dw_stream_s8
        head = (self.x, i32(self.zx), self.w1, i32(self.zw1), self.b1, fl(self.s1), self.act1, fl(self.sh),
                i32(self.zh), storage_of(self.hdtype), self.w2, i32(self.zw2), self.b2, fl(self.s2), self.act2)
        geo = (n, c, h, w, e, kh1, kw1, *self.stride1, *self.pads1, kh2, kw2, *self.stride2, *self.pads2)
        if sy is None:
            r = Out((2,), np.float32)
            fn(*head, None, None, None, 0, r.ptr, scratch.ptr, *geo)
            out = r.value()
        else:
            y = Out(self.out_shape, ydtype)
            fn(*head, fl(sy), i32(zy), y.ptr, storage_of(ydtype), None, scratch.ptr, *geo)
            out = y.value()
        scratch.value()  # the canary after the documented scratch size is intact
        return out


@pytest.mark.parametrize("case", FUSED_CASES)
@pytest.mark.parametrize("xdtype", DTYPES)
@pytest.mark.parametrize("hdtype", DTYPES)
@pytest.mark.parametrize("act1,act2", list(itertools.product((0, 1, 2), repeat=2)))
def test_qconv2d_pw_dw_stream(lib: K.Kernels, case: tuple, xdtype: Any, hdtype: Any, act1: int, act2: int) -> None:
    """Range mode and requantize mode (both y storages; y's grid from the output's own
    range, and halved so that it saturates) for biases on both convs, none, and one; h's
    grid from its own range, or from that range widened on both sides (relu's 0 and
    relu6's 6 then land inside h's grid instead of at its ends)."""
    rng = rng_for("pw_dw", case, name(xdtype), name(hdtype), act1, act2)
    one = [(True, False), (False, True)][(act1 + act2) % 2]
    for (bias1, bias2), h_widen in (((True, True), 2.0), ((False, False), 1.0), (one, 2.0)):
        f = Fused(rng, case, xdtype, hdtype, act1, act2, bias1, bias2, h_widen)
        r = f.expected()
        same(f.run(lib), r)
        for ydtype in DTYPES:
            qmin, qmax = qrange(ydtype)
            s, z = fqt.qparams(r, qmin, qmax, False)
            for sy in (np.float32(s), np.float32(s * np.float32(0.5))):
                same(f.run(lib, sy, int(z), ydtype), f.expected(sy, int(z), ydtype))


def test_qconv2d_pw_dw_stream_equals_unfused(portable: K.Kernels) -> None:
    """The fused kernel equals the unfused chain of C kernels: odtc_qconv2d_acc, relu6,
    odtc_requantize_acc to h, then the depthwise odtc_qconv2d_acc_stream."""
    rng = rng_for("pw_dw unfused")
    f = Fused(rng, FUSED_CASES[1], np.uint8, np.int8, 2, 1, True, True)
    n, c, h, w = f.x.shape
    e = f.w1.shape[0]
    h1, w1 = ref.conv_output_hw((h, w), (1, 1), f.stride1, f.pads1)
    acc1 = Out((n, e, h1, w1), np.int32)
    scr1 = Out((portable.odtc_qconv2d_acc_scratch_bytes(c, 1, 1, 1, e) // 4,), np.int32)
    portable.odtc_qconv2d_acc_u8(f.x, i32(f.zx), f.w1, i32(f.zw1), 0, f.b1, fl(f.s1), acc1.ptr, scr1.ptr, n, c, h, w, e,
                                 1, 1, *f.stride1, *f.pads1, 1)
    a1 = acc1.value()
    portable.odtc_acc_relu6(a1, fl(f.s1), a1, a1.size)
    hq = Out(a1.shape, np.int8)
    portable.odtc_requantize_acc(a1, hq.ptr, S8, a1.size, fl(f.s1), fl(f.sh), i32(f.zh))
    hv = hq.value()
    oh, ow = f.out_shape[2:]
    scr2 = Out(((4 * oh * ow + portable.odtc_qconv2d_acc_scratch_bytes(1, 1, 3, 3, 1)) // 4,), np.int32)
    r = Out((2,), np.float32)
    portable.odtc_qconv2d_acc_stream_s8(hv, i32(f.zh), f.w2, i32(f.zw2), f.b2, fl(f.s2), None, None, None, 0, r.ptr,
                                        1, scr2.ptr, n, e, h1, w1, e, 3, 3, *f.stride2, *f.pads2, e)
    same(f.run(portable), r.value())


@pytest.mark.parametrize("c,kh1,kw1,h1,w1,kh2,kw2,oh,ow", [
    (8, 1, 1, 7, 7, 3, 3, 7, 7), (3, 3, 3, 112, 112, 3, 3, 112, 112), (1, 1, 1, 1, 1, 1, 1, 1, 1),
    (5, 3, 3, 6, 5, 5, 3, 3, 5), (96, 1, 1, 56, 56, 3, 3, 28, 28), (7, 2, 1, 3, 3, 2, 2, 2, 2),
])
def test_pw_dw_scratch_bytes(portable: K.Kernels, c: int, kh1: int, kw1: int, h1: int, w1: int, kh2: int, kw2: int,
                             oh: int, ow: int) -> None:
    """The macro (through its function) is the Python formula, and its qconv2d_acc parts
    are ODTC_QCONV2D_ACC_SCRATCH_BYTES(c, 1, kh, kw, 1) = 4 + 4 ((c kh kw + 1) / 2)."""
    got = int(portable.odtc_qconv2d_pw_dw_stream_scratch_bytes(c, kh1, kw1, h1, w1, kh2, kw2, oh, ow))
    assert got == pw_dw_scratch_formula(c, kh1, kw1, h1, w1, kh2, kw2, oh, ow)
    for cc, kh, kw in ((c, kh1, kw1), (1, kh2, kw2)):
        assert int(portable.odtc_qconv2d_acc_scratch_bytes(cc, 1, kh, kw, 1)) == 4 + 4 * ((cc * kh * kw + 1) // 2)


# ---------------------------------------------------------------------------------------
# Packed relu / relu6 masks and the gradient through them
# ---------------------------------------------------------------------------------------


def relu6_mask_scales(rng: np.random.Generator) -> list[np.float32 | None]:
    """None (relu), typical relu6 grids, 6 / sy at a rounding tie (sy = 4: 1.5, 12 / 255),
    coarse grids, grids narrower than 6, special values (0, -0, negative, inf, NaN, huge,
    tiny) and random ones."""
    ties = [np.float32(12.0) / np.float32(2 * k + 1) for k in (0, 1, 2, 7, 127)]
    fixed = [6 / 255, 6 / 127, 6 / 256, 0.02, 0.05, 4.0, 0.8, 2.4, 1.0, 6.0, 7.0, 1e-6, 0.0, -0.0, -0.05, 3.4e38,
             1e-45, np.inf, -np.inf, np.nan]
    return [None, *(np.float32(v) for v in [*ties, *fixed, *(10.0 ** rng.uniform(-3, 0.5, 4))])]


def marked_y(rng: np.random.Generator, numel: int, ydtype: Any, zy: int, sy: np.float32 | None) -> NDArray[Any]:
    """Random y with the cut points planted: zy and either side, and for relu6 zy + t (6
    exactly), zy + t - 1 and zy + t + 1, t = rintf(6 / sy)."""
    y = qdata(rng, (numel,), ydtype)
    lo, hi = qrange(ydtype)
    marks = [zy, zy + 1, zy - 1]
    if sy is not None:
        with np.errstate(all="ignore"):
            t = np.rint(np.float32(6.0) / sy)
        if np.isfinite(t) and abs(t) < 1000:
            marks += [zy + int(t), zy + int(t) - 1, zy + int(t) + 1]
    marks = [m for m in marks if lo <= m <= hi]
    for i in range(numel):
        if marks and rng.random() < 0.4:
            y[i] = marks[int(rng.integers(len(marks)))]
    return y


def c_mask(lib: K.Kernels, y: NDArray[Any], zy: int, sy: np.float32 | None) -> NDArray[np.uint8]:
    out = Out(((y.size + 7) // 8,), np.uint8)
    lib.odtc_qrelu_mask(y, storage_of(y.dtype), i32(zy), None if sy is None else fl(sy), out.ptr, y.size)
    return out.value()


@pytest.mark.parametrize("ydtype", DTYPES)
@pytest.mark.parametrize("numel", [1, 3, 8, 9, 16, 63, 64, 67, 1001])
def test_qrelu_mask(portable: K.Kernels, ydtype: Any, numel: int) -> None:
    """fqt.relu_mask bit for bit (packbits little-endian, trailing bits 0, nothing written
    past the last byte)."""
    rng = rng_for("qrelu_mask", name(ydtype), numel)
    for sy in relu6_mask_scales(rng):
        zy = zero_point(rng, ydtype)
        y = marked_y(rng, numel, ydtype, zy, sy)
        got = c_mask(portable, y, zy, sy)
        same(got, fqt.relu_mask(y, zy, sy))
        if numel % 8:
            assert int(got[-1]) >> (numel % 8) == 0  # unused bits of the last byte
        # unpacked, the bits are the elementwise cut
        keep = y.astype(np.int64) > zy
        if sy is not None:
            with np.errstate(all="ignore"):
                keep &= (y.astype(np.int64) - zy).astype(np.float32) < np.rint(np.float32(6.0) / sy)
        same(np.unpackbits(got, count=numel, bitorder="little"), keep.astype(np.uint8))


def test_qrelu_mask_boundary(portable: K.Kernels) -> None:
    """u8 relu6 output, zy = 0: sy = 6 / 255 keeps 1..254 (0 and 6 = 255 are cut); sy = 4
    (6 / 4 = 1.5 rounds to 2) keeps only y = 1; relu keeps 1..255; and an s8 relu6 output
    with zy = -128 cuts at -128 + 255 = 127."""
    y = np.arange(256, dtype=np.uint8)
    for sy, keep in ((np.float32(6.0) / np.float32(255.0), (y > 0) & (y < 255)), (np.float32(4.0), y == 1),
                     (None, y > 0)):
        want = np.packbits(keep, bitorder="little")
        same(fqt.relu_mask(y, 0, sy), want)
        same(c_mask(portable, y, 0, sy), want)
    ys = np.arange(-128, 128, dtype=np.int8)
    want = np.packbits((ys > -128) & (ys < 127), bitorder="little")
    same(fqt.relu_mask(ys, -128, np.float32(6.0) / np.float32(255.0)), want)
    same(c_mask(portable, ys, -128, np.float32(6.0) / np.float32(255.0)), want)
    # numel 0: nothing written
    out = Out((0,), np.uint8)
    portable.odtc_qrelu_mask(y, U8, i32(0), None, out.ptr, 0)
    out.value()
    dx = Out((0,), np.int8)
    portable.odtc_qmask_grad(y, S8, i32(0), out.ptr, dx.ptr, 0)
    dx.value()


@pytest.mark.parametrize("edtype", DTYPES)
@pytest.mark.parametrize("ydtype", DTYPES)
@pytest.mark.parametrize("numel", [1, 7, 8, 13, 64, 210, 1003])
def test_qmask_grad(portable: K.Kernels, edtype: Any, ydtype: Any, numel: int) -> None:
    """odtc_qmask_grad(odtc_qrelu_mask(y)) == odtc_qrelu_grad / odtc_qrelu6_grad(y) ==
    fqt.qmask_grad, out of place and in place (dx == e)."""
    rng = rng_for("qmask_grad", name(edtype), name(ydtype), numel)
    for sy in relu6_mask_scales(rng):
        zy, ze = zero_point(rng, ydtype), zero_point(rng, edtype)
        y = marked_y(rng, numel, ydtype, zy, sy)
        e = qdata(rng, (numel,), edtype)
        mask = c_mask(portable, y, zy, sy)
        want = fqt.qmask_grad(e, ze, mask).astype(edtype)
        want_direct = (fqt.qrelu_grad(e, ze, y, zy) if sy is None else fqt.qrelu6_grad(e, ze, y, zy, sy)).astype(edtype)
        same(want, want_direct)
        direct = Out((numel,), edtype)
        if sy is None:
            portable.odtc_qrelu_grad(e, storage_of(edtype), i32(ze), y, storage_of(ydtype), i32(zy), direct.ptr, numel)
        else:
            portable.odtc_qrelu6_grad(e, storage_of(edtype), i32(ze), y, storage_of(ydtype), i32(zy), fl(sy),
                                      direct.ptr, numel)
        dx = Out((numel,), edtype)
        portable.odtc_qmask_grad(e, storage_of(edtype), i32(ze), mask, dx.ptr, numel)
        got = dx.value()
        same(got, want)
        same(got, direct.value())
        inplace = e.copy()
        portable.odtc_qmask_grad(inplace, storage_of(edtype), i32(ze), mask, inplace, numel)
        same(inplace, want)


def test_qmask_grad_ignores_unused_mask_bits(portable: K.Kernels) -> None:
    """Bits of the last byte beyond numel (set here) are not elements: nothing past numel
    is written and fqt agrees (unpackbits with count)."""
    e = np.arange(11, dtype=np.int8)
    mask = np.array([0b10110101, 0b11111010], np.uint8)
    want = fqt.qmask_grad(e, -5, mask).astype(np.int8)
    dx = Out((11,), np.int8)
    portable.odtc_qmask_grad(e, S8, i32(-5), mask, dx.ptr, 11)
    same(dx.value(), want)
    same(want, np.where(np.unpackbits(mask, count=11, bitorder="little").astype(bool), e, np.int8(-5)))


# ---------------------------------------------------------------------------------------
# The depthwise stream in place
# ---------------------------------------------------------------------------------------

# n, c (= o = groups), h, w, (kh, kw), stride, pads; every case has oh * ow <= h * w
INPLACE_CASES = [
    (1, 5, 7, 7, (3, 3), (1, 1), (1, 1, 1, 1)),  # oh * ow == h * w
    (2, 4, 8, 7, (3, 3), (1, 1), (1, 1, 1, 1)),
    (1, 6, 9, 9, (3, 3), (2, 2), (1, 1, 1, 1)),
    (2, 3, 8, 9, (3, 3), (2, 2), (0, 0, 1, 1)),  # TF "same" stride 2
    (2, 4, 6, 6, (5, 5), (2, 1), (2, 2, 2, 2)),
]


@pytest.mark.parametrize("case", INPLACE_CASES)
@pytest.mark.parametrize("xdtype", DTYPES)
@pytest.mark.parametrize("relu", [0, 1, 2])
def test_depthwise_stream_in_place(lib: K.Kernels, case: tuple, xdtype: Any, relu: int) -> None:
    """odtc_qconv2d_acc_stream_* with groups == c == o and y == x (y_storage = x's storage)
    equals the out-of-place call and fqt, bit for bit; the range pass reads x only."""
    n, c, h, w, (kh, kw), stride, pads = case
    rng = rng_for("dw in place", case, name(xdtype), relu)
    x = qdata(rng, (n, c, h, w), xdtype)
    wt = qdata(rng, (c, 1, kh, kw), np.int8)
    zx, zw = zero_point(rng, xdtype), int(rng.integers(-20, 21))
    bias = (rng.standard_normal(c) * 0.5).astype(np.float32) if relu != 1 else None
    sacc = np.float32(rng.uniform(1e-4, 1e-3))
    acc = fqt.qconv2d_acc(x, zx, wt, zw, bias, sacc, stride, pads, c)
    if relu == 2:
        sacc = relu6_scale_for(acc)
        acc = fqt.qconv2d_acc(x, zx, wt, zw, bias, sacc, stride, pads, c)
    oh, ow = acc.shape[2:]
    assert oh * ow <= h * w
    qmin, qmax = qrange(xdtype)
    sy, zy = fqt.qparams(fqt.acc_stream(acc, ACT[relu], sacc), qmin, qmax, False)
    want = fqt.acc_stream(acc, ACT[relu], sacc, sy, zy, qmin, qmax).astype(xdtype)
    fn = lib.odtc_qconv2d_acc_stream_u8 if xdtype == np.uint8 else lib.odtc_qconv2d_acc_stream_s8
    geo = (n, c, h, w, c, kh, kw, *stride, *pads, c)
    scratch = Out(((4 * oh * ow + lib.odtc_qconv2d_acc_scratch_bytes(1, 1, kh, kw, 1)) // 4,), np.int32)
    y = Out(acc.shape, xdtype)
    fn(x, i32(zx), wt, i32(zw), bias, fl(sacc), fl(sy), i32(zy), y.ptr, storage_of(xdtype), None, relu, scratch.ptr,
       *geo)
    out_of_place = y.value()
    same(out_of_place, want)
    buf = Out(x.shape, xdtype)
    buf.buf[: x.size] = x.reshape(-1)
    fn(buf.ptr, i32(zx), wt, i32(zw), bias, fl(sacc), fl(sy), i32(zy), buf.ptr, storage_of(xdtype), None, relu,
       scratch.ptr, *geo)
    got = buf.value().reshape(-1)
    same(got[: want.size].reshape(want.shape), out_of_place)
    if want.size < x.size:  # the rest of the buffer: the input's tail, untouched
        same(got[want.size:], x.reshape(-1)[want.size:])
    scratch.value()


# ---------------------------------------------------------------------------------------
# Sanitizers, and a driver on the host and on Cortex-M
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(SANITIZED, reason="already running under the sanitizers")
def test_sanitized_build() -> None:
    """This file's kernel tests again against an ASan/UBSan build (in a subprocess)."""
    rerun_under_sanitizers(__file__, "not sanitized and not driver")


def _driver_cases() -> tuple[str, dict[str, NDArray[Any]]]:
    """A C driver running the fused / mask kernels on embedded inputs and printing each
    output's bytes as `name hex` (and whether the scratch canary survived), and what
    fqt.py computes for the same inputs."""
    rng = rng_for("fused driver")
    arrays: dict[str, NDArray[Any]] = {}
    expected: dict[str, NDArray[Any]] = {}
    calls: list[str] = []

    def add(cname: str, a: Any) -> str:
        arrays[cname] = np.ascontiguousarray(a)
        return cname

    def out(oname: str, buf: str, value: Any, dtype: Any) -> str:
        v = np.asarray(value).astype(dtype)
        expected[oname] = v
        return f'report("{oname}", {buf}, {v.size * v.itemsize}u);'

    def canary(oname: str, words: str) -> str:
        expected[oname] = np.array([1], np.uint8)
        return f"{{ unsigned char ok = canary_ok({words}); report(\"{oname}\", &ok, 1u); }}"

    st = {np.dtype(np.int8): "ODTC_S8", np.dtype(np.uint8): "ODTC_U8"}
    sfx = {np.dtype(np.int8): "s8", np.dtype(np.uint8): "u8"}
    # the fused stream: expand + dw s2 (u8 x, u8 h, relu6 / relu6), stem -> dw (s8 x, s8 h,
    # relu / none, b1 only), odd geometry (u8 x, s8 h, none / relu6, b2 only)
    for tag, case, xdtype, hdtype, act1, act2, bias1, bias2, h_widen in (
            ("mbv2", FUSED_CASES[1], np.uint8, np.uint8, 2, 2, True, True, 2.0),
            ("stem", FUSED_CASES[2], np.int8, np.int8, 1, 0, True, False, 1.0),
            ("odd", FUSED_CASES[3], np.uint8, np.int8, 0, 2, False, True, 1.0)):
        f = Fused(rng, case, xdtype, hdtype, act1, act2, bias1, bias2, h_widen)
        n, c, h, w = f.x.shape
        e, _, kh1, kw1 = f.w1.shape
        _, _, kh2, kw2 = f.w2.shape
        h1, w1 = ref.conv_output_hw((h, w), (kh1, kw1), f.stride1, f.pads1)
        oh, ow = f.out_shape[2:]
        x = add(f"x_{tag}", f.x)
        wa, wb = add(f"w1_{tag}", f.w1), add(f"w2_{tag}", f.w2)
        b1 = f"(const float *){add(f'b1_{tag}', f.b1)}" if f.b1 is not None else "NULL"
        b2 = f"(const float *){add(f'b2_{tag}', f.b2)}" if f.b2 is not None else "NULL"
        r = f.expected()
        ydtype = np.int8 if tag == "stem" else np.uint8
        qmin, qmax = qrange(ydtype)
        s, z = fqt.qparams(r, qmin, qmax, False)
        yv = f.expected(np.float32(s), int(z), ydtype)
        words = (f"(ODTC_QCONV2D_PW_DW_STREAM_SCRATCH_BYTES({c}, {kh1}, {kw1}, {h1}, {w1}, {kh2}, {kw2}, {oh}, {ow})"
                 " / 4u)")
        head = (f"{x}, &zx, {wa}, &zw1, {b1}, &s1, {act1}, &sh, &zh, {st[np.dtype(hdtype)]}, {wb}, &zw2, {b2}, &s2, "
                f"{act2}")
        geo = (f"{n}, {c}, {h}, {w}, {e}, {kh1}, {kw1}, {f.stride1[0]}, {f.stride1[1]}, {', '.join(map(str, f.pads1))}, "
               f"{kh2}, {kw2}, {f.stride2[0]}, {f.stride2[1]}, {', '.join(map(str, f.pads2))}")
        fn = f"odtc_qconv2d_pw_dw_stream_{sfx[np.dtype(xdtype)]}"
        calls.append(
            f"{{ float s1 = {cf(f.s1)}, sh = {cf(f.sh)}, s2 = {cf(f.s2)}, sy = {cf(s)}; "
            f"int32_t zx = {f.zx}, zw1 = {f.zw1}, zh = {f.zh}, zw2 = {f.zw2}, zy = {int(z)}; "
            f"set_canary({words}); {fn}({head}, NULL, NULL, NULL, 0, fbuf, (int32_t *)scratch, {geo}); "
            f"{out(f'pw_dw_range_{tag}', 'fbuf', r, np.float32)} {canary(f'canary_range_{tag}', words)} "
            f"set_canary({words}); {fn}({head}, &sy, &zy, bbuf, {st[np.dtype(ydtype)]}, NULL, (int32_t *)scratch, "
            f"{geo}); {out(f'pw_dw_y_{tag}', 'bbuf', yv, ydtype)} {canary(f'canary_y_{tag}', words)} }}")
    # masks (relu6 on u8 with the 6 boundary and a tie grid, relu on s8; 203 elements) and
    # the gradient through them, in place
    add("my", np.arange(203).astype(np.uint8))
    add("ms", qdata(rng, (203,), np.int8))
    add("me", qdata(rng, (203,), np.int8))
    for tag, yname, ystore, sy, zy in (("six", "my", "ODTC_U8", np.float32(6.0) / np.float32(200.0), 0),
                                       ("tie", "my", "ODTC_U8", np.float32(4.0), 3),
                                       ("relu", "ms", "ODTC_S8", None, -9)):
        y = arrays[yname]
        mask = fqt.relu_mask(y, zy, sy)
        grad = fqt.qmask_grad(arrays["me"], -2, mask)
        syp = "&sy" if sy is not None else "NULL"
        calls.append(f"{{ float sy = {cf(sy if sy is not None else 1.0)}; int32_t zy = {zy}, ze = -2; (void)sy; "
                     f"odtc_qrelu_mask({yname}, {ystore}, &zy, {syp}, mbuf, 203u); "
                     f"{out(f'mask_{tag}', 'mbuf', mask, np.uint8)} memcpy(bbuf, me, sizeof me); "
                     f"odtc_qmask_grad(bbuf, ODTC_S8, &ze, mbuf, bbuf, 203u); "
                     f"{out(f'mask_grad_{tag}', 'bbuf', grad, np.int8)} }}")
    # the depthwise stream in place (u8 stride 2 relu6, n = 2; s8 stride 1 relu)
    for tag, (n, c, h, w, (kh, kw), stride, pads), xdtype, relu in (("s2", INPLACE_CASES[2], np.uint8, 2),
                                                                    ("s1", INPLACE_CASES[1], np.int8, 1)):
        x = qdata(rng, (n, c, h, w), xdtype)
        wt = qdata(rng, (c, 1, kh, kw), np.int8)
        add(f"dx_{tag}", x)
        add(f"dw_{tag}", wt)
        acc = fqt.qconv2d_acc(x, 5, wt, -2, None, np.float32(1e-3), stride, pads, c)
        sacc = relu6_scale_for(acc) if relu == 2 else np.float32(3e-4)
        acc = fqt.qconv2d_acc(x, 5, wt, -2, None, sacc, stride, pads, c)
        qmin, qmax = qrange(xdtype)
        sy, zy = fqt.qparams(fqt.acc_stream(acc, ACT[relu], sacc), qmin, qmax, False)
        want = fqt.acc_stream(acc, ACT[relu], sacc, sy, zy, qmin, qmax)
        geo = f"{n}, {c}, {h}, {w}, {c}, {kh}, {kw}, {stride[0]}, {stride[1]}, {', '.join(map(str, pads))}, {c}"
        calls.append(f"{{ float sa = {cf(sacc)}, sy = {cf(sy)}; int32_t zx = 5, zw = -2, zy = {int(zy)}; "
                     f"memcpy(bbuf, dx_{tag}, sizeof dx_{tag}); "
                     f"odtc_qconv2d_acc_stream_{sfx[np.dtype(xdtype)]}(({'const uint8_t' if xdtype == np.uint8 else 'const int8_t'} *)bbuf, "
                     f"&zx, dw_{tag}, &zw, NULL, &sa, &sy, &zy, bbuf, {st[np.dtype(xdtype)]}, NULL, {relu}, "
                     f"(int32_t *)scratch, {geo}); {out(f'dw_inplace_{tag}', 'bbuf', want, xdtype)} }}")
    decls = "\n".join(c_array(k, v) for k, v in arrays.items())
    body = "\n    ".join(calls)
    src = f"""/* Generated by test_fqt_kernels_fused.py: runs the fused / mask FQT kernels, prints the bytes. */
#include <stdio.h>
#include <string.h>
#include "odtc_kernels.h"

{decls}
#define SCRATCH_WORDS 2048u
#define CANARY_WORDS 16u
static uint32_t scratch[SCRATCH_WORDS + CANARY_WORDS];
static float fbuf[1024];
static int8_t bbuf[2048];
static uint8_t mbuf[64];

static void report(const char *name, const void *p, unsigned bytes)
{{
    const unsigned char *b = (const unsigned char *)p;
    printf("%s ", name);
    for (unsigned i = 0; i < bytes; ++i) printf("%02x", b[i]);
    printf("\\n");
}}

/* garbage in the scratch, a canary right after its documented size */
static void set_canary(size_t words)
{{
    for (size_t i = 0; i < words + CANARY_WORDS && i < SCRATCH_WORDS + CANARY_WORDS; ++i) {{
        scratch[i] = i < words ? 0x5A5A5A5Au : 0xC0FFEE11u;
    }}
}}

static unsigned char canary_ok(size_t words)
{{
    if (words > SCRATCH_WORDS) return 0;
    for (size_t i = words; i < words + CANARY_WORDS; ++i) {{
        if (scratch[i] != 0xC0FFEE11u) return 0;
    }}
    return 1;
}}

int main(void)
{{
    {body}
    return 0;
}}
"""
    return src, expected


def test_driver_on_host(build_dir: Path) -> None:
    src, expected = _driver_cases()
    (build_dir / "fqt_fused_driver.c").write_text(src)
    exe = emulator.build_host_executable([build_dir / "fqt_fused_driver.c", *K.sources()],
                                         build_dir / "fqt_fused_driver", include_dirs=[K.INCLUDE_DIR])
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True, timeout=60).stdout
    check_driver_output(out, expected)


@pytest.mark.skipif(SANITIZED, reason="already covered by test_sanitized_build's parent run")
def test_driver_on_host_sanitized(build_dir: Path) -> None:
    """The driver (C callers, static buffers, the scratch macro) under ASan/UBSan."""
    src, expected = _driver_cases()
    (build_dir / "fqt_fused_driver_san.c").write_text(src)
    exe = emulator.build_host_executable([build_dir / "fqt_fused_driver_san.c", *K.sources()],
                                         build_dir / "fqt_fused_driver_san", include_dirs=[K.INCLUDE_DIR],
                                         sanitize=True)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(ASAN_OPTIONS="detect_leaks=0", UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0 and "runtime error" not in proc.stderr, proc.stderr[-4000:]
    check_driver_output(proc.stdout, expected)


@pytest.mark.arm
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m7", "cortex-m55"])
def test_driver_on_cortex_m(target: str, tmp_path: Path) -> None:
    if not emulator.toolchain_available():
        pytest.skip("needs arm-none-eabi-gcc (newlib) and qemu-system-arm")
    src, expected = _driver_cases()
    (tmp_path / "fqt_fused_driver.c").write_text(src)
    elf = emulator.build_elf([tmp_path / "fqt_fused_driver.c", *K.sources()], target,
                             tmp_path / "fqt_fused_driver.elf", include_dirs=[K.INCLUDE_DIR])
    run = emulator.run_elf(elf, target)
    assert run.exit_code == 0, run.stdout + run.stderr
    check_driver_output(run.stdout, expected)
