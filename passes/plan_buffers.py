"""qtrain-plan-buffers: static offsets in one arena for every bufferized value.

Invariant established: every op with `qtrain.bytes` (and every `qtrain.scratch_bytes`) has a
`qtrain.offset` (`qtrain.scratch_offset`), a multiple of `alignment`, such that two buffers
whose live ranges intersect never overlap in memory; each function records
`qtrain.arena_bytes` and `qtrain.arena_lower_bound` (the largest total of simultaneously
live aligned bytes — no placement of this schedule can use less), and the module records the
largest arena of its functions (functions never run at the same time, so they share it).

Placement (plan_offsets): the best of several greedy placements — TFLite Micro's greedy
by size first, then by lifetime, start, conflicts and area, each with first and best fit —
improved by a seeded local search and, for small groups of buffers, an exact MILP
(scipy/HiGHS, node-limited); see the comment above _Component. Deterministic; never worse
than greedy by size, never below the bound. `check_plan` re-verifies the result and runs
again in the C lowering.

    %y = qtrain.relu %x {qtrain.bytes = 32, qtrain.live = [4, 7]}   →   ... qtrain.offset = 64 ...
"""

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, ModuleOp, i64
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from odtc.dialects import qtrain


MAX_ALIGNMENT = 16
"""The generated C declares the arena `_Alignas(16)`, so offsets may be aligned up to that."""


def _is_bufferized(fn: func.FuncOp) -> bool:
    """Every tensor-producing op except in-place loads carries an alias or a size."""
    for o in fn.body.block.ops:
        if isinstance(o, qtrain.LoadOp) or not o.results:
            continue
        if not any(k in o.attributes for k in ("qtrain.alias", "qtrain.inplace", "qtrain.bytes")):
            return False
    return True


@dataclass(frozen=True)
class Buffer:
    op: Operation
    scratch: bool
    size: int
    first: int
    last: int

    @property
    def label(self) -> str:
        return f"{self.op.name}{' scratch' if self.scratch else ''} (live {self.first}..{self.last})"


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _bytes(o: Operation, key: str) -> int | None:
    a = o.attributes.get(key)
    if a is None:
        return None
    if not isinstance(a, IntegerAttr) or int(a.value.data) < 0:
        raise PassFailedException(f"qtrain-plan-buffers: {o.name} has a malformed {key} (expected a non-negative integer)")
    return int(a.value.data)


def buffers_of(fn: func.FuncOp) -> list[Buffer]:
    """The buffers `qtrain-bufferize` annotated, validated."""
    out: list[Buffer] = []
    n_ops = len(list(fn.body.block.ops))
    for i, o in enumerate(fn.body.block.ops):
        size = _bytes(o, "qtrain.bytes")
        if size is not None:
            live = o.attributes.get("qtrain.live")
            if live is None:
                raise PassFailedException(f"qtrain-plan-buffers: {o.name} has qtrain.bytes but no qtrain.live")
            vals = live.get_values() if isinstance(live, DenseArrayBase) else ()
            if len(vals) != 2 or not (i <= int(vals[0]) <= int(vals[1]) < n_ops):
                raise PassFailedException(
                    f"qtrain-plan-buffers: {o.name} (op #{i}) has a malformed qtrain.live {live} "
                    f"(expected array<i64: first, last> with {i} <= first <= last < {n_ops})"
                )
            out.append(Buffer(o, False, size, int(vals[0]), int(vals[1])))
        scratch = _bytes(o, "qtrain.scratch_bytes")
        if scratch is not None:
            out.append(Buffer(o, True, scratch, i, i))
    return out


def lower_bound(buffers: list[Buffer], alignment: int) -> int:
    """Largest total of aligned sizes live at one op index."""
    if not buffers:
        return 0
    events: dict[int, int] = {}
    for b in buffers:
        events[b.first] = events.get(b.first, 0) + _align(b.size, alignment)
        events[b.last + 1] = events.get(b.last + 1, 0) - _align(b.size, alignment)
    best = cur = 0
    for t in sorted(events):
        cur += events[t]
        best = max(best, cur)
    return best


def bound_of_copy(fn: func.FuncOp, transform: Callable[[func.FuncOp], object], alignment: int) -> int:
    """The lower bound `fn` would have after `transform` and qtrain-bufferize{inplace=true},
    measured on a copy placed beside `fn` (so that symbol lookups, e.g. the scratch sizes of
    fused updates, still resolve) and removed again: `fn` is unchanged."""
    from odtc.passes.bufferize import bufferize_function  # bufferize does not import this module

    clone = fn.clone()
    parent = fn.parent_block()
    assert parent is not None
    parent.insert_op_after(clone, fn)
    try:
        transform(clone)
        bufferize_function(clone, True)
        return lower_bound(buffers_of(clone), alignment)
    finally:
        parent.erase_op(clone)


def greedy_by_size(buffers: list[Buffer], alignment: int) -> dict[Buffer, int]:
    """TFLite Micro's planner: largest first, each at the lowest offset that clears every
    time-overlapping buffer already placed. One of plan_offsets's candidates, and the
    baseline its property tests compare against."""
    placed: list[tuple[Buffer, int]] = []
    offsets: dict[Buffer, int] = {}
    for b in sorted(buffers, key=lambda b: (-b.size, b.first, b.last)):
        busy = sorted(
            (off, off + p.size) for p, off in placed if p.first <= b.last and b.first <= p.last and p.size
        )
        offset = 0
        for start, end in busy:
            if offset + b.size <= start:
                break
            offset = max(offset, _align(end, alignment))
        offsets[b] = offset
        placed.append((b, offset))
    return offsets


# --- the near-optimal planner -------------------------------------------------------------
#
# Work in units of `alignment` (a buffer of s bytes takes ceil(s / alignment) units), so
# every offset is aligned by construction and the arena is the highest end in units.
# Buffers whose live ranges never meet, directly or through a chain of others, do not
# interact, so the problem splits into the connected components of the time-overlap graph
# (the arena is the largest component arena) and each component is solved alone:
#   1. greedy placement under 5 orderings x 2 fits (first fit = lowest gap, best fit =
#      tightest gap); the first candidate is exactly greedy_by_size;
#   2. if the best is above the bound: a seeded local search over the best ordering (move a
#      buffer that touches the top to an earlier position, or swap two), keeping any order
#      that is no worse;
#   3. if still above the bound and the component is small: an exact MILP (scipy/HiGHS,
#      node-limited, never time-limited, so the result does not depend on the machine) that
#      either finds a smaller arena or proves the heuristic optimal for this schedule.
# Everything is deterministic: fixed orders, fixed seed, fixed iteration and node budgets.

EXACT_MAX_BUFFERS = 24
"""Components up to this many buffers (and EXACT_MAX_PAIRS overlapping pairs) get the MILP."""
EXACT_MAX_PAIRS = 150
EXACT_NODE_LIMIT = 500
SEARCH_WORK = 1_500_000
"""Local-search budget in neighbour visits (one placement visits every overlapping pair)."""
SEARCH_MAX_ITERATIONS = 400


@dataclass(frozen=True)
class Plan:
    """The offsets of every buffer, the arena they need (aligned bytes), the lower bound,
    which method found the placement and whether it is known optimal for this schedule
    (equal to the bound, or proven by the exact search)."""

    offsets: dict[Buffer, int]
    arena: int
    lower_bound: int
    method: str
    optimal: bool


class _Component:
    def __init__(self, items: list[Buffer], alignment: int) -> None:
        self.items = items
        self.units = [(b.size + alignment - 1) // alignment for b in items]
        n = len(items)
        nbrs: list[list[int]] = [[] for _ in range(n)]
        by_first = sorted(range(n), key=lambda i: (items[i].first, i))
        active: list[int] = []
        for i in by_first:
            f = items[i].first
            active = [j for j in active if items[j].last >= f]
            for j in active:
                nbrs[i].append(j)
                nbrs[j].append(i)
            active.append(i)
        self.nbrs = nbrs
        self.pairs = sum(len(x) for x in nbrs) // 2
        events: dict[int, int] = {}
        for b, u in zip(items, self.units):
            events[b.first] = events.get(b.first, 0) + u
            events[b.last + 1] = events.get(b.last + 1, 0) - u
        cur = lb = 0
        for t in sorted(events):
            cur += events[t]
            lb = max(lb, cur)
        self.lower_bound = lb

    def orderings(self) -> list[tuple[str, list[int]]]:
        it, u = self.items, self.units
        n = len(it)
        conflict = [u[i] + sum(u[j] for j in self.nbrs[i]) for i in range(n)]
        keys: list[tuple[str, Callable[[int], tuple[int, ...]]]] = [
            ("size", lambda i: (-it[i].size, it[i].first, it[i].last, i)),
            ("lifetime", lambda i: (it[i].first - it[i].last, -u[i], it[i].first, i)),
            ("start", lambda i: (it[i].first, -u[i], -it[i].last, i)),
            ("conflicts", lambda i: (-conflict[i], -u[i], it[i].first, i)),
            ("area", lambda i: (-u[i] * (it[i].last - it[i].first + 1), -u[i], it[i].first, i)),
        ]
        return [(name, sorted(range(n), key=key)) for name, key in keys]

    def place(self, order: list[int], best_fit: bool = False) -> tuple[list[int], int]:
        u, nbrs = self.units, self.nbrs
        off = [-1] * len(u)
        top = 0
        for i in order:
            busy = sorted((off[j], off[j] + u[j]) for j in nbrs[i] if off[j] >= 0)
            need = u[i]
            o = 0
            if best_fit:
                best_gap: tuple[int, int] | None = None  # (gap length, offset)
                for s, e in busy:
                    if s - o >= need and (best_gap is None or s - o < best_gap[0]):
                        best_gap = (s - o, o)
                    o = max(o, e)
                if best_gap is not None:
                    o = best_gap[1]
            else:
                for s, e in busy:
                    if o + need <= s:
                        break
                    o = max(o, e)
            off[i] = o
            top = max(top, o + need)
        return off, top

    def valid(self, off: list[int]) -> bool:
        u = self.units
        return all(
            off[i] >= 0 and (off[i] + u[i] <= off[j] or off[j] + u[j] <= off[i])
            for i in range(len(u)) for j in self.nbrs[i] if i < j
        )

    def solve(self, target: int) -> tuple[list[int], int, str, bool]:
        """Offsets (units), arena (units), method, proven optimal."""
        best: tuple[list[int], int, str, list[int]] | None = None
        for name, order in self.orderings():
            for best_fit in (False, True):
                off, top = self.place(order, best_fit)
                if best is None or top < best[1]:
                    best = (off, top, f"{name}/{'best' if best_fit else 'first'}-fit", order)
                if best[1] <= max(target, self.lower_bound):
                    return best[0], best[1], best[2], best[1] <= self.lower_bound
        assert best is not None
        off, top, method, order = best
        goal = max(target, self.lower_bound)
        if top > goal:
            off2, top2, order2 = self._local_search(order, off, top, goal)
            if top2 < top:
                off, top, method = off2, top2, "local-search"
        proven = top <= self.lower_bound
        if top > goal and len(self.items) <= EXACT_MAX_BUFFERS and self.pairs <= EXACT_MAX_PAIRS:
            exact = self._exact(top)
            if exact is not None:
                off3, top3, proven = exact
                if top3 < top:
                    off, top, method = off3, top3, "exact"
                elif proven:
                    method += " (optimal)"
        return off, top, method, proven

    def _local_search(
        self, order: list[int], off: list[int], top: int, goal: int
    ) -> tuple[list[int], int, list[int]]:
        import random

        n = len(order)
        rng = random.Random(0x0D7C + n)
        work = max(1, n + 2 * self.pairs)
        iterations = min(SEARCH_MAX_ITERATIONS, max(20, SEARCH_WORK // work))
        cur_order, cur_off, cur_top = list(order), off, top
        best_order, best_off, best_top = cur_order, cur_off, cur_top
        for _ in range(iterations):
            cand = list(cur_order)
            if rng.random() < 0.7:
                critical = [k for k, i in enumerate(cand) if cur_off[i] + self.units[i] == cur_top]
                k = rng.choice(critical)
                dest = rng.randrange(0, k + 1) if k else 0
                cand.insert(dest, cand.pop(k))
            else:
                a, b = rng.randrange(n), rng.randrange(n)
                cand[a], cand[b] = cand[b], cand[a]
            new_off, new_top = self.place(cand, best_fit=False)
            if new_top <= cur_top:
                cur_order, cur_off, cur_top = cand, new_off, new_top
                if new_top < best_top:
                    best_order, best_off, best_top = cand, new_off, new_top
                    if best_top <= goal:
                        break
        return best_off, best_top, best_order

    def _exact(self, upper: int) -> tuple[list[int], int, bool] | None:
        """Minimise the arena below `upper` (units): (offsets, arena, proven optimal), or
        None when the solver gives nothing usable within its node budget."""
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp

        n = len(self.items)
        u = self.units
        pairs = [(i, j) for i in range(n) for j in self.nbrs[i] if i < j]
        m = len(pairs)
        nv = n + 1 + m  # offsets, arena, one order bit per pair
        big = upper
        rows: list[np.ndarray] = []
        ub: list[float] = []
        for k, (i, j) in enumerate(pairs):
            # z = 1: i below j (o_i + u_i <= o_j); z = 0: j below i (o_j + u_j <= o_i)
            r = np.zeros(nv)
            r[i], r[j], r[n + 1 + k] = 1, -1, big
            rows.append(r)
            ub.append(big - u[i])
            r = np.zeros(nv)
            r[j], r[i], r[n + 1 + k] = 1, -1, -big
            rows.append(r)
            ub.append(-u[j])
        for i in range(n):
            r = np.zeros(nv)
            r[i], r[n] = 1, -1
            rows.append(r)
            ub.append(-u[i])
        c = np.zeros(nv)
        c[n] = 1
        lo = np.zeros(nv)
        hi = np.array([upper - 1 - u[i] for i in range(n)] + [upper - 1] + [1] * m, dtype=float)
        lo[n] = max(self.lower_bound, max(u))
        if np.any(hi < lo):
            return None
        res = milp(
            c,
            integrality=np.ones(nv),
            bounds=Bounds(lo, hi),  # type: ignore[arg-type]  # scipy's stubs say float; arrays are documented
            constraints=LinearConstraint(np.array(rows), -np.inf, np.array(ub)),  # type: ignore[arg-type]
            options={"node_limit": EXACT_NODE_LIMIT, "presolve": True},
        )
        if res.status == 2:  # infeasible: nothing below `upper` exists
            return [], upper, True
        if res.x is None:
            return None
        off = [int(round(v)) for v in res.x[:n]]
        if not self.valid(off):
            return None
        top = max(o + s for o, s in zip(off, u))
        return off, top, res.status == 0


def _components(buffers: list[Buffer]) -> list[list[Buffer]]:
    """Groups of buffers connected by overlapping live ranges, in time order."""
    out: list[list[Buffer]] = []
    end = -1
    for b in sorted(buffers, key=lambda b: (b.first, b.last)):
        if not out or b.first > end:
            out.append([])
        out[-1].append(b)
        end = max(end, b.last)
    return out


def plan_offsets(buffers: list[Buffer], alignment: int) -> Plan:
    """Place every buffer (see the comment above _Component); never worse than
    greedy_by_size, never below lower_bound."""
    offsets: dict[Buffer, int] = {b: 0 for b in buffers if not b.size}
    live = [b for b in buffers if b.size]
    comps = [_Component(c, alignment) for c in _components(live)]
    target = max((c.lower_bound for c in comps), default=0)
    arena_units = 0
    methods: list[str] = []
    optimal = True
    solved: list[tuple[_Component, list[int], int, str, bool]] = []
    for comp in comps:
        off, top, method, proven = comp.solve(target)
        solved.append((comp, off, top, method, proven))
        arena_units = max(arena_units, top)
    for comp, off, top, method, proven in solved:
        for b, o in zip(comp.items, off):
            offsets[b] = o * alignment
        if top == arena_units:
            methods.append(method)
            optimal = optimal and proven
    bound = lower_bound(buffers, alignment)
    arena = arena_units * alignment
    return Plan(offsets, arena, bound, methods[0] if methods else "empty", optimal or arena == bound)


def check_plan(fn: func.FuncOp) -> int:
    """Verify offsets exist and time-overlapping buffers are disjoint; returns the arena size."""
    entries: list[tuple[Buffer, int]] = []
    for b in buffers_of(fn):
        key = "qtrain.scratch_offset" if b.scratch else "qtrain.offset"
        off = b.op.attributes.get(key)
        if off is None:
            raise PassFailedException(f"qtrain-plan-buffers: {b.label} in @{fn.sym_name.data} has no {key}")
        entries.append((b, int(off.value.data)))  # type: ignore[attr-defined]
    arena = 0
    for i, (a, oa) in enumerate(entries):
        arena = max(arena, oa + a.size)
        for b, ob in entries[i + 1 :]:
            if a.size and b.size and a.first <= b.last and b.first <= a.last and oa < ob + b.size and ob < oa + a.size:
                raise PassFailedException(
                    f"qtrain-plan-buffers: in @{fn.sym_name.data}, {a.label} at [{oa}, {oa + a.size}) overlaps "
                    f"{b.label} at [{ob}, {ob + b.size}) while both are live"
                )
    return arena


@dataclass(frozen=True)
class PlanBuffersPass(ModulePass):
    name = "qtrain-plan-buffers"

    alignment: int = 8
    """Byte alignment of every buffer (8: enough for float, int32 and the SIMD loads)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.alignment < 1 or self.alignment & (self.alignment - 1) or self.alignment > MAX_ALIGNMENT:
            raise PassFailedException(
                f"qtrain-plan-buffers: alignment must be a power of two up to {MAX_ALIGNMENT}, got {self.alignment}"
            )
        module_arena = 0
        for fn in op.ops:
            if not isinstance(fn, func.FuncOp):
                continue
            if not _is_bufferized(fn):
                raise PassFailedException(
                    f"qtrain-plan-buffers: @{fn.sym_name.data} is not bufferized (run qtrain-bufferize first)"
                )
            buffers = buffers_of(fn)
            plan = plan_offsets(buffers, self.alignment)
            for b, off in plan.offsets.items():
                key = "qtrain.scratch_offset" if b.scratch else "qtrain.offset"
                b.op.attributes[key] = IntegerAttr(off, i64)
            arena = _align(check_plan(fn), self.alignment)
            fn.attributes["qtrain.arena_bytes"] = IntegerAttr(arena, i64)
            fn.attributes["qtrain.arena_lower_bound"] = IntegerAttr(plan.lower_bound, i64)
            module_arena = max(module_arena, arena)
        op.attributes["qtrain.arena_bytes"] = IntegerAttr(module_arena, i64)
