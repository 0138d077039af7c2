"""The `concat` block kind (bnn2hls/hw/blocks/concat.py) on its own, before an IR op lowers to
it: parameters and vectors from its input streams, the refusal of mixed element widths, its
cycles, its cost features (against yosys, slow), and its RTL instance (rendered by
hw/verilog.py into a wrapper module, linted with Verilator against hls_lib/rtl/bnn_concat.sv).

`CatNode` stands for the IR node (what the block reads of it: name, out_shape); the streams
and everything else are the real ones."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest

from bnn2hls.cost_model import estimate_block, features
from bnn2hls.errors import UserError
from bnn2hls.hw import lower
from bnn2hls.hw.blocks import ConcatBlock, by_module, hls_library, rtl_library
from bnn2hls.hw.blocks.base import Stream
from bnn2hls.hw.verilog import render
from bnn2hls.synth import Unit, run_unit
from bnn2hls.toolchain import verilator_env
from sim.runner import rtl_source

from .residual_nets import residual_conv_net


@dataclass(frozen=True)
class CatNode:
    name: str
    out_shape: tuple[int, int, int]


def streams(b: int, cs: tuple[int, ...]) -> list[Stream]:
    return [Stream(f"p{i}", "fifo", c * b, b, f"operand {i}") for i, c in enumerate(cs)]


def test_make_reads_the_channels_off_the_streams():
    block = ConcatBlock.make(CatNode("cat", (5, 6, 10)), streams(2, (3, 4, 3)))
    assert block.params == {"N": 3, "B": 2, "CT": 10, "C0": 3, "C1": 4, "C2": 3}
    assert block.vectors == {"CS": [3, 4, 3], "PIXELS": 30}
    assert (block.output.width, block.output.elem_bits, block.output.name) == (20, 2, "cat_out")
    assert [s.name for s in block.inputs] == ["p0_fifo", "p1_fifo", "p2_fifo"]
    assert block.in_ports() == [("s", block.inputs)]
    assert block.rtl_params() == [("N", 3), ("B", 2), ("CT", 10), ("CS", "48'h300040003")]
    assert ConcatBlock.layer_cycles(block.layer) == {"concat": 30} and ConcatBlock.layer_interval(block.layer) == 30
    assert by_module("bnn_concat") is ConcatBlock
    assert "bnn_concat.sv" in rtl_library() and "bnn_concat.h" in hls_library()


def test_mixed_element_widths_are_refused_naming_the_node():
    with pytest.raises(UserError, match=r"node 'cat': concatenates streams of 1 and 2-bit elements"):
        ConcatBlock.make(CatNode("cat", (2, 2, 5)), [*streams(1, (3,)), *streams(2, (2,))])


def test_cost_features_one_queue_per_operand():
    block = ConcatBlock.make(CatNode("cat", (4, 4, 34)), streams(1, (2, 32)))
    f = features("bnn_concat", block.params)
    # a 2 x 2 queue stays in flip-flops, a 2 x 32 one goes to LUTRAM (yosys' choice too)
    assert f.memories == {"in_queue_0": "logic", "in_queue_1": "lutram"}
    assert f.ff["regs"] == 34 + 1 and f.ff["ram_ff"] == 4 and f.lut["adder"] == 6
    est = estimate_block(block)
    assert est.kind == "join" and est.lutram == 24 and est.ff == 34 + 1 + 4 + 7


def wrapper(block) -> str:
    graph = lower(residual_conv_net("identity"))  # any real graph: the wrapper takes its name
    return render(graph, [block], module="concat_unit")


# (B, channels per operand) -> yosys xc7 (LUT, LUTRAM, FF) measured at the commit that set the
# features: the estimate's LUTRAM and FF equal them, its LUTs are within 3
@pytest.mark.slow
@pytest.mark.parametrize("b, cs", [(1, (3, 5)), (2, (3, 3, 3, 3, 3)), (1, (16, 48))])
def test_estimate_matches_yosys(b, cs, tmp_path):
    block = ConcatBlock.make(CatNode("cat", (4, 4, sum(cs))), streams(b, cs))
    unit = Unit("cat", "concat_unit", {"concat_unit.sv": wrapper(block),
                                       "bnn_concat.sv": rtl_source("bnn_concat.sv").read_text()}, {}, {"u_cat": "cat"})
    got = run_unit(unit, tmp_path, "xc7", timeout=600).total
    est = estimate_block(block)
    assert (est.lutram, est.ff) == (got.lutram, got.ff) and abs(est.lut - got.lut) <= 3, (est, got)


def test_rtl_instance_lints_in_a_wrapper(tmp_path):
    block = ConcatBlock.make(CatNode("cat", (3, 3, 9)), streams(2, (2, 5, 2)))
    text = wrapper(block)
    assert "bnn_concat #(" in text and ".CS(48'h200050002)" in text
    assert ".s_tdata({p2_fifo_tdata, p1_fifo_tdata, p0_fifo_tdata})" in text
    (tmp_path / "concat_unit.sv").write_text(text)
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", str(tmp_path / "concat_unit.sv"),
                           str(rtl_source("bnn_concat.sv")), "--top-module", "concat_unit"],
                          capture_output=True, text=True, env=verilator_env())
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr
