"""Fit the fmax model's coefficients (bnn2hls/data/fmax_model.json) to recorded place-and-route
points (benchmarks/data/fmax_points.json, written by benchmarks/fmax_points.py): no rerun.

Per device family with points: the coefficients (t0, lut, adder, carry, fanout, bram, bram_mux,
bram_spread; ns, all
>= 0, module docstring of bnn2hls/estimate/fmax_model.py) minimizing the squared log error of
the predicted clock period (the slowest stage of any block) against nextpnr's, plus the same
error (weighted STAGE_WEIGHT) of the stage nextpnr's critical path lies in (named from its end
register: x_rot -> issue, w_o -> weight_read, tree[0] -> tree0, ...; `STAGE_OF_REGISTER`)
where it can be told, plus a weak pull
towards the prior below (a few points cannot pin six coefficients; the prior is a typical ECP5
-6 LUT4 + routing delay per level, a carry bit, a block RAM clk-to-q). Prints per point the
measured and predicted fmax, the error and the predicted critical stage, and writes the file.
Also per family: the logic cells (LUT4 sites) and flip-flops placed per LUT and FF of the cost
model's estimate (`fit_resources`; the board fit scales estimates by them on LUT4 boards).

    python benchmarks/fit_fmax.py [--points FILE] [--out FILE] [--check] [--loo]
(--check: evaluate the current coefficients, write nothing; --loo: also leave-one-out, each
point predicted by a fit to the others, the out-of-sample error)
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

from bnn2hls.estimate import fmax_model  # noqa: E402

POINTS = ROOT / "benchmarks" / "data" / "fmax_points.json"
PRIOR = {"ecp5": {"t0": 2.0, "lut": 0.7, "adder": 0.6, "carry": 0.06, "fanout": 0.15, "bram": 5.0, "bram_mux": 1.0,
                  "bram_spread": 0.2},
         "ice40": {"t0": 3.0, "lut": 1.3, "adder": 1.0, "carry": 0.12, "fanout": 0.3, "bram": 6.0, "bram_mux": 1.5,
                   "bram_spread": 0.3}}
PRIOR_WEIGHT = 0.02  # per coefficient, relative squared deviation from the prior
# The weight of the stage nextpnr names against the network's figure: a path that congestion
# made long (CNV_1W1A at 62 % of the ECP5-85F: conv1's popcount tree level, 3.3 + 6.6 ns) pulls
# every coefficient towards that stage at weight 1, and the ten points fitted within 15.8 %
# (the 2-bit depthwise net); at 0.25 within 10.0 %, the stages still named.
STAGE_WEIGHT = 0.25
UNFITTED = {"xc7": "Xilinx 7-series: not fitted (timing needs Vivado, which bnn2hls does not run); the clock is the board's",
            "xcup": "Xilinx UltraScale+: not fitted (timing needs Vivado); the clock is the board's"}


# the register a critical path ends in (a flatten's output register: its control stage, the
# enable of the whole vector) (bnn_mvau's names) -> the stage of `Mvau.timing_stages`
STAGE_OF_REGISTER = (("x_rot", "issue"), ("cur_x", "issue"), ("w_o", "weight_read"), ("w_r", "weight_read"),
                     ("w_q", "weight_select"),
                     ("tree[0]", "tree0"), ("tree[", "tree"), ("acc_", "acc"), ("ge_r", "act"))
ENDS_IN = (("flatten", "m_tdata", "control"),)  # (block kind, register, stage): cross-block paths


# a path that starts in a window walker's position registers is its walk (its `step` / `emit`
# enable the window registers, or the next block's input register)
WALK_REGISTERS = ("py", "px", "ny", "nx")


def measured_stage(point: dict[str, Any]) -> tuple[str, str] | None:
    """(block, stage) nextpnr's critical path ends in, where its end register names one."""
    cp = point["critical_path"]
    src = cp["from_cell"].split(".")
    if len(src) > 2 and src[-2] == "u_walk" and src[-1].split("_")[0] in WALK_REGISTERS:
        block = next((b for b in point["blocks"] if b["name"] == cp["from"]), None)
        if block is not None and "walk" in fmax_model.block_stages(block["kind"], block["params"]):
            return cp["from"], "walk"
    end = next((b for b in point["blocks"] if b["name"] == cp["to"]), None)
    for kind, reg, stage in ENDS_IN:
        if end is not None and end["kind"] == kind and cp["to_cell"].split(".")[-1].startswith(reg):
            return cp["to"], stage
    if cp.get("from") != cp.get("to"):
        return None
    reg = cp["to_cell"].split(".")[-1]
    for prefix, stage in STAGE_OF_REGISTER:
        if reg.startswith(prefix):
            block = next((b for b in point["blocks"] if b["name"] == cp["to"]), None)
            if block is not None and stage in fmax_model.block_stages(block["kind"], block["params"]):
                return cp["to"], stage
    return None


def stage_of(point: dict[str, Any], block: str, stage: str) -> dict[str, float]:
    b = next(b for b in point["blocks"] if b["name"] == block)
    return fmax_model.block_stages(b["kind"], b["params"])[stage]


def point_blocks(point: dict[str, Any]) -> list[tuple[str, str, dict[str, int]]]:
    return [(b["name"], b["kind"], b["params"]) for b in point["blocks"]]


def predict(point: dict[str, Any], coeffs: dict[str, float]) -> tuple[float, str, str]:
    """(predicted period ns, block, stage) of a recorded point under `coeffs`."""
    worst = (0.0, "", "")
    for name, kind, params in point_blocks(point):
        for stage, feats in fmax_model.block_stages(kind, params).items():
            d = fmax_model.stage_delay(feats, coeffs, point["family"])
            if d > worst[0]:
                worst = (d, name, stage)
    return worst


def fit_family(points: list[dict[str, Any]], prior: dict[str, float]) -> dict[str, float]:
    keys = fmax_model.COEFF_KEYS
    x0 = np.array([prior[k] for k in keys])

    known = [(p, stage_of(p, *measured_stage(p))) for p in points if measured_stage(p) is not None]

    def loss(x: np.ndarray) -> float:
        c = dict(zip(keys, np.abs(x)))
        err = sum(math.log(predict(p, c)[0] / (1000.0 / p["fmax_mhz"])) ** 2 for p in points)
        err += STAGE_WEIGHT * sum(math.log(fmax_model.stage_delay(f, c, p["family"]) / (1000.0 / p["fmax_mhz"])) ** 2
                                  for p, f in known)
        reg = PRIOR_WEIGHT * sum(((abs(v) - prior[k]) / prior[k]) ** 2 for k, v in zip(keys, x))
        return err + reg

    best = minimize(loss, x0, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-4, "fatol": 1e-7})
    best = minimize(loss, best.x, method="Powell", options={"maxiter": 4000})
    return {k: round(float(abs(v)), 4) for k, v in zip(keys, best.x)}


def fit_resources(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The logic cells (LUT4 sites) and flip-flops nextpnr placed per LUT and FF of the cost
    model's estimate (`fmax_model.resource_scale`): least squares through the origin, so the
    largest designs, the ones near a board's budget, weigh most. None without such points."""
    have = [p for p in points if "estimate" in p and p["utilisation"].get("logic_cells")]
    if not have:
        return None
    pairs = {"lut_sites_per_lut": [(p["utilisation"]["logic_cells"], p["estimate"]["lut_total"]) for p in have],
             "ff_per_ff": [(p["utilisation"]["ff"], p["estimate"]["ff"]) for p in have]}
    doc: dict[str, Any] = {"points": len(have)}
    for key, xy in pairs.items():
        ratio = sum(u * e for u, e in xy) / sum(e * e for _, e in xy)
        doc[key] = round(ratio, 3)
        doc[f"{key}_max_abs_error"] = round(max(abs(u / (ratio * e) - 1) for u, e in xy), 3)
    for p in have:
        u, e = p["utilisation"], p["estimate"]
        print(f"  {p['spec']:<18} logic cells {u['logic_cells']:6d} = {u['logic_cells'] / e['lut_total']:.2f} x "
              f"est. LUT {e['lut_total']:6d};  FF {u['ff']:6d} = {u['ff'] / e['ff']:.2f} x est. FF {e['ff']:6d}")
    return doc


def report(points: list[dict[str, Any]], coeffs: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for p in points:
        d, block, stage = predict(p, coeffs)
        pred = 1000.0 / d
        err = (pred - p["fmax_mhz"]) / p["fmax_mhz"]
        cp = p["critical_path"]
        rows.append({"spec": p["spec"], "measured_mhz": p["fmax_mhz"], "predicted_mhz": round(pred, 1),
                     "error": round(err, 4), "predicted_stage": f"{block}.{stage}",
                     "measured_path": f"{cp['from_cell']} -> {cp['to_cell']}"})
        print(f"  {p['spec']:<18} measured {p['fmax_mhz']:7.2f}  predicted {pred:7.2f}  {err * 100:+6.1f} %  "
              f"{block}.{stage:<12} (nextpnr: {cp['from_cell'].removeprefix('u_top.')} -> "
              f"{cp['to_cell'].removeprefix('u_top.')})")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=Path, default=POINTS)
    ap.add_argument("--out", type=Path, default=fmax_model.COEFFS_PATH)
    ap.add_argument("--check", action="store_true", help="evaluate the current coefficients; write nothing")
    ap.add_argument("--loo", action="store_true", help="also print leave-one-out errors")
    args = ap.parse_args()
    points = json.loads(args.points.read_text())["points"]
    current = json.loads(args.out.read_text()) if args.out.is_file() else {"families": {}}
    families: dict[str, Any] = {}
    for family in sorted({p["family"] for p in points}):
        mine = [p for p in points if p["family"] == family]
        if args.check:
            coeffs = current["families"][family]["coeffs"]
        else:
            coeffs = fit_family(mine, PRIOR[family])
        print(f"{family}: {len(mine)} points, coefficients (ns) {coeffs}")
        rows = report(mine, coeffs)
        worst = max(abs(r["error"]) for r in rows)
        print(f"{family}: max |error| {worst * 100:.1f} %, mean |error| "
              f"{sum(abs(r['error']) for r in rows) / len(rows) * 100:.1f} %")
        loo = None
        if args.loo and len(mine) > 2:
            errs = []
            for i, p in enumerate(mine):
                c_i = fit_family(mine[:i] + mine[i + 1:], PRIOR[family])
                pred = 1000.0 / predict(p, c_i)[0]
                errs.append((pred - p["fmax_mhz"]) / p["fmax_mhz"])
                print(f"  leave-one-out {p['spec']:<18} predicted {pred:7.2f}  {errs[-1] * 100:+6.1f} %")
            loo = round(max(abs(e) for e in errs), 4)
            print(f"{family}: leave-one-out max |error| {loo * 100:.1f} %")
        resources = current["families"].get(family, {}).get("resources") if args.check else fit_resources(mine)
        if resources:
            print(f"{family}: resources {resources}")
        families[family] = {"status": "fitted", "leave_one_out_max_abs_error": loo, "coeffs": coeffs, "points": len(mine),
                            "resources": resources,
                            "max_abs_error": round(worst, 4),
                            "tools": sorted({f"yosys {p.get('yosys_version')}, nextpnr {p.get('nextpnr_version')}"
                                             for p in mine}),
                            "fit": rows}
    for family, note in UNFITTED.items():
        families.setdefault(family, {"status": "unfitted", "note": note})
    if not args.check:
        doc = {"version": 1, "model": "fmax = 1000 / max over blocks and stages of delay_ns (bnn2hls/estimate/fmax_model.py)",
               "fitted_by": "benchmarks/fit_fmax.py", "points_file": "benchmarks/data/fmax_points.json",
               "families": families}
        args.out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
