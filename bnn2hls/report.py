"""report.json: what a compiled network costs, per layer and in total (analytic for now)."""
from __future__ import annotations

from typing import Any

from .ir import Conv, MatrixLayer, MaxPool, Network
from .passes import estimate_cycles


def layer_summary(layer: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": layer.kind, "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape)}
    if isinstance(layer, MatrixLayer):
        entry.update(
            pe=layer.pe, simd=layer.simd, mh=layer.out_channels, mw=layer.fan_in,
            input_bits=layer.input_bits, binarize=layer.binarize,
            macs=layer.out_channels * layer.fan_in * layer.out_hw[0] * layer.out_hw[1],
            weight_bits=int(layer.weights.size),
        )
        if isinstance(layer, Conv):
            entry.update(kernel=list(layer.kernel), stride=list(layer.stride), pads=list(layer.pads), pad_mode=layer.pad_mode,
                         border_classes=0 if layer.border is None else int(layer.border.corrections[..., 0].size))
    elif isinstance(layer, MaxPool):
        entry.update(kernel=list(layer.kernel), stride=list(layer.stride))
    return entry


def build_report(net: Network, clock_mhz: float) -> dict[str, Any]:
    cycles = estimate_cycles(net)
    layers = {}
    for layer in net.datapath:
        entry = layer_summary(layer)
        entry["est_cycles"] = cycles["layers"][layer.name]
        entry["est_cycles_per_frame"] = cycles["layers"][layer.name]["interval"]
        layers[layer.name] = entry
    per_frame = cycles["est_cycles_per_frame"]
    return {
        "network": {
            "name": net.name,
            "clock_mhz": clock_mhz,
            "est_cycles_per_frame": per_frame,
            "est_latency_cycles": cycles["est_latency_cycles"],
            "est_fps": clock_mhz * 1e6 / per_frame,
            "bottleneck": cycles["bottleneck"],
            "macs": sum(e.get("macs", 0) for e in layers.values()),
            "outputs": net.head.out_features,
        },
        "layers": layers,
        "layer_order": [layer.name for layer in net.datapath],
    }
