"""Issue 12's acceptance networks, written as Brevitas users write them and exported with
`export_qonnx` (randomized BatchNorm): at two foldings each, `run --engine ref|rtl|hls`
equals the QONNX executor, the RTL's steady-state cycles per frame equal the estimate within
5 %, and the RTL gives the same outputs with 40 % input gaps and 50 % output stalls."""
from __future__ import annotations

import pytest
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bnn2hls import cli
from bnn2hls.models import zoo
from bnn2hls.frontend.torch_export import export_qonnx

from .test_property_brevitas import argmax_is_a_tie

pytestmark = pytest.mark.tier("e2e")


def check_topology(module: nn.Module, shape: tuple[int, ...], tmp_path: Path, target_fps: tuple[int | None, ...],
                   frames: int = 6) -> list[dict]:
    """Export, compile at each folding (None: the default), compare every engine with QONNX,
    check the RTL cycles and the RTL under stalls. Returns each folding's ir.json."""
    path = export_qonnx(module.eval(), torch.zeros(1, *shape), tmp_path / "model.onnx")
    x = np.random.default_rng(3).random((frames, *shape), dtype=np.float32) * 2.2 - 1.1
    np.save(tmp_path / "x.npy", x)
    docs = []
    for i, fps in enumerate(target_fps):
        out = tmp_path / f"out{i}"
        assert cli.main(["compile", str(path), "-o", str(out), *(["--target-fps", str(fps)] if fps else [])]) == 0
        ys = {}
        for engine, extra in (("onnx", ()), ("ref", ()), ("hls", ()), ("rtl", ()),
                              ("rtl_stalls", ("--gap-pct", "40", "--stall-pct", "50"))):
            y_path = tmp_path / f"y_{i}_{engine}.npy"
            argv = ["run", str(out), "--input", str(tmp_path / "x.npy"), "--engine", engine.split("_")[0], "-o", str(y_path)]
            assert cli.main([*argv, *extra]) == 0, engine
            ys[engine] = np.load(y_path)
            if engine == "rtl":  # the stall run below overwrites rtl_perf.json
                perf = json.loads((out / "sim" / "rtl_perf.json").read_text())
                assert abs(perf["cycles_per_frame"] / perf["est_cycles_per_frame"] - 1) <= 0.05, perf
        assert len({tuple(r) for r in ys["onnx"].round(4)}) > 1, "the outputs should vary with the input"
        for engine in ("ref", "hls", "rtl", "rtl_stalls"):
            np.testing.assert_allclose(ys[engine], ys["onnx"], rtol=1e-5, atol=1e-5, err_msg=engine)
            assert ((ys[engine].argmax(1) == ys["onnx"].argmax(1)) | argmax_is_a_tie(ys["onnx"])).all(), engine
        docs.append(json.loads((out / "ir.json").read_text()))
    foldings = [[(e["pe"], e["simd"]) for e in doc["layers"] if "pe" in e] for doc in docs]
    assert len({tuple(f) for f in foldings}) == len(foldings), f"the foldings should differ: {foldings}"
    for fps, folding in zip(target_fps, foldings):
        assert fps is None or any(f != (1, 1) for f in folding), f"--target-fps {fps} should fold wider: {folding}"
    return docs


def suite_foldings(fps: int) -> pytest.MarkDecorator:
    """Parametrize a test's `folding` (check_topology's target_fps): the default suite checks
    the network at the --target-fps folding `fps` (PE/SIMD > 1: wider trees, more lanes), the
    slow suite at the default folding too (each folding is a build and a simulation per engine)."""
    return pytest.mark.parametrize("folding", [pytest.param((fps,), id=f"fps{fps}"),
                                               pytest.param((None,), id="default_folding", marks=pytest.mark.slow)])


class SqueezePReluNet(nn.Module):
    """Xu & Cheung's building blocks: 3x3 binary convs with per-channel (XNOR-Net) weight
    scales, 1x1 squeeze convs, and PReLU between the BatchNorm and the sign."""

    def __init__(self):
        super().__init__()
        self.inp = zoo._input_quant_8bit()
        self.conv0 = zoo._conv(3, 16, 3, padding=1, per_channel_scale=True)
        self.bn0, self.prelu0, self.act0 = nn.BatchNorm2d(16), nn.PReLU(16, init=0.2), zoo._binary_act()
        self.squeeze1 = zoo._conv(16, 8, 1, per_channel_scale=True)
        self.bn1, self.prelu1, self.act1 = nn.BatchNorm2d(8), nn.PReLU(8, init=0.3), zoo._binary_act()
        self.conv2 = zoo._conv(8, 16, 3, stride=2, per_channel_scale=True)
        self.bn2, self.prelu2, self.act2 = nn.BatchNorm2d(16), nn.PReLU(), zoo._binary_act()
        self.squeeze3 = zoo._conv(16, 8, 1, per_channel_scale=True)
        self.bn3, self.act3 = nn.BatchNorm2d(8), zoo._binary_act()
        self.fc = zoo._linear(8 * 3 * 3, 10, bias=True)

    def forward(self, x):
        x = self.act0(self.prelu0(self.bn0(self.conv0(self.inp(x)))))
        x = self.act1(self.prelu1(self.bn1(self.squeeze1(x))))
        x = self.act2(self.prelu2(self.bn2(self.conv2(x))))
        x = self.act3(self.bn3(self.squeeze3(x)))
        return self.fc(torch.flatten(x, 1))


class BinaryNetOrderNet(nn.Module):
    """BinaryNet / XNOR-Net order: conv -> MaxPool -> BatchNorm -> sign (negative gammas
    included), twice, then a dense layer."""

    def __init__(self):
        super().__init__()
        self.inp = zoo._input_quant_8bit()
        self.conv0 = zoo._conv(3, 16, 3, padding=1, bias=True)
        self.pool0, self.bn0, self.act0 = nn.MaxPool2d(2), nn.BatchNorm2d(16), zoo._binary_act()
        self.conv1 = zoo._conv(16, 16, 3, padding=1)
        self.pool1, self.bn1, self.act1 = nn.MaxPool2d(2), nn.BatchNorm2d(16), zoo._binary_act()
        self.fc = zoo._linear(16 * 2 * 2, 10, bias=True)

    def forward(self, x):
        x = self.act0(self.bn0(self.pool0(self.conv0(self.inp(x)))))
        x = self.act1(self.bn1(self.pool1(self.conv1(x))))
        return self.fc(torch.flatten(x, 1))


def _prepared(cls: type[nn.Module], seed: int, shape: tuple[int, ...] = (3, 8, 8)) -> nn.Module:
    """Random gammas of both signs and small betas; running statistics measured on random
    inputs (so every sign and level varies with the input whatever the weight scales)."""
    torch.manual_seed(seed)
    module = cls()
    zoo.randomize_batchnorm(module, seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.PReLU):
                m.weight.copy_(torch.rand_like(m.weight) * 0.5 + 0.05)
            if isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None  # a cumulative average over the calibration batches
                m.bias.copy_(torch.randn_like(m.bias) * 0.3)
        module.train()
        for _ in range(4):
            module(torch.rand(32, *shape) * 2.2 - 1.1)
    return module.eval()


@suite_foldings(30000)
def test_squeeze_convs_with_per_channel_scales_and_prelu(folding, tmp_path):
    docs = check_topology(_prepared(SqueezePReluNet, 4), (3, 8, 8), tmp_path, folding)
    kinds = [(e["kind"], e.get("kernel")) for e in docs[0]["layers"] if e["kind"] == "conv"]
    assert kinds.count(("conv", [1, 1])) == 2


@suite_foldings(30000)
def test_binarynet_order(folding, tmp_path):
    module = _prepared(BinaryNetOrderNet, 5)
    assert (module.bn0.weight < 0).any() and (module.bn1.weight < 0).any()
    docs = check_topology(module, (3, 8, 8), tmp_path, folding)
    assert [e["kind"] for e in docs[0]["layers"]] == ["input_quant", "conv", "maxpool", "conv", "maxpool", "dense",
                                                      "output_head"]


@suite_foldings(30000)
def test_depthwise_separable_with_a_global_average_pool_head(folding, tmp_path):
    """MobileNet's block as a Brevitas user writes it (tests/brevitas_nets.py
    DepthwiseSeparableNet, binary): QuantConv2d(C, C, 3, groups=C) depthwise convs with zero
    padding (corrected per channel), one with stride 2, 1x1 pointwise convs, per-channel
    weight scales, and a global-average-pool head (x.mean((2, 3)) -> QuantLinear; the flatten
    head is in tests/test_depthwise.py)."""
    from .brevitas_nets import depthwise_case

    docs = check_topology(depthwise_case(1, head="gap").module, (3, 8, 8), tmp_path, folding)
    dw = [e for e in docs[0]["layers"] if e["kind"] == "dwconv"]
    assert [d["stride"] for d in dw] == [[1, 1], [2, 2]] and all(d["border"] is not None for d in dw)
    kinds = [e["kind"] for e in docs[0]["layers"]]
    assert kinds[-3:] == ["sumpool", "dense", "output_head"], kinds


class ResidualThenGapNet(nn.Module):
    """A user's ResNet tail (found by a user-style trial): a residual block, its requantizer,
    then a global average pool and a classifier -- the FIFO sizing of the join's branches
    meets a sum pool downstream."""

    def __init__(self):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import Int8ActPerTensorFixedPoint

        def q():
            return qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=2)

        self.inq = qnn.QuantIdentity(bit_width=8)
        self.c0, self.bn0, self.q0 = qnn.QuantConv2d(3, 8, 3, padding=1, weight_bit_width=2, bias=False), nn.BatchNorm2d(8), q()
        self.c1, self.bn1, self.q1 = qnn.QuantConv2d(8, 8, 3, padding=1, weight_bit_width=2, bias=False), nn.BatchNorm2d(8), q()
        self.qj = q()
        self.fc = qnn.QuantLinear(8, 4, weight_bit_width=2, bias=False)

    def forward(self, x):
        a = self.q0(self.bn0(self.c0(self.inq(x))))
        j = self.qj(a + self.q1(self.bn1(self.c1(a))))
        return self.fc(j.mean((2, 3)))


@suite_foldings(40000)
def test_residual_block_then_global_average_pool(folding, tmp_path):
    module = _prepared(ResidualThenGapNet, 6, (3, 6, 6))
    check_topology(module, (3, 6, 6), tmp_path, folding, frames=4)


class _PoolFirstFork(nn.Module):
    """BinaryNet order whose pooled, binarized value feeds a conv and a residual add."""

    def __init__(self):
        super().__init__()
        self.inp = zoo._input_quant_8bit()
        self.c0, self.mp, self.bn0, self.a0 = zoo._conv(2, 8, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(8), zoo._binary_act()
        self.c1, self.bn1, self.a1 = zoo._conv(8, 8, 3, padding=1), nn.BatchNorm2d(8), zoo._binary_act()
        self.bn2, self.a2 = nn.BatchNorm2d(8), zoo._binary_act()
        self.fc = zoo._linear(8 * 4 * 4, 4)

    def forward(self, x):
        a = self.a0(self.bn0(self.mp(self.c0(self.inp(x)))))
        return self.fc(self.a2(self.bn2(a + self.a1(self.bn1(self.c1(a))))).flatten(1))


def test_pool_before_the_activation_feeding_a_join_is_one_error_line(tmp_path, capsys):
    path = export_qonnx(_prepared(_PoolFirstFork, 7, (2, 8, 8)), torch.zeros(1, 2, 8, 8), tmp_path / "m.onnx")
    assert cli.main(["compile", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: layer 'maxpool0'") and "feed matrix layers only" in err[0], err
    assert not (tmp_path / "out").exists()
