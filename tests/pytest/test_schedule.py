"""qtrain-schedule (passes/schedule.py): same results, never more memory.

Every case compiles one model and training config twice — the driver's pipeline, and the
same pipeline without qtrain-schedule — and checks:

* the scheduled functions hold the same ops (the same multiset of printed ops), every SSA
  use after its definition, every write of a symbol after each op that read an earlier load
  of it, and no load that was read in place became a copy;
* the peak of live bytes (qtrain-plan-buffers' lower bound) is never larger;
* the reference interpreter gives BIT-IDENTICAL losses, parameters and optimizer state over
  a few steps (the same ops compute the same values; only their order changes);
* the generated C (host build) gives bit-identical losses and parameters too (different
  arena offsets, same arithmetic), for a subset of the cases.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import Operation

from odtc.compiler import api, builder
from odtc.compiler.config import Config, config_from_dict
from odtc.compiler.pipeline import ALIGNMENT, pipeline_string
from odtc.dialects import qtrain
from odtc.passes.plan_buffers import buffers_of, lower_bound
from odtc.passes.schedule import Graph, list_schedule, pick_greedy, pick_lazy, profile, symbols_written
from odtc.runtime.interpreter import init_state, run_function

STEPS = 4


def small_mobilenet() -> ModuleOp:
    return builder.mobilenetv2_w035(num_classes=10, resolution=32, seed=2)


CASES: dict[str, tuple[Callable[[], ModuleOp], dict]] = {
    "mlp-sgd": (builder.mnist_mlp, {}),
    "cnn-adam-b3": (builder.mnist_cnn, {"train": {"optimizer": "adam", "batch_size": 3}}),
    "cnn-momentum-b2": (builder.mnist_cnn, {"train": {"optimizer": "momentum", "batch_size": 2}}),
    "cnn-sparse": (
        builder.mnist_cnn,
        {"train": {"mode": "sparse", "bias_k": 2, "sparse_weights": ["conv2.weight:0.5", "fc1.weight:0.25"]}},
    ),
    "residual-bias-only": (builder.residual_cnn, {"train": {"mode": "bias-only", "learning_rate": 0.1}}),
    "residual-full": (builder.residual_cnn, {}),
    "mobilenet-tte-sparse": (small_mobilenet, {"train": dict(builder.TTE_SPARSE_99KB)}),
    "mobilenet-last4-adam": (small_mobilenet, {"train": {"mode": "last-k", "last_k": 4, "optimizer": "adam"}}),
    "mobilenet-full": (small_mobilenet, {}),
}


def _without_schedule(pipeline: str) -> str:
    return ",".join(p for p in pipeline.split(",") if not p.startswith("qtrain-schedule"))


def _planned(factory: Callable[[], ModuleOp], cfg: Config, schedule: bool) -> ModuleOp:
    # Without qtrain-fuse-updates and in-place bufferization: this file measures the
    # schedule alone, on the unfused training step.
    pipeline = (
        pipeline_string(cfg)
        .removesuffix(",convert-qtrain-to-c")
        .replace(",qtrain-fuse-updates", "")
        .replace("qtrain-bufferize{inplace=true}", "qtrain-bufferize")
    )
    if not schedule:
        pipeline = _without_schedule(pipeline)
    return api.run_pipeline(factory(), pipeline)


def _fn(module: ModuleOp, name: str) -> func.FuncOp:
    return next(o for o in module.ops if isinstance(o, func.FuncOp) and o.sym_name.data == name)


def _id(op: Operation) -> int:
    return op.attributes["test.id"].value.data  # type: ignore[attr-defined]


@pytest.fixture(scope="module", params=list(CASES))
def pair(request) -> tuple[str, ModuleOp, ModuleOp]:
    """(name, planned without qtrain-schedule, planned with it); every op of the functions
    carries `test.id`, its index before scheduling."""
    factory, data = CASES[request.param]
    pipeline = pipeline_string(config_from_dict(data)).removesuffix(",convert-qtrain-to-c")
    before, after = pipeline.split(",qtrain-schedule")
    after = after.split(",", 1)[1]
    base = api.run_pipeline(factory(), before)
    for fn in base.ops:
        if isinstance(fn, func.FuncOp):
            for i, o in enumerate(fn.body.block.ops):
                o.attributes["test.id"] = IntegerAttr(i, i64)
    plain = api.run_pipeline(base.clone(), after)
    sched = api.run_pipeline(base.clone(), f"qtrain-schedule{{alignment={ALIGNMENT}}},{after}")
    return request.param, plain, sched


def test_same_ops_valid_order_no_new_copies(pair) -> None:
    name, plain, sched = pair
    for fname in ("forward", "train_step"):
        a, b = _fn(plain, fname), _fn(sched, fname)
        in_ops, ops = list(a.body.block.ops), list(b.body.block.ops)
        assert sorted(map(_id, in_ops)) == sorted(map(_id, ops)) == list(range(len(ops))), name
        assert all(_id(o) == i for i, o in enumerate(in_ops))  # the input order is untouched
        by_id = {_id(o): o for o in in_ops}
        for o in ops:  # the same op: name, properties, operands (by producer), annotations
            ref = by_id[_id(o)]
            assert o.name == ref.name and o.properties == ref.properties, name
            assert [_id(v.owner) if isinstance(v.owner, Operation) else -1 for v in o.operands] == [
                _id(v.owner) if isinstance(v.owner, Operation) else -1 for v in ref.operands
            ]
        pos = {o: i for i, o in enumerate(ops)}
        assert isinstance(ops[-1], func.ReturnOp)
        for i, o in enumerate(ops):
            for v in o.operands:
                if isinstance(v.owner, Operation):
                    assert pos[v.owner] < i, f"{name}: {o.name} before the definition of its operand"
        # every write stays after every op that read, before it in the input, a load of its symbol
        loads = [o for o in ops if isinstance(o, qtrain.LoadOp)]
        for w in ops:
            for sym in symbols_written(w):
                for ld in loads:
                    if ld.symbol.root_reference.data == sym and _id(ld) < _id(w):
                        assert pos[ld] < pos[w]
                        for use in ld.result.uses:
                            if _id(use.operation) < _id(w):
                                assert pos[use.operation] < pos[w], f"{name}: {w.name} moved above a reader of @{sym}"
        copies_plain = sum(1 for o in loads if "qtrain.bytes" in by_id[_id(o)].attributes)
        copies_sched = sum(1 for o in loads if "qtrain.bytes" in o.attributes)
        assert copies_sched <= copies_plain, name


def _inputs(module: ModuleOp, step: int) -> list[np.ndarray]:
    fn = _fn(module, "train_step")
    rng = np.random.default_rng(100 + step)
    x_shape = qtrain.tensor_shape(fn.function_type.inputs.data[0])
    x = rng.random(x_shape, dtype=np.float32)
    y = np.array([step % 10], dtype=np.int32)
    return [x, y]


def test_interpreter_bit_identical(pair) -> None:
    name, plain, sched = pair
    s_plain, s_sched = init_state(plain), init_state(sched)
    assert set(s_plain) == set(s_sched)
    for step in range(STEPS):
        args = _inputs(plain, step)
        (l1,) = run_function(plain, "train_step", args, s_plain)
        (l2,) = run_function(sched, "train_step", args, s_sched)
        assert l1.tobytes() == l2.tobytes(), f"{name}: loss of step {step} differs: {l1} vs {l2}"
    changed = 0
    for sym in s_plain:  # parameters and every optimizer state (moments, accumulators, counters)
        assert s_plain[sym].dtype == s_sched[sym].dtype
        assert s_plain[sym].tobytes() == s_sched[sym].tobytes(), f"{name}: @{sym} differs"
        changed += int(not np.array_equal(s_plain[sym], init_state(plain)[sym]))
    assert changed, f"{name}: training changed nothing"
    x = _inputs(plain, 99)[0]
    assert run_function(plain, "forward", [x], s_plain)[0].tobytes() == run_function(sched, "forward", [x], s_sched)[0].tobytes()


# ---------------------------------------------------------------------------------------
# The generated C, with and without the pass
# ---------------------------------------------------------------------------------------

C_CASES = ["mlp-sgd", "cnn-adam-b3", "cnn-sparse", "residual-bias-only", "mobilenet-tte-sparse"]


@pytest.mark.parametrize("name", C_CASES)
def test_generated_c_bit_identical(name: str, tmp_path: Path, random_npz, monkeypatch: pytest.MonkeyPatch) -> None:
    factory, data = CASES[name]
    cfg = config_from_dict(data)
    sample = qtrain.tensor_shape(_fn(factory(), "forward").function_type.inputs.data[0])[1:]
    dataset = str(random_npz(tuple(sample)))
    reports = {}
    for scheduled in (True, False):
        build = tmp_path / f"build-{int(scheduled)}"
        if not scheduled:
            monkeypatch.setattr(api, "pipeline_string", lambda c: _without_schedule(pipeline_string(c)))
        result = api.compile_model(factory(), cfg, build, target="host")
        assert ("qtrain-schedule" in result.pipeline) == scheduled
        reports[scheduled] = api.train(build, dataset, limit=6, seed=0, backend="c")
    a, b = reports[True], reports[False]
    assert np.asarray(a.losses, np.float32).tobytes() == np.asarray(b.losses, np.float32).tobytes(), name
    assert a.weights_sha256 == b.weights_sha256, name


# ---------------------------------------------------------------------------------------
# The pass itself
# ---------------------------------------------------------------------------------------


def test_pipeline_places_schedule_and_checkpoints() -> None:
    passes = [p.split("{")[0] for p in pipeline_string(Config()).split(",")]
    assert passes.index("qtrain-prune-frozen-backward") < passes.index("qtrain-schedule") < passes.index("qtrain-bufferize")
    assert "qtrain-insert-checkpoints" not in passes
    budget = [p for p in pipeline_string(config_from_dict({"memory": {"budget_bytes": 32768}})).split(",")]
    names = [p.split("{")[0] for p in budget]
    assert budget[names.index("qtrain-insert-checkpoints")] == "qtrain-insert-checkpoints{budget-bytes=32768 fuse=true}"
    assert names.index("qtrain-prune-frozen-backward") < names.index("qtrain-insert-checkpoints") < names.index("qtrain-schedule")


def test_deterministic_and_stable() -> None:
    """Same input, same output; and scheduling a scheduled function keeps its peak."""
    cfg = config_from_dict({"train": {"optimizer": "adam", "batch_size": 2}})
    pipeline = pipeline_string(cfg).split(",qtrain-bufferize")[0]
    a = api.module_text(api.run_pipeline(builder.residual_cnn(), pipeline))
    b = api.module_text(api.run_pipeline(builder.residual_cnn(), pipeline))
    assert a == b
    once = api.run_pipeline(builder.residual_cnn(), pipeline)
    block = _fn(once, "train_step").body.block
    g = Graph.of(block, ALIGNMENT)
    peak = profile(g, list(range(len(g.ops)))).peak
    twice = api.run_pipeline(once.clone(), "qtrain-schedule")
    g2 = Graph.of(_fn(twice, "train_step").body.block, ALIGNMENT)
    assert profile(g2, list(range(len(g2.ops)))).peak <= peak


def test_profile_matches_bufferize() -> None:
    """The scheduler's memory model is qtrain-bufferize's: its peak for the chosen order is
    the planner's lower bound, for every candidate order's module."""
    cfg = config_from_dict({"train": {"optimizer": "momentum", "batch_size": 2}})
    base = pipeline_string(cfg).split(",qtrain-schedule")[0]
    module = api.run_pipeline(builder.mnist_cnn(), base)
    block = _fn(module, "train_step").body.block
    g = Graph.of(block, ALIGNMENT)
    for pick in (pick_greedy, pick_lazy, None):
        order = list(range(len(g.ops))) if pick is None else list_schedule(g, pick)
        m2 = module.clone()
        b2 = _fn(m2, "train_step").body.block
        ops = list(b2.ops)
        term = ops[-1]
        for o in ops[:-1]:
            o.detach()
        b2.insert_ops_before([ops[i] for i in order], term)
        api.run_pipeline(m2, f"qtrain-bufferize,qtrain-plan-buffers{{alignment={ALIGNMENT}}}")
        bound = _fn(m2, "train_step").attributes["qtrain.arena_lower_bound"].value.data  # type: ignore[attr-defined]
        assert profile(g, order).peak == bound


def test_updates_follow_their_gradient() -> None:
    """In the scheduled MNIST CNN every update comes right after the op that completes its
    gradient, or right after the last reader of its loaded weight when that is later."""
    sched = _planned(builder.mnist_cnn, Config(), True)
    ops = list(_fn(sched, "train_step").body.block.ops)
    pos = {o: i for i, o in enumerate(ops)}
    for i, o in enumerate(ops):
        if isinstance(o, qtrain.SgdUpdateOp):
            sym = o.param.root_reference.data
            assert isinstance(o.grad.owner, Operation)
            ready = pos[o.grad.owner]
            for ld in ops:
                if isinstance(ld, qtrain.LoadOp) and ld.symbol.root_reference.data == sym:
                    ready = max([ready, *(pos[u.operation] for u in ld.result.uses)])
            assert i == ready + 1, f"update of @{sym} at #{i}, ready after #{ready}"


def test_scheduled_mnist_cnn_is_smaller() -> None:
    before = lower_bound(buffers_of(_fn(_planned(builder.mnist_cnn, Config(), False), "train_step")), ALIGNMENT)
    after = lower_bound(buffers_of(_fn(_planned(builder.mnist_cnn, Config(), True), "train_step")), ALIGNMENT)
    # fc1's 784x32 weight gradient (100,352 B) no longer waits for the other updates
    assert (before, after) == (125296, 103624)
