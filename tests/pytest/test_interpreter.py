"""odtc.runtime.interpreter: qtrain programs parsed from text, run on numpy state."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from xdsl.context import Context
from xdsl.dialects.builtin import Builtin, DenseIntOrFPElementsAttr, IntegerType, ModuleOp, Signedness, TensorType, f32
from xdsl.dialects.func import Func
from xdsl.parser import Parser
from xdsl.utils.exceptions import VerifyException

from odtc.dialects import qtrain as qt
from odtc.runtime import reference as ref
from odtc.runtime.interpreter import (
    InterpreterError,
    QTrainFunctions,
    init_state,
    run_function,
)


def parse(src: str, allow_unregistered: bool = False) -> ModuleOp:
    ctx = Context()
    ctx.allow_unregistered = allow_unregistered
    ctx.load_dialect(Builtin)
    ctx.load_dialect(Func)
    ctx.load_dialect(qt.QTrain)
    module = Parser(ctx, src).parse_module()
    module.verify()
    return module


def dense_f32(a: NDArray) -> str:
    """Print an f32 array through xDSL's dense attribute."""
    attr = DenseIntOrFPElementsAttr.from_list(TensorType(f32, list(a.shape)), a.ravel().tolist())
    return str(attr)


def dense_int(a: NDArray, width: int, signed: bool = True) -> str:
    sign = Signedness.SIGNLESS if signed else Signedness.UNSIGNED
    ty = TensorType(IntegerType(width, sign), list(a.shape))
    return str(DenseIntOrFPElementsAttr.from_list(ty, [int(v) for v in a.ravel()]))


def ttype(shape: tuple[int, ...], elt: str = "f32") -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + elt + ">"


def t64(a: NDArray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


# ---------------------------------------------------------------------------------------
# A small CNN
# ---------------------------------------------------------------------------------------


def make_cnn_params(seed: int = 0) -> dict[str, NDArray[np.float32]]:
    rng = np.random.default_rng(seed)

    def r(*shape: int, scale: float = 0.5) -> NDArray[np.float32]:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    return {
        "c1_w": r(4, 3, 3, 3),
        "c1_b": r(4),
        "bn_g": r(4) + 1,
        "bn_b": r(4),
        "bn_m": r(4),
        "bn_v": (rng.random(4) + 0.5).astype(np.float32),
        "dw_w": r(4, 1, 3, 3),
        "fc_w": r(10, 48),
        "fc_b": r(10),
    }


CNN_BODY = """
  func.func @forward(%x: tensor<2x3x8x8xf32>, %labels: tensor<2xi32>, %target: tensor<2x4xf32>)
      -> (tensor<2x10xf32>, tensor<f32>, tensor<f32>) {
    %w1 = qtrain.load @c1_w : tensor<4x3x3x3xf32>
    %b1 = qtrain.load @c1_b : tensor<4xf32>
    %c1 = qtrain.conv2d %x, %w1, %b1 stride [1, 1] padding [1, 0, 2, 1] groups 1 : (tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<2x4x9x7xf32>
    %g = qtrain.load @bn_g : tensor<4xf32>
    %be = qtrain.load @bn_b : tensor<4xf32>
    %m = qtrain.load @bn_m : tensor<4xf32>
    %v = qtrain.load @bn_v : tensor<4xf32>
    %bn = qtrain.batchnorm %c1, %g, %be, %m, %v epsilon 1.0e-03 : (tensor<2x4x9x7xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4x9x7xf32>
    %r1 = qtrain.relu %bn : tensor<2x4x9x7xf32>
    %p1 = qtrain.maxpool2d %r1 kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : tensor<2x4x9x7xf32> -> tensor<2x4x4x3xf32>
    %dw = qtrain.load @dw_w : tensor<4x1x3x3xf32>
    %c2 = qtrain.conv2d %p1, %dw stride [1, 1] padding [1, 1, 1, 1] groups 4 : (tensor<2x4x4x3xf32>, tensor<4x1x3x3xf32>) -> tensor<2x4x4x3xf32>
    %r2 = qtrain.relu6 %c2 : tensor<2x4x4x3xf32>
    %s = qtrain.add %r2, %p1 : tensor<2x4x4x3xf32>
    %a = qtrain.avgpool2d %s kernel [2, 2] stride [1, 1] padding [0, 0, 1, 1] : tensor<2x4x4x3xf32> -> tensor<2x4x4x3xf32>
    %f = qtrain.flatten %a axis 1 : tensor<2x4x4x3xf32> -> tensor<2x48xf32>
    %fw = qtrain.load @fc_w : tensor<10x48xf32>
    %fb = qtrain.load @fc_b : tensor<10xf32>
    %logits = qtrain.dense %f, %fw, %fb : (tensor<2x48xf32>, tensor<10x48xf32>, tensor<10xf32>) -> tensor<2x10xf32>
    %ce = qtrain.softmax_cross_entropy %logits, %labels : (tensor<2x10xf32>, tensor<2xi32>) -> tensor<f32>
    %gp = qtrain.global_avgpool %s : tensor<2x4x4x3xf32> -> tensor<2x4x1x1xf32>
    %gr = qtrain.reshape %gp : tensor<2x4x1x1xf32> -> tensor<2x4xf32>
    %mse = qtrain.mse %gr, %target : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<f32>
    func.return %logits, %ce, %mse : tensor<2x10xf32>, tensor<f32>, tensor<f32>
  }
"""


def cnn_module(params: dict[str, NDArray[np.float32]]) -> ModuleOp:
    decls = "\n".join(
        f"  qtrain.param @{k} {'frozen' if k.startswith('bn_') else 'trainable'} : {ttype(v.shape)} = {dense_f32(v)}"
        for k, v in params.items()
    )
    return parse("builtin.module {\n" + decls + "\n" + CNN_BODY + "}\n")


def cnn_inputs(seed: int = 1) -> tuple[NDArray, NDArray, NDArray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    labels = np.array([3, 7], np.int32)
    target = rng.standard_normal((2, 4)).astype(np.float32)
    return x, labels, target


def test_cnn_matches_reference_composition_and_torch() -> None:
    p = make_cnn_params()
    module = cnn_module(p)
    x, labels, target = cnn_inputs()
    state = init_state(module)
    for k, v in p.items():  # printed and parsed back exactly
        np.testing.assert_array_equal(state[k], v)
        assert state[k].dtype == np.float32
    logits, ce, mse = run_function(module, "forward", [x, labels, target])
    assert logits.dtype == ce.dtype == mse.dtype == np.float32
    assert logits.shape == (2, 10) and ce.shape == () and mse.shape == ()

    # Same program, composed directly from the reference functions.
    c1 = ref.conv2d(x, p["c1_w"], p["c1_b"], (1, 1), (1, 0, 2, 1), 1)
    bn = ref.batchnorm(c1, p["bn_g"], p["bn_b"], p["bn_m"], p["bn_v"], 1e-3)
    p1 = ref.maxpool2d(ref.relu(bn), (2, 2), (2, 2), (0, 0, 0, 0))
    s = ref.add(ref.relu6(ref.conv2d(p1, p["dw_w"], None, (1, 1), (1, 1, 1, 1), 4)), p1)
    a = ref.avgpool2d(s, (2, 2), (1, 1), (0, 0, 1, 1))
    lg = ref.dense(ref.flatten(a, 1), p["fc_w"], p["fc_b"])
    np.testing.assert_array_equal(logits, lg)
    np.testing.assert_array_equal(ce, ref.softmax_cross_entropy(lg, labels))
    np.testing.assert_array_equal(
        mse, ref.mse(ref.reshape(ref.global_avgpool(s), (2, 4)), target)
    )

    # And independently with torch (float64).
    tx = t64(x)
    tc1 = F.conv2d(F.pad(tx, (0, 1, 1, 2)), t64(p["c1_w"]), t64(p["c1_b"]))
    tbn = F.batch_norm(tc1, t64(p["bn_m"]), t64(p["bn_v"]), t64(p["bn_g"]), t64(p["bn_b"]), False, eps=1e-3)
    tp1 = F.max_pool2d(F.relu(tbn), 2, 2)
    ts = F.relu6(F.conv2d(tp1, t64(p["dw_w"]), padding=1, groups=4)) + tp1
    ta = F.avg_pool2d(F.pad(ts, (0, 1, 0, 1)), 2, 1, divisor_override=None)
    # exclude-pad divisor: 4 inside, 2 on the padded edge, 1 in the corner
    counts = F.avg_pool2d(F.pad(torch.ones_like(ts), (0, 1, 0, 1)), 2, 1)
    ta = ta / counts
    tl = F.linear(ta.flatten(1), t64(p["fc_w"]), t64(p["fc_b"]))
    tce = F.cross_entropy(tl, torch.from_numpy(labels.astype(np.int64)))
    tmse = F.mse_loss(F.adaptive_avg_pool2d(ts, 1).reshape(2, 4), t64(target))
    np.testing.assert_allclose(logits, tl.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ce, tce.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mse, tmse.numpy(), rtol=1e-5, atol=1e-6)


def test_run_function_checks_arguments() -> None:
    module = cnn_module(make_cnn_params())
    x, labels, target = cnn_inputs()
    with pytest.raises(InterpreterError, match="argument 0"):
        run_function(module, "forward", [x[:1], labels, target])
    with pytest.raises(InterpreterError, match="3 argument"):
        run_function(module, "forward", [x, labels])
    with pytest.raises(InterpreterError, match="integers"):
        run_function(module, "forward", [x, labels.astype(np.float32), target])
    with pytest.raises(InterpreterError, match="nope"):
        run_function(module, "nope", [x, labels, target])


# ---------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------

STORE_SRC = """
builtin.module {
  qtrain.state @acc : tensor<2x3xf32> = dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  qtrain.param @bias trainable : tensor<3xf32> = dense<0.5> : tensor<3xf32>
  qtrain.state @steps : tensor<i32> = dense<0> : tensor<i32>
  func.func @step(%x: tensor<2x3xf32>, %one: tensor<i32>) -> tensor<2x3xf32> {
    %old = qtrain.load @acc : tensor<2x3xf32>
    %new = qtrain.add %old, %x : tensor<2x3xf32>
    qtrain.store %new, @acc : tensor<2x3xf32>
    %b = qtrain.load @bias : tensor<3xf32>
    %b2 = qtrain.relu %b : tensor<3xf32>
    qtrain.store %b2, @bias : tensor<3xf32>
    func.return %old : tensor<2x3xf32>
  }
  func.func @counter(%c: tensor<i32>) -> tensor<i32> {
    %s = qtrain.load @steps : tensor<i32>
    qtrain.store %c, @steps : tensor<i32>
    func.return %s : tensor<i32>
  }
}
"""


def test_store_updates_state_in_place() -> None:
    module = parse(STORE_SRC)
    state = init_state(module)
    init = {k: v.copy() for k, v in state.items()}
    np.testing.assert_array_equal(state["bias"], np.full(3, 0.5, np.float32))  # splat broadcast
    assert state["steps"].shape == () and state["steps"].dtype == np.int32
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (r1,) = run_function(module, "step", [x, np.int32(1)], state)
    (r2,) = run_function(module, "step", [x, np.int32(1)], state)
    np.testing.assert_array_equal(r1, init["acc"])
    np.testing.assert_array_equal(r2, init["acc"] + x)
    np.testing.assert_array_equal(state["acc"], init["acc"] + 2 * x)
    assert state["acc"].dtype == np.float32
    # the returned value does not alias the state
    r2[...] = 0
    np.testing.assert_array_equal(state["acc"], init["acc"] + 2 * x)
    (old,) = run_function(module, "counter", [np.array(7, np.int32)], state)
    assert int(old) == 0 and int(state["steps"]) == 7
    # without a state dict, a fresh one is made and nothing leaks between runs
    (r,) = run_function(module, "step", [x, np.int32(1)])
    np.testing.assert_array_equal(r, init["acc"])


# ---------------------------------------------------------------------------------------
# npz initialisers
# ---------------------------------------------------------------------------------------


def npz_module(path: str, key: str, shape: tuple[int, ...] = (3, 4)) -> ModuleOp:
    return parse(
        f"""
builtin.module {{
  qtrain.param @fc_w frozen : {ttype(shape)} = #qtrain.npz<"{path}", "{key}">
  func.func @f(%x: tensor<2x{shape[1]}xf32>) -> tensor<2x{shape[0]}xf32> {{
    %w = qtrain.load @fc_w : {ttype(shape)}
    %y = qtrain.dense %x, %w : (tensor<2x{shape[1]}xf32>, {ttype(shape)}) -> tensor<2x{shape[0]}xf32>
    func.return %y : tensor<2x{shape[0]}xf32>
  }}
}}
"""
    )


def test_npz_initialised_param(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    np.savez(tmp_path / "w.npz", fc_w=w, other=np.zeros(2))
    module = npz_module("w.npz", "fc_w")
    state = init_state(module, tmp_path)
    np.testing.assert_array_equal(state["fc_w"], w)
    x = rng.standard_normal((2, 4)).astype(np.float32)
    (y,) = run_function(module, "f", [x], base_dir=tmp_path)
    np.testing.assert_allclose(y, F.linear(t64(x), t64(w)).numpy(), rtol=1e-6, atol=1e-7)


def test_npz_errors_name_the_symbol(tmp_path: Path) -> None:
    np.savez(tmp_path / "w.npz", fc_w=np.zeros((3, 4), np.float32), small=np.zeros((2, 2), np.float32))
    with pytest.raises(InterpreterError, match=r"@fc_w.*'missing'.*fc_w, small"):
        init_state(npz_module("w.npz", "missing"), tmp_path)
    with pytest.raises(InterpreterError, match=r"@fc_w.*not found"):
        init_state(npz_module("absent.npz", "fc_w"), tmp_path)
    with pytest.raises(InterpreterError, match=r"@fc_w.*shape \[2, 2\]"):
        init_state(npz_module("w.npz", "small"), tmp_path)
    with pytest.raises(InterpreterError, match=r"@fc_w"):
        run_function(npz_module("w.npz", "missing"), "f", [np.zeros((2, 4), np.float32)], base_dir=tmp_path)


# ---------------------------------------------------------------------------------------
# Unsupported ops
# ---------------------------------------------------------------------------------------


def test_unsupported_op_is_reported_before_running() -> None:
    module = parse(
        """
builtin.module {
  qtrain.state @s : tensor<2xf32> = dense<1.0> : tensor<2xf32>
  func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
    qtrain.store %x, @s : tensor<2xf32>
    %y = "foo.bar"(%x) : (tensor<2xf32>) -> tensor<2xf32>
    func.return %y : tensor<2xf32>
  }
  func.func @g(%x: tensor<2xf32>) -> tensor<2xf32> {
    %y = func.call @f(%x) : (tensor<2xf32>) -> tensor<2xf32>
    func.return %y : tensor<2xf32>
  }
}
""",
        allow_unregistered=True,
    )
    state = init_state(module)
    for name in ("f", "g"):
        with pytest.raises(InterpreterError, match=r"foo\.bar"):
            run_function(module, name, [np.zeros(2, np.float32)], state)
    np.testing.assert_array_equal(state["s"], np.ones(2, np.float32))


def test_func_call_runs() -> None:
    module = parse(
        """
builtin.module {
  func.func @inner(%x: tensor<3xf32>) -> tensor<3xf32> {
    %y = qtrain.relu6 %x : tensor<3xf32>
    func.return %y : tensor<3xf32>
  }
  func.func @outer(%x: tensor<3xf32>) -> tensor<3xf32> {
    %y = func.call @inner(%x) : (tensor<3xf32>) -> tensor<3xf32>
    %z = qtrain.add %y, %x : tensor<3xf32>
    func.return %z : tensor<3xf32>
  }
}
"""
    )
    x = np.array([-1.0, 3.0, 9.0], np.float32)
    (z,) = run_function(module, "outer", [x])
    np.testing.assert_array_equal(z, [-1.0, 6.0, 15.0])


def test_every_inference_qtrain_op_has_an_implementation() -> None:
    from odtc.runtime.interpreter_vae import VaeFunctions

    implemented = {t for f in (QTrainFunctions, VaeFunctions) for t, _ in f._impls()}  # pyright: ignore[reportPrivateUsage]
    expected = {qt.LoadOp, qt.StoreOp, *qt.FORWARD_OPS, *qt.LOSS_OPS, *qt.QUANT_OPS, *qt.BACKWARD_OPS,
                *qt.VAE_QUANT_OPS}
    assert expected <= implemented, expected - implemented


# ---------------------------------------------------------------------------------------
# Quantized programs
# ---------------------------------------------------------------------------------------


def test_quantized_pipeline_matches_reference() -> None:
    rng = np.random.default_rng(4)
    wq = rng.integers(-127, 128, size=(4, 3, 3, 3))
    sw = rng.uniform(0.005, 0.02, size=4).astype(np.float32)
    bias = rng.integers(-500, 500, size=4)
    fw = rng.integers(-127, 128, size=(5, 64))
    fb = rng.integers(-500, 500, size=5)
    sx, sy, s2, sf = (np.float32(v) for v in (0.03, 0.05, 0.07, 0.2))
    src = f"""
builtin.module {{
  qtrain.param @w frozen : tensor<4x3x3x3x!qtrain.q<si8, sym, axis 0>> = {dense_int(wq, 8)}
  qtrain.state @sw : tensor<4xf32> = {dense_f32(sw)}
  qtrain.state @zw : tensor<4xi32> = dense<0> : tensor<4xi32>
  qtrain.param @b trainable : tensor<4xi32> = {dense_int(bias, 32)}
  qtrain.param @fw frozen : tensor<5x64x!qtrain.q<si8, sym>> = {dense_int(fw, 8)}
  qtrain.param @fb frozen : tensor<5xi32> = {dense_int(fb, 32)}
  qtrain.state @sx : tensor<f32> = dense<{float(sx)!r}> : tensor<f32>
  qtrain.state @zx : tensor<i32> = dense<3> : tensor<i32>
  qtrain.state @sy : tensor<f32> = dense<{float(sy)!r}> : tensor<f32>
  qtrain.state @zy : tensor<i32> = dense<-10> : tensor<i32>
  qtrain.state @s2 : tensor<f32> = dense<{float(s2)!r}> : tensor<f32>
  qtrain.state @z2 : tensor<i32> = dense<128> : tensor<i32>
  qtrain.state @sfw : tensor<f32> = dense<0.01> : tensor<f32>
  qtrain.state @zfw : tensor<i32> = dense<0> : tensor<i32>
  qtrain.state @sf : tensor<f32> = dense<{float(sf)!r}> : tensor<f32>
  qtrain.state @zf : tensor<i32> = dense<5> : tensor<i32>
  func.func @f(%x: tensor<1x3x4x4xf32>) -> (tensor<1x4x4x4x!qtrain.q<si8, asym>>, tensor<1x4x4x4x!qtrain.q<ui8, asym>>, tensor<1x5xf32>) {{
    %sx = qtrain.load @sx : tensor<f32>
    %zx = qtrain.load @zx : tensor<i32>
    %q = qtrain.quantize %x, %sx, %zx : (tensor<1x3x4x4xf32>, tensor<f32>, tensor<i32>) -> tensor<1x3x4x4x!qtrain.q<si8, asym>>
    %w = qtrain.load @w : tensor<4x3x3x3x!qtrain.q<si8, sym, axis 0>>
    %sw = qtrain.load @sw : tensor<4xf32>
    %zw = qtrain.load @zw : tensor<4xi32>
    %b = qtrain.load @b : tensor<4xi32>
    %sy = qtrain.load @sy : tensor<f32>
    %zy = qtrain.load @zy : tensor<i32>
    %y = qtrain.qconv2d %q[%sx, %zx], %w[%sw, %zw], %b -> [%sy, %zy] stride [1, 1] padding [1, 1, 1, 1] groups 1 activation "relu" : (tensor<1x3x4x4x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<4x3x3x3x!qtrain.q<si8, sym, axis 0>>, tensor<4xf32>, tensor<4xi32>, tensor<4xi32>, tensor<f32>, tensor<i32>) -> tensor<1x4x4x4x!qtrain.q<si8, asym>>
    %s2 = qtrain.load @s2 : tensor<f32>
    %z2 = qtrain.load @z2 : tensor<i32>
    %r = qtrain.requantize %y[%sy, %zy] -> [%s2, %z2] : (tensor<1x4x4x4x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<1x4x4x4x!qtrain.q<ui8, asym>>
    %fl = qtrain.flatten %y axis 1 : tensor<1x4x4x4x!qtrain.q<si8, asym>> -> tensor<1x64x!qtrain.q<si8, asym>>
    %fw = qtrain.load @fw : tensor<5x64x!qtrain.q<si8, sym>>
    %sfw = qtrain.load @sfw : tensor<f32>
    %zfw = qtrain.load @zfw : tensor<i32>
    %fb = qtrain.load @fb : tensor<5xi32>
    %sf = qtrain.load @sf : tensor<f32>
    %zf = qtrain.load @zf : tensor<i32>
    %d = qtrain.qdense %fl[%sy, %zy], %fw[%sfw, %zfw], %fb -> [%sf, %zf] activation "none" : (tensor<1x64x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<5x64x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<5xi32>, tensor<f32>, tensor<i32>) -> tensor<1x5x!qtrain.q<si8, asym>>
    %o = qtrain.dequantize %d, %sf, %zf : (tensor<1x5x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>) -> tensor<1x5xf32>
    func.return %y, %r, %o : tensor<1x4x4x4x!qtrain.q<si8, asym>>, tensor<1x4x4x4x!qtrain.q<ui8, asym>>, tensor<1x5xf32>
  }}
}}
"""
    module = parse(src)
    state = init_state(module)
    assert state["w"].dtype == np.int32 and state["b"].dtype == np.int32
    np.testing.assert_array_equal(state["w"], wq)
    x = (rng.standard_normal((1, 3, 4, 4)) * 2).astype(np.float32)
    y, r, o = run_function(module, "f", [x], state)
    assert y.dtype == r.dtype == np.int32 and o.dtype == np.float32

    q = ref.quantize(x, sx, 3, -128, 127)
    ey = ref.qconv2d(q, sx, 3, wq, sw, np.zeros(4), bias, sy, -10, (1, 1), (1, 1, 1, 1), 1, "relu", -128, 127)
    er = ref.requantize(ey, sy, -10, s2, 128, 0, 255)
    ed = ref.qdense(ey.reshape(1, 64), sy, -10, fw, np.float32(0.01), 0, fb, sf, 5, "none", -128, 127)
    np.testing.assert_array_equal(y, ey)
    np.testing.assert_array_equal(r, er)
    np.testing.assert_array_equal(o, ref.dequantize(ed, sf, 5))
    assert y.min() >= -10  # relu in the quantized domain
    assert r.min() >= 0 and r.max() <= 255
    # the quantized conv tracks the float conv of the dequantized operands
    xr = float(sx) * (q.astype(np.float64) - 3)
    wr = sw.astype(np.float64)[:, None, None, None] * wq
    real = F.relu(F.conv2d(t64(xr), t64(wr), t64(float(sx) * sw.astype(np.float64) * bias), padding=1))
    expected = np.clip(np.rint(real.numpy() / float(sy)) - 10, -128, 127)
    assert np.abs(y - expected).max() <= 1


@pytest.mark.parametrize(
    ("qtype", "qmin", "qmax"),
    [("ui8, asym", 0, 255), ("si8, asym", -128, 127), ("si16, sym", -32768, 32767)],
)
def test_quantize_dequantize_per_channel_in_interpreter(qtype: str, qmin: int, qmax: int) -> None:
    rng = np.random.default_rng(qmax)
    scale = rng.uniform(0.01, 0.03, size=3).astype(np.float32)
    zp = np.array([0, 2, 5] if qmin == 0 else [0, -2, 5], np.int32)
    qt_str = f"tensor<2x3x4x!qtrain.q<{qtype}, axis 1>>"
    module = parse(
        f"""
builtin.module {{
  qtrain.state @s : tensor<3xf32> = {dense_f32(scale)}
  qtrain.state @z : tensor<3xi32> = {dense_int(zp, 32)}
  func.func @f(%x: tensor<2x3x4xf32>) -> ({qt_str}, tensor<2x3x4xf32>) {{
    %s = qtrain.load @s : tensor<3xf32>
    %z = qtrain.load @z : tensor<3xi32>
    %q = qtrain.quantize %x, %s, %z : (tensor<2x3x4xf32>, tensor<3xf32>, tensor<3xi32>) -> {qt_str}
    %d = qtrain.dequantize %q, %s, %z : ({qt_str}, tensor<3xf32>, tensor<3xi32>) -> tensor<2x3x4xf32>
    func.return %q, %d : {qt_str}, tensor<2x3x4xf32>
  }}
}}
"""
    )
    x = (rng.standard_normal((2, 3, 4)) * 3).astype(np.float32)
    x[0, 0, 0], x[1, 2, 3] = 1e6, -1e6
    q, d = run_function(module, "f", [x])
    assert q.dtype == np.int32
    np.testing.assert_array_equal(q, ref.quantize(x, scale, zp, qmin, qmax, axis=1))
    np.testing.assert_array_equal(d, ref.dequantize(q, scale, zp, axis=1))
    assert q[0, 0, 0] == qmax and q[1, 2, 3] == qmin


def test_quantized_symbol_initialisers() -> None:
    module = parse(
        """
builtin.module {
  qtrain.param @a trainable : tensor<3x!qtrain.q<ui8, asym>> = dense<[-56, 3, -1]> : tensor<3xi8>
  qtrain.param @b frozen : tensor<2x!qtrain.q<ui8, asym>> = dense<[200, 3]> : tensor<2xui8>
  qtrain.param @c frozen : tensor<2x2x!qtrain.q<si8, sym>> = dense<-7> : tensor<2x2xi8>
}
"""
    )
    state = init_state(module)
    # a signless initialiser of the storage width is a bit pattern: i8 -56 is ui8 200
    np.testing.assert_array_equal(state["a"], [200, 3, 255])
    np.testing.assert_array_equal(state["b"], [200, 3])
    np.testing.assert_array_equal(state["c"], np.full((2, 2), -7))
    assert all(v.dtype == np.int32 for v in state.values())
    # The verifier rejects float or out-of-range initial values for quantized symbols; the
    # interpreter checks again for modules built without verification.
    with pytest.raises(VerifyException, match="must be integers"):
        parse(
            """
builtin.module {
  qtrain.param @q frozen : tensor<2x!qtrain.q<si8, sym>> = dense<[1.5, 2.0]> : tensor<2xf32>
}
"""
        )
    with pytest.raises(VerifyException, match="outside the storage range"):
        parse(
            """
builtin.module {
  qtrain.param @q frozen : tensor<2x!qtrain.q<si8, sym>> = dense<[1, 300]> : tensor<2xi32>
}
"""
        )
    unverified = qt.ParamOp(
        "q",
        TensorType(qt.QuantType(IntegerType(8, Signedness.SIGNED), True), [2]),
        DenseIntOrFPElementsAttr.from_list(TensorType(IntegerType(32), [2]), [1, 300]),
        trainable=False,
    )
    with pytest.raises(InterpreterError, match=r"@q.*outside"):
        init_state(ModuleOp([unverified]))


def test_runtime_error_in_op_propagates() -> None:
    module = parse(
        """
builtin.module {
  func.func @f(%l: tensor<1x3xf32>, %y: tensor<1xi32>) -> tensor<f32> {
    %c = qtrain.softmax_cross_entropy %l, %y : (tensor<1x3xf32>, tensor<1xi32>) -> tensor<f32>
    func.return %c : tensor<f32>
  }
}
"""
    )
    (ok,) = run_function(module, "f", [np.zeros((1, 3), np.float32), np.array([1], np.int32)])
    assert math.isclose(float(ok), math.log(3), rel_tol=1e-6)
    with pytest.raises(ValueError, match="labels"):
        run_function(module, "f", [np.zeros((1, 3), np.float32), np.array([3], np.int32)])
