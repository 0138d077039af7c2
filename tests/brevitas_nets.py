"""Small Brevitas nets written the way a user writes them, drawn from a seed.

`draw(seed)` returns a `Case`: the module (eval mode, input quantizer calibrated, BatchNorm
statistics randomized), an example input, a one-line description, and `inputs(n)`, frames that
exercise the whole input quantizer range (zeros, the top codes >= 2^(bits-1), negatives,
values past both clamps). Everything follows from the seed, so a failure is reproduced by
`python -m tests.test_property_brevitas SEED`.

What is mixed:
  input quantizer  Int8ActPerTensorFloat, Uint8ActPerTensorFloat, the same with bit_width=4,
                   ShiftedUint8ActPerTensorFloat (a non-zero zero point), SignedBinaryActPerTensorConst;
                   sometimes a float pre-scaling `x * self.in_gain + self.in_offset` before it
  weight scales    SignedBinaryWeightPerTensorConst (0.1), the same with another constant,
                   per-output-channel (mean |w|) binary scales
  after a conv     bias, BatchNorm2d (random stats, negative gammas), `+ self.shift` and
                   `* self.gain` nn.Parameters shaped (C,1,1), (1,C,1,1), or -- on purpose -- (C,)
                   with W == C (broadcasts along W) and (C,1) with H == C (broadcasts along H)
  then             the sign (SignedBinaryActPerTensorConst), an optional 2x2 max-pool, flatten,
                   an optional hidden QuantLinear + BatchNorm1d + sign, a QuantLinear head

Every conv -> sign gets an offset (BatchNorm, bias or shift) that makes exact accumulator ties
improbable, except in `tie_case()`, the one net built to have them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

INPUT_QUANTS = ("int8", "uint8", "uint4", "shifted_uint8", "binary")


def _input_quant(kind: str):
    import brevitas.nn as qnn
    from brevitas.quant import (Int8ActPerTensorFloat, ShiftedUint8ActPerTensorFloat, SignedBinaryActPerTensorConst,
                                Uint8ActPerTensorFloat)

    if kind == "int8":
        return qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat)
    if kind == "uint8":
        return qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat)
    if kind == "uint4":
        return qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, bit_width=4)
    if kind == "shifted_uint8":
        return qnn.QuantIdentity(act_quant=ShiftedUint8ActPerTensorFloat)
    if kind == "binary":
        return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
    raise ValueError(kind)


def _sign():
    import brevitas.nn as qnn
    from brevitas.quant import SignedBinaryActPerTensorConst

    return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)


def _weight_quant(kind: str):
    from brevitas.inject.enum import ScalingImplType, StatsOp
    from brevitas.quant import SignedBinaryWeightPerTensorConst

    if kind == "tensor":  # the stock quantizer: a constant 0.1
        return SignedBinaryWeightPerTensorConst
    if kind == "tensor_const":
        return SignedBinaryWeightPerTensorConst.let(scaling_const=0.37)
    if kind == "channel":  # XNOR-Net gains: mean |w| per output channel
        return SignedBinaryWeightPerTensorConst.let(scaling_impl_type=ScalingImplType.STATS, scaling_stats_op=StatsOp.AVE,
                                                    scaling_per_output_channel=True)
    raise ValueError(kind)


@dataclass
class ConvBlock:
    cout: int
    k: int
    stride: int
    pad: int
    wq: str
    bias: bool
    bn: bool
    shift: str | None  # None, "c11", "1c11", "c" (broadcasts along W), "c1" (broadcasts along H)
    gain: str | None
    pool: bool


@dataclass
class Spec:
    seed: int
    quant: str
    cin: int
    h: int
    w: int
    pre: bool  # x * in_gain + in_offset on the raw input
    convs: list[ConvBlock] = field(default_factory=list)
    hidden: int | None = None  # a QuantLinear + BatchNorm1d + sign before the head
    hidden_shift: bool = False  # + nn.Parameter((F,)) on the hidden linear's output (correct per-feature)
    head_wq: str = "tensor"
    head_bias: bool = True
    outputs: int = 3

    def tags(self) -> list[str]:
        """Features a failure is likely about, for the tally."""
        tags = []
        if any(form in ("c", "c1") for b in self.convs for form in (b.shift, b.gain)):
            tags.append("param-broadcasts-along-H/W")
        if self.quant in ("uint8", "uint4", "shifted_uint8"):
            tags.append("unsigned-input" + ("-zero-point" if self.quant == "shifted_uint8" else ""))
        return tags

    def describe(self) -> str:
        parts = [f"seed={self.seed}", f"in={self.quant}[{self.cin}x{self.h}x{self.w}]" + ("+pre" if self.pre else "")]
        for b in self.convs:
            s = f"conv{b.k}x{b.k}/s{b.stride}/p{b.pad}->{b.cout} w:{b.wq}"
            s += "+bias" * b.bias + "+bn" * b.bn
            s += f"+shift{b.shift}" if b.shift else ""
            s += f"*gain{b.gain}" if b.gain else ""
            s += " sign" + " pool" * b.pool
            parts.append(s)
        if self.hidden:
            parts.append(f"fc->{self.hidden}+bn1d" + ("+shift(F,)" if self.hidden_shift else "") + " sign")
        parts.append(f"head->{self.outputs} w:{self.head_wq}" + "+bias" * self.head_bias)
        return " | ".join(parts)


def _param(shape_kind: str, c: int, values: torch.Tensor) -> nn.Parameter:
    shape = {"c11": (c, 1, 1), "1c11": (1, c, 1, 1), "c": (c,), "c1": (c, 1)}[shape_kind]
    return nn.Parameter(values.reshape(shape).clone())


class UserNet(nn.Module):
    """A network as a user writes it: Brevitas layers plus plain torch ops in forward()."""

    def __init__(self, spec: Spec):
        super().__init__()
        import brevitas.nn as qnn

        gen = torch.Generator().manual_seed(spec.seed)
        self.spec = spec
        if spec.pre:
            self.in_gain = nn.Parameter(torch.tensor(1.5))
            self.in_offset = nn.Parameter(torch.tensor(-0.25))
        self.inp = _input_quant(spec.quant)
        self.convs, self.bns, self.signs = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        self.shifts, self.gains = nn.ParameterList(), nn.ParameterList()
        c = spec.cin
        for b in spec.convs:
            self.convs.append(qnn.QuantConv2d(c, b.cout, b.k, stride=b.stride, padding=b.pad, bias=b.bias,
                                              weight_quant=_weight_quant(b.wq)))
            self.bns.append(nn.BatchNorm2d(b.cout) if b.bn else nn.Identity())
            self.shifts.append(_param(b.shift, b.cout, torch.randn(b.cout, generator=gen)) if b.shift
                               else nn.Parameter(torch.zeros(0), requires_grad=False))
            g = (torch.rand(b.cout, generator=gen) + 0.5) * torch.where(torch.rand(b.cout, generator=gen) < 0.3, -1.0, 1.0)
            self.gains.append(_param(b.gain, b.cout, g) if b.gain else nn.Parameter(torch.zeros(0), requires_grad=False))
            self.signs.append(_sign())
            c = b.cout
        self.flat_features = self._flat_features(spec)
        f = self.flat_features
        if spec.hidden:
            self.fc = qnn.QuantLinear(f, spec.hidden, bias=False, weight_quant=_weight_quant("tensor"))
            self.bn1d = nn.BatchNorm1d(spec.hidden)
            if spec.hidden_shift:
                self.fc_shift = nn.Parameter(torch.randn(spec.hidden, generator=gen))
            self.fc_sign = _sign()
            f = spec.hidden
        self.head = qnn.QuantLinear(f, spec.outputs, bias=spec.head_bias, weight_quant=_weight_quant(spec.head_wq))

    @staticmethod
    def _flat_features(spec: Spec) -> int:
        c, h, w = spec.cin, spec.h, spec.w
        for b in spec.convs:
            h, w, c = (h + 2 * b.pad - b.k) // b.stride + 1, (w + 2 * b.pad - b.k) // b.stride + 1, b.cout
            if b.pool:
                h, w = h // 2, w // 2
        return c * h * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spec.pre:
            x = x * self.in_gain + self.in_offset
        x = self.inp(x)
        for i, b in enumerate(self.spec.convs):
            x = self.bns[i](self.convs[i](x))
            if b.shift:
                x = x + self.shifts[i]
            if b.gain:
                x = x * self.gains[i]
            x = self.signs[i](x)
            if b.pool:
                x = nn.functional.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        if self.spec.hidden:
            x = self.bn1d(self.fc(x))
            if self.spec.hidden_shift:
                x = x + self.fc_shift
            x = self.fc_sign(x)
        return self.head(x)


def _out(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


def draw_spec(seed: int) -> Spec:
    rng = np.random.default_rng(seed)
    quant = INPUT_QUANTS[rng.integers(len(INPUT_QUANTS))]
    spec = Spec(seed=seed, quant=quant, cin=int(rng.integers(1, 4)), h=int(rng.integers(4, 9)), w=int(rng.integers(4, 9)),
                pre=bool(rng.random() < 0.2))
    h, w = spec.h, spec.w
    for _ in range(int(rng.integers(1, 3))):
        k = int(rng.integers(1, 4))
        stride = int(rng.integers(1, 3))
        pad = int(rng.integers(0, 2))
        if min(h, w) + 2 * pad < k:
            break
        oh, ow = _out(h, k, stride, pad), _out(w, k, stride, pad)
        shift = [None, "c11", "1c11"][rng.integers(3)]
        gain = [None, None, "c11", "1c11"][rng.integers(4)]
        if rng.random() < 0.15:  # the user mistake: a (C,) or (C,1) parameter on an NCHW tensor
            misplaced = ["c", "c1"][rng.integers(2)]
            if rng.random() < 0.5:
                shift = misplaced
            else:
                gain = misplaced
        # (C,) only broadcasts when W == C, (C,1) only when H == C: choose C so, or drop the form
        wanted = {ow if "c" in (shift, gain) else None, oh if "c1" in (shift, gain) else None} - {None}
        if len(wanted) > 1 or any(not 2 <= v <= 8 for v in wanted):
            shift = None if shift in ("c", "c1") else shift
            gain = None if gain in ("c", "c1") else gain
            wanted = set()
        cout = wanted.pop() if wanted else int(rng.integers(2, 9))
        bias = bool(rng.random() < 0.4)
        bn = bool(rng.random() < 0.6)
        if not (bn or bias or shift):  # an offset keeps exact accumulator ties improbable
            bn = True
        pool = bool(min(oh, ow) >= 2 and rng.random() < 0.4)
        spec.convs.append(ConvBlock(cout=cout, k=k, stride=stride, pad=pad, wq=["tensor", "tensor_const", "channel"][rng.integers(3)],
                                    bias=bias, bn=bn, shift=shift, gain=gain, pool=pool))
        h, w = (oh // 2, ow // 2) if pool else (oh, ow)
    if rng.random() < 0.35:
        spec.hidden = int(rng.integers(2, 9))
        spec.hidden_shift = bool(rng.random() < 0.5)
    spec.head_wq = ["tensor", "channel"][rng.integers(2)]
    spec.head_bias = bool(rng.random() < 0.6)
    spec.outputs = int(rng.integers(2, 6))
    return spec


def randomize_batchnorm(module: nn.Module, seed: int) -> None:
    """Statistics on the scale of the accumulators they follow, gammas of both signs (as in zoo)."""
    gen = torch.Generator().manual_seed(seed + 7919)
    fan_in, scale = 1, 1.0
    with torch.no_grad():
        for m in module.modules():
            if hasattr(m, "quant_weight") and m.weight.dim() >= 2:
                fan_in = m.weight[0].numel()
                scale = float(m.quant_weight().scale.abs().mean())
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.running_mean.numel()
                spread = fan_in**0.5 * scale
                m.running_mean.copy_(torch.randn(n, generator=gen) * spread * 0.5)
                m.running_var.copy_(torch.rand(n, generator=gen) * spread**2 + 0.01)
                sign = torch.where(torch.rand(n, generator=gen) < 0.3, -1.0, 1.0)
                m.weight.copy_(sign * (torch.rand(n, generator=gen) + 0.2))
                m.bias.copy_(torch.randn(n, generator=gen) * 0.5)


@dataclass
class Case:
    spec: Spec | None
    module: nn.Module
    example: torch.Tensor
    description: str

    def inputs(self, n: int = 8) -> np.ndarray:
        return input_frames(self.module, tuple(self.example.shape[1:]), n, seed=self.spec.seed if self.spec else 0)


def build(spec: Spec) -> Case:
    torch.manual_seed(spec.seed)
    module = UserNet(spec)
    calibrate_input_quant(module, (spec.cin, spec.h, spec.w), spec.seed)
    randomize_batchnorm(module, spec.seed)
    module.eval()
    return Case(spec, module, torch.zeros(1, spec.cin, spec.h, spec.w), spec.describe())


def draw(seed: int) -> Case:
    return build(draw_spec(seed))


def calibrate_input_quant(module: nn.Module, shape: tuple[int, ...], seed: int) -> None:
    """Let the input quantizer collect its runtime statistics (scale, zero point) on a few batches;
    everything else stays in eval mode, so BatchNorm statistics are untouched."""
    module.eval()
    module.inp.train()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(40):
            module.inp(torch.randn(8, *shape, generator=gen) * 2.0 + 0.5)
    module.inp.eval()


def _quant_params(module: nn.Module):
    """(scale, zero_point, bits, signed) of the input quantizer, in the quantizer's input space."""
    q = module.inp
    if not q.act_quant.is_quant_enabled:
        return None
    scale = float(q.act_quant.scale())
    zp = float(q.act_quant.zero_point())
    bits = int(q.act_quant.bit_width())
    signed = bool(q.act_quant.is_signed)
    return scale, zp, bits, signed


def input_frames(module: nn.Module, shape: tuple[int, ...], n: int, seed: int) -> np.ndarray:
    """Frames covering the quantizer's full range: all zeros, the top code, random codes on the
    grid (so q >= 2^(bits-1) is reached for unsigned inputs), values past both clamps,
    negatives, and exact zeros sprinkled in."""
    rng = np.random.default_rng(seed + 104729)
    scale, zp, bits, signed = _quant_params(module)
    if bits == 1:
        lo, hi, codes = -1.0, 1.0, None
    else:
        qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        lo, hi = (qmin - zp) * scale, (qmax - zp) * scale
        codes = (qmin, qmax)
    frames = []
    for i in range(n):
        kind = i % 4
        if kind == 0 and codes:  # top code everywhere in half the frame, zeros elsewhere
            x = np.where(rng.random(shape) < 0.5, hi, 0.0)
        elif kind == 1 and codes:  # random codes on the grid, biased to the upper half
            q = rng.integers(codes[0] + (codes[1] - codes[0]) // 2, codes[1] + 1, shape)
            q = np.where(rng.random(shape) < 0.3, rng.integers(codes[0], codes[1] + 1, shape), q)
            x = (q - zp) * scale
        elif kind == 2:  # past both clamps, negatives included
            span = hi - lo
            x = rng.uniform(lo - 0.3 * span - 0.5, hi + 0.3 * span + 0.5, shape)
        else:
            x = rng.standard_normal(shape) * max(abs(lo), abs(hi), 1.0)
        x = np.where(rng.random(shape) < 0.1, 0.0, x)
        frames.append(x)
    x = np.asarray(frames, np.float32)
    spec = getattr(module, "spec", None)
    if spec is not None and spec.pre:  # frames are in the quantizer's space; map back to the raw input
        x = ((x - module.in_offset.item()) / module.in_gain.item()).astype(np.float32)
        x[:, ..., 0] = 0.0
    return x


# ---------------------------------------------------------------------------------------
# The one net built to have float accumulator ties (conv -> sign, weight scale 0.1, no offset)
# ---------------------------------------------------------------------------------------
class TieNet(nn.Module):
    def __init__(self, cin: int = 2, cout: int = 4, size: int = 5):
        super().__init__()
        import brevitas.nn as qnn

        self.inp = _input_quant("binary")
        # fan-in 2 * 2 * 2 = 8 (even): +-1 inputs can sum to exactly 0
        self.conv0 = qnn.QuantConv2d(cin, cout, 2, bias=False, weight_quant=_weight_quant("tensor"))
        self.sign = _sign()
        self.head = qnn.QuantLinear(cout * (size - 1) ** 2, 3, bias=True, weight_quant=_weight_quant("tensor"))

    def forward(self, x):
        return self.head(torch.flatten(self.sign(self.conv0(self.inp(x))), 1))


def tie_case(seed: int = 0) -> Case:
    torch.manual_seed(seed)
    module = TieNet().eval()
    return Case(None, module, torch.zeros(1, 2, 5, 5), "tie net: binary in | conv2x2 w:tensor(0.1), no offset, sign | head")


# ---------------------------------------------------------------------------------------
# Depthwise-separable nets (MobileNet's block: a depthwise 3x3 conv, then a pointwise 1x1)
# ---------------------------------------------------------------------------------------
class DepthwiseSeparableNet(nn.Module):
    """As a Brevitas user writes a depthwise-separable BNN: a first conv on the 8-bit input,
    then depthwise (QuantConv2d(C, C, 3, groups=C), zero padding) -> BatchNorm -> quantizer and
    pointwise (1x1) -> BatchNorm -> quantizer, twice, the second depthwise conv with stride 2,
    and a flatten + linear head. `bits` 1: binary weights and sign activations (XNOR-popcount,
    border corrections per channel); 2: 2-bit weights and activations."""

    def __init__(self, bits: int = 1, channels: tuple[int, int] = (8, 16), size: int = 8, outputs: int = 10,
                 head: str = "flatten"):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat

        c0, c1 = channels
        if bits == 1:
            wq: dict = {"weight_quant": _weight_quant("channel")}

            def act():
                return _sign()
        else:
            wq = {"weight_quant": Int8WeightPerTensorFloat, "weight_bit_width": bits}

            def act():
                return qnn.QuantIdentity(bit_width=bits, return_quant_tensor=False)
        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat)
        self.conv0 = qnn.QuantConv2d(3, c0, 3, padding=1, bias=False, **wq)
        self.bn0, self.act0 = nn.BatchNorm2d(c0), act()
        self.dw1 = qnn.QuantConv2d(c0, c0, 3, padding=1, groups=c0, bias=False, **wq)
        self.bn1, self.act1 = nn.BatchNorm2d(c0), act()
        self.pw1 = qnn.QuantConv2d(c0, c1, 1, bias=False, **wq)
        self.bn2, self.act2 = nn.BatchNorm2d(c1), act()
        self.dw2 = qnn.QuantConv2d(c1, c1, 3, stride=2, padding=1, groups=c1, bias=True, **wq)
        self.bn3, self.act3 = nn.BatchNorm2d(c1), act()
        self.pw2 = qnn.QuantConv2d(c1, c1, 1, bias=False, **wq)
        self.bn4, self.act4 = nn.BatchNorm2d(c1), act()
        self.head = head  # "flatten": flatten + linear; "gap": global average pool (x.mean((2, 3))) + linear
        features = c1 if head == "gap" else c1 * (size // 2) ** 2
        self.fc = qnn.QuantLinear(features, outputs, bias=True, weight_quant=_weight_quant("tensor"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act0(self.bn0(self.conv0(self.inp(x))))
        x = self.act1(self.bn1(self.dw1(x)))
        x = self.act2(self.bn2(self.pw1(x)))
        x = self.act3(self.bn3(self.dw2(x)))
        x = self.act4(self.bn4(self.pw2(x)))
        return self.fc(x.mean((2, 3)) if self.head == "gap" else torch.flatten(x, 1))


def depthwise_case(bits: int = 1, seed: int = 0, size: int = 8, head: str = "flatten") -> Case:
    """A `DepthwiseSeparableNet` with randomized BatchNorm and calibrated quantizers."""
    torch.manual_seed(seed)
    module = DepthwiseSeparableNet(bits, size=size, head=head)
    randomize_batchnorm(module, seed)
    module.train()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # calibrate the activation quantizers' scales (BatchNorm keeps its statistics)
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
        for _ in range(4):
            module(torch.randn(16, 3, size, size, generator=gen))
    module.eval()
    return Case(None, module, torch.zeros(1, 3, size, size), f"depthwise-separable, {bits}-bit")


# Residual nets (ResNet-style), written as a Brevitas user writes them
# ---------------------------------------------------------------------------------------
RESNET_VARIANTS = ("binary", "2bit")


def _fixed_act(bits: int, signed: bool = True):
    """A learned power-of-two-scale quantizer (Brevitas' fixed-point activation quantizers),
    as QuantIdentity, or as QuantReLU when unsigned. Plain tensors out: operands of different
    (power-of-two) scales are added as floats."""
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFixedPoint, Uint8ActPerTensorFixedPoint

    if signed:
        return qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=bits)
    return qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=bits)


def _const_act(bits: int, quant_tensor: bool = True, max_val: float = 1.0):
    """BNN-PYNQ's activation quantizer: a constant scale (max_val / (2^(bits-1) - 1): 1.0 for 2
    bits, levels -1, 0, +1; a sign for 1 bit); QuantTensors out by default (added as
    QuantTensors of one scale)."""
    import brevitas.nn as qnn
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant

    return qnn.QuantIdentity(act_quant=CommonActQuant, bit_width=bits, min_val=-max_val, max_val=max_val,
                             return_quant_tensor=quant_tensor)


def _res_conv(cin: int, cout: int, k: int, stride: int, padding: int, weight_bits: int):
    import brevitas.nn as qnn
    from brevitas_examples.bnn_pynq.models.common import CommonWeightQuant

    return qnn.QuantConv2d(cin, cout, k, stride=stride, padding=padding, bias=False, weight_quant=CommonWeightQuant,
                           weight_bit_width=weight_bits)


class ResidualBlock(nn.Module):
    """conv3x3 -> BN -> inner activation -> conv3x3 -> BN -> q, plus the shortcut, then `out`.

    The residual quantizer `q` is one instance, applied to both operands of the add (a shared
    quantizer, so both have its scale): to the main branch, and to the shortcut -- the 1x1
    strided conv + BN of a downsampling block, or the block input itself (`requant_input`; a
    re-application that changes nothing where the input already has q's scale and range).
    Without `requant_input`, the block input is added as it is (its scale must then be a
    power-of-two multiple of q's: constant scales, or fixed-point quantizers).

    `binary_inner`: the inner activation is a sign and conv2 reads it with the FBNA pad
    pattern (AlternatingPad2d), as a binary net trained for this hardware does."""

    def __init__(self, cin: int, cout: int, stride: int, weight_bits: int, inner, q, out, requant_input: bool,
                 binary_inner: bool):
        super().__init__()
        from bnn2hls.models.nn import AlternatingPad2d

        self.conv1 = _res_conv(cin, cout, 3, stride, 1, weight_bits)
        self.bn1 = nn.BatchNorm2d(cout)
        self.inner = inner
        self.pad2 = AlternatingPad2d(1) if binary_inner else nn.Identity()
        self.conv2 = _res_conv(cout, cout, 3, 1, 0 if binary_inner else 1, weight_bits)
        self.bn2 = nn.BatchNorm2d(cout)
        self.q = q
        self.downsample = stride != 1 or cin != cout
        if self.downsample:
            self.conv_s = _res_conv(cin, cout, 1, stride, 0, weight_bits)
            self.bn_s = nn.BatchNorm2d(cout)
        self.requant_input = requant_input
        self.out = out

    def forward(self, x):
        y = self.q(self.bn2(self.conv2(self.pad2(self.inner(self.bn1(self.conv1(x)))))))
        if self.downsample:
            s = self.q(self.bn_s(self.conv_s(x)))
        else:
            s = self.q(x) if self.requant_input else x
        return self.out(y + s)


class ResNetStyle(nn.Module):
    """8-bit input -> stem conv -> three residual blocks (the second downsamples with a 1x1
    strided shortcut conv) -> flatten -> a binary-weight classifier.

    variant "binary": binary weights; signs between the convs of a block (FBNA-padded
      conv2), 2-bit constant-scale residual quantizers (levels -1, 0, +1), the stem's and first
      block's sign bits added to 2-bit values (a binary shortcut), a sign after the first add,
      a 2-bit QuantIdentity after the second, a QuantReLU (unsigned 2-bit) after the last; the
      last block's residual quantizer has scale 0.5 against its input's 1.0 (a shifted join).
    variant "2bit": 2-bit (ternary) weights, learned power-of-two-scale 2-bit quantizers
      (fixed point: the operands' scales differ by powers of two, so the joins shift), a
      shared quantizer re-applied to each block input (requantizing the previous QuantReLU's
      unsigned values to signed ones), QuantReLU after every add, `bits` for the residual
      quantizers."""

    def __init__(self, variant: str = "binary", channels: tuple[int, int] = (8, 16), bits: int = 2, classes: int = 10):
        super().__init__()
        from bnn2hls.models.zoo import _input_quant_8bit

        c1, c2 = channels
        self.inp = _input_quant_8bit()
        if variant == "binary":
            self.stem = _res_conv(3, c1, 3, 1, 1, 1)
            self.stem_bn = nn.BatchNorm2d(c1)
            self.stem_act = _const_act(1)
            self.blocks = nn.Sequential(
                ResidualBlock(c1, c1, 1, 1, _const_act(1, False), _const_act(2), _const_act(1), False, True),
                ResidualBlock(c1, c2, 2, 1, _const_act(1, False), _const_act(2), _const_act(2), False, True),
                ResidualBlock(c2, c2, 1, 1, _const_act(1, False), _const_act(2, False, 0.5), _fixed_act(2, signed=False),
                              False, True),
            )
        elif variant == "2bit":
            self.stem = _res_conv(3, c1, 3, 1, 1, 2)
            self.stem_bn = nn.BatchNorm2d(c1)
            self.stem_act = _fixed_act(2, signed=False)
            self.blocks = nn.Sequential(*(
                ResidualBlock(cin, cout, stride, 2, _fixed_act(2), _fixed_act(bits), _fixed_act(2, signed=False), True, False)
                for cin, cout, stride in ((c1, c1, 1), (c1, c2, 2), (c2, c2, 1))))
        else:
            raise ValueError(variant)
        self.fc = qnn_linear(c2 * 4 * 4, classes)
        if variant == "2bit":  # ternary weights with the constant scale 1.0 need latent weights of that size
            with torch.no_grad():
                for m in self.modules():
                    if isinstance(m, nn.Conv2d):
                        m.weight.uniform_(-1.0, 1.0)

    def forward(self, x):
        x = self.stem_act(self.stem_bn(self.stem(self.inp(x))))
        x = self.blocks(x)
        return self.fc(torch.flatten(x, 1))


def qnn_linear(fin: int, fout: int):
    from bnn2hls.models.zoo import _linear

    return _linear(fin, fout, bias=True)


def calibrate_activations(module: nn.Module, shape: tuple[int, ...], seed: int, batches: int = 40) -> None:
    """Let every activation quantizer with learned (statistics-initialized) scales collect its
    statistics on a few random batches, BatchNorm statistics untouched (eval mode)."""
    gen = torch.Generator().manual_seed(seed)
    module.train()
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    with torch.no_grad():
        for _ in range(batches):
            module(torch.rand(8, *shape, generator=gen) * 2.2 - 1.1)
    module.eval()


def resnet_case(variant: str = "binary", seed: int = 0, bits: int = 2) -> Case:
    """A ResNet-style net (see `ResNetStyle`) on 3x8x8 inputs, BatchNorm randomized."""
    from bnn2hls.models import zoo

    torch.manual_seed(seed)
    module = ResNetStyle(variant, bits=bits)
    zoo.randomize_batchnorm(module, seed)
    calibrate_activations(module, (3, 8, 8), seed)
    return Case(None, module, torch.zeros(1, 3, 8, 8), f"resnet-style {variant} ({bits}-bit residual quantizers)")
