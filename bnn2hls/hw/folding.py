"""Folding (PE/SIMD per matrix layer; a depthwise conv's PE counts channels, its SIMD taps) and the analytic cycle estimates it is chosen by.

The estimates are the block kinds' own formulas (bnn2hls/hw/blocks/), over the kinds that
implement each layer (bnn2hls/hw/blocks LAYER_BLOCKS). Per block, in cycles per frame:
  MVAU:            (MH/PE) * (MW/SIMD) * output_pixels                       (FINN's formula)
  VVAU:            (C/PE) * (KH*KW/SIMD) * output_pixels    (a depthwise conv: MH = C, MW = KH*KW)
  sliding window:  one padded input position per cycle: (H+PAD_T+PAD_B) * (W+PAD_L+PAD_R)
  flatten:         one input pixel per cycle (never slower than the layer feeding it)
  max-pool:        one input pixel per cycle: H*W
  join, threshold:  one pixel per cycle: H*W
A layer's interval is the max of its blocks'; the network's is the max over layers (the
bottleneck); the latency estimate is the longest path of intervals through the graph. FINN's own sliding-window formula (docs/DESIGN.md section 2), which describes FINN's
SIMD-chunked generator rather than ours, is reported alongside as `finn_swg`.
"""
import dataclasses
from pathlib import Path
from typing import Any

from .. import hw
from ..errors import UserError
from ..safeio import read_json
from .blocks.mvau import mvau_cycles  # noqa: F401  (re-exported)
from .blocks.swg import finn_swg_cycles, padded_pixels  # noqa: F401  (re-exported)
from ..ir import MatrixLayer, Network, describe, validate


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def layer_cycles(layer: Any, pe: int | None = None, simd: int | None = None) -> dict[str, int]:
    """The cycles of the blocks implementing `layer` (at PE `pe` and SIMD `simd` if given),
    each kind's own formula (bnn2hls/hw/blocks/), and the layer's `interval`."""
    if isinstance(layer, MatrixLayer) and (pe or simd):
        layer = dataclasses.replace(layer, pe=pe or layer.pe, simd=simd or layer.simd)
    return hw.layer_cycles(layer)


def critical_path(net: Network, intervals: dict[str, int]) -> int:
    """The latency estimate: the longest path of layer intervals through the graph (a frame
    passes every layer of a path in turn; parallel branches overlap). The sum of the
    intervals for a chain."""
    done: dict[str, int] = {}
    for layer in net.datapath:
        before = [done[p.name] for p in net.producers(layer) if p.name in done]
        done[layer.name] = intervals[layer.name] + max(before, default=0)
    return max(done.values())


def estimate_cycles(net: Network) -> dict[str, Any]:
    per_layer = {layer.name: layer_cycles(layer) for layer in net.datapath}
    intervals = {name: c["interval"] for name, c in per_layer.items()}
    bottleneck = max(intervals, key=lambda name: intervals[name])
    return {
        "layers": per_layer,
        "est_cycles_per_frame": intervals[bottleneck],
        "est_latency_cycles": critical_path(net, intervals),
        "bottleneck": bottleneck,
    }


def apply_folding_spec(net: Network, spec: dict[str, Any]) -> Network:
    """spec: {"layers": {"<layer name>": {"pe": P, "simd": S}}}; unnamed layers keep theirs."""
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), dict):
        raise UserError('folding: expected {"layers": {"<layer name>": {"pe": P, "simd": S}}}')
    names = {layer.name: layer for layer in net.matrix_layers}
    for name, entry in spec["layers"].items():
        if name not in names:
            raise UserError(f"folding: no matrix layer named '{name}' (layers: {', '.join(names)})")
        if not isinstance(entry, dict) or set(entry) - {"pe", "simd"}:
            raise UserError(f"folding: layer '{name}': expected {{\"pe\": P, \"simd\": S}}")
        layer = names[name]
        pe, simd = entry.get("pe", layer.pe), entry.get("simd", layer.simd)
        if not (isinstance(pe, int) and isinstance(simd, int)) or pe < 1 or simd < 1:
            raise UserError(f"folding: layer '{name}': pe and simd must be positive integers")
        if layer.out_channels % pe:
            raise UserError(f"folding: layer {describe(layer)}: PE={pe} does not divide its {layer.out_channels} output channels")
        if layer.fan_in % simd:
            raise UserError(f"folding: layer {describe(layer)}: SIMD={simd} does not divide its fan-in {layer.fan_in}")
        net = net.replace_layer(dataclasses.replace(layer, pe=pe, simd=simd))
    return validate(net)


def load_folding_spec(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = read_json(Path(path), "--folding")
    return doc


def fold_parallelism(net: Network, target_cycles: int) -> Network:
    """The cheapest folding whose every layer's interval is <= target_cycles.

    FINN's SetFolding idea: per layer, raise SIMD first (wider XNOR lanes are cheap), then PE,
    stopping as soon as the layer meets the target; cost is taken as PE*SIMD lanes.
    """
    if target_cycles < 1:
        raise UserError("--target-fps: the target is faster than one cycle per frame")
    for layer in net.matrix_layers:
        best = None
        for simd in divisors(layer.fan_in):
            for pe in divisors(layer.out_channels):
                if layer_cycles(layer, pe, simd)["interval"] <= target_cycles:
                    key = (pe * simd, pe, simd)
                    if best is None or key < best:
                        best = key
                    break
        if best is None:
            pe, simd = layer.out_channels, layer.fan_in
        else:
            _, pe, simd = best
        net = net.replace_layer(dataclasses.replace(layer, pe=pe, simd=simd))
    return validate(net)


FOLDING_PRESETS = ("unit", "mid", "wide")


def folding_preset(net: Network, style: str) -> dict[str, Any]:
    """A folding spec that exercises the design space (tests and benchmarks): unit is PE = SIMD
    = 1; mid, the middle divisor of each; wide, the largest divisors <= 64."""
    if style not in FOLDING_PRESETS:
        raise ValueError(f"folding_preset: style must be one of {FOLDING_PRESETS}, not {style!r}")
    layers = {}
    for layer in net.matrix_layers:
        pes, simds = divisors(layer.out_channels), divisors(layer.fan_in)
        if style == "unit":
            pe, simd = 1, 1
        elif style == "mid":
            pe, simd = pes[len(pes) // 2], simds[len(simds) // 2]
        else:
            pe, simd = max(d for d in pes if d <= 64), max(d for d in simds if d <= 64)
        layers[layer.name] = {"pe": pe, "simd": simd}
    return {"layers": layers}
