"""odtc.runtime.fqt (fully quantized training) against independent oracles.

None of the oracles calls odtc code:

* integer layers (forward accumulators, grad-input, grad-weight): torch in float64 on the
  offset integers (x - zx), (w - zw), (e - ze) -- F.conv2d / F.linear forward, and
  torch.autograd of them for the backward. Every partial sum is an integer far below 2^53,
  so torch-f64 is exact and the comparison is equality of int32 tensors.
* f32 arithmetic: single IEEE f32 operations written out one by one, either with numpy
  float32 *scalars* or with Python floats rounded through `struct` (`f32` below): an f64
  +, -, *, / or sqrt of f32 operands rounded once to f32 is the correctly rounded f32
  result (53 >= 2*24 + 2), so both give the bits a C loop computes.
* rounding: exact `Fraction` arithmetic (requantize_acc, round-half-away-from-zero),
  Python's `round` (ties to even, bias quantization), a pure-Python lowbias32 hash on
  Python ints for the stochastic-rounding stream.
* quantization parameters: brute force over all 256 grid points of the derived (s, z).
* partial updates: the paper's formula for k in Python floats, and a repeated-argmax
  selection with an explicit magnitude loop for top-k.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from odtc.runtime import fqt

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
U8 = (0, 255)
S8 = (-128, 127)
MASK32 = 0xFFFFFFFF


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The tensors are tiny: torch's thread pool only adds overhead (and contention)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def f32(x: float) -> float:
    """Round a Python float to the nearest f32 (ties to even), returned as a Python float."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def t64(a: NDArray | Sequence[float]) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64))


def exact_int(t: torch.Tensor | None) -> NDArray[np.int64]:
    """A float64 torch result that must hold integers -> int64 (asserting it does)."""
    assert t is not None
    a = t.detach().numpy()
    assert np.all(a == np.rint(a)), "oracle result is not integral"
    assert np.all(np.abs(a) < 2.0**53)
    return a.astype(np.int64)


def assert_int32(actual: NDArray, expected: NDArray) -> None:
    assert actual.dtype == np.int32, actual.dtype
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_array_equal(actual.astype(np.int64), expected.astype(np.int64))


def rand_q(rng: np.random.Generator, shape: Sequence[int], storage: tuple[int, int]) -> NDArray[Any]:
    """Stored 8-bit values (int8 or uint8 array) over the whole storage range."""
    lo, hi = storage
    dtype = np.uint8 if lo == 0 else np.int8
    return rng.integers(lo, hi + 1, size=tuple(shape)).astype(dtype)


def rand_zp(rng: np.random.Generator, storage: tuple[int, int]) -> int:
    lo, hi = storage
    return int(rng.integers(lo + 20, hi - 20))


def torch_pad(x: torch.Tensor, pads: Sequence[int]) -> torch.Tensor:
    """odtc padding [top, left, bottom, right] -> F.pad (left, right, top, bottom), zeros."""
    t, l, b, r = pads
    return F.pad(x, (l, r, t, b))


def selection(rng: np.random.Generator, o: int, k: int) -> tuple[NDArray[np.int32], NDArray[np.int32], list[int]]:
    """idx [O] (first k = increasing selected rows, rest -1), k (rank 0) and the row list."""
    rows = sorted(int(r) for r in rng.choice(o, size=k, replace=False))
    idx = np.full(o, -1, dtype=np.int32)
    idx[:k] = rows
    return idx, np.array(k, dtype=np.int32), rows


def compact(full: NDArray[np.int64], rows: list[int]) -> NDArray[np.int64]:
    """Compact gradient layout: row r = structure rows[r], rows >= len(rows) zero."""
    out = np.zeros_like(full)
    for r, row in enumerate(rows):
        out[r] = full[row]
    return out


def bias_oracle(b: NDArray[np.float32], s: float) -> NDArray[np.int64]:
    """rint(f32(b / s)) with ties to even (Python round), clamped to int32."""
    out = []
    for v in b.reshape(-1):
        q = f32(float(v) / float(np.float32(s)))
        out.append(min(max(round(q), INT32_MIN), INT32_MAX))
    return np.array(out, dtype=np.int64)


# ---------------------------------------------------------------------------------------
# Integer layers: forward accumulators
# ---------------------------------------------------------------------------------------

CONV_CASES = [
    # (N, C, H, W, O, KH, KW, stride, padding [t, l, b, r], groups, x storage, w storage)
    (1, 3, 7, 7, 4, 3, 3, (1, 1), (0, 0, 0, 0), 1, U8, S8),
    (2, 4, 8, 9, 6, 3, 3, (2, 2), (1, 1, 1, 1), 2, U8, S8),  # grouped, strided, padded
    (2, 6, 7, 7, 6, 3, 3, (1, 1), (1, 1, 1, 1), 6, S8, S8),  # depthwise
    (1, 5, 8, 8, 5, 3, 3, (2, 2), (0, 1, 1, 0), 5, U8, U8),  # depthwise, asymmetric, floor-mode leftovers
    (3, 5, 6, 5, 7, 1, 1, (2, 2), (0, 0, 0, 0), 1, S8, S8),  # pointwise, stride 2
    (2, 4, 9, 6, 8, 3, 2, (2, 1), (1, 0, 2, 1), 4, U8, S8),  # depthwise x2, non-square kernel
]


def conv_case_data(case, seed: int):
    n, c, h, w, o, kh, kw, stride, pads, groups, xs, ws = case
    rng = np.random.default_rng(seed)
    x = rand_q(rng, (n, c, h, w), xs)
    wt = rand_q(rng, (o, c // groups, kh, kw), ws)
    zx, zw = rand_zp(rng, xs), rand_zp(rng, ws)
    return rng, x, zx, wt, zw


@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("case", CONV_CASES)
def test_qconv2d_acc_vs_torch(case, with_bias: bool) -> None:
    rng, x, zx, w, zw = conv_case_data(case, 1)
    stride, pads, groups = case[7], case[8], case[9]
    o = w.shape[0]
    xo = torch_pad(t64(x.astype(np.int64) - zx), pads)
    expected = exact_int(F.conv2d(xo, t64(w.astype(np.int64) - zw), stride=stride, groups=groups))
    bias, s = None, np.float32(1.0)
    if with_bias:
        bias = (rng.standard_normal(o) * 2.0).astype(np.float32)
        s = np.float32(rng.uniform(1e-4, 1e-2))
        expected = expected + bias_oracle(bias, float(s)).reshape(1, o, 1, 1)
    got = fqt.qconv2d_acc(x, np.array(zx, dtype=np.int32), w, np.array(zw, dtype=np.int32), bias, s,
                          stride, pads, groups)
    assert_int32(got, expected)


DENSE_CASES = [(1, 7, 3, U8, S8), (4, 32, 10, S8, S8), (3, 16, 5, U8, U8)]


@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("case", DENSE_CASES)
def test_qdense_acc_vs_torch(case, with_bias: bool) -> None:
    n, k, o, xs, ws = case
    rng = np.random.default_rng(2)
    x, w = rand_q(rng, (n, k), xs), rand_q(rng, (o, k), ws)
    zx, zw = rand_zp(rng, xs), rand_zp(rng, ws)
    expected = exact_int(F.linear(t64(x.astype(np.int64) - zx), t64(w.astype(np.int64) - zw)))
    bias, s = None, 1.0
    if with_bias:
        bias = (rng.standard_normal(o) * 3.0).astype(np.float32)
        s = float(np.float32(rng.uniform(1e-4, 1e-2)))
        expected = expected + bias_oracle(bias, s).reshape(1, o)
    got = fqt.qdense_acc(x, zx, w, zw, bias, np.float32(s))
    assert_int32(got, expected)


def test_bias_quantization_ties_to_even() -> None:
    """rint(b / s) rounds halves to even: with x == zx the accumulator is the bias alone."""
    s = np.float32(0.25)  # b / s exact: ties are real ties
    b = np.array([0.625, 0.875, -0.625, 0.125, -0.375, 0.375, -0.125, 1.0], dtype=np.float32)
    expected = np.array([[2, 4, -2, 0, -2, 2, 0, 4]])  # 2.5 3.5 -2.5 0.5 -1.5 1.5 -0.5 4
    x = np.full((1, 3), 5, dtype=np.int8)
    w = np.ones((8, 3), dtype=np.int8)
    assert_int32(fqt.qdense_acc(x, 5, w, 0, b, s), expected)
    assert [round(v / 0.25) for v in b.tolist()] == expected[0].tolist()  # the oracle agrees
    # conv: same rule, per output channel
    xc = np.full((1, 2, 3, 3), -7, dtype=np.int8)
    wc = np.ones((8, 2, 2, 2), dtype=np.int8)
    got = fqt.qconv2d_acc(xc, -7, wc, 0, b, s)
    assert_int32(got, np.broadcast_to(expected.reshape(1, 8, 1, 1), (1, 8, 2, 2)))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_bias_quantization_clamps_and_overflow_is_reported() -> None:
    x = np.zeros((1, 2), dtype=np.int8)
    w = np.zeros((2, 2), dtype=np.int8)
    b = np.array([1e30, -1e30], dtype=np.float32)
    assert_int32(fqt.qdense_acc(x, 0, w, 0, b, np.float32(1e-10)), np.array([[INT32_MAX, INT32_MIN]]))
    # the clamped bias plus a positive product leaves int32: reported, not wrapped
    with pytest.raises(OverflowError):
        fqt.qdense_acc(np.ones((1, 2), dtype=np.int8), 0, np.ones((2, 2), dtype=np.int8), 0, b, np.float32(1e-10))


# ---------------------------------------------------------------------------------------
# Integer layers: backward (torch.autograd on float64 offset integers)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CONV_CASES)
def test_qconv2d_grad_input_vs_autograd(case) -> None:
    rng, x, _, w, zw = conv_case_data(case, 3)
    stride, pads, groups = case[7], case[8], case[9]
    xt = torch.zeros(x.shape, dtype=torch.float64, requires_grad=True)
    y = F.conv2d(torch_pad(xt, pads), t64(w.astype(np.int64) - zw), stride=stride, groups=groups)
    es = (-128, 127)
    e = rand_q(rng, tuple(y.shape), es)
    ze = rand_zp(rng, es)
    y.backward(t64(e.astype(np.int64) - ze))
    expected = exact_int(xt.grad)
    got = fqt.qconv2d_grad_input(e, ze, w, zw, x.shape, stride, pads, groups)
    assert_int32(got, expected)


@pytest.mark.parametrize("select", [None, "some", "all"])
@pytest.mark.parametrize("case", CONV_CASES)
def test_qconv2d_grad_weight_vs_autograd(case, select: str | None) -> None:
    rng, x, zx, w, _ = conv_case_data(case, 4)
    stride, pads, groups = case[7], case[8], case[9]
    o = w.shape[0]
    wt = torch.zeros(w.shape, dtype=torch.float64, requires_grad=True)
    y = F.conv2d(torch_pad(t64(x.astype(np.int64) - zx), pads), wt, stride=stride, groups=groups)
    es = (-128, 127)
    e = rand_q(rng, tuple(y.shape), es)
    ze = rand_zp(rng, es)
    y.backward(t64(e.astype(np.int64) - ze))
    full = exact_int(wt.grad)
    if select is None:
        got = fqt.qconv2d_grad_weight(x, zx, e, ze, w.shape, stride, pads, groups)
        assert_int32(got, full)
        return
    k = max(1, o // 2) if select == "some" else o
    idx, kk, rows = selection(rng, o, k)
    got = fqt.qconv2d_grad_weight(x, zx, e, ze, w.shape, stride, pads, groups, idx, kk)
    expected = compact(full, rows)
    assert_int32(got, expected)
    assert not got[k:].any()


@pytest.mark.parametrize("case", DENSE_CASES)
def test_qdense_grad_input_vs_autograd(case) -> None:
    n, k, o, xs, ws = case
    rng = np.random.default_rng(5)
    w = rand_q(rng, (o, k), ws)
    zw = rand_zp(rng, ws)
    e = rand_q(rng, (n, o), S8)
    ze = rand_zp(rng, S8)
    xt = torch.zeros((n, k), dtype=torch.float64, requires_grad=True)
    F.linear(xt, t64(w.astype(np.int64) - zw)).backward(t64(e.astype(np.int64) - ze))
    assert_int32(fqt.qdense_grad_input(e, ze, w, zw), exact_int(xt.grad))


@pytest.mark.parametrize("select", [None, "some", "all"])
@pytest.mark.parametrize("case", DENSE_CASES)
def test_qdense_grad_weight_vs_autograd(case, select: str | None) -> None:
    n, k, o, xs, _ = case
    rng = np.random.default_rng(6)
    x = rand_q(rng, (n, k), xs)
    zx = rand_zp(rng, xs)
    e = rand_q(rng, (n, o), S8)
    ze = rand_zp(rng, S8)
    wt = torch.zeros((o, k), dtype=torch.float64, requires_grad=True)
    F.linear(t64(x.astype(np.int64) - zx), wt).backward(t64(e.astype(np.int64) - ze))
    full = exact_int(wt.grad)
    if select is None:
        assert_int32(fqt.qdense_grad_weight(x, zx, e, ze), full)
        return
    kk_ = max(1, o // 2) if select == "some" else o
    idx, kk, rows = selection(rng, o, kk_)
    got = fqt.qdense_grad_weight(x, zx, e, ze, idx, kk)
    assert_int32(got, compact(full, rows))


def test_selection_must_be_increasing() -> None:
    x = np.zeros((2, 3), dtype=np.int8)
    e = np.zeros((2, 4), dtype=np.int8)
    with pytest.raises(ValueError):
        fqt.qdense_grad_weight(x, 0, e, 0, np.array([2, 1, -1, -1], dtype=np.int32), np.array(2))
    with pytest.raises(ValueError):
        fqt.qdense_grad_weight(x, 0, e, 0, np.array([0, 4, -1, -1], dtype=np.int32), np.array(2))


def test_relu_acc_and_qrelu_grad_vs_loops() -> None:
    rng = np.random.default_rng(7)
    acc = rng.integers(-1000, 1000, size=(3, 5)).astype(np.int32)
    got = fqt.relu_acc(acc)
    assert got.dtype == np.int32
    assert got.tolist() == [[v if v > 0 else 0 for v in row] for row in acc.tolist()]
    e = rand_q(rng, (4, 6), S8)
    y = rand_q(rng, (4, 6), U8)
    ze, zy = 3, 100
    got = fqt.qrelu_grad(e, ze, y, zy)
    expected = [[ev if yv > zy else ze for ev, yv in zip(er, yr)] for er, yr in zip(e.tolist(), y.tolist())]
    assert got.dtype == np.int32
    assert got.tolist() == expected


# ---------------------------------------------------------------------------------------
# requantize_acc vs exact rational rounding
# ---------------------------------------------------------------------------------------


def round_half_away(v: Fraction) -> int:
    r = math.floor(abs(v) + Fraction(1, 2))
    return r if v >= 0 else -r


def requantize_oracle(acc: NDArray, sa: float, s: float, z: int, qmin: int, qmax: int):
    """(exact result, is-safe mask): clamp(z + round_half_away(acc * M)), M = f32(sa / s).

    The fixed-point path rounds twice (high multiply, then the right shift by `right`),
    so it is guaranteed to agree only when acc * M is farther than 2^-(right+1) from a
    half-integer (right = 0: when it is not a tie)."""
    m32 = f32(float(np.float32(sa)) / float(np.float32(s)))
    mf = Fraction(m32)
    right = max(-math.frexp(m32)[1], 0)
    margin = Fraction(1, 2 ** (right + 1)) if right > 0 else Fraction(0)
    out, safe = [], []
    for a in acc.reshape(-1).tolist():
        v = Fraction(a) * mf
        out.append(min(max(z + round_half_away(v), qmin), qmax))
        dist = abs(abs(v) - math.floor(abs(v)) - Fraction(1, 2))
        safe.append(dist > margin)
    return np.array(out).reshape(acc.shape), np.array(safe).reshape(acc.shape)


@pytest.mark.parametrize("storage", [U8, S8])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_requantize_acc_vs_exact_rounding(storage, seed: int) -> None:
    rng = np.random.default_rng(10 + seed)
    qmin, qmax = storage
    sa = float(np.float32(rng.uniform(1e-5, 1e-3)))
    s = float(np.float32(rng.uniform(0.01, 0.2)))
    z = rand_zp(rng, storage)
    # mostly within the output range, some far outside (clamped)
    span = (qmax - qmin) * s / sa
    acc = np.concatenate([rng.integers(int(-span), int(span), size=400), rng.integers(-2**31, 2**31 - 1, size=40)])
    acc = acc.astype(np.int32)
    expected, safe = requantize_oracle(acc, sa, s, z, qmin, qmax)
    got = fqt.requantize_acc(acc, np.float32(sa), np.float32(s), np.int32(z), qmin, qmax)
    assert got.dtype == np.int32
    assert np.abs(got.astype(np.int64) - expected).max() <= 1
    np.testing.assert_array_equal(got[safe], expected[safe])
    assert safe.mean() > 0.9


def test_requantize_acc_ties_and_large_multiplier() -> None:
    # M = 0.5 exactly: every odd accumulator is a tie; the fixed point may round it either way
    acc = np.arange(-41, 42, dtype=np.int32)
    expected, safe = requantize_oracle(acc, 0.5, 1.0, 0, -128, 127)
    got = fqt.requantize_acc(acc, np.float32(0.5), np.float32(1.0), np.int32(0), -128, 127)
    assert np.abs(got.astype(np.int64) - expected).max() <= 1
    np.testing.assert_array_equal(got[safe], expected[safe])
    np.testing.assert_array_equal(got[acc % 2 == 0], acc[acc % 2 == 0] // 2)
    # M >= 1 (left shift): 3 * acc, exact
    acc = np.arange(-40, 41, dtype=np.int32)
    got = fqt.requantize_acc(acc, np.float32(3.0), np.float32(1.0), np.int32(5), -128, 127)
    np.testing.assert_array_equal(got, np.clip(3 * acc.astype(np.int64) + 5, -128, 127))


# ---------------------------------------------------------------------------------------
# Scalars and ranges
# ---------------------------------------------------------------------------------------


def test_scale_mul_running_max() -> None:
    rng = np.random.default_rng(20)
    for _ in range(50):
        a, b = np.float32(rng.uniform(1e-4, 1)), np.float32(rng.uniform(1e-4, 1))
        got = fqt.scale_mul(a, b)
        assert got.shape == () and got.dtype == np.float32
        assert float(got) == f32(float(a) * float(b))
    assert float(fqt.running_max(np.float32(2.0), np.float32(-3.5))) == 3.5
    assert float(fqt.running_max(np.float32(2.0), np.float32(1.5))) == 2.0
    assert float(fqt.running_max(np.float32(0.0), np.float32(-0.25))) == 0.25


def test_minmax_f32_and_accumulator() -> None:
    rng = np.random.default_rng(21)
    x = (rng.standard_normal((3, 7)) * 5).astype(np.float32)
    got = fqt.minmax(x)
    flat = x.reshape(-1).tolist()
    assert got.dtype == np.float32 and got.tolist() == [min(flat), max(flat)]
    # accumulators, including values that do not fit f32's 24-bit mantissa
    acc = np.array([[16777217, -33554435, 5], [123456789, -7, 0]], dtype=np.int32)
    s = np.float32(3.0e-6)
    got = fqt.minmax(acc, s)
    lo, hi = min(acc.reshape(-1).tolist()), max(acc.reshape(-1).tolist())
    expected = [f32(float(s) * f32(float(lo))), f32(float(s) * f32(float(hi)))]
    assert got.dtype == np.float32 and got.tolist() == expected


def test_ema_first_observation() -> None:
    obs = np.array([-0.75, 2.5], dtype=np.float32)
    for empty in ([1.0, -1.0], [0.5, 0.25]):
        got = fqt.ema(np.array(empty, dtype=np.float32), obs, 0.01)
        assert got.dtype == np.float32 and got.tolist() == obs.tolist()
    # a degenerate but non-empty range (min == max) is not empty: it is averaged
    got = fqt.ema(np.array([0.0, 0.0], dtype=np.float32), obs, 0.5)
    assert got.tolist() == [-0.375, 1.25]


@pytest.mark.parametrize("alpha", [0.1, 0.01, 0.3, 0.5, 1.0])
def test_ema_formula_step_by_step(alpha: float) -> None:
    rng = np.random.default_rng(22)
    a32 = f32(alpha)
    for _ in range(40):
        old = np.sort(rng.standard_normal(2) * 3).astype(np.float32)
        obs = np.sort(rng.standard_normal(2) * 3).astype(np.float32)
        expected = []
        for o, n in zip(old.tolist(), obs.tolist()):
            d = f32(n - o)
            m = f32(a32 * d)
            expected.append(f32(o + m))
        got = fqt.ema(old, obs, alpha)
        assert got.dtype == np.float32 and got.tolist() == expected
    # (alpha = 1 is old + f32(obs - old): the observation up to one f32 rounding, not exactly)


def random_ranges(rng: np.random.Generator, count: int) -> list[tuple[float, float]]:
    out = []
    for i in range(count):
        mag = 10.0 ** rng.uniform(-6, 3)
        kind = i % 5
        if kind == 0:  # straddles 0
            lo, hi = -mag * rng.uniform(0.01, 1), mag * rng.uniform(0.01, 1)
        elif kind == 1:  # positive only (widened to 0)
            lo, hi = sorted(mag * rng.uniform(0.01, 1, size=2))
        elif kind == 2:  # negative only
            lo, hi = sorted(-mag * rng.uniform(0.01, 1, size=2))
        elif kind == 3:  # lopsided
            lo, hi = -mag * 1e-3, mag
        else:
            lo, hi = -mag, mag * rng.uniform(0, 1e-2)
        out.append((f32(float(lo)), f32(float(hi))))
    return out


@pytest.mark.parametrize("storage", [U8, S8])
def test_qparams_asymmetric_brute_force(storage) -> None:
    qmin, qmax = storage
    rng = np.random.default_rng(23)
    for lo, hi in random_ranges(rng, 150):
        s_arr, z_arr = fqt.qparams(np.array([lo, hi], dtype=np.float32), qmin, qmax, False)
        assert s_arr.dtype == np.float32 and s_arr.shape == ()
        assert z_arr.dtype == np.int32 and z_arr.shape == ()
        s, z = float(s_arr), int(z_arr)
        lo0, hi0 = min(lo, 0.0), max(hi, 0.0)
        assert s > 0 and math.isfinite(s)
        assert abs(s - (hi0 - lo0) / (qmax - qmin)) <= 2.0**-22 * s
        assert qmin <= z <= qmax
        grid = [s * (q - z) for q in range(qmin, qmax + 1)]
        assert 0.0 in grid and grid[z - qmin] == 0.0  # real 0 is exactly the stored value z
        half = 0.5 * s * (1 + 1e-5)
        assert grid[0] <= lo0 + half, (lo, hi, s, z)
        assert grid[-1] >= hi0 - half, (lo, hi, s, z)
        # z is the best zero-point for representing lo (brute force over all candidates)
        err = [abs(s * (qmin - zz) - lo0) for zz in range(qmin, qmax + 1)]
        assert abs(s * (qmin - z) - lo0) <= min(err) + 1e-6 * s


def test_qparams_symmetric_brute_force() -> None:
    qmin, qmax = S8
    rng = np.random.default_rng(24)
    for lo, hi in random_ranges(rng, 150):
        s_arr, z_arr = fqt.qparams(np.array([lo, hi], dtype=np.float32), qmin, qmax, True)
        s, z = float(s_arr), int(z_arr)
        lo0, hi0 = min(lo, 0.0), max(hi, 0.0)
        assert z == 0
        assert s > 0 and abs(s - max(-lo0, hi0) / qmax) <= 2.0**-22 * s
        grid = [s * q for q in range(qmin, qmax + 1)]
        half = 0.5 * s * (1 + 1e-5)
        assert grid[0] <= lo0 + half and grid[-1] >= hi0 - half


@pytest.mark.parametrize("storage,symmetric", [(U8, False), (S8, False), (S8, True)])
def test_qparams_empty_range(storage, symmetric: bool) -> None:
    """fqt.qparams docstring: 'An empty range (no observation yet) counts as [0, 0]: s = 1
    and, asymmetric, z = qmin.' (real 0 sits at the bottom of the grid)."""
    qmin, qmax = storage
    s, z = fqt.qparams(np.array([1.0, -1.0], dtype=np.float32), qmin, qmax, symmetric)
    assert float(s) == 1.0
    expected_z = 0 if symmetric else qmin
    assert int(z) == expected_z


@pytest.mark.parametrize("storage,symmetric", [(U8, False), (S8, False), (S8, True)])
def test_qparams_degenerate_scale_becomes_one(storage, symmetric: bool) -> None:
    qmin, qmax = storage
    for r in ([0.0, 0.0], [0.0, 1e-40], [-1e-41, 0.0]):  # all-zero, subnormal scales
        s, z = fqt.qparams(np.array(r, dtype=np.float32), qmin, qmax, symmetric)
        assert float(s) == 1.0
        # s = 1 and lo/s rounds to 0: z = clamp(qmin - 0) = qmin (asymmetric), 0 (symmetric)
        assert int(z) == (0 if symmetric else qmin)


# ---------------------------------------------------------------------------------------
# grad_stats
# ---------------------------------------------------------------------------------------


def stats_oracle_row(row: Sequence[float | int]) -> tuple[np.float32, np.float32]:
    """Sequential f32 mean / 1/std, one np.float32 scalar operation at a time."""
    vals = [np.float32(v) for v in row]
    n = np.float32(len(vals))
    acc = np.float32(0.0)
    for v in vals:
        acc = np.float32(acc + v)
    mean = np.float32(acc / n)
    acc2 = np.float32(0.0)
    for v in vals:
        d = np.float32(v - mean)
        acc2 = np.float32(acc2 + np.float32(d * d))
    var = np.float32(acc2 / n)
    if not var > 0:
        return mean, np.float32(0.0)
    sd = np.float32(f32(math.sqrt(float(var))))
    return mean, np.float32(f32(1.0 / float(sd)))


def grad_cases():
    rng = np.random.default_rng(30)
    yield "f32", (rng.standard_normal((5, 100)) * 0.3 + 1.5).astype(np.float32)
    yield "f32-conv", (rng.standard_normal((6, 4, 3, 3)) * 2 - 3).astype(np.float32)
    yield "acc", rng.integers(-40000, 160000, size=(4, 64)).astype(np.int32)
    yield "acc-large", rng.integers(2**24, 2**28, size=(3, 2, 3, 3)).astype(np.int32)  # not exact in f32


@pytest.mark.parametrize("name,g", list(grad_cases()))
def test_grad_stats_standardize_sequential(name: str, g: NDArray) -> None:
    got = fqt.grad_stats(g, "standardize")
    assert got.dtype == np.float32 and got.shape == (g.shape[0], 2)
    rows = g.reshape(g.shape[0], -1)
    for r in range(g.shape[0]):
        mean, b = stats_oracle_row(rows[r].tolist())
        assert got[r, 0] == mean and got[r, 1] == b, (name, r, got[r], mean, b)
        # and close to the float64 mean / population std
        row64 = rows[r].astype(np.float64)
        np.testing.assert_allclose(float(got[r, 0]), row64.mean(), rtol=1e-5)
        np.testing.assert_allclose(float(got[r, 1]), 1.0 / row64.std(), rtol=1e-5)


def test_grad_stats_constant_row_and_selection() -> None:
    g = np.array([[3, 3, 3, 3], [1, 2, 3, 4], [0, 0, 0, 0], [7, -7, 7, -7]], dtype=np.int32)
    got = fqt.grad_stats(g, "standardize")
    assert got[0].tolist() == [3.0, 0.0]  # var == 0 -> b = 0
    assert got[2].tolist() == [0.0, 0.0]
    m, b = stats_oracle_row([1, 2, 3, 4])
    assert got[1].tolist() == [m, b]
    # selection: rows r < k are the compact gradient's rows, the others (0, 0)
    idx = np.array([0, 2, -1, -1], dtype=np.int32)
    got = fqt.grad_stats(g[[1, 3, 0, 0]], "standardize", idx=idx, k=np.array(2))
    m3, b3 = stats_oracle_row([7, -7, 7, -7])
    assert got.tolist() == [[m, b], [m3, b3], [0.0, 0.0], [0.0, 0.0]]


def qas_oracle(gs: float, sw: float) -> float:
    """b = f32(f32(f32(g_scale * s_w) / f32(s_w * s_w)) * s_w), one f32 operation at a time."""
    return f32(f32(f32(gs * sw) / f32(sw * sw)) * sw)


def test_grad_stats_qas_and_none() -> None:
    g = np.ones((3, 5), dtype=np.int32)
    gs, sw = np.float32(3.7e-5), np.float32(0.021)
    got = fqt.grad_stats(g, "qas", gs, sw)
    # TTE's QAS written out: gradient per int8 unit (s_g * s_w), times s_w^-2, times s_w
    b = qas_oracle(float(gs), float(sw))
    assert got.dtype == np.float32 and got.tolist() == [[0.0, b]] * 3
    assert b == pytest.approx(float(gs), rel=1e-6)  # equals `none` up to rounding
    got = fqt.grad_stats(g, "none", gs)
    assert got.tolist() == [[0.0, float(gs)]] * 3
    # an f32 gradient has scale 1
    gf = np.ones((2, 4), dtype=np.float32)
    assert fqt.grad_stats(gf, "none").tolist() == [[0.0, 1.0]] * 2
    assert fqt.grad_stats(gf, "qas", None, sw).tolist() == [[0.0, qas_oracle(1.0, float(sw))]] * 2
    # selection: rows >= k get (0, 0)
    got = fqt.grad_stats(g, "none", gs, idx=np.array([1, -1, -1], dtype=np.int32), k=np.array(1))
    assert got.tolist() == [[0.0, float(gs)], [0.0, 0.0], [0.0, 0.0]]
    with pytest.raises(ValueError):
        fqt.grad_stats(g, "qas", gs)
    with pytest.raises(ValueError):
        fqt.grad_stats(g, "adam", gs)


# ---------------------------------------------------------------------------------------
# qsgd_update / qsgd_range
# ---------------------------------------------------------------------------------------


def lowbias32(x: int) -> int:
    x &= MASK32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK32
    x ^= x >> 16
    return x


def uniforms(seed: int, step: int, n: int) -> list[float]:
    base = lowbias32((seed * 0x9E3779B9 + step) & MASK32)
    return [(lowbias32((base + i) & MASK32) >> 8) * 2.0**-24 for i in range(n)]


def qsgd_slow(w, sw, zw, g, st, s2, z2, lr, qmin, qmax, rows=None, u=None):
    """(new weights, real updated weights), element by element with np.float32 scalars."""
    o = w.shape[0]
    wf = w.reshape(o, -1)
    gf = g.reshape(o, -1)
    sel = list(range(o)) if rows is None else rows
    src = {row: r for r, row in enumerate(sel)}
    sw32, s232, lr32 = np.float32(sw), np.float32(s2), np.float32(lr)
    new = np.zeros(wf.shape, dtype=np.int64)
    real = np.zeros(wf.shape, dtype=np.float32)
    cols = wf.shape[1]
    for i in range(o):
        for j in range(cols):
            t1 = np.float32(sw32 * np.float32(int(wf[i, j]) - zw))
            if i in src:
                r = src[i]
                a, b = np.float32(st[r][0]), np.float32(st[r][1])
                gn = np.float32(np.float32(np.float32(gf[r, j]) - a) * b)
                v = np.float32(t1 - np.float32(lr32 * gn))
            else:
                v = t1
            real[i, j] = v
            d = np.float32(v / s232)
            stepped = i in src and np.float32(st[src[i]][1]) != 0
            if u is None or not stepped:  # rows without a gradient step round to nearest
                q = round(float(d))  # ties to even
            else:
                q = math.floor(f32(float(d) + u[i * cols + j]))
            new[i, j] = min(max(q + z2, qmin), qmax)
    return new.reshape(w.shape), real.reshape(w.shape)


def update_case(seed: int, shape, storage, acc_grad: bool):
    rng = np.random.default_rng(seed)
    w = rand_q(rng, shape, storage)
    zw = 0 if storage == S8 else rand_zp(rng, storage)
    sw = float(np.float32(rng.uniform(0.005, 0.05)))
    o = shape[0]
    if acc_grad:
        g = rng.integers(-50000, 50000, size=shape).astype(np.int32)
        st = np.stack([rng.standard_normal(o) * 1000, rng.uniform(1e-4, 1e-3, o)], axis=1).astype(np.float32)
    else:
        g = rng.standard_normal(shape).astype(np.float32)
        st = np.stack([rng.standard_normal(o) * 0.1, rng.uniform(0.5, 2.0, o)], axis=1).astype(np.float32)
    s2 = float(np.float32(sw * rng.uniform(0.9, 1.2)))
    z2 = zw if storage == S8 else int(np.clip(zw + rng.integers(-3, 4), 0, 255))
    return rng, w, zw, sw, g, st, s2, z2


@pytest.mark.parametrize("acc_grad", [True, False])
@pytest.mark.parametrize("storage", [S8, U8])
def test_qsgd_update_nearest(storage, acc_grad: bool) -> None:
    qmin, qmax = storage
    _, w, zw, sw, g, st, s2, z2 = update_case(40, (6, 2, 3, 3), storage, acc_grad)
    lr = 0.05
    got = fqt.qsgd_update(w, np.float32(sw), zw, g, st, np.float32(s2), z2, lr, qmin, qmax)
    assert got.dtype == np.int32 and got.shape == w.shape
    expected, real = qsgd_slow(w, sw, zw, g, st, s2, z2, lr, qmin, qmax)
    np.testing.assert_array_equal(got, expected)
    # float64 formula: within one quantization step
    o = w.shape[0]
    g64 = g.reshape(o, -1).astype(np.float64)
    real64 = sw * (w.reshape(o, -1).astype(np.float64) - zw) - lr * (g64 - st[:, :1]) * st[:, 1:]
    q64 = np.clip(np.rint(real64 / s2) + z2, qmin, qmax).reshape(w.shape)
    assert np.abs(got - q64).max() <= 1
    assert (got != w).any()  # the step does change weights
    # qsgd_range observes the same real weights
    r = fqt.qsgd_range(w, np.float32(sw), zw, g, st, lr)
    assert r.dtype == np.float32 and r.tolist() == [float(real.min()), float(real.max())]


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_qsgd_update_selection(rounding: str) -> None:
    qmin, qmax = S8
    rng, w, zw, sw, _, _, s2, z2 = update_case(41, (8, 5), S8, False)
    idx, k, rows = selection(rng, 8, 3)
    g = np.zeros((8, 5), dtype=np.float32)  # compact: rows >= k are 0
    g[:3] = rng.standard_normal((3, 5))
    st = np.zeros((8, 2), dtype=np.float32)
    st[:3] = np.stack([rng.standard_normal(3) * 0.1, rng.uniform(0.5, 2.0, 3)], axis=1)
    lr = 0.1
    u = uniforms(5, 9, w.size) if rounding == "stochastic" else None
    got = fqt.qsgd_update(w, np.float32(sw), zw, g, st, np.float32(s2), z2, lr, qmin, qmax, rounding, 5,
                          np.int32(9), idx, k)
    expected, real = qsgd_slow(w, sw, zw, g, st, s2, z2, lr, qmin, qmax, rows=rows, u=u)
    np.testing.assert_array_equal(got, expected)
    r = fqt.qsgd_range(w, np.float32(sw), zw, g, st, lr, idx, k)
    assert r.tolist() == [float(real.min()), float(real.max())]


def test_qsgd_nearest_ties_to_even_and_clamp() -> None:
    # no update (b = 0): d = sw * (w - zw) / s2 with exact halves
    w = np.array([[5, 7, -5, 1, -3]], dtype=np.int8)
    st = np.zeros((1, 2), dtype=np.float32)
    g = np.zeros((1, 5), dtype=np.float32)
    got = fqt.qsgd_update(w, np.float32(0.5), 0, g, st, np.float32(1.0), 0, 0.1, -128, 127)
    assert got.tolist() == [[2, 4, -2, 0, -2]]  # 2.5 3.5 -2.5 0.5 -1.5
    # a huge step clamps at qmax / qmin (both roundings)
    w = np.array([[120, -120]], dtype=np.int8)
    g = np.array([[-1.0, 1.0]], dtype=np.float32)
    st = np.array([[0.0, 1.0]], dtype=np.float32)
    for rounding in ("nearest", "stochastic"):
        got = fqt.qsgd_update(w, np.float32(0.1), 0, g, st, np.float32(0.1), 0, 100.0, -128, 127, rounding, 1,
                              np.int32(3))
        assert got.tolist() == [[127, -128]]
    got = fqt.qsgd_update(np.array([[250, 3]], dtype=np.uint8), np.float32(0.1), 10, g, st, np.float32(0.1), 10,
                          100.0, 0, 255)
    assert got.tolist() == [[255, 0]]


def test_hash32_is_lowbias32() -> None:
    rng = np.random.default_rng(50)
    keys = np.concatenate([
        np.array([0, 1, 2, 0x7FFFFFFF, 0x80000000, MASK32], dtype=np.uint64),
        rng.integers(0, 2**32, size=2000, dtype=np.uint64),
    ]).astype(np.uint32)
    got = fqt.hash32(keys)
    assert got.dtype == np.uint32
    assert got.tolist() == [lowbias32(int(k)) for k in keys.tolist()]


@pytest.mark.parametrize("seed,step", [(0, 0), (1, 7), (123456, 2**31 - 1), (2**40 + 3, 5)])
def test_uniform01_stream(seed: int, step: int) -> None:
    got = fqt.uniform01(seed, step, 300)
    assert got.dtype == np.float32
    assert got.tolist() == uniforms(seed, step, 300)
    assert got.min() >= 0.0 and got.max() < 1.0


def test_qsgd_update_stochastic_exact() -> None:
    qmin, qmax = S8
    _, w, zw, sw, g, st, s2, z2 = update_case(42, (4, 3, 3, 3), S8, True)
    lr, seed, step = 0.05, 17, 1234
    got = fqt.qsgd_update(w, np.float32(sw), zw, g, st, np.float32(s2), z2, lr, qmin, qmax, "stochastic", seed,
                          np.int32(step))
    expected, _ = qsgd_slow(w, sw, zw, g, st, s2, z2, lr, qmin, qmax, u=uniforms(seed, step, w.size))
    np.testing.assert_array_equal(got, expected)


SIX_SIGMA = 6.0


@pytest.mark.parametrize("real", [1.25, -0.3, 0.9, -2.01, 0.5])
def test_stochastic_rounding_is_unbiased(real: float) -> None:
    """Mean of floor(d + u) over many elements approaches d (d strictly between grid points)."""
    rows, cols = 256, 1024
    n = rows * cols
    # w = 0, a = 0, b = 1, lr = 1: real weight = -g; new scale 1 -> d = f32(-g)
    g = np.full((rows, cols), -real, dtype=np.float32)
    st = np.tile(np.array([[0.0, 1.0]], dtype=np.float32), (rows, 1))
    w = np.zeros((rows, cols), dtype=np.int8)
    d = float(np.float32(real))
    got = fqt.qsgd_update(w, np.float32(1.0), 0, g, st, np.float32(1.0), 0, 1.0, -128, 127, "stochastic", 3,
                          np.int32(11))
    assert set(np.unique(got).tolist()) == {math.floor(d), math.floor(d) + 1}
    p = d - math.floor(d)
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(float(got.astype(np.float64).mean()) - d) < SIX_SIGMA * sigma + 1e-6
    # the same element over many steps (the stream moves with `step`)
    steps = 4096
    w1 = np.zeros((1, 1), dtype=np.int8)
    g1 = np.full((1, 1), -real, dtype=np.float32)
    vals = [int(fqt.qsgd_update(w1, np.float32(1.0), 0, g1, st[:1], np.float32(1.0), 0, 1.0, -128, 127,
                                "stochastic", 3, np.int32(t))[0, 0]) for t in range(steps)]
    sigma = math.sqrt(p * (1 - p) / steps)
    assert abs(sum(vals) / steps - d) < SIX_SIGMA * sigma + 1e-6


# ---------------------------------------------------------------------------------------
# Partial updates: topk_count, topk_structures
# ---------------------------------------------------------------------------------------


def paper_k(loss: float, loss_max: float, lmin: float, lmax: float, n: int) -> tuple[int, float]:
    """k = max(floor(min(lmin + |e|/emax * (lmax - lmin), 1) * N), 1) in Python floats
    (emax <= 0 counts as ratio 1); also returns the value that is floored."""
    ratio = abs(loss) / loss_max if loss_max > 0 else 1.0
    v = min(lmin + ratio * (lmax - lmin), 1.0) * n
    return max(math.floor(v), 1), v


def test_topk_count_vs_paper_formula() -> None:
    rng = np.random.default_rng(60)
    checked = 0
    for _ in range(600):
        lmin, lmax = sorted(rng.uniform(0, 1, size=2).tolist())
        loss = float(np.float32(rng.uniform(-3, 3)))
        loss_max = float(np.float32(rng.uniform(0.1, 4)))
        n = int(rng.integers(1, 65))
        k, v = paper_k(loss, loss_max, f32(lmin), f32(lmax), n)
        if abs(v - round(v)) < 1e-4:
            continue  # too close to an integer: f32 evaluation may floor the other way
        got = fqt.topk_count(np.float32(loss), np.float32(loss_max), lmin, lmax, n)
        assert got.dtype == np.int32 and got.shape == ()
        assert int(got) == k, (loss, loss_max, lmin, lmax, n)
        checked += 1
    assert checked > 500


def test_topk_count_edge_cases() -> None:
    def k(loss, lmax_loss, lmin, lmax, n):
        return int(fqt.topk_count(np.float32(loss), np.float32(lmax_loss), lmin, lmax, n))

    assert k(0.3, 0.0, 0.25, 0.5, 40) == 20  # emax == 0: ratio 1 -> lambda_max * N
    assert k(0.0, 0.0, 0.0, 0.0, 40) == 1  # floor(0) -> at least one structure
    assert k(0.7, 2.0, 1.0, 1.0, 37) == 37  # lambda_min = lambda_max = 1 -> N
    assert k(0.0, 5.0, 0.0, 1.0, 37) == 1  # lambda_min 0 and loss 0 -> 1
    assert k(-2.0, 2.0, 0.0, 0.5, 10) == 5  # |loss|
    assert k(9.0, 2.0, 0.5, 1.0, 10) == 10  # loss above the running max: clipped at N
    assert k(1.0, 2.0, 0.5, 1.0, 1) == 1


def topk_oracle(e: NDArray, ze: int, k: int) -> list[int]:
    ea = e.astype(np.int64)
    o = ea.shape[1]
    mags = [0] * o
    for idx in np.ndindex(*ea.shape):
        mags[idx[1]] += abs(int(ea[idx]) - ze)
    kk = max(1, min(k, o))
    chosen: list[int] = []
    for _ in range(kk):
        best = -1
        for j in range(o):  # ascending scan with strict '>': ties go to the lower index
            if j not in chosen and (best < 0 or mags[j] > mags[best]):
                best = j
        chosen.append(best)
    return sorted(chosen) + [-1] * (o - kk)


@pytest.mark.parametrize("shape", [(3, 10), (1, 7), (2, 6, 3, 3)])
def test_topk_structures_vs_selection_loop(shape) -> None:
    rng = np.random.default_rng(61)
    ze = -2
    for trial in range(12):
        # few distinct values: many magnitude ties
        e = rng.integers(ze - 1, ze + 2, size=shape).astype(np.int8) if trial % 2 else rand_q(rng, shape, S8)
        o = shape[1]
        for k in sorted({1, max(1, o // 2), o - 1 if o > 1 else 1, o, o + 3}):
            got = fqt.topk_structures(e, ze, np.int32(k))
            assert got.dtype == np.int32 and got.shape == (o,)
            assert got.tolist() == topk_oracle(e, ze, k), (e.tolist(), k)


def test_topk_structures_ties_go_to_lower_index() -> None:
    e = np.array([[1, 3, 3, 0, 3]], dtype=np.int8)  # magnitudes (ze 0): 1 3 3 0 3
    assert fqt.topk_structures(e, 0, np.int32(2)).tolist() == [1, 2, -1, -1, -1]
    assert fqt.topk_structures(e, 0, np.int32(4)).tolist() == [0, 1, 2, 4, -1]
    assert fqt.topk_structures(np.zeros((2, 3), dtype=np.int8), 0, np.int32(2)).tolist() == [0, 1, -1]


def test_fused_update_matches_real_sgd_on_average() -> None:
    """qgrad_weight_sgd_apply: the stochastic step moves (w − z) by lr·s_g·g/s_w grid steps
    on average (unbiased up to the 2^-16 quantum), and the row ranges are the pre-clamp
    extremes of the rows it updated."""
    w = np.zeros((1, 4000), np.int32)
    g = np.full((1, 4000), 3, np.int32)
    sg, sw, lr = np.float32(1e-3), np.float32(0.01), 0.3  # 0.3 * 1e-3 * 3 / 0.01 = 0.09 grid steps
    new, rr = fqt.qgrad_weight_sgd_apply(w, sw, 0, -g, sg, np.zeros((1, 2), np.int32), lr, -128, 127,
                                         "stochastic", 3, 7)
    assert abs(new.mean() - 0.09) < 0.015
    assert rr.tolist() == [[int(new.min()), int(new.max())]]
    near, _ = fqt.qgrad_weight_sgd_apply(w, sw, 0, -g * 10, sg, np.zeros((1, 2), np.int32), lr, -128, 127,
                                         "nearest")
    assert (near == 1).all()  # 0.9 grid steps round to 1


def test_fused_update_leaves_unselected_rows() -> None:
    rng = np.random.default_rng(5)
    w = rng.integers(-128, 128, size=(6, 5)).astype(np.int32)
    rr = fqt.row_range_of(w, 2)
    g = np.zeros((6, 5), np.int32)
    g[:2] = rng.integers(-10**6, 10**6, size=(2, 5))
    idx = np.array([1, 4, -1, -1, -1, -1], np.int32)
    new, rr2 = fqt.qgrad_weight_sgd_apply(w, 0.01, 2, g, 1e-4, rr, 0.1, -128, 127, "stochastic", 0, 1, idx, 2)
    for r in (0, 2, 3, 5):
        assert (new[r] == w[r]).all() and (rr2[r] == rr[r]).all()
    assert not (new[1] == w[1]).all() and not (new[4] == w[4]).all()


def test_regrid_rule() -> None:
    """Kept while the row ranges fit and use at least half of the grid; a new grid with
    headroom when a value went past it; re-expressed weights keep their real values to half
    a step of the new grid."""
    w = np.array([[-100, 50], [20, 127]], np.int32)
    rr = fqt.row_range_of(w, 0)
    assert not fqt.regrid_target(0.01, 0, rr, -128, 127, False, 0.125)[0]
    rr_past = rr.copy()
    rr_past[1, 1] = 131  # clamped at 127 by the last step
    regrid, s2, z2 = fqt.regrid_target(0.01, 0, rr_past, -128, 127, False, 0.125)
    assert regrid and float(s2) > 0.01
    new, rr2, s3, z3 = fqt.qweight_regrid(w, 0.01, 0, rr_past, -128, 127, False, 0.125)
    assert float(s3) == float(s2) and int(z3) == int(z2)
    real_old = 0.01 * w.astype(np.float64)
    real_new = float(s3) * (new.astype(np.float64) - int(z3))
    assert np.abs(real_new - real_old).max() <= float(s3) / 2 + 1e-9
    assert (rr2 == fqt.row_range_of(new, z3)).all()
    small = (w // 8).astype(np.int32)
    assert fqt.regrid_target(0.01, 0, fqt.row_range_of(small, 0), -128, 127, False, 0.125)[0]


def test_regrid_stochastic_is_unbiased() -> None:
    """Re-expressing on a 1 % larger grid: nearest keeps every small integer (its real value
    grows by 1 %), stochastic rounding keeps the real values on average."""
    w = np.full((1, 20000), 10, np.int32)
    rr = np.array([[10, 130]], np.int32)  # a value went past the grid: regrid
    _, _, s_n, _ = fqt.qweight_regrid(w, 0.01, 0, rr, -128, 127, True, 0.0)
    near, _, _, _ = fqt.qweight_regrid(w, 0.01, 0, rr, -128, 127, True, 0.0, "nearest")
    sto, _, s2, z2 = fqt.qweight_regrid(w, 0.01, 0, rr, -128, 127, True, 0.0, "stochastic", 1, 2)
    assert float(s2) == float(s_n) and float(s2) > 0.01
    assert (near == 10).all()  # real 0.1 became 10 * s' > 0.1
    real = float(s2) * (sto.astype(np.float64) - int(z2))
    assert abs(real.mean() - 0.1) < 2e-4


# ---------------------------------------------------------------------------------------
# MobileNetV2 ops: relu6 on accumulators, the residual add, the global average pool
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("s", [0.01, 0.0037, 3e-9, 7.0, 6.0])
def test_relu6_acc_is_relu6_of_the_real_value(s: float) -> None:
    """clamp(acc, 0, b), b = floor(f32(6 / s)): b * s is 6 up to the one f32 rounding of the
    quotient (relative 2^-24), and the kept real value s * acc is relu6 of the real
    accumulator on its grid: the same value below the bound, 0 below 0 (exact rationals)."""
    sf = np.float32(s)
    fs = Fraction(float(sf))
    b = fqt.relu6_bound(sf)
    assert b == math.floor(f32(6 / float(sf)))
    six_hi, six_lo = 6 * (1 + Fraction(1, 2**23)), 6 * (1 - Fraction(1, 2**23))
    assert b * fs <= six_hi and (b + 1) * fs > six_lo
    rng = np.random.default_rng(3)
    acc = np.concatenate([rng.integers(-2 * b - 5, 2 * b + 5, size=200), [b, b + 1, 0, -1, INT32_MAX, INT32_MIN]])
    acc = np.clip(acc, INT32_MIN, INT32_MAX).astype(np.int32)
    got = fqt.relu6_acc(acc, sf)
    for a, g in zip(acc.tolist(), got.tolist()):
        real = min(max(a * fs, Fraction(0)), Fraction(6))
        if a * fs < six_lo:  # below the clamp: relu exactly
            assert g == max(a, 0)
        else:  # at the clamp: the grid point next to 6
            assert abs(g * fs - real) <= max(fs, 6 * Fraction(1, 2**22))


def test_relu6_bound_degenerate_scales() -> None:
    assert fqt.relu6_bound(np.float32(1e-38)) == INT32_MAX  # 6 / s beyond int32
    assert fqt.relu6_bound(np.float32(0.0)) == INT32_MAX  # +inf
    assert fqt.relu6_bound(np.float32(-1.0)) == 0  # nothing above 0 is kept
    assert fqt.relu6_bound(np.float32(np.nan)) == 0


def test_qrelu6_grad_passes_exactly_the_interior() -> None:
    """The error passes where the saved output's real value is in (0, 6), rounded to the
    output grid: zy < y < zy + round(6 / sy) (the grid point of 6 itself is masked)."""
    sy, zy, ze = np.float32(6.0 / 200), 20, -3
    y = np.arange(0, 256, dtype=np.int32)
    e = np.full(256, 9, dtype=np.int32)
    got = fqt.qrelu6_grad(e, ze, y, zy, sy)
    top = zy + round(6 / float(sy))  # 220
    assert got.tolist() == [9 if zy < v < top else ze for v in range(256)]
    # a grid narrower than 6 (no clamp visible): only the zero side masks
    got = fqt.qrelu6_grad(e, ze, y, 0, np.float32(0.01))
    assert got.tolist() == [9 if v > 0 else ze for v in range(256)]


def test_qadd_is_the_rounded_real_sum() -> None:
    """Each element: the two dequantized values (one f32 multiply each) added in f32, divided
    by s in f32, rounded to nearest-even, shifted by z and clamped (written out with f32())."""
    rng = np.random.default_rng(11)
    a, b = rand_q(rng, (300,), U8), rand_q(rng, (300,), S8)
    sa, za, sb, zb = np.float32(0.031), 117, np.float32(0.0047), -9
    s, z = np.float32(0.05), 40
    got = fqt.qadd(a, sa, za, b, sb, zb, s, z, 0, 255)
    rng_got = fqt.qadd_range(a, sa, za, b, sb, zb)
    reals = []
    for i, (av, bv) in enumerate(zip(a.tolist(), b.tolist())):
        v = f32(f32(float(sa) * (av - za)) + f32(float(sb) * (bv - zb)))
        reals.append(v)
        q = f32(v / float(s))
        r = round(q)  # Python round: ties to even
        assert got[i] == min(max(r + z, 0), 255), (i, av, bv)
    assert rng_got.tolist() == [min(reals), max(reals)]
    hi = fqt.qadd(np.full(4, 255), np.float32(1.0), 0, np.full(4, 127), np.float32(1.0), 0, np.float32(0.5), 0, 0, 255)
    assert hi.tolist() == [255] * 4


def test_qavgpool_acc_and_broadcast() -> None:
    """The pool's sum at scale s / (H W) is the mean of the dequantized plane (exact rationals
    up to the one f32 rounding of the scale); the broadcast repeats each error value."""
    rng = np.random.default_rng(5)
    x = rand_q(rng, (1, 3, 4, 5), U8)
    zx, sx = 77, np.float32(0.02)
    acc = fqt.qavgpool_acc(x, zx)
    assert acc.shape == (1, 3, 1, 1) and acc.dtype == np.int32
    assert acc.reshape(-1).tolist() == [sum(v - zx for v in plane.reshape(-1).tolist()) for plane in x[0]]
    s = fqt.scale_div(sx, 20)
    assert float(s) == f32(float(sx) / 20)
    e = rand_q(rng, (2, 3, 1, 1), S8)
    out = fqt.qbroadcast_hw(e, 4, 5)
    assert out.shape == (2, 3, 4, 5)
    assert all((out[n, c] == e[n, c, 0, 0]).all() for n in range(2) for c in range(3))
