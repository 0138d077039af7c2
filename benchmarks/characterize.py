"""Regenerate bnn2hls/data/cost_model.json: synthesize a sweep of synthetic layers with yosys
(synth_xilinx -family xc7) and fit the cost model's per-kind coefficients.

The sweep is a set of small synthetic networks (random weights, thresholds spread like
trained BatchNorm ones, the real border tables) covering MW, MH, PE, SIMD, input bits
(1/2/4/8), border classes, kernel sizes 1..5, strides, padding, max-pools, flattens and the
last (non-thresholded) layer. Each network is written as a compiled OUT (ir.json + rtl/) and
synthesized once with `bnn2hls.estimate.synth.synthesize(mode="network")`; the hierarchy gives every
block's own counts. They never overlap the zoo networks that benchmarks/estimator_fidelity.py
evaluates on.

    python benchmarks/characterize.py [--work DIR] [--jobs 2] [--only NAME ...]
    python benchmarks/characterize.py --refit fifo [--work DIR] [--jobs 2]

Synthesis results are cached under DIR/<net>/synth/, so a re-run only fits.
Writes bnn2hls/data/cost_model.json and DIR/characterize_rows.json (the fitted data).

`--refit fifo` re-measures one kind alone, after its RTL changed, and replaces only its
coefficients: every distinct FIFO of the sweep (WIDTH, DEPTH, as the sweep networks
instantiate them) is synthesized as its own module (the same bnn_fifo a network run keeps in
its hierarchy) and the fifo group is fitted on those rows.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bnn2hls.estimate import cost_model, synth
from bnn2hls import ir
from bnn2hls.backends import rtl as rtl_backend
from bnn2hls.hw.blocks import by_kind
from bnn2hls.models.synthetic import synthetic_network

ROOT = Path(__file__).resolve().parent.parent

# name: (input (H, W, C, bits), layers); layer specs:
#   ("conv", MH, k, stride, pad, PE, SIMD[, "alternating"])  ("pool", k, stride)  ("dense", MH, PE, SIMD)
#   ("avgpool", k, stride)  ("gap",) (sum pools)
# The last matrix layer of each network emits raw accumulators.
SWEEP: dict[str, tuple[tuple[int, int, int, int], list[tuple]]] = {
    "s_conv8b": ((16, 16, 3, 8), [("conv", 16, 3, 1, 1, 4, 3), ("conv", 24, 3, 2, 1, 8, 8), ("pool", 2, 2),
                                   ("dense", 10, 2, 48)]),
    "s_bin_odd": ((19, 17, 1, 1), [("conv", 8, 3, 2, 2, 1, 1), ("conv", 12, 4, 3, 1, 2, 4), ("conv", 10, 3, 1, 1, 5, 36),
                                    ("conv", 5, 3, 1, 0, 1, 2)]),
    "s_dense": ((1, 1, 256, 1), [("dense", 128, 16, 32), ("dense", 64, 8, 16), ("dense", 10, 10, 64)]),
    "s_dense_unit": ((1, 1, 128, 1), [("dense", 64, 1, 1), ("dense", 32, 2, 2), ("dense", 10, 1, 8)]),
    "s_4bit": ((10, 10, 3, 4), [("conv", 32, 5, 1, 2, 8, 15), ("conv", 16, 1, 1, 0, 16, 32), ("dense", 10, 2, 64)]),
    "s_2bit": ((8, 8, 2, 2), [("conv", 12, 3, 1, 0, 3, 2), ("pool", 3, 3), ("dense", 6, 6, 12)]),
    "s_wide": ((8, 8, 128, 1), [("conv", 256, 3, 1, 0, 4, 64), ("conv", 64, 3, 1, 0, 16, 32), ("dense", 10, 1, 16)]),
    "s_dense_big": ((1, 1, 784, 1), [("dense", 256, 16, 56), ("dense", 256, 64, 64), ("dense", 10, 5, 128)]),
    "s_pool": ((15, 15, 16, 1), [("conv", 32, 3, 1, 0, 4, 16), ("pool", 3, 2), ("conv", 16, 2, 2, 0, 16, 64),
                                  ("dense", 10, 10, 144)]),
    "s_alt": ((12, 12, 8, 1), [("conv", 16, 3, 1, 1, 2, 8, "alternating"), ("conv", 16, 3, 1, 1, 16, 72), ("pool", 2, 2),
                                ("dense", 10, 1, 1)]),
    "s_classes": ((9, 9, 4, 1), [("conv", 8, 5, 1, 2, 8, 20), ("conv", 8, 3, 2, 1, 1, 72), ("dense", 10, 2, 8)]),
    "s_first8b": ((32, 32, 3, 8), [("conv", 64, 3, 1, 0, 16, 27), ("conv", 32, 3, 2, 0, 8, 32), ("pool", 2, 2),
                                    ("dense", 64, 4, 56), ("dense", 10, 2, 16)]),
    "s_lines": ((30, 30, 64, 1), [("conv", 32, 3, 1, 0, 32, 64), ("pool", 2, 2), ("conv", 10, 3, 3, 0, 5, 96)]),
    "s_deep_rom": ((1, 1, 512, 1), [("dense", 512, 2, 8), ("dense", 128, 1, 32), ("dense", 16, 4, 4)]),
    "s_mid": ((6, 6, 32, 1), [("conv", 64, 3, 1, 1, 8, 16), ("conv", 64, 3, 1, 0, 4, 64), ("dense", 32, 8, 64),
                              ("dense", 10, 10, 32)]),
    "s_unit_dense": ((1, 1, 256, 1), [("dense", 256, 1, 1), ("dense", 128, 1, 2), ("dense", 10, 1, 1)]),
    "s_unit_conv": ((10, 10, 8, 1), [("conv", 16, 3, 1, 0, 1, 1), ("conv", 16, 3, 1, 1, 1, 1), ("dense", 10, 1, 4)]),
    # sum pools (average pooling): global of sign bits, of a last layer's popcounts, windowed
    # of sign bits and of multi-bit levels
    "s_gap": ((6, 6, 32, 1), [("conv", 32, 3, 1, 0, 8, 32), ("gap",), ("dense", 10, 2, 32)]),
    "s_gap_head": ((8, 8, 8, 1), [("conv", 10, 3, 1, 0, 2, 8), ("gap",)]),
    "s_avgpool": ((12, 12, 8, 1), [("conv", 16, 3, 1, 0, 4, 24), ("avgpool", 2, 2), ("dense", 10, 5, 20)]),
    "s_avgpool_mb": ((10, 10, 4, 2), [("conv", 12, 3, 1, 0, 3, 12, {"levels": 3}), ("avgpool", 3, 1),
                                      ("conv", 8, 3, 1, 0, 2, 12)]),
    "s_gap_wide": ((5, 5, 16, 1), [("conv", 64, 3, 1, 0, 8, 16), ("gap",), ("dense", 10, 2, 64)]),
    "s_avgpool_k3": ((9, 9, 4, 1), [("conv", 24, 3, 1, 0, 4, 12), ("avgpool", 3, 2), ("dense", 10, 2, 24)]),
    "s_bram_fifo": ((32, 32, 16, 1), [("conv", 32, 3, 1, 1, 8, 16), ("conv", 32, 3, 1, 1, 16, 32), ("pool", 4, 4),
                                       ("dense", 10, 2, 64)]),
    "s_mb_a": ((12, 12, 3, 8), [("conv", 16, 3, 1, 0, 2, 9), ("conv", 16, 3, 2, 0, 4, 48), ("dense", 10, 5, 8)]),
    "s_mb_b": ((8, 8, 4, 4), [("conv", 8, 1, 1, 0, 8, 4), ("conv", 16, 3, 1, 0, 16, 24), ("dense", 10, 1, 16)]),
    # fully unfolded first layers (PE = MH, SIMD = MW): constant weights, adders only
    "s_mb_c": ((12, 12, 3, 8), [("conv", 24, 3, 1, 1, 24, 27), ("conv", 16, 3, 2, 0, 4, 24), ("dense", 10, 2, 40)]),
    "s_mb_d": ((9, 9, 2, 4), [("conv", 12, 3, 1, 0, 12, 18), ("pool", 3, 3), ("dense", 10, 10, 48)]),
    "s_mb_e": ((8, 8, 3, 2), [("conv", 8, 5, 1, 2, 8, 75), ("conv", 8, 3, 2, 0, 2, 8), ("dense", 10, 5, 72)]),
    # the search's regime (bnn2hls search): fast MLPs whose weight tables are deep (100-250
    # words) and thousands of bits wide, so they stay in soft logic
    "s_rom_deep": ((1, 1, 784, 1), [("dense", 512, 16, 112), ("dense", 10, 1, 32)]),
    "s_rom_mid": ((1, 1, 784, 1), [("dense", 192, 4, 196), ("dense", 192, 8, 24), ("dense", 10, 1, 64)]),
    "s_rom_sq": ((1, 1, 256, 1), [("dense", 256, 8, 32), ("dense", 256, 4, 64), ("dense", 10, 2, 16)]),
    # multi-bit weights and multi-threshold activations (BNN-PYNQ W2A2 style: ternary weights
    # and activations; 4-bit ones; binary weights with 2-bit activations, as the MLPs)
    "s_w2a2_conv": ((12, 12, 3, 8), [("conv", 16, 3, 1, 0, 4, 9, {"w": 2, "levels": 3}),
                                      ("conv", 16, 3, 1, 0, 8, 16, {"w": 2, "levels": 3}), ("pool", 2, 2),
                                      ("dense", 10, 2, 32, {"w": 2})]),
    "s_w2a2_dense": ((1, 1, 256, 2), [("dense", 128, 8, 32, {"w": 2, "levels": 3}),
                                       ("dense", 64, 4, 64, {"w": 2, "levels": 3}), ("dense", 10, 2, 16, {"w": 2})]),
    "s_w1a2_mlp": ((1, 1, 392, 8), [("dense", 128, 8, 28, {"levels": 3}), ("dense", 128, 16, 32, {"levels": 3}),
                                     ("dense", 10, 2, 64)]),
    "s_w4a4": ((8, 8, 8, 4), [("conv", 16, 3, 1, 1, 4, 8, {"w": 4, "levels": 16, "offset": -8}),
                               ("conv", 16, 3, 2, 0, 2, 24, {"w": 4, "levels": 16, "offset": 0}),
                               ("dense", 10, 5, 16, {"w": 4})]),
    "s_w2a2_unit": ((6, 6, 4, 2), [("conv", 8, 3, 1, 0, 1, 1, {"w": 2, "levels": 3}),
                                    ("conv", 8, 3, 1, 0, 2, 4, {"w": 2, "levels": 4, "offset": 0}),
                                    ("dense", 10, 1, 8, {"w": 2})]),
    "s_w2a2_pool": ((8, 8, 8, 2), [("conv", 16, 3, 1, 1, 4, 12, {"w": 2, "levels": 3}), ("pool", 2, 2),
                                    ("dense", 10, 2, 32, {"w": 2})]),
}


def build_network(name: str, spec: tuple) -> ir.Network:
    """One sweep entry as a synthetic network (bnn2hls.models.synthetic; seeded by the name)."""
    return synthetic_network(name, *spec)


def write_out(net: ir.Network, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ir.save(net, out)
    rtl_backend.generate(net, out / "rtl")


def run_sweep(work: Path, names: list[str], jobs: int) -> list[dict]:
    """Synthesize each sweep network (cached) and return one row per block."""
    nets = {}
    for name in names:
        net = build_network(name, SWEEP[name])
        write_out(net, work / name)
        nets[name] = net

    def one(name: str) -> tuple[str, synth.SynthResult, float]:
        t = time.perf_counter()
        r = synth.synthesize(work / name, family="xc7", mode="network", jobs=1)
        return name, r, time.perf_counter() - t

    rows = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for name, result, _wall in pool.map(one, names):
            print(f"{name}: yosys {result.yosys_seconds:.0f} s{' (cached)' if result.cached else ''}, "
                  f"LUT {result.network.lut}, FF {result.network.ff}, BRAM18 {result.network.bram18}",
                  file=sys.stderr, flush=True)
            blocks = {b.name: b for b in cost_model.network_blocks(nets[name])}
            for inst, stage in result.stages.items():
                b = blocks[inst]
                rows.append({"net": name, "block": inst, "layer": b.layer.name, "module": b.module, "role": b.role,
                             "params": b.params, "tables": b.cost_tables(), "kind": cost_model.block_kind(b),
                             "synth": stage.counts.to_dict(), "memories": dict(stage.memories)})
    return rows


# Kinds fitted together: the three MVAU kinds share one datapath (their features differ:
# lanes vs lanes_mb, no thresholds for the last layer), and pooling gives the multi-bit and
# last-layer coefficients enough samples.
FIT_GROUPS = {"mvau": ("mvau_bin", "mvau_mb", "mvau_last"), "swg": ("swg",), "maxpool": ("maxpool",),
              "sumpool": ("sumpool",), "flatten": ("flatten",), "fifo": ("fifo",)}


def _features(r: dict) -> dict:
    return cost_model.features(r["module"], r["params"], r.get("tables")).to_dict()


def fit(rows: list[dict], groups: dict[str, tuple[str, ...]] | None = None) -> dict:
    """Non-negative least squares per group and target, rows weighted by 1/sqrt(y): between
    absolute error (big blocks decide a network's total) and relative error (small blocks
    still count). With 1/y, the search's 25k-LUT MLP layers came out 16 % high."""
    from scipy.optimize import nnls

    kinds: dict[str, dict] = {}
    report: dict[str, dict] = {}
    for group, members in (groups or FIT_GROUPS).items():
        sel = [r for r in rows if r["kind"] in members]
        if not sel:
            raise SystemExit(f"characterize: no sample of {group}")
        feats = [_features(r) for r in sel]
        coeffs: dict[str, dict] = {}
        report[group] = {"n": len(sel), "kinds": {k: sum(r["kind"] == k for r in sel) for k in members}}
        for target in ("lut", "ff"):
            names = sorted({k for f in feats for k in f[target]})
            x = np.array([[f[target].get(k, 0.0) for k in names] for f in feats])
            y = np.array([float(r["synth"][target]) for r in sel])
            wts = 1.0 / np.sqrt(np.maximum(y, 10.0))
            coef, _ = nnls(x * wts[:, None], y * wts)
            pred = x @ coef
            coeffs[target] = {k: round(float(c), 5) for k, c in zip(names, coef) if c != 0.0}
            err = np.abs(pred - y) / np.maximum(y, 1.0)
            report[group][f"{target}_mape"] = round(float(err.mean()) * 100, 1)
            report[group][f"{target}_max_err_pct"] = round(float(err.max()) * 100, 1)
        for kind in members:
            kinds[kind] = coeffs
        report[group]["bram18_exact"] = f"{sum(f['bram18'] == r['synth']['bram18'] for f, r in zip(feats, sel))}/{len(sel)}"
        report[group]["lutram_exact"] = f"{sum(f['lutram'] == r['synth']['lutram'] for f, r in zip(feats, sel))}/{len(sel)}"
    return {"kinds": kinds, "fit": report}


# The kinds `--refit` can re-measure alone: those whose module is a plain stream stage
# (s_* in, m_* out, WIDTH bits, no tables), so a wrapper wiring its ports to the top's is all
# a synthesis needs.
REFIT_KINDS = ("fifo",)


def stream_stage_unit(module: str, params: dict[str, int], rtl: dict[str, str]) -> synth.Unit:
    """A yosys run of one stream-stage module with `params`, its ports wired to the top's."""
    width = params["WIDTH"]
    name = "bench_" + "_".join(f"{k}{v}" for k, v in sorted(params.items()))
    plist = ", ".join(f".{k}({v})" for k, v in sorted(params.items()))
    wrapper = (f"module {name} (input logic clk, input logic rst_n,\n"
               f"    input logic [{width - 1}:0] s_tdata, input logic s_tvalid, output logic s_tready,\n"
               f"    output logic [{width - 1}:0] m_tdata, output logic m_tvalid, input logic m_tready);\n"
               f"    {module} #({plist}) u_block (.*);\n"
               "endmodule\n")
    return synth.Unit(name, name, {**rtl, f"{name}.sv": wrapper}, {}, {"u_block": "u_block"})


def refit_kind(group: str, work: Path, jobs: int, out: Path) -> int:
    """Re-measure and re-fit one group (module docstring) into the existing coefficient file."""
    stage_kind = by_kind(group)
    module = stage_kind.module
    rtl_dir = ROOT / "hls_lib" / "rtl"
    rtl = {f: synth.yosys_compatible((rtl_dir / f).read_text()) for f in stage_kind.rtl_files}
    seen: dict[str, dict[str, int]] = {}
    for name, spec in SWEEP.items():
        for b in cost_model.network_blocks(build_network(name, spec)):
            if b.module == module:
                seen[json.dumps(b.params, sort_keys=True)] = dict(b.params)
    units = [stream_stage_unit(module, p, rtl) for p in seen.values()]
    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda u: synth.run_unit(u, work / "refit" / group, "xc7"), units))
    rows = [{"net": u.name, "block": "u_block", "layer": "", "module": module, "role": group, "params": p,
             "tables": {}, "kind": group, "synth": r.stages["u_block"].counts.to_dict(), "memories": dict(r.stages["u_block"].memories)}
            for u, p, r in zip(units, seen.values(), results)]
    (work / f"refit_{group}_rows.json").write_text(json.dumps(rows, indent=1, sort_keys=True))
    fitted = fit(rows, groups={group: FIT_GROUPS[group]})
    doc = json.loads(out.read_text())
    for kind in FIT_GROUPS[group]:
        doc["kinds"][kind] = fitted["kinds"][kind]
    doc["fit"][group] = {**fitted["fit"][group], "refit": f"{len(rows)} distinct {module} of the sweep, each synthesized alone"}
    doc[f"note_{group}"] = (f"{group}: refitted alone by `benchmarks/characterize.py --refit {group}` on the {len(rows)} "
                            f"distinct {module} instances of the sweep, each synthesized as its own module")
    out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(json.dumps({"group": group, "samples": len(rows), "fit": fitted["fit"][group],
                      "seconds": round(time.perf_counter() - t, 1), "out": str(out)}))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "characterize")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--out", type=Path, default=cost_model.COEFFS_PATH)
    ap.add_argument("--refit", choices=REFIT_KINDS, default=None,
                    help="re-measure one kind's blocks alone and replace only its coefficients")
    args = ap.parse_args(argv)
    if args.refit:
        args.work.mkdir(parents=True, exist_ok=True)
        return refit_kind(args.refit, args.work, args.jobs, args.out)
    names = args.only or list(SWEEP)
    args.work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    rows = run_sweep(args.work, names, args.jobs)
    (args.work / "characterize_rows.json").write_text(json.dumps(rows, indent=1, sort_keys=True))
    layers = {(r["net"], r["layer"]) for r in rows}
    fitted = fit(rows)
    doc = {
        "version": 1,
        "family": "xc7",
        "yosys": synth.yosys_version(),
        "synth_script": synth.FAMILIES["xc7"],
        "samples": {"networks": len(names), "layers": len(layers), "blocks": len(rows)},
        "note": "Generated by benchmarks/characterize.py; LUT/FF = sum(coef * feature) per block kind "
                "(features: bnn2hls.estimate.cost_model.block_features). BRAM18/LUTRAM come from map_memory, not from here.",
        **fitted,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(json.dumps(doc["fit"], indent=1), file=sys.stderr)
    print(json.dumps({"networks": len(names), "layers": len(layers), "blocks": len(rows),
                      "seconds": round(time.perf_counter() - t, 1), "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
