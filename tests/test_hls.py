"""Acceptance for the HLS C++ backend: the `hls` engine (g++ C simulation of OUT/hls) equals the
QONNX executor at several foldings per network, and the testbench's own self-check passes; the
generated C++ compiles without warnings from our code under -Wall -Wextra; generation is
deterministic; missing tools and broken builds are reported as UserError."""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bnn2hls.engines import hls_sim, qonnx_runner
from bnn2hls import ir
from bnn2hls.models import zoo
from bnn2hls.backends import hls as hls_backend
from bnn2hls.flow.compiler import build_network, compile_file
from bnn2hls.errors import UserError
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.hw.folding import folding_preset

from .conftest import random_inputs

FRAMES = 8
SMALL = ["TFC_1W1A", "SFC_1W1A", "padnet", "oddnet", "altpadnet"]
WARNING = re.compile(r"^(?P<file>[^:\s]+):\d+(?::\d+)?: warning: (?P<text>.*)$")

pytestmark = [pytest.mark.tier("e2e"),
              pytest.mark.skipif(shutil.which("g++") is None or importlib.util.find_spec("hls4ml") is None,
                                 reason="the hls engine needs g++ and hls4ml's ap_types headers")]

_qonnx_outputs: dict[tuple[str, int], np.ndarray] = {}


def qonnx_outputs(name: str, path: Path, x: np.ndarray) -> np.ndarray:
    """The QONNX executor's outputs, once per network and worker (every folding reuses them)."""
    key = (name, len(x))
    if key not in _qonnx_outputs:
        _qonnx_outputs[key] = qonnx_runner.run(load_model(path), x)
    return _qonnx_outputs[key]


def our_warnings(log: str) -> list[str]:
    """Warnings located outside the ap_types headers (ours: OUT/hls sources)."""
    ap_types = str(hls_sim.ap_types_dir().resolve())
    found = []
    for line in log.splitlines():
        m = WARNING.match(line.strip())
        if m and not str(Path(m["file"]).resolve()).startswith(ap_types):
            found.append(line)
    return found


def compile_generated(path: Path, out: Path, spec: dict) -> ir.Network:
    compile_file(path, out, folding=spec)  # writes OUT/hls too
    return ir.load(out)


def check_hls(name: str, style: str, exported, tmp_path: Path) -> None:
    path, _ = exported(name)
    net = build_network(load_model(path), name)
    if style == "bnn_pynq":
        spec = zoo.bnn_pynq_folding(net)
    else:
        spec = folding_preset(net, style)
    out = tmp_path / "out"
    net = compile_generated(path, out, spec)
    x = random_inputs(path, FRAMES, seed=7)
    y = hls_sim.run(net, out, x)
    y_onnx = qonnx_outputs(name, path, x)
    assert y.dtype == np.float32 and y.shape == y_onnx.shape == (FRAMES, net.head.out_features)
    np.testing.assert_allclose(y, y_onnx, rtol=1e-5, atol=1e-5)
    assert np.array_equal(y.argmax(1), y_onnx.argmax(1))
    # The engine's -O1 -Wall -Wextra build: no warning from the generated code or hls_lib/hls.
    logs = list((out / "sim").glob(f"hls-build-*/{hls_sim.BUILD_LOG}"))
    assert len(logs) == 1
    assert our_warnings(logs[0].read_text()) == []
    # The testbench's self-check (what Vitis HLS csim_design runs): no arguments, the reference
    # engine's vectors generated next to it.
    proc = subprocess.run([str(hls_sim.build(out))], capture_output=True, text=True, cwd=out / "hls")
    assert proc.returncode == 0 and proc.stdout.startswith("PASS"), proc.stdout + proc.stderr


@pytest.mark.parametrize("style", ["unit", "mid", "wide"])
@pytest.mark.parametrize("name", SMALL)
def test_hls_equals_qonnx(name, style, exported, tmp_path):
    check_hls(name, style, exported, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("style", ["unit", "mid", "wide"])
def test_hls_lfc(style, exported, tmp_path):
    check_hls("LFC_1W1A", style, exported, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("style", ["bnn_pynq", "mid", "wide"])
def test_hls_cnv(style, exported, tmp_path):
    # "wide" folding: 64x64-bit weight words, so AP_INT_MAX_W > 1024 is exercised too.
    check_hls("CNV_1W1A", style, exported, tmp_path)


@pytest.mark.parametrize("name", ["padnet", "oddnet"])
def test_generated_cpp_compiles_without_warnings(name, exported, tmp_path):
    """padnet: multi-bit input, border classes, max-pool, flatten, dense last layer; oddnet:
    binary input, a last conv. Default (-O0) build, every translation unit."""
    path, _ = exported(name)
    out = tmp_path / "out"
    spec = folding_preset(build_network(load_model(path), name), "mid")
    compile_generated(path, out, spec)
    src = out / "hls"
    for source in hls_backend.SOURCES:
        proc = subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-isystem", str(hls_sim.ap_types_dir()),
                               "-I", str(src), "-c", str(src / source), "-o", str(tmp_path / "x.o")],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "warning" not in proc.stderr, proc.stderr


def test_generation_is_deterministic(exported, tmp_path):
    path, _ = exported("padnet")
    spec = folding_preset(build_network(load_model(path), "padnet"), "wide")
    out = tmp_path / "out"
    compile_file(path, out, folding=spec)
    hls_backend.generate(ir.load(out), tmp_path / "a")
    hls_backend.generate(ir.load(out), tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert {"bnn_top.cpp", "bnn_top.h", "tb_top.cpp", "tb_input.hex", "tb_expected.hex", "stream.json",
            *hls_backend.BLOCKS} <= set(names)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_build_is_cached_and_errors_are_user_errors(exported, tmp_path, monkeypatch):
    path, _ = exported("oddnet")
    out = tmp_path / "out"
    net = compile_generated(path, out, folding_preset(build_network(load_model(path), "oddnet"), "wide"))
    x = random_inputs(path, 2)
    y1 = hls_sim.run(net, out, x)
    binary = hls_sim.build(out)
    stamp = binary.stat().st_mtime_ns
    assert np.array_equal(hls_sim.run(net, out, x), y1)
    assert binary.stat().st_mtime_ns == stamp and len(list((out / "sim").glob("hls-build-*"))) == 1

    with pytest.raises(UserError, match="no generated HLS"):
        hls_sim.run(net, tmp_path / "nowhere", x)
    with pytest.raises(UserError, match="expected shape"):
        hls_sim.run(net, out, x[:, :, :-1])

    # A broken source: a new content hash, a build that fails with the compiler's message.
    top = out / "hls" / hls_backend.TOP
    top.write_text(top.read_text() + "\nthis is not C++;\n")
    with pytest.raises(UserError, match="HLS C simulation build failed"):
        hls_sim.build(out)

    with monkeypatch.context() as m:
        m.setattr(hls_sim.shutil, "which", lambda name: None)
        with pytest.raises(UserError, match="g\\+\\+"):
            hls_sim.build(out)
    with monkeypatch.context() as m:
        real = hls_sim.importlib.util.find_spec
        m.setattr(hls_sim.importlib.util, "find_spec", lambda name: None if name == "hls4ml" else real(name))
        with pytest.raises(UserError, match="hls4ml"):
            hls_sim.build(out)
