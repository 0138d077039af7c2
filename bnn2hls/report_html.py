"""OUT/report.html: the cost report as a page with plots (matplotlib PNGs next to it).

`write_html(report, out, board)` takes report.json's dict, optionally extended with
- per-layer and network estimates (`est_lut`, `est_ff`, `est_bram18`, `est_lutram`) either
  inline in report["layers"][name] / report["network"] or as report["estimate"], the
  output of `bnn2hls.cost_model.estimate`;
- yosys counts as report["synth"], the output of `bnn2hls.synth.synthesize`.
It writes report.html and report_*.png into OUT; every link is relative, so the page renders
from OUT/ (or a copy of it) with no server.

"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from .fit import TIGHT, board_dict, fit_check, resources, usage

PNG_PREFIX = "report_"


# --------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------
def _layer_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    order = report.get("layer_order") or list(report.get("layers", {}))
    est_layers = (report.get("estimate") or {}).get("layers", {})
    syn_layers = (report.get("synth") or {}).get("layers", {})
    rows = []
    for name in order:
        entry = report.get("layers", {}).get(name, {})
        est = {**est_layers.get(name, {}), **{k: v for k, v in entry.items() if k.startswith("est_")}}
        cycles = entry.get("est_cycles_per_frame", est.get("est_cycles"))
        if isinstance(cycles, dict):
            cycles = cycles.get("interval")
        if cycles is None and isinstance(entry.get("est_cycles"), dict):
            cycles = entry["est_cycles"].get("interval")
        syn = syn_layers.get(name)
        rows.append({"name": name, "kind": entry.get("kind", ""), "pe": entry.get("pe"), "simd": entry.get("simd"),
                     "cycles": cycles, "est": est, "synth": syn})
    return rows


def _bar_plot(path: Path, names: list[str], series: list[tuple[str, list[float]]], ylabel: str, title: str,
              highlight: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(names) + 2), 3.4), dpi=100)
    x = np.arange(len(names))
    width = 0.8 / max(1, len(series))
    for i, (label, values) in enumerate(series):
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label)
        if highlight is not None and highlight in names:
            bars[names.index(highlight)].set_edgecolor("red")
            bars[names.index(highlight)].set_linewidth(2)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def _budget_plot(path: Path, usages: list[tuple[str, dict[str, float]]], res: dict[str, float], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = [k for k in ("lut", "ff", "bram18", "dsp") if res.get(k, 0) > 0]
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    x = np.arange(len(keys))
    width = 0.8 / max(1, len(usages))
    for i, (label, u) in enumerate(usages):
        vals = [100.0 * u.get(k, 0.0) / res[k] for k in keys]
        ax.bar(x + (i - (len(usages) - 1) / 2) * width, vals, width, label=label)
    ax.axhline(100, color="red", linewidth=1)
    ax.axhline(TIGHT * 100, color="orange", linewidth=1, linestyle="--")
    ax.set_xticks(x)
    ax.set_xticklabels([k.upper() for k in keys])
    ax.set_ylabel("% of device")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def write_html(report: dict[str, Any], out: Path, board: dict | None = None) -> Path:
    """Write OUT/report.html (+ report_*.png next to it); returns the page's path."""
    board = board_dict(board) or None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = _layer_rows(report)
    names = [r["name"] for r in rows]
    net = report.get("network", {})
    have_synth = any(r["synth"] for r in rows)
    have_est = any("est_lut" in r["est"] for r in rows)
    images: list[tuple[str, str]] = []

    def val(r: dict, src: str, key: str) -> float:
        d = r[src] or {}
        return float(d.get(key, 0) or 0)

    if have_est or have_synth:
        series = []
        if have_est:
            series.append(("estimate (logic)", [val(r, "est", "est_lut") for r in rows]))
        if have_synth:
            series.append(("yosys (logic)", [val(r, "synth", "lut") for r in rows]))
        _bar_plot(out / f"{PNG_PREFIX}lut.png", names, series, "LUTs", "LUTs per layer")
        images.append((f"{PNG_PREFIX}lut.png", "LUTs per layer"))
        series = []
        if have_est:
            series.append(("estimate", [val(r, "est", "est_bram18") for r in rows]))
        if have_synth:
            series.append(("yosys", [val(r, "synth", "bram18") for r in rows]))
        _bar_plot(out / f"{PNG_PREFIX}bram.png", names, series, "BRAM18", "Block RAM (18 Kbit units) per layer")
        images.append((f"{PNG_PREFIX}bram.png", "BRAM18 per layer"))
    cycles = [float(r["cycles"] or 0) for r in rows]
    if any(cycles):
        _bar_plot(out / f"{PNG_PREFIX}cycles.png", names, [("cycles per frame", cycles)], "cycles / frame",
                  "Interval per layer (bottleneck outlined)", highlight=net.get("bottleneck"))
        images.append((f"{PNG_PREFIX}cycles.png", "cycles per layer"))

    res = resources(board)
    checks: list[str] = []
    if res:
        usages = []
        est_doc = report.get("estimate") or ({"network": net, "layers": report.get("layers", {})} if have_est else None)
        if est_doc is not None and ("est_lut" in est_doc.get("network", {}) or have_est):
            usages.append(("estimate", usage(est_doc)[0]))
        if have_synth:
            usages.append(("yosys", usage(report["synth"])[0]))
        if usages:
            bname = board.get("name", "board") if board else "board"
            _budget_plot(out / f"{PNG_PREFIX}budget.png", usages, res, f"Use of {bname}")
            images.append((f"{PNG_PREFIX}budget.png", "device budget"))
            checks = fit_check(report["synth"] if have_synth else est_doc, board or {})

    esc = html.escape
    title = f"bnn2hls report: {net.get('name', '')}"
    summary = []
    for key, label in (("est_cycles_per_frame", "cycles / frame"), ("est_fps", "frames / s"), ("clock_mhz", "clock MHz"),
                       ("bottleneck", "bottleneck"), ("macs", "MACs / frame"), ("est_lut", "est. LUT (logic)"),
                       ("est_lutram", "est. LUTRAM"), ("est_ff", "est. FF"), ("est_bram18", "est. BRAM18")):
        v = net.get(key, (report.get("estimate") or {}).get("network", {}).get(key))
        if v is not None:
            summary.append(f"<tr><th>{esc(label)}</th><td>{esc(f'{v:,.0f}' if isinstance(v, (int, float)) else str(v))}</td></tr>")
    if have_synth:
        s = report["synth"]["network"]
        for key in ("lut", "lutram", "ff", "bram18", "dsp", "carry"):
            summary.append(f"<tr><th>yosys {esc(key.upper())}</th><td>{s.get(key, 0):,}</td></tr>")
    cols = ["layer", "kind", "PE", "SIMD", "cycles"]
    if have_est:
        cols += ["est LUT", "est LUTRAM", "est FF", "est BRAM18"]
    if have_synth:
        cols += ["yosys LUT", "yosys LUTRAM", "yosys FF", "yosys BRAM18"]
    body = []
    for r in rows:
        cells = [r["name"], r["kind"], r["pe"] if r["pe"] is not None else "", r["simd"] if r["simd"] is not None else "",
                 f"{int(r['cycles']):,}" if r["cycles"] is not None else ""]
        if have_est:
            cells += [f"{val(r, 'est', k):,.0f}" for k in ("est_lut", "est_lutram", "est_ff", "est_bram18")]
        if have_synth:
            cells += [f"{val(r, 'synth', k):,.0f}" for k in ("lut", "lutram", "ff", "bram18")]
        body.append("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in cells) + "</tr>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }}
th, td {{ border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: right; }}
th {{ background: #eee; }} td:first-child, th:first-child {{ text-align: left; }}
img {{ max-width: 100%; margin: 0.4em 0; display: block; }}
.fit li {{ margin: 0.15em 0; }}
</style></head><body>
<h1>{esc(title)}</h1>
<table>{''.join(summary)}</table>
{('<h2>Fit on ' + esc(board.get('name', 'board')) + '</h2><ul class="fit">' + ''.join(f'<li>{esc(line)}</li>' for line in checks) + '</ul>') if checks and board else ''}
<h2>Plots</h2>
{''.join(f'<img src="{esc(src)}" alt="{esc(alt)}">' for src, alt in images)}
<h2>Layers</h2>
<table><tr>{''.join(f'<th>{esc(c)}</th>' for c in cols)}</tr>{''.join(body)}</table>
<p>LUT columns count logic LUTs; LUTRAM counts LUT sites used as distributed RAM (both occupy the device's LUT budget).
Estimates: bnn2hls.cost_model; yosys: synth_xilinx (bnn2hls.synth).</p>
</body></html>
"""
    path = out / "report.html"
    path.write_text(page)
    return path
