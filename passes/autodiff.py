"""qtrain-autodiff: derive `@train_step` from `@forward` at compile time.

Invariant established: the module has `func.func @train_step(%input, %target) -> tensor<f32>`
that runs the forward ops, the loss, one backward op per derivative (grad-input, grad-weight
and grad-bias are separate ops, so pruning can drop each independently) and one optimizer op
per trainable parameter, which updates the parameter symbol in place. Optimizer state
(velocity, Adam moments and step, mini-batch accumulators and the batch position) is
explicit `qtrain.state`. `@forward` is kept for inference. The backward is complete: it
also differentiates through frozen layers; `qtrain-prune-frozen-backward` removes what no
update needs.

    func.func @forward(%x) -> %logits            func.func @train_step(%x, %label) -> tensor<f32>
      %y = qtrain.dense %x, %w, %b         =>      %y = qtrain.dense %x, %w, %b
                                                    %l = qtrain.softmax_cross_entropy %y, %label
                                                    %dy = qtrain.softmax_cross_entropy_grad %y, %label
                                                    %dw = qtrain.dense_grad_weight %x, %dy
                                                    qtrain.sgd_update @w, %dw lr 1.0e-02
"""

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    FloatAttr,
    Float64Type,
    IntegerAttr,
    ModuleOp,
    SymbolRefAttr,
    TensorType,
    f32,
    i32,
    i64,
)
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from odtc.dialects import qtrain

LOSSES = ("cross_entropy", "mse", "elbo")
RECONSTRUCTIONS = ("bce", "mse")
RNG_STEP_MODULO = 2**31 - 1
"""The sampling counter wraps here (an i32 state); eps streams repeat after 2^31 - 1 steps."""
OPTIMIZERS = ("sgd", "momentum", "adam")


def _fail(msg: str) -> PassFailedException:
    return PassFailedException(f"qtrain-autodiff: {msg}")


def _where(op: Operation, function: str) -> str:
    """Position of an op for messages. Ops are cloned from @forward in order, so the index
    in the block under construction is the index in @forward."""
    block = op.parent_block()
    idx = list(block.ops).index(op) if block is not None else -1
    return f"op #{idx} of @{function}"


def _f64(v: float) -> FloatAttr:
    return FloatAttr(v, Float64Type())


@dataclass(frozen=True)
class AutodiffPass(ModulePass):
    """Build @train_step = forward + loss + backward + optimizer updates."""

    name = "qtrain-autodiff"

    loss: str = "cross_entropy"
    """cross_entropy (int32 class labels), mse (target shaped like the output) or elbo
    (variational autoencoder: reconstruction of the target + kl-weight * the KL term of
    every qtrain.reparameterize; the driver passes the input as the target)."""
    recon: str = "bce"
    """elbo's reconstruction term: bce (summed binary cross-entropy on the logits of the
    output sigmoid) or mse (qtrain.mse of the output)."""
    kl_weight: float = 1.0
    """elbo's beta: the weight of the KL terms."""
    optimizer: str = "sgd"
    """sgd, momentum or adam (PyTorch semantics)."""
    lr: float = 0.01
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    batch_size: int = 1
    """Samples per update. >1 accumulates gradients over that many train_step calls."""
    forward: str = "forward"
    """Name of the function to differentiate."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.loss not in LOSSES:
            raise _fail(f"unknown loss '{self.loss}' (expected one of: {', '.join(LOSSES)})")
        if self.optimizer not in OPTIMIZERS:
            raise _fail(f"unknown optimizer '{self.optimizer}' (expected one of: {', '.join(OPTIMIZERS)})")
        if self.recon not in RECONSTRUCTIONS:
            raise _fail(f"unknown recon '{self.recon}' (expected one of: {', '.join(RECONSTRUCTIONS)})")
        if not self.kl_weight >= 0:
            raise _fail(f"kl-weight must be >= 0, got {self.kl_weight}")
        if self.batch_size < 1:
            raise _fail(f"batch-size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise _fail(f"lr must be positive, got {self.lr}")
        fwd = next(
            (o for o in op.ops if isinstance(o, func.FuncOp) and o.sym_name.data == self.forward), None
        )
        if fwd is None:
            raise _fail(f"no function @{self.forward} to differentiate")
        if any(isinstance(o, func.FuncOp) and o.sym_name.data == "train_step" for o in op.ops):
            raise _fail("the module already has @train_step")
        params = {o.sym_name.data: o for o in op.ops if isinstance(o, qtrain.ParamOp)}
        if not any(p.is_trainable for p in params.values()):
            raise _fail("nothing is trainable: mark at least one qtrain.param 'trainable'")
        _Differentiator(self, op, fwd, params).run()


class _Differentiator:
    def __init__(
        self, opts: AutodiffPass, module: ModuleOp, fwd: func.FuncOp, params: dict[str, qtrain.ParamOp]
    ) -> None:
        self.opts = opts
        self.module = module
        self.fwd = fwd
        self.params = params
        self.taken = {o.sym_name.data for o in module.ops if isinstance(o, qtrain.ParamOp | qtrain.StateOp)}
        self.new_states: list[qtrain.StateOp] = []
        self.adjoint: dict[SSAValue, SSAValue] = {}
        self.param_grads: dict[str, list[SSAValue]] = {}
        self.block = Block()
        self.rewriter = Rewriter()
        self.rng_step: SymbolRefAttr | None = None
        self.rng_step_value: SSAValue | None = None

    # -- emission helpers -------------------------------------------------------------------

    def emit(self, op: Operation) -> Operation:
        self.block.add_op(op)
        return op

    def accumulate(self, value: SSAValue, grad: SSAValue) -> None:
        prev = self.adjoint.get(value)
        self.adjoint[value] = grad if prev is None else self.emit(qtrain.AddOp(prev, grad)).results[0]

    def state(self, base: str, ty: TensorType) -> SymbolRefAttr:
        name, i = base, 1
        while name in self.taken:
            name, i = f"{base}_{i}", i + 1
        self.taken.add(name)
        zero: float | int = 0 if ty.element_type == i32 else 0.0
        self.new_states.append(
            qtrain.StateOp(name, ty, DenseIntOrFPElementsAttr.from_list(ty, [zero]))
        )
        return SymbolRefAttr(name)

    def param_of(self, value: SSAValue) -> qtrain.ParamOp | None:
        if isinstance(value.owner, qtrain.LoadOp):
            return self.params.get(value.owner.symbol.root_reference.data)
        return None

    def channels_of(self, value: SSAValue) -> list[int] | None:
        p = self.param_of(value)
        if p is None or not p.is_trainable:
            return None
        ch = p.attributes.get("channels")
        return [int(c) for c in ch.get_values()] if ch is not None else None  # type: ignore[union-attr]

    # -- main ---------------------------------------------------------------------------

    def run(self) -> None:
        fwd_block = self.fwd.body.block
        in_types = list(self.fwd.function_type.inputs)
        outs = list(self.fwd.function_type.outputs)
        if len(in_types) != 1 or len(outs) != 1:
            raise _fail(
                f"@{self.opts.forward} must take one input and return one output, "
                f"got {len(in_types)} input(s) and {len(outs)} output(s)"
            )
        out_type = outs[0]
        assert isinstance(out_type, TensorType)
        target_type = self._target_type(out_type)
        self.block = Block(arg_types=[in_types[0], target_type])
        self.block.args[0].name_hint = "input"
        self.block.args[1].name_hint = "target"

        # 1. forward: clone @forward's ops.
        value_map: dict[SSAValue, SSAValue] = {fwd_block.args[0]: self.block.args[0]}
        forward_ops: list[Operation] = []
        result: SSAValue | None = None
        samples: list[qtrain.ReparameterizeOp] = []
        for o in fwd_block.ops:
            if isinstance(o, func.ReturnOp):
                result = value_map[o.arguments[0]]
                break
            if isinstance(o, qtrain.ReparameterizeOp):
                if self.opts.loss != "elbo":
                    raise _fail(
                        f"{o.name} (op #{list(fwd_block.ops).index(o)} of @{self.opts.forward}) samples a latent "
                        f"and needs loss 'elbo', got '{self.opts.loss}'"
                    )
                clone = self._training_sample(o, value_map)
                samples.append(clone)
            else:
                clone = o.clone(value_mapper=value_map)
            for old, new in zip(o.results, clone.results):
                value_map[old] = new
                new.name_hint = old.name_hint
            self.emit(clone)
            forward_ops.append(clone)
        assert result is not None

        self._check_sparse_uses(forward_ops)

        # 2. loss and its gradient (the seed of the backward pass).
        target = self.block.args[1]
        if self.opts.loss == "cross_entropy":
            loss = self.emit(qtrain.SoftmaxCrossEntropyOp(result, target)).results[0]
            self.adjoint[result] = self.emit(qtrain.SoftmaxCrossEntropyGradOp(result, target)).results[0]
        elif self.opts.loss == "mse" or self.opts.recon == "mse":
            loss = self.emit(qtrain.MseOp(result, target)).results[0]
            self.adjoint[result] = self.emit(qtrain.MseGradOp(result, target)).results[0]
        else:
            # BCE on the logits of the output sigmoid: the sigmoid is not differentiated
            # (no adjoint reaches its output), sigmoid_bce_grad seeds its input directly.
            owner = result.owner
            if not isinstance(owner, qtrain.SigmoidOp):
                raise _fail(
                    f"recon 'bce' needs @{self.opts.forward} to return the output of a qtrain.sigmoid "
                    f"(it trains on the sigmoid's logits), got {getattr(owner, 'name', 'an argument')}"
                )
            logits = owner.input
            loss = self.emit(qtrain.SigmoidBceOp(logits, target)).results[0]
            self.adjoint[logits] = self.emit(qtrain.SigmoidBceGradOp(logits, target)).results[0]
        if self.opts.loss == "elbo":
            if not samples:
                raise _fail(f"loss 'elbo' needs a qtrain.reparameterize in @{self.opts.forward}")
            beta = self.opts.kl_weight
            for s in samples:
                kl = self.emit(qtrain.KlDivergenceOp(s.mu, s.logvar, beta)).results[0]
                kl.name_hint = "kl"
                loss = self.emit(qtrain.AddOp(loss, kl)).results[0]
                self.accumulate(s.mu, self.emit(qtrain.KlDivergenceGradMuOp(s.mu, beta)).results[0])
                self.accumulate(s.logvar, self.emit(qtrain.KlDivergenceGradLogvarOp(s.logvar, beta)).results[0])
        loss.name_hint = "loss"

        # 3. backward, in reverse program order.
        for o in reversed(forward_ops):
            if isinstance(o, qtrain.LoadOp):
                grad = self.adjoint.get(o.result)
                p = self.params.get(o.symbol.root_reference.data)
                if grad is not None and p is not None and p.is_trainable:
                    self.param_grads.setdefault(p.sym_name.data, []).append(grad)
                continue
            if not any(r in self.adjoint for r in o.results):
                continue
            self.backward(o)

        # 4. optimizer updates, then the batch position advance.
        batch_pos: SSAValue | None = None
        pos_sym: SymbolRefAttr | None = None
        if self.opts.batch_size > 1:
            pos_sym = self.state("batch_pos", TensorType(i32, []))
            load = self.emit(qtrain.LoadOp(pos_sym, TensorType(i32, [])))
            batch_pos = load.results[0]
            batch_pos.name_hint = "batch_pos"
        # Declaration order, so state symbols and updates read like the model.
        for name, p in self.params.items():
            if name in self.param_grads:
                self.update(p, self.param_grads[name], batch_pos)
        if pos_sym is not None:
            self.emit(
                qtrain.CounterStepOp.create(
                    properties={"counter": pos_sym, "modulo": IntegerAttr(self.opts.batch_size, i64)}
                )
            )
        if self.rng_step is not None:
            self.emit(
                qtrain.CounterStepOp.create(
                    properties={"counter": self.rng_step, "modulo": IntegerAttr(RNG_STEP_MODULO, i64)}
                )
            )
        self.emit(func.ReturnOp(loss))

        if not self.param_grads:
            raise _fail("no trainable parameter influences the loss")
        train = func.FuncOp(
            "train_step", ([in_types[0], target_type], [TensorType(f32, [])]), Region(self.block)
        )
        self.rewriter.insert_op(train, InsertPoint.after(self.fwd))
        last_symbol = [o for o in self.module.ops if isinstance(o, qtrain.ParamOp | qtrain.StateOp)][-1]
        if self.new_states:
            self.rewriter.insert_op(self.new_states, InsertPoint.after(last_symbol))

    def _training_sample(
        self, o: qtrain.ReparameterizeOp, value_map: dict[SSAValue, SSAValue]
    ) -> qtrain.ReparameterizeOp:
        """The training copy of a sampling op: it reads the step counter (one i32 state
        `rng.step` for the whole step, advanced at its end), so eps is fresh every step."""
        if self.rng_step_value is None:
            self.rng_step = self.state("rng.step", TensorType(i32, []))
            load = self.emit(qtrain.LoadOp(self.rng_step, TensorType(i32, [])))
            self.rng_step_value = load.results[0]
            self.rng_step_value.name_hint = "rng_step"
        return qtrain.ReparameterizeOp(
            value_map[o.mu], value_map[o.logvar], o.seed.value.data, self.rng_step_value
        )

    def _check_sparse_uses(self, ops: list[Operation]) -> None:
        """Sparse `channels` select output-channel rows of a conv/dense weight; anywhere
        else they have no meaning, so say so instead of emitting mis-shaped updates."""
        for o in ops:
            if not isinstance(o, qtrain.LoadOp):
                continue
            p = self.param_of(o.result)
            if p is None or not p.is_trainable or "channels" not in p.attributes:
                continue
            for use in o.result.uses:
                user = use.operation
                if not (isinstance(user, qtrain.Conv2dOp | qtrain.DenseOp) and use.index == 1):
                    raise _fail(
                        f"@{p.sym_name.data} has sparse channels but is used by {user.name} "
                        f"({_where(user, self.opts.forward)}) as operand {use.index}; channels apply only to conv2d/dense weights"
                    )

    def _target_type(self, out_type: TensorType) -> TensorType:
        # elbo: the reconstruction target is shaped like the output (the driver passes the input).
        shape = list(out_type.get_shape())
        if self.opts.loss == "cross_entropy":
            if len(shape) != 2:
                raise _fail(
                    f"cross_entropy needs @{self.opts.forward} to return [N, classes] logits, got {out_type}"
                )
            return TensorType(i32, [shape[0]])
        return out_type

    # -- per-op derivatives -----------------------------------------------------------------

    def backward(self, o: Operation) -> None:
        handler = _HANDLERS.get(type(o))
        if handler is None:
            raise _fail(f"{o.name} ({_where(o, self.opts.forward)}) has no derivative; autodiff supports {_supported()}")
        handler(self, o)

    def needs_grad(self, value: SSAValue) -> bool:
        """The model input and frozen constants need no gradient; everything else may."""
        if isinstance(value.owner, Block):
            return False
        if isinstance(value.owner, qtrain.LoadOp):
            p = self.param_of(value)
            return p is not None and p.is_trainable
        return True

    def weight_param(self, o: Operation, w: SSAValue, what: str) -> qtrain.ParamOp | None:
        p = self.param_of(w)
        if p is None and not isinstance(w.owner, qtrain.LoadOp):
            raise _fail(f"{o.name} ({_where(o, self.opts.forward)}): the {what} must be loaded from a qtrain.param")
        return p

    def update(self, p: qtrain.ParamOp, grads: list[SSAValue], batch_pos: SSAValue | None) -> None:
        g = grads[0]
        for extra in grads[1:]:
            g = self.emit(qtrain.AddOp(g, extra)).results[0]
        name = p.sym_name.data
        ch = p.attributes.get("channels")
        grad_type = g.type
        assert isinstance(grad_type, TensorType)
        props: dict = {"param": SymbolRefAttr(name), "lr": _f64(self.opts.lr)}
        if ch is not None:
            props["channels"] = ch
        operands: list[SSAValue | None] = [g, batch_pos]
        if batch_pos is not None:
            props["accumulator"] = self.state(f"{name}.grad_acc", grad_type)
            props["every"] = IntegerAttr(self.opts.batch_size, i64)
        full = p.type
        match self.opts.optimizer:
            case "sgd":
                op_cls: type[Operation] = qtrain.SgdUpdateOp
            case "momentum":
                op_cls = qtrain.MomentumUpdateOp
                props["velocity"] = self.state(f"{name}.velocity", full)
                props["momentum"] = _f64(self.opts.momentum)
            case _:
                op_cls = qtrain.AdamUpdateOp
                props["first_moment"] = self.state(f"{name}.adam_m", full)
                props["second_moment"] = self.state(f"{name}.adam_v", full)
                props["step"] = self.state(f"{name}.adam_step", TensorType(i32, []))
                props["beta1"] = _f64(self.opts.beta1)
                props["beta2"] = _f64(self.opts.beta2)
                props["eps"] = _f64(self.opts.eps)
        self.emit(op_cls.create(operands=[v for v in operands if v is not None], properties=props))


def _conv(d: _Differentiator, o: qtrain.Conv2dOp) -> None:
    dy = d.adjoint[o.output]
    x_type = o.input.type
    w_type = o.weight.type
    assert isinstance(x_type, TensorType) and isinstance(w_type, TensorType)
    d.weight_param(o, o.weight, "weight")
    if d.needs_grad(o.input):
        d.accumulate(o.input, d.emit(qtrain.Conv2dGradInputOp(dy, o.weight, x_type, o)).results[0])
    if d.needs_grad(o.weight):
        d.accumulate(
            o.weight,
            d.emit(qtrain.Conv2dGradWeightOp(o.input, dy, w_type, o, d.channels_of(o.weight))).results[0],
        )
    if o.bias is not None and d.needs_grad(o.bias):
        d.weight_param(o, o.bias, "bias")
        d.accumulate(o.bias, d.emit(qtrain.Conv2dGradBiasOp(dy)).results[0])


def _dense(d: _Differentiator, o: qtrain.DenseOp) -> None:
    dy = d.adjoint[o.output]
    d.weight_param(o, o.weight, "weight")
    if d.needs_grad(o.input):
        d.accumulate(o.input, d.emit(qtrain.DenseGradInputOp(dy, o.weight)).results[0])
    if d.needs_grad(o.weight):
        d.accumulate(
            o.weight, d.emit(qtrain.DenseGradWeightOp(o.input, dy, d.channels_of(o.weight))).results[0]
        )
    if o.bias is not None and d.needs_grad(o.bias):
        d.weight_param(o, o.bias, "bias")
        d.accumulate(o.bias, d.emit(qtrain.DenseGradBiasOp(dy)).results[0])


def _relu(d: _Differentiator, o: qtrain.ReluOp) -> None:
    if d.needs_grad(o.input):
        d.accumulate(o.input, d.emit(qtrain.ReluGradOp(d.adjoint[o.output], o.output)).results[0])


def _relu6(d: _Differentiator, o: qtrain.Relu6Op) -> None:
    if d.needs_grad(o.input):
        d.accumulate(o.input, d.emit(qtrain.Relu6GradOp(d.adjoint[o.output], o.output)).results[0])


def _add(d: _Differentiator, o: qtrain.AddOp) -> None:
    dy = d.adjoint[o.output]
    for v in (o.lhs, o.rhs):
        if d.needs_grad(v):
            d.accumulate(v, dy)


def _maxpool(d: _Differentiator, o: qtrain.MaxPool2dOp) -> None:
    if d.needs_grad(o.input):
        d.accumulate(o.input, d.emit(qtrain.MaxPool2dGradOp(d.adjoint[o.output], o.input, o)).results[0])


def _avgpool(d: _Differentiator, o: qtrain.AvgPool2dOp) -> None:
    if d.needs_grad(o.input):
        t = o.input.type
        assert isinstance(t, TensorType)
        d.accumulate(o.input, d.emit(qtrain.AvgPool2dGradOp(d.adjoint[o.output], t, o)).results[0])


def _global_avgpool(d: _Differentiator, o: qtrain.GlobalAvgPoolOp) -> None:
    if d.needs_grad(o.input):
        t = o.input.type
        assert isinstance(t, TensorType)
        d.accumulate(o.input, d.emit(qtrain.GlobalAvgPoolGradOp(d.adjoint[o.output], t)).results[0])


def _reshape_like(d: _Differentiator, o: qtrain.ReshapeOp | qtrain.FlattenOp) -> None:
    if d.needs_grad(o.input):
        shape = qtrain.tensor_shape(o.input)
        d.accumulate(o.input, d.emit(qtrain.ReshapeOp(d.adjoint[o.output], shape)).results[0])


def _batchnorm(d: _Differentiator, o: qtrain.BatchNormOp) -> None:
    dy = d.adjoint[o.output]
    for v, what in ((o.mean, "running mean"), (o.var, "running variance")):
        p = d.param_of(v)
        if p is not None and p.is_trainable:
            raise _fail(f"{o.name} ({_where(o, d.opts.forward)}): the {what} @{p.sym_name.data} cannot be trainable")
    if d.needs_grad(o.input):
        d.accumulate(o.input, d.emit(qtrain.BatchNormGradInputOp(dy, o.gamma, o.var, o.epsilon)).results[0])
    if d.needs_grad(o.gamma):
        d.accumulate(
            o.gamma, d.emit(qtrain.BatchNormGradGammaOp(dy, o.input, o.mean, o.var, o.epsilon)).results[0]
        )
    if d.needs_grad(o.beta):
        d.accumulate(o.beta, d.emit(qtrain.BatchNormGradBetaOp(dy)).results[0])


def _conv_transpose(d: _Differentiator, o: qtrain.ConvTranspose2dOp) -> None:
    """conv_transpose2d(x, W) is conv2d_grad_input(x, W) of a conv2d with the same weight, so
    its input gradient is that conv2d of dy, and its weight gradient the conv2d weight
    gradient with input and error swapped (dW[ci, co] = sum x[ci] * dy[co, window])."""
    dy = d.adjoint[o.output]
    x_type, w_type = o.input.type, o.weight.type
    assert isinstance(x_type, TensorType) and isinstance(w_type, TensorType)
    d.weight_param(o, o.weight, "weight")
    if d.needs_grad(o.input):
        d.accumulate(o.input, d.emit(qtrain.ConvTranspose2dGradInputOp(dy, o.weight, x_type, o)).results[0])
    if d.needs_grad(o.weight):
        as_conv = _ConvView(o.stride, o.padding, IntegerAttr(1, i64))
        d.accumulate(o.weight, d.emit(qtrain.Conv2dGradWeightOp(dy, o.input, w_type, as_conv)).results[0])  # type: ignore[arg-type]
    if o.bias is not None and d.needs_grad(o.bias):
        d.weight_param(o, o.bias, "bias")
        d.accumulate(o.bias, d.emit(qtrain.Conv2dGradBiasOp(dy)).results[0])


@dataclass(frozen=True)
class _ConvView:
    """The conv2d whose input gradient a conv_transpose2d is (stride, padding, groups)."""

    stride: object
    padding: object
    groups: object


def _sigmoid(d: _Differentiator, o: qtrain.SigmoidOp) -> None:
    if d.needs_grad(o.input):
        d.accumulate(o.input, d.emit(qtrain.SigmoidGradOp(d.adjoint[o.output], o.output)).results[0])


def _exp(d: _Differentiator, o: qtrain.ExpOp) -> None:
    if d.needs_grad(o.input):
        d.accumulate(o.input, d.emit(qtrain.ExpGradOp(d.adjoint[o.output], o.output)).results[0])


def _reparameterize(d: _Differentiator, o: qtrain.ReparameterizeOp) -> None:
    dz = d.adjoint[o.output]
    assert o.step is not None  # the training copy (see _training_sample)
    if d.needs_grad(o.mu):
        d.accumulate(o.mu, dz)
    if d.needs_grad(o.logvar):
        d.accumulate(
            o.logvar,
            d.emit(qtrain.ReparameterizeGradLogvarOp(dz, o.logvar, o.step, o.seed.value.data)).results[0],
        )


_HANDLERS: dict[type[Operation], Callable[[_Differentiator, Operation], None]] = {
    qtrain.ConvTranspose2dOp: _conv_transpose,  # type: ignore[dict-item]
    qtrain.SigmoidOp: _sigmoid,  # type: ignore[dict-item]
    qtrain.ExpOp: _exp,  # type: ignore[dict-item]
    qtrain.ReparameterizeOp: _reparameterize,  # type: ignore[dict-item]
    qtrain.Conv2dOp: _conv,  # type: ignore[dict-item]
    qtrain.DenseOp: _dense,  # type: ignore[dict-item]
    qtrain.ReluOp: _relu,  # type: ignore[dict-item]
    qtrain.Relu6Op: _relu6,  # type: ignore[dict-item]
    qtrain.AddOp: _add,  # type: ignore[dict-item]
    qtrain.MaxPool2dOp: _maxpool,  # type: ignore[dict-item]
    qtrain.AvgPool2dOp: _avgpool,  # type: ignore[dict-item]
    qtrain.GlobalAvgPoolOp: _global_avgpool,  # type: ignore[dict-item]
    qtrain.ReshapeOp: _reshape_like,  # type: ignore[dict-item]
    qtrain.FlattenOp: _reshape_like,  # type: ignore[dict-item]
    qtrain.BatchNormOp: _batchnorm,  # type: ignore[dict-item]
}


def _supported() -> str:
    return ", ".join(sorted(cls.name for cls in _HANDLERS))  # type: ignore[attr-defined]
