"""The quantized forward ops (quantize, qconv2d, requantize, qdense, dequantize) lowered to C
by convert-qtrain-to-c, built for the host and called through odtc_infer, against the
reference interpreter. The C kernels are specified bit-exact with runtime/reference.py, so
the outputs must be BIT-IDENTICAL.

Quantized parameters read back through odtc_param_read as a dequantized float view
(scale·(q − zero_point), compiler/emit_c.py); tests/pytest/test_fqt_kernels.py checks it.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, IntegerType, Signedness, TensorType, f32

from odtc.compiler.api import parse_module, run_pipeline
from odtc.compiler.build import write_build
from odtc.dialects import qtrain
from odtc.passes.bufferize import scratch_bytes
from odtc.runtime.host import HostModel, Shapes, make
from odtc.runtime.interpreter import run_function

PIPELINE = "qtrain-bufferize,qtrain-plan-buffers,convert-qtrain-to-c"


def dense_f32(a: NDArray) -> str:
    return str(DenseIntOrFPElementsAttr.from_list(TensorType(f32, list(a.shape)), a.ravel().tolist()))


def dense_int(a: NDArray, width: int) -> str:
    ty = TensorType(IntegerType(width, Signedness.SIGNLESS), list(a.shape))
    return str(DenseIntOrFPElementsAttr.from_list(ty, [int(v) for v in a.ravel()]))


def scalar_f32(v: float) -> str:
    return f"dense<{float(np.float32(v))!r}> : tensor<f32>"


def scalar_i32(v: int) -> str:
    return f"dense<{int(v)}> : tensor<i32>"


def build_and_compare(src: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...], build: Path,
                      inputs: list[NDArray]) -> HostModel:
    reference = parse_module(src)
    lowered = run_pipeline(parse_module(src), PIPELINE)
    write_build(lowered, build, "host", build)
    model = HostModel(make(build, "host"), Shapes(in_shape, (), out_shape, np.float32, np.float32))
    for x in inputs:
        (expected,) = run_function(reference, "forward", [x])
        got = model.infer(x)
        assert got.dtype == np.float32 and expected.dtype == np.float32
        np.testing.assert_array_equal(got.view(np.uint32), np.asarray(expected, np.float32).view(np.uint32))
    return model


CONV_SRC = """
builtin.module {{
  qtrain.state @sx : tensor<f32> = {sx}
  qtrain.state @zx : tensor<i32> = {zx}
  qtrain.param @w frozen : tensor<6x3x3x3x!qtrain.q<si8, sym, axis 0>> = {w}
  qtrain.state @sw : tensor<6xf32> = {sw}
  qtrain.state @zw : tensor<6xi32> = dense<0> : tensor<6xi32>
  qtrain.param @b frozen : tensor<6xi32> = {b}
  qtrain.state @sy : tensor<f32> = {sy}
  qtrain.state @zy : tensor<i32> = {zy}
  qtrain.state @s2 : tensor<f32> = {s2}
  qtrain.state @z2 : tensor<i32> = {z2}
  qtrain.param @fw frozen : tensor<5x54x!qtrain.q<si8, sym, axis 0>> = {fw}
  qtrain.state @sfw : tensor<5xf32> = {sfw}
  qtrain.state @zfw : tensor<5xi32> = dense<0> : tensor<5xi32>
  qtrain.param @fb frozen : tensor<5xi32> = {fb}
  qtrain.state @sf : tensor<f32> = {sf}
  qtrain.state @zf : tensor<i32> = {zf}
  func.func @forward(%x: tensor<2x3x5x5xf32>) -> tensor<2x5xf32> {{
    %sx = qtrain.load @sx : tensor<f32>
    %zx = qtrain.load @zx : tensor<i32>
    %q = qtrain.quantize %x, %sx, %zx : (tensor<2x3x5x5xf32>, tensor<f32>, tensor<i32>) -> tensor<2x3x5x5x!qtrain.q<ui8, asym>>
    %w = qtrain.load @w : tensor<6x3x3x3x!qtrain.q<si8, sym, axis 0>>
    %sw = qtrain.load @sw : tensor<6xf32>
    %zw = qtrain.load @zw : tensor<6xi32>
    %b = qtrain.load @b : tensor<6xi32>
    %sy = qtrain.load @sy : tensor<f32>
    %zy = qtrain.load @zy : tensor<i32>
    %y = qtrain.qconv2d %q[%sx, %zx], %w[%sw, %zw], %b -> [%sy, %zy] stride [2, 2] padding [1, 1, 1, 1] groups 1 activation "relu" : (tensor<2x3x5x5x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<6x3x3x3x!qtrain.q<si8, sym, axis 0>>, tensor<6xf32>, tensor<6xi32>, tensor<6xi32>, tensor<f32>, tensor<i32>) -> tensor<2x6x3x3x!qtrain.q<ui8, asym>>
    %s2 = qtrain.load @s2 : tensor<f32>
    %z2 = qtrain.load @z2 : tensor<i32>
    %r = qtrain.requantize %y[%sy, %zy] -> [%s2, %z2] : (tensor<2x6x3x3x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<2x6x3x3x!qtrain.q<si8, asym>>
    %fl = qtrain.flatten %r axis 1 : tensor<2x6x3x3x!qtrain.q<si8, asym>> -> tensor<2x54x!qtrain.q<si8, asym>>
    %fw = qtrain.load @fw : tensor<5x54x!qtrain.q<si8, sym, axis 0>>
    %sfw = qtrain.load @sfw : tensor<5xf32>
    %zfw = qtrain.load @zfw : tensor<5xi32>
    %fb = qtrain.load @fb : tensor<5xi32>
    %sf = qtrain.load @sf : tensor<f32>
    %zf = qtrain.load @zf : tensor<i32>
    %d = qtrain.qdense %fl[%s2, %z2], %fw[%sfw, %zfw], %fb -> [%sf, %zf] activation "none" : (tensor<2x54x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<5x54x!qtrain.q<si8, sym, axis 0>>, tensor<5xf32>, tensor<5xi32>, tensor<5xi32>, tensor<f32>, tensor<i32>) -> tensor<2x5x!qtrain.q<si8, asym>>
    %o = qtrain.dequantize %d, %sf, %zf : (tensor<2x5x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>) -> tensor<2x5xf32>
    func.return %o : tensor<2x5xf32>
  }}
}}
"""


def test_quantized_conv_dense_forward_bit_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    src = CONV_SRC.format(
        sx=scalar_f32(0.04), zx=scalar_i32(120),
        w=dense_int(rng.integers(-127, 128, size=(6, 3, 3, 3)), 8),
        sw=dense_f32(rng.uniform(0.005, 0.03, size=6).astype(np.float32)),
        b=dense_int(rng.integers(-3000, 3000, size=6), 32),
        sy=scalar_f32(0.05), zy=scalar_i32(7),
        s2=scalar_f32(0.08), z2=scalar_i32(-20),
        fw=dense_int(rng.integers(-127, 128, size=(5, 54)), 8),
        sfw=dense_f32(rng.uniform(0.002, 0.01, size=5).astype(np.float32)),
        fb=dense_int(rng.integers(-2000, 2000, size=5), 32),
        sf=scalar_f32(0.1), zf=scalar_i32(3),
    )
    inputs = [(rng.standard_normal((2, 3, 5, 5)) * s).astype(np.float32) for s in (0.5, 2.0, 4.0, 8.0, 20.0)]
    inputs[0][0, 0, 0, :3] = [0.0, np.float32(0.02), np.float32(-0.06)]  # rounding ties
    build_and_compare(src, (2, 3, 5, 5), (2, 5), tmp_path / "build", inputs)


DENSE_U8_SRC = """
builtin.module {{
  qtrain.state @sx : tensor<f32> = {sx}
  qtrain.state @zx : tensor<i32> = {zx}
  qtrain.param @w frozen : tensor<7x20x!qtrain.q<si8, sym>> = {w}
  qtrain.state @sw : tensor<f32> = {sw}
  qtrain.state @zw : tensor<i32> = dense<0> : tensor<i32>
  qtrain.param @b frozen : tensor<7xi32> = {b}
  qtrain.state @sy : tensor<f32> = {sy}
  qtrain.state @zy : tensor<i32> = {zy}
  func.func @forward(%x: tensor<3x20xf32>) -> tensor<3x7xf32> {{
    %sx = qtrain.load @sx : tensor<f32>
    %zx = qtrain.load @zx : tensor<i32>
    %q = qtrain.quantize %x, %sx, %zx : (tensor<3x20xf32>, tensor<f32>, tensor<i32>) -> tensor<3x20x!qtrain.q<ui8, asym>>
    %w = qtrain.load @w : tensor<7x20x!qtrain.q<si8, sym>>
    %sw = qtrain.load @sw : tensor<f32>
    %zw = qtrain.load @zw : tensor<i32>
    %b = qtrain.load @b : tensor<7xi32>
    %sy = qtrain.load @sy : tensor<f32>
    %zy = qtrain.load @zy : tensor<i32>
    %d = qtrain.qdense %q[%sx, %zx], %w[%sw, %zw], %b -> [%sy, %zy] activation "relu6" : (tensor<3x20x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<7x20x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<7xi32>, tensor<f32>, tensor<i32>) -> tensor<3x7x!qtrain.q<ui8, asym>>
    %o = qtrain.dequantize %d, %sy, %zy : (tensor<3x7x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>) -> tensor<3x7xf32>
    func.return %o : tensor<3x7xf32>
  }}
}}
"""


@pytest.fixture(scope="module")
def dense_u8_model(tmp_path_factory: pytest.TempPathFactory) -> HostModel:
    return _dense_u8(tmp_path_factory.mktemp("dense_u8"))


def test_quantized_dense_u8_bit_exact(dense_u8_model: HostModel) -> None:
    assert dense_u8_model is not None  # built and compared in the fixture


def _dense_u8(tmp_path: Path) -> HostModel:
    rng = np.random.default_rng(5)
    src = DENSE_U8_SRC.format(
        sx=scalar_f32(0.03), zx=scalar_i32(100),
        w=dense_int(rng.integers(-127, 128, size=(7, 20)), 8),
        sw=scalar_f32(0.01),
        b=dense_int(rng.integers(-1500, 1500, size=7), 32),
        sy=scalar_f32(0.04), zy=scalar_i32(30),
    )
    inputs = [(rng.standard_normal((3, 20)) * s).astype(np.float32) for s in (0.3, 1.0, 3.0, 10.0)]
    return build_and_compare(src, (3, 20), (3, 7), tmp_path / "build", inputs)


@pytest.mark.parametrize(
    "c, groups, kh, kw, o",
    [(3, 1, 3, 3, 6), (16, 16, 3, 3, 16), (256, 1, 3, 3, 64), (1024, 1, 5, 5, 8), (64, 2, 1, 7, 128)],
)
def test_conv_scratch_bytes_matches_c(dense_u8_model: HostModel, c: int, groups: int, kh: int, kw: int,
                                      o: int) -> None:
    """passes/bufferize.scratch_bytes == odtc_conv2d_q8_scratch_bytes (the C macro's value)."""
    lib = dense_u8_model.lib
    lib.odtc_conv2d_q8_scratch_bytes.restype = ctypes.c_size_t
    lib.odtc_conv2d_q8_scratch_bytes.argtypes = [ctypes.c_int32] * 5
    i = c // groups
    expected = int(lib.odtc_conv2d_q8_scratch_bytes(c, groups, kh, kw, o))
    src = f"""
builtin.module {{
  func.func @f(%x: tensor<1x{c}x8x8x!qtrain.q<si8, asym>>, %sx: tensor<f32>, %zx: tensor<i32>, %w: tensor<{o}x{i}x{kh}x{kw}x!qtrain.q<si8, sym>>, %sw: tensor<f32>, %zw: tensor<i32>, %sy: tensor<f32>, %zy: tensor<i32>) -> tensor<1x{o}x{9 - kh}x{9 - kw}x!qtrain.q<si8, asym>> {{
    %y = qtrain.qconv2d %x[%sx, %zx], %w[%sw, %zw] -> [%sy, %zy] stride [1, 1] padding [0, 0, 0, 0] groups {groups} activation "none" : (tensor<1x{c}x8x8x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<{o}x{i}x{kh}x{kw}x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<1x{o}x{9 - kh}x{9 - kw}x!qtrain.q<si8, asym>>
    func.return %y : tensor<1x{o}x{9 - kh}x{9 - kw}x!qtrain.q<si8, asym>>
  }}
}}
"""
    module = parse_module(src)
    fn = next(iter(module.ops))
    op = next(o for o in fn.body.block.ops if isinstance(o, qtrain.QConv2dOp))  # type: ignore[attr-defined]
    assert scratch_bytes(op) == expected


@pytest.mark.parametrize("k, o", [(20, 7), (1024, 10), (3, 300)])
def test_dense_scratch_bytes_matches_c(dense_u8_model: HostModel, k: int, o: int) -> None:
    lib = dense_u8_model.lib
    lib.odtc_dense_q8_scratch_bytes.restype = ctypes.c_size_t
    lib.odtc_dense_q8_scratch_bytes.argtypes = [ctypes.c_int32] * 2
    src = f"""
builtin.module {{
  func.func @f(%x: tensor<2x{k}x!qtrain.q<ui8, asym>>, %sx: tensor<f32>, %zx: tensor<i32>, %w: tensor<{o}x{k}x!qtrain.q<si8, sym>>, %sw: tensor<f32>, %zw: tensor<i32>, %sy: tensor<f32>, %zy: tensor<i32>) -> tensor<2x{o}x!qtrain.q<ui8, asym>> {{
    %y = qtrain.qdense %x[%sx, %zx], %w[%sw, %zw] -> [%sy, %zy] activation "none" : (tensor<2x{k}x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<{o}x{k}x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<2x{o}x!qtrain.q<ui8, asym>>
    func.return %y : tensor<2x{o}x!qtrain.q<ui8, asym>>
  }}
}}
"""
    fn = next(iter(parse_module(src).ops))
    op = next(o for o in fn.body.block.ops if isinstance(o, qtrain.QDenseOp))  # type: ignore[attr-defined]
    assert scratch_bytes(op) == int(lib.odtc_dense_q8_scratch_bytes(k, o))
