"""Instructions per training sample on an emulated Cortex-M4, and the memory of each build.

    python benchmarks/train_m4.py [--steps 20] [--target cortex-m4] [--only TEXT]

Compiles each workload for the target, trains it for --steps samples of the embedded MNIST
subset under QEMU (-icount shift=6; SysTick read around every odtc_train_step) and prints a
markdown table. The figures are QEMU instruction counts, not cycles.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

from odtc.compiler import api
from odtc.compiler.builder import mnist_cnn, mnist_mlp
from odtc.compiler.config import config_from_dict

WORKLOADS = {
    "MNIST MLP 784-64-10, fp32, SGD": (mnist_mlp, {}),
    "MNIST CNN (2 conv + 2 dense), fp32, SGD": (mnist_cnn, {}),
    "MNIST CNN, fp32, last layer only": (mnist_cnn, {"train": {"mode": "last-k", "last_k": 1}}),
    "MNIST CNN, fp32, bias-only": (mnist_cnn, {"train": {"mode": "bias-only"}}),
    "MNIST CNN, fp32, Adam, batch 4": (mnist_cnn, {"train": {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 4}}),
    "MNIST CNN, u8 (fully quantized), SGD": (mnist_cnn, {"quantize": {"scheme": "u8-asym"}}),
    "MNIST CNN, mixed (u8, f32 errors), SGD": (mnist_cnn, {"quantize": {"scheme": "u8-asym", "errors": "f32"}}),
    "MNIST CNN, u8, partial update λmin 0.1": (
        mnist_cnn, {"quantize": {"scheme": "u8-asym"}, "partial_update": {"lambda_min": 0.1, "lambda_max": 1.0}}),
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--target", default="cortex-m4", choices=("cortex-m4", "cortex-m7", "cortex-m55"))
    p.add_argument("--only", default="", help="run only the workloads whose name contains this text")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (factory, cfg) in WORKLOADS.items():
            if args.only not in name:
                continue
            build = Path(tmp) / name.replace(" ", "_").replace(",", "").replace("/", "")
            res = api.compile_model(factory(), config_from_dict(cfg), build, args.target)
            rep = api.train(build, "mnist", limit=args.steps, emulate=True)
            mem = res.memory
            rows.append((name, rep.instructions_per_step, mem))
            print(json.dumps({"workload": name, "instructions_per_step": rep.instructions_per_step, **mem}),
                  file=sys.stderr)
    print(f"| workload ({args.target}, {args.steps} steps) | instructions / sample | arena B | lower bound B "
          "| trainable weights B | state B (optimizer + quantization) | RAM B |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, ins, m in rows:
        print(f"| {name} | {ins:,} | {m['arena_bytes']:,} | {m['lower_bound_bytes']:,} | "
              f"{m['trainable_weights_bytes']:,} | {m['state_bytes']:,} | {m['ram_bytes']:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
