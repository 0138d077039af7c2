"""Reliability, round three (issue 19): each cause found by the hostile sweep, as the user hits
it through the command line. The contract: exit 2 with one `error: ...` line naming the
option, node or file at fault, no traceback, nothing left behind (no partial OUT, no process).
The whole sweep is benchmarks/hostile_sweep.py."""
from __future__ import annotations

import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest

from bnn2hls import cli
from bnn2hls.frontend.onnx_import import load_model

pytestmark = pytest.mark.tier("unit")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A binary 6x6 input, a 3x3 conv (4 channels) + BatchNorm + sign, a 2x2 max-pool and a
    dense layer of 3 outputs: compiles in a fraction of a second."""
    import torch
    from torch import nn

    from bnn2hls.models import zoo
    from bnn2hls.frontend.torch_export import export_qonnx

    torch.manual_seed(0)
    m = zoo._Sequential(zoo._binary_act(), zoo._conv(1, 4, 3), nn.BatchNorm2d(4), zoo._binary_act(), nn.MaxPool2d(2),
                        nn.Flatten(), zoo._linear(16, 3))
    zoo.randomize_batchnorm(m, 0)
    path = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    return export_qonnx(m.eval(), torch.zeros(1, 1, 6, 6), path)


@pytest.fixture(scope="module")
def compiled(tiny, tmp_path_factory) -> tuple[Path, Path, np.ndarray]:
    """(OUT, an input file, the reference's answer on it)."""
    base = tmp_path_factory.mktemp("compiled")
    out, x = base / "T", base / "x.npy"
    assert cli.main(["compile", str(tiny), "-o", str(out)]) == 0
    np.save(x, np.random.default_rng(0).standard_normal((3, 1, 6, 6)).astype(np.float32))
    assert cli.main(["run", str(out), "--input", str(x), "-o", str(base / "ref.npy")]) == 0
    return out, x, np.load(base / "ref.npy")


def refused(capsys, argv: list[str], *needles: str) -> str:
    """cli.main(argv) exits 2 with exactly one `error:` line holding every needle."""
    capsys.readouterr()
    assert cli.main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith((".bnn2hls-tmp-", ".bnn2hls-old-")))


def bnn2hls(*argv: str, cwd: Path, preexec=None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([sys.executable, "-m", "bnn2hls", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, errors="replace", preexec_fn=preexec, timeout=timeout)


def one_error_line(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# -- 1. the manifest covers every file `run` reads ------------------------------------------------
def test_unlisted_edited_memory_file_is_refused(compiled, tmp_path, capsys):
    """Remove one file's entry from the manifest, edit the file: run refuses (was: the rtl
    engine answered differently from ref, exit 0)."""
    out = tmp_path / "T"
    shutil.copytree(compiled[0], out)
    man = json.loads((out / "manifest.json").read_text())
    mem = next(rel for rel in man["files"] if rel.startswith("rtl/") and rel.endswith(".mem"))
    del man["files"][mem]
    (out / "manifest.json").write_text(json.dumps(man))
    (out / mem).write_text((out / mem).read_text().replace("0", "1"))
    for engine in ("ref", "rtl", "hls"):
        refused(capsys, ["run", out, "--input", compiled[1], "--engine", engine, "-o", tmp_path / "y.npy"],
                mem, "not listed in manifest.json")
    assert not (tmp_path / "y.npy").exists()


def test_added_file_link_and_missing_engine_input_are_refused(compiled, tmp_path, capsys):
    out = tmp_path / "T"
    shutil.copytree(compiled[0], out)
    run = ["run", out, "--input", compiled[1], "-o", tmp_path / "y.npy"]
    (out / "hls" / "extra.h").write_text("#define X 1\n")
    refused(capsys, run, "hls/extra.h", "not listed")
    (out / "hls" / "extra.h").unlink()
    os.symlink(compiled[0] / "rtl", out / "rtl2")
    refused(capsys, run, "rtl2", "not listed")
    (out / "rtl2").unlink()
    # an engine input that is neither on disk nor in the manifest
    man = json.loads((out / "manifest.json").read_text())
    del man["files"]["rtl/stream.json"]
    (out / "manifest.json").write_text(json.dumps(man))
    (out / "rtl" / "stream.json").unlink()
    refused(capsys, run, "does not list rtl/stream.json")


def test_report_json_is_covered_and_renewed_by_report(compiled, tmp_path, capsys):
    """report rewrites report.json and renews its entry; a hand-edited one (valid JSON, wrong
    types: was a KeyError traceback) is refused."""
    out = tmp_path / "T"
    shutil.copytree(compiled[0], out)
    assert cli.main(["report", str(out)]) == 0
    assert cli.main(["run", str(out), "--input", str(compiled[1]), "-o", str(tmp_path / "y.npy")]) == 0
    (out / "report.json").write_text('{"network": 1, "layers": {}, "layer_order": ["x"]}')
    refused(capsys, ["report", out], "report.json", "changed")


# -- 2. bounded reads ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "deep", "non-utf8"])
def test_folding_file_is_read_bounded(tiny, tmp_path, capsys, kind):
    path = tmp_path / "f.json"
    if kind == "dev-zero":
        path = Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "deep":
        path.write_text("[" * 100_000 + "]" * 100_000)
    else:
        path.write_bytes(b'{"layers": {"\xff": {}}}')
    started = time.monotonic()
    refused(capsys, ["compile", tiny, "-o", tmp_path / "O", "--folding", path], "--folding",
            {"dev-zero": "not a regular file", "fifo": "not a regular file", "deep": "nested deeper",
             "non-utf8": "not UTF-8"}[kind])
    assert time.monotonic() - started < 20
    assert not (tmp_path / "O").exists() and not leftovers(tmp_path)


# -- 3. ONNX window attributes agree with the tensors --------------------------------------------
def _with_attr(tiny: Path, tmp: Path, op: str, key: str, value) -> Path:
    model = load_model(tiny)
    node = next(n for n in model.graph.node if n.op_type == op)
    for a in list(node.attribute):
        if a.name == key:
            node.attribute.remove(a)
    node.attribute.append(onnx.helper.make_attribute(key, value))
    path = tmp / "m.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("op, key, value, says", [
    ("Conv", "kernel_shape", [5, 5], "kernel_shape [5, 5] disagrees with its weights' kernel [3, 3]"),
    ("Conv", "strides", [0, 0], "strides [0, 0]: must be at least 1"),
    ("Conv", "strides", [1, 0], "strides [1, 0]: must be at least 1"),
    ("Conv", "pads", [1, 1], "pads [1, 1]: expected 4 integers"),
    ("Conv", "pads", [0, -1, 0, 0], "must not be negative"),
    ("Conv", "group", 0, "group 0"),
    ("MaxPool", "strides", [0, 0], "strides [0, 0]: must be at least 1"),
    ("MaxPool", "kernel_shape", [9, 9], "does not fit the 4x4 map"),
    ("MaxPool", "kernel_shape", [2, 2, 2], "expected 2 integers"),
])
def test_window_attributes_must_agree_with_the_tensors(tiny, tmp_path, capsys, op, key, value, says):
    path = _with_attr(tiny, tmp_path, op, key, value)
    refused(capsys, ["compile", path, "-o", tmp_path / "O"], f"({op}, module body.", "node '", says)
    assert not (tmp_path / "O").exists()


def _with_initializer(tiny: Path, tmp: Path, op: str, index: int, edit) -> Path:
    model = load_model(tiny)
    producers = {o: n for n in model.graph.node for o in n.output}
    name = next(n for n in model.graph.node if n.op_type == op).input[index]
    while name in producers:  # through the weight quantizer to its float tensor
        name = producers[name].input[0]
    t = next(t for t in model.graph.initializer if t.name == name)
    t.CopyFrom(onnx.numpy_helper.from_array(edit(onnx.numpy_helper.to_array(t).copy()), name))
    path = tmp / "m.onnx"
    onnx.save(model, path)
    return path


def test_batchnorm_with_negative_variance_and_nan_weights_are_refused(tiny, tmp_path, capsys):
    def negative(a):
        a[1] = -3.0
        return a
    path = _with_initializer(tiny, tmp_path, "BatchNormalization", 4, negative)
    refused(capsys, ["compile", path, "-o", tmp_path / "O"], "(BatchNormalization, module body.", "var + epsilon is not positive",
            "channel 1")
    path = _with_initializer(tiny, tmp_path, "Conv", 1, lambda a: a * np.float32("nan"))
    refused(capsys, ["compile", path, "-o", tmp_path / "O"], "initializer '", "nan")
    assert not (tmp_path / "O").exists()


# -- 4. no tool outlives bnn2hls -------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_run_tool_dies_with_its_caller(tmp_path, sig):
    """The mechanism of every tool bnn2hls starts (Verilator, make, g++, yosys, simulators):
    a caller killed by `sig`, even SIGKILL, takes the tool and the tool's children along."""
    marker = tmp_path / "pids"
    script = (f"from bnn2hls.procs import run_tool\n"
              f"run_tool(['sh', '-c', 'sleep 61 & echo $! $$ > {marker}; wait'])\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    caller = subprocess.Popen([sys.executable, "-c", script], env=env,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 30
    while not (marker.is_file() and marker.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = [int(p) for p in marker.read_text().split()]
    assert all(_alive(p) for p in pids)
    caller.send_signal(sig)
    caller.wait(timeout=30)
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids), f"left running after {sig.name}: {pids}"


def _descendants(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                kids.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(entry))
            except (OSError, ValueError):
                pass
    found, stack = [], [pid]
    while stack:
        for kid in kids.get(stack.pop(), []):
            found.append(kid)
            stack.append(kid)
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@pytest.mark.slow
@pytest.mark.tier("rtl")  # Verilator
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_signal_during_the_verilator_build_leaves_no_process(compiled, tmp_path, sig):
    out = tmp_path / "T"
    shutil.copytree(compiled[0], out)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "bnn2hls", "run", str(out), "--input", str(compiled[1]),
                             "--engine", "rtl", "-o", str(tmp_path / "y.npy")], env=env, stderr=subprocess.PIPE, text=True,
                            # a shell's background job inherits SIGINT ignored; a terminal's Ctrl-C does not
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline, tree = time.monotonic() + 120, []
    while time.monotonic() < deadline and proc.poll() is None:
        tree = _descendants(proc.pid)
        if any(_comm(p) == "cc1plus" for p in tree):
            break
        time.sleep(0.1)
    assert any(_comm(p) == "cc1plus" for p in tree), "the build never reached the C++ compiler"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [(_comm(p), p) for p in tree if _alive(p)]
    assert "Traceback" not in err
    if sig != signal.SIGKILL:
        assert proc.returncode in (130, 143) and err.splitlines() == [f"error: {'interrupted' if sig == signal.SIGINT else 'terminated'}"]
    assert not (tmp_path / "y.npy").exists()


# -- 5. concurrent runs on one OUT -----------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.tier("rtl")  # Verilator and g++
@pytest.mark.parametrize("engine", ["hls", "rtl"])
def test_two_runs_at_once_on_one_out_both_succeed(compiled, tmp_path, engine):
    out = tmp_path / "T"
    shutil.copytree(compiled[0], out)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _attempt in range(2):  # the first pair builds (one waits for the other), the second reuses
        procs = [subprocess.Popen([sys.executable, "-m", "bnn2hls", "run", str(out), "--input", str(compiled[1]),
                                   "--engine", engine, "-o", str(tmp_path / f"y{i}.npy")], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=600)
            assert p.returncode == 0, err
        for i in range(2):
            assert np.array_equal(np.load(tmp_path / f"y{i}.npy"), compiled[2])


# -- 6. write errors -------------------------------------------------------------------------------
def _file_size_limit(kib: int):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (kib * 1024, kib * 1024))
    return limit


def test_write_errors_are_one_line(tiny, compiled, tmp_path):
    """EFBIG (ulimit -f) in compile's staging and in report's writes: one line, no partial
    OUT. (ENOSPC and EROFS take the same path: safeio.writing; the sweep mounts them.)"""
    proc = bnn2hls("compile", str(tiny), "-o", "O", cwd=tmp_path, preexec=_file_size_limit(8))
    one_error_line(proc, "-o ", "cannot write", "file too large")
    assert not (tmp_path / "O").exists() and not leftovers(tmp_path)
    out = tmp_path / "T"
    shutil.copytree(compiled[0], out)
    proc = bnn2hls("report", "T", cwd=tmp_path, preexec=_file_size_limit(1))
    one_error_line(proc, "report T", "cannot write", "file too large")


# -- 7. search and demo options -------------------------------------------------------------------
@pytest.mark.parametrize("argv, says", [
    (["--max-minutes", "1e30"], "--max-minutes 1e+30"),
    (["--max-minutes", "inf"], "--max-minutes inf"),
    (["--seed", "-1"], "--seed -1"),
    (["--seed", str(2**64)], "--seed 18446744073709551616"),
])
def test_search_options_out_of_range_name_the_option(tmp_path, capsys, argv, says):
    refused(capsys, ["search", "--dataset", "digits", "--quiet", "-o", tmp_path / "S", *argv], says)
    assert not (tmp_path / "S").exists()


def test_demo_seconds_out_of_range(tmp_path, capsys):
    refused(capsys, ["demo", "-o", tmp_path / "D", "--seconds", "1e30"], "--seconds 1e+30")
    assert not (tmp_path / "D").exists()


# -- 8, 10, 11. --input ------------------------------------------------------------------------------
def test_npy_header_claiming_more_than_the_file_holds(compiled, tmp_path, capsys):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (10**11, 1, 28, 28)})
    (tmp_path / "bomb.npy").write_bytes(buf.getvalue() + bytes(64))
    refused(capsys, ["run", compiled[0], "--input", tmp_path / "bomb.npy", "-o", tmp_path / "y.npy"],
            "--input", "bomb.npy", "header claims shape [100000000000, 1, 28, 28]")


def test_complex_input_is_refused(compiled, tmp_path, capsys):
    np.save(tmp_path / "c.npy", np.ones((2, 1, 6, 6), np.complex64))
    refused(capsys, ["run", compiled[0], "--input", tmp_path / "c.npy", "-o", tmp_path / "y.npy"], "--input", "complex")


def test_numeric_warnings_never_reach_stderr(compiled, tmp_path):
    """float64 1e300 is refused with one line (was: two RuntimeWarning lines first); float32
    3e38 saturates like the QONNX executor and prints nothing on stderr."""
    np.save(tmp_path / "big.npy", np.full((2, 1, 6, 6), 1e300))
    proc = bnn2hls("run", str(compiled[0]), "--input", "big.npy", "-o", "y.npy", cwd=tmp_path)
    one_error_line(proc, "--input big.npy", "beyond float32")
    np.save(tmp_path / "max.npy", np.full((2, 1, 6, 6), 3e38, np.float32))
    proc = bnn2hls("run", str(compiled[0]), "--input", "max.npy", "-o", "ref.npy", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert cli.main(["run", str(compiled[0]), "--input", str(tmp_path / "max.npy"), "--engine", "onnx",
                     "-o", str(tmp_path / "onnx.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "ref.npy"), np.load(tmp_path / "onnx.npy"))


# -- 9. odd bytes in paths ---------------------------------------------------------------------------
def test_paths_with_odd_bytes(tiny, compiled, tmp_path):
    odd = tmp_path / os.fsdecode(b"O\xff\xfe")
    assert cli.main(["compile", str(tiny), "-o", str(odd)]) == 0
    assert cli.main(["run", str(odd), "--input", str(compiled[1]), "-o", str(tmp_path / os.fsdecode(b"y\xff.npy"))]) == 0
    assert np.array_equal(np.load(tmp_path / os.fsdecode(b"y\xff.npy")), compiled[2])
    proc = bnn2hls("run", "no\nsuch", "--input", str(compiled[1]), "-o", "y.npy", cwd=tmp_path)
    one_error_line(proc, "no\\nsuch")
    proc = bnn2hls("run", os.fsdecode(b"no\xffsuch"), "--input", str(compiled[1]), "-o", "y.npy", cwd=tmp_path)
    one_error_line(proc, "no\\xffsuch")


# -- 12. a symbolic link as -o -----------------------------------------------------------------------
def test_symlink_output_is_refused(tiny, compiled, tmp_path, capsys):
    os.symlink(tmp_path / "target", tmp_path / "dangling")
    refused(capsys, ["compile", tiny, "-o", tmp_path / "dangling"], "-o", "symbolic link")
    assert not (tmp_path / "target").exists()
    existing = tmp_path / "T"
    shutil.copytree(compiled[0], existing)
    before = (existing / "manifest.json").read_bytes()
    os.symlink(existing, tmp_path / "link")
    refused(capsys, ["compile", tiny, "-o", tmp_path / "link"], "symbolic link")
    assert (existing / "manifest.json").read_bytes() == before and not leftovers(tmp_path)
    os.symlink(tmp_path / "elsewhere.npy", tmp_path / "y.npy")
    refused(capsys, ["run", existing, "--input", compiled[1], "-o", tmp_path / "y.npy"], "symbolic link")
    assert not (tmp_path / "elsewhere.npy").exists()
