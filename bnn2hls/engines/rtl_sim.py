"""The `rtl` engine: cycle-accurate simulation of OUT/rtl with Verilator.

The generated network top is compiled once per content (hash of every RTL source, the
testbench and the Verilator version) into OUT/sim/build-<hash>/ together with
sim/tb_stream.sv, a testbench that streams a preloaded input file back to back and logs each
output word with its cycle. The host side (quantizing inputs, packing pixels, unpacking
accumulators, applying the border correction of a last conv and the output head) is shared
with the reference engine.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import host
from ..hw import streams
from ..backends import rtl as rtl_backend
from ..errors import UserError
from ..ir import Network
from ..hw.folding import estimate_cycles
from ..procs import locked, run_tool
from ..resources import resource_dir
from . import verilator_runtime
from .toolchain import VERILATOR_BUILD_FLAGS, verilator_env, verilator_version

TESTBENCH = "tb_stream.sv"


def testbench_path() -> Path:
    return resource_dir("sim") / TESTBENCH


@dataclass
class Simulation:
    outputs: np.ndarray  # float32 [N, outputs]
    perf: dict


def build(out: Path, trace: bool = False) -> Path:
    """Compile OUT/rtl + the testbench; reuse an existing build of identical content."""
    out = Path(out).resolve()
    rtl_dir = out / "rtl"
    sources = [rtl_dir / name for name in (rtl_dir / rtl_backend.FILELIST).read_text().split()]
    fmt = json.loads((rtl_dir / rtl_backend.STREAM_FORMAT).read_text())
    env = verilator_env()
    digest = hashlib.sha256()
    for path in [*sources, testbench_path()]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(f"{verilator_version()} trace={trace} {fmt['in_width']} {fmt['out_width']}".encode())
    build_dir = out / "sim" / f"build-{digest.hexdigest()[:16]}"
    binary = build_dir / "Vtb_stream"
    if binary.is_file():
        return binary
    build_dir.mkdir(parents=True, exist_ok=True)
    with locked(build_dir.with_name(f".{build_dir.name}.lock")):  # a concurrent run builds the same
        if not binary.is_file():
            _verilate(build_dir, sources, fmt, env, trace)
    return binary


def _verilate(build_dir: Path, sources: list[Path], fmt: dict, env: dict[str, str], trace: bool) -> None:
    binary = build_dir / "Vtb_stream"
    flags = ["--binary", "--timing", "-O3", "-Wno-fatal", "-Wno-lint", "-Wno-style", *VERILATOR_BUILD_FLAGS,
             "--top-module", "tb_stream", "-j", "2", "--x-assign", "0", "--x-initial", "0",
             *(["--trace-fst"] if trace else [])]
    runtime = verilator_runtime.runtime_key(flags, env)
    reuse = [arg for var in verilator_runtime.make_variables(verilator_runtime.seed(build_dir, runtime))
             for arg in ("-MAKEFLAGS", var)]
    cmd = ["verilator", *flags, *reuse, f"-GIN_W={fmt['in_width']}", f"-GOUT_W={fmt['out_width']}",
           "-Mdir", str(build_dir), *map(str, sources), str(testbench_path())]
    proc = run_tool(cmd, env=env)
    if proc.returncode != 0 or not binary.is_file():
        if trace and "lz4.h" in proc.stdout + proc.stderr:
            raise UserError("--trace: Verilator's FST writer needs the lz4 headers (Debian: apt-get install liblz4-dev)")
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise UserError(f"Verilator build failed in {build_dir}: {' | '.join(tail)}")
    verilator_runtime.store(build_dir, runtime)


def run(net: Network, out: Path, x: np.ndarray, trace: bool = False, gap_pct: int = 0, stall_pct: int = 0,
        seed: int = 1) -> Simulation:
    out = Path(out).resolve()  # the simulator runs in OUT/rtl (memory files are relative)
    fmt = json.loads((out / "rtl" / rtl_backend.STREAM_FORMAT).read_text())
    binary = build(out, trace)
    sim_dir = out / "sim"
    words = host.encode_inputs(net, x, fmt["in_bits"])
    frames = len(x)
    # This run's files in a directory of its own: runs on one OUT at once do not mix them.
    with tempfile.TemporaryDirectory(prefix="run-", dir=sim_dir) as private:
        work = Path(private)
        (work / "input.hex").write_text(streams.to_hex_lines(words, fmt["in_width"]))
        out_file = work / "output.txt"
        n_out = frames * fmt["out_pixels"]
        args = [str(binary), f"+in={work / 'input.hex'}", f"+out={out_file}", f"+n_out={n_out}",
                f"+gap_pct={gap_pct}", f"+stall_pct={stall_pct}", f"+seed={seed}"]
        if trace:
            args.append(f"+trace={work / 'trace.fst'}")
        started = time.perf_counter()
        proc = run_tool(args, cwd=out / "rtl")
        wall = time.perf_counter() - started
        if proc.returncode != 0 or not out_file.is_file():
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            raise UserError(f"RTL simulation failed: {lines[-1] if lines else f'exit status {proc.returncode}'}")
        text = out_file.read_text()
        if trace:
            os.replace(work / "trace.fst", sim_dir / "trace.fst")
    cycles, values, first_in, end = [], [], 0, 0
    for line in text.splitlines():
        if line.startswith("#"):
            parts = line.split()
            first_in, end = int(parts[2]), int(parts[4])
            continue
        cycle, word = line.split()
        cycles.append(int(cycle))
        values.append(int(word, 16))
    outputs = host.decode_outputs(net, values, frames, fmt)
    frame_ends = np.asarray(cycles).reshape(frames, fmt["out_pixels"])[:, -1]
    per_frame = float(np.diff(frame_ends).mean()) if frames > 1 else float(end - first_in + 1)
    est = estimate_cycles(net)
    perf = {
        "frames": frames,
        "cycles_total": end - first_in + 1,
        "cycles_per_frame": per_frame,
        "latency_cycles": cycles[0] - first_in,
        "est_cycles_per_frame": est["est_cycles_per_frame"],
        "ratio_to_estimate": per_frame / est["est_cycles_per_frame"],
        "gap_pct": gap_pct,
        "stall_pct": stall_pct,
        "wall_seconds": round(wall, 3),
        "simulated_cycles_per_second": round((end + 4) / wall) if wall > 0 else None,
    }
    tmp = sim_dir / f".rtl_perf.json.{os.getpid()}"
    tmp.write_text(json.dumps(perf, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, sim_dir / "rtl_perf.json")
    return Simulation(outputs=outputs, perf=perf)
