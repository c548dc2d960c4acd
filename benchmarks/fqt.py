"""Fully quantized training experiments (issue: FQT and dynamic partial updates).

    python benchmarks/fqt.py full      [--epochs 3] [--limit N]   # fp32 vs u8 vs mixed, MNIST + Fashion-MNIST
    python benchmarks/fqt.py transfer  [--epochs 2]               # fp32 pretrain on MNIST, fine-tune last 2 layers on Fashion-MNIST
    python benchmarks/fqt.py partial   [--epochs 1] [--steps 20]  # λmin = 1.0 / 0.5 / 0.1: backward MACs, M4 instructions, accuracy
    python benchmarks/fqt.py m4        [--steps 5] [--variants u8,u8-pc]  # Cortex-M4 instructions per step of each variant

Every run trains with the generated C (host build through ctypes; per-sample SGD, samples
reshuffled each epoch, seed 0) on the full datasets in ../shared/datasets, and prints a
markdown table (results also written as JSON to build/bench-fqt-<experiment>.json). The
instruction figures are QEMU -icount instruction counts on an emulated Cortex-M4, not cycles.
In `partial` the emulated steps continue the host run: its final weights, quantization
ranges, loss max and step counter (replayed in the reference interpreter, checked loss by
loss against the C run) are baked into the Cortex-M4 build as initial values, the build
trains on the samples the host run would take next, and its losses must equal the
interpreter's continuing from the same state, bit for bit; `--steps 0` skips all this.

The CNN (the paper does not publish its exact net; "4 trainable layers"):
conv 1→16 3x3 s2 + ReLU, conv 16→32 3x3 s2 + ReLU, dense 1568→64 + ReLU, dense 64→10.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from odtc.compiler import api, builder
from odtc.compiler.config import config_from_dict
from odtc.compiler.data import Dataset, load_dataset
from odtc.runtime import fqt

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
LR = 0.02
PAPER = {  # Deutel et al. TCAD 2024, Fashion-MNIST, small CNN trained from scratch (u8 / mixed / fp32)
    "fashion-mnist": {"fp32": 84.0, "mixed": 79.9, "u8": 76.1},
}
VARIANTS = {
    "fp32": {},
    "u8": {"quantize": {"scheme": "u8-asym"}},
    "mixed": {"quantize": {"scheme": "u8-asym", "errors": "f32"}},
    # not in the default set (--variants s8,s8-e16,u8-e16): int16 error tensors
    "s8": {"quantize": {"scheme": "s8-sym"}},
    "s8-e16": {"quantize": {"scheme": "s8-sym", "errors": "int16"}},
    "u8-e16": {"quantize": {"scheme": "u8-asym", "errors": "int16"}},
    # per-channel weights (one scale / zero-point per output channel; --variants u8-pc,s8-pc)
    "u8-pc": {"quantize": {"scheme": "u8-asym", "weights": "per-channel"}},
    "s8-pc": {"quantize": {"scheme": "s8-sym", "weights": "per-channel"}},
}
DEFAULT_VARIANTS = ("fp32", "u8", "mixed")


def cnn(init: dict[str, np.ndarray] | None = None):
    m = builder.Sequential(
        (1, 1, 28, 28),
        [
            builder.Conv2d(16, 3, stride=2, padding=1, name="conv1"), builder.ReLU(),
            builder.Conv2d(32, 3, stride=2, padding=1, name="conv2"), builder.ReLU(),
            builder.Flatten(),
            builder.Dense(64, name="fc1"), builder.ReLU(),
            builder.Dense(10, name="fc2"),
        ],
        seed=0,
    ).build()
    if init:
        set_params(m, init)
    return m


def set_params(module, values: dict[str, np.ndarray]) -> None:
    from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, TensorType, f32

    from odtc.dialects import qtrain

    for op in list(module.ops):
        if isinstance(op, qtrain.ParamOp) and op.sym_name.data in values:
            v = np.asarray(values[op.sym_name.data], np.float32).reshape(op.type.get_shape())
            op.properties["init"] = DenseIntOrFPElementsAttr.from_list(TensorType(f32, list(v.shape)), v.ravel().tolist())


def dataset(name: str, limit: int | None) -> Dataset:
    path = DATASETS / name
    if not path.is_dir():
        sys.exit(f"{path} not found: the experiments read ../shared/datasets")
    ds = load_dataset(str(path))
    if limit:
        ds = Dataset(ds.name, ds.x_train[:limit], ds.y_train[:limit], ds.x_test, ds.y_test)
    return ds


def run(module, cfg: dict, ds: Dataset, epochs: int, build: Path, target: str = "host") -> tuple[api.TrainReport, dict]:
    res = api.compile_model(module, config_from_dict(cfg), build, target)
    t = time.perf_counter()
    rep = api.train(build, ds, epochs=epochs, seed=0)
    print(f"  {build.name}: {[round(100 * a, 2) for a in rep.epoch_accuracies]} % "
          f"({time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)
    return rep, res.memory


def full(args: argparse.Namespace, tmp: Path) -> list[dict]:
    rows = []
    for dname in args.datasets.split(","):
        ds = dataset(dname, args.limit)
        for var in args.variants.split(","):
            extra = VARIANTS[var]
            cfg = {"train": {"learning_rate": LR}, **extra}
            rep, mem = run(cnn(), cfg, ds, args.epochs, tmp / f"{dname}-{var}")
            rows.append({
                "dataset": dname, "variant": var,
                "accuracy_per_epoch": [round(100 * a, 2) for a in rep.epoch_accuracies],
                "ram_bytes": mem["ram_bytes"], "arena_bytes": mem["arena_bytes"],
                "trainable_weights_bytes": mem["trainable_weights_bytes"],
                "quantization_state_bytes": mem["quantization_state_bytes"],
                "paper": PAPER.get(dname, {}).get(var),
            })
    print("| dataset | variant | test accuracy per epoch (%) | RAM (B) | arena (B) | weights (B) | quant. state (B) | paper (%) |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['dataset']} | {r['variant']} | {' / '.join(f'{a:.2f}' for a in r['accuracy_per_epoch'])} | "
              f"{r['ram_bytes']:,} | {r['arena_bytes']:,} | {r['trainable_weights_bytes']:,} | "
              f"{r['quantization_state_bytes']:,} | {r['paper'] if r['paper'] is not None else '–'} |")
    return rows


def m4(args: argparse.Namespace, tmp: Path) -> list[dict]:
    """Cortex-M4 instructions per training step of each variant: a cortex-m4 build of the CNN
    trains on the first --steps samples of the embedded MNIST subset under QEMU (seed 0)."""
    ds = load_dataset("mnist").limited(args.steps)
    rows = []
    for var in args.variants.split(","):
        cfg = {"train": {"learning_rate": LR}, **VARIANTS[var]}
        build = tmp / f"m4-{var}"
        res = api.compile_model(cnn(), config_from_dict(cfg), build, "cortex-m4")
        rep = api.train(build, ds, emulate=True, seed=0)
        print(f"  {build.name}: {rep.instructions_per_step:,} instructions/step", file=sys.stderr, flush=True)
        rows.append({"variant": var, "m4_instructions_per_step": rep.instructions_per_step, "steps": args.steps,
                     "arena_bytes": res.memory["arena_bytes"], "ram_bytes": res.memory["ram_bytes"]})
    print("| variant | Cortex-M4 instructions / step | steps | arena (B) | RAM (B) |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['variant']} | {r['m4_instructions_per_step']:,} | {r['steps']} | {r['arena_bytes']:,} | "
              f"{r['ram_bytes']:,} |")
    return rows


def transfer(args: argparse.Namespace, tmp: Path) -> list[dict]:
    mnist = dataset("mnist", args.limit)
    fashion = dataset("fashion-mnist", args.limit)
    pre, _ = run(cnn(), {"train": {"learning_rate": LR}}, mnist, args.epochs, tmp / "pretrain-fp32")
    rows = [{"stage": "pretrain fp32 on MNIST (host)", "variant": "fp32",
             "accuracy": round(100 * pre.test_accuracy, 2), "ram_bytes": None}]
    for var in DEFAULT_VARIANTS:
        extra = VARIANTS[var]
        cfg = {"train": {"learning_rate": LR, "mode": "last-k", "last_k": 2}, **extra}
        rep, mem = run(cnn(pre.params), cfg, fashion, args.epochs, tmp / f"finetune-{var}")
        rows.append({"stage": "fine-tune fc1+fc2 on Fashion-MNIST", "variant": var,
                     "accuracy": round(100 * rep.test_accuracy, 2), "ram_bytes": mem["ram_bytes"],
                     "arena_bytes": mem["arena_bytes"], "trainable_weights_bytes": mem["trainable_weights_bytes"]})
    print("| stage | variant | test accuracy (%) | RAM (B) |")
    print("|---|---|---:|---:|")
    for r in rows:
        print(f"| {r['stage']} | {r['variant']} | {r['accuracy']:.2f} | {r['ram_bytes'] if r['ram_bytes'] is None else format(r['ram_bytes'], ',')} |")
    return rows


def _mean_fraction(losses: list[float], lmin: float, lmax: float, n: int) -> float:
    """Mean k/N over a run, recomputed from its per-sample losses with the op's own formula."""
    emax = np.float32(0.0)
    total = 0.0
    for loss in losses:
        emax = fqt.running_max(emax, loss)
        total += int(fqt.topk_count(loss, emax, lmin, lmax, n)) / n
    return total / max(len(losses), 1)


def _host_state(build: Path, ds: Dataset, epochs: int, seed: int, losses: list[float]) -> dict[str, np.ndarray]:
    """Every parameter and state (weights, scales, zero-points, row ranges, activation and
    error ranges, step counter, loss max) after the host run, replayed in the reference
    interpreter: the device API exposes no quantization state, and the interpreter is
    bit-identical to the generated C (checked here loss by loss against the C run)."""
    from odtc.runtime.interpreter import init_state, run_function

    module = api.parse_module((build / "train_step.mlir").read_text())
    plan = api._make_plan(module, ds, epochs, seed)
    state = init_state(module, build)
    for i, (x, y) in enumerate(plan.train):
        loss = np.float32(run_function(module, "train_step", [x, y], state)[0])
        if loss != np.float32(losses[i]):
            raise RuntimeError(f"{build.name}: interpreter loss {loss} != C loss {losses[i]} at step {i}")
    return state


def _baked(state: dict[str, np.ndarray]):
    """compile_model after_each hook: from qtrain-quantize on (which creates the stored
    integer weights and the quantization states; qtrain-partial-update adds the loss max),
    every parameter and state named in `state` takes its value as initial value, so the
    build's odtc_init() starts where the host run ended. Returns the hook and the set of
    names it set (the caller checks that every one was)."""
    from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, TensorType

    from odtc.dialects import qtrain

    done: set[str] = set()
    started = [False]

    def hook(name: str, module) -> None:
        started[0] = started[0] or name == "qtrain-quantize"
        if not started[0]:
            return
        for op in module.ops:
            sym = op.sym_name.data if isinstance(op, qtrain.ParamOp | qtrain.StateOp) else None
            if sym in state and sym not in done:
                ty = op.init.type
                assert isinstance(ty, TensorType)
                v = np.asarray(state[sym]).reshape(-1)
                op.properties["init"] = DenseIntOrFPElementsAttr.from_list(ty, v.tolist())
                done.add(sym)

    return hook, done


def _next_samples(ds: Dataset, epochs: int, seed: int, n: int) -> Dataset:
    """The first n samples the host run would have trained on next: the start of epoch
    `epochs + 1` in api.train's order (one permutation per epoch from default_rng(seed)).
    Their test split (n samples) only keeps the emulator's evaluation short."""
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        rng.permutation(len(ds.x_train))
    idx = rng.permutation(len(ds.x_train))[:n]
    return Dataset(f"{ds.name} (next {n})", ds.x_train[idx], ds.y_train[idx], ds.x_test[:n], ds.y_test[:n])


def partial(args: argparse.Namespace, tmp: Path) -> list[dict]:
    from odtc.dialects import qtrain
    from odtc.runtime.interpreter import run_function
    from xdsl.dialects import func

    ds = dataset("mnist", args.limit)
    rows = []
    for lmin in (1.0, 0.5, 0.1):
        cfg = {"train": {"learning_rate": LR}, "quantize": {"scheme": "u8-asym"},
               "partial_update": {"lambda_min": lmin, "lambda_max": 1.0}}
        build = tmp / f"partial-{lmin}"
        rep, mem = run(cnn(), cfg, ds, args.epochs, build)
        # backward MACs: grad-input work is unchanged; each grad-weight does k of N rows
        planned = api.parse_module((build / "train_step.mlir").read_text())
        fn = next(o for o in planned.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "train_step")
        bwd = 0.0
        for op in fn.body.block.ops:
            m = api.op_macs(op)
            if isinstance(op, qtrain.QDenseGradWeightOp | qtrain.QConv2dGradWeightOp):
                n = qtrain.tensor_shape(op.weight_grad)[0]
                m *= _mean_fraction(rep.losses, lmin, 1.0, n) if lmin < 1.0 else 1.0
                bwd += m
            elif isinstance(op, qtrain.QDenseGradWeightSgdOp | qtrain.QConv2dGradWeightSgdOp):
                n = qtrain.tensor_shape(op.output_grad)[1]
                m *= _mean_fraction(rep.losses, lmin, 1.0, n) if lmin < 1.0 else 1.0
                bwd += m
            elif isinstance(op, api.QUANT_BACKWARD):
                bwd += m
        row = {"lambda_min": lmin, "accuracy": round(100 * rep.test_accuracy, 2),
               "backward_macs_per_sample": round(bwd), "m4_instructions_per_sample": None,
               "emulated_steps": args.steps, "emulated_fc1_k_fraction": None}
        if args.steps > 0:
            # Cortex-M4 steps from where the host run ended (weights, ranges, loss max, step
            # counter baked in as initial values), on the samples it would train on next
            t = time.perf_counter()
            state = _host_state(build, ds, args.epochs, 0, rep.losses)
            nxt = _next_samples(ds, args.epochs, 0, args.steps)
            m4 = tmp / f"partial-m4-{lmin}"
            hook, baked = _baked(state)
            api.compile_model(cnn(), config_from_dict(cfg), m4, "cortex-m4", after_each=hook)
            if baked != set(state):
                raise RuntimeError(f"not baked into the M4 build: {sorted(set(state) - baked)}")
            em = api.train(m4, nxt, emulate=True, seed=0)
            # the M4 steps == the interpreter continuing from the host state (bit for bit)
            module = api.parse_module((m4 / "train_step.mlir").read_text())
            cont_state = {k: v.copy() for k, v in state.items()}
            cont = [float(run_function(module, "train_step", [x, y], cont_state)[0])
                    for x, y in api._make_plan(module, nxt, 1, 0).train]
            if np.asarray(cont, np.float32).tobytes() != np.asarray(em.losses, np.float32).tobytes():
                raise RuntimeError(f"M4 losses {em.losses} != interpreter {cont} (λmin {lmin})")
            loss_max = state.get("partial.loss_max")
            frac = 1.0
            if loss_max is not None:  # mean k/N of fc1 over the emulated steps
                emax = np.float32(np.asarray(loss_max).reshape(-1)[0])
                ks = []
                for loss in em.losses:
                    emax = fqt.running_max(emax, loss)
                    ks.append(int(fqt.topk_count(loss, emax, lmin, 1.0, 64)) / 64)
                frac = float(np.mean(ks))
            row.update(m4_instructions_per_sample=em.instructions_per_step, emulated_fc1_k_fraction=round(frac, 3),
                       emulated_loss_max=None if loss_max is None else float(np.asarray(loss_max).reshape(-1)[0]),
                       emulated_from_step=int(np.asarray(state["qtrain.step"]).reshape(-1)[0]))
            print(f"  {m4.name}: {em.instructions_per_step:,} instructions/step over {args.steps} steps "
                  f"(fc1 k/N {frac:.3f}; {time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)
        rows.append(row)
    base = rows[0]

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.2f}×" if a and b else "–"

    print("| λmin (λmax = 1) | test accuracy (%) | backward MACs / sample | speed-up | "
          "Cortex-M4 instructions / sample | speed-up | fc1 k/N (emulated) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ins = r["m4_instructions_per_sample"]
        print(f"| {r['lambda_min']} | {r['accuracy']:.2f} | {r['backward_macs_per_sample']:,} | "
              f"{ratio(base['backward_macs_per_sample'], r['backward_macs_per_sample'])} | "
              f"{format(ins, ',') if ins else '–'} | {ratio(base['m4_instructions_per_sample'], ins)} | "
              f"{r['emulated_fc1_k_fraction'] if r['emulated_fc1_k_fraction'] is not None else '–'} |")
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", choices=("full", "transfer", "partial", "m4"))
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--limit", type=int, default=None, help="use only the first N training samples")
    p.add_argument("--steps", type=int, default=20,
                   help="partial: Cortex-M4 steps emulated after the host run, from its final state (0: none); "
                        "m4: steps emulated from the start on the embedded MNIST subset")
    p.add_argument("--datasets", default="mnist,fashion-mnist", help="full: comma-separated datasets")
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                   help=f"full: comma-separated variants of {', '.join(VARIANTS)} (default: %(default)s)")
    args = p.parse_args()
    if args.epochs is None:
        args.epochs = {"full": 3, "transfer": 2, "partial": 1, "m4": 1}[args.experiment]
    with tempfile.TemporaryDirectory() as t:
        rows = {"full": full, "transfer": transfer, "partial": partial, "m4": m4}[args.experiment](args, Path(t))
    out = ROOT / "build" / f"bench-fqt-{args.experiment}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
