"""The `hls` engine: C simulation of OUT/hls (the HLS C++ backend) compiled with g++.

OUT/hls (bnn2hls/backends/hls.py) is compiled once per content (hash of every file in it, the
ap_types headers, the compiler version and flags) into OUT/sim/hls-build-<hash>/csim (one g++
run over a unity file, build.log next to it), against Xilinx's ap_int/hls_stream C simulation
headers as shipped in the `hls4ml` package. The testbench (tb_top.cpp) streams a hex file of
input words frame by frame through bnn_top and writes the output words; hls::stream's
"read while empty" / "leftover data" warnings are protocol errors. The host side is the rtl
engine's: quantize, pack pixels (bnn2hls/hw/streams.py), unpack the last layer's accumulators,
apply the border correction of a last conv and the output head.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import host
from ..hw import streams
from ..backends import hls as hls_backend
from ..errors import UserError
from ..ir import Network
from ..procs import locked, run_tool

CXX = "g++"
# -O1: 15-20 % less compile time than -O2 and as fast a simulation (ap_int code inlines at -O1).
CXXFLAGS = ("-std=c++17", "-O1", "-Wall", "-Wextra")
BINARY = "csim"
BUILD_LOG = "build.log"
UNITY = "csim.cpp"
INPUT_FILE = "hls_input.hex"
OUTPUT_FILE = "hls_output.hex"
# hls::stream's C model prints these (and carries on) on a read from an empty stream or a
# stream left holding data: protocol errors of the generated design.
STREAM_WARNING = "WARNING: Hls::stream"


def ap_types_dir() -> Path:
    """Xilinx's ap_int.h/hls_stream.h as shipped in the hls4ml wheel (found without importing
    hls4ml, which is slow to import)."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("--engine hls needs Xilinx's ap_int/hls_stream headers from the Python package hls4ml "
                        "(pip install hls4ml)")
    path = Path(list(spec.submodule_search_locations)[0]) / "templates" / "vivado" / "ap_types"
    if not (path / "ap_int.h").is_file() or not (path / "hls_stream.h").is_file():
        raise UserError(f"--engine hls: hls4ml at {path.parent.parent.parent} has no templates/vivado/ap_types/ap_int.h")
    return path


def compiler() -> str:
    exe = shutil.which(CXX)
    if exe is None:
        raise UserError(f"--engine hls needs a C++ compiler: {CXX} is not on PATH (Debian: apt-get install g++)")
    return exe


def _compiler_version(exe: str) -> str:
    return run_tool([exe, "--version"]).stdout.strip()


def hls_dir(out: Path) -> Path:
    path = Path(out) / "hls"
    if not (path / hls_backend.TOP).is_file() or not (path / hls_backend.STREAM_FORMAT).is_file():
        raise UserError(f"{out}: no generated HLS C++ (hls/{hls_backend.TOP}); compile the model again")
    return path


def build(out: Path) -> Path:
    """Compile OUT/hls into the C simulation binary; reuse a build of identical content."""
    out = Path(out).resolve()
    src_dir = hls_dir(out)
    ap_types = ap_types_dir()
    exe = compiler()
    fmt = json.loads((src_dir / hls_backend.STREAM_FORMAT).read_text())
    sources = list(fmt.get("sources", hls_backend.SOURCES))
    digest = hashlib.sha256()
    for path in sorted(src_dir.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for path in sorted(ap_types.rglob("*.h")):
        digest.update(str(path.relative_to(ap_types)).encode() + b"\0" + path.read_bytes())
    digest.update(f"{_compiler_version(exe)}\0{' '.join(CXXFLAGS)}\0unity {' '.join(sources)}".encode())
    build_dir = out / "sim" / f"hls-build-{digest.hexdigest()[:16]}"
    binary = build_dir / BINARY
    if binary.is_file():
        return binary
    build_dir.mkdir(parents=True, exist_ok=True)
    with locked(build_dir.with_name(f".{build_dir.name}.lock")):  # a concurrent run builds the same
        if not binary.is_file():
            _compile(build_dir, exe, ap_types, src_dir, sources)
    return binary


def _compile(build_dir: Path, exe: str, ap_types: Path, src_dir: Path, sources: list[str]) -> None:
    binary = build_dir / BINARY
    # One g++ run over a unity file that includes every source: the ap_int/hls_stream headers
    # are parsed once, 15-20 % less CPU than compiling the translation units separately, and
    # no slower in wall time (the top, which holds the weights, dominates either way).
    unity = build_dir / UNITY
    tmp = build_dir / f"{UNITY}.tmp{os.getpid()}"  # private to this build, then atomic
    tmp.write_text("".join(f'#include "{source}"\n' for source in sources))
    os.replace(tmp, unity)
    tmp = build_dir / f"{BINARY}.tmp{os.getpid()}"
    cmd = [exe, *CXXFLAGS, "-isystem", str(ap_types), "-I", str(src_dir), str(unity), "-o", str(tmp)]
    proc = run_tool(cmd)
    failed = proc.returncode != 0 or not tmp.is_file()
    if not failed:
        os.replace(tmp, binary)  # atomic: a binary that exists is complete
    log = " ".join(cmd) + "\n" + proc.stdout + proc.stderr
    (build_dir / BUILD_LOG).write_text(log, errors="surrogateescape")  # the paths as the bytes they are
    if failed:
        errors = [line for line in log.splitlines() if "error" in line] or log.strip().splitlines()
        raise UserError(f"HLS C simulation build failed in {build_dir} (see {BUILD_LOG}): {' | '.join(errors[:3])}")


def run(net: Network, out: Path, x: np.ndarray) -> np.ndarray:
    """float32 [N, *source_shape] -> float32 [N, outputs] through the C simulation of OUT/hls."""
    out = Path(out).resolve()
    fmt = json.loads((hls_dir(out) / hls_backend.STREAM_FORMAT).read_text())
    words = host.encode_inputs(net, x, fmt["in_bits"])
    frames = len(x)
    binary = build(out)
    sim_dir = out / "sim"
    if len(words) != frames * fmt["in_pixels"]:
        raise UserError(f"hls engine: {len(words)} input words for {frames} frames of {fmt['in_pixels']} pixels")
    # This run's files in a directory of its own: runs on one OUT at once do not mix them.
    with tempfile.TemporaryDirectory(prefix="run-", dir=sim_dir) as private:
        in_file, out_file = Path(private) / INPUT_FILE, Path(private) / OUTPUT_FILE
        in_file.write_text(streams.to_hex_lines(words, fmt["in_width"]))
        proc = run_tool([str(binary), str(in_file), str(out_file)])
        if proc.returncode != 0 or not out_file.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise UserError(f"HLS C simulation failed (exit {proc.returncode}): {' | '.join(tail)}")
        if STREAM_WARNING in proc.stdout:
            first = next(line for line in proc.stdout.splitlines() if STREAM_WARNING in line)
            raise UserError(f"HLS C simulation: stream protocol error: {first.strip()}")
        words_out = streams.from_hex_lines(out_file.read_text())
    return host.decode_outputs(net, words_out, frames, fmt)
