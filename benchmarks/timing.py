"""Timing closure per network: place and route (`bnn2hls report OUT --pnr`) on an open board.

For each network: compile it (random weights, randomized BatchNorm: the hardware does not
depend on training), then `bnn2hls report OUT --pnr --board BOARD --seed SEED`, and record
  fmax_mhz, meets_clock   nextpnr's achieved clock against the board's clock;
  lut4, ff, carry, bram   the routed design's LUT4s, flip-flops, carry cells, block RAMs
                          (ECP5 DP16KD, iCE40 RAM4K), bnn_pnr_top's harness included;
  fps_at_fmax             fmax / the estimated cycles per frame;
  predicted_fmax_mhz      the fmax model's prediction (bnn2hls/estimate/fmax_model.py) for the
                          board's family, its critical block.stage, and fmax_error: its
                          relative error against nextpnr's fmax (issue 17 asks |error| <= 15 %);
  critical_path           the worst path by block instance, logic and routing ns;
  seconds                 the place and route's wall time (0 when cached in OUT/pnr).

Networks (--networks, comma separated; default: the acceptance set of issue 17):
  demo        the `make demo` MLP (bnn2hls.flow.demo.build_model) at the demo's --target-fps 20000
  tfc         TFC_1W1A at the folding of FINN's TFC end-to-end flow (16,49) (8,8) (8,8) (10,8)
  residual    the residual demo net (zoo.mnist_resnet, channels 16/32) at the demo's 5,000 frames/s
  depthwise   the depthwise-separable test net (tests/brevitas_nets.py, binary) at 30,000 frames/s
  sfc, lfc    SFC_1W1A / LFC_1W1A at the "mid" folding preset
  padnet, oddnet, altpadnet   the zoo's small convnets at the "mid" folding preset
  cnv         CNV_1W1A at the fastest folding that routes on the board: the fastest whose estimate
              (in the board's logic cells) stays within fit.ROUTABLE of every budget
              (fit.fastest_fitting_folding), else half its frame rate, and so on
  cnv_bnn_pynq  CNV_1W1A at BNN-PYNQ's folding (zoo.CNV_BNN_PYNQ_FOLDING)
  cnv@FPS     CNV_1W1A folded for FPS frames/s at the nominal 100 MHz (--target-fps FPS)
  all         every one of them
Each ECP5 run takes minutes (CNV: much longer); the last line printed is one JSON object.

    python benchmarks/timing.py [--networks demo,tfc] [--board ulx3s-85f] [--seed 1] [--work DIR]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests/brevitas_nets.py (the depthwise net)

from bnn2hls import cli  # noqa: E402
from bnn2hls.estimate import fit  # noqa: E402
from bnn2hls.flow import compiler  # noqa: E402
from bnn2hls.frontend.torch_export import export_qonnx  # noqa: E402
from bnn2hls.hw.boards import load_board  # noqa: E402
from bnn2hls.hw.folding import folding_preset  # noqa: E402
from bnn2hls.models import zoo  # noqa: E402

TFC_FOLDING = [(16, 49), (8, 8), (8, 8), (10, 8)]
DEFAULT = ["demo", "tfc", "residual", "depthwise"]
ALL = [*DEFAULT, "sfc", "lfc", "padnet", "oddnet", "altpadnet", "cnv", "cnv_bnn_pynq"]


def _export(module: Any, example: Any, work: Path, name: str) -> Path:
    return export_qonnx(module.eval(), example, work / f"{name}.onnx")


def _compile(path: Path, out: Path, name: str, folding: dict | None = None, target_fps: float | None = None,
             fold: Callable[[Any], dict] | None = None) -> Path:
    if fold is not None:
        folding = fold(compiler.build_network(compiler.load_model(path), name))
    compiler.compile_file(path, out, folding=folding, target_fps=target_fps)
    return out


def build(name: str, work: Path, board: str) -> Path:
    """Compile network `name` into work/<name>; returns OUT."""
    out = work / name
    if name == "demo":
        from bnn2hls.flow import demo

        model = zoo.randomize_batchnorm(demo.build_model(), 0)
        import torch

        return _compile(_export(model, torch.zeros(1, 1, 28, 28), work, name), out, name, target_fps=demo.TARGET_FPS)
    if name == "residual":
        import torch

        from bnn2hls.flow import demo

        model = zoo.randomize_batchnorm(zoo.mnist_resnet(True, demo.RESIDUAL_CHANNELS, seed=0), 0)
        return _compile(_export(model, torch.zeros(1, 1, 28, 28), work, name), out, name,
                        target_fps=demo.RESIDUAL_TARGET_FPS)
    if name == "depthwise":
        from tests.brevitas_nets import depthwise_case

        case = depthwise_case(1)
        return _compile(_export(case.module, case.example, work, name), out, name, target_fps=30000)
    zoo_name = {"tfc": "TFC_1W1A", "sfc": "SFC_1W1A", "lfc": "LFC_1W1A", "cnv": "CNV_1W1A", "cnv_bnn_pynq": "CNV_1W1A"}.get(
        name.split("@")[0], name)
    module, example = zoo.build(zoo_name)
    path = _export(module, example, work, name)
    if name == "tfc":
        return _compile(path, out, zoo_name, fold=lambda net: {"layers": {
            layer.name: {"pe": pe, "simd": simd} for layer, (pe, simd) in zip(net.matrix_layers, TFC_FOLDING)}})
    if name == "cnv":
        def fastest(net: Any) -> dict:
            best = fit.fastest_fitting_folding(net, load_board(board), fit.ROUTABLE)
            if best is None:
                raise SystemExit(f"cnv: no folding of CNV_1W1A fits {board}")
            return {"layers": {layer.name: {"pe": layer.pe, "simd": layer.simd} for layer in best[0].matrix_layers}}
        return _compile(path, out, zoo_name, fold=fastest)
    if name == "cnv_bnn_pynq":
        return _compile(path, out, zoo_name, fold=zoo.bnn_pynq_folding)
    if name.startswith("cnv@"):  # CNV_1W1A at --target-fps N (at the nominal 100 MHz)
        return _compile(path, out, zoo_name, target_fps=float(name[4:]))
    return _compile(path, out, zoo_name, fold=lambda net: folding_preset(net, "mid"))


def measure(out: Path, board: str, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    rc = cli.main(["report", str(out), "--pnr", "--board", board, "--seed", str(seed)])
    seconds = time.perf_counter() - started
    if rc != 0:
        return {"error": f"report --pnr exited {rc}", "seconds": round(seconds, 1)}
    doc = json.loads((out / "report.json").read_text())
    p, u = doc["pnr"], doc["pnr"]["utilisation"]
    cp = p["critical_path"]
    return {"fmax_mhz": p["fmax_mhz"], "clock_mhz": p["clock_mhz"], "meets_clock": p["meets_clock"],
            "lut4": u["lut4"], "ff": u["ff"], "carry": u["carry"], "bram": u["bram"], "dsp": u["dsp"],
            "est_cycles_per_frame": p["est_cycles_per_frame"], "fps_at_fmax": round(p["fps_at_fmax"], 1),
            "predicted_fmax_mhz": p.get("predicted_fmax_mhz"), "predicted_critical": p.get("predicted_critical"),
            "fmax_error": p.get("fmax_prediction_error"),
            "critical_path": {k: cp.get(k) for k in ("from", "to", "logic_ns", "routing_ns", "total_ns")},
            "seconds": round(seconds, 1), "device": p["device"], "seed": p["seed"]}


def largest_cnv(work: Path, board: str, seed: int) -> dict[str, Any]:
    """CNV_1W1A at the fastest folding that places and routes on `board`: first the fastest
    whose estimate fits with place-and-route headroom (in the board's logic cells, by the
    ratio fitted to nextpnr runs: fit.usage), then half its frame rate, and so on
    until nextpnr fits it (each failed try costs a yosys run; nextpnr fails at packing)."""
    out = work / "cnv"
    if not (out / "report.json").is_file():
        build("cnv", work, board)
    tried = []
    for _ in range(6):
        result = measure(out, board, seed)
        fps = json.loads((out / "report.json").read_text())["network"]["est_fps"]
        layers = json.loads((out / "report.json").read_text())["layers"]
        folding = {k: [v["pe"], v["simd"]] for k, v in layers.items() if "pe" in v}
        if "error" not in result:
            return {**result, "est_fps_at_100mhz": fps, "folding": folding, "did_not_fit": tried}
        tried.append({"est_fps_at_100mhz": fps, "folding": folding})
        out = work / f"cnv@{fps / 2:.0f}"
        if not (out / "report.json").is_file():
            build(out.name, work, board)
    return {"error": "no folding tried fits", "did_not_fit": tried}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", default=",".join(DEFAULT), help=f"comma separated, of {', '.join(ALL)}, or all")
    ap.add_argument("--board", default="ulx3s-85f", help="an open-toolchain board (ulx3s-85f, icebreaker)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, help="keep the compiled outputs (and their pnr caches) here")
    args = ap.parse_args()
    names = ALL if args.networks == "all" else [n.strip() for n in args.networks.split(",") if n.strip()]
    at_rate = [n for n in names if n.startswith("cnv@") and n[4:].replace(".", "", 1).isdigit()]
    unknown = [n for n in names if n not in ALL and n not in at_rate]
    if unknown:
        ap.error(f"unknown network(s) {', '.join(unknown)} (known: {', '.join(ALL)})")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bnn2hls-timing-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in names:
            if name == "cnv":
                results[name] = largest_cnv(work, args.board, args.seed)
            else:
                out = work / name
                if not (out / "report.json").is_file():
                    build(name, work, args.board)
                results[name] = measure(out, args.board, args.seed)
            print(f"{name}: {json.dumps(results[name])}", file=sys.stderr)
    errors = []
    for name, r in results.items():
        if "error" in r:
            print(f"{name:<14} {r['error']}")
        elif r.get("predicted_fmax_mhz") is None:
            print(f"{name:<14} fmax {r['fmax_mhz']:6.1f} MHz  (no fmax model for this family)")
        else:
            errors.append(abs(r["fmax_error"]))
            print(f"{name:<14} fmax {r['fmax_mhz']:6.1f} MHz  predicted {r['predicted_fmax_mhz']:6.1f} MHz "
                  f"({r['fmax_error'] * 100:+5.1f} %, {r['predicted_critical']})  {r['lut4']:,} LUT4  {r['ff']:,} FF  "
                  f"{r['bram']} BRAM  {r['fps_at_fmax']:,.0f} frames/s at fmax")
    summary = {"max_abs_fmax_error": round(max(errors), 4) if errors else None,
               "within_15_percent": all(e <= 0.15 for e in errors) if errors else None}
    print(json.dumps({"board": args.board, "seed": args.seed, **summary, "networks": results}))


if __name__ == "__main__":
    main()
