"""Bad input (GUIDE.md section 6): one `error:` line naming the culprit, exit 2, no traceback,
and no OUT left behind (an existing OUT is left untouched)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bnn2hls import cli
from bnn2hls.frontend.torch_export import export_qonnx


def expect_error(capsys, argv, *needles):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def tiny_graph(tmp_path, extra_node=None, weight_quant_bits=None):
    """x -> BipolarQuant -> Gemm(BipolarQuant(W)) -> [extra] -> y, built by hand."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(np.float32(1.0).reshape(()), "one"),
        numpy_helper.from_array(rng.standard_normal((4, 8)).astype(np.float32), "W"),
    ]
    nodes = [helper.make_node("BipolarQuant", ["x", "one"], ["xq"], domain="qonnx.custom_op.general", name="in_q")]
    if weight_quant_bits is None:
        nodes.append(helper.make_node("BipolarQuant", ["W", "one"], ["Wq"], domain="qonnx.custom_op.general", name="w_q"))
    else:
        inits += [numpy_helper.from_array(np.float32(0.0).reshape(()), "zp"),
                  numpy_helper.from_array(np.float32(weight_quant_bits).reshape(()), "bw")]
        nodes.append(helper.make_node("Quant", ["W", "one", "zp", "bw"], ["Wq"], domain="qonnx.custom_op.general",
                                      name="w_q", signed=1, narrow=1, rounding_mode="ROUND"))
    nodes.append(helper.make_node("Gemm", ["xq", "Wq"], ["acc"], transB=1, name="fc"))
    out = "acc"
    if extra_node is not None:
        nodes.append(helper.make_node(extra_node, ["acc"], ["y"], name="odd_one"))
        out = "y"
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("qonnx.custom_op.general", 1)])
    path = tmp_path / "tiny.onnx"
    onnx.save(model, path)
    return path


def test_tiny_graph_compiles(tmp_path, capsys):
    assert cli.main(["compile", str(tiny_graph(tmp_path)), "-o", str(tmp_path / "out")]) == 0


def test_missing_file(tmp_path, capsys):
    expect_error(capsys, ["compile", tmp_path / "nope.onnx", "-o", tmp_path / "out"], "nope.onnx")
    assert not (tmp_path / "out").exists()


def test_truncated_file(tmp_path, capsys):
    good = tiny_graph(tmp_path).read_bytes()
    bad = tmp_path / "trunc.onnx"
    bad.write_bytes(good[: len(good) // 2])
    expect_error(capsys, ["compile", bad, "-o", tmp_path / "out"], "trunc.onnx")
    assert not (tmp_path / "out").exists()


def test_garbage_file(tmp_path, capsys):
    bad = tmp_path / "garbage.onnx"
    bad.write_text("this is not a model")
    expect_error(capsys, ["compile", bad, "-o", tmp_path / "out"], "garbage.onnx")


def test_external_data_is_loaded_and_required(tmp_path, capsys):
    model = onnx.load(tiny_graph(tmp_path))
    lonely = tmp_path / "lonely.onnx"
    onnx.save(model, lonely, save_as_external_data=True, all_tensors_to_one_file=True,
              location="lonely.onnx.data", size_threshold=0)
    assert cli.main(["compile", str(lonely), "-o", str(tmp_path / "ok")]) == 0
    (tmp_path / "lonely.onnx.data").unlink()
    expect_error(capsys, ["compile", lonely, "-o", tmp_path / "out"], "lonely.onnx")
    assert not (tmp_path / "out").exists()


def test_unsupported_op_names_node_and_type(tmp_path, capsys):
    line = expect_error(capsys, ["compile", tiny_graph(tmp_path, extra_node="Sigmoid"), "-o", tmp_path / "out"],
                        "odd_one", "Sigmoid")
    assert "unsupported op" in line
    assert not (tmp_path / "out").exists()


def test_non_binary_weights_hand_built(tmp_path, capsys):
    expect_error(capsys, ["compile", tiny_graph(tmp_path, weight_quant_bits=4), "-o", tmp_path / "out"],
                 "w_q", "4 bits")


def test_non_binary_weights_from_brevitas(tmp_path, capsys):
    from brevitas.nn import QuantLinear

    from bnn2hls.zoo import _binary_act

    import torch

    model = torch.nn.Sequential(_binary_act(), QuantLinear(8, 4, bias=False, weight_bit_width=4))
    path = export_qonnx(model, torch.zeros(1, 8), tmp_path / "w4.onnx")
    expect_error(capsys, ["compile", path, "-o", tmp_path / "out"], "Quant", "binary")


def test_failed_compile_keeps_existing_out(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["compile", str(tiny_graph(tmp_path)), "-o", str(out)]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    expect_error(capsys, ["compile", tiny_graph(tmp_path, extra_node="Relu"), "-o", out], "Relu")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


@pytest.mark.parametrize("spec, needles", [
    ({"layers": {"dense0": {"pe": 3, "simd": 1}}}, ["dense0", "PE=3"]),
    ({"layers": {"dense0": {"pe": 1, "simd": 5}}}, ["dense0", "SIMD=5"]),
    ({"layers": {"nosuch": {"pe": 1}}}, ["nosuch"]),
    ({"layers": {"dense0": {"pe": 0}}}, ["dense0"]),
    ({"oops": 1}, ["folding"]),
])
def test_bad_folding_names_layer(tmp_path, capsys, spec, needles):
    folding = tmp_path / "f.json"
    folding.write_text(json.dumps(spec))
    expect_error(capsys, ["compile", tiny_graph(tmp_path), "-o", tmp_path / "out", "--folding", folding], *needles)
    assert not (tmp_path / "out").exists()


def test_good_folding_is_applied(tmp_path, capsys):
    folding = tmp_path / "f.json"
    folding.write_text(json.dumps({"layers": {"dense0": {"pe": 2, "simd": 4}}}))
    assert cli.main(["compile", str(tiny_graph(tmp_path)), "-o", str(tmp_path / "out"), "--folding", str(folding)]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["layers"]["dense0"]["pe"] == 2 and report["layers"]["dense0"]["simd"] == 4
    assert report["network"]["est_cycles_per_frame"] == (4 // 2) * (8 // 4)


@pytest.mark.parametrize("argv, needle", [
    (["compile"], "model"),
    (["compile", "x.onnx"], "-o"),
    (["frobnicate"], "frobnicate"),
    (["run", "OUT", "--input", "x.npy", "--engine", "gpu", "-o", "y.npy"], "gpu"),
])
def test_bad_options(capsys, argv, needle):
    expect_error(capsys, argv, needle)


def test_bad_target_fps(tmp_path, capsys):
    expect_error(capsys, ["compile", tiny_graph(tmp_path), "-o", tmp_path / "out", "--target-fps", "-5"], "--target-fps")
    expect_error(capsys, ["compile", tiny_graph(tmp_path), "-o", tmp_path / "out", "--target-fps", "1e12"], "--target-fps")


def test_unknown_board(tmp_path, capsys):
    expect_error(capsys, ["compile", tiny_graph(tmp_path), "-o", tmp_path / "out", "--board", "nosuchboard"], "nosuchboard")


def test_run_errors(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["compile", str(tiny_graph(tmp_path)), "-o", str(out)]) == 0
    np.save(tmp_path / "wrong.npy", np.zeros((2, 9), np.float32))
    expect_error(capsys, ["run", out, "--input", tmp_path / "wrong.npy", "-o", tmp_path / "y.npy"], "shape")
    expect_error(capsys, ["run", tmp_path / "nothing", "--input", tmp_path / "wrong.npy", "-o", tmp_path / "y.npy"], "nothing")
    (tmp_path / "text.npy").write_text("nope")
    expect_error(capsys, ["run", out, "--input", tmp_path / "text.npy", "-o", tmp_path / "y.npy"], "text.npy")
    assert not (tmp_path / "y.npy").exists()


def test_run_rejects_corrupt_ir(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["compile", str(tiny_graph(tmp_path)), "-o", str(out)]) == 0
    doc = json.loads((out / "ir.json").read_text())
    doc["layers"][1]["pe"] = 3
    (out / "ir.json").write_text(json.dumps(doc))
    np.save(tmp_path / "x.npy", np.zeros((1, 8), np.float32))
    expect_error(capsys, ["run", out, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy"], "dense0", "PE=3")


def test_real_process_exit_code_and_stderr(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bnn2hls", "compile", str(tmp_path / "missing.onnx"), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing.onnx'}: no such file"]
    assert not (tmp_path / "o").exists()


def test_refuses_to_replace_a_foreign_directory(tmp_path, capsys, monkeypatch):
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "thesis.tex").write_text("years of work")
    expect_error(capsys, ["compile", tiny_graph(tmp_path), "-o", victim], "precious", "refusing")
    assert (victim / "thesis.tex").read_text() == "years of work"
    monkeypatch.chdir(victim)
    expect_error(capsys, ["compile", tiny_graph(tmp_path), "-o", "."], "refusing")
    assert (victim / "thesis.tex").is_file()


def test_output_directory_is_world_readable(tmp_path, capsys):
    assert cli.main(["compile", str(tiny_graph(tmp_path)), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out").stat().st_mode & 0o055 == 0o055
