"""The built wheel is the product: `pip wheel .` installed into a fresh virtualenv outside the
checkout compiles a network and runs it through Verilator, with nothing from the checkout on
the path (an earlier wheel lacked bnn2hls/hw and could not compile anything)."""
from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.tier("e2e")

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_wheel_installs_into_a_fresh_venv_and_compiles_and_simulates(tmp_path):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT)],
         cwd=tmp_path)
    wheel = next(dist.glob("bnn2hls-*.whl"))

    # A fresh venv whose dependencies (torch, brevitas, verilator, ...) come from the test's own
    # environment through a .pth line: a plain directory on sys.path, so the editable install's
    # finder there is not run and the only bnn2hls is the wheel's.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    site = Path(_run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp_path).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)], cwd=tmp_path)
    python = str(venv / "bin" / "python")

    where = _run([python, "-c", "import bnn2hls; print(bnn2hls.__file__)"], cwd=tmp_path).stdout.strip()
    assert where.startswith(str(site)), where

    work = tmp_path / "work"
    work.mkdir()
    export = ("import torch, numpy as np\n"
              "from bnn2hls.models import zoo\n"
              "from bnn2hls.frontend.torch_export import export_qonnx\n"
              "module, example = zoo.build('TFC_1W1A', 0)\n"
              "export_qonnx(module, example, 'tfc.onnx')\n"
              "np.save('x.npy', np.random.default_rng(1).random((4, 1, 28, 28), dtype=np.float32))\n")
    _run([python, "-c", export], cwd=work)
    _run([python, "-m", "bnn2hls", "compile", "tfc.onnx", "-o", "out"], cwd=work)
    for engine in ("ref", "rtl"):
        _run([python, "-m", "bnn2hls", "run", "out", "--input", "x.npy", "--engine", engine, "-o", f"y_{engine}.npy"],
             cwd=work)
    assert np.array_equal(np.load(work / "y_rtl.npy"), np.load(work / "y_ref.npy"))
