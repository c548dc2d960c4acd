"""Properties of qtrain-plan-buffers (passes/plan_buffers.py) on random lifetimes, and
check_plan on a real planned module.

Random schedules: 1..40 buffers, sizes 0..5000 bytes, live ranges [first, last] inside op
indices 0..40, alignments 1..16 (powers of two). For every schedule greedy_by_size must give

* aligned offsets;
* disjoint byte ranges for every two non-empty buffers whose live ranges intersect;
* an arena (max offset + size, rounded up to the alignment as the pass does) no smaller
  than lower_bound and no larger than the naive keep-everything sum of aligned sizes;

and lower_bound must equal the brute force max over time of the live aligned bytes.
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
from odtc.passes.plan_buffers import Buffer, buffers_of, check_plan, greedy_by_size, lower_bound

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


def test_lower_bound_of_nothing() -> None:
    assert lower_bound([], 8) == 0
    assert greedy_by_size([], 8) == {}


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
