"""The memory report (compiler/api.py memory_report, BUILD/memory.json): the RAM split, the
MAC counts per training step, and the code size of a Cortex-M build (add_code_size).

MACs are checked against hand counts. MNIST CNN (1x28x28; conv1 1->8 k3 s2 p1 -> 14x14,
conv2 8->16 k3 s2 p1 -> 7x7, fc1 784->32, fc2 32->10):
  forward  = conv1 8·14·14·1·9 (14,112) + conv2 16·7·7·8·9 (56,448) + fc1 784·32 (25,088)
             + fc2 32·10 (320) = 95,968
  backward = grad-input of fc2, fc1, conv2 (320 + 25,088 + 56,448; none for conv1: the
             input needs no gradient) + grad-weight of all four (95,968) = 177,824
Sparse (bias_k 2, conv2.weight:0.5, fc1.weight:0.25): conv1 frozen, so no conv1
grad-weight and no conv2 grad-input; grad-weight of conv2 for 8 of 16 channels (28,224)
and fc1 for 8 of 32 rows (6,272); grad-input of fc2 (320) and fc1 (25,088) -> 59,904.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from odtc.compiler import api, builder
from odtc.compiler.config import Config, config_from_dict
from odtc.runtime.emulator import toolchain_available

KEYS = (
    "arena_bytes", "lower_bound_bytes", "naive_bytes", "ram_bytes", "flash_bytes", "trainable_weights_bytes",
    "optimizer_state_bytes", "quantization_state_bytes", "state_bytes", "frozen_weights_bytes",
    "initial_values_bytes", "saved_activation_bytes", "macs_forward", "macs_backward", "macs_recompute",
)


@pytest.mark.parametrize(
    "config, forward, backward",
    [({}, 95968, 177824),
     ({"train": {"mode": "sparse", "bias_k": 2, "sparse_weights": ["conv2.weight:0.5", "fc1.weight:0.25"]}},
      95968, 59904)],
    ids=["full", "sparse"],
)
def test_macs_of_mnist_cnn(config: dict, forward: int, backward: int, tmp_path: Path) -> None:
    result = api.compile_model(builder.mnist_cnn(), config_from_dict(config), tmp_path)
    m = result.memory
    assert (m["macs_forward"], m["macs_backward"], m["macs_recompute"]) == (forward, backward, 0)


def test_report_keys_and_ram_split(tmp_path: Path) -> None:
    cfg = config_from_dict({"train": {"optimizer": "adam", "batch_size": 2}})
    result = api.compile_model(builder.mnist_mlp(), cfg, tmp_path)
    m = json.loads((tmp_path / "memory.json").read_text())
    assert m == result.memory
    assert set(KEYS) <= set(m)
    assert m["ram_bytes"] == (
        m["arena_bytes"] + m["trainable_weights_bytes"] + m["optimizer_state_bytes"] + m["quantization_state_bytes"]
    )
    assert m["quantization_state_bytes"] == 0
    # Adam: two moments (2 x the parameter bytes) and an i32 step for each of the 4
    # parameters; mini-batches: one accumulator per parameter and the i32 batch position
    params = m["trainable_weights_bytes"]
    assert m["optimizer_state_bytes"] == 2 * params + 4 * 4 + params + 4
    assert m["flash_bytes"] == m["frozen_weights_bytes"] + m["initial_values_bytes"]
    assert m["lower_bound_bytes"] <= m["arena_bytes"] <= m["naive_bytes"]
    assert "code_bytes" not in m  # the compile step does not run make


def test_recompute_macs_are_counted_apart() -> None:
    module = api.run_pipeline(
        builder.mnist_mlp(), "qtrain-autodiff,qtrain-prune-frozen-backward"
    )
    from xdsl.dialects import func
    from xdsl.dialects.builtin import UnitAttr

    from odtc.dialects import qtrain

    fn = next(o for o in module.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "train_step")

    dense = [o for o in fn.body.block.ops if isinstance(o, qtrain.DenseOp)]
    dense[0].attributes["qtrain.recompute"] = UnitAttr()  # as if qtrain-insert-checkpoints had redone it
    macs = api.train_step_macs(fn)
    assert macs == {"forward": 64 * 10, "backward": 64 * 10 + 784 * 64 + 64 * 10, "recompute": 784 * 64}


def test_code_size_is_empty_without_a_cortex_m_build(tmp_path: Path) -> None:
    api.compile_model(builder.mnist_mlp(), Config(), tmp_path)
    assert api.code_size(tmp_path) == {}
    before = (tmp_path / "memory.json").read_text()
    api.add_code_size(tmp_path)
    assert (tmp_path / "memory.json").read_text() == before


@pytest.mark.skipif(
    not toolchain_available() or shutil.which("arm-none-eabi-size") is None,
    reason="arm-none-eabi-gcc (with newlib) and arm-none-eabi-size are not installed",
)
def test_code_size_of_a_cortex_m_build(tmp_path: Path) -> None:
    from odtc.runtime.host import make

    api.compile_model(builder.mnist_cnn(), Config(), tmp_path, target="cortex-m4")
    make(tmp_path, "cortex-m4")
    m = api.add_code_size(tmp_path)
    assert 0 < m["code_bytes"] < m["elf_code_bytes"]
    assert m["flash_bytes"] == m["frozen_weights_bytes"] + m["initial_values_bytes"] + m["code_bytes"]
    assert json.loads((tmp_path / "memory.json").read_text()) == m
