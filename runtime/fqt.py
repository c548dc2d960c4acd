"""Reference semantics of the fully-quantized-training (FQT) ops of `qtrain`.

These are the ops `qtrain-quantize` and `qtrain-partial-update` emit: run-time range
tracking, scale derivation, int32-accumulating forward/backward layers, the
gradient-standardised update of quantized weights, and top-k structure selection. Like
`odtc.runtime.reference` this module is the numeric definition the interpreter executes
and the C kernels (runtime/c/src/fqt.c) reproduce **bit for bit**. Every float operation
below is a single IEEE f32 operation in the stated order (C: `-ffp-contract=off`), and
every reduction over floats is a *sequential* f32 sum in index order (numpy `cumsum`), so
the C loops give identical bits.

Conventions
-----------
* An *accumulator* tensor has type `q<si32, sym>`: real value = scale * acc, zero-point 0
  by construction, so ops on accumulators take only a scale operand.
* A *range* is a `tensor<2xf32>` [min, max]. A range with min > max is *empty* (the
  initial state [1, -1]); the first observation replaces it.
* The per-structure ("row") index of a weight tensor is its dimension 0 (conv filters,
  dense rows).
* Selections (`qtrain-partial-update`): `idx` is int32 [O]; its first `k` entries are the
  selected rows in increasing order, the rest are -1. A gradient computed under a
  selection is *compact*: row r holds structure idx[r] for r < k, rows r >= k are 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from odtc.runtime import reference as ref

F32 = NDArray[np.float32]
I32 = NDArray[np.int32]

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
FLT_MIN = np.float32(1.17549435e-38)
ROUNDINGS = ("nearest", "stochastic")
NORMALIZATIONS = ("standardize", "qas", "none")


def _s(v: ArrayLike) -> np.float32:
    return np.float32(np.asarray(v, dtype=np.float32).reshape(-1)[0])


def _i(v: ArrayLike) -> int:
    return int(np.asarray(v).reshape(-1)[0])


def _chan(v: ArrayLike, n: int, dtype: Any = np.float32) -> NDArray[Any]:
    """A per-tensor (one value) or per-channel ([n] values) scale or zero-point as n values."""
    a = np.asarray(v, dtype=dtype).reshape(-1)
    if a.size == 1:
        return np.full(n, a[0], dtype=dtype)
    if a.size != n:
        raise ValueError(f"expected 1 or {n} per-channel values, got {a.size}")
    return a


def _is_vec(v: ArrayLike) -> bool:
    return np.asarray(v).ndim > 0


def _to_int32(acc: NDArray[Any], what: str, saturate: bool = False) -> I32:
    """The int32 accumulator of an exact integer sum: an overflow raises, or (`saturate`)
    clamps to the int32 range."""
    if saturate:
        return np.clip(np.asarray(acc, dtype=np.int64), INT32_MIN, INT32_MAX).astype(np.int32)
    if acc.size and (acc.min() < INT32_MIN or acc.max() > INT32_MAX):
        raise OverflowError(f"{what}: int32 accumulator overflow")
    return np.asarray(acc, dtype=np.int64).astype(np.int32)


def _wide(e: ArrayLike) -> bool:
    """An int16 error operand: its kernels sum exactly (int64) and saturate to int32, since
    |e − ze| up to 65535 times an 8-bit |v − zv| up to 255 can exceed int32 after 129
    products (errors=int16 with u8-asym; per-channel rescaled errors)."""
    return np.asarray(e).dtype == np.int16


def seq_sum_f32(v: NDArray[np.float32]) -> np.float32:
    """Sequential f32 sum in index order (what a plain C loop computes)."""
    if v.size == 0:
        return np.float32(0.0)
    return np.float32(np.cumsum(v.reshape(-1), dtype=np.float32)[-1])


# ---------------------------------------------------------------------------------------
# Scalars and ranges
# ---------------------------------------------------------------------------------------


def scale_mul(a: ArrayLike, b: ArrayLike) -> F32:
    """f32(a * b): the scale of an accumulator of two quantized operands. Rank 0, or with a
    per-channel b (weight scales [O]) the [O] scales of a per-channel accumulator."""
    if _is_vec(b):
        return (_s(a) * np.asarray(b, dtype=np.float32)).astype(np.float32)
    return np.array(_s(a) * _s(b), dtype=np.float32)


def scale_max(s: ArrayLike) -> F32:
    """The largest of per-channel scales (rank 0)."""
    return np.array(np.asarray(s, dtype=np.float32).max(), dtype=np.float32)


def minmax(t: ArrayLike, scale: ArrayLike | None = None) -> F32:
    """[min, max] of the real values: f32 tensors directly, accumulators as f32(scale * f32(acc)).
    A per-channel accumulator (scale [C], channels on axis 1): the min over channels of
    f32(s[c] * f32(min of channel c)), the max likewise (s > 0, so per element the same)."""
    a = np.asarray(t)
    if scale is None:
        f = np.asarray(a, dtype=np.float32)
        return np.array([f.min(), f.max()], dtype=np.float32)
    if _is_vec(scale):
        c = a.shape[1]
        sc = _chan(scale, c)
        per = np.moveaxis(a, 1, 0).reshape(c, -1)
        lo_c = (sc * per.min(axis=1).astype(np.float32)).astype(np.float32)
        hi_c = (sc * per.max(axis=1).astype(np.float32)).astype(np.float32)
        return np.array([lo_c.min(), hi_c.max()], dtype=np.float32)
    s = _s(scale)
    lo = s * np.float32(int(a.min()))
    hi = s * np.float32(int(a.max()))
    return np.array([lo, hi], dtype=np.float32)


def ema(old: ArrayLike, obs: ArrayLike, alpha: float) -> F32:
    """Exponential moving average of a range: old + f32(alpha) * (obs - old), per element;
    an empty `old` (min > max) is replaced by `obs`."""
    o = np.asarray(old, dtype=np.float32).reshape(2)
    n = np.asarray(obs, dtype=np.float32).reshape(2)
    if o[0] > o[1]:
        return n.copy()
    a = np.float32(alpha)
    return (o + a * (n - o)).astype(np.float32)


def running_max(old: ArrayLike, value: ArrayLike) -> F32:
    """max(old, |value|) (rank 0 f32): the largest loss seen so far."""
    return np.array(max(_s(old), np.float32(abs(_s(value)))), dtype=np.float32)


def qparams(r: ArrayLike, qmin: int, qmax: int, symmetric: bool) -> tuple[F32, I32]:
    """Scale and zero-point of a range (widened to contain 0).

    lo = min(r0, 0), hi = max(r1, 0);
    asymmetric: s = (hi - lo) / f32(qmax - qmin), z = clamp(qmin - rintf(lo / s), qmin, qmax);
    symmetric:  s = max(-lo, hi) / f32(qmax),       z = 0.
    A scale that is not a normal positive finite f32 (empty or all-zero range) becomes 1.
    An empty range (no observation yet) counts as [0, 0]: s = 1 and, asymmetric, z = qmin.
    """
    v = np.asarray(r, dtype=np.float32).reshape(2)
    if v[0] > v[1]:
        v = np.zeros(2, dtype=np.float32)
    lo = min(v[0], np.float32(0.0))
    hi = max(v[1], np.float32(0.0))
    if symmetric:
        s = max(-lo, hi) / np.float32(qmax)
    else:
        s = (hi - lo) / np.float32(qmax - qmin)
    s = np.float32(s)
    if not (np.isfinite(s) and s >= FLT_MIN):
        s = np.float32(1.0)
    if symmetric:
        z = 0
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            t = float(np.rint(np.float32(lo / s)))
        # non-finite ranges (a diverged run) as the C kernel: NaN -> qmin, -inf -> qmax
        z = qmin if t != t else int(min(max(float(qmin) - t, float(qmin)), float(qmax)))
    return np.array(s, dtype=np.float32), np.array(z, dtype=np.int32)


# ---------------------------------------------------------------------------------------
# Forward layers with int32 accumulators
# ---------------------------------------------------------------------------------------


def quantize_bias(b: ArrayLike, acc_scale: ArrayLike) -> NDArray[np.int64]:
    """int32 bias at the accumulator scale: clamp(rintf(b / s), int32) (f32 division)."""
    ba = np.asarray(b, dtype=np.float32)
    s = np.asarray(acc_scale, dtype=np.float32).reshape(-1)  # one scale, or one per channel
    q = np.rint((ba / s).astype(np.float32)).astype(np.float64)
    q = np.nan_to_num(q, nan=0.0, posinf=INT32_MAX, neginf=INT32_MIN)
    return np.clip(q, INT32_MIN, INT32_MAX).astype(np.int64)


def qconv2d_acc(
    x: ArrayLike,
    x_zero_point: ArrayLike,
    w: ArrayLike,
    w_zero_point: ArrayLike,
    bias: ArrayLike | None,
    acc_scale: ArrayLike,
    stride: Sequence[int] | int = (1, 1),
    padding: Sequence[int] | int = (0, 0, 0, 0),
    groups: int = 1,
) -> I32:
    """acc[n, o] = quantize_bias(b, s)[o] + sum (x - zx)(w - zw) (padding contributes 0).
    Per-channel weights: zw and s hold one value per output channel o."""
    xa = np.asarray(x, dtype=np.int64)
    wa = np.asarray(w, dtype=np.int64)
    ref._check_conv(xa, wa, groups)  # pyright: ignore[reportPrivateUsage]
    o = wa.shape[0]
    zw = _chan(w_zero_point, o, np.int64).reshape(o, 1, 1, 1)
    xp = ref._pad_nchw(xa - _i(x_zero_point), ref._pads(padding), 0)  # pyright: ignore[reportPrivateUsage]
    acc = ref._grouped_conv_sum(xp, wa - zw, ref._pair(stride, "stride"), groups)  # pyright: ignore[reportPrivateUsage]
    acc = acc.astype(np.int64)
    if bias is not None:
        acc = acc + quantize_bias(bias, acc_scale).reshape(1, o, 1, 1)
    return _to_int32(acc, "qconv2d_acc")


def qdense_acc(
    x: ArrayLike,
    x_zero_point: ArrayLike,
    w: ArrayLike,
    w_zero_point: ArrayLike,
    bias: ArrayLike | None,
    acc_scale: ArrayLike,
) -> I32:
    """acc[n, o] = quantize_bias(b, s)[o] + sum_k (x[n, k] - zx)(w[o, k] - zw)."""
    xa = np.asarray(x, dtype=np.int64)
    wa = np.asarray(w, dtype=np.int64)
    if xa.ndim != 2 or wa.ndim != 2 or xa.shape[1] != wa.shape[1]:
        raise ValueError(f"qdense_acc expects x [N, K] and w [O, K], got {xa.shape} and {wa.shape}")
    zw = _chan(w_zero_point, wa.shape[0], np.int64).reshape(-1, 1)  # per tensor or per row
    acc = (xa - _i(x_zero_point)) @ (wa - zw).T
    if bias is not None:
        acc = acc + quantize_bias(bias, acc_scale).reshape(1, -1)
    return _to_int32(acc, "qdense_acc")


def relu_acc(acc: ArrayLike) -> I32:
    return np.maximum(np.asarray(acc, dtype=np.int32), 0).astype(np.int32)


def relu6_bound(acc_scale: ArrayLike) -> int:
    """The largest accumulator value relu6 keeps: floorf(6.0f / s) (f32 division), at most
    INT32_MAX; a non-finite or non-positive quotient keeps nothing above 0."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        q = np.floor(np.float32(6.0) / _s(acc_scale))
    if not np.isfinite(q):
        return INT32_MAX if q > 0 else 0
    return int(min(max(float(q), 0.0), float(INT32_MAX)))


def relu6_acc(acc: ArrayLike, acc_scale: ArrayLike) -> I32:
    """clamp(acc, 0, relu6_bound(s)): relu6 of the real value s * acc on the accumulator's
    own grid (zero-point 0), so no precision is lost before the requantization; the bound
    is 6 up to the f32 rounding of 6 / s (relative 2^-24). A per-channel scale [C] gives
    each channel (axis 1) its own bound."""
    a = np.asarray(acc, dtype=np.int64)
    if _is_vec(acc_scale):
        c = a.shape[1]
        hi = np.array([relu6_bound(v) for v in _chan(acc_scale, c)], dtype=np.int64)
        hi = hi.reshape((1, c) + (1,) * (a.ndim - 2))
        return np.clip(a, 0, hi).astype(np.int32)
    return np.clip(a, 0, relu6_bound(acc_scale)).astype(np.int32)


def qadd_real(a: ArrayLike, a_scale: ArrayLike, a_zero_point: ArrayLike, b: ArrayLike, b_scale: ArrayLike,
              b_zero_point: ArrayLike) -> F32:
    """The real sum of two quantized tensors, element by element: f32(sa * f32(a - za)) +
    f32(sb * f32(b - zb)), each term exactly `dequantize`'s, one f32 addition."""
    return (ref.dequantize(a, a_scale, a_zero_point) + ref.dequantize(b, b_scale, b_zero_point)).astype(np.float32)


def qadd_range(a: ArrayLike, a_scale: ArrayLike, a_zero_point: ArrayLike, b: ArrayLike, b_scale: ArrayLike,
               b_zero_point: ArrayLike) -> F32:
    """[min, max] of qadd_real (no buffer for the sum: the C kernel computes it twice)."""
    return minmax(qadd_real(a, a_scale, a_zero_point, b, b_scale, b_zero_point))


def qadd(a: ArrayLike, a_scale: ArrayLike, a_zero_point: ArrayLike, b: ArrayLike, b_scale: ArrayLike,
         b_zero_point: ArrayLike, scale: ArrayLike, zero_point: ArrayLike, qmin: int, qmax: int) -> I32:
    """quantize(qadd_real(...), scale, zero_point): the residual add (forward) and the sum
    of two errors of a value used twice (backward), with no f32 tensor in between."""
    return ref.quantize(qadd_real(a, a_scale, a_zero_point, b, b_scale, b_zero_point), scale, zero_point,
                        qmin, qmax)


def scale_div(s: ArrayLike, divisor: int) -> F32:
    """f32(s / f32(divisor)) (rank 0): the scale of a sum of `divisor` values read as their mean."""
    return np.array(_s(s) / np.float32(divisor), dtype=np.float32)


def qavgpool_acc(x: ArrayLike, x_zero_point: ArrayLike) -> I32:
    """acc[n, c, 0, 0] = sum over h, w of (x - zx): the global average pool's int32 sum,
    whose real value is scale_div(sx, H * W) * acc."""
    xa = np.asarray(x, dtype=np.int64)
    if xa.ndim != 4:
        raise ValueError(f"qavgpool_acc expects x [N, C, H, W], got {xa.shape}")
    return _to_int32((xa - _i(x_zero_point)).sum(axis=(2, 3), keepdims=True), "qavgpool_acc")


def qbroadcast_hw(e: ArrayLike, h: int, w: int) -> I32:
    """e [N, C, 1, 1] repeated over an [h, w] plane: the global average pool's input error,
    whose scale is scale_div(se, h * w) and zero-point ze (exact)."""
    ea = np.asarray(e, dtype=np.int32)
    if ea.ndim != 4 or ea.shape[2:] != (1, 1):
        raise ValueError(f"qbroadcast_hw expects e [N, C, 1, 1], got {ea.shape}")
    return np.broadcast_to(ea, (ea.shape[0], ea.shape[1], h, w)).astype(np.int32)


def requantize_acc(acc: ArrayLike, acc_scale: ArrayLike, scale: ArrayLike, zero_point: ArrayLike, qmin: int, qmax: int) -> I32:
    """clamp(z + MBQM(acc, M), qmin, qmax), M = f32(acc_scale / scale) (reference.requantize, z_in = 0);
    a per-channel acc_scale [C] gives channel c (axis 1) its own M."""
    if _is_vec(acc_scale):
        a = np.asarray(acc, dtype=np.int64)
        c = a.shape[1]
        out = np.empty(a.shape, dtype=np.int32)
        for ch, sc in enumerate(_chan(acc_scale, c)):
            out[:, ch] = ref.requantize(a[:, ch], sc, 0, scale, zero_point, qmin, qmax)
        return out
    return ref.requantize(acc, acc_scale, 0, scale, zero_point, qmin, qmax)


E16_MIN, E16_MAX = -32768, 32767


def rescale_factors(w_scale: ArrayLike, shift: int) -> F32:
    """f[o] = f32(f32(sw[o] / max(sw)) * 2^shift) (the 2^shift product is exact)."""
    sw = np.asarray(w_scale, dtype=np.float32).reshape(-1)
    return ((sw / sw.max()).astype(np.float32) * np.float32(2.0**shift)).astype(np.float32)


def qrescale_channels(e: ArrayLike, e_zero_point: ArrayLike, w_scale: ArrayLike, shift: int) -> I32:
    """The error of a per-channel-weight layer put on one scale, for its input gradient:
    out[n, o] = clamp(rintf(f32(e[n, o] - ze) * f[o]), -32768, 32767), f = rescale_factors
    (o on axis 1). The input gradient sum_o se·(e − ze)·sw[o]·(w − zw[o]) then becomes
    sum_o out·(w − zw[o]) at the single scale f32(se · max(sw)) / 2^shift."""
    ea = np.asarray(e, dtype=np.int64) - _i(e_zero_point)
    c = ea.shape[1]
    f = rescale_factors(w_scale, shift)
    if f.size != c:
        raise ValueError(f"qrescale_channels: {f.size} weight scales for {c} error channels")
    d = (ea.astype(np.float32) * f.reshape((1, c) + (1,) * (ea.ndim - 2))).astype(np.float32)
    return np.clip(np.rint(d), E16_MIN, E16_MAX).astype(np.int32)


def acc_stream(acc: ArrayLike, relu: bool | str, acc_scale: ArrayLike, scale: ArrayLike | None = None,
               zero_point: ArrayLike | None = None, qmin: int = -128, qmax: int = 127) -> NDArray[Any]:
    """What a streamed accumulator (`qtrain.q*_acc_stream`) gives for the whole accumulator
    `acc`: relu_acc if `relu` (relu6_acc if it is "relu6"), then its range
    `minmax(acc, acc_scale)` (no `scale`) or `requantize_acc` to (scale, zero_point). The C
    kernels compute acc one output channel at a time; min/max and the elementwise
    requantization do not depend on the order."""
    if relu == "relu6":
        a = relu6_acc(acc, acc_scale)
    else:
        a = relu_acc(acc) if relu else np.asarray(acc, dtype=np.int32)
    if scale is None:
        return minmax(a, acc_scale)
    assert zero_point is not None
    return requantize_acc(a, acc_scale, scale, zero_point, qmin, qmax)


def qconv2d_pw_dw_stream(x: ArrayLike, x_zero_point: ArrayLike, w1: ArrayLike, w1_zero_point: ArrayLike,
                         b1: ArrayLike | None, acc1_scale: ArrayLike, act1: bool | str, h_scale: ArrayLike,
                         h_zero_point: ArrayLike, h_qmin: int, h_qmax: int, stride1: Sequence[int],
                         padding1: Sequence[int], w2: ArrayLike, w2_zero_point: ArrayLike, b2: ArrayLike | None,
                         acc2_scale: ArrayLike, act2: bool | str, stride2: Sequence[int], padding2: Sequence[int],
                         scale: ArrayLike | None = None, zero_point: ArrayLike | None = None, qmin: int = -128,
                         qmax: int = 127) -> NDArray[Any]:
    """A conv (groups 1) whose 8-bit output h feeds only a depthwise conv, computed channel
    by channel without storing h (`qtrain.qconv2d_pw_dw_stream`): h = acc_stream of the
    first conv's accumulator through act1, requantized to (h_scale, h_zero_point); then the
    depthwise conv of h (groups = channels) through act2, reduced to its range (no `scale`)
    or requantized to (scale, zero_point). The C kernel keeps one channel plane of h; the
    result does not depend on the channel order."""
    acc1 = qconv2d_acc(x, x_zero_point, w1, w1_zero_point, b1, acc1_scale, stride1, padding1, 1)
    h = acc_stream(acc1, act1, acc1_scale, h_scale, h_zero_point, h_qmin, h_qmax)
    e = h.shape[1]
    acc2 = qconv2d_acc(h, h_zero_point, w2, w2_zero_point, b2, acc2_scale, stride2, padding2, e)
    return acc_stream(acc2, act2, acc2_scale, scale, zero_point, qmin, qmax)


# ---------------------------------------------------------------------------------------
# Backward
# ---------------------------------------------------------------------------------------


def qrelu_grad(e: ArrayLike, e_zero_point: ArrayLike, y: ArrayLike, y_zero_point: ArrayLike) -> I32:
    """e where the saved forward output y > zy (real value > 0), else ze (real 0)."""
    ea = np.asarray(e, dtype=np.int32)
    ya = np.asarray(y, dtype=np.int32)
    return np.where(ya > _i(y_zero_point), ea, np.int32(_i(e_zero_point))).astype(np.int32)


def qrelu6_grad(e: ArrayLike, e_zero_point: ArrayLike, y: ArrayLike, y_zero_point: ArrayLike,
                y_scale: ArrayLike) -> I32:
    """e where the saved relu6 output is strictly inside (0, 6): zy < y and f32(y - zy) <
    rintf(6.0f / sy); else ze (real 0). An output that relu6 clamped to 6 is requantized to
    zy + rintf(6 / sy) (or clipped below it by a grid narrower than 6, where it passes, as
    values clipped by any grid do: straight-through)."""
    ea = np.asarray(e, dtype=np.int32)
    ya = np.asarray(y, dtype=np.int64)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        t = np.rint(np.float32(6.0) / _s(y_scale))
    d = (ya - _i(y_zero_point)).astype(np.float32)
    keep = (ya > _i(y_zero_point)) & (d < t)
    return np.where(keep, ea, np.int32(_i(e_zero_point))).astype(np.int32)


def relu_mask(y: ArrayLike, y_zero_point: ArrayLike, y_scale: ArrayLike | None = None) -> NDArray[np.uint8]:
    """The saved activation's backward mask packed 8 per byte (bit i % 8 of byte i // 8, in
    element order): relu (no scale) bit = y > zy, relu6 bit = zy < y and f32(y - zy) <
    rintf(6 / sy) — exactly where qrelu_grad / qrelu6_grad pass the error."""
    ya = np.asarray(y, dtype=np.int64).reshape(-1)
    keep = ya > _i(y_zero_point)
    if y_scale is not None:
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            t = np.rint(np.float32(6.0) / _s(y_scale))
        keep &= (ya - _i(y_zero_point)).astype(np.float32) < t
    return np.packbits(keep, bitorder="little")


def qmask_grad(e: ArrayLike, e_zero_point: ArrayLike, mask: ArrayLike) -> I32:
    """e where the packed mask's bit is set, else ze (real 0): qrelu_grad / qrelu6_grad
    from one bit per element instead of the 8-bit output."""
    ea = np.asarray(e, dtype=np.int32)
    bits = np.unpackbits(np.asarray(mask, dtype=np.uint8), count=ea.size, bitorder="little").astype(bool)
    return np.where(bits.reshape(ea.shape), ea, np.int32(_i(e_zero_point))).astype(np.int32)


def qdense_grad_input(e: ArrayLike, e_zero_point: ArrayLike, w: ArrayLike, w_zero_point: ArrayLike) -> I32:
    """acc[n, k] = sum_o (e[n, o] - ze)(w[o, k] - zw) (zw per tensor or per row o)."""
    ea = np.asarray(e, dtype=np.int64) - _i(e_zero_point)
    wa = np.asarray(w, dtype=np.int64)
    wa = wa - _chan(w_zero_point, wa.shape[0], np.int64).reshape(-1, 1)
    return _to_int32(ea @ wa, "qdense_grad_input", _wide(e))


def qconv2d_grad_input(
    e: ArrayLike,
    e_zero_point: ArrayLike,
    w: ArrayLike,
    w_zero_point: ArrayLike,
    input_shape: Sequence[int],
    stride: Sequence[int] | int = (1, 1),
    padding: Sequence[int] | int = (0, 0, 0, 0),
    groups: int = 1,
) -> I32:
    """acc = conv2d_grad_input of (e - ze) and (w - zw), exact integers (zw per tensor or per
    output channel)."""
    ea = (np.asarray(e, dtype=np.int64) - _i(e_zero_point)).astype(np.float64)
    wi = np.asarray(w, dtype=np.int64)
    wa = (wi - _chan(w_zero_point, wi.shape[0], np.int64).reshape(-1, 1, 1, 1)).astype(np.float64)
    n, c, h, wd = (int(d) for d in input_shape)
    o, i, kh, kw = wa.shape
    s = ref._pair(stride, "stride")  # pyright: ignore[reportPrivateUsage]
    pads = ref._pads(padding)  # pyright: ignore[reportPrivateUsage]
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), s, pads)
    if ea.shape != (n, o, oh, ow) or i * groups != c:
        raise ValueError(f"qconv2d_grad_input: error {ea.shape}, weight {wa.shape}, input {tuple(input_shape)}")
    eg = ea.reshape(n, groups, o // groups, oh, ow)
    wg = wa.reshape(groups, o // groups, i, kh, kw)
    contrib = np.einsum("ngohw,goiab->ngihwab", eg, wg).reshape(n, c, oh, ow, kh, kw)
    dxp = ref._scatter_windows(contrib, (h + pads[0] + pads[2], wd + pads[1] + pads[3]), s)  # pyright: ignore[reportPrivateUsage]
    acc = np.rint(ref._crop(dxp, pads, (h, wd))).astype(np.int64)  # pyright: ignore[reportPrivateUsage]
    return _to_int32(acc, "qconv2d_grad_input", _wide(e))


def _selected_rows(o: int, idx: ArrayLike | None, k: ArrayLike | None) -> list[int]:
    if idx is None:
        return list(range(o))
    kk = _i(k) if k is not None else o
    rows = [int(v) for v in np.asarray(idx).reshape(-1)[:kk]]
    if any(not 0 <= r < o for r in rows) or rows != sorted(set(rows)):
        raise ValueError(f"selection must be increasing indices in [0, {o}), got {rows}")
    return rows


def qdense_grad_weight(
    x: ArrayLike,
    x_zero_point: ArrayLike,
    e: ArrayLike,
    e_zero_point: ArrayLike,
    idx: ArrayLike | None = None,
    k: ArrayLike | None = None,
) -> I32:
    """acc[o, k] = sum_n (e[n, o] - ze)(x[n, k] - zx); compact under a selection."""
    xa = np.asarray(x, dtype=np.int64) - _i(x_zero_point)
    ea = np.asarray(e, dtype=np.int64) - _i(e_zero_point)
    o = ea.shape[1]
    rows = _selected_rows(o, idx, k)
    out = np.zeros((o, xa.shape[1]), dtype=np.int64)
    if rows:
        out[: len(rows)] = ea[:, rows].T @ xa
    return _to_int32(out, "qdense_grad_weight", _wide(e))


def qconv2d_grad_weight(
    x: ArrayLike,
    x_zero_point: ArrayLike,
    e: ArrayLike,
    e_zero_point: ArrayLike,
    weight_shape: Sequence[int],
    stride: Sequence[int] | int = (1, 1),
    padding: Sequence[int] | int = (0, 0, 0, 0),
    groups: int = 1,
    idx: ArrayLike | None = None,
    k: ArrayLike | None = None,
) -> I32:
    """acc[o] = conv2d_grad_weight of (x - zx) and (e - ze); compact under a selection."""
    xa = (np.asarray(x, dtype=np.int64) - _i(x_zero_point)).astype(np.float64)
    ea = (np.asarray(e, dtype=np.int64) - _i(e_zero_point)).astype(np.float64)
    o, i, kh, kw = (int(d) for d in weight_shape)
    n, c, h, wd = xa.shape
    s = ref._pair(stride, "stride")  # pyright: ignore[reportPrivateUsage]
    pads = ref._pads(padding)  # pyright: ignore[reportPrivateUsage]
    oh, ow = ref.conv_output_hw((h, wd), (kh, kw), s, pads)
    rows = _selected_rows(o, idx, k)
    win = ref._windows(ref._pad_nchw(xa, pads, 0.0), (kh, kw), s)[:, :, :oh, :ow]  # pyright: ignore[reportPrivateUsage]
    win = win.reshape(n, groups, i, oh, ow, kh, kw)
    eg = ea.reshape(n, groups, o // groups, oh, ow)
    full = np.einsum("ngihwab,ngohw->goiab", win, eg).reshape(o, i, kh, kw)
    out = np.zeros((o, i, kh, kw), dtype=np.int64)
    if rows:
        out[: len(rows)] = np.rint(full[rows]).astype(np.int64)
    return _to_int32(out, "qconv2d_grad_weight", _wide(e))


# ---------------------------------------------------------------------------------------
# Update of quantized weights
# ---------------------------------------------------------------------------------------


def grad_stats(
    g: ArrayLike,
    mode: str,
    g_scale: ArrayLike | None = None,
    w_scale: ArrayLike | None = None,
    idx: ArrayLike | None = None,
    k: ArrayLike | None = None,
) -> F32:
    """Per-row normalisation (a, b) [O, 2] f32: the update direction of row r is
    (f32(g[r]) - a[r]) * b[r].

    standardize: a = mean, b = 1 / sqrtf(var) (population variance; sequential f32 sums
                 mean = S(g) / n, var = S((g - mean)^2) / n); var == 0 gives b = 0.
    qas:         a = 0, b = f32(f32(f32(g_scale * s_w) / f32(s_w * s_w)) * s_w): the Tiny Training
                 Engine's quantization-aware scaling written out (gradient w.r.t. the int8
                 weight, times s_w^-2, applied in int8 units); equals `none` up to rounding,
                 because the update here is applied to real values.
    none:        a = 0, b = g_scale (plain SGD on the real gradient).
    An f32 gradient (no g_scale) counts as scale 1.
    Rows r >= k of a selection get (0, 0): no update.
    """
    ga = np.asarray(g)
    o = ga.shape[0]
    rows = o if idx is None else len(_selected_rows(o, idx, k))
    out = np.zeros((o, 2), dtype=np.float32)
    if mode == "standardize":
        flat = ga.reshape(o, -1).astype(np.float32)
        n = np.float32(flat.shape[1])
        for r in range(rows):
            mean = np.float32(seq_sum_f32(flat[r]) / n)
            d = (flat[r] - mean).astype(np.float32)
            var = np.float32(seq_sum_f32((d * d).astype(np.float32)) / n)
            out[r, 0] = mean
            out[r, 1] = np.float32(np.float32(1.0) / np.sqrt(var)) if var > 0 else np.float32(0.0)
    elif mode in ("qas", "none"):
        # an f32 gradient (mixed errors) is real-valued: its scale is 1
        gs = np.float32(1.0) if g_scale is None else _s(g_scale)
        if mode == "qas":
            if w_scale is None:
                raise ValueError("grad_stats mode qas needs the weight scale")
            # TTE: gradient w.r.t. the stored int8 weight, Gq = s_g·s_w (per accumulator unit),
            # scaled by s_w^-2 (QAS), applied in int8 units, i.e. times s_w in real units.
            sw = _s(w_scale)
            gq = np.float32(gs * sw)
            b = np.float32(np.float32(gq / np.float32(sw * sw)) * sw)
        else:
            b = gs
        out[:rows, 1] = b
    else:
        raise ValueError(f"grad_stats: unknown mode {mode!r}")
    return out


def _updated_real(
    w: ArrayLike,
    w_scale: ArrayLike,
    w_zero_point: ArrayLike,
    g: ArrayLike,
    stats: ArrayLike,
    lr: float,
    idx: ArrayLike | None,
    k: ArrayLike | None,
) -> F32:
    """Real weights after the step: f32(w - zw) * sw - f32(lr) * ((f32(g[r]) - a[r]) * b[r])."""
    wa = np.asarray(w, dtype=np.int64)
    o = wa.shape[0]
    t1 = (np.float32(_s(w_scale)) * (wa - _i(w_zero_point)).astype(np.float32)).astype(np.float32)
    ga = np.asarray(g).reshape(o, -1).astype(np.float32)
    st = np.asarray(stats, dtype=np.float32).reshape(o, 2)
    rows = _selected_rows(o, idx, k)
    out = t1.reshape(o, -1).copy()
    lr32 = np.float32(lr)
    for r, row in enumerate(rows):
        a, b = st[r, 0], st[r, 1]
        if b == 0:
            continue
        gn = ((ga[r] - a).astype(np.float32) * b).astype(np.float32)
        out[row] = (out[row] - (lr32 * gn).astype(np.float32)).astype(np.float32)
    return out.reshape(wa.shape)


def qsgd_range(
    w: ArrayLike,
    w_scale: ArrayLike,
    w_zero_point: ArrayLike,
    g: ArrayLike,
    stats: ArrayLike,
    lr: float,
    idx: ArrayLike | None = None,
    k: ArrayLike | None = None,
) -> F32:
    """[min, max] of the updated real weights (nothing is written)."""
    return minmax(_updated_real(w, w_scale, w_zero_point, g, stats, lr, idx, k))


def hash32(x: NDArray[np.uint32]) -> NDArray[np.uint32]:
    """lowbias32 integer hash (uint32 wrap-around arithmetic)."""
    x = np.asarray(x, dtype=np.uint32)
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint32(16))
        x = (x * np.uint32(0x7FEB352D)).astype(np.uint32)
        x = x ^ (x >> np.uint32(15))
        x = (x * np.uint32(0x846CA68B)).astype(np.uint32)
        x = x ^ (x >> np.uint32(16))
    return x.astype(np.uint32)


def uniform01(seed: int, step: int, n: int) -> F32:
    """n uniforms in [0, 1): u_i = (hash32(base + i) >> 8) * 2^-24, base = hash32(seed * 0x9E3779B9 + step)."""
    with np.errstate(over="ignore"):
        base = hash32(np.array([(seed * 0x9E3779B9 + step) & 0xFFFFFFFF], dtype=np.uint32))[0]
        i = np.arange(n, dtype=np.uint64)
        keys = ((np.uint64(base) + i) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    h = hash32(keys) >> np.uint32(8)
    return (h.astype(np.float32) * np.float32(5.9604644775390625e-08)).astype(np.float32)


def qsgd_update(
    w: ArrayLike,
    w_scale: ArrayLike,
    w_zero_point: ArrayLike,
    g: ArrayLike,
    stats: ArrayLike,
    new_scale: ArrayLike,
    new_zero_point: ArrayLike,
    lr: float,
    qmin: int,
    qmax: int,
    rounding: str = "nearest",
    seed: int = 0,
    step: ArrayLike = 0,
    idx: ArrayLike | None = None,
    k: ArrayLike | None = None,
) -> I32:
    """New stored weights: d = f32(w_real / s'); nearest: rintf(d); stochastic: in rows that
    took a gradient step (selected and b != 0) floorf(d + u_i) (u from
    `uniform01(seed, step, numel)`, element i in row-major order), in the other rows rintf(d);
    then clamp(r + z', qmin, qmax)."""
    real = _updated_real(w, w_scale, w_zero_point, g, stats, lr, idx, k)
    d = (real / _s(new_scale)).astype(np.float32)
    if rounding == "nearest":
        r = np.rint(d)
    elif rounding == "stochastic":
        # only rows that took a gradient step (selected, b != 0) round stochastically; a row
        # that is only re-expressed on the new grid rounds to nearest, so untouched rows do
        # not random-walk (this broke partial updates at λmin = 0.1 before)
        o = d.shape[0]
        st = np.asarray(stats, dtype=np.float32).reshape(o, 2)
        stepped = np.zeros(o, dtype=bool)
        for rr, row in enumerate(_selected_rows(o, idx, k)):
            stepped[row] = st[rr, 1] != 0
        u = uniform01(seed, _i(step), d.size).reshape(d.shape)
        shape = (o,) + (1,) * (d.ndim - 1)
        r = np.where(stepped.reshape(shape), np.floor((d + u).astype(np.float32)), np.rint(d))
    else:
        raise ValueError(f"qsgd_update: unknown rounding {rounding!r}")
    r64 = np.clip(np.nan_to_num(r.astype(np.float64), nan=0.0), -(2.0**40), 2.0**40).astype(np.int64)
    return np.clip(r64 + _i(new_zero_point), qmin, qmax).astype(np.int32)


# ---------------------------------------------------------------------------------------
# Fused row-by-row update on a held grid (qtrain-quantize update=fused)
#
# The weight grid (scale s, zero-point z) is held between steps. A step changes only the
# rows it updates, in grid units and in integers: n = round(lr·g·s_g / s) is added to
# (w − z), so rows that are not updated are not touched. Per row, the range of the
# updated values before clamping, (w − z) + n, is kept as int32 [min, max]
# (`row_range`, a [O, 2] state). `qweight_regrid` reads only those O pairs and re-expresses
# the tensor on a new grid (every element) only when the grid no longer fits: a value
# went past its edge (it was clamped), or the values use less than half of it.
# ---------------------------------------------------------------------------------------

Q16_LIMIT = 2**30  # |update| bound in 1/65536 grid steps before the conversion to int32
RNE_LIMIT = np.float32(4194304.0)  # 2^22: |x| bound of round_nearest (the C magic-number rounding)


def update_q16_factor(lr: float, g_scale: ArrayLike, w_scale: ArrayLike) -> np.float32:
    """c16 = f32(f32(f32(f32(-lr) * s_g) / s_w) * 65536): one gradient unit in 1/65536 grid steps."""
    t = np.float32(np.float32(-np.float32(lr)) * _s(g_scale))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return np.float32(np.float32(t / _s(w_scale)) * np.float32(65536.0))


def _to_q16(t: NDArray[np.float32]) -> NDArray[np.int64]:
    """int32(trunc(t)) of t clamped to ±2^30, NaN -> 0 (the C kernel's explicit clamp)."""
    c = np.clip(np.nan_to_num(t, nan=0.0), np.float32(-Q16_LIMIT), np.float32(Q16_LIMIT))
    return c.astype(np.int64)


def row_range_of(w: ArrayLike, zero_point: ArrayLike) -> I32:
    """[min, max] of (w − z) per row (dimension 0), int32 [O, 2] (z per tensor or per row)."""
    wa = np.asarray(w, dtype=np.int64)
    flat = wa.reshape(wa.shape[0], -1) - _chan(zero_point, wa.shape[0], np.int64).reshape(-1, 1)
    return np.stack([flat.min(axis=1), flat.max(axis=1)], axis=1).astype(np.int32)


def qgrad_weight_sgd_apply(
    w: ArrayLike,
    w_scale: ArrayLike,
    w_zero_point: ArrayLike,
    g: ArrayLike,
    g_scale: ArrayLike,
    row_range: ArrayLike,
    lr: float,
    qmin: int,
    qmax: int,
    rounding: str = "stochastic",
    seed: int = 0,
    step: ArrayLike = 0,
    idx: ArrayLike | None = None,
    k: ArrayLike | None = None,
) -> tuple[I32, I32]:
    """The fused quantized SGD step of the selected rows, given their (compact) int32
    gradient g (what `qdense_grad_weight` / `qconv2d_grad_weight` give under the selection).

    Row r of the selection updates weight row `row = idx[r]`: per element i (row-major index
    in the whole tensor), t = f32(f32(g) * c16) (c16 = `update_q16_factor`), T = int32 of t
    clamped to ±2^30 (truncation), n = (T + u) >> 16 (arithmetic shift: floor) with
    u = hash32(base + i) >> 16 (stochastic; base as `uniform01`) or u = 32768 (nearest, ties
    up); v = (w − z) + n; row_range[row] = [min v, max v]; w = clamp(v + z, qmin, qmax).
    Unselected rows and their row_range entries are unchanged. Per-channel weights: c16
    and z of row `row` from w_scale[row] and w_zero_point[row]. Returns (w, row_range)."""
    wa = np.asarray(w, dtype=np.int64).copy()
    o = wa.shape[0]
    flat = wa.reshape(o, -1)
    n_len = flat.shape[1]
    rr = np.asarray(row_range, dtype=np.int64).reshape(o, 2).copy()
    ga = np.asarray(g, dtype=np.int64).reshape(o, -1)
    sw = _chan(w_scale, o)
    zws = _chan(w_zero_point, o, np.int64)
    if rounding not in ROUNDINGS:
        raise ValueError(f"qgrad_weight_sgd: unknown rounding {rounding!r}")
    with np.errstate(over="ignore"):
        base = int(hash32(np.array([(seed * 0x9E3779B9 + _i(step)) & 0xFFFFFFFF], dtype=np.uint32))[0])
    for r, row in enumerate(_selected_rows(o, idx, k)):
        c16 = update_q16_factor(lr, g_scale, sw[row])
        zw = int(zws[row])
        with np.errstate(over="ignore", invalid="ignore"):
            t = (ga[r].astype(np.float32) * c16).astype(np.float32)
        big_t = _to_q16(t)
        if rounding == "stochastic":
            keys = ((base + row * n_len + np.arange(n_len, dtype=np.int64)) & 0xFFFFFFFF).astype(np.uint32)
            u = (hash32(keys) >> np.uint32(16)).astype(np.int64)
        else:
            u = np.int64(32768)
        v = (flat[row] - zw) + ((big_t + u) >> 16)
        rr[row] = (int(v.min()), int(v.max()))
        flat[row] = np.clip(v + zw, qmin, qmax)
    return flat.reshape(wa.shape).astype(np.int32), rr.astype(np.int32)


def round_nearest(x: NDArray[np.float32]) -> NDArray[np.int64]:
    """rint of x clamped to ±2^22, NaN -> 0 (in C: (x + 1.5·2^23) − 1.5·2^23, no libm call)."""
    c = np.clip(np.nan_to_num(np.asarray(x, dtype=np.float32), nan=0.0), -RNE_LIMIT, RNE_LIMIT)
    return np.rint(c).astype(np.int64)


def regrid_target(
    scale: ArrayLike, zero_point: ArrayLike, row_range: ArrayLike, qmin: int, qmax: int, symmetric: bool,
    headroom: float,
) -> tuple[bool, F32, I32]:
    """(regrid?, s', z') of `qweight_regrid` (nothing is written).

    lo, hi = min / max over rows of row_range (grid units, before clamping). Regrid when a
    value went past the grid (lo < qmin − z or hi > qmax − z: it was clamped) or when the
    values need less than half of the grid (s' < f32(s · 0.5)). s', z' = qparams of the real
    range [f32(s · lo), f32(s · hi)] widened to contain 0 and then by m = f32(span · headroom)
    on both sides (span = hi0 − lo0), so that the next steps have room to grow."""
    rr = np.asarray(row_range, dtype=np.int64).reshape(-1, 2)
    s = _s(scale)
    z = _i(zero_point)
    lo_i, hi_i = int(rr[:, 0].min()), int(rr[:, 1].max())
    lo = np.float32(s * np.float32(lo_i))
    hi = np.float32(s * np.float32(hi_i))
    lo0 = min(lo, np.float32(0.0))
    hi0 = max(hi, np.float32(0.0))
    m = np.float32(np.float32(hi0 - lo0) * np.float32(headroom))
    target = np.array([np.float32(lo0 - m), np.float32(hi0 + m)], dtype=np.float32)
    st, zt = qparams(target, qmin, qmax, symmetric)
    expand = lo_i < qmin - z or hi_i > qmax - z
    shrink = bool(np.float32(st) < np.float32(s * np.float32(0.5)))
    return expand or shrink, st, zt


REGRID_STREAM = 0x85EBCA6B  # the regrid's random stream: base ^ this (not the update's)


def qweight_regrid(
    w: ArrayLike, scale: ArrayLike, zero_point: ArrayLike, row_range: ArrayLike, qmin: int, qmax: int,
    symmetric: bool, headroom: float, rounding: str = "nearest", seed: int = 0, step: ArrayLike = 0,
) -> tuple[I32, I32, F32, I32]:
    """Keep the grid, or re-express every weight on the new one (see `regrid_target`):
    d = f32(f32(s · f32(w − z)) / s'); nearest: r = round_nearest(d); stochastic:
    r = (D + u) >> 16 with D = int32(trunc(f32(d · 65536))) (clamped as in
    qgrad_weight_sgd_apply) and u = hash32(base' + i) >> 16, base' = hash32(base ^ 0x85EBCA6B)
    (base as `uniform01`, i the row-major index); q = clamp(r + z', qmin, qmax), and row_range
    becomes the rows' [min, max] of (q − z'). Returns (w, row_range, s', z').

    Per-channel weights (scale, zero_point [O]): the same decision and re-expression for
    each row on its own (regrid_target of that row's scale, zero-point and row_range); rows
    whose grid fits are untouched, so a partial update's unselected rows cost nothing.

    Why stochastic: re-expressing on a slightly larger grid with round-to-nearest keeps every
    small integer (q·s/s' rounds back to q), so each expansion inflates the real value of
    those weights by s'/s — a systematic growth that feeds the next expansion."""
    if rounding not in ROUNDINGS:
        raise ValueError(f"qweight_regrid: unknown rounding {rounding!r}")
    with np.errstate(over="ignore"):
        base = int(hash32(np.array([(seed * 0x9E3779B9 + _i(step)) & 0xFFFFFFFF], dtype=np.uint32))[0])
        base = int(hash32(np.array([base ^ REGRID_STREAM], dtype=np.uint32))[0])
    wa = np.asarray(w, dtype=np.int64)
    if _is_vec(scale):
        # per-channel weights: each row keeps or replaces its own grid (row r's elements keep
        # their row-major indices i in the random stream)
        o = wa.shape[0]
        flat = wa.reshape(o, -1).copy()
        rr = np.asarray(row_range, dtype=np.int64).reshape(o, 2).copy()
        ss, zs = _chan(scale, o).copy(), _chan(zero_point, o, np.int64).copy()
        for r in range(o):
            regrid, st, zt = regrid_target(ss[r], zs[r], rr[r], qmin, qmax, symmetric, headroom)
            if regrid:
                flat[r] = _reexpress(flat[r], ss[r], zs[r], st, zt, qmin, qmax, rounding, base, r * flat.shape[1])
                rr[r] = (int(flat[r].min()) - int(zt), int(flat[r].max()) - int(zt))
                ss[r], zs[r] = st, zt
        return flat.reshape(wa.shape).astype(np.int32), rr.astype(np.int32), ss, zs.astype(np.int32)
    regrid, st, zt = regrid_target(scale, zero_point, row_range, qmin, qmax, symmetric, headroom)
    if not regrid:
        return (wa.astype(np.int32), np.asarray(row_range, dtype=np.int32).copy(),
                np.array(_s(scale), dtype=np.float32), np.array(_i(zero_point), dtype=np.int32))
    q = _reexpress(wa, scale, zero_point, st, zt, qmin, qmax, rounding, base, 0)
    return q.astype(np.int32), row_range_of(q, zt), np.asarray(st, dtype=np.float32), np.asarray(zt, dtype=np.int32)


def _reexpress(wa: NDArray[np.int64], scale: ArrayLike, zero_point: ArrayLike, st: ArrayLike, zt: ArrayLike,
               qmin: int, qmax: int, rounding: str, base: int, first: int) -> NDArray[np.int64]:
    """The weights wa (grid scale, zero_point) on the grid (st, zt); element j of wa has
    index first + j in the regrid's random stream."""
    real = (_s(scale) * (wa - _i(zero_point)).astype(np.float32)).astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        d = (real / _s(st)).astype(np.float32)
    if rounding == "stochastic":
        with np.errstate(over="ignore"):
            keys = ((base + first + np.arange(d.size, dtype=np.int64)) & 0xFFFFFFFF).astype(np.uint32)
            big = _to_q16((d * np.float32(65536.0)).astype(np.float32)).reshape(-1)
        u = (hash32(keys) >> np.uint32(16)).astype(np.int64)
        r = ((big + u) >> 16).reshape(d.shape)
    else:
        r = round_nearest(d)
    return np.clip(r + _i(zt), qmin, qmax)


# ---------------------------------------------------------------------------------------
# Dynamic partial updates (Deutel et al. 2024)
# ---------------------------------------------------------------------------------------


def topk_count(loss: ArrayLike, loss_max: ArrayLike, lambda_min: float, lambda_max: float, structures: int) -> I32:
    """k = max(floor(min(lmin + f32(|loss| / loss_max) * (lmax - lmin), 1) * N), 1);
    loss_max <= 0 counts as ratio 1. All f32 operations."""
    eps = np.float32(abs(_s(loss)))
    emax = _s(loss_max)
    ratio = np.float32(eps / emax) if emax > 0 else np.float32(1.0)
    lmin, lmax = np.float32(lambda_min), np.float32(lambda_max)
    frac = np.float32(lmin + np.float32(ratio * np.float32(lmax - lmin)))
    if frac != frac:  # NaN loss (a diverged run): update everything, as the C kernel does
        return np.array(structures, dtype=np.int32)
    frac = min(frac, np.float32(1.0))
    k = int(np.floor(np.float32(frac * np.float32(structures))))
    return np.array(max(min(k, structures), 1), dtype=np.int32)


def structure_magnitude(e: ArrayLike, e_zero_point: ArrayLike) -> NDArray[np.int64]:
    """m[o] = sum over every axis but 1 of |e - ze| (exact integers)."""
    ea = np.abs(np.asarray(e, dtype=np.int64) - _i(e_zero_point))
    axes = tuple(a for a in range(ea.ndim) if a != 1)
    return ea.sum(axis=axes)


def topk_structures(e: ArrayLike, e_zero_point: ArrayLike, k: ArrayLike) -> I32:
    """The k structures (axis 1 of the error) with the largest magnitude; ties go to the
    lower index. First k entries in increasing order, the rest -1."""
    m = structure_magnitude(e, e_zero_point)
    o = m.shape[0]
    kk = max(1, min(_i(k), o))
    order = sorted(range(o), key=lambda j: (-int(m[j]), j))[:kk]
    out = np.full(o, -1, dtype=np.int32)
    out[:kk] = sorted(order)
    return out


# ---------------------------------------------------------------------------------------
# The float ops left in a quantized training step, computed as the C kernels compute them
#
# In a quantized step only the loss, its gradient and the bias gradients stay f32. Their
# general reference (odtc.runtime.reference) sums in float64 and rounds once, which the C
# kernels match only to ~1 ulp; one ulp in the loss gradient can flip an int8 error's
# rounding and the trajectories part. qtrain-quantize therefore marks these ops
# `qtrain.c_f32` and the interpreter evaluates them with the exact f32 operation sequence of
# runtime/c/src/{mathf,loss_f32,conv2d_f32,dense_f32}.c (odtc_expf/odtc_logf, sequential
# sums), so the whole quantized step is bit-exact.
# ---------------------------------------------------------------------------------------

_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.121944417e-4)
_INV_LN2 = np.float32(1.442695022)
_MAGIC = np.float32(12582912.0)


def _from_bits(u: NDArray[Any]) -> NDArray[np.float32]:
    return np.asarray(u, dtype=np.uint32).view(np.float32)


def expf32(x: ArrayLike) -> NDArray[np.float32]:
    """odtc_expf (runtime/c/src/mathf.c), element-wise, bit for bit."""
    xa = np.asarray(x, dtype=np.float32)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        xs = np.clip(xa, np.float32(-104.0), np.float32(89.0))
        kf = ((xs * _INV_LN2).astype(np.float32) + _MAGIC).astype(np.float32) - _MAGIC
        kf = kf.astype(np.float32)
        k = kf.astype(np.int32)
        r = ((xs - (kf * _LN2_HI).astype(np.float32)).astype(np.float32) - (kf * _LN2_LO).astype(np.float32)).astype(np.float32)
        q = np.full_like(r, np.float32(1.381453942e-3))
        for c in (8.368745446e-3, 4.166838899e-2, 1.666652113e-1, 4.999999404e-1):
            q = ((q * r).astype(np.float32) + np.float32(c)).astype(np.float32)
        p = (np.float32(1.0) + (r + ((r * r).astype(np.float32) * q).astype(np.float32)).astype(np.float32)).astype(np.float32)
        kc = np.clip(k, -126, 127)
        normal = (p * _from_bits(((kc + 127).astype(np.int64) << 23).astype(np.uint32))).astype(np.float32)
        big = ((p * np.float32(2.0)).astype(np.float32)
               * _from_bits(((np.clip(k, 128, 128) - 1 + 127).astype(np.int64) << 23).astype(np.uint32))).astype(np.float32)
        ksmall = np.clip(k, -200, -127)
        small = ((p * _from_bits(((ksmall + 64 + 127).astype(np.int64) << 23).astype(np.uint32))).astype(np.float32)
                 * _from_bits(np.full(k.shape, (127 - 64) << 23, dtype=np.uint32))).astype(np.float32)
        out = np.where(k > 127, big, np.where(k < -126, small, normal)).astype(np.float32)
        out = np.where(xa > np.float32(89.0), np.float32(np.inf), out)
        out = np.where(xa < np.float32(-104.0), np.float32(0.0), out)
        out = np.where(np.isnan(xa), xa, out)
    return out.astype(np.float32)


def logf32(x: float | np.floating[Any]) -> np.float32:
    """odtc_logf (runtime/c/src/mathf.c) for one value, bit for bit."""
    xf = np.float32(x)
    ix = int(np.array(xf, dtype=np.float32).view(np.uint32))
    k = 0
    if ix >= 0x7F800000 or ix < 0x00800000:
        if ix & 0x7FFFFFFF == 0:
            return np.float32(-np.inf)
        if ix == 0x7F800000:
            return xf
        if ix & 0x7FFFFFFF > 0x7F800000:
            return np.float32(np.nan)
        if ix >> 31:
            return np.float32(np.nan)
        ix = int(np.array(np.float32(xf * np.float32(8388608.0)), dtype=np.float32).view(np.uint32))
        k = -23
    ix = (ix + 0x3F800000 - 0x3F3504F3) & 0xFFFFFFFF
    k += (ix >> 23) - 127
    m = np.float32(np.array((ix & 0x007FFFFF) + 0x3F3504F3, dtype=np.uint32).view(np.float32))
    f = np.float32(m - np.float32(1.0))
    s = np.float32(f / np.float32(np.float32(2.0) + f))
    z = np.float32(s * s)
    r = np.float32(2.358147353e-1)
    for c in (2.853734791e-1, 4.000033438e-1, 6.666666269e-1):
        r = np.float32(np.float32(r * z) + np.float32(c))
    r = np.float32(r * z)
    hfsq = np.float32(np.float32(np.float32(0.5) * f) * f)
    kf = np.float32(k)
    inner = np.float32(np.float32(f - hfsq) + np.float32(np.float32(s * np.float32(hfsq + r)) + np.float32(kf * _LN2_LO)))
    return np.float32(np.float32(kf * _LN2_HI) + inner)


def _row_stats(row: NDArray[np.float32]) -> tuple[np.float32, np.float32]:
    m = np.float32(row.max())  # the C's first-maximum scan gives the same value
    e = expf32((row - m).astype(np.float32))
    return m, seq_sum_f32(e)


def softmax_cross_entropy_c(logits: ArrayLike, labels: ArrayLike) -> F32:
    """odtc_softmax_cross_entropy_f32: mean over rows of (m + logf(Σ expf(l − m))) − l[label]."""
    la = np.asarray(logits, dtype=np.float32)
    lab = np.asarray(labels).reshape(-1)
    total = np.float32(0.0)
    for i in range(la.shape[0]):
        m, s = _row_stats(la[i])
        lse = np.float32(m + logf32(s))
        total = np.float32(total + np.float32(lse - la[i, int(lab[i])]))
    return np.array(np.float32(total / np.float32(la.shape[0])), dtype=np.float32)


def softmax_cross_entropy_grad_c(logits: ArrayLike, labels: ArrayLike) -> F32:
    """odtc_softmax_cross_entropy_f32_grad: (expf(l − m) / s − [j == label]) / n."""
    la = np.asarray(logits, dtype=np.float32)
    lab = np.asarray(labels).reshape(-1)
    n = np.float32(la.shape[0])
    out = np.empty_like(la)
    for i in range(la.shape[0]):
        m, s = _row_stats(la[i])
        p = (expf32((la[i] - m).astype(np.float32)) / s).astype(np.float32)
        p[int(lab[i])] = np.float32(p[int(lab[i])] - np.float32(1.0))
        out[i] = (p / n).astype(np.float32)
    return out


def qgrad_bias(e: ArrayLike, scale: ArrayLike, zero_point: ArrayLike) -> F32:
    """`qtrain.qgrad_bias`: grad_bias_c of the dequantized 8-bit error (the C kernel
    dequantizes each element as it adds it, in the same order)."""
    return grad_bias_c(ref.dequantize(e, scale, zero_point))


def grad_bias_c(dy: ArrayLike) -> F32:
    """odtc_conv2d_f32_grad_bias / odtc_dense_f32_grad_bias: per channel a sequential f32 sum
    over (n, spatial) in memory order, starting from +0.0f."""
    d = np.asarray(dy, dtype=np.float32)
    o = d.shape[1]
    per = np.moveaxis(d.reshape(d.shape[0], o, -1), 1, 0).reshape(o, -1)
    out = np.empty(o, dtype=np.float32)
    for c in range(o):
        out[c] = np.float32(np.float32(0.0) + seq_sum_f32(per[c])) if per[c].size else np.float32(0.0)
    return out
