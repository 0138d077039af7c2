"""Max-pool (ir.MaxPool): the OR of sign bits, or the signed max of multi-level values, over
each window (the min on the channels where a falling quantizer follows in the source); padded
positions never win."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import Conv, Dense, InputQuant, MaxPool, Network, OutputHead, chain_network
from .base import MIN_FIFO_DEPTH, Op, Work, value_bits
from .kernels import window_need


def maxpool_layer(layer: MaxPool, x: np.ndarray) -> np.ndarray:
    """[N, H, W, C] -> [N, OH, OW, C]: the max over each window (OR of sign bits, since
    bit 1 is +1; the max of integers for multi-level values), or the min on the channels of
    `layer.minimum`; a padded position (`layer.pads`) never wins.

    The min channels are pooled as the max of their complements (~v reverses the order of
    integers and of bits), which is how the hardware does it. One strided slice per kernel
    tap, combined elementwise: kh*kw flat passes instead of a reduction over two tiny
    trailing axes."""
    (kh, kw), (sy, sx) = layer.kernel, layer.stride
    oh, ow, _ = layer.out_shape
    t, l, b, r = getattr(layer, "pads", (0, 0, 0, 0))
    minimum = getattr(layer, "minimum", None)
    binary = x.dtype == np.bool_
    if minimum is not None and np.any(minimum):
        x = np.where(minimum, ~x, x)
    if t or l or b or r:
        # The pad is the identity of the reduction: bit 0 (-1) for an OR, the smallest integer.
        neutral = False if binary else np.iinfo(x.dtype).min
        x = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=neutral)
    taps = [x[:, ky : ky + sy * (oh - 1) + 1 : sy, kx : kx + sx * (ow - 1) + 1 : sx] for ky in range(kh) for kx in range(kw)]
    out = taps[0].copy()
    combine = np.logical_or if binary else np.maximum
    for tap in taps[1:]:
        combine(out, tap, out=out)
    if minimum is not None and np.any(minimum):
        out = np.where(minimum, ~out, out)
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
    """What a max pool and a sum pool share: one output per window, read in order."""

    def need(self, layer: Any, operand: int, net: Network) -> np.ndarray:
        return window_need(layer.in_shape, layer.kernel, layer.stride, layer.out_shape[:2],
                           getattr(layer, "pads", (0, 0, 0, 0)))

    def summary(self, layer: Any) -> dict[str, Any]:
        return {"kernel": list(layer.kernel), "stride": list(layer.stride)}

    def work(self, layer: Any, net: Network) -> Work:
        return pool_work(layer, net)


class MaxPoolOp(WindowPoolOp):
    node = MaxPool
    blocks = ("maxpool",)

    def input_fifo_depth(self, layer: Any) -> int:
        """A padded pool walks its padding rows taking no input, as a conv's window does (see
        ops.matrix: ConvOp.input_fifo_depth): the FIFO holds the next frame's first output row."""
        if not layer.padded:
            return MIN_FIFO_DEPTH
        return max(MIN_FIFO_DEPTH, (layer.kernel[0] - layer.pads[0] + 1) * layer.in_shape[1])

    def summary(self, layer: Any) -> dict[str, Any]:
        out = super().summary(layer)
        if layer.padded:
            out["pads"] = list(layer.pads)
        if layer.takes_min:
            out["min_channels"] = int(np.count_nonzero(layer.minimum))
        return out

    def kernel(self, layer: Any, xs: Sequence[np.ndarray]) -> np.ndarray:
        return maxpool_layer(layer, xs[0])

    def example(self) -> Network:
        """input (binary 4x4x2) -> 1x1 conv (4 levels, some channels falling) -> 3x3 stride-2
        max-pool padded by 1 (ResNet's stem), the falling channels pooling their min -> dense
        -> head: the pool's least common modes."""
        rng = np.random.default_rng(4)
        iq = InputQuant(name="input", source_shape=(2, 4, 4), preprocess=(), bits=1, scale=1.0, out_shape=(4, 4, 2))
        flip = np.array([False, True, False, True])
        conv = Conv(name="conv", in_shape=(4, 4, 2), out_channels=4, kernel=(1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
                    input_bits=1, weights=rng.random((4, 2)) < 0.5, acc_scale=np.ones(4, np.float32), binarize=True,
                    thresholds=np.sort(rng.integers(-2, 3, (4, 3)), axis=1).astype(np.int64), flip=flip,
                    out_levels=4, out_offset=-2)
        pool = MaxPool(name="op", in_shape=(4, 4, 4), kernel=(3, 3), stride=(2, 2), pads=(1, 1, 1, 1), minimum=flip)
        last = Dense(name="last", in_shape=(1, 1, 16), out_channels=3, kernel=(1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
                     input_bits=2, weights=rng.random((3, 16)) < 0.5, acc_scale=np.ones(3, np.float32), binarize=False)
        head = OutputHead(name="head", in_shape=(1, 1, 3), acc_scale=np.ones(3, np.float32), chain=())
        return chain_network("example_maxpool", [iq, conv, pool, last, head])
