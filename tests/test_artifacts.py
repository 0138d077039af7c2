"""`run` and `report` on bad inputs, bad -o paths and tampered or incomplete compiled outputs:
one `error:` line naming the file or option at fault, exit 2, no traceback, nothing written."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bnn2hls import cli
from bnn2hls.flow import manifest

from .test_cli_errors import expect_error

pytestmark = pytest.mark.tier("e2e")


def two_layer_graph(tmp_path):
    """x -> BipolarQuant -> Gemm(W1) -> BatchNorm -> BipolarQuant -> Gemm(W2) -> y: a hidden
    layer with thresholds, the smallest net with every kind of artifact."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    inits = [
        numpy_helper.from_array(f32(1.0).reshape(()), "one"),
        numpy_helper.from_array(rng.standard_normal((8, 8)).astype(f32), "W1"),
        numpy_helper.from_array(rng.standard_normal((4, 8)).astype(f32), "W2"),
        numpy_helper.from_array((rng.random(8) + 0.5).astype(f32), "bn_scale"),
        numpy_helper.from_array(rng.standard_normal(8).astype(f32), "bn_bias"),
        numpy_helper.from_array(rng.standard_normal(8).astype(f32), "bn_mean"),
        numpy_helper.from_array((rng.random(8) * 4 + 1).astype(f32), "bn_var"),
    ]
    q = "qonnx.custom_op.general"
    nodes = [
        helper.make_node("BipolarQuant", ["x", "one"], ["xq"], domain=q, name="in_q"),
        helper.make_node("BipolarQuant", ["W1", "one"], ["W1q"], domain=q, name="w1_q"),
        helper.make_node("Gemm", ["xq", "W1q"], ["a1"], transB=1, name="fc1"),
        helper.make_node("BatchNormalization", ["a1", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["b1"], name="bn1"),
        helper.make_node("BipolarQuant", ["b1", "one"], ["h1"], domain=q, name="act1"),
        helper.make_node("BipolarQuant", ["W2", "one"], ["W2q"], domain=q, name="w2_q"),
        helper.make_node("Gemm", ["h1", "W2q"], ["y"], transB=1, name="fc2"),
    ]
    graph = helper.make_graph(nodes, "two", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(q, 1)])
    path = tmp_path / "two.onnx"
    onnx.save(model, path)
    return path


@pytest.fixture
def out(tmp_path):
    out = tmp_path / "out"
    assert cli.main(["compile", str(two_layer_graph(tmp_path)), "-o", str(out)]) == 0
    np.save(tmp_path / "x.npy", np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32))
    return out


def run_argv(out, x, y, engine="ref"):
    return ["run", out, "--input", x, "--engine", engine, "-o", y]


@pytest.fixture
def read_only(tmp_path):
    """Make directories read-only, also for root (chattr +i); undone at teardown."""
    made = []

    def make(path):
        path.chmod(0o555)
        made.append(path)
        if os.geteuid() == 0:
            proc = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
            if proc.returncode != 0:
                pytest.skip("running as root without chattr +i: cannot make a read-only directory")
        return path

    yield make
    for path in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
        path.chmod(0o755)


# --------------------------------------------------------------------------------------
# run: inputs
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["ref", "onnx", "rtl", "hls"])
def test_zero_frames_refused_by_every_engine(out, tmp_path, capsys, engine):
    np.save(tmp_path / "empty.npy", np.zeros((0, 8), np.float32))
    expect_error(capsys, run_argv(out, tmp_path / "empty.npy", tmp_path / "y.npy", engine), "empty.npy", "no frames")
    assert not (tmp_path / "y.npy").exists() and not (out / "sim").exists()


def test_empty_npy_file(out, tmp_path, capsys):
    (tmp_path / "zero.npy").write_bytes(b"")
    expect_error(capsys, run_argv(out, tmp_path / "zero.npy", tmp_path / "y.npy"), "zero.npy", "not a readable .npy")


def test_npz_as_input(out, tmp_path, capsys):
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 8), np.float32))
    expect_error(capsys, run_argv(out, tmp_path / "x.npz", tmp_path / "y.npy"), "x.npz", ".npz archive")
    assert not (tmp_path / "y.npy").exists()


# --------------------------------------------------------------------------------------
# run: -o
# --------------------------------------------------------------------------------------
def test_output_in_missing_directory_checked_before_the_engine(out, tmp_path, capsys):
    y = tmp_path / "nowhere" / "y.npy"
    expect_error(capsys, run_argv(out, tmp_path / "x.npy", y, "rtl"), str(y), "does not exist")
    assert not (out / "sim").exists()  # refused before simulating anything


def test_output_in_read_only_directory_checked_before_the_engine(out, tmp_path, capsys, read_only):
    locked = tmp_path / "locked"
    locked.mkdir()
    read_only(locked)
    expect_error(capsys, run_argv(out, tmp_path / "x.npy", locked / "y.npy", "rtl"), "locked/y.npy", "not writable")
    assert not (out / "sim").exists()


def test_output_naming_a_directory(out, tmp_path, capsys):
    (tmp_path / "ydir").mkdir()
    expect_error(capsys, run_argv(out, tmp_path / "x.npy", tmp_path / "ydir"), "ydir", "must end in .npy")
    (tmp_path / "d.npy").mkdir()
    expect_error(capsys, run_argv(out, tmp_path / "x.npy", tmp_path / "d.npy"), "d.npy", "is a directory")
    assert not (tmp_path / "ydir.npy").exists() and not any((tmp_path / "d.npy").iterdir())


def test_output_without_npy_suffix(out, tmp_path, capsys):
    expect_error(capsys, run_argv(out, tmp_path / "x.npy", tmp_path / "y.txt"), "y.txt", ".npy")
    assert not list(tmp_path.glob("y.txt*"))


def test_output_written_where_named(out, tmp_path, capsys):
    assert cli.main([str(a) for a in run_argv(out, tmp_path / "x.npy", tmp_path / "y.npy")]) == 0
    assert np.load(tmp_path / "y.npy").shape == (3, 4)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("engine", ["rtl", "hls"])
def test_read_only_out_for_simulating_engines(out, tmp_path, capsys, read_only, engine):
    read_only(out)
    expect_error(capsys, run_argv(out, tmp_path / "x.npy", tmp_path / "y.npy", engine), str(out), "not writable",
                 f"--engine {engine}")
    # the engines that do not simulate only read OUT
    assert cli.main([str(a) for a in run_argv(out, tmp_path / "x.npy", tmp_path / "y.npy", "ref")]) == 0


# --------------------------------------------------------------------------------------
# Tampered or incomplete artifacts: refused by the manifest, and by ir.load's own checks
# --------------------------------------------------------------------------------------
def test_manifest_lists_generated_files_deterministically(out, tmp_path):
    doc = json.loads((out / manifest.MANIFEST).read_text())
    files = set(doc["files"])
    assert {"ir.json", "weights.npz", "source.onnx", "rtl/bnn_top.sv", "rtl/files.f", "rtl/stream.json"} <= files
    assert any(f.startswith("hls/") for f in files) and any(f.endswith(".mem") for f in files)
    assert "report.json" in files and manifest.MANIFEST not in files  # `report` renews its entry
    again = tmp_path / "again"
    assert cli.main(["compile", str(tmp_path / "two.onnx"), "-o", str(again)]) == 0
    assert (again / manifest.MANIFEST).read_bytes() == (out / manifest.MANIFEST).read_bytes()


def _a_mem(out):
    return sorted((out / "rtl").glob("*.mem"))[0]


@pytest.mark.parametrize("tamper, culprit", [
    (lambda out: _a_mem(out).unlink(), "missing"),
    (lambda out: _a_mem(out).write_bytes(_a_mem(out).read_bytes()[:-3]), "changed"),
    (lambda out: (out / "rtl" / "bnn_top.sv").write_text("module broken;"), "changed"),
    (lambda out: (out / "source.onnx").unlink(), "missing"),
    (lambda out: next((out / "hls").glob("*.h")).write_text("// gone\n"), "changed"),
], ids=["mem-deleted", "mem-truncated", "top-edited", "source-deleted", "hls-edited"])
@pytest.mark.parametrize("command", ["run-rtl", "run-ref", "report"])
def test_tampered_generated_files_refused(out, tmp_path, capsys, tamper, culprit, command):
    tamper(out)
    if command == "report":
        argv = ["report", out]
    else:
        argv = run_argv(out, tmp_path / "x.npy", tmp_path / "y.npy", command.split("-")[1])
    line = expect_error(capsys, argv, culprit, "compile again")
    assert str(out) in line
    assert not (tmp_path / "y.npy").exists() and not (out / "sim").exists()


def test_missing_or_malformed_manifest(out, tmp_path, capsys):
    argv = run_argv(out, tmp_path / "x.npy", tmp_path / "y.npy")
    (out / manifest.MANIFEST).write_text("[]")
    expect_error(capsys, argv, "manifest.json", "malformed")
    (out / manifest.MANIFEST).write_text(json.dumps({"format": 1, "files": {}}))
    expect_error(capsys, argv, "manifest.json", "does not list ir.json")
    (out / manifest.MANIFEST).unlink()
    expect_error(capsys, argv, "no manifest.json")


def _edit_ir(edit):
    def tamper(out):
        doc = json.loads((out / "ir.json").read_text())
        edit(doc)
        (out / "ir.json").write_text(json.dumps(doc))
    return tamper


def _layer(doc, name):
    return next(entry for entry in doc["layers"] if entry["name"] == name)


def _inline_thresholds(doc):
    _layer(doc, "dense0")["thresholds"] = [0] * 8


def _float_thresholds(out):
    # the thresholds array in weights.npz becomes float64
    from bnn2hls import ir

    with np.load(out / "weights.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    key = next(k for k in arrays if k.endswith("thresholds"))
    arrays[key] = arrays[key].astype(np.float64) + 0.5
    ir.write_npz(out / "weights.npz", arrays)


def _npy_as_npz(out):
    with open(out / "weights.npz", "wb") as f:
        np.save(f, np.zeros(3))


@pytest.mark.parametrize("tamper, needles", [
    (_float_thresholds, ["dense0", "thresholds must be an integer array"]),
    (_edit_ir(lambda d: d["layers"][0].update(bits=100)), ["input", "bits must be an integer in [1, 16], not 100"]),
    (_edit_ir(lambda d: _layer(d, "dense0").update(pe=0)), ["dense0", "PE must be a positive integer, not 0"]),
    (_edit_ir(lambda d: _layer(d, "dense0").update(pe="2")), ["dense0", "PE must be a positive integer, not '2'"]),
    (_edit_ir(lambda d: _layer(d, "dense0").update(simd=True)), ["dense0", "SIMD must be a positive integer"]),
    (_edit_ir(_inline_thresholds), ["dense0", "thresholds must be an integer array"]),
    (lambda out: (out / "ir.json").write_text("[]"), ["ir.json must hold a JSON object, not list"]),
    (lambda out: (out / "ir.json").write_text("null"), ["ir.json must hold a JSON object, not NoneType"]),
    (lambda out: (out / "ir.json").write_text("1234"), ["ir.json must hold a JSON object, not int"]),
    (lambda out: (out / "ir.json").write_bytes(b"\xff\xfe{}"), ["ir.json", "not UTF-8"]),
    (lambda out: (out / "ir.json").write_text("{"), ["malformed ir.json"]),
    (lambda out: (out / "weights.npz").write_bytes(b""), ["weights.npz", "unreadable"]),
    (_npy_as_npz, ["weights.npz", "not an .npz archive"]),
    (_edit_ir(lambda d: _layer(d, "dense0").update(weights={"array": "nope"})), ["malformed ir.json", "nope"]),
], ids=["float-thresholds", "bits100", "pe0", "pe-string", "simd-bool", "inline-thresholds", "list", "null", "int",
        "non-utf8", "bad-json", "empty-npz", "npy-as-npz", "missing-array"])
def test_malformed_ir_refused(out, tmp_path, capsys, tamper, needles):
    argv = run_argv(out, tmp_path / "x.npy", tmp_path / "y.npy")
    tamper(out)
    first = "weights.npz" if "weights.npz" in needles or tamper is _float_thresholds else "ir.json"
    expect_error(capsys, argv, first, "changed since compile")
    manifest.write(out)  # as if the manifest had been forged too: ir.load's own checks still hold
    expect_error(capsys, argv, *needles)
    assert not (tmp_path / "y.npy").exists()


# --------------------------------------------------------------------------------------
# compile: where OUT goes
# --------------------------------------------------------------------------------------
def _siblings(directory):
    return sorted(p.name for p in directory.iterdir())


def test_compile_into_cwd_is_refused_before_writing(tmp_path, capsys, monkeypatch):
    model = two_layer_graph(tmp_path)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    expect_error(capsys, ["compile", model, "-o", "."], "current directory", "refusing")
    assert _siblings(here) == [] and ".bnn2hls" not in " ".join(_siblings(tmp_path))


def test_compile_into_cwd_inside_previous_out_is_refused(tmp_path, capsys, monkeypatch):
    model = two_layer_graph(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["compile", str(model), "-o", str(out)]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    monkeypatch.chdir(out / "rtl")
    expect_error(capsys, ["compile", model, "-o", ".."], "current directory", "refusing")
    monkeypatch.chdir(out)
    expect_error(capsys, ["compile", model, "-o", "."], "current directory", "refusing")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not [n for n in _siblings(tmp_path) if n.startswith(".")]


def test_compile_into_read_only_parent(tmp_path, capsys, read_only):
    model = two_layer_graph(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    read_only(locked)
    expect_error(capsys, ["compile", model, "-o", locked / "out"], "locked/out", "cannot write to its parent")
    assert _siblings(locked) == []


def test_compile_with_a_long_out_name(tmp_path, capsys):
    model = two_layer_graph(tmp_path)
    out = tmp_path / ("o" * 250)
    assert cli.main(["compile", str(model), "-o", str(out)]) == 0
    assert cli.main(["compile", str(model), "-o", str(out)]) == 0  # replacing it too (the .old name)
    assert (out / "ir.json").is_file() and not [n for n in _siblings(tmp_path) if n.startswith(".")]
    expect_error(capsys, ["compile", model, "-o", tmp_path / ("o" * 256)], "longer than 255")


def test_stale_temporary_dirs_of_killed_compiles_are_removed(tmp_path, capsys):
    from bnn2hls.flow import compiler

    model = two_layer_graph(tmp_path)
    out = tmp_path / "out"
    tag = compiler._name_hash(out)
    dead = subprocess.Popen(["true"])
    dead.wait()

    def leftover(name, owner):
        d = tmp_path / name
        (d / "rtl").mkdir(parents=True)
        (d / "rtl" / "big.mem").write_bytes(b"0" * 1000)
        if owner is not None:
            (d / compiler.OWNER_FILE).write_text(owner)
        return d

    killed = leftover(f"{compiler.TMP_PREFIX}{tag}-killed", f"{dead.pid} ?\n")
    killed_old = leftover(f"{compiler.OLD_PREFIX}{tag}-killed", f"{dead.pid} ?\n")
    ancient = leftover(f"{compiler.TMP_PREFIX}{tag}-ancient", None)
    os.utime(ancient, (0, 0))
    live = leftover(f"{compiler.TMP_PREFIX}{tag}-live", f"{os.getpid()} {compiler._process_start(os.getpid())}\n")
    fresh = leftover(f"{compiler.TMP_PREFIX}{tag}-fresh", None)  # a concurrent compile's, just created
    other = leftover(f"{compiler.TMP_PREFIX}{compiler._name_hash(tmp_path / 'other')}-x", f"{dead.pid} ?\n")
    assert cli.main(["compile", str(model), "-o", str(out)]) == 0
    assert not killed.exists() and not killed_old.exists() and not ancient.exists()
    assert live.exists() and fresh.exists() and other.exists()  # live, too young to judge, another OUT's


def test_killed_compile_leaves_a_dir_the_next_compile_removes(tmp_path, capsys):
    """A real SIGKILL in the middle of writing OUT."""
    import signal
    import sys
    import textwrap

    model = two_layer_graph(tmp_path)
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import os, signal
        from bnn2hls.flow import compiler
        real = compiler.report.save
        def save_then_die(doc, path):
            real(doc, path)
            os.kill(os.getpid(), signal.SIGKILL)
        compiler.report.save = save_then_die
        compiler.compile_file({str(model)!r}, {str(out)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    stale = [n for n in _siblings(tmp_path) if n.startswith(".bnn2hls-tmp-")]
    assert len(stale) == 1 and not out.exists()
    assert cli.main(["compile", str(model), "-o", str(out)]) == 0
    assert [n for n in _siblings(tmp_path) if n.startswith(".")] == []
