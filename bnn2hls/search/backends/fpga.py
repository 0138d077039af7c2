"""The FPGA cost backend: bnn2hls' own cost charts for the streaming Verilog accelerator.

Cost of a network on a board = the calibrated analytic model (`bnn2hls.estimate.cost_model`: LUT, FF,
BRAM18, LUTRAM per layer, fitted to yosys) for the folding the compiler would choose:
- with a throughput target (`min_fps`), the cheapest folding that reaches it
  (`hw.folding.fold_parallelism`, as `compile --target-fps` does);
- without one, the fastest folding that still fits the board (`fit.fastest_fitting_folding`),
  or PE = SIMD = 1 when nothing fits.
fps = clock / bottleneck interval; latency = the pipeline's first-in-to-first-out estimate. The
clock is the effective one (`fit.effective_clock`): the lower of the board's clock and the
folded design's predicted fmax on the board's family (`estimate.fmax_model`; the Xilinx
families have no fitted model, so there it is the board's clock); `min_fps` folds at it.
The budget is the board's LUT (logic + distributed RAM), FF, BRAM18 and DSP; the objective is
LUTs (`est_lut_total`).
"""
from __future__ import annotations

from typing import Any

from ...estimate import fit
from ...hw.boards import list_boards, load_board
from ...estimate.cost_model import NetworkEstimate
from ...estimate.cost_model import estimate as estimate_resources
from ...ir import Network
from ...hw.folding import estimate_cycles, fold_parallelism
from ..cost import Cost

DEFAULT_BOARD = "pynq-z2"


def folding_of(net: Network) -> dict[str, Any]:
    """The folding as a `--folding` JSON document."""
    return {"layers": {layer.name: {"pe": layer.pe, "simd": layer.simd} for layer in net.matrix_layers}}


def choose_folding(net: Network, board: Any, min_fps: float | None) -> tuple[Network, NetworkEstimate]:
    """(folded network, its resource estimate) by the rule in the module docstring."""
    if min_fps is not None:
        folded, _ = fit.fold_for_rate(net, min_fps, board.clock_mhz, fit.board_family(board))
        return folded, estimate_resources(folded)
    best = fit.fastest_fitting_folding(net, board)
    if best is not None:
        return best
    folded = fold_parallelism(net, 1 << 62)
    return folded, estimate_resources(folded)


class FpgaBackend:
    name = "fpga"

    def devices(self) -> list[str]:
        return [board.name for board in list_boards()]

    def default_device(self) -> str:
        return DEFAULT_BOARD

    def estimate(self, net: Network, device: str, min_fps: float | None = None) -> Cost:
        board = load_board(device)
        folded, est = choose_folding(net, board, min_fps)
        cycles = estimate_cycles(folded)
        used, layers, _ = fit.usage(est, board)
        budget = {k: float(board.resources[k]) for k in fit.BUDGET_KEYS if k in board.resources}
        clock_mhz = fit.effective_clock(folded, board.clock_mhz, fit.board_family(board))
        clock_hz = clock_mhz * 1e6
        return Cost(
            backend=self.name, device=board.name,
            fps=clock_hz / cycles["est_cycles_per_frame"],
            latency_s=cycles["est_latency_cycles"] / clock_hz,
            usage={k: used.get(k) for k in budget}, budget=budget,
            objective_name="lut", objective=float(est.resources.lut_total),
            details={"folding": folding_of(folded), "cycles_per_frame": cycles["est_cycles_per_frame"],
                     "bottleneck": cycles["bottleneck"], "clock_mhz": clock_mhz, "board_clock_mhz": board.clock_mhz,
                     "network": est.network_dict(), "layers": {name: u.to_dict() for name, u in layers.items()}},
        )
