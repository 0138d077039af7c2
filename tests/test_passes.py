"""Unit tests of the passes and of the arithmetic they rely on."""
from __future__ import annotations

import pytest
import numpy as np
import onnxruntime as ort
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from bnn2hls.ir import datapath, padding_pattern
from bnn2hls.ir import AffineOp, Conv, apply_chain
from bnn2hls.passes.padding import border_table, resolve_padding
from bnn2hls.passes.thresholds import threshold_of
from bnn2hls.reference import pack_bits, windows, xnor_popcount

pytestmark = pytest.mark.tier("unit")


def make_conv(rng, h, w, c, cout, k, stride, pads, chain=(), input_bits=1):
    return Conv(name="c", in_shape=(h, w, c), out_channels=cout, kernel=(k, k), stride=(stride, stride), pads=pads,
                input_bits=input_bits, weights=rng.random((cout, k * k * c)) < 0.5,
                acc_scale=np.ones(cout, np.float32), binarize=True, chain=tuple(chain))


def zero_padded_dot(layer, bits):
    """The source's arithmetic: +-1 values, zero padding, plain integer dot products."""
    values = np.where(bits, 1, -1).astype(np.int64)
    t, l, b, r = layer.pads
    padded = np.pad(values, ((0, 0), (t, b), (l, r), (0, 0)))
    cols = windows(padded, layer.kernel, layer.stride)
    return cols @ np.where(layer.weights, 1, -1).T


def hardware_dot(layer, bits):
    """What the datapath computes: FBNA pattern in the border, XNOR-popcount, 2p - N."""
    padded = padding_pattern.pad_binary_image(bits, layer.pads)
    cols = windows(padded, layer.kernel, layer.stride)
    n, oh, ow, mw = cols.shape
    p = xnor_popcount(pack_bits(cols).reshape(n * oh * ow, -1), pack_bits(layer.weights), mw)
    return 2 * p.reshape(n, oh, ow, -1).astype(np.int64) - mw


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 70), cout=st.integers(1, 6),
       k=st.integers(1, 5), stride=st.integers(1, 3), pads=st.tuples(*[st.integers(0, 3)] * 4), seed=st.integers(0, 99))
def test_border_correction_makes_hardware_equal_zero_padding(h, w, c, cout, k, stride, pads, seed):
    if h + pads[0] + pads[2] < k or w + pads[1] + pads[3] < k:
        return
    rng = np.random.default_rng(seed)
    layer = make_conv(rng, h, w, c, cout, k, stride, pads)
    layer = Conv(**{**layer.__dict__, "border": border_table(layer)})
    bits = rng.random((2, h, w, c)) < 0.5
    corrected = hardware_dot(layer, bits) - datapath.corrections_at_positions(layer)[None]
    assert np.array_equal(corrected, zero_padded_dot(layer, bits))


def test_border_classes_are_few():
    rng = np.random.default_rng(0)
    table = border_table(make_conv(rng, 32, 32, 8, 4, 3, 1, (1, 1, 1, 1)))
    # top / interior / bottom rows x left / interior / right columns, two pattern phases
    assert table.corrections.shape == (3, 3, 2, 4)
    assert set(table.row_class[[0, 1, 30, 31]]) == {0, 1, 2} and table.row_class[0] != table.row_class[31]
    assert not table.corrections[0, 0].any()


def test_uncorrected_pattern_would_be_wrong():
    """Sanity: the correction is not a no-op (the test above could not fail otherwise)."""
    rng = np.random.default_rng(1)
    layer = make_conv(rng, 6, 6, 5, 4, 3, 1, (1, 1, 1, 1))
    bits = rng.random((2, 6, 6, 5)) < 0.5
    assert not np.array_equal(hardware_dot(layer, bits), zero_padded_dot(layer, bits))


def test_resolve_padding_skips_multibit_and_alternating():
    rng = np.random.default_rng(2)
    from bnn2hls.ir import Network

    multibit = make_conv(rng, 5, 5, 3, 2, 3, 1, (1, 1, 1, 1), input_bits=8)
    net = Network(name="n", layers=(None, multibit, None))  # resolve_padding only looks at layers
    assert resolve_padding(net).layers[1].border is None
    alternating = Conv(**{**make_conv(rng, 5, 5, 3, 2, 3, 1, (1, 1, 1, 1)).__dict__, "pad_mode": "alternating"})
    assert resolve_padding(Network(name="n", layers=(alternating,))).layers[0].border is None


def bn_chain(gamma, beta, mean, var, eps=1e-4):
    f = lambda v: np.asarray(v, np.float32)  # noqa: E731
    return (AffineOp("batchnorm", {"scale": f(gamma), "bias": f(beta), "mean": f(mean), "var": f(var)}, eps),)


def test_threshold_matches_real_arithmetic_and_handles_negative_gamma():
    rng = np.random.default_rng(3)
    n = 64
    gamma = rng.uniform(0.2, 1.5, 16) * np.where(rng.random(16) < 0.4, -1, 1)
    beta, mean, var = rng.normal(0, 1, 16), rng.normal(0, 4, 16), rng.uniform(0.5, 30, 16)
    layer = make_conv(rng, 1, 1, n, 16, 1, 1, (0, 0, 0, 0), chain=bn_chain(gamma, beta, mean, var))
    thresholds, flip = threshold_of(layer)
    assert np.array_equal(flip, gamma < 0)
    tau = mean - beta * np.sqrt(var + 1e-4) / gamma
    expect = np.where(gamma > 0, np.ceil(tau), np.floor(tau) + 1)  # flipped: bit = not(acc >= floor+1)
    expect = np.clip(expect, -n, n + 1)
    assert np.array_equal(thresholds, expect.astype(np.int64))
    acc = np.arange(-n, n + 1)
    bits = apply_chain(layer.chain, acc[:, None].astype(np.float32)) >= 0
    assert np.array_equal(bits, (acc[:, None] >= thresholds) ^ flip)


def test_constant_channels_and_exact_zero_maps_to_plus_one():
    rng = np.random.default_rng(4)
    # channel 0: always positive; channel 1: always negative; channel 2: zero exactly at acc=3
    chain = bn_chain([1e-6, 1e-6, 1.0], [5.0, -5.0, 0.0], [0.0, 0.0, 3.0], [1.0, 1.0, 1.0 - 1e-4])
    layer = make_conv(rng, 1, 1, 8, 3, 1, 1, (0, 0, 0, 0), chain=chain)
    thresholds, flip = threshold_of(layer)
    assert list(thresholds) == [-8, 9, 3] and not flip.any()


def test_batchnorm_affine_op_is_bitwise_onnxruntime():
    """AffineOp('batchnorm') must reproduce onnxruntime's float32 BatchNormalization exactly,
    or thresholds could disagree with the QONNX executor at near-ties."""
    rng = np.random.default_rng(5)
    c = 32
    params = {k: v.astype(np.float32) for k, v in dict(
        scale=rng.normal(0, 1, c), bias=rng.normal(0, 1, c), mean=rng.normal(0, 10, c), var=rng.uniform(0.01, 100, c)).items()}
    x = (rng.integers(-500, 500, (257, c)) * rng.choice([1.0, 2.0**-7], (257, c))).astype(np.float32)
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-4)
    graph = helper.make_graph([node], "bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(x.shape))],
                              [numpy_helper.from_array(params[k], n) for k, n in (("scale", "s"), ("bias", "b"), ("mean", "m"), ("var", "v"))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    expect = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    got = AffineOp("batchnorm", params, 1e-4).apply(x)
    assert np.array_equal(got.view(np.uint32), expect.view(np.uint32))


def test_xnor_popcount_equals_plain_dot():
    rng = np.random.default_rng(6)
    for mw in (1, 63, 64, 65, 200):
        a, w = rng.random((7, mw)) < 0.5, rng.random((5, mw)) < 0.5
        p = xnor_popcount(pack_bits(a), pack_bits(w), mw)
        dot = np.where(a, 1, -1) @ np.where(w, 1, -1).T
        assert np.array_equal(2 * p - mw, dot)
