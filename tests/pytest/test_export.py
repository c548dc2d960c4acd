"""`odtc export`: trained weights go back to PyTorch (a state_dict) and ONNX (the source
graph with trained initializers) under the source names and layouts.

Each build is the user's flow: compile (examples/torch_cnn.py through the PyTorch frontend,
or its ONNX export), `api.train` with the generated C on one sample, then `odtc export`
through the CLI entry point.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from odtc.compiler import api
from odtc.compiler.config import config_from_dict
from odtc.tools.odtc import main as odtc_main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "torch_cnn.py"
CFG = config_from_dict({"train": {"learning_rate": 0.1}})


def example_model() -> torch.nn.Module:
    import importlib.util

    spec = importlib.util.spec_from_file_location("odtc_example_torch_cnn", EXAMPLE)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.model()


def trained(build: Path) -> dict[str, np.ndarray]:
    with np.load(build / "trained.npz") as npz:
        return {k: npz[k] for k in npz.files}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = odtc_main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def torch_build(tmp_path_factory: pytest.TempPathFactory, random_npz: Callable[[tuple[int, ...]], Path]) -> Path:
    build = tmp_path_factory.mktemp("torch") / "build"
    api.compile_model(f"{EXAMPLE}:model", CFG, build, "host")
    api.train(build, str(random_npz((1, 28, 28))), limit=1)
    return build


@pytest.fixture(scope="module")
def onnx_build(tmp_path_factory: pytest.TempPathFactory, random_npz: Callable[[tuple[int, ...]], Path]) -> Path:
    root = tmp_path_factory.mktemp("onnx")
    src = root / "torch_cnn.onnx"
    torch.onnx.export(example_model().eval(), (torch.zeros(1, 1, 28, 28),), str(src), dynamo=True, optimize=False)
    build = root / "build"
    api.compile_model(src, CFG, build, "host")
    api.train(build, str(random_npz((1, 28, 28))), limit=1)
    return build


def test_torch_state_dict_reloads_into_the_module(torch_build: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "trained.pt"
    rc, stdout, err = cli(capsys, "export", str(torch_build), "--torch", str(out))
    assert rc == 0, err
    assert stdout.startswith(f"wrote 14 parameters to {out}")
    net = example_model()
    initial = {k: v.detach().clone() for k, v in net.state_dict().items()}
    # every key matches; BatchNorm fills in num_batches_tracked itself, so even strict loading works
    net.load_state_dict(torch.load(out), strict=True)
    values = trained(torch_build)
    for name, p in net.named_parameters():  # every parameter, trained
        np.testing.assert_array_equal(p.detach().numpy(), values[name], err_msg=name)
        assert not torch.equal(p.detach(), initial[name]), f"{name} did not train"
    for name in ("bn1.running_mean", "bn1.running_var"):  # buffers, frozen: their initial values
        assert torch.equal(net.state_dict()[name], initial[name])


def test_onnx_export_replaces_the_trained_initializers(onnx_build: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "trained.onnx"
    rc, stdout, err = cli(capsys, "export", str(onnx_build), "--onnx", str(out))
    assert rc == 0, err
    assert stdout.strip() == f"wrote {out} with 14 trained initializers"
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    source = onnx.load(str(onnx_build.parent / "torch_cnn.onnx"))
    assert [n.op_type for n in model.graph.node] == [n.op_type for n in source.graph.node]  # same graph
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    values = trained(onnx_build)
    for name in ("conv1.weight", "bn1.weight", "bn1.running_var", "dw.weight", "pw.bias", "fc.weight", "fc.bias"):
        np.testing.assert_array_equal(inits[name], values[name], err_msg=name)
    assert not np.array_equal(inits["fc.weight"], numpy_helper.to_array(
        next(i for i in source.graph.initializer if i.name == "fc.weight")))

    # the ONNX and the PyTorch export of one build compute the same function
    pt = tmp_path / "trained.pt"
    assert cli(capsys, "export", str(onnx_build), "--torch", str(pt))[0] == 0
    net = example_model().eval()
    net.load_state_dict(torch.load(pt), strict=False)
    x = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    got = ReferenceEvaluator(model).run(None, {model.graph.input[0].name: x})[0]
    np.testing.assert_allclose(got, net(torch.from_numpy(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_onnx_export_transposes_matmul_weights_back(tmp_path: Path, random_npz: Callable[[tuple[int, ...]], Path],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    inits = {"w1": rng.standard_normal((16, 8)), "b1": rng.standard_normal(8), "w2": rng.standard_normal((8, 10))}
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["x"], ["f"], name="flat"),
            helper.make_node("MatMul", ["f", "w1"], ["m"], name="mm"),
            helper.make_node("Add", ["m", "b1"], ["a"], name="bias"),
            helper.make_node("Relu", ["a"], ["r"], name="relu"),
            helper.make_node("Gemm", ["r", "w2"], ["y"], name="head"),  # transB=0: B is [in, out]
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    src = tmp_path / "mlp.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(src))
    build = tmp_path / "b"
    api.compile_model(src, CFG, build, "host")
    api.train(build, str(random_npz((4, 4))), limit=1)
    values = trained(build)
    assert values["w1"].shape == (8, 16)  # qtrain.dense layout [out, in]
    out = tmp_path / "out.onnx"
    assert cli(capsys, "export", str(build), "--onnx", str(out), "--from", str(src))[0] == 0
    got = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(out)).graph.initializer}
    np.testing.assert_array_equal(got["w1"], values["w1"].T)
    np.testing.assert_array_equal(got["w2"], values["w2"].T)
    np.testing.assert_array_equal(got["b1"], values["b1"])
    assert not np.array_equal(got["w1"], inits["w1"].astype(np.float32))


def test_export_errors_are_one_line(torch_build: Path, onnx_build: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    untrained = tmp_path / "untrained"
    api.compile_model(f"{EXAMPLE}:model", CFG, untrained, "host")
    cases = [
        (["export", str(untrained), "--torch", str(tmp_path / "x.pt")], "trained.npz does not exist: run odtc train first"),
        (["export", str(tmp_path / "nothing"), "--torch", str(tmp_path / "x.pt")], "holds no compiled model (run odtc compile first)"),
        (["export", str(torch_build), "--onnx", str(tmp_path / "x.onnx")],
         "was not compiled from an .onnx file; give the original with --from model.onnx"),
        (["export", str(torch_build), "--onnx", str(tmp_path / "x.onnx"), "--from", str(tmp_path / "no.onnx")],
         "does not exist"),
    ]
    for args, message in cases:
        rc, _, err = cli(capsys, *args)
        assert rc == 1 and err.count("\n") == 1 and err.startswith("odtc: error: ") and message in err, (args, err)
    # a source model that changed since compile is refused rather than silently mixed
    src = onnx_build.parent / "torch_cnn.onnx"
    original = src.read_bytes()
    try:
        src.write_bytes(original + b"\n")
        rc, _, err = cli(capsys, "export", str(onnx_build), "--onnx", str(tmp_path / "x.onnx"))
        assert rc == 1 and "changed since odtc compile" in err
    finally:
        src.write_bytes(original)
