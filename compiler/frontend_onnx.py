"""ONNX frontend: an `.onnx` file (or ModelProto) -> a qtrain module with `@forward`.

    module = import_onnx("model.onnx")          # what `odtc compile model.onnx` does

Supported ONNX ops (default domain): Conv, Gemm, MatMul (+ Add as its bias), Relu, Clip
(0..6 -> relu6, 0..inf -> relu), Add, MaxPool, AveragePool, GlobalAveragePool, ReduceMean
over H and W (PyTorch's AdaptiveAvgPool2d(1)), Flatten, Reshape, BatchNormalization and
Identity. Shape arithmetic on constants (Constant, Cast, CastLike, Shape, Gather, Concat,
Unsqueeze, Squeeze, Reshape and Add/Sub/Mul/Div of constants) is evaluated at import time,
so PyTorch's exporter output (`val_16 = Concat(Constant, Constant)` feeding a Reshape) works.
Anything else is an error naming the node, never skipped.

Parameters. Every constant a layer uses as a weight (Conv W/B, Gemm/MatMul B/C,
BatchNormalization scale/B/mean/var) becomes a `qtrain.param` symbol named by the ONNX
value name, which is the initializer name. PyTorch's exporter (`torch.onnx.export`, torch
2.13) names initializers by `named_parameters()` / buffer keys ("conv1.weight",
"bn1.running_mean"), so the names match the PyTorch module. Two caveats of that exporter:
its default `optimize=True` folds an eval-mode BatchNorm into the conv before it *and keeps
the conv's names* ("conv1.weight" then holds the folded values, "bn1.*" is gone) — export
with `optimize=False` to keep BatchNorm trainable and the values PyTorch's; the legacy
exporter (`dynamo=False`) folds BatchNorm too and names the results "onnx::Conv_30".
Weights and biases are trainable (train.toml chooses what actually trains); BatchNorm
running statistics are frozen params. Layouts are ONNX's (OIHW, Gemm B [out, in] with
transB=1), except Gemm with transB=0 and MatMul: their [in, out] weight is stored as
[out, in] (what qtrain.dense takes) and the param carries `odtc.transposed`, so
`odtc export --onnx` transposes it back.

The module records where it came from (`odtc.source`, `odtc.source_sha256` attributes) so
`odtc export --onnx` can write the same graph with the trained initializers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType, UnitAttr, f32
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint
from xdsl.utils.exceptions import DiagnosticException

from odtc.compiler.api import CompileError
from odtc.compiler.builder import dense_attr
from odtc.dialects import qtrain

if TYPE_CHECKING:
    import onnx

ONNX_MISSING = "odtc: ONNX import needs the onnx package: pip install 'odtc[onnx]'"
TRANSPOSED_ATTR = "odtc.transposed"
"""Unit attribute on a param stored transposed relative to its source initializer."""
SOURCE_ATTR = "odtc.source"
SOURCE_SHA_ATTR = "odtc.source_sha256"


def require_onnx() -> Any:
    """The `onnx` module, or a CompileError telling how to install it."""
    try:
        import onnx
    except ImportError:
        raise CompileError(ONNX_MISSING) from None
    return onnx


# ---------------------------------------------------------------------------------------
# Emitting qtrain (shared with the torch frontend)
# ---------------------------------------------------------------------------------------


class QTrainEmitter:
    """Builds `@forward` op by op for a frontend: parameter symbols with their loads (one
    load per symbol, reused), ops verified as they are inserted so a shape error names the
    source node (`where`), and the finished module."""

    def __init__(self, input_shape: Sequence[int], input_name: str = "x") -> None:
        self.block = Block(arg_types=[TensorType(f32, list(input_shape))])
        if input_name.isidentifier():
            self.block.args[0].name_hint = input_name
        self.builder = Builder(InsertPoint.at_end(self.block))
        self.params: dict[str, qtrain.ParamOp] = {}
        self.loads: dict[str, SSAValue] = {}

    @property
    def input(self) -> SSAValue:
        return self.block.args[0]

    def param(
        self, name: str, value: np.ndarray, trainable: bool, where: str, transposed: bool = False
    ) -> SSAValue:
        """Load parameter `name`, declaring it on first use with `value` (f32, copied exactly)."""
        if name in self.params:
            p = self.params[name]
            if tuple(p.type.get_shape()) != tuple(value.shape) or ((TRANSPOSED_ATTR in p.attributes) != transposed):
                raise CompileError(f"{where}: parameter '{name}' is used with two different shapes or layouts")
            if trainable and not p.is_trainable:
                p.trainable = UnitAttr()
            return self.loads[name]
        ty = TensorType(f32, list(value.shape))
        attrs: dict[str, Attribute] = {TRANSPOSED_ATTR: UnitAttr()} if transposed else {}
        self.params[name] = qtrain.ParamOp(name, ty, dense_attr(value), trainable, attrs)
        load = qtrain.LoadOp(name, ty)
        hint = "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")
        if hint and not hint[0].isdigit():
            load.result.name_hint = hint
        self.builder.insert(load)
        self.loads[name] = load.result
        return load.result

    def op(self, op: Operation, where: str) -> SSAValue:
        """Insert `op` (verified) and return its single result."""
        try:
            op.verify()
        except DiagnosticException as exc:
            raise CompileError(f"{where}: {_first_line(exc)}") from None
        self.builder.insert(op)
        return op.results[0]

    def reshape(self, x: SSAValue, shape: Sequence[int], where: str) -> SSAValue:
        """`x` as `shape`; no op when the shape does not change."""
        if tuple(shape) == qtrain.tensor_shape(x):
            return x
        return self.op(qtrain.ReshapeOp(x, shape), where)

    def build(self, output: SSAValue, attributes: dict[str, Attribute] | None = None) -> ModuleOp:
        self.builder.insert(func.ReturnOp(output))
        fn = func.FuncOp("forward", ([self.input.type], [output.type]), Region(self.block))
        module = ModuleOp([*self.params.values(), fn], attributes=attributes)
        try:
            module.verify()
        except DiagnosticException as exc:
            raise CompileError(_first_line(exc)) from None
        return module


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__


def resolve_shape(where: str, in_shape: Sequence[int], shape: Sequence[int], allow_zero_copy: bool) -> list[int]:
    """A Reshape/view target shape with -1 (and ONNX's 0 = copy) resolved."""
    out = [int(d) for d in shape]
    if allow_zero_copy:
        for i, d in enumerate(out):
            if d == 0:
                if i >= len(in_shape):
                    raise CompileError(f"{where}: shape {list(shape)} copies dimension {i}, input has rank {len(in_shape)}")
                out[i] = in_shape[i]
    if out.count(-1) > 1 or any(d < -1 or d == 0 for d in out):
        raise CompileError(f"{where}: cannot reshape {list(in_shape)} to {list(shape)}")
    total = prod(in_shape)
    if -1 in out:
        known = prod(d for d in out if d != -1)
        if known == 0 or total % known:
            raise CompileError(f"{where}: cannot reshape {list(in_shape)} to {list(shape)}")
        out[out.index(-1)] = total // known
    if prod(out) != total:
        raise CompileError(f"{where}: cannot reshape {list(in_shape)} ({total} elements) to {list(shape)}")
    return out


def check_window(where: str, in_hw: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                 pads: Sequence[int]) -> None:
    if any(k < 1 for k in kernel) or any(s < 1 for s in stride) or any(p < 0 for p in pads):
        raise CompileError(f"{where}: kernel {list(kernel)}, strides {list(stride)}, pads {list(pads)} are invalid")
    oh, ow = qtrain.conv_output_hw(in_hw, kernel, stride, pads)
    if oh < 1 or ow < 1:
        raise CompileError(f"{where}: kernel {list(kernel)} does not fit input {list(in_hw)} with pads {list(pads)}")


# ---------------------------------------------------------------------------------------
# The importer
# ---------------------------------------------------------------------------------------

COMPUTE_OPS = (
    "Add", "AveragePool", "BatchNormalization", "Clip", "Conv", "Flatten", "Gemm",
    "GlobalAveragePool", "Identity", "MatMul", "MaxPool", "ReduceMean", "Relu", "Reshape",
)
CONSTANT_OPS = ("Cast", "CastLike", "Concat", "Constant", "Div", "Gather", "Mul", "Shape", "Squeeze", "Sub",
                "Unsqueeze")
"""Evaluated at import time when their inputs are constants (Add and Reshape too)."""


class _Const:
    """A value known at import time; `name` is set for initializers and Constant outputs,
    which may become parameters under that name."""

    def __init__(self, value: np.ndarray, name: str | None) -> None:
        self.value = value
        self.name = name


Value = SSAValue | _Const


class _Importer:
    def __init__(self, model: onnx.ModelProto) -> None:
        self.onnx = require_onnx()
        from onnx import numpy_helper

        self.nh = numpy_helper
        self.graph = model.graph
        self.env: dict[str, Value] = {}
        for init in self.graph.initializer:
            self.env[init.name] = _Const(numpy_helper.to_array(init), init.name)
        for sparse in self.graph.sparse_initializer:
            raise CompileError(f"ONNX sparse initializer '{sparse.values.name}' is not supported")
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.graph.node:
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(node)
        self.pending_bias: dict[str, qtrain.DenseOp] = {}
        """MatMul outputs whose only consumer is an Add: that Add may supply the bias."""
        self.emitter: QTrainEmitter

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def where(node: onnx.NodeProto) -> str:
        name = node.name or f"<unnamed, output {node.output[0] if node.output else '?'}>"
        return f"ONNX node '{name}' ({node.op_type})"

    def attrs(self, node: onnx.NodeProto) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for a in node.attribute:
            v = self.onnx.helper.get_attribute_value(a)
            out[a.name] = v.decode() if isinstance(v, bytes) else v
        return out

    def check_attrs(self, node: onnx.NodeProto, attrs: dict[str, Any], allowed: Sequence[str]) -> None:
        extra = sorted(set(attrs) - set(allowed))
        if extra:
            raise CompileError(f"{self.where(node)}: attribute '{extra[0]}' is not supported")

    def value(self, node: onnx.NodeProto, i: int) -> Value | None:
        if i >= len(node.input) or not node.input[i]:
            return None
        name = node.input[i]
        if name not in self.env:
            raise CompileError(f"{self.where(node)}: input '{name}' is not a graph input, initializer or earlier output")
        return self.env[name]

    def tensor(self, node: onnx.NodeProto, i: int, ranks: Sequence[int] = ()) -> SSAValue:
        v = self.value(node, i)
        if v is None:
            raise CompileError(f"{self.where(node)}: input {i} is missing")
        if isinstance(v, _Const):
            raise CompileError(
                f"{self.where(node)}: input '{node.input[i]}' is a constant; odtc needs it computed from the graph input"
            )
        shape = qtrain.tensor_shape(v)
        if ranks and len(shape) not in ranks:
            want = " or ".join(str(r) for r in ranks)
            raise CompileError(f"{self.where(node)}: input '{node.input[i]}' must have rank {want}, has shape {list(shape)}")
        return v

    def const(self, node: onnx.NodeProto, i: int, what: str) -> _Const:
        v = self.value(node, i)
        if not isinstance(v, _Const):
            raise CompileError(f"{self.where(node)}: {what} '{node.input[i] if i < len(node.input) else ''}' must be an initializer or constant")
        return v

    def param(self, node: onnx.NodeProto, i: int, what: str, shape: Sequence[int] | None = None,
              trainable: bool = True, transpose: bool = False) -> SSAValue:
        c = self.const(node, i, what)
        arr = c.value
        if arr.dtype != np.float32:
            raise CompileError(f"{self.where(node)}: {what} '{node.input[i]}' is {arr.dtype}; odtc needs float32 weights")
        if transpose:
            arr = arr.T
        if shape is not None:
            if prod(arr.shape) != prod(shape):
                raise CompileError(f"{self.where(node)}: {what} '{node.input[i]}' has shape {list(c.value.shape)}, expected {list(shape)}")
            arr = arr.reshape(tuple(shape))
        name = c.name or node.input[i]
        return self.emitter.param(name, np.ascontiguousarray(arr), trainable, self.where(node), transpose)

    def define(self, node: onnx.NodeProto, value: Value, index: int = 0) -> None:
        self.env[node.output[index]] = value

    def no_extra_outputs(self, node: onnx.NodeProto, n: int) -> None:
        for extra in node.output[n:]:
            if extra:
                raise CompileError(f"{self.where(node)}: output '{extra}' is not supported (only the first {n})")

    # -- driver -------------------------------------------------------------------------

    def run(self) -> tuple[QTrainEmitter, SSAValue]:
        g = self.graph
        inputs = [i for i in g.input if i.name not in self.env]
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs) or "none"
            raise CompileError(f"the ONNX graph must have exactly one input (besides initializers), has {len(inputs)}: {names}")
        self.emitter = QTrainEmitter(self.input_shape(inputs[0]), inputs[0].name)
        self.env[inputs[0].name] = self.emitter.input
        if len(g.output) != 1:
            names = ", ".join(o.name for o in g.output)
            raise CompileError(f"the ONNX graph must have exactly one output (odtc trains one loss on it), has {len(g.output)}: {names}")
        out_name = g.output[0].name
        for node in g.node:
            for name in node.output:
                if name and name != out_name and name not in self.consumers:
                    raise CompileError(
                        f"{self.where(node)}: output '{name}' feeds nothing (remove dead nodes, e.g. with onnx-simplifier)"
                    )
        for node in g.node:
            self.visit(node)
        out = self.env.get(out_name)
        if out is None:
            raise CompileError(f"the ONNX graph output '{out_name}' is not produced by any node")
        if isinstance(out, _Const):
            raise CompileError(f"the ONNX graph output '{out_name}' is a constant")
        self.check_declared_shape(g.output[0], out)
        return self.emitter, out

    def input_shape(self, vi: onnx.ValueInfoProto) -> list[int]:
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or tt.elem_type != self.onnx.TensorProto.FLOAT:
            raise CompileError(f"ONNX graph input '{vi.name}' must be a float32 tensor")
        if not tt.HasField("shape"):
            raise CompileError(f"ONNX graph input '{vi.name}' has no shape; odtc needs a static input shape")
        shape: list[int] = []
        for i, d in enumerate(tt.shape.dim):
            static = d.HasField("dim_value") and d.dim_value > 0
            if i == 0:
                if static and d.dim_value != 1:
                    raise CompileError(
                        f"ONNX graph input '{vi.name}' has batch size {d.dim_value}; odtc trains one sample per step (batch 1 or symbolic)"
                    )
                shape.append(1)
            elif not static:
                raise CompileError(f"ONNX graph input '{vi.name}' dimension {i} is not static; odtc needs static shapes")
            else:
                shape.append(d.dim_value)
        if len(shape) not in (2, 4):
            raise CompileError(f"ONNX graph input '{vi.name}' must be [N, C, H, W] or [N, features], has rank {len(shape)}")
        return shape

    def check_declared_shape(self, vi: onnx.ValueInfoProto, out: SSAValue) -> None:
        """A mismatch means odtc read an op differently from the exporter: fail loudly."""
        if not vi.type.tensor_type.HasField("shape"):
            return
        declared = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
        got = list(qtrain.tensor_shape(out))
        # the batch dimension may be symbolic or differ (it was pinned to 1)
        same = len(declared) == len(got) and all(
            d is None or i == 0 or d == g for i, (d, g) in enumerate(zip(declared, got))
        )
        if not same:
            shown = ["?" if d is None else d for d in declared]
            raise CompileError(f"ONNX graph output '{vi.name}' is declared {shown} but computes to {got}")

    def visit(self, node: onnx.NodeProto) -> None:
        if node.domain not in ("", "ai.onnx"):
            raise CompileError(f"{self.where(node)} from domain '{node.domain}' is not supported")
        inputs = [self.value(node, i) for i in range(len(node.input))]
        all_const = all(v is None or isinstance(v, _Const) for v in inputs)
        handler: Callable[[onnx.NodeProto], None] | None
        if node.op_type in ("Constant", "Shape", "CastLike") or (all_const and node.op_type in CONSTANT_OPS + ("Add", "Reshape", "Identity")):
            handler = self.fold
        else:
            handler = getattr(self, f"op_{node.op_type}", None) if node.op_type in COMPUTE_OPS else None
        if handler is None:
            if node.op_type in CONSTANT_OPS:
                raise CompileError(f"{self.where(node)} is supported only on constants (shape arithmetic), not on activations")
            raise CompileError(
                f"{self.where(node)} is not supported; supported: {', '.join(COMPUTE_OPS)} "
                f"(and on constants: {', '.join(CONSTANT_OPS)})"
            )
        handler(node)

    # -- import-time constant evaluation ---------------------------------------------------

    def fold(self, node: onnx.NodeProto) -> None:
        a = self.attrs(node)
        op = node.op_type
        w = self.where(node)

        def c(i: int) -> np.ndarray:
            return self.const(node, i, f"input {i}").value

        if op == "Constant":
            if "value" in a:
                v = self.nh.to_array(a["value"])
            elif "value_float" in a:
                v = np.array(a["value_float"], np.float32)
            elif "value_floats" in a:
                v = np.array(a["value_floats"], np.float32)
            elif "value_int" in a:
                v = np.array(a["value_int"], np.int64)
            elif "value_ints" in a:
                v = np.array(a["value_ints"], np.int64)
            else:
                raise CompileError(f"{w}: attribute '{next(iter(a), '?')}' is not supported")
            self.define(node, _Const(v, node.output[0]))
            return
        if op == "Shape":
            src = self.value(node, 0)
            shape = list(qtrain.tensor_shape(src)) if isinstance(src, SSAValue) else list(c(0).shape)
            start, end = a.get("start", 0), a.get("end", len(shape))
            self.define(node, _Const(np.array(shape[start:end], np.int64), None))
            return
        if op == "CastLike":
            like = self.value(node, 1)
            dtype = np.float32 if isinstance(like, SSAValue) else c(1).dtype
            self.define(node, _Const(c(0).astype(dtype), None))
            return
        if op == "Cast":
            to = self.onnx.helper.tensor_dtype_to_np_dtype(a["to"])
            self.define(node, _Const(c(0).astype(to), None))
            return
        if op == "Identity":
            src = self.const(node, 0, "input")
            self.define(node, _Const(src.value, src.name))
            return
        if op == "Concat":
            self.define(node, _Const(np.concatenate([c(i) for i in range(len(node.input))], axis=a["axis"]), None))
            return
        if op == "Gather":
            self.define(node, _Const(np.take(c(0), c(1), axis=a.get("axis", 0)), None))
            return
        if op in ("Unsqueeze", "Squeeze"):
            axes = a.get("axes")
            if axes is None and len(node.input) > 1 and node.input[1]:
                axes = c(1).tolist()
            x = c(0)
            if op == "Unsqueeze":
                if axes is None:
                    raise CompileError(f"{w}: Unsqueeze needs axes")
                for ax in sorted(int(v) % (x.ndim + len(axes)) for v in axes):
                    x = np.expand_dims(x, ax)
            else:
                x = np.squeeze(x, axis=None if axes is None else tuple(int(v) for v in axes))
            self.define(node, _Const(x, None))
            return
        if op == "Reshape":
            x = c(0)
            shape = resolve_shape(w, x.shape, c(1).tolist(), not a.get("allowzero", 0))
            self.define(node, _Const(x.reshape(shape), None))
            return
        fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
        x, y = c(0), c(1)
        r = fn(x, y)
        if op == "Div" and np.issubdtype(x.dtype, np.integer):
            r = np.trunc(r)
        self.define(node, _Const(np.asarray(r).astype(np.result_type(x, y)), None))

    # -- layers ---------------------------------------------------------------------------

    def _pads(self, node: onnx.NodeProto, a: dict[str, Any], in_hw: Sequence[int], kernel: Sequence[int],
              stride: Sequence[int]) -> list[int]:
        auto = a.get("auto_pad", "NOTSET")
        if auto == "NOTSET":
            pads = list(a.get("pads", [0, 0, 0, 0]))
            if len(pads) != 4:
                raise CompileError(f"{self.where(node)}: pads {pads} must have 4 values")
            return pads
        if auto == "VALID":
            return [0, 0, 0, 0]
        if auto not in ("SAME_UPPER", "SAME_LOWER"):
            raise CompileError(f"{self.where(node)}: auto_pad '{auto}' is not supported")
        begin: list[int] = []
        end: list[int] = []
        for size, k, s in zip(in_hw, kernel, stride):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            small, big = total // 2, total - total // 2
            begin.append(small if auto == "SAME_UPPER" else big)
            end.append(big if auto == "SAME_UPPER" else small)
        return [begin[0], begin[1], end[0], end[1]]

    def _ones(self, node: onnx.NodeProto, a: dict[str, Any], key: str) -> None:
        if any(v != 1 for v in a.get(key, [1, 1])):
            raise CompileError(f"{self.where(node)}: {key} {list(a[key])} are not supported (only 1)")

    def op_Conv(self, node: onnx.NodeProto) -> None:
        a = self.attrs(node)
        self.check_attrs(node, a, ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"))
        x = self.tensor(node, 0, (4,))
        wc = self.const(node, 1, "weight W")
        if wc.value.ndim != 4:
            raise CompileError(f"{self.where(node)}: only 2-D convolution is supported (weight shape {list(wc.value.shape)})")
        o = wc.value.shape[0]
        kernel = list(wc.value.shape[2:])
        if "kernel_shape" in a and list(a["kernel_shape"]) != kernel:
            raise CompileError(f"{self.where(node)}: kernel_shape {list(a['kernel_shape'])} differs from the weight's {kernel}")
        self._ones(node, a, "dilations")
        stride = list(a.get("strides", [1, 1]))
        in_hw = qtrain.tensor_shape(x)[2:]
        pads = self._pads(node, a, in_hw, kernel, stride)
        check_window(self.where(node), in_hw, kernel, stride, pads)
        group = int(a.get("group", 1))
        w = self.param(node, 1, "weight W")
        b = self.param(node, 2, "bias B", (o,)) if self.value(node, 2) is not None else None
        self.define(node, self.emitter.op(qtrain.Conv2dOp(x, w, b, stride, pads, group), self.where(node)))

    def op_Gemm(self, node: onnx.NodeProto) -> None:
        a = self.attrs(node)
        self.check_attrs(node, a, ("alpha", "beta", "transA", "transB"))
        if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
            raise CompileError(f"{self.where(node)}: alpha={a.get('alpha', 1.0)} beta={a.get('beta', 1.0)} are not supported (only 1)")
        if a.get("transA", 0):
            raise CompileError(f"{self.where(node)}: transA=1 is not supported")
        x = self.tensor(node, 0, (2,))
        trans_b = bool(a.get("transB", 0))
        wc = self.const(node, 1, "weight B")
        if wc.value.ndim != 2:
            raise CompileError(f"{self.where(node)}: weight B must be 2-D, has shape {list(wc.value.shape)}")
        o = wc.value.shape[0] if trans_b else wc.value.shape[1]
        w = self.param(node, 1, "weight B", transpose=not trans_b)
        b = None
        if self.value(node, 2) is not None:
            bc = self.const(node, 2, "bias C")
            if bc.value.shape not in ((o,), (1, o)):
                raise CompileError(f"{self.where(node)}: bias C has shape {list(bc.value.shape)}; only [{o}] or [1, {o}] is supported")
            b = self.param(node, 2, "bias C", (o,))
        self.define(node, self.emitter.op(qtrain.DenseOp(x, w, b), self.where(node)))

    def op_MatMul(self, node: onnx.NodeProto) -> None:
        x = self.tensor(node, 0, (2,))
        wc = self.const(node, 1, "weight B")
        if wc.value.ndim != 2:
            raise CompileError(f"{self.where(node)}: weight B must be 2-D, has shape {list(wc.value.shape)}")
        w = self.param(node, 1, "weight B", transpose=True)
        dense = qtrain.DenseOp(x, w, None)
        self.define(node, self.emitter.op(dense, self.where(node)))
        users = self.consumers.get(node.output[0], [])
        if len(users) == 1 and users[0].op_type == "Add":
            self.pending_bias[node.output[0]] = dense

    def op_Add(self, node: onnx.NodeProto) -> None:
        self.check_attrs(node, self.attrs(node), ())
        lhs, rhs = self.value(node, 0), self.value(node, 1)
        const_i = 0 if isinstance(lhs, _Const) else 1 if isinstance(rhs, _Const) else None
        if const_i is not None:
            other = node.input[1 - const_i]
            if other not in self.pending_bias:
                raise CompileError(
                    f"{self.where(node)}: adding a constant is supported only as the bias of a MatMul"
                )
            dense = self.pending_bias.pop(other)
            o = qtrain.tensor_shape(dense.output)[1]
            if self.const(node, const_i, "bias").value.shape not in ((o,), (1, o)):
                raise CompileError(f"{self.where(node)}: bias '{node.input[const_i]}' must have shape [{o}] or [1, {o}]")
            b = self.param(node, const_i, "bias", (o,))
            fused = qtrain.DenseOp(dense.input, dense.weight, b)
            self.define(node, self.emitter.op(fused, self.where(node)))
            dense.detach()
            dense.erase()
            return
        for name in node.input:
            self.pending_bias.pop(name, None)
        a, b = self.tensor(node, 0), self.tensor(node, 1)
        if a.type != b.type:
            raise CompileError(
                f"{self.where(node)}: inputs have shapes {list(qtrain.tensor_shape(a))} and {list(qtrain.tensor_shape(b))}; "
                "broadcasting is not supported"
            )
        self.define(node, self.emitter.op(qtrain.AddOp(a, b), self.where(node)))

    def op_Relu(self, node: onnx.NodeProto) -> None:
        self.define(node, self.emitter.op(qtrain.ReluOp(self.tensor(node, 0)), self.where(node)))

    def op_Identity(self, node: onnx.NodeProto) -> None:
        self.define(node, self.tensor(node, 0))

    def op_Clip(self, node: onnx.NodeProto) -> None:
        a = self.attrs(node)
        self.check_attrs(node, a, ("min", "max"))
        x = self.tensor(node, 0)
        lo: float | None = a.get("min")
        hi: float | None = a.get("max")
        if self.value(node, 1) is not None:
            lo = float(self.const(node, 1, "min").value)
        if self.value(node, 2) is not None:
            hi = float(self.const(node, 2, "max").value)
        if lo == 0.0 and hi == 6.0:
            op: Operation = qtrain.Relu6Op(x)
        elif lo == 0.0 and (hi is None or hi == float("inf")):
            op = qtrain.ReluOp(x)
        else:
            raise CompileError(
                f"{self.where(node)}: only Clip(0, 6) (ReLU6) and Clip(0, inf) (ReLU) are supported, got min={lo} max={hi}"
            )
        self.define(node, self.emitter.op(op, self.where(node)))

    def _pool(self, node: onnx.NodeProto, allowed: Sequence[str]) -> tuple[SSAValue, list[int], list[int], list[int], dict[str, Any]]:
        a = self.attrs(node)
        self.check_attrs(node, a, ("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides", *allowed))
        x = self.tensor(node, 0, (4,))
        if a.get("ceil_mode", 0):
            raise CompileError(f"{self.where(node)}: ceil_mode=1 is not supported (floor mode only)")
        self._ones(node, a, "dilations")
        kernel = list(a["kernel_shape"])
        stride = list(a.get("strides", [1, 1]))
        in_hw = qtrain.tensor_shape(x)[2:]
        pads = self._pads(node, a, in_hw, kernel, stride)
        check_window(self.where(node), in_hw, kernel, stride, pads)
        if max(pads[0], pads[2]) >= kernel[0] or max(pads[1], pads[3]) >= kernel[1]:
            raise CompileError(f"{self.where(node)}: pads {pads} must be smaller than the kernel {kernel}")
        return x, kernel, stride, pads, a

    def op_MaxPool(self, node: onnx.NodeProto) -> None:
        x, kernel, stride, pads, a = self._pool(node, ("storage_order",))
        self.no_extra_outputs(node, 1)
        self.define(node, self.emitter.op(qtrain.MaxPool2dOp(x, kernel, stride, pads), self.where(node)))

    def op_AveragePool(self, node: onnx.NodeProto) -> None:
        x, kernel, stride, pads, a = self._pool(node, ("count_include_pad",))
        op = qtrain.AvgPool2dOp(x, kernel, stride, pads, bool(a.get("count_include_pad", 0)))
        self.define(node, self.emitter.op(op, self.where(node)))

    def op_GlobalAveragePool(self, node: onnx.NodeProto) -> None:
        x = self.tensor(node, 0, (4,))
        self.define(node, self.emitter.op(qtrain.GlobalAvgPoolOp(x), self.where(node)))

    def op_ReduceMean(self, node: onnx.NodeProto) -> None:
        a = self.attrs(node)
        self.check_attrs(node, a, ("axes", "keepdims", "noop_with_empty_axes"))
        x = self.tensor(node, 0, (4,))
        axes = a.get("axes")
        if self.value(node, 1) is not None:
            axes = self.const(node, 1, "axes").value.reshape(-1).tolist()
        if axes is None or sorted(int(v) % 4 for v in axes) != [2, 3]:
            raise CompileError(f"{self.where(node)}: only the mean over H and W (axes [2, 3]) is supported, got axes {axes}")
        y = self.emitter.op(qtrain.GlobalAvgPoolOp(x), self.where(node))
        if not a.get("keepdims", 1):
            y = self.emitter.reshape(y, qtrain.tensor_shape(y)[:2], self.where(node))
        self.define(node, y)

    def op_Flatten(self, node: onnx.NodeProto) -> None:
        a = self.attrs(node)
        self.check_attrs(node, a, ("axis",))
        x = self.tensor(node, 0)
        rank = len(qtrain.tensor_shape(x))
        axis = int(a.get("axis", 1))
        axis = axis + rank if axis < 0 else axis
        if not 0 <= axis <= rank:
            raise CompileError(f"{self.where(node)}: axis {a.get('axis')} is out of range for rank {rank}")
        self.define(node, self.emitter.op(qtrain.FlattenOp(x, axis), self.where(node)))

    def op_Reshape(self, node: onnx.NodeProto) -> None:
        a = self.attrs(node)
        self.check_attrs(node, a, ("allowzero",))
        x = self.tensor(node, 0)
        target = self.const(node, 1, "shape").value.reshape(-1).tolist()
        shape = resolve_shape(self.where(node), qtrain.tensor_shape(x), target, not a.get("allowzero", 0))
        self.define(node, self.emitter.reshape(x, shape, self.where(node)))

    def op_BatchNormalization(self, node: onnx.NodeProto) -> None:
        a = self.attrs(node)
        self.check_attrs(node, a, ("epsilon", "momentum", "training_mode", "spatial"))
        if a.get("training_mode", 0) or not a.get("spatial", 1):
            raise CompileError(f"{self.where(node)}: only inference-mode BatchNormalization (running statistics) is supported")
        self.no_extra_outputs(node, 1)
        x = self.tensor(node, 0, (2, 4))
        c = qtrain.tensor_shape(x)[1]
        gamma = self.param(node, 1, "scale", (c,))
        beta = self.param(node, 2, "B", (c,))
        mean = self.param(node, 3, "input_mean", (c,), trainable=False)
        var = self.param(node, 4, "input_var", (c,), trainable=False)
        eps = float(a.get("epsilon", 1e-5))
        self.define(node, self.emitter.op(qtrain.BatchNormOp(x, gamma, beta, mean, var, eps), self.where(node)))


def import_onnx(model: str | Path | onnx.ModelProto) -> ModuleOp:
    """Import an ONNX model (path or ModelProto) as a qtrain module with `@forward`.

    Raises CompileError with one line naming the ONNX node on anything unsupported."""
    onnx_mod = require_onnx()
    attrs: dict[str, Attribute] = {}
    if isinstance(model, str | Path):
        path = Path(model)
        if not path.is_file():
            raise CompileError(f"model file {path} does not exist")
        data = path.read_bytes()
        try:
            proto = onnx_mod.load_model_from_string(data)
        except Exception as exc:  # protobuf decode errors have no common base class
            raise CompileError(f"{path} is not a valid ONNX model: {type(exc).__name__}: {_first_line(exc)}") from None
        if any(init.data_location == onnx_mod.TensorProto.EXTERNAL for init in proto.graph.initializer):
            proto = onnx_mod.load(str(path))  # pulls external data files next to the model
        attrs[SOURCE_ATTR] = StringAttr(str(path.resolve()))
        attrs[SOURCE_SHA_ATTR] = StringAttr(hashlib.sha256(data).hexdigest())
    else:
        proto = model
    emitter, out = _Importer(proto).run()
    return emitter.build(out, attrs)
