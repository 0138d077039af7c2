"""Brevitas nets that concatenate along channels (torch.cat(dim=1)) the ways users write it,
for the channel-concat op: each builder returns a `Case` (tests/brevitas_nets.py: module in
eval mode, BatchNorm statistics randomized, learned activation scales calibrated, an example
input, a description), on 3x8x8 inputs with an 8-bit input quantizer, binary weights and a
binary-weight QuantLinear classifier. `export(name, dir)` writes the QONNX file.

  shared_quant     BinaryDenseNet / DenseNet growth as a quantized user writes it: two conv
                   branches on one sign stream, each -> BN -> the *same* 2-bit constant-scale
                   QuantIdentity instance (one scale), cat, then a QuantConv2d reading the
                   2-bit stream; `quant_tensor=True` concatenates QuantTensors (Brevitas checks
                   the scales are equal), False plain tensors
  different_scales the same with one quantizer per branch: learned power-of-two scales
                   (`scales="pow2"`, Int8ActPerTensorFixedPoint) or learned float scales
                   (`scales="float"`, Int8ActPerTensorFloat), 2 bits each: the cat joins two
                   integer grids of different steps
  sign_and_conv    BinaryDenseNet: x = sign(...) and y = sign(BN(conv3x3 pad 1 (x))), cat(x, y)
                   (binary + binary, x read twice: by the conv and by the cat), then a conv
  reactnet_down    ReActNet's downsampling: two 1x1 stride-2 convs on the same binary input,
                   each -> BN -> one shared 2-bit quantizer, cat (doubles the channels), sign,
                   then a conv; `binary=True`: a sign after each BN instead (binary + binary)
  duplicate        ReActNet's shortcut duplication: cat(x, x) of one 2-bit value, then a conv
  three_way        a Fire / Inception-like block: 1x1 conv, 3x3 conv (AlternatingPad2d) and
                   the identity of one sign stream, all binary, cat of three, then a conv
  cat_then_dense   shared_quant without the last conv: cat -> flatten -> the classifier
  mixed_sign_2bit  cat(x, y) of a sign x and a 2-bit y (both of scale 1: -1/+1 beside -1/0/+1)
  cat_then_quant   ReActNet's own order: two 1x1 stride-2 convs -> BN each (float) -> cat ->
                   one 2-bit quantizer on the concatenation (`cat_then_sign`: a sign)
  height_cat       shared_quant concatenating along dim=2 (not channels: to be refused)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from .brevitas_nets import Case, _const_act, _fixed_act, _res_conv, calibrate_activations, qnn_linear


def _float_act(bits: int):
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat

    return qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=bits)


def _stem(cout: int = 4, pad: int = 1) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module]:
    from bnn2hls.models.zoo import _input_quant_8bit

    return _input_quant_8bit(), _res_conv(3, cout, 3, 1, pad, 1), nn.BatchNorm2d(cout), _const_act(1)


class SharedQuant(nn.Module):
    """stem (3x3 pad 0, sign) -> branches a, b: conv3x3 pad 0 -> BN -> q (2-bit, shared or one
    each) -> cat -> [conv3x3 pad 0 -> BN -> sign] -> flatten -> linear. Spatial 8 -> 6 -> 4 (-> 2)."""

    def __init__(self, quant: str = "shared", quant_tensor: bool = False, last_conv: bool = True, c: int = 4):
        super().__init__()
        self.inp, self.stem, self.stem_bn, self.stem_act = _stem(c, pad=0)
        self.conv_a, self.bn_a = _res_conv(c, c, 3, 1, 0, 1), nn.BatchNorm2d(c)
        self.conv_b, self.bn_b = _res_conv(c, c, 3, 1, 0, 1), nn.BatchNorm2d(c)
        if quant == "shared":
            self.q_a = _const_act(2, quant_tensor)
            self.q_b = self.q_a
        elif quant == "pow2":
            self.q_a, self.q_b = _fixed_act(2), _fixed_act(2)
        elif quant == "float":
            self.q_a, self.q_b = _float_act(2), _float_act(2)
        else:
            raise ValueError(quant)
        self.last_conv = last_conv
        if last_conv:
            self.conv, self.bn, self.act = _res_conv(2 * c, c, 3, 1, 0, 1), nn.BatchNorm2d(c), _const_act(1, False)
            self.fc = qnn_linear(c * 2 * 2, 10)
        else:
            self.fc = qnn_linear(2 * c * 4 * 4, 10)

    def forward(self, x):
        x = self.stem_act(self.stem_bn(self.stem(self.inp(x))))
        y = torch.cat([self.q_a(self.bn_a(self.conv_a(x))), self.q_b(self.bn_b(self.conv_b(x)))], dim=1)
        if self.last_conv:
            y = self.act(self.bn(self.conv(y)))
        return self.fc(torch.flatten(y, 1))


class SignAndConv(nn.Module):
    """stem (3x3 pad 1, sign) = x -> y = sign(BN(conv3x3 pad 1 (x))) -> cat(x, y) -> conv3x3
    pad 0 -> BN -> sign -> flatten -> linear. Spatial 8 -> 8 -> 6."""

    def __init__(self, c: int = 4):
        super().__init__()
        self.inp, self.stem, self.stem_bn, self.stem_act = _stem(c, pad=1)
        self.conv1, self.bn1, self.act1 = _res_conv(c, c, 3, 1, 1, 1), nn.BatchNorm2d(c), _const_act(1, False)
        self.conv, self.bn, self.act = _res_conv(2 * c, c, 3, 1, 0, 1), nn.BatchNorm2d(c), _const_act(1, False)
        self.fc = qnn_linear(c * 6 * 6, 10)

    def forward(self, x):
        x = self.stem_act(self.stem_bn(self.stem(self.inp(x))))
        y = self.act1(self.bn1(self.conv1(x)))
        z = self.act(self.bn(self.conv(torch.cat([x, y], dim=1))))
        return self.fc(torch.flatten(z, 1))


class ReActNetDown(nn.Module):
    """stem (3x3 pad 1, sign) -> two 1x1 stride-2 convs -> BN each -> q (2-bit shared, or a
    sign each) -> cat (2c channels) -> sign -> conv3x3 pad 0 -> BN -> sign -> flatten -> linear.
    Spatial 8 -> 8 -> 4 -> 2."""

    def __init__(self, binary: bool = False, c: int = 4):
        super().__init__()
        self.inp, self.stem, self.stem_bn, self.stem_act = _stem(c, pad=1)
        self.pw1, self.bn1 = _res_conv(c, c, 1, 2, 0, 1), nn.BatchNorm2d(c)
        self.pw2, self.bn2 = _res_conv(c, c, 1, 2, 0, 1), nn.BatchNorm2d(c)
        if binary:
            self.q1, self.q2 = _const_act(1, False), _const_act(1, False)
        else:
            self.q1 = _const_act(2, False)
            self.q2 = self.q1
        self.binary = binary
        self.sign = _const_act(1, False)
        self.conv, self.bn, self.act = _res_conv(2 * c, c, 3, 1, 0, 1), nn.BatchNorm2d(c), _const_act(1, False)
        self.fc = qnn_linear(c * 2 * 2, 10)

    def forward(self, x):
        x = self.stem_act(self.stem_bn(self.stem(self.inp(x))))
        y = torch.cat([self.q1(self.bn1(self.pw1(x))), self.q2(self.bn2(self.pw2(x)))], dim=1)
        if not self.binary:
            y = self.sign(y)
        z = self.act(self.bn(self.conv(y)))
        return self.fc(torch.flatten(z, 1))


class Duplicate(nn.Module):
    """stem (3x3 pad 0) -> BN -> 2-bit q = x -> cat(x, x) -> conv3x3 pad 0 -> BN -> sign ->
    flatten -> linear. Spatial 8 -> 6 -> 4."""

    def __init__(self, c: int = 4):
        super().__init__()
        from bnn2hls.models.zoo import _input_quant_8bit

        self.inp, self.stem, self.stem_bn, self.q = _input_quant_8bit(), _res_conv(3, c, 3, 1, 0, 1), nn.BatchNorm2d(c), _const_act(2, False)
        self.conv, self.bn, self.act = _res_conv(2 * c, c, 3, 1, 0, 1), nn.BatchNorm2d(c), _const_act(1, False)
        self.fc = qnn_linear(c * 4 * 4, 10)

    def forward(self, x):
        x = self.q(self.stem_bn(self.stem(self.inp(x))))
        z = self.act(self.bn(self.conv(torch.cat([x, x], dim=1))))
        return self.fc(torch.flatten(z, 1))


class ThreeWay(nn.Module):
    """stem (3x3 pad 1, sign) = x -> a = sign(BN(conv1x1(x))), b = sign(BN(conv3x3(FBNA pad 1
    (x)))) -> cat(a, b, x) -> conv3x3 pad 0 -> BN -> sign -> flatten -> linear. Spatial 8 -> 6."""

    def __init__(self, c: int = 4):
        super().__init__()
        from bnn2hls.models.nn import AlternatingPad2d

        self.inp, self.stem, self.stem_bn, _ = _stem(c, pad=1)
        self.stem_act = _const_act(1, False)  # AlternatingPad2d takes plain tensors
        self.pw, self.bn_a, self.act_a = _res_conv(c, 2, 1, 1, 0, 1), nn.BatchNorm2d(2), _const_act(1, False)
        self.pad = AlternatingPad2d(1)
        self.conv3, self.bn_b, self.act_b = _res_conv(c, 3, 3, 1, 0, 1), nn.BatchNorm2d(3), _const_act(1, False)
        self.conv, self.bn, self.act = _res_conv(2 + 3 + c, c, 3, 1, 0, 1), nn.BatchNorm2d(c), _const_act(1, False)
        self.fc = qnn_linear(c * 6 * 6, 10)

    def forward(self, x):
        x = self.stem_act(self.stem_bn(self.stem(self.inp(x))))
        a = self.act_a(self.bn_a(self.pw(x)))
        b = self.act_b(self.bn_b(self.conv3(self.pad(x))))
        z = self.act(self.bn(self.conv(torch.cat([a, b, x], dim=1))))
        return self.fc(torch.flatten(z, 1))


class MixedSign2Bit(nn.Module):
    """stem (3x3 pad 1, sign) = x -> y = q2(BN(conv3x3(FBNA pad 1 (x)))) (2-bit) -> cat(x, y)
    (a sign beside 2-bit values) -> conv3x3 pad 0 -> BN -> sign -> flatten -> linear."""

    def __init__(self, c: int = 4):
        super().__init__()
        from bnn2hls.models.nn import AlternatingPad2d

        self.inp, self.stem, self.stem_bn, _ = _stem(c, pad=1)
        self.stem_act = _const_act(1, False)
        self.pad = AlternatingPad2d(1)
        self.conv1, self.bn1, self.q = _res_conv(c, c, 3, 1, 0, 1), nn.BatchNorm2d(c), _const_act(2, False)
        self.conv, self.bn, self.act = _res_conv(2 * c, c, 3, 1, 0, 1), nn.BatchNorm2d(c), _const_act(1, False)
        self.fc = qnn_linear(c * 6 * 6, 10)

    def forward(self, x):
        x = self.stem_act(self.stem_bn(self.stem(self.inp(x))))
        y = self.q(self.bn1(self.conv1(self.pad(x))))
        z = self.act(self.bn(self.conv(torch.cat([x, y], dim=1))))
        return self.fc(torch.flatten(z, 1))


class CatThenQuant(nn.Module):
    """ReActNet's own order: stem (3x3 pad 1, sign) -> two 1x1 stride-2 convs -> BN each (float,
    unquantized) -> cat -> one quantizer on the concatenation (2-bit, or a sign with
    `sign=True`) -> conv3x3 pad 0 -> BN -> sign -> flatten -> linear."""

    def __init__(self, sign: bool = False, c: int = 4):
        super().__init__()
        self.inp, self.stem, self.stem_bn, self.stem_act = _stem(c, pad=1)
        self.pw1, self.bn1 = _res_conv(c, c, 1, 2, 0, 1), nn.BatchNorm2d(c)
        self.pw2, self.bn2 = _res_conv(c, c, 1, 2, 0, 1), nn.BatchNorm2d(c)
        self.q = _const_act(1 if sign else 2, False)
        self.conv, self.bn, self.act = _res_conv(2 * c, c, 3, 1, 0, 1), nn.BatchNorm2d(c), _const_act(1, False)
        self.fc = qnn_linear(c * 2 * 2, 10)

    def forward(self, x):
        x = self.stem_act(self.stem_bn(self.stem(self.inp(x))))
        y = self.q(torch.cat([self.bn1(self.pw1(x)), self.bn2(self.pw2(x))], dim=1))
        z = self.act(self.bn(self.conv(y)))
        return self.fc(torch.flatten(z, 1))


class HeightCat(SharedQuant):
    """SharedQuant concatenating along the height (dim=2) instead: not a channel concat."""

    def __init__(self, c: int = 4):
        super().__init__("shared", False, True, c)
        self.conv = _res_conv(c, c, 3, 1, 0, 1)
        self.fc = qnn_linear(c * 6 * 2, 10)

    def forward(self, x):
        x = self.stem_act(self.stem_bn(self.stem(self.inp(x))))
        y = torch.cat([self.q_a(self.bn_a(self.conv_a(x))), self.q_b(self.bn_b(self.conv_b(x)))], dim=2)
        y = self.act(self.bn(self.conv(y)))
        return self.fc(torch.flatten(y, 1))


def _case(module: nn.Module, seed: int, description: str) -> Case:
    from bnn2hls.models import zoo

    zoo.randomize_batchnorm(module, seed)
    calibrate_activations(module, (3, 8, 8), seed)
    return Case(None, module, torch.zeros(1, 3, 8, 8), description)


def _seeded(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    def make(*args: Any, seed: int = 0, **kwargs: Any) -> nn.Module:
        torch.manual_seed(seed)
        return build(*args, **kwargs)

    return make


def shared_quant(seed: int = 0, quant_tensor: bool = False) -> Case:
    return _case(_seeded(SharedQuant)("shared", quant_tensor, seed=seed), seed,
                 f"cat of two branches through one 2-bit quantizer ({'QuantTensors' if quant_tensor else 'tensors'})")


def different_scales(seed: int = 0, scales: str = "pow2") -> Case:
    return _case(_seeded(SharedQuant)(scales, seed=seed), seed, f"cat of two 2-bit quantizers with their own {scales} scales")


def sign_and_conv(seed: int = 0) -> Case:
    return _case(_seeded(SignAndConv)(seed=seed), seed, "cat(x, sign(bn(conv(x)))), x a sign")


def reactnet_down(seed: int = 0, binary: bool = False) -> Case:
    return _case(_seeded(ReActNetDown)(binary, seed=seed), seed,
                 f"ReActNet downsampling: cat of two 1x1 s2 convs on one input ({'signs' if binary else 'one 2-bit quantizer'})")


def duplicate(seed: int = 0) -> Case:
    return _case(_seeded(Duplicate)(seed=seed), seed, "cat(x, x) of a 2-bit value")


def three_way(seed: int = 0) -> Case:
    return _case(_seeded(ThreeWay)(seed=seed), seed, "cat of a 1x1 conv, a 3x3 conv and the identity, all signs")


def mixed_sign_2bit(seed: int = 0) -> Case:
    return _case(_seeded(MixedSign2Bit)(seed=seed), seed, "cat(x, q2(bn(conv(x)))), a sign beside 2-bit values")


def cat_then_quant(seed: int = 0, sign: bool = False) -> Case:
    return _case(_seeded(CatThenQuant)(sign, seed=seed), seed,
                 f"cat of two float BN outputs, then one {'sign' if sign else '2-bit quantizer'} (ReActNet's order)")


def height_cat(seed: int = 0) -> Case:
    return _case(_seeded(HeightCat)(seed=seed), seed, "cat along the height (dim=2) of two 2-bit branches")


def cat_then_dense(seed: int = 0) -> Case:
    return _case(_seeded(SharedQuant)("shared", False, False, seed=seed), seed, "cat of one 2-bit quantizer, then the classifier")


BUILDERS: dict[str, Callable[[], Case]] = {
    "shared_quant": shared_quant,
    "shared_quant_qt": lambda: shared_quant(quant_tensor=True),
    "different_scales_pow2": lambda: different_scales(scales="pow2"),
    "different_scales_float": lambda: different_scales(scales="float"),
    "sign_and_conv": sign_and_conv,
    "reactnet_down": reactnet_down,
    "reactnet_down_binary": lambda: reactnet_down(binary=True),
    "duplicate": duplicate,
    "three_way": three_way,
    "cat_then_dense": cat_then_dense,
    "mixed_sign_2bit": mixed_sign_2bit,
    "cat_then_quant": cat_then_quant,
    "cat_then_sign": lambda: cat_then_quant(sign=True),
    "height_cat": height_cat,
}


def export(name: str, directory: Path) -> tuple[Path, Case]:
    """Build `name` (a key of BUILDERS) and export it with bnn2hls' export_qonnx to
    `directory`/`name`.onnx."""
    from bnn2hls.frontend.torch_export import export_qonnx

    case = BUILDERS[name]()
    Path(directory).mkdir(parents=True, exist_ok=True)
    return export_qonnx(case.module, case.example, Path(directory) / f"{name}.onnx"), case
