"""`mvau`: the PE x SIMD matrix-vector(-threshold) unit (hls_lib/rtl/bnn_mvau.sv,
hls_lib/hls/bnn_mvau.h), in its variants: binary x binary thresholded (cost kind mvau_bin),
multi-bit inputs or weights thresholded to a sign or to LEVELS levels (mvau_mb), raw
accumulators of the last layer (mvau_last).

Its memories (weights, thresholds per border class, flip bits) are arrays in the layouts of
hls_lib/rtl/README.md, packed by hw/mvau_memories.py."""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ...ir import datapath
from ...ir import MatrixLayer
from ..mvau_memories import (acc_width, clamp_thresholds, flip_words, thr_width, threshold_words, weight_bank_depth,
                             weight_banks, weight_words)
from .base import Block, LowerContext, Memory, Stream, timing_stage


def mvau_cycles(layer: MatrixLayer, pe: int | None = None, simd: int | None = None) -> int:
    """(MH/PE) * (MW/SIMD) * output pixels (FINN's formula)."""
    pe, simd = pe or layer.pe, simd or layer.simd
    oh, ow = layer.out_hw
    return (layer.out_channels // pe) * (layer.fan_in // simd) * oh * ow


def mvau_tree_levels(simd: int, popcount: bool) -> int:
    """Registered levels of bnn_mvau's per-lane product / popcount tree: groups of 8 products
    then 4-way sums (XNOR-popcount), single products then pairwise sums (signed products)."""
    group, fan = (8, 4) if popcount else (1, 2)
    n, levels = -(-simd // group), 1
    while n > 1:
        n, levels = -(-n // fan), levels + 1
    return levels


# bnn_mvau's XBANK: the input vector register is loaded and rotated in banks of this many
# bits, each with its own copies of the control registers (so an enable's fanout is at most this)
MVAU_INPUT_BANK_BITS = 64
# bnn_mvau's WSLICE: the weight ROM is read in slices of this many bits, each with its own
# copy of the word address (a whole number of words of every block RAM shape)
MVAU_WEIGHT_SLICE_BITS = 72


def mvau_weight_slices(depth: int, width: int) -> int:
    """Address copies of bnn_mvau's read of a `depth` x `width` weight ROM (banks side by side:
    their whole width): one per slice (NWS) when there are several, else none (waddr itself)."""
    slices = -(-width // MVAU_WEIGHT_SLICE_BITS)
    return 0 if depth <= 1 or slices == 1 else slices


def mvau_pipeline_latency(simd: int, popcount: bool) -> int:
    """Cycles from a step's issue to its output word's queue write in bnn_mvau (and bnn_vvau):
    weight read, two registers after it, the tree's levels, accumulate, activate, queue write.
    Latency only: the interval stays (MH/PE) * (MW/SIMD) per vector."""
    return 6 + mvau_tree_levels(simd, popcount)


def mvau_thresholds(layer: MatrixLayer) -> np.ndarray:
    """int64 [N_CLASSES, MH] (sign) or [N_CLASSES, MH, LEVELS-1] (multi-threshold) in the
    unit's compare domain (popcount for binary x binary)."""
    assert layer.thresholds is not None
    if layer.popcount:  # one column (of L-1 thresholds for levels) per border class
        table = datapath.popcount_threshold_classes(layer)
        return table.reshape(-1, *table.shape[3:])
    return layer.thresholds[None] if layer.out_levels else layer.thresholds.reshape(1, -1)


def weight_table(layer: MatrixLayer) -> np.ndarray:
    """The weights as the unit reads them: bool [MH, MW] (+1 is True) or int8 [MH, MW]."""
    return np.asarray(layer.weights, bool if layer.weight_bits == 1 else np.int8)


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
    w_b = layer.weight_bits
    planes = (np.asarray(layer.weights, bool)[..., None] if w_b == 1 else
              ((np.asarray(layer.weights, np.int64)[..., None] >> np.arange(w_b)) & 1).astype(bool))
    w = planes.reshape(nf, pe, sf, simd, w_b).transpose(0, 2, 1, 3, 4).reshape(nf * sf, pe * simd * w_b)
    stats: dict[str, float] = {}

    def put(name: str, table: np.ndarray) -> None:
        distinct, varying = _columns(table)
        stats[name] = float(distinct)
        stats[name + "_width"] = float(varying)  # yosys drops constant columns of a table

    put("weights", w)
    if layer.binarize and layer.thresholds is not None:
        thr = clamp_thresholds(mvau_thresholds(layer), mw, layer.input_bits, w_b)
        t_w = thr_width(mw, layer.input_bits, w_b)
        steps = max(1, layer.out_levels - 1)
        words = (thr.reshape(-1, nf, pe * steps) & ((1 << t_w) - 1)).reshape(-1, pe * steps)  # [n_cls*nf, pe*T]
        bits = ((words[:, :, None] >> np.arange(t_w)) & 1).astype(bool).reshape(words.shape[0], pe * steps * t_w)
        put("thresholds", bits)
        put("flip", np.asarray(layer.flip if layer.flip is not None else np.zeros(mh, bool), bool).reshape(nf, pe))
    return stats


class Mvau(Block):
    kind = "mvau"
    module = "bnn_mvau"
    rtl_files: ClassVar[tuple[str, ...]] = ("bnn_mvau.sv",)
    hls_files: ClassVar[tuple[str, ...]] = ("bnn_mvau.h",)
    library_rank = 4

    @classmethod
    def build(cls, ctx: LowerContext) -> Block:
        layer = ctx.layer
        mw, mh, pe, simd, in_b = layer.fan_in, layer.out_channels, layer.pe, layer.simd, layer.input_bits
        w_b, levels = layer.weight_bits, layer.out_levels
        nf, sf = mh // pe, mw // simd
        acc_w = acc_width(mw, in_b, w_b)
        weights = weight_table(layer)
        bank_depth = weight_bank_depth(nf * sf, pe * simd * w_b)
        memories = [Memory("weights", "WEIGHT_FILE", f"{layer.name}_weights.mem", "WEIGHTS", pe * simd * w_b, nf * sf,
                           weights, lambda: weight_words(weights, pe, simd, w_bits=w_b),
                           f"[NF*SF = {nf}*{sf}] words of PE*SIMD = {pe}*{simd} bits"
                           + (f" x W_B = {w_b}" if w_b > 1 else ""), bank_depth=bank_depth)]
        if layer.binarize:
            t_w = thr_width(mw, in_b, w_b)
            thr = clamp_thresholds(mvau_thresholds(layer), mw, in_b, w_b)
            n_classes, steps = len(thr), max(1, levels - 1)
            flip = np.zeros(mh, bool) if layer.flip is None else np.asarray(layer.flip, bool)
            memories += [
                Memory("thresholds", "THRESH_FILE", f"{layer.name}_thresh.mem", "THRESHOLDS", pe * steps * t_w,
                       n_classes * nf, thr,
                       lambda: threshold_words(thr, pe, t_w, signed=not layer.popcount, levels=levels),
                       f"[N_CLASSES*NF = {n_classes}*{nf}] words of PE*THR_W = {pe}*{t_w} bits"
                       + (f" x {steps} levels" if levels else "")
                       + f" ({'unsigned popcount' if layer.popcount else 'signed accumulator'} thresholds)"),
                Memory("flip", "FLIP_FILE", f"{layer.name}_flip.mem", "FLIPS", pe, nf, flip, lambda: flip_words(flip, pe),
                       f"[NF = {nf}] words of PE = {pe} bits"),
            ]
            o_b = layer.out_bits
            out = Stream(layer.name, "out", mh * o_b, o_b, f"{layer.name}: output pixels")
        else:
            t_w, n_classes = 1, 1
            out = Stream(layer.name, "out", mh * acc_w, acc_w, f"{layer.name}: output pixels")
        user_w = ctx.user_w  # the class id of a window stream (1 bit, unused, for a dense layer)
        params = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "IN_B": in_b}
        # Defaults of the unit (binary weights, sign output) are left out, so binary networks
        # keep the instance text they always had.
        if w_b > 1:
            params["W_B"] = w_b
        if levels:
            params.update(LEVELS=levels, O_B=layer.out_bits, OFFSET=layer.out_offset)
        params.update({"BINARIZE": int(layer.binarize), "N_CLASSES": n_classes, "USER_W": user_w, "ACC_W": acc_w,
                       "THR_W": t_w})
        if bank_depth:
            params["WBANK_D"] = bank_depth
        block = cls(f"u_{layer.name}_{cls.kind}", layer, cls.kind, ctx.src, out, params, memories,
                    comment=f"{layer.name}: {cls.kind.upper()} MW={mw} MH={mh} PE={pe} SIMD={simd}"
                    + (f" W_B={w_b}" if w_b > 1 else "") + (f" LEVELS={levels}" if levels else ""))
        block.user_in = True if layer.border is not None else "tied"  # type: ignore[misc]  # per instance: depends on the layer
        return block

    @classmethod
    def layer_cycles(cls, layer: Any) -> dict[str, int]:
        return {cls.kind: mvau_cycles(layer)}

    @classmethod
    def layer_interval(cls, layer: Any) -> int:
        return mvau_cycles(layer)

    @classmethod
    def layer_latency(cls, layer: Any) -> int:
        # a vector accepted at edge t: steps issue at t+1 .. t+NF*SF, the word is written
        # into the output queue 6 + TL - 1 cycles after the last, presented one cycle later
        return mvau_pipeline_latency(layer.simd, layer.popcount)

    # -- the input vector as the unit walks it (the vector-vector unit overrides) -------------
    @classmethod
    def vector_elements(cls, p: dict[str, int]) -> int:
        """Elements of one input vector (the rotating register)."""
        return p["MW"]

    @classmethod
    def step_elements(cls, p: dict[str, int]) -> int:
        """Input elements one step reads (shared by the PE lanes)."""
        return p["SIMD"]

    @classmethod
    def vector_steps(cls, p: dict[str, int]) -> int:
        """Steps until the rotating vector comes round: SF (every output fold rereads it)."""
        return p["MW"] // p["SIMD"]

    # -- cost ------------------------------------------------------------------------------
    @classmethod
    def cost_kind_of(cls, params: dict[str, int]) -> str:
        if not params["BINARIZE"]:
            return "mvau_last"
        return "mvau_bin" if params["IN_B"] == 1 and params.get("W_B", 1) == 1 else "mvau_mb"

    def cost_tables(self) -> dict[str, float]:
        return table_stats(self.layer)

    @classmethod
    def cost_features(cls, p: dict[str, int], tables: dict[str, float] | None, a: Any) -> None:
        mw, mh, pe, simd, in_b = p["MW"], p["MH"], p["PE"], p["SIMD"], p["IN_B"]
        acc_w, thr_w, n_cls = p["ACC_W"], p["THR_W"], p["N_CLASSES"]
        w_b, levels, o_b = p.get("W_B", 1), p.get("LEVELS", 0), p.get("O_B", 1)
        steps = max(1, levels - 1)  # thresholds per channel
        nf, sf = mh // pe, mw // simd
        binarize = bool(p["BINARIZE"])
        out_w = (mh * o_b if levels else mh) if binarize else mh * acc_w
        fold_w = out_w // nf
        lanes = pe * simd
        # A multi-bit weight is a shift-add of its W_B bits times a multi-bit input (one
        # add/subtract per bit); times a binary input it is one add/subtract of +-w.
        terms = w_b if (w_b > 1 and in_b > 1) else 1
        # per lane a SIMD-input popcount (binary), or a chain of SIMD add/subtracts of
        # sign-extended ACC_W-bit terms (multi-bit), and the weight select (XNOR, or the
        # add/subtract choice; free for a constant 1-word table)
        if in_b == 1 and w_b == 1:
            a.add("lut", "lanes", lanes)
            if nf * sf > 1:
                a.add("lut", "wsel", lanes)
        else:
            a.add("lut", "lanes_mb", lanes * acc_w * terms)
            if nf * sf > 1:
                a.add("lut", "wsel_mb", lanes * acc_w * terms)
        tables = tables or {}
        bank_depth = p.get("WBANK_D", 0)
        if bank_depth:  # banks side by side (one wide block RAM word), then the word select
            banks = weight_banks(nf * sf, bank_depth)
            a.rom("weights", bank_depth, banks * lanes * w_b, "wrom")
            a.add("lut", "mem_mux", (banks - 1) * lanes * w_b)
        else:
            a.rom("weights", nf * sf, lanes * w_b, "wrom", tables)
        a.add("lut", "acc", pe * acc_w)
        if binarize:
            a.rom("thresholds", n_cls * nf, pe * steps * thr_w, "thr_rom", tables)
            a.rom("flip", nf, pe, "thr_rom", tables)
            a.add("lut", "cmp", pe * steps * thr_w)
        a.ram("out_queue", 3, out_w, a.EMU_POINTER)
        vector, chunk, x_steps = cls.vector_elements(p), cls.step_elements(p), cls.vector_steps(p)
        if x_steps > 1:
            a.add("lut", "x_rot", vector * in_b)
        # (+ the weight read's address copies, one per slice)
        read_depth = bank_depth or nf * sf
        slices = mvau_weight_slices(read_depth, weight_banks(nf * sf, bank_depth) * lanes * w_b)
        a.add("ff", "regs", pe * acc_w + chunk * in_b + vector * in_b + (out_w - fold_w if nf > 1 else 0)
              + slices * max(1, (read_depth - 1).bit_length()))
        # (the weight register grows with W_B: PE*SIMD*W_B bits, counted with the ROM read)

    # -- timing ----------------------------------------------------------------------------
    @classmethod
    def timing_stages(cls, p: dict[str, int]) -> dict[str, dict[str, float]]:
        """bnn_mvau's stages (its header comment): issue (step counters, the input vector's
        load-or-rotate select over every bit of it), the weight ROM read, the tree's levels
        (level 0: XNOR and a byte's popcount, or one signed product registered alone: a
        conditional negate, or W_B shift-adds in series; then 4-way / pairwise sums, one
        ACC_W-bit adder per level), accumulate, compare (+ flip), the threshold read.
        The step counter (`counter`) is a stage of its own. (The threshold address
        cls*NF + nf is shifts and adds of the constant NF at issue, no multiplier: not a
        stage of its own.)"""
        mw, mh, pe, simd, in_b = p["MW"], p["MH"], p["PE"], p["SIMD"], p["IN_B"]
        w_b, levels, acc_w, thr_w = p.get("W_B", 1), p.get("LEVELS", 0), p["ACC_W"], p["THR_W"]
        nf, sf = mh // pe, mw // simd
        popcount = in_b == 1 and w_b == 1
        chunk = cls.step_elements(p) * in_b
        xw = cls.vector_elements(p) * in_b
        counter = max(1, (nf * sf - 1).bit_length())
        # issue: a bank's copies of stall, run, last_v and the producer's valid -> its load /
        # rotate select over at most MVAU_INPUT_BANK_BITS bits (the producer's valid reaches
        # every bank: one net to xw / 64 LUTs)
        stages = {"issue": timing_stage(lut=2, fanout=min(xw, MVAU_INPUT_BANK_BITS) + chunk + xw // MVAU_INPUT_BANK_BITS),
                  "counter": timing_stage(lut=1, adders=1, carry=counter),
                  "weight_read": timing_stage(mem_depth=nf * sf, mem_width=pe * simd * w_b,
                                              mem_slice=MVAU_WEIGHT_SLICE_BITS)}
        bank_depth = p.get("WBANK_D", 0)
        if bank_depth:  # banks side by side, one wide read, then a registered word select
            banks = weight_banks(nf * sf, bank_depth)
            stages["weight_read"] = timing_stage(mem_depth=bank_depth, mem_width=banks * pe * simd * w_b,
                                                 mem_slice=MVAU_WEIGHT_SLICE_BITS)
            stages["weight_select"] = timing_stage(lut=-(-max(1, (banks - 1).bit_length()) // 2))
        tw = (simd.bit_length() if popcount else acc_w)
        if popcount:  # XNOR and a byte's popcount: LUT logic, a short add at the end
            g = min(simd, 8)
            stages["tree0"] = timing_stage(lut=1 + max(0, (g - 1).bit_length() - 1), adders=1, carry=g.bit_length())
        else:  # one signed product, registered alone: W_B (or 1) add/subtracts of ACC_W bits in series
            terms = w_b if (w_b > 1 and in_b > 1) else 1
            stages["tree0"] = timing_stage(lut=terms, adders=terms, carry=terms * acc_w)
        levels_n = mvau_tree_levels(simd, popcount)
        if levels_n > 1:
            stages["tree"] = (timing_stage(adders=2, carry=2 * tw) if popcount else timing_stage(adders=1, carry=tw))
        stages["acc"] = timing_stage(lut=1, adders=1, carry=acc_w, fanout=pe * acc_w)
        if p["BINARIZE"]:
            cmp_w = max(acc_w, thr_w) + 1
            stages["act"] = timing_stage(lut=1, adders=1, carry=cmp_w, fanout=max(1, levels - 1))
            stages["thr_read"] = timing_stage(mem_depth=p["N_CLASSES"] * nf, mem_width=pe * max(1, levels - 1) * thr_w)
        # (`stall`, from registers to every register's clock enable, is left out: TFC's 5,619
        # enables route at 128.6 MHz with the path elsewhere; ECP5 clock enables are per slice)
        return stages

    # -- RTL / HLS -------------------------------------------------------------------------
    def rtl_params(self) -> list[tuple[str, Any]]:
        return [*self.params.items(), *sorted((m.param, f'"{m.file}"') for m in self.memories)]

    def hls(self, ctx: Any) -> None:
        p, layer = self.params, self.layer
        header = ctx.header(self)
        ns = header.namespace
        for memory in self.memories:
            ctx.memory(header, memory)
        oh, ow = layer.out_hw
        w_b, levels = p.get("W_B", 1), p.get("LEVELS", 0)
        extra = (("W_B",) if w_b > 1 else ()) + (("LEVELS", "O_B", "OFFSET") if levels else ())
        header.constants += [(k, p[k]) for k in ("MW", "MH", "PE", "SIMD", "IN_B", *extra, "BINARIZE", "N_CLASSES",
                                                  "ACC_W", "THR_W")]
        header.constants.append(("VECTORS", oh * ow))
        src = ctx.name(self.input)
        out = ctx.declare(self.output, ctx.uint(self.output.width), self.output.comment)
        mems = [f"{ns}::WEIGHTS", f"{ns}::THRESHOLDS", f"{ns}::FLIPS"]
        if levels:
            keys = ("MW", "MH", "PE", "SIMD", "IN_B", "W_B", "LEVELS", "O_B", "OFFSET", "N_CLASSES", "ACC_W", "THR_W", "VECTORS")
            targs = [str(w_b) if k == "W_B" and w_b == 1 else f"{ns}::{k}" for k in keys]
            ctx.call(f"bnn::{self.kind}_multithreshold", targs, [src, out, *mems], self.comment)
        elif p["BINARIZE"]:
            keys = ("MW", "MH", "PE", "SIMD", "IN_B", *(("W_B",) if w_b > 1 else ()), "N_CLASSES", "ACC_W", "THR_W", "VECTORS")
            ctx.call(f"bnn::{self.kind}_threshold" + ("_w" if w_b > 1 else ""), [f"{ns}::{k}" for k in keys],
                     [src, out, *mems], self.comment)
        else:
            keys = ("MW", "MH", "PE", "SIMD", "IN_B", *(("W_B",) if w_b > 1 else ()), "ACC_W", "VECTORS")
            ctx.call(f"bnn::{self.kind}_acc" + ("_w" if w_b > 1 else ""), [f"{ns}::{k}" for k in keys],
                     [src, out, f"{ns}::WEIGHTS"], self.comment + ", raw accumulators")
        steps = max(1, levels - 1)
        ctx.widths += [self.vector_elements(p) * p["IN_B"], self.step_elements(p) * p["IN_B"], p["PE"] * p["SIMD"] * w_b, p["PE"] * steps * p["THR_W"], p["PE"],
                       self.output.width, p["ACC_W"] + 1, p["THR_W"] + 1]


class Vvau(Mvau):
    """`vvau`: the PE x SIMD vector-vector(-threshold) unit of a depthwise convolution
    (hls_lib/rtl/bnn_vvau.sv, hls_lib/hls/bnn_vvau.h): per window, channel c's kh*kw taps dotted
    with its own weights. PE channels and SIMD taps per step, (C/PE) * (kh*kw/SIMD) steps per
    window: the MVAU's datapath, memories and activations with MH = channels and MW = taps,
    each lane reading its own channel's SIMD taps (its RTL is bnn_mvau with DEPTHWISE=1
    behind a reordering of the window, which is wiring). Parameters, memories (layouts of
    hls_lib/rtl/README.md), cycles and cost kinds (mvau_bin / mvau_mb / mvau_last) are the
    MVAU's; the input vector, the register the unit rotates, is the whole window."""

    kind = "vvau"
    module = "bnn_vvau"
    rtl_files = ("bnn_mvau.sv", "bnn_vvau.sv")
    hls_files = ("bnn_mvau.h", "bnn_vvau.h")
    library_rank = 5

    @classmethod
    def vector_elements(cls, p: dict[str, int]) -> int:
        return p["MH"] * p["MW"]

    @classmethod
    def step_elements(cls, p: dict[str, int]) -> int:
        return p["PE"] * p["SIMD"]

    @classmethod
    def vector_steps(cls, p: dict[str, int]) -> int:
        return (p["MH"] // p["PE"]) * (p["MW"] // p["SIMD"])
