"""The generated network top: lint-clean under `verilator --lint-only -Wall`, deterministic,
and self-contained in OUT/rtl (filelist, blocks, memory files)."""
from __future__ import annotations

import subprocess

import pytest

from bnn2hls import cli
from bnn2hls.engines.toolchain import verilator_env

pytestmark = pytest.mark.tier("rtl")


@pytest.mark.parametrize("name", ["CNV_1W1A", "padnet", "oddnet", "altpadnet", "TFC_1W1A"])
def test_generated_top_is_lint_clean(name, exported, tmp_path):
    path, _ = exported(name)
    assert cli.main(["compile", str(path), "-o", str(tmp_path / "out")]) == 0
    rtl = tmp_path / "out" / "rtl"
    files = (rtl / "files.f").read_text().split()
    assert all((rtl / f).is_file() for f in files) and files[-1] == "bnn_top.sv"
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", *files, "--top-module", "bnn_top"],
                          cwd=rtl, capture_output=True, text=True, env=verilator_env())
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr
    for mem in rtl.glob("*.mem"):
        assert mem.read_text().strip(), mem
