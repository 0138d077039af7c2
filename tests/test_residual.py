"""Residual networks from Brevitas: the importer turns a residual `Add` of two quantized
activations into a join and the quantizer after it into a standalone activation; the compiled
network's reference equals the QONNX executor running the export. Every pattern it cannot
compute exactly is refused with one error line naming the node."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bnn2hls import ir, reference
from bnn2hls.engines import qonnx_runner
from bnn2hls.flow.compiler import build_network
from bnn2hls.errors import UserError
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.frontend.torch_export import export_qonnx
from bnn2hls.passes import fold_thresholds

from .brevitas_nets import _const_act, _fixed_act, _res_conv, calibrate_activations, resnet_case
from .test_cli_errors import expect_error
from .test_property_brevitas import argmax_is_a_tie
from .test_topologies import suite_foldings

pytestmark = pytest.mark.tier("unit")


def _frames(n: int, seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Random frames, and every third on the 8-bit input quantizer's grid."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, *shape), dtype=np.float32) * 2.4 - 1.2
    x[::3] = rng.integers(-128, 128, (len(x[::3]), *shape)).astype(np.float32) / 128
    return x


def check_against_qonnx(case, tmp_path, frames: int = 8, shape: tuple[int, ...] = (3, 8, 8)):
    path = export_qonnx(case.module, case.example, tmp_path / "m.onnx")
    model = load_model(path)
    net = build_network(model, "m")
    x = _frames(frames, 5, shape)
    y, expect = reference.run(net, x), qonnx_runner.run(model, x)
    assert len({tuple(r) for r in expect.round(4)}) > 1, "the outputs should vary with the input"
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)
    assert ((y.argmax(1) == expect.argmax(1)) | argmax_is_a_tie(expect)).all()
    return net


@pytest.mark.parametrize("variant,bits", [("binary", 2), ("2bit", 2), pytest.param("2bit", 4, marks=pytest.mark.slow)])
def test_resnet_style_reference_equals_qonnx(variant, bits, tmp_path):
    """Three residual blocks, the second downsampling through a 1x1 strided shortcut conv."""
    net = check_against_qonnx(resnet_case(variant, seed=1, bits=bits), tmp_path)
    joins = [layer for layer in net.layers if isinstance(layer, ir.Join)]
    assert len(joins) == 3
    # every join is read by a standalone activation; the shortcut conv and the block inputs fork
    assert all(isinstance(c, ir.Threshold) for j in joins for c in net.consumers[j.name])
    assert any(len(net.consumers[name]) > 1 for name in net.consumers)
    downsample = net.layer(joins[1].inputs[1])
    assert isinstance(downsample, ir.Conv) and downsample.kernel == (1, 1) and downsample.stride == (2, 2)
    if variant == "binary":
        # sign bits of the stem added to 2-bit levels, a shifted join (scales 1.0 and 0.5)
        assert net.is_bipolar(net.layer(joins[0].inputs[1]))
        assert joins[2].shifts == (0, 1) and net.value_range(joins[2]) == (-3, 3)
        assert [net.layer(f"act{i}").out_levels for i in range(3)] == [0, 3, 4]
    else:
        # the shared quantizer re-applied to a QuantReLU's unsigned output: a standalone activation
        requant = [t for t in net.layers if isinstance(t, ir.Threshold) and not isinstance(net.producer(t), ir.Join)]
        assert requant and all(t.out_levels == 2**bits for t in requant)


class _SharedRequant(nn.Module):
    """A shared quantizer instance on both operands, re-applied to an input that already has its
    scale and range (no node), a binary shortcut, and a chain of BatchNorm, a per-channel gain
    and PReLU between the add and the sign."""

    def __init__(self):
        super().__init__()
        from bnn2hls.models.zoo import _input_quant_8bit

        self.inp = _input_quant_8bit()
        self.conv0 = _res_conv(3, 6, 3, 1, 1, 1)
        self.bn0 = nn.BatchNorm2d(6)
        self.q = _const_act(2)
        self.conv1 = _res_conv(6, 6, 3, 1, 1, 1)
        self.bn1 = nn.BatchNorm2d(6)
        self.bn_add = nn.BatchNorm2d(6)
        self.gain = nn.Parameter(torch.linspace(-1.5, 1.5, 6).reshape(1, 6, 1, 1))
        self.prelu = nn.PReLU(6, init=0.3)
        self.sign = _const_act(1, False)
        self.fc = _res_fc(6 * 8 * 8, 4)

    def forward(self, x):
        x = self.q(self.bn0(self.conv0(self.inp(x))))
        y = self.q(self.bn1(self.conv1(x)))
        z = self.sign(self.prelu(self.bn_add(y + self.q(x)) * self.gain))
        return self.fc(torch.flatten(z, 1))


def _res_fc(fin: int, fout: int):
    from bnn2hls.models.zoo import _linear

    return _linear(fin, fout, bias=True)


def _user_case(module: nn.Module, seed: int):
    from bnn2hls.models import zoo

    from .brevitas_nets import Case

    torch.manual_seed(seed)
    zoo.randomize_batchnorm(module, seed)
    calibrate_activations(module, (3, 8, 8), seed)
    return Case(None, module, torch.zeros(1, 3, 8, 8), type(module).__name__)


def test_shared_quantizer_and_a_chain_after_the_add(tmp_path):
    torch.manual_seed(0)
    net = check_against_qonnx(_user_case(_SharedRequant(), 0), tmp_path)
    (join,) = [layer for layer in net.layers if isinstance(layer, ir.Join)]
    assert join.inputs == ("conv1", "conv0")  # q(x) on x of the same scale and range: no node
    assert net.layer("act0").out_levels == 0 and net.layer("act0").flip.any()


class _BrevitasAdds(nn.Module):
    """The two other ways a Brevitas user writes a residual add: Brevitas' own QuantEltwiseAdd
    (an input quantizer on each operand, an output quantizer on the sum, then another
    quantizer re-applied to it), and a shared quantizer with a float scale and a zero point
    (ShiftedUint8, 3 bits) on two conv branches."""

    def __init__(self, kind: str):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import Int8ActPerTensorFixedPoint, ShiftedUint8ActPerTensorFloat
        from bnn2hls.models.zoo import _input_quant_8bit

        self.kind = kind
        self.inp = _input_quant_8bit()
        self.conv0, self.bn0, self.q0 = _res_conv(3, 4, 3, 1, 1, 1), nn.BatchNorm2d(4), _const_act(2, False)
        self.conv1, self.bn1 = _res_conv(4, 4, 3, 1, 1, 1), nn.BatchNorm2d(4)
        self.conv_s, self.bn_s = _res_conv(4, 4, 1, 1, 0, 1), nn.BatchNorm2d(4)
        if kind == "eltwise":
            self.add = qnn.QuantEltwiseAdd(input_quant=Int8ActPerTensorFixedPoint, output_quant=Int8ActPerTensorFixedPoint,
                                           input_bit_width=3, output_bit_width=3)
        else:
            self.q = qnn.QuantIdentity(act_quant=ShiftedUint8ActPerTensorFloat, bit_width=3)
        self.out = _const_act(2, False)
        self.fc = _res_fc(4 * 8 * 8, 3)

    def forward(self, x):
        x = self.q0(self.bn0(self.conv0(self.inp(x))))
        y, s = self.bn1(self.conv1(x)), self.bn_s(self.conv_s(x))
        z = self.add(y, s) if self.kind == "eltwise" else self.q(y) + self.q(s)
        return self.fc(torch.flatten(self.out(z), 1))


@pytest.mark.parametrize("kind", ["eltwise", "zero_point"])
def test_quant_eltwise_add_and_a_shared_zero_point_quantizer(kind, tmp_path):
    net = check_against_qonnx(_user_case(_BrevitasAdds(kind), 0), tmp_path)
    (join,) = [layer for layer in net.layers if isinstance(layer, ir.Join)]
    assert join.inputs == ("conv1", "conv2") and join.shifts == (0, 0)
    if kind == "zero_point":
        assert net.layer("conv1").out_offset != 0  # q - zero_point enters the sum


# ---------------------------------------------------------------------------------------
# The standalone activation's fold, on a hand-built join
# ---------------------------------------------------------------------------------------
def _join_net(scales, chain, act_quant=None, levels=0, offset=0):
    """input (3-bit) -> dense0 (levels -1..1) -+-> add (with the input) -> act -> dense1 -> head"""
    rng = np.random.default_rng(0)
    iq = ir.InputQuant(name="input", source_shape=(4,), preprocess=(), bits=3, scale=1.0, out_shape=(1, 1, 4))
    d0 = ir.Dense(name="dense0", in_shape=(1, 1, 4), out_channels=4, kernel=(1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
                  input_bits=3, weights=rng.random((4, 4)) < 0.5, acc_scale=np.ones(4, np.float32), binarize=True,
                  thresholds=np.array([[-2, 1]] * 4), flip=np.zeros(4, bool), out_levels=3, out_offset=-1,
                  inputs=("input",))
    join = ir.Join(name="add0", in_shape=(1, 1, 4), operand_scales=scales, inputs=("dense0", "input"))
    act = ir.Threshold(name="act0", in_shape=(1, 1, 4), chain=chain, act_quant=act_quant, out_levels=levels,
                       out_offset=offset, inputs=("add0",))
    d1 = ir.Dense(name="dense1", in_shape=(1, 1, 4), out_channels=2, kernel=(1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
                  input_bits=1 if not levels else ir.signed_width(offset, offset + levels - 1),
                  weights=rng.random((2, 4)) < 0.5, acc_scale=np.ones(2, np.float32), binarize=False, inputs=("act0",))
    head = ir.OutputHead(name="head", in_shape=(1, 1, 2), acc_scale=np.ones(2, np.float32), chain=(), inputs=("dense1",))
    return ir.Network("j", (iq, d0, join, act, d1, head))


def _affine(kind, values):
    return ir.AffineOp(kind=kind, params={"c": np.asarray(values, np.float32)})


def test_threshold_after_a_join_equals_the_float_evaluation():
    """Thresholds read off the exact evaluation equal a brute-force sweep over operand pairs."""
    chain = (_affine("mul", [1.0, -0.5, 2.0, 0.25]), _affine("add", [0.3, -0.7, 1.5, -0.2]))
    quant = ir.IntQuant(scale=0.5, zero_point=0, bits=2, signed=True, narrow=False)
    net = fold_thresholds(_join_net((1.0, 1.0), chain, quant, levels=4, offset=-2))
    act = net.layer("act0")
    for a in (-1, 0, 1):
        for b in range(-4, 4):
            y = ir.apply_chain(chain, np.full((1, 4), np.float32(a) + np.float32(b)))
            expect = quant.quantize(y)[0]
            got = reference.multi_threshold(act, np.full(4, a + b))
            np.testing.assert_array_equal(got, expect)


def test_float_rounding_of_the_add_is_refused():
    """Scales 0.1 and 0.2 (a power-of-two ratio, long significands): where fl32(a*0.1) +
    fl32(b*0.2) differs between pairs of one integer sum a + 2b and a sign sits exactly there,
    no threshold on the sum equals the source."""
    sa, sb = np.float32(0.2), np.float32(0.1)  # operand 0 is dense0 (levels), operand 1 the input
    for a in (-1, 0, 1):
        for b in range(-4, 4):
            for a2 in (-1, 0, 1):
                b2 = 2 * a + b - 2 * a2
                va = np.float32(np.float32(a * sa) + np.float32(b * sb))
                vb = np.float32(np.float32(a2 * sa) + np.float32(b2 * sb))
                if -4 <= b2 < 4 and va != vb:
                    chain = (_affine("sub", [max(va, vb)] * 4),)
                    net = _join_net((0.2, 0.1), chain)
                    net = net.replace_layer(ir.Join(**{**net.layer("add0").__dict__, "shifts": (1, 0)}))
                    with pytest.raises(UserError, match="layer 'act0'.*depends on how it is reached"):
                        fold_thresholds(net)
                    return
    pytest.fail("no pair of operand pairs with one sum and two float values")


def test_a_non_monotone_chain_after_a_join_is_refused():
    chain = (_affine("prelu", [-0.5] * 4), _affine("add", [-1.0] * 4))  # +, -, + along the sum
    with pytest.raises(UserError, match="layer 'act0'.*not monotone"):
        fold_thresholds(_join_net((1.0, 1.0), chain))


# ---------------------------------------------------------------------------------------
# Refused: one error line naming the node
# ---------------------------------------------------------------------------------------
class _Refused(nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        from bnn2hls.models.zoo import _input_quant_8bit

        self.kind = kind
        self.inp = _input_quant_8bit()
        self.conv0 = _res_conv(3, 4, 3, 1, 1, 1)
        self.bn0 = nn.BatchNorm2d(4)
        self.q0 = _const_act(2, False)
        self.conv1 = _res_conv(4, 4, 3, 1, 1, 1)
        self.bn1 = nn.BatchNorm2d(4)
        self.q1 = _const_act(2, False, max_val=0.75) if kind == "scales" else _const_act(2, False)
        self.conv2 = _res_conv(4, 4, 1, 1, 0, 1)
        self.q2 = _fixed_act(2)
        self.fc = _res_fc(4 * 8 * 8, 3)

    def forward(self, x):
        x = self.q0(self.bn0(self.conv0(self.inp(x))))
        y = self.bn1(self.conv1(x))
        if self.kind == "unquantized":  # Bi-Real style: the float BatchNorm output plus the shortcut
            s = y + x
        elif self.kind == "chained":
            s = (self.q1(y) + x) + x
        elif self.kind == "into_conv":
            s = self.conv2(self.q1(y) + x)
        else:
            s = self.q1(y) + x
        return self.fc(torch.flatten(self.q2(s), 1))


@pytest.mark.parametrize("kind,needles", [
    ("unquantized", ("(Add)", "residual Add of the unquantized output of 'conv1'", "quantize both operands")),
    ("scales", ("(Add)", "scale 0.75", "scale 1.0", "not a power of two", "shared quantizer")),
    ("chained", ("(Add)", "unquantized sum of the residual add 'add0' (from ", "is added again")),
    ("into_conv", ("(Conv, module conv2)", "unquantized sum of the residual add 'add0' (from ", "feeds this layer", "quantize the sum first")),
])
def test_refused_residual_patterns(kind, needles, tmp_path, capsys):
    torch.manual_seed(0)
    module = _Refused(kind)
    calibrate_activations(module, (3, 8, 8), 0, batches=2)
    path = export_qonnx(module, torch.zeros(1, 3, 8, 8), tmp_path / "m.onnx")
    expect_error(capsys, ["compile", path, "-o", tmp_path / "out"], *needles)
    assert not (tmp_path / "out").exists()



def test_demo_residual_model_reference_equals_qonnx(tmp_path):
    """The residual demo's model (untrained, BatchNorm randomized): BatchNorm on each sum, and
    in each block a zero-padded binary conv with a 2-bit output (per-class multi-thresholds)."""
    from bnn2hls.models import zoo

    module = zoo.randomize_batchnorm(zoo.mnist_resnet(True, (4, 8)), 3).eval()
    path = export_qonnx(module, torch.zeros(1, 1, 28, 28), tmp_path / "m.onnx")
    model = load_model(path)
    net = build_network(model, "m", target_fps=5000)
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(reference.run(net, x), qonnx_runner.run(model, x), rtol=1e-5, atol=1e-5)
    joins = [layer for layer in net.layers if isinstance(layer, ir.Join)]
    assert len(joins) == 2 and all(net.consumers[j.name][0].chain == () for j in joins)  # folded
    padded = [l for l in net.matrix_layers if l.popcount and l.pad_mode == "zero" and l.border is not None]
    assert [l.out_levels for l in padded] == [3, 3]  # each block's second conv


def test_demo_no_rtl_needs_residual(tmp_path, capsys):
    expect_error(capsys, ["demo", "--no-rtl", "-o", tmp_path / "d"], "--no-rtl", "--residual")


@pytest.mark.slow
def test_residual_demo_on_the_reference(tmp_path, capsys):
    from bnn2hls.flow.demo import run_residual_demo

    assert run_residual_demo(tmp_path / "d", seconds=30.0, rtl=False) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in lines if line.startswith(("residual ", "plain "))}
    assert "2 residual joins" in rows["residual"] and "0 residual joins" in rows["plain"]
    assert all("agreement 1000/1000" in row for row in rows.values())


class _DenseResidual(nn.Module):
    """A residual MLP: 1-D joins (the operands are dense layers' 2-bit outputs), and the
    accumulators of one layer quantized twice (refused)."""

    def __init__(self, twice: bool = False):
        super().__init__()
        from bnn2hls.models.zoo import _input_quant_8bit, _linear

        self.twice = twice
        self.inp = _input_quant_8bit()
        self.fc0, self.bn0, self.q0 = _linear(12, 16), nn.BatchNorm1d(16), _const_act(2, False)
        self.fc1, self.bn1, self.q1 = _linear(16, 16), nn.BatchNorm1d(16), _const_act(2, False)
        self.q2, self.out = _const_act(2, False, max_val=2.0), _const_act(1, False)
        self.fc2 = _linear(16, 4, bias=True)

    def forward(self, x):
        x = self.q0(self.bn0(self.fc0(self.inp(x))))
        y = self.bn1(self.fc1(x))
        s = self.q1(y) + (self.q2(y) if self.twice else x)
        return self.fc2(self.out(s))


def test_dense_residual_and_a_layer_quantized_twice(tmp_path, capsys):
    from bnn2hls.models import zoo

    from .brevitas_nets import Case

    module = zoo.randomize_batchnorm(_DenseResidual(), 2).eval()
    net = check_against_qonnx(Case(None, module, torch.zeros(1, 12), "dense residual"), tmp_path, shape=(12,))
    (join,) = [layer for layer in net.layers if isinstance(layer, ir.Join)]
    assert join.in_shape == (1, 1, 16) and join.inputs == ("dense1", "dense0")
    path = export_qonnx(zoo.randomize_batchnorm(_DenseResidual(twice=True), 2).eval(), torch.zeros(1, 12), tmp_path / "t.onnx")
    expect_error(capsys, ["compile", path, "-o", tmp_path / "out"], "(Quant", "output of 'dense1' (from ", "is quantized a second time")


def test_join_of_two_sign_bits_with_a_shift_and_falling_channels():
    """Sums of sign bits are not contiguous ((+-1 << 1) + +-1: -3, -1, 1, 3); thresholds sit on
    reachable sums, and a falling chain sets the flip."""
    net = _join_net((1.0, 1.0), ())
    iq = ir.InputQuant(name="input", source_shape=(4,), preprocess=(), bits=1, scale=1.0, out_shape=(1, 1, 4))
    d0 = net.layer("dense0")
    d0 = ir.Dense(**{**d0.__dict__, "input_bits": 1, "thresholds": np.array([0, 1, -1, 2]), "out_levels": 0,
                     "out_offset": 0})
    chain = (_affine("mul", [1.0, -1.0, 0.5, -2.0]), _affine("add", [0.5, 0.5, -1.0, 2.5]))
    join = ir.Join(name="add0", in_shape=(1, 1, 4), operand_scales=(2.0, 1.0), shifts=(1, 0), inputs=("dense0", "input"))
    act = ir.Threshold(name="act0", in_shape=(1, 1, 4), chain=chain, inputs=("add0",))
    net = ir.validate(ir.Network("j", (iq, d0, join, act, *net.layers[4:])))
    act = fold_thresholds(net).layer("act0")
    assert list(act.flip) == [False, True, False, True]
    for a in (-1, 1):
        for b in (-1, 1):
            source = ir.apply_chain(chain, np.full((1, 4), np.float32(a * 2.0) + np.float32(b)))[0] >= 0
            np.testing.assert_array_equal(reference.threshold_layer(act, np.full(4, 2 * a + b)), source)


@pytest.mark.parametrize("variant", ["binary", pytest.param("2bit", marks=pytest.mark.slow)])
@suite_foldings(30000)
@pytest.mark.tier("e2e")
def test_resnet_style_through_every_engine(variant, folding, tmp_path):
    """Issue 12's residual acceptance net at two foldings (the default one in the slow suite):
    ref, hls, rtl and rtl with 40 % input gaps and 50 % output stalls equal QONNX; the RTL's
    cycles per frame equal the estimate."""
    from .test_topologies import check_topology

    docs = check_topology(resnet_case(variant, seed=1).module, (3, 8, 8), tmp_path, folding, frames=4)
    assert [e["kind"] for e in docs[0]["layers"]].count("add") == 3
