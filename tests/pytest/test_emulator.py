"""odtc.runtime.emulator: Cortex-M builds under QEMU (startup, semihosting, faults, counters)
and host builds, checked against each other."""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import pytest

from odtc.runtime import emulator as emu

requires_arm = pytest.mark.skipif(
    not emu.toolchain_available(),
    reason="arm-none-eabi-gcc (with newlib rdimon.specs) and qemu-system-arm are not installed",
)
needs_host_cc = pytest.mark.skipif(not emu.host_toolchain_available(), reason="no host C compiler (gcc)")

ALL_TARGETS = list(emu.TARGETS)

# A float32 and an int8 dot product; the int8 one also through the ACLE DSP intrinsics
# where the core has them. newlib's printf has no %a, so floats print as their bit pattern.
DOT_PROGRAM = r"""
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "odtc_platform.h"
#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

#define N_MAX 4096
static float fa[N_MAX], fb[N_MAX];
static int8_t qa[N_MAX], qb[N_MAX];
static uint32_t lcg_state = 12345u;

static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

__attribute__((noinline)) static float dot_f32(const float *a, const float *b, int n)
{
    float s = 0.0f;
    for (int i = 0; i < n; ++i) {
        s += a[i] * b[i];
    }
    return s;
}

__attribute__((noinline)) static int32_t dot_s8_portable(const int8_t *a, const int8_t *b, int n)
{
    int32_t s = 0;
    for (int i = 0; i < n; ++i) {
        s += (int32_t)a[i] * (int32_t)b[i];
    }
    return s;
}

#if defined(__ARM_FEATURE_DSP)
#define DSP_PATH 1
__attribute__((noinline)) static int32_t dot_s8_dsp(const int8_t *a, const int8_t *b, int n)
{
    int32_t acc = 0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        int32_t wa, wb;
        memcpy(&wa, a + i, 4);
        memcpy(&wb, b + i, 4);
        acc = __smlad(__sxtb16(wa), __sxtb16(wb), acc);           /* bytes 0 and 2 */
        acc = __smlad(__sxtb16(wa >> 8), __sxtb16(wb >> 8), acc); /* bytes 1 and 3 */
    }
    for (; i < n; ++i) {
        acc += (int32_t)a[i] * (int32_t)b[i];
    }
    return acc;
}
#else
#define DSP_PATH 0
#define dot_s8_dsp dot_s8_portable
#endif

int main(void)
{
    for (int i = 0; i < N_MAX; ++i) {
        fa[i] = (float)((int32_t)(lcg() >> 8) - (1 << 23)) / 8388608.0f;
        fb[i] = (float)((int32_t)(lcg() >> 8) - (1 << 23)) / 8388608.0f;
        qa[i] = (int8_t)(lcg() >> 24);
        qb[i] = (int8_t)(lcg() >> 24);
    }
    static const int sizes[] = {1, 3, 17, 256, 1001, N_MAX};
    for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; ++k) {
        int n = sizes[k];
        float f = dot_f32(fa, fb, n);
        printf("f32 n=%d bits=%08lx value=%.9g\n", n, (unsigned long)f32_bits(f), (double)f);
        printf("s8 n=%d portable=%ld dsp=%ld\n", n, (long)dot_s8_portable(qa, qb, n), (long)dot_s8_dsp(qa, qb, n));
    }
    printf("dsp_path=%d\n", DSP_PATH);

    /* Instruction counts of the same kernels at N and 2N elements. */
    volatile float fsink;
    volatile int32_t isink;
    odtc_counter_start();
    uint64_t t0 = odtc_counter_read_instructions();
    fsink = dot_f32(fa, fb, COUNT_N);
    uint64_t t1 = odtc_counter_read_instructions();
    fsink = dot_f32(fa, fb, 2 * COUNT_N);
    uint64_t t2 = odtc_counter_read_instructions();
    isink = dot_s8_dsp(qa, qb, COUNT_N);
    uint64_t t3 = odtc_counter_read_instructions();
    isink = dot_s8_dsp(qa, qb, 2 * COUNT_N);
    uint64_t t4 = odtc_counter_read_instructions();
    (void)fsink;
    (void)isink;
    odtc_counter_report("f32_n", t1 - t0);
    odtc_counter_report("f32_2n", t2 - t1);
    odtc_counter_report("s8_n", t3 - t2);
    odtc_counter_report("s8_2n", t4 - t3);
    return 0;
}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _result_lines(stdout: str) -> list[str]:
    """The computed results (everything but the line saying which int8 path ran)."""
    return [line for line in stdout.splitlines() if not line.startswith("dsp_path=")]


@pytest.fixture(scope="module")
def dot_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("dot"), "dot.c", DOT_PROGRAM)


@pytest.fixture(scope="module")
def host_dot_output(dot_source: Path) -> str:
    if not emu.host_toolchain_available():
        pytest.skip("no host C compiler (gcc)")
    exe = emu.build_host_executable([dot_source], dot_source.with_name("dot_host"), defines={"COUNT_N": 1024})
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout


@pytest.fixture(scope="module")
def dot_elves(dot_source: Path) -> dict[str, Path]:
    if not emu.toolchain_available():
        pytest.skip("arm-none-eabi-gcc / qemu-system-arm not installed")
    return {
        t: emu.build_elf([dot_source], t, dot_source.with_name(f"dot_{t}.elf"), defines={"COUNT_N": 1024})
        for t in ALL_TARGETS
    }


@pytest.mark.arm
@requires_arm
@pytest.mark.parametrize("target", ALL_TARGETS)
def test_dot_runs_and_matches_host(target: str, dot_elves: dict[str, Path], host_dot_output: str) -> None:
    result = emu.run_elf(dot_elves[target], target, timeout=30)
    assert result.exit_code == 0, result.stderr
    # (a) it ran; (b) bit-identical to the host build (floats compared by bit pattern)
    assert _result_lines(result.stdout) == _result_lines(host_dot_output)
    assert "f32 n=4096 bits=" in result.stdout
    # (c) the DSP intrinsics path was compiled for the target and agrees with portable C
    assert "dsp_path=1" in result.stdout
    assert "dsp_path=0" in host_dot_output
    s8_lines = [line for line in result.stdout.splitlines() if line.startswith("s8 ")]
    assert len(s8_lines) == 6
    for line in s8_lines:
        fields = dict(part.split("=") for part in line.split()[1:])
        assert fields["portable"] == fields["dsp"], line
    # counter lines are parsed out of stdout
    assert "@odtc" not in result.stdout
    assert set(result.counters) == {"f32_n", "f32_2n", "s8_n", "s8_2n"}
    assert result.instructions == result.counters["s8_2n"]


@pytest.mark.arm
@requires_arm
@pytest.mark.parametrize("target", ALL_TARGETS)
def test_instruction_counts_reproducible_and_linear(target: str, dot_elves: dict[str, Path]) -> None:
    first = emu.run_elf(dot_elves[target], target, timeout=30)
    second = emu.run_elf(dot_elves[target], target, timeout=30)
    # (d) exactly reproducible run to run
    assert first.counters == second.counters
    c = first.counters
    for kernel in ("f32", "s8"):
        n, two_n = c[f"{kernel}_n"], c[f"{kernel}_2n"]
        assert n > 1024  # at least one instruction per element
        assert 1.8 <= two_n / n <= 2.2, (kernel, n, two_n)
    # the int8 DSP kernel does 4 MACs in a handful of instructions
    assert c["s8_n"] < c["f32_n"]


KNOWN_LOOP = r"""
#include <stdint.h>
#include "odtc_platform.h"
/* 1 + 2*n instructions: mov, then n times (subs, bne). */
__attribute__((noinline)) static void spin(uint32_t n)
{
    __asm__ volatile("mov r0, %0\n1:\n\tsubs r0, r0, #1\n\tbne 1b\n" : : "r"(n) : "r0", "cc");
}
int main(void)
{
    odtc_counter_start();
    uint64_t t0 = odtc_counter_read_instructions();
    spin(1000);
    uint64_t t1 = odtc_counter_read_instructions();
    spin(LONG_N);
    uint64_t t2 = odtc_counter_read_instructions();
    odtc_counter_report("short", t1 - t0);
    odtc_counter_report("long", t2 - t1);
    return 0;
}
"""


@pytest.mark.arm
@requires_arm
@pytest.mark.parametrize("target", ALL_TARGETS)
def test_counter_matches_known_instruction_count(target: str, tmp_path: Path) -> None:
    """SysTick ticks -> instructions (tick_ns / 2^shift) against a loop of known length, also
    across several 24-bit SysTick wraps (6M iterations = 12M instructions > 1 wrap period)."""
    src = _write(tmp_path, "loop.c", KNOWN_LOOP)
    long_n = 6_000_000
    elf = emu.build_elf([src], target, tmp_path / "loop.elf", defines={"LONG_N": long_n})
    c = emu.run_elf(elf, target, timeout=30).counters
    overhead = c["short"] - 2 * 1000
    assert 0 < overhead < 100, c  # call, mov, and the counter read itself
    # the long region spans more than one SysTick period: wraps must be counted
    assert c["long"] - 2 * long_n == pytest.approx(overhead, abs=20), c


MONOTONIC_PROGRAM = r"""
#include <stdint.h>
#include <stdio.h>
#include "odtc_platform.h"
/* Back-to-back counter reads over several SysTick wraps: each read must advance by a small
   positive amount, including reads that land on a reload before its interrupt is taken. */
int main(void)
{
    odtc_counter_start();
    uint64_t prev = odtc_counter_read_ticks();
    unsigned long bad = 0, reads = 0;
    while (prev < (3ull << 24)) {
        uint64_t now = odtc_counter_read_ticks();
        if (now <= prev || now - prev > 1000u) {
            ++bad;
        }
        prev = now;
        ++reads;
    }
    printf("reads=%lu bad=%lu\n", reads, bad);
    return bad != 0;
}
"""


@pytest.mark.arm
@requires_arm
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_counter_monotonic_across_wraps(target: str, tmp_path: Path) -> None:
    src = _write(tmp_path, "mono.c", MONOTONIC_PROGRAM)
    result = emu.run_elf(emu.build_elf([src], target, tmp_path / "mono.elf"), target, timeout=30)
    assert result.exit_code == 0, result.stdout
    assert "bad=0" in result.stdout


FAULT_PROGRAM = r"""
#include <stdint.h>
#include <stdio.h>
int main(void)
{
    printf("before the fault\n");
#if KIND == 1
    __asm__ volatile("udf #0");                         /* UsageFault: undefined instruction */
#elif KIND == 2
    *(volatile uint32_t *)0xF0000000u = 1u;             /* BusFault: nothing mapped there */
#elif KIND == 3
    *(volatile uint32_t *)0xE000ED24u &= ~(1u << 18);   /* UsageFault disabled: escalates */
    __asm__ volatile("dsb\n\tisb\n\tudf #0");           /* HardFault (FORCED) */
#endif
    printf("after the fault\n");
    return 0;
}
"""


@pytest.mark.arm
@requires_arm
@pytest.mark.parametrize(
    ("target", "kind", "fault"),
    [
        ("cortex-m4", 1, "UsageFault"),
        ("cortex-m7", 2, "BusFault"),
        ("cortex-m55", 1, "UsageFault"),
        ("cortex-m55", 2, "BusFault"),
        ("cortex-m4", 3, "HardFault"),
        ("cortex-m55", 3, "HardFault"),
    ],
)
def test_fault_gives_distinct_exit_code(target: str, kind: int, fault: str, tmp_path: Path) -> None:
    src = _write(tmp_path, "fault.c", FAULT_PROGRAM)
    elf = emu.build_elf([src], target, tmp_path / "fault.elf", defines={"KIND": kind})
    with pytest.raises(emu.EmulatorError, match=fault) as info:
        emu.run_elf(elf, target, timeout=30)
    result = info.value.result
    assert result is not None
    expected = {name: code for code, name in emu.FAULT_EXIT_CODES.items()}[fault]
    assert result.exit_code == expected
    assert "before the fault" in result.stdout
    assert "after the fault" not in result.stdout
    assert f"odtc: fatal exception: {fault}" in result.stderr


@pytest.mark.arm
@requires_arm
def test_hung_guest_times_out(tmp_path: Path) -> None:
    src = _write(tmp_path, "hang.c", "int main(void)\n{\n    for (;;) {\n        __asm__ volatile(\"\");\n    }\n}\n")
    elf = emu.build_elf([src], "cortex-m4", tmp_path / "hang.elf")
    with pytest.raises(emu.EmulatorError, match="did not finish within"):
        emu.run_elf(elf, "cortex-m4", timeout=1.5)


@pytest.mark.arm
@requires_arm
def test_exit_status_and_stack_overflow(tmp_path: Path) -> None:
    """A program's own exit status comes back as is; runaway recursion hits the stack guard."""
    src = _write(
        tmp_path,
        "rec.c",
        "#include <stdio.h>\n"
        "static int down(int d) { volatile char pad[512]; pad[0] = (char)d;"
        " return d > RECURSE ? pad[0] : down(d + 1) + pad[0]; }\n"
        "int main(void) { printf(\"%d\\n\", down(0)); return 7; }\n",
    )
    ok = emu.build_elf([src], "cortex-m4", tmp_path / "ok.elf", defines={"RECURSE": 10})
    result = emu.run_elf(ok, "cortex-m4", timeout=30)
    assert result.exit_code == 7 and result.instructions is None
    for target in ("cortex-m4", "cortex-m55"):
        deep = emu.build_elf([src], target, tmp_path / f"deep_{target}.elf", defines={"RECURSE": 1_000_000})
        with pytest.raises(emu.EmulatorError, match="stack overflow"):
            emu.run_elf(deep, target, timeout=30)


@pytest.mark.arm
@requires_arm
def test_build_error_reports_first_error_line(tmp_path: Path) -> None:
    src = _write(tmp_path, "bad.c", "int main(void)\n{\n    int unused;\n    return 0;\n}\n")
    with pytest.raises(emu.EmulatorError, match=r"bad\.c:3:.*unused") as info:
        emu.build_elf([src], "cortex-m7", tmp_path / "bad.elf")
    assert "error" in str(info.value)


def test_unknown_target() -> None:
    with pytest.raises(emu.EmulatorError, match="unknown target"):
        emu.build_elf([], "cortex-m0", Path("x.elf"))


def test_tick_conversion() -> None:
    # mps2: 40 ns ticks, 64 ns instructions -> 5/8; mps3-an547: 31.25 ns ticks -> 125/256
    assert emu.ticks_to_instructions(8_000, "cortex-m4") == 5_000
    assert emu.ticks_to_instructions(256_000, "cortex-m55") == 125_000


@needs_host_cc
def test_host_shared_library(tmp_path: Path) -> None:
    src = _write(
        tmp_path,
        "lib.c",
        "#include \"odtc_platform.h\"\n"
        "float odtc_test_dot(const float *a, const float *b, int n)\n"
        "{\n    float s = 0.0f;\n    for (int i = 0; i < n; ++i) {\n        s += a[i] * b[i];\n    }\n"
        "    return s;\n}\n",
    )
    so = emu.build_host([src], tmp_path / "libdot.so")
    lib = ctypes.CDLL(str(so))
    lib.odtc_test_dot.restype = ctypes.c_float
    lib.odtc_test_dot.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float), ctypes.c_int]
    arr = ctypes.c_float * 3
    assert lib.odtc_test_dot(arr(1, 2, 3), arr(4, 5, 6), 3) == 32.0
    assert lib.odtc_counter_available() == 0  # host stub of the counter API
    # the sanitizer build links too (loading it needs the ASan runtime preloaded)
    assert emu.build_host([src], tmp_path / "libdot_san.so", sanitize=True).is_file()



def test_ci_has_the_arm_toolchain() -> None:
    """The `arm` tests skip on a machine without arm-none-eabi-gcc/QEMU (a user's laptop);
    CI installs both (.ci/run), so there a missing toolchain is a failure, never a skip."""
    import os

    if os.environ.get("CI") == "true":
        assert emu.toolchain_available(), "CI must install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
