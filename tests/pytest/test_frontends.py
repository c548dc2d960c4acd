"""The ONNX and PyTorch frontends: imported models compute what the source framework
computes, forward (reference interpreter) and one SGD step (generated C on host), and
anything unsupported fails in one line naming the source node.

The SGD-step parity runs the same torch CNN (strided/padded conv, BatchNorm in eval mode,
ReLU6, depthwise + pointwise convs, residual add, max and padded average pooling, flatten,
linear) through both frontends (ONNX via torch.onnx.export), compiles it for host, runs one
`odtc_train_step` and compares every parameter with `torch.optim.SGD` after the same
cross-entropy step. Measured: max relative difference 8.4e-7 (fc.weight), most parameters
bit-identical; the tolerance is rtol 1e-5 with no absolute slack, and every parameter is
checked to have moved by far more than that.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from torch import nn

from odtc.compiler import api
from odtc.compiler.config import config_from_dict
from odtc.compiler.frontend_onnx import TRANSPOSED_ATTR, import_onnx
from odtc.compiler.frontend_torch import import_torch
from odtc.dialects import qtrain
from odtc.runtime.host import HostModel, Shapes, make
from odtc.runtime.interpreter import run_function

ROOT = Path(__file__).resolve().parents[2]
IN_SHAPE = (1, 1, 12, 12)
LR = 0.1
LABEL = 3


class TinyNet(nn.Module):
    """Every layer kind the frontends must carry through a training step."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 8, 1)
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(3, stride=1, padding=1)  # count_include_pad=True (PyTorch default)
        self.fc = nn.Linear(8 * 3 * 3, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self.bn(self.stem(x)))
        h = h + self.pw(F.relu(self.dw(h)))
        h = self.avg(self.pool(h))
        return self.fc(torch.flatten(h, 1))


def tiny_net() -> TinyNet:
    """Seeded, with BatchNorm statistics and affine parameters away from the identity."""
    torch.manual_seed(0)
    net = TinyNet()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 2.0)
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.uniform_(-0.2, 0.2)
    return net.eval()


class ZooNet(nn.Module):
    """The other spellings: module vs functional vs method, in-place, 1-d batch norm."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.act = nn.ReLU(inplace=True)
        self.act6 = nn.ReLU6()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.drop = nn.Dropout(0.3)
        self.fc1 = nn.Linear(4, 6)
        self.bn1 = nn.BatchNorm1d(6)
        self.fc2 = nn.Linear(6, 5, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.conv(x))
        h = F.hardtanh(h, 0.0, 6.0)
        h = self.act6(torch.relu(h)) + torch.clamp(h, min=0.0)
        h = F.max_pool2d(h, 3, 2, 1)
        h = self.drop(self.flat(self.gap(h)))
        h = h.view(h.size(0), -1).reshape(1, -1)
        return self.fc2(F.relu6(self.bn1(self.fc1(h))))


def zoo_net() -> ZooNet:
    torch.manual_seed(1)
    net = ZooNet()
    with torch.no_grad():
        net.bn1.running_mean.uniform_(-0.3, 0.3)
        net.bn1.running_var.uniform_(0.5, 2.0)
    return net.eval()


def sample(shape: tuple[int, ...] = IN_SHAPE, seed: int = 1) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def export_onnx(net: nn.Module, x: torch.Tensor, path: Path) -> Path:
    # optimize=False keeps BatchNorm (the default optimizer folds it into the conv, keeping the
    # conv's names with folded values)
    torch.onnx.export(net, (x,), str(path), dynamo=True, optimize=False, verbose=False)
    return path


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(tiny_net(), sample(), tmp_path_factory.mktemp("onnx") / "tiny.onnx")


def torch_sgd_step(net: nn.Module, x: torch.Tensor) -> tuple[float, dict[str, np.ndarray]]:
    """One SGD step in eval mode (running BN statistics), cross-entropy over the logits."""
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    opt.zero_grad()
    loss = F.cross_entropy(net(x), torch.tensor([LABEL]))
    loss.backward()
    opt.step()
    return loss.item(), {k: v.detach().numpy().copy() for k, v in net.named_parameters()}


def param_values(module) -> dict[str, np.ndarray]:
    from odtc.runtime.interpreter import init_state

    names = {o.sym_name.data for o in module.ops if isinstance(o, qtrain.ParamOp)}
    return {k: v for k, v in init_state(module).items() if k in names}


# ---------------------------------------------------------------------------------------
# Names, weights, forward
# ---------------------------------------------------------------------------------------


def _check_names_and_weights(module, net: nn.Module) -> None:
    params = {o.sym_name.data: o for o in module.ops if isinstance(o, qtrain.ParamOp)}
    expected = dict(net.named_parameters())
    expected.update({k: v for k, v in net.named_buffers() if "running" in k})
    assert set(params) == set(expected)
    values = param_values(module)
    for name, t in expected.items():
        np.testing.assert_array_equal(values[name], t.detach().numpy())  # copied exactly
        assert params[name].is_trainable == ("running" not in name)


def test_onnx_import_names_weights_and_forward(tiny_onnx: Path) -> None:
    module = import_onnx(tiny_onnx)
    net = tiny_net()
    _check_names_and_weights(module, net)
    x = sample()
    out = run_function(module, "forward", [x.numpy()])[0]
    np.testing.assert_allclose(out, net(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert module.attributes["odtc.source"].data == str(tiny_onnx.resolve())  # type: ignore[attr-defined]


def test_torch_import_names_weights_and_forward() -> None:
    net = tiny_net()
    module = import_torch(net, sample())
    _check_names_and_weights(module, tiny_net())
    x = sample(seed=5)
    out = run_function(module, "forward", [x.numpy()])[0]
    np.testing.assert_allclose(out, tiny_net()(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_every_torch_spelling_through_both_frontends(tmp_path: Path) -> None:
    x = sample((1, 1, 8, 8), seed=2)
    want = zoo_net()(x).detach().numpy()
    via_torch = import_torch(zoo_net(), x)
    via_onnx = import_onnx(export_onnx(zoo_net(), x, tmp_path / "zoo.onnx"))
    for module in (via_torch, via_onnx):
        _check_names_and_weights(module, zoo_net())
        got = run_function(module, "forward", [x.numpy()])[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # view(1, -1) of a [1, 4] tensor is no op; AdaptiveAvgPool2d(1) is a global pool either way
    for module in (via_torch, via_onnx):
        names = [o.name for o in module.walk()]
        assert names.count("qtrain.global_avgpool") == 1 and "qtrain.batchnorm" in names


# ---------------------------------------------------------------------------------------
# One SGD step in the generated C equals torch.optim.SGD
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("frontend", ["onnx", "torch"])
def test_sgd_step_in_generated_c_matches_torch(frontend: str, tiny_onnx: Path, tmp_path: Path) -> None:
    x = sample()
    module = import_onnx(tiny_onnx) if frontend == "onnx" else import_torch(tiny_net(), x)
    cfg = config_from_dict({"train": {"learning_rate": LR}})
    api.compile_model(module, cfg, tmp_path / "b", "host")
    lib = HostModel(make(tmp_path / "b", "host"), Shapes(IN_SHAPE, (1,), (1, 10), np.float32, np.int32))
    np.testing.assert_allclose(lib.infer(x.numpy()), tiny_net()(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    loss = lib.train_step(x.numpy(), np.array([LABEL], np.int32))

    initial = {k: v.detach().numpy().copy() for k, v in tiny_net().named_parameters()}
    want_loss, want = torch_sgd_step(tiny_net(), x)
    got = lib.params()
    assert loss == pytest.approx(want_loss, rel=1e-6)
    for name, w in want.items():
        assert np.abs(w - initial[name]).max() > 1e-3, f"{name} did not move: the comparison would be vacuous"
        np.testing.assert_allclose(got[name].reshape(w.shape), w, rtol=1e-5, atol=0, err_msg=name)
    # running statistics are frozen state: unchanged
    for name, buf in tiny_net().named_buffers():
        if "running" in name:
            np.testing.assert_array_equal(got[name], buf.numpy().reshape(-1))


# ---------------------------------------------------------------------------------------
# ONNX ops PyTorch's exporter does not produce, against onnx's reference evaluator
# ---------------------------------------------------------------------------------------


def _model(nodes, inits, in_shape, out_shape=None, opset: int = 17) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    tensors = [numpy_helper.from_array(v if isinstance(v, np.ndarray) else rng.standard_normal(v).astype(np.float32), k)
               for k, v in inits.items()]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        tensors,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _forward_matches(model: onnx.ModelProto, shape: tuple[int, ...]) -> object:
    onnx.checker.check_model(model)
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    module = import_onnx(model)
    got = run_function(module, "forward", [x])[0]
    want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    return module


def test_onnx_conv_pool_reshape_variants() -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", auto_pad="SAME_UPPER", strides=[2, 2]),
        helper.make_node("Clip", ["c", "zero", ""], ["r"], name="clip0inf"),  # ReLU
        helper.make_node("AveragePool", ["r"], ["a"], name="avg", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         count_include_pad=0),
        helper.make_node("Identity", ["a"], ["i"], name="id"),
        helper.make_node("GlobalAveragePool", ["i"], ["g"], name="gap"),
        helper.make_node("Reshape", ["g", "shape"], ["f"], name="reshape"),  # [0, -1]
        helper.make_node("Gemm", ["f", "wt", "b"], ["y"], name="gemm", transB=0),
    ]
    inits = {"w": (4, 1, 3, 3), "zero": np.array(0.0, np.float32), "shape": np.array([0, -1], np.int64),
             "wt": (4, 3), "b": (3,)}
    module = _forward_matches(_model(nodes, inits, [1, 1, 7, 7], [1, 3]), (1, 1, 7, 7))
    params = {o.sym_name.data: o for o in module.ops if isinstance(o, qtrain.ParamOp)}
    assert set(params) == {"w", "wt", "b"}  # constants used as shapes/bounds are not params
    assert tuple(params["wt"].type.get_shape()) == (3, 4) and TRANSPOSED_ATTR in params["wt"].attributes


def test_onnx_matmul_add_becomes_dense_with_bias() -> None:
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flat", axis=1),
        helper.make_node("MatMul", ["f", "w"], ["m"], name="mm"),
        helper.make_node("Add", ["m", "b"], ["y"], name="bias"),
    ]
    module = _forward_matches(_model(nodes, {"w": (12, 5), "b": (5,)}, [1, 3, 2, 2], [1, 5]), (1, 3, 2, 2))
    dense = [o for o in module.walk() if isinstance(o, qtrain.DenseOp)]
    assert len(dense) == 1 and dense[0].bias is not None
    assert not any(isinstance(o, qtrain.AddOp) for o in module.walk())


def test_onnx_symbolic_batch_is_pinned_to_one() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    module = import_onnx(_model(nodes, {}, ["N", 3], ["N", 3]))
    assert qtrain.tensor_shape(module.body.block.last_op.function_type.inputs.data[0]) == (1, 3)  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------
# Errors: one line, naming the node
# ---------------------------------------------------------------------------------------


def _one_line_error(fn, *args: object) -> str:
    with pytest.raises(api.CompileError) as info:
        fn(*args)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize(
    "nodes, inits, outputs, message",
    [
        ([helper.make_node("Sigmoid", ["x"], ["y"], name="Sigmoid_3")], {}, ["y"],
         "ONNX node 'Sigmoid_3' (Sigmoid) is not supported; supported: Add, AveragePool"),
        ([helper.make_node("Softmax", ["x"], ["y"], name="sm")], {}, ["y"], "ONNX node 'sm' (Softmax) is not supported"),
        ([helper.make_node("Conv", ["x", "w"], ["y"], name="dil", dilations=[2, 2])], {"w": (2, 3, 1, 1)}, ["y"],
         "ONNX node 'dil' (Conv): dilations [2, 2] are not supported"),
        ([helper.make_node("Flatten", ["x"], ["f"], name="fl"),
          helper.make_node("Gemm", ["f", "w"], ["y"], name="g", alpha=2.0, transB=1)], {"w": (4, 12)}, ["y"],
         "ONNX node 'g' (Gemm): alpha=2.0 beta=1.0 are not supported"),
        ([helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="clip")],
         {"lo": np.array(-1, np.float32), "hi": np.array(1, np.float32)}, ["y"],
         "ONNX node 'clip' (Clip): only Clip(0, 6) (ReLU6) and Clip(0, inf) (ReLU) are supported"),
        ([helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[2, 2], ceil_mode=1)], {}, ["y"],
         "ONNX node 'mp' (MaxPool): ceil_mode=1 is not supported"),
        ([helper.make_node("Relu", ["x"], ["y"], name="a"), helper.make_node("Relu", ["x"], ["z"], name="b")], {},
         ["y", "z"], "must have exactly one output"),
        ([helper.make_node("Relu", ["x"], ["y"], name="a"), helper.make_node("Relu", ["x"], ["dead"], name="unused")],
         {}, ["y"], "ONNX node 'unused' (Relu): output 'dead' feeds nothing"),
        ([helper.make_node("Add", ["x", "c"], ["y"], name="addc")], {"c": (1, 3, 2, 2)}, ["y"],
         "ONNX node 'addc' (Add): adding a constant is supported only as the bias of a MatMul"),
    ],
)
def test_onnx_unsupported_is_one_line_naming_the_node(nodes, inits, outputs, message: str) -> None:
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2, 2])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(v if isinstance(v, np.ndarray) else rng.standard_normal(v).astype(np.float32), k)
         for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert message in _one_line_error(import_onnx, model)


def test_onnx_input_errors() -> None:
    two = helper.make_graph(
        [helper.make_node("Add", ["x", "x2"], ["y"], name="add")], "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3]) for n in ("x", "x2")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
    )
    assert "exactly one input" in _one_line_error(import_onnx, helper.make_model(two))
    batch = _model([helper.make_node("Relu", ["x"], ["y"], name="r")], {}, [4, 3], [4, 3])
    assert "batch size 4" in _one_line_error(import_onnx, batch)


def test_torch_unsupported_op_is_one_line_naming_the_node() -> None:
    class Gate(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.fc(x))

    msg = _one_line_error(import_torch, Gate(), torch.zeros(1, 4))
    assert msg.startswith("PyTorch node 'sigmoid' (aten.sigmoid.default, at test_frontends.py:")
    assert "return torch.sigmoid(self.fc(x))) is not supported; supported: conv2d, linear" in msg


def test_torch_factory_needs_an_input_shape(tmp_path: Path) -> None:
    src = tmp_path / "net.py"
    src.write_text("import torch\n\ndef model():\n    return torch.nn.Linear(3, 2)\n")
    msg = _one_line_error(api.load_model, f"{src}:model")
    assert "cannot tell the input shape of Linear; set INPUT_SHAPE = (1, C, H, W)" in msg
    src.write_text("import torch\nINPUT_SHAPE = (1, 3)\n\ndef model():\n    return torch.nn.Linear(3, 2)\n")
    module = api.load_model(f"{src}:model")
    assert {o.sym_name.data for o in module.ops if isinstance(o, qtrain.ParamOp)} == {"weight", "bias"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    odtc = Path(sys.executable).parent / "odtc"
    return subprocess.run([str(odtc), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_cli_bad_config_key_for_a_torch_model(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[train]\nlearning_rat = 0.1\n')
    p = _cli("compile", "examples/torch_cnn.py:model", "--config", str(bad), "-o", str(tmp_path / "b"))
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("odtc: error: ")
    assert "train.learning_rat" in p.stderr


def test_cli_unsupported_onnx_op_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "sig.onnx"
    onnx.save(_model([helper.make_node("Sigmoid", ["x"], ["y"], name="Sigmoid_3")], {}, [1, 4], [1, 4]), str(path))
    p = _cli("compile", str(path), "-o", str(tmp_path / "b"))
    assert p.returncode == 1 and p.stderr.count("\n") == 1
    assert p.stderr.startswith("odtc: error: ONNX node 'Sigmoid_3' (Sigmoid) is not supported; supported: ")


def test_importing_odtc_does_not_import_torch_or_onnx() -> None:
    code = (
        "import sys\n"
        "import odtc.compiler.api, odtc.compiler.export, odtc.compiler.frontend_onnx, odtc.compiler.frontend_torch\n"
        "import odtc.tools.odtc\n"
        "assert 'torch' not in sys.modules and 'onnx' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m or 'onnx' in m)[:3]\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
