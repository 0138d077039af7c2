"""Max-pools as the papers' PyTorch code writes them (issue 20, points 3 and 5), small enough
for every engine: ResNet's stem `MaxPool2d(3, 2, 1)` (padding), SqueezeNet's
`MaxPool2d(3, 2, ceil_mode=True)` (partial windows), and conv -> MaxPool2d -> BatchNorm ->
multi-bit activation (QuantReLU, a signed QuantIdentity), with negative gammas so that some
channels' levels fall with the accumulator (the pool takes their min)."""
from __future__ import annotations

import torch
from torch import nn

from bnn2hls.models import zoo


def quant_relu(bits: int) -> nn.Module:
    from brevitas.nn import QuantReLU

    return QuantReLU(bit_width=bits)


def quant_signed(bits: int) -> nn.Module:
    from brevitas.nn import QuantIdentity

    return QuantIdentity(bit_width=bits)  # Int8ActPerTensorFloat at `bits`: signed, narrow range off


class ResNetStem(nn.Module):
    """ResNet-18's stem, conv7x7 s2 p3 -> BN -> act -> MaxPool2d(3, 2, 1), on a binary
    datapath: `act` a sign (binary pool) or a QuantReLU (a multi-bit pool); then a 3x3 conv
    and a dense head. 3x12x12 -> 6x6 -> 3x3."""

    def __init__(self, act_bits: int = 1, channels: int = 8):
        super().__init__()
        self.inp = zoo._input_quant_8bit()
        self.conv1 = zoo._conv(3, channels, 7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(channels)
        self.act1 = zoo._binary_act() if act_bits == 1 else quant_relu(act_bits)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.conv2 = zoo._conv(channels, 8, 3)
        self.bn2, self.act2 = nn.BatchNorm2d(8), zoo._binary_act()
        self.fc = zoo._linear(8, 10, bias=True)

    def forward(self, x):
        x = self.maxpool(self.act1(self.bn1(self.conv1(self.inp(x)))))
        x = self.act2(self.bn2(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


class SqueezeStem(nn.Module):
    """SqueezeNet's pool, MaxPool2d(3, 2, ceil_mode=True), after a conv's sign (8x8 -> 4x4: the
    last row and column of windows are partial) and before a BatchNorm + sign (BinaryNet's
    order, 4x4 -> 2x2, partial too); then a dense head. 3x10x10 input."""

    def __init__(self):
        super().__init__()
        self.inp = zoo._input_quant_8bit()
        self.conv1 = zoo._conv(3, 8, 3, stride=1)
        self.bn1, self.act1 = nn.BatchNorm2d(8), zoo._binary_act()
        self.pool1 = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.conv2 = zoo._conv(8, 8, 1)
        self.pool2 = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.bn2, self.act2 = nn.BatchNorm2d(8), zoo._binary_act()
        self.fc = zoo._linear(8 * 2 * 2, 10, bias=True)

    def forward(self, x):
        x = self.pool1(self.act1(self.bn1(self.conv1(self.inp(x)))))
        x = self.act2(self.bn2(self.pool2(self.conv2(x))))
        return self.fc(torch.flatten(x, 1))


class PoolThenQuant(nn.Module):
    """conv -> MaxPool2d(2) -> BN -> multi-bit activation (`relu`: QuantReLU, else a signed
    QuantIdentity) at `bits`, twice; the second pool is ResNet's padded one."""

    def __init__(self, bits: int = 2, relu: bool = True):
        super().__init__()
        act = quant_relu if relu else quant_signed
        self.inp = zoo._input_quant_8bit()
        self.conv1 = zoo._conv(3, 8, 3, bias=True)
        self.pool1, self.bn1, self.act1 = nn.MaxPool2d(2), nn.BatchNorm2d(8), act(bits)
        self.conv2 = zoo._conv(8, 8, 1)
        self.pool2, self.bn2, self.act2 = nn.MaxPool2d(3, 2, 1), nn.BatchNorm2d(8), act(bits)
        self.fc = zoo._linear(8 * 2 * 2, 10, bias=True)

    def forward(self, x):  # 3x10x10 -> 8x8 -> 4x4 -> 4x4 -> 2x2
        x = self.act1(self.bn1(self.pool1(self.conv1(self.inp(x)))))
        x = self.act2(self.bn2(self.pool2(self.conv2(x))))
        return self.fc(torch.flatten(x, 1))


def prepared(module: nn.Module, seed: int, shape: tuple[int, ...]) -> nn.Module:
    """Random gammas of both signs; BatchNorm statistics and activation scales calibrated on
    random inputs, so every level varies with the input."""
    torch.manual_seed(seed)
    zoo.randomize_batchnorm(module, seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
                m.bias.copy_(torch.randn_like(m.bias) * 0.3)
        module.train()
        for _ in range(4):
            module(torch.rand(32, *shape) * 2.2 - 1.1)
    return module.eval()
