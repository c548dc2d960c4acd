"""qtrain-mark-trainable: choose what trains (transfer-learning modes) before autodiff.

Invariant established: exactly the parameters the mode selects are `trainable`, all others
`frozen`; running batch-norm statistics are always frozen; sparse weights carry a
`channels` list of the output channels that train. Layers are the parametrized ops
(conv2d, dense, batchnorm) of `@forward`, in program order.

Modes: `full` (params whose name matches a glob in `trainable`, default all), `bias-only`
(every bias and batch-norm beta), `last-k` (all params of the last `k` layers), `sparse`
(biases of the last `bias-k` layers, plus the weights named in `weights` as `name:ratio`;
ratio 1 trains the whole weight, ratio r < 1 the first ceil(r·out) output channels —
the Tiny Training Engine's sparse update; which channels is a choice, and first-k keeps
the index list contiguous and static).

    qtrain.param @conv1.weight trainable ...   --mode=bias-only-->   qtrain.param @conv1.weight frozen ...
    qtrain.param @conv1.bias trainable ...                          qtrain.param @conv1.bias trainable ...
"""

import fnmatch
from dataclasses import dataclass
from fractions import Fraction
from math import ceil

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import DenseArrayBase, ModuleOp, UnitAttr, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from odtc.dialects import qtrain

MODES = ("full", "bias-only", "last-k", "sparse")


def _fail(msg: str) -> PassFailedException:
    return PassFailedException(f"qtrain-mark-trainable: {msg}")


def _sym(v: SSAValue | None) -> str | None:
    if v is not None and isinstance(v.owner, qtrain.LoadOp):
        return v.owner.symbol.root_reference.data
    return None


def layers_of(fn: func.FuncOp) -> list[tuple[Operation, dict[str, str]]]:
    """Parametrized ops in order, each with role -> param name (weight, bias, gamma, ...)."""
    out: list[tuple[Operation, dict[str, str]]] = []
    for o in fn.body.block.ops:
        roles: dict[str, str | None] = {}
        if isinstance(o, qtrain.Conv2dOp | qtrain.DenseOp):
            roles = {"weight": _sym(o.weight), "bias": _sym(o.bias)}
        elif isinstance(o, qtrain.BatchNormOp):
            roles = {"gamma": _sym(o.gamma), "beta": _sym(o.beta), "mean": _sym(o.mean), "var": _sym(o.var)}
        else:
            continue
        out.append((o, {k: v for k, v in roles.items() if v is not None}))
    return out


@dataclass(frozen=True)
class MarkTrainablePass(ModulePass):
    name = "qtrain-mark-trainable"

    mode: str = "full"
    trainable: tuple[str, ...] = ("*",)
    """Globs of parameter names (mode full)."""
    k: int = 1
    """Number of last layers (mode last-k)."""
    bias_k: int = 0
    """Number of last layers whose bias trains (mode sparse)."""
    weights: tuple[str, ...] = ()
    """`name:ratio` entries (mode sparse)."""
    forward: str = "forward"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.mode not in MODES:
            raise _fail(f"unknown mode '{self.mode}' (expected one of: {', '.join(MODES)})")
        fn = next((o for o in op.ops if isinstance(o, func.FuncOp) and o.sym_name.data == self.forward), None)
        if fn is None:
            raise _fail(f"no function @{self.forward}")
        params = {o.sym_name.data: o for o in op.ops if isinstance(o, qtrain.ParamOp)}
        layers = layers_of(fn)
        stats = {n for _, roles in layers for r, n in roles.items() if r in ("mean", "var")}
        selected: set[str] = set()
        channels: dict[str, list[int]] = {}

        if self.mode == "full":
            selected = {n for n in params if any(fnmatch.fnmatchcase(n, g) for g in self.trainable)}
        elif self.mode == "bias-only":
            selected = {n for _, roles in layers for r, n in roles.items() if r in ("bias", "beta")}
        elif self.mode == "last-k":
            if not 1 <= self.k <= len(layers):
                raise _fail(f"k must be in [1, {len(layers)}] (the model has {len(layers)} layers), got {self.k}")
            selected = {n for _, roles in layers[-self.k :] for n in roles.values()}
        else:
            if not 0 <= self.bias_k <= len(layers):
                raise _fail(f"bias-k must be in [0, {len(layers)}], got {self.bias_k}")
            if self.bias_k:
                selected = {
                    n for _, roles in layers[-self.bias_k :] for r, n in roles.items() if r in ("bias", "beta")
                }
            weight_names = {roles["weight"] for _, roles in layers if "weight" in roles}
            seen: set[str] = set()
            for entry in self.weights:
                name, sep, ratio_s = entry.rpartition(":")
                if not sep:
                    raise _fail(f"weights entry '{entry}' must be name:ratio")
                if name not in weight_names:
                    raise _fail(f"weights entry '{entry}': no conv2d/dense weight named {name}")
                try:
                    ratio = float(ratio_s)
                except ValueError:
                    raise _fail(f"weights entry '{entry}': ratio '{ratio_s}' is not a number") from None
                if not 0 < ratio <= 1:
                    raise _fail(f"weights entry '{entry}': ratio must be in (0, 1]")
                if name in seen:
                    raise _fail(f"weights entry '{entry}': {name} is listed twice")
                seen.add(name)
                selected.add(name)
                out = params[name].type.get_shape()[0]
                n = ceil(Fraction(ratio_s) * out)  # exact: 0.14 of 50 is 7, not 8
                if n < out:
                    channels[name] = list(range(n))
        selected -= stats
        if not selected:
            raise _fail(f"mode {self.mode} selects no parameter")
        for name, p in params.items():
            p.trainable = UnitAttr() if name in selected else None
            if name in channels:
                p.attributes["channels"] = DenseArrayBase.from_list(i64, channels[name])
            else:
                p.attributes.pop("channels", None)
