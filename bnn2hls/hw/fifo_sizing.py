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
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..ir import Conv, DepthwiseConv

MIN_FIFO_DEPTH = 2  # a FIFO between two layers that need no more


def fifo_depth(consumer: object) -> int:
    """Depth of the FIFO in front of `consumer`.

    A sliding window walks its padded frame in order and takes no input while it emits the
    bottom (and next frame's top) padding rows, but the producer keeps producing: the FIFO
    must hold what the consumer needs for the next frame's first output row, (KH - PAD_T + 1)
    input rows, or the producer stalls and the bottleneck waits for it at every frame start
    (measured: 1.7 % lost on padnet with depth 2).
    """
    if isinstance(consumer, (Conv, DepthwiseConv)):
        return max(MIN_FIFO_DEPTH, (consumer.kernel[0] - consumer.pads[0] + 1) * consumer.in_shape[1])
    return MIN_FIFO_DEPTH



FRAMES = 4  # the interval is measured between the last two frames, past start-up
MAX_DEPTH = 512


def window_positions(layer: Conv | DepthwiseConv) -> tuple[np.ndarray, int]:
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


def window_fifo_depth(layer: Conv | DepthwiseConv, fold: int) -> int:
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


# ---------------------------------------------------------------------------------------
# Reconvergent paths: the FIFOs into a residual join
# ---------------------------------------------------------------------------------------
# A fork sends every word of a value down two paths that meet again at a join. The fork moves
# a word only when both paths take it, and the join takes item k only when both paths deliver
# it. While the main path (say a 3x3 conv) takes in a row and a half of pixels before its first
# output, the shortcut path delivers those pixels' items and they must wait at the join: if the
# shortcut's FIFO cannot hold them, the fork stops, the main path starves and nothing moves
# again (deadlock). Below that hard bound, the main path runs slower than it could whenever its
# own input FIFOs cannot fill ahead (the bottom padding rows of a frame, the pipelines).
#
# The queue model works on item indices, per frame of every value (one item = one stream word
# = one pixel): `need` maps item k of a layer's output to the last item of each input it reads
# before producing it (a window's last pixel, a pooled window's last pixel, all pixels for a
# dense layer, item k itself for a join or a threshold). Composed along every path, need[v][u]
# is the last item of ancestor value u that item k of v depends on. Two versions: `plain`, the
# least the path must have read; `eager`, what the path reads when every FIFO and block queue
# on it fills ahead (its FIFO depth and IN_FLIGHT items of every block). For a join of a and b
# and every common ancestor u (the fork, and everything above it), the b-side FIFO must hold
# the b items the fork has produced while a's path reads ahead of the join:
#     depth_b >= max_k  #{j : plain_b[u][j] <= eager_a[u][k]} - k
# (and the same with a and b swapped), over RECONVERGENT_FRAMES frames back to back, so frame
# boundaries (the next frame's top rows read during this frame's bottom padding) are included.
# A channel concat of N operands meets its inputs as a join does (item k of every operand);
# for operand b, the a side is then the furthest-reading of the others (`operand_depths`).
RECONVERGENT_FRAMES = 3
IN_FLIGHT = 3  # items a block holds besides its FIFO (input queue, output register, pipeline)
JOIN_SLACK = 2  # items on top of the bound (the join's own input queue takes up the rest)


def _items(shape: tuple[int, int, int]) -> int:
    return shape[0] * shape[1]


def layer_need(layer: object, operand: int, net: object) -> np.ndarray:
    """[items of `layer`'s output per frame] -> the last item (per frame) of its input
    `operand` it reads first (-1: none)."""
    from ..ir import Dense, Join, MaxPool, SumPool, Threshold

    if isinstance(layer, (Conv, DepthwiseConv)):  # the same window walk
        positions, _ = window_positions(layer)
        h, w, _ = layer.in_shape
        t, l, b, r = layer.pads
        wp = w + l + r
        rows, cols = positions // wp, positions % wp
        real_rows = np.clip(rows - t, 0, h)  # whole input rows read before row `rows`
        in_row = (rows >= t) & (rows < t + h)
        return real_rows * w + np.where(in_row, np.clip(cols - l + 1, 0, w), 0) - 1
    if isinstance(layer, Dense):
        return np.asarray([_items(net.producers(layer)[operand].out_shape) - 1])  # type: ignore[attr-defined]
    if isinstance(layer, (MaxPool, SumPool)):  # an output leaves when its window's last item is in
        (kh, kw), (sh, sw) = layer.kernel, layer.stride
        oh, ow, _ = layer.out_shape
        w = layer.in_shape[1]
        oy, ox = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
        return ((oy * sh + kh - 1) * w + ox * sw + kw - 1).reshape(-1)
    if isinstance(layer, (Join, Threshold)):
        return np.arange(_items(layer.out_shape))
    raise TypeError(type(layer).__name__)


def _frames(need: np.ndarray, n_in: int) -> np.ndarray:
    """One frame's need map repeated over RECONVERGENT_FRAMES frames (frame f: + f*n_in)."""
    return np.concatenate([need + f * n_in for f in range(RECONVERGENT_FRAMES)])


def need_maps(net: object, root: object, eager: bool, edge_depth: object,
              need: Callable[[Any, int, Any], np.ndarray] = layer_need) -> dict[str, np.ndarray]:
    """value -> [items of the value over the frames] -> the last item of value `root` it
    needs (`eager`: read ahead as far as the FIFOs and block queues below `root` let it), for
    the values that depend on `root`; `need(layer, operand, net)` is each layer's need map."""
    from ..ir import Network

    assert isinstance(net, Network)
    maps: dict[str, np.ndarray] = {root.name: np.arange(RECONVERGENT_FRAMES * _items(root.out_shape))}  # type: ignore[attr-defined]
    for layer in net.datapath:
        mine: np.ndarray | None = None
        for i, p in enumerate(net.producers(layer)):
            if p.name not in maps:
                continue
            need_k = _frames(need(layer, i, net), _items(p.out_shape))  # type: ignore[union-attr]
            if eager:
                k = np.minimum(np.arange(len(need_k)) + IN_FLIGHT, len(need_k) - 1)
                need_k = need_k[k] + edge_depth(p, layer)  # type: ignore[operator]
            m = maps[p.name]
            via = np.where(need_k < 0, -1, m[np.clip(need_k, 0, len(m) - 1)])
            mine = via if mine is None else np.maximum(mine, via)
        if mine is not None:
            maps[layer.name] = mine
    return maps


def is_join(layer: object) -> bool:
    from ..ir import Join

    return isinstance(layer, Join)


def reconvergent_fifo_depths(net: object, reconverges: Callable[[Any], bool] = is_join,
                             need: Callable[[Any, int, Any], np.ndarray] = layer_need) -> dict[tuple[str, str], int]:
    """(operand value, layer) -> the depth of the FIFO carrying that operand into the layer,
    for every layer of `net` that takes item k of all its operands together (`reconverges`:
    a join; a channel concat is the same), see above: the bound over every fork above it.
    `need(layer, operand, net)`: each layer's need map (`layer_need`)."""
    from ..ir import Network

    assert isinstance(net, Network)
    meets = [layer for layer in net.datapath if reconverges(layer)]
    if not meets:
        return {}

    def edge_depth(producer: object, consumer: object) -> int:
        return MIN_JOIN_DEPTH if reconverges(consumer) else fifo_depth(consumer)

    forks = [v for v in (net.input_quant, *net.datapath) if len(net.consumers[v.name]) > 1]
    maps = {v.name: (need_maps(net, v, False, edge_depth, need), need_maps(net, v, True, edge_depth, need))
            for v in forks}
    depths: dict[tuple[str, str], int] = {}
    for layer in meets:
        depths.update(operand_depths([p.name for p in net.producers(layer)], layer.name, list(maps.values())))
    return depths


def operand_depths(operands: Sequence[str], layer: str,
                   maps: Sequence[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]) -> dict[tuple[str, str], int]:
    """The FIFO depths into `layer`, which reads item k of every operand (value names, N >= 2)
    together, from the (plain, eager) need maps of each fork above it: the FIFO of operand i
    holds what i's path produces while the path reading furthest ahead of the fork (the max
    over the other operands) brings item k."""
    depths: dict[tuple[str, str], int] = {}
    for side, mine in enumerate(operands):
        bound = 0
        for plain, eager in maps:
            aheads = [eager[o] for i, o in enumerate(operands) if i != side and o in eager]
            if mine not in plain or not aheads:
                continue
            ahead = np.max(aheads, axis=0)  # how far the other paths read the fork for each item
            produced = np.searchsorted(plain[mine], ahead, side="right")  # my items by then
            bound = max(bound, int((produced - np.arange(len(ahead))).max()))
        depths[(mine, layer)] = max(MIN_JOIN_DEPTH, bound + JOIN_SLACK)
    return depths


MIN_JOIN_DEPTH = 2
