"""A sweep of hostile inputs against the command line, as a new user or an attacker would try
them: bad files, tampered outputs, odd paths, absurd options, signals, concurrency.

Each case runs `python -m bnn2hls ...` in a fresh directory, in its own session, and holds if
- it exits 2 with exactly one line on stderr, starting `error: `, and no traceback; or
- where the case allows it, it exits 0 and its answer is right (checked per case);
and in both: no process of its session is left, no `.bnn2hls-tmp-*`/`-old-*` directory is
left, and a compile that failed left no OUT.

    python benchmarks/hostile_sweep.py [--only SUBSTRING] [--keep DIR]

Prints one line per case and the counts. Needs a few minutes on 2 cores (Verilator and g++
builds for the signal and concurrency cases).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
Check = Callable[[Path, subprocess.CompletedProcess], str | None]  # None = right answer, else why not


@dataclass
class Case:
    name: str
    setup: Callable[[Path], list[str]]  # prepares files in the case's directory, returns argv after `bnn2hls`
    may_succeed: bool = False
    check: Check | None = None
    timeout: float = 120.0
    out_arg: str | None = None  # the compile -o whose absence after a failure is checked
    signal_after: tuple[str, int] | None = None  # (process name to wait for, signal to send)
    parallel: int = 1  # that many copies at once (all must hold)
    ulimit_f: int | None = None
    cleanup: Callable[[Path], None] | None = None  # after the case (unmount what setup mounted)
    env_extra: dict[str, str] = field(default_factory=dict)
    close_stdout: bool = False  # the reader of stdout goes away at once (`| head -0`)


@dataclass
class Fixtures:
    base: Path
    tiny: Path = field(init=False)
    out: Path = field(init=False)
    x: Path = field(init=False)

    def __post_init__(self) -> None:
        self.tiny, self.out, self.x = self.base / "tiny.onnx", self.base / "T", self.base / "x.npy"


def env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONWARNINGS="")


def make_fixtures(base: Path) -> Fixtures:
    fx = Fixtures(base)
    code = f"""
import torch
from torch import nn
from bnn2hls.models import zoo
from bnn2hls.frontend.torch_export import export_qonnx
torch.manual_seed(0)
m = zoo._Sequential(zoo._binary_act(), zoo._conv(1, 4, 3), nn.BatchNorm2d(4), zoo._binary_act(), nn.MaxPool2d(2),
                    nn.Flatten(), zoo._linear(4 * 2 * 2, 3))
zoo.randomize_batchnorm(m, 0)
export_qonnx(m.eval(), torch.zeros(1, 1, 6, 6), {str(fx.tiny)!r})
"""
    subprocess.run([PY, "-c", code], check=True, env=env(), capture_output=True)
    subprocess.run([PY, "-m", "bnn2hls", "compile", str(fx.tiny), "-o", str(fx.out)], check=True, env=env(),
                   capture_output=True, cwd=base)
    ext = f"""
import onnx
from bnn2hls.frontend.onnx_import import load_model
onnx.save(load_model({str(fx.tiny)!r}), {str(base / 'ext.onnx')!r}, save_as_external_data=True,
          all_tensors_to_one_file=True, location='ext.onnx.data', size_threshold=0)
"""
    subprocess.run([PY, "-c", ext], check=True, env=env(), capture_output=True)
    np.save(fx.x, np.random.default_rng(0).standard_normal((3, 1, 6, 6)).astype(np.float32))
    subprocess.run([PY, "-m", "bnn2hls", "run", str(fx.out), "--input", str(fx.x), "-o", str(base / "ref.npy")],
                   check=True, env=env(), capture_output=True, cwd=base)
    return fx


# -- helpers to build cases ---------------------------------------------------------------------
def copy_ext_model(fx: Fixtures, d: Path) -> Path:
    """The model with its weights in ext.onnx.data beside it."""
    shutil.copy(fx.base / "ext.onnx", d / "ext.onnx")
    shutil.copy(fx.base / "ext.onnx.data", d / "ext.onnx.data")
    return d / "ext.onnx"


def mutate_model(fx: Fixtures, d: Path, fn: Callable[[Any], None]) -> Path:
    import onnx

    from bnn2hls.frontend.onnx_import import load_model

    m = load_model(fx.tiny)  # weights inlined
    fn(m)
    onnx.save(m, d / "m.onnx")
    return d / "m.onnx"


def node_attr(op: str, key: str, value: Any) -> Callable[[Any], None]:
    import onnx

    def fn(m: Any) -> None:
        for n in m.graph.node:
            if n.op_type == op:
                for a in list(n.attribute):
                    if a.name == key:
                        n.attribute.remove(a)
                n.attribute.append(onnx.helper.make_attribute(key, value))
    return fn


def init_edit(op: str, index: int, edit: Callable[[np.ndarray], np.ndarray]) -> Callable[[Any], None]:
    from onnx import numpy_helper

    def fn(m: Any) -> None:
        producers = {o: n for n in m.graph.node for o in n.output}
        for n in m.graph.node:
            if n.op_type == op:
                name = n.input[index]
                # through a weight quantizer to its float tensor
                while name in producers and producers[name].op_type in ("Quant", "BipolarQuant", "Identity"):
                    name = producers[name].input[0]
                for t in m.graph.initializer:
                    if t.name == name:
                        t.CopyFrom(numpy_helper.from_array(edit(numpy_helper.to_array(t).copy()), name))
                return
    return fn


def _relocate(model: Path, location: str) -> None:
    """Point every external tensor of `model` at `location` (outside the model's directory)."""
    import onnx

    m = onnx.load(model, load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = location
    onnx.save(m, model)


def copy_out(fx: Fixtures, d: Path) -> Path:
    shutil.copytree(fx.out, d / "T", symlinks=True)
    return d / "T"


def write(d: Path, name: str, data: bytes | str) -> Path:
    p = d / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def npy(d: Path, name: str, a: np.ndarray) -> Path:
    np.save(d / name, a, allow_pickle=True)
    return d / name


def equals_ref(fx: Fixtures, y_name: str = "y.npy") -> Check:
    def check(d: Path, proc: subprocess.CompletedProcess) -> str | None:
        y, ref = np.load(d / y_name), np.load(fx.base / "ref.npy")
        return None if np.array_equal(y, ref) else "answer differs from ref"
    return check


def equals_engine(fx: Fixtures, x_name: str, engine: str = "onnx") -> Check:
    """The answer equals the QONNX executor's (or ref's) on the same input."""
    def check(d: Path, proc: subprocess.CompletedProcess) -> str | None:
        other = subprocess.run([PY, "-m", "bnn2hls", "run", str(fx.out), "--input", str(d / x_name), "--engine", engine,
                                "-o", str(d / "other.npy")], env=env(), capture_output=True, text=True, cwd=d)
        if other.returncode != 0:
            return f"the {engine} engine refused what this case accepted: {other.stderr.strip()}"
        ys = sorted(d.glob("y*.npy"))
        return None if all(np.array_equal(np.load(y), np.load(d / "other.npy")) for y in ys) else f"differs from {engine}"
    return check


def compiled_ok(d: Path, proc: subprocess.CompletedProcess) -> str | None:
    outs = [p for p in d.iterdir() if p.is_dir() and (p / "manifest.json").is_file()]
    return None if outs else "exit 0 but no compiled OUT"


def cases(fx: Fixtures) -> list[Case]:
    T = str(fx.out)
    x = str(fx.x)
    tiny = str(fx.tiny)
    C: list[Case] = []

    def add(name: str, setup: Callable[[Path], list[str]], **kw: Any) -> None:
        C.append(Case(name, setup, **kw))

    # ---- compile: the model file ----
    add("compile/model-missing", lambda d: ["compile", "nope.onnx", "-o", "O"], out_arg="O")
    add("compile/model-is-dir", lambda d: ["compile", ".", "-o", "O"], out_arg="O")
    add("compile/model-dev-zero", lambda d: ["compile", "/dev/zero", "-o", "O"], out_arg="O", timeout=30)
    add("compile/model-fifo", lambda d: (os.mkfifo(d / "f.onnx"), ["compile", "f.onnx", "-o", "O"])[1], out_arg="O",
        timeout=30)
    add("compile/model-empty", lambda d: (write(d, "m.onnx", b""), ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/model-random-bytes", lambda d: (write(d, "m.onnx", os.urandom(4096)), ["compile", "m.onnx", "-o", "O"])[1],
        out_arg="O")
    add("compile/model-truncated", lambda d: (write(d, "m.onnx", fx.tiny.read_bytes()[:3000]),
                                              ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/model-is-json", lambda d: (write(d, "m.onnx", '{"graph": []}'), ["compile", "m.onnx", "-o", "O"])[1],
        out_arg="O")
    add("compile/model-data-missing", lambda d: (copy_ext_model(fx, d), os.remove(d / "ext.onnx.data"),
                                                 ["compile", "ext.onnx", "-o", "O"])[2], out_arg="O")
    add("compile/model-data-truncated", lambda d: (copy_ext_model(fx, d), (d / "ext.onnx.data").write_bytes(b"\0" * 7),
                                                   ["compile", "ext.onnx", "-o", "O"])[2], out_arg="O")
    add("compile/model-data-escape", lambda d: (copy_ext_model(fx, d), os.rename(d / "ext.onnx.data", d / "../ext-escaped.data"),
                                                 _relocate(d / "ext.onnx", "../ext-escaped.data"),
                                                 ["compile", "ext.onnx", "-o", "O"])[3], out_arg="O")
    # ---- compile: -o ----
    add("compile/out-is-file", lambda d: (write(d, "O", "x"), ["compile", tiny, "-o", "O"])[1])
    add("compile/out-foreign-dir", lambda d: ((d / "O").mkdir(), write(d / "O", "keep.txt", "mine"),
                                              ["compile", tiny, "-o", "O"])[2])
    add("compile/out-parent-missing", lambda d: ["compile", tiny, "-o", "no/such/O"])
    add("compile/out-dangling-symlink", lambda d: (os.symlink("target", d / "O"), ["compile", tiny, "-o", "O"])[1])
    add("compile/out-symlink-to-out", lambda d: (copy_out(fx, d), os.symlink("T", d / "O"), ["compile", tiny, "-o", "O"])[2])
    add("compile/out-name-300-bytes", lambda d: ["compile", tiny, "-o", "o" * 300], out_arg="o" * 300)
    add("compile/out-is-cwd", lambda d: ["compile", tiny, "-o", "."])
    add("compile/out-is-root", lambda d: ["compile", tiny, "-o", "/"])
    add("compile/out-newline", lambda d: ["compile", tiny, "-o", "a\nb/O"])
    add("compile/out-non-utf8", lambda d: ["compile", tiny, "-o", os.fsdecode(b"O\xff\xfe")], may_succeed=True,
        check=compiled_ok)
    add("compile/out-ulimit-f", lambda d: ["compile", tiny, "-o", "O"], out_arg="O", ulimit_f=8)
    # ---- compile: --folding ----
    add("compile/folding-dev-zero", lambda d: ["compile", tiny, "-o", "O", "--folding", "/dev/zero"], out_arg="O", timeout=30)
    add("compile/folding-deep", lambda d: (write(d, "f.json", "[" * 100000 + "]" * 100000),
                                           ["compile", tiny, "-o", "O", "--folding", "f.json"])[1], out_arg="O")
    add("compile/folding-not-json", lambda d: (write(d, "f.json", "pe=2"), ["compile", tiny, "-o", "O", "--folding", "f.json"])[1],
        out_arg="O")
    add("compile/folding-list", lambda d: (write(d, "f.json", "[]"), ["compile", tiny, "-o", "O", "--folding", "f.json"])[1],
        out_arg="O")
    for label, value in (("zero", "0"), ("true", "true"), ("inf", "1e400"), ("nan", "NaN"), ("huge", "1" + "0" * 100),
                         ("string", '"2"'), ("negative", "-4")):
        add(f"compile/folding-pe-{label}", lambda d, v=value: (
            write(d, "f.json", '{"layers": {"conv0": {"pe": %s}}}' % v),
            ["compile", tiny, "-o", "O", "--folding", "f.json"])[1], out_arg="O")
    add("compile/folding-unknown-layer", lambda d: (write(d, "f.json", '{"layers": {"zzz": {"pe": 1}}}'),
                                                    ["compile", tiny, "-o", "O", "--folding", "f.json"])[1], out_arg="O")
    add("compile/folding-pe-not-dividing", lambda d: (write(d, "f.json", '{"layers": {"conv0": {"pe": 3}}}'),
                                                      ["compile", tiny, "-o", "O", "--folding", "f.json"])[1], out_arg="O")
    add("compile/folding-non-utf8", lambda d: (write(d, "f.json", b'{"layers": {"\xff": {}}}'),
                                               ["compile", tiny, "-o", "O", "--folding", "f.json"])[1], out_arg="O")
    # ---- compile: --target-fps, --board ----
    for label, value in (("zero", "0"), ("nan", "nan"), ("inf", "inf"), ("negative", "-5"), ("text", "fast")):
        add(f"compile/target-fps-{label}", lambda d, v=value: ["compile", tiny, "-o", "O", "--target-fps", v], out_arg="O")
    add("compile/target-fps-unreachable", lambda d: ["compile", tiny, "-o", "O", "--target-fps", "1e300"], may_succeed=True,
        check=compiled_ok)
    add("compile/board-unknown", lambda d: ["compile", tiny, "-o", "O", "--board", "nope"], out_arg="O")
    add("compile/board-path-escape", lambda d: ["compile", tiny, "-o", "O", "--board", "../boards/pynq-z2"], out_arg="O")
    add("compile/folding-and-target", lambda d: (write(d, "f.json", '{"layers": {}}'),
                                                 ["compile", tiny, "-o", "O", "--folding", "f.json", "--target-fps", "5"])[1],
        out_arg="O")
    # ---- compile: the model's contents ----
    add("compile/conv-kernel-shape-mismatch", lambda d: (mutate_model(fx, d, node_attr("Conv", "kernel_shape", [5, 5])),
                                                         ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/conv-strides-0", lambda d: (mutate_model(fx, d, node_attr("Conv", "strides", [0, 0])),
                                             ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/conv-strides-1-0", lambda d: (mutate_model(fx, d, node_attr("Conv", "strides", [1, 0])),
                                               ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/conv-pads-len2", lambda d: (mutate_model(fx, d, node_attr("Conv", "pads", [1, 1])),
                                             ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/conv-pads-negative", lambda d: (mutate_model(fx, d, node_attr("Conv", "pads", [-1, -1, -1, -1])),
                                                 ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/conv-huge-stride", lambda d: (mutate_model(fx, d, node_attr("Conv", "strides", [2**40, 2**40])),
                                               ["compile", "m.onnx", "-o", "O"])[1], out_arg="O", may_succeed=True,
        check=compiled_ok)
    add("compile/conv-group-0", lambda d: (mutate_model(fx, d, node_attr("Conv", "group", 0)),
                                           ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/maxpool-strides-0", lambda d: (mutate_model(fx, d, node_attr("MaxPool", "strides", [0, 0])),
                                                ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/maxpool-kernel-too-big", lambda d: (mutate_model(fx, d, node_attr("MaxPool", "kernel_shape", [9, 9])),
                                                     ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/maxpool-kernel-3d", lambda d: (mutate_model(fx, d, node_attr("MaxPool", "kernel_shape", [2, 2, 2])),
                                                ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/bn-negative-var", lambda d: (mutate_model(fx, d, init_edit("BatchNormalization", 4, lambda a: -np.abs(a) - 1)),
                                              ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/bn-nan-mean", lambda d: (mutate_model(fx, d, init_edit("BatchNormalization", 3, lambda a: a * np.nan)),
                                          ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/bn-inf-scale", lambda d: (mutate_model(fx, d, init_edit("BatchNormalization", 1, lambda a: a * np.inf)),
                                           ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/conv-weights-nan", lambda d: (mutate_model(fx, d, init_edit("Conv", 1, lambda a: a * np.nan)),
                                               ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    add("compile/unsupported-op", lambda d: (mutate_model(fx, d, lambda m: setattr(
        next(n for n in m.graph.node if n.op_type == "MaxPool"), "op_type", "LpPool")), ["compile", "m.onnx", "-o", "O"])[1],
        out_arg="O")
    add("compile/no-nodes", lambda d: (mutate_model(fx, d, lambda m: m.graph.ClearField("node")),
                                       ["compile", "m.onnx", "-o", "O"])[1], out_arg="O")
    # ---- run ----
    add("run/out-missing", lambda d: ["run", "nope", "--input", x, "-o", "y.npy"])
    add("run/out-empty-dir", lambda d: ((d / "E").mkdir(), ["run", "E", "--input", x, "-o", "y.npy"])[1])
    add("run/out-is-file", lambda d: (write(d, "E", "x"), ["run", "E", "--input", x, "-o", "y.npy"])[1])

    def tamper_mem(d: Path, unlist: bool) -> list[str]:
        out = copy_out(fx, d)
        if unlist:
            man = json.loads((out / "manifest.json").read_text())
            del man["files"]["rtl/dense0_weights.mem"]
            (out / "manifest.json").write_text(json.dumps(man))
        mem = out / "rtl" / "dense0_weights.mem"
        lines = mem.read_text().splitlines()
        lines[0] = lines[0].translate(str.maketrans("0123456789abcdef", "fedcba9876543210"))
        mem.write_text("\n".join(lines) + "\n")
        return ["run", "T", "--input", x, "--engine", "rtl", "-o", "y.npy"]
    add("run/tampered-mem", lambda d: tamper_mem(d, False))
    add("run/tampered-mem-unlisted", lambda d: tamper_mem(d, True))
    add("run/extra-file-in-rtl", lambda d: (write(copy_out(fx, d) / "rtl", "evil.sv", "module x; endmodule\n"),
                                            ["run", "T", "--input", x, "-o", "y.npy"])[1])
    add("run/manifest-deep", lambda d: (write(copy_out(fx, d), "manifest.json", "[" * 100000 + "]" * 100000),
                                        ["run", "T", "--input", x, "-o", "y.npy"])[1])
    add("run/manifest-symlink-dev-zero", lambda d: ((copy_out(fx, d) / "manifest.json").unlink(),
                                                    os.symlink("/dev/zero", d / "T" / "manifest.json"),
                                                    ["run", "T", "--input", x, "-o", "y.npy"])[2], timeout=30)
    add("run/ir-json-garbage", lambda d: (write(copy_out(fx, d), "ir.json", "{"), ["run", "T", "--input", x, "-o", "y.npy"])[1])
    add("run/weights-swapped-symlink", lambda d: ((copy_out(fx, d) / "weights.npz").unlink(),
                                                  os.symlink(fx.out / "weights.npz", d / "T" / "weights.npz"),
                                                  ["run", "T", "--input", x, "-o", "y.npy"])[2])
    add("run/input-missing", lambda d: ["run", T, "--input", "nope.npy", "-o", "y.npy"])
    add("run/input-dev-zero", lambda d: ["run", T, "--input", "/dev/zero", "-o", "y.npy"], timeout=30)

    def header_bomb(d: Path) -> list[str]:
        import io

        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (10**11, 1, 6, 6)})
        write(d, "b.npy", b"\x93NUMPY\x01\x00"[:0] + buf.getvalue() + b"\0" * 64)
        return ["run", T, "--input", "b.npy", "-o", "y.npy"]
    add("run/input-header-bomb", header_bomb)
    add("run/input-complex", lambda d: (npy(d, "c.npy", np.ones((2, 1, 6, 6), np.complex64)),
                                        ["run", T, "--input", "c.npy", "-o", "y.npy"])[1])
    add("run/input-float64-1e300", lambda d: (npy(d, "b.npy", np.full((2, 1, 6, 6), 1e300)),
                                              ["run", T, "--input", "b.npy", "-o", "y.npy"])[1])
    add("run/input-float32-3e38", lambda d: (npy(d, "b.npy", np.full((2, 1, 6, 6), 3e38, np.float32)),
                                             ["run", T, "--input", "b.npy", "-o", "y.npy"])[1], may_succeed=True,
        check=equals_engine(fx, "b.npy"))
    add("run/input-nan", lambda d: (npy(d, "n.npy", np.full((2, 1, 6, 6), np.nan, np.float32)),
                                    ["run", T, "--input", "n.npy", "-o", "y.npy"])[1])
    add("run/input-wrong-shape", lambda d: (npy(d, "s.npy", np.zeros((2, 1, 7, 6), np.float32)),
                                            ["run", T, "--input", "s.npy", "-o", "y.npy"])[1])
    add("run/input-object-pickle", lambda d: (npy(d, "o.npy", np.array([[object()]], dtype=object)),
                                              ["run", T, "--input", "o.npy", "-o", "y.npy"])[1])
    add("run/input-zero-frames", lambda d: (npy(d, "z.npy", np.zeros((0, 1, 6, 6), np.float32)),
                                            ["run", T, "--input", "z.npy", "-o", "y.npy"])[1])
    add("run/input-1d", lambda d: (npy(d, "v.npy", np.zeros(36, np.float32)), ["run", T, "--input", "v.npy", "-o", "y.npy"])[1])
    add("run/input-npz", lambda d: (np.savez(d / "a.npz", x=np.zeros((1, 1, 6, 6))), ["run", T, "--input", "a.npz", "-o", "y.npy"])[1])
    add("run/input-bool", lambda d: (npy(d, "b.npy", np.ones((2, 1, 6, 6), bool)), ["run", T, "--input", "b.npy", "-o", "y.npy"])[1])
    add("run/input-int8", lambda d: (npy(d, "i.npy", np.ones((2, 1, 6, 6), np.int8)),
                                     ["run", T, "--input", "i.npy", "-o", "y.npy"])[1], may_succeed=True,
        check=equals_engine(fx, "i.npy"))
    add("run/input-fortran-order", lambda d: (npy(d, "f.npy", np.asfortranarray(np.load(fx.x))),
                                              ["run", T, "--input", "f.npy", "-o", "y.npy"])[1], may_succeed=True,
        check=equals_ref(fx))
    add("run/input-big-endian", lambda d: (npy(d, "be.npy", np.load(fx.x).astype(">f4")),
                                           ["run", T, "--input", "be.npy", "-o", "y.npy"])[1], may_succeed=True,
        check=equals_ref(fx))
    add("run/output-not-npy", lambda d: ["run", T, "--input", x, "-o", "y.txt"])
    add("run/output-dir-missing", lambda d: ["run", T, "--input", x, "-o", "no/y.npy"])
    add("run/output-is-dir", lambda d: ((d / "y.npy").mkdir(), ["run", T, "--input", x, "-o", "y.npy"])[1])
    add("run/output-symlink", lambda d: (os.symlink("elsewhere.npy", d / "y.npy"), ["run", T, "--input", x, "-o", "y.npy"])[1])
    add("run/output-non-utf8", lambda d: ["run", T, "--input", x, "-o", os.fsdecode(b"y\xff.npy")], may_succeed=True,
        check=lambda d, p: None if np.array_equal(np.load(d / os.fsdecode(b"y\xff.npy")), np.load(fx.base / "ref.npy"))
        else "differs")
    add("run/gap-pct-100", lambda d: ["run", T, "--input", x, "-o", "y.npy", "--engine", "rtl", "--gap-pct", "100"])
    add("run/stall-pct-negative", lambda d: ["run", T, "--input", x, "-o", "y.npy", "--engine", "rtl", "--stall-pct", "-1"])
    add("run/engine-bogus", lambda d: ["run", T, "--input", x, "-o", "y.npy", "--engine", "gpu"])
    add("run/hls-twice-at-once", lambda d: [(copy_out(fx, d), "run")[1], "T", "--input", x, "-o", "y.npy", "--engine", "hls"], may_succeed=True,
        check=equals_ref(fx), parallel=2, timeout=300)
    add("run/rtl-sigkill-during-build", lambda d: (copy_out(fx, d), ["run", "T", "--input", x, "-o", "y.npy", "--engine", "rtl"])[1],
        signal_after=("cc1plus", signal.SIGKILL), timeout=300)
    add("run/rtl-sigterm-during-build", lambda d: (copy_out(fx, d), ["run", "T", "--input", x, "-o", "y.npy", "--engine", "rtl"])[1],
        signal_after=("cc1plus", signal.SIGTERM), timeout=300)
    # ---- report ----
    add("report/out-missing", lambda d: ["report", "nope"])
    add("report/report-json-garbage", lambda d: (write(copy_out(fx, d), "report.json", "{]"), ["report", "T"])[1])
    add("report/report-json-wrong-types", lambda d: (write(copy_out(fx, d), "report.json",
                                                           '{"network": 1, "layers": {}, "layer_order": ["x"]}'),
                                                     ["report", "T"])[1])
    add("report/report-json-deep", lambda d: (write(copy_out(fx, d), "report.json", "{\"a\":" * 50000 + "1" + "}" * 50000),
                                              ["report", "T"])[1])
    add("report/board-unknown", lambda d: (copy_out(fx, d), ["report", "T", "--board", "nope"])[1])
    add("report/jobs-zero", lambda d: (copy_out(fx, d), ["report", "T", "--synth", "--jobs", "0"])[1])
    add("report/html-is-dir", lambda d: ((copy_out(fx, d) / "report.html").mkdir(), ["report", "T"])[1])
    add("report/tampered-ir", lambda d: (write(copy_out(fx, d), "ir.json", (fx.out / "ir.json").read_text() + " "),
                                         ["report", "T"])[1])
    # ---- boards ----
    add("boards/extra-argument", lambda d: ["boards", "pynq-z2"])
    add("boards/unknown-flag", lambda d: ["boards", "--all"])
    add("cli/no-command", lambda d: [])
    add("cli/unknown-command", lambda d: ["frobnicate"])
    # ---- search (all refused before training) ----
    S = ["search", "--dataset", "digits", "--quiet"]
    for label, extra in (("max-minutes-1e30", ["--max-minutes", "1e30"]), ("max-minutes-nan", ["--max-minutes", "nan"]),
                         ("max-minutes-negative", ["--max-minutes", "-1"]), ("seed-negative", ["--seed", "-1"]),
                         ("seed-huge", ["--seed", str(2**70)]), ("depths-zero", ["--depths", "0"]),
                         ("depths-text", ["--depths", "a,b"]), ("depths-empty", ["--depths", ""]),
                         ("workers-zero", ["--workers", "0"]), ("dataset-bogus", ["--dataset", "imagenet"]),
                         ("backend-bogus", ["--backend", "tpu"]), ("gpu-device-bogus", ["--backend", "gpu", "--device", "x"]),
                         ("min-fps-nan", ["--min-fps", "nan"]), ("min-fps-negative", ["--min-fps", "-3"]),
                         ("mlp-input-bits-8", ["--input-bits", "8"]), ("too-short", ["--max-minutes", "0.001"]),
                         ("address-without-ray", ["--address", "x:1"]), ("board-unknown", ["--board", "nope"])):
        add(f"search/{label}", lambda d, e=extra: [*S, "-o", "S", *e], out_arg="S")
    add("search/out-symlink", lambda d: (os.symlink("target", d / "S"), [*S, "-o", "S", "--no-verify"])[1])
    add("search/out-is-file", lambda d: (write(d, "S", "x"), [*S, "-o", "S"])[1])
    # ---- the environment: a full disk, a read-only OUT (tmpfs mounts: root only) ----
    if _can_mount():
        add("compile/out-enospc", lambda d: (_mount(d / "small", "size=64k"), ["compile", tiny, "-o", "small/O"])[1],
            out_arg="small/O", cleanup=lambda d: _umount(d / "small"))
        add("report/read-only-out", lambda d: (_mount(d / "ro", "size=8m"), shutil.copytree(fx.out, d / "ro" / "T"),
                                               _remount_ro(d / "ro"), ["report", "ro/T"])[3],
            cleanup=lambda d: _umount(d / "ro"))
        add("run/read-only-out-rtl", lambda d: (_mount(d / "ro", "size=8m"), shutil.copytree(fx.out, d / "ro" / "T"),
                                                _remount_ro(d / "ro"), ["run", "ro/T", "--input", x, "--engine", "rtl",
                                                                        "-o", "y.npy"])[3],
            cleanup=lambda d: _umount(d / "ro"))
        add("search/out-read-only", lambda d: (_mount(d / "ro", "size=1m"), _remount_ro(d / "ro"),
                                               [*S, "-o", "ro/S", "--no-verify", "--max-minutes", "0.2"])[2],
            cleanup=lambda d: _umount(d / "ro"))
    add("run/sim-is-symlink", lambda d: (copy_out(fx, d), (d / "elsewhere").mkdir(), os.symlink(d / "elsewhere", d / "T" / "sim"),
                                         ["run", "T", "--input", x, "--engine", "hls", "-o", "y.npy"])[3])
    add("run/input-is-json", lambda d: ["run", T, "--input", str(fx.out / "manifest.json"), "-o", "y.npy"])
    add("run/c-locale-non-utf8-output", lambda d: ["run", T, "--input", x, "-o", os.fsdecode(b"y\xe9.npy")],
        env_extra={"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}, may_succeed=True,
        check=lambda d, p: None if np.array_equal(np.load(d / os.fsdecode(b"y\xe9.npy")), np.load(fx.base / "ref.npy"))
        else "differs")
    add("run/c-locale-non-utf8-error", lambda d: ["run", os.fsdecode(b"n\xe9"), "--input", x, "-o", "y.npy"],
        env_extra={"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"})
    add("compile/stdout-closed", lambda d: ["compile", tiny, "-o", "O"], close_stdout=True, may_succeed=True,
        check=compiled_ok)
    add("report/stdout-closed", lambda d: (copy_out(fx, d), ["report", "T"])[1], close_stdout=True, may_succeed=True)
    # ---- demo ----
    add("demo/seconds-1e30", lambda d: ["demo", "-o", "D", "--seconds", "1e30"], out_arg="D")
    add("demo/seconds-nan", lambda d: ["demo", "-o", "D", "--seconds", "nan"], out_arg="D")
    add("demo/no-rtl-without-residual", lambda d: ["demo", "-o", "D", "--no-rtl"], out_arg="D")
    return C


def _can_mount() -> bool:
    if os.geteuid() != 0:
        return False
    probe = Path(tempfile.mkdtemp(prefix="bnn2hls-sweep-mount-"))
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(probe)], capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", str(probe)], capture_output=True)
        return ok
    finally:
        probe.rmdir()


def _mount(path: Path, options: str) -> None:
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True, capture_output=True)


def _remount_ro(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


# -- running a case -------------------------------------------------------------------------------
def _session_members(sid: int) -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of stat: session id
                found.append((int(entry), Path(f"/proc/{entry}/comm").read_text().strip()))
        except (OSError, ValueError, IndexError):
            pass
    return found


def _descendants_named(pid: int, name: str) -> bool:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                kids.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(entry))
            except (OSError, ValueError):
                pass
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            if Path(f"/proc/{p}/comm").read_text().strip() == name:
                return True
        except OSError:
            pass
        stack.extend(kids.get(p, []))
    return False


def _lexists(path: Path) -> bool:
    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False


def run_case(case: Case, fx: Fixtures, workdir: Path) -> tuple[bool, str]:
    d = workdir / case.name.replace("/", "__")
    d.mkdir(parents=True)
    argv = case.setup(d)
    existed = case.out_arg is not None and _lexists(d / case.out_arg)
    cmd = [PY, "-m", "bnn2hls", *argv]
    preexec = None
    if case.ulimit_f is not None:
        import resource

        def preexec() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (case.ulimit_f * 1024, case.ulimit_f * 1024))
    try:
        return _run_case(case, fx, d, argv, existed, cmd, preexec)
    finally:
        if case.cleanup is not None:
            case.cleanup(d)


def _run_case(case: Case, fx: Fixtures, d: Path, argv: list[str], existed: bool, cmd: list[str],
              preexec: Callable[[], None] | None) -> tuple[bool, str]:
    procs = [subprocess.Popen(cmd, cwd=d, env={**env(), **case.env_extra}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                              preexec_fn=preexec) for _ in range(case.parallel)]
    problems: list[str] = []
    if case.close_stdout:
        for p in procs:
            assert p.stdout is not None
            p.stdout.close()
            p.stdout = None
    if case.signal_after is not None:
        name, sig = case.signal_after
        deadline = time.time() + case.timeout
        while time.time() < deadline and procs[0].poll() is None and not _descendants_named(procs[0].pid, name):
            time.sleep(0.1)
        procs[0].send_signal(sig)
    results = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=case.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            problems.append(f"timed out after {case.timeout:.0f} s")
        results.append(subprocess.CompletedProcess(cmd, p.returncode, (out or b"").decode(errors="replace"),
                                                   err.decode(errors="replace")))
    time.sleep(0.3)
    for p in procs:
        left = _session_members(p.pid)
        if left:
            problems.append(f"left running: {left}")
            for pid, _ in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
    for r in results:
        if "Traceback" in r.stderr:
            problems.append("traceback: " + r.stderr.strip().splitlines()[-1])
        elif case.signal_after is not None:
            sig = case.signal_after[1]
            if r.returncode not in (-sig, 128 + sig, 130, 143):
                problems.append(f"exit {r.returncode} after signal {sig}")
            if r.stderr.strip() and not (len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error: ")):
                problems.append(f"stderr not one error line: {r.stderr.strip()!r}")
        elif r.returncode == 2:
            lines = r.stderr.strip("\n").split("\n")
            if len(lines) != 1 or not lines[0].startswith("error: "):
                problems.append(f"stderr is not one error line: {r.stderr!r}")
        elif case.close_stdout and r.returncode == 141 and not r.stderr:
            pass  # a closed stdout ends the command quietly
        elif r.returncode == 0 and case.may_succeed:
            why = case.check(d, r) if case.check else None
            if why:
                problems.append(f"exit 0 but {why}")
        else:
            problems.append(f"exit {r.returncode}: {(r.stderr.strip().splitlines() or [''])[-1]}")
    for leftover in list(d.rglob(".bnn2hls-tmp-*")) + list(d.rglob(".bnn2hls-old-*")):
        problems.append(f"left {leftover.relative_to(d)}")
    if case.out_arg is not None and not existed and any(r.returncode != 0 for r in results) and _lexists(d / case.out_arg):
        problems.append(f"a failed run left {case.out_arg}")
    first = results[0]
    said = (first.stderr.strip().splitlines() or first.stdout.strip().splitlines() or [""])[-1]
    return not problems, "; ".join(problems) if problems else f"exit {first.returncode}: {said[:150]}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    ap.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bnn2hls-sweep-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        fx = make_fixtures(base)
        selected = [c for c in cases(fx) if args.only in c.name]
        held, failed = [], []
        for case in selected:
            ok, note = run_case(case, fx, base / "cases")
            (held if ok else failed).append(case.name)
            print(f"{'held  ' if ok else 'FAILED'} {case.name:<40} {note}", flush=True)
        print(f"\n{len(selected)} cases: {len(held)} held, {len(failed)} failed")
        for name in failed:
            print(f"  failed: {name}")
        return 1 if failed else 0
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
