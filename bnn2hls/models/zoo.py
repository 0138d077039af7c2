"""Reference networks for tests, benchmarks and the demo: the Brevitas BNN-PYNQ topologies
with randomized BatchNorm statistics, and small convnets that exercise padding, strides, odd
channel counts, per-channel weight scales, biases and the FBNA pad pattern.

Randomized statistics matter: a freshly built Brevitas model has gamma=1, beta=0, mean=0,
var=1, whose thresholds are all 0 and would hide threshold and sign-flip bugs.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .nn import AlternatingPad2d

BNN_PYNQ = {"TFC_1W1A": (1, 28, 28), "SFC_1W1A": (1, 28, 28), "LFC_1W1A": (1, 28, 28), "CNV_1W1A": (3, 32, 32)}
# BNN-PYNQ's own CNV folding, (PE, SIMD) per matrix layer in network order
CNV_BNN_PYNQ_FOLDING = ((16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1))


def bnn_pynq_folding(net) -> dict:
    """CNV_1W1A's BNN-PYNQ folding as a `--folding` spec for `net` (a compiled CNV IR)."""
    return {"layers": {layer.name: {"pe": pe, "simd": simd}
                       for layer, (pe, simd) in zip(net.matrix_layers, CNV_BNN_PYNQ_FOLDING, strict=True)}}


def randomize_batchnorm(module: nn.Module, seed: int) -> nn.Module:
    """Give every BatchNorm/TensorNorm statistics on the scale of its input (about sqrt(fan-in)),
    gammas of both signs, and offsets that put thresholds at non-trivial integers."""
    gen = torch.Generator().manual_seed(seed)
    prev_fan_in = 1
    m: Any  # a BatchNorm or Brevitas' TensorNorm below: both have these buffers and parameters
    with torch.no_grad():
        for m in module.modules():
            weight = getattr(m, "weight", None)
            if weight is not None and weight.dim() >= 2:
                prev_fan_in = weight[0].numel()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) or type(m).__name__ == "TensorNorm":
                n = m.running_mean.numel()
                spread = float(prev_fan_in) ** 0.5
                m.running_mean.copy_(torch.randn(n, generator=gen) * spread * 0.5)
                m.running_var.copy_(torch.rand(n, generator=gen) * spread**2 + 0.1)
                sign = torch.where(torch.rand(n, generator=gen) < 0.3, -1.0, 1.0)
                m.weight.copy_(sign * (torch.rand(n, generator=gen) + 0.2))
                m.bias.copy_(torch.randn(n, generator=gen) * 0.5)
    return module


def bnn_pynq(name: str, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(seed)
    model, _ = model_with_cfg(name, pretrained=False)
    randomize_batchnorm(model, seed)
    return model.eval(), torch.zeros(1, *{**BNN_PYNQ, **BNN_PYNQ_MULTIBIT}[name])


# ---------------------------------------------------------------------------------------
# Small convnets
# ---------------------------------------------------------------------------------------
def _binary_act():
    from brevitas.nn import QuantIdentity
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant

    return QuantIdentity(act_quant=CommonActQuant, bit_width=1)


def _conv(cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, per_channel_scale: bool = False, bias: bool = False):
    from brevitas.core.scaling import ScalingImplType
    from brevitas.nn import QuantConv2d
    from brevitas_examples.bnn_pynq.models.common import CommonWeightQuant

    quant = CommonWeightQuant
    if per_channel_scale:  # XNOR-Net-style gains: mean |w| per output channel
        quant = CommonWeightQuant.let(scaling_impl_type=ScalingImplType.STATS, scaling_per_output_channel=True,
                                      scaling_stats_op="AVE")
    return QuantConv2d(cin, cout, k, stride=stride, padding=padding, bias=bias, weight_quant=quant, weight_bit_width=1)


def _linear(fin: int, fout: int, bias: bool = False):
    from brevitas.nn import QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonWeightQuant

    return QuantLinear(fin, fout, bias=bias, weight_quant=CommonWeightQuant, weight_bit_width=1)


class _Sequential(nn.Module):
    def __init__(self, *layers: nn.Module, preprocess: bool = True):
        super().__init__()
        self.body = nn.Sequential(*layers)
        self.preprocess = preprocess

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preprocess:
            x = 2.0 * x - 1.0  # [0, 1] pixels -> [-1, 1], as BNN-PYNQ does
        return self.body(x)


def _input_quant_8bit():
    from brevitas.core.restrict_val import RestrictValueType
    from brevitas.nn import QuantIdentity
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant

    return QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0, max_val=1.0 - 2.0**-7,
                         narrow_range=False, restrict_scaling_type=RestrictValueType.POWER_OF_TWO)


def padnet(seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """8-bit input, zero-padded 3x3 convs (stride 1 and 2), an odd channel count, a max-pool,
    a 5x5 conv with padding 2, and a biased classifier."""
    torch.manual_seed(seed)
    model = _Sequential(
        _input_quant_8bit(),
        _conv(3, 16, 3, padding=1), nn.BatchNorm2d(16), _binary_act(),
        _conv(16, 13, 3, stride=2, padding=1), nn.BatchNorm2d(13), _binary_act(),
        _conv(13, 24, 5, padding=2), nn.BatchNorm2d(24), _binary_act(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        _linear(24 * 4 * 4, 32), nn.BatchNorm1d(32), _binary_act(),
        _linear(32, 10, bias=True),
    )
    randomize_batchnorm(model, seed)
    return model.eval(), torch.zeros(1, 3, 16, 16)


def oddnet(seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """Binary input, odd channels and sizes, stride 2 with padding 2, a 4x4 kernel with
    stride 3, per-output-channel weight scales, and a conv as the last layer."""
    torch.manual_seed(seed)
    model = _Sequential(
        _binary_act(),
        _conv(1, 7, 3, stride=2, padding=2, per_channel_scale=True), nn.BatchNorm2d(7), _binary_act(),
        _conv(7, 11, 4, stride=3, padding=1), nn.BatchNorm2d(11), _binary_act(),
        _conv(11, 9, 3, padding=1, bias=True), nn.BatchNorm2d(9), _binary_act(),
        _conv(9, 5, 3),
        nn.Flatten(),
    )
    randomize_batchnorm(model, seed)
    return model.eval(), torch.zeros(1, 1, 19, 17)


def altpadnet(seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """Trained-with-the-pattern padding (AlternatingPad2d): compiles with no correction."""
    torch.manual_seed(seed)
    model = _Sequential(
        _input_quant_8bit(),
        _conv(3, 12, 3, padding=1), nn.BatchNorm2d(12), _binary_act(),
        AlternatingPad2d(1), _conv(12, 15, 3), nn.BatchNorm2d(15), _binary_act(),
        AlternatingPad2d((2, 1, 0, 1)), _conv(15, 8, 3, stride=2), nn.BatchNorm2d(8), _binary_act(),
        nn.Flatten(),
        _linear(8 * 5 * 6, 10),
    )
    randomize_batchnorm(model, seed)
    return model.eval(), torch.zeros(1, 3, 10, 12)


def _act_2bit():
    from brevitas.nn import QuantIdentity
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant

    return QuantIdentity(act_quant=CommonActQuant, bit_width=2)  # BNN-PYNQ's: levels -1, 0, +1


def mlp_1w2a(seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """784-256-256-10 with binary weights and 2-bit (ternary, BNN-PYNQ style) activations."""
    torch.manual_seed(seed)
    model = _Sequential(
        nn.Flatten(), _input_quant_8bit(),
        _linear(784, 256), nn.BatchNorm1d(256), _act_2bit(),
        _linear(256, 256), nn.BatchNorm1d(256), _act_2bit(),
        _linear(256, 10),
    )
    randomize_batchnorm(model, seed)
    return model.eval(), torch.zeros(1, 1, 28, 28)


# ---------------------------------------------------------------------------------------
# Residual nets (the residual demo)
# ---------------------------------------------------------------------------------------
class _ResidualBlock(nn.Module):
    """Bi-Real Net's block as its paper writes it: conv3x3 -> BN -> sign -> binary conv3x3 with
    ordinary zero padding (`padding=1`) -> BN -> q, plus the shortcut (the block input, or a 1x1
    strided conv -> BN -> q where the shape changes), then BN and a 2-bit act. q and the acts are
    BNN-PYNQ's 2-bit quantizer (a constant scale of 1.0: levels -1, 0, +1), so both operands of
    the add share a scale and the join adds integers. The second conv reads sign bits: the
    hardware pads them with the FBNA pattern and its multi-level thresholds are corrected per
    border class, so the result equals the zero-padded model's exactly. `residual=False` drops
    the shortcut (and q): the plain counterpart with the same weights."""

    def __init__(self, cin: int, cout: int, stride: int, residual: bool = True):
        super().__init__()
        self.conv1, self.bn1, self.act1 = _conv(cin, cout, 3, stride, padding=1), nn.BatchNorm2d(cout), _binary_act()
        self.conv2, self.bn2, self.q = _conv(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), _act_2bit()
        self.residual = residual
        self.shortcut: nn.Module | None = None
        if residual and (stride != 1 or cin != cout):
            self.shortcut = nn.Sequential(_conv(cin, cout, 1, stride), nn.BatchNorm2d(cout), _act_2bit())
        self.bn_out = nn.BatchNorm2d(cout)  # on the sum: the block learns where its output levels sit
        self.out = _act_2bit()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        if self.residual:
            y = self.q(y) + (x if self.shortcut is None else self.shortcut(x))
        return self.out(self.bn_out(y))


def mnist_resnet(residual: bool = True, channels: tuple[int, int] = (16, 32), seed: int = 0) -> nn.Module:
    """A small residual BNN for 28x28 digits (binary weights; sign bits inside each block, 2-bit
    activations between blocks): 8-bit input, a stride-2 stem conv (14x14), an identity Bi-Real
    block, a downsampling one with a 1x1 strided shortcut conv (7x7), a binary classifier with
    a final BatchNorm (BNN-PYNQ's TensorNorm). Every conv is zero-padded."""
    torch.manual_seed(seed)
    c1, c2 = channels
    return _Sequential(
        _input_quant_8bit(),
        _conv(1, c1, 3, stride=2, padding=1), nn.BatchNorm2d(c1), _act_2bit(),
        _ResidualBlock(c1, c1, 1, residual),
        _ResidualBlock(c1, c2, 2, residual),
        nn.Flatten(),
        _linear(c2 * 7 * 7, 10), nn.BatchNorm1d(10),
    )


CUSTOM = {"padnet": padnet, "oddnet": oddnet, "altpadnet": altpadnet}
# Multi-bit weights or activations (the multi-threshold and multi-bit MVAU blocks)
BNN_PYNQ_MULTIBIT = {"CNV_2W2A": (3, 32, 32)}
MULTIBIT = {"mlp_1w2a": mlp_1w2a}


def build(name: str, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    if name in BNN_PYNQ or name in BNN_PYNQ_MULTIBIT:
        return bnn_pynq(name, seed)
    return {**CUSTOM, **MULTIBIT}[name](seed)


ALL = (*BNN_PYNQ, *CUSTOM)
