"""odtc.runtime.reference against independent implementations.

f32 ops are checked against torch.nn.functional evaluated in float64 (the reference
accumulates in f64 and rounds once, so it must sit within an f32 rounding of torch-f64).
Fixed-point arithmetic is checked against exact Python-int / Fraction implementations of
the gemmlowp definitions, and the quantized layers against a float oracle.
"""

from __future__ import annotations

import math
import zlib
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from odtc.runtime import reference as ref

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

RTOL = 1e-6
ATOL = 1e-7


def t64(a: NDArray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def close(actual: NDArray, expected: torch.Tensor | NDArray) -> None:
    exp = expected.numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert actual.dtype == np.float32
    assert actual.shape == exp.shape
    np.testing.assert_allclose(actual.astype(np.float64), exp, rtol=RTOL, atol=ATOL)


def randn(rng: np.random.Generator, *shape: int) -> NDArray[np.float32]:
    return rng.standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------------------------------
# f32 ops
# ---------------------------------------------------------------------------------------

CONV_CASES = [
    # (N, C, H, W, O, KH, KW, stride, padding [t, l, b, r], groups, bias)
    (2, 3, 8, 8, 4, 3, 3, (1, 1), (1, 1, 1, 1), 1, True),
    (1, 4, 7, 9, 6, 3, 2, (2, 1), (0, 1, 2, 0), 2, True),  # asymmetric, grouped
    (1, 6, 10, 10, 6, 3, 3, (2, 2), (1, 0, 1, 2), 6, True),  # depthwise, asymmetric
    (2, 8, 5, 5, 4, 1, 1, (1, 1), (0, 0, 0, 0), 1, False),  # pointwise, no bias
    (1, 4, 6, 6, 8, 5, 5, (1, 2), (2, 2, 2, 2), 4, True),  # depthwise x2 multiplier
    (3, 5, 9, 4, 7, 2, 3, (3, 1), (0, 2, 1, 0), 1, False),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_torch(case: tuple) -> None:
    n, c, h, w, o, kh, kw, stride, pad, groups, has_bias = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    x = randn(rng, n, c, h, w)
    wt = randn(rng, o, c // groups, kh, kw)
    b = randn(rng, o) if has_bias else None
    y = ref.conv2d(x, wt, b, stride, pad, groups)
    top, left, bottom, right = pad
    xp = F.pad(t64(x), (left, right, top, bottom))
    expected = F.conv2d(xp, t64(wt), None if b is None else t64(b), stride=stride, groups=groups)
    close(y, expected)


@pytest.mark.parametrize("shape", [(1, 5, 3), (4, 16, 10), (3, 7, 1)])
@pytest.mark.parametrize("has_bias", [True, False])
def test_dense_matches_torch(shape: tuple[int, int, int], has_bias: bool) -> None:
    n, k, o = shape
    rng = np.random.default_rng(n * 100 + k * 10 + o)
    x, w = randn(rng, n, k), randn(rng, o, k)
    b = randn(rng, o) if has_bias else None
    close(ref.dense(x, w, b), F.linear(t64(x), t64(w), None if b is None else t64(b)))


@pytest.mark.parametrize("shape", [(7,), (2, 3, 4, 5), (1, 10)])
def test_relu_relu6_add_exact(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(shape))
    x = (randn(rng, *shape) * 5).astype(np.float32)
    x.flat[0] = 6.0
    x.flat[-1] = 0.0
    y = randn(rng, *shape)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    np.testing.assert_array_equal(ref.relu(x), F.relu(xt).numpy())
    np.testing.assert_array_equal(ref.relu6(x), F.relu6(xt).numpy())
    np.testing.assert_array_equal(ref.add(x, y), (xt + yt).numpy())
    assert ref.relu(x).dtype == ref.relu6(x).dtype == ref.add(x, y).dtype == np.float32


POOL_CASES = [
    # (N, C, H, W, kernel, stride, symmetric padding (ph, pw))
    (1, 2, 8, 8, (2, 2), (2, 2), (0, 0)),
    (2, 3, 7, 9, (3, 3), (2, 2), (1, 1)),
    (1, 4, 6, 5, (3, 2), (1, 2), (1, 1)),
    (2, 1, 10, 10, (4, 4), (3, 3), (2, 1)),
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool2d_matches_torch(case: tuple) -> None:
    n, c, h, w, k, s, (ph, pw) = case
    x = randn(np.random.default_rng(h * w), n, c, h, w)
    y = ref.maxpool2d(x, k, s, (ph, pw, ph, pw))
    expected = F.max_pool2d(torch.from_numpy(x), k, s, padding=(ph, pw))
    np.testing.assert_array_equal(y, expected.numpy())


@pytest.mark.parametrize("pad", [(0, 1, 2, 0), (2, 0, 1, 1), (1, 2, 0, 0)])
def test_maxpool2d_asymmetric_padding_is_minus_inf(pad: tuple[int, int, int, int]) -> None:
    # All-negative input: zero padding would win the max, -inf padding never does.
    x = -np.abs(randn(np.random.default_rng(sum(pad)), 2, 3, 7, 6)) - 1
    y = ref.maxpool2d(x, (3, 3), (2, 1), pad)
    t, l, b, r = pad
    xp = F.pad(torch.from_numpy(x), (l, r, t, b), value=-math.inf)
    np.testing.assert_array_equal(y, F.max_pool2d(xp, (3, 3), (2, 1)).numpy())
    assert (y < 0).all()


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avgpool2d_matches_torch(case: tuple, count_include_pad: bool) -> None:
    n, c, h, w, k, s, (ph, pw) = case
    x = randn(np.random.default_rng(h + w), n, c, h, w)
    y = ref.avgpool2d(x, k, s, (ph, pw, ph, pw), count_include_pad=count_include_pad)
    expected = F.avg_pool2d(t64(x), k, s, padding=(ph, pw), count_include_pad=count_include_pad)
    close(y, expected)


def _naive_avgpool(x: NDArray, k: tuple, s: tuple, pad: tuple, include: bool) -> NDArray:
    n, c, h, w = x.shape
    t, l, b, r = pad
    oh = (h + t + b - k[0]) // s[0] + 1
    ow = (w + l + r - k[1]) // s[1] + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            total = np.zeros((n, c))
            count = 0
            for a in range(k[0]):
                for bb in range(k[1]):
                    yy, xx = i * s[0] + a - t, j * s[1] + bb - l
                    if 0 <= yy < h and 0 <= xx < w:
                        total += x[:, :, yy, xx]
                        count += 1
            out[:, :, i, j] = total / (k[0] * k[1] if include else count)
    return out


@pytest.mark.parametrize("pad", [(0, 1, 2, 0), (2, 0, 1, 1)])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avgpool2d_asymmetric_padding(pad: tuple[int, int, int, int], count_include_pad: bool) -> None:
    x = randn(np.random.default_rng(7), 2, 3, 7, 6)
    y = ref.avgpool2d(x, (3, 3), (2, 1), pad, count_include_pad=count_include_pad)
    close(y, _naive_avgpool(x.astype(np.float64), (3, 3), (2, 1), pad, count_include_pad))
    if count_include_pad:  # same as zero-padding then pooling without padding
        t, l, b, r = pad
        expected = F.avg_pool2d(F.pad(t64(x), (l, r, t, b)), (3, 3), (2, 1))
        close(y, expected)


@pytest.mark.parametrize("shape", [(1, 3, 4, 4), (2, 5, 7, 3), (1, 1, 1, 1)])
def test_global_avgpool_matches_torch(shape: tuple[int, ...]) -> None:
    x = randn(np.random.default_rng(sum(shape)), *shape)
    close(ref.global_avgpool(x), F.adaptive_avg_pool2d(t64(x), 1))


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 7)])
def test_batchnorm_matches_torch(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(shape))
    c = shape[1]
    x = randn(rng, *shape)
    gamma, beta, mean = randn(rng, c), randn(rng, c), randn(rng, c)
    var = (rng.random(c) + 0.1).astype(np.float32)
    eps = 1e-3
    y = ref.batchnorm(x, gamma, beta, mean, var, eps)
    expected = F.batch_norm(t64(x), t64(mean), t64(var), t64(gamma), t64(beta), training=False, eps=eps)
    close(y, expected)


@pytest.mark.parametrize("shape", [(1, 10), (4, 3), (8, 100)])
def test_softmax_cross_entropy_matches_torch(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[1])
    logits = (randn(rng, *shape) * 10).astype(np.float32)
    logits[0, 0] = 80.0  # exp overflows f32 without the max shift
    labels = rng.integers(0, shape[1], size=shape[0]).astype(np.int32)
    loss = ref.softmax_cross_entropy(logits, labels)
    assert loss.shape == ()
    expected = F.cross_entropy(t64(logits), torch.from_numpy(labels.astype(np.int64)))
    close(loss, expected)


def test_softmax_cross_entropy_rejects_bad_labels() -> None:
    with pytest.raises(ValueError):
        ref.softmax_cross_entropy(np.zeros((2, 3), np.float32), np.array([0, 3], np.int32))


@pytest.mark.parametrize("shape", [(1, 10), (2, 3, 4, 5), (7,)])
def test_mse_matches_torch(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape))
    p, t = randn(rng, *shape), randn(rng, *shape)
    loss = ref.mse(p, t)
    assert loss.shape == ()
    close(loss, F.mse_loss(t64(p), t64(t)))


@pytest.mark.parametrize("axis", [0, 1, 2, 4])
def test_flatten_and_reshape(axis: int) -> None:
    x = randn(np.random.default_rng(axis), 2, 3, 4, 5)
    y = ref.flatten(x, axis)
    expected = torch.from_numpy(x).reshape(math.prod(x.shape[:axis]), -1).numpy()
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(ref.reshape(x, (6, 20)), torch.from_numpy(x).reshape(6, 20).numpy())
    q = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    assert ref.reshape(q, (4, 6)).dtype == np.int32


# ---------------------------------------------------------------------------------------
# quantize / dequantize
# ---------------------------------------------------------------------------------------

QRANGES = [(-128, 127), (0, 255), (-32768, 32767)]


def quantize_oracle(x: NDArray, s: NDArray, z: NDArray, qmin: int, qmax: int) -> NDArray:
    # Correctly rounded f32 quotient (f64 division then rounding to f32 is exact here:
    # f64 has more than 2*24+2 bits), then ties-to-even, offset and clamp in Python ints.
    quotient = (x.astype(np.float64) / s.astype(np.float64)).astype(np.float32)
    out = np.empty(x.shape, dtype=np.int64)
    for idx in np.ndindex(x.shape):
        r = float(quotient[idx])
        fl = math.floor(r)
        frac = r - fl
        rounded = fl + 1 if frac > 0.5 or (frac == 0.5 and fl % 2 == 1) else fl
        zi = int(np.broadcast_to(z, x.shape)[idx])
        out[idx] = min(max(rounded + zi, qmin), qmax)
    return out


@pytest.mark.parametrize("qrange", QRANGES)
def test_quantize_matches_oracle_and_round_trips(qrange: tuple[int, int]) -> None:
    qmin, qmax = qrange
    rng = np.random.default_rng(qmax)
    scale = np.float32(rng.uniform(0.001, 0.1))
    zp = np.int32(rng.integers(qmin, qmax + 1) if qmin < 0 else rng.integers(0, 64))
    lo, hi = float(scale) * (qmin - int(zp)), float(scale) * (qmax - int(zp))
    x = rng.uniform(lo, hi, size=(4, 50)).astype(np.float32)
    q = ref.quantize(x, scale, zp, qmin, qmax)
    assert q.dtype == np.int32
    np.testing.assert_array_equal(q, quantize_oracle(x, np.asarray(scale), np.asarray(zp), qmin, qmax))
    back = ref.dequantize(q, scale, zp)
    assert back.dtype == np.float32
    err = np.abs(back.astype(np.float64) - x.astype(np.float64))
    assert (err <= float(scale) / 2 * (1 + 1e-5)).all()
    # Saturation outside the representable range, including infinities.
    outside = np.array([hi + 10 * float(scale), hi * 1e6 + 1, np.inf, lo - 10 * float(scale), -np.inf, -1e30], np.float32)
    np.testing.assert_array_equal(
        ref.quantize(outside, scale, zp, qmin, qmax), [qmax, qmax, qmax, qmin, qmin, qmin]
    )


def test_quantize_per_channel_matches_oracle() -> None:
    rng = np.random.default_rng(3)
    x = randn(rng, 4, 3, 5)
    scale = rng.uniform(0.005, 0.05, size=3).astype(np.float32)
    zp = rng.integers(-20, 20, size=3).astype(np.int32)
    q = ref.quantize(x, scale, zp, -128, 127, axis=1)
    np.testing.assert_array_equal(q, quantize_oracle(x, scale[None, :, None], zp[None, :, None], -128, 127))
    back = ref.dequantize(q, scale, zp, axis=1)
    expected = torch.from_numpy(scale[None, :, None]) * torch.from_numpy(
        (q.astype(np.int64) - zp[None, :, None]).astype(np.float32)
    )
    np.testing.assert_array_equal(back, expected.numpy())


def test_quantize_rounds_half_to_even() -> None:
    x = np.array([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5, 0.49999997, 2.5000002], np.float32)
    q = ref.quantize(x, np.float32(1.0), np.int32(0), -128, 127)
    np.testing.assert_array_equal(q, [0, 2, 2, 4, 0, -2, -2, -4, 0, 3])
    # Through a non-trivial scale: 0.125 / 0.25 = 0.5 exactly, etc.
    x = np.array([0.125, 0.375, 0.625, -0.125, -0.375], np.float32)
    q = ref.quantize(x, np.float32(0.25), np.int32(10), 0, 255)
    np.testing.assert_array_equal(q, [10, 12, 12, 10, 8])


def test_quantize_divides_in_float32() -> None:
    # Find inputs where the f32 quotient lands exactly on a tie (or across it) although the
    # exact quotient does not: only a float32 division reproduces C's rintf(x / s).
    rng = np.random.default_rng(11)
    found = 0
    for _ in range(20000):
        s = np.float32(rng.uniform(0.01, 1.0))
        k = int(rng.integers(-100, 100))
        x = np.float32(float(s) * (k + 0.5))
        exact = Fraction(float(x)) / Fraction(float(s))
        q32 = float(np.rint(np.float32(float(x) / float(s))))  # f32-rounded quotient
        q_exact = math.floor(exact + Fraction(1, 2)) if exact != math.floor(exact) + Fraction(1, 2) else None
        if q_exact is None or q_exact == q32:
            continue
        found += 1
        got = ref.quantize(np.array([x]), s, np.int32(0), -1000, 1000)
        assert int(got[0]) == int(q32), (x, s)
        if found >= 5:
            break
    assert found >= 5


# ---------------------------------------------------------------------------------------
# Fixed point (exact oracles in Python ints / Fractions)
# ---------------------------------------------------------------------------------------


def qm_oracle(real: float) -> tuple[int, int]:
    r = Fraction(real)
    if r == 0:
        return 0, 0
    shift = 0
    while r / Fraction(2) ** shift >= 1:
        shift += 1
    while r / Fraction(2) ** shift < Fraction(1, 2):
        shift -= 1
    m = r / Fraction(2) ** shift * 2**31
    q = math.floor(m + Fraction(1, 2))  # m > 0: half away from zero
    if q == 2**31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, shift


def srdhm_oracle(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = 2**30 if ab >= 0 else 1 - 2**30
    return int(Fraction(ab + nudge, 2**31))  # int() truncates toward zero, like C


def rdbpot_oracle(x: int, e: int) -> int:
    v = Fraction(x, 2**e)
    fl = math.floor(v)
    frac = v - fl
    if frac > Fraction(1, 2) or (frac == Fraction(1, 2) and x >= 0):
        return fl + 1
    return fl


def mbqm_oracle(x: int, m: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    x1 = min(max(x * 2**left, INT32_MIN), INT32_MAX)
    return rdbpot_oracle(srdhm_oracle(x1, m), right)


def test_quantize_multiplier_matches_oracle() -> None:
    rng = np.random.default_rng(5)
    reals = list(np.exp(rng.uniform(-25, 8, size=400)).astype(np.float32))
    reals += [np.float32(v) for v in (0.0, 0.5, 1.0, 0.25, 0.9999999, 2.0**-31, 2.0**-32, 2.0**-40, 3.0e-10, 1.5)]
    reals += [np.nextafter(np.float32(0.5), np.float32(0)), np.nextafter(np.float32(1.0), np.float32(2))]
    for r in reals:
        m, s = ref.quantize_multiplier(r)
        assert (m, s) == qm_oracle(float(r)), r
        if m:
            assert 2**30 <= m < 2**31
            assert abs(Fraction(m) * Fraction(2) ** (s - 31) - Fraction(float(r))) <= Fraction(2) ** (s - 32)
    with pytest.raises(ValueError):
        ref.quantize_multiplier(-0.5)
    with pytest.raises(ValueError):
        ref.quantize_multiplier(float("inf"))


def test_srdhm_and_rdbpot_match_oracles() -> None:
    rng = np.random.default_rng(9)
    a = rng.integers(INT32_MIN, INT32_MAX, size=3000, endpoint=True)
    b = rng.integers(INT32_MIN, INT32_MAX, size=3000, endpoint=True)
    edges = [INT32_MIN, INT32_MIN + 1, -1, 0, 1, 2**30, -(2**30), INT32_MAX]
    a = np.concatenate([a, np.repeat(edges, len(edges))])
    b = np.concatenate([b, np.tile(edges, len(edges))])
    got = ref.saturating_rounding_doubling_high_mul(a, b)
    assert got[-len(edges) ** 2] == INT32_MAX  # INT32_MIN * INT32_MIN saturates
    for ai, bi, gi in zip(a.tolist(), b.tolist(), got.tolist()):
        assert gi == srdhm_oracle(ai, bi), (ai, bi)
        if not ai == bi == INT32_MIN:  # equivalently: round half toward +inf of a*b/2^31
            assert gi == math.floor(Fraction(ai * bi, 2**31) + Fraction(1, 2))
    x = rng.integers(INT32_MIN, INT32_MAX, size=3000, endpoint=True)
    e = rng.integers(0, 32, size=3000)
    ties = np.array([-3, -2, -1, 1, 2, 3, 5, -5, 6, -6, 2**30, -(2**30), INT32_MIN, INT32_MAX])
    x = np.concatenate([x, ties, ties])
    e = np.concatenate([e, np.ones_like(ties), np.full_like(ties, 2)])
    got = ref.rounding_divide_by_pot(x, e)
    for xi, ei, gi in zip(x.tolist(), e.tolist(), got.tolist()):
        assert gi == rdbpot_oracle(xi, ei), (xi, ei)


def test_multiply_by_quantized_multiplier_matches_oracle() -> None:
    rng = np.random.default_rng(13)
    n = 4000
    x = np.concatenate(
        [
            rng.integers(INT32_MIN, INT32_MAX, size=n // 2, endpoint=True),
            rng.integers(-100000, 100000, size=n // 2),
        ]
    )
    m = np.concatenate(
        [
            rng.integers(2**30, 2**31 - 1, size=n // 2, endpoint=True),  # normalised
            rng.integers(INT32_MIN, INT32_MAX, size=n // 2, endpoint=True),  # anything, incl. < 0
        ]
    )
    s = rng.integers(-31, 8, size=n)
    edge_x = [INT32_MIN, INT32_MIN, INT32_MAX, -1, 1, 0, INT32_MIN, 3]
    edge_m = [INT32_MIN, 2**30, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN, INT32_MIN, 2**30]
    edge_s = [0, 0, -31, 0, 31, 5, 3, 40]
    x, m, s = (np.concatenate([u, v]) for u, v in ((x, edge_x), (m, edge_m), (s, edge_s)))
    got = ref.multiply_by_quantized_multiplier(x, m, s)
    assert got.dtype == np.int64
    assert got[n] == INT32_MAX  # INT32_MIN * INT32_MIN, no shift
    for xi, mi, si, gi in zip(x.tolist(), m.tolist(), s.tolist(), got.tolist()):
        assert gi == mbqm_oracle(xi, mi, si), (xi, mi, si)
    with pytest.raises(OverflowError):
        ref.multiply_by_quantized_multiplier(np.array([2**31]), 2**30, 0)


def test_multiply_by_quantized_multiplier_approximates_real_product() -> None:
    rng = np.random.default_rng(17)
    for _ in range(300):
        real = np.float32(np.exp(rng.uniform(-20, 0)))
        mult, shift = ref.quantize_multiplier(real)
        x = rng.integers(-(2**24), 2**24, size=20)
        got = ref.multiply_by_quantized_multiplier(x, mult, shift)
        exact = x.astype(np.float64) * float(real)
        assert (np.abs(got - exact) <= 1.0).all()


def test_requantize_matches_oracles() -> None:
    rng = np.random.default_rng(19)
    for trial in range(20):
        q = rng.integers(-128, 128, size=200)
        s_in, s_out = np.float32(rng.uniform(0.01, 0.2)), np.float32(rng.uniform(0.01, 0.2))
        z_in, z_out = int(rng.integers(-20, 20)), int(rng.integers(0, 255))
        y = ref.requantize(q, s_in, z_in, s_out, z_out, 0, 255)
        assert y.dtype == np.int32
        m_real = np.float32(s_in) / np.float32(s_out)  # the documented f32 division
        mult, shift = qm_oracle(float(m_real))
        exact = [min(max(mbqm_oracle(int(qi) - z_in, mult, shift) + z_out, 0), 255) for qi in q]
        np.testing.assert_array_equal(y, exact)
        flt = np.clip(np.rint(float(s_in) * (q - z_in) / float(s_out)) + z_out, 0, 255)
        assert np.abs(y - flt).max() <= 1


# ---------------------------------------------------------------------------------------
# Quantized layers against a float oracle
# ---------------------------------------------------------------------------------------


def _float_oracle_finish(
    y_real: torch.Tensor, activation: str, sy: float, zy: int, qmin: int, qmax: int
) -> NDArray:
    if activation == "relu":
        y_real = y_real.clamp(min=0.0)
    elif activation == "relu6":
        y_real = y_real.clamp(0.0, 6.0)
    q = torch.round(y_real / sy) + zy
    return q.clamp(qmin, qmax).numpy()


def _agree(got: NDArray, expected: NDArray) -> None:
    assert got.dtype == np.int32 and got.shape == expected.shape
    diff = np.abs(got.astype(np.int64) - expected.astype(np.int64))
    assert diff.max() <= 1
    assert (diff == 0).mean() >= 0.99


QCONV_CASES = [
    # (N, C, H, W, O, K, stride, padding, groups, per_channel, activation)
    (2, 3, 9, 9, 8, 3, (1, 1), (1, 1, 1, 1), 1, True, "none"),
    (1, 8, 8, 10, 8, 3, (2, 1), (0, 1, 2, 0), 8, True, "relu"),
    (1, 6, 7, 7, 4, 1, (1, 1), (0, 0, 0, 0), 2, False, "relu6"),
    (2, 4, 6, 6, 6, 3, (1, 2), (2, 0, 1, 1), 1, False, "none"),
]


@pytest.mark.parametrize("case", QCONV_CASES)
def test_qconv2d_matches_float_oracle(case: tuple) -> None:
    n, c, h, w, o, k, stride, pad, groups, per_channel, activation = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    qmin, qmax = -128, 127
    sx, zx = np.float32(rng.uniform(0.01, 0.05)), np.int32(rng.integers(-30, 30))
    x = rng.integers(qmin, qmax + 1, size=(n, c, h, w)).astype(np.int32)
    wq = rng.integers(-127, 128, size=(o, c // groups, k, k)).astype(np.int32)
    if per_channel:
        sw = rng.uniform(0.002, 0.02, size=o).astype(np.float32)
        zw = np.zeros(o, np.int32)
    else:
        sw = np.float32(rng.uniform(0.002, 0.02))
        zw = np.int32(rng.integers(-10, 10))
    sw_c = np.broadcast_to(np.asarray(sw, np.float64), (o,))
    zw_c = np.broadcast_to(np.asarray(zw, np.int64), (o,))
    bias = rng.integers(-3000, 3000, size=o).astype(np.int32)
    # float oracle: dequantize everything, f64 conv, requantize by division.
    xr = float(sx) * (x.astype(np.float64) - int(zx))
    wr = sw_c[:, None, None, None] * (wq.astype(np.float64) - zw_c[:, None, None, None])
    br = float(sx) * sw_c * bias
    top, left, bottom, right = pad
    y_real = F.conv2d(F.pad(t64(xr), (left, right, top, bottom)), t64(wr), t64(br), stride=stride, groups=groups)
    sy = np.float32(float(y_real.abs().max()) / 90.0)
    if activation == "relu6":
        sy = np.float32(6.0 / 100.0)
    zy = np.int32(rng.integers(-20, 20))
    got = ref.qconv2d(x, sx, zx, wq, sw, zw, bias, sy, zy, stride, pad, groups, activation, qmin, qmax)
    expected = _float_oracle_finish(y_real, activation, float(sy), int(zy), qmin, qmax)
    _agree(got, expected)
    if activation != "none":
        assert got.min() >= zy
    if activation == "relu6":
        assert got.max() <= int(zy) + 100 and (got == int(zy) + 100).any()


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("activation", ["none", "relu", "relu6"])
@pytest.mark.parametrize("unsigned_out", [True, False])
def test_qdense_matches_float_oracle(per_channel: bool, activation: str, unsigned_out: bool) -> None:
    rng = np.random.default_rng(int(per_channel) * 10 + len(activation) + int(unsigned_out) * 100)
    n, kdim, o = 6, 64, 20
    qmin, qmax = (0, 255) if unsigned_out else (-128, 127)
    sx, zx = np.float32(rng.uniform(0.01, 0.05)), np.int32(rng.integers(-30, 30))
    x = rng.integers(-128, 128, size=(n, kdim)).astype(np.int32)
    wq = rng.integers(-127, 128, size=(o, kdim)).astype(np.int32)
    if per_channel:
        sw = rng.uniform(0.002, 0.02, size=o).astype(np.float32)
        zw = np.zeros(o, np.int32)
    else:
        sw = np.float32(rng.uniform(0.002, 0.02))
        zw = np.int32(rng.integers(-10, 10))
    sw_c = np.broadcast_to(np.asarray(sw, np.float64), (o,))
    zw_c = np.broadcast_to(np.asarray(zw, np.int64), (o,))
    bias = rng.integers(-3000, 3000, size=o).astype(np.int32)
    xr = float(sx) * (x.astype(np.float64) - int(zx))
    wr = sw_c[:, None] * (wq.astype(np.float64) - zw_c[:, None])
    y_real = F.linear(t64(xr), t64(wr), t64(float(sx) * sw_c * bias))
    sy = np.float32(6.0 / 100.0) if activation == "relu6" else np.float32(float(y_real.abs().max()) / 100.0)
    zy = np.int32(rng.integers(100, 140) if unsigned_out else rng.integers(-20, 20))
    got = ref.qdense(x, sx, zx, wq, sw, zw, bias, sy, zy, activation, qmin, qmax)
    _agree(got, _float_oracle_finish(y_real, activation, float(sy), int(zy), qmin, qmax))


def test_qdense_accumulator_overflow_is_an_error() -> None:
    x = np.full((1, 4), 127, np.int32)
    w = np.full((1, 4), 127, np.int32)
    with pytest.raises(OverflowError):
        ref.qdense(x, 1.0, 0, w, 1.0, 0, np.array([2**31 - 100], np.int32), 1.0, 0)


def test_activation_range() -> None:
    assert ref.activation_range("none", 0.1, 5, -128, 127) == (-128, 127)
    assert ref.activation_range("relu", 0.1, 5, -128, 127) == (5, 127)
    assert ref.activation_range("relu", 0.1, -200, -128, 127) == (-128, 127)
    assert ref.activation_range("relu6", np.float32(0.1), -100, -128, 127) == (-100, -40)
    assert ref.activation_range("relu6", np.float32(0.01), 0, -128, 127) == (0, 127)
    with pytest.raises(ValueError):
        ref.activation_range("gelu", 0.1, 0, -128, 127)


def _exact_layer_oracle(
    acc: NDArray, sx: np.float32, sw: NDArray, sy: np.float32, zy: int, lo: int, hi: int
) -> NDArray:
    """Documented integer pipeline in Python ints: M[c] = f32(f32(sx*sw[c]) / sy)."""
    out = np.empty(acc.shape, dtype=np.int64)
    for idx in np.ndindex(acc.shape):
        c = idx[1]
        m_real = np.float32(np.float32(sx * sw[c]) / sy)
        mult, shift = qm_oracle(float(m_real))
        out[idx] = min(max(mbqm_oracle(int(acc[idx]), mult, shift) + zy, lo), hi)
    return out


@pytest.mark.parametrize("case", QCONV_CASES)
def test_qconv2d_bit_exact_against_integer_oracle(case: tuple) -> None:
    n, c, h, w, o, k, stride, pad, groups, per_channel, activation = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()) + 1)
    sx, zx = np.float32(rng.uniform(0.01, 0.05)), int(rng.integers(-30, 30))
    x = rng.integers(-128, 128, size=(n, c, h, w))
    wq = rng.integers(-127, 128, size=(o, c // groups, k, k))
    sw = rng.uniform(0.002, 0.02, size=o).astype(np.float32) if per_channel else np.float32(rng.uniform(0.002, 0.02))
    zw = np.zeros(o, np.int64) if per_channel else np.full(o, int(rng.integers(-10, 10)))
    bias = rng.integers(-3000, 3000, size=o)
    sy, zy = np.float32(rng.uniform(0.02, 0.2)), int(rng.integers(-20, 20))
    top, left, bottom, right = pad
    # integer accumulation via an exact f64 conv (all partial sums are far below 2^53)
    acc = F.conv2d(
        F.pad(t64(x - zx), (left, right, top, bottom)),
        t64(wq - zw[:, None, None, None]),
        t64(bias),
        stride=stride,
        groups=groups,
    ).numpy()
    assert np.array_equal(acc, np.rint(acc))
    lo, hi = {"none": (-128, 127), "relu": (max(-128, zy), 127)}.get(
        activation, (max(-128, zy), min(127, zy + int(np.rint(np.float32(6.0) / sy))))
    )
    sw_c = np.broadcast_to(np.asarray(sw, np.float32), (o,))
    expected = _exact_layer_oracle(acc.astype(np.int64), sx, sw_c, sy, zy, lo, hi)
    got = ref.qconv2d(
        x, sx, zx, wq, sw, zw if per_channel else zw[0], bias, sy, zy, stride, pad, groups, activation
    )
    np.testing.assert_array_equal(got, expected)


def test_qdense_bit_exact_against_integer_oracle() -> None:
    rng = np.random.default_rng(23)
    n, kdim, o = 5, 40, 12
    sx, zx = np.float32(0.0371), 7
    x = rng.integers(-128, 128, size=(n, kdim))
    wq = rng.integers(-127, 128, size=(o, kdim))
    sw = rng.uniform(0.002, 0.02, size=o).astype(np.float32)
    zw = rng.integers(-5, 5, size=o)
    bias = rng.integers(-3000, 3000, size=o)
    sy, zy = np.float32(0.113), 100
    acc = [[sum((int(x[i, j]) - zx) * (int(wq[c, j]) - int(zw[c])) for j in range(kdim)) + int(bias[c])
            for c in range(o)] for i in range(n)]
    expected = _exact_layer_oracle(np.array(acc, dtype=np.int64), sx, sw, sy, zy, zy, 255)
    got = ref.qdense(x, sx, zx, wq, sw, zw, bias, sy, zy, "relu", 0, 255)
    np.testing.assert_array_equal(got, expected)


def test_layer_multiplier_uses_documented_f32_order() -> None:
    # Scales for which other f32 evaluation orders of sx*sw/sy round differently; large
    # accumulators (via the bias, K = 1) make a 1-ulp change of M visible in the output.
    rng = np.random.default_rng(29)
    for _ in range(10000):
        sx, sw, sy = (np.float32(v) for v in rng.uniform(0.001, 0.1, size=3))
        documented = np.float32(np.float32(sx * sw) / sy)
        others = {np.float32(sx * np.float32(sw / sy)), np.float32(np.float32(sx / sy) * sw)}
        if all(v != documented for v in others):
            break
    else:
        pytest.fail("no distinguishing scales found")
    o = 2000
    bias = rng.integers(-(2**30), 2**30, size=o)
    x = np.zeros((1, 1), np.int32)
    w = np.zeros((o, 1), np.int32)
    got = ref.qdense(x, sx, 0, w, np.full(o, sw, np.float32), np.zeros(o), bias, sy, 0, "none", INT32_MIN, INT32_MAX)
    mult, shift = qm_oracle(float(documented))
    expected = [mbqm_oracle(int(b), mult, shift) for b in bias]
    np.testing.assert_array_equal(got[0], expected)
    for other in others - {documented}:
        m2, s2 = qm_oracle(float(other))
        assert any(mbqm_oracle(int(b), m2, s2) != e for b, e in zip(bias, expected))
