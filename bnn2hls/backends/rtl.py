"""The Verilog backend: IR -> OUT/rtl/ (network top, memory init files, building blocks,
filelist).

The network is a linear chain of hls_lib/rtl blocks (see hls_lib/rtl/README.md):
conv = bnn_swg -> bnn_mvau, dense = [bnn_flatten ->] bnn_mvau, max-pool = bnn_maxpool, with
a bnn_fifo between layers. This module decides every block parameter; the template only
prints them.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from .. import datapath
from ..ir import Conv, Dense, MatrixLayer, MaxPool, Network
from ..resources import resource_dir
from ..passes.folding import mvau_cycles
from .fifo_sizing import window_fifo_depth
from .mvau_memories import acc_width, clog2, thr_width, write_mvau_memories

BLOCKS = ("bnn_fifo.sv", "bnn_flatten.sv", "bnn_swg.sv", "bnn_maxpool.sv", "bnn_mvau.sv")
TOP = "bnn_top.sv"
STREAM_FORMAT = "stream.json"
FILELIST = "files.f"
MIN_FIFO_DEPTH = 2


def fifo_depth(consumer: object) -> int:
    """Depth of the FIFO in front of `consumer`.

    A sliding window walks its padded frame in order and takes no input while it emits the
    bottom (and next frame's top) padding rows, but the producer keeps producing: the FIFO
    must hold what the consumer needs for the next frame's first output row, (KH - PAD_T + 1)
    input rows, or the producer stalls and the bottleneck waits for it at every frame start
    (measured: 1.7 % lost on padnet with depth 2).
    """
    if isinstance(consumer, Conv):
        return max(MIN_FIFO_DEPTH, (consumer.kernel[0] - consumer.pads[0] + 1) * consumer.in_shape[1])
    return MIN_FIFO_DEPTH


def vector_literal(values: np.ndarray | list[int], width: int) -> str:
    """A flat Verilog parameter vector: entry i at [i*width +: width]."""
    packed = 0
    for i, v in enumerate(values):
        packed |= (int(v) & ((1 << width) - 1)) << (i * width)
    bits = max(1, width * len(values))
    return f"{bits}'h{packed:x}"


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


@dataclass
class Plan:
    links: list[Link] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    memories: dict[str, dict[str, Any]] = field(default_factory=dict)

    def link(self, name: str, width: int, comment: str, user_width: int = 0) -> str:
        self.links.append(Link(name, width, comment, user_width))
        return name


def element_bits(net: Network, index: int) -> int:
    """Bits per element of the stream entering datapath layer `index`."""
    return net.input_quant.stream_bits if index == 0 else 1


def pixel_width(shape: tuple[int, int, int], bits: int) -> int:
    return shape[2] * bits


def _swg_stage(layer: Conv, bits: int, src: str, plan: Plan) -> tuple[str, int]:
    h, w, c = layer.in_shape
    if layer.border is not None:
        rows, cols = layer.border.row_class, layer.border.col_class
        n_rows, n_cols = layer.border.corrections.shape[:2]
    else:
        oh, ow = layer.out_hw
        rows, cols, n_rows, n_cols = np.zeros(oh, int), np.zeros(ow, int), 1, 1
    cls_w = max(1, clog2(max(n_rows, n_cols)))
    user_w = max(1, clog2(n_rows * n_cols * 2))
    window = layer.kernel[0] * layer.kernel[1] * c * bits
    out = plan.link(f"{layer.name}_win", window, f"{layer.name}: windows", user_width=user_w)
    plan.links[-1].user_unused = layer.border is None
    params = [("C", c), ("B", bits), ("H", h), ("W", w), ("KH", layer.kernel[0]), ("KW", layer.kernel[1]),
              ("SH", layer.stride[0]), ("SW", layer.stride[1]), ("PAD_T", layer.pads[0]), ("PAD_L", layer.pads[1]),
              ("PAD_B", layer.pads[2]), ("PAD_R", layer.pads[3]), ("N_ROW_CLASSES", n_rows), ("N_COL_CLASSES", n_cols),
              ("CLS_W", cls_w), ("ROW_CLASS", vector_literal(rows, cls_w)), ("COL_CLASS", vector_literal(cols, cls_w)),
              ("USER_W", user_w)]
    plan.stages.append(Stage("bnn_swg", f"u_{layer.name}_swg", params, src, out,
                             f"{layer.name}: sliding window {layer.kernel} stride {layer.stride} pads {layer.pads}", user_out=True))
    return out, user_w


def mvau_thresholds(layer: MatrixLayer) -> np.ndarray:
    """int64 [N_CLASSES, MH] in the unit's compare domain (popcount for binary inputs)."""
    if layer.input_bits == 1:
        return datapath.popcount_threshold_classes(layer).reshape(-1, layer.out_channels)
    return layer.thresholds.reshape(1, -1)


def _mvau_stage(layer: MatrixLayer, src: str, user_w: int, out_dir: Path, plan: Plan) -> str:
    has_classes = layer.border is not None
    acc_w = acc_width(layer.fan_in, layer.input_bits)
    if layer.binarize:
        thresholds = mvau_thresholds(layer)
        t_w = thr_width(layer.fan_in, layer.input_bits)
        files = write_mvau_memories(out_dir, layer.name, layer.weights, thresholds, layer.flip, layer.pe, layer.simd,
                                    in_bits=layer.input_bits, thr_w=t_w)
        out_width, n_classes = layer.out_channels, len(thresholds)
    else:
        t_w = 1
        files = write_mvau_memories(out_dir, layer.name, layer.weights, None, None, layer.pe, layer.simd,
                                    in_bits=layer.input_bits)
        out_width, n_classes = layer.out_channels * acc_w, 1
    out = plan.link(f"{layer.name}_out", out_width, f"{layer.name}: output pixels")
    params = [("MW", layer.fan_in), ("MH", layer.out_channels), ("PE", layer.pe), ("SIMD", layer.simd),
              ("IN_B", layer.input_bits), ("BINARIZE", int(layer.binarize)), ("N_CLASSES", n_classes),
              ("USER_W", user_w), ("ACC_W", acc_w), ("THR_W", t_w)]
    params += [(key, f'"{Path(path).name}"') for key, path in sorted(files.items())]
    plan.stages.append(Stage("bnn_mvau", f"u_{layer.name}_mvau", params, src, out,
                             f"{layer.name}: MVAU MW={layer.fan_in} MH={layer.out_channels} PE={layer.pe} SIMD={layer.simd}",
                             user_in=True if has_classes else "tied"))
    plan.memories[layer.name] = {"files": {k: Path(v).name for k, v in files.items()}, "acc_w": acc_w, "thr_w": t_w}
    return out


def stream_format(net: Network) -> StreamFormat:
    """One word per input pixel in; one word per output pixel of the last matrix layer out,
    one accumulator field per channel (streams.py)."""
    first, last = net.datapath[0], net.matrix_layers[-1]
    in_shape = first.in_shape if not isinstance(first, Dense) else net.input_quant.out_shape
    bits0 = element_bits(net, 0)
    oh, ow = last.out_hw
    return StreamFormat(in_width=pixel_width(in_shape, bits0), in_bits=bits0, in_pixels=in_shape[0] * in_shape[1],
                        out_fields=last.out_channels, out_field_width=acc_width(last.fan_in, last.input_bits),
                        out_signed=last.input_bits > 1, out_pixels=oh * ow)


def plan_network(net: Network, out_dir: Path) -> tuple[Plan, StreamFormat]:
    plan = Plan()
    fmt = stream_format(net)
    src = plan.link("in", fmt.in_width, "input pixels")
    layers = net.datapath
    for i, layer in enumerate(layers):
        bits = element_bits(net, i)
        if isinstance(layer, Conv):
            win, user_w = _swg_stage(layer, bits, src, plan)
            depth = window_fifo_depth(layer, mvau_cycles(layer) // (layer.out_hw[0] * layer.out_hw[1]))
            if depth:
                width = next(l.width for l in plan.links if l.name == win)
                queued = plan.link(f"{layer.name}_winq", width, f"{layer.name}: queued windows", user_width=user_w)
                plan.links[-1].user_unused = layer.border is None
                plan.stages.append(Stage("bnn_fifo", f"u_{layer.name}_winq", [("WIDTH", width + user_w), ("DEPTH", depth)],
                                         win, queued, f"{layer.name}: {depth}-window FIFO (sized by fifo_sizing)",
                                         carries_user=True))
                win = queued
            src = _mvau_stage(layer, win, user_w, out_dir, plan)
        elif isinstance(layer, Dense):
            prev_shape = net.input_quant.out_shape if i == 0 else layers[i - 1].out_shape
            pixels = prev_shape[0] * prev_shape[1]
            if pixels > 1:
                vec = plan.link(f"{layer.name}_vec", pixels * pixel_width(prev_shape, bits), f"{layer.name}: flattened input")
                plan.stages.append(Stage("bnn_flatten", f"u_{layer.name}_flatten",
                                         [("W", pixel_width(prev_shape, bits)), ("N", pixels)], src, vec,
                                         f"{layer.name}: collect {pixels} pixels into one vector"))
                src = vec
            src = _mvau_stage(layer, src, 1, out_dir, plan)
        elif isinstance(layer, MaxPool):
            h, w, c = layer.in_shape
            out = plan.link(f"{layer.name}_out", c, f"{layer.name}: output pixels")
            plan.stages.append(Stage("bnn_maxpool", f"u_{layer.name}", [("C", c), ("H", h), ("W", w), ("KH", layer.kernel[0]),
                                     ("KW", layer.kernel[1]), ("SH", layer.stride[0]), ("SW", layer.stride[1])], src, out,
                                     f"{layer.name}: binary max-pool {layer.kernel} stride {layer.stride}"))
            src = out
        if i < len(layers) - 1:
            width = next(l.width for l in plan.links if l.name == src)
            fifo = plan.link(f"{layer.name}_fifo", width, f"{layer.name} -> {layers[i + 1].name}")
            plan.stages.append(Stage("bnn_fifo", f"u_{layer.name}_fifo", [("WIDTH", width), ("DEPTH", fifo_depth(layers[i + 1]))],
                                     src, fifo, f"FIFO between {layer.name} and {layers[i + 1].name}"))
            src = fifo
    return plan, fmt


def render_top(net: Network, plan: Plan, fmt: StreamFormat) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(resource_dir("templates") / "rtl"),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return env.get_template("bnn_top.sv.j2").render(
        banner="bnn_top", network=net.name, links=plan.links, stages=plan.stages, in_width=fmt.in_width,
        out_width=fmt.out_width, out_fields=fmt.out_fields, out_field_width=fmt.out_field_width)


def generate(net: Network, out_dir: Path) -> StreamFormat:
    """Write OUT/rtl: memories, bnn_top.sv, the building blocks and files.f."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plan, fmt = plan_network(net, out_dir)
    (out_dir / TOP).write_text(render_top(net, plan, fmt))
    for block in BLOCKS:
        shutil.copyfile(resource_dir("hls_lib") / "rtl" / block, out_dir / block)
    (out_dir / FILELIST).write_text("".join(f"{name}\n" for name in (*BLOCKS, TOP)))
    (out_dir / STREAM_FORMAT).write_text(json.dumps(fmt.to_dict(), indent=1, sort_keys=True) + "\n")
    return fmt
