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

from bnn2hls.engines.toolchain import verilator_env
from bnn2hls.errors import UserError
from bnn2hls.estimate.cost_model import RESET_COPY_FF, estimate_block, features
from bnn2hls.estimate.synth import Unit, run_unit
from bnn2hls.hw import lower
from bnn2hls.hw.blocks import ConcatBlock, by_module, hls_library, rtl_library
from bnn2hls.hw.blocks.base import Stream
from bnn2hls.hw.blocks.concat import out_bits
from bnn2hls.hw.verilog import render
from sim.runner import rtl_source

from .residual_nets import residual_conv_net

pytestmark = pytest.mark.tier("unit")


@dataclass(frozen=True)
class CatNode:
    name: str
    out_shape: tuple[int, int, int]


def streams(b: int, cs: tuple[int, ...]) -> list[Stream]:
    return [Stream(f"p{i}", "fifo", c * b, b, f"operand {i}") for i, c in enumerate(cs)]


def test_make_reads_the_channels_off_the_streams():
    block = ConcatBlock.make(CatNode("cat", (5, 6, 10)), streams(2, (3, 4, 3)))
    assert block.params == {"N": 3, "CT": 10, "IW": 20, "BO": 2, "C0": 3, "C1": 4, "C2": 3, "B0": 2, "B1": 2, "B2": 2,
                            "S0": 0, "S1": 0, "S2": 0}
    assert block.vectors == {"CS": [3, 4, 3], "BS": [2, 2, 2], "SS": [0, 0, 0], "PIXELS": 30}
    assert (block.output.width, block.output.elem_bits, block.output.name) == (20, 2, "cat_out")
    assert [s.name for s in block.inputs] == ["p0_fifo", "p1_fifo", "p2_fifo"]
    assert block.in_ports() == [("s", block.inputs)]
    assert block.rtl_params() == [("N", 3), ("CT", 10), ("IW", 20), ("BO", 2), ("CS", "48'h300040003"),
                                  ("BS", "24'h20202"), ("SS", "24'h0")]
    assert ConcatBlock.layer_cycles(block.layer) == {"concat": 30} and ConcatBlock.layer_interval(block.layer) == 30
    assert by_module("bnn_concat") is ConcatBlock
    assert "bnn_concat.sv" in rtl_library() and "bnn_concat.h" in hls_library()


def test_mixed_widths_and_shifts_widen_to_the_narrowest_common_width():
    assert out_bits([1, 1], [0, 0]) == 1  # signs stay bits
    assert out_bits([1, 1], [0, 1]) == 3  # +-1 and +-2
    assert out_bits([1, 2], [0, 0]) == 2  # +-1 beside -2..1
    assert out_bits([2, 2], [0, 1]) == 3  # power-of-two scales 1 and 2
    assert out_bits([1, 3], [2, 0]) == 4  # +-4 beside -4..3
    block = ConcatBlock.make(CatNode("cat", (2, 2, 5)), [*streams(1, (3,)), *streams(2, (2,))], shifts=(0, 1))
    assert (block.params["BO"], block.params["IW"], block.output.width) == (3, 7, 15)
    assert block.rtl_params()[-3:] == [("CS", "32'h20003"), ("BS", "16'h201"), ("SS", "16'h100")]
    with pytest.raises(UserError, match=r"node 'cat': .* shift 300 is beyond the hardware concat"):
        ConcatBlock.make(CatNode("cat", (2, 2, 5)), [*streams(1, (3,)), *streams(2, (2,))], shifts=(0, 300))


def test_cost_features_one_queue_per_operand():
    block = ConcatBlock.make(CatNode("cat", (4, 4, 34)), streams(1, (2, 32)))
    f = features("bnn_concat", block.params)
    # a 2 x 2 queue stays in flip-flops, a 2 x 32 one goes to LUTRAM (yosys' choice too)
    assert f.memories == {"in_queue_0": "logic", "in_queue_1": "lutram"}
    assert f.ff["regs"] == 34 + 1 and f.ff["ram_ff"] == 4 and f.lut["adder"] == 6
    est = estimate_block(block)
    # + the block's reset register in bnn_top
    assert est.kind == "join" and est.lutram == 24 and est.ff == 34 + 1 + 4 + 7 + RESET_COPY_FF


def wrapper(block) -> str:
    graph = lower(residual_conv_net("identity"))  # any real graph: the wrapper takes its name
    return render(graph, [block], module="concat_unit")


# yosys xc7 against the estimate (measured at the commit that set the features, LUT/LUTRAM/FF):
# 3+5 signs 17/4/22 vs 16/4/22; 5 x 3 2-bit 30/20/47 exact; 16+48 signs 12/44/72 exact;
# 16 signs + 16 2-bit << 1 + 16 2-bit into 3 bits 20/60/92 vs 18/60/91
@pytest.mark.slow
@pytest.mark.parametrize("cs, bs, ss", [((3, 5), (1, 1), (0, 0)), ((3,) * 5, (2,) * 5, (0,) * 5), ((16, 48), (1, 1), (0, 0)),
                                        ((16, 16, 16), (1, 2, 2), (0, 1, 0))])
@pytest.mark.tier("rtl")
def test_estimate_matches_yosys(cs, bs, ss, tmp_path):
    srcs = [Stream(f"p{i}", "fifo", c * b, b, f"operand {i}") for i, (c, b) in enumerate(zip(cs, bs))]
    block = ConcatBlock.make(CatNode("cat", (4, 4, sum(cs))), srcs, ss)
    unit = Unit("cat", "concat_unit", {"concat_unit.sv": wrapper(block),
                                       "bnn_concat.sv": rtl_source("bnn_concat.sv").read_text()}, {}, {"u_cat": "cat"})
    got = run_unit(unit, tmp_path, "xc7", timeout=600).total
    est = estimate_block(block)
    assert est.lutram == got.lutram and abs(est.ff - got.ff) <= 1 and abs(est.lut - got.lut) <= 2, (est, got)


@pytest.mark.tier("rtl")
def test_rtl_instance_lints_in_a_wrapper(tmp_path):
    block = ConcatBlock.make(CatNode("cat", (3, 3, 9)), streams(2, (2, 5, 2)))
    text = wrapper(block)
    assert "bnn_concat #(" in text and ".CS(48'h200050002)" in text and ".BO(2)" in text
    assert ".s_tdata({p2_fifo_tdata, p1_fifo_tdata, p0_fifo_tdata})" in text
    (tmp_path / "concat_unit.sv").write_text(text)
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", str(tmp_path / "concat_unit.sv"),
                           str(rtl_source("bnn_concat.sv")), "--top-module", "concat_unit"],
                          capture_output=True, text=True, env=verilator_env())
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr
