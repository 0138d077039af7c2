"""IR serialization, validation on load, deterministic output bytes, report contents, and the
package's data folders after a non-editable install."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from bnn2hls import cli, ir
from bnn2hls.flow.compiler import build_network
from bnn2hls.errors import UserError
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.hw.blocks.mvau import mvau_pipeline_latency
from bnn2hls.hw.folding import layer_cycles

pytestmark = pytest.mark.tier("unit")


def tree_bytes(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["CNV_1W1A", "oddnet"])
def test_compiling_twice_gives_identical_bytes(name, exported, tmp_path):
    path, _ = exported(name)
    for out in ("a", "b"):
        assert cli.main(["compile", str(path), "-o", str(tmp_path / out)]) == 0
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert {"ir.json", "weights.npz", "source.onnx", "report.json", "rtl/bnn_top.sv", "rtl/files.f"} <= set(a)
    assert a == b


def test_ir_round_trip(exported, tmp_path):
    path, _ = exported("padnet")
    net = build_network(load_model(path), "padnet")
    ir.save(net, tmp_path)
    again = ir.load(tmp_path)
    text_a, arrays_a = ir.to_json(net)
    text_b, arrays_b = ir.to_json(again)
    assert text_a == text_b
    assert arrays_a.keys() == arrays_b.keys()
    for key in arrays_a:
        assert arrays_a[key].dtype == arrays_b[key].dtype and np.array_equal(arrays_a[key], arrays_b[key])


def test_validate_rejects_inconsistent_ir(exported):
    path, _ = exported("padnet")
    net = build_network(load_model(path), "padnet")
    conv = net.matrix_layers[1]
    with pytest.raises(UserError, match=conv.name):
        ir.validate(net.replace_layer(dataclasses.replace(conv, weights=conv.weights[:, :-1])))
    with pytest.raises(UserError, match="PE=7"):
        ir.validate(net.replace_layer(dataclasses.replace(conv, pe=7)))
    with pytest.raises(UserError, match="input shape"):
        ir.validate(net.replace_layer(dataclasses.replace(conv, in_shape=(9, 9, 9))))


def test_graph_ir_names_its_edges_and_checks_them(exported, tmp_path):
    """Nodes name the values they consume; the boundaries are found by kind; validate checks
    each edge; only a Join takes two values (tests/test_graph_ir.py builds forks and joins)."""
    path, _ = exported("padnet")
    net = build_network(load_model(path), "padnet")
    conv0, conv1 = net.matrix_layers[:2]
    assert conv0.inputs == (net.input_quant.name,) and conv1.inputs == (conv0.name,)
    assert net.producer(net.head) is net.matrix_layers[-1]
    assert [c.name for c in net.consumers[conv0.name]] == [conv1.name]
    assert net.element_bits(net.input_quant) == 8 and net.element_bits(conv0) == 1
    # an edge from the wrong producer: shape and element width are checked per edge
    with pytest.raises(UserError, match=f"input_bits=8, but '{conv0.name}' gives 1-bit"):
        ir.validate(net.replace_layer(dataclasses.replace(conv1, input_bits=8)))
    with pytest.raises(UserError, match=f"'{conv0.name}': its value is never used"):
        ir.validate(net.replace_layer(dataclasses.replace(conv1, inputs=(net.input_quant.name,))))
    with pytest.raises(UserError, match="not produced by an earlier node"):
        ir.validate(net.replace_layer(dataclasses.replace(conv0, inputs=(conv1.name,))))
    with pytest.raises(UserError, match="a conv node takes 1 input"):
        ir.validate(net.replace_layer(dataclasses.replace(conv1, inputs=(conv0.name, net.input_quant.name))))


def test_old_ir_format_is_refused_with_a_clear_error(exported, tmp_path, capsys):
    path, _ = exported("oddnet")
    out = tmp_path / "out"
    assert cli.main(["compile", str(path), "-o", str(out)]) == 0
    doc = json.loads((out / "ir.json").read_text())
    assert doc["format"] == 2
    doc["format"] = 1
    (out / "ir.json").write_text(json.dumps(doc))
    with pytest.raises(UserError, match="format 1 .*compile the model again"):
        ir.load(out)


def test_report_cycles_follow_finn_formulas(exported, tmp_path):
    path, _ = exported("CNV_1W1A")
    folding = {"layers": {"conv0": {"pe": 16, "simd": 3}, "conv1": {"pe": 32, "simd": 32}, "conv2": {"pe": 16, "simd": 32},
                          "conv3": {"pe": 16, "simd": 32}, "conv4": {"pe": 4, "simd": 32}, "conv5": {"pe": 1, "simd": 32},
                          "dense0": {"pe": 1, "simd": 4}, "dense1": {"pe": 1, "simd": 8}, "dense2": {"pe": 5, "simd": 1}}}
    (tmp_path / "f.json").write_text(json.dumps(folding))
    assert cli.main(["compile", str(path), "-o", str(tmp_path / "out"), "--folding", str(tmp_path / "f.json")]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    conv1 = report["layers"]["conv1"]
    assert conv1["est_cycles"]["mvau"] == (64 // 32) * (576 // 32) * 28 * 28
    assert report["layers"]["dense2"]["est_cycles"]["mvau"] == (10 // 5) * (512 // 1)
    per_layer = [entry["est_cycles_per_frame"] for entry in report["layers"].values()]
    assert report["network"]["est_cycles_per_frame"] == max(per_layer)
    # a chain: every interval, every MVAU's pipeline depth, a FIFO between layers
    depths = [mvau_pipeline_latency(entry["simd"], entry["input_bits"] == 1)  # (binary weights)
              for entry in report["layers"].values() if "simd" in entry]
    assert report["network"]["est_latency_cycles"] == sum(per_layer) + sum(depths) + len(per_layer) - 1


def test_target_fps_folding_meets_target_cheaply(exported, tmp_path):
    path, _ = exported("CNV_1W1A")
    target = 5000.0
    assert cli.main(["compile", str(path), "-o", str(tmp_path / "out"), "--target-fps", str(target)]) == 0
    net = ir.load(tmp_path / "out")
    budget = int(100e6 // target)
    for layer in net.matrix_layers:
        assert layer_cycles(layer)["interval"] <= budget, layer.name
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["network"]["est_fps"] >= target
    # cheaper than fully parallel: the small last layer keeps PE*SIMD small
    assert net.matrix_layers[-1].pe * net.matrix_layers[-1].simd < net.matrix_layers[-1].weights.size


def test_report_command_prints_table(exported, tmp_path, capsys):
    path, _ = exported("TFC_1W1A")
    assert cli.main(["compile", str(path), "-o", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert cli.main(["report", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    assert "dense0" in text and "cycles/frame" in text


def test_data_folders_found_after_non_editable_install(tmp_path):
    import bnn2hls

    repo = __import__("pathlib").Path(bnn2hls.__file__).resolve().parent.parent
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target), str(repo)],
                   check=True, capture_output=True, timeout=300)
    code = ("from bnn2hls.resources import resource_dir; "
            "print('|'.join(str(resource_dir(n)) for n in ('templates', 'hls_lib', 'boards', 'sim')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                          capture_output=True, text=True, check=True, timeout=120)
    dirs = proc.stdout.strip().split("|")
    assert all(d.startswith(str(target)) for d in dirs), dirs
    assert (__import__("pathlib").Path(dirs[2]) / "pynq-z2.json").is_file()
    assert (__import__("pathlib").Path(dirs[1]) / "rtl" / "bnn_mvau.sv").is_file()
    assert (__import__("pathlib").Path(dirs[3]) / "tb_stream.sv").is_file()
    assert (__import__("pathlib").Path(dirs[0]) / "rtl" / "bnn_top.sv.j2").is_file()
