"""`fifo` (hls_lib/rtl/bnn_fifo.sv; an hls::stream's depth in HLS): the FIFO between two layers,
and the window FIFO between a sliding window and its MVAU (role `winq`), sized by
hw/fifo_sizing.py."""
from __future__ import annotations

from typing import Any

from ..fifo_sizing import fifo_depth, window_fifo_depth
from ..mvau_memories import clog2
from .base import Block, LowerContext, Stream, ram_read_levels, timing_stage
from .mvau import mvau_cycles

class Fifo(Block):
    """The FIFO after a layer (its input stream is the layer's output)."""

    kind = "fifo"
    module = "bnn_fifo"
    rtl_files = ("bnn_in_queue.sv", "bnn_fifo.sv")
    library_rank = 0

    @classmethod
    def build(cls, ctx: LowerContext) -> Block | None:
        return cls.edge(ctx.layer, ctx.layer, ctx.src, ctx.next_layer, fifo_depth(ctx.next_layer))

    @classmethod
    def edge(cls, owner: Any, value: Any, src: Stream, consumer: Any, depth: int, suffix: str = "fifo") -> Block:
        """The FIFO carrying IR value `value` (stream `src`) to `consumer`, attributed to layer `owner`."""
        out = Stream(owner.name, suffix, src.width, src.elem_bits, f"{value.name} -> {consumer.name}")
        return cls(f"u_{owner.name}_{suffix}", owner, "fifo", src, out, {"WIDTH": src.width, "DEPTH": depth},
                   comment=f"FIFO between {value.name} and {consumer.name}"
                   + (" (sized by fifo_sizing for the join)" if consumer.kind == "add" else ""))

    # one word per cycle: never paces its layer

    @classmethod
    def cost_features(cls, params: dict[str, int], tables: Any, a: Any) -> None:
        """Up to two words, the two-entry queue (bnn_in_queue) alone; past that, the RAM
        (its read data registered twice) behind a four-entry head queue, with the mux choosing
        what enters the head queue."""
        width, depth = params["WIDTH"], params["DEPTH"]
        if depth <= 2:
            a.ram("head", 2, width, a.EMU_POINTER)
            return
        a.ram("head", 4, width, a.EMU_POINTER)
        a.ram("storage", depth, width, a.EMU_PLAIN, feature_prefix="storage_")
        a.add("ff", "read_q", width)
        a.add("lut", "head_in", width)
        a.add("lut", "ptr", clog2(depth))
        a.add("ff", "ptr", clog2(depth))

    @classmethod
    def timing_stages(cls, p: dict[str, int]) -> dict[str, dict[str, float]]:
        """The head queue's read (a select of its entries by a register) and, past two words,
        the RAM's: the pointers and counts after the consumer's ready (the read issue, an
        adder on the count), and the RAM read (distributed RAM and its bank select, driven by
        the read pointer) into its register; the second read register then enters the head
        queue through the head-in mux (one LUT)."""
        width, depth = p["WIDTH"], p["DEPTH"]
        stages = {"head": timing_stage(lut=1, fanout=width)}
        if depth > 2:
            ptr = clog2(depth)
            stages["control"] = timing_stage(lut=3, adders=1, carry=ptr + 1, fanout=ptr)
            stages["read"] = timing_stage(lut=ram_read_levels(depth), fanout=width)
        return stages

    def hls(self, ctx: Any) -> None:
        """In HLS the FIFO is the depth of the stream it reads."""
        ctx.deepen(self.input, self.output, self.params["DEPTH"])


class WindowFifo(Fifo):
    """Windows (and their class id, in the top bits) queued between a sliding window and its
    MVAU; left out where the two keep pace without it."""

    kind = "winq"
    carries_user = True

    @classmethod
    def build(cls, ctx: LowerContext) -> Block | None:
        layer, src = ctx.layer, ctx.src
        oh, ow = layer.out_hw
        depth = window_fifo_depth(layer, mvau_cycles(layer) // (oh * ow))  # the unit's cycles per window
        if not depth:
            return None
        out = Stream(layer.name, "winq", src.width, src.elem_bits, f"{layer.name}: queued windows",
                     user_width=src.user_width, user_unused=src.user_unused)
        return cls(f"u_{layer.name}_winq", layer, "winq", src, out, {"WIDTH": src.width + src.user_width, "DEPTH": depth},
                   comment=f"{layer.name}: {depth}-window FIFO (sized by fifo_sizing)")

    @classmethod
    def cost_kind_of(cls, params: dict[str, int]) -> str:
        return "fifo"

    def hls(self, ctx: Any) -> None:
        depth = self.params["DEPTH"]
        ctx.deepen(self.input, self.output, depth, f" ({depth}-window FIFO, sized by fifo_sizing)")
