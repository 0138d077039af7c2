"""`maxpool`: max-pool, binary (OR) or of B-bit signed values (hls_lib/rtl/bnn_maxpool.sv,
hls_lib/hls/bnn_maxpool.h)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..mvau_memories import clog2
from .base import WINDOW_HLS, WINDOW_RTL, Block, LowerContext, Stream, ram_read_levels, timing_stage, vector_literal


WINDOW_BANK_BITS = 64  # bnn_window's BANK: the wide registers move in banks of this many bits


def window_features(p: dict[str, int], a: Any, swg: bool) -> None:
    """Cost features of bnn_swg and bnn_maxpool (both on bnn_window): an input
    queue, a line buffer of KH-1 rows, the window registers and the position counters."""
    c, h, w, kh, kw = p["C"], p["H"], p["W"], p["KH"], p["KW"]
    pix = c * p.get("IN_B", 1)
    if swg:
        hp, wp = h + p["PAD_T"] + p["PAD_B"], w + p["PAD_L"] + p["PAD_R"]
        oh, ow = (hp - kh) // p["SH"] + 1, (wp - kw) // p["SW"] + 1
        cls_bits = (oh + ow) * p["CLS_W"] if p["N_ROW_CLASSES"] * p["N_COL_CLASSES"] > 1 else 0
    else:  # a padded max-pool walks its padded map too
        hp, wp, cls_bits = h + p.get("PAD_T", 0) + p.get("PAD_B", 0), w + p.get("PAD_L", 0) + p.get("PAD_R", 0), 0
    a.ram("in_queue", 2, pix, a.EMU_POINTER)
    if kh > 1:
        if wp > 1:
            a.ram("line_buffer", wp, (kh - 1) * pix, a.EMU_PLAIN)
        else:
            a.add("ff", "regs", (kh - 1) * pix)
    col = kh if swg else 1
    a.add("lut", "pix", pix)  # pad mux (swg) / column OR (maxpool)
    a.add("lut", "cls", cls_bits)
    a.add("lut", "ctr", clog2(hp + 2) + clog2(wp + 2))
    if not swg:
        a.add("lut", "or_tree", kh * kw * pix)
    out_w = kh * kw * pix if swg else pix
    a.add("ff", "regs", out_w + (kw - 1) * col * pix + cls_bits)
    # each 64-bit bank of the wide registers keeps its own copy of out_valid
    banks = -(-out_w // WINDOW_BANK_BITS) + -(-(kw - 1) * col * pix // WINDOW_BANK_BITS) + -(-(kh - 1) * pix // WINDOW_BANK_BITS)
    a.add("ff", "regs", banks)
    a.add("ff", "ctr", clog2(hp + 2) + clog2(wp + 2))


def window_stages(p: dict[str, int], col_w: int, out_w: int, swg: bool) -> dict[str, dict[str, float]]:
    """bnn_window's stages (the walk of bnn_swg, bnn_maxpool and bnn_sumpool): the position
    counters' increments (`counter`), and their compares deciding `step`, which enables the window registers
    (`out_w` bits), the column history and the line buffer (`col_w` bits per column); the line
    buffer read (KH-1 rows of a padded row's pixels)."""
    c, h, w, kh, kw = p["C"], p["H"], p["W"], p["KH"], p["KW"]
    pix = c * p.get("IN_B", 1)
    wp = w + p.get("PAD_L", 0) + p.get("PAD_R", 0)  # a padded max-pool walks the padded map too
    hp = h + p.get("PAD_T", 0) + p.get("PAD_B", 0)
    ctr = max(clog2(hp + 2), clog2(wp + 2))
    # the compares of the position registers decide `step` (LUT logic, no carry chain); the
    # wide registers move in 64-bit banks, each on its own copy of `step`, so the consumer's
    # ready reaches one LUT per bank and a bank's step its 64 bits; the counters' increments
    # are a register-to-register stage of their own
    wide = out_w + kw * col_w + (kh - 1) * pix
    stages = {"walk": timing_stage(lut=3, fanout=WINDOW_BANK_BITS + -(-wide // WINDOW_BANK_BITS)),
              "counter": timing_stage(lut=1, adders=1, carry=ctr)}
    if kh > 1 and wp > 1:
        stages["line_buffer"] = timing_stage(lut=ram_read_levels(wp), fanout=(kh - 1) * pix)
    return stages


def padded_positions(layer: Any) -> int:
    """Positions of the walk over the padded map: one per cycle."""
    h, w, _ = layer.in_shape
    t, l, b, r = getattr(layer, "pads", (0, 0, 0, 0))
    return (h + t + b) * (w + l + r)


class MaxPoolBlock(Block):
    kind = "maxpool"
    module = "bnn_maxpool"
    rtl_files = WINDOW_RTL + ("bnn_maxpool.sv",)
    hls_files = WINDOW_HLS + ("bnn_maxpool.h",)
    library_rank = 3

    @classmethod
    def build(cls, ctx: LowerContext) -> Block:
        layer, bits = ctx.layer, ctx.bits
        h, w, c = layer.in_shape
        out = Stream(layer.name, "out", c * bits, bits, f"{layer.name}: output pixels")
        params = {"C": c, "H": h, "W": w, "KH": layer.kernel[0], "KW": layer.kernel[1], "SH": layer.stride[0],
                  "SW": layer.stride[1]}
        if bits > 1:
            params["IN_B"] = bits  # signed max of IN_B-bit elements (binary: OR, the default)
        what = "binary max-pool" if bits == 1 else f"{bits}-bit max-pool"
        vectors = {}
        if layer.padded:
            params.update(zip(("PAD_T", "PAD_L", "PAD_B", "PAD_R"), layer.pads))
            what += f" pads {layer.pads}"
        if layer.takes_min:
            vectors["MIN_CH"] = np.asarray(layer.minimum, np.int64)
            what += f" (min on {int(np.count_nonzero(layer.minimum))} of {c} channels)"
        return cls(f"u_{layer.name}", layer, "maxpool", ctx.src, out, params,
                   comment=f"{layer.name}: {what} {layer.kernel} stride {layer.stride}", vectors=vectors)

    @property
    def extended(self) -> bool:
        """Padded or with min channels: bnn::maxpool_padded (HLS), MIN_CH (RTL)."""
        return "PAD_T" in self.params or "MIN_CH" in self.vectors

    # one padded position per cycle
    @classmethod
    def layer_interval(cls, layer: Any) -> int:
        return padded_positions(layer)

    @classmethod
    def cost_features(cls, params: dict[str, int], tables: Any, a: Any) -> None:
        window_features(params, a, swg=False)

    @classmethod
    def timing_stages(cls, p: dict[str, int]) -> dict[str, dict[str, float]]:
        """The walk, and the window's reduction from the line buffer's read register to the
        output register: an OR of KH + KW - 1 bits (binary), or KH + KW - 2 signed compares
        and selects in series (IN_B bits)."""
        b, kh, kw = p.get("IN_B", 1), p["KH"], p["KW"]
        pix = p["C"] * b
        stages = window_stages(p, pix, pix, swg=False)
        n = kh + kw - 1
        if b == 1:
            stages["reduce"] = timing_stage(lut=max(1, clog2(n) // 2 + 1), fanout=2)
        else:
            stages["reduce"] = timing_stage(lut=n - 1, adders=n - 1, carry=(n - 1) * (b + 1), fanout=b)
        return stages

    def rtl_params(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = list(self.params.items())
        if "MIN_CH" in self.vectors:
            out.append(("MIN_CH", vector_literal(self.vectors["MIN_CH"], 1)))
        return out

    def hls(self, ctx: Any) -> None:
        p = self.params
        members = [("C", p["C"]), ("IN_B", p.get("IN_B", 1)), *((k, p[k]) for k in ("H", "W", "KH", "KW", "SH", "SW"))]
        src = ctx.name(self.input)
        if not self.extended:
            params = ctx.params(self, "bnn::maxpool", members)
            out = ctx.declare(self.output, ctx.uint(self.output.width), self.output.comment)
            ctx.call("bnn::maxpool", [params], [src, out], self.comment)
            return
        members += [(k, p.get(k, 0)) for k in ("PAD_T", "PAD_L", "PAD_B", "PAD_R")]
        params = ctx.params(self, "bnn::maxpool_padded", members)
        header = ctx.header(self)
        minimum = self.vectors.get("MIN_CH", np.zeros(p["C"], np.int64))
        header.tables.append(ctx.table("MIN_CH", [int(v) for v in minimum], "1: the channel pools its minimum"))
        out = ctx.declare(self.output, ctx.uint(self.output.width), self.output.comment)
        ctx.call("bnn::maxpool_padded", [params], [src, out, f"{header.namespace}::MIN_CH"], self.comment)
