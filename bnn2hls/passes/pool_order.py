"""move_pool_flips: a max-pool of pre-activation values (BinaryNet's conv -> MaxPool ->
BatchNorm -> sign) on a datapath that pools sign bits.

The source computes, per channel, `step(max over the window of acc)` with `step` the folded
sign: `(acc >= T) XOR flip`, monotone in acc. Where the step rises (flip 0) that equals the
OR of the steps over the window; where it falls (flip 1) it is `NOT (max acc >= T)`, i.e.
`OR(acc >= T) XOR 1`. So with the producer emitting the unflipped bits `acc >= T`, an OR
pool gives `OR(...) XOR flip` for every channel: the flip moves past the pool.

It then lands in the consumer: a flipped input bit of channel c is the value -s instead of
s, so negating the weights that read channel c gives the same dot product. The consumer's
thresholds do not change; its border table (computed after this pass) uses the negated
weights, as the hardware does.

A multi-level producer (conv -> MaxPool -> BatchNorm -> QuantReLU) keeps its levels: per
channel the level is a monotone step function of the accumulator (levels_of), non-decreasing
where flip is 0 and non-increasing where it is 1, so the level of the window's max
accumulator is the max of the levels over the window on a rising channel and their min on a
falling one (a constant channel: either). The pool takes the min on the falling channels
(`MaxPool.minimum`), and nothing else changes. Padded positions (the source pads with -inf)
never win either reduction.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import UserError
from ..ir import DepthwiseConv, MatrixLayer, MaxPool, Network, describe, validate


def move_pool_flips(net: Network) -> Network:
    for pool in [layer for layer in net.layers if isinstance(layer, MaxPool) and layer.before_activation]:
        producer = net.producer(pool)
        if not isinstance(producer, MatrixLayer) or producer.flip is None:
            raise UserError(f"layer {describe(pool)}: a max-pool before the activation needs a thresholded producer")
        if producer.out_levels:
            minimum = np.asarray(producer.flip, bool).copy()
            net = net.replace_layer(dataclasses.replace(pool, before_activation=False, minimum=minimum))
            continue
        consumers = net.consumers[pool.name]
        for consumer in consumers:  # every reader takes the flips (a fork: each of its matrix layers)
            if not isinstance(consumer, MatrixLayer) or consumer.input_bits != 1:
                raise UserError(f"layer {describe(pool)}: a max-pool before the activation must feed matrix layers only "
                                f"(it feeds {describe(consumer)}; put the BatchNorm and sign before the pool)")
        flip = np.asarray(producer.flip, bool)
        for consumer in consumers:
            assert isinstance(consumer, MatrixLayer)
            net = net.replace_layer(dataclasses.replace(consumer, weights=_take_flips(consumer, flip, producer, pool)))
        net = net.replace_layer(dataclasses.replace(producer, flip=np.zeros_like(flip)))
        net = net.replace_layer(dataclasses.replace(pool, before_activation=False))
    return validate(net)


def _take_flips(consumer: MatrixLayer, flip: np.ndarray, producer: MatrixLayer, pool: MaxPool) -> np.ndarray:
    """`consumer`'s weights with the columns reading a flipped channel negated."""
    # A conv's window columns are (ky, kx, c), a dense layer's flattened (h, w, c): the
    # channel of column j is j mod C either way.
    # A depthwise conv's row o reads channel o only: its whole row takes that flip.
    columns = flip[np.arange(consumer.fan_in) % pool.out_shape[2]]
    if isinstance(consumer, DepthwiseConv):
        columns = np.broadcast_to(flip[:, None], consumer.weights.shape)
    if consumer.weight_bits == 1:
        return consumer.weights ^ (columns if columns.ndim == 2 else columns[None, :])
    mask = np.broadcast_to(columns if columns.ndim == 2 else columns[None, :], consumer.weights.shape)
    if np.any(consumer.weights[mask] == -(2 ** (consumer.weight_bits - 1))):
        raise UserError(f"layer {describe(consumer)}: cannot negate its most negative {consumer.weight_bits}-bit "
                        f"weight to take the flips of {describe(producer)} past '{pool.name}'")
    return np.where(mask, -consumer.weights, consumer.weights).astype(np.int8)
