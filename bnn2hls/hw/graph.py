"""The hardware dataflow graph: the one lowering of the IR to hardware blocks.

`lower(net)` turns a `Network` into an `HwGraph`: a DAG of block instances (bnn2hls/hw/blocks/,
one class per kind) joined by streams; a chain for a network without forks. A value that feeds
several layers leaves its producer through a fork, one stream and FIFO per consumer; a residual
join reads two streams; the FIFOs into a join are sized so that the reconvergent paths never
deadlock and the join runs at full rate (hw/fifo_sizing.py). Every consumer reads it:
- the Verilog emitter (backends/rtl.py, with the text of hw/verilog.py) and the HLS emitter
  (backends/hls.py) render it; they are the only ones that write files;
- the cost model (cost_model.py) costs its blocks;
- `report --synth` (synth.py) groups its blocks by IR layer and hands yosys their memories;
- the cycle model (hw/folding.py) asks the block classes of a layer for their cycles.

Which block kinds implement an IR layer is decided once, by the layer's op kind (`blocks` in
bnn2hls/ops, resolved to classes in `LAYER_BLOCKS`); each block kind decides
its own parameters, streams and memories (`Kind.build`), and whether it is present at all
(a flatten in front of a 1-pixel input, a window FIFO of depth 0 are left out).

A graph holds no files: memories are arrays, packed into words on demand.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError
from ..ir import Dense, Network, SumPool, describe
from .blocks import FIFO_KIND, FORK_KIND, LAYER_BLOCKS, fifo_depth, sumpool_format
from .blocks.base import Block, LowerContext, Stream
from .fifo_sizing import reconvergent_fifo_depths
from .mvau_memories import acc_width


@dataclass
class StreamFormat:
    """What the host puts on the top's input stream and reads from its output stream (the
    Verilog and the HLS C++ tops share it)."""

    in_width: int
    in_bits: int  # bits per input element
    in_pixels: int  # input words per frame
    out_fields: int
    out_field_width: int
    out_signed: bool
    out_pixels: int  # output words per frame

    @property
    def out_width(self) -> int:
        return self.out_fields * self.out_field_width

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "out_width": self.out_width}


def element_bits(net: Network, layer: Any) -> int:
    """Bits per element of the stream entering datapath layer `layer`."""
    return net.element_bits(net.producer(layer))


def pixel_width(shape: tuple[int, int, int], bits: int) -> int:
    return shape[2] * bits


def stream_format(net: Network) -> StreamFormat:
    """One word per input pixel in; one word per output pixel of the node feeding the head out
    (the last matrix layer: one accumulator field per channel; a sum pool of its accumulators:
    one sum field per channel) (streams.py)."""
    first = net.consumers[net.input_quant.name][0]
    in_shape = first.in_shape if not isinstance(first, Dense) else net.input_quant.out_shape
    bits0 = element_bits(net, first)
    feed = net.producer(net.head)
    oh, ow, c = feed.out_shape
    if isinstance(feed, SumPool):
        field_width, signed = sumpool_format(net, feed).out_bits, True
    else:
        field_width, signed = acc_width(feed.fan_in, feed.input_bits, feed.weight_bits), not feed.popcount
    return StreamFormat(in_width=pixel_width(in_shape, bits0), in_bits=bits0, in_pixels=in_shape[0] * in_shape[1],
                        out_fields=c, out_field_width=field_width, out_signed=signed, out_pixels=oh * ow)


@dataclass
class HwGraph:
    """A dataflow graph: `input` -> blocks -> `output`, the blocks in topological order. A chain
    where every value feeds one layer; a value feeding several layers goes through a fork, one
    stream (and FIFO) per consumer, and a join reads two streams."""

    net: Network
    format: StreamFormat
    input: Stream
    blocks: list[Block] = field(default_factory=list)
    out: Stream | None = None  # the stream the head reads (set by `lower`)

    @property
    def output(self) -> Stream:
        if self.out is not None:
            return self.out
        return self.blocks[-1].output if self.blocks else self.input

    @property
    def streams(self) -> list[Stream]:
        """Every stream, in order: the input, then each block's outputs."""
        return [self.input, *(s for b in self.blocks for s in b.outputs)]

    def by_layer(self) -> dict[str, list[Block]]:
        """The blocks of each datapath layer (in network order; a layer may have none)."""
        groups: dict[str, list[Block]] = {layer.name: [] for layer in self.net.datapath}
        for block in self.blocks:
            groups[block.layer.name].append(block)
        return groups

    def block(self, name: str) -> Block:
        return next(b for b in self.blocks if b.name == name)

    def producer_of(self, stream: Stream) -> Block | None:
        """The block writing `stream` (None: the top's input)."""
        return next((b for b in self.blocks if any(s is stream for s in b.outputs)), None)


def lower(net: Network) -> HwGraph:
    """The hardware dataflow graph of `net` (see the module docstring)."""
    for layer in net.datapath:
        if type(layer) not in LAYER_BLOCKS:
            raise UserError(f"node {describe(layer)} ({layer.kind}): no hardware block implements it yet")
        if len(set(layer.inputs)) != len(layer.inputs):
            raise UserError(f"node {describe(layer)}: reads the same value twice; the hardware lowering takes distinct operands")
    last = net.producer(net.head)
    if len(net.consumers[last.name]) > 1:
        raise UserError(f"node {describe(last)}: its accumulators feed the output and other nodes; "
                        "the hardware lowering takes them to the output only")
    fmt = stream_format(net)
    graph = HwGraph(net, fmt, Stream(None, "in", fmt.in_width, fmt.in_bits, "input pixels"))
    join_depths = reconvergent_fifo_depths(net)
    # (value, consumer) -> the stream the consumer reads that value from
    edges: dict[tuple[str, str], Stream] = {}

    def fan_out(value: Any, owner: Any, src: Stream, fifo_first: bool) -> None:
        """The streams from `value` (stream `src`) to each of its consumers: a FIFO each (none
        for the input of a chain), behind a fork where there are several."""
        consumers = [c for c in net.consumers[value.name]]
        if consumers == [net.head]:
            graph.out = src
            return
        if len(consumers) == 1:
            (consumer,) = consumers
            if fifo_first:
                fifo = FIFO_KIND.edge(owner, value, src, consumer, join_depths.get((value.name, consumer.name),
                                                                                   fifo_depth(consumer)))
                graph.blocks.append(fifo)
                src = fifo.output
            edges[(value.name, consumer.name)] = src
            return
        prefix = "" if owner is value else "in_"
        fork = FORK_KIND.make(owner, value, src, consumers, prefix)
        graph.blocks.append(fork)
        for i, (consumer, branch) in enumerate(zip(consumers, fork.outputs)):
            depth = join_depths.get((value.name, consumer.name), fifo_depth(consumer))
            fifo = FIFO_KIND.edge(owner, value, branch, consumer, depth, f"{prefix}fifo{i}")
            graph.blocks.append(fifo)
            edges[(value.name, consumer.name)] = fifo.output

    iq = net.input_quant
    fan_out(iq, net.consumers[iq.name][0], graph.input, fifo_first=False)
    for layer in net.datapath:
        producers = net.producers(layer)
        srcs = [edges[(p.name, layer.name)] for p in producers]
        ctx = LowerContext(net=net, layer=layer, bits=net.element_bits(producers[0]), prev_shape=producers[0].out_shape,  # type: ignore[union-attr]
                           src=srcs[0], srcs=srcs)
        for kind in LAYER_BLOCKS[type(layer)]:
            block = kind.build(ctx)
            if block is not None:
                graph.blocks.append(block)
                ctx.src = block.output
        fan_out(layer, layer, ctx.src, fifo_first=True)
    return graph


def layer_cycles(layer: Any) -> dict[str, int]:
    """Cycles per frame of the blocks that implement `layer` (each kind's own formula, under
    its key), and the layer's `interval`: the slowest of the blocks that pace it."""
    kinds = LAYER_BLOCKS.get(type(layer))
    if kinds is None:
        return {"interval": 0}
    out: dict[str, int] = {}
    intervals = []
    for kind in kinds:
        out.update(kind.layer_cycles(layer))
        interval = kind.layer_interval(layer)
        if interval is not None:
            intervals.append(interval)
    out["interval"] = max(intervals)
    return out


__all__ = ["HwGraph", "StreamFormat", "Stream", "Block", "lower", "layer_cycles", "stream_format", "element_bits",
           "pixel_width"]
