"""odtc: the compiler driver.

    odtc compile MODEL [--config train.toml] [--target host] -o BUILD
    odtc compile --print-pipeline [--config train.toml]
    odtc train BUILD [--data mnist|DIR|FILE.npz] [--epochs N] [--limit N] [--emulate] [--json]
    odtc export BUILD (--torch state.pt | --onnx out.onnx [--from model.onnx])

Every user error ends in one line `odtc: error: ...` and exit status 1.
"""

import argparse
import json
import sys
from collections.abc import Sequence

from xdsl.dialects.builtin import ModuleOp

from odtc.compiler import api
from odtc.compiler.config import Config, ConfigError, load_config
from odtc.compiler.data import DataError
from odtc.compiler.pipeline import pipeline_string


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="odtc", description="odtc: the on-device training compiler")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compile", help="compile a model and its training step into BUILD")
    c.add_argument("model", nargs="?", help="model.mlir, model.onnx or file.py:factory")
    c.add_argument("--config", help="train.toml (default: the defaults in DESIGN.md)")
    c.add_argument("--target", default=None, choices=api.TARGETS,
                   help="default: [build] target of the config, else host")
    c.add_argument("-o", "--output", default="build", help="BUILD directory (default: build)")
    c.add_argument("--print-pipeline", action="store_true", help="print the pass pipeline string and exit")
    c.add_argument("--print-ir-after-all", action="store_true", help="dump the IR after every pass")
    c.add_argument("--init", metavar="WEIGHTS.npz",
                   help="initial values for the parameters named in this .npz (e.g. a previous build's trained.npz)")

    t = sub.add_parser("train", help="run the compiled training step on a dataset")
    t.add_argument("build", help="BUILD directory written by odtc compile")
    t.add_argument("--data", default="mnist", help="mnist (embedded subset), a directory of IDX files, or an .npz")
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--limit", type=int, default=None, help="use at most N training and N test samples")
    t.add_argument("--seed", type=int, default=0, help="shuffling seed")
    t.add_argument("--emulate", action="store_true", help="run model.elf under QEMU (Cortex-M builds)")
    t.add_argument("--backend", default="c", choices=api.BACKENDS,
                   help="c: the generated C (default); interpreter: the reference interpreter")
    t.add_argument("--timeout", type=float, default=3600, help="seconds the emulated run may take")
    t.add_argument("--json", action="store_true", help="end with one JSON line of results")
    t.add_argument("--labels-per-class", type=int, default=None, metavar="N",
                   help="train on the first N samples of each class only (few-label training)")

    e = sub.add_parser("export", help="write the trained weights (BUILD/trained.npz) back to PyTorch or ONNX")
    e.add_argument("build", help="BUILD directory trained by odtc train")
    fmt = e.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--torch", metavar="STATE.pt", help="a state_dict (torch.save) for module.load_state_dict")
    fmt.add_argument("--onnx", metavar="OUT.onnx", help="the source ONNX model with the trained initializers")
    e.add_argument("--from", dest="source", metavar="MODEL.onnx",
                   help="the ONNX model BUILD was compiled from (default: the path recorded at compile time)")
    return p


def _compile(args: argparse.Namespace) -> int:
    cfg: Config = load_config(args.config)
    if args.print_pipeline:
        print(pipeline_string(cfg))
        return 0
    if args.model is None:
        raise api.CompileError("compile needs a MODEL (model.mlir or file.py:factory)")

    def dump(name: str, module: ModuleOp) -> None:
        print(f"// -----// IR after {name} //----- //")
        print(api.module_text(module))

    target = args.target or cfg.build.target
    result = api.compile_model(
        args.model, cfg, args.output, target, dump if args.print_ir_after_all else None, init=args.init
    )
    mem = result.memory
    out = "libmodel.so" if target == "host" else "model.elf"
    print(f"compiled {args.model} for {target} -> {result.build_dir}/ (make -C {result.build_dir} builds {out})")
    if args.init is not None:
        print(f"initial weights from {args.init}: {', '.join(result.initialised)}")
    print(format_memory(mem))
    return 0


def format_memory(mem: dict[str, int]) -> str:
    """The memory report as printed by `odtc compile` (every figure is in BUILD/memory.json)."""
    rows = [
        ("RAM", mem["ram_bytes"], ""),
        ("  arena: activations, gradients, scratch", mem["arena_bytes"],
         f"lower bound {mem['lower_bound_bytes']}, naive {mem['naive_bytes']}"),
        ("  trainable weights", mem["trainable_weights_bytes"], ""),
        ("  optimizer state", mem.get("optimizer_state_bytes", mem["state_bytes"]), ""),
        ("  quantization state", mem.get("quantization_state_bytes", 0), ""),
        ("flash (without code)", mem["flash_bytes"] - mem.get("code_bytes", 0), ""),
        ("  frozen weights", mem["frozen_weights_bytes"], ""),
        ("  initial values of RAM data", mem["initial_values_bytes"], ""),
        ("read by the backward pass", mem["saved_activation_bytes"], "ReLU outputs counted as 1-bit masks"),
    ]
    lines = ["memory (bytes):"]
    for label, value, note in rows:
        lines.append(f"  {label:<42} {value:>10}" + (f"   ({note})" if note else ""))
    if "macs_forward" in mem:
        lines.append(
            f"  MACs per sample: forward {mem['macs_forward']}, backward {mem['macs_backward']}, "
            f"recompute {mem.get('macs_recompute', 0)}"
        )
    return "\n".join(lines)


def _train(args: argparse.Namespace) -> int:
    interactive = sys.stderr.isatty()

    def progress(epoch: int, step: int, total: int, loss: float) -> None:
        every = max(1, total // 10)
        if step % every == 0 or step == total:
            line = f"epoch {epoch + 1}/{args.epochs}  step {step:>6}/{total}  loss {loss:.4f}"
            print(("\r" + line) if interactive else line, end="" if interactive else "\n", file=sys.stderr)
            if interactive and step == total:
                print(file=sys.stderr)

    report = api.train(
        args.build, args.data, args.epochs, args.limit, args.seed, progress,
        backend=args.backend, emulate=args.emulate, timeout=args.timeout, labels_per_class=args.labels_per_class,
    )
    for i, (loss, acc) in enumerate(zip(report.epoch_losses, report.epoch_accuracies)):
        if acc == acc:
            print(f"epoch {i + 1}: mean train loss {loss:.4f}, test accuracy {acc * 100:.2f} %")
        else:  # a reconstruction loss (mse, elbo): labels are never read, there is no accuracy
            print(f"epoch {i + 1}: mean train loss {loss:.4f}")
    print(f"{report.steps} training steps ({report.backend}) in {report.seconds:.1f} s; "
          f"weights -> {args.build}/trained.npz")
    if report.instructions_per_step is not None:
        print(f"{report.instructions_per_step} instructions per training step (QEMU -icount; instructions, not cycles)")
    if args.json:
        print(json.dumps(report.as_json()))
    return 0


def _export(args: argparse.Namespace) -> int:
    from odtc.compiler import export

    if args.torch is not None:
        if args.source is not None:
            raise api.CompileError("--from goes with --onnx")
        n = export.export_torch(args.build, args.torch)
        print(f"wrote {n} parameters to {args.torch} (module.load_state_dict(torch.load('{args.torch}')))")
    else:
        n = export.export_onnx(args.build, args.onnx, args.source)
        print(f"wrote {args.onnx} with {n} trained initializers")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "compile":
            return _compile(args)
        if args.command == "export":
            return _export(args)
        return _train(args)
    except (api.CompileError, ConfigError, DataError, OSError) as exc:
        print(f"odtc: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
