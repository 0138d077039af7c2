"""Target boards: the JSON files in boards/ (see boards/README.md for every field).

`load_board(name)` reads and validates `boards/<name>.json`; `list_boards()` returns every
board, sorted by name. A malformed file raises UserError naming the file and the field.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from ..errors import UserError
from ..resources import resource_dir
from ..safeio import read_json

FAMILIES = {"zynq7000": ("xilinx", "vivado"), "zynqmp": ("xilinx", "vivado"),
            "ice40": ("lattice", "yosys-nextpnr"), "ecp5": ("lattice", "yosys-nextpnr")}
PS_IPS = {"zynq7000": "processing_system7", "zynqmp": "zynq_ultra_ps_e"}
RESOURCE_KEYS = ("lut", "ff", "bram18", "uram", "dsp")
PIN_KEYS = ("clk", "uart_rx", "uart_tx", "led")
PLL_KEYS = ("clki_div", "clkfb_div", "clkop_div", "clkop_cphase")
STREAM_WIDTHS = (8, 32, 64, 128, 256, 512, 1024)

_COMMON = {"name", "title", "vendor", "part", "family", "toolchain", "resources", "clock_mhz", "stream_width_bits", "notes"}
_XILINX = {"ps_ip", "board_part"}
_OPEN_REQUIRED = {"device", "package", "native_resources", "osc_mhz", "uart_baud", "pins", "led_active_low"}
_OPEN_OPTIONAL = {"speed", "pll"}


@dataclass(frozen=True)
class Board:
    """One board file, validated. Instances are shared (cached): the mappings are read-only."""

    name: str
    title: str
    vendor: str  # FPGA vendor: xilinx | lattice
    part: str
    family: str  # zynq7000 | zynqmp | ice40 | ecp5
    toolchain: str  # vivado | yosys-nextpnr
    resources: Mapping[str, int]  # lut, ff, bram18, uram, dsp (Xilinx-equivalent units)
    clock_mhz: float
    stream_width_bits: int
    notes: str
    # Xilinx (toolchain "vivado")
    ps_ip: str | None = None
    board_part: str | None = None
    # open toolchain ("yosys-nextpnr")
    device: str | None = None
    package: str | None = None
    speed: int | None = None
    native_resources: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    osc_mhz: float | None = None
    pll: Mapping[str, int] | None = None
    uart_baud: int | None = None
    pins: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    led_active_low: bool = False

    def __hash__(self) -> int:
        return hash((self.name, self.part))

    @property
    def is_xilinx(self) -> bool:
        return self.toolchain == "vivado"

    @property
    def clock_period_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    def to_dict(self) -> dict[str, Any]:
        """The board as plain JSON-able data: exactly the fields of its file."""
        keys = _COMMON | (_XILINX if self.is_xilinx else _OPEN_REQUIRED | _OPEN_OPTIONAL)
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in keys and not (f.name in _OPEN_OPTIONAL and value is None):
                out[f.name] = dict(value) if isinstance(value, Mapping) else value
        return out

    def summary(self) -> str:
        """One line for `bnn2hls boards`."""
        r = self.resources
        return (f"{self.name:<12} {self.part:<22} {self.toolchain:<14} {self.clock_mhz:g} MHz  "
                f"LUT {r['lut']}  FF {r['ff']}  BRAM18 {r['bram18']}  URAM {r['uram']}  DSP {r['dsp']}")


def boards_dir() -> Path:
    return resource_dir("boards")


def _names() -> list[str]:
    return sorted(p.stem for p in boards_dir().glob("*.json"))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float))) and not isinstance(v, bool)


def parse_board(doc: Any, source: str, expect_name: str | None = None) -> Board:
    """Validate one board document; `source` names the file in error messages."""

    def bad(key: str, why: str) -> UserError:
        return UserError(f"board file {source}: field '{key}': {why}")

    if not isinstance(doc, dict):
        raise UserError(f"board file {source}: expected a JSON object")
    for key in sorted(_COMMON):
        if key not in doc:
            raise bad(key, "missing")
    for key in ("name", "title", "vendor", "part", "family", "toolchain", "notes"):
        if not isinstance(doc[key], str) or not doc[key]:
            raise bad(key, "must be a non-empty string")
    if expect_name is not None and doc["name"] != expect_name:
        raise bad("name", f"{doc['name']!r} does not match the file name {expect_name!r}")
    family = doc["family"]
    if family not in FAMILIES:
        raise bad("family", f"{family!r} is not one of {', '.join(FAMILIES)}")
    vendor, toolchain = FAMILIES[family]
    if doc["vendor"] != vendor:
        raise bad("vendor", f"{doc['vendor']!r}: a {family} part is from {vendor!r}")
    if doc["toolchain"] != toolchain:
        raise bad("toolchain", f"{doc['toolchain']!r}: {family} boards use {toolchain!r}")
    res = doc["resources"]
    if not isinstance(res, dict) or set(res) != set(RESOURCE_KEYS):
        raise bad("resources", f"must have exactly the keys {', '.join(RESOURCE_KEYS)}")
    for key in RESOURCE_KEYS:
        if not _is_int(res[key]) or res[key] < 0:
            raise bad(f"resources.{key}", f"must be a non-negative integer, got {res[key]!r}")
    if not _is_number(doc["clock_mhz"]) or not 0 < doc["clock_mhz"] <= 1000:
        raise bad("clock_mhz", f"must be a number in (0, 1000], got {doc['clock_mhz']!r}")
    if doc["stream_width_bits"] not in STREAM_WIDTHS or not _is_int(doc["stream_width_bits"]):
        raise bad("stream_width_bits", f"must be one of {', '.join(map(str, STREAM_WIDTHS))}, got {doc['stream_width_bits']!r}")

    allowed = _COMMON | (_XILINX if toolchain == "vivado" else _OPEN_REQUIRED | _OPEN_OPTIONAL)
    for key in sorted(doc):
        if key not in allowed:
            raise bad(key, f"unknown for a {toolchain} board")
    kwargs: dict[str, Any] = {k: doc[k] for k in _COMMON}
    kwargs["resources"] = MappingProxyType({k: res[k] for k in RESOURCE_KEYS})
    kwargs["clock_mhz"] = float(doc["clock_mhz"])

    if toolchain == "vivado":
        for key in sorted(_XILINX):
            if key not in doc:
                raise bad(key, "missing")
        if doc["ps_ip"] != PS_IPS[family]:
            raise bad("ps_ip", f"{doc['ps_ip']!r}: a {family} board's processing system is {PS_IPS[family]!r}")
        if doc["board_part"] is not None and (not isinstance(doc["board_part"], str) or doc["board_part"].count(":") != 3):
            raise bad("board_part", "must be null or vendor:board:part0:version")
        if doc["stream_width_bits"] < 32:
            raise bad("stream_width_bits", "an AXI DMA stream is at least 32 bits")
        kwargs.update(ps_ip=doc["ps_ip"], board_part=doc["board_part"])
        return Board(**kwargs)

    for key in sorted(_OPEN_REQUIRED):
        if key not in doc:
            raise bad(key, "missing")
    for key in ("device", "package"):
        if not isinstance(doc[key], str) or not doc[key]:
            raise bad(key, "must be a non-empty string")
    if family == "ecp5" and not _is_int(doc.get("speed")):
        raise bad("speed", "an ECP5 board needs its speed grade (6, 7 or 8)")
    native = doc["native_resources"]
    if not isinstance(native, dict) or not native or not all(_is_int(v) and v >= 0 for v in native.values()):
        raise bad("native_resources", "must map unit names to non-negative integers")
    if not _is_number(doc["osc_mhz"]) or doc["osc_mhz"] <= 0:
        raise bad("osc_mhz", "must be a positive number")
    pll = doc.get("pll")
    if float(doc["osc_mhz"]) != float(doc["clock_mhz"]):
        if family != "ecp5":
            raise bad("clock_mhz", "must equal osc_mhz (the flow has no PLL for this family)")
        if pll is None:
            raise bad("pll", f"required: clock_mhz {doc['clock_mhz']} differs from osc_mhz {doc['osc_mhz']}")
    if pll is not None:
        if not isinstance(pll, dict) or set(pll) != set(PLL_KEYS) or not all(_is_int(v) and v >= 0 for v in pll.values()):
            raise bad("pll", f"must have the integer keys {', '.join(PLL_KEYS)}")
        vco = doc["osc_mhz"] / pll["clki_div"] * pll["clkfb_div"] * pll["clkop_div"] if pll["clki_div"] else 0
        out = doc["osc_mhz"] / pll["clki_div"] * pll["clkfb_div"] if pll["clki_div"] else 0
        if abs(out - doc["clock_mhz"]) > 1e-6 or not 400 <= vco <= 800:
            raise bad("pll", f"gives {out:g} MHz (VCO {vco:g} MHz), not clock_mhz {doc['clock_mhz']} with a VCO in [400, 800] MHz")
    if not _is_int(doc["uart_baud"]) or not 0 < doc["uart_baud"] * 4 <= doc["clock_mhz"] * 1e6:
        raise bad("uart_baud", "must be a positive integer at most a quarter of the clock")
    if doc["stream_width_bits"] != 8:
        raise bad("stream_width_bits", "a UART link carries 8-bit words")
    pins = doc["pins"]
    if not isinstance(pins, dict) or set(pins) != set(PIN_KEYS) or not all(isinstance(v, str) and v for v in pins.values()):
        raise bad("pins", f"must map exactly {', '.join(PIN_KEYS)} to pin names")
    if not isinstance(doc["led_active_low"], bool):
        raise bad("led_active_low", "must be true or false")
    kwargs.update(device=doc["device"], package=doc["package"], speed=doc.get("speed"),
                  native_resources=MappingProxyType(dict(native)), osc_mhz=float(doc["osc_mhz"]),
                  pll=MappingProxyType(dict(pll)) if pll else None, uart_baud=doc["uart_baud"],
                  pins=MappingProxyType(dict(pins)), led_active_low=doc["led_active_low"])
    return Board(**kwargs)


def load_board_file(path: Path) -> Board:
    path = Path(path)
    doc = read_json(path, "board file")
    return parse_board(doc, str(path), expect_name=path.stem)


@lru_cache(maxsize=None)
def _load_cached(path: str, mtime_ns: int) -> Board:  # keyed by mtime: an edited file is re-read
    return load_board_file(Path(path))


def load_board(name: str) -> Board:
    """The board `name` (a file boards/<name>.json); UserError if unknown or malformed."""
    path = boards_dir() / f"{name}.json"
    if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        known = ", ".join(_names())
        raise UserError(f"unknown board '{name}' (known: {known})")
    return _load_cached(str(path), path.stat().st_mtime_ns)


def list_boards() -> list[Board]:
    """Every board in boards/, sorted by name (a malformed file raises UserError)."""
    return [load_board(name) for name in _names()]
