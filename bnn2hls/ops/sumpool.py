"""Sum pooling (ir.SumPool), no padding: per channel, the integer sum over each window (a
sign bit counts as +-1); a global pool (the GAP head) is one window of the whole map."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import Conv, InputQuant, Network, OutputHead, SumPool, chain_network, datapath
from .kernels import integers
from .maxpool import WindowPoolOp


def sumpool_layer(layer: SumPool, x: np.ndarray) -> np.ndarray:
    """[N, H, W, C] -> int64 [N, OH, OW, C]: the integer sum over each window (sign bits count
    +-1)."""
    return datapath.window_sums(integers(x), layer.kernel, layer.stride, layer.out_shape[:2])


class SumPoolOp(WindowPoolOp):
    node = SumPool
    blocks = ("sumpool",)

    def kernel(self, layer: Any, xs: Sequence[np.ndarray]) -> np.ndarray:
        return sumpool_layer(layer, xs[0])

    def example(self) -> Network:
        """input (binary 4x4x2) -> 1x1 conv (raw accumulators) -> global sum pool -> head."""
        rng = np.random.default_rng(5)
        iq = InputQuant(name="input", source_shape=(2, 4, 4), preprocess=(), bits=1, scale=1.0, out_shape=(4, 4, 2))
        conv = Conv(name="last", in_shape=(4, 4, 2), out_channels=4, kernel=(1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
                    input_bits=1, weights=rng.random((4, 2)) < 0.5, acc_scale=np.ones(4, np.float32), binarize=False)
        pool = SumPool(name="op", in_shape=(4, 4, 4), kernel=(4, 4), stride=(1, 1))
        head = OutputHead(name="head", in_shape=(1, 1, 4), acc_scale=np.ones(4, np.float32), chain=())
        return chain_network("example_sumpool", [iq, conv, pool, head])
