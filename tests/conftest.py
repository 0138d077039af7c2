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


# Test tiers (`make test-unit`, `make test-rtl`, `make test-e2e`), one marker per test, set here by
# file so that a new file gets its tier in this one place; a file not listed is e2e.
#   unit: no Verilator, g++ or yosys (passes, IR, importer, reference, cost model, search logic, CLI errors)
#   rtl:  block benches (Verilator, g++) and generated tops, and anything else running Verilator or yosys
#   e2e:  whole networks through the CLI and its engines (rtl/hls included), boards and projects, search runs
TIERS = {
    "unit": ("test_passes.py", "test_ir_and_outputs.py", "test_hw_graph.py", "test_cost_backends.py",
             "test_cli_errors.py", "test_report_cli.py", "test_synth_cost.py", "test_search.py",
             "test_search_candidates.py", "test_search_robustness.py", "test_docs.py", "test_graph_ir.py", "test_residual.py",
             "test_search_cnn.py"),
    "rtl": ("rtl/test_residual.py", "rtl/test_ecp5_outreg.py", "rtl/test_blocks.py", "rtl/test_mvau.py", "rtl/test_vvau.py", "rtl/test_swg_maxpool.py",
            "rtl/test_sumpool.py", "rtl/test_generated_top.py", "test_hls_blocks.py"),
    "e2e": ("test_end_to_end.py", "test_generated_nets.py", "test_multibit.py", "test_property_brevitas.py",
            "test_user_models.py", "test_artifacts.py", "test_depthwise.py", "test_hls.py", "test_boards_projects.py",
            "test_topologies.py", "rtl/test_network_rtl.py", "test_pooling.py"),
}
# Single tests that leave their file's tier ("file::function").
TEST_TIERS = {
    "test_residual.py::test_resnet_style_through_every_engine": "e2e",  # Verilator and g++ builds
    "test_search.py::test_search_cli_writes_results_and_resumes": "e2e",  # a whole (small) search through the CLI
    "test_search_cnn.py::test_cnn_search_on_digits": "e2e",
    "test_search_cnn.py::test_cnn_search_verifies_the_winner_on_the_fpga": "e2e",
    "test_pooling.py::test_quantizer_after_pool_reference": "unit",
    "test_pooling.py::test_mean_keepdim_and_global_average_pool": "unit",
    "test_pooling.py::test_refused_forms": "unit",
    "test_pooling.py::test_head_pool_ir_roundtrip": "unit",
    "test_pooling.py::test_pool_tie_warning": "unit",
    "test_pooling.py::test_board_driver_reads_the_pooled_sums": "unit",
    "test_report_cli.py::test_report_synth_measures_with_yosys": "rtl",
    "test_synth_cost.py::test_synthesize_small_network_counts_and_cache": "rtl",
    "test_synth_cost.py::test_estimate_within_20pct_of_yosys_on_a_small_network": "rtl",
    "test_synth_cost.py::test_report_html_with_synth": "rtl",
    "test_synth_cost.py::test_layer_wrappers_match_network_synthesis": "rtl",
    "test_synth_cost.py::test_synthesize_open_families": "rtl",
    "test_depthwise.py::test_estimate_within_20pct_of_yosys_on_a_depthwise_net": "rtl",
    "test_depthwise.py::test_border_correction_per_channel": "unit",
    "test_depthwise.py::test_validate_refuses_a_depthwise_conv_changing_the_channel_count": "unit",
    "test_depthwise.py::test_pool_before_activation_feeding_a_depthwise_conv": "unit",
    "test_depthwise.py::test_other_groupings_are_refused_with_one_line": "unit",
    "test_depthwise.py::test_folding_presets_and_target_choose_channels_and_taps": "unit",
}
_FILE_TIER = {name: tier for tier, names in TIERS.items() for name in names}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        path = Path(item.path)
        name = path.relative_to(here).as_posix() if path.is_relative_to(here) else path.name
        tier = TEST_TIERS.get(f"{name}::{getattr(item, 'originalname', item.name)}") or _FILE_TIER.get(name, "e2e")
        item.add_marker(tier)
