"""PyTorch frontend: a torch.nn.Module -> a qtrain module with `@forward`.

    odtc compile examples/torch_cnn.py:model ...     # factory() returns an nn.Module
    module = import_torch(net, torch.zeros(1, 1, 28, 28))

The module is put in eval mode (BatchNorm uses its running statistics, dropout is off) and
captured with `torch.export.export` on an example input of the model's input shape.
torch.export rather than `torch.fx.symbolic_trace`: it lowers every spelling of a layer
(`nn.ReLU`, `F.relu`, `torch.relu`, `x.relu()`, in-place variants; `x.view(x.size(0), -1)`
with the size already resolved) to one ATen op with a fixed schema, resolves all shapes
statically, and its graph signature maps each parameter placeholder to its
`named_parameters()` key, so there is one small table of ATen ops to translate instead of
modules, functions and methods.

Input shape. The factory's module gives it, in this order: an `example_input` tensor
attribute on the module, else a module-level `INPUT_SHAPE = (1, C, H, W)` (or `(1, features)`)
in the factory's file. The batch dimension must be 1 (one sample per training step).

Supported ATen ops: conv2d/convolution (dilation 1), linear, relu, relu6, hardtanh(0, 6),
clamp(0, 6) / clamp(min=0), add (alpha 1, same shapes), max_pool2d (dilation 1, floor),
avg_pool2d (floor, no divisor_override), adaptive_avg_pool2d to 1x1, mean over H and W,
flatten, view/reshape, batch_norm in eval mode (BatchNorm1d/2d with affine parameters and
running statistics), dropout in eval mode, clone/alias/contiguous, and `getitem` of those.

Parameters are named exactly by `named_parameters()` keys ("conv1.weight"), running
statistics by their buffer keys ("bn1.running_mean", frozen); values are copied exactly
(float32 required). torch is imported only when this frontend runs.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from math import prod
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Attribute, SSAValue

from odtc.compiler.api import CompileError
from odtc.compiler.frontend_onnx import SOURCE_ATTR, QTrainEmitter, check_window, resolve_shape
from odtc.dialects import qtrain

if TYPE_CHECKING:
    import torch
    from torch import fx

SUPPORTED = (
    "conv2d, linear, relu, relu6, hardtanh(0, 6), clamp(0, 6), add, max_pool2d, avg_pool2d, "
    "adaptive_avg_pool2d(1), mean over H and W, flatten, view/reshape, batch_norm (eval), dropout (eval)"
)
TORCH_MISSING = "odtc: PyTorch import needs torch: pip install torch"


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise CompileError(TORCH_MISSING) from None
    return torch


class _Param:
    """A placeholder that is a parameter or buffer: becomes a qtrain.param when a layer uses it."""

    def __init__(self, name: str, value: np.ndarray | None, trainable: bool, dtype: str = "float32") -> None:
        self.name = name
        self.value = value
        """None when not float32 (then it cannot be a layer weight)."""
        self.trainable = trainable
        self.dtype = dtype


class _Tuple:
    """A multi-result ATen op: only the listed result indices may be used."""

    def __init__(self, items: dict[int, SSAValue]) -> None:
        self.items = items


Value = SSAValue | _Param | _Tuple | None


def _where(node: fx.Node) -> str:
    """`PyTorch node 'relu_1' (aten.relu.default, at net.py:12: h = F.relu(h))`."""
    # an ATen OpOverload prints as aten.relu.default; Python callables by name
    target = str(node.target) if hasattr(node.target, "_schema") else getattr(node.target, "__name__", str(node.target))
    loc = _user_location(node.meta.get("stack_trace"))
    return f"PyTorch node '{node.name}' ({target}{', at ' + loc if loc else ''})"


def _user_location(trace: str | None) -> str:
    """The innermost frame of the stack trace outside torch itself, as `file:line: code`."""
    if not trace:
        return ""
    torch_file = Path(_torch().__file__)
    torch_dirs = (str(torch_file.parent), str(torch_file.resolve().parent))
    lines = trace.splitlines()
    best = ""
    for i, ln in enumerate(lines):
        s = ln.strip()
        if not s.startswith('File "'):
            continue
        path = s[6 : s.index('"', 6)]
        if path.startswith(torch_dirs):
            continue
        line_no = s.split(", line ", 1)[1].split(",", 1)[0] if ", line " in s else "?"
        code = lines[i + 1].strip() if i + 1 < len(lines) else ""
        best = f"{Path(path).name}:{line_no}: {code}"
    return best


class _Importer:
    def __init__(self, ep: torch.export.ExportedProgram, input_shape: Sequence[int]) -> None:
        self.torch = _torch()
        self.ep = ep
        self.env: dict[fx.Node, Value] = {}
        self.emitter = QTrainEmitter(input_shape)
        self.handlers: dict[Any, Callable[[fx.Node, dict[str, Any]], Value]] = {}
        aten = self.torch.ops.aten
        table: list[tuple[Any, Callable[[fx.Node, dict[str, Any]], Value]]] = [
            (aten.conv2d.default, self.conv2d),
            (aten.conv2d.padding, self.conv2d),
            (aten.convolution.default, self.convolution),
            (aten.linear.default, self.linear),
            (aten.relu.default, self.relu),
            (aten.relu_.default, self.relu),
            (aten.relu6.default, self.relu6),
            (aten.hardtanh.default, self.hardtanh),
            (aten.hardtanh_.default, self.hardtanh),
            (aten.clamp.default, self.clamp),
            (aten.clamp_.default, self.clamp),
            (aten.add.Tensor, self.add),
            (aten.add_.Tensor, self.add),
            (aten.max_pool2d.default, self.max_pool2d),
            (aten.max_pool2d_with_indices.default, self.max_pool2d),
            (aten.avg_pool2d.default, self.avg_pool2d),
            (aten.adaptive_avg_pool2d.default, self.adaptive_avg_pool2d),
            (aten._adaptive_avg_pool2d.default, self.adaptive_avg_pool2d),
            (aten.mean.dim, self.mean),
            (aten.flatten.using_ints, self.flatten),
            (aten.view.default, self.view),
            (aten.reshape.default, self.view),
            (aten._unsafe_view.default, self.view),
            (aten.batch_norm.default, self.batch_norm),
            (aten._native_batch_norm_legit_no_training.default, self.batch_norm),
            (aten.dropout.default, self.dropout),
            (aten.clone.default, self.identity),
            (aten.alias.default, self.identity),
            (aten.contiguous.default, self.identity),
        ]
        for target, fn in table:
            self.handlers[target] = fn


    # -- values ---------------------------------------------------------------------------

    def args(self, node: fx.Node) -> dict[str, Any]:
        """Arguments by schema name, defaults filled in."""
        schema = node.target._schema  # type: ignore[union-attr]
        out: dict[str, Any] = {}
        for i, arg in enumerate(schema.arguments):
            if i < len(node.args):
                out[arg.name] = node.args[i]
            elif arg.name in node.kwargs:
                out[arg.name] = node.kwargs[arg.name]
            elif arg.has_default_value():
                out[arg.name] = arg.default_value
            else:
                out[arg.name] = None
        return out

    def tensor(self, node: fx.Node, arg: Any, what: str = "input") -> SSAValue:
        v = self.env.get(arg) if isinstance(arg, self.torch.fx.Node) else None
        if isinstance(v, SSAValue):
            return v
        if isinstance(v, _Param):
            raise CompileError(f"{_where(node)}: {what} is the parameter '{v.name}'; odtc supports parameters only as layer weights")
        raise CompileError(f"{_where(node)}: {what} must be a tensor computed from the model input, got {arg!r}")

    def param(self, node: fx.Node, arg: Any, what: str, trainable: bool | None = None) -> SSAValue:
        v = self.env.get(arg) if isinstance(arg, self.torch.fx.Node) else None
        if not isinstance(v, _Param):
            raise CompileError(f"{_where(node)}: {what} must be a parameter or buffer of the module")
        if v.value is None:
            raise CompileError(f"{_where(node)}: {what} '{v.name}' is {v.dtype}; odtc trains float32 models (call .float())")
        t = v.trainable if trainable is None else trainable
        return self.emitter.param(v.name, v.value, t, _where(node))

    def op(self, node: fx.Node, op: Any) -> SSAValue:
        return self.emitter.op(op, _where(node))

    # -- driver ---------------------------------------------------------------------------

    def run(self) -> SSAValue:
        torch = self.torch
        sig = self.ep.graph_signature
        kinds = torch.export.graph_signature.InputKind
        specs = {s.arg.name: s for s in sig.input_specs}
        for spec in sig.output_specs:
            if spec.kind != torch.export.graph_signature.OutputKind.USER_OUTPUT:
                raise CompileError(
                    f"the module's forward mutates '{spec.target}' ({spec.kind.name}); odtc imports eval-mode, side-effect-free models"
                )
        user_inputs = [s for s in sig.input_specs if s.kind == kinds.USER_INPUT]
        if len(user_inputs) != 1:
            raise CompileError(f"the module's forward must take exactly one tensor, takes {len(user_inputs)}")
        out_value: Value = None
        for node in self.ep.graph.nodes:
            if node.op == "placeholder":
                spec = specs[node.name]
                if spec.kind == kinds.USER_INPUT:
                    self.env[node] = self.emitter.input
                elif spec.kind in (kinds.PARAMETER, kinds.BUFFER, kinds.CONSTANT_TENSOR) and spec.target:
                    self.env[node] = self.placeholder_param(spec.target, spec.kind == kinds.PARAMETER)
                else:
                    raise CompileError(f"forward input '{node.name}' of kind {spec.kind.name} is not supported")
            elif node.op == "call_function":
                self.env[node] = self.call(node)
            elif node.op == "output":
                outs = node.args[0]
                if not isinstance(outs, (tuple, list)) or len(outs) != 1:
                    n = len(outs) if isinstance(outs, (tuple, list)) else "a non-tensor"
                    raise CompileError(f"the module's forward must return one tensor (odtc trains one loss on it), returns {n}")
                out_value = self.env.get(outs[0]) if isinstance(outs[0], torch.fx.Node) else None
            else:
                raise CompileError(f"PyTorch graph node '{node.name}' ({node.op}) is not supported")
        if not isinstance(out_value, SSAValue):
            raise CompileError("the module's forward must return a tensor computed from its input")
        return out_value

    def placeholder_param(self, target: str, is_param: bool) -> _Param:
        t: Any = self.ep.state_dict.get(target)
        if t is None:
            t = self.ep.constants.get(target)
        if t is None:
            raise CompileError(f"no value for parameter or buffer '{target}'")
        value = t.detach().cpu()
        if value.dtype != self.torch.float32:
            # e.g. BatchNorm's num_batches_tracked (int64), which no eval graph reads
            return _Param(target, None, False, str(value.dtype).replace("torch.", ""))
        return _Param(target, value.numpy().astype(np.float32, copy=True), is_param)

    def call(self, node: fx.Node) -> Value:
        if node.target is operator.getitem:
            src = self.env.get(node.args[0])  # type: ignore[arg-type]
            idx = node.args[1]
            if isinstance(src, _Tuple) and isinstance(idx, int) and idx in src.items:
                return src.items[idx]
            raise CompileError(f"{_where(node)}: only the first result of {node.args[0]} is supported")
        fn = self.handlers.get(node.target)
        if fn is None:
            raise CompileError(f"{_where(node)} is not supported; supported: {SUPPORTED}")
        return fn(node, self.args(node))

    # -- ops --------------------------------------------------------------------------------

    @staticmethod
    def _pair(v: Any) -> list[int]:
        vals = [int(i) for i in (v if isinstance(v, (list, tuple)) else [v])]
        return vals * 2 if len(vals) == 1 else vals

    def _conv(self, node: fx.Node, a: dict[str, Any], groups: int) -> SSAValue:
        x = self.tensor(node, a["input"])
        if len(qtrain.tensor_shape(x)) != 4:
            raise CompileError(f"{_where(node)}: only 2-D convolution of an [N, C, H, W] input is supported")
        w = self.param(node, a["weight"], "weight")
        b = self.param(node, a["bias"], "bias") if a["bias"] is not None else None
        kernel = list(qtrain.tensor_shape(w)[2:])
        if any(d != 1 for d in self._pair(a["dilation"])):
            raise CompileError(f"{_where(node)}: dilation {a['dilation']} is not supported (only 1)")
        stride = self._pair(a["stride"])
        in_hw = qtrain.tensor_shape(x)[2:]
        padding = a["padding"]
        if padding == "valid":
            pads = [0, 0, 0, 0]
        elif padding == "same":  # torch: stride 1, the extra pad goes at the end
            total = [k - 1 for k in kernel]
            pads = [total[0] // 2, total[1] // 2, total[0] - total[0] // 2, total[1] - total[1] // 2]
        else:
            ph, pw = self._pair(padding)
            pads = [ph, pw, ph, pw]
        check_window(_where(node), in_hw, kernel, stride, pads)
        return self.op(node, qtrain.Conv2dOp(x, w, b, stride, pads, int(groups)))

    def conv2d(self, node: fx.Node, a: dict[str, Any]) -> Value:
        return self._conv(node, a, a["groups"])

    def convolution(self, node: fx.Node, a: dict[str, Any]) -> Value:
        if a["transposed"]:
            raise CompileError(f"{_where(node)}: transposed convolution is not supported")
        return self._conv(node, a, a["groups"])

    def linear(self, node: fx.Node, a: dict[str, Any]) -> Value:
        x = self.tensor(node, a["input"])
        if len(qtrain.tensor_shape(x)) != 2:
            raise CompileError(f"{_where(node)}: linear needs an [N, features] input (flatten first), got {list(qtrain.tensor_shape(x))}")
        w = self.param(node, a["weight"], "weight")
        b = self.param(node, a["bias"], "bias") if a["bias"] is not None else None
        return self.op(node, qtrain.DenseOp(x, w, b))

    def _inplace(self, node: fx.Node, a: dict[str, Any], result: SSAValue) -> SSAValue:
        """`relu_(h)`: later reads of `h` see the result (value semantics in qtrain)."""
        if node.target._schema.name.endswith("_"):  # type: ignore[union-attr]  # aten::relu_
            src = a["self"] if "self" in a else a.get("input")
            if src is not None and isinstance(src, self.torch.fx.Node):
                self.env[src] = result
        return result

    def relu(self, node: fx.Node, a: dict[str, Any]) -> Value:
        return self._inplace(node, a, self.op(node, qtrain.ReluOp(self.tensor(node, a["self"]))))

    def relu6(self, node: fx.Node, a: dict[str, Any]) -> Value:
        return self.op(node, qtrain.Relu6Op(self.tensor(node, a["self"])))

    def _bounded(self, node: fx.Node, a: dict[str, Any], lo: Any, hi: Any) -> Value:
        x = self.tensor(node, a["self"])
        if lo == 0 and hi == 6:
            return self._inplace(node, a, self.op(node, qtrain.Relu6Op(x)))
        if lo == 0 and hi is None:
            return self._inplace(node, a, self.op(node, qtrain.ReluOp(x)))
        raise CompileError(f"{_where(node)}: only the ranges (0, 6) (ReLU6) and (0, inf) (ReLU) are supported, got ({lo}, {hi})")

    def hardtanh(self, node: fx.Node, a: dict[str, Any]) -> Value:
        return self._bounded(node, a, a["min_val"], a["max_val"])

    def clamp(self, node: fx.Node, a: dict[str, Any]) -> Value:
        return self._bounded(node, a, a["min"], a["max"])

    def add(self, node: fx.Node, a: dict[str, Any]) -> Value:
        if a.get("alpha", 1) != 1:
            raise CompileError(f"{_where(node)}: alpha={a['alpha']} is not supported (only 1)")
        x = self.tensor(node, a["self"], "left operand")
        y = self.tensor(node, a["other"], "right operand")
        if x.type != y.type:
            raise CompileError(
                f"{_where(node)}: operands have shapes {list(qtrain.tensor_shape(x))} and {list(qtrain.tensor_shape(y))}; "
                "broadcasting is not supported"
            )
        return self._inplace(node, a, self.op(node, qtrain.AddOp(x, y)))

    def _window(self, node: fx.Node, a: dict[str, Any]) -> tuple[SSAValue, list[int], list[int], list[int]]:
        x = self.tensor(node, a["self"])
        if len(qtrain.tensor_shape(x)) != 4:
            raise CompileError(f"{_where(node)}: pooling needs an [N, C, H, W] input")
        if a.get("ceil_mode"):
            raise CompileError(f"{_where(node)}: ceil_mode=True is not supported (floor mode only)")
        kernel = self._pair(a["kernel_size"])
        stride = self._pair(a["stride"]) if a["stride"] else kernel
        ph, pw = self._pair(a["padding"])
        pads = [ph, pw, ph, pw]
        check_window(_where(node), qtrain.tensor_shape(x)[2:], kernel, stride, pads)
        if ph > kernel[0] // 2 or pw > kernel[1] // 2:
            raise CompileError(f"{_where(node)}: padding {[ph, pw]} must be at most half the kernel {kernel}")
        return x, kernel, stride, pads

    def max_pool2d(self, node: fx.Node, a: dict[str, Any]) -> Value:
        if any(d != 1 for d in self._pair(a["dilation"])):
            raise CompileError(f"{_where(node)}: dilation {a['dilation']} is not supported (only 1)")
        x, kernel, stride, pads = self._window(node, a)
        y = self.op(node, qtrain.MaxPool2dOp(x, kernel, stride, pads))
        return _Tuple({0: y}) if "with_indices" in str(node.target) else y

    def avg_pool2d(self, node: fx.Node, a: dict[str, Any]) -> Value:
        if a["divisor_override"] is not None:
            raise CompileError(f"{_where(node)}: divisor_override is not supported")
        x, kernel, stride, pads = self._window(node, a)
        return self.op(node, qtrain.AvgPool2dOp(x, kernel, stride, pads, bool(a["count_include_pad"])))

    def adaptive_avg_pool2d(self, node: fx.Node, a: dict[str, Any]) -> Value:
        x = self.tensor(node, a["self"])
        shape = qtrain.tensor_shape(x)
        size = self._pair(a["output_size"])
        if len(shape) != 4:
            raise CompileError(f"{_where(node)}: needs an [N, C, H, W] input")
        if size == [1, 1]:
            return self.op(node, qtrain.GlobalAvgPoolOp(x))
        if size == list(shape[2:]):
            return x
        raise CompileError(f"{_where(node)}: only output size 1 (global average pooling) is supported, got {size}")

    def mean(self, node: fx.Node, a: dict[str, Any]) -> Value:
        x = self.tensor(node, a["self"])
        shape = qtrain.tensor_shape(x)
        dims = sorted(int(d) % len(shape) for d in (a["dim"] or []))
        if len(shape) != 4 or dims != [2, 3] or a.get("dtype") is not None:
            raise CompileError(f"{_where(node)}: only the mean over H and W of an [N, C, H, W] tensor is supported")
        y = self.op(node, qtrain.GlobalAvgPoolOp(x))
        return y if a["keepdim"] else self.emitter.reshape(y, shape[:2], _where(node))

    def flatten(self, node: fx.Node, a: dict[str, Any]) -> Value:
        x = self.tensor(node, a["self"])
        shape = list(qtrain.tensor_shape(x))
        start, end = int(a["start_dim"]) % len(shape), int(a["end_dim"]) % len(shape)
        if start > end:
            raise CompileError(f"{_where(node)}: start_dim {a['start_dim']} is after end_dim {a['end_dim']}")
        out = shape[:start] + [prod(shape[start : end + 1])] + shape[end + 1 :]
        if start == 1 and end == len(shape) - 1:
            return self.op(node, qtrain.FlattenOp(x, 1))
        return self.emitter.reshape(x, out, _where(node))

    def view(self, node: fx.Node, a: dict[str, Any]) -> Value:
        x = self.tensor(node, a["self"])
        target = a["size"] if "size" in a else a["shape"]
        if not all(isinstance(d, int) for d in target):
            raise CompileError(f"{_where(node)}: the target shape {target} is not static")
        shape = resolve_shape(_where(node), qtrain.tensor_shape(x), target, allow_zero_copy=False)
        return self.emitter.reshape(x, shape, _where(node))

    def batch_norm(self, node: fx.Node, a: dict[str, Any]) -> Value:
        if a.get("training"):
            raise CompileError(f"{_where(node)}: training-mode batch norm is not supported (odtc imports the module in eval mode)")
        x = self.tensor(node, a["input"])
        if len(qtrain.tensor_shape(x)) not in (2, 4):
            raise CompileError(f"{_where(node)}: batch norm needs an [N, C] or [N, C, H, W] input")
        if a["weight"] is None or a["bias"] is None:
            raise CompileError(f"{_where(node)}: batch norm without affine weight and bias is not supported (affine=True)")
        if a["running_mean"] is None or a["running_var"] is None:
            raise CompileError(f"{_where(node)}: batch norm without running statistics is not supported (track_running_stats=True)")
        g = self.param(node, a["weight"], "weight")
        b = self.param(node, a["bias"], "bias")
        m = self.param(node, a["running_mean"], "running_mean", trainable=False)
        v = self.param(node, a["running_var"], "running_var", trainable=False)
        y = self.op(node, qtrain.BatchNormOp(x, g, b, m, v, float(a["eps"])))
        return y if node.target is self.torch.ops.aten.batch_norm.default else _Tuple({0: y})

    def dropout(self, node: fx.Node, a: dict[str, Any]) -> Value:
        if a["train"]:
            raise CompileError(f"{_where(node)}: training-mode dropout is not supported")
        return self.tensor(node, a["input"])

    def identity(self, node: fx.Node, a: dict[str, Any]) -> Value:
        return self.tensor(node, a["self"])


def import_torch(module: torch.nn.Module, example_input: torch.Tensor, source: str | None = None) -> ModuleOp:
    """Import `module` (put in eval mode) traced on `example_input` (batch 1)."""
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise CompileError(f"expected a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(example_input, torch.Tensor):
        raise CompileError(f"the example input must be a tensor, got {type(example_input).__name__}")
    shape = [int(d) for d in example_input.shape]
    if len(shape) not in (2, 4) or shape[0] != 1:
        raise CompileError(
            f"the input shape must be [1, C, H, W] or [1, features] (batch 1: one sample per training step), got {shape}"
        )
    module.eval()
    try:
        ep = torch.export.export(module, (example_input.to(torch.float32),))
    except Exception as exc:  # torch's tracing errors are long; one line is enough here
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        raise CompileError(
            f"torch.export could not capture {type(module).__name__}: {type(exc).__name__}: {lines[0] if lines else ''}"
        ) from None
    imp = _Importer(ep, shape)
    out = imp.run()
    attrs: dict[str, Attribute] = {SOURCE_ATTR: StringAttr(source)} if source else {}
    return imp.emitter.build(out, attrs)


def input_for(module: Any, user: ModuleType | None, where: str) -> Any:
    """The example input: `module.example_input`, else the file's INPUT_SHAPE (zeros)."""
    torch = _torch()
    example = getattr(module, "example_input", None)
    if example is not None:
        if not isinstance(example, torch.Tensor):
            raise CompileError(f"{where}: example_input must be a torch.Tensor, got {type(example).__name__}")
        return example
    shape = getattr(user, "INPUT_SHAPE", None) if user is not None else None
    if shape is None:
        raise CompileError(
            f"{where}: cannot tell the input shape of {type(module).__name__}; set INPUT_SHAPE = (1, C, H, W) "
            "in the file or an example_input tensor on the module"
        )
    if not isinstance(shape, (tuple, list)) or not all(isinstance(d, int) and d > 0 for d in shape):
        raise CompileError(f"{where}: INPUT_SHAPE must be a tuple of positive ints, got {shape!r}")
    return torch.zeros(tuple(shape), dtype=torch.float32)


def import_torch_factory(module: Any, user: ModuleType | None, where: str) -> ModuleOp:
    """What `odtc compile file.py:factory` does when factory() returned an nn.Module."""
    return import_torch(module, input_for(module, user, where), where)
