"""Does a design fit its board, and which layers use the most? Plus the folding that respects
a board's budget.

`usage(doc)` reads resource use from either source: a `cost_model.estimate` output (or a
report.json, whose layers carry the same `est_*` fields) or a `synth.synthesize` output (yosys
counts). `fit_check(doc, board)` turns it into plain lines for the terminal and the HTML
report. `fold_within_budget` is `--target-fps` with a board: the cheapest folding that reaches
the frame rate, refused with the best reachable rate when even that does not fit.
"""
from __future__ import annotations

import math
from typing import Any

from .cost_model import estimate
from .errors import UserError
from .ir import Network
from .passes import estimate_cycles, fold_parallelism

TIGHT = 0.85  # utilization above which placement and routing often fail


# --------------------------------------------------------------------------------------
def board_dict(board: Any) -> dict[str, Any]:
    """A boards/*.json dict, a bnn2hls.boards.Board, or None."""
    if board is None:
        return {}
    if hasattr(board, "to_dict"):
        return board.to_dict()
    return dict(board)


def resources(board: Any) -> dict[str, float]:
    board = board_dict(board)
    if not board:
        return {}
    res = board.get("resources", board)
    return {k: float(v) for k, v in res.items() if isinstance(v, (int, float))}


def usage(doc: dict[str, Any]) -> tuple[dict[str, float], dict[str, dict[str, float]], str]:
    """(network usage, per-layer usage, source) from estimates (a `cost_model.estimate`
    output or a report.json, whose entries carry the same `est_*` fields) or yosys counts (a
    `synth.synthesize` output, or report.json's "synth"). Usage keys: lut (logic + LUTRAM
    sites), lut_logic, lutram, ff, bram18, dsp."""

    def norm(entry: dict[str, Any]) -> dict[str, float]:
        if "lut" in entry:  # yosys counts
            return {"lut": float(entry["lut"] + entry.get("lutram", 0) + entry.get("srl", 0)),
                    "lut_logic": float(entry["lut"]), "lutram": float(entry.get("lutram", 0)),
                    "ff": float(entry.get("ff", 0)), "bram18": float(entry.get("bram18", 0)), "dsp": float(entry.get("dsp", 0))}
        return {"lut": float(entry["est_lut_total"]), "lut_logic": float(entry["est_lut"]),
                "lutram": float(entry["est_lutram"]), "ff": float(entry["est_ff"]), "bram18": float(entry["est_bram18"]),
                "dsp": 0.0}  # the Verilog backend instantiates no DSPs

    source = "yosys" if "lut" in doc["network"] else "estimate"
    return norm(doc["network"]), {name: norm(e) for name, e in doc["layers"].items()}, source


def _fmt(x: float) -> str:
    return f"{int(round(x)):,}"


def fit_check(estimate_or_synth: dict[str, Any], board: dict[str, Any]) -> list[str]:
    """Human-readable lines: per resource use against the board's budget, whether the design
    fits, and which layers dominate LUT and BRAM. `board`: a boards/*.json dict (or a
    bnn2hls.boards.Board); LUT use counts LUTRAM sites too."""
    board = board_dict(board)
    net, layers, source = usage(estimate_or_synth)
    res = resources(board)
    name = board.get("name", "the board") if isinstance(board, dict) else "the board"
    part = f" ({board['part']})" if isinstance(board, dict) and board.get("part") else ""
    lines: list[str] = []
    over, tight = [], []
    labels = {"lut": "LUT", "ff": "FF", "bram18": "BRAM18", "dsp": "DSP"}
    for key, label in labels.items():
        if key not in res:
            continue
        used, avail = net.get(key, 0.0), res[key]
        if avail <= 0:
            share = float("inf") if used > 0 else 0.0
        else:
            share = used / avail
        detail = ""
        if key == "lut" and net.get("lutram"):
            detail = f" ({_fmt(net['lut_logic'])} logic + {_fmt(net['lutram'])} as distributed RAM)"
        pct = "n/a" if share == float("inf") else f"{share * 100:.0f} %"
        status = "over budget" if used > avail else ("tight" if share > TIGHT else "ok")
        lines.append(f"{label}: {_fmt(used)} of {_fmt(avail)}{detail} = {pct} -- {status}")
        if used > avail:
            over.append(f"{label} by {_fmt(used - avail)}")
        elif share > TIGHT:
            tight.append(label)
    if over:
        lines.insert(0, f"Does NOT fit {name}{part} ({source}): over budget in {', '.join(over)}.")
    elif tight:
        lines.insert(0, f"Fits {name}{part} ({source}), but {', '.join(tight)} above {TIGHT * 100:.0f} % "
                        "may not place and route.")
    else:
        lines.insert(0, f"Fits {name}{part} ({source}).")
    for key, label in (("lut", "LUT"), ("bram18", "BRAM18")):
        total = sum(u[key] for u in layers.values())
        if total <= 0:
            continue
        ranked = sorted(layers.items(), key=lambda kv: -kv[1][key])
        top, acc = [], 0.0
        for lname, u in ranked:
            if u[key] <= 0:
                break
            top.append(f"{lname} {u[key] / total * 100:.0f} %")
            acc += u[key]
            if acc >= 0.6 * total or len(top) == 3:
                break
        lines.append(f"{label} is dominated by {', '.join(top)} (of {_fmt(total)}).")
    return lines


BUDGET_KEYS = ("lut", "ff", "bram18", "dsp")  # what the Verilog backend can use up


def fits(estimate_or_synth: dict[str, Any], board: Any) -> bool:
    used, _, _ = usage(estimate_or_synth)
    res = resources(board)
    return all(used.get(k, 0.0) <= res[k] for k in BUDGET_KEYS if k in res)


def _fold(net: Network, target_cycles: int) -> tuple[Network, dict[str, Any]]:
    folded = fold_parallelism(net, target_cycles)
    return folded, estimate(folded)


def fastest_fitting_folding(net: Network, board: Any) -> tuple[Network, dict[str, Any]] | None:
    """The fastest folding (per `fold_parallelism`'s cheapest-per-target rule) whose estimate
    fits the board, or None when even the fully folded network (PE = SIMD = 1) does not.

    Binary search over the target interval: a looser target never needs more lanes, so
    resource use falls (up to the cost model's small non-monotonic wiggles) as it grows."""
    slowest = estimate_cycles(_fold(net, 1 << 62)[0])["est_cycles_per_frame"]
    folded, est = _fold(net, slowest)
    if not fits(est, board):
        return None
    lo, hi = 1, slowest  # invariant: target hi fits
    best = (folded, est)
    while lo < hi:
        mid = (lo + hi) // 2
        cand = _fold(net, mid)
        if fits(cand[1], board):
            hi, best = mid, cand
        else:
            lo = mid + 1
    return best


def fold_within_budget(net: Network, target_fps: float, clock_mhz: float, board: Any) -> Network:
    """`--target-fps` on a board: the cheapest folding reaching target_fps, provided its
    estimate fits the board; otherwise a UserError saying what it would need and the best
    frame rate that does fit."""
    if not target_fps > 0:
        raise UserError("--target-fps must be positive")
    folded, est = _fold(net, int(clock_mhz * 1e6 // target_fps))
    if fits(est, board):
        return folded
    b = board_dict(board)
    need = usage(est)[0]
    res = resources(board)
    over = ", ".join(f"{need[k]:,.0f} {k.upper()} of {res[k]:,.0f}" for k in BUDGET_KEYS if k in res and need.get(k, 0) > res[k])
    best = fastest_fitting_folding(net, board)
    if best is None:
        reach = "even the fully folded network (PE = SIMD = 1) does not fit"
    else:
        # rounded down, so asking for exactly this rate gives that folding
        fps = math.floor(clock_mhz * 1e6 / estimate_cycles(best[0])["est_cycles_per_frame"])
        reach = f"the fastest folding that fits reaches {fps:,} frames/s"
    raise UserError(f"--target-fps {target_fps:g}: the folding that reaches it needs {over} on {b.get('name', 'the board')}; "
                    f"{reach}")
