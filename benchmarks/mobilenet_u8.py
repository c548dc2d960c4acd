"""MobileNetV2-w0.35 (128x128) with the Tiny Training Engine's "99 KB" sparse update, trained
fully quantized (examples/mobilenetv2_tte_sparse_u8.toml): compile for the host and the
Cortex-M4, run the generated C and the reference interpreter on the same random images and
check they give the same losses, then emulate one training step on the Cortex-M4.

    python benchmarks/mobilenet_u8.py [--build build/bench-mbv2-u8] [--steps 2]

Prints the memory report (bytes, from BUILD/memory.json), the losses of each backend, and
Cortex-M4 instructions per training step (QEMU -icount: instructions, not cycles). Compiling
takes about 2.5 minutes per target (the streaming and fusion choices measure the step's
peak for each candidate).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from odtc.compiler import api, builder
from odtc.compiler.config import load_config
from odtc.compiler.data import Dataset
from odtc.runtime.emulator import toolchain_available

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", type=Path, default=ROOT / "build" / "bench-mbv2-u8")
    p.add_argument("--steps", type=int, default=2, help="training steps compared between C and the interpreter")
    args = p.parse_args()
    cfg = load_config(ROOT / "examples" / "mobilenetv2_tte_sparse_u8.toml")
    rng = np.random.default_rng(0)
    x = rng.random((args.steps, 3, 128, 128), dtype=np.float32)
    y = rng.integers(0, 10, args.steps).astype(np.int32)
    ds = Dataset("random 3x128x128", x, y, x[:1], y[:1])
    targets = ["host"] + (["cortex-m4"] if toolchain_available() else [])
    for target in targets:
        t0 = time.perf_counter()
        api.compile_model(builder.mobilenetv2_w035(), cfg, args.build / target, target)
        print(f"compiled for {target} in {time.perf_counter() - t0:.0f} s", flush=True)
    memory = json.loads((args.build / "host" / "memory.json").read_text())
    for key in ("arena_bytes", "lower_bound_bytes", "ram_bytes", "trainable_weights_bytes", "quantization_state_bytes",
                "flash_bytes", "macs_forward", "macs_backward", "macs_recompute"):
        print(f"{key:28s} {memory[key]:>12,}")
    c = api.train(args.build / "host", ds, backend="c", seed=0)
    i = api.train(args.build / "host", ds, backend="interpreter", seed=0)
    print("losses, generated C:  ", [repr(v) for v in c.losses])
    print("losses, interpreter:  ", [repr(v) for v in i.losses])
    same = np.asarray(c.losses, np.float32).view(np.uint32).tolist() == \
        np.asarray(i.losses, np.float32).view(np.uint32).tolist()
    print("bit-identical:", same)
    if "cortex-m4" in targets:
        one = ds.limited(1)
        m = api.train(args.build / "cortex-m4", one, emulate=True, seed=0)
        h = api.train(args.build / "host", one, backend="c", seed=0)
        print("first step, Cortex-M4 (QEMU) / host C:", repr(m.losses[0]), "/", repr(h.losses[0]),
              "bit-identical:", np.float32(m.losses[0]).view(np.uint32) == np.float32(h.losses[0]).view(np.uint32))
        print(f"Cortex-M4 instructions per training step: {m.instructions_per_step:,}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
