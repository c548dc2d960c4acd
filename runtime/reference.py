"""Reference semantics of every `qtrain` op, in plain numpy (no xDSL).

This module is the authoritative numeric definition that the interpreter
(`odtc.runtime.interpreter`) executes and that the generated C kernels must reproduce.

Layouts and shapes follow `odtc.dialects.qtrain`: activations NCHW, conv weights OIHW
(I = C / groups), dense weights [out, in], padding `[top, left, bottom, right]`, floor-mode
output sizes.

Floating point (f32 ops)
------------------------
Inputs and outputs are `np.float32`. Reductions (conv, dense, pooling sums, means,
batchnorm, losses) are evaluated in float64 and the result is rounded once to float32.
Products of two f32 values are exact in f64, so the only f64 rounding is in the
summation; the f32 result is therefore within about half an f32 ulp of the exact value,
independent of summation order. C kernels accumulating in f32 are *not* expected to be
bit-identical to this; they are compared with a tolerance. Element-wise ops
(`relu`, `relu6`, `add`, `maxpool2d`) are exact in f32 and bit-identical to C.

Quantized ops: the rounding and saturation rule
-----------------------------------------------
Quantized tensors hold their stored integers in `np.int32` arrays (any storage type
si8/ui8/si16/si32 fits). Scales are `np.float32`, zero-points `np.int32`; per-tensor
parameters are rank 0, per-channel ones rank 1 along the quantization axis.

1. float -> int (`quantize`)::

       r = rintf(x / scale)            # f32 division, IEEE round-to-nearest-even,
                                       # then round half to even (C rintf, np.rint)
       q = min(max(r + zero_point, qmin), qmax)

   The addition and the clamps are evaluated exactly (mathematically): any `r` outside
   [qmin - zp, qmax - zp] saturates, including +-inf. NaN is not a supported input; the
   reference maps it to `zero_point`.

2. int -> float (`dequantize`)::

       x = (float)scale * (float)(q - zero_point)      # one f32 multiply

   `q - zero_point` is computed exactly in integers, then rounded to f32.

3. Fixed-point real multiplier (`quantize_multiplier`), TFLite/gemmlowp convention: for
   a real `M >= 0` (given as f32, widened exactly to double),
   `M = m * 2**shift` with `m` in [0.5, 1) (C `frexp`), `multiplier = round(m * 2**31)`
   (half away from zero; exact for f32 inputs), if `multiplier == 2**31` it becomes
   `2**30` and `shift += 1`; `M == 0` gives `(0, 0)`; if `shift < -31` the result is
   flushed to `(0, 0)`.

4. `multiply_by_quantized_multiplier(x, multiplier, shift)` for an int32 `x`::

       left  = max(shift, 0);  right = max(-shift, 0)
       x1    = saturate_int32(x * 2**left)          # defined saturation (no C overflow)
       x2    = SaturatingRoundingDoublingHighMul(x1, multiplier)
       y     = RoundingDivideByPOT(x2, right)

   with, exactly as in gemmlowp (C `/` truncates toward zero)::

       SRDHM(a, b) = INT32_MAX                                   if a == b == INT32_MIN
                   = (int32)(((int64)a * b + nudge) / 2**31)      otherwise,
                     nudge = (a*b >= 0) ? 2**30 : 1 - 2**30
       (this is round-half-toward-plus-infinity of a*b / 2**31)

       RoundingDivideByPOT(x, e): mask = 2**e - 1; rem = x & mask;
                                  thr = (mask >> 1) + (x < 0);
                                  (x >> e) + (rem > thr)          # arithmetic shift
       (this is round-half-away-from-zero of x / 2**e)

5. Real multipliers are formed in f32 in this exact order:

   * `requantize`:  `M = (float)s_in / (float)s_out`
   * `qconv2d`, `qdense`: `M[c] = ((float)(s_x * s_w[c])) / s_y` -- first the f32
     product `s_x * s_w[c]` (rounded to f32), then the f32 division by `s_y`.

6. `qconv2d` / `qdense`::

       acc[c] = bias[c] + sum (x - z_x) * (w - z_w[c])    # exact; must fit in int32
       y      = multiply_by_quantized_multiplier(acc[c], M[c]) + z_y
       y      = min(max(y, lo), hi)

   Zero padding of `qconv2d` pads with `z_x` (i.e. real zero, contributing nothing).
   `(lo, hi)` is the activation range, always inside the storage range:
   "none": `[qmin, qmax]`; "relu": `[max(qmin, z_y), qmax]`;
   "relu6": `[max(qmin, z_y), min(qmax, z_y + rintf(6.0f / s_y))]`.
   An accumulator outside int32 is an invalid program: the reference raises
   `OverflowError` (C would have undefined behaviour).

7. `requantize`: `y = clamp(multiply_by_quantized_multiplier(q - z_in, M) + z_out, qmin, qmax)`;
   `q - z_in` must fit in int32.

Backward ops (f32)
------------------
Same rule as the forward f32 ops: every gradient that is a sum (conv/dense gradients,
bias/gamma/beta gradients, pooling gradients where windows overlap) is evaluated in
float64 -- products of two f32 values are exact, the f64 sum (and any f64 division by a
window count, H*W, N or numel) is rounded once to f32. `relu_grad`, `relu6_grad` and the
routing of `maxpool2d_grad` (when windows do not overlap) are exact selections.

Optimizer ops (f32 state, pure functions returning new arrays)
--------------------------------------------------------------
Element-wise float32 arithmetic, evaluated in the order written in each function's
docstring, every hyper-parameter first rounded to float32 (`f32(lr)` etc.). These are
the PyTorch CPU update rules (`torch.optim.SGD`, SGD with momentum, `torch.optim.Adam`
without amsgrad/weight decay); a C kernel that evaluates the same expressions in the
same order without FMA contraction is bit-identical. With `channels`, the gradient has
one row per listed output channel and only those rows of the parameter and of its
optimizer state change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1

F32 = NDArray[np.float32]
I32 = NDArray[np.int32]
I64 = NDArray[np.int64]

ACTIVATIONS = ("none", "relu", "relu6")

__all__ = [
    "ACTIVATIONS",
    "INT32_MAX",
    "INT32_MIN",
    "activation_range",
    "accumulate_gradient",
    "adam_update",
    "add",
    "avgpool2d",
    "avgpool2d_grad",
    "batchnorm_grad_beta",
    "batchnorm_grad_gamma",
    "batchnorm_grad_input",
    "conv2d_grad_bias",
    "conv2d_grad_input",
    "conv2d_grad_weight",
    "counter_step",
    "dense_grad_bias",
    "dense_grad_input",
    "dense_grad_weight",
    "global_avgpool_grad",
    "maxpool2d_grad",
    "momentum_update",
    "mse_grad",
    "relu6_grad",
    "relu_grad",
    "sgd_update",
    "softmax_cross_entropy_grad",
    "batchnorm",
    "conv2d",
    "conv_output_hw",
    "dense",
    "dequantize",
    "flatten",
    "global_avgpool",
    "maxpool2d",
    "mse",
    "multiply_by_quantized_multiplier",
    "qconv2d",
    "qdense",
    "quantize",
    "quantize_multiplier",
    "relu",
    "relu6",
    "requantize",
    "reshape",
    "rounding_divide_by_pot",
    "saturating_rounding_doubling_high_mul",
    "softmax_cross_entropy",
]


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def _f32(a: ArrayLike) -> F32:
    return np.asarray(a, dtype=np.float32)


def _pair(v: Sequence[int] | int, what: str) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    t = tuple(int(i) for i in v)
    if len(t) != 2:
        raise ValueError(f"{what} must have 2 values, got {t}")
    return t  # type: ignore[return-value]


def _pads(padding: Sequence[int] | int) -> tuple[int, int, int, int]:
    if isinstance(padding, int):
        return (padding, padding, padding, padding)
    t = tuple(int(p) for p in padding)
    if len(t) != 4 or any(p < 0 for p in t):
        raise ValueError(f"padding must be 4 non-negative values [top, left, bottom, right], got {t}")
    return t  # type: ignore[return-value]


def conv_output_hw(
    hw: Sequence[int], kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int]
) -> tuple[int, int]:
    """Floor-mode output size; padding is [top, left, bottom, right]."""
    oh = (hw[0] + padding[0] + padding[2] - kernel[0]) // stride[0] + 1
    ow = (hw[1] + padding[1] + padding[3] - kernel[1]) // stride[1] + 1
    return oh, ow


def _pad_nchw(x: NDArray[Any], padding: tuple[int, int, int, int], value: Any) -> NDArray[Any]:
    t, l, b, r = padding
    if t == l == b == r == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), mode="constant", constant_values=value)


def _windows(xp: NDArray[Any], kernel: tuple[int, int], stride: tuple[int, int]) -> NDArray[Any]:
    """Read-only view [N, C, OH, OW, KH, KW] of the (already padded) input."""
    v = np.lib.stride_tricks.sliding_window_view(xp, kernel, axis=(2, 3))
    return v[:, :, :: stride[0], :: stride[1]]


def _check_conv(x: NDArray[Any], w: NDArray[Any], groups: int) -> None:
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv2d expects NCHW input and OIHW weight, got {x.shape} and {w.shape}")
    c, o, i = x.shape[1], w.shape[0], w.shape[1]
    if groups < 1 or c % groups or o % groups or i * groups != c:
        raise ValueError(f"groups {groups} incompatible with input {x.shape} and weight {w.shape}")


def _grouped_conv_sum(
    xp: NDArray[Any], w: NDArray[Any], stride: tuple[int, int], groups: int
) -> NDArray[Any]:
    """sum_{i,kh,kw} xp[n, g*I+i, oh*s+kh, ow*s+kw] * w[o, i, kh, kw] in the inputs' dtype."""
    n, c = xp.shape[:2]
    o, i, kh, kw = w.shape
    win = _windows(xp, (kh, kw), stride)  # [N, C, OH, OW, KH, KW]
    oh, ow = win.shape[2], win.shape[3]
    win = win.reshape(n, groups, i, oh, ow, kh, kw)
    wg = w.reshape(groups, o // groups, i, kh, kw)
    out = np.einsum("ngihwab,goiab->ngohw", win, wg, optimize=True)
    return out.reshape(n, o, oh, ow)


def _scalar_f32(v: ArrayLike) -> np.float32:
    return np.float32(np.asarray(v, dtype=np.float32).item())


def _bcast(v: NDArray[Any], ndim: int, axis: int | None) -> NDArray[Any]:
    """Reshape a rank-0 (per tensor) or rank-1 (per channel along `axis`) parameter."""
    if v.ndim == 0:
        return v
    if axis is None:
        raise ValueError(f"per-channel parameter of shape {v.shape} needs an axis")
    shape = [1] * ndim
    shape[axis] = v.shape[0]
    return v.reshape(shape)


# ---------------------------------------------------------------------------------------
# f32 ops
# ---------------------------------------------------------------------------------------


def conv2d(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    stride: Sequence[int] | int = (1, 1),
    padding: Sequence[int] | int = (0, 0, 0, 0),
    groups: int = 1,
) -> F32:
    """2-D convolution (cross-correlation), NCHW x OIHW -> NCHW, zero padding.

    Accumulates in float64 (exact f32 products, f64 sum incl. bias) and rounds once to f32.
    """
    xa, wa = _f32(x), _f32(w)
    _check_conv(xa, wa, groups)
    pads = _pads(padding)
    xp = _pad_nchw(xa.astype(np.float64), pads, 0.0)
    out = _grouped_conv_sum(xp, wa.astype(np.float64), _pair(stride, "stride"), groups)
    if b is not None:
        out = out + _f32(b).astype(np.float64).reshape(1, -1, 1, 1)
    return out.astype(np.float32)


def dense(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None) -> F32:
    """y = x W^T + b with x [N, in], W [out, in]; float64 accumulation, f32 result."""
    xa, wa = _f32(x).astype(np.float64), _f32(w).astype(np.float64)
    if xa.ndim != 2 or wa.ndim != 2 or xa.shape[1] != wa.shape[1]:
        raise ValueError(f"dense expects x [N, K] and w [O, K], got {xa.shape} and {wa.shape}")
    out = xa @ wa.T
    if b is not None:
        out = out + _f32(b).astype(np.float64)
    return out.astype(np.float32)


def relu(x: ArrayLike) -> F32:
    """max(x, 0) in f32 (NaN propagates, like torch)."""
    return np.maximum(_f32(x), np.float32(0.0))


def relu6(x: ArrayLike) -> F32:
    """min(max(x, 0), 6) in f32."""
    return np.minimum(np.maximum(_f32(x), np.float32(0.0)), np.float32(6.0))


def add(a: ArrayLike, b: ArrayLike) -> F32:
    """Element-wise f32 sum of two same-shape tensors (no broadcasting)."""
    aa, ba = _f32(a), _f32(b)
    if aa.shape != ba.shape:
        raise ValueError(f"add: shapes {aa.shape} and {ba.shape} differ")
    return aa + ba


def maxpool2d(
    x: ArrayLike,
    kernel: Sequence[int] | int,
    stride: Sequence[int] | int | None = None,
    padding: Sequence[int] | int = (0, 0, 0, 0),
) -> F32:
    """Max pooling, floor mode; padded positions are -inf. Stride defaults to the kernel."""
    xa = _f32(x)
    k = _pair(kernel, "kernel")
    s = k if stride is None else _pair(stride, "stride")
    xp = _pad_nchw(xa, _pads(padding), -np.inf)
    return _windows(xp, k, s).max(axis=(4, 5)).astype(np.float32)


def avgpool2d(
    x: ArrayLike,
    kernel: Sequence[int] | int,
    stride: Sequence[int] | int | None = None,
    padding: Sequence[int] | int = (0, 0, 0, 0),
    count_include_pad: bool = False,
) -> F32:
    """Average pooling, floor mode; sum in float64 divided by the window size
    (kh*kw if `count_include_pad`, else the number of non-padded positions)."""
    xa = _f32(x)
    k = _pair(kernel, "kernel")
    s = k if stride is None else _pair(stride, "stride")
    pads = _pads(padding)
    xp = _pad_nchw(xa.astype(np.float64), pads, 0.0)
    sums = _windows(xp, k, s).sum(axis=(4, 5))
    if count_include_pad:
        count: NDArray[np.float64] | float = float(k[0] * k[1])
    else:
        ones = _pad_nchw(np.ones((1, 1) + xa.shape[2:], dtype=np.float64), pads, 0.0)
        count = _windows(ones, k, s).sum(axis=(4, 5))
    return (sums / count).astype(np.float32)


def global_avgpool(x: ArrayLike) -> F32:
    """Mean over H and W (float64), [N, C, H, W] -> [N, C, 1, 1]."""
    xa = _f32(x)
    if xa.ndim != 4:
        raise ValueError(f"global_avgpool expects NCHW, got {xa.shape}")
    return xa.astype(np.float64).mean(axis=(2, 3), keepdims=True).astype(np.float32)


def reshape(x: ArrayLike, shape: Sequence[int]) -> NDArray[Any]:
    """Row-major reinterpretation with a new static shape (keeps the dtype)."""
    xa = np.asarray(x)
    if math.prod(shape) != xa.size:
        raise ValueError(f"cannot reshape {xa.shape} to {tuple(shape)}")
    return xa.reshape(tuple(shape)).copy()


def flatten(x: ArrayLike, axis: int = 1) -> NDArray[Any]:
    """ONNX Flatten: dims [0, axis) and [axis, rank) collapse into a 2-D tensor."""
    xa = np.asarray(x)
    if not 0 <= axis <= xa.ndim:
        raise ValueError(f"flatten axis {axis} out of range for shape {xa.shape}")
    return xa.reshape(math.prod(xa.shape[:axis]), math.prod(xa.shape[axis:])).copy()


def batchnorm(
    x: ArrayLike,
    gamma: ArrayLike,
    beta: ArrayLike,
    mean: ArrayLike,
    var: ArrayLike,
    eps: float = 1e-5,
) -> F32:
    """gamma * (x - mean) / sqrt(var + eps) + beta over channel dim 1 (rank 2 or 4), in
    float64, rounded once to f32."""
    xa = _f32(x)
    if xa.ndim not in (2, 4):
        raise ValueError(f"batchnorm expects rank 2 or 4, got {xa.shape}")
    shape = (1, xa.shape[1]) + (1,) * (xa.ndim - 2)

    def chan(v: ArrayLike) -> NDArray[np.float64]:
        return _f32(v).astype(np.float64).reshape(shape)

    y = chan(gamma) * (xa.astype(np.float64) - chan(mean)) / np.sqrt(chan(var) + float(eps)) + chan(beta)
    return y.astype(np.float32)


def softmax_cross_entropy(logits: ArrayLike, labels: ArrayLike) -> F32:
    """Mean over the batch of logsumexp(logits[n]) - logits[n, labels[n]] (float64,
    max-shifted), returned as a rank-0 f32 array."""
    la = _f32(logits).astype(np.float64)
    lab = np.asarray(labels)
    if la.ndim != 2 or lab.shape != (la.shape[0],):
        raise ValueError(f"softmax_cross_entropy expects logits [N, C] and labels [N], got {la.shape}, {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {lab.dtype}")
    if lab.size and (lab.min() < 0 or lab.max() >= la.shape[1]):
        raise ValueError(f"labels out of range [0, {la.shape[1]}): {lab}")
    m = la.max(axis=1)
    lse = m + np.log(np.exp(la - m[:, None]).sum(axis=1))
    picked = la[np.arange(la.shape[0]), lab.astype(np.int64)]
    return np.asarray((lse - picked).mean(), dtype=np.float32)


def mse(pred: ArrayLike, target: ArrayLike) -> F32:
    """Mean over all elements of (pred - target)^2, in float64; rank-0 f32 array."""
    p, t = _f32(pred).astype(np.float64), _f32(target).astype(np.float64)
    if p.shape != t.shape:
        raise ValueError(f"mse: shapes {p.shape} and {t.shape} differ")
    return np.asarray(((p - t) ** 2).mean(), dtype=np.float32)


# ---------------------------------------------------------------------------------------
# Quantized ops
# ---------------------------------------------------------------------------------------


def quantize(
    x: ArrayLike,
    scale: ArrayLike,
    zero_point: ArrayLike,
    qmin: int,
    qmax: int,
    axis: int | None = None,
) -> I32:
    """q = clamp(rintf(x / scale) + zero_point, qmin, qmax); f32 division, ties to even.

    `scale`/`zero_point` are rank 0, or rank 1 along `axis` (per channel).
    """
    xa = _f32(x)
    s = _bcast(_f32(scale), xa.ndim, axis)
    z = _bcast(np.asarray(zero_point, dtype=np.int64), xa.ndim, axis)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        r = np.rint(np.divide(xa, s, dtype=np.float32))  # f32 quotient, f32 rint
        # r + z is exact in f64 whenever it can be in range; larger |r| saturates anyway.
        v = r.astype(np.float64) + z.astype(np.float64)
        v = np.where(np.isnan(v), np.broadcast_to(z, v.shape).astype(np.float64), v)
        v = np.clip(v, qmin, qmax)
    return v.astype(np.int32)


def dequantize(
    q: ArrayLike, scale: ArrayLike, zero_point: ArrayLike, axis: int | None = None
) -> F32:
    """x = float32(scale) * float32(q - zero_point), one f32 multiply."""
    qa = np.asarray(q, dtype=np.int64)
    s = _bcast(_f32(scale), qa.ndim, axis)
    z = _bcast(np.asarray(zero_point, dtype=np.int64), qa.ndim, axis)
    return (s * (qa - z).astype(np.float32)).astype(np.float32)


def quantize_multiplier(real: float | np.floating[Any]) -> tuple[int, int]:
    """Split a real multiplier M >= 0 into (Q31 multiplier, shift): M ~ multiplier * 2^(shift - 31).

    TFLite `QuantizeMultiplier`: M = m * 2^shift with m in [0.5, 1) (frexp),
    multiplier = round_half_away(m * 2^31); 2^31 becomes 2^30 with shift + 1; M == 0 ->
    (0, 0); shift < -31 flushes to (0, 0). The value is used as a double; pass the f32
    multiplier (np.float32) -- it widens exactly.
    """
    r = float(real)
    if not math.isfinite(r) or r < 0:
        raise ValueError(f"quantize_multiplier: real multiplier must be finite and >= 0, got {r}")
    if r == 0.0:
        return 0, 0
    m, shift = math.frexp(r)
    q = math.floor(m * (1 << 31) + 0.5)  # m * 2^31 is exact in double; m > 0
    if q == (1 << 31):
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q), int(shift)


def saturating_rounding_doubling_high_mul(a: ArrayLike, b: ArrayLike) -> I64:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values (returned as int64)."""
    aa = np.asarray(a, dtype=np.int64)
    ba = np.asarray(b, dtype=np.int64)
    overflow = (aa == ba) & (aa == INT32_MIN)
    ab = aa * ba  # |ab| <= 2^62
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    t = ab + nudge
    # C integer division by 2^31 truncates toward zero.
    high = np.where(t >= 0, t >> 31, -((-t) >> 31))
    return np.where(overflow, np.int64(INT32_MAX), high).astype(np.int64)


def rounding_divide_by_pot(x: ArrayLike, exponent: ArrayLike) -> I64:
    """gemmlowp RoundingDivideByPOT (round half away from zero), exponent in [0, 31]."""
    xa = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    if np.any(e < 0) or np.any(e > 31):
        raise ValueError(f"rounding_divide_by_pot: exponent must be in [0, 31], got {e}")
    mask = (np.int64(1) << e) - 1
    remainder = xa & mask
    threshold = (mask >> 1) + (xa < 0).astype(np.int64)
    return ((xa >> e) + (remainder > threshold).astype(np.int64)).astype(np.int64)


def multiply_by_quantized_multiplier(acc: ArrayLike, multiplier: ArrayLike, shift: ArrayLike) -> I64:
    """TFLite-Micro MultiplyByQuantizedMultiplier, vectorised (int64 in, int64 out).

    `acc` must hold int32 values; `multiplier`/`shift` broadcast against it (per channel).
    Left shifts (shift > 0) saturate to int32 before the high multiply.
    """
    x = np.asarray(acc, dtype=np.int64)
    if x.size and (x.min() < INT32_MIN or x.max() > INT32_MAX):
        raise OverflowError("multiply_by_quantized_multiplier: input outside int32")
    m = np.asarray(multiplier, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    left = np.clip(s, 0, 31)  # |x| * 2^31 <= 2^62; any larger shift saturates anyway
    right = np.maximum(-s, 0)
    x1 = np.clip(x << left, INT32_MIN, INT32_MAX)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x1, m), right)


def requantize(
    q: ArrayLike,
    s_in: ArrayLike,
    z_in: ArrayLike,
    s_out: ArrayLike,
    z_out: ArrayLike,
    qmin: int,
    qmax: int,
) -> I32:
    """Per-tensor change of scale/zero-point: clamp(z_out + M * (q - z_in)), M = f32(s_in / s_out)."""
    qa = np.asarray(q, dtype=np.int64)
    mreal = np.float32(_scalar_f32(s_in) / _scalar_f32(s_out))
    mult, shift = quantize_multiplier(mreal)
    d = qa - np.int64(np.asarray(z_in).item())
    if d.size and (d.min() < INT32_MIN or d.max() > INT32_MAX):
        raise OverflowError("requantize: q - z_in outside int32")
    y = multiply_by_quantized_multiplier(d, mult, shift) + np.int64(np.asarray(z_out).item())
    return np.clip(y, qmin, qmax).astype(np.int32)


def activation_range(
    activation: str, y_scale: ArrayLike, y_zero_point: ArrayLike, qmin: int, qmax: int
) -> tuple[int, int]:
    """Quantized clamp range of a fused activation (see the module docstring, rule 6)."""
    zy = int(np.asarray(y_zero_point).item())
    if activation == "none":
        return qmin, qmax
    if activation == "relu":
        return max(qmin, zy), qmax
    if activation == "relu6":
        sy = _scalar_f32(y_scale)
        with np.errstate(divide="ignore", over="ignore"):
            six = float(np.rint(np.float32(6.0) / sy))
        hi = qmax if six > qmax - zy else min(qmax, zy + int(six))
        return max(qmin, zy), hi
    raise ValueError(f"unknown activation '{activation}' (expected one of {', '.join(ACTIVATIONS)})")


def _layer_multipliers(sx: ArrayLike, sw: ArrayLike, sy: ArrayLike, channels: int) -> tuple[I64, I64]:
    """Per-output-channel (multiplier, shift): M[c] = f32(f32(sx * sw[c]) / sy)."""
    sxa = _scalar_f32(sx)
    sya = _scalar_f32(sy)
    swa = np.broadcast_to(_f32(sw), (channels,))
    prod_ = (sxa * swa).astype(np.float32)
    reals = (prod_ / sya).astype(np.float32)
    pairs = [quantize_multiplier(r) for r in reals]
    return (
        np.array([p[0] for p in pairs], dtype=np.int64),
        np.array([p[1] for p in pairs], dtype=np.int64),
    )


def _finish(
    acc: NDArray[np.int64],
    sx: ArrayLike,
    sw: ArrayLike,
    sy: ArrayLike,
    zy: ArrayLike,
    activation: str,
    qmin: int,
    qmax: int,
) -> I32:
    """acc [N, O, ...] int64 (bias included) -> requantized, clamped int32."""
    if acc.size and (acc.min() < INT32_MIN or acc.max() > INT32_MAX):
        raise OverflowError("quantized layer: int32 accumulator overflow")
    o = acc.shape[1]
    mult, shift = _layer_multipliers(sx, sw, sy, o)
    shape = (1, o) + (1,) * (acc.ndim - 2)
    y = multiply_by_quantized_multiplier(acc, mult.reshape(shape), shift.reshape(shape))
    y = y + np.int64(np.asarray(zy).item())
    lo, hi = activation_range(activation, sy, zy, qmin, qmax)
    return np.minimum(np.maximum(y, lo), hi).astype(np.int32)


def qconv2d(
    x: ArrayLike,
    x_scale: ArrayLike,
    x_zero_point: ArrayLike,
    w: ArrayLike,
    w_scale: ArrayLike,
    w_zero_point: ArrayLike,
    bias: ArrayLike | None,
    y_scale: ArrayLike,
    y_zero_point: ArrayLike,
    stride: Sequence[int] | int = (1, 1),
    padding: Sequence[int] | int = (0, 0, 0, 0),
    groups: int = 1,
    activation: str = "none",
    qmin: int = -128,
    qmax: int = 127,
) -> I32:
    """Quantized conv2d (module docstring rules 5 and 6).

    acc[n, c] = bias[c] + sum (x - zx)(w[c] - zw[c]) (padding contributes 0), then
    y = clamp(MBQM(acc, M[c]) + zy, activation range) with M[c] = f32(f32(sx*sw[c]) / sy).
    `w_scale`/`w_zero_point` are rank 0 or rank 1 over output channels.
    """
    xa = np.asarray(x, dtype=np.int64)
    wa = np.asarray(w, dtype=np.int64)
    _check_conv(xa, wa, groups)
    o = wa.shape[0]
    zx = np.int64(np.asarray(x_zero_point).item())
    zw = np.broadcast_to(np.asarray(w_zero_point, dtype=np.int64), (o,)).reshape(o, 1, 1, 1)
    xp = _pad_nchw(xa - zx, _pads(padding), 0)
    acc = _grouped_conv_sum(xp, wa - zw, _pair(stride, "stride"), groups).astype(np.int64)
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64).reshape(1, o, 1, 1)
    return _finish(acc, x_scale, w_scale, y_scale, y_zero_point, activation, qmin, qmax)


def qdense(
    x: ArrayLike,
    x_scale: ArrayLike,
    x_zero_point: ArrayLike,
    w: ArrayLike,
    w_scale: ArrayLike,
    w_zero_point: ArrayLike,
    bias: ArrayLike | None,
    y_scale: ArrayLike,
    y_zero_point: ArrayLike,
    activation: str = "none",
    qmin: int = -128,
    qmax: int = 127,
) -> I32:
    """Quantized dense layer, x [N, in], W [out, in]; same arithmetic as `qconv2d`."""
    xa = np.asarray(x, dtype=np.int64)
    wa = np.asarray(w, dtype=np.int64)
    if xa.ndim != 2 or wa.ndim != 2 or xa.shape[1] != wa.shape[1]:
        raise ValueError(f"qdense expects x [N, K] and w [O, K], got {xa.shape} and {wa.shape}")
    o = wa.shape[0]
    zx = np.int64(np.asarray(x_zero_point).item())
    zw = np.broadcast_to(np.asarray(w_zero_point, dtype=np.int64), (o,)).reshape(o, 1)
    acc = (xa - zx) @ (wa - zw).T
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64).reshape(1, o)
    return _finish(acc, x_scale, w_scale, y_scale, y_zero_point, activation, qmin, qmax)


# ---------------------------------------------------------------------------------------
# Backward ops (f32)
# ---------------------------------------------------------------------------------------


def _f64(a: ArrayLike) -> NDArray[np.float64]:
    """f32 value widened exactly to float64."""
    return _f32(a).astype(np.float64)


def _shape4(shape: Sequence[int], what: str) -> tuple[int, int, int, int]:
    t = tuple(int(d) for d in shape)
    if len(t) != 4 or any(d < 1 for d in t):
        raise ValueError(f"{what} must be a positive NCHW shape, got {t}")
    return t  # type: ignore[return-value]


def _scatter_windows(
    contrib: NDArray[np.float64],
    padded_hw: tuple[int, int],
    stride: tuple[int, int],
) -> NDArray[np.float64]:
    """Adjoint of `_windows`: contrib [N, C, OH, OW, KH, KW] summed (f64) into the padded
    input positions [N, C, Hp, Wp] each window element was read from."""
    n, c, oh, ow, kh, kw = contrib.shape
    out = np.zeros((n, c) + padded_hw, dtype=np.float64)
    sh, sw = stride
    for a in range(kh):
        for b in range(kw):
            out[:, :, a : a + sh * (oh - 1) + 1 : sh, b : b + sw * (ow - 1) + 1 : sw] += contrib[..., a, b]
    return out


def _crop(xp: NDArray[Any], pads: tuple[int, int, int, int], hw: tuple[int, int]) -> NDArray[Any]:
    t, l, _, _ = pads
    return xp[:, :, t : t + hw[0], l : l + hw[1]]


def _rows(channels: Sequence[int] | ArrayLike | None, out: int) -> Any:
    """Row selector of a (sparse) weight gradient: all rows (`...`), or the listed output
    channels (an index array)."""
    if channels is None:
        return ...
    ch = np.asarray(channels, dtype=np.int64).reshape(-1)
    if ch.size == 0 or np.any(np.diff(ch) <= 0) or ch[0] < 0 or ch[-1] >= out:
        raise ValueError(f"channels must be a non-empty increasing list in [0, {out}), got {ch.tolist()}")
    return ch


def conv2d_grad_input(
    dy: ArrayLike,
    w: ArrayLike,
    input_shape: Sequence[int],
    stride: Sequence[int] | int = (1, 1),
    padding: Sequence[int] | int = (0, 0, 0, 0),
    groups: int = 1,
) -> F32:
    """dL/dx of `conv2d`: dx[n, g*I+i, h, w] = sum over o in group g and kernel taps (kh, kw)
    with h = oh*sh - top + kh, w = ow*sw - left + kw of dy[n, o, oh, ow] * W[o, i, kh, kw].

    Input positions no window reads (floor mode) get 0. float64 sum, rounded once.
    """
    n, c, h, wd = _shape4(input_shape, "input_shape")
    dya, wa = _f64(dy), _f64(w)
    if wa.ndim != 4 or dya.ndim != 4:
        raise ValueError(f"conv2d_grad_input expects NCHW dy and OIHW weight, got {dya.shape} and {wa.shape}")
    o, i, kh, kw = wa.shape
    if groups < 1 or o % groups or i * groups != c:
        raise ValueError(f"groups {groups} incompatible with input shape {(n, c, h, wd)} and weight {wa.shape}")
    s = _pair(stride, "stride")
    pads = _pads(padding)
    oh, ow = conv_output_hw((h, wd), (kh, kw), s, pads)
    if dya.shape != (n, o, oh, ow):
        raise ValueError(f"conv2d_grad_input: dy has shape {dya.shape}, expected {(n, o, oh, ow)}")
    dyg = dya.reshape(n, groups, o // groups, oh, ow)
    wg = wa.reshape(groups, o // groups, i, kh, kw)
    contrib = np.einsum("ngohw,goiab->ngihwab", dyg, wg, optimize=True).reshape(n, c, oh, ow, kh, kw)
    dxp = _scatter_windows(contrib, (h + pads[0] + pads[2], wd + pads[1] + pads[3]), s)
    return _crop(dxp, pads, (h, wd)).astype(np.float32)


def conv2d_grad_weight(
    x: ArrayLike,
    dy: ArrayLike,
    kernel: Sequence[int] | int,
    stride: Sequence[int] | int = (1, 1),
    padding: Sequence[int] | int = (0, 0, 0, 0),
    groups: int = 1,
    channels: Sequence[int] | ArrayLike | None = None,
) -> F32:
    """dL/dW of `conv2d`: dW[o, i, kh, kw] = sum_{n, oh, ow} dy[n, o, oh, ow] *
    xpad[n, g(o)*I + i, oh*sh + kh, ow*sw + kw] (zero padding), float64 sum rounded once.

    `kernel` is (KH, KW) or the full OIHW weight shape. With `channels` only those output
    channels' rows are returned, in the listed order (result [len(channels), I, KH, KW]).
    """
    xa, dya = _f64(x), _f64(dy)
    if xa.ndim != 4 or dya.ndim != 4:
        raise ValueError(f"conv2d_grad_weight expects NCHW x and dy, got {xa.shape} and {dya.shape}")
    k = tuple(int(v) for v in kernel) if not isinstance(kernel, int) else (kernel, kernel)
    kh, kw = k[-2:] if len(k) == 4 else _pair(k, "kernel")
    n, c, h, wd = xa.shape
    o = dya.shape[1]
    if groups < 1 or c % groups or o % groups:
        raise ValueError(f"groups {groups} incompatible with input {xa.shape} and output error {dya.shape}")
    i = c // groups
    s = _pair(stride, "stride")
    pads = _pads(padding)
    oh, ow = conv_output_hw((h, wd), (kh, kw), s, pads)
    if dya.shape != (n, o, oh, ow):
        raise ValueError(f"conv2d_grad_weight: dy has shape {dya.shape}, expected {(n, o, oh, ow)}")
    rows = _rows(channels, o)
    win = _windows(_pad_nchw(xa, pads, 0.0), (kh, kw), s)[:, :, :oh, :ow]
    win = win.reshape(n, groups, i, oh, ow, kh, kw)
    dyg = dya.reshape(n, groups, o // groups, oh, ow)
    full = np.einsum("ngihwab,ngohw->goiab", win, dyg, optimize=True).reshape(o, i, kh, kw)
    return np.ascontiguousarray(full[rows]).astype(np.float32)


def conv2d_grad_bias(dy: ArrayLike) -> F32:
    """dL/db of `conv2d`: dy [N, O, OH, OW] summed over N, OH, OW (float64, rounded once)."""
    dya = _f64(dy)
    if dya.ndim != 4:
        raise ValueError(f"conv2d_grad_bias expects NCHW dy, got {dya.shape}")
    return dya.sum(axis=(0, 2, 3)).astype(np.float32)


def dense_grad_input(dy: ArrayLike, w: ArrayLike) -> F32:
    """dL/dx of `dense`: dx = dy W, dy [N, O], W [O, K] -> [N, K]; float64, rounded once."""
    dya, wa = _f64(dy), _f64(w)
    if dya.ndim != 2 or wa.ndim != 2 or dya.shape[1] != wa.shape[0]:
        raise ValueError(f"dense_grad_input expects dy [N, O] and w [O, K], got {dya.shape} and {wa.shape}")
    return (dya @ wa).astype(np.float32)


def dense_grad_weight(x: ArrayLike, dy: ArrayLike, channels: Sequence[int] | ArrayLike | None = None) -> F32:
    """dL/dW of `dense`: dW = dy^T x, x [N, K], dy [N, O] -> [O, K] (float64, rounded once);
    with `channels` only those output rows -> [len(channels), K]."""
    xa, dya = _f64(x), _f64(dy)
    if xa.ndim != 2 or dya.ndim != 2 or xa.shape[0] != dya.shape[0]:
        raise ValueError(f"dense_grad_weight expects x [N, K] and dy [N, O], got {xa.shape} and {dya.shape}")
    rows = _rows(channels, dya.shape[1])
    return (dya[:, rows].T @ xa).astype(np.float32)


def dense_grad_bias(dy: ArrayLike) -> F32:
    """dL/db of `dense`: dy [N, O] summed over N (float64, rounded once)."""
    dya = _f64(dy)
    if dya.ndim != 2:
        raise ValueError(f"dense_grad_bias expects dy [N, O], got {dya.shape}")
    return dya.sum(axis=0).astype(np.float32)


def relu_grad(dy: ArrayLike, y: ArrayLike) -> F32:
    """dx = dy where the forward output y > 0, else +0.0 (exact)."""
    dya, ya = _f32(dy), _f32(y)
    if dya.shape != ya.shape:
        raise ValueError(f"relu_grad: shapes {dya.shape} and {ya.shape} differ")
    return np.where(ya > 0, dya, np.float32(0.0)).astype(np.float32)


def relu6_grad(dy: ArrayLike, y: ArrayLike) -> F32:
    """dx = dy where 0 < y < 6 for the forward output y, else +0.0 (exact)."""
    dya, ya = _f32(dy), _f32(y)
    if dya.shape != ya.shape:
        raise ValueError(f"relu6_grad: shapes {dya.shape} and {ya.shape} differ")
    return np.where((ya > 0) & (ya < 6), dya, np.float32(0.0)).astype(np.float32)


def maxpool2d_grad(
    dy: ArrayLike,
    x: ArrayLike,
    kernel: Sequence[int] | int,
    stride: Sequence[int] | int | None = None,
    padding: Sequence[int] | int = (0, 0, 0, 0),
) -> F32:
    """dL/dx of `maxpool2d`: each dy[n, c, oh, ow] is added to the input position of its
    window that is the first maximal one in a row-major scan of the kernel (kh outer, kw
    inner). Padded positions never win: the scan covers only real input positions (C: start
    with the first real position of the window, replace on a strictly greater value).
    When windows overlap, the contributions to one input are summed in float64 and rounded
    once. NaN inputs are not supported (the first NaN of a window wins).
    """
    xa = _f32(x)
    dya = _f64(dy)
    if xa.ndim != 4:
        raise ValueError(f"maxpool2d_grad expects NCHW x, got {xa.shape}")
    k = _pair(kernel, "kernel")
    s = k if stride is None else _pair(stride, "stride")
    pads = _pads(padding)
    n, c, h, wd = xa.shape
    oh, ow = conv_output_hw((h, wd), k, s, pads)
    if dya.shape != (n, c, oh, ow):
        raise ValueError(f"maxpool2d_grad: dy has shape {dya.shape}, expected {(n, c, oh, ow)}")
    xp = _pad_nchw(xa, pads, -np.inf)
    valid = _pad_nchw(np.ones((1, 1, h, wd), dtype=bool), pads, False)
    win = _windows(xp, k, s)[:, :, :oh, :ow].reshape(n, c, oh, ow, k[0] * k[1])
    vwin = _windows(valid, k, s)[:, :, :oh, :ow].reshape(1, 1, oh, ow, k[0] * k[1])
    masked = np.where(vwin, win, -np.inf)
    with np.errstate(invalid="ignore"):
        m = masked.max(axis=-1, keepdims=True)
        hit = vwin & ((masked == m) | (np.isnan(masked) & np.isnan(m)))
    idx = np.argmax(hit, axis=-1)  # first True in row-major kernel order
    rows = np.arange(oh).reshape(1, 1, oh, 1) * s[0] + idx // k[1]
    cols = np.arange(ow).reshape(1, 1, 1, ow) * s[1] + idx % k[1]
    ni = np.arange(n).reshape(n, 1, 1, 1)
    ci = np.arange(c).reshape(1, c, 1, 1)
    dxp = np.zeros((n, c, xp.shape[2], xp.shape[3]), dtype=np.float64)
    np.add.at(dxp, (np.broadcast_to(ni, idx.shape), np.broadcast_to(ci, idx.shape), rows, cols), dya)
    return _crop(dxp, pads, (h, wd)).astype(np.float32)


def avgpool2d_grad(
    dy: ArrayLike,
    input_shape: Sequence[int],
    kernel: Sequence[int] | int,
    stride: Sequence[int] | int | None = None,
    padding: Sequence[int] | int = (0, 0, 0, 0),
    count_include_pad: bool = False,
) -> F32:
    """dL/dx of `avgpool2d`: dy[n, c, oh, ow] / count(oh, ow) added to every real input
    position of the window, count as in the forward op (kh*kw with `count_include_pad`,
    else the window's number of real positions). float64 (division and sum), rounded once.
    """
    n, c, h, wd = _shape4(input_shape, "input_shape")
    dya = _f64(dy)
    k = _pair(kernel, "kernel")
    s = k if stride is None else _pair(stride, "stride")
    pads = _pads(padding)
    oh, ow = conv_output_hw((h, wd), k, s, pads)
    if dya.shape != (n, c, oh, ow):
        raise ValueError(f"avgpool2d_grad: dy has shape {dya.shape}, expected {(n, c, oh, ow)}")
    if count_include_pad:
        count: NDArray[np.float64] | float = float(k[0] * k[1])
    else:
        ones = _pad_nchw(np.ones((1, 1, h, wd), dtype=np.float64), pads, 0.0)
        count = _windows(ones, k, s)[:, :, :oh, :ow].sum(axis=(4, 5))
    g = dya / count
    contrib = np.broadcast_to(g[..., None, None], (n, c, oh, ow) + k)
    dxp = _scatter_windows(contrib, (h + pads[0] + pads[2], wd + pads[1] + pads[3]), s)
    return _crop(dxp, pads, (h, wd)).astype(np.float32)


def global_avgpool_grad(dy: ArrayLike, input_shape: Sequence[int]) -> F32:
    """dL/dx of `global_avgpool`: dx[n, c, h, w] = dy[n, c, 0, 0] / (H*W) (float64 division,
    rounded once)."""
    n, c, h, wd = _shape4(input_shape, "input_shape")
    dya = _f64(dy)
    if dya.shape != (n, c, 1, 1):
        raise ValueError(f"global_avgpool_grad: dy has shape {dya.shape}, expected {(n, c, 1, 1)}")
    return np.broadcast_to(dya / float(h * wd), (n, c, h, wd)).astype(np.float32)


def _bn_chan(v: ArrayLike, ndim: int) -> NDArray[np.float64]:
    a = _f64(v)
    return a.reshape((1, a.shape[0]) + (1,) * (ndim - 2))


def _bn_check(dy: NDArray[Any], what: str) -> None:
    if dy.ndim not in (2, 4):
        raise ValueError(f"{what} expects rank 2 or 4 dy, got {dy.shape}")


def batchnorm_grad_input(dy: ArrayLike, gamma: ArrayLike, var: ArrayLike, eps: float = 1e-5) -> F32:
    """dL/dx of `batchnorm` (running statistics are constants): dy * gamma / sqrt(var + eps)
    over channel dim 1, in float64, rounded once."""
    dya = _f64(dy)
    _bn_check(dya, "batchnorm_grad_input")
    y = dya * _bn_chan(gamma, dya.ndim) / np.sqrt(_bn_chan(var, dya.ndim) + float(eps))
    return y.astype(np.float32)


def batchnorm_grad_gamma(
    dy: ArrayLike, x: ArrayLike, mean: ArrayLike, var: ArrayLike, eps: float = 1e-5
) -> F32:
    """dgamma[c] = sum over all dims but 1 of dy * (x - mean) / sqrt(var + eps), float64,
    rounded once."""
    dya, xa = _f64(dy), _f64(x)
    _bn_check(dya, "batchnorm_grad_gamma")
    if xa.shape != dya.shape:
        raise ValueError(f"batchnorm_grad_gamma: x {xa.shape} and dy {dya.shape} differ")
    xhat = (xa - _bn_chan(mean, xa.ndim)) / np.sqrt(_bn_chan(var, xa.ndim) + float(eps))
    axes = (0,) + tuple(range(2, dya.ndim))
    return (dya * xhat).sum(axis=axes).astype(np.float32)


def batchnorm_grad_beta(dy: ArrayLike) -> F32:
    """dbeta[c] = sum of dy over all dims but 1 (float64, rounded once)."""
    dya = _f64(dy)
    _bn_check(dya, "batchnorm_grad_beta")
    return dya.sum(axis=(0,) + tuple(range(2, dya.ndim))).astype(np.float32)


def softmax_cross_entropy_grad(logits: ArrayLike, labels: ArrayLike) -> F32:
    """dL/dlogits of the mean cross-entropy: (softmax(logits) - onehot(labels)) / N, with a
    max-shifted softmax in float64, rounded once."""
    la = _f64(logits)
    lab = np.asarray(labels)
    if la.ndim != 2 or lab.shape != (la.shape[0],):
        raise ValueError(
            f"softmax_cross_entropy_grad expects logits [N, C] and labels [N], got {la.shape}, {lab.shape}"
        )
    if not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {lab.dtype}")
    if lab.size and (lab.min() < 0 or lab.max() >= la.shape[1]):
        raise ValueError(f"labels out of range [0, {la.shape[1]}): {lab}")
    e = np.exp(la - la.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(la.shape[0]), lab.astype(np.int64)] -= 1.0
    return (p / float(la.shape[0])).astype(np.float32)


def mse_grad(pred: ArrayLike, target: ArrayLike) -> F32:
    """dL/dpred of the mean squared error: 2 * (pred - target) / numel (float64, rounded once)."""
    p, t = _f64(pred), _f64(target)
    if p.shape != t.shape:
        raise ValueError(f"mse_grad: shapes {p.shape} and {t.shape} differ")
    return (2.0 * (p - t) / float(max(p.size, 1))).astype(np.float32)


# ---------------------------------------------------------------------------------------
# Optimizer ops (f32, pure: return new arrays)
# ---------------------------------------------------------------------------------------


def _opt_rows(w: F32, g: F32, channels: Sequence[int] | ArrayLike | None, what: str) -> Any:
    if channels is not None and w.ndim == 0:
        raise ValueError(f"{what}: channels need a parameter of rank >= 1")
    rows = _rows(channels, w.shape[0] if w.ndim else 1)
    if w[rows].shape != g.shape:
        raise ValueError(f"{what}: gradient shape {g.shape} does not match the updated rows {w[rows].shape}")
    return rows


def sgd_update(w: ArrayLike, g: ArrayLike, lr: float, channels: Sequence[int] | ArrayLike | None = None) -> F32:
    """Plain SGD (torch.optim.SGD): w[rows] = w[rows] - f32(lr) * g, in float32.

    Order: t = f32(lr) * g (f32 multiply); w = w - t (f32 subtract).
    """
    wa, ga = _f32(w).copy(), _f32(g)
    rows = _opt_rows(wa, ga, channels, "sgd_update")
    wa[rows] = wa[rows] - np.float32(lr) * ga
    return wa


def momentum_update(
    w: ArrayLike,
    v: ArrayLike,
    g: ArrayLike,
    lr: float,
    momentum: float,
    channels: Sequence[int] | ArrayLike | None = None,
) -> tuple[F32, F32]:
    """SGD with momentum (torch.optim.SGD(momentum=mu), dampening 0, no Nesterov), float32;
    returns (w, v). Only the listed rows of w and v change.

    Order: v = (f32(mu) * v) + g; w = w - (f32(lr) * v). With v starting at 0 the first
    step gives v = g exactly, like PyTorch's initial `buf = clone(grad)`.
    """
    wa, va, ga = _f32(w).copy(), _f32(v).copy(), _f32(g)
    rows = _opt_rows(wa, ga, channels, "momentum_update")
    if va.shape != wa.shape:
        raise ValueError(f"momentum_update: velocity shape {va.shape} differs from parameter shape {wa.shape}")
    vr = np.float32(momentum) * va[rows] + ga
    va[rows] = vr
    wa[rows] = wa[rows] - np.float32(lr) * vr
    return wa, va


def adam_update(
    w: ArrayLike,
    m: ArrayLike,
    v: ArrayLike,
    step: ArrayLike,
    g: ArrayLike,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    channels: Sequence[int] | ArrayLike | None = None,
) -> tuple[F32, F32, F32, NDArray[np.int32]]:
    """Adam (torch.optim.Adam, amsgrad=False, weight_decay=0); returns (w, m, v, step).
    Only the listed rows of w, m and v change; `step` (i32 rank 0) counts updates.

    Exact order (scalars in float64 = C double, tensors in float32)::

        t    = step + 1                                    (integer)
        bc1  = 1.0 - pow(beta1, t)                         (double)
        bc2  = 1.0 - pow(beta2, t)                         (double)
        step_size = lr / bc1                               (double)
        bc2_sqrt  = sqrt(bc2)                              (double)
        m = f32(beta1) * m + f32(1.0 - beta1) * g          (f32: mul, mul, add)
        v = f32(beta2) * v + (f32(1.0 - beta2) * g) * g    (f32: mul, mul, mul, add)
        denom = sqrtf(v) / f32(bc2_sqrt) + f32(eps)        (f32: sqrt, div, add)
        w = w - (f32(step_size) * m) / denom               (f32: mul, div, sub)

    `f32(x)` rounds a double to float; `1.0 - beta` is formed in double, then rounded.
    (PyTorch updates m with `lerp_`, i.e. m + f32(1 - beta1) * (g - m), which can differ from
    the expression above in the last bit; everything else is the same sequence of f32
    operations as PyTorch's single-tensor CPU implementation.)
    """
    wa, ma, va, ga = _f32(w).copy(), _f32(m).copy(), _f32(v).copy(), _f32(g)
    rows = _opt_rows(wa, ga, channels, "adam_update")
    if ma.shape != wa.shape or va.shape != wa.shape:
        raise ValueError(f"adam_update: moment shapes {ma.shape}, {va.shape} differ from parameter shape {wa.shape}")
    t = int(np.asarray(step).item()) + 1
    if t > INT32_MAX:
        raise OverflowError("adam_update: step counter overflows int32")
    b1, b2 = float(beta1), float(beta2)
    bc1 = 1.0 - b1**t
    bc2 = 1.0 - b2**t
    step_size = float(lr) / bc1
    bc2_sqrt = math.sqrt(bc2)
    mr = np.float32(b1) * ma[rows] + np.float32(1.0 - b1) * ga
    vr = np.float32(b2) * va[rows] + (np.float32(1.0 - b2) * ga) * ga
    denom = np.sqrt(vr) / np.float32(bc2_sqrt) + np.float32(eps)
    ma[rows] = mr
    va[rows] = vr
    wa[rows] = wa[rows] - (np.float32(step_size) * mr) / denom
    return wa, ma, va, np.asarray(t, dtype=np.int32)


def accumulate_gradient(
    acc: ArrayLike, g: ArrayLike, batch_pos: ArrayLike, every: int
) -> tuple[F32, F32 | None]:
    """Mini-batch gradient accumulation of the optimizer ops' `accumulate @acc every B at %pos`.

    acc = acc + g (f32). If pos == B - 1: returns (zeros, acc / f32(B)) -- the optimizer is
    then applied with that mean gradient (f32 division) and the accumulator cleared;
    otherwise returns (acc, None): the parameter and the optimizer state (incl. Adam's step)
    stay unchanged.
    """
    aa, ga = _f32(acc), _f32(g)
    if aa.shape != ga.shape:
        raise ValueError(f"accumulate: accumulator shape {aa.shape} differs from gradient shape {ga.shape}")
    pos = int(np.asarray(batch_pos).item())
    if every < 1 or not 0 <= pos < every:
        raise ValueError(f"accumulate: batch position {pos} outside [0, {every})")
    total = aa + ga
    if pos == every - 1:
        return np.zeros_like(total), (total / np.float32(every)).astype(np.float32)
    return total, None


def counter_step(counter: ArrayLike, modulo: int) -> NDArray[np.int32]:
    """counter = (counter + 1) % modulo, as a rank-0 int32 array."""
    if modulo < 1:
        raise ValueError(f"counter_step: modulo must be >= 1, got {modulo}")
    return np.asarray((int(np.asarray(counter).item()) + 1) % modulo, dtype=np.int32)


# ---------------------------------------------------------------------------------------
# Fused grad-weight + SGD (qtrain-fuse-updates; f32, pure: return the new parameter)
# ---------------------------------------------------------------------------------------
#
# By definition the pair they replace: the weight gradient rows with the grad-weight
# function, then `sgd_update` on those rows. Row by row (as the C kernels do it) gives the
# same values, since a row's gradient reads neither the parameter nor other rows.


def dense_grad_weight_sgd(
    w: ArrayLike, x: ArrayLike, dy: ArrayLike, lr: float, channels: Sequence[int] | ArrayLike | None = None
) -> F32:
    """w[rows] = w[rows] - f32(lr) * dense_grad_weight(x, dy, channels) (see sgd_update)."""
    return sgd_update(w, dense_grad_weight(x, dy, channels), lr, channels)


def conv2d_grad_weight_sgd(
    w: ArrayLike,
    x: ArrayLike,
    dy: ArrayLike,
    lr: float,
    stride: Sequence[int] | int = (1, 1),
    padding: Sequence[int] | int = (0, 0, 0, 0),
    groups: int = 1,
    channels: Sequence[int] | ArrayLike | None = None,
) -> F32:
    """w[rows] = w[rows] - f32(lr) * conv2d_grad_weight(x, dy, w.shape, ...) (see sgd_update);
    the kernel size is the parameter's."""
    wa = _f32(w)
    if wa.ndim != 4:
        raise ValueError(f"conv2d_grad_weight_sgd expects an OIHW weight, got shape {wa.shape}")
    g = conv2d_grad_weight(x, dy, wa.shape, stride, padding, groups, channels)
    return sgd_update(wa, g, lr, channels)
