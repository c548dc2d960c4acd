"""odtc as a library: load a model, compile its training step, train it, read its weights.

Nothing here parses arguments, prints or exits; `odtc.tools.odtc` is the CLI on top.

    from odtc.compiler import api
    result = api.compile_model("model.mlir", api.load_config("train.toml"), "build/")
    report = api.train("build/", "mnist", epochs=1)

`train` runs the generated C (host shared library, or the Cortex-M ELF under QEMU) or, as
a cross-check, the reference interpreter on the same compiled IR.
"""

import hashlib
import importlib.util
import io
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, SymbolRefAttr, f32
from xdsl.ir import Operation
from xdsl.parser import Parser
from xdsl.passes import PassPipeline
from xdsl.printer import Printer
from xdsl.utils.exceptions import DiagnosticException, ParseError

from odtc.compiler.config import Config, ConfigError, load_config
from odtc.compiler.context import make_context
from odtc.compiler.data import DataError, Dataset, load_dataset
from odtc.compiler.pipeline import ALIGNMENT, pipeline_string
from odtc.dialects import qtrain
from odtc.passes import get_all_passes

__all__ = [
    "CompileError",
    "CompileResult",
    "Config",
    "ConfigError",
    "DataError",
    "TrainReport",
    "compile_model",
    "load_config",
    "load_model",
    "parse_module",
    "run_pipeline",
    "memory_report",
    "add_code_size",
    "code_size",
    "train",
]

TARGETS = ("host", "cortex-m4", "cortex-m7", "cortex-m55")


class CompileError(ValueError):
    """The model cannot be compiled; the message says why and where."""


def parse_module(text: str, name: str = "<input>") -> ModuleOp:
    ctx = make_context()
    try:
        module = Parser(ctx, text, name).parse_module()
        module.verify()
    except ParseError as exc:
        raise CompileError(_first_line(exc)) from None
    except DiagnosticException as exc:
        raise CompileError(_first_line(exc)) from None
    return module


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(("^", "~"))]
    if isinstance(exc, ParseError) and len(useful) >= 2:
        return f"{useful[0]} {useful[-1]}"
    return useful[-1] if useful else type(exc).__name__


def load_model(spec: str | Path) -> ModuleOp:
    """`model.mlir` (qtrain IR), `model.onnx` (ONNX frontend), or `file.py:factory` where
    factory() returns a ModuleOp or a torch.nn.Module (PyTorch frontend; the input shape
    comes from the module's `example_input` or the file's `INPUT_SHAPE`)."""
    import sys

    text = str(spec)
    if ":" in text and text.split(":", 1)[0].endswith(".py"):
        path_s, factory_name = text.split(":", 1)
        path = Path(path_s)
        if not path.is_file():
            raise CompileError(f"model file {path} does not exist")
        mod_spec = importlib.util.spec_from_file_location(f"odtc_user_model_{path.stem}", path)
        assert mod_spec is not None and mod_spec.loader is not None
        user = importlib.util.module_from_spec(mod_spec)
        try:
            mod_spec.loader.exec_module(user)
        except Exception as exc:  # the user's file: report, don't crash
            if isinstance(exc, ModuleNotFoundError) and exc.name == "torch":
                raise CompileError(f"{path} imports torch, which is not installed: pip install torch") from None
            raise CompileError(f"{path} failed to import: {type(exc).__name__}: {_first_line(exc)}") from None
        factory = getattr(user, factory_name, None)
        if not callable(factory):
            raise CompileError(f"{path} has no function '{factory_name}'")
        try:
            module = factory()
        except Exception as exc:  # the user's code: report, don't crash
            raise CompileError(f"{path}:{factory_name}() failed: {type(exc).__name__}: {_first_line(exc)}") from None
        if isinstance(module, ModuleOp):
            return module
        torch = sys.modules.get("torch")  # only a file that imported torch can return a Module
        if torch is not None and isinstance(module, torch.nn.Module):
            from odtc.compiler.frontend_torch import import_torch_factory

            return import_torch_factory(module, user, f"{path}:{factory_name}")
        raise CompileError(
            f"{path}:{factory_name}() returned {type(module).__name__}, expected a ModuleOp "
            "(odtc.compiler.builder) or a torch.nn.Module"
        )
    path = Path(text)
    if path.suffix == ".mlir":
        if not path.is_file():
            raise CompileError(f"model file {path} does not exist")
        return parse_module(path.read_text(), str(path))
    if path.suffix == ".onnx":
        from odtc.compiler.frontend_onnx import import_onnx

        return import_onnx(path)
    raise CompileError(f"cannot read model '{text}': expected .mlir, .onnx or file.py:factory")


def run_pipeline(
    module: ModuleOp,
    pipeline: str,
    after_each: Callable[[str, ModuleOp], None] | None = None,
) -> ModuleOp:
    """Apply a pipeline string in place (the same string odtc-opt -p takes)."""
    ctx = make_context()

    def callback(prev: object, mod: ModuleOp, _next: object) -> None:
        mod.verify()
        if after_each is not None and prev is not None:
            after_each(getattr(prev, "name", "?"), mod)

    try:
        PassPipeline.parse_spec(get_all_passes(), pipeline, callback).apply(ctx, module)
        module.verify()
    except DiagnosticException as exc:
        raise CompileError(_first_line(exc)) from None
    return module


def module_text(module: ModuleOp) -> str:
    out = io.StringIO()
    Printer(stream=out).print_op(module)
    return out.getvalue() + "\n"


@dataclass
class CompileResult:
    build_dir: Path
    pipeline: str
    module: ModuleOp
    """The lowered (ckern) module."""
    memory: dict[str, int] = field(default_factory=dict[str, int])
    initialised: list[str] = field(default_factory=list[str])
    """Parameters whose initial values came from `init`."""


def memory_report(planned: ModuleOp, lowered: ModuleOp) -> dict[str, int]:
    """Bytes: the arena beside its lower bound and the naive keep-everything size, RAM and
    flash split by what they hold, and the activations saved for backward; and the
    multiply-accumulates of one training step per sample (`train_step_macs`).

    RAM (`ram_bytes`, the peak the device needs) = `arena_bytes` + `trainable_weights_bytes`
    + `optimizer_state_bytes` (momentum velocity, Adam moments and step, mini-batch
    accumulators and batch position) + `quantization_state_bytes` (run-time scales and
    zero-points, tracked ranges); `state_bytes` is the last two together.
    Flash = frozen weights + initial values of RAM arrays (+ `code_bytes` once a Cortex-M
    build exists: see add_code_size — the compile step does not run make)."""
    from odtc.compiler.emit_c import layout_of
    from odtc.passes.plan_buffers import buffers_of, lower_bound
    from odtc.passes.prune_frozen_backward import tensor_bytes

    lay = layout_of(lowered)
    bound = naive = saved = 0
    macs = {"forward": 0, "backward": 0, "recompute": 0}
    for o in planned.ops:
        if isinstance(o, func.FuncOp):
            bufs = buffers_of(o)
            bound = max(bound, lower_bound(bufs, ALIGNMENT))
            naive = max(naive, sum((b.size + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT for b in bufs))
            if o.sym_name.data == "train_step":
                attr = o.attributes.get("qtrain.saved_activation_bytes")
                saved = int(attr.value.data) if attr is not None else 0  # type: ignore[attr-defined]
                macs = train_step_macs(o)
    # run-time quantization state: the states qtrain-quantize / qtrain-partial-update create
    # (scales, zero-points, tracked ranges, the rounding-stream step, the largest loss)
    quantization_state = sum(
        tensor_bytes(o.type) for o in planned.ops
        if isinstance(o, qtrain.StateOp) and "qtrain.quantization" in o.attributes
    )
    return {
        "arena_bytes": lay.arena,
        "lower_bound_bytes": bound,
        "naive_bytes": naive,
        "ram_bytes": lay.ram,
        "flash_bytes": lay.frozen + lay.initial_values,
        "trainable_weights_bytes": lay.trainable,
        "optimizer_state_bytes": lay.state - quantization_state,
        "quantization_state_bytes": quantization_state,
        "state_bytes": lay.state,
        "frozen_weights_bytes": lay.frozen,
        "initial_values_bytes": lay.initial_values,
        "saved_activation_bytes": saved,
        "macs_forward": macs["forward"],
        "macs_backward": macs["backward"],
        "macs_recompute": macs["recompute"],
    }


def op_macs(op: Operation) -> int:
    """Multiply-accumulates of one conv/dense-family op (0 for every other op). A conv
    (and its grad-input) does N·O·OH·OW·(C/groups)·KH·KW, a dense N·O·K; a grad-weight does
    the same per output channel it computes, so a sparse update (`channels`) counts only
    the selected rows."""
    shape = qtrain.tensor_shape
    if isinstance(op, qtrain.QConv2dAccOp):
        n, o, oh, ow = shape(op.output)
        _, cg, kh, kw = shape(op.weight)
        return n * o * oh * ow * cg * kh * kw
    if isinstance(op, qtrain.QConv2dGradInputOp | qtrain.QConv2dGradInputStreamOp):
        n, o, oh, ow = shape(op.output_grad)
        _, cg, kh, kw = shape(op.weight)
        return n * o * oh * ow * cg * kh * kw
    if isinstance(op, qtrain.QConv2dGradWeightOp):  # all rows: the worst case of a selection
        n, _, oh, ow = shape(op.output_grad)
        rows, cg, kh, kw = shape(op.weight_grad)
        return n * rows * oh * ow * cg * kh * kw
    if isinstance(op, qtrain.QDenseAccOp):
        n, k = shape(op.input)
        return n * k * shape(op.weight)[0]
    if isinstance(op, qtrain.QDenseGradWeightSgdOp):  # all rows: the worst case of a selection
        n, k = shape(op.input)
        return n * k * shape(op.output_grad)[1]
    if isinstance(op, qtrain.QConv2dGradWeightSgdOp):
        n, o, oh, ow = shape(op.output_grad)
        w = op.param_type()
        assert w is not None, f"{op.name}: {op.param} is not a qtrain.param"
        _, cg, kh, kw = w.get_shape()
        return n * o * oh * ow * cg * kh * kw
    if isinstance(op, qtrain.QDenseGradInputOp):
        n, k = shape(op.input_grad)
        return n * k * shape(op.weight)[0]
    if isinstance(op, qtrain.QDenseGradWeightOp):
        n, k = shape(op.input)
        return n * k * shape(op.weight_grad)[0]
    if isinstance(op, qtrain.Conv2dOp | qtrain.QConv2dOp):
        n, o, oh, ow = shape(op.output)
        _, cg, kh, kw = shape(op.weight)
        return n * o * oh * ow * cg * kh * kw
    if isinstance(op, qtrain.Conv2dGradInputOp):
        n, o, oh, ow = shape(op.output_grad)
        _, cg, kh, kw = shape(op.weight)
        return n * o * oh * ow * cg * kh * kw
    if isinstance(op, qtrain.Conv2dGradWeightOp):
        n, _, oh, ow = shape(op.output_grad)
        rows, cg, kh, kw = shape(op.weight_grad)
        return n * rows * oh * ow * cg * kh * kw
    if isinstance(op, qtrain.QConv2dAccStreamOp):
        n, _, h, w = shape(op.input)
        o, cg, kh, kw = shape(op.weight)
        oh, ow = qtrain.conv_output_hw((h, w), (kh, kw), tuple(int(v) for v in op.stride.get_values()),
                                       tuple(int(v) for v in op.padding.get_values()))
        return n * o * oh * ow * cg * kh * kw
    if isinstance(op, qtrain.QConv2dPwDwStreamOp):
        return sum(fused_stream_macs(op))
    if isinstance(op, qtrain.QConvTranspose2dGradWeightOp):
        n, c, h, w = shape(op.input)
        _, o, kh, kw = shape(op.weight_grad)
        return n * c * h * w * o * kh * kw
    if isinstance(op, qtrain.QConvTranspose2dGradWeightSgdOp):
        n, c, h, w = shape(op.input)
        wt = op.param_type()
        assert wt is not None, f"{op.name}: {op.param} is not a qtrain.param"
        _, o, kh, kw = wt.get_shape()
        return n * c * h * w * o * kh * kw
    if isinstance(op, qtrain.ConvTranspose2dOp | qtrain.QConvTranspose2dAccOp
                  | qtrain.QConvTranspose2dAccStreamOp):  # each input element meets Cout*KH*KW taps
        n, c, h, w = shape(op.input)
        _, o, kh, kw = shape(op.weight)
        return n * c * h * w * o * kh * kw
    if isinstance(op, qtrain.ConvTranspose2dGradInputOp):  # the adjoint: the same count
        n, c, h, w = shape(op.input_grad)
        _, o, kh, kw = shape(op.weight)
        return n * c * h * w * o * kh * kw
    if isinstance(op, qtrain.DenseOp | qtrain.QDenseOp):
        n, k = shape(op.input)
        return n * k * shape(op.weight)[0]
    if isinstance(op, qtrain.DenseGradInputOp):
        n, k = shape(op.input_grad)
        return n * k * shape(op.weight)[0]
    if isinstance(op, qtrain.DenseGradWeightOp):
        n, k = shape(op.input)
        return n * k * shape(op.weight_grad)[0]
    if isinstance(op, qtrain.DenseGradWeightSgdOp):  # the grad-weight's MACs (+ one per element)
        n, k = shape(op.input)
        ch = op.channels
        return n * k * (shape(op.output_grad)[1] if ch is None else len(ch.get_values()))
    if isinstance(op, qtrain.Conv2dGradWeightSgdOp):
        n, o, oh, ow = shape(op.output_grad)
        cg = shape(op.input)[1] // op.groups.value.data
        w = op.param_type()
        assert w is not None, f"{op.name}: {op.param} is not a qtrain.param"
        _, _, kh, kw = w.get_shape()
        rows = o if op.channels is None else len(op.channels.get_values())
        return n * rows * oh * ow * cg * kh * kw
    return 0


def fused_stream_macs(op: qtrain.QConv2dPwDwStreamOp) -> tuple[int, int]:
    """(first conv, depthwise conv) MACs of a fused conv -> depthwise stream."""
    n, e, h1, w1 = op.h_shape()
    _, c, kh1, kw1 = qtrain.tensor_shape(op.weight1)
    _, _, oh, ow = op.out_shape()
    _, _, kh2, kw2 = qtrain.tensor_shape(op.weight2)
    return n * e * h1 * w1 * c * kh1 * kw1, n * e * oh * ow * kh2 * kw2


QUANT_BACKWARD = (qtrain.QConv2dGradInputOp, qtrain.QConv2dGradWeightOp, qtrain.QDenseGradInputOp,
                  qtrain.QDenseGradWeightOp, qtrain.QDenseGradWeightSgdOp, qtrain.QConv2dGradWeightSgdOp,
                  qtrain.QConvTranspose2dGradWeightOp, qtrain.QConvTranspose2dGradWeightSgdOp)


def train_step_macs(fn: func.FuncOp) -> dict[str, int]:
    """MACs per sample of a @train_step: `forward` (the forward ops, once), `backward` (the
    grad-input and grad-weight ops) and `recompute` (ops qtrain-insert-checkpoints marked
    `qtrain.recompute`: forward work done again instead of keeping activations; and the
    requantizing pass of a streamed accumulator, qtrain-stream-accumulators)."""
    out = {"forward": 0, "backward": 0, "recompute": 0}
    batch = qtrain.tensor_shape(fn.function_type.inputs.data[0])[0] if fn.function_type.inputs.data else 1
    for op in fn.body.block.ops:
        m = op_macs(op)
        if not m:
            continue
        if isinstance(op, qtrain.QConv2dPwDwStreamOp):  # its first conv was computed by h's range stream
            first, depthwise = fused_stream_macs(op)
            out["recompute"] += first + (depthwise if not op.is_range else 0)
            out["forward"] += depthwise if op.is_range else 0
            continue
        if "qtrain.recompute" in op.attributes or (
            isinstance(op, qtrain.QConv2dAccStreamOp | qtrain.QConvTranspose2dAccStreamOp
                       | qtrain.QConv2dGradInputStreamOp) and not op.is_range
        ):  # a streamed accumulator's second pass (its first gave the range) is recomputation
            out["recompute"] += m
        elif isinstance(op, (*qtrain.BACKWARD_OPS, *qtrain.FUSED_UPDATE_OPS, *QUANT_BACKWARD)) or (
            "qtrain.backward" in op.attributes  # e.g. a conv_transpose2d's input gradient as qconv2d_acc
        ):
            out["backward"] += m
        else:
            out["forward"] += m
    return {k: v // max(batch, 1) for k, v in out.items()}


def code_size(build_dir: str | Path) -> dict[str, int]:
    """Code size of a Cortex-M build after `make -C BUILD` (the compile step does not run
    make): `code_bytes`, the machine code of the model and its kernels (the `.text*` input
    sections the linker kept from model.o and the runtime kernel objects, read from
    BUILD/model.map), and `elf_code_bytes`, the `.text` section of the whole BUILD/model.elf
    by `arm-none-eabi-size -A` (adds the startup code, the QEMU training harness and the
    newlib pieces it pulls in, e.g. printf for semihosting). Empty when there is no
    model.elf/model.map or no arm-none-eabi-size."""
    import re
    import subprocess

    build = Path(build_dir)
    elf, mapfile = build / "model.elf", build / "model.map"
    tool = shutil.which("arm-none-eabi-size")
    if not elf.is_file() or not mapfile.is_file() or tool is None:
        return {}
    proc = subprocess.run([tool, "-A", "-d", str(elf)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {}
    sections = dict(
        (m.group(1), int(m.group(2))) for m in re.finditer(r"^(\.\S+)\s+(\d+)\s+\d+\s*$", proc.stdout, re.M)
    )
    harness = {"startup.o", "odtc_platform.o", "odtc_train_main.o"}
    code = 0
    text = mapfile.read_text()
    start = text.find("Linker script and memory map")
    # " .text.name  0xADDR  0xSIZE obj/<target>/file.o", the name alone on its line when long
    entry = re.compile(r"^ (\.text\S*)(?:\s*\n)?\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)$", re.M)
    for m in entry.finditer(text, max(start, 0)):
        obj = m.group(3)
        if obj.startswith("obj/") and obj.endswith(".o") and Path(obj).name not in harness:
            code += int(m.group(2), 16)
    return {"code_bytes": code, "elf_code_bytes": sections.get(".text", 0)}


def add_code_size(build_dir: str | Path) -> dict[str, int]:
    """Add code_size() to BUILD/memory.json (flash_bytes then includes code_bytes) and
    return the report; unchanged when there is no Cortex-M build to measure."""
    build = Path(build_dir)
    path = build / "memory.json"
    memory: dict[str, int] = json.loads(path.read_text())
    sizes = code_size(build)
    if sizes:
        memory.update(sizes)
        memory["flash_bytes"] = memory["frozen_weights_bytes"] + memory["initial_values_bytes"] + sizes["code_bytes"]
        path.write_text(json.dumps(memory, indent=2) + "\n")
    return memory


def compile_model(
    model: str | Path | ModuleOp,
    config: Config | None = None,
    build_dir: str | Path = "build",
    target: str = "host",
    after_each: Callable[[str, ModuleOp], None] | None = None,
    init: str | Path | None = None,
) -> CompileResult:
    """Compile `model` into BUILD: the C project (model.c, model.h, runtime/, target/,
    Makefile), `model.mlir` (input), `train_step.mlir` (qtrain IR with the buffer plan, the
    reference interpreter's input), `model.ckern.mlir` (the lowered IR), `pipeline.txt` and
    `memory.json`. `init`: an .npz (e.g. another build's trained.npz) whose arrays replace
    the initial values of the parameters of the same name (a second training phase that
    starts from a first phase's weights)."""
    from odtc.compiler.build import write_build

    if target not in TARGETS:
        raise CompileError(f"unknown target '{target}' (expected one of: {', '.join(TARGETS)})")
    cfg = config or Config()
    module = model if isinstance(model, ModuleOp) else load_model(model)
    _check_single_sample(module)
    initialised = apply_initial_weights(module, init) if init is not None else []
    build = Path(build_dir)
    build.mkdir(parents=True, exist_ok=True)
    model_dir = Path(str(model).split(":", 1)[0]).parent if not isinstance(model, ModuleOp) else Path(".")
    _copy_npz_inits(module, model_dir, build)
    (build / "model.mlir").write_text(module_text(module))
    pipeline = pipeline_string(cfg)
    snapshots: dict[str, str] = {}

    def capture(name: str, mod: ModuleOp) -> None:
        if name == "qtrain-plan-buffers":
            snapshots["planned"] = module_text(mod)
        if after_each is not None:
            after_each(name, mod)

    lowered = run_pipeline(module.clone(), pipeline, capture)
    planned = parse_module(snapshots["planned"])
    (build / "train_step.mlir").write_text(snapshots["planned"])
    (build / "model.ckern.mlir").write_text(module_text(lowered))
    (build / "pipeline.txt").write_text(pipeline + "\n")
    try:
        write_build(lowered, build, target, build)
    except DiagnosticException as exc:
        raise CompileError(_first_line(exc)) from None
    memory = memory_report(planned, lowered)
    (build / "memory.json").write_text(json.dumps(memory, indent=2) + "\n")
    return CompileResult(build, pipeline, lowered, memory, initialised)


def apply_initial_weights(module: ModuleOp, path: str | Path) -> list[str]:
    """Replace the initial values of the parameters named in the .npz at `path` (source
    names, source layout, float32); returns the names replaced. Arrays for names the model
    does not have are ignored (a classifier built on a VAE's encoder takes the encoder's
    weights and leaves the decoder's); a shape mismatch, a non-float parameter, or no
    matching name at all is an error."""
    from odtc.compiler.builder import dense_attr

    p = Path(path)
    if not p.is_file():
        raise CompileError(f"--init: {p} does not exist")
    try:
        arrays = dict(np.load(p))
    except (OSError, ValueError) as exc:
        raise CompileError(f"--init: {p} is not an .npz file ({exc})") from None
    params = {o.sym_name.data: o for o in module.ops if isinstance(o, qtrain.ParamOp)}
    done: list[str] = []
    for name, value in arrays.items():
        param = params.get(name)
        if param is None:
            continue
        shape = tuple(param.type.get_shape())
        if tuple(value.shape) != shape:
            raise CompileError(
                f"--init: {p}['{name}'] has shape {list(value.shape)} but the model's @{name} is {list(shape)}"
            )
        if param.type.element_type != f32:
            raise CompileError(f"--init: @{name} has element type {param.type.element_type}; only f32 parameters load")
        param.properties["init"] = dense_attr(np.asarray(value, dtype=np.float32))
        done.append(name)
    if not done:
        raise CompileError(
            f"--init: none of the {len(arrays)} arrays in {p} names a parameter of the model "
            f"(model parameters: {', '.join(list(params)[:8])}{', ...' if len(params) > 8 else ''})"
        )
    return done


def _copy_npz_inits(module: ModuleOp, src: Path, build: Path) -> None:
    """Parameters initialised from .npz files: copy each file next to the compiled IR."""
    for o in module.ops:
        if isinstance(o, qtrain.ParamOp | qtrain.StateOp) and isinstance(o.init, qtrain.NpzAttr):
            rel = Path(o.init.path.data)
            source = rel if rel.is_absolute() else src / rel
            if not source.is_file():
                raise CompileError(f"@{o.sym_name.data}: initial value file {source} does not exist")
            if not rel.is_absolute():
                (build / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, build / rel)


def _check_single_sample(module: ModuleOp) -> None:
    fwd = next((o for o in module.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "forward"), None)
    if fwd is None:
        raise CompileError("the model has no func.func @forward")
    ins = list(fwd.function_type.inputs)
    if len(ins) != 1:
        raise CompileError(f"@forward must take exactly one input, takes {len(ins)}")
    shape = qtrain.tensor_shape(ins[0])
    if not shape or shape[0] != 1:
        raise CompileError(
            f"@forward's input must have batch size 1 (the device trains one sample per step), got shape {list(shape)}"
        )


@dataclass
class TrainReport:
    steps: int
    final_loss: float
    test_accuracy: float
    weights_sha256: str
    epoch_losses: list[float]
    epoch_accuracies: list[float]
    backend: str
    losses: list[float] = field(default_factory=list[float])
    instructions_per_step: int | None = None
    seconds: float = 0.0
    params: dict[str, np.ndarray] = field(default_factory=dict[str, np.ndarray])

    def as_json(self) -> dict[str, object]:
        return {
            "steps": self.steps,
            "final_loss": self.final_loss,
            "test_accuracy": self.test_accuracy,
            "weights_sha256": self.weights_sha256,
            "instructions_per_step": self.instructions_per_step,
        }


BACKENDS = ("c", "interpreter")


def _fit_input(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if int(np.prod(x.shape)) != int(np.prod(shape)):
        raise DataError(f"a sample has shape {list(x.shape)}, which does not fit the model input {list(shape)}")
    return x.reshape(shape).astype(np.float32)


@dataclass
class _Plan:
    """What to train on, in order: the same sequence for every backend, so their results can
    be compared bit for bit."""

    train: list[tuple[np.ndarray, np.ndarray]]
    test: list[tuple[np.ndarray, int]]
    steps_per_epoch: int
    epochs: int


def _make_plan(module: ModuleOp, ds: Dataset, epochs: int, seed: int) -> _Plan:
    fn = next(o for o in module.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "train_step")
    in_shape = qtrain.tensor_shape(fn.function_type.inputs.data[0])
    tgt_type = fn.function_type.inputs.data[1]
    tgt_shape = qtrain.tensor_shape(tgt_type)
    classification = qtrain.element_type(tgt_type) != f32
    rng = np.random.default_rng(seed)
    train: list[tuple[np.ndarray, np.ndarray]] = []
    for _ in range(epochs):
        for idx in rng.permutation(len(ds.x_train)):
            x = _fit_input(ds.x_train[idx], in_shape)
            if classification:
                y = np.full(tgt_shape, ds.y_train[idx], dtype=np.int32)
            else:  # regression targets (mse): reconstruct the input, as an autoencoder would
                y = _fit_input(ds.x_train[idx], tgt_shape)
            train.append((x, y))
    test = [(_fit_input(x, in_shape), int(y)) for x, y in zip(ds.x_test, ds.y_test)] if classification else []
    return _Plan(train, test, len(ds.x_train), epochs)


def _digest(params: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(params):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(params[name], dtype=np.float32).tobytes())
    return digest.hexdigest()


def train(
    build_dir: str | Path,
    data: str | Dataset = "mnist",
    epochs: int = 1,
    limit: int | None = None,
    seed: int = 0,
    progress: Callable[[int, int, int, float], None] | None = None,
    backend: str = "c",
    emulate: bool = False,
    timeout: float = 3600,
    labels_per_class: int | None = None,
    on_trained: Callable[[Callable[[np.ndarray], np.ndarray]], None] | None = None,
) -> TrainReport:
    """Run the compiled training step over the training split (reshuffled each epoch),
    evaluate on the test split, write BUILD/trained.npz (parameters by source name, source
    layout). Backends: "c" — the generated C, on host through libmodel.so or, with
    `emulate`, as model.elf on the build's Cortex-M target under QEMU (with instruction
    counts); "interpreter" — the reference interpreter on BUILD/train_step.mlir.
    `progress(epoch, step, steps_per_epoch, running_mean_loss)`. `labels_per_class`: train
    on the first N samples of each class only (applied after `limit`). `on_trained(infer)`
    is called after the last step with `odtc_infer` of the trained model (not with
    `emulate`), e.g. to look at a VAE's reconstructions."""
    build = Path(build_dir)
    ir = build / "train_step.mlir"
    if not ir.is_file():
        raise CompileError(f"{build} holds no compiled model (run odtc compile first)")
    if epochs < 1:
        raise DataError(f"--epochs must be >= 1, got {epochs}")
    if limit is not None and limit < 1:
        raise DataError(f"--limit must be >= 1, got {limit}")
    if backend not in BACKENDS:
        raise CompileError(f"unknown backend '{backend}' (expected one of: {', '.join(BACKENDS)})")
    module = parse_module(ir.read_text(), str(ir))
    ds = (load_dataset(data) if isinstance(data, str) else data).limited(limit).labelled_per_class(labels_per_class)
    plan = _make_plan(module, ds, epochs, seed)
    param_names = [o.sym_name.data for o in module.ops if isinstance(o, qtrain.ParamOp)]
    param_shapes = {o.sym_name.data: tuple(o.type.get_shape()) for o in module.ops if isinstance(o, qtrain.ParamOp)}
    t0 = time.perf_counter()
    instructions: int | None = None
    if emulate:
        if backend != "c":
            raise CompileError("--emulate runs the generated C; it cannot be combined with the interpreter backend")
        losses, correct, params, instructions = _train_emulated(build, plan, param_names, param_shapes, timeout)
        for i, loss in enumerate(losses):
            if progress is not None:
                e, k = divmod(i, plan.steps_per_epoch)
                progress(e, k + 1, plan.steps_per_epoch, float(np.mean(losses[e * plan.steps_per_epoch : i + 1])))
        accs = [correct / len(plan.test) if plan.test else float("nan")] * epochs
    else:
        step_fn, infer_fn, read_params = _backend(build, module, backend)
        losses = []
        accs = []
        for i, (x, y) in enumerate(plan.train):
            losses.append(step_fn(x, y))
            e, k = divmod(i, plan.steps_per_epoch)
            if progress is not None:
                progress(e, k + 1, plan.steps_per_epoch, float(np.mean(losses[e * plan.steps_per_epoch : i + 1])))
            if k + 1 == plan.steps_per_epoch:
                accs.append(_accuracy(infer_fn, plan.test))
        params = read_params()
        if on_trained is not None:
            on_trained(infer_fn)
    params = {n: params[n].reshape(param_shapes[n]) for n in param_names}
    np.savez(build / "trained.npz", **params)
    epoch_losses = [
        float(np.mean(losses[e * plan.steps_per_epoch : (e + 1) * plan.steps_per_epoch])) for e in range(epochs)
    ]
    return TrainReport(
        steps=len(losses),
        final_loss=losses[-1] if losses else float("nan"),
        test_accuracy=accs[-1],
        weights_sha256=_digest(params),
        epoch_losses=epoch_losses,
        epoch_accuracies=accs,
        backend=f"{backend}{' (emulated)' if emulate else ''}",
        losses=losses,
        instructions_per_step=instructions,
        seconds=time.perf_counter() - t0,
        params=params,
    )


def _accuracy(infer: Callable[[np.ndarray], np.ndarray], test: list[tuple[np.ndarray, int]]) -> float:
    if not test:
        return float("nan")
    correct = sum(int(np.argmax(infer(x).reshape(-1)) == y) for x, y in test)
    return correct / len(test)


def param_view(param: qtrain.ParamOp, state: dict[str, np.ndarray]) -> np.ndarray:
    """A parameter as float32, like the device API's odtc_param_read: quantized parameters
    (qtrain-quantize puts `qtrain.scale`/`qtrain.zero_point` on them) are dequantized as
    scale * (float)(q - zero_point), one f32 multiply (runtime/reference.py rule 2), with
    the row's scale and zero-point for per-channel weights."""
    name = param.sym_name.data
    if not isinstance(param.type.element_type, qtrain.QuantType):
        return np.asarray(state[name], dtype=np.float32).copy()
    s_ref = param.attributes.get("qtrain.scale")
    z_ref = param.attributes.get("qtrain.zero_point")
    if not isinstance(s_ref, SymbolRefAttr) or not isinstance(z_ref, SymbolRefAttr):
        raise CompileError(f"quantized parameter @{name} names no qtrain.scale/qtrain.zero_point state")
    s = np.asarray(state[s_ref.root_reference.data], dtype=np.float32).reshape(-1)
    z = np.asarray(state[z_ref.root_reference.data], dtype=np.int64).reshape(-1)
    q = np.asarray(state[name], dtype=np.int64)
    if s.size > 1:  # per output channel (axis 0): one scale and zero-point per row
        shape = (-1,) + (1,) * (q.ndim - 1)
        return (s.reshape(shape) * (q - z.reshape(shape)).astype(np.float32)).astype(np.float32)
    return (s[0] * (q - z[0]).astype(np.float32)).astype(np.float32)


def _backend(
    build: Path, module: ModuleOp, backend: str
) -> tuple[
    Callable[[np.ndarray, np.ndarray], float],
    Callable[[np.ndarray], np.ndarray],
    Callable[[], dict[str, np.ndarray]],
]:
    if backend == "interpreter":
        from odtc.runtime.interpreter import init_state, run_function

        state = init_state(module, build)
        params = [o for o in module.ops if isinstance(o, qtrain.ParamOp)]
        return (
            lambda x, y: float(run_function(module, "train_step", [x, y], state)[0]),
            lambda x: run_function(module, "forward", [x], state)[0],
            lambda: {o.sym_name.data: param_view(o, state) for o in params},
        )
    from odtc.runtime.host import BuildError, HostModel, Shapes, make

    fn = next(o for o in module.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "train_step")
    fwd = next(o for o in module.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "forward")
    tgt_elt = qtrain.element_type(fn.function_type.inputs.data[1])
    shapes = Shapes(
        qtrain.tensor_shape(fn.function_type.inputs.data[0]),
        qtrain.tensor_shape(fn.function_type.inputs.data[1]),
        qtrain.tensor_shape(fwd.function_type.outputs.data[0]),
        np.float32,
        np.float32 if tgt_elt == f32 else np.int32,
    )
    try:
        so = make(build, "host")
    except BuildError as exc:
        raise CompileError(str(exc)) from None
    model = HostModel(so, shapes)
    return model.train_step, model.infer, model.params


def _train_emulated(
    build: Path,
    plan: _Plan,
    names: list[str],
    shapes: dict[str, tuple[int, ...]],
    timeout: float,
) -> tuple[list[float], int, dict[str, np.ndarray], int | None]:
    from odtc.runtime.host import BuildError, make, run_emulated, write_data_bin

    target = _build_target(build)
    if target == "host":
        raise CompileError(f"{build} was compiled for host; --emulate needs --target cortex-m4, cortex-m7 or cortex-m55")
    in_numel = int(np.prod(plan.train[0][0].shape)) if plan.train else 0
    tgt_numel = int(np.prod(plan.train[0][1].shape)) if plan.train else 0
    tgt_dtype = "<f4" if plan.train and plan.train[0][1].dtype == np.float32 else "<i4"
    write_data_bin(build / "data.bin", plan.train, plan.test, in_numel, tgt_numel, tgt_dtype)
    try:
        make(build, target)
        add_code_size(build)  # memory.json gains the model's code bytes (arm-none-eabi-size)
        run = run_emulated(build, target, [int(np.prod(shapes[n])) for n in names], timeout)
    except BuildError as exc:
        raise CompileError(str(exc)) from None
    per_step = round(run.instructions_total / len(run.losses)) if run.instructions_total and run.losses else None
    return run.losses, run.correct, dict(zip(names, run.params)), per_step


def _build_target(build: Path) -> str:
    for line in (build / "Makefile").read_text().splitlines():
        if line.startswith("ODTC_TARGET ?="):
            return line.split("=", 1)[1].strip()
    return "host"
