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
(not inverted), one clock enable (or none; an active-low one gets a LUT4 inverter), no
set/reset (LSR tied 0) and reset value 0 (the output register's), and the port's own reset is
tied 0. Then the output register behaves as those flip-flops: it loads the RAM's read data on
the clock edges where OCE (their clock enable) is high. A port not meeting all of it is left as
it is. In the 36-bit pseudo-dual-port mode the read data leaves on both DOA and DOB, clocked by
port B alone (CLKA is the write clock, tied 0 in a ROM): the two ports are one group whose
clock, clock mux and output enable are port B's, and both REGMODEs are set, as nextpnr does
when it packs a PDPW16KD (its CLKR and OCER become CLKB and OCEB).

A ROM deeper than one DP16KD is banked by depth, its read data passing a LUT4 bank select
before the register: that register is first moved back across the LUT (`_retime_read_muxes`).
The only observable difference of the rewritten netlist is the register's value before its
first enabled clock edge (the LUT of all-zero inputs instead of 0).
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


def _text(params: dict[str, Any], name: str, default: str) -> str:
    """A string parameter of a yosys JSON cell: write_json ends a string that reads as a binary
    number with a space to keep it a string (CEMUX "1 ": the always-enabled flip-flop)."""
    v = params.get(name, default)
    return v.rstrip(" ") if isinstance(v, str) else str(v)


def absorb_output_registers(netlist: dict[str, Any]) -> int:
    """Rewrite `netlist` (yosys `write_json`) in place; returns the flip-flops absorbed."""
    absorbed = 0
    for module in netlist.get("modules", {}).values():
        absorbed += _absorb_module(module)
    return absorbed


def _sinks(module: dict[str, Any]) -> dict[Any, list[tuple[str, str]]]:
    """net bit -> [(cell, input port)] (a module output port counts as ("", "port"))."""
    cells: dict[str, Any] = module.get("cells", {})
    sinks: dict[Any, list[tuple[str, str]]] = defaultdict(list)
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
    return sinks


def _plain_ff(ff: dict[str, Any] | None) -> bool:
    """A TRELLIS_FF without set/reset, reset value 0, on a rising clock, enable CE / INV / none."""
    if ff is None or ff.get("type") != "TRELLIS_FF":
        return False
    fp, fc = ff.get("parameters", {}), ff["connections"]
    return (_text(fp, "CLKMUX", "CLK") == "CLK" and fc.get("LSR", ["0"]) == ["0"]
            and _text(fp, "REGSET", "RESET") == "RESET" and _text(fp, "GSR", "DISABLED") == "DISABLED"
            and _text(fp, "CEMUX", "CE") in ("CE", "INV", "1"))


def _retime_read_muxes(module: dict[str, Any], fresh: list[int]) -> int:
    """A block RAM deeper than one DP16KD (yosys banks it by depth) reaches its read register
    through a LUT4 selecting the bank: FF(LUT(DO..., sel)). Move that flip-flop back across
    the LUT (one copy per LUT input, the same clock and enable): LUT(FF(DO)..., FF(sel)), the
    same value at every clock edge after the first enabled one. The DO flip-flops are then
    absorbed like any other. Returns the LUTs retimed."""
    cells: dict[str, Any] = module.get("cells", {})
    sinks = _sinks(module)
    driver: dict[Any, tuple[str, str]] = {}
    for name, cell in cells.items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell.get("connections", {}).items():
            if dirs.get(port) == "output":
                for b in bits:
                    driver[b] = (name, port)

    def bram_out(bit: Any) -> bool:
        d = driver.get(bit)
        return (d is not None and cells.get(d[0], {}).get("type") == "DP16KD" and d[1].startswith("DO")
                and len(sinks.get(bit, [])) == 1)

    copies: dict[tuple[Any, ...], Any] = {}  # (net, clock, enable, CEMUX) -> registered net
    retimed = 0
    for ff_name in list(cells):
        ff = cells.get(ff_name)
        if not _plain_ff(ff):
            continue
        assert ff is not None
        d = driver.get(ff["connections"]["DI"][0])
        if d is None or cells.get(d[0], {}).get("type") != "LUT4" or d[1] != "Z":
            continue
        lut = cells[d[0]]
        z = lut["connections"]["Z"][0]
        ins = {p: lut["connections"].get(p, ["0"])[0] for p in "ABCD"}
        if len(sinks.get(z, [])) != 1 or not any(bram_out(b) for b in ins.values()):
            continue
        fp, fc = ff["parameters"], ff["connections"]
        key = (tuple(fc["CLK"]), tuple(fc.get("CE", ["1"])), _text(fp, "CEMUX", "CE"))
        for p, b in ins.items():
            if b in _CONST:
                continue
            if not bram_out(b) and (b, *key) in copies:
                lut["connections"][p] = [copies[(b, *key)]]
                continue
            fresh[0] += 1
            q = fresh[0]
            cells[f"{ff_name}_rt_{p}"] = {
                "hide_name": 1, "type": "TRELLIS_FF", "parameters": dict(fp), "attributes": {},
                "port_directions": {"CLK": "input", "CE": "input", "LSR": "input", "DI": "input", "Q": "output"},
                "connections": {"CLK": list(fc["CLK"]), "CE": list(fc.get("CE", ["1"])), "LSR": ["0"],
                                "DI": [b], "Q": [q]}}
            lut["connections"][p] = [q]
            driver[q] = (f"{ff_name}_rt_{p}", "Q")
            if not bram_out(b):
                copies[(b, *key)] = q
        lut["connections"]["Z"] = list(fc["Q"])
        for b in fc["Q"]:
            driver[b] = (d[0], "Z")
        del cells[ff_name]
        retimed += 1
    return retimed


def _absorb_module(module: dict[str, Any]) -> int:
    cells: dict[str, Any] = module.get("cells", {})
    fresh = [_max_bit(module)]  # the last net bit number in use
    _retime_read_muxes(module, fresh)
    sinks = _sinks(module)
    absorbed = 0
    inverters: dict[tuple[Any, ...], int] = {}  # enable net -> its inverted net
    for name in list(cells):
        cell = cells.get(name)
        if cell is None or cell.get("type") != "DP16KD":
            continue
        params = cell.get("parameters", {})
        pdp = _width(params, "DATA_WIDTH_A") == 36 or _width(params, "DATA_WIDTH_B") == 36
        groups = [("A", "B")] if pdp else [("A",), ("B",)]
        for group in groups:
            absorbed += _absorb_group(cells, sinks, name, group, fresh, inverters)
    return absorbed


def _absorb_group(cells: dict[str, Any], sinks: dict[Any, list[tuple[str, str]]], name: str,
                  group: tuple[str, ...], fresh: list[int], inverters: dict[tuple[Any, ...], int]) -> int:
    cell = cells[name]
    conn, params = cell["connections"], cell["parameters"]
    if any(_text(params, f"REGMODE_{p}", "NOREG") != "NOREG" for p in group):
        return 0
    if any(conn.get(f"RST{p}", ["0"]) != ["0"] for p in group):
        return 0
    read = group[-1]  # the read port: the port itself, or B of a pseudo-dual-port pair
    clock = tuple(conn.get(f"CLK{read}", ["0"]))
    if clock[0] in _CONST or _text(params, f"CLK{read}MUX", f"CLK{read}") != f"CLK{read}":
        return 0
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
            if (tuple(fc.get("CLK", [])) != clock or _text(fp, "CLKMUX", "CLK") != "CLK"
                    or fc.get("LSR", ["0"]) != ["0"] or _text(fp, "REGSET", "RESET") != "RESET"
                    or _text(fp, "GSR", "DISABLED") != "DISABLED"):
                return 0
            cemux = _text(fp, "CEMUX", "CE")
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
    if inverted and enable in inverters:
        enable = (inverters[enable],)
    elif inverted:  # OCE has no inversion: a LUT4 inverter drives it (one per enable net)
        fresh[0] += 1
        net = fresh[0]
        inverters[enable] = net
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
    conn[f"OCE{read}"] = list(enable)
    return len(ffs)


def _max_bit(module: dict[str, Any]) -> int:
    """The highest net bit number in `module` (cells, ports, net names)."""
    bits = [b for c in module.get("cells", {}).values() for v in c.get("connections", {}).values() for b in v]
    bits += [b for p in module.get("ports", {}).values() for b in p.get("bits", [])]
    bits += [b for n in module.get("netnames", {}).values() for b in n.get("bits", [])]
    return max((b for b in bits if isinstance(b, int)), default=1)


def _data_pins(conn: dict[str, Any], port: str) -> list[tuple[str, Any]]:
    return [(f"DO{port}{i}", conn[f"DO{port}{i}"][0]) for i in range(18) if f"DO{port}{i}" in conn]
