"""The `qtrain` dialect: quantized training graphs with value semantics on tensors.

Conventions every op shares (the interpreter in `odtc.runtime.interpreter` is their
executable definition):

* Activations are NCHW (batch, channels, height, width); conv weights are OIHW with
  I = C / groups; dense weights are [out, in]. These are the PyTorch/ONNX layouts, so
  parameters round-trip to the source framework unchanged. Kernels may use other layouts
  internally; that is a lowering decision, not an IR one.
* `padding` is always four numbers `[top, left, bottom, right]` (ONNX `pads` order).
* Floating point is f32. A quantized tensor is a builtin tensor whose element type is
  `!qtrain.q<storage, sym|asym[, axis N]>`. The type names only the *scheme*; the scale
  (f32) and zero-point (i32) are ordinary SSA operands (rank 0 per tensor, rank 1 per
  channel). In fully quantized training they change at run time, so they live in
  `qtrain.state` symbols and are read with `qtrain.load`, never baked into the type.
* Parameters are module-level symbols (`qtrain.param`, trainable or frozen); run-time
  state that is not trained (optimizer moments, scales, min/max trackers) is a
  `qtrain.state` symbol. Functions read them with `qtrain.load` and write state with
  `qtrain.store`.
"""

from collections.abc import Sequence
from math import prod
from typing import ClassVar

from xdsl.dialects.builtin import (
    I64,
    ArrayAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    Float32Type,
    Float64Type,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    Signedness,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    UnitAttr,
    f32,
    i32,
    i64,
)
from xdsl.ir import Attribute, Dialect, Operation, ParametrizedAttribute, SSAValue, TypeAttribute
from xdsl.irdl import (
    IRDLOperation,
    VarConstraint,
    base,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.parser import AttrParser, Parser
from xdsl.printer import Printer
from xdsl.traits import SymbolOpInterface, SymbolTable
from xdsl.utils.exceptions import VerifyException

# ---------------------------------------------------------------------------------------
# Attributes and types
# ---------------------------------------------------------------------------------------


@irdl_attr_definition
class QuantType(ParametrizedAttribute, TypeAttribute):
    """Element type of a quantized tensor: storage integer type and scheme.

    `!qtrain.q<ui8, asym>` (per tensor, asymmetric), `!qtrain.q<si8, sym, axis 0>`
    (per channel along dimension 0, symmetric). Symmetric means the zero-point operands
    must hold 0; they are run-time values, so the interpreter checks it, not the verifier.
    Real value = scale * (q - zero_point); scale and zero-point are run-time operands.
    """

    name = "qtrain.q"

    storage: IntegerType
    symmetric: IntAttr
    axis: IntAttr  # -1: per tensor

    def __init__(self, storage: IntegerType, symmetric: bool, axis: int = -1) -> None:
        super().__init__(storage, IntAttr(int(symmetric)), IntAttr(axis))

    @property
    def is_symmetric(self) -> bool:
        return bool(self.symmetric.data)

    @property
    def per_channel_axis(self) -> int | None:
        return None if self.axis.data < 0 else self.axis.data

    @property
    def is_signed(self) -> bool:
        return self.storage.signedness.data == Signedness.SIGNED

    @property
    def qmin(self) -> int:
        w = self.storage.width.data
        return -(1 << (w - 1)) if self.is_signed else 0

    @property
    def qmax(self) -> int:
        w = self.storage.width.data
        return (1 << (w - 1)) - 1 if self.is_signed else (1 << w) - 1

    def verify(self) -> None:
        st = self.storage
        allowed = {(Signedness.SIGNED, 8), (Signedness.UNSIGNED, 8), (Signedness.SIGNED, 16), (Signedness.SIGNED, 32)}
        if (st.signedness.data, st.width.data) not in allowed:
            raise VerifyException(
                f"qtrain.q: storage must be si8, ui8, si16 or si32, got {st}"
            )

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_attribute(self.storage)
            printer.print_string(", sym" if self.is_symmetric else ", asym")
            if self.axis.data >= 0:
                printer.print_string(f", axis {self.axis.data}")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            storage = parser.parse_type()
            if not isinstance(storage, IntegerType):
                parser.raise_error(f"qtrain.q: storage must be an integer type, got {storage}")
            parser.parse_punctuation(",")
            scheme = parser.parse_keyword_in(("sym", "asym"), " in qtrain.q")
            axis = -1
            if parser.parse_optional_punctuation(","):
                parser.parse_keyword("axis")
                axis = parser.parse_integer(allow_negative=False)
        return [storage, IntAttr(int(scheme == "sym")), IntAttr(axis)]


@irdl_attr_definition
class NpzAttr(ParametrizedAttribute):
    """Initial data read from an array in a `.npz` file. A relative path is resolved against
    the base directory the consumer is given: `odtc compile` uses the model file's folder
    (and copies the file into BUILD), passes take a `base-dir` option, the interpreter a
    `base_dir` argument; all default to the current directory.

    `#qtrain.npz<"weights.npz", "conv1_w">`
    """

    name = "qtrain.npz"

    path: StringAttr
    key: StringAttr

    def __init__(self, path: str, key: str) -> None:
        super().__init__(StringAttr(path), StringAttr(key))

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_string_literal(self.path.data)
            printer.print_string(", ")
            printer.print_string_literal(self.key.data)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            path = parser.parse_str_literal()
            parser.parse_punctuation(",")
            key = parser.parse_str_literal()
        return [StringAttr(path), StringAttr(key)]


# ---------------------------------------------------------------------------------------
# Helpers shared by the verifiers
# ---------------------------------------------------------------------------------------


def _fmt(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def tensor_shape(value: SSAValue | Attribute) -> tuple[int, ...]:
    t = value.type if isinstance(value, SSAValue) else value
    assert isinstance(t, TensorType)
    return tuple(t.get_shape())


def element_type(value: SSAValue | Attribute) -> Attribute:
    t = value.type if isinstance(value, SSAValue) else value
    assert isinstance(t, TensorType)
    return t.element_type


def _err(op: Operation, msg: str) -> VerifyException:
    return VerifyException(f"{op.name}: {msg}")


def _require_tensor(op: Operation, what: str, value: SSAValue) -> TensorType:
    # Operand/result definitions already constrain the type to a tensor.
    assert isinstance(value.type, TensorType)
    shape = value.type.get_shape()
    if any(d < 0 for d in shape):
        raise _err(op, f"{what} has a dynamic shape {value.type}; odtc needs static shapes")
    elt = value.type.element_type
    if isinstance(elt, QuantType) and elt.per_channel_axis is not None and elt.per_channel_axis >= len(shape):
        raise _err(op, f"{what} is quantized along axis {elt.per_channel_axis} but has shape {_fmt(shape)}")
    return value.type


def _require_f32(op: Operation, what: str, value: SSAValue) -> None:
    t = _require_tensor(op, what, value)
    if not isinstance(t.element_type, Float32Type):
        raise _err(op, f"{what} must have element type f32, got {t.element_type}")


def _require_quant(op: Operation, what: str, value: SSAValue) -> QuantType:
    t = _require_tensor(op, what, value)
    if not isinstance(t.element_type, QuantType):
        raise _err(op, f"{what} must be a quantized tensor (!qtrain.q), got {t.element_type}")
    return t.element_type


def _require_rank(op: Operation, what: str, value: SSAValue, ranks: Sequence[int]) -> None:
    shape = tensor_shape(value)
    if len(shape) not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise _err(op, f"{what} must have rank {want}, got shape {_fmt(shape)}")


def _require_shape(op: Operation, what: str, value: SSAValue, expected: Sequence[int]) -> None:
    shape = tensor_shape(value)
    if tuple(shape) != tuple(expected):
        raise _err(op, f"{what} has shape {_fmt(shape)} but expected {_fmt(expected)}")


def _ints(attr: DenseArrayBase, n: int, op: Operation, what: str, minimum: int) -> tuple[int, ...]:
    values = attr.get_values()
    if len(values) != n:
        raise _err(op, f"{what} must have {n} values, got {len(values)}")
    for v in values:
        if not isinstance(v, int) or v < minimum:
            raise _err(op, f"{what} values must be >= {minimum}, got {_fmt(values)}")  # type: ignore[arg-type]
    return tuple(int(v) for v in values)


def _check_qparams(
    op: Operation, what: str, q: QuantType, shape: Sequence[int], scale: SSAValue, zp: SSAValue
) -> None:
    """Scale is tensor<f32> (per tensor) or tensor<Cxf32> (per channel); zp the same in i32."""
    _require_f32(op, f"{what} scale", scale)
    zt = _require_tensor(op, f"{what} zero-point", zp)
    if zt.element_type != i32:
        raise _err(op, f"{what} zero-point must have element type i32, got {zt.element_type}")
    axis = q.per_channel_axis
    if axis is None:
        expected: tuple[int, ...] = ()
    else:
        if axis >= len(shape):
            raise _err(op, f"{what} is quantized along axis {axis} but has shape {_fmt(shape)}")
        expected = (shape[axis],)
    _require_shape(op, f"{what} scale", scale, expected)
    _require_shape(op, f"{what} zero-point", zp, expected)


def _no_per_channel(op: Operation, value: SSAValue) -> None:
    """Reshaping moves dimensions, so a per-channel axis would silently change meaning."""
    elt = element_type(value)
    if isinstance(elt, QuantType) and elt.per_channel_axis is not None:
        raise _err(op, f"cannot reshape a per-channel quantized tensor ({value.type}); requantize per tensor first")


def _check_pool_padding(op: Operation, kernel: Sequence[int], padding: Sequence[int]) -> None:
    if max(padding[0], padding[2]) >= kernel[0] or max(padding[1], padding[3]) >= kernel[1]:
        raise _err(op, f"padding {_fmt(padding)} must be smaller than kernel {_fmt(kernel)}")


def _check_epsilon(op: Operation, epsilon: FloatAttr) -> None:
    if epsilon.value.data <= 0:
        raise _err(op, f"epsilon must be positive, got {epsilon.value.data}")


def _check_groups(op: Operation, groups: int, c: int, o: int) -> None:
    if groups < 1:
        raise _err(op, f"groups must be >= 1, got {groups}")
    if c % groups or o % groups:
        raise _err(
            op,
            f"groups {groups} must divide input channels {c} and output channels {o}",
        )


def conv_output_hw(
    hw: Sequence[int], kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int]
) -> tuple[int, int]:
    """Floor-mode output size; padding is [top, left, bottom, right]."""
    oh = (hw[0] + padding[0] + padding[2] - kernel[0]) // stride[0] + 1
    ow = (hw[1] + padding[1] + padding[3] - kernel[1]) // stride[1] + 1
    return oh, ow


def _lookup(op: Operation, sym: SymbolRefAttr) -> Operation | None:
    """Resolve a symbol from the nearest module; None when the op is not inside one yet."""
    anchor = op.parent_op()
    while anchor is not None and not anchor.has_trait(SymbolTable):
        anchor = anchor.parent_op()
    if anchor is None:
        return None
    return SymbolTable.lookup_symbol(anchor, sym)


# ---------------------------------------------------------------------------------------
# Module-level symbols
# ---------------------------------------------------------------------------------------


def _verify_init(op: Operation, ty: TensorType, init: Attribute) -> None:
    if isinstance(init, DenseIntOrFPElementsAttr) and isinstance(ty.element_type, QuantType):
        q = ty.element_type
        init_t = init.type
        if not isinstance(init_t.element_type, IntegerType):
            raise _err(op, f"initial value of a quantized symbol must be integers, got {init_t.element_type}")
        values = [int(v) for v in init.get_values()]
        if (
            init_t.element_type.signedness.data == Signedness.SIGNLESS
            and init_t.element_type.width.data == q.storage.width.data
            and not q.is_signed
        ):
            # A signless integer of the storage width is a bit pattern (i8 -56 is ui8 200).
            values = [v % (1 << q.storage.width.data) for v in values]
        bad = [v for v in values if not q.qmin <= v <= q.qmax]
        if bad:
            raise _err(op, f"initial value {bad[0]} is outside the storage range [{q.qmin}, {q.qmax}] of {q}")
        if tuple(init_t.get_shape()) != tuple(ty.get_shape()):
            raise _err(
                op,
                f"initial value has shape {_fmt(init_t.get_shape())} but the symbol has shape {_fmt(ty.get_shape())}",
            )
        return
    if isinstance(init, DenseIntOrFPElementsAttr):
        init_t = init.type
        if init_t.element_type != ty.element_type:
            raise _err(
                op,
                f"initial value has element type {init_t.element_type} but the symbol is {ty.element_type}",
            )
        if tuple(init_t.get_shape()) != tuple(ty.get_shape()):
            raise _err(
                op,
                f"initial value has shape {_fmt(init_t.get_shape())} but the symbol has shape {_fmt(ty.get_shape())}",
            )


class _SymbolWithInit(IRDLOperation):
    """Shared parse/print for `qtrain.param` and `qtrain.state`."""

    sym_name = prop_def(StringAttr)
    type = prop_def(TensorType)
    init = prop_def(DenseIntOrFPElementsAttr | NpzAttr)

    traits = traits_def(SymbolOpInterface())
    KEYWORDS: ClassVar[tuple[str, ...]] = ()

    def _print_keywords(self, printer: Printer) -> None: ...

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_symbol_name(self.sym_name.data)
        self._print_keywords(printer)
        printer.print_string(" : ")
        printer.print_attribute(self.type)
        printer.print_string(" = ")
        printer.print_attribute(self.init)
        printer.print_op_attributes(self.attributes)

    @classmethod
    def _parse_parts(cls, parser: Parser) -> tuple[StringAttr, str | None, TensorType, Attribute]:
        name = parser.parse_symbol_name()
        keyword = parser.parse_optional_keyword_in(cls.KEYWORDS) if cls.KEYWORDS else None
        if cls.KEYWORDS and keyword is None:
            parser.raise_error(f"{cls.name}: expected 'trainable' or 'frozen' after the symbol name")
        parser.parse_punctuation(":")
        ty = parser.parse_type()
        if not isinstance(ty, TensorType):
            parser.raise_error(f"{cls.name}: type must be a tensor, got {ty}")
        parser.parse_punctuation("=")
        init = parser.parse_attribute()
        return name, keyword, ty, init

    def verify_(self) -> None:
        shape = self.type.get_shape()
        if any(d < 0 for d in shape):
            raise _err(self, f"@{self.sym_name.data} has a dynamic shape; odtc needs static shapes")
        _verify_init(self, self.type, self.init)


@irdl_op_definition
class ParamOp(_SymbolWithInit):
    """A model parameter: `qtrain.param @fc1_w trainable : tensor<10x784xf32> = dense<0.0> : ...`.

    `trainable` parameters live in RAM and are updated by the training step; `frozen`
    ones are constants (flash). An optional `channels` attribute (dense i64 list) marks
    the output channels that sparse update may change.
    """

    name = "qtrain.param"
    trainable = opt_prop_def(UnitAttr)
    KEYWORDS: ClassVar[tuple[str, ...]] = ("trainable", "frozen")

    def __init__(
        self,
        sym_name: str,
        ty: TensorType,
        init: Attribute,
        trainable: bool,
        attributes: dict[str, Attribute] | None = None,
    ) -> None:
        props: dict[str, Attribute | None] = {
            "sym_name": StringAttr(sym_name),
            "type": ty,
            "init": init,
            "trainable": UnitAttr() if trainable else None,
        }
        super().__init__(properties=props, attributes=attributes or {})

    @property
    def is_trainable(self) -> bool:
        return self.trainable is not None

    def _print_keywords(self, printer: Printer) -> None:
        printer.print_string(" trainable" if self.is_trainable else " frozen")

    @classmethod
    def parse(cls, parser: Parser) -> "ParamOp":
        name, keyword, ty, init = cls._parse_parts(parser)
        attrs = parser.parse_optional_attr_dict()
        return cls(name.data, ty, init, keyword == "trainable", attrs)

    def verify_(self) -> None:
        super().verify_()
        channels = self.attributes.get("channels")
        if channels is not None:
            if not isinstance(channels, DenseArrayBase) or channels.elt_type != i64:
                raise _err(self, f"@{self.sym_name.data}: channels must be array<i64: ...>")
            if not self.type.get_shape():
                raise _err(self, f"@{self.sym_name.data}: channels needs a parameter of rank >= 1")
            _verify_channels(self, channels, self.type.get_shape()[0], f"@{self.sym_name.data}: channels")


@irdl_op_definition
class StateOp(_SymbolWithInit):
    """Run-time state that is not trained: `qtrain.state @act_scale : tensor<f32> = dense<1.0> : tensor<f32>`.

    Holds optimizer moments, quantization scales/zero-points and min/max trackers.
    """

    name = "qtrain.state"

    def __init__(
        self, sym_name: str, ty: TensorType, init: Attribute, attributes: dict[str, Attribute] | None = None
    ) -> None:
        super().__init__(
            properties={"sym_name": StringAttr(sym_name), "type": ty, "init": init},
            attributes=attributes or {},
        )

    @classmethod
    def parse(cls, parser: Parser) -> "StateOp":
        name, _, ty, init = cls._parse_parts(parser)
        attrs = parser.parse_optional_attr_dict()
        return cls(name.data, ty, init, attrs)


def _check_symbol_type(op: Operation, sym: SymbolRefAttr, ty: Attribute, writing: bool) -> None:
    target = _lookup(op, sym)
    if target is None:
        if op.parent_op() is not None and _module_of(op) is not None:
            raise _err(op, f"no qtrain.param or qtrain.state named {sym}")
        return
    if not isinstance(target, ParamOp | StateOp):
        raise _err(op, f"{sym} is a {target.name}, not a qtrain.param or qtrain.state")
    if target.type != ty:
        raise _err(op, f"{sym} has type {target.type} but the op uses {ty}")
    if writing and isinstance(target, ParamOp) and not target.is_trainable:
        raise _err(op, f"{sym} is a frozen parameter and cannot be written")


def _require_state(op: Operation, sym: SymbolRefAttr) -> None:
    target = _lookup(op, sym)
    if target is not None and not isinstance(target, StateOp):
        raise _err(op, f"{sym} must be a qtrain.state")


def _module_of(op: Operation) -> ModuleOp | None:
    anchor = op.parent_op()
    while anchor is not None and not isinstance(anchor, ModuleOp):
        anchor = anchor.parent_op()
    return anchor


@irdl_op_definition
class LoadOp(IRDLOperation):
    """Read a parameter or state symbol: `%w = qtrain.load @fc1_w : tensor<10x784xf32>`."""

    name = "qtrain.load"
    symbol = prop_def(SymbolRefAttr)
    result = result_def(TensorType)
    assembly_format = "$symbol attr-dict `:` type($result)"

    def __init__(self, symbol: str | SymbolRefAttr, ty: TensorType) -> None:
        sym = SymbolRefAttr(symbol) if isinstance(symbol, str) else symbol
        super().__init__(properties={"symbol": sym}, result_types=[ty])

    def verify_(self) -> None:
        _check_symbol_type(self, self.symbol, self.result.type, writing=False)


@irdl_op_definition
class StoreOp(IRDLOperation):
    """Overwrite a trainable parameter or a state symbol: `qtrain.store %v, @m : tensor<10xf32>`."""

    name = "qtrain.store"
    value = operand_def(TensorType)
    symbol = prop_def(SymbolRefAttr)
    assembly_format = "$value `,` $symbol attr-dict `:` type($value)"

    def __init__(self, value: SSAValue | Operation, symbol: str | SymbolRefAttr) -> None:
        sym = SymbolRefAttr(symbol) if isinstance(symbol, str) else symbol
        super().__init__(operands=[value], properties={"symbol": sym})

    def verify_(self) -> None:
        _check_symbol_type(self, self.symbol, self.value.type, writing=True)


# ---------------------------------------------------------------------------------------
# Forward ops (f32)
# ---------------------------------------------------------------------------------------


def _i64_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, list(values))


def _tensor(shape: Sequence[int], elt: Attribute = f32) -> TensorType:
    return TensorType(elt, list(shape))


def _verify_conv_shapes(
    op: Operation,
    x: SSAValue,
    w: SSAValue,
    b: SSAValue | None,
    y: SSAValue,
    stride_attr: DenseArrayBase,
    padding_attr: DenseArrayBase,
    groups_attr: IntegerAttr,
) -> None:
    _require_rank(op, "input", x, (4,))
    _require_rank(op, "weight", w, (4,))
    n, c, h, wd = tensor_shape(x)
    o, i, kh, kw = tensor_shape(w)
    stride = _ints(stride_attr, 2, op, "stride", 1)
    padding = _ints(padding_attr, 4, op, "padding", 0)
    groups = groups_attr.value.data
    _check_groups(op, groups, c, o)
    if i * groups != c:
        raise _err(
            op,
            f"weight has {i} input channels per group but input has {c} channels in {groups} group(s) "
            f"(weight shape {_fmt((o, i, kh, kw))}, input shape {_fmt((n, c, h, wd))})",
        )
    if b is not None:
        _require_shape(op, "bias", b, (o,))
    oh, ow = conv_output_hw((h, wd), (kh, kw), stride, padding)
    if oh < 1 or ow < 1:
        raise _err(
            op,
            f"kernel {_fmt((kh, kw))} does not fit input {_fmt((h, wd))} with padding {_fmt(padding)}",
        )
    _require_shape(op, "result", y, (n, o, oh, ow))


@irdl_op_definition
class Conv2dOp(IRDLOperation):
    """2-D convolution, NCHW x OIHW (+ bias) -> NCHW; groups = C gives depthwise.

    `%y = qtrain.conv2d %x, %w, %b stride [1, 1] padding [1, 1, 1, 1] groups 1 : (...) -> tensor<1x8x28x28xf32>`
    """

    name = "qtrain.conv2d"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    output = result_def(TensorType)
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    groups = prop_def(IntegerAttr[I64])
    assembly_format = (
        "$input `,` $weight (`,` $bias^)? `stride` $stride `padding` $padding `groups` $groups "
        "attr-dict `:` functional-type(operands, results)"
    )

    def __init__(
        self,
        x: SSAValue,
        w: SSAValue,
        b: SSAValue | None,
        stride: Sequence[int] = (1, 1),
        padding: Sequence[int] = (0, 0, 0, 0),
        groups: int = 1,
    ) -> None:
        n, _, h, wd = tensor_shape(x)
        o, _, kh, kw = tensor_shape(w)
        oh, ow = conv_output_hw((h, wd), (kh, kw), stride, padding)
        super().__init__(
            operands=[x, w, b],
            result_types=[_tensor((n, o, oh, ow))],
            properties={
                "stride": _i64_array(stride),
                "padding": _i64_array(padding),
                "groups": IntegerAttr(groups, i64),
            },
        )

    def verify_(self) -> None:
        for what, v in (("input", self.input), ("weight", self.weight), ("result", self.output)):
            _require_f32(self, what, v)
        if self.bias is not None:
            _require_f32(self, "bias", self.bias)
        _verify_conv_shapes(
            self, self.input, self.weight, self.bias, self.output, self.stride, self.padding, self.groups
        )


def _verify_dense_shapes(
    op: Operation, x: SSAValue, w: SSAValue, b: SSAValue | None, y: SSAValue
) -> None:
    _require_rank(op, "input", x, (2,))
    _require_rank(op, "weight", w, (2,))
    n, k = tensor_shape(x)
    o, kw = tensor_shape(w)
    if k != kw:
        raise _err(
            op,
            f"weight has {kw} input features but input has {k} (weight shape {_fmt((o, kw))}, input shape {_fmt((n, k))})",
        )
    if b is not None:
        _require_shape(op, "bias", b, (o,))
    _require_shape(op, "result", y, (n, o))


@irdl_op_definition
class DenseOp(IRDLOperation):
    """Fully connected layer y = x W^T + b with x [N, in], W [out, in], b [out].

    `%y = qtrain.dense %x, %w, %b : (tensor<1x784xf32>, tensor<10x784xf32>, tensor<10xf32>) -> tensor<1x10xf32>`
    """

    name = "qtrain.dense"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = "$input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)"

    def __init__(self, x: SSAValue, w: SSAValue, b: SSAValue | None) -> None:
        n = tensor_shape(x)[0]
        o = tensor_shape(w)[0]
        super().__init__(operands=[x, w, b], result_types=[_tensor((n, o))])

    def verify_(self) -> None:
        for what, v in (("input", self.input), ("weight", self.weight), ("result", self.output)):
            _require_f32(self, what, v)
        if self.bias is not None:
            _require_f32(self, "bias", self.bias)
        _verify_dense_shapes(self, self.input, self.weight, self.bias, self.output)


class _UnaryElementwise(IRDLOperation):
    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    output = result_def(T)
    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, x: SSAValue) -> None:
        super().__init__(operands=[x], result_types=[x.type])

    def verify_(self) -> None:
        _require_f32(self, "input", self.input)


@irdl_op_definition
class ReluOp(_UnaryElementwise):
    """max(x, 0): `%y = qtrain.relu %x : tensor<1x8x28x28xf32>`."""

    name = "qtrain.relu"


@irdl_op_definition
class Relu6Op(_UnaryElementwise):
    """min(max(x, 0), 6): `%y = qtrain.relu6 %x : tensor<1x8x28x28xf32>`."""

    name = "qtrain.relu6"


@irdl_op_definition
class AddOp(IRDLOperation):
    """Elementwise sum of two tensors of the same shape (no broadcasting): residual joins.

    `%y = qtrain.add %a, %b : tensor<1x8x14x14xf32>`
    """

    name = "qtrain.add"
    T: ClassVar = VarConstraint("T", base(TensorType))
    lhs = operand_def(T)
    rhs = operand_def(T)
    output = result_def(T)
    assembly_format = "$lhs `,` $rhs attr-dict `:` type($lhs)"

    def __init__(self, a: SSAValue, b: SSAValue) -> None:
        super().__init__(operands=[a, b], result_types=[a.type])

    def verify_(self) -> None:
        _require_f32(self, "lhs", self.lhs)


class _Pool2d(IRDLOperation):
    input = operand_def(TensorType)
    output = result_def(TensorType)
    kernel = prop_def(DenseArrayBase[I64])
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])

    def _build(
        self,
        x: SSAValue,
        kernel: Sequence[int],
        stride: Sequence[int] | None,
        padding: Sequence[int],
        extra: dict[str, Attribute | None] | None = None,
    ) -> None:
        stride = tuple(stride) if stride is not None else tuple(kernel)
        n, c, h, w = tensor_shape(x)
        oh, ow = conv_output_hw((h, w), kernel, stride, padding)
        props: dict[str, Attribute | None] = {
            "kernel": _i64_array(kernel),
            "stride": _i64_array(stride),
            "padding": _i64_array(padding),
        }
        props.update(extra or {})
        IRDLOperation.__init__(self, operands=[x], result_types=[_tensor((n, c, oh, ow))], properties=props)

    def verify_(self) -> None:
        _require_f32(self, "input", self.input)
        _require_rank(self, "input", self.input, (4,))
        n, c, h, w = tensor_shape(self.input)
        kernel = _ints(self.kernel, 2, self, "kernel", 1)
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        _check_pool_padding(self, kernel, padding)
        oh, ow = conv_output_hw((h, w), kernel, stride, padding)
        if oh < 1 or ow < 1:
            raise _err(self, f"kernel {_fmt(kernel)} does not fit input {_fmt((h, w))} with padding {_fmt(padding)}")
        _require_shape(self, "result", self.output, (n, c, oh, ow))


@irdl_op_definition
class MaxPool2dOp(_Pool2d):
    """Max pooling (padding counts as -inf), floor mode.

    `%y = qtrain.maxpool2d %x kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : ... -> ...`
    """

    name = "qtrain.maxpool2d"
    assembly_format = (
        "$input `kernel` $kernel `stride` $stride `padding` $padding attr-dict "
        "`:` type($input) `->` type($output)"
    )

    def __init__(
        self,
        x: SSAValue,
        kernel: Sequence[int],
        stride: Sequence[int] | None = None,
        padding: Sequence[int] = (0, 0, 0, 0),
    ) -> None:
        self._build(x, kernel, stride, padding)


@irdl_op_definition
class AvgPool2dOp(_Pool2d):
    """Average pooling, floor mode. Padded positions are excluded from the divisor unless
    `count_include_pad` is given (ONNX default: excluded; PyTorch default: included).

    `%y = qtrain.avgpool2d %x kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : ... -> ...`
    """

    name = "qtrain.avgpool2d"
    count_include_pad = opt_prop_def(UnitAttr)
    assembly_format = (
        "$input `kernel` $kernel `stride` $stride `padding` $padding "
        "(`count_include_pad` $count_include_pad^)? attr-dict `:` type($input) `->` type($output)"
    )

    def __init__(
        self,
        x: SSAValue,
        kernel: Sequence[int],
        stride: Sequence[int] | None = None,
        padding: Sequence[int] = (0, 0, 0, 0),
        count_include_pad: bool = False,
    ) -> None:
        self._build(
            x, kernel, stride, padding, {"count_include_pad": UnitAttr() if count_include_pad else None}
        )


@irdl_op_definition
class GlobalAvgPoolOp(IRDLOperation):
    """Mean over H and W: [N, C, H, W] -> [N, C, 1, 1] (ONNX GlobalAveragePool).

    `%y = qtrain.global_avgpool %x : tensor<1x112x4x4xf32> -> tensor<1x112x1x1xf32>`
    """

    name = "qtrain.global_avgpool"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, x: SSAValue) -> None:
        n, c, _, _ = tensor_shape(x)
        super().__init__(operands=[x], result_types=[_tensor((n, c, 1, 1))])

    def verify_(self) -> None:
        _require_f32(self, "input", self.input)
        _require_rank(self, "input", self.input, (4,))
        n, c, _, _ = tensor_shape(self.input)
        _require_shape(self, "result", self.output, (n, c, 1, 1))


@irdl_op_definition
class ReshapeOp(IRDLOperation):
    """Reinterpret a tensor with another static shape of the same element count (row-major).

    `%y = qtrain.reshape %x : tensor<1x8x7x7xf32> -> tensor<1x392xf32>`
    """

    name = "qtrain.reshape"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, x: SSAValue, shape: Sequence[int]) -> None:
        super().__init__(operands=[x], result_types=[_tensor(shape, element_type(x))])

    def verify_(self) -> None:
        _require_tensor(self, "input", self.input)
        _require_tensor(self, "result", self.output)
        if element_type(self.input) != element_type(self.output):
            raise _err(
                self,
                f"result element type {element_type(self.output)} differs from input element type {element_type(self.input)}",
            )
        _no_per_channel(self, self.input)
        a, b = tensor_shape(self.input), tensor_shape(self.output)
        if prod(a) != prod(b):
            raise _err(
                self,
                f"input shape {_fmt(a)} has {prod(a)} elements but result shape {_fmt(b)} has {prod(b)}",
            )


@irdl_op_definition
class FlattenOp(IRDLOperation):
    """Collapse dimensions [0, axis) and [axis, rank) into a 2-D tensor (ONNX Flatten).

    `%y = qtrain.flatten %x axis 1 : tensor<1x8x7x7xf32> -> tensor<1x392xf32>`
    """

    name = "qtrain.flatten"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    assembly_format = "$input `axis` $axis attr-dict `:` type($input) `->` type($output)"

    def __init__(self, x: SSAValue, axis: int = 1) -> None:
        shape = tensor_shape(x)
        out = (prod(shape[:axis]), prod(shape[axis:]))
        super().__init__(
            operands=[x],
            result_types=[_tensor(out, element_type(x))],
            properties={"axis": IntegerAttr(axis, i64)},
        )

    def verify_(self) -> None:
        _require_tensor(self, "input", self.input)
        _no_per_channel(self, self.input)
        shape = tensor_shape(self.input)
        axis = self.axis.value.data
        if not 0 <= axis <= len(shape):
            raise _err(self, f"axis {axis} out of range for input shape {_fmt(shape)}")
        if element_type(self.input) != element_type(self.output):
            raise _err(
                self,
                f"result element type {element_type(self.output)} differs from input element type {element_type(self.input)}",
            )
        _require_shape(self, "result", self.output, (prod(shape[:axis]), prod(shape[axis:])))


@irdl_op_definition
class BatchNormOp(IRDLOperation):
    """Batch normalisation with running statistics over channel dimension 1:
    y = gamma * (x - mean) / sqrt(var + epsilon) + beta.

    On-device training runs at batch size 1, so statistics are the running ones (inference
    form); gamma and beta may still be trainable. `qtrain-fold-batchnorm` folds frozen ones.
    `%y = qtrain.batchnorm %x, %g, %b, %m, %v epsilon 1.0e-05 : (...) -> tensor<1x8x28x28xf32>`
    """

    name = "qtrain.batchnorm"
    input = operand_def(TensorType)
    gamma = operand_def(TensorType)
    beta = operand_def(TensorType)
    mean = operand_def(TensorType)
    var = operand_def(TensorType)
    output = result_def(TensorType)
    epsilon = prop_def(FloatAttr[Float64Type])
    assembly_format = (
        "$input `,` $gamma `,` $beta `,` $mean `,` $var `epsilon` $epsilon attr-dict "
        "`:` functional-type(operands, results)"
    )

    def __init__(
        self,
        x: SSAValue,
        gamma: SSAValue,
        beta: SSAValue,
        mean: SSAValue,
        var: SSAValue,
        epsilon: float = 1e-5,
    ) -> None:
        super().__init__(
            operands=[x, gamma, beta, mean, var],
            result_types=[x.type],
            properties={"epsilon": FloatAttr(epsilon, Float64Type())},
        )

    def verify_(self) -> None:
        _require_f32(self, "input", self.input)
        _require_rank(self, "input", self.input, (2, 4))
        c = tensor_shape(self.input)[1]
        for what, v in (("gamma", self.gamma), ("beta", self.beta), ("mean", self.mean), ("var", self.var)):
            _require_f32(self, what, v)
            _require_shape(self, what, v, (c,))
        if self.output.type != self.input.type:
            raise _err(self, f"result type {self.output.type} differs from input type {self.input.type}")
        _check_epsilon(self, self.epsilon)


@irdl_op_definition
class SoftmaxCrossEntropyOp(IRDLOperation):
    """Mean over the batch of -log softmax(logits)[label]; labels are i32 class indices.

    `%l = qtrain.softmax_cross_entropy %logits, %labels : (tensor<1x10xf32>, tensor<1xi32>) -> tensor<f32>`
    """

    name = "qtrain.softmax_cross_entropy"
    logits = operand_def(TensorType)
    labels = operand_def(TensorType)
    loss = result_def(TensorType)
    assembly_format = "$logits `,` $labels attr-dict `:` functional-type(operands, results)"

    def __init__(self, logits: SSAValue, labels: SSAValue) -> None:
        super().__init__(operands=[logits, labels], result_types=[_tensor(())])

    def verify_(self) -> None:
        _require_f32(self, "logits", self.logits)
        _require_rank(self, "logits", self.logits, (2,))
        lt = _require_tensor(self, "labels", self.labels)
        if lt.element_type != i32:
            raise _err(self, f"labels must have element type i32, got {lt.element_type}")
        _require_shape(self, "labels", self.labels, (tensor_shape(self.logits)[0],))
        _require_f32(self, "loss", self.loss)
        _require_shape(self, "loss", self.loss, ())


@irdl_op_definition
class MseOp(IRDLOperation):
    """Mean over all elements of (prediction - target)^2.

    `%l = qtrain.mse %pred, %target : (tensor<1x10xf32>, tensor<1x10xf32>) -> tensor<f32>`
    """

    name = "qtrain.mse"
    prediction = operand_def(TensorType)
    target = operand_def(TensorType)
    loss = result_def(TensorType)
    assembly_format = "$prediction `,` $target attr-dict `:` functional-type(operands, results)"

    def __init__(self, prediction: SSAValue, target: SSAValue) -> None:
        super().__init__(operands=[prediction, target], result_types=[_tensor(())])

    def verify_(self) -> None:
        _require_f32(self, "prediction", self.prediction)
        _require_f32(self, "target", self.target)
        a, b = tensor_shape(self.prediction), tensor_shape(self.target)
        if a != b:
            raise _err(self, f"prediction shape {_fmt(a)} and target shape {_fmt(b)} differ")
        _require_f32(self, "loss", self.loss)
        _require_shape(self, "loss", self.loss, ())


# ---------------------------------------------------------------------------------------
# Quantized ops. Rounding and saturation rule (shared by interpreter and C kernels):
#  * float -> int: round half to even (C `rintf` in the default rounding mode, numpy
#    `rint`), then saturate to the storage range;
#  * int32 accumulator -> int8: real multiplier M = (s_in * s_w) / s_out computed in f32,
#    split into a Q31 fixed-point multiplier and a power-of-two shift; the product uses a
#    saturating rounding doubling high multiply and a rounding (half away from zero)
#    right shift, then the zero-point is added and the result saturated (gemmlowp/TFLM).
# ---------------------------------------------------------------------------------------


@irdl_op_definition
class QuantizeOp(IRDLOperation):
    """q = saturate(rint(x / scale) + zero_point).

    `%q = qtrain.quantize %x, %s, %z : (tensor<4xf32>, tensor<f32>, tensor<i32>) -> tensor<4x!qtrain.q<ui8, asym>>`
    """

    name = "qtrain.quantize"
    input = operand_def(TensorType)
    scale = operand_def(TensorType)
    zero_point = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = "$input `,` $scale `,` $zero_point attr-dict `:` functional-type(operands, results)"

    def __init__(self, x: SSAValue, scale: SSAValue, zp: SSAValue, qtype: QuantType) -> None:
        super().__init__(operands=[x, scale, zp], result_types=[_tensor(tensor_shape(x), qtype)])

    def verify_(self) -> None:
        _require_f32(self, "input", self.input)
        q = _require_quant(self, "result", self.output)
        if tensor_shape(self.input) != tensor_shape(self.output):
            raise _err(
                self,
                f"input shape {_fmt(tensor_shape(self.input))} and result shape {_fmt(tensor_shape(self.output))} differ",
            )
        _check_qparams(self, "result", q, tensor_shape(self.output), self.scale, self.zero_point)


@irdl_op_definition
class DequantizeOp(IRDLOperation):
    """x = scale * (q - zero_point) in f32.

    `%x = qtrain.dequantize %q, %s, %z : (tensor<4x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>) -> tensor<4xf32>`
    """

    name = "qtrain.dequantize"
    input = operand_def(TensorType)
    scale = operand_def(TensorType)
    zero_point = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = "$input `,` $scale `,` $zero_point attr-dict `:` functional-type(operands, results)"

    def __init__(self, q: SSAValue, scale: SSAValue, zp: SSAValue) -> None:
        super().__init__(operands=[q, scale, zp], result_types=[_tensor(tensor_shape(q))])

    def verify_(self) -> None:
        q = _require_quant(self, "input", self.input)
        _require_f32(self, "result", self.output)
        if tensor_shape(self.input) != tensor_shape(self.output):
            raise _err(
                self,
                f"input shape {_fmt(tensor_shape(self.input))} and result shape {_fmt(tensor_shape(self.output))} differ",
            )
        _check_qparams(self, "input", q, tensor_shape(self.input), self.scale, self.zero_point)


@irdl_op_definition
class RequantizeOp(IRDLOperation):
    """Change scale/zero-point (and storage): q' = saturate(z' + M·(q − z)), M = s/s' fixed point.

    `%r = qtrain.requantize %q[%s, %z] -> [%s2, %z2] : (...) -> tensor<4x!qtrain.q<si8, sym>>`
    """

    name = "qtrain.requantize"
    input = operand_def(TensorType)
    input_scale = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    output_scale = operand_def(TensorType)
    output_zero_point = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = (
        "$input `[` $input_scale `,` $input_zero_point `]` `->` `[` $output_scale `,` $output_zero_point `]` "
        "attr-dict `:` functional-type(operands, results)"
    )

    def __init__(
        self, q: SSAValue, s: SSAValue, z: SSAValue, s2: SSAValue, z2: SSAValue, qtype: QuantType
    ) -> None:
        super().__init__(operands=[q, s, z, s2, z2], result_types=[_tensor(tensor_shape(q), qtype)])

    def verify_(self) -> None:
        qi = _require_quant(self, "input", self.input)
        qo = _require_quant(self, "result", self.output)
        if qi.per_channel_axis is not None or qo.per_channel_axis is not None:
            raise _err(self, "only per-tensor quantized tensors can be requantized")
        if tensor_shape(self.input) != tensor_shape(self.output):
            raise _err(
                self,
                f"input shape {_fmt(tensor_shape(self.input))} and result shape {_fmt(tensor_shape(self.output))} differ",
            )
        _check_qparams(self, "input", qi, tensor_shape(self.input), self.input_scale, self.input_zero_point)
        _check_qparams(self, "result", qo, tensor_shape(self.output), self.output_scale, self.output_zero_point)


ACTIVATIONS = ("none", "relu", "relu6")


def _verify_quant_layer(
    op: Operation,
    x: SSAValue,
    xs: SSAValue,
    xz: SSAValue,
    w: SSAValue,
    ws: SSAValue,
    wz: SSAValue,
    b: SSAValue | None,
    y: SSAValue,
    ys: SSAValue,
    yz: SSAValue,
    activation: StringAttr,
) -> None:
    qx = _require_quant(op, "input", x)
    qw = _require_quant(op, "weight", w)
    qy = _require_quant(op, "result", y)
    if qx.storage.width.data != 8 or qw.storage.width.data != 8 or qy.storage.width.data != 8:
        raise _err(op, "input, weight and result must have 8-bit storage")
    if qx.per_channel_axis is not None or qy.per_channel_axis is not None:
        raise _err(op, "input and result must be quantized per tensor")
    if qw.per_channel_axis not in (None, 0):
        raise _err(op, f"weight must be quantized per tensor or along axis 0, got axis {qw.per_channel_axis}")
    _check_qparams(op, "input", qx, tensor_shape(x), xs, xz)
    _check_qparams(op, "weight", qw, tensor_shape(w), ws, wz)
    _check_qparams(op, "result", qy, tensor_shape(y), ys, yz)
    if b is not None:
        bt = _require_tensor(op, "bias", b)
        if bt.element_type != i32:
            raise _err(op, f"bias must have element type i32 (scale input·weight), got {bt.element_type}")
    if activation.data not in ACTIVATIONS:
        raise _err(op, f"activation must be one of {', '.join(ACTIVATIONS)}, got '{activation.data}'")


@irdl_op_definition
class QConv2dOp(IRDLOperation):
    """Quantized conv2d with int32 accumulation and fixed-point requantization.

    acc[c] = bias[c] + sum (x - zx)(w - zw[c]); y = saturate(zy + M[c]·acc[c]),
    M[c] = sx·sw[c]/sy; bias is i32 at scale sx·sw[c]; the activation clamps in the
    quantized domain.
    `%y = qtrain.qconv2d %x[%sx, %zx], %w[%sw, %zw], %b -> [%sy, %zy] stride [1, 1] padding [1, 1, 1, 1] groups 1 activation "relu" : (...) -> ...`
    """

    name = "qtrain.qconv2d"
    input = operand_def(TensorType)
    input_scale = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    weight = operand_def(TensorType)
    weight_scale = operand_def(TensorType)
    weight_zero_point = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    output_scale = operand_def(TensorType)
    output_zero_point = operand_def(TensorType)
    output = result_def(TensorType)
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    groups = prop_def(IntegerAttr[I64])
    activation = prop_def(StringAttr)
    assembly_format = (
        "$input `[` $input_scale `,` $input_zero_point `]` `,` $weight `[` $weight_scale `,` $weight_zero_point `]` "
        "(`,` $bias^)? `->` `[` $output_scale `,` $output_zero_point `]` "
        "`stride` $stride `padding` $padding `groups` $groups `activation` $activation attr-dict "
        "`:` functional-type(operands, results)"
    )

    def __init__(
        self,
        x: tuple[SSAValue, SSAValue, SSAValue],
        w: tuple[SSAValue, SSAValue, SSAValue],
        b: SSAValue | None,
        y: tuple[SSAValue, SSAValue],
        out_type: QuantType,
        stride: Sequence[int] = (1, 1),
        padding: Sequence[int] = (0, 0, 0, 0),
        groups: int = 1,
        activation: str = "none",
    ) -> None:
        n, _, h, wd = tensor_shape(x[0])
        o, _, kh, kw = tensor_shape(w[0])
        oh, ow = conv_output_hw((h, wd), (kh, kw), stride, padding)
        super().__init__(
            operands=[*x, *w, b, *y],
            result_types=[_tensor((n, o, oh, ow), out_type)],
            properties={
                "stride": _i64_array(stride),
                "padding": _i64_array(padding),
                "groups": IntegerAttr(groups, i64),
                "activation": StringAttr(activation),
            },
        )

    def verify_(self) -> None:
        _verify_quant_layer(
            self,
            self.input,
            self.input_scale,
            self.input_zero_point,
            self.weight,
            self.weight_scale,
            self.weight_zero_point,
            self.bias,
            self.output,
            self.output_scale,
            self.output_zero_point,
            self.activation,
        )
        _verify_conv_shapes(
            self, self.input, self.weight, self.bias, self.output, self.stride, self.padding, self.groups
        )


@irdl_op_definition
class QDenseOp(IRDLOperation):
    """Quantized dense layer; same arithmetic as `qtrain.qconv2d` with x [N, in], W [out, in].

    `%y = qtrain.qdense %x[%sx, %zx], %w[%sw, %zw], %b -> [%sy, %zy] activation "none" : (...) -> ...`
    """

    name = "qtrain.qdense"
    input = operand_def(TensorType)
    input_scale = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    weight = operand_def(TensorType)
    weight_scale = operand_def(TensorType)
    weight_zero_point = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    output_scale = operand_def(TensorType)
    output_zero_point = operand_def(TensorType)
    output = result_def(TensorType)
    activation = prop_def(StringAttr)
    assembly_format = (
        "$input `[` $input_scale `,` $input_zero_point `]` `,` $weight `[` $weight_scale `,` $weight_zero_point `]` "
        "(`,` $bias^)? `->` `[` $output_scale `,` $output_zero_point `]` `activation` $activation attr-dict "
        "`:` functional-type(operands, results)"
    )

    def __init__(
        self,
        x: tuple[SSAValue, SSAValue, SSAValue],
        w: tuple[SSAValue, SSAValue, SSAValue],
        b: SSAValue | None,
        y: tuple[SSAValue, SSAValue],
        out_type: QuantType,
        activation: str = "none",
    ) -> None:
        n = tensor_shape(x[0])[0]
        o = tensor_shape(w[0])[0]
        super().__init__(
            operands=[*x, *w, b, *y],
            result_types=[_tensor((n, o), out_type)],
            properties={"activation": StringAttr(activation)},
        )

    def verify_(self) -> None:
        _verify_quant_layer(
            self,
            self.input,
            self.input_scale,
            self.input_zero_point,
            self.weight,
            self.weight_scale,
            self.weight_zero_point,
            self.bias,
            self.output,
            self.output_scale,
            self.output_zero_point,
            self.activation,
        )
        _verify_dense_shapes(self, self.input, self.weight, self.bias, self.output)


# ---------------------------------------------------------------------------------------
# Training level: backward ops (produced by qtrain-autodiff) and optimizer ops.
#
# Each forward op's derivative is split into independent ops (grad-input, grad-weight,
# grad-bias) so that qtrain-prune-frozen-backward can drop each one alone. A backward op's
# operands name exactly what it needs from the forward pass; that is what must be saved.
# ---------------------------------------------------------------------------------------


def _verify_channels(
    op: Operation, channels: DenseArrayBase | None, out: int, subject: str = "channels"
) -> int:
    """Number of rows a (sparse) weight gradient has; validates the channel list."""
    if channels is None:
        return out
    vals = [int(c) for c in channels.get_values()]
    if not vals or sorted(set(vals)) != vals or vals[0] < 0 or vals[-1] >= out:
        raise _err(op, f"{subject} must be a non-empty increasing list in [0, {out}), got {_fmt(vals)}")
    return len(vals)


@irdl_op_definition
class Conv2dGradInputOp(IRDLOperation):
    """dL/dx of conv2d from the output error and the weight (result shape = input shape).

    `%dx = qtrain.conv2d_grad_input %dy, %w stride [1, 1] padding [1, 1, 1, 1] groups 1 : (...) -> tensor<1x1x28x28xf32>`
    """

    name = "qtrain.conv2d_grad_input"
    output_grad = operand_def(TensorType)
    weight = operand_def(TensorType)
    input_grad = result_def(TensorType)
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    groups = prop_def(IntegerAttr[I64])
    assembly_format = (
        "$output_grad `,` $weight `stride` $stride `padding` $padding `groups` $groups attr-dict "
        "`:` functional-type(operands, results)"
    )

    def __init__(self, dy: SSAValue, w: SSAValue, input_type: TensorType, conv: "Conv2dOp") -> None:
        super().__init__(
            operands=[dy, w],
            result_types=[input_type],
            properties={"stride": conv.stride, "padding": conv.padding, "groups": conv.groups},
        )

    def verify_(self) -> None:
        for what, v in (("output error", self.output_grad), ("weight", self.weight), ("result", self.input_grad)):
            _require_f32(self, what, v)
        # The forward conv from result (input) and weight must produce the output error's shape.
        _require_rank(self, "result", self.input_grad, (4,))
        _require_rank(self, "weight", self.weight, (4,))
        n, c, h, w = tensor_shape(self.input_grad)
        o, i, kh, kw = tensor_shape(self.weight)
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        _check_groups(self, self.groups.value.data, c, o)
        if i * self.groups.value.data != c:
            raise _err(self, f"weight has {i} input channels per group but result has {c} channels")
        oh, ow = conv_output_hw((h, w), (kh, kw), stride, padding)
        _require_shape(self, "output error", self.output_grad, (n, o, oh, ow))


@irdl_op_definition
class Conv2dGradWeightOp(IRDLOperation):
    """dL/dW of conv2d from the saved input and the output error; with `channels`, only
    those output channels' rows are computed (sparse update) and the result has one row
    per listed channel.

    `%dw = qtrain.conv2d_grad_weight %x, %dy stride [1, 1] padding [1, 1, 1, 1] groups 1 : (...) -> tensor<8x1x3x3xf32>`
    """

    name = "qtrain.conv2d_grad_weight"
    input = operand_def(TensorType)
    output_grad = operand_def(TensorType)
    weight_grad = result_def(TensorType)
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    groups = prop_def(IntegerAttr[I64])
    channels = opt_prop_def(DenseArrayBase[I64])
    assembly_format = (
        "$input `,` $output_grad `stride` $stride `padding` $padding `groups` $groups "
        "(`channels` $channels^)? attr-dict `:` functional-type(operands, results)"
    )

    def __init__(
        self, x: SSAValue, dy: SSAValue, weight_type: TensorType, conv: "Conv2dOp",
        channels: Sequence[int] | None = None,
    ) -> None:
        shape = list(weight_type.get_shape())
        if channels is not None:
            shape[0] = len(channels)
        super().__init__(
            operands=[x, dy],
            result_types=[_tensor(shape)],
            properties={
                "stride": conv.stride, "padding": conv.padding, "groups": conv.groups,
                "channels": _i64_array(channels) if channels is not None else None,
            },
        )

    def verify_(self) -> None:
        for what, v in (("input", self.input), ("output error", self.output_grad), ("result", self.weight_grad)):
            _require_f32(self, what, v)
        _require_rank(self, "input", self.input, (4,))
        _require_rank(self, "output error", self.output_grad, (4,))
        _require_rank(self, "result", self.weight_grad, (4,))
        n, c, h, w = tensor_shape(self.input)
        _, i, kh, kw = tensor_shape(self.weight_grad)
        o = tensor_shape(self.output_grad)[1]
        groups = self.groups.value.data
        _check_groups(self, groups, c, o)
        if i * groups != c:
            raise _err(self, f"result has {i} input channels per group but input has {c} channels")
        rows = _verify_channels(self, self.channels, o)
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        oh, ow = conv_output_hw((h, w), (kh, kw), stride, padding)
        _require_shape(self, "output error", self.output_grad, (n, o, oh, ow))
        _require_shape(self, "result", self.weight_grad, (rows, i, kh, kw))


class _BiasGrad(IRDLOperation):
    output_grad = operand_def(TensorType)
    bias_grad = result_def(TensorType)
    assembly_format = "$output_grad attr-dict `:` type($output_grad) `->` type($bias_grad)"

    def __init__(self, dy: SSAValue) -> None:
        super().__init__(operands=[dy], result_types=[_tensor((tensor_shape(dy)[1],))])

    def verify_(self) -> None:
        _require_f32(self, "output error", self.output_grad)
        _require_f32(self, "result", self.bias_grad)
        _require_rank(self, "output error", self.output_grad, self.RANKS)
        _require_shape(self, "result", self.bias_grad, (tensor_shape(self.output_grad)[1],))

    RANKS: ClassVar[tuple[int, ...]] = (4,)


@irdl_op_definition
class Conv2dGradBiasOp(_BiasGrad):
    """dL/db of conv2d: the output error summed over batch, height and width.

    `%db = qtrain.conv2d_grad_bias %dy : tensor<1x8x14x14xf32> -> tensor<8xf32>`
    """

    name = "qtrain.conv2d_grad_bias"


@irdl_op_definition
class DenseGradInputOp(IRDLOperation):
    """dL/dx = dy · W. `%dx = qtrain.dense_grad_input %dy, %w : (...) -> tensor<1x784xf32>`"""

    name = "qtrain.dense_grad_input"
    output_grad = operand_def(TensorType)
    weight = operand_def(TensorType)
    input_grad = result_def(TensorType)
    assembly_format = "$output_grad `,` $weight attr-dict `:` functional-type(operands, results)"

    def __init__(self, dy: SSAValue, w: SSAValue) -> None:
        n = tensor_shape(dy)[0]
        k = tensor_shape(w)[1]
        super().__init__(operands=[dy, w], result_types=[_tensor((n, k))])

    def verify_(self) -> None:
        for what, v in (("output error", self.output_grad), ("weight", self.weight), ("result", self.input_grad)):
            _require_f32(self, what, v)
            _require_rank(self, what, v, (2,))
        o, k = tensor_shape(self.weight)
        n = tensor_shape(self.output_grad)[0]
        _require_shape(self, "output error", self.output_grad, (n, o))
        _require_shape(self, "result", self.input_grad, (n, k))


@irdl_op_definition
class DenseGradWeightOp(IRDLOperation):
    """dL/dW = dy^T · x; with `channels`, only those output rows.

    `%dw = qtrain.dense_grad_weight %x, %dy : (...) -> tensor<10x784xf32>`
    """

    name = "qtrain.dense_grad_weight"
    input = operand_def(TensorType)
    output_grad = operand_def(TensorType)
    weight_grad = result_def(TensorType)
    channels = opt_prop_def(DenseArrayBase[I64])
    assembly_format = "$input `,` $output_grad (`channels` $channels^)? attr-dict `:` functional-type(operands, results)"

    def __init__(self, x: SSAValue, dy: SSAValue, channels: Sequence[int] | None = None) -> None:
        o = tensor_shape(dy)[1] if channels is None else len(channels)
        super().__init__(
            operands=[x, dy],
            result_types=[_tensor((o, tensor_shape(x)[1]))],
            properties={"channels": _i64_array(channels) if channels is not None else None},
        )

    def verify_(self) -> None:
        for what, v in (("input", self.input), ("output error", self.output_grad), ("result", self.weight_grad)):
            _require_f32(self, what, v)
            _require_rank(self, what, v, (2,))
        n, k = tensor_shape(self.input)
        o = tensor_shape(self.output_grad)[1]
        if tensor_shape(self.output_grad)[0] != n:
            raise _err(
                self,
                f"output error has batch {tensor_shape(self.output_grad)[0]} but input has batch {n}",
            )
        rows = _verify_channels(self, self.channels, o)
        _require_shape(self, "result", self.weight_grad, (rows, k))


@irdl_op_definition
class DenseGradBiasOp(_BiasGrad):
    """dL/db of dense: the output error summed over the batch.

    `%db = qtrain.dense_grad_bias %dy : tensor<1x10xf32> -> tensor<10xf32>`
    """

    name = "qtrain.dense_grad_bias"
    RANKS: ClassVar[tuple[int, ...]] = (2,)


class _ActivationGrad(IRDLOperation):
    T: ClassVar = VarConstraint("T", base(TensorType))
    output_grad = operand_def(T)
    output = operand_def(T)
    input_grad = result_def(T)
    assembly_format = "$output_grad `,` $output attr-dict `:` type($output_grad)"

    def __init__(self, dy: SSAValue, y: SSAValue) -> None:
        super().__init__(operands=[dy, y], result_types=[dy.type])

    def verify_(self) -> None:
        _require_f32(self, "output error", self.output_grad)


@irdl_op_definition
class ReluGradOp(_ActivationGrad):
    """dx = dy where the forward *output* y > 0, else 0 (only a 1-bit mask of y is needed).

    `%dx = qtrain.relu_grad %dy, %y : tensor<1x8x14x14xf32>`
    """

    name = "qtrain.relu_grad"


@irdl_op_definition
class Relu6GradOp(_ActivationGrad):
    """dx = dy where 0 < y < 6 for the forward output y, else 0.

    `%dx = qtrain.relu6_grad %dy, %y : tensor<1x8x14x14xf32>`
    """

    name = "qtrain.relu6_grad"


@irdl_op_definition
class MaxPool2dGradOp(IRDLOperation):
    """Routes each output error to the first maximal input of its window (row-major scan);
    needs the saved forward input.

    `%dx = qtrain.maxpool2d_grad %dy, %x kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (...) -> ...`
    """

    name = "qtrain.maxpool2d_grad"
    output_grad = operand_def(TensorType)
    input = operand_def(TensorType)
    input_grad = result_def(TensorType)
    kernel = prop_def(DenseArrayBase[I64])
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    assembly_format = (
        "$output_grad `,` $input `kernel` $kernel `stride` $stride `padding` $padding attr-dict "
        "`:` functional-type(operands, results)"
    )

    def __init__(self, dy: SSAValue, x: SSAValue, pool: "MaxPool2dOp") -> None:
        super().__init__(
            operands=[dy, x],
            result_types=[x.type],
            properties={"kernel": pool.kernel, "stride": pool.stride, "padding": pool.padding},
        )

    def verify_(self) -> None:
        _verify_pool_grad(self, self.output_grad, self.input_grad, self.kernel, self.stride, self.padding)
        if self.input.type != self.input_grad.type:
            raise _err(self, f"result type {self.input_grad.type} differs from input type {self.input.type}")


def _verify_pool_grad(
    op: Operation, dy: SSAValue, dx: SSAValue, kernel: DenseArrayBase, stride: DenseArrayBase,
    padding: DenseArrayBase,
) -> None:
    _require_f32(op, "output error", dy)
    _require_f32(op, "result", dx)
    _require_rank(op, "result", dx, (4,))
    n, c, h, w = tensor_shape(dx)
    k = _ints(kernel, 2, op, "kernel", 1)
    s = _ints(stride, 2, op, "stride", 1)
    p = _ints(padding, 4, op, "padding", 0)
    _check_pool_padding(op, k, p)
    oh, ow = conv_output_hw((h, w), k, s, p)
    _require_shape(op, "output error", dy, (n, c, oh, ow))


@irdl_op_definition
class AvgPool2dGradOp(IRDLOperation):
    """Spreads each output error evenly over its window (same divisor rule as the forward op).

    `%dx = qtrain.avgpool2d_grad %dy kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (...) -> tensor<1x8x8x8xf32>`
    """

    name = "qtrain.avgpool2d_grad"
    output_grad = operand_def(TensorType)
    input_grad = result_def(TensorType)
    kernel = prop_def(DenseArrayBase[I64])
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    count_include_pad = opt_prop_def(UnitAttr)
    assembly_format = (
        "$output_grad `kernel` $kernel `stride` $stride `padding` $padding "
        "(`count_include_pad` $count_include_pad^)? attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, dy: SSAValue, input_type: TensorType, pool: "AvgPool2dOp") -> None:
        super().__init__(
            operands=[dy],
            result_types=[input_type],
            properties={
                "kernel": pool.kernel, "stride": pool.stride, "padding": pool.padding,
                "count_include_pad": pool.count_include_pad,
            },
        )

    def verify_(self) -> None:
        _verify_pool_grad(self, self.output_grad, self.input_grad, self.kernel, self.stride, self.padding)


@irdl_op_definition
class GlobalAvgPoolGradOp(IRDLOperation):
    """dx[n, c, h, w] = dy[n, c, 0, 0] / (H·W).

    `%dx = qtrain.global_avgpool_grad %dy : tensor<1x8x1x1xf32> -> tensor<1x8x4x4xf32>`
    """

    name = "qtrain.global_avgpool_grad"
    output_grad = operand_def(TensorType)
    input_grad = result_def(TensorType)
    assembly_format = "$output_grad attr-dict `:` type($output_grad) `->` type($input_grad)"

    def __init__(self, dy: SSAValue, input_type: TensorType) -> None:
        super().__init__(operands=[dy], result_types=[input_type])

    def verify_(self) -> None:
        _require_f32(self, "output error", self.output_grad)
        _require_f32(self, "result", self.input_grad)
        _require_rank(self, "result", self.input_grad, (4,))
        n, c, _, _ = tensor_shape(self.input_grad)
        _require_shape(self, "output error", self.output_grad, (n, c, 1, 1))


@irdl_op_definition
class BatchNormGradInputOp(IRDLOperation):
    """dx = dy · gamma / sqrt(var + eps) (running statistics are constants).

    `%dx = qtrain.batchnorm_grad_input %dy, %g, %v epsilon 1.0e-05 : (...) -> tensor<1x8x4x4xf32>`
    """

    name = "qtrain.batchnorm_grad_input"
    output_grad = operand_def(TensorType)
    gamma = operand_def(TensorType)
    var = operand_def(TensorType)
    input_grad = result_def(TensorType)
    epsilon = prop_def(FloatAttr[Float64Type])
    assembly_format = (
        "$output_grad `,` $gamma `,` $var `epsilon` $epsilon attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, dy: SSAValue, gamma: SSAValue, var: SSAValue, epsilon: FloatAttr) -> None:
        super().__init__(operands=[dy, gamma, var], result_types=[dy.type], properties={"epsilon": epsilon})

    def verify_(self) -> None:
        _require_rank(self, "output error", self.output_grad, (2, 4))
        c = tensor_shape(self.output_grad)[1]
        for what, v in (("output error", self.output_grad), ("gamma", self.gamma), ("var", self.var),
                        ("result", self.input_grad)):
            _require_f32(self, what, v)
        _require_shape(self, "gamma", self.gamma, (c,))
        _require_shape(self, "var", self.var, (c,))
        _require_shape(self, "result", self.input_grad, tensor_shape(self.output_grad))
        _check_epsilon(self, self.epsilon)


@irdl_op_definition
class BatchNormGradGammaOp(IRDLOperation):
    """dgamma[c] = sum over all but dim 1 of dy · (x − mean)/sqrt(var + eps).

    `%dg = qtrain.batchnorm_grad_gamma %dy, %x, %m, %v epsilon 1.0e-05 : (...) -> tensor<8xf32>`
    """

    name = "qtrain.batchnorm_grad_gamma"
    output_grad = operand_def(TensorType)
    input = operand_def(TensorType)
    mean = operand_def(TensorType)
    var = operand_def(TensorType)
    gamma_grad = result_def(TensorType)
    epsilon = prop_def(FloatAttr[Float64Type])
    assembly_format = (
        "$output_grad `,` $input `,` $mean `,` $var `epsilon` $epsilon attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, dy: SSAValue, x: SSAValue, mean: SSAValue, var: SSAValue, epsilon: FloatAttr) -> None:
        super().__init__(
            operands=[dy, x, mean, var], result_types=[mean.type], properties={"epsilon": epsilon}
        )

    def verify_(self) -> None:
        _require_rank(self, "output error", self.output_grad, (2, 4))
        c = tensor_shape(self.output_grad)[1]
        for what, v in (("output error", self.output_grad), ("input", self.input), ("mean", self.mean),
                        ("var", self.var), ("result", self.gamma_grad)):
            _require_f32(self, what, v)
        _require_shape(self, "input", self.input, tensor_shape(self.output_grad))
        for what, v in (("mean", self.mean), ("var", self.var), ("result", self.gamma_grad)):
            _require_shape(self, what, v, (c,))
        _check_epsilon(self, self.epsilon)


@irdl_op_definition
class BatchNormGradBetaOp(IRDLOperation):
    """dbeta[c] = sum of dy over all but dim 1.

    `%db = qtrain.batchnorm_grad_beta %dy : tensor<1x8x4x4xf32> -> tensor<8xf32>`
    """

    name = "qtrain.batchnorm_grad_beta"
    output_grad = operand_def(TensorType)
    beta_grad = result_def(TensorType)
    assembly_format = "$output_grad attr-dict `:` type($output_grad) `->` type($beta_grad)"

    def __init__(self, dy: SSAValue) -> None:
        super().__init__(operands=[dy], result_types=[_tensor((tensor_shape(dy)[1],))])

    def verify_(self) -> None:
        _require_f32(self, "output error", self.output_grad)
        _require_f32(self, "result", self.beta_grad)
        _require_rank(self, "output error", self.output_grad, (2, 4))
        _require_shape(self, "result", self.beta_grad, (tensor_shape(self.output_grad)[1],))


@irdl_op_definition
class SoftmaxCrossEntropyGradOp(IRDLOperation):
    """dL/dlogits of the mean cross-entropy: (softmax(logits) − onehot(labels)) / N.

    `%dl = qtrain.softmax_cross_entropy_grad %logits, %labels : (...) -> tensor<1x10xf32>`
    """

    name = "qtrain.softmax_cross_entropy_grad"
    logits = operand_def(TensorType)
    labels = operand_def(TensorType)
    logits_grad = result_def(TensorType)
    assembly_format = "$logits `,` $labels attr-dict `:` functional-type(operands, results)"

    def __init__(self, logits: SSAValue, labels: SSAValue) -> None:
        super().__init__(operands=[logits, labels], result_types=[logits.type])

    def verify_(self) -> None:
        _require_f32(self, "logits", self.logits)
        _require_rank(self, "logits", self.logits, (2,))
        _require_shape(self, "labels", self.labels, (tensor_shape(self.logits)[0],))
        if element_type(self.labels) != i32:
            raise _err(self, f"labels must have element type i32, got {element_type(self.labels)}")
        _require_shape(self, "result", self.logits_grad, tensor_shape(self.logits))


@irdl_op_definition
class MseGradOp(IRDLOperation):
    """dL/dprediction of the mean squared error: 2·(prediction − target) / numel.

    `%dp = qtrain.mse_grad %pred, %target : (...) -> tensor<1x10xf32>`
    """

    name = "qtrain.mse_grad"
    T: ClassVar = VarConstraint("T", base(TensorType))
    prediction = operand_def(T)
    target = operand_def(T)
    prediction_grad = result_def(T)
    assembly_format = "$prediction `,` $target attr-dict `:` type($prediction)"

    def __init__(self, prediction: SSAValue, target: SSAValue) -> None:
        super().__init__(operands=[prediction, target], result_types=[prediction.type])

    def verify_(self) -> None:
        _require_f32(self, "prediction", self.prediction)


# -- optimizer ops: update a parameter symbol in place ----------------------------------
#
# With `channels`, the gradient holds one row per listed output channel and only those
# rows of the parameter change (sparse update). With `accumulate @acc every B`, the step
# adds the gradient into the state @acc, and on the last sample of each mini-batch (the
# `batch_pos` operand equals B−1) applies the update with the mean gradient acc/B and
# clears @acc; otherwise the parameter is unchanged.


class _UpdateOp(IRDLOperation):
    param = prop_def(SymbolRefAttr)
    grad = operand_def(TensorType)
    batch_pos = opt_operand_def(TensorType)
    lr = prop_def(FloatAttr[Float64Type])
    channels = opt_prop_def(DenseArrayBase[I64])
    accumulator = opt_prop_def(SymbolRefAttr)
    every = opt_prop_def(IntegerAttr[I64])

    def _param_type(self) -> TensorType | None:
        target = _lookup(self, self.param)
        return target.type if isinstance(target, ParamOp) else None

    def _verify_update(self, state_syms: Sequence[SymbolRefAttr]) -> None:
        _require_f32(self, "gradient", self.grad)
        target = _lookup(self, self.param)
        if target is None:
            if _module_of(self) is not None:
                raise _err(self, f"no qtrain.param named {self.param}")
            return
        if not isinstance(target, ParamOp) or not target.is_trainable:
            raise _err(self, f"{self.param} is not a trainable qtrain.param")
        shape = list(target.type.get_shape())
        if self.channels is not None:
            shape[0] = _verify_channels(self, self.channels, shape[0])
        _require_shape(self, "gradient", self.grad, shape)
        for sym in state_syms:
            _check_symbol_type(self, sym, target.type, writing=True)
            _require_state(self, sym)
        if (self.accumulator is None) != (self.every is None) or (self.accumulator is None) != (
            self.batch_pos is None
        ):
            raise _err(self, "accumulate needs all of: the accumulator symbol, 'every' and the batch position operand")
        if self.accumulator is not None:
            assert self.every is not None and self.batch_pos is not None
            if self.every.value.data < 2:
                raise _err(self, f"every must be >= 2, got {self.every.value.data}")
            _check_symbol_type(self, self.accumulator, _tensor(shape), writing=True)
            _require_state(self, self.accumulator)
            _require_shape(self, "batch position", self.batch_pos, ())
            if element_type(self.batch_pos) != i32:
                raise _err(self, f"batch position must be tensor<i32>, got {self.batch_pos.type}")


_ACC_FMT = "(`accumulate` $accumulator^ `every` $every `at` $batch_pos)?"


@irdl_op_definition
class SgdUpdateOp(_UpdateOp):
    """w -= lr · g.

    `qtrain.sgd_update @fc.weight, %g lr 1.0e-02 : tensor<10x32xf32>`
    """

    name = "qtrain.sgd_update"
    assembly_format = (
        f"$param `,` $grad `lr` $lr (`channels` $channels^)? {_ACC_FMT} attr-dict `:` type($grad) (`,` type($batch_pos)^)?"
    )

    def verify_(self) -> None:
        self._verify_update([])


@irdl_op_definition
class MomentumUpdateOp(_UpdateOp):
    """v = momentum · v + g; w -= lr · v (PyTorch SGD with momentum, no dampening).

    `qtrain.momentum_update @fc.weight, %g velocity @fc.weight.velocity lr 1.0e-02 momentum 9.0e-01 : tensor<10x32xf32>`
    """

    name = "qtrain.momentum_update"
    velocity = prop_def(SymbolRefAttr)
    momentum = prop_def(FloatAttr[Float64Type])
    assembly_format = (
        "$param `,` $grad `velocity` $velocity `lr` $lr `momentum` $momentum (`channels` $channels^)? "
        f"{_ACC_FMT} attr-dict `:` type($grad) (`,` type($batch_pos)^)?"
    )

    def verify_(self) -> None:
        self._verify_update([self.velocity])


@irdl_op_definition
class AdamUpdateOp(_UpdateOp):
    """Adam (PyTorch semantics): t += 1; m = b1·m + (1−b1)·g; v = b2·v + (1−b2)·g²;
    w -= lr · (m / (1 − b1^t)) / (sqrt(v / (1 − b2^t)) + eps). `step` is an i32 state.

    `qtrain.adam_update @w, %g moments @w.m, @w.v step @w.t lr 1.0e-03 beta1 9.0e-01 beta2 9.99e-01 eps 1.0e-08 : tensor<10xf32>`
    """

    name = "qtrain.adam_update"
    first_moment = prop_def(SymbolRefAttr)
    second_moment = prop_def(SymbolRefAttr)
    step = prop_def(SymbolRefAttr)
    beta1 = prop_def(FloatAttr[Float64Type])
    beta2 = prop_def(FloatAttr[Float64Type])
    eps = prop_def(FloatAttr[Float64Type])
    assembly_format = (
        "$param `,` $grad `moments` $first_moment `,` $second_moment `step` $step `lr` $lr "
        "`beta1` $beta1 `beta2` $beta2 `eps` $eps (`channels` $channels^)? "
        f"{_ACC_FMT} attr-dict `:` type($grad) (`,` type($batch_pos)^)?"
    )

    def verify_(self) -> None:
        self._verify_update([self.first_moment, self.second_moment])
        _check_symbol_type(self, self.step, _tensor((), i32), writing=True)
        _require_state(self, self.step)


@irdl_op_definition
class CounterStepOp(IRDLOperation):
    """Advance an i32 counter state modulo N (the position inside a mini-batch).

    `qtrain.counter_step @batch_pos modulo 4`
    """

    name = "qtrain.counter_step"
    counter = prop_def(SymbolRefAttr)
    modulo = prop_def(IntegerAttr[I64])
    assembly_format = "$counter `modulo` $modulo attr-dict"

    def verify_(self) -> None:
        if self.modulo.value.data < 1:
            raise _err(self, f"modulo must be >= 1, got {self.modulo.value.data}")
        _check_symbol_type(self, self.counter, _tensor((), i32), writing=True)
        _require_state(self, self.counter)


# -- fused grad-weight + SGD: the weight gradient never exists as a buffer --------------
#
# Produced by qtrain-fuse-updates from a conv2d/dense grad-weight whose only user is a
# plain `qtrain.sgd_update` (no accumulate). Each gradient element is computed exactly as
# the grad-weight op computes it and at once applied as w = w − lr · g, exactly as
# sgd_update applies it, so the results are those of the pair; with `channels` the
# gradient rows are those output channels and only those rows of the parameter change.
# The kernel size comes from the parameter's type.


def _fused_param_shape(op: Operation, param: SymbolRefAttr, rank: int) -> tuple[int, ...] | None:
    """The trainable parameter's shape, or None when the op is not inside a module yet."""
    target = _lookup(op, param)
    if target is None:
        if _module_of(op) is not None:
            raise _err(op, f"no qtrain.param named {param}")
        return None
    if not isinstance(target, ParamOp) or not target.is_trainable:
        raise _err(op, f"{param} is not a trainable qtrain.param")
    if not isinstance(target.type.element_type, Float32Type):
        raise _err(op, f"{param} must have element type f32, got {target.type.element_type}")
    shape = tuple(target.type.get_shape())
    if len(shape) != rank:
        raise _err(op, f"{param} must have rank {rank}, got shape {_fmt(shape)}")
    return shape


class _FusedGradWeightSgd(IRDLOperation):
    param = prop_def(SymbolRefAttr)
    input = operand_def(TensorType)
    output_grad = operand_def(TensorType)
    lr = prop_def(FloatAttr[Float64Type])
    channels = opt_prop_def(DenseArrayBase[I64])

    def param_type(self) -> TensorType | None:
        """The updated parameter's type (it gives the kernel size), None when unresolved."""
        target = _lookup(self, self.param)
        return target.type if isinstance(target, ParamOp) else None


@irdl_op_definition
class DenseGradWeightSgdOp(_FusedGradWeightSgd):
    """`dense_grad_weight` fused with its plain SGD update: for each output row o (or each
    listed channel), dW[o, :] = dy[:, o]^T · x is applied as soon as it is computed,
    w[o, :] -= lr · dW[o, :], so no weight-gradient buffer exists.

    `qtrain.dense_grad_weight_sgd @fc.weight, %x, %dy lr 1.0e-02 : tensor<1x784xf32>, tensor<1x10xf32>`
    """

    name = "qtrain.dense_grad_weight_sgd"
    assembly_format = (
        "$param `,` $input `,` $output_grad `lr` $lr (`channels` $channels^)? attr-dict "
        "`:` type($input) `,` type($output_grad)"
    )

    def __init__(
        self, param: str | SymbolRefAttr, x: SSAValue, dy: SSAValue, lr: FloatAttr | float,
        channels: DenseArrayBase | Sequence[int] | None = None,
    ) -> None:
        if channels is not None and not isinstance(channels, DenseArrayBase):
            channels = _i64_array(channels)
        super().__init__(
            operands=[x, dy],
            properties={
                "param": SymbolRefAttr(param) if isinstance(param, str) else param,
                "lr": lr if isinstance(lr, FloatAttr) else FloatAttr(lr, Float64Type()),
                "channels": channels,
            },
        )

    def verify_(self) -> None:
        for what, v in (("input", self.input), ("output error", self.output_grad)):
            _require_f32(self, what, v)
            _require_rank(self, what, v, (2,))
        n, k = tensor_shape(self.input)
        nd, o = tensor_shape(self.output_grad)
        if nd != n:
            raise _err(self, f"output error has batch {nd} but input has batch {n}")
        shape = _fused_param_shape(self, self.param, 2)
        if shape is not None:
            if shape[0] != o:
                raise _err(
                    self,
                    f"output error has {o} features but {self.param} has {shape[0]} rows "
                    f"(output error shape {_fmt((n, o))}, weight shape {_fmt(shape)})",
                )
            if shape[1] != k:
                raise _err(
                    self,
                    f"input has {k} features but {self.param} has {shape[1]} columns "
                    f"(input shape {_fmt((n, k))}, weight shape {_fmt(shape)})",
                )
        _verify_channels(self, self.channels, o)


@irdl_op_definition
class Conv2dGradWeightSgdOp(_FusedGradWeightSgd):
    """`conv2d_grad_weight` fused with its plain SGD update: for each output channel o (or
    each listed channel), dW[o] is computed from the saved input and the output error and
    applied at once, w[o] -= lr · dW[o], so no weight-gradient buffer exists. The kernel
    size is the parameter's.

    `qtrain.conv2d_grad_weight_sgd @conv.weight, %x, %dy stride [1, 1] padding [1, 1, 1, 1] groups 1 lr 1.0e-02 : tensor<1x1x28x28xf32>, tensor<1x8x28x28xf32>`
    """

    name = "qtrain.conv2d_grad_weight_sgd"
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    groups = prop_def(IntegerAttr[I64])
    assembly_format = (
        "$param `,` $input `,` $output_grad `stride` $stride `padding` $padding `groups` $groups "
        "`lr` $lr (`channels` $channels^)? attr-dict `:` type($input) `,` type($output_grad)"
    )

    def __init__(
        self, param: str | SymbolRefAttr, x: SSAValue, dy: SSAValue, lr: FloatAttr | float,
        stride: DenseArrayBase | Sequence[int] = (1, 1),
        padding: DenseArrayBase | Sequence[int] = (0, 0, 0, 0),
        groups: IntegerAttr | int = 1,
        channels: DenseArrayBase | Sequence[int] | None = None,
    ) -> None:
        if channels is not None and not isinstance(channels, DenseArrayBase):
            channels = _i64_array(channels)
        super().__init__(
            operands=[x, dy],
            properties={
                "param": SymbolRefAttr(param) if isinstance(param, str) else param,
                "stride": stride if isinstance(stride, DenseArrayBase) else _i64_array(stride),
                "padding": padding if isinstance(padding, DenseArrayBase) else _i64_array(padding),
                "groups": groups if isinstance(groups, IntegerAttr) else IntegerAttr(groups, i64),
                "lr": lr if isinstance(lr, FloatAttr) else FloatAttr(lr, Float64Type()),
                "channels": channels,
            },
        )

    def verify_(self) -> None:
        for what, v in (("input", self.input), ("output error", self.output_grad)):
            _require_f32(self, what, v)
            _require_rank(self, what, v, (4,))
        n, c, h, w = tensor_shape(self.input)
        o = tensor_shape(self.output_grad)[1]
        groups = self.groups.value.data
        _check_groups(self, groups, c, o)
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        shape = _fused_param_shape(self, self.param, 4)
        if shape is not None:
            wo, i, kh, kw = shape
            if wo != o:
                raise _err(
                    self,
                    f"output error has {o} channels but {self.param} has {wo} output channels "
                    f"(output error shape {_fmt(tensor_shape(self.output_grad))}, weight shape {_fmt(shape)})",
                )
            if i * groups != c:
                raise _err(
                    self,
                    f"{self.param} has {i} input channels per group but input has {c} channels in "
                    f"{groups} group(s) (weight shape {_fmt(shape)}, input shape {_fmt((n, c, h, w))})",
                )
            oh, ow = conv_output_hw((h, w), (kh, kw), stride, padding)
            if oh < 1 or ow < 1:
                raise _err(
                    self, f"kernel {_fmt((kh, kw))} does not fit input {_fmt((h, w))} with padding {_fmt(padding)}"
                )
            _require_shape(self, "output error", self.output_grad, (n, o, oh, ow))
        _verify_channels(self, self.channels, o)


BACKWARD_OPS: tuple[type[IRDLOperation], ...] = (
    Conv2dGradInputOp,
    Conv2dGradWeightOp,
    Conv2dGradBiasOp,
    DenseGradInputOp,
    DenseGradWeightOp,
    DenseGradBiasOp,
    ReluGradOp,
    Relu6GradOp,
    MaxPool2dGradOp,
    AvgPool2dGradOp,
    GlobalAvgPoolGradOp,
    BatchNormGradInputOp,
    BatchNormGradGammaOp,
    BatchNormGradBetaOp,
    SoftmaxCrossEntropyGradOp,
    MseGradOp,
)
OPTIMIZER_OPS: tuple[type[IRDLOperation], ...] = (SgdUpdateOp, MomentumUpdateOp, AdamUpdateOp, CounterStepOp)
FUSED_UPDATE_OPS: tuple[type[IRDLOperation], ...] = (DenseGradWeightSgdOp, Conv2dGradWeightSgdOp)
"""A grad-weight and its plain SGD update in one op (qtrain-fuse-updates): both backward and optimizer."""


FORWARD_OPS: tuple[type[IRDLOperation], ...] = (
    Conv2dOp,
    DenseOp,
    ReluOp,
    Relu6Op,
    AddOp,
    MaxPool2dOp,
    AvgPool2dOp,
    GlobalAvgPoolOp,
    ReshapeOp,
    FlattenOp,
    BatchNormOp,
)
LOSS_OPS: tuple[type[IRDLOperation], ...] = (SoftmaxCrossEntropyOp, MseOp)
QUANT_OPS: tuple[type[IRDLOperation], ...] = (QuantizeOp, DequantizeOp, RequantizeOp, QConv2dOp, QDenseOp)

# The fully-quantized-training ops live in their own module (they import the helpers
# above, so the import must come after them).
from odtc.dialects.qtrain_fqt import *  # noqa: E402,F403
from odtc.dialects.qtrain_fqt import FQT_OPS  # noqa: E402
from odtc.dialects.qtrain_vae import *  # noqa: E402,F403
from odtc.dialects.qtrain_vae import (  # noqa: E402
    VAE_BACKWARD_OPS,
    VAE_FORWARD_OPS,
    VAE_LOSS_OPS,
    VAE_OPS,
    VAE_QUANT_OPS,
)

FORWARD_OPS = FORWARD_OPS + VAE_FORWARD_OPS
LOSS_OPS = LOSS_OPS + VAE_LOSS_OPS
BACKWARD_OPS = BACKWARD_OPS + VAE_BACKWARD_OPS

QTrain = Dialect(
    "qtrain",
    [ParamOp, StateOp, LoadOp, StoreOp, *FORWARD_OPS, *LOSS_OPS, *QUANT_OPS, *BACKWARD_OPS, *OPTIMIZER_OPS,
     *FUSED_UPDATE_OPS, *FQT_OPS, *VAE_QUANT_OPS],  # the other VAE ops are in FORWARD/LOSS/BACKWARD_OPS
    [QuantType, NpzAttr],
)
