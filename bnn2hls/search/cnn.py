"""The cnn family of the search: XNOR-Net / BNN-PYNQ-style binary convnets for 28x28 MNIST
(and the 8x8 digits).

A cnn candidate is (dataset, depth, width, residual, input_bits). Its layers follow one fixed
rule (`layer_plan`):

- **convs**: `depth` binary 3x3 convolutions, stride 1, "same" padding (the map keeps its
  size), all `width` channels. A conv on sign bits is padded with the hardware's own border
  pattern (`bnn2hls.models.nn.AlternatingPad2d`: +1/-1, so no border correction is needed); the
  first conv on an 8-bit input is zero-padded (0 is a value of the 8-bit input). Each conv
  is followed by BatchNorm and a sign.
- **pooling**: a 2x2 max-pool (stride 2) after every second conv and after the last one, as
  long as the map is at least `POOL_MIN` (8) pixels wide: on 28x28, 28 -> 14 -> 7 and no pool
  after that; on 8x8, one pool to 4x4.
- **classifier**: flatten, one binary dense layer to the 10 classes and a BatchNorm1d (as the
  mlp family; BNN-PYNQ's TensorNorm), whose raw accumulators are the output.
- **input**: binary (`input_bits` 1: the sign of 2x - 1, as the mlp family) or 8-bit
  (`input_bits` 8: 2x - 1 quantized to 8 bits with scale 2^-7, as `zoo.padnet`).
- **residual** (de Putter & Corporaal's "double residual", Bi-Real Net's shortcut around
  every binary conv): every conv whose input has its output's shape (convs 2..depth; the
  first one changes the channel count) gets a shortcut. The conv's BatchNorm output goes
  through a 2-bit quantizer with the constant scale 1 (levels -1, 0, +1), and the same
  quantizer instance is applied to the block input (sign bits, which it leaves unchanged), so
  both operands of the add share one scale and the add is an exact integer add (sums -2..2);
  a BatchNorm and a sign follow the add:

      y = Q(BN1(conv(x)));  out = sign(BN2(y + Q(x)))

  In the compiled IR that is a conv with a 3-level (2-bit) output, an `ir.Join` of it and the
  block input (a fork), and an `ir.Threshold` (the sign after BN2).

The widths are binary-searched on `CONV_WIDTHS` (8 ... 128 channels, 9 rungs: at most 4
predictions per depth), as the mlp family searches its width ladder.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .. import ir

KERNEL = 3
POOL = 2
POOL_MIN = 8  # pool only while the map is at least this wide (28 -> 14 -> 7)
# Channel ladder: about sqrt(2) apart (x1.5, x1.33), every rung a multiple of 4 so PE foldings
# of 2 and 4 always divide, powers of two most. 9 rungs: a binary search needs at most 4 probes.
CONV_WIDTHS: tuple[int, ...] = (8, 12, 16, 24, 32, 48, 64, 96, 128)
INPUT_BITS = (1, 8)
RESIDUAL_LEVELS = 3  # the residual quantizer: 2 bits, levels -1, 0, +1 (scale 1)
MAX_DEPTH = 8  # 28x28 maps: deeper stacks of full-resolution convs do not train in minutes on a CPU


@dataclasses.dataclass(frozen=True)
class Op:
    """One step of the rule: a conv (with or without a shortcut) or a max-pool, on an
    (H, W) map."""

    kind: str  # "conv" | "pool"
    hw: tuple[int, int]  # input map
    shortcut: bool = False


def layer_plan(depth: int, hw: tuple[int, int], residual: bool) -> list[Op]:
    """The convs and pools of a depth-`depth` candidate on an `hw` input (see the module
    docstring); the classifier follows."""
    ops: list[Op] = []
    h, w = hw
    for i in range(1, depth + 1):
        ops.append(Op("conv", (h, w), shortcut=residual and i >= 2))
        if (i % 2 == 0 or i == depth) and min(h, w) >= POOL_MIN:
            ops.append(Op("pool", (h, w)))
            h, w = h // POOL, w // POOL
    return ops


def out_hw(depth: int, hw: tuple[int, int]) -> tuple[int, int]:
    h, w = hw
    for op in layer_plan(depth, hw, False):
        if op.kind == "pool":
            h, w = h // POOL, w // POOL
    return h, w


def shortcuts(depth: int, residual: bool) -> int:
    return max(depth - 1, 0) if residual else 0


def topology(depth: int, width: int, hw: tuple[int, int], residual: bool, classes: int) -> str:
    """e.g. "c16-c16r-mp-c16r-mp-fc10" (r: with a shortcut)."""
    parts = [("mp" if op.kind == "pool" else f"c{width}{'r' if op.shortcut else ''}")
             for op in layer_plan(depth, hw, residual)]
    return "-".join([*parts, f"fc{classes}"])


# ---------------------------------------------------------------------------------------
# Predicted IR (no torch)
# ---------------------------------------------------------------------------------------
def input_quant(source_shape: tuple[int, int, int], bits: int) -> ir.InputQuant:
    """The compiled model's input step: 2x - 1, then a sign (1 bit) or 8 bits with scale 2^-7."""
    c, h, w = source_shape
    preprocess = (("affine", ir.AffineOp("mul", {"c": np.array(2.0, np.float32)})),
                  ("affine", ir.AffineOp("sub", {"c": np.array(1.0, np.float32)})))
    if bits == 1:
        return ir.InputQuant(name="input", source_shape=source_shape, preprocess=preprocess, bits=1, scale=1.0,
                             out_shape=(h, w, c))
    return ir.InputQuant(name="input", source_shape=source_shape, preprocess=preprocess, bits=bits,
                         scale=2.0 ** -(bits - 1), out_shape=(h, w, c))


def predicted_network(name: str, source_shape: tuple[int, int, int], classes: int, depth: int, width: int,
                      residual: bool, input_bits: int, seed: int = 0) -> ir.Network:
    """The compiled IR of a cnn candidate with random contents and PE = SIMD = 1: the nodes,
    shapes, element bits, edges and names (the importer's: conv0.., maxpool0.., add0..,
    act0.., dense0; a folding is applied by matrix-layer name) `compiler.build_network` gives
    the trained model."""
    from ..models.synthetic import _thresholds

    rng = np.random.default_rng(seed)
    iq = input_quant(source_shape, input_bits)
    nodes: list[Any] = [iq]
    prev, shape, bits = iq.name, iq.out_shape, iq.stream_bits
    count = {"conv": 0, "maxpool": 0, "add": 0, "act": 0}

    def node_name(kind: str) -> str:
        count[kind] += 1
        return f"{kind}{count[kind] - 1}"

    def conv(in_shape: tuple[int, int, int], in_bits: int, levels: int, src: str) -> ir.Conv:
        fan_in = KERNEL * KERNEL * in_shape[2]
        zero = in_bits > 1  # the 8-bit input is zero-padded, sign bits get the border pattern
        layer = ir.Conv(name=node_name("conv"), in_shape=in_shape, out_channels=width, kernel=(KERNEL, KERNEL), stride=(1, 1),
                        pads=(1, 1, 1, 1), input_bits=in_bits, weights=rng.random((width, fan_in)) < 0.5,
                        acc_scale=np.ones(width, np.float32), binarize=True, pad_mode="zero" if zero else "alternating",
                        thresholds=_thresholds(rng, width, fan_in, in_bits, levels=levels),
                        flip=rng.random(width) < 0.3, out_levels=levels, out_offset=-(levels // 2) if levels else 0,
                        inputs=(src,))
        return layer

    for op in layer_plan(depth, source_shape[1:], residual):
        if op.kind == "pool":
            pool = ir.MaxPool(name=node_name("maxpool"), in_shape=shape, kernel=(POOL, POOL), stride=(POOL, POOL),
                              inputs=(prev,))
            nodes.append(pool)
            prev, shape = pool.name, pool.out_shape
            continue
        if not op.shortcut:
            layer = conv(shape, bits, 0, prev)
            nodes.append(layer)
            prev, shape, bits = layer.name, layer.out_shape, 1
            continue
        layer = conv(shape, bits, RESIDUAL_LEVELS, prev)
        join = ir.Join(name=node_name("add"), in_shape=layer.out_shape, operand_scales=(1.0, 1.0), inputs=(layer.name, prev))
        # the sum is -2..2: a sign threshold at a reachable sum
        act = ir.Threshold(name=node_name("act"), in_shape=layer.out_shape, thresholds=rng.integers(-2, 3, width),
                           flip=rng.random(width) < 0.3, inputs=(join.name,))
        nodes += [layer, join, act]
        prev, shape, bits = act.name, act.out_shape, 1
    fan_in = int(np.prod(shape))
    fc = ir.Dense(name="dense0", in_shape=(1, 1, fan_in), out_channels=classes, kernel=(1, 1), stride=(1, 1),
                  pads=(0, 0, 0, 0), input_bits=bits, weights=rng.random((classes, fan_in)) < 0.5,
                  acc_scale=np.ones(classes, np.float32), binarize=False, inputs=(prev,))
    head = ir.OutputHead(name="head", in_shape=fc.out_shape, acc_scale=np.ones(classes, np.float32), chain=(),
                         inputs=(fc.name,))
    return ir.validate(ir.Network(name=name, layers=(*nodes, fc, head)))


# ---------------------------------------------------------------------------------------
# Torch model
# ---------------------------------------------------------------------------------------
def _residual_quant():
    """The shared residual quantizer: 2 bits, constant scale 1 (levels -1, 0, +1)."""
    from brevitas.nn import QuantIdentity
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant

    return QuantIdentity(act_quant=CommonActQuant, bit_width=2, min_val=-1.0, max_val=1.0)


def build_model(source_shape: tuple[int, int, int], classes: int, depth: int, width: int, residual: bool,
                input_bits: int):
    """The Brevitas model of a cnn candidate (train mode, initialised from torch's global RNG)."""
    from torch import nn

    from ..models.nn import AlternatingPad2d
    from ..models.zoo import _binary_act, _conv, _input_quant_8bit, _linear, _Sequential

    class Block(nn.Module):
        """conv -> BN -> sign, or with the shortcut: sign(BN2(Q(BN1(conv(x))) + Q(x)))."""

        def __init__(self, cin: int, shortcut: bool, binary_in: bool):
            super().__init__()
            self.pad = AlternatingPad2d(1) if binary_in else nn.Identity()
            self.conv = _conv(cin, width, KERNEL, padding=0 if binary_in else 1)
            self.bn = nn.BatchNorm2d(width)
            self.shortcut = shortcut
            if shortcut:
                self.q = _residual_quant()
                self.bn_sum = nn.BatchNorm2d(width)
            self.act = _binary_act()

        def forward(self, x):
            y = self.bn(self.conv(self.pad(x)))
            if self.shortcut:
                y = self.bn_sum(self.q(y) + self.q(x))
            return self.act(y)

    c, h, w = source_shape
    layers: list = [_binary_act() if input_bits == 1 else _input_quant_8bit()]
    cin, hw, binary_in = c, (h, w), input_bits == 1
    for op in layer_plan(depth, (h, w), residual):
        if op.kind == "pool":
            layers.append(nn.MaxPool2d(POOL))
            hw = (hw[0] // POOL, hw[1] // POOL)
            continue
        layers.append(Block(cin, op.shortcut, binary_in))
        cin, binary_in = width, True
    fan_in = cin * hw[0] * hw[1]
    layers += [nn.Flatten(), _linear(fan_in, classes), nn.BatchNorm1d(classes)]
    return _Sequential(*layers)


__all__ = ["CONV_WIDTHS", "INPUT_BITS", "POOL_MIN", "Op", "layer_plan", "out_hw", "topology", "shortcuts",
           "predicted_network", "build_model"]
