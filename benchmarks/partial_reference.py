"""Is the accuracy cost of dynamic partial updates the method's or the quantization's?

    python benchmarks/partial_reference.py [--limit 20000] [--lambdas 1.0,0.1] [--seeds 0,1,2]

For each λmin and data order (seed), trains the benchmark CNN of benchmarks/fqt.py for one
epoch of the first `limit` MNIST samples, per-sample SGD at fqt.py's lr, two ways:

* u8: the generated C (host build) of qtrain-quantize + qtrain-partial-update, as
  `fqt.py partial` does;
* fp32: a PyTorch reference of the same selection — the same initial weights, sample order
  and lr; per sample k = max(floor(min(λmin + |ε|/εmax·(1 − λmin), 1)·N), 1) for conv1,
  conv2 and fc1 (the output layer fc2 always in full, as qtrain-partial-update does), the k
  rows/filters with the largest Σ|error| of the layer's pre-activation (ties to the lower
  index), the other rows' weight gradients dropped; biases in full.

Because a single run's final accuracy is one snapshot of an oscillating trajectory, it also
reports the mean test accuracy (all 10,000 test images) over 5 checkpoints spread over the
last 20 % of training. Needs torch (the test-only dependency, see TOOLCHAIN.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fqt as B  # noqa: E402  (the benchmark CNN, data and lr)

from odtc.compiler import api  # noqa: E402
from odtc.compiler.config import config_from_dict  # noqa: E402
from odtc.dialects import qtrain  # noqa: E402

SELECTED = ("conv1", "conv2", "fc1")  # fc2 (the output layer) is always updated in full


def checkpoints(n: int) -> list[int]:
    """Sample counts after which the test accuracy is measured: 5 over the last 20 %."""
    return [n - i * n // 20 for i in range(4, -1, -1)]


def run_u8(lmin: float, ds, seed: int, build: Path) -> list[float]:
    cfg = {"train": {"learning_rate": B.LR}, "quantize": {"scheme": "u8-asym"},
           "partial_update": {"lambda_min": lmin, "lambda_max": 1.0}}
    api.compile_model(B.cnn(), config_from_dict(cfg), build, "host")
    module = api.parse_module((build / "train_step.mlir").read_text())
    plan = api._make_plan(module, ds, 1, seed)  # pyright: ignore[reportPrivateUsage]  (api.train's order)
    step, infer, _ = api._backend(build, module, "c")  # pyright: ignore[reportPrivateUsage]
    cps, accs = checkpoints(len(plan.train)), []
    for i, (x, y) in enumerate(plan.train):
        step(x, y)
        if i + 1 in cps:
            accs.append(100 * api._accuracy(infer, plan.test))  # pyright: ignore[reportPrivateUsage]
    return accs


def run_fp32(lmin: float, ds, seed: int, build: Path) -> list[float]:
    module = B.cnn()
    params = {o.sym_name.data: torch.tensor(np.array(o.init.get_values(), dtype=np.float32).reshape(o.type.get_shape()))
              for o in module.ops if isinstance(o, qtrain.ParamOp)}
    for p in params.values():
        p.requires_grad_(True)
    built = api.parse_module((build / "train_step.mlir").read_text())
    plan = api._make_plan(built, ds, 1, seed)  # pyright: ignore[reportPrivateUsage]  (the same order)
    xt = torch.from_numpy(np.concatenate([x for x, _ in plan.test]))
    yt = torch.tensor([y for _, y in plan.test])

    def forward(x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        a1 = F.conv2d(x, params["conv1.weight"], params["conv1.bias"], stride=2, padding=1)
        a2 = F.conv2d(F.relu(a1), params["conv2.weight"], params["conv2.bias"], stride=2, padding=1)
        a3 = F.relu(a2).flatten(1) @ params["fc1.weight"].T + params["fc1.bias"]
        return F.relu(a3) @ params["fc2.weight"].T + params["fc2.bias"], [a1, a2, a3]

    def accuracy() -> float:
        with torch.no_grad():
            return 100 * float((forward(xt)[0].argmax(1) == yt).float().mean())

    loss_max, cps, accs = 0.0, checkpoints(len(plan.train)), []
    for i, (x, y) in enumerate(plan.train):
        out, pre = forward(torch.from_numpy(x))
        for a in pre:
            a.retain_grad()
        loss = F.cross_entropy(out, torch.from_numpy(y).long())
        for p in params.values():
            p.grad = None
        loss.backward()
        eps = float(loss.detach())
        loss_max = max(loss_max, abs(eps))
        frac = min(lmin + (abs(eps) / loss_max) * (1.0 - lmin), 1.0)
        with torch.no_grad():
            for name, a in zip(SELECTED, pre, strict=True):
                g = params[f"{name}.weight"].grad
                assert g is not None and a.grad is not None
                rows = g.shape[0]
                k = max(int(np.floor(np.float32(frac) * rows)), 1)
                magnitude = a.grad.abs().sum(dim=tuple(d for d in range(a.grad.dim()) if d != 1))
                keep = torch.zeros(rows, dtype=torch.bool)
                keep[torch.argsort(-magnitude, stable=True)[:k]] = True
                g[~keep] = 0
            for p in params.values():
                assert p.grad is not None
                p -= B.LR * p.grad
        if i + 1 in cps:
            accs.append(accuracy())
    return accs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=20000)
    p.add_argument("--lambdas", default="1.0,0.1")
    p.add_argument("--seeds", default="0,1,2")
    args = p.parse_args()
    torch.set_num_threads(1)
    ds = B.dataset("mnist", args.limit)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for lmin in (float(v) for v in args.lambdas.split(",")):
            for seed in (int(v) for v in args.seeds.split(",")):
                build = Path(tmp) / f"u8-{lmin}-{seed}"
                u8 = run_u8(lmin, ds, seed, build)
                fp = run_fp32(lmin, ds, seed, build)
                for variant, accs in (("u8", u8), ("fp32", fp)):
                    rows.append((lmin, variant, seed, accs))
                    print(f"  λmin {lmin} {variant} seed {seed}: final {accs[-1]:.2f} %, checkpoints "
                          f"{' / '.join(f'{a:.2f}' for a in accs)}", flush=True)
    print("| λmin | variant | final accuracy per seed (%) | mean of 5 checkpoints, all seeds (%) |")
    print("|---:|---|---|---:|")
    for lmin in sorted({r[0] for r in rows}, reverse=True):
        for variant in ("fp32", "u8"):
            sel = [r for r in rows if r[0] == lmin and r[1] == variant]
            finals = " / ".join(f"{r[3][-1]:.2f}" for r in sel)
            print(f"| {lmin} | {variant} | {finals} | {np.mean([np.mean(r[3]) for r in sel]):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
