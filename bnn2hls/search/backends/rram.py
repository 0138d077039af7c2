"""RRAM crossbar cost backend: weight-stationary compute-in-memory, NeuroSim-style macro model.

Mapping. Each binary weight is a differential pair of 1T1R cells on two adjacent columns:
+1 = (LRS, HRS), -1 = (HRS, LRS); the column pair's sense amp / ADC reads the current
difference I+ - I-, i.e. sum_i x_i * w_i for inputs x_i in {0, 1} applied as word-line
pulses (input bit 1 = row driven). A bipolar input y_i = 2 x_i - 1 gives
sum_i y_i w_i = 2 * sum_i x_i w_i - sum_i w_i, and sum_i w_i is a per-column constant known at
compile time (folded into the threshold), so the pair computes the XNOR-popcount exactly.
`cells_per_weight` = 2, and a weight column (one output) occupies 2 physical columns.

A matrix layer with K x N weights (K = fan-in, N = output channels) needs

    R = ceil(K / rows)                      row tiles (partial sums added digitally)
    C = ceil(N * cells_per_weight / cols)   column tiles
    arrays = R * C

Weights are stationary: a conv reuses its arrays for each of its M = out_H * out_W output
pixels, one after the other, and a b-bit input (the first layer) goes bit-serially, one
bit-plane per read, shifted and added digitally. So a layer takes M * b passes.

One pass reads all R * C arrays of the layer in parallel. `cols_per_adc` weight columns share
one ADC through a multiplexer, so an array with n_c outputs needs
steps_c = ceil(n_c / adcs_per_array) <= cols_per_adc sequential read + convert steps
(adcs_per_array = cols / cells_per_weight / cols_per_adc). The R partial sums of each output
then go through an adder tree:

    t_pass  = max_c(steps_c) * (t_read + t_adc) + ceil(log2 R) * t_add
    t_layer = M * b * t_pass

Layers are pipelined (each has its own arrays):

    fps     = 1 / max_layer t_layer
    latency = sum_layer t_layer              (no intra-layer overlap: an upper bound)

Energy per pass and layer:

    cells      = K * N * input_activity * E_cell        (the driven rows' pairs conduct)
    ADC        = R * N * E_adc                          (each output column, each row tile)
    periphery  = R * sum_c(steps_c) * E_periphery       (drivers, mux, control per read step)
    E_layer    = M * b * (cells + ADC + periphery) + M * b * R * N * E_add
                 (one digital accumulate per partial sum: row-tile reduction, bit-plane
                  shift-add and the final threshold compare)

A max-pool is a digital OR over the window in the inter-layer buffer: out_H * out_W cycles,
(kh * kw - 1) ORs per output bit (charged as adds). A residual join (`ir.Join`) is a digital
add per element in the buffer, and the activation after it (`ir.Threshold`) a compare per
element (charged as an add): each out_H * out_W cycles (the channels in parallel) and
H * W * C adds. The shortcut needs no crossbar: a residual network uses the arrays of the
plain one. Buffers, interconnect, leakage and the
host are not modelled. The ADC resolution (`adc_bits`) is informational: partial sums wider
than the ADC are quantized, which costs accuracy, not time, in this model.

Reported: usage {"arrays": arrays used} against budget {"arrays": arrays on the chip} (the
network must fit: reprogramming RRAM is slow and wears it out), energy per frame as the
objective ("energy_nj"), area in details. Because the budget is the weight count, deep and
narrow networks are cheap here, while the GPU backend, bound by per-layer launches at batch 1,
prefers shallow ones.

Device parameters live in bnn2hls/data/rram_devices.json, each with a source note.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...ir import DepthwiseConv, Join, MatrixLayer, MaxPool, Network, Threshold
from ..cost import Cost
from ...resources import data_file
from .devices import CatalogBackend, DeviceCatalog

DATA_FILE = data_file("rram_devices.json")


@dataclass(frozen=True)
class RramDevice:
    name: str
    description: str
    arrays: int  # crossbars on the chip
    rows: int  # word lines per crossbar
    cols: int  # physical bit lines per crossbar
    cells_per_weight: int  # 2: differential pair
    cols_per_adc: int  # weight columns multiplexed onto one ADC
    adc_bits: int
    t_read_ns: float  # one array read (word-line pulse + settling)
    t_adc_ns: float  # one conversion
    t_add_ns: float  # one digital cycle
    cell_read_energy_fj: float  # one weight (cell pair) conducting during a read
    input_activity: float  # share of binary inputs that are 1 (rows driven)
    adc_energy_pj: float  # per conversion
    periphery_energy_pj: float  # per array read step
    add_energy_pj: float  # per digital add
    array_area_mm2: float  # crossbar with its periphery

    def __post_init__(self) -> None:
        if self.cols % self.cells_per_weight or self.outputs_per_array % self.cols_per_adc:
            raise ValueError(f"rram device {self.name}: cols={self.cols} must hold whole weight columns "
                             f"({self.cells_per_weight} cells) in groups of cols_per_adc={self.cols_per_adc}")

    @property
    def outputs_per_array(self) -> int:
        return self.cols // self.cells_per_weight

    @property
    def adcs_per_array(self) -> int:
        return self.outputs_per_array // self.cols_per_adc

    @property
    def step_s(self) -> float:
        return (self.t_read_ns + self.t_adc_ns) * 1e-9


def _device_from_json(name: str, entry: dict[str, Any]) -> RramDevice:
    return RramDevice(name=name, **{k: v for k, v in entry.items() if k != "source"})


CATALOG: DeviceCatalog[RramDevice] = DeviceCatalog("rram", DATA_FILE, _device_from_json)
load_device = CATALOG.pick  # name -> RramDevice; UserError for an unknown name


# --------------------------------------------------------------------------------------
# Mapping and per-layer cost
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mapping:
    """How a K x N binary weight matrix tiles onto crossbars."""

    row_tiles: int  # R
    col_tiles: int  # C
    steps: tuple[int, ...]  # per column tile: sequential ADC steps per read (<= cols_per_adc)

    @property
    def arrays(self) -> int:
        return self.row_tiles * self.col_tiles

    @property
    def max_steps(self) -> int:
        return max(self.steps)

    @property
    def array_steps(self) -> int:
        """Read steps summed over all arrays of the layer, per pass."""
        return self.row_tiles * sum(self.steps)

    @property
    def adder_depth(self) -> int:
        return math.ceil(math.log2(self.row_tiles)) if self.row_tiles > 1 else 0


def map_weights(k: int, n: int, dev: RramDevice) -> Mapping:
    per_array = dev.outputs_per_array
    col_tiles = math.ceil(n * dev.cells_per_weight / dev.cols)
    steps = tuple(math.ceil(min(per_array, n - c * per_array) / dev.adcs_per_array) for c in range(col_tiles))
    return Mapping(row_tiles=math.ceil(k / dev.rows), col_tiles=col_tiles, steps=steps)


def matrix_layer_cost(layer: MatrixLayer, dev: RramDevice) -> dict[str, Any]:
    oh, ow = layer.out_hw
    m, k, n, planes = oh * ow, layer.fan_in, layer.out_channels, layer.input_bits
    if isinstance(layer, DepthwiseConv):
        # A crossbar sums a column over all its rows: a depthwise conv is mapped as its
        # block-diagonal matrix, the whole kh*kw*C window on the rows (zeros off the diagonal).
        k = layer.fan_in * layer.in_channels
    mp = map_weights(k, n, dev)
    passes = m * planes
    pass_s = mp.max_steps * dev.step_s + mp.adder_depth * dev.t_add_ns * 1e-9
    conversions = passes * mp.row_tiles * n
    adds = passes * mp.row_tiles * n  # one accumulate per partial sum
    energy = {
        "cells_j": passes * k * n * dev.input_activity * dev.cell_read_energy_fj * 1e-15,
        "adc_j": conversions * dev.adc_energy_pj * 1e-12,
        "periphery_j": passes * mp.array_steps * dev.periphery_energy_pj * 1e-12,
        "digital_j": adds * dev.add_energy_pj * 1e-12,
    }
    return {"name": layer.name, "kind": layer.kind, "m": m, "k": k, "n": n, "planes": planes,
            "row_tiles": mp.row_tiles, "col_tiles": mp.col_tiles, "arrays": mp.arrays,
            "mux_steps": mp.max_steps, "passes": passes, "pass_s": pass_s, "time_s": passes * pass_s,
            "conversions": conversions, "digital_adds": adds, "energy": energy,
            "energy_j": sum(energy.values())}


def pool_layer_cost(layer: MaxPool, dev: RramDevice) -> dict[str, Any]:
    oh, ow, c = layer.out_shape
    ors = oh * ow * c * (layer.kernel[0] * layer.kernel[1] - 1)
    energy = {"digital_j": ors * dev.add_energy_pj * 1e-12}
    return {"name": layer.name, "kind": layer.kind, "arrays": 0, "passes": oh * ow,
            "time_s": oh * ow * dev.t_add_ns * 1e-9, "digital_adds": ors, "energy": energy,
            "energy_j": energy["digital_j"]}


def elementwise_layer_cost(layer: Join | Threshold, dev: RramDevice) -> dict[str, Any]:
    """A join's add or an activation's compare, per element, in the digital buffer."""
    h, w, c = layer.in_shape
    ops = h * w * c
    energy = {"digital_j": ops * dev.add_energy_pj * 1e-12}
    return {"name": layer.name, "kind": layer.kind, "arrays": 0, "passes": h * w,
            "time_s": h * w * dev.t_add_ns * 1e-9, "digital_adds": ops, "energy": energy,
            "energy_j": energy["digital_j"]}


def node_cost(layer: MatrixLayer | MaxPool | Join | Threshold, dev: RramDevice) -> dict[str, Any]:
    if isinstance(layer, MatrixLayer):
        return matrix_layer_cost(layer, dev)
    if isinstance(layer, MaxPool):
        return pool_layer_cost(layer, dev)
    return elementwise_layer_cost(layer, dev)


def estimate_on(net: Network, dev: RramDevice) -> Cost:
    """The cost of `net` on a device given by its parameters (see the module docstring)."""
    layers = [node_cost(layer, dev) for layer in net.datapath if isinstance(layer, (MatrixLayer, MaxPool, Join, Threshold))]
    arrays = sum(entry["arrays"] for entry in layers)
    energy = sum(entry["energy_j"] for entry in layers)
    bottleneck = max(layers, key=lambda entry: entry["time_s"])
    return Cost(
        backend="rram", device=dev.name,
        fps=1.0 / bottleneck["time_s"], latency_s=sum(entry["time_s"] for entry in layers),
        usage={"arrays": float(arrays)}, budget={"arrays": float(dev.arrays)},
        objective_name="energy_nj", objective=energy * 1e9, energy_j=energy,
        details={"area_mm2": arrays * dev.array_area_mm2, "chip_area_mm2": dev.arrays * dev.array_area_mm2,
                 "weights": sum(layer.fan_in * layer.out_channels for layer in net.matrix_layers),
                 "bottleneck": bottleneck["name"], "layers": layers},
    )


class RramBackend(CatalogBackend[RramDevice]):
    """Weight-stationary RRAM crossbars (see the module docstring). Array replication could
    trade arrays for throughput; it is not modelled, so min_fps is ignored."""

    name = "rram"
    catalog = CATALOG
    estimate_on = staticmethod(estimate_on)
