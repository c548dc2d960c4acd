"""qtrain-pack-masks: keep one bit, not the 8-bit output, of a relu/relu6 the backward
reads only for its mask.

In a fully quantized step (after qtrain-quantize) the backward of relu is
`qtrain.qrelu_grad %e, %y` and of relu6 `qtrain.qrelu6_grad %e, %y[%sy, %zy]`: the saved
8-bit output y lives from the forward to the backward only so that its sign (and, for relu6,
whether it reached 6) can be read. Where nothing else in the backward reads y (a layer whose
bias trains but whose successor's weight does not: TTE's sparse update of MobileNetV2), this
pass packs that bit right after the forward computes y and the backward reads the mask:

    %y = qtrain.requantize_acc ...                       8-bit, read by the next layer
    %m = qtrain.qrelu_mask %y[%zy] scale %sy             tensor<ceil(n/8)xui8>
    ...
    %d = qtrain.qmask_grad %e[%ze], %m                   (was qtrain.qrelu6_grad %e[%ze], %y[%sy, %zy])

Bit-identical (fqt.relu_mask's bit is exactly where qrelu_grad / qrelu6_grad pass). y then
dies in the forward. MobileNetV2-w0.35 (TTE sparse, u8): 133,632 B of such outputs become
16,704 B of masks.

Which ones: every eligible mask lowers the bytes saved for the backward, but the
memory-aware schedule that follows is a heuristic, so by default the masks are kept only if
the step's scheduled lower bound (what qtrain-plan-buffers then reaches) goes down
(measured: on the u8 VAE the one eligible mask moves the schedule's peak from 19,704 B to
19,904 B, so it is not packed there); `all=true` packs every one. Runs after
qtrain-stream-accumulators, whose streamed forward is what the peak is judged on.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from odtc.dialects import qtrain as qt
from odtc.passes.plan_buffers import bound_of_copy
from odtc.passes.prune_frozen_backward import annotate_saved
from odtc.passes.schedule import schedule_block

NAME = "qtrain-pack-masks"
LOSSES = (qt.SoftmaxCrossEntropyOp, qt.MseOp, qt.SigmoidBceOp)
"""The first loss op of a step: everything before it is forward (as qtrain-quantize)."""
ALIGNMENT = 8
"""The pipeline's qtrain-schedule / qtrain-plan-buffers alignment (compiler/pipeline.py)."""


def pack_masks(fn: func.FuncOp) -> int:
    """Replace each qrelu_grad / qrelu6_grad whose saved output the backward reads for
    nothing else by qmask_grad of a packed mask made in the forward; returns how many."""
    block = fn.body.block
    ops = list(block.ops)
    index = {o: i for i, o in enumerate(ops)}
    loss = next((i for i, o in enumerate(ops) if isinstance(o, LOSSES)), len(ops))
    done = 0
    for g in ops:
        if not isinstance(g, qt.QReluGradOp | qt.QRelu6GradOp):
            continue
        y = g.output
        if not isinstance(y.owner, Operation) or y.owner.parent_block() is not block:
            continue  # a function argument: nothing to free
        readers = [u.operation for u in y.uses if index.get(u.operation, -1) > loss]
        if not all(isinstance(r, qt.QReluGradOp | qt.QRelu6GradOp) for r in readers):
            continue
        scale = g.output_scale if isinstance(g, qt.QRelu6GradOp) else None
        deps = [v.owner for v in (y, g.output_zero_point, scale) if v is not None and isinstance(v.owner, Operation)]
        after = max(deps, key=lambda o: index.get(o, -1))
        mask = qt.QReluMaskOp(y, g.output_zero_point, scale)
        block.insert_op_after(mask, after)
        new = qt.QMaskGradOp(g.output_grad, g.output_grad_zero_point, mask.output)
        block.insert_op_before(new, g)
        g.input_grad.replace_all_uses_with(new.input_grad)
        block.erase_op(g)
        done += 1
    return done


def _peak(fn: func.FuncOp, pack: bool) -> int:
    def transform(clone: func.FuncOp) -> None:
        if pack:
            pack_masks(clone)
        schedule_block(clone.body.block, ALIGNMENT)

    return bound_of_copy(fn, transform, ALIGNMENT)


@dataclass(frozen=True)
class PackMasksPass(ModulePass):
    name = "qtrain-pack-masks"

    all: bool = False
    """Pack every eligible mask, not only where that lowers the step's scheduled peak."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        train = next((f for f in op.ops if isinstance(f, func.FuncOp) and f.sym_name.data == "train_step"), None)
        if train is None:
            raise PassFailedException(f"{NAME}: no @train_step: run qtrain-autodiff and qtrain-quantize first")
        if not any(isinstance(o, qt.QReluGradOp | qt.QRelu6GradOp) for o in train.body.block.ops):
            return
        if self.all or _peak(train, True) < _peak(train, False):
            if pack_masks(train) and "qtrain.saved_activation_bytes" in train.attributes:
                annotate_saved(train)  # the backward now reads masks: refresh the sizes
