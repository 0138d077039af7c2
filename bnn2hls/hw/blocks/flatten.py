"""`flatten`: a dense layer's input pixels collected into one vector (hls_lib/rtl/bnn_flatten.sv,
hls_lib/hls/bnn_flatten.h); left out when the input is a single pixel."""
from __future__ import annotations

from typing import Any

from ..mvau_memories import clog2
from .base import Block, LowerContext, Stream, timing_stage


class Flatten(Block):
    kind = "flatten"
    module = "bnn_flatten"
    rtl_files = ("bnn_flatten.sv",)
    hls_files = ("bnn_flatten.h",)
    library_rank = 1

    @classmethod
    def build(cls, ctx: LowerContext) -> Block | None:
        layer, shape = ctx.layer, ctx.prev_shape
        pixels = shape[0] * shape[1]
        if pixels <= 1:
            return None
        pix_w = shape[2] * ctx.bits
        out = Stream(layer.name, "vec", pixels * pix_w, ctx.bits, f"{layer.name}: flattened input")
        return cls(f"u_{layer.name}_flatten", layer, "flatten", ctx.src, out, {"W": pix_w, "N": pixels},
                   comment=f"{layer.name}: collect {pixels} pixels into one vector")

    # One pixel per cycle: never slower than the layer that produced those pixels, so it
    # does not pace its layer (no interval).

    @classmethod
    def timing_stages(cls, p: dict[str, int]) -> dict[str, dict[str, float]]:
        """A slot's enables, from its own copies of the control state (one LUT over its W
        bits), and the handshake inputs into the N slots' copies (bnn_flatten.sv)."""
        return {"control": timing_stage(lut=2, fanout=p["W"] + p["N"])}

    @classmethod
    def cost_features(cls, params: dict[str, int], tables: Any, a: Any) -> None:
        n, w = params["N"], params["W"]
        a.add("lut", "bits", n * w)
        a.add("lut", "ctr", clog2(n))
        # the slots, the output register, the one-hot position and each slot's control copies
        a.add("ff", "regs", 2 * n * w + 4 * n if n > 1 else w)

    def hls(self, ctx: Any) -> None:
        header = ctx.header(self)
        ns = header.namespace
        header.constants += [("FLATTEN_W", self.params["W"]), ("FLATTEN_N", self.params["N"])]
        src = ctx.name(self.input)
        vec = ctx.declare(self.output, ctx.uint(self.output.width), self.output.comment)
        ctx.call("bnn::flatten", [f"{ns}::FLATTEN_W", f"{ns}::FLATTEN_N"], [src, vec], self.comment)
        ctx.widths.append(self.output.width)
