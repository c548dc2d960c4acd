"""odtc's passes. One file per pass; `get_all_passes()` is the registry odtc-opt and the
driver use. Factories import lazily so `odtc-opt --help` stays fast."""

from collections.abc import Callable

from xdsl.passes import ModulePass


def _fold_batchnorm() -> type[ModulePass]:
    from odtc.passes.fold_batchnorm import FoldBatchnormPass

    return FoldBatchnormPass


def _mark_trainable() -> type[ModulePass]:
    from odtc.passes.mark_trainable import MarkTrainablePass

    return MarkTrainablePass


def _autodiff() -> type[ModulePass]:
    from odtc.passes.autodiff import AutodiffPass

    return AutodiffPass


def _prune_frozen_backward() -> type[ModulePass]:
    from odtc.passes.prune_frozen_backward import PruneFrozenBackwardPass

    return PruneFrozenBackwardPass


def _insert_checkpoints() -> type[ModulePass]:
    from odtc.passes.insert_checkpoints import InsertCheckpointsPass

    return InsertCheckpointsPass


def _schedule() -> type[ModulePass]:
    from odtc.passes.schedule import SchedulePass

    return SchedulePass


def _fuse_updates() -> type[ModulePass]:
    from odtc.passes.fuse_updates import FuseUpdatesPass

    return FuseUpdatesPass


def _bufferize() -> type[ModulePass]:
    from odtc.passes.bufferize import BufferizePass

    return BufferizePass


def _plan_buffers() -> type[ModulePass]:
    from odtc.passes.plan_buffers import PlanBuffersPass

    return PlanBuffersPass


def _quantize() -> type[ModulePass]:
    from odtc.passes.quantize import QuantizePass

    return QuantizePass


def _partial_update() -> type[ModulePass]:
    from odtc.passes.partial_update import PartialUpdatePass

    return PartialUpdatePass


def _stream_accumulators() -> type[ModulePass]:
    from odtc.passes.stream_accumulators import StreamAccumulatorsPass

    return StreamAccumulatorsPass


def _pack_masks() -> type[ModulePass]:
    from odtc.passes.pack_masks import PackMasksPass

    return PackMasksPass


def _convert_qtrain_to_c() -> type[ModulePass]:
    from odtc.passes.convert_qtrain_to_c import ConvertQTrainToCPass

    return ConvertQTrainToCPass


def get_all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """Pass name -> factory returning the pass class (the key equals the class's `name`)."""
    return {
        "qtrain-fold-batchnorm": _fold_batchnorm,
        "qtrain-mark-trainable": _mark_trainable,
        "qtrain-autodiff": _autodiff,
        "qtrain-prune-frozen-backward": _prune_frozen_backward,
        "qtrain-quantize": _quantize,
        "qtrain-partial-update": _partial_update,
        "qtrain-stream-accumulators": _stream_accumulators,
        "qtrain-pack-masks": _pack_masks,
        "qtrain-insert-checkpoints": _insert_checkpoints,
        "qtrain-schedule": _schedule,
        "qtrain-fuse-updates": _fuse_updates,
        "qtrain-bufferize": _bufferize,
        "qtrain-plan-buffers": _plan_buffers,
        "convert-qtrain-to-c": _convert_qtrain_to_c,
    }
