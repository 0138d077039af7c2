"""Speed of the `rtl` engine (Verilator) on TFC and CNV.

For each network: compile it with a given folding, then measure
  build_s              seconds to build the Verilator model (first `run --engine rtl`);
  sim_cycles_per_s     simulated cycles per wall second of the simulation binary;
  sim_frames_per_s     frames per wall second of the simulation binary;
  run_8_frames_s       the whole `bnn2hls run OUT --engine rtl` of 8 frames with a cached
                       build, as a user sees it (new process: imports, quantize, simulate,
                       unpack, head);
  cycles_per_frame     steady-state interval from simulation, with est_cycles_per_frame.

Foldings: CNV uses BNN-PYNQ's (docs/DESIGN.md section 2); TFC uses the one of FINN's TFC end-to-end
flow, (16,49) (8,8) (8,8) (10,8).

The last line printed is one JSON object.

    python benchmarks/rtl_sim_speed.py
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bnn2hls.flow import compiler
from bnn2hls import ir
from bnn2hls.engines import rtl_sim
from bnn2hls.models import zoo
from bnn2hls.frontend.torch_export import export_qonnx

FOLDINGS = {
    "TFC_1W1A": [(16, 49), (8, 8), (8, 8), (10, 8)],
    "CNV_1W1A": [(16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1)],
}
TARGETS = {"TFC_1W1A": 500_000, "CNV_1W1A": 200_000}
# Enough frames that simulation, not process start-up, dominates the wall time.
FRAMES = {"TFC_1W1A": 4096, "CNV_1W1A": 64}
TARGET_RUN_8_CNV_S = 30


def measure(name: str, workdir: Path, frames: int) -> dict:
    module, example = zoo.build(name)
    path = export_qonnx(module, example, workdir / f"{name}.onnx")
    net = compiler.build_network(compiler.load_model(path), name)
    folding = {"layers": {layer.name: {"pe": pe, "simd": simd} for layer, (pe, simd) in zip(net.matrix_layers, FOLDINGS[name])}}
    out = workdir / f"{name}_out"
    compiler.compile_file(path, out, folding=folding)
    net = ir.load(out)
    x = np.random.default_rng(0).random((frames, *net.input_quant.source_shape), dtype=np.float32)
    started = time.perf_counter()
    rtl_sim.build(out)
    build_s = time.perf_counter() - started
    sim = rtl_sim.run(net, out, x)
    np.save(workdir / "x8.npy", x[:8])
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bnn2hls", "run", str(out), "--input", str(workdir / "x8.npy"),
                    "--engine", "rtl", "-o", str(workdir / "y8.npy")], check=True, capture_output=True)
    run_8 = time.perf_counter() - started
    wall = sim.perf["wall_seconds"]
    return {
        "build_s": round(build_s, 2),
        "sim_cycles_per_s": sim.perf["simulated_cycles_per_second"],
        "sim_frames_per_s": round(frames / wall, 1),
        "run_8_frames_s": round(run_8, 2),
        "cycles_per_frame": sim.perf["cycles_per_frame"],
        "est_cycles_per_frame": sim.perf["est_cycles_per_frame"],
        "frames": frames,
        "target_sim_cycles_per_s": TARGETS[name],
    }


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bnn2hls-rtl-bench-") as tmp:
        for name in FOLDINGS:
            results[name.split("_")[0].lower()] = measure(name, Path(tmp), FRAMES[name])
            print(name, results[name.split("_")[0].lower()], file=sys.stderr)
    results["target_run_8_cnv_s"] = TARGET_RUN_8_CNV_S
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
