"""compile: source model -> OUT directory (ir.json, weights.npz, source.onnx, report.json,
rtl/ with the generated Verilog, hls/ with the generated HLS C++, and with --board a
project/ for that board).

OUT is built in a temporary sibling directory and renamed into place at the very end, so a
failure never leaves a partial OUT behind. Everything written is byte-deterministic.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import onnx

from . import fit, ir, report
from .backends import hls as hls_backend
from .backends import project
from .backends import rtl as rtl_backend
from .boards import Board, load_board
from .errors import UserError
from .frontend.onnx_import import import_model, load_model, model_digest
from .passes import apply_folding_spec, fold_parallelism, fold_thresholds, resolve_padding
from .passes.thresholds import tie_warnings

DEFAULT_CLOCK_MHZ = 100.0
SOURCE_MODEL = "source.onnx"


def build_network(model: onnx.ModelProto, name: str, folding: dict[str, Any] | None = None,
                  target_fps: float | None = None, clock_mhz: float = DEFAULT_CLOCK_MHZ,
                  board: Board | None = None) -> ir.Network:
    """The whole front half: import, fold thresholds, resolve padding, choose folding (with a
    board, `target_fps` must be reachable within its budget)."""
    if folding is not None and target_fps is not None:
        raise UserError("--folding and --target-fps are mutually exclusive")
    net = import_model(model, name)
    # Read before folding: the check evaluates the layers' float chains.
    warnings = list(tie_warnings(net))
    net = fold_thresholds(net)
    net = resolve_padding(net)
    if folding is not None:
        net = apply_folding_spec(net, folding)
    elif target_fps is not None:
        if not target_fps > 0:
            raise UserError("--target-fps must be positive")
        if board is not None:
            net = fit.fold_within_budget(net, target_fps, clock_mhz, board)
        else:
            net = fold_parallelism(net, int(clock_mhz * 1e6 // target_fps))
    # `warnings`: where the network cannot equal its source bit for bit (compile prints them).
    net = ir.Network(name=net.name, layers=net.layers, source={"sha256": model_digest(model), "warnings": warnings})
    return ir.validate(net)


OUTPUT_MARKER = "ir.json"  # a directory holding it is ours to replace


@contextmanager
def atomic_output_dir(out: Path) -> Iterator[Path]:
    """Yield a temporary directory that becomes `out` only if the block succeeds.

    An existing `out` is replaced only if it is empty or a previous bnn2hls output; it is
    moved aside before the swap and deleted after it, so `out` is never half-written.
    """
    out = Path(out).resolve()
    parent = out.parent
    if not parent.is_dir():
        raise UserError(f"-o {out}: parent directory {parent} does not exist")
    if out.exists():
        if not out.is_dir():
            raise UserError(f"-o {out}: exists and is not a directory")
        if any(out.iterdir()) and not (out / OUTPUT_MARKER).is_file():
            raise UserError(f"-o {out}: a non-empty directory that is not a bnn2hls output; refusing to replace it")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    old = parent / f"{tmp.name}.old"
    try:
        yield tmp
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; outputs are ordinary directories
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    finally:
        for leftover in (tmp, old):
            if leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_output(net: ir.Network, model: onnx.ModelProto, out: Path, board: Board | None = None) -> None:
    clock_mhz = board.clock_mhz if board is not None else DEFAULT_CLOCK_MHZ
    with atomic_output_dir(out) as tmp:
        ir.save(net, tmp)
        # Keep the source model (weights inlined) so `run --engine onnx` needs nothing else.
        (tmp / SOURCE_MODEL).write_bytes(model.SerializeToString(deterministic=True))
        stream = rtl_backend.generate(net, tmp / "rtl")
        hls_backend.generate(net, tmp / "hls")
        if board is not None:
            project.generate(net, board, tmp / "project", stream.to_dict())
        doc = report.build_report(net, clock_mhz, board)
        report.save(doc, tmp)


def compile_file(model_path: Path, out: Path, folding: dict[str, Any] | None = None,
                 target_fps: float | None = None, board: str | None = None) -> ir.Network:
    target = load_board(board) if board is not None else None  # an unknown board fails first
    model = load_model(model_path)
    clock = target.clock_mhz if target is not None else DEFAULT_CLOCK_MHZ
    net = build_network(model, Path(model_path).stem, folding=folding, target_fps=target_fps, clock_mhz=clock, board=target)
    write_output(net, model, out, target)
    return net


def load_source_model(out: Path) -> onnx.ModelProto:
    path = Path(out) / SOURCE_MODEL
    if not path.is_file():
        raise UserError(f"{out}: not a compiled output (no {SOURCE_MODEL})")
    return load_model(path)
