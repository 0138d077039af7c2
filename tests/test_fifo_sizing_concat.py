"""FIFO sizing into a channel concat (bnn2hls/hw/fifo_sizing.py): a concat meets its operands
as a join does (item k of every operand together), so the join's sizing applies with N >= 2
operands (`operand_depths`: the other side is the furthest-reading of the other operands).

The networks are the hand-built residual ones (tests/residual_nets.py) with their join replaced
by an `ir.Concat` (its op's need map: item k of every operand, bnn2hls/ops/concat.py)."""
from __future__ import annotations

import dataclasses

import pytest

from bnn2hls import ir
from bnn2hls.hw.fifo_sizing import MIN_JOIN_DEPTH, reconvergent_fifo_depths

from .residual_nets import residual_conv_net

pytestmark = pytest.mark.tier("unit")


def with_cat(net: ir.Network, inputs: tuple[str, ...], extra: tuple = ()) -> ir.Network:
    """`net` with its join replaced by a concat of `inputs` (after the layers `extra`)."""
    join = next(layer for layer in net.layers if isinstance(layer, ir.Join))
    h, w, c = join.in_shape
    n = len(inputs)
    cat = ir.Concat(join.name, (h, w, c * n), (c,) * n, (1.0,) * n, (0,) * n, inputs)
    layers: list = []
    for layer in net.layers:
        if layer is join:
            layers += [*extra, cat]
        else:
            layers.append(layer)
    return dataclasses.replace(net, layers=tuple(layers))


# the join's depths, as before the sizing took N operands (hw = 8 and 12)
JOIN_DEPTHS = {
    ("identity", 8): {("conv1", "add0"): 3, ("conv0", "add0"): 39},
    ("identity", 12): {("conv1", "add0"): 3, ("conv0", "add0"): 55},
    ("conv", 8): {("conv1", "add0"): 9, ("conv_sc", "add0"): 14},
    ("conv", 12): {("conv1", "add0"): 11, ("conv_sc", "add0"): 18},
}


@pytest.mark.parametrize("shortcut, hw", list(JOIN_DEPTHS))
def test_join_depths_unchanged_and_a_two_way_concat_gets_the_same(shortcut, hw):
    net = residual_conv_net(shortcut, hw=hw)
    assert reconvergent_fifo_depths(net) == JOIN_DEPTHS[(shortcut, hw)]
    join = next(layer for layer in net.layers if isinstance(layer, ir.Join))
    cat = with_cat(net, join.inputs)  # BinaryDenseNet: cat(conv(x), x); ReActNet: cat(conv(x), conv'(x))
    assert reconvergent_fifo_depths(cat) == JOIN_DEPTHS[(shortcut, hw)]
    swapped = with_cat(net, join.inputs[::-1])
    assert reconvergent_fifo_depths(swapped) == JOIN_DEPTHS[(shortcut, hw)]


@pytest.mark.parametrize("hw", [8, 12])
def test_three_way_concat_takes_the_furthest_reading_other_path(hw):
    """conv0 forks to a 3x3 stride-2 conv, a 1x1 stride-2 conv and a 2x2 stride-2 max-pool,
    concatenated (a Fire module / Inception-like downsampling): each operand's FIFO is the
    largest of its two-way bounds against each other operand, and the 3x3 conv, which reads
    furthest ahead, needs the least (hw 8: conv1 9, conv_sc 14, pool 13; hw 12: 11, 18, 17)."""
    net = residual_conv_net("conv", hw=hw)
    conv0 = net.layer("conv0")
    pool = ir.MaxPool("pool", conv0.out_shape, (2, 2), (2, 2), inputs=("conv0",))
    three = with_cat(net, ("conv1", "conv_sc", "pool"), extra=(pool,))
    got = reconvergent_fifo_depths(three)
    assert set(got) == {("conv1", "add0"), ("conv_sc", "add0"), ("pool", "add0")}
    pairwise: dict[str, int] = {}
    for a, b in (("conv1", "conv_sc"), ("conv1", "pool"), ("conv_sc", "pool")):
        two = with_cat(net, (a, b), extra=(pool,))
        for (operand, _), depth in reconvergent_fifo_depths(two).items():
            pairwise[operand] = max(pairwise.get(operand, 0), depth)
    assert {operand: d for (operand, _), d in got.items()} == pairwise
    assert got[("conv1", "add0")] < min(got[("conv_sc", "add0")], got[("pool", "add0")])
    assert min(got.values()) >= MIN_JOIN_DEPTH
    # the 3x3 conv reads furthest ahead: the 1x1 conv's FIFO is the join's; the pool's item k
    # reads one row more of the fork than the 1x1 conv's, so it waits less (hw 8: 9, 14, 13)
    assert got[("conv_sc", "add0")] == JOIN_DEPTHS[("conv", hw)][("conv_sc", "add0")]
    assert got[("pool", "add0")] < got[("conv_sc", "add0")]
