"""The builder API: shapes, names, determinism, residual graphs, errors."""

import numpy as np
import pytest

from odtc.compiler.builder import (
    BuilderError,
    Conv2d,
    Dense,
    Flatten,
    GraphBuilder,
    ReLU,
    Sequential,
    mnist_cnn,
    residual_cnn,
)
from odtc.compiler.context import make_context
from odtc.dialects import qtrain
from odtc.runtime import reference as ref
from odtc.runtime.interpreter import init_state, run_function
from xdsl.parser import Parser


def test_sequential_cnn_shapes_names_and_roundtrip() -> None:
    m = mnist_cnn()
    names = [o.sym_name.data for o in m.ops if isinstance(o, qtrain.ParamOp)]
    assert names == [
        "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
        "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
    ]
    text = str(m)
    again = Parser(make_context(), text).parse_module()
    assert str(again) == text


def test_same_seed_same_weights_other_seed_differs() -> None:
    a, b, c = init_state(mnist_cnn(seed=1)), init_state(mnist_cnn(seed=1)), init_state(mnist_cnn(seed=2))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["conv1.weight"], c["conv1.weight"])


def test_pytorch_style_init_bounds() -> None:
    st = init_state(mnist_cnn())
    bound = 1 / np.sqrt(784)
    assert np.abs(st["fc1.weight"]).max() <= bound and np.abs(st["fc1.weight"]).max() > 0.9 * bound


def test_residual_graph_runs_and_matches_reference() -> None:
    m = residual_cnn()
    st = init_state(m)
    x = np.random.default_rng(0).standard_normal((1, 1, 16, 16)).astype(np.float32)
    (out,) = run_function(m, "forward", [x], st)
    h = ref.relu(ref.conv2d(x, st["stem.weight"], st["stem.bias"], (1, 1), (1, 1, 1, 1), 1))
    h = ref.maxpool2d(h, (2, 2))
    skip = h
    h = ref.relu6(ref.conv2d(h, st["dw.weight"], st["dw.bias"], (1, 1), (1, 1, 1, 1), 8))
    h = ref.conv2d(h, st["pw.weight"], st["pw.bias"])
    h = ref.relu(ref.add(h, skip))
    h = ref.global_avgpool(ref.avgpool2d(h, (2, 2)))
    want = ref.dense(ref.flatten(h), st["fc.weight"], st["fc.bias"])
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: GraphBuilder((1, 0, 4, 4)), "input shape must be"),
        (lambda: Sequential((1, 784), [Conv2d(4, 3)]).build(), "conv2d needs an [N, C, H, W] input"),
        (lambda: Sequential((1, 1, 8, 8), [Dense(4)]).build(), "dense needs an [N, features] input"),
        (lambda: Sequential((1, 3, 8, 8), [Conv2d(4, 3, groups=2)]).build(), "groups=2 must divide"),
        (lambda: Sequential((1, 1, 2, 2), [Conv2d(4, 5)]).build(), "does not fit input 2x2"),
        (lambda: Sequential((1, 1, 4, 4), [Flatten(), Dense(3, name="a"), ReLU(), Dense(3, name="a")]).build(),
         "parameter 'a.weight' is declared twice"),
    ],
)
def test_builder_errors(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BuilderError) as exc:
        build()
    assert message in str(exc.value)
