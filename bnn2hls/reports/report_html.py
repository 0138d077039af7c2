"""OUT/report.html: report.json as a page with plots (matplotlib PNGs next to it).

`write_html(report, out)` takes report.json's dict (`report.build_report`, plus "synth" after
`report --synth`, "pnr" after `report --pnr`) and writes report.html and report_*.png into OUT. The fit lines and the
budget plot appear when the report names a board. Every link is relative, so the page
renders from OUT/ (or a copy of it) with no server.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ..estimate.fit import TIGHT, Usage, resources, usage

PNG_PREFIX = "report_"


# --------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------
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


def _budget_plot(path: Path, usages: list[tuple[str, Usage]], res: dict[str, float], title: str) -> None:
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


def _pnr_section(p: dict[str, Any]) -> str:
    """The place-and-route results (`report --pnr`) as a heading, a table and the critical path."""
    esc = html.escape
    u, cp = p["utilisation"], p["critical_path"]
    rows = [("board", f"{p['board']} ({p['device']})"), ("seed", str(p["seed"])),
            ("clock constraint", f"{p['clock_mhz']:g} MHz"), ("fmax", f"{p['fmax_mhz']:.1f} MHz"),
            ("meets the clock", "yes" if p["meets_clock"] else "no"),
            ("frames / s at fmax", f"{p['fps_at_fmax']:,.0f}"),
            *((("predicted fmax", f"{p['predicted_fmax_mhz']:.1f} MHz ({p['predicted_critical']}), "
                f"{p['fmax_prediction_error'] * 100:+.1f} %"),) if p.get("predicted_fmax_mhz") is not None else ()),
            ("LUT4", f"{u['lut4']:,}"), ("FF", f"{u['ff']:,}"), ("carry", f"{u['carry']:,}"),
            ("block RAM", f"{u['bram']:,}"), ("DSP", f"{u['dsp']:,}")]
    rows += [(f"{k} (placed)", f"{used:,} / {avail:,}") for k, (used, avail) in u["device"].items()]
    table = "<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows) + "</table>"
    path = ""
    if cp:
        path = (f"<p>Critical path: {esc(cp['from'])} &rarr; {esc(cp['to'])}, {cp['total_ns']:.2f} ns "
                f"(logic {cp['logic_ns']:.2f} ns, routing {cp['routing_ns']:.2f} ns), through "
                f"{esc(' > '.join(cp['through']))}.</p>")
    return (f"<h2>Place and route on {esc(p['board'])}</h2>{table}{path}"
            "<p>yosys + nextpnr on the open toolchain: a real routed netlist on this device family; "
            "Xilinx timing needs Vivado (the Zynq projects' scripts report it).</p>")


def write_html(report: dict[str, Any], out: Path) -> Path:
    """Write OUT/report.html (+ report_*.png next to it); returns the page's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = report["layer_order"]
    layers = [report["layers"][n] for n in names]
    net = report["network"]
    synth = report.get("synth")
    images: list[tuple[str, str]] = []

    def plot(stem: str, key: str, est_key: str, ylabel: str, title: str, alt: str) -> None:
        series = [("estimate", [float(e[est_key]) for e in layers])]
        if synth:
            series.append(("yosys", [float(synth["layers"][n][key]) for n in names]))
        _bar_plot(out / f"{PNG_PREFIX}{stem}.png", names, series, ylabel, title)
        images.append((f"{PNG_PREFIX}{stem}.png", alt))

    plot("lut", "lut", "est_lut", "LUTs", "Logic LUTs per layer", "LUTs per layer")
    plot("bram", "bram18", "est_bram18", "BRAM18", "Block RAM (18 Kbit units) per layer", "BRAM18 per layer")
    _bar_plot(out / f"{PNG_PREFIX}cycles.png", names, [("cycles per frame", [float(e["est_cycles_per_frame"]) for e in layers])],
              "cycles / frame", "Interval per layer (bottleneck outlined)", highlight=net["bottleneck"])
    images.append((f"{PNG_PREFIX}cycles.png", "cycles per layer"))
    board = report.get("board")
    if board:
        usages = [("estimate", usage(report, board)[0])] + ([("yosys", usage(synth)[0])] if synth else [])
        _budget_plot(out / f"{PNG_PREFIX}budget.png", usages, resources(board), f"Use of {board['name']}")
        images.append((f"{PNG_PREFIX}budget.png", "device budget"))

    esc = html.escape
    title = f"bnn2hls report: {net['name']}"
    summary = []
    for key, label in (("est_cycles_per_frame", "cycles / frame"), ("est_fps", "frames / s"), ("clock_mhz", "clock MHz"),
                       ("bottleneck", "bottleneck"), ("macs", "MACs / frame"), ("est_lut", "est. LUT (logic)"),
                       ("est_lutram", "est. LUTRAM"), ("est_ff", "est. FF"), ("est_bram18", "est. BRAM18")):
        v = net[key]
        summary.append(f"<tr><th>{esc(label)}</th><td>{esc(f'{v:,.0f}' if isinstance(v, (int, float)) else str(v))}</td></tr>")
    if "clock_source" in net:  # which clock the frame rate assumes (estimate/fmax_model.py)
        from ..estimate.fmax_model import clock_phrase

        summary.append(f"<tr><th>clock used</th><td>{esc(clock_phrase(net))}</td></tr>")
    if synth:
        for key in ("lut", "lutram", "ff", "bram18", "dsp", "carry"):
            summary.append(f"<tr><th>yosys {esc(key.upper())}</th><td>{synth[key]:,}</td></tr>")
    cols = ["layer", "kind", "PE", "SIMD", "cycles", "est LUT", "est LUTRAM", "est FF", "est BRAM18"]
    if synth:
        cols += ["yosys LUT", "yosys LUTRAM", "yosys FF", "yosys BRAM18"]
    body = []
    for name, e in zip(names, layers):
        cells = [name, e["kind"], e.get("pe", ""), e.get("simd", ""), f"{e['est_cycles_per_frame']:,}"]
        cells += [f"{e[k]:,}" for k in ("est_lut", "est_lutram", "est_ff", "est_bram18")]
        if synth:
            cells += [f"{synth['layers'][name][k]:,}" for k in ("lut", "lutram", "ff", "bram18")]
        body.append("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in cells) + "</tr>")
    fit_lines = report["fit"]["lines"] if "fit" in report else []
    pnr_html = _pnr_section(report["pnr"]) if "pnr" in report else ""
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
{('<h2>Fit on ' + esc(board['name']) + '</h2><ul class="fit">' + ''.join(f'<li>{esc(line)}</li>' for line in fit_lines) + '</ul>') if board else ''}
{pnr_html}
<h2>Plots</h2>
{''.join(f'<img src="{esc(src)}" alt="{esc(alt)}">' for src, alt in images)}
<h2>Layers</h2>
<table><tr>{''.join(f'<th>{esc(c)}</th>' for c in cols)}</tr>{''.join(body)}</table>
<p>LUT columns count logic LUTs; LUTRAM counts LUT sites used as distributed RAM (both occupy the device's LUT budget).
Estimates: bnn2hls.estimate.cost_model; yosys: synth_xilinx (bnn2hls.estimate.synth).</p>
</body></html>
"""
    path = out / "report.html"
    path.write_text(page)
    return path
