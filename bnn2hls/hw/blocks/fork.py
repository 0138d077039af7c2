"""`fork`: one stream duplicated to N (hls_lib/rtl/bnn_fork.sv, hls_lib/hls/bnn_fork.h), for a
value that feeds several layers. Not the lowering of an IR layer of its own: hw/graph.py puts
one after the blocks of a layer (or the input) whose value has several consumers, each of
which then reads its own stream through its own FIFO (sized by hw/fifo_sizing.py)."""
from __future__ import annotations

from typing import Any

from .base import Block, Stream, timing_stage


class Fork(Block):
    kind = "fork"
    module = "bnn_fork"
    rtl_files = ("bnn_fork.sv",)
    hls_files = ("bnn_fork.h",)
    library_rank = 5

    @classmethod
    def make(cls, owner: Any, value: Any, src: Stream, consumers: list[Any], prefix: str = "") -> Block:
        """A fork of `src` (the stream of IR value `value`) to `consumers`, attributed to layer
        `owner` (the value's producer, or the input's first consumer)."""
        n = len(consumers)
        outs = [Stream(owner.name, f"{prefix}fork{i}", src.width, src.elem_bits, f"{value.name} -> {c.name}")
                for i, c in enumerate(consumers)]
        h, w, _ = value.out_shape
        block = cls(f"u_{owner.name}_{prefix}fork", owner, "fork", src, outs[0], {"W": src.width, "N": n},
                    comment=f"{value.name}: fork to {', '.join(c.name for c in consumers)}", extra_outputs=outs[1:])
        block.vectors["PIXELS"] = h * w
        return block

    def out_ports(self) -> list[tuple[str, list[Stream]]]:
        return [("m", self.outputs)]

    # one word per cycle: never paces its layer

    @classmethod
    def timing_stages(cls, p: dict[str, int]) -> dict[str, dict[str, float]]:
        """The consumers' readies combined into the queue's pop (fanout: the word)."""
        return {"control": timing_stage(lut=2, fanout=p["W"])}

    @classmethod
    def cost_features(cls, params: dict[str, int], tables: Any, a: Any) -> None:
        w, n = params["W"], params["N"]
        a.ram("in_queue", 2, w, a.EMU_POINTER)
        a.add("lut", "ctl", n)
        a.add("ff", "ctl", n + 4)

    def hls(self, ctx: Any) -> None:
        src = ctx.name(self.input)
        outs = [ctx.declare(s, ctx.uint(s.width), s.comment) for s in self.outputs]
        ctx.call("bnn::fork", [str(self.params["W"]), str(self.vectors["PIXELS"])], [src, *outs], self.comment)
