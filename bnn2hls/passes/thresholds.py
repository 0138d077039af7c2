"""fold_thresholds: BatchNorm, scales, biases and the sign -> one integer threshold per channel.

For a binarizing layer the source computes, per output channel o,

    bit = chain(acc * acc_scale[o]) >= 0          (Brevitas/QONNX map exactly 0 to +1)

with `chain` the float32 ops between the matrix product and the sign. Rather than solving
tau = mu - beta*sqrt(var+eps)/gamma in real arithmetic (which can land on the wrong integer
when tau sits within float32 rounding of one), we evaluate the chain exactly as the source
evaluates it, in float32, at every reachable accumulator value, and read off where the bit
changes. The chain is monotone (affine per channel), so the bit is a single step:

    bit = (acc >= T[o])  XOR  flip[o]

flip is set where the step goes down (negative gamma or a negative scale). A channel whose
bit never changes gets T at the end of the range (constant output).
"""
import dataclasses

import numpy as np

from ..errors import UserError
from ..ir import MatrixLayer, Network, apply_chain


def threshold_of(layer: MatrixLayer) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = layer.acc_range
    acc = np.arange(lo, hi + 1, dtype=np.int64)
    values = acc.astype(np.float32)[:, None] * layer.acc_scale[None, :]
    bits = apply_chain(layer.chain, values) >= 0  # [range, C]
    ups = np.diff(bits.astype(np.int8), axis=0)
    rising = (ups > 0).sum(axis=0)
    falling = (ups < 0).sum(axis=0)
    bad = np.nonzero((rising + falling) > 1)[0]
    if bad.size:
        raise UserError(f"layer '{layer.name}': the sign of channel {bad[0]} is not monotone in the accumulator; cannot fold it to a threshold")
    flip = falling > 0
    # The first accumulator value whose (possibly flipped) bit is 1; hi+1 if none.
    effective = bits ^ flip[None, :]
    any_one = effective.any(axis=0)
    first = np.where(any_one, lo + effective.argmax(axis=0), hi + 1)
    return first.astype(np.int64), flip


def fold_thresholds(net: Network) -> Network:
    layers = []
    for layer in net.layers:
        if isinstance(layer, MatrixLayer) and layer.binarize and layer.thresholds is None:
            thresholds, flip = threshold_of(layer)
            layer = dataclasses.replace(layer, chain=(), thresholds=thresholds, flip=flip)
        layers.append(layer)
    return dataclasses.replace(net, layers=tuple(layers))
