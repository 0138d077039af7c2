"""Does a design fit its board, and which layers use the most? Plus the folding that respects
a board's budget.

`usage(source, board)` reads resource use (a `Usage`) from either source: a
`cost_model.estimate` result (`NetworkEstimate`), a `synth.synthesize` result (`SynthResult`,
yosys counts), or report.json's dict (its `est_*` fields, or its "synth" section). The estimate
counts xc7 LUT6s; on a LUT4 board (ECP5, iCE40) it is scaled into the board's logic cells by
ratios fitted to nextpnr runs (`fmax_model.resource_scale`), so a budget check compares like
with like. `fit_check(source, board)` turns it into plain lines for the terminal and the HTML
report; `check` gives the whole `FitResult`. `fold_within_budget` is `--target-fps` with a
board: the cheapest folding that reaches the frame rate, refused with the best reachable rate
when even that does not fit.

Frame rates here assume the effective clock (`fmax_model.effective_clock`): the lower of the
board's clock and the predicted fmax of the folded design on the board's family;
`fold_for_rate` chooses the folding at that clock.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Union

from . import fmax_model
from .cost_model import NetworkEstimate, Resources, estimate
from ..errors import UserError
from ..ir import Network
from ..hw.folding import estimate_cycles, fold_parallelism
from .synth import SynthCounts, SynthResult

TIGHT = 0.85  # utilization above which placement and routing often fail
# The share of a board a folding chosen *to be routed* may take by its estimate (benchmarks/
# timing.py's "largest CNV_1W1A that fits"): measured on ulx3s-85f with nextpnr 0.11 (router1,
# 2 cores), foldings estimated at 83 % and 85 % of the logic cells placed at 59 and 69 MHz
# and router1 had not converged after 20 minutes; foldings chosen at 70 % (placed in 60 % and
# 62 % of the logic cells) routed in 35 to 37 minutes at 103.1 and 100.6 MHz.
ROUTABLE = 0.70


# --------------------------------------------------------------------------------------
def board_dict(board: Any) -> dict[str, Any]:
    """A boards/*.json dict, a bnn2hls.hw.boards.Board, or None."""
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


@dataclass(frozen=True)
class Usage:
    """Resource use against a board's budget: `lut` (logic + LUTRAM sites, + SRLs for yosys
    counts), `lut_logic`, `lutram`, `ff`, `bram18`, `dsp`."""

    lut: float = 0.0
    lut_logic: float = 0.0
    lutram: float = 0.0
    ff: float = 0.0
    bram18: float = 0.0
    dsp: float = 0.0

    def get(self, key: str, default: float = 0.0) -> float:
        """The use of resource `key` (a board resource name), `default` for one we do not count."""
        return float(getattr(self, key)) if key in USAGE_KEYS else default

    def to_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in USAGE_KEYS}

    @classmethod
    def of_estimate(cls, r: Resources, scale: fmax_model.ResourceScale | None = None) -> Usage:
        """The cost model's figures, in a LUT4 fabric's logic cells, flip-flops and block RAMs
        with `scale` (block RAMs as synth_ecp5 maps the memories; iCE40 counts its 4-kbit blocks
        in 18-kbit equivalents, so the ECP5 count stands for it too)."""
        if scale is None:
            lut, ff, bram18 = 1.0, 1.0, r.bram18
        else:
            lut, ff, bram18 = scale.lut, scale.ff, r.bram18_ecp5
        return cls(lut=lut * r.lut_total, lut_logic=lut * r.lut, lutram=lut * r.lutram, ff=ff * r.ff,
                   bram18=float(bram18), dsp=0.0)  # the Verilog backend instantiates no DSPs

    @classmethod
    def of_counts(cls, c: SynthCounts) -> Usage:
        return cls(lut=float(c.lut + c.lutram + c.srl), lut_logic=float(c.lut), lutram=float(c.lutram),
                   ff=float(c.ff), bram18=float(c.bram18), dsp=float(c.dsp))


USAGE_KEYS = ("lut", "lut_logic", "lutram", "ff", "bram18", "dsp")

Source = Union[NetworkEstimate, SynthResult, dict[str, Any]]


def estimate_scale(board: Any) -> fmax_model.ResourceScale | None:
    """How an estimate translates to `board`'s fabric (None: the cost model's xc7 units)."""
    return fmax_model.resource_scale(board_family(board)) if board_dict(board) else None


def usage(source: Source, board: Any = None) -> tuple[Usage, dict[str, Usage], str]:
    """(network usage, per-layer usage, "estimate" | "yosys") of a `NetworkEstimate`, a
    `SynthResult`, or report.json's dict: the report itself (its `est_*` fields) or its
    "synth" section (yosys counts). An estimate is in `board`'s fabric's units (its LUT4 sites
    on a LUT4 board: `estimate_scale`); yosys counts are the synthesized family's own."""
    scale = estimate_scale(board)
    if isinstance(source, NetworkEstimate):
        return (Usage.of_estimate(source.resources, scale),
                {name: Usage.of_estimate(e.resources, scale) for name, e in source.layers.items()}, "estimate")
    if isinstance(source, SynthResult):
        return (Usage.of_counts(source.network),
                {name: Usage.of_counts(c) for name, c in source.layers.items()}, "yosys")
    if "lut" in source["network"]:  # report.json's "synth"
        return (Usage.of_counts(SynthCounts.from_dict(source["network"])),
                {name: Usage.of_counts(SynthCounts.from_dict(e)) for name, e in source["layers"].items()}, "yosys")
    return (Usage.of_estimate(Resources.from_dict(source["network"]), scale),
            {name: Usage.of_estimate(Resources.from_dict(e), scale) for name, e in source["layers"].items()},
            "estimate")


@dataclass(frozen=True)
class FitResult:
    """Whether a design fits a board, by which `source` ("estimate" | "yosys"), and the
    human-readable `lines` of `fit_check`. report.json's "fit" is its `to_dict`."""

    fits: bool
    source: str
    lines: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"fits": self.fits, "source": self.source, "lines": list(self.lines)}


def check(source: Source, board: Any) -> FitResult:
    """`fits`, the source of the numbers and `fit_check`'s lines in one."""
    return FitResult(fits=fits(source, board), source=usage(source, board)[2], lines=fit_check(source, board))


def _fmt(x: float) -> str:
    return f"{int(round(x)):,}"


def fit_check(estimate_or_synth: Source, board: Any) -> list[str]:
    """Human-readable lines: per resource use against the board's budget, whether the design
    fits, and which layers dominate LUT and BRAM. `board`: a boards/*.json dict (or a
    bnn2hls.hw.boards.Board); LUT use counts LUTRAM sites too."""
    board = board_dict(board)
    net, layers, source = usage(estimate_or_synth, board)
    res = resources(board)
    name = board.get("name", "the board") if isinstance(board, dict) else "the board"
    part = f" ({board['part']})" if isinstance(board, dict) and board.get("part") else ""
    lines: list[str] = []
    over, tight = [], []
    labels = {"lut": "LUT", "ff": "FF", "bram18": "BRAM18", "dsp": "DSP"}
    for key, label in labels.items():
        if key not in res:
            continue
        used, avail = net.get(key), res[key]
        if avail <= 0:
            share = float("inf") if used > 0 else 0.0
        else:
            share = used / avail
        detail = ""
        if key == "lut" and net.lutram:
            detail = f" ({_fmt(net.lut_logic)} logic + {_fmt(net.lutram)} as distributed RAM)"
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
    scale = estimate_scale(board)
    if source == "estimate" and scale is not None:
        lines.insert(1, f"Estimate in {scale.phrase()}.")
    for key, label in (("lut", "LUT"), ("bram18", "BRAM18")):
        total = sum(u.get(key) for u in layers.values())
        if total <= 0:
            continue
        ranked = sorted(layers.items(), key=lambda kv: -kv[1].get(key))
        top, acc = [], 0.0
        for lname, u in ranked:
            if u.get(key) <= 0:
                break
            top.append(f"{lname} {u.get(key) / total * 100:.0f} %")
            acc += u.get(key)
            if acc >= 0.6 * total or len(top) == 3:
                break
        lines.append(f"{label} is dominated by {', '.join(top)} (of {_fmt(total)}).")
    return lines


BUDGET_KEYS = ("lut", "ff", "bram18", "dsp")  # what the Verilog backend can use up


def fits(estimate_or_synth: Source, board: Any, share: float = 1.0) -> bool:
    """Whether every budgeted resource stays within `share` of the board's."""
    used, _, _ = usage(estimate_or_synth, board)
    res = resources(board)
    return all(used.get(k) <= share * res[k] for k in BUDGET_KEYS if k in res)


def _fold(net: Network, target_cycles: int) -> tuple[Network, NetworkEstimate]:
    folded = fold_parallelism(net, target_cycles)
    return folded, estimate(folded)


def fastest_fitting_folding(net: Network, board: Any, share: float = 1.0) -> tuple[Network, NetworkEstimate] | None:
    """The fastest folding (per `fold_parallelism`'s cheapest-per-target rule) whose estimate
    fits the board (within `share` of each budget: `TIGHT` leaves place and route its usual
    headroom), or None when even the fully folded network (PE = SIMD = 1) does not.

    Binary search over the target interval: a looser target never needs more lanes, so
    resource use falls (up to the cost model's small non-monotonic wiggles) as it grows."""
    slowest = estimate_cycles(_fold(net, 1 << 62)[0])["est_cycles_per_frame"]
    folded, est = _fold(net, slowest)
    if not fits(est, board, share):
        return None
    lo, hi = 1, slowest  # invariant: target hi fits
    best = (folded, est)
    while lo < hi:
        mid = (lo + hi) // 2
        cand = _fold(net, mid)
        if fits(cand[1], board, share):
            hi, best = mid, cand
        else:
            lo = mid + 1
    return best


def board_family(board: Any) -> str:
    """The fmax model's family of `board` (a Board, a boards/*.json dict or None: xc7)."""
    return fmax_model.model_family(board_dict(board).get("family"))


def effective_clock(net: Network, board_clock_mhz: float, family: str) -> float:
    """min(board clock, the predicted fmax of `net` on `family`): the clock frame rates assume."""
    return fmax_model.effective_clock(board_clock_mhz, fmax_model.predict(net, family))


def fold_for_rate(net: Network, target_fps: float, board_clock_mhz: float, family: str) -> tuple[Network, float]:
    """(the cheapest folding reaching `target_fps`, the clock it assumes): folded at the board's
    clock, then, while the folded design's predicted fmax on `family` is lower, refolded at
    that fmax (more lanes may lower it again: a few rounds reach a fixed point)."""
    if not target_fps > 0:
        raise UserError("--target-fps must be positive")
    clock = float(board_clock_mhz)
    folded = fold_parallelism(net, int(clock * 1e6 // target_fps))
    for _ in range(6):
        eff = effective_clock(folded, board_clock_mhz, family)
        if eff >= clock:
            break
        clock = eff
        folded = fold_parallelism(net, max(1, int(clock * 1e6 // target_fps)))
    return folded, clock


def fold_within_budget(net: Network, target_fps: float, clock_mhz: float, board: Any) -> Network:
    """`--target-fps` on a board: the cheapest folding reaching target_fps at the effective
    clock (`fold_for_rate`: min(`clock_mhz`, the predicted fmax on the board's family)),
    provided its estimate fits the board; otherwise a UserError saying what it would need and
    the best frame rate that does fit."""
    if not target_fps > 0:
        raise UserError("--target-fps must be positive")
    family = board_family(board)
    folded, _ = fold_for_rate(net, target_fps, clock_mhz, family)
    est = estimate(folded)
    if fits(est, board):
        return folded
    b = board_dict(board)
    need = usage(est, board)[0]
    res = resources(board)
    over = ", ".join(f"{need.get(k):,.0f} {k.upper()} of {res[k]:,.0f}" for k in BUDGET_KEYS if k in res and need.get(k) > res[k])
    best = fastest_fitting_folding(net, board)
    if best is None:
        reach = "even the fully folded network (PE = SIMD = 1) does not fit"
    else:
        # rounded down, so asking for exactly this rate gives that folding
        pred = fmax_model.predict(best[0], family)
        clock = fmax_model.effective_clock(clock_mhz, pred)
        fps = math.floor(clock * 1e6 / estimate_cycles(best[0])["est_cycles_per_frame"])
        note = (f"{clock:g} MHz (board clock; fmax not predicted for {family})" if pred is None else
                f"{clock:g} MHz ({fmax_model.clock_source(clock_mhz, pred)}; predicted fmax {pred.fmax_mhz:.0f} MHz)")
        reach = f"the fastest folding that fits reaches {fps:,} frames/s at {note}"
    raise UserError(f"--target-fps {target_fps:g}: the folding that reaches it needs {over} on {b.get('name', 'the board')}; "
                    f"{reach}")
