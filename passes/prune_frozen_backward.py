"""qtrain-prune-frozen-backward: remove backward work no parameter update needs, and state
what the backward pass keeps from the forward pass.

Invariant established: in `@train_step`, every op contributes to a parameter update, a state
write, or the returned loss. So there is no grad-weight for a frozen weight, no input
gradient below the deepest trainable layer, and a layer that trains only its bias keeps no
saved input (dL/db needs only the output error). Each forward value the remaining backward
ops read carries `qtrain.saved_bytes` (f32 bytes, or a 1-bit mask when only ReLU/ReLU6
gradients read it), the function carries the total as `qtrain.saved_activation_bytes`, and
a model input the backward reads is counted in `qtrain.saved_input_bytes`.

    %dx = qtrain.conv2d_grad_input %dy, %w ...     (no trainable layer below: erased)
    %dw = qtrain.conv2d_grad_weight %x, %dy ...    (frozen weight, no update reads it: erased)
    %y = qtrain.relu %h {qtrain.saved_bytes = 98 : i64}   (only relu_grad reads it: a mask)

`@forward` (inference, `odtc_infer`) gets the same dead-code elimination, after each
step-less `qtrain.reparameterize` (inference: z = mu) is replaced by its mean: a VAE's
log-variance head, which only the sample reads, is not computed at inference.
"""

from dataclasses import dataclass
from math import prod
import sys

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, TensorType, i64
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter
from xdsl.utils.exceptions import PassFailedException

from odtc.dialects import qtrain

# Ops that change state: the roots of liveness.
SIDE_EFFECTS = (
    qtrain.StoreOp,
    qtrain.SgdUpdateOp,
    qtrain.MomentumUpdateOp,
    qtrain.AdamUpdateOp,
    qtrain.DenseGradWeightSgdOp,
    qtrain.Conv2dGradWeightSgdOp,
    qtrain.CounterStepOp,
    func.ReturnOp,
)
LOSSES = qtrain.LOSS_OPS
MASK_READERS = (qtrain.ReluGradOp, qtrain.Relu6GradOp)


def element_bytes(t: TensorType) -> int:
    """Bytes of one element in RAM (f32/i32: 4; quantized: its storage width)."""
    elt = t.element_type
    if isinstance(elt, qtrain.QuantType):
        return elt.storage.width.data // 8
    width = getattr(elt, "width", None) or getattr(elt, "bitwidth", 32)
    width = width.data if hasattr(width, "data") else width
    return max(1, int(width) // 8)


def tensor_bytes(t: TensorType) -> int:
    return prod(t.get_shape()) * element_bytes(t)


def saved_values(fn: func.FuncOp) -> dict[SSAValue, int]:
    """Forward values (defined before the loss) read by ops after the loss, with the bytes
    they must be kept in: a bit per element when only ReLU/ReLU6 gradients read them."""
    ops = list(fn.body.block.ops)
    loss_idx = next((i for i, o in enumerate(ops) if isinstance(o, LOSSES)), None)
    if loss_idx is None:
        return {}
    position = {o: i for i, o in enumerate(ops)}
    saved: dict[SSAValue, int] = {}
    candidates: list[SSAValue] = list(fn.body.block.args)
    for o in ops[:loss_idx]:
        if not isinstance(o, qtrain.LoadOp):
            candidates.extend(o.results)
    for v in candidates:
        readers = [u.operation for u in v.uses if position.get(u.operation, -1) > loss_idx]
        if not readers:
            continue
        t = v.type
        assert isinstance(t, TensorType)
        mask_only = all(
            isinstance(r, MASK_READERS) and r.operands[1] is v and r.operands[0] is not v for r in readers
        )
        saved[v] = (prod(t.get_shape()) + 7) // 8 if mask_only else tensor_bytes(t)
    return saved


def eliminate_dead(block: Block) -> None:
    """Erase every op that contributes to no state change, update or return."""
    live: set[Operation] = set()
    for o in reversed(list(block.ops)):
        if isinstance(o, SIDE_EFFECTS) or any(u.operation in live for r in o.results for u in r.uses):
            live.add(o)
    for o in reversed(list(block.ops)):
        if o not in live:
            Rewriter.erase_op(o)


def simplify_inference(fn: func.FuncOp) -> None:
    """z = mu for every step-less reparameterize of `fn`, then dead-code elimination."""
    for o in list(fn.body.block.ops):
        if isinstance(o, qtrain.ReparameterizeOp) and o.step is None:
            o.output.replace_all_uses_with(o.mu)
            Rewriter.erase_op(o)
    eliminate_dead(fn.body.block)


def annotate_saved(fn: func.FuncOp) -> dict[SSAValue, int]:
    """(Re)write the saved-set annotation: `qtrain.saved_bytes` on each saved value's op,
    the total as `qtrain.saved_activation_bytes` and the model inputs' share as
    `qtrain.saved_input_bytes` on the function. Passes that change what the backward
    reads (checkpoints, quantization) call it again. Returns `saved_values(fn)`."""
    for o in fn.body.block.ops:
        o.attributes.pop("qtrain.saved_bytes", None)
    saved = saved_values(fn)
    total = inputs = 0
    for v, nbytes in saved.items():
        total += nbytes
        if isinstance(v.owner, Block):
            inputs += nbytes
        else:
            v.owner.attributes["qtrain.saved_bytes"] = IntegerAttr(nbytes, i64)
    fn.attributes["qtrain.saved_activation_bytes"] = IntegerAttr(total, i64)
    if inputs:
        fn.attributes["qtrain.saved_input_bytes"] = IntegerAttr(inputs, i64)
    else:
        fn.attributes.pop("qtrain.saved_input_bytes", None)
    return saved


@dataclass(frozen=True)
class PruneFrozenBackwardPass(ModulePass):
    """Dead-code elimination rooted at updates/stores/return, plus the saved-set annotation."""

    name = "qtrain-prune-frozen-backward"

    function: str = "train_step"
    report: bool = False
    """Print the saved-activation table to stderr."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        fn = next((o for o in op.ops if isinstance(o, func.FuncOp) and o.sym_name.data == self.function), None)
        if fn is None:
            raise PassFailedException(
                f"qtrain-prune-frozen-backward: no @{self.function} (run qtrain-autodiff first)"
            )
        block = fn.body.block
        eliminate_dead(block)
        forward = next((o for o in op.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "forward"), None)
        if forward is not None:
            simplify_inference(forward)
        if not any(isinstance(o, SIDE_EFFECTS[:-1]) for o in block.ops):
            raise PassFailedException(
                f"qtrain-prune-frozen-backward: @{self.function} updates nothing (no trainable parameter)"
            )

        saved = annotate_saved(fn)
        total = sum(saved.values())
        rows: list[tuple[str, str, int]] = []
        for v, nbytes in saved.items():
            if isinstance(v.owner, Block):
                rows.append((f"%{v.name_hint or 'arg'}", "function argument", nbytes))
            else:
                rows.append((f"%{v.name_hint or '?'}", v.owner.name, nbytes))
        if self.report:
            print(f"saved for backward in @{self.function}:", file=sys.stderr)
            for name, producer, nbytes in rows:
                print(f"  {name:<16} {producer:<28} {nbytes:>10} B", file=sys.stderr)
            print(f"  {'total':<45} {total:>10} B", file=sys.stderr)
