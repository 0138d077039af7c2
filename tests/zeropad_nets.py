"""Bi-Real / double-residual blocks as their papers' PyTorch code writes them: the sign of the
block's multi-bit residual stream, a binary 3x3 conv with ordinary zero padding (`padding=1`),
BatchNorm, a multi-bit quantizer (`QuantIdentity` signed or `QuantReLU` unsigned, 2 to 4 bits)
and the add of a quantized shortcut. The zero-padded binary conv's border classes then need
multi-level thresholds (one column of L-1 per class), which is what these nets test.

`BiRealNet` is a stem and one or two such blocks with a flatten (or GAP) head; the options pick
the block's conv (dense or depthwise, stride 1 or 2, square or not) and the quantizers.
`bireal_resnet20` is a ResNet-20-shaped network of these blocks (3x32x32, 16/32/64 channels,
GAP head)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .brevitas_nets import Case, _const_act, calibrate_activations


def _fixed(bits: int, signed: bool):
    """A learned power-of-two-scale quantizer (fixed point): QuantIdentity, or QuantReLU
    unsigned. Operands of two of them differ in scale by a power of two, so their add is an
    integer add with a shift."""
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFixedPoint, Uint8ActPerTensorFixedPoint

    if signed:
        return qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=bits)
    return qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=bits)


def _quant(bits: int, signed: bool, const: bool):
    """`_fixed`, or (`const`) BNN-PYNQ's constant-scale quantizer (scale 1.0 for 2 bits: levels
    -1, 0, +1; no calibration needed, one scale everywhere, so every add is a plain integer add)."""
    return _const_act(bits, False) if const else _fixed(bits, signed)


def _bin_conv(cin: int, cout: int, kernel, stride=1, padding=0, groups: int = 1):
    import brevitas.nn as qnn
    from brevitas_examples.bnn_pynq.models.common import CommonWeightQuant

    return qnn.QuantConv2d(cin, cout, kernel, stride=stride, padding=padding, groups=groups, bias=False,
                           weight_quant=CommonWeightQuant, weight_bit_width=1)


@dataclass(frozen=True)
class Spec:
    bits: int = 2  # the block's quantizers
    signed: bool = True  # the quantizer after the binary conv's BatchNorm: QuantIdentity or QuantReLU
    depthwise: bool = False  # the binary conv has groups = channels
    stride: int = 1
    kernel: tuple[int, int] = (3, 3)
    channels: int = 4
    size: int = 6
    residual: bool = True
    blocks: int = 1
    const: bool = False  # constant-scale quantizers (signed) instead of learned fixed-point ones

    @property
    def padding(self) -> tuple[int, int]:
        return self.kernel[0] // 2, self.kernel[1] // 2

    def describe(self) -> str:
        conv = "dw" if self.depthwise else "conv"
        return (f"{conv}{self.kernel[0]}x{self.kernel[1]}-s{self.stride}-{self.bits}b-{'s' if self.signed else 'u'}"
                + ("-res" if self.residual else "") + (f"-x{self.blocks}" if self.blocks > 1 else ""))


class BiRealBlock(nn.Module):
    """x (the quantized residual stream) -> sign -> binary conv, zero-padded -> BN -> q_main,
    plus the shortcut: x itself, or (stride 2) sign -> 1x1 stride-2 binary conv -> BN -> q_main
    (one shared quantizer instance, so both have its scale); then the sum's own quantizer
    `out` (signed, the next block's stream)."""

    def __init__(self, spec: Spec, cin: int, cout: int, stride: int):
        super().__init__()
        self.sign = _const_act(1, False)
        groups = cin if spec.depthwise and cin == cout else 1
        self.conv = _bin_conv(cin, cout, spec.kernel, stride, spec.padding, groups)
        self.bn = nn.BatchNorm2d(cout)
        self.q = _quant(spec.bits, spec.signed, spec.const)
        self.residual = spec.residual
        self.down: nn.Module | None = None
        if spec.residual and (stride != 1 or cin != cout):
            self.down = nn.Sequential(_bin_conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))
        self.out = _quant(spec.bits, True, spec.const)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.sign(x)
        y = self.q(self.bn(self.conv(b)))
        if not self.residual:
            return y
        s = x if self.down is None else self.q(self.down(b))
        return self.out(y + s)


class BiRealNet(nn.Module):
    """8-bit input -> 3x3 stem conv (binary weights, zero-padded multi-bit input) -> BN -> a
    signed quantizer (the residual stream) -> `blocks` Bi-Real blocks -> flatten -> binary
    classifier."""

    def __init__(self, spec: Spec, classes: int = 5):
        super().__init__()
        from bnn2hls.models.zoo import _input_quant_8bit

        c = spec.channels
        self.inp = _input_quant_8bit()
        self.stem = _bin_conv(3, c, 3, 1, 1)
        self.stem_bn = nn.BatchNorm2d(c)
        self.stem_q = _fixed(spec.bits, True)
        self.blocks = nn.Sequential(*(BiRealBlock(spec, c, c, spec.stride if i == 0 else 1) for i in range(spec.blocks)))
        oh = (spec.size + 2 * spec.padding[0] - spec.kernel[0]) // spec.stride + 1
        ow = (spec.size + 2 * spec.padding[1] - spec.kernel[1]) // spec.stride + 1
        from bnn2hls.models.zoo import _linear

        self.fc = _linear(c * oh * ow, classes, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_q(self.stem_bn(self.stem(self.inp(x))))
        return self.fc(torch.flatten(self.blocks(x), 1))


def bireal_case(spec: Spec, seed: int = 0) -> Case:
    """The net, BatchNorm randomized (gammas of both signs), quantizer scales calibrated."""
    from bnn2hls.models import zoo

    torch.manual_seed(seed)
    module = BiRealNet(spec)
    zoo.randomize_batchnorm(module, seed)
    calibrate_activations(module, (3, spec.size, spec.size), seed, batches=4)
    return Case(None, module, torch.zeros(1, 3, spec.size, spec.size), f"bi-real {spec.describe()}")


class BiRealResNet20(nn.Module):
    """ResNet-20's shape with Bi-Real blocks (Liu et al.: a shortcut around every binary conv):
    3x32x32, a 3x3 stem (16 channels), three stages of 6 binary 3x3 convs (16, 32, 64 channels;
    the first conv of stages 2 and 3 strides 2, its shortcut a 1x1 stride-2 binary conv),
    every conv zero-padded and followed by BatchNorm and a 2-bit quantizer added to the
    quantized stream (BNN-PYNQ's constant-scale quantizers: levels -1, 0, +1), a global
    average pool and a binary classifier."""

    def __init__(self, bits: int = 2, widths: tuple[int, int, int] = (16, 32, 64), per_stage: int = 6,
                 classes: int = 10):
        super().__init__()
        from bnn2hls.models.zoo import _input_quant_8bit, _linear

        self.inp = _input_quant_8bit()
        self.stem = _bin_conv(3, widths[0], 3, 1, 1)
        self.stem_bn = nn.BatchNorm2d(widths[0])
        self.stem_q = _quant(bits, True, const=True)
        blocks = []
        cin = widths[0]
        spec = Spec(bits=bits, signed=True, const=True)
        for stage, cout in enumerate(widths):
            for i in range(per_stage):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BiRealBlock(spec, cin, cout, stride))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = _linear(cin, classes, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_q(self.stem_bn(self.stem(self.inp(x))))
        x = self.blocks(x)
        return self.fc(torch.flatten(self.pool(x), 1))


def bireal_resnet20_case(seed: int = 0, per_stage: int = 6) -> Case:
    from bnn2hls.models import zoo

    torch.manual_seed(seed)
    module = BiRealResNet20(per_stage=per_stage)
    zoo.randomize_batchnorm(module, seed)
    module.eval()
    return Case(None, module, torch.zeros(1, 3, 32, 32), f"bi-real resnet-20 ({per_stage} convs per stage)")
