"""qtrain-stream-accumulators: never store a large int32 accumulator whole.

In a fully quantized step every conv layer (forward, and the int8 input gradient of a
conv-transpose) first writes its int32 accumulator — 4 bytes per output, four times its
8-bit result — and only then tracks its range and requantizes it:

    %acc = qtrain.qconv2d_acc %x[%zx], %w[%zw], %b[%s] ...     int32 [N, O, OH, OW]
    %a   = qtrain.acc_relu %acc                               (optional)
    %obs = qtrain.minmax %a scale %s
    ... %sy, %zy from the range ...
    %y   = qtrain.requantize_acc %a[%s] -> [%sy, %zy]

In the VAE's u8 step those 12.5 kB accumulators are the peak of the arena. This pass
replaces such a chain, when the accumulator has at least `min-bytes` bytes, by two
streamed ops that compute the layer one output channel at a time into an [OH, OW] int32
plane of scratch:

    %obs = qtrain.qconv2d_acc_stream(...) {relu}                    -> tensor<2xf32>
    %y   = qtrain.qconv2d_acc_stream(..., %sy, %zy) {relu}           -> 8-bit [N, O, OH, OW]

Why twice: the output scale comes from this step's range (the range tracking is part of
the paper's run-time scale adaptation), so no value can be requantized before the last
accumulator is known. The second pass recomputes the layer's MACs; the memory report
counts them as `recompute`. Results are bit-identical (min/max and the elementwise
requantization do not depend on the channel order). Streamed: `qconv2d_acc` (any groups:
output channel o reads only its group's input channels; relu or relu6 applied per plane),
`qconv_transpose2d_acc` and the int32 input gradient `qconv2d_grad_input` with groups 1
(`qconv2d_grad_input_stream`, one input-channel plane at a time); a chain whose
accumulator has other readers, or whose minmax and requantize scales are not the layer's
accumulator scale, is left alone, and so is a layer with per-channel weights
(qtrain-quantize weights=per-channel: the streamed kernels take one weight scale; its input
gradient, whose error is rescaled to int16, is not streamed either).

A conv whose streamed 8-bit output h is read only by a streamed depthwise conv (MobileNetV2's
expansion conv and the depthwise conv after it) is then fused with it:
`qtrain.qconv2d_pw_dw_stream` computes one channel plane of h at a time, requantized, and
the depthwise conv of that plane, so h — the largest tensor of an inverted-residual block —
is never stored (h's range still comes from the first conv's own range stream). The price is
the first conv's MACs once more per depthwise pass (reported as recompute). Fused where it
lowers the scheduled peak (every pair with `all=true`). Measured on MobileNetV2-w0.35 (TTE
sparse update, u8): see README, "Training-step memory".

Inference (`@forward`) requantizes to the stored output scale and tracks no range
(`acc [-> acc_relu] -> requantize_acc`, no minmax): there the chain becomes the second,
requantizing op alone — one pass, no MACs added. It is streamed only where the function's
peak is the module's largest (otherwise the arena, set by the training step, gains
nothing and inference pays the per-channel calls): measured on the MNIST CNN u8 with
min-bytes=1024, `odtc_infer`'s 7,864 B had become the arena; streamed, the arena is the
step's 7,184 B.

Which ones: streaming costs the layer's MACs again, so by default only accumulators that
lower the step's memory peak are streamed — judged by the lower bound the step has after
qtrain-schedule and qtrain-bufferize (what qtrain-plan-buffers then reaches), greedily,
largest first (see `choose`). Measured on the VAE's u8 step (examples/vae_u8.toml): all four
12.5 kB accumulators streamed give a 19,704 B arena at 40.0M Cortex-M4 instructions per
step; the peak-lowering choice gives the same arena with fewer of them streamed. `all=true`
streams every eligible accumulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, TensorType, UnitAttr
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from odtc.dialects import qtrain as qt
from odtc.passes.plan_buffers import bound_of_copy
from odtc.passes.schedule import schedule_block

NAME = "qtrain-stream-accumulators"
ALIGNMENT = 8
"""The pipeline's qtrain-schedule / qtrain-plan-buffers alignment (compiler/pipeline.py)."""


def _fail(msg: str) -> PassFailedException:
    return PassFailedException(f"{NAME}: {msg}")


def _acc_bytes(v: SSAValue) -> int:
    t = v.type
    assert isinstance(t, TensorType)
    return 4 * prod(t.get_shape())


def _chain(acc_op: qt.QConv2dAccOp | qt.QConvTranspose2dAccOp | qt.QConv2dGradInputOp
           ) -> tuple[qt.AccReluOp | qt.AccRelu6Op | None, qt.MinMaxOp | None, qt.RequantizeAccOp] | None:
    """(relu or relu6, minmax, requantize) reading the accumulator and nothing else, or None.
    No minmax (None): an inference chain, whose output scale is a stored one."""
    v: SSAValue = acc_op.results[0]
    relu = None
    uses = [u.operation for u in v.uses]
    if len(uses) == 1 and isinstance(uses[0], qt.AccReluOp | qt.AccRelu6Op):
        relu = uses[0]
        v = relu.output
        uses = [u.operation for u in v.uses]
    mm = [u for u in uses if isinstance(u, qt.MinMaxOp)]
    rq = [u for u in uses if isinstance(u, qt.RequantizeAccOp)]
    if len(rq) != 1 or len(uses) != 1 + len(mm) or len(mm) > 1:
        return None
    m, r = (mm[0] if mm else None), rq[0]
    if r.input is not v or (m is not None and (m.input is not v or m.scale is None or m.scale is not r.input_scale)):
        return None
    if isinstance(acc_op, qt.QConv2dGradInputOp):
        return (relu, m, r) if relu is None else None
    if acc_op.acc_scale is not None and acc_op.acc_scale is not r.input_scale:
        return None
    if isinstance(relu, qt.AccRelu6Op) and relu.scale is not r.input_scale:
        return None
    return relu, m, r


def _candidates(fn: func.FuncOp, min_bytes: int) -> list[int]:
    """Block positions of the accumulators that can be streamed, largest first."""
    out: list[tuple[int, int]] = []
    for i, op in enumerate(fn.body.block.ops):
        if isinstance(op, qt.QConv2dGradInputOp) and (
                op.groups.value.data != 1 or qt.element_type(op.output_grad).storage.width.data != 8):  # type: ignore[attr-defined]
            continue  # the streamed input gradient takes int8 errors and groups 1
        if not isinstance(op, qt.QConv2dAccOp | qt.QConvTranspose2dAccOp | qt.QConv2dGradInputOp):
            continue
        if qt.element_type(op.weight).per_channel_axis is not None:  # type: ignore[attr-defined]
            continue  # the streamed kernels take per-tensor weights (qtrain-quantize weights=per-channel)
        size = _acc_bytes(op.results[0])
        if size >= min_bytes and _chain(op) is not None:
            out.append((-size, i))
    return [i for _, i in sorted(out)]


def _stream(fn: func.FuncOp, positions: list[int]) -> None:
    """Stream the accumulators at these block positions (each found by `_candidates`)."""
    ops = list(fn.body.block.ops)
    for i in positions:
        op = ops[i]
        assert isinstance(op, qt.QConv2dAccOp | qt.QConvTranspose2dAccOp | qt.QConv2dGradInputOp)
        chain = _chain(op)
        assert chain is not None
        relu, mm, rq = chain
        scale = rq.input_scale  # the layer's accumulator scale (the minmax's too)
        out_t = rq.output.type
        assert isinstance(out_t, TensorType) and isinstance(out_t.element_type, qt.QuantType)
        first: Operation | None = None
        second: Operation
        if isinstance(op, qt.QConv2dGradInputOp):
            if mm is not None:
                first = qt.QConv2dGradInputStreamOp(op, scale)
            second = qt.QConv2dGradInputStreamOp(op, scale, rq.output_scale, rq.output_zero_point, out_t.element_type)
        else:
            cls = qt.QConv2dAccStreamOp if isinstance(op, qt.QConv2dAccOp) else qt.QConvTranspose2dAccStreamOp
            kind = None if relu is None else ("relu6" if isinstance(relu, qt.AccRelu6Op) else "relu")
            if mm is not None:
                first = cls(op, scale, kind)  # type: ignore[arg-type]
            second = cls(op, scale, kind, rq.output_scale, rq.output_zero_point,  # type: ignore[arg-type]
                         out_t.element_type)
        if isinstance(op, qt.QConv2dGradInputOp) or "qtrain.backward" in op.attributes:
            for new in (first, second):
                if new is not None:
                    new.attributes["qtrain.backward"] = UnitAttr()
        block = fn.body.block
        if first is not None:
            assert mm is not None
            block.insert_op_before(first, mm)
            mm.output.replace_all_uses_with(first.results[0])
        block.insert_op_before(second, rq)
        rq.output.replace_all_uses_with(second.results[0])
        dead: list[Operation] = [rq] + ([mm] if mm is not None else []) + ([relu] if relu is not None else []) + [op]
        for d in dead:
            block.erase_op(d)


def _peak(fn: func.FuncOp, positions: list[int]) -> int:
    """The step's memory lower bound after qtrain-schedule and qtrain-bufferize, with the
    accumulators at `positions` streamed (`fn` itself is unchanged)."""

    def streamed(clone: func.FuncOp) -> None:
        _stream(clone, positions)
        schedule_block(clone.body.block, ALIGNMENT)

    return bound_of_copy(fn, streamed, ALIGNMENT)


def choose(fn: func.FuncOp, candidates: list[int], floor: int = 0) -> list[int]:
    """The candidates worth streaming: greedily, largest first, each one that lowers the
    scheduled peak; then, for a peak that sits at several points (where no single one
    lowers it), the remaining ones together if that lowers it, each dropped again unless
    the peak rises without it. A peak at or below `floor` (what another function of the
    module needs anyway) gains nothing."""
    best = max(_peak(fn, []), floor)
    chosen: list[int] = []
    if best == floor:
        return chosen
    for c in candidates:
        p = max(_peak(fn, chosen + [c]), floor)
        if p < best:
            chosen, best = chosen + [c], p
    rest = [c for c in candidates if c not in chosen]
    if rest and best > floor:
        p = max(_peak(fn, chosen + rest), floor)
        if p < best:
            trial = chosen + rest
            for c in rest:
                without = [x for x in trial if x != c]
                if max(_peak(fn, without), floor) <= p:
                    trial = without
            chosen = trial
    return sorted(chosen)


# ---- fused conv -> depthwise streams ------------------------------------------------------


def _depthwise_reader(op: Operation, h: SSAValue) -> bool:
    """A streamed depthwise conv (multiplier 1) of h."""
    if not isinstance(op, qt.QConv2dAccStreamOp) or op.input is not h:
        return False
    e = qt.tensor_shape(h)[1]
    o, i, _, _ = qt.tensor_shape(op.weight)
    return op.groups.value.data == e and o == e and i == 1


def _fusable(fn: func.FuncOp) -> list[int]:
    """Block positions of requantizing streamed convs (groups 1) whose 8-bit output h is read
    by streamed depthwise convs and nothing else (h is neither saved for the backward nor
    returned), largest h first: h need never be stored whole."""
    out: list[tuple[int, int]] = []
    for i, op in enumerate(fn.body.block.ops):
        if not isinstance(op, qt.QConv2dAccStreamOp) or op.is_range or op.groups.value.data != 1:
            continue
        h = op.output
        readers = [u.operation for u in h.uses]
        if readers and all(_depthwise_reader(r, h) for r in readers):
            out.append((-_acc_bytes(h) // 4, i))
    return [i for _, i in sorted(out)]


def _fuse(fn: func.FuncOp, positions: list[int]) -> None:
    """Replace each depthwise stream reading the h of the stream at these positions by a
    `qtrain.qconv2d_pw_dw_stream` computing h one channel plane at a time; h's stream goes."""
    ops = list(fn.body.block.ops)
    block = fn.body.block
    for i in positions:
        first = ops[i]
        assert isinstance(first, qt.QConv2dAccStreamOp)
        for use in list(first.output.uses):
            dw = use.operation
            assert isinstance(dw, qt.QConv2dAccStreamOp)
            if dw.is_range:
                new = qt.QConv2dPwDwStreamOp.fuse(first, dw)
            else:
                t = dw.output.type
                assert isinstance(t, TensorType) and isinstance(t.element_type, qt.QuantType)
                new = qt.QConv2dPwDwStreamOp.fuse(first, dw, dw.output_scale, dw.output_zero_point, t.element_type)
            block.insert_op_before(new, dw)
            dw.output.replace_all_uses_with(new.output)
            block.erase_op(dw)
        block.erase_op(first)


def _fused_peak(fn: func.FuncOp, positions: list[int]) -> int:
    def fused(clone: func.FuncOp) -> None:
        _fuse(clone, positions)
        schedule_block(clone.body.block, ALIGNMENT)

    return bound_of_copy(fn, fused, ALIGNMENT)


def fuse_function(fn: func.FuncOp, every: bool = False, floor: int = 0) -> int:
    """Fuses the eligible conv -> depthwise pairs of `fn` (with `every`, all; else greedily,
    largest h first, each that lowers the scheduled peak above `floor`); returns how many."""
    cands = _fusable(fn)
    if not cands:
        return 0
    if every:
        chosen = cands
    else:
        chosen, best = [], max(_fused_peak(fn, []), floor)
        for c in cands:
            if best == floor:
                break
            p = max(_fused_peak(fn, chosen + [c]), floor)
            if p < best:
                chosen, best = chosen + [c], p
    _fuse(fn, sorted(chosen))
    return len(chosen)


def _training(fn: func.FuncOp) -> bool:
    return any(isinstance(o, qt.MinMaxOp) for o in fn.body.block.ops)


def stream_function(fn: func.FuncOp, min_bytes: int, every: bool = False, floor: int = 0) -> int:
    """Streams the eligible accumulators of `fn` (with `every`, all of them; else those
    that lower the scheduled peak above `floor`, see `choose`); returns how many."""
    cands = _candidates(fn, min_bytes)
    if not cands:
        return 0
    chosen = sorted(cands) if every else choose(fn, cands, floor)
    _stream(fn, chosen)
    return len(chosen)


@dataclass(frozen=True)
class StreamAccumulatorsPass(ModulePass):
    name = "qtrain-stream-accumulators"

    min_bytes: int = 0
    """Consider only accumulators of at least this many bytes."""

    all: bool = False
    """Stream every eligible accumulator, not only those that lower the step's peak."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.min_bytes < 0:
            raise _fail(f"min-bytes must be >= 0, got {self.min_bytes}")
        fns = [f for f in op.ops if isinstance(f, func.FuncOp)]
        # Training functions first (their range tracking makes streaming cost a second
        # pass); then the others (inference: one pass, no MACs added), each only where it
        # lowers the module's arena, i.e. its peak above the largest of the rest.
        for fn in sorted(fns, key=lambda f: not _training(f)):
            floor = 0
            if not _training(fn):
                floor = max((_peak(g, []) for g in fns if g is not fn), default=0)
            # streaming and fusion each move the peak to where the other may help next
            # (MobileNetV2: fusing block 1's expansion exposes block 1's depthwise
            # accumulator, which then lowers the peak when streamed): alternate until
            # neither changes anything
            while stream_function(fn, self.min_bytes, self.all, floor) + fuse_function(fn, self.all, floor):
                pass
