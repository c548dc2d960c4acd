"""Memory of the training step for the reference workloads: the planner against its lower
bound, with and without qtrain-schedule (and under a memory budget, when
qtrain-insert-checkpoints is registered). Compile only: nothing is built or trained.

    python benchmarks/memory.py [--budget-fraction 0.75] [--json]

Columns (bytes; fp32 except the u8 rows — activations, gradients, weights and optimizer
state):
  naive      every buffer of @train_step in its own place (keep everything)
  bound      the largest total of simultaneously live buffers for that op order: no
             placement of that schedule can use less
  arena      the planned arena (qtrain-plan-buffers), and arena / bound
  peak RAM   arena + trainable weights + optimizer state + quantization state (u8 only):
             what the device needs in RAM; frozen weights stay in flash
  budget     with memory.budget_bytes = fraction x the scheduled bound: the arena and peak
             RAM qtrain-insert-checkpoints + qtrain-schedule reach (or why not)
The second table splits the scheduled bound into the forward part (ops before the loss)
and the backward part (the loss and after), which is what scheduling and checkpointing
act on, and gives MACs per sample.

MobileNetV2-w0.35 is REFERENCES.md §3's (compiler/builder.py mobilenetv2_w035, 128x128, 10
classes); "TTE sparse" is its "99 KB" sparse-update scheme (builder.TTE_SPARSE_99KB).
"""

import argparse
import json
import re
import sys
import time
from collections.abc import Callable

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp

from odtc.compiler import api, builder
from odtc.compiler.config import Config, config_from_dict
from odtc.compiler.pipeline import ALIGNMENT, pipeline_string
from odtc.dialects import qtrain
from odtc.passes import get_all_passes
from odtc.passes.plan_buffers import buffers_of

SPARSE = dict(builder.TTE_SPARSE_99KB)
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "examples"))
import vae as vae_example  # noqa: E402  (examples/vae.py)

WORKLOADS: dict[str, tuple[Callable[[], ModuleOp], dict]] = {
    "MNIST MLP 784-64-10, SGD": (builder.mnist_mlp, {}),
    "MNIST CNN, SGD": (builder.mnist_cnn, {}),
    "MNIST CNN, Adam, batch 4": (builder.mnist_cnn, {"train": {"optimizer": "adam", "batch_size": 4}}),
    "VAE (examples/vae.py), elbo, SGD": (vae_example.vae, {"train": {"loss": "elbo", "learning_rate": 0.0005}}),
    "VAE, u8, accumulators >= 8 kB streamed": (vae_example.vae, {
        "train": {"loss": "elbo", "learning_rate": 0.0005}, "quantize": {"scheme": "u8-asym"},
        "memory": {"stream_accumulator_bytes": 8192}}),
    "MobileNetV2-w0.35 128x128, last 1": (builder.mobilenetv2_w035, {"train": {"mode": "last-k", "last_k": 1}}),
    "MobileNetV2-w0.35 128x128, last 4": (builder.mobilenetv2_w035, {"train": {"mode": "last-k", "last_k": 4}}),
    "MobileNetV2-w0.35 128x128, TTE sparse": (builder.mobilenetv2_w035, {"train": SPARSE}),
    "MobileNetV2-w0.35 128x128, full": (builder.mobilenetv2_w035, {}),
    "MobileNetV2-w0.35 128x128, TTE sparse, u8, accumulators >= 8 kB streamed": (builder.mobilenetv2_w035, {
        "train": SPARSE, "quantize": {"scheme": "u8-asym"}, "memory": {"stream_accumulator_bytes": 8192}}),
}


def _train_step(module: ModuleOp) -> func.FuncOp:
    return next(o for o in module.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "train_step")


def phase_bounds(fn: func.FuncOp) -> tuple[int, int]:
    """(forward, backward) peak of live aligned bytes: ops before the loss, and from it on."""
    ops = list(fn.body.block.ops)
    loss = next(i for i, o in enumerate(ops) if isinstance(o, qtrain.LOSS_OPS))
    live = [0] * (len(ops) + 1)
    for b in buffers_of(fn):
        for t in range(b.first, b.last + 1):
            live[t] += (b.size + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
    return max(live[:loss], default=0), max(live[loss:], default=0)


def compile_report(factory: Callable[[], ModuleOp], cfg: Config, schedule: bool = True) -> dict[str, object]:
    """The memory report of one compile (no C written), plus the phase bounds and time."""
    pipeline = pipeline_string(cfg)
    if not schedule:
        pipeline = ",".join(p for p in pipeline.split(",") if not p.startswith("qtrain-schedule"))
    planned_pipeline, _, _ = pipeline.rpartition(",convert-qtrain-to-c")
    t0 = time.perf_counter()
    planned = api.run_pipeline(factory(), planned_pipeline)
    lowered = api.run_pipeline(planned.clone(), "convert-qtrain-to-c")
    seconds = time.perf_counter() - t0
    report: dict[str, object] = dict(api.memory_report(planned, lowered))
    fwd, bwd = phase_bounds(_train_step(planned))
    report.update(forward_bound_bytes=fwd, backward_bound_bytes=bwd, compile_seconds=round(seconds, 2))
    return report


def _kb(n: object) -> str:
    return f"{int(n) / 1000:,.1f}"  # type: ignore[call-overload]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget-fraction", type=float, default=0.75,
                   help="memory.budget_bytes = this x the scheduled lower bound (default 0.75)")
    p.add_argument("--json", action="store_true", help="also print one JSON line per workload to stderr")
    args = p.parse_args()
    have_checkpoints = "qtrain-insert-checkpoints" in get_all_passes()
    rows = []
    for name, (factory, data) in WORKLOADS.items():
        cfg = config_from_dict(data)
        off = compile_report(factory, cfg, schedule=False)
        on = compile_report(factory, cfg, schedule=True)
        budget: dict[str, object] | str | None = None
        budget_bytes = int(args.budget_fraction * int(on["lower_bound_bytes"]))  # type: ignore[call-overload]
        if have_checkpoints:
            try:
                budget = compile_report(factory, config_from_dict({**data, "memory": {**data.get("memory", {}), "budget_bytes": budget_bytes}}))
            except api.CompileError as exc:
                budget = str(exc)
        rows.append((name, off, on, budget_bytes, budget))
        if args.json:
            print(json.dumps({"workload": name, "unscheduled": off, "scheduled": on,
                              "budget_bytes": budget_bytes, "budget": budget}), file=sys.stderr)

    print("Training-step memory, fp32 unless the row says u8, kB = 1000 bytes (compile only: "
          "`python benchmarks/memory.py`)")
    print()
    head = "| workload | naive | bound | arena | arena/bound | peak RAM | bound | arena | arena/bound | peak RAM |"
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if have_checkpoints:
        head += f" peak RAM, budget {args.budget_fraction:g} x bound |"
        sep += "---|"
    print("| | | without qtrain-schedule | | | | with qtrain-schedule | | | |" + (" |" if have_checkpoints else ""))
    print(head)
    print(sep)
    for name, off, on, budget_bytes, budget in rows:
        cells = [name, _kb(off["naive_bytes"])]
        for r in (off, on):
            ratio = int(r["arena_bytes"]) / max(int(r["lower_bound_bytes"]), 1)  # type: ignore[call-overload]
            cells += [_kb(r["lower_bound_bytes"]), _kb(r["arena_bytes"]), f"{ratio:.4f}", _kb(r["ram_bytes"])]
        if have_checkpoints:
            if isinstance(budget, dict):
                cells.append(f"{_kb(budget['ram_bytes'])} (budget {_kb(budget_bytes)}, arena {_kb(budget['arena_bytes'])}, "
                             f"+{int(budget['macs_recompute']):,} MACs)")  # type: ignore[call-overload]
            else:
                m = re.search(r"smallest feasible peak is (\d+) bytes", str(budget))
                cells.append(f"budget {_kb(budget_bytes)} infeasible" + (f" (minimum {_kb(m.group(1))})" if m else f": {budget}"))
        print("| " + " | ".join(cells) + " |")
    print()
    print("| workload (with qtrain-schedule) | forward bound | backward bound | saved for backward | trainable weights "
          "| optimizer state | MACs forward | MACs backward |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, off, on, _, _ in rows:
        print(f"| {name} | {_kb(on['forward_bound_bytes'])} | {_kb(on['backward_bound_bytes'])} "
              f"(was {_kb(off['backward_bound_bytes'])}) | {_kb(on['saved_activation_bytes'])} "
              f"| {_kb(on['trainable_weights_bytes'])} | {_kb(on['optimizer_state_bytes'])} "
              f"| {int(on['macs_forward']):,} | {int(on['macs_backward']):,} |")  # type: ignore[call-overload]
    tte = {name: on for name, _, on, _, _ in rows if "TTE sparse" in name}
    if tte:
        print()
        print("| MobileNetV2-w0.35, TTE sparse, batch 1, 128x128 | arena | forward / backward bound | peak RAM |")
        print("|---|---:|---:|---:|")
        for name, on in tte.items():
            kind = "u8 (fully quantized training)" if "u8" in name else "fp32"
            print(f"| odtc, {kind}, measured (compile-time plan) | {_kb(on['arena_bytes'])} "
                  f"| {_kb(on['forward_bound_bytes'])} / {_kb(on['backward_bound_bytes'])} | {_kb(on['ram_bytes'])} |")
        print("| TTE (Lin et al. 2022), int8, measured on STM32F746: sparse / sparse + reorder | | | 335 / 141 |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
