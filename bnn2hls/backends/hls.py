"""The HLS C++ backend: IR -> OUT/hls/ (network top, per-layer parameter headers, C testbench,
copies of the hls_lib/hls building blocks, stream format).

The network is the same linear chain as the Verilog backend's (bnn2hls/backends/rtl.py), made
of the hls_lib/hls function templates (see hls_lib/hls/README.md): conv = bnn::swg ->
bnn::mvau_*, dense = [bnn::flatten ->] bnn::mvau_*, max-pool = bnn::maxpool, connected by
hls::stream FIFOs inside a DATAFLOW top. Memory words are packed by
bnn2hls/backends/mvau_memories.py and stored as chunked integer constants (bnn::rom<W> in
hls_lib/hls/bnn_common.h). This module decides every template argument; the templates only
print them. Output is a pure function of the IR (same IR -> same bytes).
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

from .. import datapath, reference, streams
from ..errors import UserError
from ..ir import Conv, MatrixLayer, MaxPool, Network
from ..passes.folding import mvau_cycles
from ..resources import resource_dir
from .fifo_sizing import window_fifo_depth
from .mvau_memories import acc_width, clamp_thresholds, clog2, flip_words, thr_width, threshold_words, weight_words
from .rtl import StreamFormat, element_bits, fifo_depth, mvau_thresholds, pixel_width, stream_format

BLOCKS = ("bnn_common.h", "bnn_flatten.h", "bnn_maxpool.h", "bnn_mvau.h", "bnn_swg.h")
TOP = "bnn_top.cpp"
TOP_HEADER = "bnn_top.h"
TESTBENCH = "tb_top.cpp"
STREAM_FORMAT = "stream.json"
PARAMS_SUFFIX = "_params.h"  # one <layer>_params.h per matrix layer
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
class LayerHeader:
    file: str
    namespace: str
    comment: str
    constants: list[tuple[str, int]] = field(default_factory=list)
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


def _swg(layer: Conv, ident: str, bits: int, src: str, plan: Plan, header: LayerHeader) -> tuple[str, int]:
    h, w, c = layer.in_shape
    oh, ow = layer.out_hw
    if layer.border is not None:
        rows, cols = layer.border.row_class, layer.border.col_class
        n_rows, n_cols = layer.border.corrections.shape[:2]
    else:
        rows, cols, n_rows, n_cols = np.zeros(oh, int), np.zeros(ow, int), 1, 1
    user_w = max(1, clog2(n_rows * n_cols * 2))
    window = layer.kernel[0] * layer.kernel[1] * c * bits
    ns = header.namespace
    header.constants += [("C", c), ("B", bits), ("H", h), ("W", w), ("KH", layer.kernel[0]), ("KW", layer.kernel[1]),
                         ("SH", layer.stride[0]), ("SW", layer.stride[1]), ("PAD_T", layer.pads[0]),
                         ("PAD_L", layer.pads[1]), ("PAD_B", layer.pads[2]), ("PAD_R", layer.pads[3]),
                         ("N_ROW_CLASSES", int(n_rows)), ("N_COL_CLASSES", int(n_cols)), ("USER_W", user_w),
                         ("OH", oh), ("OW", ow)]
    header.tables += [Table("ROW_CLASS", [int(v) for v in rows], "border class of each output row"),
                      Table("COL_CLASS", [int(v) for v in cols], "border class of each output column")]
    depth = window_fifo_depth(layer, mvau_cycles(layer) // (oh * ow))
    out = plan.stream(f"s_{ident}_win", window_type(window, user_w), depth,
                      f"{layer.name}: windows + border class" + (f" ({depth}-window FIFO, sized by fifo_sizing)" if depth else ""))
    targs = [f"{ns}::{k}" for k in ("C", "B", "H", "W", "KH", "KW", "SH", "SW", "PAD_T", "PAD_L", "PAD_B", "PAD_R",
                                    "N_COL_CLASSES", "USER_W")]
    plan.calls.append(Call("bnn::swg", targs, [src, out, f"{ns}::ROW_CLASS", f"{ns}::COL_CLASS"],
                           f"{layer.name}: sliding window {layer.kernel} stride {layer.stride} pads {layer.pads}"))
    plan.widths += [c * bits, window, user_w]
    return out, user_w


def _mvau(layer: MatrixLayer, ident: str, src: str, plan: Plan, header: LayerHeader, out_name: str, out_depth: int) -> str:
    mw, mh, pe, simd = layer.fan_in, layer.out_channels, layer.pe, layer.simd
    nf, sf = mh // pe, mw // simd
    acc_w = acc_width(mw, layer.input_bits)
    oh, ow = layer.out_hw
    ns = header.namespace
    weights = weight_words(layer.weights, pe, simd)
    header.memories.append(Memory("WEIGHTS", pe * simd, len(weights), rom_initializer(weights, pe * simd),
                                  f"[NF*SF = {nf}*{sf}] words of PE*SIMD = {pe}*{simd} bits"))
    if layer.binarize:
        t_w = thr_width(mw, layer.input_bits)
        thr = clamp_thresholds(mvau_thresholds(layer), mw, layer.input_bits)
        n_classes = len(thr)
        t_words = threshold_words(thr, pe, t_w, signed=layer.input_bits != 1)
        f_words = flip_words(layer.flip, pe)
        header.memories.append(Memory("THRESHOLDS", pe * t_w, len(t_words), rom_initializer(t_words, pe * t_w),
                                      f"[N_CLASSES*NF = {n_classes}*{nf}] words of PE*THR_W = {pe}*{t_w} bits"
                                      f" ({'unsigned popcount' if layer.input_bits == 1 else 'signed accumulator'} thresholds)"))
        header.memories.append(Memory("FLIPS", pe, len(f_words), rom_initializer(f_words, pe), f"[NF = {nf}] words of PE = {pe} bits"))
        out_width = mh
    else:
        t_w, n_classes, out_width = 1, 1, mh * acc_w
    header.constants += [("MW", mw), ("MH", mh), ("PE", pe), ("SIMD", simd), ("IN_B", layer.input_bits),
                         ("BINARIZE", int(layer.binarize)), ("N_CLASSES", n_classes), ("ACC_W", acc_w), ("THR_W", t_w),
                         ("VECTORS", oh * ow)]
    out = plan.stream(out_name, uint(out_width), out_depth, f"{layer.name}: output pixels")
    if layer.binarize:
        targs = [f"{ns}::{k}" for k in ("MW", "MH", "PE", "SIMD", "IN_B", "N_CLASSES", "ACC_W", "THR_W", "VECTORS")]
        call = Call("bnn::mvau_threshold", targs, [src, out, f"{ns}::WEIGHTS", f"{ns}::THRESHOLDS", f"{ns}::FLIPS"], "")
    else:
        targs = [f"{ns}::{k}" for k in ("MW", "MH", "PE", "SIMD", "IN_B", "ACC_W", "VECTORS")]
        call = Call("bnn::mvau_acc", targs, [src, out, f"{ns}::WEIGHTS"], "")
    call.comment = f"{layer.name}: MVAU MW={mw} MH={mh} PE={pe} SIMD={simd}" + ("" if layer.binarize else ", raw accumulators")
    plan.calls.append(call)
    plan.widths += [mw * layer.input_bits, pe * simd, pe * t_w, pe, out_width, acc_w + 1, t_w + 1]
    return out


def plan_network(net: Network) -> tuple[Plan, StreamFormat]:
    plan = Plan()
    taken: set[str] = set()
    layers = net.datapath
    fmt = stream_format(net)
    plan.widths.append(fmt.in_width)
    src = TOP_IN
    for i, layer in enumerate(layers):
        ident = identifier(layer.name, taken)
        bits = element_bits(net, i)
        last = i == len(layers) - 1
        # The output stream: the top's `out` for the last layer, else a FIFO sized as the RTL's.
        out_name = TOP_OUT if last else f"s_{ident}_out"
        out_depth = 0 if last else fifo_depth(layers[i + 1])
        if isinstance(layer, MatrixLayer):
            header = LayerHeader(f"{ident}{PARAMS_SUFFIX}", f"{ident}_p", "")
            if isinstance(layer, Conv):
                src, _ = _swg(layer, ident, bits, src, plan, header)
            else:
                prev_shape = net.input_quant.out_shape if i == 0 else layers[i - 1].out_shape
                pixels = prev_shape[0] * prev_shape[1]
                if pixels > 1:
                    pix_w = pixel_width(prev_shape, bits)
                    header.constants += [("FLATTEN_W", pix_w), ("FLATTEN_N", pixels)]
                    vec = plan.stream(f"s_{ident}_vec", uint(pixels * pix_w), 0, f"{layer.name}: flattened input")
                    plan.calls.append(Call("bnn::flatten", [f"{header.namespace}::FLATTEN_W", f"{header.namespace}::FLATTEN_N"],
                                           [src, vec], f"{layer.name}: collect {pixels} pixels into one vector"))
                    plan.widths.append(pixels * pix_w)
                    src = vec
            src = _mvau(layer, ident, src, plan, header, out_name, out_depth)
            header.comment = f"{layer.name}: {type(layer).__name__.lower()} {tuple(layer.in_shape)} -> {tuple(layer.out_shape)}"
            plan.headers.append(header)
        elif isinstance(layer, MaxPool):
            h, w, c = layer.in_shape
            out = plan.stream(out_name, uint(c), out_depth, f"{layer.name}: output pixels")
            targs = [str(v) for v in (c, h, w, layer.kernel[0], layer.kernel[1], layer.stride[0], layer.stride[1])]
            plan.calls.append(Call("bnn::maxpool", targs, [src, out], f"{layer.name}: binary max-pool {layer.kernel} stride {layer.stride}"))
            src = out
        else:  # pragma: no cover - validate() admits nothing else
            raise UserError(f"HLS backend: unsupported layer '{layer.name}'")
    last = net.matrix_layers[-1]
    if layers[-1] is not last:
        raise UserError(f"HLS backend: the datapath must end in its last matrix layer, not '{layers[-1].name}'")
    return plan, fmt


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
    for layer in net.datapath:
        act = reference.matrix_layer(layer, act) if isinstance(layer, MatrixLayer) else reference.maxpool_layer(layer, act)
    last = net.matrix_layers[-1]
    acc = np.asarray(act, np.int64)
    if last.input_bits == 1:  # the source's accumulator -> the hardware's popcount
        acc = (acc + last.fan_in + datapath.corrections_at_positions(last)[None]) // 2
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
                                                       blocks=BLOCKS, headers=plan.headers),
        TESTBENCH: env.get_template("tb_top.cpp.j2").render(**common, tb_input=TB_INPUT, tb_expected=TB_EXPECTED,
                                                            tb_frames=TB_FRAMES),
    }
    files[TB_INPUT], files[TB_EXPECTED] = selfcheck_vectors(net, fmt)
    layer_template = env.get_template("layer_params.h.j2")
    for header in plan.headers:
        guard = "BNN_" + re.sub(r"\W", "_", header.file.upper(), flags=re.ASCII)
        files[header.file] = layer_template.render(**common, header=header, guard=guard)
    return files


def generate(net: Network, out_dir: Path) -> StreamFormat:
    """Write OUT/hls: bnn_top.cpp/.h, one <layer>_params.h per matrix layer, tb_top.cpp with its
    self-check vectors (tb_input.hex, tb_expected.hex), the hls_lib/hls blocks and stream.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan, fmt = plan_network(net)
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
