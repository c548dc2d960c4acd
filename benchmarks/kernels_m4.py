"""Instruction counts of the int8 kernels on a Cortex-M4 (QEMU), DSP path vs portable C.

    python benchmarks/kernels_m4.py [--target cortex-m4] [--json]

Builds one small driver program twice with ``odtc.runtime.emulator.build_elf`` -- once as
is (the ``__ARM_FEATURE_DSP`` code paths: SXTB16/SMLAD...) and once with ``-DODTC_NO_DSP``
(the portable C paths) -- runs both under QEMU (``-icount shift=6``) and prints a markdown
table: per kernel the multiply-accumulates (MACs), the executed instructions of one call
and MACs per instruction. Each kernel call is bracketed by two reads of the SysTick-based
instruction counter (``odtc_counter_report``); the cost of an empty bracket is subtracted.

These are QEMU *instruction counts*, not cycles: QEMU models no pipeline, no memory wait
states and no multi-cycle instructions (a Cortex-M4 LDRD or SMLAD costs more than one cycle
on silicon, LDM/STM several). Both builds print a hash of every output buffer; the script
fails unless the DSP and portable outputs are identical.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from odtc.runtime import emulator
from odtc.runtime import kernels as K


@dataclass(frozen=True)
class Case:
    label: str  #: counter label in the driver
    kernel: str
    shape: str
    macs: int
    goal: float | None = None  #: the issue's MACs/instruction target (None: extra row, no target)


# conv geometry: n c h w o kh kw sh sw pt pl pb pr groups
CONV3 = (1, 16, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1)
PW = (1, 32, 8, 8, 32, 1, 1, 1, 1, 0, 0, 0, 0, 1)
DW = (1, 16, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16)
CONV3_MACS = 16 * 16 * 16 * 16 * 9
PW_MACS = 8 * 8 * 32 * 32
DW_MACS = 16 * 16 * 16 * 9
DENSE_MACS = 256 * 64

CASES = [
    Case("conv3x3", "conv2d_s8", "3x3, 16->16 ch, 16x16, stride 1, pad 1", CONV3_MACS, 1.0),
    Case("conv1x1", "conv2d_s8", "1x1 (pointwise), 32->32 ch, 8x8", PW_MACS, 1.0),
    Case("dwconv3x3", "conv2d_s8", "3x3 depthwise, 16 ch, 16x16, stride 1, pad 1", DW_MACS, 1.0),
    Case("dense", "dense_s8", "256->64, batch 1", DENSE_MACS, 1.0),
    Case("dense_b4", "dense_s8", "256->64, batch 4", 4 * DENSE_MACS),
    Case("dense_gi", "dense_s8_grad_input", "256->64, batch 1", DENSE_MACS, 0.8),
    Case("dense_gw", "dense_s8_grad_weight", "256->64, batch 1", DENSE_MACS, 0.8),
    Case("conv3x3_gi", "conv2d_s8_grad_input", "3x3, 16->16 ch, 16x16, stride 1, pad 1", CONV3_MACS, 0.8),
    Case("conv3x3_gw", "conv2d_s8_grad_weight", "3x3, 16->16 ch, 16x16, stride 1, pad 1", CONV3_MACS, 0.8),
    Case("conv1x1_gi", "conv2d_s8_grad_input", "1x1, 32->32 ch, 8x8", PW_MACS),
    Case("conv1x1_gw", "conv2d_s8_grad_weight", "1x1, 32->32 ch, 8x8", PW_MACS),
    Case("dwconv3x3_gi", "conv2d_s8_grad_input", "3x3 depthwise, 16 ch, 16x16", DW_MACS),
    Case("dwconv3x3_gw", "conv2d_s8_grad_weight", "3x3 depthwise, 16 ch, 16x16", DW_MACS),
]

def _geo(g: tuple[int, ...]) -> str:
    return ", ".join(str(v) for v in g)


DRIVER = r"""/* Benchmark driver: one call of each int8 kernel between two counter reads. */
#include <stdio.h>
#include <string.h>
#include "odtc_kernels.h"
#include "odtc_platform.h"

static uint32_t seed = 2463534242u;
static uint32_t rnd(void) { seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5; return seed; }
static void fill_s8(int8_t *p, int n) { for (int i = 0; i < n; ++i) p[i] = (int8_t)(rnd() & 0xFF); }
static void hash(const char *name, const void *p, size_t bytes)
{
    const unsigned char *b = (const unsigned char *)p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < bytes; ++i) { h ^= b[i]; h *= 16777619u; }
    printf("%s %08lx\n", name, (unsigned long)h);
}

static int8_t x[4 * 4096], w[64 * 256], e[4096], y[4096];
static int32_t bias[64], acc[64 * 256];
static float sw[64];
static int32_t zw[64];
static uint32_t scratch[8192];
static uint64_t overhead;

#define MEASURE(label, call, out, bytes)                                              \
    do {                                                                              \
        const uint64_t t0_ = odtc_counter_read_instructions();                        \
        call;                                                                         \
        const uint64_t t1_ = odtc_counter_read_instructions();                        \
        odtc_counter_report(label, t1_ - t0_ - overhead);                             \
        hash(label, out, bytes);                                                      \
    } while (0)

int main(void)
{
    fill_s8(x, sizeof x); fill_s8(w, sizeof w); fill_s8(e, sizeof e);
    for (int i = 0; i < 64; ++i) { bias[i] = (int32_t)(rnd() % 4001u) - 2000; sw[i] = 0.0008f + 0.00001f * (float)i; zw[i] = 0; }
    const float sx = 0.02f, sy = 0.05f;
    const int32_t zx = 3, zy = -5, ze = 2;
    odtc_counter_start();
    overhead = (uint64_t)-1;
    for (int i = 0; i < 8; ++i) {
        const uint64_t a = odtc_counter_read_instructions();
        const uint64_t b = odtc_counter_read_instructions();
        if (b - a < overhead) overhead = b - a;
    }
    if (ODTC_CONV2D_Q8_SCRATCH_BYTES(16, 1, 3, 3, 16) > sizeof scratch || ODTC_CONV2D_Q8_SCRATCH_BYTES(32, 1, 1, 1, 32) > sizeof scratch
        || ODTC_CONV2D_Q8_SCRATCH_BYTES(16, 16, 3, 3, 16) > sizeof scratch || ODTC_DENSE_Q8_SCRATCH_BYTES(256, 64) > sizeof scratch) {
        printf("scratch too small\n");
        return 3;
    }
    MEASURE("conv3x3", odtc_conv2d_s8(x, &sx, &zx, w, sw, zw, 1, bias, &sy, &zy, ODTC_ACT_RELU, y, scratch, @CONV3@), y, 16 * 256);
    MEASURE("conv1x1", odtc_conv2d_s8(x, &sx, &zx, w, sw, zw, 1, bias, &sy, &zy, ODTC_ACT_RELU, y, scratch, @PW@), y, 32 * 64);
    MEASURE("dwconv3x3", odtc_conv2d_s8(x, &sx, &zx, w, sw, zw, 1, bias, &sy, &zy, ODTC_ACT_RELU, y, scratch, @DW@), y, 16 * 256);
    MEASURE("dense", odtc_dense_s8(x, &sx, &zx, w, sw, zw, 1, bias, &sy, &zy, ODTC_ACT_NONE, y, scratch, 1, 256, 64), y, 64);
    MEASURE("dense_b4", odtc_dense_s8(x, &sx, &zx, w, sw, zw, 1, bias, &sy, &zy, ODTC_ACT_NONE, y, scratch, 4, 256, 64), y, 256);
    MEASURE("dense_gi", odtc_dense_s8_grad_input(e, &ze, w, zw, 1, acc, 1, 256, 64), acc, 256 * 4);
    MEASURE("dense_gw", odtc_dense_s8_grad_weight(x, &zx, e, &ze, acc, NULL, 0, 1, 256, 64), acc, 64 * 256 * 4);
    MEASURE("conv3x3_gi", odtc_conv2d_s8_grad_input(e, &ze, w, zw, 1, acc, @CONV3@), acc, 16 * 256 * 4);
    MEASURE("conv3x3_gw", odtc_conv2d_s8_grad_weight(x, &zx, e, &ze, acc, NULL, 0, @CONV3@), acc, 16 * 16 * 9 * 4);
    MEASURE("conv1x1_gi", odtc_conv2d_s8_grad_input(e, &ze, w, zw, 1, acc, @PW@), acc, 32 * 64 * 4);
    MEASURE("conv1x1_gw", odtc_conv2d_s8_grad_weight(x, &zx, e, &ze, acc, NULL, 0, @PW@), acc, 32 * 32 * 4);
    MEASURE("dwconv3x3_gi", odtc_conv2d_s8_grad_input(e, &ze, w, zw, 1, acc, @DW@), acc, 16 * 256 * 4);
    MEASURE("dwconv3x3_gw", odtc_conv2d_s8_grad_weight(x, &zx, e, &ze, acc, NULL, 0, @DW@), acc, 16 * 9 * 4);
    return 0;
}
"""


def driver_source() -> str:
    return DRIVER.replace("@CONV3@", _geo(CONV3)).replace("@PW@", _geo(PW)).replace("@DW@", _geo(DW))


def measure(target: str, workdir: Path) -> dict[str, dict[str, int | str]]:
    """{variant: {label: instructions}} plus the output hashes, for variant dsp/portable."""
    src = workdir / "bench_kernels.c"
    src.write_text(driver_source())
    results: dict[str, dict[str, int | str]] = {}
    for variant, defines in (("dsp", {}), ("portable", {"ODTC_NO_DSP": None})):
        elf = emulator.build_elf(
            [src, *K.sources()], target, workdir / f"bench_{variant}.elf", include_dirs=[K.INCLUDE_DIR], defines=defines
        )
        run = emulator.run_elf(elf, target, timeout=300)
        if run.exit_code != 0:
            raise SystemExit(f"{variant} driver failed with status {run.exit_code}:\n{run.stdout}{run.stderr}")
        counts: dict[str, int | str] = dict(run.counters)
        for line in run.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2:
                counts[f"hash:{parts[0]}"] = parts[1]
        results[variant] = counts
    return results


def table(results: dict[str, dict[str, int | str]], target: str) -> str:
    rows = [
        f"QEMU instruction counts on {target} (`-icount shift=6`), one call each; NOT cycles.",
        "",
        "| kernel | shape | MACs | portable instr | portable MAC/instr | DSP instr | DSP MAC/instr | speed-up | goal |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for case in CASES:
        p = int(results["portable"][case.label])
        d = int(results["dsp"][case.label])
        if case.goal is None:
            goal = "(extra row)"
        else:
            goal = f">= {case.goal} ({'met' if case.macs / d >= case.goal else 'missed'})"
        rows.append(
            f"| {case.kernel} | {case.shape} | {case.macs:,} | {p:,} | {case.macs / p:.2f} | {d:,} | "
            f"{case.macs / d:.2f} | {p / d:.1f}x | {goal} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="cortex-m4", choices=sorted(emulator.TARGETS))
    parser.add_argument("--json", action="store_true", help="print the raw counts as JSON instead")
    args = parser.parse_args(argv)
    if not emulator.toolchain_available():
        print("needs arm-none-eabi-gcc (newlib) and qemu-system-arm", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="odtc_bench_") as tmp:
        results = measure(args.target, Path(tmp))
    mismatched = [
        c.label for c in CASES if results["dsp"].get(f"hash:{c.label}") != results["portable"].get(f"hash:{c.label}")
    ]
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
    else:
        print(table(results, args.target))
    if mismatched:
        print(f"\nERROR: DSP and portable outputs differ for {', '.join(mismatched)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
