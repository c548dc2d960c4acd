"""The VAE ops: odtc.runtime.vae against independent oracles, and the C kernels
(runtime/c/src/vae_f32.c) against odtc.runtime.vae.

* Reference vs torch (float64): conv_transpose2d (stride 1/2/3, padding 0/1/2 and
  asymmetric, output padding 0/1/2, kernels 3/4, with and without bias), sigmoid, exp,
  the sigmoid BCE (binary_cross_entropy_with_logits, sum), the KL term
  (torch.distributions.kl_divergence), and every gradient vs torch autograd -- including
  the conv-transpose backward identities dx = conv2d(dy, w), dw = conv2d_grad_weight(dy, x)
  that the autodiff relies on, in the reference and in the C kernels.
* standard_normal: moments and a KS test over 200k samples, stream independence of
  seed / step, and element i independent of n.
* C vs numpy, BIT-EXACT: the normal PRNG, reparameterize (+ grad), and every `*_c_f32`
  port, on random inputs including large |x| and the IEEE special values; the transposed
  convolution within rtol 1e-5 (float accumulation vs the float64 reference).
* The C tests (`test_c_*`) run again against an ASan/UBSan build (test_sanitized_build),
  and under QEMU (marker `arm`) a driver must print the bits vae.py computes.
"""

from __future__ import annotations

import subprocess
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from scipy import stats

from conftest import rerun_under_sanitizers
from odtc.runtime import emulator
from odtc.runtime import kernels as K
from odtc.runtime import reference as ref
from odtc.runtime import fqt, vae
from test_c_kernels import SANITIZED, close, rng_for, same_bits
from test_fqt_kernels import Out, _c_array, cf
from kernel_harness import check_driver_output

# Edge inputs (inf * 0, overflow to inf) make numpy warn: expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

F64 = torch.float64


# ---------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lib(tmp_path_factory: pytest.TempPathFactory) -> K.Kernels:
    """The whole kernel library, host build (sanitized inside test_sanitized_build)."""
    return K.load(K.build_shared(tmp_path_factory.mktemp("odtc_vae") / "libodtc_vae.so", sanitize=SANITIZED))


def t64(a: NDArray[Any], grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=F64, requires_grad=grad)


def np64(t: torch.Tensor) -> NDArray[np.float64]:
    return t.detach().numpy().astype(np.float64)


def near(actual: Any, expected: Any, rtol: float = 1e-6, atol: float = 1e-7) -> None:
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64), rtol=rtol, atol=atol)


def wide_values(rng: np.random.Generator, n: int) -> NDArray[np.float32]:
    """Normal values, then a share of large |x| (±30, ±100, ±200), zeros of both signs,
    infinities and NaN at the front."""
    v = (rng.standard_normal(n) * 3).astype(np.float32)
    big = rng.choice(np.array([30.0, 100.0, 200.0, 88.0, 15.0], np.float32), n) * rng.choice([-1, 1], n)
    pick = rng.random(n) < 0.2
    v[pick] = (big[pick] * rng.uniform(0.5, 1.0, n)[pick]).astype(np.float32)
    special = np.array([0.0, -0.0, 30.0, -30.0, 1e-8, -1e-8, 89.5, -104.5, np.inf, -np.inf, np.nan], np.float32)
    v[: min(n, special.size)] = special[: min(n, special.size)]
    return v


def targets(rng: np.random.Generator, n: int) -> NDArray[np.float32]:
    """Targets in [0, 1] with exact 0s and 1s."""
    t = rng.random(n).astype(np.float32)
    t[rng.random(n) < 0.3] = 0.0
    t[rng.random(n) < 0.3] = 1.0
    return t


# (N, Cin, H, W, Cout, (KH, KW), stride, padding [t, l, b, r], output_padding, bias)
CT_CASES = [
    (2, 3, 5, 5, 4, (3, 3), (1, 1), (0, 0, 0, 0), (0, 0), True),
    (1, 4, 4, 6, 3, (4, 4), (2, 2), (1, 1, 1, 1), (0, 0), True),  # DCGAN-style upsample
    (2, 3, 4, 4, 2, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True),  # the usual decoder x2
    (1, 2, 3, 5, 5, (3, 3), (2, 2), (0, 0, 0, 0), (1, 1), True),  # output padding past the taps
    (1, 3, 3, 4, 2, (4, 4), (2, 2), (1, 1, 1, 1), (1, 1), False),
    (1, 5, 6, 6, 3, (3, 3), (1, 1), (1, 1, 1, 1), (0, 0), False),
    (2, 2, 3, 3, 3, (4, 4), (2, 2), (0, 0, 0, 0), (1, 0), True),  # kernel 4, output padding 1 x 0
    (1, 3, 4, 4, 2, (3, 4), (3, 2), (2, 1, 2, 1), (2, 1), True),  # stride 3, output padding 2
    (1, 1, 1, 1, 2, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True),  # 1 x 1 input
    (1, 2, 4, 3, 3, (3, 3), (2, 1), (0, 1, 2, 0), (1, 0), True),  # asymmetric padding
]


def ct_id(case: tuple) -> str:
    n, ci, h, w, co, k, s, p, op, b = case
    return f"{n}x{ci}x{h}x{w}-{co}-k{k[0]}{k[1]}-s{s[0]}{s[1]}-p{''.join(map(str, p))}-op{op[0]}{op[1]}-{'b' if b else 'nob'}"


def ct_data(case: tuple) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32] | None]:
    n, ci, h, w, co, k, _, _, _, bias = case
    rng = rng_for("conv_transpose", case)
    x = rng.standard_normal((n, ci, h, w)).astype(np.float32)
    wt = (rng.standard_normal((ci, co, *k)) * 0.5).astype(np.float32)
    b = rng.standard_normal(co).astype(np.float32) if bias else None
    return x, wt, b


def ct_out_hw(case: tuple) -> tuple[int, int]:
    _, _, h, w, _, k, s, p, op, _ = case
    return vae.conv_transpose2d_output_hw((h, w), k, s, p, op)


def check_bias_only_margin(y: NDArray[np.float32], case: tuple, b: NDArray[np.float32] | None) -> int:
    """The output rows/columns no tap reaches (output padding beyond the bottom/right
    padding: from (H - 1) * s + K - pad_before on) hold exactly the bias (or +0.0); returns
    how many elements that covered."""
    _, _, h, w, co, k, s, p, _, _ = case
    r0, c0 = (h - 1) * s[0] + k[0] - p[0], (w - 1) * s[1] + k[1] - p[1]
    bias = np.zeros(co, np.float32) if b is None else b
    covered = 0
    for margin in (y[:, :, r0:, :], y[:, :, :, c0:]):
        same_bits(margin, np.broadcast_to(bias.reshape(1, co, 1, 1), margin.shape))
        covered += margin.size
    return covered


def torch_conv_transpose(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, case: tuple) -> torch.Tensor:
    """F.conv_transpose2d; asymmetric padding as the padding-free output cropped to
    [top, top + OH) x [left, left + OW)."""
    _, _, _, _, _, _, s, p, op, _ = case
    t, l, bo, r = p
    if t == bo and l == r:
        return F.conv_transpose2d(x, w, b, stride=s, padding=(t, l), output_padding=op)
    oh, ow = ct_out_hw(case)
    return F.conv_transpose2d(x, w, b, stride=s, padding=0, output_padding=op)[:, :, t : t + oh, l : l + ow]


# ---------------------------------------------------------------------------------------
# Reference vs torch
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CT_CASES, ids=ct_id)
def test_conv_transpose2d_matches_torch(case: tuple) -> None:
    x, w, b = ct_data(case)
    _, _, _, _, co, k, s, p, op, _ = case
    y = vae.conv_transpose2d(x, w, b, s, p, op)
    want = np64(torch_conv_transpose(t64(x), t64(w), None if b is None else t64(b), case))
    assert y.dtype == np.float32 and y.shape == want.shape == (x.shape[0], co, *ct_out_hw(case))
    near(y, want, rtol=1e-6, atol=1e-6)
    # the documented identity: grad_input of the convolution with the same weight, + bias
    gi = ref.conv2d_grad_input(x, w, (x.shape[0], co, *ct_out_hw(case)), s, p).astype(np.float64)
    near(y, gi + (0.0 if b is None else b.astype(np.float64).reshape(1, -1, 1, 1)), rtol=1e-6, atol=1e-6)
    check_bias_only_margin(y, case, b)


@pytest.mark.parametrize("case", CT_CASES, ids=ct_id)
def test_conv_transpose2d_backward_identities_match_torch(case: tuple) -> None:
    """dx = conv2d(dy, w), dw = conv2d_grad_weight(x=dy, dy=x), db = conv2d_grad_bias(dy)
    agree with torch autograd of F.conv_transpose2d (float64)."""
    x, w, b = ct_data(case)
    _, _, _, _, _, k, s, p, _, _ = case
    tx, tw = t64(x, True), t64(w, True)
    tb = t64(np.zeros(w.shape[1], np.float32) if b is None else b, True)
    y = torch_conv_transpose(tx, tw, tb, case)
    dy = rng_for("dy", case).standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(t64(dy))
    assert tx.grad is not None and tw.grad is not None and tb.grad is not None
    near(vae.conv_transpose2d_grad_input(dy, w, s, p), np64(tx.grad), atol=1e-6)
    near(vae.conv_transpose2d_grad_weight(x, dy, k, s, p), np64(tw.grad), atol=1e-6)
    near(vae.conv_transpose2d_grad_bias(dy), np64(tb.grad), atol=1e-6)
    # the same identities through the reference's conv functions, spelled out
    near(ref.conv2d(dy, w, None, s, p), np64(tx.grad), atol=1e-6)
    near(ref.conv2d_grad_weight(dy, x, k, s, p), np64(tw.grad), atol=1e-6)


def test_conv_transpose2d_output_padding_margin() -> None:
    """Output padding beyond the bottom/right padding adds rows/columns that hold only the
    bias (so that check above is not vacuous); with pad >= output padding there are none."""
    margin_cases = [c for c in CT_CASES if c[8][0] > c[7][2] or c[8][1] > c[7][3]]
    assert margin_cases
    for case in margin_cases:
        x, w, b = ct_data(case)
        assert check_bias_only_margin(vae.conv_transpose2d(x, w, b, case[6], case[7], case[8]), case, b) > 0


def test_conv_transpose2d_rejects_bad_geometry() -> None:
    x = np.zeros((1, 2, 3, 3), np.float32)
    w = np.zeros((2, 4, 3, 3), np.float32)
    with pytest.raises(ValueError, match="output_padding < stride"):
        vae.conv_transpose2d(x, w, None, (1, 1), 0, (1, 0))
    with pytest.raises(ValueError, match="empty output"):
        vae.conv_transpose2d(x, w, None, (1, 1), (3, 3, 3, 3))
    with pytest.raises(ValueError, match="expects x"):
        vae.conv_transpose2d(x, np.zeros((3, 4, 3, 3), np.float32))


def test_activations_match_torch() -> None:
    rng = rng_for("activations")
    x = np.concatenate([rng.standard_normal(500) * 4, [0.0, -0.0, 30.0, -30.0, 80.0, -80.0, 700.0, -700.0]])
    x = x.astype(np.float32)
    dy = rng.standard_normal(x.size).astype(np.float32)
    tx = t64(x, True)
    ts = torch.sigmoid(tx)
    ts.backward(t64(dy))
    y = vae.sigmoid(x)
    near(y, np64(ts).astype(np.float32), atol=0)
    assert tx.grad is not None
    # from the f32 output y: its rounding (half an ulp of y) is amplified where 1 - y cancels
    err = np.abs(vae.sigmoid_grad(dy, y).astype(np.float64) - np64(tx.grad))
    assert (err <= 2e-6 * np.abs(np64(tx.grad)) + 6e-8 * np.abs(dy)).all()
    xe = x[np.abs(x) < 80]  # keep exp finite
    te = t64(xe, True)
    ye_t = torch.exp(te)
    ye_t.backward(t64(dy[: xe.size]))
    ye = vae.exp(xe)
    near(ye, np64(ye_t).astype(np.float32), atol=0)
    assert te.grad is not None
    near(vae.exp_grad(dy[: xe.size], ye), np64(te.grad), rtol=2e-6, atol=0)
    assert np.isinf(vae.exp(np.float32(100.0))) and vae.sigmoid(np.float32(-1000.0)) == 0.0


def test_sigmoid_bce_matches_torch() -> None:
    rng = rng_for("bce")
    x = np.concatenate([rng.standard_normal(997) * 5, [30.0, -30.0, 0.0]]).astype(np.float32)
    t = targets(rng, x.size)
    tx = t64(x, True)
    loss = F.binary_cross_entropy_with_logits(tx, t64(t), reduction="sum")
    loss.backward()
    got = vae.sigmoid_bce(x, t)
    assert got.shape == () and got.dtype == np.float32
    near(got, loss.item(), rtol=1e-6, atol=0)
    assert tx.grad is not None
    near(vae.sigmoid_bce_grad(x, t), np64(tx.grad), atol=1e-7)


@pytest.mark.parametrize("beta", [1.0, 0.25, 4.0])
def test_kl_divergence_matches_torch(beta: float) -> None:
    rng = rng_for("kl", beta)
    mu = (rng.standard_normal((4, 16)) * 2).astype(np.float32)
    lv = (rng.standard_normal((4, 16)) * 2).astype(np.float32)
    tmu, tlv = t64(mu, True), t64(lv, True)
    q = torch.distributions.Normal(tmu, torch.exp(0.5 * tlv))
    p = torch.distributions.Normal(torch.zeros_like(tmu), torch.ones_like(tmu))
    kl = torch.distributions.kl_divergence(q, p).sum() * beta
    kl.backward()
    got = vae.kl_divergence(mu, lv, beta)
    assert got.shape == () and got.dtype == np.float32
    near(got, kl.item(), rtol=1e-6, atol=0)
    assert tmu.grad is not None and tlv.grad is not None
    near(vae.kl_divergence_grad_mu(mu, beta), np64(tmu.grad), atol=0)
    near(vae.kl_divergence_grad_logvar(lv, beta), np64(tlv.grad), rtol=1e-6, atol=1e-7)


def test_reparameterize_matches_torch() -> None:
    """z and its gradients vs torch autograd of mu + exp(0.5 lv) * eps with the same eps."""
    rng = rng_for("reparameterize")
    mu = rng.standard_normal((3, 20)).astype(np.float32)
    lv = (rng.standard_normal((3, 20)) * 2).astype(np.float32)
    dz = rng.standard_normal((3, 20)).astype(np.float32)
    seed, step = 11, 5
    eps = vae.standard_normal(seed, step, mu.size).reshape(mu.shape)
    tmu, tlv = t64(mu, True), t64(lv, True)
    z = tmu + torch.exp(0.5 * tlv) * t64(eps)
    z.backward(t64(dz))
    near(vae.reparameterize(mu, lv, seed, step), np64(z), rtol=1e-6, atol=1e-6)
    assert tmu.grad is not None and tlv.grad is not None
    np.testing.assert_array_equal(np64(tmu.grad), dz)  # dmu = dz: no kernel
    near(vae.reparameterize_grad_logvar(dz, lv, seed, step), np64(tlv.grad), rtol=1e-5, atol=1e-7)


def test_c_f32_ports_close_to_reference() -> None:
    """The bit-exact ports compute the same functions as the float64 reference (a few ulp;
    sums of same-sign terms within n ulp)."""
    rng = rng_for("ports")
    x = wide_values(rng, 3000)[11:]  # finite values only
    t = targets(rng, x.size)
    dy = rng.standard_normal(x.size).astype(np.float32)
    near(vae.sigmoid_c_f32(x), vae.sigmoid(x), rtol=1e-6, atol=1e-37)
    y = vae.sigmoid(x)
    near(vae.sigmoid_grad_c_f32(dy, y), vae.sigmoid_grad(dy, y), rtol=1e-6, atol=1e-37)
    xe = x[x < 80]
    near(vae.exp_c_f32(xe), vae.exp(xe), rtol=2.5e-7, atol=1e-44)
    near(vae.sigmoid_bce_c_f32(x, t), vae.sigmoid_bce(x, t), rtol=1e-5)
    near(vae.sigmoid_bce_grad_c_f32(x, t), vae.sigmoid_bce_grad(x, t), rtol=1e-6, atol=1.2e-7)
    # log1p of a tiny exp keeps its digits: a logit of 30 with target 1 costs ~9.4e-14
    near(vae.sigmoid_bce_c_f32(np.float32([30.0]), np.float32([1.0])), np.log1p(np.exp(-30.0)), rtol=1e-6)
    mu, lv = (x[:500] / 10).astype(np.float32), (x[500:1000] / 10).astype(np.float32)
    for beta in (1.0, 0.1):
        near(vae.kl_divergence_c_f32(mu, lv, beta), vae.kl_divergence(mu, lv, beta), rtol=1e-5)
        near(vae.kl_divergence_grad_mu_c_f32(mu, beta), vae.kl_divergence_grad_mu(mu, beta), atol=0)
        near(vae.kl_divergence_grad_logvar_c_f32(lv, beta), vae.kl_divergence_grad_logvar(lv, beta),
             rtol=1e-6, atol=1e-7)


def test_vectorised_logf_port_matches_scalar() -> None:
    rng = rng_for("logf")
    bits = rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32)
    xs = np.concatenate([bits.view(np.float32),
                         np.float32([0.0, -0.0, 1.0, 2.0, 0.5, np.inf, -np.inf, np.nan, 1e-45, 1e-40, -1.0])])
    got = vae._logf32(xs)  # pyright: ignore[reportPrivateUsage]
    same_bits(got, np.array([fqt.logf32(v) for v in xs], np.float32))


# ---------------------------------------------------------------------------------------
# The normal PRNG
# ---------------------------------------------------------------------------------------


def test_standard_normal_statistics() -> None:
    eps = np.concatenate([vae.standard_normal(2024, step, 50_000) for step in range(4)]).astype(np.float64)
    assert eps.dtype == np.float64 and eps.size == 200_000 and np.isfinite(eps).all()
    assert abs(eps.mean()) < 0.01
    assert abs(eps.var() - 1.0) < 0.01
    assert stats.kstest(eps, "norm").pvalue > 1e-3
    assert abs(stats.skew(eps)) < 0.03 and abs(stats.kurtosis(eps)) < 0.06
    assert np.abs(np.corrcoef(eps[:-1], eps[1:])[0, 1]) < 0.01  # neighbours uncorrelated


def test_standard_normal_streams() -> None:
    a = vae.standard_normal(3, 0, 1000)
    assert a.dtype == np.float32 and a.shape == (1000,)
    np.testing.assert_array_equal(vae.standard_normal(3, 0, 1000), a)  # deterministic
    for seed, step in ((3, 1), (4, 0), (-3, 0), (0, 3)):
        other = vae.standard_normal(seed, step, 1000)
        assert (other != a).mean() > 0.99, (seed, step)
        assert abs(np.corrcoef(a, other)[0, 1]) < 0.1, (seed, step)
    # element i does not depend on n (counter-based)
    same_bits(vae.standard_normal(3, 0, 17), a[:17])
    same_bits(vae.standard_normal(3, 0, 1), a[:1])
    assert vae.standard_normal(3, 0, 0).shape == (0,)
    # seed and step are int32s taken as uint32: -1 and 2^32 - 1 are the same stream
    same_bits(vae.standard_normal(-1, -2, 50), vae.standard_normal(2**32 - 1, 2**32 - 2, 50))


# ---------------------------------------------------------------------------------------
# C kernels vs vae.py (bit-exact) and vs the reference (conv transpose)
# ---------------------------------------------------------------------------------------


STREAMS = [(0, 0, 1), (1, 0, 1000), (0, 1, 257), (-5, 123456, 100), (2**31 - 1, -7, 64), (-(2**31), 2**31 - 1, 3)]


@pytest.mark.parametrize("seed, step, n", STREAMS)
def test_c_standard_normal_bit_exact(lib: K.Kernels, seed: int, step: int, n: int) -> None:
    out = Out((n,), np.float32)
    lib.odtc_standard_normal_f32(seed, step, out.ptr, n)
    same_bits(out.value(), vae.standard_normal(seed, step, n))
    lib.odtc_standard_normal_f32(seed, step, out.ptr, 0)  # n = 0 writes nothing
    out.value()


@pytest.mark.parametrize("seed, step", [(0, 0), (42, 7), (-9, 2**31 - 1)])
@pytest.mark.parametrize("shape", [(1,), (2, 16), (4, 3, 5, 5)])
def test_c_reparameterize_bit_exact(lib: K.Kernels, seed: int, step: int, shape: tuple[int, ...]) -> None:
    rng = rng_for("c_reparameterize", seed, step, shape)
    n = int(np.prod(shape))
    mu = wide_values(rng, n).reshape(shape)
    lv = wide_values(rng, n)[::-1].copy().reshape(shape)
    dz = rng.standard_normal(shape).astype(np.float32)
    z, dlv = Out(shape, np.float32), Out(shape, np.float32)
    lib.odtc_reparameterize_f32(mu, lv, z.ptr, n, seed, step)
    lib.odtc_reparameterize_f32_grad_logvar(dz, lv, dlv.ptr, n, seed, step)
    same_bits(z.value(), vae.reparameterize(mu, lv, seed, step))
    same_bits(dlv.value(), vae.reparameterize_grad_logvar(dz, lv, seed, step))


@pytest.mark.parametrize("n", [1, 7, 1000, 4099])
def test_c_elementwise_bit_exact(lib: K.Kernels, n: int) -> None:
    rng = rng_for("c_elementwise", n)
    x = wide_values(rng, n)
    dy = wide_values(rng, n)[::-1].copy()
    out = Out((n,), np.float32)
    lib.odtc_sigmoid_f32(x, out.ptr, n)
    y = out.value()
    same_bits(y, vae.sigmoid_c_f32(x))
    lib.odtc_sigmoid_f32_grad(dy, y, out.ptr, n)
    same_bits(out.value(), vae.sigmoid_grad_c_f32(dy, y))
    lib.odtc_exp_f32(x, out.ptr, n)
    ye = out.value()
    same_bits(ye, vae.exp_c_f32(x))
    lib.odtc_exp_f32_grad(dy, ye, out.ptr, n)
    same_bits(out.value(), vae.exp_grad_c_f32(dy, ye))
    inplace = x.copy()  # "in place allowed"
    lib.odtc_sigmoid_f32(inplace, inplace, n)
    same_bits(inplace, vae.sigmoid_c_f32(x))


@pytest.mark.parametrize("n", [1, 7, 1000, 4099])
@pytest.mark.parametrize("beta", [1.0, 0.5, 3.0e-3])
def test_c_kl_divergence_bit_exact(lib: K.Kernels, n: int, beta: float) -> None:
    rng = rng_for("c_kl", n, beta)
    mu = (rng.standard_normal(n) * 2).astype(np.float32)
    lv = (rng.standard_normal(n) * 3).astype(np.float32)
    lv[: min(n, 3)] = np.float32([30.0, -30.0, 0.0])[: min(n, 3)]
    kl = lib.odtc_kl_divergence_f32(mu, lv, n, beta)
    same_bits(np.float32(kl), vae.kl_divergence_c_f32(mu, lv, beta))
    out = Out((n,), np.float32)
    lib.odtc_kl_divergence_f32_grad_mu(mu, out.ptr, n, beta)
    same_bits(out.value(), vae.kl_divergence_grad_mu_c_f32(mu, beta))
    lib.odtc_kl_divergence_f32_grad_logvar(lv, out.ptr, n, beta)
    same_bits(out.value(), vae.kl_divergence_grad_logvar_c_f32(lv, beta))


@pytest.mark.parametrize("n", [1, 7, 1000, 4099])
def test_c_sigmoid_bce_bit_exact(lib: K.Kernels, n: int) -> None:
    rng = rng_for("c_bce", n)
    x = wide_values(rng, n + 11)[11:]  # finite logits (a NaN would only make the sum NaN)
    x[: min(n, 4)] = np.float32([30.0, -30.0, 0.0, -0.0])[: min(n, 4)]
    t = targets(rng, n)
    loss = lib.odtc_sigmoid_bce_f32(x, t, n)
    same_bits(np.float32(loss), vae.sigmoid_bce_c_f32(x, t))
    out = Out((n,), np.float32)
    lib.odtc_sigmoid_bce_f32_grad(x, t, out.ptr, n)
    same_bits(out.value(), vae.sigmoid_bce_grad_c_f32(x, t))
    # special logits: the per-element gradient stays bit-exact, the sum agrees too
    xs = wide_values(rng, n)
    lib.odtc_sigmoid_bce_f32_grad(xs, t, out.ptr, n)
    same_bits(out.value(), vae.sigmoid_bce_grad_c_f32(xs, t))
    same_bits(np.float32(lib.odtc_sigmoid_bce_f32(xs, t, n)), vae.sigmoid_bce_c_f32(xs, t))


def test_c_empty_reductions(lib: K.Kernels) -> None:
    z = np.zeros(1, np.float32)
    same_bits(np.float32(lib.odtc_kl_divergence_f32(z, z, 0, 1.0)), vae.kl_divergence_c_f32(z[:0], z[:0]))
    same_bits(np.float32(lib.odtc_sigmoid_bce_f32(z, z, 0)), vae.sigmoid_bce_c_f32(z[:0], z[:0]))
    assert vae.sigmoid_bce_c_f32(z[:0], z[:0]).view(np.uint32) == 0  # +0.0


def c_geometry(case: tuple) -> tuple[int, ...]:
    n, ci, h, w, co, (kh, kw), (sh, sw), (t, l, b, r), _, _ = case
    oh, ow = ct_out_hw(case)
    return n, ci, h, w, co, kh, kw, oh, ow, sh, sw, t, l, b, r


@pytest.mark.parametrize("case", CT_CASES, ids=ct_id)
def test_c_conv_transpose2d(lib: K.Kernels, case: tuple) -> None:
    x, w, b = ct_data(case)
    _, _, _, _, co, _, s, p, op, _ = case
    want = vae.conv_transpose2d(x, w, b, s, p, op)
    y = Out(want.shape, np.float32)
    lib.odtc_conv_transpose2d_f32(x, w, b, y.ptr, *c_geometry(case))
    got = y.value()
    close(got, want, vae.conv_transpose2d(np.abs(x), np.abs(w), None if b is None else np.abs(b), s, p, op))
    check_bias_only_margin(got, case, b)
    if b is None:  # = odtc_conv2d_f32_grad_input on the conv c_out -> c_in, bit for bit
        n, ci, _, _, co, kh, kw, oh, ow, sh, sw, t, l, bo, r = c_geometry(case)
        gi = Out(want.shape, np.float32)
        lib.odtc_conv2d_f32_grad_input(x, w, gi.ptr, n, co, oh, ow, ci, kh, kw, sh, sw, t, l, bo, r, 1)
        same_bits(got, gi.value())


@pytest.mark.parametrize("case", CT_CASES, ids=ct_id)
def test_c_conv_transpose2d_backward_identities(lib: K.Kernels, case: tuple) -> None:
    """The C kernels the lowering uses for the conv-transpose backward, vs torch autograd:
    dx = odtc_conv2d_f32(dy, w), dw = odtc_conv2d_f32_grad_weight(x=dy, dy=x),
    db = odtc_conv2d_f32_grad_bias(dy)."""
    x, w, b = ct_data(case)
    n, ci, h, wd, co, kh, kw, oh, ow, sh, sw, t, l, bo, r = c_geometry(case)
    tx, tw, tb = t64(x, True), t64(w, True), t64(np.zeros(co, np.float32) if b is None else b, True)
    y = torch_conv_transpose(tx, tw, tb, case)
    dy = rng_for("c_dy", case).standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(t64(dy))
    assert tx.grad is not None and tw.grad is not None and tb.grad is not None
    dx, dw, db = Out(x.shape, np.float32), Out(w.shape, np.float32), Out((co,), np.float32)
    lib.odtc_conv2d_f32(dy, w, None, dx.ptr, n, co, oh, ow, ci, kh, kw, sh, sw, t, l, bo, r, 1)
    lib.odtc_conv2d_f32_grad_weight(dy, x, dw.ptr, None, 0, n, co, oh, ow, ci, kh, kw, sh, sw, t, l, bo, r, 1)
    lib.odtc_conv2d_f32_grad_bias(dy, db.ptr, n, co, oh * ow)
    _, _, _, _, _, k, s, p, _, _ = case
    close(dx.value(), np64(tx.grad), ref.conv2d(np.abs(dy), np.abs(w), None, s, p))
    close(dw.value(), np64(tw.grad), ref.conv2d_grad_weight(np.abs(dy), np.abs(x), k, s, p))
    close(db.value(), np64(tb.grad), ref.conv2d_grad_bias(np.abs(dy)))


# ---------------------------------------------------------------------------------------
# Sanitizers and Cortex-M
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(SANITIZED, reason="already running under the sanitizers")
def test_sanitized_build() -> None:
    """The C tests of this file again against an ASan/UBSan build (in a subprocess: ctypes
    needs the ASan runtime preloaded); any report fails."""
    rerun_under_sanitizers(__file__, "test_c_")


DRIVER_STREAMS = [(7, 0, 300), (-1, 2**31 - 1, 64)]


def _driver_cases() -> tuple[str, dict[str, NDArray[Any]]]:
    """A C driver running the bit-exact VAE kernels on embedded inputs and printing each
    output's bytes as `name hex`, and the values vae.py computes for them."""
    rng = np.random.default_rng(zlib.crc32(b"vae driver"))
    n = 200
    arrays = {
        "mu": wide_values(rng, n),
        "lv": (rng.standard_normal(n) * 3).astype(np.float32),
        "dz": rng.standard_normal(n).astype(np.float32),
        "x": wide_values(rng, n + 11)[11:],
        "t": targets(rng, n),
    }
    a = arrays
    seed, step, beta = 123, 4567, np.float32(0.75)
    expected: dict[str, NDArray[Any]] = {}
    calls: list[str] = []

    def out(name: str, value: Any) -> str:
        v = np.asarray(value, dtype=np.float32).reshape(-1)
        expected[name] = v
        return f'report("{name}", fbuf, {v.size * 4}u);'

    for s, st, cnt in DRIVER_STREAMS:
        calls.append(f"odtc_standard_normal_f32({s}, {st}, fbuf, {cnt}u); "
                     + out(f"normal_{s & 0xFFFFFFFF}_{st}", vae.standard_normal(s, st, cnt)))
    calls.append(f"odtc_reparameterize_f32(F(mu), F(lv), fbuf, {n}u, {seed}, {step}); "
                 + out("reparameterize", vae.reparameterize(a["mu"], a["lv"], seed, step)))
    calls.append(f"odtc_reparameterize_f32_grad_logvar(F(dz), F(lv), fbuf, {n}u, {seed}, {step}); "
                 + out("reparameterize_grad_logvar", vae.reparameterize_grad_logvar(a["dz"], a["lv"], seed, step)))
    calls.append(f"odtc_sigmoid_f32(F(x), fbuf, {n}u); " + out("sigmoid", vae.sigmoid_c_f32(a["x"])))
    calls.append(f"odtc_sigmoid_f32_grad(F(dz), F(t), fbuf, {n}u); "
                 + out("sigmoid_grad", vae.sigmoid_grad_c_f32(a["dz"], a["t"])))
    calls.append(f"odtc_exp_f32(F(lv), fbuf, {n}u); " + out("exp", vae.exp_c_f32(a["lv"])))
    calls.append(f"fbuf[0] = odtc_kl_divergence_f32(F(mu), F(lv), {n}u, {cf(beta)}); "
                 + out("kl", vae.kl_divergence_c_f32(a["mu"], a["lv"], beta)))
    calls.append(f"odtc_kl_divergence_f32_grad_logvar(F(lv), fbuf, {n}u, {cf(beta)}); "
                 + out("kl_grad_logvar", vae.kl_divergence_grad_logvar_c_f32(a["lv"], beta)))
    calls.append(f"fbuf[0] = odtc_sigmoid_bce_f32(F(x), F(t), {n}u); " + out("bce", vae.sigmoid_bce_c_f32(a["x"], a["t"])))
    calls.append(f"odtc_sigmoid_bce_f32_grad(F(x), F(t), fbuf, {n}u); "
                 + out("bce_grad", vae.sigmoid_bce_grad_c_f32(a["x"], a["t"])))
    decls = "\n".join(_c_array(k, v) for k, v in arrays.items())
    body = "\n    ".join(calls)
    src = f"""/* Generated by test_vae_kernels.py: runs the VAE kernels and prints the output bytes. */
#include <stdio.h>
#include "odtc_kernels.h"

#define F(a) ((const float *)(a))
{decls}
static float fbuf[1024];

static void report(const char *name, const void *p, unsigned bytes)
{{
    const unsigned char *b = (const unsigned char *)p;
    printf("%s ", name);
    for (unsigned i = 0; i < bytes; ++i) printf("%02x", b[i]);
    printf("\\n");
}}

int main(void)
{{
    {body}
    return 0;
}}
"""
    return src, expected


def test_c_driver_on_host(tmp_path: Path) -> None:
    src, expected = _driver_cases()
    (tmp_path / "vae_driver.c").write_text(src)
    exe = emulator.build_host_executable([tmp_path / "vae_driver.c", *K.sources()], tmp_path / "vae_driver",
                                         include_dirs=[K.INCLUDE_DIR])
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True, timeout=60).stdout
    check_driver_output(out, expected)


@pytest.mark.arm
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_driver_on_cortex_m(target: str, tmp_path: Path) -> None:
    """Cortex-M4 (single-precision FPU, newlib's sqrtf) and M55 print the host's bits."""
    if not emulator.toolchain_available():
        pytest.skip("needs arm-none-eabi-gcc (newlib) and qemu-system-arm")
    src, expected = _driver_cases()
    (tmp_path / "vae_driver.c").write_text(src)
    elf = emulator.build_elf([tmp_path / "vae_driver.c", *K.sources()], target, tmp_path / "vae_driver.elf",
                             include_dirs=[K.INCLUDE_DIR])
    run = emulator.run_elf(elf, target)
    assert run.exit_code == 0, run.stdout + run.stderr
    check_driver_output(run.stdout, expected)
