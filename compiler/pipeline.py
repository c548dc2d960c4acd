"""The compiler's pass pipeline, as ONE pipeline string.

`odtc compile --print-pipeline` prints it and `odtc-opt -p "<string>"` replays it pass by pass,
so every compile can be reproduced and debugged one pass at a time. The order:

    qtrain-fold-batchnorm        frozen BN folded before anything reasons about layers
    qtrain-mark-trainable        the transfer-learning mode decides trainable/frozen/sparse
    qtrain-autodiff              @train_step = forward + loss + full backward + updates
    qtrain-prune-frozen-backward drop backward work no update needs; annotate saved bytes

    qtrain-bufferize             storage decision + live range for every tensor
    qtrain-plan-buffers          static arena offsets (greedy by size; verified)
    convert-qtrain-to-c          kernel calls over planned buffers (ckern), printed by -t c

Later stages (quantize, partial update, checkpoints, schedule) join this string as they land.
"""

import numpy as np

from odtc.compiler.config import Config

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
    ad = [f"loss={t.loss}", f"optimizer={t.optimizer}", f"lr={_fmt_float(t.learning_rate)}"]
    if t.optimizer == "momentum":
        ad.append(f"momentum={_fmt_float(t.momentum)}")
    if t.optimizer == "adam":
        ad += [f"beta1={_fmt_float(t.beta1)}", f"beta2={_fmt_float(t.beta2)}", f"eps={_fmt_float(t.eps)}"]
    ad.append(f"batch-size={t.batch_size}")
    passes = [
        "qtrain-fold-batchnorm",
        "qtrain-mark-trainable{" + " ".join(mark) + "}",
        "qtrain-autodiff{" + " ".join(ad) + "}",
        "qtrain-prune-frozen-backward",
        "qtrain-bufferize",
        f"qtrain-plan-buffers{{alignment={ALIGNMENT}}}",
        "convert-qtrain-to-c",
    ]
    return ",".join(passes)
