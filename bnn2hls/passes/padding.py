"""resolve_padding: make a zero-padded source conv exact on a +1/-1 datapath.

The hardware pads binary inputs with the FBNA pattern (bnn2hls.ir.padding_pattern). At an output
position whose window hangs over the border, it therefore adds, on top of the zero-padded
source's accumulator, the known amount

    corr[o] = sum over out-of-bounds taps (ky, kx, c) of  w[o, ky, kx, c] * pad(c, iy, ix)

which depends only on which taps are out of bounds (the row and column *border class*) and on
the phase of the pattern under the window (the parity of stride_y*oy + stride_x*ox). This pass
enumerates those classes and tabulates corr; thresholds and the final accumulators subtract it.

A depthwise conv's channel o sums its own channel's taps only: corr[o] over its (ky, kx) with
pad(o, iy, ix) (the same table, a diagonal weight tensor).

Multi-bit (first-layer) inputs have a real 0 and are zero-padded in hardware: no table.
Sources trained with the pattern itself (pad_mode "alternating") need no table either.
"""
import dataclasses
from typing import TypeGuard

import numpy as np

from ..ir import padding_pattern
from ..ir import BorderTable, Conv, DepthwiseConv, Network


def _axis_classes(out_len: int, in_len: int, kernel: int, stride: int, pad_before: int) -> tuple[np.ndarray, list[tuple[bool, ...]]]:
    """Per output index along one axis: class id (0 = all taps inside) and each class's
    out-of-bounds mask over the kernel taps."""
    keys: list[tuple[bool, ...]] = [tuple([False] * kernel)]
    ids = np.zeros(out_len, np.int64)
    for o in range(out_len):
        pos = o * stride - pad_before + np.arange(kernel)
        key = tuple(bool(v) for v in (pos < 0) | (pos >= in_len))
        if key not in keys:
            keys.append(key)
        ids[o] = keys.index(key)
    return ids, keys


def border_table(layer: Conv | DepthwiseConv) -> BorderTable:
    h, w, c = layer.in_shape
    kh, kw = layer.kernel
    sy, sx = layer.stride
    t, l, _, _ = layer.pads
    oh, ow = layer.out_hw
    row_class, row_keys = _axis_classes(oh, h, kh, sy, t)
    col_class, col_keys = _axis_classes(ow, w, kw, sx, l)
    if isinstance(layer, DepthwiseConv):
        # Channel o reads only its own input channel: its taps' pattern is pad(o, y, x).
        weights = np.zeros((c, kh, kw, c), np.int64)
        weights[np.arange(c), :, :, np.arange(c)] = np.where(layer.weights, 1, -1).reshape(c, kh, kw)
    else:
        weights = np.where(layer.weights, 1, -1).astype(np.int64).reshape(layer.out_channels, kh, kw, c)
    table = np.zeros((len(row_keys), len(col_keys), 2, layer.out_channels), np.int64)
    for r, row_oob in enumerate(row_keys):
        for q, col_oob in enumerate(col_keys):
            oob = np.array(row_oob)[:, None] | np.array(col_oob)[None, :]  # [kh, kw]
            if not oob.any():
                continue
            for parity in (0, 1):
                # Relative to the window origin (y0, x0) = (s*oy - t, s*ox - l), the pattern at
                # tap (ky, kx) is pad(c, y0 + ky, x0 + kx); only the parity of y0 + x0 matters.
                origin = parity - t - l
                pattern = padding_pattern.pad_values(c, origin + np.arange(kh), np.arange(kw)).astype(np.int64)
                table[r, q, parity] = np.einsum("oyxc,yxc->o", weights * oob[None, :, :, None], pattern)
    return BorderTable(row_class=row_class, col_class=col_class, corrections=table)


def needs_border_table(layer: object) -> TypeGuard[Conv | DepthwiseConv]:
    return isinstance(layer, (Conv, DepthwiseConv)) and layer.popcount and layer.pad_mode == "zero" and any(layer.pads)


def resolve_padding(net: Network) -> Network:
    layers = tuple(
        dataclasses.replace(layer, border=border_table(layer)) if needs_border_table(layer) and layer.border is None else layer
        for layer in net.layers
    )
    return dataclasses.replace(net, layers=layers)
