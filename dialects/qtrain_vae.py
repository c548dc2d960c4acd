"""`qtrain` ops for variational autoencoders: conv-transpose, sigmoid, exp, the
reparameterization sample, the KL term and the binary cross-entropy reconstruction loss.

Semantics in `odtc.runtime.vae` (numpy; the sampling ops bit for bit with the C kernels
in runtime/c/src/vae_f32.c).

Design notes (why the ops look like this):

* `qtrain.conv_transpose2d` has no backward ops of its own. With the PyTorch weight layout
  [Cin, Cout, kh, kw] its forward *is* `conv2d_grad_input` of a conv2d with the same
  weight, so its input gradient is a plain `qtrain.conv2d` of the output error and its
  weight gradient is `qtrain.conv2d_grad_weight` with the roles of input and error
  swapped. Autodiff emits those existing ops, so pruning, fused SGD updates, scheduling
  and the int8 kernels work for the decoder without new cases.
* `qtrain.reparameterize %mu, %logvar` is z = mu + exp(logvar / 2) * eps. In `@forward`
  (inference) it has no `step` operand and returns mu, as a VAE is evaluated (like dropout
  in eval mode). `qtrain-autodiff` gives the training copy a `step` operand, an i32 counter
  state advanced once per training step, so every step draws fresh noise from a
  counter-based generator: eps depends only on (seed, step, element index), which is what
  lets the interpreter and the C produce the same bits, and lets the backward op
  *recompute* eps instead of storing it.
* The KL term belongs to the sampling op (as Keras' `add_loss`): with loss `elbo`,
  autodiff adds `beta * kl_divergence(mu, logvar)` for every reparameterize op to the
  reconstruction loss and seeds mu's and logvar's gradients with its derivatives.
* The reconstruction loss takes the *logits* of the output sigmoid
  (`qtrain.sigmoid_bce`, PyTorch's BCEWithLogits with sum reduction); its gradient
  sigmoid(x) - t is exact where the chained sigmoid_grad * BCE-on-probabilities would
  divide by p(1 - p) and vanish once the sigmoid saturates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    Float64Type,
    FloatAttr,
    IntegerAttr,
    TensorType,
    i32,
    i64,
)
from xdsl.ir import SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    VarConstraint,
    base,
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    prop_def,
    result_def,
)

from odtc.dialects.qtrain_fqt import (
    _AccStream,  # pyright: ignore[reportPrivateUsage]
    _QGradWeightSgd,  # pyright: ignore[reportPrivateUsage]
    _q8,  # pyright: ignore[reportPrivateUsage]
    _require_acc,  # pyright: ignore[reportPrivateUsage]
    _scalar,  # pyright: ignore[reportPrivateUsage]
    _verify_acc_layer,  # pyright: ignore[reportPrivateUsage]
    _zp,  # pyright: ignore[reportPrivateUsage]
    acc_type,
)
from odtc.dialects.qtrain import (
    QuantType,
    _ActivationGrad,  # pyright: ignore[reportPrivateUsage]
    _err,  # pyright: ignore[reportPrivateUsage]
    _fmt,  # pyright: ignore[reportPrivateUsage]
    _i64_array,  # pyright: ignore[reportPrivateUsage]
    _ints,  # pyright: ignore[reportPrivateUsage]
    _require_f32,  # pyright: ignore[reportPrivateUsage]
    _require_rank,  # pyright: ignore[reportPrivateUsage]
    _require_shape,  # pyright: ignore[reportPrivateUsage]
    _require_tensor,  # pyright: ignore[reportPrivateUsage]
    _tensor,  # pyright: ignore[reportPrivateUsage]
    _UnaryElementwise,  # pyright: ignore[reportPrivateUsage]
    tensor_shape,
)


def conv_transpose_output_hw(
    hw: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    output_padding: Sequence[int],
) -> tuple[int, int]:
    """(H-1)*s - pad_before - pad_after + k + output_padding, per axis; padding is
    (top, left, bottom, right) as for conv2d."""
    oh = (hw[0] - 1) * stride[0] - padding[0] - padding[2] + kernel[0] + output_padding[0]
    ow = (hw[1] - 1) * stride[1] - padding[1] - padding[3] + kernel[1] + output_padding[1]
    return oh, ow


def _check_transpose_geometry(
    op: IRDLOperation, kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int], out_pad: Sequence[int]
) -> None:
    """What makes a conv-transpose the adjoint of a conv: output_padding < stride per axis and
    some kernel tap inside the output."""
    for axis in range(2):
        if out_pad[axis] >= stride[axis]:
            raise _err(op, f"output_padding {_fmt(out_pad)} must be smaller than the stride {_fmt(stride)} per axis")
    if padding[0] + padding[2] >= kernel[0] or padding[1] + padding[3] >= kernel[1]:
        raise _err(op, f"padding {_fmt(padding)} leaves no kernel tap of {_fmt(kernel)} inside the output")


def _f64(v: float) -> FloatAttr:
    return FloatAttr(v, Float64Type())


@irdl_op_definition
class ConvTranspose2dOp(IRDLOperation):
    """Transposed 2-D convolution (PyTorch ConvTranspose2d, groups 1): NCHW input,
    weight [Cin, Cout, kh, kw], bias [Cout]; output size (H-1)*s - pads + k + output_padding.

    `%y = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (...) -> tensor<1x16x14x14xf32>`
    """

    name = "qtrain.conv_transpose2d"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    output = result_def(TensorType)
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    output_padding = prop_def(DenseArrayBase[I64])
    assembly_format = (
        "$input `,` $weight (`,` $bias^)? `stride` $stride `padding` $padding `output_padding` $output_padding "
        "attr-dict `:` functional-type(operands, results)"
    )

    def __init__(
        self,
        x: SSAValue,
        w: SSAValue,
        b: SSAValue | None,
        stride: Sequence[int] = (1, 1),
        padding: Sequence[int] = (0, 0, 0, 0),
        output_padding: Sequence[int] = (0, 0),
    ) -> None:
        n, _, h, wd = tensor_shape(x)
        _, o, kh, kw = tensor_shape(w)
        oh, ow = conv_transpose_output_hw((h, wd), (kh, kw), stride, padding, output_padding)
        super().__init__(
            operands=[x, w, b],
            result_types=[_tensor((n, o, oh, ow))],
            properties={
                "stride": _i64_array(stride),
                "padding": _i64_array(padding),
                "output_padding": _i64_array(output_padding),
            },
        )

    def verify_(self) -> None:
        for what, v in (("input", self.input), ("weight", self.weight), ("result", self.output)):
            _require_f32(self, what, v)
        if self.bias is not None:
            _require_f32(self, "bias", self.bias)
        _require_rank(self, "input", self.input, (4,))
        _require_rank(self, "weight", self.weight, (4,))
        n, c, h, wd = tensor_shape(self.input)
        ci, o, kh, kw = tensor_shape(self.weight)
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        out_pad = _ints(self.output_padding, 2, self, "output_padding", 0)
        if ci != c:
            raise _err(
                self,
                f"weight has {ci} input channels but input has {c} "
                f"(weight shape {_fmt((ci, o, kh, kw))} is [Cin, Cout, kh, kw], input shape {_fmt((n, c, h, wd))})",
            )
        _check_transpose_geometry(self, (kh, kw), stride, padding, out_pad)
        if self.bias is not None:
            _require_shape(self, "bias", self.bias, (o,))
        oh, ow = conv_transpose_output_hw((h, wd), (kh, kw), stride, padding, out_pad)
        if oh < 1 or ow < 1:
            raise _err(self, f"output size {_fmt((oh, ow))} is empty")
        _require_shape(self, "result", self.output, (n, o, oh, ow))


@irdl_op_definition
class ConvTranspose2dGradInputOp(IRDLOperation):
    """dL/dx of conv_transpose2d: the conv2d (groups 1, no bias) of the output error with
    the same weight, read as OIHW = [Cin, Cout, kh, kw]; the result has the input's shape.
    (The weight gradient is `qtrain.conv2d_grad_weight` with input and error swapped, the
    bias gradient `qtrain.conv2d_grad_bias`.) Its own op, not a `qtrain.conv2d`, because
    passes treat conv2d as a forward layer (quantization ranges, MAC accounting).

    `%dx = qtrain.conv_transpose2d_grad_input %dy, %w stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (...) -> tensor<1x32x7x7xf32>`
    """

    name = "qtrain.conv_transpose2d_grad_input"
    output_grad = operand_def(TensorType)
    weight = operand_def(TensorType)
    input_grad = result_def(TensorType)
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    output_padding = prop_def(DenseArrayBase[I64])
    assembly_format = (
        "$output_grad `,` $weight `stride` $stride `padding` $padding `output_padding` $output_padding "
        "attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, dy: SSAValue, w: SSAValue, input_type: TensorType, op: ConvTranspose2dOp) -> None:
        super().__init__(
            operands=[dy, w],
            result_types=[input_type],
            properties={"stride": op.stride, "padding": op.padding, "output_padding": op.output_padding},
        )

    def verify_(self) -> None:
        for what, v in (("output error", self.output_grad), ("weight", self.weight), ("result", self.input_grad)):
            _require_f32(self, what, v)
        _require_rank(self, "result", self.input_grad, (4,))
        _require_rank(self, "weight", self.weight, (4,))
        n, c, h, wd = tensor_shape(self.input_grad)
        ci, o, kh, kw = tensor_shape(self.weight)
        if ci != c:
            raise _err(self, f"weight has {ci} input channels but the result has {c}")
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        out_pad = _ints(self.output_padding, 2, self, "output_padding", 0)
        _check_transpose_geometry(self, (kh, kw), stride, padding, out_pad)
        oh, ow = conv_transpose_output_hw((h, wd), (kh, kw), stride, padding, out_pad)
        _require_shape(self, "output error", self.output_grad, (n, o, oh, ow))


@irdl_op_definition
class SigmoidOp(_UnaryElementwise):
    """1 / (1 + exp(-x)): `%y = qtrain.sigmoid %x : tensor<1x1x28x28xf32>`."""

    name = "qtrain.sigmoid"


@irdl_op_definition
class ExpOp(_UnaryElementwise):
    """exp(x): `%y = qtrain.exp %x : tensor<1x10xf32>`."""

    name = "qtrain.exp"


@irdl_op_definition
class SigmoidGradOp(_ActivationGrad):
    """dx = dy * y * (1 - y) from the forward *output* y.

    `%dx = qtrain.sigmoid_grad %dy, %y : tensor<1x1x28x28xf32>`
    """

    name = "qtrain.sigmoid_grad"


@irdl_op_definition
class ExpGradOp(_ActivationGrad):
    """dx = dy * y from the forward *output* y.

    `%dx = qtrain.exp_grad %dy, %y : tensor<1x10xf32>`
    """

    name = "qtrain.exp_grad"


def _require_step(op: IRDLOperation, step: SSAValue) -> None:
    t = _require_tensor(op, "step", step)
    if t.get_shape() or t.element_type != i32:
        raise _err(op, f"step must be tensor<i32>, got {step.type}")


def _require_same_shape(op: IRDLOperation, a: tuple[str, SSAValue], b: tuple[str, SSAValue]) -> None:
    sa, sb = tensor_shape(a[1]), tensor_shape(b[1])
    if sa != sb:
        raise _err(op, f"{a[0]} shape {_fmt(sa)} and {b[0]} shape {_fmt(sb)} differ")


@irdl_op_definition
class ReparameterizeOp(IRDLOperation):
    """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I) from the counter-based generator
    (seed, step, element); without `step` (inference) z = mu.

    `%z = qtrain.reparameterize %mu, %logvar step %s seed 0 : (tensor<1x10xf32>, tensor<1x10xf32>, tensor<i32>) -> tensor<1x10xf32>`
    """

    name = "qtrain.reparameterize"
    mu = operand_def(TensorType)
    logvar = operand_def(TensorType)
    step = opt_operand_def(TensorType)
    output = result_def(TensorType)
    seed = prop_def(IntegerAttr[I64])
    assembly_format = (
        "$mu `,` $logvar (`step` $step^)? `seed` $seed attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, mu: SSAValue, logvar: SSAValue, seed: int = 0, step: SSAValue | None = None) -> None:
        super().__init__(
            operands=[mu, logvar, step], result_types=[mu.type], properties={"seed": IntegerAttr(seed, i64)}
        )

    def verify_(self) -> None:
        for what, v in (("mu", self.mu), ("logvar", self.logvar), ("result", self.output)):
            _require_f32(self, what, v)
        _require_same_shape(self, ("mu", self.mu), ("logvar", self.logvar))
        _require_shape(self, "result", self.output, tensor_shape(self.mu))
        if self.step is not None:
            _require_step(self, self.step)
        if not 0 <= self.seed.value.data < 2**31:
            raise _err(self, f"seed must be in [0, 2^31), got {self.seed.value.data}")


@irdl_op_definition
class ReparameterizeGradLogvarOp(IRDLOperation):
    """dlogvar = dz * exp(logvar / 2) * eps / 2, eps recomputed from (seed, step): nothing
    of the sample is stored. (dmu = dz needs no op.)

    `%dlv = qtrain.reparameterize_grad_logvar %dz, %logvar step %s seed 0 : (...) -> tensor<1x10xf32>`
    """

    name = "qtrain.reparameterize_grad_logvar"
    output_grad = operand_def(TensorType)
    logvar = operand_def(TensorType)
    step = operand_def(TensorType)
    logvar_grad = result_def(TensorType)
    seed = prop_def(IntegerAttr[I64])
    assembly_format = (
        "$output_grad `,` $logvar `step` $step `seed` $seed attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, dz: SSAValue, logvar: SSAValue, step: SSAValue, seed: int) -> None:
        super().__init__(
            operands=[dz, logvar, step], result_types=[logvar.type], properties={"seed": IntegerAttr(seed, i64)}
        )

    def verify_(self) -> None:
        for what, v in (("output error", self.output_grad), ("logvar", self.logvar), ("result", self.logvar_grad)):
            _require_f32(self, what, v)
        _require_same_shape(self, ("output error", self.output_grad), ("logvar", self.logvar))
        _require_shape(self, "result", self.logvar_grad, tensor_shape(self.logvar))
        _require_step(self, self.step)
        if not 0 <= self.seed.value.data < 2**31:
            raise _err(self, f"seed must be in [0, 2^31), got {self.seed.value.data}")


def _check_beta(op: IRDLOperation, beta: FloatAttr) -> None:
    if not beta.value.data >= 0.0:
        raise _err(op, f"beta must be >= 0, got {beta.value.data}")


@irdl_op_definition
class KlDivergenceOp(IRDLOperation):
    """beta * KL(N(mu, exp(logvar)) || N(0, I)) = beta * -0.5 * sum(1 + logvar - mu^2 - exp(logvar)).

    `%kl = qtrain.kl_divergence %mu, %logvar beta 1.0 : (tensor<1x10xf32>, tensor<1x10xf32>) -> tensor<f32>`
    """

    name = "qtrain.kl_divergence"
    mu = operand_def(TensorType)
    logvar = operand_def(TensorType)
    loss = result_def(TensorType)
    beta = prop_def(FloatAttr[Float64Type])
    assembly_format = "$mu `,` $logvar `beta` $beta attr-dict `:` functional-type(operands, results)"

    def __init__(self, mu: SSAValue, logvar: SSAValue, beta: float = 1.0) -> None:
        super().__init__(operands=[mu, logvar], result_types=[_tensor(())], properties={"beta": _f64(beta)})

    def verify_(self) -> None:
        for what, v in (("mu", self.mu), ("logvar", self.logvar), ("loss", self.loss)):
            _require_f32(self, what, v)
        _require_same_shape(self, ("mu", self.mu), ("logvar", self.logvar))
        _require_shape(self, "loss", self.loss, ())
        _check_beta(self, self.beta)


@irdl_op_definition
class KlDivergenceGradMuOp(IRDLOperation):
    """d(beta * KL)/dmu = beta * mu.

    `%dmu = qtrain.kl_divergence_grad_mu %mu beta 1.0 : tensor<1x10xf32>`
    """

    name = "qtrain.kl_divergence_grad_mu"
    T: ClassVar = VarConstraint("T", base(TensorType))
    mu = operand_def(T)
    mu_grad = result_def(T)
    beta = prop_def(FloatAttr[Float64Type])
    assembly_format = "$mu `beta` $beta attr-dict `:` type($mu)"

    def __init__(self, mu: SSAValue, beta: float = 1.0) -> None:
        super().__init__(operands=[mu], result_types=[mu.type], properties={"beta": _f64(beta)})

    def verify_(self) -> None:
        _require_f32(self, "mu", self.mu)
        _require_shape(self, "result", self.mu_grad, tensor_shape(self.mu))
        _check_beta(self, self.beta)


@irdl_op_definition
class KlDivergenceGradLogvarOp(IRDLOperation):
    """d(beta * KL)/dlogvar = beta * 0.5 * (exp(logvar) - 1).

    `%dlv = qtrain.kl_divergence_grad_logvar %logvar beta 1.0 : tensor<1x10xf32>`
    """

    name = "qtrain.kl_divergence_grad_logvar"
    T: ClassVar = VarConstraint("T", base(TensorType))
    logvar = operand_def(T)
    logvar_grad = result_def(T)
    beta = prop_def(FloatAttr[Float64Type])
    assembly_format = "$logvar `beta` $beta attr-dict `:` type($logvar)"

    def __init__(self, logvar: SSAValue, beta: float = 1.0) -> None:
        super().__init__(operands=[logvar], result_types=[logvar.type], properties={"beta": _f64(beta)})

    def verify_(self) -> None:
        _require_f32(self, "logvar", self.logvar)
        _require_shape(self, "result", self.logvar_grad, tensor_shape(self.logvar))
        _check_beta(self, self.beta)


@irdl_op_definition
class SigmoidBceOp(IRDLOperation):
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1], summed over all
    elements: sum(max(x, 0) - x * t + log(1 + exp(-|x|))).

    `%l = qtrain.sigmoid_bce %logits, %target : (tensor<1x1x28x28xf32>, tensor<1x1x28x28xf32>) -> tensor<f32>`
    """

    name = "qtrain.sigmoid_bce"
    logits = operand_def(TensorType)
    target = operand_def(TensorType)
    loss = result_def(TensorType)
    assembly_format = "$logits `,` $target attr-dict `:` functional-type(operands, results)"

    def __init__(self, logits: SSAValue, target: SSAValue) -> None:
        super().__init__(operands=[logits, target], result_types=[_tensor(())])

    def verify_(self) -> None:
        for what, v in (("logits", self.logits), ("target", self.target), ("loss", self.loss)):
            _require_f32(self, what, v)
        _require_same_shape(self, ("logits", self.logits), ("target", self.target))
        _require_shape(self, "loss", self.loss, ())


@irdl_op_definition
class SigmoidBceGradOp(IRDLOperation):
    """dL/dlogits of sigmoid_bce: sigmoid(x) - t.

    `%dx = qtrain.sigmoid_bce_grad %logits, %target : (...) -> tensor<1x1x28x28xf32>`
    """

    name = "qtrain.sigmoid_bce_grad"
    logits = operand_def(TensorType)
    target = operand_def(TensorType)
    logits_grad = result_def(TensorType)
    assembly_format = "$logits `,` $target attr-dict `:` functional-type(operands, results)"

    def __init__(self, logits: SSAValue, target: SSAValue) -> None:
        super().__init__(operands=[logits, target], result_types=[logits.type])

    def verify_(self) -> None:
        for what, v in (("logits", self.logits), ("target", self.target), ("result", self.logits_grad)):
            _require_f32(self, what, v)
        _require_same_shape(self, ("logits", self.logits), ("target", self.target))
        _require_shape(self, "result", self.logits_grad, tensor_shape(self.logits))


# ---------------------------------------------------------------------------------------
# Fully quantized training (qtrain-quantize): the conv-transpose with int32 accumulation.
# Semantics: odtc.runtime.fqt_vae (exact integers); kernels runtime/c/src/vae_q.c. Its input
# gradient is `qtrain.qconv2d_acc` of the int8 error with the same weight (read as OIHW);
# its weight gradient needs its own op because the activation (uint8 in the u8 scheme)
# plays the role the int8 error plays in qconv2d_grad_weight.
# ---------------------------------------------------------------------------------------


@irdl_op_definition
class QConvTranspose2dAccOp(IRDLOperation):
    """acc = rint(b / s) + the transposed convolution of (x − zx) with (w − zw), int32.

    `%acc = qtrain.qconv_transpose2d_acc %x[%zx], %w[%zw], %b[%s] stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (...) -> tensor<1x16x14x14x!qtrain.q<si32, sym>>`
    """

    name = "qtrain.qconv_transpose2d_acc"
    input = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    weight = operand_def(TensorType)
    weight_zero_point = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    acc_scale = opt_operand_def(TensorType)
    output = result_def(TensorType)
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    output_padding = prop_def(DenseArrayBase[I64])
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    # several optional operands: generic syntax (as the other accumulating layers)

    def __init__(
        self, x: SSAValue, zx: SSAValue, w: SSAValue, zw: SSAValue, b: SSAValue | None, s: SSAValue | None,
        op: ConvTranspose2dOp,
    ) -> None:
        super().__init__(
            operands=[x, zx, w, zw, b, s],
            result_types=[_tensor(tensor_shape(op.output), acc_type())],
            properties={"stride": op.stride, "padding": op.padding, "output_padding": op.output_padding},
        )

    def verify_(self) -> None:
        _verify_acc_layer(self, self.input, self.input_zero_point, self.weight, self.weight_zero_point,
                          None, None, self.output, per_channel_ok=False)  # the kernel is per-tensor
        if (self.bias is None) != (self.acc_scale is None):
            raise _err(self, "a bias needs the accumulator scale")
        if self.acc_scale is not None:
            _scalar(self, "accumulator scale", self.acc_scale)
        _require_rank(self, "input", self.input, (4,))
        _require_rank(self, "weight", self.weight, (4,))
        n, c, h, wd = tensor_shape(self.input)
        ci, o, kh, kw = tensor_shape(self.weight)
        if ci != c:
            raise _err(self, f"weight has {ci} input channels but input has {c}")
        if self.bias is not None:
            _require_f32(self, "bias", self.bias)
            _require_shape(self, "bias", self.bias, (o,))
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        out_pad = _ints(self.output_padding, 2, self, "output_padding", 0)
        _check_transpose_geometry(self, (kh, kw), stride, padding, out_pad)
        oh, ow = conv_transpose_output_hw((h, wd), (kh, kw), stride, padding, out_pad)
        _require_shape(self, "result", self.output, (n, o, oh, ow))


@irdl_op_definition
class QConvTranspose2dGradWeightOp(IRDLOperation):
    """int32 weight gradient of conv_transpose2d: Σ (x − zx)·(e − ze) over the taps, [Cin, Cout, kh, kw].

    `%g = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 2] padding [1, 1, 1, 1] : (...) -> tensor<32x16x3x3x!qtrain.q<si32, sym>>`
    """

    name = "qtrain.qconv_transpose2d_grad_weight"
    input = operand_def(TensorType)
    input_zero_point = operand_def(TensorType)
    output_grad = operand_def(TensorType)
    output_grad_zero_point = operand_def(TensorType)
    weight_grad = result_def(TensorType)
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    assembly_format = (
        "$input `[` $input_zero_point `]` `,` $output_grad `[` $output_grad_zero_point `]` "
        "`stride` $stride `padding` $padding attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, x: SSAValue, zx: SSAValue, e: SSAValue, ze: SSAValue, weight_shape: Sequence[int],
                 stride: DenseArrayBase, padding: DenseArrayBase) -> None:
        super().__init__(
            operands=[x, zx, e, ze],
            result_types=[_tensor(weight_shape, acc_type())],
            properties={"stride": stride, "padding": padding},
        )

    def verify_(self) -> None:
        _q8(self, "input", self.input)
        eq = _q8(self, "output error", self.output_grad)
        if not eq.is_signed:
            raise _err(self, f"output error must be signed int8, got {eq}")
        _zp(self, "input", self.input_zero_point)
        _zp(self, "output error", self.output_grad_zero_point)
        _require_acc(self, "result", self.weight_grad)
        for what, v in (("input", self.input), ("output error", self.output_grad), ("result", self.weight_grad)):
            _require_rank(self, what, v, (4,))
        n, c, h, wd = tensor_shape(self.input)
        ci, o, kh, kw = tensor_shape(self.weight_grad)
        if ci != c:
            raise _err(self, f"result has {ci} input channels but input has {c}")
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        en, eo, eh, ew = tensor_shape(self.output_grad)
        lo_h, lo_w = conv_transpose_output_hw((h, wd), (kh, kw), stride, padding, (0, 0))
        if en != n or eo != o or not (lo_h <= eh < lo_h + stride[0]) or not (lo_w <= ew < lo_w + stride[1]):
            raise _err(
                self,
                f"output error shape {_fmt((en, eo, eh, ew))} is not the conv-transpose output of input "
                f"{_fmt((n, c, h, wd))} with weight {_fmt((ci, o, kh, kw))}",
            )


@irdl_op_definition
class QConvTranspose2dGradWeightSgdOp(_QGradWeightSgd):
    """`qconv_transpose2d_grad_weight` fused with the quantized SGD step, one weight row at
    a time: row ci of the [Cin, Cout, kh, kw] weight (its Cout·kh·kw taps, contiguous) gets
    its int32 gradient and is updated at once on the held grid (`qdense_grad_weight_sgd`'s
    rule, runtime/fqt.py `qgrad_weight_sgd_apply`), so no [Cin, ...] int32 gradient buffer
    exists. Rows are input channels here, so a `select` list (partial updates pick output
    structures by their error) is not taken: every row is updated.

    `"qtrain.qconv_transpose2d_grad_weight_sgd"(%x, %zx, %e, %ze, %sg, %sw, %zw, %t) <{param = @dec.deconv1.weight, row_range = @dec.deconv1.weight.row_range, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, lr = 1.0e-02 : f64, rounding = "stochastic", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 1>}> : (...) -> ()`
    """

    name = "qtrain.qconv_transpose2d_grad_weight_sgd"
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])

    def __init__(self, param: str, row_range: str, x: SSAValue, zx: SSAValue, e: SSAValue, ze: SSAValue,
                 g_scale: SSAValue, sw: SSAValue, zw: SSAValue, stride: DenseArrayBase, padding: DenseArrayBase,
                 lr: float, rounding: str, seed: int, step: SSAValue | None = None) -> None:
        props = self._props(param, row_range, lr, rounding, seed)
        props.update({"stride": stride, "padding": padding})
        super().__init__(operands=[x, zx, e, ze, g_scale, sw, zw, None, None, step], properties=props)

    def verify_(self) -> None:
        _require_rank(self, "input", self.input, (4,))
        _require_rank(self, "output error", self.output_grad, (4,))
        eq = _q8(self, "output error", self.output_grad)
        if not eq.is_signed:
            raise _err(self, f"output error must be signed int8, got {eq}")
        if self.select is not None or self.select_count is not None:
            raise _err(self, "takes no select list: its rows are input channels, every row is updated")
        n, c, h, wd = tensor_shape(self.input)
        shape = self._verify_common(c, per_channel_ok=False)  # the kernel is per-tensor
        if shape is None:
            return
        en, eo, eh, ew = tensor_shape(self.output_grad)
        if len(shape) != 4 or shape[0] != c or shape[1] != eo:
            raise _err(self, f"{self.param} has shape {_fmt(shape)} but the input has {c} channels "
                             f"and the output error {eo}")
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        lo_h, lo_w = conv_transpose_output_hw((h, wd), (shape[2], shape[3]), stride, padding, (0, 0))
        if en != n or not (lo_h <= eh < lo_h + stride[0]) or not (lo_w <= ew < lo_w + stride[1]):
            raise _err(
                self,
                f"output error shape {_fmt((en, eo, eh, ew))} is not the conv-transpose output of input "
                f"{_fmt((n, c, h, wd))} with weight {_fmt(shape)}",
            )


@irdl_op_definition
class QConvTranspose2dAccStreamOp(_AccStream):
    """`qtrain.qconv_transpose2d_acc` streamed channel by channel into its range or its
    requantized 8-bit result (qtrain_fqt `_AccStream`).

    `%y = "qtrain.qconv_transpose2d_acc_stream"(%x, %zx, %w, %zw, %b, %s, %sy, %zy) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1>}> : (...) -> tensor<1x16x14x14x!qtrain.q<ui8, asym>>`
    """

    name = "qtrain.qconv_transpose2d_acc_stream"
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    output_padding = prop_def(DenseArrayBase[I64])

    def __init__(self, acc: QConvTranspose2dAccOp, acc_scale: SSAValue, relu: bool,
                 out_scale: SSAValue | None = None, out_zero_point: SSAValue | None = None,
                 out_type: QuantType | None = None) -> None:
        self._init(acc, acc_scale, relu, out_scale, out_zero_point, out_type,
                   {"stride": acc.stride, "padding": acc.padding, "output_padding": acc.output_padding})

    def verify_(self) -> None:
        _require_rank(self, "input", self.input, (4,))
        _require_rank(self, "weight", self.weight, (4,))
        n, c, h, wd = tensor_shape(self.input)
        ci, o, kh, kw = tensor_shape(self.weight)
        self._verify_stream(o)
        if ci != c:
            raise _err(self, f"weight has {ci} input channels but input has {c}")
        stride = _ints(self.stride, 2, self, "stride", 1)
        padding = _ints(self.padding, 4, self, "padding", 0)
        out_pad = _ints(self.output_padding, 2, self, "output_padding", 0)
        _check_transpose_geometry(self, (kh, kw), stride, padding, out_pad)
        oh, ow = conv_transpose_output_hw((h, wd), (kh, kw), stride, padding, out_pad)
        self._check_result_shape((n, o, oh, ow))


VAE_QUANT_OPS: tuple[type[IRDLOperation], ...] = (QConvTranspose2dAccOp, QConvTranspose2dGradWeightOp,
                                                  QConvTranspose2dGradWeightSgdOp, QConvTranspose2dAccStreamOp)

VAE_FORWARD_OPS: tuple[type[IRDLOperation], ...] = (ConvTranspose2dOp, SigmoidOp, ExpOp, ReparameterizeOp)
VAE_LOSS_OPS: tuple[type[IRDLOperation], ...] = (KlDivergenceOp, SigmoidBceOp)
VAE_BACKWARD_OPS: tuple[type[IRDLOperation], ...] = (
    ConvTranspose2dGradInputOp,
    SigmoidGradOp,
    ExpGradOp,
    ReparameterizeGradLogvarOp,
    KlDivergenceGradMuOp,
    KlDivergenceGradLogvarOp,
    SigmoidBceGradOp,
)
VAE_OPS = VAE_FORWARD_OPS + VAE_LOSS_OPS + VAE_BACKWARD_OPS + VAE_QUANT_OPS

__all__ = [
    "VAE_BACKWARD_OPS",
    "VAE_FORWARD_OPS",
    "VAE_LOSS_OPS",
    "VAE_OPS",
    "VAE_QUANT_OPS",
    "conv_transpose_output_hw",
] + [c.__name__ for c in VAE_OPS]
