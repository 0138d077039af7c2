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

A standalone activation (`Threshold`) is folded the same way. After a residual join the
source adds the two dequantized operands, fl32(fl32(a*sa) + fl32(b*sb)); that float sum is
evaluated for every reachable operand pair (a, b) and the outputs grouped by the integer sum
the hardware sees. Where two pairs with the same sum give different outputs (float rounding
of the add), no threshold on the sum can equal the source, and the pass refuses.
"""
import dataclasses
import math
from typing import Any

import numpy as np

from ..errors import UserError
from ..ir import Conv, Dense, DepthwiseConv, Join, MatrixLayer, MaxPool, Network, SumPool, Threshold, apply_chain, describe


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
        raise UserError(f"layer {describe(layer)}: the sign of channel {bad[0]} is not monotone in the accumulator; cannot fold it to a threshold")
    flip = falling > 0
    # The first accumulator value whose (possibly flipped) bit is 1; hi+1 if none.
    effective = bits ^ flip[None, :]
    any_one = effective.any(axis=0)
    first = np.where(any_one, lo + effective.argmax(axis=0), hi + 1)
    return first.astype(np.int64), flip


def levels_of(layer: MatrixLayer) -> tuple[np.ndarray, np.ndarray]:
    """The multi-threshold form of chain + quantizer: thresholds int64 [C, L-1], flip [C].

    As for the sign, the chain and the quantizer are evaluated exactly as the source does at
    every reachable accumulator; the level (q - zero_point - out_offset, in [0, L-1]) must be
    monotone in the accumulator. Level step i (1 <= i < L) is `level >= i`; it is
    `(acc >= T[o, i-1]) XOR flip[o]`, so level = sum_i ((acc >= T_i) ^ flip) as FINN's
    MultiThreshold counts (flip: the channel's levels fall as the accumulator grows)."""
    quant = layer.act_quant
    assert quant is not None
    lo, hi = layer.acc_range
    acc = np.arange(lo, hi + 1, dtype=np.int64)
    values = acc.astype(np.float32)[:, None] * layer.acc_scale[None, :]
    level = quant.quantize(apply_chain(layer.chain, values)) - layer.out_offset  # [range, C]
    steps = np.diff(level, axis=0)
    rising, falling = (steps > 0).any(axis=0), (steps < 0).any(axis=0)
    bad = np.nonzero(rising & falling)[0]
    if bad.size:
        raise UserError(f"layer {describe(layer)}: the quantized output of channel {bad[0]} is not monotone in the "
                        "accumulator; cannot fold it to thresholds")
    flip = np.asarray(falling)
    thresholds = np.empty((layer.out_channels, layer.out_levels - 1), np.int64)
    for i in range(1, layer.out_levels):
        effective = (level >= i) ^ flip[None, :]
        thresholds[:, i - 1] = np.where(effective.any(axis=0), lo + effective.argmax(axis=0), hi + 1)
    return thresholds, flip


def _values(net: Network, layer) -> np.ndarray:
    """The integers the value of `layer` takes (sign bits: -1 and +1 only)."""
    if net.is_bipolar(layer):
        return np.array([-1, 1], np.int64)
    lo, hi = net.value_range(layer)
    return np.arange(lo, hi + 1, dtype=np.int64)


def source_values(net: Network, layer: Threshold) -> tuple[np.ndarray, np.ndarray]:
    """(x int64 [M], v float32 [M]): every reachable integer input of the standalone activation
    (repeated where several operand pairs of a join give the same sum) and the source's float
    value there, before the chain. After a join: fl32(fl32(a*sa) + fl32(b*sb)) for every pair,
    as QONNX's Quant outputs and onnxruntime's Add compute it; after a sum pool, the source's
    float mean of every reachable sum (`SumPool.source_mean`; `tie_warnings` checks that its
    float sum is exact); otherwise the integer itself (the importer starts the chain with the
    scale)."""
    producer = net.producer(layer)
    if isinstance(producer, SumPool):
        x = _values(net, producer)
        return x, producer.source_mean(x)
    if not isinstance(producer, Join):
        x = _values(net, producer)
        return x, x.astype(np.float32)
    pa, pb = net.producers(producer)
    a, b = _values(net, pa), _values(net, pb)
    sa, sb = (np.float32(s) for s in producer.operand_scales)
    fa = (a.astype(np.float32) * sa).astype(np.float32)
    fb = (b.astype(np.float32) * sb).astype(np.float32)
    v = (fa[:, None] + fb[None, :]).astype(np.float32).reshape(-1)
    x = ((a[:, None] << producer.shifts[0]) + (b[None, :] << producer.shifts[1])).reshape(-1)
    return x, v


def threshold_node_of(net: Network, layer: Threshold) -> tuple[np.ndarray, np.ndarray]:
    """thresholds (int64 [C] for a sign, [C, L-1] for levels) and flip [C] of a standalone
    activation, read off the source's exact float evaluation at every reachable input. The
    thresholds are reachable inputs (or one past the largest): a join's sums need not be
    contiguous (two sign bits sum to -2, 0 or 2)."""
    x, v = source_values(net, layer)
    c = layer.out_channels
    y = apply_chain(layer.chain, np.broadcast_to(v[:, None], (len(v), c)))
    if layer.act_quant is None:
        level = (y >= 0).astype(np.int64)  # the sign as the levels 0 and 1
        steps = 1
    else:
        level = layer.act_quant.quantize(y) - layer.out_offset
        steps = layer.out_levels - 1
    keys, first, inverse = np.unique(x, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    by_key = level[first]  # [keys, C]
    rows, channels = np.nonzero(level != by_key[inverse])
    if rows.size:
        row, o = int(rows[0]), int(channels[0])
        other = int(first[inverse[row]])
        raise UserError(f"layer {describe(layer)}: the source's output of channel {o} at the integer input {int(x[row])} "
                        f"depends on how it is reached (float values {float(v[other])!r} and {float(v[row])!r}: "
                        "float rounding of the residual add); cannot fold it to thresholds (power-of-two operand "
                        "scales avoid this)")
    deltas = np.diff(by_key, axis=0)
    rising, falling = (deltas > 0).any(axis=0), (deltas < 0).any(axis=0)
    bad = np.nonzero(rising & falling)[0]
    if bad.size:
        raise UserError(f"layer {describe(layer)}: the {'sign' if layer.act_quant is None else 'quantized output'} of "
                        f"channel {bad[0]} is not monotone in its input; cannot fold it to thresholds")
    flip = np.asarray(falling)
    beyond = int(keys[-1]) + 1
    thresholds = np.empty((c, steps), np.int64)
    for i in range(1, steps + 1):
        effective = (by_key >= i) ^ flip[None, :]
        thresholds[:, i - 1] = np.where(effective.any(axis=0), keys[effective.argmax(axis=0)], beyond)
    return (thresholds[:, 0] if layer.act_quant is None else thresholds), flip


def fold_thresholds(net: Network) -> Network:
    layers = []
    for layer in net.layers:
        if isinstance(layer, MatrixLayer) and layer.binarize and layer.thresholds is None:
            thresholds, flip = levels_of(layer) if layer.act_quant is not None else threshold_of(layer)
            layer = dataclasses.replace(layer, chain=(), thresholds=thresholds, flip=flip, act_quant=None)
        elif isinstance(layer, Threshold) and layer.thresholds is None:
            # `net` (not the layers folded so far): the producers' value ranges read the raw IR
            thresholds, flip = threshold_node_of(net, layer)
            layer = dataclasses.replace(layer, chain=(), thresholds=thresholds, flip=flip, act_quant=None)
        layers.append(layer)
    return dataclasses.replace(net, layers=tuple(layers))


# ---------------------------------------------------------------------------------------
# Float ties: thresholds that the source's own rounding decides
# ---------------------------------------------------------------------------------------
_FLOAT32_MANTISSA = 24


def _significant_bits(value: float) -> int:
    """Bits from the leading to the trailing 1 of a float32's significand (1 for powers of two)."""
    mantissa, _ = np.frexp(np.float32(value))
    m = int(np.float64(mantissa) * (1 << _FLOAT32_MANTISSA))
    return max(1, m.bit_length() - ((m & -m).bit_length() - 1)) if m else 1


def float_ties(layer: MatrixLayer, input_scale: float | None, input_error: float = 0.0) -> list[tuple[int, int]]:
    """(channel, accumulator) pairs at which the source's sign is decided by float rounding,
    over the layer's whole `acc_range` (`reachable_accumulators` tells which of them the
    model's inputs can reach).

    The source computes the accumulator as a float32 sum of products (input value x weight
    value) in an order we do not know (onnxruntime's kernels block and vectorize). Where
    every product and partial sum is exact -- the scales' significands are short enough --
    that sum equals `acc * acc_scale` exactly and our thresholds are exact. Otherwise the
    sum can be off by up to about fan_in^2 * peak * 2^-24 accumulator units (the standard
    bound for recursive summation), and an integer accumulator whose exact value sits that
    close to the sign's step is decided by the source's rounding: with a weight scale of 0.1
    and no BatchNorm the sum at accumulator 0 is +-1e-8, and its sign depends on the order.
    No compiler can match that; we keep the +1 convention and report the pairs.

    `input_scale` is the scale of a multi-bit input (its products q x scale x weight round
    twice; None: unknown, taken as inexact); binary inputs times binary weights are
    +-acc_scale exactly. `input_error`: how far (in input units) the source's own value of an
    input element may be from the integer the datapath carries (a pooled mean, `pool_error`).
    """
    lo, hi = layer.acc_range
    peak = max(-lo, hi) // layer.fan_in
    sum_bits = int(layer.fan_in * peak).bit_length()
    delta = layer.fan_in * (layer.fan_in + 2) * peak * 2.0**-_FLOAT32_MANTISSA
    w_peak = 1 if layer.weight_bits == 1 else 2 ** (layer.weight_bits - 1)
    delta += layer.fan_in * w_peak * input_error
    acc = np.arange(lo, hi + 1, dtype=np.int64)
    ties = []
    for o in range(layer.out_channels):
        if layer.input_bits == 1 and layer.weight_bits == 1:
            product_bits = _significant_bits(float(layer.acc_scale[o]))
        elif input_scale is None:
            product_bits = _FLOAT32_MANTISSA
        else:
            weight_scale = np.float32(np.float64(layer.acc_scale[o]) / input_scale)
            product_bits = _significant_bits(input_scale) + _significant_bits(float(weight_scale))
        if product_bits + sum_bits <= _FLOAT32_MANTISSA and not input_error:
            continue  # every product and partial sum is exact
        chain = tuple(_channel_op(op, o) for op in layer.chain)
        scale = np.float64(layer.acc_scale[o])
        below = _decision(layer, apply_chain_f64(chain, (acc - delta) * scale))
        above = _decision(layer, apply_chain_f64(chain, (acc + delta) * scale))
        ties += [(o, int(a)) for a in acc[below != above]]
    return ties


def _decision(layer: MatrixLayer, y: np.ndarray) -> np.ndarray:
    """What the source decides from the chain's value: the sign, or the quantizer's level."""
    if layer.act_quant is None:
        return y >= 0
    return layer.act_quant.quantize(y, np.float64)


def _channel_op(op, o: int):
    params = {k: np.asarray(v, np.float64).reshape(-1)[o if np.size(v) > 1 else 0] for k, v in op.params.items()}
    return dataclasses.replace(op, params=params)


def apply_chain_f64(chain, x: np.ndarray) -> np.ndarray:
    """The chain in float64: the exact real value, to well within float32's rounding."""
    for op in chain:
        x = op.apply(np.asarray(x, np.float64))
    return x


def pool_error(net: Network, pool: SumPool) -> float:
    """How far (in units of the sum) the source's float32 sum of the pooled elements may be
    from the exact integer sum: 0 where every partial sum is exact (the input scale's
    significand plus the sum's bits fit float32's 24), else the recursive-summation bound."""
    lo, hi = net.value_range(net.producer(pool))
    peak = max(-lo, hi, 1)
    n = pool.divisor
    if _significant_bits(pool.input_scale) + int(n * peak).bit_length() <= _FLOAT32_MANTISSA:
        return 0.0
    return (n + 1) * n * peak * 2.0**-_FLOAT32_MANTISSA


def pool_ties(net: Network, layer: Threshold, pool: SumPool) -> list[tuple[int, int]]:
    """(channel, sum) pairs at which the source's decision after a pooled mean is decided by
    the rounding of its float sum (empty where the sum is exact: `SumPool.source_mean` is then
    the source's value bit for bit)."""
    error = pool_error(net, pool)
    if not error:
        return []
    lo, hi = net.value_range(pool)
    sums = np.arange(lo, hi + 1, dtype=np.int64)
    scale = np.float64(pool.input_scale) / pool.divisor
    decide = (lambda y: y >= 0) if layer.act_quant is None else (lambda y: layer.act_quant.quantize(y, np.float64))
    ties = []
    for o in range(layer.out_channels):
        chain = tuple(_channel_op(op, o) for op in layer.chain)
        below = decide(apply_chain_f64(chain, (sums - error) * scale))
        above = decide(apply_chain_f64(chain, (sums + error) * scale))
        ties += [(o, int(v)) for v in sums[below != above]]
    return ties


def _input_scale(net: Network, layer: Conv | DepthwiseConv | Dense) -> tuple[float | None, float]:
    """(the scale of the integers entering `layer` where known exactly, the source's error on
    them in input units): see `float_ties`."""
    source = net.producers(layer)[0]
    while isinstance(source, MaxPool):
        source = net.producer(source)  # a max-pool passes its input's values on
    if source is net.input_quant:
        return net.input_quant.scale, 0.0
    if isinstance(source, SumPool):
        return None, pool_error(net, source) + 2.0**-_FLOAT32_MANTISSA * max(map(abs, net.value_range(source)))
    quant = getattr(source, "act_quant", None)
    return (quant.scale if quant is not None else None), 0.0


def reachable_accumulators(net: Network, layer: Conv | DepthwiseConv | Dense) -> list[tuple[int, int, int, tuple[int, ...]]]:
    """Per output channel (lo, hi, modulus, residues): every accumulator the model's inputs can
    give lies in [lo, hi] and is congruent to one of `residues` modulo `modulus`. What it
    proves: the extremes of sum_j w_j x_j over the producer's value range (a zero-padded tap
    reads 0), and that every term w_j x_j is a multiple of g = gcd(w). For +-1 inputs
    acc = sum(w) - 2 * (the weights of the -1 inputs), so acc = sum(w) mod 2g, with the sum
    over the taps inside the image at each output position (a zero pad drops the others): a
    binary dot product of n +-1 terms takes only values of n's parity."""
    producer = net.producers(layer)[0]
    bipolar = net.is_bipolar(producer)
    a, b = (-1, 1) if bipolar else net.value_range(producer)
    zero_pads = any(layer.pads) and layer.pad_mode == "zero"
    if zero_pads:
        a, b = min(a, 0), max(b, 0)
    masks = _tap_masks(layer) if zero_pads else [np.ones(layer.fan_in, bool)]
    out: list[tuple[int, int, int, tuple[int, ...]]] = []
    for w in layer.weight_values:
        lo = int(np.minimum(w * a, w * b).sum())
        hi = int(np.maximum(w * a, w * b).sum())
        g = math.gcd(*(int(v) for v in np.abs(w)))
        if g == 0:
            out.append((0, 0, 1, (0,)))
        elif bipolar:
            out.append((lo, hi, 2 * g, tuple(sorted({int(w[m].sum()) % (2 * g) for m in masks}))))
        else:
            out.append((lo, hi, g, (0,)))
    return out


def _tap_masks(layer: Conv | DepthwiseConv | Dense) -> list[np.ndarray]:
    """The distinct sets of taps (bool [fan_in], columns (ky, kx[, c])) that fall inside the
    image at some output position of a padded conv."""
    h, w, c = layer.in_shape
    t, left, _, _ = layer.pads
    (kh, kw), (sh, sw) = layer.kernel, layer.stride
    oh, ow = layer.out_hw
    rows = {tuple(0 <= oy * sh - t + ky < h for ky in range(kh)) for oy in range(oh)}
    cols = {tuple(0 <= ox * sw - left + kx < w for kx in range(kw)) for ox in range(ow)}
    per_tap = 1 if isinstance(layer, DepthwiseConv) else c
    return [np.repeat(np.logical_and.outer(r, q).reshape(-1), per_tap) for r in sorted(rows) for q in sorted(cols)]


def _pool_sums(net: Network, pool: SumPool) -> tuple[int, int]:
    """(modulus, residue) of a sum pool's reachable sums: n sign bits (+-1) sum to n's parity."""
    if net.is_bipolar(net.producer(pool)):
        return 2, pool.divisor % 2
    return 1, 0


def tie_report(net: Network) -> list[dict[str, Any]]:
    """Per binarizing layer of the raw IR that has float ties (`float_ties`, `pool_ties`), a
    JSON-able entry: the layer, its source (ONNX node, torch module), how many (channel,
    value) ties the model's inputs can reach (`values`, in `channels` channels; `first`
    of them) and how many are proven out of reach (`unreachable`: outside the reachable
    accumulators, or of the wrong parity; see `reachable_accumulators`), `reachable`
    whether any is left. Activations after a join have none: the source's join is an
    elementwise add, evaluated exactly as the source does for every operand pair
    (`threshold_node_of`), not a sum in an unknown order."""
    entries = []
    for layer in net.datapath:
        if isinstance(layer, Threshold) and layer.thresholds is None and isinstance(net.producer(layer), SumPool):
            pool = net.producer(layer)
            assert isinstance(pool, SumPool)
            found = pool_ties(net, layer, pool)
            modulus, residue = _pool_sums(net, pool)
            reach = [(o, v) for o, v in found if v % modulus == residue]
            kind, after = "pooled sum", pool.name
        elif isinstance(layer, (Conv, DepthwiseConv, Dense)) and layer.binarize and layer.thresholds is None:
            scale, error = _input_scale(net, layer)
            found = float_ties(layer, scale, error)
            bounds = reachable_accumulators(net, layer) if found else []
            reach = [(o, a) for o, a in found
                     if bounds[o][0] <= a <= bounds[o][1] and a % bounds[o][2] in bounds[o][3]]
            kind, after = "accumulator", None
        else:
            continue
        if not found:
            continue
        entry: dict[str, Any] = {
            "layer": layer.name, "source": [list(s) for s in layer.source], "kind": kind,
            "channels": len({o for o, _ in reach}), "values": len(reach), "unreachable": len(found) - len(reach),
            "reachable": bool(reach), "first": {"channel": reach[0][0], "value": reach[0][1]} if reach else None}
        if after is not None:
            entry["after"] = after
        entries.append(entry)
    return entries


def tie_summary(net: Network, entries: list[dict[str, Any]]) -> str | None:
    """The one warning line for the reachable ties of `tie_report` (None: there are none)."""
    reachable = [e for e in entries if e["reachable"]]
    if not reachable:
        return None
    worst = max(reachable, key=lambda e: (e["values"], e["channels"]))
    total = sum(e["values"] for e in reachable)
    what = "sum(s) of its average pool" if worst["kind"] == "pooled sum" else "accumulator value(s)"
    first = worst["first"]
    return (f"float ties in {len(reachable)} layer(s), {total:,} reachable value(s) in all: the source's float rounding "
            f"decides the output there and bnn2hls takes the exact value (a tie goes up), the source may not; worst: "
            f"layer {describe(net.layer(worst['layer']))}, {worst['values']:,} {what} in {worst['channels']} "
            f"channel(s) (first: channel {first['channel']}, value {first['value']}); each layer in report.json "
            "\"ties\" (power-of-two scales avoid this)")


def tie_warnings(net: Network) -> tuple[str, ...]:
    """The compile warnings about float ties: at most one line (`tie_summary`)."""
    line = tie_summary(net, tie_report(net))
    return () if line is None else (line,)
