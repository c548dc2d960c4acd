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
        return (padding,) * 4
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
