"""qtrain-partial-update: dynamic partial gradient updates (Deutel et al., TCAD 2024).

Per sample and per layer only the k structures (conv filters / dense rows) with the largest
error magnitude get a weight gradient and an update, with

    k = max(⌊min(λmin + |ε|/εmax · (λmax − λmin), 1) · N⌋, 1)

where ε is this sample's loss and εmax the largest loss seen so far (state
`@partial.loss_max`). Runs after qtrain-quantize (errors=int8) and rewrites each quantized
weight update:

    %m2  = qtrain.running_max %m, %loss                  (once; stored to @partial.loss_max)
    %k   = qtrain.topk_count %loss, %m2 lambda_min .. lambda_max .. structures N
    %idx = qtrain.topk_structures %e[%ze], %k             rows with the largest Σ|e − ze|
    %g   = qtrain.qdense_grad_weight ... select %idx, %k   only k rows computed (compact)
    ...  grad_stats / qsgd_range / qsgd_update with the same selection

With qtrain-quantize update=fused the fused `qtrain.q{dense,conv2d}_grad_weight_sgd` takes
the selection: only the k selected rows are computed and written, the others cost nothing.

The output layer (the weights whose error is the loss gradient itself) is always updated
in full. Its error is the softmax cross-entropy gradient p − y, whose components sum to
zero; the top-k by magnitude picks the true class (|p_y − 1| is the largest while the
sample is misclassified) and drops the small positive errors that balance it, so every
update raises one logit and none lowers the others: all logits drift upward together
(measured, MNIST CNN, λmin = 0.1, lr 0.02: the logit range [min, max] climbed from
[0, 13] to [70, 204] by sample 1,276, losses spiked to 26–50 and the run ended at chance).
The layer is the smallest (10 rows here) and its backward costs next to nothing.

What small λmin costs is the method's, not the quantization's (measured, same CNN, lr 0.02,
20,000 samples, one per step): εmax is the hardest sample's loss, so k ≈ λmin·N for all but
the rare high-loss samples (mean k/N 0.14 at λmin 0.1), and an fp32 reference of the same
selection (same init, order, lr) loses as much as u8 — test accuracy averaged over the last
20 % of training and 3 data orders, λmin 1 → 0.1: fp32 95.85 → 91.89 %, u8 95.32 → 90.96 %
(benchmarks/partial_reference.py; README "Dynamic partial updates" has the probes: a
high-loss step costs several points of test accuracy that the top-k steps repair slowly,
the loss spikes are hard samples, and a selected row gets the full update's row bit for bit).

Memory stays static: the gradient buffer (update=requantize) keeps its worst-case N rows;
only the work shrinks (the grad-weight kernels take the index list). Biases are updated in full (their gradient
costs nothing next to the weights'). λmin = λmax = 1 is "off" (the pass leaves the IR as is).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, ModuleOp, TensorType, UnitAttr, f32
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from odtc.dialects import qtrain as qt

LOSS_MAX = "partial.loss_max"


def _is_loss_error(e: SSAValue) -> bool:
    """The error is the (quantized) gradient of the loss: the output layer's."""
    owner = e.owner
    if isinstance(owner, qt.QuantizeOp):
        owner = owner.input.owner
    return isinstance(owner, qt.SoftmaxCrossEntropyGradOp | qt.MseGradOp)


def _fail(msg: str) -> PassFailedException:
    return PassFailedException(f"qtrain-partial-update: {msg}")


@dataclass(frozen=True)
class PartialUpdatePass(ModulePass):
    name = "qtrain-partial-update"

    lambda_min: float = 1.0
    lambda_max: float = 1.0

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        lo, hi = self.lambda_min, self.lambda_max
        if not 0.0 <= lo <= hi <= 1.0:
            raise _fail(f"need 0 <= lambda-min <= lambda-max <= 1, got {lo} and {hi}")
        train = next((f for f in op.ops if isinstance(f, func.FuncOp) and f.sym_name.data == "train_step"), None)
        if train is None:
            raise _fail("no @train_step: run qtrain-autodiff first")
        block = train.body.block
        updates = [o for o in block.ops
                   if isinstance(o, qt.QSgdUpdateOp | qt.QDenseGradWeightSgdOp | qt.QConv2dGradWeightSgdOp)]
        if not updates:
            float_updates = [o for o in block.ops if isinstance(o, qt.SgdUpdateOp | qt.MomentumUpdateOp | qt.AdamUpdateOp
                                                                   | qt.DenseGradWeightSgdOp | qt.Conv2dGradWeightSgdOp)]
            if float_updates:
                raise _fail("needs a quantized training step: run qtrain-quantize (errors=int8) first")
            return
        if lo == 1.0 and hi == 1.0:
            return
        # the step's loss is what it returns (an ELBO's sum of reconstruction and KL terms too)
        ret = block.last_op
        loss_op = ret.operands[0].owner if isinstance(ret, func.ReturnOp) and ret.operands else None
        if not isinstance(loss_op, Operation) or loss_op.parent_block() is not block:
            raise _fail("@train_step returns no loss computed in it")
        loss = ret.operands[0]
        state = next((o for o in op.ops if isinstance(o, qt.StateOp) and o.sym_name.data == LOSS_MAX), None)
        if state is None:
            ty = TensorType(f32, [])
            state = qt.StateOp(LOSS_MAX, ty, DenseIntOrFPElementsAttr.from_list(ty, [0.0]),
                               {"qtrain.quantization": UnitAttr()})
            first_fn = next(o for o in op.ops if isinstance(o, func.FuncOp))
            op.body.block.insert_op_before(state, first_fn)
        anchor = loss_op.next_op
        assert anchor is not None
        old = qt.LoadOp(LOSS_MAX, state.type)
        m2 = qt.RunningMaxOp(old.result, loss)
        store = qt.StoreOp(m2.output, LOSS_MAX)
        for o in (old, m2, store):
            block.insert_op_before(o, anchor)
        for upd in updates:
            self._select(upd, loss, m2.output)

    def _select_fused(self, upd: qt.QDenseGradWeightSgdOp | qt.QConv2dGradWeightSgdOp, loss: SSAValue,
                      lmax: SSAValue) -> None:
        """update=fused: the fused grad-weight + step takes the selection itself."""
        if upd.select is not None:
            return
        n = qt.tensor_shape(upd.output_grad)[1]
        k = qt.TopkCountOp(loss, lmax, self.lambda_min, self.lambda_max, n)
        idx = qt.TopkStructuresOp(upd.output_grad, upd.output_grad_zero_point, k.output)
        b = upd.parent_block()
        assert b is not None
        common = (upd.param.root_reference.data, upd.row_range.root_reference.data, upd.input, upd.input_zero_point,
                  upd.output_grad, upd.output_grad_zero_point, upd.grad_scale, upd.weight_scale,
                  upd.weight_zero_point)
        tail = (upd.lr.value.data, upd.rounding.data, upd.seed.value.data, upd.step, idx.output, k.output)
        if isinstance(upd, qt.QDenseGradWeightSgdOp):
            new: Operation = qt.QDenseGradWeightSgdOp(*common, *tail)
        else:
            new = qt.QConv2dGradWeightSgdOp(*common, upd.stride, upd.padding, upd.groups, *tail)
        for o in (k, idx, new):
            b.insert_op_before(o, upd)
        b.erase_op(upd)

    def _select(self, upd: qt.QSgdUpdateOp | qt.QDenseGradWeightSgdOp | qt.QConv2dGradWeightSgdOp,
                loss: SSAValue, lmax: SSAValue) -> None:
        err = upd.output_grad if not isinstance(upd, qt.QSgdUpdateOp) else getattr(upd.grad.owner, "output_grad", None)
        if err is not None and _is_loss_error(err):
            return  # the output layer: see the module docstring
        if not isinstance(upd, qt.QSgdUpdateOp):
            self._select_fused(upd, loss, lmax)
            return
        g = upd.grad
        gw = g.owner
        name = upd.param.root_reference.data
        if isinstance(gw, qt.QConvTranspose2dGradWeightOp):
            # rows of a [Cin, Cout, kh, kw] weight are input channels, which no output error
            # ranks: a conv-transpose is updated in full (its cost stays in the backward MACs)
            return
        if not isinstance(gw, qt.QDenseGradWeightOp | qt.QConv2dGradWeightOp):
            raise _fail(f"the gradient of @{name} is not an int8 grad-weight op (qtrain-quantize errors=int8 "
                        f"produces qtrain.qdense_grad_weight / qtrain.qconv2d_grad_weight), got '{gw.name}'")  # type: ignore[union-attr]
        if gw.select is not None:
            return
        n = qt.tensor_shape(g)[0]
        k = qt.TopkCountOp(loss, lmax, self.lambda_min, self.lambda_max, n)
        idx = qt.TopkStructuresOp(gw.output_grad, gw.output_grad_zero_point, k.output)
        b = gw.parent_block()
        assert b is not None
        b.insert_op_before(k, gw)
        b.insert_op_before(idx, gw)
        sel = (idx.output, k.output)
        if isinstance(gw, qt.QDenseGradWeightOp):
            new_gw: Operation = qt.QDenseGradWeightOp(gw.input, gw.input_zero_point, gw.output_grad,
                                                      gw.output_grad_zero_point, *sel)
        else:
            new_gw = qt.QConv2dGradWeightOp(gw.input, gw.input_zero_point, gw.output_grad, gw.output_grad_zero_point,
                                            qt.tensor_shape(g), gw.stride, gw.padding, gw.groups, *sel)
        b.insert_op_before(new_gw, gw)
        g.replace_all_uses_with(new_gw.results[0])
        b.erase_op(gw)
        g = new_gw.results[0]
        for user in [u.operation for u in g.uses]:
            if isinstance(user, qt.GradStatsOp):
                new: Operation = qt.GradStatsOp(g, user.mode.data, user.grad_scale, user.weight_scale, *sel)
            elif isinstance(user, qt.QSgdRangeOp):
                new = qt.QSgdRangeOp(user.weight, user.weight_scale, user.weight_zero_point, g, user.stats,
                                     user.lr.value.data, *sel)
            elif isinstance(user, qt.QSgdUpdateOp):
                new = qt.QSgdUpdateOp(user.param.root_reference.data, g, user.stats, user.weight_scale,
                                      user.weight_zero_point, user.new_scale, user.new_zero_point,
                                      user.lr.value.data, user.rounding.data, user.seed.value.data, user.step, *sel)
            else:
                raise _fail(f"unexpected user '{user.name}' of the gradient of @{name}")
            ub = user.parent_block()
            assert ub is not None
            ub.insert_op_before(new, user)
            for r_old, r_new in zip(user.results, new.results, strict=True):
                r_old.replace_all_uses_with(r_new)
            ub.erase_op(user)
