"""qtrain-bufferize: give every tensor value a storage decision and a live range.

Invariant established: in every `func.func`, each op producing a tensor carries exactly one of
  * `qtrain.alias` — reshape/flatten: its result is its input's buffer, reinterpreted;
  * `qtrain.inplace = K` (option `inplace`) — relu/relu6/add/acc_relu whose operand K dies there:
    the result is written over that operand's buffer;
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
ATTRS = ("qtrain.alias", "qtrain.inplace", "qtrain.bytes", "qtrain.live", "qtrain.scratch_bytes",
         "qtrain.offset", "qtrain.scratch_offset")


def written_symbols(op: Operation) -> set[str]:
    """Symbols an op writes in place."""
    out: set[str] = set()
    if isinstance(op, qtrain.StoreOp):
        out.add(op.symbol.root_reference.data)
    elif isinstance(
        op,
        qtrain.SgdUpdateOp | qtrain.MomentumUpdateOp | qtrain.AdamUpdateOp
        | qtrain.DenseGradWeightSgdOp | qtrain.Conv2dGradWeightSgdOp,
    ):
        out.add(op.param.root_reference.data)
        for name in ("velocity", "first_moment", "second_moment", "step", "accumulator"):
            ref = op.properties.get(name)
            if ref is not None:
                out.add(ref.root_reference.data)  # type: ignore[attr-defined]
    elif isinstance(op, qtrain.CounterStepOp):
        out.add(op.counter.root_reference.data)
    elif isinstance(op, qtrain.QSgdUpdateOp):
        out.add(op.param.root_reference.data)
    elif isinstance(op, qtrain.QDenseGradWeightSgdOp | qtrain.QConv2dGradWeightSgdOp
                    | qtrain.QConvTranspose2dGradWeightSgdOp):
        out.add(op.param.root_reference.data)
        out.add(op.row_range.root_reference.data)
    elif isinstance(op, qtrain.QWeightRegridOp):
        for ref in (op.param, op.row_range, op.scale, op.zero_point):
            out.add(ref.root_reference.data)
    return out


def scratch_bytes(op: Operation) -> int:
    """Working memory the op's C kernel needs (runtime/c/include/odtc_kernels.h)."""
    if isinstance(op, qtrain.QConv2dOp):
        _, c, _, _ = qtrain.tensor_shape(op.input)
        o, _, kh, kw = qtrain.tensor_shape(op.weight)
        g = op.groups.value.data
        i = c // g
        # ODTC_CONV2D_Q8_SCRATCH_BYTES: multipliers/shifts, then the larger of the fixed
        # workspace, one im2col patch (int16) and the DSP band engine's minimum.
        workspace = max(8192, 2 * i * kh * kw, 4 * (4 * (o // g) + kw + 16 + (i * kh + 1) // 2 * (3 * kw + 8)))
        return 8 * o + workspace
    if isinstance(op, qtrain.QDenseOp):
        _, k = qtrain.tensor_shape(op.input)
        o = qtrain.tensor_shape(op.weight)[0]
        return 8 * o + 2 * k
    # The FQT kernels (runtime/c/src/fqt.c): ODTC_QCONV2D_ACC_SCRATCH_BYTES (int32 bias per
    # output channel, then one int16 im2col patch in whole words), ODTC_QDENSE_ACC_SCRATCH_BYTES
    # (the same with one int16 input row) and ODTC_TOPK_STRUCTURES_SCRATCH_BYTES (an int64
    # magnitude per structure). The int32 grad kernels need none (their DSP paths use stack).
    if isinstance(op, qtrain.QConv2dAccOp):
        _, c, _, _ = qtrain.tensor_shape(op.input)
        o, _, kh, kw = qtrain.tensor_shape(op.weight)
        i = c // op.groups.value.data
        return 4 * o + 4 * ((i * kh * kw + 1) // 2)
    if isinstance(op, qtrain.QDenseAccOp):
        _, k = qtrain.tensor_shape(op.input)
        o = qtrain.tensor_shape(op.weight)[0]
        return 4 * o + 4 * ((k + 1) // 2)
    # ODTC_QCONV2D_ACC_STREAM_SCRATCH_BYTES / ODTC_QCONV_TRANSPOSE2D_ACC_STREAM_SCRATCH_BYTES:
    # one int32 output plane (then, for qconv2d, its accumulator scratch for one channel)
    if isinstance(op, qtrain.QConv2dAccStreamOp):
        _, _, h, w = qtrain.tensor_shape(op.input)
        _, c, kh, kw = qtrain.tensor_shape(op.weight)  # c: input channels per group
        stride = tuple(int(v) for v in op.stride.get_values())
        padding = tuple(int(v) for v in op.padding.get_values())
        oh, ow = qtrain.conv_output_hw((h, w), (kh, kw), stride, padding)
        return 4 * oh * ow + 4 + 4 * ((c * kh * kw + 1) // 2)
    if isinstance(op, qtrain.QConv2dPwDwStreamOp):  # ODTC_QCONV2D_PW_DW_STREAM_SCRATCH_BYTES
        _, _, h1, w1 = op.h_shape()
        _, _, oh, ow = op.out_shape()
        _, c, kh1, kw1 = qtrain.tensor_shape(op.weight1)
        _, _, kh2, kw2 = qtrain.tensor_shape(op.weight2)
        return (4 * h1 * w1 + 4 + 4 * ((c * kh1 * kw1 + 1) // 2) + 4 * ((h1 * w1 + 3) // 4) + 4 * oh * ow
                + 4 + 4 * ((kh2 * kw2 + 1) // 2))
    if isinstance(op, qtrain.QConv2dGradInputStreamOp):  # ODTC_QCONV2D_GRAD_INPUT_STREAM_SCRATCH_BYTES
        _, _, h, w = op.input_shape()
        o, _, kh, kw = qtrain.tensor_shape(op.weight)
        return 4 * h * w + 4 * ((o * kh * kw + 3) // 4)
    if isinstance(op, qtrain.QConvTranspose2dAccStreamOp):
        _, _, h, w = qtrain.tensor_shape(op.input)
        _, _, kh, kw = qtrain.tensor_shape(op.weight)
        oh, ow = qtrain.conv_transpose_output_hw(
            (h, w), (kh, kw), tuple(int(v) for v in op.stride.get_values()),
            tuple(int(v) for v in op.padding.get_values()), tuple(int(v) for v in op.output_padding.get_values()))
        return 4 * oh * ow
    if isinstance(op, qtrain.TopkStructuresOp):
        return 8 * qtrain.tensor_shape(op.output_grad)[1]
    # ODTC_QGRAD_WEIGHT_SGD_SCRATCH_BYTES: one int32 gradient row (the fused update applies
    # each row as soon as it is computed, so this replaces the [O, ...] int32 gradient).
    if isinstance(op, qtrain.QDenseGradWeightSgdOp):
        return 4 * qtrain.tensor_shape(op.input)[1]
    if isinstance(op, qtrain.QConv2dGradWeightSgdOp | qtrain.QConvTranspose2dGradWeightSgdOp):
        w = op.param_type()
        if w is None:
            return 0
        return 4 * prod(w.get_shape()[1:])
    return 0


def _root(v: SSAValue, parent: dict[SSAValue, SSAValue] | None = None) -> SSAValue:
    """The value whose buffer `v` lives in: through reshape/flatten and in-place ops."""
    while True:
        if isinstance(v.owner, ALIASING):
            v = v.owner.operands[0]
        elif parent is not None and v in parent:
            v = parent[v]
        else:
            return v


# Elementwise ops whose C kernels may write their result over an input (y[i] depends only
# on x[i]): with `inplace`, the result takes over the input's buffer when that input (and
# everything sharing its buffer) is read for the last time by this op.
INPLACE = (qtrain.ReluOp, qtrain.Relu6Op, qtrain.AddOp, qtrain.AccReluOp, qtrain.AccRelu6Op, qtrain.QAddOp,
           qtrain.QRelu6GradOp, qtrain.QMaskGradOp, qtrain.QConv2dAccStreamOp)
INPLACE_OPERANDS: dict[type, tuple[int, ...]] = {
    qtrain.AccRelu6Op: (0,),  # not the scale
    qtrain.QAddOp: (0, 3),  # lhs or rhs, not the scales / zero-points
    qtrain.QRelu6GradOp: (0,),  # the error (runtime/c: dx == e)
    qtrain.QMaskGradOp: (0,),
    qtrain.QConv2dAccStreamOp: (0,),  # only as `_inplace_ok` says
}
"""Operands a result may take over, where an op has operands of other kinds (default: any)."""


def _inplace_ok(o: Operation) -> bool:
    """Ops of INPLACE that may write over their input only in some forms: a streamed conv
    only when it requantizes a depthwise conv (multiplier 1) into the same 8-bit storage and
    no larger: output plane c depends only on input plane c, which the kernel has fully read
    before it writes plane c at an offset no later than the input plane's
    (runtime/c/include/odtc_kernels.h)."""
    if not isinstance(o, qtrain.QConv2dAccStreamOp):
        return True
    if o.is_range:
        return False
    _, c, h, w = qtrain.tensor_shape(o.input)
    oc, i, _, _ = qtrain.tensor_shape(o.weight)
    _, _, oh, ow = qtrain.tensor_shape(o.output)
    same_storage = qtrain.element_type(o.input) == qtrain.element_type(o.output)
    return o.groups.value.data == c == oc and i == 1 and oh * ow <= h * w and same_storage


def _inplace_parents(ops: list[Operation]) -> dict[SSAValue, SSAValue]:
    parent: dict[SSAValue, SSAValue] = {}
    last_read: dict[SSAValue, int] = {}
    for i, o in enumerate(ops):
        for v in o.operands:
            last_read[v] = i
    members: dict[SSAValue, list[SSAValue]] = {}
    for o in ops:
        for r in o.results:
            members.setdefault(_root(r, parent), []).append(r)
        if not isinstance(o, INPLACE):
            continue
        i = ops.index(o)
        if not _inplace_ok(o):
            continue
        allowed = INPLACE_OPERANDS.get(type(o))
        for k, cand in enumerate(o.operands):
            if allowed is not None and k not in allowed:
                continue
            root = _root(cand, parent)
            owner = root.owner
            if not isinstance(owner, Operation) or isinstance(owner, qtrain.LoadOp) or owner not in ops:
                continue  # arguments and parameter storage are never overwritten
            group = members.get(root, [root])
            if max(last_read.get(m, -1) for m in group) == i:
                parent[o.results[0]] = cand
                members.setdefault(root, [root]).append(o.results[0])
                break
    return parent


def bufferize_function(fn: func.FuncOp, inplace: bool = False) -> None:
    ops = list(fn.body.block.ops)
    index = {o: i for i, o in enumerate(ops)}
    parent = _inplace_parents(ops) if inplace else {}
    last_use: dict[SSAValue, int] = {}
    for i, o in enumerate(ops):
        for v in o.operands:
            r = _root(v, parent)
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
        if v in parent:
            o.attributes["qtrain.inplace"] = IntegerAttr(list(o.operands).index(parent[v]), i64)
            continue
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

    inplace: bool = False
    """Let relu, relu6, add and acc_relu write over an input that dies there (`qtrain.inplace = K`:
    the result shares operand K's buffer)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in op.ops:
            if isinstance(fn, func.FuncOp):
                bufferize_function(fn, self.inplace)
