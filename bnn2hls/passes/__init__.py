"""Pure IR -> IR passes. Each takes a Network and returns a new one; none mutates its input.
(Folding, which needs the hardware's cycle formulas, is a lowering step: bnn2hls.hw.folding.)"""
from .padding import resolve_padding
from .pool_order import move_pool_flips
from .thresholds import fold_thresholds

__all__ = ["fold_thresholds", "move_pool_flips", "resolve_padding"]
