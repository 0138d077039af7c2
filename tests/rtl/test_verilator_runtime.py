"""Verilator's run-time objects are compiled by the first build of a configuration and reused
by the next (bnn2hls/engines/verilator_runtime.py): a bench built from the cache still passes."""
from __future__ import annotations

import pytest

from bnn2hls.engines import verilator_runtime
from sim.runner import rtl_source, run_bench

pytestmark = pytest.mark.tier("rtl")


def test_second_build_links_the_first_builds_runtime_objects(tmp_path, monkeypatch):
    monkeypatch.setattr(verilator_runtime, "cache_root", lambda: tmp_path / "cache")
    run_bench("bnn_fifo", [rtl_source("bnn_in_queue.sv"), rtl_source("bnn_fifo.sv")], "bench_fifo", {"WIDTH": 3, "DEPTH": 2}, tmp_path / "a",
              extra_env={"FIFO_CAPACITY": "2"})
    (stored,) = (tmp_path / "cache").iterdir()
    names = {p.name for p in stored.iterdir()}
    assert {"verilated.o", "verilated_vpi.o"} <= names
    (first,) = (tmp_path / "a").iterdir()
    assert (first / "verilated.d").is_file()  # compiled here: g++ -MMD wrote its dependencies

    run_bench("bnn_fifo", [rtl_source("bnn_in_queue.sv"), rtl_source("bnn_fifo.sv")], "bench_fifo", {"WIDTH": 4, "DEPTH": 3}, tmp_path / "b",
              extra_env={"FIFO_CAPACITY": "7"})
    (second,) = (tmp_path / "b").iterdir()
    assert {p.name for p in second.glob("verilated*.o")} == names
    assert not (second / "verilated.d").exists()  # linked from the cache, not compiled
    assert (second / "bnn_fifo").is_file()
