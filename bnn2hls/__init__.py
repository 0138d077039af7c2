"""bnn2hls: trained binarized neural networks -> verified streaming FPGA accelerators."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

__version__ = "0.1.0"

from .errors import UserError  # noqa: E402


def compile(module: Any, example_input: Any, out: str | Path | None = None, *,
            folding: dict[str, Any] | None = None, target_fps: float | None = None, board: str | None = None):
    """Compile a torch/Brevitas module: export it to QONNX, import, fold, and (with `out`)
    write the compiled output directory. Returns the compiled `ir.Network`."""
    from .boards import load_board
    from .compiler import DEFAULT_CLOCK_MHZ, build_network, write_output
    from .frontend.onnx_import import load_model
    from .frontend.torch_export import export_qonnx

    with tempfile.TemporaryDirectory(prefix="bnn2hls-export-") as tmp:
        path = export_qonnx(module, example_input, Path(tmp) / "model.onnx")
        model = load_model(path)
    target = load_board(board) if board is not None else None
    clock = target.clock_mhz if target is not None else DEFAULT_CLOCK_MHZ
    net = build_network(model, type(module).__name__, folding=folding, target_fps=target_fps, clock_mhz=clock)
    if out is not None:
        write_output(net, model, Path(out), target)
    return net


__all__ = ["compile", "UserError", "__version__"]
