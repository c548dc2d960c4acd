"""qtrain-fuse-updates: apply a plain SGD update inside the grad-weight that computes its
gradient, so the weight gradient never needs a buffer (the Tiny Training Engine's in-place
update taken down to the element: each dW element is applied as soon as it exists).

Invariant established: every `qtrain.conv2d_grad_weight` / `qtrain.dense_grad_weight` whose
result only a plain `qtrain.sgd_update` (no `accumulate`, same `channels`) reads, and whose
fusion cannot raise the live bytes at any op (`cannot_raise_peak`; every such pair with
`always`), is one `qtrain.conv2d_grad_weight_sgd` / `qtrain.dense_grad_weight_sgd` with the
same geometry, `channels` and `lr`. Results are bit-identical: the fused op computes every
gradient element exactly as the grad-weight does and applies the update's own arithmetic
to it, and a gradient row reads neither the parameter nor other rows.

Left alone: momentum and Adam updates and accumulating SGD (they need the whole gradient
or keep state per element), a gradient with any other user (e.g. summed with another
contribution of a shared weight), a grad-weight whose input or output error is the
parameter itself, and pairs whose `channels` differ.

Which pairs: the fused op has to wait for the readers of the old weight (a layer's
grad_input), so it can keep the saved input alive across them where the unfused order
would have freed it and held the (smaller) gradient instead — e.g. a full-resolution conv
with few channels. The rule fuses unless that can happen; the driver passes
`recompute=true` when qtrain-insert-checkpoints follows (see `cannot_raise_peak`).

Placement: the fused op goes at the earliest point that is as late as the grad-weight and
after everything the update had to follow among the ops before it — every earlier write
of the parameter, every earlier load of it and every reader (through reshape/flatten) of
such a load, e.g. the layer's grad_input, which needs the old weight. That is never later
than the update, so the pass is correct in any order of ops (before or after
qtrain-schedule) and turns no in-place load into a copy; and as early as possible, so the
saved input and output error die as soon as they can. The gradient buffer is gone.

    %dw = qtrain.dense_grad_weight %x, %dy : (...) -> tensor<32x784xf32>
    %dx = qtrain.dense_grad_input %dy, %w : (...) -> tensor<1x784xf32>
    qtrain.sgd_update @w, %dw lr 1.0e-02 : tensor<32x784xf32>
      →  %dx = qtrain.dense_grad_input %dy, %w : (...) -> tensor<1x784xf32>
         qtrain.dense_grad_weight_sgd @w, %x, %dy lr 1.0e-02 : tensor<1x784xf32>, tensor<1x32xf32>
"""

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass

from odtc.dialects import qtrain
from odtc.passes.bufferize import ALIASING, ATTRS, written_symbols
from odtc.passes.prune_frozen_backward import tensor_bytes

GRAD_WEIGHT_OPS = (qtrain.DenseGradWeightOp, qtrain.Conv2dGradWeightOp)


def _root(v: SSAValue) -> SSAValue:
    while isinstance(v.owner, ALIASING):
        v = v.owner.operands[0]
    return v


def _readers(v: SSAValue) -> list[Operation]:
    """Ops reading `v`'s buffer: its users and, through reshape/flatten, theirs."""
    out: list[Operation] = []
    for use in v.uses:
        out.append(use.operation)
        if isinstance(use.operation, ALIASING):
            out.extend(_readers(use.operation.results[0]))
    return out


def _fusable(update: qtrain.SgdUpdateOp, block: Block) -> qtrain.DenseGradWeightOp | qtrain.Conv2dGradWeightOp | None:
    """The grad-weight whose result only `update` reads, when the pair can be one op."""
    if update.accumulator is not None or update.batch_pos is not None:
        return None
    grad = update.grad
    gw = grad.owner
    if not isinstance(gw, GRAD_WEIGHT_OPS) or gw.parent_block() is not block:
        return None
    if any(u.operation is not update for u in grad.uses):
        return None
    ch_gw = None if gw.channels is None else tuple(gw.channels.get_values())
    ch_up = None if update.channels is None else tuple(update.channels.get_values())
    if ch_gw != ch_up:
        return None
    sym = update.param.root_reference.data
    for v in (gw.input, gw.output_grad):
        r = _root(v)
        if isinstance(r.owner, qtrain.LoadOp) and r.owner.symbol.root_reference.data == sym:
            return None  # the fused kernel would read the rows it is writing
    return gw


def _closure(op: Operation, block: Block, up: bool) -> set[Operation]:
    """Ops of `block` that `op` depends on (`up`) or that depend on it, through SSA values:
    every order of the block runs them before (after) `op`."""
    seen: set[Operation] = set()
    stack = [op]
    while stack:
        o = stack.pop()
        nxt = [v.owner for v in o.operands] if up else [u.operation for r in o.results for u in r.uses]
        for n in nxt:
            if isinstance(n, Operation) and n.parent_block() is block and n not in seen:
                seen.add(n)
                stack.append(n)
    return seen


def _arena_bytes(v: SSAValue, block: Block) -> int:
    """Bytes of the arena buffer holding `v` (0 for arguments and in-place parameter loads)."""
    r = _root(v)
    owner = r.owner
    if not isinstance(owner, Operation) or owner.parent_block() is not block or isinstance(owner, qtrain.LoadOp):
        return 0
    assert isinstance(r.type, TensorType)
    return tensor_bytes(r.type)


def cannot_raise_peak(
    gw: qtrain.DenseGradWeightOp | qtrain.Conv2dGradWeightOp, update: qtrain.SgdUpdateOp, recompute: bool
) -> bool:
    """Whether fusing at the pass's position leaves the live bytes at every op no larger,
    whatever the order of the other ops. The gradient's buffer goes; in exchange the fused
    op waits for the readers of the old weight that may follow the grad-weight (a layer's
    grad_input), and an operand (saved input, output error) whose buffer would otherwise
    have died before them lives on — but only while the gradient would have been live. So
    fuse when the operands held longer are no larger than the gradient. An operand every
    such reader reads, or (without `recompute`) one that an op after all of them reads
    (relu_grad reading the saved input), is never held longer; with `recompute`,
    qtrain-insert-checkpoints may give that later op its own copy, so it counts."""
    block = gw.parent_block()
    assert block is not None
    sym = update.param.root_reference.data
    before = _closure(gw, block, up=True)
    waits: list[Operation] = []
    for o in block.ops:
        if isinstance(o, qtrain.LoadOp) and o.symbol.root_reference.data == sym:
            waits += [r for r in _readers(o.result) if r not in before and r is not update and r is not gw]
    if not waits:
        return True
    after_all = set.intersection(*(_closure(w, block, up=False) for w in waits))
    held = 0
    for root in {_root(gw.input), _root(gw.output_grad)}:
        readers = _readers(root)
        if all(w in readers for w in waits):
            continue
        if not recompute and any(r in after_all for r in readers):
            continue
        held += _arena_bytes(root, block)
    grad = gw.results[0].type
    assert isinstance(grad, TensorType)
    return held <= tensor_bytes(grad)


def _anchor(ops: list[Operation], pos: dict[Operation, int], gw: Operation, update: qtrain.SgdUpdateOp) -> int:
    """Index of the last op the fused op must follow (see the module docstring)."""
    sym = update.param.root_reference.data
    end = pos[update]
    anchor = pos[gw]
    for j in range(end):
        o = ops[j]
        if sym in written_symbols(o):
            anchor = max(anchor, j)
        elif isinstance(o, qtrain.LoadOp) and o.symbol.root_reference.data == sym:
            anchor = max(anchor, j)
            for r in _readers(o.result):
                if r in pos and pos[r] < end:
                    anchor = max(anchor, pos[r])
    return anchor


def _fused(gw: qtrain.DenseGradWeightOp | qtrain.Conv2dGradWeightOp, update: qtrain.SgdUpdateOp) -> Operation:
    if isinstance(gw, qtrain.DenseGradWeightOp):
        return qtrain.DenseGradWeightSgdOp(update.param, gw.input, gw.output_grad, update.lr, update.channels)
    return qtrain.Conv2dGradWeightSgdOp(
        update.param, gw.input, gw.output_grad, update.lr, gw.stride, gw.padding, gw.groups, update.channels
    )


def fuse_block(block: Block, recompute: bool = False, always: bool = False) -> int:
    """Fuse the eligible pairs of `block` in place; returns how many were fused."""
    fused = 0
    for update in [o for o in block.ops if isinstance(o, qtrain.SgdUpdateOp)]:
        gw = _fusable(update, block)
        if gw is None or not (always or cannot_raise_peak(gw, update, recompute)):
            continue
        ops = list(block.ops)
        pos = {o: i for i, o in enumerate(ops)}
        anchor = ops[_anchor(ops, pos, gw, update)]
        new = _fused(gw, update)
        block.insert_op_after(new, anchor)
        update.detach()
        update.erase()
        gw.detach()
        gw.erase()
        fused += 1
    return fused


@dataclass(frozen=True)
class FuseUpdatesPass(ModulePass):
    """Fuse each grad-weight with its plain SGD update (every func.func)."""

    name = "qtrain-fuse-updates"

    recompute: bool = False
    """qtrain-insert-checkpoints runs next: an activation a later backward op reads may be
    recomputed for it, so it does not keep the fused op's operand alive (see
    `cannot_raise_peak`)."""

    always: bool = False
    """Fuse every eligible pair, also those that can hold an operand larger than the
    gradient alive longer."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in op.ops:
            if isinstance(fn, func.FuncOp) and fn.body.blocks:
                if fuse_block(fn.body.block, self.recompute, self.always):
                    # ops were removed: live ranges and offsets by op index are stale
                    for o in fn.body.block.ops:
                        for attr in ATTRS:
                            o.attributes.pop(attr, None)
                    fn.attributes.pop("qtrain.arena_bytes", None)
                    fn.attributes.pop("qtrain.arena_lower_bound", None)
                    op.attributes.pop("qtrain.arena_bytes", None)
