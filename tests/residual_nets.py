"""Hand-built residual networks (graph IR, no importer) for the hardware of forks, joins and
thresholds: a 3x3 conv on the main branch with an identity shortcut, and a 3x3 stride-2 conv
with a 1x1 stride-2 conv shortcut. Thresholds are random but folded (the reference runs them)."""
from __future__ import annotations

import numpy as np

from bnn2hls import ir
from bnn2hls.passes.padding import resolve_padding


def _conv(rng, name, src, in_shape, mh, k, stride, pad, in_bits, levels, w_bits=1, last=False):
    c = in_shape[2]
    fan_in = k * k * c
    if w_bits == 1:
        weights = rng.random((mh, fan_in)) < 0.5
    else:
        weights = rng.integers(-(2 ** (w_bits - 1)) + 1, 2 ** (w_bits - 1), (mh, fan_in)).astype(np.int8)
    spread = max(2, int(np.sqrt(fan_in)) * (2 ** max(0, in_bits - 1)))
    if last:
        thresholds, flip = None, None
    elif levels:
        thresholds = np.sort(rng.integers(-spread, spread, (mh, levels - 1)), axis=1)
        flip = rng.random(mh) < 0.3
    else:
        thresholds = rng.integers(-spread, spread, mh)
        flip = rng.random(mh) < 0.3
    if not last and in_bits == 1 and w_bits == 1 and thresholds is not None:
        thresholds = thresholds - (thresholds + fan_in) % 2  # dot products of +-1 have fan_in's parity
    return ir.Conv(name=name, in_shape=in_shape, out_channels=mh, kernel=(k, k), stride=(stride, stride),
               pads=(pad,) * 4, input_bits=in_bits, weights=weights, acc_scale=np.ones(mh, np.float32),
               binarize=not last, thresholds=thresholds, flip=flip, out_levels=0 if last else levels,
               out_offset=-2 if levels == 4 else (-1 if levels == 3 else 0), weight_bits=w_bits, inputs=(src,))


def residual_conv_net(shortcut: str = "identity", hw: int = 8, c: int = 4, seed: int = 0,
                      folding: dict[str, tuple[int, int]] | None = None) -> ir.Network:
    """input (4-bit, hw x hw x 3) -> conv0 3x3 (2-bit levels) -+-> conv1 3x3 [stride 2] (2-bit levels) -> add -> act (sign)
                                                               '--[conv_sc 1x1 stride 2 (2-bit levels)]--'
    -> conv2 3x3 (sign) -> dense (accumulators) -> head. `shortcut`: identity | conv."""
    rng = np.random.default_rng(seed)
    iq = ir.InputQuant(name="input", source_shape=(3, hw, hw), preprocess=(), bits=4, scale=1.0,
                       out_shape=(hw, hw, 3))
    conv0 = _conv(rng, "conv0", "input", (hw, hw, 3), c, 3, 1, 1, 4, 4)
    stride = 1 if shortcut == "identity" else 2
    conv1 = _conv(rng, "conv1", "conv0", (hw, hw, c), c, 3, stride, 1, 2, 4, w_bits=2)
    layers: list = [iq, conv0, conv1]
    if shortcut == "identity":
        short = "conv0"
    else:
        layers.append(_conv(rng, "conv_sc", "conv0", (hw, hw, c), c, 1, 2, 0, 2, 4))
        short = "conv_sc"
    oh = conv1.out_shape[0]
    join = ir.Join(name="add0", in_shape=conv1.out_shape, operand_scales=(1.0, 1.0), shifts=(0, 0),
                   inputs=("conv1", short))
    act = ir.Threshold(name="act0", in_shape=conv1.out_shape, thresholds=rng.integers(-3, 4, c),
                       flip=rng.random(c) < 0.3, inputs=("add0",))
    conv2 = _conv(rng, "conv2", "act0", (oh, oh, c), c, 3, 1, 1, 1, 0)
    dense = ir.Dense(name="dense", in_shape=(1, 1, oh * oh * c), out_channels=5, kernel=(1, 1), stride=(1, 1),
                     pads=(0, 0, 0, 0), input_bits=1, weights=rng.random((5, oh * oh * c)) < 0.5,
                     acc_scale=np.ones(5, np.float32), binarize=False, inputs=("conv2",))
    head = ir.OutputHead(name="head", in_shape=(1, 1, 5), acc_scale=np.ones(5, np.float32), chain=(), inputs=("dense",))
    net = ir.Network(f"residual_{shortcut}", (*layers, join, act, conv2, dense, head))
    net = resolve_padding(ir.validate(net))
    for name, (pe, simd) in (folding or {}).items():
        layer = net.layer(name)
        net = net.replace_layer(ir.Conv(**{**layer.__dict__, "pe": pe, "simd": simd}) if isinstance(layer, ir.Conv)
                                else ir.Dense(**{**layer.__dict__, "pe": pe, "simd": simd}))
    return ir.validate(net)


def random_input(net: ir.Network, frames: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-8, 8, (frames, *net.input_quant.source_shape)).astype(np.float32)
