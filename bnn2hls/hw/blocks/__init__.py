"""The block kinds of the hardware graph, one module each (see base.py for what a kind owns).

The lowering rule (the kinds that implement each IR layer type, in stream order; a kind may
leave itself out of a given layer) is each op kind's `blocks` (bnn2hls.ops), by block kind
name; `LAYER_BLOCKS` is that rule resolved to the classes. `FIFO_KIND` follows every layer but
the last (one per consumer, behind a `FORK_KIND`, where a value feeds several layers)."""
from __future__ import annotations

from ...ops import kinds as op_kinds
from .base import REGISTRY, Block, LowerContext, Memory, Stream
from .concat import ConcatBlock
from .fifo import Fifo, WindowFifo, fifo_depth
from .flatten import Flatten
from .fork import Fork
from .join import JoinBlock
from .maxpool import MaxPoolBlock
from .mvau import Mvau, Vvau, mvau_cycles, mvau_thresholds
from .sumpool import SumPoolBlock, sumpool_format
from .swg import Swg
from .threshold import ThresholdBlock



def by_kind(kind: str) -> type[Block]:
    """The block kind named `kind` (Block.kind)."""
    for cls in REGISTRY:
        if cls.kind == kind:
            return cls
    raise KeyError(f"no hardware block kind '{kind}'")


LAYER_BLOCKS: dict[type, tuple[type[Block], ...]] = {op.node: tuple(by_kind(k) for k in op.blocks) for op in op_kinds() if op.blocks}
FIFO_KIND: type[Fifo] = Fifo
FORK_KIND: type[Fork] = Fork


def kinds() -> list[type[Block]]:
    """Every registered kind."""
    return list(REGISTRY)


def by_module(module: str) -> type[Block]:
    """The (first) kind whose RTL module is `module`."""
    for kind in REGISTRY:
        if kind.module == module:
            return kind
    raise ValueError(module)


def rtl_library() -> tuple[str, ...]:
    """The hls_lib/rtl files of every kind, in library order (files.f)."""
    out: list[str] = []
    for kind in sorted(REGISTRY, key=lambda k: k.library_rank):
        out += [f for f in kind.rtl_files if f not in out]
    return tuple(out)


def hls_library() -> tuple[str, ...]:
    """The hls_lib/hls files of every kind, sorted, with the shared bnn_common.h."""
    return tuple(sorted({"bnn_common.h", *(f for kind in REGISTRY for f in kind.hls_files)}))


def hls_includes() -> tuple[str, ...]:
    """The headers the HLS top includes, sorted: bnn_common.h and every kind's own header (the
    last of its `hls_files`); a header includes the helpers it is built on (bnn_window.h)."""
    return tuple(sorted({"bnn_common.h", *(kind.hls_files[-1] for kind in REGISTRY if kind.hls_files)}))


__all__ = ["Block", "Stream", "Memory", "LowerContext", "Fifo", "WindowFifo", "Flatten", "MaxPoolBlock", "SumPoolBlock",
           "Mvau", "Vvau", "Swg", "Fork", "JoinBlock", "ConcatBlock", "ThresholdBlock", "LAYER_BLOCKS", "FIFO_KIND", "FORK_KIND", "kinds",
           "by_module", "by_kind", "rtl_library", "hls_library", "hls_includes", "fifo_depth", "mvau_cycles", "mvau_thresholds",
           "sumpool_format"]
