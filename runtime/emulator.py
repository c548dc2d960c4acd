"""Build C programs for the Cortex-M targets and run them under QEMU; build host libraries.

The Cortex-M side uses ``arm-none-eabi-gcc`` (newlib, semihosting through ``rdimon.specs``)
and ``qemu-system-arm``; the startup code, linker scripts and the instruction counter live in
``runtime/c/target/`` (:data:`TARGET_DIR`), the same files the generated ``BUILD/Makefile``
uses through ``Makefile.inc``.

    elf = build_elf([Path("main.c")], "cortex-m4", tmp / "main.elf")
    result = run_elf(elf, "cortex-m4")
    result.exit_code, result.stdout, result.instructions

Programs report instruction counts with ``odtc_counter_report(label, n)`` (see
``odtc_platform.h``); :func:`run_elf` collects those lines into :attr:`RunResult.counters`
and removes them from :attr:`RunResult.stdout`, so target output compares directly with the
output of the same program built for the host.

Errors (compiler failure, hung guest, guest fault, QEMU failure) raise :class:`EmulatorError`;
nothing here prints or exits.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ARM_GCC",
    "COMMON_CFLAGS",
    "EXIT_FAULT_BASE",
    "FAULT_EXIT_CODES",
    "HOST_CC",
    "HOST_CFLAGS",
    "ICOUNT_SHIFT",
    "QEMU",
    "TARGETS",
    "TARGET_DIR",
    "EmulatorError",
    "RunResult",
    "Target",
    "build_elf",
    "build_host",
    "build_host_executable",
    "host_toolchain_available",
    "qemu_command",
    "run_elf",
    "ticks_to_instructions",
    "toolchain_available",
]

#: startup.c, odtc_platform.[ch], link_mps2.ld, link_mps3.ld, odtc_sections.ld, Makefile.inc
TARGET_DIR = Path(__file__).resolve().parent / "c" / "target"

ARM_GCC = os.environ.get("ODTC_ARM_GCC", "arm-none-eabi-gcc")
QEMU = os.environ.get("ODTC_QEMU", "qemu-system-arm")
HOST_CC = os.environ.get("ODTC_HOST_CC", "gcc")

#: Flags every build uses, host and target (bit-identical fp32 needs -ffp-contract=off).
COMMON_CFLAGS: tuple[str, ...] = (
    "-O2", "-ffp-contract=off", "-fno-strict-aliasing", "-Wall", "-Wextra", "-Werror", "-std=c11",
)
#: Host shared-library flags (on top of COMMON_CFLAGS).
HOST_CFLAGS: tuple[str, ...] = ("-fPIC", "-shared")
SANITIZE_CFLAGS: tuple[str, ...] = ("-fsanitize=address,undefined", "-fno-omit-frame-pointer")

#: QEMU's ``-icount shift``: every instruction advances virtual time by 2**ICOUNT_SHIFT ns.
ICOUNT_SHIFT = 6

#: Exit status of a guest stopped by an exception (startup.c / odtc_platform.h).
EXIT_FAULT_BASE = 224
FAULT_EXIT_CODES: dict[int, str] = {
    EXIT_FAULT_BASE + 2: "NMI",
    EXIT_FAULT_BASE + 3: "HardFault",
    EXIT_FAULT_BASE + 4: "MemManage",
    EXIT_FAULT_BASE + 5: "BusFault",
    EXIT_FAULT_BASE + 6: "UsageFault",
    EXIT_FAULT_BASE + 7: "SecureFault",
    EXIT_FAULT_BASE + 16: "unexpected exception",
}

_COUNTER_LINE = re.compile(r"^@odtc instructions (\S+) (\d+)\r?$")


@dataclass(frozen=True)
class Target:
    """A Cortex-M core and the QEMU board that runs it."""

    name: str
    cflags: tuple[str, ...]
    machine: str
    linker_script: str
    systick_hz: int

    @property
    def tick_ns(self) -> float:
        return 1e9 / self.systick_hz


TARGETS: dict[str, Target] = {
    "cortex-m4": Target(
        "cortex-m4",
        ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
        "mps2-an386",
        "link_mps2.ld",
        25_000_000,
    ),
    "cortex-m7": Target(
        "cortex-m7",
        ("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"),
        "mps2-an500",
        "link_mps2.ld",
        25_000_000,
    ),
    "cortex-m55": Target(
        "cortex-m55",
        ("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"),
        "mps3-an547",
        "link_mps3.ld",
        32_000_000,
    ),
}


class EmulatorError(RuntimeError):
    """A build or emulated run failed. ``details`` holds the full tool output."""

    def __init__(self, message: str, details: str = "", result: RunResult | None = None) -> None:
        super().__init__(message)
        self.details = details
        self.result = result


@dataclass
class RunResult:
    exit_code: int
    #: Guest stdout without the ``@odtc instructions`` lines.
    stdout: str
    #: Guest stderr (semihosting) and QEMU's own messages.
    stderr: str
    #: The last count the guest reported with odtc_counter_report, or None.
    instructions: int | None = None
    #: Every reported count by label (the last one wins for a repeated label).
    counters: dict[str, int] = field(default_factory=dict)
    #: Every report in order, as (label, count).
    reports: list[tuple[str, int]] = field(default_factory=list)
    #: Raw guest stdout, counter lines included.
    raw_stdout: str = ""


def _target(target: str) -> Target:
    try:
        return TARGETS[target]
    except KeyError:
        raise EmulatorError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}") from None


@functools.lru_cache(maxsize=None)
def toolchain_available() -> bool:
    """True when arm-none-eabi-gcc (with newlib's rdimon.specs) and qemu-system-arm are installed."""
    if shutil.which(ARM_GCC) is None or shutil.which(QEMU) is None:
        return False
    try:
        probe = subprocess.run(
            [ARM_GCC, "-print-file-name=rdimon.specs"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return False
    found = probe.stdout.strip()
    return probe.returncode == 0 and os.path.isabs(found) and os.path.exists(found)


@functools.lru_cache(maxsize=None)
def host_toolchain_available() -> bool:
    return shutil.which(HOST_CC) is not None


def ticks_to_instructions(ticks: int, target: str, shift: int = ICOUNT_SHIFT) -> int:
    """SysTick ticks under ``-icount shift`` to instructions: ticks * tick_ns / 2**shift (rounded)."""
    den = _target(target).systick_hz << shift
    return (ticks * 1_000_000_000 + den // 2) // den


_ERROR_PATTERNS = (
    re.compile(r":\d+(:\d+)?: (fatal )?error: "),
    re.compile(r"undefined reference to|multiple definition of|region `?\S+'? overflowed|odtc: "),
    re.compile(r"\berror: "),
    re.compile(r"ld returned|cannot find"),
)


def first_error_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for pattern in _ERROR_PATTERNS:
        for line in lines:
            if pattern.search(line):
                return line
    return lines[0] if lines else "(no compiler output)"


def _with_platform(sources: Iterable[Path | str], extra: Sequence[str]) -> list[Path]:
    """The user's sources plus the runtime files in ``extra`` not already given (by name)."""
    result = [Path(s) for s in sources]
    names = {p.name for p in result}
    for name in extra:
        if name not in names:
            result.append(TARGET_DIR / name)
    return result


def _compile(cmd: list[str], what: str, timeout: float) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise EmulatorError(f"{what}: compiler not found: {cmd[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise EmulatorError(f"{what}: compiler did not finish within {timeout:g} s") from exc
    if proc.returncode != 0:
        output = proc.stderr + proc.stdout
        raise EmulatorError(f"{what} failed: {first_error_line(output)}", details=output)


def build_elf(
    sources: Sequence[Path | str],
    target: str,
    out: Path | str,
    include_dirs: Sequence[Path | str] = (),
    extra_cflags: Sequence[str] = (),
    *,
    defines: dict[str, str | int | None] | None = None,
    stack_size: int | None = None,
    timeout: float = 300,
) -> Path:
    """Compile and link ``sources`` into an ELF for ``target``'s QEMU board.

    startup.c and odtc_platform.c from :data:`TARGET_DIR` are added unless a source of the
    same name is given; TARGET_DIR is on the include path (``#include "odtc_platform.h"``).
    ``stack_size`` (bytes) overrides the linker script's 64 KiB default. Raises
    :class:`EmulatorError` with the compiler's first error line on failure.
    """
    t = _target(target)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    srcs = _with_platform(sources, ("startup.c", "odtc_platform.c"))
    cmd = [ARM_GCC, *COMMON_CFLAGS, *t.cflags, "-ffunction-sections", "-fdata-sections"]
    cmd += [f"-DODTC_SYSTICK_HZ={t.systick_hz}u", f"-DODTC_ICOUNT_SHIFT={ICOUNT_SHIFT}"]
    for name, value in (defines or {}).items():
        cmd.append(f"-D{name}" if value is None else f"-D{name}={value}")
    cmd += [f"-I{d}" for d in include_dirs]
    cmd.append(f"-I{TARGET_DIR}")
    cmd += list(extra_cflags)
    cmd += ["--specs=rdimon.specs", "-nostartfiles", f"-L{TARGET_DIR}", "-T", str(TARGET_DIR / t.linker_script)]
    cmd += ["-Wl,--gc-sections", f"-Wl,-Map={out.with_suffix('.map')}"]
    if stack_size is not None:
        cmd.append(f"-Wl,--defsym=__stack_size__={int(stack_size):#x}")
    cmd += [str(s) for s in srcs]
    cmd += ["-o", str(out), "-lm"]
    _compile(cmd, f"{target} build of {out.name}", timeout)
    return out


def _host_command(
    sources: Sequence[Path | str],
    out: Path,
    include_dirs: Sequence[Path | str],
    extra_cflags: Sequence[str],
    sanitize: bool,
    shared: bool,
    defines: dict[str, str | int | None] | None,
) -> list[str]:
    cmd = [HOST_CC, *COMMON_CFLAGS]
    if shared:
        cmd += list(HOST_CFLAGS)
    if sanitize:
        cmd += list(SANITIZE_CFLAGS)
    for name, value in (defines or {}).items():
        cmd.append(f"-D{name}" if value is None else f"-D{name}={value}")
    cmd += [f"-I{d}" for d in include_dirs]
    cmd.append(f"-I{TARGET_DIR}")
    cmd += list(extra_cflags)
    cmd += [str(s) for s in _with_platform(sources, ("odtc_platform.c",))]
    cmd += ["-o", str(out), "-lm"]
    return cmd


def build_host(
    sources: Sequence[Path | str],
    out_so: Path | str,
    include_dirs: Sequence[Path | str] = (),
    extra_cflags: Sequence[str] = (),
    sanitize: bool = False,
    *,
    defines: dict[str, str | int | None] | None = None,
    timeout: float = 300,
) -> Path:
    """Build a host shared library (for ctypes) with the system compiler.

    Flags: COMMON_CFLAGS + ``-fPIC -shared``; ``sanitize=True`` adds ASan/UBSan (load such a
    library into a process that has the sanitizer runtime preloaded). odtc_platform.c (host
    stubs of the counter API) is added unless given.
    """
    out = Path(out_so)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = _host_command(sources, out, include_dirs, extra_cflags, sanitize, True, defines)
    _compile(cmd, f"host build of {out.name}", timeout)
    return out


def build_host_executable(
    sources: Sequence[Path | str],
    out: Path | str,
    include_dirs: Sequence[Path | str] = (),
    extra_cflags: Sequence[str] = (),
    sanitize: bool = False,
    *,
    defines: dict[str, str | int | None] | None = None,
    timeout: float = 300,
) -> Path:
    """Build a host executable with the same flags as :func:`build_host` (without -shared/-fPIC)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = _host_command(sources, out, include_dirs, extra_cflags, sanitize, False, defines)
    _compile(cmd, f"host build of {out.name}", timeout)
    return out


def qemu_command(elf: Path | str, target: str) -> list[str]:
    """The QEMU command line run_elf uses (semihosting, -icount shift=6)."""
    t = _target(target)
    return [
        QEMU,
        "-M", t.machine,
        "-nographic",
        "-semihosting-config", "enable=on,target=native",
        "-icount", f"shift={ICOUNT_SHIFT}",
        "-kernel", str(elf),
    ]  # fmt: skip


def _split_counters(raw: str) -> tuple[str, list[tuple[str, int]]]:
    kept: list[str] = []
    reports: list[tuple[str, int]] = []
    for line in raw.splitlines(keepends=True):
        match = _COUNTER_LINE.match(line.rstrip("\n"))
        if match:
            reports.append((match.group(1), int(match.group(2))))
        else:
            kept.append(line)
    return "".join(kept), reports


def _tail(text: str, lines: int = 5) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_elf(elf: Path | str, target: str, timeout: float = 60, cwd: Path | str | None = None) -> RunResult:
    """Run ``elf`` on ``target``'s QEMU board and return its exit status and output.

    Raises :class:`EmulatorError` when the guest does not finish within ``timeout`` seconds
    (hung guest), when it stops on a fault (exit codes in :data:`FAULT_EXIT_CODES`), when the
    core locks up (a fault inside the fault handler; QEMU aborts), or when QEMU cannot start.
    A program's own non-zero exit status is returned, not raised. ``cwd`` is where the
    guest's semihosting file I/O (fopen) resolves relative paths.
    """
    elf = Path(elf)
    if not elf.is_file():
        raise EmulatorError(f"no such ELF file: {elf}")
    cmd = qemu_command(elf.resolve(), target)
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd)
    except FileNotFoundError as exc:
        raise EmulatorError(f"QEMU not found: {cmd[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        raise EmulatorError(
            f"{elf.name} on {target} ({TARGETS[target].machine}) did not finish within {timeout:g} s "
            "(hung guest?)",
            details=partial,
        ) from None
    raw_stdout = proc.stdout.decode(errors="replace")
    stderr = proc.stderr.decode(errors="replace")
    stdout, reports = _split_counters(raw_stdout)
    counters = dict(reports)
    result = RunResult(
        exit_code=proc.returncode,
        stdout=stdout,
        stderr=stderr,
        instructions=reports[-1][1] if reports else None,
        counters=counters,
        reports=reports,
        raw_stdout=raw_stdout,
    )
    where = f"{elf.name} on {target} ({TARGETS[target].machine})"
    if proc.returncode in FAULT_EXIT_CODES:
        fault_lines = [line for line in stderr.splitlines() if line.startswith("odtc: fatal exception")]
        detail = fault_lines[-1] if fault_lines else FAULT_EXIT_CODES[proc.returncode]
        raise EmulatorError(
            f"{where} stopped on a fault (exit {proc.returncode}, {FAULT_EXIT_CODES[proc.returncode]}): {detail}",
            details=stderr,
            result=result,
        )
    if "Lockup" in stderr and "qemu: fatal" in stderr:
        line = next(line for line in stderr.splitlines() if "qemu: fatal" in line)
        raise EmulatorError(f"{where}: core locked up (fault in a fault handler): {line}", details=stderr, result=result)
    if proc.returncode < 0 or any(line.startswith(f"{os.path.basename(QEMU)}:") for line in stderr.splitlines()):
        if proc.returncode != 0:
            raise EmulatorError(
                f"{where}: QEMU failed (status {proc.returncode}): {_tail(stderr, 1)}", details=stderr, result=result
            )
    return result
