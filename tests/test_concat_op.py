"""Channel concatenation (ir.Concat, bnn2hls/ops/concat.py) from Brevitas models that use
torch.cat the ways users write it (tests/concat_nets.py): the compiled network equals the QONNX
executor in the reference, and through `run --engine ref|hls|rtl` at the default folding and a
`--target-fps` one (RTL cycles per frame = the estimate, and the same outputs under stalls);
what it cannot compute exactly is refused at compile with one line naming the Concat node."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from bnn2hls import ir, reference
from bnn2hls.engines import qonnx_runner
from bnn2hls.errors import UserError
from bnn2hls.flow.compiler import build_network
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.ops.concat import concat_example, concat_layer

from . import concat_nets
from .test_cli_errors import expect_error
from .test_property_brevitas import argmax_is_a_tie
from .test_topologies import suite_foldings

pytestmark = pytest.mark.tier("unit")

# name -> (operand channels, shifts, element bits of the concatenation)
COMPILES = {
    "shared_quant": ((4, 4), (0, 0), 2),
    "shared_quant_qt": ((4, 4), (0, 0), 2),
    "different_scales_pow2": ((4, 4), (0, 1), 3),
    "sign_and_conv": ((4, 4), (0, 0), 1),
    "reactnet_down": ((4, 4), (0, 0), 2),
    "reactnet_down_binary": ((4, 4), (0, 0), 1),
    "three_way": ((2, 3, 4), (0, 0, 0), 1),
    "cat_then_dense": ((4, 4), (0, 0), 2),
    "mixed_sign_2bit": ((4, 4), (0, 0), 2),
    "cat_then_quant": ((4, 4), (0, 0), 2),  # BN per branch, cat, one quantizer: each conv's own
    "cat_then_sign": ((4, 4), (0, 0), 1),
}
# name -> what the one error line says besides the node
REFUSED = {
    "different_scales_float": "the ratio of the operands' scales is not a power of two",
    "height_cat": "Concat along axis 2",
    "duplicate": "the value of 'conv0' is concatenated with itself",
}
# through every engine in the default suite: N = 3 sign operands beside a 3x3 conv's path;
# the others in the slow suite (two 2-bit operands of power-of-two scales, a shift, 3-bit
# elements: 74 s; the concat block's bench tests/rtl/test_concat.py shifts in the default one)
ENGINES_DEFAULT = ("three_way",)
TARGET_FPS = 40000


def test_every_builder_is_compiled_or_refused():
    assert set(COMPILES) | set(REFUSED) == set(concat_nets.BUILDERS)


@pytest.mark.parametrize("name", list(COMPILES))
def test_reference_equals_qonnx(name, tmp_path):
    path, case = concat_nets.export(name, tmp_path)
    model = load_model(path)
    net = build_network(model, name)
    (cat,) = [layer for layer in net.layers if isinstance(layer, ir.Concat)]
    channels, shifts, bits = COMPILES[name]
    assert (cat.channels, cat.shifts, net.element_bits(cat)) == (channels, shifts, bits)
    assert net.is_bipolar(cat) == (bits == 1)
    x = case.inputs(16)
    y, expect = reference.run(net, x), qonnx_runner.run(model, x)
    assert len({tuple(r) for r in expect.round(4)}) > 1, "the outputs should vary with the input"
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)
    assert ((y.argmax(1) == expect.argmax(1)) | argmax_is_a_tie(expect)).all()


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_with_one_line_naming_the_concat(name, tmp_path, capsys):
    path, _ = concat_nets.export(name, tmp_path)
    out = tmp_path / "out"
    expect_error(capsys, ["compile", path, "-o", out], "node 'node_cat' (Concat)", REFUSED[name])
    assert not out.exists()


# ---------------------------------------------------------------------------------------
# The IR node and its kernel
# ---------------------------------------------------------------------------------------
def test_kernel_keeps_sign_bits_or_widens_and_shifts():
    a = np.array([[[[True, False]]]])
    b = np.array([[[[1, -2, 0]]]])
    keep = ir.Concat("c", (1, 1, 4), (2, 2), (1.0, 1.0), (0, 0))
    assert concat_layer(keep, [a, a]).dtype == np.bool_
    np.testing.assert_array_equal(concat_layer(keep, [a, ~a]), [[[[True, False, False, True]]]])
    mixed = ir.Concat("c", (1, 1, 5), (2, 3), (2.0, 1.0), (1, 0))
    np.testing.assert_array_equal(concat_layer(mixed, [a, b]), [[[[2, -2, 1, -2, 0]]]])


def test_ir_round_trip_and_value_rules():
    net = concat_example()
    cat = net.layer("concat0")
    assert isinstance(cat, ir.Concat)
    # a sign (scale 2: shifted by 1, +-2) beside 2-bit levels -2..1: 3-bit elements
    assert net.value_range(cat) == (-2, 2) and net.element_bits(cat) == 3 and not net.is_bipolar(cat)
    text, arrays = ir.to_json(net)
    assert ir.to_json(ir.from_json(text, arrays))[0] == text
    assert json.loads(text)["layers"][3]["kind"] == "concat"


@pytest.mark.parametrize("change, why", [
    ({"channels": (3, 3)}, "do not add up"),
    ({"channels": (5,), "shifts": (0,), "operand_scales": (1.0,)}, "at least 2"),
    ({"shifts": (1, 17)}, "shifts must be"),
    ({"operand_scales": (1.0, -1.0)}, "operand_scales must be"),
    ({"in_shape": (4, 4, 5), "channels": (2, 3)}, "input shape (4, 4, 2) != conv_a's output (4, 4, 3)"),
])
def test_malformed_concat_is_refused_naming_it(change, why):
    net = concat_example()
    bad = dataclasses.replace(net, layers=tuple(dataclasses.replace(layer, **change) if layer.name == "concat0" else layer
                                                for layer in net.layers))
    with pytest.raises(UserError, match="IR layer 'concat0'") as info:
        ir.validate(bad)
    assert why in str(info.value)


def test_a_concat_of_one_input_is_refused():
    net = concat_example()
    bad = dataclasses.replace(net, layers=tuple(dataclasses.replace(layer, inputs=("conv_a",)) if layer.name == "concat0"
                                                else layer for layer in net.layers))
    with pytest.raises(UserError, match="a concat node takes at least 2 input"):
        ir.validate(bad)


# ---------------------------------------------------------------------------------------
# Every engine, two foldings
# ---------------------------------------------------------------------------------------
@pytest.mark.tier("e2e")
@pytest.mark.parametrize("name", [n if n in ENGINES_DEFAULT else pytest.param(n, marks=pytest.mark.slow) for n in COMPILES])
@suite_foldings(TARGET_FPS)
def test_every_engine_equals_qonnx_at_two_foldings(name, folding, tmp_path):
    from .test_topologies import check_topology

    case = concat_nets.BUILDERS[name]()
    docs = check_topology(case.module, (3, 8, 8), tmp_path, folding, frames=4)
    for doc in docs:
        (cat,) = [e for e in doc["layers"] if e["kind"] == "concat"]
        assert tuple(cat["channels"]) == COMPILES[name][0]
