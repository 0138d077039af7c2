"""bnn2hls: trained binarized neural networks -> verified streaming FPGA accelerators."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

__version__ = "0.1.0"

from .errors import UserError  # noqa: E402


def compile(module: Any, example_input: Any, out: str | Path | None = None, *,
            folding: dict[str, Any] | None = None, target_fps: float | None = None, board: str | None = None):
    """Compile a torch/Brevitas module: export it to QONNX, then the same path as `bnn2hls
    compile` (import, fold, check the board budget; with `out`, write the compiled output
    directory). Returns the compiled `ir.Network`; its `source["warnings"]` lists what
    `compile` prints as warnings, `source["ties"]` the float ties per layer (as report.json)."""
    from .flow.compiler import compile_model
    from .frontend.onnx_import import load_model
    from .frontend.torch_export import export_qonnx

    with tempfile.TemporaryDirectory(prefix="bnn2hls-export-") as tmp:
        path = export_qonnx(module, example_input, Path(tmp) / "model.onnx")
        model = load_model(path)
    return compile_model(model, type(module).__name__, None if out is None else Path(out), folding=folding,
                         target_fps=target_fps, board=board)


def __getattr__(name: str) -> Any:
    # The torch module users put in their own models (bnn2hls.models.nn), imported on first use so
    # that `import bnn2hls` stays light.
    if name == "AlternatingPad2d":
        from .models.nn import AlternatingPad2d
        return AlternatingPad2d
    raise AttributeError(f"module 'bnn2hls' has no attribute {name!r}")


__all__ = ["compile", "AlternatingPad2d", "UserError", "__version__"]
