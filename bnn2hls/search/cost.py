"""What a cost backend answers for one network on one device, and the backend interface.

A backend (`fpga`, `gpu`, `rram`, or a third-party plug-in registered under the entry-point
group `bnn2hls.cost_backends`, see `bnn2hls.search.backends`) predicts, from the typed IR
alone and in milliseconds, the throughput, latency and resource use of a network on a
device. The search keeps a candidate when `fits` and `fps >= min_fps`, and puts `objective`
on the cost axis of the accuracy/cost Pareto front.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..ir import Network


@dataclass(frozen=True)
class Cost:
    backend: str
    device: str
    fps: float  # sustained frames per second
    latency_s: float  # one frame through the whole network
    usage: dict[str, float]  # resource -> amount the network uses
    budget: dict[str, float]  # resource -> amount the device has (same keys as usage)
    objective_name: str  # what `objective` measures, with its unit, e.g. "lut" or "energy_uj"
    objective: float  # the scalar cost on the Pareto front's cost axis (lower is better)
    energy_j: float | None = None  # per frame, when the backend models energy
    details: dict[str, Any] = field(default_factory=dict)  # JSON-able breakdown (per layer, ...)

    @property
    def utilization(self) -> float:
        """The largest share of any budgeted resource (1.0 = exactly full)."""
        shares = [self.usage.get(k, 0.0) / v if v > 0 else (math.inf if self.usage.get(k, 0.0) > 0 else 0.0)
                  for k, v in self.budget.items()]
        return max(shares, default=0.0)

    @property
    def fits(self) -> bool:
        return self.utilization <= 1.0

    def meets(self, min_fps: float | None) -> bool:
        return self.fits and (min_fps is None or self.fps >= min_fps)

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "device": self.device, "fps": self.fps, "latency_s": self.latency_s,
                "usage": dict(self.usage), "budget": dict(self.budget), "utilization": self.utilization,
                "fits": self.fits, "objective_name": self.objective_name, "objective": self.objective,
                "energy_j": self.energy_j, "details": self.details}


class CostBackend(Protocol):
    """A cost model for one kind of hardware."""

    name: str

    def devices(self) -> list[str]:
        """The device names `estimate` accepts (boards for fpga, GPUs, RRAM chips)."""
        ...

    def default_device(self) -> str:
        ...

    def estimate(self, net: Network, device: str, min_fps: float | None = None) -> Cost:
        """Predict the cost of `net` on `device`. A backend with a parallelism knob (the FPGA's
        PE/SIMD folding) picks the cheapest configuration that reaches `min_fps`; others
        ignore it. Unknown devices raise UserError naming the device and the known ones."""
        ...
