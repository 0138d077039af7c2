"""report.json: what a compiled network costs, per layer and in total.

Written by `compile` from the analytic models alone (cycles from passes.folding, LUT / FF /
BRAM18 / LUTRAM from cost_model, the predicted fmax from fmax_model) and, with a board,
whether the estimate fits it. The network's `clock_mhz`, which `est_fps` assumes, is the
effective clock: min(board clock, predicted fmax); `board_clock_mhz`, `predicted_fmax_mhz`
(None where the family has no fitted model: Xilinx), `clock_source` and `fmax` (the
prediction's critical block and stage) say which.
`bnn2hls report --synth` adds the yosys counts under "synth" (see `add_synthesis`),
`bnn2hls report --pnr` the place-and-route results under "pnr" (see `add_pnr`).

This is where the typed results (`cost_model.NetworkEstimate`, `synth.SynthResult`,
`fit.FitResult`) become JSON: the report is a plain dict, as written to and read from
report.json.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..estimate import cost_model, fit, fmax_model
from ..errors import UserError
from ..estimate.synth import SynthResult
from ..ir import Network
from ..ops import op_of
from ..hw.folding import estimate_cycles
from ..safeio import read_json

REPORT_FILE = "report.json"
EST_KEYS = ("est_lut", "est_lutram", "est_lut_total", "est_ff", "est_bram18")


def layer_summary(layer: Any) -> dict[str, Any]:
    """A layer's report.json entry: kind and shapes, then its op kind's own summary."""
    entry: dict[str, Any] = {"kind": layer.kind, "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape)}
    entry.update(op_of(layer).summary(layer))
    return entry


def build_report(net: Network, clock_mhz: float, board: Any = None) -> dict[str, Any]:
    """The report of `net` on `board` (None: no board, xc7) at board clock `clock_mhz`."""
    cycles = estimate_cycles(net)
    resources = cost_model.estimate(net)
    family = fit.board_family(board)
    clock = fmax_model.clock_info(clock_mhz, fmax_model.predict(net, family), family)
    clock_mhz = clock["clock_mhz"]
    layers = {}
    for layer in net.datapath:
        entry = layer_summary(layer)
        entry["est_cycles"] = cycles["layers"][layer.name]
        entry["est_cycles_per_frame"] = cycles["layers"][layer.name]["interval"]
        entry.update(resources.layers[layer.name].resources.to_dict())
        layers[layer.name] = entry
    per_frame = cycles["est_cycles_per_frame"]
    doc = {
        "network": {
            "name": net.name,
            **clock,
            "est_cycles_per_frame": per_frame,
            "est_latency_cycles": cycles["est_latency_cycles"],
            "est_fps": clock_mhz * 1e6 / per_frame,
            "bottleneck": cycles["bottleneck"],
            "macs": sum(e.get("macs", 0) for e in layers.values()),
            "outputs": net.head.out_features,
            **resources.resources.to_dict(),
        },
        "layers": layers,
        "layer_order": [layer.name for layer in net.datapath],
        "cost_model": {"family": resources.family, "version": resources.model},
        # Float ties per layer (passes.thresholds.tie_report): where the source's own float
        # rounding decides an output; compile warns once if any is reachable.
        "ties": list(net.source.get("ties", [])),
    }
    return with_board(doc, board) if board is not None else doc


def with_board(doc: dict[str, Any], board: Any) -> dict[str, Any]:
    """The report checked against `board` (a Board or a boards/*.json dict)."""
    b = fit.board_dict(board)
    doc = {**doc, "board": {"name": b["name"], "part": b["part"], "family": b["family"], "resources": dict(b["resources"])}}
    doc["fit"] = fit_summary(doc, doc["board"])
    return doc


def fit_summary(doc: dict[str, Any], board: dict[str, Any]) -> dict[str, Any]:
    """Fit of the best numbers the report has: yosys counts once synthesized, else estimates."""
    return fit.check(doc["synth"] if "synth" in doc else doc, board).to_dict()


def add_synthesis(doc: dict[str, Any], synthesis: SynthResult) -> dict[str, Any]:
    """report.json with yosys counts: `synth.lut`, `synth.ff`, ... for the network (so a user
    reads them at the top level of "synth") and `synth.layers.<name>` per layer."""
    network = synthesis.network.to_dict()
    keep = {"family": synthesis.family, "mode": synthesis.mode, "clock_mhz": synthesis.clock_mhz,
            "yosys_version": synthesis.yosys_version, "yosys_seconds": synthesis.yosys_seconds,
            "layers": {k: v.to_dict() for k, v in synthesis.layers.items()}}
    doc = {**doc, "synth": {**network, **keep, "network": dict(network)}}
    if "board" in doc:
        doc["fit"] = fit_summary(doc, doc["board"])
    return doc


def load(out: Path) -> dict[str, Any]:
    path = Path(out) / REPORT_FILE
    if not path.is_file():
        raise UserError(f"{out}: not a compiled output (no {REPORT_FILE})")
    doc = read_json(path, "report")
    if not isinstance(doc, dict) or not {"network", "layers", "layer_order"} <= doc.keys():
        raise UserError(f"{path}: not a bnn2hls report; compile again")
    return doc


def save(doc: dict[str, Any], out: Path) -> Path:
    path = Path(out) / REPORT_FILE
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return path


def measure(doc: dict[str, Any], out: Path, jobs: int = 2) -> dict[str, Any]:
    """The report with yosys counts of OUT's Verilog (`report --synth`), for the report's board
    family (xc7 without a board) and clock."""
    from ..estimate import synth

    family = doc.get("board", {}).get("family", "xc7")
    result = synth.synthesize(out, family=family, mode="layers", jobs=jobs, clock_mhz=doc["network"].get("board_clock_mhz", doc["network"]["clock_mhz"]))
    return add_synthesis(doc, result)


def add_pnr(doc: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """report.json with a place-and-route result (`estimate.pnr.place_and_route`) under "pnr",
    with the frame rate at the achieved fmax (fmax / the estimated cycles per frame)."""
    cycles = doc["network"]["est_cycles_per_frame"]
    entry = {k: v for k, v in result.items() if k != "cached"}
    entry.update(est_cycles_per_frame=cycles, fps_at_fmax=result["fmax_mhz"] * 1e6 / cycles,
                 fps_at_clock=result["clock_mhz"] * 1e6 / cycles)
    return {**doc, "pnr": entry}


def measure_pnr(doc: dict[str, Any], out: Path, board: Any, seed: int, clock_mhz: float | None = None,
                progress: Any = None) -> dict[str, Any]:
    """The report with a place and route of OUT's accelerator on `board` (`report --pnr`)."""
    from .. import ir
    from ..estimate import pnr

    doc = add_pnr(doc, pnr.place_and_route(out, board, clock_mhz=clock_mhz, seed=seed, progress=progress))
    pred = fmax_model.predict(ir.load(out), fmax_model.model_family(board.family))
    if pred is not None:  # the model's prediction on the routed family, and its error
        p = doc["pnr"]
        p.update(predicted_fmax_mhz=round(pred.fmax_mhz, 1), predicted_critical=f"{pred.block}.{pred.stage}",
                 fmax_prediction_error=round((pred.fmax_mhz - p["fmax_mhz"]) / p["fmax_mhz"], 4))
    return doc
