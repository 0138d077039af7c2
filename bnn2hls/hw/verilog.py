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
class Stage:
    module: str
    name: str
    params: list[tuple[str, Any]]
    input: str
    output: str
    comment: str
    user_in: bool | str = False
    user_out: bool = False
    carries_user: bool = False  # a FIFO moving tuser along with tdata


def link(stream: Any) -> Link:
    return Link(stream.name, stream.width, stream.comment, stream.user_width, stream.user_unused)


def stage(block: Block) -> Stage:
    return Stage(block.module, block.name, block.rtl_params(), block.input.name, block.output.name, block.comment,
                 user_in=block.user_in, user_out=block.user_out, carries_user=block.carries_user)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(resource_dir("templates") / "rtl"),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def render(graph: HwGraph, blocks: Sequence[Block] | None = None, module: str = "bnn_top") -> str:
    """`module` instantiating `blocks` (default: all) as bnn_top does; with a subset, the
    module's ports are the first block's input and the last block's output."""
    whole = blocks is None
    blocks = list(graph.blocks if blocks is None else blocks)
    streams = [blocks[0].input, *(b.output for b in blocks)]
    if whole:
        fmt = graph.format
        in_width, out_fields, out_field_width = fmt.in_width, fmt.out_fields, fmt.out_field_width
    else:
        in_width, out_fields, out_field_width = streams[0].width, 1, streams[-1].width
    text = _environment().get_template("bnn_top.sv.j2").render(
        banner="bnn_top", network=graph.net.name, links=[link(s) for s in streams], stages=[stage(b) for b in blocks],
        in_width=in_width, out_width=out_fields * out_field_width, out_fields=out_fields, out_field_width=out_field_width)
    if module != "bnn_top":
        text, n = re.subn(r"^module bnn_top \(", f"module {module} (", text, count=1, flags=re.M)
        if n != 1:
            raise ValueError("the top template no longer starts with `module bnn_top (`")
    return text
