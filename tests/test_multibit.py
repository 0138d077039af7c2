"""Multi-bit layers (weights of 2-8 bits, multi-threshold activations, max-pool of integers)
through the real CLI: every engine equals the QONNX executor running the Brevitas export, and
the RTL's steady-state interval equals the estimate (within 5 %)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from bnn2hls import cli
from bnn2hls.models import zoo
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.frontend.torch_export import export_qonnx

from .test_property_brevitas import argmax_is_a_tie

pytestmark = pytest.mark.tier("e2e")

FRAMES = 4


def check_all_engines(path, out, tmp_path, target_fps=None, engines=("ref", "rtl", "hls"), frames=FRAMES):
    argv = ["compile", str(path), "-o", str(out)] + (["--target-fps", str(target_fps)] if target_fps else [])
    assert cli.main(argv) == 0
    model = load_model(path)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    x = (np.random.default_rng(3).random((frames, *dims[1:]), dtype=np.float32) * 2.2 - 1.1)
    np.save(tmp_path / "x.npy", x)
    ys = {}
    for engine in ("onnx", *engines):
        y_path = tmp_path / f"y_{engine}.npy"
        assert cli.main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--engine", engine, "-o", str(y_path)]) == 0
        ys[engine] = np.load(y_path)
    assert len({tuple(r) for r in ys["onnx"].round(4)}) > 1, "the outputs should vary with the input"
    for engine in engines:
        np.testing.assert_allclose(ys[engine], ys["onnx"], rtol=1e-5, atol=1e-5, err_msg=engine)
        assert ((ys[engine].argmax(1) == ys["onnx"].argmax(1)) | argmax_is_a_tie(ys["onnx"])).all(), engine
    if "rtl" in engines:
        perf = json.loads((out / "sim" / "rtl_perf.json").read_text())
        assert abs(perf["cycles_per_frame"] / perf["est_cycles_per_frame"] - 1) <= 0.05, perf
    return json.loads((out / "ir.json").read_text())


# 20,000 frames/s folds the three layers differently; the other two (34 s and 44 s) run slow
@pytest.mark.parametrize("target_fps", [pytest.param(2000, marks=pytest.mark.slow), 20000,
                                        pytest.param(200000, marks=pytest.mark.slow)])
def test_mlp_binary_weights_2bit_activations(target_fps, exported, tmp_path):
    """784-256-256-10, binary weights, BNN-PYNQ's 2-bit (ternary) activations."""
    path, _ = exported("mlp_1w2a")
    doc = check_all_engines(path, tmp_path / "out", tmp_path, target_fps)
    dense = [entry for entry in doc["layers"] if entry["kind"] == "dense"]
    assert [(d["out_levels"], d["weight_bits"]) for d in dense] == [(3, 1), (3, 1), (0, 1)]
    assert len({(d["pe"], d["simd"]) for d in dense}) > 1 or target_fps == 2000


@pytest.mark.parametrize("target_fps", [
    pytest.param(3000, marks=pytest.mark.slow),  # 699 s of RTL simulation on 2 busy cores
    pytest.param(12000, marks=pytest.mark.slow),
    pytest.param(40000, marks=pytest.mark.slow),
])
def test_cnv_2w2a(target_fps, exported, tmp_path):
    """BNN-PYNQ's CNV W2A2 (brevitas_examples, randomized BatchNorm): ternary weights and
    activations, 8-bit input, multi-bit max-pool."""
    path, _ = exported("CNV_2W2A")
    doc = check_all_engines(path, tmp_path / "out", tmp_path, target_fps, frames=2)
    convs = [entry for entry in doc["layers"] if entry["kind"] == "conv"]
    assert all(c["weight_bits"] == 2 and c["out_levels"] == 3 for c in convs)


class _UnsignedLevelsNet(nn.Module):
    """What a user writes: 4-bit per-channel weights, QuantReLU (unsigned 2-bit) activations,
    a max-pool of those integers, a 3-bit signed activation, a binary-weight head."""

    def __init__(self):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerChannelFloat, SignedBinaryWeightPerTensorConst

        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, return_quant_tensor=True)
        self.conv0 = qnn.QuantConv2d(3, 6, 3, padding=1, bias=True, weight_quant=Int8WeightPerChannelFloat,
                                     weight_bit_width=4)
        self.bn0 = nn.BatchNorm2d(6)
        self.relu0 = qnn.QuantReLU(bit_width=2, return_quant_tensor=True)
        self.pool = nn.MaxPool2d(2)
        self.conv1 = qnn.QuantConv2d(6, 5, 3, bias=False, weight_quant=Int8WeightPerChannelFloat, weight_bit_width=3)
        self.bn1 = nn.BatchNorm2d(5)
        self.act1 = qnn.QuantIdentity(bit_width=3, return_quant_tensor=True)
        self.fc = qnn.QuantLinear(5 * 2 * 2, 4, bias=True, weight_quant=SignedBinaryWeightPerTensorConst)

    def forward(self, x):
        x = self.pool(self.relu0(self.bn0(self.conv0(self.inp(x)))))
        x = self.act1(self.bn1(self.conv1(x)))
        return self.fc(torch.flatten(x, 1))


def test_user_written_multibit_net(tmp_path):
    torch.manual_seed(0)
    module = _UnsignedLevelsNet()
    zoo.randomize_batchnorm(module, 0)
    module.train()
    with torch.no_grad():  # calibrate the activation quantizers' scales
        for _ in range(4):
            module(torch.randn(16, 3, 8, 8))
    module.eval()
    path = export_qonnx(module, torch.zeros(1, 3, 8, 8), tmp_path / "m.onnx")
    doc = check_all_engines(path, tmp_path / "out", tmp_path, frames=6)
    layers = {e["name"]: e for e in doc["layers"]}
    assert (layers["conv0"]["weight_bits"], layers["conv0"]["out_levels"], layers["conv0"]["out_offset"]) == (4, 4, 0)
    assert (layers["conv1"]["weight_bits"], layers["conv1"]["out_levels"]) == (3, 8)


class _PReluNet(nn.Module):
    """ReActNet-style RPReLU (shift, PReLU, shift) and a plain per-channel PReLU before the
    sign of a binary conv net: folded into the thresholds."""

    def __init__(self, slope_sign: float = 1.0):
        super().__init__()
        self.inp = zoo._input_quant_8bit()
        self.conv0 = zoo._conv(3, 6, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(6)
        self.shift_in = nn.Parameter(torch.randn(1, 6, 1, 1) * 0.3)
        self.prelu0 = nn.PReLU(6, init=0.25)
        self.shift_out = nn.Parameter(torch.randn(1, 6, 1, 1) * 0.3)
        self.act0 = zoo._binary_act()
        self.conv1 = zoo._conv(6, 8, 3)
        self.bn1 = nn.BatchNorm2d(8)
        self.prelu1 = nn.PReLU(8, init=0.1 * slope_sign)
        self.shift1 = nn.Parameter(torch.full((8, 1, 1), -1.0 if slope_sign < 0 else 0.0))
        self.act1 = zoo._binary_act()
        self.fc = zoo._linear(8 * 4 * 4, 5, bias=True)

    def forward(self, x):
        x = self.act0(self.prelu0(self.bn0(self.conv0(self.inp(x))) + self.shift_in) + self.shift_out)
        x = self.act1(self.prelu1(self.bn1(self.conv1(x))) + self.shift1)
        return self.fc(torch.flatten(x, 1))


def test_prelu_and_rprelu_before_the_sign(tmp_path):
    torch.manual_seed(0)
    module = _PReluNet()
    zoo.randomize_batchnorm(module, 1)
    with torch.no_grad():
        module.prelu0.weight.copy_(torch.rand(6) * 0.5 + 0.05)
    path = export_qonnx(module.eval(), torch.zeros(1, 3, 6, 6), tmp_path / "p.onnx")
    check_all_engines(path, tmp_path / "out", tmp_path, frames=6)


def test_prelu_with_a_negative_slope_then_a_shift_is_refused(tmp_path, capsys):
    """slope < 0 then a negative shift: the sign goes +, -, + along the accumulator (no
    threshold can express it). A negative slope alone is fine: the sign is then constant."""
    module = _PReluNet(slope_sign=-1.0)
    zoo.randomize_batchnorm(module, 1)
    path = export_qonnx(module.eval(), torch.zeros(1, 3, 6, 6), tmp_path / "p.onnx")
    assert cli.main(["compile", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: layer 'conv1'") and "not monotone" in err[0]
    assert not (tmp_path / "out").exists()


class _BinaryNetOrder(nn.Module):
    """BinaryNet / XNOR-Net layer order: conv -> MaxPool -> BatchNorm -> sign, with negative
    gammas (the pool then acts as an AND on those channels), into a padded conv and a dense
    layer after a second pooled conv."""

    def __init__(self):
        super().__init__()
        self.inp = zoo._input_quant_8bit()
        self.conv0 = zoo._conv(3, 8, 3, padding=1, bias=True)
        self.pool0 = nn.MaxPool2d(2)
        self.bn0 = nn.BatchNorm2d(8)
        self.act0 = zoo._binary_act()
        self.conv1 = zoo._conv(8, 6, 3, padding=1)
        self.pool1 = nn.MaxPool2d(2)
        self.bn1 = nn.BatchNorm2d(6)
        self.act1 = zoo._binary_act()
        self.fc = zoo._linear(6 * 2 * 2, 5, bias=True)

    def forward(self, x):
        x = self.act0(self.bn0(self.pool0(self.conv0(self.inp(x)))))
        x = self.act1(self.bn1(self.pool1(self.conv1(x))))
        return self.fc(torch.flatten(x, 1))


def test_binarynet_order_maxpool_before_batchnorm(tmp_path):
    torch.manual_seed(2)
    module = _BinaryNetOrder()
    zoo.randomize_batchnorm(module, 2)
    assert (module.bn0.weight < 0).any() and (module.bn1.weight < 0).any()
    path = export_qonnx(module.eval(), torch.zeros(1, 3, 8, 8), tmp_path / "b.onnx")
    doc = check_all_engines(path, tmp_path / "out", tmp_path, frames=8)
    assert [e["kind"] for e in doc["layers"]] == ["input_quant", "conv", "maxpool", "conv", "maxpool", "dense",
                                                  "output_head"]
