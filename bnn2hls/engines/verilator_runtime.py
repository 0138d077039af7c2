"""Verilator's run-time library objects, compiled once per configuration and reused.

Every Verilator build compiles the same run-time sources (verilated.cpp, verilated_vpi.cpp,
verilated_threads.cpp, ...) into its own build directory: 10-14 s of g++ per build, against
1-3 s for the design itself (measured on a small cocotb bench: verilated.o 5.7 s,
verilated_vpi.o 4.4 s, verilated_threads.o 1.9 s, verilated_dpi.o 1.7 s; the design 1.2 s).
Those objects depend only on how Verilator was invoked, not on the design, so the first build
of a configuration stores them under ~/.cache/bnn2hls/verilator-runtime/<key>/ and later
builds start from copies. The key hashes everything their compile commands depend on: the
Verilator version and root, the C++ compiler's version, and the build flags.

make must not remake the copies: the generated makefile makes them depend on V<top>.mk, which
every Verilator run rewrites. So the build empties VK_GLOBAL_OBJS (the run-time objects as make
targets) and links the copies through LOADLIBES, which the link rule lists after the design's
objects and nothing else sets. (`make --old-file` would do, but make 4.3 ignores it in
MAKEFLAGS, the only way into the make that cocotb's runner starts.) A missing or unwritable
cache only costs the time it would have saved.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..procs import run_tool
from .toolchain import verilator_version

OBJECT_GLOB = "verilated*.o"  # the run-time library; not the design's objects nor cocotb's main


def cache_root() -> Path:
    return Path.home() / ".cache" / "bnn2hls" / "verilator-runtime"


def runtime_key(flags: Sequence[str], env: dict[str, str]) -> str:
    """A key for the run-time objects of builds that call Verilator with `flags` (everything but
    the sources and the design's parameters) in `env` (VERILATOR_ROOT set)."""
    compiler = run_tool([env.get("CXX", "g++"), "--version"], env=env).stdout.strip()
    text = "\0".join([verilator_version(), env.get("VERILATOR_ROOT", ""), compiler, *flags])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def seed(build_dir: Path, key: str) -> list[str]:
    """Copy the cached run-time objects of `key` into `build_dir`; returns their file names
    (none when nothing is cached yet)."""
    cached = cache_root() / key
    names = sorted(p.name for p in cached.glob(OBJECT_GLOB)) if cached.is_dir() else []
    build_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(cached / name, build_dir / name)
    return names


def make_variables(names: Sequence[str]) -> list[str]:
    """make assignments that link the seeded objects `names` instead of compiling the run-time,
    spaces inside a value escaped with a backslash: the form both MAKEFLAGS (cocotb's runner
    starts make under this environment) and a shell command line (`verilator --build` hands
    its -MAKEFLAGS to make through one) read as one word."""
    return ["VK_GLOBAL_OBJS=", "LOADLIBES=" + "\\ ".join(names)] if names else []


def store(build_dir: Path, key: str) -> None:
    """After a successful build: keep its run-time objects for `key` if none are kept yet.
    The directory appears whole (renamed into place), so a concurrent build never sees a part."""
    final = cache_root() / key
    objects = sorted(build_dir.glob(OBJECT_GLOB))
    if final.is_dir() or not objects:
        return
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
        for path in objects:
            shutil.copyfile(path, staging / path.name)
        try:
            os.rename(staging, final)
        except OSError:  # another build stored the same key first
            shutil.rmtree(staging, ignore_errors=True)
    except OSError:
        pass  # no cache: later builds compile the run-time again
