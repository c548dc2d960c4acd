"""Host build and ctypes loader of the C kernel library (`runtime/c`), for tests.

`build_shared` compiles every `runtime/c/src/*.c` into one shared library with the host
compiler and the project's flags (`-O2 -std=c11 -ffp-contract=off -Wall -Wextra -Werror`),
optionally with ASan/UBSan or with `-DODTC_EMULATE_DSP` (the Arm DSP code path compiled
against C models of the intrinsics). `load` opens it and declares every function of
`odtc_kernels.h` from the header's prototypes, so a call converts numpy arrays to
pointers and Python numbers to the declared C types:

    lib = load(build_shared(tmp / "libodtc_kernels.so"))
    lib.odtc_relu_f32(x, y, x.size)

A library built with `sanitize=True` can only be loaded by a process that has the ASan
runtime first in its library list (`LD_PRELOAD=$(gcc -print-file-name=libasan.so)`).
"""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

C_DIR = Path(__file__).resolve().parent / "c"
INCLUDE_DIR = C_DIR / "include"
SOURCE_DIR = C_DIR / "src"
HEADER = INCLUDE_DIR / "odtc_kernels.h"

CFLAGS: tuple[str, ...] = ("-O2", "-std=c11", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror")
SANITIZE_FLAGS: tuple[str, ...] = (
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
    "-g",
)

_SCALARS: dict[str, Any] = {
    "int32_t": ctypes.c_int32,
    "uint32_t": ctypes.c_uint32,
    "size_t": ctypes.c_size_t,
    "float": ctypes.c_float,
    "double": ctypes.c_double,
    "void": None,
}


def sources() -> list[Path]:
    """The kernel library's C sources, sorted."""
    return sorted(SOURCE_DIR.glob("*.c"))


def build_shared(
    out: Path,
    *,
    sanitize: bool = False,
    defines: Sequence[str] = (),
    cc: str = "gcc",
) -> Path:
    """Compile all kernel sources (in parallel, objects next to `out`) and link them into
    the shared library `out`; raise with the compiler's output on failure."""
    flags = [*CFLAGS, "-fPIC"]
    if sanitize:
        flags += SANITIZE_FLAGS
    flags += [f"-D{d}" for d in defines]
    obj_dir = out.parent / f"{out.stem}.obj"
    obj_dir.mkdir(parents=True, exist_ok=True)
    jobs = [
        [cc, *flags, "-I", str(INCLUDE_DIR), "-c", str(src), "-o", str(obj_dir / f"{src.stem}.o")]
        for src in sources()
    ]
    link = [cc, *flags, "-shared", *(j[-1] for j in jobs), "-o", str(out), "-lm"]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        failures = [(cmd, err) for cmd, err in zip(jobs, pool.map(_run, jobs)) if err is not None]
    if not failures:
        err = _run(link)
        failures = [] if err is None else [(link, err)]
    if failures:
        cmd, err = failures[0]
        raise RuntimeError(f"building {out.name} failed:\n{' '.join(cmd)}\n{err}")
    return out


def _run(cmd: Sequence[str]) -> str | None:
    """Run a compiler command; None on success, else its diagnostics. A preloaded ASan
    runtime (see the module docstring) is kept away from the compiler: it only slows it."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    proc = subprocess.run(list(cmd), capture_output=True, text=True, env=env)
    return None if proc.returncode == 0 else proc.stderr + proc.stdout


def _ctype(decl: str) -> Any:
    """ctypes type of one C declaration (`const float *x`, `int32_t n`, `float`)."""
    decl = decl.replace("const", " ").strip()
    if "*" in decl:
        return ctypes.c_void_p
    base = decl.split()[0]
    if base not in _SCALARS:
        raise ValueError(f"odtc_kernels.h: unsupported C type in '{decl}'")
    return _SCALARS[base]


def parse_prototypes(header: str) -> dict[str, tuple[Any, list[Any]]]:
    """{name: (restype, argtypes)} for every `odtc_*` function declared in the header."""
    text = re.sub(r"/\*.*?\*/", " ", header, flags=re.S)
    text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)
    protos: dict[str, tuple[Any, list[Any]]] = {}
    for m in re.finditer(r"([A-Za-z_][\w\s\*]*?)\b(odtc_\w+)\s*\(([^()]*)\)\s*;", text):
        ret, name, params = m.group(1), m.group(2), m.group(3).strip()
        args = [] if params in ("", "void") else [_ctype(p) for p in params.split(",")]
        protos[name] = (_ctype(ret), args)
    return protos


def _arg(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if not value.flags.c_contiguous:
            raise ValueError("kernel arguments must be C-contiguous arrays")
        return value.ctypes.data
    return value


class Kernels:
    """The loaded library; attributes are the header's functions, accepting numpy arrays
    (passed by address; keep them alive and contiguous) or None for pointers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lib = ctypes.CDLL(str(path))
        self.prototypes = parse_prototypes(HEADER.read_text())
        for name, (restype, argtypes) in self.prototypes.items():
            fn = getattr(self.lib, name)
            fn.restype = restype
            fn.argtypes = argtypes

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if not name.startswith("odtc_") or name not in self.prototypes:
            raise AttributeError(name)
        fn = getattr(self.lib, name)

        def call(*args: Any) -> Any:
            return fn(*(_arg(a) for a in args))

        call.__name__ = name
        return call


def load(path: Path) -> Kernels:
    return Kernels(path)
