"""qtrain-quantize: fully quantized training (Deutel et al., TCAD 2024) as explicit IR.

Runs on the training level, after qtrain-autodiff and qtrain-prune-frozen-backward, and
rewrites `@train_step` and `@forward` so that every weight, activation and (with
`errors=int8`) every error tensor is 8-bit, every layer accumulates in int32, and every scale
adapts at run time through explicit ops (dialects/qtrain_fqt.py):

    %x  = qtrain.load @fc1.weight : tensor<32x784xf32>         (float param, float layers)
      ↓
    qtrain.param @fc1.weight trainable : tensor<32x784x!qtrain.q<si8, asym>> {qtrain.scale = @fc1.weight.scale, ...}
    %acc = qtrain.qdense_acc %x[%zx], %w[%zw], %b[%sacc]     int32 accumulator (scale sx·sw)
    %r   = qtrain.minmax %acc scale %sacc                      observed range
    %r2  = qtrain.ema %r_old, %r alpha 1.0e-01                 moving average → state
    %s   = qtrain.range_scale %r2 for !qtrain.q<ui8, asym>     scale/zero-point re-derived
    %y   = qtrain.requantize_acc %acc[%sacc] -> [%s, %z]

Why after autodiff and not before it (as ../shared/DESIGN.md first sketched): the paper's
backward is not the derivative of the quantized forward. Every error tensor gets its own
tracked range and every layer's backward is a straight-through integer op, so each float op
of the already-derived training step maps 1:1 onto its integer counterpart; doing it here
keeps autodiff float-only (checked against PyTorch) and keeps the pruning decisions.

Weight update, `update=fused` (the default; runtime/fqt.py "Fused row-by-row update"): the
grid (scale/zero-point) of each weight is *held* between steps and each step changes only
the rows it updates, in integers on that grid:

    qtrain.qdense_grad_weight_sgd(%x, %zx, %e, %ze, %sg, %sw, %zw[, %idx, %k], %step)
        <{param = @fc1.weight, row_range = @fc1.weight.row_range, lr, rounding, seed}>
    qtrain.qweight_regrid @fc1.weight rows @fc1.weight.row_range scale @fc1.weight.scale
        zero_point @fc1.weight.zero_point headroom 0.0

A conv-transpose weight [Cin, Cout, kh, kw] takes `qtrain.qconv_transpose2d_grad_weight_sgd`
(rows = input channels, every row updated).
The fused op computes one int32 gradient row at a time (no [O, ...] gradient buffer) and
adds round(−lr·s_g·g/s_w) (stochastic rounding in 1/65536 steps) to w − z; it records each
updated row's [min, max] before clamping in the `row_range` state (int32 [O, 2]). The
regrid reads only those O pairs: the grid is replaced (every weight re-expressed, round to
nearest) only when a value went past it or the values need less than half of it; the new
grid is the range plus `headroom`·span per side. So rows a partial update does not select
cost nothing. Why not a range from the previous step's EMA with a fresh grid every step
(the paper's scheme, `update=requantize` below): re-expressing every weight on a new grid
each step is a full pass of per-element float work (measured: 65 % of the u8 step on the
Cortex-M4) and defeats partial updates. Headroom: measured on 1000 MNIST samples (CNN, lr
0.05, test accuracy): headroom 0 → 54.8 %, 0.03 → 44.2 %, 0.0625 → 45.0 %, 0.125 → 49.2 %,
0.5 → 24.2 %, requantize → 51.6 %: resolution matters more than the regrids it saves, so the
default is 0 (the grid follows the range as soon as a value leaves it).

Weight update, `update=requantize` (no float master weights, paper eq. for w'): `qtrain.grad_stats` normalises
the int32 weight gradient per row (`normalize=standardize`: (g − mean)/std; `qas`: the Tiny
Training Engine's s_g/s_w²; `none`), `qtrain.qsgd_range` gives the range of the updated
weights, its EMA (α_w) gives the new scale/zero-point, and `qtrain.qsgd_update` writes the
requantized weights (nearest or stochastic rounding, seeded, stream position = the
`@qtrain.step` counter). Biases stay f32 (a few hundred bytes; adding them in the int32
accumulator is exact up to one rounding of b/s); their gradient is `qtrain.qgrad_bias` of the
int8 error (dequantized element by element as it is summed: no f32 copy of the error, whose
12.5 kB for a 16x14x14 layer once set the VAE's peak).

Defaults, measured (MNIST CNN, 800 samples, interpreter; benchmarks/fqt.py has the full runs):
`normalize=none` with stochastic rounding and α_w = 0.1 follows fp32 SGD closely (66 % vs 68 %
test accuracy at lr 0.05), while the paper's α_w = 0.001 clips weights that want to grow
(39 %), and per-row standardisation needs a ~20× smaller lr and still lags (43 % at lr 0.003;
α_w = 1 diverges). Errors use α_e = 1 (each error tensor's own range): on Fashion-MNIST (first
5000 samples, 1 epoch, the benchmark CNN) u8 reaches 76.27 % with α_e = 1 against 69.44 % with
the paper's 0.1 (fp32: 76.59 %) — error magnitudes change from sample to sample far faster
than an average follows. The paper's settings stay available as options.

Schemes: `u8-asym` — activations ui8 asymmetric; weights and errors stored as si8
asymmetric, which is the paper's uint8 grid shifted by 128 (same 256 levels, same real
values; lets one set of int8 kernels serve both schemes). `s8-sym` — everything si8
symmetric (zero-point 0). `errors=f32` is the "mixed" variant: weights and activations 8-bit,
error tensors and weight gradients f32 (the float backward ops read dequantized operands).

The float ops that remain (the loss, its gradient, bias gradients) are marked `qtrain.c_f32`:
the interpreter evaluates them with the C kernels' exact f32 sequence (runtime/fqt.py), so the
quantized step is bit-exact between the interpreter and the generated C.

MobileNetV2-style networks: relu6 is fused into the preceding layer's accumulator
(`qtrain.acc_relu6`: clamp at floorf(6 / s_acc), exact on the accumulator grid; backward
`qtrain.qrelu6_grad` masks where the saved output is at 0 or at the grid point of 6);
depthwise/grouped convs keep their groups in every int8 conv op; a residual add is
`qtrain.qadd` (the f32 sum of the two dequantized values, element by element, quantized to
a tracked range `act.add<i>` observed by `qtrain.qadd_range` — no f32 tensor); the global
average pool is an int32 sum (`qtrain.qavgpool_acc`) at the input's scale / (H·W)
(`qtrain.scale_div`), whose backward repeats the int8 error over the plane at that scale
(`qtrain.qbroadcast_hw`, exact); and the two errors of a feature map read twice (a
residual block's input) are summed by `qtrain.qadd` with a range `err.add<i>`. Sparse
updates of some output channels (train mode=sparse, `conv.weight:0.5`) take the fused
update's selection from two constant states (`<w>.channels`, `<w>.channel_count`).

`errors=int16`: every error tensor is si16 (asymmetric with u8-asym, symmetric with s8-sym),
with the same tracked ranges; weights and activations stay 8-bit and the weights take the
fused update (the int16-error kernels are the fused row-by-row update's and the input
gradients', portable C). Those kernels sum exactly (int64) and saturate to int32: |e − ze|
up to 65535 (asymmetric) times an 8-bit |v − zv| up to 255 can pass int32 after 129
products (conv2's input gradient on the benchmark CNN sums 288), which an int32
accumulator would wrap. Not with conv-transposes or a global average pool yet (clear
errors).

`weights=per-channel` (with errors=int8 and the fused update): every conv/dense weight has
one scale and zero-point per output channel (row), initialised from the row's range, so a
row of small weights is not quantized on the grid of the largest row. The forward
accumulator has one scale per channel (`qtrain.scale_mul` of the input scale and the [O]
weight scales; `minmax`, `acc_relu6` and `requantize_acc` take it). The fused update steps
each row on its own grid and `qtrain.qweight_regrid` re-grids each row on its own (per-row
scale states), so a partial update's unselected rows still cost nothing. The input gradient
sums over output channels o of se·(e − ze)·sw[o]·(w − zw[o]): different scales per term, so
the int8 error is first put on one scale, `qtrain.qrescale_channels` (e16 = rint((e − ze) ·
sw[o]/max(sw) · 2^shift), int16, symmetric), and the int16 grad-input kernel sums
e16·(w − zw[o]) at scale se·max(sw)/2^shift. shift is the largest (<= 15) for which the
rescaled error fits int16 and the worst-case sum fits int32 (7 on the benchmark CNN's
dense layers, 6 for conv2's 288 products with u8-asym); the rounding costs at most half a
unit of that scale per term (tests/pytest/test_fqt_per_channel_reference.py). Why not
int16 errors: their |e − ze| up to 65535 leaves no room to rescale within int16 (refused).
Per-channel layers are not streamed (qtrain-stream-accumulators; the streamed kernels take
one weight scale), and conv-transposes are refused.

Not supported (clear errors): per-channel weights with int16/f32 errors, update=requantize or
conv-transposes, optimizers other than SGD,
mini-batch accumulation, and forward ops other than conv2d (any groups), dense, relu and
relu6 (fused into the preceding layer), add, global_avgpool, flatten and reshape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    Float32Type,
    IntegerAttr,
    i64,
    IntegerType,
    ModuleOp,
    Signedness,
    SymbolRefAttr,
    UnitAttr,
    TensorType,
    f32,
    i32,
)
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from odtc.dialects import qtrain as qt
from odtc.passes.prune_frozen_backward import annotate_saved
from odtc.runtime import fqt
from odtc.runtime.interpreter import init_state

SCHEMES = ("u8-asym", "s8-sym")
C_F32 = "qtrain.c_f32"  # runtime/interpreter.py: evaluate with the C kernel's f32 sequence
ERRORS = ("int8", "f32", "int16")
WEIGHTS = ("per-tensor", "per-channel")
UPDATES = ("fused", "requantize")
STEP = "qtrain.step"
ZERO = "qtrain.zero"
"""A constant 0 zero-point state (the rescaled errors of per-channel layers are symmetric)."""
LOSSES = (qt.SoftmaxCrossEntropyOp, qt.MseOp, qt.SigmoidBceOp)
"""The first loss op of a step: everything before it is forward."""
FLOAT_ISLANDS = (qt.KlDivergenceOp, qt.KlDivergenceGradMuOp, qt.KlDivergenceGradLogvarOp,
                 qt.ReparameterizeGradLogvarOp, qt.AddOp)
"""Backward ops of the VAE's latent that stay f32 (10 values each): they read float views of
int8 operands, and their results are quantized where an int8 op first reads them."""


def _fail(msg: str) -> PassFailedException:
    return PassFailedException(f"qtrain-quantize: {msg}")


def _qtype(signed: bool, symmetric: bool) -> qt.QuantType:
    sign = Signedness.SIGNED if signed else Signedness.UNSIGNED
    return qt.QuantType(IntegerType(8, sign), symmetric)


def _dense(ty: TensorType, values: list[Any]) -> DenseIntOrFPElementsAttr:
    return DenseIntOrFPElementsAttr.from_list(ty, values)


def _where(op: Operation) -> str:
    fn = op.parent_op()
    name = fn.sym_name.data if isinstance(fn, func.FuncOp) else "?"
    block = op.parent_block()
    idx = list(block.ops).index(op) if block is not None else -1
    return f"'{op.name}' (op #{idx} of @{name})"


@dataclass
class QInfo:
    value: SSAValue
    scale: SSAValue
    zero_point: SSAValue


@dataclass(frozen=True)
class QuantizePass(ModulePass):
    name = "qtrain-quantize"

    scheme: str = "u8-asym"
    errors: str = "int8"
    weights: str = "per-tensor"
    alpha_w: float = 0.1
    alpha_a: float = 0.1
    alpha_e: float = 1.0
    normalize: str = "none"
    rounding: str = "stochastic"
    seed: int = 0
    update: str = "fused"
    headroom: float = 0.0

    # -- options -------------------------------------------------------------------------

    def _check_options(self) -> None:
        if self.scheme not in SCHEMES:
            raise _fail(f"unknown scheme '{self.scheme}' (expected one of: {', '.join(SCHEMES)})")
        if self.errors not in ERRORS:
            raise _fail(f"unknown errors '{self.errors}' (expected one of: int8, int16, f32)")
        if self.weights not in WEIGHTS:
            raise _fail(f"unknown weights '{self.weights}' (expected per-tensor or per-channel)")
        if self.weights == "per-channel" and (self.update != "fused" or self.errors != "int8"):
            raise _fail(f"weights=per-channel needs update=fused and errors=int8 (got update={self.update}, "
                        f"errors={self.errors}): the per-row grids are kept by the fused update, and the "
                        "input gradient puts int8 errors on one int16 scale (qtrain.qrescale_channels)")
        if self.normalize not in fqt.NORMALIZATIONS:
            raise _fail(f"unknown normalize '{self.normalize}' (expected one of: {', '.join(fqt.NORMALIZATIONS)})")
        if self.rounding not in fqt.ROUNDINGS:
            raise _fail(f"unknown rounding '{self.rounding}' (expected nearest or stochastic)")
        for n, a in (("alpha-w", self.alpha_w), ("alpha-a", self.alpha_a), ("alpha-e", self.alpha_e)):
            if not 0.0 < a <= 1.0:
                raise _fail(f"{n} must be in (0, 1], got {a}")
        if self.update not in UPDATES:
            raise _fail(f"unknown update '{self.update}' (expected fused or requantize)")
        if self.errors == "int16" and self.update != "fused":
            raise _fail("errors=int16 needs update=fused (the int16-error kernels are the fused row-by-row update's)")
        if self.update == "fused":
            if self.errors == "f32":
                raise _fail("update=fused computes the weight gradient from integer errors; with errors=f32 use "
                            "update=requantize")
            if self.normalize != "none":
                raise _fail(f"update=fused applies plain SGD (normalize=none); normalize={self.normalize} needs "
                            "update=requantize")
            if not 0.0 <= self.headroom <= 1.0:
                raise _fail(f"headroom must be in [0, 1], got {self.headroom}")

    @property
    def fused(self) -> bool:
        return self.update == "fused"

    @property
    def act_type(self) -> qt.QuantType:
        return _qtype(signed=self.scheme == "s8-sym", symmetric=self.scheme == "s8-sym")

    @property
    def per_channel(self) -> bool:
        return self.weights == "per-channel"

    @property
    def weight_type(self) -> qt.QuantType:
        return _qtype(signed=True, symmetric=self.scheme == "s8-sym")

    @property
    def error_type(self) -> qt.QuantType:
        if self.errors == "int16":
            return qt.QuantType(IntegerType(16, Signedness.SIGNED), self.scheme == "s8-sym")
        return _qtype(signed=True, symmetric=self.scheme == "s8-sym")

    # -- entry ---------------------------------------------------------------------------

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        self._check_options()
        funcs = {f.sym_name.data: f for f in op.ops if isinstance(f, func.FuncOp)}
        train = funcs.get("train_step")
        if train is None:
            raise _fail("no @train_step: run qtrain-autodiff first")
        for o in train.body.walk():
            if isinstance(o, qt.QConv2dAccOp | qt.QDenseAccOp):
                raise _fail("@train_step is already quantized")
        rw = _Rewriter(self, op)
        rw.quantize_params(train)
        rw.rewrite(train, training=True)
        if "forward" in funcs:
            rw.rewrite(funcs["forward"], training=False)
        rw.finish()
        if "qtrain.saved_activation_bytes" in train.attributes:
            annotate_saved(train)  # the backward now reads 8-bit activations: refresh the sizes


class _Rewriter:
    def __init__(self, p: QuantizePass, module: ModuleOp) -> None:
        self.p = p
        self.module = module
        self.symbols: dict[str, Operation] = {
            o.sym_name.data: o for o in module.ops if isinstance(o, qt.ParamOp | qt.StateOp)
        }
        self.weights: set[str] = set()
        self.new_states: list[qt.StateOp] = []
        self.step_used = False

    # -- module symbols ------------------------------------------------------------------

    def _state(self, name: str, ty: TensorType, values: list[Any]) -> str:
        if name in self.symbols:
            return name
        st = qt.StateOp(name, ty, _dense(ty, values), {"qtrain.quantization": UnitAttr()})
        self.symbols[name] = st
        self.new_states.append(st)
        return name

    def _range_state(self, name: str) -> str:
        return self._state(name, TensorType(f32, [2]), [1.0, -1.0])

    def quantize_params(self, train: func.FuncOp) -> None:
        """Weights of conv2d/dense layers (found through the train step's uses) become 8-bit."""
        values = init_state(self.module)
        for o in train.body.walk():
            if isinstance(o, qt.Conv2dOp | qt.DenseOp | qt.ConvTranspose2dOp) and isinstance(o.weight.owner, qt.LoadOp):
                if isinstance(o, qt.ConvTranspose2dOp) and self.p.per_channel:
                    raise _fail(f"weights=per-channel: {_where(o)} is a conv_transpose2d, whose kernels take "
                                "per-tensor weights only; use weights=per-tensor")
                self.weights.add(o.weight.owner.symbol.root_reference.data)
        wt = self.p.weight_type
        for name in sorted(self.weights):
            param = self.symbols[name]
            assert isinstance(param, qt.ParamOp)
            if not isinstance(param.type.element_type, Float32Type):
                raise _fail(f"@{name} is not an f32 parameter ({param.type})")
            w = np.asarray(values[name], dtype=np.float32)
            shape = list(param.type.get_shape())
            if self.p.per_channel:
                # one grid per output channel (row, axis 0), from that row's range
                rows = w.reshape(shape[0], -1)
                pairs = [fqt.qparams(np.array([r.min(), r.max()], dtype=np.float32), wt.qmin, wt.qmax,
                                     wt.is_symmetric) for r in rows]
                s = np.array([float(p[0]) for p in pairs], dtype=np.float32)
                z = np.array([int(p[1]) for p in pairs], dtype=np.int64)
                bshape = (shape[0],) + (1,) * (len(shape) - 1)
                q = np.clip(np.rint((w / s.reshape(bshape)).astype(np.float32)) + z.reshape(bshape),
                            wt.qmin, wt.qmax).astype(np.int64)
                qtype = TensorType(qt.QuantType(wt.storage, wt.is_symmetric, 0), shape)
                sname = self._state(f"{name}.scale", TensorType(f32, [shape[0]]), [float(v) for v in s])
                zname = self._state(f"{name}.zero_point", TensorType(i32, [shape[0]]), [int(v) for v in z])
            else:
                rng = np.array([w.min(), w.max()], dtype=np.float32)
                s, z = fqt.qparams(rng, wt.qmin, wt.qmax, wt.is_symmetric)
                q = np.clip(np.rint((w / s).astype(np.float32)) + int(z), wt.qmin, wt.qmax).astype(np.int64)
                qtype = TensorType(wt, shape)
                sname = self._state(f"{name}.scale", TensorType(f32, []), [float(s)])
                zname = self._state(f"{name}.zero_point", TensorType(i32, []), [int(z)])
            init = _dense(TensorType(IntegerType(8), shape), [int(v) for v in q.ravel()])
            attrs = dict(param.attributes)
            attrs["qtrain.scale"] = SymbolRefAttr(sname)
            attrs["qtrain.zero_point"] = SymbolRefAttr(zname)
            if param.is_trainable and self.p.fused:
                rr = fqt.row_range_of(q, z)
                rname = self._state(f"{name}.row_range", TensorType(i32, [shape[0], 2]),
                                    [int(v) for v in rr.ravel()])
                attrs["qtrain.row_range"] = SymbolRefAttr(rname)
            elif param.is_trainable:
                rname = self._state(f"{name}.range", TensorType(f32, [2]), [float(rng[0]), float(rng[1])])
                attrs["qtrain.range"] = SymbolRefAttr(rname)
            new = qt.ParamOp(name, qtype, init, param.is_trainable, attrs)
            self.module.body.block.insert_op_before(new, param)
            self.module.body.block.erase_op(param)
            self.symbols[name] = new

    def finish(self) -> None:
        block = self.module.body.block
        anchor = next((o for o in block.ops if isinstance(o, func.FuncOp)), None)
        for st in self.new_states:
            if anchor is None:
                block.add_op(st)
            else:
                block.insert_op_before(st, anchor)

    # -- function rewrite ----------------------------------------------------------------

    def rewrite(self, fn: func.FuncOp, training: bool) -> None:
        self.fn = fn
        self.block: Block = fn.body.block
        self.training = training
        self.q: dict[SSAValue, QInfo] = {}  # float activation -> quantized
        self.e: dict[SSAValue, QInfo] = {}  # float error -> quantized (errors=int8)
        self.wq: dict[str, QInfo] = {}  # quantized weight loads by parameter name
        self.fused: set[SSAValue] = set()  # layer outputs whose relu became acc_relu
        self.deq: dict[SSAValue, SSAValue] = {}  # float views (dequantize) already made
        self.gq: dict[SSAValue, tuple[SSAValue, SSAValue]] = {}  # float grad -> (int32 grad, scale)
        # update=fused: float grad -> (grad-weight op, input, error, gradient scale), emitted at the update
        self.gfused: dict[SSAValue, tuple[qt.DenseGradWeightOp | qt.Conv2dGradWeightOp, QInfo, QInfo, SSAValue]] = {}
        self.convt_grads: set[SSAValue] = set()  # gfused keys that are conv-transpose weight gradients
        self.dead: list[Operation] = []
        self.site = 0
        self.float_sites = 0  # float errors quantized where an int8 op first reads them
        self.latents = 0
        self.adds = 0  # residual adds (act.add<i>) and error sums (err.add<i>) get a range each
        self.err_adds = 0
        self.pools = 0
        ops = list(self.block.ops)
        loss_seen = False
        for o in ops:
            self.anchor = o
            if isinstance(o, LOSSES):
                loss_seen = True
            if isinstance(o, func.ReturnOp):
                self._return(o)
            elif isinstance(o, qt.LoadOp):
                self._load(o)
            elif not loss_seen or isinstance(o, LOSSES):
                self._forward(o)
            else:
                self._backward(o)
        for o in reversed(self.dead):
            if any(r.uses for r in o.results):
                users = sorted({u.operation.name for r in o.results for u in r.uses})
                raise _fail(f"{_where(o)} is still used by {', '.join(users)} after quantization")
            self.block.erase_op(o)
        if training and self.step_used:
            step = qt.CounterStepOp.create(
                properties={"counter": SymbolRefAttr(STEP), "modulo": IntegerAttr(2**31 - 1, i64)}
            )
            last = self.block.last_op
            assert last is not None
            self.block.insert_op_before(step, last)

    # helpers ------------------------------------------------------------------------------

    def _ins(self, op: Operation) -> Operation:
        self.block.insert_op_before(op, self.anchor)
        return op

    def _v(self, op: Operation) -> SSAValue:
        self._ins(op)
        return op.results[0]

    def _load_sym(self, name: str) -> SSAValue:
        sym = self.symbols[name]
        ty = sym.type  # type: ignore[attr-defined]
        return self._v(qt.LoadOp(name, ty))

    def _qparams_of_range(self, r: SSAValue, qtype: qt.QuantType) -> tuple[SSAValue, SSAValue]:
        s = self._v(qt.RangeScaleOp(r, qtype))
        z = self._v(qt.RangeZeroPointOp(r, qtype))
        return s, z

    def _tracked(self, name: str, observed: SSAValue | None, alpha: float, qtype: qt.QuantType,
                 update: bool) -> tuple[SSAValue, SSAValue]:
        """Load the range state; with `update` fold the observation in and store it back."""
        rname = self._range_state(name)
        r = self._load_sym(rname)
        if update:
            assert observed is not None
            r = self._v(qt.EmaOp(r, observed, alpha))
            self._ins(qt.StoreOp(r, rname))
        return self._qparams_of_range(r, qtype)

    def _site(self, kind: str, op: Operation) -> str:
        """Range-state name of a layer's output (`act.<layer>`) or input error (`err.<layer>`),
        named after the layer's weight so @forward and @train_step share the activation ranges."""
        weight = getattr(op, "weight", None)
        name = None
        if weight is not None:
            for n, info in self.wq.items():
                if weight is info.value or self.q.get(weight) is info:
                    name = n
        if name is None:
            return f"{kind}.loss"
        return f"{kind}.{name.removesuffix('.weight')}"

    def _unsupported(self, o: Operation, why: str = "") -> PassFailedException:
        return _fail(f"unsupported op {_where(o)}{': ' + why if why else ''}")

    # loads ----------------------------------------------------------------------------------

    def _load(self, o: qt.LoadOp) -> None:
        name = o.symbol.root_reference.data
        if name not in self.weights:
            return
        p = self.symbols[name]
        assert isinstance(p, qt.ParamOp)
        new = self._v(qt.LoadOp(name, p.type))
        s = self._load_sym(f"{name}.scale")
        z = self._load_sym(f"{name}.zero_point")
        self.q[o.result] = QInfo(new, s, z)
        self.wq[name] = self.q[o.result]
        self.dead.append(o)

    # forward ------------------------------------------------------------------------------

    def _input(self, v: SSAValue) -> QInfo:
        """Quantize a float function argument (the model input) with a tracked range."""
        if v in self.q:
            return self.q[v]
        at = self.p.act_type
        name = "act.input.range"
        obs = self._v(qt.MinMaxOp(v)) if self.training else None
        s, z = self._tracked(name, obs, self.p.alpha_a, at, self.training)
        y = self._v(qt.QuantizeOp(v, s, z, at))
        info = QInfo(y, s, z)
        self.q[v] = info
        return info

    def _arg_name(self, v: SSAValue) -> str:
        return v.name_hint or "input"

    def _act(self, v: SSAValue, o: Operation) -> QInfo:
        if v in self.q:
            return self.q[v]
        if isinstance(v.owner, Block):
            return self._input(v)
        raise self._unsupported(o, f"its input comes from '{v.owner.name}', which qtrain-quantize cannot quantize")

    def _forward(self, o: Operation) -> None:
        if isinstance(o, qt.Conv2dOp | qt.DenseOp | qt.ConvTranspose2dOp):
            self._layer(o)
        elif isinstance(o, qt.ReparameterizeOp):
            self._sample(o)
        elif isinstance(o, qt.SigmoidOp | qt.ExpOp):
            # the output activation (returned in f32 by @forward): float on a dequantized input
            o.operands = [self._float(o.input)]  # type: ignore[misc]
            o.attributes[C_F32] = UnitAttr()
        elif isinstance(o, qt.ReluOp | qt.Relu6Op):
            if o.input not in self.fused:
                raise self._unsupported(o, f"a {o.name.removeprefix('qtrain.')} must directly follow a conv2d or "
                                           "dense layer (and be its only user)")
            self.dead.append(o)
        elif isinstance(o, qt.AddOp):
            a, b = self._act(o.lhs, o), self._act(o.rhs, o)
            # named by position: @forward and @train_step meet the residual adds in the same
            # order, so they share the ranges (as layers share theirs by weight name)
            self.q[o.output] = self._qadd(a, b, self.p.act_type, f"act.add{self.adds}.range",
                                          self.p.alpha_a, self.training)
            self.adds += 1
            self.dead.append(o)
        elif isinstance(o, qt.GlobalAvgPoolOp):
            x = self._act(o.input, o)
            h, w = qt.tensor_shape(o.input)[2:]
            acc = self._v(qt.QAvgPoolAccOp(x.value, x.zero_point))
            sacc = self._v(qt.ScaleDivOp(x.scale, h * w))
            at = self.p.act_type
            obs = self._v(qt.MinMaxOp(acc, sacc)) if self.training else None
            s, z = self._tracked(f"act.pool{self.pools}.range", obs, self.p.alpha_a, at, self.training)
            self.pools += 1
            self.q[o.output] = QInfo(self._v(qt.RequantizeAccOp(acc, sacc, s, z, at)), s, z)
            self.dead.append(o)
        elif isinstance(o, qt.FlattenOp | qt.ReshapeOp):
            x = self._act(o.input, o)
            shape = qt.tensor_shape(o.output)
            if isinstance(o, qt.FlattenOp):
                new = qt.FlattenOp(x.value, o.axis.value.data)
            else:
                new = qt.ReshapeOp(x.value, shape)
            self.q[o.output] = QInfo(self._v(new), x.scale, x.zero_point)
            self.dead.append(o)
        elif isinstance(o, LOSSES):
            if isinstance(o, qt.MseOp):
                raise self._unsupported(o, "quantized training supports the cross_entropy and elbo (reconstruction bce) losses")
            o.attributes[C_F32] = UnitAttr()
            pred = o.operands[0]
            x = self._act(pred, o)
            f = self._dequant(pred, x)
            o.operands = [f, *o.operands[1:]]  # type: ignore[misc]
        else:
            raise self._unsupported(o)

    def _qadd(self, a: QInfo, b: QInfo, qtype: qt.QuantType, site: str, alpha: float, track: bool) -> QInfo:
        """out = a + b requantized to a range of its own (`site`), without an f32 sum tensor."""
        operands = (a.value, a.scale, a.zero_point, b.value, b.scale, b.zero_point)
        obs = self._v(qt.QAddRangeOp(*operands)) if track else None
        s, z = self._tracked(site, obs, alpha, qtype, track)
        return QInfo(self._v(qt.QAddOp(*operands, s, z, qtype)), s, z)

    def _sample(self, o: qt.ReparameterizeOp) -> None:
        """z = mu + exp(logvar / 2) * eps in f32 on the dequantized mu and logvar (bit-exact
        already), then z quantized with its own tracked range for the decoder. Inference
        (no step) returns mu: z reuses mu's quantized value."""
        if o.step is None:
            self.q[o.output] = self._act(o.mu, o)
            self.dead.append(o)
            return
        o.operands = [self._float(o.mu), self._float(o.logvar), o.step]  # type: ignore[misc]
        at = self.p.act_type
        self.anchor = o.next_op  # type: ignore[assignment]
        obs = self._v(qt.MinMaxOp(o.output))
        name = "act.latent" if self.latents == 0 else f"act.latent{self.latents}"
        self.latents += 1
        s, z = self._tracked(f"{name}.range", obs, self.p.alpha_a, at, True)
        self.q[o.output] = QInfo(self._v(qt.QuantizeOp(o.output, s, z, at)), s, z)

    def _float(self, v: SSAValue) -> SSAValue:
        """A float view of an activation or error: dequantized if it is quantized."""
        if v in self.q:
            return self._dequant(v, self.q[v])
        if v in self.e:
            return self._dequant(v, self.e[v])
        return v

    def _dequant(self, v: SSAValue, x: QInfo) -> SSAValue:
        if v not in self.deq:
            self.deq[v] = self._v(qt.DequantizeOp(x.value, x.scale, x.zero_point))
        return self.deq[v]

    def _layer(self, o: qt.Conv2dOp | qt.DenseOp | qt.ConvTranspose2dOp) -> None:
        x = self._act(o.input, o)
        w = self.q.get(o.weight)
        if w is None:
            raise self._unsupported(o, "its weight is not a loaded parameter")
        sacc = self._v(qt.ScaleMulOp(x.scale, w.scale))
        if isinstance(o, qt.Conv2dOp):
            acc = self._v(qt.QConv2dAccOp(x.value, x.zero_point, w.value, w.zero_point, o.bias,
                                          sacc if o.bias is not None else None, o.stride, o.padding, o.groups))
        elif isinstance(o, qt.ConvTranspose2dOp):
            acc = self._v(qt.QConvTranspose2dAccOp(x.value, x.zero_point, w.value, w.zero_point, o.bias,
                                                   sacc if o.bias is not None else None, o))
        else:
            acc = self._v(qt.QDenseAccOp(x.value, x.zero_point, w.value, w.zero_point, o.bias,
                                         sacc if o.bias is not None else None))
        out = o.output
        users = [u.operation for u in out.uses]
        relu = users[0] if len(users) == 1 and isinstance(users[0], qt.ReluOp | qt.Relu6Op) else None
        if relu is not None:
            acc = self._v(qt.AccReluOp(acc) if isinstance(relu, qt.ReluOp) else qt.AccRelu6Op(acc, sacc))
            self.fused.add(out)
            out = relu.output
        at = self.p.act_type
        obs = self._v(qt.MinMaxOp(acc, sacc)) if self.training else None
        s, z = self._tracked(f"{self._site('act', o)}.range", obs, self.p.alpha_a, at, self.training)
        y = self._v(qt.RequantizeAccOp(acc, sacc, s, z, at))
        self.q[out] = QInfo(y, s, z)
        self.dead.append(o)

    def _return(self, o: func.ReturnOp) -> None:
        new_args = []
        for v in o.arguments:
            if v in self.q:
                new_args.append(self._dequant(v, self.q[v]))
            else:
                new_args.append(v)
        o.operands = new_args  # type: ignore[misc]

    # backward -----------------------------------------------------------------------------

    def _int8_errors(self) -> bool:
        """Integer error tensors (int8, or int16 with errors=int16): the integer backward."""
        return self.p.errors in ("int8", "int16")

    def _rescale_shift(self, o: Operation, k: int, wq: qt.QuantType) -> int:
        """weights=per-channel: the largest 2^shift (shift <= 15) at which the rescaled int8
        error (|e - ze| up to 255 asymmetric / 128 symmetric, times 2^shift) fits int16 and
        a sum of k products with the weights (|w - zw| up to 255 / 128) fits int32."""
        et = self.p.error_type
        emax = 128 if et.is_symmetric else 255
        vmax = 128 if wq.is_symmetric else 255
        shift = -1
        for m in range(16):
            if emax << m <= 32767 and (emax << m) * vmax * k <= 2**31 - 1:
                shift = m
        if shift < 0:
            raise _fail(f"weights=per-channel: the input gradient of {_where(o)} sums {k} products of up to "
                        f"{emax} x {vmax}, which can overflow its int32 accumulator even unscaled; use "
                        "weights=per-tensor")
        return shift

    def _err(self, v: SSAValue, o: Operation) -> QInfo:
        if v in self.e:
            return self.e[v]
        if isinstance(v.owner, FLOAT_ISLANDS):
            # a float error of the latent (KL gradient + the sample's, fan-out sums): int8
            # from here on, with a range of its own
            site = f"err.float{self.float_sites}.range"
            self.float_sites += 1
            et = self.p.error_type
            s, z = self._tracked(site, self._v(qt.MinMaxOp(v)), self.p.alpha_e, et, True)
            self.e[v] = QInfo(self._v(qt.QuantizeOp(v, s, z, et)), s, z)
            return self.e[v]
        raise self._unsupported(o, f"its error operand comes from '{v.owner.name}', which was not quantized")  # type: ignore[union-attr]

    def _quantize_error(self, out: SSAValue, f: SSAValue, o: Operation) -> None:
        """A float error (loss gradient) -> int8 with a tracked range."""
        et = self.p.error_type
        obs = self._v(qt.MinMaxOp(f))
        s, z = self._tracked(f"{self._site('err', o)}.range", obs, self.p.alpha_e, et, True)
        y = self._v(qt.QuantizeOp(f, s, z, et))
        self.e[out] = QInfo(y, s, z)

    def _requantize_error(self, out: SSAValue, acc: SSAValue, sacc: SSAValue, o: Operation) -> None:
        et = self.p.error_type
        obs = self._v(qt.MinMaxOp(acc, sacc))
        s, z = self._tracked(f"{self._site('err', o)}.range", obs, self.p.alpha_e, et, True)
        y = self._v(qt.RequantizeAccOp(acc, sacc, s, z, et))
        self.e[out] = QInfo(y, s, z)

    def _backward(self, o: Operation) -> None:
        if (isinstance(o, qt.AddOp) and self._int8_errors() and o.lhs in self.e and o.rhs in self.e
                and len(qt.tensor_shape(o.output)) == 4):
            # the two errors of a feature map used twice (a residual block's input): int8 +
            # int8 with a range of its own, no f32 tensor. Dense fan-outs (the VAE encoder's
            # output, read by the mu and logvar heads: 10s of values) keep the f32 sum below:
            # measured on the u8 VAE, qadd there lowers the step's bound to 18,272 B but the
            # planner then lands at 19,840 B, above today's 19,704 B.
            a, b = self.e[o.lhs], self.e[o.rhs]
            self.e[o.output] = self._qadd(a, b, self.p.error_type, f"err.add{self.err_adds}.range",
                                          self.p.alpha_e, True)
            self.err_adds += 1
            self.dead.append(o)
            return
        if isinstance(o, FLOAT_ISLANDS):
            o.operands = [self._float(v) if isinstance(v.type, TensorType) and v.type.element_type != i32 else v
                          for v in o.operands]  # type: ignore[misc]
            if isinstance(o, qt.KlDivergenceOp | qt.KlDivergenceGradMuOp | qt.KlDivergenceGradLogvarOp):
                o.attributes[C_F32] = UnitAttr()
            return
        if isinstance(o, qt.SoftmaxCrossEntropyGradOp | qt.MseGradOp | qt.SigmoidBceGradOp):
            o.attributes[C_F32] = UnitAttr()
            pred = o.operands[0]
            f = self._dequant(pred, self._act(pred, o))
            o.operands = [f, *o.operands[1:]]  # type: ignore[misc]
            if self._int8_errors():
                nxt = o.next_op
                assert nxt is not None  # the return follows
                self.anchor = nxt  # after the loss gradient
                self._quantize_error(o.results[0], o.results[0], o)
            return
        if isinstance(o, qt.SgdUpdateOp):
            self._update(o)
            return
        if isinstance(o, qt.CounterStepOp):  # the sampling counter (loss elbo)
            return
        if isinstance(o, qt.MomentumUpdateOp | qt.AdamUpdateOp) and o.param.root_reference.data in self.weights:
            raise self._unsupported(o, "quantized weights are updated with plain SGD (optimizer=sgd)")
        if self._int8_errors():
            self._backward_int8(o)
        else:
            self._backward_f32(o)

    def _backward_f32(self, o: Operation) -> None:
        """Mixed: float backward ops on dequantized weights/activations."""
        if isinstance(o, qt.DenseGradInputOp | qt.Conv2dGradInputOp | qt.DenseGradBiasOp | qt.Conv2dGradBiasOp
                      | qt.ReshapeOp | qt.FlattenOp):
            if isinstance(o, qt.DenseGradInputOp | qt.Conv2dGradInputOp):
                o.operands = [o.operands[0], self._float(o.weight)]  # type: ignore[misc]
            return
        if isinstance(o, qt.DenseGradWeightOp | qt.Conv2dGradWeightOp):
            # (a conv_transpose2d's weight gradient reads the activation as its "error")
            o.operands = [self._float(o.input), self._float(o.output_grad)]  # type: ignore[misc]
            return
        if isinstance(o, qt.ConvTranspose2dGradInputOp):
            o.operands = [o.operands[0], self._float(o.weight)]  # type: ignore[misc]
            return
        if isinstance(o, qt.ReluGradOp | qt.Relu6GradOp):
            o.operands = [o.output_grad, self._float(o.output)]  # type: ignore[misc]
            return
        if isinstance(o, qt.GlobalAvgPoolGradOp):
            return
        raise self._unsupported(o)

    def _backward_int8(self, o: Operation) -> None:
        if self.p.errors == "int16" and isinstance(o, qt.ConvTranspose2dGradInputOp | qt.GlobalAvgPoolGradOp):
            raise self._unsupported(o, "errors=int16 has no kernels for this op yet (use int8 errors)")
        if self.p.errors == "int16" and isinstance(o, qt.Conv2dGradWeightOp) and o.output_grad in self.q:
            raise self._unsupported(o, "errors=int16 has no conv_transpose2d kernels yet (use int8 errors)")
        if isinstance(o, qt.ConvTranspose2dGradInputOp):
            # the conv2d of the int8 error with the same weight, read as OIHW = [Cin, Cout]
            e = self._err(o.output_grad, o)
            w = self.q[o.weight]
            gi = qt.QConv2dAccOp(e.value, e.zero_point, w.value, w.zero_point, None, None,
                                 o.stride, o.padding, IntegerAttr(1, i64))
            gi.attributes["qtrain.backward"] = UnitAttr()  # backward work (MAC accounting, readers)
            acc = self._v(gi)
            sacc = self._v(qt.ScaleMulOp(e.scale, w.scale))
            self._requantize_error(o.input_grad, acc, sacc, o)
        elif isinstance(o, qt.Conv2dGradWeightOp) and o.output_grad in self.q:
            # a conv_transpose2d's weight gradient (autodiff swaps input and error): the
            # activation and the int8 error in their own roles
            x = self.q[o.output_grad]
            e = self._err(o.input, o)
            if self.p.fused:  # rows are the conv-transpose's input channels: qconv_transpose2d_grad_weight_sgd
                self.gfused[o.weight_grad] = (o, x, e, self._v(qt.ScaleMulOp(x.scale, e.scale)))
                self.convt_grads.add(o.weight_grad)
                self.dead.append(o)
                return
            g = self._v(qt.QConvTranspose2dGradWeightOp(x.value, x.zero_point, e.value, e.zero_point,
                                                        qt.tensor_shape(o.weight_grad), o.stride, o.padding))
            gs = self._v(qt.ScaleMulOp(x.scale, e.scale))
            self.gq[o.weight_grad] = (g, gs)
        elif isinstance(o, qt.DenseGradInputOp | qt.Conv2dGradInputOp):
            e = self._err(o.output_grad, o)
            w = self.q[o.weight]
            wshape = qt.tensor_shape(w.value)
            k = wshape[0] if isinstance(o, qt.DenseGradInputOp) else (wshape[0] // o.groups.value.data) * wshape[2] * wshape[3]
            ev, ez, sacc = e.value, e.zero_point, None
            if self.p.per_channel:
                # the sum over output channels o of se·(e − ze)·sw[o]·(w − zw[o]): the error
                # is put on one scale first (int16, sw[o]/max(sw) folded in, 2^shift finer)
                shift = self._rescale_shift(o, k, qt.element_type(w.value))  # type: ignore[arg-type]
                ev = self._v(qt.QRescaleChannelsOp(e.value, e.zero_point, w.scale, shift))
                ez = self._load_sym(self._state(ZERO, TensorType(i32, []), [0]))
                smax = self._v(qt.ScaleMaxOp(w.scale))
                sacc = self._v(qt.ScaleDivOp(self._v(qt.ScaleMulOp(e.scale, smax)), 2**shift))
            if isinstance(o, qt.DenseGradInputOp):
                acc = self._v(qt.QDenseGradInputOp(ev, ez, w.value, w.zero_point))
            else:
                acc = self._v(qt.QConv2dGradInputOp(ev, ez, w.value, w.zero_point,
                                                    qt.tensor_shape(o.input_grad), o.stride, o.padding, o.groups))
            if sacc is None:
                sacc = self._v(qt.ScaleMulOp(e.scale, w.scale))
            self._requantize_error(o.input_grad, acc, sacc, o)
        elif isinstance(o, qt.DenseGradWeightOp | qt.Conv2dGradWeightOp):
            if o.channels is not None and not self.p.fused:
                raise self._unsupported(o, "sparse (channels) weight updates need update=fused")
            e = self._err(o.output_grad, o)
            x = self._act(o.input, o)
            if self.p.fused:
                self.gfused[o.weight_grad] = (o, x, e, self._v(qt.ScaleMulOp(x.scale, e.scale)))
                self.dead.append(o)
                return
            if isinstance(o, qt.DenseGradWeightOp):
                g = self._v(qt.QDenseGradWeightOp(x.value, x.zero_point, e.value, e.zero_point))
            else:
                g = self._v(qt.QConv2dGradWeightOp(x.value, x.zero_point, e.value, e.zero_point,
                                                   qt.tensor_shape(o.weight_grad), o.stride, o.padding, o.groups))
            gs = self._v(qt.ScaleMulOp(x.scale, e.scale))
            self.gq[o.weight_grad] = (g, gs)
        elif isinstance(o, qt.DenseGradBiasOp | qt.Conv2dGradBiasOp):
            # the f32 bias gradient straight from the int8 error (no f32 copy of the error)
            e = self._err(o.operands[0], o)
            gb = self._v(qt.QGradBiasOp(e.value, e.scale, e.zero_point))
            o.results[0].replace_all_uses_with(gb)
        elif isinstance(o, qt.ReluGradOp):
            e = self._err(o.output_grad, o)
            y = self._act(o.output, o)
            r = self._v(qt.QReluGradOp(e.value, e.zero_point, y.value, y.zero_point))
            self.e[o.input_grad] = QInfo(r, e.scale, e.zero_point)
        elif isinstance(o, qt.Relu6GradOp):
            e = self._err(o.output_grad, o)
            y = self._act(o.output, o)
            r = self._v(qt.QRelu6GradOp(e.value, e.zero_point, y.value, y.scale, y.zero_point))
            self.e[o.input_grad] = QInfo(r, e.scale, e.zero_point)
        elif isinstance(o, qt.GlobalAvgPoolGradOp):
            # d/dx of the mean: the error spread over the plane, each value at 1/(H·W) of the
            # error's scale — the same int8 values, exactly
            e = self._err(o.output_grad, o)
            h, w = qt.tensor_shape(o.input_grad)[2:]
            r = self._v(qt.QBroadcastHwOp(e.value, h, w))
            self.e[o.input_grad] = QInfo(r, self._v(qt.ScaleDivOp(e.scale, h * w)), e.zero_point)
        elif isinstance(o, qt.ReshapeOp | qt.FlattenOp):
            e = self._err(o.input, o)
            shape = qt.tensor_shape(o.output)
            new = qt.ReshapeOp(e.value, shape)
            self.e[o.output] = QInfo(self._v(new), e.scale, e.zero_point)
        else:
            raise self._unsupported(o)
        self.dead.append(o)

    def _update(self, o: qt.SgdUpdateOp) -> None:
        name = o.param.root_reference.data
        if name not in self.weights:
            return  # a bias: stays f32
        if o.accumulator is not None:
            raise self._unsupported(o, "mini-batch accumulation (batch-size > 1) is not supported with qtrain-quantize")
        if o.channels is not None and not self.p.fused:
            raise self._unsupported(o, "sparse (channels) updates need update=fused")
        p = self.p
        w = self.wq.get(name)
        if w is None:
            raise self._unsupported(o, f"@{name} is updated but never loaded in @train_step")
        if p.fused:
            self._update_fused(o, name, w)
            return
        if o.grad in self.gq:
            g, gs = self.gq[o.grad]
        else:
            g, gs = o.grad, None  # mixed: f32 gradient (real-valued, scale 1)
        stats = self._v(qt.GradStatsOp(g, p.normalize, gs, w.scale if p.normalize == "qas" else None))
        lr = o.lr.value.data
        obs = self._v(qt.QSgdRangeOp(w.value, w.scale, w.zero_point, g, stats, lr))
        rname = f"{name}.range"
        sw2, zw2 = self._tracked(rname, obs, p.alpha_w, p.weight_type, True)
        step = None
        if p.rounding == "stochastic":
            self._state(STEP, TensorType(i32, []), [0])
            step = self._load_sym(STEP)
            self.step_used = True
        self._ins(qt.QSgdUpdateOp(name, g, stats, w.scale, w.zero_point, sw2, zw2, lr, p.rounding, p.seed, step))
        self._ins(qt.StoreOp(sw2, f"{name}.scale"))
        self._ins(qt.StoreOp(zw2, f"{name}.zero_point"))
        self.dead.append(o)

    def _update_fused(self, o: qt.SgdUpdateOp, name: str, w: QInfo) -> None:
        """update=fused: grad-weight + SGD step row by row on the held grid, then the grid for
        the next step (kept unless the row ranges say it no longer fits)."""
        p = self.p
        if o.grad not in self.gfused:
            raise self._unsupported(o, f"the gradient of @{name} does not come from a conv2d/dense grad-weight")
        gw, x, e, gs = self.gfused[o.grad]
        step = None
        if p.rounding == "stochastic":
            self._state(STEP, TensorType(i32, []), [0])
            step = self._load_sym(STEP)
            self.step_used = True
        lr = o.lr.value.data
        rows = f"{name}.row_range"
        common = (x.value, x.zero_point, e.value, e.zero_point, gs, w.scale, w.zero_point)
        select: tuple[SSAValue, SSAValue] | tuple[()] = ()
        channels = getattr(gw, "channels", None)
        if channels is not None:
            # sparse update of some output channels: the fused op's selection, from constant
            # states (the same list every step; qtrain-partial-update leaves such ops alone)
            chans = [int(c) for c in channels.get_values()]
            n_rows = qt.tensor_shape(e.value)[1]
            idx = self._state(f"{name}.channels", TensorType(i32, [n_rows]), chans + [-1] * (n_rows - len(chans)))
            cnt = self._state(f"{name}.channel_count", TensorType(i32, []), [len(chans)])
            select = (self._load_sym(idx), self._load_sym(cnt))
        if o.grad in self.convt_grads:
            assert isinstance(gw, qt.Conv2dGradWeightOp)
            if select:
                raise self._unsupported(o, "sparse (channels) updates of a conv_transpose2d weight are not supported")
            self._ins(qt.QConvTranspose2dGradWeightSgdOp(name, rows, *common, gw.stride, gw.padding, lr, p.rounding,
                                                         p.seed, step))
        elif isinstance(gw, qt.DenseGradWeightOp):
            self._ins(qt.QDenseGradWeightSgdOp(name, rows, *common, lr, p.rounding, p.seed, step, *select))
        else:
            self._ins(qt.QConv2dGradWeightSgdOp(name, rows, *common, gw.stride, gw.padding, gw.groups, lr,
                                                p.rounding, p.seed, step, *select))
        self._ins(qt.QWeightRegridOp(name, rows, f"{name}.scale", f"{name}.zero_point", p.headroom, p.rounding,
                                     p.seed, step))
        self.dead.append(o)
