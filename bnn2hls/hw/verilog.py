"""The Verilog text of a hardware graph (no files): the network top `bnn_top`, or a wrapper
module around some of its blocks (synth.py's layer units), both from
templates/rtl/bnn_top.sv.j2. The template only prints: every instance's module and parameter
list come from its block (`Block.rtl_params`), every link from the graph's streams.
backends/rtl.py writes the result; synth.py hands it to yosys."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import jinja2

from ..resources import resource_dir
from .blocks import Block, rtl_library
from .graph import HwGraph

TOP = "bnn_top.sv"
LIBRARY = rtl_library()  # the hls_lib/rtl files every output carries, in files.f order


@dataclass
class Link:
    name: str
    width: int
    comment: str
    user_width: int = 0
    user_unused: bool = False


@dataclass
class Port:
    """An AXI-Stream port of an instance: `<prefix>_tdata` etc., connected to the links `links`
    (several: concatenated, the first in the low bits)."""

    prefix: str
    links: list[str]

    def signal(self, suffix: str) -> str:
        if len(self.links) == 1:
            return f"{self.links[0]}_{suffix}"
        return "{" + ", ".join(f"{name}_{suffix}" for name in reversed(self.links)) + "}"


@dataclass
class Stage:
    module: str
    name: str
    params: list[tuple[str, Any]]
    inputs: list[Port]
    outputs: list[Port]
    comment: str
    user_in: bool | str = False
    user_out: bool = False
    carries_user: bool = False  # a FIFO moving tuser along with tdata

    @property
    def input(self) -> str:
        return self.inputs[0].links[0]

    @property
    def output(self) -> str:
        return self.outputs[0].links[0]


def link(stream: Any) -> Link:
    return Link(stream.name, stream.width, stream.comment, stream.user_width, stream.user_unused)


def stage(block: Block) -> Stage:
    return Stage(block.module, block.name, block.rtl_params(),
                 [Port(prefix, [s.name for s in streams]) for prefix, streams in block.in_ports()],
                 [Port(prefix, [s.name for s in streams]) for prefix, streams in block.out_ports()], block.comment,
                 user_in=block.user_in, user_out=block.user_out, carries_user=block.carries_user)


@dataclass
class TopPort:
    """A port of the rendered module: `<prefix>_tdata/_tvalid/_tready` tied to link `link`."""

    prefix: str
    link: str
    width: int


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(resource_dir("templates") / "rtl"),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def render(graph: HwGraph, blocks: Sequence[Block] | None = None, module: str = "bnn_top") -> str:
    """`module` instantiating `blocks` (default: all) as bnn_top does. With a subset, the
    module's ports are the streams the subset reads but does not write (s_, then s1_, s2_ ...)
    and those it writes but does not read (m_, m1_ ...): the first block's input and the last
    block's output for a piece of a chain."""
    whole = blocks is None
    blocks = list(graph.blocks if blocks is None else blocks)
    if whole:
        streams = graph.streams
        ins, outs = [graph.input], [graph.output]
        fmt = graph.format
        in_width, out_fields, out_field_width = fmt.in_width, fmt.out_fields, fmt.out_field_width
    else:
        written = [s for b in blocks for s in b.outputs]
        read = [s for b in blocks for s in b.inputs]
        ins = [s for s in read if not any(s is w for w in written)]
        outs = [s for s in written if not any(s is r for r in read)]
        streams = [*ins, *written]
        in_width, out_fields, out_field_width = ins[0].width, 1, outs[0].width
    text = _environment().get_template("bnn_top.sv.j2").render(
        banner="bnn_top", network=graph.net.name, links=[link(s) for s in streams], stages=[stage(b) for b in blocks],
        chain=not any(len(b.inputs) > 1 or len(b.outputs) > 1 for b in graph.blocks), in_link=ins[0].name, out_link=outs[0].name,
        extra_ins=[TopPort(f"s{i}", s.name, s.width) for i, s in enumerate(ins[1:], 1)],
        extra_outs=[TopPort(f"m{i}", s.name, s.width) for i, s in enumerate(outs[1:], 1)],
        in_width=in_width, out_width=out_fields * out_field_width, out_fields=out_fields, out_field_width=out_field_width)
    if module != "bnn_top":
        text, n = re.subn(r"^module bnn_top \(", f"module {module} (", text, count=1, flags=re.M)
        if n != 1:
            raise ValueError("the top template no longer starts with `module bnn_top (`")
    return text
