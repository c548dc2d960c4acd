"""qtrain-plan-buffers: static offsets in one arena for every bufferized value.

Invariant established: every op with `qtrain.bytes` (and every `qtrain.scratch_bytes`) has a
`qtrain.offset` (`qtrain.scratch_offset`), a multiple of `alignment`, such that two buffers
whose live ranges intersect never overlap in memory; each function records
`qtrain.arena_bytes` and `qtrain.arena_lower_bound` (the largest total of simultaneously
live aligned bytes — no placement of this schedule can use less), and the module records the
largest arena of its functions (functions never run at the same time, so they share it).

Placement is greedy by size (largest first, each at the lowest offset that clears every
time-overlapping buffer already placed), as TFLite Micro and TVM's USMP greedy do. It is
correct, not optimal; the memory issue replaces it. `check_plan` re-verifies the result and
runs again in the C lowering.

    %y = qtrain.relu %x {qtrain.bytes = 32, qtrain.live = [4, 7]}   →   ... qtrain.offset = 64 ...
"""

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
        if not any(k in o.attributes for k in ("qtrain.alias", "qtrain.bytes")):
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


def greedy_by_size(buffers: list[Buffer], alignment: int) -> dict[Buffer, int]:
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
            for b, off in greedy_by_size(buffers, self.alignment).items():
                key = "qtrain.scratch_offset" if b.scratch else "qtrain.offset"
                b.op.attributes[key] = IntegerAttr(off, i64)
            arena = _align(check_plan(fn), self.alignment)
            fn.attributes["qtrain.arena_bytes"] = IntegerAttr(arena, i64)
            fn.attributes["qtrain.arena_lower_bound"] = IntegerAttr(lower_bound(buffers, self.alignment), i64)
            module_arena = max(module_arena, arena)
        op.attributes["qtrain.arena_bytes"] = IntegerAttr(module_arena, i64)
