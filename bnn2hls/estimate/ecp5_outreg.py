"""Move flip-flops that register an ECP5 block RAM's read data into the block RAM's own output
register (DP16KD REGMODE OUTREG), in a yosys JSON netlist, between `synth_ecp5` and nextpnr.

Why: a DP16KD read without its output register has a clock-to-out of about 5.8 ns (prjtrellis
timing, speed grade 6) against about 0.95 ns with it, so a read register in the fabric right
after the block RAM still leaves a path of 5.8 ns plus routing (measured on the `make demo`
MLP: 8.1 ns, 123 MHz, the critical path). yosys infers DP16KD with REGMODE NOREG only (its
memory_libmap has no output register option: YosysHQ/yosys issues 5814, PR 3668), and nextpnr
honours REGMODE (nextpnr PR 423). The RTL therefore writes the register after the read
(bnn_mvau.sv: `w_q <= w_r`) and this pass folds it into the primitive.

A read port's flip-flops are absorbed when every used data-out bit of the port drives exactly
one TRELLIS_FF data input and nothing else, and those flip-flops all share the port's clock
(not inverted), one clock enable (or none; an active-low one gets a LUT4 inverter), no set/reset (LSR tied 0) and reset value 0 (the
output register's), and the port's own reset is tied 0. Then the output register behaves as
those flip-flops: it loads the RAM's read data on the clock edges where OCE (their clock
enable) is high. A port not meeting all of it is left as it is. In the 36-bit
pseudo-dual-port mode the read data leaves on both DOA and DOB and both REGMODEs are set
(nextpnr copies them), so the two ports are treated as one group.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

_CONST = ("0", "1", "x", "z")


def _width(params: dict[str, Any], name: str) -> int:
    v = params.get(name, "0")
    try:
        return int(v, 2) if isinstance(v, str) else int(v)
    except ValueError:
        return 0


def absorb_output_registers(netlist: dict[str, Any]) -> int:
    """Rewrite `netlist` (yosys `write_json`) in place; returns the flip-flops absorbed."""
    absorbed = 0
    for module in netlist.get("modules", {}).values():
        absorbed += _absorb_module(module)
    return absorbed


def _absorb_module(module: dict[str, Any]) -> int:
    cells: dict[str, Any] = module.get("cells", {})
    sinks: dict[Any, list[tuple[str, str]]] = defaultdict(list)  # net bit -> [(cell, port)]
    for name, cell in cells.items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell.get("connections", {}).items():
            if dirs.get(port, "input") != "output":
                for b in bits:
                    if b not in _CONST:
                        sinks[b].append((name, port))
    # Module outputs read a net too.
    for port in module.get("ports", {}).values():
        if port.get("direction") != "input":
            for b in port.get("bits", []):
                if b not in _CONST:
                    sinks[b].append(("", "port"))

    absorbed = 0
    fresh = [_max_bit(module)]  # the last net bit number in use
    for name in list(cells):
        cell = cells.get(name)
        if cell is None or cell.get("type") != "DP16KD":
            continue
        params = cell.get("parameters", {})
        pdp = _width(params, "DATA_WIDTH_A") == 36 or _width(params, "DATA_WIDTH_B") == 36
        groups = [("A", "B")] if pdp else [("A",), ("B",)]
        for group in groups:
            absorbed += _absorb_group(cells, sinks, name, group, fresh)
    return absorbed


def _absorb_group(cells: dict[str, Any], sinks: dict[Any, list[tuple[str, str]]], name: str,
                  group: tuple[str, ...], fresh: list[int]) -> int:
    cell = cells[name]
    conn, params = cell["connections"], cell["parameters"]
    if any(params.get(f"REGMODE_{p}", "NOREG") != "NOREG" for p in group):
        return 0
    if any(conn.get(f"RST{p}", ["0"]) != ["0"] for p in group):
        return 0
    clocks = {tuple(conn.get(f"CLK{p}", ["0"])) for p in group if any(
        b not in _CONST for b in _data_bits(conn, p))}
    if len(clocks) != 1 or any(params.get(f"CLK{p}MUX", f"CLK{p}") != f"CLK{p}" for p in group):
        return 0
    (clock,) = clocks
    ffs: list[tuple[str, str, Any]] = []  # (port pin, ff cell, data-out bit)
    enables = set()
    for p in group:
        for pin, bit in _data_pins(conn, p):
            if bit in _CONST or not sinks.get(bit):
                continue
            users = sinks[bit]
            if len(users) != 1:
                return 0
            ff_name, ff_port = users[0]
            ff = cells.get(ff_name)
            if ff is None or ff.get("type") != "TRELLIS_FF" or ff_port != "DI":
                return 0
            fp, fc = ff.get("parameters", {}), ff["connections"]
            if (tuple(fc.get("CLK", [])) != clock or fp.get("CLKMUX", "CLK") != "CLK"
                    or fc.get("LSR", ["0"]) != ["0"] or fp.get("REGSET", "RESET") != "RESET"
                    or fp.get("GSR", "DISABLED") != "DISABLED"):
                return 0
            cemux = fp.get("CEMUX", "CE")
            if cemux in ("CE", "INV"):  # INV: the enable is active low (e.g. `if (!stall)`)
                enables.add((tuple(fc.get("CE", ["1"])), cemux == "INV"))
            elif cemux == "1":
                enables.add((("1",), False))
            else:
                return 0
            ffs.append((pin, ff_name, bit))
    if not ffs or len(enables) != 1:
        return 0
    ((enable, inverted),) = enables
    if inverted:  # OCE has no inversion: a LUT4 inverter drives it
        fresh[0] += 1
        net = fresh[0]
        cells[f"{name}_oce_inv"] = {
            "hide_name": 1, "type": "LUT4", "parameters": {"INIT": "0101010101010101"}, "attributes": {},
            "port_directions": {"A": "input", "B": "input", "C": "input", "D": "input", "Z": "output"},
            "connections": {"A": list(enable), "B": ["0"], "C": ["0"], "D": ["0"], "Z": [net]}}
        enable = (net,)
    for pin, ff_name, bit in ffs:
        q = cells[ff_name]["connections"]["Q"]
        conn[pin] = list(q)
        sinks.pop(bit, None)
        del cells[ff_name]
    for p in group:
        params[f"REGMODE_{p}"] = "OUTREG"
        conn[f"OCE{p}"] = list(enable)
    return len(ffs)


def _max_bit(module: dict[str, Any]) -> int:
    """The highest net bit number in `module` (cells, ports, net names)."""
    bits = [b for c in module.get("cells", {}).values() for v in c.get("connections", {}).values() for b in v]
    bits += [b for p in module.get("ports", {}).values() for b in p.get("bits", [])]
    bits += [b for n in module.get("netnames", {}).values() for b in n.get("bits", [])]
    return max((b for b in bits if isinstance(b, int)), default=1)


def _data_pins(conn: dict[str, Any], port: str) -> list[tuple[str, Any]]:
    return [(f"DO{port}{i}", conn[f"DO{port}{i}"][0]) for i in range(18) if f"DO{port}{i}" in conn]


def _data_bits(conn: dict[str, Any], port: str) -> list[Any]:
    return [b for _, b in _data_pins(conn, port)]
