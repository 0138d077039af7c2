"""A standalone activation (ir.Threshold) on an integer value (a join's sum, a pool's sum):
per channel a sign, bit = (x >= T) XOR flip, or FINN's MultiThreshold levels."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import Network, Threshold
from .base import Op, Work, items
from .join import elementwise_work, residual_example
from .kernels import multi_threshold


def threshold_layer(layer: Threshold, x: np.ndarray) -> np.ndarray:
    """A standalone activation: sign bits, or int64 levels."""
    assert layer.thresholds is not None and layer.flip is not None
    if layer.out_levels == 0:
        return (x >= layer.thresholds) ^ layer.flip
    return multi_threshold(layer, x)


class ThresholdOp(Op):
    node = Threshold
    blocks = ("threshold",)

    def kernel(self, layer: Any, xs: Sequence[np.ndarray]) -> np.ndarray:
        return threshold_layer(layer, xs[0])

    def need(self, layer: Any, operand: int, net: Network) -> np.ndarray:
        return np.arange(items(layer.out_shape))

    def summary(self, layer: Any) -> dict[str, Any]:
        return {}  # kind and shapes say it all (report.json keeps its fields)

    def work(self, layer: Any, net: Network) -> Work:
        return elementwise_work(layer, net)

    def example(self) -> Network:
        return residual_example()
