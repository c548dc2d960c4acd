"""The two-phase VAE workflow end to end, through the odtc library (the same steps as the
`odtc compile` / `odtc train` commands in examples/vae.py's docstring):

    python examples/vae_mnist.py [--data mnist|IDX_DIR|FILE.npz] [--epochs 3] [--labels 10] [--u8] [-o build/vae]

1. compile examples/vae.py:vae (loss elbo) and train it with the generated C on the
   training images — no labels are read;
2. write BUILD/vae/grid.png: test images, their reconstructions by the trained C, and
   decoder samples from the prior (look at it: that is what the device learned);
3. compile the classifier with the trained encoder (--init) frozen, train its head on
   `--labels` labelled images per class, report the test accuracy.

The default data is the embedded MNIST subset (2,000 training / 500 test images), so it
runs anywhere in about a minute; benchmarks/vae.py runs the full experiments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from odtc.compiler import api
from odtc.compiler.config import config_from_dict
from odtc.compiler.data import Dataset, load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vae as example  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="mnist")
    p.add_argument("--epochs", type=int, default=3, help="phase-1 (VAE) epochs")
    p.add_argument("--labels", type=int, default=10, help="labelled images per class for the classifier")
    p.add_argument("--head-steps", type=int, default=5000, help="classifier training steps")
    p.add_argument("--u8", action="store_true", help="fully quantized (u8) training in both phases")
    p.add_argument("-o", "--output", default="build/vae")
    args = p.parse_args()
    out = Path(args.output)
    # u8: int32 accumulators of 8 kB or more streamed (bit-identical, arena 19.7 kB)
    quant = ({"quantize": {"scheme": "u8-asym"}, "memory": {"stream_accumulator_bytes": 8192}} if args.u8
             else {})
    ds = load_dataset(args.data)

    vae_build = out / "vae"
    # u8 phase 1: every activation on its own sample's range (alpha_a = 1.0, see examples/vae_u8.toml)
    vae_quant = {**quant, "quantize": {**quant["quantize"], "alpha_a": 1.0}} if args.u8 else quant
    res = api.compile_model(example.vae(), config_from_dict({"train": {"loss": "elbo", "learning_rate": 0.0005},
                                                             **vae_quant}), vae_build, "host")
    print(f"phase 1: VAE compiled -> {vae_build}/ (RAM {res.memory['ram_bytes']} B: arena "
          f"{res.memory['arena_bytes']} B, weights {res.memory['trainable_weights_bytes']} B)")
    shown = ds.x_test[:10]
    recon: list[np.ndarray] = []
    report = api.train(vae_build, ds, epochs=args.epochs,
                       on_trained=lambda infer: recon.extend(infer(x.reshape(1, 1, 28, 28)) for x in shown))
    for i, loss in enumerate(report.epoch_losses):
        print(f"  epoch {i + 1}: mean ELBO loss {loss:.2f}")
    png = out / "grid.png"
    example.write_grid(report.params, shown, np.asarray(recon), png)
    print(f"  reconstructions and samples -> {png}")

    head_build = out / "head"
    api.compile_model(example.classifier(), config_from_dict({"train": {"trainable": ["head.*"]}, **quant}),
                      head_build, "host", init=vae_build / "trained.npz")
    labelled = ds.labelled_per_class(args.labels)
    reps = max(1, -(-args.head_steps // len(labelled.x_train)))
    train = Dataset(ds.name, np.repeat(labelled.x_train, reps, 0), np.repeat(labelled.y_train, reps, 0),
                    ds.x_test, ds.y_test)
    head = api.train(head_build, train)
    print(f"phase 2: classifier on the frozen encoder, {args.labels} labels per class "
          f"({len(labelled.x_train)} images, {head.steps} steps): test accuracy {head.test_accuracy * 100:.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
