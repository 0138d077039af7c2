"""FIFO depths between a sliding window generator and its MVAU, sized by simulating the two.

The window generator walks its padded frame one position per cycle and emits a window only at
some positions (after the first KH-1 rows and KW-1 columns, every stride-th); the MVAU takes
one window every F = (MH/PE)*(MW/SIMD) cycles. Without buffering between them, either side
waits for the other: the MVAU idles through the generator's window-less stretches (top rows
of every frame), and the generator stalls through bursts of windows. A FIFO of D windows
decouples them; this module finds the smallest D whose steady-state interval reaches
max(positions, windows*F) per frame, with a queue recurrence instead of a cycle simulation:

    emit[k]  = max(emit[k-1] + (pos[k] - pos[k-1]), start[k-D])   (a free FIFO slot)
    start[k] = max(emit[k] + 1, start[k-1] + F)
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import Conv

FRAMES = 4  # the interval is measured between the last two frames, past start-up
MAX_DEPTH = 512


def window_positions(layer: Conv) -> tuple[np.ndarray, int]:
    """Indices (in the walk of one padded frame) where a window is emitted, and the frame's
    number of positions."""
    h, w, _ = layer.in_shape
    t, l, b, r = layer.pads
    hp, wp = h + t + b, w + l + r
    kh, kw = layer.kernel
    sh, sw = layer.stride
    oh, ow = layer.out_hw
    rows = kh - 1 + sh * np.arange(oh)
    cols = kw - 1 + sw * np.arange(ow)
    return (rows[:, None] * wp + cols[None, :]).reshape(-1), hp * wp


def simulated_interval(positions: np.ndarray, frame_positions: int, fold: int, depth: int) -> float:
    pos = np.concatenate([positions + f * frame_positions for f in range(FRAMES)])
    n = len(pos)
    emit = np.zeros(n)
    start = np.zeros(n)
    for k in range(n):
        e = pos[k] if k == 0 else emit[k - 1] + (pos[k] - pos[k - 1])
        if k >= depth:
            e = max(e, start[k - depth])
        emit[k] = e
        start[k] = e + 1 if k == 0 else max(e + 1, start[k - 1] + fold)
    per_frame = len(positions)
    ends = start[per_frame - 1 :: per_frame] + fold
    return float(ends[-1] - ends[-2])


def window_fifo_depth(layer: Conv, fold: int) -> int:
    """Smallest FIFO depth (0 = connect directly) that reaches the ideal interval."""
    positions, frame_positions = window_positions(layer)
    ideal = max(frame_positions, len(positions) * fold)
    if simulated_interval(positions, frame_positions, fold, 1) <= ideal:
        return 0
    lo, hi = 1, 2
    while hi < MAX_DEPTH and simulated_interval(positions, frame_positions, fold, hi) > ideal:
        lo, hi = hi, hi * 2
    while lo + 1 < hi:  # interval is non-increasing in depth: bisect
        mid = (lo + hi) // 2
        if simulated_interval(positions, frame_positions, fold, mid) > ideal:
            lo = mid
        else:
            hi = mid
    return max(2, math.ceil(hi))
