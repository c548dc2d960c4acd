"""qtrain-schedule: a memory-aware order of every function's ops (run before qtrain-bufferize).

Invariant established: each block holds the same ops as before, in an order that respects

  * every SSA def-use edge (func.return stays last);
  * the order of ops touching the same symbol: a `qtrain.load` stays after the last write
    of its symbol before it and before the next one, writes stay in order, and a write
    stays after every op that read, before the write in the original order, a value loaded
    from that symbol (through reshape/flatten aliases);

and whose peak of simultaneously live arena bytes — counted exactly as qtrain-bufferize
will size and range the buffers — is no larger than the original order's. So the
interpreted results are bit-identical (the same ops compute the same values), and no
load that was read in place becomes a copy.

The rule for optimizer updates (the Tiny Training Engine's in-place update reordering):
an update is ready as soon as its gradient is complete (every contribution summed), but
not before the last reader of the parameter's loaded value — in a layer, grad_input reads
the weight, so the weight's update waits for it. Moving it earlier would make
qtrain-bufferize copy the loaded weight at the load, i.e. at the start of the step, which
keeps a weight-sized buffer live for the whole step instead of a gradient-sized one for a
few ops: never smaller, so the scheduler never creates copies. Once placed, the update
frees the gradient buffer at once.

Candidates: the input order and two list schedules, in which loads are emitted right before
their first user and a `qtrain.recompute` op (qtrain-insert-checkpoints) or a write that
would turn a still-read in-place load into a copy waits until nothing else is ready —
"greedy" takes among the ready ops one that allocates nothing (an update: running it now
can only shrink every later live set), then the one freeing the most bytes net, then
allocating the least, then the earliest; "lazy" takes one that allocates nothing, else the
earliest that frees more than it allocates, else the earliest (the input order with
freeing ops pulled forward). The pass keeps the candidate with the smallest peak, then the
smallest area (sum over ops of the live bytes), then greedy, lazy, input. Deterministic.

    (autodiff order)                          (qtrain-schedule)
    %dx2 = dense_grad_input %dy2, %w2         %dx2 = dense_grad_input %dy2, %w2
    %dw2 = dense_grad_weight %h, %dy2         %dw2 = dense_grad_weight %h, %dy2
    %dw1 = dense_grad_weight %x, %dy1         qtrain.sgd_update @w2, %dw2   // %dw2 dies
    qtrain.sgd_update @w1, %dw1               %dw1 = dense_grad_weight %x, %dy1
    qtrain.sgd_update @w2, %dw2               qtrain.sgd_update @w1, %dw1
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import prod

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, SymbolRefAttr, TensorType
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.traits import IsTerminator
from xdsl.utils.exceptions import PassFailedException

from odtc.dialects import qtrain
from odtc.passes.bufferize import ALIASING, ATTRS, scratch_bytes
from odtc.passes.prune_frozen_backward import tensor_bytes

RECOMPUTE = "qtrain.recompute"
"""Unit attribute qtrain-insert-checkpoints puts on the ops of a recomputed segment."""


def _symbols(attr: Attribute) -> set[str]:
    if isinstance(attr, SymbolRefAttr):
        return {attr.root_reference.data}
    return set()


def symbols_written(op: Operation) -> set[str]:
    """Every symbol an op names, except a load's, counts as written: exact for the update,
    store and counter ops, and safe for any op added later that names state."""
    if isinstance(op, qtrain.LoadOp):
        return set()
    out: set[str] = set()
    for a in (*op.properties.values(), *op.attributes.values()):
        out |= _symbols(a)
    return out


def _root(v: SSAValue) -> SSAValue:
    owner = v.owner
    while isinstance(owner, qtrain.ReshapeOp | qtrain.FlattenOp):
        v = owner.operands[0]
        owner = v.owner
    return v


def _loaded_symbol(op: Operation) -> str | None:
    return op.symbol.root_reference.data if isinstance(op, qtrain.LoadOp) else None


def _buffer_bytes(op: Operation) -> int:
    """Bytes qtrain-bufferize gives the op's result (loads: if it must copy)."""
    if isinstance(op, ALIASING) or len(op.results) != 1 or not isinstance(op.results[0].type, TensorType):
        return 0
    t = op.results[0].type
    assert isinstance(t, TensorType)
    return max(tensor_bytes(t), 1) if prod(t.get_shape()) else 0


@dataclass
class Graph:
    """The ops of one block (without its terminator) and the orders they must keep."""

    ops: list[Operation]
    preds: list[set[int]]
    reads: list[set[int]]
    """For each op, the ops whose buffers it reads (the roots of its operands, through aliases)."""
    size: list[int]
    scratch: list[int]
    writes: list[set[str]]
    load_sym: list[str | None]
    recompute: list[bool]
    terminator: Operation | None = None
    succs: list[set[int]] = field(default_factory=list[set[int]])

    @staticmethod
    def of(block: Block, alignment: int = 1) -> "Graph":
        all_ops = list(block.ops)
        term = all_ops[-1] if all_ops and all_ops[-1].has_trait(IsTerminator) else None
        ops = all_ops[:-1] if term is not None else all_ops
        idx = {o: i for i, o in enumerate(ops)}
        n = len(ops)
        preds: list[set[int]] = [set() for _ in range(n)]
        reads: list[set[int]] = [set() for _ in range(n)]
        for i, o in enumerate(ops):
            for v in o.operands:
                if isinstance(v.owner, Operation) and v.owner in idx:
                    preds[i].add(idx[v.owner])
                r = _root(v)
                if isinstance(r.owner, Operation) and r.owner in idx:
                    reads[i].add(idx[r.owner])
        writes = [symbols_written(o) for o in ops]
        load_sym = [_loaded_symbol(o) for o in ops]
        # readers of each op's value through aliases (the ops that read its buffer)
        readers: list[set[int]] = [set() for _ in range(n)]
        for i in range(n):
            for r in reads[i]:
                readers[r].add(i)
        last_write: dict[str, int] = {}
        loads_of: dict[str, list[int]] = {}
        for i in range(n):
            sym = load_sym[i]
            if sym is not None:
                if sym in last_write:
                    preds[i].add(last_write[sym])
                loads_of.setdefault(sym, []).append(i)
            for s in writes[i]:
                if s in last_write:
                    preds[i].add(last_write[s])
                for ld in loads_of.get(s, ()):
                    preds[i].add(ld)
                    preds[i].update(r for r in readers[ld] if r < i)
                last_write[s] = i
        for i in range(n):
            preds[i].discard(i)
        def aligned(n: int) -> int:
            return (n + alignment - 1) // alignment * alignment

        g = Graph(
            ops, preds, reads, [aligned(_buffer_bytes(o)) for o in ops], [aligned(scratch_bytes(o)) for o in ops],
            writes, load_sym, [RECOMPUTE in o.attributes for o in ops], term,
        )
        g.succs = [set() for _ in range(n)]
        for i, ps in enumerate(preds):
            for p in ps:
                g.succs[p].add(i)
        return g


@dataclass(frozen=True)
class Profile:
    peak: int
    """Largest total of live buffer bytes at one op (the planner's lower bound, unaligned)."""
    area: int
    """Sum over ops of the live bytes: how long memory is held."""


def profile(g: Graph, order: Sequence[int]) -> Profile:
    """Peak and area of live bytes when the ops run in `order`, with qtrain-bufferize's
    rules: a buffer lives from its op to its last reader; a load is in place unless one of
    its symbol's writes comes before its last reader, then it is a copy; scratch lives at
    its op only; the terminator reads what it returns."""
    n = len(order)
    pos = [0] * len(g.ops)
    for k, i in enumerate(order):
        pos[i] = k
    last = [pos[i] for i in range(len(g.ops))]
    for i in range(len(g.ops)):
        for r in g.reads[i]:
            last[r] = max(last[r], pos[i])
    if g.terminator is not None:
        idx = {o: i for i, o in enumerate(g.ops)}
        for v in g.terminator.operands:
            r = _root(v)
            if isinstance(r.owner, Operation) and r.owner in idx:
                last[idx[r.owner]] = n
    delta = [0] * (n + 2)
    write_pos: dict[str, list[int]] = {}
    for i in range(len(g.ops)):
        for s in g.writes[i]:
            write_pos.setdefault(s, []).append(pos[i])
    for i in range(len(g.ops)):
        size = g.size[i]
        sym = g.load_sym[i]
        if sym is not None and not any(pos[i] < w < last[i] for w in write_pos.get(sym, ())):
            size = 0
        if size:
            delta[pos[i]] += size
            delta[last[i] + 1] -= size
        if g.scratch[i]:
            delta[pos[i]] += g.scratch[i]
            delta[pos[i] + 1] -= g.scratch[i]
    peak = area = cur = 0
    for k in range(n + 1):
        cur += delta[k]
        peak = max(peak, cur)
        area += cur
    return Profile(peak, area)


@dataclass(frozen=True)
class Choice:
    """A ready op as the list scheduler sees it."""

    op: int
    freed: int
    """Bytes whose last reader it is."""
    alloc: int
    """Bytes it allocates (its result and scratch)."""
    deferred: bool
    """A recomputation (`qtrain.recompute`), or a write that would turn an in-place load
    still being read into a copy: taken only when nothing else is ready."""


def list_schedule(g: Graph, pick: Callable[[list[Choice]], Choice]) -> list[int]:
    """Topological order built op by op; `pick` chooses among the ready ops (in original
    order). Loads are not candidates of their own: each is emitted just before the first op
    that needs it, so it stays next to its use (an in-place load costs nothing wherever it is)."""
    n = len(g.ops)
    is_load = [s is not None for s in g.load_sym]
    done = [False] * n
    remaining = [0] * n  # unscheduled readers of each buffer
    for i in range(n):
        for r in g.reads[i]:
            remaining[r] += 1
    returned: set[int] = set()
    if g.terminator is not None:
        idx = {o: i for i, o in enumerate(g.ops)}
        for v in g.terminator.operands:
            r = _root(v)
            if isinstance(r.owner, Operation) and r.owner in idx:
                returned.add(idx[r.owner])
    loads_of: dict[str, list[int]] = {}
    for i, sym in enumerate(g.load_sym):
        if sym is not None:
            loads_of.setdefault(sym, []).append(i)

    def can_run(i: int) -> bool:
        return all(done[p] or (is_load[p] and all(done[q] for q in g.preds[p])) for p in g.preds[i])

    def makes_copy(i: int) -> bool:
        return any(
            done[ld] and remaining[ld] > (1 if ld in g.reads[i] else 0)
            for s in g.writes[i] for ld in loads_of.get(s, ())
        )

    order: list[int] = []

    def emit(i: int) -> None:
        for p in sorted(g.preds[i]):
            if not done[p]:
                emit(p)  # an unscheduled pred is a ready load (can_run checked it)
        done[i] = True
        order.append(i)
        for r in g.reads[i]:
            remaining[r] -= 1

    while len(order) < n:
        ready = [i for i in range(n) if not done[i] and not is_load[i] and can_run(i)]
        if not ready:  # only loads left (nothing reads them): keep their order
            ready = [i for i in range(n) if not done[i] and can_run(i)]
            assert ready, "qtrain-schedule: dependency cycle"
        choices: list[Choice] = []
        for i in ready:
            alloc = (0 if is_load[i] else g.size[i]) + g.scratch[i]
            freed = sum(g.size[r] for r in g.reads[i] if remaining[r] == 1 and r not in returned and not is_load[r])
            if remaining[i] == 0 and i not in returned and not is_load[i]:
                freed += g.size[i]  # a value nobody reads dies at once
            choices.append(Choice(i, freed, alloc, (g.recompute[i] and alloc > 0) or makes_copy(i)))
        emit(pick(choices).op)
    return order


def pick_greedy(choices: list[Choice]) -> Choice:
    """An op that allocates nothing (an update: running it now can only lower every later
    live set), then the most net bytes freed, then the least allocated, then the earliest."""
    return min(choices, key=lambda c: (c.deferred, c.alloc > 0, c.alloc - c.freed, c.alloc, c.op))


def pick_lazy(choices: list[Choice]) -> Choice:
    """An op that allocates nothing, else the earliest op that frees more than it
    allocates, else the earliest: the original order with freeing ops pulled forward."""
    eager = [c for c in choices if not c.deferred] or choices
    return next((c for c in eager if c.alloc == 0), None) or next((c for c in eager if c.freed > c.alloc), eager[0])


def schedule_block(block: Block, alignment: int = 8) -> str:
    """Reorder `block` in place; returns the name of the chosen candidate."""
    g = Graph.of(block, alignment)
    n = len(g.ops)
    if n < 2:
        return "original"
    candidates: list[tuple[str, list[int]]] = [
        ("original", list(range(n))),
        ("lazy", list_schedule(g, pick_lazy)),
        ("greedy", list_schedule(g, pick_greedy)),
    ]
    preference = {"greedy": 0, "lazy": 1, "original": 2}
    scored: list[tuple[tuple[int, int, int], str, list[int]]] = []
    for name, order in candidates:
        p = profile(g, order)
        scored.append(((p.peak, p.area, preference[name]), name, order))
    _, best_name, best = min(scored, key=lambda c: c[0])
    if best == list(range(n)):
        return "original"
    for o in g.ops:
        o.detach()
        for attr in ATTRS:  # live ranges and offsets of the old order are stale
            o.attributes.pop(attr, None)
    if g.terminator is not None:
        block.insert_ops_before([g.ops[i] for i in best], g.terminator)
    else:
        block.add_ops([g.ops[i] for i in best])
    return best_name


@dataclass(frozen=True)
class SchedulePass(ModulePass):
    """Reorder @train_step and @forward (every func.func) for a smaller memory peak."""

    name = "qtrain-schedule"

    alignment: int = 8
    """Buffer sizes count rounded up to this, as qtrain-plan-buffers{alignment} will place them."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.alignment < 1:
            raise PassFailedException(f"qtrain-schedule: alignment must be >= 1, got {self.alignment}")
        for fn in op.ops:
            if isinstance(fn, func.FuncOp) and fn.body.blocks:
                if schedule_block(fn.body.block, self.alignment) != "original":
                    fn.attributes.pop("qtrain.arena_bytes", None)
                    fn.attributes.pop("qtrain.arena_lower_bound", None)
