"""Analytic LUT / FF / BRAM18 estimates for the Verilog backend's blocks, without generating
anything (CNV in a few milliseconds), calibrated against yosys `synth_xilinx -family xc7`.

Model
-----
The network is the backend's chain of blocks (hls_lib/rtl/README.md); `network_blocks` lists
them with the parameters `backends.rtl.plan_network` gives them (recomputed here from the IR
with the backend's own helpers, without writing memory files; tests/test_synth_cost.py checks
the two agree). Every block is then costed in two parts:

1. **Memories** (weight/threshold/flip tables, MVAU output queue, FIFO storage, line buffers,
   input queues) go through `map_memory`, a transcription of the cost rule yosys'
   `memory_libmap` applies with synth_xilinx's xc7 libraries (soft logic at 1 per RAM bit and
   1/64 per ROM bit, distributed RAM 8 per RAM32M/RAM64M cell, block RAM 129 per RAMB18 /
   257 per RAMB36, 2 per emulation point, 0.5 per extra read-mux input). The cheapest choice
   gives BRAM18 and LUTRAM directly (exact on all 150 characterization blocks). A table left
   in soft logic costs LUTs by its distinct non-constant columns and their bits (yosys merges
   identical columns; `table_stats` counts them in the layer's actual tables).
2. **Logic** is a linear function of a few structural features per block kind, e.g. for an
   MVAU `LUT ~ c0 + a*PE*SIMD (popcount; PE*SIMD*ACC_W for a multi-bit add chain) + b*PE*SIMD (weight select)
   + c*table columns + d*table bits + e*MW*IN_B (input rotator) + ...` and `FF ~` the register
   bits the RTL declares. The coefficients are data (`bnn2hls/data/cost_model.json`), fitted
   by `benchmarks/characterize.py` on synthetic layers synthesized with yosys; the three MVAU
   kinds are fitted together (they share the datapath).

Kinds: mvau_bin (binary input, thresholded), mvau_mb (multi-bit input, thresholded),
mvau_last (raw accumulators), swg, maxpool, flatten, fifo.

`est_lut` counts logic LUTs (yosys LUT1..LUT6); LUTRAM sites are `est_lutram`, and
`est_lut_total` is what occupies the device's LUT budget.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .backends import rtl as rtl_backend
from .backends.fifo_sizing import window_fifo_depth
from .backends.mvau_memories import acc_width, clamp_thresholds, clog2, thr_width
from .ir import Conv, Dense, MatrixLayer, MaxPool, Network
from .passes.folding import estimate_cycles, mvau_cycles

COEFFS_PATH = Path(__file__).resolve().parent / "data" / "cost_model.json"
KINDS = ("mvau_bin", "mvau_mb", "mvau_last", "swg", "maxpool", "flatten", "fifo")


# --------------------------------------------------------------------------------------
# The block chain (mirror of backends.rtl.plan_network, no files)
# --------------------------------------------------------------------------------------
@dataclass
class Block:
    layer: str
    role: str  # swg | winq | mvau | flatten | maxpool | fifo
    module: str
    name: str  # the backend's instance name
    params: dict[str, int]
    # MVAU tables: {"weights" | "thresholds" | "flip": distinct non-constant columns}, from
    # the layer's actual contents (None: assume random contents)
    tables: dict[str, float] | None = None


def _mvau_params(layer: MatrixLayer, user_w: int) -> dict[str, int]:
    acc_w = acc_width(layer.fan_in, layer.input_bits)
    if layer.binarize:
        if layer.input_bits == 1 and layer.border is not None:
            n_classes = int(layer.border.corrections[..., 0].size)  # R * C * 2 parities
        else:
            n_classes = 1
        t_w = thr_width(layer.fan_in, layer.input_bits)
    else:
        n_classes, t_w = 1, 1
    return {"MW": layer.fan_in, "MH": layer.out_channels, "PE": layer.pe, "SIMD": layer.simd, "IN_B": layer.input_bits,
            "BINARIZE": int(layer.binarize), "N_CLASSES": n_classes, "USER_W": user_w, "ACC_W": acc_w, "THR_W": t_w}


def _columns(table: np.ndarray) -> tuple[int, int]:
    """(distinct non-constant columns, non-constant columns) of a bool [depth, width] table."""
    depth = table.shape[0]
    if depth <= 1:
        return 0, 0
    varying = table.any(axis=0) & ~table.all(axis=0)
    n_varying = int(varying.sum())
    if depth > 16:  # 2**depth patterns: columns of random tables are all distinct
        return n_varying, n_varying
    cols = np.packbits(np.ascontiguousarray(table[:, varying].T), axis=1)
    return int(len(np.unique(cols, axis=0))) if n_varying else 0, n_varying


def table_stats(layer: MatrixLayer) -> dict[str, float]:
    """Distinct non-constant columns of the layer's weight / threshold / flip tables in the
    MVAU's layout (hls_lib/rtl/README.md), which is what soft logic costs for them."""
    pe, simd = layer.pe, layer.simd
    mh, mw = layer.out_channels, layer.fan_in
    nf, sf = mh // pe, mw // simd
    w = np.asarray(layer.weights, bool).reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)
    stats: dict[str, float] = {}

    def put(name: str, table: np.ndarray) -> None:
        distinct, varying = _columns(table)
        stats[name] = float(distinct)
        stats[name + "_width"] = float(varying)  # yosys drops constant columns of a table

    put("weights", w)
    if layer.binarize and layer.thresholds is not None:
        thr = clamp_thresholds(rtl_backend.mvau_thresholds(layer), mw, layer.input_bits)
        t_w = thr_width(mw, layer.input_bits)
        words = (thr.reshape(-1, nf, pe) & ((1 << t_w) - 1)).reshape(-1, pe)  # [n_cls*nf, pe]
        bits = ((words[:, :, None] >> np.arange(t_w)) & 1).astype(bool).reshape(words.shape[0], pe * t_w)
        put("thresholds", bits)
        put("flip", np.asarray(layer.flip if layer.flip is not None else np.zeros(mh, bool), bool).reshape(nf, pe))
    return stats


def network_blocks(net: Network, tables: bool = True) -> list[Block]:
    """The blocks `plan_network` instantiates, in order, with their numeric parameters
    (and, with `tables`, the MVAU table statistics of `table_stats`)."""
    blocks: list[Block] = []
    layers = net.datapath
    for i, layer in enumerate(layers):
        bits = rtl_backend.element_bits(net, i)
        if isinstance(layer, Conv):
            h, w, c = layer.in_shape
            if layer.border is not None:
                n_rows, n_cols = layer.border.corrections.shape[:2]
            else:
                n_rows, n_cols = 1, 1
            cls_w = max(1, clog2(max(n_rows, n_cols)))
            user_w = max(1, clog2(n_rows * n_cols * 2))
            oh, ow = layer.out_hw
            params = {"C": c, "B": bits, "H": h, "W": w, "KH": layer.kernel[0], "KW": layer.kernel[1],
                      "SH": layer.stride[0], "SW": layer.stride[1], "PAD_T": layer.pads[0], "PAD_L": layer.pads[1],
                      "PAD_B": layer.pads[2], "PAD_R": layer.pads[3], "N_ROW_CLASSES": n_rows,
                      "N_COL_CLASSES": n_cols, "CLS_W": cls_w, "USER_W": user_w}
            blocks.append(Block(layer.name, "swg", "bnn_swg", f"u_{layer.name}_swg", params))
            depth = window_fifo_depth(layer, mvau_cycles(layer) // (oh * ow))
            if depth:
                width = layer.kernel[0] * layer.kernel[1] * c * bits
                blocks.append(Block(layer.name, "winq", "bnn_fifo", f"u_{layer.name}_winq",
                                    {"WIDTH": width + user_w, "DEPTH": depth}))
            mvau = _mvau_params(layer, user_w)
            blocks.append(Block(layer.name, "mvau", "bnn_mvau", f"u_{layer.name}_mvau", mvau,
                                table_stats(layer) if tables else None))
        elif isinstance(layer, Dense):
            prev_shape = net.input_quant.out_shape if i == 0 else layers[i - 1].out_shape
            pixels = prev_shape[0] * prev_shape[1]
            if pixels > 1:
                blocks.append(Block(layer.name, "flatten", "bnn_flatten", f"u_{layer.name}_flatten",
                                    {"W": rtl_backend.pixel_width(prev_shape, bits), "N": pixels}))
            mvau = _mvau_params(layer, 1)
            blocks.append(Block(layer.name, "mvau", "bnn_mvau", f"u_{layer.name}_mvau", mvau,
                                table_stats(layer) if tables else None))
        elif isinstance(layer, MaxPool):
            h, w, c = layer.in_shape
            blocks.append(Block(layer.name, "maxpool", "bnn_maxpool", f"u_{layer.name}",
                                {"C": c, "H": h, "W": w, "KH": layer.kernel[0], "KW": layer.kernel[1],
                                 "SH": layer.stride[0], "SW": layer.stride[1]}))
        else:
            continue
        if i < len(layers) - 1:
            last = blocks[-1]
            if last.module == "bnn_mvau":
                p = last.params
                width = p["MH"] if p["BINARIZE"] else p["MH"] * p["ACC_W"]
            else:
                width = last.params["C"]
            blocks.append(Block(layer.name, "fifo", "bnn_fifo", f"u_{layer.name}_fifo",
                                {"WIDTH": width, "DEPTH": rtl_backend.fifo_depth(layers[i + 1])}))
    return blocks


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


@lru_cache(maxsize=4096)
def map_memory(depth: int, width: int, rom: bool, emu: int = EMU_PLAIN) -> MemoryMap:
    """yosys' choice (memory_libmap with synth_xilinx's xc7 libraries and costs) for a
    `depth` x `width` memory: the cheapest of soft logic (1 per RAM bit, 1/64 per ROM bit,
    truncated to an integer), distributed RAM (not for ROMs) and block RAM, each mapping
    paying FACTOR_EMU per emulation point (`emu`), FACTOR_MUX per extra read-mux input and
    FACTOR_DEMUX per extra write enable."""
    depth, width = max(1, int(depth)), max(1, int(width))
    bits = depth * width
    best = MemoryMap("logic", logic_bits=bits, cost=int(bits * (LOGIC_COST_ROM if rom else LOGIC_COST_RAM)))
    if depth == 1:
        return best
    if not rom:
        for _, cost, ws, abits, unit, luts in LUTRAM_CONFIGS:
            mult_a = math.ceil(depth / (1 << abits))
            repl = math.ceil(mult_a * width / unit)
            c = (cost - ws) * repl + ws * mult_a * width / unit + FACTOR_EMU * emu
            if mult_a > 1:
                c += FACTOR_MUX * (mult_a - 1) * width + FACTOR_DEMUX * mult_a
            if c < best.cost:
                best = MemoryMap("lutram", lutram=repl * luts, mux_bits=(mult_a - 1) * width, cost=c)
    for cost, cfg_depth, unit, b18 in BRAM_CONFIGS:
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
    if block.module == "bnn_mvau":
        p = block.params
        if not p["BINARIZE"]:
            return "mvau_last"
        return "mvau_bin" if p["IN_B"] == 1 else "mvau_mb"
    return {"bnn_swg": "swg", "bnn_maxpool": "maxpool", "bnn_flatten": "flatten", "bnn_fifo": "fifo"}[block.module]


class _Acc:
    """Feature accumulator for one block."""

    def __init__(self) -> None:
        self.lut: dict[str, float] = {"const": 1.0}
        self.ff: dict[str, float] = {"const": 1.0}
        self.bram18 = 0
        self.lutram = 0
        self.memories: dict[str, str] = {}

    def add(self, target: str, key: str, value: float) -> None:
        d = self.lut if target == "lut" else self.ff
        d[key] = d.get(key, 0.0) + float(value)

    def ram(self, name: str, depth: int, width: int, emu: int) -> MemoryMap:
        """A RAM (write port + read port) and what its mapping adds around it."""
        m = map_memory(depth, width, rom=False, emu=emu)
        self.memories[name] = m.kind
        self.bram18 += m.bram18
        self.lutram += m.lutram
        if m.kind == "logic":
            self.add("ff", "ram_ff", depth * width)
            self.add("lut", "ram_mux", width * (depth - 1))
        else:
            self.add("lut", "mem_mux", m.mux_bits)
            if m.kind == "bram":
                if emu == EMU_POINTER:  # transparency: the written word bypasses the BRAM
                    self.add("lut", "bram_bypass", width)
                    self.add("ff", "bram_rdreg", width)
            else:
                if emu == EMU_POINTER:
                    self.add("lut", "ram_bypass", width)
                self.add("ff", "ram_rdreg", width)  # LUTRAM reads asynchronously: emulated register
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

    def result(self, kind: str) -> dict[str, Any]:
        return {"kind": kind, "lut": self.lut, "ff": self.ff, "bram18": self.bram18, "lutram": self.lutram,
                "memories": self.memories}


def block_features(block: Block) -> dict[str, Any]:
    """{"kind", "lut": {feature: value}, "ff": {feature: value}, "bram18", "lutram", "memories"}.

    Features follow the RTL of each block (hls_lib/rtl/*.sv): datapath widths, register bits,
    and for every memory what `map_memory` predicts yosys makes of it."""
    p = block.params
    kind = block_kind(block)
    a = _Acc()
    if block.module == "bnn_mvau":
        mw, mh, pe, simd, in_b = p["MW"], p["MH"], p["PE"], p["SIMD"], p["IN_B"]
        acc_w, thr_w, n_cls = p["ACC_W"], p["THR_W"], p["N_CLASSES"]
        nf, sf = mh // pe, mw // simd
        binarize = bool(p["BINARIZE"])
        out_w = mh if binarize else mh * acc_w
        fold_w = pe if binarize else pe * acc_w
        lanes = pe * simd
        # per lane a SIMD-input popcount (binary), or a chain of SIMD add/subtracts of
        # sign-extended ACC_W-bit terms (multi-bit), and the weight select (XNOR, or the
        # add/subtract choice; free for a constant 1-word table)
        if in_b == 1:
            a.add("lut", "lanes", lanes)
            if nf * sf > 1:
                a.add("lut", "wsel", lanes)
        else:
            a.add("lut", "lanes_mb", lanes * acc_w)
            if nf * sf > 1:
                a.add("lut", "wsel_mb", lanes * acc_w)
        tables = block.tables or {}
        a.rom("weights", nf * sf, lanes, "wrom", tables)
        a.add("lut", "acc", pe * acc_w)
        if binarize:
            a.rom("thresholds", n_cls * nf, pe * thr_w, "thr_rom", tables)
            a.rom("flip", nf, pe, "thr_rom", tables)
            a.add("lut", "cmp", pe * thr_w)
        a.ram("out_queue", 2, out_w, EMU_POINTER)
        if sf > 1:
            a.add("lut", "x_rot", mw * in_b)
        a.add("ff", "regs", pe * acc_w + simd * in_b + mw * in_b + (out_w - fold_w if nf > 1 else 0))
        return a.result(kind)
    if block.module in ("bnn_swg", "bnn_maxpool"):
        c, h, w, kh, kw = p["C"], p["H"], p["W"], p["KH"], p["KW"]
        pix = c * p.get("B", 1)
        swg = block.module == "bnn_swg"
        if swg:
            hp, wp = h + p["PAD_T"] + p["PAD_B"], w + p["PAD_L"] + p["PAD_R"]
            oh, ow = (hp - kh) // p["SH"] + 1, (wp - kw) // p["SW"] + 1
            cls_bits = (oh + ow) * p["CLS_W"] if p["N_ROW_CLASSES"] * p["N_COL_CLASSES"] > 1 else 0
        else:
            hp, wp, cls_bits = h, w, 0
        a.ram("in_queue", 2, pix, EMU_POINTER)
        if kh > 1:
            if wp > 1:
                a.ram("line_buffer", wp, (kh - 1) * pix, EMU_PLAIN)
            else:
                a.add("ff", "regs", (kh - 1) * pix)
        col = kh if swg else 1
        a.add("lut", "pix", pix)  # pad mux (swg) / column OR (maxpool)
        a.add("lut", "cls", cls_bits)
        a.add("lut", "ctr", clog2(hp + 2) + clog2(wp + 2))
        if not swg:
            a.add("lut", "or_tree", kh * kw * pix)
        a.add("ff", "regs", (kh * kw * pix if swg else pix) + (kw - 1) * col * pix + cls_bits)
        a.add("ff", "ctr", clog2(hp + 2) + clog2(wp + 2))
        return a.result(kind)
    if block.module == "bnn_flatten":
        n, w = p["N"], p["W"]
        a.add("lut", "bits", n * w)
        a.add("lut", "ctr", clog2(n))
        a.add("ff", "regs", 2 * n * w if n > 1 else w)
        return a.result(kind)
    if block.module == "bnn_fifo":
        width, depth = p["WIDTH"], p["DEPTH"]
        a.ram("storage", depth, width, EMU_POINTER)
        a.add("lut", "ptr", clog2(depth))
        a.add("ff", "ptr", clog2(depth))
        return a.result(kind)
    raise ValueError(block.module)


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


def estimate_block(block: Block, coeffs: dict[str, Any] | None = None) -> dict[str, Any]:
    coeffs = coeffs or load_coefficients()
    f = block_features(block)
    kc = coeffs["kinds"][f["kind"]]
    return {"kind": f["kind"], "layer": block.layer, "role": block.role,
            "est_lut": max(0.0, _dot(f["lut"], kc["lut"])), "est_ff": max(0.0, _dot(f["ff"], kc["ff"])),
            "est_bram18": int(f["bram18"]), "est_lutram": int(f["lutram"]), "memories": f["memories"]}


def estimate(net: Network, coeffs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per-layer and network estimates: est_lut (logic LUTs), est_lutram (LUT sites used as
    RAM), est_lut_total, est_ff, est_bram18 and the cycle estimates of passes.folding."""
    coeffs = coeffs or load_coefficients()
    cycles = estimate_cycles(net)
    layers: dict[str, dict[str, Any]] = {}
    blocks: dict[str, dict[str, Any]] = {}
    for layer in net.datapath:
        layers[layer.name] = {"est_lut": 0.0, "est_ff": 0.0, "est_bram18": 0, "est_lutram": 0,
                              "est_cycles": cycles["layers"][layer.name]["interval"]}
    for block in network_blocks(net):
        e = estimate_block(block, coeffs)
        blocks[block.name] = e
        entry = layers[block.layer]
        for key in ("est_lut", "est_ff", "est_bram18", "est_lutram"):
            entry[key] += e[key]
    for entry in layers.values():
        entry["est_lut"] = int(round(entry["est_lut"]))
        entry["est_ff"] = int(round(entry["est_ff"]))
        entry["est_lut_total"] = entry["est_lut"] + entry["est_lutram"]
    network = {key: sum(e[key] for e in layers.values()) for key in ("est_lut", "est_ff", "est_bram18", "est_lutram", "est_lut_total")}
    network["est_cycles_per_frame"] = cycles["est_cycles_per_frame"]
    network["bottleneck"] = cycles["bottleneck"]
    for b in blocks.values():
        b["est_lut"] = int(round(b["est_lut"]))
        b["est_ff"] = int(round(b["est_ff"]))
    return {"network": network, "layers": layers, "blocks": blocks, "family": coeffs.get("family", "xc7"),
            "model": coeffs.get("version")}


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
    """FINN-R's MVAU LUT estimate (GUIDE.md section 3):
    LUT = 300 + 1.1 * PE * (addertree + acc + thr + comp), addertree = (W + A) * (2*SIMD - 1),
    with W = 1 weight bit, A = input bits, acc = ACC_W, thr = THR_W * (number of threshold
    steps = 1 for a sign), comp = THR_W. Layers without a matrix count 0 (FINN gives them no
    LUT model)."""
    if not isinstance(layer, MatrixLayer):
        return 0.0
    w_bits, a_bits = 1, layer.input_bits
    acc = acc_width(layer.fan_in, layer.input_bits)
    thr = thr_width(layer.fan_in, layer.input_bits) if layer.binarize else 0
    comp = thr
    addertree = (w_bits + a_bits) * (2 * layer.simd - 1)
    return 300 + 1.1 * layer.pe * (addertree + acc + thr + comp)
