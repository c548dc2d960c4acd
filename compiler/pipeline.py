"""The compiler's pass pipeline, as ONE pipeline string.

`odtc compile --print-pipeline` prints it and `odtc-opt -p "<string>"` replays it pass by pass,
so every compile can be reproduced and debugged one pass at a time. The order:

    qtrain-fold-batchnorm        batch norms frozen in the input folded into their conv
    qtrain-mark-trainable        the transfer-learning mode decides trainable/frozen/sparse
    qtrain-autodiff              @train_step = forward + loss + full backward + updates
    qtrain-prune-frozen-backward drop backward work no update needs; annotate saved bytes
    qtrain-fuse-updates          plain SGD applied inside the grad-weight: no weight-gradient
                                 buffer (before the checkpoints, whose budget must see that;
                                 `recompute=true` then, see passes/fuse_updates.py)
    qtrain-insert-checkpoints    only with memory.budget_bytes > 0: recompute instead of keep
    qtrain-schedule              memory-aware op order: updates as soon as their gradient is
                                 complete, saved activations freed at their last use

    qtrain-bufferize             storage decision + live range for every tensor; relu, relu6,
                                 add and acc_relu write over an input that dies there
                                 (inplace=true)
    qtrain-plan-buffers          static arena offsets (best of several placements; verified)
    convert-qtrain-to-c          kernel calls over planned buffers (ckern), printed by -t c

With [quantize] scheme != "none", qtrain-quantize (passes/quantize.py) follows the pruning,
and with λ < 1 qtrain-partial-update follows it, then (memory.stream_accumulator_bytes > 0)
qtrain-stream-accumulators; fuse-updates then finds no float SGD pair
on quantized weights and leaves them alone (with `update=fused`, qtrain-quantize already
emits its own fused row-by-row quantized update).
"""

import numpy as np

from odtc.compiler.config import Config, resolved_update

ALIGNMENT = 8  # bytes; every arena buffer starts at a multiple (float/int32 and SIMD loads)


def _fmt_float(v: float) -> str:
    # xDSL's pass-option parser takes no exponents: print the shortest exact positional form.
    return np.format_float_positional(float(v), unique=True, trim="0")


def _tuple(values: tuple[str, ...]) -> str:
    return ",".join(f'"{v}"' for v in values)


def pipeline_string(cfg: Config) -> str:
    t = cfg.train
    mark: list[str] = [f"mode={t.mode}"]
    if t.mode == "full":
        mark.append(f"trainable={_tuple(t.trainable)}")
    elif t.mode == "last-k":
        mark.append(f"k={t.last_k}")
    elif t.mode == "sparse":
        mark.append(f"bias-k={t.bias_k}")
        if t.sparse_weights:
            mark.append(f"weights={_tuple(t.sparse_weights)}")
    ad = [f"loss={t.loss}"]
    if t.loss == "elbo":
        ad += [f"recon={t.reconstruction}", f"kl-weight={_fmt_float(t.kl_weight)}"]
    ad += [f"optimizer={t.optimizer}", f"lr={_fmt_float(t.learning_rate)}"]
    if t.optimizer == "momentum":
        ad.append(f"momentum={_fmt_float(t.momentum)}")
    if t.optimizer == "adam":
        ad += [f"beta1={_fmt_float(t.beta1)}", f"beta2={_fmt_float(t.beta2)}", f"eps={_fmt_float(t.eps)}"]
    ad.append(f"batch-size={t.batch_size}")
    # Folding runs on the trainable/frozen marks of the input IR, before the mode re-marks
    # parameters. (Folding after mark-trainable would also fold batch norms that train.toml
    # freezes; tests/filecheck/pipelines/default.mlir pins the current order.)
    passes = [
        "qtrain-fold-batchnorm",
        "qtrain-mark-trainable{" + " ".join(mark) + "}",
        "qtrain-autodiff{" + " ".join(ad) + "}",
        "qtrain-prune-frozen-backward",
    ]
    q = cfg.quantize
    if q.scheme != "none":
        opts = [f"scheme={q.scheme}", f"errors={q.errors}", f"weights={q.weights}", f"normalize={q.normalize}",
                f"rounding={q.rounding}",
                f"seed={q.seed}", f"alpha-w={_fmt_float(q.alpha_w)}", f"alpha-a={_fmt_float(q.alpha_a)}",
                f"alpha-e={_fmt_float(q.alpha_e)}", f"update={resolved_update(q)}"]
        if resolved_update(q) == "fused":
            opts.append(f"headroom={_fmt_float(q.headroom)}")
        passes.append("qtrain-quantize{" + " ".join(opts) + "}")
    pu = cfg.partial_update
    if (pu.lambda_min, pu.lambda_max) != (1.0, 1.0):
        passes.append(f"qtrain-partial-update{{lambda-min={_fmt_float(pu.lambda_min)} "
                      f"lambda-max={_fmt_float(pu.lambda_max)}}}")
    if cfg.memory.stream_accumulator_bytes:
        every = " all=true" if cfg.memory.stream_all else ""
        passes.append(f"qtrain-stream-accumulators{{min-bytes={cfg.memory.stream_accumulator_bytes}{every}}}")
    if q.scheme != "none" and q.errors in ("int8", "int16"):
        # where it lowers the step's peak (passes/pack_masks.py); every eligible one with stream_all
        passes.append("qtrain-pack-masks{all=true}" if cfg.memory.stream_all else "qtrain-pack-masks")
    # qtrain-fuse-updates runs before the checkpoints, so that the budget is judged on the
    # arena without the fused weight gradients, and in `recompute` mode there: a saved
    # activation may be recomputed for its later readers, so it may not count as kept
    # alive by them. (Measured: fusing after the checkpoints leaves every MNIST CNN budget
    # under 103,624 B infeasible; plain fusion before them raises a full-resolution conv
    # chain's smallest feasible budget by 22 %, tests/pytest/test_fuse_updates.py.)
    # qtrain-insert-checkpoints (passes/insert_checkpoints.py, issue #6 part B) goes here,
    # between pruning and scheduling, when a memory budget is set:
    if cfg.memory.budget_bytes:
        passes.append("qtrain-fuse-updates{recompute=true}")
        passes.append(f"qtrain-insert-checkpoints{{budget-bytes={cfg.memory.budget_bytes} fuse=true}}")
    else:
        passes.append("qtrain-fuse-updates")
    passes += [
        f"qtrain-schedule{{alignment={ALIGNMENT}}}",
        "qtrain-bufferize{inplace=true}",
        f"qtrain-plan-buffers{{alignment={ALIGNMENT}}}",
        "convert-qtrain-to-c",
    ]
    return ",".join(passes)
