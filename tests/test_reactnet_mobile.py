"""Issue 20: a ReActNet-style network as its authors' PyTorch code writes it
(tests/reactnet_nets.py `ReActNetMobile`: MobileNet-like basic blocks of RSign -> binary 3x3
conv with zero padding -> BN -> + the quantized shortcut -> RPReLU, then RSign -> binary 1x1
conv -> BN -> + the shortcut -> RPReLU; a stride-2 downsampling block whose shortcut is
AvgPool2d(2) of the quantized stream and whose 1x1 part is two convs, each plus the
shortcut, concatenated to double the channels, then RPReLU and one quantizer; a stem conv
and a GAP + linear head), exported with export_qonnx. Its reference equals the QONNX
executor (default suite); ref, hls and rtl equal it at the default folding and a
--target-fps one, the RTL's cycles per frame the estimate (slow). Measured (4-bit stream,
3x16x16, 4 frames): 36,864 cycles per frame at the default folding (all PE = SIMD = 1),
4,608 at --target-fps 20000 (SIMD 3 and 8 on the stem and the first 3x3 conv, 2 on the
strided one), the RTL equal to the estimate at both."""
from __future__ import annotations

import numpy as np
import pytest

from bnn2hls import ir, reference
from bnn2hls.engines import qonnx_runner
from bnn2hls.flow.compiler import build_network
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.frontend.torch_export import export_qonnx

from . import reactnet_nets as rn
from .test_residual import _frames

pytestmark = pytest.mark.tier("unit")

SHAPE = (3, 16, 16)
E2E_FPS = 20_000  # at 100 MHz: 5,000 cycles per frame


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    case = rn.case(rn.ReActNetMobile(4), 0, SHAPE, batches=8)  # 8 calibration batches: cheap enough
    path = export_qonnx(case.module, case.example, tmp_path_factory.mktemp("reactnet") / "m.onnx")
    model = load_model(path)
    return model, build_network(model, "reactnet")


def test_reactnet_mobile_reference_equals_qonnx(compiled):
    model, net = compiled
    x = _frames(6, 5, SHAPE)
    y, expect = reference.run(net, x), qonnx_runner.run(model, x)
    assert len({tuple(r) for r in expect.round(4)}) > 1, "the outputs should vary with the input"
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)


def test_reactnet_mobile_structure(compiled):
    """The zero-padded binary 3x3 convs keep their border tables and multi-level outputs; the
    strided block's shortcut is a 2x2 sum pool added at a shift of 2 (scale s/4 beside s); its
    two 1x1 branches are each added to the stream, then concatenated after their RPReLU
    thresholds."""
    _, net = compiled
    padded = [l for l in net.matrix_layers if l.popcount and l.border is not None]
    assert [(l.kernel, l.stride, l.out_levels) for l in padded] == [((3, 3), (1, 1), 16), ((3, 3), (2, 2), 16)]
    joins = [l for l in net.layers if isinstance(l, ir.Join)]
    assert len(joins) == 5
    (pooled,) = [j for j in joins if any(isinstance(net.layer(i), ir.SumPool) for i in j.inputs)]
    assert sorted(pooled.shifts) == [0, 2]
    (cat,) = [l for l in net.layers if isinstance(l, ir.Concat)]
    assert cat.channels == (8, 8)
    assert all(isinstance(net.layer(i), ir.Threshold) and isinstance(net.producer(net.layer(i)), ir.Join)
               for i in cat.inputs)
    # RSign: a standalone sign threshold before each binary 3x3 and 1x1 conv of the blocks
    rsigns = [t for t in net.layers if isinstance(t, ir.Threshold) and t.out_levels == 0]
    assert len(rsigns) == 4


@pytest.mark.slow
@pytest.mark.tier("e2e")
@pytest.mark.parametrize("bits,const", [(4, False), (2, True)])
def test_reactnet_mobile_through_every_engine(bits, const, tmp_path):
    from .test_topologies import check_topology

    docs = check_topology(rn.case(rn.ReActNetMobile(bits, const), 0, SHAPE).module, SHAPE, tmp_path,
                          (None, E2E_FPS), frames=4)
    for doc in docs:
        assert [e["kind"] for e in doc["layers"]].count("concat") == 1
