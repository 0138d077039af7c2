"""The HLS C++ backend: hardware graph -> OUT/hls/ (network top, per-layer parameter headers,
C testbench, copies of the hls_lib/hls building blocks, stream format).

It renders the same hardware graph as the Verilog backend (bnn2hls/hw/graph.py) with the
hls_lib/hls function templates (see hls_lib/hls/README.md): conv = bnn::swg -> bnn::mvau_*,
dense = [bnn::flatten ->] bnn::mvau_*, max-pool = bnn::maxpool, connected by hls::stream FIFOs
inside a DATAFLOW top (a FIFO block of the graph is the depth of the stream it reads). Each
block adds its own call, template arguments, header constants and memories (`Block.hls`, via
`HlsBuilder`); memory words are packed by bnn2hls/hw/mvau_memories.py and stored as chunked
integer constants (bnn::rom<W> in hls_lib/hls/bnn_common.h). The templates only print. Output
is a pure function of the IR (same IR -> same bytes).
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

from typing import Any

from ..ir import datapath
from .. import reference
from ..hw import streams
from ..errors import UserError
from ..hw import HwGraph, StreamFormat, lower
from ..hw.blocks import hls_includes, hls_library
from ..ir import Network
from ..resources import resource_dir

BLOCKS = hls_library()  # copied into OUT/hls
INCLUDES = hls_includes()  # included by the top
TOP = "bnn_top.cpp"
TOP_HEADER = "bnn_top.h"
TESTBENCH = "tb_top.cpp"
STREAM_FORMAT = "stream.json"
PARAMS_SUFFIX = "_params.h"  # one <layer>_params.h per layer with parameters or memories
TB_INPUT, TB_EXPECTED = "tb_input.hex", "tb_expected.hex"  # the testbench's self-check vectors
TB_FRAMES, TB_SEED = 2, 0
TOP_IN, TOP_OUT = "in", "out"  # the top's stream ports
SOURCES = (TOP, TESTBENCH)  # the translation units of the C simulation
MIN_STREAM_DEPTH = 2
DEFAULT_AP_INT_MAX_W = 1024  # ap_int.h's default
AP_INT_LIMIT = 1 << 15  # ap_common.h refuses AP_INT_MAX_W above this
ROWS_PER_LINE = 8  # memory rows per line of a generated header


# ---------------------------------------------------------------------------------------
# Constant memories, as bnn::rom<W> (hls_lib/hls/bnn_common.h) stores them
# ---------------------------------------------------------------------------------------
def chunk_bits(width: int) -> int:
    """bnn::rom<W>::CHUNK_BITS: the narrowest of 8/16/32/64 bits that holds W, else 64."""
    return 8 if width <= 8 else 16 if width <= 16 else 32 if width <= 32 else 64


def rom_initializer(words: list[int], width: int) -> str:
    """The body of `{ {c0, c1, ...}, ... }` for W-bit words: row i holds word i as its
    bnn::rom<W>::K chunks, chunk k = bits [k*CHUNK_BITS +: CHUNK_BITS]."""
    cb = chunk_bits(width)
    k = -(-width // cb)
    mask = (1 << cb) - 1
    suffix = {8: "", 16: "", 32: "U", 64: "ULL"}[cb]
    if words and max(words).bit_length() > width:
        raise ValueError(f"a memory word does not fit {width} bits")
    if k == 1:  # the common case, and the one with millions of rows (PE*SIMD <= 64)
        rows = [f"{{0x{word:x}{suffix}}}" for word in words]
    else:
        rows = ["{" + ", ".join(f"0x{(word >> (j * cb)) & mask:x}{suffix}" for j in range(k)) + "}" for word in words]
    lines = [", ".join(rows[i : i + ROWS_PER_LINE]) for i in range(0, len(rows), ROWS_PER_LINE)]
    return ",\n    ".join(lines)


@dataclass
class Memory:
    """One constant table of a layer header: `NAME[depth][bnn::rom<width>::K]`."""

    name: str
    width: int
    depth: int
    body: str
    comment: str


@dataclass
class Table:
    """A small constant int table (border classes of a sliding window)."""

    name: str
    values: list[int]
    comment: str


@dataclass
class ParamStruct:
    """A block's template parameters as one struct of named constants (`bnn::swg<ns::swg_params>`;
    hls_lib/README.md, "Parameter names")."""

    name: str
    comment: str
    members: list[tuple[str, int]]


@dataclass
class LayerHeader:
    file: str
    namespace: str
    comment: str
    constants: list[tuple[str, int]] = field(default_factory=list)
    structs: list[ParamStruct] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    memories: list[Memory] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# The plan: streams and dataflow processes of the top
# ---------------------------------------------------------------------------------------
@dataclass
class Stream:
    name: str
    type: str
    depth: int
    comment: str


@dataclass
class Call:
    function: str
    template_args: list[str]
    args: list[str]
    comment: str


@dataclass
class Plan:
    streams: list[Stream] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    headers: list[LayerHeader] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)  # every ap_[u]int width the design uses

    def stream(self, name: str, type_: str, depth: int, comment: str) -> str:
        if name == TOP_OUT:  # the top's output port, not a local stream
            return name
        self.streams.append(Stream(name, type_, max(MIN_STREAM_DEPTH, depth), comment))
        return name


def identifier(name: str, taken: set[str]) -> str:
    """A C identifier for layer `name`, unique among `taken` (which it joins)."""
    ident = re.sub(r"\W", "_", name, flags=re.ASCII) or "layer"
    if ident[0].isdigit():
        ident = f"l_{ident}"
    base, n = ident, 1
    while ident in taken:
        n += 1
        ident = f"{base}_{n}"
    taken.add(ident)
    return ident


def uint(width: int) -> str:
    return f"ap_uint<{width}>"


def window_type(width: int, user_w: int) -> str:
    return f"bnn::Window<{width}, {user_w}>"


class HlsBuilder:
    """What a block's `hls(ctx)` (bnn2hls/hw/blocks/) adds its part of the top through: the
    streams it declares, its call, its layer header's constants, tables and memories."""

    uint = staticmethod(uint)
    window_type = staticmethod(window_type)

    def __init__(self, graph: HwGraph) -> None:
        self.graph = graph
        self.plan = Plan()
        self.widths = self.plan.widths
        taken: set[str] = set()
        self.idents = {layer.name: identifier(layer.name, taken) for layer in graph.net.datapath}
        self.names: dict[int, str] = {id(graph.input): TOP_IN}
        self.streams: dict[str, Stream] = {}
        self.headers: dict[str, LayerHeader] = {}

    def name(self, stream: Any) -> str:
        return self.names[id(stream)]

    def declare(self, stream: Any, type_: str, comment: str) -> str:
        """An hls::stream for the graph stream `stream` (the top's `out` for the graph's output)."""
        name = TOP_OUT if stream is self.graph.output else f"s_{self.idents[stream.layer]}_{stream.suffix}"
        self.names[id(stream)] = self.plan.stream(name, type_, 0, comment)
        if name != TOP_OUT:
            self.streams[name] = self.plan.streams[-1]
        return name

    def deepen(self, src: Any, dst: Any, depth: int, comment: str = "") -> None:
        """A FIFO from `src` to `dst`: `src`'s hls::stream, `depth` deep, also stands for `dst`."""
        name = self.name(src)
        s = self.streams[name]
        s.depth = max(s.depth, depth)
        s.comment += comment
        self.names[id(dst)] = name

    def call(self, function: str, template_args: list[str], args: list[str], comment: str) -> None:
        self.plan.calls.append(Call(function, template_args, args, comment))

    def header(self, block: Any) -> LayerHeader:
        layer = block.layer
        if layer.name not in self.headers:
            ident = self.idents[layer.name]
            self.headers[layer.name] = LayerHeader(
                f"{ident}{PARAMS_SUFFIX}", f"{ident}_p",
                f"{layer.name}: {type(layer).__name__.lower()} {tuple(layer.in_shape)} -> {tuple(layer.out_shape)}")
            self.plan.headers.append(self.headers[layer.name])
        return self.headers[layer.name]

    def params(self, block: Any, function: str, members: list[tuple[str, int]]) -> str:
        """Declare `function`'s parameters for `block` as a struct in its layer header; returns
        the struct's qualified name, the one template argument of the call."""
        header = self.header(block)
        name = f"{block.role}_params"
        header.structs.append(ParamStruct(name, f"{function}'s parameters", [(k, int(v)) for k, v in members]))
        return f"{header.namespace}::{name}"

    @staticmethod
    def table(name: str, values: list[int], comment: str) -> Table:
        return Table(name, values, comment)

    @staticmethod
    def memory(header: LayerHeader, memory: Any) -> None:
        header.memories.append(Memory(memory.hls_name, memory.width, memory.depth,
                                      rom_initializer(memory.words, memory.width), memory.comment))


def plan_network(net: Network, graph: HwGraph | None = None) -> tuple[Plan, StreamFormat]:
    """The HLS top of the network's hardware graph: every block adds itself (`Block.hls`)."""
    graph = graph or lower(net)
    layers = net.datapath
    last = net.producer(net.head)
    if layers[-1] is not last:
        raise UserError(f"HLS backend: the datapath must end in the node feeding the head, not '{layers[-1].name}'")
    ctx = HlsBuilder(graph)
    ctx.widths.append(graph.format.in_width)
    for block in graph.blocks:
        block.hls(ctx)
    return ctx.plan, graph.format


def ap_int_max_w(plan: Plan, fmt: StreamFormat) -> int:
    """AP_INT_MAX_W for the design: the widest ap_[u]int, rounded up to 1024 (ap_int.h's unit)."""
    widest = max([*plan.widths, fmt.in_width, fmt.out_width])
    value = max(DEFAULT_AP_INT_MAX_W, -(-widest // 1024) * 1024)
    if value > AP_INT_LIMIT:
        raise UserError(f"HLS backend: a {widest}-bit word exceeds ap_int's limit of {AP_INT_LIMIT} bits; "
                        "lower PE/SIMD of the widest layer")
    return value


def selfcheck_vectors(net: Network, fmt: StreamFormat, frames: int = TB_FRAMES, seed: int = TB_SEED) -> tuple[str, str]:
    """(input words, expected output words) as hex lines for the testbench's self-check (Vitis
    HLS `csim_design` runs it without arguments): pseudo-random datapath inputs (fixed seed)
    through the reference engine's integer datapath, in the stream format of `fmt`."""
    rng = np.random.default_rng(seed)
    shape = (frames, *net.input_quant.out_shape)
    if fmt.in_bits == 1:
        act = rng.random(shape) < 0.5
    else:
        lo, hi = net.input_quant.value_range
        act = rng.integers(lo, hi + 1, shape).astype(np.int32)
    words_in = streams.pack_words(act.astype(np.int64), fmt.in_bits)
    # the source's accumulators (or their window sums) -> the hardware's popcounts
    acc = datapath.head_fields(net, np.asarray(reference.run_datapath(net, act), np.int64))
    words_out = streams.pack_words(acc, fmt.out_field_width)
    return streams.to_hex_lines(words_in, fmt.in_width), streams.to_hex_lines(words_out, fmt.out_width)


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------
def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(resource_dir("templates") / "hls"),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def render(net: Network, plan: Plan, fmt: StreamFormat) -> dict[str, str]:
    """file name -> text of every generated file (blocks excluded)."""
    env = environment()
    common = {"network": net.name, "fmt": fmt, "out_width": fmt.out_width}
    files = {
        TOP_HEADER: env.get_template("bnn_top.h.j2").render(**common, ap_int_max_w=ap_int_max_w(plan, fmt)),
        TOP: env.get_template("bnn_top.cpp.j2").render(**common, streams=plan.streams, calls=plan.calls,
                                                       blocks=INCLUDES, headers=plan.headers),
        TESTBENCH: env.get_template("tb_top.cpp.j2").render(**common, tb_input=TB_INPUT, tb_expected=TB_EXPECTED,
                                                            tb_frames=TB_FRAMES),
    }
    files[TB_INPUT], files[TB_EXPECTED] = selfcheck_vectors(net, fmt)
    layer_template = env.get_template("layer_params.h.j2")
    for header in plan.headers:
        guard = "BNN_" + re.sub(r"\W", "_", header.file.upper(), flags=re.ASCII)
        files[header.file] = layer_template.render(**common, header=header, guard=guard)
    return files


def generate(net: Network, out_dir: Path, graph: HwGraph | None = None) -> StreamFormat:
    """Write OUT/hls: bnn_top.cpp/.h, one <layer>_params.h per matrix layer, tb_top.cpp with its
    self-check vectors (tb_input.hex, tb_expected.hex), the hls_lib/hls blocks and stream.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan, fmt = plan_network(net, graph)
    files = render(net, plan, fmt)
    for stale in sorted(out_dir.glob("*" + PARAMS_SUFFIX)):  # from an earlier network
        if stale.name not in files:
            stale.unlink()
    for name, text in sorted(files.items()):
        (out_dir / name).write_text(text)
    for block in BLOCKS:
        shutil.copyfile(resource_dir("hls_lib") / "hls" / block, out_dir / block)
    doc = {**fmt.to_dict(), "sources": list(SOURCES)}
    (out_dir / STREAM_FORMAT).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return fmt
