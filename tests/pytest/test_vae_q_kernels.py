"""The fully quantized VAE kernels (runtime/c/src/vae_q.c) against odtc.runtime.fqt_vae.

Every comparison is EXACT (int32 by value, np.array_equal via test_fqt_kernels.same):

* `test_c_*` call the host-built kernel library through ctypes: odtc_qconv_transpose2d_acc
  and odtc_qconv_transpose2d_grad_weight, int8 and uint8 activations, on ~30 random valid
  geometries (c_in / c_out 1..8, h / w 1..7, kernels 1..4, strides 1..3, padding 0..k-1 per
  side, output padding in [0, stride), output >= 1), random zero points, with and without
  bias, plus inputs pinned at the storage extremes, the bias-quantization edges (ties,
  NaN, +-inf, out-of-range) and a sum whose partial sums leave int32 while the result
  does not (the two's-complement accumulation);
* the same tests run again against an ASan/UBSan build (test_sanitized_build);
* a C driver runs a few cases and must print the int32 values fqt_vae.py computes, on the
  host and under QEMU on Cortex-M4 (marker `arm`).
"""

from __future__ import annotations

import subprocess
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from conftest import rerun_under_sanitizers
from odtc.runtime import emulator
from odtc.runtime import fqt, fqt_vae
from odtc.runtime import kernels as K
from odtc.runtime import vae
from test_fqt_kernels import (SANITIZED, Out, _c_array, cf, fl, i32, qdata, rng_for, same,
                              zero_point)
from kernel_harness import check_driver_output

# Edge biases (NaN, inf, x / 0) make numpy warn: expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

XDTYPES = [np.int8, np.uint8]


# ---------------------------------------------------------------------------------------
# Fixtures, geometry and the C calls
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lib(tmp_path_factory: pytest.TempPathFactory) -> K.Kernels:
    """The whole kernel library, host build (sanitized inside test_sanitized_build)."""
    return K.load(K.build_shared(tmp_path_factory.mktemp("odtc_vae_q") / "libodtc_vae_q.so", sanitize=SANITIZED))


class Geo:
    """One conv-transpose geometry: x [n, ci, h, w], weight [ci, co, kh, kw], stride,
    padding (top, left, bottom, right), output padding, and the output size it implies."""

    def __init__(self, n: int, ci: int, h: int, w: int, co: int, k: tuple[int, int], stride: tuple[int, int],
                 pads: tuple[int, int, int, int], out_pad: tuple[int, int]) -> None:
        self.n, self.ci, self.h, self.w, self.co = n, ci, h, w, co
        self.k, self.stride, self.pads, self.out_pad = k, stride, pads, out_pad
        self.oh, self.ow = vae.conv_transpose2d_output_hw((h, w), k, stride, pads, out_pad)

    def valid(self) -> bool:
        return self.oh >= 1 and self.ow >= 1 and all(0 <= p < s for p, s in zip(self.out_pad, self.stride))

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return self.n, self.ci, self.h, self.w

    @property
    def w_shape(self) -> tuple[int, int, int, int]:
        return self.ci, self.co, *self.k

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return self.n, self.co, self.oh, self.ow

    def c_args(self) -> tuple[int, ...]:
        """n, c_in, h, w_, c_out, kh, kw, oh, ow, stride_h, stride_w, pad_top, pad_left."""
        return (self.n, self.ci, self.h, self.w, self.co, *self.k, self.oh, self.ow, *self.stride,
                self.pads[0], self.pads[1])

    def __repr__(self) -> str:
        return (f"{self.n}x{self.ci}x{self.h}x{self.w}-{self.co}-k{self.k[0]}{self.k[1]}-s{self.stride[0]}"
                f"{self.stride[1]}-p{''.join(map(str, self.pads))}-op{self.out_pad[0]}{self.out_pad[1]}")


def random_geometries(count: int) -> list[Geo]:
    """`count` random valid geometries (rejection sampling on the output size)."""
    rng = rng_for("vae_q geometries")
    out: list[Geo] = []
    while len(out) < count:
        k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        pads = (int(rng.integers(0, k[0])), int(rng.integers(0, k[1])),
                int(rng.integers(0, k[0])), int(rng.integers(0, k[1])))
        op = (int(rng.integers(0, s[0])), int(rng.integers(0, s[1])))
        g = Geo(int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.integers(1, 8)), int(rng.integers(1, 8)),
                int(rng.integers(1, 9)), k, s, pads, op)
        if g.valid():
            out.append(g)
    return out


# hand-picked corners first: 1 x 1 everything, output padding past every tap, stride 3
# with kernel 1 (sparse output), padding cropping taps on both sides, the decoder x2
FIXED = [
    Geo(1, 1, 1, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0), (0, 0)),
    Geo(1, 2, 1, 1, 3, (1, 1), (3, 3), (0, 0, 0, 0), (2, 2)),
    Geo(2, 3, 3, 4, 2, (1, 2), (3, 2), (0, 1, 0, 0), (2, 1)),
    Geo(1, 4, 5, 5, 3, (3, 3), (1, 1), (2, 2, 2, 2), (0, 0)),
    Geo(1, 8, 7, 7, 8, (4, 4), (2, 2), (1, 1, 1, 1), (1, 1)),
    Geo(2, 3, 4, 4, 5, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),
]
GEOS = FIXED + random_geometries(24)


def c_acc(lib: K.Kernels, x: NDArray[Any], zx: int, w: NDArray[np.int8], zw: int,
          bias: NDArray[np.float32] | None, s: float | None, g: Geo) -> NDArray[np.int32]:
    out = Out(g.out_shape, np.int32)
    fn = lib.odtc_qconv_transpose2d_acc_u8 if x.dtype == np.uint8 else lib.odtc_qconv_transpose2d_acc_s8
    # acc_scale is not read without a bias: pass NULL then
    fn(x, i32(zx), w, i32(zw), bias, None if bias is None or s is None else fl(s), out.ptr, *g.c_args())
    return out.value()


def c_grad_weight(lib: K.Kernels, x: NDArray[Any], zx: int, e: NDArray[np.int8], ze: int, g: Geo) -> NDArray[np.int32]:
    out = Out(g.w_shape, np.int32)
    fn = lib.odtc_qconv_transpose2d_grad_weight_u8 if x.dtype == np.uint8 else lib.odtc_qconv_transpose2d_grad_weight_s8
    fn(x, i32(zx), e, i32(ze), out.ptr, *g.c_args())
    return out.value()


def ref_acc(x: NDArray[Any], zx: int, w: NDArray[np.int8], zw: int, bias: NDArray[np.float32] | None,
            s: float | None, g: Geo) -> NDArray[np.int32]:
    return fqt_vae.qconv_transpose2d_acc(x, zx, w, zw, bias, s, g.stride, g.pads, g.out_pad)


def ref_grad_weight(x: NDArray[Any], zx: int, e: NDArray[np.int8], ze: int, g: Geo) -> NDArray[np.int32]:
    return fqt_vae.qconv_transpose2d_grad_weight(x, zx, e, ze, g.w_shape, g.stride, g.pads)


def case_data(g: Geo, xdtype: Any, idx: int) -> dict[str, Any]:
    """Inputs of case idx: random, or (every fourth case) pinned at the storage extremes
    with the zero points at the opposite ends (the largest |products|)."""
    rng = rng_for("vae_q case", repr(g), np.dtype(xdtype).name, idx)
    info = np.iinfo(xdtype)
    d: dict[str, Any] = {}
    if idx % 4 == 3:
        hi = idx % 8 == 3
        d["x"] = np.full(g.x_shape, info.max if hi else info.min, xdtype)
        d["zx"] = int(info.min if hi else info.max)
        d["w"] = np.full(g.w_shape, -128, np.int8)
        d["zw"] = 127
        d["e"] = np.full(g.out_shape, 127 if hi else -128, np.int8)
        d["ze"] = -128 if hi else 127
    else:
        d["x"] = qdata(rng, g.x_shape, xdtype)
        d["zx"] = zero_point(rng, xdtype)
        d["w"] = qdata(rng, g.w_shape, np.int8)
        d["zw"] = int(rng.integers(-128, 128))
        d["e"] = qdata(rng, g.out_shape, np.int8)
        d["ze"] = int(rng.integers(-128, 128))
    d["s"] = np.float32(10.0 ** rng.uniform(-5, -2))
    d["bias"] = (rng.standard_normal(g.co) * 0.05).astype(np.float32) if idx % 2 == 0 else None
    return d


# ---------------------------------------------------------------------------------------
# Kernels vs fqt_vae
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("xdtype", XDTYPES, ids=["s8", "u8"])
@pytest.mark.parametrize("idx", range(len(GEOS)), ids=[repr(g) for g in GEOS])
def test_c_qconv_transpose2d_acc(lib: K.Kernels, idx: int, xdtype: Any) -> None:
    g = GEOS[idx]
    d = case_data(g, xdtype, idx)
    want = ref_acc(d["x"], d["zx"], d["w"], d["zw"], d["bias"], d["s"], g)
    same(c_acc(lib, d["x"], d["zx"], d["w"], d["zw"], d["bias"], d["s"], g), want)
    if d["bias"] is not None:  # and without the bias: no acc_scale needed (NULL)
        same(c_acc(lib, d["x"], d["zx"], d["w"], d["zw"], None, None, g),
             ref_acc(d["x"], d["zx"], d["w"], d["zw"], None, None, g))


@pytest.mark.parametrize("xdtype", XDTYPES, ids=["s8", "u8"])
@pytest.mark.parametrize("idx", range(len(GEOS)), ids=[repr(g) for g in GEOS])
def test_c_qconv_transpose2d_grad_weight(lib: K.Kernels, idx: int, xdtype: Any) -> None:
    g = GEOS[idx]
    d = case_data(g, xdtype, idx)
    same(c_grad_weight(lib, d["x"], d["zx"], d["e"], d["ze"], g), ref_grad_weight(d["x"], d["zx"], d["e"], d["ze"], g))


@pytest.mark.parametrize("xdtype", XDTYPES, ids=["s8", "u8"])
@pytest.mark.parametrize("idx", range(len(GEOS)), ids=[repr(g) for g in GEOS])
def test_c_qconv_transpose2d_acc_stream(lib: K.Kernels, idx: int, xdtype: Any) -> None:
    """The channel-by-channel conv-transpose: its range pass is fqt.minmax of the whole
    (relu'd when idx is odd) accumulator, its requantize pass fqt.requantize_acc of it."""
    g = GEOS[idx]
    d = case_data(g, xdtype, idx)
    relu = idx % 2 == 1
    s = d["s"]
    acc = ref_acc(d["x"], d["zx"], d["w"], d["zw"], d["bias"], s, g)
    scratch = Out((g.oh * g.ow,), np.int32)
    fn = lib.odtc_qconv_transpose2d_acc_stream_u8 if xdtype == np.uint8 else lib.odtc_qconv_transpose2d_acc_stream_s8
    r = Out((2,), np.float32)
    fn(d["x"], i32(d["zx"]), d["w"], i32(d["zw"]), d["bias"], fl(s), None, None, None, 0, r.ptr, int(relu),
       scratch.ptr, *g.c_args())
    same(r.value(), fqt.acc_stream(acc, relu, s))
    for ydtype, storage in ((np.uint8, 1), (np.int8, 0)):
        info = np.iinfo(ydtype)
        sy, zy = fqt.qparams(fqt.acc_stream(acc, relu, s), int(info.min), int(info.max), False)
        y = Out(g.out_shape, ydtype)
        fn(d["x"], i32(d["zx"]), d["w"], i32(d["zw"]), d["bias"], fl(s), fl(sy), i32(zy), y.ptr, storage, None,
           int(relu), scratch.ptr, *g.c_args())
        same(y.value(), fqt.acc_stream(acc, relu, s, sy, zy, int(info.min), int(info.max)))
    scratch.value()


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
@pytest.mark.parametrize("xdtype", XDTYPES, ids=["s8", "u8"])
@pytest.mark.parametrize("idx", range(0, len(GEOS), 3), ids=[repr(g) for g in GEOS[::3]])
def test_c_qconv_transpose2d_grad_weight_sgd(lib: K.Kernels, idx: int, xdtype: Any, rounding: str) -> None:
    """The fused conv-transpose weight update, row ci by row ci, against the int32 gradient
    applied by fqt.qgrad_weight_sgd_apply (weights and row ranges, bit for bit); lr 50
    clamps weights past the grid."""
    g = GEOS[idx]
    d = case_data(g, xdtype, idx)
    rng = rng_for("vae_q fused", repr(g), np.dtype(xdtype).name, rounding)
    zw = int(rng.integers(-20, 20))
    rr = fqt.row_range_of(d["w"], zw)
    sg, sw = np.float32(rng.uniform(1e-6, 1e-4)), np.float32(rng.uniform(1e-3, 1e-2))
    lr = float(rng.choice([0.01, 0.1, 50.0]))
    seed, step = int(rng.integers(0, 1000)), int(rng.integers(0, 10**6))
    ew, err = fqt_vae.qconv_transpose2d_grad_weight_sgd(d["x"], d["zx"], d["e"], d["ze"], sg, d["w"], sw, zw, rr,
                                                       g.stride, g.pads, lr, -128, 127, rounding, seed, step)
    cw, crr = d["w"].copy(), rr.copy()
    scratch = Out((g.co * g.k[0] * g.k[1],), np.int32)
    fn = (lib.odtc_qconv_transpose2d_grad_weight_sgd_u8 if xdtype == np.uint8
          else lib.odtc_qconv_transpose2d_grad_weight_sgd_s8)
    fn(d["x"], i32(d["zx"]), d["e"], i32(d["ze"]), fl(sg), fl(sw), i32(zw), cw, crr, i32(step), scratch.ptr,
       *g.c_args(), lr, {"nearest": 0, "stochastic": 1}[rounding], seed)
    scratch.value()
    same(cw, ew)
    same(crr, err)
    # the step did something (a zero-gradient case would test nothing): weights or, where
    # they clamp, the row ranges (which record the values before clamping) moved
    g32 = ref_grad_weight(d["x"], d["zx"], d["e"], d["ze"], g)
    if np.abs(g32).max() * sg * lr / sw > 1.0:
        assert not (np.array_equal(ew, d["w"]) and np.array_equal(err, rr))


def test_c_extremes_are_large() -> None:
    """The pinned cases do reach large accumulators (guards the generator above)."""
    g = GEOS[4]  # 8 -> 8 channels, kernel 4, stride 2
    d = case_data(g, np.uint8, 3)  # idx 3: x = 255 with zx = 0, w = -128 with zw = 127
    assert (d["x"] == 255).all() and d["zx"] == 0 and (d["w"] == -128).all() and d["zw"] == 127
    acc = ref_acc(d["x"], d["zx"], d["w"], d["zw"], None, None, g)
    assert int(np.abs(acc).max()) == 255 * 255 * 8 * 4  # 8 channels x 2 x 2 taps


@pytest.mark.parametrize("xdtype", XDTYPES, ids=["s8", "u8"])
def test_c_bias_quantization_edges(lib: K.Kernels, xdtype: Any) -> None:
    """x == zx makes every tap 0, so acc is the quantized bias: ties to even, NaN -> 0,
    +-inf and out-of-range values clamp to the int32 bounds, s = 0 divides to +-inf / NaN."""
    bias = np.array([0.5, 1.5, 2.5, -0.5, -2.5, np.nan, np.inf, -np.inf, 3e9, -3e9, 1e-30, 7.0], np.float32)
    g = Geo(2, 3, 3, 2, bias.size, (3, 2), (2, 1), (1, 0, 0, 1), (1, 0))
    xv = 17 if xdtype == np.uint8 else -4
    x = np.full(g.x_shape, xv, xdtype)
    w = qdata(rng_for("vae_q bias edges"), g.w_shape, np.int8)
    for s in (1.0, 0.25, 0.0, 3e-7):
        want = ref_acc(x, xv, w, 3, bias, s, g)
        same(c_acc(lib, x, xv, w, 3, bias, s, g), want)
    assert {int(v) for v in want[0, :, 0, 0]} >= {2**31 - 1, -(2**31), 0}


def test_c_partial_sums_wrap(lib: K.Kernels) -> None:
    """Results inside int32 whose partial sums are not: the kernels accumulate in two's
    complement, so they still give the exact result (and UBSan sees no signed overflow).
    acc: bias +-inf -> INT32_MAX / INT32_MIN, then channel 0 pushes past the bound and
    channel 1 brings it back; grad weight: 70000 samples of +255 * 127, then 70000 of
    255 * -128 (partial sum 2.27e9 > INT32_MAX, result -17850000)."""
    g = Geo(1, 2, 2, 2, 2, (2, 2), (2, 2), (0, 0, 0, 0), (0, 0))  # every output: one tap per ci
    x = np.array([[[[100, 101], [102, 103]], [[100, 101], [102, 103]]]], np.uint8)
    w = np.empty(g.w_shape, np.int8)
    w[0, 0], w[1, 0], w[0, 1], w[1, 1] = 100, -100, -100, 100
    bias = np.array([np.inf, -np.inf], np.float32)
    want = ref_acc(x, 0, w, 0, bias, 1.0, g)
    assert (want[0, 0] == 2**31 - 1).all() and (want[0, 1] == -(2**31)).all()
    same(c_acc(lib, x, 0, w, 0, bias, 1.0, g), want)

    n = 140000
    gw = Geo(n, 1, 1, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0), (0, 0))
    xg = np.full(gw.x_shape, 255, np.uint8)
    eg = np.empty(gw.out_shape, np.int8)
    eg[: n // 2], eg[n // 2:] = 127, -128
    want = ref_grad_weight(xg, 0, eg, 0, gw)
    assert (n // 2) * 255 * 127 > 2**31 - 1 and int(want.reshape(-1)[0]) == -(n // 2) * 255
    same(c_grad_weight(lib, xg, 0, eg, 0, gw), want)


# ---------------------------------------------------------------------------------------
# Sanitizers and Cortex-M
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(SANITIZED, reason="already running under the sanitizers")
def test_sanitized_build() -> None:
    """The `test_c_*` tests again against an ASan/UBSan build (in a subprocess: ctypes needs
    the ASan runtime preloaded); any report fails."""
    rerun_under_sanitizers(__file__, "test_c_")


# (geometry, x dtype, case index for case_data): the decoder x2 with bias (u8), odd strides
# and output padding past the taps (s8, no bias), the extremes (u8, idx 3) on kernel 4
DRIVER_CASES = [(GEOS[5], np.uint8, 0), (GEOS[2], np.int8, 1), (GEOS[4], np.uint8, 3), (GEOS[3], np.int8, 7)]


# vae_q.c takes the bias rounding from fqt.c (odtc_quantize_bias), which reaches into the
# rest of the runtime: the drivers link every runtime source
DRIVER_SOURCES = sorted(K.SOURCE_DIR.glob("*.c"))


def _driver_cases() -> tuple[str, dict[str, NDArray[Any]]]:
    """A C driver running both kernels on embedded inputs and printing each output's bytes
    as `name hex`, and the int32 values fqt_vae.py computes for them."""
    arrays: dict[str, NDArray[Any]] = {}
    expected: dict[str, NDArray[Any]] = {}
    calls: list[str] = []
    for i, (g, xdtype, idx) in enumerate(DRIVER_CASES):
        d = case_data(g, xdtype, idx)
        sfx = "u8" if xdtype == np.uint8 else "s8"
        arrays.update({f"x{i}": d["x"], f"w{i}": d["w"], f"e{i}": d["e"]})
        geo = ", ".join(str(v) for v in g.c_args())
        zs = f"int32_t zx = {d['zx']}, zw = {d['zw']}, ze = {d['ze']};"
        if d["bias"] is not None:
            arrays[f"b{i}"] = d["bias"]
            bias_args = f"(const float *)b{i}, &s"
            zs += f" float s = {cf(d['s'])};"
        else:
            bias_args = "NULL, NULL"
        acc = ref_acc(d["x"], d["zx"], d["w"], d["zw"], d["bias"], d["s"], g)
        gw = ref_grad_weight(d["x"], d["zx"], d["e"], d["ze"], g)
        expected[f"acc{i}"], expected[f"gw{i}"] = acc, gw
        calls.append(
            f"{{ {zs} odtc_qconv_transpose2d_acc_{sfx}(x{i}, &zx, w{i}, &zw, {bias_args}, buf, {geo}); "
            f'report("acc{i}", buf, {acc.size * 4}u); '
            f"odtc_qconv_transpose2d_grad_weight_{sfx}(x{i}, &zx, e{i}, &ze, buf, {geo}); "
            f'report("gw{i}", buf, {gw.size * 4}u); }}'
        )
    size = max(max(int(np.prod(g.out_shape)), int(np.prod(g.w_shape))) for g, _, _ in DRIVER_CASES)
    decls = "\n".join(_c_array(k, v) for k, v in arrays.items())
    body = "\n    ".join(calls)
    src = f"""/* Generated by test_vae_q_kernels.py: runs the quantized conv-transpose kernels, prints the outputs. */
#include <stdio.h>
#include "odtc_kernels.h"

{decls}
static int32_t buf[{size}];

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


def test_driver_on_host(tmp_path: Path) -> None:
    src, expected = _driver_cases()
    (tmp_path / "vae_q_driver.c").write_text(src)
    exe = emulator.build_host_executable([tmp_path / "vae_q_driver.c", *DRIVER_SOURCES], tmp_path / "vae_q_driver",
                                         include_dirs=[K.INCLUDE_DIR])
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True, timeout=60).stdout
    check_driver_output(out, expected)


@pytest.mark.arm
@pytest.mark.parametrize("target", ["cortex-m4"])
def test_driver_on_cortex_m(target: str, tmp_path: Path) -> None:
    """Cortex-M4 (newlib's rintf, the single-precision FPU) prints the host's integers."""
    if not emulator.toolchain_available():
        pytest.skip("needs arm-none-eabi-gcc (newlib) and qemu-system-arm")
    src, expected = _driver_cases()
    (tmp_path / "vae_q_driver.c").write_text(src)
    elf = emulator.build_elf([tmp_path / "vae_q_driver.c", *DRIVER_SOURCES], target, tmp_path / "vae_q_driver.elf",
                             include_dirs=[K.INCLUDE_DIR])
    run = emulator.run_elf(elf, target)
    assert run.exit_code == 0, run.stdout + run.stderr
    check_driver_output(run.stdout, expected)
