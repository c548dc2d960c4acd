"""Exact integer semantics of the quantized conv-transpose ops of fully quantized VAE
training (`qtrain.qconv_transpose2d_acc`, `qtrain.qconv_transpose2d_grad_weight`).

Both are sums of integer products, computed here in float64 on integer-valued arrays
(exact: every partial sum stays far below 2^53) and returned as int32; the C kernels in
runtime/c/src/vae_q.c accumulate in int32 and must give the same integers. Layouts as in
`odtc.runtime.vae`: x [N, Cin, H, W], w [Cin, Cout, KH, KW], padding [top, left, bottom,
right], output [N, Cout, OH, OW] with OH = (H - 1) * sh - top - bottom + KH + oph.

    qconv_transpose2d_acc:        acc[n, co] = rint(b / s)[co] + sum over (ci, kh, kw) taps
                                  that land on (oh, ow) of (x - zx) * (w - zw)
    qconv_transpose2d_grad_weight: dw[ci, co, kh, kw] = sum over n, ih, iw of
                                  (x[n, ci, ih, iw] - zx) * (e[n, co, ih*sh - top + kh, iw*sw - left + kw] - ze)
                                  (taps outside the output contribute 0)
    qconv_transpose2d_grad_weight_sgd: that gradient applied to the int8 weight by the fused
                                  quantized SGD step (`fqt.qgrad_weight_sgd_apply`), every
                                  row ci (the C kernel computes and applies one row at a time)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from odtc.runtime import fqt, vae

I32 = NDArray[np.int32]


def _centered(q: ArrayLike, zero_point: ArrayLike) -> NDArray[np.float64]:
    return (np.asarray(q, dtype=np.int64) - int(np.asarray(zero_point).reshape(-1)[0])).astype(np.float64)


def _int32(a: NDArray[np.float64], what: str) -> I32:
    r = np.rint(a).astype(np.int64)
    if r.size and (r.min() < -(2**31) or r.max() > 2**31 - 1):
        raise OverflowError(f"{what}: an int32 accumulator overflows")
    return r.astype(np.int32)


def qconv_transpose2d_acc(
    x: ArrayLike,
    x_zero_point: ArrayLike,
    w: ArrayLike,
    w_zero_point: ArrayLike,
    bias: ArrayLike | None,
    acc_scale: ArrayLike | None,
    stride: Sequence[int] = (1, 1),
    padding: Sequence[int] = (0, 0, 0, 0),
    output_padding: Sequence[int] = (0, 0),
) -> I32:
    xa, wa = _centered(x, x_zero_point), _centered(w, w_zero_point)
    n, _, h, wd = xa.shape
    _, co, kh, kw = wa.shape
    oh, ow = vae.conv_transpose2d_output_hw((h, wd), (kh, kw), stride, padding, output_padding)
    acc = _exact(xa, wa, (n, co, oh, ow), stride, padding)
    if bias is not None:
        assert acc_scale is not None
        acc = acc + fqt.quantize_bias(bias, acc_scale).astype(np.float64).reshape(1, co, 1, 1)
    return _int32(acc, "qconv_transpose2d_acc")


def _exact(
    xa: NDArray[np.float64], wa: NDArray[np.float64], out_shape: Sequence[int], stride: Sequence[int],
    padding: Sequence[int],
) -> NDArray[np.float64]:
    """The scatter sum of conv-transpose in float64 (exact for integer inputs)."""
    n, ci, h, wd = xa.shape
    _, co, kh, kw = wa.shape
    sh, sw = stride
    top, left = padding[0], padding[1]
    _, _, oh, ow = out_shape
    out = np.zeros((n, co, oh, ow), dtype=np.float64)
    for a in range(kh):
        for b in range(kw):
            # output rows ih*sh - top + a for ih in [0, h), kept where inside [0, oh)
            rows = np.arange(h) * sh - top + a
            cols = np.arange(wd) * sw - left + b
            ri, ci_ = (rows >= 0) & (rows < oh), (cols >= 0) & (cols < ow)
            if not ri.any() or not ci_.any():
                continue
            contrib = np.einsum("nihw,io->nohw", xa[:, :, ri][:, :, :, ci_], wa[:, :, a, b])
            out[:, :, rows[ri][:, None], cols[ci_][None, :]] += contrib
    return out


def qconv_transpose2d_grad_weight(
    x: ArrayLike,
    x_zero_point: ArrayLike,
    e: ArrayLike,
    e_zero_point: ArrayLike,
    weight_shape: Sequence[int],
    stride: Sequence[int] = (1, 1),
    padding: Sequence[int] = (0, 0, 0, 0),
) -> I32:
    xa, ea = _centered(x, x_zero_point), _centered(e, e_zero_point)
    ci, co, kh, kw = (int(d) for d in weight_shape)
    n, c, h, wd = xa.shape
    if c != ci or ea.shape[1] != co:
        raise ValueError(f"qconv_transpose2d_grad_weight: x {xa.shape}, e {ea.shape}, weight {list(weight_shape)}")
    sh, sw = stride
    top, left = padding[0], padding[1]
    _, _, oh, ow = ea.shape
    dw = np.zeros((ci, co, kh, kw), dtype=np.float64)
    for a in range(kh):
        for b in range(kw):
            rows = np.arange(h) * sh - top + a
            cols = np.arange(wd) * sw - left + b
            ri, cj = (rows >= 0) & (rows < oh), (cols >= 0) & (cols < ow)
            if not ri.any() or not cj.any():
                continue
            xs = xa[:, :, ri][:, :, :, cj]
            es = ea[:, :, rows[ri]][:, :, :, cols[cj]]
            dw[:, :, a, b] = np.einsum("nihw,nohw->io", xs, es)
    return _int32(dw, "qconv_transpose2d_grad_weight")


def qconv_transpose2d_grad_weight_sgd(
    x: ArrayLike,
    x_zero_point: ArrayLike,
    e: ArrayLike,
    e_zero_point: ArrayLike,
    g_scale: ArrayLike,
    w: ArrayLike,
    w_scale: ArrayLike,
    w_zero_point: ArrayLike,
    row_range: ArrayLike,
    stride: Sequence[int],
    padding: Sequence[int],
    lr: float,
    qmin: int,
    qmax: int,
    rounding: str = "stochastic",
    seed: int = 0,
    step: ArrayLike = 0,
) -> tuple[I32, I32]:
    """(w, row_range) after `qtrain.qconv_transpose2d_grad_weight_sgd`."""
    g = qconv_transpose2d_grad_weight(x, x_zero_point, e, e_zero_point, np.shape(w), stride, padding)
    return fqt.qgrad_weight_sgd_apply(w, w_scale, w_zero_point, g, g_scale, row_range, lr, qmin, qmax, rounding,
                                      seed, step)
