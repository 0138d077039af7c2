"""Bad input (docs/DESIGN.md section 5): one `error:` line naming the culprit, exit 2, no traceback,
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
from bnn2hls.flow import manifest
from bnn2hls.frontend.torch_export import export_qonnx

pytestmark = pytest.mark.tier("unit")


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


def test_weights_wider_than_8_bits_hand_built(tmp_path, capsys):
    expect_error(capsys, ["compile", tiny_graph(tmp_path, weight_quant_bits=9), "-o", tmp_path / "out"],
                 "w_q", "9-bit weights")


def test_weights_wider_than_8_bits_from_brevitas(tmp_path, capsys):
    from brevitas.nn import QuantLinear

    from bnn2hls.models.zoo import _binary_act

    import torch

    model = torch.nn.Sequential(_binary_act(), QuantLinear(8, 4, bias=False, weight_bit_width=9))
    path = export_qonnx(model, torch.zeros(1, 8), tmp_path / "w4.onnx")
    expect_error(capsys, ["compile", path, "-o", tmp_path / "out"], "Quant", "9-bit weights")


def test_failed_compile_keeps_existing_out(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["compile", str(tiny_graph(tmp_path)), "-o", str(out)]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    expect_error(capsys, ["compile", tiny_graph(tmp_path, extra_node="Sigmoid"), "-o", out], "Sigmoid")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith((".out", ".bnn2hls-"))] == []


@pytest.mark.parametrize("spec, needles", [
    ({"layers": {"dense0": {"pe": 3, "simd": 1}}}, ["dense0", "PE=3"]),
    ({"layers": {"dense0": {"pe": 1, "simd": 5}}}, ["dense0", "SIMD=5"]),
    ({"layers": {"nosuch": {"pe": 1}}}, ["nosuch"]),
    ({"layers": {"dense0": {"pe": 0}}}, ["dense0"]),
    ({"layers": {"dense0": {"pe": True}}}, ["dense0", "pe must be a positive integer, not true"]),
    ({"layers": {"dense0": {"simd": False}}}, ["dense0", "simd must be a positive integer, not false"]),
    ({"layers": {"dense0": {"pe": "2"}}}, ["dense0", "pe"]),
    ({"layers": {"dense0": {"pe": 2.0}}}, ["dense0", "pe"]),
    ({"layers": {"dense0": {"simd": -4}}}, ["dense0", "simd"]),
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
    expect_error(capsys, ["run", out, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy"], "ir.json", "changed")
    manifest.write(out)  # past the manifest, ir.load's own checks still name the layer
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


# --------------------------------------------------------------------------------------
# Invalid ONNX that the QONNX executor could not run is refused at compile time
# --------------------------------------------------------------------------------------
def _mutated(tmp_path, mutate, **graph_kwargs):
    model = onnx.load(tiny_graph(tmp_path, **graph_kwargs))
    mutate(model)
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def _init(model, name):
    return next(t for t in model.graph.initializer if t.name == name)


def _replace_init(model, name, array):
    t = _init(model, name)
    t.CopyFrom(numpy_helper.from_array(array, name))


def _empty_input_name(model):
    model.graph.input[0].name = ""
    model.graph.node[0].input[0] = ""


def _string_weights(model):
    _init(model, "W").CopyFrom(helper.make_tensor("W", TensorProto.STRING, [4, 8], [b"w"] * 32))


def _truncated_raw(model):
    t = _init(model, "W")
    t.raw_data = t.raw_data[: len(t.raw_data) // 2]


def _dims_too_large(model):
    t = _init(model, "W")
    t.ClearField("dims")
    t.dims.extend([8, 8])


def _opset(version):
    def mutate(model):
        model.opset_import[0].version = version
    return mutate


def _no_opset(model):
    keep = [o for o in model.opset_import if o.domain not in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(keep)


def _duplicate_initializer(model):
    model.graph.initializer.append(numpy_helper.from_array(np.float32(2.0).reshape(()), "one"))


def _duplicate_output(model):
    model.graph.node[1].output[0] = "xq"  # the weight quantizer's output reuses the input quantizer's
    model.graph.node[2].input[1] = "xq"


def _int8_input(model):
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.INT8


def _batch(dim):
    def mutate(model):
        d = model.graph.input[0].type.tensor_type.shape.dim[0]
        if isinstance(dim, str):
            d.dim_param = dim
        else:
            d.dim_value = dim
    return mutate


@pytest.mark.parametrize("mutate, needles", [
    (_empty_input_name, ["empty name"]),
    (_string_weights, ["initializer 'W'", "STRING"]),
    (_truncated_raw, ["initializer 'W'", "need 32 values"]),
    (_dims_too_large, ["initializer 'W'", "need 64 values"]),
    (lambda m: _replace_init(m, "W", np.ones((4, 8), np.int32)), ["initializer 'W'", "INT32", "float32"]),
    (lambda m: _replace_init(m, "W", np.ones((4, 8), np.float16)), ["initializer 'W'", "FLOAT16"]),
    (lambda m: _replace_init(m, "W", np.ones((4, 8), np.float64)), ["initializer 'W'", "DOUBLE"]),
    (_opset(999), ["opset 999", "not supported"]),
    (_opset(1), ["opset 1 ", "not supported"]),
    (_no_opset, ["no opset import"]),
    (_duplicate_initializer, ["'one'", "more than once"]),
    (_duplicate_output, ["'xq'", "more than once"]),
    (_int8_input, ["graph input 'x'", "INT8"]),
    (_batch(4), ["graph input 'x'", "batch dimension must be 1", "not 4"]),
    (_batch("N"), ["graph input 'x'", "batch dimension must be 1", "symbolic 'N'"]),  # QONNX cannot run it
], ids=["empty-input-name", "string-init", "truncated-raw", "dims-too-large", "int32", "f16", "f64", "opset999",
        "opset1", "no-opset", "dup-initializer", "dup-output", "int8-input", "batch4", "batchN"])
def test_invalid_onnx_refused_at_compile(tmp_path, capsys, mutate, needles):
    expect_error(capsys, ["compile", _mutated(tmp_path, mutate), "-o", tmp_path / "out"], *needles)
    assert not (tmp_path / "out").exists()


def _with_batchnorm(tmp_path, params):
    """tiny_graph with a BatchNormalization of the given (scale, bias, mean, var) after the Gemm."""
    model = onnx.load(tiny_graph(tmp_path))
    names = ["bn_scale", "bn_bias", "bn_mean", "bn_var"]
    model.graph.initializer.extend(numpy_helper.from_array(p, n) for p, n in zip(params, names))
    model.graph.node.append(helper.make_node("BatchNormalization", ["acc", *names], ["y"], name="bn"))
    model.graph.output[0].name = "y"
    path = tmp_path / "bn.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def test_batchnorm_params_must_be_1d(tmp_path, capsys):
    ok = [np.full(4, v, np.float32) for v in (1.0, 0.0, 0.0, 1.0)]
    assert cli.main(["compile", str(_with_batchnorm(tmp_path, ok)), "-o", str(tmp_path / "ok")]) == 0
    scalar = [np.float32(v).reshape(()) for v in (1.0, 0.0, 0.0, 1.0)]
    expect_error(capsys, ["compile", _with_batchnorm(tmp_path, scalar), "-o", tmp_path / "out"],
                 "initializer 'bn_scale'", "1-D")
    assert not (tmp_path / "out").exists()


def test_float_reshape_shape_refused(tmp_path, capsys):
    def graph(shape_array):
        model = onnx.load(tiny_graph(tmp_path))
        model.graph.input[0].type.tensor_type.shape.dim.add().dim_value = 1
        model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 8  # x: [1, 8, 1]
        model.graph.initializer.append(numpy_helper.from_array(shape_array, "flat"))
        model.graph.node.insert(0, helper.make_node("Reshape", ["x", "flat"], ["x2"], name="flatten"))
        model.graph.node[1].input[0] = "x2"
        path = tmp_path / f"reshape_{shape_array.dtype}.onnx"
        path.write_bytes(model.SerializeToString())
        return path

    assert cli.main(["compile", str(graph(np.array([1, 8], np.int64))), "-o", str(tmp_path / "ok")]) == 0
    expect_error(capsys, ["compile", graph(np.array([1, 8], np.float32)), "-o", tmp_path / "out"],
                 "initializer 'flat'", "FLOAT", "INT64")


def test_brevitas_export_passes_the_onnx_checker(tmp_path, capsys, exported):
    path, _ = exported("padnet")
    assert cli.main(["compile", str(path), "-o", str(tmp_path / "out")]) == 0
