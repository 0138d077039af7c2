"""The graph IR's fork and join: a residual network built by hand (no importer), checked by
validate, the ir.json round trip and the reference engine against plain numpy."""
from __future__ import annotations

import numpy as np
import pytest

from bnn2hls import ir, reference
from bnn2hls.errors import UserError

pytestmark = pytest.mark.tier("unit")


def residual_net(shifts=(0, 0)) -> ir.Network:
    """input (4-bit) -> dense0 (2-bit levels) -+-> dense1 (2-bit levels) -> add -> sign -> dense2 -> head
                                                 '-------------------------'"""
    rng = np.random.default_rng(0)
    iq = ir.InputQuant(name="input", source_shape=(12,), preprocess=(), bits=4, scale=1.0, out_shape=(1, 1, 12))

    def dense(name, src, fan_in, mh, in_bits, levels):
        thresholds = np.sort(rng.integers(-10, 10, (mh, levels - 1)), axis=1) if levels else None
        return ir.Dense(name=name, in_shape=(1, 1, fan_in), out_channels=mh, kernel=(1, 1), stride=(1, 1),
                        pads=(0, 0, 0, 0), input_bits=in_bits, weights=rng.random((mh, fan_in)) < 0.5,
                        acc_scale=np.ones(mh, np.float32), binarize=bool(levels),
                        thresholds=thresholds, flip=(rng.random(mh) < 0.3) if levels else None,
                        out_levels=levels, out_offset=-2 if levels else 0, inputs=(src,))

    d0 = dense("dense0", "input", 12, 8, 4, 4)
    d1 = dense("dense1", "dense0", 8, 8, 2, 4)
    d1 = ir.Dense(**{**d1.__dict__, "weights": rng.integers(-1, 2, (8, 8)).astype(np.int8), "weight_bits": 2})
    join = ir.Join(name="add0", in_shape=(1, 1, 8), operand_scales=(1.0, 1.0), shifts=shifts, inputs=("dense0", "dense1"))
    act = ir.Threshold(name="act0", in_shape=(1, 1, 8), thresholds=rng.integers(-3, 3, 8), flip=rng.random(8) < 0.3,
                       inputs=("add0",))
    d2 = dense("dense2", "act0", 8, 3, 1, 0)
    head = ir.OutputHead(name="head", in_shape=(1, 1, 3), acc_scale=np.ones(3, np.float32), chain=(), inputs=("dense2",))
    return ir.validate(ir.Network("residual", (iq, d0, d1, join, act, d2, head)))


@pytest.mark.parametrize("shifts", [(0, 0), (1, 0)])
def test_residual_graph_validates_round_trips_and_runs(tmp_path, shifts):
    net = residual_net(shifts)
    assert [c.name for c in net.consumers["dense0"]] == ["dense1", "add0"]  # a fork
    assert net.value_range(net.layer("add0")) == ((-2 << shifts[0]) - 2, (1 << shifts[0]) + 1)
    assert net.element_bits(net.layer("add0")) == ir.signed_width(*net.value_range(net.layer("add0")))
    ir.save(net, tmp_path)
    again = ir.load(tmp_path)
    assert [type(layer) for layer in again.layers] == [type(layer) for layer in net.layers]
    x = np.random.default_rng(1).integers(-8, 8, (5, 12)).astype(np.float32)
    y = reference.run(again, x)

    # The same arithmetic, written out.
    d0, d1, d2 = (net.layer(n) for n in ("dense0", "dense1", "dense2"))
    q = np.clip(np.round(x), -8, 7).astype(np.int64)

    def levels(layer, acc):
        return layer.out_offset + sum((acc >= layer.thresholds[:, i]) ^ layer.flip for i in range(layer.out_levels - 1))

    a0 = levels(d0, q @ np.where(d0.weights, 1, -1).T)
    a1 = levels(d1, a0 @ d1.weights.astype(np.int64).T)
    s = (a0 << shifts[0]) + (a1 << shifts[1])
    act = net.layer("act0")
    bits = (s >= act.thresholds) ^ act.flip
    expect = np.where(bits, 1, -1) @ np.where(d2.weights, 1, -1).T
    np.testing.assert_array_equal(y, expect.astype(np.float32))


def test_join_arity_and_unused_values_are_refused():
    net = residual_net()
    join = net.layer("add0")
    with pytest.raises(UserError, match="add node takes 2 input"):
        ir.validate(net.replace_layer(ir.Join(**{**join.__dict__, "inputs": ("dense0",)})))
    d2 = net.layer("dense2")
    with pytest.raises(UserError, match="never used"):
        ir.validate(net.replace_layer(ir.Dense(**{**d2.__dict__, "inputs": ("dense0",)})))


def test_hardware_lowering_builds_the_dag_and_refuses_a_value_read_twice():
    from bnn2hls.hw.graph import layer_latency, lower
    from bnn2hls.hw.folding import estimate_cycles

    net = residual_net()
    graph = lower(net)
    kinds = [b.kind for b in graph.blocks]
    assert kinds.count("fork") == 1 and kinds.count("join") == 1 and kinds.count("threshold") == 1
    # latency: the longest path (dense0 -> dense1 -> add0 -> act0 -> dense2), not the sum:
    # intervals, pipeline depths, a fork and four FIFOs (tests/rtl/test_latency.py simulates it)
    cycles = estimate_cycles(net)
    lat = {name: c["interval"] + layer_latency(net.layer(name)) for name, c in cycles["layers"].items()}
    assert cycles["est_latency_cycles"] == sum(lat.values()) + 5  # the shortcut dense0 -> add0 is not
    join = net.layer("add0")
    with pytest.raises(UserError, match="reads the same value twice"):
        lower(net.replace_layer(ir.Join(**{**join.__dict__, "inputs": ("dense1", "dense1")})))
