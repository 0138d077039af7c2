"""Every IR op kind is complete: registered, with every behaviour the pipeline asks of it
(bnn2hls/ops/base.py), and priced by every cost backend. A half-added op fails here, not as a
crash in some pass or a zero cost in some backend."""
from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

from bnn2hls import ir, ops
from bnn2hls.estimate import cost_model
from bnn2hls.hw import blocks
from bnn2hls.hw.graph import lower
from bnn2hls.ops.base import items
from bnn2hls.reference import quantize_input
from bnn2hls.search.backends import gpu, rram

pytestmark = pytest.mark.tier("unit")

KINDS = ops.kinds()
BEHAVIOURS = sorted(name for name, member in inspect.getmembers(ops.Op) if getattr(member, "__isabstractmethod__", False))


def instance(kind: type[ops.Op]) -> ops.Op:
    missing = sorted(getattr(kind, "__abstractmethods__", ()))
    assert not missing, f"op {kind.__name__} ({kind.node.__name__}) lacks: {', '.join(missing)}"
    return kind()


def example(kind: type[ops.Op]) -> tuple[ops.Op, ir.Network, object]:
    op = instance(kind)
    net = op.example()
    layer = next((layer for layer in net.layers if type(layer) is kind.node), None)
    assert layer is not None, f"{kind.__name__}.example() holds no {kind.node.__name__}"
    return op, net, layer


def test_every_datapath_node_has_one_op():
    nodes = set(ir.LAYER_TYPES.values()) - {ir.InputQuant, ir.OutputHead}
    assert set(ops.REGISTRY) == nodes, ({n.__name__ for n in nodes - set(ops.REGISTRY)},
                                        {n.__name__ for n in set(ops.REGISTRY) - nodes})
    assert BEHAVIOURS == ["example", "kernel", "need", "summary", "work"]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_op_has_every_behaviour(kind):
    op, net, layer = example(kind)
    assert ops.op_of(layer).__class__ is kind
    producers = net.producers(layer)
    arity = getattr(kind.node, "arity", 1)
    assert len(producers) == arity if arity is not None else len(producers) >= 2

    # kernel: every value of the example, through each op's own kernel
    rng = np.random.default_rng(0)
    x = rng.integers(-8, 8, (3, *net.input_quant.source_shape)).astype(np.float32)
    values = {net.input_quant.name: quantize_input(net.input_quant, x)}
    for node in net.datapath:
        values[node.name] = ops.op_of(node).kernel(node, [values[name] for name in node.inputs])
    out = values[layer.name]
    assert out.shape == (3, *layer.out_shape), (out.shape, layer.out_shape)
    lo, hi = net.value_range(layer)
    ints = np.where(out, 1, -1) if out.dtype == np.bool_ else out
    assert lo <= ints.min() and ints.max() <= hi

    # FIFO need, per operand: one entry per output item, reading forward through the input
    for i, p in enumerate(producers):
        need = op.need(layer, i, net)
        n_out = 1 if isinstance(layer, ir.Dense) else items(layer.out_shape)
        assert need.shape == (n_out,) and need.min() >= -1 and need.max() < items(p.out_shape)
        assert (np.diff(need) >= 0).all()
    assert op.input_fifo_depth(layer) >= ops.MIN_FIFO_DEPTH

    # report summary: JSON, and no key of the common part overridden
    summary = op.summary(layer)
    json.dumps(summary)
    assert not {"kind", "in_shape", "out_shape"} & summary.keys()

    # lowering: named block kinds that exist, and blocks for the layer in the hardware graph
    assert kind.blocks, f"{kind.__name__}: lowers to no block kind"
    assert [blocks.by_kind(k) for k in kind.blocks] == list(blocks.LAYER_BLOCKS[kind.node])
    assert lower(net).by_layer()[layer.name], f"{kind.__name__}: no hardware block for '{layer.name}'"

    # work: something to price
    work = op.work(layer, net)
    assert isinstance(work, ops.Work) and work.bits_in > 0 and work.elements_out > 0
    assert work.ops > 0 or work.matrix is not None


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_every_op_is_priced_by_every_backend(kind):
    """fpga (the calibrated resource model of its blocks), gpu and rram: a nonzero price for
    the op itself, and an entry for its layer in the network's cost."""
    op, net, layer = example(kind)
    fpga = cost_model.estimate(net).layers[layer.name].resources.to_dict()
    assert fpga["est_lut_total"] > 0, fpga

    work = op.work(layer, net)
    dev = gpu.load_device("h100-sxm5-80gb")
    for batch in (1, dev.throughput_batch):
        kernel = gpu.price(work, dev, batch)
        assert kernel["memory_s"] > 0 and kernel["time_s"] > kernel["launch_s"], kernel
    assert layer.name in {e["name"] for e in gpu.estimate_on(net, dev).details["layers"]} | \
        {c.name for j in net.datapath if isinstance(j, ir.Join) for c in net.consumers[j.name]}

    chip = rram.load_device("rram-edge-64x128")
    crossbar = rram.price(work, chip)
    assert crossbar["time_s"] > 0 and crossbar["energy_j"] > 0, crossbar
    assert layer.name in {e["name"] for e in rram.estimate_on(net, chip).details["layers"]}


def test_a_sum_pool_costs_something_on_gpu_and_rram():
    """The GAP head's sum pool was once left out of both backends (a zero)."""
    net = ops.SumPoolOp().example()
    dev, chip = gpu.load_device("h100-sxm5-80gb"), rram.load_device("rram-edge-64x128")
    (pool,) = [e for e in gpu.estimate_on(net, dev).details["layers"] if e["kind"] == "sumpool"]
    assert pool["path"] == "pool" and pool["bytes"]["act_in"] > 0
    (pool,) = [e for e in rram.estimate_on(net, chip).details["layers"] if e["kind"] == "sumpool"]
    assert pool["digital_adds"] == 4 * (16 - 1)  # 4 channels, one 4x4 window each
