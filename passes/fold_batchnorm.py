"""qtrain-fold-batchnorm: fold frozen batch normalisation into the convolution before it.

Invariant established: no `qtrain.batchnorm` remains whose input is the only use of a
`qtrain.conv2d` with a frozen weight (and frozen bias, if any) and whose gamma, beta, mean
and var are all frozen params. Each such pair becomes one conv2d over new frozen params
`@<weight>_bnfold` and `@<bias>_bnfold` (`@<weight>_bnfold_b` when the conv had no bias);
the old params are removed when nothing
else loads them. Batch norms with a trainable operand are kept (their parameters must stay
separate to be trained). Folding reassociates f32 arithmetic, so the interpreted result
matches to f32 precision, not bit for bit.

    %y = qtrain.conv2d %x, %w, %b ...          %y = qtrain.conv2d %x, %wf, %bf ...
    %z = qtrain.batchnorm %y, %g, %be, %m, %v   wf = w·g/√(v+ε),  bf = (b−m)·g/√(v+ε) + be
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, ModuleOp, TensorType, f32
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from odtc.dialects import qtrain


def _frozen_param(value: SSAValue | None, params: dict[str, qtrain.ParamOp]) -> qtrain.ParamOp | None:
    if value is None or not isinstance(value.owner, qtrain.LoadOp):
        return None
    param = params.get(value.owner.symbol.root_reference.data)
    return param if param is not None and not param.is_trainable else None


def _param_array(param: qtrain.ParamOp, base_dir: Path) -> np.ndarray:
    shape = tuple(param.type.get_shape())
    init = param.init
    name = param.sym_name.data
    if isinstance(init, DenseIntOrFPElementsAttr):
        values = np.asarray(init.get_values(), dtype=np.float32)
        return np.broadcast_to(values, shape).copy() if values.size == 1 else values.reshape(shape)
    assert isinstance(init, qtrain.NpzAttr)
    path = base_dir / init.path.data
    key = init.key.data
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = np.asarray(npz[key])
    except Exception as exc:  # missing file or key, not an .npz, corrupt: all one message
        raise PassFailedException(
            f"qtrain-fold-batchnorm: cannot read the initial value of @{name} "
            f"from {path} key '{key}' ({type(exc).__name__})"
        ) from None
    if data.shape != shape:
        raise PassFailedException(
            f"qtrain-fold-batchnorm: @{name}: array '{key}' in {path} has shape {list(data.shape)}, "
            f"expected {list(shape)}"
        )
    return data.astype(np.float32)


def _dense(values: np.ndarray) -> DenseIntOrFPElementsAttr:
    ty = TensorType(f32, list(values.shape))
    return DenseIntOrFPElementsAttr.from_list(ty, values.astype(np.float32).ravel().tolist())


def _fresh(name: str, taken: set[str]) -> str:
    candidate, i = name, 1
    while candidate in taken:
        candidate, i = f"{name}_{i}", i + 1
    taken.add(candidate)
    return candidate


@dataclass(frozen=True)
class FoldBatchnormPass(ModulePass):
    """Fold frozen batchnorm into the frozen conv2d that feeds it."""

    name = "qtrain-fold-batchnorm"

    base_dir: str = ""
    """Directory that `#qtrain.npz` paths are relative to (default: current directory)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        base = Path(self.base_dir or ".")
        params = {o.sym_name.data: o for o in op.ops if isinstance(o, qtrain.ParamOp)}
        taken = {o.sym_name.data for o in op.ops if isinstance(o, qtrain.ParamOp | qtrain.StateOp)}
        touched: set[str] = set()
        rewriter = Rewriter()
        for bn in [o for o in op.walk() if isinstance(o, qtrain.BatchNormOp)]:
            conv = bn.input.owner
            if not isinstance(conv, qtrain.Conv2dOp) or not conv.output.has_one_use():
                continue
            w_p = _frozen_param(conv.weight, params)
            b_p = _frozen_param(conv.bias, params)
            bn_ps = [_frozen_param(v, params) for v in (bn.gamma, bn.beta, bn.mean, bn.var)]
            if w_p is None or (conv.bias is not None and b_p is None) or any(p is None for p in bn_ps):
                continue
            g, be, m, v = (_param_array(p, base) for p in bn_ps if p is not None)
            w = _param_array(w_p, base)
            b = _param_array(b_p, base) if b_p is not None else np.zeros_like(m)
            factor = (g / np.sqrt(v + np.float32(bn.epsilon.value.data))).astype(np.float32)
            w_f = (w * factor[:, None, None, None]).astype(np.float32)
            b_f = ((b - m) * factor + be).astype(np.float32)

            w_name = _fresh(w_p.sym_name.data + "_bnfold", taken)
            b_name = _fresh((b_p or w_p).sym_name.data + ("_bnfold" if b_p else "_bnfold_b"), taken)
            w_type = TensorType(f32, list(w.shape))
            b_type = TensorType(f32, [w.shape[0]])
            rewriter.insert_op(
                [
                    qtrain.ParamOp(w_name, w_type, _dense(w_f), trainable=False),
                    qtrain.ParamOp(b_name, b_type, _dense(b_f), trainable=False),
                ],
                InsertPoint.after(w_p),
            )
            lw, lb = qtrain.LoadOp(w_name, w_type), qtrain.LoadOp(b_name, b_type)
            new_conv = qtrain.Conv2dOp(
                conv.input,
                lw.result,
                lb.result,
                conv.stride.get_values(),  # type: ignore[arg-type]
                conv.padding.get_values(),  # type: ignore[arg-type]
                conv.groups.value.data,
            )
            rewriter.insert_op([lw, lb, new_conv], InsertPoint.before(conv))
            rewriter.replace_op(bn, [], [new_conv.output])
            rewriter.erase_op(conv)
            touched.update(p.sym_name.data for p in (w_p, b_p, *bn_ps) if p is not None)
        if touched:
            _drop_dead(op, touched)


def _drop_dead(module: ModuleOp, candidates: set[str]) -> None:
    """Erase loads of folded params that lost their uses, then params nobody loads."""
    for o in list(module.walk()):
        if (
            isinstance(o, qtrain.LoadOp)
            and o.symbol.root_reference.data in candidates
            and not o.result.uses
        ):
            Rewriter.erase_op(o)
    still_used = {
        o.symbol.root_reference.data for o in module.walk() if isinstance(o, qtrain.LoadOp | qtrain.StoreOp)
    }
    for o in list(module.ops):
        if isinstance(o, qtrain.ParamOp) and o.sym_name.data in candidates - still_used:
            Rewriter.erase_op(o)
