"""The typed IR: the graph of layers (`graph`), the integer arithmetic the hardware does on it
(`datapath`) and the FBNA pad pattern (`padding_pattern`). `from bnn2hls.ir import Conv` is the
IR's public API."""
from .graph import *  # noqa: F401,F403
