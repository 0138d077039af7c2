"""The concat model builders (tests/concat_nets.py) export with bnn2hls' export_qonnx to the
ONNX patterns the channel-concat op must import (recorded here: the Concat node's axis, what
produces each operand, what reads the result, the operands' quantizer scales), and the QONNX
executor equals the torch module on each, so they can serve as the op's references."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from bnn2hls.engines import qonnx_runner
from bnn2hls.frontend.onnx_import import load_model

from . import concat_nets

pytestmark = pytest.mark.tier("unit")

# name -> (Concat axis, [(operand producer op type, its scale or None)], consumer op type)
EXPECTED = {
    "shared_quant": (1, [("Quant", 1.0), ("Quant", 1.0)], "Conv"),  # one quantizer: a Quant node per call
    "shared_quant_qt": (1, [("Quant", 1.0), ("Quant", 1.0)], "Conv"),  # QuantTensors: the same graph
    "different_scales_pow2": (1, [("Quant", 2.0), ("Quant", 4.0)], "Conv"),
    "different_scales_float": (1, [("Quant", None), ("Quant", None)], "Conv"),
    "sign_and_conv": (1, [("BipolarQuant", 1.0), ("BipolarQuant", 1.0)], "Conv"),
    "reactnet_down": (1, [("Quant", 1.0), ("Quant", 1.0)], "BipolarQuant"),
    "reactnet_down_binary": (1, [("BipolarQuant", 1.0), ("BipolarQuant", 1.0)], "Conv"),
    "duplicate": (1, [("Quant", 1.0), ("Quant", 1.0)], "Conv"),  # one tensor named twice
    "three_way": (1, [("BipolarQuant", 1.0)] * 3, "Conv"),
    "cat_then_dense": (1, [("Quant", 1.0), ("Quant", 1.0)], "Reshape"),
    "mixed_sign_2bit": (1, [("BipolarQuant", 1.0), ("Quant", 1.0)], "Conv"),
    "cat_then_quant": (1, [("BatchNormalization", None), ("BatchNormalization", None)], "Quant"),
    "cat_then_sign": (1, [("BatchNormalization", None), ("BatchNormalization", None)], "BipolarQuant"),
    "height_cat": (2, [("Quant", 1.0), ("Quant", 1.0)], "Conv"),
}
DEFAULT = ("shared_quant", "sign_and_conv", "cat_then_quant")


def test_every_builder_has_its_pattern():
    assert set(EXPECTED) == set(concat_nets.BUILDERS)


@pytest.mark.parametrize("name", [n if n in DEFAULT else pytest.param(n, marks=pytest.mark.slow) for n in EXPECTED])
def test_export_pattern_and_qonnx_equals_torch(name, tmp_path):
    path, case = concat_nets.export(name, tmp_path)
    model = load_model(path)
    graph = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    (cat,) = [n for n in graph.node if n.op_type == "Concat"]
    axis, operands, consumer = EXPECTED[name]
    assert onnx.helper.get_attribute_value(cat.attribute[0]) == axis
    assert len(cat.input) == len(operands)
    for tensor, (op_type, scale) in zip(cat.input, operands):
        node = producer[tensor]
        assert node.op_type == op_type, (tensor, node.op_type)
        if op_type in ("Quant", "BipolarQuant"):
            s = float(np.asarray(inits.get(node.input[1], np.nan)).ravel()[0])
            assert scale is None or s == scale, (tensor, s)
            assert scale is not None or not np.log2(s).is_integer()
    (reader,) = [n for n in graph.node if cat.output[0] in n.input]
    assert reader.op_type == consumer
    x = case.inputs(6)
    with torch.no_grad():
        expect = case.module(torch.from_numpy(x)).numpy()
    got = qonnx_runner.run(model, x)
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-5)
    assert len({tuple(r) for r in got.round(5)}) > 1
