"""odtc as a library: load a model, compile its training step, train it, read its weights.

Nothing here parses arguments, prints or exits; `odtc.tools.odtc` is the CLI on top.

    from odtc.compiler import api
    result = api.compile_model("model.mlir", api.load_config("train.toml"), "build/")
    report = api.train("build/", "mnist", epochs=1)

Until the C backend lands, `train` runs the compiled `@train_step` in the reference
interpreter (runtime/interpreter.py); the BUILD directory holds the IR the C will be made from.
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
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.passes import PassPipeline
from xdsl.printer import Printer
from xdsl.utils.exceptions import DiagnosticException, ParseError

from odtc.compiler.config import Config, ConfigError, load_config
from odtc.compiler.context import make_context
from odtc.compiler.data import DataError, Dataset, load_dataset
from odtc.compiler.pipeline import pipeline_string
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
    """`model.mlir` (qtrain IR) or `file.py:factory` (a function returning a ModuleOp)."""
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
            raise CompileError(f"{path} failed to import: {type(exc).__name__}: {exc}") from None
        factory = getattr(user, factory_name, None)
        if not callable(factory):
            raise CompileError(f"{path} has no function '{factory_name}'")
        module = factory()
        if not isinstance(module, ModuleOp):
            raise CompileError(
                f"{path}:{factory_name}() returned {type(module).__name__}, expected a ModuleOp "
                "(build it with odtc.compiler.builder; PyTorch modules need the torch frontend)"
            )
        return module
    path = Path(text)
    if path.suffix == ".mlir":
        if not path.is_file():
            raise CompileError(f"model file {path} does not exist")
        return parse_module(path.read_text(), str(path))
    if path.suffix == ".onnx":
        raise CompileError("ONNX import is not implemented yet; give a .mlir file or file.py:factory")
    raise CompileError(f"cannot read model '{text}': expected .mlir or file.py:factory")


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
    memory: dict[str, int] = field(default_factory=dict[str, int])


def memory_summary(module: ModuleOp) -> dict[str, int]:
    """Bytes of trainable params, frozen params, optimizer/other state and saved activations."""
    from odtc.passes.prune_frozen_backward import tensor_bytes

    trainable = frozen = state = 0
    for o in module.ops:
        if isinstance(o, qtrain.ParamOp):
            if o.is_trainable:
                trainable += tensor_bytes(o.type)
            else:
                frozen += tensor_bytes(o.type)
        elif isinstance(o, qtrain.StateOp):
            state += tensor_bytes(o.type)
    saved = 0
    for o in module.ops:
        if isinstance(o, func.FuncOp) and o.sym_name.data == "train_step":
            attr = o.attributes.get("qtrain.saved_activation_bytes")
            saved = int(attr.value.data) if attr is not None else 0  # type: ignore[attr-defined]
    return {
        "trainable_weights_bytes": trainable,
        "frozen_weights_bytes": frozen,
        "state_bytes": state,
        "saved_activation_bytes": saved,
    }


def compile_model(
    model: str | Path | ModuleOp,
    config: Config | None = None,
    build_dir: str | Path = "build",
    target: str = "host",
    after_each: Callable[[str, ModuleOp], None] | None = None,
) -> CompileResult:
    """Compile `model` into BUILD: `model.mlir` (input), `train_step.mlir` (after the pipeline),
    `pipeline.txt` and `memory.json`."""
    if target not in TARGETS:
        raise CompileError(f"unknown target '{target}' (expected one of: {', '.join(TARGETS)})")
    cfg = config or Config()
    module = model if isinstance(model, ModuleOp) else load_model(model)
    _check_single_sample(module)
    build = Path(build_dir)
    build.mkdir(parents=True, exist_ok=True)
    model_dir = Path(str(model).split(":", 1)[0]).parent if not isinstance(model, ModuleOp) else Path(".")
    _copy_npz_inits(module, model_dir, build)
    (build / "model.mlir").write_text(module_text(module))
    pipeline = pipeline_string(cfg)
    compiled = run_pipeline(module.clone(), pipeline, after_each)
    (build / "train_step.mlir").write_text(module_text(compiled))
    (build / "pipeline.txt").write_text(pipeline + "\n")
    memory = memory_summary(compiled)
    (build / "memory.json").write_text(json.dumps(memory, indent=2) + "\n")
    return CompileResult(build, pipeline, compiled, memory)


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
    instructions_per_step: int | None = None
    seconds: float = 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "steps": self.steps,
            "final_loss": self.final_loss,
            "test_accuracy": self.test_accuracy,
            "weights_sha256": self.weights_sha256,
            "instructions_per_step": self.instructions_per_step,
        }


def _fit_input(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if int(np.prod(x.shape)) != int(np.prod(shape)):
        raise DataError(f"a sample has shape {list(x.shape)}, which does not fit the model input {list(shape)}")
    return x.reshape(shape).astype(np.float32)


def train(
    build_dir: str | Path,
    data: str | Dataset = "mnist",
    epochs: int = 1,
    limit: int | None = None,
    seed: int = 0,
    progress: Callable[[int, int, int, float], None] | None = None,
) -> TrainReport:
    """Run the compiled training step over the training split, evaluate on the test split,
    write BUILD/trained.npz. `progress(epoch, step, steps_per_epoch, running_loss)`."""
    from odtc.runtime.interpreter import init_state, run_function

    build = Path(build_dir)
    ir = build / "train_step.mlir"
    if not ir.is_file():
        raise CompileError(f"{build} holds no compiled model (run odtc compile first)")
    if epochs < 1:
        raise DataError(f"--epochs must be >= 1, got {epochs}")
    module = parse_module(ir.read_text(), str(ir))
    fn = next(o for o in module.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "train_step")
    in_shape = qtrain.tensor_shape(fn.function_type.inputs.data[0])
    ds = (load_dataset(data) if isinstance(data, str) else data).limited(limit)
    state = init_state(module, build)
    rng = np.random.default_rng(seed)
    losses: list[float] = []
    accs: list[float] = []
    steps = 0
    loss = float("nan")
    t0 = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(len(ds.x_train))
        running = 0.0
        for i, idx in enumerate(order):
            x = _fit_input(ds.x_train[idx], in_shape)
            y = np.array([ds.y_train[idx]], dtype=np.int32)
            (out,) = run_function(module, "train_step", [x, y], state)
            loss = float(out)
            running += loss
            steps += 1
            if progress is not None:
                progress(epoch, i + 1, len(order), running / (i + 1))
        losses.append(running / max(1, len(order)))
        accs.append(evaluate(module, state, ds, in_shape))
    params = {o.sym_name.data: state[o.sym_name.data] for o in module.ops if isinstance(o, qtrain.ParamOp)}
    np.savez(build / "trained.npz", **params)
    digest = hashlib.sha256()
    for name in sorted(params):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(params[name], dtype=np.float32).tobytes())
    return TrainReport(
        steps=steps,
        final_loss=loss,
        test_accuracy=accs[-1],
        weights_sha256=digest.hexdigest(),
        epoch_losses=losses,
        epoch_accuracies=accs,
        seconds=time.perf_counter() - t0,
    )


def evaluate(module: ModuleOp, state: dict[str, np.ndarray], ds: Dataset, in_shape: tuple[int, ...]) -> float:
    from odtc.runtime.interpreter import run_function

    if len(ds.x_test) == 0:
        return float("nan")
    correct = 0
    for x, y in zip(ds.x_test, ds.y_test):
        (logits,) = run_function(module, "forward", [_fit_input(x, in_shape)], state)
        correct += int(np.argmax(logits[0]) == y)
    return correct / len(ds.x_test)
