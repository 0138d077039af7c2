"""`join`: the residual add of two streams (ir.Join; hls_lib/rtl/bnn_join.sv,
hls_lib/hls/bnn_join.h): out = (a << SA) + (b << SB) per element, sign bits read as +-1, a
multi-bit integer out."""
from __future__ import annotations

from typing import Any

from .base import Block, LowerContext, Stream, timing_stage


class JoinBlock(Block):
    kind = "join"
    module = "bnn_join"
    rtl_files = ("bnn_join.sv",)
    hls_files = ("bnn_join.h",)
    library_rank = 6

    @classmethod
    def build(cls, ctx: LowerContext) -> Block:
        net, layer = ctx.net, ctx.layer
        a, b = net.producers(layer)
        h, w, c = layer.in_shape
        bo = net.element_bits(layer)
        params = {"C": c, "BA": net.element_bits(a), "BB": net.element_bits(b), "SA": layer.shifts[0],
                  "SB": layer.shifts[1], "BO": bo}
        out = Stream(layer.name, "out", c * bo, bo, f"{layer.name}: residual sums")
        src_a, src_b = ctx.srcs
        return cls(f"u_{layer.name}", layer, "join", src_a, out, params, extra_inputs=[src_b],
                   comment=f"{layer.name}: ({a.name} << {layer.shifts[0]}) + ({b.name} << {layer.shifts[1]}), "
                   f"{bo}-bit sums")

    def in_ports(self) -> list[tuple[str, list[Stream]]]:
        return [("a", [self.input]), ("b", [self.extra_inputs[0]])]

    # one pixel per cycle
    @classmethod
    def layer_cycles(cls, layer: Any) -> dict[str, int]:
        return {"join": layer.in_shape[0] * layer.in_shape[1]}

    @classmethod
    def layer_interval(cls, layer: Any) -> int:
        return layer.in_shape[0] * layer.in_shape[1]

    @classmethod
    def cost_features(cls, p: dict[str, int], tables: Any, a: Any) -> None:
        c, ba, bb, bo = p["C"], p["BA"], p["BB"], p["BO"]
        a.ram("in_queue_a", 2, c * ba, a.EMU_POINTER)
        a.ram("in_queue_b", 2, c * bb, a.EMU_POINTER)
        a.add("lut", "adder", c * bo)
        a.add("ff", "regs", c * bo)

    @classmethod
    def timing_stages(cls, p: dict[str, int]) -> dict[str, dict[str, float]]:
        """The two queues' heads, shifted, added into the output register (BO-bit adders)."""
        return {"add": timing_stage(lut=2, adders=1, carry=p["BO"], fanout=p["C"] * p["BO"])}

    def hls(self, ctx: Any) -> None:
        p = self.params
        h, w, _ = self.layer.in_shape
        a, b = ctx.name(self.input), ctx.name(self.extra_inputs[0])
        out = ctx.declare(self.output, ctx.uint(self.output.width), self.output.comment)
        targs = [str(p[k]) for k in ("C", "BA", "BB", "SA", "SB", "BO")] + [str(h * w)]
        ctx.call("bnn::join_add", targs, [a, b, out], self.comment)
        ctx.widths.append(self.output.width)
