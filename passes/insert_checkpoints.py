"""qtrain-insert-checkpoints: recompute saved activations in the backward pass so that the
training step's memory peak fits a budget, with the fewest recomputed MACs.

Invariant established: the peak of `@train_step` (the largest total of simultaneously live
arena bytes, counted as qtrain-bufferize sizes and ranges the buffers and plan-buffers'
`lower_bound` adds them, 8-byte aligned) is at most `budget-bytes`, and no other choice in
the search space below meets the budget with fewer recomputed MACs. A recomputed forward
value gets its own copy in the backward pass: the pure forward ops that produce it,
cloned from the nearest kept values (or parameters, or the input) right before its first
backward reader and marked `qtrain.recompute`; the backward readers use the copy and the
original dies at its last forward reader. The function records `qtrain.recompute_macs`
and `qtrain.peak_estimate_bytes`.

    %a = qtrain.relu %h                       %a = qtrain.relu %h
    ...                                       ...
    %dw = qtrain.dense_grad_weight %a, %dy    %h1 = qtrain.dense %x, %w1 {qtrain.recompute}
                                              %a1 = qtrain.relu %h1 {qtrain.recompute}
                                              %dw = qtrain.dense_grad_weight %a1, %dy

Peak model. The estimate is exact for the IR this pass emits: for every choice the pass
builds the op sequence it would emit and applies qtrain-bufferize's rules to it (tested
against bufferize itself). qtrain-schedule runs later and never raises a peak, so the
memory report's `lower_bound_bytes` is at most the estimate; the planner's arena can lie
slightly above the lower bound (its target is 1.02x), and the budget is on the lower bound.
Cost is counted in MACs (conv2d/dense and their quantized forms), ties going to fewer
recomputed elements.

Orders. If the function meets the budget as it is (in-place buffers counted as the driver's
`qtrain-bufferize{inplace=true}` does), nothing changes; if it meets it in qtrain-schedule's
order (with schedule-base), or — with `fuse=true`, the driver's setting — after plain
qtrain-fuse-updates (the driver fuses in recompute mode before this pass, which leaves some
gradients unfused), in either order, the smallest of those is applied and nothing is
recomputed (the model below does not know in-place buffers, so for a quantized step with
streamed accumulators it can lie far above: the paper's VAE, u8, is 19,704 B scheduled
against a modelled best of 25,112 B; the MNIST CNN fp32 step is 18,824 B plainly fused
against 20,296 B). Otherwise the search
starts from the function's order with every optimizer update moved right after the op
completing its gradient (and after every reader of the parameter's loaded value), and
from qtrain-schedule's order of it (which also delays a large weight gradient until the
activations below it are freed: something recomputation alone cannot do); the better
result is emitted, in its order. `schedule-base=false` searches only the first.

Choices. The candidates are the forward values the backward reads (roots through
reshape/flatten; parameters and arguments are not arena buffers). Each is KEEP, FRESH
(recomputed right before its first backward reader; copies of other recomputed values
made on the way are temporary) or RETAIN (as FRESH, but a copy made on the way to a deeper
value is kept for its own backward readers: a run of RETAIN values between checkpoints is
recomputed once, segment by segment, as in Chen et al. 2016). A value computed from a
parameter that is written before its copy would run (a bias updated early in
qtrain-schedule's order) is never recomputed, and forward values the backward does not
read are never kept (Checkmate's full space also keeps those, and moves the copies).

Search.
  * Chains (each candidate computed from the previous one alone, with nested live ranges:
    plain CNNs and MLPs, up to DP_MAX_CANDIDATES) get an exact dynamic program over the
    checkpoint positions with one mode (FRESH or RETAIN) per segment: the peak splits
    into rings between consecutive checkpoints, each depending only on the kept bytes
    below it and its own segment (Pareto states over kept bytes and cost).
  * Other graphs (residual adds) get an integer program (scipy.optimize.milp / HiGHS):
    a binary keep/recompute (FRESH) per candidate, exact MACs through per-(value, op)
    clone indicators, and linear peak constraints at every op of the fixed order plus
    lower bounds on each recomputation burst. Those constraints are a relaxation: they
    leave out a kept value living longer because a copy reads it late, and copies not
    adjacent to the op being copied. So each answer is checked with the exact model and
    cut off if it is over budget; the first that passes is optimal (within keep/FRESH).
  * When the program times out (ILP_TIME_LIMIT seconds) or the graph is too big, a greedy
    pass recomputes, one at a time, the kept value with the most peak bytes saved per
    MAC recomputed until the budget holds: feasible, not necessarily optimal.
  An infeasible budget fails with the smallest peak found (exact for chains and when the
  program finishes; otherwise the best of recomputing everything, FRESH or RETAIN), or the
  in-place peak of one of the no-recomputation variants above where that is smaller.

`strategy=sqrt` keeps about sqrt(L) evenly spaced checkpoints of the L candidates and
recomputes the segments between them once (RETAIN); the budget, if given, is only checked.
`strategy=none`, or budget-bytes=0 with strategy=budget, leaves the function alone.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Any

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, TensorType, UnitAttr, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from odtc.dialects import qtrain
from odtc.passes.bufferize import ALIASING, bufferize_function, scratch_bytes, written_symbols
from odtc.passes.plan_buffers import bound_of_copy, buffers_of, lower_bound
from odtc.passes.prune_frozen_backward import LOSSES, SIDE_EFFECTS, annotate_saved, tensor_bytes
from odtc.passes.fuse_updates import fuse_block
from odtc.passes.schedule import schedule_block

NAME = "qtrain-insert-checkpoints"
RECOMPUTE = "qtrain.recompute"
ALIGNMENT = 8
"""The pipeline's qtrain-plan-buffers alignment; the memory report's lower bound uses it too."""
ILP_TIME_LIMIT = 5.0
"""Seconds for the integer program (all its rounds) before the greedy fallback."""
ILP_MAX_PAIRS = 60_000
"""Clone indicators (candidate, op) above which the graph is "too big" for the program."""
DP_MAX_CANDIDATES = 40
"""The dynamic program evaluates O(L^2) segments; longer chains go to the integer program."""

KEEP, FRESH, RETAIN = "keep", "fresh", "retain"
Modes = dict[int, str]
UPDATES = (qtrain.SgdUpdateOp, qtrain.MomentumUpdateOp, qtrain.AdamUpdateOp)
MAC_OPS = (qtrain.Conv2dOp, qtrain.QConv2dOp, qtrain.DenseOp, qtrain.QDenseOp)


def _fail(msg: str) -> PassFailedException:
    return PassFailedException(f"{NAME}: {msg}")


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def op_macs(op: Operation) -> int:
    """Multiply-accumulates of one forward op (conv2d/dense and quantized forms; 0 otherwise)."""
    if not isinstance(op, MAC_OPS):
        return 0
    out = qtrain.tensor_shape(op.results[0])
    w = qtrain.tensor_shape(op.weight)
    return prod(out) * prod(w[1:])


# -----------------------------------------------------------------------------------------
# The function as a graph of abstract ops
# -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    op: Operation
    operands: tuple[int, ...]
    result: int | None
    """The single tensor result (None: no result, several, or not a tensor)."""
    alias: bool
    load_sym: str | None
    writes: frozenset[str]
    size: int
    """Bytes qtrain-bufferize gives the result."""
    scratch: int
    macs: int
    elems: int
    cloneable: bool


@dataclass
class Candidate:
    value: int
    define: int
    last_fwd: int
    first_bwd: int
    last_bwd: int
    size: int
    """Aligned bytes."""
    bwd_values: list[int]
    """The value and its aliases, as backward ops read them."""
    recomputable: bool = True


@dataclass(frozen=True)
class Step:
    node: int
    clone: bool
    operands: tuple[int, ...]
    result: int | None
    anchor: float
    """Node index; a clone is at (first backward reader) - 0.5."""
    owner: int | None
    """The candidate whose recomputation made this clone."""
    root: int | None = None
    """For a clone: the value whose buffer its result is (itself, or an alias's source)."""


@dataclass(frozen=True)
class Evaluation:
    peak: int
    macs: int
    elems: int
    live: list[int]

    @property
    def cost(self) -> tuple[int, int]:
        return (self.macs, self.elems)


class Graph:
    """@train_step's ops in a given order, with the candidates and their live ranges."""

    def __init__(self, ops: Sequence[Operation], args: Sequence[SSAValue]) -> None:
        self.values: list[SSAValue] = []
        self.vid: dict[SSAValue, int] = {}
        for a in args:
            self._value(a)
        self.nodes: list[Node] = []
        self.producer: dict[int, int] = {}
        loss = next((o for o in ops if isinstance(o, LOSSES)), None)
        if loss is None:
            raise _fail("@train_step has no loss (run qtrain-autodiff first)")
        # The forward pass: the loss and every op it depends on, wherever the order puts
        # them (a scheduled order may interleave them with backward ops).
        self.forward: set[int] = set()
        index = {o: i for i, o in enumerate(ops)}
        todo: list[Operation] = [loss]
        while todo:
            o = todo.pop()
            if index[o] in self.forward:
                continue
            self.forward.add(index[o])
            todo.extend(v.owner for v in o.operands if isinstance(v.owner, Operation) and v.owner in index)
        for i, o in enumerate(ops):
            operands = tuple(self._value(v) for v in o.operands)
            for r in o.results:
                self.producer[self._value(r)] = i
            single = len(o.results) == 1 and isinstance(o.results[0].type, TensorType)
            result = self.vid[o.results[0]] if single else None
            size = 0
            elems = 0
            if single:
                t = o.results[0].type
                assert isinstance(t, TensorType)
                elems = prod(t.get_shape())
                size = max(tensor_bytes(t), 1) if elems else 0
            load_sym = o.symbol.root_reference.data if isinstance(o, qtrain.LoadOp) else None
            cloneable = (
                i in self.forward and single and load_sym is None and not isinstance(o, SIDE_EFFECTS + LOSSES)
                and not o.regions and not written_symbols(o)
            )
            self.nodes.append(
                Node(o, operands, result, isinstance(o, ALIASING), load_sym, frozenset(written_symbols(o)),
                     size, scratch_bytes(o), op_macs(o) if cloneable else 0, elems, cloneable)
            )
        self.root: list[int] = list(range(len(self.values)))
        for i, n in enumerate(self.nodes):
            if n.alias and n.result is not None:
                self.root[n.result] = self.root[n.operands[0]]
        self.n_values = len(self.values)
        self._find_candidates()

    def _value(self, v: SSAValue) -> int:
        if v not in self.vid:
            self.vid[v] = len(self.values)
            self.values.append(v)
        return self.vid[v]

    def _find_candidates(self) -> None:
        readers: dict[int, list[tuple[int, int]]] = {}
        for i, n in enumerate(self.nodes):
            for v in n.operands:
                readers.setdefault(self.root[v], []).append((i, v))
        self.cands: dict[int, Candidate] = {}
        for i, n in enumerate(self.nodes):
            v = n.result
            if i not in self.forward or v is None or n.alias or n.load_sym is not None or isinstance(n.op, LOSSES):
                continue
            uses = readers.get(v, [])
            bwd = [(j, u) for j, u in uses if j not in self.forward]
            if not bwd:
                continue
            fwd = [j for j, _ in uses if j in self.forward]
            self.cands[v] = Candidate(
                v, i, max(fwd, default=i), min(j for j, _ in bwd), max(j for j, _ in bwd), _align(n.size),
                sorted({u for _, u in bwd}, key=lambda u: self.producer[u]),
            )
        self.order = sorted(self.cands, key=lambda c: self.cands[c].define)
        # A candidate can be recomputed when every op between it and the nearest values
        # that must stay (arguments, parameters, candidates that cannot be recomputed) is
        # a pure forward op, and no parameter it reads is written before the copy runs.
        writes_at: dict[str, list[int]] = {}
        for i, n in enumerate(self.nodes):
            for s in n.writes:
                writes_at.setdefault(s, []).append(i)
        for c in self.order:
            cand = self.cands[c]
            ok = True
            seen: set[int] = set()
            todo = [c]
            while todo and ok:
                v = todo.pop()
                if v in seen:
                    continue
                seen.add(v)
                p = self.producer.get(v)
                if p is None:
                    continue
                n = self.nodes[p]
                if n.load_sym is not None:
                    ok = not any(w < cand.first_bwd for w in writes_at.get(n.load_sym, ()))
                    continue
                r = self.root[v]
                if v != c and r in self.cands and not self.cands[r].recomputable and not n.alias:
                    continue
                if not n.cloneable:
                    ok = False
                    break
                todo.extend(n.operands)
            cand.recomputable = ok

    # -- plans -------------------------------------------------------------------------

    def plan(self, modes: Modes) -> list[Step]:
        """The op sequence this pass would emit for `modes` (candidate -> KEEP/FRESH/RETAIN;
        missing ones are kept)."""
        bursts: dict[int, list[int]] = {}
        for c in self.order:
            if modes.get(c, KEEP) != KEEP:
                bursts.setdefault(self.cands[c].first_bwd, []).append(c)
        retained: dict[int, int] = {}
        rewire: dict[int, int] = {}
        steps: list[Step] = []
        next_id = [self.n_values]
        root_of_new: dict[int, int] = {}

        def kept(v: int) -> bool:
            return v in self.cands and modes.get(v, KEEP) == KEEP

        for i, node in enumerate(self.nodes):
            for w in bursts.get(i, ()):
                memo: dict[int, int] = {}

                def mat(v: int, w: int = w, anchor: float = i - 0.5, memo: dict[int, int] = memo) -> int:
                    if v in memo:
                        return memo[v]
                    p = self.producer.get(v)
                    if p is None or p not in self.forward:
                        return v
                    n = self.nodes[p]
                    if n.load_sym is not None:
                        return v
                    if n.alias:
                        src = mat(n.operands[0])
                        if src == n.operands[0]:
                            return v
                        new = next_id[0]
                        next_id[0] += 1
                        root_of_new[new] = root_of_new[src] if src in root_of_new else self.root[src]
                        steps.append(Step(p, True, (src, *n.operands[1:]), new, anchor, w, root_of_new[new]))
                        memo[v] = new
                        return new
                    if kept(v):
                        return v
                    if v in retained:
                        return retained[v]
                    if not n.cloneable:
                        raise _fail(f"internal: {n.op.name} cannot be recomputed")
                    operands = tuple(mat(u) for u in n.operands)
                    new = next_id[0]
                    next_id[0] += 1
                    root_of_new[new] = new
                    steps.append(Step(p, True, operands, new, anchor, w, new))
                    memo[v] = new
                    if modes.get(v) == RETAIN:
                        retained[v] = new
                    return new

                for u in self.cands[w].bwd_values:
                    rewire[u] = mat(u)
            operands = node.operands
            if i not in self.forward:
                operands = tuple(rewire.get(v, v) for v in operands)
            steps.append(Step(i, False, operands, node.result, float(i), None))
        return steps

    def evaluate(self, modes: Modes) -> Evaluation:
        return self.evaluate_plan(self.plan(modes))

    def evaluate_plan(self, steps: list[Step]) -> Evaluation:
        """qtrain-bufferize's live ranges and plan-buffers' lower bound, on `steps`."""
        root = self.root
        new_roots = {s.result: s.root for s in steps if s.clone and s.result is not None and s.root is not None}

        def root_of(v: int) -> int:
            return root[v] if v < self.n_values else new_roots[v]

        n = len(steps)
        last_use: dict[int, int] = {}
        writes: dict[str, list[int]] = {}
        for k, s in enumerate(steps):
            for v in s.operands:
                last_use[root_of(v)] = k
            for sym in self.nodes[s.node].writes:
                writes.setdefault(sym, []).append(k)
        delta = [0] * (n + 1)
        macs = elems = 0
        for k, s in enumerate(steps):
            node = self.nodes[s.node]
            if s.clone:
                macs += node.macs
                elems += node.elems
            if node.alias:
                continue
            if node.scratch:
                delta[k] += _align(node.scratch)
                delta[k + 1] -= _align(node.scratch)
            if s.result is None:
                continue
            last = last_use.get(s.result, k)
            if node.load_sym is not None and not any(k < w < last for w in writes.get(node.load_sym, ())):
                continue
            delta[k] += _align(node.size)
            delta[last + 1] -= _align(node.size)
        live: list[int] = []
        cur = 0
        for k in range(n):
            cur += delta[k]
            live.append(cur)
        return Evaluation(max(live, default=0), macs, elems, live)

    # -- structure -----------------------------------------------------------------------

    def frontier(self, c: int) -> set[int]:
        """Candidates a copy of `c` reads when everything in between is recomputed."""
        out: set[int] = set()
        seen: set[int] = set()
        p = self.producer[c]
        todo = list(self.nodes[p].operands)
        while todo:
            v = todo.pop()
            if v in seen:
                continue
            seen.add(v)
            r = self.root[v]
            if r in self.cands:
                out.add(r)
                continue
            q = self.producer.get(v)
            if q is None or self.nodes[q].load_sym is not None:
                continue
            todo.extend(self.nodes[q].operands)
        return out

    def is_chain(self) -> bool:
        """Each candidate read (through non-candidates) only from the previous one, live
        ranges nested, and each value's first backward reader after the next one's last:
        the ring decomposition the dynamic program relies on holds."""
        cs = [self.cands[c] for c in self.order]
        if not cs:
            return False
        for j, c in enumerate(self.order):
            if self.frontier(c) != ({self.order[j - 1]} if j else set()):
                return False
        return all(
            a.last_fwd < b.last_fwd and b.last_bwd < a.last_bwd and a.first_bwd > b.last_bwd
            for a, b in zip(cs, cs[1:])
        )


# -----------------------------------------------------------------------------------------
# Searches. Each returns modes, or None when the budget cannot be met.
# -----------------------------------------------------------------------------------------


@dataclass
class ChainDP:
    """Exact dynamic program over checkpoint positions for chains."""

    g: Graph
    local: dict[tuple[int, int, str], tuple[int, tuple[int, int]]] = field(default_factory=dict)
    base: int = 0

    def __post_init__(self) -> None:
        g = self.g
        order = g.order
        n = len(order)
        cs = [g.cands[c] for c in order]
        # ring intervals: I_j = [last_fwd_j, last_bwd_j] (1-based j), I_{n+1} empty
        full = g.plan({})
        ev = g.evaluate_plan(full)
        lo, hi = cs[0].last_fwd, cs[0].last_bwd
        self.base = max((ev.live[k] for k, s in enumerate(full) if not lo <= s.anchor <= hi), default=0)
        for a in range(n + 1):
            for b in range(a + 1, n + 2):
                interior = order[a : b - 1]
                if not all(g.cands[c].recomputable for c in interior):
                    continue
                for mode in (FRESH, RETAIN) if len(interior) > 1 else (FRESH,):
                    if a == n:  # I_{n+1} is empty: the last transition has no ring
                        self.local[(a, b, mode)] = (-(1 << 62), (0, 0))
                        continue
                    modes: Modes = {}
                    below = 0
                    for j in range(a - 1):
                        c = order[j]
                        modes[c] = FRESH if g.cands[c].recomputable else KEEP
                        if modes[c] == KEEP:
                            below += cs[j].size
                    if a >= 1:
                        below += cs[a - 1].size
                    for c in interior:
                        modes[c] = mode
                    steps = g.plan(modes)
                    e = g.evaluate_plan(steps)
                    in_lo, in_hi = cs[a].last_fwd, cs[a].last_bwd
                    out = (cs[b].last_fwd, cs[b].last_bwd) if b < n else None
                    peak = 0
                    macs = elems = 0
                    inside = set(interior)
                    for k, s in enumerate(steps):
                        if s.clone and s.owner in inside:
                            node = g.nodes[s.node]
                            macs += node.macs
                            elems += node.elems
                        if not in_lo <= s.anchor <= in_hi:
                            continue
                        if out is not None and out[0] <= s.anchor <= out[1]:
                            continue
                        peak = max(peak, e.live[k])
                    self.local[(a, b, mode)] = (peak - below, (macs, elems))

    def solve(self, budget: int | None) -> tuple[Modes, int] | None:
        """Fewest MACs (then recomputed elements, then peak) with peak <= budget, or
        (budget None) the smallest peak, then fewest MACs. Returns (modes, predicted peak)."""
        g = self.g
        order = g.order
        n = len(order)
        # per checkpoint position a: Pareto states (kept bytes S up to a, objective, path)
        states: dict[int, list[_State]] = {0: [_State(0, (0, 0), self.base, ())]}
        best: _State | None = None
        for a in range(n + 1):
            for st in states.get(a, []):
                for b in range(a + 1, n + 2):
                    for mode in (FRESH, RETAIN):
                        entry = self.local.get((a, b, mode))
                        if entry is None:
                            continue
                        local, (macs, elems) = entry
                        peak = max(st.peak, st.kept + local)
                        if budget is not None and peak > budget:
                            continue
                        kept = st.kept + (g.cands[order[b - 1]].size if b <= n else 0)
                        new = _State(kept, (st.cost[0] + macs, st.cost[1] + elems), peak, (*st.path, (a, b, mode)))
                        if b == n + 1:
                            if best is None or new.rank(budget) < best.rank(budget):
                                best = new
                            continue
                        bucket = states.setdefault(b, [])
                        if any(o.dominates(new, budget) for o in bucket):
                            continue
                        bucket[:] = [o for o in bucket if not new.dominates(o, budget)]
                        bucket.append(new)
        if best is None:
            return None
        modes: Modes = {}
        for a, b, mode in best.path:
            if b <= n:
                modes[order[b - 1]] = KEEP
            for c in order[a : b - 1]:
                modes[c] = mode
        return modes, best.peak


@dataclass(frozen=True)
class _State:
    kept: int
    """Aligned bytes of the checkpoints so far: they are live in every later ring."""
    cost: tuple[int, int]
    peak: int
    path: tuple[tuple[int, int, str], ...]

    def rank(self, budget: int | None) -> tuple[int, ...]:
        return (*self.cost, self.peak) if budget is not None else (self.peak, *self.cost)

    def dominates(self, other: "_State", budget: int | None) -> bool:
        """Every completion of `other` is feasible for self and ends no better. Later rings
        add `kept` to their local peak, so fewer kept bytes never hurt."""
        if self.kept > other.kept:
            return False
        if budget is not None:
            return self.cost < other.cost or (self.cost == other.cost and self.peak <= other.peak)
        return self.peak <= other.peak and self.cost <= other.cost


def brute_force(g: Graph, budget: int | None, modes_per_segment: bool = True) -> tuple[Modes, Evaluation] | None:
    """Every keep-subset (and, with `modes_per_segment`, FRESH or RETAIN for each run of
    recomputed values between checkpoints), evaluated exactly. For tests and tiny graphs."""
    order = [c for c in g.order if g.cands[c].recomputable]
    best: tuple[Modes, Evaluation] | None = None
    for mask in range(1 << len(order)):
        kept = {c for k, c in enumerate(order) if mask >> k & 1}
        runs: list[list[int]] = []
        cur: list[int] = []
        for c in g.order:
            if c in kept or not g.cands[c].recomputable:
                if cur:
                    runs.append(cur)
                cur = []
            else:
                cur.append(c)
        if cur:
            runs.append(cur)
        multi = [r for r in runs if len(r) > 1] if modes_per_segment else []
        for sel in range(1 << len(multi)):
            modes: Modes = {c: KEEP for c in g.order if c in kept or not g.cands[c].recomputable}
            for r in runs:
                for c in r:
                    modes[c] = FRESH
            for k, r in enumerate(multi):
                if sel >> k & 1:
                    for c in r:
                        modes[c] = RETAIN
            e = g.evaluate(modes)
            if budget is not None and e.peak > budget:
                continue
            key = (e.macs, e.elems, e.peak) if budget is not None else (e.peak, e.macs, e.elems)
            if best is None:
                best = (modes, e)
                continue
            b = best[1]
            bkey = (b.macs, b.elems, b.peak) if budget is not None else (b.peak, b.macs, b.elems)
            if key < bkey:
                best = (modes, e)
    return best


def greedy(g: Graph, budget: int) -> Modes | None:
    """Recompute (FRESH), one at a time, the kept activation with the most peak bytes saved
    per MAC recomputed, until the budget holds. When no single one lowers the peak (two ops
    peak alike), the one with the most bytes per MAC goes."""
    modes: Modes = {c: KEEP for c in g.order}
    cur = g.evaluate(modes)
    while cur.peak > budget:
        best: tuple[tuple[int, float, int], int, Evaluation] | None = None
        for c in g.order:
            if modes[c] != KEEP or not g.cands[c].recomputable:
                continue
            e = g.evaluate({**modes, c: FRESH})
            saved = cur.peak - e.peak
            work = max(e.macs - cur.macs, 0) + 1
            key = (1, saved / work, -c) if saved > 0 else (0, (g.cands[c].size if saved == 0 else saved) / work, -c)
            if best is None or key > best[0]:
                best = (key, c, e)
        if best is None:
            return None
        modes[best[1]] = FRESH
        cur = best[2]
    return modes


class ILP:
    """Binary keep/recompute (FRESH) program, solved with cuts against the exact evaluator."""

    def __init__(self, g: Graph) -> None:
        from scipy import sparse

        self.sparse = sparse
        self.g = g
        self.vars = [c for c in g.order if g.cands[c].recomputable]
        self.xi = {c: k for k, c in enumerate(self.vars)}
        nx = len(self.vars)
        # clone indicators y[w, p] for p in the full cone of w
        self.yi: dict[tuple[int, int], int] = {}
        self.cones: dict[int, list[int]] = {}
        for w in self.vars:
            cone: list[int] = []
            seen: set[int] = set()
            todo = [g.producer[w]]
            while todo:
                p = todo.pop()
                if p in seen:
                    continue
                seen.add(p)
                cone.append(p)
                for u in g.nodes[p].operands:
                    q = self._producer_through_aliases(u)
                    if q is None:
                        continue
                    r = g.root[u]
                    if r in g.cands and not g.cands[r].recomputable:
                        continue
                    todo.append(q)
            self.cones[w] = sorted(cone)
            for p in cone:
                self.yi[(w, p)] = nx + len(self.yi)
        self.n = nx + len(self.yi)
        self.too_big = len(self.yi) > ILP_MAX_PAIRS

    def _producer_through_aliases(self, u: int) -> int | None:
        g = self.g
        r = g.root[u]
        p = g.producer.get(r)
        if p is None or p not in g.forward or g.nodes[p].load_sym is not None:
            return None
        return p

    def _rows(self) -> tuple[list[dict[int, float]], list[float], list[dict[int, float]], list[float]]:
        """(cone rows, their lower bounds, memory rows, their constants): a cone row is
        >= its bound; a memory row plus its constant is at most the budget."""
        g = self.g
        cone_rows: list[dict[int, float]] = []
        cone_lb: list[float] = []
        for w in self.vars:
            # y[w, prod(w)] + x[w] >= 1
            cone_rows.append({self.yi[(w, g.producer[w])]: 1.0, self.xi[w]: 1.0})
            cone_lb.append(1.0)
            for p in self.cones[w]:
                for u in set(g.nodes[p].operands):
                    q = self._producer_through_aliases(u)
                    if q is None or (w, q) not in self.yi:
                        continue
                    r = g.root[u]
                    row = {self.yi[(w, q)]: 1.0}
                    row[self.yi[(w, p)]] = row.get(self.yi[(w, p)], 0.0) - 1.0
                    if r in self.xi:
                        row[self.xi[r]] = row.get(self.xi[r], 0.0) + 1.0
                    cone_rows.append(row)
                    cone_lb.append(0.0)
        # memory: all-keep profile minus the gaps, plus x * gap
        steps = g.plan({})
        ev = g.evaluate_plan(steps)
        mem_rows: list[dict[int, float]] = []
        mem_const: list[float] = []
        for t in range(len(g.nodes)):
            row: dict[int, float] = {}
            const = float(ev.live[t])
            for c in self.vars:
                cd = g.cands[c]
                if cd.last_fwd < t < cd.first_bwd:
                    const -= cd.size
                    row[self.xi[c]] = float(cd.size)
            mem_rows.append(row)
            mem_const.append(const)
        # bursts: live across R (lower bound) + the op's copy, its scratch and its inputs' copies
        across = self._across(ev, steps)
        for w in self.vars:
            r_w = g.cands[w].first_bwd
            const = float(across[r_w])
            base_row: dict[int, float] = {}
            for c in self.vars:
                cd = g.cands[c]
                if cd.last_fwd < r_w <= cd.first_bwd:
                    const -= cd.size
                    base_row[self.xi[c]] = float(cd.size)
            for p in self.cones[w]:
                row = dict(base_row)
                node = g.nodes[p]
                yk = self.yi[(w, p)]
                row[yk] = row.get(yk, 0.0) + float(_align(node.size) + _align(node.scratch))
                for u in set(g.root[v] for v in node.operands):
                    q = self._producer_through_aliases(u)
                    if q is None or (w, q) not in self.yi:
                        continue
                    k = self.yi[(w, q)]
                    row[k] = row.get(k, 0.0) + float(_align(g.nodes[q].size))
                mem_rows.append(row)
                mem_const.append(const)
        return cone_rows, cone_lb, mem_rows, mem_const

    def _across(self, ev: Evaluation, steps: list[Step]) -> list[int]:
        """Bytes of the all-keep order live across each op (defined before it, read at or
        after it): what every copy made right before the op runs beside."""
        g = self.g
        n = len(g.nodes)
        own = [0] * n
        for k, s in enumerate(steps):
            node = g.nodes[s.node]
            if node.alias:
                continue
            own[k] += _align(node.scratch)
            if s.result is not None and node.load_sym is None:
                own[k] += _align(node.size)
        # loads copied (rare) count as own too: conservative to leave them in `live`
        return [ev.live[t] - own[t] for t in range(n)]

    def _constraint(self, rows: list[dict[int, float]], lb: list[float], ub: list[float]) -> Any:
        """lb <= rows . vars <= ub, as a scipy LinearConstraint."""
        from scipy.optimize import LinearConstraint

        bounds: tuple[Any, Any] = (np.array(lb, dtype=float), np.array(ub, dtype=float))
        return LinearConstraint(self._matrix(rows), *bounds)

    def _matrix(self, rows: list[dict[int, float]]) -> Any:
        data: list[float] = []
        ri: list[int] = []
        ci: list[int] = []
        for k, row in enumerate(rows):
            for j, v in row.items():
                if v:
                    ri.append(k)
                    ci.append(j)
                    data.append(v)
        return self.sparse.csr_array((data, (ri, ci)), shape=(len(rows), self.n + 1))

    def solve(self, budget: int | None, deadline: float) -> tuple[str, Modes | None]:
        """Fewest MACs within `budget`, or (budget None) the smallest peak. Returns
        (status, modes): "optimal", "feasible" (time ran out after an answer; min-peak
        only), "infeasible" (proven) or "unknown" (time ran out first)."""
        from scipy.optimize import Bounds, milp

        g = self.g
        cone_rows, cone_lb, mem_rows, mem_const = self._rows()
        nv = self.n + 1  # the last variable is the peak P (min-peak mode only)
        cost = np.zeros(nv)
        if budget is None:
            cost[self.n] = 1.0
        else:
            # MACs first, recomputed elements second (every clone costs > 0, so the clone
            # indicators sit at their lower bounds)
            scale = 1 + sum(g.nodes[p].elems + 1 for (_, p) in self.yi)
            for (_, p), k in self.yi.items():
                node = g.nodes[p]
                cost[k] = float(node.macs * scale + node.elems + 1)
        integrality = np.zeros(nv)
        integrality[: len(self.vars)] = 1
        ub = np.ones(nv)
        ub[self.n] = np.inf
        if budget is None:
            rows = [{**r, self.n: -1.0} for r in mem_rows]
            mem_ub = [-c for c in mem_const]
        else:
            rows = mem_rows
            mem_ub = [budget - c for c in mem_const]
            if any(u < 0 and not r for r, u in zip(rows, mem_ub)):
                return "infeasible", None  # an op that no choice touches is over budget
        cons = [
            self._constraint(cone_rows, cone_lb, [math.inf] * len(cone_lb)),
            self._constraint(rows, [-math.inf] * len(mem_ub), mem_ub),
        ]
        box: tuple[Any, Any] = (np.zeros(nv), ub)
        bounds = Bounds(*box)
        cuts: list[dict[int, float]] = []
        cut_lb: list[float] = []
        best: tuple[Modes, Evaluation] | None = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            extra = [self._constraint(cuts, cut_lb, [math.inf] * len(cuts))] if cuts else []
            res = milp(
                cost, integrality=integrality, bounds=bounds, constraints=cons + extra,
                options={"time_limit": remaining, "mip_rel_gap": 0.0, "presolve": True},
            )
            if res.status == 2:  # every remaining choice is cut off or violates the relaxation
                return ("optimal", best[0]) if best is not None else ("infeasible", None)
            if res.status != 0 or res.x is None:
                break
            x = [int(round(res.x[k])) for k in range(len(self.vars))]
            modes: Modes = {c: KEEP if xv else FRESH for c, xv in zip(self.vars, x)}
            e = g.evaluate(modes)
            if budget is not None:
                if e.peak <= budget:
                    return "optimal", modes
            else:
                if best is None or (e.peak, *e.cost) < (best[1].peak, *best[1].cost):
                    best = (modes, e)
                if best[1].peak <= res.x[self.n] + 0.5:  # the relaxation's bound is reached
                    return "optimal", best[0]
            cuts.append({k: (-1.0 if xv else 1.0) for k, xv in enumerate(x)})
            cut_lb.append(1.0 - sum(x))
        return ("feasible", best[0]) if best is not None else ("unknown", None)


# -----------------------------------------------------------------------------------------
# The pass
# -----------------------------------------------------------------------------------------


def hoisted_order(ops: Sequence[Operation]) -> list[Operation]:
    """Each optimizer update right after the last op it depends on: its operands'
    producers, earlier ops writing a symbol it writes, and every earlier load of such a
    symbol with all its readers (through aliases). Everything else keeps its order."""
    pos = {o: i for i, o in enumerate(ops)}

    def readers(v: SSAValue) -> list[Operation]:
        out: list[Operation] = []
        for use in v.uses:
            u = use.operation
            out.append(u)
            if isinstance(u, ALIASING):
                out.extend(readers(u.results[0]))
        return out

    children: dict[int, list[Operation]] = {}
    for i, o in enumerate(ops):
        if not isinstance(o, UPDATES):
            continue
        mine = written_symbols(o)
        deps = [pos[v.owner] for v in o.operands if isinstance(v.owner, Operation) and v.owner in pos]
        for j in range(i):
            p = ops[j]
            if written_symbols(p) & mine:
                deps.append(j)
            if isinstance(p, qtrain.LoadOp) and p.symbol.root_reference.data in mine:
                deps.append(j)
                deps.extend(pos[r] for r in readers(p.results[0]) if pos.get(r, i) < i)
        children.setdefault(max(deps, default=-1), []).append(o)
    out: list[Operation] = []

    def emit(o: Operation | None, at: int) -> None:
        if o is not None:
            out.append(o)
        for u in children.get(at, ()):
            emit(u, pos[u])

    emit(None, -1)
    for i, o in enumerate(ops):
        if not isinstance(o, UPDATES):
            emit(o, i)
    assert len(out) == len(ops)
    return out


def _real_peak(fn: func.FuncOp, inplace: bool = False) -> int:
    clone = fn.clone()
    bufferize_function(clone, inplace)
    return lower_bound(buffers_of(clone), ALIGNMENT)


def _apply_variant(block: Block, fuse: bool, sched: bool) -> None:
    if fuse:
        fuse_block(block)
    if sched:
        schedule_block(block, ALIGNMENT)


def _variant_peak(fn: func.FuncOp, fuse: bool, sched: bool) -> int:
    """The in-place peak of `fn` after plain qtrain-fuse-updates (`fuse`) and in
    qtrain-schedule's order (`sched`); `fn` itself is unchanged."""
    return bound_of_copy(fn, lambda clone: _apply_variant(clone.body.block, fuse, sched), ALIGNMENT)


def _no_recompute(fn: func.FuncOp, peak: int) -> None:
    fn.attributes["qtrain.recompute_macs"] = IntegerAttr(0, i64)
    fn.attributes["qtrain.peak_estimate_bytes"] = IntegerAttr(peak, i64)


def apply_plan(g: Graph, steps: list[Step]) -> None:
    """Emit `steps` (built on `g`, whose node order the block already has): insert the
    clones before their anchor op and rewire the backward readers."""
    ssa: dict[int, SSAValue] = dict(enumerate(g.values))
    pending: list[Step] = []
    for s in steps:
        if s.clone:
            pending.append(s)
            continue
        node = g.nodes[s.node]
        for c in pending:
            src = g.nodes[c.node].op
            mapping = {src.operands[k]: ssa[v] for k, v in enumerate(c.operands)}
            new = src.clone(value_mapper=dict(mapping))
            new.attributes.pop("qtrain.saved_bytes", None)
            new.attributes[RECOMPUTE] = UnitAttr()
            Rewriter.insert_op(new, InsertPoint.before(node.op))
            assert c.result is not None
            ssa[c.result] = new.results[0]
        pending = []
        if s.operands != node.operands:
            node.op.operands = [ssa[v] for v in s.operands]


@dataclass
class Choice:
    graph: Graph
    modes: Modes
    steps: list[Step]
    evaluation: Evaluation
    reorder: bool
    """The graph's op order is not the block's: emit it."""
    method: str
    """none (fits as is), dp, ilp, greedy, sqrt."""


def graph_of(fn: func.FuncOp, hoist: bool) -> Graph:
    ops = list(fn.body.block.ops)
    return Graph(hoisted_order(ops) if hoist else ops, list(fn.body.block.args))


def base_orders(fn: func.FuncOp, schedule_base: bool = True) -> list[tuple[str, list[Operation]]]:
    """The orders the search starts from: the function's own with updates hoisted, and,
    when qtrain-schedule is available, its order (updates hoisted too). qtrain-schedule
    also reorders backward ops (a big weight gradient after the layers below it, when that
    frees their activations first), which recomputation alone cannot do."""
    ops = list(fn.body.block.ops)
    out = [("hoisted", hoisted_order(ops))]
    if not schedule_base:
        return out
    clone = fn.clone()
    back = dict(zip(clone.body.block.ops, ops))
    schedule_block(clone.body.block)
    order = hoisted_order([back[o] for o in clone.body.block.ops])
    if order != out[0][1]:
        out.append(("scheduled", order))
    return out


def least_peak(g: Graph, deadline: float) -> Modes:
    """The choice with the smallest peak (exact for chains and, in time, for the program)."""
    if len(g.order) <= DP_MAX_CANDIDATES and g.is_chain():
        r = ChainDP(g).solve(None)
        if r is not None and g.evaluate(r[0]).peak == r[1]:
            return r[0]
    tries: list[Modes] = [
        {},
        {c: FRESH for c in g.order if g.cands[c].recomputable},
        {c: RETAIN for c in g.order if g.cands[c].recomputable},
    ]
    ilp = ILP(g)
    if not ilp.too_big:
        _, modes = ilp.solve(None, deadline)
        if modes is not None:
            tries.append(modes)
    return min(tries, key=lambda m: (g.evaluate(m).peak, *g.evaluate(m).cost))


def solve(g: Graph, budget: int, deadline: float) -> tuple[Modes, str] | None:
    """Fewest MACs within `budget`: the dynamic program for chains, else the integer
    program, else greedy. None: infeasible (proven, or nothing found)."""
    if len(g.order) <= DP_MAX_CANDIDATES and g.is_chain():
        r = ChainDP(g).solve(budget)
        if r is None:
            return None  # its space contains every keep/recompute choice the others try
        if g.evaluate(r[0]).peak == r[1]:
            return r[0], "dp"
    ilp = ILP(g)
    if not ilp.too_big:
        status, modes = ilp.solve(budget, deadline)
        if status == "optimal" and modes is not None:
            return modes, "ilp"
        if status == "infeasible":
            return None
    m = greedy(g, budget)
    return (m, "greedy") if m is not None else None


def choose(fn: func.FuncOp, strategy: str, budget: int, schedule_base: bool = True) -> Choice:
    """What to keep and recompute, and in which base order. Ties go to the first base."""
    args = list(fn.body.block.args)
    g0 = Graph(list(fn.body.block.ops), args)
    plain = g0.evaluate({})
    if strategy == "budget" and plain.peak <= budget:
        return Choice(g0, {}, g0.plan({}), plain, False, "none")
    graphs = [Graph(order, args) for _, order in base_orders(fn, schedule_base)]
    if strategy == "sqrt":
        g = graphs[0]
        modes = sqrt_modes(g)
        steps = g.plan(modes)
        e = g.evaluate_plan(steps)
        if budget and e.peak > budget:
            raise _fail(f"strategy=sqrt reaches a peak of {e.peak} bytes, above the budget of {budget} bytes")
        return Choice(g, modes, steps, e, True, "sqrt")
    found: list[Choice] = []
    for g in graphs:
        r = solve(g, budget, time.monotonic() + ILP_TIME_LIMIT)
        if r is not None:
            steps = g.plan(r[0])
            found.append(Choice(g, r[0], steps, g.evaluate_plan(steps), True, r[1]))
    if found:
        return min(found, key=lambda c: (*c.evaluation.cost, c.evaluation.peak))
    least = _least_choice(graphs)
    if least.evaluation.peak <= budget:  # pragma: no cover - the searches are exact where least_peak is
        return least
    n = len(least.graph.order)
    recomputed = sum(1 for c in least.graph.order if least.modes.get(c, KEEP) != KEEP)
    how = (
        "recomputing everything" if recomputed == n
        else "no recomputation lowers it" if recomputed == 0
        else f"recomputing {recomputed} of {n} saved activations"
    )
    raise _fail(
        f"budget {budget} bytes is infeasible; the smallest feasible peak is {least.evaluation.peak} bytes ({how})"
    )


def _least_choice(graphs: list[Graph]) -> Choice:
    found: list[Choice] = []
    for g in graphs:
        least = least_peak(g, time.monotonic() + ILP_TIME_LIMIT)
        steps = g.plan(least)
        found.append(Choice(g, least, steps, g.evaluate_plan(steps), True, "least-peak"))
    return min(found, key=lambda c: (c.evaluation.peak, *c.evaluation.cost))


def smallest_feasible_peak(fn: func.FuncOp, schedule_base: bool = True) -> int:
    """The smallest budget the recomputation search accepts for `fn` (its own order counts
    too). The pass may accept a smaller one where the step meets it with nothing recomputed,
    in place in qtrain-schedule's order or (fuse=true) after plain update fusion."""
    args = list(fn.body.block.args)
    as_is = Graph(list(fn.body.block.ops), args).evaluate({}).peak
    least = _least_choice([Graph(order, args) for _, order in base_orders(fn, schedule_base)])
    return min(as_is, least.evaluation.peak)


def sqrt_modes(g: Graph) -> Modes:
    """About sqrt(L) evenly spaced checkpoints of the L candidates (every ceil(L/round(sqrt L))-th,
    the last one included); each segment between them is recomputed once (RETAIN)."""
    n = len(g.order)
    if n == 0:
        return {}
    stride = math.ceil(n / max(1, round(math.sqrt(n))))
    return {
        c: KEEP if (j + 1) % stride == 0 or j == n - 1 or not g.cands[c].recomputable else RETAIN
        for j, c in enumerate(g.order)
    }


@dataclass(frozen=True)
class InsertCheckpointsPass(ModulePass):
    """Keep or recompute each saved activation so the step's peak fits `budget-bytes`."""

    name = "qtrain-insert-checkpoints"

    budget_bytes: int = 0
    """Peak bytes to fit (the memory report's lower_bound_bytes); 0: no budget."""
    strategy: str = "budget"
    """budget: fewest MACs within budget-bytes; sqrt: about sqrt(L) checkpoints; none: off."""
    fuse: bool = False
    """Where nothing has to be recomputed, plain qtrain-fuse-updates may be applied (the
    driver sets it: it fuses in recompute mode before this pass)."""
    schedule_base: bool = True
    """Also search from qtrain-schedule's order (false: only from the function's own order
    with the updates hoisted, which keeps the result independent of the scheduler)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.strategy not in ("budget", "sqrt", "none"):
            raise _fail(f"unknown strategy '{self.strategy}' (expected budget, sqrt or none)")
        if self.budget_bytes < 0:
            raise _fail(f"budget-bytes must be >= 0, got {self.budget_bytes}")
        if self.strategy == "none" or (self.strategy == "budget" and self.budget_bytes == 0):
            return
        fn = next((o for o in op.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "train_step"), None)
        if fn is None:
            raise _fail("no @train_step (run qtrain-autodiff first)")
        # This pass's peak model knows reshape/flatten aliases but not the in-place relu/relu6/
        # add of `qtrain-bufferize{inplace=true}` (the driver's setting), so it overestimates
        # such peaks. A step that already fits with in-place buffers is left alone, and an
        # infeasible budget reports the smaller of the two minima.
        as_is = _real_peak(fn, inplace=True)
        if self.strategy == "budget" and as_is <= self.budget_bytes:
            _no_recompute(fn, as_is)
            return
        # Other ways to fit with nothing recomputed (the fewest MACs), the smallest peak taken:
        # qtrain-schedule's order (with schedule-base) — a quantized step with streamed
        # accumulators fits far lower reordered than in its own order or with the model's best
        # recomputation (VAE u8: 19,704 B against 25,112 B) — and, with `fuse`, plain
        # qtrain-fuse-updates, which the driver runs in recompute mode before this pass: that
        # mode leaves a gradient unfused that plain fusion fuses when nothing is recomputed
        # (MNIST CNN fp32: 18,824 B against 20,296 B).
        variants = [(fuse, sched) for fuse in (False, True) for sched in (False, True) if fuse or sched]
        variants = [v for v in variants if (self.fuse or not v[0]) and (self.schedule_base or not v[1])]
        peaks = {v: _variant_peak(fn, *v) for v in variants}
        if self.strategy == "budget":
            fitting = sorted((p, i) for i, (v, p) in enumerate(peaks.items()) if p <= self.budget_bytes)
            if fitting:
                fuse, sched = variants[fitting[0][1]]
                _apply_variant(fn.body.block, fuse, sched)
                _no_recompute(fn, fitting[0][0])
                return
        try:
            choice = choose(fn, self.strategy, self.budget_bytes, self.schedule_base)
        except PassFailedException as exc:
            least = re.search(r"the smallest feasible peak is (\d+) bytes", str(exc))
            best, v = min([(as_is, (False, False))] + [(p, v) for v, p in peaks.items()])
            how = ", ".join(w for w, on in (("plain qtrain-fuse-updates", v[0]), ("in qtrain-schedule's order", v[1]))
                            if on)
            if least is not None and best < int(least.group(1)):
                raise _fail(
                    f"budget {self.budget_bytes} bytes is infeasible; the smallest feasible peak is {best} bytes "
                    f"(no recomputation, with in-place buffers{', ' + how if how else ''})"
                ) from None
            raise
        block = fn.body.block
        if choice.reorder:
            for o in list(block.ops):
                o.detach()
            block.add_ops([n.op for n in choice.graph.nodes])
        if any(s.clone for s in choice.steps):
            apply_plan(choice.graph, choice.steps)
        annotate_saved(fn)
        real = _real_peak(fn)
        if real != choice.evaluation.peak:
            raise _fail(
                f"internal error: the model's peak is {choice.evaluation.peak} bytes but qtrain-bufferize "
                f"gives {real} bytes"
            )
        fn.attributes["qtrain.recompute_macs"] = IntegerAttr(choice.evaluation.macs, i64)
        fn.attributes["qtrain.peak_estimate_bytes"] = IntegerAttr(choice.evaluation.peak, i64)
