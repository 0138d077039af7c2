"""Acceptance: the reference engine equals the QONNX executor running the source model, on the
BNN-PYNQ topologies with randomized BatchNorm statistics and on our padded/strided/odd nets
(zero padding, the FBNA pattern, per-channel scales), through the real CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bnn2hls import cli
from bnn2hls.models import zoo

from .conftest import random_inputs

pytestmark = pytest.mark.tier("e2e")

FRAMES = 32


def compile_and_run(path, out, tmp_path, n=FRAMES, seed=1):
    x = random_inputs(path, n, seed)
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["compile", str(path), "-o", str(out)]) == 0
    results = {}
    for engine in ("ref", "onnx"):
        y_path = tmp_path / f"y_{engine}.npy"
        assert cli.main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--engine", engine, "-o", str(y_path)]) == 0
        results[engine] = np.load(y_path)
    return x, results


@pytest.mark.parametrize("name", zoo.ALL)
def test_reference_equals_qonnx_executor(name, exported, tmp_path):
    path, module = exported(name)
    x, y = compile_and_run(path, tmp_path / "out", tmp_path)
    assert y["ref"].dtype == np.float32 and y["ref"].shape == y["onnx"].shape
    assert y["ref"].shape[0] == FRAMES
    np.testing.assert_allclose(y["ref"], y["onnx"], rtol=1e-5, atol=1e-5)
    assert np.array_equal(y["ref"].argmax(1), y["onnx"].argmax(1))
    # The outputs must actually vary with the input, or the comparison proves little.
    assert len({tuple(row) for row in y["ref"].round(4)}) > 1
    with torch.no_grad():
        y_torch = module(torch.from_numpy(x)).numpy().reshape(len(x), -1)
    np.testing.assert_allclose(y["ref"], y_torch, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["padnet", "oddnet"])
@pytest.mark.parametrize("seed", [1, 2])
def test_other_seeds(name, seed, exported, tmp_path):
    path, _ = exported(name, seed)
    _, y = compile_and_run(path, tmp_path / "out", tmp_path, seed=seed)
    np.testing.assert_allclose(y["ref"], y["onnx"], rtol=1e-5, atol=1e-5)


def test_python_api_compiles_a_module(tmp_path):
    import bnn2hls
    from bnn2hls import reference

    module, example = zoo.build("oddnet", seed=3)
    net = bnn2hls.compile(module, example, tmp_path / "out")
    assert (tmp_path / "out" / "ir.json").is_file()
    x = np.random.default_rng(0).random((8, *example.shape[1:]), dtype=np.float32)
    with torch.no_grad():
        expect = module(torch.from_numpy(x)).numpy().reshape(8, -1)
    np.testing.assert_allclose(reference.run(net, x), expect, rtol=1e-4, atol=1e-4)


def test_python_api_takes_the_cli_path_with_a_board(tmp_path, exported):
    """bnn2hls.compile(board=...) checks the budget and writes the board project as
    `bnn2hls compile --board` does (it used to drop the board)."""
    import bnn2hls
    from bnn2hls.errors import UserError

    # TFC fits the iCE40 UP5K folded (its estimate in the UP5K's LUT4 sites), not at 1e5 frames/s
    tfc, tfc_example = zoo.build("TFC_1W1A", seed=0)
    with pytest.raises(UserError, match="fastest"):
        bnn2hls.compile(tfc, tfc_example, tmp_path / "over", target_fps=1e5, board="icebreaker")
    assert not (tmp_path / "over").exists()
    module, example = zoo.build("padnet", seed=0)
    bnn2hls.compile(module, example, tmp_path / "out", board="pynq-z2")
    path, _ = exported("padnet", 0)
    assert cli.main(["compile", str(path), "-o", str(tmp_path / "cli"), "--board", "pynq-z2"]) == 0
    api, via_cli = (json.loads((tmp_path / d / "report.json").read_text()) for d in ("out", "cli"))
    assert (tmp_path / "out" / "project" / "driver.py").is_file()
    assert api["board"]["name"] == via_cli["board"]["name"] == "pynq-z2"
    for key in ("est_lut_total", "est_ff", "est_bram18", "est_cycles_per_frame"):
        assert api["network"][key] == via_cli["network"][key]
