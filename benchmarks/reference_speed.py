"""Speed of the golden numpy engine (`bnn2hls.reference`) and of the compiler on CNV.

Builds CNV_1W1A and TFC_1W1A from the zoo (random weights, randomized BatchNorm), exports
them to QONNX in a temporary directory, then measures

  cnv_compile_s   seconds for `compiler.compile_file` on the CNV QONNX file (median of 3);
  cnv_ref_fps     frames/s of `reference.run` on CNV, one core (best of 3);
  tfc_ref_fps     the same for TFC.

"One core": BLAS/OpenMP pools are limited to 1 thread (threadpoolctl), torch to 1 thread,
and the process is pinned to a single CPU while the reference engine runs, so the number
does not depend on the machine's core count.

The last line printed is one JSON object (the other lines are human-readable detail).

    python benchmarks/reference_speed.py [--frames 256] [--repeats 3]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from bnn2hls.flow import compiler
from bnn2hls import reference
from bnn2hls.models import zoo
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.frontend.torch_export import export_qonnx

TARGET_CNV_REF_FPS = 200
TARGET_CNV_COMPILE_S = 10


@contextlib.contextmanager
def one_core() -> Iterator[None]:
    """Limit every thread pool to one thread and pin the process to one CPU."""
    torch_threads = torch.get_num_threads()
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    torch.set_num_threads(1)
    if affinity:
        os.sched_setaffinity(0, {min(affinity)})
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(torch_threads)
        if affinity:
            os.sched_setaffinity(0, affinity)


def export(name: str, directory: Path) -> Path:
    module, example = zoo.build(name)
    return export_qonnx(module, example, directory / f"{name}.onnx")


def compile_seconds(path: Path, directory: Path, repeats: int) -> float:
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        compiler.compile_file(path, directory / f"out_{path.stem}_{i}")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def reference_fps(path: Path, name: str, frames: int, repeats: int, seed: int = 0) -> float:
    net = compiler.build_network(load_model(path), name)
    shape = net.input_quant.source_shape
    x = np.random.default_rng(seed).random((frames, *shape), dtype=np.float32)  # [0, 1) pixels
    reference.run(net, x[: min(frames, 8)])  # warm-up: first-call allocations, imports
    best = float("inf")
    with one_core():
        for _ in range(repeats):
            start = time.perf_counter()
            reference.run(net, x)
            best = min(best, time.perf_counter() - start)
    return frames / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bnn2hls_refspeed_") as tmp:
        tmp_dir = Path(tmp)
        cnv_path = export("CNV_1W1A", tmp_dir)
        tfc_path = export("TFC_1W1A", tmp_dir)
        cnv_compile_s = compile_seconds(cnv_path, tmp_dir, args.repeats)
        print(f"CNV compile: {cnv_compile_s:.3f} s (median of {args.repeats})", file=sys.stderr)
        cnv_fps = reference_fps(cnv_path, "CNV_1W1A", args.frames, args.repeats)
        print(f"CNV reference: {cnv_fps:.1f} frames/s (1 core, best of {args.repeats})", file=sys.stderr)
        tfc_fps = reference_fps(tfc_path, "TFC_1W1A", args.frames, args.repeats)
        print(f"TFC reference: {tfc_fps:.1f} frames/s (1 core, best of {args.repeats})", file=sys.stderr)

    result = {
        "cnv_ref_fps": round(cnv_fps, 1),
        "tfc_ref_fps": round(tfc_fps, 1),
        "cnv_compile_s": round(cnv_compile_s, 3),
        "frames": args.frames,
        "target_cnv_ref_fps": TARGET_CNV_REF_FPS,
        "target_cnv_compile_s": TARGET_CNV_COMPILE_S,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
