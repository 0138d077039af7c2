"""Issue 20, points 2, 4 and 6, as the papers' PyTorch code writes them: ReActNet's RSign and
RPReLU on a quantized residual stream, BinaryNet's nn.Hardtanh (an ONNX Clip) before the sign
or a quantizer, and a ReLU after a quantized add. The float ops on a quantized activation
before a quantizer become a standalone threshold on its integers; a Clip is one more step of
a chain folded by the exact evaluation. Each compiled network's reference equals the QONNX
executor; two run through every engine at two foldings; what cannot be exact is refused with
one line naming the node."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bnn2hls import ir, reference
from bnn2hls.engines import qonnx_runner
from bnn2hls.flow.compiler import build_network
from bnn2hls.frontend.onnx_import import import_model, load_model
from bnn2hls.frontend.torch_export import export_qonnx

from . import reactnet_nets as rn
from .test_cli_errors import expect_error
from .test_residual import _frames, check_against_qonnx

pytestmark = pytest.mark.tier("unit")

SHAPE = (3, 6, 6)


def _kinds(net: ir.Network) -> list[tuple[str, str]]:
    return [(layer.kind, layer.name) for layer in net.layers]


@pytest.mark.parametrize("bits,const", [(4, False), (2, True)])
def test_reactnet_rsign_and_rprelu_on_a_quantized_stream(bits, const, tmp_path):
    net = check_against_qonnx(rn.case(rn.ReActNet(bits, const), 0), tmp_path, shape=SHAPE)
    # RSign on the stem's levels, on a join's requantized output, and after an RPReLU
    rsigns = [t for t in net.layers if isinstance(t, ir.Threshold) and t.out_levels == 0]
    assert [type(net.producer(t)).__name__ for t in rsigns] == ["Conv", "Threshold", "Threshold"]
    assert all(not net.is_bipolar(net.producer(t)) for t in rsigns)
    # RPReLU after the add (the join's chain) and on the quantized stream (its own threshold)
    levels = [t for t in net.layers if isinstance(t, ir.Threshold) and t.out_levels]
    assert [type(net.producer(t)).__name__ for t in levels] == ["Join", "Join", "Threshold"]
    assert any(t.flip.any() or len(set(map(int, t.thresholds))) > 1 for t in rsigns)


def test_hardtanh_before_signs_quantizers_and_at_the_output(tmp_path):
    net = check_against_qonnx(rn.case(rn.HardtanhNet(), 0), tmp_path, shape=SHAPE)
    assert any(op.kind == "clip" for _, op in net.input_quant.preprocess)
    assert [op.kind for op in net.head.chain][-1] == "clip"
    assert _kinds(net)[1:-1] == [("conv", "conv0"), ("conv", "conv1"), ("threshold", "act0"), ("conv", "conv2"),
                                 ("dense", "dense0")]


def test_hardtanh_whose_range_excludes_zero_is_a_constant_sign(tmp_path):
    """sign(clip(x, 0.25, 1.0)) is +1 whatever x: every threshold sits at or below the lowest
    accumulator, and the network equals QONNX (whose output no longer depends on the input)."""
    case = rn.case(rn.HardtanhNet(constant=True), 0)
    path = export_qonnx(case.module, case.example, tmp_path / "m.onnx")
    model = load_model(path)
    net = build_network(model, "m")
    conv = net.layer("conv2")
    assert not conv.flip.any() and (conv.thresholds <= conv.acc_range[0]).all()
    x = _frames(6, 5, SHAPE)
    np.testing.assert_allclose(reference.run(net, x), qonnx_runner.run(model, x), rtol=1e-5, atol=1e-5)


def test_relu_after_a_quantized_add(tmp_path):
    check_against_qonnx(rn.case(rn.ReluAfterAddNet(), 0), tmp_path, shape=SHAPE)
    raw = import_model(load_model(tmp_path / "m.onnx"))  # the chains before the fold
    relu = [t for t in raw.layers if isinstance(t, ir.Threshold) and any(op.kind == "relu" for op in t.chain)]
    # QuantReLU after QuantEltwiseAdd's output quantizer; nn.ReLU after a requantized add
    assert len(relu) == 2 and all(isinstance(raw.producer(t), ir.Threshold) for t in relu)
    assert all(isinstance(raw.producer(raw.producer(t)), ir.Join) for t in relu)


@pytest.mark.slow
@pytest.mark.tier("e2e")
def test_reactnet_through_every_engine(tmp_path):
    from .test_topologies import check_topology

    docs = check_topology(rn.case(rn.ReActNet(4), 0).module, SHAPE, tmp_path, (None, 150000), frames=4)
    assert [e["kind"] for e in docs[0]["layers"]].count("threshold") == 6


@pytest.mark.slow
@pytest.mark.tier("e2e")
def test_hardtanh_through_every_engine(tmp_path):
    from .test_topologies import check_topology

    check_topology(rn.case(rn.HardtanhNet(), 0).module, SHAPE, tmp_path, (None, 150000), frames=4)


@pytest.mark.slow
@pytest.mark.tier("e2e")
def test_relu_after_add_through_every_engine(tmp_path):
    from .test_topologies import check_topology

    check_topology(rn.case(rn.ReluAfterAddNet(), 0).module, SHAPE, tmp_path, (None, 150000), frames=4)


@pytest.mark.slow
@pytest.mark.tier("e2e")
def test_per_channel_scales_through_every_engine(tmp_path):
    from .test_topologies import check_topology

    check_topology(rn.case(rn.PerChannelActNet(), 0, (3, 8, 8)).module, (3, 8, 8), tmp_path, (None, 150000), frames=4)


@pytest.mark.slow
@pytest.mark.tier("e2e")
def test_trunc_avg_pool_through_every_engine(tmp_path):
    from .test_topologies import check_topology

    check_topology(rn.case(rn.TruncPoolNet(), 0, (3, 8, 8)).module, (3, 8, 8), tmp_path, (None, 150000), frames=4)


@pytest.mark.parametrize("signed", [False, True])
def test_trunc_avg_pool(signed, tmp_path):
    """TruncAvgPool2d of a QuantReLU / a signed fixed-point stream, and a global
    TruncAdaptiveAvgPool2d: a standalone threshold on each pool's integer sums."""
    net = check_against_qonnx(rn.case(rn.TruncPoolNet(signed), 0, (3, 8, 8)), tmp_path, shape=(3, 8, 8))
    pools = [t for t in net.layers if isinstance(t, ir.Threshold)]
    assert [type(net.producer(t)).__name__ for t in pools] == ["SumPool", "SumPool"]
    assert [t.out_levels for t in pools] == [8, 16]
    raw = import_model(load_model(tmp_path / "m.onnx"))
    assert [op.kind for op in raw.layer(pools[0].name).chain] == ["div", "round", "div"]


def test_trunc_avg_pool_of_the_input_quantizer(tmp_path):
    """TruncAvgPool2d on an 8-bit input quantizer with a float scale (refused before issue 20;
    tests/test_pooling.py's form): a sum pool and a threshold."""
    from .test_pooling import _Refused, randomized

    module = randomized(_Refused("trunc"), 0)
    module(torch.randn(1, 3, 8, 8))
    path = export_qonnx(module, torch.zeros(1, 3, 8, 8), tmp_path / "m.onnx")
    model = load_model(path)
    net = build_network(model, "m")
    assert [layer.kind for layer in net.layers] == ["input_quant", "sumpool", "threshold", "dense", "output_head"]
    x = _frames(8, 5, (3, 8, 8))
    np.testing.assert_allclose(reference.run(net, x), qonnx_runner.run(model, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind,needles", [
    ("shift_into_conv", ("(Conv, module conv1)", "float ops (add) on the quantized activation of 'conv0' (from conv0, q0;",
                         "quantizer")),
    ("clip_into_conv", ("(Conv, module conv1)", "float ops (clip) on the quantized activation of 'conv0' (from conv0, q0;",
                        "quantizer")),
    ("binary_shift", ("(BipolarQuant, module sign)", "binary activation of 'conv0' (from conv0", "channel 0: -1, +1 become 1, 1")),
    ("along_width", ("(Add)", "varies along width")),
])
def test_refused(kind, needles, tmp_path, capsys):
    torch.manual_seed(0)
    module = rn.Refused(kind)
    path = export_qonnx(module.eval(), torch.zeros(1, *SHAPE), tmp_path / "m.onnx")
    expect_error(capsys, ["compile", path, "-o", tmp_path / "out"], *needles)
    assert not (tmp_path / "out").exists()


def test_a_shift_that_keeps_sign_bits_is_no_node(tmp_path):
    """sign(b + 0.5) for sign bits b: the same bits (the sign's scale), nothing to compute."""
    torch.manual_seed(0)
    case = rn.case(rn.Refused("binary_small_shift"), 0)
    model = load_model(export_qonnx(case.module, case.example, tmp_path / "m.onnx"))
    net = build_network(model, "m")
    assert [layer.kind for layer in net.layers] == ["input_quant", "conv", "dense", "output_head"]
    x = _frames(6, 5, SHAPE)
    np.testing.assert_allclose(reference.run(net, x), qonnx_runner.run(model, x), rtol=1e-5, atol=1e-5)


def test_per_channel_activation_scales(tmp_path):
    """XNOR-Net++'s per-channel activation scales, read by a max-pool, RSign and a sign."""
    net = check_against_qonnx(rn.case(rn.PerChannelActNet(), 0, (3, 8, 8)), tmp_path, shape=(3, 8, 8))
    raw = import_model(load_model(tmp_path / "m.onnx"))
    assert raw.layer("conv0").act_quant.scale == 1.0 and raw.layer("conv0").chain[-1].kind == "div"
    assert raw.layer("conv0").chain[-1].params["c"].shape == (4,)
    assert isinstance(net.producer(net.layer("act0")), ir.MaxPool)
    assert raw.layer("act0").chain[0].kind == "mul" and raw.layer("act0").chain[0].params["c"].shape == (4,)


def test_per_channel_quantizer_with_equal_scales_is_per_tensor(tmp_path):
    """A per-channel quantizer whose C scales are equal is an ordinary one (a conv may read it)."""
    case = rn.case(rn.PerChannelActNet(into="conv"), 0, (3, 8, 8))
    for name, buffer in case.module.q0.named_buffers():
        if name.endswith("scaling_impl.buffer"):
            buffer.fill_(0.25)
    model = load_model(export_qonnx(case.module, case.example, tmp_path / "m.onnx"))
    net = build_network(model, "m")
    x = _frames(6, 5, (3, 8, 8))
    np.testing.assert_allclose(reference.run(net, x), qonnx_runner.run(model, x), rtol=1e-5, atol=1e-5)
    raw = import_model(model)
    assert raw.layer("conv0").act_quant.scale == pytest.approx(0.25 / 15) and raw.layer("conv0").chain[-1].kind != "div"
    assert isinstance(net.producer(net.layer("conv1")), ir.MaxPool)


@pytest.mark.parametrize("into,needles", [
    ("conv", ("(Conv, module conv1)", "activation of 'maxpool0' (from pool; ONNX node", "has per-channel scales",
              "this layer has no single integer grid")),
    ("add", ("(Add)", "has per-channel scales", "a residual Add")),
])
def test_per_channel_activation_scales_refused(into, needles, tmp_path, capsys):
    case = rn.case(rn.PerChannelActNet(into=into), 0, (3, 8, 8))
    path = export_qonnx(case.module, case.example, tmp_path / "m.onnx")
    expect_error(capsys, ["compile", path, "-o", tmp_path / "out"], *needles)
    assert not (tmp_path / "out").exists()


def test_clip_and_round_steps():
    """The two new chain steps as onnxruntime's Clip and QONNX's Trunc compute them."""
    clip = ir.AffineOp(kind="clip", params={"lo": np.full(1, -0.5, np.float32), "hi": np.full(1, 1.25, np.float32)})
    x = np.array([[-3.0, -0.5, 0.0, 1.25, 7.0]], np.float32)
    np.testing.assert_array_equal(ir.apply_chain((clip,), x), [[-0.5, -0.5, 0.0, 1.25, 1.25]])
    rnd = ir.AffineOp(kind="round", params={})
    np.testing.assert_array_equal(ir.apply_chain((rnd,), np.array([[0.5, 1.5, -2.5, 2.4]], np.float32)),
                                  [[0.0, 2.0, -2.0, 2.0]])


def test_the_board_driver_applies_every_chain_step_as_the_ir():
    """templates/project/driver.py.j2's `affine` (the host's preprocessing and head) agrees
    with AffineOp.apply on every kind, clip and round included."""
    from pathlib import Path

    text = (Path(__file__).parents[1] / "templates" / "project" / "driver.py.j2").read_text()
    start = text.index("def affine(")
    source = text[start:text.index("\n\n\n", start)]
    assert "{{" not in source and "{%" not in source
    scope: dict = {"np": np}
    exec(source, scope)  # noqa: S102 -- our own template's plain-Python function
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((5, 3)) * 3).astype(np.float32)
    c = rng.standard_normal(3).astype(np.float32)
    params = {"c": c, "lo": np.full(1, -0.5, np.float32), "hi": np.full(1, 1.5, np.float32),
              "scale": c, "bias": c[::-1].copy(), "mean": c * 0.5, "var": np.abs(c) + 0.1}
    need = {"batchnorm": ("scale", "bias", "mean", "var"), "relu": (), "round": (), "clip": ("lo", "hi")}
    for kind in ir.AffineOp.KINDS:
        keys = need.get(kind, ("c",))
        op = ir.AffineOp(kind=kind, params={k: params[k] for k in keys}, eps=1e-3 if kind == "batchnorm" else 0.0)
        doc = {"kind": kind, "eps": op.eps, "params": {k: k for k in keys}}
        np.testing.assert_array_equal(scope["affine"](doc, params, x), op.apply(x), err_msg=kind)


def test_rsign_tie_on_a_level_is_plus_one():
    """RSign whose shift puts a reachable level exactly on 0 (float32 x * scale + shift == 0):
    the source's sign there is +1 (Brevitas' binary quantizer maps 0 to +1), and the
    threshold is that level, per channel, with a falling channel flipped."""
    from bnn2hls.passes.thresholds import threshold_node_of

    iq = ir.InputQuant(name="input", source_shape=(4,), preprocess=(), bits=3, scale=1.0, out_shape=(1, 1, 4))
    d0 = ir.Dense(name="dense0", in_shape=(1, 1, 4), out_channels=3, kernel=(1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
                  input_bits=3, weights=np.ones((3, 4), bool), acc_scale=np.ones(3, np.float32), binarize=True,
                  thresholds=np.array([[-3, -1, 1]] * 3), flip=np.zeros(3, bool), out_levels=4, out_offset=-2,
                  inputs=("input",))
    scale, shift = np.float32(0.1), np.float32(-0.1)  # levels -2..1 at 0.1: level 1 lands on 0 exactly
    chain = (ir.AffineOp(kind="mul", params={"c": np.full(3, scale, np.float32)}),
             ir.AffineOp(kind="add", params={"c": np.array([shift, 0.05, 0.1], np.float32)}),
             ir.AffineOp(kind="mul", params={"c": np.array([1.0, 1.0, -1.0], np.float32)}))
    act = ir.Threshold(name="act0", in_shape=(1, 1, 3), chain=chain, inputs=("dense0",))
    d1 = ir.Dense(name="dense1", in_shape=(1, 1, 3), out_channels=2, kernel=(1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
                  input_bits=1, weights=np.ones((2, 3), bool), acc_scale=np.ones(2, np.float32), binarize=False,
                  inputs=("act0",))
    head = ir.OutputHead(name="head", in_shape=(1, 1, 2), acc_scale=np.ones(2, np.float32), chain=(), inputs=("dense1",))
    net = ir.validate(ir.Network("t", (iq, d0, act, d1, head)))
    assert np.float32(np.float32(1) * scale) + shift == 0
    thresholds, flip = threshold_node_of(net, act)
    # ch 0: 0.1x - 0.1 >= 0 from x = 1 (the tie); ch 1: 0.1x + 0.05 >= 0 from x = 0;
    # ch 2: -(0.1x + 0.1) >= 0 up to x = -1 (falling: the step is where it turns -1, x = 0)
    assert thresholds.tolist() == [1, 0, 0] and flip.tolist() == [False, False, True]
