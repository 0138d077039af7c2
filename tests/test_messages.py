"""Messages name the source: refusals and warnings say which ONNX node (and torch module,
where the export kept it) is at fault beside bnn2hls' own layer names; float ties are one
summary line per compile with the per-layer list in report.json, and ties the model's inputs
cannot reach are not warned about; an infinite quantizer scale (Brevitas' default weight
quantizer at weight_bit_width=1) is refused naming the quantizer."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bnn2hls import cli, ir
from bnn2hls.errors import UserError
from bnn2hls.flow.compiler import build_network
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.frontend.torch_export import export_qonnx
from bnn2hls.passes.thresholds import reachable_accumulators, tie_report, tie_warnings

from .test_cli_errors import expect_error

pytestmark = pytest.mark.tier("e2e")


def _cli(argv) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main([str(a) for a in argv])
    return rc, err.getvalue()


# ---------------------------------------------------------------------------------------
# Ties on hand-built IR: which ones the inputs can reach
# ---------------------------------------------------------------------------------------
def _dense_net(iq: ir.InputQuant, weights: np.ndarray, acc_scale: float, step: float) -> ir.Network:
    """input -> dense (sign of acc * acc_scale - step) -> dense -> head."""
    out, fan_in = weights.shape
    bits = iq.stream_bits
    sign = ir.Dense(name="dense0", in_shape=(1, 1, fan_in), out_channels=out, kernel=(1, 1), stride=(1, 1),
                    pads=(0, 0, 0, 0), input_bits=bits, weights=weights, acc_scale=np.full(out, acc_scale, np.float32),
                    binarize=True, weight_bits=1 if weights.dtype == np.bool_ else 4,
                    chain=(ir.AffineOp("sub", {"c": np.full(out, step, np.float32)}),),
                    source=(("node_Gemm_1", "fc0"), ("node__symbolic_2", "act0")))
    dense = ir.Dense(name="dense1", in_shape=(1, 1, out), out_channels=2, kernel=(1, 1), stride=(1, 1),
                     pads=(0, 0, 0, 0), input_bits=1, weights=np.ones((2, out), bool),
                     acc_scale=np.ones(2, np.float32), binarize=False)
    head = ir.OutputHead(name="head", in_shape=(1, 1, 2), acc_scale=np.ones(2, np.float32), chain=())
    return ir.chain_network("ties", [iq, sign, dense, head])


BIPOLAR = ir.InputQuant(name="input_quant", source_shape=(8,), preprocess=(), bits=1, scale=1.0, out_shape=(1, 1, 8))


@pytest.mark.tier("unit")
def test_parity_of_a_binary_dot_product_rules_out_ties():
    """8 +-1 terms sum to an even number: a step at accumulator 2 is a reachable tie (the
    float sum 2 * 0.1 vs float32(0.2) is the source's rounding), one at 1 or 3 is not."""
    w = np.ones((2, 8), bool)
    reach = _dense_net(BIPOLAR, w, 0.1, np.float32(0.1) * 2)
    (entry,) = tie_report(reach)
    assert entry["reachable"] and entry["values"] == 2 and entry["channels"] == 2 and entry["layer"] == "dense0"
    assert entry["source"] == [["node_Gemm_1", "fc0"], ["node__symbolic_2", "act0"]]
    (line,) = tie_warnings(reach)
    assert "1 layer(s)" in line and "'dense0' (from fc0, act0; ONNX nodes 'node_Gemm_1', 'node__symbolic_2')" in line
    for odd in (1, 3):
        net = _dense_net(BIPOLAR, w, 0.1, np.float32(0.1) * odd)
        (entry,) = tie_report(net)  # listed in report.json, as out of reach
        assert not entry["reachable"] and entry["values"] == 0 and entry["unreachable"] == 2, entry
        assert tie_warnings(net) == ()


@pytest.mark.tier("unit")
def test_parity_with_multi_bit_weights_is_that_of_the_weight_sum():
    """+-1 inputs times weights (1, 2, 2, 2): acc = 7 - 2 * (a subset sum) is odd, although the
    fan-in 4 is even; a tie at 1 is reachable, one at 2 is not."""
    iq = ir.InputQuant(name="input_quant", source_shape=(4,), preprocess=(), bits=1, scale=1.0, out_shape=(1, 1, 4))
    w = np.array([[1, 2, 2, 2]], np.int8)
    assert reachable_accumulators(_dense_net(iq, w, 0.1, 0.1), _dense_net(iq, w, 0.1, 0.1).layer("dense0")) == [
        (-7, 7, 2, (1,))]
    (hit,) = tie_report(_dense_net(iq, w, 0.1, np.float32(0.1)))
    assert hit["reachable"] and hit["first"] == {"channel": 0, "value": 1}
    (miss,) = tie_report(_dense_net(iq, w, 0.1, np.float32(0.1) * 2))
    assert not miss["reachable"] and miss["unreachable"] == 1


@pytest.mark.tier("unit")
def test_ties_outside_the_input_range_are_out_of_reach():
    """Unsigned 4-bit inputs (0..15) times +1 weights: the accumulator is never negative."""
    iq = ir.InputQuant(name="input_quant", source_shape=(4,), preprocess=(), bits=4, scale=0.1, signed=False,
                       out_shape=(1, 1, 4))
    w = np.ones((1, 4), bool)
    net = _dense_net(iq, w, 0.1, np.float32(0.1) * -3)
    assert reachable_accumulators(net, net.layer("dense0")) == [(0, 60, 1, (0,))]
    (entry,) = tie_report(net)
    assert not entry["reachable"] and tie_warnings(net) == ()
    (entry,) = tie_report(_dense_net(iq, w, 0.1, np.float32(0.1) * 3))
    assert entry["reachable"] and entry["first"] == {"channel": 0, "value": 3}


@pytest.mark.tier("unit")
@pytest.mark.parametrize("channels,residues", [(1, (0, 1)), (2, (0,))])
def test_parity_of_a_zero_padded_conv_counts_the_taps_inside_the_image(channels, residues):
    """3x3, pad 1, binary weights: 9, 6 or 4 taps inside the image per input channel; one
    channel gives both parities, two channels only even sums."""
    iq = ir.InputQuant(name="input_quant", source_shape=(channels, 4, 4), preprocess=(), bits=1, scale=1.0,
                       out_shape=(4, 4, channels))
    conv = ir.Conv(name="conv0", in_shape=(4, 4, channels), out_channels=2, kernel=(3, 3), stride=(1, 1),
                   pads=(1, 1, 1, 1), input_bits=1, weights=np.ones((2, 9 * channels), bool),
                   acc_scale=np.full(2, 0.1, np.float32), binarize=False)
    head = ir.OutputHead(name="head", in_shape=(4, 4, 2), acc_scale=np.ones(2, np.float32), chain=())
    net = ir.chain_network("pad", [iq, conv, head])
    assert reachable_accumulators(net, net.layer("conv0")) == [(-9 * channels, 9 * channels, 2, residues)] * 2


@pytest.mark.tier("unit")
def test_ir_errors_name_the_source():
    net = _dense_net(BIPOLAR, np.ones((2, 8), bool), 0.1, 0.0)
    bad = ir.Network(name=net.name, layers=tuple(
        l if l.name != "dense0" else ir.Dense(**{**l.__dict__, "acc_scale": np.array([np.inf, 1], np.float32)})
        for l in net.layers))
    with pytest.raises(UserError) as info:
        ir.validate(bad)
    msg = str(info.value)
    assert msg.startswith("IR layer 'dense0' (from fc0, act0; ONNX nodes 'node_Gemm_1', 'node__symbolic_2'): ")
    assert "channel 0 is inf" in msg and "SignedBinaryWeightPerTensorConst" in msg


# ---------------------------------------------------------------------------------------
# Real Brevitas exports
# ---------------------------------------------------------------------------------------
def _binary_input():
    import brevitas.nn as qnn
    from brevitas.quant import SignedBinaryActPerTensorConst

    return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)


def _conv(cin: int, cout: int, k: int):
    import brevitas.nn as qnn
    from brevitas.quant import SignedBinaryWeightPerTensorConst  # a constant scale 0.1: float sums round

    return qnn.QuantConv2d(cin, cout, k, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)


class _Ties(nn.Module):
    """conv -> sign twice with weight scale 0.1 and no offset: the step sits at accumulator 0,
    reachable where the fan-in is even (2*2*2 = 8, 2*2*4 = 16), out of reach where it is odd
    (3*3*1 = 9)."""

    def __init__(self, odd: bool):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import SignedBinaryWeightPerTensorConst

        self.inp = _binary_input()
        self.conv0 = _conv(1, 4, 3) if odd else _conv(2, 4, 2)
        self.act0 = _binary_input()
        self.conv1 = _conv(4, 4, 1) if odd else _conv(4, 4, 2)  # fan-in 4 (even) when odd: BatchNorm keeps it off
        self.bn1 = nn.BatchNorm2d(4)
        self.act1 = _binary_input()
        self.fc = qnn.QuantLinear(4 * 3 * 3, 3, bias=True, weight_quant=SignedBinaryWeightPerTensorConst)
        if odd:
            with torch.no_grad():
                self.bn1.bias.copy_(torch.tensor([0.05, -0.05, 0.05, -0.05]))  # half a step off any integer
        else:
            self.bn1 = nn.Identity()

    def forward(self, x):
        x = self.act0(self.conv0(self.inp(x)))
        x = self.act1(self.bn1(self.conv1(x)))
        return self.fc(torch.flatten(x, 1))


def _export_ties(odd: bool, tmp) -> Path:
    torch.manual_seed(0)
    return export_qonnx(_Ties(odd).eval(), torch.zeros(1, 1 if odd else 2, 5, 5), tmp / f"ties{int(odd)}.onnx")


def test_ties_in_two_layers_warn_in_one_line_and_report_json_lists_them(tmp_path):
    out = tmp_path / "out"
    rc, err = _cli(["compile", _export_ties(False, tmp_path), "-o", out])
    assert rc == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and len(err.strip().splitlines()) == 1, err
    line = warnings[0]
    assert "float ties in 2 layer(s)" in line and 'report.json "ties"' in line, line
    # the worst layer, with its torch module and ONNX node
    assert "worst: layer 'conv0' (from conv0, act0; ONNX nodes 'node_Conv_" in line, line
    ties = json.loads((out / "report.json").read_text())["ties"]
    assert [t["layer"] for t in ties] == ["conv0", "conv1"] and all(t["reachable"] for t in ties), ties
    assert [[m for _, m in t["source"]] for t in ties] == [["conv0", "act0"], ["conv1", "act1"]]
    assert all(t["values"] == t["channels"] == 4 and t["first"]["value"] == 0 for t in ties), ties


def test_ties_the_inputs_cannot_reach_are_not_warned_about(tmp_path):
    """(In memory: `build_network` is what compile prints the warnings of and report.json
    lists the ties of.)"""
    net = build_network(load_model(_export_ties(True, tmp_path)), "ties")
    assert net.source["warnings"] == []
    (entry,) = net.source["ties"]  # conv0 (fan-in 9: the dot product is odd, the step is at 0); conv1 has BatchNorm
    assert entry["layer"] == "conv0" and not entry["reachable"] and entry["unreachable"] == 4, entry


def test_brevitas_default_one_bit_weights_are_refused_naming_the_quantizer(tmp_path, capsys):
    """Brevitas' default weight quantizer at weight_bit_width=1 (narrow signed: only the level
    0) exports an infinite scale; the binary quantizer the hint names compiles."""
    import brevitas.nn as qnn
    from brevitas.quant import SignedBinaryWeightPerTensorConst

    torch.manual_seed(0)
    default = nn.Sequential(_binary_input(), qnn.QuantLinear(16, 4, weight_bit_width=1, bias=False))
    path = export_qonnx(default.eval(), torch.zeros(1, 16), tmp_path / "default.onnx")
    expect_error(capsys, ["compile", path, "-o", tmp_path / "out"], "(BipolarQuant, module 1)",
                 "the weight quantizer's scale (initializer '1.weight_quant.", "is infinite",
                 "weight_bit_width=1", "weight_quant=brevitas.quant.SignedBinaryWeightPerTensorConst")
    fixed = nn.Sequential(_binary_input(), qnn.QuantLinear(16, 4, weight_quant=SignedBinaryWeightPerTensorConst,
                                                           bias=False))
    path = export_qonnx(fixed.eval(), torch.zeros(1, 16), tmp_path / "fixed.onnx")
    assert build_network(load_model(path), "fixed").matrix_layers[0].weight_bits == 1


class _Refusals(nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import SignedBinaryWeightPerTensorConst

        self.kind = kind
        self.inp = _binary_input()
        self.block = nn.Sequential(
            qnn.QuantConv2d(4, 4, 3, dilation=2 if kind == "dilated" else 1, padding=0 if kind == "dilated" else 1,
                            bias=False,
                            weight_quant=SignedBinaryWeightPerTensorConst),
            nn.BatchNorm2d(4))
        self.act = _binary_input()
        self.fc = qnn.QuantLinear(4 * 2 * 2 if kind == "dilated" else 4 * 6 * 6, 3, bias=False,
                                  weight_quant=SignedBinaryWeightPerTensorConst)

    def forward(self, x):
        x = self.inp(x)
        y = self.block(x)
        if self.kind == "unquantized":
            y = self.act(y + x)
        else:
            y = self.act(y)
        return self.fc(torch.flatten(y, 1))


@pytest.mark.parametrize("kind,needles", [
    ("dilated", ("(Conv, module block.0)", "dilated convolution")),
    ("unquantized", ("(Add)", "residual Add of the unquantized output of 'conv0' (from block.0; ONNX node 'node_Conv")),
])
def test_refusals_name_the_onnx_node_and_module(kind, needles, tmp_path, capsys):
    torch.manual_seed(0)
    path = export_qonnx(_Refusals(kind).eval(), torch.zeros(1, 4, 6, 6), tmp_path / "m.onnx")
    expect_error(capsys, ["compile", path, "-o", tmp_path / "out"], *needles)
    assert not (tmp_path / "out").exists()
