"""Export a torch/Brevitas module to QONNX with Brevitas' own exporter."""
from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import torch

from ..errors import UserError


def export_qonnx(module: torch.nn.Module, example_input: torch.Tensor, path: Path) -> Path:
    """Write `path` (+ `path.data` with the weights) and return it."""
    from brevitas.export import export_qonnx as brevitas_export

    path = Path(path)
    was_training = module.training
    module.eval()
    # The dynamo exporter narrates its progress on stdout and logs missing torchvision ops;
    # keep our output ours.
    torch_logger = logging.getLogger("torch.onnx")
    level = torch_logger.level
    torch_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            brevitas_export(module, example_input, str(path))
    except Exception as exc:
        raise UserError(f"Brevitas export failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    finally:
        torch_logger.setLevel(level)
        module.train(was_training)
    return path
