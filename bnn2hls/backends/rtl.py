"""The Verilog backend: hardware graph -> OUT/rtl/ (network top, memory init files, building
blocks, filelist).

The graph (bnn2hls/hw/graph.py) is a dataflow graph of hls_lib/rtl blocks (see
hls_lib/rtl/README.md): conv = bnn_swg [-> bnn_fifo] -> bnn_mvau, dense = [bnn_flatten ->]
bnn_mvau, max-pool = bnn_maxpool, ..., with a bnn_fifo on every edge and a bnn_fork where a
value has several consumers (a residual branch meets its shortcut in a bnn_join). Every block parameter comes
from its block (bnn2hls/hw/blocks/); hw/verilog.py renders the top, this module writes files.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..hw import HwGraph, StreamFormat, lower, stream_format  # noqa: F401  (re-exported)
from ..hw.mvau_memories import write_memh
from ..hw.verilog import LIBRARY, TOP, render
from ..ir import Network
from ..resources import resource_dir

BLOCKS = LIBRARY
STREAM_FORMAT = "stream.json"
FILELIST = "files.f"


def write_memories(graph: HwGraph, out_dir: Path) -> list[Path]:
    """Every block memory as its `$readmemh` file."""
    return [write_memh(out_dir / m.file, m.rtl_words, m.rtl_width) for b in graph.blocks for m in b.memories]


def generate(net: Network, out_dir: Path, graph: HwGraph | None = None) -> StreamFormat:
    """Write OUT/rtl: memories, bnn_top.sv, the building blocks and files.f."""
    out_dir.mkdir(parents=True, exist_ok=True)
    graph = graph or lower(net)
    write_memories(graph, out_dir)
    (out_dir / TOP).write_text(render(graph))
    for block in BLOCKS:
        shutil.copyfile(resource_dir("hls_lib") / "rtl" / block, out_dir / block)
    (out_dir / FILELIST).write_text("".join(f"{name}\n" for name in (*BLOCKS, TOP)))
    fmt = graph.format
    (out_dir / STREAM_FORMAT).write_text(json.dumps(fmt.to_dict(), indent=1, sort_keys=True) + "\n")
    return fmt
