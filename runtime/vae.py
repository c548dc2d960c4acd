"""Reference semantics of the variational-autoencoder (VAE) ops of `qtrain`.

The ops a convolutional VAE trains with: the transposed convolution of its decoder, the
sigmoid and exp activations, the Gaussian reparameterization z = mu + exp(logvar / 2) * eps
with an on-device normal PRNG, the KL term KL(N(mu, exp(logvar)) || N(0, I)) and the
Bernoulli reconstruction loss on logits. The C kernels are runtime/c/src/vae_f32.c.

Like `odtc.runtime.reference`, inputs and outputs are `np.float32`, and the plain
functions below compute in float64 and round once to f32 (the C kernels, which sum in
float, agree within a small relative tolerance).

Three kinds of function are **bit-exact** with C instead (C built with -ffp-contract=off):

* `standard_normal`, `reparameterize`, `reparameterize_grad_logvar`: the random stream
  must be the same on the host and on the device, so there is no float64 variant;
* the `*_c_f32` functions reproduce the sequence of IEEE f32 operations of the
  corresponding C kernel (same operation order, odtc_expf/odtc_logf via
  `fqt.expf32`/`logf32`, sums sequential in index order starting from +0.0f), for the
  bit-exact quantized pipeline.

Transposed convolution
----------------------
`conv_transpose2d` is PyTorch's `F.conv_transpose2d` (groups 1, dilation 1): x
[N, Cin, H, W], w [Cin, Cout, KH, KW], padding [top, left, bottom, right],
OH = (H - 1) * sh - top - bottom + KH + oph with 0 <= oph < sh. It is the input
gradient of the convolution with the same weight read as OIHW (O = Cin, I = Cout):

    conv_transpose2d(x, w, b) = conv2d_grad_input(dy=x, w, (N, Cout, OH, OW)) + b

and its gradients are forward/weight-gradient convolutions (no new kernel needed):

    dx = conv2d(dy, w, stride, padding)                      (output size H x W)
    dw = conv2d_grad_weight(x=dy, dy=x, (KH, KW), stride, padding)
    db = conv2d_grad_bias(dy)

Output rows no tap reaches -- the last oph - bottom of them when the output padding
exceeds the bottom padding, likewise for columns -- are read by no window of that
convolution, so they hold only the bias.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from odtc.runtime import fqt
from odtc.runtime import reference as ref

F32 = NDArray[np.float32]

# Stream constants of the normal PRNG (distinct from fqt.uniform01's so the two streams of
# one (seed, step) are unrelated).
SEED_MUL = 0x85EBCA6B
STEP_MUL = 0x9E3779B9
STREAM_OFFSET = 0x27D4EB2F
NORMAL_ATTEMPTS = 64  # polar-method attempts per element; P(all rejected) = 0.2146^64 ~ 1e-43

_U32 = 0xFFFFFFFF
_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)
_HALF = np.float32(0.5)
_TWO = np.float32(2.0)
_TWO_M24 = np.float32(5.9604644775390625e-08)  # 2^-24


def _f32(a: ArrayLike) -> F32:
    return np.asarray(a, dtype=np.float32)


def _f64(a: ArrayLike) -> NDArray[np.float64]:
    return _f32(a).astype(np.float64)


def _same_shape(what: str, a: NDArray[Any], b: NDArray[Any]) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes {a.shape} and {b.shape} differ")


def _c_sum(v: F32) -> np.float32:
    """`float acc = 0.0f; for (i...) acc += v[i];`: `fqt.seq_sum_f32` (numpy's add.accumulate
    is strictly sequential), with the leading +0.0f (it only turns an all -0.0 sum into +0.0)."""
    return np.float32(_ZERO + fqt.seq_sum_f32(v))


# ---------------------------------------------------------------------------------------
# Transposed convolution
# ---------------------------------------------------------------------------------------


def conv_transpose2d_output_hw(
    hw: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    output_padding: Sequence[int] = (0, 0),
) -> tuple[int, int]:
    """(OH, OW) = ((H - 1) * sh - top - bottom + KH + oph, (W - 1) * sw - left - right + KW + opw)."""
    oh = (hw[0] - 1) * stride[0] - padding[0] - padding[2] + kernel[0] + output_padding[0]
    ow = (hw[1] - 1) * stride[1] - padding[1] - padding[3] + kernel[1] + output_padding[1]
    return oh, ow


def _conv_transpose_geometry(
    x: NDArray[Any],
    w: NDArray[Any],
    stride: Sequence[int] | int,
    padding: Sequence[int] | int,
    output_padding: Sequence[int] | int,
) -> tuple[tuple[int, int], tuple[int, int, int, int], tuple[int, int], tuple[int, int]]:
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[0]:
        raise ValueError(f"conv_transpose2d expects x [N, Cin, H, W] and w [Cin, Cout, KH, KW], "
                         f"got {x.shape} and {w.shape}")
    s = ref._pair(stride, "stride")  # pyright: ignore[reportPrivateUsage]
    pads = ref._pads(padding)  # pyright: ignore[reportPrivateUsage]
    op = ref._pair(output_padding, "output_padding")  # pyright: ignore[reportPrivateUsage]
    if min(s) < 1 or not (0 <= op[0] < s[0] and 0 <= op[1] < s[1]):
        raise ValueError(f"conv_transpose2d: need stride >= 1 and 0 <= output_padding < stride, "
                         f"got stride {s} and output_padding {op}")
    ohw = conv_transpose2d_output_hw(x.shape[2:], w.shape[2:], s, pads, op)
    if min(ohw) < 1:
        raise ValueError(f"conv_transpose2d: padding {pads} leaves an empty output {ohw}")
    return s, pads, op, ohw


def conv_transpose2d(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    stride: Sequence[int] | int = (1, 1),
    padding: Sequence[int] | int = (0, 0, 0, 0),
    output_padding: Sequence[int] | int = (0, 0),
) -> F32:
    """Transposed 2-D convolution (PyTorch `F.conv_transpose2d`, groups 1):

        y[n, co, oh, ow] = b[co] + sum over ci, kh, kw with oh = h*sh - top + kh,
                           ow = w*sw - left + kw of x[n, ci, h, w] * W[ci, co, kh, kw]

    = `conv2d_grad_input(dy=x, w, (N, Cout, OH, OW), stride, padding)` + b (module
    docstring). float64 sum including the bias, rounded once to f32.
    """
    xa, wa = _f64(x), _f64(w)
    s, pads, _, (oh, ow) = _conv_transpose_geometry(xa, wa, stride, padding, output_padding)
    n, _, h, wd = xa.shape
    cout, kh, kw = wa.shape[1:]
    top, left = pads[0], pads[1]
    # scatter every x * W tap into the uncropped output [(H-1)*sh + KH, (W-1)*sw + KW],
    # grown so that the output-padding rows/columns exist (they stay 0)
    full = np.zeros((n, cout, max((h - 1) * s[0] + kh, top + oh), max((wd - 1) * s[1] + kw, left + ow)))
    contrib = np.einsum("nihw,ioab->nohwab", xa, wa, optimize=True)
    for a in range(kh):
        for c in range(kw):
            full[:, :, a : a + s[0] * (h - 1) + 1 : s[0], c : c + s[1] * (wd - 1) + 1 : s[1]] += contrib[..., a, c]
    y = full[:, :, top : top + oh, left : left + ow]
    if b is not None:
        y = y + _f64(b).reshape(1, cout, 1, 1)
    return np.ascontiguousarray(y).astype(np.float32)


def conv_transpose2d_grad_input(
    dy: ArrayLike,
    w: ArrayLike,
    stride: Sequence[int] | int = (1, 1),
    padding: Sequence[int] | int = (0, 0, 0, 0),
) -> F32:
    """dL/dx of `conv_transpose2d` = `conv2d(dy, w, stride=stride, padding=padding)` (C:
    odtc_conv2d_f32 with c = Cout, o = Cin, h x w = OH x OW). Output padding needs no
    argument: its rows are read by no output position of the floor-mode convolution."""
    return ref.conv2d(dy, w, None, stride, padding)


def conv_transpose2d_grad_weight(
    x: ArrayLike,
    dy: ArrayLike,
    kernel: Sequence[int] | int,
    stride: Sequence[int] | int = (1, 1),
    padding: Sequence[int] | int = (0, 0, 0, 0),
) -> F32:
    """dL/dW [Cin, Cout, KH, KW] of `conv_transpose2d` = `conv2d_grad_weight(x=dy, dy=x, ...)`
    (C: odtc_conv2d_f32_grad_weight with c = Cout, o = Cin, h x w = OH x OW)."""
    return ref.conv2d_grad_weight(dy, x, kernel, stride, padding)


def conv_transpose2d_grad_bias(dy: ArrayLike) -> F32:
    """dL/db of `conv_transpose2d` = `conv2d_grad_bias(dy)`: dy summed over N, OH, OW."""
    return ref.conv2d_grad_bias(dy)


# ---------------------------------------------------------------------------------------
# Activations (float64 reference)
# ---------------------------------------------------------------------------------------


def sigmoid(x: ArrayLike) -> F32:
    """1 / (1 + exp(-x)) in float64 (as e / (1 + e), e = exp(x), for x < 0: no overflow)."""
    xa = _f64(x)
    e = np.exp(-np.abs(xa))
    return np.where(xa >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float32)


def sigmoid_grad(dy: ArrayLike, y: ArrayLike) -> F32:
    """dL/dx of `sigmoid` from its output y: dy * y * (1 - y) (float64, rounded once)."""
    d, ya = _f64(dy), _f64(y)
    _same_shape("sigmoid_grad", d, ya)
    return (d * ya * (1.0 - ya)).astype(np.float32)


def exp(x: ArrayLike) -> F32:
    """e^x in float64 rounded to f32 (overflow gives inf)."""
    with np.errstate(over="ignore"):
        return np.exp(_f64(x)).astype(np.float32)


def exp_grad(dy: ArrayLike, y: ArrayLike) -> F32:
    """dL/dx of `exp` from its output y: dy * y."""
    d, ya = _f64(dy), _f64(y)
    _same_shape("exp_grad", d, ya)
    return (d * ya).astype(np.float32)


# ---------------------------------------------------------------------------------------
# Gaussian PRNG and reparameterization (bit-exact with C)
# ---------------------------------------------------------------------------------------


def normal_stream_base(seed: int, step: int) -> np.uint32:
    """hash32(seed * 0x85EBCA6B + step * 0x9E3779B9 + 0x27D4EB2F) (uint32 wrap-around;
    seed and step are int32, taken as their two's-complement uint32)."""
    key = ((seed & _U32) * SEED_MUL + (step & _U32) * STEP_MUL + STREAM_OFFSET) & _U32
    return np.uint32(fqt.hash32(np.array([key], dtype=np.uint32))[0])


def _logf32(x: F32) -> F32:
    """odtc_logf element-wise, bit for bit: a vectorised `fqt.logf32` for positive normal
    finite inputs (every other element goes through the scalar port)."""
    xa = np.asarray(x, dtype=np.float32)
    ix = xa.view(np.uint32).astype(np.int64)
    regular = (ix >= 0x00800000) & (ix < 0x7F800000)
    ix = (np.where(regular, ix, 0x3F800000) + 0x3F800000 - 0x3F3504F3) & _U32
    k = ((ix >> 23) - 127).astype(np.float32)
    m = ((ix & 0x007FFFFF) + 0x3F3504F3).astype(np.uint32).view(np.float32)
    f = m - _ONE
    s = f / (_TWO + f)
    z = s * s
    r = np.full_like(z, np.float32(2.358147353e-1))
    for c in (2.853734791e-1, 4.000033438e-1, 6.666666269e-1):
        r = r * z + np.float32(c)
    r = r * z
    hfsq = (_HALF * f) * f
    out = k * fqt._LN2_HI + ((f - hfsq) + (s * (hfsq + r) + k * fqt._LN2_LO))  # pyright: ignore[reportPrivateUsage]
    for i in np.flatnonzero(~regular.reshape(-1)):
        out.reshape(-1)[i] = fqt.logf32(xa.reshape(-1)[i])
    return out.astype(np.float32)


def standard_normal(seed: int, step: int, n: int) -> F32:
    """n standard normal samples, bit-exact with odtc_standard_normal_f32 (Marsaglia's polar
    method on a counter-based hash stream, so element i depends only on (seed, step, i)):

        base = normal_stream_base(seed, step)
        for a in 0 .. 63:                     (first accepted attempt wins)
            c  = 2 * (64 * i + a)             (uint32)
            u1 = f32(hash32(base + c) >> 8) * 2^-24,  u2 the same with base + c + 1
            v1 = 2.0f * u1 - 1.0f,  v2 = 2.0f * u2 - 1.0f,  s = (v1 * v1) + (v2 * v2)
            if s > 0 and s < 1:  eps_i = v1 * sqrtf((-2.0f * odtc_logf(s)) / s)
        eps_i = 0.0f if no attempt is accepted (probability ~1e-43).
    """
    if n < 0:
        raise ValueError(f"standard_normal: negative count {n}")
    base = np.uint64(normal_stream_base(seed, step))
    out = np.zeros(n, dtype=np.float32)
    pending = np.arange(n, dtype=np.uint64)
    for a in range(NORMAL_ATTEMPTS):
        if pending.size == 0:
            break
        c = (np.uint64(2) * (np.uint64(NORMAL_ATTEMPTS) * pending + np.uint64(a)) + base) & np.uint64(_U32)
        v = []
        for key in (c, (c + np.uint64(1)) & np.uint64(_U32)):
            u = (fqt.hash32(key.astype(np.uint32)) >> np.uint32(8)).astype(np.float32) * _TWO_M24
            v.append(_TWO * u - _ONE)
        v1, v2 = v
        s = v1 * v1 + v2 * v2
        ok = (s > _ZERO) & (s < _ONE)
        if ok.any():
            sa = s[ok]
            out[pending[ok]] = v1[ok] * np.sqrt((np.float32(-2.0) * _logf32(sa)) / sa)
        pending = pending[~ok]
    return out


def _sigma(logvar: F32) -> F32:
    """sigma = odtc_expf(0.5f * logvar)."""
    return fqt.expf32(_HALF * logvar)


def reparameterize(mu: ArrayLike, logvar: ArrayLike, seed: int, step: int) -> F32:
    """z = mu + sigma * eps, sigma = odtc_expf(0.5f * logvar), eps = standard_normal(seed,
    step, numel) in row-major element order; f32, bit-exact with odtc_reparameterize_f32."""
    m, lv = _f32(mu), _f32(logvar)
    _same_shape("reparameterize", m, lv)
    eps = standard_normal(seed, step, m.size).reshape(m.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        return (m + _sigma(lv) * eps).astype(np.float32)


def reparameterize_grad_logvar(dz: ArrayLike, logvar: ArrayLike, seed: int, step: int) -> F32:
    """dL/dlogvar of `reparameterize`: (dz * (sigma * eps)) * 0.5f, sigma and eps as in the
    forward (same seed and step); f32, bit-exact with odtc_reparameterize_f32_grad_logvar.
    (dL/dmu = dz.)"""
    d, lv = _f32(dz), _f32(logvar)
    _same_shape("reparameterize_grad_logvar", d, lv)
    eps = standard_normal(seed, step, lv.size).reshape(lv.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        return ((d * (_sigma(lv) * eps)) * _HALF).astype(np.float32)


# ---------------------------------------------------------------------------------------
# Losses (float64 reference)
# ---------------------------------------------------------------------------------------


def kl_divergence(mu: ArrayLike, logvar: ArrayLike, beta: float = 1.0) -> F32:
    """beta * KL(N(mu, exp(logvar)) || N(0, I)) summed over every element (batch too):
    beta * (-0.5 * sum(1 + logvar - mu^2 - exp(logvar))), float64, rank-0 f32."""
    m, lv = _f64(mu), _f64(logvar)
    _same_shape("kl_divergence", m, lv)
    with np.errstate(over="ignore"):
        kl = -0.5 * np.sum(1.0 + lv - m * m - np.exp(lv))
    return np.asarray(float(np.float32(beta)) * kl, dtype=np.float32)


def kl_divergence_grad_mu(mu: ArrayLike, beta: float = 1.0) -> F32:
    """dKL/dmu = beta * mu."""
    return (float(np.float32(beta)) * _f64(mu)).astype(np.float32)


def kl_divergence_grad_logvar(logvar: ArrayLike, beta: float = 1.0) -> F32:
    """dKL/dlogvar = beta * 0.5 * (exp(logvar) - 1)."""
    with np.errstate(over="ignore"):
        return (float(np.float32(beta)) * 0.5 * (np.exp(_f64(logvar)) - 1.0)).astype(np.float32)


def sigmoid_bce(logits: ArrayLike, target: ArrayLike) -> F32:
    """Binary cross-entropy of sigmoid(logits) against target in [0, 1], summed over every
    element: sum(max(x, 0) - x * t + log1p(exp(-|x|))) (= PyTorch
    `binary_cross_entropy_with_logits(x, t, reduction='sum')`), float64, rank-0 f32."""
    x, t = _f64(logits), _f64(target)
    _same_shape("sigmoid_bce", x, t)
    return np.asarray(np.sum(np.maximum(x, 0.0) - x * t + np.log1p(np.exp(-np.abs(x)))), dtype=np.float32)


def sigmoid_bce_grad(logits: ArrayLike, target: ArrayLike) -> F32:
    """dL/dlogits of `sigmoid_bce`: sigmoid(x) - t (float64, rounded once)."""
    x, t = _f64(logits), _f64(target)
    _same_shape("sigmoid_bce_grad", x, t)
    e = np.exp(-np.abs(x))
    return (np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)) - t).astype(np.float32)


# ---------------------------------------------------------------------------------------
# Bit-exact ports of the C kernels (vae_f32.c), for the bit-exact quantized pipeline
# ---------------------------------------------------------------------------------------


def sigmoid_c_f32(x: ArrayLike) -> F32:
    """odtc_sigmoid_f32: x >= 0: 1.0f / (1.0f + expf(-x)); otherwise (and NaN)
    e / (1.0f + e), e = expf(x)."""
    xa = _f32(x)
    with np.errstate(over="ignore", invalid="ignore"):
        pos = _ONE / (_ONE + fqt.expf32(-xa))
        e = fqt.expf32(xa)
        neg = e / (_ONE + e)
    return np.where(xa >= _ZERO, pos, neg).astype(np.float32)


def sigmoid_grad_c_f32(dy: ArrayLike, y: ArrayLike) -> F32:
    """odtc_sigmoid_f32_grad: (dy * y) * (1.0f - y)."""
    d, ya = _f32(dy), _f32(y)
    _same_shape("sigmoid_grad_c_f32", d, ya)
    with np.errstate(over="ignore", invalid="ignore"):
        return ((d * ya) * (_ONE - ya)).astype(np.float32)


def exp_c_f32(x: ArrayLike) -> F32:
    """odtc_exp_f32: odtc_expf(x)."""
    return fqt.expf32(_f32(x))


def exp_grad_c_f32(dy: ArrayLike, y: ArrayLike) -> F32:
    """odtc_exp_f32_grad: dy * y."""
    d, ya = _f32(dy), _f32(y)
    _same_shape("exp_grad_c_f32", d, ya)
    with np.errstate(over="ignore", invalid="ignore"):
        return (d * ya).astype(np.float32)


def kl_divergence_c_f32(mu: ArrayLike, logvar: ArrayLike, beta: float = 1.0) -> F32:
    """odtc_kl_divergence_f32: acc = +0.0f; acc += ((1.0f + lv) - mu * mu) - expf(lv) in
    index order; result (acc * -0.5f) * beta (rank 0)."""
    m, lv = _f32(mu), _f32(logvar)
    _same_shape("kl_divergence_c_f32", m, lv)
    with np.errstate(over="ignore", invalid="ignore"):
        terms = ((_ONE + lv) - m * m) - fqt.expf32(lv)
        acc = _c_sum(terms.reshape(-1))
        return np.array((acc * np.float32(-0.5)) * np.float32(beta), dtype=np.float32)


def kl_divergence_grad_mu_c_f32(mu: ArrayLike, beta: float = 1.0) -> F32:
    """odtc_kl_divergence_f32_grad_mu: beta * mu."""
    with np.errstate(over="ignore", invalid="ignore"):
        return (np.float32(beta) * _f32(mu)).astype(np.float32)


def kl_divergence_grad_logvar_c_f32(logvar: ArrayLike, beta: float = 1.0) -> F32:
    """odtc_kl_divergence_f32_grad_logvar: (0.5f * beta) * (expf(lv) - 1.0f)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return ((_HALF * np.float32(beta)) * (fqt.expf32(_f32(logvar)) - _ONE)).astype(np.float32)


def _log1p_small_c(e: F32) -> F32:
    """log(1 + e) for e in [0, 1] as the C computes it (Goldberg's log1p: u = 1.0f + e,
    d = u - 1.0f (exact), d == 0 ? e : odtc_logf(u) * (e / d)), accurate to a few ulp
    where logf(1.0f + e) alone would lose every digit of a small e."""
    u = _ONE + e
    d = u - _ONE
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d == _ZERO, e, _logf32(u) * (e / d)).astype(np.float32)


def _bce_terms_c(x: F32, t: F32) -> F32:
    """(relu(x) - x * t) + log1p(expf(-|x|)), relu(x) = x > 0 ? x : 0.0f, -|x| = x > 0 ? -x : x."""
    pos = x > _ZERO
    with np.errstate(over="ignore", invalid="ignore"):
        sp = _log1p_small_c(fqt.expf32(np.where(pos, -x, x)))
        return ((np.where(pos, x, _ZERO) - x * t) + sp).astype(np.float32)


def sigmoid_bce_c_f32(logits: ArrayLike, target: ArrayLike) -> F32:
    """odtc_sigmoid_bce_f32: acc = +0.0f; acc += (relu(x) - x * t) + log1p(expf(-|x|)) in
    index order (log1p as in `_log1p_small_c`); rank 0."""
    x, t = _f32(logits), _f32(target)
    _same_shape("sigmoid_bce_c_f32", x, t)
    return np.array(_c_sum(_bce_terms_c(x, t).reshape(-1)), dtype=np.float32)


def sigmoid_bce_grad_c_f32(logits: ArrayLike, target: ArrayLike) -> F32:
    """odtc_sigmoid_bce_f32_grad: sigmoid (as odtc_sigmoid_f32) - t."""
    x, t = _f32(logits), _f32(target)
    _same_shape("sigmoid_bce_grad_c_f32", x, t)
    with np.errstate(invalid="ignore"):
        return (sigmoid_c_f32(x) - t).astype(np.float32)
