"""odtc.runtime.fqt with per-channel weights (qtrain-quantize weights=per-channel) against
independent oracles, none of which calls odtc code:

* integer layers: torch float64 on the offset integers, with one zero-point per output
  channel (exact: every partial sum is an integer far below 2^53);
* f32 steps written out one IEEE operation at a time (Python floats rounded through
  `struct`), exact `Fraction`s for the fixed-point requantization;
* the rescaled input gradient (qrescale_channels + the int16 grad-input at one scale)
  against the exact real gradient sum_o se·(e − ze)·sw[o]·(w − zw[o]), within the bound
  its rounding allows;
* the per-row fused update and regrid against the per-tensor functions applied to one row
  at a time.
"""

from __future__ import annotations

import struct
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from odtc.runtime import fqt, reference


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def t64(a) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64))


def scales(rng: np.random.Generator, n: int) -> np.ndarray:
    """Per-channel scales spread over two decades, as trained rows are."""
    return (10.0 ** rng.uniform(-3.5, -1.5, size=n)).astype(np.float32)


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_qconv2d_acc_per_channel_vs_torch(groups: int) -> None:
    rng = np.random.default_rng(groups)
    n, c, h, w, o = 2, 6, 7, 6, 6
    x = rng.integers(0, 256, size=(n, c, h, w)).astype(np.uint8)
    wt = rng.integers(-128, 128, size=(o, c // groups, 3, 3)).astype(np.int8)
    zx = 131
    zw = rng.integers(-100, 100, size=o).astype(np.int32)
    sacc = scales(rng, o)
    bias = (rng.standard_normal(o) * 0.5).astype(np.float32)
    xo = F.pad(t64(x.astype(np.int64) - zx), (1, 1, 1, 1))
    wo = t64(wt.astype(np.int64) - zw.reshape(o, 1, 1, 1))
    expected = F.conv2d(xo, wo, stride=(2, 1), groups=groups).numpy().astype(np.int64)
    bq = np.array([round(f32(float(b) / float(s))) for b, s in zip(bias, sacc, strict=True)], dtype=np.int64)
    expected = expected + bq.reshape(1, o, 1, 1)
    got = fqt.qconv2d_acc(x, zx, wt, zw, bias, sacc, (2, 1), (1, 1, 1, 1), groups)
    np.testing.assert_array_equal(got.astype(np.int64), expected)


def test_qdense_acc_and_grad_input_per_channel_vs_torch() -> None:
    rng = np.random.default_rng(3)
    n, k, o = 3, 17, 5
    x = rng.integers(-128, 128, size=(n, k)).astype(np.int8)
    w = rng.integers(-128, 128, size=(o, k)).astype(np.int8)
    zw = rng.integers(-60, 60, size=o).astype(np.int32)
    expected = F.linear(t64(x.astype(np.int64) + 3), t64(w.astype(np.int64) - zw.reshape(o, 1)))
    np.testing.assert_array_equal(fqt.qdense_acc(x, -3, w, zw, None, 1.0), expected.numpy().astype(np.int64))
    e = rng.integers(-32768, 32768, size=(n, o)).astype(np.int16)
    gi = t64(e.astype(np.int64)) @ t64(w.astype(np.int64) - zw.reshape(o, 1))
    np.testing.assert_array_equal(fqt.qdense_grad_input(e, 0, w, zw), gi.numpy().astype(np.int64))


def test_qconv2d_grad_input_per_channel_vs_autograd() -> None:
    rng = np.random.default_rng(4)
    n, c, h, w, o = 1, 4, 6, 6, 6
    wt = rng.integers(-128, 128, size=(o, c // 2, 3, 3)).astype(np.int8)
    zw = rng.integers(-50, 50, size=o).astype(np.int32)
    e = rng.integers(-20000, 20000, size=(n, o, 3, 3)).astype(np.int16)
    xin = torch.zeros((n, c, h, w), dtype=torch.float64, requires_grad=True)
    y = F.conv2d(F.pad(xin, (1, 1, 1, 1)), t64(wt.astype(np.int64) - zw.reshape(o, 1, 1, 1)), stride=2, groups=2)
    y.backward(t64(e.astype(np.int64)))
    assert xin.grad is not None
    got = fqt.qconv2d_grad_input(e, 0, wt, zw, (n, c, h, w), (2, 2), (1, 1, 1, 1), 2)
    np.testing.assert_array_equal(got.astype(np.int64), xin.grad.numpy().astype(np.int64))


def test_minmax_relu6_requantize_per_channel() -> None:
    rng = np.random.default_rng(5)
    acc = rng.integers(-40000, 40000, size=(2, 3, 4)).astype(np.int32)
    s = np.array([1e-4, 3e-3, 7e-5], np.float32)
    lo = min(f32(float(s[c]) * float(acc[:, c].min())) for c in range(3))
    hi = max(f32(float(s[c]) * float(acc[:, c].max())) for c in range(3))
    assert fqt.minmax(acc, s).tolist() == [lo, hi]
    r6 = fqt.relu6_acc(acc, s)
    for c in range(3):
        b = int(np.floor(f32(6.0 / float(s[c]))))
        np.testing.assert_array_equal(r6[:, c], np.clip(acc[:, c], 0, b))
    sy, zy = np.float32(0.05), 7
    y = fqt.requantize_acc(acc, s, sy, zy, 0, 255)
    for c in range(3):
        m = Fraction(f32(float(s[c]) / float(sy)))
        mult, shift = reference.quantize_multiplier(np.float32(float(m)))
        for v, got in zip(acc[:, c].ravel(), y[:, c].ravel(), strict=True):
            # the fixed-point multiply of reference.requantize (rounding to nearest, ties away)
            exact = Fraction(int(v)) * Fraction(int(mult), 2**31) * Fraction(2) ** int(shift)
            rounded = int(exact.numerator * 2 + exact.denominator) // (2 * exact.denominator) if exact >= 0 else \
                -(int(-exact.numerator * 2 + exact.denominator) // (2 * exact.denominator))
            assert int(got) == min(max(rounded + zy, 0), 255)


@pytest.mark.parametrize("storage,ze", [("s8", 0), ("asym", -37)])
def test_rescaled_input_gradient_is_the_real_gradient(storage: str, ze: int) -> None:
    """Rescaling e to one int16 scale loses at most half a unit of se·max(sw)/2^shift per
    term: |got − exact| <= 0.5·se·max(sw)/2^shift·Σ_o|w − zw[o]| (per input element),
    with got the int32 sum read at its scale."""
    rng = np.random.default_rng(6)
    n, k, o = 2, 9, 12
    e = rng.integers(-128, 128, size=(n, o)).astype(np.int8)
    w = rng.integers(-128, 128, size=(o, k)).astype(np.int8)
    zw = (rng.integers(-30, 30, size=o) if storage == "asym" else np.zeros(o)).astype(np.int32)
    se, sw = 0.013, scales(rng, o)
    shift = 7
    r = fqt.qrescale_channels(e, ze, sw, shift)
    assert r.dtype == np.int32 and np.abs(r).max() <= 32767
    for c in range(o):  # element by element: one f32 multiply, then rint (ties to even)
        fac = f32(f32(float(sw[c]) / float(sw.max())) * 2.0**shift)
        for i in range(n):
            assert r[i, c] == round(f32(float(int(e[i, c]) - ze) * fac))
    acc = fqt.qdense_grad_input(r, 0, w, zw)
    scale = f32(f32(se * float(sw.max())) / 2.0**shift)
    got = scale * acc.astype(np.float64)
    offs = w.astype(np.int64) - zw.reshape(o, 1)
    exact = (se * (e.astype(np.int64) - ze) * sw.astype(np.float64)) @ offs
    bound = 0.5 * se * float(sw.max()) / 2.0**shift * np.abs(offs).sum(axis=0)
    assert (np.abs(got - exact) <= bound * (1 + 1e-5) + 1e-12).all()
    # and it is far closer than per-tensor int8 would be: the largest error is a few percent
    # of one int8 error step times a typical weight
    assert np.abs(got - exact).max() < 0.05 * se * float(sw.max()) * 128


def test_rescale_clamps_to_int16() -> None:
    e = np.array([[127, -128]], np.int8)
    r = fqt.qrescale_channels(e, -128, np.array([1.0, 1.0], np.float32), 8)  # 255·256 > 32767
    assert r.tolist() == [[32767, 0]]


def test_fused_update_per_row_is_per_tensor_row_by_row() -> None:
    """The per-channel fused update of row r is the per-tensor update of that row alone,
    with the row's scale and zero-point and the row's stochastic-stream indices."""
    rng = np.random.default_rng(7)
    o, k = 5, 11
    w = rng.integers(-128, 128, size=(o, k)).astype(np.int32)
    sw = scales(rng, o)
    zw = rng.integers(-20, 20, size=o).astype(np.int32)
    rr = fqt.row_range_of(w, zw)
    for r in range(o):
        np.testing.assert_array_equal(rr[r], fqt.row_range_of(w[r:r + 1], zw[r])[0])
    g = rng.integers(-10**6, 10**6, size=(o, k)).astype(np.int32)
    idx = np.array([0, 2, 3, -1, -1], np.int32)
    compact = np.zeros_like(g)  # the selected rows' gradients first (the kernels' layout)
    compact[:3] = g[:3]
    new, rr2 = fqt.qgrad_weight_sgd_apply(w, sw, zw, compact, 3e-6, rr, 0.05, -128, 127, "stochastic", 4, 9, idx, 3)
    for r in range(o):
        if r in (0, 2, 3):
            # the same update through the per-tensor function on the whole tensor, keeping row r
            full_g = np.zeros_like(g)
            full_g[r] = g[list(idx[:3]).index(r)]
            one, rr1 = fqt.qgrad_weight_sgd_apply(w, sw[r], zw[r], full_g, 3e-6, fqt.row_range_of(w, zw[r]), 0.05,
                                                  -128, 127, "stochastic", 4, 9)
            np.testing.assert_array_equal(new[r], one[r])
            np.testing.assert_array_equal(rr2[r], rr1[r])
        else:
            np.testing.assert_array_equal(new[r], w[r])
            np.testing.assert_array_equal(rr2[r], rr[r])


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_regrid_per_row(rounding: str) -> None:
    """Rows regrid independently: a row that went past its grid and a row using less than
    half of it get new grids (each as the per-tensor regrid of that row alone would, with
    the row's stream indices); the others keep theirs, untouched."""
    w = np.array([[100, -20, 5], [3, -2, 1], [60, -70, 10]], np.int32)
    s = np.array([0.01, 0.02, 0.005], np.float32)
    z = np.array([0, 4, -3], np.int32)
    rr = fqt.row_range_of(w, z)
    rr[0, 1] = 140  # row 0 was clamped: expand
    # row 1 uses [-6, -3] of [-132, 123]: shrink; row 2 fits
    new, rr2, s2, z2 = fqt.qweight_regrid(w, s, z, rr, -128, 127, False, 0.0, rounding, 3, 5)
    assert float(s2[2]) == float(s[2]) and int(z2[2]) == int(z[2])
    np.testing.assert_array_equal(new[2], w[2])
    np.testing.assert_array_equal(rr2[2], rr[2])
    for r in (0, 1):
        regrid, st, zt = fqt.regrid_target(s[r], z[r], rr[r:r + 1], -128, 127, False, 0.0)
        assert regrid and float(s2[r]) == float(st) and int(z2[r]) == int(zt)
        # the per-tensor regrid of the whole tensor at row r's grid re-expresses row r the same way
        whole, _, _, _ = fqt.qweight_regrid(w, s[r], z[r], np.repeat(rr[r:r + 1], 3, axis=0), -128, 127, False, 0.0,
                                            rounding, 3, 5)
        np.testing.assert_array_equal(new[r], whole[r])
        np.testing.assert_array_equal(rr2[r], fqt.row_range_of(new[r:r + 1], z2[r])[0])
    real_old = float(s[0]) * (w[0] - int(z[0]))
    real_new = float(s2[0]) * (new[0].astype(np.float64) - int(z2[0]))
    assert np.abs(real_new - real_old).max() <= float(s2[0]) + 1e-9
