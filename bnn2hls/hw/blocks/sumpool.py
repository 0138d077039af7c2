"""`sumpool`: sum pooling, the integer form of an average pool (hls_lib/rtl/bnn_sumpool.sv,
hls_lib/hls/bnn_sumpool.h): global (one accumulator per channel) or windowed (the max-pool's
walk, summing)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...ir import MatrixLayer, Network, SumPool, signed_width
from ..mvau_memories import acc_width, clog2
from .base import WINDOW_HLS, WINDOW_RTL, Block, LowerContext, Stream, timing_stage


@dataclass(frozen=True)
class SumPoolFormat:
    """What the block reads and writes: `in_bits` per input element (1: a sign bit, +-1),
    `signed` input fields, `out_bits` per two's complement sum."""

    in_bits: int
    signed: bool
    out_bits: int


def sumpool_format(net: Network, pool: SumPool) -> SumPoolFormat:
    """The element formats of `pool`'s block. Its input is the value of its producer, except
    for the raw accumulators of the last matrix layer, which travel as the unit's ACC_W-bit
    fields: unsigned popcounts for binary x binary (the host turns their sum into the
    source's, datapath.head_values), signed accumulators otherwise."""
    source = net.producer(pool)
    if isinstance(source, MatrixLayer) and not source.binarize:
        in_b = acc_width(source.fan_in, source.input_bits, source.weight_bits)
        lo, hi = (0, source.fan_in) if source.popcount else source.acc_range
        return SumPoolFormat(in_b, not source.popcount, signed_width(lo * pool.divisor, hi * pool.divisor))
    return SumPoolFormat(net.element_bits(source), True, net.element_bits(pool))


class SumPoolBlock(Block):
    kind = "sumpool"
    module = "bnn_sumpool"
    rtl_files = WINDOW_RTL + ("bnn_sumpool.sv",)
    hls_files = WINDOW_HLS + ("bnn_sumpool.h",)
    library_rank = 3

    @classmethod
    def build(cls, ctx: LowerContext) -> Block:
        layer: SumPool = ctx.layer
        fmt = sumpool_format(ctx.net, layer)
        h, w, c = layer.in_shape
        out = Stream(layer.name, "out", c * fmt.out_bits, fmt.out_bits, f"{layer.name}: window sums")
        params = {"C": c, "H": h, "W": w, "KH": layer.kernel[0], "KW": layer.kernel[1], "SH": layer.stride[0],
                  "SW": layer.stride[1], "IN_B": fmt.in_bits, "SIGNED": int(fmt.signed), "O_B": fmt.out_bits}
        what = "global sum pool" if layer.is_global else f"sum pool {layer.kernel} stride {layer.stride}"
        return cls(f"u_{layer.name}", layer, "sumpool", ctx.src, out, params,
                   comment=f"{layer.name}: {what} of {'sign bits' if fmt.in_bits == 1 else f'{fmt.in_bits}-bit values'}"
                   f" -> {fmt.out_bits}-bit sums")

    # one input pixel per cycle
    @classmethod
    def layer_interval(cls, layer: Any) -> int:
        return layer.in_shape[0] * layer.in_shape[1]

    @classmethod
    def layer_cycles(cls, layer: Any) -> dict[str, int]:
        return {"sumpool": cls.layer_interval(layer)}

    @classmethod
    def cost_features(cls, p: dict[str, int], tables: Any, a: Any) -> None:
        """An input queue, the position counters, the OB-bit adders and registers; windowed:
        the line buffer of KH-1 input rows and KW-1 column sums (the max-pool's walk)."""
        c, h, w, kh, kw, b, ob = p["C"], p["H"], p["W"], p["KH"], p["KW"], p["IN_B"], p["O_B"]
        pix, sums = c * b, c * ob
        a.ram("in_queue", 2, pix, a.EMU_POINTER)
        a.add("lut", "ctr", clog2(h + 2) + clog2(w + 2))
        a.add("ff", "ctr", clog2(h + 2) + clog2(w + 2))
        if kh == h and kw == w:
            a.add("lut", "acc", sums)  # accumulator adders and their clear-at-emit mux
            a.add("ff", "regs", 2 * sums)  # accumulators and the output register
            return
        if kh > 1:
            if w > 1:
                a.ram("line_buffer", w, (kh - 1) * pix, a.EMU_PLAIN)
            else:
                a.add("ff", "regs", (kh - 1) * pix)
        a.add("lut", "win_add", (kh * kw - 1) * sums)
        a.add("ff", "regs", (kw - 1) * sums + sums)

    @classmethod
    def timing_stages(cls, p: dict[str, int]) -> dict[str, dict[str, float]]:
        """Global: the walk and the accumulator (one O_B-bit add and the clear-at-emit mux).
        Windowed: the walk, the line buffer read, and the window sum from the registers to the
        output register: a column of KH adds, KW - 1 adds of column sums and the
        2 * sum - KH*KW of a binary input, in series."""
        from .maxpool import window_stages

        c, h, w, kh, kw, b, ob = p["C"], p["H"], p["W"], p["KH"], p["KW"], p["IN_B"], p["O_B"]
        cb = clog2(kh + 1) if b == 1 else b + clog2(kh)
        q = {**p, "KH": 1, "KW": 1} if (kh == h and kw == w) else p
        stages = window_stages(q, c * cb, c * ob, swg=False)
        if kh == h and kw == w:
            stages["acc"] = timing_stage(lut=1, adders=1, carry=ob, fanout=c * ob)
        else:
            n = kh + kw - 1 + (b == 1)
            stages["window_sum"] = timing_stage(lut=1, adders=n, carry=n * ob, fanout=2)
        return stages

    def hls(self, ctx: Any) -> None:
        params = ctx.params(self, "bnn::sumpool", list(self.params.items()))
        src = ctx.name(self.input)
        out = ctx.declare(self.output, ctx.uint(self.output.width), self.output.comment)
        ctx.call("bnn::sumpool", [params], [src, out], self.comment)
        ctx.widths.append(self.output.width)
