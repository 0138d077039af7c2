"""The residual join (ir.Join): the elementwise integer sum of two values of one shape,
(a << shifts[0]) + (b << shifts[1]); a sign bit counts as +-1."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import Dense, InputQuant, Join, Network, OutputHead, Threshold, validate
from .base import Op, Work, items, value_bits
from .kernels import integers


def join_layer(layer: Join, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The residual sum (a << shifts[0]) + (b << shifts[1]), int64."""
    return (integers(a) << layer.shifts[0]) + (integers(b) << layer.shifts[1])


def elementwise_work(layer: Any, net: Network) -> Work:
    """One operation per element: every operand read at its bits, the result written."""
    h, w, c = layer.out_shape
    bits_in = h * w * c * sum(value_bits(net, p) for p in net.producers(layer))
    return Work(label="elementwise", bits_in=bits_in, elements_out=h * w * c, bits_out=value_bits(net, layer),
                positions=h * w, ops=h * w * c)


def residual_example() -> Network:
    """input (4-bit) -> dense0 (2-bit levels) -+-> dense1 (2-bit levels) -> add -> sign -> dense2 -> head
                                                 '-------------------------'"""
    rng = np.random.default_rng(6)
    iq = InputQuant(name="input", source_shape=(12,), preprocess=(), bits=4, scale=1.0, out_shape=(1, 1, 12))

    def dense(name: str, src: str, fan_in: int, mh: int, in_bits: int, levels: int) -> Dense:
        thresholds = np.sort(rng.integers(-10, 10, (mh, levels - 1)), axis=1) if levels else None
        return Dense(name=name, in_shape=(1, 1, fan_in), out_channels=mh, kernel=(1, 1), stride=(1, 1),
                     pads=(0, 0, 0, 0), input_bits=in_bits, weights=rng.random((mh, fan_in)) < 0.5,
                     acc_scale=np.ones(mh, np.float32), binarize=bool(levels), thresholds=thresholds,
                     flip=(rng.random(mh) < 0.3) if levels else None, out_levels=levels,
                     out_offset=-2 if levels else 0, inputs=(src,))

    d0 = dense("dense0", "input", 12, 8, 4, 4)
    d1 = dense("dense1", "dense0", 8, 8, 2, 4)
    join = Join(name="add0", in_shape=(1, 1, 8), operand_scales=(1.0, 1.0), inputs=("dense0", "dense1"))
    act = Threshold(name="act0", in_shape=(1, 1, 8), thresholds=rng.integers(-3, 3, 8), flip=rng.random(8) < 0.3,
                    inputs=("add0",))
    d2 = dense("dense2", "act0", 8, 3, 1, 0)
    head = OutputHead(name="head", in_shape=(1, 1, 3), acc_scale=np.ones(3, np.float32), chain=(), inputs=("dense2",))
    return validate(Network("example_residual", (iq, d0, d1, join, act, d2, head)))


class JoinOp(Op):
    node = Join
    blocks = ("join",)

    def kernel(self, layer: Any, xs: Sequence[np.ndarray]) -> np.ndarray:
        return join_layer(layer, *xs)

    def need(self, layer: Any, operand: int, net: Network) -> np.ndarray:
        return np.arange(items(layer.out_shape))  # item k of each operand, in step

    def summary(self, layer: Any) -> dict[str, Any]:
        return {}  # kind and shapes say it all (report.json keeps its fields)

    def work(self, layer: Any, net: Network) -> Work:
        return elementwise_work(layer, net)

    def example(self) -> Network:
        return residual_example()
