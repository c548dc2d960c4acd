"""MobileNetV2-w0.35 (compiler/builder.py mobilenetv2_w035) against REFERENCES.md §3, and the
Tiny Training Engine's "99 KB" sparse-update scheme (TTE_SPARSE_99KB and
examples/mobilenetv2_tte_sparse.toml) with its conv numbering."""

from __future__ import annotations

from math import prod
from pathlib import Path

from xdsl.dialects import func

from odtc.compiler import api, builder
from odtc.compiler.config import config_from_dict, load_config
from odtc.compiler.pipeline import pipeline_string
from odtc.dialects import qtrain

ROOT = Path(__file__).resolve().parents[2]


def test_shape_params_and_macs() -> None:
    m = builder.mobilenetv2_w035()
    params = {o.sym_name.data: tuple(o.type.get_shape()) for o in m.ops if isinstance(o, qtrain.ParamOp)}
    assert sum(prod(s) for s in params.values()) == 245_578  # "0.24 M parameters"
    convs = sorted(int(n[4:].split(".")[0]) for n in params if n.startswith("conv") and n.endswith(".weight"))
    assert convs == list(range(51))
    assert params["conv0.weight"] == (16, 3, 3, 3)
    assert params["conv1.weight"] == (16, 1, 3, 3)  # first block, t = 1: depthwise first
    assert params["conv2.weight"] == (8, 16, 1, 1)
    assert params["conv3.weight"] == (48, 8, 1, 1)  # block 1 (6, 8, 2): pw1 = conv3
    assert params["conv48.weight"] == (336, 56, 1, 1)  # last block (6, 112, 1): pw1 = conv48
    assert params["conv50.weight"] == (112, 336, 1, 1)
    assert params["classifier.weight"] == (10, 112)
    fwd = next(o for o in m.ops if isinstance(o, func.FuncOp))
    assert list(qtrain.tensor_shape(fwd.function_type.inputs.data[0])) == [1, 3, 128, 128]
    adds = sum(isinstance(o, qtrain.AddOp) for o in fwd.body.block.ops)
    assert adds == 10  # the r blocks: 1 + 2 + 3 + 2 + 2
    macs = sum(api.op_macs(o) for o in fwd.body.block.ops)
    assert macs == 16_648_032  # "about 16.7 M MACs"


def test_tte_sparse_example_is_the_builder_scheme() -> None:
    cfg = load_config(ROOT / "examples" / "mobilenetv2_tte_sparse.toml")
    scheme = builder.TTE_SPARSE_99KB
    assert cfg.train.mode == scheme["mode"] and cfg.train.bias_k == scheme["bias_k"]
    assert list(cfg.train.sparse_weights) == scheme["sparse_weights"]


def test_tte_sparse_selects_what_the_paper_trains() -> None:
    module = api.run_pipeline(
        builder.mobilenetv2_w035(),
        "qtrain-mark-trainable{mode=sparse bias-k=26 weights="
        + ",".join(f'"{w}"' for w in builder.TTE_SPARSE_99KB["sparse_weights"])  # type: ignore[union-attr]
        + "}",
    )
    params = {o.sym_name.data: o for o in module.ops if isinstance(o, qtrain.ParamOp)}
    trained = {n for n, p in params.items() if p.is_trainable}
    biases = {f"conv{i}.bias" for i in range(26, 51)} | {"classifier.bias"}
    weights = {f"conv{i}.weight" for i in (27, 30, 33, 36, 39, 42, 45, 48)} | {"classifier.weight"}
    assert trained == biases | weights
    channels = {n: len(list(p.attributes["channels"].get_values())) for n, p in params.items() if "channels" in p.attributes}  # type: ignore[union-attr]
    assert channels == {"conv42.weight": 42, "conv45.weight": 168}  # 1/8 and 1/2 of 336


def test_compiles_through_the_pipeline(tmp_path: Path) -> None:
    result = api.compile_model(
        builder.mobilenetv2_w035(), config_from_dict({"train": dict(builder.TTE_SPARSE_99KB)}), tmp_path
    )
    m = result.memory
    assert m["lower_bound_bytes"] <= m["arena_bytes"] <= 1.02 * m["lower_bound_bytes"]
    assert m["macs_forward"] == 16_648_032


def test_tte_sparse_u8_example_config() -> None:
    """examples/mobilenetv2_tte_sparse_u8.toml is the TTE scheme, quantized and streamed: the
    pipeline quantizes, streams (and fuses), and packs masks."""
    cfg = load_config(ROOT / "examples" / "mobilenetv2_tte_sparse_u8.toml")
    assert cfg.train.mode == "sparse" and cfg.train.bias_k == 26
    assert cfg.quantize.scheme == "u8-asym" and cfg.memory.stream_accumulator_bytes == 8192
    p = pipeline_string(cfg)
    assert "qtrain-quantize{scheme=u8-asym" in p and "qtrain-stream-accumulators{min-bytes=8192}" in p
    assert "qtrain-pack-masks" in p
