"""Boards (boards/*.json via bnn2hls.hw.boards) and board projects (bnn2hls.backends.project).

The generated driver is held to the host side of `bnn2hls run`: its `pack_input` must give
exactly streams.pack_words(reference.quantize_input(...)) regrouped into stream words, and
its `unpack_output` of the accelerator's fields exactly reference.run. `Accelerator.run` is
exercised against an emulated board (a fake `pynq` / `serial` whose "hardware" decodes the
stream with bnn2hls.hw.streams and runs the reference datapath). Generated Tcl is parsed and
executed by tclsh with every Vivado/Vitis command stubbed.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bnn2hls.hw import boards, streams
from bnn2hls.flow import compiler
from bnn2hls.ir import datapath
from bnn2hls import ir, reference
from bnn2hls.models import zoo
from bnn2hls.backends import project
from bnn2hls.errors import UserError
from bnn2hls.frontend.torch_export import export_qonnx
from bnn2hls.ir import MatrixLayer

from .conftest import random_inputs

pytestmark = pytest.mark.tier("e2e")

BOARD_NAMES = ("icebreaker", "kv260", "pynq-z1", "pynq-z2", "ultra96-v2", "ulx3s-85f", "zcu104")
XILINX = ("kv260", "pynq-z1", "pynq-z2", "ultra96-v2", "zcu104")
# one board per stream width: 64-bit DMA, 128-bit DMA, UART bytes
DRIVER_BOARDS = ("pynq-z2", "kv260", "icebreaker")
TCLSH = shutil.which("tclsh") or shutil.which("tclsh8.6")


# ---------------------------------------------------------------------------------------
# Networks: zoo nets plus two that end in a zero-padded conv
# ---------------------------------------------------------------------------------------
def padlast(seed: int = 0):
    """Binary input; the last conv is zero-padded (border correction on the host)."""
    torch.manual_seed(seed)
    model = zoo._Sequential(
        zoo._binary_act(),
        zoo._conv(1, 6, 3, stride=2, padding=1), nn.BatchNorm2d(6), zoo._binary_act(),
        zoo._conv(6, 4, 3, padding=1),
        nn.Flatten(),
    )
    zoo.randomize_batchnorm(model, seed)
    return model.eval(), torch.zeros(1, 1, 9, 8)


def onelayer(seed: int = 0):
    """8-bit input straight into the last (padded, biased) conv: signed accumulators out."""
    torch.manual_seed(seed)
    model = zoo._Sequential(zoo._input_quant_8bit(), zoo._conv(3, 4, 3, padding=1, bias=True), nn.Flatten())
    return model.eval(), torch.zeros(1, 3, 5, 6)


CUSTOM = {"padlast": padlast, "onelayer": onelayer}
NETS = ("padnet", "oddnet", "padlast", "onelayer")


@dataclasses.dataclass
class Compiled:
    net: ir.Network
    stream: dict
    out: Path
    model: Path


@pytest.fixture(scope="module")
def compiled(exported, tmp_path_factory):
    root = tmp_path_factory.mktemp("boardnets")
    cache: dict[str, Compiled] = {}

    def get(name: str) -> Compiled:
        if name not in cache:
            if name in CUSTOM:
                module, example = CUSTOM[name]()
                path = export_qonnx(module, example, root / f"{name}.onnx")
            else:
                path, _ = exported(name)
            out = root / f"{name}_out"
            compiler.compile_file(path, out)
            stream = json.loads((out / "rtl" / "stream.json").read_text())
            cache[name] = Compiled(ir.load(out), stream, out, path)
        return cache[name]

    return get


def make_project(c: Compiled, board_name: str) -> Path:
    """OUT/project for the board (each board in its own copy of OUT's layout)."""
    root = c.out.parent / f"{c.out.name}-{board_name}"
    if not (root / "project").is_dir():
        root.mkdir(exist_ok=True)
        shutil.copytree(c.out / "rtl", root / "rtl", dirs_exist_ok=True)
        project.generate(c.net, boards.load_board(board_name), root / "project", c.stream)
    return root / "project"


def load_driver(project_dir: Path) -> types.ModuleType:
    name = f"bnn_driver_{abs(hash(str(project_dir)))}"
    spec = importlib.util.spec_from_file_location(name, project_dir / "driver.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------
# The "hardware": what the accelerator emits, from the reference datapath
# ---------------------------------------------------------------------------------------
def accelerator_fields(net: ir.Network, act: np.ndarray) -> np.ndarray:
    """Datapath input [N, H, W, C] -> the last layer's output fields int64 [N*OH*OW, C]:
    unsigned popcounts (binary input) or signed accumulators (multi-bit input)."""
    *body, last = net.datapath
    assert isinstance(last, MatrixLayer)
    for layer in body:
        act = reference.matrix_layer(layer, act) if isinstance(layer, MatrixLayer) else reference.maxpool_layer(layer, act)
    acc = reference.matrix_layer(last, act)  # the zero-padded source's accumulator
    if last.input_bits == 1:
        twice = acc + last.fan_in + datapath.corrections_at_positions(last)[None]
        assert np.all(twice % 2 == 0)
        acc = twice // 2
    return acc.reshape(-1, last.out_channels)


def to_stream_bytes(words: list[int], width: int, stream_width: int) -> bytes:
    """Accelerator words -> the host stream: each padded to whole stream words, little endian."""
    nbytes = project.stream_words(width, stream_width) * stream_width // 8
    assert all(w >> width == 0 for w in words)
    return b"".join(w.to_bytes(nbytes, "little") for w in words)


def from_stream_bytes(data: bytes, width: int, stream_width: int) -> list[int]:
    nbytes = project.stream_words(width, stream_width) * stream_width // 8
    assert len(data) % nbytes == 0
    words = [int.from_bytes(data[i : i + nbytes], "little") for i in range(0, len(data), nbytes)]
    assert all(w >> width == 0 for w in words), "padding bits must be zero"
    return words


def emulate(net: ir.Network, stream: dict, stream_width: int, data: bytes) -> bytes:
    """Input stream bytes of whole frames -> output stream bytes (decoding with bnn2hls.hw.streams)."""
    iq = net.input_quant
    h, w, c = iq.out_shape
    words = from_stream_bytes(data, stream["in_width"], stream_width)
    values = streams.unpack_words(words, c, iq.bits, signed=iq.bits > 1)
    act = values.reshape(-1, h, w, c)
    act = act.astype(bool) if iq.bits == 1 else act.astype(np.int32)
    fields = accelerator_fields(net, act)
    return to_stream_bytes(streams.pack_words(fields, stream["out_field_width"]), stream["out_width"], stream_width)


# ---------------------------------------------------------------------------------------
# Boards
# ---------------------------------------------------------------------------------------
def test_every_board_file_loads_and_validates():
    found = boards.list_boards()
    assert tuple(b.name for b in found) == BOARD_NAMES
    for board in found:
        assert board == boards.load_board(board.name)
        assert all(board.resources[k] >= 0 for k in boards.RESOURCE_KEYS) and board.resources["lut"] > 0
        assert board.clock_mhz > 0 and board.stream_width_bits % 8 == 0
        assert board.name in board.summary()
        if board.is_xilinx:
            assert board.ps_ip == boards.PS_IPS[board.family] and board.stream_width_bits >= 32
        else:
            assert board.uart_baud and set(board.pins) == set(boards.PIN_KEYS)


def test_board_round_trips_and_is_read_only():
    for board in boards.list_boards():
        doc = json.loads(json.dumps(board.to_dict()))
        assert doc == json.loads((boards.boards_dir() / f"{board.name}.json").read_text())
        assert boards.parse_board(doc, "x.json") == board
    with pytest.raises(TypeError):
        boards.load_board("pynq-z2").resources["lut"] = 1  # boards are cached and shared


def test_board_figures():
    """Spot checks against the vendors' data sheets (docs/DESIGN.md section 3, and each board file's notes)."""
    zu3 = boards.load_board("ultra96-v2").resources
    assert (zu3["lut"], zu3["ff"], zu3["bram18"], zu3["uram"], zu3["dsp"]) == (70560, 141120, 432, 0, 360)
    z20 = boards.load_board("pynq-z1").resources
    assert z20 == boards.load_board("pynq-z2").resources == {"lut": 53200, "ff": 106400, "bram18": 280, "uram": 0, "dsp": 220}
    assert boards.load_board("zcu104").resources["uram"] == 96
    assert boards.load_board("kv260").resources["bram18"] == 288
    up5k = boards.load_board("icebreaker")
    assert up5k.resources["bram18"] == 30 * 4 // 18 and up5k.native_resources["spram_256kbit"] == 4
    assert boards.load_board("ulx3s-85f").resources["bram18"] == 208


def test_unknown_board():
    with pytest.raises(UserError, match=r"unknown board 'nosuchboard' \(known: icebreaker, kv260, pynq-z1, "):
        boards.load_board("nosuchboard")
    with pytest.raises(UserError, match="unknown board"):
        boards.load_board("../boards/pynq-z2")


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.pop("part"), "'part': missing"),
    (lambda d: d.update(family="virtex"), "'family'"),
    (lambda d: d.update(toolchain="yosys-nextpnr"), "'toolchain'"),
    (lambda d: d["resources"].update(lut=-1), "'resources.lut'"),
    (lambda d: d["resources"].pop("uram"), "'resources'"),
    (lambda d: d.update(clock_mhz="fast"), "'clock_mhz'"),
    (lambda d: d.update(stream_width_bits=48), "'stream_width_bits'"),
    (lambda d: d.update(ps_ip="zynq_ultra_ps_e"), "'ps_ip'"),
    (lambda d: d.update(color="red"), "'color': unknown"),
    (lambda d: d.update(name="other"), "'name'"),
])
def test_malformed_board_file_names_file_and_field(tmp_path, edit, field):
    doc = json.loads((boards.boards_dir() / "pynq-z2.json").read_text())
    edit(doc)
    path = tmp_path / "pynq-z2.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match=re.escape(str(path)) + ".*" + re.escape(field)):
        boards.load_board_file(path)


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.pop("pll"), "'pll': required"),
    (lambda d: d["pll"].update(clkfb_div=3), "'pll'"),
    (lambda d: d["pins"].pop("led"), "'pins'"),
    (lambda d: d.update(uart_baud=30_000_000), "'uart_baud'"),
    (lambda d: d.pop("speed"), "'speed'"),
])
def test_malformed_open_board_file(tmp_path, edit, field):
    doc = json.loads((boards.boards_dir() / "ulx3s-85f.json").read_text())
    edit(doc)
    path = tmp_path / "ulx3s-85f.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match=re.escape(field)):
        boards.load_board_file(path)


def test_not_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{")
    with pytest.raises(UserError, match="broken.json: not valid JSON"):
        boards.load_board_file(path)


# ---------------------------------------------------------------------------------------
# Projects
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("net_name", NETS)
def test_project_for_every_board_is_complete_and_deterministic(compiled, net_name, tmp_path):
    c = compiled(net_name)
    for board in boards.list_boards():
        first, second = tmp_path / board.name / "a", tmp_path / board.name / "b"
        project.generate(c.net, board, first, c.stream)
        project.generate(c.net, board, second, c.stream)
        names = tuple(sorted(p.name for p in first.iterdir()))
        assert names == project.files_for(board)
        for name in names:
            assert (first / name).read_bytes() == (second / name).read_bytes(), f"{board.name}/{name} differs"
        text = (first / "README.md").read_text()
        assert board.part in text and c.net.name in text


def test_project_replaces_another_boards_files(compiled, tmp_path):
    c = compiled("oddnet")
    project.generate(c.net, boards.load_board("pynq-z2"), tmp_path, c.stream)
    project.generate(c.net, boards.load_board("icebreaker"), tmp_path, c.stream)
    assert tuple(sorted(p.name for p in tmp_path.iterdir())) == project.files_for(boards.load_board("icebreaker"))


def test_stale_stream_format_is_refused(compiled, tmp_path):
    c = compiled("padnet")
    with pytest.raises(UserError, match="stream.json does not match.*out_fields"):
        project.generate(c.net, boards.load_board("pynq-z2"), tmp_path, {**c.stream, "out_fields": 3})
    with pytest.raises(UserError, match="missing in_width"):
        project.generate(c.net, boards.load_board("pynq-z2"), tmp_path, {k: v for k, v in c.stream.items() if k != "in_width"})


def test_project_contents(compiled):
    c = compiled("padnet")
    z2 = make_project(c, "pynq-z2")
    vivado = (z2 / "vivado.tcl").read_text()
    for needle in ("set part {xc7z020clg400-1}", "processing_system7", "axi_dma", "c_m_axis_mm2s_tdata_width $dma_width",
                   "set dma_width 64", "validate_bd_design", "make_wrapper", "write_bitstream", "bnn2hls:hls:bnn_top:1.0",
                   "set out_pixels 1", "PCW_FPGA0_PERIPHERAL_FREQMHZ $clock_mhz", "set clock_mhz 100"):
        assert needle in vivado, needle
    hls = (z2 / "hls.tcl").read_text()
    for needle in ("open_project", "set_top bnn_top", "tb_top.cpp", "set_part $part", "create_clock -period $clock_period_ns",
                   "set clock_period_ns 10.000", "csim_design", "csynth_design", "export_design -format ip_catalog"):
        assert needle in hls, needle
    kv = make_project(c, "kv260")
    assert "zynq_ultra_ps_e" in (kv / "vivado.tcl").read_text() and "set clock_period_ns 5.000" in (kv / "hls.tcl").read_text()
    ice = make_project(c, "icebreaker")
    ys = (ice / "synth.ys").read_text()
    assert "synth_ice40 -top bnn_board_top" in ys and "read_verilog -sv -defer bnn_top.sv" in ys
    assert "--up5k --package sg48" in (ice / "Makefile").read_text()
    assert "set_io -nowarn uart_rx 6" in (ice / "board.pcf").read_text()
    ecp = make_project(c, "ulx3s-85f")
    assert "synth_ecp5" in (ecp / "synth.ys").read_text() and "EHXPLLL" in (ecp / "bnn_board_top.v").read_text()
    assert "--85k --package CABGA381 --speed 6" in (ecp / "Makefile").read_text()
    for proj in (z2, ice):
        make = (proj / "Makefile").read_text()
        assert re.search(r"^\t", make, re.M) and not re.search(r"^ {2,}\S.*\$\(", make, re.M)  # recipes use tabs


# Every command the generated Tcl may call besides Tcl's own (stubbed in the check below).
TOOL_COMMANDS = {
    # Vitis HLS
    "open_project", "set_top", "add_files", "open_solution", "set_part", "create_clock", "csim_design",
    "csynth_design", "export_design",
    # Vivado
    "create_project", "get_board_parts", "set_property", "get_property", "current_project", "update_ip_catalog",
    "update_compile_order", "create_bd_design", "create_bd_cell", "apply_bd_automation", "get_bd_pins",
    "get_bd_intf_pins", "get_bd_cells", "get_bd_nets", "connect_bd_net", "connect_bd_intf_net", "get_ipdefs",
    "assign_bd_address", "validate_bd_design", "save_bd_design", "get_files", "generate_target", "make_wrapper",
    "current_fileset", "launch_runs", "wait_on_run", "get_runs", "open_run", "report_utilization",
    "report_timing_summary",
    # hidden in a safe interpreter (stubbed)
    "file", "glob", "open", "read", "close", "exit", "pwd",
}

TCL_CHECK = r"""
set variants [lindex $argv 0]
set files [lrange $argv 1 end]
proc child {board_parts} {
    set c [interp create -safe]
    $c eval {
        set ::called {}
        proc unknown {args} { lappend ::called [lindex $args 0]; return "" }
        proc puts {args} {
            if {[llength $args] < 1 || [llength $args] > 3} { error "wrong # args: puts" }
        }
        proc file {sub args} {
            lappend ::called file
            switch -- $sub {
                exists - isdirectory - isfile { return 1 }
                join { return [join $args /] }
                dirname { return [join [lrange [split [lindex $args 0] /] 0 end-1] /] }
                tail { return [lindex [split [lindex $args 0] /] end] }
                default { return [lindex $args end] }
            }
        }
        proc open {args} { lappend ::called open; return file0 }
        proc read {chan} { lappend ::called read; return "a.sv\nb.sv\n" }
        proc close {chan} { lappend ::called close }
        proc glob {args} { lappend ::called glob; return [list /h/a.cpp /h/tb_top.cpp /h/b.cpp] }
        proc get_property {name args} {
            lappend ::called get_property
            switch -glob -- $name {
                *TDATA_NUM_BYTES { return 16 }
                PROGRESS { return 100% }
                STATS.WNS { return -0.25 }
                default { return x }
            }
        }
        proc get_ipdefs {args} { lappend ::called get_ipdefs; return {xilinx.com:ip:x:1.0 xilinx.com:ip:x:1.1} }
        proc get_bd_intf_pins {args} { lappend ::called get_bd_intf_pins; return pin }
        proc get_bd_pins {args} { lappend ::called get_bd_pins; return pin }
        proc get_bd_cells {args} { lappend ::called get_bd_cells; return {cell_a cell_b} }
    }
    $c eval [list proc get_board_parts {args} [list lappend ::called get_board_parts]\n[list return $board_parts]]
    return $c
}
set called {}
foreach path $files {
    set f [open $path]
    set text [read $f]
    close $f
    if {![info complete $text]} {
        puts "INCOMPLETE $path"
        exit 1
    }
    foreach {accel parts} $variants {
        set c [child $parts]
        $c eval [list set ::env(BNN_ACCEL) $accel]
        if {[catch {$c eval $text} msg opts]} {
            puts "ERROR in $path (BNN_ACCEL=$accel): $msg"
            puts [dict get $opts -errorinfo]
            exit 1
        }
        lappend called {*}[$c eval {set ::called}]
        interp delete $c
    }
}
puts [lsort -unique $called]
"""


def run_tcl_check(paths: list[Path], tmp_path: Path) -> set[str]:
    script = tmp_path / "check.tcl"
    script.write_text(TCL_CHECK)
    variants = "hls {} rtl {vendor:board:part0:1.0}"
    proc = subprocess.run([TCLSH, str(script), variants, *map(str, paths)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return set(proc.stdout.split())


@pytest.mark.skipif(TCLSH is None, reason="tclsh is not installed")
@pytest.mark.parametrize("net_name", ("padnet", "padlast"))
def test_generated_tcl_parses_and_runs_with_stubbed_tools(compiled, net_name, tmp_path):
    """`info complete`, then every script runs top to bottom in a safe interpreter where the
    Vivado/Vitis commands are stubs: Tcl syntax errors, wrong argument counts of Tcl commands
    and misspelt tool commands all surface. The width-converter branches run in variants of
    the script with more stream words per pixel."""
    c = compiled(net_name)
    paths = []
    for name in XILINX:
        proj = make_project(c, name)
        paths += [proj / "hls.tcl", proj / "vivado.tcl"]
        wide = tmp_path / f"{name}-wide-vivado.tcl"
        text = (proj / "vivado.tcl").read_text()
        wide.write_text(re.sub(r"^set (in|out)_words 1$", r"set \1_words 3", text, flags=re.M))
        assert wide.read_text() != text
        paths.append(wide)
    called = run_tcl_check(paths, tmp_path)
    assert called <= TOOL_COMMANDS, called - TOOL_COMMANDS
    assert {"create_bd_cell", "connect_bd_intf_net", "csynth_design", "launch_runs"} <= called


@pytest.mark.skipif(TCLSH is None, reason="tclsh is not installed")
def test_tcl_check_catches_errors(tmp_path):
    bad = tmp_path / "bad.tcl"
    bad.write_text("set x 1\nif {$x} {\n    set y [lindex]\n}\n")
    script = tmp_path / "check.tcl"
    script.write_text(TCL_CHECK)
    proc = subprocess.run([TCLSH, str(script), "hls {}", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "lindex" in proc.stdout
    bad.write_text("set x {\n")
    proc = subprocess.run([TCLSH, str(script), "hls {}", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "INCOMPLETE" in proc.stdout


# ---------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("net_name", NETS)
def test_driver_pack_input_is_the_rtl_engines_packing(compiled, net_name):
    c = compiled(net_name)
    x = random_inputs(c.model, 5, seed=3) * 2 - 0.5
    act = reference.quantize_input(c.net.input_quant, x)
    expect = streams.pack_words(act.astype(np.int64), c.stream["in_bits"])
    for name in DRIVER_BOARDS:
        d = boards.load_board(name).stream_width_bits
        codec = load_driver(make_project(c, name)).StreamCodec()
        np.testing.assert_array_equal(codec.quantize(x), act)
        lanes = codec.pack_input(x)
        assert lanes.ndim == 1 and lanes.dtype == np.dtype(f"<u{min(64, d) // 8}")
        assert from_stream_bytes(lanes.tobytes(), c.stream["in_width"], d) == expect
        assert lanes.size == 5 * codec.frame_lanes()[0]
    assert "pynq" not in sys.modules and "serial" not in sys.modules


@pytest.mark.parametrize("net_name", NETS)
def test_driver_unpack_output_equals_reference_run(compiled, net_name):
    c = compiled(net_name)
    x = random_inputs(c.model, 6, seed=4) * 2 - 0.5
    fields = accelerator_fields(c.net, reference.quantize_input(c.net.input_quant, x))
    words = streams.pack_words(fields, c.stream["out_field_width"])
    expect = reference.run(c.net, x)
    for name in DRIVER_BOARDS:
        d = boards.load_board(name).stream_width_bits
        codec = load_driver(make_project(c, name)).StreamCodec()
        lanes = np.frombuffer(to_stream_bytes(words, c.stream["out_width"], d), codec.lane_dtype)
        assert lanes.size == 6 * codec.frame_lanes()[1]
        y = codec.unpack_output(lanes, 6)
        assert y.dtype == np.float32 and y.shape == expect.shape
        np.testing.assert_array_equal(y, expect)
        np.testing.assert_array_equal(codec.unpack_accumulators(lanes, 6).reshape(-1, fields.shape[1]), fields)


def test_padded_last_conv_needs_the_correction(compiled):
    """padlast's last conv has a border table: without the correction the outputs differ."""
    c = compiled("padlast")
    last = c.net.matrix_layers[-1]
    assert last.border is not None and np.any(datapath.corrections_at_positions(last))
    params = json.loads((make_project(c, "pynq-z2") / project.PARAMS_JSON).read_text())
    assert params["output"]["correction"] == "output.correction" and params["output"]["popcount"]
    assert json.loads((make_project(compiled("onelayer"), "pynq-z2") / project.PARAMS_JSON).read_text())["output"]["signed"]


class _Buffer(np.ndarray):
    def flush(self):
        pass

    def invalidate(self):
        pass

    def freebuffer(self):
        pass


def fake_pynq(net: ir.Network, stream: dict, stream_width: int) -> types.ModuleType:
    """A `pynq` whose overlay has a DMA wired to an emulated accelerator: MM2S transfers feed
    it, every S2MM transfer returns one frame (the frame's last word carries TLAST)."""
    in_frame = net.input_quant.out_shape[0] * net.input_quant.out_shape[1] * \
        project.stream_words(stream["in_width"], stream_width) * stream_width // 8
    out_frame = stream["out_pixels"] * project.stream_words(stream["out_width"], stream_width) * stream_width // 8
    state = {"pending": b"", "sent": 0}

    class Send:
        def transfer(self, buf):
            data = np.asarray(buf).tobytes()
            assert len(data) % in_frame == 0 and len(data) <= (1 << 26) - 1
            state["pending"] += emulate(net, stream, stream_width, data)
            state["sent"] += 1

        def wait(self):
            pass

    class Recv:
        def transfer(self, buf):
            assert buf.nbytes == out_frame
            frame, state["pending"] = state["pending"][:out_frame], state["pending"][out_frame:]
            buf.view(np.uint8)[:] = np.frombuffer(frame, np.uint8)

        def wait(self):
            pass

    class Overlay:
        def __init__(self, bitfile):
            self.bitfile = bitfile
            self.ip_dict = {"dma": {}}
            self.dma = types.SimpleNamespace(sendchannel=Send(), recvchannel=Recv())

    def allocate(shape, dtype):
        return np.zeros(shape, dtype).view(_Buffer)

    module = types.ModuleType("pynq")
    module.Overlay, module.allocate, module.state = Overlay, allocate, state
    return module


def fake_serial(net: ir.Network, stream: dict) -> types.ModuleType:
    state = {"rx": b"", "tx": b""}
    in_frame = net.input_quant.out_shape[0] * net.input_quant.out_shape[1] * project.stream_words(stream["in_width"], 8)

    class Serial:
        def __init__(self, port, baud, timeout):
            self.port, self.baud = port, baud

        def reset_input_buffer(self):
            state["tx"] = b""

        def write(self, data):
            state["rx"] += data
            while len(state["rx"]) >= in_frame:
                frame, state["rx"] = state["rx"][:in_frame], state["rx"][in_frame:]
                state["tx"] += emulate(net, stream, 8, frame)

        def read(self, n):
            got, state["tx"] = state["tx"][:n], state["tx"][n:]
            return got

    module = types.ModuleType("serial")
    module.Serial = Serial
    return module


@pytest.mark.parametrize("net_name", ("padnet", "padlast", "onelayer"))
def test_driver_run_on_an_emulated_board(compiled, net_name, monkeypatch):
    c = compiled(net_name)
    x = random_inputs(c.model, 7, seed=5) * 2 - 0.5
    expect = reference.run(c.net, x)
    for name in DRIVER_BOARDS:
        board = boards.load_board(name)
        driver = load_driver(make_project(c, name))
        if board.is_xilinx:
            fake = fake_pynq(c.net, c.stream, board.stream_width_bits)
            monkeypatch.setitem(sys.modules, "pynq", fake)
            acc = driver.Accelerator("bnn.bit")
            acc.MAX_TRANSFER = 3 * driver.StreamCodec().frame_lanes()[0] * acc.lane_bits // 8  # 3 frames per MM2S transfer
            np.testing.assert_array_equal(acc.run(x), expect)
            assert fake.state["sent"] == 3
        else:
            monkeypatch.setitem(sys.modules, "serial", fake_serial(c.net, c.stream))
            acc = driver.Accelerator("/dev/ttyUSB1")
            assert acc.serial.baud == board.uart_baud
            np.testing.assert_array_equal(acc.run(x), expect)


def test_uart_board_queues_a_whole_frame(compiled):
    c = compiled("padnet")
    files, _ = project.render(c.net, boards.load_board("icebreaker"), c.stream)
    top = files["bnn_board_top.v"].decode()
    assert "localparam integer IN_DEPTH = 256;" in top and "bnn_uart_fifo" in top  # 16x16 pixels
    assert b"256-pixel FIFO" in files["README.md"]
    c = compiled("oddnet")  # 19x17 = 323 pixels
    files, _ = project.render(c.net, boards.load_board("ulx3s-85f"), c.stream)
    assert "localparam integer IN_DEPTH = 512;" in files["bnn_board_top.v"].decode()


# ---------------------------------------------------------------------------------------
# Simulation of the generated board glue with the network's Verilog (Verilator; slow)
# ---------------------------------------------------------------------------------------
TB_UART = r"""
// tb_uart: a bit-level UART host for bnn_board_top (8N1, DIV clock cycles per bit): sends every
// byte of +in back to back and writes every byte received to +out.
module tb_uart #(parameter int DIV = 16, parameter int N_IN = 1, parameter int N_OUT = 1);
    logic clk = 1'b0;
    always #5 clk = ~clk;
    logic rx = 1'b1;
    wire tx, led;
    bnn_board_top dut (.clk_osc(clk), .uart_rx(rx), .uart_tx(tx), .led(led));
    logic [7:0] in_bytes [N_IN];
    string in_file, out_file;
    int fd, n_got = 0;
    longint cycles = 0;
    always @(posedge clk) begin
        cycles <= cycles + 1;
        if (cycles == 64'd50000000) begin $display("TIMEOUT after %0d bytes", n_got); $finish; end
    end
    initial begin
        if (!$value$plusargs("in=%s", in_file) || !$value$plusargs("out=%s", out_file)) $fatal(1, "+in= +out=");
        $readmemh(in_file, in_bytes);
        fd = $fopen(out_file, "w");
        repeat (64) @(posedge clk);
        for (int i = 0; i < N_IN; i++) begin
            rx <= 1'b0;
            repeat (DIV) @(posedge clk);
            for (int b = 0; b < 8; b++) begin
                rx <= in_bytes[i][b];
                repeat (DIV) @(posedge clk);
            end
            rx <= 1'b1;
            repeat (DIV) @(posedge clk);
        end
    end
    initial begin : monitor
        logic [7:0] value;
        forever begin
            @(negedge tx);
            repeat (DIV / 2) @(posedge clk);
            for (int b = 0; b < 8; b++) begin
                repeat (DIV) @(posedge clk);
                value[b] = tx;
            end
            repeat (DIV) @(posedge clk);
            if (tx !== 1'b1) $display("FRAMING ERROR");
            $fwrite(fd, "%02x\n", value);
            n_got++;
            if (n_got == N_OUT) begin
                $fclose(fd);
                $display("DONE led=%0d", led);
                $finish;
            end
        end
    end
endmodule
"""

TB_DMA = r"""
// tb_dma: the block design's stream path without the Xilinx IPs: DMA words (D bits) are
// grouped K_IN at a time as the upsizer would, pass bnn_axis_in -> bnn_rtl_accel ->
// bnn_axis_out, and each output word is split into K_OUT DMA words as the downsizer would
// (TLAST on the last one). +out gets one line per DMA word: data (hex) and TLAST.
module tb_dma #(parameter int D = 64, parameter int K_IN = 1, parameter int K_OUT = 1, parameter int ACC_IN_W = 8,
                parameter int ACC_OUT_W = 8, parameter int FRAME_BEATS = 1, parameter int N_IN = 1, parameter int N_OUT = 1);
    logic clk = 1'b0;
    always #5 clk = ~clk;
    logic rst_n = 1'b0;
    logic [D-1:0] words [N_IN];
    logic [K_IN*D-1:0] s_data;
    logic s_valid;
    wire s_ready;
    wire [ACC_IN_W-1:0] a_data;
    wire a_valid, a_ready;
    wire [ACC_OUT_W-1:0] b_data;
    wire b_valid, b_ready;
    wire [K_OUT*D-1:0] m_data;
    wire [K_OUT*D/8-1:0] m_keep;
    wire m_last, m_valid;
    bnn_axis_in #(.S_W(K_IN*D), .M_W(ACC_IN_W)) u_in (.aclk(clk), .aresetn(rst_n), .s_axis_tdata(s_data),
        .s_axis_tkeep('1), .s_axis_tlast(1'b0), .s_axis_tvalid(s_valid), .s_axis_tready(s_ready),
        .m_axis_tdata(a_data), .m_axis_tvalid(a_valid), .m_axis_tready(a_ready));
    bnn_rtl_accel u_acc (.aclk(clk), .aresetn(rst_n), .s_axis_tdata(a_data), .s_axis_tvalid(a_valid),
        .s_axis_tready(a_ready), .m_axis_tdata(b_data), .m_axis_tvalid(b_valid), .m_axis_tready(b_ready));
    bnn_axis_out #(.S_W(ACC_OUT_W), .M_W(K_OUT*D), .FRAME_BEATS(FRAME_BEATS)) u_out (.aclk(clk), .aresetn(rst_n),
        .s_axis_tdata(b_data), .s_axis_tvalid(b_valid), .s_axis_tready(b_ready), .m_axis_tdata(m_data),
        .m_axis_tkeep(m_keep), .m_axis_tlast(m_last), .m_axis_tvalid(m_valid), .m_axis_tready(1'b1));
    string in_file, out_file;
    int fd, pos = 0, n_got = 0;
    longint cycles = 0;
    initial begin
        if (!$value$plusargs("in=%s", in_file) || !$value$plusargs("out=%s", out_file)) $fatal(1, "+in= +out=");
        $readmemh(in_file, words);
        fd = $fopen(out_file, "w");
    end
    always @(posedge clk) begin
        cycles <= cycles + 1;
        if (cycles == 4) rst_n <= 1'b1;
        if (cycles == 64'd20000000) begin $display("TIMEOUT"); $finish; end
        if (!rst_n) begin
            s_valid <= 1'b0;
        end else if (!s_valid || s_ready) begin
            if (pos < N_IN) begin
                for (int k = 0; k < K_IN; k++) s_data[k*D +: D] <= words[pos + k];
                s_valid <= 1'b1;
                pos <= pos + K_IN;
            end else begin
                s_valid <= 1'b0;
            end
        end
        if (rst_n && m_valid) begin
            if (m_keep != '1) $display("TKEEP ERROR");
            for (int k = 0; k < K_OUT; k++) $fwrite(fd, "%0h %0d\n", m_data[k*D +: D], (k == K_OUT - 1) && m_last);
            n_got <= n_got + 1;
            if (n_got + 1 == N_OUT) begin
                $fclose(fd);
                $display("DONE");
                $finish;
            end
        end
    end
endmodule
"""


def verilate(work: Path, top: str, sources: list[Path], params: dict[str, int]) -> Path:
    from bnn2hls.engines.toolchain import VERILATOR_BUILD_FLAGS, verilator_env

    cmd = ["verilator", "--binary", "--timing", "-O1", "-Wno-fatal", "-Wno-lint", "-Wno-style", *VERILATOR_BUILD_FLAGS,
           "--top-module", top, *(f"-G{k}={v}" for k, v in params.items()), "-Mdir", str(work / "obj"), "-j", "2",
           "--x-assign", "0", "--x-initial", "0", *map(str, sources)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=verilator_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work / "obj" / f"V{top}"


def rtl_sources(proj: Path) -> list[Path]:
    rtl = proj.parent / "rtl"
    return [rtl / name for name in (rtl / "files.f").read_text().split()]


@pytest.mark.slow
@pytest.mark.parametrize("net_name, div, frames", [("oddnet", 8, 3), ("padnet", 8, 1), ("padlast", 5, 4)])
def test_uart_board_top_in_simulation(compiled, net_name, div, frames, tmp_path):
    """bnn_board_top + the network's Verilog behind a bit-level UART: the driver's bytes in,
    its unpack_output of the bytes out equals reference.run (frames sent back to back)."""
    c = compiled(net_name)
    board = dataclasses.replace(boards.load_board("icebreaker"), uart_baud=round(12e6 / div))
    shutil.copytree(c.out / "rtl", tmp_path / "rtl")
    project.generate(c.net, board, tmp_path / "project", c.stream)
    codec = load_driver(tmp_path / "project").StreamCodec()
    x = random_inputs(c.model, frames, seed=6) * 2 - 0.5
    data = codec.pack_input(x)
    (tmp_path / "in.hex").write_text("".join(f"{b:02x}\n" for b in data))
    (tmp_path / "tb_uart.sv").write_text(TB_UART)
    n_out = frames * codec.frame_lanes()[1]
    binary = verilate(tmp_path, "tb_uart", [*rtl_sources(tmp_path / "project"), tmp_path / "project" / "bnn_board_top.v",
                                            tmp_path / "tb_uart.sv"], {"DIV": div, "N_IN": len(data), "N_OUT": n_out})
    proc = subprocess.run([str(binary), f"+in={tmp_path / 'in.hex'}", f"+out={tmp_path / 'out.hex'}"],
                          capture_output=True, text=True, cwd=tmp_path / "rtl", timeout=300)
    assert "DONE led=1" in proc.stdout, proc.stdout  # the LED (active low) stays dark: nothing dropped
    got = np.array([int(v, 16) for v in (tmp_path / "out.hex").read_text().split()], np.uint8)
    np.testing.assert_array_equal(codec.unpack_output(got, frames), reference.run(c.net, x))


@pytest.mark.slow
@pytest.mark.parametrize("net_name, width", [("padnet", 16), ("padnet", 64), ("onelayer", 32), ("padlast", 128)])
def test_dma_stream_path_in_simulation(compiled, net_name, width, tmp_path):
    """bnn_axis_in -> bnn_rtl_accel -> bnn_axis_out with the DMA width converters emulated:
    the driver's words in, the right TLASTs out, unpack_output equals reference.run."""
    c = compiled(net_name)
    board = dataclasses.replace(boards.load_board("pynq-z2"), stream_width_bits=width)
    shutil.copytree(c.out / "rtl", tmp_path / "rtl")
    project.generate(c.net, board, tmp_path / "project", c.stream)
    codec = load_driver(tmp_path / "project").StreamCodec()
    frames = 3
    x = random_inputs(c.model, frames, seed=7) * 2 - 0.5
    raw = codec.pack_input(x).tobytes()
    step = width // 8
    (tmp_path / "in.hex").write_text("".join(f"{int.from_bytes(raw[i:i + step], 'little'):x}\n"
                                             for i in range(0, len(raw), step)))
    (tmp_path / "tb_dma.sv").write_text(TB_DMA)
    k_in, k_out = project.stream_words(c.stream["in_width"], width), project.stream_words(c.stream["out_width"], width)
    params = {"D": width, "K_IN": k_in, "K_OUT": k_out, "ACC_IN_W": 8 * -(-c.stream["in_width"] // 8),
              "ACC_OUT_W": 8 * -(-c.stream["out_width"] // 8), "FRAME_BEATS": c.stream["out_pixels"],
              "N_IN": len(raw) // step, "N_OUT": frames * c.stream["out_pixels"]}
    proj = tmp_path / "project"
    binary = verilate(tmp_path, "tb_dma", [*rtl_sources(proj), proj / "bnn_rtl_accel.v", proj / "bnn_axis_adapters.v",
                                           tmp_path / "tb_dma.sv"], params)
    proc = subprocess.run([str(binary), f"+in={tmp_path / 'in.hex'}", f"+out={tmp_path / 'out.hex'}"],
                          capture_output=True, text=True, cwd=tmp_path / "rtl", timeout=300)
    assert "DONE" in proc.stdout and "ERROR" not in proc.stdout, proc.stdout
    lines = [line.split() for line in (tmp_path / "out.hex").read_text().splitlines()]
    per_frame = c.stream["out_pixels"] * k_out
    assert [int(last) for _, last in lines] == ([0] * (per_frame - 1) + [1]) * frames
    out = b"".join(int(word, 16).to_bytes(step, "little") for word, _ in lines)
    np.testing.assert_array_equal(codec.unpack_output(np.frombuffer(out, codec.lane_dtype), frames), reference.run(c.net, x))


@pytest.mark.parametrize("board", [b.name for b in boards.list_boards()])
def test_cli_compile_for_every_board(board, exported, tmp_path, capsys):
    from bnn2hls import cli

    path, _ = exported("oddnet")
    assert cli.main(["compile", str(path), "-o", str(tmp_path / "out"), "--board", board]) == 0
    assert (tmp_path / "out" / "project" / "driver.py").is_file()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["network"]["clock_mhz"] == boards.load_board(board).clock_mhz


def test_cli_lists_boards(capsys):
    from bnn2hls import cli

    assert cli.main(["boards"]) == 0
    listed = capsys.readouterr().out
    assert all(b.name in listed for b in boards.list_boards())
