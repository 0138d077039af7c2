"""Pure IR -> IR passes. Each takes a Network and returns a new one; none mutates its input."""
from .folding import fold_parallelism, apply_folding_spec, estimate_cycles
from .padding import resolve_padding
from .pool_order import move_pool_flips
from .thresholds import fold_thresholds

__all__ = ["fold_thresholds", "move_pool_flips", "resolve_padding", "fold_parallelism", "apply_folding_spec", "estimate_cycles"]
