"""Moved to bnn2hls/hw/mvau_memories.py (kept for the cocotb benches and old imports)."""
from ..hw.mvau_memories import *  # noqa: F401,F403
from ..hw.mvau_memories import __all__  # noqa: F401
