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

from .ir import MatrixLayer


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
    threshold memory holds."""
    assert layer.thresholds is not None
    corr = layer.border.corrections if layer.border is not None else np.zeros((1, 1, 1, layer.out_channels), np.int64)
    total = layer.thresholds[None, None, None, :] + layer.fan_in + corr
    return -((-total) // 2)
