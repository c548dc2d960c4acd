"""Trained weights back to the framework: `odtc export BUILD --torch state.pt | --onnx out.onnx`.

Reads BUILD/trained.npz (written by `odtc train`) and BUILD/model.mlir (the imported model,
written by `odtc compile`). Every parameter of model.mlir is exported: its trained value when
trained.npz has it, else its initial value (a parameter folded away by
qtrain-fold-batchnorm was frozen, so its initial value is its final one); derived params
(`*_bnfold`) are not source parameters and are left out.

- `--torch`: `torch.save({name: tensor})`, keys = `named_parameters()` / buffer keys, so
  `module.load_state_dict(torch.load(path))` restores the trained module (BatchNorm running
  statistics included; BatchNorm fills in its own `num_batches_tracked`, so even the strict
  load matches every key).
- `--onnx`: the source ONNX graph with the trained initializers replaced (by name; params
  stored transposed, `odtc.transposed`, are transposed back). The source is the file the
  model was compiled from (recorded in model.mlir with its sha256) or `source=`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import StringAttr

from odtc.compiler.api import CompileError, parse_module
from odtc.compiler.frontend_onnx import SOURCE_ATTR, SOURCE_SHA_ATTR, TRANSPOSED_ATTR, require_onnx
from odtc.dialects import qtrain


class ExportError(CompileError):
    """The build cannot be exported; one line saying what to do."""


def _load_build(build: Path) -> tuple[dict[str, np.ndarray], dict[str, bool], dict[str, str]]:
    """(parameter values, transposed flags, module attributes) of BUILD."""
    from odtc.runtime.interpreter import init_state

    model_ir = build / "model.mlir"
    if not model_ir.is_file():
        raise ExportError(f"{build} holds no compiled model (run odtc compile first)")
    trained_path = build / "trained.npz"
    if not trained_path.is_file():
        raise ExportError(f"{trained_path} does not exist: run odtc train first")
    module = parse_module(model_ir.read_text(), str(model_ir))
    params = [o for o in module.ops if isinstance(o, qtrain.ParamOp)]
    initial = init_state(module, build)
    try:
        with np.load(trained_path, allow_pickle=False) as npz:
            trained = {k: np.asarray(npz[k], dtype=np.float32) for k in npz.files}
    except Exception as exc:  # truncated or not an npz: one line
        raise ExportError(f"{trained_path} cannot be read ({type(exc).__name__}): run odtc train again") from None
    values: dict[str, np.ndarray] = {}
    for p in params:
        name = p.sym_name.data
        shape = tuple(p.type.get_shape())
        v: np.ndarray = trained[name] if name in trained else initial[name]
        if int(np.prod(v.shape)) != int(np.prod(shape)):
            raise ExportError(f"{trained_path}: '{name}' has shape {list(v.shape)} but the model's is {list(shape)}")
        values[name] = np.ascontiguousarray(v, dtype=np.float32).reshape(shape)
    transposed = {p.sym_name.data: TRANSPOSED_ATTR in p.attributes for p in params}
    attrs = {k: v.data for k, v in module.attributes.items() if isinstance(v, StringAttr)}
    return values, transposed, attrs


def trained_params(build: str | Path) -> dict[str, np.ndarray]:
    """Every source parameter of BUILD by name, trained values where trained (qtrain layout)."""
    return _load_build(Path(build))[0]


def export_torch(build: str | Path, out: str | Path) -> int:
    """Write a PyTorch state_dict of the trained parameters; returns how many."""
    try:
        import torch
    except ImportError:
        raise ExportError("odtc: --torch export needs torch: pip install torch") from None
    values = _load_build(Path(build))[0]
    # qtrain's layouts are PyTorch's (OIHW, Linear [out, in]): no conversion
    sd = {name: torch.from_numpy(v.copy()) for name, v in values.items()}
    torch.save(sd, str(out))
    return len(sd)


def export_onnx(build: str | Path, out: str | Path, source: str | Path | None = None) -> int:
    """Write the source ONNX model with the trained initializers; returns how many replaced."""
    onnx = require_onnx()
    from onnx import numpy_helper

    build = Path(build)
    values, transposed, attrs = _load_build(build)
    if source is None:
        recorded = attrs.get(SOURCE_ATTR)
        if recorded is None or not recorded.endswith(".onnx"):
            raise ExportError(f"{build} was not compiled from an .onnx file; give the original with --from model.onnx")
        src = Path(recorded)
        if not src.is_file():
            raise ExportError(f"the source model {src} is gone; give it with --from model.onnx")
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        if attrs.get(SOURCE_SHA_ATTR) not in (None, digest):
            raise ExportError(f"the source model {src} changed since odtc compile; give the original with --from model.onnx")
    else:
        src = Path(source)
        if not src.is_file():
            raise ExportError(f"source model {src} does not exist")
    try:
        model = onnx.load(str(src))
    except Exception as exc:  # protobuf decode errors have no common base class
        raise ExportError(f"{src} is not a valid ONNX model ({type(exc).__name__})") from None
    by_name = {init.name: init for init in model.graph.initializer}
    constants = {n.output[0]: n for n in model.graph.node if n.op_type == "Constant" and n.output}
    replaced = 0
    for name, v in values.items():
        arr = v.T if transposed[name] else v
        if name in by_name:
            target = by_name[name]
            dims = list(target.dims)
        elif name in constants:
            attr = next((a for a in constants[name].attribute if a.name == "value"), None)
            if attr is None:
                raise ExportError(f"ONNX Constant '{name}' holds no tensor 'value'; cannot write the trained parameter")
            target = attr.t
            dims = list(target.dims)
        else:
            raise ExportError(f"parameter '{name}' is not an initializer of {src}; was the model compiled from it?")
        if int(np.prod(dims)) != arr.size:
            raise ExportError(f"parameter '{name}' has {arr.size} values but initializer '{name}' in {src} has shape {dims}")
        if target.data_type != onnx.TensorProto.FLOAT:
            raise ExportError(f"initializer '{name}' in {src} is not float32")
        target.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(arr.reshape(dims), dtype=np.float32), name=target.name))
        replaced += 1
    onnx.save(model, str(out))
    return replaced
