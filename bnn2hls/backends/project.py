"""The board project backend: IR + board + OUT/rtl/stream.json -> OUT/project/.

Xilinx boards (toolchain "vivado"): `hls.tcl` (Vitis HLS csim/csynth/IP export of ../hls),
`vivado.tcl` (block design: PS + AXI DMA + width converters + the accelerator, bitstream and
.hwh), `bnn_axis_adapters.v`, `bnn_rtl_accel.v` (the Verilog accelerator as a block-design
module, `make bitstream ACCEL=rtl`), `Makefile`.
Open-toolchain boards ("yosys-nextpnr"): `synth.ys`, `bnn_board_top.v` (the accelerator behind
the board's UART), `board.pcf` / `board.lpf`, `Makefile`.
Both: `driver.py` + `driver_params.json` + `driver_params.npz` (the host side of a run, numpy
only) and `README.md`.

Host stream format (the one thing the hardware glue and the driver must agree on): an
accelerator word (input pixel, `in_width` bits; output word, `out_width` bits) occupies
`stream_words(width, board.stream_width_bits)` whole stream words, least significant first,
zero padded; in memory, the little-endian bytes of the word. Stream words are the AXI DMA's
(64 bits on Zynq-7000, 128 on ZynqMP) or the UART's bytes. Within a word the packing is
bnn2hls.hw.streams.pack_words'. Every frame's last output word carries TLAST (DMA boards).

Everything written is a pure function of (net, board, stream): byte-deterministic.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from ..ir import datapath
from .. import ir
from ..hw.boards import Board
from ..errors import UserError
from ..hw.folding import estimate_cycles
from ..resources import resource_dir
from . import rtl as rtl_backend
from ..hw.graph import stream_format
from ..hw.mvau_memories import clog2

DRIVER_FORMAT = 1
PARAMS_JSON = "driver_params.json"
PARAMS_NPZ = "driver_params.npz"
STREAM_KEYS = ("in_width", "in_bits", "out_fields", "out_field_width", "out_signed", "out_pixels", "out_width")
MAX_UART_OUT_FIFO = 64  # output words bnn_board_top buffers while its UART sends


def stream_words(width: int, stream_width: int) -> int:
    """Stream words one accelerator word of `width` bits occupies."""
    return -(-int(width) // int(stream_width))


def files_for(board: Board) -> tuple[str, ...]:
    """The files `generate` writes for this board (sorted)."""
    common = ("Makefile", "README.md", "driver.py", PARAMS_JSON, PARAMS_NPZ)
    if board.is_xilinx:
        own: tuple[str, ...] = ("bnn_axis_adapters.v", "bnn_rtl_accel.v", "hls.tcl", "vivado.tcl")
    else:
        own = ("bnn_board_top.v", "synth.ys", "board.pcf" if board.family == "ice40" else "board.lpf")
    return tuple(sorted(common + own))


GENERATED_NAMES = {"Makefile", "README.md", "driver.py", PARAMS_JSON, PARAMS_NPZ, "bnn_axis_adapters.v", "bnn_rtl_accel.v",
                   "hls.tcl", "vivado.tcl", "bnn_board_top.v", "synth.ys", "board.pcf", "board.lpf"}


def _last_layer(net: ir.Network) -> ir.MatrixLayer:
    """The matrix layer whose accumulators (or their sum pool) the head reads."""
    last = net.head_accumulators()
    feed = net.producer(net.head)
    if tuple(net.head.in_shape) != tuple(feed.out_shape):
        raise UserError(f"project: the output head's input {tuple(net.head.in_shape)} is not the output "
                        f"{tuple(feed.out_shape)} of '{feed.name}'")
    return last


def check_stream(net: ir.Network, stream: dict[str, Any]) -> None:
    """UserError unless `stream` (OUT/rtl/stream.json) describes this network's accelerator."""
    missing = [k for k in STREAM_KEYS if k not in stream]
    if missing:
        raise UserError(f"rtl/stream.json: missing {', '.join(missing)}")
    _last_layer(net)
    fmt = stream_format(net).to_dict()
    expect = {k: fmt[k] for k in STREAM_KEYS}
    wrong = [f"{k}={stream[k]!r} (expected {v!r})" for k, v in expect.items() if stream[k] != v]
    if wrong:
        raise UserError(f"rtl/stream.json does not match network '{net.name}': {', '.join(wrong)}; recompile")


# ---------------------------------------------------------------------------------------
# Driver parameters
# ---------------------------------------------------------------------------------------
def _affine_entry(op: ir.AffineOp, key: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    params = {}
    for name, value in sorted(op.params.items()):
        arrays[f"{key}.{name}"] = np.ascontiguousarray(value)
        params[name] = f"{key}.{name}"
    return {"kind": op.kind, "eps": float(op.eps), "params": params}


def driver_params(net: ir.Network, board: Board, stream: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """What driver.py needs, as (JSON document, arrays by key)."""
    check_stream(net, stream)
    iq, head, last = net.input_quant, net.head, _last_layer(net)
    arrays: dict[str, np.ndarray] = {}
    preprocess = []
    for i, (kind, step) in enumerate(iq.preprocess):
        if kind == "affine":
            preprocess.append(_affine_entry(step, f"input.preprocess.{i}", arrays))
        elif kind == "reshape":
            preprocess.append({"kind": "reshape", "shape": [int(d) for d in step]})
        else:
            raise UserError(f"project: unknown preprocessing step {kind!r} in '{iq.name}'")
    d = board.stream_width_bits
    h, w, c = iq.out_shape
    doc_input = {
        "source_shape": [int(s) for s in iq.source_shape],
        "preprocess": preprocess,
        "bits": iq.bits,
        "bipolar": iq.bipolar,
        "stream_bits": iq.stream_bits,
        "scale": float(iq.scale),
        "zero_point": float(iq.zero_point),
        "int_range": [int(v) for v in iq.int_range],
        "rounding": iq.rounding,
        "pixels": h * w,
        "elements": c,
        "width": stream["in_width"],
        "stream_words": stream_words(stream["in_width"], d),
    }
    popcount = last.popcount
    correction = None
    fan_in = last.fan_in
    if popcount and isinstance(net.producer(head), ir.SumPool):
        # the popcounts' window sums: source = 2 * sum - (window sum of fan_in + correction)
        arrays["output.correction"] = datapath.head_offset(net)
        correction, fan_in = "output.correction", 0
    elif popcount and last.border is not None:
        arrays["output.correction"] = datapath.corrections_at_positions(last).astype(np.int64)
        correction = "output.correction"
    arrays["output.acc_scale"] = np.ascontiguousarray(head.acc_scale)
    doc_output = {
        "shape": [int(v) for v in head.in_shape],
        "pixels": stream["out_pixels"],
        "fields": stream["out_fields"],
        "field_width": stream["out_field_width"],
        "signed": bool(stream["out_signed"]),
        "width": stream["out_width"],
        "stream_words": stream_words(stream["out_width"], d),
        "popcount": popcount,
        "fan_in": fan_in,
        "correction": correction,
        "acc_scale": "output.acc_scale",
        "chain": [_affine_entry(op, f"output.chain.{i}", arrays) for i, op in enumerate(head.chain)],
        "features": head.out_features,
    }
    doc = {
        "format": DRIVER_FORMAT,
        "network": net.name,
        "board": board.name,
        "link": "axi-dma" if board.is_xilinx else "uart",
        "stream": {"width_bits": d, "uart_baud": board.uart_baud},
        "input": doc_input,
        "output": doc_output,
    }
    return doc, arrays


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(resource_dir("templates") / "project"),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True, autoescape=False)


def _rtl_files(out_dir: Path) -> list[str]:
    filelist = out_dir.parent / "rtl" / rtl_backend.FILELIST
    if filelist.is_file():
        return filelist.read_text().split()
    return [*rtl_backend.BLOCKS, rtl_backend.TOP]


def _uart_plan(board: Board, doc: dict[str, Any], est_cycles: int) -> dict[str, Any]:
    assert board.uart_baud is not None  # required for open boards (boards._OPEN_REQUIRED)
    div = round(board.clock_mhz * 1e6 / board.uart_baud)
    if not 4 <= div < 1 << 16:
        raise UserError(f"board '{board.name}': {board.uart_baud} baud at {board.clock_mhz:g} MHz is {div} cycles per bit "
                        "(the UART needs 4..65535)")
    in_bytes = doc["input"]["stream_words"]
    out_bytes = doc["output"]["stream_words"]
    if in_bytes >= 1 << 16 or out_bytes >= 1 << 16:
        raise UserError(f"board '{board.name}': stream words wider than 65535 bytes")
    # A whole frame of input pixels fits in the pixel register plus the input FIFO: the driver
    # sends a frame only after reading back the previous one's outputs, so nothing is dropped
    # however long the accelerator stalls its input.
    pixels = doc["input"]["pixels"]
    depth = 1 << max(1, clog2(pixels)) if pixels > 1 else 0
    link_cycles = pixels * in_bytes * 10 * div  # 10 bits per byte on the line
    out_cycles = doc["output"]["pixels"] * out_bytes * 10 * div
    hz = board.clock_mhz * 1e6
    note = (f"The UART moves a frame in about {(link_cycles + out_cycles) / hz * 1e3:.1f} ms ({pixels * in_bytes} bytes in, "
            f"{doc['output']['pixels'] * out_bytes} bytes out); the accelerator needs about {est_cycles / hz * 1e3:.1f} ms "
            "per frame. ")
    if depth:
        note += f"Input pixels queue in a {depth}-pixel FIFO (a whole frame), so the driver "
    else:
        note += "The driver "
    note += "sends a frame, reads its outputs, then sends the next."
    return {"uart_div": div, "in_bytes": in_bytes, "out_bytes": out_bytes, "in_fifo_depth": depth,
            "in_fifo_aw": clog2(depth) if depth else 0,
            "out_depth": min(max(2, doc["output"]["pixels"]), MAX_UART_OUT_FIFO), "uart_note": note}


def render(net: ir.Network, board: Board, stream: dict[str, Any],
           rtl_files: list[str] | None = None) -> tuple[dict[str, bytes], dict[str, np.ndarray]]:
    """(every text file of OUT/project as bytes by name, the driver's arrays): what `generate` writes."""
    doc, arrays = driver_params(net, board, stream)
    est = int(estimate_cycles(net)["est_cycles_per_frame"])
    d = board.stream_width_bits
    in_words, out_words = doc["input"]["stream_words"], doc["output"]["stream_words"]
    ctx: dict[str, Any] = {
        "banner": f"Generated by bnn2hls for network '{net.name}' on board '{board.name}'; do not edit.",
        "network": net.name,
        "board": board,
        "link": doc["link"],
        "stream_width": d,
        "dma_width": d,
        "lane_bits": min(64, d),
        "in_width": stream["in_width"],
        "in_bits": stream["in_bits"],
        "in_pixels": doc["input"]["pixels"],
        "in_elements": doc["input"]["elements"],
        "in_words": in_words,
        "out_width": stream["out_width"],
        "out_fields": stream["out_fields"],
        "out_field_width": stream["out_field_width"],
        "out_signed": stream["out_signed"],
        "out_pixels": stream["out_pixels"],
        "out_words": out_words,
        "source_shape": doc["input"]["source_shape"],
        "features": doc["output"]["features"],
        "est_cycles": est,
        "est_fps": f"{board.clock_mhz * 1e6 / est:.0f}" if est else "n/a",
        "clock_note": _clock_note(net, board),
        "bitfile": "bnn.bin" if board.family == "ice40" else "bnn.bit",
        "uart_note": "",
    }
    env = _env()
    files: dict[str, bytes] = {}

    def put(name: str, template: str) -> None:
        files[name] = env.get_template(template).render(**ctx).encode()

    if board.is_xilinx:
        zynq7 = board.family == "zynq7000"
        ctx.update(ctrl_port="M_AXI_GP0" if zynq7 else "M_AXI_HPM0_FPD", data_port="S_AXI_HP0" if zynq7 else "S_AXI_HP0_FPD",
                   project_name="bnn_" + board.name.replace("-", "_"),
                   acc_in_w=8 * -(-stream["in_width"] // 8), acc_out_w=8 * -(-stream["out_width"] // 8))
        put("hls.tcl", "hls.tcl.j2")
        put("vivado.tcl", "vivado.tcl.j2")
        put("bnn_rtl_accel.v", "bnn_rtl_accel.v.j2")
        files["bnn_axis_adapters.v"] = (resource_dir("templates") / "project" / "bnn_axis_adapters.v").read_bytes()
        put("Makefile", "Makefile.vivado.j2")
    else:
        ctx.update(_uart_plan(board, doc, est), rtl_files=rtl_files or [*rtl_backend.BLOCKS, rtl_backend.TOP])
        put("synth.ys", "synth.ys.j2")
        put("bnn_board_top.v", "bnn_board_top.v.j2")
        if board.family == "ice40":
            put("board.pcf", "board.pcf.j2")
        else:
            put("board.lpf", "board.lpf.j2")
        put("Makefile", "Makefile.open.j2")
    put("driver.py", "driver.py.j2")
    put("README.md", "README.md.j2")
    files[PARAMS_JSON] = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
    return files, arrays


def _clock_note(net: ir.Network, board: Board) -> str:
    """What the project's clock is against the predicted fmax (estimate/fmax_model.py): the
    project runs at the board's clock, which the prediction may say the design cannot reach."""
    from ..estimate import fmax_model

    family = fmax_model.model_family(board.family)
    pred = fmax_model.predict(net, family)
    if pred is None:
        return f"board clock; fmax not predicted for {family}"
    if pred.fmax_mhz < board.clock_mhz:
        return (f"board clock, above the predicted fmax {pred.fmax_mhz:.0f} MHz on {family}: "
                f"the design may not meet timing at it")
    return f"board clock; predicted fmax {pred.fmax_mhz:.0f} MHz on {family}"


def generate(net: ir.Network, board: Board, out_dir: Path, stream: dict[str, Any]) -> None:
    """Write OUT/project (`out_dir`) for `board`; `stream` is the dict of OUT/rtl/stream.json."""
    out_dir = Path(out_dir)
    files, arrays = render(net, board, stream, _rtl_files(out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in GENERATED_NAMES - set(files) - {PARAMS_NPZ}:  # left by a project for another board
        (out_dir / name).unlink(missing_ok=True)
    for name, data in sorted(files.items()):
        (out_dir / name).write_bytes(data)
    ir.write_npz(out_dir / PARAMS_NPZ, arrays)
