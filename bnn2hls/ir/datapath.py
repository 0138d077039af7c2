"""The arithmetic the hardware does, derived from the IR: one place for both the reference
engine and the backends.

A binary matrix layer counts matching bits: p = popcount(xnor(window, weights)) over all
MW = kh*kw*C bits, pad-pattern bits included. Its dot product is 2p - MW, which exceeds the
zero-padded source's accumulator by the border correction `corr` of the position's class:

    acc_source = 2p - MW - corr

so the source's test `acc_source >= T` is, in the popcount domain,

    p >= ceil((T + MW + corr) / 2)

and the output bit is that comparison XOR the channel's flip bit.
"""
import numpy as np

from . import MatrixLayer, Network, SumPool


def corrections_at_positions(layer: MatrixLayer) -> np.ndarray:
    """int64 [OH, OW, C_out] (zeros without a border table)."""
    oh, ow = layer.out_hw
    if layer.border is None:
        return np.zeros((oh, ow, layer.out_channels), np.int64)
    return layer.border.position_corrections(layer.stride)


def popcount_thresholds(layer: MatrixLayer) -> np.ndarray:
    """int64 [OH, OW, C_out]: the popcount threshold at every output position."""
    assert layer.popcount and layer.thresholds is not None
    total = layer.thresholds[None, None, :] + layer.fan_in + corrections_at_positions(layer)
    return -((-total) // 2)  # ceil division


def popcount_threshold_classes(layer: MatrixLayer) -> np.ndarray:
    """int64 [R, C, 2, C_out] per border class (or [1, 1, 1, C_out] without a table): what a
    threshold memory holds. For a multi-level output (thresholds [C_out, L-1]) the same with a
    last axis of L-1: a border class shifts every level's threshold by its one correction (the
    zero-padded source's accumulator is 2p - MW - corr whatever the level), so each class gets
    its own column of L-1 thresholds. (The alternative, one shared column and an adder for
    corr before the compare, needs a per-class correction memory and an adder per lane; a
    column per class is the binary design's memory with L-1 fields, and the RTL and HLS units
    already read it.)"""
    assert layer.thresholds is not None
    corr = layer.border.corrections if layer.border is not None else np.zeros((1, 1, 1, layer.out_channels), np.int64)
    if layer.thresholds.ndim == 2:  # levels: [C_out, L-1]
        total = layer.thresholds[None, None, None, :, :] + layer.fan_in + corr[..., None]
    else:
        total = layer.thresholds[None, None, None, :] + layer.fan_in + corr
    return -((-total) // 2)


def window_sums(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """int64 [N, OH, OW, C]: the sum over each window of int [N, H, W, C] (one strided slice
    per kernel tap: kh*kw flat passes)."""
    (kh, kw), (sy, sx), (oh, ow) = kernel, stride, out_hw
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]), np.int64)
    for ky in range(kh):
        for kx in range(kw):
            out += x[:, ky : ky + sy * (oh - 1) + 1 : sy, kx : kx + sx * (ow - 1) + 1 : sx]
    return out


def head_offset(net: Network) -> np.ndarray:
    """For a network whose accelerator emits popcounts (a last binary x binary layer): the
    int64 [OH, OW, C] term `off` with  source = 2 * fields - off. The last layer emits
    popcounts p, and 2p - MW - corr is the source's accumulator; a sum pool after it sums p,
    so its term is the window sum of MW + corr."""
    feed = net.producer(net.head)
    last = net.head_accumulators()
    off = (last.fan_in + corrections_at_positions(last))[None]
    if isinstance(feed, SumPool):
        off = window_sums(off, feed.kernel, feed.stride, feed.out_shape[:2])
    return np.ascontiguousarray(off[0], np.int64)


def head_values(net: Network, fields: np.ndarray) -> np.ndarray:
    """The accelerator's output fields [N, OH, OW, C] -> what the head reads (the source's
    accumulators, or their window sums)."""
    return 2 * fields - head_offset(net)[None] if net.head_accumulators().popcount else fields


def head_fields(net: Network, values: np.ndarray) -> np.ndarray:
    """The inverse of `head_values` (the testbenches' expected words)."""
    return (values + head_offset(net)[None]) // 2 if net.head_accumulators().popcount else values
