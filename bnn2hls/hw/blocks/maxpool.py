"""`maxpool`: max-pool, binary (OR) or of B-bit signed values (hls_lib/rtl/bnn_maxpool.sv,
hls_lib/hls/bnn_maxpool.h)."""
from __future__ import annotations

from typing import Any

from ..mvau_memories import clog2
from .base import WINDOW_HLS, WINDOW_RTL, Block, LowerContext, Stream, ram_read_levels, timing_stage


def window_features(p: dict[str, int], a: Any, swg: bool) -> None:
    """Cost features of bnn_swg and bnn_maxpool (both on bnn_window): an input
    queue, a line buffer of KH-1 rows, the window registers and the position counters."""
    c, h, w, kh, kw = p["C"], p["H"], p["W"], p["KH"], p["KW"]
    pix = c * p.get("IN_B", 1)
    if swg:
        hp, wp = h + p["PAD_T"] + p["PAD_B"], w + p["PAD_L"] + p["PAD_R"]
        oh, ow = (hp - kh) // p["SH"] + 1, (wp - kw) // p["SW"] + 1
        cls_bits = (oh + ow) * p["CLS_W"] if p["N_ROW_CLASSES"] * p["N_COL_CLASSES"] > 1 else 0
    else:
        hp, wp, cls_bits = h, w, 0
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
    a.add("ff", "regs", (kh * kw * pix if swg else pix) + (kw - 1) * col * pix + cls_bits)
    a.add("ff", "ctr", clog2(hp + 2) + clog2(wp + 2))


def window_stages(p: dict[str, int], col_w: int, out_w: int, swg: bool) -> dict[str, dict[str, float]]:
    """bnn_window's stages (the walk of bnn_swg, bnn_maxpool and bnn_sumpool): the position
    counters and their compares deciding `step`, which enables the window registers
    (`out_w` bits), the column history and the line buffer (`col_w` bits per column); the line
    buffer read (KH-1 rows of a padded row's pixels)."""
    c, h, w, kh, kw = p["C"], p["H"], p["W"], p["KH"], p["KW"]
    pix = c * p.get("IN_B", 1)
    wp = w + (p["PAD_L"] + p["PAD_R"] if swg else 0)
    hp = h + (p["PAD_T"] + p["PAD_B"] if swg else 0)
    ctr = max(clog2(hp + 2), clog2(wp + 2))
    stages = {"walk": timing_stage(lut=3, adders=1, carry=ctr, fanout=out_w + kw * col_w + (kh - 1) * pix)}
    if kh > 1 and wp > 1:
        stages["line_buffer"] = timing_stage(lut=ram_read_levels(wp), fanout=(kh - 1) * pix)
    return stages


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
        return cls(f"u_{layer.name}", layer, "maxpool", ctx.src, out, params,
                   comment=f"{layer.name}: {what} {layer.kernel} stride {layer.stride}")

    # one input pixel per cycle
    @classmethod
    def layer_interval(cls, layer: Any) -> int:
        return layer.in_shape[0] * layer.in_shape[1]

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

    def hls(self, ctx: Any) -> None:
        p = self.params
        params = ctx.params(self, "bnn::maxpool", [("C", p["C"]), ("IN_B", p.get("IN_B", 1)),
                                                   *((k, p[k]) for k in ("H", "W", "KH", "KW", "SH", "SW"))])
        src = ctx.name(self.input)
        out = ctx.declare(self.output, ctx.uint(self.output.width), self.output.comment)
        ctx.call("bnn::maxpool", [params], [src, out], self.comment)
