"""`qtrain` ops for fully quantized training (FQT) and dynamic partial updates.

Emitted by `qtrain-quantize` and `qtrain-partial-update`; semantics (bit-exact, shared by
the interpreter and the C kernels) in `odtc.runtime.fqt`. Everything that adapts at run
time is an op here, never hidden inside a kernel:

* range tracking: `qtrain.minmax` observes a tensor's real [min, max], `qtrain.ema`
  folds it into a range state (moving average with the paper's α), and
  `qtrain.range_scale` / `qtrain.range_zero_point` derive the quantization parameters;
* layers accumulate in int32 (`qtrain.qconv2d_acc`, `qtrain.qdense_acc`, and the backward
  `qtrain.q*_grad_input` / `qtrain.q*_grad_weight`); an accumulator is a
  `!qtrain.q<si32, sym>` tensor whose scale is the product of its operands' scales
  (`qtrain.scale_mul`) and whose zero-point is 0, so accumulator ops take only a scale;
  `qtrain.requantize_acc` brings it back to 8 bits with the freshly derived parameters;
* weights are updated without float master copies: `qtrain.grad_stats` normalises the
  weight gradient per row (standardisation, QAS or none), `qtrain.qsgd_range` computes the
  range of the updated weights, and `qtrain.qsgd_update` writes the requantized weights
  (nearest or stochastic rounding);
* or (qtrain-quantize update=fused) `qtrain.q{dense,conv2d}_grad_weight_sgd` compute
  and apply the gradient row by row on the held grid, keeping each row's range in a
  `row_range` state, and `qtrain.qweight_regrid` replaces the grid only when those ranges
  say it no longer fits;
* partial updates: `qtrain.topk_count` computes k from the loss, `qtrain.topk_structures`
  picks the k rows with the largest error, and the grad-weight / stats / update ops take
  the selection (`select %idx, %k`).

Ops with several optional operands (qconv2d_acc, qdense_acc, q*_grad_weight, grad_stats,
qsgd_range, qsgd_update, q*_grad_weight_sgd) print in the generic form — xDSL's declarative format cannot
infer their operand types — so the custom forms in their docstrings are notation only.
"""

from __future__ import annotations

from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    Float64Type,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    Signedness,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    UnitAttr,
    f32,
    i32,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
)

from odtc.dialects.qtrain import (
    ParamOp,
    QuantType,
    StateOp,
    _check_groups,  # pyright: ignore[reportPrivateUsage]
    _err,  # pyright: ignore[reportPrivateUsage]
    _fmt,  # pyright: ignore[reportPrivateUsage]
    _ints,  # pyright: ignore[reportPrivateUsage]
    _lookup,  # pyright: ignore[reportPrivateUsage]
    _module_of,  # pyright: ignore[reportPrivateUsage]
    _require_f32,  # pyright: ignore[reportPrivateUsage]
    _require_quant,  # pyright: ignore[reportPrivateUsage]
    _require_rank,  # pyright: ignore[reportPrivateUsage]
    _require_shape,  # pyright: ignore[reportPrivateUsage]
    _require_tensor,  # pyright: ignore[reportPrivateUsage]
    _tensor,  # pyright: ignore[reportPrivateUsage]
    conv_output_hw,
    element_type,
    tensor_shape,
)

ROUNDINGS = ("nearest", "stochastic")
MASK_ELT = IntegerType(8, Signedness.UNSIGNED)
"""Element type of packed 1-bit masks (`qtrain.qrelu_mask`): 8 elements per byte."""
NORMALIZATIONS = ("standardize", "qas", "none")


def acc_type() -> QuantType:
    return QuantType(IntegerType(32, Signedness.SIGNED), True)


def is_acc(elt: object) -> bool:
    return (
        isinstance(elt, QuantType)
        and elt.storage.width.data == 32
        and elt.is_signed
        and elt.is_symmetric
        and elt.per_channel_axis is None
    )


def _scalar(op: Operation, what: str, v: SSAValue, elt: object = f32) -> None:
    t = _require_tensor(op, what, v)
    if t.get_shape() or t.element_type != elt:
        raise _err(op, f"{what} must be tensor<{elt}>, got {v.type}")


def _zp(op: Operation, what: str, v: SSAValue) -> None:
    _scalar(op, f"{what} zero-point", v, i32)


def _per_channel(op: Operation, what: str, v: SSAValue, channels: int, elt: object = f32) -> None:
    """A scale or zero-point that is one value (tensor<elt>) or one per channel (tensor<Cxelt>)."""
    t = _require_tensor(op, what, v)
    if t.element_type != elt or tuple(t.get_shape()) not in ((), (channels,)):
        raise _err(op, f"{what} must be tensor<{elt}> or tensor<{channels}x{elt}> (one per channel), got {v.type}")


def _channels(op: Operation, what: str, v: SSAValue, channels: int, elt: object = f32) -> None:
    """One value per output channel of a per-channel weight: tensor<Cxelt>."""
    t = _require_tensor(op, what, v)
    if t.element_type != elt or tuple(t.get_shape()) != (channels,):
        raise _err(op, f"{what} of per-channel weights must be tensor<{channels}x{elt}> (one per channel), got {v.type}")


def _q8_weight(op: Operation, what: str, w: SSAValue, zw: SSAValue) -> QuantType:
    """An 8-bit weight, per tensor or per output channel (axis 0), with a matching zero-point."""
    q = _q8(op, what, w, per_tensor=False)
    rows = tensor_shape(w)[0]
    if q.per_channel_axis is None:
        _zp(op, what, zw)
    else:
        if q.per_channel_axis != 0:
            raise _err(op, f"{what} must be quantized per tensor or per output channel (axis 0), got {q}")
        _channels(op, f"{what} zero-point", zw, rows, i32)
    return q


def _acc_scale(op: Operation, what: str, s: SSAValue, acc: SSAValue) -> None:
    """An accumulator's scale: one, or one per channel (axis 1, a per-channel-weight layer's)."""
    shape = tensor_shape(acc)
    _per_channel(op, what, s, shape[1] if len(shape) >= 2 else 1)


def _range(op: Operation, what: str, v: SSAValue) -> None:
    t = _require_tensor(op, what, v)
    if tuple(t.get_shape()) != (2,) or t.element_type != f32:
        raise _err(op, f"{what} must be a range tensor<2xf32>, got {v.type}")


def _q8(op: Operation, what: str, v: SSAValue, per_tensor: bool = True) -> QuantType:
    q = _require_quant(op, what, v)
    if q.storage.width.data != 8:
        raise _err(op, f"{what} must have 8-bit storage, got {q}")
    if per_tensor and q.per_channel_axis is not None:
        raise _err(op, f"{what} must be quantized per tensor, got {q}")
    return q


def _qe(op: Operation, what: str, v: SSAValue) -> QuantType:
    """An error operand (or a value that may be one): 8-bit, or 16-bit with
    qtrain-quantize errors=int16; per tensor."""
    q = _require_quant(op, what, v)
    if q.storage.width.data not in (8, 16):
        raise _err(op, f"{what} must have 8- or 16-bit storage, got {q}")
    if q.per_channel_axis is not None:
        raise _err(op, f"{what} must be quantized per tensor, got {q}")
    return q


def _require_acc(op: Operation, what: str, v: SSAValue) -> None:
    t = _require_tensor(op, what, v)
    if not is_acc(t.element_type):
        raise _err(op, f"{what} must be an accumulator tensor of !qtrain.q<si32, sym>, got {t.element_type}")


def _verify_select(op: Operation, idx: SSAValue | None, k: SSAValue | None, rows: int) -> None:
    if (idx is None) != (k is None):
        raise _err(op, "select needs both the index list and the count")
    if idx is None or k is None:
        return
    t = _require_tensor(op, "selection", idx)
    if t.element_type != i32 or tuple(t.get_shape()) != (rows,):
        raise _err(op, f"selection must be tensor<{rows}xi32>, got {idx.type}")
    _scalar(op, "selection count", k, i32)


def _f64(v: float) -> FloatAttr:
    return FloatAttr(v, Float64Type())


# ---------------------------------------------------------------------------------------
# Scalars and ranges
# ---------------------------------------------------------------------------------------


@irdl_op_definition
class ScaleMulOp(IRDLOperation):
    """Scale of an accumulator: f32(a · b). `%s = qtrain.scale_mul %sx, %sw : tensor<f32>`;
    with per-channel weight scales b : tensor<Oxf32>, the O scales of a per-channel
    accumulator (result tensor<Oxf32>)."""

    name = "qtrain.scale_mul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, a: SSAValue, b: SSAValue) -> None:
        super().__init__(operands=[a, b], result_types=[_tensor(tensor_shape(b))])

    def verify_(self) -> None:
        _scalar(self, "lhs", self.lhs)
        t = _require_tensor(self, "rhs", self.rhs)
        if t.element_type != f32 or len(t.get_shape()) > 1:
            raise _err(self, f"rhs must be tensor<f32> or a per-channel tensor<Cxf32>, got {self.rhs.type}")
        if self.output.type != self.rhs.type:
            raise _err(self, f"result type must equal the rhs type {self.rhs.type}, got {self.output.type}")


@irdl_op_definition
class ScaleMaxOp(IRDLOperation):
    """The largest of per-channel scales: `%m = qtrain.scale_max %sw : (tensor<8xf32>) -> tensor<f32>`"""

    name = "qtrain.scale_max"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def __init__(self, s: SSAValue) -> None:
        super().__init__(operands=[s], result_types=[_tensor(())])

    def verify_(self) -> None:
        t = _require_tensor(self, "input", self.input)
        if t.element_type != f32 or len(t.get_shape()) != 1:
            raise _err(self, f"input must be per-channel scales tensor<Cxf32>, got {self.input.type}")
        _scalar(self, "result", self.output)


@irdl_op_definition
class MinMaxOp(IRDLOperation):
    """Observed real range [min, max] of an f32 tensor, or of an accumulator with its scale.

    `%r = qtrain.minmax %acc scale %s : (tensor<1x8xq<si32,sym>>, tensor<f32>) -> tensor<2xf32>`
    """

    name = "qtrain.minmax"
    input = operand_def(TensorType)
    scale = opt_operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = "$input (`scale` $scale^)? attr-dict `:` functional-type(operands, results)"

    def __init__(self, x: SSAValue, scale: SSAValue | None = None) -> None:
        super().__init__(operands=[x, scale], result_types=[_tensor((2,))])

    def verify_(self) -> None:
        if self.scale is None:
            _require_f32(self, "input", self.input)
        else:
            _require_acc(self, "input", self.input)
            _acc_scale(self, "scale", self.scale, self.input)
        _range(self, "result", self.output)


@irdl_op_definition
class EmaOp(IRDLOperation):
    """Moving-average range update: old + α·(observed − old); an empty old range (min > max)
    takes the observation. `%r2 = qtrain.ema %r, %obs alpha 1.0e-01 : tensor<2xf32>`"""

    name = "qtrain.ema"
    old = operand_def(TensorType)
    observed = operand_def(TensorType)
    alpha = prop_def(FloatAttr[Float64Type])
    output = result_def(TensorType)
    assembly_format = "$old `,` $observed `alpha` $alpha attr-dict `:` functional-type(operands, results)"

    def __init__(self, old: SSAValue, obs: SSAValue, alpha: float) -> None:
        super().__init__(operands=[old, obs], result_types=[_tensor((2,))], properties={"alpha": _f64(alpha)})

    def verify_(self) -> None:
        _range(self, "old range", self.old)
        _range(self, "observed range", self.observed)
        _range(self, "result", self.output)
        a = self.alpha.value.data
        if not 0.0 < a <= 1.0:
            raise _err(self, f"alpha must be in (0, 1], got {a}")


@irdl_op_definition
class RunningMaxOp(IRDLOperation):
    """max(old, |value|): the largest loss seen so far. `%m2 = qtrain.running_max %m, %loss : tensor<f32>`"""

    name = "qtrain.running_max"
    old = operand_def(TensorType)
    value = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = "$old `,` $value attr-dict `:` functional-type(operands, results)"

    def __init__(self, old: SSAValue, value: SSAValue) -> None:
        super().__init__(operands=[old, value], result_types=[_tensor(())])

    def verify_(self) -> None:
        for what, v in (("old", self.old), ("value", self.value), ("result", self.output)):
            _scalar(self, what, v)


class _RangeParam(IRDLOperation):
    range = operand_def(TensorType)
    qtype = prop_def(QuantType)
    output = result_def(TensorType)
    assembly_format = "$range `for` $qtype attr-dict `:` functional-type(operands, results)"

    def verify_(self) -> None:
        _range(self, "range", self.range)
        if self.qtype.storage.width.data not in (8, 16) or self.qtype.per_channel_axis is not None:
            raise _err(self, f"quantized type must be 8- or 16-bit per tensor, got {self.qtype}")


@irdl_op_definition
class RangeScaleOp(_RangeParam):
    """Scale for a quantized type from a range (runtime/fqt.py `qparams`).

    `%s = qtrain.range_scale %r for <ui8, asym> : (tensor<2xf32>) -> tensor<f32>`
    """

    name = "qtrain.range_scale"

    def __init__(self, r: SSAValue, qtype: QuantType) -> None:
        super().__init__(operands=[r], result_types=[_tensor(())], properties={"qtype": qtype})

    def verify_(self) -> None:
        super().verify_()
        _scalar(self, "result", self.output)


@irdl_op_definition
class RangeZeroPointOp(_RangeParam):
    """Zero-point for a quantized type from a range (0 for symmetric types).

    `%z = qtrain.range_zero_point %r for <ui8, asym> : (tensor<2xf32>) -> tensor<i32>`
    """

    name = "qtrain.range_zero_point"

    def __init__(self, r: SSAValue, qtype: QuantType) -> None:
        super().__init__(operands=[r], result_types=[_tensor((), i32)], properties={"qtype": qtype})

    def verify_(self) -> None:
        super().verify_()
        _scalar(self, "result", self.output, i32)


# ---------------------------------------------------------------------------------------
# Forward layers accumulating in int32
# ---------------------------------------------------------------------------------------


def _verify_acc_layer(op: Operation, x: SSAValue, zx: SSAValue, w: SSAValue, zw: SSAValue,
                      b: SSAValue | None, s: SSAValue | None, y: SSAValue, per_channel_ok: bool = True) -> None:
    _q8(op, "input", x)
    if not per_channel_ok:
        _q8(op, "weight", w)  # per tensor
    q = _q8_weight(op, "weight", w, zw)
    _zp(op, "input", zx)
    _require_acc(op, "result", y)
    if (b is None) != (s is None):
        raise _err(op, "a bias needs the accumulator scale")
    if b is not None and s is not None:
        _require_f32(op, "bias", b)
        if q.per_channel_axis is None:
            _scalar(op, "accumulator scale", s)
        else:
            _channels(op, "accumulator scale", s, tensor_shape(w)[0])
        _require_shape(op, "bias", b, (tensor_shape(w)[0],))


@irdl_op_definition
class QConv2dAccOp(IRDLOperation):
    """acc = rint(b / s) + Σ (x − zx)(w − zw), int32 (padding contributes 0).

    `%acc = qtrain.qconv2d_acc %x[%zx], %w[%zw], %b[%s] stride [1, 1] padding [1, 1, 1, 1] groups 1 : (...) -> tensor<1x8x28x28x!qtrain.q<si32, sym>>`
    """

    name = "qtrain.qconv2d_acc"
    input = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    weight = operand_def(TensorType)
    weight_zero_point = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    acc_scale = opt_operand_def(TensorType)
    output = result_def(TensorType)
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    groups = prop_def(IntegerAttr[I64])
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    # several optional operands: generic syntax (the declarative format cannot infer them)

    def __init__(self, x: SSAValue, zx: SSAValue, w: SSAValue, zw: SSAValue, b: SSAValue | None,
                 s: SSAValue | None, stride: DenseArrayBase, padding: DenseArrayBase, groups: IntegerAttr) -> None:
        n, _, h, wd = tensor_shape(x)
        o, _, kh, kw = tensor_shape(w)
        oh, ow = conv_output_hw((h, wd), (kh, kw), tuple(stride.get_values()), tuple(padding.get_values()))  # type: ignore[arg-type]
        super().__init__(
            operands=[x, zx, w, zw, b, s],
            result_types=[_tensor((n, o, oh, ow), acc_type())],
            properties={"stride": stride, "padding": padding, "groups": groups},
        )

    def verify_(self) -> None:
        _verify_acc_layer(self, self.input, self.input_zero_point, self.weight, self.weight_zero_point,
                          self.bias, self.acc_scale, self.output)
        _require_rank(self, "input", self.input, (4,))
        _require_rank(self, "weight", self.weight, (4,))
        n, c, h, wd = tensor_shape(self.input)
        o, i, kh, kw = tensor_shape(self.weight)
        g = self.groups.value.data
        _check_groups(self, g, c, o)
        if i * g != c:
            raise _err(self, f"weight has {i} input channels per group, input has {c} in {g} group(s)")
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        oh, ow = conv_output_hw((h, wd), (kh, kw), stride, padding)
        _require_shape(self, "result", self.output, (n, o, oh, ow))


@irdl_op_definition
class QDenseAccOp(IRDLOperation):
    """acc[n, o] = rint(b[o] / s) + Σ_k (x[n, k] − zx)(w[o, k] − zw), int32.

    `%acc = qtrain.qdense_acc %x[%zx], %w[%zw], %b[%s] : (...) -> tensor<1x10x!qtrain.q<si32, sym>>`
    """

    name = "qtrain.qdense_acc"
    input = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    weight = operand_def(TensorType)
    weight_zero_point = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    acc_scale = opt_operand_def(TensorType)
    output = result_def(TensorType)
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    # several optional operands: generic syntax (the declarative format cannot infer them)

    def __init__(self, x: SSAValue, zx: SSAValue, w: SSAValue, zw: SSAValue, b: SSAValue | None,
                 s: SSAValue | None) -> None:
        n = tensor_shape(x)[0]
        o = tensor_shape(w)[0]
        super().__init__(operands=[x, zx, w, zw, b, s], result_types=[_tensor((n, o), acc_type())])

    def verify_(self) -> None:
        _verify_acc_layer(self, self.input, self.input_zero_point, self.weight, self.weight_zero_point,
                          self.bias, self.acc_scale, self.output)
        _require_rank(self, "input", self.input, (2,))
        _require_rank(self, "weight", self.weight, (2,))
        n, k = tensor_shape(self.input)
        o, k2 = tensor_shape(self.weight)
        if k != k2:
            raise _err(self, f"input has {k} features but weight expects {k2} (weight shape {_fmt((o, k2))})")
        _require_shape(self, "result", self.output, (n, o))


@irdl_op_definition
class AccReluOp(IRDLOperation):
    """max(acc, 0) on an accumulator (zero-point 0, so exact). `%r = qtrain.acc_relu %acc : tensor<...>`"""

    name = "qtrain.acc_relu"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def __init__(self, x: SSAValue) -> None:
        super().__init__(operands=[x], result_types=[x.type])

    def verify_(self) -> None:
        _require_acc(self, "input", self.input)
        if self.input.type != self.output.type:
            raise _err(self, "result type must equal the input type")


@irdl_op_definition
class ScaleDivOp(IRDLOperation):
    """f32(s / f32(divisor)): the scale of a sum of `divisor` values read as their mean
    (global average pool). `%s2 = qtrain.scale_div %s by 64 : (tensor<f32>) -> tensor<f32>`"""

    name = "qtrain.scale_div"
    input = operand_def(TensorType)
    divisor = prop_def(IntegerAttr[I64])
    output = result_def(TensorType)
    assembly_format = "$input `by` $divisor attr-dict `:` functional-type(operands, results)"

    def __init__(self, s: SSAValue, divisor: int) -> None:
        super().__init__(operands=[s], result_types=[_tensor(())], properties={"divisor": IntegerAttr(divisor, i64)})

    def verify_(self) -> None:
        _scalar(self, "input", self.input)
        _scalar(self, "result", self.output)
        if self.divisor.value.data < 1:
            raise _err(self, f"divisor must be at least 1, got {self.divisor.value.data}")


@irdl_op_definition
class AccRelu6Op(IRDLOperation):
    """relu6 on an accumulator: clamp(acc, 0, floorf(6 / s)) with s its scale (fqt.relu6_acc).

    `%r = qtrain.acc_relu6 %acc scale %s : (tensor<...>, tensor<f32>) -> tensor<...>`"""

    name = "qtrain.acc_relu6"
    input = operand_def(TensorType)
    scale = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = "$input `scale` $scale attr-dict `:` functional-type(operands, results)"

    def __init__(self, x: SSAValue, scale: SSAValue) -> None:
        super().__init__(operands=[x, scale], result_types=[x.type])

    def verify_(self) -> None:
        _require_acc(self, "input", self.input)
        _acc_scale(self, "scale", self.scale, self.input)
        if self.input.type != self.output.type:
            raise _err(self, "result type must equal the input type")


class _QAddBase(IRDLOperation):
    # (operands are declared in each op: IRDL orders a subclass's own definitions first)

    def _verify_operands(self) -> None:
        _qe(self, "lhs", self.lhs)
        _qe(self, "rhs", self.rhs)
        _scalar(self, "lhs scale", self.lhs_scale)
        _scalar(self, "rhs scale", self.rhs_scale)
        _zp(self, "lhs", self.lhs_zero_point)
        _zp(self, "rhs", self.rhs_zero_point)
        if tensor_shape(self.lhs) != tensor_shape(self.rhs):
            raise _err(self, f"operand shapes {_fmt(tensor_shape(self.lhs))} and {_fmt(tensor_shape(self.rhs))} "
                             "differ")


@irdl_op_definition
class QAddRangeOp(_QAddBase):
    """Observed real range of the sum of two quantized tensors (fqt.qadd_range), computed
    element by element without storing the sum.

    `%r = qtrain.qadd_range %a[%sa, %za], %b[%sb, %zb] : (...) -> tensor<2xf32>`"""

    name = "qtrain.qadd_range"
    lhs = operand_def(TensorType)
    lhs_scale = operand_def(TensorType)
    lhs_zero_point = operand_def(TensorType)
    rhs = operand_def(TensorType)
    rhs_scale = operand_def(TensorType)
    rhs_zero_point = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = (
        "$lhs `[` $lhs_scale `,` $lhs_zero_point `]` `,` $rhs `[` $rhs_scale `,` $rhs_zero_point `]` attr-dict "
        "`:` functional-type(operands, results)"
    )

    def __init__(self, a: SSAValue, sa: SSAValue, za: SSAValue, b: SSAValue, sb: SSAValue, zb: SSAValue) -> None:
        super().__init__(operands=[a, sa, za, b, sb, zb], result_types=[_tensor((2,))])

    def verify_(self) -> None:
        self._verify_operands()
        _range(self, "result", self.output)


@irdl_op_definition
class QAddOp(_QAddBase):
    """The sum of two quantized tensors quantized to (s, z) (fqt.qadd): the residual add,
    and the sum of the two errors of a value used twice.

    `%y = qtrain.qadd %a[%sa, %za], %b[%sb, %zb] -> [%s, %z] : (...) -> tensor<1x8x32x32x!qtrain.q<ui8, asym>>`"""

    name = "qtrain.qadd"
    lhs = operand_def(TensorType)
    lhs_scale = operand_def(TensorType)
    lhs_zero_point = operand_def(TensorType)
    rhs = operand_def(TensorType)
    rhs_scale = operand_def(TensorType)
    rhs_zero_point = operand_def(TensorType)
    output_scale = operand_def(TensorType)
    output_zero_point = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = (
        "$lhs `[` $lhs_scale `,` $lhs_zero_point `]` `,` $rhs `[` $rhs_scale `,` $rhs_zero_point `]` "
        "`->` `[` $output_scale `,` $output_zero_point `]` attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, a: SSAValue, sa: SSAValue, za: SSAValue, b: SSAValue, sb: SSAValue, zb: SSAValue,
                 s: SSAValue, z: SSAValue, qtype: QuantType) -> None:
        super().__init__(operands=[a, sa, za, b, sb, zb, s, z], result_types=[_tensor(tensor_shape(a), qtype)])

    def verify_(self) -> None:
        self._verify_operands()
        _scalar(self, "result scale", self.output_scale)
        _zp(self, "result", self.output_zero_point)
        _qe(self, "result", self.output)
        if tensor_shape(self.output) != tensor_shape(self.lhs):
            raise _err(self, f"result shape {_fmt(tensor_shape(self.output))} differs from the operands' "
                             f"{_fmt(tensor_shape(self.lhs))}")


@irdl_op_definition
class QAvgPoolAccOp(IRDLOperation):
    """Global average pool as an int32 sum: acc[n, c, 0, 0] = sum over h, w of (x - zx)
    (fqt.qavgpool_acc); its scale is `qtrain.scale_div` of the input's by H·W.

    `%acc = qtrain.qavgpool_acc %x[%zx] : (...) -> tensor<1x112x1x1x!qtrain.q<si32, sym>>`"""

    name = "qtrain.qavgpool_acc"
    input = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = "$input `[` $input_zero_point `]` attr-dict `:` functional-type(operands, results)"

    def __init__(self, x: SSAValue, zx: SSAValue) -> None:
        n, c = tensor_shape(x)[:2]
        super().__init__(operands=[x, zx], result_types=[_tensor((n, c, 1, 1), acc_type())])

    def verify_(self) -> None:
        _q8(self, "input", self.input)
        _zp(self, "input", self.input_zero_point)
        _require_rank(self, "input", self.input, (4,))
        _require_acc(self, "result", self.output)
        n, c = tensor_shape(self.input)[:2]
        _require_shape(self, "result", self.output, (n, c, 1, 1))


@irdl_op_definition
class QBroadcastHwOp(IRDLOperation):
    """An [N, C, 1, 1] 8-bit tensor repeated over the result's [H, W] plane (fqt.qbroadcast_hw):
    the global average pool's input error, at scale_div(se, H·W) and the same zero-point.

    `%d = qtrain.qbroadcast_hw %e : (tensor<1x112x1x1x!qtrain.q<si8, asym>>) -> tensor<1x112x4x4x!qtrain.q<si8, asym>>`"""

    name = "qtrain.qbroadcast_hw"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def __init__(self, e: SSAValue, h: int, w: int) -> None:
        n, c = tensor_shape(e)[:2]
        super().__init__(operands=[e], result_types=[_tensor((n, c, h, w), element_type(e))])

    def verify_(self) -> None:
        _qe(self, "input", self.input)
        _require_rank(self, "input", self.input, (4,))
        _require_rank(self, "result", self.output, (4,))
        n, c, h, w = tensor_shape(self.input)
        if (h, w) != (1, 1):
            raise _err(self, f"input must be [N, C, 1, 1], got {_fmt((n, c, h, w))}")
        if tensor_shape(self.output)[:2] != (n, c):
            raise _err(self, f"result shape {_fmt(tensor_shape(self.output))} does not start with {_fmt((n, c))}")
        if element_type(self.output) != element_type(self.input):
            raise _err(self, "result element type must equal the input's")


@irdl_op_definition
class RequantizeAccOp(IRDLOperation):
    """y = clamp(z + MBQM(acc, M)), M = f32(s_acc / s) (fixed point, as `qtrain.requantize`).

    `%y = qtrain.requantize_acc %acc[%sacc] -> [%s, %z] : (...) -> tensor<1x8x!qtrain.q<ui8, asym>>`
    """

    name = "qtrain.requantize_acc"
    input = operand_def(TensorType)
    input_scale = operand_def(TensorType)
    output_scale = operand_def(TensorType)
    output_zero_point = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = (
        "$input `[` $input_scale `]` `->` `[` $output_scale `,` $output_zero_point `]` attr-dict "
        "`:` functional-type(operands, results)"
    )

    def __init__(self, acc: SSAValue, s_acc: SSAValue, s: SSAValue, z: SSAValue, qtype: QuantType) -> None:
        super().__init__(operands=[acc, s_acc, s, z], result_types=[_tensor(tensor_shape(acc), qtype)])

    def verify_(self) -> None:
        _require_acc(self, "input", self.input)
        _acc_scale(self, "input scale", self.input_scale, self.input)
        _scalar(self, "result scale", self.output_scale)
        _zp(self, "result", self.output_zero_point)
        _qe(self, "result", self.output)
        if tensor_shape(self.input) != tensor_shape(self.output):
            raise _err(self, f"input shape {_fmt(tensor_shape(self.input))} and result shape "
                       f"{_fmt(tensor_shape(self.output))} differ")


# ---------------------------------------------------------------------------------------
# Backward
# ---------------------------------------------------------------------------------------


@irdl_op_definition
class QReluGradOp(IRDLOperation):
    """e where the saved output y > zy, else ze (real 0). `%d = qtrain.qrelu_grad %e[%ze], %y[%zy] : (...) -> ...`"""

    name = "qtrain.qrelu_grad"
    output_grad = operand_def(TensorType)
    output_grad_zero_point = operand_def(TensorType)
    output = operand_def(TensorType)
    output_zero_point = operand_def(TensorType)
    input_grad = result_def(TensorType)
    assembly_format = (
        "$output_grad `[` $output_grad_zero_point `]` `,` $output `[` $output_zero_point `]` attr-dict "
        "`:` functional-type(operands, results)"
    )

    def __init__(self, e: SSAValue, ze: SSAValue, y: SSAValue, zy: SSAValue) -> None:
        super().__init__(operands=[e, ze, y, zy], result_types=[e.type])

    def verify_(self) -> None:
        _qe(self, "output error", self.output_grad)
        _q8(self, "saved output", self.output)
        _zp(self, "output error", self.output_grad_zero_point)
        _zp(self, "saved output", self.output_zero_point)
        if tensor_shape(self.output_grad) != tensor_shape(self.output):
            raise _err(self, f"error shape {_fmt(tensor_shape(self.output_grad))} and output shape "
                       f"{_fmt(tensor_shape(self.output))} differ")
        if self.input_grad.type != self.output_grad.type:
            raise _err(self, "result type must equal the output error type")


@irdl_op_definition
class QRelu6GradOp(IRDLOperation):
    """e where the saved relu6 output is inside (0, 6): zy < y and f32(y - zy) < rintf(6 / sy),
    else ze (fqt.qrelu6_grad). `%d = qtrain.qrelu6_grad %e[%ze], %y[%sy, %zy] : (...) -> ...`"""

    name = "qtrain.qrelu6_grad"
    output_grad = operand_def(TensorType)
    output_grad_zero_point = operand_def(TensorType)
    output = operand_def(TensorType)
    output_scale = operand_def(TensorType)
    output_zero_point = operand_def(TensorType)
    input_grad = result_def(TensorType)
    assembly_format = (
        "$output_grad `[` $output_grad_zero_point `]` `,` $output `[` $output_scale `,` $output_zero_point `]` "
        "attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, e: SSAValue, ze: SSAValue, y: SSAValue, sy: SSAValue, zy: SSAValue) -> None:
        super().__init__(operands=[e, ze, y, sy, zy], result_types=[e.type])

    def verify_(self) -> None:
        _qe(self, "output error", self.output_grad)
        _q8(self, "saved output", self.output)
        _zp(self, "output error", self.output_grad_zero_point)
        _scalar(self, "saved output scale", self.output_scale)
        _zp(self, "saved output", self.output_zero_point)
        if tensor_shape(self.output_grad) != tensor_shape(self.output):
            raise _err(self, f"error shape {_fmt(tensor_shape(self.output_grad))} and output shape "
                       f"{_fmt(tensor_shape(self.output))} differ")
        if self.input_grad.type != self.output_grad.type:
            raise _err(self, "result type must equal the output error type")


@irdl_op_definition
class QDenseGradInputOp(IRDLOperation):
    """acc[n, k] = Σ_o (e[n, o] − ze)(w[o, k] − zw). `%a = qtrain.qdense_grad_input %e[%ze], %w[%zw] : (...) -> ...`"""

    name = "qtrain.qdense_grad_input"
    output_grad = operand_def(TensorType)
    output_grad_zero_point = operand_def(TensorType)
    weight = operand_def(TensorType)
    weight_zero_point = operand_def(TensorType)
    input_grad = result_def(TensorType)
    assembly_format = (
        "$output_grad `[` $output_grad_zero_point `]` `,` $weight `[` $weight_zero_point `]` attr-dict "
        "`:` functional-type(operands, results)"
    )

    def __init__(self, e: SSAValue, ze: SSAValue, w: SSAValue, zw: SSAValue) -> None:
        n = tensor_shape(e)[0]
        k = tensor_shape(w)[1]
        super().__init__(operands=[e, ze, w, zw], result_types=[_tensor((n, k), acc_type())])

    def verify_(self) -> None:
        _qe(self, "output error", self.output_grad)
        _q8_weight(self, "weight", self.weight, self.weight_zero_point)
        _zp(self, "output error", self.output_grad_zero_point)
        _require_acc(self, "result", self.input_grad)
        _require_rank(self, "output error", self.output_grad, (2,))
        _require_rank(self, "weight", self.weight, (2,))
        n, o = tensor_shape(self.output_grad)
        o2, k = tensor_shape(self.weight)
        if o != o2:
            raise _err(self, f"output error has {o} features but weight has {o2} rows")
        _require_shape(self, "result", self.input_grad, (n, k))


@irdl_op_definition
class QRescaleChannelsOp(IRDLOperation):
    """The output error of a per-channel-weight layer on one scale, for its input gradient
    (fqt.qrescale_channels): y = clamp(rintf(f32(e − ze) · f[o]), int16), f[o] =
    f32(sw[o] / max(sw)) · 2^shift, o on axis 1. y has one scale, scale_div(scale_mul(se,
    scale_max(sw)), 2^shift), so Σ_o y·(w − zw[o]) is the input gradient at that scale.

    `%y = qtrain.qrescale_channels %e[%ze], %sw shift 6 : (...) -> tensor<1x16x14x14x!qtrain.q<si16, sym>>`
    """

    name = "qtrain.qrescale_channels"
    input = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    weight_scale = operand_def(TensorType)
    output = result_def(TensorType)
    shift = prop_def(IntegerAttr[I64])
    assembly_format = (
        "$input `[` $input_zero_point `]` `,` $weight_scale `shift` $shift attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, e: SSAValue, ze: SSAValue, sw: SSAValue, shift: int) -> None:
        super().__init__(operands=[e, ze, sw],
                         result_types=[_tensor(tensor_shape(e), QuantType(IntegerType(16, Signedness.SIGNED), True))],
                         properties={"shift": IntegerAttr(shift, i64)})

    def verify_(self) -> None:
        _qe(self, "input", self.input)
        _zp(self, "input", self.input_zero_point)
        shape = tensor_shape(self.input)
        if len(shape) < 2:
            raise _err(self, f"input must have channels on axis 1, got shape {_fmt(shape)}")
        t = _require_tensor(self, "weight scale", self.weight_scale)
        if t.element_type != f32 or tuple(t.get_shape()) != (shape[1],):
            raise _err(self, f"weight scale must be the {shape[1]} per-channel scales tensor<{shape[1]}xf32>, "
                             f"got {self.weight_scale.type}")
        q = _require_quant(self, "result", self.output)
        if (q.storage.width.data, q.is_signed, q.is_symmetric, q.per_channel_axis) != (16, True, True, None):
            raise _err(self, f"result must be !qtrain.q<si16, sym> per tensor, got {q}")
        _require_shape(self, "result", self.output, shape)
        if not 0 <= self.shift.value.data <= 15:
            raise _err(self, f"shift must be in [0, 15], got {self.shift.value.data}")


@irdl_op_definition
class QConv2dGradInputOp(IRDLOperation):
    """int32 grad-input of a conv: (e − ze) and (w − zw) (result shape = input shape).

    `%a = qtrain.qconv2d_grad_input %e[%ze], %w[%zw] stride [2, 2] padding [1, 1, 1, 1] groups 1 : (...) -> ...`
    """

    name = "qtrain.qconv2d_grad_input"
    output_grad = operand_def(TensorType)
    output_grad_zero_point = operand_def(TensorType)
    weight = operand_def(TensorType)
    weight_zero_point = operand_def(TensorType)
    input_grad = result_def(TensorType)
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    groups = prop_def(IntegerAttr[I64])
    assembly_format = (
        "$output_grad `[` $output_grad_zero_point `]` `,` $weight `[` $weight_zero_point `]` "
        "`stride` $stride `padding` $padding `groups` $groups attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, e: SSAValue, ze: SSAValue, w: SSAValue, zw: SSAValue, input_shape: tuple[int, ...],
                 stride: DenseArrayBase, padding: DenseArrayBase, groups: IntegerAttr) -> None:
        super().__init__(
            operands=[e, ze, w, zw],
            result_types=[_tensor(input_shape, acc_type())],
            properties={"stride": stride, "padding": padding, "groups": groups},
        )

    def verify_(self) -> None:
        _qe(self, "output error", self.output_grad)
        _q8_weight(self, "weight", self.weight, self.weight_zero_point)
        _zp(self, "output error", self.output_grad_zero_point)
        _require_acc(self, "result", self.input_grad)
        for what, v in (("output error", self.output_grad), ("weight", self.weight), ("result", self.input_grad)):
            _require_rank(self, what, v, (4,))
        n, c, h, wd = tensor_shape(self.input_grad)
        o, i, kh, kw = tensor_shape(self.weight)
        g = self.groups.value.data
        _check_groups(self, g, c, o)
        if i * g != c:
            raise _err(self, f"weight has {i} input channels per group, result has {c} in {g} group(s)")
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        oh, ow = conv_output_hw((h, wd), (kh, kw), stride, padding)
        _require_shape(self, "output error", self.output_grad, (n, o, oh, ow))


class _QGradWeight(IRDLOperation):
    input = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    output_grad = operand_def(TensorType)
    output_grad_zero_point = operand_def(TensorType)
    select = opt_operand_def(TensorType)
    select_count = opt_operand_def(TensorType)
    weight_grad = result_def(TensorType)
    irdl_options = (AttrSizedOperandSegments(as_property=True),)

    def _verify_common(self) -> None:
        _q8(self, "input", self.input)
        _qe(self, "output error", self.output_grad)
        _zp(self, "input", self.input_zero_point)
        _zp(self, "output error", self.output_grad_zero_point)
        _require_acc(self, "result", self.weight_grad)
        _verify_select(self, self.select, self.select_count, tensor_shape(self.weight_grad)[0])


@irdl_op_definition
class QDenseGradWeightOp(_QGradWeight):
    """acc[o, k] = Σ_n (e[n, o] − ze)(x[n, k] − zx); with `select` only the selected rows,
    compact (row r = structure idx[r], rows ≥ k zero).

    `%g = qtrain.qdense_grad_weight %x[%zx], %e[%ze] select %idx, %k : (...) -> tensor<10x32x!qtrain.q<si32, sym>>`
    """

    name = "qtrain.qdense_grad_weight"
    # several optional operands: generic syntax

    def __init__(self, x: SSAValue, zx: SSAValue, e: SSAValue, ze: SSAValue,
                 idx: SSAValue | None = None, k: SSAValue | None = None) -> None:
        o = tensor_shape(e)[1]
        kk = tensor_shape(x)[1]
        super().__init__(operands=[x, zx, e, ze, idx, k], result_types=[_tensor((o, kk), acc_type())])

    def verify_(self) -> None:
        self._verify_common()
        _require_rank(self, "input", self.input, (2,))
        _require_rank(self, "output error", self.output_grad, (2,))
        n, k = tensor_shape(self.input)
        n2, o = tensor_shape(self.output_grad)
        if n != n2:
            raise _err(self, f"input batch {n} and output error batch {n2} differ")
        _require_shape(self, "result", self.weight_grad, (o, k))


@irdl_op_definition
class QConv2dGradWeightOp(_QGradWeight):
    """int32 conv weight gradient of (x − zx) and (e − ze); `select` as qdense_grad_weight.

    `%g = qtrain.qconv2d_grad_weight %x[%zx], %e[%ze] stride [1, 1] padding [1, 1, 1, 1] groups 1 : (...) -> ...`
    """

    name = "qtrain.qconv2d_grad_weight"
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    groups = prop_def(IntegerAttr[I64])
    # several optional operands: generic syntax

    def __init__(self, x: SSAValue, zx: SSAValue, e: SSAValue, ze: SSAValue, weight_shape: tuple[int, ...],
                 stride: DenseArrayBase, padding: DenseArrayBase, groups: IntegerAttr,
                 idx: SSAValue | None = None, k: SSAValue | None = None) -> None:
        super().__init__(
            operands=[x, zx, e, ze, idx, k],
            result_types=[_tensor(weight_shape, acc_type())],
            properties={"stride": stride, "padding": padding, "groups": groups},
        )

    def verify_(self) -> None:
        self._verify_common()
        for what, v in (("input", self.input), ("output error", self.output_grad), ("result", self.weight_grad)):
            _require_rank(self, what, v, (4,))
        n, c, h, wd = tensor_shape(self.input)
        o, i, kh, kw = tensor_shape(self.weight_grad)
        g = self.groups.value.data
        _check_groups(self, g, c, o)
        if i * g != c:
            raise _err(self, f"result has {i} input channels per group, input has {c} in {g} group(s)")
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        oh, ow = conv_output_hw((h, wd), (kh, kw), stride, padding)
        _require_shape(self, "output error", self.output_grad, (n, o, oh, ow))


# ---------------------------------------------------------------------------------------
# Weight update without float master weights
# ---------------------------------------------------------------------------------------


@irdl_op_definition
class GradStatsOp(IRDLOperation):
    """Per-row normalisation (a, b) of a weight gradient: direction = (g − a)·b.

    mode "standardize" (mean, 1/std), "qas" (0, s_g/s_w²), "none" (0, s_g).
    `%st = qtrain.grad_stats %g mode "standardize" : (tensor<10x32x!qtrain.q<si32, sym>>) -> tensor<10x2xf32>`
    """

    name = "qtrain.grad_stats"
    grad = operand_def(TensorType)
    grad_scale = opt_operand_def(TensorType)
    weight_scale = opt_operand_def(TensorType)
    select = opt_operand_def(TensorType)
    select_count = opt_operand_def(TensorType)
    output = result_def(TensorType)
    mode = prop_def(StringAttr)
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    # several optional operands: generic syntax (the declarative format cannot infer them)

    def __init__(self, g: SSAValue, mode: str, g_scale: SSAValue | None = None, w_scale: SSAValue | None = None,
                 idx: SSAValue | None = None, k: SSAValue | None = None) -> None:
        o = tensor_shape(g)[0]
        super().__init__(operands=[g, g_scale, w_scale, idx, k], result_types=[_tensor((o, 2))],
                         properties={"mode": StringAttr(mode)})

    def verify_(self) -> None:
        elt = element_type(self.grad)
        if not is_acc(elt):
            _require_f32(self, "gradient", self.grad)
        shape = tensor_shape(self.grad)
        if not shape:
            raise _err(self, "gradient must have rank >= 1")
        mode = self.mode.data
        if mode not in NORMALIZATIONS:
            raise _err(self, f"mode must be one of {', '.join(NORMALIZATIONS)}, got '{mode}'")
        if mode in ("qas", "none") and self.grad_scale is None and is_acc(elt):
            raise _err(self, f"mode '{mode}' needs the scale of the accumulator gradient")
        if mode == "qas" and self.weight_scale is None:
            raise _err(self, "mode 'qas' needs the weight scale")
        for what, v in (("gradient scale", self.grad_scale), ("weight scale", self.weight_scale)):
            if v is not None:
                _scalar(self, what, v)
        _verify_select(self, self.select, self.select_count, shape[0])
        _require_shape(self, "result", self.output, (shape[0], 2))


def _verify_qsgd_common(op: Operation, w_type: TensorType | None, g: SSAValue, stats: SSAValue,
                        sw: SSAValue, zw: SSAValue, idx: SSAValue | None, k: SSAValue | None, lr: FloatAttr) -> None:
    if w_type is not None:
        q = w_type.element_type
        if not isinstance(q, QuantType) or q.storage.width.data != 8 or q.per_channel_axis is not None:
            raise _err(op, f"weight must be an 8-bit per-tensor quantized tensor, got {w_type}")
        shape = tuple(w_type.get_shape())
        if tensor_shape(g) != shape:
            raise _err(op, f"gradient shape {_fmt(tensor_shape(g))} differs from weight shape {_fmt(shape)}")
    if not is_acc(element_type(g)):
        _require_f32(op, "gradient", g)
    o = tensor_shape(g)[0]
    _require_shape(op, "stats", stats, (o, 2))
    _require_f32(op, "stats", stats)
    _scalar(op, "weight scale", sw)
    _zp(op, "weight", zw)
    _verify_select(op, idx, k, o)
    if not lr.value.data > 0:
        raise _err(op, f"lr must be positive, got {lr.value.data}")


@irdl_op_definition
class QSgdRangeOp(IRDLOperation):
    """Range [min, max] of the weights after the step (written by nothing: observation only).

    `%r = qtrain.qsgd_range %w[%sw, %zw], %g, %st lr 1.0e-02 : (...) -> tensor<2xf32>`
    """

    name = "qtrain.qsgd_range"
    weight = operand_def(TensorType)
    weight_scale = operand_def(TensorType)
    weight_zero_point = operand_def(TensorType)
    grad = operand_def(TensorType)
    stats = operand_def(TensorType)
    select = opt_operand_def(TensorType)
    select_count = opt_operand_def(TensorType)
    lr = prop_def(FloatAttr[Float64Type])
    output = result_def(TensorType)
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    # several optional operands: generic syntax (the declarative format cannot infer them)

    def __init__(self, w: SSAValue, sw: SSAValue, zw: SSAValue, g: SSAValue, stats: SSAValue, lr: float,
                 idx: SSAValue | None = None, k: SSAValue | None = None) -> None:
        super().__init__(operands=[w, sw, zw, g, stats, idx, k], result_types=[_tensor((2,))],
                         properties={"lr": _f64(lr)})

    def verify_(self) -> None:
        assert isinstance(self.weight.type, TensorType)
        _verify_qsgd_common(self, self.weight.type, self.grad, self.stats, self.weight_scale,
                            self.weight_zero_point, self.select, self.select_count, self.lr)
        _range(self, "result", self.output)


@irdl_op_definition
class QSgdUpdateOp(IRDLOperation):
    """Write the quantized weights after the step, requantized to the new scale/zero-point:
    w' = round((s·(w − z) − lr·(g − a)·b) / s') + z' (runtime/fqt.py `qsgd_update`).

    `qtrain.qsgd_update @fc.weight, %g, %st [%sw, %zw] -> [%sw2, %zw2] lr 1.0e-02 rounding "stochastic" seed 0 step %t : (...) -> ()`
    """

    name = "qtrain.qsgd_update"
    param = prop_def(SymbolRefAttr)
    grad = operand_def(TensorType)
    stats = operand_def(TensorType)
    weight_scale = operand_def(TensorType)
    weight_zero_point = operand_def(TensorType)
    new_scale = operand_def(TensorType)
    new_zero_point = operand_def(TensorType)
    select = opt_operand_def(TensorType)
    select_count = opt_operand_def(TensorType)
    step = opt_operand_def(TensorType)
    lr = prop_def(FloatAttr[Float64Type])
    rounding = prop_def(StringAttr)
    seed = prop_def(IntegerAttr[I64])
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    # several optional operands: generic syntax (the declarative format cannot infer them)

    def __init__(self, param: str, g: SSAValue, stats: SSAValue, sw: SSAValue, zw: SSAValue, sw2: SSAValue,
                 zw2: SSAValue, lr: float, rounding: str, seed: int, step: SSAValue | None = None,
                 idx: SSAValue | None = None, k: SSAValue | None = None) -> None:
        super().__init__(
            operands=[g, stats, sw, zw, sw2, zw2, idx, k, step],
            properties={
                "param": SymbolRefAttr(param),
                "lr": _f64(lr),
                "rounding": StringAttr(rounding),
                "seed": IntegerAttr(seed, i64),
            },
        )

    def param_type(self) -> TensorType | None:
        target = _lookup(self, self.param)
        return target.type if isinstance(target, ParamOp) else None

    def verify_(self) -> None:
        target = _lookup(self, self.param)
        w_type = None
        if target is None:
            if _module_of(self) is not None:
                raise _err(self, f"no qtrain.param named {self.param}")
        elif not isinstance(target, ParamOp) or not target.is_trainable:
            raise _err(self, f"{self.param} is not a trainable qtrain.param")
        else:
            w_type = target.type
        _verify_qsgd_common(self, w_type, self.grad, self.stats, self.weight_scale, self.weight_zero_point,
                            self.select, self.select_count, self.lr)
        _scalar(self, "new weight scale", self.new_scale)
        _zp(self, "new weight", self.new_zero_point)
        if self.rounding.data not in ROUNDINGS:
            raise _err(self, f"rounding must be one of {', '.join(ROUNDINGS)}, got '{self.rounding.data}'")
        if self.rounding.data == "stochastic" and self.step is None:
            raise _err(self, "stochastic rounding needs the step operand (the random stream position)")
        if self.step is not None:
            _scalar(self, "step", self.step, i32)


# ---------------------------------------------------------------------------------------
# Fused row-by-row update on a held grid (qtrain-quantize update=fused)
# ---------------------------------------------------------------------------------------


def _fused_q_param(op: Operation, param: SymbolRefAttr, row_range: SymbolRefAttr,
                   per_channel_ok: bool = True) -> tuple[int, ...] | None:
    """Shape of the updated 8-bit parameter (None outside a module); checks the row-range state.
    The parameter is quantized per tensor or (`per_channel_ok`) per row (axis 0)."""
    target = _lookup(op, param)
    if target is None:
        if _module_of(op) is not None:
            raise _err(op, f"no qtrain.param named {param}")
        return None
    if not isinstance(target, ParamOp) or not target.is_trainable:
        raise _err(op, f"{param} is not a trainable qtrain.param")
    q = target.type.element_type
    if not isinstance(q, QuantType) or q.storage.width.data != 8 or q.per_channel_axis not in (
            (None, 0) if per_channel_ok else (None,)):
        rows = "per-tensor or per-row (axis 0)" if per_channel_ok else "per-tensor"
        raise _err(op, f"{param} must be an 8-bit {rows} quantized parameter, got {target.type}")
    shape = tuple(target.type.get_shape())
    want = TensorType(i32, [shape[0], 2])
    rr = _lookup(op, row_range)
    if not isinstance(rr, StateOp):
        raise _err(op, f"{row_range} must be a qtrain.state holding the rows' [min, max] (tensor<{shape[0]}x2xi32>)")
    if rr.type != want:
        raise _err(op, f"{row_range} must have type tensor<{shape[0]}x2xi32> (one [min, max] per row of {param}), "
                       f"got {rr.type}")
    return shape


class _QGradWeightSgd(IRDLOperation):
    param = prop_def(SymbolRefAttr)
    row_range = prop_def(SymbolRefAttr)
    input = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    output_grad = operand_def(TensorType)
    output_grad_zero_point = operand_def(TensorType)
    grad_scale = operand_def(TensorType)
    weight_scale = operand_def(TensorType)
    weight_zero_point = operand_def(TensorType)
    select = opt_operand_def(TensorType)
    select_count = opt_operand_def(TensorType)
    step = opt_operand_def(TensorType)
    lr = prop_def(FloatAttr[Float64Type])
    rounding = prop_def(StringAttr)
    seed = prop_def(IntegerAttr[I64])
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    # several optional operands: generic syntax (the declarative format cannot infer them)

    def _props(self, param: str, row_range: str, lr: float, rounding: str, seed: int) -> dict[str, Attribute]:
        return {"param": SymbolRefAttr(param), "row_range": SymbolRefAttr(row_range), "lr": _f64(lr),
                "rounding": StringAttr(rounding), "seed": IntegerAttr(seed, i64)}

    def param_type(self) -> TensorType | None:
        target = _lookup(self, self.param)
        return target.type if isinstance(target, ParamOp) else None

    def _verify_common(self, rows: int, per_channel_ok: bool = True) -> tuple[int, ...] | None:
        _q8(self, "input", self.input)
        _qe(self, "output error", self.output_grad)
        _zp(self, "input", self.input_zero_point)
        _zp(self, "output error", self.output_grad_zero_point)
        _scalar(self, "gradient scale", self.grad_scale)
        target = _lookup(self, self.param)
        q = target.type.element_type if isinstance(target, ParamOp) else None
        if per_channel_ok and isinstance(q, QuantType) and q.per_channel_axis == 0:
            n = target.type.get_shape()[0]  # type: ignore[union-attr]
            _channels(self, "weight scale", self.weight_scale, n)
            _channels(self, "weight zero-point", self.weight_zero_point, n, i32)
        else:
            _scalar(self, "weight scale", self.weight_scale)
            _zp(self, "weight", self.weight_zero_point)
        _verify_select(self, self.select, self.select_count, rows)
        if not self.lr.value.data > 0:
            raise _err(self, f"lr must be positive, got {self.lr.value.data}")
        if self.rounding.data not in ROUNDINGS:
            raise _err(self, f"rounding must be one of {', '.join(ROUNDINGS)}, got '{self.rounding.data}'")
        if self.rounding.data == "stochastic" and self.step is None:
            raise _err(self, "stochastic rounding needs the step operand (the random stream position)")
        if self.step is not None:
            _scalar(self, "step", self.step, i32)
        return _fused_q_param(self, self.param, self.row_range, per_channel_ok)


@irdl_op_definition
class QDenseGradWeightSgdOp(_QGradWeightSgd):
    """`qdense_grad_weight` fused with the SGD step of the quantized weight, row by row on
    the held grid: each (selected) row's int32 gradient is computed and applied at once,
    w[o] = clamp((w[o] − zw) + round(−lr·s_g/s_w · g[o]) + zw), and the row's [min, max]
    before clamping goes to the `row_range` state; no weight-gradient buffer exists and
    unselected rows are not touched (runtime/fqt.py `qgrad_weight_sgd_apply`).

    `qtrain.qdense_grad_weight_sgd @fc.weight rows @fc.weight.row_range, %x[%zx], %e[%ze] scale %sg weight [%sw, %zw] lr 1.0e-02 rounding "stochastic" seed 0 step %t`
    """

    name = "qtrain.qdense_grad_weight_sgd"

    def __init__(self, param: str, row_range: str, x: SSAValue, zx: SSAValue, e: SSAValue, ze: SSAValue,
                 g_scale: SSAValue, sw: SSAValue, zw: SSAValue, lr: float, rounding: str, seed: int,
                 step: SSAValue | None = None, idx: SSAValue | None = None, k: SSAValue | None = None) -> None:
        super().__init__(operands=[x, zx, e, ze, g_scale, sw, zw, idx, k, step],
                         properties=self._props(param, row_range, lr, rounding, seed))

    def verify_(self) -> None:
        _require_rank(self, "input", self.input, (2,))
        _require_rank(self, "output error", self.output_grad, (2,))
        n, k = tensor_shape(self.input)
        n2, o = tensor_shape(self.output_grad)
        if n != n2:
            raise _err(self, f"input batch {n} and output error batch {n2} differ")
        shape = self._verify_common(o)
        if shape is not None and shape != (o, k):
            raise _err(self, f"{self.param} has shape {_fmt(shape)} but input and output error give {_fmt((o, k))}")


@irdl_op_definition
class QConv2dGradWeightSgdOp(_QGradWeightSgd):
    """`qconv2d_grad_weight` fused with the quantized SGD step, filter by filter (as
    qdense_grad_weight_sgd; the kernel size is the parameter's).

    `qtrain.qconv2d_grad_weight_sgd @conv.weight rows @conv.weight.row_range, %x[%zx], %e[%ze] scale %sg weight [%sw, %zw] stride [1, 1] padding [1, 1, 1, 1] groups 1 lr 1.0e-02 rounding "nearest" seed 0`
    """

    name = "qtrain.qconv2d_grad_weight_sgd"
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    groups = prop_def(IntegerAttr[I64])

    def __init__(self, param: str, row_range: str, x: SSAValue, zx: SSAValue, e: SSAValue, ze: SSAValue,
                 g_scale: SSAValue, sw: SSAValue, zw: SSAValue, stride: DenseArrayBase, padding: DenseArrayBase,
                 groups: IntegerAttr, lr: float, rounding: str, seed: int, step: SSAValue | None = None,
                 idx: SSAValue | None = None, k: SSAValue | None = None) -> None:
        props = self._props(param, row_range, lr, rounding, seed)
        props.update({"stride": stride, "padding": padding, "groups": groups})
        super().__init__(operands=[x, zx, e, ze, g_scale, sw, zw, idx, k, step], properties=props)

    def verify_(self) -> None:
        _require_rank(self, "input", self.input, (4,))
        _require_rank(self, "output error", self.output_grad, (4,))
        n, c, h, wd = tensor_shape(self.input)
        n2, o, oh, ow = tensor_shape(self.output_grad)
        g = self.groups.value.data
        _check_groups(self, g, c, o)
        shape = self._verify_common(o)
        if shape is None:
            return
        if len(shape) != 4 or shape[0] != o or shape[1] * g != c:
            raise _err(self, f"{self.param} has shape {_fmt(shape)} but the input has {c} channels in {g} group(s) "
                             f"and the output error {o}")
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        eh, ew = conv_output_hw((h, wd), (shape[2], shape[3]), stride, padding)
        if (n2, oh, ow) != (n, eh, ew):
            raise _err(self, f"output error has shape {_fmt((n2, o, oh, ow))}, expected {_fmt((n, o, eh, ew))}")


@irdl_op_definition
class QWeightRegridOp(IRDLOperation):
    """The weight grid for the next step, in place: the held (s, z) stay, or — when a value
    went past the grid or the values need less than half of it, judged from the
    `row_range` state alone — a new grid from that range plus `headroom`·span on each side
    is written to the `scale` / `zero_point` states, every weight is re-expressed on it and
    the row ranges are recomputed (runtime/fqt.py `qweight_regrid`).

    `qtrain.qweight_regrid @fc.weight rows @fc.weight.row_range scale @fc.weight.scale zero_point @fc.weight.zero_point headroom 0.000000e+00 rounding "stochastic" seed 0 step %t : tensor<i32>`
    """

    name = "qtrain.qweight_regrid"
    param = prop_def(SymbolRefAttr)
    row_range = prop_def(SymbolRefAttr)
    scale = prop_def(SymbolRefAttr)
    zero_point = prop_def(SymbolRefAttr)
    headroom = prop_def(FloatAttr[Float64Type])
    rounding = prop_def(StringAttr)
    seed = prop_def(IntegerAttr[I64])
    step = opt_operand_def(TensorType)
    assembly_format = (
        "$param `rows` $row_range `scale` $scale `zero_point` $zero_point `headroom` $headroom "
        "`rounding` $rounding `seed` $seed (`step` $step^ `:` type($step))? attr-dict"
    )

    def __init__(self, param: str, row_range: str, scale: str, zero_point: str, headroom: float,
                 rounding: str = "nearest", seed: int = 0, step: SSAValue | None = None) -> None:
        super().__init__(operands=[step],
                         properties={"param": SymbolRefAttr(param), "row_range": SymbolRefAttr(row_range),
                                     "scale": SymbolRefAttr(scale), "zero_point": SymbolRefAttr(zero_point),
                                     "headroom": _f64(headroom), "rounding": StringAttr(rounding),
                                     "seed": IntegerAttr(seed, i64)})

    def param_type(self) -> TensorType | None:
        target = _lookup(self, self.param)
        return target.type if isinstance(target, ParamOp) else None

    def verify_(self) -> None:
        h = self.headroom.value.data
        if not 0.0 <= h <= 1.0:
            raise _err(self, f"headroom must be in [0, 1], got {h}")
        if self.rounding.data not in ROUNDINGS:
            raise _err(self, f"rounding must be one of {', '.join(ROUNDINGS)}, got '{self.rounding.data}'")
        if self.rounding.data == "stochastic" and self.step is None:
            raise _err(self, "stochastic rounding needs the step operand (the random stream position)")
        if self.step is not None:
            _scalar(self, "step", self.step, i32)
        shape = _fused_q_param(self, self.param, self.row_range)
        if shape is None:
            return
        target = _lookup(self, self.param)
        assert isinstance(target, ParamOp)
        q = target.type.element_type
        per_row = isinstance(q, QuantType) and q.per_channel_axis == 0
        for what, sym, elt in (("scale", self.scale, f32), ("zero_point", self.zero_point, i32)):
            st = _lookup(self, sym)
            want = TensorType(elt, [shape[0]] if per_row else [])
            if not isinstance(st, StateOp) or st.type != want:
                raise _err(self, f"{what} {sym} must be a qtrain.state of type {want}"
                                 f"{' (one per row of the per-channel ' + str(self.param) + ')' if per_row else ''}")


# ---------------------------------------------------------------------------------------
# Dynamic partial updates
# ---------------------------------------------------------------------------------------


@irdl_op_definition
class TopkCountOp(IRDLOperation):
    """k = max(⌊min(λmin + |ε|/εmax·(λmax − λmin), 1)·N⌋, 1) (Deutel et al. 2024).

    `%k = qtrain.topk_count %loss, %lmax lambda_min 5.0e-01 lambda_max 1.0e+00 structures 32 : tensor<i32>`
    """

    name = "qtrain.topk_count"
    loss = operand_def(TensorType)
    loss_max = operand_def(TensorType)
    lambda_min = prop_def(FloatAttr[Float64Type])
    lambda_max = prop_def(FloatAttr[Float64Type])
    structures = prop_def(IntegerAttr[I64])
    output = result_def(TensorType)
    assembly_format = (
        "$loss `,` $loss_max `lambda_min` $lambda_min `lambda_max` $lambda_max `structures` $structures "
        "attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, loss: SSAValue, loss_max: SSAValue, lmin: float, lmax: float, n: int) -> None:
        super().__init__(
            operands=[loss, loss_max],
            result_types=[_tensor((), i32)],
            properties={"lambda_min": _f64(lmin), "lambda_max": _f64(lmax), "structures": IntegerAttr(n, i64)},
        )

    def verify_(self) -> None:
        _scalar(self, "loss", self.loss)
        _scalar(self, "largest loss", self.loss_max)
        _scalar(self, "result", self.output, i32)
        lo, hi = self.lambda_min.value.data, self.lambda_max.value.data
        if not 0.0 <= lo <= hi <= 1.0:
            raise _err(self, f"need 0 <= lambda_min <= lambda_max <= 1, got {lo} and {hi}")
        if self.structures.value.data < 1:
            raise _err(self, f"structures must be >= 1, got {self.structures.value.data}")


@irdl_op_definition
class TopkStructuresOp(IRDLOperation):
    """The k output channels (axis 1) of a quantized error with the largest Σ|e − ze|, in
    increasing order; the remaining entries are -1.

    `%idx = qtrain.topk_structures %e[%ze], %k : (...) -> tensor<32xi32>`
    """

    name = "qtrain.topk_structures"
    output_grad = operand_def(TensorType)
    output_grad_zero_point = operand_def(TensorType)
    count = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = (
        "$output_grad `[` $output_grad_zero_point `]` `,` $count attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, e: SSAValue, ze: SSAValue, k: SSAValue) -> None:
        o = tensor_shape(e)[1]
        super().__init__(operands=[e, ze, k], result_types=[_tensor((o,), i32)])

    def verify_(self) -> None:
        _qe(self, "output error", self.output_grad)
        _zp(self, "output error", self.output_grad_zero_point)
        _scalar(self, "count", self.count, i32)
        _require_rank(self, "output error", self.output_grad, (2, 4))
        o = tensor_shape(self.output_grad)[1]
        t = _require_tensor(self, "result", self.output)
        if t.element_type != i32 or tuple(t.get_shape()) != (o,):
            raise _err(self, f"result must be tensor<{o}xi32>, got {self.output.type}")



@irdl_op_definition
class QGradBiasOp(IRDLOperation):
    """The f32 bias gradient of a layer from its 8-bit error: per channel (axis 1) the
    sequential f32 sum, over (n, spatial) in memory order from +0.0f, of the dequantized
    error f32(s) * f32(e − z) — exactly `qtrain.dequantize` followed by the f32
    conv2d/dense grad-bias, without the f32 copy of the error.

    `%gb = qtrain.qgrad_bias %e[%s, %z] : (tensor<1x16x14x14x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>) -> tensor<16xf32>`
    """

    name = "qtrain.qgrad_bias"
    output_grad = operand_def(TensorType)
    scale = operand_def(TensorType)
    zero_point = operand_def(TensorType)
    bias_grad = result_def(TensorType)
    assembly_format = "$output_grad `[` $scale `,` $zero_point `]` attr-dict `:` functional-type(operands, results)"

    def __init__(self, e: SSAValue, scale: SSAValue, zp: SSAValue) -> None:
        super().__init__(operands=[e, scale, zp], result_types=[_tensor((tensor_shape(e)[1],))])

    def verify_(self) -> None:
        _qe(self, "output error", self.output_grad)
        _require_rank(self, "output error", self.output_grad, (2, 4))
        _scalar(self, "scale", self.scale)
        _zp(self, "output error", self.zero_point)
        _require_f32(self, "result", self.bias_grad)
        _require_shape(self, "result", self.bias_grad, (tensor_shape(self.output_grad)[1],))


# ---------------------------------------------------------------------------------------
# Streamed accumulators (qtrain-stream-accumulators)
# ---------------------------------------------------------------------------------------


def _verify_stream_result(op: Operation, scale: SSAValue | None, zero_point: SSAValue | None, out: SSAValue) -> None:
    """A streamed accumulator's result: the range (no output scale / zero-point) or an
    8-bit tensor on the given scale and zero-point."""
    if (scale is None) != (zero_point is None):
        raise _err(op, "an output scale needs the output zero-point")
    if scale is None:
        _range(op, "result", out)
        return
    assert zero_point is not None
    _scalar(op, "result scale", scale)
    _zp(op, "result", zero_point)
    _q8(op, "result", out)


class _AccStream(IRDLOperation):
    """An accumulating layer whose int32 result is never stored whole: computed one output
    channel at a time (one [OH, OW] int32 plane of scratch), optionally through acc_relu, and
    either reduced to its observed range (`qtrain.minmax` with `acc_scale`; no output scale:
    the result is tensor<2xf32>) or requantized (`qtrain.requantize_acc` to the output
    scale / zero-point; the result is the 8-bit tensor). A layer streamed for both needs
    its MACs twice: the range must be known before the first value can be requantized."""

    input = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    weight = operand_def(TensorType)
    weight_zero_point = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    acc_scale = operand_def(TensorType)
    output_scale = opt_operand_def(TensorType)
    output_zero_point = opt_operand_def(TensorType)
    output = result_def(TensorType)
    relu = opt_prop_def(UnitAttr)
    relu6 = opt_prop_def(UnitAttr)
    """relu6 on each plane: clamp to [0, floorf(6 / acc_scale)] (`qtrain.acc_relu6`)."""
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    # several optional operands: generic syntax

    @property
    def activation(self) -> str | None:
        """None, "relu" or "relu6": what each accumulator plane goes through first."""
        return "relu6" if self.relu6 is not None else ("relu" if self.relu is not None else None)

    @property
    def is_range(self) -> bool:
        return self.output_scale is None

    def acc_shape(self) -> tuple[int, ...] | None:
        raise NotImplementedError

    def _verify_stream(self, out_channels: int) -> None:
        _q8(self, "input", self.input)
        _q8(self, "weight", self.weight)
        _zp(self, "input", self.input_zero_point)
        _zp(self, "weight", self.weight_zero_point)
        _scalar(self, "accumulator scale", self.acc_scale)
        if self.bias is not None:
            _require_f32(self, "bias", self.bias)
            _require_shape(self, "bias", self.bias, (out_channels,))
        _verify_stream_result(self, self.output_scale, self.output_zero_point, self.output)

    def _check_result_shape(self, shape: tuple[int, ...]) -> None:
        if not self.is_range and tuple(tensor_shape(self.output)) != shape:
            raise _err(self, f"result has shape {_fmt(tensor_shape(self.output))}, the accumulator {_fmt(shape)}")

    def _init(self, acc: IRDLOperation, acc_scale: SSAValue, relu: bool | str | None, out_scale: SSAValue | None,
              out_zero_point: SSAValue | None, out_type: QuantType | None, props: dict[str, Attribute]) -> None:
        """Build from the accumulating op `acc` (its input, weight and bias operands); `relu`
        True or "relu" (acc_relu), "relu6" (acc_relu6), or None / False."""
        shape = tensor_shape(acc.results[0])
        rt = _tensor((2,)) if out_scale is None else _tensor(shape, out_type)
        if relu == "relu6":
            props = {**props, "relu6": UnitAttr()}
        elif relu:
            props = {**props, "relu": UnitAttr()}
        x, zx, w, zw = acc.operands[:4]  # input, its zero-point, weight, its zero-point (both layer kinds)
        bias = getattr(acc, "bias")
        super().__init__(operands=[x, zx, w, zw, bias, acc_scale, out_scale, out_zero_point],
                         result_types=[rt], properties=props)


@irdl_op_definition
class QConv2dAccStreamOp(_AccStream):
    """`qtrain.qconv2d_acc` streamed channel by channel into its range or its requantized
    8-bit result (see `_AccStream`); output channel o reads its group's input channels only.

    `%r = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %b, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0>}> : (...) -> tensor<2xf32>`
    """

    name = "qtrain.qconv2d_acc_stream"
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    groups = prop_def(IntegerAttr[I64])

    def __init__(self, acc: QConv2dAccOp, acc_scale: SSAValue, relu: bool | str | None,
                 out_scale: SSAValue | None = None,
                 out_zero_point: SSAValue | None = None, out_type: QuantType | None = None) -> None:
        self._init(acc, acc_scale, relu, out_scale, out_zero_point, out_type,
                   {"stride": acc.stride, "padding": acc.padding, "groups": acc.groups})

    def verify_(self) -> None:
        _require_rank(self, "input", self.input, (4,))
        _require_rank(self, "weight", self.weight, (4,))
        n, c, h, wd = tensor_shape(self.input)
        o, i, kh, kw = tensor_shape(self.weight)
        self._verify_stream(o)
        g = self.groups.value.data
        _check_groups(self, g, c, o)
        if i * g != c:
            raise _err(self, f"weight has {i} input channels per group, input has {c} in {g} group(s)")
        if self.relu is not None and self.relu6 is not None:
            raise _err(self, "relu and relu6 are exclusive")
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        oh, ow = conv_output_hw((h, wd), (kh, kw), stride, padding)
        self._check_result_shape((n, o, oh, ow))


@irdl_op_definition
class QConv2dGradInputStreamOp(IRDLOperation):
    """`qtrain.qconv2d_grad_input` (groups 1) streamed one input-channel plane at a time into
    its range (`qtrain.minmax` with `acc_scale`; no output scale) or its requantized 8-bit
    error (as `_AccStream`); `input_hw` is the layer input's height and width.

    `%r = "qtrain.qconv2d_grad_input_stream"(%e, %ze, %w, %zw, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, input_hw = array<i64: 14, 14>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> : (...) -> tensor<2xf32>`
    """

    name = "qtrain.qconv2d_grad_input_stream"
    output_grad = operand_def(TensorType)
    output_grad_zero_point = operand_def(TensorType)
    weight = operand_def(TensorType)
    weight_zero_point = operand_def(TensorType)
    acc_scale = operand_def(TensorType)
    output_scale = opt_operand_def(TensorType)
    output_zero_point = opt_operand_def(TensorType)
    output = result_def(TensorType)
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    groups = prop_def(IntegerAttr[I64])
    input_hw = prop_def(DenseArrayBase[I64])
    irdl_options = (AttrSizedOperandSegments(as_property=True),)

    def __init__(self, gi: QConv2dGradInputOp, acc_scale: SSAValue, out_scale: SSAValue | None = None,
                 out_zero_point: SSAValue | None = None, out_type: QuantType | None = None) -> None:
        shape = tensor_shape(gi.input_grad)
        rt = _tensor((2,)) if out_scale is None else _tensor(shape, out_type)
        super().__init__(
            operands=[gi.output_grad, gi.output_grad_zero_point, gi.weight, gi.weight_zero_point, acc_scale,
                      out_scale, out_zero_point],
            result_types=[rt],
            properties={"stride": gi.stride, "padding": gi.padding, "groups": gi.groups,
                        "input_hw": DenseArrayBase.from_list(i64, list(shape[2:]))},
        )

    @property
    def is_range(self) -> bool:
        return self.output_scale is None

    def input_shape(self) -> tuple[int, int, int, int]:
        n = tensor_shape(self.output_grad)[0]
        c = tensor_shape(self.weight)[1]
        h, w = (int(v) for v in self.input_hw.get_values())
        return n, c, h, w

    def verify_(self) -> None:
        _qe(self, "output error", self.output_grad)
        _q8(self, "weight", self.weight)
        _zp(self, "output error", self.output_grad_zero_point)
        _zp(self, "weight", self.weight_zero_point)
        _scalar(self, "accumulator scale", self.acc_scale)
        _require_rank(self, "output error", self.output_grad, (4,))
        _require_rank(self, "weight", self.weight, (4,))
        if self.groups.value.data != 1:
            raise _err(self, f"streams groups = 1 only, got {self.groups.value.data}")
        hw = _ints(self.input_hw, 2, self, "input_hw", 1)
        n, o, eh, ew = tensor_shape(self.output_grad)
        wo, c, kh, kw = tensor_shape(self.weight)
        if wo != o:
            raise _err(self, f"weight has {wo} output channels, the output error {o}")
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        if conv_output_hw(hw, (kh, kw), stride, padding) != (eh, ew):
            raise _err(self, f"output error shape {_fmt((n, o, eh, ew))} is not the conv output of an input "
                             f"{_fmt((n, c, *hw))} with weight {_fmt((wo, c, kh, kw))}")
        _verify_stream_result(self, self.output_scale, self.output_zero_point, self.output)
        if self.output_scale is not None and tuple(tensor_shape(self.output)) != (n, c, *hw):
            raise _err(self, f"result has shape {_fmt(tensor_shape(self.output))}, the input gradient "
                             f"{_fmt((n, c, *hw))}")


@irdl_op_definition
class QReluMaskOp(IRDLOperation):
    """A saved relu / relu6 output reduced to the bit its backward needs, 8 per byte
    (fqt.relu_mask): with `scale`, relu6's (zy < y < zy + rintf(6 / sy)), else relu's (y > zy).

    `%m = qtrain.qrelu_mask %y[%zy] scale %sy : (...) -> tensor<32xui8>`"""

    name = "qtrain.qrelu_mask"
    input = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    input_scale = opt_operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = ("$input `[` $input_zero_point `]` (`scale` $input_scale^)? attr-dict "
                       "`:` functional-type(operands, results)")

    def __init__(self, y: SSAValue, zy: SSAValue, sy: SSAValue | None = None) -> None:
        n = 1
        for d in tensor_shape(y):
            n *= d
        super().__init__(operands=[y, zy, sy], result_types=[_tensor(((n + 7) // 8,), MASK_ELT)])

    def verify_(self) -> None:
        _q8(self, "input", self.input)
        _zp(self, "input", self.input_zero_point)
        if self.input_scale is not None:
            _scalar(self, "input scale", self.input_scale)
        n = 1
        for d in tensor_shape(self.input):
            n *= d
        t = _require_tensor(self, "result", self.output)
        if t.element_type != MASK_ELT or tuple(t.get_shape()) != ((n + 7) // 8,):
            raise _err(self, f"result must be tensor<{(n + 7) // 8}xui8> (one bit per element), got {self.output.type}")


@irdl_op_definition
class QMaskGradOp(IRDLOperation):
    """e where the packed mask's bit is set, else ze (fqt.qmask_grad): qrelu_grad /
    qrelu6_grad from one bit per element. `%d = qtrain.qmask_grad %e[%ze], %m : (...) -> ...`"""

    name = "qtrain.qmask_grad"
    output_grad = operand_def(TensorType)
    output_grad_zero_point = operand_def(TensorType)
    mask = operand_def(TensorType)
    input_grad = result_def(TensorType)
    assembly_format = ("$output_grad `[` $output_grad_zero_point `]` `,` $mask attr-dict "
                       "`:` functional-type(operands, results)")

    def __init__(self, e: SSAValue, ze: SSAValue, mask: SSAValue) -> None:
        super().__init__(operands=[e, ze, mask], result_types=[e.type])

    def verify_(self) -> None:
        _qe(self, "output error", self.output_grad)
        _zp(self, "output error", self.output_grad_zero_point)
        n = 1
        for d in tensor_shape(self.output_grad):
            n *= d
        t = _require_tensor(self, "mask", self.mask)
        if t.element_type != MASK_ELT or tuple(t.get_shape()) != ((n + 7) // 8,):
            raise _err(self, f"mask must be tensor<{(n + 7) // 8}xui8> for {n} errors, got {self.mask.type}")
        if self.input_grad.type != self.output_grad.type:
            raise _err(self, "result type must equal the output error type")


ACTIVATIONS = ("none", "relu", "relu6")


@irdl_op_definition
class QConv2dPwDwStreamOp(IRDLOperation):
    """A conv (groups 1) whose 8-bit output h is read only by a depthwise conv, both computed
    one channel at a time so that h is never stored whole (fqt.qconv2d_pw_dw_stream): the
    first conv's channel plane goes through `act1` and is requantized to h's (h_scale,
    h_zero_point) in `h_type`, then the depthwise conv of that plane through `act2` into
    its range (no output scale: tensor<2xf32>) or its requantized 8-bit result. Operands:
    x, zx, w1, zw1, b1?, acc1_scale, h_scale, h_zero_point, w2, zw2, b2?, acc2_scale,
    y_scale?, y_zero_point?

    Generic syntax only (several optional operands)."""

    name = "qtrain.qconv2d_pw_dw_stream"
    input = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    weight1 = operand_def(TensorType)
    weight1_zero_point = operand_def(TensorType)
    bias1 = opt_operand_def(TensorType)
    acc1_scale = operand_def(TensorType)
    h_scale = operand_def(TensorType)
    h_zero_point = operand_def(TensorType)
    weight2 = operand_def(TensorType)
    weight2_zero_point = operand_def(TensorType)
    bias2 = opt_operand_def(TensorType)
    acc2_scale = operand_def(TensorType)
    output_scale = opt_operand_def(TensorType)
    output_zero_point = opt_operand_def(TensorType)
    output = result_def(TensorType)
    stride1 = prop_def(DenseArrayBase[I64])
    padding1 = prop_def(DenseArrayBase[I64])
    stride2 = prop_def(DenseArrayBase[I64])
    padding2 = prop_def(DenseArrayBase[I64])
    act1 = prop_def(StringAttr)
    act2 = prop_def(StringAttr)
    h_type = prop_def(QuantType)
    irdl_options = (AttrSizedOperandSegments(as_property=True),)

    @property
    def is_range(self) -> bool:
        return self.output_scale is None

    def h_shape(self) -> tuple[int, int, int, int]:
        n, _, h, w = tensor_shape(self.input)
        e, _, kh, kw = tensor_shape(self.weight1)
        oh, ow = conv_output_hw((h, w), (kh, kw), _ints(self.stride1, 2, self, "stride1", 1),
                                _ints(self.padding1, 4, self, "padding1", 0))
        return n, e, oh, ow

    def out_shape(self) -> tuple[int, int, int, int]:
        n, e, h, w = self.h_shape()
        _, _, kh, kw = tensor_shape(self.weight2)
        oh, ow = conv_output_hw((h, w), (kh, kw), _ints(self.stride2, 2, self, "stride2", 1),
                                _ints(self.padding2, 4, self, "padding2", 0))
        return n, e, oh, ow

    def verify_(self) -> None:
        _q8(self, "input", self.input)
        _q8(self, "weight1", self.weight1)
        _q8(self, "weight2", self.weight2)
        for what, v in (("input", self.input_zero_point), ("weight1", self.weight1_zero_point),
                        ("h", self.h_zero_point), ("weight2", self.weight2_zero_point)):
            _zp(self, what, v)
        for what, v in (("acc1 scale", self.acc1_scale), ("h scale", self.h_scale), ("acc2 scale", self.acc2_scale)):
            _scalar(self, what, v)
        _require_rank(self, "input", self.input, (4,))
        _require_rank(self, "weight1", self.weight1, (4,))
        _require_rank(self, "weight2", self.weight2, (4,))
        _, c, _, _ = tensor_shape(self.input)
        e, c1, _, _ = tensor_shape(self.weight1)
        e2, one, _, _ = tensor_shape(self.weight2)
        if c1 != c:
            raise _err(self, f"weight1 has {c1} input channels, the input {c}")
        if e2 != e or one != 1:
            raise _err(self, f"weight2 must be a depthwise [{e}, 1, kh, kw] weight, got {_fmt(tensor_shape(self.weight2))}")
        for what, b, k in (("bias1", self.bias1, e), ("bias2", self.bias2, e)):
            if b is not None:
                _require_f32(self, what, b)
                _require_shape(self, what, b, (k,))
        for what, a in (("act1", self.act1), ("act2", self.act2)):
            if a.data not in ACTIVATIONS:
                raise _err(self, f"{what} must be one of {', '.join(ACTIVATIONS)}, got '{a.data}'")
        if self.h_type.storage.width.data != 8 or self.h_type.per_channel_axis is not None:
            raise _err(self, f"h_type must be an 8-bit per-tensor type, got {self.h_type}")
        _verify_stream_result(self, self.output_scale, self.output_zero_point, self.output)
        if not self.is_range and tuple(tensor_shape(self.output)) != self.out_shape():
            raise _err(self, f"result has shape {_fmt(tensor_shape(self.output))}, the depthwise conv "
                             f"{_fmt(self.out_shape())}")

    @staticmethod
    def fuse(first: "_AccStream", second: "_AccStream", out_scale: SSAValue | None = None,
             out_zero_point: SSAValue | None = None, out_type: QuantType | None = None) -> "QConv2dPwDwStreamOp":
        """From the requantizing stream `first` (h) and a depthwise stream `second` reading h."""
        assert isinstance(first, QConv2dAccStreamOp) and isinstance(second, QConv2dAccStreamOp)
        assert first.output_scale is not None and first.output_zero_point is not None
        h_t = first.output.type
        assert isinstance(h_t, TensorType) and isinstance(h_t.element_type, QuantType)
        assert out_scale is None or not second.is_range, "a requantizing fusion is built from the requantizing stream"
        rt = _tensor((2,)) if out_scale is None else _tensor(tensor_shape(second.output), out_type)
        return QConv2dPwDwStreamOp.create(
            operands=[first.input, first.input_zero_point, first.weight, first.weight_zero_point,
                      *([first.bias] if first.bias is not None else []), first.acc_scale, first.output_scale,
                      first.output_zero_point, second.weight, second.weight_zero_point,
                      *([second.bias] if second.bias is not None else []), second.acc_scale,
                      *([out_scale, out_zero_point] if out_scale is not None else [])],
            result_types=[rt],
            properties={
                "stride1": first.stride, "padding1": first.padding, "stride2": second.stride,
                "padding2": second.padding, "act1": StringAttr(first.activation or "none"),
                "act2": StringAttr(second.activation or "none"), "h_type": h_t.element_type,
                "operandSegmentSizes": DenseArrayBase.from_list(i32, [
                    1, 1, 1, 1, int(first.bias is not None), 1, 1, 1, 1, 1, int(second.bias is not None), 1,
                    int(out_scale is not None), int(out_scale is not None)]),
            },
        )


FQT_OPS: tuple[type[IRDLOperation], ...] = (
    ScaleMulOp,
    MinMaxOp,
    EmaOp,
    RunningMaxOp,
    RangeScaleOp,
    RangeZeroPointOp,
    QConv2dAccOp,
    QDenseAccOp,
    AccReluOp,
    RequantizeAccOp,
    QReluGradOp,
    QDenseGradInputOp,
    QConv2dGradInputOp,
    QDenseGradWeightOp,
    QConv2dGradWeightOp,
    GradStatsOp,
    QSgdRangeOp,
    QSgdUpdateOp,
    QDenseGradWeightSgdOp,
    QConv2dGradWeightSgdOp,
    QWeightRegridOp,
    TopkCountOp,
    TopkStructuresOp,
    QConv2dAccStreamOp,
    QConv2dGradInputStreamOp,
    QGradBiasOp,
    ScaleDivOp,
    AccRelu6Op,
    QAddRangeOp,
    QAddOp,
    QAvgPoolAccOp,
    QBroadcastHwOp,
    QRelu6GradOp,
    QReluMaskOp,
    QMaskGradOp,
    QConv2dPwDwStreamOp,
    ScaleMaxOp,
    QRescaleChannelsOp,
)

__all__ = ["FQT_OPS", "acc_type", "is_acc"] + [c.__name__ for c in FQT_OPS]
