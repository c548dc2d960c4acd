"""The `c` target: print a `ckern` module as `model.c` / `model.h` (odtc-opt -t c).

The printer dispatches on op type and fails on anything it does not know; it keeps no
state between calls. Floats are printed as C99 hex literals, so the C holds exactly the
values the IR holds.

    odtc-opt model.mlir -p "<pipeline>,convert-qtrain-to-c" -t c            # model.c
    odtc-opt model.mlir -p "<pipeline>,convert-qtrain-to-c" -t 'c{file=header}'

The device API exchanges parameters as float32 (odtc_param_read / odtc_param_write). An
integer parameter is exchanged through a dequantized view: when its ckern.global carries
`ckern.scale` / `ckern.zero_point` (convert-qtrain-to-c sets them from the `qtrain.scale` /
`qtrain.zero_point` symbol references that qtrain-quantize puts on the qtrain.param), read
gives scale * (q - zero_point) with the current values of those states and write stores
clamp(rintf(x / scale) + zero_point, storage range) (NaN -> zero_point); without them the
scale is 1 and the zero-point 0. Models with float parameters only print the plain memcpy
versions.
"""

import io
import struct
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import IO

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    Float32Type,
    Float64Type,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
)
from xdsl.ir import Attribute
from xdsl.utils.exceptions import DiagnosticException
from xdsl.utils.target import Target

from odtc.dialects import ckern, qtrain

ELEMENT_BYTES = {"float": 4, "int32_t": 4, "int16_t": 2, "int8_t": 1, "uint8_t": 1}
NUMPY = {"float": np.float32, "int32_t": np.int32, "int16_t": np.int16, "int8_t": np.int8, "uint8_t": np.uint8}


class EmitError(DiagnosticException):
    """The module cannot be printed as C (an op or attribute the target does not know)."""


def hex_f32(v: float) -> str:
    f = struct.unpack("<f", struct.pack("<f", v))[0]
    if np.isnan(f):
        return "(0.0f / 0.0f)"
    if np.isinf(f):
        return "(1.0f / 0.0f)" if f > 0 else "(-1.0f / 0.0f)"
    return f"{float(f).hex()}f"


def hex_f64(v: float) -> str:
    return float(v).hex()


def global_values(g: ckern.GlobalOp, base_dir: Path) -> np.ndarray:
    shape = tuple(int(v) for v in g.shape.get_values())
    dtype = NUMPY[g.ctype.data]
    init = g.init
    if isinstance(init, DenseIntOrFPElementsAttr):
        vals = np.asarray(init.get_values())
        if vals.size == 1:
            vals = np.full(shape, vals.reshape(()))
        return np.asarray(vals, dtype=np.float64 if dtype == np.float32 else np.int64).astype(dtype).reshape(shape)
    assert isinstance(init, qtrain.NpzAttr)
    path = base_dir / init.path.data
    try:
        with np.load(path, allow_pickle=False) as npz:
            arr = np.asarray(npz[init.key.data])
    except Exception as exc:
        raise EmitError(
            f"c target: cannot read the initial value of {g.source_name.data} from {path} key '{init.key.data}'"
        ) from exc
    if arr.shape != shape:
        raise EmitError(f"c target: {g.source_name.data} in {path} has shape {list(arr.shape)}, expected {list(shape)}")
    return arr.astype(dtype)


def _c_array(values: np.ndarray, ctype: str) -> str:
    flat = values.ravel()
    if ctype == "float":
        items = [hex_f32(float(v)) for v in flat]
    else:
        items = [str(int(v)) for v in flat]
    lines = []
    for i in range(0, len(items), 8):
        lines.append("    " + ", ".join(items[i : i + 8]) + ",")
    return "{\n" + "\n".join(lines) + "\n}"


@dataclass(frozen=True)
class Layout:
    """Byte accounting of a ckern module (what the header and memory.json state)."""

    arena: int
    trainable: int
    state: int
    frozen: int
    initial_values: int

    @property
    def ram(self) -> int:
        return self.arena + self.trainable + self.state


def layout_of(module: ModuleOp) -> Layout:
    arena = int(module.attributes["ckern.arena_bytes"].value.data)  # type: ignore[attr-defined]
    trainable = state = frozen = initial = 0
    for g in module.ops:
        if isinstance(g, ckern.GlobalOp):
            n = prod(int(v) for v in g.shape.get_values()) * ELEMENT_BYTES[g.ctype.data]
            if g.kind.data == "trainable":
                trainable += n
            elif g.kind.data == "frozen":
                frozen += n
            else:
                state += n
            if g.kind.data != "frozen" and not _all_zero(g.init):
                initial += n  # a flash copy odtc_init reads; all-zero storage is memset instead
    return Layout(arena, trainable, state, frozen, initial)


def _all_zero(init: Attribute) -> bool:
    if isinstance(init, DenseIntOrFPElementsAttr):
        return not any(float(v) != 0.0 for v in init.get_values())
    return False


def _globals(module: ModuleOp) -> list[ckern.GlobalOp]:
    return [g for g in module.ops if isinstance(g, ckern.GlobalOp)]


def _funcs(module: ModuleOp) -> dict[str, ckern.FuncOp]:
    return {f.sym_name.data: f for f in module.ops if isinstance(f, ckern.FuncOp)}


class _Printer:
    def __init__(self, module: ModuleOp, base_dir: Path, out: IO[str]) -> None:
        self.module = module
        self.base_dir = base_dir
        self.out = out
        self.ints_count = 0

    def w(self, line: str = "") -> None:
        self.out.write(line + "\n")

    def ref(self, r: ckern.RefAttr, const: bool) -> str:
        ct = r.ctype.data
        match r.space.data:
            case "arena":
                return f"ODTC_ARENA({ct}, {r.offset.data})"
            case "global":
                return r.target.data
            case "arg":
                return r.target.data
            case _:
                return "NULL"

    def arg(self, a: Attribute, pre: list[str]) -> str:
        if isinstance(a, ckern.RefAttr):
            return self.ref(a, False)
        if isinstance(a, ckern.DerefAttr):
            return f"(*{self.ref(a.ref, False)})"
        if isinstance(a, ckern.IntsAttr):
            name = f"odtc_ch{self.ints_count}"
            self.ints_count += 1
            vals = ", ".join(str(int(v)) for v in a.values.get_values())
            pre.append(f"    static const int32_t {name}[] = {{{vals}}};")
            return name
        if isinstance(a, IntegerAttr):
            return str(int(a.value.data))
        if isinstance(a, FloatAttr):
            if isinstance(a.type, Float32Type):
                return hex_f32(a.value.data)
            if isinstance(a.type, Float64Type):
                return hex_f64(a.value.data)
        raise EmitError(f"c target: cannot print argument {a}")

    def body(self, f: ckern.FuncOp) -> str | None:
        ret: str | None = None
        for op in f.body.block.ops:
            match op:
                case ckern.CallOp():
                    pre: list[str] = []
                    args = ", ".join(self.arg(a, pre) for a in op.args.data)
                    call = f"{op.callee.data}({args})"
                    if pre:
                        self.w("    {")
                        for p in pre:
                            self.w("    " + p)
                    indent = "        " if pre else "    "
                    if op.result is not None:
                        self.w(f"{indent}*{self.ref(op.result, False)} = {call};")
                    else:
                        self.w(f"{indent}{call};")
                    if pre:
                        self.w("    }")
                case ckern.CopyOp():
                    self.w(
                        f"    memcpy({self.ref(op.dst, False)}, {self.ref(op.src, True)}, {int(op.bytes.value.data)}u);"
                    )
                case ckern.ReturnOp():
                    if op.value is not None:
                        ret = f"*{self.ref(op.value, True)}"
                case _:
                    raise EmitError(f"c target: unknown op {op.name} in {f.sym_name.data}")
        return ret

    def check_lowered(self) -> None:
        for op in self.module.ops:
            if not isinstance(op, ckern.GlobalOp | ckern.FuncOp):
                raise EmitError(f"c target: unexpected top-level op {op.name} (run convert-qtrain-to-c first)")
        if "ckern.arena_bytes" not in self.module.attributes:
            raise EmitError("c target: the module has no ckern.arena_bytes (run convert-qtrain-to-c first)")

    def source(self) -> None:
        mod = self.module
        self.check_lowered()
        lay = layout_of(mod)
        funcs = _funcs(mod)
        w = self.w
        w("/* Generated by odtc. Do not edit: change the model or its train.toml and recompile. */")
        w("#include <stdint.h>")
        w("#include <string.h>")
        w("")
        w('#include "model.h"')
        w('#include "odtc_kernels.h"')
        w("")
        w(f"/* One static arena for every activation, gradient and scratch buffer: {lay.arena} bytes. */")
        # 16: the largest alignment qtrain-plan-buffers may use (MAX_ALIGNMENT).
        w(f"static _Alignas(16) uint64_t odtc_arena[{max(1, (lay.arena + 7) // 8)}];")
        w("#define ODTC_ARENA(T, off) ((T *)((uint8_t *)odtc_arena + (off)))")
        w("")
        for g in _globals(mod):
            vals = global_values(g, self.base_dir)
            ct = g.ctype.data
            n = max(1, vals.size)
            desc = f"{g.source_name.data} {list(vals.shape)} ({g.kind.data})"
            if g.kind.data == "frozen":
                w(f"/* {desc}: flash */")
                w(f"static const {ct} {g.sym_name.data}[{n}] = {_c_array(vals, ct)};")
            else:
                w(f"/* {desc}: RAM, initialised by odtc_init */")
                w(f"static {ct} {g.sym_name.data}[{n}];")
                if not _all_zero(g.init):
                    w(f"static const {ct} {g.sym_name.data}_init[{n}] = {_c_array(vals, ct)};")
        w("")
        w("void odtc_init(void)")
        w("{")
        for g in _globals(mod):
            if g.kind.data == "frozen":
                continue
            vals = global_values(g, self.base_dir)
            if not _all_zero(g.init):
                w(f"    memcpy({g.sym_name.data}, {g.sym_name.data}_init, sizeof {g.sym_name.data});")
            else:
                w(f"    memset({g.sym_name.data}, 0, sizeof {g.sym_name.data});")
        w("    memset(odtc_arena, 0, sizeof odtc_arena);")
        w("}")
        w("")
        input_t, target_t, output_t = _io_types(mod)
        if "odtc_train_step" in funcs:
            w("float odtc_train_step(const void *input_, const void *target_)")
            w("{")
            w(f"    const {input_t} *input = (const {input_t} *)input_;")
            w(f"    const {target_t} *target = (const {target_t} *)target_;")
            ret = self.body(funcs["odtc_train_step"])
            w(f"    return {ret if ret is not None else '0.0f'};")
            w("}")
        else:
            w("float odtc_train_step(const void *input_, const void *target_)")
            w("{")
            w("    (void)input_;")
            w("    (void)target_;")
            w("    return 0.0f; /* this build has no training step (inference only) */")
            w("}")
        w("")
        w("void odtc_infer(const void *input_, void *output_)")
        w("{")
        w(f"    const {input_t} *input = (const {input_t} *)input_;")
        w(f"    {output_t} *output = ({output_t} *)output_;")
        if "odtc_infer" in funcs:
            self.body(funcs["odtc_infer"])
        w("}")
        w("")
        params = [g for g in _globals(mod) if g.param_index is not None]
        if any(g.ctype.data != "float" for g in params):
            self.param_table_quantized(params)
            return
        w("static const struct {")
        w("    const char *name;")
        w("    const void *data;")
        w("    void *ram;")
        w("    size_t numel;")
        w(f"}} odtc_params[{max(1, len(params))}] = {{")
        for g in params:
            n = prod(int(v) for v in g.shape.get_values())
            ram = g.sym_name.data if g.kind.data == "trainable" else "NULL"
            w(f'    {{"{g.source_name.data}", {g.sym_name.data}, {ram}, {n}u}},')
        if not params:
            w('    {"", NULL, NULL, 0u},')
        w("};")
        w("")
        w(f"size_t odtc_param_count(void) {{ return {len(params)}u; }}")
        w("const char *odtc_param_name(size_t i) { return i < odtc_param_count() ? odtc_params[i].name : NULL; }")
        w("size_t odtc_param_numel(size_t i) { return i < odtc_param_count() ? odtc_params[i].numel : 0u; }")
        w("int odtc_param_writable(size_t i) { return i < odtc_param_count() && odtc_params[i].ram != NULL; }")
        w("")
        w("void odtc_param_read(size_t i, float *dst)")
        w("{")
        w("    if (i < odtc_param_count()) {")
        w("        memcpy(dst, odtc_params[i].data, odtc_params[i].numel * sizeof(float));")
        w("    }")
        w("}")
        w("")
        w("void odtc_param_read_range(size_t i, size_t offset, size_t count, float *dst)")
        w("{")
        w("    if (i < odtc_param_count() && offset <= odtc_params[i].numel && count <= odtc_params[i].numel - offset) {")
        w("        memcpy(dst, (const float *)odtc_params[i].data + offset, count * sizeof(float));")
        w("    }")
        w("}")
        w("")
        w("void odtc_param_write(size_t i, const float *src)")
        w("{")
        w("    if (odtc_param_writable(i)) {")
        w("        memcpy(odtc_params[i].ram, src, odtc_params[i].numel * sizeof(float));")
        w("    }")
        w("}")

    def param_table_quantized(self, params: list[ckern.GlobalOp]) -> None:
        """The odtc_param_* functions of a model with integer parameters: a float view.

        Each entry has its storage (-1 float, else ODTC_S8/U8/S16/S32) and the scale and
        zero-point it is viewed with: the state globals named by `ckern.scale` /
        `ckern.zero_point` (a quantized parameter's current per-tensor parameters), or 1
        and 0 for a plain integer parameter. Read: x = scale * (float)(q - zero_point)
        (odtc_dequantize); write: q = clamp(rintf(x / scale) + zero_point, storage range),
        NaN -> zero_point (odtc_quantize). Per-channel weights (a scale state with one value
        per row) have `rows` > 0: element i uses scale[i / (numel / rows)]."""
        w = self.w
        by_name = {g.sym_name.data: g for g in _globals(self.module)}

        def rows_of(g: ckern.GlobalOp) -> int:
            sc = g.attributes.get("ckern.scale")
            st = by_name.get(sc.data) if isinstance(sc, StringAttr) else None
            n = prod(int(v) for v in st.shape.get_values()) if st is not None else 1
            return int(g.shape.get_values()[0]) if n > 1 else 0

        w("/* Integer parameters are viewed as float: read x = scale * (q - zero_point), write")
        w("   q = clamp(rintf(x / scale) + zero_point) (odtc_dequantize / odtc_quantize), with the")
        w("   parameter's current scale/zero-point state, or 1 and 0 for a plain integer tensor. */")
        if any("ckern.scale" not in g.attributes for g in params):
            w("static const float odtc_unit_scale[1] = {1.0f};")
        if any("ckern.zero_point" not in g.attributes for g in params):
            w("static const int32_t odtc_no_zero_point[1] = {0};")
        w("")
        w("static const struct {")
        w("    const char *name;")
        w("    const void *data;")
        w("    void *ram;")
        w("    size_t numel;")
        w("    int32_t storage; /* -1: float, else ODTC_S8 / ODTC_U8 / ODTC_S16 / ODTC_S32 */")
        w("    const float *scale;")
        w("    const int32_t *zero_point;")
        w("    size_t rows; /* 0: per tensor; else one scale / zero-point per row (per-channel weights) */")
        w(f"}} odtc_params[{max(1, len(params))}] = {{")
        storage = {"float": "-1", "int8_t": "ODTC_S8", "uint8_t": "ODTC_U8", "int16_t": "ODTC_S16",
                   "int32_t": "ODTC_S32"}
        for g in params:
            n = prod(int(v) for v in g.shape.get_values())
            ram = g.sym_name.data if g.kind.data == "trainable" else "NULL"
            sc = g.attributes.get("ckern.scale")
            zp = g.attributes.get("ckern.zero_point")
            scale = sc.data if isinstance(sc, StringAttr) else "odtc_unit_scale"
            zero = zp.data if isinstance(zp, StringAttr) else "odtc_no_zero_point"
            w(f'    {{"{g.source_name.data}", {g.sym_name.data}, {ram}, {n}u, {storage[g.ctype.data]}, {scale}, {zero}, '
              f'{rows_of(g)}u}},')
        w("};")
        w("")
        w(f"size_t odtc_param_count(void) {{ return {len(params)}u; }}")
        w("const char *odtc_param_name(size_t i) { return i < odtc_param_count() ? odtc_params[i].name : NULL; }")
        w("size_t odtc_param_numel(size_t i) { return i < odtc_param_count() ? odtc_params[i].numel : 0u; }")
        w("int odtc_param_writable(size_t i) { return i < odtc_param_count() && odtc_params[i].ram != NULL; }")
        w("")
        w("static size_t odtc_param_element_bytes(int32_t storage)")
        w("{")
        w("    return storage < 0 ? sizeof(float) : storage == ODTC_S16 ? 2u : storage == ODTC_S32 ? 4u : 1u;")
        w("}")
        w("")
        w("void odtc_param_read_range(size_t i, size_t offset, size_t count, float *dst)")
        w("{")
        w("    if (i < odtc_param_count() && offset <= odtc_params[i].numel && count <= odtc_params[i].numel - offset) {")
        w("        const int32_t st = odtc_params[i].storage;")
        w("        const void *src = (const uint8_t *)odtc_params[i].data + offset * odtc_param_element_bytes(st);")
        w("        if (st < 0) {")
        w("            memcpy(dst, src, count * sizeof(float));")
        w("        } else if (odtc_params[i].rows == 0u) {")
        w("            odtc_dequantize(src, st, dst, count, 1u, 1u, odtc_params[i].scale, odtc_params[i].zero_point, 0);")
        w("        } else { /* per row: the run of each row in [offset, offset + count) with its parameters */")
        w("            const size_t row_len = odtc_params[i].numel / odtc_params[i].rows;")
        w("            for (size_t done = 0; done < count;) {")
        w("                const size_t row = (offset + done) / row_len;")
        w("                const size_t left = row_len - (offset + done) % row_len;")
        w("                const size_t run = left < count - done ? left : count - done;")
        w("                odtc_dequantize((const uint8_t *)src + done * odtc_param_element_bytes(st), st, dst + done, run,")
        w("                                1u, 1u, odtc_params[i].scale + row, odtc_params[i].zero_point + row, 0);")
        w("                done += run;")
        w("            }")
        w("        }")
        w("    }")
        w("}")
        w("")
        w("void odtc_param_read(size_t i, float *dst)")
        w("{")
        w("    if (i < odtc_param_count()) {")
        w("        odtc_param_read_range(i, 0u, odtc_params[i].numel, dst);")
        w("    }")
        w("}")
        w("")
        w("void odtc_param_write(size_t i, const float *src)")
        w("{")
        w("    if (odtc_param_writable(i)) {")
        w("        const int32_t st = odtc_params[i].storage;")
        w("        if (st < 0) {")
        w("            memcpy(odtc_params[i].ram, src, odtc_params[i].numel * sizeof(float));")
        w("        } else {")
        w("            const size_t rows = odtc_params[i].rows;")
        w("            odtc_quantize(src, odtc_params[i].ram, st, 1u, rows ? rows : odtc_params[i].numel,")
        w("                          rows ? odtc_params[i].numel / rows : 1u, odtc_params[i].scale,")
        w("                          odtc_params[i].zero_point, rows != 0u);")
        w("        }")
        w("    }")
        w("}")

    def header(self) -> None:
        mod = self.module
        self.check_lowered()
        lay = layout_of(mod)
        input_t, target_t, output_t = _io_types(mod)
        shapes = io_shapes(mod)
        params = [g for g in _globals(mod) if g.param_index is not None]
        w = self.w
        w("/* Generated by odtc: the device API of one compiled model. */")
        w("#ifndef ODTC_MODEL_H")
        w("#define ODTC_MODEL_H")
        w("")
        w("#include <stddef.h>")
        w("#include <stdint.h>")
        w("")
        w("/* Memory (bytes). RAM: arena + trainable weights + state; flash: frozen weights and the")
        w("   initial values odtc_init copies into RAM (plus code). */")
        w(f"#define ODTC_ARENA_BYTES {lay.arena}u")
        w(f"#define ODTC_TRAINABLE_WEIGHT_BYTES {lay.trainable}u")
        w(f"#define ODTC_STATE_BYTES {lay.state}u")
        w(f"#define ODTC_RAM_BYTES {lay.ram}u")
        w(f"#define ODTC_FROZEN_WEIGHT_BYTES {lay.frozen}u")
        w(f"#define ODTC_INITIAL_VALUE_BYTES {lay.initial_values}u")
        w("")
        w(f"/* input:  {input_t} {shapes['input']} (the model's input shape, NCHW for images) */")
        w(f"/* target: {target_t} {shapes['target']} */")
        w(f"/* output: {output_t} {shapes['output']} (odtc_infer) */")
        w(f"typedef {input_t} odtc_input_t;")
        w(f"typedef {target_t} odtc_target_t;")
        w(f"#define ODTC_INPUT_NUMEL {prod(shapes['input'])}u")
        w(f"#define ODTC_TARGET_NUMEL {prod(shapes['target'])}u")
        w(f"#define ODTC_OUTPUT_NUMEL {prod(shapes['output'])}u")
        maxn = max([prod(int(v) for v in g.shape.get_values()) for g in params] or [1])
        w(f"#define ODTC_PARAM_COUNT {len(params)}u")
        w(f"#define ODTC_MAX_PARAM_NUMEL {maxn}u")
        w("")
        w("/* Parameters, in odtc_param_* order (source-model names and layouts):")
        for g in params:
            w(f" *   {int(g.param_index.value.data)}: {g.source_name.data} {list(int(v) for v in g.shape.get_values())} ({g.kind.data})")  # type: ignore[union-attr]
        w(" */")
        w("")
        w("void odtc_init(void);                                          /* load initial weights/state */")
        w("float odtc_train_step(const void *input, const void *target);  /* one sample; returns the loss */")
        w("void odtc_infer(const void *input, void *output);")
        w("size_t odtc_param_count(void);")
        w("const char *odtc_param_name(size_t i);")
        w("size_t odtc_param_numel(size_t i);")
        w("void odtc_param_read(size_t i, float *dst);                    /* float32 copy, source layout */")
        w("/* The same for elements [offset, offset + count) only, for readers with small buffers. */")
        w("void odtc_param_read_range(size_t i, size_t offset, size_t count, float *dst);")
        w("/* Frozen parameters live in flash and cannot change: odtc_param_writable(i) is 0 for")
        w("   them and odtc_param_write leaves them as they are. */")
        w("int odtc_param_writable(size_t i);")
        w("void odtc_param_write(size_t i, const float *src);")
        if any(g.ctype.data != "float" for g in params):
            w("/* Integer (quantized) parameters are exchanged as float: odtc_param_read gives")
            w("   scale * (q - zero_point) with the parameter's current scale and zero-point (1 and 0")
            w("   for a plain integer parameter); odtc_param_write stores")
            w("   q = clamp(rintf(x / scale) + zero_point, storage range) (NaN -> zero_point). */")
        w("")
        w("#endif /* ODTC_MODEL_H */")


def io_shapes(module: ModuleOp) -> dict[str, list[int]]:
    """Shapes recorded by convert-qtrain-to-c on the module."""
    out: dict[str, list[int]] = {}
    for key in ("input", "target", "output"):
        attr = module.attributes.get(f"ckern.{key}_shape")
        out[key] = [int(v) for v in attr.get_values()] if attr is not None else [0]  # type: ignore[attr-defined]
    return out


def _io_types(module: ModuleOp) -> tuple[str, str, str]:
    def get(key: str, default: str) -> str:
        a = module.attributes.get(f"ckern.{key}_ctype")
        return a.data if a is not None else default  # type: ignore[attr-defined]

    return get("input", "float"), get("target", "int32_t"), get("output", "float")


@dataclass(frozen=True)
class CTarget(Target):
    """Print the device C: `file=source` (model.c) or `file=header` (model.h)."""

    name = "c"
    file: str = "source"
    base_dir: str = ""

    def emit(self, ctx: Context, module: ModuleOp, output: IO[str]) -> None:
        p = _Printer(module, Path(self.base_dir or "."), output)
        if self.file == "source":
            p.source()
        elif self.file == "header":
            p.header()
        else:
            raise EmitError(f"c target: file must be source or header, got '{self.file}'")


def render(module: ModuleOp, file: str, base_dir: Path) -> str:
    buf = io.StringIO()
    CTarget(file=file, base_dir=str(base_dir)).emit(Context(), module, buf)
    return buf.getvalue()


__all__ = ["CTarget", "EmitError", "Layout", "hex_f32", "io_shapes", "layout_of", "render"]
