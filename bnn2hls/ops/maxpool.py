"""Max-pool (ir.MaxPool), no padding: the OR of sign bits, or the signed max of multi-level
values, over each window."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import Conv, Dense, InputQuant, MaxPool, Network, OutputHead, chain_network
from .base import Op, Work, value_bits
from .kernels import window_need


def maxpool_layer(layer: MaxPool, x: np.ndarray) -> np.ndarray:
    """[N, H, W, C] -> [N, OH, OW, C]: the max over each window (OR of sign bits, since
    bit 1 is +1; the max of integers for multi-level values).

    One strided slice per kernel tap, combined elementwise: kh*kw flat passes instead of a
    reduction over two tiny trailing axes."""
    (kh, kw), (sy, sx) = layer.kernel, layer.stride
    oh, ow, _ = layer.out_shape
    taps = [x[:, ky : ky + sy * (oh - 1) + 1 : sy, kx : kx + sx * (ow - 1) + 1 : sx] for ky in range(kh) for kx in range(kw)]
    out = taps[0].copy()
    combine = np.logical_or if x.dtype == np.bool_ else np.maximum
    for tap in taps[1:]:
        combine(out, tap, out=out)
    return out


def pool_work(layer: Any, net: Network) -> Work:
    """A pool's work: every input element read, one output per window, kh*kw-1 reductions
    (ORs, maxes, adds) per output."""
    h, w, c = layer.in_shape
    oh, ow, _ = layer.out_shape
    taps = layer.kernel[0] * layer.kernel[1]
    return Work(label="pool", bits_in=h * w * c * value_bits(net, net.producer(layer)), elements_out=oh * ow * c,
                bits_out=value_bits(net, layer), positions=oh * ow, ops=oh * ow * c * max(1, taps - 1))


class WindowPoolOp(Op):
    """What a max pool and a sum pool share: one output per unpadded window, read in order."""

    def need(self, layer: Any, operand: int, net: Network) -> np.ndarray:
        return window_need(layer.in_shape, layer.kernel, layer.stride, layer.out_shape[:2])

    def summary(self, layer: Any) -> dict[str, Any]:
        return {"kernel": list(layer.kernel), "stride": list(layer.stride)}

    def work(self, layer: Any, net: Network) -> Work:
        return pool_work(layer, net)


class MaxPoolOp(WindowPoolOp):
    node = MaxPool
    blocks = ("maxpool",)

    def kernel(self, layer: Any, xs: Sequence[np.ndarray]) -> np.ndarray:
        return maxpool_layer(layer, xs[0])

    def example(self) -> Network:
        """input (binary 4x4x2) -> 1x1 conv (signs) -> 2x2 max-pool -> dense -> head."""
        rng = np.random.default_rng(4)
        iq = InputQuant(name="input", source_shape=(2, 4, 4), preprocess=(), bits=1, scale=1.0, out_shape=(4, 4, 2))
        conv = Conv(name="conv", in_shape=(4, 4, 2), out_channels=4, kernel=(1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
                    input_bits=1, weights=rng.random((4, 2)) < 0.5, acc_scale=np.ones(4, np.float32), binarize=True,
                    thresholds=rng.integers(0, 3, 4).astype(np.int64), flip=rng.random(4) < 0.3)
        pool = MaxPool(name="op", in_shape=(4, 4, 4), kernel=(2, 2), stride=(2, 2))
        last = Dense(name="last", in_shape=(1, 1, 16), out_channels=3, kernel=(1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
                     input_bits=1, weights=rng.random((3, 16)) < 0.5, acc_scale=np.ones(3, np.float32), binarize=False)
        head = OutputHead(name="head", in_shape=(1, 1, 3), acc_scale=np.ones(3, np.float32), chain=())
        return chain_network("example_maxpool", [iq, conv, pool, last, head])
