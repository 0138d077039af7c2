"""Brevitas models of the ReActNet / BinaryNet / XNOR-Net++ activations as their authors write
them (issue 20, points 2, 4 and 6): RSign (a learned per-channel shift, then a sign) and
RPReLU (shift, PReLU, shift) on a quantized residual stream, nn.Hardtanh before a sign or a
quantizer, a ReLU after a quantized add."""
from __future__ import annotations

import torch
from torch import nn

from .brevitas_nets import Case, _const_act, _fixed_act, _res_conv, calibrate_activations


class LearnableBias(nn.Module):
    """ReActNet's `LearnableBias`: x + a learned (1, C, 1, 1) shift."""

    def __init__(self, c: int, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.bias = nn.Parameter((torch.rand(1, c, 1, 1, generator=g) - 0.5) * 0.8)

    def forward(self, x):
        return x + self.bias.expand_as(x)


class RSign(nn.Module):
    """ReActNet's RSign: a learned shift, then the sign (Brevitas' binary quantizer)."""

    def __init__(self, c: int, seed: int):
        super().__init__()
        self.move = LearnableBias(c, seed)
        self.sign = _const_act(1, False)

    def forward(self, x):
        return self.sign(self.move(x))


class RPReLU(nn.Module):
    """ReActNet's RPReLU: shift, PReLU (per channel), shift."""

    def __init__(self, c: int, seed: int):
        super().__init__()
        self.move1, self.prelu, self.move2 = LearnableBias(c, seed), nn.PReLU(c, init=0.25), LearnableBias(c, seed + 1)

    def forward(self, x):
        return self.move2(self.prelu(self.move1(x)))


class ReActBlock(nn.Module):
    """ReActNet's basic block on a quantized residual stream `q` (one shared quantizer):
    x -> RSign -> binary 1x1 conv -> BN -> q, + x, RPReLU, q."""

    def __init__(self, c: int, seed: int, q: nn.Module):
        super().__init__()
        self.rsign = RSign(c, seed)
        self.conv, self.bn = _res_conv(c, c, 1, 1, 0, 1), nn.BatchNorm2d(c)
        self.rprelu = RPReLU(c, seed + 2)
        self.q = q

    def forward(self, x):
        y = self.q(self.bn(self.conv(self.rsign(x))))
        return self.q(self.rprelu(y + x))


class ReActNet(nn.Module):
    """stem (8-bit input, 3x3 conv, BN, the stream quantizer) -> two ReAct blocks -> RPReLU
    on the quantized stream before its quantizer -> RSign -> binary classifier.
    `bits`: the stream's width; `const`: BNN-PYNQ's constant-scale quantizer, else Brevitas'
    learned power-of-two one."""

    def __init__(self, bits: int = 4, const: bool = False, c: int = 4, hw: int = 6):
        super().__init__()
        from bnn2hls.models.zoo import _input_quant_8bit, _linear

        self.inp = _input_quant_8bit()
        self.stem, self.bn0 = _res_conv(3, c, 3, 1, 0, 1), nn.BatchNorm2d(c)
        self.q = _const_act(bits, False, max_val=2.0) if const else _fixed_act(bits)
        self.blocks = nn.Sequential(ReActBlock(c, 10, self.q), ReActBlock(c, 20, self.q))
        self.rprelu = RPReLU(c, 30)
        self.rsign = RSign(c, 40)
        self.fc = _linear(c * (hw - 2) ** 2, 5, bias=True)

    def forward(self, x):
        x = self.q(self.bn0(self.stem(self.inp(x))))
        x = self.blocks(x)
        x = self.q(self.rprelu(x))
        return self.fc(torch.flatten(self.rsign(x), 1))


class HardtanhNet(nn.Module):
    """BinaryNet as its PyTorch code writes it: conv -> BN -> nn.Hardtanh -> sign, twice; a
    Hardtanh on the raw input before the input quantizer; a Hardtanh whose range excludes 0
    (a constant sign); a Hardtanh before a multi-bit quantizer (its levels clipped); a
    Hardtanh on that quantized stream before a sign; and a Hardtanh at the output.
    `constant`: the last sign's Hardtanh range excludes 0 (sign(clip(x)) is then +1)."""

    def __init__(self, c: int = 4, hw: int = 6, constant: bool = False):
        super().__init__()
        from bnn2hls.models.zoo import _binary_act, _conv, _input_quant_8bit, _linear

        self.inp = _input_quant_8bit()
        self.conv0, self.bn0, self.act0 = _conv(3, c, 3, padding=1), nn.BatchNorm2d(c), _binary_act()
        self.conv1, self.bn1, self.q1 = _conv(c, c, 3), nn.BatchNorm2d(c), _const_act(3, False, max_val=3.0)
        self.conv2, self.bn2, self.act2 = _conv(c, c, 1), nn.BatchNorm2d(c), _binary_act()
        self.sign3 = _binary_act()
        self.range = (0.25, 1.0) if constant else (-1.0, 1.0)
        self.fc = _linear(c * (hw - 2) ** 2, 5, bias=True)

    def forward(self, x):
        x = self.inp(nn.functional.hardtanh(x, -0.8, 0.9))
        x = self.act0(nn.functional.hardtanh(self.bn0(self.conv0(x))))
        x = self.q1(nn.functional.hardtanh(self.bn1(self.conv1(x)), -1.5, 1.25))
        y = self.sign3(nn.functional.hardtanh(x, -0.6, 2.0))  # on the quantized stream
        y = self.act2(nn.functional.hardtanh(self.bn2(self.conv2(y)), *self.range))
        return nn.functional.hardtanh(self.fc(torch.flatten(y, 1)), -6.0, 6.0)


class ReluAfterAddNet(nn.Module):
    """A quantized add then a ReLU: Brevitas' QuantEltwiseAdd (output quantizer) then
    QuantReLU, and a shared-quantizer add with an output quantizer then nn.ReLU then a
    quantizer."""

    def __init__(self, c: int = 4, hw: int = 6):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import Int8ActPerTensorFixedPoint, Uint8ActPerTensorFixedPoint
        from bnn2hls.models.zoo import _input_quant_8bit, _linear

        self.inp = _input_quant_8bit()
        self.conv0, self.bn0, self.q0 = _res_conv(3, c, 3, 1, 0, 1), nn.BatchNorm2d(c), _fixed_act(3)
        self.conv1, self.bn1 = _res_conv(c, c, 1, 1, 0, 2), nn.BatchNorm2d(c)
        self.add = qnn.QuantEltwiseAdd(input_quant=Int8ActPerTensorFixedPoint, output_quant=Int8ActPerTensorFixedPoint,
                                       input_bit_width=3, output_bit_width=4)
        self.relu = qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=2)
        self.conv2, self.bn2 = _res_conv(c, c, 1, 1, 0, 2), nn.BatchNorm2d(c)
        self.q2 = _fixed_act(3)
        self.out = _fixed_act(3, signed=False)
        self.fc = _linear(c * (hw - 2) ** 2, 5, bias=True)

    def forward(self, x):
        x = self.q0(self.bn0(self.conv0(self.inp(x))))
        x = self.relu(self.add(self.bn1(self.conv1(x)), x))
        y = self.q2(self.q2(self.bn2(self.conv2(x))) + self.q2(x))
        return self.fc(torch.flatten(self.out(torch.relu(y)), 1))


def case(module: nn.Module, seed: int, shape: tuple[int, ...] = (3, 6, 6), batches: int = 40) -> Case:
    from bnn2hls.models import zoo

    torch.manual_seed(seed)
    zoo.randomize_batchnorm(module, seed)
    calibrate_activations(module, shape, seed, batches=batches)
    return Case(None, module, torch.zeros(1, *shape), type(module).__name__)


class TruncPoolNet(nn.Module):
    """Brevitas' TruncAvgPool2d (an average pool truncated to `bit_width`) of a quantized
    activation (QuantReLU, or a signed fixed-point QuantIdentity), read by a binary conv, then
    a TruncAdaptiveAvgPool2d global pool of a quantized stream before the classifier."""

    def __init__(self, signed: bool = False, c: int = 4, hw: int = 8):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import Int8ActPerTensorFixedPoint, Uint8ActPerTensorFixedPoint
        from bnn2hls.models.zoo import _input_quant_8bit, _linear

        self.inp = _input_quant_8bit()
        self.conv0, self.bn0 = _res_conv(3, c, 3, 1, 1, 1), nn.BatchNorm2d(c)
        self.q0 = (qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=4, return_quant_tensor=True)
                   if signed else
                   qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=4, return_quant_tensor=True))
        self.pool0 = qnn.TruncAvgPool2d(kernel_size=2, stride=2, bit_width=3)
        self.conv1, self.bn1 = _res_conv(c, c, 3, 1, 0, 1), nn.BatchNorm2d(c)
        self.q1 = qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=3, return_quant_tensor=True)
        self.pool1 = qnn.TruncAdaptiveAvgPool2d(output_size=1, bit_width=4)
        self.fc = _linear(c, 5, bias=True)

    def forward(self, x):
        x = self.pool0(self.q0(self.bn0(self.conv0(self.inp(x)))))
        x = self.pool1(self.q1(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(x, 1))


class Refused(nn.Module):
    """What cannot be exact, one construct per `kind` (and "binary_small_shift", a shift of
    sign bits that keeps them: accepted)."""

    def __init__(self, kind: str, c: int = 4, hw: int = 6):
        super().__init__()
        from bnn2hls.models.zoo import _binary_act, _input_quant_8bit, _linear

        self.kind = kind
        self.inp = _input_quant_8bit()
        self.conv0, self.bn0 = _res_conv(3, c, 3, 1, 0, 1), nn.BatchNorm2d(c)
        self.q0 = _binary_act() if kind.startswith("binary") else _fixed_act(4)
        self.move = LearnableBias(c, 1)
        with torch.no_grad():
            # 3.0 moves -1 and +1 past 0: every sign becomes +1; 0.5 keeps both (accepted)
            self.move.bias.fill_(0.5 if kind == "binary_small_shift" else 3.0)
        self.along_w = nn.Parameter(torch.linspace(-0.5, 0.5, hw - 2))  # (W,): broadcast along the width
        self.conv1, self.bn1 = _res_conv(c, c, 1, 1, 0, 1), nn.BatchNorm2d(c)
        self.sign = _binary_act()
        self.fc = _linear(c * (hw - 2) ** 2, 5, bias=True)

    def forward(self, x):
        x = self.q0(self.bn0(self.conv0(self.inp(x))))
        if self.kind == "shift_into_conv":  # RSign's shift, but no sign before the conv
            x = self.sign(self.bn1(self.conv1(self.move(x))))
        elif self.kind == "clip_into_conv":
            x = self.sign(self.bn1(self.conv1(nn.functional.hardtanh(x, -0.5, 0.5))))
        elif self.kind == "along_width":
            x = self.sign(x + self.along_w)
        else:
            x = self.sign(self.move(x))
        return self.fc(torch.flatten(x, 1))


def per_channel_act(c: int, bits: int, signed: bool):
    """A Brevitas activation quantizer with one learned scale per channel (XNOR-Net++'s
    per-channel activation scaling): `scaling_per_output_channel=True`, the scale shaped
    (1, C, 1, 1), statistics collected over the other axes."""
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat, Uint8ActPerTensorFloat

    quant = Int8ActPerTensorFloat if signed else Uint8ActPerTensorFloat
    kind = qnn.QuantIdentity if signed else qnn.QuantReLU
    return kind(act_quant=quant, bit_width=bits, scaling_per_output_channel=True,
                per_channel_broadcastable_shape=(1, c, 1, 1), scaling_stats_permute_dims=(1, 0, 2, 3))


class PerChannelActNet(nn.Module):
    """Per-channel activation scales where a quantizer or a max-pool reads them: a per-channel
    QuantReLU, a max-pool, RSign on it; a per-channel signed QuantIdentity then a sign.
    `into`: what reads the per-channel value instead (refused: 'conv', 'add')."""

    def __init__(self, c: int = 4, hw: int = 8, into: str = ""):
        super().__init__()
        from bnn2hls.models.zoo import _binary_act, _input_quant_8bit, _linear

        self.into = into
        self.inp = _input_quant_8bit()
        self.conv0, self.bn0, self.q0 = _res_conv(3, c, 3, 1, 0, 1), nn.BatchNorm2d(c), per_channel_act(c, 4, False)
        self.pool = nn.MaxPool2d(2)
        self.rsign = RSign(c, 5)
        self.conv1, self.bn1, self.q1 = _res_conv(c, c, 1, 1, 0, 1), nn.BatchNorm2d(c), per_channel_act(c, 3, True)
        self.sign1 = _binary_act()
        self.conv2, self.bn2, self.sign2 = _res_conv(c, c, 1, 1, 0, 1), nn.BatchNorm2d(c), _binary_act()
        self.fc = _linear(c * ((hw - 2) // 2) ** 2, 5, bias=True)

    def forward(self, x):
        x = self.pool(self.q0(self.bn0(self.conv0(self.inp(x)))))
        if self.into == "conv":
            return self.fc(torch.flatten(self.sign1(self.conv1(x)), 1))
        if self.into == "add":
            return self.fc(torch.flatten(self.sign1(x + self.q0(x)), 1))
        y = self.sign1(self.q1(self.bn1(self.conv1(self.rsign(x)))))
        z = self.sign2(self.bn2(self.conv2(y)))
        return self.fc(torch.flatten(z, 1))


class ReActBasicBlock(nn.Module):
    """ReActNet's MobileNet-style basic block as its PyTorch code writes it (liuzechun/ReActNet,
    `BasicBlock`), on the quantized residual stream `x` (the shared quantizer `q`):
    RSign (move11, sign) -> binary 3x3 conv, `padding=1` (zero padding), stride 1 or 2 -> BN ->
    q, + the shortcut (x, or AvgPool2d(2) of x when strided) -> RPReLU -> q; then RSign (move21,
    sign) -> binary 1x1 conv -> BN -> q, + that stream -> RPReLU -> q. When the block doubles
    the channels the 1x1 part is two convs on the same signs, each BN -> q, + the stream, and
    the two sums concatenated (ReActNet's `binary_pw_down1/2`, `torch.cat`)."""

    def __init__(self, cin: int, cout: int, stride: int, seed: int, q: nn.Module):
        super().__init__()
        from .zeropad_nets import _bin_conv

        assert cout in (cin, 2 * cin)
        self.q = q
        self.rsign1 = RSign(cin, seed)
        self.binary_3x3, self.bn1 = _bin_conv(cin, cin, 3, stride, 1), nn.BatchNorm2d(cin)
        self.pooling = nn.AvgPool2d(2, 2) if stride == 2 else None
        self.rprelu1 = RPReLU(cin, seed + 1)
        self.rsign2 = RSign(cin, seed + 3)
        self.down = cout != cin
        if self.down:
            self.pw_down1, self.bn2_1 = _bin_conv(cin, cin, 1), nn.BatchNorm2d(cin)
            self.pw_down2, self.bn2_2 = _bin_conv(cin, cin, 1), nn.BatchNorm2d(cin)
        else:
            self.pw, self.bn2 = _bin_conv(cin, cout, 1), nn.BatchNorm2d(cout)
        self.rprelu2 = RPReLU(cout, seed + 5)

    def forward(self, x):
        out1 = self.q(self.bn1(self.binary_3x3(self.rsign1(x))))
        if self.pooling is not None:
            x = self.pooling(x)
        out1 = self.q(self.rprelu1(x + out1))
        b = self.rsign2(out1)
        if self.down:
            out2 = torch.cat([self.q(self.bn2_1(self.pw_down1(b))) + out1,
                              self.q(self.bn2_2(self.pw_down2(b))) + out1], dim=1)
        else:
            out2 = self.q(self.bn2(self.pw(b))) + out1
        return self.q(self.rprelu2(out2))


class ReActNetMobile(nn.Module):
    """A tiny ReActNet (the MobileNet-like one): 8-bit input -> stem (3x3 conv, stride 2,
    `padding=1`, binary weights on the 8-bit input) -> BN -> q (the stream quantizer) ->
    basic blocks (`channels` -> `channels`, then a stride-2 downsampling block doubling them)
    -> global average pool -> linear. `bits`: the stream's width; `const`: BNN-PYNQ's
    constant-scale quantizer, else Brevitas' learned power-of-two one."""

    def __init__(self, bits: int = 4, const: bool = False, channels: int = 8, in_ch: int = 3, classes: int = 10):
        super().__init__()
        from bnn2hls.models.zoo import _input_quant_8bit, _linear

        from .zeropad_nets import _bin_conv

        c = channels
        self.inp = _input_quant_8bit()
        self.stem, self.bn0 = _bin_conv(in_ch, c, 3, 2, 1), nn.BatchNorm2d(c)
        self.q = _const_act(bits, False, max_val=2.0) if const else _fixed_act(bits)
        self.blocks = nn.Sequential(ReActBasicBlock(c, c, 1, 10, self.q), ReActBasicBlock(c, 2 * c, 2, 20, self.q))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = _linear(2 * c, classes, bias=True)

    def forward(self, x):
        x = self.q(self.bn0(self.stem(self.inp(x))))
        x = self.blocks(x)
        return self.fc(torch.flatten(self.pool(x), 1))
