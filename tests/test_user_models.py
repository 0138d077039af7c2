"""Small models written the way a user writes them, one per way the tool could give a wrong
answer silently. Each either is refused at compile time (exit 2, one `error:` line naming the
culprit), warned about, or equals the QONNX executor in every engine.

  1. unsigned input quantizers (Uint8ActPerTensorFloat, 4-bit, a non-zero zero point) on inputs
     whose codes reach q >= 2^(bits-1);
  2. a `nn.Parameter(torch.randn(C))` added to an NCHW conv output broadcasts along W, not C
     (and a (C, 1) one along H): refuse or equal QONNX; the (C, 1, 1) form is per-channel;
  3. conv -> sign with a float weight scale (0.1) and no BatchNorm: reachable accumulator ties
     are decided by float rounding; compile must say so (`warning: ...` naming the layer);
  4. NaN/Inf inputs: every engine refuses them.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bnn2hls import cli
from bnn2hls.engines import qonnx_runner
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.frontend.torch_export import export_qonnx

from . import brevitas_nets
from .test_property_brevitas import argmax_is_a_tie

pytestmark = pytest.mark.tier("e2e")

SIM_ENGINES = ("ref", "rtl", "hls")


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def _compile(module: nn.Module, example: torch.Tensor, tmp: Path):
    tmp.mkdir(parents=True, exist_ok=True)
    module.eval()
    path = export_qonnx(module, example, tmp / "model.onnx")
    rc, _, err = _cli(["compile", path, "-o", tmp / "out"])
    return rc, err, tmp / "out", load_model(path)


def _run(out: Path, x: np.ndarray, engine: str, tmp: Path) -> tuple[int, str, np.ndarray | None]:
    np.save(tmp / "x.npy", x.astype(np.float32))
    y_path = tmp / f"y_{engine}.npy"
    rc, _, err = _cli(["run", out, "--input", tmp / "x.npy", "--engine", engine, "-o", y_path])
    return rc, err, (np.load(y_path) if rc == 0 else None)


def _assert_equals_qonnx(out: Path, model, x: np.ndarray, tmp: Path, engines=SIM_ENGINES) -> None:
    expect = qonnx_runner.run(model, x)
    assert len({tuple(r) for r in expect.round(5)}) > 1, "the outputs should vary with the input"
    for engine in engines:
        rc, err, y = _run(out, x, engine, tmp)
        assert rc == 0, f"{engine}: {err}"
        np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5, err_msg=f"engine {engine} differs from QONNX")
        same = (y.argmax(1) == expect.argmax(1)) | argmax_is_a_tie(expect)
        assert same.all(), f"engine {engine}: argmax differs from QONNX"


def _refused_or_equal(rc: int, err: str, op: str, out: Path, model, x: np.ndarray, tmp: Path) -> None:
    lines = err.strip().splitlines()
    if rc == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), lines
        assert f"({op})" in lines[0] or f"({op}, module " in lines[0], f"the error should name the {op} node: {lines[0]}"
        assert not out.exists()
        return
    assert rc == 0, lines
    _assert_equals_qonnx(out, model, x, tmp)


# ---------------------------------------------------------------------------------------
# 1. Unsigned input quantizers, read as unsigned everywhere
# ---------------------------------------------------------------------------------------
class UnsignedInputNet(nn.Module):
    def __init__(self, act_quant, **quant_kwargs):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

        self.inp = qnn.QuantIdentity(act_quant=act_quant, **quant_kwargs)
        self.conv = qnn.QuantConv2d(2, 6, 3, padding=1, bias=True, weight_quant=SignedBinaryWeightPerTensorConst)
        self.bn = nn.BatchNorm2d(6)
        self.sign = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
        self.fc = qnn.QuantLinear(6 * 5 * 5, 4, bias=True, weight_quant=SignedBinaryWeightPerTensorConst)

    def forward(self, x):
        x = self.sign(self.bn(self.conv(self.inp(x))))
        return self.fc(torch.flatten(x, 1))


def _unsigned_net(kind: str, seed: int = 3) -> UnsignedInputNet:
    from brevitas.quant import ShiftedUint8ActPerTensorFloat, Uint8ActPerTensorFloat

    torch.manual_seed(seed)
    net = {"uint8": lambda: UnsignedInputNet(Uint8ActPerTensorFloat),
           "uint4": lambda: UnsignedInputNet(Uint8ActPerTensorFloat, bit_width=4),
           "shifted_uint8": lambda: UnsignedInputNet(ShiftedUint8ActPerTensorFloat)}[kind]()
    brevitas_nets.calibrate_input_quant(net, (2, 5, 5), seed)
    brevitas_nets.randomize_batchnorm(net, seed)
    return net.eval()


# (uint4 in the slow suite: the generated nets of tests/test_property_brevitas.py draw one)
@pytest.mark.parametrize("kind", ["uint8", pytest.param("uint4", marks=pytest.mark.slow), "shifted_uint8"])
def test_unsigned_input_quantizer_equals_qonnx(kind, tmp_path):
    net = _unsigned_net(kind)
    scale, zp, bits, signed = float(net.inp.act_quant.scale()), float(net.inp.act_quant.zero_point()), \
        int(net.inp.act_quant.bit_width()), net.inp.act_quant.is_signed
    assert not signed and (kind != "shifted_uint8" or zp != 0), (signed, zp)
    x = brevitas_nets.input_frames(net, (2, 5, 5), 8, seed=1)
    codes = np.clip(np.round(x / scale + zp), 0, 2**bits - 1)
    assert codes.max() >= 2 ** (bits - 1) and (codes >= 2 ** (bits - 1)).mean() > 0.2, "the inputs must reach the top half"
    rc, err, out, model = _compile(net, torch.zeros(1, 2, 5, 5), tmp_path)
    assert rc == 0, err
    _assert_equals_qonnx(out, model, x, tmp_path)


class UnsignedThresholdNet(nn.Module):
    """uint8 input -> 1x1 conv with all-positive weights -> `+ self.shift` -> sign: the
    accumulator q0 + q1 reaches 510, and the sign steps at 300, beyond the +-256 a signed
    8-bit code could give."""

    def __init__(self):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst, Uint8ActPerTensorFloat

        self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat)
        self.conv = qnn.QuantConv2d(2, 3, 1, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)
        with torch.no_grad():
            self.conv.weight.abs_()
        self.shift = nn.Parameter(torch.zeros(3, 1, 1))
        self.sign = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
        self.fc = qnn.QuantLinear(3 * 4 * 4, 3, bias=True, weight_quant=SignedBinaryWeightPerTensorConst)

    def forward(self, x):
        return self.fc(torch.flatten(self.sign(self.conv(self.inp(x)) + self.shift), 1))


def test_unsigned_input_threshold_beyond_the_signed_code_range(tmp_path):
    torch.manual_seed(4)
    net = UnsignedThresholdNet()
    brevitas_nets.calibrate_input_quant(net, (2, 4, 4), 4)
    net.eval()
    scale = float(net.inp.act_quant.scale())
    with torch.no_grad():  # steps at q0 + q1 = 300, 350, 450 (x 0.1, the weight scale)
        net.shift.copy_(-torch.tensor([299.5, 349.5, 449.5]).reshape(3, 1, 1) * scale * 0.1)
    x = brevitas_nets.input_frames(net, (2, 4, 4), 8, seed=2)
    rc, err, out, model = _compile(net, torch.zeros(1, 2, 4, 4), tmp_path)
    assert rc == 0, err
    _assert_equals_qonnx(out, model, x, tmp_path)


# ---------------------------------------------------------------------------------------
# 2. Parameters that broadcast along W (or H), not C
# ---------------------------------------------------------------------------------------
class ShiftedConvNet(nn.Module):
    """conv -> `+ self.shift` (and/or `* self.gain`) -> sign -> linear, with the parameter
    shapes a user might write."""

    def __init__(self, cin: int, cout: int, out_hw: tuple[int, int], shift_shape=None, gain_shape=None):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

        self.inp = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
        self.conv = qnn.QuantConv2d(cin, cout, 3, padding=1, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)
        self.shift = nn.Parameter(torch.randn(cout).reshape(shift_shape)) if shift_shape else None
        self.gain = nn.Parameter((torch.rand(cout) + 0.5).reshape(gain_shape) * torch.tensor([1.0, -1.0] * (cout // 2)).reshape(gain_shape)) \
            if gain_shape else None
        self.sign = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
        self.fc = qnn.QuantLinear(cout * out_hw[0] * out_hw[1], 3, bias=True, weight_quant=SignedBinaryWeightPerTensorConst)

    def forward(self, x):
        x = self.conv(self.inp(x))
        if self.shift is not None:
            x = x + self.shift
        if self.gain is not None:
            x = x * self.gain
        return self.fc(torch.flatten(self.sign(x), 1))


def _binary_frames(shape, n=8, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)
    x[:, 0, 0, :] = 0.0  # exact zeros binarize to +1
    return x


def test_shift_of_shape_C_with_W_equal_C_is_refused_or_equals_qonnx(tmp_path):
    torch.manual_seed(0)
    # input 2 x 5 x 4 -> conv 3x3 pad 1 -> 4 x 5 x 4: W == C == 4, so (C,) adds along W
    net = ShiftedConvNet(2, 4, (5, 4), shift_shape=(4,))
    rc, err, out, model = _compile(net, torch.zeros(1, 2, 5, 4), tmp_path)
    _refused_or_equal(rc, err, "Add", out, model, _binary_frames((2, 5, 4)), tmp_path)


def test_gain_of_shape_C_1_with_H_equal_C_is_refused_or_equals_qonnx(tmp_path):
    torch.manual_seed(1)
    # input 2 x 4 x 6 -> 4 x 4 x 6: H == C == 4, so (C, 1) multiplies along H
    net = ShiftedConvNet(2, 4, (4, 6), shift_shape=(4, 1, 1), gain_shape=(4, 1))
    rc, err, out, model = _compile(net, torch.zeros(1, 2, 4, 6), tmp_path)
    _refused_or_equal(rc, err, "Mul", out, model, _binary_frames((2, 4, 6)), tmp_path)


@pytest.mark.parametrize("shape", [(4, 1, 1), (1, 4, 1, 1)])
def test_per_channel_shift_and_gain_compile_and_equal_qonnx(shape, tmp_path):
    torch.manual_seed(2)
    net = ShiftedConvNet(2, 4, (5, 4), shift_shape=shape, gain_shape=shape)
    rc, err, out, model = _compile(net, torch.zeros(1, 2, 5, 4), tmp_path)
    assert rc == 0, err
    _assert_equals_qonnx(out, model, _binary_frames((2, 5, 4)), tmp_path)


# ---------------------------------------------------------------------------------------
# 3. Reachable float ties are warned about
# ---------------------------------------------------------------------------------------
def test_conv_sign_with_float_weight_scale_and_no_batchnorm_warns_about_ties(tmp_path):
    case = brevitas_nets.tie_case()
    rc, err, out, _ = _compile(case.module, case.example, tmp_path)
    assert rc == 0, err
    warnings = [line for line in err.strip().splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, f"expected one warning about float ties on conv0 (stderr: {err!r})"
    assert "'conv0' (from conv0, sign;" in warnings[0], warnings


# ---------------------------------------------------------------------------------------
# 4. NaN / Inf inputs are refused by every engine
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compiled_shift_net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nan")
    torch.manual_seed(2)
    net = ShiftedConvNet(2, 4, (5, 4), shift_shape=(4, 1, 1))
    rc, err, out, _ = _compile(net, torch.zeros(1, 2, 5, 4), tmp)
    assert rc == 0, err
    return out


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("engine", ["ref", "onnx", "rtl", "hls"])
def test_non_finite_inputs_are_refused(engine, bad, compiled_shift_net, tmp_path):
    x = _binary_frames((2, 5, 4), n=3)
    x[1, 1, 2, 3] = bad
    rc, err, _ = _run(compiled_shift_net, x, engine, tmp_path)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: "), (rc, lines)


@pytest.mark.parametrize("trans_b, scale_shape, refused", [
    (1, (1, 6), True),    # [out, in] weights, a scale per *input* column: 6 entries, 6 outputs
    (0, (6, 1), True),    # [in, out] weights, a scale per input row
    (1, (6, 1), False),   # per output channel
    (0, (6,), False),     # per output channel ([in, out] weights: broadcast along the last axis)
    (1, (), False),       # per tensor
])
def test_weight_scale_is_read_by_broadcasting_not_by_size(trans_b, scale_shape, refused, tmp_path):
    """A weight scale with as many entries as outputs, but laid along the inputs, must not be
    taken as per-output (square weights hide the difference in the element count)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(np.float32(1.0).reshape(()), "one"),
             numpy_helper.from_array(rng.standard_normal((6, 6)).astype(np.float32), "W"),
             numpy_helper.from_array((rng.random(scale_shape) + 0.5).astype(np.float32), "ws")]
    nodes = [helper.make_node("BipolarQuant", ["x", "one"], ["xq"], domain="qonnx.custom_op.general"),
             helper.make_node("BipolarQuant", ["W", "ws"], ["Wq"], domain="qonnx.custom_op.general"),
             helper.make_node("Gemm", ["xq", "Wq"], ["y"], transB=trans_b, name="fc")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])], inits)
    path = tmp_path / "w.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                      helper.make_opsetid("qonnx.custom_op.general", 1)]), path)
    rc, _, err = _cli(["compile", str(path), "-o", str(tmp_path / "out")])
    if refused:
        assert rc == 2 and err.strip().startswith("error: node 'fc' (Gemm): weight scale") and "varies" in err
        return
    assert rc == 0, err
    x = rng.standard_normal((8, 6)).astype(np.float32)
    _assert_equals_qonnx(tmp_path / "out", load_model(path), x, tmp_path, engines=("ref",))


class _Int32BiasNet(nn.Module):
    """Brevitas' usual bias quantizer, Int32Bias (the bias scale is the input scale times
    the weight scale): a 32-bit constant quantizer was refused as '32-bit weights'."""

    def __init__(self):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import Int8ActPerTensorFloat, Int32Bias

        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, return_quant_tensor=True)
        self.conv = qnn.QuantConv2d(3, 8, 3, weight_bit_width=2, bias=True, bias_quant=Int32Bias)
        self.bn, self.act = nn.BatchNorm2d(8), qnn.QuantIdentity(bit_width=2, return_quant_tensor=True)
        self.fc = qnn.QuantLinear(8 * 4 * 4, 5, weight_bit_width=2, bias=True, bias_quant=Int32Bias)

    def forward(self, x):
        return self.fc(self.act(self.bn(self.conv(self.inp(x)))).flatten(1))


def test_int32_bias_quantizer(tmp_path):
    from bnn2hls.models import zoo

    torch.manual_seed(0)
    module = _Int32BiasNet()
    zoo.randomize_batchnorm(module, 0)
    module.train()
    with torch.no_grad():  # the activation quantizers' scales
        for _ in range(4):
            module(torch.rand(16, 3, 6, 6) * 2 - 1)
    path = export_qonnx(module.eval(), torch.zeros(1, 3, 6, 6), tmp_path / "m.onnx")
    assert cli.main(["compile", str(path), "-o", str(tmp_path / "out")]) == 0
    x = np.random.default_rng(0).random((8, 3, 6, 6), dtype=np.float32) * 2.2 - 1.1
    np.save(tmp_path / "x.npy", x)
    ys = {}
    for engine in ("onnx", "ref"):
        assert cli.main(["run", str(tmp_path / "out"), "--input", str(tmp_path / "x.npy"), "--engine", engine,
                         "-o", str(tmp_path / f"{engine}.npy")]) == 0
        ys[engine] = np.load(tmp_path / f"{engine}.npy")
    assert len({tuple(r) for r in ys["onnx"].round(4)}) > 1
    np.testing.assert_allclose(ys["ref"], ys["onnx"], rtol=1e-5, atol=1e-5)
