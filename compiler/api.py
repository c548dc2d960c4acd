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
from xdsl.dialects.builtin import ModuleOp, f32
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
    """The lowered (ckern) module."""
    memory: dict[str, int] = field(default_factory=dict[str, int])


def memory_report(planned: ModuleOp, lowered: ModuleOp) -> dict[str, int]:
    """Bytes: the arena beside its lower bound and the naive keep-everything size, RAM and
    flash split by what they hold, and the activations saved for backward."""
    from odtc.compiler.emit_c import layout_of
    from odtc.passes.plan_buffers import buffers_of, lower_bound

    lay = layout_of(lowered)
    bound = naive = saved = 0
    for o in planned.ops:
        if isinstance(o, func.FuncOp):
            bufs = buffers_of(o)
            bound = max(bound, lower_bound(bufs, ALIGNMENT))
            naive = max(naive, sum((b.size + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT for b in bufs))
            if o.sym_name.data == "train_step":
                attr = o.attributes.get("qtrain.saved_activation_bytes")
                saved = int(attr.value.data) if attr is not None else 0  # type: ignore[attr-defined]
    return {
        "arena_bytes": lay.arena,
        "lower_bound_bytes": bound,
        "naive_bytes": naive,
        "ram_bytes": lay.ram,
        "flash_bytes": lay.frozen + lay.initial_values,
        "trainable_weights_bytes": lay.trainable,
        "state_bytes": lay.state,
        "frozen_weights_bytes": lay.frozen,
        "initial_values_bytes": lay.initial_values,
        "saved_activation_bytes": saved,
    }


def compile_model(
    model: str | Path | ModuleOp,
    config: Config | None = None,
    build_dir: str | Path = "build",
    target: str = "host",
    after_each: Callable[[str, ModuleOp], None] | None = None,
) -> CompileResult:
    """Compile `model` into BUILD: the C project (model.c, model.h, runtime/, target/,
    Makefile), `model.mlir` (input), `train_step.mlir` (qtrain IR with the buffer plan, the
    reference interpreter's input), `model.ckern.mlir` (the lowered IR), `pipeline.txt` and
    `memory.json`."""
    from odtc.compiler.build import write_build

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
    return CompileResult(build, pipeline, lowered, memory)


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
) -> TrainReport:
    """Run the compiled training step over the training split (reshuffled each epoch),
    evaluate on the test split, write BUILD/trained.npz (parameters by source name, source
    layout). Backends: "c" — the generated C, on host through libmodel.so or, with
    `emulate`, as model.elf on the build's Cortex-M target under QEMU (with instruction
    counts); "interpreter" — the reference interpreter on BUILD/train_step.mlir.
    `progress(epoch, step, steps_per_epoch, running_mean_loss)`."""
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
    ds = (load_dataset(data) if isinstance(data, str) else data).limited(limit)
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
        names = [o.sym_name.data for o in module.ops if isinstance(o, qtrain.ParamOp)]
        return (
            lambda x, y: float(run_function(module, "train_step", [x, y], state)[0]),
            lambda x: run_function(module, "forward", [x], state)[0],
            lambda: {n: state[n].copy() for n in names},
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
