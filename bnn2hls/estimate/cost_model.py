"""Analytic LUT / FF / BRAM18 estimates for the Verilog backend's blocks, without generating
anything (CNV in a few milliseconds), calibrated against yosys `synth_xilinx -family xc7`.

Model
-----
The network is the hardware graph's chain of blocks (`bnn2hls.hw.lower`, the same graph the
emitters render; hls_lib/rtl/README.md). Every block is costed in two parts, the features of
each kind being defined by its class (`Block.cost_features`, bnn2hls/hw/blocks/):

1. **Memories** (weight/threshold/flip tables, MVAU output queue, FIFO storage, line buffers,
   input queues) go through `map_memory`, a transcription of the cost rule yosys'
   `memory_libmap` applies with synth_xilinx's xc7 libraries (soft logic at 1 per RAM bit and
   1/64 per ROM bit, distributed RAM 8 per RAM32M/RAM64M cell, block RAM 129 per RAMB18 /
   257 per RAMB36, 2 per emulation point, 0.5 per extra read-mux input). The cheapest choice
   gives BRAM18 and LUTRAM directly (exact on all 150 characterization blocks). A table left
   in soft logic costs LUTs by its distinct non-constant columns and their bits (yosys merges
   identical columns; `table_stats` counts them in the layer's actual tables). The same
   memories are also mapped with synth_ecp5's libraries (`LIBRARIES["ecp5"]`: ROM bits at
   1/16, 16 x 4 distributed RAM, DP16KD), whose block RAMs the fit counts on LUT4 boards
   (`Resources.bram18_ecp5`; exact on the routed CNV_1W1A foldings).
2. **Logic** is a linear function of a few structural features per block kind, e.g. for an
   MVAU `LUT ~ c0 + a*PE*SIMD (popcount; PE*SIMD*ACC_W for a multi-bit add chain) + b*PE*SIMD (weight select)
   + c*table columns + d*table bits + e*MW*IN_B (input rotator) + ...` and `FF ~` the register
   bits the RTL declares. The coefficients are data (`bnn2hls/data/cost_model.json`), fitted
   by `benchmarks/characterize.py` on synthetic layers synthesized with yosys; the three MVAU
   kinds are fitted together (they share the datapath).

Kinds: mvau_bin (binary input, thresholded), mvau_mb (multi-bit input, thresholded),
mvau_last (raw accumulators), swg, maxpool, sumpool, flatten, fifo, fork, join, threshold. A
depthwise conv's VVAU is the MVAU's datapath (bnn_mvau with DEPTHWISE=1) and is costed as the
MVAU kinds with its own widths (its rotating input register is the whole window, MH*MW*IN_B
bits, and a step reads PE*SIMD elements); measured against yosys on the depthwise-separable
test nets: VVAU layers -3 % to +9 % of yosys LUT + LUTRAM, the networks +2 % and +4 %.

`estimate` returns a `NetworkEstimate` (per layer a `LayerEstimate`, per block a
`BlockEstimate`), whose `Resources` count logic LUTs (`lut`, yosys LUT1..LUT6), LUTRAM sites
(`lutram`) and `lut_total`, what occupies the device's LUT budget. Their `to_dict` gives the
JSON form (report.json's `est_lut`, `est_lutram`, `est_lut_total`, `est_ff`, `est_bram18`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any


from ..hw import HwGraph, lower
from ..hw.blocks import Block, by_module
from ..hw.blocks import mvau as mvau_block
from ..hw.mvau_memories import BLOCK_RAM_SHAPES, acc_width, thr_width
from ..ir import MatrixLayer, Network
from ..hw.folding import estimate_cycles
from ..resources import data_file

COEFFS_PATH = data_file("cost_model.json")
KINDS = ("mvau_bin", "mvau_mb", "mvau_last", "swg", "maxpool", "sumpool", "flatten", "fifo", "fork", "join", "threshold")


# --------------------------------------------------------------------------------------
# The blocks: the hardware graph's (bnn2hls/hw), nothing recomputed here
# --------------------------------------------------------------------------------------
def network_blocks(net: Network, graph: HwGraph | None = None) -> list[Block]:
    """The blocks the emitters instantiate, in order: `hw.lower(net).blocks`."""
    return (graph or lower(net)).blocks


def table_stats(layer: MatrixLayer) -> dict[str, float]:
    """The MVAU's table statistics (hw/blocks/mvau.py `table_stats`)."""
    return mvau_block.table_stats(layer)


# --------------------------------------------------------------------------------------
# Memory mapping (yosys memory_libmap with the xc7 libraries)
# --------------------------------------------------------------------------------------
LOGIC_COST_RAM = 1.0
LOGIC_COST_ROM = 1.0 / 64.0  # synth_xilinx passes -logic-cost-rom 0.015625
# Distributed RAMs of lutrams_xc5v.txt usable with one write and one separate read port:
# (kind, cost, widthscale, abits, unit width, LUT sites per cell)
LUTRAM_CONFIGS = (("SDP", 8, 7, 5, 6, 4), ("SDP", 8, 7, 6, 3, 4), ("DP", 8, 8, 5, 4, 4), ("DP", 8, 8, 6, 2, 4),
                  ("DP", 8, 8, 7, 1, 4), ("QP", 7, 7, 5, 2, 4), ("QP", 7, 7, 6, 1, 4))
# Block RAMs of brams_xc4v.txt with HAS_SIZE_36: (cost, depth, unit width, BRAM18 per unit)
BRAM_CONFIGS = tuple([(129, 16384 >> i, w, 1) for i, w in enumerate((1, 2, 4, 9, 18))]
                     + [(257, 32768 >> i, w, 2) for i, w in enumerate((1, 2, 4, 9, 18, 36))]
                     + [(129, 512, 36, 1), (257, 512, 72, 2)])
FACTOR_MUX = 0.5
FACTOR_DEMUX = 0.5
FACTOR_EMU = 2
# memory_libmap's emulation points for the memories of our blocks: 1 for a plain registered
# read (ROMs, line buffers: the tie-breaker point of a read port of its own); 4 for a read
# through a registered pointer (FIFO storage, the input and output queues): memory_dff turns
# it into a registered read that must be transparent to the same-cycle write (+3).
EMU_PLAIN = 1
EMU_POINTER = 4


@dataclass
class MemoryMap:
    kind: str  # logic | lutram | bram
    bram18: int = 0
    lutram: int = 0  # LUT sites used as RAM
    mux_bits: int = 0  # read-mux inputs beyond the first (soft logic after LUTRAM/BRAM banks)
    logic_bits: int = 0  # bits lowered to soft logic (FFs for a RAM, LUTs for a ROM)
    cost: float = 0.0


@dataclass(frozen=True)
class MemoryLibrary:
    """What memory_libmap chooses from on one family: the cost of a ROM bit in soft logic (a
    RAM bit costs LOGIC_COST_RAM everywhere), distributed RAMs as LUTRAM_CONFIGS, block RAMs
    as BRAM_CONFIGS (whose BRAM18 per unit counts 18-kbit blocks)."""

    logic_cost_rom: float
    lutrams: tuple[tuple[str, int, int, int, int, int], ...]
    brams: tuple[tuple[int, int, int, int], ...]


# synth_ecp5 (yosys techlibs/lattice): memory_libmap's default 1/16 per ROM bit;
# lutrams_trellis.txt: TRELLIS_DPR16X4, 16 x 4, cost 4 (a write port, an asynchronous read);
# brams_16kd.txt: DP16KD 16,384 x 1 .. 1,024 x 18 and PDPW16KD 512 x 36 (BLOCK_RAM_SHAPES),
# cost 128 each. The fmax model's table placement (`fmax_model.rom_in_bram`) uses the same costs.
ECP5_LOGIC_COST_ROM = 1.0 / 16.0
ECP5_BRAM_COST = 128
LIBRARIES = {
    "xc7": MemoryLibrary(LOGIC_COST_ROM, LUTRAM_CONFIGS, BRAM_CONFIGS),
    "ecp5": MemoryLibrary(ECP5_LOGIC_COST_ROM, (("DPR", 4, 0, 4, 4, 4),),
                          tuple((ECP5_BRAM_COST, depth, width, 1) for depth, width in BLOCK_RAM_SHAPES)),
}


@lru_cache(maxsize=8192)
def map_memory(depth: int, width: int, rom: bool, emu: int = EMU_PLAIN, family: str = "xc7") -> MemoryMap:
    """yosys' choice (memory_libmap with the `family`'s libraries and costs, `LIBRARIES`: by
    default synth_xilinx's xc7) for a `depth` x `width` memory: the cheapest of soft logic
    (1 per RAM bit, 1/64 per ROM bit on xc7, truncated to an integer), distributed RAM (not for
    ROMs) and block RAM, each mapping paying FACTOR_EMU per emulation point (`emu`),
    FACTOR_MUX per extra read-mux input and FACTOR_DEMUX per extra write enable."""
    lib = LIBRARIES[family]
    depth, width = max(1, int(depth)), max(1, int(width))
    bits = depth * width
    best = MemoryMap("logic", logic_bits=bits, cost=int(bits * (lib.logic_cost_rom if rom else LOGIC_COST_RAM)))
    if depth == 1:
        return best
    if not rom:
        for _, cost, ws, abits, unit, luts in lib.lutrams:
            mult_a = math.ceil(depth / (1 << abits))
            repl = math.ceil(mult_a * width / unit)
            c = (cost - ws) * repl + ws * mult_a * width / unit + FACTOR_EMU * emu
            if mult_a > 1:
                c += FACTOR_MUX * (mult_a - 1) * width + FACTOR_DEMUX * mult_a
            if c < best.cost:
                best = MemoryMap("lutram", lutram=repl * luts, mux_bits=(mult_a - 1) * width, cost=c)
    for cost, cfg_depth, unit, b18 in lib.brams:
        mult_a = math.ceil(depth / cfg_depth)
        repl = math.ceil(mult_a * width / unit)
        c = cost * repl + FACTOR_EMU * emu
        if mult_a > 1:
            c += FACTOR_MUX * (mult_a - 1) * width + (0 if rom else FACTOR_DEMUX * mult_a)
        if c < best.cost:
            best = MemoryMap("bram", bram18=repl * b18, mux_bits=(mult_a - 1) * width, cost=c)
    return best


def distinct_columns(depth: int, width: int) -> float:
    """Expected number of distinct non-constant columns among `width` random columns of a
    `depth`-word table: (N - 2) * (1 - (1 - 1/N)**width) with N = 2**depth patterns."""
    if depth <= 1:
        return 0.0
    if depth >= 40:
        return float(width)
    n = 2.0 ** depth
    return min(float(width), (n - 2.0) * -math.expm1(width * math.log1p(-1.0 / n)))


# --------------------------------------------------------------------------------------
# Features per block
# --------------------------------------------------------------------------------------
def block_kind(block: Block) -> str:
    return block.cost_kind


class _Acc:
    """Feature accumulator for one block."""

    EMU_PLAIN = EMU_PLAIN
    EMU_POINTER = EMU_POINTER

    def __init__(self) -> None:
        self.lut: dict[str, float] = {"const": 1.0}
        self.ff: dict[str, float] = {"const": 1.0}
        self.bram18 = 0
        self.bram18_ecp5 = 0  # the same memories' block RAMs as synth_ecp5 maps them (DP16KD)
        self.lutram = 0
        self.memories: dict[str, str] = {}

    def add(self, target: str, key: str, value: float) -> None:
        d = self.lut if target == "lut" else self.ff
        d[key] = d.get(key, 0.0) + float(value)

    def ram(self, name: str, depth: int, width: int, emu: int, feature_prefix: str = "") -> MemoryMap:
        """A RAM (write port + read port) and what its mapping adds around it. Its features
        are named `feature_prefix` + the mapping's own (ram_ff, mem_mux, ...): a block with two
        RAMs that map differently (a FIFO's head queue and storage) fits each its own."""
        m = map_memory(depth, width, rom=False, emu=emu)
        self.memories[name] = m.kind
        self.bram18 += m.bram18
        self.bram18_ecp5 += map_memory(depth, width, rom=False, emu=emu, family="ecp5").bram18
        self.lutram += m.lutram

        def add(target: str, key: str, value: float) -> None:
            self.add(target, feature_prefix + key, value)

        if m.kind == "logic":
            add("ff", "ram_ff", depth * width)
            add("lut", "ram_mux", width * (depth - 1))
        else:
            add("lut", "mem_mux", m.mux_bits)
            if m.kind == "bram":
                if emu == EMU_POINTER:  # transparency: the written word bypasses the BRAM
                    add("lut", "bram_bypass", width)
                    add("ff", "bram_rdreg", width)
            else:
                if emu == EMU_POINTER:
                    add("lut", "ram_bypass", width)
                add("ff", "ram_rdreg", width)  # LUTRAM reads asynchronously: emulated register
        return m

    def rom(self, name: str, depth: int, width: int, lut_feature: str, tables: dict[str, float] | None = None) -> MemoryMap:
        """A `$readmemh` table read through a register. yosys drops its constant columns
        before choosing where it goes; in soft logic, identical columns share their LUTs and
        read-register bits (a 2-word table is only its registered address bit). `tables`:
        the layer's `table_stats` (else random contents are assumed)."""
        tables = tables or {}
        distinct = tables.get(name)
        if depth > 1 and tables.get(name + "_width") is not None:
            width = int(tables[name + "_width"])
        m = map_memory(depth, max(1, width), rom=True, emu=EMU_PLAIN) if width > 0 else MemoryMap("logic")
        self.memories[name] = m.kind
        self.bram18 += m.bram18
        if width > 0:
            self.bram18_ecp5 += map_memory(depth, width, rom=True, emu=EMU_PLAIN, family="ecp5").bram18
        if m.kind == "logic":
            if distinct is None:
                distinct = distinct_columns(depth, width)
            self.add("ff", "regs", distinct)
            if depth > 2:
                # yosys lowers a table to a mux tree; its LUTs grow with the bits, not only
                # with the columns (one LUT6 per 64 words would be the ideal)
                self.add("lut", lut_feature + "_cols", distinct)
                self.add("lut", lut_feature + "_bits", distinct * depth)
                # abc shares more logic between the columns of a wide table: per column, wide
                # tables cost less (measured: 224 words, 11.5 LUT per column at 1,792 columns,
                # 12.5 at 896; 192 words, 10.9 at 784 columns, 13.2 at 192)
                self.add("lut", lut_feature + "_bits_shared", distinct * depth / math.log2(max(2.0, distinct)))
        else:
            self.add("lut", "mem_mux", m.mux_bits)
        return m

    def result(self, kind: str) -> Features:
        return Features(kind=kind, lut=self.lut, ff=self.ff, bram18=self.bram18, lutram=self.lutram,
                        memories=self.memories, bram18_ecp5=self.bram18_ecp5)


@dataclass(frozen=True)
class Features:
    """What the cost model counts for one block: its kind, the LUT and FF features
    ({feature: value}, dotted with the kind's coefficients), and the BRAM18 / LUTRAM sites and
    memory mappings (`map_memory`'s choice per memory: logic | lutram | bram); `bram18_ecp5`:
    the block RAMs (DP16KD) of the same memories mapped by synth_ecp5's rule."""

    kind: str
    lut: dict[str, float]
    ff: dict[str, float]
    bram18: int
    lutram: int
    memories: dict[str, str]
    bram18_ecp5: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "lut": dict(self.lut), "ff": dict(self.ff), "bram18": self.bram18,
                "bram18_ecp5": self.bram18_ecp5, "lutram": self.lutram, "memories": dict(self.memories)}


def features(module: str, params: dict[str, int], tables: dict[str, float] | None = None,
             kind: type[Block] | None = None) -> Features:
    """The `Features` of a block of RTL `module` with numeric `params` (and, for an MVAU,
    `tables`: its `table_stats`; None assumes random contents).

    Each kind defines its features (`Block.cost_features`, bnn2hls/hw/blocks/): datapath
    widths, register bits, and for every memory what `map_memory` predicts yosys makes of it."""
    kind = kind or by_module(module)
    a = _Acc()
    kind.cost_features(params, tables, a)
    return a.result(kind.cost_kind_of(params))


def block_features(block: Block) -> Features:
    """`features` of one block of the hardware graph (with its actual tables)."""
    return features(block.module, block.params, block.cost_tables(), type(block))


# --------------------------------------------------------------------------------------
# Coefficients and estimates
# --------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _load_coeffs(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def load_coefficients(path: Path | None = None) -> dict[str, Any]:
    return _load_coeffs(str(path or COEFFS_PATH))


def _dot(features: dict[str, float], coeffs: dict[str, float]) -> float:
    return sum(coeffs.get(k, 0.0) * v for k, v in features.items())


def _round(x: float) -> int:
    return int(round(x))


@dataclass(frozen=True)
class Resources:
    """Estimated resources: `lut` logic LUTs, `lutram` LUT sites used as distributed RAM,
    `ff` flip-flops, `bram18` 18 Kbit block-RAM units (xc7 RAMB18), `bram18_ecp5` the same
    memories' block RAMs as synth_ecp5 maps them (DP16KD, 18 kbit: ECP5 puts tables in block
    RAM that xc7 keeps in LUTs). `lut_total` (logic + LUTRAM) is what occupies the device's LUT
    budget. In JSON (report.json, estimate files) the keys are est_lut, est_ff, est_bram18,
    est_bram18_ecp5, est_lutram, est_lut_total."""

    lut: int = 0
    lutram: int = 0
    ff: int = 0
    bram18: int = 0
    bram18_ecp5: int = 0

    @property
    def lut_total(self) -> int:
        return self.lut + self.lutram

    def __add__(self, other: Resources) -> Resources:
        return Resources(lut=self.lut + other.lut, lutram=self.lutram + other.lutram, ff=self.ff + other.ff,
                         bram18=self.bram18 + other.bram18, bram18_ecp5=self.bram18_ecp5 + other.bram18_ecp5)

    def to_dict(self) -> dict[str, int]:
        return {"est_lut": self.lut, "est_ff": self.ff, "est_bram18": self.bram18, "est_bram18_ecp5": self.bram18_ecp5,
                "est_lutram": self.lutram, "est_lut_total": self.lut_total}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Resources:
        """From the `est_*` fields of a report.json entry (est_lut_total is derived; a report
        written before est_bram18_ecp5 existed counts xc7's block RAMs for it)."""
        return cls(lut=int(d["est_lut"]), lutram=int(d["est_lutram"]), ff=int(d["est_ff"]),
                   bram18=int(d["est_bram18"]), bram18_ecp5=int(d.get("est_bram18_ecp5", d["est_bram18"])))


@dataclass(frozen=True)
class BlockEstimate:
    """One block's estimate. `lut` / `ff` are rounded; `lut_exact` / `ff_exact` are the model's
    unrounded values, which a layer sums before rounding."""

    name: str
    kind: str
    layer: str
    role: str
    lut_exact: float
    ff_exact: float
    bram18: int
    lutram: int
    memories: dict[str, str]
    bram18_ecp5: int = 0

    @property
    def lut(self) -> int:
        return _round(self.lut_exact)

    @property
    def ff(self) -> int:
        return _round(self.ff_exact)

    @property
    def resources(self) -> Resources:
        return Resources(lut=self.lut, lutram=self.lutram, ff=self.ff, bram18=self.bram18,
                         bram18_ecp5=self.bram18_ecp5)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "layer": self.layer, "role": self.role, "est_lut": self.lut, "est_ff": self.ff,
                "est_bram18": self.bram18, "est_bram18_ecp5": self.bram18_ecp5, "est_lutram": self.lutram,
                "memories": dict(self.memories)}


@dataclass(frozen=True)
class LayerEstimate:
    """One IR layer's estimate: the resources of its blocks and its cycle interval."""

    resources: Resources
    cycles: int  # est_cycles: the layer's initiation interval per frame

    def to_dict(self) -> dict[str, Any]:
        r = self.resources
        return {**r.to_dict(), "est_cycles": self.cycles}


@dataclass(frozen=True)
class NetworkEstimate:
    """`estimate`'s result: network totals, per layer (in datapath order) and per block."""

    resources: Resources
    cycles_per_frame: int  # the bottleneck interval
    bottleneck: str
    layers: dict[str, LayerEstimate]
    blocks: dict[str, BlockEstimate]
    family: str
    model: Any  # the coefficient file's version

    def network_dict(self) -> dict[str, Any]:
        return {**self.resources.to_dict(), "est_cycles_per_frame": self.cycles_per_frame,
                "bottleneck": self.bottleneck}

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network_dict(), "layers": {k: v.to_dict() for k, v in self.layers.items()},
                "blocks": {k: v.to_dict() for k, v in self.blocks.items()}, "family": self.family,
                "model": self.model}


# bnn_top brings every block its reset through a register of its own (templates/rtl/
# bnn_top.sv.j2), outside the block's module that the coefficients were fitted on.
RESET_COPY_FF = 1.0


def estimate_block(block: Block, coeffs: dict[str, Any] | None = None) -> BlockEstimate:
    coeffs = coeffs or load_coefficients()
    f = block_features(block)
    kc = coeffs["kinds"][f.kind]
    return BlockEstimate(name=block.name, kind=f.kind, layer=block.layer.name, role=block.role,
                         lut_exact=max(0.0, _dot(f.lut, kc["lut"])),
                         ff_exact=max(0.0, _dot(f.ff, kc["ff"])) + RESET_COPY_FF,
                         bram18=int(f.bram18), lutram=int(f.lutram), memories=f.memories,
                         bram18_ecp5=int(f.bram18_ecp5))


def estimate(net: Network, coeffs: dict[str, Any] | None = None, graph: HwGraph | None = None) -> NetworkEstimate:
    """Per-layer, per-block and network estimates (`Resources`: logic LUTs, LUTRAM sites, FFs,
    BRAM18) and the cycle estimates of passes.folding, for the blocks of `graph` (default:
    `hw.lower(net)`). A layer's LUT and FF are its blocks' unrounded sums, rounded."""
    coeffs = coeffs or load_coefficients()
    graph = graph or lower(net)
    cycles = estimate_cycles(net)
    blocks = {block.name: estimate_block(block, coeffs) for block in graph.blocks}
    layers: dict[str, LayerEstimate] = {}
    for layer in net.datapath:
        mine = [b for b in blocks.values() if b.layer == layer.name]
        res = Resources(lut=_round(sum((b.lut_exact for b in mine), 0.0)), lutram=sum(b.lutram for b in mine),
                        ff=_round(sum((b.ff_exact for b in mine), 0.0)), bram18=sum(b.bram18 for b in mine),
                        bram18_ecp5=sum(b.bram18_ecp5 for b in mine))
        layers[layer.name] = LayerEstimate(resources=res, cycles=cycles["layers"][layer.name]["interval"])
    total = sum((e.resources for e in layers.values()), Resources())
    return NetworkEstimate(resources=total, cycles_per_frame=cycles["est_cycles_per_frame"],
                           bottleneck=cycles["bottleneck"], layers=layers, blocks=blocks,
                           family=coeffs.get("family", "xc7"), model=coeffs.get("version"))


# --------------------------------------------------------------------------------------
# Baselines for the fidelity comparison
# --------------------------------------------------------------------------------------
def macs(layer: Any) -> int:
    """Multiply-accumulates per frame (0 for layers without a matrix)."""
    if isinstance(layer, MatrixLayer):
        oh, ow = layer.out_hw
        return layer.out_channels * layer.fan_in * oh * ow
    return 0


def finn_lut(layer: Any) -> float:
    """FINN-R's MVAU LUT estimate (docs/DESIGN.md section 2):
    LUT = 300 + 1.1 * PE * (addertree + acc + thr + comp), addertree = (W + A) * (2*SIMD - 1),
    with W = weight bits, A = input bits, acc = ACC_W, thr = THR_W * (number of threshold
    steps = 1 for a sign), comp = THR_W. Layers without a matrix count 0 (FINN gives them no
    LUT model)."""
    if not isinstance(layer, MatrixLayer):
        return 0.0
    w_bits, a_bits = layer.weight_bits, layer.input_bits
    acc = acc_width(layer.fan_in, layer.input_bits, layer.weight_bits)
    steps = max(1, layer.out_levels - 1)
    thr = thr_width(layer.fan_in, layer.input_bits, layer.weight_bits) * steps if layer.binarize else 0
    comp = thr
    addertree = (w_bits + a_bits) * (2 * layer.simd - 1)
    return 300 + 1.1 * layer.pe * (addertree + acc + thr + comp)
