"""qtrain-bufferize: give every tensor value a storage decision and a live range.

Invariant established: in every `func.func`, each op producing a tensor carries exactly one of
  * `qtrain.alias` — reshape/flatten: its result is its input's buffer, reinterpreted;
  * `qtrain.bytes = N` and `qtrain.live = array<i64: first, last>` — an arena buffer
    live from the op's index to the index of its last reader (through aliases);
  * nothing — a `qtrain.load` whose result reads the symbol's own storage in place (no
    copy), which is sound because no op writes that symbol while the loaded value is live;
    otherwise the load gets `qtrain.bytes`/`qtrain.live` and is lowered as a copy.
Ops whose kernel needs working memory carry `qtrain.scratch_bytes` (live for that op only).
Function arguments are caller-owned. `qtrain-plan-buffers` turns the ranges into offsets.

    %y = qtrain.relu %x : tensor<1x8xf32>     %y = qtrain.relu %x {qtrain.bytes = 32 : i64,
                                                     qtrain.live = array<i64: 4, 7>} : ...
"""

from dataclasses import dataclass
from math import prod

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, ModuleOp, TensorType, UnitAttr, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass

from odtc.dialects import qtrain
from odtc.passes.prune_frozen_backward import tensor_bytes

ALIASING = (qtrain.ReshapeOp, qtrain.FlattenOp)
ATTRS = ("qtrain.alias", "qtrain.bytes", "qtrain.live", "qtrain.scratch_bytes", "qtrain.offset",
         "qtrain.scratch_offset")


def written_symbols(op: Operation) -> set[str]:
    """Symbols an op writes in place."""
    out: set[str] = set()
    if isinstance(op, qtrain.StoreOp):
        out.add(op.symbol.root_reference.data)
    elif isinstance(op, qtrain.SgdUpdateOp | qtrain.MomentumUpdateOp | qtrain.AdamUpdateOp):
        out.add(op.param.root_reference.data)
        for name in ("velocity", "first_moment", "second_moment", "step", "accumulator"):
            ref = op.properties.get(name)
            if ref is not None:
                out.add(ref.root_reference.data)  # type: ignore[attr-defined]
    elif isinstance(op, qtrain.CounterStepOp):
        out.add(op.counter.root_reference.data)
    return out


def scratch_bytes(op: Operation) -> int:
    """Working memory the op's C kernel needs (runtime/c/include/odtc_kernels.h)."""
    if isinstance(op, qtrain.QConv2dOp):
        _, c, _, _ = qtrain.tensor_shape(op.input)
        o, _, kh, kw = qtrain.tensor_shape(op.weight)
        g = op.groups.value.data
        return 8 * o + 2 * (c // g) * kh * kw
    if isinstance(op, qtrain.QDenseOp):
        _, k = qtrain.tensor_shape(op.input)
        o = qtrain.tensor_shape(op.weight)[0]
        return 8 * o + 2 * k
    return 0


def _root(v: SSAValue) -> SSAValue:
    while isinstance(v.owner, ALIASING):
        v = v.owner.operands[0]
    return v


def bufferize_function(fn: func.FuncOp) -> None:
    ops = list(fn.body.block.ops)
    index = {o: i for i, o in enumerate(ops)}
    last_use: dict[SSAValue, int] = {}
    for i, o in enumerate(ops):
        for v in o.operands:
            r = _root(v)
            last_use[r] = max(last_use.get(r, -1), i)
    for i, o in enumerate(ops):
        for name in ATTRS:
            o.attributes.pop(name, None)
        if isinstance(o, ALIASING):
            o.attributes["qtrain.alias"] = UnitAttr()
            continue
        if (sb := scratch_bytes(o)) > 0:
            o.attributes["qtrain.scratch_bytes"] = IntegerAttr(sb, i64)
        if len(o.results) != 1 or not isinstance(o.results[0].type, TensorType):
            continue
        v = o.results[0]
        last = last_use.get(v, i)
        if isinstance(o, qtrain.LoadOp):
            sym = o.symbol.root_reference.data
            if not any(sym in written_symbols(ops[j]) for j in range(i + 1, last)):
                continue  # read the symbol's storage in place
        t = v.type
        assert isinstance(t, TensorType)
        o.attributes["qtrain.bytes"] = IntegerAttr(max(tensor_bytes(t), 1) if prod(t.get_shape()) else 0, i64)
        o.attributes["qtrain.live"] = DenseArrayBase.from_list(i64, [index[o], last])


@dataclass(frozen=True)
class BufferizePass(ModulePass):
    name = "qtrain-bufferize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in op.ops:
            if isinstance(fn, func.FuncOp):
                bufferize_function(fn)
