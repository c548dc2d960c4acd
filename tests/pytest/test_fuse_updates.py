"""qtrain-fuse-updates: a grad-weight and its plain SGD update become one op, and the weight
gradient never gets a buffer.

* Interpreter: losses and every parameter/state bit-identical with and without the pass
  (MLP, CNN, residual CNN, sparse channels, bias-only, momentum, Adam, accumulated SGD),
  with the pass fusing exactly the plain-SGD weight updates; the IR of the cases it must
  leave alone is unchanged.
* Kernels: odtc_dense/conv2d_f32_grad_weight_sgd bit-identical to grad_weight followed by
  odtc_sgd_update_f32 (all and a subset of the channels).
* Generated C: bit-identical with and without the pass on the host, and on Cortex-M4 under
  QEMU against the host (marker `arm`); the arena of the MNIST CNN and MLP drops.
* Placement and the peak rule: the fused op waits for the weight's grad_input, never raises
  the peak of the order it is placed in, and with `recompute=true` (the pipeline under a
  memory budget) keeps qtrain-insert-checkpoints' smallest feasible budget.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp

from odtc.compiler import api, builder
from odtc.compiler.builder import GraphBuilder
from odtc.compiler.config import Config, config_from_dict
from odtc.compiler.pipeline import pipeline_string
from odtc.dialects import qtrain
from odtc.passes import insert_checkpoints as ic
from odtc.passes.bufferize import bufferize_function
from odtc.passes.plan_buffers import buffers_of, lower_bound
from odtc.runtime import kernels as K
from odtc.runtime import reference as ref
from odtc.runtime.emulator import toolchain_available
from odtc.runtime.interpreter import init_state, run_function

FUSE = "qtrain-fuse-updates"
STEPS = 4


def without_fusion(pipeline: str) -> str:
    return ",".join(p for p in pipeline.split(",") if not p.startswith(FUSE))


def train_step(module: ModuleOp) -> func.FuncOp:
    return next(o for o in module.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "train_step")


def peak(fn: func.FuncOp) -> int:
    clone = fn.clone()
    bufferize_function(clone)
    return lower_bound(buffers_of(clone), 8)


def count(module: ModuleOp, *types: type) -> int:
    return sum(isinstance(o, types) for o in train_step(module).body.block.ops)


# ---------------------------------------------------------------------------------------
# Interpreter: bit-identical with and without the pass
# ---------------------------------------------------------------------------------------

CONV_W = ["conv1.weight", "conv2.weight"]
CASES: dict[str, tuple[Callable[[], ModuleOp], dict, list[str]]] = {
    # name: (model, config, the weights whose update is fused)
    "mlp": (builder.mnist_mlp, {}, ["fc1.weight", "fc2.weight"]),
    "cnn": (builder.mnist_cnn, {}, [*CONV_W, "fc1.weight", "fc2.weight"]),
    # not dw.weight: fused, it would wait for dw's grad_input and keep its 2048-byte input
    # (the maxpool output, which nothing after that reads) alive instead of a 288-byte gradient
    "residual": (builder.residual_cnn, {}, ["fc.weight", "pw.weight", "stem.weight"]),
    "sparse": (
        builder.mnist_cnn,
        {"train": {"mode": "sparse", "bias_k": 2, "sparse_weights": ["conv2.weight:0.5", "fc1.weight:0.25"]}},
        ["conv2.weight", "fc1.weight"],
    ),
    "bias-only": (builder.residual_cnn, {"train": {"mode": "bias-only"}}, []),
    "momentum": (builder.mnist_mlp, {"train": {"optimizer": "momentum"}}, []),
    "adam": (builder.mnist_cnn, {"train": {"optimizer": "adam", "learning_rate": 0.01}}, []),
    "sgd-batch3": (builder.mnist_cnn, {"train": {"batch_size": 3}}, []),
}


def fused_params(module: ModuleOp) -> list[str]:
    return sorted(o.param.root_reference.data for o in train_step(module).body.block.ops
                  if isinstance(o, qtrain.FUSED_UPDATE_OPS))


def to_schedule(cfg: Config) -> str:
    """The driver's pipeline up to and including qtrain-schedule (qtrain IR the interpreter runs)."""
    p = pipeline_string(cfg)
    return p[: p.index(",qtrain-bufferize")]


def interpret(module: ModuleOp, steps: int = STEPS) -> tuple[list[bytes], dict[str, bytes]]:
    fn = train_step(module)
    x_type, y_type = fn.function_type.inputs.data
    rng = np.random.default_rng(7)
    state = init_state(module)
    losses = []
    for _ in range(steps):
        x = rng.random(tuple(x_type.get_shape()), dtype=np.float32)  # type: ignore[attr-defined]
        y = rng.integers(0, 10, tuple(y_type.get_shape())).astype(np.int32)  # type: ignore[attr-defined]
        losses.append(np.asarray(run_function(module, "train_step", [x, y], state)[0]).tobytes())
    return losses, {k: v.dtype.str.encode() + v.tobytes() for k, v in state.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_interpreter_bit_identical(name: str) -> None:
    factory, config, expected = CASES[name]
    pipeline = to_schedule(config_from_dict(config))
    assert f",{FUSE}," in pipeline
    fused, plain = factory(), factory()
    api.run_pipeline(fused, pipeline)
    api.run_pipeline(plain, without_fusion(pipeline))
    assert fused_params(fused) == sorted(expected)
    if not expected:
        assert api.module_text(fused) == api.module_text(plain)
        return
    # each fused op replaced one grad-weight and one sgd_update
    gw = (qtrain.DenseGradWeightOp, qtrain.Conv2dGradWeightOp)
    assert count(plain, *gw) - count(fused, *gw) == len(expected)
    assert count(plain, qtrain.SgdUpdateOp) - count(fused, qtrain.SgdUpdateOp) == len(expected)
    a, b = interpret(fused), interpret(plain)
    assert a[0] == b[0], "losses differ"
    assert a[1].keys() == b[1].keys()
    for k in a[1]:
        assert a[1][k] == b[1][k], k


def test_sparse_channels_are_kept() -> None:
    factory, config, _ = CASES["sparse"]
    m = factory()
    api.run_pipeline(m, to_schedule(config_from_dict(config)))
    fused = {o.param.root_reference.data: o for o in train_step(m).body.block.ops if isinstance(o, qtrain.FUSED_UPDATE_OPS)}
    assert list(fused["conv2.weight"].channels.get_values()) == list(range(8))  # type: ignore[union-attr]
    assert list(fused["fc1.weight"].channels.get_values()) == list(range(8))  # type: ignore[union-attr]


def test_reference_functions_are_the_pair() -> None:
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((2, 3, 7, 6)).astype(np.float32), rng.standard_normal((2, 4, 4, 3)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    for ch in (None, [1, 3]):
        g = ref.conv2d_grad_weight(x, dy, w.shape, (2, 2), (1, 0, 1, 0), 1, ch)
        want = ref.sgd_update(w, g, 0.1, ch)
        got = ref.conv2d_grad_weight_sgd(w, x, dy, 0.1, (2, 2), (1, 0, 1, 0), 1, ch)
        assert got.tobytes() == want.tobytes()
    xd, dyd, wd = x.reshape(2, -1), dy.reshape(2, -1)[:, :5], rng.standard_normal((5, 126)).astype(np.float32)
    for ch in (None, [0, 4]):
        want = ref.sgd_update(wd, ref.dense_grad_weight(xd, dyd, ch), 0.1, ch)
        assert ref.dense_grad_weight_sgd(wd, xd, dyd, 0.1, ch).tobytes() == want.tobytes()


# ---------------------------------------------------------------------------------------
# Placement and the peak rule
# ---------------------------------------------------------------------------------------


TIED = """
qtrain.param @w trainable : tensor<4x4xf32> = dense<2.500000e-01> : tensor<4x4xf32>
func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %w = qtrain.load @w : tensor<4x4xf32>
  %h = qtrain.dense %x, %w : (tensor<1x4xf32>, tensor<4x4xf32>) -> tensor<1x4xf32>
  %a = qtrain.relu %h : tensor<1x4xf32>
  %y = qtrain.dense %a, %w : (tensor<1x4xf32>, tensor<4x4xf32>) -> tensor<1x4xf32>
  func.return %y : tensor<1x4xf32>
}
"""


def test_gradient_with_another_use_is_not_fused() -> None:
    """A weight used by two layers (tied): its gradient is the sum of two grad-weights,
    each read by the add, so nothing fuses and the program is unchanged."""
    m = api.parse_module(TIED)
    api.run_pipeline(m, "qtrain-autodiff,qtrain-prune-frozen-backward")
    upd = next(o for o in train_step(m).body.block.ops if isinstance(o, qtrain.SgdUpdateOp))
    assert isinstance(upd.grad.owner, qtrain.AddOp)
    before = api.module_text(m)
    api.run_pipeline(m, FUSE)
    assert api.module_text(m) == before


def test_fused_op_waits_for_the_weights_readers() -> None:
    """In autodiff order a layer's grad_input (reader of the old weight) precedes its
    grad-weight; after the schedule too: the fused op always follows every reader."""
    m = builder.mnist_cnn()
    api.run_pipeline(m, f"qtrain-autodiff,qtrain-prune-frozen-backward,{FUSE},qtrain-schedule")
    ops = list(train_step(m).body.block.ops)
    pos = {o: i for i, o in enumerate(ops)}
    for f in (o for o in ops if isinstance(o, qtrain.FUSED_UPDATE_OPS)):
        sym = f.param.root_reference.data
        for ld in (o for o in ops if isinstance(o, qtrain.LoadOp) and o.symbol.root_reference.data == sym):
            readers = [u.operation for u in ld.result.uses]
            assert readers and all(pos[r] < pos[f] for r in readers), sym


def conv_chain(layers: int = 4) -> ModuleOp:
    """Full-resolution 3x3 convs: the saved input (8 KiB) outweighs each gradient (2.25 KiB)."""
    b = GraphBuilder((1, 1, 16, 16), seed=1)
    h = b.input
    for i in range(layers):
        h = b.relu(b.conv2d(h, 8, 3, padding=1, name=f"conv{i}"))
    return b.build(b.dense(b.flatten(b.global_avgpool(h)), 10, name="fc"))


@pytest.mark.parametrize("factory", [builder.mnist_cnn, builder.mnist_mlp, builder.residual_cnn, conv_chain])
@pytest.mark.parametrize("options", ["", "{recompute=true}", "{always=true}"])
def test_fusion_never_raises_the_peak_of_the_order(factory, options: str) -> None:
    """Fused in place in autodiff order, and then scheduled: never above the unfused peak.
    (`always` may exceed the unfused peak only in orders the rule excludes; in autodiff order
    the grad-weight already follows grad_input, so nothing is held longer.)"""
    plain, fused = factory(), factory()
    api.run_pipeline(plain, "qtrain-autodiff,qtrain-prune-frozen-backward")
    api.run_pipeline(fused, f"qtrain-autodiff,qtrain-prune-frozen-backward,{FUSE}{options}")
    assert peak(train_step(fused)) <= peak(train_step(plain))
    api.run_pipeline(plain, "qtrain-schedule")
    api.run_pipeline(fused, "qtrain-schedule")
    assert peak(train_step(fused)) <= peak(train_step(plain))


def test_rule_fuses_what_is_free_and_skips_what_may_cost() -> None:
    """conv_chain: conv0 has no grad_input (fused); conv1..3 have one, their saved input
    (8192 B) is larger than the gradient (2304 B) but relu_grad reads it after grad_input,
    so it is held anyway — unless checkpoints may recompute it for relu_grad
    (`recompute=true`); fc's input (32 B) is smaller than its gradient."""

    def fused_with(options: str) -> list[str]:
        m = conv_chain()
        api.run_pipeline(m, f"qtrain-autodiff,qtrain-prune-frozen-backward,{FUSE}{options}")
        return fused_params(m)

    every = ["conv0.weight", "conv1.weight", "conv2.weight", "conv3.weight", "fc.weight"]
    assert fused_with("") == every
    assert fused_with("{always=true}") == every
    assert fused_with("{recompute=true}") == ["conv0.weight", "fc.weight"]


@pytest.mark.parametrize("factory", [conv_chain, builder.mnist_cnn, builder.mnist_mlp])
def test_recompute_mode_keeps_the_smallest_budget(factory) -> None:
    """Under a budget the pipeline runs qtrain-fuse-updates{recompute=true} before
    qtrain-insert-checkpoints: the smallest feasible budget never rises (plain fusion would
    raise conv_chain's: the recomputed input of a fused op is made after grad_input)."""
    plain, fused = factory(), factory()
    api.run_pipeline(plain, "qtrain-autodiff,qtrain-prune-frozen-backward")
    api.run_pipeline(fused, f"qtrain-autodiff,qtrain-prune-frozen-backward,{FUSE}{{recompute=true}}")
    least_plain = ic.smallest_feasible_peak(train_step(plain))
    least_fused = ic.smallest_feasible_peak(train_step(fused))
    assert least_fused <= least_plain
    if factory is not conv_chain:  # the MNIST models' big gradients are gone
        assert least_fused < least_plain
    else:  # why the option exists: 26,888 -> 32,776 B with the default rule
        default = factory()
        api.run_pipeline(default, f"qtrain-autodiff,qtrain-prune-frozen-backward,{FUSE}")
        assert ic.smallest_feasible_peak(train_step(default)) > least_plain


@pytest.mark.parametrize("name", ["conv_chain", "mnist_cnn"])
def test_checkpointed_fused_step_is_bit_identical(name: str) -> None:
    factory = {"conv_chain": conv_chain, "mnist_cnn": builder.mnist_cnn}[name]
    plain = factory()
    api.run_pipeline(plain, "qtrain-autodiff,qtrain-prune-frozen-backward")
    fused = factory()
    api.run_pipeline(fused, f"qtrain-autodiff,qtrain-prune-frozen-backward,{FUSE}{{recompute=true}}")
    least = ic.smallest_feasible_peak(train_step(fused))
    api.run_pipeline(fused, f"qtrain-insert-checkpoints{{budget-bytes={least}}},qtrain-schedule")
    assert count(fused, *qtrain.FUSED_UPDATE_OPS) > 0
    if name == "conv_chain":
        assert count(fused, *qtrain.FUSED_UPDATE_OPS) and any(
            "qtrain.recompute" in o.attributes for o in train_step(fused).body.block.ops
        )
    a, b = interpret(fused, 3), interpret(plain, 3)
    assert a == b


def test_fused_ops_are_roots_of_pruning() -> None:
    """Replaying qtrain-prune-frozen-backward after the fusion keeps the fused updates (they
    have no result: only their side effect makes them live)."""
    m = builder.mnist_cnn()
    api.run_pipeline(m, f"qtrain-autodiff,qtrain-prune-frozen-backward,{FUSE}")
    before = api.module_text(m)
    api.run_pipeline(m, "qtrain-prune-frozen-backward")
    assert len(fused_params(m)) == 4
    assert api.module_text(m) == before


def test_pipeline_places_the_pass_before_checkpoints_and_schedule() -> None:
    p = pipeline_string(Config()).split(",")
    assert p.index(FUSE) == p.index("qtrain-prune-frozen-backward") + 1
    assert p[p.index(FUSE) + 1].startswith("qtrain-schedule")
    p = pipeline_string(config_from_dict({"memory": {"budget_bytes": 50000}})).split(",")
    i = p.index(f"{FUSE}{{recompute=true}}")
    assert p[i - 1] == "qtrain-prune-frozen-backward" and p[i + 1].startswith("qtrain-insert-checkpoints")


# ---------------------------------------------------------------------------------------
# Kernels: the fused kernels against grad_weight + odtc_sgd_update_f32, bit for bit
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> K.Kernels:
    return K.load(K.build_shared(tmp_path_factory.mktemp("fuse_kernels") / "libodtc_kernels.so"))


def _rng(*key: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# (N, C, H, W, O, KH, KW, stride, padding [t, l, b, r], groups)
CONV_CASES = [
    (2, 3, 8, 8, 4, 3, 3, (1, 1), (1, 1, 1, 1), 1),
    (1, 4, 7, 9, 6, 3, 2, (2, 1), (0, 1, 2, 0), 2),
    (1, 6, 10, 10, 6, 3, 3, (2, 2), (1, 0, 1, 2), 6),
    (3, 5, 9, 4, 7, 2, 3, (3, 1), (0, 2, 1, 0), 1),
    (1, 8, 14, 14, 16, 3, 3, (2, 2), (1, 1, 1, 1), 1),  # the MNIST CNN's conv2
]


def _sgd(lib: K.Kernels, w: np.ndarray, g: np.ndarray, chans: np.ndarray | None, lr: float) -> np.ndarray:
    out = w.copy()
    rows = g.shape[0]
    lib.odtc_sgd_update_f32(out, g, None, chans, rows, g.size // rows, 0, 1, lr)
    return out


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("sparse", [False, True])
def test_conv2d_grad_weight_sgd_kernel_bit_identical(lib: K.Kernels, case: tuple, sparse: bool) -> None:
    n, c, h, w_, o, kh, kw, stride, pad, groups = case
    rng = _rng("conv", case, sparse)
    oh = (h + pad[0] + pad[2] - kh) // stride[0] + 1
    ow = (w_ + pad[1] + pad[3] - kw) // stride[1] + 1
    x = rng.standard_normal((n, c, h, w_)).astype(np.float32)
    dy = rng.standard_normal((n, o, oh, ow)).astype(np.float32)
    w = rng.standard_normal((o, c // groups, kh, kw)).astype(np.float32)
    chans = np.array(sorted(rng.choice(o, size=max(1, o // 2), replace=False)), np.int32) if sparse else None
    rows = o if chans is None else chans.size
    geom = (n, c, h, w_, o, kh, kw, *stride, *pad, groups)
    lr = 0.05
    dw = np.zeros((rows, c // groups, kh, kw), np.float32)
    lib.odtc_conv2d_f32_grad_weight(x, dy, dw, chans, rows, *geom)
    want = _sgd(lib, w, dw, chans, lr)
    got = w.copy()
    lib.odtc_conv2d_f32_grad_weight_sgd(x, dy, got, chans, rows, *geom, lr)
    assert got.view(np.uint32).tolist() == want.view(np.uint32).tolist()
    if chans is not None:  # rows outside the list are untouched
        keep = np.setdiff1d(np.arange(o), chans)
        assert got[keep].tobytes() == w[keep].tobytes()


@pytest.mark.parametrize(("n", "k", "o"), [(1, 784, 32), (3, 37, 11), (2, 5, 1)])
@pytest.mark.parametrize("sparse", [False, True])
def test_dense_grad_weight_sgd_kernel_bit_identical(lib: K.Kernels, n: int, k: int, o: int, sparse: bool) -> None:
    rng = _rng("dense", n, k, o, sparse)
    x = rng.standard_normal((n, k)).astype(np.float32)
    dy = rng.standard_normal((n, o)).astype(np.float32)
    w = rng.standard_normal((o, k)).astype(np.float32)
    chans = np.array(sorted(rng.choice(o, size=max(1, o // 3), replace=False)), np.int32) if sparse else None
    rows = o if chans is None else chans.size
    lr = 0.01
    dw = np.zeros((rows, k), np.float32)
    lib.odtc_dense_f32_grad_weight(x, dy, dw, chans, rows, n, k, o)
    want = _sgd(lib, w, dw, chans, lr)
    got = w.copy()
    lib.odtc_dense_f32_grad_weight_sgd(x, dy, got, chans, rows, n, k, o, lr)
    assert got.view(np.uint32).tolist() == want.view(np.uint32).tolist()


# ---------------------------------------------------------------------------------------
# Generated C: bit-identical with and without the pass; the arena drops
# ---------------------------------------------------------------------------------------

C_STEPS = 10
C_CASES = ["mlp", "cnn", "residual", "sparse", "bias-only", "momentum"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory, random_npz):
    """`compiled(name, fused)`: CASES[name] compiled for the host (with or without the pass)
    and trained C_STEPS steps with the C backend."""
    cache: dict[tuple[str, bool], tuple[Path, api.TrainReport]] = {}

    def get(name: str, fused: bool, target: str = "host") -> tuple[Path, api.TrainReport]:
        key = (name, fused)
        if key not in cache:
            factory, config, _ = CASES[name]
            build = tmp_path_factory.mktemp(f"fuse-{name}-{'fused' if fused else 'plain'}")
            cfg = config_from_dict(config)
            mp = pytest.MonkeyPatch()
            if not fused:
                mp.setattr(api, "pipeline_string", lambda c: without_fusion(pipeline_string(c)))
            try:
                api.compile_model(factory(), cfg, build, target=target)
            finally:
                mp.undo()
            data = "mnist" if name in ("mlp", "cnn", "sparse", "momentum") else str(random_npz((16, 16)))
            cache[key] = (build, api.train(build, data, limit=C_STEPS, seed=0, backend="c"))
        return cache[key]

    return get


def _bits(values) -> list[int]:
    return np.asarray(values, dtype=np.float32).view(np.uint32).ravel().tolist()


@pytest.mark.parametrize("name", C_CASES)
def test_generated_c_bit_identical(name: str, compiled) -> None:
    (bf, rf), (bp, rp) = compiled(name, True), compiled(name, False)
    assert (bf / "model.c").read_text().count("_grad_weight_sgd(") == len(CASES[name][2])
    assert "_grad_weight_sgd(" not in (bp / "model.c").read_text()
    assert rf.steps == rp.steps == C_STEPS
    assert _bits(rf.losses) == _bits(rp.losses)
    assert list(rf.params) == list(rp.params)
    for n in rf.params:
        assert _bits(rf.params[n]) == _bits(rp.params[n]), n


@pytest.mark.parametrize(("name", "grad_bytes"), [("cnn", 32 * 784 * 4), ("mlp", 64 * 784 * 4)])
def test_arena_drops(name: str, grad_bytes: int, compiled) -> None:
    """The fc1 weight gradient (100,352 B in the CNN, 200,704 B in the MLP) was the largest
    buffer; fused, the whole arena is smaller than it was alone."""
    fused = json.loads((compiled(name, True)[0] / "memory.json").read_text())
    plain = json.loads((compiled(name, False)[0] / "memory.json").read_text())
    print(f"{name}: arena {plain['arena_bytes']} -> {fused['arena_bytes']} bytes")
    assert plain["arena_bytes"] > grad_bytes > fused["arena_bytes"]
    # the same work is counted: fused ops carry their grad-weight's MACs
    assert fused["macs_backward"] == plain["macs_backward"]


requires_arm = pytest.mark.skipif(
    not toolchain_available(),
    reason="arm-none-eabi-gcc (with newlib rdimon.specs) and qemu-system-arm are not installed",
)


@pytest.mark.arm
@requires_arm
def test_cortex_m4_fused_cnn_bit_identical_to_host(compiled, tmp_path: Path) -> None:
    host_build, host = compiled("cnn", True)
    build = tmp_path / "cortex-m4"
    api.compile_model(builder.mnist_cnn(), Config(), build, target="cortex-m4")
    assert (build / "model.c").read_text() == (host_build / "model.c").read_text()
    emulated = api.train(build, "mnist", limit=C_STEPS, seed=0, emulate=True)
    assert _bits(emulated.losses) == _bits(host.losses)
    for n in host.params:
        assert _bits(emulated.params[n]) == _bits(host.params[n]), n
