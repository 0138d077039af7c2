"""Shared fixtures: real Brevitas exports of the zoo networks, made once per test session."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bnn2hls.models import zoo
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


# Test tiers (`make test-unit`, `make test-rtl`, `make test-e2e`): every test file declares its
# tier with `pytestmark = pytest.mark.tier("unit" | "rtl" | "e2e")`, and a single test that leaves
# its file's tier says so with its own `@pytest.mark.tier(...)` (the closest one wins).
#   unit: no Verilator, g++ or yosys (passes, IR, importer, reference, cost model, search logic, CLI errors)
#   rtl:  block benches (Verilator, g++) and generated tops, and anything else running Verilator or yosys
#   e2e:  whole networks through the CLI and its engines (rtl/hls included), boards and projects, search runs
TIERS = ("unit", "rtl", "e2e")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker("tier")
        if marker is None or len(marker.args) != 1 or marker.args[0] not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: its file needs `pytestmark = pytest.mark.tier(...)`, one of {TIERS}")
        item.add_marker(marker.args[0])
