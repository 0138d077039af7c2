"""Depthwise convolution (QuantConv2d(C, C, k, groups=C)) through the real CLI: Brevitas
depthwise-separable nets (tests/brevitas_nets.py DepthwiseSeparableNet: depthwise 3x3 convs,
one with stride 2, zero padding, pointwise 1x1 convs, randomized BatchNorm, binary and 2-bit)
give the QONNX executor's outputs on every engine at two foldings, and the RTL's steady-state
interval is the estimate's (within 5 %), also where a VVAU is the bottleneck (and the outputs
stay exact with 40 % input gaps and 50 % output stalls). The binary net's acceptance run
(two foldings, stalls, a global-average-pool head) is
tests/test_topologies.py::test_depthwise_separable_with_a_global_average_pool_head. Other groupings
are refused with one line naming the node."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from torch import nn

from bnn2hls import cli
from bnn2hls.frontend.torch_export import export_qonnx

from .brevitas_nets import depthwise_case
from .test_multibit import check_all_engines
from .test_synth_cost import needs_yosys

pytestmark = pytest.mark.tier("e2e")


def _export(bits, tmp_path):
    case = depthwise_case(bits)
    return export_qonnx(case.module, case.example, tmp_path / f"dw{bits}.onnx")


@pytest.mark.parametrize("bits,target_fps", [
    pytest.param(2, None, marks=pytest.mark.slow),  # (the default suite's time budget)
    (2, 30000),
    # the binary net at these foldings, with stalls: tests/test_topologies.py
    pytest.param(1, None, marks=pytest.mark.slow),
    pytest.param(1, 30000, marks=pytest.mark.slow),
])
def test_depthwise_separable_net(bits, target_fps, tmp_path):
    doc = check_all_engines(_export(bits, tmp_path), tmp_path / "out", tmp_path, target_fps, frames=6)
    dw = [e for e in doc["layers"] if e["kind"] == "dwconv"]
    assert [(d["stride"], d["pads"]) for d in dw] == [([1, 1], [1, 1, 1, 1]), ([2, 2], [1, 1, 1, 1])]
    assert all(d["weight_bits"] == bits and d["in_shape"][2] == d["out_channels"] for d in dw)
    # binary inputs: the zero padding is corrected per channel (border classes); 2-bit: a real 0
    assert all((d["border"] is not None) == (bits == 1) for d in dw)
    if target_fps:
        assert any(d["pe"] > 1 or d["simd"] > 1 for d in dw)


def test_vvau_as_the_bottleneck(tmp_path):
    """A folding where the first depthwise conv (unit folding: 8 channels x 9 taps x 64
    windows = 4608 cycles) paces the network, the others folded wide."""
    path = _export(1, tmp_path)
    spec = {"layers": {"conv0": {"pe": 8, "simd": 27}, "dwconv0": {"pe": 1, "simd": 1},
                       "conv1": {"pe": 16, "simd": 8}, "dwconv1": {"pe": 4, "simd": 3},
                       "conv2": {"pe": 16, "simd": 16}, "dense0": {"pe": 10, "simd": 64}}}
    (tmp_path / "fold.json").write_text(json.dumps(spec))
    out = tmp_path / "out"
    assert cli.main(["compile", str(path), "-o", str(out), "--folding", str(tmp_path / "fold.json")]) == 0
    report = json.loads((out / "report.json").read_text())["network"]
    assert report["bottleneck"] == "dwconv0" and report["est_cycles_per_frame"] == 8 * 9 * 64, report["bottleneck"]
    x = np.random.default_rng(5).random((4, 3, 8, 8), dtype=np.float32) * 2 - 1
    np.save(tmp_path / "x.npy", x)
    for engine, extra in (("onnx", ()), ("rtl", ()), ("rtl_stalls", ("--gap-pct", "40", "--stall-pct", "50"))):
        assert cli.main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--engine", engine.split("_")[0],
                         "-o", str(tmp_path / f"{engine}.npy"), *extra]) == 0
        if engine == "rtl":
            perf = json.loads((out / "sim" / "rtl_perf.json").read_text())
            assert abs(perf["cycles_per_frame"] / perf["est_cycles_per_frame"] - 1) <= 0.05, perf
    for engine in ("rtl", "rtl_stalls"):
        np.testing.assert_allclose(np.load(tmp_path / f"{engine}.npy"), np.load(tmp_path / "onnx.npy"), rtol=1e-5, atol=1e-5)


class _Grouped(nn.Module):
    def __init__(self, groups: int, cout: int):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import Int8ActPerTensorFloat, SignedBinaryWeightPerTensorConst

        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat)
        self.conv = qnn.QuantConv2d(4, cout, 3, groups=groups, bias=True, weight_quant=SignedBinaryWeightPerTensorConst)

    def forward(self, x):
        return torch.flatten(self.conv(self.inp(x)), 1)


@pytest.mark.parametrize("groups,cout", [(2, 4), (4, 8)])
@pytest.mark.tier("unit")
def test_other_groupings_are_refused_with_one_line(groups, cout, tmp_path, capsys):
    """Two channels per group, and a channel multiplier of 2 (groups = C_in, C_out = 2 C_in)."""
    path = export_qonnx(_Grouped(groups, cout).eval(), torch.zeros(1, 4, 6, 6), tmp_path / "g.onnx")
    assert cli.main(["compile", str(path), "-o", str(tmp_path / "out")]) != 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "(Conv, module " in err[0] and f"group={groups}" in err[0], err


@needs_yosys
@pytest.mark.slow
@pytest.mark.tier("rtl")
def test_estimate_within_20pct_of_yosys_on_a_depthwise_net(tmp_path):
    """`report --synth` territory: the 2-bit net at a folding with PE, SIMD > 1 in its VVAUs,
    yosys (synth_xilinx, xc7) against the cost model, per network and per depthwise layer
    (logic + LUTRAM). Measured: network +4 %, VVAU layers 0 % and +9 %; the binary net at the
    default folding +2 %, its VVAUs -3 % and +5 %."""
    from bnn2hls.estimate import cost_model, synth
    from bnn2hls import ir
    out = tmp_path / "out"
    assert cli.main(["compile", str(_export(2, tmp_path)), "-o", str(out), "--target-fps", "30000"]) == 0
    net = ir.load(out)
    measured = synth.synthesize(out, family="xc7", mode="network", jobs=1)
    est = cost_model.estimate(net)
    y, e = measured.network, est.resources
    assert abs(e.lut_total - (y.lut + y.lutram)) <= 0.20 * (y.lut + y.lutram), (e, y)
    for layer in net.datapath:
        if layer.kind == "dwconv":
            got, want = est.layers[layer.name].resources.lut_total, measured.layers[layer.name]
            assert abs(got - (want.lut + want.lutram)) <= 0.20 * (want.lut + want.lutram), (layer.name, got, want)


@pytest.mark.parametrize("stride,pads", [((1, 1), (1, 1, 1, 1)), ((2, 2), (1, 1, 1, 1)), ((2, 1), (0, 2, 1, 0))])
@pytest.mark.tier("unit")
def test_border_correction_per_channel(stride, pads):
    """A binary depthwise conv padded with the FBNA pattern plus its border table gives the
    zero-padded source's accumulators: channel c's out-of-bounds taps read channel c's
    pattern only (reference engine, last-layer form: raw accumulators)."""
    from bnn2hls import ir, reference
    from bnn2hls.passes.padding import border_table

    rng = np.random.default_rng(sum(stride) + sum(pads))
    h, w, c, k = 6, 7, 5, (3, 3)
    layer = ir.DepthwiseConv(name="dw", in_shape=(h, w, c), out_channels=c, kernel=k, stride=stride, pads=pads,
                             input_bits=1, weights=rng.random((c, 9)) < 0.5, acc_scale=np.ones(c, np.float32),
                             binarize=False)
    layer = dataclasses.replace(layer, border=border_table(layer))
    x = rng.random((3, h, w, c)) < 0.5
    got = reference.matrix_layer(layer, x)
    t, l, b, r = pads
    values = np.pad(np.where(x, 1, -1), ((0, 0), (t, b), (l, r), (0, 0)))  # the source's zeros
    oh, ow = layer.out_hw
    want = np.zeros((3, oh, ow, c), np.int64)
    for oy in range(oh):
        for ox in range(ow):
            win = values[:, oy * stride[0]: oy * stride[0] + 3, ox * stride[1]: ox * stride[1] + 3]  # [N, 3, 3, C]
            want[:, oy, ox] = np.einsum("nyxc,cyx->nc", win, np.where(layer.weights, 1, -1).reshape(c, 3, 3))
    np.testing.assert_array_equal(got, want)


@pytest.mark.tier("unit")
def test_validate_refuses_a_depthwise_conv_changing_the_channel_count():
    from bnn2hls import ir
    from bnn2hls.errors import UserError

    layer = ir.DepthwiseConv(name="dw", in_shape=(4, 4, 3), out_channels=6, kernel=(3, 3), stride=(1, 1),
                             pads=(0, 0, 0, 0), input_bits=1, weights=np.zeros((6, 9), bool),
                             acc_scale=np.ones(6, np.float32), binarize=False)
    iq = ir.InputQuant(name="input_quant", source_shape=(3, 4, 4), preprocess=(), bits=1, scale=1.0, out_shape=(4, 4, 3))
    head = ir.OutputHead(name="head", in_shape=(2, 2, 6), acc_scale=np.ones(6, np.float32), chain=())
    with pytest.raises(UserError, match="'dw'.*depthwise"):
        ir.chain_network("n", [iq, layer, head])


class _PoolBeforeDepthwise(nn.Module):
    """BinaryNet's order in front of a depthwise conv: conv -> MaxPool -> BatchNorm (negative
    gammas) -> sign -> depthwise conv: the falling channels' flips move into the depthwise
    weights, one row per channel (passes/pool_order.py)."""

    def __init__(self):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import Int8ActPerTensorFloat

        from .brevitas_nets import _sign, _weight_quant

        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat)
        self.conv0 = qnn.QuantConv2d(3, 6, 3, padding=1, bias=False, weight_quant=_weight_quant("tensor"))
        self.pool, self.bn0, self.act0 = nn.MaxPool2d(2), nn.BatchNorm2d(6), _sign()
        self.dw = qnn.QuantConv2d(6, 6, 3, groups=6, bias=False, weight_quant=_weight_quant("tensor"))
        self.bn1, self.act1 = nn.BatchNorm2d(6), _sign()
        self.fc = qnn.QuantLinear(6 * 2 * 2, 4, bias=True, weight_quant=_weight_quant("tensor"))

    def forward(self, x):
        x = self.act0(self.bn0(self.pool(self.conv0(self.inp(x)))))
        x = self.act1(self.bn1(self.dw(x)))
        return self.fc(torch.flatten(x, 1))


@pytest.mark.tier("unit")
def test_pool_before_activation_feeding_a_depthwise_conv(tmp_path):
    from .brevitas_nets import randomize_batchnorm

    torch.manual_seed(1)
    module = _PoolBeforeDepthwise()
    randomize_batchnorm(module, 1)
    with torch.no_grad():
        module.bn0.weight.copy_(torch.tensor([1.0, -1.0, 0.5, -0.7, 1.2, -0.3]))
    module.inp.train()
    with torch.no_grad():
        module(torch.randn(16, 3, 8, 8))
    module.eval()
    path = export_qonnx(module, torch.zeros(1, 3, 8, 8), tmp_path / "m.onnx")
    doc = check_all_engines(path, tmp_path / "out", tmp_path, engines=("ref",), frames=8)
    assert [e["kind"] for e in doc["layers"]][1:4] == ["conv", "maxpool", "dwconv"]


@pytest.mark.tier("unit")
def test_folding_presets_and_target_choose_channels_and_taps(tmp_path):
    """PE divides the channels, SIMD the kh*kw taps; the cycle formula is
    (C/PE) * (kh*kw/SIMD) * output pixels, and --target-fps meets its target with it."""
    from bnn2hls.flow.compiler import build_network
    from bnn2hls.frontend.onnx_import import load_model
    from bnn2hls.hw.folding import apply_folding_spec, estimate_cycles, fold_parallelism, folding_preset

    net = build_network(load_model(_export(1, tmp_path)), "dw")
    wide = apply_folding_spec(net, folding_preset(net, "wide"))
    assert [(d.pe, d.simd) for d in wide.matrix_layers if d.kind == "dwconv"] == [(8, 9), (16, 9)]
    for target in (300, 1000, 3000):
        folded = fold_parallelism(net, target)
        cycles = estimate_cycles(folded)
        assert cycles["est_cycles_per_frame"] <= max(target, 100)  # 100: the first window walk (10x10 padded)
        for d in folded.matrix_layers:
            if d.kind == "dwconv":
                oh, ow = d.out_hw
                assert d.out_channels % d.pe == 0 and 9 % d.simd == 0
                assert cycles["layers"][d.name]["vvau"] == (d.out_channels // d.pe) * (9 // d.simd) * oh * ow


@pytest.mark.parametrize("wide", [pytest.param(False, marks=pytest.mark.slow), True])
def test_depthwise_conv_on_a_residual_branch(wide, tmp_path):
    """MobileNetV2's inverted residual in miniature: the main branch of tests/residual_nets.py's
    identity block made a depthwise 3x3 conv (2-bit inputs and weights, 4 levels). The window
    walk sizes the shortcut FIFO as a conv's does; RTL equals the reference, at the estimate,
    and under 40 % input gaps and 50 % output stalls."""
    from bnn2hls import ir, reference
    from bnn2hls.engines import rtl_sim
    from bnn2hls.backends import rtl as rtl_backend

    from .residual_nets import random_input, residual_conv_net

    net = residual_conv_net("identity")
    conv1 = net.layer("conv1")
    assert isinstance(conv1, ir.Conv)
    rng = np.random.default_rng(7)
    c = conv1.out_channels
    dw = ir.DepthwiseConv(**{**conv1.__dict__, "weights": rng.integers(-1, 2, (c, 9)).astype(np.int8),
                             "thresholds": np.sort(rng.integers(-4, 5, (c, 3)), axis=1),
                             **({"pe": c, "simd": 3} if wide else {})})
    net = ir.validate(net.replace_layer(dw))
    rtl_backend.generate(net, tmp_path / "rtl")
    (tmp_path / "sim").mkdir()
    x = random_input(net, 6)
    expect = reference.run(net, x)
    assert len({tuple(r) for r in expect}) > 1
    sim = rtl_sim.run(net, tmp_path, x)
    np.testing.assert_array_equal(sim.outputs, expect)
    assert abs(sim.perf["cycles_per_frame"] / sim.perf["est_cycles_per_frame"] - 1) <= 0.05, sim.perf
    stalled = rtl_sim.run(net, tmp_path, x, gap_pct=40, stall_pct=50, seed=3)
    np.testing.assert_array_equal(stalled.outputs, expect)
