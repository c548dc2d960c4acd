"""qtrain-insert-checkpoints: recomputation under a memory budget.

* Checkpointed and plain training steps are BIT-IDENTICAL in the reference interpreter
  (recomputation runs the same ops on the same values) and in the generated C: losses and
  every parameter after a few steps, for an MLP, mnist_cnn, residual_cnn, a chain of 8
  conv+relu layers and a CNN with three residual blocks, at several budgets including the
  smallest feasible one.
* The pass's peak model is qtrain-bufferize + plan-buffers' lower bound, exactly: the
  estimate equals the lower bound of the IR the pass emits, for any keep/recompute choice.
* The estimate is within the budget, and the smallest feasible budget is tight (one byte
  less fails, with a message naming it).
* Optimality: the chain dynamic program equals brute force over every keep-subset (and a
  FRESH/RETAIN mode per recomputed segment); the integer program equals brute force over
  keep/recompute choices on a residual graph; smaller budgets never recompute fewer MACs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.exceptions import PassFailedException

from odtc.compiler import api, builder
from odtc.compiler.builder import GraphBuilder
from odtc.passes import insert_checkpoints as ic
from odtc.passes.bufferize import bufferize_function
from odtc.passes.plan_buffers import buffers_of, lower_bound
from odtc.runtime.interpreter import init_state, run_function

PRUNED = "qtrain-autodiff,qtrain-prune-frozen-backward"
STEPS = 3


# ---------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------


def mlp() -> ModuleOp:
    """Four hidden dense+relu layers at batch 8: activations matter next to the gradients."""
    b = GraphBuilder((8, 16), seed=5)
    h = b.input
    for i in range(4):
        h = b.relu(b.dense(h, 32, name=f"fc{i}"))
    return b.build(b.dense(h, 10, name="out"))


def conv_chain(layers: int = 8, channels: int = 8, hw: int = 16) -> ModuleOp:
    """`layers` x (conv 3x3 + relu) at full resolution, global pool, dense."""
    b = GraphBuilder((1, 1, hw, hw), seed=1)
    h = b.input
    for i in range(layers):
        h = b.relu(b.conv2d(h, channels, 3, padding=1, name=f"conv{i}"))
    return b.build(b.dense(b.flatten(b.global_avgpool(h)), 10, name="fc"))


def resnet(blocks: int = 3, channels: int = 8, hw: int = 16) -> ModuleOp:
    """Stem, then `blocks` residual blocks (conv-relu-conv, add the block input, relu)."""
    b = GraphBuilder((1, 1, hw, hw), seed=2)
    h = b.relu(b.conv2d(b.input, channels, 3, padding=1, name="stem"))
    for i in range(blocks):
        skip = h
        h = b.relu(b.conv2d(h, channels, 3, padding=1, name=f"b{i}a"))
        h = b.conv2d(h, channels, 3, padding=1, name=f"b{i}b")
        h = b.relu(b.add(h, skip))
    return b.build(b.dense(b.flatten(b.global_avgpool(h)), 10, name="fc"))


MODELS: dict[str, Callable[[], ModuleOp]] = {
    "mlp": mlp,
    "mnist_cnn": builder.mnist_cnn,
    "residual_cnn": builder.residual_cnn,
    "conv_chain": conv_chain,
    "resnet": resnet,
}
RECOMPUTES = {"mlp", "conv_chain", "resnet"}
"""Models whose smallest budget needs recomputation (in mnist_cnn and residual_cnn one op's
inputs and output alone set the peak; only the order helps there)."""


def train_step(module: ModuleOp) -> func.FuncOp:
    return next(o for o in module.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "train_step")


def pruned(name: str) -> ModuleOp:
    m = MODELS[name]()
    api.run_pipeline(m, PRUNED)
    return m


def checkpointed(name: str, options: str) -> ModuleOp:
    m = MODELS[name]()
    api.run_pipeline(m, f"{PRUNED},qtrain-insert-checkpoints{{{options}}}")
    return m


def real_peak(fn: func.FuncOp) -> int:
    clone = fn.clone()
    bufferize_function(clone)
    return lower_bound(buffers_of(clone), ic.ALIGNMENT)


_PEAKS: dict[str, tuple[int, int]] = {}


def peaks(name: str) -> tuple[int, int]:
    """(smallest feasible budget, peak of the pruned step as it is)."""
    if name not in _PEAKS:
        fn = train_step(pruned(name))
        _PEAKS[name] = (ic.smallest_feasible_peak(fn), real_peak(fn))
    return _PEAKS[name]


def budgets(name: str) -> list[int]:
    least, plain = peaks(name)
    return sorted({least, (least + plain) // 2, plain - 1})


def train(module: ModuleOp, steps: int = STEPS, seed: int = 0) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    fn = train_step(module)
    x_type, y_type = fn.function_type.inputs.data
    rng = np.random.default_rng(seed)
    state = init_state(module)
    losses = []
    for _ in range(steps):
        x = rng.random(tuple(x_type.get_shape()), dtype=np.float32)  # type: ignore[attr-defined]
        y = rng.integers(0, 10, tuple(y_type.get_shape())).astype(np.int32)  # type: ignore[attr-defined]
        losses.append(run_function(module, "train_step", [x, y], state)[0])
    return losses, state


def assert_bit_identical(a: tuple[list[np.ndarray], dict[str, np.ndarray]],
                         b: tuple[list[np.ndarray], dict[str, np.ndarray]]) -> None:
    (la, sa), (lb, sb) = a, b
    assert [x.tobytes() for x in la] == [x.tobytes() for x in lb], (la, lb)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and sa[k].tobytes() == sb[k].tobytes(), k


def recompute_ops(fn: func.FuncOp) -> list:
    return [o for o in fn.body.block.ops if ic.RECOMPUTE in o.attributes]


def attr(fn: func.FuncOp, key: str) -> int:
    return int(fn.attributes[key].value.data)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# Interpreter: bit-identical, within budget, estimate = bufferize's lower bound
# ---------------------------------------------------------------------------------------

_PLAIN_RUNS: dict[str, tuple[list[np.ndarray], dict[str, np.ndarray]]] = {}


def plain_run(name: str) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    if name not in _PLAIN_RUNS:
        _PLAIN_RUNS[name] = train(pruned(name))
    return _PLAIN_RUNS[name]


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("which", ["least", "middle", "plain-1", "sqrt"])
def test_checkpointed_step_is_bit_identical(name: str, which: str) -> None:
    least, plain = peaks(name)
    if which == "sqrt":
        m = checkpointed(name, "strategy=sqrt")
        budget = plain
    else:
        budget = {"least": least, "middle": (least + plain) // 2, "plain-1": plain - 1}[which]
        m = checkpointed(name, f"budget-bytes={budget}")
    fn = train_step(m)
    estimate = attr(fn, "qtrain.peak_estimate_bytes")
    assert estimate <= budget
    assert estimate == real_peak(fn), "the estimate is qtrain-bufferize's lower bound of the emitted IR"
    macs = attr(fn, "qtrain.recompute_macs")
    clones = recompute_ops(fn)
    assert (macs > 0) == any(ic.op_macs(o) for o in clones)
    if which == "least" and name in RECOMPUTES:
        assert clones and macs > 0
    for o in clones:  # only pure forward ops are recomputed, each before a backward reader
        assert not isinstance(o, ic.SIDE_EFFECTS + ic.UPDATES)
        assert all(o.name.startswith("qtrain.") for o in clones)
    assert_bit_identical(plain_run(name), train(m))


@pytest.mark.parametrize("pipeline", [
    "qtrain-autodiff{optimizer=adam lr=0.01 batch-size=2},qtrain-prune-frozen-backward",
    "qtrain-autodiff{optimizer=momentum lr=0.05},qtrain-prune-frozen-backward",
    "qtrain-mark-trainable{mode=last-k k=3},qtrain-autodiff,qtrain-prune-frozen-backward",
    "qtrain-mark-trainable{mode=bias-only},qtrain-autodiff,qtrain-prune-frozen-backward",
])
def test_optimizers_and_transfer_modes_stay_bit_identical(pipeline: str) -> None:
    """Optimizer state, accumulation over a batch (the updates wait for the batch
    position) and pruned backward passes."""
    base = conv_chain()
    api.run_pipeline(base, pipeline)
    fn = train_step(base)
    least = ic.smallest_feasible_peak(fn)
    m = conv_chain()
    api.run_pipeline(m, f"{pipeline},qtrain-insert-checkpoints{{budget-bytes={least}}}")
    out = train_step(m)
    assert attr(out, "qtrain.peak_estimate_bytes") == least == real_peak(out)
    if "bias-only" not in pipeline:
        assert recompute_ops(out)
    assert_bit_identical(train(base, steps=4), train(m, steps=4))


def test_annotated_saved_set_shrinks() -> None:
    least, _ = peaks("conv_chain")
    before = attr(train_step(pruned("conv_chain")), "qtrain.saved_activation_bytes")
    after = attr(train_step(checkpointed("conv_chain", f"budget-bytes={least}")), "qtrain.saved_activation_bytes")
    assert after < before


# ---------------------------------------------------------------------------------------
# Budgets: tight minimum, monotonic cost, no-ops
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_smallest_budget_is_tight(name: str) -> None:
    least, _ = peaks(name)
    fn = train_step(checkpointed(name, f"budget-bytes={least}"))
    assert attr(fn, "qtrain.peak_estimate_bytes") == least
    with pytest.raises(Exception, match=(
        rf"^qtrain-insert-checkpoints: budget {least - 1} bytes is infeasible; "
        rf"the smallest feasible peak is {least} bytes \(.+\)$"
    )):
        checkpointed(name, f"budget-bytes={least - 1}")


def test_infeasible_message_names_the_smallest_peak() -> None:
    least, _ = peaks("conv_chain")
    with pytest.raises(PassFailedException) as exc:
        ic.InsertCheckpointsPass(budget_bytes=1000).apply(None, pruned("conv_chain"))  # type: ignore[arg-type]
    assert str(exc.value).startswith(
        f"qtrain-insert-checkpoints: budget 1000 bytes is infeasible; the smallest feasible peak is {least} bytes ("
    )


@pytest.mark.parametrize("name", ["mlp", "conv_chain", "resnet"])
def test_smaller_budgets_never_recompute_less(name: str) -> None:
    least, plain = peaks(name)
    sweep = sorted({least + (plain - least) * k // 8 for k in range(9)})
    macs = []
    for budget in sweep:
        fn = train_step(checkpointed(name, f"budget-bytes={budget}"))
        assert attr(fn, "qtrain.peak_estimate_bytes") <= budget
        macs.append(attr(fn, "qtrain.recompute_macs"))
    assert macs == sorted(macs, reverse=True), list(zip(sweep, macs))
    assert macs[0] > 0 and macs[-1] == 0


@pytest.mark.parametrize("options", ["budget-bytes=0", "strategy=none", "budget-bytes=1 strategy=none"])
def test_disabled_pass_changes_nothing(options: str) -> None:
    a = api.module_text(pruned("conv_chain"))
    b = api.module_text(checkpointed("conv_chain", options))
    assert a == b


def test_budget_met_as_is_changes_no_op() -> None:
    _, plain = peaks("conv_chain")
    before = pruned("conv_chain")
    after = checkpointed("conv_chain", f"budget-bytes={plain}")
    fn = train_step(after)
    assert attr(fn, "qtrain.recompute_macs") == 0
    assert attr(fn, "qtrain.peak_estimate_bytes") == plain
    assert [o.name for o in train_step(before).body.block.ops] == [o.name for o in fn.body.block.ops]


# ---------------------------------------------------------------------------------------
# The model: exactly qtrain-bufferize, for any choice (also RETAIN and mixed ones)
# ---------------------------------------------------------------------------------------


def emit(fn: func.FuncOp, g: ic.Graph, modes: ic.Modes) -> None:
    block = fn.body.block
    for o in list(block.ops):
        o.detach()
    block.add_ops([n.op for n in g.nodes])
    ic.apply_plan(g, g.plan(modes))


@pytest.mark.parametrize("name", ["mlp", "conv_chain", "resnet"])
def test_model_equals_bufferize_lower_bound(name: str) -> None:
    rng = random.Random(0)
    for trial in range(12):
        m = pruned(name)
        fn = train_step(m)
        g = ic.Graph(ic.hoisted_order(list(fn.body.block.ops)), list(fn.body.block.args))
        modes = {c: rng.choice([ic.KEEP, ic.FRESH, ic.RETAIN]) for c in g.order}
        e = g.evaluate(modes)
        emit(fn, g, modes)
        m.verify()
        assert e.peak == real_peak(fn), (trial, modes)
        assert e.macs == sum(ic.op_macs(o) for o in recompute_ops(fn))
        if trial < 3:
            assert_bit_identical(plain_run(name), train(m))


# ---------------------------------------------------------------------------------------
# Optimality
# ---------------------------------------------------------------------------------------


def hoisted_graph(module: ModuleOp) -> ic.Graph:
    fn = train_step(module)
    return ic.Graph(ic.hoisted_order(list(fn.body.block.ops)), list(fn.body.block.args))


def sweep_budgets(g: ic.Graph, n: int = 7) -> list[int]:
    least = ic.brute_force(g, None)
    assert least is not None
    lo, hi = least[1].peak, g.evaluate({}).peak
    return sorted({lo - 8, *(lo + (hi - lo) * k // (n - 1) for k in range(n))})


def test_chain_dp_equals_brute_force() -> None:
    m = conv_chain(layers=6)
    api.run_pipeline(m, PRUNED)
    g = hoisted_graph(m)
    assert g.is_chain() and len(g.order) <= 12
    dp = ic.ChainDP(g)
    least_dp = dp.solve(None)
    least_bf = ic.brute_force(g, None)
    assert least_dp is not None and least_bf is not None
    assert g.evaluate(least_dp[0]).peak == least_dp[1] == least_bf[1].peak
    for budget in sweep_budgets(g):
        r = dp.solve(budget)
        bf = ic.brute_force(g, budget)
        if bf is None:
            assert r is None, budget
            continue
        assert r is not None, budget
        e = g.evaluate(r[0])
        assert e.peak == r[1] <= budget
        assert e.cost == bf[1].cost, (budget, r[0], bf[0])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.sampled_from([1, 4, 8]),
    widths=st.lists(st.sampled_from([2, 4, 8, 16]), min_size=2, max_size=6),
    budget_frac=st.floats(0.0, 1.0),
)
def test_chain_dp_equals_brute_force_on_random_mlps(batch: int, widths: list[int], budget_frac: float) -> None:
    b = GraphBuilder((batch, 4), seed=0)
    h = b.input
    for i, w in enumerate(widths):
        h = b.relu(b.dense(h, w, name=f"fc{i}"))
    m = b.build(b.dense(h, 3, name="out"))
    api.run_pipeline(m, PRUNED)
    g = hoisted_graph(m)
    assert g.is_chain()
    least = ic.brute_force(g, None)
    assert least is not None
    budget = int(least[1].peak + budget_frac * (g.evaluate({}).peak - least[1].peak))
    r = ic.ChainDP(g).solve(budget)
    bf = ic.brute_force(g, budget)
    assert r is not None and bf is not None
    assert g.evaluate(r[0]).peak == r[1] <= budget
    assert g.evaluate(r[0]).cost == bf[1].cost


def test_ilp_equals_brute_force_on_a_residual_graph() -> None:
    m = resnet(blocks=2)
    api.run_pipeline(m, PRUNED)
    g = hoisted_graph(m)
    assert not g.is_chain() and len(g.order) <= 12
    ilp = ic.ILP(g)
    least = ic.brute_force(g, None, modes_per_segment=False)
    assert least is not None
    status, modes = ilp.solve(None, math.inf)
    assert status == "optimal" and modes is not None and g.evaluate(modes).peak == least[1].peak
    for budget in sweep_budgets(g):
        bf = ic.brute_force(g, budget, modes_per_segment=False)
        status, modes = ilp.solve(budget, math.inf)
        if bf is None:
            assert status == "infeasible", budget
            continue
        assert status == "optimal" and modes is not None, budget
        e = g.evaluate(modes)
        assert e.peak <= budget and e.cost == bf[1].cost, (budget, modes, bf[0])
        greedy = ic.greedy(g, budget)  # the fallback: feasible, never better than optimal
        assert greedy is not None
        ge = g.evaluate(greedy)
        assert ge.peak <= budget and ge.cost >= e.cost


def test_methods() -> None:
    """Chains go to the dynamic program, residual graphs to the integer program."""
    for name, method in (("conv_chain", "dp"), ("mlp", "dp"), ("resnet", "ilp")):
        least, plain = peaks(name)
        c = ic.choose(train_step(pruned(name)), "budget", (least + plain) // 2, schedule_base=False)
        assert c.method == method, name


def test_hoisted_updates_follow_their_dependencies() -> None:
    fn = train_step(pruned("resnet"))
    ops = ic.hoisted_order(list(fn.body.block.ops))
    pos = {o: i for i, o in enumerate(ops)}
    assert sorted(pos.values()) == list(range(len(ops)))
    for o in ops:
        for v in o.operands:
            if v.owner in pos:
                assert pos[v.owner] < pos[o]  # type: ignore[index]
    for o in ops:
        if isinstance(o, ic.UPDATES):  # after every reader of its parameter's loaded value
            sym = o.param.root_reference.data  # type: ignore[attr-defined]
            for ld in ops:
                if getattr(ld, "symbol", None) is not None and ld.name == "qtrain.load" \
                        and ld.symbol.root_reference.data == sym:  # type: ignore[attr-defined]
                    for use in ld.results[0].uses:
                        assert pos[use.operation] < pos[o]


# ---------------------------------------------------------------------------------------
# strategy=sqrt
# ---------------------------------------------------------------------------------------


def test_sqrt_keeps_about_sqrt_l_checkpoints_and_recomputes_each_segment_once() -> None:
    m = checkpointed("conv_chain", "strategy=sqrt")
    fn = train_step(m)
    g = hoisted_graph(pruned("conv_chain"))
    n = len(g.order)
    modes = ic.sqrt_modes(g)
    kept = [c for c in g.order if modes[c] == ic.KEEP]
    assert abs(len(kept) - math.sqrt(n)) <= 1.5, (n, len(kept))
    # each recomputed conv runs exactly once more: recompute MACs = the forward MACs of the
    # convs whose relu output is not kept
    convs = [o for o in fn.body.block.ops if o.name == "qtrain.conv2d"]
    clones = [o for o in convs if ic.RECOMPUTE in o.attributes]
    originals = [o for o in convs if ic.RECOMPUTE not in o.attributes]
    assert len(clones) == sum(1 for c in g.order if modes[c] != ic.KEEP and g.nodes[g.producer[c]].op.name == "qtrain.relu")
    assert len({str(o.operands[1].name_hint) for o in clones}) == len(clones)
    assert attr(fn, "qtrain.recompute_macs") == sum(ic.op_macs(o) for o in clones) > 0
    assert attr(fn, "qtrain.recompute_macs") < sum(ic.op_macs(o) for o in originals)
    assert attr(fn, "qtrain.peak_estimate_bytes") < peaks("conv_chain")[1]
    assert_bit_identical(plain_run("conv_chain"), train(m))


def test_sqrt_over_budget_fails() -> None:
    with pytest.raises(Exception, match=r"strategy=sqrt reaches a peak of \d+ bytes, above the budget of 100 bytes"):
        checkpointed("conv_chain", "strategy=sqrt budget-bytes=100")


# ---------------------------------------------------------------------------------------
# Generated C: bit-identical to the C without checkpoints
# ---------------------------------------------------------------------------------------

C_CASES = {"conv_chain": (16, 16), "resnet": (16, 16), "mnist_cnn": None}


@pytest.mark.parametrize("name", list(C_CASES))
def test_generated_c_is_bit_identical(name: str, tmp_path: Path, random_npz) -> None:
    from odtc.compiler.config import config_from_dict
    from odtc.compiler.pipeline import pipeline_string

    least, _ = peaks(name)
    cfg = config_from_dict({"memory": {"budget_bytes": least}})
    assert f"qtrain-insert-checkpoints{{budget-bytes={least} fuse=true}}" in pipeline_string(cfg)
    shape = C_CASES[name]
    data = "mnist" if shape is None else str(random_npz(shape))
    plain = api.compile_model(MODELS[name](), config_from_dict({}), tmp_path / "plain", target="host")
    ckpt = api.compile_model(MODELS[name](), cfg, tmp_path / "ckpt", target="host")
    assert ckpt.memory["lower_bound_bytes"] <= least
    if name in RECOMPUTES:
        assert "qtrain.recompute" in (tmp_path / "ckpt" / "train_step.mlir").read_text()
    ra = api.train(tmp_path / "plain", data, limit=5, seed=0, backend="c")
    rb = api.train(tmp_path / "ckpt", data, limit=5, seed=0, backend="c")
    assert np.asarray(ra.losses, np.float32).tobytes() == np.asarray(rb.losses, np.float32).tobytes()
    assert ra.params.keys() == rb.params.keys()
    for k in ra.params:
        assert ra.params[k].tobytes() == rb.params[k].tobytes(), k


def test_budget_uses_plain_fusion_when_nothing_is_recomputed(tmp_path: Path) -> None:
    """The driver fuses updates in recompute mode before the checkpoints, which leaves the
    MNIST CNN's fc1 gradient unfused (20,296 B); with nothing to recompute, the pass fuses it
    as the budget-less pipeline does (`fuse=true`). So a budget between the two compiles, a
    larger one is not met by the worse step, and the minimum named is the fused step's."""
    from odtc.compiler.config import config_from_dict

    def bound(budget: int) -> tuple[int, int]:
        cfg = config_from_dict({"memory": {"budget_bytes": budget}} if budget else {})
        r = api.compile_model(builder.mnist_cnn(), cfg, tmp_path / str(budget), target="host")
        return int(r.memory["lower_bound_bytes"]), int(r.memory["macs_recompute"])

    free, _ = bound(0)
    assert free < 20_296
    assert bound(free) == bound(20_400) == (free, 0)
    with pytest.raises(api.CompileError, match=f"smallest feasible peak is {free} bytes .*plain qtrain-fuse-updates"):
        bound(free - 1)
