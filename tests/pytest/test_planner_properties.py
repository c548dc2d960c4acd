"""Properties of qtrain-plan-buffers (passes/plan_buffers.py) on random lifetimes, and
check_plan on a real planned module.

Random schedules: 1..40 buffers, sizes 0..5000 bytes, live ranges [first, last] inside op
indices 0..40, alignments 1..16 (powers of two). For every schedule greedy_by_size and the
pass's planner, plan_offsets, must give

* aligned offsets;
* disjoint byte ranges for every two non-empty buffers whose live ranges intersect;
* an arena (max offset + size, rounded up to the alignment as the pass does) no smaller
  than lower_bound and no larger than the naive keep-everything sum of aligned sizes;

plan_offsets must never be worse than greedy_by_size, must be deterministic, and on up to
6 buffers must be optimal (equal to the best first-fit placement over all orders, which
attains the optimum); lower_bound must equal the brute force max over time of the live
aligned bytes. On the reference workloads (MNIST MLP and CNN, MobileNetV2-w0.35 last-1,
last-4, TTE sparse, full) the planned arena must stay within 2 % of the bound, in seconds.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.utils.exceptions import PassFailedException

from odtc.compiler import api, builder
from odtc.compiler.config import Config
from odtc.compiler.pipeline import ALIGNMENT, pipeline_string
from odtc.passes.plan_buffers import Buffer, buffers_of, check_plan, greedy_by_size, lower_bound, plan_offsets

HORIZON = 40


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


@st.composite
def lifetimes(draw: st.DrawFn) -> list[Buffer]:
    n = draw(st.integers(1, 40))
    out: list[Buffer] = []
    for _ in range(n):
        size = draw(st.integers(0, 5000))
        first = draw(st.integers(0, HORIZON))
        last = draw(st.integers(first, HORIZON))
        # a fresh op per buffer: Buffer is hashed with its op, as in the pass
        out.append(Buffer(ModuleOp([]), draw(st.booleans()), size, first, last))
    return out


alignments = st.sampled_from([1, 2, 4, 8, 16])
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _overlap_in_time(a: Buffer, b: Buffer) -> bool:
    return a.first <= b.last and b.first <= a.last


def brute_force_lower_bound(buffers: list[Buffer], alignment: int) -> int:
    """max over every op index t of the aligned bytes of the buffers live at t."""
    horizon = max((b.last for b in buffers), default=0)
    return max(
        (sum(_align(b.size, alignment) for b in buffers if b.first <= t <= b.last) for t in range(horizon + 1)),
        default=0,
    )


@PROPS
@given(lifetimes(), alignments)
def test_greedy_plan_is_valid(buffers: list[Buffer], alignment: int) -> None:
    offsets = greedy_by_size(buffers, alignment)
    assert set(offsets) == set(buffers)
    for b, off in offsets.items():
        assert off >= 0 and off % alignment == 0, (b, off)
    items = list(offsets.items())
    for i, (a, oa) in enumerate(items):
        for b, ob in items[i + 1 :]:
            if a.size and b.size and _overlap_in_time(a, b):
                assert oa + a.size <= ob or ob + b.size <= oa, (
                    f"{a.label} at [{oa}, {oa + a.size}) overlaps {b.label} at [{ob}, {ob + b.size})"
                )
    arena = _align(max(off + b.size for b, off in items), alignment)
    assert arena >= lower_bound(buffers, alignment)
    assert arena <= sum(_align(b.size, alignment) for b in buffers)


@PROPS
@given(lifetimes(), alignments)
def test_lower_bound_is_max_live_aligned_bytes(buffers: list[Buffer], alignment: int) -> None:
    assert lower_bound(buffers, alignment) == brute_force_lower_bound(buffers, alignment)


def _check_valid(offsets: dict[Buffer, int], buffers: list[Buffer], alignment: int) -> int:
    """Asserts the placement is complete, aligned and overlap-free; returns its arena."""
    assert set(offsets) == set(buffers)
    for b, off in offsets.items():
        assert off >= 0 and off % alignment == 0, (b, off)
    items = list(offsets.items())
    for i, (a, oa) in enumerate(items):
        for b, ob in items[i + 1 :]:
            if a.size and b.size and _overlap_in_time(a, b):
                assert oa + a.size <= ob or ob + b.size <= oa, (
                    f"{a.label} at [{oa}, {oa + a.size}) overlaps {b.label} at [{ob}, {ob + b.size})"
                )
    return _align(max((off + b.size for b, off in items), default=0), alignment)


@PROPS
@given(lifetimes(), alignments)
def test_planner_valid_bounded_and_never_worse_than_greedy(buffers: list[Buffer], alignment: int) -> None:
    plan = plan_offsets(buffers, alignment)
    arena = _check_valid(plan.offsets, buffers, alignment)
    assert arena == plan.arena
    bound = lower_bound(buffers, alignment)
    assert plan.lower_bound == bound
    assert bound <= arena <= sum(_align(b.size, alignment) for b in buffers)
    greedy = _check_valid(greedy_by_size(buffers, alignment), buffers, alignment)
    assert arena <= greedy
    if plan.optimal and arena > bound:
        assert plan.method.startswith("exact") or plan.method.endswith("(optimal)")
    again = plan_offsets(buffers, alignment)
    assert again.offsets == plan.offsets and again.method == plan.method


def _brute_force_optimum(buffers: list[Buffer], alignment: int) -> int:
    """First fit over every order: some order reproduces an optimal placement (place the
    buffers in the order of their optimal offsets; first fit puts each no higher)."""
    from itertools import permutations

    live = [b for b in buffers if b.size]
    best = None
    for order in permutations(live):
        placed: list[tuple[Buffer, int]] = []
        top = 0
        for b in order:
            busy = sorted((o, o + _align(p.size, alignment)) for p, o in placed if _overlap_in_time(p, b))
            off = 0
            for start, end in busy:
                if off + _align(b.size, alignment) <= start:
                    break
                off = max(off, end)
            placed.append((b, off))
            top = max(top, off + _align(b.size, alignment))
        best = top if best is None else min(best, top)
    return best or 0


@st.composite
def small_lifetimes(draw: st.DrawFn) -> list[Buffer]:
    n = draw(st.integers(1, 6))
    out: list[Buffer] = []
    for _ in range(n):
        first = draw(st.integers(0, 6))
        out.append(Buffer(ModuleOp([]), False, draw(st.integers(1, 64)), first, draw(st.integers(first, 6))))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_lifetimes(), alignments)
def test_planner_is_optimal_on_small_instances(buffers: list[Buffer], alignment: int) -> None:
    plan = plan_offsets(buffers, alignment)
    assert plan.arena == _brute_force_optimum(buffers, alignment)
    assert plan.optimal


def test_planner_beats_greedy_where_greedy_is_not_optimal() -> None:
    """tests/filecheck/passes/qtrain-plan-buffers.mlir @exceeds: greedy by size needs 80
    bytes, the bound and the optimum are 56."""
    a, b, c, d = (Buffer(ModuleOp([]), False, s, f, f + 1) for s, f in ((32, 0), (24, 1), (24, 2), (32, 3)))
    greedy = greedy_by_size([a, b, c, d], 8)
    assert max(o + x.size for x, o in greedy.items()) == 80
    plan = plan_offsets([a, b, c, d], 8)
    assert (plan.arena, plan.lower_bound, plan.optimal) == (56, 56, True)
    assert plan.offsets == {a: 0, b: 32, c: 0, d: 24}


WORKLOADS = {
    "mnist-mlp": (builder.mnist_mlp, {}),
    "mnist-cnn": (builder.mnist_cnn, {}),
    "mnist-cnn-adam-b3": (builder.mnist_cnn, {"train": {"optimizer": "adam", "batch_size": 3}}),
    "mbv2-last1": (builder.mobilenetv2_w035, {"train": {"mode": "last-k", "last_k": 1}}),
    "mbv2-last4": (builder.mobilenetv2_w035, {"train": {"mode": "last-k", "last_k": 4}}),
    "mbv2-tte-sparse": (builder.mobilenetv2_w035, {"train": dict(builder.TTE_SPARSE_99KB)}),
    "mbv2-full": (builder.mobilenetv2_w035, {}),
}


@pytest.mark.parametrize("name", list(WORKLOADS))
@pytest.mark.parametrize("schedule", [True, False], ids=["scheduled", "unscheduled"])
def test_reference_workloads_within_two_percent(name: str, schedule: bool) -> None:
    import time

    from odtc.compiler.config import config_from_dict

    factory, data = WORKLOADS[name]
    pipeline = pipeline_string(config_from_dict(data)).split(",qtrain-plan-buffers")[0]
    if not schedule:
        pipeline = ",".join(p for p in pipeline.split(",") if not p.startswith("qtrain-schedule"))
    module = api.run_pipeline(factory(), pipeline)
    for fn in _funcs(module):
        bufs = buffers_of(fn)
        t0 = time.perf_counter()
        plan = plan_offsets(bufs, ALIGNMENT)
        seconds = time.perf_counter() - t0
        _check_valid(plan.offsets, bufs, ALIGNMENT)
        assert plan.arena <= 1.02 * plan.lower_bound, f"{name} @{fn.sym_name.data}: {plan.arena} vs {plan.lower_bound}"
        assert seconds < 5, f"{name} @{fn.sym_name.data}: planning took {seconds:.1f} s"


def test_lower_bound_of_nothing() -> None:
    assert lower_bound([], 8) == 0
    assert greedy_by_size([], 8) == {}
    assert plan_offsets([], 8).arena == 0


def test_greedy_reuses_memory_of_dead_buffers() -> None:
    """Two buffers that are never live together share offset 0: the arena is the larger one."""
    a = Buffer(ModuleOp([]), False, 100, 0, 3)
    b = Buffer(ModuleOp([]), False, 60, 4, 9)
    offsets = greedy_by_size([a, b], 8)
    assert offsets == {a: 0, b: 0}
    assert lower_bound([a, b], 8) == 104


# ---------------------------------------------------------------------------------------
# check_plan on a real module (mnist_cnn bufferized and planned)
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planned_cnn() -> ModuleOp:
    pipeline = pipeline_string(Config())
    suffix = ",convert-qtrain-to-c"
    assert pipeline.endswith(suffix)
    return api.run_pipeline(builder.mnist_cnn(), pipeline[: -len(suffix)])


def _funcs(module: ModuleOp) -> list[func.FuncOp]:
    return [o for o in module.ops if isinstance(o, func.FuncOp)]


def test_check_plan_accepts_the_planned_module(planned_cnn: ModuleOp) -> None:
    fns = _funcs(planned_cnn)
    assert {f.sym_name.data for f in fns} >= {"forward", "train_step"}
    for fn in fns:
        bufs = buffers_of(fn)
        assert bufs, fn.sym_name.data
        arena = check_plan(fn)
        assert _align(arena, ALIGNMENT) == fn.attributes["qtrain.arena_bytes"].value.data  # type: ignore[attr-defined]
        bound = lower_bound(bufs, ALIGNMENT)
        assert fn.attributes["qtrain.arena_lower_bound"].value.data == bound  # type: ignore[attr-defined]
        assert bound == brute_force_lower_bound(bufs, ALIGNMENT)
        assert _align(arena, ALIGNMENT) >= bound



def test_check_plan_rejects_an_overlap(planned_cnn: ModuleOp) -> None:
    module = planned_cnn.clone()
    fn = next(f for f in _funcs(module) if f.sym_name.data == "train_step")
    bufs = [b for b in buffers_of(fn) if b.size]
    pair = next(
        ((a, b) for i, a in enumerate(bufs) for b in bufs[i + 1 :] if _overlap_in_time(a, b)), None
    )
    assert pair is not None, "no two buffers of @train_step are live together"
    a, b = pair
    key_a = "qtrain.scratch_offset" if a.scratch else "qtrain.offset"
    key_b = "qtrain.scratch_offset" if b.scratch else "qtrain.offset"
    if a.op is b.op:  # a result and its own scratch: corrupt one key onto the other
        assert key_a != key_b
    b.op.attributes[key_b] = IntegerAttr(a.op.attributes[key_a].value.data, i64)  # type: ignore[attr-defined]
    with pytest.raises(PassFailedException, match="overlaps"):
        check_plan(fn)


def test_check_plan_rejects_a_missing_offset(planned_cnn: ModuleOp) -> None:
    module = planned_cnn.clone()
    fn = next(f for f in _funcs(module) if f.sym_name.data == "forward")
    b = next(b for b in buffers_of(fn) if not b.scratch)
    del b.op.attributes["qtrain.offset"]
    with pytest.raises(PassFailedException, match="has no qtrain.offset"):
        check_plan(fn)
