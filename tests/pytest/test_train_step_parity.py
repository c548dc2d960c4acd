"""@train_step (qtrain-autodiff + prune, run by the reference interpreter) against PyTorch.

Each model is built with odtc.compiler.builder; a hand-written torch.nn.Module with the
same layers is loaded with the same initial weights (read from `init_state`), then both
train for 3 optimizer steps on the same data:

* odtc: `@train_step` is called once per sample (batch 1); with batch_size B the
  gradients are accumulated over B calls, so 3 steps are 3*B calls;
* torch: float32, the mean loss over a batch of the same B samples, `backward`, `step`
  (torch.optim.SGD, SGD(momentum=0.9), Adam), batch-norm in eval mode (running stats).

Parameters after 3 steps must agree to rtol 1e-5, atol 1e-6 (the atol only matters for
parameters near 0: torch sums in f32 in its own order, odtc in f64 rounded once, and
those ~1e-7 relative differences in the gradients reach the parameters scaled by lr;
Adam turns tiny gradients into lr-sized steps, so near-zero gradients are the sensitive
ones). The loss of each step (mean over its B samples) must agree to rtol 1e-5.
Frozen parameters, and the frozen rows of sparsely trained weights, must be bit-identical
to their initial values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp

from odtc.compiler import api, builder
from odtc.dialects import qtrain as qt
from odtc.runtime.interpreter import init_state, run_function

RTOL = 1e-5
ATOL = 1e-6


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The tensors are tiny: torch's thread pool only adds overhead (and contention)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

STEPS = 3
LR = {"sgd": 0.05, "momentum": 0.05, "adam": 0.01}


# ---------------------------------------------------------------------------------------
# Models: odtc builder + the same network in torch (parameter names match)
# ---------------------------------------------------------------------------------------


def build_mlp() -> ModuleOp:
    return builder.mnist_mlp(seed=1)


class TorchMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


def build_cnn() -> ModuleOp:
    """Strided, depthwise, pointwise and asymmetrically padded convs, avgpool incl. padding."""
    b = builder.GraphBuilder((1, 1, 12, 12), seed=2)
    h = b.relu(b.conv2d(b.input, 8, 3, stride=2, padding=1, name="conv1"))  # 8x6x6
    h = b.relu6(b.conv2d(h, 8, 3, padding=1, groups=8, name="dw"))
    h = b.relu(b.conv2d(h, 16, 1, name="pw"))  # 16x6x6
    h = b.avgpool2d(h, 3, stride=1, padding=1, count_include_pad=True)
    h = b.relu(b.conv2d(h, 8, 3, stride=2, padding=(0, 1, 1, 0), name="conv2"))  # 8x3x3
    return b.build(b.dense(b.flatten(h), 10, name="fc"))


class TorchCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 16, 1)
        self.conv2 = nn.Conv2d(16, 8, 3, stride=2)
        self.fc = nn.Linear(72, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.conv1(x))
        h = F.relu6(self.dw(h))
        h = F.relu(self.pw(h))
        h = F.avg_pool2d(h, 3, stride=1, padding=1, count_include_pad=True)
        h = F.relu(self.conv2(F.pad(h, (1, 0, 0, 1))))  # (left, right, top, bottom)
        return self.fc(h.flatten(1))


def build_residual() -> ModuleOp:
    return builder.residual_cnn(seed=3)


class TorchResidual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.stem(x)), 2)
        skip = h
        h = self.pw(F.relu6(self.dw(h)))
        h = F.avg_pool2d(F.relu(h + skip), 2)
        h = h.mean(dim=(2, 3), keepdim=True)
        return self.fc(h.flatten(1))


def build_bn() -> ModuleOp:
    """Batch-norm after convs and after a dense layer; padded max- and avg-pool."""
    b = builder.GraphBuilder((1, 2, 10, 10), seed=4)
    h = b.relu(b.batchnorm(b.conv2d(b.input, 6, 3, padding=1, name="conv1"), name="bn1"))
    h = b.maxpool2d(h, 3, stride=2, padding=1)  # 6x5x5
    h = b.relu(b.batchnorm(b.conv2d(h, 6, 3, padding=1, groups=2, name="conv2"), name="bn2"))
    h = b.avgpool2d(h, 2, stride=2, padding=1)  # count_include_pad off: 6x3x3
    h = b.relu(b.batchnorm(b.dense(b.flatten(h), 16, name="fc1"), name="bn3"))
    return b.build(b.dense(h, 10, name="fc2"))


class TorchBN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1, groups=2)
        self.bn2 = nn.BatchNorm2d(6)
        self.fc1 = nn.Linear(54, 16)
        self.bn3 = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, stride=2, padding=1)
        h = F.relu(self.bn2(self.conv2(h)))
        h = F.avg_pool2d(h, 2, stride=2, padding=1, count_include_pad=False)
        h = F.relu(self.bn3(self.fc1(h.flatten(1))))
        return self.fc2(h)


MODELS: dict[str, tuple[Callable[[], ModuleOp], type[nn.Module]]] = {
    "mlp": (build_mlp, TorchMLP),
    "cnn": (build_cnn, TorchCNN),
    "residual": (build_residual, TorchResidual),
    "bn": (build_bn, TorchBN),
}


# ---------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------


def _forward_shapes(module: ModuleOp) -> tuple[tuple[int, ...], tuple[int, ...]]:
    fwd = next(o for o in module.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "forward")
    return qt.tensor_shape(fwd.function_type.inputs.data[0]), qt.tensor_shape(fwd.function_type.outputs.data[0])


def _params(module: ModuleOp) -> dict[str, qt.ParamOp]:
    return {o.sym_name.data: o for o in module.ops if isinstance(o, qt.ParamOp)}


def _randomise_batchnorm(state: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    """Non-trivial gamma/beta/running statistics (the builder starts at 1/0/0/1)."""
    for name in list(state):
        if name.startswith("bn") and name.count(".") == 1:
            c = state[name].shape
            if name.endswith(".weight"):
                state[name] = (1 + 0.3 * rng.standard_normal(c)).astype(np.float32)
            elif name.endswith(".bias") or name.endswith(".running_mean"):
                state[name] = (0.2 * rng.standard_normal(c)).astype(np.float32)
            elif name.endswith(".running_var"):
                state[name] = (0.5 + rng.random(c)).astype(np.float32)


def run_parity(
    model: str,
    optimizer: str,
    batch_size: int = 1,
    loss: str = "cross_entropy",
    mark: str | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    build, torch_cls = MODELS[model]
    module = build()
    lr = LR[optimizer]
    spec = (
        f"qtrain-autodiff{{loss={loss} optimizer={optimizer} lr={lr} batch_size={batch_size}}},"
        "qtrain-prune-frozen-backward"
    )
    if mark is not None:
        spec = f"{mark},{spec}"
    api.run_pipeline(module, spec)
    params = _params(module)
    rng = np.random.default_rng(seed)
    state = init_state(module)
    _randomise_batchnorm(state, rng)
    initial = {k: v.copy() for k, v in state.items()}

    # torch twin with the same initial weights
    tm = torch_cls()
    sd = tm.state_dict()
    missing = {k for k in sd if k not in state}
    assert missing <= {k for k in sd if k.endswith("num_batches_tracked")}, missing
    tm.load_state_dict({k: torch.from_numpy(state[k].copy()) for k in sd if k in state}, strict=False)
    tm.eval()  # batch-norm with running statistics, like qtrain.batchnorm
    named = dict(tm.named_parameters())
    assert set(named) == {n for n in params if not n.endswith(("running_mean", "running_var"))}
    trainable = [n for n in named if params[n].is_trainable]
    for n, p in named.items():
        p.requires_grad_(params[n].is_trainable)
    tparams = [named[n] for n in trainable]
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(tparams, lr=lr)
    elif optimizer == "momentum":
        opt = torch.optim.SGD(tparams, lr=lr, momentum=0.9)
    else:
        opt = torch.optim.Adam(tparams, lr=lr)
    frozen_rows: dict[str, list[int]] = {}
    for n in trainable:
        ch = params[n].attributes.get("channels")
        if ch is not None:
            rows = {int(c) for c in ch.get_values()}  # type: ignore[attr-defined]
            frozen_rows[n] = [r for r in range(state[n].shape[0]) if r not in rows]

    in_shape, out_shape = _forward_shapes(module)
    assert in_shape[0] == 1
    n_samples = STEPS * batch_size
    xs = rng.standard_normal((n_samples,) + in_shape[1:]).astype(np.float32)
    if loss == "cross_entropy":
        ys: np.ndarray = rng.integers(0, out_shape[1], size=n_samples).astype(np.int32)
    else:
        ys = rng.standard_normal((n_samples,) + out_shape[1:]).astype(np.float32)

    for step in range(STEPS):
        lo, hi = step * batch_size, (step + 1) * batch_size
        # odtc: one call per sample
        losses = []
        for i in range(lo, hi):
            (l_,) = run_function(module, "train_step", [xs[i : i + 1], ys[i : i + 1]], state)
            assert l_.shape == () and l_.dtype == np.float32
            losses.append(float(l_))
        # torch: mean loss over the batch, one step
        opt.zero_grad()
        out = tm(torch.from_numpy(xs[lo:hi]))
        if loss == "cross_entropy":
            tl = F.cross_entropy(out, torch.from_numpy(ys[lo:hi].astype(np.int64)))
        else:
            tl = F.mse_loss(out, torch.from_numpy(ys[lo:hi]))
        tl.backward()
        for n, rows in frozen_rows.items():
            named[n].grad[rows] = 0.0
        opt.step()
        np.testing.assert_allclose(np.mean(losses), tl.item(), rtol=RTOL, err_msg=f"loss of step {step}")

    for n, p in named.items():
        got = state[n]
        assert got.dtype == np.float32
        if not params[n].is_trainable:
            np.testing.assert_array_equal(got, initial[n], err_msg=f"frozen {n} changed")
            continue
        np.testing.assert_allclose(got, p.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=n)
        rows = frozen_rows.get(n, [])
        np.testing.assert_array_equal(got[rows], initial[n][rows], err_msg=f"frozen rows of {n} changed")
        live = [r for r in range(got.shape[0]) if r not in rows]
        assert not np.array_equal(got[live], initial[n][live]), f"{n} did not train"
    for n in params:
        if n.endswith(("running_mean", "running_var")):
            np.testing.assert_array_equal(state[n], initial[n])
    if batch_size > 1:
        assert int(state["batch_pos"]) == 0
        for n in trainable:
            assert np.all(state[f"{n}.grad_acc"] == 0)
    if optimizer == "adam":
        for n in trainable:
            assert int(state[f"{n}.adam_step"]) == STEPS
    return state


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("model", list(MODELS))
def test_optimizers(model: str, optimizer: str) -> None:
    run_parity(model, optimizer)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("batch_size", [2, 3])
def test_minibatch_accumulation(optimizer: str, batch_size: int) -> None:
    run_parity("cnn", optimizer, batch_size=batch_size, seed=batch_size)


@pytest.mark.parametrize(
    "model,optimizer,batch_size", [("residual", "adam", 3), ("bn", "momentum", 2), ("mlp", "adam", 2)]
)
def test_minibatch_other_models(model: str, optimizer: str, batch_size: int) -> None:
    run_parity(model, optimizer, batch_size=batch_size, seed=5)


@pytest.mark.parametrize(
    "model,optimizer,batch_size",
    [("mlp", "sgd", 1), ("cnn", "momentum", 1), ("residual", "adam", 2), ("bn", "sgd", 3)],
)
def test_mse_loss(model: str, optimizer: str, batch_size: int) -> None:
    run_parity(model, optimizer, batch_size=batch_size, loss="mse", seed=6)


MODES = {
    "bias-only": "qtrain-mark-trainable{mode=bias-only}",
    "last-k": "qtrain-mark-trainable{mode=last-k k=1}",
    "sparse": 'qtrain-mark-trainable{mode=sparse bias-k=1 weights="conv2.weight:0.5"}',
}


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("model", ["cnn", "bn"])
def test_transfer_learning_modes(model: str, mode: str, optimizer: str) -> None:
    module = MODELS[model][0]()
    api.run_pipeline(module, MODES[mode])
    trainable = {n for n, p in _params(module).items() if p.is_trainable}
    last = {"cnn": "fc", "bn": "fc2"}[model]
    expected = {
        "bias-only": {n for n in _params(module) if n.endswith(".bias")},
        "last-k": {f"{last}.weight", f"{last}.bias"},
        "sparse": {f"{last}.bias", "conv2.weight"},
    }[mode]
    assert trainable == expected
    state = run_parity(model, optimizer, mark=MODES[mode], batch_size=2 if optimizer == "adam" else 1, seed=7)
    if mode == "sparse":
        out = state["conv2.weight"].shape[0]
        ch = _params_after(model, MODES[mode])["conv2.weight"].attributes["channels"]
        assert [int(c) for c in ch.get_values()] == list(range((out + 1) // 2))  # type: ignore[attr-defined]


@pytest.mark.parametrize("optimizer,batch_size", [("sgd", 1), ("momentum", 3), ("adam", 2)])
def test_sparse_dense_weight(optimizer: str, batch_size: int) -> None:
    """Sparse rows of a dense weight (dense_grad_weight channels) next to a full weight."""
    mark = 'qtrain-mark-trainable{mode=sparse bias-k=2 weights="fc1.weight:0.25","fc2.weight:1"}'
    p = _params_after("mlp", mark)
    assert [int(c) for c in p["fc1.weight"].attributes["channels"].get_values()] == list(range(16))  # type: ignore[attr-defined]
    assert "channels" not in p["fc2.weight"].attributes
    run_parity("mlp", optimizer, batch_size=batch_size, mark=mark, seed=9)


def _params_after(model: str, spec: str) -> dict[str, qt.ParamOp]:
    module = MODELS[model][0]()
    api.run_pipeline(module, spec)
    return _params(module)


# ---------------------------------------------------------------------------------------
# Pruning
# ---------------------------------------------------------------------------------------

CONV_GRADS = (qt.Conv2dGradInputOp, qt.Conv2dGradWeightOp, qt.Conv2dGradBiasOp)


def _train_step_ops(module: ModuleOp) -> list:
    fn = next(o for o in module.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "train_step")
    return list(fn.walk())


@pytest.mark.parametrize("model", ["cnn", "residual", "bn"])
def test_prune_frozen_backbone_drops_conv_gradients(model: str) -> None:
    mark = MODES["last-k"]
    full = MODELS[model][0]()
    api.run_pipeline(full, f"{mark},qtrain-autodiff{{optimizer=sgd}}")
    # the complete backward still differentiates through the frozen convs ...
    assert any(isinstance(o, CONV_GRADS) for o in _train_step_ops(full))
    pruned = MODELS[model][0]()
    api.run_pipeline(pruned, f"{mark},qtrain-autodiff{{optimizer=sgd}},qtrain-prune-frozen-backward")
    ops = _train_step_ops(pruned)
    # ... and after pruning no conv gradient is left (the last layer is dense)
    assert not any(isinstance(o, CONV_GRADS) for o in ops), [o.name for o in ops if isinstance(o, CONV_GRADS)]
    assert any(isinstance(o, qt.DenseGradWeightOp) for o in ops)
    assert not any(isinstance(o, qt.DenseGradInputOp) for o in ops)
    # pruning is dead-code elimination: both train bit-identically
    rng = np.random.default_rng(8)
    in_shape, out_shape = _forward_shapes(full)
    s_full, s_pruned = init_state(full), init_state(pruned)
    for _ in range(2):
        x = rng.standard_normal(in_shape).astype(np.float32)
        y = rng.integers(0, out_shape[1], size=1).astype(np.int32)
        (l1,) = run_function(full, "train_step", [x, y], s_full)
        (l2,) = run_function(pruned, "train_step", [x, y], s_pruned)
        assert l1 == l2
    for k in s_full:
        np.testing.assert_array_equal(s_full[k], s_pruned[k])


def test_prune_bias_only_keeps_no_weight_gradients() -> None:
    module = build_cnn()
    api.run_pipeline(module, f"{MODES['bias-only']},qtrain-autodiff,qtrain-prune-frozen-backward")
    ops = _train_step_ops(module)
    assert not any(isinstance(o, qt.Conv2dGradWeightOp | qt.DenseGradWeightOp) for o in ops)
    assert sum(isinstance(o, qt.Conv2dGradBiasOp) for o in ops) == 4
