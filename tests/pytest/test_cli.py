"""The odtc driver: the pipeline string replays in odtc-opt, errors are one line, and a
compiled model trains (interpreted backend) with a falling loss."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_print_pipeline_replays_in_odtc_opt(tmp_path: Path) -> None:
    cfg = tmp_path / "train.toml"
    cfg.write_text('[train]\noptimizer = "momentum"\nmode = "last-k"\nlast_k = 2\nbatch_size = 2\n')
    p = run("odtc", "compile", "--print-pipeline", "--config", str(cfg))
    assert p.returncode == 0, p.stderr
    pipeline = p.stdout.strip()
    c = run("odtc", "compile", "examples/mnist_cnn.py:model", "--config", str(cfg), "-o", str(tmp_path / "b"))
    assert c.returncode == 0, c.stderr
    assert (tmp_path / "b" / "pipeline.txt").read_text().strip() == pipeline
    o = run("odtc-opt", str(tmp_path / "b" / "model.mlir"), "-p", pipeline)
    assert o.returncode == 0, o.stderr
    assert o.stdout.strip() == (tmp_path / "b" / "model.ckern.mlir").read_text().strip()
    assert "odtc_momentum_update_f32" in o.stdout and "ckern.deref" in o.stdout
    c_src = run("odtc-opt", str(tmp_path / "b" / "model.mlir"), "-p", pipeline, "-t", "c")
    assert c_src.returncode == 0, c_src.stderr
    assert c_src.stdout == (tmp_path / "b" / "model.c").read_text()


def test_print_ir_after_all_names_every_pass(tmp_path: Path) -> None:
    c = run("odtc", "compile", "examples/mnist_cnn.py:model", "-o", str(tmp_path / "b"), "--print-ir-after-all")
    assert c.returncode == 0, c.stderr
    for name in ("qtrain-fold-batchnorm", "qtrain-mark-trainable", "qtrain-autodiff", "qtrain-prune-frozen-backward",
                 "qtrain-bufferize", "qtrain-plan-buffers", "convert-qtrain-to-c"):
        assert f"IR after {name} " in c.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["compile", "nope.mlir", "-o", "{tmp}/b"], "odtc: error: model file nope.mlir does not exist"),
        (["compile", "examples/mnist_cnn.py:nothing", "-o", "{tmp}/b"], "has no function 'nothing'"),
        (["compile", "m.onnx", "-o", "{tmp}/b"], "model file m.onnx does not exist"),
        (["compile", "examples/mnist_cnn.py:model", "--config", "{tmp}/bad.toml", "-o", "{tmp}/b"],
         "unknown config key 'train.optimiser'"),
        (["compile", "{tmp}/broken.mlir", "-o", "{tmp}/b"], "broken.mlir:1:"),
        (["compile", "{tmp}/invalid.mlir", "-o", "{tmp}/b"], "qtrain.dense: weight has 3 input features but input has 4"),
        (["train", "{tmp}/empty"], "holds no compiled model"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "bad.toml").write_text('[train]\noptimiser = "sgd"\n')
    (tmp_path / "broken.mlir").write_text("builtin.module { qtrain.nonsense }\n")
    (tmp_path / "invalid.mlir").write_text(
        "func.func @forward(%x: tensor<1x4xf32>, %w: tensor<2x3xf32>) -> tensor<1x2xf32> {\n"
        "  %y = qtrain.dense %x, %w : (tensor<1x4xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>\n"
        "  func.return %y : tensor<1x2xf32>\n}\n"
    )
    (tmp_path / "empty").mkdir()
    p = run("odtc", *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert p.returncode == 1
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("odtc: error: ") and message in lines[0], lines[0]


def test_train_on_embedded_mnist_loss_falls(tmp_path: Path) -> None:
    build = tmp_path / "demo"
    c = run("odtc", "compile", "examples/mnist_cnn.py:model", "--config", "examples/train.toml", "-o", str(build))
    assert c.returncode == 0, c.stderr
    t = run("odtc", "train", str(build), "--data", "mnist", "--epochs", "2", "--limit", "300", "--json")
    assert t.returncode == 0, t.stderr
    result = json.loads(t.stdout.strip().splitlines()[-1])
    assert result["steps"] == 600
    epochs = [ln for ln in t.stdout.splitlines() if ln.startswith("epoch ")]
    first, second = (float(ln.split("loss ")[1].split(",")[0]) for ln in epochs)
    assert second < first < 2.31  # below chance-level cross-entropy ln(10) = 2.303, and falling
    assert result["test_accuracy"] > 0.5
    assert (build / "trained.npz").is_file()
