"""`swg`: the sliding window generator of a convolution (hls_lib/rtl/bnn_swg.sv,
hls_lib/hls/bnn_swg.h), with the border class of every window in tuser."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...ir import Conv
from ..mvau_memories import clog2
from .base import WINDOW_HLS, WINDOW_RTL, Block, LowerContext, Stream, vector_literal


def border_classes(layer: Conv) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(row class per output row, column class per output column, row classes, column classes)."""
    if layer.border is not None:
        n_rows, n_cols = layer.border.corrections.shape[:2]
        return layer.border.row_class, layer.border.col_class, n_rows, n_cols
    oh, ow = layer.out_hw
    return np.zeros(oh, int), np.zeros(ow, int), 1, 1


def padded_pixels(layer: Conv) -> int:
    h, w, _ = layer.in_shape
    t, l, b, r = layer.pads
    return (h + t + b) * (w + l + r)


def finn_swg_cycles(layer: Conv, simd: int | None = None) -> int:
    """FINN's own sliding-window formula (docs/DESIGN.md section 2), for FINN's SIMD-chunked
    generator; reported alongside ours."""
    simd = simd or layer.simd
    _, w, c = layer.in_shape
    _, l, _, r = layer.pads
    ifm_w = w + l + r
    kh, kw = layer.kernel
    oh, ow = layer.out_hw
    words = c // simd if c % simd == 0 else c
    return ifm_w * kh * words + oh * max(ow * kh * kw * words, layer.stride[0] * ifm_w * words)


class Swg(Block):
    kind = "swg"
    module = "bnn_swg"
    rtl_files = WINDOW_RTL + ("bnn_swg.sv",)
    hls_files = WINDOW_HLS + ("bnn_swg.h",)
    library_rank = 2
    user_out = True

    @classmethod
    def build(cls, ctx: LowerContext) -> Block:
        layer, bits = ctx.layer, ctx.bits
        h, w, c = layer.in_shape
        rows, cols, n_rows, n_cols = border_classes(layer)
        cls_w = max(1, clog2(max(n_rows, n_cols)))
        user_w = max(1, clog2(n_rows * n_cols * 2))
        window = layer.kernel[0] * layer.kernel[1] * c * bits
        out = Stream(layer.name, "win", window, bits, f"{layer.name}: windows", user_width=user_w,
                     user_unused=layer.border is None)
        params = {"C": c, "IN_B": bits, "H": h, "W": w, "KH": layer.kernel[0], "KW": layer.kernel[1],
                  "SH": layer.stride[0], "SW": layer.stride[1], "PAD_T": layer.pads[0], "PAD_L": layer.pads[1],
                  "PAD_B": layer.pads[2], "PAD_R": layer.pads[3], "N_ROW_CLASSES": n_rows, "N_COL_CLASSES": n_cols,
                  "CLS_W": cls_w, "USER_W": user_w}
        ctx.user_w = user_w
        return cls(f"u_{layer.name}_swg", layer, "swg", ctx.src, out, params,
                   comment=f"{layer.name}: sliding window {layer.kernel} stride {layer.stride} pads {layer.pads}",
                   vectors={"ROW_CLASS": rows, "COL_CLASS": cols})

    # one padded input position per cycle
    @classmethod
    def layer_cycles(cls, layer: Any) -> dict[str, int]:
        return {"swg": padded_pixels(layer), "finn_swg": finn_swg_cycles(layer)}

    @classmethod
    def layer_interval(cls, layer: Any) -> int:
        return padded_pixels(layer)

    @classmethod
    def cost_features(cls, params: dict[str, int], tables: Any, a: Any) -> None:
        from .maxpool import window_features

        window_features(params, a, swg=True)

    @classmethod
    def timing_stages(cls, p: dict[str, int]) -> dict[str, dict[str, float]]:
        """The walk (its `step` enables the whole KH x KW window) and the line buffer read;
        the pad mux is one LUT level in front of the window registers."""
        from .maxpool import window_stages

        pix = p["C"] * p["IN_B"]
        return window_stages(p, p["KH"] * pix, p["KH"] * p["KW"] * pix, swg=True)

    def rtl_params(self) -> list[tuple[str, Any]]:
        p = self.params
        out: list[tuple[str, Any]] = [(k, v) for k, v in p.items() if k != "USER_W"]
        out += [("ROW_CLASS", vector_literal(self.vectors["ROW_CLASS"], p["CLS_W"])),
                ("COL_CLASS", vector_literal(self.vectors["COL_CLASS"], p["CLS_W"])), ("USER_W", p["USER_W"])]
        return out

    def hls(self, ctx: Any) -> None:
        p = self.params
        header = ctx.header(self)
        ns = header.namespace
        params = ctx.params(self, "bnn::swg", [(k, p[k]) for k in (
            "C", "IN_B", "H", "W", "KH", "KW", "SH", "SW", "PAD_T", "PAD_L", "PAD_B", "PAD_R", "N_ROW_CLASSES",
            "N_COL_CLASSES", "USER_W")])
        header.tables += [ctx.table("ROW_CLASS", [int(v) for v in self.vectors["ROW_CLASS"]], "border class of each output row"),
                          ctx.table("COL_CLASS", [int(v) for v in self.vectors["COL_CLASS"]], "border class of each output column")]
        src = ctx.name(self.input)
        out = ctx.declare(self.output, ctx.window_type(self.output.width, p["USER_W"]), f"{self.layer.name}: windows + border class")
        ctx.call("bnn::swg", [params], [src, out, f"{ns}::ROW_CLASS", f"{ns}::COL_CLASS"], self.comment)
        ctx.widths += [p["C"] * p["IN_B"], self.output.width, p["USER_W"]]
