"""Interpreter implementations of the VAE ops (dialects/qtrain_vae.py).

Semantics are `odtc.runtime.vae`'s. The sampling ops are always the bit-exact f32
sequence of the C kernels (eps must be the same bits everywhere); the others use the
float64 reference, or the C kernels' exact f32 sequence when the op carries
`qtrain.c_f32` (as in a fully quantized step, which is bit-exact end to end).
"""

from __future__ import annotations

from typing import Any

from xdsl.interpreter import Interpreter, InterpreterFunctions, impl, register_impls

from odtc.dialects import qtrain as qt
from odtc.runtime import reference as ref
from odtc.runtime import fqt_vae, vae
from odtc.runtime.interpreter import (  # pyright: ignore[reportPrivateUsage]
    C_F32,
    _Args,
    _ints,
    _result,
    acc_stream_result,
    apply_fused_qsgd,
)


def _step(v: Any) -> int:
    return int(v)


@register_impls
class VaeFunctions(InterpreterFunctions):
    @impl(qt.ConvTranspose2dOp)
    def run_conv_transpose2d(
        self, interpreter: Interpreter, op: qt.ConvTranspose2dOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        y = vae.conv_transpose2d(
            a[op.input],
            a[op.weight],
            a.opt(op.bias),
            _ints(op.stride.get_values()),
            _ints(op.padding.get_values()),
            _ints(op.output_padding.get_values()),
        )
        return _result(op, y)

    @impl(qt.ConvTranspose2dGradInputOp)
    def run_conv_transpose2d_grad_input(
        self, interpreter: Interpreter, op: qt.ConvTranspose2dGradInputOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        dx = ref.conv2d(a[op.output_grad], a[op.weight], None, _ints(op.stride.get_values()),
                        _ints(op.padding.get_values()), 1)
        return _result(op, dx)

    @impl(qt.SigmoidOp)
    def run_sigmoid(self, interpreter: Interpreter, op: qt.SigmoidOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        if C_F32 in op.attributes:
            return _result(op, vae.sigmoid_c_f32(args[0]))
        return _result(op, vae.sigmoid(args[0]))

    @impl(qt.ExpOp)
    def run_exp(self, interpreter: Interpreter, op: qt.ExpOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        if C_F32 in op.attributes:
            return _result(op, vae.exp_c_f32(args[0]))
        return _result(op, vae.exp(args[0]))

    @impl(qt.SigmoidGradOp)
    def run_sigmoid_grad(
        self, interpreter: Interpreter, op: qt.SigmoidGradOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        fn = vae.sigmoid_grad_c_f32 if C_F32 in op.attributes else vae.sigmoid_grad
        return _result(op, fn(a[op.output_grad], a[op.output]))

    @impl(qt.ExpGradOp)
    def run_exp_grad(self, interpreter: Interpreter, op: qt.ExpGradOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        fn = vae.exp_grad_c_f32 if C_F32 in op.attributes else vae.exp_grad
        return _result(op, fn(a[op.output_grad], a[op.output]))

    @impl(qt.ReparameterizeOp)
    def run_reparameterize(
        self, interpreter: Interpreter, op: qt.ReparameterizeOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        if op.step is None:  # inference: the mean
            return _result(op, a[op.mu].copy())
        z = vae.reparameterize(a[op.mu], a[op.logvar], op.seed.value.data, _step(a[op.step]))
        return _result(op, z)

    @impl(qt.ReparameterizeGradLogvarOp)
    def run_reparameterize_grad_logvar(
        self, interpreter: Interpreter, op: qt.ReparameterizeGradLogvarOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        d = vae.reparameterize_grad_logvar(a[op.output_grad], a[op.logvar], op.seed.value.data, _step(a[op.step]))
        return _result(op, d)

    @impl(qt.KlDivergenceOp)
    def run_kl_divergence(
        self, interpreter: Interpreter, op: qt.KlDivergenceOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        fn = vae.kl_divergence_c_f32 if C_F32 in op.attributes else vae.kl_divergence
        return _result(op, fn(a[op.mu], a[op.logvar], op.beta.value.data))

    @impl(qt.KlDivergenceGradMuOp)
    def run_kl_divergence_grad_mu(
        self, interpreter: Interpreter, op: qt.KlDivergenceGradMuOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        fn = vae.kl_divergence_grad_mu_c_f32 if C_F32 in op.attributes else vae.kl_divergence_grad_mu
        return _result(op, fn(args[0], op.beta.value.data))

    @impl(qt.KlDivergenceGradLogvarOp)
    def run_kl_divergence_grad_logvar(
        self, interpreter: Interpreter, op: qt.KlDivergenceGradLogvarOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        fn = vae.kl_divergence_grad_logvar_c_f32 if C_F32 in op.attributes else vae.kl_divergence_grad_logvar
        return _result(op, fn(args[0], op.beta.value.data))

    @impl(qt.SigmoidBceOp)
    def run_sigmoid_bce(self, interpreter: Interpreter, op: qt.SigmoidBceOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
        a = _Args(op, args)
        fn = vae.sigmoid_bce_c_f32 if C_F32 in op.attributes else vae.sigmoid_bce
        return _result(op, fn(a[op.logits], a[op.target]))

    @impl(qt.SigmoidBceGradOp)
    def run_sigmoid_bce_grad(
        self, interpreter: Interpreter, op: qt.SigmoidBceGradOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        fn = vae.sigmoid_bce_grad_c_f32 if C_F32 in op.attributes else vae.sigmoid_bce_grad
        return _result(op, fn(a[op.logits], a[op.target]))

    # -- fully quantized training ------------------------------------------------------

    @impl(qt.QConvTranspose2dAccOp)
    def run_qconv_transpose2d_acc(
        self, interpreter: Interpreter, op: qt.QConvTranspose2dAccOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        acc = fqt_vae.qconv_transpose2d_acc(
            a[op.input], a[op.input_zero_point], a[op.weight], a[op.weight_zero_point], a.opt(op.bias),
            a.opt(op.acc_scale), _ints(op.stride.get_values()), _ints(op.padding.get_values()),
            _ints(op.output_padding.get_values()),
        )
        return _result(op, acc)

    @impl(qt.QConvTranspose2dAccStreamOp)
    def run_qconv_transpose2d_acc_stream(
        self, interpreter: Interpreter, op: qt.QConvTranspose2dAccStreamOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        acc = fqt_vae.qconv_transpose2d_acc(
            a[op.input], a[op.input_zero_point], a[op.weight], a[op.weight_zero_point], a.opt(op.bias),
            a[op.acc_scale], _ints(op.stride.get_values()), _ints(op.padding.get_values()),
            _ints(op.output_padding.get_values()),
        )
        return _result(op, acc_stream_result(op, a, acc))

    @impl(qt.QConvTranspose2dGradWeightOp)
    def run_qconv_transpose2d_grad_weight(
        self, interpreter: Interpreter, op: qt.QConvTranspose2dGradWeightOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        g = fqt_vae.qconv_transpose2d_grad_weight(
            a[op.input], a[op.input_zero_point], a[op.output_grad], a[op.output_grad_zero_point],
            qt.tensor_shape(op.weight_grad), _ints(op.stride.get_values()), _ints(op.padding.get_values()),
        )
        return _result(op, g)

    @impl(qt.QConvTranspose2dGradWeightSgdOp)
    def run_qconv_transpose2d_grad_weight_sgd(
        self, interpreter: Interpreter, op: qt.QConvTranspose2dGradWeightSgdOp, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        a = _Args(op, args)
        wt = op.param_type()
        assert wt is not None
        g = fqt_vae.qconv_transpose2d_grad_weight(
            a[op.input], a[op.input_zero_point], a[op.output_grad], a[op.output_grad_zero_point],
            tuple(wt.get_shape()), _ints(op.stride.get_values()), _ints(op.padding.get_values()),
        )
        apply_fused_qsgd(interpreter, op, args, g)
        return ()


__all__ = ["VaeFunctions"]
