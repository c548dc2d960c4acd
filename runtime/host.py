"""Drive a compiled model's host build (BUILD/libmodel.so) through ctypes, and its Cortex-M
build (BUILD/model.elf) under QEMU. Both speak the device API of the generated model.h."""

import ctypes
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from odtc.runtime.emulator import EmulatorError, first_error_line, run_elf


class BuildError(RuntimeError):
    """`make` failed or the build directory is incomplete; the message has the first error."""


def make(build: Path, target: str | None = None, sanitize: bool = False, timeout: float = 900) -> Path:
    """Run make in BUILD; returns the produced libmodel.so or model.elf."""
    cmd = ["make", "-s", "-C", str(build)]
    if target is not None:
        cmd.append(f"ODTC_TARGET={target}")
    if sanitize:
        cmd.append("ODTC_SANITIZE=1")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise BuildError("make is not installed") from None
    if proc.returncode != 0:
        raise BuildError(f"building {build} failed: {first_error_line(proc.stderr + proc.stdout)}")
    so = build / "libmodel.so"
    elf = build / "model.elf"
    chosen = target or _makefile_target(build)
    out = so if chosen == "host" else elf
    if not out.is_file():
        raise BuildError(f"make succeeded but {out} is missing")
    return out


def _makefile_target(build: Path) -> str:
    for line in (build / "Makefile").read_text().splitlines():
        if line.startswith("ODTC_TARGET ?="):
            return line.split("=", 1)[1].strip()
    return "host"


@dataclass(frozen=True)
class Shapes:
    input: tuple[int, ...]
    target: tuple[int, ...]
    output: tuple[int, ...]
    input_dtype: type
    target_dtype: type


class HostModel:
    """The device API of libmodel.so, with numpy in and out."""

    def __init__(self, so: Path, shapes: Shapes) -> None:
        self.lib = ctypes.CDLL(str(so.resolve()))
        self.shapes = shapes
        lib = self.lib
        lib.odtc_init.restype = None
        lib.odtc_train_step.restype = ctypes.c_float
        lib.odtc_train_step.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.odtc_infer.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.odtc_param_count.restype = ctypes.c_size_t
        lib.odtc_param_name.restype = ctypes.c_char_p
        lib.odtc_param_name.argtypes = [ctypes.c_size_t]
        lib.odtc_param_numel.restype = ctypes.c_size_t
        lib.odtc_param_numel.argtypes = [ctypes.c_size_t]
        lib.odtc_param_read.argtypes = [ctypes.c_size_t, ctypes.c_void_p]
        lib.odtc_param_write.argtypes = [ctypes.c_size_t, ctypes.c_void_p]
        lib.odtc_init()

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        xa = np.ascontiguousarray(x, dtype=self.shapes.input_dtype)
        ya = np.ascontiguousarray(y, dtype=self.shapes.target_dtype)
        return float(self.lib.odtc_train_step(xa.ctypes.data, ya.ctypes.data))

    def infer(self, x: np.ndarray) -> np.ndarray:
        xa = np.ascontiguousarray(x, dtype=self.shapes.input_dtype)
        out = np.zeros(self.shapes.output, dtype=np.float32)
        self.lib.odtc_infer(xa.ctypes.data, out.ctypes.data)
        return out

    def params(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for i in range(self.lib.odtc_param_count()):
            buf = np.zeros(self.lib.odtc_param_numel(i), dtype=np.float32)
            self.lib.odtc_param_read(i, buf.ctypes.data)
            out[self.lib.odtc_param_name(i).decode()] = buf
        return out


def write_data_bin(path: Path, train: list[tuple[np.ndarray, np.ndarray]], test: list[tuple[np.ndarray, int]],
                   input_numel: int, target_numel: int, target_dtype: str = "<i4") -> None:
    """The record file odtc_train_main.c reads (format in its header comment); targets are
    written in the model's target type (`<i4` class labels or `<f4` regression targets)."""
    with open(path, "wb") as f:
        f.write(b"ODTC" + struct.pack("<5I", 1, len(train), len(test), input_numel, target_numel))
        for x, y in train:
            f.write(np.ascontiguousarray(x, dtype="<f4").tobytes())
            f.write(np.ascontiguousarray(y, dtype=target_dtype).tobytes())
        for x, label in test:
            f.write(np.ascontiguousarray(x, dtype="<f4").tobytes())
            tgt = np.zeros(target_numel, dtype=target_dtype)
            tgt[0] = label
            f.write(tgt.tobytes())


@dataclass
class EmulatedRun:
    losses: list[float]
    correct: int
    tested: int
    instructions_min: int | None
    instructions_max: int | None
    instructions_total: int | None
    params: list[np.ndarray]


def run_emulated(build: Path, target: str, param_numels: list[int], timeout: float) -> EmulatedRun:
    """Run BUILD/model.elf on data.bin already written in BUILD; parse its report."""
    try:
        res = run_elf(build / "model.elf", target, timeout=timeout, cwd=build)
    except EmulatorError as exc:
        raise BuildError(str(exc)) from None
    if res.exit_code != 0:
        msg = [ln for ln in res.stdout.splitlines() if ln.startswith("odtc:")]
        raise BuildError(f"model.elf on {target} exited with {res.exit_code}: {(msg or [res.stderr.strip()])[-1]}")
    losses: list[float] = []
    correct = tested = 0
    ins: tuple[int, int, int] | None = None
    for line in res.stdout.splitlines():
        parts = line.split()
        if line.startswith("@odtc loss "):
            losses.append(struct.unpack("<f", struct.pack("<I", int(parts[3], 16)))[0])
        elif line.startswith("@odtc step_instructions "):
            ins = (int(parts[2]), int(parts[3]), int(parts[4]))
        elif line.startswith("@odtc correct "):
            correct, tested = int(parts[2]), int(parts[3])
    raw = np.fromfile(build / "trained.bin", dtype="<f4")
    params: list[np.ndarray] = []
    pos = 0
    for n in param_numels:
        params.append(raw[pos : pos + n].copy())
        pos += n
    if pos != raw.size:
        raise BuildError(f"trained.bin holds {raw.size} values, expected {pos}")
    return EmulatedRun(
        losses, correct, tested,
        ins[0] if ins else None, ins[1] if ins else None, ins[2] if ins else None,
        params,
    )
