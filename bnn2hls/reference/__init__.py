"""The golden model: the IR executed in numpy on bit-packed integers (`bnn2hls run --engine ref`);
every other engine and the HLS testbench's self-check vectors are compared with it."""
from .engine import *  # noqa: F401,F403
