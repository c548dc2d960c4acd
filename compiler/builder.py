"""Build qtrain models from Python: a graph builder and a sequential stack on top of it.

    b = GraphBuilder(input_shape=(1, 1, 28, 28))
    h = b.relu(b.conv2d(b.input, 8, kernel=3, padding=1, name="conv1"))
    skip = h
    h = b.conv2d(h, 8, kernel=3, padding=1, name="conv2")
    h = b.add(h, skip)                      # residual join
    logits = b.dense(b.flatten(b.global_avgpool(h)), 10, name="fc")
    module = b.build(logits)                # builtin.module with params and @forward

Parameter symbols are named like PyTorch's `named_parameters()` ("conv1.weight",
"conv1.bias"), so weights map back to the framework by name. Initial values follow
PyTorch's default initialisation (uniform in ±1/sqrt(fan_in)) from a seeded generator, so a
model built twice with the same seed is identical.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import prod, sqrt

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects import func
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, ModuleOp, TensorType, f32
from xdsl.ir import Block, Region, SSAValue
from xdsl.rewriter import InsertPoint

from odtc.dialects import qtrain


class BuilderError(ValueError):
    """A model description that cannot be built (bad shape, duplicate name, ...)."""


def dense_attr(values: np.ndarray) -> DenseIntOrFPElementsAttr:
    """An f32 dense elements attribute holding `values` exactly."""
    arr = np.ascontiguousarray(values, dtype=np.float32)
    return DenseIntOrFPElementsAttr.from_list(TensorType(f32, list(arr.shape)), arr.ravel().tolist())


class GraphBuilder:
    """Builds `@forward` op by op; every layer method returns the SSA value it produced."""

    def __init__(self, input_shape: Sequence[int], seed: int = 0, input_name: str = "x") -> None:
        if len(input_shape) not in (2, 4) or any(int(d) < 1 for d in input_shape):
            raise BuilderError(
                f"input shape must be [N, C, H, W] or [N, features] with positive sizes, got {list(input_shape)}"
            )
        self.rng = np.random.default_rng(seed)
        self._params: list[qtrain.ParamOp] = []
        self._names: set[str] = set()
        self._counts: dict[str, int] = {}
        self._block = Block(arg_types=[TensorType(f32, list(input_shape))])
        self._block.args[0].name_hint = input_name
        self._b = Builder(InsertPoint.at_end(self._block))

    @property
    def input(self) -> SSAValue:
        return self._block.args[0]

    # -- parameters ---------------------------------------------------------------------

    def _auto_name(self, kind: str, name: str | None) -> str:
        if name is None:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            name = f"{kind}{self._counts[kind]}"
        return name

    def param(self, name: str, value: np.ndarray, trainable: bool = True) -> SSAValue:
        """Declare a parameter symbol with initial data and load it into @forward."""
        if name in self._names:
            raise BuilderError(f"parameter '{name}' is declared twice")
        self._names.add(name)
        ty = TensorType(f32, list(np.shape(value)))
        self._params.append(qtrain.ParamOp(name, ty, dense_attr(value), trainable))
        load = self._b.insert(qtrain.LoadOp(name, ty))
        load.result.name_hint = name.replace(".", "_")
        return load.result

    def _uniform(self, shape: Sequence[int], fan_in: int) -> np.ndarray:
        bound = 1.0 / sqrt(fan_in)
        return self.rng.uniform(-bound, bound, size=tuple(shape)).astype(np.float32)

    # -- layers -------------------------------------------------------------------------

    def conv2d(
        self,
        x: SSAValue,
        out_channels: int,
        kernel: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        groups: int = 1,
        bias: bool = True,
        name: str | None = None,
        trainable: bool = True,
    ) -> SSAValue:
        """Conv layer; `padding` is an int, [ph, pw] or [top, left, bottom, right]."""
        shape = qtrain.tensor_shape(x)
        if len(shape) != 4:
            raise BuilderError(f"conv2d needs an [N, C, H, W] input, got shape {list(shape)}")
        c = shape[1]
        if groups < 1 or c % groups or out_channels % groups:
            raise BuilderError(
                f"conv2d groups={groups} must divide input channels {c} and output channels {out_channels}"
            )
        kh, kw = _pair(kernel)
        pads = _pads(padding)
        strides = _pair(stride)
        oh, ow = qtrain.conv_output_hw(shape[2:], (kh, kw), strides, pads)
        if oh < 1 or ow < 1:
            raise BuilderError(f"conv2d kernel {kh}x{kw} does not fit input {shape[2]}x{shape[3]}")
        name = self._auto_name("conv", name)
        fan_in = (c // groups) * kh * kw
        w = self.param(f"{name}.weight", self._uniform((out_channels, c // groups, kh, kw), fan_in), trainable)
        b = self.param(f"{name}.bias", self._uniform((out_channels,), fan_in), trainable) if bias else None
        return self._b.insert(qtrain.Conv2dOp(x, w, b, strides, pads, groups)).output

    def dense(
        self,
        x: SSAValue,
        out_features: int,
        bias: bool = True,
        name: str | None = None,
        trainable: bool = True,
    ) -> SSAValue:
        shape = qtrain.tensor_shape(x)
        if len(shape) != 2:
            raise BuilderError(f"dense needs an [N, features] input (flatten first), got shape {list(shape)}")
        name = self._auto_name("fc", name)
        w = self.param(f"{name}.weight", self._uniform((out_features, shape[1]), shape[1]), trainable)
        b = self.param(f"{name}.bias", self._uniform((out_features,), shape[1]), trainable) if bias else None
        return self._b.insert(qtrain.DenseOp(x, w, b)).output

    def batchnorm(self, x: SSAValue, name: str | None = None, trainable: bool = True, eps: float = 1e-5) -> SSAValue:
        c = qtrain.tensor_shape(x)[1]
        name = self._auto_name("bn", name)
        g = self.param(f"{name}.weight", np.ones(c, np.float32), trainable)
        be = self.param(f"{name}.bias", np.zeros(c, np.float32), trainable)
        m = self.param(f"{name}.running_mean", np.zeros(c, np.float32), False)
        v = self.param(f"{name}.running_var", np.ones(c, np.float32), False)
        return self._b.insert(qtrain.BatchNormOp(x, g, be, m, v, eps)).output

    def relu(self, x: SSAValue) -> SSAValue:
        return self._b.insert(qtrain.ReluOp(x)).output

    def relu6(self, x: SSAValue) -> SSAValue:
        return self._b.insert(qtrain.Relu6Op(x)).output

    def add(self, a: SSAValue, b: SSAValue) -> SSAValue:
        if a.type != b.type:
            raise BuilderError(f"add needs equal shapes, got {a.type} and {b.type}")
        return self._b.insert(qtrain.AddOp(a, b)).output

    def maxpool2d(
        self, x: SSAValue, kernel: int | Sequence[int], stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
    ) -> SSAValue:
        k = _pair(kernel)
        return self._b.insert(
            qtrain.MaxPool2dOp(x, k, _pair(stride) if stride is not None else k, _pads(padding))
        ).output

    def avgpool2d(
        self, x: SSAValue, kernel: int | Sequence[int], stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0, count_include_pad: bool = False,
    ) -> SSAValue:
        k = _pair(kernel)
        return self._b.insert(
            qtrain.AvgPool2dOp(x, k, _pair(stride) if stride is not None else k, _pads(padding), count_include_pad)
        ).output

    def global_avgpool(self, x: SSAValue) -> SSAValue:
        return self._b.insert(qtrain.GlobalAvgPoolOp(x)).output

    def flatten(self, x: SSAValue, axis: int = 1) -> SSAValue:
        return self._b.insert(qtrain.FlattenOp(x, axis)).output

    def reshape(self, x: SSAValue, shape: Sequence[int]) -> SSAValue:
        if prod(shape) != prod(qtrain.tensor_shape(x)):
            raise BuilderError(f"cannot reshape {list(qtrain.tensor_shape(x))} to {list(shape)}")
        return self._b.insert(qtrain.ReshapeOp(x, shape)).output

    def conv_transpose2d(
        self,
        x: SSAValue,
        out_channels: int,
        kernel: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        output_padding: int | Sequence[int] = 0,
        bias: bool = True,
        name: str | None = None,
        trainable: bool = True,
    ) -> SSAValue:
        """Transposed conv (PyTorch ConvTranspose2d, groups 1; weight [Cin, Cout, kh, kw]);
        `padding` as for conv2d, output size (H-1)*stride - pads + kernel + output_padding."""
        shape = qtrain.tensor_shape(x)
        if len(shape) != 4:
            raise BuilderError(f"conv_transpose2d needs an [N, C, H, W] input, got shape {list(shape)}")
        c = shape[1]
        kh, kw = _pair(kernel)
        strides, pads, out_pad = _pair(stride), _pads(padding), _pair(output_padding)
        if any(p >= s for p, s in zip(out_pad, strides)):
            raise BuilderError(f"conv_transpose2d output_padding {list(out_pad)} must be below the stride {list(strides)}")
        oh, ow = qtrain.conv_transpose_output_hw(shape[2:], (kh, kw), strides, pads, out_pad)
        if oh < 1 or ow < 1 or pads[0] + pads[2] >= kh or pads[1] + pads[3] >= kw:
            raise BuilderError(f"conv_transpose2d padding {list(pads)} does not fit kernel {kh}x{kw}")
        name = self._auto_name("deconv", name)
        fan_in = out_channels * kh * kw  # PyTorch's fan-in of a [Cin, Cout, kh, kw] weight
        w = self.param(f"{name}.weight", self._uniform((c, out_channels, kh, kw), fan_in), trainable)
        b = self.param(f"{name}.bias", self._uniform((out_channels,), fan_in), trainable) if bias else None
        return self._b.insert(qtrain.ConvTranspose2dOp(x, w, b, strides, pads, out_pad)).output

    def sigmoid(self, x: SSAValue) -> SSAValue:
        return self._b.insert(qtrain.SigmoidOp(x)).output

    def exp(self, x: SSAValue) -> SSAValue:
        return self._b.insert(qtrain.ExpOp(x)).output

    def reparameterize(self, mu: SSAValue, logvar: SSAValue, seed: int = 0) -> SSAValue:
        """z = mu + exp(logvar / 2) * eps in training (fresh eps every step), z = mu in
        inference; with loss `elbo` the step adds this sample's KL term to the loss."""
        if mu.type != logvar.type:
            raise BuilderError(f"reparameterize needs mu and logvar of one shape, got {mu.type} and {logvar.type}")
        if not 0 <= seed < 2**31:
            raise BuilderError(f"reparameterize seed must be in [0, 2^31), got {seed}")
        return self._b.insert(qtrain.ReparameterizeOp(mu, logvar, seed)).output

    # -- result ---------------------------------------------------------------------------

    def build(self, *outputs: SSAValue, name: str = "forward") -> ModuleOp:
        """Finish: a module with the parameter symbols and `func.func @<name>` returning outputs."""
        if not outputs:
            raise BuilderError("build() needs at least one output value")
        self._b.insert(func.ReturnOp(*outputs))
        fn = func.FuncOp(
            name,
            ([a.type for a in self._block.args], [o.type for o in outputs]),
            Region(self._block),
        )
        module = ModuleOp([*self._params, fn])
        module.verify()
        return module


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    t = tuple(int(i) for i in v)
    if len(t) != 2:
        raise BuilderError(f"expected an int or two ints, got {list(v)}")
    return (t[0], t[1])


def _pads(v: int | Sequence[int]) -> tuple[int, int, int, int]:
    if isinstance(v, int):
        return (v, v, v, v)
    t = tuple(int(i) for i in v)
    if len(t) == 2:
        return (t[0], t[1], t[0], t[1])
    if len(t) == 4:
        return (t[0], t[1], t[2], t[3])
    raise BuilderError(f"padding must be an int, [ph, pw] or [top, left, bottom, right], got {list(v)}")


# --- sequential stack -------------------------------------------------------------------


@dataclass(frozen=True)
class Conv2d:
    out_channels: int
    kernel: int | tuple[int, int]
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, ...] = 0
    groups: int = 1
    bias: bool = True
    name: str | None = None


@dataclass(frozen=True)
class Dense:
    out_features: int
    bias: bool = True
    name: str | None = None


@dataclass(frozen=True)
class BatchNorm:
    name: str | None = None


@dataclass(frozen=True)
class ReLU:
    pass


@dataclass(frozen=True)
class ReLU6:
    pass


@dataclass(frozen=True)
class MaxPool2d:
    kernel: int | tuple[int, int]
    stride: int | tuple[int, int] | None = None
    padding: int | tuple[int, ...] = 0


@dataclass(frozen=True)
class AvgPool2d:
    kernel: int | tuple[int, int]
    stride: int | tuple[int, int] | None = None
    padding: int | tuple[int, ...] = 0
    count_include_pad: bool = False


@dataclass(frozen=True)
class GlobalAvgPool:
    pass


@dataclass(frozen=True)
class Flatten:
    axis: int = 1


Layer = Conv2d | Dense | BatchNorm | ReLU | ReLU6 | MaxPool2d | AvgPool2d | GlobalAvgPool | Flatten


@dataclass
class Sequential:
    """A plain stack of layers: `Sequential((1, 1, 28, 28), [Conv2d(8, 3), ReLU(), ...]).build()`."""

    input_shape: tuple[int, ...]
    layers: list[Layer] = field(default_factory=list[Layer])
    seed: int = 0

    def build(self) -> ModuleOp:
        b = GraphBuilder(self.input_shape, seed=self.seed)
        h = b.input
        for layer in self.layers:
            match layer:
                case Conv2d():
                    h = b.conv2d(h, layer.out_channels, layer.kernel, layer.stride, layer.padding,
                                 layer.groups, layer.bias, layer.name)
                case Dense():
                    h = b.dense(h, layer.out_features, layer.bias, layer.name)
                case BatchNorm():
                    h = b.batchnorm(h, layer.name)
                case ReLU():
                    h = b.relu(h)
                case ReLU6():
                    h = b.relu6(h)
                case MaxPool2d():
                    h = b.maxpool2d(h, layer.kernel, layer.stride, layer.padding)
                case AvgPool2d():
                    h = b.avgpool2d(h, layer.kernel, layer.stride, layer.padding, layer.count_include_pad)
                case GlobalAvgPool():
                    h = b.global_avgpool(h)
                case Flatten():
                    h = b.flatten(h, layer.axis)
        return b.build(h)


def mnist_cnn(seed: int = 0, batch: int = 1) -> ModuleOp:
    """The small CNN the demo trains: 2 conv + 2 dense layers on 1x28x28 inputs, ~19 k params."""
    return Sequential(
        (batch, 1, 28, 28),
        [
            Conv2d(8, 3, stride=2, padding=1, name="conv1"), ReLU(),
            Conv2d(16, 3, stride=2, padding=1, name="conv2"), ReLU(),
            Flatten(),
            Dense(32, name="fc1"), ReLU(),
            Dense(10, name="fc2"),
        ],
        seed=seed,
    ).build()


def mnist_mlp(seed: int = 0, batch: int = 1) -> ModuleOp:
    """A 784-64-10 MLP."""
    return Sequential(
        (batch, 784), [Dense(64, name="fc1"), ReLU(), Dense(10, name="fc2")], seed=seed
    ).build()


def residual_cnn(seed: int = 0, batch: int = 1) -> ModuleOp:
    """A CNN with one residual block, depthwise/pointwise convs and both pool kinds."""
    b = GraphBuilder((batch, 1, 16, 16), seed=seed)
    h = b.relu(b.conv2d(b.input, 8, 3, stride=1, padding=1, name="stem"))
    h = b.maxpool2d(h, 2)
    skip = h
    h = b.relu6(b.conv2d(h, 8, 3, padding=1, groups=8, name="dw"))
    h = b.conv2d(h, 8, 1, name="pw")
    h = b.relu(b.add(h, skip))
    h = b.avgpool2d(h, 2)
    h = b.global_avgpool(h)
    logits = b.dense(b.flatten(h), 10, name="fc")
    return b.build(logits)


# --- MobileNetV2-w0.35, as the Tiny Training Engine trains it (REFERENCES.md §3) ---------

MOBILENETV2_W035_BLOCKS: tuple[tuple[int, int, int], ...] = (
    (1, 8, 1),
    (6, 8, 2), (6, 8, 1),
    (6, 16, 2), (6, 16, 1), (6, 16, 1),
    (6, 24, 2), (6, 24, 1), (6, 24, 1), (6, 24, 1),
    (6, 32, 1), (6, 32, 1), (6, 32, 1),
    (6, 56, 2), (6, 56, 1), (6, 56, 1),
    (6, 112, 1),
)
"""(t = expansion, c = output channels, s = stride) of the 17 inverted-residual blocks. A block
has an identity residual exactly when s = 1 and its input already has c channels."""


def mobilenetv2_w035(num_classes: int = 10, resolution: int = 128, seed: int = 0) -> ModuleOp:
    """MobileNetV2-w0.35 as the Tiny Training Engine uses it: input 1x3xRxR, stem conv 3->16
    k3 s2, the 17 blocks of MOBILENETV2_W035_BLOCKS (pw1 1x1 + ReLU6 when t > 1, depthwise
    k3 + ReLU6, pw2 1x1 linear, identity residual), global average pool, dense 112 ->
    classes. No 1280-channel head conv. Batch norm is folded: every conv has a bias (as in
    TTE's int8 graph). At 128x128 with 10 classes: 16.65 M conv/dense MACs and 245,578
    parameters (TTE: "about 16.7 M MACs, 0.24 M parameters").

    Convs are named by their index in TTE's numbering, counted from the stem over every conv:
    `conv0` is the stem; the first block (t = 1) has no expansion conv, so it is dw = conv1,
    pw2 = conv2; the block b >= 1 (0-based over the 17 blocks) has pw1 = conv{3b}, dw =
    conv{3b+1}, pw2 = conv{3b+2}; the last block is conv48..conv50, 51 convs in all. The
    classifier is `classifier`. So TTE's "weights of convs 27, 30, ..., 48" are the expansion
    (pw1) convs of blocks 9..16 — see TTE_SPARSE_99KB."""
    b = GraphBuilder((1, 3, resolution, resolution), seed=seed)
    h = b.relu6(b.conv2d(b.input, 16, 3, stride=2, padding=1, name="conv0"))
    channels = 16
    for blk, (t, c, s) in enumerate(MOBILENETV2_W035_BLOCKS):
        x = h
        hidden = channels * t
        if t != 1:
            h = b.relu6(b.conv2d(h, hidden, 1, name=f"conv{3 * blk}"))
        h = b.relu6(b.conv2d(h, hidden, 3, stride=s, padding=1, groups=hidden, name=f"conv{3 * blk + 1}"))
        h = b.conv2d(h, c, 1, name=f"conv{3 * blk + 2}")
        if s == 1 and channels == c:
            h = b.add(h, x)
        channels = c
    logits = b.dense(b.flatten(b.global_avgpool(h)), num_classes, name="classifier")
    return b.build(logits)


TTE_SPARSE_99KB: dict[str, object] = {
    "mode": "sparse",
    "bias_k": 26,
    "sparse_weights": [
        "classifier.weight:1",
        "conv27.weight:1",
        "conv30.weight:1",
        "conv33.weight:1",
        "conv36.weight:1",
        "conv39.weight:1",
        "conv42.weight:0.125",
        "conv45.weight:0.5",
        "conv48.weight:1",
    ],
}
"""TTE's MobileNetV2-w0.35 "99 KB" sparse update as `[train]` keys of a train.toml (see
examples/mobilenetv2_tte_sparse.toml): the biases of the last 25 convs (conv26..conv50) plus
the classifier's — `bias_k` counts layers and the classifier is the last one, hence 26 —;
the weights of conv27, 30, 33, 36, 39 and 48 fully, conv42 at 1/8 and conv45 at 1/2 of
their output channels (the first ones); the classifier weight fully."""


EXAMPLES = {
    "mnist-cnn": mnist_cnn,
    "mnist-mlp": mnist_mlp,
    "residual-cnn": residual_cnn,
    "mobilenetv2-w035": mobilenetv2_w035,
}
