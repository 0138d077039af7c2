"""Record place-and-route runs as data for the fmax model (bnn2hls/estimate/fmax_model.py).

For each network spec: compile it, run `bnn2hls report OUT --pnr --board BOARD --seed SEED`
(one at a time), and append one point to the points file (default
benchmarks/data/fmax_points.json): the spec, board, family, seed, the clock constraint,
nextpnr's fmax, critical path (cells and block instances) and utilisation, the cost model's
estimate of LUTs and flip-flops, and every block of the hardware graph as (name, kind, RTL
module, numeric parameters). `benchmarks/fit_fmax.py` refits the
model's coefficients from these points alone: no rerun, as long as the blocks' timing features
(`Block.timing_stages`) are functions of the recorded parameters.

Specs: a network of benchmarks/timing.py (demo, tfc, residual, depthwise, sfc, lfc, padnet,
oddnet, altpadnet, cnv: the largest routable folding, cnv_bnn_pynq), mlp_1w2a, depthwise2
(2-bit depthwise test net), and
variants `NAME:PRESET` (folding preset unit | mid | wide) or `NAME@FPS` (--target-fps FPS at
the default 100 MHz).

    python benchmarks/fmax_points.py --networks demo,tfc:mid [--board ulx3s-85f] [--work DIR]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "benchmarks"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import timing  # noqa: E402  (benchmarks/timing.py)
from bnn2hls import hw, ir  # noqa: E402
from bnn2hls.flow import compiler  # noqa: E402
from bnn2hls.hw.folding import FOLDING_PRESETS, folding_preset  # noqa: E402

POINTS = ROOT / "benchmarks" / "data" / "fmax_points.json"


def _model(base: str) -> tuple[Any, Any]:
    import torch

    from bnn2hls.models import zoo

    if base == "demo":
        from bnn2hls.flow import demo

        return zoo.randomize_batchnorm(demo.build_model(), 0), torch.zeros(1, 1, 28, 28)
    if base == "residual":
        from bnn2hls.flow import demo

        return zoo.randomize_batchnorm(zoo.mnist_resnet(True, demo.RESIDUAL_CHANNELS, seed=0), 0), torch.zeros(1, 1, 28, 28)
    if base in ("depthwise", "depthwise2"):
        from tests.brevitas_nets import depthwise_case

        case = depthwise_case(2 if base == "depthwise2" else 1)
        return case.module, case.example
    name = {"tfc": "TFC_1W1A", "sfc": "SFC_1W1A", "lfc": "LFC_1W1A", "cnv": "CNV_1W1A"}.get(base, base)
    return zoo.build(name)


def build(spec: str, work: Path, board: str) -> Path:
    """Compile `spec` into work/<spec> (see the module docstring)."""
    out = work / spec.replace(":", "_").replace("@", "_at_")
    if (out / "report.json").is_file():
        return out
    if ":" not in spec and "@" not in spec and spec in timing.ALL:
        built = timing.build(spec, work, board)
        if built != out:
            built.rename(out)
        return out
    if ":" in spec:
        base, preset = spec.split(":")
        if preset not in FOLDING_PRESETS:
            raise SystemExit(f"{spec}: folding preset must be one of {FOLDING_PRESETS}")
        fps = None
    elif "@" in spec:
        base, rate = spec.split("@")
        preset, fps = None, float(rate)
    else:
        base, preset, fps = spec, "mid", None
    module, example = _model(base)
    path = timing._export(module, example, work, out.name)
    model = compiler.load_model(path)
    folding = folding_preset(compiler.build_network(model, base), preset) if preset else None
    compiler.compile_file(path, out, folding=folding, target_fps=fps)
    return out


def blocks_of(out: Path) -> list[dict[str, Any]]:
    graph = hw.lower(ir.load(out))
    return [{"name": b.name, "kind": b.kind, "module": b.module, "params": dict(b.params)} for b in graph.blocks]


def record(spec: str, out: Path, board: str, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    result = timing.measure(out, board, seed)
    if "error" in result:
        return {"spec": spec, "error": result["error"]}
    doc = json.loads((out / "report.json").read_text())
    p = doc["pnr"]
    cp = p["critical_path"]
    return {"spec": spec, "board": p["board"], "family": p["family"], "device": p["device"], "seed": p["seed"],
            "clock_mhz": p["clock_mhz"], "fmax_mhz": p["fmax_mhz"],
            "critical_path": {k: cp.get(k) for k in ("from", "to", "from_cell", "to_cell", "logic_ns", "routing_ns",
                                                     "total_ns", "segments")},
            "utilisation": {k: p["utilisation"][k] for k in ("lut4", "ff", "carry", "bram", "lutram", "logic_cells")},
            # the cost model's (xc7) figures of the same design: fit_fmax.py fits the LUT4 sites
            # and flip-flops a LUT4 fabric spends per estimated LUT and FF from these
            "estimate": {"lut_total": doc["network"]["est_lut_total"], "ff": doc["network"]["est_ff"]},
            "yosys_version": p.get("yosys_version"), "nextpnr_version": p.get("nextpnr_version"),
            "seconds": round(time.perf_counter() - started, 1), "blocks": blocks_of(out)}


def save(points: list[dict[str, Any]], path: Path) -> None:
    points = sorted(points, key=lambda q: (q["family"], q["spec"], q["seed"]))
    path.write_text(json.dumps({"points": points}, indent=1, sort_keys=True) + "\n")


def load_points(path: Path = POINTS) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["points"] if path.is_file() else []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", required=True, help="comma separated specs")
    ap.add_argument("--board", default="ulx3s-85f")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/fmax-points"))
    ap.add_argument("--points", type=Path, default=POINTS)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for spec in [s.strip() for s in args.networks.split(",") if s.strip()]:
        out = build(spec, args.work, args.board)
        point = record(spec, out, args.board, args.seed)
        print(f"{spec}: {json.dumps({k: v for k, v in point.items() if k != 'blocks'})}", file=sys.stderr, flush=True)
        if "error" in point:
            continue
        points = [q for q in load_points(args.points)
                  if not (q["spec"] == spec and q["board"] == point["board"] and q["seed"] == point["seed"])]
        save(points + [point], args.points)


if __name__ == "__main__":
    main()
