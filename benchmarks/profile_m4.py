"""Where a training step's instructions go on an emulated Cortex-M (per generated statement).

    python benchmarks/profile_m4.py BUILD_DIR [--top 30]

BUILD_DIR is a Cortex-M build that `odtc train --emulate` (or api.train(..., emulate=True))
has already run, so it holds model.c and data.bin. The script copies it, wraps every
statement of `odtc_train_step` in model.c with SysTick instruction-counter reads, rebuilds,
runs the training records under QEMU and prints, per kernel (the called function) and per
statement, the instructions spent per step averaged over the steps. The cost of one counter
read pair (measured in the run) is subtracted from every statement. These are QEMU -icount
instruction counts, not cycles; the original build is not modified.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

PROLOGUE = """
#include "odtc_platform.h"
#include <stdio.h>
static uint64_t odtc_prof_ins[ODTC_PROF_N];
static uint32_t odtc_prof_steps;
static uint64_t odtc_prof_overhead = UINT64_MAX;
#define ODTC_PROF(i, stmt) do { const uint64_t t0_ = odtc_counter_read_instructions(); stmt; \\
    odtc_prof_ins[i] += odtc_counter_read_instructions() - t0_; } while (0)
static void odtc_prof_calibrate(void)
{
    for (int r = 0; r < 4; ++r) {
        const uint64_t a = odtc_counter_read_instructions();
        const uint64_t b = odtc_counter_read_instructions();
        odtc_prof_overhead = b - a < odtc_prof_overhead ? b - a : odtc_prof_overhead;
    }
}
static void odtc_prof_dump(void)
{
    for (int i = 0; i < ODTC_PROF_N; ++i) {
        printf("@prof %d %llu %lu %llu\\n", i, (unsigned long long)odtc_prof_ins[i], (unsigned long)odtc_prof_steps,
               (unsigned long long)odtc_prof_overhead);
    }
}
"""

CALL = re.compile(r"^\s*(?:\*?[A-Za-z_][\w(), ]*\s=\s)?([A-Za-z_]\w*)\(")


def instrument(src: str) -> tuple[str, list[str]]:
    lines = src.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("float odtc_train_step("))
    end = next(i for i in range(start, len(lines)) if lines[i] == "}")
    stmts: list[str] = []
    body: list[str] = []
    for line in lines[start + 2:end]:
        s = line.strip()
        if s.startswith("return "):
            body.append("    if (++odtc_prof_steps == ODTC_PROF_STEPS) { odtc_prof_dump(); }")
            body.append(line)
        elif s.endswith(";") and not s.startswith(("const ", "float ", "int32_t ")) or s.startswith("memcpy"):
            body.append(f"    ODTC_PROF({len(stmts)}, {s[:-1]});")
            stmts.append(s)
        else:
            body.append(line)
    head = lines[:start + 2]
    head.insert(next(i for i, line in enumerate(head) if not line.startswith("#") and line.strip()) ,
                f"#define ODTC_PROF_N {len(stmts)}")
    out = head + ["    if (odtc_prof_steps == 0) { odtc_prof_calibrate(); }"] + body + lines[end:]
    return "\n".join(out) + "\n", stmts


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build", type=Path)
    p.add_argument("--top", type=int, default=30, help="statements to list (most expensive first)")
    args = p.parse_args()
    if not (args.build / "model.c").is_file() or not (args.build / "data.bin").is_file():
        sys.exit(f"profile_m4: {args.build} has no model.c and data.bin (run odtc train --emulate on it first)")
    with tempfile.TemporaryDirectory() as t:
        d = Path(t) / "b"
        shutil.copytree(args.build, d, ignore=shutil.ignore_patterns("obj", "model.elf"))
        src, stmts = instrument((d / "model.c").read_text())
        data = (d / "data.bin").read_bytes()
        steps = int.from_bytes(data[8:12], "little")
        src = src.replace(f"#define ODTC_PROF_N {len(stmts)}",
                          f"#define ODTC_PROF_N {len(stmts)}\n#define ODTC_PROF_STEPS {steps}u" + PROLOGUE, 1)
        (d / "model.c").write_text(src)
        r = subprocess.run(["make", "-s", "-C", str(d)], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"profile_m4: the instrumented build failed:\n{r.stderr[-2000:]}")
        r = subprocess.run(["make", "-s", "-C", str(d), "run", "QEMU_TIMEOUT=600"], capture_output=True, text=True)
        rows = [ln.split()[1:] for ln in r.stdout.splitlines() if ln.startswith("@prof ")]
        if len(rows) != len(stmts):
            sys.exit(f"profile_m4: the run printed {len(rows)} of {len(stmts)} counters:\n{r.stdout[-2000:]}")
    per_stmt = []
    for (i, total, n, over), s in zip(rows, stmts, strict=True):
        per = max(int(total) / int(n) - int(over), 0.0)
        per_stmt.append((per, int(i), s))
    grand = sum(x[0] for x in per_stmt)
    by_kernel: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for per, _, s in per_stmt:
        m = CALL.match(s)
        k = m.group(1) if m else s.split("(")[0]
        by_kernel[k][0] += per
        by_kernel[k][1] += 1
    print(f"total {grand:,.0f} instructions / step over {steps} steps (counter overhead removed)\n")
    print("| kernel | calls / step | instructions / step | share |")
    print("|---|---:|---:|---:|")
    for k, (v, c) in sorted(by_kernel.items(), key=lambda kv: -kv[1][0]):
        print(f"| {k} | {c} | {v:,.0f} | {100 * v / grand:.1f} % |")
    print(f"\n| # | statement (top {args.top}) | instructions / step | share |")
    print("|---:|---|---:|---:|")
    for per, i, s in sorted(per_stmt, reverse=True)[:args.top]:
        print(f"| {i} | `{s[:110]}` | {per:,.0f} | {100 * per / grand:.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
