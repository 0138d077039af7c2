"""The hardware graph (bnn2hls.hw) is the one lowering to hardware: the Verilog and HLS
emitters, the cost model, synth's layer attribution and the cycle model all take their blocks
from the same `hw.lower(net)`."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bnn2hls.estimate import cost_model, synth
from bnn2hls import hw, ir
from bnn2hls.flow.compiler import build_network, compile_file
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.hw.blocks import LAYER_BLOCKS, hls_library, kinds, rtl_library
from bnn2hls.hw.folding import estimate_cycles
from bnn2hls.hw.folding import folding_preset, layer_cycles

pytestmark = pytest.mark.tier("unit")

CASES = (("oddnet", "mid"), ("TFC_1W1A", "wide"), ("padnet", "unit"))
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compiled(exported, tmp_path_factory):
    out = {}
    for name, style in CASES:
        path, _ = exported(name)
        spec = folding_preset(build_network(load_model(path), name), style)
        dest = tmp_path_factory.mktemp("hw") / f"{name}_{style}"
        compile_file(path, dest, folding=spec)
        net = ir.load(dest)
        out[name] = (dest, net, hw.lower(net))
    return out


def _instances(top: str) -> list[tuple[str, str, dict[str, str]]]:
    """(module, instance, {param: value text}) of every instance in a generated bnn_top.sv."""
    found = []
    for m in re.finditer(r"^    (\w+) #\(\n(.*?)\n    \) (\w+) \(", top, flags=re.M | re.S):
        params = dict(re.findall(r"\.(\w+)\((.*?)\),?$", m.group(2), flags=re.M))
        found.append((m.group(1), m.group(3), params))
    return found


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_verilog_top_instantiates_the_graph(compiled, name):
    out, net, graph = compiled[name]
    inst = _instances((out / "rtl" / "bnn_top.sv").read_text())
    assert [(m, i) for m, i, _ in inst] == [(b.module, b.name) for b in graph.blocks]
    for (_, _, params), block in zip(inst, graph.blocks):
        assert params == {k: str(v) for k, v in block.rtl_params()}, block.name
        assert {k: int(params[k]) for k in block.params} == block.params
    # the memory files are the blocks' memories, word for word
    mems = {m.file: m for b in graph.blocks for m in b.memories}
    assert sorted(p.name for p in (out / "rtl").glob("*.mem")) == sorted(mems)
    for file, m in mems.items():
        words = [int(line, 16) for line in (out / "rtl" / file).read_text().split()]
        assert words == m.words and len(words) == m.depth
    assert (out / "rtl" / "files.f").read_text().split() == [*rtl_library(), "bnn_top.sv"]


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_hls_top_renders_the_graph(compiled, name):
    out, net, graph = compiled[name]
    cpp = (out / "hls" / "bnn_top.cpp").read_text()
    calls = re.findall(r"^    (bnn::\w+)<", cpp, flags=re.M)
    expected = {"swg": "bnn::swg", "flatten": "bnn::flatten", "maxpool": "bnn::maxpool"}
    want = [expected.get(b.kind) or ("bnn::mvau_threshold" if b.params["BINARIZE"] else "bnn::mvau_acc")
            for b in graph.blocks if b.kind not in ("fifo", "winq")]
    assert calls == want
    depths = dict(re.findall(r"HLS STREAM variable=(\w+) depth=(\d+)", cpp))
    for block in graph.blocks:  # a FIFO block is the depth of the stream it reads
        if block.kind in ("fifo", "winq"):
            producer = next(b for b in graph.blocks if b.output is block.input)
            stream = next(s for s in depths if s.endswith(f"_{producer.output.suffix}") and producer.layer.name in s)
            assert int(depths[stream]) == block.params["DEPTH"], block.name
    for layer in net.matrix_layers:
        header = (out / "hls" / f"{layer.name}_params.h").read_text()
        mvau = next(b for b in graph.blocks if b.layer is layer and b.kind == "mvau")
        for key, value in mvau.params.items():
            if key != "USER_W":
                assert f"const int {key} = {value};" in header
        for m in mvau.memories:
            assert f"{m.hls_name}[{m.depth}]" in header
    assert sorted(p.name for p in (out / "hls").glob("bnn_*.h")) == sorted({*hls_library(), "bnn_top.h"})


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_cost_model_synth_and_cycles_read_the_graph(compiled, name):
    out, net, graph = compiled[name]
    names = [b.name for b in graph.blocks]
    assert [b.name for b in cost_model.network_blocks(net)] == names
    est = cost_model.estimate(net)
    assert list(est.blocks) == names
    assert [e.layer for e in est.blocks.values()] == [b.layer.name for b in graph.blocks]
    assert [e.kind for e in est.blocks.values()] == [b.cost_kind for b in graph.blocks]
    # synth: one unit per layer holding exactly that layer's blocks and memories
    _, units, top = synth.network_units(out)
    assert list(top.instances) == names
    assert sorted(top.memories) == sorted(m.file for b in graph.blocks for m in b.memories)
    for layer_name, blocks in graph.by_layer().items():
        if not blocks:
            assert layer_name not in units
            continue
        unit = units[layer_name]
        assert list(unit.instances) == [b.name for b in blocks]
        assert sorted(unit.memories) == sorted(m.file for b in blocks for m in b.memories)
    # cycles: each layer's interval is the slowest of its blocks' own formulas
    cycles = estimate_cycles(net)
    for layer_name, blocks in graph.by_layer().items():
        intervals = [i for b in blocks if (i := type(b).layer_interval(b.layer)) is not None]
        assert cycles["layers"][layer_name]["interval"] == max(intervals)
        for b in blocks:
            for key, value in b.cycles().items():
                assert cycles["layers"][layer_name][key] == value
    report = (out / "report.json").read_text()
    assert f'"est_cycles_per_frame": {cycles["est_cycles_per_frame"]}' in report


def test_layer_cycles_refold_through_the_block_classes(compiled):
    _, net, _ = compiled["padnet"]
    conv = net.matrix_layers[0]
    c = layer_cycles(conv, pe=1, simd=1)
    oh, ow = conv.out_hw
    assert c["mvau"] == conv.out_channels * conv.fan_in * oh * ow
    assert c["interval"] == max(c["mvau"], c["swg"])
    assert set(LAYER_BLOCKS) == {type(layer) for layer in net.datapath} | set(LAYER_BLOCKS)


def test_every_kind_is_complete():
    for kind in kinds():
        assert kind.module and kind.rtl_files, kind
        assert (ROOT / "hls_lib" / "rtl" / kind.rtl_files[0]).is_file()
        for f in kind.hls_files:
            assert (ROOT / "hls_lib" / "hls" / f).is_file()
