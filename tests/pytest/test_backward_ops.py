"""Backward and optimizer semantics of odtc.runtime.reference against independent oracles.

Oracles (none of them calls odtc code):

* torch.autograd in float64: the vector-Jacobian product of the corresponding torch
  forward op with the same output error. The reference rounds an f64 evaluation once to
  f32, so it sits within an f32 rounding (~6e-8 relative) of torch-f64; we assert
  rtol 1e-5 with a negligible atol (1e-9, only for entries that are 0 up to f64 noise).
* central finite differences (eps 1e-3) of float64 numpy forward functions written here
  from scratch (loops over kernel taps, not the reference's sliding windows), on small
  shapes, at rtol 1e-4 and atol 1e-6 * max|expected| (the FD noise of cancelling entries;
  linear ops have no truncation error, the smooth losses an O(eps^2) one).
* a plain-Python loop for the max-pool tie rule (first maximum in row-major kernel scan,
  padding never wins), which random data cannot exercise.
* torch.optim (SGD, SGD with momentum, Adam) on float32 tensors for the optimizer rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from odtc.runtime import reference as ref

RTOL = 1e-5  # vs torch float64


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The tensors are tiny: torch's thread pool only adds overhead (and contention)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

ATOL = 1e-9
FD_EPS = 1e-3
FD_RTOL = 1e-4


def t64(a: NDArray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64))


def randn(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> NDArray[np.float32]:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def vjp(fn: Callable[..., torch.Tensor], inputs: Sequence[NDArray], dy: NDArray) -> list[NDArray[np.float64]]:
    """Gradients of sum(fn(*inputs) * dy) w.r.t. every input, in float64."""
    ts = [t64(a).requires_grad_() for a in inputs]
    out = fn(*ts)
    out.backward(t64(dy))
    return [t.grad.numpy() if t.grad is not None else np.zeros(t.shape) for t in ts]


def close(actual: NDArray, expected: NDArray, rtol: float = RTOL, atol: float = ATOL) -> None:
    assert actual.dtype == np.float32, actual.dtype
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=rtol, atol=atol)


def fd_grad(f: Callable[[NDArray[np.float64]], float], x: NDArray, eps: float = FD_EPS) -> NDArray[np.float64]:
    """Central finite differences of the scalar f at x (float64)."""
    x0 = np.array(x, dtype=np.float64)
    g = np.zeros_like(x0)
    flat = x0.reshape(-1)
    gflat = g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f(x0)
        flat[i] = old - eps
        fm = f(x0)
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def fd_close(actual: NDArray, expected: NDArray) -> None:
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    close(actual, expected, rtol=FD_RTOL, atol=1e-6 * max(scale, 1e-3))


# ---------------------------------------------------------------------------------------
# float64 forward functions for the finite-difference oracle (independent of reference.py)
# ---------------------------------------------------------------------------------------


def _pad64(x: NDArray, pads: Sequence[int], value: float) -> NDArray[np.float64]:
    t, l, b, r = pads
    return np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (t, b), (l, r)), constant_values=value)


def _taps(hp: int, wp: int, k: Sequence[int], s: Sequence[int]):
    oh = (hp - k[0]) // s[0] + 1
    ow = (wp - k[1]) // s[1] + 1
    for a in range(k[0]):
        for b in range(k[1]):
            yield a, b, (slice(a, a + s[0] * (oh - 1) + 1, s[0]), slice(b, b + s[1] * (ow - 1) + 1, s[1]))


def conv64(x, w, bias, stride, pads, groups) -> NDArray[np.float64]:
    xp = _pad64(x, pads, 0.0)
    w = np.asarray(w, np.float64)
    n, c, hp, wp = xp.shape
    o, i, kh, kw = w.shape
    oh, ow = (hp - kh) // stride[0] + 1, (wp - kw) // stride[1] + 1
    y = np.zeros((n, o, oh, ow))
    opg = o // groups
    for g in range(groups):
        for a, b, (rs, cs) in _taps(hp, wp, (kh, kw), stride):
            patch = xp[:, g * i : (g + 1) * i, rs, cs]
            y[:, g * opg : (g + 1) * opg] += np.einsum("nihw,oi->nohw", patch, w[g * opg : (g + 1) * opg, :, a, b])
    if bias is not None:
        y += np.asarray(bias, np.float64).reshape(1, -1, 1, 1)
    return y


def maxpool64(x, k, s, pads) -> NDArray[np.float64]:
    xp = _pad64(x, pads, -np.inf)
    y = None
    for _, _, (rs, cs) in _taps(xp.shape[2], xp.shape[3], k, s):
        y = xp[:, :, rs, cs] if y is None else np.maximum(y, xp[:, :, rs, cs])
    return y


def avgpool64(x, k, s, pads, count_include_pad) -> NDArray[np.float64]:
    xp = _pad64(x, pads, 0.0)
    ones = _pad64(np.ones((1, 1) + np.shape(x)[2:]), pads, 0.0)
    total = cnt = 0.0
    for _, _, (rs, cs) in _taps(xp.shape[2], xp.shape[3], k, s):
        total = total + xp[:, :, rs, cs]
        cnt = cnt + ones[:, :, rs, cs]
    return total / (k[0] * k[1] if count_include_pad else cnt)


def bn64(x, gamma, beta, mean, var, eps) -> NDArray[np.float64]:
    shape = (1, -1) + (1,) * (np.ndim(x) - 2)

    def c(v):
        return np.asarray(v, np.float64).reshape(shape)

    return c(gamma) * (np.asarray(x, np.float64) - c(mean)) / np.sqrt(c(var) + eps) + c(beta)


def ce64(logits, labels) -> float:
    la = np.asarray(logits, np.float64)
    m = la.max(axis=1, keepdims=True)
    lse = np.log(np.exp(la - m).sum(axis=1)) + m[:, 0]
    return float(np.mean(lse - la[np.arange(la.shape[0]), labels]))


def mse64(p, t) -> float:
    return float(np.mean((np.asarray(p, np.float64) - np.asarray(t, np.float64)) ** 2))


def tpad(x: torch.Tensor, pads: Sequence[int], value: float = 0.0) -> torch.Tensor:
    t, l, b, r = pads
    return F.pad(x, (l, r, t, b), value=value)


# ---------------------------------------------------------------------------------------
# conv2d
# ---------------------------------------------------------------------------------------

CONV_CASES = [
    # (N, C, H, W, O, KH, KW, stride, padding [t, l, b, r], groups)
    (2, 3, 8, 8, 4, 3, 3, (1, 1), (1, 1, 1, 1), 1),
    (1, 4, 7, 9, 6, 3, 2, (2, 1), (0, 1, 2, 0), 2),  # asymmetric, grouped
    (1, 6, 10, 10, 6, 3, 3, (2, 2), (1, 0, 1, 2), 6),  # depthwise, stride 2, asymmetric
    (2, 8, 5, 5, 4, 1, 1, (1, 1), (0, 0, 0, 0), 1),  # pointwise
    (1, 4, 6, 6, 8, 5, 5, (1, 2), (2, 2, 2, 2), 4),  # depthwise, channel multiplier 2
    (3, 5, 9, 4, 7, 2, 3, (3, 1), (0, 2, 1, 0), 1),  # floor mode: last input rows unread
]


def _conv_data(case, seed: int):
    n, c, h, w, o, kh, kw, stride, pads, groups = case
    rng = np.random.default_rng(seed)
    x = randn(rng, n, c, h, w)
    wt = randn(rng, o, c // groups, kh, kw, scale=0.5)
    oh, ow = ref.conv_output_hw((h, w), (kh, kw), stride, pads)
    dy = randn(rng, n, o, oh, ow)
    return x, wt, dy


def _torch_conv(stride, pads, groups):
    def fn(x, w, b=None):
        return F.conv2d(tpad(x, pads), w, b, stride=stride, groups=groups)

    return fn


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_grads_vs_torch(case) -> None:
    n, c, h, w, o, kh, kw, stride, pads, groups = case
    x, wt, dy = _conv_data(case, 1)
    b = np.zeros(o, np.float32)
    gx, gw, gb = vjp(_torch_conv(stride, pads, groups), [x, wt, b], dy)
    close(ref.conv2d_grad_input(dy, wt, x.shape, stride, pads, groups), gx)
    close(ref.conv2d_grad_weight(x, dy, (kh, kw), stride, pads, groups), gw)
    close(ref.conv2d_grad_weight(x, dy, wt.shape, stride, pads, groups), gw)  # full shape accepted too
    close(ref.conv2d_grad_bias(dy), gb)
    # Sparse update: only the listed output channels' rows, in order (spanning groups).
    rng = np.random.default_rng(7)
    for k in (1, max(1, o // 2), o):
        channels = sorted(rng.choice(o, size=k, replace=False).tolist())
        got = ref.conv2d_grad_weight(x, dy, (kh, kw), stride, pads, groups, channels=channels)
        assert got.shape == (k, c // groups, kh, kw)
        close(got, gw[channels])


def test_conv2d_grad_input_unread_rows_are_zero() -> None:
    case = CONV_CASES[-1]  # H=9, pad 0/1, k=2, stride 3: padded rows 8, 9 are never read
    x, wt, dy = _conv_data(case, 3)
    gx = ref.conv2d_grad_input(dy, wt, x.shape, case[7], case[8], case[9])
    assert np.all(gx[:, :, 8:, :] == 0)
    assert np.any(gx[:, :, :8, :] != 0)


@pytest.mark.parametrize("case", [CONV_CASES[1], CONV_CASES[2], CONV_CASES[5]])
def test_conv2d_grads_finite_differences(case) -> None:
    n, c, h, w, o, kh, kw, stride, pads, groups = case
    x, wt, dy = _conv_data(case, 2)
    b = randn(np.random.default_rng(4), o)
    dy64 = dy.astype(np.float64)

    def loss(xx, ww, bb):
        return float(np.sum(conv64(xx, ww, bb, stride, pads, groups) * dy64))

    fd_close(ref.conv2d_grad_input(dy, wt, x.shape, stride, pads, groups), fd_grad(lambda v: loss(v, wt, b), x))
    gw = fd_grad(lambda v: loss(x, v, b), wt)
    fd_close(ref.conv2d_grad_weight(x, dy, (kh, kw), stride, pads, groups), gw)
    fd_close(ref.conv2d_grad_weight(x, dy, (kh, kw), stride, pads, groups, channels=[0, o - 1]), gw[[0, o - 1]])
    fd_close(ref.conv2d_grad_bias(dy), fd_grad(lambda v: loss(x, wt, v), b))


# ---------------------------------------------------------------------------------------
# dense
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n,k,o", [(1, 784, 10), (3, 17, 5), (4, 8, 1)])
def test_dense_grads_vs_torch(n: int, k: int, o: int) -> None:
    rng = np.random.default_rng(n * 100 + k)
    x, w, b, dy = randn(rng, n, k), randn(rng, o, k, scale=0.2), randn(rng, o), randn(rng, n, o)
    gx, gw, gb = vjp(F.linear, [x, w, b], dy)
    close(ref.dense_grad_input(dy, w), gx)
    close(ref.dense_grad_weight(x, dy), gw)
    close(ref.dense_grad_bias(dy), gb)
    channels = list(range(0, o, 2))
    close(ref.dense_grad_weight(x, dy, channels=channels), gw[channels])
    close(ref.dense_grad_weight(x, dy, channels=[o - 1]), gw[[o - 1]])


def test_dense_grads_finite_differences() -> None:
    rng = np.random.default_rng(5)
    x, w, b, dy = randn(rng, 3, 6), randn(rng, 4, 6), randn(rng, 4), randn(rng, 3, 4)
    d64 = dy.astype(np.float64)

    def loss(xx, ww, bb):
        return float(np.sum((xx @ np.asarray(ww, np.float64).T + bb) * d64))

    fd_close(ref.dense_grad_input(dy, w), fd_grad(lambda v: loss(v, w, b), x))
    gw = fd_grad(lambda v: loss(x, v, b), w)
    fd_close(ref.dense_grad_weight(x, dy), gw)
    fd_close(ref.dense_grad_weight(x, dy, channels=[1, 3]), gw[[1, 3]])
    fd_close(ref.dense_grad_bias(dy), fd_grad(lambda v: loss(x, w, v), b))


# ---------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 7)])
def test_relu_grads_vs_torch(shape) -> None:
    rng = np.random.default_rng(6)
    x = randn(rng, *shape, scale=4.0)
    x.reshape(-1)[:3] = [0.0, 6.0, -0.0]  # boundaries: derivative 0 in torch and here
    dy = randn(rng, *shape)
    (g,) = vjp(F.relu, [x], dy)
    close(ref.relu_grad(dy, ref.relu(x)), g, rtol=0, atol=0)
    (g6,) = vjp(F.relu6, [x], dy)
    close(ref.relu6_grad(dy, ref.relu6(x)), g6, rtol=0, atol=0)
    assert np.any((x > 6) & (dy != 0)) and np.any((x < 0) & (dy != 0))


# ---------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------

POOL_CASES = [
    # (N, C, H, W, kernel, stride, padding [t, l, b, r])
    (2, 3, 8, 8, (2, 2), (2, 2), (0, 0, 0, 0)),
    (1, 2, 7, 9, (3, 3), (2, 2), (1, 1, 1, 1)),  # overlapping windows, padding
    (1, 3, 6, 7, (3, 2), (1, 2), (2, 0, 1, 1)),  # asymmetric padding, overlap in H
    (2, 2, 5, 5, (2, 3), (3, 1), (0, 2, 1, 0)),  # floor mode leaves inputs unread
]


def _distinct(rng: np.random.Generator, shape) -> NDArray[np.float32]:
    """Values at least 0.05 apart (no ties, safe for finite differences)."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * 0.05 - n * 0.025).astype(np.float32)


@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool2d_grad_vs_torch_and_fd(case) -> None:
    n, c, h, w, k, s, pads = case
    rng = np.random.default_rng(8)
    x = _distinct(rng, (n, c, h, w))
    oh, ow = ref.conv_output_hw((h, w), k, s, pads)
    dy = randn(rng, n, c, oh, ow)
    (g,) = vjp(lambda t: F.max_pool2d(tpad(t, pads, -np.inf), k, s), [x], dy)
    got = ref.maxpool2d_grad(dy, x, k, s, pads)
    close(got, g)
    d64 = dy.astype(np.float64)
    fd_close(got, fd_grad(lambda v: float(np.sum(maxpool64(v, k, s, pads) * d64)), x))


def _maxpool_grad_loops(dy, x, k, s, pads) -> NDArray[np.float64]:
    """Plain loops over real positions only: first strictly-greater wins, row-major."""
    n, c, h, w = x.shape
    out = np.zeros(x.shape)
    oh, ow = dy.shape[2:]
    for ni in range(n):
        for ci in range(c):
            for i in range(oh):
                for j in range(ow):
                    best = None
                    for a in range(k[0]):
                        for b in range(k[1]):
                            r, q = i * s[0] - pads[0] + a, j * s[1] - pads[1] + b
                            if 0 <= r < h and 0 <= q < w and (best is None or x[ni, ci, r, q] > x[ni, ci, best[0], best[1]]):
                                best = (r, q)
                    out[ni, ci, best[0], best[1]] += float(dy[ni, ci, i, j])
    return out


@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool2d_grad_ties_and_padding(case) -> None:
    n, c, h, w, k, s, pads = case
    rng = np.random.default_rng(9)
    x = rng.integers(-2, 2, size=(n, c, h, w)).astype(np.float32)  # many ties
    x[0, 0, :2, :] = -np.inf  # -inf real inputs next to (-inf) padding: padding still never wins
    x[0, -1] = 0.0  # an all-equal channel
    oh, ow = ref.conv_output_hw((h, w), k, s, pads)
    dy = randn(rng, n, c, oh, ow)
    close(ref.maxpool2d_grad(dy, x, k, s, pads), _maxpool_grad_loops(dy, x, k, s, pads), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("include_pad", [False, True])
def test_avgpool2d_grad_vs_torch_and_fd(case, include_pad: bool) -> None:
    n, c, h, w, k, s, pads = case
    rng = np.random.default_rng(10)
    x = randn(rng, n, c, h, w)
    oh, ow = ref.conv_output_hw((h, w), k, s, pads)
    dy = randn(rng, n, c, oh, ow)

    def fwd(t: torch.Tensor) -> torch.Tensor:
        total = F.avg_pool2d(tpad(t, pads), k, s, divisor_override=1)
        if include_pad:
            return total / (k[0] * k[1])
        ones = tpad(torch.ones((1, 1, h, w), dtype=torch.float64), pads)
        return total / F.avg_pool2d(ones, k, s, divisor_override=1)

    (g,) = vjp(fwd, [x], dy)
    got = ref.avgpool2d_grad(dy, x.shape, k, s, pads, count_include_pad=include_pad)
    close(got, g)
    d64 = dy.astype(np.float64)
    fd_close(got, fd_grad(lambda v: float(np.sum(avgpool64(v, k, s, pads, include_pad) * d64)), x))
    if include_pad and pads[0] == pads[2] and pads[1] == pads[3] and pads[0] <= k[0] // 2 and pads[1] <= k[1] // 2:
        # torch's own count_include_pad (symmetric padding only)
        (g2,) = vjp(lambda t: F.avg_pool2d(t, k, s, (pads[0], pads[1]), count_include_pad=True), [x], dy)
        close(got, g2)
    if not include_pad and pads[0] == pads[2] and pads[1] == pads[3] and pads[0] <= k[0] // 2 and pads[1] <= k[1] // 2:
        (g3,) = vjp(lambda t: F.avg_pool2d(t, k, s, (pads[0], pads[1]), count_include_pad=False), [x], dy)
        close(got, g3)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 8, 1, 1), (1, 2, 7, 3)])
def test_global_avgpool_grad(shape) -> None:
    rng = np.random.default_rng(11)
    x = randn(rng, *shape)
    dy = randn(rng, shape[0], shape[1], 1, 1)
    (g,) = vjp(lambda t: t.mean(dim=(2, 3), keepdim=True), [x], dy)
    got = ref.global_avgpool_grad(dy, shape)
    close(got, g)
    d64 = dy.astype(np.float64)
    fd_close(got, fd_grad(lambda v: float(np.sum(v.mean(axis=(2, 3), keepdims=True) * d64)), x))


# ---------------------------------------------------------------------------------------
# batchnorm (running statistics)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 4, 3, 5), (3, 6)])
def test_batchnorm_grads_vs_torch_and_fd(shape) -> None:
    rng = np.random.default_rng(12)
    c = shape[1]
    eps = 1e-3
    x, dy = randn(rng, *shape), randn(rng, *shape)
    gamma, beta, mean = randn(rng, c) + 1, randn(rng, c), randn(rng, c)
    var = (rng.random(c) + 0.25).astype(np.float32)

    def fwd(t, g, b):
        return F.batch_norm(t, t64(mean), t64(var), g, b, training=False, eps=eps)

    gx, gg, gb = vjp(fwd, [x, gamma, beta], dy)
    close(ref.batchnorm_grad_input(dy, gamma, var, eps), gx)
    close(ref.batchnorm_grad_gamma(dy, x, mean, var, eps), gg)
    close(ref.batchnorm_grad_beta(dy), gb)

    d64 = dy.astype(np.float64)

    def loss(xx, gg_, bb):
        return float(np.sum(bn64(xx, gg_, bb, mean, var, eps) * d64))

    fd_close(ref.batchnorm_grad_input(dy, gamma, var, eps), fd_grad(lambda v: loss(v, gamma, beta), x))
    fd_close(ref.batchnorm_grad_gamma(dy, x, mean, var, eps), fd_grad(lambda v: loss(x, v, beta), gamma))
    fd_close(ref.batchnorm_grad_beta(dy), fd_grad(lambda v: loss(x, gamma, v), beta))


# ---------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n,c", [(1, 10), (4, 7)])
def test_softmax_cross_entropy_grad(n: int, c: int) -> None:
    rng = np.random.default_rng(13)
    logits = randn(rng, n, c, scale=3.0)
    labels = rng.integers(0, c, size=n).astype(np.int32)
    lt = t64(logits).requires_grad_()
    F.cross_entropy(lt, torch.from_numpy(labels.astype(np.int64))).backward()
    got = ref.softmax_cross_entropy_grad(logits, labels)
    close(got, lt.grad.numpy())
    fd_close(got, fd_grad(lambda v: ce64(v, labels), logits))
    # large logits: the max shift keeps it finite
    big = logits + np.float32(1000.0)
    assert np.all(np.isfinite(ref.softmax_cross_entropy_grad(big, labels)))


@pytest.mark.parametrize("shape", [(1, 10), (3, 4), (2, 3, 2, 2)])
def test_mse_grad(shape) -> None:
    rng = np.random.default_rng(14)
    p, t = randn(rng, *shape), randn(rng, *shape)
    pt = t64(p).requires_grad_()
    F.mse_loss(pt, t64(t)).backward()
    got = ref.mse_grad(p, t)
    close(got, pt.grad.numpy())
    fd_close(got, fd_grad(lambda v: mse64(v, t), p))


# ---------------------------------------------------------------------------------------
# optimizer rules vs torch.optim (float32)
# ---------------------------------------------------------------------------------------

# SGD/momentum: a few f32 ulps (torch may fuse multiply-adds (FMA) in its vector kernels).
# Adam: torch forms m with lerp_ (m + 0.1*(g - m)) where odtc states b1*m + (1-b1)*g; where
# m nearly cancels its relative error is large, and lr*m/denom carries it as an absolute
# error of order lr * 1e-5 -- hence atol 1e-7 (lr = 0.01) and rtol 1e-5 for Adam.
OPT_TOL = {"sgd": (1e-6, 1e-8), "momentum": (1e-6, 1e-8), "adam": (1e-5, 1e-7)}


def _torch_opt(kind: str, p: torch.nn.Parameter, lr: float) -> torch.optim.Optimizer:
    if kind == "sgd":
        return torch.optim.SGD([p], lr=lr)
    if kind == "momentum":
        return torch.optim.SGD([p], lr=lr, momentum=0.9)
    return torch.optim.Adam([p], lr=lr, betas=(0.9, 0.999), eps=1e-8)


class _RefOpt:
    """Drives the reference optimizer functions like the interpreter's state dict does."""

    def __init__(self, kind: str, w: NDArray, lr: float, channels=None) -> None:
        self.kind, self.lr, self.channels = kind, lr, channels
        self.w = w.copy()
        self.v = np.zeros_like(w)
        self.m = np.zeros_like(w)
        self.t = np.asarray(0, np.int32)

    def step(self, g: NDArray) -> None:
        if self.kind == "sgd":
            self.w = ref.sgd_update(self.w, g, self.lr, self.channels)
        elif self.kind == "momentum":
            self.w, self.v = ref.momentum_update(self.w, self.v, g, self.lr, 0.9, self.channels)
        else:
            self.w, self.m, self.v, self.t = ref.adam_update(
                self.w, self.m, self.v, self.t, g, self.lr, 0.9, 0.999, 1e-8, self.channels
            )


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("sparse", [False, True])
def test_optimizer_rules_vs_torch(kind: str, sparse: bool) -> None:
    rtol, atol = OPT_TOL[kind]
    rng = np.random.default_rng(15)
    w0 = randn(rng, 6, 3, 2, 2)
    channels = [1, 2, 4] if sparse else None
    rows = channels if sparse else list(range(6))
    p = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    opt = _torch_opt(kind, p, 0.01)
    mine = _RefOpt(kind, w0, 0.01, channels)
    for _ in range(5):
        g = randn(rng, 6, 3, 2, 2)
        g[[r for r in range(6) if r not in rows]] = 0.0  # frozen rows: zero gradient in torch
        p.grad = torch.from_numpy(g.copy())
        opt.step()
        mine.step(np.ascontiguousarray(g[rows]))
        np.testing.assert_allclose(mine.w, p.detach().numpy(), rtol=rtol, atol=atol)
    assert mine.w.dtype == np.float32
    frozen = [r for r in range(6) if r not in rows]
    np.testing.assert_array_equal(mine.w[frozen], w0[frozen])  # bit-identical
    st = opt.state[p]
    if kind == "momentum":
        np.testing.assert_allclose(mine.v, st["momentum_buffer"].numpy(), rtol=rtol, atol=atol)
    if kind == "adam":
        np.testing.assert_allclose(mine.m, st["exp_avg"].numpy(), rtol=rtol, atol=atol)
        np.testing.assert_allclose(mine.v, st["exp_avg_sq"].numpy(), rtol=rtol, atol=atol)
        assert int(mine.t) == int(st["step"]) == 5 and mine.t.dtype == np.int32
        assert np.all(mine.m[frozen] == 0) and np.all(mine.v[frozen] == 0)


def test_adam_first_step_closed_form() -> None:
    # Exact arithmetic: after one step m/bc1 = g and sqrt(v/bc2) = |g|, so
    # w1 = w0 - lr * g / (|g| + eps) (~ -lr*sign(g)); eps = 1e-4 makes the eps term visible.
    w = np.zeros(4, np.float32)
    g = np.array([1e-3, -2.0, 5.0, -1e-2], np.float32)
    w1, m, v, t = ref.adam_update(w, w, w, np.asarray(0, np.int32), g, 0.1, eps=1e-4)
    g64 = g.astype(np.float64)
    np.testing.assert_allclose(w1, -0.1 * g64 / (np.abs(g64) + 1e-4), rtol=1e-6)
    np.testing.assert_allclose(m, 0.1 * g, rtol=1e-6)
    np.testing.assert_allclose(v, 0.001 * g.astype(np.float64) ** 2, rtol=1e-6)
    assert int(t) == 1


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("every", [2, 3])
def test_accumulation_vs_torch_mean_gradient(kind: str, every: int) -> None:
    rtol, atol = OPT_TOL[kind]
    rng = np.random.default_rng(16)
    w0 = randn(rng, 5, 4)
    p = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    opt = _torch_opt(kind, p, 0.05)
    mine = _RefOpt(kind, w0, 0.05)
    acc = np.zeros_like(w0)
    pos = np.asarray(0, np.int32)
    for _step in range(3):
        gs = [randn(rng, 5, 4) for _ in range(every)]
        for i, g in enumerate(gs):
            before = mine.w.copy()
            acc, mean = ref.accumulate_gradient(acc, g, pos, every)
            if i < every - 1:
                assert mean is None
                np.testing.assert_array_equal(acc, np.sum(np.stack(gs[: i + 1]), axis=0, dtype=np.float32))
            else:
                assert mean is not None and np.all(acc == 0)
                mine.step(mean)
            pos = ref.counter_step(pos, every)
            if i < every - 1:
                np.testing.assert_array_equal(mine.w, before)
        assert int(pos) == 0 and pos.dtype == np.int32
        p.grad = torch.from_numpy(np.mean(np.stack(gs).astype(np.float64), axis=0).astype(np.float32))
        opt.step()
        np.testing.assert_allclose(mine.w, p.detach().numpy(), rtol=rtol, atol=atol)
    if kind == "adam":
        assert int(mine.t) == 3  # only applied updates count


def test_counter_step_wraps() -> None:
    c = np.asarray(0, np.int32)
    seen = []
    for _ in range(7):
        c = ref.counter_step(c, 3)
        seen.append(int(c))
    assert seen == [1, 2, 0, 1, 2, 0, 1]
    assert ref.counter_step(np.asarray(0, np.int32), 1) == 0


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="channels"):
        ref.dense_grad_weight(np.ones((1, 3)), np.ones((1, 4)), channels=[2, 1])
    with pytest.raises(ValueError, match="channels"):
        ref.conv2d_grad_weight(np.ones((1, 1, 3, 3)), np.ones((1, 2, 1, 1)), (3, 3), channels=[2])
    with pytest.raises(ValueError, match="gradient shape"):
        ref.sgd_update(np.ones((4, 2), np.float32), np.ones((3, 2), np.float32), 0.1, channels=[0, 1])
    with pytest.raises(ValueError, match="batch position"):
        ref.accumulate_gradient(np.zeros(2), np.zeros(2), np.asarray(3), 3)
    with pytest.raises(ValueError, match="dy has shape"):
        ref.conv2d_grad_input(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), (1, 1, 5, 5))
