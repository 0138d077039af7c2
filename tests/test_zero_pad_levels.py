"""Multi-level outputs of zero-padded binary convs (issue 20, point 1): the Bi-Real /
double-residual block as its papers write it, sign -> binary conv with `padding=1` ->
BatchNorm -> a 2-4-bit quantizer, added to a quantized shortcut (tests/zeropad_nets.py).

The hardware pads sign bits with the FBNA pattern; each border class's correction shifts
all L-1 thresholds of a channel by the same integer, so the unit's threshold memory holds
one column of L-1 popcount thresholds per class. Checked here: the reference equals the
QONNX executor; the memory's thresholds, read as the hardware reads them at every output
position and every popcount, give the zero-padded source's levels; the cost model sizes
the memory; and (e2e) ref, hls and rtl equal QONNX at the default folding and a
--target-fps one, the RTL's cycles per frame the estimate."""
from __future__ import annotations

import numpy as np
import pytest

from bnn2hls import ir, reference
from bnn2hls.engines import qonnx_runner
from bnn2hls.estimate import cost_model
from bnn2hls.flow.compiler import build_network
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.frontend.torch_export import export_qonnx
from bnn2hls.hw.blocks import mvau_thresholds
from bnn2hls.hw.graph import lower
from bnn2hls.hw.mvau_memories import clamp_thresholds, thr_width
from bnn2hls.ops.kernels import multi_threshold

from .test_residual import _frames
from .zeropad_nets import Spec, bireal_case

pytestmark = pytest.mark.tier("unit")

# The default suite's cases (a few seconds each), then the slow suite's.
CASES = {
    "conv3x3_2b_signed": Spec(2, True),
    "conv3x3_3b_unsigned": Spec(3, False),
    "dw3x3_4b_signed": Spec(4, True, depthwise=True),
    "conv3x3_s2_2b_unsigned": Spec(2, False, stride=2),
}
SLOW_CASES = {
    "dw3x3_s2_3b_signed": Spec(3, True, depthwise=True, stride=2),
    "conv3x5_2b_signed": Spec(2, True, kernel=(3, 5)),
    "dw1x3_2b_unsigned": Spec(2, False, kernel=(1, 3), depthwise=True),
    "conv3x3_4b_unsigned_plain": Spec(4, False, residual=False),
    "conv3x3_2b_two_blocks": Spec(2, True, blocks=2),
    "conv5x3_s2_3b_unsigned": Spec(3, False, kernel=(5, 3), stride=2, size=7),
}
ALL_CASES = {**CASES, **SLOW_CASES}


def _params(cases: dict[str, Spec], slow: bool) -> list:
    return [pytest.param(name, marks=pytest.mark.slow) if slow else name for name in cases]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """name -> (QONNX model, compiled network, the spec), exported and compiled once."""
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            spec = ALL_CASES[name]
            case = bireal_case(spec, seed=1)
            path = export_qonnx(case.module, case.example, tmp_path_factory.mktemp(name) / "m.onnx")
            model = load_model(path)
            cache[name] = (model, build_network(model, name), spec)
        return cache[name]

    return get


def padded_levels_layers(net: ir.Network) -> list[ir.MatrixLayer]:
    """The zero-padded binary convs with a multi-level output."""
    return [l for l in net.matrix_layers if l.popcount and l.border is not None and l.out_levels >= 2]


@pytest.mark.parametrize("name", _params(CASES, False) + _params(SLOW_CASES, True))
def test_reference_equals_qonnx(name, compiled):
    model, net, spec = compiled(name)
    (layer, *more) = padded_levels_layers(net)
    assert len(more) == spec.blocks - 1
    assert layer.out_levels == 2**spec.bits and layer.kernel == spec.kernel and layer.stride == (spec.stride,) * 2
    assert isinstance(layer, ir.DepthwiseConv) == spec.depthwise
    assert np.abs(layer.border.corrections).max() > 0  # the pads do add something here
    x = _frames(12, 5, (3, spec.size, spec.size))
    y, expect = reference.run(net, x), qonnx_runner.run(model, x)
    assert len({tuple(r) for r in expect.round(4)}) > 1, "the outputs should vary with the input"
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)
    assert any(isinstance(l, ir.Join) for l in net.layers) == spec.residual


@pytest.mark.parametrize("name", list(CASES))
def test_threshold_columns_per_border_class(name, compiled):
    """What the threshold memory holds, read as the unit reads it (the window's class id
    (row_class * n_cols + col_class) * 2 + parity selects a column of L-1 thresholds; a
    level counts the thresholds the popcount p reaches, flipped per channel), gives at every
    output position and every p the levels of the zero-padded source's accumulator
    2p - MW - corr. Without the per-class columns (class 0's everywhere) it would not."""
    _, net, _ = compiled(name)
    layer = padded_levels_layers(net)[0]
    mw = layer.fan_in
    table = clamp_thresholds(mvau_thresholds(layer), mw)  # [classes, C, L-1]
    border = layer.border
    n_rows, n_cols = border.corrections.shape[:2]
    assert table.shape == (n_rows * n_cols * 2, layer.out_channels, layer.out_levels - 1)
    steps = np.diff(table, axis=2)  # each column ascending (descending for a falling channel)
    assert (np.where(layer.flip[None, :, None], -steps, steps) >= 0).all()
    assert table.min() >= 0 and table.max() <= mw + 1 < 2 ** thr_width(mw)
    p = np.arange(mw + 1)[:, None]
    corr = border.position_corrections(layer.stride)
    oh, ow = layer.out_hw
    differs = False
    for oy in range(oh):
        for ox in range(ow):
            cls = (border.row_class[oy] * n_cols + border.col_class[ox]) * 2 + (layer.stride[0] * oy + layer.stride[1] * ox) % 2
            passed = (p[:, :, None] >= table[cls][None]) ^ layer.flip[None, :, None]
            hw = layer.out_offset + passed.sum(axis=2)
            source = multi_threshold(layer, 2 * p - mw - corr[oy, ox][None])
            np.testing.assert_array_equal(hw, source, err_msg=f"position {(oy, ox)}, class {cls}")
            plain = layer.out_offset + ((p[:, :, None] >= table[0][None]) ^ layer.flip[None, :, None]).sum(axis=2)
            differs |= bool((plain != source).any())
    assert differs, "the border classes should change some levels"


def test_cost_model_sizes_the_class_columns(compiled):
    """The MVAU's threshold memory is N_CLASSES*NF words of PE*(L-1)*THR_W bits, and the cost
    model counts it: more LUTs than the same layer with one class (no padding correction)."""
    _, net, _ = compiled("conv3x3_2b_signed")
    layer = padded_levels_layers(net)[0]
    pe = 2
    net = net.replace_layer(ir.Conv(**{**layer.__dict__, "pe": pe}))
    layer = net.layer(layer.name)
    graph = lower(net)
    (unit,) = [b for b in graph.blocks if b.layer.name == layer.name and b.kind == "mvau"]
    n_classes = int(np.prod(layer.border.corrections.shape[:3]))
    thr = next(m for m in unit.memories if m.key == "thresholds")
    assert unit.params["N_CLASSES"] == n_classes == 18 and unit.params["LEVELS"] == 4
    assert (thr.depth, thr.width) == (n_classes * layer.out_channels // pe, pe * 3 * thr_width(layer.fan_in))
    assert len(thr.words) == thr.depth
    features = cost_model.block_features(unit)
    assert "thresholds" in features.memories
    one_class = net.replace_layer(ir.Conv(**{**layer.__dict__, "border": None, "pad_mode": "alternating"}))
    (plain,) = [b for b in lower(one_class).blocks if b.layer.name == layer.name and b.kind == "mvau"]
    assert plain.params["N_CLASSES"] == 1
    est, est_plain = cost_model.estimate_block(unit), cost_model.estimate_block(plain)
    assert est.lut_exact > est_plain.lut_exact


# ---------------------------------------------------------------------------------------
# Every engine (e2e): ref, hls, rtl (and rtl under stalls) equal QONNX at two foldings
# ---------------------------------------------------------------------------------------
E2E_FPS = 200_000  # at 100 MHz: 500 cycles per frame, SIMD folds on the zero-padded conv


def _through_every_engine(name: str, tmp_path, fps: int = E2E_FPS) -> list[dict]:
    from .test_topologies import check_topology

    spec = ALL_CASES[name]
    case = bireal_case(spec, seed=1)
    docs = check_topology(case.module, (3, spec.size, spec.size), tmp_path, (None, fps), frames=4)
    for doc in docs:  # the zero-padded binary conv keeps its border table and its levels
        padded = [e for e in doc["layers"] if e.get("border") and e["input_bits"] == 1 and e["out_levels"] >= 2]
        assert len(padded) == spec.blocks, doc["layers"]
    return docs


@pytest.mark.slow
@pytest.mark.tier("e2e")
def test_bireal_block_through_every_engine(tmp_path):
    docs = _through_every_engine("conv3x3_2b_signed", tmp_path)
    folded = [(e["pe"], e["simd"]) for e in docs[1]["layers"] if e.get("border")]
    assert folded == [(1, 12)]  # SIMD 12: 3 steps over the 36 taps per output


@pytest.mark.slow
@pytest.mark.tier("e2e")
@pytest.mark.parametrize("name", [n for n in ALL_CASES if n != "conv3x3_2b_signed"])
def test_bireal_variants_through_every_engine(name, tmp_path):
    _through_every_engine(name, tmp_path)


@pytest.mark.slow
@pytest.mark.tier("e2e")
@pytest.mark.parametrize("name", ["conv3x3_2b_two_blocks", "dw3x3_4b_signed"])
def test_bireal_pe_folding_through_rtl_and_hls(name, tmp_path):
    """PE = 2 on the zero-padded layers (NF = 2 folds, each reading its class's column at
    cls*NF + nf), SIMD = 3: rtl and hls equal QONNX, cycles per frame = the estimate."""
    import json

    from bnn2hls import cli

    spec = ALL_CASES[name]
    case = bireal_case(spec, seed=1)
    path = export_qonnx(case.module, case.example, tmp_path / "m.onnx")
    model = load_model(path)
    net = build_network(model, name)
    folding = {"layers": {l.name: {"pe": 2, "simd": 3} for l in padded_levels_layers(net)}}
    (tmp_path / "folding.json").write_text(json.dumps(folding))
    out = tmp_path / "out"
    assert cli.main(["compile", str(path), "-o", str(out), "--folding", str(tmp_path / "folding.json")]) == 0
    x = _frames(4, 5, (3, spec.size, spec.size))
    np.save(tmp_path / "x.npy", x)
    expect = qonnx_runner.run(model, x)
    for engine in ("hls", "rtl"):
        y_path = tmp_path / f"y_{engine}.npy"
        assert cli.main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--engine", engine, "-o", str(y_path)]) == 0
        np.testing.assert_allclose(np.load(y_path), expect, rtol=1e-5, atol=1e-5, err_msg=engine)
    perf = json.loads((out / "sim" / "rtl_perf.json").read_text())
    assert abs(perf["cycles_per_frame"] / perf["est_cycles_per_frame"] - 1) <= 0.05, perf


# ---------------------------------------------------------------------------------------
# A Bi-Real ResNet-20 (3x32x32, 16/32/64 channels, GAP head): 18 zero-padded binary convs
# with 2-bit outputs added to the 2-bit stream
# ---------------------------------------------------------------------------------------
RESNET20_FPS = 2_000  # at 100 MHz: 50,000 cycles per frame (the default folding: 2.4 M)


@pytest.fixture(scope="module")
def resnet20(tmp_path_factory):
    from .zeropad_nets import bireal_resnet20_case

    case = bireal_resnet20_case(seed=0)
    path = export_qonnx(case.module, case.example, tmp_path_factory.mktemp("resnet20") / "m.onnx")
    return path, load_model(path)


@pytest.mark.slow
@pytest.mark.tier("e2e")
def test_bireal_resnet20_reference_equals_qonnx(resnet20):
    _, model = resnet20
    net = build_network(model, "resnet20")
    padded = padded_levels_layers(net)
    assert len(padded) == 18 and {l.out_channels for l in padded} == {16, 32, 64}
    assert sum(isinstance(l, ir.Join) for l in net.layers) == 18
    assert any(isinstance(l, ir.SumPool) for l in net.layers)  # the GAP head
    x = _frames(2, 7, (3, 32, 32))
    y, expect = reference.run(net, x), qonnx_runner.run(model, x)
    assert len({tuple(r) for r in expect.round(4)}) > 1, "the outputs should vary with the input"
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.tier("e2e")
def test_bireal_resnet20_through_hls_and_rtl(resnet20, tmp_path):
    """At --target-fps 2000: hls and rtl equal QONNX, the RTL's cycles per frame the estimate."""
    import json

    from bnn2hls import cli

    path, model = resnet20
    out = tmp_path / "out"
    assert cli.main(["compile", str(path), "-o", str(out), "--target-fps", str(RESNET20_FPS)]) == 0
    x = _frames(2, 7, (3, 32, 32))
    np.save(tmp_path / "x.npy", x)
    expect = qonnx_runner.run(model, x)
    for engine in ("ref", "hls", "rtl"):
        y_path = tmp_path / f"y_{engine}.npy"
        assert cli.main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--engine", engine, "-o", str(y_path)]) == 0
        np.testing.assert_allclose(np.load(y_path), expect, rtol=1e-5, atol=1e-5, err_msg=engine)
    perf = json.loads((out / "sim" / "rtl_perf.json").read_text())
    assert abs(perf["cycles_per_frame"] / perf["est_cycles_per_frame"] - 1) <= 0.05, perf
