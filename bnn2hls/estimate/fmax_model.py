"""Predicted fmax per device family, from the blocks' pipeline stages, fitted to place and route.

Model
-----
Every block kind lists its register-to-register stages (`Block.timing_stages`,
bnn2hls/hw/blocks/): per stage the structure of its worst combinational path, as
`hw.blocks.base.timing_stage` features: LUT levels, adders/comparators in series, the widest
carry chain, the widest net's fanout, and a table read at the stage's start. A stage's delay on
a device family is linear in them:

    delay_ns = t0 + lut * LUT levels + adder * adders + carry * carry bits
               + fanout * sqrt(fanout) + (a table read: `bram` + `bram_mux` * (log2(banks) - 1)
                 + `bram_spread` * (sqrt(blocks) - 1) if it maps to block RAM, banks (> 2)
                 being the block RAMs it spans in depth: their outputs pass a bank select that
                 ecp5_outreg cannot retime, as it does the one LUT4 of two banks; blocks the
                 block RAMs one copy of the address reaches: they spread over an area that
                 grows with their number, as a wide net's loads do), else `lut` * its mux
                 levels + `fanout` * sqrt(the columns one address copy reaches): the address
                 drives every column's LUTs)

(a net's loads spread over an area that grows with their number, so its routing delay grows
with the square root: measured, a select of 833 loads 6.4 ns of routing, an enable of 3,136
loads 11.1 ns)

and the design's fmax is 1000 / the slowest stage of any block (its critical stage, named in
the prediction). A table maps to block RAM where yosys' cost rule puts it (`rom_in_bram`).
The coefficients per family are data (bnn2hls/data/fmax_model.json), fitted by
`benchmarks/fit_fmax.py` to the place-and-route runs recorded in
benchmarks/data/fmax_points.json (`benchmarks/fmax_points.py` records them: nextpnr on the
open-toolchain boards, `bnn2hls report --pnr`).

Families without a fit (the Xilinx ones: their timing needs Vivado, which this project does
not run) have no prediction: `predict` returns None and the clock is the board's.

`effective_clock(board_clock, prediction)` is the clock the frame rates assume: the lower of
the board's clock and the predicted fmax; `clock_phrase` says so in words.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from ..hw import HwGraph, lower
from ..hw.blocks import Block, by_kind
from ..hw.mvau_memories import BLOCK_RAM_SHAPES
from ..ir import Network
from ..resources import data_file
from .cost_model import ECP5_BRAM_COST, ECP5_LOGIC_COST_ROM, map_memory

COEFFS_PATH = data_file("fmax_model.json")
COEFF_KEYS = ("t0", "lut", "adder", "carry", "fanout", "bram", "bram_mux", "bram_spread")
# Block RAM geometry per family, (depth, width) configurations: ECP5 DP16KD (18 kbit),
# iCE40 EBR (4 kbit); others: as ECP5 (unfitted anyway)
BRAM_CONFIGS = {"ecp5": BLOCK_RAM_SHAPES,
                "ice40": ((2048, 2), (1024, 4), (512, 8), (256, 16))}
# boards/*.json family -> the fmax model's family
FAMILY_OF_BOARD = {"ecp5": "ecp5", "ice40": "ice40", "zynq7000": "xc7", "zynqmp": "xcup"}


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def load_coefficients(path: Path | None = None) -> dict[str, Any]:
    return _load(str(path or COEFFS_PATH))


def model_family(board_family: str | None) -> str:
    """The fmax model's family for a board's family (None: the cost model's default, xc7)."""
    return FAMILY_OF_BOARD.get(board_family or "zynq7000", board_family or "xc7")


def fitted(family: str, coeffs: dict[str, Any] | None = None) -> bool:
    entry = (coeffs or load_coefficients())["families"].get(family, {})
    return entry.get("status") == "fitted"


# memory_libmap's cost of one block RAM (ECP5 DP16KD), against a ROM bit in LUT4 logic
BRAM_COST = float(ECP5_BRAM_COST)
ROM_BIT_COST = ECP5_LOGIC_COST_ROM


def bram_blocks(depth: int, width: int, family: str = "ecp5") -> tuple[int, int]:
    """(block RAMs, of which banks in depth) of a `depth` x `width` table in the family's
    cheapest configuration (fewest blocks, then fewest banks)."""
    configs = BRAM_CONFIGS.get(family, BRAM_CONFIGS["ecp5"])
    best = min(configs, key=lambda dw: (math.ceil(depth / dw[0]) * math.ceil(width / dw[1]), math.ceil(depth / dw[0])))
    return math.ceil(depth / best[0]) * math.ceil(width / best[1]), math.ceil(depth / best[0])


def rom_in_bram(depth: int, width: int, family: str = "ecp5") -> bool:
    """Whether yosys puts a `depth` x `width` table in block RAM: cheaper there (BRAM_COST per
    block) than in LUT4 logic (ROM_BIT_COST per bit). The xc7 flow's rule (`map_memory`) with
    LUT4s for LUT6s: on ulx3s-85f it puts TFC's 64 x 784 weights in 22 DP16KD, as nextpnr
    shows, where xc7 keeps them in LUT6s."""
    if family not in BRAM_CONFIGS:
        return map_memory(depth, width, rom=True).kind == "bram"
    blocks, _ = bram_blocks(depth, width, family)
    return blocks * BRAM_COST + 2 < depth * width * ROM_BIT_COST


def memory_levels(depth: float, width: float, family: str = "ecp5", slice_bits: float = 0) -> tuple[int, float, float, int]:
    """(block RAM banks in depth, 0 for LUT logic; LUT mux levels; fanout of the address; block
    RAMs one address reaches, 0 for LUT logic) of a `depth` x `width` table read (`rom_in_bram`
    decides which), in slices of `slice_bits` bits with an address copy each (0: one slice)."""
    if depth <= 1 or width <= 0:
        return 0, 0.0, 1.0, 0
    share = min(1.0, slice_bits / width) if slice_bits else 1.0  # of the table one address copy reads
    if rom_in_bram(int(depth), int(width), family):
        blocks, banks = bram_blocks(int(depth), int(width), family)
        return banks, 0.0, 1.0, max(banks, math.ceil(blocks * share))
    # LUT4 + PFUMX/L6MUX: a LUT level resolves about two address bits
    return 0, math.ceil(math.log2(depth) / 2), float(width) * share, 0


def stage_delay(features: dict[str, float], c: dict[str, float], family: str = "ecp5") -> float:
    """A stage's delay (ns) under coefficients `c` (the model's formula, module docstring)."""
    banks, mem_lut, mem_fan, blocks = memory_levels(features.get("mem_depth", 0.0), features.get("mem_width", 0.0), family,
                                                    features.get("mem_slice", 0.0))
    fan = max(features.get("fanout", 1.0), mem_fan)
    return (c["t0"] + c["lut"] * (features.get("lut", 0.0) + mem_lut) + c["adder"] * features.get("adders", 0.0)
            + c["carry"] * features.get("carry", 0.0) + c["fanout"] * math.sqrt(max(1.0, fan))
            + ((c["bram"] + c.get("bram_mux", 0.0) * max(0.0, math.log2(banks) - 1.0)
                + c.get("bram_spread", 0.0) * (math.sqrt(blocks) - 1.0)) if banks else 0.0))


def block_stages(kind: str, params: dict[str, int]) -> dict[str, dict[str, float]]:
    """The timing stages of a block of kind `kind` (Block.kind) with `params`."""
    return by_kind(kind).timing_stages(params)


@dataclass(frozen=True)
class FmaxPrediction:
    """The predicted fmax on `family`, and the stage that sets it (`block`, `stage`, `delay_ns`)."""

    family: str
    fmax_mhz: float
    block: str
    stage: str
    delay_ns: float

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "fmax_mhz": round(self.fmax_mhz, 1), "critical_block": self.block,
                "critical_stage": self.stage, "delay_ns": round(self.delay_ns, 3)}


def predict_blocks(blocks: Iterable[tuple[str, str, dict[str, int]]], family: str,
                   coeffs: dict[str, Any] | None = None) -> FmaxPrediction | None:
    """The prediction for (name, kind, params) blocks on `family`; None where unfitted."""
    coeffs = coeffs or load_coefficients()
    if not fitted(family, coeffs):
        return None
    c = coeffs["families"][family]["coeffs"]
    worst = ("", "", 0.0)
    for name, kind, params in blocks:
        for stage, feats in block_stages(kind, params).items():
            d = stage_delay(feats, c, family)
            if d > worst[2]:
                worst = (name, stage, d)
    if not worst[0]:
        return None
    return FmaxPrediction(family, 1000.0 / worst[2], worst[0], worst[1], worst[2])


def predict(net: Network, family: str, coeffs: dict[str, Any] | None = None,
            graph: HwGraph | None = None) -> FmaxPrediction | None:
    """The predicted fmax of `net`'s accelerator (the blocks of `hw.lower(net)`) on `family`
    (ecp5, ice40, ...), or None where the family has no fitted model (the Xilinx families)."""
    if not fitted(family, coeffs):
        return None
    blocks: list[Block] = (graph or lower(net)).blocks
    return predict_blocks(((b.name, b.kind, b.params) for b in blocks), family, coeffs)


def predict_for_board(net: Network, board: Any) -> FmaxPrediction | None:
    """`predict` on a board's family (a Board, or None: xc7, unfitted)."""
    return predict(net, model_family(getattr(board, "family", None)))


def _floor_fmax(prediction: FmaxPrediction) -> float:
    """The predicted fmax rounded down to 0.1 MHz (a rate at it is one the design reaches)."""
    return math.floor(prediction.fmax_mhz * 10.0) / 10.0


def effective_clock(board_clock_mhz: float, prediction: FmaxPrediction | None) -> float:
    """The clock the frame rates assume: min(board clock, predicted fmax rounded down to 0.1 MHz)."""
    if prediction is None:
        return float(board_clock_mhz)
    return min(float(board_clock_mhz), _floor_fmax(prediction))


def clock_source(board_clock_mhz: float, prediction: FmaxPrediction | None) -> str:
    """"board clock" or "predicted fmax": which of the two `effective_clock` took."""
    if prediction is not None and _floor_fmax(prediction) < board_clock_mhz:
        return "predicted fmax"
    return "board clock"


def clock_info(board_clock_mhz: float, prediction: FmaxPrediction | None, family: str) -> dict[str, Any]:
    """report.json's network clock fields: clock_mhz (effective), board_clock_mhz,
    predicted_fmax_mhz (None: no fitted model for `family`), clock_source, fmax (the
    prediction's details, with its family)."""
    return {"clock_mhz": effective_clock(board_clock_mhz, prediction), "board_clock_mhz": float(board_clock_mhz),
            "predicted_fmax_mhz": None if prediction is None else round(prediction.fmax_mhz, 1),
            "clock_source": clock_source(board_clock_mhz, prediction),
            "fmax": prediction.to_dict() if prediction is not None else {"family": family, "fmax_mhz": None,
                                                                         "note": unfitted_note(family)}}


def unfitted_note(family: str) -> str:
    return (f"no fmax model for {family}: unfitted (Xilinx timing needs Vivado; the fits are to nextpnr on ECP5/iCE40)"
            if family not in ("ecp5", "ice40") else f"no fmax model fitted for {family}")


def clock_phrase(doc_network: dict[str, Any]) -> str:
    """"at 100 MHz (board clock; predicted fmax 128 MHz)" from report.json's "network"."""
    clock = doc_network["clock_mhz"]
    board = doc_network.get("board_clock_mhz", clock)
    pred = doc_network.get("predicted_fmax_mhz")
    fam = (doc_network.get("fmax") or {}).get("family", "xc7")
    if pred is None:
        return f"at {clock:g} MHz (board clock; fmax not predicted for {fam})"
    if doc_network.get("clock_source") == "predicted fmax":
        return f"at {clock:g} MHz (predicted fmax on {fam}; board clock {board:g} MHz)"
    return f"at {clock:g} MHz (board clock; predicted fmax {pred:.0f} MHz on {fam})"


# --------------------------------------------------------------------------------------
# The cost model counts Xilinx 7-series LUT6s and flip-flops. A LUT4 fabric spends more of its
# logic cells on the same design (wide functions split, a carry bit is half a cell's pair),
# and the ECP5 flow's flip-flop count differs too, so a budget check on a LUT4 board scales
# the estimate by ratios fitted to nextpnr's utilisation of the same designs
# (benchmarks/fit_fmax.py; the family's "resources" entry). iCE40 has no routed points: it
# borrows ECP5's ratios (both LUT4 fabrics).
RESOURCE_FALLBACK = {"ice40": "ecp5"}


@dataclass(frozen=True)
class ResourceScale:
    """Logic cells (LUT4 sites) and flip-flops of `family` per LUT and FF of the cost model's
    estimate, fitted to `fitted_on`'s place-and-route points."""

    family: str
    lut: float
    ff: float
    fitted_on: str

    def phrase(self) -> str:
        borrowed = "" if self.fitted_on == self.family else f", {self.fitted_on}'s: {self.family} has no routed points"
        return (f"{self.family} logic cells (LUT4 sites): {self.lut:g} per estimated LUT, {self.ff:g} flip-flops "
                f"per estimated FF (fitted to nextpnr{borrowed}); block RAMs as synth_ecp5 maps the memories")


def resource_scale(family: str, coeffs: dict[str, Any] | None = None) -> ResourceScale | None:
    """The estimate's scale on `family`'s fabric, or None where it is the cost model's own (xc7)."""
    families = (coeffs or load_coefficients())["families"]
    for fam in (family, RESOURCE_FALLBACK.get(family)):
        entry = families.get(fam or "", {}).get("resources")
        if entry:
            return ResourceScale(family, float(entry["lut_sites_per_lut"]), float(entry["ff_per_ff"]), str(fam))
    return None
