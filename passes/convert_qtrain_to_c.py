"""convert-qtrain-to-c: lower planned qtrain functions to `ckern` kernel calls.

Invariant established: the module holds only `ckern` ops — one `ckern.global` per
parameter/state symbol (parameters numbered in declaration order for `odtc_param_*`), a
`ckern.func @odtc_train_step` from `@train_step` and a `ckern.func @odtc_infer` from
`@forward` — where every qtrain op became one call into runtime/c (odtc_kernels.h) over the
planned buffers, reshape/flatten became nothing (aliases), and loads became in-place reads or
copies as `qtrain-bufferize` decided. Any op without a lowering fails, naming the op.
The fully-quantized-training ops (dialects/qtrain_fqt.py) call runtime/c/src/fqt.c (the
int32 grad-input ops reuse odtc_{dense,conv2d}_s8_grad_input), and a quantized parameter's
`qtrain.scale` / `qtrain.zero_point` state references become `ckern.scale` /
`ckern.zero_point` (C names) on its ckern.global, for the c target's float view.

    %y = qtrain.relu %x {qtrain.offset = 64, ...}   →   "ckern.call"() <{callee = "odtc_relu_f32",
                                                          args = [#ckern.ref<"arena", "", 0, ...>, #ckern.ref<"arena", "", 64, ...>, 32 : i64]}>
"""

from dataclasses import dataclass
from math import prod

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    Float32Type,
    Float64Type,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    Signedness,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    f32,
    i32,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from odtc.dialects import ckern, qtrain
from odtc.passes.plan_buffers import check_plan

ENTRY_POINTS = {"train_step": "odtc_train_step", "forward": "odtc_infer"}


def _fail(msg: str) -> PassFailedException:
    return PassFailedException(f"convert-qtrain-to-c: {msg}")


def ctype_of(t: Attribute) -> str:
    assert isinstance(t, TensorType)
    elt = t.element_type
    if isinstance(elt, Float32Type):
        return "float"
    if isinstance(elt, qtrain.QuantType):
        w, signed = elt.storage.width.data, elt.is_signed
    elif isinstance(elt, IntegerType):
        w, signed = elt.width.data, elt.signedness.data != Signedness.UNSIGNED
    else:
        raise _fail(f"no C type for element type {elt}")
    return {(8, True): "int8_t", (8, False): "uint8_t", (16, True): "int16_t", (32, True): "int32_t"}.get(
        (w, signed), "int32_t"
    )


def _i(v: int) -> IntegerAttr:
    return IntegerAttr(int(v), i32)


def _f32(v: float) -> FloatAttr:
    return FloatAttr(float(v), Float32Type())


def _f64(v: float) -> FloatAttr:
    return FloatAttr(float(v), Float64Type())


def _shape(v: SSAValue) -> tuple[int, ...]:
    return qtrain.tensor_shape(v)


class _Lowerer:
    def __init__(self, module: ModuleOp, globals_: dict[str, str]) -> None:
        self.module = module
        self.globals = globals_
        self.args: dict[SSAValue, str] = {}
        self.ops: list[Operation] = []

    # -- refs --------------------------------------------------------------------------

    def ref(self, v: SSAValue | None) -> ckern.RefAttr:
        if v is None:
            return ckern.RefAttr("null")
        ct = ctype_of(v.type)
        while True:  # follow reshape/flatten aliases and in-place results to the buffer owner
            owner = v.owner
            if isinstance(owner, qtrain.ReshapeOp | qtrain.FlattenOp):
                v = owner.operands[0]
            elif isinstance(owner, Operation) and "qtrain.inplace" in owner.attributes:
                v = owner.operands[int(owner.attributes["qtrain.inplace"].value.data)]  # type: ignore[attr-defined]
            else:
                break
        if v in self.args:
            return ckern.RefAttr("arg", self.args[v], 0, ct)
        owner = v.owner
        assert isinstance(owner, Operation)
        off = owner.attributes.get("qtrain.offset")
        if off is not None:
            return ckern.RefAttr("arena", "", int(off.value.data), ct)  # type: ignore[attr-defined]
        if isinstance(owner, qtrain.LoadOp):
            return ckern.RefAttr("global", self.globals[owner.symbol.root_reference.data], 0, ct)
        raise _fail(f"{owner.name} has no planned buffer (run qtrain-bufferize and qtrain-plan-buffers first)")

    def sym(self, s: Attribute, ctype: str = "float") -> ckern.RefAttr:
        name = s.root_reference.data  # type: ignore[attr-defined]
        return ckern.RefAttr("global", self.globals[name], 0, ctype)

    def call(self, callee: str, *args: Attribute, result: ckern.RefAttr | None = None) -> None:
        props: dict[str, Attribute] = {"callee": StringAttr(callee), "args": ArrayAttr(args)}
        if result is not None:
            props["result"] = result
        self.ops.append(ckern.CallOp.create(properties=props))

    def copy(self, dst: ckern.RefAttr, src: ckern.RefAttr, nbytes: int) -> None:
        self.ops.append(
            ckern.CopyOp.create(properties={"dst": dst, "src": src, "bytes": IntegerAttr(nbytes, i64)})
        )


def _conv_geometry(x_shape: tuple[int, ...], w_shape: tuple[int, ...], o: int, op: Operation) -> list[Attribute]:
    n, c, h, w = x_shape
    _, _, kh, kw = w_shape
    stride = op.properties["stride"].get_values()  # type: ignore[attr-defined]
    pad = op.properties["padding"].get_values()  # type: ignore[attr-defined]
    groups = op.properties["groups"].value.data  # type: ignore[attr-defined]
    return [_i(v) for v in (n, c, h, w, o, kh, kw, *stride, *pad, groups)]


def _pool_geometry(x_shape: tuple[int, ...], op: Operation) -> list[Attribute]:
    n, c, h, w = x_shape
    k = op.properties["kernel"].get_values()  # type: ignore[attr-defined]
    s = op.properties["stride"].get_values()  # type: ignore[attr-defined]
    p = op.properties["padding"].get_values()  # type: ignore[attr-defined]
    return [_i(v) for v in (n, c, h, w, *k, *s, *p)]


def _channels(L: _Lowerer, op: Operation, rows_default: int) -> tuple[Attribute, Attribute]:
    ch = op.properties.get("channels")
    if ch is None:
        return ckern.RefAttr("null", "", 0, "int32_t"), _i(rows_default)
    vals = [int(v) for v in ch.get_values()]  # type: ignore[attr-defined]
    return ckern.IntsAttr(vals), _i(len(vals))


def _nchw(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(n, c, hw) of a rank-2 [N, C] or rank-4 [N, C, H, W] tensor."""
    return shape[0], shape[1], prod(shape[2:])


def _lower(L: _Lowerer, op: Operation) -> None:  # noqa: C901 - one dispatch table
    r = L.ref
    match op:
        case qtrain.LoadOp():
            if "qtrain.offset" in op.attributes:
                t = op.result.type
                assert isinstance(t, TensorType)
                nbytes = int(op.attributes["qtrain.bytes"].value.data)  # type: ignore[attr-defined]
                L.copy(r(op.result), L.sym(op.symbol, ctype_of(t)), nbytes)
        case qtrain.StoreOp():
            t = op.value.type
            assert isinstance(t, TensorType)
            from odtc.passes.prune_frozen_backward import tensor_bytes

            L.copy(L.sym(op.symbol, ctype_of(t)), r(op.value), tensor_bytes(t))
        case qtrain.ReshapeOp() | qtrain.FlattenOp():
            pass
        case qtrain.Conv2dOp():
            o = _shape(op.weight)[0]
            L.call("odtc_conv2d_f32", r(op.input), r(op.weight), r(op.bias), r(op.output),
                   *_conv_geometry(_shape(op.input), _shape(op.weight), o, op))
        case qtrain.Conv2dGradInputOp():
            o = _shape(op.weight)[0]
            L.call("odtc_conv2d_f32_grad_input", r(op.output_grad), r(op.weight), r(op.input_grad),
                   *_conv_geometry(_shape(op.input_grad), _shape(op.weight), o, op))
        case qtrain.Conv2dGradWeightOp():
            o = _shape(op.output_grad)[1]
            ch, n_ch = _channels(L, op, o)
            L.call("odtc_conv2d_f32_grad_weight", r(op.input), r(op.output_grad), r(op.weight_grad), ch, n_ch,
                   *_conv_geometry(_shape(op.input), _shape(op.weight_grad), o, op))
        case qtrain.Conv2dGradBiasOp():
            n, o, hw = _nchw(_shape(op.output_grad))
            L.call("odtc_conv2d_f32_grad_bias", r(op.output_grad), r(op.bias_grad), _i(n), _i(o), _i(hw))
        case qtrain.DenseOp():
            n, k = _shape(op.input)
            L.call("odtc_dense_f32", r(op.input), r(op.weight), r(op.bias), r(op.output),
                   _i(n), _i(k), _i(_shape(op.weight)[0]))
        case qtrain.DenseGradInputOp():
            n, k = _shape(op.input_grad)
            L.call("odtc_dense_f32_grad_input", r(op.output_grad), r(op.weight), r(op.input_grad),
                   _i(n), _i(k), _i(_shape(op.weight)[0]))
        case qtrain.DenseGradWeightOp():
            n, k = _shape(op.input)
            o = _shape(op.output_grad)[1]
            ch, n_ch = _channels(L, op, o)
            L.call("odtc_dense_f32_grad_weight", r(op.input), r(op.output_grad), r(op.weight_grad), ch, n_ch,
                   _i(n), _i(k), _i(o))
        case qtrain.DenseGradBiasOp():
            n, o = _shape(op.output_grad)
            L.call("odtc_dense_f32_grad_bias", r(op.output_grad), r(op.bias_grad), _i(n), _i(o))
        case qtrain.ReluOp() | qtrain.Relu6Op():
            name = "odtc_relu_f32" if isinstance(op, qtrain.ReluOp) else "odtc_relu6_f32"
            L.call(name, r(op.input), r(op.output), _i(prod(_shape(op.input))))
        case qtrain.ReluGradOp() | qtrain.Relu6GradOp():
            name = "odtc_relu_f32_grad" if isinstance(op, qtrain.ReluGradOp) else "odtc_relu6_f32_grad"
            L.call(name, r(op.output_grad), r(op.output), r(op.input_grad), _i(prod(_shape(op.output))))
        case qtrain.AddOp():
            L.call("odtc_add_f32", r(op.lhs), r(op.rhs), r(op.output), _i(prod(_shape(op.lhs))))
        case qtrain.MaxPool2dOp():
            L.call("odtc_maxpool2d_f32", r(op.input), r(op.output), *_pool_geometry(_shape(op.input), op))
        case qtrain.MaxPool2dGradOp():
            L.call("odtc_maxpool2d_f32_grad", r(op.output_grad), r(op.input), r(op.input_grad),
                   *_pool_geometry(_shape(op.input), op))
        case qtrain.AvgPool2dOp():
            L.call("odtc_avgpool2d_f32", r(op.input), r(op.output), *_pool_geometry(_shape(op.input), op),
                   _i(int(op.count_include_pad is not None)))
        case qtrain.AvgPool2dGradOp():
            L.call("odtc_avgpool2d_f32_grad", r(op.output_grad), r(op.input_grad),
                   *_pool_geometry(_shape(op.input_grad), op), _i(int(op.count_include_pad is not None)))
        case qtrain.GlobalAvgPoolOp():
            n, c, hw = _nchw(_shape(op.input))
            L.call("odtc_global_avgpool_f32", r(op.input), r(op.output), _i(n), _i(c), _i(hw))
        case qtrain.GlobalAvgPoolGradOp():
            n, c, hw = _nchw(_shape(op.input_grad))
            L.call("odtc_global_avgpool_f32_grad", r(op.output_grad), r(op.input_grad), _i(n), _i(c), _i(hw))
        case qtrain.BatchNormOp():
            n, c, hw = _nchw(_shape(op.input))
            L.call("odtc_batchnorm_f32", r(op.input), r(op.gamma), r(op.beta), r(op.mean), r(op.var),
                   r(op.output), _i(n), _i(c), _i(hw), _f32(op.epsilon.value.data))
        case qtrain.BatchNormGradInputOp():
            n, c, hw = _nchw(_shape(op.output_grad))
            L.call("odtc_batchnorm_f32_grad_input", r(op.output_grad), r(op.gamma), r(op.var), r(op.input_grad),
                   _i(n), _i(c), _i(hw), _f32(op.epsilon.value.data))
        case qtrain.BatchNormGradGammaOp():
            n, c, hw = _nchw(_shape(op.output_grad))
            L.call("odtc_batchnorm_f32_grad_gamma", r(op.output_grad), r(op.input), r(op.mean), r(op.var),
                   r(op.gamma_grad), _i(n), _i(c), _i(hw), _f32(op.epsilon.value.data))
        case qtrain.BatchNormGradBetaOp():
            n, c, hw = _nchw(_shape(op.output_grad))
            L.call("odtc_batchnorm_f32_grad_beta", r(op.output_grad), r(op.beta_grad), _i(n), _i(c), _i(hw))
        case qtrain.SoftmaxCrossEntropyOp():
            n, classes = _shape(op.logits)
            L.call("odtc_softmax_cross_entropy_f32", r(op.logits), r(op.labels), _i(n), _i(classes),
                   result=r(op.loss))
        case qtrain.SoftmaxCrossEntropyGradOp():
            n, classes = _shape(op.logits)
            L.call("odtc_softmax_cross_entropy_f32_grad", r(op.logits), r(op.labels), r(op.logits_grad),
                   _i(n), _i(classes))
        case qtrain.MseOp():
            L.call("odtc_mse_f32", r(op.prediction), r(op.target), _i(prod(_shape(op.prediction))), result=r(op.loss))
        case qtrain.MseGradOp():
            L.call("odtc_mse_f32_grad", r(op.prediction), r(op.target), r(op.prediction_grad),
                   _i(prod(_shape(op.prediction))))
        case qtrain.SgdUpdateOp() | qtrain.MomentumUpdateOp() | qtrain.AdamUpdateOp():
            _lower_update(L, op)
        case qtrain.DenseGradWeightSgdOp() | qtrain.Conv2dGradWeightSgdOp():
            _lower_fused_update(L, op)
        case qtrain.QuantizeOp() | qtrain.DequantizeOp():
            _lower_quantize(L, op)
        case qtrain.RequantizeOp():
            qi, qo = _qtype(op.input), _qtype(op.output)
            L.call("odtc_requantize", r(op.input), _i(_storage(qi)), r(op.output), _i(_storage(qo)),
                   _i(prod(_shape(op.input))), r(op.input_scale), r(op.input_zero_point),
                   r(op.output_scale), r(op.output_zero_point))
        case qtrain.QConv2dOp() | qtrain.QDenseOp():
            _lower_qlayer(L, op)
        case qtrain.CounterStepOp():
            L.call("odtc_counter_step", L.sym(op.counter, "int32_t"), _i(op.modulo.value.data))
        case _ if isinstance(op, qtrain.VAE_OPS):
            _lower_vae(L, op)
        case _ if isinstance(op, FQT_OPS):
            _lower_fqt(L, op)
        case func.ReturnOp():
            pass
        case _:
            raise _fail(f"{op.name} has no C lowering yet (in @{_fn_name(op)})")


def _lower_vae(L: _Lowerer, op: Operation) -> None:
    """The VAE ops (dialects/qtrain_vae.py) -> runtime/c/src/vae_f32.c; a conv-transpose's
    input gradient is the plain conv2d kernel with the weight read as OIHW = [Cin, Cout]."""
    r = L.ref
    match op:
        case qtrain.ConvTranspose2dOp():
            n, c, h, w = _shape(op.input)
            _, o, kh, kw = _shape(op.weight)
            _, _, oh, ow = _shape(op.output)
            stride = op.stride.get_values()
            pad = op.padding.get_values()
            L.call("odtc_conv_transpose2d_f32", r(op.input), r(op.weight), r(op.bias), r(op.output),
                   *[_i(v) for v in (n, c, h, w, o, kh, kw, oh, ow, *stride, *pad)])
        case qtrain.ConvTranspose2dGradInputOp():
            n, o, oh, ow = _shape(op.output_grad)
            ci, _, kh, kw = _shape(op.weight)
            stride = op.stride.get_values()
            pad = op.padding.get_values()
            L.call("odtc_conv2d_f32", r(op.output_grad), r(op.weight), r(None), r(op.input_grad),
                   *[_i(v) for v in (n, o, oh, ow, ci, kh, kw, *stride, *pad, 1)])
        case qtrain.SigmoidOp() | qtrain.ExpOp():
            name = "odtc_sigmoid_f32" if isinstance(op, qtrain.SigmoidOp) else "odtc_exp_f32"
            L.call(name, r(op.input), r(op.output), _i(prod(_shape(op.input))))
        case qtrain.SigmoidGradOp() | qtrain.ExpGradOp():
            name = "odtc_sigmoid_f32_grad" if isinstance(op, qtrain.SigmoidGradOp) else "odtc_exp_f32_grad"
            L.call(name, r(op.output_grad), r(op.output), r(op.input_grad), _i(prod(_shape(op.output))))
        case qtrain.ReparameterizeOp():
            if op.step is None:  # inference: z = mu
                L.copy(r(op.output), r(op.mu), 4 * prod(_shape(op.mu)))
            else:
                L.call("odtc_reparameterize_f32", r(op.mu), r(op.logvar), r(op.output), _i(prod(_shape(op.mu))),
                       _i(op.seed.value.data), ckern.DerefAttr(r(op.step)))
        case qtrain.ReparameterizeGradLogvarOp():
            L.call("odtc_reparameterize_f32_grad_logvar", r(op.output_grad), r(op.logvar), r(op.logvar_grad),
                   _i(prod(_shape(op.logvar))), _i(op.seed.value.data), ckern.DerefAttr(r(op.step)))
        case qtrain.KlDivergenceOp():
            L.call("odtc_kl_divergence_f32", r(op.mu), r(op.logvar), _i(prod(_shape(op.mu))),
                   _f32(op.beta.value.data), result=r(op.loss))
        case qtrain.KlDivergenceGradMuOp():
            L.call("odtc_kl_divergence_f32_grad_mu", r(op.mu), r(op.mu_grad), _i(prod(_shape(op.mu))),
                   _f32(op.beta.value.data))
        case qtrain.KlDivergenceGradLogvarOp():
            L.call("odtc_kl_divergence_f32_grad_logvar", r(op.logvar), r(op.logvar_grad),
                   _i(prod(_shape(op.logvar))), _f32(op.beta.value.data))
        case qtrain.SigmoidBceOp():
            L.call("odtc_sigmoid_bce_f32", r(op.logits), r(op.target), _i(prod(_shape(op.logits))),
                   result=r(op.loss))
        case qtrain.SigmoidBceGradOp():
            L.call("odtc_sigmoid_bce_f32_grad", r(op.logits), r(op.target), r(op.logits_grad),
                   _i(prod(_shape(op.logits))))
        case qtrain.QConvTranspose2dAccOp():
            _require_s8(op, "weights", op.weight)
            suffix = "s8" if _q8_storage(op, "input", op.input) == 0 else "u8"
            n, c, h, w = _shape(op.input)
            _, o, kh, kw = _shape(op.weight)
            _, _, oh, ow = _shape(op.output)
            L.call(f"odtc_qconv_transpose2d_acc_{suffix}", r(op.input), r(op.input_zero_point), r(op.weight),
                   r(op.weight_zero_point), _opt_ref(L, op.bias, "float"), _opt_ref(L, op.acc_scale, "float"),
                   r(op.output), *[_i(v) for v in (n, c, h, w, o, kh, kw, oh, ow, *op.stride.get_values(),
                                                   *op.padding.get_values()[:2])])
        case qtrain.QConvTranspose2dAccStreamOp():
            _require_s8(op, "weights", op.weight)
            suffix = "s8" if _q8_storage(op, "input", op.input) == 0 else "u8"
            n, c, h, w = _shape(op.input)
            _, o, kh, kw = _shape(op.weight)
            oh, ow = qtrain.conv_transpose_output_hw(
                (h, w), (kh, kw), tuple(op.stride.get_values()), tuple(op.padding.get_values()),
                tuple(op.output_padding.get_values()))
            L.call(f"odtc_qconv_transpose2d_acc_stream_{suffix}", r(op.input), r(op.input_zero_point), r(op.weight),
                   r(op.weight_zero_point), _opt_ref(L, op.bias, "float"), r(op.acc_scale), *_stream_sink(L, op),
                   _scratch(op), *[_i(v) for v in (n, c, h, w, o, kh, kw, oh, ow, *op.stride.get_values(),
                                                   *op.padding.get_values()[:2])])
        case qtrain.QConvTranspose2dGradWeightOp():
            _require_s8(op, "the output error", op.output_grad)
            suffix = "s8" if _q8_storage(op, "input", op.input) == 0 else "u8"
            n, c, h, w = _shape(op.input)
            _, o, kh, kw = _shape(op.weight_grad)
            _, _, oh, ow = _shape(op.output_grad)
            L.call(f"odtc_qconv_transpose2d_grad_weight_{suffix}", r(op.input), r(op.input_zero_point),
                   r(op.output_grad), r(op.output_grad_zero_point), r(op.weight_grad),
                   *[_i(v) for v in (n, c, h, w, o, kh, kw, oh, ow, *op.stride.get_values(),
                                     *op.padding.get_values()[:2])])
        case qtrain.QConvTranspose2dGradWeightSgdOp():
            _require_s8(op, "the output error", op.output_grad)
            w_type = _fused_q_weight(op)
            suffix = "s8" if _q8_storage(op, "input", op.input) == 0 else "u8"
            n, c, h, w = _shape(op.input)
            _, o, kh, kw = w_type.get_shape()
            _, _, oh, ow = _shape(op.output_grad)
            seed = op.seed.value.data & 0xFFFFFFFF  # the kernel hashes seed mod 2^32
            L.call(f"odtc_qconv_transpose2d_grad_weight_sgd_{suffix}", r(op.input), r(op.input_zero_point),
                   r(op.output_grad), r(op.output_grad_zero_point), r(op.grad_scale), r(op.weight_scale),
                   r(op.weight_zero_point), L.sym(op.param, "int8_t"), L.sym(op.row_range, "int32_t"),
                   _opt_ref(L, op.step, "int32_t"), _scratch(op),
                   *[_i(v) for v in (n, c, h, w, o, kh, kw, oh, ow, *op.stride.get_values(),
                                     *op.padding.get_values()[:2])],
                   _f32(op.lr.value.data), _i(_ROUNDING[op.rounding.data]),
                   _i(seed - (1 << 32) if seed >= 1 << 31 else seed))
        case _:
            raise _fail(f"{op.name} has no C lowering yet (in @{_fn_name(op)})")


def _stream_sink(L: _Lowerer, op: qtrain.QConv2dAccStreamOp | qtrain.QConvTranspose2dAccStreamOp
                 | qtrain.QConv2dGradInputStreamOp) -> list[Attribute]:
    """y_scale, y_zero_point, y, y_storage, range, relu of a streamed accumulator's kernel."""
    r = L.ref
    null_f = ckern.RefAttr("null", "", 0, "float")
    relu = _i({None: 0, "relu": 1, "relu6": 2}[getattr(op, "activation", None)])  # odtc_acc_stream.relu
    if op.is_range:
        return [null_f, ckern.RefAttr("null", "", 0, "int32_t"), ckern.RefAttr("null", "", 0, "int8_t"), _i(0),
                r(op.output), relu]
    return [r(op.output_scale), r(op.output_zero_point), r(op.output), _i(_q8_storage(op, "result", op.output)),
            null_f, relu]


def _qtype(v: SSAValue) -> qtrain.QuantType:
    t = v.type
    assert isinstance(t, TensorType) and isinstance(t.element_type, qtrain.QuantType)
    return t.element_type


# Storage codes ODTC_S8/U8/S16/S32 of odtc_kernels.h.
_STORAGE = {(8, True): 0, (8, False): 1, (16, True): 2, (32, True): 3}

# ODTC_ACT_NONE/RELU/RELU6.
_ACTIVATION = {"none": 0, "relu": 1, "relu6": 2}


def _storage(q: qtrain.QuantType) -> int:
    key = (q.storage.width.data, q.is_signed)
    if key not in _STORAGE:
        raise _fail(f"no C storage code for {q}")
    return _STORAGE[key]


def _lower_quantize(L: _Lowerer, op: qtrain.QuantizeOp | qtrain.DequantizeOp) -> None:
    # The kernels view the tensor as [outer, channels, inner] around the quantization axis.
    qv = op.output if isinstance(op, qtrain.QuantizeOp) else op.input
    q = _qtype(qv)
    shape = _shape(qv)
    axis = q.per_channel_axis
    if axis is None:
        outer, channels, inner = prod(shape), 1, 1
    else:
        outer, channels, inner = prod(shape[:axis]), shape[axis], prod(shape[axis + 1:])
    view = [_i(outer), _i(channels), _i(inner)]
    per_channel = _i(int(axis is not None))
    if isinstance(op, qtrain.QuantizeOp):
        L.call("odtc_quantize", L.ref(op.input), L.ref(op.output), _i(_storage(q)), *view,
               L.ref(op.scale), L.ref(op.zero_point), per_channel)
    else:
        L.call("odtc_dequantize", L.ref(op.input), _i(_storage(q)), L.ref(op.output), *view,
               L.ref(op.scale), L.ref(op.zero_point), per_channel)


def _lower_qlayer(L: _Lowerer, op: qtrain.QConv2dOp | qtrain.QDenseOp) -> None:
    qx, qw = _qtype(op.input), _qtype(op.weight)
    suffix = "s8" if qx.is_signed else "u8"
    off = op.attributes.get("qtrain.scratch_offset")
    if off is None:
        raise _fail(f"{op.name} has no planned scratch buffer (run qtrain-bufferize and qtrain-plan-buffers first)")
    scratch = ckern.RefAttr("arena", "", int(off.value.data), "int32_t")  # type: ignore[attr-defined]
    act = op.activation.data
    if act not in _ACTIVATION:
        raise _fail(f"{op.name}: unknown activation '{act}'")
    args = [L.ref(op.input), L.ref(op.input_scale), L.ref(op.input_zero_point),
            L.ref(op.weight), L.ref(op.weight_scale), L.ref(op.weight_zero_point),
            _i(int(qw.per_channel_axis is not None)), L.ref(op.bias),
            L.ref(op.output_scale), L.ref(op.output_zero_point), _i(_ACTIVATION[act]),
            L.ref(op.output), scratch]
    if isinstance(op, qtrain.QConv2dOp):
        o = _shape(op.weight)[0]
        L.call(f"odtc_conv2d_{suffix}", *args, *_conv_geometry(_shape(op.input), _shape(op.weight), o, op))
    else:
        n, k = _shape(op.input)
        L.call(f"odtc_dense_{suffix}", *args, _i(n), _i(k), _i(_shape(op.weight)[0]))


# ---- fully quantized training (dialects/qtrain_fqt.py -> runtime/c/src/fqt.c) -----------

FQT_OPS = qtrain.FQT_OPS

# ODTC_F32 (a float gradient operand of the FQT update kernels), ODTC_NORM_*, ODTC_ROUND_*.
_F32_CODE = 4
_NORMALIZATION = {"standardize": 0, "qas": 1, "none": 2}
_ROUNDING = {"nearest": 0, "stochastic": 1}


def _scratch(op: Operation) -> ckern.RefAttr:
    off = op.attributes.get("qtrain.scratch_offset")
    if off is None:
        raise _fail(f"{op.name} has no planned scratch buffer (run qtrain-bufferize and qtrain-plan-buffers first)")
    return ckern.RefAttr("arena", "", int(off.value.data), "int32_t")  # type: ignore[attr-defined]


def _opt_ref(L: _Lowerer, v: SSAValue | None, ctype: str) -> ckern.RefAttr:
    return L.ref(v) if v is not None else ckern.RefAttr("null", "", 0, ctype)


def _q8_storage(op: Operation, what: str, v: SSAValue) -> int:
    """ODTC_S8 / ODTC_U8 of an 8-bit quantized operand."""
    q = _qtype(v)
    code = _storage(q)
    if code not in (0, 1):
        raise _fail(f"{op.name}: {what} must have 8-bit storage, got {q}")
    return code


def _qe_storage(op: Operation, what: str, v: SSAValue) -> int:
    """ODTC_S8 / ODTC_U8 / ODTC_S16 of an error (or possibly-error) operand."""
    q = _qtype(v)
    code = _storage(q)
    if code not in (0, 1, 2):
        raise _fail(f"{op.name}: {what} must have 8- or 16-bit storage, got {q}")
    return code


def _e16(op: Operation, v: SSAValue) -> bool:
    """Whether an error operand is int16 (qtrain-quantize errors=int16): the *_s16 / *_e16 kernels."""
    q = _qtype(v)
    if q.storage.width.data == 16 and q.is_signed:
        return True
    _require_s8(op, "the output error", v)
    return False


def _require_s8(op: Operation, what: str, v: SSAValue) -> None:
    q = _qtype(v)
    if not (q.storage.width.data == 8 and q.is_signed):
        raise _fail(f"{op.name}: the C kernels take {what} as si8 only, got {q}")


def _grad_type(op: Operation, v: SSAValue) -> int:
    """ODTC_S32 for an int32 accumulator gradient, ODTC_F32 for an f32 one."""
    t = v.type
    assert isinstance(t, TensorType)
    if isinstance(t.element_type, Float32Type):
        return _F32_CODE
    if qtrain.is_acc(t.element_type):
        return _STORAGE[(32, True)]
    raise _fail(f"{op.name}: gradient must be f32 or an int32 accumulator, got {t.element_type}")


def _per_channel(w: SSAValue) -> IntegerAttr:
    """The kernels' w_per_channel flag: 1 for weights quantized per output channel."""
    q = _qtype(w)
    return _i(int(q.per_channel_axis is not None))


def _nc_spatial(v: SSAValue) -> tuple[IntegerAttr, IntegerAttr, IntegerAttr]:
    """(N, C, H·W) of an [N, C] or [N, C, H, W] tensor: the per-channel kernels' geometry."""
    shape = _shape(v)
    return _i(shape[0]), _i(shape[1]), _i(prod(shape[2:]))


def _rows(v: SSAValue) -> tuple[int, int]:
    """(rows, row_len) of a weight-shaped tensor: dimension 0 and the rest."""
    shape = _shape(v)
    return shape[0], prod(shape[1:])


def _lower_fqt(L: _Lowerer, op: Operation) -> None:  # noqa: C901 - one dispatch table
    r = L.ref
    match op:
        case qtrain.ScaleMulOp():
            if _shape(op.output):  # per-channel weight scales: one accumulator scale per channel
                L.call("odtc_scale_mul_channels", r(op.lhs), r(op.rhs), r(op.output), _i(_shape(op.output)[0]))
            else:
                L.call("odtc_scale_mul", r(op.lhs), r(op.rhs), result=r(op.output))
        case qtrain.ScaleMaxOp():
            L.call("odtc_scale_max", r(op.input), _i(_shape(op.input)[0]), result=r(op.output))
        case qtrain.QRescaleChannelsOp():
            L.call("odtc_qrescale_channels", r(op.input), _i(_qe_storage(op, "input", op.input)),
                   r(op.input_zero_point), r(op.weight_scale), r(op.output), *_nc_spatial(op.input),
                   _i(op.shift.value.data))
        case qtrain.MinMaxOp():
            n = _i(prod(_shape(op.input)))
            if op.scale is None:
                L.call("odtc_minmax_f32", r(op.input), r(op.output), n)
            elif _shape(op.scale):
                L.call("odtc_minmax_acc_channels", r(op.input), r(op.scale), r(op.output), *_nc_spatial(op.input))
            else:
                L.call("odtc_minmax_acc", r(op.input), r(op.scale), r(op.output), n)
        case qtrain.EmaOp():
            L.call("odtc_ema_range", r(op.old), r(op.observed), r(op.output), _f32(op.alpha.value.data))
        case qtrain.RunningMaxOp():
            L.call("odtc_running_max", r(op.old), r(op.value), result=r(op.output))
        case qtrain.RangeScaleOp() | qtrain.RangeZeroPointOp():
            q = op.qtype
            callee = "odtc_range_scale" if isinstance(op, qtrain.RangeScaleOp) else "odtc_range_zero_point"
            L.call(callee, r(op.range), _i(q.qmin), _i(q.qmax), _i(int(q.is_symmetric)), result=r(op.output))
        case qtrain.QConv2dAccOp() | qtrain.QDenseAccOp():
            _require_s8(op, "weights", op.weight)
            suffix = "s8" if _q8_storage(op, "input", op.input) == 0 else "u8"
            args = [r(op.input), r(op.input_zero_point), r(op.weight), r(op.weight_zero_point),
                    _per_channel(op.weight), _opt_ref(L, op.bias, "float"), _opt_ref(L, op.acc_scale, "float"),
                    r(op.output), _scratch(op)]
            if isinstance(op, qtrain.QConv2dAccOp):
                o = _shape(op.weight)[0]
                L.call(f"odtc_qconv2d_acc_{suffix}", *args,
                       *_conv_geometry(_shape(op.input), _shape(op.weight), o, op))
            else:
                n, k = _shape(op.input)
                L.call(f"odtc_qdense_acc_{suffix}", *args, _i(n), _i(k), _i(_shape(op.weight)[0]))
        case qtrain.QConv2dGradInputStreamOp():
            _require_s8(op, "the output error", op.output_grad)
            _require_s8(op, "weights", op.weight)
            o = _shape(op.weight)[0]
            geometry = _conv_geometry(op.input_shape(), _shape(op.weight), o, op)[:-1]  # groups is 1
            y_scale, y_zp, y, y_storage, rng, _ = _stream_sink(L, op)
            L.call("odtc_qconv2d_grad_input_stream", r(op.output_grad), r(op.output_grad_zero_point), r(op.weight),
                   r(op.weight_zero_point), r(op.acc_scale), y_scale, y_zp, y, y_storage, rng, _scratch(op), *geometry)
        case qtrain.QGradBiasOp():
            shape = _shape(op.output_grad)
            L.call("odtc_qgrad_bias", r(op.output_grad), _i(_qe_storage(op, "output error", op.output_grad)),
                   r(op.scale), r(op.zero_point), r(op.bias_grad), _i(shape[0]), _i(shape[1]), _i(prod(shape[2:])))
        case qtrain.QConv2dAccStreamOp():
            _require_s8(op, "weights", op.weight)
            suffix = "s8" if _q8_storage(op, "input", op.input) == 0 else "u8"
            o = _shape(op.weight)[0]
            geometry = _conv_geometry(_shape(op.input), _shape(op.weight), o, op)  # ends with groups
            L.call(f"odtc_qconv2d_acc_stream_{suffix}", r(op.input), r(op.input_zero_point), r(op.weight),
                   r(op.weight_zero_point), _opt_ref(L, op.bias, "float"), r(op.acc_scale), *_stream_sink(L, op),
                   _scratch(op), *geometry)
        case qtrain.AccReluOp():
            L.call("odtc_acc_relu", r(op.input), r(op.output), _i(prod(_shape(op.input))))
        case qtrain.AccRelu6Op():
            if _shape(op.scale):
                L.call("odtc_acc_relu6_channels", r(op.input), r(op.scale), r(op.output), *_nc_spatial(op.input))
            else:
                L.call("odtc_acc_relu6", r(op.input), r(op.scale), r(op.output), _i(prod(_shape(op.input))))
        case qtrain.ScaleDivOp():
            L.call("odtc_scale_div", r(op.input), _i(op.divisor.value.data), result=r(op.output))
        case qtrain.QAddRangeOp() | qtrain.QAddOp():
            operands = [r(op.lhs), _i(_qe_storage(op, "lhs", op.lhs)), r(op.lhs_scale), r(op.lhs_zero_point),
                        r(op.rhs), _i(_qe_storage(op, "rhs", op.rhs)), r(op.rhs_scale), r(op.rhs_zero_point)]
            n = _i(prod(_shape(op.lhs)))
            if isinstance(op, qtrain.QAddRangeOp):
                L.call("odtc_qadd_range", *operands, r(op.output), n)
            else:
                L.call("odtc_qadd", *operands, r(op.output), _i(_qe_storage(op, "result", op.output)),
                       r(op.output_scale), r(op.output_zero_point), n)
        case qtrain.QAvgPoolAccOp():
            n, c, h, w = _shape(op.input)
            L.call("odtc_qavgpool_acc", r(op.input), _i(_q8_storage(op, "input", op.input)), r(op.input_zero_point),
                   r(op.output), _i(n), _i(c), _i(h * w))
        case qtrain.QBroadcastHwOp():
            n, c, h, w = _shape(op.output)
            L.call("odtc_qbroadcast_hw", r(op.input), r(op.output), _i(n), _i(c), _i(h * w))
        case qtrain.QReluMaskOp():
            L.call("odtc_qrelu_mask", r(op.input), _i(_q8_storage(op, "input", op.input)), r(op.input_zero_point),
                   _opt_ref(L, op.input_scale, "float"), r(op.output), _i(prod(_shape(op.input))))
        case qtrain.QMaskGradOp():
            L.call("odtc_qmask_grad", r(op.output_grad), _i(_qe_storage(op, "output error", op.output_grad)),
                   r(op.output_grad_zero_point), r(op.mask), r(op.input_grad), _i(prod(_shape(op.output_grad))))
        case qtrain.QConv2dPwDwStreamOp():
            _require_s8(op, "weight1", op.weight1)
            _require_s8(op, "weight2", op.weight2)
            suffix = "s8" if _q8_storage(op, "input", op.input) == 0 else "u8"
            n, c, h, w = _shape(op.input)
            e, _, kh1, kw1 = _shape(op.weight1)
            _, _, kh2, kw2 = _shape(op.weight2)
            act = {"none": 0, "relu": 1, "relu6": 2}
            null_f = ckern.RefAttr("null", "", 0, "float")
            if op.is_range:
                sink = [null_f, ckern.RefAttr("null", "", 0, "int32_t"), ckern.RefAttr("null", "", 0, "int8_t"), _i(0),
                        r(op.output)]
            else:
                sink = [r(op.output_scale), r(op.output_zero_point), r(op.output),
                        _i(_q8_storage(op, "result", op.output)), null_f]
            L.call(f"odtc_qconv2d_pw_dw_stream_{suffix}", r(op.input), r(op.input_zero_point), r(op.weight1),
                   r(op.weight1_zero_point), _opt_ref(L, op.bias1, "float"), r(op.acc1_scale), _i(act[op.act1.data]),
                   r(op.h_scale), r(op.h_zero_point), _i(_storage(op.h_type)), r(op.weight2),
                   r(op.weight2_zero_point), _opt_ref(L, op.bias2, "float"), r(op.acc2_scale),
                   _i(act[op.act2.data]), *sink, _scratch(op), _i(n), _i(c), _i(h), _i(w), _i(e), _i(kh1), _i(kw1),
                   *[_i(int(v)) for v in op.stride1.get_values()], *[_i(int(v)) for v in op.padding1.get_values()],
                   _i(kh2), _i(kw2), *[_i(int(v)) for v in op.stride2.get_values()],
                   *[_i(int(v)) for v in op.padding2.get_values()])
        case qtrain.QRelu6GradOp():
            L.call("odtc_qrelu6_grad", r(op.output_grad), _i(_qe_storage(op, "output error", op.output_grad)),
                   r(op.output_grad_zero_point), r(op.output), _i(_q8_storage(op, "saved output", op.output)),
                   r(op.output_zero_point), r(op.output_scale), r(op.input_grad), _i(prod(_shape(op.output_grad))))
        case qtrain.RequantizeAccOp():
            if _shape(op.input_scale):
                L.call("odtc_requantize_acc_channels", r(op.input), r(op.output),
                       _i(_qe_storage(op, "result", op.output)), *_nc_spatial(op.input), r(op.input_scale),
                       r(op.output_scale), r(op.output_zero_point))
            else:
                L.call("odtc_requantize_acc", r(op.input), r(op.output), _i(_qe_storage(op, "result", op.output)),
                       _i(prod(_shape(op.input))), r(op.input_scale), r(op.output_scale), r(op.output_zero_point))
        case qtrain.QReluGradOp():
            L.call("odtc_qrelu_grad", r(op.output_grad), _i(_qe_storage(op, "output error", op.output_grad)),
                   r(op.output_grad_zero_point), r(op.output), _i(_q8_storage(op, "saved output", op.output)),
                   r(op.output_zero_point), r(op.input_grad), _i(prod(_shape(op.output_grad))))
        case qtrain.QDenseGradInputOp():
            _require_s8(op, "weights", op.weight)
            n, k = _shape(op.input_grad)
            head = [r(op.output_grad), r(op.output_grad_zero_point), r(op.weight), r(op.weight_zero_point),
                    _per_channel(op.weight)]
            # int16 errors (errors=int16, or rescaled for per-channel weights): portable kernel
            callee = "odtc_dense_s16_grad_input" if _e16(op, op.output_grad) else "odtc_dense_s8_grad_input"
            L.call(callee, *head, r(op.input_grad), _i(n), _i(k), _i(_shape(op.weight)[0]))
        case qtrain.QConv2dGradInputOp():
            _require_s8(op, "weights", op.weight)
            o = _shape(op.weight)[0]
            head = [r(op.output_grad), r(op.output_grad_zero_point), r(op.weight), r(op.weight_zero_point),
                    _per_channel(op.weight)]
            geometry = _conv_geometry(_shape(op.input_grad), _shape(op.weight), o, op)
            callee = "odtc_conv2d_s16_grad_input" if _e16(op, op.output_grad) else "odtc_conv2d_s8_grad_input"
            L.call(callee, *head, r(op.input_grad), *geometry)
        case qtrain.QDenseGradWeightOp() | qtrain.QConv2dGradWeightOp():
            _require_s8(op, "the output error", op.output_grad)
            suffix = "s8" if _q8_storage(op, "input", op.input) == 0 else "u8"
            args = [r(op.input), r(op.input_zero_point), r(op.output_grad), r(op.output_grad_zero_point),
                    r(op.weight_grad), _opt_ref(L, op.select, "int32_t"), _opt_ref(L, op.select_count, "int32_t")]
            o = _shape(op.weight_grad)[0]
            if isinstance(op, qtrain.QDenseGradWeightOp):
                n, k = _shape(op.input)
                L.call(f"odtc_qdense_grad_weight_{suffix}", *args, _i(n), _i(k), _i(o))
            else:
                L.call(f"odtc_qconv2d_grad_weight_{suffix}", *args,
                       *_conv_geometry(_shape(op.input), _shape(op.weight_grad), o, op))
        case qtrain.GradStatsOp():
            rows, row_len = _rows(op.grad)
            L.call("odtc_grad_stats", r(op.grad), _i(_grad_type(op, op.grad)), _opt_ref(L, op.grad_scale, "float"),
                   _opt_ref(L, op.weight_scale, "float"), r(op.output), _opt_ref(L, op.select, "int32_t"),
                   _opt_ref(L, op.select_count, "int32_t"), _i(rows), _i(row_len),
                   _i(_NORMALIZATION[op.mode.data]))
        case qtrain.QSgdRangeOp():
            rows, row_len = _rows(op.grad)
            L.call("odtc_qsgd_range", r(op.weight), _i(_q8_storage(op, "weight", op.weight)), r(op.weight_scale),
                   r(op.weight_zero_point), r(op.grad), _i(_grad_type(op, op.grad)), r(op.stats), r(op.output),
                   _opt_ref(L, op.select, "int32_t"), _opt_ref(L, op.select_count, "int32_t"), _i(rows), _i(row_len),
                   _f32(op.lr.value.data))
        case qtrain.QSgdUpdateOp():
            w_type = op.param_type()
            if w_type is None:
                raise _fail(f"{op.name}: no qtrain.param named {op.param}")
            q = w_type.element_type
            if not isinstance(q, qtrain.QuantType) or _storage(q) not in (0, 1):
                raise _fail(f"{op.name}: {op.param} must be an 8-bit quantized parameter, got {w_type}")
            rows, row_len = _rows(op.grad)
            seed = op.seed.value.data & 0xFFFFFFFF  # the kernel hashes seed mod 2^32
            L.call("odtc_qsgd_update", L.sym(op.param, ctype_of(w_type)), _i(_storage(q)), r(op.weight_scale),
                   r(op.weight_zero_point), r(op.grad), _i(_grad_type(op, op.grad)), r(op.stats),
                   r(op.new_scale), r(op.new_zero_point), _opt_ref(L, op.select, "int32_t"),
                   _opt_ref(L, op.select_count, "int32_t"), _opt_ref(L, op.step, "int32_t"), _i(rows), _i(row_len),
                   _f32(op.lr.value.data), _i(_ROUNDING[op.rounding.data]),
                   _i(seed - (1 << 32) if seed >= 1 << 31 else seed))
        case qtrain.QDenseGradWeightSgdOp() | qtrain.QConv2dGradWeightSgdOp():
            w_type = _fused_q_weight(op)
            suffix = "s8" if _q8_storage(op, "input", op.input) == 0 else "u8"
            if _e16(op, op.output_grad):
                suffix += "_e16"  # int16 errors
            seed = op.seed.value.data & 0xFFFFFFFF  # the kernel hashes seed mod 2^32
            args = [r(op.input), r(op.input_zero_point), r(op.output_grad), r(op.output_grad_zero_point),
                    r(op.grad_scale), r(op.weight_scale), r(op.weight_zero_point),
                    _i(int(_shape(op.weight_scale) != ())), L.sym(op.param, "int8_t"),
                    L.sym(op.row_range, "int32_t"), _opt_ref(L, op.select, "int32_t"),
                    _opt_ref(L, op.select_count, "int32_t"), _opt_ref(L, op.step, "int32_t"), _scratch(op)]
            tail = [_f32(op.lr.value.data), _i(_ROUNDING[op.rounding.data]),
                    _i(seed - (1 << 32) if seed >= 1 << 31 else seed)]
            o = _shape(op.output_grad)[1]
            if isinstance(op, qtrain.QDenseGradWeightSgdOp):
                n, k = _shape(op.input)
                L.call(f"odtc_qdense_grad_weight_sgd_{suffix}", *args, _i(n), _i(k), _i(o), *tail)
            else:
                L.call(f"odtc_qconv2d_grad_weight_sgd_{suffix}", *args,
                       *_conv_geometry(_shape(op.input), tuple(w_type.get_shape()), o, op), *tail)
        case qtrain.QWeightRegridOp():
            w_type = _fused_q_weight(op)
            q = w_type.element_type
            assert isinstance(q, qtrain.QuantType)
            shape = tuple(w_type.get_shape())
            rseed = op.seed.value.data & 0xFFFFFFFF
            L.call("odtc_qweight_regrid", L.sym(op.param, "int8_t"), L.sym(op.row_range, "int32_t"),
                   L.sym(op.scale, "float"), L.sym(op.zero_point, "int32_t"), L.sym(op.scale, "float"),
                   L.sym(op.zero_point, "int32_t"), _i(int(q.per_channel_axis is not None)), _i(shape[0]),
                   _i(prod(shape[1:])), _i(q.qmin), _i(q.qmax),
                   _i(int(q.is_symmetric)), _f32(op.headroom.value.data), _opt_ref(L, op.step, "int32_t"),
                   _i(_ROUNDING[op.rounding.data]), _i(rseed - (1 << 32) if rseed >= 1 << 31 else rseed))
        case qtrain.TopkCountOp():
            L.call("odtc_topk_count", r(op.loss), r(op.loss_max), _f32(op.lambda_min.value.data),
                   _f32(op.lambda_max.value.data), _i(op.structures.value.data), result=r(op.output))
        case qtrain.TopkStructuresOp():
            shape = _shape(op.output_grad)
            L.call("odtc_topk_structures", r(op.output_grad), _i(_qe_storage(op, "output error", op.output_grad)),
                   r(op.output_grad_zero_point), r(op.count), r(op.output), _scratch(op),
                   _i(shape[0]), _i(shape[1]), _i(prod(shape[2:])))
        case _:
            raise _fail(f"{op.name} has no C lowering yet (in @{_fn_name(op)})")


def _fused_q_weight(op: qtrain.QDenseGradWeightSgdOp | qtrain.QConv2dGradWeightSgdOp | qtrain.QWeightRegridOp
                    | qtrain.QConvTranspose2dGradWeightSgdOp) -> TensorType:
    """The int8 parameter a fused quantized update writes (the kernels store int8)."""
    w_type = op.param_type()
    if w_type is None:
        raise _fail(f"{op.name}: no qtrain.param named {op.param}")
    q = w_type.element_type
    if not isinstance(q, qtrain.QuantType) or _storage(q) != 0:
        raise _fail(f"{op.name}: {op.param} must be an int8 (si8) quantized parameter, got {w_type}")
    return w_type


def _fn_name(op: Operation) -> str:
    fn = op.parent_op()
    return fn.sym_name.data if isinstance(fn, func.FuncOp) else "?"


def _lower_update(L: _Lowerer, op: qtrain.SgdUpdateOp | qtrain.MomentumUpdateOp | qtrain.AdamUpdateOp) -> None:
    # The kernels see the parameter as rows of row_len elements (rows = output channels, or
    # single elements for rank-1 parameters); a sparse gradient holds only the listed rows.
    gshape = _shape(op.grad)
    row_len = prod(gshape[1:]) if len(gshape) > 1 else 1
    rows = prod(gshape) // row_len if row_len else 0
    ch_attr = op.channels
    if ch_attr is not None:
        ch: Attribute = ckern.IntsAttr([int(v) for v in ch_attr.get_values()])
    else:
        ch = ckern.RefAttr("null", "", 0, "int32_t")
    acc = L.sym(op.accumulator) if op.accumulator is not None else ckern.RefAttr("null")
    if op.batch_pos is not None:
        pos: Attribute = ckern.DerefAttr(L.ref(op.batch_pos))
        every = _i(op.every.value.data)  # type: ignore[union-attr]
    else:
        pos, every = _i(0), _i(1)
    w = L.sym(op.param)
    g = L.ref(op.grad)
    tail = [ch, _i(rows), _i(row_len), pos, every]
    if isinstance(op, qtrain.SgdUpdateOp):
        L.call("odtc_sgd_update_f32", w, g, acc, *tail, _f32(op.lr.value.data))
    elif isinstance(op, qtrain.MomentumUpdateOp):
        L.call("odtc_momentum_update_f32", w, L.sym(op.velocity), g, acc, *tail,
               _f32(op.lr.value.data), _f32(op.momentum.value.data))
    else:
        L.call("odtc_adam_update_f32", w, L.sym(op.first_moment), L.sym(op.second_moment),
               L.sym(op.step, "int32_t"), g, acc, *tail, _f64(op.lr.value.data), _f64(op.beta1.value.data),
               _f64(op.beta2.value.data), _f64(op.eps.value.data))


def _lower_fused_update(L: _Lowerer, op: qtrain.DenseGradWeightSgdOp | qtrain.Conv2dGradWeightSgdOp) -> None:
    # The parameter is the kernel's in/out buffer; its declared shape gives dense's k and
    # the conv kernel size (the fused op has no gradient result to read them from).
    w_type = op.param_type()
    if w_type is None:
        raise _fail(f"{op.name}: no qtrain.param named {op.param}")
    w_shape = tuple(w_type.get_shape())
    o = _shape(op.output_grad)[1]
    ch, n_ch = _channels(L, op, o)
    lr = _f32(op.lr.value.data)
    if isinstance(op, qtrain.DenseGradWeightSgdOp):
        n, k = _shape(op.input)
        L.call("odtc_dense_f32_grad_weight_sgd", L.ref(op.input), L.ref(op.output_grad), L.sym(op.param), ch, n_ch,
               _i(n), _i(k), _i(o), lr)
    else:
        L.call("odtc_conv2d_f32_grad_weight_sgd", L.ref(op.input), L.ref(op.output_grad), L.sym(op.param), ch, n_ch,
               *_conv_geometry(_shape(op.input), w_shape, o, op), lr)


def _globals(module: ModuleOp) -> tuple[list[ckern.GlobalOp], dict[str, str]]:
    out: list[ckern.GlobalOp] = []
    names: dict[str, str] = {}
    n_params = n_states = 0
    for o in module.ops:
        if not isinstance(o, qtrain.ParamOp | qtrain.StateOp):
            continue
        props: dict[str, Attribute] = {
            "source_name": o.sym_name,
            "ctype": StringAttr(ctype_of(o.type)),
            "shape": DenseArrayBase.from_list(i64, list(o.type.get_shape())),
            "init": o.init,
        }
        if isinstance(o, qtrain.ParamOp):
            cname = f"p{n_params}"
            props["kind"] = StringAttr("trainable" if o.is_trainable else "frozen")
            props["param_index"] = IntegerAttr(n_params, i64)
            n_params += 1
        else:
            cname = f"s{n_states}"
            props["kind"] = StringAttr("state")
            n_states += 1
        props["sym_name"] = StringAttr(cname)
        names[o.sym_name.data] = cname
        out.append(ckern.GlobalOp.create(properties=props))
    _dequant_views(module, out, names)
    return out, names


# A quantized parameter's `qtrain.scale` / `qtrain.zero_point` (qtrain-quantize) name the
# state symbols holding its current scale (tensor<f32>) and zero-point (tensor<i32>), or one
# per row for per-channel weights ([O]); its ckern.global gets `ckern.scale` / `ckern.zero_point` = their C names,
# from which the c target prints odtc_param_read/write as a dequantized float view.
_DEQUANT_ATTRS = (("qtrain.scale", "ckern.scale", "f32"), ("qtrain.zero_point", "ckern.zero_point", "i32"))


def _dequant_views(module: ModuleOp, globals_: list[ckern.GlobalOp], names: dict[str, str]) -> None:
    symbols = {o.sym_name.data: o for o in module.ops if isinstance(o, qtrain.ParamOp | qtrain.StateOp)}
    by_c_name = {g.sym_name.data: g for g in globals_}
    for name, o in symbols.items():
        if not isinstance(o, qtrain.ParamOp):
            continue
        for attr, key, elt in _DEQUANT_ATTRS:
            ref = o.attributes.get(attr)
            if ref is None:
                continue
            target = ref.root_reference.data if isinstance(ref, SymbolRefAttr) else None
            st = symbols.get(target) if target is not None else None
            want = f32 if elt == "f32" else i32
            rows = o.type.get_shape()[0] if o.type.get_shape() else 1
            if (not isinstance(st, qtrain.StateOp) or tuple(st.type.get_shape()) not in ((), (rows,))
                    or st.type.element_type != want):
                raise _fail(f"@{name}: {attr} must name a qtrain.state of type tensor<{elt}> (or tensor<{rows}x{elt}>, "
                            f"one per row), got {ref}")
            by_c_name[names[name]].attributes[key] = StringAttr(names[st.sym_name.data])


def _io_attrs(module: ModuleOp) -> dict[str, Attribute]:
    """Input/target/output shapes and C types of the device API, for the header."""
    out: dict[str, Attribute] = {}
    fns = {f.sym_name.data: f for f in module.ops if isinstance(f, func.FuncOp)}
    io: list[tuple[str, Attribute]] = []
    if "train_step" in fns:
        ins = list(fns["train_step"].function_type.inputs)
        io += [("input", ins[0]), ("target", ins[1])]
    if "forward" in fns:
        fwd = fns["forward"].function_type
        if "train_step" not in fns:
            io.append(("input", fwd.inputs.data[0]))
        io.append(("output", fwd.outputs.data[0]))
    for key, t in io:
        out[f"ckern.{key}_shape"] = DenseArrayBase.from_list(i64, list(qtrain.tensor_shape(t)))
        out[f"ckern.{key}_ctype"] = StringAttr(ctype_of(t))
    return out


@dataclass(frozen=True)
class ConvertQTrainToCPass(ModulePass):
    name = "convert-qtrain-to-c"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        globals_, names = _globals(op)
        funcs: list[Operation] = []
        arena = op.attributes.get("qtrain.arena_bytes")
        if arena is None:
            raise _fail("the module has no buffer plan (run qtrain-bufferize and qtrain-plan-buffers first)")
        for fn in list(op.ops):
            if isinstance(fn, qtrain.ParamOp | qtrain.StateOp):
                continue
            if not isinstance(fn, func.FuncOp):
                raise _fail(f"unexpected top-level op {fn.name}: the module may hold only qtrain symbols and functions")
            entry = ENTRY_POINTS.get(fn.sym_name.data)
            if entry is None:
                raise _fail(f"@{fn.sym_name.data} is not a device entry point (expected @train_step or @forward)")
            check_plan(fn)
            L = _Lowerer(op, names)
            block = fn.body.block
            arg_names = ["input", "target"] if entry == "odtc_train_step" else ["input"]
            for a, nm in zip(block.args, arg_names):
                L.args[a] = nm
            result: ckern.RefAttr | None = None
            for o in block.ops:
                _lower(L, o)
                if isinstance(o, func.ReturnOp) and o.arguments:
                    result = L.ref(o.arguments[0])
            if entry == "odtc_infer":
                assert result is not None
                t = block.ops.last.operands[0].type  # type: ignore[union-attr]
                from odtc.passes.prune_frozen_backward import tensor_bytes

                L.copy(ckern.RefAttr("arg", "output", 0, ctype_of(t)), result, tensor_bytes(t))  # type: ignore[arg-type]
                result = None
            L.ops.append(ckern.ReturnOp.create(properties={"value": result} if result is not None else {}))
            body = Region(Block(L.ops))
            funcs.append(
                ckern.FuncOp.create(
                    properties={
                        "sym_name": StringAttr(entry),
                        "arena_bytes": IntegerAttr(int(arena.value.data), i64),  # type: ignore[attr-defined]
                    },
                    regions=[body],
                )
            )
        io = _io_attrs(op)
        for o in list(op.ops):
            o.detach()
            o.erase()
        op.body.block.add_ops([*globals_, *funcs])
        op.attributes["ckern.arena_bytes"] = arena
        op.attributes.update(io)
        op.attributes.pop("qtrain.arena_bytes", None)

