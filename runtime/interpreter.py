"""Reference interpreter for `qtrain` programs, on xDSL's interpreter framework.

Every `qtrain` op is executed by the numpy functions of `odtc.runtime.reference`, which
state the numerics (including the rounding and saturation rule of the quantized ops).

Value conventions (between ops, in function arguments/results and in the state dict):

* `f32` tensors are `np.float32` arrays; `f64` ones `np.float64`.
* Integer tensors (`i32` labels, `i32` zero-points and biases, ...) are numpy integer
  arrays of their width and signedness (signless counts as signed): `i32` -> `np.int32`.
* Quantized tensors (`tensor<...x!qtrain.q<storage, ...>>`) are `np.int32` arrays holding
  the stored integers, whatever the storage type (si8, ui8, si16, si32 all fit);
  their values always lie in the storage range.
* Rank-0 tensors are rank-0 arrays (e.g. a loss is `np.float32` array of shape `()`).

`qtrain.param` / `qtrain.state` symbols are not executed; their current values live in a
`dict[str, np.ndarray]` keyed by symbol name (without `@`), built by `init_state` and
attached to the interpreter with `Interpreter.set_data(QTrainFunctions, STATE_KEY, ...)`.
`qtrain.load` returns a copy of the symbol's array; `qtrain.store` replaces it with a copy
of the stored value, so values never alias the state.

Optimizer ops (`qtrain.sgd_update`, `momentum_update`, `adam_update`, the fused
`dense_grad_weight_sgd` / `conv2d_grad_weight_sgd`) and `qtrain.counter_step` have no
results: they read and replace state entries by symbol name (the parameter, its velocity /
Adam moments / i32 step, the gradient accumulator, the counter) with the pure functions of
`odtc.runtime.reference`. The batch position of an accumulating update is its
`tensor<i32>` SSA operand (loaded from the counter state before `counter_step` advances it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    Float32Type,
    Float64Type,
    IndexType,
    IntegerType,
    ModuleOp,
    Signedness,
    SymbolRefAttr,
    TensorType,
    UnregisteredOp,
)
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl, register_impls
from xdsl.interpreters.func import FuncFunctions
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.traits import SymbolTable

from odtc.dialects import qtrain as qt
from odtc.runtime import fqt
from odtc.runtime import reference as ref

STATE_KEY = "state"

__all__ = [
    "STATE_KEY",
    "InterpreterError",
    "QTrainFunctions",
    "init_state",
    "make_interpreter",
    "numpy_dtype",
    "run_function",
]


class InterpreterError(Exception):
    """A program the reference interpreter cannot run (bad input data, unsupported op...)."""


# ---------------------------------------------------------------------------------------
# Types <-> numpy
# ---------------------------------------------------------------------------------------


def numpy_dtype(element_type: Attribute) -> np.dtype[Any]:
    """The numpy dtype that represents tensors of `element_type` (see module docstring)."""
    if isinstance(element_type, Float32Type):
        return np.dtype(np.float32)
    if isinstance(element_type, Float64Type):
        return np.dtype(np.float64)
    if isinstance(element_type, qt.QuantType):
        return np.dtype(np.int32)
    if isinstance(element_type, IndexType):
        return np.dtype(np.int64)
    if isinstance(element_type, IntegerType):
        width = element_type.width.data
        unsigned = element_type.signedness.data == Signedness.UNSIGNED
        if width == 1:
            return np.dtype(np.bool_)
        for w in (8, 16, 32, 64):
            if width <= w:
                return np.dtype(f"{'u' if unsigned else ''}int{w}")
    raise InterpreterError(f"element type {element_type} has no numpy representation")


def _int_range(element_type: Attribute) -> tuple[int, int] | None:
    """Inclusive range of the integers a tensor of this element type may hold."""
    if isinstance(element_type, qt.QuantType):
        return element_type.qmin, element_type.qmax
    if isinstance(element_type, IntegerType):
        w = element_type.width.data
        if element_type.signedness.data == Signedness.UNSIGNED:
            return 0, (1 << w) - 1
        return -(1 << (w - 1)), (1 << (w - 1)) - 1
    if isinstance(element_type, IndexType):
        return -(1 << 63), (1 << 63) - 1
    return None


def _to_tensor(value: Any, ty: Attribute, what: str) -> NDArray[Any]:
    """Convert `value` to the canonical array of tensor type `ty`, or raise InterpreterError."""
    if not isinstance(ty, TensorType):
        raise InterpreterError(f"{what}: only tensor types are supported, got {ty}")
    elt = ty.element_type
    dtype = numpy_dtype(elt)
    shape = tuple(ty.get_shape())
    arr = np.asarray(value)
    if arr.shape != shape:
        raise InterpreterError(f"{what}: expected shape {list(shape)} for {ty}, got {list(arr.shape)}")
    rng = _int_range(elt)
    if rng is not None:
        if arr.dtype.kind not in "iub":
            raise InterpreterError(f"{what}: expected integers for {ty}, got dtype {arr.dtype}")
        if arr.size and (int(arr.min()) < rng[0] or int(arr.max()) > rng[1]):
            raise InterpreterError(
                f"{what}: values [{int(arr.min())}, {int(arr.max())}] outside [{rng[0]}, {rng[1]}] of {elt}"
            )
    elif arr.dtype.kind not in "fiub":
        raise InterpreterError(f"{what}: expected numbers for {ty}, got dtype {arr.dtype}")
    return np.array(arr, dtype=dtype, copy=True)


# ---------------------------------------------------------------------------------------
# Initial state
# ---------------------------------------------------------------------------------------


def _dense_values(op: qt.ParamOp | qt.StateOp, init: DenseIntOrFPElementsAttr) -> NDArray[Any]:
    """Values of a dense initialiser, splats broadcast to the symbol's shape."""
    name = op.sym_name.data
    ty = op.type
    elt = ty.element_type
    shape = tuple(ty.get_shape())
    init_elt = init.get_element_type()
    values = init.get_values()
    if isinstance(init_elt, IntegerType | IndexType):
        arr: NDArray[Any] = np.array(values, dtype=object).astype(np.int64) if values else np.zeros(0, np.int64)
        if (
            isinstance(elt, qt.QuantType)
            and isinstance(init_elt, IntegerType)
            and init_elt.signedness.data == Signedness.SIGNLESS
            and not elt.is_signed
            and init_elt.width.data == elt.storage.width.data
        ):
            # A signless initialiser of the storage width is a bit pattern: reinterpret it
            # with the storage's (unsigned) signedness, e.g. i8 -56 -> ui8 200.
            arr = arr % (1 << elt.storage.width.data)
    else:
        if _int_range(elt) is not None:
            raise InterpreterError(
                f"@{name}: initial value of element type {init_elt} cannot initialise {ty}; "
                "integer and quantized symbols need an integer initial value"
            )
        arr = np.array(values, dtype=np.float64)
    n = math.prod(shape)
    if arr.size == 1 and n != 1:
        arr = np.full(shape, arr.reshape(()), dtype=arr.dtype)
    if arr.size != n:
        raise InterpreterError(f"@{name}: initial value has {arr.size} elements but {ty} needs {n}")
    return _to_tensor(arr.reshape(shape), ty, f"@{name}")


def _npz_values(op: qt.ParamOp | qt.StateOp, init: qt.NpzAttr, base_dir: Path) -> NDArray[Any]:
    name = op.sym_name.data
    ty = op.type
    path = base_dir / init.path.data
    key = init.key.data
    if not path.is_file():
        raise InterpreterError(f"@{name}: npz file '{path}' not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if key not in npz.files:
                raise InterpreterError(
                    f"@{name}: key '{key}' not found in '{path}' (keys: {', '.join(sorted(npz.files)) or 'none'})"
                )
            arr = np.asarray(npz[key])
    except InterpreterError:
        raise
    except Exception as e:  # a corrupt or non-npz file
        raise InterpreterError(f"@{name}: cannot read npz file '{path}': {e}") from e
    shape = tuple(ty.get_shape())
    if arr.shape != shape:
        raise InterpreterError(
            f"@{name}: array '{key}' in '{path}' has shape {list(arr.shape)} but the symbol is {ty}"
        )
    return _to_tensor(arr, ty, f"@{name} (array '{key}' in '{path}')")


def init_state(module: ModuleOp, base_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Initial arrays of every `qtrain.param` and `qtrain.state` in `module`.

    Dense initialisers (splats broadcast); `#qtrain.npz<path, key>` is read from
    `base_dir / path` (default: the current directory). f32 symbols get float32 arrays
    (npz data of another float/int dtype is cast); quantized ones int32 stored integers.
    """
    base = Path(".") if base_dir is None else Path(base_dir)
    state: dict[str, np.ndarray] = {}
    for op in module.walk():
        if not isinstance(op, qt.ParamOp | qt.StateOp):
            continue
        name = op.sym_name.data
        if name in state:
            raise InterpreterError(f"@{name} is defined more than once")
        init = op.init
        if isinstance(init, DenseIntOrFPElementsAttr):
            state[name] = _dense_values(op, init)
        elif isinstance(init, qt.NpzAttr):
            state[name] = _npz_values(op, init, base)
        else:  # pragma: no cover - excluded by the op definition
            raise InterpreterError(f"@{name}: unsupported initial value {init}")
    return state


# ---------------------------------------------------------------------------------------
# Op implementations
# ---------------------------------------------------------------------------------------


C_F32 = "qtrain.c_f32"
"""Unit attribute (set by qtrain-quantize on the loss, its gradient and bias gradients): the
op's semantics are the C kernel's exact f32 operation sequence (runtime/fqt.py), not the
float64-then-round reference, so that a quantized step is bit-exact end to end."""


def _no_state() -> NoReturn:
    raise InterpreterError(
        "no qtrain state attached to the interpreter (use make_interpreter or run_function)"
    )


def _state(interpreter: Interpreter) -> dict[str, np.ndarray]:
    return interpreter.get_data(QTrainFunctions, STATE_KEY, _no_state)


def _symbol(sym: SymbolRefAttr) -> str:
    if sym.nested_references.data:
        raise InterpreterError(f"nested symbol reference {sym} is not supported")
    return sym.root_reference.data


def _shape(v: SSAValue) -> tuple[int, ...]:
    assert isinstance(v.type, TensorType)
    return tuple(v.type.get_shape())


def _quant(v: SSAValue) -> qt.QuantType:
    assert isinstance(v.type, TensorType) and isinstance(v.type.element_type, qt.QuantType)
    return v.type.element_type


def _result(op: Operation, value: NDArray[Any]) -> tuple[NDArray[Any]]:
    """Canonicalise the single result of `op` and check it matches the result type."""
    res = op.results[0]
    assert isinstance(res.type, TensorType)
    dtype = numpy_dtype(res.type.element_type)
    arr = np.asarray(value)
    if arr.shape != _shape(res):
        raise InterpreterError(f"{op.name}: computed shape {list(arr.shape)} but result type is {res.type}")
    return (arr.astype(dtype, copy=False),)


class _Args:
    """Operand values by SSA value (optional operands make positions unreliable)."""

    def __init__(self, op: Operation, args: tuple[Any, ...]) -> None:
        self._vals = dict(zip(op.operands, args, strict=True))

    def __getitem__(self, v: SSAValue) -> Any:
        return self._vals[v]

    def opt(self, v: SSAValue | None) -> Any:
        return None if v is None else self._vals[v]


def _ints(values: Sequence[int | float]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


@register_impls
class QTrainFunctions(InterpreterFunctions):
    """numpy implementations of the `qtrain` ops (state via `Interpreter.get_data`)."""

    # -- symbols -------------------------------------------------------------------------

    @impl(qt.LoadOp)
    def run_load(self, interpreter: Interpreter, op: qt.LoadOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        name = _symbol(op.symbol)
        state = _state(interpreter)
        if name not in state:
            raise InterpreterError(f"qtrain.load: no value for symbol @{name} in the state")
        return _result(op, state[name].copy())

    @impl(qt.StoreOp)
    def run_store(self, interpreter: Interpreter, op: qt.StoreOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        name = _symbol(op.symbol)
        state = _state(interpreter)
        state[name] = _to_tensor(args[0], op.value.type, f"qtrain.store to @{name}")
        return ()

    # -- forward f32 ---------------------------------------------------------------------

    @impl(qt.Conv2dOp)
    def run_conv2d(self, interpreter: Interpreter, op: qt.Conv2dOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        y = ref.conv2d(
            a[op.input],
            a[op.weight],
            a.opt(op.bias),
            _ints(op.stride.get_values()),
            _ints(op.padding.get_values()),
            op.groups.value.data,
        )
        return _result(op, y)

    @impl(qt.DenseOp)
    def run_dense(self, interpreter: Interpreter, op: qt.DenseOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        return _result(op, ref.dense(a[op.input], a[op.weight], a.opt(op.bias)))

    @impl(qt.ReluOp)
    def run_relu(self, interpreter: Interpreter, op: qt.ReluOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, ref.relu(args[0]))

    @impl(qt.Relu6Op)
    def run_relu6(self, interpreter: Interpreter, op: qt.Relu6Op, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, ref.relu6(args[0]))

    @impl(qt.AddOp)
    def run_add(self, interpreter: Interpreter, op: qt.AddOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, ref.add(args[0], args[1]))

    @impl(qt.MaxPool2dOp)
    def run_maxpool2d(
        self, interpreter: Interpreter, op: qt.MaxPool2dOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        y = ref.maxpool2d(
            args[0],
            _ints(op.kernel.get_values()),
            _ints(op.stride.get_values()),
            _ints(op.padding.get_values()),
        )
        return _result(op, y)

    @impl(qt.AvgPool2dOp)
    def run_avgpool2d(
        self, interpreter: Interpreter, op: qt.AvgPool2dOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        y = ref.avgpool2d(
            args[0],
            _ints(op.kernel.get_values()),
            _ints(op.stride.get_values()),
            _ints(op.padding.get_values()),
            count_include_pad=op.count_include_pad is not None,
        )
        return _result(op, y)

    @impl(qt.GlobalAvgPoolOp)
    def run_global_avgpool(
        self, interpreter: Interpreter, op: qt.GlobalAvgPoolOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        return _result(op, ref.global_avgpool(args[0]))

    @impl(qt.ReshapeOp)
    def run_reshape(self, interpreter: Interpreter, op: qt.ReshapeOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, ref.reshape(args[0], _shape(op.output)))

    @impl(qt.FlattenOp)
    def run_flatten(self, interpreter: Interpreter, op: qt.FlattenOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, ref.flatten(args[0], op.axis.value.data))

    @impl(qt.BatchNormOp)
    def run_batchnorm(
        self, interpreter: Interpreter, op: qt.BatchNormOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        y = ref.batchnorm(
            a[op.input], a[op.gamma], a[op.beta], a[op.mean], a[op.var], op.epsilon.value.data
        )
        return _result(op, y)

    # -- losses --------------------------------------------------------------------------

    @impl(qt.SoftmaxCrossEntropyOp)
    def run_softmax_cross_entropy(
        self, interpreter: Interpreter, op: qt.SoftmaxCrossEntropyOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        if C_F32 in op.attributes:
            return _result(op, fqt.softmax_cross_entropy_c(args[0], args[1]))
        return _result(op, ref.softmax_cross_entropy(args[0], args[1]))

    @impl(qt.MseOp)
    def run_mse(self, interpreter: Interpreter, op: qt.MseOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, ref.mse(args[0], args[1]))

    # -- quantized -----------------------------------------------------------------------

    @impl(qt.QuantizeOp)
    def run_quantize(self, interpreter: Interpreter, op: qt.QuantizeOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        q = _quant(op.output)
        y = ref.quantize(a[op.input], a[op.scale], a[op.zero_point], q.qmin, q.qmax, q.per_channel_axis)
        return _result(op, y)

    @impl(qt.DequantizeOp)
    def run_dequantize(
        self, interpreter: Interpreter, op: qt.DequantizeOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        q = _quant(op.input)
        return _result(op, ref.dequantize(a[op.input], a[op.scale], a[op.zero_point], q.per_channel_axis))

    @impl(qt.RequantizeOp)
    def run_requantize(
        self, interpreter: Interpreter, op: qt.RequantizeOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        q = _quant(op.output)
        y = ref.requantize(
            a[op.input],
            a[op.input_scale],
            a[op.input_zero_point],
            a[op.output_scale],
            a[op.output_zero_point],
            q.qmin,
            q.qmax,
        )
        return _result(op, y)

    @impl(qt.QConv2dOp)
    def run_qconv2d(self, interpreter: Interpreter, op: qt.QConv2dOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        q = _quant(op.output)
        y = ref.qconv2d(
            a[op.input],
            a[op.input_scale],
            a[op.input_zero_point],
            a[op.weight],
            a[op.weight_scale],
            a[op.weight_zero_point],
            a.opt(op.bias),
            a[op.output_scale],
            a[op.output_zero_point],
            stride=_ints(op.stride.get_values()),
            padding=_ints(op.padding.get_values()),
            groups=op.groups.value.data,
            activation=op.activation.data,
            qmin=q.qmin,
            qmax=q.qmax,
        )
        return _result(op, y)

    @impl(qt.QDenseOp)
    def run_qdense(self, interpreter: Interpreter, op: qt.QDenseOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        q = _quant(op.output)
        y = ref.qdense(
            a[op.input],
            a[op.input_scale],
            a[op.input_zero_point],
            a[op.weight],
            a[op.weight_scale],
            a[op.weight_zero_point],
            a.opt(op.bias),
            a[op.output_scale],
            a[op.output_zero_point],
            activation=op.activation.data,
            qmin=q.qmin,
            qmax=q.qmax,
        )
        return _result(op, y)


    # -- backward ------------------------------------------------------------------------

    @impl(qt.Conv2dGradInputOp)
    def run_conv2d_grad_input(
        self, interpreter: Interpreter, op: qt.Conv2dGradInputOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        dx = ref.conv2d_grad_input(
            a[op.output_grad],
            a[op.weight],
            _shape(op.input_grad),
            _ints(op.stride.get_values()),
            _ints(op.padding.get_values()),
            op.groups.value.data,
        )
        return _result(op, dx)

    @impl(qt.Conv2dGradWeightOp)
    def run_conv2d_grad_weight(
        self, interpreter: Interpreter, op: qt.Conv2dGradWeightOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        dw = ref.conv2d_grad_weight(
            a[op.input],
            a[op.output_grad],
            _shape(op.weight_grad)[2:],
            _ints(op.stride.get_values()),
            _ints(op.padding.get_values()),
            op.groups.value.data,
            _channels(op.channels),
        )
        return _result(op, dw)

    @impl(qt.Conv2dGradBiasOp)
    def run_conv2d_grad_bias(
        self, interpreter: Interpreter, op: qt.Conv2dGradBiasOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        if C_F32 in op.attributes:
            return _result(op, fqt.grad_bias_c(args[0]))
        return _result(op, ref.conv2d_grad_bias(args[0]))

    @impl(qt.DenseGradInputOp)
    def run_dense_grad_input(
        self, interpreter: Interpreter, op: qt.DenseGradInputOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        return _result(op, ref.dense_grad_input(a[op.output_grad], a[op.weight]))

    @impl(qt.DenseGradWeightOp)
    def run_dense_grad_weight(
        self, interpreter: Interpreter, op: qt.DenseGradWeightOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        return _result(op, ref.dense_grad_weight(a[op.input], a[op.output_grad], _channels(op.channels)))

    @impl(qt.DenseGradBiasOp)
    def run_dense_grad_bias(
        self, interpreter: Interpreter, op: qt.DenseGradBiasOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        if C_F32 in op.attributes:
            return _result(op, fqt.grad_bias_c(args[0]))
        return _result(op, ref.dense_grad_bias(args[0]))

    @impl(qt.ReluGradOp)
    def run_relu_grad(self, interpreter: Interpreter, op: qt.ReluGradOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        return _result(op, ref.relu_grad(a[op.output_grad], a[op.output]))

    @impl(qt.Relu6GradOp)
    def run_relu6_grad(
        self, interpreter: Interpreter, op: qt.Relu6GradOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        return _result(op, ref.relu6_grad(a[op.output_grad], a[op.output]))

    @impl(qt.MaxPool2dGradOp)
    def run_maxpool2d_grad(
        self, interpreter: Interpreter, op: qt.MaxPool2dGradOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        dx = ref.maxpool2d_grad(
            a[op.output_grad],
            a[op.input],
            _ints(op.kernel.get_values()),
            _ints(op.stride.get_values()),
            _ints(op.padding.get_values()),
        )
        return _result(op, dx)

    @impl(qt.AvgPool2dGradOp)
    def run_avgpool2d_grad(
        self, interpreter: Interpreter, op: qt.AvgPool2dGradOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        dx = ref.avgpool2d_grad(
            args[0],
            _shape(op.input_grad),
            _ints(op.kernel.get_values()),
            _ints(op.stride.get_values()),
            _ints(op.padding.get_values()),
            count_include_pad=op.count_include_pad is not None,
        )
        return _result(op, dx)

    @impl(qt.GlobalAvgPoolGradOp)
    def run_global_avgpool_grad(
        self, interpreter: Interpreter, op: qt.GlobalAvgPoolGradOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        return _result(op, ref.global_avgpool_grad(args[0], _shape(op.input_grad)))

    @impl(qt.BatchNormGradInputOp)
    def run_batchnorm_grad_input(
        self, interpreter: Interpreter, op: qt.BatchNormGradInputOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        dx = ref.batchnorm_grad_input(a[op.output_grad], a[op.gamma], a[op.var], op.epsilon.value.data)
        return _result(op, dx)

    @impl(qt.BatchNormGradGammaOp)
    def run_batchnorm_grad_gamma(
        self, interpreter: Interpreter, op: qt.BatchNormGradGammaOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        dg = ref.batchnorm_grad_gamma(
            a[op.output_grad], a[op.input], a[op.mean], a[op.var], op.epsilon.value.data
        )
        return _result(op, dg)

    @impl(qt.BatchNormGradBetaOp)
    def run_batchnorm_grad_beta(
        self, interpreter: Interpreter, op: qt.BatchNormGradBetaOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        return _result(op, ref.batchnorm_grad_beta(args[0]))

    @impl(qt.SoftmaxCrossEntropyGradOp)
    def run_softmax_cross_entropy_grad(
        self, interpreter: Interpreter, op: qt.SoftmaxCrossEntropyGradOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        if C_F32 in op.attributes:
            return _result(op, fqt.softmax_cross_entropy_grad_c(a[op.logits], a[op.labels]))
        return _result(op, ref.softmax_cross_entropy_grad(a[op.logits], a[op.labels]))

    @impl(qt.MseGradOp)
    def run_mse_grad(self, interpreter: Interpreter, op: qt.MseGradOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        return _result(op, ref.mse_grad(a[op.prediction], a[op.target]))

    # -- optimizer -----------------------------------------------------------------------
    #
    # Updates read and write the state dict by symbol name. With `accumulate @acc every B
    # at %pos` the gradient is first added into @acc; only at pos == B-1 is the optimizer
    # applied, with the mean gradient, and @acc cleared (ref.accumulate_gradient).

    @impl(qt.SgdUpdateOp)
    def run_sgd_update(
        self, interpreter: Interpreter, op: qt.SgdUpdateOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        state, name, g = _begin_update(interpreter, op, args)
        if g is not None:
            w = ref.sgd_update(state[name], g, op.lr.value.data, _channels(op.channels))
            _put(state, op, op.param, w)
        return ()

    @impl(qt.MomentumUpdateOp)
    def run_momentum_update(
        self, interpreter: Interpreter, op: qt.MomentumUpdateOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        state, name, g = _begin_update(interpreter, op, args)
        if g is not None:
            v_name = _state_name(state, op, op.velocity)
            w, v = ref.momentum_update(
                state[name], state[v_name], g, op.lr.value.data, op.momentum.value.data, _channels(op.channels)
            )
            _put(state, op, op.param, w)
            _put(state, op, op.velocity, v)
        return ()

    @impl(qt.AdamUpdateOp)
    def run_adam_update(
        self, interpreter: Interpreter, op: qt.AdamUpdateOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        state, name, g = _begin_update(interpreter, op, args)
        if g is not None:
            m_name = _state_name(state, op, op.first_moment)
            v_name = _state_name(state, op, op.second_moment)
            t_name = _state_name(state, op, op.step)
            w, m, v, t = ref.adam_update(
                state[name],
                state[m_name],
                state[v_name],
                state[t_name],
                g,
                op.lr.value.data,
                op.beta1.value.data,
                op.beta2.value.data,
                op.eps.value.data,
                _channels(op.channels),
            )
            _put(state, op, op.param, w)
            _put(state, op, op.first_moment, m)
            _put(state, op, op.second_moment, v)
            _put(state, op, op.step, t)
        return ()

    @impl(qt.CounterStepOp)
    def run_counter_step(
        self, interpreter: Interpreter, op: qt.CounterStepOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        state = _state(interpreter)
        name = _state_name(state, op, op.counter)
        _put(state, op, op.counter, ref.counter_step(state[name], op.modulo.value.data))
        return ()

    # -- fused grad-weight + SGD (qtrain-fuse-updates): the pair's semantics, one op ------

    @impl(qt.DenseGradWeightSgdOp)
    def run_dense_grad_weight_sgd(
        self, interpreter: Interpreter, op: qt.DenseGradWeightSgdOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        state = _state(interpreter)
        a = _Args(op, args)
        name = _state_name(state, op, op.param)
        w = ref.dense_grad_weight_sgd(
            state[name], a[op.input], a[op.output_grad], op.lr.value.data, _channels(op.channels)
        )
        _put(state, op, op.param, w)
        return ()

    @impl(qt.Conv2dGradWeightSgdOp)
    def run_conv2d_grad_weight_sgd(
        self, interpreter: Interpreter, op: qt.Conv2dGradWeightSgdOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        state = _state(interpreter)
        a = _Args(op, args)
        name = _state_name(state, op, op.param)
        w = ref.conv2d_grad_weight_sgd(
            state[name],
            a[op.input],
            a[op.output_grad],
            op.lr.value.data,
            _ints(op.stride.get_values()),
            _ints(op.padding.get_values()),
            op.groups.value.data,
            _channels(op.channels),
        )
        _put(state, op, op.param, w)
        return ()


def acc_stream_result(op: Any, a: "_Args", acc: NDArray[Any]) -> NDArray[Any]:
    """The range or the requantized tensor of a streamed accumulator (fqt.acc_stream)."""
    relu: bool | str = getattr(op, "activation", None) or False  # the grad-input stream has none
    if op.is_range:
        return fqt.acc_stream(acc, relu, a[op.acc_scale])
    q = _quant(op.output)
    return fqt.acc_stream(acc, relu, a[op.acc_scale], a[op.output_scale], a[op.output_zero_point], q.qmin, q.qmax)


def apply_fused_qsgd(interpreter: Interpreter, op: Any, args: tuple[Any, ...], g: NDArray[Any]) -> None:
    """The fused quantized SGD step of a `q*_grad_weight_sgd` op, given its int32 gradient
    rows g (compact under a selection): updates the parameter and its row_range state."""
    state = _state(interpreter)
    a = _Args(op, args)
    name = _state_name(state, op, op.param)
    rname = _state_name(state, op, op.row_range)
    wt = op.param_type()
    assert wt is not None and isinstance(wt.element_type, qt.QuantType)
    q = wt.element_type
    w, rr = fqt.qgrad_weight_sgd_apply(
        state[name], a[op.weight_scale], a[op.weight_zero_point], g, a[op.grad_scale], state[rname],
        op.lr.value.data, q.qmin, q.qmax, op.rounding.data, op.seed.value.data,
        a.opt(op.step) if op.step is not None else 0, a.opt(op.select), a.opt(op.select_count),
    )
    _put(state, op, op.param, w)
    _put(state, op, op.row_range, rr)


@register_impls
class FqtFunctions(InterpreterFunctions):
    """The fully-quantized-training ops (dialects/qtrain_fqt.py, semantics runtime/fqt.py)."""

    @impl(qt.ScaleMulOp)
    def run_scale_mul(self, interpreter: Interpreter, op: qt.ScaleMulOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, fqt.scale_mul(args[0], args[1]))

    @impl(qt.ScaleMaxOp)
    def run_scale_max(self, interpreter: Interpreter, op: qt.ScaleMaxOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, fqt.scale_max(args[0]))

    @impl(qt.QRescaleChannelsOp)
    def run_qrescale_channels(
        self, interpreter: Interpreter, op: qt.QRescaleChannelsOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        return _result(op, fqt.qrescale_channels(args[0], args[1], args[2], op.shift.value.data))

    @impl(qt.MinMaxOp)
    def run_minmax(self, interpreter: Interpreter, op: qt.MinMaxOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        return _result(op, fqt.minmax(a[op.input], a.opt(op.scale)))

    @impl(qt.EmaOp)
    def run_ema(self, interpreter: Interpreter, op: qt.EmaOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, fqt.ema(args[0], args[1], op.alpha.value.data))

    @impl(qt.RunningMaxOp)
    def run_running_max(self, interpreter: Interpreter, op: qt.RunningMaxOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, fqt.running_max(args[0], args[1]))

    @impl(qt.RangeScaleOp)
    def run_range_scale(self, interpreter: Interpreter, op: qt.RangeScaleOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        q = op.qtype
        return _result(op, fqt.qparams(args[0], q.qmin, q.qmax, q.is_symmetric)[0])

    @impl(qt.RangeZeroPointOp)
    def run_range_zero_point(
        self, interpreter: Interpreter, op: qt.RangeZeroPointOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        q = op.qtype
        return _result(op, fqt.qparams(args[0], q.qmin, q.qmax, q.is_symmetric)[1])

    @impl(qt.QConv2dAccOp)
    def run_qconv2d_acc(self, interpreter: Interpreter, op: qt.QConv2dAccOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        acc = fqt.qconv2d_acc(
            a[op.input], a[op.input_zero_point], a[op.weight], a[op.weight_zero_point], a.opt(op.bias),
            a.opt(op.acc_scale) if op.acc_scale is not None else 1.0,
            _ints(op.stride.get_values()), _ints(op.padding.get_values()), op.groups.value.data,
        )
        return _result(op, acc)

    @impl(qt.QConv2dAccStreamOp)
    def run_qconv2d_acc_stream(
        self, interpreter: Interpreter, op: qt.QConv2dAccStreamOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        acc = fqt.qconv2d_acc(
            a[op.input], a[op.input_zero_point], a[op.weight], a[op.weight_zero_point], a.opt(op.bias),
            a[op.acc_scale], _ints(op.stride.get_values()), _ints(op.padding.get_values()), op.groups.value.data,
        )
        return _result(op, acc_stream_result(op, a, acc))

    @impl(qt.QGradBiasOp)
    def run_qgrad_bias(self, interpreter: Interpreter, op: qt.QGradBiasOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, fqt.qgrad_bias(args[0], args[1], args[2]))

    @impl(qt.QDenseAccOp)
    def run_qdense_acc(self, interpreter: Interpreter, op: qt.QDenseAccOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        acc = fqt.qdense_acc(
            a[op.input], a[op.input_zero_point], a[op.weight], a[op.weight_zero_point], a.opt(op.bias),
            a.opt(op.acc_scale) if op.acc_scale is not None else 1.0,
        )
        return _result(op, acc)

    @impl(qt.AccReluOp)
    def run_acc_relu(self, interpreter: Interpreter, op: qt.AccReluOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, fqt.relu_acc(args[0]))

    @impl(qt.RequantizeAccOp)
    def run_requantize_acc(
        self, interpreter: Interpreter, op: qt.RequantizeAccOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        q = _quant(op.output)
        return _result(op, fqt.requantize_acc(args[0], args[1], args[2], args[3], q.qmin, q.qmax))

    @impl(qt.QReluGradOp)
    def run_qrelu_grad(self, interpreter: Interpreter, op: qt.QReluGradOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, fqt.qrelu_grad(*args))

    @impl(qt.ScaleDivOp)
    def run_scale_div(self, interpreter: Interpreter, op: qt.ScaleDivOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, fqt.scale_div(args[0], op.divisor.value.data))

    @impl(qt.AccRelu6Op)
    def run_acc_relu6(self, interpreter: Interpreter, op: qt.AccRelu6Op, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, fqt.relu6_acc(args[0], args[1]))

    @impl(qt.QRelu6GradOp)
    def run_qrelu6_grad(self, interpreter: Interpreter, op: qt.QRelu6GradOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        e, ze, y, sy, zy = args
        return _result(op, fqt.qrelu6_grad(e, ze, y, zy, sy))

    @impl(qt.QAddRangeOp)
    def run_qadd_range(self, interpreter: Interpreter, op: qt.QAddRangeOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, fqt.qadd_range(*args))

    @impl(qt.QAddOp)
    def run_qadd(self, interpreter: Interpreter, op: qt.QAddOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        q = _quant(op.output)
        return _result(op, fqt.qadd(*args, q.qmin, q.qmax))

    @impl(qt.QAvgPoolAccOp)
    def run_qavgpool_acc(self, interpreter: Interpreter, op: qt.QAvgPoolAccOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, fqt.qavgpool_acc(args[0], args[1]))

    @impl(qt.QBroadcastHwOp)
    def run_qbroadcast_hw(
        self, interpreter: Interpreter, op: qt.QBroadcastHwOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        h, w = _shape(op.output)[2:]
        return _result(op, fqt.qbroadcast_hw(args[0], h, w))

    @impl(qt.QReluMaskOp)
    def run_qrelu_mask(self, interpreter: Interpreter, op: qt.QReluMaskOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        return _result(op, fqt.relu_mask(a[op.input], a[op.input_zero_point], a.opt(op.input_scale)))

    @impl(qt.QMaskGradOp)
    def run_qmask_grad(self, interpreter: Interpreter, op: qt.QMaskGradOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return _result(op, fqt.qmask_grad(*args))

    @impl(qt.QConv2dPwDwStreamOp)
    def run_qconv2d_pw_dw_stream(
        self, interpreter: Interpreter, op: qt.QConv2dPwDwStreamOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        act = {"none": False, "relu": True, "relu6": "relu6"}
        ht = op.h_type
        common = (a[op.input], a[op.input_zero_point], a[op.weight1], a[op.weight1_zero_point], a.opt(op.bias1),
                  a[op.acc1_scale], act[op.act1.data], a[op.h_scale], a[op.h_zero_point], ht.qmin, ht.qmax,
                  _ints(op.stride1.get_values()), _ints(op.padding1.get_values()), a[op.weight2],
                  a[op.weight2_zero_point], a.opt(op.bias2), a[op.acc2_scale], act[op.act2.data],
                  _ints(op.stride2.get_values()), _ints(op.padding2.get_values()))
        if op.is_range:
            return _result(op, fqt.qconv2d_pw_dw_stream(*common))
        q = _quant(op.output)
        return _result(op, fqt.qconv2d_pw_dw_stream(*common, a[op.output_scale], a[op.output_zero_point],
                                                    q.qmin, q.qmax))

    @impl(qt.QDenseGradInputOp)
    def run_qdense_grad_input(
        self, interpreter: Interpreter, op: qt.QDenseGradInputOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        return _result(op, fqt.qdense_grad_input(*args))

    @impl(qt.QConv2dGradInputOp)
    def run_qconv2d_grad_input(
        self, interpreter: Interpreter, op: qt.QConv2dGradInputOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        acc = fqt.qconv2d_grad_input(
            args[0], args[1], args[2], args[3], _shape(op.input_grad),
            _ints(op.stride.get_values()), _ints(op.padding.get_values()), op.groups.value.data,
        )
        return _result(op, acc)

    @impl(qt.QConv2dGradInputStreamOp)
    def run_qconv2d_grad_input_stream(
        self, interpreter: Interpreter, op: qt.QConv2dGradInputStreamOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        acc = fqt.qconv2d_grad_input(
            a[op.output_grad], a[op.output_grad_zero_point], a[op.weight], a[op.weight_zero_point],
            op.input_shape(), _ints(op.stride.get_values()), _ints(op.padding.get_values()), 1,
        )
        return _result(op, acc_stream_result(op, a, acc))

    @impl(qt.QDenseGradWeightOp)
    def run_qdense_grad_weight(
        self, interpreter: Interpreter, op: qt.QDenseGradWeightOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        g = fqt.qdense_grad_weight(
            a[op.input], a[op.input_zero_point], a[op.output_grad], a[op.output_grad_zero_point],
            a.opt(op.select), a.opt(op.select_count),
        )
        return _result(op, g)

    @impl(qt.QConv2dGradWeightOp)
    def run_qconv2d_grad_weight(
        self, interpreter: Interpreter, op: qt.QConv2dGradWeightOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        g = fqt.qconv2d_grad_weight(
            a[op.input], a[op.input_zero_point], a[op.output_grad], a[op.output_grad_zero_point],
            _shape(op.weight_grad), _ints(op.stride.get_values()), _ints(op.padding.get_values()),
            op.groups.value.data, a.opt(op.select), a.opt(op.select_count),
        )
        return _result(op, g)

    @impl(qt.GradStatsOp)
    def run_grad_stats(self, interpreter: Interpreter, op: qt.GradStatsOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        st = fqt.grad_stats(
            a[op.grad], op.mode.data, a.opt(op.grad_scale), a.opt(op.weight_scale),
            a.opt(op.select), a.opt(op.select_count),
        )
        return _result(op, st)

    @impl(qt.QSgdRangeOp)
    def run_qsgd_range(self, interpreter: Interpreter, op: qt.QSgdRangeOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        r = fqt.qsgd_range(
            a[op.weight], a[op.weight_scale], a[op.weight_zero_point], a[op.grad], a[op.stats],
            op.lr.value.data, a.opt(op.select), a.opt(op.select_count),
        )
        return _result(op, r)

    @impl(qt.QSgdUpdateOp)
    def run_qsgd_update(self, interpreter: Interpreter, op: qt.QSgdUpdateOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        state = _state(interpreter)
        a = _Args(op, args)
        name = _state_name(state, op, op.param)
        wt = op.param_type()
        assert wt is not None and isinstance(wt.element_type, qt.QuantType)
        q = wt.element_type
        w = fqt.qsgd_update(
            state[name], a[op.weight_scale], a[op.weight_zero_point], a[op.grad], a[op.stats],
            a[op.new_scale], a[op.new_zero_point], op.lr.value.data, q.qmin, q.qmax,
            op.rounding.data, op.seed.value.data, a.opt(op.step) if op.step is not None else 0,
            a.opt(op.select), a.opt(op.select_count),
        )
        _put(state, op, op.param, w)
        return ()

    @impl(qt.QDenseGradWeightSgdOp)
    def run_qdense_grad_weight_sgd(
        self, interpreter: Interpreter, op: qt.QDenseGradWeightSgdOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        g = fqt.qdense_grad_weight(
            a[op.input], a[op.input_zero_point], a[op.output_grad], a[op.output_grad_zero_point],
            a.opt(op.select), a.opt(op.select_count),
        )
        apply_fused_qsgd(interpreter, op, args, g)
        return ()

    @impl(qt.QConv2dGradWeightSgdOp)
    def run_qconv2d_grad_weight_sgd(
        self, interpreter: Interpreter, op: qt.QConv2dGradWeightSgdOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        wt = op.param_type()
        assert wt is not None
        g = fqt.qconv2d_grad_weight(
            a[op.input], a[op.input_zero_point], a[op.output_grad], a[op.output_grad_zero_point],
            tuple(wt.get_shape()), _ints(op.stride.get_values()), _ints(op.padding.get_values()),
            op.groups.value.data, a.opt(op.select), a.opt(op.select_count),
        )
        apply_fused_qsgd(interpreter, op, args, g)
        return ()

    @impl(qt.QWeightRegridOp)
    def run_qweight_regrid(self, interpreter: Interpreter, op: qt.QWeightRegridOp,
                           args: tuple[Any, ...]) -> tuple[Any, ...]:
        state = _state(interpreter)
        name = _state_name(state, op, op.param)
        rname = _state_name(state, op, op.row_range)
        wt = op.param_type()
        assert wt is not None and isinstance(wt.element_type, qt.QuantType)
        q = wt.element_type
        sname = _state_name(state, op, op.scale)
        zname = _state_name(state, op, op.zero_point)
        w, rr, s2, z2 = fqt.qweight_regrid(state[name], state[sname], state[zname], state[rname], q.qmin, q.qmax,
                                           q.is_symmetric, op.headroom.value.data, op.rounding.data,
                                           op.seed.value.data, args[0] if op.step is not None else 0)
        _put(state, op, op.param, w)
        _put(state, op, op.row_range, rr)
        _put(state, op, op.scale, s2)
        _put(state, op, op.zero_point, z2)
        return ()

    @impl(qt.TopkCountOp)
    def run_topk_count(self, interpreter: Interpreter, op: qt.TopkCountOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        k = fqt.topk_count(args[0], args[1], op.lambda_min.value.data, op.lambda_max.value.data,
                           op.structures.value.data)
        return _result(op, k)

    @impl(qt.TopkStructuresOp)
    def run_topk_structures(
        self, interpreter: Interpreter, op: qt.TopkStructuresOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        return _result(op, fqt.topk_structures(args[0], args[1], args[2]))


def _channels(attr: Any) -> list[int] | None:
    return None if attr is None else [int(c) for c in attr.get_values()]


def _state_name(state: dict[str, np.ndarray], op: Operation, sym: SymbolRefAttr) -> str:
    name = _symbol(sym)
    if name not in state:
        raise InterpreterError(f"{op.name}: no value for symbol @{name} in the state")
    return name


def _put(state: dict[str, np.ndarray], op: Operation, sym: SymbolRefAttr, value: NDArray[Any]) -> None:
    """Write an optimizer result back, keeping the symbol's dtype and shape."""
    name = _symbol(sym)
    old = state[name]
    arr = np.asarray(value)
    if arr.shape != old.shape:
        raise InterpreterError(f"{op.name}: new value of @{name} has shape {list(arr.shape)}, expected {list(old.shape)}")
    state[name] = np.array(arr, dtype=old.dtype, copy=True)


def _begin_update(
    interpreter: Interpreter, op: qt._UpdateOp, args: tuple[Any, ...]  # pyright: ignore[reportPrivateUsage]
) -> tuple[dict[str, np.ndarray], str, NDArray[np.float32] | None]:
    """State, parameter name and the gradient to apply now (None: accumulated only)."""
    state = _state(interpreter)
    a = _Args(op, args)
    name = _state_name(state, op, op.param)
    g = np.asarray(a[op.grad], dtype=np.float32)
    if op.accumulator is None:
        return state, name, g
    if op.every is None or op.batch_pos is None:
        raise InterpreterError(f"{op.name}: accumulate needs 'every' and the batch position operand")
    acc_name = _state_name(state, op, op.accumulator)
    try:
        acc, mean = ref.accumulate_gradient(state[acc_name], g, a[op.batch_pos], op.every.value.data)
    except ValueError as e:
        raise InterpreterError(f"{op.name} on @{name}: {e}") from None
    _put(state, op, op.accumulator, acc)
    return state, name, mean


# ---------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------


def _supported_op_types() -> set[type[Operation]]:
    from odtc.runtime.interpreter_vae import VaeFunctions

    types: set[type[Operation]] = set()
    for functions in (QTrainFunctions, FqtFunctions, VaeFunctions, FuncFunctions):
        types.update(t for t, _ in functions._impls())  # pyright: ignore[reportPrivateUsage]
    return types


def _op_name(op: Operation) -> str:
    """The op's name as written, also for unregistered ops (`"foo.bar"(...)`)."""
    if isinstance(op, UnregisteredOp):
        return op.op_name.data
    return op.name


def _lookup_func(module: ModuleOp, name: str) -> func.FuncOp:
    op = SymbolTable.lookup_symbol(module, name)
    if op is None:
        raise InterpreterError(f"no function @{name} in the module")
    if not isinstance(op, func.FuncOp):
        raise InterpreterError(f"@{name} is a {op.name}, not a func.func")
    if not op.body.blocks or op.body.blocks.first is None or not op.body.blocks.first.ops:
        raise InterpreterError(f"@{name} is a declaration without a body")
    return op


def _check_supported(module: ModuleOp, entry: func.FuncOp) -> None:
    """Reject, before running anything, ops the interpreter has no implementation for,
    in `entry` and every function it (transitively) calls."""
    supported = _supported_op_types()
    seen: set[str] = set()
    todo = [entry]
    while todo:
        f = todo.pop()
        fname = f.sym_name.data
        if fname in seen:
            continue
        seen.add(fname)
        for op in f.body.walk():
            if type(op) not in supported:
                raise InterpreterError(
                    f"unsupported op '{_op_name(op)}' in @{fname}: the reference interpreter "
                    "runs only the implemented qtrain ops and func.call/func.return"
                )
            if isinstance(op, func.CallOp):
                todo.append(_lookup_func(module, _symbol(op.callee)))


def make_interpreter(module: ModuleOp, state: dict[str, np.ndarray]) -> Interpreter:
    """An xDSL interpreter for `module` with func and qtrain implementations and `state`."""
    interpreter = Interpreter(module)
    interpreter.register_implementations(FuncFunctions())
    interpreter.register_implementations(QTrainFunctions())
    interpreter.register_implementations(FqtFunctions())
    from odtc.runtime.interpreter_vae import VaeFunctions  # imports this module's helpers

    interpreter.register_implementations(VaeFunctions())
    interpreter.set_data(QTrainFunctions, STATE_KEY, state)
    return interpreter


def run_function(
    module: ModuleOp,
    name: str,
    args: Sequence[np.ndarray],
    state: dict[str, np.ndarray] | None = None,
    base_dir: Path | None = None,
) -> tuple[np.ndarray, ...]:
    """Run `func.func @name` on `args` and return its results.

    `state` (symbol name -> array) is read by `qtrain.load` and updated in place by
    `qtrain.store`; when None it is created with `init_state(module, base_dir)` (and
    discarded afterwards). Arguments are converted to the canonical dtype of the
    function's argument types (shapes and integer ranges are checked).
    """
    f = _lookup_func(module, name)
    _check_supported(module, f)
    if state is None:
        state = init_state(module, base_dir)
    arg_types = f.function_type.inputs.data
    if len(args) != len(arg_types):
        raise InterpreterError(f"@{name} takes {len(arg_types)} argument(s), got {len(args)}")
    values = tuple(_to_tensor(v, t, f"@{name} argument {i}") for i, (v, t) in enumerate(zip(args, arg_types)))
    interpreter = make_interpreter(module, state)
    results = interpreter.call_op(f, values)
    return tuple(np.asarray(r) for r in results)
