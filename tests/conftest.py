"""Shared fixtures: real Brevitas exports of the zoo networks, made once per test session."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bnn2hls import zoo
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.frontend.torch_export import export_qonnx


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="session")
def exported(export_dir):
    """name -> (path to QONNX file, torch module); exported on first use."""
    cache: dict[str, tuple[Path, object]] = {}

    def get(name: str, seed: int = 0):
        key = f"{name}_{seed}"
        if key not in cache:
            module, example = zoo.build(name, seed)
            path = export_qonnx(module, example, export_dir / f"{key}.onnx")
            cache[key] = (path, module)
        return cache[key]

    return get


def random_inputs(model_path: Path, n: int, seed: int = 1) -> np.ndarray:
    model = load_model(model_path)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return np.random.default_rng(seed).random((n, *dims[1:]), dtype=np.float32)
